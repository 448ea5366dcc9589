/**
 * The embedded event log: the backbone in a data directory of the process that owns it.
 *
 *   <dir>/openfactory-log.json                  format marker and version
 *   <dir>/lock, owner.json                      the owner lock (see internal/dir-lock.ts)
 *   <dir>/topics/<topic>/topic.json             the topic's spec; written last, so it marks a complete topic
 *   <dir>/topics/<topic>/<partition>/<base>.log segment files (see internal/batch-format.ts)
 *   <dir>/groups/<group>.json                   committed offsets (see internal/offset-store.ts)
 *
 * One process owns the directory and writes; any number of processes may open it read-only (`readOnly: true`),
 * which takes no lock, never changes a file and follows the writer by polling. Why segment files (and not
 * SQLite or LMDB) is written down, with the measurements, in docs/reference/embedded-log.md.
 */
import fs from 'node:fs'
import path from 'node:path'
import { OpenFactoryError } from '@openfactory/model'
import type {
  ConsumerOptions,
  EventLog,
  FollowOptions,
  GroupConsumer,
  LogRecord,
  ProducerRecord,
  ReadOptions,
  RecordMetadata,
  TopicDescription,
  TopicSpec,
} from './backbone.ts'
import { type BatchBuilder, MAX_BATCH_BYTES, recordSizeBound, recordSizeExact } from './internal/batch-format.ts'
import { DirLock } from './internal/dir-lock.ts'
import { closedError, invalidArgument, ioError, readOnlyError, unknownTopic } from './internal/errors.ts'
import { closeFile, fsyncDir, openFile, writeFileAtomic } from './internal/fs-util.ts'
import { EmbeddedConsumer, GroupCoordinator, type GroupHost } from './internal/group-coordinator.ts'
import { applyRetention, compactPartition, type PartitionCompaction } from './internal/maintenance.ts'
import { OffsetStore } from './internal/offset-store.ts'
import { Partition } from './internal/partition.ts'
import { segmentFileName } from './internal/segment.ts'
import {
  type FullTopicSpec,
  hasDeletePolicy,
  isCompacted,
  normalizeSpec,
  readTopicFile,
  topicFileText,
} from './internal/topic-config.ts'
import { placeRecord } from './record-placement.ts'
import { checkTopicName } from './topic-spec.ts'

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
  /** Wait this long for more appends before writing a batch (default 0: write as soon as the previous write is on disk). */
  readonly lingerMs?: number
  /** A batch (one write) grows to about this many bytes per partition (default 4 MiB). */
  readonly maxBatchBytes?: number
  /** The largest record, key, value and headers together (default 8 MiB). */
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
  /** The clock (epoch ms) for default timestamps, retention and tombstones; for tests. */
  readonly now?: () => number
}

/** What `compact` did to one topic. */
export interface CompactionResult {
  readonly topic: string
  readonly partitions: readonly PartitionCompaction[]
}

/** What `enforceRetention` deleted. */
export interface RetentionResult {
  readonly deletedSegments: number
  readonly topics: Readonly<Record<string, number>>
}

interface TopicState {
  readonly spec: FullTopicSpec
  readonly partitions: Partition[]
  sticky: number
}

const META_FILE = 'openfactory-log.json'
const FORMAT = 'openfactory-embedded-log'
const FORMAT_VERSION = 1
const DEFAULT_MAX_RECORDS = 10_000
const DEFAULT_MAX_BYTES = 8 << 20
/** Files a directory may hold before it becomes a log (left by a first open that stopped early). */
const PRE_INIT_FILES = new Set(['lock', 'lock-journal', 'owner.json', `${META_FILE}.tmp`])

type ResolvedOptions = Required<Omit<EmbeddedLogOptions, 'onBackgroundError' | 'now'>> & {
  onBackgroundError: (err: unknown) => void
  now: () => number
}

function resolveOptions(o: EmbeddedLogOptions): ResolvedOptions {
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
    now: o.now ?? Date.now,
  }
}

/** Opens (creating it if needed) the embedded log in `opts.dir`. */
export function openEmbeddedLog(opts: EmbeddedLogOptions): Promise<EmbeddedLog> {
  return EmbeddedLog.open(opts)
}

export class EmbeddedLog implements EventLog {
  readonly kind = 'embedded' as const
  readonly dir: string
  readonly readOnly: boolean
  readonly #o: ResolvedOptions
  readonly #topics = new Map<string, TopicState>()
  readonly #broken = new Map<string, OpenFactoryError>()
  readonly #creating = new Map<string, Promise<void>>()
  readonly #lock: DirLock | null
  readonly #offsets: OffsetStore
  readonly #coordinator: GroupCoordinator
  readonly #closer = new AbortController()
  readonly #timers: NodeJS.Timeout[] = []
  readonly #host: GroupHost
  #closed = false
  #discovering: Promise<void> | null = null

  private constructor(o: ResolvedOptions, lock: DirLock | null, offsets: OffsetStore) {
    this.#o = o
    this.dir = o.dir
    this.readOnly = o.readOnly
    this.#lock = lock
    this.#offsets = offsets
    this.#coordinator = new GroupCoordinator(o.now)
    this.#host = {
      readOnly: o.readOnly,
      pollIntervalMs: o.pollIntervalMs,
      closeSignal: this.#closer.signal,
      partitions: async (topic) => (await this.#topic(topic)).partitions,
      read: (p, offset, maxRecords) => p.read(offset, maxRecords, DEFAULT_MAX_BYTES),
      committed: (group, topic) => this.#offsets.get(group, topic),
      commit: (group, offsets) => this.#commit(group, offsets),
      now: o.now,
    }
  }

  /** See `openEmbeddedLog`. */
  static async open(opts: EmbeddedLogOptions): Promise<EmbeddedLog> {
    const o = resolveOptions(opts)
    if (o.readOnly) {
      await checkMeta(o.dir, true)
      const log = new EmbeddedLog(o, null, await OffsetStore.open(o.dir, true))
      await log.#discover()
      return log
    }
    try {
      await fs.promises.mkdir(o.dir, { recursive: true })
    } catch (err) {
      throw ioError(`cannot create ${o.dir}`, err)
    }
    const lock = DirLock.acquire(o.dir)
    try {
      await checkMeta(o.dir, false)
      const made = await fs.promises.mkdir(path.join(o.dir, 'topics'), { recursive: true })
      const offsets = await OffsetStore.open(o.dir, false)
      if (made !== undefined && o.fsync) await fsyncDir(o.dir)
      const log = new EmbeddedLog(o, lock, offsets)
      await log.#discover()
      log.#startTimers()
      return log
    } catch (err) {
      lock.release()
      throw err instanceof OpenFactoryError ? err : ioError(`cannot open the event log in ${o.dir}`, err)
    }
  }

  // ---- topics ------------------------------------------------------------------------------------------------

  async createTopic(spec: TopicSpec): Promise<void> {
    this.#check()
    if (this.readOnly) throw readOnlyError('createTopic')
    const full = normalizeSpec(spec, this.#o.segmentBytes)
    for (;;) {
      const pending = this.#creating.get(full.name)
      if (!pending) break
      await pending.catch(() => {})
    }
    this.#check()
    const existing = this.#topics.get(full.name)
    if (existing) {
      if (existing.spec.partitions !== full.partitions || existing.spec.cleanupPolicy !== full.cleanupPolicy) {
        throw new OpenFactoryError(
          'OFA_LOG_TOPIC_CONFLICT',
          `topic ${full.name} exists with ${existing.spec.partitions} partitions and cleanup policy ${existing.spec.cleanupPolicy}; asked for ${full.partitions} and ${full.cleanupPolicy}`,
        )
      }
      return
    }
    const broken = this.#broken.get(full.name)
    if (broken) throw broken
    const creation = this.#create(full)
    this.#creating.set(full.name, creation)
    try {
      await creation
    } finally {
      this.#creating.delete(full.name)
    }
  }

  async #create(spec: FullTopicSpec): Promise<void> {
    const topicsDir = path.join(this.dir, 'topics')
    const tdir = path.join(topicsDir, spec.name)
    try {
      // A directory without topic.json is what an interrupted creation leaves: start again.
      await fs.promises.rm(tdir, { recursive: true, force: true })
      await fs.promises.mkdir(tdir)
      await mapLimit(spec.partitions, 16, async (i) => {
        const pdir = path.join(tdir, String(i))
        await fs.promises.mkdir(pdir)
        await closeFile(await openFile(path.join(pdir, segmentFileName(0)), 'wx'))
        if (this.#o.fsync) await fsyncDir(pdir)
      })
      await writeFileAtomic(path.join(tdir, 'topic.json'), topicFileText(spec))
      if (this.#o.fsync) await fsyncDir(topicsDir)
    } catch (err) {
      throw ioError(`cannot create topic ${spec.name}`, err)
    }
    await this.#load(spec)
  }

  async #load(spec: FullTopicSpec): Promise<void> {
    const tdir = path.join(this.dir, 'topics', spec.name)
    const partitions = await mapLimit(spec.partitions, 16, (i) =>
      Partition.open({
        topic: spec.name,
        partition: i,
        dir: path.join(tdir, String(i)),
        readOnly: this.readOnly,
        fsync: this.#o.fsync,
        segmentBytes: spec.segmentBytes,
        maxBatchBytes: this.#o.maxBatchBytes,
        lingerMs: this.#o.lingerMs,
      }),
    )
    if (this.#closed) {
      for (const p of partitions) await p.close()
      return
    }
    this.#topics.set(spec.name, { spec, partitions, sticky: 0 })
  }

  /** Loads the topics found on disk that are not loaded yet (all of them at open; new ones in read-only mode). */
  #discover(): Promise<void> {
    if (!this.#discovering) {
      this.#discovering = this.#discoverNow().finally(() => {
        this.#discovering = null
      })
    }
    return this.#discovering
  }

  async #discoverNow(): Promise<void> {
    const topicsDir = path.join(this.dir, 'topics')
    let names: string[]
    try {
      names = await fs.promises.readdir(topicsDir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw ioError(`cannot list ${topicsDir}`, err)
    }
    for (const name of names.sort()) {
      if (this.#topics.has(name) || this.#broken.has(name) || this.#creating.has(name)) continue
      try {
        checkTopicName(name)
      } catch {
        continue
      }
      const file = path.join(topicsDir, name, 'topic.json')
      let spec: FullTopicSpec
      try {
        spec = await readTopicFile(file, name)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
          continue
        this.#broken.set(name, err instanceof OpenFactoryError ? err : ioError(`cannot read ${file}`, err))
        continue
      }
      await this.#load(spec)
    }
  }

  async listTopics(): Promise<string[]> {
    this.#check()
    if (this.readOnly) await this.#discover()
    return [...new Set([...this.#topics.keys(), ...this.#broken.keys()])].sort()
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const t = await this.#topic(name)
    const partitionStates = []
    for (const p of t.partitions) {
      await p.refresh()
      p.check()
      partitionStates.push({ partition: p.id, startOffset: p.startOffset, endOffset: p.endOffset })
    }
    return { ...t.spec, partitionStates }
  }

  async #topic(name: string): Promise<TopicState> {
    this.#check()
    let t = this.#topics.get(name)
    if (!t && this.readOnly) {
      await this.#discover()
      t = this.#topics.get(name)
    }
    if (!t) {
      const broken = this.#broken.get(name)
      if (broken) throw broken
      if (typeof name !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof name}`)
      throw unknownTopic(name)
    }
    return t
  }

  // ---- appending ---------------------------------------------------------------------------------------------

  async append(topic: string, records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    this.#check()
    if (this.readOnly) throw readOnlyError('append')
    const t = this.#topics.get(topic) ?? (await this.#topic(topic))
    if (!Array.isArray(records)) throw invalidArgument('append needs an array of records')
    const n = records.length
    if (n === 0) return []
    const numPartitions = t.partitions.length
    const compacted = isCompacted(t.spec)
    const maxRecord = this.#o.maxRecordBytes
    const parts = new Array<number>(n)
    const bounds = new Array<number>(n)
    // Null keys stick to one partition per append, moving on with every append (Kafka's sticky partitioner).
    let sticky = -1
    const keyless = (): number => {
      if (sticky < 0) {
        t.sticky = (t.sticky + 1) % numPartitions
        sticky = t.sticky
      }
      return sticky
    }
    // Pass 1: validate everything and place every record, so that a bad record fails the append before any
    // record of it is written.
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const p = placeRecord(r, i, numPartitions, keyless)
      const { key, value, headers, timestamp } = r
      if (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isFinite(timestamp))) {
        throw invalidArgument(`record ${i}: timestamp must be a finite number of epoch milliseconds`)
      }
      if (headers !== undefined) checkHeaders(headers, i)
      if ((key === null || key === undefined) && compacted) {
        throw invalidArgument(`record ${i}: a compacted topic (${topic}) needs a key on every record`)
      }
      let bound = recordSizeBound(key, value, headers)
      if (bound > maxRecord) {
        bound = recordSizeExact(key, value, headers)
        if (bound > maxRecord) {
          throw new OpenFactoryError(
            'OFA_LOG_RECORD_TOO_LARGE',
            `record ${i} takes ${bound} bytes; the limit is ${maxRecord} (maxRecordBytes)`,
          )
        }
        bound = recordSizeBound(key, value, headers)
      }
      parts[i] = p
      bounds[i] = bound
      t.partitions[p]!.check()
    }
    // Pass 2: encode into each partition's batch being built.
    const now = this.#o.now()
    const meta = new Array<RecordMetadata>(n)
    const last: (BatchBuilder | undefined)[] = new Array(numPartitions)
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const p = parts[i]!
      const part = t.partitions[p]!
      const ts = r.timestamp ?? now
      last[p] = part.enqueue(r.key, r.value, r.headers, ts, bounds[i]!)
      meta[i] = { topic, partition: p, offset: part.nextOffset - 1, timestamp: ts }
    }
    // The last batch of a partition is durable only after every earlier one (one write at a time, in order).
    let pending: Promise<void>[] | null = null
    let one: Promise<void> | null = null
    for (const b of last) {
      if (!b) continue
      if (one === null) one = b.done
      else {
        pending ??= [one]
        pending.push(b.done)
      }
    }
    if (pending) await Promise.all(pending)
    else await one
    return meta
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  async read(topic: string, partition: number, offset: number, opts: ReadOptions = {}): Promise<LogRecord[]> {
    const p = this.#partition(await this.#topic(topic), partition)
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw invalidArgument(`offset must be a non-negative integer, got ${offset}`)
    const { maxRecords, maxBytes } = readLimits(opts)
    return (await p.read(offset, maxRecords, maxBytes)).records
  }

  #partition(t: TopicState, partition: number): Partition {
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitions.length) {
      throw invalidArgument(
        `partition ${partition} is not between 0 and ${t.partitions.length - 1} (topic ${t.spec.name})`,
      )
    }
    return t.partitions[partition]!
  }

  follow(topic: string, opts: FollowOptions = {}): AsyncIterable<LogRecord[]> {
    this.#check()
    return { [Symbol.asyncIterator]: () => this.#follow(topic, opts) }
  }

  async *#follow(topic: string, opts: FollowOptions): AsyncGenerator<LogRecord[]> {
    const t = await this.#topic(topic)
    const parts = (opts.partitions ?? t.partitions.map((p) => p.id)).map((i) => this.#partition(t, i))
    const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS
    if (!Number.isInteger(maxRecords) || maxRecords < 1)
      throw invalidArgument(`maxRecords must be a positive integer, got ${maxRecords}`)
    const signal = opts.signal
    for (const p of parts) await p.refresh()
    const positions = parts.map((p) => startPosition(p, opts.from))
    let rr = 0
    const n = parts.length
    while (!this.#closed && !signal?.aborted) {
      if (this.readOnly) await Promise.all(parts.map((p) => p.refresh()))
      let batch: LogRecord[] | null = null
      for (let i = 0; i < n && batch === null; i++) {
        const k = (rr + i) % n
        const p = parts[k]!
        if (positions[k] === p.endOffset) continue
        const r = await p.read(positions[k]!, maxRecords, DEFAULT_MAX_BYTES)
        positions[k] = r.next
        if (r.records.length > 0) {
          batch = r.records
          rr = k + 1
        }
      }
      if (batch) {
        if (signal?.aborted) return
        yield batch
        continue
      }
      if (parts.some((p, k) => positions[k]! < p.endOffset)) continue
      await this.#waitForChange(parts, signal)
    }
  }

  /** Resolves when one of `parts` has new durable records, the signal aborts, the log closes or (read-only) a poll is due. */
  #waitForChange(parts: readonly Partition[], signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancels: (() => void)[] = []
      let timer: NodeJS.Timeout | null = null
      const done = (): void => {
        for (const c of cancels) c()
        if (timer) clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#closer.signal.removeEventListener('abort', done)
        resolve()
      }
      if (signal?.aborted || this.#closed) return resolve()
      signal?.addEventListener('abort', done, { once: true })
      this.#closer.signal.addEventListener('abort', done, { once: true })
      for (const p of parts) cancels.push(p.onChange(done))
      if (this.readOnly) timer = setTimeout(done, this.#o.pollIntervalMs)
    })
  }

  // ---- consumer groups ---------------------------------------------------------------------------------------

  consumer(opts: ConsumerOptions): GroupConsumer {
    this.#check()
    return new EmbeddedConsumer(this.#host, this.#coordinator, opts)
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    this.#check()
    if (typeof group !== 'string' || group === '') throw invalidArgument('a group name must be a non-empty string')
    return this.#offsets.get(group, topic)
  }

  async #commit(
    group: string,
    offsets: readonly { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    this.#check()
    for (const o of offsets) this.#partition(await this.#topic(o.topic), o.partition)
    await this.#offsets.commit(group, offsets)
  }

  // ---- maintenance -------------------------------------------------------------------------------------------

  /**
   * Compacts a compacted topic now: in every partition, sealed segments keep only the latest record per key
   * (see internal/maintenance.ts). The active segment is never compacted. Runs by itself every
   * `compactionIntervalMs`.
   */
  async compact(topic: string): Promise<CompactionResult> {
    const t = await this.#topic(topic)
    if (this.readOnly) throw readOnlyError('compact')
    if (!isCompacted(t.spec))
      throw invalidArgument(`topic ${topic} has cleanup policy ${t.spec.cleanupPolicy}; only compacted topics compact`)
    const opts = {
      now: this.#o.now(),
      tombstoneRetentionMs: this.#o.tombstoneRetentionMs,
      segmentBytes: t.spec.segmentBytes,
      fsync: this.#o.fsync,
    }
    const partitions: PartitionCompaction[] = []
    for (const p of t.partitions) partitions.push(await p.exclusive(() => compactPartition(p, opts)))
    return { topic, partitions }
  }

  /**
   * Deletes, in every topic with the delete policy, the oldest sealed segments whose records are all older
   * than `retentionMs`, and those beyond `retentionBytes`; the partition's start offset moves up. Runs by
   * itself every `retentionCheckIntervalMs`.
   */
  async enforceRetention(): Promise<RetentionResult> {
    this.#check()
    if (this.readOnly) throw readOnlyError('enforceRetention')
    const now = this.#o.now()
    const topics: Record<string, number> = {}
    let deletedSegments = 0
    for (const t of this.#topics.values()) {
      if (!hasDeletePolicy(t.spec)) continue
      let n = 0
      for (const p of t.partitions) {
        if (p.failure) continue
        n += await p.exclusive(() => applyRetention(p, t.spec, now))
      }
      if (n > 0) topics[t.spec.name] = n
      deletedSegments += n
    }
    return { deletedSegments, topics }
  }

  #startTimers(): void {
    const every = (ms: number, task: () => Promise<unknown>): void => {
      if (ms <= 0) return
      let running = false
      const timer = setInterval(() => {
        if (running || this.#closed) return
        running = true
        task()
          .catch((err) => {
            if (!this.#closed) this.#o.onBackgroundError(err)
          })
          .finally(() => {
            running = false
          })
      }, ms)
      timer.unref()
      this.#timers.push(timer)
    }
    every(this.#o.compactionIntervalMs, async () => {
      for (const t of this.#topics.values()) {
        if (isCompacted(t.spec) && !this.#closed && t.partitions.some((p) => p.segments.length > 1 && !p.failure)) {
          await this.compact(t.spec.name)
        }
      }
    })
    every(this.#o.retentionCheckIntervalMs, () => this.enforceRetention())
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  #check(): void {
    if (this.#closed) throw closedError()
  }

  /** Flushes what was appended, ends followers and consumers, closes the files and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#timers) clearInterval(t)
    this.#closer.abort()
    this.#coordinator.close()
    await Promise.allSettled(this.#creating.values())
    const all: Promise<void>[] = []
    for (const t of this.#topics.values()) for (const p of t.partitions) all.push(p.close())
    await Promise.allSettled(all)
    this.#lock?.release()
  }
}

function checkHeaders(headers: unknown, i: number): void {
  if (headers === null || typeof headers !== 'object') throw invalidArgument(`record ${i}: headers must be an object`)
  for (const [name, v] of Object.entries(headers)) {
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) {
      throw invalidArgument(`record ${i}: header ${JSON.stringify(name)} must be a string or bytes`)
    }
    if (Buffer.byteLength(name) > 0xffff) throw invalidArgument(`record ${i}: header name too long`)
  }
}

function readLimits(opts: ReadOptions): { maxRecords: number; maxBytes: number } {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('read options must be an object')
  const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
  if (!Number.isInteger(maxRecords) || maxRecords < 1)
    throw invalidArgument(`maxRecords must be a positive integer, got ${maxRecords}`)
  if (!Number.isInteger(maxBytes) || maxBytes < 1)
    throw invalidArgument(`maxBytes must be a positive integer, got ${maxBytes}`)
  return { maxRecords, maxBytes }
}

function startPosition(p: Partition, from: FollowOptions['from']): number {
  if (from === undefined || from === 'earliest') return p.startOffset
  if (from === 'latest') return p.endOffset
  if (typeof from === 'number') {
    if (!Number.isSafeInteger(from) || from < 0)
      throw invalidArgument(`from must be a non-negative offset, got ${from}`)
    return from
  }
  if (from !== null && typeof from === 'object') {
    const o = (from as Readonly<Record<number, number>>)[p.id]
    if (o === undefined) return p.startOffset
    if (!Number.isSafeInteger(o) || o < 0)
      throw invalidArgument(`from[${p.id}] must be a non-negative offset, got ${o}`)
    return o
  }
  throw invalidArgument(`from must be 'earliest', 'latest', an offset or a map of offsets, got ${JSON.stringify(from)}`)
}

/** Checks (reader) or writes (writer, new directory) the format marker. */
async function checkMeta(dir: string, readOnly: boolean): Promise<void> {
  const file = path.join(dir, META_FILE)
  let text: string | null = null
  try {
    text = await fs.promises.readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw ioError(`cannot read ${file}`, err)
  }
  if (text === null) {
    if (readOnly) {
      throw new OpenFactoryError('OFA_LOG_NOT_FOUND', `${dir} holds no event log (${META_FILE} is missing)`, {
        where: { file },
      })
    }
    const entries = await fs.promises.readdir(dir)
    const foreign = entries.filter((e) => !PRE_INIT_FILES.has(e))
    if (foreign.length > 0) {
      throw invalidArgument(
        `${dir} is not empty and holds no event log (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); choose an empty or new directory`,
      )
    }
    await writeFileAtomic(file, `${JSON.stringify({ format: FORMAT, version: FORMAT_VERSION })}\n`)
    return
  }
  let meta: { format?: unknown; version?: unknown }
  try {
    meta = JSON.parse(text)
  } catch (err) {
    throw new OpenFactoryError('OFA_LOG_CORRUPT', `${file} is not valid JSON`, {
      where: { file, offset: 0 },
      cause: err,
    })
  }
  if (meta?.format !== FORMAT) {
    throw new OpenFactoryError('OFA_LOG_CORRUPT', `${file} does not describe an OpenFactory event log`, {
      where: { file, offset: 0 },
    })
  }
  if (meta.version !== FORMAT_VERSION) {
    throw new OpenFactoryError(
      'OFA_LOG_CORRUPT',
      `${file} has format version ${String(meta.version)}; this OpenFactory reads version ${FORMAT_VERSION}`,
      { where: { file, offset: 0 } },
    )
  }
}

/** Runs `fn(0..n-1)` with at most `limit` running at once; results in order. */
async function mapLimit<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      out[i] = await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker))
  return out
}
