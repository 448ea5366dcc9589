/**
 * The historian's settings: the `historian:` block of an app (model's historian-schema.ts checked its shape), with
 * what the schema cannot check — a URL PostgreSQL's clients can read, no password in it, a backfill range that is
 * a range — and the defaults filled in. `parse` throws `OFA_CONFIG_VALUE` at the app's file and line; `ofa validate`
 * calls it too.
 */
import { dirname, resolve } from 'node:path'
import { appConfigError } from '@openfactory/connectors'
import type { AppConfig } from '@openfactory/model'

export type StoreKind = 'samples' | 'events' | 'conditions' | 'commands' | 'availability'
export const STORE_KINDS: readonly StoreKind[] = ['samples', 'events', 'conditions', 'commands', 'availability']
export type PartitionSpan = 'day' | 'week' | 'month'

export interface HistorianConfig {
  /** The URL as written (no password in it). */
  readonly url: string
  /** host:port/database, for log lines and errors. */
  readonly target: string
  readonly passwordEnv?: string
  readonly passwordFile?: string
  readonly schema: string
  readonly batchRows: number
  readonly batchMs: number
  readonly partition: PartitionSpan
  readonly store: ReadonlySet<StoreKind>
  /** Only these assets' records are stored; undefined: every asset. */
  readonly assets?: ReadonlySet<string>
  readonly start: 'earliest' | 'latest'
  /** Records of the log whose append time is in [from, to) are stored once more (what is there already is kept). */
  readonly backfill?: { readonly from: number; readonly to: number; readonly text: string }
  /**
   * The `rows_written` and `lag` of the factory's historians (this one's and any other's) are stored as rows too.
   * Off by default: each write of them changes `rows_written`, so they would make a row every 5 s for ever, even in
   * a factory with nothing else to store.
   */
  readonly storeOwnStats: boolean
}

export const DEFAULTS = {
  schema: 'openfactory',
  batchRows: 5000,
  batchMs: 500,
  partition: 'day',
  start: 'earliest',
  storeOwnStats: false,
} as const

export function parseHistorian(app: AppConfig): HistorianConfig {
  const spec = app.spec.historian
  if (!spec) throw appConfigError(app, 'historian', 'the block is missing')
  let url: URL
  try {
    url = new URL(spec.url)
  } catch {
    throw appConfigError(app, 'historian.url', `not a URL: ${spec.url}`)
  }
  if (url.password !== '') {
    throw appConfigError(
      app,
      'historian.url',
      'holds a password: give it with password_env (a variable) or password_file, never in the URL',
    )
  }
  if (url.hostname === '') throw appConfigError(app, 'historian.url', 'names no host')
  if (spec.password_env !== undefined && spec.password_file !== undefined) {
    throw appConfigError(app, 'historian.password_file', 'give password_env or password_file, not both')
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres'
  let backfill: HistorianConfig['backfill']
  if (spec.backfill) {
    const from = Date.parse(spec.backfill.from)
    const to = spec.backfill.to === undefined ? Number.POSITIVE_INFINITY : Date.parse(spec.backfill.to)
    if (!Number.isFinite(from))
      throw appConfigError(app, 'historian.backfill.from', `not a time: ${spec.backfill.from}`)
    if (Number.isNaN(to) || to <= from) {
      throw appConfigError(app, 'historian.backfill.to', `must be a time after from (${spec.backfill.from})`)
    }
    backfill = { from, to, text: `${spec.backfill.from}..${spec.backfill.to ?? ''}` }
  }
  return {
    url: spec.url,
    target: `${url.hostname}:${url.port || '5432'}/${database}`,
    ...(spec.password_env !== undefined ? { passwordEnv: spec.password_env } : {}),
    // A relative file is read from the folder of the apps file that names it.
    ...(spec.password_file !== undefined ? { passwordFile: resolve(dirname(app.file), spec.password_file) } : {}),
    schema: spec.schema ?? DEFAULTS.schema,
    batchRows: spec.batch_rows ?? DEFAULTS.batchRows,
    batchMs: spec.batch_ms ?? DEFAULTS.batchMs,
    partition: spec.partition ?? DEFAULTS.partition,
    store: new Set(spec.store ?? STORE_KINDS),
    ...(spec.assets ? { assets: new Set(spec.assets) } : {}),
    start: spec.start ?? DEFAULTS.start,
    ...(backfill ? { backfill } : {}),
    storeOwnStats: spec.store_own_stats ?? DEFAULTS.storeOwnStats,
  }
}
