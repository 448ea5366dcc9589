/**
 * The supervisor runs connectors: it starts them, restarts a failing one with backoff (model's retry rule), writes
 * everything they publish to the log through one buffered writer (records counted per connector: one that floods
 * is told it is congested, and past its limit loses its own oldest records, nobody else's), keeps each asset's
 * availability alive with heartbeats, and delivers commands to them and their answers back.
 *
 * What it puts on the log (keyed by asset UUID on `ofa_assets` unless said otherwise):
 * - on `declareAssets`: the `Asset` JSON on the compacted `ofa_registry`; the reference's attributes
 *   `AssetType`, `uns_id`, `references_above`, `references_below`; one `TYPE: "Method"` per method; and every
 *   data item as UNAVAILABLE until the device says otherwise (as an MTConnect agent does);
 * - `avail` (`TYPE: "Events"`, `TAG: "Availability"`): AVAILABLE with `ttl_ms` every heartbeat while the
 *   connector says its device is up; UNAVAILABLE with a reason when it goes down, fails or stops. A process
 *   that dies stops its heartbeats, and the state layer expires the asset after `ttl_ms` by itself;
 * - `<Method>_RESULT` for every `<Method>_CMD` addressed to one of its assets: `accepted` when the command is
 *   handed to the connector, then one final status — completed, failed, rejected, or timeout (ran longer than
 *   `commandTimeoutMs`). A command refused before it reaches the connector (no such method, invalid arguments,
 *   connector not running: rejected; waited longer than `commandExpiryMs`: timeout) gets the final status only.
 * - on `saveCheckpoint`: the connector's text on the compacted `ofa_connector_state`, keyed by the connector's name,
 *   through the same writer and after the records the connector published before it (a trailing topic of the
 *   writer: appended once the rest of its batch is durable). `loadCheckpoint` answers the last one saved in this
 *   process, else the last record of that key on the log (read backwards from the end of its partition). A log
 *   without that topic keeps checkpoints in memory only (said once).
 */
import {
  type EventLog,
  type GroupConsumer,
  type LogRecord,
  partitionFor,
  partitionsForKeys,
  type TopicPartitionOffset,
} from '@openfactory/log'
import {
  type Asset,
  type AssetDocument,
  type AssetEvent,
  AssetEvents,
  Backoff,
  type BackoffOptions,
  type CommandEnvelope,
  type CommandResult,
  checkMethodArguments,
  childLogger,
  createLogger,
  DEFAULT_AVAIL_TTL_MS,
  DEFAULT_HEARTBEAT_MS,
  type DebugLogger,
  decodeAssetEvent,
  encodeAssetDeclaration,
  encodeAssetDocument,
  encodeObservation,
  isOpenFactoryError,
  isoTimestamp,
  type Observation,
  sleep,
  TOPICS,
} from '@openfactory/model'
import { BufferedWriter, type BufferedWriterStats } from './buffered-writer.ts'
import type { Connector, ConnectorContext, ConnectorMetrics } from './connector.ts'

export interface SupervisorOptions {
  /** The backbone everything is written to and commands are read from. */
  readonly eventLog: EventLog
  /**
   * Consumer group reading commands (default `ofa-connectors`). It must be this supervisor's alone: commands
   * for assets it does not serve are passed over, so a group shared with another process would lose them.
   */
  readonly group?: string
  /** How long `start()` waits for the command reader to own its partitions before starting connectors (default 15 s). */
  readonly commandJoinTimeoutMs?: number
  readonly heartbeatMs?: number
  readonly ttlMs?: number
  /** Restart policy for failing connectors (default 500 ms doubling to 30 s, ±20 % jitter). */
  readonly restartBackoff?: BackoffOptions
  /** Restart policy for the command reader when reading fails (default 1 s doubling to 30 s). */
  readonly commandReaderBackoff?: BackoffOptions
  /** A connector that ran this long without failing gets its backoff reset (default 30 s). */
  readonly stableAfterMs?: number
  /** A method still running after this long is answered `timeout` (default 30 s). */
  readonly commandTimeoutMs?: number
  /** A command older than this when it reaches the connector is not executed but answered `timeout` (default 60 s). */
  readonly commandExpiryMs?: number
  /** Records kept while the log cannot take them, all connectors together (default 1 000 000). */
  readonly maxBuffered?: number
  /** Records of one connector kept while they wait for the log (default 100 000); past it its oldest are dropped. */
  readonly maxBufferedPerConnector?: number
  /**
   * Records of one connector waiting for the log from which it is `congested` (default 50 000; see connector.ts).
   * Records being appended count: a connector that obeys it gets at most about half of it durable per append's
   * round trip (10 000 capped MQTT at ≈ 40k messages/s while fsyncs took 50-150 ms; bench/mqtt-ingest.ts).
   */
  readonly highWaterPerConnector?: number
  /** Default: a logger of its own on stderr (`createLogger({ name: 'supervisor' })`). Connectors get children of it. */
  readonly logger?: DebugLogger
}

export type ConnectorState = 'idle' | 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped'

export interface ConnectorStatus {
  readonly name: string
  readonly state: ConnectorState
  readonly restarts: number
  readonly lastError?: string
  readonly assets: readonly string[]
}

interface Slot {
  readonly connector: Connector
  state: ConnectorState
  restarts: number
  lastError?: string
  assets: Map<string, Asset>
  available: Set<string>
  run: AbortController | null
  loop: Promise<void> | null
  /** Resolves once the connector's first `start` ended (running or failed): its assets are declared by then. */
  readonly firstStart: Promise<void>
  readonly endFirstStart: () => void
  firstStartDone: boolean
  /** Until when (epoch ms) commands wait for the first start: `commandExpiryMs` after the loop began. */
  firstStartWaitUntil: number
  /** The last checkpoint the connector saved in this process (queued, maybe not yet durable). */
  checkpoint?: string
}

/** Records read per step when looking for a connector's last checkpoint from the end of its partition. */
const CHECKPOINT_READ_STEP = 256

/**
 * The command reader commits at once after a batch with a command (a restart must not run it again), else at most
 * this often: records passed over are harmless to read again after a restart. A commit replaces a file durably (two
 * fsyncs and six more file operations on the thread pool); made after every batch of observations read back, it
 * competed with the log's own writes on the disk and the thread pool (bench/serve-ws-latency.ts, SHDR case).
 */
const PASSED_OVER_COMMIT_MS = 1000

export class Supervisor {
  readonly #eventLog: EventLog
  readonly #writer: BufferedWriter
  readonly #logger: DebugLogger
  readonly #opts: Required<
    Pick<
      SupervisorOptions,
      'heartbeatMs' | 'ttlMs' | 'stableAfterMs' | 'commandTimeoutMs' | 'commandExpiryMs' | 'group'
    >
  >
  readonly #restartBackoff: BackoffOptions
  readonly #commandReaderBackoff: BackoffOptions
  readonly #slots = new Map<string, Slot>()
  /** Asset UUID → the slot of the connector that serves it. */
  readonly #owners = new Map<string, Slot>()
  readonly #stop = new AbortController()
  #heartbeat: NodeJS.Timeout | null = null
  #commands: Promise<void> | null = null
  #commandReader: GroupConsumer | null = null
  /** The partitions of `ofa_assets` the command reader reads; it is restarted when an asset needs another. */
  #commandPartitions = new Set<number>()
  /**
   * Where the command reader starts each partition of `ofa_assets` the group has no committed offset on: the
   * partition's end when the partition was first needed (undefined when that could not be read). Kept for good (one
   * entry per partition at most): a committed offset wins over it anyway.
   */
  readonly #commandStarts = new Map<number, Promise<number | undefined>>()
  #assetPartitions = 0
  /** Aborted to restart the command reader (an asset declared on a partition it does not read). */
  #commandRun: AbortController | null = null
  readonly #commandJoinTimeoutMs: number
  #started = false
  /** Whether the log has `ofa_connector_state`: checked once, by the first `loadCheckpoint`. */
  #stateTopic: Promise<boolean> | null = null
  #stateTopicMissing = false
  /** The log has `asset_to_uns_map_topic`: declaring an asset with a UNS placement writes its map record. */
  #unsMap = false

  constructor(opts: SupervisorOptions) {
    this.#eventLog = opts.eventLog
    this.#logger = opts.logger ?? createLogger({ name: 'supervisor' })
    this.#writer = new BufferedWriter({
      eventLog: opts.eventLog,
      maxBuffered: opts.maxBuffered,
      maxBufferedPerSource: opts.maxBufferedPerConnector,
      highWaterPerSource: opts.highWaterPerConnector,
      trailingTopics: [TOPICS.connectorState],
      logger: this.#logger,
    })
    this.#opts = {
      group: opts.group ?? 'ofa-connectors',
      heartbeatMs: opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      ttlMs: opts.ttlMs ?? DEFAULT_AVAIL_TTL_MS,
      stableAfterMs: opts.stableAfterMs ?? 30_000,
      commandTimeoutMs: opts.commandTimeoutMs ?? 30_000,
      commandExpiryMs: opts.commandExpiryMs ?? 60_000,
    }
    this.#restartBackoff = opts.restartBackoff ?? {}
    this.#commandReaderBackoff = opts.commandReaderBackoff ?? { initialMs: 1000 }
    this.#commandJoinTimeoutMs = opts.commandJoinTimeoutMs ?? 15_000
  }

  add(connector: Connector): void {
    if (this.#slots.has(connector.name)) throw new Error(`connector ${connector.name} added twice`)
    let endFirstStart = () => {}
    const firstStart = new Promise<void>((resolve) => {
      endFirstStart = () => {
        slot.firstStartDone = true
        resolve()
      }
    })
    const slot: Slot = {
      connector,
      state: 'idle',
      restarts: 0,
      assets: new Map(),
      available: new Set(),
      run: null,
      loop: null,
      firstStart,
      endFirstStart: () => endFirstStart(),
      firstStartDone: false,
      firstStartWaitUntil: Number.POSITIVE_INFINITY,
    }
    this.#slots.set(connector.name, slot)
    if (this.#started) {
      this.#checkCommandPartitions(connector.name)
      slot.loop = this.#runLoop(slot)
    }
  }

  /**
   * Starts the command reader, then every connector (each retries on its own). Resolves once the connectors
   * are started: after the command reader owns its partitions (at most `commandJoinTimeoutMs`), so that a
   * command sent once a device is AVAILABLE is read — a new group starts at the log's end.
   */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    // The UNS map is written only where the log has its topic (a factory's backbone has; a bare test log may not).
    this.#unsMap = (await this.#eventLog.listTopics().catch(() => [] as string[])).includes(TOPICS.unsMap)
    this.#commands = this.#readCommands()
    const deadline = Date.now() + this.#commandJoinTimeoutMs
    while (this.#slots.size > 0 && !this.#stop.signal.aborted && !this.#commandReader?.assignment().length) {
      if (Date.now() > deadline) {
        this.#logger.warn('the command reader has not joined its group yet; starting the connectors anyway', {
          group: this.#opts.group,
        })
        break
      }
      await sleep(50, this.#stop.signal)
    }
    for (const slot of this.#slots.values()) slot.loop = this.#runLoop(slot)
    this.#heartbeat = setInterval(() => this.#beat(), this.#opts.heartbeatMs)
    this.#heartbeat.unref()
  }

  status(): ConnectorStatus[] {
    return [...this.#slots.values()].map((s) => ({
      name: s.connector.name,
      state: s.state,
      restarts: s.restarts,
      ...(s.lastError ? { lastError: s.lastError } : {}),
      assets: [...s.assets.keys()],
    }))
  }

  writerStats(): BufferedWriterStats {
    return this.#writer.stats()
  }

  /** Every connector's own counters (`Connector.metrics`), by connector name; connectors without any are left out. */
  connectorMetrics(): Record<string, ConnectorMetrics> {
    const out: Record<string, ConnectorMetrics> = {}
    for (const [name, slot] of this.#slots) {
      const m = slot.connector.metrics?.()
      if (m) out[name] = m
    }
    return out
  }

  /** Resolves once everything published so far is durable in the log. */
  flush(): Promise<void> {
    return this.#writer.flush()
  }

  /** Stops every connector, marks their assets UNAVAILABLE, flushes the log writes. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return
    this.#stop.abort()
    if (this.#heartbeat) clearInterval(this.#heartbeat)
    for (const slot of this.#slots.values()) slot.run?.abort()
    await Promise.all([...this.#slots.values()].map((s) => s.loop))
    await this.#commands?.catch(() => {})
    await this.#writer.close()
  }

  // --- connector lifecycle -------------------------------------------------------------------------------

  async #runLoop(slot: Slot): Promise<void> {
    slot.firstStartWaitUntil = Date.now() + this.#opts.commandExpiryMs
    const backoff = new Backoff(this.#restartBackoff)
    while (!this.#stop.signal.aborted) {
      const run = new AbortController()
      slot.run = run
      const stopAll = () => run.abort()
      this.#stop.signal.addEventListener('abort', stopAll, { once: true })
      let failure: Error | null = null
      const failed = new Promise<void>((resolve) => {
        run.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      const ctx = this.#context(slot, run.signal, (err) => {
        failure ??= err
        run.abort()
      })
      slot.state = 'starting'
      const startedAt = Date.now()
      try {
        // A start that never ends (a device that never answers) must not hold up stop(): the abort ends the wait.
        const starting = slot.connector.start(ctx)
        starting.catch(() => {}) // a rejection after the abort is the connector's to report, not an unhandled one
        await Promise.race([starting, failed])
        if (!run.signal.aborted) {
          slot.state = 'running'
          slot.endFirstStart()
          this.#logger.info('connector running', { connector: slot.connector.name })
          await failed
        }
      } catch (err) {
        failure ??= err as Error
        run.abort()
      }
      slot.endFirstStart()
      this.#stop.signal.removeEventListener('abort', stopAll)
      slot.state = 'stopping'
      try {
        await slot.connector.stop()
      } catch (err) {
        this.#logger.warn('connector stop failed', { connector: slot.connector.name, error: (err as Error).message })
      }
      const reason = this.#stop.signal.aborted
        ? 'connector stopped'
        : `connector failed: ${(failure as Error | null)?.message ?? 'unknown error'}`
      for (const uuid of slot.assets.keys()) this.#setAvailable(slot, uuid, false, reason)
      if (this.#stop.signal.aborted) break
      slot.restarts++
      slot.lastError = (failure as Error | null)?.message
      if (Date.now() - startedAt >= this.#opts.stableAfterMs) backoff.reset()
      const delay = backoff.next()
      slot.state = 'backoff'
      this.#logger.warn('connector failed; restarting', {
        connector: slot.connector.name,
        error: slot.lastError,
        retryInMs: delay,
      })
      await sleep(delay, this.#stop.signal)
    }
    slot.state = 'stopped'
    slot.run = null
    slot.endFirstStart()
  }

  #context(slot: Slot, signal: AbortSignal, fail: (err: Error) => void): ConnectorContext {
    const writer = this.#writer
    const source = slot.connector.name
    return {
      signal,
      get congested() {
        return writer.congested(source)
      },
      whenWritable: () => writer.whenWritable(source, signal),
      logger: childLogger(this.#logger, { connector: slot.connector.name }),
      declareAssets: (assets) => {
        if (signal.aborted) return
        for (const asset of assets) this.#declare(slot, asset)
      },
      publish: (uuid, observations) => {
        if (signal.aborted) return
        for (const o of observations) this.#writeObservation(uuid, o, source)
      },
      putDocument: (doc: AssetDocument) => {
        if (signal.aborted) return
        this.#writer.write(TOPICS.documents, { key: doc.assetId, value: encodeAssetDocument(doc) }, source)
      },
      setAvailable: (uuid, available, reason) => {
        if (signal.aborted) return
        this.#setAvailable(slot, uuid, available, reason)
      },
      fail: (err) => {
        if (!signal.aborted) fail(err)
      },
      loadCheckpoint: () => this.#loadCheckpoint(slot),
      saveCheckpoint: (value) => {
        if (signal.aborted) return
        slot.checkpoint = value
        if (!this.#stateTopicMissing) this.#writer.write(TOPICS.connectorState, { key: source, value }, source)
      },
    }
  }

  /** Whether the log has `ofa_connector_state`; without it checkpoints are kept in memory only (said once). */
  #hasStateTopic(): Promise<boolean> {
    this.#stateTopic ??= this.#eventLog.listTopics().then((topics) => {
      const has = topics.includes(TOPICS.connectorState)
      if (!has) {
        this.#stateTopicMissing = true
        this.#logger.warn(`the log has no ${TOPICS.connectorState} topic: connectors resume from memory only`)
      }
      return has
    })
    this.#stateTopic.catch(() => {
      this.#stateTopic = null // asked again next time
    })
    return this.#stateTopic
  }

  /**
   * The connector's last checkpoint: the one saved in this process, else the last record of its key on
   * `ofa_connector_state`, found reading its partition backwards from the end, `CHECKPOINT_READ_STEP` records at
   * a time (a compacted topic holds few records per key; between compactions the latest is near the end).
   */
  async #loadCheckpoint(slot: Slot): Promise<string | undefined> {
    if (slot.checkpoint !== undefined) return slot.checkpoint
    if (!(await this.#hasStateTopic())) return undefined
    const topic = TOPICS.connectorState
    const key = slot.connector.name
    const description = await this.#eventLog.describeTopic(topic)
    const partition = partitionFor(key, description.partitions)
    const state = description.partitionStates.find((p) => p.partition === partition)
    if (!state) return undefined
    let end = state.endOffset
    while (end > state.startOffset) {
      const from = Math.max(state.startOffset, end - CHECKPOINT_READ_STEP)
      let found: LogRecord | undefined
      let offset = from
      while (offset < end) {
        const records = await this.#eventLog.read(topic, partition, offset, { maxRecords: end - offset })
        if (records.length === 0) break
        for (const r of records) if (r.offset < end && r.key?.toString('utf8') === key) found = r
        offset = (records.at(-1) as LogRecord).offset + 1
      }
      if (found) return found.value === null ? undefined : found.value.toString('utf8')
      end = from
    }
    return undefined
  }

  #declare(slot: Slot, asset: Asset): void {
    const other = this.#owners.get(asset.uuid)
    if (other && other !== slot) {
      this.#logger.error('asset declared by two connectors; ignoring the second', {
        asset: asset.uuid,
        connectors: [other.connector.name, slot.connector.name],
      })
      return
    }
    this.#owners.set(asset.uuid, slot)
    slot.assets.set(asset.uuid, asset)
    this.#checkCommandPartitions(asset.uuid)
    this.#writer.write(TOPICS.registry, { key: asset.uuid, value: encodeAssetDeclaration(asset) }, slot.connector.name)
    const now = Date.now()
    for (const e of AssetEvents.declare(asset, now)) this.#write(asset.uuid, e)
    if (asset.uns && this.#unsMap) {
      // The reference's UNS map record, which its SQL joins observations with.
      const value = { ASSET_UUID: asset.uuid, UNS_ID: asset.uns.unsId, UNS_LEVELS: asset.uns.levels, UPDATED_AT: now }
      this.#writer.write(TOPICS.unsMap, { key: asset.uuid, value: JSON.stringify(value) }, slot.connector.name)
    }
  }

  /**
   * Writes an event of an asset, counted against `source` (the writer's per-connector limits): by default the
   * connector that serves the asset.
   */
  #write(uuid: string, e: AssetEvent, source = this.#owners.get(uuid)?.connector.name): void {
    this.#writeObservation(uuid, e.observation, source)
  }

  /**
   * `#write` of `AssetEvents.observation(o)` without building the event (`encodeAssetEvent` of it is
   * `encodeObservation(o)`): what `publish` does per observation, the hot path (bench/mqtt-ingest.ts).
   */
  #writeObservation(uuid: string, o: Observation, source: string | undefined): void {
    const attributes = o.attributes
    if (attributes.ingestion_timestamp === undefined) attributes.ingestion_timestamp = isoTimestamp()
    this.#writer.write(TOPICS.assets, { key: uuid, value: encodeObservation(o) }, source)
  }

  #availability(available: boolean, reason?: string): AssetEvent {
    return available
      ? AssetEvents.availability({ available, ttlMs: this.#opts.ttlMs })
      : AssetEvents.availability({ available, ...(reason ? { reason } : {}) })
  }

  #setAvailable(slot: Slot, uuid: string, available: boolean, reason?: string): void {
    const was = slot.available.has(uuid)
    if (available) slot.available.add(uuid)
    else slot.available.delete(uuid)
    if (was === available && available) return // heartbeats keep it alive
    if (!available && !was && reason === undefined) return
    this.#write(uuid, this.#availability(available, reason))
  }

  #beat(): void {
    for (const slot of this.#slots.values()) {
      for (const uuid of slot.available) this.#write(uuid, this.#availability(true))
    }
  }

  // --- commands -----------------------------------------------------------------------------------------

  /**
   * The keys the command reader must see: the connectors' names (their devices' UUIDs, known before they declare
   * anything) and every asset declared.
   */
  #commandKeys(): Set<string> {
    const keys = new Set<string>(this.#owners.keys())
    for (const slot of this.#slots.values()) keys.add(slot.connector.name)
    return keys
  }

  /**
   * An asset declared on a partition the command reader does not read: restart it with that partition too, from
   * the partition's end as it is now. Called before the asset's records are written, and the writer starts no
   * append until that end is read (`holdUntil`, one `describeTopic`, once per partition in the process's life): the
   * end is at or before the asset's first record, whatever the backbone (a Kafka broker may answer a ListOffsets
   * after a Produce sent later on another connection). Restarted with `resetTo: 'latest'` alone, the reader would
   * start at the end as it is when it first reads, and a command appended meanwhile — right after the declaration
   * — would never be executed.
   */
  #checkCommandPartitions(uuid: string): void {
    if (this.#assetPartitions === 0 || this.#commandRun === null) return
    const [p] = partitionsForKeys([uuid], this.#assetPartitions)
    if (p === undefined || this.#commandPartitions.has(p)) return
    if (!this.#commandStarts.has(p)) {
      const end = this.#partitionEnd(p)
      this.#commandStarts.set(p, end)
      this.#writer.holdUntil(end)
    }
    this.#commandRun.abort()
  }

  /** The end offset of partition `p` of `ofa_assets` now; undefined (said) when it cannot be read. */
  #partitionEnd(p: number): Promise<number | undefined> {
    return this.#eventLog.describeTopic(TOPICS.assets).then(
      (d) => d.partitionStates.find((s) => s.partition === p)?.endOffset,
      (err: unknown) => {
        this.#logger.warn('could not read the end of a partition the command reader needs; it starts later there', {
          partition: p,
          error: (err as Error).message,
        })
        return undefined
      },
    )
  }

  /**
   * Reads `<Method>_CMD` records from the partitions of `ofa_assets` that its assets' keys map to, and only those
   * (a consumer given its partitions, sharing the group's committed offsets): a process serving one device reads
   * one partition's records, not the whole factory's. A partition the group has no committed offset on starts
   * where `#commandStarts` says: its end when it was first needed, read before any record written after that
   * was appended (the writer is held meanwhile) — for the partitions of the first start, the end described before
   * the connectors start (`start()` waits for the reader).
   */
  async #readCommands(): Promise<void> {
    const marker = Buffer.from('_CMD"')
    const backoff = new Backoff(this.#commandReaderBackoff)
    while (!this.#stop.signal.aborted) {
      const run = new AbortController()
      this.#commandRun = run
      try {
        // Held as in `#checkCommandPartitions`: a connector added meanwhile may declare an asset on a partition
        // this reads first, and it starts from this end.
        const described = this.#eventLog.describeTopic(TOPICS.assets)
        this.#writer.holdUntil(described)
        const description = await described
        this.#assetPartitions = description.partitions
        const partitions = partitionsForKeys(this.#commandKeys(), this.#assetPartitions)
        this.#commandPartitions = new Set(partitions)
        if (partitions.length === 0) {
          // No connector yet: nothing to read until one is added (`#checkCommandPartitions` restarts this loop).
          await new Promise<void>((resolve) => {
            if (run.signal.aborted || this.#stop.signal.aborted) return resolve()
            run.signal.addEventListener('abort', () => resolve(), { once: true })
            this.#stop.signal.addEventListener('abort', () => resolve(), { once: true })
          })
          continue
        }
        // A partition's end from when it was first needed; else (not captured, or not readable then) from now.
        const startAt: Record<number, number> = {}
        for (const p of partitions) {
          const offset =
            (await this.#commandStarts.get(p)) ?? description.partitionStates.find((s) => s.partition === p)?.endOffset
          if (offset === undefined) continue
          startAt[p] = offset
          this.#commandStarts.set(p, Promise.resolve(offset))
        }
        if (run.signal.aborted) continue
        const consumer = this.#eventLog.consumer({
          group: this.#opts.group,
          topics: [TOPICS.assets],
          partitions: { [TOPICS.assets]: partitions },
          startAt: { [TOPICS.assets]: startAt },
          resetTo: 'latest',
          signal: AbortSignal.any([this.#stop.signal, run.signal]),
        })
        this.#commandReader = consumer
        // Batches read since the last commit, none with a command (PASSED_OVER_COMMIT_MS).
        let passedOver = false
        let committedAt = 0
        try {
          for await (const batch of consumer) {
            // Every record the connectors write to these partitions is read back here: nothing is allocated per record.
            let n = 0
            let commands = 0
            for (const r of batch) {
              if (r.value !== null && r.key !== null && r.value.indexOf(marker) >= 0) {
                commands++
                await this.#onCommandRecord(r)
              }
              if (this.#stop.signal.aborted) break
              n++
            }
            if (this.#stop.signal.aborted) {
              // Stopped while a command waited for its connector: commit what was handled, so the rest is read again.
              passedOver = false
              const handled = new Map<string, TopicPartitionOffset>()
              for (const { topic, partition, offset } of batch.slice(0, n)) {
                handled.set(`${topic}/${partition}`, { topic, partition, offset: offset + 1 })
              }
              if (handled.size > 0) await consumer.commit([...handled.values()])
              break
            }
            if (commands > 0 || Date.now() - committedAt >= PASSED_OVER_COMMIT_MS) {
              await consumer.commit()
              committedAt = Date.now()
              passedOver = false
            } else passedOver = true
            backoff.reset()
          }
          // Stopped or restarted between commits: what was passed over is committed too (every batch delivered was
          // handled whole; not after a failure, where the batch in hand was not).
          if (passedOver) await consumer.commit()
        } finally {
          await consumer.close()
        }
        if (run.signal.aborted && !this.#stop.signal.aborted) {
          this.#logger.debug('command reader restarted for the partitions of new assets', { group: this.#opts.group })
        }
      } catch (err) {
        if (this.#stop.signal.aborted) break
        if (run.signal.aborted) continue
        const delay = backoff.next()
        this.#logger.error('command reader failed; restarting it', {
          error: (err as Error).message,
          retryInMs: delay,
        })
        await sleep(delay, this.#stop.signal)
      }
    }
  }

  /**
   * Waits until the first start of `slots` ended (each has declared its assets and is running, or has failed),
   * or until stopped, and no longer than `commandExpiryMs` after each connector's loop began (a command read
   * later is answered `timeout` anyway): a connector whose start hangs holds the command reader up once, not
   * once per command.
   */
  async #firstStarts(slots: Iterable<Slot>): Promise<void> {
    const pending = [...slots].filter((s) => !s.firstStartDone && s.firstStartWaitUntil > Date.now())
    if (pending.length === 0) return
    const until = Math.max(...pending.map((s) => s.firstStartWaitUntil))
    const wait = new AbortController()
    const stop = () => wait.abort()
    this.#stop.signal.addEventListener('abort', stop, { once: true })
    try {
      const bound = Number.isFinite(until) ? until - Date.now() : this.#opts.commandExpiryMs
      await Promise.race([Promise.all(pending.map((s) => s.firstStart)), sleep(bound, wait.signal)])
    } finally {
      wait.abort()
      this.#stop.signal.removeEventListener('abort', stop)
    }
  }

  async #onCommandRecord(r: LogRecord): Promise<void> {
    const uuid = (r.key as Buffer).toString('utf8')
    // A command read before the connectors declared their assets (commands already on the log at start-up) waits
    // for them: passed over, it would be committed as another process's and never answered.
    let slot = this.#owners.get(uuid)
    if (!slot) {
      await this.#firstStarts(this.#slots.values())
      slot = this.#owners.get(uuid)
    } else if (slot.state === 'idle' || slot.state === 'starting') {
      await this.#firstStarts([slot])
    }
    if (!slot || this.#stop.signal.aborted) return // another process's asset; or stopping: read again next time
    let event: AssetEvent
    try {
      event = decodeAssetEvent(r.value as Buffer)
    } catch (err) {
      if (isOpenFactoryError(err, 'OFA_COMMAND_INVALID')) {
        this.#logger.warn('ignoring a malformed command', { asset: uuid, offset: r.offset, error: err.message })
      }
      return
    }
    if (event.kind !== 'command') return
    const parsed = event
    const { method, envelope } = parsed
    const answer = (result: Omit<CommandResult, 'correlation_id'>) =>
      this.#write(uuid, AssetEvents.result(method, { correlation_id: envelope.header.correlation_id, ...result }))
    const asset = slot.assets.get(uuid)
    const contract = asset?.methods.find((m) => m.name === method)
    if (!contract || !slot.connector.execute) {
      answer({
        status: 'rejected',
        error: { code: 'OFA_COMMAND_REJECTED', message: `${uuid} has no method ${method}` },
      })
      return
    }
    const sentAt = Date.parse(envelope.header.timestamp)
    if (Number.isFinite(sentAt) && Date.now() - sentAt > this.#opts.commandExpiryMs) {
      answer({
        status: 'timeout',
        error: { code: 'OFA_COMMAND_TIMEOUT', message: `not executed: the command waited ${Date.now() - sentAt} ms` },
      })
      return
    }
    try {
      checkMethodArguments(contract, envelope.arguments)
    } catch (err) {
      answer({ status: 'rejected', error: { code: 'OFA_COMMAND_REJECTED', message: (err as Error).message } })
      return
    }
    if (slot.state !== 'running') {
      answer({
        status: 'rejected',
        error: { code: 'OFA_COMMAND_REJECTED', message: `connector ${slot.connector.name} is ${slot.state}` },
      })
      return
    }
    // Handed to the connector: `accepted` now, the final status whenever it comes (without holding up the reader).
    answer({ status: 'accepted' })
    void this.#execute(slot, uuid, method, envelope, answer)
  }

  async #execute(
    slot: Slot,
    uuid: string,
    method: string,
    envelope: CommandEnvelope,
    answer: (r: Omit<CommandResult, 'correlation_id'>) => void,
  ): Promise<void> {
    const execute = slot.connector.execute as NonNullable<Connector['execute']>
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#opts.commandTimeoutMs)
    })
    try {
      const outcome = await Promise.race([
        execute
          .call(slot.connector, { assetUuid: uuid, method, arguments: envelope.arguments, envelope })
          .then((result) => ({ result })),
        timeout,
      ])
      if (outcome === 'timeout') {
        answer({
          status: 'timeout',
          error: {
            code: 'OFA_COMMAND_TIMEOUT',
            message: `${method} did not finish within ${this.#opts.commandTimeoutMs} ms`,
          },
        })
      } else {
        answer({ status: 'completed', ...(outcome.result === undefined ? {} : { result: outcome.result }) })
      }
    } catch (err) {
      const code = isOpenFactoryError(err) ? err.code : 'OFA_COMMAND_FAILED'
      answer({
        status: code === 'OFA_COMMAND_REJECTED' ? 'rejected' : 'failed',
        error: { code, message: (err as Error).message },
      })
    } finally {
      clearTimeout(timer)
    }
  }
}

export function createSupervisor(opts: SupervisorOptions): Supervisor {
  return new Supervisor(opts)
}
