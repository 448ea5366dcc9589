/**
 * The one path from connectors to the event log. Records are queued in order and appended in batches, one
 * append per topic; records of one topic keep their order.
 *
 * When an append fails, the error decides (model's retry rule, `retryAdvice`):
 * - the log cannot take writes now (a retryable error — disk full, broker down —, an error that is not one of
 *   our coded errors, or a refusal of the whole log: closed, credentials refused): the records stay queued and
 *   the append is retried with backoff, so a connector never blocks and nothing queued is lost — up to
 *   `maxBuffered` records, past which the oldest are dropped and counted (`stats().dropped`), loudly;
 * - the log refuses records (a coded error that is not retryable: a record over the backbone's size limit,
 *   `OFA_LOG_RECORD_TOO_LARGE`; an invalid record): the batch is split in halves, and the halves appended in
 *   order, until the records that are refused are alone (a refused append writes nothing, `EventLog.append`).
 *   Each of those is set aside: logged once (code, topic, key, size) and counted per code (`stats().setAside`,
 *   a metric of `ofa up`); every other record is written, in order. Splitting
 *   costs about 2·log2(batch) appends per refused record. An append refused while it was being written (some
 *   of its records may be in the log) can, like any retried append, write a record twice.
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
  /** Records kept while the log cannot accept writes (default 1 000 000). */
  readonly maxBuffered?: number
  /** Records per append (default 5 000). */
  readonly maxBatch?: number
  /** Delays between attempts while the log cannot take writes (default 100 ms doubling to 5 s). */
  readonly backoff?: BackoffOptions
  readonly logger?: DebugLogger
}

export interface BufferedWriterStats {
  /** Records queued or being appended. */
  readonly buffered: number
  /** Records the log acknowledged. */
  readonly written: number
  /** Records dropped because the buffer was full. */
  readonly dropped: number
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
  readonly #maxBatch: number
  readonly #backoff: Backoff
  readonly #logger: DebugLogger | undefined
  #queue: Entry[] = []
  #inflight = 0
  #enqueued = 0
  #written = 0
  #dropped = 0
  #setAsideTotal = 0
  readonly #setAside = new Map<string, number>()
  #failedAppends = 0
  #pumping: Promise<void> | null = null
  #closed = false
  readonly #stop = new AbortController()
  #waiters: Waiter[] = []

  constructor(opts: BufferedWriterOptions) {
    this.#eventLog = opts.eventLog
    this.#maxBuffered = opts.maxBuffered ?? 1_000_000
    this.#maxBatch = opts.maxBatch ?? 5000
    this.#backoff = new Backoff({ initialMs: 100, maxMs: 5000, ...opts.backoff })
    this.#logger = opts.logger
  }

  write(topic: string, record: ProducerRecord): void {
    if (this.#closed) throw new Error('BufferedWriter is closed')
    if (this.#queue.length + this.#inflight >= this.#maxBuffered) {
      // Drop the oldest record not already being appended (or this one, when the whole buffer is in flight).
      if (this.#queue.length > 0) {
        this.#queue.shift()
        this.#queue.push({ topic, record })
      }
      this.#dropped++
      this.#enqueued++
      this.#wake()
      if (this.#dropped === 1 || this.#dropped % 10_000 === 0) {
        this.#logger?.error('log write buffer full: dropping the oldest records', { dropped: this.#dropped })
      }
      return
    }
    this.#queue.push({ topic, record })
    this.#enqueued++
    this.#pumping ??= this.#pump()
  }

  /** Resolves once everything written before this call is durable in the log (or dropped, or set aside). */
  flush(): Promise<void> {
    const target = this.#enqueued
    if (this.#done() >= target) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ target, resolve }))
  }

  stats(): BufferedWriterStats {
    return {
      buffered: this.#queue.length + this.#inflight,
      written: this.#written,
      dropped: this.#dropped,
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
    if (this.#queue.length > 0) {
      this.#logger?.error('closing with records not yet written to the log', { lost: this.#queue.length })
    }
  }

  #done(): number {
    return this.#written + this.#dropped + this.#setAsideTotal
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
        const batch = this.#queue.splice(0, this.#maxBatch)
        this.#inflight = batch.length
        const { unwritten, error } = await this.#append(batch)
        this.#inflight = 0
        this.#wake()
        if (unwritten.length === 0) {
          this.#backoff.reset()
          continue
        }
        // The log cannot take writes now: what was not written goes back first, in its order.
        this.#queue = unwritten.concat(this.#queue)
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
    const byTopic = new Map<string, Entry[]>()
    for (const e of batch) {
      const list = byTopic.get(e.topic)
      if (list) list.push(e)
      else byTopic.set(e.topic, [e])
    }
    const outcomes = await Promise.all([...byTopic].map(([topic, entries]) => this.#appendTopic(topic, entries)))
    const left = new Set<Entry>()
    let error: unknown
    for (const o of outcomes) {
      if (o.unwritten.length === 0) continue
      error ??= o.error
      for (const e of o.unwritten) left.add(e)
    }
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
      const slice = from === 0 && to === entries.length ? entries : entries.slice(from, to)
      try {
        await this.#eventLog.append(
          topic,
          slice.map((e) => e.record),
        )
        this.#written += slice.length
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
