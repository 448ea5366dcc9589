// `ofa up` with the integrations' built-in apps: a simulated machine, a webhooks app posting its observations to a
// local receiver (node:http), the delivery status as items of the app's asset in the API and on /metrics.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { verifySignature } from '@openfactory/integrations'
import { silentLogger } from '@openfactory/model'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { eventually, getJson, tempDir } from './helpers.ts'

test('ofa up: a webhooks app delivers the simulator observations it selects, signed; its status is in the API and /metrics', {
  timeout: 120_000,
}, async (t) => {
  const bodies: { body: string; signature: string; timestamp: string }[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      bodies.push({
        body,
        signature: String(req.headers['x-openfactory-signature']),
        timestamp: String(req.headers['x-openfactory-timestamp']),
      })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  t.after(() => new Promise<void>((ok) => server.close(() => ok())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`

  const dir = await tempDir(t, 'ofa-up-hooks-')
  await writeFile(join(dir, 'factory.yaml'), 'name: hooks\nbackbone:\n  type: embedded\n')
  await writeFile(
    join(dir, 'devices.yml'),
    `devices:
  press:
    uuid: PRESS-1
    connector:
      type: simulator
      interval_ms: 50
      items:
        force: {tag: Force, category: Samples, units: NEWTON, signal: sine, offset: 100, amplitude: 10, period_s: 5}
        temp: {tag: Temperature, category: Samples, signal: sine, offset: 20, amplitude: 1, period_s: 5}
`,
  )
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:
  hooks:
    uuid: HOOKS
    webhooks:
      mes:
        url: ${url}
        secret_env: MES_SECRET
        observations: {assets: [PRESS-1], items: [force]}
`,
  )
  const rt = await startLocalRuntime({
    paths: [dir],
    dataDir: join(dir, 'data'),
    port: 0,
    logger: silentLogger,
    env: { MES_SECRET: 'e2e-secret' },
  })
  try {
    await eventually(() => bodies.length >= 20 || undefined, '20 deliveries', 30_000)
    const got = bodies.map((b) => JSON.parse(b.body))
    assert.ok(got.every((b) => b.kind === 'observation' && b.asset === 'PRESS-1' && b.observation.id === 'force'))
    // Numbers, after the UNAVAILABLE the item starts with.
    assert.ok(got.every((b) => typeof b.observation.value === 'number' || b.observation.value === 'UNAVAILABLE'))
    assert.ok(got.filter((b) => typeof b.observation.value === 'number').length >= 15)
    assert.equal(new Set(got.map((b) => b.delivery)).size, got.length)
    for (const b of bodies) {
      assert.ok(verifySignature({ secret: 'e2e-secret', body: b.body, signature: b.signature, timestamp: b.timestamp }))
    }
    // The status items of the app's asset, in the API.
    const state = await eventually(async () => {
      const a = await getJson(`${rt.url}/api/assets/HOOKS`)
      const delivered = a.state.find((s: { id: string }) => s.id === 'mes_delivered')
      return delivered && delivered.value > 0 ? a.state : undefined
    }, 'mes_delivered > 0 in the API')
    assert.ok(state.some((s: { id: string }) => s.id === 'mes_last_success'))
    // And on /metrics.
    const metrics = await (await fetch(`${rt.url}/metrics`)).text()
    assert.match(metrics, /ofa_webhook_deliveries_total\{app="HOOKS",webhook="mes",outcome="delivered"\} [1-9]/)
    assert.match(metrics, /ofa_webhook_queued\{app="HOOKS",webhook="mes"\} \d+/)
  } finally {
    await rt.stop()
  }
})

test('ofa up: an alert raised by the alerts app fires the webhook', { timeout: 120_000 }, async (t) => {
  const bodies: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      bodies.push(body)
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  t.after(() => new Promise<void>((ok) => server.close(() => ok())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`
  const dir = await tempDir(t, 'ofa-up-alert-hook-')
  await writeFile(join(dir, 'factory.yaml'), 'name: alert-hook\nbackbone:\n  type: embedded\n')
  await writeFile(
    join(dir, 'devices.yml'),
    `devices:
  press:
    uuid: PRESS-1
    connector:
      type: simulator
      interval_ms: 50
      items:
        force: {tag: Force, category: Samples, signal: constant, offset: 150}
`,
  )
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:
  alerts:
    uuid: ALERTS
    alerts:
      start: earliest
      rules:
        - {id: force_high, severity: critical, asset: PRESS-1, item: force, above: 100}
  hooks:
    uuid: HOOKS
    webhooks:
      maintenance:
        url: ${url}
        secret_env: MES_SECRET
        alerts: {severity: [critical]}
`,
  )
  const rt = await startLocalRuntime({
    paths: [dir],
    dataDir: join(dir, 'data'),
    port: 0,
    logger: silentLogger,
    env: { MES_SECRET: 'e2e-secret' },
  })
  try {
    const raised = await eventually(
      () => bodies.map((b) => JSON.parse(b)).find((b) => b.alert?.state === 'raised'),
      'the raised alert delivered',
      30_000,
    )
    assert.equal(raised.kind, 'alert')
    assert.equal(raised.alert.rule, 'force_high')
    assert.equal(raised.alert.asset, 'PRESS-1')
    assert.equal(raised.alert.severity, 'critical')
  } finally {
    await rt.stop()
  }
})
