import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isOpenFactoryError } from '../src/errors.ts'
import { decodeObservation, encodeObservation, unavailableObservation } from '../src/observation.ts'
import { isoTimestamp } from '../src/time.ts'

test('encodes the reference wire format with fields in order and numbers as numbers', () => {
  const text = encodeObservation({
    id: 'Temp',
    value: 216.92,
    tag: 'Temperature',
    type: 'Samples',
    attributes: { timestamp: '2025-05-04T12:34:56.789Z', units: 'CELSIUS' },
  })
  assert.equal(
    text,
    '{"ID":"Temp","VALUE":216.92,"TAG":"Temperature","TYPE":"Samples","attributes":{"timestamp":"2025-05-04T12:34:56.789Z","units":"CELSIUS"}}',
  )
})

test('decodes field names case-insensitively and keeps numbers', () => {
  const o = decodeObservation(
    '{"id":"rpm","Value":1200,"tag":"RotaryVelocity","type":"Samples","Attributes":{"timestamp":"2025-01-01T00:00:00.000Z"}}',
  )
  assert.equal(o.id, 'rpm')
  assert.equal(o.value, 1200)
  assert.equal(o.tag, 'RotaryVelocity')
  assert.equal(o.attributes.timestamp, '2025-01-01T00:00:00.000Z')
})

test('decodes bytes, and a missing VALUE is UNAVAILABLE', () => {
  const o = decodeObservation(
    Buffer.from('{"ID":"exec","TYPE":"Events","TAG":"Execution","attributes":{"timestamp":"x"}}'),
  )
  assert.equal(o.value, 'UNAVAILABLE')
})

test('rejects what is not an observation with OFA_OBSERVATION_INVALID', () => {
  for (const bad of [
    'not json',
    '[]',
    '{"VALUE":1,"TYPE":"Samples"}',
    '{"ID":"a","TYPE":"Bogus"}',
    '{"ID":"a","TYPE":"Samples","attributes":5}',
  ]) {
    assert.throws(
      () => decodeObservation(bad),
      (e) => isOpenFactoryError(e, 'OFA_OBSERVATION_INVALID'),
      bad,
    )
  }
})

test('round-trips any observation', () => {
  const obs = fc.record({
    id: fc.string({ minLength: 1 }),
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string()),
    tag: fc.string(),
    type: fc.constantFrom('Samples', 'Events', 'Condition', 'Method', 'OpenFactory', 'UNAVAILABLE'),
    attributes: fc.record({ timestamp: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) }),
  })
  fc.assert(
    fc.property(obs, (o) => {
      const back = decodeObservation(encodeObservation(o))
      assert.deepEqual(back, { ...o, attributes: { ...o.attributes }, value: Object.is(o.value, -0) ? 0 : o.value })
    }),
  )
})

test('timestamps are ISO-8601 UTC with milliseconds', () => {
  assert.equal(isoTimestamp(0), '1970-01-01T00:00:00.000Z')
})

test('an unavailable observation carries its reason and BAD quality', () => {
  const o = unavailableObservation({ id: 'Temp', tag: 'Temperature', type: 'Samples' }, 'adapter disconnected', 0)
  assert.equal(o.value, 'UNAVAILABLE')
  assert.equal(o.attributes.reason, 'adapter disconnected')
  assert.equal(o.attributes.quality, 'BAD')
})
