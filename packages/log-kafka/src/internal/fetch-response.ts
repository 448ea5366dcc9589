// Our decoder of Kafka Fetch responses (versions 12 to 17) and of the record batches they carry, straight into
// `LogRecord`s. The library decodes through a chunked buffer whose every varint read searches the chunks, which
// made reading about 5 times slower than Kafka's Java consumer; a response is made contiguous once here and read
// with plain Buffer reads. The benchmark that keeps it honest: `npx node bench/kafka-produce.ts` (its consume
// half, ours beside ConsumerPerformance; bench/RESULTS.md, "Kafka backbone").
//
// Fetch response, v12 to v17 (Kafka protocol guide, "Fetch API"; all flexible versions: COMPACT_ arrays and
// strings are an unsigned varint N+1 then N items, TAG_BUFFER is an unsigned varint count of tagged fields, each
// tag and size as unsigned varints then the bytes):
//   throttle_time_ms INT32, error_code INT16, session_id INT32,
//   responses COMPACT_ARRAY of:
//     topic COMPACT_STRING (v12) | topic_id UUID (v13+),
//     partitions COMPACT_ARRAY of:
//       partition_index INT32, error_code INT16, high_watermark INT64, last_stable_offset INT64,
//       log_start_offset INT64, aborted_transactions COMPACT_NULLABLE_ARRAY of (producer_id INT64,
//       first_offset INT64, TAG_BUFFER), preferred_read_replica INT32, records COMPACT_RECORDS (an unsigned varint
//       size+1, 0 for null, then that many bytes of record batches), TAG_BUFFER (diverging epoch, current leader,
//       snapshot id: skipped),
//     TAG_BUFFER,
//   TAG_BUFFER (v16+: node endpoints: skipped).
//
// Record batch, magic 2 (Kafka documentation, "Record Batch"):
//   baseOffset INT64, batchLength INT32 (bytes after this field), partitionLeaderEpoch INT32, magic INT8,
//   crc UINT32 (CRC-32C of what follows; the broker checked it, TCP carried it: not checked again), attributes
//   INT16 (bits 0-2 compression, bit 3 timestamp type LogAppendTime, bit 4 transactional, bit 5 control),
//   lastOffsetDelta INT32, baseTimestamp INT64, maxTimestamp INT64, producerId INT64, producerEpoch INT16,
//   baseSequence INT32, records count INT32, then the records (compressed as one block when bits 0-2 say so).
// Record: length VARINT, attributes INT8, timestampDelta VARLONG, offsetDelta VARINT, key length VARINT (-1 for
//   null) and bytes, value length VARINT and bytes, headers count VARINT, each header key length VARINT and UTF-8
//   bytes, value length VARINT (-1 for null) and bytes. VARINT/VARLONG are zigzag-encoded base-128 varints.
// The broker may cut the last batch of a partition at the size limit: an incomplete batch is dropped.
import type { LogRecord } from '@openfactory/log'
import { compressionsAlgorithmsByBitmask } from '@platformatic/kafka'

export interface DecodedPartition {
  readonly partitionIndex: number
  readonly errorCode: number
  readonly highWatermark: number
  readonly logStartOffset: number
  /** Every record of the complete batches, from the first batch's first record on (filter by offset). */
  readonly records: LogRecord[]
  /**
   * The offset after the last complete batch (-1 without one). Compaction keeps a batch's offset range while
   * emptying it, and transaction markers are batches without records: a fetch may hold no record of interest yet
   * move the reader on.
   */
  readonly nextOffset: number
}

export interface DecodedFetch {
  readonly errorCode: number
  readonly topics: { readonly topic: string; readonly partitions: DecodedPartition[] }[]
}

const EMPTY = Buffer.alloc(0)
/** Shared by every record without headers (most): one object less per record. */
const NO_HEADERS: Record<string, Buffer> = Object.freeze({}) as Record<string, Buffer>
const IS_CONTROL = 0x20
const LOG_APPEND_TIME = 0x08
const COMPRESSION = 0x07

/** A cursor over one contiguous buffer. */
class Cursor {
  buf: Buffer
  pos: number

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf
    this.pos = pos
  }

  int8(): number {
    return this.buf.readInt8(this.pos++)
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.pos)
    this.pos += 2
    return v
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.pos)
    this.pos += 4
    return v
  }
  /** An INT64 as a number (offsets and timestamps stay far below 2^53). */
  int64(): number {
    const hi = this.buf.readInt32BE(this.pos)
    const lo = this.buf.readUInt32BE(this.pos + 4)
    this.pos += 8
    return hi * 4294967296 + lo
  }
  uvarint(): number {
    let value = 0
    let mul = 1
    let b: number
    do {
      b = this.buf[this.pos++]!
      value += (b & 0x7f) * mul
      mul *= 128
    } while (b >= 0x80)
    return value
  }
  /** A zigzag VARINT or VARLONG, as a number. */
  varint(): number {
    const buf = this.buf
    let b = buf[this.pos++]!
    if (b < 0x80) return (b >>> 1) ^ -(b & 1)
    let value = b & 0x7f
    let mul = 128
    do {
      b = buf[this.pos++]!
      value += (b & 0x7f) * mul
      mul *= 128
    } while (b >= 0x80)
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2
  }
  skipTags(): void {
    const n = this.uvarint()
    for (let i = 0; i < n; i++) {
      this.uvarint() // tag
      const size = this.uvarint() // (read before adding: `pos += uvarint()` would add to the old position)
      this.pos += size
    }
  }
  uuid(): string {
    const hex = this.buf.toString('hex', this.pos, this.pos + 16)
    this.pos += 16
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
}

/**
 * Decodes a Fetch response body (after the response header). `topicOf` turns a topic id (v13+) or name (v12)
 * into the topic name the records carry.
 */
export function decodeFetchResponse(
  body: Buffer,
  version: number,
  topicOf: (idOrName: string) => string,
): DecodedFetch {
  const c = new Cursor(body)
  c.int32() // throttle_time_ms
  const errorCode = c.int16()
  c.int32() // session_id
  const topics: DecodedFetch['topics'] = []
  const nTopics = c.uvarint() - 1
  for (let t = 0; t < nTopics; t++) {
    let key: string
    if (version <= 12) {
      const len = c.uvarint() - 1
      key = body.toString('utf8', c.pos, c.pos + len)
      c.pos += len
    } else {
      key = c.uuid()
    }
    const topic = topicOf(key)
    const partitions: DecodedPartition[] = []
    const nParts = c.uvarint() - 1
    for (let p = 0; p < nParts; p++) {
      const partitionIndex = c.int32()
      const perr = c.int16()
      const highWatermark = c.int64()
      c.int64() // last_stable_offset
      const logStartOffset = c.int64()
      const nAborted = c.uvarint() - 1
      for (let a = 0; a < nAborted; a++) {
        c.pos += 16
        c.skipTags()
      }
      c.int32() // preferred_read_replica
      const size = c.uvarint() - 1
      const records: LogRecord[] = []
      let nextOffset = -1
      if (size > 0) {
        nextOffset = decodeBatches(body, c.pos, c.pos + size, topic, partitionIndex, records)
        c.pos += size
      }
      c.skipTags()
      partitions.push({ partitionIndex, errorCode: perr, highWatermark, logStartOffset, records, nextOffset })
    }
    c.skipTags()
    topics.push({ topic, partitions })
  }
  return { errorCode, topics }
}

/** Decodes the complete record batches in `buf[start, end)` into `out`; returns the offset after the last one. */
export function decodeBatches(
  buf: Buffer,
  start: number,
  end: number,
  topic: string,
  partition: number,
  out: LogRecord[],
): number {
  const c = new Cursor(buf, start)
  let next = -1
  while (end - c.pos >= 12) {
    const batchStart = c.pos
    const baseOffset = c.int64()
    const batchLength = c.int32()
    const batchEnd = c.pos + batchLength
    if (batchEnd > end) return next // cut by the size limit
    c.int32() // partitionLeaderEpoch
    const magic = c.int8()
    if (magic !== 2) {
      // Message formats 0 and 1 predate Kafka 0.11 and are not written by Kafka 4: skip what we cannot read.
      c.pos = batchEnd
      continue
    }
    c.pos += 4 // crc
    const attributes = c.int16()
    next = baseOffset + c.int32() + 1 // lastOffsetDelta
    const baseTimestamp = c.int64()
    const maxTimestamp = c.int64()
    c.pos += 8 + 2 + 4 // producerId, producerEpoch, baseSequence
    const count = c.int32()
    if (attributes & IS_CONTROL) {
      c.pos = batchEnd
      continue
    }
    const logAppend = (attributes & LOG_APPEND_TIME) !== 0
    let rc: Cursor = c
    const compression = attributes & COMPRESSION
    if (compression !== 0) {
      const algorithm = compressionsAlgorithmsByBitmask[compression as keyof typeof compressionsAlgorithmsByBitmask]
      if (!algorithm) throw new Error(`unknown compression ${compression} in a batch at offset ${baseOffset}`)
      rc = new Cursor(algorithm.decompressSync(buf.subarray(c.pos, batchEnd)) as Buffer)
    }
    const data = rc.buf
    for (let i = 0; i < count; i++) {
      rc.varint() // record length
      rc.pos++ // attributes
      const timestampDelta = rc.varint()
      const offsetDelta = rc.varint()
      const keyLen = rc.varint()
      const key = keyLen < 0 ? null : data.subarray(rc.pos, rc.pos + keyLen)
      if (keyLen > 0) rc.pos += keyLen
      const valueLen = rc.varint()
      const value = valueLen < 0 ? null : data.subarray(rc.pos, rc.pos + valueLen)
      if (valueLen > 0) rc.pos += valueLen
      const nHeaders = rc.varint()
      const headers: Record<string, Buffer> = nHeaders === 0 ? NO_HEADERS : {}
      for (let h = 0; h < nHeaders; h++) {
        const hkLen = rc.varint()
        const hk = data.toString('utf8', rc.pos, rc.pos + hkLen)
        rc.pos += hkLen
        const hvLen = rc.varint()
        headers[hk] = hvLen < 0 ? EMPTY : data.subarray(rc.pos, rc.pos + hvLen)
        if (hvLen > 0) rc.pos += hvLen
      }
      out.push({
        topic,
        partition,
        offset: baseOffset + offsetDelta,
        timestamp: logAppend ? maxTimestamp : baseTimestamp + timestampDelta,
        key,
        value,
        headers,
      })
    }
    c.pos = batchEnd
    if (c.pos <= batchStart) return next
  }
  return next
}
