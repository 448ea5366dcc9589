/**
 * Asset state: the current value of every data item of every asset, and the asset registry, materialised from
 * the log — the reference OpenFactory's ksqlDB `assets` table (keyed `uuid|id`) and its asset/UNS tables, kept
 * in memory.
 *
 * It follows two topics from their earliest offset, so a restart rebuilds it from the log:
 * - `ofa_registry` (compacted, key = asset UUID): the declared `Asset` as JSON; a tombstone removes the asset.
 * - `ofa_assets` (key = asset UUID): observations in the wire format (DESIGN §3). Each record replaces the
 *   `uuid|id` entry (last value, tag, type, timestamps, attributes); a `Condition` entry keeps the set of active
 *   conditions (`applyCondition`) and shows the worst level as its value. The reference's attributes complete
 *   the registry: `AssetType`, `uns_id`, `references_above`/`references_below` (comma-separated UUIDs), one
 *   `TYPE: "Method"` record per method (VALUE the JSON contract), `<Method>_CMD`/`<Method>_RESULT` (fed to the
 *   command tracker). The registry's declaration wins where both say something.
 *
 * Availability: `avail` AVAILABLE carries `attributes.ttl_ms`; when no new AVAILABLE arrives within it (by
 * ingestion time, checked every `ttlCheckMs`), the state appends `avail` UNAVAILABLE with `attributes.reason`
 * to the log — once per expiry — so the expiry is recorded like any other observation and every reader sees it.
 *
 * Memory (quality bar: 10k assets × 20 items ≤ 300 MB RSS): one small object per entry holding the value, the
 * interned tag and type, the timestamps as epoch-ms numbers when they are canonical, and the other attributes
 * as one interned JSON fragment (`,"units":"CELSIUS"` is shared by every Celsius item). The JSON an entry is
 * served as is built on demand and cached until the entry changes.
 */
import type { EventLog, LogRecord, TopicSpec } from '@openfactory/log'
import {
  type ActiveCondition,
  type Asset,
  type AssetEvent,
  AssetEvents,
  AVAIL_ID,
  AVAILABLE,
  type AvailabilityEvent,
  applyCondition,
  classifyObservation,
  compactTimestamp,
  type DataItem,
  type DataItemCategory,
  DEFAULT_ASSETS_PARTITIONS,
  decodeAssetDeclaration,
  decodeObservation,
  encodeAssetEvent,
  isOpenFactoryError,
  isoFromMs,
  isoTimestamp,
  type Logger,
  type MethodContract,
  OBSERVATION_TYPES,
  type Observation,
  type ObservationAttributes,
  type ObservationType,
  OpenFactoryError,
  RESERVED_ATTRIBUTE_IDS,
  TOPICS,
  UNAVAILABLE,
  type UnsPlacement,
  worstLevel,
} from '@openfactory/model'
import { Interner } from '../internal/intern.ts'
import { type CommandTracker, createCommandTracker } from './commands.ts'
import { inferUnsSeparator, splitUns } from './uns-pattern.ts'

export type StateLogger = Logger

export interface AssetStateOptions {
  readonly log: EventLog
  /** Stops following the log (as `close()` does, without waiting). */
  readonly signal?: AbortSignal
  /** How often availability TTLs are checked (default 1000 ms). */
  readonly ttlCheckMs?: number
  /** The clock (epoch ms) for TTL checks and the observations they write (default `Date.now`). */
  readonly now?: () => number
  /**
   * TTL for an `avail` AVAILABLE that carries no `ttl_ms` (default none: such an asset stays AVAILABLE until
   * told otherwise, as with the reference OpenFactory's producers, which do not heartbeat).
   */
  readonly defaultTtlMs?: number
  /**
   * Whether this state records availability expiries on the log now (default always). Serving replicas
   * sharing one log let only one of them do it (`ofa run` passes whether it holds the serving lease).
   */
  readonly recordsExpiries?: () => boolean
  /** The UNS separator for assets whose placement does not show it (only a `uns_id`); default `/`. */
  readonly unsSeparator?: string
  /** Specs of the topics, created when missing (defaults: `DEFAULT_STATE_TOPICS`). */
  readonly topics?: { readonly assets?: TopicSpec; readonly registry?: TopicSpec }
  /** Commands kept by the tracker (default 10 000). */
  readonly maxCommands?: number
  /** `sender_uuid` of commands sent through `state.commands` (default `ofa-api`). */
  readonly senderUuid?: string
  readonly logger?: StateLogger
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
  /** `avail` UNAVAILABLE observations written because a TTL expired. */
  readonly expiries: number
  readonly commands: number
}

/**
 * Lifecycle: `createAssetState` starts following the log at once; `ready()` resolves when the state has caught
 * up with the end offsets the log had at start (reject: the log could not be read). `close()` (or the signal)
 * stops following and the TTL timer, and releases command waiters; it does not close the log.
 */
export interface AssetState {
  ready(): Promise<void>
  readonly isReady: boolean
  /** Commands sent and seen on the log (fed by this state's follower). */
  readonly commands: CommandTracker
  has(uuid: string): boolean
  asset(uuid: string): AssetView | undefined
  /** Every known asset UUID, sorted (cached between changes of the asset set). */
  sortedUuids(): readonly string[]
  assetUuids(): IterableIterator<string>
  itemIds(uuid: string): IterableIterator<string>
  item(uuid: string, id: string): ItemState | undefined
  items(uuid: string): ItemState[]
  /** The entry as JSON text (the `ItemState` shape), built on each call. */
  itemJson(uuid: string, id: string): string | undefined
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
  stats(): AssetStateStats
  /** Records on the log not yet applied (end offsets minus positions, both topics). */
  lag(): Promise<number>
  close(): Promise<void>
}

// --- compact storage -------------------------------------------------------------------------------------

/**
 * What many entries share: the tag, the type and the attributes other than the timestamps, as JSON object
 * members with a leading comma (`,"units":"CELSIUS","quality":"GOOD"`). Interned: every Celsius sample of every
 * asset points to one shape.
 */
class Shape {
  readonly tag: string
  readonly type: ObservationType
  readonly frag: string
  /** `,"tag":...,"type":...` ready to be concatenated. */
  readonly tagTypeJson: string
  /** The attributes of `frag` as [name, value] pairs when all values are primitives (for a quick comparison). */
  readonly extras: readonly (readonly [string, unknown])[] | null

  constructor(
    tag: string,
    type: ObservationType,
    frag: string,
    extras: readonly (readonly [string, unknown])[] | null,
  ) {
    this.tag = tag
    this.type = type
    this.frag = frag
    this.tagTypeJson = `,"tag":${JSON.stringify(tag)},"type":"${type}"`
    this.extras = extras
  }

  /** Whether an observation has this shape: same tag and type, and the same other attributes in the same order. */
  fits(o: Observation): boolean {
    if (this.extras === null || o.tag !== this.tag || o.type !== this.type) return false
    const extras = this.extras
    let i = 0
    const attrs = o.attributes
    for (const k in attrs) {
      if (k === 'timestamp' || k === 'ingestion_timestamp') continue
      const v = attrs[k]
      if (v === undefined) continue
      const e = extras[i++]
      if (e === undefined || e[0] !== k || e[1] !== v) return false
    }
    return i === extras.length
  }
}

/** Bounded table of shapes (past `max`, new shapes are simply not shared). */
class ShapeTable {
  readonly #map = new Map<string, Shape>()
  readonly #max: number

  constructor(max = 65_536) {
    this.#max = max
  }

  get(tag: string, type: ObservationType, frag: string, extras: readonly (readonly [string, unknown])[] | null): Shape {
    const key = `${type}\u0000${tag}\u0000${frag}`
    let shape = this.#map.get(key)
    if (shape === undefined) {
      shape = new Shape(tag, type, frag, extras)
      if (this.#map.size < this.#max && key.length <= 1024) this.#map.set(key, shape)
    }
    return shape
  }
}

/**
 * One `uuid|id` entry: four fields. The source timestamp is epoch ms when canonical (else its text); the
 * ingestion timestamp is kept as its distance to the source timestamp when that is a small integer (no heap
 * number), else like the source timestamp; null when absent.
 */
class Cell {
  value: number | string
  shape: Shape
  ts: number | string
  its: number | string | null

  constructor(value: number | string, shape: Shape, ts: number | string, its: number | string | null) {
    this.value = value
    this.shape = shape
    this.ts = ts
    this.its = its
  }
}

/** Ingestion time relative to the source time when both are epoch ms and close: stored as a small integer. */
const ITS_DELTA = 1_000_000_000

function packIts(ts: number | string, its: number | string | null): number | string | null {
  if (typeof its !== 'number') return its
  if (typeof ts === 'number' && its - ts > -ITS_DELTA && its - ts < ITS_DELTA) return its - ts
  return new Date(its).toISOString()
}

/** `,"ingestion_timestamp":"..."`, or nothing. */
function itsMember(ts: number | string, its: number | string | null): string {
  if (its === null) return ''
  if (typeof its === 'number') return `,"ingestion_timestamp":"${isoFromMs((ts as number) + its)}"`
  return `,"ingestion_timestamp":${JSON.stringify(its)}`
}

class AssetRecord {
  readonly uuid: string
  readonly uuidJson: string
  declared: Asset | null = null
  readonly cells = new Map<string, Cell>()
  /** Active conditions of the asset's Condition entries. */
  conditions: Map<string, ActiveCondition[]> | null = null
  typeAttr: string | null = null
  unsIdAttr: string | null = null
  refsAbove: string[] | null = null
  refsBelow: string[] | null = null
  methods: Map<string, MethodContract> | null = null
  unsLevels: string[] | null = null
  unsSeparator = '/'
  /** Availability TTL of the last AVAILABLE (0: none), its ingestion time, and whether its expiry is being written. */
  ttlMs = 0
  availAt = 0
  expiring = false
  /** Changes whenever anything about the asset changes (from one counter shared by all assets). */
  version = 0

  constructor(uuid: string) {
    this.uuid = uuid
    this.uuidJson = JSON.stringify(uuid)
  }
}

const OBSERVATION_TYPE_SET: ReadonlySet<string> = new Set(OBSERVATION_TYPES)
const DATA_CATEGORIES: ReadonlySet<string> = new Set(['Samples', 'Events', 'Condition'])
const RESERVED: ReadonlySet<string> = new Set(RESERVED_ATTRIBUTE_IDS)

const TTL_REASON = (ttl: number, at: number) =>
  `availability TTL of ${ttl} ms expired: no heartbeat since ${isoTimestamp(at)}`

// --- the state -------------------------------------------------------------------------------------------

export function createAssetState(opts: AssetStateOptions): AssetState {
  return new AssetStateImpl(opts)
}

type Positions = Record<number, number>

class AssetStateImpl implements AssetState {
  readonly commands: CommandTracker
  readonly #log: EventLog
  readonly #now: () => number
  readonly #ttlCheckMs: number
  readonly #defaultTtlMs: number
  readonly #defaultSeparator: string
  readonly #topics: { readonly assets: TopicSpec; readonly registry: TopicSpec }
  readonly #logger: StateLogger | undefined
  readonly #recordsExpiries: (() => boolean) | undefined
  readonly #stop = new AbortController()
  readonly #assets = new Map<string, AssetRecord>()
  /** Assets removed by a registry tombstone → the tombstone's record time; older records of them are skipped. */
  readonly #removedAt = new Map<string, number>()
  /** Assets AVAILABLE with a TTL. */
  readonly #ttlAssets = new Set<AssetRecord>()
  readonly #interner = new Interner()
  readonly #shapes = new ShapeTable()
  /** Declared data item and method lists, shared between assets declared alike (one device model, many assets). */
  readonly #models = new Map<string, readonly unknown[]>()
  readonly #positions: { assets: Positions; registry: Positions } = { assets: {}, registry: {} }
  readonly #changeListeners: ((uuid: string, id: string) => void)[] = []
  readonly #assetListeners: ((uuid: string) => void)[] = []
  readonly #batchListeners: (() => void)[] = []
  readonly #ready: Promise<void>
  readonly #run: Promise<void>
  #isReady = false
  #sorted: string[] | null = null
  #items = 0
  #versions = 0
  #observations = 0
  #registryRecords = 0
  #invalid = 0
  #expiries = 0
  #ttlTimer: NodeJS.Timeout | null = null
  #closed = false

  constructor(opts: AssetStateOptions) {
    this.#log = opts.log
    this.#now = opts.now ?? Date.now
    this.#ttlCheckMs = opts.ttlCheckMs ?? 1000
    this.#defaultTtlMs = opts.defaultTtlMs ?? 0
    this.#defaultSeparator = opts.unsSeparator ?? '/'
    this.#topics = {
      assets: opts.topics?.assets ?? DEFAULT_STATE_TOPICS.assets,
      registry: opts.topics?.registry ?? DEFAULT_STATE_TOPICS.registry,
    }
    this.#logger = opts.logger
    this.#recordsExpiries = opts.recordsExpiries
    this.commands = createCommandTracker({
      log: opts.log,
      senderUuid: opts.senderUuid,
      maxCommands: opts.maxCommands,
      now: this.#now,
    })
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
    this.#run = this.#start(resolveReady).catch((err) => {
      rejectReady(err)
      if (!this.#stop.signal.aborted) this.#logger?.error('asset state stopped', { error: (err as Error).message })
    })
  }

  // --- following the log ---------------------------------------------------------------------------------

  async #start(resolveReady: () => void): Promise<void> {
    await this.#ensureTopic(this.#topics.registry)
    await this.#ensureTopic(this.#topics.assets)
    // Registry first, so that removals are known before the observations of removed assets are replayed.
    await this.#catchUp(this.#topics.registry.name, this.#positions.registry, (r) => this.#applyRegistry(r))
    await this.#catchUp(this.#topics.assets.name, this.#positions.assets, (r) => this.#applyAssets(r))
    if (this.#stop.signal.aborted) throw new OpenFactoryError('OFA_SERVE_UNAVAILABLE', 'the asset state was closed')
    this.#isReady = true
    resolveReady()
    this.#ttlTimer = setInterval(() => this.#checkTtl(), this.#ttlCheckMs)
    this.#ttlTimer.unref()
    await Promise.all([
      this.#follow(this.#topics.registry.name, this.#positions.registry, (r) => this.#applyRegistry(r)),
      this.#follow(this.#topics.assets.name, this.#positions.assets, (r) => this.#applyAssets(r)),
    ])
  }

  async #ensureTopic(spec: TopicSpec): Promise<void> {
    try {
      await this.#log.describeTopic(spec.name)
      return
    } catch (err) {
      if (!isOpenFactoryError(err, 'OFA_LOG_UNKNOWN_TOPIC')) throw err
    }
    try {
      await this.#log.createTopic(spec)
    } catch (err) {
      // Created meanwhile by someone else (the supervisor, `ofa up`): use it as it is.
      if (!isOpenFactoryError(err, 'OFA_LOG_TOPIC_CONFLICT')) throw err
    }
  }

  /** Reads every partition up to the end offset it had when catch-up began. */
  async #catchUp(topic: string, positions: Positions, apply: (r: LogRecord) => void): Promise<void> {
    const desc = await this.#log.describeTopic(topic)
    for (const ps of desc.partitionStates) {
      let pos = ps.startOffset
      while (pos < ps.endOffset && !this.#stop.signal.aborted) {
        let batch: LogRecord[]
        try {
          batch = await this.#log.read(topic, ps.partition, pos, { maxRecords: 5000 })
        } catch (err) {
          if (!isOpenFactoryError(err, 'OFA_LOG_OFFSET_OUT_OF_RANGE')) throw err
          // Retention moved the start meanwhile: continue from the new start.
          const now = (await this.#log.describeTopic(topic)).partitionStates[ps.partition]
          if (!now || now.startOffset <= pos) throw err
          pos = now.startOffset
          continue
        }
        if (batch.length === 0) break
        for (const r of batch) {
          this.#applySafely(apply, r)
          pos = r.offset + 1
        }
        this.#batchEnd()
      }
      positions[ps.partition] = pos
    }
  }

  async #follow(topic: string, positions: Positions, apply: (r: LogRecord) => void): Promise<void> {
    let delay = 100
    while (!this.#stop.signal.aborted) {
      try {
        for await (const batch of this.#log.follow(topic, { from: { ...positions }, signal: this.#stop.signal })) {
          for (const r of batch) {
            this.#applySafely(apply, r)
            positions[r.partition] = r.offset + 1
          }
          this.#batchEnd()
          delay = 100
        }
        return
      } catch (err) {
        if (this.#stop.signal.aborted || isOpenFactoryError(err, 'OFA_LOG_CLOSED')) return
        if (isOpenFactoryError(err, 'OFA_LOG_OFFSET_OUT_OF_RANGE')) {
          try {
            for (const ps of (await this.#log.describeTopic(topic)).partitionStates) {
              positions[ps.partition] = Math.max(positions[ps.partition] ?? 0, ps.startOffset)
            }
          } catch {}
        }
        this.#logger?.warn('following the log failed; retrying', {
          topic,
          error: (err as Error).message,
          retryInMs: delay,
        })
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            this.#stop.signal.removeEventListener('abort', done)
            resolve()
          }
          const timer = setTimeout(done, delay)
          this.#stop.signal.addEventListener('abort', done, { once: true })
        })
        delay = Math.min(delay * 2, 5000)
      }
    }
  }

  #batchEnd(): void {
    const listeners = this.#batchListeners
    for (let i = 0; i < listeners.length; i++) (listeners[i] as () => void)()
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
    a.version = ++this.#versions
    this.#updateUns(a)
    this.#emitAsset(uuid)
  }

  #applyAssets(r: LogRecord): void {
    this.#observations++
    if (r.key === null || r.value === null) {
      throw new OpenFactoryError('OFA_OBSERVATION_INVALID', 'ofa_assets record without a key or a value')
    }
    const uuid = r.key.toString('utf8')
    const removedAt = this.#removedAt.get(uuid)
    if (removedAt !== undefined) {
      if (r.timestamp <= removedAt) return
      this.#removedAt.delete(uuid)
    }
    const o = decodeObservation(r.value)
    let event: AssetEvent
    try {
      event = classifyObservation(o)
    } catch {
      event = AssetEvents.observation(o) // a malformed command or result: kept as the value it is
    }
    let a = this.#assets.get(uuid)
    const isNew = a === undefined
    if (a === undefined) a = this.#record(uuid)
    const assetChanged = this.#applyEvent(a, event, r.timestamp) || isNew
    this.#setCell(a, o)
    if (assetChanged) this.#emitAsset(uuid)
    const listeners = this.#changeListeners
    for (let i = 0; i < listeners.length; i++) (listeners[i] as (u: string, id: string) => void)(uuid, o.id)
  }

  /** What an event says about the asset beside its value; returns whether the registry view changed. */
  #applyEvent(a: AssetRecord, e: AssetEvent, recordTime: number): boolean {
    switch (e.kind) {
      case 'observation':
        return false
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
      case 'command':
      case 'result':
        this.commands.observe(a.uuid, e)
        return false
      case 'availability':
        if (e.id === AVAIL_ID) this.#applyAvail(a, e, recordTime)
        return false
      default:
        return false
    }
  }

  #applyAvail(a: AssetRecord, e: AvailabilityEvent, recordTime: number): void {
    if (e.available) {
      const its = e.observation.attributes.ingestion_timestamp
      const ttl = e.ttlMs ?? this.#defaultTtlMs
      const ingested = typeof its === 'string' ? Date.parse(its) : NaN
      a.ttlMs = Math.max(ttl, 0)
      a.availAt = Number.isFinite(ingested) ? ingested : recordTime
      a.expiring = false
      if (a.ttlMs > 0) this.#ttlAssets.add(a)
      else this.#ttlAssets.delete(a)
    } else {
      a.ttlMs = 0
      a.expiring = false
      this.#ttlAssets.delete(a)
    }
  }

  #setCell(a: AssetRecord, o: Observation): void {
    a.version = ++this.#versions
    const interner = this.#interner
    const attrs = o.attributes
    const ts = typeof attrs.timestamp === 'string' ? compactTimestamp(attrs.timestamp) : ''
    const its = typeof attrs.ingestion_timestamp === 'string' ? compactTimestamp(attrs.ingestion_timestamp) : null
    let value = typeof o.value === 'string' ? interner.intern(o.value) : o.value
    if (o.type === 'Condition') {
      a.conditions ??= new Map()
      const active = applyCondition(a.conditions.get(o.id) ?? [], o)
      a.conditions.set(o.id, active)
      value = worstLevel(active)
    } else if (a.conditions?.delete(o.id) && a.conditions.size === 0) {
      a.conditions = null
    }
    const cell = a.cells.get(o.id)
    // Steady state: an item keeps its tag, type and attributes; only the value and timestamps change.
    const shape = cell?.shape.fits(o) ? cell.shape : this.#shape(o)
    const packed = packIts(ts, its)
    if (cell === undefined) {
      a.cells.set(interner.intern(o.id), new Cell(value, shape, ts, packed))
      this.#items++
    } else {
      cell.value = value
      cell.shape = shape
      cell.ts = ts
      cell.its = packed
    }
  }

  #shape(o: Observation): Shape {
    const attrs = o.attributes
    let frag = ''
    let extras: [string, unknown][] | null = []
    for (const k in attrs) {
      const v = attrs[k]
      if (v === undefined) continue
      if ((k === 'timestamp' || k === 'ingestion_timestamp') && typeof v === 'string') continue
      frag += `,${JSON.stringify(k)}:${JSON.stringify(v)}`
      if (extras !== null && v !== null && typeof v === 'object') extras = null
      else extras?.push([k, v])
    }
    const interner = this.#interner
    return this.#shapes.get(interner.intern(o.tag), o.type, interner.intern(frag), extras)
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
      a = new AssetRecord(uuid)
      a.unsSeparator = this.#defaultSeparator
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
    this.#ttlAssets.delete(a)
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

  // --- availability TTL ----------------------------------------------------------------------------------

  #checkTtl(): void {
    if (this.#closed || !this.#isReady || this.#recordsExpiries?.() === false) return
    const now = this.#now()
    const expired: AssetRecord[] = []
    for (const a of this.#ttlAssets) {
      if (!a.expiring && now - a.availAt > a.ttlMs) {
        a.expiring = true
        expired.push(a)
      }
    }
    if (expired.length === 0) return
    const records = expired.map((a) => ({
      key: a.uuid,
      value: encodeAssetEvent(
        AssetEvents.availability({
          available: false,
          reason: TTL_REASON(a.ttlMs, a.availAt),
          at: now,
          ingestedAt: now,
        }),
      ),
    }))
    this.#log.append(this.#topics.assets.name, records).then(
      () => {
        this.#expiries += expired.length
      },
      (err) => {
        for (const a of expired) a.expiring = false // tried again at the next check
        if (!this.#closed)
          this.#logger?.warn('could not record an availability expiry', { error: (err as Error).message })
      },
    )
  }

  // --- reading -------------------------------------------------------------------------------------------

  ready(): Promise<void> {
    return this.#ready
  }

  get isReady(): boolean {
    return this.#isReady
  }

  has(uuid: string): boolean {
    return this.#assets.has(uuid)
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
    }
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
    const shape = cell.shape
    const ts = typeof cell.ts === 'number' ? `"${isoFromMs(cell.ts)}"` : JSON.stringify(cell.ts)
    const value = typeof cell.value === 'number' ? String(cell.value) : JSON.stringify(cell.value)
    const conditions = shape.type === 'Condition' ? a.conditions?.get(id) : undefined
    return `{"assetUuid":${a.uuidJson},"id":${JSON.stringify(id)},"value":${value}${shape.tagTypeJson},"timestamp":${ts},"attributes":{"timestamp":${ts}${itsMember(cell.ts, cell.its)}${shape.frag}}${conditions ? `,"conditions":${JSON.stringify(conditions)}` : ''}}`
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
    this.#changeListeners.push(listener)
    return () => {
      const i = this.#changeListeners.indexOf(listener)
      if (i >= 0) this.#changeListeners.splice(i, 1)
    }
  }

  onAssetChange(listener: (uuid: string) => void): () => void {
    this.#assetListeners.push(listener)
    return () => {
      const i = this.#assetListeners.indexOf(listener)
      if (i >= 0) this.#assetListeners.splice(i, 1)
    }
  }

  onBatchEnd(listener: () => void): () => void {
    this.#batchListeners.push(listener)
    return () => {
      const i = this.#batchListeners.indexOf(listener)
      if (i >= 0) this.#batchListeners.splice(i, 1)
    }
  }

  stats(): AssetStateStats {
    return {
      ready: this.#isReady,
      assets: this.#assets.size,
      items: this.#items,
      observations: this.#observations,
      registryRecords: this.#registryRecords,
      invalidRecords: this.#invalid,
      expiries: this.#expiries,
      commands: this.commands.size,
    }
  }

  async lag(): Promise<number> {
    let total = 0
    for (const [spec, positions] of [
      [this.#topics.assets, this.#positions.assets],
      [this.#topics.registry, this.#positions.registry],
    ] as const) {
      const desc = await this.#log.describeTopic(spec.name)
      for (const ps of desc.partitionStates) {
        const pos = Math.max(positions[ps.partition] ?? ps.startOffset, ps.startOffset)
        total += Math.max(0, ps.endOffset - pos)
      }
    }
    return total
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#stop.abort()
      if (this.#ttlTimer) clearInterval(this.#ttlTimer)
      this.commands.close()
    }
    await this.#run
  }
}
