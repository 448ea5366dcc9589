// `ofa up` over TLS and its defaults, as a user runs it (packages/cli/bin/ofa.js, its own process group): given
// certificate files (a test CA's, made with openssl) — REST, a wss subscription and SSE receiving updates, the CA
// pinned; a self-signed pair made once and kept (same fingerprint at the next start); bad files refused with a coded
// error naming the file; listening beyond loopback refused without authentication unless --insecure.
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import https from 'node:https'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import WebSocket from 'ws'
import { createTestPki } from '../../serve/test/helpers/tls.ts'
import { demoCopy, eventually, getJsonTls, ofa, startOfa, tempDir } from './helpers.ts'

/** GET over HTTPS with `ca` pinned: status, headers, JSON body. */
async function demoWithData(t: TestContext): Promise<{ dir: string; data: string }> {
  const dir = await demoCopy(t)
  return { dir, data: join(dir, '..', 'data') }
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  )

test('ofa up --tls-cert/--tls-key: REST, wss and SSE over HTTPS with the CA pinned; the banner says https', {
  timeout: 120_000,
}, async (t) => {
  const pki = await createTestPki(t)
  const { dir, data } = await demoWithData(t)
  const up = startOfa(
    t,
    ['up', dir, '--port', '0', '--data', data, '--tls-cert', pki.certFile, '--tls-key', pki.keyFile],
    {},
  )
  const base = await up.url
  assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/)
  const banner = up.output()
  assert.match(banner, new RegExp(`live {7}wss://127\\.0\\.0\\.1:\\d+/api/ws {3}${base}/api/events`))
  assert.ok(banner.includes(`TLS        certificate ${pki.certFile}`), banner)
  assert.ok(banner.includes(`SHA-256 ${new X509Certificate(pki.cert).fingerprint256}`), banner)
  assert.match(banner, /auth {7}none: on loopback only/)

  // REST: the demo's three assets come AVAILABLE; answers carry HSTS.
  const assets = await eventually(async () => {
    const r = await getJsonTls(`${base}/api/assets`, pki.ca)
    return r.body.items.filter((a: { availability: string }) => a.availability === 'AVAILABLE').length === 3
      ? r
      : undefined
  }, 'three AVAILABLE assets over HTTPS')
  assert.equal(assets.headers['strict-transport-security'], 'max-age=31536000')
  assert.equal(
    assets.headers['content-security-policy'],
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  )

  // A wss subscription gets its snapshot, then an update of the simulated CNC.
  const ws = new WebSocket(`${base.replace('https', 'wss')}/api/ws`, { ca: pki.ca })
  t.after(() => ws.terminate())
  const kinds: string[] = []
  ws.on('message', (m) => kinds.push(JSON.parse(m.toString()).kind))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.send(JSON.stringify({ op: 'subscribe', id: 's1', assets: ['DEMO-CNC-SIM-001'] }))
  await eventually(() => kinds.includes('snapshot') && kinds.includes('update'), 'a wss snapshot, then an update')

  // SSE over HTTPS: the same, as events.
  const events: string[] = []
  const sse = https.get(`${base}/api/events?assets=DEMO-CNC-SIM-001`, { ca: pki.ca, agent: false })
  t.after(() => sse.destroy())
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    sse.once('response', resolve)
    sse.once('error', reject)
  })
  assert.equal(res.statusCode, 200)
  res.setEncoding('utf8')
  res.on('data', (d: string) => {
    for (const m of d.matchAll(/^event: (\w+)$/gm)) events.push(m[1] as string)
  })
  await eventually(() => events.includes('snapshot') && events.includes('update'), 'SSE snapshot, then an update')
  sse.destroy()
  ws.terminate()

  up.child.kill('SIGINT')
  assert.equal(await up.exited, 0, up.output())
})

test('ofa up --tls self-signed: the pair is made once, printed, kept; the next start reuses it (same fingerprint)', {
  timeout: 120_000,
}, async (t) => {
  const { dir, data } = await demoWithData(t)
  const certFile = join(data, 'tls', 'self-signed-cert.pem')
  const keyFile = join(data, 'tls', 'self-signed-key.pem')
  const fingerprints: string[] = []
  for (const made of ['made now', 'kept']) {
    const up = startOfa(t, ['up', dir, '--port', '0', '--data', data, '--tls', 'self-signed'], {})
    const base = await up.url
    const banner = up.output()
    assert.ok(banner.includes(`TLS        self-signed certificate, ${made}: ${certFile}`), banner)
    const fingerprint = /SHA-256 ([0-9A-F:]{95})/.exec(banner)?.[1]
    assert.ok(fingerprint, banner)
    fingerprints.push(fingerprint)
    // What a user pins: the certificate itself. It names 127.0.0.1.
    const pem = await readFile(certFile, 'utf8')
    const cert = new X509Certificate(pem)
    assert.equal(cert.fingerprint256, fingerprint)
    assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/)
    const r = await getJsonTls(`${base}/healthz`, pem)
    assert.ok(r.status === 200 || r.status === 503)
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600)
    up.child.kill('SIGINT')
    assert.equal(await up.exited, 0, up.output())
  }
  assert.equal(fingerprints[0], fingerprints[1])
})

test('bad TLS files: coded errors naming the file, before anything starts; flags that go together', async (t) => {
  const pki = await createTestPki(t)
  const { dir, data } = await demoWithData(t)
  const scratch = await tempDir(t)
  const garbage = join(scratch, 'garbage.pem')
  await writeFile(garbage, 'not a key\n')
  const up = (extra: string[]) => ofa(['up', dir, '--port', '0', '--data', data, ...extra])

  const badKey = await up(['--tls-cert', pki.certFile, '--tls-key', garbage])
  assert.equal(badKey.code, 1)
  assert.match(badKey.stderr, new RegExp(`^${garbage}: OFA_CLI_TLS ${garbage} is not an unencrypted PEM private key`))
  const badCert = await up(['--tls-cert', garbage, '--tls-key', pki.keyFile])
  assert.equal(badCert.code, 1)
  assert.match(badCert.stderr, new RegExp(`^${garbage}: OFA_CLI_TLS ${garbage} is not a PEM certificate`))
  const otherKey = await up(['--tls-cert', pki.certFile, '--tls-key', join(pki.dir, 'ca.key')])
  assert.equal(otherKey.code, 1)
  assert.match(otherKey.stderr, /OFA_CLI_TLS the key in .*ca\.key is not the key of the certificate in .*server\.pem/)
  const missing = await up(['--tls-cert', join(scratch, 'nope.pem'), '--tls-key', pki.keyFile])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /OFA_CLI_TLS cannot read the TLS certificate .*nope\.pem \(ENOENT\)/)
  // Refused before the log was opened: nothing in the data folder.
  assert.equal(await exists(data), false)
  // A kept self-signed pair that cannot be read is not replaced (clients may pin it): the user removes it.
  const kept = join(scratch, 'data', 'tls')
  await mkdir(kept, { recursive: true })
  await writeFile(join(kept, 'self-signed-cert.pem'), 'torn')
  await writeFile(join(kept, 'self-signed-key.pem'), 'torn')
  const torn = await ofa(['up', dir, '--port', '0', '--data', join(scratch, 'data'), '--tls', 'self-signed'])
  assert.equal(torn.code, 1)
  assert.match(
    torn.stderr,
    /OFA_CLI_TLS .*self-signed-cert\.pem is not a PEM certificate.*; remove .* to have a new self-signed pair made/,
  )

  for (const [flags, message] of [
    [['--tls-cert', pki.certFile], /--tls-cert and --tls-key go together/],
    [['--tls', 'yes'], /--tls takes self-signed/],
    [['--tls', 'self-signed', '--tls-key', pki.keyFile], /exclude each other/],
  ] as const) {
    const r = await up([...flags])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, message)
  }
  const workers = await ofa(['run', '--workers', dir, '--tls', 'self-signed'])
  assert.equal(workers.code, 2)
  assert.match(workers.stderr, /listens on no port/)
})

test('beyond loopback without authentication: refused (exit 1) unless --insecure, which runs and warns', {
  timeout: 120_000,
}, async (t) => {
  const { dir, data } = await demoWithData(t)
  const refused = await ofa(['up', dir, '--port', '0', '--data', data, '--host', '0.0.0.0'])
  assert.equal(refused.code, 1)
  assert.match(
    refused.stderr,
    /^OFA_CLI_INSECURE the API would listen on 0\.0\.0\.0, where other machines can reach it, without authentication.*pass --insecure/,
  )
  assert.equal(refused.stdout, '')
  assert.equal(await exists(data), false, 'refused before the log was opened')
  // ofa run's serving app: the same refusal, before it connects to Kafka (none listens at that address).
  const run = await ofa(['run', 'OFA-SERVE', dir, '--backbone', 'kafka', '--bootstrap', '127.0.0.1:9', '--host', '::'])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /^OFA_CLI_INSECURE the API would listen on ::/)

  const up = startOfa(t, ['up', dir, '--port', '0', '--data', data, '--host', '0.0.0.0', '--insecure'], {})
  const base = await up.url
  const port = /:(\d+)$/.exec(base)?.[1]
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/api/assets`)).ok, 'the API answering')
  assert.match(up.output(), /warning: --insecure: the API listens on 0\.0\.0\.0 without authentication/)
  assert.doesNotMatch(up.output(), /auth {7}none: on loopback only/)
  up.child.kill('SIGINT')
  assert.equal(await up.exited, 0, up.output())
})
