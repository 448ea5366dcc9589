// One partition of the embedded log: its segments, the group-commit append pipeline, reads and change waiters.
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { OpenFactoryError } from '@openfactory/model'
import type { LogRecord, RecordData } from '../backbone.ts'
import {
  BatchBuilder,
  type BatchHeader,
  bodyCrcMatches,
  decodeRecords,
  HEADER_SIZE,
  parseHeader,
} from './batch-format.ts'
import { recoverCompactions, SWAP_SUFFIX } from './compaction-recovery.ts'
import { closedError, corrupt, ioError, isNoSpace } from './errors.ts'
import { closeFile, fdatasync, fstat, fsyncDir, ftruncate, openFile, readAt, writeAll } from './fs-util.ts'
import { MARKS_FILE, type MarksRead, MarksWriter, readMarks } from './marks.ts'
import {
  type Damage,
  listSegmentFiles,
  RetiredSegment,
  Segment,
  scanBatches,
  segmentFileName as segmentName,
} from './segment.ts'
import type { WalEntry, WalItem, WalPartition, WalWriter } from './wal.ts'

export interface PartitionConfig {
  readonly topic: string
  readonly partition: number
  /** `<data dir>/topics/<topic>/<partition>` */
  readonly dir: string
  readonly readOnly: boolean
  readonly fsync: boolean
  readonly segmentBytes: number
  readonly maxBatchBytes: number
  readonly lingerMs: number
  /** Batches must cover the offsets without gaps (format version 2, or a topic without compaction). */
  readonly contiguous: boolean
  /** A missing marks file is damage worth a warning (format version 2; version 1 directories had none). */
  readonly expectMarks: boolean
  /** Hears what goes wrong without stopping the partition (a marks file rebuilt, a failed background write). */
  readonly onWarning: (warning: OpenFactoryError) => void
  /**
   * The write-ahead file (writer, `wal: true`): batches go out through it, one group commit for every
   * partition, and the segment is written after the WAL record is durable, without an fdatasync of its own.
   */
  readonly wal?: WalWriter | null
  /**
   * WAL batches of this partition found at open (writer; empty when the WAL holds none of it, undefined when the
   * directory has no WAL): those beyond the segments' end are replayed into them.
   */
  readonly walEntries?: readonly WalEntry[]
  /**
   * The data directory has WAL files (read-only): the segments may end below the high-water mark until the
   * writer replays the WAL, which is not damage.
   */
  readonly walPending?: boolean
}

/** What a read returns: the records, and where the next read starts (past compaction gaps). */
export interface ReadResult {
  readonly records: LogRecord[]
  readonly next: number
}

const READ_CHUNK = 1 << 20
const MIN_READ = 64 * 1024

export class Partition implements WalPartition {
  readonly topic: string
  readonly id: number
  readonly dir: string
  /** Segments by base offset; the last one is the active segment (the only one written to). */
  segments: Segment[] = []
  /** The offset the next appended record gets. */
  nextOffset = 0
  /** Every offset below this is durable and readable. */
  endOffset = 0
  /** Set when the partition cannot be used (damage found on open): every use throws it. */
  failure: OpenFactoryError | null = null
  /**
   * Set when a write failed in a way that leaves the file's state unknown (a failed fdatasync other than a full
   * disk, or a failed cut back): appends are refused until the log is reopened; reads go on.
   */
  writeFailure: OpenFactoryError | null = null
  /** The high-water and start marks (writer only). */
  marks: MarksWriter | null = null
  readonly #cfg: PartitionConfig
  #open: BatchBuilder | null = null
  #queue: BatchBuilder[] = []
  #flushing = false
  #flushScheduled = false
  #spare: Buffer | null = null
  #capacityHint = 16 * 1024
  #idleWaiters: (() => void)[] = []
  #waiters = new Set<() => void>()
  #refreshing: Promise<void> | null = null
  #maintenance: Promise<unknown> = Promise.resolve()
  #closed = false
  #wal: WalWriter | null
  /** WAL mode: batches taken by the WAL writer and not settled yet. */
  #inWal = 0
  /** WAL mode: the active segment was written to since its last fdatasync. */
  #dirty = false

  private constructor(cfg: PartitionConfig) {
    this.#cfg = cfg
    this.#wal = cfg.wal ?? null
    this.topic = cfg.topic
    this.id = cfg.partition
    this.dir = cfg.dir
  }

  get startOffset(): number {
    return this.segments[0]?.base ?? this.endOffset
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!
  }

  /**
   * Opens a partition. Never throws for damaged data: the partition then carries a `failure` that every use
   * raises (one damaged partition does not stop the others). The writer cuts a torn tail here.
   */
  static async open(cfg: PartitionConfig): Promise<Partition> {
    const p = new Partition(cfg)
    const marksFile = path.join(cfg.dir, MARKS_FILE)
    try {
      // The marks are read before the segments: the end mark is then never ahead of what the scan sees, even
      // while a writer appends (read-only mode).
      const marks = await readMarks(marksFile).catch(
        (err): MarksRead => ({ kind: 'damaged', reason: `cannot read it: ${(err as Error).message}` }),
      )
      p.segments = await loadSegments(cfg, marks)
      p.endOffset = p.nextOffset = p.active.lastOffset + 1
      if (!cfg.readOnly) {
        if (marks.kind === 'damaged' || (marks.kind === 'missing' && cfg.expectMarks)) {
          cfg.onWarning(
            corrupt(
              marksFile,
              0,
              `${cfg.topic}/${cfg.partition}: the marks file ${marks.kind === 'missing' ? 'is missing' : `is unreadable (${marks.reason})`}, so lost acknowledged records at the partition's end could not be told from a torn tail; rebuilt from the segments (start ${p.startOffset}, end ${p.endOffset})`,
            ),
          )
        }
        p.marks = await MarksWriter.open(
          marksFile,
          { start: p.startOffset, end: p.endOffset },
          marks,
          cfg.fsync,
          (err) => cfg.onWarning(ioError(`cannot write the marks of ${cfg.topic}/${cfg.partition}`, err, marksFile)),
        )
      }
    } catch (err) {
      for (const s of p.segments) await s.close()
      p.segments = []
      p.failure =
        err instanceof OpenFactoryError
          ? err
          : ioError(`cannot open partition ${cfg.topic}/${cfg.partition}`, err, cfg.dir)
    }
    return p
  }

  /** Throws the damage that makes the partition unusable, if any. */
  check(): void {
    if (this.failure) throw this.failure
  }

  /** Throws what stops appends to the partition, if anything. */
  checkWritable(): void {
    if (this.failure) throw this.failure
    if (this.writeFailure) throw this.writeFailure
  }

  // ---- appending ---------------------------------------------------------------------------------------------

  /**
   * Encodes a record into the batch being built and returns that batch (its `done` settles when the batch is
   * durable). The record's offset is `nextOffset - 1` afterwards.
   */
  enqueue(
    key: RecordData | null | undefined,
    value: RecordData | null,
    headers: Readonly<Record<string, RecordData>> | undefined,
    timestamp: number,
    bound: number,
  ): BatchBuilder {
    let b = this.#open
    if (b === null || (b.count > 0 && b.bytes + bound > this.#cfg.maxBatchBytes)) {
      b = this.#newBuilder(bound)
      this.#open = b
      this.#queue.push(b)
    }
    b.add(this.nextOffset, timestamp, key, value, headers, bound)
    this.nextOffset++
    this.#scheduleFlush()
    return b
  }

  #newBuilder(bound: number): BatchBuilder {
    const spare = this.#spare
    if (spare && spare.length >= bound + HEADER_SIZE) {
      this.#spare = null
      return new BatchBuilder(this.nextOffset, spare)
    }
    return new BatchBuilder(this.nextOffset, Buffer.allocUnsafe(Math.max(this.#capacityHint, bound + HEADER_SIZE)))
  }

  #scheduleFlush(): void {
    const wal = this.#wal
    if (wal) {
      wal.schedule(this)
      return
    }
    if (this.#flushing || this.#flushScheduled) return
    this.#flushScheduled = true
    const run = (): void => {
      this.#flushScheduled = false
      void this.#flushLoop()
    }
    if (this.#cfg.lingerMs > 0) setTimeout(run, this.#cfg.lingerMs)
    else queueMicrotask(run)
  }

  /**
   * Group commit: one batch per write, one write + fdatasync at a time. Appends that arrive while a write is in
   * flight build the next batch, which goes out as soon as the previous one is on disk.
   */
  async #flushLoop(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#queue.length > 0) {
        const b = this.#queue.shift()!
        if (b === this.#open) this.#open = null
        const refused = this.failure ?? this.writeFailure
        if (refused) {
          b.reject(refused)
          continue
        }
        const bytes = b.finish()
        try {
          await this.#writeBatch(bytes, b)
        } catch (err) {
          const failure = await this.#writeFailed(err)
          // The batches behind it would leave a gap in the offsets: they fail too, and their offsets are given
          // out again (none of them was acknowledged).
          b.reject(failure)
          for (const later of this.#queue) later.reject(failure)
          this.#queue = []
          this.#open = null
          this.nextOffset = this.endOffset
          continue
        }
        this.#capacityHint = Math.min(
          this.#cfg.maxBatchBytes + HEADER_SIZE,
          Math.max(16 * 1024, Math.ceil(bytes.length * 1.25)),
        )
        if (!this.#spare || this.#spare.length < b.buf.length) this.#spare = b.buf
        b.resolve()
        this.marks?.noteEnd(this.endOffset)
        this.#notify()
      }
    } finally {
      this.#flushing = false
      const idle = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of idle) w()
    }
  }

  async #writeBatch(bytes: Buffer, b: BatchBuilder): Promise<void> {
    let seg = this.active
    if (seg.size > 0 && seg.size + bytes.length > this.#cfg.segmentBytes) seg = await this.#roll(b.baseOffset)
    const position = seg.size
    await writeAll(seg.fd, bytes, position)
    if (this.#cfg.fsync) {
      try {
        await fdatasync(seg.fd)
      } catch (err) {
        throw Object.assign(new SyncFailed(), { cause: err })
      }
    }
    seg.addBatch({
      position,
      length: bytes.length,
      baseOffset: b.baseOffset,
      lastOffset: b.lastOffset,
      recordCount: b.count,
      maxTimestamp: b.maxTimestamp,
    })
    this.endOffset = b.lastOffset + 1
  }

  /**
   * After a failed write or fdatasync: cuts the active segment back to its last durable batch, so that the next
   * write starts at the right place and a reopen finds no half batch. A full disk (ENOSPC, EDQUOT) leaves the
   * partition working — appends fail, retryable, until space comes back. A failed fdatasync for another reason
   * (the page cache may no longer match the disk) or a failed cut back stops appends until the log is reopened.
   * Returns the error for the appenders.
   */
  async #writeFailed(err: unknown): Promise<OpenFactoryError> {
    const synced = err instanceof SyncFailed
    const cause = synced ? err.cause : err
    const seg = this.active
    const what = `cannot append to ${this.topic}/${this.id}${synced ? ' (fdatasync)' : ''}`
    try {
      await ftruncate(seg.fd, seg.size)
      if (this.#cfg.fsync) await fdatasync(seg.fd)
    } catch (cutErr) {
      this.writeFailure = ioError(
        `${what}, and cutting ${seg.file} back to its last durable batch failed too (${(cutErr as Error).message}); the partition refuses appends until the log is reopened`,
        cause,
        seg.file,
      )
      return this.writeFailure
    }
    if (synced && !isNoSpace(cause)) {
      this.writeFailure = ioError(
        `${what}; the partition refuses appends until the log is reopened (after a failed fdatasync the page cache may not match the disk)`,
        cause,
        seg.file,
      )
      return this.writeFailure
    }
    return ioError(what, cause, seg.file)
  }

  /**
   * Starts a new active segment at `base`; the file and its directory entry are durable before use. A file left
   * by an attempt that failed (a full disk) is taken over when it is empty, removed when the attempt fails.
   */
  async #roll(base: number): Promise<Segment> {
    const seg = new Segment(this.dir, base)
    let fd: number
    try {
      fd = await openFile(seg.file, 'wx+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      fd = await openFile(seg.file, 'r+')
      if ((await fstat(fd)).size !== 0) {
        await closeFile(fd)
        throw err
      }
    }
    try {
      if (this.#cfg.fsync) await fsyncDir(this.dir)
    } catch (err) {
      await closeFile(fd).catch(() => {})
      await fs.promises.rm(seg.file, { force: true }).catch(() => {})
      throw err
    }
    seg.setFd(fd)
    this.segments.push(seg)
    return seg
  }

  // ---- appending through the write-ahead file -----------------------------------------------------------------

  /** Sends this partition's appends through `wal` from now on (the writer opens the WAL once the topics are open). */
  useWal(wal: WalWriter): void {
    this.#wal = wal
  }

  /** WAL mode: hands the finished batches to the WAL writer (the one being built is finished too). */
  takeQueued(budget: number): BatchBuilder[] {
    const all = this.#queue
    if (all.length === 0) return []
    let n = 0
    let bytes = 0
    while (n < all.length && (n === 0 || bytes + all[n]!.bytes <= budget)) bytes += all[n++]!.bytes
    const q = n === all.length ? all : all.slice(0, n)
    this.#queue = n === all.length ? [] : all.slice(n)
    if (this.#open && q.includes(this.#open)) this.#open = null
    const refused = this.failure ?? this.writeFailure
    if (refused) {
      for (const b of all) b.reject(refused)
      this.#queue = []
      this.#open = null
      if (this.#inWal === 0) this.nextOffset = this.endOffset
      this.#settleIdle()
      return []
    }
    this.#inWal += q.length
    return q
  }

  /** WAL mode: batches are waiting (left over by the WAL record's budget). */
  get hasQueued(): boolean {
    return this.#queue.length > 0
  }

  /**
   * WAL mode: writes the batches to the segment (rolling it when full) while their WAL record is being written
   * and fdatasync'd — the segment write is off the append's path. Nothing is acknowledged or readable in this
   * process before `applyDurable`. Returns the error of a failed write (the caller then settles the batches).
   */
  async writeBehind(items: readonly WalItem[]): Promise<OpenFactoryError | null> {
    const placed: { seg: Segment; position: number }[] = []
    this.#placed = placed
    let seg = this.active
    try {
      // A roll happens only before a group commit's batches, never among them: a segment is sealed complete (no
      // write of it in flight, which compaction or retention could miss), and durable — only the active one is
      // written behind the WAL. (So a segment may pass segmentBytes by one group commit's batches.)
      const first = items[0]!
      if (seg.size > 0 && seg.size + first.bytes.length > this.#cfg.segmentBytes) {
        if (this.#dirty && this.#cfg.fsync) await fdatasync(seg.fd)
        this.#dirty = false
        seg = await this.#roll(first.b.baseOffset)
      }
      let pos = seg.size
      for (const { bytes } of items) {
        this.#dirty = true
        await writeAll(seg.fd, bytes, pos)
        placed.push({ seg, position: pos })
        pos += bytes.length
      }
      return null
    } catch (err) {
      placed.push({ seg, position: seg.size })
      return ioError(`cannot append to ${this.topic}/${this.id}`, err, seg.file)
    }
  }

  #placed: { seg: Segment; position: number }[] = []

  /**
   * WAL mode, a group commit of this partition alone: the batches go to the segment, which is fdatasync'd (as
   * without the WAL). A failed fdatasync other than a full disk stops appends until the log is reopened.
   */
  async writeDirect(items: readonly WalItem[]): Promise<OpenFactoryError | null> {
    const err = await this.writeBehind(items)
    if (err || !this.#cfg.fsync) return err
    const seg = this.active
    try {
      await fdatasync(seg.fd)
      this.#dirty = false
      return null
    } catch (cause) {
      const what = `cannot append to ${this.topic}/${this.id} (fdatasync)`
      if (isNoSpace(cause)) return ioError(what, cause, seg.file)
      this.writeFailure = ioError(
        `${what}; the partition refuses appends until the log is reopened (after a failed fdatasync the page cache may not match the disk)`,
        cause,
        seg.file,
      )
      return this.writeFailure
    }
  }

  /** WAL mode: the batches' WAL record is durable: they count in the segment, and are acknowledged. */
  applyDurable(items: readonly WalItem[]): void {
    const placed = this.#placed
    this.#placed = []
    for (let i = 0; i < items.length; i++) {
      const { b, bytes } = items[i]!
      const { seg, position } = placed[i]!
      seg.addBatch({
        position,
        length: bytes.length,
        baseOffset: b.baseOffset,
        lastOffset: b.lastOffset,
        recordCount: b.count,
        maxTimestamp: b.maxTimestamp,
      })
      this.endOffset = b.lastOffset + 1
      this.#capacityHint = Math.min(
        this.#cfg.maxBatchBytes + HEADER_SIZE,
        Math.max(16 * 1024, Math.ceil(bytes.length * 1.25)),
      )
      if (!this.#spare || this.#spare.length < b.buf.length) this.#spare = b.buf
      b.resolve()
    }
    this.#inWal -= items.length
    this.marks?.noteEnd(this.endOffset)
    this.#notify()
    this.#settleIdle()
  }

  /**
   * WAL mode: the group commit failed (the WAL write, or a segment write); these batches and every one behind
   * them fail (their offsets go out again). What `writeBehind` wrote of them is cut off the segments again (and the cut made durable), as after a
   * failed segment write without the WAL; a failed cut stops appends until the log is reopened.
   */
  walFailed(items: readonly WalItem[], err: OpenFactoryError): Promise<void> {
    // Settled at once: an append that follows must get the offsets given back, not ones after the failed batches.
    const touched = new Set(this.#placed.map((x) => x.seg))
    this.#placed = []
    touched.add(this.active)
    for (const it of items) it.b.reject(err)
    for (const later of this.#queue) later.reject(err)
    this.#queue = []
    this.#open = null
    this.#inWal -= items.length
    this.nextOffset = this.endOffset
    // The cut back is done before the WAL writer writes again (it awaits this).
    return this.#cutBack(touched, err).finally(() => this.#settleIdle())
  }

  async #cutBack(touched: Set<Segment>, err: OpenFactoryError): Promise<void> {
    for (const seg of touched) {
      try {
        if (seg.fd < 0) continue
        await ftruncate(seg.fd, seg.size)
        if (this.#cfg.fsync) await fdatasync(seg.fd)
      } catch (cutErr) {
        this.writeFailure = ioError(
          `cannot append to ${this.topic}/${this.id}, and cutting ${seg.file} back to its last durable batch failed too (${(cutErr as Error).message}); the partition refuses appends until the log is reopened`,
          err,
          seg.file,
        )
      }
    }
  }

  /** WAL mode (checkpoint): makes what was written to the active segment durable. */
  async syncSegments(): Promise<void> {
    if (!this.#dirty || this.segments.length === 0) return
    this.#dirty = false
    try {
      await fdatasync(this.active.fd)
    } catch (err) {
      this.#dirty = true
      throw err
    }
  }

  #settleIdle(): void {
    if (this.#inWal > 0 || this.#queue.length > 0) return
    const idle = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of idle) w()
  }

  /** Resolves once every enqueued record is durable (or failed). */
  flushed(): Promise<void> {
    if (!this.#flushing && !this.#flushScheduled && this.#queue.length === 0 && this.#inWal === 0)
      return Promise.resolve()
    if (this.#wal && this.#queue.length > 0 && this.#inWal === 0) this.#wal.schedule(this)
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve)).then(() => this.flushed())
  }

  // ---- change notification ----------------------------------------------------------------------------------

  /** Calls `cb` once, the next time records become durable. Returns a function that cancels it. */
  onChange(cb: () => void): () => void {
    this.#waiters.add(cb)
    return () => this.#waiters.delete(cb)
  }

  #notify(): void {
    if (this.#waiters.size === 0) return
    const ws = [...this.#waiters]
    this.#waiters.clear()
    for (const w of ws) w()
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  /** Reads records from `offset`: at most `maxRecords`, stopping after about `maxBytes`. */
  async read(offset: number, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    if (this.#closed) throw closedError()
    this.check()
    // Read-only: look for the writer's new records only when reading past what is known (the descriptors held
    // keep older segments readable even if the writer deletes or compacts them meanwhile).
    if (this.#cfg.readOnly && offset >= this.endOffset) await this.refresh()
    this.check()
    if (offset < this.startOffset || offset > this.endOffset) {
      throw new OpenFactoryError(
        'OFA_LOG_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside ${this.topic}/${this.id}, which holds offsets ${this.startOffset} to ${this.endOffset} (exclusive)`,
      )
    }
    const out: LogRecord[] = []
    const end = this.endOffset
    let next = offset
    let bytes = 0
    while (next < end && out.length < maxRecords && bytes < maxBytes) {
      const seg = this.#segmentFor(next)
      if (!seg) {
        if (out.length > 0) break
        throw new OpenFactoryError(
          'OFA_LOG_OFFSET_OUT_OF_RANGE',
          `offset ${next} of ${this.topic}/${this.id} was deleted by retention`,
        )
      }
      let fd: number
      try {
        fd = await seg.acquire()
      } catch (err) {
        if (err instanceof RetiredSegment) {
          if (this.#closed) throw closedError()
          continue
        }
        throw ioError(`cannot read ${seg.file}`, err)
      }
      try {
        const r = await this.#readSegment(seg, fd, next, maxRecords, maxBytes - bytes, out)
        bytes += r.bytes
        next = r.exhausted ? Math.max(next, this.#baseAfter(seg, end)) : r.next
      } finally {
        seg.release()
      }
    }
    return { records: out, next: Math.min(next, end) }
  }

  /** The segment holding `offset`: the last one whose base is at or below it. */
  #segmentFor(offset: number): Segment | undefined {
    const segs = this.segments
    let lo = 0
    let hi = segs.length - 1
    let best = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (segs[mid]!.base <= offset) {
        best = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return best < 0 ? undefined : segs[best]
  }

  /** The base of the first segment after `seg` in the current list (or `end`). */
  #baseAfter(seg: Segment, end: number): number {
    for (const s of this.segments) if (s.base > seg.base) return s.base
    return end
  }

  /**
   * Reads batches of one segment from the batch holding `from`, in chunks; while a chunk decodes, the next one
   * is already being read when the read will need it. Every batch delivered has its checksums verified.
   */
  async #readSegment(
    seg: Segment,
    fd: number,
    from: number,
    maxRecords: number,
    maxBytes: number,
    out: LogRecord[],
  ): Promise<{ next: number; bytes: number; exhausted: boolean }> {
    let pos = seg.positionFor(from)
    const limit = seg.size
    let bytes = 0
    let next = from
    const avg = seg.records > 0 ? seg.size / seg.records : 256
    const chunkAt = (p: number, planned: number, plannedBytes: number): number => {
      const want = Math.ceil((maxRecords - out.length - planned) * avg * 1.25) + HEADER_SIZE
      return Math.min(
        limit - p,
        READ_CHUNK,
        Math.max(MIN_READ, Math.min(want, maxBytes - bytes - plannedBytes + HEADER_SIZE)),
      )
    }
    const target = { topic: this.topic, partition: this.id, minOffset: from, maxRecords, out, file: seg.file }
    const headers: BatchHeader[] = []
    let pending: Promise<Buffer> | null = pos < limit ? readAt(fd, pos, chunkAt(pos, 0, 0)) : null
    try {
      while (pending) {
        const buf = await pending
        pending = null
        // The complete batches in this chunk.
        headers.length = 0
        let at = 0
        let planned = 0
        let plannedBytes = 0
        while (at + HEADER_SIZE <= buf.length) {
          const h = parseHeader(buf, at, pos + at)
          if (typeof h === 'string') throw corrupt(seg.file, pos + at, h)
          if (at + h.length > buf.length) {
            if (at === 0) {
              // A batch larger than the chunk: read it whole.
              if (pos + h.length > limit) throw corrupt(seg.file, pos, 'batch runs past the valid end of the segment')
              pending = readAt(fd, pos, h.length)
            }
            break
          }
          headers.push(h)
          if (h.lastOffset >= from) {
            planned += h.recordCount
            plannedBytes += h.length
          }
          at += h.length
        }
        if (headers.length === 0) {
          if (pending) continue
          throw corrupt(seg.file, pos, 'segment file is shorter than its valid batches')
        }
        const chunkEnd = pos + at
        if (chunkEnd < limit && out.length + planned < maxRecords && bytes + plannedBytes < maxBytes) {
          pending = readAt(fd, chunkEnd, chunkAt(chunkEnd, planned, plannedBytes))
        }
        for (const h of headers) {
          if (h.lastOffset < from) continue
          const rel = h.position - pos
          if (!bodyCrcMatches(buf, rel, h))
            throw corrupt(seg.file, h.position, `batch checksum mismatch at offset ${h.baseOffset}`)
          decodeRecords(buf, rel, h, target)
          if (out.length >= maxRecords) {
            const last = out[out.length - 1]!
            return { next: last.offset + 1, bytes: bytes + h.length, exhausted: false }
          }
          bytes += h.length
          next = h.lastOffset + 1
          if (bytes >= maxBytes) return { next, bytes, exhausted: h.position + h.length >= limit }
        }
        if (buf.length < chunkEnd - pos)
          throw corrupt(seg.file, chunkEnd, 'segment file is shorter than its valid batches')
        pos = chunkEnd
        if (!pending && pos < limit) pending = readAt(fd, pos, chunkAt(pos, 0, 0))
      }
    } finally {
      // Never give the descriptor back with a read in flight.
      if (pending) await pending.catch(() => {})
    }
    return { next, bytes, exhausted: true }
  }

  // ---- read-only mode --------------------------------------------------------------------------------------

  /**
   * Read-only mode: picks up what the owning process wrote since the last look. A grown active segment is
   * scanned from where the last scan stopped; a changed set of segment files (roll, retention, compaction) is
   * reloaded whole.
   */
  refresh(): Promise<void> {
    if (!this.#cfg.readOnly || this.failure) return Promise.resolve()
    if (!this.#refreshing) {
      this.#refreshing = this.#refresh().finally(() => {
        this.#refreshing = null
      })
    }
    return this.#refreshing
  }

  async #refresh(): Promise<void> {
    const before = this.endOffset
    try {
      const { bases } = await listSegmentFiles(this.dir)
      const same = bases.length === this.segments.length && bases.every((b, i) => b === this.segments[i]!.base)
      if (same) {
        const seg = this.active
        const fd = await seg.acquire()
        try {
          const size = (await fstat(fd)).size
          if (size > seg.size) await scanActive(seg, fd, size, seg.size, seg.lastOffset, this.#cfg.contiguous)
        } finally {
          seg.release()
        }
      } else {
        const marks = await readMarks(path.join(this.dir, MARKS_FILE)).catch((): MarksRead => ({ kind: 'missing' }))
        const fresh = await loadSegments(this.#cfg, marks)
        const old = this.segments
        this.segments = fresh
        for (const s of old) s.retire()
      }
      this.endOffset = this.nextOffset = this.active.lastOffset + 1
    } catch (err) {
      if (err instanceof RetiredSegment) return
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      this.failure =
        err instanceof OpenFactoryError ? err : ioError(`cannot read partition ${this.topic}/${this.id}`, err)
      for (const s of this.segments) s.retire()
    }
    if (this.endOffset > before) this.#notify()
  }

  // ---- maintenance (compaction, retention) -----------------------------------------------------------------

  /** Runs `fn` with no other maintenance on this partition at the same time. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#maintenance.then(fn, fn)
    this.#maintenance = run.catch(() => {})
    return run
  }

  /** Replaces `old` (consecutive sealed segments) with `replacement`. */
  replaceSegments(old: readonly Segment[], replacement: Segment): void {
    const i = this.segments.indexOf(old[0]!)
    if (i < 0) throw new Error('segments changed during maintenance')
    this.segments.splice(i, old.length, replacement)
    for (const s of old) s.retire()
  }

  /** Removes the oldest `n` segments from the list (retention); the caller deletes their files. */
  dropOldest(n: number): Segment[] {
    const dropped = this.segments.splice(0, n)
    for (const s of dropped) s.retire()
    return dropped
  }

  async close(): Promise<void> {
    await this.flushed()
    await this.#maintenance
    this.#closed = true
    this.#notify()
    await this.marks?.close()
    for (const s of this.segments) await s.close()
  }
}

/** A write reached the file but its fdatasync failed (`cause`). */
class SyncFailed extends Error {}

/**
 * Opens the segments of a partition directory. Sealed segments get a header scan (their records' checksums are
 * checked on every read); the active segment is scanned whole. In the active segment, the first invalid batch
 * is a torn tail when no valid batch follows it — the writer has at most one unacknowledged batch per
 * partition, always the last — and is cut (writer) or ignored (read-only), unless the partition's high-water
 * mark says that records beyond it were acknowledged: then acknowledged data is lost, and nothing is cut. Any
 * damage raises `OFA_LOG_CORRUPT` naming the file and byte offset. A batch must lie inside its segment's range
 * (above the previous batch, below the next segment's base offset) and, where `contiguous`, follow it without a
 * gap; segments too (a missing segment is a gap); the first segment must not start above the start mark.
 */
async function loadSegments(cfg: PartitionConfig, marks: MarksRead): Promise<Segment[]> {
  let bases: number[]
  const mark = marks.kind === 'ok' ? marks.values : null
  try {
    bases = await settledSegmentBases(cfg.dir, cfg.readOnly)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(cfg.dir, 0, 'partition directory is missing')
    throw err
  }
  if (bases.length === 0) {
    const held = mark && mark.end > mark.start ? `; offsets ${mark.start} to ${mark.end - 1} were acknowledged` : ''
    throw corrupt(cfg.dir, 0, `partition directory holds no segment file${held}`)
  }
  if (mark && bases[0]! > mark.start) {
    // A reader may have read the marks before retention moved the start: look again before calling it damage.
    const again = cfg.readOnly ? await readMarks(path.join(cfg.dir, MARKS_FILE)) : marks
    if (again.kind !== 'ok' || bases[0]! > again.values.start) {
      const start = again.kind === 'ok' ? again.values.start : mark.start
      throw corrupt(
        path.join(cfg.dir, segmentName(bases[0]!)),
        0,
        `offsets ${start} to ${bases[0]! - 1} are missing: the segments before this one were deleted, and not by retention`,
      )
    }
  }
  const segments: Segment[] = []
  try {
    let after = -1
    for (let i = 0; i < bases.length; i++) {
      const seg = new Segment(cfg.dir, bases[i]!)
      if (i > 0 && cfg.contiguous && seg.base !== after + 1) {
        throw corrupt(
          seg.file,
          0,
          `offsets ${after + 1} to ${seg.base - 1} are missing before this segment (a segment file was deleted or cut short)`,
        )
      }
      const isActive = i === bases.length - 1
      const fd = await openFile(seg.file, isActive && !cfg.readOnly ? 'r+' : 'r')
      seg.setFd(fd)
      segments.push(seg)
      const st = await fstat(fd)
      if (isActive) {
        const wal = !cfg.readOnly ? (cfg.walEntries ?? []) : []
        const tail =
          wal.length > 0
            ? await replayWal(cfg, seg, fd, st.size, Math.max(after, seg.base - 1), wal)
            : await scanActive(seg, fd, st.size, 0, Math.max(after, seg.base - 1), cfg.contiguous)
        if (mark && seg.lastOffset + 1 < mark.end && !(cfg.readOnly && cfg.walPending)) {
          throw corrupt(seg.file, seg.size, lostAtEndMessage(seg.lastOffset + 1, mark.end, tail?.reason))
        }
        if (!cfg.readOnly && seg.size < st.size) {
          await ftruncate(fd, seg.size)
          if (cfg.fsync) await fdatasync(fd)
        } else if (!cfg.readOnly && cfg.walEntries && cfg.fsync) {
          // After a crash with the WAL, the segment may hold a batch written beside a WAL record that never
          // became durable: kept (like an unacknowledged last batch without the WAL), it must be on disk before
          // the WAL records that follow it are written.
          await fdatasync(fd)
        }
      } else {
        const r = await scanBatches(
          fd,
          0,
          st.size,
          {
            checkBodies: false,
            continueAfterDamage: false,
            afterOffset: Math.max(after, seg.base - 1),
            belowOffset: bases[i + 1]!,
            contiguous: cfg.contiguous,
          },
          (h) => seg.addBatch(h),
        )
        const d = r.damage[0]
        if (d) throw corrupt(seg.file, d.position, d.reason)
      }
      after = Math.max(after, seg.lastOffset)
    }
  } catch (err) {
    for (const s of segments) await s.close()
    throw err
  }
  return segments
}

/**
 * The base offsets of the partition's segments once interrupted compactions are accounted for: the writer
 * finishes them (see `recoverCompactions`); a reader waits a little for a compaction in progress to finish,
 * then leaves out what a finished swap replaced.
 */
async function settledSegmentBases(dir: string, readOnly: boolean): Promise<number[]> {
  for (let attempt = 0; ; attempt++) {
    const listing = await listSegmentFiles(dir)
    const swapping = listing.others.some((n) => n.endsWith(SWAP_SUFFIX))
    if (swapping && readOnly && attempt < 50) {
      await delay(20) // (a reader opening has nothing else to keep its process alive: not model's unref'd sleep)
      continue
    }
    if (!swapping && readOnly) return listing.bases
    const { ignore } = await recoverCompactions(dir, listing.others, readOnly)
    if (readOnly) return listing.bases.filter((b) => !ignore.has(b))
    return (await listSegmentFiles(dir)).bases
  }
}

/**
 * Scans the active segment from `from` (bytes before it are known valid), adding valid batches to `seg`.
 * Damage with nothing valid after it is a torn tail: `seg.size` stays at its start, the caller cuts or ignores
 * it. Damage followed by a valid batch is corruption.
 */
async function scanActive(
  seg: Segment,
  fd: number,
  size: number,
  from: number,
  afterOffset: number,
  contiguous: boolean,
): Promise<Damage | undefined> {
  const r = await scanBatches(
    fd,
    from,
    size,
    { checkBodies: true, continueAfterDamage: false, afterOffset, belowOffset: Number.POSITIVE_INFINITY, contiguous },
    (h) => seg.addBatch(h),
  )
  return activeDamage(seg, r.damage[0], size)
}

/** The torn tail of an active segment (`d`, when nothing valid follows it); other damage throws. */
function activeDamage(seg: Segment, d: Damage | undefined, size: number): Damage | undefined {
  if (d?.gap) throw corrupt(seg.file, d.position, d.reason)
  if (d && d.end < size) {
    throw corrupt(seg.file, d.position, `${d.reason}, and acknowledged batches follow it`)
  }
  return d
}

/**
 * Replays the WAL batches beyond the active segment's valid batches into it (writer, at open). Returns false when
 * there is none to replay (the segment is then opened as without a WAL). Bytes after the segment's valid batches
 * were written behind the WAL (segments are not fdatasync'd before a checkpoint), so whatever they hold — a torn
 * batch, zeros, or valid batches after a hole left by a crash of the machine — is rewritten from the WAL, which
 * holds every batch from the first offset missing. A WAL batch that does not follow the segment's end (a gap) is
 * damage. The segment is fdatasync'd after the replay, before the WAL files can go.
 */
async function replayWal(
  cfg: PartitionConfig,
  seg: Segment,
  fd: number,
  size: number,
  afterOffset: number,
  wal: readonly WalEntry[],
): Promise<Damage | undefined> {
  const r = await scanBatches(
    fd,
    0,
    size,
    {
      checkBodies: true,
      continueAfterDamage: false,
      afterOffset,
      belowOffset: Number.POSITIVE_INFINITY,
      contiguous: cfg.contiguous,
    },
    (h) => seg.addBatch(h),
  )
  let i = 0
  while (i < wal.length && wal[i]!.header.lastOffset <= seg.lastOffset) i++
  if (i === wal.length) {
    // Nothing to replay: the segment is judged as without a WAL, and made durable (what it holds of the WAL may
    // be in the page cache only, and the WAL files go once the partitions are open).
    const d = activeDamage(seg, r.damage[0], size)
    if (cfg.fsync) await fdatasync(fd)
    return d
  }
  let at = seg.lastOffset
  let pos = seg.size
  for (; i < wal.length; i++) {
    const e = wal[i]!
    if (e.header.baseOffset !== at + 1) {
      const d = r.damage[0]
      throw corrupt(
        e.file,
        e.position,
        `the write-ahead batch of ${cfg.topic}/${cfg.partition} with offsets ${e.header.baseOffset} to ${e.header.lastOffset} does not follow offset ${at}, where ${seg.file} ends${d ? ` (${d.reason} at byte ${d.position})` : ''}: offsets are missing (a WAL record or a segment is damaged)`,
      )
    }
    await writeAll(fd, e.bytes, pos)
    seg.addBatch({ ...e.header, position: pos })
    pos += e.bytes.length
    at = e.header.lastOffset
  }
  if (size > pos) await ftruncate(fd, pos)
  if (cfg.fsync) await fdatasync(fd)
  return undefined
}

/** Why a partition whose end is below its high-water mark is damage (`tail`: what the bytes after the end are). */
export function lostAtEndMessage(end: number, highWaterMark: number, tail: string | undefined): string {
  const bytes = tail ? `the bytes from here hold no valid batch (${tail}), and ` : ''
  return `acknowledged records are damaged or missing: ${bytes}the partition ends at offset ${end}, yet offsets up to ${highWaterMark - 1} were acknowledged (high-water mark); a segment was damaged, cut short or deleted`
}
