// The batch format: whatever records go in come out the same, and the header describes them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { LogRecord } from '../../src/backbone.ts'
import {
  BatchBuilder,
  bodyCrcMatches,
  decodeRecords,
  HEADER_SIZE,
  parseHeader,
  recordSizeBound,
  recordSizeExact,
} from '../../src/internal/batch-format.ts'

const data = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.uint8Array({ maxLength: 40 }))
const record = fc.record({
  key: fc.option(data, { nil: null }),
  value: fc.option(data, { nil: null }),
  headers: fc.option(fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), data, { maxKeys: 3 }), {
    nil: undefined,
  }),
  timestamp: fc.double({ noNaN: true, noDefaultInfinity: true }),
  gap: fc.nat({ max: 3 }),
})

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })
const bytes = (d: string | Uint8Array | null): Uint8Array | null =>
  d === null ? null : typeof d === 'string' ? new TextEncoder().encode(d) : d

describe('batch format', () => {
  it('round-trips any records, with offset gaps, through encode and decode', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.array(record, { minLength: 1, maxLength: 20 }), (base, recs) => {
        const b = new BatchBuilder(base, Buffer.allocUnsafe(64))
        let offset = base
        const offsets: number[] = []
        for (const r of recs) {
          offset += r.gap
          offsets.push(offset)
          const bound = recordSizeBound(r.key, r.value, r.headers)
          assert.ok(bound >= recordSizeExact(r.key, r.value, r.headers))
          b.add(offset, r.timestamp, r.key, r.value, r.headers, bound)
          offset++
        }
        const batch = Buffer.from(b.finish())
        const h = parseHeader(batch, 0, 0)
        assert.ok(typeof h !== 'string', String(h))
        assert.equal(h.length, batch.length)
        assert.equal(h.baseOffset, base)
        assert.equal(h.lastOffset, offsets[offsets.length - 1])
        assert.equal(h.recordCount, recs.length)
        assert.equal(h.maxTimestamp, Math.max(...recs.map((r) => r.timestamp)))
        assert.ok(bodyCrcMatches(batch, 0, h))
        const out: LogRecord[] = []
        decodeRecords(batch, 0, h, {
          topic: 't',
          partition: 3,
          minOffset: 0,
          maxRecords: Number.POSITIVE_INFINITY,
          out,
          file: 'f',
        })
        assert.equal(out.length, recs.length)
        recs.forEach((r, i) => {
          const got = out[i]!
          assert.equal(got.offset, offsets[i])
          assert.equal(got.partition, 3)
          assert.equal(Object.is(got.timestamp, r.timestamp) || got.timestamp === r.timestamp, true)
          assert.deepEqual(got.key === null ? null : new Uint8Array(got.key), bytes(r.key))
          assert.deepEqual(got.value === null ? null : new Uint8Array(got.value), bytes(r.value))
          const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, new Uint8Array(v)]))
          const want = Object.fromEntries(
            // Header names are text: what UTF-8 makes of them, a leading byte-order mark kept.
            Object.entries(r.headers ?? {}).map(([k, v]) => [utf8.decode(bytes(k)!), bytes(v)]),
          )
          assert.deepEqual(headers, want)
        })
      }),
      { numRuns: 300 },
    )
  })

  it('skips records below the start offset and stops at the record limit', () => {
    const b = new BatchBuilder(100, Buffer.allocUnsafe(HEADER_SIZE))
    for (let i = 0; i < 10; i++) b.add(100 + i, 1, `k${i}`, `v${i}`, undefined, recordSizeBound(`k${i}`, `v${i}`))
    const batch = b.finish()
    const h = parseHeader(batch, 0, 0)
    assert.ok(typeof h !== 'string')
    const out: LogRecord[] = []
    decodeRecords(batch, 0, h, { topic: 't', partition: 0, minOffset: 104, maxRecords: 3, out, file: 'f' })
    assert.deepEqual(
      out.map((r) => r.offset),
      [104, 105, 106],
    )
  })

  it('rejects a damaged header before trusting its length', () => {
    const b = new BatchBuilder(0, Buffer.allocUnsafe(HEADER_SIZE))
    b.add(0, 1, 'k', 'v', undefined, recordSizeBound('k', 'v'))
    const batch = Buffer.from(b.finish())
    batch[9] = batch[9]! ^ 1 // the length field
    assert.equal(parseHeader(batch, 0, 0), 'batch header checksum mismatch')
    batch[9] = batch[9]! ^ 1
    batch[0] = 0
    assert.equal(parseHeader(batch, 0, 0), 'bad magic number')
  })
})
