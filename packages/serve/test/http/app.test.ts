import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { isoTimestamp, TOPICS } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { createServeApp } from '../../src/index.ts'
import {
  avail,
  createTestLog,
  createTestState,
  declare,
  publish,
  readAll,
  sample,
  sensor,
  startResponder,
  waitFor,
} from '../helpers/log.ts'

async function setup(t: TestContext) {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await declare(log, sensor('m-2', ['Demofactory', 'Machining', 'WC002', 'm-2']))
  await declare(log, sensor('a-1', ['Demofactory', 'Assembly', 'WC010', 'a-1'], { type: 'Robot' }))
  await publish(log, 'm-1', [avail(true), sample('Temp', 21.5, 'Temperature', { units: 'CELSIUS' })])
  await waitFor(
    'the assets',
    () => state.item('m-1', 'Temp')?.value === 21.5 && state.has('m-2') && state.item('a-1', 'system'),
  )
  const app = await createServeApp({ log, state, commandTimeoutMs: 3000 })
  t.after(() => app.close())
  return { log, state, app }
}

async function get(app: FastifyInstance, url: string) {
  const r = await app.inject(url)
  return { status: r.statusCode, body: r.json(), headers: r.headers }
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
  const res = await app.inject({ method: 'POST', url: '/api/assets/m-1/methods/SetSetpoint', payload: { value: 42 } })
  assert.equal(res.statusCode, 200, res.body)
  const body = res.json()
  assert.equal(body.status, 'completed')
  assert.deepEqual(body.result, { method: 'SetSetpoint', setpoint: 42 })
  assert.equal(body.assetUuid, 'm-1')
  assert.deepEqual(body.arguments, { value: 42 })
  const again = await get(app, `/api/commands/${body.correlationId}`)
  assert.equal(again.status, 200)
  assert.equal(again.body.status, 'completed')
  // Without a body: a method with no arguments.
  const reset = await app.inject({ method: 'POST', url: '/api/assets/m-1/methods/Reset' })
  assert.equal(reset.statusCode, 200, reset.body)
})

test('POST a method never answered: 202, then GET /api/commands/{id} shows it pending', async (t) => {
  const { app, log } = await setup(t)
  const res = await app.inject({ method: 'POST', url: '/api/assets/m-2/methods/Reset?timeout_ms=50', payload: {} })
  assert.equal(res.statusCode, 202, res.body)
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
    const r = await app.inject({
      method: 'POST',
      url,
      ...(payload !== undefined ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) } : {}),
      headers: { 'content-type': 'application/json', ...headers },
    })
    return { status: r.statusCode, body: r.json() }
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
  const r = await app.inject({
    method: 'POST',
    url: '/api/assets/m-1/methods/Reset',
    payload: 'x',
    headers: { 'content-type': 'text/csv' },
  })
  assert.equal(r.statusCode, 415)
  assert.equal(r.json().error.code, 'OFA_SERVE_REQUEST_INVALID')
  const commands = (await readAll(log, TOPICS.assets)).filter((x) => x.value?.toString().includes('_CMD'))
  assert.equal(commands.length, 0)
})

test('OpenAPI 3.1 document, Swagger UI, health and metrics', async (t) => {
  const { app } = await setup(t)
  const doc = await get(app, '/api/openapi.json')
  assert.equal(doc.status, 200)
  assert.equal(doc.body.openapi, '3.1.0')
  assert.deepEqual(Object.keys(doc.body.paths).sort(), [
    '/api/assets',
    '/api/assets/{uuid}',
    '/api/assets/{uuid}/history',
    '/api/assets/{uuid}/methods/{name}',
    '/api/commands/{correlationId}',
    '/api/events',
    '/api/ws',
    '/healthz',
    '/metrics',
  ])
  for (const name of ['Asset', 'AssetSummary', 'ItemState', 'Command', 'Error', 'HistoryItem', 'Health']) {
    assert.ok(doc.body.components.schemas[name], `schema ${name}`)
  }
  const listParams = doc.body.paths['/api/assets'].get.parameters.map((p: { name: string }) => p.name).sort()
  assert.deepEqual(listParams, ['availability', 'cursor', 'limit', 'type', 'uns'])

  const ui = await app.inject('/api/docs/')
  assert.equal(ui.statusCode, 200)
  assert.match(ui.body, /swagger/i)

  const health = await get(app, '/healthz')
  assert.equal(health.status, 200)
  assert.deepEqual(health.body, { status: 'ok', log: 'ok', ready: true, lag: 0 })

  const metrics = await app.inject('/metrics')
  assert.equal(metrics.statusCode, 200)
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
