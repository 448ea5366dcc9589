// The PostgreSQL historian: rows/s from the log into PostgreSQL (the historian app: read the embedded log, decode,
// COPY in batches of `batch_rows`, each batch one transaction with its offsets and `latest` values), beside a
// same-run anchor: Debian's psql loading the very same rows from a file (`\copy ... FROM file`, the text the
// historian COPYs) into a table of the same shape (the historian's schema: partitioned by day, same indexes), in
// one transaction. Both write to one PostgreSQL (scripts/postgres.ts, a cluster `bench` started here: fsync off,
// as for tests). The log is filled first (N samples of 20 assets, over 2 days of source time: 3 partitions).
// Order: anchor, ours, anchor, ours; each run into a fresh schema. The clock of ours runs from start until
// `log_offsets` says every record committed.
//   npx node bench/historian.ts [rows] [batch_rows]
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { appKindOf } from '@openfactory/connectors'
import { type LogRecord, openEmbeddedLog, type ProducerRecord } from '@openfactory/log'
import { encodeObservation, loadFactory, silentLogger, TOPICS } from '@openfactory/model'
import pg from 'pg'
import { parseHistorian } from '../packages/historian/src/index.ts'
import { Batch, OBSERVATION_COLUMNS, observationsCopy, RowMaker } from '../packages/historian/src/rows.ts'
import { ensurePartitions, migrate } from '../packages/historian/src/schema.ts'
import { start, stop } from '../scripts/postgres.ts'
import { countingContext } from './lib/counting-context.ts'

const N = Number(process.argv[2] ?? 200_000)
const BATCH = Number(process.argv[3] ?? 5000)
await stop('bench', true) // a cluster left by an interrupted run: start afresh
const server = await start({ name: 'bench' })
const pgUrl = new URL(server.url)
pgUrl.password = server.password
const dir = await mkdtemp(path.join(os.tmpdir(), 'ofa-bench-historian-'))

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: pgUrl.toString() })
  await c.connect()
  return c
}

// The log: N samples, 20 assets, one per second of source time from 2026-12-06 00:00 UTC on (about 2.3 days at N =
// 200 000: three daily partitions), written in one go.
const log = await openEmbeddedLog({ dir: path.join(dir, 'log'), fsync: false })
await log.createTopic({ name: TOPICS.assets, partitions: 6 })
await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
const T0 = Date.UTC(2026, 11, 6)
for (let i = 0; i < N; i += 10_000) {
  const batch: ProducerRecord[] = []
  for (let j = i; j < Math.min(N, i + 10_000); j++) {
    batch.push({
      key: `M-${j % 20}`,
      value: encodeObservation({
        id: 'temp',
        value: 20 + (j % 1000) / 100,
        tag: 'Temperature',
        type: 'Samples',
        attributes: { timestamp: new Date(T0 + j * 1000).toISOString(), units: 'CELSIUS' },
      }),
    })
  }
  await log.append(TOPICS.assets, batch)
}

// The factory whose historian we run (its schema changes per run).
await import('../packages/historian/src/index.ts')
async function factoryFor(schema: string) {
  const fdir = await mkdtemp(path.join(dir, 'factory-'))
  writeFileSync(path.join(fdir, 'factory.yaml'), 'name: bench\nbackbone:\n  type: embedded\n')
  writeFileSync(
    path.join(fdir, 'apps.yml'),
    `apps:\n  h:\n    uuid: HIST\n    historian:\n      url: ${server.url}\n      password_env: PW\n      schema: ${schema}\n      batch_rows: ${BATCH}\n`,
  )
  return loadFactory([fdir])
}

// The anchor's file: the rows as the historian makes them (same RowMaker), as COPY text.
const anchorFile = path.join(dir, 'rows.copy')
{
  const probe = (await factoryFor('probe')).apps[0]
  if (!probe) throw new Error('no app')
  const maker = new RowMaker(parseHistorian(probe), TOPICS.assets, new Map())
  const batch = new Batch()
  const desc = await log.describeTopic(TOPICS.assets)
  for (const p of desc.partitionStates) {
    for (let o = p.startOffset; o < p.endOffset; ) {
      const got: LogRecord[] = await log.read(TOPICS.assets, p.partition, o, { maxRecords: 10_000 })
      for (const r of got) maker.add(batch, r)
      o = (got.at(-1)?.offset ?? o) + 1
    }
  }
  writeFileSync(anchorFile, observationsCopy(batch.observations))
  if (batch.observations.length !== N) throw new Error(`anchor rows ${batch.observations.length} != ${N}`)
}

let run = 0

async function anchor(): Promise<number> {
  const schema = `anchor_${++run}`
  const c = await connect()
  const state = await migrate(c, schema)
  await ensurePartitions(c, schema, state, 'day', [T0, T0 + N * 1000])
  for (let t = T0; t < T0 + N * 1000; t += 86_400_000) await ensurePartitions(c, schema, state, 'day', [t])
  await c.end()
  const t0 = performance.now()
  const r = spawnSync(
    'psql',
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-1',
      '-c',
      `\\copy ${schema}.observations (${OBSERVATION_COLUMNS}) FROM '${anchorFile}'`,
      pgUrl.toString(),
    ],
    { encoding: 'utf8' },
  )
  const s = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`)
  return N / s
}

async function ours(): Promise<number> {
  const schema = `ours_${++run}`
  const factory = await factoryFor(schema)
  const app = factory.apps[0]
  const kind = app && appKindOf(app)
  if (!app || !kind) throw new Error('no historian')
  const c = await connect()
  // The schema made before the clock starts, as the anchor's.
  await migrate(c, schema)
  const connector = kind.create(app, kind.parse(app), {
    eventLog: log,
    factory,
    env: { PW: server.password },
    logger: silentLogger,
  })
  const t0 = performance.now()
  await connector.start(countingContext({}))
  for (;;) {
    const r = await c.query(
      `SELECT coalesce(sum(next_offset), 0)::int AS n FROM ${schema}.log_offsets WHERE topic = $1`,
      [TOPICS.assets],
    )
    if (r.rows[0].n >= N) break
    await new Promise((res) => setTimeout(res, 10))
  }
  const s = (performance.now() - t0) / 1000
  await connector.stop()
  const rows = Number((await c.query(`SELECT count(*) FROM ${schema}.observations`)).rows[0].count)
  await c.end()
  if (rows !== N) throw new Error(`ours stored ${rows} rows, not ${N}`)
  return N / s
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
console.log(`historian bench: ${fmt(N)} rows, batch_rows ${BATCH}, PostgreSQL ${server.port} (fsync off)`)
const results: [string, number][] = []
for (const [name, fn] of [
  ['anchor: psql \\copy from a file', anchor],
  ['ours: historian from the log', ours],
  ['anchor: psql \\copy from a file', anchor],
  ['ours: historian from the log', ours],
] as const) {
  const rate = await fn()
  results.push([name, rate])
  console.log(`${name.padEnd(34)} ${fmt(rate).padStart(10)} rows/s`)
}
const a = results.filter(([n]) => n.startsWith('anchor')).map(([, r]) => r)
const o = results.filter(([n]) => n.startsWith('ours')).map(([, r]) => r)
const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length
console.log(`ours / anchor: ${Math.round((mean(o) / mean(a)) * 100)}%`)
await log.close()
await rm(dir, { recursive: true, force: true })
await stop('bench', true)
