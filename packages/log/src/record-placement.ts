// What the checking core (log-core.ts) does first with each record of an append: check its shape, and choose its
// partition the way Kafka's Java client does.
import type { ProducerRecord } from './backbone.ts'
import { invalidArgument } from './internal/errors.ts'
import { murmur2, toPositive } from './partitioner.ts'

const scratch = { buf: Buffer.allocUnsafe(4096) }

/** The UTF-8 bytes of a key, in a scratch buffer (valid until the next call). */
function keyBytes(key: string): Uint8Array {
  if (key.length * 3 > scratch.buf.length) scratch.buf = Buffer.allocUnsafe(key.length * 3)
  const n = scratch.buf.write(key, 0)
  return scratch.buf.subarray(0, n)
}

/**
 * Checks record `i` of an append (an object; key and value text, bytes or null) and returns its partition: the
 * one it names (checked against `numPartitions`), else murmur2 of its key (Kafka's default partitioner), else —
 * no key — `keyless()`, the append's sticky partition. Timestamps, headers and sizes are checked by `LogCore`.
 */
export function placeRecord(r: ProducerRecord, i: number, numPartitions: number, keyless: () => number): number {
  if (r === null || typeof r !== 'object') throw invalidArgument(`record ${i} is not an object`)
  const { key, value } = r
  if (value !== null && typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw invalidArgument(`record ${i}: value must be a string, bytes or null`)
  }
  if (key !== null && key !== undefined && typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw invalidArgument(`record ${i}: key must be a string, bytes or null`)
  }
  if (r.partition !== undefined) {
    const p = r.partition
    if (!Number.isInteger(p) || p < 0 || p >= numPartitions) {
      throw invalidArgument(`record ${i}: partition ${p} is not between 0 and ${numPartitions - 1}`)
    }
    return p
  }
  if (key === null || key === undefined) return keyless()
  if (numPartitions === 1) return 0
  return toPositive(murmur2(typeof key === 'string' ? keyBytes(key) : key)) % numPartitions
}
