// The auth matrix: every route of the app (read from its route table, so a route added later is in it) × every kind
// of caller — no credentials, a malformed or unknown key, a revoked key, viewer, operator, admin, an operator
// outside its UNS subtree, and OIDC tokens from a local issuer (viewer, admin, scoped, expired, another audience,
// forged) — answers as its `access` says; each denial is on the audit trail; lists and live streams
// leave out what a scoped caller may not read; a method call carries the caller in its signature.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { decodeAssetEvent, TOPICS } from '@openfactory/model'
import WebSocket from 'ws'
import {
  type Access,
  createApiKey,
  createServeApp,
  createTokenVerifier,
  openAuditLog,
  openKeyStore,
  readAudit,
  revokeApiKey,
} from '../../src/index.ts'
import { startIssuer } from '../auth/oidc-issuer.ts'
import { inject } from '../helpers/http.ts'
import {
  avail,
  createTestLog,
  createTestServing,
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
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Plant1', 'Machining', 'WC001', 'm-1']))
  await declare(log, sensor('a-1', ['Plant1', 'Assembly', 'WC010', 'a-1']))
  await publish(log, 'm-1', [avail(true), sample('Temp', 21.5, 'Temperature')])
  await publish(log, 'a-1', [avail(true), sample('Temp', 30, 'Temperature')])
  await waitFor('the assets', () => serving.state.item('m-1', 'Temp') && serving.state.item('a-1', 'Temp'))
  const by = 'test'
  const viewer = await createApiKey(log, { name: 'viewer', role: 'viewer', by })
  const operator = await createApiKey(log, { name: 'operator', role: 'operator', by })
  const admin = await createApiKey(log, { name: 'admin', role: 'admin', by })
  const machining = await createApiKey(log, { name: 'mach', role: 'operator', scopes: ['Plant1/Machining/#'], by })
  const revoked = await createApiKey(log, { name: 'gone', role: 'admin', by })
  await revokeApiKey(log, revoked.record.id, by)
  const keys = openKeyStore(log)
  t.after(() => keys.close())
  await keys.ready()
  const audit = openAuditLog(log)
  const idp = await startIssuer(t)
  const tokens = createTokenVerifier({ issuer: idp.issuer, audience: idp.audience })
  t.after(() => tokens.close())
  const app = await createServeApp({
    eventLog: log,
    serving,
    commandTimeoutMs: 500,
    auth: { required: true, keys, tokens, audit },
  })
  t.after(() => app.close())
  const now = Math.floor(Date.now() / 1000)
  return {
    log,
    serving,
    app,
    tokens: {
      viewer: await idp.sign({ ofa_role: 'viewer' }),
      admin: await idp.sign({ ofa_role: 'admin', preferred_username: 'ada' }),
      scoped: await idp.sign({ ofa_role: 'operator', ofa_scopes: ['Plant1/Machining/#'] }),
      expired: await idp.sign({ ofa_role: 'admin', iat: now - 3600, exp: now - 600 }),
      otherAudience: await idp.sign({ ofa_role: 'admin', aud: 'someone-else' }),
      forged: await idp.sign({ ofa_role: 'admin' }, { foreignKey: true }),
    },
    keys: {
      viewer: viewer.key,
      operator: operator.key,
      admin: admin.key,
      machining: machining.key,
      revoked: revoked.key,
    },
  }
}

/** A concrete URL for a route: the Assembly asset for `:uuid`, a harmless value for any other parameter. */
function concrete(url: string): string {
  return url
    .replace(':uuid', 'a-1')
    .replace(':name', 'Reset')
    .replace(':correlationId', 'no-such-command')
    .replace(':id', 'no-such-id')
}

type Caller =
  | 'none'
  | 'malformed'
  | 'unknown'
  | 'revoked'
  | 'viewer'
  | 'operator'
  | 'admin'
  | 'scoped'
  | 'tokenViewer'
  | 'tokenAdmin'
  | 'tokenScoped'
  | 'tokenExpired'
  | 'tokenOtherAudience'
  | 'tokenForged'

const ROLE_OF: Partial<Record<Caller, 'viewer' | 'operator' | 'admin'>> = {
  viewer: 'viewer',
  operator: 'operator',
  admin: 'admin',
  scoped: 'operator',
  tokenViewer: 'viewer',
  tokenAdmin: 'admin',
  tokenScoped: 'operator',
}

/** What a caller gets on a route of an access, on the Assembly asset: allowed, 401 or 403. */
function expected(caller: Caller, access: Access, url: string): 'allowed' | 401 | 403 {
  if (access === 'public') return 'allowed'
  const role = ROLE_OF[caller]
  if (role === undefined) return 401
  const rank = { viewer: 0, operator: 1, admin: 2 }[role]
  const need = { read: 0, command: 1, admin: 2 }[access]
  if (rank < need) return 403
  // The scoped operator: the Assembly asset is outside Plant1/Machining/#; SQL routes read everything.
  const scoped = caller === 'scoped' || caller === 'tokenScoped'
  if (scoped && (url.includes(':uuid') || url.startsWith('/api/tables'))) return 403
  return 'allowed'
}

test('every route × every caller: 401, 403 or through, as its access says; denials audited', async (t) => {
  const { app, log, keys, tokens } = await setup(t)
  const routes = app.routeAccess.filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/api/docs'))
  assert.ok(routes.length >= 15, `the route table: ${routes.length} routes`)
  const header: Record<Caller, string | undefined> = {
    none: undefined,
    malformed: 'Bearer',
    unknown: `Bearer ofa_000000000000_${'A'.repeat(43)}`,
    revoked: `Bearer ${keys.revoked}`,
    viewer: `Bearer ${keys.viewer}`,
    operator: `Bearer ${keys.operator}`,
    admin: `Bearer ${keys.admin}`,
    scoped: `Bearer ${keys.machining}`,
    tokenViewer: `Bearer ${tokens.viewer}`,
    tokenAdmin: `Bearer ${tokens.admin}`,
    tokenScoped: `Bearer ${tokens.scoped}`,
    tokenExpired: `Bearer ${tokens.expired}`,
    tokenOtherAudience: `Bearer ${tokens.otherAudience}`,
    tokenForged: `Bearer ${tokens.forged}`,
  }
  // Over real HTTP: a streaming route (SSE) answers its status and headers, then the body is not awaited.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const failures: string[] = []
  for (const r of routes) {
    for (const caller of Object.keys(header) as Caller[]) {
      const url = concrete(r.url)
      const controller = new AbortController()
      const res = await fetch(`${base}${url}`, {
        method: r.method,
        signal: controller.signal,
        headers: {
          ...(header[caller] ? { authorization: header[caller] as string } : {}),
          ...(r.method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        ...(r.method === 'POST'
          ? { body: url.startsWith('/api/auth/keys') ? '{"name":"x","role":"viewer"}' : '{}' }
          : {}),
      })
      const want = expected(caller, r.access, r.url)
      const got = res.status
      const streaming = (res.headers.get('content-type') ?? '').startsWith('text/event-stream')
      const body = streaming ? '' : await res.text()
      controller.abort()
      const ok = want === 'allowed' ? got !== 401 && got !== 403 : got === want
      if (!ok) failures.push(`${r.method} ${url} as ${caller}: ${got}, expected ${want} (${body.slice(0, 200)})`)
      if (!ok || want === 'allowed') continue
      const code = JSON.parse(body).error.code
      if (
        code !== (want === 401 ? (caller === 'none' ? 'OFA_AUTH_REQUIRED' : 'OFA_AUTH_INVALID') : 'OFA_AUTH_FORBIDDEN')
      ) {
        failures.push(`${r.method} ${url} as ${caller}: code ${code}`)
      }
      if (want === 401 && res.headers.get('www-authenticate') !== 'Bearer')
        failures.push(`${r.method} ${url}: no WWW-Authenticate`)
    }
  }
  assert.deepEqual(failures, [])
  const trail = await readAudit(log)
  const denied = trail.filter((a) => a.kind === 'denied')
  assert.ok(denied.length > 0)
  assert.ok(denied.some((a) => a.who.startsWith('key:') && a.outcome === 'denied: OFA_AUTH_FORBIDDEN'))
  assert.ok(denied.every((a) => a.from !== undefined && a.action.includes(' /')))
  assert.doesNotMatch(JSON.stringify(trail), /ofa_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/, 'no key in the trail')
})

test('a route registered without an access makes the app fail to start', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  assert.ok(app.routeAccess.length > 0)
  await assert.rejects(
    (async () => {
      const { default: Fastify } = await import('fastify')
      const { authentication } = await import('../../src/auth/hook.ts')
      const bare = Fastify()
      await bare.register(authentication, { required: true, state: serving.state })
      bare.get('/api/forgotten', async () => 'x')
      await bare.ready()
    })(),
    /OFA_AUTH_CONFIG|says no access/,
  )
})

test('a scoped operator: lists and live streams leave out what it may not read; its calls are signed and audited', async (t) => {
  const { app, log, keys } = await setup(t)
  const auth = (k: string) => ({ authorization: `Bearer ${k}` })
  const list = await inject(app, { url: '/api/assets', headers: auth(keys.machining) })
  assert.deepEqual(
    list.json().items.map((a: { uuid: string }) => a.uuid),
    ['m-1'],
  )
  const all = await inject(app, { url: '/api/assets', headers: auth(keys.viewer) })
  assert.deepEqual(
    all.json().items.map((a: { uuid: string }) => a.uuid),
    ['a-1', 'm-1'],
  )

  // A live stream: the Assembly asset's updates never reach it.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, { headers: auth(keys.machining) })
  const messages: { kind: string; data: unknown }[] = []
  ws.on('message', (d) => messages.push(JSON.parse(String(d))))
  await new Promise((r, j) => ws.once('open', r).once('error', j))
  ws.send(JSON.stringify({ op: 'subscribe', id: 's', items: ['Temp'] }))
  await waitFor('the snapshot', () => messages.some((m) => m.kind === 'snapshot'))
  await publish(log, 'a-1', [sample('Temp', 31, 'Temperature')])
  await publish(log, 'm-1', [sample('Temp', 22, 'Temperature')])
  await waitFor('the Machining update', () => messages.some((m) => m.kind === 'update'))
  const seen = JSON.stringify(messages)
  assert.match(seen, /"m-1"/)
  assert.doesNotMatch(seen, /"a-1"/)
  ws.close()
  await new Promise((r) => ws.once('close', r))
  // Without credentials the upgrade is refused.
  const anonymous = new WebSocket(`ws://127.0.0.1:${port}/api/ws`)
  const status = await new Promise<number>((r) =>
    anonymous.on('unexpected-response', (req, res) => {
      r(res.statusCode ?? 0)
      req.destroy() // ws leaves a refused upgrade's request open
    }),
  )
  assert.equal(status, 401)

  // A method call in scope: the command on the log is signed with the caller; it is audited with its outcome.
  startResponder(t, log, 'm-1', () => ({ status: 'completed', result: 'ok' }))
  const call = await inject(app, {
    method: 'POST',
    url: '/api/assets/m-1/methods/Reset',
    headers: { ...auth(keys.machining), 'content-type': 'application/json' },
    payload: '{}',
  })
  assert.ok(call.status === 200 || call.status === 202, call.body)
  const commands = (await readAll(log, TOPICS.assets))
    .map((r) => decodeAssetEvent(r.value as Buffer))
    .filter((e) => e.kind === 'command')
  const signed = commands.map((e) => (e.kind === 'command' ? e.envelope.header.signature : null))
  assert.ok(
    signed.some((s) => typeof s === 'string' && s.startsWith('key:')),
    JSON.stringify(signed),
  )
  const trail = await readAudit(log)
  const audited = trail.find((a) => a.kind === 'command' && a.target === 'm-1')
  assert.ok(audited, JSON.stringify(trail))
  assert.equal(audited?.action, 'call Reset')
  assert.match(audited?.who ?? '', /^key:[0-9a-f]{12}$/)
})

test('fuzz: any Authorization header gets 401 in our shape, never a 500, never through', async (t) => {
  const { app } = await setup(t)
  const fc = (await import('fast-check')).default
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ maxLength: 300 }).map((s) => `Bearer ${s}`),
        fc.string({ maxLength: 80 }).map((s) => `Bearer ofa_${s}`),
        fc.stringMatching(/^[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/).map((s) => `Bearer ofa_${s}`),
        fc
          .stringMatching(/^[A-Za-z0-9_-]{1,60}\.[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{0,100}$/)
          .map((s) => `bearer ${s}`),
      ),
      async (header) => {
        // Header values Node would refuse to send are not requests a client can make.
        if (/[^\t\x20-\x7e\x80-\xff]/.test(header)) return
        const res = await app.inject({ url: '/api/assets', headers: { authorization: header } })
        assert.equal(res.statusCode, 401, `${JSON.stringify(header)} → ${res.statusCode} ${res.body}`)
        assert.match(JSON.parse(res.body).error.code, /^OFA_AUTH_(REQUIRED|INVALID)$/)
      },
    ),
    { numRuns: 400 },
  )
})
