/**
 * Runs a processor: one task per partition of its inputs (task.ts has the exactly-once protocol), each reading its
 * partition of every input, in batches, until stopped. A task that fails (a write refused, a read error, a
 * `process` that throws something other than OFA_SQL_VALUE) is restored from its checkpoint and started again
 * after a backoff: the restore is the recovery path, the same after a crash or a hiccup.
 *
 * Which partitions a process runs (`assignment`):
 * - `static` (default): those `partitions` names, all by default. On the embedded log one process owns the log and
 *   runs them all; processes on Kafka given disjoint lists each run their share (nothing fences a mistake).
 * - `group`: those a consumer group gives it. Every process running the processor joins the group named after its
 *   checkpoint topic (`_ofa_proc_<id>`), subscribed to that topic, whose partitions are the tasks: the partitions
 *   assigned to this member are the tasks it runs. When the assignment changes, tasks of partitions taken away stop
 *   after their in-flight batch and tasks of partitions given start as after a failure (restore from the
 *   checkpoint). Tasks are fenced (task.ts): a task taking a partition claims it and waits `fenceMs` before
 *   restoring, and an owner that lost it stops before its next write.
 *
 * The group member reads the checkpoint topic only to stay in the group: what it reads is dropped, and it commits
 * nothing (a task's position is in its checkpoint, not in the group's offsets; a partition newly assigned is read
 * from its end, so there is nothing to skip), which spares the backbone an offset commit per poll.
 */
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import type { EventLog, GroupConsumer, LogRecord } from '@openfactory/log'
import { tail } from '@openfactory/log'
import {
  Backoff,
  type DebugLogger,
  isOpenFactoryError,
  OpenFactoryError,
  silentLogger,
  sleep,
} from '@openfactory/model'
import { checkpointTopic } from './checkpoint.ts'
import type { ProcessorSpec } from './processor.ts'
import { ProcessorTask, type TaskStats } from './task.ts'

/** Group assignment: the default fence interval (task.ts), the wait of a task taking a partition over. */
export const DEFAULT_FENCE_MS = 5000
/** Group assignment: the default session timeout of the member (a process silent this long loses its tasks). */
export const DEFAULT_GROUP_SESSION_MS = 10_000
/** How often a group member looks at its assignment. */
const GROUP_POLL_MS = 100

export interface RunProcessorOptions {
  readonly eventLog: EventLog
  readonly spec: ProcessorSpec
  /** Partitions this process runs (default all); `static` assignment only. */
  readonly partitions?: readonly number[]
  /**
   * How the process gets its partitions (see the module comment): `static` (default: `partitions`, all by default)
   * or `group` (a consumer group shares them among the processes running the processor, with fencing).
   */
  readonly assignment?: 'static' | 'group'
  /**
   * Group assignment: the fence interval in ms (default 5000). A task taking a partition over waits this long after
   * its claim before restoring; a write must end within it after the check before it (task.ts). Longer is safer
   * against pauses and slow writes, and makes every takeover (start, rebalance, failover) that much slower.
   */
  readonly fenceMs?: number
  /**
   * Group assignment: the member's session timeout in ms (default 10 000): a process silent this long (killed,
   * frozen) loses its partitions to the others. Also how long a task that stopped fenced while this member still
   * holds its partition waits before claiming it again (the member may only not have noticed the move yet).
   */
  readonly sessionTimeoutMs?: number
  /** Where a task without checkpoint starts reading (default `earliest`: never skip data silently). */
  readonly resetTo?: 'earliest' | 'latest'
  /** Records per input per batch at most (default 5000). */
  readonly maxBatchRecords?: number
  readonly logger?: DebugLogger
}

export interface ProcessorHandle {
  readonly id: string
  readonly spec: ProcessorSpec
  /**
   * Resolves once every task restored its checkpoint the first time (rejects if the processor cannot start). With
   * group assignment: once the processor is checked and its checkpoint topic exists — the member joins its group
   * and starts the tasks it is given in the background (`partitions()` tells which).
   */
  readonly ready: Promise<void>
  /** The tasks of this process (group assignment: those assigned now, a fenced one included until it goes). */
  stats(): { readonly tasks: Readonly<Record<number, TaskStats>> }
  /** Partitions whose tasks run in this process now (group assignment: assigned, not fenced, not stopping). */
  partitions(): readonly number[]
  /** Stops every task after its current batch (what was read and not processed is read again next time). */
  stop(): Promise<void>
}

/** Checks the processor against the log, creates its checkpoint topic, starts its tasks. */
export function runProcessor(opts: RunProcessorOptions): ProcessorHandle {
  const { eventLog, spec } = opts
  checkAssignmentOptions(opts, `processor ${spec.id}`)
  const logger = opts.logger ?? silentLogger
  const abort = new AbortController()
  const tasks = new Map<number, ProcessorTask>()
  const loops: Promise<unknown>[] = []
  let group: GroupMember | undefined
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
    if (opts.assignment === 'group') {
      group = new GroupMember(opts, tasks, logger)
      loops.push(group.run(abort.signal))
      return
    }
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
    partitions: () =>
      group
        ? group.partitions()
        : [...tasks]
            .filter(([, t]) => !t.fenced)
            .map(([p]) => p)
            .sort((a, b) => a - b),
    async stop() {
      abort.abort()
      await ready.catch(() => {})
      await Promise.all(loops)
    },
  }
}

/** The options choosing how a process gets its partitions (`RunProcessorOptions`, `SqlEngineOptions`). */
export type AssignmentOptions = Pick<RunProcessorOptions, 'partitions' | 'assignment' | 'fenceMs' | 'sessionTimeoutMs'>

/** Checks the assignment options (programmer errors: OFA_CONFIG_INVALID naming every problem); `what` names the owner. */
export function checkAssignmentOptions(opts: AssignmentOptions, what: string): void {
  const problems: string[] = []
  const { assignment, fenceMs, sessionTimeoutMs } = opts
  if (assignment !== undefined && assignment !== 'static' && assignment !== 'group') {
    problems.push(`assignment must be 'static' or 'group', not ${JSON.stringify(assignment)}`)
  }
  if (assignment === 'group' && opts.partitions) problems.push('partitions is for static assignment only')
  if (fenceMs !== undefined && !(Number.isInteger(fenceMs) && fenceMs >= 1)) {
    problems.push(`fenceMs must be a positive integer, not ${fenceMs}`)
  }
  if (sessionTimeoutMs !== undefined && !(Number.isInteger(sessionTimeoutMs) && sessionTimeoutMs >= 1000)) {
    problems.push(`sessionTimeoutMs must be an integer of at least 1000, not ${sessionTimeoutMs}`)
  }
  if (problems.length > 0) {
    throw new OpenFactoryError('OFA_CONFIG_INVALID', `${what}: ${problems.join('; ')}`)
  }
}

/** A task run by a group member. */
interface GroupTask {
  readonly task: ProcessorTask
  /** Aborted when its partition is taken away (or the processor stops). */
  readonly stop: AbortController
  /** Set when its loop ended. */
  done: boolean
  /** When its loop ended by itself (fenced, or unable to start) while its partition was still assigned. */
  endedAt?: number
}

/**
 * Group assignment (see the module comment): a member of the processor's consumer group, and the tasks of the
 * partitions the group gives it. The assignment is looked at every `GROUP_POLL_MS`; the consumer is iterated all
 * along (a member that stops reading leaves its group), its records dropped.
 */
class GroupMember {
  readonly #opts: RunProcessorOptions
  readonly #logger: DebugLogger
  /** The handle's view: partition → task, for the tasks this member has now. */
  readonly #tasks: Map<number, ProcessorTask>
  readonly #running = new Map<number, GroupTask>()
  readonly #loops = new Set<Promise<unknown>>()
  readonly #group: string
  readonly #name = `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`
  readonly #fenceMs: number
  readonly #sessionTimeoutMs: number
  #started = 0

  constructor(opts: RunProcessorOptions, tasks: Map<number, ProcessorTask>, logger: DebugLogger) {
    this.#opts = opts
    this.#logger = logger
    this.#tasks = tasks
    this.#group = checkpointTopic(opts.spec.id)
    this.#fenceMs = opts.fenceMs ?? DEFAULT_FENCE_MS
    this.#sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_GROUP_SESSION_MS
  }

  partitions(): number[] {
    return [...this.#running]
      .filter(([, g]) => !g.done && !g.stop.signal.aborted && !g.task.fenced)
      .map(([p]) => p)
      .sort((a, b) => a - b)
  }

  /** Joins the group (again after losing it) until `signal` aborts; then stops every task. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 })
    let consumer: GroupConsumer | undefined
    const poll = setInterval(() => {
      if (!signal.aborted) this.#reconcile(assignedTo(consumer, this.#group))
    }, GROUP_POLL_MS)
    try {
      while (!signal.aborted) {
        try {
          consumer = this.#opts.eventLog.consumer({
            group: this.#group,
            topics: [this.#group],
            resetTo: 'latest',
            signal,
            sessionTimeoutMs: this.#sessionTimeoutMs,
          })
          for await (const _records of consumer) {
            // Only the membership matters (see the module comment).
            backoff.reset()
          }
          if (signal.aborted) break
          throw new Error('the group consumer ended')
        } catch (err) {
          if (signal.aborted || isOpenFactoryError(err, 'OFA_LOG_CLOSED')) break
          // Out of the group: its partitions go to others, so this member runs none until it is back.
          const waitMs = backoff.next()
          this.#logger.warn('processor group member lost its group; joining again', {
            processor: this.#opts.spec.id,
            group: this.#group,
            error: err instanceof Error ? err.message : String(err),
            retryInMs: waitMs,
          })
          const gone = consumer
          consumer = undefined
          this.#reconcile(new Set())
          await gone?.close().catch(() => {})
          await sleep(waitMs, signal)
        }
      }
    } finally {
      clearInterval(poll)
      // The consumer leaves the group on `signal`; the tasks finish their in-flight batch.
      for (const g of this.#running.values()) g.stop.abort()
      await Promise.all([consumer?.close(), ...this.#loops])
    }
  }

  /** Stops the tasks of partitions taken away, starts those of partitions given. */
  #reconcile(assigned: ReadonlySet<number>): void {
    const now = performance.now()
    for (const [p, g] of this.#running) {
      if (assigned.has(p)) continue
      if (g.done) this.#forget(p, g)
      else if (!g.stop.signal.aborted) {
        this.#logger.info('processor task: its partition was assigned to another member; stopping it', {
          task: g.task.id,
        })
        g.stop.abort()
      }
    }
    for (const p of assigned) {
      const g = this.#running.get(p)
      if (g) {
        // A task stopping finishes first; one that ended by itself while assigned is started again after a session
        // timeout (this member may not have seen yet that the group moved its partition; then it will have).
        if (!g.done || g.endedAt === undefined || now - g.endedAt < this.#sessionTimeoutMs) continue
        this.#forget(p, g)
      }
      this.#start(p)
    }
  }

  #start(p: number): void {
    const { eventLog, spec } = this.#opts
    const task = new ProcessorTask({
      eventLog,
      spec,
      partition: p,
      resetTo: this.#opts.resetTo ?? 'earliest',
      logger: this.#logger,
      fence: { owner: `${this.#name}#${++this.#started}`, intervalMs: this.#fenceMs },
    })
    const g: GroupTask = { task, stop: new AbortController(), done: false }
    this.#running.set(p, g)
    this.#tasks.set(p, task)
    const loop = runTask(task, this.#opts, g.stop.signal, this.#logger, (err) => {
      if (err) {
        this.#logger.error('processor task could not start', {
          task: task.id,
          error: err instanceof Error ? err.message : String(err),
        })
      }
    }).then((end) => {
      g.done = true
      if (g.stop.signal.aborted) this.#forget(p, g)
      else g.endedAt = performance.now()
      return end
    })
    this.#loops.add(loop)
    void loop.finally(() => this.#loops.delete(loop))
  }

  #forget(p: number, g: GroupTask): void {
    if (this.#running.get(p) !== g) return
    this.#running.delete(p)
    if (this.#tasks.get(p) === g.task) this.#tasks.delete(p)
  }
}

/** The partitions of `topic` a member owns now (none without a member). */
function assignedTo(consumer: GroupConsumer | undefined, topic: string): Set<number> {
  const out = new Set<number>()
  for (const a of consumer?.assignment() ?? []) if (a.topic === topic) out.add(a.partition)
  return out
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

/** How a task's loop ended: stopped by the runner, fenced by another owner, or unable to start. */
type TaskEnd = 'stopped' | 'fenced' | 'failed'

async function runTask(
  task: ProcessorTask,
  opts: RunProcessorOptions,
  signal: AbortSignal,
  logger: DebugLogger,
  restoredOnce: (err?: unknown) => void,
): Promise<TaskEnd> {
  const { eventLog, spec } = opts
  const maxBatch = opts.maxBatchRecords ?? 5000
  const backoff = new Backoff({ initialMs: 100, maxMs: 10_000 })
  let first = true
  while (!signal.aborted) {
    const attempt = new AbortController()
    const stopAttempt = () => attempt.abort()
    signal.addEventListener('abort', stopAttempt, { once: true })
    try {
      // A fenced task takes its partition over once (a restore after a failure keeps the claim).
      if (!task.claimed) await task.claim(signal)
      if (signal.aborted) break
      await task.restore()
      if (first) {
        first = false
        restoredOnce()
      }
      // Stopped while restoring (a rebalance, the processor stopping): no batch after the stop.
      if (signal.aborted) break
      const replay = task.pendingReplay
      if (replay) await task.runBatch(await task.readIntent(replay), true)
      if (signal.aborted) break
      // A batch done after a restore: the task works again, and its next failure waits the shortest time.
      await pumpAndProcess(task, eventLog, spec, maxBatch, attempt.signal, () => backoff.reset())
    } catch (err) {
      if (isOpenFactoryError(err, 'OFA_PROCESSOR_FENCED')) {
        // Not a failure: the partition has another owner. Said once, and the task stays stopped.
        logger.warn('processor task fenced: another owner took its partition; it stops without writing', {
          task: task.id,
          error: err.message,
        })
        if (first) restoredOnce()
        return 'fenced'
      }
      if (signal.aborted) break
      if (first && !(err instanceof OpenFactoryError && err.retryable)) {
        // A task that cannot even restore (a topic missing) is the processor's start failing.
        restoredOnce(err)
        return 'failed'
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
  return 'stopped'
}

/** Reads every input of the task from its positions and runs batches until the signal aborts or a read fails. */
async function pumpAndProcess(
  task: ProcessorTask,
  eventLog: EventLog,
  spec: ProcessorSpec,
  maxBatch: number,
  outer: AbortSignal,
  progressed: () => void,
): Promise<void> {
  // The pumps end with this attempt: when the batches fail too, not only when the runner stops. An attempt already
  // stopped ends the reading at once: an 'abort' listener added after the abort never runs, and the loop below
  // would then wait for records forever, never ending the task (nor the runner's stop(), which awaits it).
  const reading = new AbortController()
  const signal = reading.signal
  const stop = () => reading.abort()
  if (outer.aborted) reading.abort()
  else outer.addEventListener('abort', stop, { once: true })
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
      progressed()
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
