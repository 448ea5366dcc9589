// Segment files: one per range of offsets of a partition, named after the first offset it may hold.
import fs from 'node:fs'
import path from 'node:path'
import { BATCH_MAGIC, type BatchHeader, bodyCrcMatches, HEADER_SIZE, parseHeader } from './batch-format.ts'
import { closeFile, openFile, readAt } from './fs-util.ts'

export const SEGMENT_SUFFIX = '.log'
const SEGMENT_RE = /^(\d{20})\.log$/
/**
 * Batches are indexed in memory about every this many bytes (Kafka's index.interval.bytes is 4 KiB, but its index
 * lives in files). 12 bytes an entry: 0.75 MiB of memory per GiB of log held, which a log written at 4.5 MB/s
 * (bench/soak.ts) grows by ≈ 12 MiB an hour until retention drops segments. A read finds its batch from the entry
 * before it within one read chunk (`MIN_READ`, 64 KiB, in partition.ts), so the interval costs no extra read.
 */
const INDEX_INTERVAL = 16 * 1024
const SCAN_CHUNK = 1 << 20

export function segmentFileName(base: number): string {
  return `${String(base).padStart(20, '0')}${SEGMENT_SUFFIX}`
}

/** The base offset a segment file name gives, or -1 when the name is not a segment's. */
export function parseSegmentName(name: string): number {
  const m = SEGMENT_RE.exec(name)
  if (!m) return -1
  const n = Number(m[1])
  return Number.isSafeInteger(n) ? n : -1
}

/** Thrown by `Segment.acquire` on a segment retired meanwhile: the caller looks the offset up again. */
export class RetiredSegment extends Error {}

/**
 * One segment file. The file holds the batches in `[0, size)`; bytes past `size` (a torn tail being cut, or a
 * write in flight) are never read. A sparse in-memory index maps offsets to file positions.
 */
export class Segment {
  readonly base: number
  readonly file: string
  /** Bytes of valid, durable batches. */
  size = 0
  /** Offset of the last record (`base - 1` when empty). */
  lastOffset: number
  maxTimestamp = Number.NEGATIVE_INFINITY
  batches = 0
  records = 0
  /** Inode at open (read-only mode notices a compacted file replacing this one). */
  ino = 0
  #fd = -1
  #opening: Promise<number> | null = null
  #pins = 0
  #retired = false
  #drained: (() => void)[] = []
  /** The sparse index: `#idxCount` entries of a batch's base offset and its position, grown by doubling. */
  #idxOffsets = new Float64Array(8)
  #idxPositions = new Uint32Array(8)
  #idxCount = 0
  #lastIndexed = Number.NEGATIVE_INFINITY

  constructor(dir: string, base: number) {
    this.base = base
    this.file = path.join(dir, segmentFileName(base))
    this.lastOffset = base - 1
  }

  get retired(): boolean {
    return this.#retired
  }

  /** Adopts an already open descriptor (the writer's active segment). */
  setFd(fd: number): void {
    this.#fd = fd
  }

  get fd(): number {
    return this.#fd
  }

  /** Records a valid batch at `position` (during a scan, or after a flush made it durable). */
  addBatch(h: {
    position: number
    length: number
    baseOffset: number
    lastOffset: number
    recordCount: number
    maxTimestamp: number
  }): void {
    if (h.position - this.#lastIndexed >= INDEX_INTERVAL) {
      const n = this.#idxCount
      if (n === this.#idxOffsets.length) {
        const offsets = new Float64Array(n * 2)
        offsets.set(this.#idxOffsets)
        this.#idxOffsets = offsets
        const positions = new Uint32Array(n * 2)
        positions.set(this.#idxPositions)
        this.#idxPositions = positions
      }
      this.#idxOffsets[n] = h.baseOffset
      this.#idxPositions[n] = h.position
      this.#idxCount = n + 1
      this.#lastIndexed = h.position
    }
    this.size = h.position + h.length
    this.lastOffset = h.lastOffset
    if (h.maxTimestamp > this.maxTimestamp) this.maxTimestamp = h.maxTimestamp
    this.batches++
    this.records += h.recordCount
  }

  /** A file position at or before the batch holding `offset` (the start of a batch). */
  positionFor(offset: number): number {
    const offs = this.#idxOffsets
    let lo = 0
    let hi = this.#idxCount - 1
    let best = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (offs[mid]! <= offset) {
        best = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return best < 0 ? 0 : this.#idxPositions[best]!
  }

  /** Pins the segment and returns its descriptor (opened for reading on first use). */
  async acquire(): Promise<number> {
    if (this.#retired) throw new RetiredSegment()
    this.#pins++
    try {
      if (this.#fd >= 0) return this.#fd
      if (!this.#opening) this.#opening = openFile(this.file, 'r')
      const fd = await this.#opening
      this.#fd = fd
      return fd
    } catch (err) {
      this.#opening = null
      this.release()
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RetiredSegment()
      throw err
    }
  }

  release(): void {
    this.#pins--
    if (this.#pins === 0 && this.#retired) {
      const waiters = this.#drained
      this.#drained = []
      void this.#closeFd().then(() => {
        for (const w of waiters) w()
      })
    }
  }

  /** Takes the segment out of use: its descriptor closes once no reader holds it. */
  retire(): void {
    this.#retired = true
    if (this.#pins === 0) void this.#closeFd()
  }

  async #closeFd(): Promise<void> {
    const fd = this.#fd
    this.#fd = -1
    this.#opening = null
    if (fd >= 0) await closeFile(fd).catch(() => {})
  }

  /** Retires the segment and resolves once its descriptor is closed (after the reads in flight). */
  async close(): Promise<void> {
    this.#retired = true
    if (this.#pins > 0) await new Promise<void>((resolve) => this.#drained.push(resolve))
    else await this.#closeFd()
  }
}

/**
 * A damaged region of a segment: from `position` to the next valid batch, or to the end of the file. A `gap` is
 * no bytes at all: valid batches whose offsets do not follow each other (a batch was cut out), `baseOffset` to
 * `lastOffset` being the offsets missing.
 */
export interface Damage {
  readonly position: number
  readonly end: number
  readonly reason: string
  /** Offsets the damaged batch's header claims, when its header is readable; for a gap, the offsets missing. */
  readonly baseOffset?: number
  readonly lastOffset?: number
  readonly gap?: true
}

export interface ScanOptions {
  /** Verify every batch's records checksum (reads the whole file), not just the headers. */
  readonly checkBodies: boolean
  /** Keep scanning after damage (verify and repair); otherwise stop at the first damage. */
  readonly continueAfterDamage: boolean
  /** Batches must start above this offset (the previous batch's last offset). */
  readonly afterOffset: number
  /** Batches must end below this offset (the next segment's base); Infinity for the last segment. */
  readonly belowOffset: number
  /**
   * Batches must follow each other without a gap (each starts right after the one before, the first at
   * `afterOffset + 1`): a gap is reported as damage (`gap: true`) and the scan goes on. Every batch a writer or
   * compaction writes keeps this (format version 2; see embedded-driver.ts).
   */
  readonly contiguous?: boolean
}

export interface ScanResult {
  /** End of the last valid batch before the first damage (the file size when there is none). */
  readonly validEnd: number
  readonly damage: readonly Damage[]
}

const MAGIC_BYTES = Buffer.from([
  BATCH_MAGIC & 0xff,
  (BATCH_MAGIC >>> 8) & 0xff,
  (BATCH_MAGIC >>> 16) & 0xff,
  BATCH_MAGIC >>> 24,
])

/** Reads a file through a window of `SCAN_CHUNK` bytes. */
class Window {
  buf: Buffer = Buffer.alloc(0)
  start = 0
  readonly fd: number
  readonly size: number
  constructor(fd: number, size: number) {
    this.fd = fd
    this.size = size
  }
  /** Makes `[pos, pos + len)` available at `buf[pos - start]`; false when it runs past the end of the file. */
  async ensure(pos: number, len: number): Promise<boolean> {
    if (pos + len > this.size) return false
    if (pos >= this.start && pos + len <= this.start + this.buf.length) return true
    this.buf = await readAt(this.fd, pos, Math.min(Math.max(len, SCAN_CHUNK), this.size - pos))
    this.start = pos
    return this.buf.length >= len
  }
}

/**
 * Scans the batches of a segment file from `from` to `size`, calling `onBatch` for each valid one, and reports
 * damaged regions. A batch is valid when its header parses (magic, header checksum, sane length), it ends within
 * the file, its offsets follow the previous batch and stay in the segment's range, and — with `checkBodies` —
 * its records match their checksum. After damage, the next valid batch is searched for by its magic number,
 * so that the caller can tell a torn tail (nothing valid follows) from damage in the middle. `onBatch` gets
 * the header and, when bodies are checked, the buffer holding the whole batch at `at`.
 */
export async function scanBatches(
  fd: number,
  from: number,
  size: number,
  opts: ScanOptions,
  onBatch: (h: BatchHeader, buf: Buffer, at: number) => void,
): Promise<ScanResult> {
  const win = new Window(fd, size)
  const damage: Damage[] = []
  let pos = from
  let after = opts.afterOffset
  let validEnd = -1
  let afterDamage = false
  while (pos < size) {
    const h = await validBatchAt(win, pos, after, opts.belowOffset, opts.checkBodies)
    if (typeof h !== 'string') {
      // (Right after damage, the damaged bytes explain the missing offsets: no gap of its own.)
      if (opts.contiguous && h.baseOffset !== after + 1 && !afterDamage) {
        if (validEnd < 0) validEnd = pos
        damage.push({
          position: pos,
          end: pos,
          reason: `offsets ${after + 1} to ${h.baseOffset - 1} are missing before this batch`,
          baseOffset: after + 1,
          lastOffset: h.baseOffset - 1,
          gap: true,
        })
        if (!opts.continueAfterDamage) break
      }
      onBatch(h, win.buf, pos - win.start)
      after = h.lastOffset
      pos += h.length
      afterDamage = false
      continue
    }
    if (validEnd < 0) validEnd = pos
    const claimed = await claimedOffsets(win, pos)
    const next = await findNextValid(win, pos + 1, after, opts.belowOffset)
    damage.push({ position: pos, end: next < 0 ? size : next, reason: h, ...claimed })
    afterDamage = true
    if (next < 0 || !opts.continueAfterDamage) break
    pos = next
  }
  return { validEnd: validEnd < 0 ? size : validEnd, damage }
}

async function validBatchAt(
  win: Window,
  pos: number,
  after: number,
  below: number,
  checkBody: boolean,
): Promise<BatchHeader | string> {
  if (!(await win.ensure(pos, HEADER_SIZE))) return 'incomplete batch header at the end of the file'
  const h = parseHeader(win.buf, pos - win.start, pos)
  if (typeof h === 'string') return h
  if (pos + h.length > win.size) return 'batch runs past the end of the file'
  if (h.baseOffset <= after || h.lastOffset >= below)
    return `batch offsets ${h.baseOffset}..${h.lastOffset} out of order`
  if (checkBody) {
    if (!(await win.ensure(pos, h.length))) return 'batch runs past the end of the file'
    if (!bodyCrcMatches(win.buf, pos - win.start, h)) return 'batch checksum mismatch'
  }
  return h
}

async function claimedOffsets(win: Window, pos: number): Promise<{ baseOffset?: number; lastOffset?: number }> {
  if (!(await win.ensure(pos, HEADER_SIZE))) return {}
  const h = parseHeader(win.buf, pos - win.start, pos)
  return typeof h === 'string' ? {} : { baseOffset: h.baseOffset, lastOffset: h.lastOffset }
}

/** The position of the next fully valid batch at or after `from`, or -1. */
async function findNextValid(win: Window, from: number, after: number, below: number): Promise<number> {
  let pos = from
  while (pos + HEADER_SIZE <= win.size) {
    const len = Math.min(SCAN_CHUNK, win.size - pos)
    if (!(await win.ensure(pos, len))) return -1
    const rel = win.buf.indexOf(MAGIC_BYTES, pos - win.start)
    if (rel < 0 || rel >= pos - win.start + len) {
      pos += Math.max(1, len - 3)
      continue
    }
    const cand = win.start + rel
    const h = await validBatchAt(win, cand, after, below, true)
    if (typeof h !== 'string') return cand
    pos = cand + 1
  }
  return -1
}

/** Lists the segment files of a partition directory, sorted by base offset. */
export async function listSegmentFiles(dir: string): Promise<{ bases: number[]; others: string[] }> {
  const names = await fs.promises.readdir(dir)
  const bases: number[] = []
  const others: string[] = []
  for (const name of names) {
    const base = parseSegmentName(name)
    if (base >= 0) bases.push(base)
    else others.push(name)
  }
  bases.sort((a, b) => a - b)
  return { bases, others }
}
