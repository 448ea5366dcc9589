// murmur2 and the key partitioner against Apache Kafka's own results.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { murmur2, partitionFor, partitionsForKeys, toPositive } from '../src/index.ts'
import { rejectsWith } from '../src/testing/index.ts'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('murmur2', () => {
  it("matches Kafka's UtilsTest.testMurmur2 vectors", () => {
    // clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
    const cases: [Uint8Array, number][] = [
      [utf8('21'), -973932308],
      [utf8('foobar'), -790332482],
      [utf8('a-little-bit-long-string'), -985981536],
      [utf8('a-little-bit-longer-string'), -1486304829],
      [utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [new Uint8Array([0x61, 0x62, 0x63]), 479470107],
    ]
    for (const [bytes, want] of cases) assert.equal(murmur2(bytes), want, new TextDecoder().decode(bytes))
  })

  it('matches values computed with the Java implementation (Utils.murmur2, run on Java 17)', () => {
    // Lengths 0 to 3 (every tail case), an asset UUID, non-ASCII text and bytes above 0x7f.
    const cases: [string, number, number, number][] = [
      // key, murmur2, partition of 6, partition of 12
      ['', 275646681, 3, 9],
      ['a', -1563381124, 4, 4],
      ['ab', 316155434, 2, 2],
      ['abc', 479470107, 3, 3],
      ['8c1f0d5e-3b7a-4a64-9d0e-2f6c7a9b1e42', -1796187943, 1, 1],
      ['dht-sensor-001', 357813742, 4, 10],
      ['Température', 1900655943, 3, 3],
      ['\u00ff\u00fe', -1869419400, 2, 8],
      ['WC001|Temp', 983111978, 2, 2],
    ]
    for (const [key, hash, p6, p12] of cases) {
      assert.equal(murmur2(utf8(key)), hash, key)
      assert.equal(partitionFor(key, 6), p6, key)
      assert.equal(partitionFor(key, 12), p12, key)
      assert.equal(partitionFor(utf8(key), 12), p12, key)
    }
    const all = new Uint8Array(256).map((_, i) => i)
    assert.equal(murmur2(all), -1948347274)
    assert.equal(murmur2(new Uint8Array([0xff, 0x80, 0x7f, 0x00, 0xfe])), -1958495739)
  })

  it('clears the sign bit like Utils.toPositive (not Math.abs)', () => {
    assert.equal(toPositive(-2147483648), 0)
    assert.equal(toPositive(-1), 2147483647)
    assert.equal(toPositive(123), 123)
  })

  it('leaves null keys to the caller and refuses bad partition counts', async () => {
    assert.equal(partitionFor(null, 6), -1)
    await rejectsWith(async () => partitionFor('k', 0), 'OFA_LOG_INVALID_ARGUMENT')
    await rejectsWith(async () => partitionFor('k', 1.5), 'OFA_LOG_INVALID_ARGUMENT')
  })
})

describe('partitionsForKeys', () => {
  it('gives the partitions of the keys, sorted, each once, as placement does', () => {
    const keys = ['21', 'foobar', 'abc', '8c1f0d5e-3b7a-4a64-9d0e-2f6c7a9b1e42', 'foobar']
    // Kafka places them on 0, 0, 3 and 1 of 6 (see the backbone contract).
    assert.deepEqual(partitionsForKeys(keys, 6), [0, 1, 3])
    assert.deepEqual(partitionsForKeys([utf8('abc')], 6), [partitionFor('abc', 6)])
    assert.deepEqual(partitionsForKeys([], 6), [])
    assert.deepEqual(partitionsForKeys(new Set(['a', 'b']), 1), [0])
    assert.throws(() => partitionsForKeys(['a'], 0), /numPartitions must be a positive integer/)
    assert.throws(() => partitionsForKeys([], 1.5), /numPartitions must be a positive integer/)
    assert.throws(() => partitionsForKeys([null as unknown as string], 3), /a key must be a string or bytes/)
  })
})
