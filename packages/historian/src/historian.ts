/**
 * The PostgreSQL historian: an app of the factory (its `historian:` block) that reads `ofa_assets` and
 * `ofa_registry` from the log and writes them into PostgreSQL (schema.ts, rows.ts), exactly once.
 *
 * Exactly once: the historian keeps no offsets in the log. Each batch is one transaction: its rows (COPY, through
 * pg-copy-streams), the `latest` values and assets it changes, and the next offset of every log partition it read
 * (`log_offsets`), committed together. After any failure — the historian killed between its COPY and its COMMIT,
 * the connection lost, PostgreSQL restarted, a COMMIT whose answer never came — it reconnects, reads `log_offsets`
 * back and follows the log from there: what committed is not read again, what did not is.
 *
 * Batches: up to `batch_rows` rows, or what arrived within `batch_ms` of a batch's first record, whichever first.
 * While a batch is written the next one fills; once that one is full too the log is not read further (a slow
 * database holds the historian back, at most two batches in memory). Partitions of `observations` are created before the batch that needs them, with the next one
 * ahead.
 *
 * Failures never stop the process: a database it cannot reach or log in to (`OFA_HISTORIAN_CONNECT`), a batch it
 * cannot write (`OFA_HISTORIAN_WRITE`), a schema newer than it knows (`OFA_HISTORIAN_SCHEMA`), an `observations`
 * table partitioned by another span than `partition` (`OFA_HISTORIAN_PARTITION`, checked before anything is written)
 * each mark the app's `avail` UNAVAILABLE with the coded reason, and it tries again with backoff (500 ms doubling to
 * 10 s).
 *
 * Its asset (type `OpenFactoryApp`) reports `rows_written` (rows committed since it started) and `lag` (records of
 * `ofa_assets` not yet committed), every 5 s when they change. They are read on its asset (the API); no historian
 * of the factory stores them (neither in `observations` nor in `latest`) unless `store_own_stats` is on.
 *
 * Tests reach inside through `HistorianTestHooks` (a constructor argument the app kind never passes): the crash test
 * kills the process between a batch's last statement and its COMMIT.
 */
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type AppKindDeps, appAsset, type Connector, type ConnectorContext } from '@openfactory/connectors'
import {
  type AppConfig,
  Backoff,
  type DataItem,
  isOpenFactoryError,
  isoTimestamp,
  OpenFactoryError,
  sleep,
  TOPICS,
} from '@openfactory/model'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { HistorianConfig } from './historian-config.ts'
import {
  Batch,
  COMMAND_COLUMNS,
  CONDITION_COLUMNS,
  commandsCopy,
  conditionsCopy,
  OBSERVATION_COLUMNS,
  observationsCopy,
  RowMaker,
} from './rows.ts'
import { checkPartitionSpan, ensurePartitions, ident, migrate, type SchemaState } from './schema.ts'

const STATS_MS = 5000

/** A seam for tests only: what production passes is nothing (the app kind's `create` gives none). */
export interface HistorianTestHooks {
  /** In each batch's transaction, after its last statement and before its COMMIT (the crash test kills itself here). */
  beforeCommit?(batch: { readonly observations: number }): void | Promise<void>
}

/** What the historian reports about itself beside `avail` (not stored unless `store_own_stats`). */
export const HISTORIAN_DATA_ITEMS: readonly DataItem[] = [
  { id: 'rows_written', category: 'Samples', tag: 'Count', name: 'rows committed to PostgreSQL since start' },
  { id: 'lag', category: 'Samples', tag: 'Count', name: 'records of ofa_assets not yet committed' },
]
const STAT_IDS: ReadonlySet<string> = new Set(HISTORIAN_DATA_ITEMS.map((d) => d.id))

export interface HistorianStats {
  /** Rows committed since start (observations, conditions, commands, assets). */
  rowsWritten: number
  /** Batches committed since start. */
  batches: number
  /** Records of the log that were not observations (counted, passed over). */
  skipped: number
  /** Partitions of `observations` this historian created. */
  partitionsCreated: number
}

function coded(code: 'OFA_HISTORIAN_CONNECT' | 'OFA_HISTORIAN_WRITE', message: string, err: unknown) {
  const pgCode = (err as { code?: unknown }).code
  const detail = `${(err as Error).message ?? String(err)}${typeof pgCode === 'string' ? ` (${pgCode})` : ''}`
  return new OpenFactoryError(code, `${message}: ${detail}`, { cause: err, retryable: true })
}

export class PostgresHistorian implements Connector {
  readonly name: string
  readonly stats: HistorianStats = { rowsWritten: 0, batches: 0, skipped: 0, partitionsCreated: 0 }
  readonly #app: AppConfig
  readonly #cfg: HistorianConfig
  readonly #deps: AppKindDeps
  readonly #s: string
  #ctx: ConnectorContext | undefined
  #stop: AbortController | undefined
  #loop: Promise<void> | undefined
  #availReason: string | null | undefined
  readonly #hooks: HistorianTestHooks
  /** The factory's historians' own stats: rows only with `store_own_stats`. */
  readonly #passOver: (asset: string, item: string) => boolean
  /** The next offset committed per `ofa_assets` partition (for `lag`). */
  readonly #committed = new Map<number, number>()

  constructor(app: AppConfig, cfg: HistorianConfig, deps: AppKindDeps, testHooks: HistorianTestHooks = {}) {
    this.name = app.uuid
    this.#app = app
    this.#cfg = cfg
    this.#deps = deps
    this.#s = ident(cfg.schema)
    this.#hooks = testHooks
    const historians = new Set([app.uuid, ...deps.factory.apps.filter((a) => a.spec.historian).map((a) => a.uuid)])
    this.#passOver = cfg.storeOwnStats ? () => false : (asset, item) => historians.has(asset) && STAT_IDS.has(item)
  }

  async start(ctx: ConnectorContext): Promise<void> {
    this.#ctx = ctx
    this.#stop = new AbortController()
    this.#availReason = undefined
    ctx.declareAssets([appAsset(this.#app, HISTORIAN_DATA_ITEMS)])
    const stop = this.#stop.signal
    this.#loop = Promise.all([this.#run(stop), this.#report(stop)]).then(
      () => {},
      (err: unknown) => ctx.fail(err as Error),
    )
  }

  async stop(): Promise<void> {
    this.#stop?.abort()
    await this.#loop
  }

  #available(up: boolean, reason?: string): void {
    const key = up ? null : (reason ?? '')
    if (this.#availReason === key) return
    this.#availReason = key
    this.#ctx?.setAvailable(this.name, up, reason)
  }

  /** Connect, migrate, stream; after any failure: UNAVAILABLE with the coded reason, backoff, again. */
  async #run(stop: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 })
    const logger = this.#deps.logger
    while (!stop.aborted) {
      const session = new AbortController()
      const onStop = () => session.abort()
      stop.addEventListener('abort', onStop)
      let client: pg.Client | undefined
      let lost: unknown
      try {
        client = await this.#connect()
        client.on('error', (err) => {
          lost = err
          session.abort()
        })
        const state = await migrate(client, this.#cfg.schema)
        checkPartitionSpan(state, this.#cfg.schema, this.#cfg.partition)
        this.#available(true)
        logger.info('historian connected', { target: this.#cfg.target, schema: this.#cfg.schema })
        await this.#stream(client, state, session.signal, () => backoff.reset())
        if (lost !== undefined) throw coded('OFA_HISTORIAN_WRITE', `connection to ${this.#cfg.target} lost`, lost)
      } catch (err) {
        if (stop.aborted) break
        const e = isOpenFactoryError(err)
          ? err
          : lost !== undefined
            ? coded('OFA_HISTORIAN_WRITE', `connection to ${this.#cfg.target} lost`, lost)
            : coded('OFA_HISTORIAN_WRITE', `writing to ${this.#cfg.target}`, err)
        logger.warn('historian failed; retrying', { error: e.format() })
        this.#available(false, `${e.code}: ${e.message}`)
        await sleep(backoff.next(), stop)
      } finally {
        session.abort()
        stop.removeEventListener('abort', onStop)
        await client?.end().catch(() => {})
      }
    }
  }

  #password(): string | undefined {
    const { passwordEnv, passwordFile } = this.#cfg
    if (passwordEnv !== undefined) {
      const v = this.#deps.env[passwordEnv]
      if (v === undefined || v === '') {
        throw new OpenFactoryError('OFA_HISTORIAN_CONNECT', `password_env ${passwordEnv} is not set`, {
          retryable: true,
        })
      }
      return v
    }
    if (passwordFile !== undefined) {
      try {
        return readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '')
      } catch (err) {
        throw coded('OFA_HISTORIAN_CONNECT', `password_file ${passwordFile} cannot be read`, err)
      }
    }
    return undefined
  }

  async #connect(): Promise<pg.Client> {
    const password = this.#password()
    const url = new URL(this.#cfg.url)
    // The password goes into the URL handed to pg only, in memory: never logged, never in the config.
    if (password !== undefined) url.password = encodeURIComponent(password)
    const client = new pg.Client({
      connectionString: url.toString(),
      connectionTimeoutMillis: 10_000,
      // A server that vanished without closing (a cable, a crashed host) is found by TCP keepalive.
      keepAlive: true,
      application_name: `openfactory-historian ${this.name}`.slice(0, 63),
    })
    client.on('error', () => {}) // until the caller's handler; a connect error rejects connect()
    try {
      await client.connect()
    } catch (err) {
      await client.end().catch(() => {})
      throw coded('OFA_HISTORIAN_CONNECT', `cannot connect to ${this.#cfg.target}`, err)
    }
    return client
  }

  /** Where each partition of `topic` resumes: the stored offsets, else where `start` says. */
  async #resume(client: pg.Client, topic: string, start: 'earliest' | 'latest'): Promise<Map<number, number>> {
    const desc = await this.#deps.eventLog.describeTopic(topic)
    const stored = new Map<number, number>()
    const r = await client.query(`SELECT log_partition, next_offset FROM ${this.#s}.log_offsets WHERE topic = $1`, [
      topic,
    ])
    for (const row of r.rows as { log_partition: number; next_offset: string }[]) {
      stored.set(row.log_partition, Number(row.next_offset))
    }
    const from = new Map<number, number>()
    const fresh: [number, number][] = []
    for (const p of desc.partitionStates) {
      const s = stored.get(p.partition)
      if (s === undefined) {
        const o = start === 'latest' ? p.endOffset : p.startOffset
        from.set(p.partition, o)
        if (start === 'latest') fresh.push([p.partition, o])
      } else if (s < p.startOffset) {
        this.#deps.logger.warn('historian: records expired from the log before they were stored', {
          topic,
          partition: p.partition,
          lost: p.startOffset - s,
        })
        from.set(p.partition, p.startOffset)
      } else if (s > p.endOffset) {
        this.#deps.logger.warn('historian: the database has stored more than the log holds (a new log?)', {
          topic,
          partition: p.partition,
          stored: s,
          end: p.endOffset,
        })
        from.set(p.partition, p.endOffset)
      } else from.set(p.partition, s)
    }
    // `latest` is decided once: stored at once, so that a restart does not skip what arrived meanwhile.
    if (fresh.length > 0) await this.#saveOffsets(client, topic, fresh)
    return from
  }

  async #saveOffsets(client: pg.Client, topic: string, offsets: readonly (readonly [number, number])[]): Promise<void> {
    await client.query(
      `INSERT INTO ${this.#s}.log_offsets (topic, log_partition, next_offset)
         SELECT $1, p, o FROM unnest($2::int[], $3::bigint[]) AS x(p, o)
       ON CONFLICT (topic, log_partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`,
      [topic, offsets.map((o) => o[0]), offsets.map((o) => o[1])],
    )
  }

  async #stream(client: pg.Client, state: SchemaState, signal: AbortSignal, healthy: () => void): Promise<void> {
    const assetsTopic = TOPICS.assets
    const registryTopic = TOPICS.registry
    const assetsFrom = await this.#resume(client, assetsTopic, this.#cfg.start)
    const registryFrom = await this.#resume(client, registryTopic, 'earliest')
    this.#committed.clear()
    for (const [p, o] of assetsFrom) this.#committed.set(p, o)
    const lastAvail = new Map<string, string>()
    const seeded = await client.query(
      `SELECT asset, item, value_text FROM ${this.#s}.latest WHERE item IN ('avail', 'agent_avail')`,
    )
    for (const row of seeded.rows as { asset: string; item: string; value_text: string | null }[]) {
      lastAvail.set(`${row.asset}\0${row.item}`, row.value_text ?? '')
    }
    if (this.#cfg.backfill) await this.#backfill(client, state, assetsFrom, signal)

    const maker = new RowMaker(this.#cfg, assetsTopic, lastAvail, this.#passOver)
    const inner = new AbortController()
    const onAbort = () => inner.abort()
    signal.addEventListener('abort', onAbort)
    let failure: unknown
    const fail = (err: unknown) => {
      failure ??= err
      inner.abort()
    }
    let batch = new Batch()
    let flushing: Promise<void> = Promise.resolve()
    const flush = (): Promise<void> => {
      flushing = flushing.then(async () => {
        if (batch.records === 0) return
        const b = batch
        batch = new Batch()
        await this.#write(client, state, b)
        healthy()
      })
      return flushing
    }
    const max = this.#cfg.batchRows
    const pump = async (topic: string, from: Map<number, number>) => {
      for await (const records of this.#deps.eventLog.follow(topic, { from, signal: inner.signal, maxRecords: max })) {
        if (records.length === 0) continue
        if (batch.records === 0) batch.firstAt = Date.now()
        for (const r of records) maker.add(batch, r)
        if (batch.rows >= max || batch.records >= max * 4) {
          // One batch written while the next fills: wait for the one before, not for this one.
          const before = flushing
          flush().catch(fail)
          await before
        }
      }
    }
    const timer = setInterval(
      () => {
        if (batch.records > 0 && Date.now() - batch.firstAt >= this.#cfg.batchMs) flush().catch(fail)
      },
      Math.max(5, Math.min(100, Math.floor(this.#cfg.batchMs / 2))),
    )
    try {
      await Promise.all([pump(registryTopic, registryFrom).catch(fail), pump(assetsTopic, assetsFrom).catch(fail)])
      await flushing.catch(fail)
    } finally {
      clearInterval(timer)
      signal.removeEventListener('abort', onAbort)
    }
    if (failure !== undefined) throw failure
  }

  /** Copies `text` into `table` with COPY FROM STDIN (text format). */
  async #copy(client: pg.Client, table: string, columns: string, text: string): Promise<void> {
    const stream = client.query(copyFrom(`COPY ${this.#s}.${table} (${columns}) FROM STDIN`))
    await pipeline(Readable.from([Buffer.from(text, 'utf8')]), stream)
  }

  /** One batch, one transaction: rows, latest values, assets and the log offsets after them. */
  async #write(client: pg.Client, state: SchemaState, b: Batch): Promise<void> {
    try {
      if (b.observations.length > 0) {
        this.stats.partitionsCreated += await ensurePartitions(
          client,
          this.#cfg.schema,
          state,
          this.#cfg.partition,
          b.observations.map((r) => r.time),
        )
      }
      await client.query('BEGIN')
      if (b.observations.length > 0)
        await this.#copy(client, 'observations', OBSERVATION_COLUMNS, observationsCopy(b.observations))
      if (b.conditions.length > 0)
        await this.#copy(client, 'conditions', CONDITION_COLUMNS, conditionsCopy(b.conditions))
      if (b.commands.length > 0) await this.#copy(client, 'commands', COMMAND_COLUMNS, commandsCopy(b.commands))
      await this.#latest(client, b)
      await this.#assets(client, b)
      const byTopic = new Map<string, [number, number][]>()
      for (const o of b.offsets.values()) {
        const list = byTopic.get(o.topic) ?? []
        list.push([o.partition, o.next])
        byTopic.set(o.topic, list)
      }
      for (const [topic, list] of byTopic) await this.#saveOffsets(client, topic, list)
      await this.#hooks.beforeCommit?.({ observations: b.observations.length })
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw isOpenFactoryError(err) ? err : coded('OFA_HISTORIAN_WRITE', `a batch into ${this.#cfg.target}`, err)
    }
    for (const o of b.offsets.values()) if (o.topic === TOPICS.assets) this.#committed.set(o.partition, o.next)
    this.stats.rowsWritten += b.rows
    this.stats.batches++
    this.stats.skipped += b.skipped
  }

  async #latest(client: pg.Client, b: Batch): Promise<void> {
    type L = [string, string, number, number | null, string | null, string, string, string | null]
    const last = new Map<string, L>()
    for (const r of b.observations) {
      const k = `${r.asset}\0${r.item}`
      const old = last.get(k)
      if (!old || old[2] <= r.time)
        last.set(k, [r.asset, r.item, r.time, r.valueNum, r.valueText, r.type, r.tag, r.quality])
    }
    for (const r of b.conditions) {
      const k = `${r.asset}\0${r.item}`
      const old = last.get(k)
      if (!old || old[2] <= r.time) last.set(k, [r.asset, r.item, r.time, null, r.level, 'Condition', r.tag, null])
    }
    if (last.size === 0) return
    const rows = [...last.values()]
    const col = <I extends number>(i: I) => rows.map((r) => r[i])
    await client.query(
      `INSERT INTO ${this.#s}.latest AS l (asset, item, time, value_num, value_text, type, tag, quality)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::text[], $6::text[], $7::text[], $8::text[])
       ON CONFLICT (asset, item) DO UPDATE SET time = excluded.time, value_num = excluded.value_num,
         value_text = excluded.value_text, type = excluded.type, tag = excluded.tag, quality = excluded.quality
       WHERE l.time <= excluded.time`,
      [col(0), col(1), rows.map((r) => new Date(r[2]).toISOString()), col(3), col(4), col(5), col(6), col(7)],
    )
  }

  async #assets(client: pg.Client, b: Batch): Promise<void> {
    if (b.assets.size === 0) return
    const live = [...b.assets.values()].filter((a) => a.type !== null)
    for (const a of b.assets.values()) {
      if (a.type !== null) continue
      await client.query(`UPDATE ${this.#s}.assets SET removed_at = $2 WHERE asset = $1`, [
        a.asset,
        new Date(a.time).toISOString(),
      ])
    }
    if (live.length === 0) return
    await client.query(
      `INSERT INTO ${this.#s}.assets (asset, type, uns_id, uns_levels, declaration, declared_at, removed_at)
         SELECT a, t, u, l::jsonb, d::jsonb, ts, NULL
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS x(a, t, u, l, d, ts)
       ON CONFLICT (asset) DO UPDATE SET type = excluded.type, uns_id = excluded.uns_id, uns_levels = excluded.uns_levels,
         declaration = excluded.declaration, declared_at = excluded.declared_at, removed_at = NULL`,
      [
        live.map((a) => a.asset),
        live.map((a) => a.type),
        live.map((a) => a.unsId),
        live.map((a) => a.unsLevels),
        live.map((a) => a.declaration),
        live.map((a) => new Date(a.time).toISOString()),
      ],
    )
  }

  /**
   * The backfill: the records of `ofa_assets` appended within [from, to), up to where the historian resumes, stored
   * once more through staging tables with ON CONFLICT DO NOTHING (a row already there — same log partition and
   * offset — stays as it is). Done once per range (`backfills`); a backfill cut short runs again from the start.
   */
  async #backfill(
    client: pg.Client,
    state: SchemaState,
    resume: ReadonlyMap<number, number>,
    signal: AbortSignal,
  ): Promise<void> {
    const bf = this.#cfg.backfill
    if (!bf) return
    const s = this.#s
    const done = await client.query(`SELECT 1 FROM ${s}.backfills WHERE range = $1`, [bf.text])
    if ((done.rowCount ?? 0) > 0) return
    const logger = this.#deps.logger
    logger.info('historian: backfill starts', { range: bf.text })
    const desc = await this.#deps.eventLog.describeTopic(TOPICS.assets)
    const maker = new RowMaker(this.#cfg, TOPICS.assets, new Map(), this.#passOver)
    let records = 0
    for (const p of desc.partitionStates) {
      const end = resume.get(p.partition) ?? p.endOffset
      let offset = p.startOffset
      while (offset < end && !signal.aborted) {
        const got = await this.#deps.eventLog.read(TOPICS.assets, p.partition, offset, {
          maxRecords: Math.min(this.#cfg.batchRows, end - offset),
        })
        if (got.length === 0) break
        const batch = new Batch()
        for (const r of got) {
          if (r.offset >= end) break
          offset = r.offset + 1
          if (r.timestamp >= bf.from && r.timestamp < bf.to) maker.add(batch, r)
        }
        records += batch.records
        if (batch.rows > 0) await this.#writeBackfill(client, state, batch)
      }
    }
    if (signal.aborted) return
    await client.query(`INSERT INTO ${s}.backfills (range, records) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
      bf.text,
      records,
    ])
    logger.info('historian: backfill done', { range: bf.text, records })
  }

  async #writeBackfill(client: pg.Client, state: SchemaState, b: Batch): Promise<void> {
    const s = this.#s
    try {
      if (b.observations.length > 0) {
        this.stats.partitionsCreated += await ensurePartitions(
          client,
          this.#cfg.schema,
          state,
          this.#cfg.partition,
          b.observations.map((r) => r.time),
        )
      }
      await client.query('BEGIN')
      for (const [table, columns, text, n] of [
        ['observations', OBSERVATION_COLUMNS, observationsCopy(b.observations), b.observations.length],
        ['conditions', CONDITION_COLUMNS, conditionsCopy(b.conditions), b.conditions.length],
        ['commands', COMMAND_COLUMNS, commandsCopy(b.commands), b.commands.length],
      ] as const) {
        if (n === 0) continue
        await client.query(
          `CREATE TEMP TABLE IF NOT EXISTS backfill_${table} (LIKE ${s}.${table}) ON COMMIT DELETE ROWS`,
        )
        const stream = client.query(copyFrom(`COPY backfill_${table} (${columns}) FROM STDIN`))
        await pipeline(Readable.from([Buffer.from(text, 'utf8')]), stream)
        const r = await client.query(
          `INSERT INTO ${s}.${table} (${columns}) SELECT ${columns} FROM backfill_${table} ON CONFLICT DO NOTHING`,
        )
        this.stats.rowsWritten += r.rowCount ?? 0
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw isOpenFactoryError(err)
        ? err
        : coded('OFA_HISTORIAN_WRITE', `a backfill batch into ${this.#cfg.target}`, err)
    }
  }

  /** Every 5 s: `rows_written` and `lag` on the app's asset, when they changed. */
  async #report(stop: AbortSignal): Promise<void> {
    let lastRows = -1
    let lastLag = -1
    while (!stop.aborted) {
      await sleep(STATS_MS, stop)
      if (stop.aborted || this.#committed.size === 0) continue
      let lag = 0
      try {
        const desc = await this.#deps.eventLog.describeTopic(TOPICS.assets)
        for (const p of desc.partitionStates) lag += Math.max(0, p.endOffset - (this.#committed.get(p.partition) ?? 0))
      } catch {
        continue
      }
      const rows = this.stats.rowsWritten
      if (rows === lastRows && lag === lastLag) continue
      lastRows = rows
      lastLag = lag
      const timestamp = isoTimestamp(this.#deps.now?.() ?? Date.now())
      this.#ctx?.publish(this.name, [
        { id: 'rows_written', value: rows, tag: 'Count', type: 'Samples', attributes: { timestamp } },
        { id: 'lag', value: lag, tag: 'Count', type: 'Samples', attributes: { timestamp } },
      ])
    }
  }
}
