// What the integrations' tests share: an embedded log in a temporary folder, a factory loaded from YAML text, a
// built-in app run under a real supervisor, and a local webhook receiver (node:http) whose answers a test scripts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { ALERTS_TOPIC, type AlertEvent, alertKey } from '@openfactory/alerts'
import { createSupervisor, planApp, type Supervisor } from '@openfactory/connectors'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { type Factory, loadFactory, TOPICS } from '@openfactory/model'
import '../src/index.ts'

export function tempDir(t: TestContext, prefix = 'ofa-integrations-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** An embedded log with the factory's topics (ofa_assets: 6 partitions) and ofa_alerts. */
export async function testLog(t: TestContext): Promise<EventLog> {
  const log = await openEmbeddedLog({ dir: join(tempDir(t), 'data') })
  t.after(() => log.close())
  await createTopics(log)
  return log
}

/** The factory's topics (ofa_assets: 6 partitions) and ofa_alerts (6 partitions). */
export async function createTopics(log: EventLog): Promise<void> {
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  for (const name of [TOPICS.registry, TOPICS.documents, TOPICS.connectorState]) {
    await log.createTopic({ name, partitions: 1, cleanupPolicy: 'compact' })
  }
  await log.createTopic({ name: ALERTS_TOPIC, partitions: 6 })
}

/** A factory of the given files (name → text) in a temporary folder. */
export async function testFactory(t: TestContext, files: Readonly<Record<string, string>>): Promise<Factory> {
  const dir = tempDir(t)
  if (!('factory.yaml' in files))
    writeFileSync(join(dir, 'factory.yaml'), 'name: integrations\nbackbone:\n  type: embedded\n')
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return loadFactory([dir])
}

/** Runs the factory's app `uuid` (a built-in kind) under a supervisor of its own; stopped after the test. */
export async function runApp(
  t: TestContext,
  log: EventLog,
  factory: Factory,
  uuid: string,
  env: Record<string, string> = {},
): Promise<{ supervisor: Supervisor; app: ReturnType<typeof planApp> }> {
  const config = factory.apps.find((a) => a.uuid === uuid)
  if (!config) throw new Error(`no app ${uuid}`)
  const logger = process.env.OFA_TEST_DEBUG ? (console as never) : quietLogger
  const app = planApp(config, { eventLog: log, factory, env, logger })
  const supervisor = createSupervisor({ eventLog: log, logger })
  supervisor.add(app!)
  await supervisor.start()
  t.after(() => supervisor.stop())
  return { supervisor, app }
}

export const quietLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quietLogger
  },
} as never

export function alert(
  asset: string,
  rule: string,
  n: number,
  severity: AlertEvent['severity'] = 'critical',
): AlertEvent {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString()
  return { rule, asset, app: 'ALERTS', state: 'raised', severity, at, raisedAt: at, message: `event ${n}` }
}

export async function appendAlerts(log: EventLog, alerts: readonly AlertEvent[]): Promise<void> {
  await log.append(
    ALERTS_TOPIC,
    alerts.map((a) => ({ key: alertKey(a.asset, a.rule), value: JSON.stringify(a) })),
  )
}

export interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly status: number
}

/** A local webhook receiver: `answer` gives each request's status (by its number, from 0). */
export async function receiver(
  t: TestContext,
  answer: (n: number, body: string) => number | 'hang' = () => 200,
): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = []
  let n = 0
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      const a = answer(n++, body)
      if (a === 'hang') return
      requests.push({ headers: req.headers, body, status: a })
      res.writeHead(a).end()
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const close = () =>
    new Promise<void>((ok) => {
      server.closeAllConnections()
      server.close(() => ok())
    })
  t.after(close)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests, close }
}

/** Waits until `check` is true (the tests assert outcomes, never timings: this only bounds a hang). */
export async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** Every record of a topic, all partitions. */
export async function readAll(log: EventLog, topic: string) {
  const d = await log.describeTopic(topic)
  const out = []
  for (const p of d.partitionStates) {
    let offset = p.startOffset
    for (;;) {
      const batch = await log.read(topic, p.partition, offset)
      if (batch.length === 0) break
      out.push(...batch)
      offset = (batch.at(-1)?.offset as number) + 1
    }
  }
  return out
}
