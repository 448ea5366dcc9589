// Fuzzing the HTTP inputs (fast-check): paths, query strings, headers, JSON and non-JSON bodies, WebSocket
// messages. Every answer must be what the OpenAPI document promises for its route and status, or our error shape
// (test/helpers/http.ts checks each), and never a 500; the server keeps answering.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { WebSocket } from 'ws'
import { createServeApp } from '../../src/index.ts'
import { inject, responseChecker } from '../helpers/http.ts'
import { avail, createTestLog, createTestServing, declare, publish, sample, sensor, waitFor } from '../helpers/log.ts'

async function setup(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await declare(log, {
    ...sensor('cnc-1', ['Demofactory', 'Machining', 'WC002', 'cnc-1']),
    methods: [{ name: 'SetSpeed', description: 'Spindle speed', arguments: [{ name: 'rpm', description: 'untyped' }] }],
  })
  await publish(log, 'm-1', [avail(true), sample('Temp', 21.5)])
  await waitFor('the assets', () => serving.state.item('m-1', 'Temp') && serving.state.item('cnc-1', 'system'))
  // Method calls wait at most 5 ms for a result: a fuzzed call never holds the run up.
  const app = await createServeApp({ eventLog: log, serving, commandTimeoutMs: 0, maxCommandTimeoutMs: 5 })
  t.after(() => app.close())
  return { app }
}

const SEGMENTS = [
  'api',
  'assets',
  'm-1',
  'cnc-1',
  'history',
  'methods',
  'SetSetpoint',
  'SetSpeed',
  'Reset',
  'commands',
  'healthz',
  'metrics',
  'ws',
  'openapi.json',
  'docs',
  '',
  '..',
  '.',
  '%00',
  '%FF',
  '%C0%AF',
  '%2F',
  '%E2%80%AE',
]

/** A path segment: a known one, printable text, or arbitrary bytes percent-encoded. */
const segment = fc.oneof(
  fc.constantFrom(...SEGMENTS),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => encodeURIComponent(s)),
  fc.uint8Array({ maxLength: 6 }).map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')),
)

const path = fc
  .array(segment, { minLength: 1, maxLength: 6 })
  .map((segs) => `/${segs.join('/')}`)
  // A valid SSE request streams for ever; the live routes are fuzzed below over a real socket.
  .filter((p) => !/^\/api\/events(\/|$|\?)/.test(p))

const QUERY_KEYS = ['limit', 'cursor', 'type', 'availability', 'uns', 'id', 'from', 'to', 'timeout_ms', 'assets', 'x']
const queryValue = fc.oneof(
  fc.constantFrom('0', '1', '-1', '1e999', 'NaN', 'AVAILABLE', '#', 'a/#/b', '+', 'Temp,Hum', '%FF', '%00', ''),
  fc.integer().map(String),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 10 }).map((s) => encodeURIComponent(s)),
)
const query = fc
  .array(
    fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 }).map(encodeURIComponent)), queryValue),
    {
      maxLength: 4,
    },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`))

const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc
    .dictionary(fc.constantFrom('value', 'rpm', '__proto__', 'constructor', 'x'), fc.jsonValue({ maxDepth: 3 }))
    .map((v) => JSON.stringify(v)),
  fc.constantFrom('{"rpm": 1e999}', '{"value": -1e400}', '{"__proto__": {"a": 1}}', '{', '[]', 'null', '""', ' '),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.string({ unit: 'binary', maxLength: 40 }),
)

const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/jsonx',
  '',
  '\u00ff/\u00fe',
)

const request = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path,
  query,
  body,
  contentType,
  host: fc.constantFrom(undefined, 'localhost', 'evil.example', '127.0.0.1:8080', '[::1]', '', 'a b'),
  origin: fc.constantFrom(undefined, 'http://evil.example', 'null', 'http://localhost:3000', 'garbage'),
})

test('fuzz: every HTTP answer is what the document promises or our error shape, never a 500', {
  timeout: 120_000,
}, async (t) => {
  const { app } = await setup(t)
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const headers: Record<string, string> = {}
      if (r.contentType !== undefined) headers['content-type'] = r.contentType
      if (r.host !== undefined) headers.host = r.host
      if (r.origin !== undefined) headers.origin = r.origin
      const opts: InjectOptions = {
        method: r.method as InjectOptions['method'],
        url: `${r.path}${r.query}`,
        headers,
        ...(r.body !== undefined && r.method !== 'GET' ? { payload: r.body } : {}),
      }
      const res = await inject(app, opts) // checks the body against the route's schema, or our error shape
      assert.ok(res.status < 500 || res.status === 503, `${r.method} ${opts.url} → ${res.status} ${res.body}`)
      if (res.status >= 400) {
        const { message } = res.json().error
        assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\ufffd]/, message)
      }
    }),
    { numRuns: 1500 },
  )
  assert.equal((await inject(app, '/healthz')).status, 200)
})

const wsMessage = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        op: fc.constantFrom('subscribe', 'unsubscribe', 'SUBSCRIBE', 'x'),
        id: fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.integer(),
          fc.constant(null),
          fc.string({ minLength: 199, maxLength: 202 }),
        ),
        assets: fc.oneof(
          fc.array(fc.constantFrom('m-1', 'cnc-1', '', 'ghost'), { maxLength: 3 }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        items: fc.oneof(
          fc.array(fc.constantFrom('Temp', 'avail', ''), { maxLength: 3 }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        uns: fc.oneof(
          fc.constantFrom('Demofactory/#', '#', '+/+', 'a/#/b', '', '/'),
          fc.string({ maxLength: 10 }),
          fc.integer(),
        ),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: ['op'] },
    )
    .map((m) => JSON.stringify(m)),
)

test('fuzz: every WebSocket message is answered with a LiveMessage and the socket stays open', {
  timeout: 120_000,
}, async (t) => {
  const { app } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  const checker = await responseChecker(app)
  const socket = new WebSocket(`ws://127.0.0.1:${address.port}/api/ws`)
  t.after(() => socket.terminate())
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  let received = 0
  let closed = false
  socket.on('message', (d) => {
    checker.checkLive(JSON.parse(d.toString()))
    received++
  })
  socket.on('close', () => {
    closed = true
  })
  await fc.assert(
    fc.asyncProperty(fc.array(wsMessage, { minLength: 1, maxLength: 5 }), fc.boolean(), async (messages, binary) => {
      for (const m of messages) socket.send(binary ? Buffer.from(m) : m, { binary })
      // A ping round trip: everything sent before it has been handled.
      await new Promise<void>((resolve) => {
        socket.once('pong', () => resolve())
        socket.ping()
      })
      assert.equal(closed, false)
    }),
    { numRuns: 300 },
  )
  assert.ok(received > 0)
  // Still serving: a valid subscription gets its snapshot.
  const before = received
  socket.send(JSON.stringify({ op: 'subscribe', id: 'final-check-id', assets: ['m-1'] }))
  await waitFor('the snapshot', () => received > before)
})
