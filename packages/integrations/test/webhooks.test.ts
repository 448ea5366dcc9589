// The webhooks app against a local receiver (node:http): a receiver answering 500 then recovering gets every alert,
// each under one delivery id, signed; a restart resends nothing acknowledged; a receiver down past the retries
// leaves a dead-letter record; a receiver that never answers holds its own queue (queue_max) and no other webhook.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { DEAD_LETTER_TOPIC, type DeadLetter, verifySignature, type WebhooksApp } from '../src/index.ts'
import { alert, appendAlerts, readAll, receiver, runApp, tempDir, testFactory, testLog, until } from './helpers.ts'

const SECRET = 's3cret-for-tests'

function appsYaml(hooks: string): string {
  return `apps:\n  hooks:\n    uuid: HOOKS\n    webhooks:\n${hooks}`
}

test('a receiver that answers 500 then recovers gets every alert once per id, signed, in order per asset; a restart resends nothing acknowledged', async (t) => {
  const log = await testLog(t)
  // The first 3 requests fail, the rest succeed.
  const rx = await receiver(t, (n) => (n < 3 ? 500 : 200))
  const factory = await testFactory(t, {
    'apps.yml': appsYaml(
      `      mes:\n        url: ${rx.url}\n        secret_env: HOOK_SECRET\n        alerts: {severity: [critical, warning]}\n        backoff_ms: 5\n        max_backoff_ms: 20\n`,
    ),
  })
  const sent = [
    ...Array.from({ length: 10 }, (_, i) => alert('cnc-1', 'temp', i)),
    ...Array.from({ length: 10 }, (_, i) => alert('cnc-2', 'temp', i)),
    alert('cnc-3', 'info-rule', 0, 'info'), // filtered out by severity
  ]
  await appendAlerts(log, sent)
  const first = await runApp(t, log, factory, 'HOOKS', { HOOK_SECRET: SECRET })
  const ok = () => rx.requests.filter((r) => r.status === 200)
  await until(() => ok().length >= 20, '20 deliveries')
  await first.supervisor.stop()

  for (const r of rx.requests) {
    assert.ok(
      verifySignature({
        secret: SECRET,
        body: r.body,
        signature: r.headers['x-openfactory-signature'] as string,
        timestamp: r.headers['x-openfactory-timestamp'] as string,
      }),
      'every request carries a valid signature',
    )
    assert.equal(
      verifySignature({
        secret: 'wrong',
        body: r.body,
        signature: r.headers['x-openfactory-signature'] as string,
        timestamp: r.headers['x-openfactory-timestamp'] as string,
      }),
      false,
    )
  }
  const delivered = ok().map((r) => JSON.parse(r.body))
  const ids = delivered.map((b) => b.delivery)
  assert.equal(new Set(ids).size, 20, 'each alert delivered once with 2xx')
  for (const r of rx.requests) assert.equal(r.headers['x-openfactory-delivery'], JSON.parse(r.body).delivery)
  // The failed attempts' ids are ids of deliveries that later succeeded: stable across retries.
  for (const r of rx.requests.filter((x) => x.status === 500)) assert.ok(ids.includes(JSON.parse(r.body).delivery))
  // Every critical alert arrived; the info one did not; per asset, in the order written.
  for (const asset of ['cnc-1', 'cnc-2']) {
    const got = delivered.filter((b) => b.alert.asset === asset).map((b) => b.alert.message)
    assert.deepEqual(
      got,
      Array.from({ length: 10 }, (_, i) => `event ${i}`),
    )
  }
  assert.ok(!delivered.some((b) => b.alert.asset === 'cnc-3'))
  assert.equal(delivered[0].kind, 'alert')

  // A restart: only what was appended since is delivered.
  const before = rx.requests.length
  await appendAlerts(log, [alert('cnc-1', 'temp', 99)])
  const second = await runApp(t, log, factory, 'HOOKS', { HOOK_SECRET: SECRET })
  await until(() => rx.requests.length > before, 'the new delivery')
  await second.supervisor.stop()
  const after = rx.requests.slice(before).map((r) => JSON.parse(r.body))
  assert.deepEqual(
    after.map((b) => b.alert.message),
    ['event 99'],
  )
  assert.ok(!ids.includes(after[0].delivery))
})

test('a receiver down past the retries: the delivery goes to ofa_webhooks_dead with the reason, counted in the status', async (t) => {
  const log = await testLog(t)
  const rx = await receiver(t)
  await rx.close() // nothing listens on its port any more
  const dir = tempDir(t)
  const secretFile = join(dir, 'secret')
  writeFileSync(secretFile, `${SECRET}\n`)
  const factory = await testFactory(t, {
    'apps.yml': appsYaml(
      `      dead:\n        url: ${rx.url}\n        secret_file: ${secretFile}\n        alerts: {}\n        max_attempts: 3\n        backoff_ms: 5\n        max_backoff_ms: 10\n`,
    ),
  })
  await appendAlerts(log, [alert('cnc-1', 'temp', 1), alert('cnc-1', 'temp', 2)])
  const { app, supervisor } = await runApp(t, log, factory, 'HOOKS')
  await until(
    async () => (await log.describeTopic(DEAD_LETTER_TOPIC).catch(() => null))?.partitionStates[0]?.endOffset === 2,
    'two dead letters',
  )
  const dead = (await readAll(log, DEAD_LETTER_TOPIC)).map((r) => JSON.parse(r.value!.toString()) as DeadLetter)
  assert.equal(dead.length, 2)
  for (const d of dead) {
    assert.equal(d.code, 'OFA_WEBHOOK_DELIVERY')
    assert.equal(d.webhook, 'dead')
    assert.equal(d.attempts, 3)
    assert.match(d.reason, /ECONNREFUSED|fetch failed/)
    assert.equal(JSON.parse(d.body).delivery, d.delivery)
  }
  assert.deepEqual(
    dead.map((d) => JSON.parse(d.body).alert.message),
    ['event 1', 'event 2'],
  )
  const status = (app as WebhooksApp).status().dead!
  assert.equal(status.deadLettered, 2)
  assert.equal(status.failed, 6)
  assert.equal(status.delivered, 0)
  assert.match(status.lastError ?? '', /ECONNREFUSED|fetch failed/)
  const metrics = (app as WebhooksApp).metrics().samples ?? []
  const deadLettered = metrics.find(
    (m) => m.name === 'ofa_webhook_deliveries_total' && m.labels.outcome === 'dead_lettered',
  )
  assert.equal(deadLettered?.value, 2)
  // The status items on the app's asset (what the API shows).
  await until(async () => {
    const recs = await readAll(log, 'ofa_assets')
    return recs.some(
      (r) => r.key?.toString() === 'HOOKS' && /"ID":"dead_dead_lettered","VALUE":2/.test(r.value?.toString() ?? ''),
    )
  }, 'the status item dead_dead_lettered = 2')
  await supervisor.stop()
})

test('a receiver that never answers holds at most queue_max records and never holds another webhook', async (t) => {
  const log = await testLog(t)
  const stuck = await receiver(t, () => 'hang')
  const healthy = await receiver(t)
  const factory = await testFactory(t, {
    'apps.yml': appsYaml(
      `      stuck:\n        url: ${stuck.url}\n        secret_env: HOOK_SECRET\n        alerts: {}\n        queue_max: 5\n        timeout_ms: 600000\n` +
        `      healthy:\n        url: ${healthy.url}\n        secret_env: HOOK_SECRET\n        alerts: {}\n`,
    ),
  })
  // 60 alerts over 12 assets: past the stuck webhook's queue of 5.
  await appendAlerts(
    log,
    Array.from({ length: 60 }, (_, i) => alert(`m-${i % 12}`, 'temp', i)),
  )
  const { app, supervisor } = await runApp(t, log, factory, 'HOOKS', { HOOK_SECRET: SECRET })
  const hooks = app as WebhooksApp
  let maxQueued = 0
  await until(() => {
    maxQueued = Math.max(maxQueued, hooks.status().stuck!.queued)
    return healthy.requests.length >= 60
  }, 'the healthy webhook gets all 60')
  assert.equal(new Set(healthy.requests.map((r) => JSON.parse(r.body).delivery)).size, 60)
  const s = hooks.status().stuck!
  assert.ok(s.queued > 0 && s.queued <= 5, `stuck queue ${s.queued} within 5`)
  assert.ok(maxQueued <= 5)
  assert.equal(s.delivered, 0)
  await supervisor.stop()
})
