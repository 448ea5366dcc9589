// Our record batch decoder against batches made by the library's encoder (an independent implementation of the
// same format): large offsets and timestamps, null and empty keys, values and headers, compression, and a batch
// cut short at the end. (Timestamp deltas of 2^31 ms and more are encoded wrongly by the library: see
// append-batcher.ts; kafka-log.test.ts checks them end to end.)
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LogRecord } from '@openfactory/log'
import { createRecordsBatch } from '@platformatic/kafka'
import { decodeBatches } from '../../src/internal/fetch-response.ts'

function batch(messages: object[], baseOffset: bigint, compression = 'none'): Buffer {
  const b = createRecordsBatch(messages as never, { compression } as never).buffer as Buffer
  b.writeBigInt64BE(baseOffset, 0)
  return b
}

describe('record batch decoder', () => {
  it('decodes what the library encodes, with every kind of field', () => {
    const t0 = 1_700_000_000_000n
    const messages = [
      {
        topic: 't',
        partition: 0,
        key: Buffer.from('k1'),
        value: Buffer.from('v1'),
        timestamp: t0,
        headers: new Map([[Buffer.from('h'), Buffer.from('x')]]),
      },
      { topic: 't', partition: 0, key: undefined, value: Buffer.from('no key'), timestamp: t0 + 2_000_000_000n },
      { topic: 't', partition: 0, key: Buffer.from('tomb'), value: null, timestamp: t0 - 3n },
      {
        topic: 't',
        partition: 0,
        key: Buffer.alloc(0),
        value: Buffer.alloc(0),
        timestamp: t0 + 1n,
        headers: new Map([[Buffer.from('e'), Buffer.alloc(0)]]),
      },
      { topic: 't', partition: 0, key: Buffer.from('ü✓'), value: Buffer.alloc(300, 7), timestamp: t0 },
    ]
    for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
      const base = 2n ** 40n + 17n
      const first = batch(messages, base, compression)
      const second = batch(messages.slice(0, 2), base + 5n, compression)
      const buf = Buffer.concat([first, second, second.subarray(0, 30)]) // the last batch is cut short
      const out: LogRecord[] = []
      const next = decodeBatches(buf, 0, buf.length, 't', 3, out)
      assert.equal(out.length, 7, compression)
      assert.equal(next, Number(base) + 7, 'the offset after the last complete batch')
      assert.deepEqual(
        out.map((r) => r.offset),
        [0, 1, 2, 3, 4, 5, 6].map((i) => Number(base) + i),
      )
      assert.deepEqual(
        out.slice(0, 5).map((r) => r.timestamp),
        messages.map((m) => Number(m.timestamp)),
      )
      assert.equal(out[0]!.key?.toString(), 'k1')
      assert.equal(out[0]!.headers.h?.toString(), 'x')
      assert.equal(out[1]!.key, null)
      assert.equal(out[2]!.value, null)
      assert.equal(out[3]!.key?.length, 0)
      assert.equal(out[3]!.value?.length, 0)
      assert.equal(out[3]!.headers.e?.length, 0)
      assert.equal(out[4]!.key?.toString(), 'ü✓')
      assert.deepEqual(out[4]!.value, Buffer.alloc(300, 7))
      assert.ok(out.every((r) => r.topic === 't' && r.partition === 3))
    }
  })

  it('moves past a batch that compaction emptied (its offset range stays)', () => {
    // baseOffset 100, lastOffsetDelta 9, no records: what the cleaner leaves of an idempotent producer's batch.
    const b = Buffer.alloc(61)
    b.writeBigInt64BE(100n, 0)
    b.writeInt32BE(61 - 12, 8)
    b.writeInt8(2, 16) // magic
    b.writeInt32BE(9, 23) // lastOffsetDelta, after crc (17) and attributes (21)
    const out: LogRecord[] = []
    assert.equal(decodeBatches(b, 0, b.length, 't', 0, out), 110)
    assert.deepEqual(out, [])
  })
})
