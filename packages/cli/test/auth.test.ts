// The README's secured setup, from the command line: factory.yaml `auth:`, a key per role made with `ofa auth key
// create` before `ofa up`, then `ofa up` (a real process): no key 401, a viewer reads, a viewer's command 403, an
// operator scoped to Machining commands the machine there and not the one in Quality; `ofa audit` shows the denials,
// the command with its caller and the key creations; a revoked key stops working.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { demoCopy, eventually, getJson, ofa, startOfa } from './helpers.ts'

test('ofa auth key create, ofa up with auth:, a command without the right role refused and audited', {
  timeout: 180_000,
}, async (t) => {
  const dir = await demoCopy(t)
  const data = join(dir, '..', 'data')
  const manifest = join(dir, 'factory.yaml')
  await writeFile(manifest, `${await readFile(manifest, 'utf8')}\nauth:\n  keys: true\n`)
  const key = async (...args: string[]) => {
    const r = await ofa(['auth', 'key', 'create', dir, '--data', data, '--json', ...args])
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as { key: string; id: string }
  }
  const admin = await key('--role', 'admin', '--name', 'first admin')
  const viewer = await key('--role', 'viewer')
  const machining = await key('--role', 'operator', '--scope', 'Demofactory/Machining/#')
  const refused = await ofa(['auth', 'key', 'create', dir, '--data', data, '--role', 'root'])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /OFA_AUTH_CONFIG role must be one of viewer, operator, admin/)
  const badScope = await ofa(['auth', 'key', 'create', dir, '--data', data, '--role', 'viewer', '--scope', 'a/#/b'])
  assert.match(badScope.stderr, /OFA_AUTH_CONFIG/)
  const ls = await ofa(['auth', 'key', 'ls', dir, '--data', data])
  assert.equal(ls.code, 0, ls.stderr)
  assert.equal(ls.stdout.trim().split('\n').length, 3)
  assert.doesNotMatch(ls.stdout, /ofa_[0-9a-f]{12}_/, 'no key in the list')

  const up = startOfa(t, ['up', dir, '--port', '0', '--data', data], {})
  const api = `${await up.url}/api`
  const call = (k: string | undefined, uuid: string) =>
    fetch(`${api}/assets/${uuid}/methods/SetSpeed?timeout_ms=100`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(k ? { authorization: `Bearer ${k}` } : {}) },
      body: '{"rpm": 1200}',
    })
  assert.equal((await fetch(`${api}/assets`)).status, 401)
  const assets = await eventually(
    async () => {
      const r = await fetch(`${api}/assets`, { headers: { authorization: `Bearer ${viewer.key}` } })
      const items = ((await r.json()) as { items: { uuid: string }[] }).items
      return items.some((a) => a.uuid === 'DEMO-CNC-SIM-001') ? items : undefined
    },
    'the demo assets for the viewer',
    60_000,
  )
  assert.ok(assets.length >= 3)
  assert.equal((await call(viewer.key, 'DEMO-CNC-SIM-001')).status, 403, 'a viewer may not command')
  // The scoped operator sees Machining only; a command to the machine in Quality is refused.
  const scopedList = await getJson(`${api}/assets`, { authorization: `Bearer ${machining.key}` })
  assert.ok(
    scopedList.items.every((a: { uns?: { unsId: string } }) => a.uns?.unsId.startsWith('Demofactory/Machining/')),
  )
  assert.equal((await call(machining.key, 'DEMO-DHT-001')).status, 403)
  const ok = await call(machining.key, 'DEMO-CNC-SIM-001')
  assert.ok(ok.status === 200 || ok.status === 202, String(ok.status))
  const me = await getJson(`${api}/auth/me`, { authorization: `Bearer ${machining.key}` })
  assert.deepEqual([me.role, me.scopes], ['operator', ['Demofactory/Machining/#']])
  // Revoked through the API by the admin: the key stops working.
  const revoke = await fetch(`${api}/auth/keys/${viewer.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${admin.key}` },
  })
  assert.equal(revoke.status, 200, await revoke.text())
  await eventually(
    async () =>
      (await fetch(`${api}/assets`, { headers: { authorization: `Bearer ${viewer.key}` } })).status === 401
        ? true
        : undefined,
    'the revoked key refused',
    10_000,
  )
  up.child.kill('SIGTERM')
  await up.exited

  const audit = await ofa(['audit', dir, '--data', data, '--json'])
  assert.equal(audit.code, 0, audit.stderr)
  const trail = JSON.parse(audit.stdout).items as {
    kind: string
    who: string
    action: string
    target?: string
    outcome: string
  }[]
  assert.ok(trail.filter((a) => a.kind === 'key' && a.action === 'create key').length >= 3)
  assert.ok(trail.some((a) => a.kind === 'key' && a.action === 'revoke key' && a.target === viewer.id))
  assert.ok(
    trail.some(
      (a) => a.kind === 'denied' && a.who === `key:${viewer.id}` && a.outcome === 'denied: OFA_AUTH_FORBIDDEN',
    ),
  )
  assert.ok(
    trail.some((a) => a.kind === 'denied' && a.who === 'anonymous' && a.outcome === 'denied: OFA_AUTH_REQUIRED'),
  )
  assert.ok(
    trail.some((a) => a.kind === 'command' && a.who === `key:${machining.id}` && a.target === 'DEMO-CNC-SIM-001'),
  )
  const text = await ofa(['audit', dir, '--data', data])
  assert.match(text.stdout, /command +key:[0-9a-f]{12} +call SetSpeed DEMO-CNC-SIM-001/)
})
