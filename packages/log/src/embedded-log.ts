/**
 * The embedded event log: the backbone in a data directory of the process that owns it.
 *
 *   <dir>/openfactory-log.json                  format marker and version
 *   <dir>/lock, owner.json                      the owner lock (see internal/dir-lock.ts)
 *   <dir>/topics/<topic>/topic.json             the topic's spec; written last, so it marks a complete topic
 *   <dir>/topics/<topic>/<partition>/<base>.log segment files (see internal/batch-format.ts)
 *   <dir>/groups/<group>.json                   committed offsets (see internal/offset-store.ts)
 *   <dir>/wal/<seq>.wal                         the write-ahead file, with `wal: true` (see internal/wal.ts)
 *
 * One process owns the directory and writes; any number of processes may open it read-only (`readOnly: true`),
 * which takes no lock, never changes a file and follows the writer by polling. Why segment files (and not
 * SQLite or LMDB) is written down, with the measurements, in docs/reference/embedded-log.md.
 *
 * `EmbeddedLog` is the checking core (log-core.ts) over the embedded driver (internal/embedded-driver.ts), plus
 * what only this backbone does: `compact` and `enforceRetention` on demand.
 */
import path from 'node:path'
import type { OpenFactoryError } from '@openfactory/model'
import { MAX_BATCH_BYTES } from './internal/batch-format.ts'
import {
  type CompactionResult,
  EmbeddedDriver,
  type EmbeddedDriverOptions,
  type RetentionResult,
} from './internal/embedded-driver.ts'
import { invalidArgument } from './internal/errors.ts'
import { MAX_PARTITIONS } from './internal/topic-config.ts'
import { DEFAULT_WAL_BYTES } from './internal/wal.ts'
import { LogCore } from './log-core.ts'

export type { CompactionResult, RetentionResult }

export interface EmbeddedLogOptions {
  /** The data directory; created (with its parents) when a writer opens it. */
  readonly dir: string
  /** Open for reading only: no lock, no change to any file; follows the writer by polling. Default false. */
  readonly readOnly?: boolean
  /**
   * Acknowledge an append only after fdatasync (default true). With false, an append is acknowledged once
   * written to the operating system: it survives a crash of the process, not of the machine.
   */
  readonly fsync?: boolean
  /**
   * Write every partition's records through one write-ahead file (docs/reference/embedded-log.md, "The write-ahead
   * file"): one write and one fdatasync per group commit for all partitions, the segments written behind it and
   * made durable at checkpoints. Default false: each partition writes and fdatasyncs its own segment. A directory
   * left with WAL files is replayed at open either way.
   */
  readonly wal?: boolean
  /** With `wal`: the WAL file is checkpointed (segments fdatasync'd, a new file started) past this size (default 64 MiB). */
  readonly walBytes?: number
  /** Wait this long for more appends before writing a batch (default 0: write as soon as the previous write is on disk). */
  readonly lingerMs?: number
  /** A batch (one write) grows to about this many bytes per partition (default 4 MiB). */
  readonly maxBatchBytes?: number
  /**
   * The largest record: its key, value, header names and values together, in bytes (UTF-8 for text); a larger
   * one fails its append with OFA_LOG_RECORD_TOO_LARGE before anything is written. Default 8 MiB.
   */
  readonly maxRecordBytes?: number
  /** Segment size for topics that set none (default 128 MiB). */
  readonly segmentBytes?: number
  /** How often compacted topics are compacted in the background (default 60 000 ms; 0: never). */
  readonly compactionIntervalMs?: number
  /** How often retention runs (default 300 000 ms; 0: never). */
  readonly retentionCheckIntervalMs?: number
  /** How long compaction keeps a tombstone, Kafka's delete.retention.ms (default 86 400 000 ms). */
  readonly tombstoneRetentionMs?: number
  /** Read-only mode: how often followers look for new records (default 100 ms). */
  readonly pollIntervalMs?: number
  /** Where failures of background compaction and retention go (default: a process warning). */
  readonly onBackgroundError?: (err: unknown) => void
  /**
   * Where the log reports what it found wrong and worked around without stopping (default: a process warning):
   * a damaged partition or topic left out of service, a marks file rebuilt, committed offsets reset to a
   * partition's end, a damaged partition skipped by a follower or consumer. Each is an `OpenFactoryError`
   * (`OFA_LOG_CORRUPT` or `OFA_LOG_IO`) whose `where` names the file.
   */
  readonly onWarning?: (warning: OpenFactoryError) => void
  /** The clock (epoch ms) for default timestamps, retention and tombstones; for tests. */
  readonly now?: () => number
}

function resolveOptions(o: EmbeddedLogOptions): EmbeddedDriverOptions {
  if (o === null || typeof o !== 'object') throw invalidArgument('openEmbeddedLog needs an options object')
  if (typeof o.dir !== 'string' || o.dir === '') throw invalidArgument('openEmbeddedLog needs a data directory (dir)')
  const int = (
    v: number | undefined,
    name: string,
    def: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number => {
    const x = v ?? def
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
      throw invalidArgument(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
    }
    return x
  }
  const maxBatchBytes = int(o.maxBatchBytes, 'maxBatchBytes', 4 << 20, 1024, MAX_BATCH_BYTES / 2)
  return {
    dir: path.resolve(o.dir),
    readOnly: o.readOnly ?? false,
    fsync: o.fsync ?? true,
    wal: o.wal ?? false,
    walBytes: int(o.walBytes, 'walBytes', DEFAULT_WAL_BYTES, 4096, 2 ** 31 - 1),
    lingerMs: int(o.lingerMs, 'lingerMs', 0, 0, 60_000),
    maxBatchBytes,
    maxRecordBytes: int(o.maxRecordBytes, 'maxRecordBytes', 8 << 20, 64, MAX_BATCH_BYTES / 2),
    segmentBytes: int(o.segmentBytes, 'segmentBytes', 128 << 20, 1024, 2 ** 31 - 1),
    compactionIntervalMs: int(o.compactionIntervalMs, 'compactionIntervalMs', 60_000, 0),
    retentionCheckIntervalMs: int(o.retentionCheckIntervalMs, 'retentionCheckIntervalMs', 300_000, 0),
    tombstoneRetentionMs: int(o.tombstoneRetentionMs, 'tombstoneRetentionMs', 86_400_000, 0),
    pollIntervalMs: int(o.pollIntervalMs, 'pollIntervalMs', 100, 1),
    onBackgroundError:
      o.onBackgroundError ??
      ((err) => process.emitWarning(`event log background task failed: ${(err as Error)?.message ?? String(err)}`)),
    onWarning: o.onWarning ?? ((w) => process.emitWarning(w.format(), { type: 'OpenFactoryWarning', code: w.code })),
    now: o.now ?? Date.now,
  }
}

/** Opens (creating it if needed) the embedded log in `opts.dir`. */
export function openEmbeddedLog(opts: EmbeddedLogOptions): Promise<EmbeddedLog> {
  return EmbeddedLog.open(opts)
}

export class EmbeddedLog extends LogCore {
  readonly dir: string
  readonly readOnly: boolean
  readonly #driver: EmbeddedDriver

  private constructor(driver: EmbeddedDriver) {
    super(driver, { maxPartitions: MAX_PARTITIONS })
    this.#driver = driver
    this.dir = driver.dir
    this.readOnly = driver.readOnly
  }

  /** See `openEmbeddedLog`. */
  static async open(opts: EmbeddedLogOptions): Promise<EmbeddedLog> {
    return new EmbeddedLog(await EmbeddedDriver.open(resolveOptions(opts)))
  }

  /**
   * Compacts a compacted topic now: in every partition, sealed segments keep only the latest record per key
   * (see internal/maintenance.ts). The active segment is never compacted. Runs by itself every
   * `compactionIntervalMs`.
   */
  async compact(topic: string): Promise<CompactionResult> {
    this.checkOpen()
    if (typeof topic !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof topic}`)
    return this.#driver.compact(topic)
  }

  /**
   * Deletes, in every topic with the delete policy, the oldest sealed segments whose records are all older
   * than `retentionMs`, and those beyond `retentionBytes`; the partition's start offset moves up. Runs by
   * itself every `retentionCheckIntervalMs`.
   */
  async enforceRetention(): Promise<RetentionResult> {
    this.checkOpen()
    return this.#driver.enforceRetention()
  }
}
