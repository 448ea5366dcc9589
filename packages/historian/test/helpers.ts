// What the historian's tests share: the PostgreSQL they talk to (Debian's, started by scripts/postgres.ts — under
// `npm test` scripts/test.ts starts the cluster `test` once and passes OFA_PG_URL / OFA_PG_PASSWORD; run alone, the
// tests start it here), a database of each test's own, a factory folder with a historian app, an embedded log with
// the factory's topics, and observations to append.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type AppKindDeps, appKindOf, createSupervisor } from '@openfactory/connectors'
import { type EventLog, openEmbeddedLog, type ProducerRecord } from '@openfactory/log'
import {
  type AppConfig,
  type Asset,
  decodeObservation,
  encodeAssetDeclaration,
  encodeObservation,
  type Factory,
  loadFactory,
  TOPICS,
} from '@openfactory/model'
import pg from 'pg'
import { start, stop } from '../../../scripts/postgres.ts'
import '../src/index.ts'
import { eventually as waitFor } from '../../cli/test/helpers.ts'

export interface Pg {
  readonly name: string
  /** postgres://ofa@127.0.0.1:<port>/ofa (no password). */
  readonly url: string
  readonly password: string
}

let shared: Promise<Pg> | undefined

/** The shared cluster (OFA_PG_URL, else the cluster `test` started here). */
export function sharedPg(): Promise<Pg> {
  shared ??= (async () => {
    const url = process.env.OFA_PG_URL
    const password = process.env.OFA_PG_PASSWORD
    if (url && password) return { name: process.env.OFA_PG_NAME ?? 'test', url, password }
    if (process.env.CI)
      throw new Error('OFA_PG_URL is not set: the historian tests need the cluster scripts/test.ts starts')
    const s = await start({ name: 'test' })
    return { name: s.name, url: s.url, password: s.password }
  })()
  return shared
}

let count = 0

/** A client of `url` with `password` (pg takes a password given beside a connection string only from the URL). */
export function client(url: string, password: string): pg.Client {
  const u = new URL(url)
  u.password = encodeURIComponent(password)
  const c = new pg.Client({ connectionString: u.toString() })
  c.on('error', () => {})
  return c
}

/** A cluster of this test alone (to restart), stopped and deleted after the test. */
export async function privatePg(t: TestContext): Promise<Pg> {
  const name = `private-${process.pid}-${++count}`
  t.after(() => stop(name, true))
  const s = await start({ name })
  return { name: s.name, url: s.url, password: s.password }
}

/** A new database of this test (dropped after it): its URL, and a client on it for the test's queries. */
export async function freshDatabase(t: TestContext, server?: Pg): Promise<{ url: string; client: pg.Client }> {
  const srv = server ?? (await sharedPg())
  const db = `hist_${process.pid}_${Date.now().toString(36)}_${++count}`
  const admin = client(srv.url, srv.password)
  await admin.connect()
  await admin.query(`CREATE DATABASE ${db}`)
  await admin.end()
  const u = new URL(srv.url)
  u.pathname = `/${db}`
  const c = client(u.toString(), srv.password)
  await c.connect()
  t.after(async () => {
    await c.end().catch(() => {})
    const a = client(srv.url, srv.password)
    try {
      await a.connect()
      await a.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
    } catch {
      // a private cluster already stopped: its folder goes with it
    } finally {
      await a.end().catch(() => {})
    }
  })
  return { url: u.toString(), client: c }
}

/** A temporary folder removed after the test. */
export async function tempDir(t: TestContext, prefix = 'ofa-historian-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }))
  return dir
}

/** A factory folder whose apps file holds one historian app `HIST` with `block` (YAML lines under `historian:`). */
export async function historianFactory(dir: string, block: string, extra = ''): Promise<Factory> {
  await writeFile(join(dir, 'factory.yaml'), 'name: historian-test\nbackbone:\n  type: embedded\n')
  const indented = block
    .trim()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n')
  await writeFile(join(dir, 'apps.yml'), `apps:\n  historian:\n    uuid: HIST\n    historian:\n${indented}\n${extra}`)
  return loadFactory([dir])
}

/** The historians running on each log, stopped before it closes. */
const running = new WeakMap<EventLog, (() => Promise<void>)[]>()

/**
 * An embedded log in `dir` with the factory's topics (`ofa_assets` in 3 partitions), closed after the test once the
 * historians running on it stopped.
 */
export async function factoryLog(t: TestContext, dir: string): Promise<EventLog> {
  const log = await openEmbeddedLog({ dir, fsync: false })
  running.set(log, [])
  t.after(async () => {
    for (const halt of running.get(log) ?? []) await halt()
    await log.close()
  })
  const have = new Set(await log.listTopics())
  if (!have.has(TOPICS.assets)) await log.createTopic({ name: TOPICS.assets, partitions: 3 })
  for (const name of [TOPICS.registry, TOPICS.documents, TOPICS.connectorState, TOPICS.unsMap]) {
    if (!have.has(name)) await log.createTopic({ name, partitions: 1, cleanupPolicy: 'compact' })
  }
  return log
}

export const T0 = Date.UTC(2026, 11, 6, 8, 0, 0)

/** A numeric sample of `asset`: item `seq`, value `i`, at T0 + i seconds (so that a run spans partitions by time). */
export function sample(asset: string, i: number, spacingMs = 1000): ProducerRecord {
  return {
    key: asset,
    value: encodeObservation({
      id: 'seq',
      value: i,
      tag: 'Count',
      type: 'Samples',
      attributes: { timestamp: new Date(T0 + i * spacingMs).toISOString() },
    }),
  }
}

export function declaration(asset: Asset): ProducerRecord {
  return { key: asset.uuid, value: encodeAssetDeclaration(asset) }
}

/** Runs the factory's historian app under the connectors' supervisor, on `log` (of `factoryLog`); stopped after the test. */
export async function runHistorian(factory: Factory, log: EventLog, env: Record<string, string | undefined> = {}) {
  const app = factory.apps.find((a) => a.uuid === 'HIST') as AppConfig
  const kind = appKindOf(app)
  if (!kind) throw new Error('the historian kind is not registered')
  const deps: AppKindDeps = { eventLog: log, factory, env, logger: quiet }
  const connector = kind.create(app, kind.parse(app), deps)
  const supervisor = createSupervisor({ eventLog: log, logger: quiet, heartbeatMs: 200, ttlMs: 1000 })
  supervisor.add(connector)
  await supervisor.start()
  let stopped = false
  const halt = async () => {
    if (stopped) return
    stopped = true
    await supervisor.stop()
  }
  running.get(log)?.push(halt)
  return { connector, stop: halt }
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} }

/** The `avail` observations of `uuid` on the log, in order: value and reason. */
export async function availabilityOf(log: EventLog, uuid: string): Promise<{ value: string; reason?: string }[]> {
  const out: { value: string; reason?: string; ts: number }[] = []
  const desc = await log.describeTopic(TOPICS.assets)
  for (const p of desc.partitionStates) {
    for (let offset = p.startOffset; offset < p.endOffset; ) {
      const got = await log.read(TOPICS.assets, p.partition, offset)
      if (got.length === 0) break
      for (const r of got) {
        offset = r.offset + 1
        if (r.key?.toString() !== uuid || !r.value) continue
        const o = decodeObservation(r.value)
        if (o.id !== 'avail') continue
        out.push({
          value: String(o.value),
          ...(typeof o.attributes.reason === 'string' ? { reason: o.attributes.reason } : {}),
          ts: r.timestamp,
        })
      }
    }
  }
  return out.sort((a, b) => a.ts - b.ts).map(({ ts: _ts, ...rest }) => rest)
}

/** Waits until `check` gives a value other than undefined or false (a throw counts as not yet); 30 s by default. */
export function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  return waitFor(check, what, timeoutMs)
}

/** A number from a query's single value. */
export async function scalar(client: pg.Client, sql: string, params: unknown[] = []): Promise<number> {
  const r = await client.query(sql, params)
  return Number(Object.values(r.rows[0] ?? {})[0])
}
