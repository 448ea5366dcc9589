// The dashboard's files at `/` (static-files.ts), over a folder laid out as the dashboard's build is: index.html
// under its own policy, hashed files kept a year, client-side routes answered with index.html for browsers only, the
// API's 404s unchanged, nothing outside the folder, and a coded 503 saying how to build it while the folder is empty.
import assert from 'node:assert/strict'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { API_CSP } from '../../src/http/security-headers.ts'
import { dashboardCsp } from '../../src/http/static-files.ts'
import { createServeApp, type ServeAppOptions } from '../../src/index.ts'
import { inject } from '../helpers/http.ts'
import { createTestLog, createTestServing, tempDir } from '../helpers/log.ts'

const INDEX = '<!doctype html><html><head><script type="module" src="/static/index-AbC123.js"></script></head></html>\n'
const SCRIPT = 'console.log("dashboard")\n'
const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }

async function dist(t: TestContext, built = true): Promise<string> {
  const dir = join(await tempDir(t), 'dist')
  await mkdir(join(dir, 'static'), { recursive: true })
  if (built) {
    await writeFile(join(dir, 'index.html'), INDEX)
    await writeFile(join(dir, 'static', 'index-AbC123.js'), SCRIPT)
    await writeFile(join(dir, 'static', 'index-DeF456.css'), 'body{margin:0}\n')
    await writeFile(join(dir, 'static', 'favicon-GhI789.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    await writeFile(join(dir, '.secret'), 'not served\n')
  }
  return dir
}

async function start(t: TestContext, dashboardDir: string, opts: Partial<ServeAppOptions> = {}) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving, dashboardDir, ...opts })
  t.after(() => app.close())
  return app
}

function commonHeaders(headers: Record<string, unknown>, what: string): void {
  assert.equal(headers['x-content-type-options'], 'nosniff', what)
  assert.equal(headers['referrer-policy'], 'no-referrer', what)
  assert.equal(headers['x-frame-options'], 'DENY', what)
}

test('/ answers index.html under the dashboard policy, revalidated on every load', async (t) => {
  const app = await start(t, await dist(t))
  const r = await app.inject({ url: '/', headers: { host: 'localhost:8080' } })
  assert.equal(r.statusCode, 200)
  assert.equal(r.body, INDEX)
  assert.match(String(r.headers['content-type']), /^text\/html/)
  assert.equal(r.headers['cache-control'], 'no-cache')
  assert.ok(r.headers.etag, 'an ETag for conditional loads')
  commonHeaders(r.headers, '/')
  const csp = String(r.headers['content-security-policy'])
  assert.equal(csp, dashboardCsp('localhost:8080'))
  assert.match(csp, /script-src 'self'(;|$)/, 'scripts from this server only: no inline script, no eval')
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/)
  assert.match(csp, /connect-src 'self' ws:\/\/localhost:8080 wss:\/\/localhost:8080;/)
  assert.match(csp, /frame-ancestors 'none'/)

  const again = await app.inject({ url: '/', headers: { 'if-none-match': String(r.headers.etag) } })
  assert.equal(again.statusCode, 304)
  const head = await app.inject({ method: 'HEAD', url: '/' })
  assert.equal(head.statusCode, 200)
  assert.equal(head.body, '')
})

test('hashed files are sent with their type and kept a year; other answers keep the API policy', async (t) => {
  const app = await start(t, await dist(t))
  const types: Record<string, RegExp> = {
    '/static/index-AbC123.js': /^(text|application)\/javascript/,
    '/static/index-DeF456.css': /^text\/css/,
    '/static/favicon-GhI789.svg': /^image\/svg\+xml/,
  }
  for (const [url, type] of Object.entries(types)) {
    const r = await app.inject(url)
    assert.equal(r.statusCode, 200, url)
    assert.match(String(r.headers['content-type']), type, url)
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', url)
    assert.equal(r.headers['content-security-policy'], API_CSP, url)
    commonHeaders(r.headers, url)
  }
  assert.equal((await app.inject('/static/index-AbC123.js')).body, SCRIPT)
})

test('a browser navigating to a page of the app gets index.html; API clients get the 404 they got before', async (t) => {
  const app = await start(t, await dist(t))
  for (const url of ['/asset/DEMO-CNC-SIM-001', '/trends?asset=a&items=b,c&range=1h', '/events', '/sql', '/ksql']) {
    const r = await app.inject({ url, headers: HTML })
    assert.equal(r.statusCode, 200, url)
    assert.equal(r.body, INDEX, url)
    assert.match(String(r.headers['content-security-policy']), /^default-src 'none'; script-src 'self'/, url)
  }
  // Not a navigation (curl's Accept), the API, a file name, a file that is not there, a dot file, a folder: 404.
  const notFound: [string, Record<string, string>][] = [
    ['/asset/DEMO-CNC-SIM-001', {}],
    ['/asset/DEMO-CNC-SIM-001', { accept: 'application/json' }],
    ['/api/nothing-here', HTML],
    ['/api', HTML],
    ['/ksql', {}],
    ['/robots.txt', HTML],
    ['/static/index-Gone99.js', HTML],
    ['/static/index-Gone99.js', {}],
    ['/.secret', HTML],
    ['/static', {}],
    ['/static/', {}],
  ]
  for (const [url, headers] of notFound) {
    const r = await inject(app, { url, headers })
    assert.equal(r.status, 404, `${url} ${JSON.stringify(headers)}`)
    assert.equal(r.json().error.code, 'OFA_SERVE_ROUTE_NOT_FOUND', url)
    assert.equal(r.headers['content-security-policy'], API_CSP, url)
  }
  // The routes of the API still answer as before.
  assert.equal((await inject(app, { url: '/healthz', headers: HTML })).status, 200)
  assert.equal((await inject(app, { url: '/api/assets', headers: HTML })).json().items.length, 0)
})

test('nothing outside the folder is sent, however the path is written', async (t) => {
  const root = await dist(t)
  await writeFile(join(root, '..', 'outside.txt'), 'secret\n')
  const app = await start(t, root)
  for (const url of [
    '/../outside.txt',
    '/static/../../outside.txt',
    '/%2e%2e/outside.txt',
    '/static/%2e%2e/%2e%2e/outside.txt',
    '/static/..%2f..%2foutside.txt',
    '/%2e%2e%2foutside.txt',
  ]) {
    const r = await app.inject({ url, headers: HTML })
    assert.ok(r.statusCode === 404 || r.statusCode === 403 || r.statusCode === 400, `${url}: ${r.statusCode}`)
    assert.doesNotMatch(r.body, /secret/, url)
  }
})

test('without a build, the pages answer 503 OFA_SERVE_DASHBOARD_NOT_BUILT saying how to build it, until it is there', async (t) => {
  const root = await dist(t, false)
  const app = await start(t, root)
  for (const [url, headers] of [
    ['/', {}],
    ['/asset/x', HTML],
    ['/static/index-AbC123.js', {}],
  ] as const) {
    const r = await inject(app, { url, headers })
    assert.equal(r.status, 503, url)
    const error = r.json().error
    assert.equal(error.code, 'OFA_SERVE_DASHBOARD_NOT_BUILT', url)
    assert.match(error.message, /npm ci/)
    assert.match(error.message, /npm run build -w @openfactory\/dashboard/)
    assert.ok(error.message.includes(root), 'the message names the folder')
  }
  // The API is unaffected, and /api paths stay 404s.
  assert.equal((await inject(app, { url: '/api/nothing', headers: HTML })).status, 404)
  // Built while the server runs: served at the next request.
  await writeFile(join(root, 'index.html'), INDEX)
  const r = await app.inject('/')
  assert.equal(r.statusCode, 200)
  assert.equal(r.body, INDEX)
  await rm(join(root, 'index.html'))
})

test('the files are public under authentication; the data is not', async (t) => {
  const app = await start(t, await dist(t), { auth: { required: true } })
  assert.equal((await app.inject('/')).statusCode, 200)
  assert.equal((await app.inject({ url: '/asset/x', headers: HTML })).statusCode, 200)
  assert.equal((await app.inject('/static/index-AbC123.js')).statusCode, 200)
  const data = await app.inject({ url: '/api/assets', headers: HTML })
  assert.equal(data.statusCode, 401)
  assert.equal(data.json().error.code, 'OFA_AUTH_REQUIRED')
  const route = app.routeAccess.filter((r) => r.url === '/' || r.url === '/*')
  assert.deepEqual(route.map((r) => `${r.method} ${r.url} ${r.access}`).sort(), [
    'GET / public',
    'GET /* public',
    'HEAD / public',
    'HEAD /* public',
  ])
})

test('the policy names the WebSocket of a plain Host only', () => {
  assert.match(dashboardCsp('127.0.0.1:8080'), /connect-src 'self' ws:\/\/127\.0\.0\.1:8080 wss:\/\/127\.0\.0\.1:8080;/)
  assert.match(dashboardCsp('[::1]:8080'), /connect-src 'self' ws:\/\/\[::1\]:8080 wss:\/\/\[::1\]:8080;/)
  assert.match(dashboardCsp('factory.example.com'), /ws:\/\/factory\.example\.com /)
  for (const host of [undefined, '', 'evil.example; script-src *', 'a b', 'x:99999999', "x'"]) {
    assert.match(dashboardCsp(host), /connect-src 'self'; /, String(host))
  }
})

test('without dashboardDir there is no dashboard: / is the 404 it was', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  const r = await inject(app, { url: '/', headers: HTML })
  assert.equal(r.status, 404)
  assert.equal(r.json().error.code, 'OFA_SERVE_ROUTE_NOT_FOUND')
})
