/**
 * The MTConnect façade's buffer: every record of `ofa_assets` given a sequence number that the log itself
 * determines, the last `bufferSize` observations kept in a ring, each data item's latest observation, and the state
 * at the ring's start (the first checkpoint) so that `current?at=` can be answered for any sequence the ring holds.
 *
 * Sequence numbers (MTConnect Part 1 §8.3: strictly increasing, `firstSequence` … `lastSequence` in the buffer).
 * `ofa_assets` has several partitions, each ordered by offset; the façade merges them in the order of
 * (record time, partition, offset), a record's time being its log timestamp, raised to the largest one before it in
 * its partition (so that each partition is a sorted run: a clock that stepped back cannot reorder the merge). Every
 * record takes a number, observations or not (commands, results, method contracts and declarations take one too, and
 * do not appear in documents: sequences skip them): the number of a record R of partition p at offset o is
 *
 *     1 + o + Σ (q ≠ p) c_q      c_q = the offset of the first record of partition q that comes after R,
 *
 * i.e. one more than the number of records before it in the merge, records that retention deleted included (they
 * lie before every record still held). The first number is `1 + Σ startOffset`, and a restart that replays the log
 * from the partitions' start offsets computes the same number for every record.
 *
 * A record is numbered only when its place in the merge is certain: once every other partition has shown a record
 * after it, or has been read to its end and `latenessMs` (default 1000) have passed since the record's time — a
 * partition read to its end counts as being at `now − latenessMs`. So live numbering equals what a replay computes,
 * for the records that reach the façade less than `latenessMs` after their timestamp (records appended by our
 * connectors carry the time of the append). A record that comes later than that (a producer that set an old
 * timestamp, a forwarder copying an edge's records, a backbone that took longer to deliver) takes the next number
 * when it arrives; a restart places it by its time instead, so the numbers of the records between its time and
 * its arrival may differ by one after a restart: the one case where they do (counted in `stats().late`).
 *
 * The instance id (MTConnect's `instanceId`: a client that sees it change knows sequence numbers started over) is
 * kept on the log, in the compacted topic `ofa_mtconnect` (key: the observations topic's name, value JSON
 * `{"instanceId", "anchors": [{"partition", "offset", "timestamp"}]}`), with an anchor per partition: the last record
 * numbered (refreshed every `anchorIntervalMs`, default 60 s). At start the anchors are checked against the log: an
 * anchor's offset at or past its partition's end (offsets went backwards: the topic was created again, the log
 * restored from an older copy), or a record at the anchor's offset with another timestamp, means the history the
 * numbers came from is gone: a new instance id is taken (the time of the oldest record held, in seconds, or now for
 * an empty log; never the one before). Otherwise the stored one is kept, whatever retention deleted meanwhile. When
 * the anchor cannot be read or written (no such rights), the id is derived the same way and kept for the process.
 *
 * Cost (bench/mtconnect-current.ts prints them): the façade reads `ofa_assets` once more, from the partitions'
 * start offsets, when it starts (the first `/mtconnect` request), decoding every record; then it follows the log as
 * the asset state does. Memory: the ring (`bufferSize` observations of ≈ 100 bytes each, shared strings aside), and
 * two entries per data item (latest, first checkpoint).
 */
import { type EventLog, type LogRecord, tail } from '@openfactory/log'
import {
  AVAIL_ID,
  Backoff,
  decodeObservation,
  isOpenFactoryError,
  type Logger,
  type Observation,
  OpenFactoryError,
  RESERVED_ATTRIBUTE_IDS,
  retryAdvice,
  sleep,
  TOPICS,
} from '@openfactory/model'

const RESERVED: ReadonlySet<string> = new Set(RESERVED_ATTRIBUTE_IDS)

/** The compacted topic the instance id and its anchors are kept on. */
export const MTCONNECT_TOPIC = 'ofa_mtconnect'

export const SEQUENCE_BUFFER_DEFAULTS = {
  /** Observations kept (MTConnect agents' usual 2^17). */
  bufferSize: 131_072,
  latenessMs: 1000,
  anchorIntervalMs: 60_000,
} as const

export interface SequenceBufferOptions {
  readonly eventLog: EventLog
  /** The observations topic (default `ofa_assets`). */
  readonly topic?: string
  /** Observations kept in the ring (default 131 072). */
  readonly bufferSize?: number
  /** How long after its time a record may still arrive and be numbered in its place (default 1000 ms). */
  readonly latenessMs?: number
  /** How often the anchors on `ofa_mtconnect` are refreshed (default 60 000 ms). */
  readonly anchorIntervalMs?: number
  /** The clock (default `Date.now`). */
  readonly now?: () => number
  readonly logger?: Logger
}

/** Attributes an observation element carries besides dataItemId, timestamp, sequence (and name, subType). */
export type ObservationExtras = Readonly<Record<string, string | number>>

/** One numbered observation of one data item. */
export interface BufferedObservation {
  readonly sequence: number
  /** The asset uuid. */
  readonly asset: string
  /** The item's id on the log (`ID`; `avail` for the asset's availability). */
  readonly id: string
  /** `Samples`, `Events`, `Condition`, or `UNAVAILABLE`. */
  readonly type: string
  /** The value; for a condition, its level. */
  readonly value: number | string
  /** Source time, ISO-8601. */
  readonly timestamp: string
  /** Condition native code, severity, qualifier and message; time series, data set counts...; null when none. */
  readonly extras: ObservationExtras | null
}

/** An item's state: its last observation, or for a condition the active ones (a NORMAL one when none is). */
export type ItemSnapshot = BufferedObservation | readonly BufferedObservation[]

export interface SequenceBufferStats {
  readonly ready: boolean
  readonly instanceId: number
  readonly firstSequence: number
  readonly nextSequence: number
  /** Observations in the ring. */
  readonly buffered: number
  /** Records numbered since start (replay included), observations or not. */
  readonly numbered: number
  /** Records numbered at their arrival because they came later than `latenessMs` after their time. */
  readonly late: number
  /** Records that could not be read as observations (numbered, skipped). */
  readonly invalid: number
  /** Data items with a latest observation. */
  readonly items: number
}

/**
 * Lifecycle: `createSequenceBuffer` starts reading at once (instance id, then the log from its start); `ready()`
 * resolves once every record the log held at start is numbered (rejects: closed, or the log failed); `close()`
 * stops reading and the anchor refresh (the log stays open).
 */
export interface SequenceBuffer {
  ready(): Promise<void>
  readonly isReady: boolean
  readonly failure: Error | null
  /** Valid once ready. */
  readonly instanceId: number
  readonly bufferSize: number
  /** The oldest sequence the ring still holds everything from. */
  firstSequence(): number
  /** The number the next record will take. */
  nextSequence(): number
  /** The observations with sequence ≥ `from`, oldest first (the ring as it is now). */
  since(from: number): IterableIterator<BufferedObservation>
  /** Each item's latest observation (conditions: the active ones), by asset then item id. */
  latest(asset: string, id: string): ItemSnapshot | undefined
  /** Each item's state after the observations up to `at` (firstSequence − 1 ≤ at < nextSequence), for the asked items. */
  at(
    at: number,
    wanted: (asset: string, id: string) => boolean,
  ): (asset: string, id: string) => ItemSnapshot | undefined
  /** Called after observations were numbered (streams wake up then). */
  onAppend(listener: () => void): () => void
  stats(): SequenceBufferStats
  close(): Promise<void>
}

export function createSequenceBuffer(opts: SequenceBufferOptions): SequenceBuffer {
  return new SequenceBufferImpl(opts)
}

interface Pending {
  readonly offset: number
  /** Merge time: the record's timestamp, raised to the partition's largest before it. */
  readonly time: number
  /** The log timestamp as written (for the anchors). */
  readonly logTime: number
  readonly key: string | null
  readonly value: Buffer | null
}

interface Partition {
  readonly queue: Pending[]
  head: number
  /** Next offset to read. */
  pos: number
  /** The end offset the current catch-up reads up to (the end at start, then the end when following began). */
  end: number
  /** c_q: the offset of the partition's next record to number. */
  next: number
  maxTime: number
  /** The last record numbered, for the anchors. */
  last: { offset: number; timestamp: number } | null
}

interface Anchor {
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
}

/** Records read at once per partition while catching up, and the queue size past which its reading waits. */
const READ_RECORDS = 1000
const CATCH_UP_QUEUE = 4000

type ItemMap = Map<string, Map<string, ItemSnapshot>>

function mapGet(m: ItemMap, asset: string, id: string): ItemSnapshot | undefined {
  return m.get(asset)?.get(id)
}

function mapSet(m: ItemMap, asset: string, id: string, s: ItemSnapshot): void {
  let inner = m.get(asset)
  if (inner === undefined) {
    inner = new Map()
    m.set(asset, inner)
  }
  inner.set(id, s)
}

/**
 * A condition's active set after one more observation (MTConnect Part 3 §5.4): WARNING or FAULT adds (or replaces)
 * the entry of its native code; NORMAL with a code clears that code, without one clears all; UNAVAILABLE replaces
 * all. An empty set is shown as the NORMAL observation that emptied it.
 */
export function applyToSnapshot(prev: ItemSnapshot | undefined, o: BufferedObservation): ItemSnapshot {
  if (o.type !== 'Condition') return o
  const level = String(o.value)
  const code = String(o.extras?.nativeCode ?? '')
  const active = (Array.isArray(prev) ? prev : []).filter(
    (c: BufferedObservation) => c.value !== 'NORMAL' && c.value !== 'UNAVAILABLE',
  )
  if (level === 'WARNING' || level === 'FAULT') {
    return [...active.filter((c) => String(c.extras?.nativeCode ?? '') !== code), o]
  }
  if (level === 'NORMAL' && code !== '') {
    const left = active.filter((c) => String(c.extras?.nativeCode ?? '') !== code)
    return left.length > 0 ? left : [o]
  }
  return [o]
}

const EXTRA_ATTRIBUTES = [
  'nativeCode',
  'nativeSeverity',
  'qualifier',
  'sampleCount',
  'sampleRate',
  'count',
  'resetTriggered',
  'duration',
  'statistic',
] as const

/** What of an observation's attributes its MTConnect element carries (null: nothing, the common case). */
function extrasOf(o: Observation): ObservationExtras | null {
  const a = o.attributes
  let out: Record<string, string | number> | null = null
  for (const k of EXTRA_ATTRIBUTES) {
    const v = a[k]
    if (typeof v === 'string' || typeof v === 'number') {
      out ??= {}
      out[k] = v
    }
  }
  if (o.type === 'Condition' && typeof a.message === 'string') {
    out ??= {}
    out.message = a.message
  }
  return out
}

class SequenceBufferImpl implements SequenceBuffer {
  readonly bufferSize: number
  readonly #log: EventLog
  readonly #topic: string
  readonly #lateness: number
  readonly #anchorInterval: number
  readonly #now: () => number
  readonly #logger: Logger | undefined
  readonly #stop = new AbortController()
  readonly #ready: Promise<void>
  readonly #run: Promise<void>
  readonly #listeners: (() => void)[] = []
  #parts: Partition[] = []
  /** Σ c_q. */
  #sum = 0
  #first = 1
  // The ring: `#count` entries from `#ringStart`.
  readonly #ring: (BufferedObservation | undefined)[]
  #ringStart = 0
  #count = 0
  readonly #latest: ItemMap = new Map()
  /** The state before the ring's oldest entry: entries leave the ring into it. */
  readonly #checkpoint: ItemMap = new Map()
  #items = 0
  #instanceId = 0
  #isReady = false
  #failure: Error | null = null
  #catchingUp = true
  #timer: NodeJS.Timeout | null = null
  #anchorTimer: NodeJS.Timeout | null = null
  #spaceWaiters: (() => void)[] = []
  #numbered = 0
  #late = 0
  #invalid = 0
  #lastKey: [number, number, number] = [Number.NEGATIVE_INFINITY, 0, 0]
  #appended = false
  #closed = false

  constructor(opts: SequenceBufferOptions) {
    this.bufferSize = opts.bufferSize ?? SEQUENCE_BUFFER_DEFAULTS.bufferSize
    if (!Number.isSafeInteger(this.bufferSize) || this.bufferSize < 1) {
      throw new OpenFactoryError(
        'OFA_CONFIG_VALUE',
        `mtconnect.bufferSize must be a positive integer (given: ${this.bufferSize})`,
      )
    }
    this.#lateness = opts.latenessMs ?? SEQUENCE_BUFFER_DEFAULTS.latenessMs
    this.#anchorInterval = opts.anchorIntervalMs ?? SEQUENCE_BUFFER_DEFAULTS.anchorIntervalMs
    for (const [name, v] of [
      ['latenessMs', this.#lateness],
      ['anchorIntervalMs', this.#anchorInterval],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new OpenFactoryError('OFA_CONFIG_VALUE', `mtconnect.${name} must be an integer ≥ 0 (given: ${v})`)
      }
    }
    this.#log = opts.eventLog
    this.#topic = opts.topic ?? TOPICS.assets
    this.#now = opts.now ?? Date.now
    this.#logger = opts.logger
    this.#ring = new Array(this.bufferSize)
    let resolveReady!: () => void
    let rejectReady!: (e: unknown) => void
    this.#ready = new Promise((resolve, reject) => {
      resolveReady = resolve
      rejectReady = reject
    })
    this.#ready.catch(() => {})
    this.#run = this.#start(resolveReady).catch((err: Error) => {
      rejectReady(err)
      if (this.#stop.signal.aborted) return
      this.#isReady = false
      this.#failure = err
      this.#logger?.error('the MTConnect buffer stopped: the log cannot be read', { error: err.message })
    })
  }

  // --- reading ---------------------------------------------------------------------------------------------

  async #start(resolveReady: () => void): Promise<void> {
    const desc = await this.#log.describeTopic(this.#topic)
    this.#parts = desc.partitionStates.map((ps) => ({
      queue: [],
      head: 0,
      pos: ps.startOffset,
      end: ps.endOffset,
      next: ps.startOffset,
      maxTime: Number.NEGATIVE_INFINITY,
      last: null,
    }))
    this.#sum = this.#parts.reduce((s, p) => s + p.next, 0)
    this.#first = this.#sum + 1
    this.#instanceId = await this.#resolveInstanceId(desc.partitionStates)
    // Catch-up: every partition read to its end at start, in parallel, numbered in merge order as they come.
    await Promise.all(this.#parts.map((_, i) => this.#catchUp(i)))
    if (this.#stop.signal.aborted) throw this.#closedError()
    this.#catchingUp = false
    this.#drain()
    while (this.#pendingCount() > 0) {
      await sleep(Math.max(1, this.#lateness), this.#stop.signal)
      if (this.#stop.signal.aborted) throw this.#closedError()
      this.#drain()
    }
    this.#isReady = true
    resolveReady()
    this.#scheduleAnchors()
    // Follow: from where the catch-up ended, until closed. Until `tail` has read to the end the log has now, an
    // empty partition is still being read (it blocks the merge), as during the catch-up.
    const from: Record<number, number> = {}
    const now = await this.#log.describeTopic(this.#topic)
    this.#parts.forEach((p, i) => {
      from[i] = p.pos
      p.end = now.partitionStates[i]?.endOffset ?? p.pos
    })
    this.#catchingUp = true
    for await (const batch of tail(this.#log, this.#topic, {
      from,
      signal: this.#stop.signal,
      ...(this.#logger ? { logger: this.#logger } : {}),
    })) {
      for (const r of batch.records) this.#push(r)
      if (batch.caughtUp) this.#catchingUp = false
      this.#drain()
    }
    this.#isReady = false
  }

  #closedError(): OpenFactoryError {
    return new OpenFactoryError(
      'OFA_SERVE_UNAVAILABLE',
      'the MTConnect buffer was closed before it caught up with the log',
    )
  }

  async #catchUp(i: number): Promise<void> {
    const p = this.#parts[i] as Partition
    const backoff = new Backoff({ initialMs: 100, maxMs: 5000 })
    while (p.pos < p.end && !this.#stop.signal.aborted) {
      while (p.queue.length - p.head >= CATCH_UP_QUEUE && !this.#stop.signal.aborted) {
        await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve))
      }
      let records: LogRecord[]
      try {
        records = await this.#log.read(this.#topic, i, p.pos, { maxRecords: READ_RECORDS })
        backoff.reset()
      } catch (err) {
        if (this.#stop.signal.aborted || isOpenFactoryError(err, 'OFA_LOG_CLOSED')) return
        if (isOpenFactoryError(err, 'OFA_LOG_OFFSET_OUT_OF_RANGE')) {
          // Retention passed us: what it deleted is before everything held, as it would be for a restart.
          const ps = (await this.#log.describeTopic(this.#topic)).partitionStates[i]
          if (ps && ps.startOffset > p.pos) this.#skipTo(p, ps.startOffset)
          continue
        }
        const advice = retryAdvice(err)
        if (!advice.retry) throw err
        await sleep(Math.max(backoff.next(), advice.afterMs), this.#stop.signal)
        continue
      }
      if (records.length === 0) break
      for (const r of records) this.#push(r)
      this.#drain()
    }
  }

  #skipTo(p: Partition, offset: number): void {
    if (p.queue.length === p.head) {
      this.#sum += offset - p.next
      p.next = offset
    }
    p.pos = offset
  }

  #push(r: LogRecord): void {
    const p = this.#parts[r.partition]
    if (p === undefined || r.offset < p.pos) return
    const time = Math.max(r.timestamp, p.maxTime)
    p.maxTime = time
    if (p.queue.length === p.head) {
      // The partition's next record to number is this one (offsets may skip: transaction markers, retention).
      this.#sum += r.offset - p.next
      p.next = r.offset
    }
    p.queue.push({
      offset: r.offset,
      time,
      logTime: r.timestamp,
      key: r.key === null ? null : r.key.toString('utf8'),
      value: r.value === null ? null : Buffer.from(r.value),
    })
    p.pos = r.offset + 1
  }

  #pendingCount(): number {
    let n = 0
    for (const p of this.#parts) n += p.queue.length - p.head
    return n
  }

  /** Numbers every record whose place in the merge is certain (see the file's comment). */
  #drain(): void {
    if (this.#closed) return
    const parts = this.#parts
    const watermark = this.#now() - this.#lateness
    let numbered = false
    for (;;) {
      let best = -1
      let bestTime = 0
      let bestOffset = 0
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i] as Partition
        if (p.queue.length === p.head) continue
        const h = p.queue[p.head] as Pending
        if (best < 0 || h.time < bestTime) {
          best = i
          bestTime = h.time
          bestOffset = h.offset
        }
      }
      if (best < 0) break
      let waitUntil = -1
      let blocked = false
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i] as Partition
        if (p.queue.length !== p.head) continue
        // An empty partition: still being read (catch-up) blocks; read to its end, it stands at now − lateness.
        if (this.#catchingUp && p.pos < p.end) {
          blocked = true
          break
        }
        if (bestTime > watermark) waitUntil = bestTime + this.#lateness
      }
      if (blocked) break
      if (waitUntil >= 0) {
        this.#wake(waitUntil)
        break
      }
      this.#number(best, bestTime, bestOffset)
      numbered = true
    }
    if (this.#spaceWaiters.length > 0) {
      const waiters = this.#spaceWaiters
      this.#spaceWaiters = []
      for (const w of waiters) w()
    }
    if (numbered && this.#appended) {
      this.#appended = false
      for (const l of this.#listeners) l()
    }
  }

  #wake(at: number): void {
    if (this.#timer !== null) return
    this.#timer = setTimeout(
      () => {
        this.#timer = null
        this.#drain()
      },
      Math.max(1, at - this.#now() + 1),
    )
    this.#timer.unref?.()
  }

  #number(i: number, time: number, offset: number): void {
    const p = this.#parts[i] as Partition
    const rec = p.queue[p.head] as Pending
    p.queue[p.head] = undefined as unknown as Pending
    p.head++
    if (p.head > 1024 && p.head * 2 > p.queue.length) {
      p.queue.splice(0, p.head)
      p.head = 0
    }
    const sequence = 1 + this.#sum
    const nextOffset = p.queue.length > p.head ? (p.queue[p.head] as Pending).offset : p.pos
    this.#sum += nextOffset - p.next
    p.next = nextOffset
    p.last = { offset: rec.offset, timestamp: rec.logTime }
    this.#numbered++
    const [lt, lp, lo] = this.#lastKey
    if (time < lt || (time === lt && (i < lp || (i === lp && offset < lo)))) this.#late++
    else this.#lastKey = [time, i, offset]
    this.#observe(sequence, rec)
  }

  /** A numbered record: kept when it is an observation of a data item (or the asset's availability). */
  #observe(sequence: number, rec: Pending): void {
    if (rec.key === null || rec.value === null) return
    let o: Observation
    try {
      o = decodeObservation(rec.value)
    } catch {
      this.#invalid++
      return
    }
    // What classifyObservation (model) calls an observation, and `avail`: commands, results, methods, declarations
    // and `agent_avail` are numbered and not kept.
    if (o.type === 'Method' || o.type === 'OpenFactory' || (o.id !== AVAIL_ID && RESERVED.has(o.id))) return
    const entry: BufferedObservation = {
      sequence,
      asset: rec.key,
      id: o.id,
      type: o.type,
      value: o.value,
      timestamp: o.attributes.timestamp,
      extras: extrasOf(o),
    }
    // The ring: the oldest entry leaves into the first checkpoint.
    if (this.#count === this.bufferSize) {
      const old = this.#ring[this.#ringStart] as BufferedObservation
      mapSet(this.#checkpoint, old.asset, old.id, applyToSnapshot(mapGet(this.#checkpoint, old.asset, old.id), old))
      this.#first = old.sequence + 1
      this.#ring[this.#ringStart] = entry
      this.#ringStart = (this.#ringStart + 1) % this.bufferSize
    } else {
      this.#ring[(this.#ringStart + this.#count) % this.bufferSize] = entry
      this.#count++
    }
    const prev = mapGet(this.#latest, entry.asset, entry.id)
    if (prev === undefined) this.#items++
    mapSet(this.#latest, entry.asset, entry.id, applyToSnapshot(prev, entry))
    this.#appended = true
  }

  // --- the instance id --------------------------------------------------------------------------------------

  async #resolveInstanceId(
    states: readonly { partition: number; startOffset: number; endOffset: number }[],
  ): Promise<number> {
    let stored: { instanceId: number; anchors: Anchor[] } | null = null
    try {
      stored = await this.#readAnchor()
    } catch (err) {
      this.#logger?.warn('the MTConnect instance id cannot be read from the log; deriving it', {
        error: (err as Error).message,
      })
    }
    if (stored !== null && (await this.#continuous(stored.anchors, states))) return stored.instanceId
    // A new history: the time of its oldest record held, in seconds (now for an empty log), never the last id.
    let oldest = Number.POSITIVE_INFINITY
    for (const s of states) {
      if (s.startOffset >= s.endOffset) continue
      const [r] = await this.#log.read(this.#topic, s.partition, s.startOffset, { maxRecords: 1 })
      if (r) oldest = Math.min(oldest, r.timestamp)
    }
    let id = Math.floor((Number.isFinite(oldest) ? oldest : this.#now()) / 1000)
    if (stored !== null && id === stored.instanceId) id++
    const anchors: Anchor[] = []
    for (const s of states) {
      if (s.endOffset <= s.startOffset) continue
      const [r] = await this.#log.read(this.#topic, s.partition, s.endOffset - 1, { maxRecords: 1 })
      if (r) anchors.push({ partition: s.partition, offset: r.offset, timestamp: r.timestamp })
    }
    if (stored !== null) {
      this.#logger?.warn(
        'the log no longer holds the history the MTConnect sequence numbers came from: new instanceId',
        {
          previous: stored.instanceId,
          instanceId: id,
        },
      )
    }
    await this.#writeAnchor(id, anchors)
    return id
  }

  /** Whether the log still holds the history the anchors were taken from. */
  async #continuous(
    anchors: readonly Anchor[],
    states: readonly { partition: number; startOffset: number; endOffset: number }[],
  ): Promise<boolean> {
    for (const a of anchors) {
      const s = states[a.partition]
      if (s === undefined || a.offset >= s.endOffset) return false
      if (a.offset < s.startOffset) continue // deleted by retention since: nothing to compare
      const [r] = await this.#log.read(this.#topic, a.partition, a.offset, { maxRecords: 1 })
      if (!r || r.offset !== a.offset || r.timestamp !== a.timestamp) return false
    }
    return true
  }

  async #readAnchor(): Promise<{ instanceId: number; anchors: Anchor[] } | null> {
    if (!(await this.#log.listTopics()).includes(MTCONNECT_TOPIC)) return null
    const desc = await this.#log.describeTopic(MTCONNECT_TOPIC)
    let found: { instanceId: number; anchors: Anchor[] } | null = null
    for (const ps of desc.partitionStates) {
      let offset = ps.startOffset
      while (offset < ps.endOffset) {
        const batch = await this.#log.read(MTCONNECT_TOPIC, ps.partition, offset)
        if (batch.length === 0) break
        for (const r of batch) {
          if (r.key?.toString('utf8') !== this.#topic) continue
          found = r.value === null ? null : parseAnchor(r.value.toString('utf8'))
        }
        offset = (batch.at(-1) as LogRecord).offset + 1
      }
    }
    return found
  }

  async #writeAnchor(instanceId: number, anchors: readonly Anchor[]): Promise<void> {
    try {
      try {
        await this.#log.createTopic({ name: MTCONNECT_TOPIC, partitions: 1, cleanupPolicy: 'compact' })
      } catch (err) {
        if (!isOpenFactoryError(err, 'OFA_LOG_TOPIC_CONFLICT')) throw err
      }
      await this.#log.append(MTCONNECT_TOPIC, [{ key: this.#topic, value: JSON.stringify({ instanceId, anchors }) }])
    } catch (err) {
      this.#logger?.warn('the MTConnect instance id cannot be kept on the log', { error: (err as Error).message })
    }
  }

  #scheduleAnchors(): void {
    if (this.#anchorInterval === 0 || this.#closed) return
    let written = ''
    const refresh = (): void => {
      const anchors: Anchor[] = []
      this.#parts.forEach((p, partition) => {
        if (p.last) anchors.push({ partition, offset: p.last.offset, timestamp: p.last.timestamp })
      })
      const text = JSON.stringify(anchors)
      if (text === written || anchors.length === 0) return
      written = text
      void this.#writeAnchor(this.#instanceId, anchors)
    }
    refresh()
    this.#anchorTimer = setInterval(refresh, this.#anchorInterval)
    this.#anchorTimer.unref?.()
  }

  // --- reading the buffer -----------------------------------------------------------------------------------

  ready(): Promise<void> {
    return this.#ready
  }

  get isReady(): boolean {
    return this.#isReady
  }

  get failure(): Error | null {
    return this.#failure
  }

  get instanceId(): number {
    return this.#instanceId
  }

  firstSequence(): number {
    return this.#first
  }

  nextSequence(): number {
    return this.#sum + 1
  }

  /** Index in the ring (0 = oldest) of the first entry with sequence ≥ `from`. */
  #indexOf(from: number): number {
    let lo = 0
    let hi = this.#count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const e = this.#ring[(this.#ringStart + mid) % this.bufferSize] as BufferedObservation
      if (e.sequence < from) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  *since(from: number): IterableIterator<BufferedObservation> {
    const start = this.#ringStart
    const count = this.#count
    const size = this.bufferSize
    for (let i = this.#indexOf(from); i < count; i++) {
      // Stop where the ring was overwritten meanwhile (a generator may be resumed after more records came).
      if (this.#ringStart !== start) return
      yield this.#ring[(start + i) % size] as BufferedObservation
    }
  }

  latest(asset: string, id: string): ItemSnapshot | undefined {
    return mapGet(this.#latest, asset, id)
  }

  at(at: number, wanted: (asset: string, id: string) => boolean) {
    const folded: ItemMap = new Map()
    const end = this.#indexOf(at + 1)
    for (let i = 0; i < end; i++) {
      const e = this.#ring[(this.#ringStart + i) % this.bufferSize] as BufferedObservation
      if (!wanted(e.asset, e.id)) continue
      const prev = mapGet(folded, e.asset, e.id) ?? mapGet(this.#checkpoint, e.asset, e.id)
      mapSet(folded, e.asset, e.id, applyToSnapshot(prev, e))
    }
    return (asset: string, id: string): ItemSnapshot | undefined =>
      mapGet(folded, asset, id) ?? mapGet(this.#checkpoint, asset, id)
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.push(listener)
    return () => {
      const i = this.#listeners.indexOf(listener)
      if (i >= 0) this.#listeners.splice(i, 1)
    }
  }

  stats(): SequenceBufferStats {
    return {
      ready: this.#isReady,
      instanceId: this.#instanceId,
      firstSequence: this.#first,
      nextSequence: this.#sum + 1,
      buffered: this.#count,
      numbered: this.#numbered,
      late: this.#late,
      invalid: this.#invalid,
      items: this.#items,
    }
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#stop.abort()
      if (this.#timer) clearTimeout(this.#timer)
      if (this.#anchorTimer) clearInterval(this.#anchorTimer)
      for (const w of this.#spaceWaiters) w()
      this.#spaceWaiters = []
    }
    await this.#run
  }
}

function parseAnchor(text: string): { instanceId: number; anchors: Anchor[] } | null {
  try {
    const v = JSON.parse(text) as { instanceId?: unknown; anchors?: unknown }
    if (!Number.isSafeInteger(v.instanceId) || !Array.isArray(v.anchors)) return null
    const anchors: Anchor[] = []
    for (const a of v.anchors as Record<string, unknown>[]) {
      if (
        a !== null &&
        typeof a === 'object' &&
        Number.isSafeInteger(a.partition) &&
        Number.isSafeInteger(a.offset) &&
        Number.isSafeInteger(a.timestamp)
      ) {
        anchors.push({ partition: a.partition as number, offset: a.offset as number, timestamp: a.timestamp as number })
      }
    }
    return { instanceId: v.instanceId as number, anchors }
  } catch {
    return null
  }
}
