// Our Produce request encoder and response decoder: batches read back by our batch decoder (and by the broker,
// in every other test), and a real broker answer with tagged fields (the current leader of a partition that moved).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LogRecord } from '@openfactory/log'
import { decodeBatches, decodeFetchResponse } from '../../src/internal/fetch-response.ts'
import { decodeProduceResponse, encodeRecordBatch, headerBytes } from '../../src/internal/produce-request.ts'

describe('produce request codec', () => {
  it('keeps short ASCII header text as it is and encodes any other text to UTF-8', () => {
    assert.equal(headerBytes('ofa-edge-offset'), 'ofa-edge-offset')
    assert.equal(headerBytes(''), '')
    assert.deepEqual(headerBytes('größe'), Buffer.from('größe'))
    assert.equal(headerBytes('a'.repeat(64)), 'a'.repeat(64))
    assert.deepEqual(headerBytes('a'.repeat(65)), Buffer.from('a'.repeat(65)))
  })

  it('encodes record batches our decoder (and Kafka) read back, timestamps months apart included', () => {
    const t0 = Date.UTC(2025, 4, 4)
    const records = [
      {
        key: Buffer.from('k'),
        value: Buffer.from('v'),
        headers: [
          Buffer.from('h'),
          Buffer.from('x'),
          headerBytes('ofa-edge-offset'),
          headerBytes('12'),
          headerBytes('größe'),
          headerBytes('ü'.repeat(40)),
          headerBytes('long'),
          Buffer.alloc(100, 7),
        ],
        timestamp: t0,
      },
      { key: undefined, value: null, headers: undefined, timestamp: t0 + 400 * 86_400_000 },
      { key: Buffer.alloc(0), value: Buffer.alloc(1000, 1), headers: undefined, timestamp: t0 - 40 * 86_400_000 },
    ]
    for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const batch = encodeRecordBatch(records, { producerId: 7n, producerEpoch: 1, baseSequence: 42, compression })
      assert.equal(batch.readInt32BE(8), batch.length - 12, 'batchLength')
      assert.equal(batch.readInt32BE(53), 42, 'baseSequence')
      const out: LogRecord[] = []
      assert.equal(decodeBatches(batch, 0, batch.length, 't', 0, out), 3)
      assert.deepEqual(
        out.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.length ?? null]),
        [
          [0, t0, 'k', 1],
          [1, t0 + 400 * 86_400_000, null, null],
          [2, t0 - 40 * 86_400_000, '', 1000],
        ],
      )
      assert.equal(out[0]!.headers.h?.toString(), 'x')
      assert.equal(out[0]!.headers['ofa-edge-offset']?.toString(), '12')
      assert.equal(out[0]!.headers.größe?.toString(), 'ü'.repeat(40))
      assert.deepEqual(out[0]!.headers.long, Buffer.alloc(100, 7))
    }
  })

  it('decodes a Produce v11 answer whose first partition carries a tagged field', () => {
    // Captured from Kafka 4.1.1: partition 2 NOT_LEADER_OR_FOLLOWER with current_leader (tag 0), then 0 and 1 OK.
    const body = Buffer.from(
      '021870726f62652d672d313739353633353233393233392d3104000000020006ffffffffffffffffffffffffffffffffffffffffffffffff01000100090000000100000000000000000000000000000000000000ffffffffffffffff00000000000000000100000000000100000000000000000000ffffffffffffffff0000000000000000010000000000000001001502000000010a3132372e302e302e31000023840000',
      'hex',
    )
    assert.deepEqual(
      decodeProduceResponse(body).map((r) => [r.partition, r.errorCode, r.baseOffset]),
      [
        [2, 6, -1],
        [0, 0, 0],
        [1, 0, 0],
      ],
    )
  })

  it('decodes a Fetch v17 answer with tagged fields in a partition and at the top', () => {
    const parts: Buffer[] = []
    const int = (n: number, size: number): Buffer => {
      const b = Buffer.alloc(size)
      if (size === 8) b.writeBigInt64BE(BigInt(n))
      else if (size === 4) b.writeInt32BE(n)
      else b.writeInt16BE(n)
      return b
    }
    parts.push(int(0, 4), int(0, 2), int(0, 4)) // throttle, error, session
    parts.push(Buffer.from([2]), Buffer.alloc(16, 0xab)) // one topic, its id
    parts.push(Buffer.from([3])) // two partitions
    // partition 0: error 6, a current_leader tagged field (tag 1, 9 bytes), no records
    parts.push(int(0, 4), int(6, 2), int(-1, 8), int(-1, 8), int(-1, 8), Buffer.from([0]), int(-1, 4), Buffer.from([0]))
    parts.push(Buffer.from([1, 1, 9]), int(2, 4), int(5, 4), Buffer.from([0]))
    // partition 1: OK, high watermark 10, no records, no tags
    parts.push(
      int(1, 4),
      int(0, 2),
      int(10, 8),
      int(10, 8),
      int(0, 8),
      Buffer.from([1]),
      int(-1, 4),
      Buffer.from([0, 0]),
    )
    parts.push(Buffer.from([0])) // topic tags
    parts.push(Buffer.from([1, 0, 3, 1, 2, 3])) // top-level tags: node endpoints (3 bytes)
    const decoded = decodeFetchResponse(Buffer.concat(parts), 17, () => 'topic-a')
    assert.deepEqual(
      decoded.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode, p.highWatermark]),
      [
        [0, 6, -1],
        [1, 0, 10],
      ],
    )
  })
})
