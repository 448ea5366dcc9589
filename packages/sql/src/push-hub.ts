/**
 * One reader of a topic for every push query that starts "from now" on it (`EMIT CHANGES` with
 * `auto.offset.reset` latest, the default): a hundred dashboards following one stream make one tail of the log, not
 * a hundred. Each subscriber still gets exactly what was written after it started — it joins the hub first, then
 * takes the topic's end offsets as its start, and the records before them are filtered out — and applies its own
 * filter and projection to them. A query from `earliest` reads on its own (it replays history the others do not
 * want).
 *
 * A subscriber that does not keep up — more than `MAX_QUEUED_RECORDS` records waiting for it — is dropped with
 * `OFA_SQL_SLOW_CONSUMER`, so one slow client never holds the others back nor makes the hub's memory grow. The hub
 * stops reading when its last subscriber leaves.
 */
import { type EventLog, type LogRecord, tail } from '@openfactory/log'
import { type DebugLogger, OpenFactoryError } from '@openfactory/model'

/** Records waiting for one subscriber, past which it is dropped. */
export const MAX_QUEUED_RECORDS = 10_000

interface Subscriber {
  /** Per partition, the first offset it wants; undefined until its start is known (it keeps everything meanwhile). */
  from: Map<number, number> | undefined
  queue: LogRecord[]
  wake: (() => void) | undefined
  error: unknown
}

export class PushHub {
  readonly topic: string
  readonly #log: EventLog
  readonly #logger: DebugLogger
  readonly #onIdle: () => void
  readonly #subs = new Set<Subscriber>()
  #abort: AbortController | undefined

  constructor(log: EventLog, topic: string, logger: DebugLogger, onIdle: () => void) {
    this.#log = log
    this.topic = topic
    this.#logger = logger
    this.#onIdle = onIdle
  }

  get subscribers(): number {
    return this.#subs.size
  }

  /**
   * Joins the hub: resolves once the subscriber's start is taken (the topic's end offsets now), with the batches of
   * the records written after it. It leaves when `signal` aborts (iterated or not) or the iteration ends.
   */
  async subscribe(signal: AbortSignal): Promise<AsyncGenerator<LogRecord[]>> {
    const sub: Subscriber = { from: undefined, queue: [], wake: undefined, error: undefined }
    // Joined before its start is taken: a record written in between is queued, then kept or filtered out.
    this.#subs.add(sub)
    const leave = () => {
      sub.wake?.()
      this.#leave(sub)
    }
    signal.addEventListener('abort', leave, { once: true })
    try {
      const d = await this.#log.describeTopic(this.topic)
      const from = new Map(d.partitionStates.map((s) => [s.partition, s.endOffset]))
      sub.from = from
      sub.queue = sub.queue.filter((r) => r.offset >= (from.get(r.partition) ?? 0))
      if (!this.#abort && this.#subs.has(sub)) this.#start(from)
    } catch (err) {
      signal.removeEventListener('abort', leave)
      this.#leave(sub)
      throw err
    }
    const hub = this
    return (async function* () {
      try {
        while (!signal.aborted) {
          if (sub.queue.length > 0) {
            const batch = sub.queue
            sub.queue = []
            yield batch
            continue
          }
          if (sub.error) throw sub.error
          await new Promise<void>((resolve) => {
            sub.wake = resolve
          })
          sub.wake = undefined
        }
      } finally {
        signal.removeEventListener('abort', leave)
        hub.#leave(sub)
      }
    })()
  }

  /** A subscriber leaves (again: nothing); the last one stops the hub's reading. */
  #leave(sub: Subscriber): void {
    if (!this.#subs.delete(sub) || this.#subs.size > 0) return
    this.#abort?.abort()
    this.#abort = undefined
    this.#onIdle()
  }

  #start(from: Map<number, number>): void {
    const abort = new AbortController()
    this.#abort = abort
    const run = async () => {
      for await (const b of tail(this.#log, this.topic, {
        from: Object.fromEntries(from),
        signal: abort.signal,
        logger: this.#logger,
      })) {
        if (b.records.length === 0) continue
        for (const sub of this.#subs) {
          const wanted = sub.from
            ? b.records.filter((r) => r.offset >= (sub.from?.get(r.partition) ?? 0))
            : (b.records as LogRecord[])
          if (wanted.length === 0) continue
          if (sub.queue.length + wanted.length > MAX_QUEUED_RECORDS) {
            sub.error = new OpenFactoryError(
              'OFA_SQL_SLOW_CONSUMER',
              `push query on ${this.topic}: more than ${MAX_QUEUED_RECORDS} records waiting for this client; dropped`,
            )
            sub.queue = []
            this.#leave(sub)
          } else {
            for (const r of wanted) sub.queue.push(r)
          }
          sub.wake?.()
        }
      }
    }
    run().catch((err: unknown) => {
      if (abort.signal.aborted) return
      for (const sub of this.#subs) {
        sub.error = err
        sub.wake?.()
      }
    })
  }
}
