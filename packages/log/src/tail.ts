/**
 * Catch up, then follow: the one way a reader builds something from a topic and keeps it current (the asset
 * state, the forwarder's views, a connector's command reader).
 *
 * `tail` first reads every chosen partition up to the end offset it had when the tail began (the catch-up),
 * yields one empty batch with `caughtUp: true`, then follows new records as they become durable. Every batch
 * says whether the catch-up is over, so a reader knows when its view covers what the log held at its start.
 *
 * Failures follow the one retry rule (`retry.ts` in model): a retryable error waits (backoff) and resumes from
 * the position after the last record yielded; records removed by retention meanwhile
 * (`OFA_LOG_OFFSET_OUT_OF_RANGE`) are skipped with a warning, from the partition's new start; a closed log or
 * the signal ends the iteration; any other error is thrown to the reader.
 */
import {
  Backoff,
  type BackoffOptions,
  isOpenFactoryError,
  type Logger,
  OpenFactoryError,
  retryAdvice,
  sleep,
} from '@openfactory/model'
import type { EventLog, LogRecord } from './backbone.ts'

export interface TailOptions {
  /** Partitions to read; default all. */
  readonly partitions?: readonly number[]
  /** Where to start: each partition's start (default), its end, or a position per partition (missing: its start). */
  readonly from?: 'earliest' | 'latest' | Readonly<Record<number, number>>
  readonly signal?: AbortSignal
  /** Records per batch at most (default 5000). */
  readonly maxRecords?: number
  /** Delay policy after a failure (default 100 ms doubling to 5 s). */
  readonly backoff?: BackoffOptions
  readonly logger?: Logger
}

export interface TailBatch {
  readonly records: readonly LogRecord[]
  /** False while catching up; true for the empty batch that ends the catch-up and for every batch after it. */
  readonly caughtUp: boolean
}

/** Reads `topic` from `from` to its current end, then follows it (see the file's comment). */
export function tail(log: EventLog, topic: string, opts: TailOptions = {}): AsyncIterable<TailBatch> {
  return { [Symbol.asyncIterator]: () => run(log, topic, opts) }
}

async function* run(log: EventLog, topic: string, opts: TailOptions): AsyncGenerator<TailBatch> {
  const signal = opts.signal
  const maxRecords = opts.maxRecords ?? 5000
  const backoff = new Backoff({ initialMs: 100, maxMs: 5000, ...opts.backoff })
  const positions: Record<number, number> = {}
  let ends: Map<number, number> | null = null

  /** After a failure: true to go on (after a wait when retryable), false to end (aborted, closed); throws the rest. */
  const recover = async (err: unknown): Promise<boolean> => {
    if (signal?.aborted || isOpenFactoryError(err, 'OFA_LOG_CLOSED')) return false
    if (isOpenFactoryError(err, 'OFA_LOG_OFFSET_OUT_OF_RANGE')) {
      const desc = await log.describeTopic(topic)
      for (const ps of desc.partitionStates) {
        const at = positions[ps.partition]
        if (at !== undefined && at < ps.startOffset) {
          opts.logger?.warn('records were removed by retention before they were read; skipping them', {
            topic,
            partition: ps.partition,
            from: at,
            to: ps.startOffset,
          })
          positions[ps.partition] = ps.startOffset
        }
      }
      return true
    }
    const advice = retryAdvice(err)
    if (!advice.retry) throw err
    const waitMs = Math.max(backoff.next(), advice.afterMs)
    opts.logger?.warn('reading the log failed; retrying', { topic, error: (err as Error).message, retryInMs: waitMs })
    await sleep(waitMs, signal)
    return !signal?.aborted
  }

  // Where to start, and where the catch-up ends.
  while (ends === null) {
    if (signal?.aborted) return
    try {
      const desc = await log.describeTopic(topic)
      const chosen = opts.partitions ?? desc.partitionStates.map((ps) => ps.partition)
      const from = opts.from ?? 'earliest'
      ends = new Map()
      for (const p of chosen) {
        const ps = desc.partitionStates[p]
        if (!ps) throw new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', `topic ${topic} has no partition ${p}`)
        ends.set(p, ps.endOffset)
        positions[p] =
          from === 'earliest'
            ? ps.startOffset
            : from === 'latest'
              ? ps.endOffset
              : Math.max(from[p] ?? ps.startOffset, ps.startOffset)
      }
    } catch (err) {
      ends = null
      if (!(await recover(err))) return
    }
  }

  // Catch-up: each partition up to its end offset at the start (a compacted tail may end below it).
  for (const [p, end] of ends) {
    while ((positions[p] as number) < end) {
      if (signal?.aborted) return
      let records: LogRecord[] | null
      try {
        records = await log.read(topic, p, positions[p] as number, { maxRecords })
        backoff.reset()
      } catch (err) {
        if (!(await recover(err))) return
        continue
      }
      if (records.length === 0) break
      positions[p] = (records[records.length - 1] as LogRecord).offset + 1
      yield { records, caughtUp: false }
      // A suspended generator keeps the values of its frame: without this, the catch-up's last batch (and the read
      // chunks its keys and values are views of, up to 8 MiB) would stay alive for as long as the tail follows.
      records = null
    }
  }
  if (signal?.aborted) return
  yield { records: [], caughtUp: true }

  // Follow: from the positions reached, until the signal aborts or the log closes.
  const partitions = [...ends.keys()]
  while (!signal?.aborted) {
    try {
      for await (const records of log.follow(topic, { partitions, from: { ...positions }, signal, maxRecords })) {
        backoff.reset()
        if (records.length === 0) continue
        for (const r of records) positions[r.partition] = r.offset + 1
        yield { records, caughtUp: true }
      }
      return
    } catch (err) {
      if (!(await recover(err))) return
    }
  }
}
