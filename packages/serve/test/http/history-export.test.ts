// History export (GET /api/assets/{uuid}/history/export): CSV (RFC 4180 quoting) and JSON content checked against
// the records on the log, its headers, every 400 named by where.path, and a long export streamed over a socket.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type EventLog, partitionFor } from '@openfactory/log'
import {
  AssetEvents,
  decodeObservation,
  encodeAssetEvent,
  isoTimestamp,
  type Observation,
  TOPICS,
} from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { createServeApp } from '../../src/index.ts'
import { checkedFetch, inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, declare, readAll, sensor, waitFor } from '../helpers/log.ts'

const T0 = Date.UTC(2026, 10, 3, 6, 0, 0)
let M2 = ''
for (let i = 0; M2 === ''; i++) if (partitionFor(`n-${i}`, 6) === partitionFor('m-1', 6)) M2 = `n-${i}`
const ODD = 'we ird"/ü'

function obs(id: string, value: number | string, type: Observation['type'], t: number, extra = {}): Observation {
  return {
    id,
    value,
    tag: id === 'Temp' ? 'Temperature' : 'Execution',
    type,
    attributes: { timestamp: isoTimestamp(t), ...extra },
  }
}

async function append(log: EventLog, uuid: string, list: readonly Observation[]): Promise<void> {
  for (let i = 0; i < list.length; i += 1000) {
    await log.append(
      TOPICS.assets,
      list.slice(i, i + 1000).map((o) => ({ key: uuid, value: encodeAssetEvent(AssetEvents.observation(o)) })),
    )
  }
}

/** A reference CSV writer: the header, then each row with fields quoted when RFC 4180 says they must be. */
function csv(rows: { o: Observation; offset: number }[]): string {
  const q = (s: string) => (/[",\r\n]/.test(s) ? `"${s.split('"').join('""')}"` : s)
  return `timestamp,id,tag,type,value,units,offset\r\n${rows
    .map(
      ({ o, offset }) =>
        `${[o.attributes.timestamp, o.id, o.tag, o.type, String(o.value), String(o.attributes.units ?? '')].map(q).join(',')},${offset}\r\n`,
    )
    .join('')}`
}

async function setup(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['F', 'A', 'W', 'm-1'], { dataItems: [] }))
  await append(log, 'm-1', [
    obs('Temp', 21.5, 'Samples', T0, { units: 'CELSIUS' }),
    obs('exec', 'a,b', 'Events', T0 + 1000),
    obs('exec', 'say "hi"', 'Events', T0 + 2000),
    obs('exec', 'line1\nline2\r\nline3', 'Events', T0 + 3000),
    obs('system', 'FAULT', 'Condition', T0 + 4000, { nativeCode: 'E1', message: 'over, "hot"' }),
    obs('system', 'NORMAL', 'Condition', T0 + 5000),
    obs('Temp', 'UNAVAILABLE', 'Samples', T0 + 6000, { units: 'CEL,SIUS' }),
    obs('Temp', 1e21, 'Samples', T0 + 7000, { units: 'CELSIUS' }),
    obs('exec', '  spaced  ', 'Events', T0 + 8000),
  ])
  await append(log, M2, [obs('Temp', 99, 'Samples', T0 + 500)])
  // A late backlog: older source times, appended last.
  await append(log, 'm-1', [obs('Temp', -1.25, 'Samples', T0 - 1000), obs('Temp', 3, 'Samples', T0 + 2500)])
  await waitFor('the state caught up', async () => (await serving.state.lag()) === 0)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  return { log, serving, app }
}

/** The records of m-1 on the log with a source time in [from, to] (and one of `ids`), in log order. */
async function onLog(log: EventLog, from: number, to: number, ids?: string[], uuid = 'm-1') {
  return (await readAll(log, TOPICS.assets))
    .filter((r) => r.key?.toString() === uuid)
    .map((r) => ({ o: decodeObservation(r.value as Buffer), offset: r.offset }))
    .filter(({ o }) => {
      const t = Date.parse(o.attributes.timestamp)
      return t >= from && t <= to && (ids === undefined || ids.includes(o.id))
    })
}

async function exported(app: FastifyInstance, query: string, uuid = 'm-1') {
  const res = await inject(app, `/api/assets/${encodeURIComponent(uuid)}/history/export?${query}`)
  assert.equal(res.status, 200, res.body)
  return res
}

test('CSV: header, one row per observation in log order, RFC 4180 quoting, condition level as value', async (t) => {
  const { log, app } = await setup(t)
  const res = await exported(app, `format=csv&from=${T0 - 60_000}&to=${T0 + 60_000}`)
  assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8')
  assert.equal(res.headers['content-disposition'], 'attachment; filename="m-1-history.csv"')
  assert.equal(res.body, csv(await onLog(log, T0 - 60_000, T0 + 60_000)))
  const lines = res.body.split('\r\n')
  assert.equal(lines[0], 'timestamp,id,tag,type,value,units,offset')
  const at = (ms: number) => isoTimestamp(T0 + ms)
  // The rows spelled out (offsets aside): quotes doubled, fields with commas, quotes or line breaks quoted.
  const text = res.body.replace(/,\d+\r\n/g, '\r\n')
  for (const row of [
    `${at(0)},Temp,Temperature,Samples,21.5,CELSIUS\r\n`,
    `${at(1000)},exec,Execution,Events,"a,b",\r\n`,
    `${at(2000)},exec,Execution,Events,"say ""hi""",\r\n`,
    `${at(3000)},exec,Execution,Events,"line1\nline2\r\nline3",\r\n`,
    `${at(4000)},system,Execution,Condition,FAULT,\r\n`,
    `${at(5000)},system,Execution,Condition,NORMAL,\r\n`,
    `${at(6000)},Temp,Temperature,Samples,UNAVAILABLE,"CEL,SIUS"\r\n`,
    `${at(7000)},Temp,Temperature,Samples,1e+21,CELSIUS\r\n`,
    `${at(8000)},exec,Execution,Events,  spaced  ,\r\n`,
    `${at(-1000)},Temp,Temperature,Samples,-1.25,\r\n`,
  ]) {
    assert.ok(text.includes(row), JSON.stringify(row))
  }
  assert.ok(!res.body.includes(',99,'), 'the other asset of the partition is left out')
  // Ids and a narrower range: the backlog's record in the middle of the range comes last, in log order.
  const some = await exported(app, `format=csv&id=Temp&from=${T0}&to=${T0 + 3000}`)
  assert.equal(some.body, csv(await onLog(log, T0, T0 + 3000, ['Temp'])))
  assert.deepEqual(
    some.body
      .split('\r\n')
      .slice(1, -1)
      .map((l) => l.split(',')[4]),
    ['21.5', '3'],
  )
  // Nothing in range: the header alone.
  assert.equal((await exported(app, `format=csv&from=0&to=1000`)).body, 'timestamp,id,tag,type,value,units,offset\r\n')
})

test('JSON: the history items of the range, as the paged history gives them', async (t) => {
  const { app } = await setup(t)
  const range = `from=${T0 - 60_000}&to=${isoTimestamp(T0 + 60_000)}`
  const res = await exported(app, `format=json&${range}`)
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(res.headers['content-disposition'], 'attachment; filename="m-1-history.json"')
  const paged: unknown[] = []
  let cursor: string | null = null
  do {
    const page: { items: unknown[]; nextCursor: string | null } = (
      await inject(app, `/api/assets/m-1/history?${range}&limit=3${cursor ? `&cursor=${cursor}` : ''}`)
    ).json()
    paged.push(...page.items)
    cursor = page.nextCursor
  } while (cursor !== null)
  assert.equal(paged.length, 11)
  assert.deepEqual(res.json(), paged)
  assert.deepEqual((await exported(app, `format=json&id=nope&${range}`)).json(), [])
})

test('every bad parameter is a 400 naming it', async (t) => {
  const { app } = await setup(t)
  const bad: [string, string][] = [
    [`from=${T0}&to=${T0 + 1}`, 'query.format'],
    [`format=xml&from=${T0}&to=${T0 + 1}`, 'query.format'],
    [`format=csv&to=${T0 + 1}`, 'query.from'],
    [`format=csv&from=${T0}`, 'query.to'],
    [`format=csv&from=${T0 + 2}&to=${T0 + 1}`, 'query.from'],
    [`format=csv&from=later&to=${T0 + 1}`, 'query.from'],
    [`format=csv&from=${T0}&to=2026-13-01`, 'query.to'],
    [`format=csv&from=${T0}&to=${T0 + 1}&limit=5`, 'query.limit'],
  ]
  for (const [q, path] of bad) {
    const res = await inject(app, `/api/assets/m-1/history/export?${q}`)
    assert.equal(res.status, 400, `${q}: ${res.body}`)
    assert.equal(res.json().error.code, 'OFA_SERVE_REQUEST_INVALID')
    assert.equal(res.json().error.where.path, path, q)
  }
  assert.equal((await inject(app, `/api/assets/nope/history/export?format=csv&from=0&to=1`)).status, 404)
})

test('the file name keeps letters, digits, . _ - of the UUID only', async (t) => {
  const { log, serving, app } = await setup(t)
  await append(log, ODD, [obs('Temp', 1, 'Samples', T0)])
  await waitFor('the odd asset', () => serving.state.has(ODD))
  const res = await exported(app, `format=json&from=${T0}&to=${T0}`, ODD)
  assert.equal(res.headers['content-disposition'], 'attachment; filename="we_ird___-history.json"')
  assert.equal(res.json().length, 1)
})

test('a long export streams over a socket in many chunks; a client that leaves early leaves the server answering', async (t) => {
  const { log, app } = await setup(t)
  const n = 40_000
  await append(
    log,
    'm-1',
    Array.from({ length: n }, (_, i) => obs('Temp', i, 'Samples', T0 + 100_000 + i, { units: 'CELSIUS' })),
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const path = `/api/assets/m-1/history/export?format=csv&from=${T0 + 100_000}&to=${T0 + 100_000 + n}`
  const res = await fetch(`${base}${path}`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('transfer-encoding'), 'chunked')
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const parts: Buffer[] = []
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parts.push(Buffer.from(value))
  }
  assert.ok(parts.length > 10, `${parts.length} chunks`)
  const body = Buffer.concat(parts).toString('utf8')
  assert.equal(body, csv(await onLog(log, T0 + 100_000, T0 + 100_000 + n)))
  // Leaves after the first chunk; the server goes on answering.
  const controller = new AbortController()
  const early = await fetch(`${base}${path}`, { signal: controller.signal })
  await (early.body as ReadableStream<Uint8Array>).getReader().read()
  controller.abort()
  const after = await checkedFetch(app, base, `/api/assets/m-1/history/export?format=json&from=${T0}&to=${T0}`)
  assert.equal(after.status, 200)
  assert.equal(after.json().length, 1)
})
