/**
 * Where on `ofa_assets` to look for the observations of a time range, whatever the order of the records.
 *
 * Records are not in source-time order on the log: an edge that was cut off forwards its backlog hours late,
 * with the records' own (old) times, after newer ones. So a history query cannot binary-search offsets by time.
 * The index keeps, per partition and per block of `blockSize` consecutive offsets, the least and the greatest
 * source time of the records in the block; a query reads only the blocks whose span meets its range, and every
 * record not indexed yet. A block that mixes a late backlog with live records has a wide span and is read for
 * more queries: the cost grows with the disorder, never the answer.
 *
 * Memory: two doubles per block (16 bytes per 512 records). The asset state feeds it as it applies the log, so
 * it covers what the state has read; `indexedEnd` says where that stops.
 */
import { compactTimestamp } from '@openfactory/model'

/** The time a history query selects a record by: its source time when that is a time, else the record time. */
export function sourceTimeMs(timestamp: unknown, recordTime: number): number {
  if (typeof timestamp !== 'string') return recordTime
  // Canonical text (what our codec writes) without Date.parse: the downsampled history reads millions.
  const c = compactTimestamp(timestamp)
  if (typeof c === 'number') return c
  const t = Date.parse(timestamp)
  return Number.isFinite(t) ? t : recordTime
}

class PartitionBlocks {
  /** Block number of `min[0]`. */
  readonly base: number
  min: Float64Array
  max: Float64Array
  count = 0
  /** One past the last offset indexed. */
  end = 0

  constructor(base: number) {
    this.base = base
    this.min = new Float64Array(64).fill(Number.POSITIVE_INFINITY)
    this.max = new Float64Array(64).fill(Number.NEGATIVE_INFINITY)
  }

  grow(count: number): void {
    if (count > this.min.length) {
      const size = Math.max(count, this.min.length * 2)
      const min = new Float64Array(size).fill(Number.POSITIVE_INFINITY)
      const max = new Float64Array(size).fill(Number.NEGATIVE_INFINITY)
      min.set(this.min)
      max.set(this.max)
      this.min = min
      this.max = max
    }
    this.count = Math.max(this.count, count)
  }
}

export class TimeIndex {
  readonly blockSize: number
  readonly #partitions = new Map<number, PartitionBlocks>()

  constructor(blockSize = 512) {
    this.blockSize = blockSize
  }

  /** Notes the time of the record at `offset` (offsets of a partition come in increasing order). */
  add(partition: number, offset: number, timeMs: number): void {
    const block = Math.floor(offset / this.blockSize)
    let p = this.#partitions.get(partition)
    if (p === undefined) {
      p = new PartitionBlocks(block)
      this.#partitions.set(partition, p)
    }
    const i = block - p.base
    if (i < 0) return // before what the index covers: such offsets are always read
    if (i >= p.count) p.grow(i + 1)
    if (timeMs < (p.min[i] as number)) p.min[i] = timeMs
    if (timeMs > (p.max[i] as number)) p.max[i] = timeMs
    if (offset >= p.end) p.end = offset + 1
  }

  /** One past the last offset of the partition indexed so far (0: none). */
  indexedEnd(partition: number): number {
    return this.#partitions.get(partition)?.end ?? 0
  }

  /**
   * The first offset at or after `offset` that may hold a time in [from, to]: `offset` itself when its block
   * may (or is not indexed), else the start of the next block that may, else `indexedEnd`.
   */
  seek(partition: number, offset: number, from: number, to: number): number {
    const p = this.#partitions.get(partition)
    if (p === undefined || offset >= p.end) return offset
    let i = Math.floor(offset / this.blockSize) - p.base
    if (i < 0) return offset
    for (; i < p.count; i++) {
      if ((p.min[i] as number) <= to && (p.max[i] as number) >= from) {
        return Math.max(offset, (p.base + i) * this.blockSize)
      }
    }
    return p.end
  }

  /**
   * The end (exclusive) of the run of blocks that may hold a time in [from, to], from the block of `offset`
   * (which `seek` returned); infinite when the run reaches what is not indexed yet.
   */
  runEnd(partition: number, offset: number, from: number, to: number): number {
    const p = this.#partitions.get(partition)
    if (p === undefined || offset >= p.end) return Number.POSITIVE_INFINITY
    let i = Math.floor(offset / this.blockSize) - p.base
    if (i < 0) return p.base * this.blockSize
    for (; i < p.count; i++) {
      if (!((p.min[i] as number) <= to && (p.max[i] as number) >= from)) return (p.base + i) * this.blockSize
    }
    return Number.POSITIVE_INFINITY
  }

  /**
   * How many offsets of [offset, end) a scan for times in [from, to] reads: those of the blocks whose span meets
   * the range, and every offset not indexed yet. What a history request counts against its scan limit before it
   * reads anything.
   */
  candidates(partition: number, offset: number, end: number, from: number, to: number): number {
    let n = 0
    while (offset < end) {
      offset = this.seek(partition, offset, from, to)
      if (offset >= end) break
      const runEnd = Math.min(end, this.runEnd(partition, offset, from, to))
      n += runEnd - offset
      offset = runEnd
    }
    return n
  }
}
