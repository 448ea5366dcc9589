// History by time when records are not in time order on the log: an edge's backlog forwarded hours late.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { createForwarder, type EventLog } from '@openfactory/log'
import { AssetEvents, encodeAssetEvent, isoTimestamp, type Observation, TOPICS } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { createServeApp, DEFAULT_STATE_TOPICS } from '../../src/index.ts'
import { inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, declare, sensor, waitFor } from '../helpers/log.ts'

const HOUR = 3_600_000

function temp(value: number, at: number): Observation {
  return { id: 'Temp', value, tag: 'Temperature', type: 'Samples', attributes: { timestamp: isoTimestamp(at) } }
}

/** Appends observations of `uuid`; with `recordTime`, each record keeps its source time as its record time. */
async function append(log: EventLog, uuid: string, obs: readonly Observation[], recordTime = false): Promise<void> {
  await log.append(
    TOPICS.assets,
    obs.map((o) => ({
      key: uuid,
      value: encodeAssetEvent(AssetEvents.observation(o)),
      ...(recordTime ? { timestamp: Date.parse(o.attributes.timestamp) } : {}),
    })),
  )
}

async function start(t: TestContext, log: EventLog) {
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  await declare(log, sensor('m-1', ['F', 'A', 'W', 'm-1']))
  return { serving, app }
}

/** Every Temp value of m-1 in [from, to], following the cursor. */
async function values(app: FastifyInstance, from: number, to: number, limit = 1000): Promise<unknown[]> {
  const out: unknown[] = []
  let cursor: string | null = null
  do {
    const q: string = `id=Temp&from=${isoTimestamp(from)}&to=${to}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`
    const res = await inject(app, `/api/assets/m-1/history?${q}`)
    assert.equal(res.status, 200, res.body)
    const body = res.json() as { items: { value: unknown }[]; nextCursor: string | null }
    out.push(...body.items.map((i) => i.value))
    cursor = body.nextCursor
  } while (cursor !== null && out.length < 100_000)
  return out
}

test('a backlog appended hours late, after newer records, is found by source time', async (t) => {
  const log = await createTestLog(t)
  const { serving, app } = await start(t, log)
  const now = Date.now()
  const old = now - 3 * HOUR
  // Live records for an hour's worth of minutes, then the backlog, with its old times as record times (as a
  // forwarder copies them) and a second one stamped at append time, then more live records.
  await append(
    log,
    'm-1',
    Array.from({ length: 2000 }, (_, i) => temp(i, now - HOUR + i * 1000)),
  )
  await append(
    log,
    'm-1',
    Array.from({ length: 50 }, (_, i) => temp(10_000 + i, old + i * 1000)),
    true,
  )
  await append(
    log,
    'm-1',
    Array.from({ length: 50 }, (_, i) => temp(20_000 + i, old + HOUR + i * 1000)),
  )
  await append(
    log,
    'm-1',
    Array.from({ length: 100 }, (_, i) => temp(30_000 + i, now + i * 10)),
  )
  await waitFor('the state caught up', async () => (await serving.state.lag()) === 0)

  const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i)
  assert.deepEqual(await values(app, old, old + 49_000), range(10_000, 50))
  assert.deepEqual(await values(app, old + 10_000, old + 19_000), range(10_010, 10))
  assert.deepEqual(await values(app, old + HOUR, old + HOUR + 60_000), range(20_000, 50))
  // Both backlogs and nothing live, in log order; the same in pages of 7.
  assert.deepEqual(await values(app, old, now - 2 * HOUR + 60_000), [...range(10_000, 50), ...range(20_000, 50)])
  assert.deepEqual(await values(app, old, now - 2 * HOUR + 60_000, 7), [...range(10_000, 50), ...range(20_000, 50)])
  // Live records around the backlogs are still found.
  assert.deepEqual(await values(app, now - HOUR, now - HOUR + 4000), range(0, 5))
  assert.deepEqual(await values(app, now, now + 10_000), range(30_000, 100))
  assert.deepEqual(await values(app, now - 5 * HOUR, now - 4 * HOUR), [])
})

test('records not indexed by the state yet are read too', async (t) => {
  const log = await createTestLog(t)
  const { serving, app } = await start(t, log)
  await waitFor('the declaration', () => serving.state.has('m-1'))
  await serving.close() // the index stops here: what follows is on the log only
  const old = Date.now() - 5 * HOUR
  await append(
    log,
    'm-1',
    Array.from({ length: 20 }, (_, i) => temp(i, old + i * 1000)),
    true,
  )
  assert.deepEqual(
    await values(app, old + 5000, old + 9000),
    Array.from({ length: 5 }, (_, i) => 5 + i),
  )
})

test('an edge backlog forwarded late to the central log is found by time', async (t) => {
  const central = await createTestLog(t)
  const edge = await createTestLog(t)
  await edge.createTopic(DEFAULT_STATE_TOPICS.assets)
  const { serving, app } = await start(t, central)
  const now = Date.now()
  // The central log gets live records while the edge is cut off with its own.
  await append(
    central,
    'm-1',
    Array.from({ length: 600 }, (_, i) => temp(i, now - 600_000 + i * 1000)),
  )
  const old = now - 4 * HOUR
  await append(
    edge,
    'm-1',
    Array.from({ length: 300 }, (_, i) => temp(1000 + i, old + i * 1000)),
  )
  await append(central, 'm-1', [temp(5000, now + 60_000)])

  const forwarder = createForwarder({
    source: edge,
    target: central,
    edgeId: 'edge-1',
    topics: [TOPICS.assets],
    logger: { info() {}, warn() {}, error() {} },
  })
  t.after(() => forwarder.stop())
  await forwarder.start()
  await forwarder.caughtUp()
  await waitFor('the state caught up', async () => (await serving.state.lag()) === 0)

  assert.deepEqual(
    await values(app, old, old + 299_000),
    Array.from({ length: 300 }, (_, i) => 1000 + i),
  )
  assert.deepEqual(
    await values(app, old + 100_000, old + 104_000, 2),
    Array.from({ length: 5 }, (_, i) => 1100 + i),
  )
  assert.deepEqual(await values(app, now + 60_000, now + 60_000), [5000])
})
