/**
 * The write-ahead file: one file for every partition of the log, so that a group commit of all partitions is one
 * write and one fdatasync. Each flush is one WAL record holding the batches of every partition that had records
 * waiting (the same bytes as the segment batches), while the batches are written to their segments beside it
 * (no fdatasync there); once the WAL record is durable, the appends are acknowledged. A group commit of one
 * partition skips the WAL: that segment's own write + fdatasync is one fdatasync as well. Segments are made durable at a checkpoint,
 * when the WAL file has grown past `walBytes` (and at close): every partition written since the last checkpoint
 * gets one fdatasync, then a new WAL file starts and the old one is deleted. After a crash, opening replays the
 * WAL records beyond each partition's end into its segments (partition.ts); records already there are skipped,
 * so a replay can be repeated.
 *
 *   <dir>/wal/<seq>.wal     WAL files, <seq> = 20 digits, increasing; only the newest one is written to
 *
 * A WAL record (little-endian):
 *
 *    0  magic          u32   0x4157464f ("OFWA")
 *    4  crc            u32   CRC-32 of bytes 8..32 and of the directory
 *    8  length         u32   the whole record: header, directory and batches
 *   12  count          u32   batches in the record (≥ 1)
 *   16  sequence       u64   increases by record over the WAL files (as two u32: low, high)
 *   24  dirLength      u32   bytes of the directory
 *   28  reserved       u32   0
 *   32  directory      count × (topic length u16, topic UTF-8, partition u32, batch length u32)
 *    …  batches        the batches, in directory order (each with its own header and records checksums)
 *
 * A record is valid when its header and directory match their CRC and every batch in it is valid (header and
 * records checksums): a record whose write never completed (a torn tail) is therefore never replayed in part.
 */
import fs from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import type { OpenFactoryError } from '@openfactory/model'
import { type BatchBuilder, type BatchHeader, bodyCrcMatches, HEADER_SIZE, parseHeader } from './batch-format.ts'
import { corrupt, ioError, isNoSpace } from './errors.ts'
import { closeFile, fdatasync, fsyncDir, ftruncate, openFile, writevAll } from './fs-util.ts'

export const WAL_DIR = 'wal'
export const WAL_MAGIC = 0x4157464f
export const WAL_HEADER_SIZE = 32
/** The default size past which the WAL file is checkpointed and a new one started. */
export const DEFAULT_WAL_BYTES = 64 << 20
const WAL_RE = /^(\d{20})\.wal$/
const MAGIC_BYTES = Buffer.from([0x4f, 0x46, 0x57, 0x41])
/** A WAL record (one write) holds about this many bytes of batches at most; what is left goes in the next one. */
const MAX_RECORD_BYTES = 256 << 20

export function walFileName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.wal`
}

/** One batch of a valid WAL record. */
export interface WalEntry {
  readonly file: string
  /** Byte offset of its record in the WAL file. */
  readonly position: number
  readonly topic: string
  readonly partition: number
  readonly header: BatchHeader
  /** The batch, exactly as it goes into the segment. */
  readonly bytes: Buffer
}

/** A WAL file as found: its valid records end at `validEnd`; `torn` when the bytes after it are a torn tail. */
export interface WalFileScan {
  readonly file: string
  readonly seq: number
  readonly size: number
  readonly validEnd: number
  readonly records: number
  readonly batches: number
  /** The bytes from `validEnd` to the end hold no valid record, and none follows: a write that never completed. */
  readonly torn: { readonly position: number; readonly reason: string } | null
}

/** A damaged WAL record: valid records follow it, so it was acknowledged (or damaged after the fact). */
export interface WalDamage {
  readonly file: string
  readonly position: number
  readonly end: number
  readonly reason: string
}

export interface WalScan {
  readonly dir: string
  readonly files: readonly WalFileScan[]
  readonly damage: readonly WalDamage[]
  /** Entries by `topic/partition`, in WAL order. */
  readonly entries: ReadonlyMap<string, WalEntry[]>
  /** The highest record sequence seen (0 when none). */
  readonly lastSequence: number
  /** The highest WAL file number seen (0 when none). */
  readonly lastFile: number
}

export function walKey(topic: string, partition: number): string {
  return `${topic}/${partition}`
}

/** Lists the WAL files of a data directory, by number. */
export async function listWalFiles(dataDir: string): Promise<{ seq: number; file: string }[]> {
  const dir = path.join(dataDir, WAL_DIR)
  let names: string[]
  try {
    names = await fs.promises.readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: { seq: number; file: string }[] = []
  for (const n of names) {
    const m = WAL_RE.exec(n)
    if (m) out.push({ seq: Number(m[1]), file: path.join(dir, n) })
  }
  return out.sort((a, b) => a.seq - b.seq)
}

/** Reads every WAL file of a data directory: its valid records, torn tails and damage. Changes nothing. */
export async function scanWal(dataDir: string): Promise<WalScan> {
  const files: WalFileScan[] = []
  const damage: WalDamage[] = []
  const entries = new Map<string, WalEntry[]>()
  let lastSequence = 0
  let lastFile = 0
  const list = await listWalFiles(dataDir)
  for (const { seq, file } of list) {
    lastFile = Math.max(lastFile, seq)
    const buf = await fs.promises.readFile(file)
    let pos = 0
    let validEnd = -1
    let records = 0
    let batches = 0
    let torn: WalFileScan['torn'] = null
    while (pos < buf.length) {
      const r = parseWalRecord(buf, pos, file, lastSequence)
      if (typeof r !== 'string') {
        for (const e of r.entries) {
          const k = walKey(e.topic, e.partition)
          const list = entries.get(k)
          if (list) list.push(e)
          else entries.set(k, [e])
        }
        lastSequence = r.sequence
        records++
        batches += r.entries.length
        pos += r.length
        continue
      }
      if (validEnd < 0) validEnd = pos
      const next = findNextRecord(buf, pos + 1, file, lastSequence)
      if (next < 0) {
        torn = { position: pos, reason: r }
        break
      }
      damage.push({ file, position: pos, end: next, reason: r })
      pos = next
    }
    files.push({ file, seq, size: buf.length, validEnd: validEnd < 0 ? buf.length : validEnd, records, batches, torn })
  }
  // Only the newest file is ever written to: an incomplete record at the end of an older one is damage.
  for (let i = 0; i < files.length - 1; i++) {
    const f = files[i]!
    if (f.torn) {
      damage.push({
        file: f.file,
        position: f.torn.position,
        end: f.size,
        reason: `${f.torn.reason} (not the newest WAL file)`,
      })
      files[i] = { ...f, torn: null }
    }
  }
  return { dir: path.join(dataDir, WAL_DIR), files, damage, entries, lastSequence, lastFile }
}

/** The record at `pos`, or why it is not a valid one. */
function parseWalRecord(
  buf: Buffer,
  pos: number,
  file: string,
  afterSequence: number,
): { length: number; sequence: number; entries: WalEntry[] } | string {
  if (pos + WAL_HEADER_SIZE > buf.length) return 'incomplete WAL record header at the end of the file'
  if (buf.readUInt32LE(pos) !== WAL_MAGIC) return 'bad WAL record magic'
  const length = buf.readUInt32LE(pos + 8)
  const count = buf.readUInt32LE(pos + 12)
  const dirLength = buf.readUInt32LE(pos + 24)
  if (dirLength > length || length < WAL_HEADER_SIZE + dirLength) return 'bad WAL record length'
  if (pos + WAL_HEADER_SIZE + dirLength > buf.length) return 'WAL record runs past the end of the file'
  const crc = crc32(
    buf.subarray(pos + WAL_HEADER_SIZE, pos + WAL_HEADER_SIZE + dirLength),
    crc32(buf.subarray(pos + 8, pos + WAL_HEADER_SIZE)),
  )
  if (crc !== buf.readUInt32LE(pos + 4)) return 'WAL record header checksum mismatch'
  const sequence = buf.readUInt32LE(pos + 16) + buf.readUInt32LE(pos + 20) * 2 ** 32
  if (sequence <= afterSequence) return `WAL record sequence ${sequence} does not follow ${afterSequence}`
  if (pos + length > buf.length) return 'WAL record runs past the end of the file'
  if (count === 0) return 'WAL record holds no batch'
  const entries: WalEntry[] = []
  let d = pos + WAL_HEADER_SIZE
  const dEnd = d + dirLength
  let b = dEnd
  for (let i = 0; i < count; i++) {
    if (d + 2 > dEnd) return 'WAL record directory is too short'
    const tl = buf.readUInt16LE(d)
    if (d + 2 + tl + 8 > dEnd) return 'WAL record directory is too short'
    const topic = buf.toString('utf8', d + 2, d + 2 + tl)
    const partition = buf.readUInt32LE(d + 2 + tl)
    const blen = buf.readUInt32LE(d + 6 + tl)
    d += 10 + tl
    if (b + blen > pos + length || blen < HEADER_SIZE) return 'WAL record batch runs past the record'
    const h = parseHeader(buf, b, b)
    if (typeof h === 'string') return `batch ${i} of the WAL record: ${h}`
    if (h.length !== blen) return `batch ${i} of the WAL record: length does not match the directory`
    if (!bodyCrcMatches(buf, b, h)) return `batch ${i} of the WAL record: checksum mismatch`
    entries.push({ file, position: pos, topic, partition, header: h, bytes: buf.subarray(b, b + blen) })
    b += blen
  }
  if (d !== dEnd || b !== pos + length) return 'WAL record sizes do not add up'
  return { length, sequence, entries }
}

/** The position of the next valid record at or after `from`, or -1. */
function findNextRecord(buf: Buffer, from: number, file: string, afterSequence: number): number {
  let pos = from
  for (;;) {
    const at = buf.indexOf(MAGIC_BYTES, pos)
    if (at < 0) return -1
    if (typeof parseWalRecord(buf, at, file, afterSequence) !== 'string') return at
    pos = at + 1
  }
}

/** What the WAL writer needs of a partition (partition.ts implements it). */
export interface WalPartition {
  readonly topic: string
  readonly id: number
  /**
   * Takes the partition's batches waiting to be written (the one being built is closed), at least one and about
   * `budget` bytes at most; `writeFailure` set means appends are refused.
   */
  takeQueued(budget: number): BatchBuilder[]
  /** Batches are waiting (left over by a budget). */
  readonly hasQueued: boolean
  readonly writeFailure: OpenFactoryError | null
  /** Writes the batches to the segment (no fdatasync) beside the WAL write; resolves to its error, or null. */
  writeBehind(items: readonly WalItem[]): Promise<OpenFactoryError | null>
  /** Writes the batches to the segment and fdatasyncs it (a group commit of one partition, without the WAL). */
  writeDirect(items: readonly WalItem[]): Promise<OpenFactoryError | null>
  /** The batches' WAL record is durable: they count in the segment, and are acknowledged. */
  applyDurable(items: readonly WalItem[]): void
  /** The WAL write of these batches failed: their segment writes are cut back, and they fail with `err`. */
  walFailed(items: readonly WalItem[], err: OpenFactoryError): Promise<void>
  /** fdatasyncs what was written to the segments since the last call (a checkpoint). */
  syncSegments(): Promise<void>
}

export interface WalItem {
  readonly b: BatchBuilder
  readonly bytes: Buffer
}

export interface WalWriterOptions {
  readonly fsync: boolean
  readonly lingerMs: number
  readonly walBytes: number
  readonly onWarning: (w: OpenFactoryError) => void
}

/** Writes the WAL of an owning process: one record per group commit, over every partition with records waiting. */
export class WalWriter {
  readonly dir: string
  readonly #o: WalWriterOptions
  #fd = -1
  #file = ''
  #fileSeq: number
  #size = 0
  #sequence: number
  /** WAL files kept for a later open (they hold records that could not be replayed): never deleted here. */
  readonly #pinned: Set<string>
  /** Older WAL files to delete at the next checkpoint. */
  #older: string[] = []
  readonly #pending = new Set<WalPartition>()
  /** Partitions written to since the last checkpoint. */
  readonly #dirty = new Set<WalPartition>()
  #flushing = false
  #scheduled = false
  #idle: (() => void)[] = []
  /** Set when the WAL cannot be trusted any more (a failed fdatasync, a failed cut back): appends are refused. */
  failure: OpenFactoryError | null = null
  #closed = false

  private constructor(dir: string, o: WalWriterOptions, fileSeq: number, sequence: number, pinned: Set<string>) {
    this.dir = dir
    this.#o = o
    this.#fileSeq = fileSeq
    this.#sequence = sequence
    this.#pinned = pinned
  }

  /**
   * Starts a new WAL file after `scan`'s. Files of `scan` not in `pinned` (their records are all in the
   * segments, made durable by the caller) are deleted at the first checkpoint.
   */
  static async open(dataDir: string, o: WalWriterOptions, scan: WalScan, pinned: Set<string>): Promise<WalWriter> {
    const dir = path.join(dataDir, WAL_DIR)
    const w = new WalWriter(dir, o, scan.lastFile, scan.lastSequence, pinned)
    w.#older = scan.files.map((f) => f.file).filter((f) => !pinned.has(f))
    await fs.promises.mkdir(dir, { recursive: true })
    await w.#startFile()
    return w
  }

  async #startFile(): Promise<void> {
    const seq = this.#fileSeq + 1
    const file = path.join(this.dir, walFileName(seq))
    const fd = await openFile(file, 'wx')
    try {
      if (this.#o.fsync) {
        await fsyncDir(this.dir)
        await fsyncDir(path.dirname(this.dir))
      }
    } catch (err) {
      await closeFile(fd).catch(() => {})
      await fs.promises.rm(file, { force: true }).catch(() => {})
      throw err
    }
    if (this.#fd >= 0) {
      const old = this.#file
      await closeFile(this.#fd).catch(() => {})
      this.#older.push(old)
    }
    this.#fd = fd
    this.#file = file
    this.#fileSeq = seq
    this.#size = 0
  }

  get file(): string {
    return this.#file
  }

  /** A partition has records waiting: they go out with the next group commit. */
  schedule(p: WalPartition): void {
    this.#pending.add(p)
    if (this.#flushing || this.#scheduled) return
    this.#scheduled = true
    const run = (): void => {
      this.#scheduled = false
      void this.#loop()
    }
    if (this.#o.lingerMs > 0) setTimeout(run, this.#o.lingerMs)
    else queueMicrotask(run)
  }

  /** Resolves when nothing is waiting or being written. */
  idle(): Promise<void> {
    if (!this.#flushing && !this.#scheduled && this.#pending.size === 0) return Promise.resolve()
    return new Promise<void>((resolve) => this.#idle.push(resolve)).then(() => this.idle())
  }

  async #loop(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#pending.size > 0) {
        const parts = [...this.#pending]
        this.#pending.clear()
        const groups: { p: WalPartition; items: WalItem[] }[] = []
        let budget = MAX_RECORD_BYTES
        for (const p of parts) {
          if (budget <= 0) {
            this.#pending.add(p)
            continue
          }
          const taken = p.takeQueued(budget)
          if (p.hasQueued) this.#pending.add(p)
          if (taken.length === 0) continue
          const items = taken.map((b) => ({ b, bytes: b.finish() }))
          for (const it of items) budget -= it.bytes.length
          groups.push({ p, items })
        }
        if (groups.length === 0) continue
        if (this.failure) {
          const failure = this.failure
          await Promise.all(groups.map((g) => g.p.walFailed(g.items, failure)))
          continue
        }
        if (groups.length === 1) {
          // One partition: the write + fdatasync of its own segment is one fdatasync too, without writing every
          // byte twice (WAL and segment). The segment is then durable up to there, which a replay relies on as
          // it does on a checkpoint.
          const g = groups[0]!
          const err = await g.p.writeDirect(g.items)
          if (err) await g.p.walFailed(g.items, err)
          else g.p.applyDurable(g.items)
          continue
        }
        const bufs: Buffer[] = [encodeHead(groups, this.#sequence + 1)]
        for (const g of groups) for (const it of g.items) bufs.push(it.bytes)
        const length = bufs[0]!.readUInt32LE(8)
        const position = this.#size
        // The segments are written while the WAL record is: nothing of it is acknowledged or read in this
        // process before the WAL's fdatasync (other processes may see it in the segments before: as without
        // the WAL, a reader may see the last batch before it is durable).
        const behind = Promise.all(groups.map((g) => g.p.writeBehind(g.items)))
        let walErr: unknown = null
        try {
          await writevAll(this.#fd, bufs, position)
          if (this.#o.fsync) {
            try {
              await fdatasync(this.#fd)
            } catch (err) {
              throw Object.assign(new SyncFailed(), { cause: err })
            }
          }
        } catch (err) {
          walErr = err
        }
        // A group commit is all or nothing: when the WAL write or a segment write failed, the WAL record and the
        // segment writes are cut back, and every append in it fails (a full disk: retryable).
        const segErr = (await behind).find((e) => e !== null)
        if (walErr !== null || segErr !== undefined) {
          const failure = await this.#writeFailed(walErr ?? segErr, position)
          // (Every partition settles its appends at once, before any cut back is awaited.)
          await Promise.all(groups.map((g) => g.p.walFailed(g.items, failure)))
          continue
        }
        this.#sequence++
        this.#size = position + length
        for (const g of groups) g.p.applyDurable(g.items)
        for (const g of groups) this.#dirty.add(g.p)
        if (this.#size >= this.#o.walBytes) {
          try {
            await this.checkpoint()
          } catch (err) {
            this.#o.onWarning(ioError('cannot checkpoint the write-ahead file (it keeps growing)', err, this.#file))
          }
        }
      }
    } finally {
      this.#flushing = false
      const idle = this.#idle
      this.#idle = []
      for (const w of idle) w()
    }
  }

  /**
   * Cuts the WAL back to `position` after a failed write (its own, or a segment's: `err` is then the
   * segment's `OFA_LOG_IO`); returns the error for the appenders.
   */
  async #writeFailed(err: unknown, position: number): Promise<OpenFactoryError> {
    const synced = err instanceof SyncFailed
    const cause = synced ? err.cause : err
    const what = `cannot append to the write-ahead file${synced ? ' (fdatasync)' : ''}`
    try {
      await ftruncate(this.#fd, position)
      if (this.#o.fsync) await fdatasync(this.#fd)
    } catch (cutErr) {
      this.failure = ioError(
        `${what}, and cutting it back to its last durable record failed too (${(cutErr as Error).message}); appends are refused until the log is reopened`,
        cause,
        this.#file,
      )
      return this.failure
    }
    if (synced && !isNoSpace(cause)) {
      this.failure = ioError(
        `${what}; appends are refused until the log is reopened (after a failed fdatasync the page cache may not match the disk)`,
        cause,
        this.#file,
      )
      return this.failure
    }
    return ioError(what, cause, this.#file)
  }

  /**
   * Makes every segment written since the last checkpoint durable, starts a new WAL file and deletes the older
   * ones (but pinned files). Runs between group commits (or when idle).
   */
  async checkpoint(): Promise<void> {
    const parts = [...this.#dirty]
    this.#dirty.clear()
    try {
      if (this.#o.fsync) await Promise.all(parts.map((p) => p.syncSegments()))
    } catch (err) {
      for (const p of parts) this.#dirty.add(p)
      throw err
    }
    if (this.#size > 0) await this.#startFile()
    const older = this.#older
    this.#older = []
    for (const f of older) await fs.promises.rm(f, { force: true })
    if (older.length > 0 && this.#o.fsync) await fsyncDir(this.dir)
  }

  /**
   * After the partitions are flushed: the segments are made durable, and the WAL files (but pinned ones) are
   * deleted: a log closed cleanly leaves no WAL.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.idle()
    const fd = this.#fd
    this.#fd = -1
    try {
      if (this.failure) return
      const parts = [...this.#dirty]
      this.#dirty.clear()
      if (this.#o.fsync) await Promise.all(parts.map((p) => p.syncSegments()))
      const gone = [...this.#older, this.#file].filter((f) => !this.#pinned.has(f))
      for (const f of gone) await fs.promises.rm(f, { force: true })
      if (this.#o.fsync) await fsyncDir(this.dir)
    } catch (err) {
      // The directory removed under a closing log (tests), or already gone: nothing is left to keep.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    } finally {
      await closeFile(fd).catch(() => {})
    }
  }
}

/** A write reached the file but its fdatasync failed (`cause`). */
class SyncFailed extends Error {}

/** The header and directory of a WAL record holding `groups`' batches. */
function encodeHead(groups: readonly { p: WalPartition; items: readonly WalItem[] }[], sequence: number): Buffer {
  let dirLength = 0
  let count = 0
  let batchBytes = 0
  const names: Buffer[] = []
  for (const g of groups) {
    const name = Buffer.from(g.p.topic, 'utf8')
    names.push(name)
    dirLength += g.items.length * (10 + name.length)
    count += g.items.length
    for (const it of g.items) batchBytes += it.bytes.length
  }
  const head = Buffer.allocUnsafe(WAL_HEADER_SIZE + dirLength)
  head.writeUInt32LE(WAL_MAGIC, 0)
  head.writeUInt32LE(WAL_HEADER_SIZE + dirLength + batchBytes, 8)
  head.writeUInt32LE(count, 12)
  head.writeUInt32LE(sequence % 2 ** 32, 16)
  head.writeUInt32LE(Math.floor(sequence / 2 ** 32), 20)
  head.writeUInt32LE(dirLength, 24)
  head.writeUInt32LE(0, 28)
  let d = WAL_HEADER_SIZE
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!
    const name = names[i]!
    for (const it of g.items) {
      head.writeUInt16LE(name.length, d)
      name.copy(head, d + 2)
      head.writeUInt32LE(g.p.id, d + 2 + name.length)
      head.writeUInt32LE(it.bytes.length, d + 6 + name.length)
      d += 10 + name.length
    }
  }
  head.writeUInt32LE(crc32(head.subarray(WAL_HEADER_SIZE), crc32(head.subarray(8, WAL_HEADER_SIZE))), 4)
  return head
}

/** Cuts a torn tail off the newest WAL file (writer, at open). */
export async function cutTornWal(f: WalFileScan, fsync: boolean): Promise<void> {
  if (!f.torn) return
  const fd = await openFile(f.file, 'r+')
  try {
    await ftruncate(fd, f.validEnd)
    if (fsync) await fdatasync(fd)
  } finally {
    await closeFile(fd)
  }
}

/** The warning for a damaged WAL record. */
export function walDamageError(d: WalDamage): OpenFactoryError {
  return corrupt(
    d.file,
    d.position,
    `damaged write-ahead record (${d.reason}); valid records follow it, so it held acknowledged records: the partitions it covered show a gap where its batches are missing. The WAL files are kept; run "ofa log verify"`,
  )
}
