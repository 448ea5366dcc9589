/**
 * The checkpoint topic of a processor, `_ofa_proc_<id>`: compacted, one partition per task (the inputs' partition
 * count). Task `p` alone writes partition `p` (with group assignment, a new owner's claim aside: task.ts's fencing
 * stops the old owner before its next write), so what is written there is always a prefix of what the task meant
 * to write (the backbone's per-partition prefix rule). Four kinds of record, told apart by the key:
 *
 * | key                       | value (JSON)                                                         |
 * | ------------------------- | -------------------------------------------------------------------- |
 * | `s` NUL store NUL key     | the store entry's new value; null (a tombstone) when deleted           |
 * | `m`                       | the marker closing batch `seq`: `Marker`                               |
 * | `i`                       | the intent of batch `seq` (several inputs only): `Intent`              |
 * | `c`                       | a claim: an owner taking the task over (group mode): `Claim`           |
 *
 * Store entries of a batch come before its marker, in one append; entries after the last marker are a torn batch
 * and are not applied. Compaction keeps the last record of each key and never touches the active segment (on the
 * embedded log and on Kafka), so a torn tail never hides the entries it would replace.
 */
import type { ProducerRecord } from '@openfactory/log'

/** Output partitions' end offsets when a batch was closed: topic → partition → end offset. */
export type SinkEnds = Record<string, Record<number, number>>

export interface Marker {
  /** Batches closed so far (0: the task's first marker, written before any batch). */
  readonly seq: number
  /** Per input (the order of `ProcessorSpec.inputs`): the next offset to process. */
  readonly positions: readonly number[]
  /** Where the outputs ended after this batch's records: the scan of a restart starts there. */
  readonly sinkEnds: SinkEnds
  readonly streamTime: number
}

/** The records batch `seq` takes from each input: [from, to) offsets per input, written before the batch runs. */
export interface Intent {
  readonly seq: number
  readonly from: readonly number[]
  readonly to: readonly number[]
}

/**
 * An owner taking task `p` over (group assignment, task.ts's fencing): written before it restores; a task that finds
 * a record after its own last append stops writing. Restore skips claims.
 */
export interface Claim {
  /** Names the owner (host, process, a random part): one task run in one process. */
  readonly owner: string
  /** Epoch milliseconds when it was written (for people reading the topic). */
  readonly at: number
}

const MARKER_KEY = 'm'
const INTENT_KEY = 'i'
const CLAIM_KEY = 'c'
const STORE_PREFIX = 's\u0000'

export type CheckpointEntry =
  | { readonly kind: 'marker'; readonly marker: Marker }
  | { readonly kind: 'intent'; readonly intent: Intent }
  | { readonly kind: 'claim'; readonly claim: Claim }
  | { readonly kind: 'store'; readonly store: string; readonly key: string; readonly value: unknown }

export function markerRecord(partition: number, marker: Marker): ProducerRecord {
  return { key: MARKER_KEY, value: JSON.stringify(marker), partition }
}

export function intentRecord(partition: number, intent: Intent): ProducerRecord {
  return { key: INTENT_KEY, value: JSON.stringify(intent), partition }
}

export function claimRecord(partition: number, claim: Claim): ProducerRecord {
  return { key: CLAIM_KEY, value: JSON.stringify(claim), partition }
}

/** A store change: its value as JSON, or a tombstone for a deletion (`undefined`). */
export function storeRecord(partition: number, store: string, key: string, value: unknown): ProducerRecord {
  return {
    key: `${STORE_PREFIX}${store}\u0000${key}`,
    value: value === undefined ? null : JSON.stringify(value),
    partition,
  }
}

/** Reads one record of the checkpoint topic; undefined for a key of no known kind (left by a newer version). */
export function readCheckpointEntry(key: Buffer | null, value: Buffer | null): CheckpointEntry | undefined {
  if (!key) return undefined
  const k = key.toString('utf8')
  if (k === MARKER_KEY && value) return { kind: 'marker', marker: JSON.parse(value.toString('utf8')) as Marker }
  if (k === INTENT_KEY && value) return { kind: 'intent', intent: JSON.parse(value.toString('utf8')) as Intent }
  if (k === CLAIM_KEY && value) return { kind: 'claim', claim: JSON.parse(value.toString('utf8')) as Claim }
  if (!k.startsWith(STORE_PREFIX)) return undefined
  const sep = k.indexOf('\u0000', STORE_PREFIX.length)
  if (sep < 0) return undefined
  return {
    kind: 'store',
    store: k.slice(STORE_PREFIX.length, sep),
    key: k.slice(sep + 1),
    value: value === null ? undefined : (JSON.parse(value.toString('utf8')) as unknown),
  }
}

/** The checkpoint topic of processor `id`: `_ofa_proc_` and the id with characters a topic name refuses as `_`. */
export function checkpointTopic(id: string): string {
  return `_ofa_proc_${id.replace(/[^A-Za-z0-9._-]/g, '_')}`
}
