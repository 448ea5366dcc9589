/**
 * One task of a processor: partition `p` of its inputs, its stores, partition `p` of its checkpoint topic. The
 * exactly-once protocol (no transactions needed, so it holds on the embedded log and on Kafka alike):
 *
 * 1. **Batch.** Take records from the inputs. With several inputs, first append an *intent* naming the offset
 *    range taken from each, so that a replay takes the same records; they are processed merged by (timestamp,
 *    input, offset). With one input the order is the offset order and no intent is needed.
 * 2. **Outputs.** Append what `process` emitted, each record with headers `ofa.task` (`<id>/<p>`) and `ofa.src`
 *    (`<input>:<offset>:<n>`, the n-th record emitted for that input record).
 * 3. **Checkpoint.** Append the batch's store changes and a *marker* (`seq`, the next input positions, the outputs'
 *    end offsets, the stream time) to checkpoint partition `p`, in one append.
 *
 * **Restore** (at start, and after any failure): read checkpoint partition `p`; apply the store entries up to the
 * last marker and drop those after it (a batch torn by the crash); then scan each output partition from the
 * marker's end offset for records whose `ofa.task` is this task: their `ofa.src` are outputs already written.
 * Resume at the marker's positions — replaying the intent's exact ranges if an intent follows the marker — and
 * drop every output whose `ofa.src` was found. Because `process` is deterministic, the replay emits the same
 * records with the same `ofa.src` as the interrupted run: what was written is not written again, what was not is.
 * The price: an output record carries two small headers; a batch costs one more append (the checkpoint), two with
 * several inputs.
 *
 * **Fencing** (group assignment, run-processor.ts: a task whose partition a consumer group moves between processes,
 * where two owners of one task may overlap — a member that has not noticed yet that it lost the partition, a process
 * paused and resumed). Without it, two owners could both write outputs of one input record, neither seeing the
 * other's in its restore scan: a duplicate. With it:
 *
 * - A task taking a partition first appends a *claim* (its owner name) to checkpoint partition `p` and remembers
 *   the offset after it; it then waits the *fence interval* F, and only then restores (restore skips claims; a
 *   claim of another owner after its own stops it).
 * - Every append of the task (intent, outputs, checkpoint, a first marker) is preceded by a *check*: checkpoint
 *   partition `p` must still end right after the task's own last append there. A record past it (another owner's
 *   claim) means the task lost its partition: it stops without writing (`OFA_PROCESSOR_FENCED`, not a failure —
 *   the runner does not restore it).
 * - The gap between a check and the append after it is closed by time: a check taking more than F/2 abandons the
 *   batch before it writes (restore, as after any failure), and an append ending more than F after its check is
 *   logged as a possible breach. An append that ends within F of a check that did not see the new owner's claim
 *   ends before the new owner's restore starts (that claim became durable after the check was sent, and the new
 *   owner waited F after it), so the restore reads it: its outputs are found by the scan, its checkpoint is used.
 *
 * What is guaranteed, with fencing: no lost and no duplicated outputs, whatever the members do, as long as every
 * append ends within F of the check before it and the processes' monotonic clocks run at the same rate (the
 * intervals are measured on two machines' clocks, never compared as instants). What is not: a process paused (a
 * stop signal, a VM freeze, a long GC) or a write delayed in the network for longer than F *between* a check and
 * the end of the append after it — then a stale owner's outputs may land after the new owner's restore scan and be
 * written twice (the log warns: "append ended ... after its fence check"); a produce request that is retried by the
 * client long after it was sent is such a write. Nothing is lost even then: records are never skipped, only
 * possibly repeated. Without group assignment (the default: every partition in one process, or the partitions
 * the runner is given) there are no claims and no checks: run each partition in one process (the embedded log
 * has a single owner by its lock file).
 */
import type { EventLog, LogRecord, ProducerRecord } from '@openfactory/log'
import { type DebugLogger, isOpenFactoryError, OpenFactoryError, sleep } from '@openfactory/model'
import {
  type CheckpointEntry,
  checkpointTopic,
  claimRecord,
  type Intent,
  intentRecord,
  type Marker,
  markerRecord,
  readCheckpointEntry,
  type SinkEnds,
  storeRecord,
} from './checkpoint.ts'
import type { InputRecord, KeyValueStore, ProcessorContext, ProcessorSpec } from './processor.ts'
import { MemoryStore } from './store.ts'

export const TASK_HEADER = 'ofa.task'
export const SOURCE_HEADER = 'ofa.src'

/** Records read per call while restoring or scanning. */
const READ_CHUNK = 10_000

export interface TaskStats {
  readonly processed: number
  readonly emitted: number
  /** Outputs not written again after a restore (already in their topic). */
  readonly deduplicated: number
  /** Records `process` refused with OFA_SQL_VALUE. */
  readonly skipped: number
  readonly batches: number
  readonly restores: number
  /** The next offset to process, per input. */
  readonly positions: readonly number[]
  /** Another owner claimed the task's partition: the task stopped writing (group assignment). */
  readonly fenced: boolean
}

/** Fencing of a task whose partition may move between processes (group assignment; see the module comment). */
export interface TaskFence {
  /** Names this owner in its claim; unique to one run of the task in one process. */
  readonly owner: string
  /** The fence interval F in milliseconds: the wait after the claim, the bound between a check and its append. */
  readonly intervalMs: number
}

export interface TaskOptions {
  readonly eventLog: EventLog
  readonly spec: ProcessorSpec
  readonly partition: number
  /** Where the inputs start when the task has no checkpoint yet. */
  readonly resetTo: 'earliest' | 'latest'
  readonly logger: DebugLogger
  /** Claims and checks (group assignment); absent: the task trusts that it is the only owner of its partition. */
  readonly fence?: TaskFence
}

export class ProcessorTask {
  readonly id: string
  readonly partition: number
  readonly #log: EventLog
  readonly #spec: ProcessorSpec
  readonly #opts: TaskOptions
  readonly #checkpoint: string
  readonly #stores = new Map<string, MemoryStore>()
  #positions: number[] = []
  #sinkEnds: SinkEnds = {}
  #streamTime = -1
  #seq = 0
  /** Intent of the batch to replay first (a restore found one after the last marker). */
  #replay: Intent | undefined
  /** `ofa.src` of outputs found already written by the restore scan. */
  #written = new Set<string>()
  /** Per input: past this offset no found output remains to be met (the set is dropped once all are passed). */
  #writtenUntil: number[] = []
  #stats = { processed: 0, emitted: 0, deduplicated: 0, skipped: 0, batches: 0, restores: 0 }
  readonly #fence: TaskFence | undefined
  /** Offset after this task's claim; -1 before `claim`. A claim of another owner from there on fences the task. */
  #claimEnd = -1
  /** Offset after this task's last append to its checkpoint partition: where the fence check expects its end. */
  #expectedEnd = -1
  #fenced = false

  constructor(opts: TaskOptions) {
    this.#opts = opts
    this.#log = opts.eventLog
    this.#spec = opts.spec
    this.partition = opts.partition
    this.id = `${opts.spec.id}/${opts.partition}`
    this.#checkpoint = checkpointTopic(opts.spec.id)
    this.#fence = opts.fence
    for (const name of opts.spec.stores ?? []) this.#stores.set(name, new MemoryStore(name))
  }

  /** Whether `claim` is done (always true for a task without fence). */
  get claimed(): boolean {
    return !this.#fence || this.#claimEnd >= 0
  }

  /** Whether another owner took the partition over (the task refuses to write from then on). */
  get fenced(): boolean {
    return this.#fenced
  }

  /** Next offset to process, per input. */
  get positions(): readonly number[] {
    return this.#positions
  }

  /** The intent a restore found unfinished: run it (`runReplay`) before taking new records. */
  get pendingReplay(): Intent | undefined {
    return this.#replay
  }

  get streamTime(): number {
    return this.#streamTime
  }

  stats(): TaskStats {
    return { ...this.#stats, positions: [...this.#positions], fenced: this.#fenced }
  }

  /**
   * Takes the partition over (fenced tasks only, before the first `restore`): appends a claim to checkpoint partition
   * `p`, then waits the fence interval, so that a write of the previous owner that passed its check has landed
   * before `restore` reads. Resolves early when `signal` aborts (the caller then does not restore).
   */
  async claim(signal?: AbortSignal): Promise<void> {
    const fence = this.#fence
    if (!fence) throw new Error(`processor task ${this.id}: claim without fence options`)
    const [meta] = await this.#log.append(this.#checkpoint, [
      claimRecord(this.partition, { owner: fence.owner, at: Date.now() }),
    ])
    this.#claimEnd = (meta as { offset: number }).offset + 1
    this.#expectedEnd = this.#claimEnd
    this.#opts.logger.info('processor task claimed its partition; waiting the fence interval', {
      task: this.id,
      owner: fence.owner,
      fenceMs: fence.intervalMs,
    })
    await sleep(fence.intervalMs, signal)
  }

  store<V>(name: string): KeyValueStore<V> {
    const s = this.#stores.get(name)
    if (!s) throw new Error(`processor ${this.#spec.id}: no store named ${name}`)
    return s as MemoryStore<V>
  }

  /** Rebuilds the task from its checkpoint partition (see the module comment). */
  async restore(): Promise<void> {
    this.#stats.restores++
    for (const s of this.#stores.values()) s.clear()
    let marker: Marker | undefined
    let intent: Intent | undefined
    let pending: Extract<CheckpointEntry, { kind: 'store' }>[] = []
    const desc = await this.#log.describeTopic(this.#checkpoint)
    const state = desc.partitionStates[this.partition]
    if (!state) throw new Error(`${this.#checkpoint} has no partition ${this.partition}`)
    if (this.#fenced) throw this.#fencedError(undefined)
    if (this.#fence && this.#claimEnd < 0) throw new Error(`processor task ${this.id}: restore before claim`)
    for await (const batch of this.#readRange(this.#checkpoint, this.partition, state.startOffset, state.endOffset)) {
      for (const r of batch) {
        const e = readCheckpointEntry(r.key, r.value)
        if (!e) continue
        if (e.kind === 'claim') {
          // Claims are not state; one of another owner after this task's own means the partition moved on.
          if (this.#fence && r.offset >= this.#claimEnd && e.claim.owner !== this.#fence.owner) {
            this.#fenced = true
            throw this.#fencedError(e.claim.owner)
          }
          continue
        }
        if (e.kind === 'store') pending.push(e)
        else if (e.kind === 'intent') intent = e.intent
        else {
          for (const s of pending) this.#stores.get(s.store)?.restore(s.key, s.value)
          pending = []
          marker = e.marker
        }
      }
    }
    for (const s of this.#stores.values()) s.takeChanges()
    // What the restore read (a previous owner's last writes included) is this task's base from now on.
    if (this.#fence) this.#expectedEnd = state.endOffset
    if (!marker) {
      const first = await this.#firstMarker()
      await this.#appendCheckpoint([markerRecord(this.partition, first)])
      marker = first
    }
    this.#positions = [...marker.positions]
    this.#sinkEnds = structuredClone(marker.sinkEnds)
    this.#streamTime = marker.streamTime
    this.#seq = marker.seq
    this.#replay = intent && intent.seq === marker.seq + 1 ? intent : undefined
    this.#written = await this.#scanOutputs()
    this.#writtenUntil = this.#spec.inputs.map(() => 0)
    for (const src of this.#written) {
      const [input, offset] = src.split(':').map(Number) as [number, number]
      if ((this.#writtenUntil[input] ?? 0) < offset + 1) this.#writtenUntil[input] = offset + 1
    }
    if (this.#written.size > 0 || this.#replay) {
      this.#opts.logger.info('processor task restored after an interrupted batch', {
        task: this.id,
        alreadyWritten: this.#written.size,
        replay: this.#replay !== undefined,
      })
    }
  }

  /** Where a task without checkpoint starts: the inputs' start or end, the outputs' current ends. */
  async #firstMarker(): Promise<Marker> {
    const positions: number[] = []
    for (const topic of this.#spec.inputs) {
      const d = await this.#log.describeTopic(topic)
      const s = d.partitionStates[this.partition]
      if (!s) throw new Error(`input ${topic} has no partition ${this.partition}`)
      positions.push(this.#opts.resetTo === 'latest' ? s.endOffset : s.startOffset)
    }
    const sinkEnds: SinkEnds = {}
    for (const topic of this.#spec.outputs) {
      const d = await this.#log.describeTopic(topic)
      sinkEnds[topic] = Object.fromEntries(d.partitionStates.map((s) => [s.partition, s.endOffset]))
    }
    return { seq: 0, positions, sinkEnds, streamTime: -1 }
  }

  /** Outputs this task wrote after its last marker: their `ofa.src`. */
  async #scanOutputs(): Promise<Set<string>> {
    const found = new Set<string>()
    for (const topic of this.#spec.outputs) {
      const d = await this.#log.describeTopic(topic)
      const from = this.#sinkEnds[topic] ?? {}
      for (const s of d.partitionStates) {
        const start = Math.max(from[s.partition] ?? s.startOffset, s.startOffset)
        for await (const batch of this.#readRange(topic, s.partition, start, s.endOffset)) {
          for (const r of batch) {
            if (r.headers[TASK_HEADER]?.toString('utf8') !== this.id) continue
            const src = r.headers[SOURCE_HEADER]
            if (src) found.add(src.toString('utf8'))
          }
        }
      }
    }
    return found
  }

  async *#readRange(topic: string, partition: number, from: number, to: number): AsyncGenerator<LogRecord[]> {
    let offset = from
    while (offset < to) {
      const batch = await this.#log.read(topic, partition, offset, { maxRecords: Math.min(READ_CHUNK, to - offset) })
      if (batch.length === 0) return
      const inRange = batch.filter((r) => r.offset < to)
      yield inRange
      offset = (batch.at(-1) as LogRecord).offset + 1
    }
  }

  /** Reads the records of the intent being replayed, per input. */
  async readIntent(intent: Intent): Promise<LogRecord[][]> {
    const out: LogRecord[][] = []
    for (let i = 0; i < this.#spec.inputs.length; i++) {
      const records: LogRecord[] = []
      const from = intent.from[i] ?? 0
      const to = intent.to[i] ?? from
      for await (const b of this.#readRange(this.#spec.inputs[i] as string, this.partition, from, to))
        records.push(...b)
      out.push(records)
    }
    return out
  }

  /**
   * Runs one batch: `records[i]` are the next records of input `i`, in offset order, starting at its position.
   * Writes the intent (several inputs), the outputs and the checkpoint; any failure leaves the task to restore.
   */
  async runBatch(records: readonly (readonly LogRecord[])[], replaying = false): Promise<void> {
    const spec = this.#spec
    const multi = spec.inputs.length > 1
    const to = this.#positions.map((p, i) => {
      const last = records[i]?.at(-1)
      return last ? last.offset + 1 : p
    })
    if (multi && !replaying) {
      const intent: Intent = { seq: this.#seq + 1, from: this.#positions, to }
      await this.#appendCheckpoint([intentRecord(this.partition, intent)])
    }
    const ordered = multi ? mergeInputs(records) : (records[0] ?? []).map((r) => asInput(r, 0))
    const outputs = new Map<string, ProducerRecord[]>()
    let current: InputRecord | undefined
    let n = 0
    let dropped = 0
    const task = this
    const ctx: ProcessorContext = {
      partition: this.partition,
      get streamTime() {
        return task.#streamTime
      },
      store: <V>(name: string) => this.store<V>(name),
      emit: (topic: string, record: ProducerRecord) => {
        if (!current) throw new Error('emit outside process')
        const list = outputs.get(topic)
        if (!list) throw new Error(`processor ${spec.id}: ${topic} is not one of its outputs`)
        const src = `${current.input}:${current.offset}:${n++}`
        if (this.#written.has(src)) {
          dropped++
          return
        }
        list.push({ ...record, headers: { ...record.headers, [TASK_HEADER]: this.id, [SOURCE_HEADER]: src } })
      },
    }
    for (const topic of spec.outputs) outputs.set(topic, [])
    let skipped = 0
    for (const r of ordered) {
      current = r
      n = 0
      const before = new Map([...outputs].map(([t, l]) => [t, l.length]))
      try {
        spec.process(r, ctx)
      } catch (err) {
        if (!isOpenFactoryError(err, 'OFA_SQL_VALUE')) throw err
        // The record yields nothing: what it emitted before failing is taken back.
        for (const [t, l] of outputs) l.length = before.get(t) ?? 0
        skipped++
        if (this.#stats.skipped + skipped <= 100) {
          this.#opts.logger.warn('processor: a record could not be processed; skipped', {
            task: this.id,
            topic: spec.inputs[r.input],
            partition: r.partition,
            offset: r.offset,
            error: err.message,
          })
        }
      }
      if (r.timestamp > this.#streamTime) {
        this.#streamTime = r.timestamp
        spec.onStreamTime?.(r.timestamp, ctx)
      }
    }
    current = undefined
    let emitted = 0
    const written = [...outputs].filter(([, list]) => list.length > 0)
    if (written.length > 0) {
      await this.#afterCheck(() =>
        Promise.all(
          written.map(async ([topic, list]) => {
            emitted += list.length
            const meta = await this.#log.append(topic, list)
            const ends = this.#sinkEnds[topic] ?? {}
            this.#sinkEnds[topic] = ends
            for (const m of meta) if ((ends[m.partition] ?? 0) < m.offset + 1) ends[m.partition] = m.offset + 1
          }),
        ),
      )
    }
    const checkpoint: ProducerRecord[] = []
    for (const s of this.#stores.values()) {
      for (const [key, value] of s.takeChanges()) checkpoint.push(storeRecord(this.partition, s.name, key, value))
    }
    const marker: Marker = {
      seq: this.#seq + 1,
      positions: to,
      sinkEnds: this.#sinkEnds,
      streamTime: this.#streamTime,
    }
    checkpoint.push(markerRecord(this.partition, marker))
    await this.#appendCheckpoint(checkpoint)
    this.#seq = marker.seq
    this.#positions = to
    if (replaying) this.#replay = undefined
    // What the restore scan found is behind us once the positions passed every record it came from.
    if (this.#written.size > 0 && to.every((p, i) => p >= (this.#writtenUntil[i] ?? 0))) this.#written = new Set()
    this.#stats.processed += ordered.length
    this.#stats.emitted += emitted
    this.#stats.deduplicated += dropped
    this.#stats.skipped += skipped
    this.#stats.batches++
  }

  /** Appends to checkpoint partition `p` (fenced: after a check), and moves the end the next check expects. */
  async #appendCheckpoint(records: readonly ProducerRecord[]): Promise<void> {
    const meta = await this.#afterCheck(() => this.#log.append(this.#checkpoint, records))
    const last = meta.at(-1)
    if (!this.#fence || !last) return
    const expected = this.#expectedEnd
    this.#expectedEnd = last.offset + 1
    if (meta[0]?.offset !== expected) {
      // Another record came between the check and this append: written, but the partition has moved on.
      this.#fenced = true
      throw this.#fencedError(undefined, 'its last checkpoint append landed after it')
    }
  }

  /**
   * Runs `append` after the fence check (see the module comment); without fence, just runs it. Throws
   * OFA_PROCESSOR_FENCED, writing nothing, when the checkpoint partition holds a record past this task's last
   * append; abandons the batch (a retryable error: the task restores) when the check itself took over F/2.
   */
  async #afterCheck<T>(append: () => Promise<T>): Promise<T> {
    const fence = this.#fence
    if (!fence) return append()
    if (this.#fenced) throw this.#fencedError(undefined)
    const checkedAt = performance.now()
    const [next] = await this.#log.read(this.#checkpoint, this.partition, this.#expectedEnd, { maxRecords: 1 })
    if (next) {
      this.#fenced = true
      const e = readCheckpointEntry(next.key, next.value)
      throw this.#fencedError(e?.kind === 'claim' ? e.claim.owner : undefined)
    }
    const checkMs = performance.now() - checkedAt
    if (checkMs > fence.intervalMs / 2) {
      throw new OpenFactoryError(
        'OFA_LOG_IO',
        `processor task ${this.id}: the fence check took ${Math.round(checkMs)} ms, over half the fence interval (${fence.intervalMs} ms); batch abandoned before writing`,
        { retryable: true },
      )
    }
    const out = await append()
    const tookMs = performance.now() - checkedAt
    if (tookMs > fence.intervalMs) {
      this.#opts.logger.warn(
        'processor task: an append ended after its fence check by more than the fence interval; if another owner took the partition meanwhile, outputs may be duplicated',
        { task: this.id, tookMs: Math.round(tookMs), fenceMs: fence.intervalMs },
      )
    }
    return out
  }

  #fencedError(owner: string | undefined, what = 'this owner stops without writing'): OpenFactoryError {
    return new OpenFactoryError(
      'OFA_PROCESSOR_FENCED',
      `processor task ${this.id}: ${owner ? `owner ${owner}` : 'another owner'} took partition ${this.partition} of ${this.#checkpoint} over; ${what}`,
    )
  }
}

function asInput(r: LogRecord, input: number): InputRecord {
  const { topic, partition, offset, timestamp, key, value, headers } = r
  return { topic, partition, offset, timestamp, key, value, headers, input }
}

/** Several inputs' records in one deterministic order: by timestamp, then input index, then offset. */
function mergeInputs(records: readonly (readonly LogRecord[])[]): InputRecord[] {
  const all: InputRecord[] = []
  records.forEach((list, i) => {
    for (const r of list) all.push(asInput(r, i))
  })
  return all.sort((a, b) => a.timestamp - b.timestamp || a.input - b.input || a.offset - b.offset)
}
