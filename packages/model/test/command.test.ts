import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createCommand,
  createCommandResult,
  methodObservation,
  parseCommand,
  parseCommandResult,
} from '../src/command.ts'
import { isOpenFactoryError } from '../src/errors.ts'
import { decodeObservation, encodeObservation } from '../src/observation.ts'

test('a command is <Method>_CMD with the envelope as JSON text, and parses back', () => {
  const cmd = createCommand({
    method: 'SetSpeed',
    senderUuid: 'ofa-api',
    arguments: { rpm: 1200 },
    correlationId: 'c-1',
    at: 0,
  })
  assert.equal(cmd.id, 'SetSpeed_CMD')
  assert.equal(cmd.type, 'OpenFactory')
  assert.equal(cmd.tag, 'Method.Command')
  const wire = decodeObservation(encodeObservation(cmd))
  const { method, envelope } = parseCommand(wire)
  assert.equal(method, 'SetSpeed')
  assert.deepEqual(envelope, {
    header: { correlation_id: 'c-1', sender_uuid: 'ofa-api', timestamp: '1970-01-01T00:00:00.000Z', signature: null },
    arguments: { rpm: 1200 },
  })
})

test('a command whose VALUE is an object (not text) is read as well', () => {
  const { envelope } = parseCommand({
    id: 'Start_CMD',
    value: '{"header":{"correlation_id":"x"},"arguments":{}}',
    tag: 'Method.Command',
    type: 'OpenFactory',
    attributes: { timestamp: 't' },
  })
  assert.equal(envelope.header.correlation_id, 'x')
  const o = decodeObservation({
    ID: 'Start_CMD',
    TYPE: 'OpenFactory',
    VALUE: { header: { correlation_id: 'y' } },
    attributes: {},
  })
  assert.equal(parseCommand(o).envelope.header.correlation_id, 'y')
})

test('results carry the correlation id and a status', () => {
  const r = createCommandResult('SetSpeed', { correlation_id: 'c-1', status: 'completed', result: { rpm: 1200 } })
  assert.equal(r.id, 'SetSpeed_RESULT')
  assert.equal(r.tag, 'Method.Result')
  assert.deepEqual(parseCommandResult(r), {
    method: 'SetSpeed',
    result: { correlation_id: 'c-1', status: 'completed', result: { rpm: 1200 } },
  })
})

test('bad envelopes get OFA_COMMAND_INVALID', () => {
  const base = { tag: 'Method.Command', type: 'OpenFactory' as const, attributes: { timestamp: 't' } }
  for (const o of [
    { ...base, id: 'Start', value: '{}' },
    { ...base, id: '_CMD', value: '{}' },
    { ...base, id: 'Start_CMD', value: 'nope' },
    { ...base, id: 'Start_CMD', value: '{"arguments":{}}' },
    { ...base, id: 'Start_CMD', value: '{"header":{"correlation_id":"a"},"arguments":[1]}' },
  ]) {
    assert.throws(
      () => parseCommand(o),
      (e) => isOpenFactoryError(e, 'OFA_COMMAND_INVALID'),
      o.id + o.value,
    )
  }
  assert.throws(
    () => parseCommandResult({ ...base, id: 'Start_RESULT', value: '{"correlation_id":"a","status":"done"}' }),
    (e) => isOpenFactoryError(e, 'OFA_COMMAND_INVALID'),
  )
})

test('a method is published with TYPE Method and its JSON contract', () => {
  const o = methodObservation(
    { name: 'SetSpeed', description: 'spindle speed', arguments: [{ name: 'rpm', description: 'rev/min' }] },
    0,
  )
  assert.equal(o.type, 'Method')
  assert.deepEqual(JSON.parse(String(o.value)), {
    description: 'spindle speed',
    arguments: [{ name: 'rpm', description: 'rev/min' }],
  })
})
