// The defaults a browser and a busy client meet: security headers on every answer (API, errors, streams, the docs
// pages, whose assets load under their policy), CORS off unless origins are listed, rate limits on writes per caller.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import type { FastifyRequest } from 'fastify'
import { callerOf } from '../../src/http/rate-limits.ts'
import { API_CSP, DOCS_CSP } from '../../src/http/security-headers.ts'
import { createServeApp, type ServeAppOptions } from '../../src/index.ts'
import { createFakeSql } from '../helpers/fake-sql.ts'
import { inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, declare, sensor, waitFor } from '../helpers/log.ts'

async function start(t: TestContext, opts: Partial<ServeAppOptions> = {}) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await waitFor('m-1', () => serving.state.item('m-1', 'system'))
  const app = await createServeApp({ eventLog: log, serving, ...opts })
  t.after(() => app.close())
  return app
}

async function listen(app: Awaited<ReturnType<typeof start>>): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

type Headers = Record<string, string | string[] | number | undefined>

function assertSecurityHeaders(headers: Headers, csp: string, what: string): void {
  assert.equal(headers['x-content-type-options'], 'nosniff', what)
  assert.equal(headers['referrer-policy'], 'no-referrer', what)
  assert.equal(headers['x-frame-options'], 'DENY', what)
  assert.equal(headers['content-security-policy'], csp, what)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.equal(headers['strict-transport-security'], undefined, `${what}: no HSTS over plain HTTP`)
}

function noCorsHeaders(headers: Headers, what: string): void {
  const cors = Object.keys(headers).filter((h) => h.startsWith('access-control-'))
  assert.deepEqual(cors, [], what)
}

/** The first SSE head of `url` (the stream is then dropped). */
async function sseHead(url: string, headers: Record<string, string> = {}): Promise<Headers> {
  const controller = new AbortController()
  try {
    const r = await fetch(url, { headers, signal: controller.signal })
    assert.equal(r.status, 200)
    return Object.fromEntries(r.headers)
  } finally {
    controller.abort()
  }
}

const METHOD_CALL = '/api/assets/m-1/methods/SetSetpoint?timeout_ms=0'
const call = (extra: { remoteAddress?: string; headers?: Record<string, string> } = {}) => ({
  method: 'POST' as const,
  url: METHOD_CALL,
  headers: { 'content-type': 'application/json', ...extra.headers },
  payload: '{"value": 20}',
  ...(extra.remoteAddress ? { remoteAddress: extra.remoteAddress } : {}),
})

test('security headers on API answers, errors of every kind, SSE; Swagger UI gets its own policy', async (t) => {
  const app = await start(t)
  const base = await listen(app)
  const api: [string, Headers][] = [
    ['GET /api/assets', (await inject(app, '/api/assets')).headers],
    ['a 404', (await inject(app, '/api/nothing-here')).headers],
    ['a URL the router cannot decode', (await inject(app, '/api/assets/%FF')).headers],
    [
      'a Host refused by the guards',
      (await inject(app, { url: '/api/assets', headers: { host: 'evil.example' } })).headers,
    ],
    ['a method call', (await inject(app, call())).headers],
    ['/healthz', (await inject(app, '/healthz')).headers],
    ['/metrics', (await inject(app, '/metrics')).headers],
    ['the OpenAPI document', (await inject(app, '/api/openapi.json')).headers],
    ['SSE (a stream that writes its own head)', await sseHead(`${base}/api/events?assets=m-1`)],
  ]
  for (const [what, headers] of api) assertSecurityHeaders(headers, API_CSP, what)
  for (const path of ['/api/docs', '/api/docs/', '/api/docs/static/swagger-ui.css', '/api/docs/json']) {
    assertSecurityHeaders((await app.inject(path)).headers, DOCS_CSP, path)
  }
})

test('Swagger UI loads under its policy: no inline script, every asset is this server’s and answers', async (t) => {
  const app = await start(t)
  const base = await listen(app)
  const pageUrl = `${base}/api/docs/`
  const page = await fetch(pageUrl)
  assert.equal(page.status, 200)
  assert.equal(page.headers.get('content-security-policy'), DOCS_CSP)
  const html = await page.text()
  // `script-src 'self'`: every script is a file; none is inline, no handler attribute (`script-src-attr`).
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
  assert.ok(scripts.length >= 3)
  for (const [, attrs, body] of scripts) {
    assert.match(attrs as string, /\bsrc="[^"]+"/)
    assert.equal((body as string).trim(), '')
  }
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i)
  const refs = [
    ...[...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => ({ ref: m[1] as string, kind: 'script' })),
    ...[...html.matchAll(/<link\b[^>]*\bhref="([^"]+)"/g)].map((m) => ({ ref: m[1] as string, kind: 'link' })),
  ]
  // The document the UI fetches (`connect-src 'self'`): `./json`, resolved against the page.
  refs.push({ ref: './json', kind: 'connect' })
  for (const { ref, kind } of refs) {
    const url = new URL(ref, pageUrl)
    assert.equal(url.origin, base, `${kind} ${ref} is this server's ('self')`)
    const r = await fetch(url)
    assert.equal(r.status, 200, `${kind} ${url.pathname}`)
    const type = r.headers.get('content-type') ?? ''
    if (kind === 'script') assert.match(type, /javascript/, url.pathname)
    if (ref.endsWith('.css')) {
      assert.match(type, /text\/css/, url.pathname)
      // Images in the styles are inline data or this server's (`img-src 'self' data:`).
      for (const [, u] of (await r.text()).matchAll(/url\(\s*["']?([^"')]+)/g)) {
        assert.ok(/^data:/.test(u as string) || new URL(u as string, url).origin === base, `${url.pathname}: ${u}`)
      }
    } else await r.arrayBuffer()
  }
  // The initializer builds the UI from the bundle, without evaluating text (no `'unsafe-eval'`).
  const init = await (await fetch(new URL('./static/swagger-initializer.js', pageUrl))).text()
  assert.doesNotMatch(init, /\beval\(|new Function\(/)
})

test('CORS off by default: no Access-Control header ever, preflights refused with a coded 403', async (t) => {
  const app = await start(t, { sql: createFakeSql() })
  const base = await listen(app)
  for (const origin of ['https://dashboard.example.com', 'http://localhost:3000', `${base}`]) {
    noCorsHeaders((await inject(app, { url: '/api/assets', headers: { origin } })).headers, `GET from ${origin}`)
    const preflight = await inject(app, {
      method: 'OPTIONS',
      url: METHOD_CALL,
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    })
    assert.equal(preflight.status, 403, origin)
    assert.equal(preflight.json().error.code, 'OFA_SERVE_ORIGIN_NOT_ALLOWED')
    assert.match(preflight.json().error.message, /cross-origin requests are off/)
    noCorsHeaders(preflight.headers, `preflight from ${origin}`)
  }
  // Loopback pages may still send (request-guards.ts), and read nothing cross-origin.
  const local = await inject(app, call({ headers: { origin: 'http://localhost:3000' } }))
  assert.equal(local.status, 202)
  noCorsHeaders(local.headers, 'a method call from a loopback page')
  noCorsHeaders(await sseHead(`${base}/api/events?assets=m-1`, { origin: 'http://localhost:3000' }), 'SSE')
  noCorsHeaders((await inject(app, '/info')).headers, 'ksqlDB /info')
})

test('CORS with allowed origins: preflight answered, answers readable by listed origins only', async (t) => {
  const listed = 'https://dashboard.example.com'
  const app = await start(t, { allowedOrigins: [listed] })
  const base = await listen(app)

  const preflight = await app.inject({
    method: 'OPTIONS',
    url: METHOD_CALL,
    headers: {
      origin: listed,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  })
  assert.equal(preflight.statusCode, 204)
  assert.equal(preflight.body, '')
  assert.equal(preflight.headers['access-control-allow-origin'], listed)
  assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD, POST')
  assert.match(String(preflight.headers['access-control-allow-headers']), /Content-Type/)
  assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/)
  assert.equal(preflight.headers['access-control-max-age'], '600')
  assert.equal(preflight.headers['access-control-allow-credentials'], undefined)
  assert.equal(preflight.headers.vary, 'Origin')

  const sent = await inject(app, call({ headers: { origin: listed } }))
  assert.equal(sent.status, 202)
  assert.equal(sent.headers['access-control-allow-origin'], listed)
  assert.match(String(sent.headers['access-control-expose-headers']), /Retry-After/)
  assert.equal(sent.headers.vary, 'Origin')
  // Refusals are readable too: the page learns why.
  const refused = await inject(app, { ...call({ headers: { origin: listed } }), headers: { origin: listed } })
  assert.equal(refused.status, 415)
  assert.equal(refused.headers['access-control-allow-origin'], listed)
  const stream = await sseHead(`${base}/api/events?assets=m-1`, { origin: listed })
  assert.equal(stream['access-control-allow-origin'], listed)

  const other = 'https://other.example.com'
  const otherPreflight = await inject(app, {
    method: 'OPTIONS',
    url: METHOD_CALL,
    headers: { origin: other, 'access-control-request-method': 'POST' },
  })
  assert.equal(otherPreflight.status, 403)
  assert.match(otherPreflight.json().error.message, /not one of the allowed origins/)
  noCorsHeaders(otherPreflight.headers, 'preflight from another origin')
  const read = await inject(app, { url: '/api/assets', headers: { origin: other } })
  noCorsHeaders(read.headers, 'GET from another origin')
  assert.equal(read.headers.vary, 'Origin')

  const any = await start(t, { allowedOrigins: ['*'] })
  const anyRead = await inject(any, { url: '/api/assets', headers: { origin: other } })
  assert.equal(anyRead.headers['access-control-allow-origin'], '*')
})

test('rate limit: the (max+1)th write of a caller in the window is a 429 with Retry-After; reads are not limited', async (t) => {
  const app = await start(t, { sql: createFakeSql(), rateLimit: { max: 3, windowMs: 60_000 } })
  for (let i = 0; i < 3; i++) {
    const r = await inject(app, call())
    assert.equal(r.status, 202, r.body)
    assert.equal(r.headers['x-ratelimit-limit'], '3')
    assert.equal(r.headers['x-ratelimit-remaining'], String(2 - i))
  }
  const limited = await inject(app, call())
  assert.equal(limited.status, 429)
  const err = limited.json().error
  assert.equal(err.code, 'OFA_SERVE_RATE_LIMITED')
  assert.match(err.message, /more than 3 writes and method calls in 60 s/)
  const retryAfter = Number(limited.headers['retry-after'])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(retryAfter))
  // The ksqlDB-compatible writes count against the same caller.
  const ksql = await inject(app, {
    method: 'POST',
    url: '/ksql',
    headers: { 'content-type': 'application/json' },
    payload: '{"ksql": "SHOW STREAMS;"}',
  })
  // In ksqlDB's shape there, as ksqlDB answers its own rate limits (and as the document says).
  assert.equal(ksql.status, 429)
  assert.ok(Number(ksql.headers['retry-after']) >= 1)
  assert.equal(ksql.json().error_code, 42900)
  assert.match(ksql.json().message, /^OFA_SERVE_RATE_LIMITED: more than 3 writes/)
  const stream = await inject(app, {
    method: 'POST',
    url: '/query-stream',
    headers: { 'content-type': 'application/json' },
    payload: '{"sql": "SELECT * FROM machines;"}',
  })
  assert.equal(stream.status, 429)
  assert.equal(stream.json().error_code, 42900)
  // Reads go on, as many as asked.
  for (let i = 0; i < 20; i++) {
    const r = await inject(app, '/api/assets/m-1')
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-ratelimit-limit'], undefined)
  }
  assert.equal((await app.inject('/info')).statusCode, 200)
  // Another caller has its own count.
  assert.equal((await inject(app, call({ remoteAddress: '127.0.0.2' }))).status, 202)
})

test('rate limit: a new window after windowMs; at most maxCallers counters, the least recently seen forgotten', async (t) => {
  const app = await start(t, { rateLimit: { max: 2, windowMs: 400, maxCallers: 2 } })
  const status = async (remoteAddress: string) => (await inject(app, call({ remoteAddress }))).status
  assert.deepEqual([await status('10.0.0.1'), await status('10.0.0.1'), await status('10.0.0.1')], [202, 202, 429])
  await new Promise((r) => setTimeout(r, 450))
  assert.deepEqual([await status('10.0.0.1'), await status('10.0.0.1'), await status('10.0.0.1')], [202, 202, 429])
  // Two more callers: the first, seen least recently, is forgotten, and starts a new window.
  assert.equal(await status('10.0.0.2'), 202)
  assert.equal(await status('10.0.0.3'), 202)
  assert.equal(await status('10.0.0.1'), 202)
  // IPv6 callers count by their /64.
  assert.deepEqual(
    [await status('2001:db8::1'), await status('2001:db8::2'), await status('2001:db8::3')],
    [202, 202, 429],
  )
})

test('rate limit: the caller is the authenticated principal, else the address; options are checked', async (t) => {
  const req = (principal: FastifyRequest['principal'], ip: string) => ({ principal, ip }) as FastifyRequest
  assert.equal(callerOf(req({ id: 'key:k1', kind: 'key', role: 'operator', scopes: [] }, '10.0.0.1')), 'key:k1')
  assert.equal(callerOf(req({ id: 'open', kind: 'open', role: 'admin', scopes: [] }, '10.0.0.1')), 'ip:10.0.0.1')
  assert.equal(callerOf(req(undefined, '::ffff:10.0.0.1')), 'ip:10.0.0.1')
  for (const rateLimit of [{ max: 0 }, { windowMs: 1.5 }, { maxCallers: -1 }]) {
    await assert.rejects(start(t, { rateLimit }), (err) => isOpenFactoryError(err, 'OFA_CONFIG_VALUE'))
  }
  // Off: no limit, no headers.
  const off = await start(t, { rateLimit: false })
  for (let i = 0; i < 5; i++) {
    const r = await inject(off, call())
    assert.equal(r.status, 202)
    assert.equal(r.headers['x-ratelimit-limit'], undefined)
  }
})
