/**
 * Asset state: the current value of every data item of every asset, and the asset registry, folded from the
 * log — the reference OpenFactory's ksqlDB `assets` table (keyed `uuid|id`) and its asset/UNS tables, kept in
 * memory (compact storage: `internal/compact-storage.ts`).
 *
 * It reads two topics from their earliest offset through `tail` (@openfactory/log: catch up, then follow, with
 * the one retry rule), so a restart rebuilds it from the log:
 * - `ofa_registry` (compacted, key = asset UUID): the declared `Asset`; a tombstone removes the asset. Read
 *   first, so that removals are known before the observations of removed assets are replayed.
 * - `ofa_assets` (key = asset UUID): typed events (`classifyObservation` in model). Each record replaces the
 *   `uuid|id` entry (last value, tag, type, timestamps, attributes); a `Condition` entry keeps the set of active
 *   conditions (`applyCondition`) and shows the worst level as its value. Declarations (`AssetType`, `uns_id`,
 *   `references_above`/`references_below`) and `Method` contracts complete the registry; the registry's
 *   declaration wins where both say something. Every event other than a plain observation is handed to the
 *   `onEvent` listeners: the availability expiry and the command tracker live beside the state, not in it
 *   (`serving-state.ts` composes them).
 *
 * The fold also feeds a `TimeIndex` of `ofa_assets` (source time per block of offsets) for history queries.
 *
 * A failure that `tail` does not retry (a damaged log, `OFA_LOG_CORRUPT`, ...) stops the state: it is logged,
 * `failure` holds it, `isReady` turns false (so `/healthz` answers 503 with it) and `ready()` rejects with it
 * when it came before the catch-up ended.
 */
import { type EventLog, type LogRecord, type TopicSpec, tail } from '@openfactory/log'
import {
  type ActiveCondition,
  type Asset,
  type AssetEvent,
  AssetEvents,
  AVAIL_ID,
  AVAILABLE,
  type BackoffOptions,
  classifyObservation,
  compactTimestamp,
  type DataItem,
  type DataItemCategory,
  DEFAULT_ASSETS_PARTITIONS,
  decodeAssetDeclaration,
  decodeObservation,
  isOpenFactoryError,
  type Logger,
  type MethodContract,
  type Observation,
  type ObservationAttributes,
  type ObservationType,
  OpenFactoryError,
  RESERVED_ATTRIBUTE_IDS,
  TOPICS,
  UNAVAILABLE,
  type UnsPlacement,
} from '@openfactory/model'
import {
  AssetRecord,
  type Cell,
  entryJson,
  foldObservation,
  ingestedAtMs,
  ShapeTable,
} from '../internal/compact-storage.ts'
import { Interner } from '../internal/intern.ts'
import { type AsOfOptions, AsOfReader } from './as-of.ts'
import { AsOfIndex, type AsOfIndexOptions } from './as-of-index.ts'
import { sourceTimeMs, TimeIndex } from './time-index.ts'
import { inferUnsSeparator, splitUns } from './uns-pattern.ts'

export interface AssetStateOptions {
  readonly eventLog: EventLog
  /** Stops following the log (as `close()` does, without waiting). */
  readonly signal?: AbortSignal
  /** The UNS separator for assets whose placement does not show it (only a `uns_id`); default `/`. */
  readonly unsSeparator?: string
  /** Specs of the topics, created when missing (defaults: `DEFAULT_STATE_TOPICS`). */
  readonly topics?: { readonly assets?: TopicSpec; readonly registry?: TopicSpec }
  /** Delay policy after a retryable read failure (`tail`'s; default 100 ms doubling to 5 s). */
  readonly backoff?: BackoffOptions
  /** Spacing and memory bounds of the as-of index behind time travel (`AS_OF_DEFAULTS`; state/as-of-index.ts). */
  readonly asOf?: AsOfIndexOptions
  readonly logger?: Logger
}

/** The topics the state reads, as it creates them when they are missing. */
export const DEFAULT_STATE_TOPICS: { readonly assets: TopicSpec; readonly registry: TopicSpec } = {
  assets: { name: TOPICS.assets, partitions: DEFAULT_ASSETS_PARTITIONS, cleanupPolicy: 'delete' },
  registry: { name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' },
}

export type Availability = 'AVAILABLE' | 'UNAVAILABLE'

/** One `uuid|id` entry of the current state, as the API serves it. */
export interface ItemState {
  readonly assetUuid: string
  readonly id: string
  /** The last value; for a condition, the worst active level (NORMAL when none is active). */
  readonly value: number | string
  readonly tag: string
  readonly type: ObservationType
  /** Source time of the last observation. */
  readonly timestamp: string
  /** The last observation's attributes as on the wire (timestamp, ingestion_timestamp, units, ...). */
  readonly attributes: ObservationAttributes
  /** Condition items only: the active conditions. */
  readonly conditions?: readonly ActiveCondition[]
}

/** An asset as the registry knows it: its declaration completed by what `ofa_assets` shows. */
export interface AssetView {
  readonly uuid: string
  readonly type: string
  readonly uns: UnsPlacement | null
  readonly referencesAbove: readonly string[]
  readonly referencesBelow: readonly string[]
  readonly availability: Availability
  /** True when `ofa_registry` declares it; false when only known from `ofa_assets`. */
  readonly declared: boolean
  readonly dataItems: readonly DataItem[]
  readonly methods: readonly MethodContract[]
  /** The MTConnect description it was declared with (component tree), if any: the MTConnect façade serves it. */
  readonly device?: Asset['device']
}

export interface AssetStateStats {
  readonly ready: boolean
  readonly assets: number
  readonly items: number
  /** Records applied from `ofa_assets` since start (replay included). */
  readonly observations: number
  readonly registryRecords: number
  /** Records that could not be read as observations or assets (skipped). */
  readonly invalidRecords: number
}

/** What `AssetState.logHealth` finds. */
export interface LogHealth {
  readonly lag: number
  readonly partitionErrors: readonly { readonly topic: string; readonly partition: number; readonly error: Error }[]
}

/** Called for each event of `ofa_assets` other than a plain observation, after it was applied. */
export type AssetEventListener = (uuid: string, event: AssetEvent, recordTime: number) => void

/**
 * Lifecycle: `createAssetState` starts reading the log at once; `ready()` resolves when the state has caught
 * up with the end offsets the log had at start (rejects: closed or failed before that). `close()` (or the
 * signal) stops reading; it does not close the log.
 */
export interface AssetState {
  ready(): Promise<void>
  /** Caught up with the log and following it. */
  readonly isReady: boolean
  /**
   * How far in the log's time the state has applied `ofa_assets`: `now` when no partition has records it has not
   * applied yet, else the least record time, over the partitions it is behind on, of the last record it applied
   * there (0 when none yet). A state behind the log has not seen the newest heartbeats: the availability expiry
   * judges TTLs by this, not by the wall clock.
   */
  appliedThrough(now: number): Promise<number>
  /** The error that stopped the state from following the log, if one did. */
  readonly failure: Error | null
  /** Source times of `ofa_assets` by block of offsets, as far as the state has read (for history queries). */
  readonly timeIndex: TimeIndex
  /** Record times and checkpoints of `ofa_assets`, as far as the state has read (for `asOf`). */
  readonly asOfIndex: AsOfIndex
  /**
   * A reader of the state as the log held it at `at` (epoch ms): every record of `ofa_assets` with a record time at
   * or before it, folded as this state folds them (state/as-of.ts). One per request: it caches what it read.
   */
  asOf(at: number, opts?: AsOfOptions): AsOfReader
  has(uuid: string): boolean
  asset(uuid: string): AssetView | undefined
  /**
   * `asset(uuid)` as JSON text (`JSON.stringify` of the view), kept between changes of what the view shows
   * (declaration, type, UNS, references, methods, availability, the set and shapes of its entries): the head of a
   * `GET /api/assets/{uuid}` answer, built once instead of per request.
   */
  assetJson(uuid: string): string | undefined
  /** Every known asset UUID, sorted (cached between changes of the asset set). */
  sortedUuids(): readonly string[]
  assetUuids(): IterableIterator<string>
  itemIds(uuid: string): IterableIterator<string>
  item(uuid: string, id: string): ItemState | undefined
  items(uuid: string): ItemState[]
  /** The entry as JSON text (the `ItemState` shape), built on each call. */
  itemJson(uuid: string, id: string): string | undefined
  /**
   * The body of `GET /api/assets/{uuid}`: `assetJson` with a `state` member, every entry as `itemJson` gives it, in
   * `itemIds` order; built on each call.
   */
  answerJson(uuid: string): string | undefined
  /** The entry's `ingestion_timestamp` in epoch ms (undefined: none, or not a time). */
  ingestedAt(uuid: string, id: string): number | undefined
  availability(uuid: string): Availability | undefined
  /** A number that changes whenever anything about the asset changes (for caching what is built from it). */
  version(uuid: string): number | undefined
  /** The asset's UNS path split into levels, and the separator it uses; undefined when it has no UNS placement. */
  unsPath(uuid: string): { readonly levels: readonly string[]; readonly separator: string } | undefined
  /** Called synchronously after each `uuid|id` entry changes. Returns an unsubscribe function. */
  onChange(listener: (uuid: string, id: string) => void): () => void
  /** Called when an asset appears, is removed, or its registry data (type, UNS, references, methods) changes. */
  onAssetChange(listener: (uuid: string) => void): () => void
  /** Called after each batch of records read from the log has been applied (transports flush then). */
  onBatchEnd(listener: () => void): () => void
  /** Called for every availability, command, result, declaration and method event applied (see the type). */
  onEvent(listener: AssetEventListener): () => void
  /**
   * Applies an observation this process derived but could not (or does not) write to the log — an availability
   * expiry the log refused: the entry shows it and subscribers get it as an update, until a record read from the
   * log replaces it. Not an event (`onEvent` listeners are not called), not indexed for history; an unknown asset
   * is left alone. A restart forgets it (the expiry is found again).
   */
  applyLocal(uuid: string, observation: Observation): void
  stats(): AssetStateStats
  /** Records on the log not yet applied (end offsets minus positions, both topics). */
  lag(): Promise<number>
  /** `lag()`, and the partitions of both topics the log describes with an error (damaged, or failing writes). */
  logHealth(): Promise<LogHealth>
  close(): Promise<void>
}

const DATA_CATEGORIES: ReadonlySet<string> = new Set(['Samples', 'Events', 'Condition'])
const RESERVED: ReadonlySet<string> = new Set(RESERVED_ATTRIBUTE_IDS)

/**
 * Records per batch read from the log (bench/serve-state-memory.ts). A batch's records, and the read chunks their
 * keys and values are views of, live until the whole batch is applied, and applying a record allocates ≈ 1.8 KB of
 * short-lived objects: at 5000 records (≈ 9 MB) a batch often outlived two scavenges of the 8 MB young generation
 * `ofa` runs with (`--max-semi-space-size=8`), so its records and chunks were promoted, freed only by full GCs, and
 * the chunks (malloc'd) fragmented the C heap: RSS after a rebuild 241–271 MiB. At 1000 (≈ 1.8 MB) they die young:
 * 195–236 MiB, as before the codec made applying a record ≈ 8% costlier, for a rebuild 5–10% longer (more reads).
 */
const BATCH_RECORDS = 1000

export function createAssetState(opts: AssetStateOptions): AssetState {
  return new AssetStateImpl(opts)
}

type Positions = Record<number, number>

function listen<T>(list: T[], listener: T): () => void {
  list.push(listener)
  return () => {
    const i = list.indexOf(listener)
    if (i >= 0) list.splice(i, 1)
  }
}

class AssetStateImpl implements AssetState {
  readonly timeIndex = new TimeIndex()
  readonly asOfIndex: AsOfIndex
  readonly #eventLog: EventLog
  readonly #defaultSeparator: string
  readonly #topics: { readonly assets: TopicSpec; readonly registry: TopicSpec }
  readonly #logger: Logger | undefined
  readonly #backoff: BackoffOptions | undefined
  readonly #stop = new AbortController()
  readonly #assets = new Map<string, AssetRecord>()
  /** Assets removed by a registry tombstone → the tombstone's record time; older records of them are skipped. */
  readonly #removedAt = new Map<string, number>()
  readonly #interner = new Interner()
  readonly #shapes = new ShapeTable(this.#interner)
  /** The record (offset) each active condition was built from, for the as-of index. */
  readonly #conditionRecords = new WeakMap<ActiveCondition, number>()
  /** Declared data item and method lists, shared between assets declared alike (one device model, many assets). */
  readonly #models = new Map<string, readonly unknown[]>()
  readonly #positions: { assets: Positions; registry: Positions } = { assets: {}, registry: {} }
  /** Record time of the last record applied, per partition of `ofa_assets`. */
  readonly #appliedTime: Positions = {}
  readonly #changeListeners: ((uuid: string, id: string) => void)[] = []
  readonly #assetListeners: ((uuid: string) => void)[] = []
  readonly #batchListeners: (() => void)[] = []
  readonly #eventListeners: AssetEventListener[] = []
  readonly #ready: Promise<void>
  readonly #run: Promise<void>
  #isReady = false
  #failure: Error | null = null
  #sorted: string[] | null = null
  #items = 0
  #versions = 0
  #observations = 0
  #registryRecords = 0
  #invalid = 0
  #closed = false

  constructor(opts: AssetStateOptions) {
    this.asOfIndex = new AsOfIndex(opts.asOf)
    this.#eventLog = opts.eventLog
    this.#defaultSeparator = opts.unsSeparator ?? '/'
    this.#topics = {
      assets: opts.topics?.assets ?? DEFAULT_STATE_TOPICS.assets,
      registry: opts.topics?.registry ?? DEFAULT_STATE_TOPICS.registry,
    }
    this.#logger = opts.logger
    this.#backoff = opts.backoff
    if (opts.signal) {
      if (opts.signal.aborted) this.#stop.abort()
      else opts.signal.addEventListener('abort', () => void this.close(), { once: true })
    }
    let resolveReady!: () => void
    let rejectReady!: (err: unknown) => void
    this.#ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve
      rejectReady = reject
    })
    this.#ready.catch(() => {}) // surfaced through ready()
    this.#run = this.#start(resolveReady).catch((err: Error) => {
      rejectReady(err)
      if (this.#stop.signal.aborted) return
      this.#isReady = false
      this.#failure = err
      this.#logger?.error('asset state stopped: the log cannot be read', {
        error: err.message,
        ...(isOpenFactoryError(err) ? { code: err.code } : {}),
      })
    })
  }

  // --- reading the log -----------------------------------------------------------------------------------

  async #start(resolveReady: () => void): Promise<void> {
    await this.#ensureTopic(this.#topics.registry)
    await this.#ensureTopic(this.#topics.assets)
    const registry = this.#tail(this.#topics.registry.name)
    const assets = this.#tail(this.#topics.assets.name)
    // Registry first, so that removals are known before the observations of removed assets are replayed.
    const caughtUp =
      (await this.#apply(registry, this.#positions.registry, (r) => this.#applyRegistry(r), true)) &&
      (await this.#apply(assets, this.#positions.assets, (r) => this.#applyAssets(r), true))
    if (!caughtUp || this.#stop.signal.aborted) {
      throw new OpenFactoryError('OFA_SERVE_UNAVAILABLE', 'the asset state was closed before it caught up with the log')
    }
    this.#isReady = true
    resolveReady()
    await Promise.all([
      this.#apply(registry, this.#positions.registry, (r) => this.#applyRegistry(r), false),
      this.#apply(assets, this.#positions.assets, (r) => this.#applyAssets(r), false),
    ])
    this.#isReady = false // the log was closed under the state: it no longer follows it
  }

  #tail(topic: string): AsyncIterator<{ readonly records: readonly LogRecord[]; readonly caughtUp: boolean }> {
    return tail(this.#eventLog, topic, {
      signal: this.#stop.signal,
      maxRecords: BATCH_RECORDS,
      ...(this.#logger ? { logger: this.#logger } : {}),
      ...(this.#backoff ? { backoff: this.#backoff } : {}),
    })[Symbol.asyncIterator]()
  }

  /**
   * Applies batches: until the catch-up ends (`untilCaughtUp`; returns whether it did), or until the tail
   * ends (closed log, signal). A failure the tail does not retry is thrown.
   */
  async #apply(
    it: AsyncIterator<{ readonly records: readonly LogRecord[]; readonly caughtUp: boolean }>,
    positions: Positions,
    apply: (r: LogRecord) => void,
    untilCaughtUp: boolean,
  ): Promise<boolean> {
    for (;;) {
      const next = await it.next()
      if (next.done) return false
      const { records, caughtUp } = next.value
      if (records.length > 0) {
        for (let i = 0; i < records.length; i++) {
          const r = records[i] as LogRecord
          this.#applySafely(apply, r)
          positions[r.partition] = r.offset + 1
        }
        const listeners = this.#batchListeners
        for (let i = 0; i < listeners.length; i++) (listeners[i] as () => void)()
      }
      if (untilCaughtUp && caughtUp) return true
    }
  }

  async #ensureTopic(spec: TopicSpec): Promise<void> {
    try {
      await this.#eventLog.describeTopic(spec.name)
      return
    } catch (err) {
      if (!isOpenFactoryError(err, 'OFA_LOG_UNKNOWN_TOPIC')) throw err
    }
    try {
      await this.#eventLog.createTopic(spec)
    } catch (err) {
      // Created meanwhile by someone else (the supervisor, `ofa up`): use it as it is.
      if (!isOpenFactoryError(err, 'OFA_LOG_TOPIC_CONFLICT')) throw err
    }
  }

  #applySafely(apply: (r: LogRecord) => void, r: LogRecord): void {
    try {
      apply(r)
    } catch (err) {
      this.#invalid++
      if (this.#invalid <= 10 || this.#invalid % 1000 === 0) {
        this.#logger?.warn('skipping a record that is not valid', {
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          error: (err as Error).message,
          skipped: this.#invalid,
        })
      }
    }
  }

  // --- the fold ------------------------------------------------------------------------------------------

  #applyRegistry(r: LogRecord): void {
    this.#registryRecords++
    if (r.key === null) throw new OpenFactoryError('OFA_OBSERVATION_INVALID', 'registry record without a key')
    const uuid = r.key.toString('utf8')
    if (r.value === null) {
      this.#remove(uuid, r.timestamp)
      return
    }
    const parsed = decodeAssetDeclaration(uuid, r.value)
    const asset: Asset = {
      ...parsed,
      dataItems: this.#shared(parsed.dataItems),
      methods: this.#shared(parsed.methods),
    }
    this.#removedAt.delete(uuid)
    const a = this.#record(uuid)
    a.declared = asset
    a.headJson = null
    a.version = ++this.#versions
    this.#updateUns(a)
    this.#emitAsset(uuid)
  }

  #applyAssets(r: LogRecord): void {
    this.#observations++
    this.#appliedTime[r.partition] = r.timestamp
    this.asOfIndex.record(r.partition, r.offset, r.timestamp)
    if (r.key === null || r.value === null) {
      throw new OpenFactoryError('OFA_OBSERVATION_INVALID', 'ofa_assets record without a key or a value')
    }
    const o = decodeObservation(r.value)
    const sourceTs = o.attributes.timestamp
    const ts = typeof sourceTs === 'string' ? compactTimestamp(sourceTs) : ''
    this.timeIndex.add(r.partition, r.offset, typeof ts === 'number' ? ts : sourceTimeMs(sourceTs, r.timestamp))
    const uuid = r.key.toString('utf8')
    const removedAt = this.#removedAt.get(uuid)
    if (removedAt !== undefined) {
      if (r.timestamp <= removedAt) return
      this.#removedAt.delete(uuid)
    }
    let event: AssetEvent
    try {
      event = classifyObservation(o)
    } catch {
      event = AssetEvents.observation(o) // a malformed command or result: kept as the value it is
    }
    let a = this.#assets.get(uuid)
    const isNew = a === undefined
    if (a === undefined) a = this.#record(uuid)
    const assetChanged = this.#applyEvent(a, event) || isNew
    if (assetChanged) a.headJson = null
    this.#indexApplied(r, a, o, this.#setCell(a, o, ts))
    if (assetChanged) this.#emitAsset(uuid)
    const listeners = this.#changeListeners
    for (let i = 0; i < listeners.length; i++) (listeners[i] as (u: string, id: string) => void)(uuid, o.id)
    if (event.kind !== 'observation') {
      const eventListeners = this.#eventListeners
      for (let i = 0; i < eventListeners.length; i++)
        (eventListeners[i] as AssetEventListener)(a.uuid, event, r.timestamp)
    }
  }

  /** What an event says about the asset's registry view beside its value; returns whether that view changed. */
  #applyEvent(a: AssetRecord, e: AssetEvent): boolean {
    switch (e.kind) {
      case 'method':
        a.methods ??= new Map()
        a.methods.set(e.contract.name, e.contract)
        return true
      case 'declaration':
        switch (e.attribute) {
          case 'AssetType':
            a.typeAttr = e.value
            return true
          case 'uns_id':
            a.unsIdAttr = e.value === UNAVAILABLE ? null : e.value
            this.#updateUns(a)
            return true
          case 'references_above':
            a.refsAbove = [...(e.references ?? [])]
            return true
          case 'references_below':
            a.refsBelow = [...(e.references ?? [])]
            return true
          default:
            return false
        }
      default:
        return false
    }
  }

  #setCell(a: AssetRecord, o: Observation, ts: number | string): Cell {
    a.version = ++this.#versions
    const size = a.cells.size
    const before = a.cells.get(o.id)
    const shape = before?.shape
    const cell = foldObservation(a, o, ts, this.#interner, this.#shapes)
    if (a.cells.size !== size) this.#items++
    // What `asset(uuid)` shows changed: a new entry, another shape (tag, type, units...), or the availability.
    if (cell !== before || cell.shape !== shape || o.id === AVAIL_ID) a.headJson = null
    return cell
  }

  /**
   * Tells the as-of index which entry the record at `r.offset` changed, and for a condition the records of its
   * active conditions (each active condition is built from one record: `#conditionRecords` remembers which).
   */
  #indexApplied(r: LogRecord, a: AssetRecord, o: Observation, cell: Cell): void {
    if (cell.key < 0) cell.key = this.asOfIndex.newKey()
    let conditions: number[] | undefined
    if (o.type === 'Condition') {
      const active = a.conditions?.get(o.id) ?? []
      const records = this.#conditionRecords
      conditions = active.map((c) => {
        let offset = records.get(c)
        if (offset === undefined) {
          offset = r.offset
          records.set(c, offset)
        }
        return offset
      })
    }
    this.asOfIndex.applied(r.partition, cell.key, r.offset, conditions)
  }

  /** One copy of equal lists (bounded: past 4096 distinct ones, lists are kept as they are). */
  #shared<T>(list: readonly T[]): readonly T[] {
    if (list.length === 0) return list
    const key = JSON.stringify(list)
    const found = this.#models.get(key)
    if (found) return found as readonly T[]
    if (this.#models.size < 4096 && key.length < 1 << 20) this.#models.set(key, list)
    return list
  }

  #record(uuid: string): AssetRecord {
    let a = this.#assets.get(uuid)
    if (a === undefined) {
      a = new AssetRecord(uuid, this.#defaultSeparator)
      this.#assets.set(uuid, a)
      this.#sorted = null
    }
    return a
  }

  #remove(uuid: string, at: number): void {
    this.#removedAt.set(uuid, at)
    const a = this.#assets.get(uuid)
    if (!a) return
    this.#items -= a.cells.size
    this.#assets.delete(uuid)
    this.#sorted = null
    this.#emitAsset(uuid)
  }

  #updateUns(a: AssetRecord): void {
    const placement = a.declared?.uns
    const unsId = placement?.unsId ?? a.unsIdAttr
    if (!unsId) {
      a.unsLevels = null
      return
    }
    const values = placement ? Object.values(placement.levels).map(String) : []
    a.unsSeparator = inferUnsSeparator(values, unsId, this.#defaultSeparator)
    a.unsLevels = splitUns(unsId, a.unsSeparator)
  }

  #emitAsset(uuid: string): void {
    for (const l of this.#assetListeners) l(uuid)
  }

  // --- reading -------------------------------------------------------------------------------------------

  ready(): Promise<void> {
    return this.#ready
  }

  get isReady(): boolean {
    return this.#isReady
  }

  get failure(): Error | null {
    return this.#failure
  }

  has(uuid: string): boolean {
    return this.#assets.has(uuid)
  }

  asOf(at: number, opts: AsOfOptions = {}): AsOfReader {
    const assets = this.#assets
    return new AsOfReader(
      {
        eventLog: this.#eventLog,
        topic: this.#topics.assets.name,
        index: this.asOfIndex,
        asset: (uuid) => assets.get(uuid),
      },
      at,
      opts,
    )
  }

  asset(uuid: string): AssetView | undefined {
    const a = this.#assets.get(uuid)
    if (!a) return undefined
    const d = a.declared
    const uns: UnsPlacement | null = d?.uns ?? (a.unsIdAttr ? { levels: {}, unsId: a.unsIdAttr } : null)
    const dataItems: DataItem[] = d ? [...d.dataItems] : []
    const declaredIds = new Set(dataItems.map((i) => i.id))
    for (const [id, cell] of a.cells) {
      const shape = cell.shape
      if (declaredIds.has(id) || RESERVED.has(id) || !DATA_CATEGORIES.has(shape.type)) continue
      const extra = shape.frag === '' ? {} : (JSON.parse(`{${shape.frag.slice(1)}}`) as Record<string, unknown>)
      dataItems.push({
        id,
        category: shape.type as DataItemCategory,
        tag: shape.tag,
        ...(typeof extra.subType === 'string' ? { subType: extra.subType } : {}),
        ...(typeof extra.units === 'string' ? { units: extra.units } : {}),
      })
    }
    const methods: MethodContract[] = d ? [...d.methods] : []
    if (a.methods) {
      const names = new Set(methods.map((m) => m.name))
      for (const m of a.methods.values()) if (!names.has(m.name)) methods.push(m)
    }
    return {
      uuid: a.uuid,
      type: d?.type ?? a.typeAttr ?? 'Unknown',
      uns,
      referencesAbove: d?.referencesAbove.length ? d.referencesAbove : (a.refsAbove ?? d?.referencesAbove ?? []),
      referencesBelow: d?.referencesBelow.length ? d.referencesBelow : (a.refsBelow ?? d?.referencesBelow ?? []),
      availability: this.#availability(a),
      declared: d !== null,
      dataItems,
      methods,
      ...(d?.device ? { device: d.device } : {}),
    }
  }

  assetJson(uuid: string): string | undefined {
    const a = this.#assets.get(uuid)
    if (!a) return undefined
    a.headJson ??= JSON.stringify(this.asset(uuid))
    return a.headJson
  }

  #availability(a: AssetRecord): Availability {
    return a.cells.get(AVAIL_ID)?.value === AVAILABLE ? 'AVAILABLE' : 'UNAVAILABLE'
  }

  version(uuid: string): number | undefined {
    return this.#assets.get(uuid)?.version
  }

  availability(uuid: string): Availability | undefined {
    const a = this.#assets.get(uuid)
    return a ? this.#availability(a) : undefined
  }

  sortedUuids(): readonly string[] {
    this.#sorted ??= [...this.#assets.keys()].sort()
    return this.#sorted
  }

  assetUuids(): IterableIterator<string> {
    return this.#assets.keys()
  }

  itemIds(uuid: string): IterableIterator<string> {
    return (this.#assets.get(uuid)?.cells ?? new Map<string, Cell>()).keys()
  }

  itemJson(uuid: string, id: string): string | undefined {
    const a = this.#assets.get(uuid)
    const cell = a?.cells.get(id)
    if (!a || !cell) return undefined
    return entryJson(a, id, cell)
  }

  answerJson(uuid: string): string | undefined {
    const a = this.#assets.get(uuid)
    if (!a) return undefined
    const head = this.assetJson(uuid) as string
    let out = `${head.slice(0, -1)},"state":[`
    let first = true
    for (const [id, cell] of a.cells) {
      const json = entryJson(a, id, cell)
      out = first ? out + json : `${out},${json}`
      first = false
    }
    return `${out}]}`
  }

  ingestedAt(uuid: string, id: string): number | undefined {
    const cell = this.#assets.get(uuid)?.cells.get(id)
    return cell === undefined ? undefined : ingestedAtMs(cell)
  }

  item(uuid: string, id: string): ItemState | undefined {
    const json = this.itemJson(uuid, id)
    return json === undefined ? undefined : (JSON.parse(json) as ItemState)
  }

  items(uuid: string): ItemState[] {
    const a = this.#assets.get(uuid)
    if (!a) return []
    return [...a.cells.keys()].map((id) => this.item(uuid, id) as ItemState)
  }

  unsPath(uuid: string): { readonly levels: readonly string[]; readonly separator: string } | undefined {
    const a = this.#assets.get(uuid)
    if (!a || a.unsLevels === null) return undefined
    return { levels: a.unsLevels, separator: a.unsSeparator }
  }

  onChange(listener: (uuid: string, id: string) => void): () => void {
    return listen(this.#changeListeners, listener)
  }

  onAssetChange(listener: (uuid: string) => void): () => void {
    return listen(this.#assetListeners, listener)
  }

  onBatchEnd(listener: () => void): () => void {
    return listen(this.#batchListeners, listener)
  }

  onEvent(listener: AssetEventListener): () => void {
    return listen(this.#eventListeners, listener)
  }

  applyLocal(uuid: string, o: Observation): void {
    const a = this.#assets.get(uuid)
    if (a === undefined || this.#closed) return
    const sourceTs = o.attributes.timestamp
    this.#setCell(a, o, typeof sourceTs === 'string' ? compactTimestamp(sourceTs) : '')
    for (const l of this.#changeListeners) l(uuid, o.id)
    for (const l of this.#batchListeners) l()
  }

  stats(): AssetStateStats {
    return {
      ready: this.#isReady,
      assets: this.#assets.size,
      items: this.#items,
      observations: this.#observations,
      registryRecords: this.#registryRecords,
      invalidRecords: this.#invalid,
    }
  }

  async lag(): Promise<number> {
    return (await this.logHealth()).lag
  }

  async appliedThrough(now: number): Promise<number> {
    const positions = this.#positions.assets
    let through = now
    for (const ps of (await this.#eventLog.describeTopic(this.#topics.assets.name)).partitionStates) {
      const pos = Math.max(positions[ps.partition] ?? ps.startOffset, ps.startOffset)
      if (ps.endOffset > pos) through = Math.min(through, this.#appliedTime[ps.partition] ?? 0)
    }
    return through
  }

  async logHealth(): Promise<LogHealth> {
    let lag = 0
    const partitionErrors: { topic: string; partition: number; error: Error }[] = []
    for (const [spec, positions] of [
      [this.#topics.assets, this.#positions.assets],
      [this.#topics.registry, this.#positions.registry],
    ] as const) {
      const desc = await this.#eventLog.describeTopic(spec.name)
      for (const ps of desc.partitionStates) {
        const pos = Math.max(positions[ps.partition] ?? ps.startOffset, ps.startOffset)
        lag += Math.max(0, ps.endOffset - pos)
        if (ps.error) partitionErrors.push({ topic: spec.name, partition: ps.partition, error: ps.error })
      }
    }
    return { lag, partitionErrors }
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#isReady = false
      this.#stop.abort()
    }
    await this.#run
  }
}
