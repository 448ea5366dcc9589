import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OpenFactoryError, TOPICS } from '@openfactory/model'
import { createAssetState, DEFAULT_STATE_TOPICS } from '../../src/index.ts'
import {
  avail,
  breakableLog,
  createTestLog,
  createTestState,
  declare,
  memoryLogger,
  publish,
  sample,
  sensor,
  tempDir,
  waitFor,
} from '../helpers/log.ts'

test('materialises the current state and the registry from what the supervisor writes', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  await declare(log, sensor('dht-001', ['Demofactory', 'Machining', 'WC001', 'dht-001']))
  await publish(log, 'dht-001', [
    sample('Temp', 21.5, 'Temperature', { units: 'CELSIUS' }),
    sample('Temp', 22.25, 'Temperature', { units: 'CELSIUS' }),
    sample('exec', 'ACTIVE', 'Execution'),
    avail(true),
  ])
  await waitFor('the last Temp', () => state.item('dht-001', 'Temp')?.value === 22.25)
  await waitFor('avail', () => state.availability('dht-001') === 'AVAILABLE')

  const temp = state.item('dht-001', 'Temp')
  assert.ok(temp)
  assert.equal(temp.assetUuid, 'dht-001')
  assert.equal(temp.tag, 'Temperature')
  assert.equal(temp.type, 'Samples')
  assert.equal(temp.attributes.units, 'CELSIUS')
  assert.equal(temp.timestamp, temp.attributes.timestamp)
  assert.match(temp.attributes.ingestion_timestamp as string, /Z$/)
  assert.equal(state.item('dht-001', 'Hum')?.value, 'UNAVAILABLE') // declared, not reported yet
  assert.equal(state.item('dht-001', 'Hum')?.attributes.reason, 'not yet reported')

  const view = state.asset('dht-001')
  assert.ok(view)
  assert.equal(view.type, 'Device')
  assert.equal(view.declared, true)
  assert.equal(view.uns?.unsId, 'Demofactory/Machining/WC001/dht-001')
  assert.deepEqual(
    view.methods.map((m) => m.name),
    ['SetSetpoint', 'Reset'],
  )
  assert.deepEqual(
    view.dataItems.map((d) => d.id),
    ['Temp', 'Hum', 'exec', 'system'],
  )
  assert.deepEqual(state.unsPath('dht-001'), {
    levels: ['Demofactory', 'Machining', 'WC001', 'dht-001'],
    separator: '/',
  })
  const stats = state.stats()
  assert.equal(stats.assets, 1)
  assert.ok(stats.items >= 10)
  assert.equal(await state.lag(), 0)
})

test('an asset known only from ofa_assets (a reference producer) is completed from its attributes', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  const attr = (id: string, value: string, type: 'OpenFactory' | 'Method' = 'OpenFactory') => ({
    id,
    value,
    tag: id,
    type,
    attributes: { timestamp: '2025-05-04T12:34:56.789Z' },
  })
  await publish(log, 'agent-7', [
    attr('AssetType', 'MTConnectAgent'),
    attr('uns_id', 'plant.hall-1.agent-7'),
    attr('references_below', 'cnc-1, cnc-2'),
    attr(
      'Home',
      JSON.stringify({ description: 'Go home', arguments: [{ name: 'speed', description: 'mm/s' }] }),
      'Method',
    ),
    sample('Xact', 12.5, 'Position', { units: 'MILLIMETER', subType: 'ACTUAL' }),
  ])
  const view = await waitFor(
    'the agent',
    () => state.asset('agent-7')?.dataItems.length === 1 && state.asset('agent-7'),
  )
  assert.equal(view.type, 'MTConnectAgent')
  assert.equal(view.declared, false)
  assert.deepEqual(view.uns, { levels: {}, unsId: 'plant.hall-1.agent-7' })
  assert.deepEqual(view.referencesBelow, ['cnc-1', 'cnc-2'])
  assert.deepEqual(view.methods, [
    { name: 'Home', description: 'Go home', arguments: [{ name: 'speed', description: 'mm/s' }] },
  ])
  assert.deepEqual(view.dataItems, [
    { id: 'Xact', category: 'Samples', tag: 'Position', subType: 'ACTUAL', units: 'MILLIMETER' },
  ])
  // No levels to infer the separator from: the default one splits the path.
  assert.deepEqual(state.unsPath('agent-7')?.levels, ['plant.hall-1.agent-7'])
})

test('conditions keep the set of active entries; NORMAL clears', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  const cond = (value: string, attrs: Record<string, unknown> = {}) => ({
    id: 'system',
    value,
    tag: 'System',
    type: 'Condition' as const,
    attributes: { timestamp: new Date().toISOString(), ...attrs },
  })
  await publish(log, 'm1', [
    cond('FAULT', { nativeCode: 'E1', message: 'overheat' }),
    cond('WARNING', { nativeCode: 'W7' }),
  ])
  await waitFor('two conditions', () => state.item('m1', 'system')?.conditions?.length === 2)
  assert.equal(state.item('m1', 'system')?.value, 'FAULT')
  await publish(log, 'm1', [cond('NORMAL', { nativeCode: 'E1' })])
  await waitFor('one left', () => state.item('m1', 'system')?.conditions?.length === 1)
  assert.equal(state.item('m1', 'system')?.value, 'WARNING')
  await publish(log, 'm1', [cond('NORMAL')])
  await waitFor('all cleared', () => state.item('m1', 'system')?.conditions?.length === 0)
  assert.equal(state.item('m1', 'system')?.value, 'NORMAL')
})

test('a registry tombstone removes the asset, also after a restart', async (t) => {
  const dir = await tempDir(t)
  let log = await createTestLog(t, dir)
  let state = createAssetState({ eventLog: log })
  await state.ready()
  await declare(log, sensor('gone', ['F', 'A', 'W', 'gone']))
  await declare(log, sensor('kept', ['F', 'A', 'W', 'kept']))
  await waitFor('both', () => state.has('gone') && state.has('kept'))
  await log.append(TOPICS.registry, [{ key: 'gone', value: null }])
  await waitFor('removal', () => !state.has('gone'))
  await state.close()
  await log.close()

  log = await createTestLog(t, dir)
  state = await createTestState(t, log)
  assert.equal(state.has('gone'), false)
  assert.equal(state.has('kept'), true)
  // Newer observations bring it back (it is publishing again).
  await publish(log, 'gone', [sample('Temp', 1)])
  await waitFor('back', () => state.has('gone'))
})

test('the state is rebuilt from the log after closing and reopening it', async (t) => {
  const dir = await tempDir(t)
  let log = await createTestLog(t, dir)
  let state = createAssetState({ eventLog: log })
  await state.ready()
  await declare(log, sensor('s1', ['F', 'A', 'W', 's1']))
  for (let i = 0; i < 50; i++) await publish(log, `bulk-${i % 5}`, [sample('Temp', i)])
  await publish(log, 's1', [sample('Temp', 30.5)])
  await waitFor('s1 Temp', () => state.item('s1', 'Temp')?.value === 30.5)
  const before = { s1: state.asset('s1'), items: state.items('s1'), stats: state.stats() }
  await state.close()
  await log.close()

  log = await createTestLog(t, dir)
  state = await createTestState(t, log)
  assert.deepEqual(state.asset('s1'), before.s1)
  assert.deepEqual(state.items('s1'), before.items)
  assert.equal(state.item('bulk-4', 'Temp')?.value, 49)
  assert.equal(state.stats().items, before.stats.items)
})

test('records that are not observations are skipped and counted', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log, { logger: { info() {}, warn() {}, error() {} } })
  await log.append(TOPICS.assets, [
    { key: 'x', value: 'not json' },
    { key: 'x', value: '{"VALUE": 1}' },
    { key: null, value: '{}' },
    {
      key: 'x',
      value: JSON.stringify({ id: 'ok', value: 1, type: 'Samples', tag: 'T', attributes: { timestamp: 'now' } }),
    },
  ])
  // The record without a key may be on another partition, read after the others.
  await waitFor(
    'the valid one and the three invalid',
    () => state.item('x', 'ok') && state.stats().invalidRecords === 3,
  )
  assert.equal(state.item('x', 'ok')?.value, 1)
})

test('ready() rejects and nothing is followed when the state is closed before it caught up', async (t) => {
  const log = await createTestLog(t)
  const controller = new AbortController()
  controller.abort()
  const state = createAssetState({ eventLog: log, signal: controller.signal })
  await assert.rejects(state.ready(), /closed/)
  await state.close()
})

test('attributes are served as they were written, whatever the timestamp form', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  const cases: Record<string, unknown>[] = [
    { timestamp: '2025-05-04T12:34:56.789Z', ingestion_timestamp: '2025-05-04T12:34:56.791Z', units: 'CELSIUS' },
    { timestamp: '2025-05-04T12:34:56Z', ingestion_timestamp: '2025-05-04T12:34:56.789123Z' },
    { timestamp: '1969-12-31T23:59:59.999Z', ingestion_timestamp: '2025-05-04T12:34:56.789Z', quality: 'GOOD' },
    { timestamp: '2025-05-04T12:34:56.789Z', ingestion_timestamp: '2001-01-01T00:00:00.000Z' },
    { timestamp: '2024-02-30T00:00:00.000Z', nested: { a: [1, 'x'] }, quote: 'say "hi"\n' },
    { timestamp: 'not a time' },
  ]
  for (const [i, attributes] of cases.entries()) {
    await publish(log, 'ts', [{ id: `i${i}`, value: i, tag: 'T', type: 'Samples', attributes: attributes as never }])
  }
  // `publish` adds an ingestion timestamp only where none is given.
  await waitFor('all', () => state.item('ts', `i${cases.length - 1}`))
  for (const [i, attributes] of cases.entries()) {
    const item = state.item('ts', `i${i}`)
    const { ingestion_timestamp, ...rest } = item?.attributes ?? {}
    const { ingestion_timestamp: expected, ...expectedRest } = attributes
    assert.deepEqual(rest, expectedRest, `case ${i}`)
    if (expected !== undefined) assert.equal(ingestion_timestamp, expected, `case ${i}`)
    assert.equal(item?.timestamp, attributes.timestamp)
  }
  // The same item with the same attributes keeps working after the shape is shared.
  await publish(log, 'ts', [
    {
      id: 'i0',
      value: 99,
      tag: 'T',
      type: 'Samples',
      attributes: { ...(cases[0] as { timestamp: string }), units: 'KELVIN' },
    },
  ])
  await waitFor('i0 updated', () => state.item('ts', 'i0')?.value === 99)
  assert.equal(state.item('ts', 'i0')?.attributes.units, 'KELVIN')
})

test('a failure the log does not retry stops the state: not ready, the failure kept and logged', async (t) => {
  const real = await createTestLog(t)
  const { log, fail } = breakableLog(real)
  const logger = memoryLogger()
  const state = await createTestState(t, log, { logger })
  await publish(real, 'm1', [sample('Temp', 1)])
  await waitFor('Temp', () => state.item('m1', 'Temp')?.value === 1)
  assert.equal(state.isReady, true)
  assert.equal(state.failure, null)

  fail(new OpenFactoryError('OFA_LOG_CORRUPT', 'segment 0 of ofa_assets-0 is damaged at offset 3'))
  await publish(real, 'm1', [sample('Temp', 2)])
  await waitFor('the failure', () => state.failure !== null)
  assert.equal((state.failure as unknown as OpenFactoryError).code, 'OFA_LOG_CORRUPT')
  assert.equal(state.isReady, false)
  assert.equal(state.stats().ready, false)
  const logged = logger.lines.find((l) => l.level === 'error')
  assert.equal(logged?.fields.code, 'OFA_LOG_CORRUPT')
  assert.match(String(logged?.fields.error), /damaged/)
  // What it held is still served.
  assert.equal(state.item('m1', 'Temp')?.value, 1)
})

test('a failure before the catch-up ends rejects ready() with it', async (t) => {
  const real = await createTestLog(t)
  await real.createTopic(DEFAULT_STATE_TOPICS.assets)
  await publish(real, 'm1', [sample('Temp', 1)])
  const { log, fail } = breakableLog(real)
  fail(new OpenFactoryError('OFA_LOG_CORRUPT', 'damaged'))
  const state = createAssetState({ eventLog: log, logger: memoryLogger() })
  t.after(() => state.close())
  await assert.rejects(state.ready(), (err) => (err as OpenFactoryError).code === 'OFA_LOG_CORRUPT')
  assert.equal(state.isReady, false)
  assert.equal((state.failure as OpenFactoryError | null)?.code, 'OFA_LOG_CORRUPT')
})

test('the time index covers every record of ofa_assets the state applied', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  await publish(log, 'm1', [sample('Temp', 1), sample('Temp', 2)])
  await waitFor('both', async () => (await state.lag()) === 0)
  const desc = await log.describeTopic(TOPICS.assets)
  for (const ps of desc.partitionStates) {
    if (ps.endOffset > 0) assert.equal(state.timeIndex.indexedEnd(ps.partition), ps.endOffset)
  }
})
