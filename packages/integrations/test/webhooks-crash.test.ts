// Webhooks across kill -9: the app runs in a process of its own (fixtures/run-webhooks.ts, its own process group)
// and delivers alerts to a receiver in this test (node:http). It is killed with SIGKILL twice: by its own hook right
// after the receiver answered a delivery 2xx and before the app finished (committed) it; then by the test while the
// receiver holds a request (taken, not answered). A third run goes to the end and stops cleanly. Every alert reaches
// the receiver at least once (none lost), in log order per asset within each run and with no gap across restarts,
// and a redelivery carries the same delivery id and body (what a receiver deduplicates on).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ALERTS_TOPIC, type AlertEvent } from '@openfactory/alerts'
import { openEmbeddedLog } from '@openfactory/log'
import { verifySignature } from '../src/index.ts'
import { alert, appendAlerts, createTopics, tempDir, until } from './helpers.ts'

const RUNNER = fileURLToPath(new URL('./fixtures/run-webhooks.ts', import.meta.url))
const SECRET = 's3cret-for-tests'
const GROUP = 'ofa-webhooks-HOOKS-mes'
const ASSETS = ['cnc-1', 'cnc-2', 'cnc-3', 'cnc-4', 'cnc-5']
const PER_ASSET = 40
const TOTAL = ASSETS.length * PER_ASSET

/** One request the receiver took: which run sent it (its X-Test-Run header), and what it carried. */
interface Hit {
  readonly run: number
  readonly delivery: string
  readonly header: string
  readonly body: string
  readonly asset: string
  readonly n: number
  readonly signed: boolean
}

/** A factory folder whose app HOOKS has one webhook `mes` (critical alerts) marking its requests with `run`. */
function factoryDir(t: TestContext, url: string, run: number): string {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'factory.yaml'), 'name: integrations\nbackbone:\n  type: embedded\n')
  writeFileSync(
    join(dir, 'apps.yml'),
    `apps:\n  hooks:\n    uuid: HOOKS\n    webhooks:\n      mes:\n        url: ${url}\n        secret_env: HOOK_SECRET\n` +
      `        alerts: {severity: [critical]}\n        queue_max: 10\n        headers: {X-Test-Run: '${run}'}\n`,
  )
  return dir
}

/** The app in a child process of its own group, killed by group after the test. */
function runHooks(t: TestContext, dir: string, logDir: string, killAt?: number) {
  const args = [RUNNER, dir, logDir, ...(killAt === undefined ? [] : [String(killAt)])]
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOOK_SECRET: SECRET },
    detached: true,
  })
  const pid = child.pid as number
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (out += d))
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  )
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s)
    } catch {}
  }
  t.after(() => signal('SIGKILL'))
  return { exited, signal, output: () => out }
}

/** The group's committed offsets on ofa_alerts, read from the log's files by a reader of its own. */
async function committed(logDir: string): Promise<Map<number, number>> {
  const log = await openEmbeddedLog({ dir: logDir, readOnly: true })
  try {
    return await log.committedOffsets(GROUP, ALERTS_TOPIC)
  } finally {
    await log.close()
  }
}

test('killed with SIGKILL after a 2xx and before its commit, and again with a request in flight: every alert delivered at least once, in order per asset, a redelivery under the same id', async (t) => {
  const logDir = join(tempDir(t), 'log')
  const endOffsets = new Map<number, number>()
  {
    const log = await openEmbeddedLog({ dir: logDir })
    await createTopics(log)
    const alerts: AlertEvent[] = []
    for (let n = 0; n < PER_ASSET; n++) {
      for (const a of ASSETS) alerts.push(alert(a, 'temp', n))
      if (n % 4 === 0) alerts.push(alert('quiet', 'temp', n, 'info')) // not selected: finished without a request
    }
    await appendAlerts(log, alerts)
    for (const p of (await log.describeTopic(ALERTS_TOPIC)).partitionStates) endOffsets.set(p.partition, p.endOffset)
    await log.close()
  }

  // The receiver: answers 200 unless `holdAndKill` says to kill the running app instead of answering this request.
  const hits: Hit[] = []
  let holdAndKill: (hit: Hit) => boolean = () => false
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const b = JSON.parse(body) as { delivery: string; alert: AlertEvent }
      const hit: Hit = {
        run: Number(req.headers['x-test-run']),
        delivery: b.delivery,
        header: req.headers['x-openfactory-delivery'] as string,
        body,
        asset: b.alert.asset,
        n: Number(b.alert.message.replace('event ', '')),
        signed: verifySignature({
          secret: SECRET,
          body,
          signature: req.headers['x-openfactory-signature'] as string,
          timestamp: req.headers['x-openfactory-timestamp'] as string,
        }),
      }
      hits.push(hit)
      if (holdAndKill(hit)) return
      res.on('error', () => {})
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  t.after(
    () =>
      new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      }),
  )
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  const ofRun = (run: number) => hits.filter((h) => h.run === run)

  // 1. The app kills itself right after the receiver answered its 30th delivery, before finishing it.
  const first = runHooks(t, factoryDir(t, url, 1), logDir, 30)
  assert.equal(await first.exited, 'SIGKILL', first.output())
  const killedAfter = (
    JSON.parse(
      first
        .output()
        .split('\n')
        .find((l) => l.includes('killedAfter')) ?? '{}',
    ) as {
      killedAfter?: string
    }
  ).killedAfter
  assert.ok(killedAfter, first.output())
  assert.ok(
    ofRun(1).some((h) => h.delivery === killedAfter),
    'the receiver took (and answered) it',
  )
  const [, partition, offset] = killedAfter.split(':').map(Number) as [number, number, number]
  const afterFirst = await committed(logDir)
  assert.ok((afterFirst.get(partition) ?? 0) <= offset, `${killedAfter} not committed`)
  assert.ok(ofRun(1).length >= 30 && ofRun(1).length < TOTAL, `run 1: ${ofRun(1).length} requests`)

  // 2. Killed by the test while the receiver holds its 25th request of this run (taken, never answered).
  let inFlight: string | null = null
  const second = runHooks(t, factoryDir(t, url, 2), logDir)
  holdAndKill = (hit) => {
    if (hit.run !== 2 || inFlight !== null || ofRun(2).length < 25) return false
    inFlight = hit.delivery
    second.signal('SIGKILL')
    return true
  }
  assert.equal(await second.exited, 'SIGKILL', second.output())
  holdAndKill = () => false
  assert.ok(inFlight)

  // 3. To the end: every alert delivered, every offset committed; then a clean stop.
  const third = runHooks(t, factoryDir(t, url, 3), logDir)
  await until(() => new Set(hits.map((h) => h.delivery)).size >= TOTAL, `all ${TOTAL} deliveries`, 60_000)
  await until(
    async () => {
      const c = await committed(logDir)
      return [...endOffsets].every(([p, end]) => (c.get(p) ?? 0) === end)
    },
    'every offset committed',
    60_000,
  )
  third.signal('SIGTERM')
  assert.equal(await third.exited, 0, third.output())

  // Each request: signed, its header the body's id. Each id: one alert, the same body on every (re)delivery.
  for (const h of hits) {
    assert.ok(h.signed, `${h.delivery} signed`)
    assert.equal(h.header, h.delivery)
  }
  const byId = new Map<string, Hit[]>()
  for (const h of hits) byId.set(h.delivery, [...(byId.get(h.delivery) ?? []), h])
  for (const [id, list] of byId) {
    assert.deepEqual(new Set(list.map((h) => h.body)).size, 1, `${id}: one body on every delivery`)
  }
  // None lost, none filtered in: every critical alert of every asset under one id of its own.
  assert.equal(byId.size, TOTAL)
  assert.equal(new Set(hits.map((h) => `${h.asset}/${h.n}`)).size, TOTAL)
  assert.ok(!hits.some((h) => h.asset === 'quiet'))
  // The delivery answered but not finished, and the one in flight, came again in a later run, under their ids.
  assert.ok(
    hits.some((h) => h.run > 1 && h.delivery === killedAfter),
    `${killedAfter} redelivered after the first kill`,
  )
  assert.ok(
    ofRun(3).some((h) => h.delivery === inFlight),
    `${inFlight} redelivered after the second kill`,
  )
  // Per asset: within a run, one alert after the other in log order, none skipped or repeated; each run resumes at or
  // before the first alert not yet delivered; deduplicated by id, the receiver has every alert once, in order.
  for (const a of ASSETS) {
    let top = -1
    for (const run of [1, 2, 3]) {
      const ns = ofRun(run)
        .filter((h) => h.asset === a)
        .map((h) => h.n)
      if (ns.length === 0) continue
      assert.deepEqual(
        ns,
        ns.map((_, i) => (ns[0] as number) + i),
        `${a}, run ${run}: ${ns.join(' ')}`,
      )
      assert.ok((ns[0] as number) <= top + 1, `${a}, run ${run} starts at ${ns[0]}, after ${top}`)
      top = Math.max(top, ns.at(-1) as number)
    }
    const seen: number[] = []
    for (const h of hits) if (h.asset === a && !seen.includes(h.n)) seen.push(h.n)
    assert.deepEqual(
      seen,
      Array.from({ length: PER_ASSET }, (_, i) => i),
    )
  }
  t.diagnostic(
    `requests per run: ${[1, 2, 3].map((r) => ofRun(r).length).join(', ')}; ${hits.length - TOTAL} redeliveries`,
  )
})
