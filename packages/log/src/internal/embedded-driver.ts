/**
 * The embedded log's driver (see log-driver.ts): topics of partitions in a data directory, group commit,
 * followers, consumer groups in this process, compaction and retention. `EmbeddedLog` (embedded-log.ts) puts
 * the checking core over it; the layout of the directory is described there.
 */
import fs from 'node:fs'
import path from 'node:path'
import { OpenFactoryError } from '@openfactory/model'
import type { LogRecord, ProducerRecord, RecordData, RecordMetadata, TopicDescription } from '../backbone.ts'
import { DEFAULT_MAX_BYTES } from '../log-core.ts'
import type { DriverConsumerOptions, DriverTopic, FollowStart, LogDriver } from '../log-driver.ts'
import { checkTopicName, type NormalizedTopicSpec } from '../topic-spec.ts'
import { type BatchBuilder, RECORD_OVERHEAD } from './batch-format.ts'
import { DirLock } from './dir-lock.ts'
import { closedError, corrupt, invalidArgument, ioError, readOnlyError, unknownTopic } from './errors.ts'
import { closeFile, fdatasync, fsyncDir, mkdirp, openFile, writeAll, writeFileAtomic } from './fs-util.ts'
import { EmbeddedConsumer, GroupCoordinator, type GroupHost } from './group-coordinator.ts'
import { applyRetention, compactPartition, type PartitionCompaction } from './maintenance.ts'
import { MARKS_FILE, marksBytes, readMarks } from './marks.ts'
import { OffsetStore } from './offset-store.ts'
import { Partition } from './partition.ts'
import { listSegmentFiles, segmentFileName } from './segment.ts'
import { type FullTopicSpec, hasDeletePolicy, isCompacted, readTopicFile, topicFileText } from './topic-config.ts'
import { cutTornWal, listWalFiles, scanWal, type WalScan, WalWriter, walDamageError, walKey } from './wal.ts'

/** `EmbeddedLogOptions` with their defaults, checked. */
export interface EmbeddedDriverOptions {
  readonly dir: string
  readonly readOnly: boolean
  readonly fsync: boolean
  /** Write through one write-ahead file for all partitions (see wal.ts). */
  readonly wal: boolean
  /** The WAL file is checkpointed and a new one started past this size. */
  readonly walBytes: number
  readonly lingerMs: number
  readonly maxBatchBytes: number
  readonly maxRecordBytes: number
  readonly segmentBytes: number
  readonly compactionIntervalMs: number
  readonly retentionCheckIntervalMs: number
  readonly tombstoneRetentionMs: number
  readonly pollIntervalMs: number
  readonly onBackgroundError: (err: unknown) => void
  readonly onWarning: (warning: OpenFactoryError) => void
  readonly now: () => number
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
  /** What the checking core needs; one object per topic, so that an append allocates none. */
  readonly info: DriverTopic
}

export const META_FILE = 'openfactory-log.json'
export const FORMAT = 'openfactory-embedded-log'
/**
 * 2: the batches of a partition cover its offsets without gaps (compaction and repair write batches without
 * records where records went), so a missing batch or segment is found. Directories made at version 1 keep it:
 * there, only topics without compaction are checked for gaps (version-1 compaction left gaps).
 */
export const FORMAT_VERSION = 2
const READABLE_VERSIONS = new Set([1, 2])
/** Files a directory may hold before it becomes a log (left by a first open that stopped early). */
const PRE_INIT_FILES = new Set(['lock', 'lock-journal', 'owner.json', `${META_FILE}.tmp`])

export class EmbeddedDriver implements LogDriver {
  readonly description: string
  readonly dir: string
  readonly readOnly: boolean
  readonly #o: EmbeddedDriverOptions
  readonly #topics = new Map<string, TopicState>()
  readonly #broken = new Map<string, OpenFactoryError>()
  readonly #creating = new Map<string, Promise<void>>()
  readonly #lock: DirLock | null
  readonly #offsets: OffsetStore
  readonly #coordinator: GroupCoordinator
  readonly #closer = new AbortController()
  readonly #timers: NodeJS.Timeout[] = []
  readonly #host: GroupHost
  /** The directory's format version (see FORMAT_VERSION). */
  readonly #version: number
  /** When each throttled warning was last given. */
  readonly #warned = new Map<string, number>()
  #closed = false
  #discovering: Promise<void> | null = null
  /** The WAL writer (writer with `wal: true`). */
  #wal: WalWriter | null = null
  /** What the WAL held at open (writer), replayed into the partitions as they open. */
  #walScan: WalScan | null = null
  /** Read-only: the directory had WAL files at open (the writer has not replayed them yet, or is running). */
  #walPending = false

  private constructor(o: EmbeddedDriverOptions, lock: DirLock | null, offsets: OffsetStore, version: number) {
    this.#o = o
    this.#version = version
    this.dir = o.dir
    this.readOnly = o.readOnly
    this.description = `embedded log in ${o.dir}${o.readOnly ? ' (read-only)' : ''}`
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
      warn: (key, warning) => this.#warn(warning, key),
      now: o.now,
    }
  }

  /** Opens the log in `o.dir` (creating it for a writer), see `openEmbeddedLog`. */
  static async open(o: EmbeddedDriverOptions): Promise<EmbeddedDriver> {
    if (o.readOnly) {
      const version = await checkMeta(o.dir, true)
      const log = new EmbeddedDriver(o, null, await OffsetStore.open(o.dir, true), version)
      log.#walPending = (await listWalFiles(o.dir).catch(() => [])).length > 0
      await log.#discover()
      return log
    }
    try {
      await mkdirp(o.dir)
    } catch (err) {
      throw ioError(`cannot create the data directory ${o.dir}`, err, o.dir)
    }
    const lock = DirLock.acquire(o.dir, { onReplaced: (w) => o.onWarning(w) })
    try {
      const version = await checkMeta(o.dir, false)
      const made = await mkdirp(path.join(o.dir, 'topics'))
      const offsets = await OffsetStore.open(o.dir, false)
      if (made && o.fsync) await fsyncDir(o.dir)
      const log = new EmbeddedDriver(o, lock, offsets, version)
      await log.#openWal()
      await log.#resetOffsetsBeyondEnds()
      log.#startTimers()
      return log
    } catch (err) {
      lock.release()
      throw err instanceof OpenFactoryError ? err : ioError(`cannot open the event log in ${o.dir}`, err, o.dir)
    }
  }

  /**
   * Writer, at open: reads the WAL (a torn tail of the newest file is cut), opens the topics — each partition
   * replays the WAL batches beyond its end (see partition.ts) and makes its active segment durable — then
   * the WAL files whose every batch is now in a segment are deleted (with `wal: true`, the writer reuses one of
   * them for its first file and keeps one more for its next). Files holding batches that could not be replayed
   * (a damaged partition or topic, a damaged WAL record) are kept for the next open and for
   * `ofa log verify|repair`.
   */
  async #openWal(): Promise<void> {
    let scan: WalScan
    try {
      scan = await scanWal(this.dir)
    } catch (err) {
      throw ioError(`cannot read the write-ahead files in ${path.join(this.dir, 'wal')}`, err)
    }
    for (const f of scan.files) if (f.torn) await cutTornWal(f, this.#o.fsync)
    for (const d of scan.damage) this.#warn(walDamageError(d))
    this.#walScan = scan
    try {
      await this.#discover()
    } finally {
      this.#walScan = null
    }
    const pinned = new Set<string>()
    for (const d of scan.damage) pinned.add(d.file)
    for (const [key, entries] of scan.entries) {
      const slash = key.lastIndexOf('/')
      const t = this.#topics.get(key.slice(0, slash))
      const p = t?.partitions[Number(key.slice(slash + 1))]
      if (p && !p.failure) continue
      for (const e of entries) pinned.add(e.file)
      this.#warn(
        corrupt(
          entries[0]!.file,
          entries[0]!.position,
          `the write-ahead file holds records of ${key}, which ${p ? 'is damaged' : 'does not exist'}; they are kept in the WAL files until it is repaired`,
        ),
      )
    }
    // If pinned files are kept, the newer ones are kept too (a later open replays them in order).
    const firstPinned = scan.files.findIndex((f) => pinned.has(f.file))
    const keep = firstPinned < 0 ? [] : scan.files.slice(firstPinned).map((f) => f.file)
    for (const f of keep) pinned.add(f)
    const gone = scan.files.filter((f) => !pinned.has(f.file))
    if (!this.#o.wal) {
      for (const f of gone) await fs.promises.rm(f.file, { force: true })
      if (gone.length > 0 && this.#o.fsync) await fsyncDir(scan.dir)
    } else {
      try {
        this.#wal = await WalWriter.open(
          this.dir,
          {
            fsync: this.#o.fsync,
            lingerMs: this.#o.lingerMs,
            walBytes: this.#o.walBytes,
            onWarning: (w) => this.#warn(w),
          },
          scan,
          pinned,
          gone.map((f) => f.file),
        )
      } catch (err) {
        throw ioError(`cannot start the write-ahead file in ${scan.dir}`, err, scan.dir)
      }
      for (const t of this.#topics.values()) for (const p of t.partitions) p.useWal(this.#wal)
    }
  }

  /** Gives a warning; with a `key`, at most one per key a minute (failures that repeat on every write). */
  #warn(warning: OpenFactoryError, key?: string): void {
    if (key !== undefined) {
      const now = Date.now()
      const last = this.#warned.get(key)
      if (last !== undefined && now - last < 60_000) return
      this.#warned.set(key, now)
    }
    try {
      this.#o.onWarning(warning)
    } catch {
      // A listener's failure is not ours to handle.
    }
  }

  /**
   * Committed group offsets beyond the end of their partition (acknowledged records were lost, and the end went
   * back) would make the group wait for ever: they are reset to the end, with a warning. Damaged partitions are
   * left alone (their end is unknown).
   */
  async #resetOffsetsBeyondEnds(): Promise<void> {
    for (const { group, offsets } of await this.#offsets.loadAll()) {
      const reset: { topic: string; partition: number; offset: number }[] = []
      for (const [topic, parts] of offsets) {
        const t = this.#topics.get(topic)
        if (!t) continue
        for (const [partition, offset] of parts) {
          const p = t.partitions[partition]
          if (!p || p.failure || offset <= p.endOffset) continue
          reset.push({ topic, partition, offset: p.endOffset })
          this.#warn(
            new OpenFactoryError(
              'OFA_LOG_CORRUPT',
              `consumer group ${group}: its committed offset ${offset} of ${topic}/${partition} is beyond the partition's end ${p.endOffset} (records it had read are gone); reset to ${p.endOffset}`,
              { where: { file: this.#offsets.fileOf(group) } },
            ),
          )
        }
      }
      if (reset.length > 0) await this.#offsets.commit(group, reset)
    }
  }

  // ---- topics ------------------------------------------------------------------------------------------------

  async createTopic(spec: NormalizedTopicSpec): Promise<void> {
    this.#check()
    if (this.readOnly) throw readOnlyError('createTopic')
    const full: FullTopicSpec = { ...spec, segmentBytes: spec.segmentBytes ?? this.#o.segmentBytes }
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
    // A topic directory left without topic.json: an interrupted creation is started again, a topic that holds
    // records is damage (its topic.json went missing) and is never overwritten.
    const tdir = path.join(this.dir, 'topics', full.name)
    const held = await topicDirHoldsData(tdir)
    // A creation of the same topic may have started (or ended) while this one looked at the disk: join it.
    if (this.#creating.has(full.name) || this.#topics.has(full.name)) return this.createTopic(spec)
    if (held) {
      const err = corrupt(
        path.join(tdir, 'topic.json'),
        0,
        `topic ${full.name} has records on disk (${held}) but its topic.json is missing; run "ofa log repair" to rebuild it`,
      )
      this.#broken.set(full.name, err)
      throw err
    }
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
        await writeNewFile(path.join(pdir, MARKS_FILE), marksBytes({ start: 0, end: 0 }), this.#o.fsync)
        if (this.#o.fsync) await fsyncDir(pdir)
      })
      await writeFileAtomic(path.join(tdir, 'topic.json'), topicFileText(spec))
      if (this.#o.fsync) await fsyncDir(topicsDir)
    } catch (err) {
      throw ioError(`cannot create topic ${spec.name}`, err, tdir)
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
        contiguous: this.#version >= 2 || !isCompacted(spec),
        expectMarks: this.#version >= 2,
        wal: this.#wal,
        walEntries:
          this.#walScan && this.#walScan.files.length > 0
            ? (this.#walScan.entries.get(walKey(spec.name, i)) ?? [])
            : undefined,
        walPending: this.#walPending,
        onWarning: (w) => this.#warn(w, `partition:${spec.name}/${i}:${w.message.slice(0, 40)}`),
      }),
    )
    for (const p of partitions) {
      if (p.failure) this.#warn(p.failure)
    }
    if (this.#closed) {
      for (const p of partitions) await p.close()
      return
    }
    const info = { partitions: partitions.length, compacted: isCompacted(spec), maxRecordBytes: this.#o.maxRecordBytes }
    this.#topics.set(spec.name, { spec, partitions, info })
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
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOTDIR') continue
        let broken = err instanceof OpenFactoryError ? err : ioError(`cannot read ${file}`, err, file)
        if (code === 'ENOENT') {
          // An interrupted creation, or a topic whose topic.json went missing: the records tell.
          const held = await topicDirHoldsData(path.join(topicsDir, name))
          if (!held) continue
          broken = corrupt(
            file,
            0,
            `topic ${name} has records on disk (${held}) but its topic.json is missing; run "ofa log repair" to rebuild it`,
          )
        }
        this.#broken.set(name, broken)
        this.#warn(broken)
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
    const partitionStates: TopicDescription['partitionStates'][number][] = []
    for (const p of t.partitions) {
      await p.refresh()
      // One damaged partition does not hide the others: it is described with its error.
      const error = p.failure ?? p.writeFailure ?? undefined
      partitionStates.push({
        partition: p.id,
        startOffset: p.startOffset,
        endOffset: p.endOffset,
        ...(error ? { error } : {}),
      })
    }
    return { ...t.spec, partitionStates }
  }

  topic(name: string): DriverTopic | Promise<DriverTopic> {
    this.#check()
    const t = this.#topics.get(name)
    if (t) return t.info
    return this.#topic(name).then((found) => found.info)
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
      throw unknownTopic(name)
    }
    return t
  }

  // ---- appending ---------------------------------------------------------------------------------------------

  async append(
    topic: string,
    records: readonly ProducerRecord[],
    parts: readonly number[],
    sizes: readonly number[],
  ): Promise<RecordMetadata[]> {
    this.#check()
    if (this.readOnly) throw readOnlyError('append')
    const t = this.#topics.get(topic) ?? (await this.#topic(topic))
    if (this.#wal?.failure) throw this.#wal.failure
    const n = records.length
    const numPartitions = t.partitions.length
    // A partition that is damaged or failed refuses the append before any record of it is written.
    for (const p of t.partitions) {
      if (p.failure || p.writeFailure) {
        for (let i = 0; i < n; i++) t.partitions[parts[i]!]!.checkWritable()
        break
      }
    }
    // Encode into each partition's batch being built, with room for the worst case (see `recordSizeBound`).
    const now = this.#o.now()
    const meta = new Array<RecordMetadata>(n)
    const last: (BatchBuilder | undefined)[] = new Array(numPartitions)
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const p = parts[i]!
      const part = t.partitions[p]!
      const ts = r.timestamp ?? now
      const headers = r.headers
      const bound = RECORD_OVERHEAD + sizes[i]! + (headers === undefined ? 0 : headerFraming(headers))
      last[p] = part.enqueue(r.key, r.value, headers, ts, bound)
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

  async read(
    topic: string,
    partition: number,
    offset: number,
    maxRecords: number,
    maxBytes: number,
  ): Promise<LogRecord[]> {
    const t = await this.#topic(topic)
    return (await t.partitions[partition]!.read(offset, maxRecords, maxBytes)).records
  }

  async *follow(
    topic: string,
    starts: readonly FollowStart[],
    maxRecords: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<LogRecord[]> {
    const t = await this.#topic(topic)
    const parts = starts.map((s) => t.partitions[s.partition]!)
    for (const p of parts) await p.refresh()
    const positions = starts.map((s, k) => {
      const p = parts[k]!
      return s.from === 'earliest' ? p.startOffset : s.from === 'latest' ? p.endOffset : s.from
    })
    let rr = 0
    const n = parts.length
    const skipped = new Set<number>()
    while (!this.#closed && !signal?.aborted) {
      if (this.readOnly) await Promise.all(parts.map((p) => p.refresh()))
      let batch: LogRecord[] | null = null
      for (let i = 0; i < n && batch === null; i++) {
        const k = (rr + i) % n
        const p = parts[k]!
        if (positions[k] === p.endOffset || skipped.has(k)) continue
        let r: Awaited<ReturnType<Partition['read']>>
        try {
          r = await p.read(positions[k]!, maxRecords, DEFAULT_MAX_BYTES)
        } catch (err) {
          // A damaged partition stops only itself: the follower goes on with the others, and is told.
          if (!(err instanceof OpenFactoryError) || err.code !== 'OFA_LOG_CORRUPT') throw err
          skipped.add(k)
          this.#warn(
            new OpenFactoryError(
              'OFA_LOG_CORRUPT',
              `following ${topic}: partition ${p.id} is damaged and is skipped (${err.message})`,
              { where: err.where, cause: err },
            ),
          )
          continue
        }
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
      if (parts.some((p, k) => positions[k]! < p.endOffset && !skipped.has(k))) continue
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

  consumer(opts: DriverConsumerOptions): EmbeddedConsumer {
    this.#check()
    return new EmbeddedConsumer(this.#host, this.#coordinator, opts)
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    this.#check()
    return this.#offsets.get(group, topic)
  }

  async #commit(
    group: string,
    offsets: readonly { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    this.#check()
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
    for (const p of t.partitions) {
      if (p.failure || p.writeFailure) continue // damaged: reported where it is used, never rewritten
      partitions.push(await p.exclusive(() => compactPartition(p, opts)))
    }
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
        if (p.failure || p.writeFailure) continue
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
        if (
          isCompacted(t.spec) &&
          !this.#closed &&
          t.partitions.some((p) => p.segments.length > 1 && !p.failure && !p.writeFailure)
        ) {
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
    if (this.#wal) {
      // Everything appended goes through the WAL first; its last checkpoint then needs the segments open.
      const flushing: Promise<void>[] = []
      for (const t of this.#topics.values()) for (const p of t.partitions) flushing.push(p.flushed())
      await Promise.allSettled(flushing)
      await this.#wal
        .close()
        .catch((err) => this.#warn(ioError('cannot checkpoint the write-ahead file at close', err)))
    }
    const all: Promise<void>[] = []
    for (const t of this.#topics.values()) for (const p of t.partitions) all.push(p.close())
    await Promise.allSettled(all)
    this.#lock?.release()
  }
}

/** The header bytes of the embedded record format beyond names and values: 2 (name length) + 4 (value length) each. */
function headerFraming(headers: Readonly<Record<string, RecordData>>): number {
  let n = 0
  for (const _ in headers) n += 6
  return n
}

/** What the repair command says to do about a damaged or missing format marker. */
const META_ADVICE = `; if this is an OpenFactory event log, run "ofa log repair" to write the marker again`

/**
 * Checks (reader) or writes (writer, new directory) the format marker; returns the directory's format version.
 * A marker that is missing where a log obviously is (a `topics` directory), unreadable or not ours is
 * `OFA_LOG_CORRUPT` naming the file, with what to do.
 */
async function checkMeta(dir: string, readOnly: boolean): Promise<number> {
  const file = path.join(dir, META_FILE)
  let text: string | null = null
  try {
    text = await fs.promises.readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw ioError(`cannot read ${file}`, err, file)
  }
  if (text === null) {
    let entries: string[]
    try {
      entries = await fs.promises.readdir(dir)
    } catch (err) {
      if (readOnly && (err as NodeJS.ErrnoException).code === 'ENOENT') entries = []
      else throw ioError(`cannot list ${dir}`, err, dir)
    }
    if (entries.includes('topics')) {
      throw corrupt(file, 0, `${META_FILE} is missing, yet ${dir} holds topics${META_ADVICE}`)
    }
    if (readOnly) {
      throw new OpenFactoryError('OFA_LOG_NOT_FOUND', `${dir} holds no event log (${META_FILE} is missing)`, {
        where: { file },
      })
    }
    const foreign = entries.filter((e) => !PRE_INIT_FILES.has(e))
    if (foreign.length > 0) {
      throw invalidArgument(
        `${dir} is not empty and holds no event log (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); choose an empty or new directory`,
      )
    }
    try {
      await writeFileAtomic(file, metaText())
    } catch (err) {
      throw ioError(`cannot write ${file}`, err, file)
    }
    return FORMAT_VERSION
  }
  const meta = parseMeta(text)
  if (typeof meta === 'string') throw corrupt(file, 0, `${meta}${META_ADVICE}`)
  if (!READABLE_VERSIONS.has(meta.version)) {
    throw new OpenFactoryError(
      'OFA_LOG_CORRUPT',
      `${file} has format version ${meta.version}; this OpenFactory reads versions ${[...READABLE_VERSIONS].join(' and ')}`,
      { where: { file, offset: 0 } },
    )
  }
  return meta.version
}

/** The text of a new format marker. */
export function metaText(version = FORMAT_VERSION): string {
  return `${JSON.stringify({ format: FORMAT, version })}\n`
}

/** The format marker's content, or why it is not one. */
export function parseMeta(text: string): { version: number } | string {
  let meta: { format?: unknown; version?: unknown }
  try {
    meta = JSON.parse(text)
  } catch {
    return `${META_FILE} is not valid JSON`
  }
  if (meta === null || typeof meta !== 'object' || meta.format !== FORMAT) {
    return `${META_FILE} does not describe an OpenFactory event log`
  }
  if (typeof meta.version !== 'number' || !Number.isSafeInteger(meta.version)) {
    return `${META_FILE} has no format version`
  }
  return { version: meta.version }
}

/**
 * Whether a topic directory without topic.json holds records (then it is not an interrupted creation): more than
 * one segment, a non-empty one, files a repair kept aside, or marks with an end above 0. Returns what was found.
 */
export async function topicDirHoldsData(tdir: string): Promise<string | null> {
  let names: string[]
  try {
    names = await fs.promises.readdir(tdir)
  } catch {
    return null
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    const pdir = path.join(tdir, name)
    let listing: { bases: number[]; others: string[] }
    try {
      listing = await listSegmentFiles(pdir)
    } catch {
      continue
    }
    if (listing.bases.length > 1 || (listing.bases[0] ?? 0) > 0) return `${listing.bases.length} segments in ${pdir}`
    for (const b of listing.bases) {
      const st = await fs.promises.stat(path.join(pdir, segmentFileName(b))).catch(() => null)
      if (st && st.size > 0) return `${st.size} bytes in ${path.join(pdir, segmentFileName(b))}`
    }
    if (listing.others.some((o) => o.includes('.damaged'))) return `files kept aside by a repair in ${pdir}`
    const marks = await readMarks(path.join(pdir, MARKS_FILE)).catch(() => null)
    if (marks?.kind === 'ok' && marks.values.end > 0)
      return `acknowledged offsets up to ${marks.values.end - 1} in ${pdir}`
  }
  return null
}

/** Writes a new file whole (it must not exist), durably when `fsync`. */
async function writeNewFile(file: string, data: Uint8Array, fsync: boolean): Promise<void> {
  const fd = await openFile(file, 'wx')
  try {
    await writeAll(fd, data, 0)
    if (fsync) await fdatasync(fd)
  } finally {
    await closeFile(fd)
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
