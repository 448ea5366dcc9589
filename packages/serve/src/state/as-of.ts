/**
 * Time travel: the entries of an asset as the log held them at an instant T — every record of `ofa_assets` whose
 * record time is at or before T, folded in log order as the live state folds them (`foldObservation`).
 *
 * A reader answers one request: `asset(uuid)` for the entries of one asset, `availability(uuid)` for the lists.
 * It reads the asset's partition from the checkpoint the as-of index gives for T (`AsOfIndex.window`: at most
 * the checkpoint spacing plus a block, plus the disorder of record times around T, plus what the state has not
 * indexed yet), keeping only the records of the asset (or, for availability, of `avail`) with a record time ≤ T,
 * then reads the records the checkpoint points to for the entries that window does not settle. Every read offset
 * counts against `maxScanRecords`; past it the request is refused (`OFA_SERVE_RANGE_TOO_LARGE`).
 *
 * What it cannot show: a record deleted by retention (an entry whose last record before T is gone is left out);
 * an asset removed from the registry and declared again shows its entries since the new declaration only (their
 * numbers in the index are new). Identity — declaration, UNS, data items, methods — is the current one: the
 * routes take it from the live state.
 */
import { type EventLog, type LogRecord, partitionFor, type TopicDescription } from '@openfactory/log'
import {
  AVAIL_ID,
  AVAILABLE,
  compactTimestamp,
  decodeObservation,
  isOpenFactoryError,
  isoFromMs,
  type Observation,
  OpenFactoryError,
} from '@openfactory/model'
import { AssetRecord, entryJson, foldObservation, ShapeTable } from '../internal/compact-storage.ts'
import { Interner } from '../internal/intern.ts'
import { AsOfIndex, type AsOfWindow } from './as-of-index.ts'
import type { Availability } from './asset-state.ts'

/** Records per read of a window. */
const READ_BATCH = 2000
/** Records pointed to by a checkpoint that are at most this far apart are fetched with one read. */
const FETCH_GAP = 1024

/** What the live state lends a reader. */
export interface AsOfSource {
  readonly eventLog: EventLog
  /** The `ofa_assets` topic the state reads. */
  readonly topic: string
  readonly index: AsOfIndex
  /** The live asset (its entries' numbers in the index, and their order), or undefined. */
  asset(uuid: string): AssetRecord | undefined
}

export interface AsOfOptions {
  /** Offsets a request may read (windows and the records checkpoints point to); default 2 000 000. */
  readonly maxScanRecords?: number
}

/** The entries of an asset at T. */
export interface AsOfAsset {
  /** `ItemState` JSON texts, in the order of the live state's entries (entries without a record by T left out). */
  readonly items: readonly string[]
  readonly availability: Availability
}

interface Ranges {
  readonly partition: number
  readonly window: AsOfWindow | undefined
  /** [start, end) pairs of offsets to read, in order. */
  readonly ranges: readonly (readonly [number, number])[]
}

/** What the window of a partition says about availability: the last `avail` value by T per asset UUID. */
interface WindowAvailability {
  readonly ranges: Ranges
  readonly last: Map<string, unknown>
}

export class AsOfReader {
  /** The instant, epoch ms. */
  readonly at: number
  readonly #src: AsOfSource
  readonly #maxScan: number
  #scanned = 0
  #desc: Promise<TopicDescription> | undefined
  readonly #windows = new Map<number, Promise<WindowAvailability>>()
  readonly #interner = new Interner(4096)
  readonly #shapes = new ShapeTable(this.#interner, 4096)

  constructor(src: AsOfSource, at: number, opts: AsOfOptions = {}) {
    this.#src = src
    this.at = at
    this.#maxScan = opts.maxScanRecords ?? 2_000_000
  }

  /** Offsets read so far (windows and pointed records). */
  get scanned(): number {
    return this.#scanned
  }

  /** The entries of `uuid` at T; undefined when the live state does not know the asset. */
  async asset(uuid: string): Promise<AsOfAsset | undefined> {
    const live = this.#src.asset(uuid)
    if (live === undefined) return undefined
    const desc = await this.#describe()
    const live2 = this.#src.asset(uuid) ?? live
    const r = this.#ranges(uuid, desc)
    // The keys and their checkpoint entries now, before any await: the chain is a snapshot, the cells are not.
    const keyOf = new Map<string, number>()
    for (const [id, cell] of live2.cells) if (cell.key >= 0) keyOf.set(id, cell.key)
    const deps = r.window ? AsOfIndex.dependencies(r.window.chain, [...keyOf.values()]) : new Map()
    this.#count(uuid, spanOf(r))
    const key = Buffer.from(uuid, 'utf8')
    const window: { o: Observation; offset: number }[] = []
    /** Ids whose entry a record of the window sets whatever came before: any type but a condition. */
    const settled = new Set<string>()
    await this.#read(uuid, r, (rec) => {
      if (rec.key === null || !key.equals(rec.key)) return
      const o = decode(rec)
      if (o === null) return
      window.push({ o, offset: rec.offset })
      if (o.type !== 'Condition') settled.add(o.id)
    })
    const need: number[] = []
    for (const [id, k] of keyOf) {
      if (settled.has(id)) continue
      const offsets = deps.get(k)
      if (offsets !== undefined) for (const off of offsets) need.push(off)
    }
    const past = await this.#fetch(uuid, r.partition, need)
    const state = new AssetRecord(uuid, live2.unsSeparator)
    for (const rec of past) {
      if (rec.key === null || !key.equals(rec.key)) continue
      const o = decode(rec)
      if (o !== null) this.#fold(state, o)
    }
    for (const w of window) this.#fold(state, w.o)
    const items: string[] = []
    const json = (id: string) => {
      const cell = state.cells.get(id)
      if (cell !== undefined) items.push(entryJson(state, id, cell))
    }
    for (const id of live2.cells.keys()) json(id)
    for (const id of state.cells.keys()) if (!live2.cells.has(id)) json(id)
    return { items, availability: state.cells.get(AVAIL_ID)?.value === AVAILABLE ? 'AVAILABLE' : 'UNAVAILABLE' }
  }

  /** The availability of `uuid` at T (UNAVAILABLE when no `avail` was recorded by then). */
  async availability(uuid: string): Promise<Availability> {
    const live = this.#src.asset(uuid)
    if (live === undefined) return 'UNAVAILABLE'
    const desc = await this.#describe()
    const partition = partitionFor(uuid, desc.partitions)
    let w = this.#windows.get(partition)
    if (w === undefined) {
      w = this.#availabilityWindow(uuid, desc)
      this.#windows.set(partition, w)
    }
    const { ranges, last } = await w
    let value = last.get(uuid)
    if (value === undefined) {
      const k = live.cells.get(AVAIL_ID)?.key
      const offsets = k === undefined || k < 0 || !ranges.window ? undefined : depsOf(ranges.window, k)
      if (offsets !== undefined) {
        const key = Buffer.from(uuid, 'utf8')
        for (const rec of await this.#fetch(uuid, partition, offsets)) {
          if (rec.key === null || !key.equals(rec.key)) continue
          const o = decode(rec)
          if (o !== null && o.id === AVAIL_ID) value = o.value
        }
      }
    }
    return value === AVAILABLE ? 'AVAILABLE' : 'UNAVAILABLE'
  }

  async #availabilityWindow(uuid: string, desc: TopicDescription): Promise<WindowAvailability> {
    const ranges = this.#ranges(uuid, desc)
    this.#count(uuid, spanOf(ranges))
    const last = new Map<string, unknown>()
    await this.#read(uuid, ranges, (rec) => {
      if (rec.key === null) return
      const o = decode(rec)
      if (o !== null && o.id === AVAIL_ID) last.set(rec.key.toString('utf8'), o.value)
    })
    return { ranges, last }
  }

  #fold(state: AssetRecord, o: Observation): void {
    const ts = o.attributes.timestamp
    foldObservation(state, o, typeof ts === 'string' ? compactTimestamp(ts) : '', this.#interner, this.#shapes)
  }

  #describe(): Promise<TopicDescription> {
    this.#desc ??= this.#src.eventLog.describeTopic(this.#src.topic)
    return this.#desc
  }

  /** The offsets of the asset's partition to read for T: the index's window, else the whole partition. */
  #ranges(uuid: string, desc: TopicDescription): Ranges {
    const partition = partitionFor(uuid, desc.partitions)
    const ps = desc.partitionStates[partition]
    if (ps === undefined) return { partition, window: undefined, ranges: [] }
    const start = ps.startOffset
    const end = ps.endOffset
    const window = this.#src.index.window(partition, this.at)
    const out: [number, number][] = []
    const add = (a: number, b: number) => {
      const lo = Math.max(a, start)
      const hi = Math.min(b, end)
      if (lo < hi) out.push([lo, hi])
    }
    if (window === undefined) add(start, end)
    else {
      add(window.from, window.to)
      add(Math.max(window.to, window.indexedEnd), end)
    }
    return { partition, window, ranges: out }
  }

  /** Counts `n` more offsets read; refuses the request past the limit. */
  #count(uuid: string, n: number): void {
    this.#scanned += n
    if (this.#scanned > this.#maxScan) {
      throw new OpenFactoryError(
        'OFA_SERVE_RANGE_TOO_LARGE',
        `the state of ${JSON.stringify(uuid)} at ${isoFromMs(this.at)} means reading ${this.#scanned} records of ofa_assets, more than the ${this.#maxScan} a request may read (the record times around that instant are far out of order, or the state has not read that part of the log yet)`,
        { where: { path: 'query.at' } },
      )
    }
  }

  /** Reads the ranges, handing each record with a record time ≤ T to `each`. */
  async #read(uuid: string, r: Ranges, each: (rec: LogRecord) => void): Promise<void> {
    const at = this.at
    for (const [start, end] of r.ranges) {
      let offset = start
      while (offset < end) {
        const batch = await this.#readAt(uuid, r.partition, offset, Math.min(READ_BATCH, end - offset))
        if (batch.length === 0) break
        for (let i = 0; i < batch.length; i++) {
          const rec = batch[i] as LogRecord
          if (rec.offset >= end) break
          if (rec.timestamp <= at) each(rec)
        }
        offset = (batch[batch.length - 1] as LogRecord).offset + 1
      }
    }
  }

  /**
   * The records at `offsets`, left out those deleted by retention. Offsets close to each other are read together,
   * one read for each run whose gaps are at most `FETCH_GAP`: a read of the embedded log costs its whole batch
   * however few records it returns, and an asset's entries were mostly last written close together.
   */
  async #fetch(uuid: string, partition: number, offsets: readonly number[]): Promise<LogRecord[]> {
    const sorted = [...new Set(offsets)].sort((a, b) => a - b)
    const out: LogRecord[] = []
    let i = 0
    while (i < sorted.length) {
      const first = sorted[i] as number
      let j = i
      while (j + 1 < sorted.length && (sorted[j + 1] as number) - (sorted[j] as number) <= FETCH_GAP) j++
      const last = sorted[j] as number
      this.#count(uuid, last - first + 1)
      const wanted = new Set(sorted.slice(i, j + 1))
      let offset = first
      try {
        while (offset <= last) {
          const batch = await this.#readAt(uuid, partition, offset, last - offset + 1)
          if (batch.length === 0) break
          for (const rec of batch) if (wanted.has(rec.offset)) out.push(rec)
          offset = (batch[batch.length - 1] as LogRecord).offset + 1
        }
      } catch (err) {
        if (!isOpenFactoryError(err, 'OFA_LOG_OFFSET_OUT_OF_RANGE')) throw err
        // Deleted by retention meanwhile: what was read stays, the rest is gone.
      }
      i = j + 1
    }
    return out
  }

  /** `eventLog.read`, its coded errors restated to name what was read (as history reads do). */
  async #readAt(uuid: string, partition: number, offset: number, maxRecords: number): Promise<LogRecord[]> {
    const { eventLog, topic } = this.#src
    try {
      return await eventLog.read(topic, partition, offset, { maxRecords })
    } catch (err) {
      if (!isOpenFactoryError(err) || err.code === 'OFA_LOG_OFFSET_OUT_OF_RANGE') throw err
      throw new OpenFactoryError(
        err.code,
        `state of ${JSON.stringify(uuid)} at ${isoFromMs(this.at)}: reading ${topic} partition ${partition} at offset ${offset} failed: ${err.message}`,
        {
          cause: err,
          retryable: err.retryable,
          ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
          ...(err.where ? { where: err.where } : {}),
        },
      )
    }
  }
}

function spanOf(r: Ranges): number {
  let n = 0
  for (const [a, b] of r.ranges) n += b - a
  return n
}

function depsOf(window: AsOfWindow, key: number): number[] | undefined {
  return AsOfIndex.dependencies(window.chain, [key]).get(key)
}

function decode(rec: LogRecord): Observation | null {
  if (rec.value === null) return null
  try {
    return decodeObservation(rec.value)
  } catch {
    return null
  }
}
