/**
 * The SQL engine: statements in, streams, tables and persistent queries out, on any backbone (`EventLog`).
 *
 * A statement is parsed (parser.ts), planned against the catalog (planner.ts → plan.ts: nothing happens while
 * planning), recorded on the command topic (command-log.ts) when it changes the catalog, then carried out: topics
 * created, the catalog changed, persistent queries started as processors (processor/, exactly once). An engine
 * opening on a log replays the command topic, so it comes back with every stream, table and query it had, each
 * query resuming from its own checkpoint.
 *
 * Pull queries read a table's current state (table-view.ts: the table's topic followed, caught up to the end it had
 * when the query came); push queries (`EMIT CHANGES`) follow a source's topic, and clients asking the same push
 * query from its latest records share one computation.
 */
import type { EventLog, LogRecord, TopicDescription } from '@openfactory/log'
import { tail } from '@openfactory/log'
import { type DebugLogger, isOpenFactoryError, OpenFactoryError, silentLogger } from '@openfactory/model'
import { castValue, valueKey } from './cast.ts'
import { Catalog, type DataSource } from './catalog.ts'
import { type Command, CommandLog } from './command-log.ts'
import type { KsqlEntity, QueryResult, SqlEngineApi, StatementProperties, TableRows } from './engine-api.ts'
import { queryDescription, queryInfo, sourceDescription, sourceInfo } from './entities.ts'
import { defaultFunctions, functionNames } from './functions/index.ts'
import type { FunctionRegistry } from './functions/registry.ts'
import { parseStatements } from './parser.ts'
import type { Plan, QueryBuild, QueryPlan, SelectPlan, TopicNeed } from './plan.ts'
import { planStatement } from './planner.ts'
import type { ProcessorSpec } from './processor/processor.ts'
import { checkAssignmentOptions, type ProcessorHandle, runProcessor } from './processor/run-processor.ts'
import { PushHub } from './push-hub.ts'
import { TableView } from './table-view.ts'
import { formatType, SqlType, type SqlValue } from './types.ts'

export interface SqlEngineOptions {
  readonly eventLog: EventLog
  readonly logger?: DebugLogger
  /** Names this engine in `/info` (ksqlDB's `ksql.service.id`). Default `openfactory`. */
  readonly serviceId?: string
  /** Default `_ofa_sql_commands`. */
  readonly commandTopic?: string
  /** Partitions of every query this process runs (default all: the embedded log, or one process on Kafka). */
  readonly partitions?: readonly number[]
  /**
   * How every query of this engine gets its partitions: `static` (default: `partitions`, all by default) or `group`
   * (a consumer group per query processor spreads them over the engines running it; on Kafka, or engines sharing
   * one embedded log). See processor/run-processor.ts.
   */
  readonly assignment?: 'static' | 'group'
  /** Group assignment: the fence interval in ms (default 5000; processor/task.ts). */
  readonly fenceMs?: number
  /** Group assignment: the session timeout of each query's group member in ms (default 10 000). */
  readonly sessionTimeoutMs?: number
  /** The functions statements may call, and SHOW FUNCTIONS lists (default: `defaultFunctions`, functions/index.ts). */
  readonly functions?: FunctionRegistry
}

interface RunningQuery {
  readonly info: QueryPlan
  readonly processors: readonly ProcessorSpec[]
  readonly handles: ProcessorHandle[]
  failed: boolean
}

/** Properties a statement runs with when it names none: ksqlDB's defaults we honour. */
const DEFAULT_PROPERTIES: Readonly<Record<string, string>> = { 'auto.offset.reset': 'latest' }

export async function openSqlEngine(opts: SqlEngineOptions): Promise<SqlEngine> {
  const engine = new SqlEngine(opts)
  await engine.replay()
  return engine
}

export class SqlEngine implements SqlEngineApi {
  readonly catalog = new Catalog()
  readonly serviceId: string
  readonly #log: EventLog
  readonly #logger: DebugLogger
  readonly #commands: CommandLog
  readonly #opts: SqlEngineOptions
  readonly #running = new Map<string, RunningQuery>()
  readonly #views = new Map<string, TableView>()
  readonly #hubs = new Map<string, PushHub>()
  /** Session properties (`SET`), under the statement's own. */
  readonly #session = new Map<string, string>()
  #closed = false
  #transient = 0
  readonly #functions: FunctionRegistry

  constructor(opts: SqlEngineOptions) {
    checkAssignmentOptions(opts, 'SQL engine')
    this.#opts = opts
    this.#log = opts.eventLog
    this.#logger = opts.logger ?? silentLogger
    this.serviceId = opts.serviceId ?? 'openfactory'
    this.#commands = new CommandLog(opts.eventLog, opts.commandTopic)
    this.#functions = opts.functions ?? defaultFunctions
  }

  get healthy(): boolean {
    return !this.#closed && [...this.#running.values()].every((q) => !q.failed)
  }

  /** Reads the command topic and runs every command again (at open). */
  async replay(): Promise<void> {
    const commands = await this.#commands.open()
    for (const c of commands) {
      try {
        for (const stmt of parseStatements(c.statement)) {
          const plan = planStatement(stmt, {
            catalog: this.catalog,
            properties: this.#props(c.properties),
            functions: this.#functions,
          })
          await this.#apply(plan, stmt.text, c.properties, c)
        }
      } catch (err) {
        // A command that no longer applies (a newer version refuses it) is logged, not fatal: the rest run.
        this.#logger.error('SQL command of the command topic not replayed', {
          statement: c.statement,
          error: err instanceof Error ? err.message : String(err),
        })
      }
    }
    if (commands.length > 0) {
      this.#logger.info('SQL engine restored', {
        commands: commands.length,
        sources: this.catalog.sources().length,
        queries: this.#running.size,
      })
    }
  }

  #props(own?: StatementProperties): Readonly<Record<string, string>> {
    const out: Record<string, string> = { ...DEFAULT_PROPERTIES, ...Object.fromEntries(this.#session) }
    for (const [k, v] of Object.entries(own ?? {})) out[k] = String(v)
    return out
  }

  async execute(text: string, opts: { properties?: StatementProperties } = {}): Promise<KsqlEntity[]> {
    this.#check()
    const out: KsqlEntity[] = []
    for (const stmt of parseStatements(text)) {
      const plan = planStatement(stmt, {
        catalog: this.catalog,
        properties: this.#props(opts.properties),
        functions: this.#functions,
      })
      if (plan.kind === 'select') {
        throw new OpenFactoryError(
          'OFA_SQL_UNSUPPORTED',
          'a SELECT is a query: run it with query() (POST /query-stream, POST /query), not as a statement',
          { where: stmt.where },
        )
      }
      const entity = await this.#apply(plan, stmt.text, opts.properties ?? {})
      if (entity) out.push(entity)
    }
    return out
  }

  /** Carries a plan out. `replayed`: the command it comes from (nothing is recorded again). */
  async #apply(
    plan: Plan,
    text: string,
    properties: StatementProperties,
    replayed?: Command,
  ): Promise<KsqlEntity | undefined> {
    const status = (message: string, queryId?: string): KsqlEntity => ({
      '@type': 'currentStatus',
      statementText: text,
      commandId: `${plan.kind}/${queryId ?? ''}`,
      commandStatus: { status: 'SUCCESS', message, ...(queryId ? { queryId } : {}) },
      commandSequenceNumber: -1,
      warnings: [],
    })
    const record = async (queryId?: string) => {
      if (!replayed) await this.#commands.append({ statement: text, properties, ...(queryId ? { queryId } : {}) })
    }
    switch (plan.kind) {
      case 'create-source': {
        const existing = this.catalog.source(plan.source.name)
        if (existing && plan.ifNotExists) return status(`${plan.source.name} exists already`)
        if (existing && !plan.orReplace) this.catalog.add(plan.source) // throws OFA_SQL_EXISTS
        await this.#ensureTopic(plan.topic)
        await record()
        this.catalog.add(plan.source, { replace: plan.orReplace })
        await this.#closeView(plan.source.name)
        return status(`${plan.source.kind === 'STREAM' ? 'Stream' : 'Table'} created`)
      }
      case 'create-as': {
        const existing = this.catalog.source(plan.source.name)
        if (existing && plan.ifNotExists) return status(`${plan.source.name} exists already`)
        if (existing && !plan.orReplace) this.catalog.add(plan.source)
        const previous = existing?.queryId
        const queryId = replayed?.queryId ?? previous ?? this.catalog.nextQueryId(plan.query.kind, plan.source.name)
        await this.#ensureTopic(plan.topic)
        const built = await this.#build(queryId, plan.query)
        await record(queryId)
        if (previous) await this.#stopQuery(previous)
        this.catalog.add({ ...plan.source, queryId }, { replace: plan.orReplace })
        await this.#startQuery(queryId, plan.query, built, text, properties)
        await this.#closeView(plan.source.name)
        return status(`Created query with ID ${queryId}`, queryId)
      }
      case 'insert': {
        const queryId = replayed?.queryId ?? this.catalog.nextQueryId('INSERT', plan.query.sink)
        const built = await this.#build(queryId, plan.query)
        await record(queryId)
        await this.#startQuery(queryId, plan.query, built, text, properties)
        return status(`Created query with ID ${queryId}`, queryId)
      }
      case 'insert-values': {
        await this.#log.append(plan.sink.topic, [
          {
            key: plan.record.key,
            value: plan.record.value,
            ...(plan.record.timestamp !== undefined ? { timestamp: plan.record.timestamp } : {}),
          },
        ])
        return undefined
      }
      case 'drop': {
        const s = this.catalog.source(plan.name)
        if (!s) {
          if (plan.ifExists) return status(`${plan.name} does not exist`)
          this.catalog.require(plan.name)
        }
        if (s && s.kind !== plan.sourceKind) {
          throw new OpenFactoryError(
            'OFA_SQL_UNKNOWN_SOURCE',
            `${plan.name} is a ${s.kind.toLowerCase()}, not a ${plan.sourceKind.toLowerCase()}`,
          )
        }
        // The query that writes it goes with it (as ksqlDB does); queries reading it keep it (the drop fails).
        const writers = this.catalog.queries().filter((q) => q.sink === plan.name)
        const readers = this.catalog.queries().filter((q) => q.sources.includes(plan.name) && q.sink !== plan.name)
        if (readers.length > 0) this.catalog.drop(plan.name)
        await record()
        for (const q of writers) await this.#stopQuery(q.id)
        this.catalog.drop(plan.name)
        await this.#closeView(plan.name)
        if (plan.deleteTopic) {
          this.#logger.warn('DROP ... DELETE TOPIC: the topic is kept (topics are deleted by their owner)', {
            topic: s?.topic,
          })
        }
        return status(`Source \`${plan.name}\` (topic: ${s?.topic}) was dropped.`)
      }
      case 'terminate': {
        const ids = plan.queryId === 'ALL' ? [...this.#running.keys()] : [plan.queryId]
        for (const id of ids) if (!this.catalog.query(id)) this.catalog.removeQuery(id)
        await record()
        for (const id of ids) await this.#stopQuery(id)
        return status(`Query terminated.`)
      }
      case 'set':
        this.#session.set(plan.name, plan.value)
        return undefined
      case 'unset':
        this.#session.delete(plan.name)
        return undefined
      case 'show':
        return this.#show(plan.what, text)
      case 'explain': {
        const q = this.catalog.query(plan.queryId) ?? this.catalog.query(plan.queryId.toUpperCase())
        if (!q) {
          throw new OpenFactoryError(
            'OFA_SQL_UNKNOWN_SOURCE',
            `no query ${plan.queryId}; queries: ${
              this.catalog
                .queries()
                .map((x) => x.id)
                .join(', ') || 'none'
            }`,
          )
        }
        const running = this.#running.get(q.id)
        return {
          '@type': 'queryDescription',
          statementText: text,
          queryDescription: queryDescription(q, this.catalog, running?.processors ?? [], running?.failed ?? false),
          warnings: [],
        }
      }
      case 'describe': {
        const s = this.catalog.require(plan.name)
        const d = await this.#log.describeTopic(s.topic).catch(() => undefined)
        return {
          '@type': 'sourceDescription',
          statementText: text,
          sourceDescription: sourceDescription(
            s,
            this.catalog,
            { partitions: d?.partitions ?? 0, replication: d?.replicationFactor ?? 0 },
            (id) => this.#running.get(id)?.failed ?? false,
          ),
          warnings: [],
        }
      }
      case 'select':
        throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', 'a SELECT is a query, not a statement')
    }
  }

  async #show(what: Extract<Plan, { kind: 'show' }>['what'], text: string): Promise<KsqlEntity> {
    const sources = this.catalog.sources().sort((a, b) => a.name.localeCompare(b.name))
    switch (what) {
      case 'STREAMS':
        return {
          '@type': 'streams',
          statementText: text,
          streams: sources.filter((s) => s.kind === 'STREAM').map(sourceInfo),
          warnings: [],
        }
      case 'TABLES':
        return {
          '@type': 'tables',
          statementText: text,
          tables: sources.filter((s) => s.kind === 'TABLE').map(sourceInfo),
          warnings: [],
        }
      case 'QUERIES':
        return {
          '@type': 'queries',
          statementText: text,
          queries: this.catalog
            .queries()
            .map((q) => queryInfo(q, this.catalog, this.#running.get(q.id)?.failed ?? false)),
          warnings: [],
        }
      case 'TOPICS': {
        const names = (await this.#log.listTopics()).filter((t) => !t.startsWith('_')).sort()
        const topics = []
        for (const name of names) {
          const d = await this.#log.describeTopic(name)
          topics.push({ name, replicaInfo: d.partitionStates.map(() => d.replicationFactor) })
        }
        return { '@type': 'kafka_topics', statementText: text, topics, warnings: [] }
      }
      case 'PROPERTIES': {
        const props = this.#props()
        return {
          '@type': 'properties',
          statementText: text,
          properties: Object.entries(props).map(([name, value]) => ({ name, scope: 'SESSION', value })),
          overwrittenProperties: [...this.#session.keys()],
          defaultProperties: Object.keys(DEFAULT_PROPERTIES).filter((k) => !this.#session.has(k)),
          warnings: [],
        }
      }
      case 'FUNCTIONS':
        return {
          '@type': 'function_names',
          statementText: text,
          functions: functionNames(this.#functions),
          warnings: [],
        }
    }
  }

  async #ensureTopic(t: TopicNeed): Promise<void> {
    const exists = (await this.#log.listTopics()).includes(t.name)
    if (exists) return
    if (!t.create) {
      throw new OpenFactoryError(
        'OFA_SQL_UNKNOWN_SOURCE',
        `topic ${t.name} does not exist: create it, or give PARTITIONS in the WITH clause to have it created`,
      )
    }
    const like =
      t.partitions === undefined && t.partitionsLike ? await this.#log.describeTopic(t.partitionsLike) : undefined
    await this.#log.createTopic({
      name: t.name,
      partitions: t.partitions ?? like?.partitions ?? 1,
      ...(t.replicas ? { replicationFactor: t.replicas } : {}),
      ...(t.compacted ? { cleanupPolicy: 'compact' as const } : {}),
    })
  }

  /** The query's processors, given its sources' partition counts; its internal topics created when missing. */
  async #build(queryId: string, plan: QueryPlan): Promise<QueryBuild> {
    const counts = new Map<string, number>()
    for (const name of plan.sources) {
      const topic = this.catalog.require(name).topic
      counts.set(topic, (await this.#log.describeTopic(topic)).partitions)
    }
    const built = plan.build({
      queryId,
      partitions: (topic) => {
        const n = counts.get(topic)
        if (n === undefined) throw new Error(`query ${queryId}: ${topic} is not the topic of one of its sources`)
        return n
      },
    })
    for (const t of built.topics) await this.#ensureTopic(t)
    return built
  }

  async #startQuery(
    id: string,
    plan: QueryPlan,
    built: QueryBuild,
    text: string,
    properties: StatementProperties,
  ): Promise<void> {
    this.catalog.addQuery({ id, kind: plan.kind, sink: plan.sink, sources: plan.sources, statementText: text })
    const resetTo = String(this.#props(properties)['auto.offset.reset']) === 'earliest' ? 'earliest' : 'latest'
    const handles = built.processors.map((spec) =>
      runProcessor({
        eventLog: this.#log,
        spec,
        resetTo,
        logger: this.#logger,
        ...(this.#opts.partitions ? { partitions: this.#opts.partitions } : {}),
        ...(this.#opts.assignment ? { assignment: this.#opts.assignment } : {}),
        ...(this.#opts.fenceMs !== undefined ? { fenceMs: this.#opts.fenceMs } : {}),
        ...(this.#opts.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: this.#opts.sessionTimeoutMs } : {}),
      }),
    )
    const running: RunningQuery = { info: plan, processors: built.processors, handles, failed: false }
    this.#running.set(id, running)
    for (const h of handles) {
      h.ready.catch((err: unknown) => {
        running.failed = true
        this.#logger.error('persistent query failed to start', {
          query: id,
          error: err instanceof Error ? err.message : String(err),
        })
      })
    }
    await Promise.all(handles.map((h) => h.ready.catch(() => {})))
  }

  async #stopQuery(id: string): Promise<void> {
    const q = this.#running.get(id)
    this.#running.delete(id)
    if (this.catalog.query(id)) this.catalog.removeQuery(id)
    if (q) await Promise.all(q.handles.map((h) => h.stop()))
  }

  async #closeView(name: string): Promise<void> {
    const v = this.#views.get(name)
    this.#views.delete(name)
    await v?.close()
  }

  #view(source: DataSource): TableView {
    let v = this.#views.get(source.name)
    if (!v) {
      v = new TableView(this.#log, source, this.#logger)
      this.#views.set(source.name, v)
    }
    return v
  }

  async query(
    text: string,
    opts: { properties?: StatementProperties; signal?: AbortSignal } = {},
  ): Promise<QueryResult> {
    this.#check()
    const stmts = parseStatements(text)
    if (stmts.length !== 1) {
      throw new OpenFactoryError(
        'OFA_SQL_UNSUPPORTED',
        `a query is one SELECT statement; got ${stmts.length} statements`,
      )
    }
    const stmt = stmts[0] as (typeof stmts)[number]
    const plan = planStatement(stmt, {
      catalog: this.catalog,
      properties: this.#props(opts.properties),
      functions: this.#functions,
    })
    if (plan.kind !== 'select') {
      throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', 'query() runs a SELECT; run other statements with execute()', {
        where: stmt.where,
      })
    }
    const queryId = `transient_${plan.select.kind}_${++this.#transient}`
    return plan.select.kind === 'pull'
      ? this.#pull(queryId, plan.select, opts.signal)
      : this.#push(queryId, plan.select, opts.signal)
  }

  async tableRows(
    name: string,
    opts: { readonly key?: string; readonly limit?: number; readonly signal?: AbortSignal } = {},
  ): Promise<TableRows> {
    this.#check()
    const source = this.catalog.source(name) ?? this.catalog.source(name.toUpperCase())
    if (source?.kind !== 'TABLE') {
      const tables = this.catalog
        .sources()
        .filter((s) => s.kind === 'TABLE')
        .map((s) => s.name)
      throw new OpenFactoryError(
        'OFA_SQL_UNKNOWN_SOURCE',
        `${source ? `${source.name} is a stream` : `no table ${name}`}; tables: ${tables.join(', ') || 'none'}`,
      )
    }
    const schema = source.schema
    const keys = schema.keys
    const columns = schema.columns.map((c) => ({ name: c.name, type: formatType(c.type), key: c.role === 'key' }))
    const indexes = schema.columns.map((_, i) => i)
    if (schema.windowed) {
      const at = schema.rowtimeIndex + 3
      columns.splice(
        keys.length,
        0,
        ...['WINDOWSTART', 'WINDOWEND'].map((n) => ({ name: n, type: 'BIGINT', key: true })),
      )
      indexes.splice(keys.length, 0, at, at + 1)
    }
    // A key: its row (a windowed table: its row of every window).
    let key: { value: SqlValue } | undefined
    if (opts.key !== undefined) {
      if (keys.length !== 1) {
        throw new OpenFactoryError(
          'OFA_SQL_UNSUPPORTED',
          `${source.name} has ${keys.length} key columns: no lookup by one key`,
        )
      }
      const type = (keys[0] as (typeof keys)[number]).type
      key = { value: type.kind === 'STRING' ? opts.key : castValue(opts.key, SqlType.STRING, type) }
    }
    const view = this.#view(source)
    await view.catchUp(opts.signal)
    const rows: SqlValue[][] = []
    const limit = opts.limit ?? Number.POSITIVE_INFINITY
    const candidates =
      key === undefined ? view.rows() : source.windowed ? view.rows() : [view.get(JSON.stringify([key.value]))]
    const wanted = key === undefined ? undefined : valueKey(key.value)
    for (const row of candidates) {
      if (!row || (wanted !== undefined && valueKey(row[0] ?? null) !== wanted)) continue
      rows.push(indexes.map((i) => row[i] ?? null))
      if (rows.length >= limit) break
    }
    return { table: source.name, columns, rows }
  }

  async #pull(
    queryId: string,
    plan: Extract<SelectPlan, { kind: 'pull' }>,
    signal?: AbortSignal,
  ): Promise<QueryResult> {
    const view = this.#view(plan.table)
    await view.catchUp(signal)
    const rows = plan.answer(
      (key) => view.get(JSON.stringify(key)) ?? undefined,
      () => view.rows(),
    )
    return {
      kind: 'pull',
      header: { queryId, ...plan.header },
      rows: (async function* () {
        yield* rows
      })(),
      close: async () => {},
    }
  }

  /** The hub of push queries from now on a topic (created on the first, gone with the last). */
  #hub(topic: string): PushHub {
    let hub = this.#hubs.get(topic)
    if (!hub) {
      const created = new PushHub(this.#log, topic, this.#logger, () => {
        if (this.#hubs.get(topic) === created) this.#hubs.delete(topic)
      })
      hub = created
      this.#hubs.set(topic, hub)
    }
    return hub
  }

  /** Push queries from now, per topic read: one reader each, shared by its queries. */
  pushStats(): { topic: string; subscribers: number }[] {
    return [...this.#hubs.values()].map((h) => ({ topic: h.topic, subscribers: h.subscribers }))
  }

  async #push(
    queryId: string,
    plan: Extract<SelectPlan, { kind: 'push' }>,
    signal?: AbortSignal,
  ): Promise<QueryResult> {
    const abort = new AbortController()
    const stop = () => abort.abort()
    signal?.addEventListener('abort', stop, { once: true })
    const log = this.#log
    const logger = this.#logger
    // "From now": through the topic's hub, shared with every other push query from now on it (push-hub.ts).
    const batches: AsyncIterable<readonly LogRecord[]> =
      plan.from === 'latest'
        ? await this.#hub(plan.source.topic).subscribe(abort.signal)
        : (async function* () {
            for await (const b of tail(log, plan.source.topic, { from: 'earliest', signal: abort.signal, logger })) {
              yield b.records as LogRecord[]
            }
          })()
    const rows = (async function* (): AsyncGenerator<readonly SqlValue[]> {
      let sent = 0
      let skipped = 0
      try {
        for await (const records of batches) {
          for (const r of records) {
            let out: SqlValue[][]
            try {
              out = plan.rowsOf(r)
            } catch (err) {
              if (!isOpenFactoryError(err, 'OFA_SQL_VALUE')) throw err
              if (skipped++ < 100) logger.warn('push query: a record skipped', { query: queryId, error: err.message })
              continue
            }
            for (const row of out) {
              yield row
              if (plan.limit !== undefined && ++sent >= plan.limit) return
            }
          }
        }
      } finally {
        abort.abort()
        signal?.removeEventListener('abort', stop)
      }
    })()
    return {
      kind: 'push',
      header: { queryId, ...plan.header },
      rows,
      close: async () => {
        abort.abort()
        await rows.return(undefined)
      },
    }
  }

  /**
   * Resolves once every persistent query has processed every record its inputs held — repeated until a pass finds
   * nothing new, so that chains of queries settle too (tests and golden cases wait on it).
   */
  async settle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      let behind = false
      // One description per topic per pass: queries reading the same topic share it.
      const ends = new Map<string, Promise<TopicDescription>>()
      const describe = (topic: string) => {
        let d = ends.get(topic)
        if (!d) {
          d = this.#log.describeTopic(topic)
          ends.set(topic, d)
        }
        return d
      }
      for (const q of this.#running.values()) {
        for (const h of q.handles) {
          await h.ready.catch(() => {})
          const stats = h.stats().tasks
          for (const [p, t] of Object.entries(stats)) {
            const spec = h.spec
            for (let i = 0; i < spec.inputs.length; i++) {
              const d = await describe(spec.inputs[i] as string)
              const end = d.partitionStates[Number(p)]?.endOffset ?? 0
              if ((t.positions[i] ?? 0) < end) behind = true
            }
          }
        }
      }
      if (!behind) return
      if (Date.now() > deadline) throw new Error('queries did not settle in time')
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#running.values()].flatMap((q) => q.handles.map((h) => h.stop())))
    this.#running.clear()
    await Promise.all([...this.#views.values()].map((v) => v.close()))
    this.#views.clear()
  }

  #check(): void {
    if (this.#closed) throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', 'the SQL engine is closed')
  }
}
