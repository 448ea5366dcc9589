/**
 * Store and forward: an edge process keeps its own log (the embedded one) and copies it to a central log
 * (Kafka). While the central log is unreachable the edge goes on appending to its own; once it answers again,
 * every record is forwarded, in order per partition, once — also across a crash of the edge process.
 *
 * How (generic over two `EventLog`s, `source` and `target`, one topic name on both sides):
 * - The source is read by the consumer group `ofa-forward-<edgeId>` (from the earliest record); its offsets are
 *   committed once a second (in the background, one commit at a time) and at stop, never beyond what the target
 *   acknowledged.
 * - Each record goes to the same partition number of the target with its key, value, timestamp and headers,
 *   plus two headers: `ofa-edge` (the edge id) and `ofa-edge-offset` (its source offset, in decimal). The target
 *   topic is created like the source's when missing; with another partition count it is a conflict and that
 *   topic stops (same count + murmur2 on both sides = every key where a Java client would put it).
 * - Before the first append (for every partition at once, while nothing is in flight), and after every failed
 *   append (which may have landed in part; for its partitions, once the appends in flight have settled), the
 *   forwarder looks for the newest record of this edge in the target partition, scanning backward from the end in
 *   growing windows (other edges may write to the same topic), and skips the source records up to its
 *   `ofa-edge-offset`. So a crash between an acknowledged append and the commit duplicates nothing.
 * - A failing target: one warning per outage, backoff, recovery, retry of the same records; nothing is dropped
 *   or reordered. An append that takes long counts as an outage but is awaited, never abandoned: a second
 *   append of the same records while the first may still land would write them twice.
 * - Several appends in flight per topic (`maxAppendsInFlight`, default 8), pipelined in order, only with a target
 *   that `failsQueuedAppends` (Kafka): there a failed append fails every append of the topic asked for before the
 *   failure was reported, so what landed of the appends in flight is, per partition, a prefix of their records
 *   in order, and the newest record of this edge in a partition is still the right resume point. On the first
 *   failure no append is asked for any more; once every one in flight has settled, the batches not acknowledged
 *   are forwarded again one append at a time, each after the recovery of its partitions (as above). The check
 *   "no failure yet" and the next append happen in one synchronous step after a turn of the event loop, so a
 *   failure the target reported before is seen, and one it reports after finds the append queued and fails it.
 *   With any other target one append is in flight per topic: were a later one to land after an earlier one
 *   failed, recovery would skip the failed one.
 *
 * Lifecycle: `createForwarder(options)` validates the options; `start()` checks the source topics and starts
 * forwarding; `stop()` (or the signal) waits for the appends in flight, commits what was acknowledged and ends.
 * The forwarder never opens nor closes the two logs: stop it before closing them.
 */
import {
  Backoff,
  type BackoffOptions,
  isOpenFactoryError,
  type Logger,
  OpenFactoryError,
  sleep,
} from '@openfactory/model'
import type {
  EventLog,
  GroupConsumer,
  LogRecord,
  ProducerRecord,
  RecordData,
  TopicDescription,
  TopicSpec,
} from './backbone.ts'

/** The header naming the edge a forwarded record comes from. */
export const EDGE_HEADER = 'ofa-edge'
/** The header holding a forwarded record's offset in the edge's log, as decimal text. */
export const EDGE_OFFSET_HEADER = 'ofa-edge-offset'

/** The consumer group a forwarder reads its source with. */
export function forwarderGroup(edgeId: string): string {
  return `ofa-forward-${edgeId}`
}

export type ForwarderLogger = Logger

export interface ForwarderOptions {
  /** The log read from (the edge's embedded log). */
  readonly source: EventLog
  /** The log written to (the central Kafka). */
  readonly target: EventLog
  /** Names this edge in the target's records and in the source's consumer group; unique per edge log. */
  readonly edgeId: string
  /** Topics to forward; the same names on both sides. Each must exist in the source when `start()` runs. */
  readonly topics: readonly string[]
  /** Default: warnings and errors as process warnings, no info. */
  readonly logger?: ForwarderLogger
  /** Backoff between attempts after a failure, doubling from `min` to `max`. Default 200 to 10 000 ms. */
  readonly retryDelayMs?: { readonly min?: number; readonly max?: number }
  /** At most this many records per append. Default 10 000. */
  readonly maxBatchRecords?: number
  /**
   * Appends of one topic in flight at most, pipelined in order (see the top of this file). Default 8 with a target
   * that `failsQueuedAppends` (Kafka), else 1; above 1 with another target: OFA_LOG_INVALID_ARGUMENT. Above 1,
   * each append carries at most 2 000 records (and at most `maxBatchRecords`).
   */
  readonly maxAppendsInFlight?: number
  /**
   * How often the source offsets are committed (and at stop). Default 1000 ms. Records forwarded but not committed
   * yet are found in the target at the next start, so a longer interval costs a longer scan, never a duplicate.
   */
  readonly commitIntervalMs?: number
  /**
   * An append unanswered for this long counts as an outage (a warning, `connected: false`); it is still awaited.
   * Default 30 000 ms.
   */
  readonly appendTimeoutMs?: number
  /** The spec of a target topic to create, from the source topic's description. Default: the same spec. */
  readonly targetTopicSpec?: (source: TopicDescription) => TopicSpec
  /** Aborting it stops the forwarder, as `stop()` does. */
  readonly signal?: AbortSignal
}

export interface ForwarderPartitionStats {
  readonly partition: number
  /** The next source offset to forward: every record below it is in the target. */
  readonly next: number
  /** Source records not forwarded yet (absent when the source could not be asked). */
  readonly lag?: number
}

export interface ForwarderTopicStats {
  readonly topic: string
  /** `starting`: target topic not ready yet; `failed`: stopped by `error`, the other topics go on. */
  readonly state: 'starting' | 'forwarding' | 'failed' | 'stopped'
  readonly error?: OpenFactoryError
  /** Appends of this topic sent and not settled yet. */
  readonly appendsInFlight: number
  readonly partitions: readonly ForwarderPartitionStats[]
}

export interface ForwarderStats {
  readonly edgeId: string
  /** Records appended and acknowledged since `start()` (not those of a failed append found in the target after all). */
  readonly forwarded: number
  /** The last operation on the target succeeded (false before the first one and during an outage). */
  readonly connected: boolean
  readonly lastError?: { readonly code?: string; readonly message: string; readonly at: number }
  readonly topics: readonly ForwarderTopicStats[]
}

/**
 * Forwards topics of one log to another. Lifecycle: `start()` once; `stop()` when done (idempotent); `stats()`
 * and `caughtUp()` any time.
 */
export interface Forwarder {
  /** Checks that the source topics exist (OFA_LOG_UNKNOWN_TOPIC) and starts forwarding in the background. */
  start(): Promise<void>
  /** Stops: waits for the appends in flight and commits what the target acknowledged. */
  stop(): Promise<void>
  /**
   * Resolves once every record the source topics held when called is in the target. Rejects with the topic's
   * error when a topic fails, with OFA_LOG_CLOSED when the forwarder stops first.
   */
  caughtUp(): Promise<void>
  stats(): Promise<ForwarderStats>
}

const DEFAULT_RETRY_MIN_MS = 200
const DEFAULT_RETRY_MAX_MS = 10_000
const DEFAULT_MAX_BATCH_RECORDS = 10_000
const DEFAULT_COMMIT_INTERVAL_MS = 1000
const DEFAULT_APPEND_TIMEOUT_MS = 30_000
const DEFAULT_APPENDS_IN_FLIGHT = 8
/**
 * With several appends in flight, each carries at most this many records (of a batch read from the source): small
 * appends keep the pipeline full (bench/edge-forward.ts, 500 000 records: 2 000 × 8 in flight 92–97 k records/s,
 * 10 000 × 4 61–85 k/s, 10 000 × 1 74 k/s, on the loaded 2-core machine).
 */
const PIPELINED_APPEND_RECORDS = 2000
/** The backward scan of a target partition reads windows of 256, 1024, ... records, at most 65 536 at once. */
const SCAN_WINDOW_MIN = 256
const SCAN_WINDOW_MAX = 65_536
/** Errors that another attempt cannot cure: the topic stops. Every other error is retried. */
const FATAL = new Set([
  'OFA_LOG_TOPIC_CONFLICT',
  'OFA_LOG_INVALID_ARGUMENT',
  'OFA_LOG_RECORD_TOO_LARGE',
  'OFA_LOG_CLOSED',
  'OFA_CONFIG_VALUE',
])
const EDGE_ID = /^[\x21-\x7e]{1,200}$/

interface TopicState {
  readonly name: string
  state: ForwarderTopicStats['state']
  error: OpenFactoryError | null
  source: TopicDescription | null
  /** Per partition: the next source offset to forward (everything below is in the target). */
  next: number[]
  /** Per partition: the committed offset as far as this forwarder knows. */
  committed: number[]
  /** Per partition: `next` was checked against the target since the last failure. */
  recovered: boolean[]
  targetReady: boolean
  /** When the source offsets were last committed (epoch ms). */
  committedAt: number
  /** The source reader; its own signal, so that it stays open for the last commit at stop. */
  consumer: GroupConsumer | null
  readonly consumerStop: AbortController
  /** The batch being forwarded one append at a time. */
  busy: Promise<void> | null
  /** Pipelined appends not settled yet, oldest first. */
  flights: Flight[]
  /** A pipelined append failed (or landed after one that failed): no more until the batches below are redone. */
  stalled: boolean
  /** The records of pipelined appends not acknowledged, in order: forwarded again one append at a time. */
  redo: Outgoing[]
  /** A pipelined append failed with an error no attempt cures: the topic stops with it. */
  fatal: unknown
  /** The batches of `redo` being forwarded. */
  redoing: Promise<void> | null
  /** The commit under way (one at a time, in order), off the path of the appends. */
  committing: Promise<void> | null
  /** The end: the last commit, then the reader closed (once). */
  finishing: Promise<void> | null
}

interface Waiter {
  readonly ends: Map<TopicState, { start: number; end: number }[]>
  resolve(): void
  reject(err: unknown): void
}

/**
 * Source records converted for the target once (and copied: a log may reuse its read buffers), with their source
 * offsets: what an append sends and, after a failure, what is sent again of them (those still missing). The source
 * records themselves are not kept: fewer objects live while appends are in flight, less work for the GC.
 */
interface Outgoing {
  readonly records: readonly ProducerRecord[]
  /** The source offset of each record (in the record's partition). */
  readonly offsets: readonly number[]
  /** The partitions of the records, each once. */
  readonly touched: readonly number[]
}

/** A pipelined append: the records sent, and the end of its settling (in order after the previous). */
interface Flight {
  readonly out: Outgoing
  done: Promise<void>
}

class Stopped extends Error {}

/** The record carries headers of its own. */
function hasHeaders(r: LogRecord): boolean {
  for (const _ in r.headers) return true
  return false
}

/** One turn of the event loop (see the top of this file: why before a pipelined append). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Creates a forwarder (see the top of this file); throws OFA_LOG_INVALID_ARGUMENT for bad options. */
export function createForwarder(options: ForwarderOptions): Forwarder {
  return new EventLogForwarder(options)
}

function invalid(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', `forwarder: ${message}`)
}

function isLog(x: unknown): x is EventLog {
  const l = x as EventLog | null
  return (
    l !== null &&
    typeof l === 'object' &&
    typeof l.append === 'function' &&
    typeof l.read === 'function' &&
    typeof l.consumer === 'function' &&
    typeof l.describeTopic === 'function'
  )
}

function checkOptions(o: ForwarderOptions): void {
  if (o === null || typeof o !== 'object') throw invalid('options must be an object')
  const problems: OpenFactoryError[] = []
  const int = (v: unknown, name: string, min: number, max: number): void => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(invalid(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`))
    }
  }
  if (!isLog(o.source)) problems.push(invalid('source must be an EventLog'))
  if (!isLog(o.target)) problems.push(invalid('target must be an EventLog'))
  if (o.source === o.target && o.source !== undefined) problems.push(invalid('source and target are the same log'))
  if (typeof o.edgeId !== 'string' || !EDGE_ID.test(o.edgeId)) {
    problems.push(
      invalid(
        `edgeId must be 1 to 200 printable ASCII characters without spaces, got ${JSON.stringify(o.edgeId ?? null)}`,
      ),
    )
  }
  if (
    !Array.isArray(o.topics) ||
    o.topics.length === 0 ||
    !o.topics.every((t) => typeof t === 'string' && t !== '') ||
    new Set(o.topics).size !== o.topics.length
  ) {
    problems.push(invalid('topics must be a non-empty list of distinct topic names'))
  }
  const log = o.logger
  if (
    log !== undefined &&
    (log === null ||
      typeof log !== 'object' ||
      typeof log.info !== 'function' ||
      typeof log.warn !== 'function' ||
      typeof log.error !== 'function')
  ) {
    problems.push(invalid('logger must have info, warn and error methods'))
  }
  const r = o.retryDelayMs
  if (r !== undefined && (r === null || typeof r !== 'object'))
    problems.push(invalid('retryDelayMs must be { min, max }'))
  else {
    int(r?.min, 'retryDelayMs.min', 1, 3_600_000)
    int(r?.max, 'retryDelayMs.max', 1, 3_600_000)
    const { min, max } = retryDelays(r)
    if (min > max) {
      problems.push(invalid('retryDelayMs.min must not exceed retryDelayMs.max'))
    }
  }
  int(o.maxBatchRecords, 'maxBatchRecords', 1, 100_000)
  int(o.maxAppendsInFlight, 'maxAppendsInFlight', 1, 64)
  if (
    typeof o.maxAppendsInFlight === 'number' &&
    o.maxAppendsInFlight > 1 &&
    isLog(o.target) &&
    o.target.failsQueuedAppends !== true
  ) {
    problems.push(
      invalid(
        'maxAppendsInFlight above 1 needs a target whose failed appends fail those queued behind them (failsQueuedAppends: Kafka)',
      ),
    )
  }
  int(o.commitIntervalMs, 'commitIntervalMs', 0, 3_600_000)
  int(o.appendTimeoutMs, 'appendTimeoutMs', 1, 86_400_000)
  if (o.targetTopicSpec !== undefined && typeof o.targetTopicSpec !== 'function') {
    problems.push(invalid('targetTopicSpec must be a function'))
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    problems.push(invalid('signal must be an AbortSignal'))
  if (problems.length === 1) throw problems[0]
  if (problems.length > 1) {
    throw new OpenFactoryError(
      'OFA_LOG_INVALID_ARGUMENT',
      `forwarder: ${problems.length} problems: ${problems.map((p) => p.message.replace(/^forwarder: /, '')).join('; ')}`,
      { problems },
    )
  }
}

/** The backoff bounds with defaults: a default bound moves so as not to cross a given one. */
function retryDelays(r: ForwarderOptions['retryDelayMs']): { min: number; max: number } {
  const min = r?.min ?? Math.min(DEFAULT_RETRY_MIN_MS, r?.max ?? DEFAULT_RETRY_MIN_MS)
  return { min, max: r?.max ?? Math.max(DEFAULT_RETRY_MAX_MS, min) }
}

const defaultLogger: ForwarderLogger = {
  info: () => {},
  warn: (message) => process.emitWarning(message),
  error: (message) => process.emitWarning(message),
}

function codeOf(err: unknown): string | undefined {
  return isOpenFactoryError(err) ? err.code : undefined
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

class EventLogForwarder implements Forwarder {
  readonly #source: EventLog
  readonly #target: EventLog
  readonly #edgeId: string
  readonly #edgeIdBytes: Buffer
  readonly #group: string
  readonly #log: ForwarderLogger
  /**
   * The delays after failures: model's `Backoff`, doubling from min to max with ±20 % jitter so that edges do not
   * retry in step. The forwarder retries every failure but the fatal ones (an unknown target topic is created
   * again, for one), so it waits with `Backoff` and `sleep` itself rather than through `retry`, which retries only
   * errors marked retryable.
   */
  readonly #backoff: BackoffOptions
  readonly #maxBatch: number
  readonly #inFlight: number
  readonly #appendTimeoutMs: number
  readonly #commitIntervalMs: number
  readonly #targetSpec: (source: TopicDescription) => TopicSpec
  readonly #signal: AbortSignal | undefined
  readonly #topics: TopicState[]
  readonly #abort = new AbortController()
  readonly #waiters = new Set<Waiter>()
  #starting: Promise<void> | null = null
  #stopping: Promise<void> | null = null
  #loops: Promise<void>[] = []
  #forwarded = 0
  #connected = false
  #outage = false
  #failedAttempts = 0
  #lastError: ForwarderStats['lastError']

  constructor(o: ForwarderOptions) {
    checkOptions(o)
    this.#source = o.source
    this.#target = o.target
    this.#edgeId = o.edgeId
    this.#edgeIdBytes = Buffer.from(o.edgeId, 'utf8')
    this.#group = forwarderGroup(o.edgeId)
    this.#log = o.logger ?? defaultLogger
    const { min, max } = retryDelays(o.retryDelayMs)
    this.#backoff = { initialMs: min, maxMs: max, factor: 2, jitter: 0.2 }
    this.#maxBatch = o.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS
    this.#inFlight = o.maxAppendsInFlight ?? (o.target.failsQueuedAppends === true ? DEFAULT_APPENDS_IN_FLIGHT : 1)
    this.#appendTimeoutMs = o.appendTimeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS
    this.#commitIntervalMs = o.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS
    this.#targetSpec = o.targetTopicSpec ?? (({ partitionStates: _, ...spec }) => spec)
    this.#signal = o.signal
    this.#topics = o.topics.map((name) => ({
      name,
      state: 'starting',
      error: null,
      source: null,
      next: [],
      committed: [],
      recovered: [],
      targetReady: false,
      committedAt: 0,
      consumer: null,
      consumerStop: new AbortController(),
      busy: null,
      flights: [],
      stalled: false,
      redo: [],
      fatal: null,
      redoing: null,
      committing: null,
      finishing: null,
    }))
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  start(): Promise<void> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    if (this.#stopping || this.#signal?.aborted) throw this.#stoppedError()
    for (const t of this.#topics) {
      const d = await this.#source.describeTopic(t.name)
      t.source = d
      t.next = new Array(d.partitions).fill(0)
      t.committed = new Array(d.partitions).fill(-1)
      t.recovered = new Array(d.partitions).fill(false)
    }
    this.#signal?.addEventListener('abort', () => void this.stop(), { once: true })
    this.#loops = this.#topics.map((t) => this.#run(t))
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#abort.abort()
      await this.#starting?.catch(() => {})
      await Promise.allSettled(this.#topics.map((t) => this.#finish(t)))
      await Promise.allSettled(this.#loops)
      for (const w of this.#waiters) w.reject(this.#stoppedError())
      this.#waiters.clear()
    })()
    return this.#stopping
  }

  #stoppedError(): OpenFactoryError {
    return new OpenFactoryError('OFA_LOG_CLOSED', `forwarder ${this.#edgeId}: stopped`)
  }

  // ---- one topic ---------------------------------------------------------------------------------------------

  async #run(t: TopicState): Promise<void> {
    try {
      await this.#retrying(() => this.#ensureTargetTopic(t))
      const committed = await this.#source.committedOffsets(this.#group, t.name)
      for (const [p, offset] of committed) {
        if (p < t.next.length) {
          t.next[p] = Math.max(t.next[p]!, offset)
          t.committed[p] = offset
        }
      }
      t.state = 'forwarding'
      this.#settleWaiters()
      const consumer = this.#source.consumer({
        group: this.#group,
        topics: [t.name],
        resetTo: 'earliest',
        signal: t.consumerStop.signal,
        maxRecords: this.#maxBatch,
      })
      t.consumer = consumer
      for await (const batch of consumer) {
        if (this.#abort.signal.aborted) break
        if (batch.length === 0) continue
        if (this.#inFlight === 1) await this.#serial(t, consumer, this.#outgoing(t, batch, 0, batch.length))
        else {
          for (let i = 0; i < batch.length && !this.#abort.signal.aborted; i += PIPELINED_APPEND_RECORDS) {
            await this.#pipeline(t, consumer, batch, i, Math.min(i + PIPELINED_APPEND_RECORDS, batch.length))
          }
        }
        if (this.#abort.signal.aborted) break
      }
      if (t.fatal) throw t.fatal
      await this.#finish(t)
      t.state = 'stopped'
    } catch (caught) {
      const err = t.fatal ?? caught // (a fatal error of a pipelined append ends the reading)
      if (err instanceof Stopped || (this.#abort.signal.aborted && codeOf(err) === 'OFA_LOG_CLOSED')) {
        t.state = 'stopped'
      } else {
        t.state = 'failed'
        t.error = isOpenFactoryError(err)
          ? err
          : new OpenFactoryError('OFA_LOG_IO', `forwarding ${t.name}: ${messageOf(err)}`, { cause: err })
        this.#log.error(`forwarder ${this.#edgeId}: topic ${t.name} stopped: ${t.error.message}`, {
          edgeId: this.#edgeId,
          topic: t.name,
          code: t.error.code,
        })
      }
    } finally {
      await this.#finish(t)
      this.#settleWaiters()
    }
  }

  /** Waits for the appends in flight, commits what the target acknowledged, closes the reader. Once per topic. */
  #finish(t: TopicState): Promise<void> {
    t.finishing ??= (async () => {
      await t.busy?.catch(() => {})
      await t.flights.at(-1)?.done
      if (t.consumer && t.state !== 'failed') await this.#commitNext(t, t.consumer)
      await t.committing
      t.consumerStop.abort()
      await t.consumer?.close().catch(() => {})
    })()
    return t.finishing
  }

  /** Creates the target topic like the source's, or checks that it has the same partition count. */
  async #ensureTargetTopic(t: TopicState): Promise<void> {
    const want = t.source!.partitions
    let have: number
    try {
      have = (await this.#target.describeTopic(t.name)).partitions
    } catch (err) {
      if (codeOf(err) !== 'OFA_LOG_UNKNOWN_TOPIC') throw err
      try {
        await this.#target.createTopic({ ...this.#targetSpec(t.source!), name: t.name, partitions: want })
        have = want
      } catch (err2) {
        // Created meanwhile by another edge (perhaps with another policy): only the partition count matters.
        if (codeOf(err2) !== 'OFA_LOG_TOPIC_CONFLICT') throw err2
        have = (await this.#target.describeTopic(t.name)).partitions
      }
    }
    if (have !== want) throw this.#conflict(t.name, want, have)
    t.targetReady = true
  }

  #conflict(topic: string, want: number, have: number): OpenFactoryError {
    return new OpenFactoryError(
      'OFA_LOG_TOPIC_CONFLICT',
      `forwarder ${this.#edgeId}: topic ${topic} has ${want} partitions here and ${have} in the target; records would land in other partitions than Kafka clients expect: give both the same partition count`,
    )
  }

  /** Forwards records one append at a time (`#forward`), as `busy`. */
  async #serial(t: TopicState, consumer: GroupConsumer, out: Outgoing): Promise<void> {
    t.busy = this.#forward(t, consumer, out)
    try {
      await t.busy
    } finally {
      t.busy = null
    }
  }

  /**
   * Forwards a batch with an append of its own while earlier ones are in flight (at most `maxAppendsInFlight`).
   * The first batch of a partition, and every batch after a failure, goes one append at a time instead, after
   * the recovery of its partitions.
   */
  async #pipeline(
    t: TopicState,
    consumer: GroupConsumer,
    batch: readonly LogRecord[],
    from: number,
    to: number,
  ): Promise<void> {
    while (t.flights.length >= this.#inFlight) await t.flights[0]!.done
    const out = this.#outgoing(t, batch, from, to)
    if (out.records.length === 0) return
    if (t.stalled || !t.targetReady || out.touched.some((p) => !t.recovered[p])) {
      await this.#redo(t, consumer)
      return this.#serial(t, consumer, out)
    }
    if (t.flights.length > 0) await turn()
    // From here to the append, one synchronous step: a failure reported before is seen (stalled), one reported
    // after finds this append asked for before it, and fails it too.
    if (t.stalled || this.#abort.signal.aborted) {
      if (this.#abort.signal.aborted) return
      await this.#redo(t, consumer)
      return this.#serial(t, consumer, out)
    }
    const result = this.#append(t.name, out.records).then(
      () => null,
      (err: unknown) => {
        t.stalled = true
        return err ?? new Error('append failed')
      },
    )
    const f: Flight = { out, done: Promise.resolve() }
    const previous = t.flights.at(-1)?.done ?? Promise.resolve()
    f.done = previous.then(() => result).then((err) => this.#landed(t, consumer, f, err))
    t.flights.push(f)
  }

  /** Settles a pipelined append, in order: acknowledged records move `next` on, others are kept to redo. */
  async #landed(t: TopicState, consumer: GroupConsumer, f: Flight, err: unknown): Promise<void> {
    t.flights.shift()
    if (err === null && t.redo.length === 0) {
      this.#acknowledged(t, f.out)
      this.#succeeded()
      this.#commitSoon(t, consumer)
      this.#settleWaiters()
      return
    }
    // Failed, or acknowledged after one that failed (a target true to failsQueuedAppends never does that): the
    // recovery of its partitions decides what of it landed.
    if (err !== null) {
      if (FATAL.has(codeOf(err) ?? '')) t.fatal ??= err
      this.#failed(err, `forwarding ${t.name}`)
    }
    t.stalled = true
    t.redo.push(f.out)
    for (const p of f.out.touched) t.recovered[p] = false
    // The last one in flight: redo now, not at the next batch (there may be none for a while). A fatal error
    // ends the reading, and the topic stops with it.
    if (t.flights.length === 0) {
      this.#redo(t, consumer).catch((e: unknown) => {
        t.fatal ??= e
        t.consumerStop.abort()
      })
    }
  }

  /** After a failure: waits for every append in flight, then forwards the batches not acknowledged, in order. */
  #redo(t: TopicState, consumer: GroupConsumer): Promise<void> {
    t.redoing ??= (async () => {
      try {
        await t.flights.at(-1)?.done
        if (t.fatal) throw t.fatal
        while (t.redo.length > 0) {
          if (this.#abort.signal.aborted) return
          await this.#serial(t, consumer, t.redo[0]!)
          t.redo.shift()
        }
        t.stalled = false
      } finally {
        t.redoing = null
      }
    })()
    return t.redoing
  }

  /** Forwards records: retries until the target acknowledged them, then commits (when it is time). */
  async #forward(t: TopicState, consumer: GroupConsumer, out: Outgoing): Promise<void> {
    let backoff: Backoff | null = null
    for (;;) {
      if (this.#abort.signal.aborted) return
      let asked = false
      try {
        if (!t.targetReady) {
          asked = true
          await this.#ensureTargetTopic(t)
        }
        // Every partition not recovered, not only this batch's: nothing of this topic is in flight here, so each
        // resume point found now is right, and the pipeline need not drain later for a partition's first batch.
        for (let p = 0; p < t.recovered.length; p++) {
          if (t.recovered[p]) continue
          asked = true
          t.next[p] = Math.max(t.next[p]!, await this.#recover(t, p))
          t.recovered[p] = true
        }
        const todo = this.#missing(t, out)
        if (todo.records.length > 0) {
          asked = true
          await this.#append(t.name, todo.records)
          this.#acknowledged(t, todo)
        }
        if (asked) this.#succeeded()
        break
      } catch (err) {
        if (FATAL.has(codeOf(err) ?? '')) throw err
        // The append may have landed in part: look at the target again before the next one.
        for (const p of out.touched) t.recovered[p] = false
        if (codeOf(err) === 'OFA_LOG_UNKNOWN_TOPIC') t.targetReady = false
        this.#failed(err, `forwarding ${t.name}`)
        backoff ??= new Backoff(this.#backoff)
        await this.#wait(backoff.next())
      }
    }
    this.#commitSoon(t, consumer)
    this.#settleWaiters()
  }

  /** The target acknowledged these records: `next` moves past them. */
  #acknowledged(t: TopicState, out: Outgoing): void {
    const { records, offsets } = out
    for (let i = 0; i < records.length; i++) t.next[records[i]!.partition!] = offsets[i]! + 1
    this.#forwarded += records.length
  }

  /** Appends, counting an append unanswered for `appendTimeoutMs` as an outage; never abandons it. */
  async #append(topic: string, records: readonly ProducerRecord[]): Promise<void> {
    const timer = setTimeout(() => {
      this.#failed(
        new OpenFactoryError('OFA_LOG_IO', `no answer within ${this.#appendTimeoutMs} ms (still waiting)`, {
          retryable: true,
        }),
        `forwarding ${topic}`,
      )
    }, this.#appendTimeoutMs)
    try {
      await this.#target.append(topic, records)
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Commits once `commitIntervalMs` has passed since the last commit, in the background: an fsync of the source's
   * offsets does not hold up the appends settling behind it (bench/edge-forward.ts). A commit saves only a longer
   * recovery scan after a restart, so a late one costs nothing else.
   */
  #commitSoon(t: TopicState, consumer: GroupConsumer): void {
    if (t.committing !== null || this.#abort.signal.aborted) return
    if (Date.now() - t.committedAt >= this.#commitIntervalMs) void this.#commitNext(t, consumer)
  }

  /** Commits after the commit under way, if any: one at a time, in order, so offsets never go back. */
  #commitNext(t: TopicState, consumer: GroupConsumer): Promise<void> {
    const c = (t.committing ?? Promise.resolve()).then(() => this.#commit(t, consumer))
    const clear = (): void => {
      if (t.committing === c) t.committing = null
    }
    c.then(clear, clear)
    t.committing = c
    return c
  }

  /** Commits the source offsets of every partition forwarded further than its last commit (never rejects). */
  async #commit(t: TopicState, consumer: GroupConsumer): Promise<void> {
    t.committedAt = Date.now()
    const offsets = t.next
      .map((next, p) => ({ topic: t.name, partition: p, offset: next }))
      .filter((o) => o.offset > t.committed[o.partition]!)
    if (offsets.length === 0) return
    try {
      await consumer.commit(offsets)
      for (const o of offsets) t.committed[o.partition] = o.offset
    } catch (err) {
      // Not fatal: the records are in the target, the next commit covers them, and a restart finds them there.
      if (!this.#abort.signal.aborted || codeOf(err) !== 'OFA_LOG_CLOSED') {
        this.#log.warn(`forwarder ${this.#edgeId}: commit of ${t.name} failed: ${messageOf(err)}`, {
          edgeId: this.#edgeId,
          topic: t.name,
          code: codeOf(err),
        })
      }
    }
  }

  /** The records of `batch` from index `from` to `to` at or after `next`, converted (see `Outgoing`). */
  #outgoing(t: TopicState, batch: readonly LogRecord[], from: number, to: number): Outgoing {
    const records: ProducerRecord[] = []
    const offsets: number[] = []
    const touched: number[] = []
    let last = -1
    for (let i = from; i < to; i++) {
      const r = batch[i]!
      if (r.offset < t.next[r.partition]!) continue
      if (r.partition !== last) {
        last = r.partition
        if (!touched.includes(last)) touched.push(last)
      }
      records.push(this.#record(r))
      offsets.push(r.offset)
    }
    return { records, offsets, touched }
  }

  /** Those of `out` still missing in the target (at or after `next`): after a recovery, some may be there. */
  #missing(t: TopicState, out: Outgoing): Outgoing {
    const { records, offsets } = out
    let i = 0
    while (i < records.length && offsets[i]! >= t.next[records[i]!.partition!]!) i++
    if (i === records.length) return out
    const keep: ProducerRecord[] = []
    const kept: number[] = []
    for (i = 0; i < records.length; i++) {
      if (offsets[i]! < t.next[records[i]!.partition!]!) continue
      keep.push(records[i]!)
      kept.push(offsets[i]!)
    }
    return { records: keep, offsets: kept, touched: out.touched }
  }

  /**
   * One record for the target, with the edge headers. Per record and on the hot path (bench/edge-forward.ts): a
   * record without headers of its own, the usual case, gets one object literal of a fixed shape, and the edge id
   * one Buffer for every record (never encoded again).
   */
  #record(r: LogRecord): ProducerRecord {
    let headers: Record<string, RecordData>
    if (hasHeaders(r)) {
      headers = {}
      for (const name in r.headers) {
        if (name !== EDGE_HEADER && name !== EDGE_OFFSET_HEADER) headers[name] = Buffer.from(r.headers[name]!)
      }
      headers[EDGE_HEADER] = this.#edgeIdBytes
      headers[EDGE_OFFSET_HEADER] = String(r.offset)
    } else {
      // (The names of EDGE_HEADER and EDGE_OFFSET_HEADER, written out: a literal V8 builds from one template.)
      headers = { 'ofa-edge': this.#edgeIdBytes, 'ofa-edge-offset': String(r.offset) }
    }
    return {
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      timestamp: r.timestamp,
      headers,
      partition: r.partition,
    }
  }

  // ---- recovery ----------------------------------------------------------------------------------------------

  /**
   * The next source offset to forward for partition `p`: after the newest record of this edge in the target
   * partition, found by scanning backward from its end in windows of 256, 1024, 4096, ... records; without one,
   * the group's committed offset (or 0).
   */
  async #recover(t: TopicState, p: number): Promise<number> {
    const d = await this.#target.describeTopic(t.name)
    if (d.partitions !== t.source!.partitions) throw this.#conflict(t.name, t.source!.partitions, d.partitions)
    let { startOffset: start, endOffset: hi } = d.partitionStates[p]!
    let window = SCAN_WINDOW_MIN
    while (hi > start) {
      const lo = Math.max(start, hi - window)
      let found: number
      try {
        found = await this.#scan(t.name, p, lo, hi)
      } catch (err) {
        if (codeOf(err) !== 'OFA_LOG_OFFSET_OUT_OF_RANGE') throw err
        // Retention moved the start meanwhile.
        start = (await this.#target.describeTopic(t.name)).partitionStates[p]!.startOffset
        continue
      }
      if (found >= 0) {
        const end = (await this.#source.describeTopic(t.name)).partitionStates[p]!.endOffset
        if (found >= end) {
          throw new OpenFactoryError(
            'OFA_CONFIG_VALUE',
            `forwarder ${this.#edgeId}: the target's ${t.name}/${p} holds a record of edge ${this.#edgeId} from source offset ${found}, but the source partition ends at ${end}: another edge uses this edgeId, or this edge's log was replaced; give it a new edgeId`,
          )
        }
        return found + 1
      }
      hi = lo
      window = Math.min(window * 4, SCAN_WINDOW_MAX)
    }
    return (await this.#source.committedOffsets(this.#group, t.name)).get(p) ?? 0
  }

  /** The source offset of this edge's newest record in target offsets [lo, hi) of a partition, or -1. */
  async #scan(topic: string, p: number, lo: number, hi: number): Promise<number> {
    let found = -1
    let pos = lo
    while (pos < hi) {
      const records = await this.#target.read(topic, p, pos, { maxRecords: Math.min(hi - pos, 10_000) })
      if (records.length === 0) break
      for (const r of records) {
        if (r.offset >= hi) break
        const own = this.#ownOffset(r)
        if (own >= 0) found = own
      }
      pos = records[records.length - 1]!.offset + 1
    }
    return found
  }

  #ownOffset(r: LogRecord): number {
    const edge = r.headers[EDGE_HEADER]
    if (!edge || !this.#edgeIdBytes.equals(edge)) return -1
    const text = r.headers[EDGE_OFFSET_HEADER]?.toString('latin1') ?? ''
    return /^\d{1,15}$/.test(text) ? Number(text) : -1
  }

  // ---- failures and backoff ----------------------------------------------------------------------------------

  /** Runs `fn` until it succeeds, a fatal error comes or the forwarder stops. */
  async #retrying(fn: () => Promise<void>): Promise<void> {
    const backoff = new Backoff(this.#backoff)
    for (;;) {
      if (this.#abort.signal.aborted) throw new Stopped()
      try {
        await fn()
        this.#succeeded()
        return
      } catch (err) {
        if (FATAL.has(codeOf(err) ?? '')) throw err
        this.#failed(err, 'preparing the target')
        await this.#wait(backoff.next())
      }
    }
  }

  /** Waits `ms` after a failure (the process stays alive meanwhile); ends early when the forwarder stops. */
  #wait(ms: number): Promise<void> {
    return sleep(ms, this.#abort.signal)
  }

  #failed(err: unknown, what: string): void {
    this.#connected = false
    this.#failedAttempts++
    this.#lastError = { code: codeOf(err), message: messageOf(err), at: Date.now() }
    if (this.#outage) return
    this.#outage = true
    this.#log.warn(
      `forwarder ${this.#edgeId}: the target does not answer (${what}: ${messageOf(err)}); records wait in the source and are forwarded once it answers`,
      { edgeId: this.#edgeId, code: codeOf(err) },
    )
  }

  #succeeded(): void {
    this.#connected = true
    if (!this.#outage) return
    this.#outage = false
    this.#log.info(
      `forwarder ${this.#edgeId}: the target answers again after ${this.#failedAttempts} failed attempts`,
      {
        edgeId: this.#edgeId,
      },
    )
    this.#failedAttempts = 0
  }

  // ---- progress ----------------------------------------------------------------------------------------------

  async caughtUp(): Promise<void> {
    if (this.#stopping) throw this.#stoppedError()
    const ends = new Map<TopicState, { start: number; end: number }[]>()
    for (const t of this.#topics) {
      const d = await this.#source.describeTopic(t.name)
      ends.set(
        t,
        d.partitionStates.map((s) => ({ start: s.startOffset, end: s.endOffset })),
      )
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { ends, resolve, reject }
      if (this.#stopping) reject(this.#stoppedError())
      else if (!this.#settle(w)) this.#waiters.add(w)
    })
  }

  #settleWaiters(): void {
    for (const w of this.#waiters) if (this.#settle(w)) this.#waiters.delete(w)
  }

  /** Resolves or rejects `w` when its time has come; true then. */
  #settle(w: Waiter): boolean {
    for (const t of w.ends.keys()) {
      if (t.state === 'failed') {
        w.reject(t.error)
        return true
      }
    }
    for (const [t, parts] of w.ends) {
      for (let p = 0; p < parts.length; p++) {
        const { start, end } = parts[p]!
        if (end > start && (t.next[p] ?? 0) < end) return false
      }
    }
    w.resolve()
    return true
  }

  async stats(): Promise<ForwarderStats> {
    const topics: ForwarderTopicStats[] = []
    for (const t of this.#topics) {
      let states: TopicDescription['partitionStates'] | null = null
      try {
        states = (await this.#source.describeTopic(t.name)).partitionStates
      } catch {
        states = null
      }
      topics.push({
        topic: t.name,
        state: t.state,
        ...(t.error ? { error: t.error } : {}),
        appendsInFlight: t.flights.length + (t.busy ? 1 : 0),
        partitions: t.next.map((next, partition) => {
          const s = states?.[partition]
          return s
            ? { partition, next, lag: Math.max(0, s.endOffset - Math.max(next, s.startOffset)) }
            : { partition, next }
        }),
      })
    }
    return {
      edgeId: this.#edgeId,
      forwarded: this.#forwarded,
      connected: this.#connected,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      topics,
    }
  }
}
