/**
 * Runs a processor: one task per partition of its inputs (task.ts has the exactly-once protocol), each reading its
 * partition of every input, in batches, until stopped. A task that fails (a write refused, a read error, a
 * `process` that throws something other than OFA_SQL_VALUE) is restored from its checkpoint and started again
 * after a backoff: the restore is the recovery path, the same after a crash or a hiccup.
 *
 * Which partitions a process runs is `partitions` (default all): on the embedded log one process owns the log and
 * runs them all; several processes on Kafka each run their own share.
 */
import type { EventLog, LogRecord } from '@openfactory/log'
import { tail } from '@openfactory/log'
import { Backoff, type DebugLogger, OpenFactoryError, silentLogger, sleep } from '@openfactory/model'
import { checkpointTopic } from './checkpoint.ts'
import type { ProcessorSpec } from './processor.ts'
import { ProcessorTask, type TaskStats } from './task.ts'

export interface RunProcessorOptions {
  readonly eventLog: EventLog
  readonly spec: ProcessorSpec
  /** Partitions this process runs (default all). */
  readonly partitions?: readonly number[]
  /** Where a task without checkpoint starts reading (default `earliest`: never skip data silently). */
  readonly resetTo?: 'earliest' | 'latest'
  /** Records per input per batch at most (default 5000). */
  readonly maxBatchRecords?: number
  readonly logger?: DebugLogger
}

export interface ProcessorHandle {
  readonly id: string
  readonly spec: ProcessorSpec
  /** Resolves once every task restored its checkpoint the first time (rejects if the processor cannot start). */
  readonly ready: Promise<void>
  stats(): { readonly tasks: Readonly<Record<number, TaskStats>> }
  /** Stops every task after its current batch (what was read and not processed is read again next time). */
  stop(): Promise<void>
}

/** Checks the processor against the log, creates its checkpoint topic, starts its tasks. */
export function runProcessor(opts: RunProcessorOptions): ProcessorHandle {
  const { eventLog, spec } = opts
  const logger = opts.logger ?? silentLogger
  const abort = new AbortController()
  const tasks = new Map<number, ProcessorTask>()
  const loops: Promise<void>[] = []
  const ready = (async () => {
    if (spec.inputs.length === 0) throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', `processor ${spec.id} has no input`)
    const counts = await Promise.all(spec.inputs.map(async (t) => (await eventLog.describeTopic(t)).partitions))
    const partitions = counts[0] as number
    const other = counts.findIndex((c) => c !== partitions)
    if (other >= 0) {
      throw new OpenFactoryError(
        'OFA_SQL_UNSUPPORTED',
        `processor ${spec.id}: inputs ${spec.inputs[0]} (${partitions} partitions) and ${spec.inputs[other]} (${counts[other]}) are not co-partitioned; they need the same partition count`,
      )
    }
    await eventLog.createTopic({
      name: checkpointTopic(spec.id),
      partitions,
      cleanupPolicy: 'compact',
      retentionMs: -1,
    })
    const mine = opts.partitions ?? Array.from({ length: partitions }, (_, p) => p)
    const restored: Promise<void>[] = []
    for (const p of mine) {
      const task = new ProcessorTask({ eventLog, spec, partition: p, resetTo: opts.resetTo ?? 'earliest', logger })
      tasks.set(p, task)
      let first!: (err?: unknown) => void
      restored.push(new Promise<void>((resolve, reject) => (first = (err) => (err ? reject(err) : resolve()))))
      loops.push(runTask(task, opts, abort.signal, logger, first))
    }
    await Promise.all(restored)
  })()
  ready.catch(() => {})
  return {
    id: spec.id,
    spec,
    ready,
    stats: () => ({ tasks: Object.fromEntries([...tasks].map(([p, t]) => [p, t.stats()])) }),
    async stop() {
      abort.abort()
      await ready.catch(() => {})
      await Promise.all(loops)
    },
  }
}

/** Copies a record out of the log's read buffers (records wait in a queue across reads). */
function own(r: LogRecord): LogRecord {
  const headers: Record<string, Buffer> = {}
  for (const [k, v] of Object.entries(r.headers)) headers[k] = Buffer.from(v)
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key ? Buffer.from(r.key) : null,
    value: r.value ? Buffer.from(r.value) : null,
    headers,
  }
}

async function runTask(
  task: ProcessorTask,
  opts: RunProcessorOptions,
  signal: AbortSignal,
  logger: DebugLogger,
  restoredOnce: (err?: unknown) => void,
): Promise<void> {
  const { eventLog, spec } = opts
  const maxBatch = opts.maxBatchRecords ?? 5000
  const backoff = new Backoff({ initialMs: 100, maxMs: 10_000 })
  let first = true
  while (!signal.aborted) {
    const attempt = new AbortController()
    const stopAttempt = () => attempt.abort()
    signal.addEventListener('abort', stopAttempt, { once: true })
    try {
      await task.restore()
      if (first) {
        first = false
        restoredOnce()
      }
      const replay = task.pendingReplay
      if (replay) await task.runBatch(await task.readIntent(replay), true)
      await pumpAndProcess(task, eventLog, spec, maxBatch, attempt.signal)
      backoff.reset()
    } catch (err) {
      if (signal.aborted) break
      if (first && !(err instanceof OpenFactoryError && err.retryable)) {
        // A task that cannot even restore (a topic missing) is the processor's start failing.
        restoredOnce(err)
        return
      }
      const waitMs = backoff.next()
      logger.warn('processor task failed; restoring from its checkpoint', {
        task: task.id,
        error: err instanceof Error ? err.message : String(err),
        retryInMs: waitMs,
      })
      await sleep(waitMs, signal)
    } finally {
      attempt.abort()
      signal.removeEventListener('abort', stopAttempt)
    }
  }
}

/** Reads every input of the task from its positions and runs batches until the signal aborts or a read fails. */
async function pumpAndProcess(
  task: ProcessorTask,
  eventLog: EventLog,
  spec: ProcessorSpec,
  maxBatch: number,
  outer: AbortSignal,
): Promise<void> {
  // The pumps end with this attempt: when the batches fail too, not only when the runner stops.
  const reading = new AbortController()
  const signal = reading.signal
  const stop = () => reading.abort()
  outer.addEventListener('abort', stop, { once: true })
  const queues: LogRecord[][] = spec.inputs.map(() => [])
  /** Per input: it reached the end its log had when the task started (from then on it is followed live). */
  const caughtUp: boolean[] = spec.inputs.map(() => false)
  let wake: (() => void) | undefined
  /** Pumps waiting for room in their queue. */
  const room: (() => void)[] = []
  let failure: unknown
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const pumps = spec.inputs.map(async (topic, i) => {
    const p = task.partition
    try {
      for await (const b of tail(eventLog, topic, {
        partitions: [p],
        from: { [p]: task.positions[i] as number },
        signal,
        maxRecords: maxBatch,
      })) {
        if (b.caughtUp && !caughtUp[i]) {
          caughtUp[i] = true
          notify()
        }
        if (b.records.length === 0) continue
        const q = queues[i] as LogRecord[]
        for (const r of b.records) q.push(own(r))
        notify()
        // Backpressure: read on only while the queue holds less than a few batches.
        while (q.length >= maxBatch * 4 && !signal.aborted) await new Promise<void>((r) => room.push(r))
      }
    } catch (err) {
      failure ??= err
    }
    notify()
  })
  try {
    while (!signal.aborted) {
      if (failure) throw failure
      if (queues.every((q) => q.length === 0) || !mergeable(queues, caughtUp)) {
        await new Promise<void>((r) => {
          wake = r
          signal.addEventListener('abort', () => r(), { once: true })
        })
        continue
      }
      const batch = takeBatch(queues, caughtUp, maxBatch)
      for (const r of room.splice(0)) r()
      await task.runBatch(batch)
    }
  } finally {
    reading.abort()
    outer.removeEventListener('abort', stop)
    for (const r of room.splice(0)) r()
    await Promise.allSettled(pumps)
  }
}

/**
 * With several inputs, records are taken lowest timestamp first across the inputs (as Kafka Streams chooses): a
 * batch cannot go on while an input that still has older records to read (not caught up) has none queued, or it
 * would run ahead of that input's older records. An input that is caught up and empty is live: the others go on.
 */
function mergeable(queues: readonly LogRecord[][], caughtUp: readonly boolean[]): boolean {
  return queues.length === 1 || queues.every((q, i) => q.length > 0 || caughtUp[i])
}

/** Takes the next batch: per input, a prefix of its queue (see `mergeable`). */
function takeBatch(queues: LogRecord[][], caughtUp: readonly boolean[], maxBatch: number): LogRecord[][] {
  if (queues.length === 1) return [(queues[0] as LogRecord[]).splice(0, maxBatch)]
  const taken = queues.map(() => 0)
  for (let n = 0; n < maxBatch; n++) {
    let best = -1
    let bestTs = Number.POSITIVE_INFINITY
    for (let i = 0; i < queues.length; i++) {
      const head = (queues[i] as LogRecord[])[taken[i] as number]
      if (!head) {
        if (!caughtUp[i]) return queues.map((q, j) => q.splice(0, taken[j]))
        continue
      }
      if (head.timestamp < bestTs) {
        best = i
        bestTs = head.timestamp
      }
    }
    if (best < 0) break
    taken[best] = (taken[best] as number) + 1
  }
  return queues.map((q, j) => q.splice(0, taken[j]))
}
