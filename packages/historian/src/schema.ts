/**
 * The historian's tables in PostgreSQL, created and migrated by the historian itself (a `schema_version` table
 * records each step; a historian that finds a newer version than it knows writes nothing: `OFA_HISTORIAN_SCHEMA`),
 * and the partitions of the time-series table, created ahead as data arrives.
 *
 * All in one schema of the database (`openfactory` by default):
 * - `observations` — the narrow time series: one row per sample, event or availability change (time, asset, item,
 *   value_num or value_text, type, tag, quality, attributes jsonb, and the log partition and offset it came from),
 *   partitioned by range of `time` (declarative partitioning: a partition per day, week or month, named
 *   `observations_p<first day>`), or a TimescaleDB hypertable when that extension is installed in the database;
 * - `conditions` — condition changes (level, native code and severity, qualifier, message);
 * - `commands` — commands sent to assets and their results (correlation id, arguments, status, result);
 * - `latest` — the last value of every item of every asset, kept in the same transactions; the view
 *   `current_state` joins it with `assets`;
 * - `assets` — every declared asset (from `ofa_registry`): its type, UNS id and levels (jsonb, and a view
 *   `asset_uns_levels` with one row per level) for BI tools to join on;
 * - `log_offsets` — the next offset of each log partition the historian read, written in the transaction of the
 *   rows that came before it: where it resumes, so that each record lands exactly once;
 * - `backfills` — the backfill ranges done.
 */

import { OpenFactoryError } from '@openfactory/model'
import type pg from 'pg'
import type { PartitionSpan } from './historian-config.ts'

/** The version this historian writes; migrations below take a database from any older one to it. */
export const SCHEMA_VERSION = 1

/** A PostgreSQL identifier, quoted (the schema name is checked by the config schema; quoting keeps it exact). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Each migration: from version i to i + 1 (index i). `s` is the quoted schema. */
const MIGRATIONS: readonly ((s: string, timescale: boolean) => string)[] = [
  (s, timescale) => `
CREATE TABLE ${s}.log_offsets (
  topic text NOT NULL,
  log_partition integer NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, log_partition)
);
CREATE TABLE ${s}.assets (
  asset text PRIMARY KEY,
  type text NOT NULL,
  uns_id text,
  uns_levels jsonb NOT NULL DEFAULT '{}',
  declaration jsonb,
  declared_at timestamptz,
  removed_at timestamptz
);
CREATE VIEW ${s}.asset_uns_levels AS
  SELECT a.asset, l.key AS level, l.value AS value FROM ${s}.assets a, jsonb_each_text(a.uns_levels) l;
CREATE TABLE ${s}.observations (
  time timestamptz NOT NULL,
  asset text NOT NULL,
  item text NOT NULL,
  value_num double precision,
  value_text text,
  type text NOT NULL,
  tag text NOT NULL,
  quality text,
  attributes jsonb,
  log_partition integer NOT NULL,
  log_offset bigint NOT NULL
)${timescale ? '' : ' PARTITION BY RANGE (time)'};
CREATE INDEX observations_asset_item_time ON ${s}.observations (asset, item, time DESC);
CREATE UNIQUE INDEX observations_log_position ON ${s}.observations (log_partition, log_offset, time);
CREATE TABLE ${s}.conditions (
  time timestamptz NOT NULL,
  asset text NOT NULL,
  item text NOT NULL,
  level text NOT NULL,
  tag text NOT NULL,
  native_code text,
  native_severity text,
  qualifier text,
  message text,
  attributes jsonb,
  log_partition integer NOT NULL,
  log_offset bigint NOT NULL,
  UNIQUE (log_partition, log_offset)
);
CREATE INDEX conditions_asset_time ON ${s}.conditions (asset, time DESC);
CREATE TABLE ${s}.commands (
  time timestamptz NOT NULL,
  asset text NOT NULL,
  method text NOT NULL,
  kind text NOT NULL,
  correlation_id text,
  sender text,
  status text,
  arguments jsonb,
  result jsonb,
  error_code text,
  error_message text,
  log_partition integer NOT NULL,
  log_offset bigint NOT NULL,
  UNIQUE (log_partition, log_offset)
);
CREATE INDEX commands_correlation ON ${s}.commands (correlation_id);
CREATE TABLE ${s}.latest (
  asset text NOT NULL,
  item text NOT NULL,
  time timestamptz NOT NULL,
  value_num double precision,
  value_text text,
  type text NOT NULL,
  tag text NOT NULL,
  quality text,
  PRIMARY KEY (asset, item)
);
CREATE VIEW ${s}.current_state AS
  SELECT l.asset, a.type AS asset_type, a.uns_id, a.uns_levels, l.item, l.time,
         coalesce(l.value_num::text, l.value_text) AS value, l.value_num, l.value_text, l.type, l.tag, l.quality
  FROM ${s}.latest l LEFT JOIN ${s}.assets a USING (asset);
CREATE TABLE ${s}.backfills (
  range text PRIMARY KEY,
  records bigint NOT NULL,
  done_at timestamptz NOT NULL DEFAULT now()
);
${timescale ? `SELECT create_hypertable('${s}.observations', 'time', chunk_time_interval => interval '1 day');` : ''}
`,
]

export interface SchemaState {
  readonly version: number
  /** The time series is a TimescaleDB hypertable (no partitions of ours). */
  readonly timescale: boolean
  /** The partitions that exist, by their first instant (epoch ms). */
  readonly partitions: Set<number>
  /**
   * The span `observations` is partitioned by, read from its partitions' bounds: that of the partition that starts
   * last. Undefined while it has none (or on TimescaleDB): any span fits.
   */
  readonly span?: PartitionSpan
}

/**
 * Creates the schema or migrates it to `SCHEMA_VERSION`, under an advisory lock (two historians on one schema
 * migrate once). TimescaleDB is used when its extension is installed in the database, or can be (then it is
 * created); otherwise declarative partitioning.
 */
export async function migrate(client: pg.Client, schema: string): Promise<SchemaState> {
  const s = ident(schema)
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`openfactory historian ${schema}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer PRIMARY KEY, timescale boolean NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const rows = (
      await client.query(`SELECT version, timescale FROM ${s}.schema_version ORDER BY version DESC LIMIT 1`)
    ).rows as { version: number; timescale: boolean }[]
    let version = rows[0]?.version ?? 0
    if (version > SCHEMA_VERSION) {
      throw new OpenFactoryError(
        'OFA_HISTORIAN_SCHEMA',
        `schema ${schema} is at version ${version}, newer than this historian's ${SCHEMA_VERSION}: run a newer historian`,
      )
    }
    let timescale = rows[0]?.timescale ?? (await tryTimescale(client))
    for (; version < SCHEMA_VERSION; version++) {
      try {
        await client.query((MIGRATIONS[version] as (s: string, t: boolean) => string)(s, timescale))
      } catch (err) {
        throw new OpenFactoryError(
          'OFA_HISTORIAN_SCHEMA',
          `migrating schema ${schema} to version ${version + 1}: ${(err as Error).message}`,
          { cause: err },
        )
      }
      await client.query(`INSERT INTO ${s}.schema_version (version, timescale) VALUES ($1, $2)`, [
        version + 1,
        timescale,
      ])
    }
    await client.query('COMMIT')
    timescale = Boolean(timescale)
    return timescale
      ? { version, timescale, partitions: new Set() }
      : { version, timescale, ...(await listPartitions(client, schema)) }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}

/** True when TimescaleDB is installed in the database or can be created there (inside a savepoint: a failure is no harm). */
async function tryTimescale(client: pg.Client): Promise<boolean> {
  const available = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`)
  if (available.rowCount === 0) return false
  await client.query('SAVEPOINT timescale')
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb')
    await client.query('RELEASE SAVEPOINT timescale')
    return true
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT timescale')
    return false
  }
}

const PARTITION_NAME = /^observations_p(\d{4})(\d{2})(\d{2})$/
const DAY_S = 86_400

/** The span of a partition `days` long (a month: 28 to 31 days); undefined for bounds the historian does not make. */
function spanOf(days: number): PartitionSpan | undefined {
  if (days === 1) return 'day'
  if (days === 7) return 'week'
  return days >= 28 && days <= 31 ? 'month' : undefined
}

/**
 * The partitions of `observations` and the span they were made with. The bounds come from the catalog
 * (`pg_get_expr(relpartbound)`: `FOR VALUES FROM ('…') TO ('…')`, printed and read back in the same session, so its
 * DateStyle and TimeZone do not matter); the span is that of the partition that starts last, the one the data
 * goes on from. No metadata of our own: a database made before this check is read the same way.
 */
async function listPartitions(
  client: pg.Client,
  schema: string,
): Promise<{ partitions: Set<number>; span?: PartitionSpan }> {
  const r = await client.query(
    `SELECT relname, extract(epoch FROM lo)::float8 AS lo, extract(epoch FROM hi)::float8 AS hi FROM (
       SELECT c.relname,
              (regexp_match(pg_get_expr(c.relpartbound, c.oid), $2))[1]::timestamptz AS lo,
              (regexp_match(pg_get_expr(c.relpartbound, c.oid), $2))[2]::timestamptz AS hi
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'observations') b
     ORDER BY lo DESC NULLS LAST`,
    [schema, `^FOR VALUES FROM \\('([^']+)'\\) TO \\('([^']+)'\\)$`],
  )
  const partitions = new Set<number>()
  let span: PartitionSpan | undefined
  for (const row of r.rows as { relname: string; lo: number | null; hi: number | null }[]) {
    const m = PARTITION_NAME.exec(row.relname)
    if (m) partitions.add(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
    if (span === undefined && row.lo !== null && row.hi !== null) span = spanOf((row.hi - row.lo) / DAY_S)
  }
  return span === undefined ? { partitions } : { partitions, span }
}

/**
 * `OFA_HISTORIAN_PARTITION` when `observations` is partitioned by another span than `configured`: partitions of
 * the new span would overlap the old ones (PostgreSQL refuses them) or leave the table cut two ways.
 */
export function checkPartitionSpan(state: SchemaState, schema: string, configured: PartitionSpan): void {
  if (state.span === undefined || state.span === configured) return
  throw new OpenFactoryError(
    'OFA_HISTORIAN_PARTITION',
    `${schema}.observations is partitioned by ${state.span} (its existing partitions), but partition: ${configured} ` +
      `is configured: set partition: ${state.span} back, or give the historian a new schema for the new span ` +
      `(or move the rows of ${schema}.observations out and drop its partitions); nothing is written until then`,
  )
}

/** The partition holding `ms`: its first instant and the first instant of the next one (UTC; weeks start on Monday). */
export function partitionRange(ms: number, span: PartitionSpan): { from: number; to: number } {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  if (span === 'month') return { from: Date.UTC(y, m, 1), to: Date.UTC(y, m + 1, 1) }
  const day = Date.UTC(y, m, d.getUTCDate())
  if (span === 'day') return { from: day, to: day + 86_400_000 }
  const monday = day - ((d.getUTCDay() + 6) % 7) * 86_400_000
  return { from: monday, to: monday + 7 * 86_400_000 }
}

function partitionName(from: number): string {
  return `observations_p${new Date(from).toISOString().slice(0, 10).replace(/-/g, '')}`
}

/**
 * Creates the partitions the instants `times` fall in, and the one after the latest of them (ahead of the data),
 * each in its own statement outside the batch's transaction (a partition that exists is left alone).
 */
export async function ensurePartitions(
  client: pg.Client,
  schema: string,
  state: SchemaState,
  span: PartitionSpan,
  times: Iterable<number>,
): Promise<number> {
  if (state.timescale) return 0
  const wanted = new Map<number, number>()
  let max = Number.NEGATIVE_INFINITY
  for (const t of times) {
    const r = partitionRange(t, span)
    wanted.set(r.from, r.to)
    if (t > max) max = t
  }
  if (max > Number.NEGATIVE_INFINITY) {
    const next = partitionRange(partitionRange(max, span).to, span)
    wanted.set(next.from, next.to)
  }
  let created = 0
  for (const [from, to] of wanted) {
    if (state.partitions.has(from)) continue
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${ident(schema)}.${ident(partitionName(from))} PARTITION OF ${ident(schema)}.observations
         FOR VALUES FROM ('${new Date(from).toISOString()}') TO ('${new Date(to).toISOString()}')`,
    )
    state.partitions.add(from)
    created++
  }
  return created
}
