/**
 * The one path from connectors to the event log. Records are queued in order and appended in batches; while
 * the log cannot accept writes (disk full, broker down) they stay queued and the append is retried with
 * backoff, so a connector never blocks and nothing queued is lost — up to `maxBuffered` records, past which
 * the oldest are dropped and counted (`stats().dropped`), loudly.
 */
import type { EventLog, ProducerRecord } from '@openfactory/log'
import { Backoff, type BackoffOptions, sleep } from './backoff.ts'
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
    if (this.#written + this.#dropped >= target) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ target, resolve }))
  }

  stats(): BufferedWriterStats {
    return {
      buffered: this.#queue.length + this.#inflight,
      written: this.#written,
      dropped: this.#dropped,
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

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
        const batch = this.#queue.splice(0, this.#maxBatch)
        this.#inflight = batch.length
        try {
          await this.#append(batch)
        } catch (err) {
          this.#queue = batch.concat(this.#queue)
          this.#inflight = 0
          this.#failedAppends++
          const delay = this.#backoff.next()
          this.#logger?.warn('log append failed; retrying', { error: (err as Error).message, retryInMs: delay })
          await sleep(delay, this.#stop.signal)
          continue
        }
        this.#backoff.reset()
        this.#inflight = 0
        this.#written += batch.length
        this.#wake()
      }
    } finally {
      this.#pumping = null
      if (this.#queue.length > 0 && !this.#stop.signal.aborted) this.#pumping = this.#pump()
    }
  }

  async #append(batch: readonly Entry[]): Promise<void> {
    // One append per topic, in queue order; records of one topic keep their relative order.
    const byTopic = new Map<string, ProducerRecord[]>()
    for (const e of batch) {
      const list = byTopic.get(e.topic)
      if (list) list.push(e.record)
      else byTopic.set(e.topic, [e.record])
    }
    await Promise.all([...byTopic].map(([topic, records]) => this.#log.append(topic, records)))
  }

  #wake(): void {
    if (this.#waiters.length === 0) return
    const still: Waiter[] = []
    const done = this.#written + this.#dropped
    for (const w of this.#waiters) {
      if (done >= w.target) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }
}
