// Downsampled history (`buckets` / `interval` on GET /api/assets/{uuid}/history): every answer checked against a
// straightforward computation over the same synthetic records — numbers and strings, conditions, UNAVAILABLE,
// a backlog appended late after newer records, ties on source time, empty buckets, observations on bucket edges.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type EventLog, partitionFor } from '@openfactory/log'
import { AssetEvents, encodeAssetEvent, isoFromMs, isoTimestamp, type Observation, TOPICS } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { createServeApp } from '../../src/index.ts'
import { inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, declare, sensor, waitFor } from '../helpers/log.ts'

const T0 = Date.UTC(2026, 10, 2, 10, 0, 0)
const HOUR = 3_600_000
/** Another asset on m-1's partition: its records are read with m-1's and must be left out. */
let M2 = ''
for (let i = 0; M2 === ''; i++) if (partitionFor(`n-${i}`, 6) === partitionFor('m-1', 6)) M2 = `n-${i}`

interface Entry {
  readonly uuid: string
  readonly o: Observation
}

function obs(id: string, value: number | string, type: Observation['type'], t: number, extra = {}): Observation {
  const tag = { Temp: 'Temperature', Hum: 'Humidity', exec: 'Execution', system: 'System' }[id] ?? id
  return { id, value, tag, type, attributes: { timestamp: isoTimestamp(t), ...extra } }
}

/** The synthetic records of one hour, in log order (what `append` writes). */
function entries(): Entry[] {
  const out: Entry[] = []
  const push = (uuid: string, o: Observation) => out.push({ uuid, o })
  // Live: an hour, a record every 700 ms over four items, with a gap of ten minutes (empty buckets).
  for (let i = 0; i * 700 < HOUR; i++) {
    const t = T0 + i * 700
    if (t >= T0 + 20 * 60_000 && t < T0 + 30 * 60_000) continue
    switch (i % 5) {
      case 0:
        push(
          'm-1',
          obs('Temp', i % 50 === 0 ? 'UNAVAILABLE' : 20 + ((i * 37) % 100) / 10, 'Samples', t, { units: 'CELSIUS' }),
        )
        break
      case 1:
        push('m-1', obs('Hum', (i * 13) % 97, 'Samples', t, { units: 'PERCENT' }))
        break
      case 2:
        push('m-1', obs('exec', ['ACTIVE', 'READY', 'STOPPED'][i % 3] as string, 'Events', t))
        break
      case 3:
        push('m-1', obs('system', ['NORMAL', 'WARNING', 'FAULT'][i % 3] as string, 'Condition', t, { nativeCode: 'X' }))
        break
      default:
        push(M2, obs('Temp', 1000 + i, 'Samples', t, { units: 'KELVIN' }))
    }
  }
  // On bucket edges of one-minute buckets from T0: the first instant of a minute, and the very end of the hour.
  for (let k = 0; k <= 60; k++)
    if (k < 20 || k >= 30) push('m-1', obs('Temp', -k || 0, 'Samples', T0 + k * 60_000, { units: 'CELSIUS' }))
  // Ties on source time in one bucket: the earlier on the log stays first, the later becomes last.
  push('m-1', obs('Hum', 501, 'Samples', T0 + 5 * 60_000 + 30_001))
  push('m-1', obs('Hum', 502, 'Samples', T0 + 5 * 60_000 + 30_001))
  // A backlog forwarded late: the first five minutes again, appended after everything else, older values.
  for (let i = 0; i < 300; i++) push('m-1', obs('Temp', 500 + i, 'Samples', T0 + i * 1000 + 1, { units: 'FAHRENHEIT' }))
  return out
}

async function append(log: EventLog, list: readonly Entry[]): Promise<void> {
  for (let i = 0; i < list.length; i += 1000) {
    await log.append(
      TOPICS.assets,
      list.slice(i, i + 1000).map((e) => ({ key: e.uuid, value: encodeAssetEvent(AssetEvents.observation(e.o)) })),
    )
  }
}

/** The answer computed the plain way: filter, group, sort. */
function expected(list: readonly Entry[], ids: string[] | null, from: number, to: number, intervalMs: number) {
  const count = Math.max(1, Math.ceil((to - from) / intervalMs))
  const seen = new Map<
    string,
    { tag?: string; type?: string; units?: string; rows: { v: number | string; t: number; k: number }[] }
  >()
  for (const id of ids ?? []) seen.set(id, { rows: [] })
  for (const { uuid, o } of list) {
    const t = Date.parse(o.attributes.timestamp)
    if (uuid !== 'm-1' || t < from || t > to || (ids !== null && !ids.includes(o.id))) continue
    const s = seen.get(o.id) ?? { rows: [] }
    seen.set(o.id, s)
    if (o.tag !== '') s.tag = o.tag
    s.type = o.type
    if (typeof o.attributes.units === 'string') s.units = o.attributes.units
    s.rows.push({ v: o.value, t, k: Math.min(count - 1, Math.floor((t - from) / intervalMs)) })
  }
  const order = ids ?? [...seen.keys()].sort()
  return {
    from: isoFromMs(from),
    to: isoFromMs(to),
    intervalMs,
    series: order.map((id) => {
      const s = seen.get(id) as NonNullable<ReturnType<typeof seen.get>>
      const buckets = []
      for (let k = 0; k < count; k++) {
        const rows = s.rows.filter((r) => r.k === k)
        if (rows.length === 0) continue
        const nums = rows.map((r) => r.v).filter((v): v is number => typeof v === 'number')
        const byTime = [...rows].sort((a, b) => a.t - b.t) // stable: ties keep log order
        const first = byTime[0] as (typeof rows)[number]
        let last = rows[0] as (typeof rows)[number]
        for (const r of rows) if (r.t >= last.t) last = r
        buckets.push({
          t: isoFromMs(from + k * intervalMs),
          count: rows.length,
          min: nums.length ? Math.min(...nums) : null,
          max: nums.length ? Math.max(...nums) : null,
          avg: nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null,
          first: first.v,
          last: last.v,
          firstAt: isoFromMs(first.t),
          lastAt: isoFromMs(last.t),
        })
      }
      return {
        id,
        ...(s.tag !== undefined ? { tag: s.tag } : {}),
        ...(s.type !== undefined ? { type: s.type } : {}),
        ...(s.units !== undefined ? { units: s.units } : {}),
        buckets,
      }
    }),
  }
}

async function setup(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  // Declared without data items: no UNAVAILABLE of each, stamped now, among the synthetic records.
  await declare(log, sensor('m-1', ['F', 'A', 'W', 'm-1'], { dataItems: [] }))
  const list = entries()
  await append(log, list)
  await waitFor('the state caught up', async () => (await serving.state.lag()) === 0)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  return { log, serving, app, list }
}

async function downsampled(app: FastifyInstance, query: string) {
  const res = await inject(app, `/api/assets/m-1/history?${query}`)
  assert.equal(res.status, 200, res.body)
  return res.json() as ReturnType<typeof expected>
}

test('downsampled history equals the plain computation: buckets, intervals, ids, edges, ties, a late backlog', async (t) => {
  const { app, list } = await setup(t)
  const cases: { q: string; ids: string[] | null; from: number; to: number; interval: number }[] = [
    // One-minute buckets over the hour: edges at each minute, `to` itself in the last bucket, a 10-minute gap.
    { q: `from=${T0}&to=${T0 + HOUR}&interval=60000`, ids: null, from: T0, to: T0 + HOUR, interval: 60_000 },
    { q: `from=${T0}&to=${T0 + HOUR}&buckets=60`, ids: null, from: T0, to: T0 + HOUR, interval: 60_000 },
    // Buckets that do not divide the range: the interval is rounded up, fewer buckets.
    { q: `from=${T0 + 1}&to=${T0 + HOUR}&buckets=7`, ids: null, from: T0 + 1, to: T0 + HOUR, interval: 514_286 },
    // Ids in the order asked, one never seen.
    {
      q: `id=exec,Temp,nope,system&from=${T0}&to=${T0 + HOUR}&buckets=13`,
      ids: ['exec', 'Temp', 'nope', 'system'],
      from: T0,
      to: T0 + HOUR,
      interval: 276_924,
    },
    // The backlog's five minutes, 1-second buckets: live and late records mixed in the same buckets.
    {
      q: `id=Temp&from=${isoFromMs(T0)}&to=${isoFromMs(T0 + 300_000)}&interval=1000`,
      ids: ['Temp'],
      from: T0,
      to: T0 + 300_000,
      interval: 1000,
    },
    // Many small buckets: 10 000 of 1 ms (the most allowed), most empty.
    {
      q: `from=${T0 + 299_000}&to=${T0 + 309_000}&buckets=10000`,
      ids: null,
      from: T0 + 299_000,
      to: T0 + 309_000,
      interval: 1,
    },
    // One bucket; a range of one instant.
    { q: `from=${T0}&to=${T0 + HOUR}&buckets=1`, ids: null, from: T0, to: T0 + HOUR, interval: HOUR },
    {
      q: `from=${T0 + 60_000}&to=${T0 + 60_000}&buckets=5`,
      ids: null,
      from: T0 + 60_000,
      to: T0 + 60_000,
      interval: 1,
    },
    // Inside the gap: no bucket at all.
    {
      q: `id=Temp&from=${T0 + 21 * 60_000}&to=${T0 + 29 * 60_000}&interval=60000`,
      ids: ['Temp'],
      from: T0 + 21 * 60_000,
      to: T0 + 29 * 60_000,
      interval: 60_000,
    },
  ]
  for (const c of cases) {
    const got = await downsampled(app, c.q)
    const want = expected(list, c.ids, c.from, c.to, c.interval)
    assert.deepEqual(got, want, c.q)
  }
  // The edges, spelled out: minute k's first instant opens bucket k, and `to` closes the last one.
  const edges = await downsampled(app, `id=Temp&from=${T0}&to=${T0 + HOUR}&interval=60000`)
  const temp = edges.series[0] as (typeof edges.series)[number]
  assert.equal(temp.buckets.length, 50) // 60 minutes less the 10 of the gap
  assert.equal(temp.buckets.at(-1)?.lastAt, isoFromMs(T0 + HOUR))
  assert.equal(temp.buckets.at(-1)?.last, -60)
  // The tie: 501 then 502 at the same source time.
  const tie = await downsampled(app, `id=Hum&from=${T0 + 5 * 60_000 + 30_001}&to=${T0 + 5 * 60_000 + 30_001}&buckets=1`)
  assert.deepEqual(
    tie.series[0]?.buckets.map((b) => [b.count, b.first, b.last]),
    [[2, 501, 502]],
  )
  // Non-numeric only: min, max, avg null.
  const exec = await downsampled(app, `id=exec&from=${T0}&to=${T0 + 60_000}&buckets=1`)
  assert.deepEqual(
    exec.series[0]?.buckets.map((b) => [b.min, b.max, b.avg, typeof b.first]),
    [[null, null, null, 'string']],
  )
})

test('`to` defaults to now', async (t) => {
  const { app, list } = await setup(t)
  // (The declaration's records, stamped now, are in range too: ask for the synthetic items.)
  const ids = ['Temp', 'Hum', 'exec', 'system']
  const got = await downsampled(app, `from=${T0}&buckets=100&id=${ids.join(',')}`)
  const to = Date.parse(got.to)
  assert.ok(Math.abs(to - Date.now()) < 60_000)
  assert.deepEqual(got, expected(list, ids, T0, to, got.intervalMs))
})

test('every bad parameter is a 400 naming it, with the bucket limit tested at its edge', async (t) => {
  const { app } = await setup(t)
  const bad: [string, string][] = [
    [`from=${T0}&buckets=0`, 'query.buckets'],
    [`from=${T0}&buckets=10001`, 'query.buckets'],
    [`from=${T0}&buckets=x`, 'query.buckets'],
    [`from=${T0}&interval=0`, 'query.interval'],
    [`from=${T0}&interval=1.5`, 'query.interval'],
    [`from=${T0}&to=${T0 + 10_001}&interval=1`, 'query.interval'],
    [`from=${T0}&buckets=5&interval=1000`, 'query.interval'],
    [`from=${T0}&buckets=5&limit=10`, 'query.limit'],
    [`from=${T0}&buckets=5&cursor=abc`, 'query.cursor'],
    ['buckets=5', 'query.from'],
    [`to=${T0}&interval=1000`, 'query.from'],
    [`from=${T0 + 1}&to=${T0}&buckets=5`, 'query.from'],
    [`from=${Date.now() + HOUR}&buckets=5`, 'query.from'],
    [`from=soon&buckets=5`, 'query.from'],
    [`from=${T0}&to=9999999999999999&buckets=5`, 'query.to'],
    [`from=${T0}&buckets=5&step=2`, 'query.step'],
  ]
  for (const [q, path] of bad) {
    const res = await inject(app, `/api/assets/m-1/history?${q}`)
    assert.equal(res.status, 400, `${q}: ${res.body}`)
    assert.equal(res.json().error.code, 'OFA_SERVE_REQUEST_INVALID', q)
    assert.equal(res.json().error.where?.path, path, q)
  }
  // 10 000 buckets of 1 ms: the most allowed.
  const edge = await downsampled(app, `from=${T0}&to=${T0 + 10_000}&interval=1`)
  assert.equal(edge.intervalMs, 1)
  const unknown = await inject(app, `/api/assets/nope/history?from=${T0}&buckets=5`)
  assert.equal(unknown.status, 404)
})

test('records scanned past maxHistoryScanRecords: 400 OFA_SERVE_RANGE_TOO_LARGE, just past the edge', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['F', 'A', 'W', 'm-1'], { dataItems: [] }))
  await append(
    log,
    Array.from({ length: 3000 }, (_, i) => ({ uuid: 'm-1', o: obs('Temp', i, 'Samples', T0 + i * 1000) })),
  )
  await waitFor('the state caught up', async () => (await serving.state.lag()) === 0)
  // Every block of the partition meets the range: the request reads the whole partition.
  const desc = await log.describeTopic(TOPICS.assets)
  const ps = desc.partitionStates[partitionFor('m-1', desc.partitions)] as { startOffset: number; endOffset: number }
  const records = ps.endOffset - ps.startOffset
  const query = `/api/assets/m-1/history?from=0&to=${Date.now() + HOUR}&buckets=10`
  const fits = await createServeApp({ eventLog: log, serving, maxHistoryScanRecords: records })
  t.after(() => fits.close())
  const ok = await inject(fits, query)
  assert.equal(ok.status, 200, ok.body)
  assert.equal(
    ok
      .json()
      .series.find((s: { id: string }) => s.id === 'Temp')
      .buckets.reduce((n: number, b: { count: number }) => n + b.count, 0),
    3000,
  )
  const tight = await createServeApp({ eventLog: log, serving, maxHistoryScanRecords: records - 1 })
  t.after(() => tight.close())
  const refused = await inject(tight, query)
  assert.equal(refused.status, 400)
  assert.equal(refused.json().error.code, 'OFA_SERVE_RANGE_TOO_LARGE')
  assert.equal(refused.json().error.where.path, 'query.from')
  assert.match(refused.json().error.message, /narrow the range/)
  // A range the index narrows to one block fits under the same limit.
  assert.equal((await inject(tight, `/api/assets/m-1/history?from=${T0}&to=${T0 + 10_000}&buckets=10`)).status, 200)
  await assert.rejects(
    createServeApp({ eventLog: log, serving, maxHistoryScanRecords: 0 }),
    (err: Error & { code?: string }) => err.code === 'OFA_CONFIG_VALUE',
  )
})
