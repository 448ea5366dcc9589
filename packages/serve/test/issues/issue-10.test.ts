// Issue 10 (faults and bad input), the serving layer's items: regressions, each failing before its fix.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { hostname } from 'node:os'
import { type TestContext, test } from 'node:test'
import { type EventLog, partitionFor } from '@openfactory/log'
import { AssetEvents, OpenFactoryError, TOPICS } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'
import {
  createServeApp,
  createSubscriptionHub,
  parseSubscriptionSpec,
  type ServeAppOptions,
  type SubscriberSink,
} from '../../src/index.ts'
import { checkedFetch, inject, responseChecker } from '../helpers/http.ts'
import {
  avail,
  createTestLog,
  createTestServing,
  createTestState,
  declare,
  publish,
  publishEvents,
  readAll,
  sample,
  sensor,
  waitFor,
} from '../helpers/log.ts'

// --- helpers --------------------------------------------------------------------------------------------

/** The log, whose appends fail with `appendError` while it is set, and whose reads of `ofa_assets` with `readError`. */
function faultyLog(log: EventLog): {
  log: EventLog
  appendError: Error | null
  readError: Error | null
  describeError: { partition: number; error: OpenFactoryError } | null
} {
  const faults = {
    appendError: null as Error | null,
    readError: null as Error | null,
    describeError: null as { partition: number; error: OpenFactoryError } | null,
    log: null as unknown as EventLog,
  }
  faults.log = new Proxy(log, {
    get(target, prop) {
      if (prop === 'append') {
        return async (...args: Parameters<EventLog['append']>) => {
          if (faults.appendError) throw faults.appendError
          return target.append(...args)
        }
      }
      if (prop === 'read') {
        return async (...args: Parameters<EventLog['read']>) => {
          if (faults.readError && args[0] === TOPICS.assets) throw faults.readError
          return target.read(...args)
        }
      }
      if (prop === 'describeTopic') {
        return async (name: string) => {
          const desc = await target.describeTopic(name)
          const broken = faults.describeError
          if (!broken || name !== TOPICS.assets) return desc
          return {
            ...desc,
            partitionStates: desc.partitionStates.map((ps) =>
              ps.partition === broken.partition ? { ...ps, error: broken.error } : ps,
            ),
          }
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return faults
}

const diskFull = () =>
  new OpenFactoryError('OFA_LOG_IO', 'ofa_assets/0/00000000000000000000.log: ENOSPC: no space left on device', {
    retryable: true,
  })

/** Two declared assets and an app over them; `wrap` puts a faulty log between the serving layer and the log. */
async function setup(
  t: TestContext,
  opts: Partial<ServeAppOptions> = {},
  wrap: (log: EventLog) => EventLog = (log) => log,
) {
  const real = await createTestLog(t)
  const log = wrap(real)
  const serving = await createTestServing(t, log)
  await declare(real, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await declare(real, {
    ...sensor('cnc-1', ['Demofactory', 'Machining', 'WC002', 'cnc-1']),
    methods: [{ name: 'SetSpeed', description: 'Spindle speed', arguments: [{ name: 'rpm', description: 'untyped' }] }],
  })
  await waitFor('the assets', () => serving.state.item('m-1', 'system') && serving.state.item('cnc-1', 'system'))
  const app = await createServeApp({ eventLog: log, serving, ...opts })
  t.after(() => app.close())
  return { log: real, serving, app }
}

async function listenOn(app: FastifyInstance, host = '127.0.0.1'): Promise<number> {
  await app.listen({ port: 0, host })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  return address.port
}

function assertError(r: { status: number; json(): any }, status: number, code: string, path?: string) {
  assert.equal(r.status, status, JSON.stringify(r.json()))
  const err = r.json().error
  assert.equal(err.code, code, JSON.stringify(err))
  if (path !== undefined) assert.equal(err.where?.path, path)
  return err as { code: string; message: string; where?: { path?: string } }
}

const commandsOnLog = async (log: EventLog) =>
  (await readAll(log, TOPICS.assets)).filter((r) => /_CMD"/.test(r.value?.toString() ?? '')).length

/** Sends raw bytes to the server and returns everything it answers until it closes the connection. */
function rawRequest(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    let out = ''
    const s = connect(port, '127.0.0.1', () => s.write(bytes))
    s.on('data', (d) => {
      out += d.toString('latin1')
    })
    s.on('close', () => resolve(out))
    s.on('error', () => resolve(out))
    setTimeout(() => s.destroy(), 5000).unref()
  })
}

/** Status line and JSON body of a raw HTTP answer. */
function parseRaw(text: string): { status: number; body: any; head: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])
  const end = text.indexOf('\r\n\r\n')
  return { status, body: JSON.parse(text.slice(end + 4)), head: text.slice(0, end) }
}

/** Opens a WebSocket with the given headers; resolves with the socket, or the refusal (status and body). */
function openWs(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ socket?: WebSocket; status?: number; body?: any }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.once('open', () => resolve({ socket }))
    socket.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode, body: body === '' ? undefined : JSON.parse(body) }))
    })
    socket.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

// --- item 6: Host, Origin, content type, loopback warning, the first final result ------------------------------

test('item 6: a Host the server does not answer to (DNS rebinding) is a 403; IPs, localhost, this machine and allowed names pass', async (t) => {
  const { app } = await setup(t, { allowedHosts: ['factory.example.com', '.plant.example'] })
  const get = (host: string) => inject(app, { url: '/api/assets', headers: { host } })
  for (const host of ['evil.example', 'evil.example:8080', 'localhost.evil.example', 'plant.example.evil.com']) {
    const err = assertError(await get(host), 403, 'OFA_SERVE_HOST_NOT_ALLOWED', 'headers.host')
    assert.match(err.message, /OPENFACTORY_ALLOWED_HOSTS/)
  }
  for (const host of [
    'localhost:8080',
    'LOCALHOST',
    'dashboard.localhost:8080',
    '127.0.0.1:8080',
    '10.1.2.3',
    '[::1]:8080',
    hostname(),
    'factory.example.com:8080',
    'line-3.plant.example',
    'plant.example',
  ]) {
    assert.equal((await get(host)).status, 200, host)
  }
  // /healthz and the WebSocket route are guarded alike.
  assertError(
    await inject(app, { url: '/healthz', headers: { host: 'evil.example' } }),
    403,
    'OFA_SERVE_HOST_NOT_ALLOWED',
  )
  const port = await listenOn(app)
  const refused = await openWs(`ws://127.0.0.1:${port}/api/ws`, { host: 'evil.example' })
  assert.equal(refused.status, 403)
  assert.equal(refused.body.error.code, 'OFA_SERVE_HOST_NOT_ALLOWED')

  const open = await setup(t, { allowedHosts: ['*'] })
  assert.equal((await inject(open.app, { url: '/api/assets', headers: { host: 'evil.example' } })).status, 200)
})

test('item 6: a WebSocket upgrade, an SSE stream or a POST from a foreign Origin is a 403; own, loopback and allowed origins pass', async (t) => {
  const { app, log } = await setup(t, { allowedOrigins: ['https://dashboard.example.com'] })
  const port = await listenOn(app)
  const ws = `ws://127.0.0.1:${port}/api/ws`
  for (const origin of [
    'http://evil.example',
    'null',
    'http://evil.example:80',
    'https://dashboard.example.com:8443',
    `http://127.0.0.1.evil.example:${port}`,
    'not an origin',
  ]) {
    const r = await openWs(ws, { origin })
    assert.equal(r.status, 403, origin)
    assert.equal(r.body.error.code, 'OFA_SERVE_ORIGIN_NOT_ALLOWED')
    assert.equal(r.body.error.where.path, 'headers.origin')
  }
  for (const origin of [
    `http://127.0.0.1:${port}`, // this server's own page
    'http://localhost:5173', // a page served on this machine
    'https://dashboard.example.com',
  ]) {
    const r = await openWs(ws, { origin })
    assert.ok(r.socket, `${origin}: ${JSON.stringify(r)}`)
    r.socket.close()
  }
  // Without Origin (not a browser): allowed.
  const plain = await openWs(ws)
  assert.ok(plain.socket)
  plain.socket.close()

  const base = `http://127.0.0.1:${port}`
  const sse = await checkedFetch(app, base, '/api/events?assets=m-1', { headers: { origin: 'http://evil.example' } })
  assertError(sse, 403, 'OFA_SERVE_ORIGIN_NOT_ALLOWED')
  const post = await checkedFetch(app, base, '/api/assets/m-1/methods/Reset', {
    method: 'POST',
    headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
    body: '{}',
  })
  assertError(post, 403, 'OFA_SERVE_ORIGIN_NOT_ALLOWED')
  // A GET from any origin is read only and stays readable by the browser only with CORS, which is not granted.
  assert.equal(
    (await checkedFetch(app, base, '/api/assets', { headers: { origin: 'http://evil.example' } })).status,
    200,
  )
  assert.equal(await commandsOnLog(log), 0)
})

test('item 6: a POST without content-type application/json (body-less, text/plain, a form) is a 415 and runs nothing', async (t) => {
  const { app, log } = await setup(t)
  const post = (headers: Record<string, string>, payload?: string) =>
    inject(app, {
      method: 'POST',
      url: '/api/assets/m-1/methods/Reset?timeout_ms=0',
      headers,
      ...(payload !== undefined ? { payload } : {}),
    })
  // What a cross-site page can send without asking first.
  for (const [headers, payload] of [
    [{}, undefined],
    [{ 'content-type': 'text/plain' }, '{}'],
    [{ 'content-type': 'text/plain;charset=UTF-8' }, ''],
    [{ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'],
    [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    [{ 'content-type': 'application/json; charset=utf-16' }, '{}'],
  ] as const) {
    assertError(await post(headers, payload), 415, 'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE', 'headers.content-type')
  }
  assert.equal(await commandsOnLog(log), 0)
  // JSON, with or without a body, runs the method.
  assert.equal((await post({ 'content-type': 'application/json' })).status, 202)
  assert.equal((await post({ 'content-type': 'application/json; charset=utf-8' }, '{}')).status, 202)
  assert.equal(await commandsOnLog(log), 2)
})

// Item 6's warning about listening beyond loopback without authentication is now a refusal, made where the listen
// address and the factory's authentication are both known: `ofa up` / `ofa run` (packages/cli/test/tls.test.ts).

test('item 6: a result read after a final one does not change the command’s recorded outcome', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await waitFor('m-1', () => serving.state.has('m-1'))
  const settled: string[] = []
  serving.commands.onSettled((r) => settled.push(r.status))
  const sent = await serving.commands.send({ assetUuid: 'm-1', method: 'Reset' })
  const result = (status: 'accepted' | 'completed' | 'failed' | 'rejected', extra: object = {}) =>
    AssetEvents.result('Reset', { correlation_id: sent.correlationId, status, ...extra })
  await publishEvents(log, 'm-1', [result('accepted'), result('completed', { result: { ok: true } })])
  await waitFor('completed', () => serving.commands.get(sent.correlationId)?.status === 'completed')
  await publishEvents(log, 'm-1', [
    result('failed', { error: { code: 'E', message: 'forged' } }),
    result('rejected'),
    result('accepted'),
  ])
  await publish(log, 'm-1', [sample('Temp', 1)])
  await waitFor('the later records', () => serving.state.item('m-1', 'Temp')?.value === 1)
  const record = serving.commands.get(sent.correlationId)
  assert.equal(record?.status, 'completed')
  assert.deepEqual(record?.result, { ok: true })
  assert.equal(record?.error, undefined)
  assert.deepEqual(settled, ['completed'])
})

// --- item 15: caps on subscriptions -----------------------------------------------------------------------

function nullSink(): SubscriberSink & { messages: string[] } {
  const messages: string[] = []
  return { messages, send: (text) => void messages.push(text), bufferedBytes: () => 0, close() {} }
}

function assertLimit(fn: () => void, pattern: RegExp) {
  assert.throws(fn, (err: OpenFactoryError) => {
    assert.equal(err.code, 'OFA_SERVE_SUBSCRIPTION_LIMIT')
    assert.match(err.message, pattern)
    return true
  })
}

test('item 15: a connection holds 1000 subscriptions; the 1001st is refused with a code, and nothing is added', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  const hub = createSubscriptionHub({ state })
  t.after(() => hub.close())
  const conn = hub.connect(nullSink())
  for (let i = 0; i < 1000; i++) conn.subscribe({ id: `s${i}`, assets: ['m-1'] })
  assert.equal(conn.subscriptionCount, 1000)
  assertLimit(() => conn.subscribe({ id: 's1000', assets: ['m-1'] }), /holds 1000 subscriptions.*\(1000\)/)
  assert.equal(conn.subscriptionCount, 1000)
  assert.equal(hub.stats().subscriptions, 1000)
  conn.unsubscribe('s0')
  conn.subscribe({ id: 's1000', assets: ['m-1'] })
  assert.equal(conn.subscriptionCount, 1000)
})

test('item 15: the server holds 100 000 subscriptions; the 100 001st is refused, on any connection', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  const hub = createSubscriptionHub({ state })
  t.after(() => hub.close())
  for (let c = 0; c < 100; c++) {
    const conn = hub.connect(nullSink())
    for (let i = 0; i < 1000; i++) conn.subscribe({ id: `s${i}`, items: ['Temp'] })
  }
  assert.equal(hub.stats().subscriptions, 100_000)
  const late = hub.connect(nullSink())
  assertLimit(() => late.subscribe({ id: 'one-more', items: ['Temp'] }), /server holds 100000 subscriptions/)
  assert.equal(hub.stats().subscriptions, 100_000)
  assert.equal(late.subscriptionCount, 0)
})

test('item 15: the filters of one connection name 10 000 assets and items at most; one list 1000 entries', async (t) => {
  const log = await createTestLog(t)
  const state = await createTestState(t, log)
  const hub = createSubscriptionHub({ state })
  t.after(() => hub.close())
  const conn = hub.connect(nullSink())
  const names = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`)
  for (let i = 0; i < 5; i++) conn.subscribe({ id: `s${i}`, assets: names(1000, `a${i}-`), items: names(1000, 'i') })
  assertLimit(() => conn.subscribe({ id: 'more', assets: ['x'] }), /10001 assets and items, more than 10000/)
  assert.equal(conn.subscriptionCount, 5)
  conn.unsubscribe('s0')
  conn.subscribe({ id: 'more', assets: ['x'] })
  // A list of 1000 entries is taken; one of 1001 is a malformed subscription.
  const spec = (n: number) => parseSubscriptionSpec({ id: 'x', assets: names(n, 'a') }, 'OFA_SERVE_MESSAGE_INVALID')
  assert.equal(spec(1000).assets?.length, 1000)
  assert.throws(
    () => spec(1001),
    (err: OpenFactoryError) => err.code === 'OFA_SERVE_MESSAGE_INVALID' && err.where?.path === 'assets',
  )
})

test('item 15: the caps are options; SSE past the server cap is a 503 before the stream starts', async (t) => {
  const { app } = await setup(t, {
    subscriptionLimits: { perConnection: 2, total: 3, listEntries: 2, filterEntriesPerConnection: 100 },
  })
  const port = await listenOn(app)
  const { socket } = await openWs(`ws://127.0.0.1:${port}/api/ws`)
  assert.ok(socket)
  t.after(() => socket.terminate())
  const checker = await responseChecker(app)
  const messages: any[] = []
  socket.on('message', (d) => {
    const m = JSON.parse(d.toString())
    checker.checkLive(m)
    messages.push(m)
  })
  for (const id of ['a', 'b', 'c']) socket.send(JSON.stringify({ op: 'subscribe', id, assets: ['m-1'] }))
  socket.send(JSON.stringify({ op: 'subscribe', id: 'd', assets: ['m-1', 'cnc-1', 'x'] }))
  await waitFor('four answers', () => messages.length === 4)
  assert.deepEqual(
    messages.map((m) => [m.id, m.kind, m.error?.code]),
    [
      ['a', 'snapshot', undefined],
      ['b', 'snapshot', undefined],
      ['c', 'error', 'OFA_SERVE_SUBSCRIPTION_LIMIT'],
      ['d', 'error', 'OFA_SERVE_MESSAGE_INVALID'],
    ],
  )
  const base = `http://127.0.0.1:${port}`
  const controller = new AbortController()
  t.after(() => controller.abort())
  const first = await fetch(`${base}/api/events?assets=m-1`, { signal: controller.signal })
  assert.equal(first.status, 200)
  await waitFor('3 subscriptions', () => app.hub.stats().subscriptions === 3)
  const refused = await checkedFetch(app, base, '/api/events?assets=m-1')
  assertError(refused, 503, 'OFA_SERVE_SUBSCRIPTION_LIMIT')
})

test('item 15: 50 000 subscribe messages on one WebSocket: 1000 taken, the rest refused; memory and /metrics stay small', {
  timeout: 60_000,
}, async (t) => {
  const { app } = await setup(t)
  const port = await listenOn(app)
  const { socket } = await openWs(`ws://127.0.0.1:${port}/api/ws`)
  assert.ok(socket)
  t.after(() => socket.terminate())
  let snapshots = 0
  let refused = 0
  let other = 0
  socket.on('message', (d) => {
    const m = JSON.parse(d.toString())
    if (m.kind === 'snapshot') snapshots++
    else if (m.error?.code === 'OFA_SERVE_SUBSCRIPTION_LIMIT') refused++
    else other++
  })
  const rssBefore = process.memoryUsage().rss
  for (let i = 0; i < 50_000; i++) {
    socket.send(`{"op":"subscribe","id":"s${i}","uns":"Demofactory/#"}`)
  }
  await waitFor('50 000 answers', () => snapshots + refused + other === 50_000 || other > 0, 50_000)
  assert.equal(other, 0)
  assert.equal(snapshots, 1000)
  assert.equal(refused, 49_000)
  assert.equal(app.hub.stats().subscriptions, 1000)
  const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20
  assert.ok(grown < 400, `RSS grew by ${grown.toFixed(0)} MiB`)
  const started = performance.now()
  const metrics = await inject(app, '/metrics')
  const ms = performance.now() - started
  assert.equal(metrics.status, 200)
  assert.match(metrics.body, /^ofa_serve_subscriptions 1000$/m)
  assert.match(metrics.body, /^ofa_serve_subscriptions_refused_total 49000$/m)
  assert.ok(ms < 1000, `/metrics took ${ms.toFixed(0)} ms`)
})

test('item 15: a client that sends without reading its answers is no longer read once they pile up', {
  timeout: 30_000,
}, async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  // One asset with 2000 items: a snapshot of it is ~300 kB.
  await publish(
    log,
    'big',
    Array.from({ length: 2000 }, (_, i) => sample(`item-${i}`, i, 'Temperature', { units: 'CELSIUS' })),
  )
  await waitFor('big', () => serving.state.item('big', 'item-1999'))
  const app = await createServeApp({ eventLog: log, serving, maxBufferedBytes: 256 * 1024 })
  t.after(() => app.close())
  const port = await listenOn(app)
  const { socket } = await openWs(`ws://127.0.0.1:${port}/api/ws`)
  assert.ok(socket)
  t.after(() => socket.terminate())
  ;(socket as unknown as { _socket: import('node:net').Socket })._socket.pause() // reads nothing more
  for (let i = 0; i < 1000; i++) socket.send(`{"op":"subscribe","id":"s${i}","assets":["big"]}`)
  await new Promise((r) => setTimeout(r, 1500))
  // Without backpressure, all 1000 snapshots (~300 MB) would be queued for a client that reads nothing.
  const held = app.hub.stats().subscriptions
  assert.ok(held > 0 && held < 100, `${held} subscriptions were read and answered`)
})

// --- item 18: error shapes ------------------------------------------------------------------------------

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffd]/

test('item 18: %FF in a URL and a path parameter past 100 characters are answered in our shape', async (t) => {
  const { app } = await setup(t)
  const err = assertError(await inject(app, '/api/assets/%FF'), 400, 'OFA_SERVE_REQUEST_INVALID', 'url')
  assert.match(err.message, /percent-encoding/)
  assertError(await inject(app, '/api/assets/%FF/history?id=%FF'), 400, 'OFA_SERVE_REQUEST_INVALID', 'url')
  // A long asset UUID is just an unknown asset (Fastify's default would answer 414 in its own format).
  assertError(await inject(app, `/api/assets/${'u'.repeat(300)}`), 404, 'OFA_SERVE_ASSET_NOT_FOUND')
})

test('item 18: a URL longer than 8192 bytes is a 414 in our shape; 100 kB over a socket too; headers past 16 KiB a 431', async (t) => {
  const { app } = await setup(t)
  const prefix = '/api/assets?type='
  assert.equal((await inject(app, `${prefix}${'a'.repeat(8192 - prefix.length)}`)).status, 200)
  const long = await inject(app, `${prefix}${'a'.repeat(8193 - prefix.length)}`)
  const err = assertError(long, 414, 'OFA_SERVE_TOO_LARGE', 'url')
  assert.match(err.message, /8192 bytes/)
  assertError(await inject(app, `/api/nowhere/${'%FF'.repeat(3000)}`), 414, 'OFA_SERVE_TOO_LARGE')
  const port = await listenOn(app)
  const huge = parseRaw(
    await rawRequest(port, `GET /api/assets?type=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`),
  )
  assert.equal(huge.status, 414)
  assert.equal(huge.body.error.code, 'OFA_SERVE_TOO_LARGE')
  const headers = parseRaw(
    await rawRequest(port, `GET /api/assets HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`),
  )
  assert.equal(headers.status, 431)
  assert.equal(headers.body.error.code, 'OFA_SERVE_TOO_LARGE')
  const garbage = parseRaw(await rawRequest(port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a])))
  assert.equal(garbage.status, 400)
  assert.equal(garbage.body.error.code, 'OFA_SERVE_REQUEST_INVALID')
  // Written on the socket, past Fastify: the same security headers as every other answer.
  for (const r of [huge, headers, garbage]) {
    assert.match(r.head, /\r\nx-content-type-options: nosniff\r\n/i)
    assert.match(r.head, /\r\ncontent-security-policy: default-src 'none'; frame-ancestors 'none'/i)
    assert.match(r.head, /\r\nx-frame-options: DENY\r\n/i)
  }
})

test('item 18: a text/plain body is a 415, as documented, not a 400', async (t) => {
  const { app, log } = await setup(t)
  const r = await inject(app, {
    method: 'POST',
    url: '/api/assets/m-1/methods/SetSetpoint',
    headers: { 'content-type': 'text/plain' },
    payload: '{"value": 1}',
  })
  assertError(r, 415, 'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE')
  assert.equal(await commandsOnLog(log), 0)
})

test('item 18: a __proto__ key is refused by name, at any depth, and pollutes nothing', async (t) => {
  const { app, log } = await setup(t)
  const post = (payload: string) =>
    inject(app, {
      method: 'POST',
      url: '/api/assets/cnc-1/methods/SetSpeed?timeout_ms=0',
      headers: { 'content-type': 'application/json' },
      payload,
    })
  let err = assertError(
    await post('{"__proto__": {"polluted": 1}}'),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'body.__proto__',
  )
  assert.doesNotMatch(err.message, /not valid JSON/)
  assert.match(err.message, /__proto__/)
  err = assertError(
    await post('{"rpm": {"a": [1, {"__proto__": {"polluted": 1}}]}}'),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'body.rpm.a[1].__proto__',
  )
  assertError(
    await post('{"rpm": {"constructor": {"prototype": {"polluted": 1}}}}'),
    400,
    'OFA_SERVE_REQUEST_INVALID',
    'body.rpm.constructor.prototype',
  )
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.equal(await commandsOnLog(log), 0)
  // A plain key named constructor is an argument like any other.
  assert.equal((await post('{"rpm": {"constructor": 1}}')).status, 202)
})

test('item 18: a non-finite number never reaches the device, untyped argument or not', async (t) => {
  const { app, log } = await setup(t)
  const post = (url: string, payload: string) =>
    inject(app, { method: 'POST', url, headers: { 'content-type': 'application/json' }, payload })
  const untyped = assertError(
    await post('/api/assets/cnc-1/methods/SetSpeed', '{"rpm": 1e999}'),
    400,
    'OFA_SERVE_ARGUMENTS_INVALID',
    'body.rpm',
  )
  assert.match(untyped.message, /finite/)
  assertError(
    await post('/api/assets/cnc-1/methods/SetSpeed', '{"rpm": {"steps": [1, -1e400]}}'),
    400,
    'OFA_SERVE_ARGUMENTS_INVALID',
    'body.rpm.steps[1]',
  )
  assertError(
    await post('/api/assets/m-1/methods/SetSetpoint', '{"value": 1e999}'),
    400,
    'OFA_SERVE_ARGUMENTS_INVALID',
    'body.value',
  )
  assert.equal(await commandsOnLog(log), 0)
  assert.equal((await post('/api/assets/cnc-1/methods/SetSpeed?timeout_ms=0', '{"rpm": 1.7e308}')).status, 202)
})

test('item 18: binary bytes never appear raw in an error message; deep nesting is a 400, not a crash', async (t) => {
  const { app } = await setup(t)
  const post = (url: string, payload: string | Buffer) =>
    inject(app, { method: 'POST', url, headers: { 'content-type': 'application/json' }, payload })
  const answers = [
    await post('/api/assets/m-1/methods/Reset', Buffer.from([0x7b, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe])),
    await post('/api/assets/m-1/methods/Reset', Buffer.from('{"a": "\u001b[2J\u009b"', 'utf8')),
    await post('/api/assets/m-1/methods/Reset', Buffer.from('\u0000\u0001\u0002garbage\u007f', 'utf8')),
    await post('/api/assets/m-1/methods/%1B%5B2J%C2%9B', '{}'),
    await inject(app, '/api/assets/%C2%9B%1B%00'),
    await inject(app, '/api/assets/%C2%9B/history'),
    await inject(app, '/api/nowhere/%C2%9B'),
    await inject(app, '/api/assets?type=%00%1B&uns=%C2%9B%23x'),
  ]
  for (const r of answers) {
    assert.ok(r.status >= 400 && r.status < 500, r.body)
    const { message, where } = r.json().error
    assert.doesNotMatch(message, UNPRINTABLE, message)
    assert.doesNotMatch(where?.path ?? '', UNPRINTABLE)
  }
  assert.match(answers[0]?.json().error.message, /not UTF-8.*0xff at offset 6/)
  assert.match(answers[3]?.json().error.message, /\\x1b\[2J\\x9b/)
  const deep = await post('/api/assets/cnc-1/methods/SetSpeed', `{"rpm": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`)
  assertError(deep, 400, 'OFA_SERVE_REQUEST_INVALID')
  assert.match(deep.json().error.message, /nested deeper than 64/)
})

// --- item 13: failing writes, stale availability, history errors ----------------------------------------------

test('item 13: /healthz says writes fail (expiries not recorded) and the stale asset shows UNAVAILABLE; both recover', async (t) => {
  const real = await createTestLog(t)
  const faults = faultyLog(real)
  let skew = 0
  const serving = await createTestServing(t, faults.log, { ttlCheckMs: 20, now: () => Date.now() + skew })
  await declare(real, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await publish(real, 'm-1', [avail(true)])
  await waitFor('AVAILABLE', () => serving.state.availability('m-1') === 'AVAILABLE')
  const app = await createServeApp({ eventLog: faults.log, serving })
  t.after(() => app.close())
  assert.equal((await inject(app, '/healthz')).status, 200)

  faults.appendError = diskFull()
  skew = 60_000 // the 15 s TTL has passed
  await waitFor('the expiry attempt', () => serving.writes.failure !== null)
  const health = await inject(app, '/healthz')
  assert.equal(health.status, 503)
  assert.equal(health.json().writes, 'failing')
  assert.match(health.json().writeError, /^OFA_LOG_IO: availability expiry not written since .*ENOSPC/)
  // Stale: shown UNAVAILABLE although the expiry is not on the log.
  const asset = (await inject(app, '/api/assets/m-1')).json()
  assert.equal(asset.availability, 'UNAVAILABLE')
  const availItem = asset.state.find((s: { id: string }) => s.id === 'avail')
  assert.equal(availItem.value, 'UNAVAILABLE')
  assert.match(availItem.attributes.reason, /TTL of 15000 ms expired.*could not be recorded.*OFA_LOG_IO/)
  const listed = (await inject(app, '/api/assets?availability=UNAVAILABLE')).json().items.map((a: any) => a.uuid)
  assert.ok(listed.includes('m-1'))
  const onLog = async () =>
    (await readAll(real, TOPICS.assets)).filter((r) => /availability TTL/.test(r.value?.toString() ?? '')).length
  assert.equal(await onLog(), 0)

  // Space is back: the expiry is recorded by itself, and /healthz is ok again.
  faults.appendError = null
  await waitFor('the expiry on the log', async () => (await onLog()) === 1)
  await waitFor('writes ok', () => serving.writes.failure === null)
  const again = await inject(app, '/healthz')
  assert.equal(again.status, 200, again.body)
  assert.equal(again.json().writes, 'ok')
  // A new heartbeat makes it AVAILABLE again.
  skew = 0
  await publish(real, 'm-1', [avail(true)])
  await waitFor('AVAILABLE again', () => serving.state.availability('m-1') === 'AVAILABLE')
})

test('item 13: a command the log refuses is a 503 and shows in /healthz; a partition with an error too', async (t) => {
  let faults!: ReturnType<typeof faultyLog>
  const { app } = await setup(t, {}, (log) => {
    faults = faultyLog(log)
    return faults.log
  })
  faults.appendError = diskFull()
  const r = await inject(app, {
    method: 'POST',
    url: '/api/assets/m-1/methods/Reset',
    headers: { 'content-type': 'application/json' },
    payload: '{}',
  })
  assertError(r, 503, 'OFA_LOG_IO')
  assert.match((await inject(app, '/metrics')).body, /^ofa_serve_log_write_failures_total 1$/m)
  let health = await inject(app, '/healthz')
  assert.equal(health.status, 503)
  assert.match(health.json().writeError, /^OFA_LOG_IO: command not written/)
  faults.appendError = null
  const ok = await inject(app, {
    method: 'POST',
    url: '/api/assets/m-1/methods/Reset?timeout_ms=0',
    headers: { 'content-type': 'application/json' },
  })
  assert.equal(ok.status, 202)
  assert.equal((await inject(app, '/healthz')).json().writes, 'ok')
  // The log itself says a partition fails.
  faults.describeError = { partition: 4, error: diskFull() }
  health = await inject(app, '/healthz')
  assert.equal(health.status, 503)
  assert.equal(health.json().writes, 'failing')
  assert.match(health.json().writeError, /^ofa_assets partition 4: OFA_LOG_IO: /)
})

test('item 13: a refused history read names the partition of the asset it read', async (t) => {
  let faults!: ReturnType<typeof faultyLog>
  const { app } = await setup(t, {}, (log) => {
    faults = faultyLog(log)
    return faults.log
  })
  const partition = partitionFor('m-1', 6)
  faults.readError = new OpenFactoryError(
    'OFA_LOG_IO',
    `ofa_assets/${(partition + 1) % 6}/00000000000000000000.log: ENOSPC`,
    { retryable: true },
  )
  const err = assertError(await inject(app, '/api/assets/m-1/history'), 503, 'OFA_LOG_IO')
  assert.match(
    err.message,
    new RegExp(`^history of "m-1": reading ofa_assets partition ${partition} at offset 0 failed: `),
  )
})

test('item 13: a replica that does not record expiries shows a stale asset UNAVAILABLE after a grace period', async (t) => {
  const log = await createTestLog(t)
  let skew = 0
  const serving = await createTestServing(t, log, {
    ttlCheckMs: 20,
    now: () => Date.now() + skew,
    recordsExpiries: () => false,
    staleGraceMs: 5000,
  })
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await publish(log, 'm-1', [avail(true)])
  await waitFor('AVAILABLE', () => serving.state.availability('m-1') === 'AVAILABLE')
  skew = 16_000 // past the TTL, within the grace: the recorder may still write it
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(serving.state.availability('m-1'), 'AVAILABLE')
  skew = 21_000
  await waitFor('UNAVAILABLE', () => serving.state.availability('m-1') === 'UNAVAILABLE')
  assert.match(String(serving.state.item('m-1', 'avail')?.attributes.reason), /shown by this replica only/)
  assert.equal(
    (await readAll(log, TOPICS.assets)).filter((r) => /availability TTL/.test(r.value?.toString() ?? '')).length,
    0,
  )
})
