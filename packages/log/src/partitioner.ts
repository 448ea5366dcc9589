/**
 * Kafka's key partitioning, bit for bit, so that Java clients, ksqlDB and every OpenFactory backbone place a
 * key on the same partition.
 *
 * The hash is MurmurHash2 (32-bit) as Apache Kafka implements it in `org.apache.kafka.common.utils.Utils#murmur2`:
 * seed 0x9747b28c, multiplier 0x5bd1e995, shift 24; the input is consumed as little-endian 32-bit words, the
 * 1–3 trailing bytes are mixed in with the `switch` fall-through, then the final avalanche (>>> 13, * m, >>> 15).
 * All arithmetic is 32-bit two's complement (`Math.imul` and `| 0` here, `int` overflow in Java). A key's
 * partition is `toPositive(murmur2(keyBytes)) % numPartitions` where `toPositive(n) = n & 0x7fffffff`
 * (Kafka's `BuiltInPartitioner.partitionForKey`, formerly `DefaultPartitioner`). Text keys are hashed as their
 * UTF-8 bytes, which is what Kafka's `StringSerializer` produces.
 */

import { OpenFactoryError } from '@openfactory/model'

const SEED = 0x9747b28c
const M = 0x5bd1e995

/** Kafka's `Utils.murmur2`: a signed 32-bit hash of the bytes. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = (SEED ^ length) | 0
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const tail = length & ~3
  switch (length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: Kafka's murmur2 falls through on purpose
    case 3:
      h ^= data[tail + 2]! << 16
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: Kafka's murmur2 falls through on purpose
    case 2:
      h ^= data[tail + 1]! << 8
    case 1:
      h ^= data[tail]!
      h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which fails on -2^31). */
export function toPositive(n: number): number {
  return n & 0x7fffffff
}

/**
 * The partition Kafka's default partitioner gives a key. A null key has no partition of its own (Kafka's
 * sticky partitioner spreads such records); this returns -1 for it, and the caller chooses.
 */
export function partitionFor(key: Uint8Array | string | null, numPartitions: number): number {
  checkPartitionCount(numPartitions)
  if (key === null) return -1
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
  return toPositive(murmur2(bytes)) % numPartitions
}

/**
 * The partitions a set of keys lands on (sorted, each once): what a consumer that handles only these keys reads
 * (`ConsumerOptions.partitions`, `FollowOptions.partitions`). Same murmur2 as the placement of appended records.
 */
export function partitionsForKeys(keys: Iterable<Uint8Array | string>, partitionCount: number): number[] {
  checkPartitionCount(partitionCount)
  const found = new Set<number>()
  for (const key of keys) {
    if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
      throw new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', `a key must be a string or bytes, got ${typeof key}`)
    }
    found.add(partitionFor(key, partitionCount))
  }
  return [...found].sort((a, b) => a - b)
}

function checkPartitionCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', `numPartitions must be a positive integer, got ${n}`)
  }
}
