/**
 * The one path from connectors to the event log. Records are queued in order and appended in batches; while
 * the log cannot accept writes (disk full, broker down: a `retryable` error) they stay queued and the append is
 * retried with backoff, so a connector never blocks and nothing queued is lost — up to `maxBuffered` records,
 * past which the oldest are dropped and counted (`stats().dropped`), loudly.
 *
 * A record the log refuses for good (a non-retryable error such as OFA_LOG_RECORD_TOO_LARGE) is set aside,
 * once: the batch holding it is split in halves until the refused record stands alone (a refused append writes
 * nothing, `EventLog.append`), that record is logged with its code, topic, key and size and counted in
 * `stats().setAside` by code, and every record behind it is written, in order.
 */
import type { EventLog, ProducerRecord } from '@openfactory/log'
import {
  Backoff,
  type BackoffOptions,
  isOpenFactoryError,
  type OpenFactoryError,
  retryAdvice,
  sleep,
} from '@openfactory/model'
import type { ConnectorLogger } from './connector.ts'

export interface BufferedWriterOptions {
  readonly log: EventLog
  /** Records kept while the log cannot accept writes (default 1 000 000). */
  readonly maxBuffered?: number
  /** Records per append (default 5 000). */
  readonly maxBatch?: number
  readonly backoff?: BackoffOptions
  readonly logger?: ConnectorLogger
}

export interface BufferedWriterStats {
  readonly buffered: number
  readonly written: number
  readonly dropped: number
  readonly failedAppends: number
  /** Records the log refused for good, by error code: logged once each, never retried. */
  readonly setAside: Readonly<Record<string, number>>
}

interface Waiter {
  readonly target: number
  readonly resolve: () => void
}

interface Entry {
  readonly topic: string
  readonly record: ProducerRecord
}

export class BufferedWriter {
  readonly #log: EventLog
  readonly #maxBuffered: number
  readonly #maxBatch: number
  readonly #backoff: Backoff
  readonly #logger: ConnectorLogger | undefined
  #queue: Entry[] = []
  #inflight = 0
  #enqueued = 0
  #written = 0
  #dropped = 0
  #failedAppends = 0
  #setAsideTotal = 0
  readonly #setAside = new Map<string, number>()
  #pumping: Promise<void> | null = null
  #closed = false
  readonly #stop = new AbortController()
  #waiters: Waiter[] = []

  constructor(opts: BufferedWriterOptions) {
    this.#log = opts.log
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

  /** Resolves once everything written before this call is durable in the log (or dropped). */
  flush(): Promise<void> {
    const target = this.#enqueued
    if (this.#settled() >= target) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ target, resolve }))
  }

  stats(): BufferedWriterStats {
    return {
      buffered: this.#queue.length + this.#inflight,
      written: this.#written,
      dropped: this.#dropped,
      failedAppends: this.#failedAppends,
      setAside: Object.fromEntries(this.#setAside),
    }
  }

  /** Records that left the queue for good: written, dropped or set aside. */
  #settled(): number {
    return this.#written + this.#dropped + this.#setAsideTotal
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

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
        const batch = this.#queue.splice(0, this.#maxBatch)
        this.#inflight = batch.length
        const { rest, aside, error } = await this.#append(batch)
        this.#inflight = 0
        this.#written += batch.length - rest.length - aside
        this.#wake()
        if (error === undefined) {
          this.#backoff.reset()
          continue
        }
        this.#queue = rest.concat(this.#queue)
        this.#failedAppends++
        const delay = Math.max(this.#backoff.next(), retryAdvice(error).afterMs)
        this.#logger?.warn('log append failed; retrying', { error: (error as Error).message, retryInMs: delay })
        await sleep(delay, this.#stop.signal)
      }
    } finally {
      this.#pumping = null
      if (this.#queue.length > 0 && !this.#stop.signal.aborted) this.#pumping = this.#pump()
    }
  }

  /**
   * Appends a batch, one append per topic (records of one topic keep their order). Returns the records not
   * written yet, in queue order, how many were set aside, and the retryable error that stopped the rest (none
   * when all were written or set aside).
   */
  async #append(batch: readonly Entry[]): Promise<{ rest: Entry[]; aside: number; error?: unknown }> {
    const byTopic = new Map<string, Entry[]>()
    for (const e of batch) {
      const list = byTopic.get(e.topic)
      if (list) list.push(e)
      else byTopic.set(e.topic, [e])
    }
    const outcomes = await Promise.all([...byTopic].map(([topic, entries]) => this.#appendTopic(topic, entries)))
    const left = new Set<Entry>()
    let aside = 0
    let error: unknown
    for (const o of outcomes) {
      for (const e of o.rest) left.add(e)
      aside += o.aside
      if (o.error !== undefined) error ??= o.error
    }
    return {
      rest: left.size === 0 ? [] : batch.filter((e) => left.has(e)),
      aside,
      ...(error === undefined ? {} : { error }),
    }
  }

  /** Appends one topic's records in order, setting aside the ones refused for good; stops at a retryable error. */
  async #appendTopic(
    topic: string,
    entries: readonly Entry[],
  ): Promise<{ rest: readonly Entry[]; aside: number; error?: unknown }> {
    const chunks: (readonly Entry[])[] = [entries]
    let done = 0
    let aside = 0
    while (chunks.length > 0) {
      const chunk = chunks.pop() as readonly Entry[]
      try {
        await this.#log.append(
          topic,
          chunk.map((e) => e.record),
        )
        done += chunk.length
      } catch (err) {
        // Retryable, or not ours to judge (not a coded error): the rest waits and is tried again.
        if (retryAdvice(err).retry || !isOpenFactoryError(err)) return { rest: entries.slice(done), aside, error: err }
        if (chunk.length === 1) {
          this.#putAside(chunk[0] as Entry, err)
          done++
          aside++
          continue
        }
        const mid = chunk.length >>> 1
        chunks.push(chunk.slice(mid), chunk.slice(0, mid)) // the first half is tried first
      }
    }
    return { rest: [], aside }
  }

  #putAside(e: Entry, err: OpenFactoryError): void {
    this.#setAsideTotal++
    this.#setAside.set(err.code, (this.#setAside.get(err.code) ?? 0) + 1)
    const size = (d: ProducerRecord['value'] | ProducerRecord['key']) =>
      d === null || d === undefined ? 0 : typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength
    this.#logger?.error('the log refused a record for good; it is set aside, the records behind it are written', {
      code: err.code,
      error: err.message,
      topic: e.topic,
      key: typeof e.record.key === 'string' ? e.record.key : e.record.key ? `<${e.record.key.byteLength} bytes>` : null,
      bytes: size(e.record.key) + size(e.record.value),
    })
  }

  #wake(): void {
    if (this.#waiters.length === 0) return
    const still: Waiter[] = []
    const done = this.#settled()
    for (const w of this.#waiters) {
      if (done >= w.target) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }
}
