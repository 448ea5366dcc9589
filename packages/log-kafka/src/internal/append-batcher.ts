// Appends, batched: every `append` call queues its records; one `send` at a time (a produce request per leader,
// see producer.ts) takes as many queued records as fit (`maxBatchBytes` per partition) and the next one goes out
// when it returns. Under load, batches grow by themselves (records gather while a request is in flight); alone, a
// record goes out at once. One send at a time keeps the records of one key in append order across calls, and the
// idempotent producer's sequence numbers simple: they move only after an answer.
//
// A failed request also fails every append to the same topic still queued behind it (none of their records is
// sent): so a caller with several appends of a topic in flight never sees a later one land after an earlier one
// failed — what landed of them is, per partition, a prefix of the records in the order appended. The forwarder
// pipelines its appends on that (EventLog.failsQueuedAppends, createForwarder).
//
// A produce answer gives, per partition, the offset of the first record of that partition's batch; the records
// of one partition go into its batch in the order queued, so the n-th has `baseOffset + n`.
import type { RecordMetadata } from '@openfactory/log'
import { closedError } from './errors.ts'
import type { BatchHeaders } from './produce-request.ts'
import type { SendRecord, SendResult } from './producer.ts'

/** One record, ready for the wire. */
export interface QueuedRecord {
  readonly topic: string
  readonly partition: number
  readonly key: Buffer | undefined
  readonly value: Buffer | null
  readonly headers: BatchHeaders | undefined
  readonly timestamp: number
  /** Bytes on the wire at most. */
  readonly size: number
  /** The most bytes of records one batch of this record's topic may hold (its `max.message.bytes`, less framing). */
  readonly batchLimit: number
}

interface Job {
  readonly metas: RecordMetadata[]
  remaining: number
  settled: boolean
  resolve(metas: RecordMetadata[]): void
  reject(err: unknown): void
}

interface Entry {
  readonly record: QueuedRecord
  readonly job: Job
  readonly index: number
}

export interface AppendBatcherOptions {
  readonly lingerMs: number
  readonly maxBatchBytes: number
  /** Writes records (one produce request per leader); resolves with each partition's outcome. */
  readonly send: (records: readonly SendRecord[]) => Promise<SendResult>
}

export class AppendBatcher {
  readonly #o: AppendBatcherOptions
  #queue: Entry[] = []
  #head = 0
  #inflight = false
  #timer: NodeJS.Timeout | null = null
  #idle: (() => void)[] = []
  #closed = false
  /** Per topic: requests that failed for it so far, and the last one's error. */
  readonly #failures = new Map<string, { count: number; error: unknown }>()

  constructor(opts: AppendBatcherOptions) {
    this.#o = opts
  }

  /** How many requests failed for `topic` so far (an append's `fence`). */
  failures(topic: string): number {
    return this.#failures.get(topic)?.count ?? 0
  }

  /**
   * Queues the records (all of one topic); resolves with their metadata, in order, once Kafka acknowledged all of
   * them. With `fence` (`failures(topic)` when the append was asked for): refused, nothing queued, when a request
   * for the topic failed since — with that request's error.
   */
  append(records: QueuedRecord[], fence?: number): Promise<RecordMetadata[]> {
    if (this.#closed) return Promise.reject(closedError())
    const topic = records[0]?.topic
    if (fence !== undefined && topic !== undefined) {
      const failed = this.#failures.get(topic)
      if (failed !== undefined && failed.count !== fence) return Promise.reject(failed.error)
    }
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const job: Job = { metas: new Array(records.length), remaining: records.length, settled: false, resolve, reject }
      for (let i = 0; i < records.length; i++) this.#queue.push({ record: records[i]!, job, index: i })
      this.#schedule()
    })
  }

  /** Resolves once every queued record has been sent and answered; later appends are refused. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = null
      this.#flush()
    }
    if (this.#inflight || this.#head < this.#queue.length) await new Promise<void>((r) => this.#idle.push(r))
  }

  #schedule(): void {
    if (this.#inflight || this.#timer) return
    if (this.#o.lingerMs > 0 && !this.#closed) {
      this.#timer = setTimeout(() => {
        this.#timer = null
        this.#flush()
      }, this.#o.lingerMs)
      return
    }
    this.#flush()
  }

  #flush(): void {
    if (this.#inflight || this.#head >= this.#queue.length) return
    const bytes = new Map<string, number>()
    const taken: Entry[] = []
    const maxBatchBytes = this.#o.maxBatchBytes
    let i = this.#head
    for (; i < this.#queue.length; i++) {
      const e = this.#queue[i]!
      if (e.job.settled) continue // an earlier part of its append failed: the append is over
      const tp = `${e.record.topic}\0${e.record.partition}`
      const used = bytes.get(tp) ?? 0
      // A partition's share is full: stop here, so that no record overtakes an earlier one of its partition.
      if (used > 0 && used + e.record.size > Math.min(maxBatchBytes, e.record.batchLimit)) break
      bytes.set(tp, used + e.record.size)
      taken.push(e)
    }
    this.#head = i
    if (taken.length === 0) {
      this.#done()
      return
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    this.#inflight = true
    this.#o.send(taken.map((e) => e.record)).then(
      (result) => {
        const next = new Map<string, number>()
        let failed: Map<string, unknown> | null = null
        for (const e of taken) {
          const r = e.record
          const tp = `${r.topic}\0${r.partition}`
          const outcome = result.get(tp)
          if (!outcome || 'error' in outcome) {
            const err = outcome?.error ?? new Error(`no answer for ${r.topic}/${r.partition}`)
            this.#fail(e.job, err)
            failed ??= new Map()
            if (!failed.has(r.topic)) failed.set(r.topic, err)
            continue
          }
          const n = next.get(tp) ?? 0
          next.set(tp, n + 1)
          e.job.metas[e.index] = {
            topic: r.topic,
            partition: r.partition,
            offset: outcome.baseOffset + n,
            timestamp: r.timestamp,
          }
          if (--e.job.remaining === 0 && !e.job.settled) {
            e.job.settled = true
            e.job.resolve(e.job.metas)
          }
        }
        if (failed) this.#failQueued(failed)
        this.#done()
      },
      (err: unknown) => {
        for (const e of taken) this.#fail(e.job, err)
        this.#failQueued(new Map(taken.map((e) => [e.record.topic, err ?? new Error('send failed')])))
        this.#done()
      },
    )
  }

  /** Fails every append still queued to one of these topics, with the error of its topic (see the top). */
  #failQueued(errors: ReadonlyMap<string, unknown>): void {
    for (const [topic, error] of errors) this.#failures.set(topic, { count: this.failures(topic) + 1, error })
    for (let i = this.#head; i < this.#queue.length; i++) {
      const e = this.#queue[i]!
      const err = errors.get(e.record.topic)
      if (err !== undefined) this.#fail(e.job, err)
    }
  }

  #fail(job: Job, err: unknown): void {
    if (job.settled) return
    job.settled = true
    job.reject(err)
  }

  #done(): void {
    this.#inflight = false
    if (this.#head < this.#queue.length) {
      // Records waited while the request was in flight: send them now (the wait was their linger).
      this.#flush()
      return
    }
    this.#queue = []
    this.#head = 0
    for (const r of this.#idle.splice(0)) r()
  }
}
