// Our encoder of record batches and Produce requests, and decoder of Produce responses (versions 9 to 11). The
// library builds every record in its own small buffer and concatenates them twice per batch (once for the CRC,
// once for the socket): measured, that held our appends to half of what Kafka's Java producer does with the
// same batch size. Here a batch is sized first and written into one buffer. The benchmark that keeps it honest:
// `npx node bench/kafka-produce.ts` (ours beside ProducerPerformance; bench/RESULTS.md, "Kafka backbone").
//
// Record batch, magic 2 (Kafka documentation, "Record Batch"): baseOffset INT64 (0: the broker assigns),
// batchLength INT32 (bytes after this field), partitionLeaderEpoch INT32 (-1), magic INT8 (2), crc UINT32 (CRC-32C
// of everything after it), attributes INT16 (bits 0-2 compression; 0: CreateTime, not transactional),
// lastOffsetDelta INT32, baseTimestamp INT64, maxTimestamp INT64, producerId INT64, producerEpoch INT16,
// baseSequence INT32 (-1 without idempotence), records count INT32, then the records, compressed as one block when
// the attributes say so. Record: length VARINT, attributes INT8 (0), timestampDelta VARLONG, offsetDelta VARINT,
// key length VARINT (-1: null) and bytes, value length VARINT (-1: null) and bytes, headers count VARINT, each
// header key length VARINT and UTF-8 bytes, value length VARINT and bytes. VARINT/VARLONG: zigzag, base 128.
//
// Produce request v9-v11 (flexible: COMPACT_ lengths are unsigned varints N+1; TAG_BUFFER an empty one is 0):
// transactional_id COMPACT_NULLABLE_STRING (null), acks INT16, timeout_ms INT32, topic_data COMPACT_ARRAY of
// (name COMPACT_STRING, partition_data COMPACT_ARRAY of (index INT32, records COMPACT_RECORDS, TAG_BUFFER),
// TAG_BUFFER), TAG_BUFFER.
// Produce response v9-v11: responses COMPACT_ARRAY of (name COMPACT_STRING, partition_responses COMPACT_ARRAY of
// (index INT32, error_code INT16, base_offset INT64, log_append_time_ms INT64, log_start_offset INT64,
// record_errors COMPACT_ARRAY of (batch_index INT32, batch_index_error_message COMPACT_NULLABLE_STRING,
// TAG_BUFFER), error_message COMPACT_NULLABLE_STRING, TAG_BUFFER), TAG_BUFFER), throttle_time_ms INT32,
// TAG_BUFFER.
import { compressionsAlgorithms, crc32c } from '@platformatic/kafka'
import type { KafkaCompression } from '../kafka-log-options.ts'

/**
 * A header name or value as it goes on the wire: bytes, or a string of ASCII characters only, written one byte per
 * character (`headerBytes`). Short ASCII text — the forwarder's `ofa-edge-offset`, most header names — then costs
 * no Buffer of its own per record (bench/edge-forward.ts).
 */
export type HeaderBytes = Buffer | string

/** A record's headers, flat: name, value, name, value, ... */
export type BatchHeaders = readonly HeaderBytes[]

export interface BatchRecord {
  readonly key: Buffer | undefined
  readonly value: Buffer | null
  readonly headers: BatchHeaders | undefined
  readonly timestamp: number
}

/** Strings at most this long are checked for ASCII and kept as they are; longer ones are encoded to bytes. */
const ASCII_KEPT_MAX = 64

/** `s` itself when it is short ASCII text (see `HeaderBytes`), else its UTF-8 bytes. */
export function headerBytes(s: string): HeaderBytes {
  if (s.length > ASCII_KEPT_MAX) return Buffer.from(s, 'utf8')
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8')
  return s
}

/** Byte strings up to this long are copied byte by byte (`writeHeaderBytes`). */
const SMALL_COPY_MAX = 32

/**
 * Writes a header name or value with its length before it (its length is its byte count, see `HeaderBytes`);
 * returns the position after. Header names and values are mostly a few bytes: copied byte by byte, which costs
 * less than a call to `Buffer.copy` at that size.
 */
function writeHeaderBytes(buf: Buffer, pos: number, b: HeaderBytes): number {
  const len = b.length
  pos = writeUvarint(buf, pos, zigzag(len))
  if (typeof b === 'string') {
    for (let i = 0; i < len; i++) buf[pos++] = b.charCodeAt(i)
  } else if (len <= SMALL_COPY_MAX) {
    for (let i = 0; i < len; i++) buf[pos++] = b[i]!
  } else pos += b.copy(buf, pos)
  return pos
}

export interface BatchOptions {
  readonly producerId: bigint
  readonly producerEpoch: number
  /** -1 without an idempotent producer. */
  readonly baseSequence: number
  readonly compression: KafkaCompression
}

const COMPRESSION_BITS: Record<KafkaCompression, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }
const HEADER_SIZE = 61 // baseOffset .. records count

/** Bytes of an unsigned varint. */
function uvarintSize(n: number): number {
  let size = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/** Zigzag of a signed integer (exact up to 2^52 in magnitude). */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

function writeUvarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

/** One record batch (magic 2) holding `records`, in one buffer. */
export function encodeRecordBatch(records: readonly BatchRecord[], opts: BatchOptions): Buffer {
  const n = records.length
  const baseTs = records[0]!.timestamp
  let maxTs = baseTs
  const bodies = new Array<number>(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    if (r.timestamp > maxTs) maxTs = r.timestamp
    let size = 1 + uvarintSize(zigzag(r.timestamp - baseTs)) + uvarintSize(zigzag(i))
    size += r.key === undefined ? 1 : uvarintSize(zigzag(r.key.length)) + r.key.length
    size += r.value === null ? 1 : uvarintSize(zigzag(r.value.length)) + r.value.length
    const hs = r.headers
    if (hs === undefined) size += 1
    else {
      size += uvarintSize(zigzag(hs.length >>> 1))
      for (let j = 0; j < hs.length; j++) size += uvarintSize(zigzag(hs[j]!.length)) + hs[j]!.length
    }
    bodies[i] = size
    total += uvarintSize(zigzag(size)) + size
  }
  let records_: Buffer = Buffer.allocUnsafe(total)
  let p = 0
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    p = writeUvarint(records_, p, zigzag(bodies[i]!))
    records_[p++] = 0
    p = writeUvarint(records_, p, zigzag(r.timestamp - baseTs))
    p = writeUvarint(records_, p, zigzag(i))
    if (r.key === undefined) records_[p++] = 1
    else {
      p = writeUvarint(records_, p, zigzag(r.key.length))
      p += r.key.copy(records_, p)
    }
    if (r.value === null) records_[p++] = 1
    else {
      p = writeUvarint(records_, p, zigzag(r.value.length))
      p += r.value.copy(records_, p)
    }
    const hs = r.headers
    if (hs === undefined) records_[p++] = 0
    else {
      p = writeUvarint(records_, p, zigzag(hs.length >>> 1))
      for (let j = 0; j < hs.length; j++) p = writeHeaderBytes(records_, p, hs[j]!)
    }
  }
  const bits = COMPRESSION_BITS[opts.compression]
  if (bits !== 0) records_ = compressionsAlgorithms[opts.compression].compressSync(records_) as Buffer
  const out = Buffer.allocUnsafe(HEADER_SIZE + records_.length)
  out.writeBigInt64BE(0n, 0)
  out.writeInt32BE(HEADER_SIZE - 12 + records_.length, 8)
  out.writeInt32BE(-1, 12) // partitionLeaderEpoch
  out.writeInt8(2, 16) // magic
  // crc at 17, written last
  out.writeInt16BE(bits, 21)
  out.writeInt32BE(n - 1, 23)
  out.writeBigInt64BE(BigInt(baseTs), 27)
  out.writeBigInt64BE(BigInt(maxTs), 35)
  out.writeBigInt64BE(opts.producerId, 43)
  out.writeInt16BE(opts.producerEpoch, 51)
  out.writeInt32BE(opts.baseSequence, 53)
  out.writeInt32BE(n, 57)
  records_.copy(out, HEADER_SIZE)
  out.writeUInt32BE(crc32c(out.subarray(21)) >>> 0, 17)
  return out
}

/** A Produce request body (v9-v11) for batches per topic and partition. */
export function encodeProduceRequest(
  acks: number,
  timeoutMs: number,
  topics: ReadonlyMap<string, ReadonlyMap<number, Buffer>>,
): Buffer {
  let size = 1 + 2 + 4 + uvarintSize(topics.size + 1) + 1
  for (const [name, parts] of topics) {
    const nameLen = Buffer.byteLength(name)
    size += uvarintSize(nameLen + 1) + nameLen + uvarintSize(parts.size + 1) + 1
    for (const batch of parts.values()) size += 4 + uvarintSize(batch.length + 1) + batch.length + 1
  }
  const buf = Buffer.allocUnsafe(size)
  let p = 0
  buf[p++] = 0 // transactional_id: null
  p = buf.writeInt16BE(acks, p)
  p = buf.writeInt32BE(timeoutMs, p)
  p = writeUvarint(buf, p, topics.size + 1)
  for (const [name, parts] of topics) {
    const nameLen = Buffer.byteLength(name)
    p = writeUvarint(buf, p, nameLen + 1)
    p += buf.write(name, p, 'utf8')
    p = writeUvarint(buf, p, parts.size + 1)
    for (const [index, batch] of parts) {
      p = buf.writeInt32BE(index, p)
      p = writeUvarint(buf, p, batch.length + 1)
      p += batch.copy(buf, p)
      buf[p++] = 0 // tagged fields
    }
    buf[p++] = 0
  }
  buf[p++] = 0
  return buf
}

export interface ProducePartitionResult {
  readonly topic: string
  readonly partition: number
  readonly errorCode: number
  readonly baseOffset: number
  readonly message: string | null
}

/** Decodes a Produce response body (v9-v11, after the response header). */
export function decodeProduceResponse(body: Buffer): ProducePartitionResult[] {
  let p = 0
  const uvarint = (): number => {
    let value = 0
    let mul = 1
    let b: number
    do {
      b = body[p++]!
      value += (b & 0x7f) * mul
      mul *= 128
    } while (b >= 0x80)
    return value
  }
  const nullableString = (): string | null => {
    const len = uvarint() - 1
    if (len < 0) return null
    const s = body.toString('utf8', p, p + len)
    p += len
    return s
  }
  const skipTags = (): void => {
    const n = uvarint()
    for (let i = 0; i < n; i++) {
      uvarint() // tag
      const size = uvarint() // (read before adding: `p += uvarint()` would add to the old position)
      p += size
    }
  }
  const out: ProducePartitionResult[] = []
  const nTopics = uvarint() - 1
  for (let t = 0; t < nTopics; t++) {
    const topic = nullableString() ?? ''
    const nParts = uvarint() - 1
    for (let i = 0; i < nParts; i++) {
      const partition = body.readInt32BE(p)
      const errorCode = body.readInt16BE(p + 4)
      const baseOffset = Number(body.readBigInt64BE(p + 6))
      p += 4 + 2 + 8 + 8 + 8
      const nErrors = uvarint() - 1
      const messages: string[] = []
      for (let e = 0; e < nErrors; e++) {
        p += 4
        const m = nullableString()
        if (m) messages.push(m)
        skipTags()
      }
      const message = nullableString()
      skipTags()
      out.push({ topic, partition, errorCode, baseOffset, message: message ?? (messages.join('; ') || null) })
    }
    skipTags()
  }
  return out
}
