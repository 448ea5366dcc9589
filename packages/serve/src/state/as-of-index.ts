/**
 * As-of index: what lets the serving layer answer "the state of an asset as the log held it at T" without
 * replaying the log up to T for every request.
 *
 * As the state applies `ofa_assets`, it tells the index, for each record, its record time and which `uuid|id`
 * entry (a *key*, numbered here) it changed. The index keeps, per partition:
 * - **Record-time blocks**: per block of 512 offsets, the least record time in it and the greatest of the whole
 *   partition up to the block's end (a running maximum, so it can be binary-searched). Record times are mostly in
 *   log order, but not always: a forwarder copies an edge's backlog with the edge's (older) times. The state at T
 *   is the fold of the records whose record time is ≤ T, in log order, wherever they are; the blocks bound where
 *   they can be: every record before the first block whose running maximum passes T is in, every record after the
 *   last block whose minimum is ≤ T is out, and only those between are read and tested one by one.
 * - **Checkpoints**, every `checkpointRecords` offsets: for each key whose records changed since the previous
 *   checkpoint, the offsets of the records its entry depends on — the last record of the key, and for a condition
 *   also the records of its active conditions (`applyCondition` keeps one entry per active native code, each
 *   built from one record; replaying those records and the last one, in log order, rebuilds the entry). The
 *   entry of a key at checkpoint c is found in the latest checkpoint ≤ c that lists it ("delta-encoded": an
 *   unchanged key is not repeated).
 *
 * A query at T takes the last checkpoint at or before the first record that may be after T, reads the asset's
 * partition from there to the last record that may be at or before T (`window`), and fetches the few records the
 * checkpoint points to for the asset's keys that the window does not settle (`dependencies`). Read cost: at most
 * the spacing (plus a 512-record block, plus the disorder of record times around T) and one record per key.
 *
 * Memory, bounded: a checkpoint entry is 8 bytes (a 32-bit key number and the distance back from the checkpoint's
 * offset to the record, 32 bits; 12 bytes in a checkpoint that points more than 2^32 offsets back), plus about
 * 100 bytes per checkpoint. A checkpoint holds at most one entry per key of the partition that changed since the
 * previous one (more for conditions with several active codes). When the entries of all partitions pass
 * `maxBytes`, or one partition holds more than `maxCheckpoints`, the partition with the most bytes is thinned:
 * every other checkpoint is merged into the next one (a merged checkpoint lists the keys either listed), and its
 * spacing doubles — queries read more, memory stays bounded. The last checkpoint of a partition is never dropped
 * (it may be as large as 8 bytes per key of the partition, whatever the budget). Besides: 16 bytes per 512 records
 * (the blocks), and 14 bytes per key (its last offset, its partition, a mark), and a small array per condition key
 * with active conditions.
 */
import { OpenFactoryError } from '@openfactory/model'

/** Offsets per record-time block. */
const BLOCK = 512
/** Bytes a checkpoint costs besides its entries (its object and two typed-array headers, approximately). */
const CHECKPOINT_OVERHEAD = 100
const NO_PARTITION = 0xffff

export interface AsOfIndexOptions {
  /** Offsets of a partition between two checkpoints (default 8192): the most a query reads past a checkpoint. */
  readonly checkpointRecords?: number
  /** Bytes of checkpoint entries over all partitions before checkpoints are thinned (default 64 MiB). */
  readonly maxBytes?: number
  /** Checkpoints per partition before they are thinned (default 4096). */
  readonly maxCheckpoints?: number
}

export const AS_OF_DEFAULTS: Required<AsOfIndexOptions> = {
  checkpointRecords: 8192,
  maxBytes: 64 * 1024 * 1024,
  maxCheckpoints: 4096,
}

/** One checkpoint of a partition (immutable: thinning makes new ones, so a query may keep a chain it took). */
export interface Checkpoint {
  /** The entries are those after applying every record of the partition below this offset. */
  readonly offset: number
  /** Keys numbered before the checkpoint was taken: a key numbered later is in no checkpoint up to this one. */
  readonly keysBefore: number
  /** Keys whose entries changed since the previous checkpoint, ascending; a key with several records repeats. */
  readonly keys: Uint32Array
  /** For each entry, `offset` minus the offset of the record (ascending offsets within a key). */
  readonly back: Uint32Array | Float64Array
}

/** Where a query at T reads a partition (see `AsOfIndex.window`). */
export interface AsOfWindow {
  /** The checkpoints up to the one the query starts from (empty: it starts from the first offset indexed). */
  readonly chain: readonly Checkpoint[]
  /** Offset the read starts at: the checkpoint's, or the first one indexed. */
  readonly from: number
  /** End (exclusive) of the indexed offsets that may hold a record time ≤ T (≥ `from`). */
  readonly to: number
  /** One past the last offset indexed: records from there on are not indexed yet and must all be read. */
  readonly indexedEnd: number
}

class PartitionIndex {
  /** First offset indexed, and the number of its block. */
  readonly base: number
  readonly blockBase: number
  end: number
  blocks = 0
  /** Per block: least record time in it; greatest record time of the partition up to its end. */
  min = new Float64Array(64)
  runMax = new Float64Array(64)
  checkpoints: Checkpoint[] = []
  bytes = 0
  spacing: number
  nextAt: number
  /** Keys changed since the last checkpoint (each once: `mark`). */
  dirty = new Uint32Array(256)
  dirtyCount = 0
  epoch = 1

  constructor(base: number, spacing: number) {
    this.base = base
    this.end = base
    this.blockBase = Math.floor(base / BLOCK)
    this.spacing = spacing
    this.nextAt = base + spacing
  }

  noteTime(offset: number, time: number): void {
    const i = Math.floor(offset / BLOCK) - this.blockBase
    if (i >= this.blocks) {
      if (i >= this.min.length) {
        const size = Math.max(i + 1, this.min.length * 2)
        const min = new Float64Array(size)
        const runMax = new Float64Array(size)
        min.set(this.min.subarray(0, this.blocks))
        runMax.set(this.runMax.subarray(0, this.blocks))
        this.min = min
        this.runMax = runMax
      }
      const before = this.blocks > 0 ? (this.runMax[this.blocks - 1] as number) : Number.NEGATIVE_INFINITY
      for (let b = this.blocks; b <= i; b++) {
        this.min[b] = Number.POSITIVE_INFINITY
        this.runMax[b] = before
      }
      this.blocks = i + 1
    }
    if (time < (this.min[i] as number)) this.min[i] = time
    if (time > (this.runMax[i] as number)) this.runMax[i] = time
    this.end = offset + 1
  }

  markDirty(key: number, mark: Uint32Array): void {
    if (mark[key] === this.epoch) return
    mark[key] = this.epoch
    if (this.dirtyCount === this.dirty.length) {
      const grown = new Uint32Array(this.dirty.length * 2)
      grown.set(this.dirty)
      this.dirty = grown
    }
    this.dirty[this.dirtyCount++] = key
  }
}

function positiveInt(v: number | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new OpenFactoryError('OFA_CONFIG_VALUE', `asOf.${name} must be a positive integer (given: ${v})`)
  }
  return v
}

function checkpointBytes(c: Checkpoint): number {
  return c.keys.byteLength + c.back.byteLength + CHECKPOINT_OVERHEAD
}

/** Builds a checkpoint's arrays from ascending keys and each key's ascending record offsets. */
function makeCheckpoint(offset: number, keysBefore: number, keys: number[], offsets: number[]): Checkpoint {
  let far = false
  for (let i = 0; i < offsets.length; i++) if (offset - (offsets[i] as number) > 0xffffffff) far = true
  const back = far ? new Float64Array(offsets.length) : new Uint32Array(offsets.length)
  for (let i = 0; i < offsets.length; i++) back[i] = offset - (offsets[i] as number)
  return { offset, keysBefore, keys: Uint32Array.from(keys), back }
}

/** `a` then `b` merged into one checkpoint at `b`'s offset: `b`'s entries win for keys both list. */
function mergeCheckpoints(a: Checkpoint, b: Checkpoint): Checkpoint {
  const keys: number[] = []
  const offsets: number[] = []
  let i = 0
  let j = 0
  const take = (c: Checkpoint, from: number): number => {
    const k = c.keys[from] as number
    let n = from
    while (n < c.keys.length && c.keys[n] === k) {
      keys.push(k)
      offsets.push(c.offset - (c.back[n] as number))
      n++
    }
    return n
  }
  while (i < a.keys.length || j < b.keys.length) {
    const ka = i < a.keys.length ? (a.keys[i] as number) : Number.POSITIVE_INFINITY
    const kb = j < b.keys.length ? (b.keys[j] as number) : Number.POSITIVE_INFINITY
    if (kb <= ka) {
      if (ka === kb) while (i < a.keys.length && a.keys[i] === ka) i++
      j = take(b, j)
    } else {
      i = take(a, i)
    }
  }
  return makeCheckpoint(b.offset, b.keysBefore, keys, offsets)
}

/** First index of `key` in the ascending `keys`, or -1. */
function find(keys: Uint32Array, key: number): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((keys[mid] as number) < key) lo = mid + 1
    else hi = mid
  }
  return lo < keys.length && keys[lo] === key ? lo : -1
}

export interface AsOfIndexStats {
  readonly keys: number
  readonly checkpoints: number
  readonly entries: number
  /** Bytes of checkpoints (entries and overhead), the part `maxBytes` bounds. */
  readonly checkpointBytes: number
  /** Bytes of the per-key arrays and the record-time blocks. */
  readonly otherBytes: number
}

export class AsOfIndex {
  readonly checkpointRecords: number
  readonly maxBytes: number
  readonly maxCheckpoints: number
  readonly #partitions = new Map<number, PartitionIndex>()
  #keys = 0
  /** Per key: offset of its last record applied, its partition, the epoch it was last marked dirty in. */
  #last = new Float64Array(1024)
  #partOf = new Uint16Array(1024).fill(NO_PARTITION)
  #mark = new Uint32Array(1024)
  /** Per condition key with active conditions: the offsets of their records, ascending. */
  readonly #conditions = new Map<number, readonly number[]>()
  #bytes = 0

  constructor(opts: AsOfIndexOptions = {}) {
    this.checkpointRecords = positiveInt(opts.checkpointRecords, 'checkpointRecords', AS_OF_DEFAULTS.checkpointRecords)
    this.maxBytes = positiveInt(opts.maxBytes, 'maxBytes', AS_OF_DEFAULTS.maxBytes)
    this.maxCheckpoints = positiveInt(opts.maxCheckpoints, 'maxCheckpoints', AS_OF_DEFAULTS.maxCheckpoints)
  }

  /** A number for a new key (an entry the state creates from a record). */
  newKey(): number {
    const k = this.#keys++
    if (k >= this.#last.length) {
      const size = this.#last.length * 2
      const last = new Float64Array(size)
      last.set(this.#last)
      this.#last = last
      const partOf = new Uint16Array(size).fill(NO_PARTITION)
      partOf.set(this.#partOf)
      this.#partOf = partOf
      const mark = new Uint32Array(size)
      mark.set(this.#mark)
      this.#mark = mark
    }
    return k
  }

  /**
   * Notes a record read from the log, whatever it holds, before the state applies it (offsets of a partition in
   * increasing order). Takes the partition's checkpoint first when the record reaches it.
   */
  record(partition: number, offset: number, recordTime: number): void {
    let p = this.#partitions.get(partition)
    if (p === undefined) {
      p = new PartitionIndex(offset, this.checkpointRecords)
      this.#partitions.set(partition, p)
    }
    if (offset < p.end) return // read again (never, from the state's tail): already noted
    if (offset >= p.nextAt) this.#checkpoint(p, offset)
    p.noteTime(offset, recordTime)
  }

  /**
   * The state applied the record at `offset` to `key`'s entry; `conditions` are the offsets of the records of the
   * entry's active conditions after it (undefined: not a condition, or none active).
   */
  applied(partition: number, key: number, offset: number, conditions?: readonly number[]): void {
    const p = this.#partitions.get(partition)
    if (p === undefined) return
    const home = this.#partOf[key] as number
    if (home === NO_PARTITION) this.#partOf[key] = partition
    // A key on another partition than its first (an append that forced the partition): its asset's partition,
    // the one queries read, keeps it.
    else if (home !== partition) return
    this.#last[key] = offset
    if (conditions !== undefined && conditions.length > 0)
      this.#conditions.set(
        key,
        [...conditions].sort((a, b) => a - b),
      )
    else if (this.#conditions.size > 0) this.#conditions.delete(key)
    p.markDirty(key, this.#mark)
  }

  /** The offsets of the records of `key`'s active conditions, as last given to `applied`. */
  conditionOffsets(key: number): readonly number[] | undefined {
    return this.#conditions.get(key)
  }

  #checkpoint(p: PartitionIndex, offset: number): void {
    const dirty = p.dirty.subarray(0, p.dirtyCount).sort()
    const keys: number[] = []
    const offsets: number[] = []
    for (let i = 0; i < dirty.length; i++) {
      const k = dirty[i] as number
      const last = this.#last[k] as number
      const active = this.#conditions.get(k)
      if (active !== undefined) {
        for (const o of active) {
          if (o < last) {
            keys.push(k)
            offsets.push(o)
          }
        }
      }
      keys.push(k)
      offsets.push(last)
    }
    p.dirtyCount = 0
    p.epoch++
    p.nextAt = offset + p.spacing
    const c = makeCheckpoint(offset, this.#keys, keys, offsets)
    p.checkpoints.push(c)
    const bytes = checkpointBytes(c)
    p.bytes += bytes
    this.#bytes += bytes
    if (p.checkpoints.length > this.maxCheckpoints) this.#thin(p)
    while (this.#bytes > this.maxBytes) {
      let largest: PartitionIndex | undefined
      for (const q of this.#partitions.values()) {
        if (q.checkpoints.length > 1 && (largest === undefined || q.bytes > largest.bytes)) largest = q
      }
      if (largest === undefined) break
      this.#thin(largest)
    }
  }

  /** Merges every other checkpoint of `p` into the next one, and doubles its spacing. */
  #thin(p: PartitionIndex): void {
    const old = p.checkpoints
    const kept: Checkpoint[] = []
    for (let i = 0; i < old.length; i += 2) {
      const a = old[i] as Checkpoint
      const b = old[i + 1]
      kept.push(b === undefined ? a : mergeCheckpoints(a, b))
    }
    let bytes = 0
    for (const c of kept) bytes += checkpointBytes(c)
    this.#bytes += bytes - p.bytes
    p.bytes = bytes
    p.checkpoints = kept
    p.spacing *= 2
  }

  /** One past the last offset of the partition indexed (0: none). */
  indexedEnd(partition: number): number {
    return this.#partitions.get(partition)?.end ?? 0
  }

  /**
   * Where a query at `at` reads the partition: from the last checkpoint at or before the first record that may
   * have a record time after `at`, to the end of the last block holding a record time ≤ `at`; plus, from
   * `indexedEnd`, what the index has not seen. Undefined when the index has seen nothing of the partition.
   */
  window(partition: number, at: number): AsOfWindow | undefined {
    const p = this.#partitions.get(partition)
    if (p === undefined) return undefined
    // First block whose running maximum passes `at`: every record before it is at or before `at`.
    let lo = 0
    let hi = p.blocks
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((p.runMax[mid] as number) > at) hi = mid
      else lo = mid + 1
    }
    const firstAfter = lo < p.blocks ? Math.max(p.base, (p.blockBase + lo) * BLOCK) : p.end
    // Last checkpoint at or before it.
    const cps = p.checkpoints
    lo = 0
    hi = cps.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cps[mid] as Checkpoint).offset <= firstAfter) lo = mid + 1
      else hi = mid
    }
    const chain = cps.slice(0, lo)
    const from = lo > 0 ? (cps[lo - 1] as Checkpoint).offset : p.base
    // Last block holding a record time at or before `at`: nothing after it is.
    let b = p.blocks - 1
    while (b >= 0 && (p.min[b] as number) > at) b--
    const to = b >= 0 ? Math.min(p.end, (p.blockBase + b + 1) * BLOCK) : p.base
    return { chain, from, to: Math.max(from, to), indexedEnd: p.end }
  }

  /**
   * The offsets of the records each key's entry depends on at the last checkpoint of `chain` (ascending); keys
   * absent from the map had no record before it.
   */
  static dependencies(chain: readonly Checkpoint[], keys: readonly number[]): Map<number, number[]> {
    const found = new Map<number, number[]>()
    let open = [...new Set(keys)]
    for (let c = chain.length - 1; c >= 0 && open.length > 0; c--) {
      const cp = chain[c] as Checkpoint
      const still: number[] = []
      for (const k of open) {
        if (k >= cp.keysBefore) continue // numbered after this checkpoint: in none up to it
        let i = find(cp.keys, k)
        if (i < 0) {
          still.push(k)
          continue
        }
        const offsets: number[] = []
        for (; i < cp.keys.length && cp.keys[i] === k; i++) offsets.push(cp.offset - (cp.back[i] as number))
        found.set(k, offsets)
      }
      open = still
    }
    return found
  }

  stats(): AsOfIndexStats {
    let checkpoints = 0
    let entries = 0
    let blocks = 0
    for (const p of this.#partitions.values()) {
      checkpoints += p.checkpoints.length
      for (const c of p.checkpoints) entries += c.keys.length
      blocks += p.min.length
    }
    return {
      keys: this.#keys,
      checkpoints,
      entries,
      checkpointBytes: this.#bytes,
      otherBytes: this.#last.length * 14 + blocks * 16,
    }
  }
}
