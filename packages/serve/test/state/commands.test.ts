import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeAssetEvent, TOPICS } from '@openfactory/model'
import { createServingState } from '../../src/index.ts'
import { createTestLog, createTestServing, publish, readAll, startResponder, tempDir, waitFor } from '../helpers/log.ts'

test('a command is appended to ofa_assets on the target’s key and its result is tracked', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestServing(t, log)
  startResponder(t, log, 'robot', (method, args) => ({ status: 'completed', result: { method, echo: args } }))

  const sent = await state.commands.send({ assetUuid: 'robot', method: 'Move', arguments: { x: 1 } })
  assert.equal(sent.status, 'pending')
  assert.equal(sent.senderUuid, 'ofa-api')
  const done = await state.commands.wait(sent.correlationId, { timeoutMs: 5000 })
  assert.equal(done?.status, 'completed')
  assert.deepEqual(done?.result, { method: 'Move', echo: { x: 1 } })
  assert.ok(done?.answeredAt)

  const cmd = (await readAll(log, TOPICS.assets)).find((r) => r.value?.toString().includes('Move_CMD'))
  assert.equal(cmd?.key?.toString(), 'robot')
})

test('waiting gives up after the timeout and returns the command so far', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestServing(t, log)
  const sent = await state.commands.send({ assetUuid: 'mute', method: 'Ping' })
  const r = await state.commands.wait(sent.correlationId, { timeoutMs: 30 })
  assert.equal(r?.status, 'pending')
  assert.equal(await state.commands.wait('unknown', { timeoutMs: 30 }), undefined)
  // `accepted` is not final; a later `completed` is.
  await publish(log, 'mute', [
    {
      id: 'Ping_RESULT',
      value: JSON.stringify({ correlation_id: sent.correlationId, status: 'accepted' }),
      tag: 'Method.Result',
      type: 'OpenFactory',
      attributes: { timestamp: new Date().toISOString() },
    },
  ])
  await waitFor('accepted', () => state.commands.get(sent.correlationId)?.status === 'accepted')
  const waiting = state.commands.wait(sent.correlationId, { timeoutMs: 5000 })
  await publish(log, 'mute', [
    {
      id: 'Ping_RESULT',
      value: JSON.stringify({
        correlation_id: sent.correlationId,
        status: 'failed',
        error: { code: 'OFA_COMMAND_FAILED', message: 'jammed' },
      }),
      tag: 'Method.Result',
      type: 'OpenFactory',
      attributes: { timestamp: new Date().toISOString() },
    },
  ])
  const final = await waiting
  assert.equal(final?.status, 'failed')
  assert.deepEqual(final?.error, { code: 'OFA_COMMAND_FAILED', message: 'jammed' })
})

test('commands and results are rebuilt from the log on restart, also those sent by others', async (t) => {
  const dir = await tempDir(t)
  let log = await createTestLog(t, dir)
  let state = createServingState({ eventLog: log })
  await state.ready()
  const mine = await state.commands.send({ assetUuid: 'a', method: 'Start', correlationId: 'c-1' })
  await publish(log, 'a', [
    {
      id: 'Start_RESULT',
      value: JSON.stringify({ correlation_id: 'c-1', status: 'completed', result: 42 }),
      tag: 'Method.Result',
      type: 'OpenFactory',
      attributes: { timestamp: new Date().toISOString() },
    },
  ])
  await waitFor('result', () => state.commands.get('c-1')?.status === 'completed')
  await state.close()
  await log.close()

  log = await createTestLog(t, dir)
  state = createServingState({ eventLog: log, senderUuid: 'another-app' })
  t.after(() => state.close())
  await state.ready()
  assert.deepEqual(state.commands.get('c-1'), {
    ...mine,
    status: 'completed',
    result: 42,
    answeredAt: state.commands.get('c-1')?.answeredAt,
  })
  const other = await state.commands.send({ assetUuid: 'a', method: 'Stop' })
  assert.equal(other.senderUuid, 'another-app')
  const cmd = (await readAll(log, TOPICS.assets)).find((r) => r.value?.toString().includes('Stop_CMD'))
  const event = decodeAssetEvent(cmd?.value as Buffer)
  assert.ok(event.kind === 'command')
  const { envelope } = event
  assert.equal(envelope.header.sender_uuid, 'another-app')
})

test('only the most recent commands are kept', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestServing(t, log, { maxCommands: 3 })
  for (let i = 0; i < 5; i++) await state.commands.send({ assetUuid: 'a', method: 'M', correlationId: `c${i}` })
  await waitFor('all seen', async () => (await state.state.lag()) === 0)
  assert.equal(state.commands.get('c0'), undefined)
  assert.equal(state.commands.get('c1'), undefined)
  assert.equal(state.commands.get('c4')?.status, 'pending')
  assert.equal(state.commands.size, 3)
})

test('a command the log refuses is not tracked, and the error reaches the caller', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestServing(t, log)
  await log.close()
  await assert.rejects(
    state.commands.send({ assetUuid: 'a', method: 'M', correlationId: 'lost' }),
    (err) => (err as { code?: string }).code === 'OFA_LOG_CLOSED',
  )
  assert.equal(state.commands.get('lost'), undefined)
})

test('a command sent through the tracker reports its latency once, with its final status; others do not', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const settled: { status: string; elapsedMs: number }[] = []
  const off = serving.commands.onSettled((record, elapsedMs) => settled.push({ status: record.status, elapsedMs }))
  startResponder(t, log, 'robot', (method) => (method === 'Fail' ? { status: 'failed' } : { status: 'completed' }))
  const ok = await serving.commands.send({ assetUuid: 'robot', method: 'Move' })
  await serving.commands.wait(ok.correlationId, { timeoutMs: 5000 })
  const bad = await serving.commands.send({ assetUuid: 'robot', method: 'Fail' })
  await serving.commands.wait(bad.correlationId, { timeoutMs: 5000 })
  // Sent by another process: tracked, but its latency is not ours to measure.
  await publish(log, 'robot', [
    {
      id: 'Stop_RESULT',
      value: JSON.stringify({ correlation_id: 'elsewhere', status: 'completed' }),
      tag: 'Method.Result',
      type: 'OpenFactory',
      attributes: { timestamp: new Date().toISOString() },
    },
  ])
  await waitFor('the other result', () => serving.commands.get('elsewhere')?.status === 'completed')
  assert.deepEqual(
    settled.map((s) => s.status),
    ['completed', 'failed'],
  )
  assert.ok(settled.every((s) => s.elapsedMs >= 0 && s.elapsedMs < 5000))
  off()
})
