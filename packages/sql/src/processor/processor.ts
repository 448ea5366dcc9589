/**
 * The processor API: code that consumes topics, keeps state in stores and produces records, run with the same
 * exactly-once guarantee as a SQL query (a persistent SQL query is compiled to one of these).
 *
 * A processor is split into tasks, one per partition of its inputs (inputs are co-partitioned: same partition
 * count, records of one key on the same partition number). A task sees, in a deterministic order, the records of
 * partition `p` of every input, and owns its stores. `process` must be deterministic — the same records in the
 * same order, from the same state, give the same outputs in the same order — and do no I/O, read no clock and draw
 * no random numbers: after a crash a task replays from its last checkpoint, and determinism is what makes the
 * replay produce exactly what the crash interrupted (see run-processor.ts for the protocol).
 */
import type { LogRecord, ProducerRecord } from '@openfactory/log'

/** A record read from an input: a log record plus which input it came from. */
export interface InputRecord extends LogRecord {
  /** Index of its topic in `ProcessorSpec.inputs`. */
  readonly input: number
}

/**
 * A key-value store of one task. Values must be JSON-serialisable plain data (they are written to the task's
 * changelog as JSON); a value read back is the value put (not a copy): do not mutate it in place — put a new one.
 */
export interface KeyValueStore<V = unknown> {
  get(key: string): V | undefined
  has(key: string): boolean
  put(key: string, value: V): void
  delete(key: string): void
  readonly size: number
  /** Entries in key order (UTF-16 code unit order), optionally from `from` (inclusive) to `to` (exclusive). */
  range(from?: string, to?: string): IterableIterator<[string, V]>
  /** Every entry, in insertion order (cheaper than `range`). */
  entries(): IterableIterator<[string, V]>
}

/** What `process` may do. Valid only during the call. */
export interface ProcessorContext {
  /** The task's partition number. */
  readonly partition: number
  /** The largest record timestamp this task has seen (its stream time), -1 before the first record. */
  readonly streamTime: number
  /** A store declared in `ProcessorSpec.stores`. */
  store<V = unknown>(name: string): KeyValueStore<V>
  /** Produces a record to one of `ProcessorSpec.outputs` (written after the batch, in emit order). */
  emit(topic: string, record: ProducerRecord): void
}

export interface ProcessorSpec {
  /** Unique among processors: names the task checkpoint topic (`_ofa_proc_<id>`) and the log lines. */
  readonly id: string
  /** Topics read, co-partitioned (the same partition count). At least one. */
  readonly inputs: readonly string[]
  /** Topics written; they must exist when the processor starts. */
  readonly outputs: readonly string[]
  /** Store names (no NUL character). */
  readonly stores?: readonly string[]
  /** One record, in the task's order. Throwing an `OFA_SQL_VALUE` OpenFactoryError skips the record (counted and logged); anything else fails the task. */
  process(record: InputRecord, ctx: ProcessorContext): void
  /** Called after a record moved the task's stream time forward (windows close on stream time). */
  onStreamTime?(streamTime: number, ctx: ProcessorContext): void
}
