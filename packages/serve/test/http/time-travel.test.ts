// Time travel (`?at=` on GET /api/assets/{uuid} and GET /api/assets): the state at an instant checked against a
// replay of the log's records up to that instant, at many instants, with checkpoints dense, thinned, or none, and
// after the process restarts over the same log directory.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type EmbeddedLog, type LogRecord, partitionFor } from '@openfactory/log'
import {
  type ActiveCondition,
  type Asset,
  AssetEvents,
  applyCondition,
  decodeObservation,
  encodeAssetDeclaration,
  encodeAssetEvent,
  isoFromMs,
  isoTimestamp,
  type Observation,
  TOPICS,
  worstLevel,
} from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { type AsOfIndexOptions, createServeApp, DEFAULT_STATE_TOPICS, type ServingState } from '../../src/index.ts'
import { inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, readAll, sensor, tempDir, waitFor } from '../helpers/log.ts'

const T0 = Date.UTC(2026, 10, 1, 8, 0, 0)

/** UUIDs `prefix-0`... whose partition (of 6) is `partition`. */
function uuidsIn(partition: number, prefix: string, n: number): string[] {
  const out: string[] = []
  for (let i = 0; out.length < n; i++) if (partitionFor(`${prefix}-${i}`, 6) === partition) out.push(`${prefix}-${i}`)
  return out
}

const M1 = 'm-1'
/** Two more assets on m-1's partition (the window of a query holds their records too), one on another. */
const [M2, M3] = uuidsIn(partitionFor(M1, 6), 'same', 2) as [string, string]
const OTHER = uuidsIn((partitionFor(M1, 6) + 1) % 6, 'other', 1)[0] as string
const ASSETS = [M1, M2, M3, OTHER]

interface Entry {
  readonly uuid: string
  readonly o: Observation
  /** Record time. */
  readonly at: number
}

function obs(id: string, value: number | string, type: Observation['type'], t: number, extra = {}): Observation {
  const tag = { Temp: 'Temperature', exec: 'Execution', system: 'System', avail: 'Availability' }[id] ?? id
  return {
    id,
    value,
    tag,
    type,
    attributes: { timestamp: isoTimestamp(t), ingestion_timestamp: isoTimestamp(t + 3), ...extra },
  }
}

/** A deterministic pseudo-random sequence (tests must not depend on luck). */
function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return s / 2 ** 31
  }
}

/** What one asset emits at a step: a sample, an event, a condition change, availability. */
function step(uuid: string, i: number, t: number, r: () => number): Observation {
  const x = r()
  if (x < 0.35)
    return obs('Temp', r() < 0.1 ? 'UNAVAILABLE' : Math.round(r() * 1000) / 10, 'Samples', t, { units: 'CELSIUS' })
  if (x < 0.55) return obs('exec', ['ACTIVE', 'READY', 'STOPPED', 'a "quoted", value'][i % 4] as string, 'Events', t)
  if (x < 0.85) {
    const code = ['A', 'B', 'C'][Math.floor(r() * 3)] as string
    const y = r()
    if (y < 0.35)
      return obs('system', 'FAULT', 'Condition', t, { nativeCode: code, message: `fault ${code} of ${uuid}` })
    if (y < 0.6) return obs('system', 'WARNING', 'Condition', t, { nativeCode: code, nativeSeverity: '2' })
    if (y < 0.85) return obs('system', 'NORMAL', 'Condition', t, { nativeCode: code })
    if (y < 0.93) return obs('system', 'NORMAL', 'Condition', t)
    if (y < 0.97) return obs('system', 'UNAVAILABLE', 'Condition', t)
    return obs('system', 'UNAVAILABLE', 'UNAVAILABLE', t, { reason: 'type change' })
  }
  return obs('avail', r() < 0.6 ? 'AVAILABLE' : 'UNAVAILABLE', 'Events', t)
}

async function appendEntries(log: EmbeddedLog, entries: readonly Entry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 200) {
    await log.append(
      TOPICS.assets,
      entries.slice(i, i + 200).map((e) => ({
        key: e.uuid,
        value: encodeAssetEvent(AssetEvents.observation(e.o)),
        timestamp: e.at,
      })),
    )
  }
}

/**
 * The log: declarations, then 2400 records of the four assets over 40 minutes (record time a few ms after the
 * source time), then a backlog of m-1 forwarded late with its old record times, then 300 more live records.
 */
async function writeLog(log: EmbeddedLog): Promise<void> {
  await log.createTopic(DEFAULT_STATE_TOPICS.assets)
  await log.createTopic(DEFAULT_STATE_TOPICS.registry)
  const r = rng(7)
  for (const uuid of ASSETS) {
    const asset: Asset = sensor(uuid, ['F', 'A', 'W', uuid])
    await log.append(TOPICS.registry, [{ key: uuid, value: encodeAssetDeclaration(asset), timestamp: T0 - 5000 }])
    await log.append(
      TOPICS.assets,
      AssetEvents.declare(asset, T0 - 5000).map((e) => ({
        key: uuid,
        value: encodeAssetEvent(e),
        timestamp: T0 - 5000,
      })),
    )
  }
  const live = (from: number, n: number, t0: number): Entry[] =>
    Array.from({ length: n }, (_, i) => {
      const uuid = i % 3 === 0 ? M1 : (ASSETS[i % 4] as string)
      const t = t0 + i * 1000
      return { uuid, o: step(uuid, from + i, t, r), at: t + 2 }
    })
  await appendEntries(log, live(0, 2400, T0))
  // The backlog: m-1's records of the first ten minutes, forwarded after 40 minutes with their own record times.
  await appendEntries(
    log,
    Array.from({ length: 300 }, (_, i) => {
      const t = T0 + 500 + i * 2000
      return { uuid: M1, o: step(M1, i, t, r), at: t + 1 }
    }),
  )
  await appendEntries(log, live(2400, 300, T0 + 2400 * 1000))
}

/** The replay: every record of `uuid` with a record time ≤ at, in log order, folded as the contract says. */
function replay(records: readonly LogRecord[], uuid: string, at: number): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>()
  const active = new Map<string, ActiveCondition[]>()
  for (const r of records) {
    if (r.key?.toString() !== uuid || r.value === null || r.timestamp > at) continue
    const o = decodeObservation(r.value)
    let value: number | string = o.value
    let conditions: ActiveCondition[] | undefined
    if (o.type === 'Condition') {
      conditions = applyCondition(active.get(o.id) ?? [], o)
      active.set(o.id, conditions)
      value = worstLevel(conditions)
    } else active.delete(o.id)
    out.set(o.id, {
      assetUuid: uuid,
      id: o.id,
      value,
      tag: o.tag,
      type: o.type,
      timestamp: o.attributes.timestamp,
      attributes: o.attributes,
      ...(conditions ? { conditions } : {}),
    })
  }
  return out
}

async function stateAt(app: FastifyInstance, uuid: string, at: number | string) {
  const res = await inject(app, `/api/assets/${uuid}?at=${at}`)
  assert.equal(res.status, 200, res.body)
  return res.json() as { state: Record<string, unknown>[]; availability: string; at: string }
}

/** The instants to check: before everything, every 7th record time exactly, ±1 ms around some, after the end. */
function instants(records: readonly LogRecord[]): number[] {
  const times = [...new Set(records.map((r) => r.timestamp))].sort((a, b) => a - b)
  const out = [T0 - 10_000, T0 - 5001, T0 - 5000, (times.at(-1) as number) + 1, Date.now() + 86_400_000]
  for (let i = 0; i < times.length; i += 7) {
    const t = times[i] as number
    out.push(t)
    if (i % 21 === 0) out.push(t - 1, t + 1)
  }
  return out
}

async function checkInstants(t: TestContext, log: EmbeddedLog, serving: ServingState, app: FastifyInstance) {
  const records = await readAll(log, TOPICS.assets)
  const all = instants(records)
  assert.ok(all.length > 300, `${all.length} instants`)
  for (const at of all) {
    for (const uuid of at % 3 === 0 ? ASSETS : [M1]) {
      const want = replay(records, uuid, at)
      const got = await stateAt(app, uuid, at)
      assert.equal(got.at, isoFromMs(at))
      assert.deepEqual(new Map(got.state.map((s) => [s.id as string, s])), want, `${uuid} at ${isoFromMs(at)} (${at})`)
      // Entries in the order of the live state's.
      const liveOrder = [...serving.state.itemIds(uuid)].filter((id) => want.has(id))
      assert.deepEqual(
        got.state.map((s) => s.id),
        liveOrder,
      )
      assert.equal(got.availability, want.get('avail')?.value === 'AVAILABLE' ? 'AVAILABLE' : 'UNAVAILABLE')
    }
  }
  t.diagnostic(`${all.length} instants checked`)
}

async function serve(t: TestContext, log: EmbeddedLog, asOf?: AsOfIndexOptions) {
  const serving = await createTestServing(t, log, asOf ? { asOf } : {})
  await waitFor('the state caught up', async () => (await serving.state.lag()) === 0)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  return { serving, app }
}

const CONFIGS: { name: string; asOf?: AsOfIndexOptions }[] = [
  { name: 'a checkpoint every 16 records, thinned past 8', asOf: { checkpointRecords: 16, maxCheckpoints: 8 } },
  { name: 'checkpoints thinned to one per partition by the byte budget', asOf: { checkpointRecords: 16, maxBytes: 1 } },
  { name: 'default spacing (no checkpoint in this log: replays from the start)' },
]

for (const config of CONFIGS) {
  test(`the state at T equals a replay of the records up to T: ${config.name}`, async (t) => {
    const log = await createTestLog(t)
    await writeLog(log)
    const { serving, app } = await serve(t, log, config.asOf)
    const stats = serving.state.asOfIndex.stats()
    t.diagnostic(JSON.stringify(stats))
    if (config.asOf?.maxCheckpoints) assert.ok(stats.checkpoints > 6 && stats.checkpoints <= 6 * 8, 'thinned')
    if (config.asOf?.maxBytes) assert.ok(stats.checkpoints <= 6, 'one checkpoint per partition at most')
    await checkInstants(t, log, serving, app)
  })
}

test('a restart over the same log directory answers the same (the index is rebuilt as the state replays)', async (t) => {
  const dir = await tempDir(t)
  const first = await createTestLog(t, dir)
  await writeLog(first)
  const before = await serve(t, first, { checkpointRecords: 32 })
  const at = T0 + 900_000
  const answer = await stateAt(before.app, M1, at)
  await before.app.close()
  await before.serving.close()
  await first.close()

  const log = await createTestLog(t, dir)
  const { serving, app } = await serve(t, log, { checkpointRecords: 32 })
  assert.deepEqual(await stateAt(app, M1, at), answer)
  await checkInstants(t, log, serving, app)
})

test('at now (or later) is the live state; an instant as ISO-8601 or epoch ms', async (t) => {
  const log = await createTestLog(t)
  await writeLog(log)
  const { serving, app } = await serve(t, log, { checkpointRecords: 64 })
  // At the end of the log, a query reads from the last checkpoint: at most 64 records, and the few it points to.
  const reader = serving.state.asOf(Date.now())
  await reader.asset(M1)
  assert.ok(reader.scanned < 64 + 10, `${reader.scanned} records read`)
  for (const uuid of ASSETS) {
    const live = (await inject(app, `/api/assets/${uuid}`)).json() as Record<string, unknown>
    const then = await stateAt(app, uuid, encodeURIComponent(isoTimestamp(Date.now() + 60_000)))
    const { at: _at, ...rest } = then
    assert.deepEqual(rest, live)
  }
  const iso = await stateAt(app, M1, encodeURIComponent(isoFromMs(T0 + 60_000)))
  assert.deepEqual(iso, await stateAt(app, M1, T0 + 60_000))
  // Before the first record: nothing, and UNAVAILABLE.
  const before = await stateAt(app, M1, T0 - 60_000)
  assert.deepEqual(before.state, [])
  assert.equal(before.availability, 'UNAVAILABLE')
  assert.equal(before.at, isoFromMs(T0 - 60_000))
})

test('GET /api/assets?at= lists availability as of T, filtered and paged', async (t) => {
  const log = await createTestLog(t)
  await writeLog(log)
  const { app } = await serve(t, log, { checkpointRecords: 16 })
  const records = await readAll(log, TOPICS.assets)
  const times = instants(records)
  for (const at of times.filter((_, i) => i % 9 === 0)) {
    const want = new Map(
      ASSETS.map((u) => [u, replay(records, u, at).get('avail')?.value === 'AVAILABLE' ? 'AVAILABLE' : 'UNAVAILABLE']),
    )
    const res = await inject(app, `/api/assets?at=${at}`)
    assert.equal(res.status, 200, res.body)
    const body = res.json() as { items: { uuid: string; availability: string }[]; at: string }
    assert.equal(body.at, isoFromMs(at))
    assert.deepEqual(new Map(body.items.map((i) => [i.uuid, i.availability])), want, `at ${at}`)
    // The filter and the cursor, one asset a page.
    for (const availability of ['AVAILABLE', 'UNAVAILABLE']) {
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const page: { items: { uuid: string; availability: string }[]; nextCursor: string | null } = (
          await inject(
            app,
            `/api/assets?at=${at}&availability=${availability}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
          )
        ).json()
        for (const i of page.items) {
          assert.equal(i.availability, availability)
          seen.push(i.uuid)
        }
        cursor = page.nextCursor
      } while (cursor !== null)
      assert.deepEqual(
        seen,
        [...want]
          .filter(([, a]) => a === availability)
          .map(([u]) => u)
          .sort(),
      )
    }
  }
  // Without `at`, no `at` in the answer.
  assert.equal('at' in (await inject(app, '/api/assets')).json(), false)
})

test('a bad `at` is a 400 naming query.at; a request past the scan limit is refused just past the edge', async (t) => {
  const log = await createTestLog(t)
  await writeLog(log)
  const { serving, app } = await serve(t, log, { checkpointRecords: 16 })
  for (const url of [`/api/assets/${M1}?at=yesterday`, '/api/assets?at=2026-13-01', `/api/assets/${M1}?at=1e3`]) {
    const res = await inject(app, url)
    assert.equal(res.status, 400, url)
    assert.equal(res.json().error.code, 'OFA_SERVE_REQUEST_INVALID')
    assert.equal(res.json().error.where.path, 'query.at')
  }
  const unknown = await inject(app, `/api/assets/${M1}?when=1`)
  assert.equal(unknown.status, 400)
  assert.equal(unknown.json().error.where.path, 'query.when')
  const missing = await inject(app, '/api/assets/nope?at=1')
  assert.equal(missing.status, 404)

  // What one request reads at this instant, as the reader counts it; then apps whose limit is that, and one less.
  const at = T0 + 1_234_567
  const reader = serving.state.asOf(at)
  await reader.asset(M1)
  const reads = reader.scanned
  assert.ok(reads > 16, `${reads} records read`)
  const fits = await createServeApp({ eventLog: log, serving, maxHistoryScanRecords: reads })
  t.after(() => fits.close())
  assert.equal((await inject(fits, `/api/assets/${M1}?at=${at}`)).status, 200)
  const tight = await createServeApp({ eventLog: log, serving, maxHistoryScanRecords: reads - 1 })
  t.after(() => tight.close())
  const refused = await inject(tight, `/api/assets/${M1}?at=${at}`)
  assert.equal(refused.status, 400)
  assert.equal(refused.json().error.code, 'OFA_SERVE_RANGE_TOO_LARGE')
  assert.equal(refused.json().error.where.path, 'query.at')
})
