import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeObservation, TOPICS } from '@openfactory/model'
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
