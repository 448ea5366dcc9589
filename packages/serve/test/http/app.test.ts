import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { isoTimestamp, OpenFactoryError, TOPICS } from '@openfactory/model'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { createServeApp } from '../../src/index.ts'
import { inject, responseChecker } from '../helpers/http.ts'
import {
  avail,
  breakableLog,
  createTestLog,
  createTestServing,
  declare,
  memoryLogger,
  publish,
  readAll,
  sample,
  sensor,
  startResponder,
  waitFor,
} from '../helpers/log.ts'

async function setup(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const state = serving.state
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await declare(log, sensor('m-2', ['Demofactory', 'Machining', 'WC002', 'm-2']))
  await declare(log, sensor('a-1', ['Demofactory', 'Assembly', 'WC010', 'a-1'], { type: 'Robot' }))
  await publish(log, 'm-1', [avail(true), sample('Temp', 21.5, 'Temperature', { units: 'CELSIUS' })])
  await waitFor(
    'the assets',
    () => state.item('m-1', 'Temp')?.value === 21.5 && state.has('m-2') && state.item('a-1', 'system'),
  )
  const app = await createServeApp({ eventLog: log, serving, commandTimeoutMs: 3000 })
  t.after(() => app.close())
  return { log, state, serving, app }
}

/** A GET whose answer is checked against the route's response schema (every test below goes through it). */
async function get(app: FastifyInstance, url: string) {
  const r = await inject(app, url)
  return { status: r.status, body: r.json(), headers: r.headers }
}

function assertError(res: { status: number; body: unknown }, status: number, code: string, path?: string) {
  assert.equal(res.status, status, JSON.stringify(res.body))
  const err = (res.body as { error: { code: string; message: string; where?: { path?: string } } }).error
  assert.equal(err.code, code)
  assert.equal(typeof err.message, 'string')
  if (path !== undefined) assert.equal(err.where?.path, path)
}

test('GET /api/assets lists, filters and paginates', async (t) => {
  const { app } = await setup(t)
  let res = await get(app, '/api/assets')
  assert.equal(res.status, 200)
  assert.deepEqual(
    res.body.items.map((a: { uuid: string }) => a.uuid),
    ['a-1', 'm-1', 'm-2'],
  )
  assert.equal(res.body.nextCursor, null)
  assert.deepEqual(res.body.items[1], {
    uuid: 'm-1',
    type: 'Device',
    uns: {
      levels: { inc: 'Demofactory', area: 'Machining', workcenter: 'WC001', asset: 'm-1' },
      unsId: 'Demofactory/Machining/WC001/m-1',
    },
    referencesAbove: [],
    referencesBelow: [],
    availability: 'AVAILABLE',
    declared: true,
  })

  const uuids = async (q: string) =>
    (await get(app, `/api/assets?${q}`)).body.items.map((a: { uuid: string }) => a.uuid)
  assert.deepEqual(await uuids('type=Robot'), ['a-1'])
  assert.deepEqual(await uuids('availability=AVAILABLE'), ['m-1'])
  assert.deepEqual(await uuids('availability=UNAVAILABLE'), ['a-1', 'm-2'])
  assert.deepEqual(await uuids(`uns=${encodeURIComponent('Demofactory/Machining/#')}`), ['m-1', 'm-2'])
  assert.deepEqual(await uuids(`uns=${encodeURIComponent('Demofactory/+/WC010/+')}`), ['a-1'])
  assert.deepEqual(await uuids(`uns=${encodeURIComponent('Demofactory/Machining/#')}&availability=UNAVAILABLE`), [
    'm-2',
  ])

  // Pages of one, following the cursor.
  const seen: string[] = []
  let cursor: string | null = null
  do {
    res = await get(app, `/api/assets?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    assert.equal(res.status, 200)
    seen.push(...res.body.items.map((a: { uuid: string }) => a.uuid))
    cursor = res.body.nextCursor
  } while (cursor !== null && seen.length < 10)
  assert.deepEqual(seen, ['a-1', 'm-1', 'm-2'])
})

test('bad list requests are coded 400s naming the field', async (t) => {
  const { app } = await setup(t)
  assertError(await get(app, '/api/assets?limit=0'), 400, 'OFA_SERVE_REQUEST_INVALID', 'query.limit')
  assertError(await get(app, '/api/assets?limit=abc'), 400, 'OFA_SERVE_REQUEST_INVALID', 'query.limit')
  assertError(await get(app, '/api/assets?availability=MAYBE'), 400, 'OFA_SERVE_REQUEST_INVALID', 'query.availability')
  assertError(await get(app, '/api/assets?unss=x'), 400, 'OFA_SERVE_REQUEST_INVALID', 'query.unss')
  assertError(
    await get(app, `/api/assets?uns=${encodeURIComponent('a/#/b')}`),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'query.uns',
  )
  assertError(await get(app, '/api/assets?cursor=bm9wZQ'), 400, 'OFA_SERVE_CURSOR_INVALID', 'query.cursor')
  assertError(await get(app, '/api/nowhere'), 404, 'OFA_SERVE_ROUTE_NOT_FOUND')
})

test('GET /api/assets/{uuid} gives the model and the current state of every item', async (t) => {
  const { app } = await setup(t)
  const res = await get(app, '/api/assets/m-1')
  assert.equal(res.status, 200)
  assert.match(String(res.headers['content-type']), /application\/json/)
  const a = res.body
  assert.equal(a.uuid, 'm-1')
  assert.equal(a.availability, 'AVAILABLE')
  assert.deepEqual(
    a.methods.map((m: { name: string }) => m.name),
    ['SetSetpoint', 'Reset'],
  )
  assert.equal(a.dataItems.length, 4)
  const byId = new Map(a.state.map((s: { id: string }) => [s.id, s]))
  assert.deepEqual(
    [...byId.keys()].sort(),
    [
      'AssetType',
      'Hum',
      'Reset',
      'SetSetpoint',
      'Temp',
      'avail',
      'exec',
      'references_above',
      'references_below',
      'system',
      'uns_id',
    ].sort(),
  )
  const temp = byId.get('Temp') as Record<string, unknown>
  assert.equal(temp.value, 21.5)
  assert.equal((temp.attributes as Record<string, unknown>).units, 'CELSIUS')
  assertError(await get(app, '/api/assets/nope'), 404, 'OFA_SERVE_ASSET_NOT_FOUND', 'params.uuid')
})

test('GET /api/assets/{uuid}/history reads the log by item and source time, paginated', async (t) => {
  const { app, log } = await setup(t)
  const t0 = Date.now() - 20_000
  await publish(
    log,
    'm-2',
    Array.from({ length: 10 }, (_, i) => ({
      ...sample('Temp', i),
      attributes: { timestamp: isoTimestamp(t0 + i * 1000) },
    })),
  )
  await publish(log, 'm-2', [sample('Hum', 55)])
  await waitFor('on the log', async () => (await get(app, '/api/assets/m-2/history?id=Hum')).body.items.length === 2)

  let res = await get(app, '/api/assets/m-2/history?id=Temp')
  assert.equal(res.status, 200)
  // The UNAVAILABLE written on declaration, then 0..9.
  assert.deepEqual(
    res.body.items.map((i: { value: unknown }) => i.value),
    ['UNAVAILABLE', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  )
  assert.equal(res.body.items[1].assetUuid, 'm-2')
  assert.equal(typeof res.body.items[1].offset, 'number')

  res = await get(app, `/api/assets/m-2/history?id=Temp&from=${isoTimestamp(t0 + 3000)}&to=${t0 + 6000}`)
  assert.deepEqual(
    res.body.items.map((i: { value: unknown }) => i.value),
    [3, 4, 5, 6],
  )
  res = await get(app, '/api/assets/m-2/history?id=Temp,Hum&limit=1000')
  assert.equal(res.body.items.length, 13)

  // Pages of 4 cover the same items once each.
  const values: unknown[] = []
  let cursor: string | null = null
  do {
    res = await get(app, `/api/assets/m-2/history?id=Temp&limit=4${cursor ? `&cursor=${cursor}` : ''}`)
    values.push(...res.body.items.map((i: { value: unknown }) => i.value))
    cursor = res.body.nextCursor
  } while (cursor !== null && values.length < 50)
  assert.deepEqual(values, ['UNAVAILABLE', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

  const other = (await get(app, '/api/assets/m-2/history?limit=1')).body.nextCursor
  assertError(
    await get(app, `/api/assets/m-1/history?cursor=${other}`),
    400,
    'OFA_SERVE_CURSOR_INVALID',
    'query.cursor',
  )
  assertError(await get(app, '/api/assets/m-2/history?from=yesterday'), 400, 'OFA_SERVE_REQUEST_INVALID', 'query.from')
  assertError(
    await get(app, `/api/assets/m-2/history?from=${t0 + 5000}&to=${t0}`),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'query.from',
  )
  assertError(await get(app, '/api/assets/m-2/history?limit=100000'), 400, 'OFA_SERVE_REQUEST_INVALID', 'query.limit')
  assertError(await get(app, '/api/assets/ghost/history'), 404, 'OFA_SERVE_ASSET_NOT_FOUND')
})

test('POST /api/assets/{uuid}/methods/{name}: 200 with the result when answered in time', async (t) => {
  const { app, log } = await setup(t)
  startResponder(t, log, 'm-1', (method, args) => ({ status: 'completed', result: { method, setpoint: args.value } }))
  const res = await inject(app, { method: 'POST', url: '/api/assets/m-1/methods/SetSetpoint', payload: { value: 42 } })
  assert.equal(res.status, 200, res.body)
  const body = res.json()
  assert.equal(body.status, 'completed')
  assert.deepEqual(body.result, { method: 'SetSetpoint', setpoint: 42 })
  assert.equal(body.assetUuid, 'm-1')
  assert.deepEqual(body.arguments, { value: 42 })
  const again = await get(app, `/api/commands/${body.correlationId}`)
  assert.equal(again.status, 200)
  assert.equal(again.body.status, 'completed')
  // Without a body: a method with no arguments (the JSON content type is still needed).
  const reset = await inject(app, {
    method: 'POST',
    url: '/api/assets/m-1/methods/Reset',
    headers: { 'content-type': 'application/json' },
  })
  assert.equal(reset.status, 200, reset.body)
})

test('POST a method never answered: 202, then GET /api/commands/{id} shows it pending', async (t) => {
  const { app, log } = await setup(t)
  const res = await inject(app, { method: 'POST', url: '/api/assets/m-2/methods/Reset?timeout_ms=50', payload: {} })
  assert.equal(res.status, 202, res.body)
  const body = res.json()
  assert.equal(body.status, 'pending')
  assert.equal(res.headers.location, `/api/commands/${body.correlationId}`)
  const cmd = await get(app, res.headers.location as string)
  assert.equal(cmd.status, 200)
  assert.equal(cmd.body.status, 'pending')
  assert.equal(cmd.body.method, 'Reset')
  const onLog = (await readAll(log, TOPICS.assets)).filter((r) => r.value?.toString().includes(body.correlationId))
  assert.equal(onLog.length, 1)
  assert.equal(onLog[0]?.key?.toString(), 'm-2')
  assertError(
    await get(app, '/api/commands/does-not-exist'),
    404,
    'OFA_SERVE_COMMAND_NOT_FOUND',
    'params.correlationId',
  )
})

test('bad method calls are coded errors and send nothing', async (t) => {
  const { app, log } = await setup(t)
  const post = async (url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const r = await inject(app, {
      method: 'POST',
      url,
      ...(payload !== undefined ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}),
      headers: { 'content-type': 'application/json', ...headers },
    })
    return { status: r.status, body: r.json() }
  }
  assertError(await post('/api/assets/ghost/methods/Reset', {}), 404, 'OFA_SERVE_ASSET_NOT_FOUND')
  assertError(await post('/api/assets/m-1/methods/Explode', {}), 404, 'OFA_SERVE_METHOD_NOT_FOUND', 'params.name')
  assertError(await post('/api/assets/m-1/methods/SetSetpoint', {}), 400, 'OFA_SERVE_ARGUMENTS_INVALID', 'body.value')
  assertError(
    await post('/api/assets/m-1/methods/SetSetpoint', { value: 'hot' }),
    400,
    'OFA_SERVE_ARGUMENTS_INVALID',
    'body.value',
  )
  assertError(
    await post('/api/assets/m-1/methods/SetSetpoint', { value: 1, speed: 2 }),
    400,
    'OFA_SERVE_ARGUMENTS_INVALID',
    'body.speed',
  )
  assertError(await post('/api/assets/m-1/methods/SetSetpoint', [1]), 400, 'OFA_SERVE_REQUEST_INVALID', 'body')
  assertError(await post('/api/assets/m-1/methods/SetSetpoint', '{"value": '), 400, 'OFA_SERVE_REQUEST_INVALID')
  assertError(
    await post('/api/assets/m-1/methods/Reset?timeout_ms=-1', {}),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'query.timeout_ms',
  )
  assertError(
    await post('/api/assets/m-1/methods/Reset?timeout_ms=999999', {}),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'query.timeout_ms',
  )
  const r = await inject(app, {
    method: 'POST',
    url: '/api/assets/m-1/methods/Reset',
    payload: 'x',
    headers: { 'content-type': 'text/csv' },
  })
  assert.equal(r.status, 415)
  assert.equal(r.json().error.code, 'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE')
  const commands = (await readAll(log, TOPICS.assets)).filter((x) => x.value?.toString().includes('_CMD'))
  assert.equal(commands.length, 0)
})

test('OpenAPI 3.1 document, Swagger UI, health and metrics', async (t) => {
  const { app } = await setup(t)
  const doc = await get(app, '/api/openapi.json')
  assert.equal(doc.status, 200)
  assert.equal(doc.body.openapi, '3.1.0')
  assert.deepEqual(Object.keys(doc.body.paths).sort(), [
    '/api/alerts',
    '/api/alerts/{uuid}/{rule}/ack',
    '/api/assets',
    '/api/assets/{uuid}',
    '/api/assets/{uuid}/history',
    '/api/assets/{uuid}/history/export',
    '/api/assets/{uuid}/methods/{name}',
    '/api/audit',
    '/api/auth/keys',
    '/api/auth/keys/{id}',
    '/api/auth/me',
    '/api/commands/{correlationId}',
    '/api/documents',
    '/api/documents/{id}',
    '/api/events',
    '/api/ws',
    '/healthz',
    '/metrics',
  ])
  for (const name of ['Asset', 'AssetSummary', 'ItemState', 'Command', 'Error', 'HistoryItem', 'Health']) {
    assert.ok(doc.body.components.schemas[name], `schema ${name}`)
  }
  const listParams = doc.body.paths['/api/assets'].get.parameters.map((p: { name: string }) => p.name).sort()
  assert.deepEqual(listParams, ['at', 'availability', 'cursor', 'limit', 'type', 'uns'])

  const ui = await inject(app, '/api/docs/')
  assert.equal(ui.status, 200)
  assert.match(ui.body, /swagger/i)

  const health = await get(app, '/healthz')
  assert.equal(health.status, 200)
  assert.deepEqual(health.body, { status: 'ok', log: 'ok', ready: true, lag: 0, writes: 'ok' })

  const metrics = await inject(app, '/metrics')
  assert.equal(metrics.status, 200)
  assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  assert.match(metrics.body, /^ofa_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m)
  assert.match(metrics.body, /^ofa_serve_state_assets 3$/m)
  assert.match(metrics.body, /^ofa_serve_observations_ingested_total \d+$/m)
  assert.match(metrics.body, /^ofa_serve_lag_records 0$/m)
  assert.match(metrics.body, /^ofa_serve_subscribers 0$/m)
  assert.match(metrics.body, /^# TYPE ofa_serve_updates_sent_total counter$/m)
})

test('/healthz is 503 while the log cannot be read', async (t) => {
  const { app, log } = await setup(t)
  await log.close()
  const health = await get(app, '/healthz')
  assert.equal(health.status, 503)
  assert.equal(health.body.status, 'unavailable')
  assert.equal(health.body.log, 'unreachable')
})

test('/healthz is 503 with the error when the log fails in a way that is not retried', async (t) => {
  const real = await createTestLog(t)
  const { log, fail } = breakableLog(real)
  const logger = memoryLogger()
  const serving = await createTestServing(t, log, { logger })
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  assert.equal((await get(app, '/healthz')).status, 200)
  fail(new OpenFactoryError('OFA_LOG_CORRUPT', 'ofa_assets-3: damaged record at offset 17'))
  await publish(real, 'm-1', [sample('Temp', 1)])
  await waitFor('the failure', () => serving.state.failure !== null)
  const health = await get(app, '/healthz')
  assert.equal(health.status, 503)
  assert.equal(health.body.status, 'unavailable')
  assert.equal(health.body.ready, false)
  assert.match(health.body.error, /^OFA_LOG_CORRUPT: .*offset 17/)
  assert.match((await inject(app, '/metrics')).body, /^ofa_serve_ready 0$/m)
  assert.ok(logger.lines.some((l) => l.level === 'error' && l.fields.code === 'OFA_LOG_CORRUPT'))
})

test('/metrics: command and live-update latency histograms, and the metrics of what runs beside the app', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await waitFor('m-1', () => serving.state.item('m-1', 'system'))
  const app = await createServeApp({
    eventLog: log,
    serving,
    extraMetrics: async () => [
      { name: 'ofa_forward_connected', help: 'Connected.', type: 'gauge', samples: [{ value: 1 }] },
      { name: 'ofa_forward_records_total', help: 'Forwarded.', type: 'counter', samples: [{ value: 42 }] },
      { name: 'ofa_forward_lag_records', help: 'Lag.', type: 'gauge', labelNames: ['topic', 'partition'], samples: [] },
      {
        name: 'ofa_other_lag',
        help: 'With "quotes" and \\.',
        type: 'gauge',
        samples: [{ labels: { topic: 'a"b', partition: '0' }, value: 3 }],
      },
    ],
  })
  t.after(() => app.close())
  startResponder(t, log, 'm-1', () => ({ status: 'completed' }))
  const res = await inject(app, { method: 'POST', url: '/api/assets/m-1/methods/Reset', payload: {} })
  assert.equal(res.status, 200, res.body)
  // A live update over the hub: a subscriber gets Temp, with its ingestion time.
  const sent: string[] = []
  const conn = app.hub.connect({ send: (text) => sent.push(text), bufferedBytes: () => 0, close() {} })
  t.after(() => conn.close())
  conn.subscribe({ id: 's', assets: ['m-1'], items: ['Temp'] })
  await publish(log, 'm-1', [sample('Temp', 3)])
  await waitFor('the update', () => sent.length === 2)

  const text = (await inject(app, '/metrics')).body
  assert.match(text, /^# TYPE ofa_serve_command_duration_seconds histogram$/m)
  assert.match(text, /^ofa_serve_command_duration_seconds_count\{status="completed"\} 1$/m)
  assert.match(text, /^ofa_serve_command_duration_seconds_bucket\{le="\+Inf",status="completed"\} 1$/m)
  assert.match(text, /^# TYPE ofa_serve_update_latency_seconds histogram$/m)
  assert.match(text, /^ofa_serve_update_latency_seconds_count 1$/m)
  assert.match(text, /^ofa_serve_update_latency_seconds_bucket\{le="10"\} 1$/m)
  assert.match(text, /^ofa_serve_commands_sent_total 1$/m)
  assert.match(text, /^ofa_serve_updates_sent_total 1$/m)
  assert.match(text, /^process_resident_memory_bytes \d+$/m)
  assert.match(text, /^process_uptime_seconds [\d.]+$/m)
  // What runs beside the app: rendered as given; a labelled metric without samples shows no sample.
  assert.match(text, /^ofa_forward_connected 1$/m)
  assert.match(text, /^# TYPE ofa_forward_records_total counter$/m)
  assert.match(text, /^ofa_forward_records_total 42$/m)
  assert.match(text, /^# TYPE ofa_forward_lag_records gauge$/m)
  assert.doesNotMatch(text, /^ofa_forward_lag_records/m)
  assert.match(text, /^ofa_other_lag\{topic="a\\"b",partition="0"\} 3$/m)
})

test('Fastify logs through the logger instance it is given', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const lines: { level: string; args: unknown[] }[] = []
  const logger = {
    level: 'info',
    info: (...args: unknown[]) => lines.push({ level: 'info', args }),
    warn: (...args: unknown[]) => lines.push({ level: 'warn', args }),
    error: (...args: unknown[]) => lines.push({ level: 'error', args }),
    fatal: (...args: unknown[]) => lines.push({ level: 'fatal', args }),
    debug: () => {},
    trace: () => {},
    silent: () => {},
    child: () => logger,
  } as unknown as FastifyBaseLogger
  const app = await createServeApp({ eventLog: log, serving, loggerInstance: logger })
  t.after(() => app.close())
  assert.equal((await inject(app, '/healthz')).status, 200)
  assert.ok(
    lines.some((l) => l.level === 'info' && l.args.includes('request completed')),
    JSON.stringify(lines).slice(0, 300),
  )
})

test('closing the app ends method calls still waiting for their result', async (t) => {
  const { app } = await setup(t)
  const call = inject(app, { method: 'POST', url: '/api/assets/m-2/methods/Reset?timeout_ms=60000', payload: {} })
  await waitFor('the call waits', () => app.commands.size > 0)
  const started = Date.now()
  await app.close()
  const res = await call
  assert.equal(res.status, 202)
  assert.equal(res.json().status, 'pending')
  assert.ok(Date.now() - started < 5000)
})

test('the response check refuses a body that breaks its route’s schema', async (t) => {
  const { app } = await setup(t)
  const checker = await responseChecker(app)
  const ok = JSON.stringify({ items: [], nextCursor: null })
  checker.check('GET', '/api/assets', 200, 'application/json; charset=utf-8', ok)
  assert.throws(() =>
    checker.check(
      'GET',
      '/api/assets',
      200,
      'application/json',
      JSON.stringify({ items: [{ uuid: 1 }], nextCursor: null }),
    ),
  )
  assert.throws(() => checker.check('GET', '/api/assets', 200, 'application/json', JSON.stringify({ items: [], x: 1 })))
  assert.throws(() => checker.check('GET', '/api/assets', 418, 'application/json', ok), /418 is not in the OpenAPI/)
  assert.throws(() => checker.check('GET', '/api/nowhere', 200, 'application/json', ok), /no route/)
  assert.throws(() => checker.checkLive({ id: 's', kind: 'update', data: { id: 'x' } }))
})
