import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { AssetEvents, decodeObservation, TOPICS } from '@openfactory/model'
import type { AssetEventListener, AssetState } from '../../src/state/asset-state.ts'
import { createAvailabilityExpiry } from '../../src/state/availability-expiry.ts'
import { avail, createTestLog, createTestServing, declare, publish, readAll, sensor, waitFor } from '../helpers/log.ts'

test('availability expires after ttl_ms without a heartbeat, once, and the expiry is on the log', async (t) => {
  const log = await createTestLog(t)
  let clock = Date.now()
  const serving = await createTestServing(t, log, { ttlCheckMs: 10, now: () => clock })
  const state = serving.state
  const at = new Date(clock).toISOString()
  await publish(log, 'hb', [avail(true, { ttl_ms: 1000, ingestion_timestamp: at })])
  await publish(log, 'no-ttl', [{ ...avail(true), attributes: { timestamp: at } }]) // a reference producer: no ttl_ms
  await waitFor(
    'AVAILABLE',
    () => state.availability('hb') === 'AVAILABLE' && state.availability('no-ttl') === 'AVAILABLE',
  )

  clock += 900 // within the TTL: nothing happens
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(state.availability('hb'), 'AVAILABLE')

  clock += 200 // 1100 ms after the last heartbeat
  await waitFor('expiry', () => state.availability('hb') === 'UNAVAILABLE')
  const item = state.item('hb', 'avail')
  assert.match(String(item?.attributes.reason), /TTL of 1000 ms expired/)
  assert.equal(state.availability('no-ttl'), 'AVAILABLE')

  clock += 5000
  await new Promise((r) => setTimeout(r, 50))
  const records = await readAll(log, TOPICS.assets)
  const expiries = records
    .filter((r) => r.key?.toString() === 'hb')
    .map((r) => decodeObservation(r.value as Buffer))
    .filter((o) => o.id === 'avail' && o.value === 'UNAVAILABLE')
  assert.equal(expiries.length, 1, 'written once per expiry')
  assert.equal(serving.stats().expiries, 1)

  // A new heartbeat makes it AVAILABLE again, and it can expire again.
  await publish(log, 'hb', [avail(true, { ttl_ms: 1000, ingestion_timestamp: new Date(clock).toISOString() })])
  await waitFor('AVAILABLE again', () => state.availability('hb') === 'AVAILABLE')
  clock += 1500
  await waitFor('second expiry', () => state.availability('hb') === 'UNAVAILABLE')
  assert.equal(serving.stats().expiries, 2)
})

test('two states on one log: only the one that records expiries writes them; the other follows', async (t) => {
  const log = await createTestLog(t)
  let clock = Date.now()
  let leaderIsA = false
  const sa = await createTestServing(t, log, { ttlCheckMs: 10, now: () => clock, recordsExpiries: () => leaderIsA })
  const sb = await createTestServing(t, log, { ttlCheckMs: 10, now: () => clock, recordsExpiries: () => !leaderIsA })
  const [a, b] = [sa.state, sb.state]
  await publish(log, 'hb', [avail(true, { ttl_ms: 1000, ingestion_timestamp: new Date(clock).toISOString() })])
  await waitFor('AVAILABLE', () => a.availability('hb') === 'AVAILABLE' && b.availability('hb') === 'AVAILABLE')
  clock += 1100
  await waitFor(
    'expiry seen by both',
    () => a.availability('hb') === 'UNAVAILABLE' && b.availability('hb') === 'UNAVAILABLE',
  )
  assert.deepEqual([sa.stats().expiries, sb.stats().expiries], [0, 1])

  // The duty moves: the next expiry is written by the other one.
  leaderIsA = true
  await publish(log, 'hb', [avail(true, { ttl_ms: 1000, ingestion_timestamp: new Date(clock).toISOString() })])
  await waitFor('AVAILABLE again', () => a.availability('hb') === 'AVAILABLE' && b.availability('hb') === 'AVAILABLE')
  clock += 1100
  await waitFor('second expiry', () => a.availability('hb') === 'UNAVAILABLE' && b.availability('hb') === 'UNAVAILABLE')
  assert.deepEqual([sa.stats().expiries, sb.stats().expiries], [1, 1])
  const written = (await readAll(log, TOPICS.assets))
    .map((r) => decodeObservation(r.value as Buffer))
    .filter((o) => o.id === 'avail' && o.value === 'UNAVAILABLE')
  assert.equal(written.length, 2, 'each expiry written once')
})

test('a removed asset is no longer watched; UNAVAILABLE and no TTL stop the watch', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log, { ttlCheckMs: 10_000 })
  await declare(log, sensor('gone', ['F', 'A', 'W', 'gone']))
  await publish(log, 'gone', [avail(true)])
  await publish(log, 'down', [avail(true)])
  await publish(log, 'kept', [avail(true)])
  await waitFor('three watched', () => serving.expiry.watched === 3)
  await log.append(TOPICS.registry, [{ key: 'gone', value: null }])
  await publish(log, 'down', [avail(false)])
  await waitFor('one left', () => serving.expiry.watched === 1)
  assert.equal(serving.state.availability('kept'), 'AVAILABLE')
})

test('a state behind the log judges TTLs by the log time it has applied, not by the wall clock', async (t) => {
  // A state minutes behind under load (bench/soak.ts) has not applied the newest heartbeats: by the wall clock every
  // asset would look expired. Its `appliedThrough` says how far in the log's time it has read.
  let clock = 1_700_000_000_000
  let through = 0
  const listeners: AssetEventListener[] = []
  const state = {
    isReady: true,
    onEvent: (l: AssetEventListener) => {
      listeners.push(l)
      return () => {}
    },
    onAssetChange: () => () => {},
    appliedThrough: async (now: number) => Math.min(now, through),
    applyLocal: () => {},
  } as unknown as AssetState
  const appended: string[] = []
  const eventLog = {
    append: async (_topic: string, records: { key: string }[]) => {
      appended.push(...records.map((r) => r.key))
      return []
    },
  } as unknown as EventLog
  const expiry = createAvailabilityExpiry({ state, eventLog, ttlCheckMs: 5, now: () => clock })
  t.after(() => expiry.close())
  const beat = AssetEvents.availability({ available: true, ttlMs: 1000, ingestedAt: clock })
  for (const l of listeners) l('hb', beat, clock)

  through = clock + 500 // the state has applied half a second of the log past the heartbeat
  clock += 60_000 // the wall clock is a minute past it
  await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(appended, [], 'no expiry while the state has not read past the TTL')

  through = clock - 58_900 // 1100 ms of the log past the heartbeat: the TTL passed there
  await waitFor('the expiry', () => appended.length === 1)
  await new Promise((r) => setTimeout(r, 30))
  assert.deepEqual(appended, ['hb'], 'written once')
})
