/**
 * The on-disk batch format of the embedded log (format version 1).
 *
 * A segment file is a sequence of batches and nothing else. A batch is what one flush writes for one partition:
 * one `write` followed by one `fdatasync`, so at most the last batch of a partition can be unacknowledged. All
 * integers are little-endian.
 *
 *   batch header (56 bytes)
 *     0  magic            u32   0x314c464f ("OFL1")
 *     4  headerCrc        u32   CRC-32 (zlib) of header bytes 8..56
 *     8  length           u32   whole batch, header included
 *    12  bodyCrc          u32   CRC-32 (zlib) of bytes 56..length (the records)
 *    16  baseOffset       u32 low, u32 high (an integer below 2^53)
 *    24  lastOffsetDelta  u32   last offset the batch covers minus baseOffset (compaction keeps it)
 *    28  recordCount      u32   records in the batch (fewer than lastOffsetDelta + 1 after compaction)
 *    32  flags            u32   0, or FLAG_LOST (1): a batch without records that stands for offsets a repair
 *                              found lost (other bits reserved for compression)
 *    36  reserved         u32   0
 *    40  maxTimestamp     f64   largest record timestamp, epoch ms (retention by time)
 *    48  deleteHorizon    f64   0, or the time after which compaction drops this batch's tombstones
 *   records, each
 *     length          u32   bytes after this field
 *     offsetDelta     u32   strictly increasing inside a batch
 *     timestamp       f64   epoch ms
 *     keyLength       i32   -1 for a null key
 *     key             bytes
 *     valueLength     i32   -1 for a null value (a tombstone)
 *     value           bytes
 *     headerCount     u16
 *     headers, each   nameLength u16, name (UTF-8), valueLength u32, value bytes
 *
 * A batch may hold no records at all: it then only covers its offset range. Compaction writes such a batch where
 * every record of a run of batches was superseded, and repair (with FLAG_LOST) where acknowledged records were
 * lost, so that the batches of a partition cover its offsets without gaps (format version 2: a gap is damage).
 *
 * The layout follows Kafka's record batch v2 (KIP-98) in spirit — a checksummed header with base offset,
 * last offset delta and max timestamp, records with offset deltas — with fixed-width fields instead of
 * varints (cheaper to encode in JavaScript) and a separate header checksum, so that a scan can trust a
 * batch's length and offsets without reading its records.
 */
import { crc32 } from 'node:zlib'
import type { LogRecord, RecordData } from '../backbone.ts'
import { corrupt } from './errors.ts'

export const BATCH_MAGIC = 0x314c464f
export const HEADER_SIZE = 56
/** Fixed bytes of a record besides its key, value and headers. */
export const RECORD_OVERHEAD = 26
/** No batch is larger than this (a sanity bound for scans; records are limited far below it). */
export const MAX_BATCH_BYTES = 1 << 30
/** Flag of a batch that stands for offsets a repair found lost (it holds no records). */
export const FLAG_LOST = 1
/** The largest offset range one batch covers (its last offset delta is a u32). */
const MAX_DELTA = 0xffff_ffff

const TWO_32 = 0x1_0000_0000

/** A parsed and checked batch header. */
export interface BatchHeader {
  readonly position: number
  readonly length: number
  readonly bodyCrc: number
  readonly baseOffset: number
  readonly lastOffset: number
  readonly recordCount: number
  readonly maxTimestamp: number
  readonly deleteHorizon: number
  /** A batch without records standing for offsets a repair found lost. */
  readonly lost: boolean
}

/**
 * Parses the header at `at` in `buf` (whose first byte is file position `filePos`). Returns a reason string
 * when the bytes are not a valid header (bad magic, checksum, length or counts).
 */
export function parseHeader(buf: Buffer, at: number, filePos: number): BatchHeader | string {
  if (buf.readUInt32LE(at) !== BATCH_MAGIC) return 'bad magic number'
  if (crc32(buf.subarray(at + 8, at + HEADER_SIZE)) !== buf.readUInt32LE(at + 4))
    return 'batch header checksum mismatch'
  const length = buf.readUInt32LE(at + 8)
  if (length < HEADER_SIZE || length > MAX_BATCH_BYTES) return `impossible batch length ${length}`
  const baseOffset = buf.readUInt32LE(at + 20) * TWO_32 + buf.readUInt32LE(at + 16)
  const lastDelta = buf.readUInt32LE(at + 24)
  const recordCount = buf.readUInt32LE(at + 28)
  if (!Number.isSafeInteger(baseOffset + lastDelta)) return 'offset out of range'
  if (recordCount > lastDelta + 1 || recordCount * RECORD_OVERHEAD > length - HEADER_SIZE) {
    return `impossible record count ${recordCount}`
  }
  const flags = buf.readUInt32LE(at + 32)
  if (flags !== 0 && (flags !== FLAG_LOST || recordCount !== 0)) return 'unknown batch flags'
  return {
    position: filePos,
    length,
    bodyCrc: buf.readUInt32LE(at + 12),
    baseOffset,
    lastOffset: baseOffset + lastDelta,
    recordCount,
    maxTimestamp: buf.readDoubleLE(at + 40),
    deleteHorizon: buf.readDoubleLE(at + 48),
    lost: flags === FLAG_LOST,
  }
}

/** Whether the records of the batch whose header starts at `at` match the header's checksum. */
export function bodyCrcMatches(buf: Buffer, at: number, header: BatchHeader): boolean {
  return crc32(buf.subarray(at + HEADER_SIZE, at + header.length)) === header.bodyCrc
}

const EMPTY_HEADERS: Readonly<Record<string, Buffer>> = Object.freeze(Object.create(null))

/** A record as read back; key, value and header values are views into the read buffer. */
export class ReadRecord implements LogRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, Buffer>>
  constructor(
    topic: string,
    partition: number,
    offset: number,
    timestamp: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: Readonly<Record<string, Buffer>>,
  ) {
    this.topic = topic
    this.partition = partition
    this.offset = offset
    this.timestamp = timestamp
    this.key = key
    this.value = value
    this.headers = headers
  }
}

/** What `decodeRecords` needs besides the bytes. */
export interface DecodeTarget {
  readonly topic: string
  readonly partition: number
  /** Records below this offset are skipped. */
  readonly minOffset: number
  /** Stop once `out` holds this many records. */
  readonly maxRecords: number
  readonly out: LogRecord[]
  /** For error messages. */
  readonly file: string
}

/**
 * Decodes the records of a batch whose checksums were verified. Every length is bounds-checked anyway: a
 * malformed batch raises `OFA_LOG_CORRUPT`, never a RangeError.
 */
export function decodeRecords(buf: Buffer, at: number, header: BatchHeader, target: DecodeTarget): void {
  const end = at + header.length
  const { out, minOffset, maxRecords, topic, partition } = target
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const base = header.baseOffset
  const maxDelta = header.lastOffset - base
  let p = at + HEADER_SIZE
  let prevDelta = -1
  let n = 0
  while (p < end) {
    if (p + RECORD_OVERHEAD > end) throw badRecord(target, header, 'record runs past the batch end')
    const recEnd = p + 4 + view.getUint32(p, true)
    if (recEnd > end || recEnd < p + RECORD_OVERHEAD) throw badRecord(target, header, 'bad record length')
    const delta = view.getUint32(p + 4, true)
    if (delta <= prevDelta || delta > maxDelta) throw badRecord(target, header, 'record offsets out of order')
    prevDelta = delta
    n++
    const offset = base + delta
    if (offset < minOffset) {
      p = recEnd
      continue
    }
    if (out.length >= maxRecords) return
    const timestamp = view.getFloat64(p + 8, true)
    let q = p + 16
    const keyLen = view.getInt32(q, true)
    q += 4
    let key: Buffer | null = null
    if (keyLen >= 0) {
      if (q + keyLen > recEnd) throw badRecord(target, header, 'key runs past the record end')
      key = buf.subarray(q, q + keyLen)
      q += keyLen
    } else if (keyLen !== -1) throw badRecord(target, header, 'bad key length')
    if (q + 6 > recEnd) throw badRecord(target, header, 'value runs past the record end')
    const valueLen = view.getInt32(q, true)
    q += 4
    let value: Buffer | null = null
    if (valueLen >= 0) {
      if (q + valueLen + 2 > recEnd) throw badRecord(target, header, 'value runs past the record end')
      value = buf.subarray(q, q + valueLen)
      q += valueLen
    } else if (valueLen !== -1) throw badRecord(target, header, 'bad value length')
    const headerCount = view.getUint16(q, true)
    q += 2
    let headers = EMPTY_HEADERS
    if (headerCount > 0) {
      const h: Record<string, Buffer> = Object.create(null)
      for (let i = 0; i < headerCount; i++) {
        if (q + 2 > recEnd) throw badRecord(target, header, 'header runs past the record end')
        const nameLen = view.getUint16(q, true)
        q += 2
        if (q + nameLen + 4 > recEnd) throw badRecord(target, header, 'header runs past the record end')
        const name = buf.toString('utf8', q, q + nameLen)
        q += nameLen
        const hLen = view.getUint32(q, true)
        q += 4
        if (q + hLen > recEnd) throw badRecord(target, header, 'header runs past the record end')
        h[name] = buf.subarray(q, q + hLen)
        q += hLen
      }
      headers = h
    }
    if (q !== recEnd) throw badRecord(target, header, 'record length does not match its fields')
    out.push(new ReadRecord(topic, partition, offset, timestamp, key, value, headers))
    p = recEnd
  }
  if (n !== header.recordCount) throw badRecord(target, header, 'record count does not match the header')
}

function badRecord(target: DecodeTarget, header: BatchHeader, why: string) {
  return corrupt(target.file, header.position, `malformed batch at offset ${header.baseOffset}: ${why}`)
}

/** The bytes a record takes in a batch, at most (text counted at 3 bytes per UTF-16 unit). */
export function recordSizeBound(
  key: RecordData | null | undefined,
  value: RecordData | null,
  headers?: Readonly<Record<string, RecordData>>,
): number {
  let n = RECORD_OVERHEAD + dataBound(key) + dataBound(value)
  if (headers) for (const name in headers) n += 6 + name.length * 3 + dataBound(headers[name])
  return n
}

function dataBound(d: RecordData | null | undefined): number {
  if (d === null || d === undefined) return 0
  return typeof d === 'string' ? d.length * 3 : d.byteLength
}

/** The exact bytes a record takes in a batch. */
export function recordSizeExact(
  key: RecordData | null | undefined,
  value: RecordData | null,
  headers?: Readonly<Record<string, RecordData>>,
): number {
  let n = RECORD_OVERHEAD + dataExact(key) + dataExact(value)
  if (headers) for (const name in headers) n += 6 + Buffer.byteLength(name) + dataExact(headers[name])
  return n
}

function dataExact(d: RecordData | null | undefined): number {
  if (d === null || d === undefined) return 0
  return typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength
}

/**
 * Builds one batch in a growing buffer: records are encoded as they are appended, the header is filled in by
 * `finish`. The builder also carries the promise its appenders wait on.
 */
export class BatchBuilder {
  #buf!: Buffer
  #view!: DataView
  pos = HEADER_SIZE
  readonly baseOffset: number
  count = 0
  lastDelta = 0
  maxTimestamp = Number.NEGATIVE_INFINITY
  hasTombstone = false
  readonly done: Promise<void>
  resolve!: () => void
  reject!: (err: unknown) => void

  constructor(baseOffset: number, buf: Buffer) {
    this.baseOffset = baseOffset
    this.buf = buf.length >= HEADER_SIZE ? buf : Buffer.allocUnsafe(HEADER_SIZE + 256)
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    // Appenders await `done`; a failure must not become an unhandled rejection when nobody waits.
    this.done.catch(() => {})
  }

  get buf(): Buffer {
    return this.#buf
  }

  set buf(b: Buffer) {
    this.#buf = b
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  }

  get bytes(): number {
    return this.pos
  }

  get lastOffset(): number {
    return this.baseOffset + this.lastDelta
  }

  #grow(need: number): void {
    let size = this.#buf.length * 2
    while (size < need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.#buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /**
   * Appends a record with the given offset; `bound` is `recordSizeBound` of it (room is reserved for the
   * worst case, then the exact lengths are written back).
   */
  add(
    offset: number,
    timestamp: number,
    key: RecordData | null | undefined,
    value: RecordData | null,
    headers: Readonly<Record<string, RecordData>> | undefined,
    bound: number,
  ): void {
    const start = this.pos
    if (start + bound > this.#buf.length) this.#grow(start + bound)
    const buf = this.#buf
    const view = this.#view
    const delta = offset - this.baseOffset
    view.setUint32(start + 4, delta, true)
    view.setFloat64(start + 8, timestamp, true)
    // key
    let q = start + 16
    if (key === null || key === undefined) {
      view.setInt32(q, -1, true)
      q += 4
    } else {
      const n = typeof key === 'string' ? utf8Write(buf, key, q + 4) : copyBytes(buf, q + 4, key)
      view.setInt32(q, n, true)
      q += 4 + n
    }
    // value
    if (value === null) {
      view.setInt32(q, -1, true)
      q += 4
      this.hasTombstone = true
    } else {
      const n = typeof value === 'string' ? utf8Write(buf, value, q + 4) : copyBytes(buf, q + 4, value)
      view.setInt32(q, n, true)
      q += 4 + n
    }
    // headers
    let headerCount = 0
    const hcPos = q
    q += 2
    if (headers) {
      for (const name in headers) {
        const nameLen = utf8Write(buf, name, q + 2)
        view.setUint16(q, nameLen, true)
        q += 2 + nameLen
        const v = headers[name]!
        const vLen = typeof v === 'string' ? utf8Write(buf, v, q + 4) : copyBytes(buf, q + 4, v)
        view.setUint32(q, vLen, true)
        q += 4 + vLen
        headerCount++
      }
    }
    view.setUint16(hcPos, headerCount, true)
    view.setUint32(start, q - start - 4, true)
    this.pos = q
    this.count++
    this.lastDelta = delta
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp
  }

  /** Fills in the header and checksums; returns the batch bytes. */
  finish(deleteHorizon = 0): Buffer {
    return finishBatch(
      this.#buf,
      this.pos,
      this.baseOffset,
      this.lastDelta,
      this.count,
      this.maxTimestamp,
      deleteHorizon,
    )
  }
}

type Utf8Write = (this: Buffer, s: string, offset: number) => number
/** Node's Buffer#utf8Write (what Buffer#write calls after its argument checks), where it exists. */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write

/** Writes `s` as UTF-8 at `at` (the caller reserved 3 bytes per UTF-16 unit); returns the bytes written. */
function utf8Write(buf: Buffer, s: string, at: number): number {
  return nativeUtf8Write ? nativeUtf8Write.call(buf, s, at) : buf.write(s, at)
}

/** Writes the header of a batch whose records are already at `buf[HEADER_SIZE..end]`; returns the batch. */
export function finishBatch(
  buf: Buffer,
  end: number,
  baseOffset: number,
  lastDelta: number,
  count: number,
  maxTimestamp: number,
  deleteHorizon: number,
  flags = 0,
): Buffer {
  buf.writeUInt32LE(BATCH_MAGIC, 0)
  buf.writeUInt32LE(end, 8)
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_SIZE, end)), 12)
  buf.writeUInt32LE(baseOffset % TWO_32, 16)
  buf.writeUInt32LE(Math.floor(baseOffset / TWO_32), 20)
  buf.writeUInt32LE(lastDelta, 24)
  buf.writeUInt32LE(count, 28)
  buf.writeUInt32LE(flags, 32)
  buf.writeUInt32LE(0, 36)
  buf.writeDoubleLE(Number.isFinite(maxTimestamp) ? maxTimestamp : 0, 40)
  buf.writeDoubleLE(deleteHorizon, 48)
  buf.writeUInt32LE(crc32(buf.subarray(8, HEADER_SIZE)), 4)
  return buf.subarray(0, end)
}

function copyBytes(buf: Buffer, at: number, d: Uint8Array): number {
  buf.set(d, at)
  return d.byteLength
}

/**
 * Batches without records covering the offsets `from` to `to` (inclusive): one, or more when the range is longer
 * than a batch covers. With `lost`, they say that a repair found these offsets lost.
 */
export function emptyBatches(from: number, to: number, maxTimestamp: number, lost: boolean): Buffer[] {
  const out: Buffer[] = []
  for (let base = from; base <= to; base += MAX_DELTA + 1) {
    const last = Math.min(to, base + MAX_DELTA)
    out.push(
      finishBatch(Buffer.alloc(HEADER_SIZE), HEADER_SIZE, base, last - base, 0, maxTimestamp, 0, lost ? FLAG_LOST : 0),
    )
  }
  return out
}
