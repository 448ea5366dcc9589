/**
 * A partition's marks: the durable high-water mark (the end offset up to which appends were acknowledged) and
 * the start offset (where retention last moved the partition's start). They tell lost acknowledged data from a
 * torn tail: opening finds the segments' end below the high-water mark only when acknowledged records are gone
 * (a segment cut short, the last segments deleted), and the first segment above the start mark only when
 * segments were deleted behind retention's back.
 *
 * The file `<partition dir>/marks` is 64 bytes: two slots of 32, written in turn, so that a torn or damaged
 * write leaves the other slot readable. All numbers little-endian.
 *
 *   slot (32 bytes; slot k at byte 32k)
 *     0  magic     u32  0x4b4d464f ("OFMK")
 *     4  crc       u32  CRC-32 (zlib) of slot bytes 8..32
 *     8  sequence  f64  one more than the previous write; the valid slot with the higher sequence counts
 *    16  start     f64  every offset below it was deleted on purpose (retention)
 *    24  end       f64  every offset below it was acknowledged
 *
 * Writes cost the append path nothing measurable: the end is written after a batch is durable (so the mark never
 * runs ahead of the data), with one write of 32 bytes at a time, at most one every `WRITE_INTERVAL_MS` — later
 * ends wait and coalesce, and the last one is written when the interval is over — and without fdatasync, except
 * at most once per `SYNC_INTERVAL_MS`, when the start moves and at close. So while appends flow the mark lags the
 * acknowledged end by up to about 10 ms (and after a machine crash by up to about a second, until the page reached
 * the disk); a lagging mark only finds less: a mark never claims more than was acknowledged. With `fsync: false` the data itself is not synced: after a machine crash
 * the mark may then name acknowledged records the disk lost, and the partition says so.
 */
import { crc32 } from 'node:zlib'
import { closeFile, fdatasync, fstat, ftruncate, openFile, readAt, writeAll } from './fs-util.ts'

export const MARKS_FILE = 'marks'
const MAGIC = 0x4b4d464f
const SLOT = 32
export const MARKS_SIZE = 2 * SLOT
const SYNC_INTERVAL_MS = 1000
/**
 * Background writes of the end mark start at most this often. Measured with bench/log-append.ts, durable append
 * of batch 1 (≈ 4 000 flushes/s), ratio to the raw anchor, four alternating runs each on a shared 2-core machine:
 * without marks 91 %; a write after every flush 79 % (each write adds the marks inode to the journal commit of
 * the segment's next fdatasync); every 10 ms 89 %; every 50 ms 90 %.
 */
const WRITE_INTERVAL_MS = 10

export interface MarkValues {
  readonly start: number
  readonly end: number
}

/** What a marks file holds: its values, or why it cannot be read (`missing` when there is no file). */
export type MarksRead =
  | { readonly kind: 'ok'; readonly values: MarkValues; readonly sequence: number; readonly damagedSlot: boolean }
  | { readonly kind: 'missing' }
  | { readonly kind: 'damaged'; readonly reason: string }

function encodeSlot(buf: Buffer, at: number, sequence: number, v: MarkValues): void {
  buf.writeUInt32LE(MAGIC, at)
  buf.writeDoubleLE(sequence, at + 8)
  buf.writeDoubleLE(v.start, at + 16)
  buf.writeDoubleLE(v.end, at + 24)
  buf.writeUInt32LE(crc32(buf.subarray(at + 8, at + SLOT)), at + 4)
}

function decodeSlot(buf: Buffer, at: number): { sequence: number; values: MarkValues } | null {
  if (buf.length < at + SLOT || buf.readUInt32LE(at) !== MAGIC) return null
  if (crc32(buf.subarray(at + 8, at + SLOT)) !== buf.readUInt32LE(at + 4)) return null
  const sequence = buf.readDoubleLE(at + 8)
  const start = buf.readDoubleLE(at + 16)
  const end = buf.readDoubleLE(at + 24)
  const offset = (n: number) => Number.isSafeInteger(n) && n >= 0
  if (!offset(sequence) || !offset(start) || !offset(end) || start > end) return null
  return { sequence, values: { start, end } }
}

/** Decodes the bytes of a marks file. */
export function decodeMarks(buf: Buffer): MarksRead {
  const a = decodeSlot(buf, 0)
  const b = decodeSlot(buf, SLOT)
  if (!a && !b) {
    return {
      kind: 'damaged',
      reason:
        buf.length < MARKS_SIZE
          ? `marks file has ${buf.length} bytes, not ${MARKS_SIZE}`
          : 'both marks slots are damaged',
    }
  }
  const best = !b || (a && a.sequence >= b.sequence) ? a! : b
  return { kind: 'ok', values: best.values, sequence: best.sequence, damagedSlot: !a || !b }
}

/** Reads the marks file at `file`. I/O errors other than a missing file are thrown. */
export async function readMarks(file: string): Promise<MarksRead> {
  let fd: number
  try {
    fd = await openFile(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
    throw err
  }
  try {
    return decodeMarks(await readAt(fd, 0, MARKS_SIZE + 1))
  } finally {
    await closeFile(fd)
  }
}

/** The bytes of a new marks file. */
export function marksBytes(v: MarkValues, sequence = 1): Buffer {
  const buf = Buffer.alloc(MARKS_SIZE)
  encodeSlot(buf, 0, sequence, v)
  encodeSlot(buf, SLOT, sequence - 1, v)
  return buf
}

/** The writer's handle on a partition's marks file (see the file comment for when it writes). */
export class MarksWriter {
  readonly file: string
  readonly #fd: number
  readonly #fsync: boolean
  readonly #onError: (err: unknown) => void
  #sequence: number
  #start: number
  #end: number
  /** What is on disk (written, maybe not synced). */
  #writtenStart: number
  #writtenEnd: number
  #writing: Promise<void> | null = null
  #timer: NodeJS.Timeout | null = null
  #lastWrite = 0
  #lastSync = 0
  #unsynced = false
  #closed = false

  private constructor(
    file: string,
    fd: number,
    sequence: number,
    v: MarkValues,
    fsync: boolean,
    onError: (e: unknown) => void,
  ) {
    this.file = file
    this.#fd = fd
    this.#fsync = fsync
    this.#onError = onError
    this.#sequence = sequence
    this.#start = this.#writtenStart = v.start
    this.#end = this.#writtenEnd = v.end
  }

  /**
   * Opens the marks file for writing, (re)writing it whole with `values` when it is missing, damaged, or holds
   * other values. `onError` hears of failed background writes (a lagging mark only finds less: not fatal).
   */
  static async open(
    file: string,
    values: MarkValues,
    previous: MarksRead,
    fsync: boolean,
    onError: (err: unknown) => void,
  ): Promise<MarksWriter> {
    const fd = await openFile(file, previous.kind === 'missing' ? 'w+' : 'r+')
    try {
      const prev = previous.kind === 'ok' ? previous : null
      const sequence = (prev?.sequence ?? 0) + 1
      const same =
        prev !== null &&
        !prev.damagedSlot &&
        prev.values.start === values.start &&
        prev.values.end === values.end &&
        (await fstat(fd)).size === MARKS_SIZE
      if (!same) {
        await ftruncate(fd, MARKS_SIZE)
        await writeAll(fd, marksBytes(values, sequence), 0)
        if (fsync) await fdatasync(fd)
      }
      return new MarksWriter(file, fd, sequence, values, fsync, onError)
    } catch (err) {
      await closeFile(fd).catch(() => {})
      throw err
    }
  }

  get end(): number {
    return this.#end
  }

  get start(): number {
    return this.#start
  }

  /** Records that every offset below `end` is acknowledged; written in the background. */
  noteEnd(end: number): void {
    if (end <= this.#end) return
    this.#end = end
    this.#kick()
  }

  /** Starts a background write now, or when the interval since the last one is over (unless one is coming). */
  #kick(): void {
    if (this.#writing || this.#timer || this.#closed) return
    const wait = this.#lastWrite + WRITE_INTERVAL_MS - Date.now()
    if (wait <= 0) void this.#schedule(false)
    else {
      this.#timer = setTimeout(() => {
        this.#timer = null
        if (!this.#writing && !this.#closed) void this.#schedule(false)
      }, wait)
      this.#timer.unref()
    }
  }

  /** Moves the start mark and resolves once it is durable (before retention deletes segments). */
  async setStart(start: number): Promise<void> {
    if (start > this.#start) this.#start = start
    await this.flush(true)
  }

  /** Writes what is pending; with `sync`, also makes it durable. */
  async flush(sync: boolean): Promise<void> {
    while (this.#writing) await this.#writing.catch(() => {})
    if (this.#closed) return
    await this.#schedule(sync)
  }

  /** Starts a drain; `#writing` is cleared once it settles (never before it is set: a drain may end at once). */
  #schedule(sync: boolean): Promise<void> {
    const run: Promise<void> = this.#drain(sync).finally(() => {
      if (this.#writing !== run) return
      this.#writing = null
      // Values that came while the drain was syncing are written too, not left until the next append.
      if (this.#start !== this.#writtenStart || this.#end !== this.#writtenEnd) this.#kick()
    })
    this.#writing = run
    if (!sync) run.catch(() => {}) // background drains report through onError
    return run
  }

  async #drain(sync: boolean): Promise<void> {
    try {
      while (!this.#closed && (this.#start !== this.#writtenStart || this.#end !== this.#writtenEnd)) {
        const v = { start: this.#start, end: this.#end }
        const seq = ++this.#sequence
        const slot = Buffer.allocUnsafe(SLOT)
        encodeSlot(slot, 0, seq, v)
        this.#lastWrite = Date.now()
        await writeAll(this.#fd, slot, (seq % 2) * SLOT)
        this.#writtenStart = v.start
        this.#writtenEnd = v.end
        this.#unsynced = true
      }
      const now = Date.now()
      if (this.#fsync && this.#unsynced && !this.#closed && (sync || now - this.#lastSync >= SYNC_INTERVAL_MS)) {
        this.#unsynced = false
        this.#lastSync = now
        await fdatasync(this.#fd)
      }
    } catch (err) {
      if (sync) throw err
      this.#onError(err)
    }
  }

  /** Writes and syncs the last values, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    try {
      await this.flush(true)
    } catch (err) {
      this.#onError(err)
    }
    this.#closed = true
    await closeFile(this.#fd).catch(() => {})
  }
}
