/**
 * The one path from connectors to the event log. Records are queued in order and appended in batches, one
 * append per topic; records of one topic keep their order.
 *
 * Every record is written on behalf of a source (a connector, by its name) and counted against it while it waits:
 * - at `highWaterPerSource` records waiting (queued or being appended) the source is congested (`congested`),
 *   until the log has taken it down to half that (`whenWritable` resolves then). The writer never refuses a record
 *   for it: congestion is the signal for a source that can slow down (an SHDR connection stops reading its
 *   socket), so that one flooding source does not fill the buffer everyone shares;
 * - past `maxBufferedPerSource` records waiting, that source's oldest records not yet being appended are dropped,
 *   counted per source (`stats().droppedBy`) and logged (the first, then every 10 000th), and nobody else's;
 * - past `maxBuffered` in all, the oldest records of the source with the most waiting are dropped, the same way.
 * A dropped record is taken out of the queue when the pump reaches it (or when dropped records make up half the
 * queue), so a drop costs O(1) and memory stays within about twice the limits.
 *
 * When an append fails, the error decides (model's retry rule, `retryAdvice`):
 * - the log cannot take writes now (a retryable error — disk full, broker down —, an error that is not one of
 *   our coded errors, or a refusal of the whole log: closed, credentials refused): the records stay queued and
 *   the append is retried with backoff, so a connector never blocks and nothing queued is lost — within the
 *   limits above, past which the oldest records of the source over its limit are dropped and counted
 *   (`stats().dropped`, `stats().droppedBy`), loudly;
 * - the log refuses records (a coded error that is not retryable: a record over the backbone's size limit,
 *   `OFA_LOG_RECORD_TOO_LARGE`; an invalid record): the batch is split in halves, and the halves appended in
 *   order, until the records that are refused are alone (a refused append writes nothing, `EventLog.append`).
 *   Each of those is set aside: logged once (code, topic, key, size) and counted per code (`stats().setAside`,
 *   a metric of `ofa up`); every other record is written, in order. Splitting
 *   costs about 2·log2(batch) appends per refused record. An append refused while it was being written (some
 *   of its records may be in the log) can, like any retried append, write a record twice.
 *
 * Holds (`holdUntil`): no append starts until a given promise settles; records are queued meanwhile as usual. The
 * supervisor reads where its command reader starts a new partition before the records that make it needed go out.
 *
 * Trailing topics (`trailingTopics`; the supervisor's `ofa_connector_state`): a batch's records on them are
 * appended only once every other record of the batch is durable (or set aside), and go back to the queue with the
 * rest when an append of the batch fails. A record there — a connector's checkpoint — is thus never durable before
 * a record queued ahead of it, as the appends of a batch's topics otherwise run in parallel.
 */
import { type EventLog, type ProducerRecord, recordBytes } from '@openfactory/log'
import {
  Backoff,
  type BackoffOptions,
  type DebugLogger,
  isOpenFactoryError,
  retryAdvice,
  sleep,
} from '@openfactory/model'

export interface BufferedWriterOptions {
  readonly eventLog: EventLog
  /** Records kept while the log cannot accept writes, all sources together (default 1 000 000). */
  readonly maxBuffered?: number
  /** Records of one source kept while they wait for the log (default 100 000); past it its oldest are dropped. */
  readonly maxBufferedPerSource?: number
  /**
   * Records of one source waiting for the log from which that source is congested (default 50 000, at most
   * `maxBufferedPerSource`); it is writable again at half of it.
   */
  readonly highWaterPerSource?: number
  /**
   * Records per append (default 20 000). Appends are one at a time, so a source is written at most about this many
   * records per round trip of an append (its fsync): larger batches keep up when the disk is slow.
   */
  readonly maxBatch?: number
  /** Delays between attempts while the log cannot take writes (default 100 ms doubling to 5 s). */
  readonly backoff?: BackoffOptions
  /** Topics whose records of a batch are appended after the batch's other records are durable (see above). */
  readonly trailingTopics?: readonly string[]
  readonly logger?: DebugLogger
}

export interface BufferedWriterStats {
  /** Records queued or being appended. */
  readonly buffered: number
  /** Records the log acknowledged. */
  readonly written: number
  /** Records dropped because a source, or the buffer, was full. */
  readonly dropped: number
  /** The same, by source (connector name; '' for records written without one). */
  readonly droppedBy: Readonly<Record<string, number>>
  /** The sources congested now. */
  readonly congested: readonly string[]
  /** Records the log refused for good, by error code: logged once each, never retried, not written. */
  readonly setAside: Readonly<Record<string, number>>
  /** Appends that failed and were retried. */
  readonly failedAppends: number
}

interface Waiter {
  readonly target: number
  readonly resolve: () => void
}

interface Entry {
  readonly topic: string
  readonly record: ProducerRecord
  /** The source's counters themselves, not its name: the pump updates them without a lookup per record. */
  readonly source: Source
}

/** What the writer holds for one source. */
interface Source {
  readonly name: string
  /** Records waiting (queued or being appended), dropped ones not counted. */
  waiting: number
  /** Records in the queue (not being appended), dropped ones included. */
  queued: number
  /** Records to drop: the next ones of this source the pump reaches (its oldest queued). */
  owed: number
  dropped: number
  congested: boolean
  writable: (() => void)[]
}

/** Refusals that concern the whole log, not the records: waited out like a retryable error. */
const WHOLE_LOG = new Set<string>(['OFA_LOG_CLOSED', 'OFA_LOG_AUTH'])

/** What to do after a failed append: wait and try again, or split until the refused records are alone. */
function refusesRecords(err: unknown): boolean {
  if (!isOpenFactoryError(err) || WHOLE_LOG.has(err.code)) return false
  return !retryAdvice(err).retry
}

function keyText(key: ProducerRecord['key']): string | null {
  if (key === null || key === undefined) return null
  const text = typeof key === 'string' ? key : Buffer.from(key).toString('utf8')
  return text.length > 200 ? `${text.slice(0, 200)}...` : text
}

export class BufferedWriter {
  readonly #eventLog: EventLog
  readonly #maxBuffered: number
  readonly #maxPerSource: number
  readonly #highWater: number
  readonly #lowWater: number
  readonly #maxBatch: number
  readonly #backoff: Backoff
  readonly #logger: DebugLogger | undefined
  readonly #trailing: ReadonlySet<string>
  #queue: Entry[] = []
  readonly #sources = new Map<string, Source>()
  /** The source written for last: a connector publishing a burst finds its counters without a lookup. */
  #lastSource: Source | null = null
  /** Records waiting, all sources (queued or being appended, dropped ones not counted). */
  #waiting = 0
  /** Dropped records still in the queue. */
  #owed = 0
  #enqueued = 0
  #written = 0
  #dropped = 0
  #setAsideTotal = 0
  readonly #setAside = new Map<string, number>()
  #failedAppends = 0
  #pumping: Promise<void> | null = null
  /** Settles when every hold asked for has (`holdUntil`); null when none is pending. */
  #held: Promise<void> | null = null
  #closed = false
  readonly #stop = new AbortController()
  #waiters: Waiter[] = []

  constructor(opts: BufferedWriterOptions) {
    this.#eventLog = opts.eventLog
    this.#maxBuffered = opts.maxBuffered ?? 1_000_000
    this.#maxPerSource = opts.maxBufferedPerSource ?? 100_000
    this.#highWater = Math.min(opts.highWaterPerSource ?? 50_000, this.#maxPerSource)
    this.#lowWater = Math.floor(this.#highWater / 2)
    this.#maxBatch = opts.maxBatch ?? 20_000
    this.#backoff = new Backoff({ initialMs: 100, maxMs: 5000, ...opts.backoff })
    this.#logger = opts.logger
    this.#trailing = new Set(opts.trailingTopics ?? [])
  }

  /** Queues a record written on behalf of `source` (a connector's name). Never blocks; see the module comment. */
  write(topic: string, record: ProducerRecord, source = ''): void {
    if (this.#closed) throw new Error('BufferedWriter is closed')
    const last = this.#lastSource
    const s = last !== null && last.name === source ? last : this.#source(source)
    this.#lastSource = s
    this.#queue.push({ topic, record, source: s })
    this.#enqueued++
    s.queued++
    s.waiting++
    this.#waiting++
    if (s.waiting > this.#maxPerSource) this.#drop(s, 'per-source limit')
    else if (this.#waiting > this.#maxBuffered) this.#dropFromLargest()
    if (!s.congested && s.waiting >= this.#highWater) s.congested = true
    this.#pumping ??= this.#pump()
  }

  /**
   * Starts no append until `until` settles (fulfilled or rejected): the records queued before and after wait, in
   * their order. An append under way goes on.
   */
  holdUntil(until: Promise<unknown>): void {
    const held: Promise<void> = Promise.allSettled([this.#held, until]).then(() => {
      if (this.#held === held) this.#held = null
    })
    this.#held = held
  }

  /** Whether `source` has more records waiting than its high-water mark (until the log took half of them). */
  congested(source: string): boolean {
    const last = this.#lastSource
    if (last !== null && last.name === source) return last.congested // asked after every publish
    return this.#sources.get(source)?.congested ?? false
  }

  /**
   * Resolves once `source` is not congested: at once when it is not; else when the log has taken its records down
   * to half the high-water mark, the writer closes, or `signal` aborts.
   */
  whenWritable(source: string, signal?: AbortSignal): Promise<void> {
    const s = this.#sources.get(source)
    if (!s?.congested || this.#closed || signal?.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done)
        const i = s.writable.indexOf(done)
        if (i >= 0) s.writable.splice(i, 1)
        resolve()
      }
      s.writable.push(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  /** Resolves once everything written before this call is durable in the log (or dropped, or set aside). */
  flush(): Promise<void> {
    const target = this.#enqueued
    if (this.#done() >= target) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ target, resolve }))
  }

  stats(): BufferedWriterStats {
    const droppedBy: Record<string, number> = {}
    const congested: string[] = []
    for (const [name, s] of this.#sources) {
      if (s.dropped > 0) droppedBy[name] = s.dropped
      if (s.congested) congested.push(name)
    }
    return {
      buffered: this.#waiting,
      written: this.#written,
      dropped: this.#dropped,
      droppedBy,
      congested,
      setAside: Object.fromEntries(this.#setAside),
      failedAppends: this.#failedAppends,
    }
  }

  /** Flushes (waiting at most `timeoutMs`), then stops. Records still queued after the timeout are reported lost. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const timeout = new AbortController()
    await Promise.race([this.flush(), sleep(timeoutMs, timeout.signal)])
    timeout.abort() // do not keep the process alive for the rest of the timeout
    this.#stop.abort()
    await this.#pumping
    for (const s of this.#sources.values()) this.#setWritable(s) // nobody waits on a closed writer
    const lost = this.#queue.length - this.#owed
    if (lost > 0) this.#logger?.error('closing with records not yet written to the log', { lost })
  }

  #source(name: string): Source {
    let s = this.#sources.get(name)
    if (!s) {
      s = { name, waiting: 0, queued: 0, owed: 0, dropped: 0, congested: false, writable: [] }
      this.#sources.set(name, s)
    }
    return s
  }

  /**
   * Drops the oldest queued record of a source: owed, and taken out when the pump reaches it — it is the next
   * record of that source the pump meets (this one, when all the others are being appended).
   */
  #drop(s: Source, why: string): void {
    s.owed++
    s.waiting--
    s.dropped++
    this.#owed++
    this.#waiting--
    this.#dropped++
    this.#wake()
    if (s.dropped === 1 || s.dropped % 10_000 === 0) {
      this.#logger?.error('log write buffer full: dropping the oldest records of one source', {
        source: s.name,
        why,
        dropped: s.dropped,
        droppedInAll: this.#dropped,
      })
    }
    // Dropped records wait in the queue for the pump; past half the queue they are taken out now.
    if (this.#owed >= 1024 && 2 * this.#owed >= this.#queue.length) this.#compact()
  }

  /**
   * Past `maxBuffered` in all: the source with the most records waiting pays, among those with a queued record to
   * drop (the writing source has one: the record it just wrote).
   */
  #dropFromLargest(): void {
    let largest: Source | undefined
    for (const s of this.#sources.values()) {
      if (s.queued > s.owed && (!largest || s.waiting > largest.waiting)) largest = s
    }
    if (largest) this.#drop(largest, 'buffer limit')
  }

  #compact(): void {
    const kept: Entry[] = []
    for (const e of this.#queue) {
      const s = e.source
      if (s.owed > 0) {
        s.owed--
        s.queued--
        this.#owed--
      } else kept.push(e)
    }
    this.#queue = kept
  }

  /** The next batch, from the front of the queue, the dropped records taken out on the way. */
  #take(): Entry[] {
    const q = this.#queue
    const batch: Entry[] = []
    let i = 0
    while (i < q.length && batch.length < this.#maxBatch) {
      const e = q[i++] as Entry
      const s = e.source
      s.queued--
      if (s.owed > 0) {
        s.owed--
        this.#owed--
      } else batch.push(e)
    }
    q.splice(0, i)
    return batch
  }

  /** Records that left the writer (written or set aside): their sources may be writable again. */
  #release(entries: readonly Entry[]): void {
    for (const e of entries) e.source.waiting--
    this.#waiting -= entries.length
    for (const s of this.#sources.values()) if (s.congested && s.waiting <= this.#lowWater) this.#setWritable(s)
  }

  #setWritable(s: Source): void {
    s.congested = false
    const waiting = s.writable
    s.writable = []
    for (const resolve of waiting) resolve()
  }

  #done(): number {
    return this.#written + this.#dropped + this.#setAsideTotal
  }

  async #pump(): Promise<void> {
    // Started by a write while idle: the writes of the rest of this turn of the event loop (the other lines of that
    // socket read, the reads of other connections ready at once) go in the same append, not after that record
    // alone has been made durable (bench/serve-ws-latency.ts, SHDR case: records per append and latency).
    await new Promise<void>((resolve) => setImmediate(resolve))
    try {
      while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
        if (this.#held) {
          await this.#held
          continue
        }
        const batch = this.#take()
        if (batch.length === 0) continue
        const { unwritten, error } = await this.#append(batch)
        if (unwritten.length === 0) this.#release(batch)
        else {
          const left = new Set(unwritten)
          this.#release(batch.filter((e) => !left.has(e)))
        }
        this.#wake()
        if (unwritten.length === 0) {
          this.#backoff.reset()
          continue
        }
        // The log cannot take writes now: what was not written goes back first, in its order.
        this.#queue = unwritten.concat(this.#queue)
        for (const e of unwritten) e.source.queued++
        this.#failedAppends++
        const advice = retryAdvice(error)
        const delay = Math.max(this.#backoff.next(), advice.afterMs)
        this.#logger?.warn('log append failed; retrying', {
          error: (error as Error).message,
          ...(isOpenFactoryError(error) ? { code: error.code } : {}),
          retryInMs: delay,
        })
        await sleep(delay, this.#stop.signal)
      }
    } finally {
      this.#pumping = null
      if (this.#queue.length > 0 && !this.#stop.signal.aborted) this.#pumping = this.#pump()
    }
  }

  /**
   * Appends a batch, one append per topic (in parallel). Returns the entries not written because the log could
   * not take writes, in queue order, with that error; refused records are set aside on the way.
   */
  async #append(batch: readonly Entry[]): Promise<{ unwritten: Entry[]; error?: unknown }> {
    // Most batches are one connector's observations: one topic, appended as it is.
    const topic = (batch[0] as Entry).topic
    let one = true
    for (let i = 1; i < batch.length && one; i++) one = (batch[i] as Entry).topic === topic
    if (one && !this.#trailing.has(topic)) return this.#appendTopic(topic, batch)
    const byTopic = new Map<string, Entry[]>()
    for (const e of batch) {
      const list = byTopic.get(e.topic)
      if (list) list.push(e)
      else byTopic.set(e.topic, [e])
    }
    const first = [...byTopic].filter(([topic]) => !this.#trailing.has(topic))
    const after = [...byTopic].filter(([topic]) => this.#trailing.has(topic))
    const left = new Set<Entry>()
    let error: unknown
    const collect = (outcomes: readonly { unwritten: Entry[]; error?: unknown }[]): void => {
      for (const o of outcomes) {
        if (o.unwritten.length === 0) continue
        error ??= o.error
        for (const e of o.unwritten) left.add(e)
      }
    }
    collect(await Promise.all(first.map(([topic, entries]) => this.#appendTopic(topic, entries))))
    if (left.size > 0) for (const [, entries] of after) for (const e of entries) left.add(e)
    else collect(await Promise.all(after.map(([topic, entries]) => this.#appendTopic(topic, entries))))
    return left.size === 0 ? { unwritten: [] } : { unwritten: batch.filter((e) => left.has(e)), error }
  }

  /**
   * Appends the entries of one topic in order. A refusal of records splits the range in halves, appended in
   * order, down to single records, which are set aside. Stops at the first error that is not a refusal of
   * records, returning what is left from there.
   */
  async #appendTopic(topic: string, entries: readonly Entry[]): Promise<{ unwritten: Entry[]; error?: unknown }> {
    const ranges: [number, number][] = [[0, entries.length]]
    while (ranges.length > 0) {
      const [from, to] = ranges.shift() as [number, number]
      const records = new Array<ProducerRecord>(to - from)
      for (let i = from; i < to; i++) records[i - from] = (entries[i] as Entry).record
      try {
        await this.#eventLog.append(topic, records)
        this.#written += to - from
      } catch (err) {
        if (!refusesRecords(err)) return { unwritten: entries.slice(from), error: err }
        if (to - from === 1) this.#setAsideRecord(topic, entries[from] as Entry, err)
        else {
          const mid = (from + to) >>> 1
          ranges.unshift([from, mid], [mid, to])
        }
      }
    }
    return { unwritten: [] }
  }

  #setAsideRecord(topic: string, entry: Entry, err: unknown): void {
    const code = isOpenFactoryError(err) ? err.code : 'OFA_LOG_IO'
    this.#setAsideTotal++
    this.#setAside.set(code, (this.#setAside.get(code) ?? 0) + 1)
    this.#logger?.error('the log refused a record; it is set aside, the records after it are written', {
      code,
      topic,
      key: keyText(entry.record.key),
      bytes: recordBytes(entry.record),
      error: (err as Error).message,
    })
  }

  #wake(): void {
    if (this.#waiters.length === 0) return
    const still: Waiter[] = []
    const done = this.#done()
    for (const w of this.#waiters) {
      if (done >= w.target) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }
}
