/**
 * Downsampled history: the observations of one asset over a time range, cut into buckets of `intervalMs` and
 * aggregated as they are read — count, min/max/avg of the numeric values, first and last value by source time —
 * so that a chart of a day of 1 Hz samples costs one answer of a few hundred buckets, not 86 400 items.
 *
 * The range is scanned as the raw history is (history.ts): only the offsets whose block of the time index may hold
 * a source time in [from, to], plus what the index has not seen yet. Each record is folded into its bucket and
 * dropped: the request holds one read batch and the buckets, never the records. Before reading anything the
 * request counts the offsets it would read (`TimeIndex.candidates`); past `maxScanRecords` it is refused with
 * `OFA_SERVE_RANGE_TOO_LARGE` (a range the index cannot narrow — a late backlog spread over it, a log the state has
 * not read yet — counts at full size).
 *
 * Buckets: bucket k covers source times [from + k·intervalMs, from + (k+1)·intervalMs); there are
 * ceil((to − from) / intervalMs) of them (at least one), and the last one also holds `to` itself (the range is
 * inclusive at both ends, as for the raw history). Buckets without an observation are left out of the answer.
 */
import type { EventLog } from '@openfactory/log'
import { isoFromMs, type ObservationValue, OpenFactoryError } from '@openfactory/model'
import type { TimeIndex } from '../state/time-index.ts'
import { assetPartition, candidateBatches, ObservationFilter } from './history.ts'

/** Most buckets of one answer (the contract with the dashboard). */
export const MAX_BUCKETS = 10_000

/** Records read per batch: bigger than a history page's, the scan goes through millions of them. */
const SCAN_BATCH = 8192

export interface DownsampleQuery {
  readonly uuid: string
  /** Item ids in the order asked for; null: every item seen in the range. */
  readonly ids: readonly string[] | null
  readonly from: number
  readonly to: number
  readonly intervalMs: number
  /** Offsets of the partition one request may read; past it the request is refused before reading. */
  readonly maxScanRecords: number
}

/** How many buckets [from, to] gives at `intervalMs` (at least one). */
export function bucketCount(from: number, to: number, intervalMs: number): number {
  return Math.max(1, Math.ceil((to - from) / intervalMs))
}

class Bucket {
  count = 1
  /** Numeric values seen, and their min, max and sum (NaN while there is none). */
  n: number
  min: number
  max: number
  sum: number
  first: ObservationValue
  firstAt: number
  last: ObservationValue
  lastAt: number

  constructor(v: ObservationValue, t: number) {
    const numeric = typeof v === 'number'
    this.n = numeric ? 1 : 0
    this.min = numeric ? v : Number.NaN
    this.max = this.min
    this.sum = this.min
    this.first = v
    this.firstAt = t
    this.last = v
    this.lastAt = t
  }

  add(v: ObservationValue, t: number): void {
    this.count++
    if (typeof v === 'number') {
      if (this.n === 0) {
        this.min = v
        this.max = v
        this.sum = v
      } else {
        if (v < this.min) this.min = v
        if (v > this.max) this.max = v
        this.sum += v
      }
      this.n++
    }
    // Ties on source time: the earlier record on the log stays first, the later one becomes last.
    if (t < this.firstAt) {
      this.first = v
      this.firstAt = t
    }
    if (t >= this.lastAt) {
      this.last = v
      this.lastAt = t
    }
  }
}

class Series {
  readonly id: string
  tag: string | undefined
  type: string | undefined
  units: string | undefined
  /** Indexed by bucket number; holes where no observation fell. */
  readonly buckets: (Bucket | undefined)[]

  constructor(id: string, count: number) {
    this.id = id
    this.buckets = new Array(count)
  }

  json(from: number, intervalMs: number): string {
    const out: string[] = []
    const buckets = this.buckets
    for (let k = 0; k < buckets.length; k++) {
      const b = buckets[k]
      if (b === undefined) continue
      const numeric = b.n > 0
      out.push(
        JSON.stringify({
          t: isoFromMs(from + k * intervalMs),
          count: b.count,
          min: numeric ? b.min : null,
          max: numeric ? b.max : null,
          avg: numeric ? b.sum / b.n : null,
          first: b.first,
          last: b.last,
          firstAt: isoFromMs(b.firstAt),
          lastAt: isoFromMs(b.lastAt),
        }),
      )
    }
    const head = JSON.stringify({
      id: this.id,
      ...(this.tag !== undefined ? { tag: this.tag } : {}),
      ...(this.type !== undefined ? { type: this.type } : {}),
      ...(this.units !== undefined ? { units: this.units } : {}),
    })
    return `${head.slice(0, -1)},"buckets":[${out.join(',')}]}`
  }
}

function tooMany(q: DownsampleQuery, partition: number, records: number): OpenFactoryError {
  return new OpenFactoryError(
    'OFA_SERVE_RANGE_TOO_LARGE',
    `the history of ${JSON.stringify(q.uuid)} from ${isoFromMs(q.from)} to ${isoFromMs(q.to)} means reading ${records} records of ofa_assets partition ${partition}, more than the ${q.maxScanRecords} a request may read: narrow the range (from, to)`,
    { where: { path: 'query.from' } },
  )
}

/** The downsampled history as the JSON text of the `DownsampledHistory` schema. */
export async function readDownsampled(eventLog: EventLog, timeIndex: TimeIndex, q: DownsampleQuery): Promise<string> {
  const count = bucketCount(q.from, q.to, q.intervalMs)
  const series = new Map<string, Series>()
  for (const id of q.ids ?? []) series.set(id, new Series(id, count))
  const part = await assetPartition(eventLog, q.uuid)
  if (part) {
    const candidates = timeIndex.candidates(part.partition, part.startOffset, part.endOffset, q.from, q.to)
    if (candidates > q.maxScanRecords) throw tooMany(q, part.partition, candidates)
    const filter = new ObservationFilter(q.uuid, q.ids === null ? null : new Set(q.ids), q.from, q.to)
    const { from, intervalMs } = q
    const last = count - 1
    for await (const batch of candidateBatches(eventLog, timeIndex, q.uuid, part, q.from, q.to, SCAN_BATCH)) {
      for (let i = 0; i < batch.length; i++) {
        const o = filter.accept(batch[i] as (typeof batch)[number])
        if (o === null) continue
        const t = filter.time
        let s = series.get(o.id)
        if (s === undefined) {
          s = new Series(o.id, count)
          series.set(o.id, s)
        }
        if (o.tag !== '') s.tag = o.tag
        s.type = o.type
        const units = o.attributes.units
        if (typeof units === 'string') s.units = units
        const k = Math.min(last, Math.floor((t - from) / intervalMs))
        const b = s.buckets[k]
        if (b === undefined) s.buckets[k] = new Bucket(o.value, t)
        else b.add(o.value, t)
      }
    }
  }
  // Asked for: in the order asked. Not asked: every item seen, by id.
  const list =
    q.ids === null
      ? [...series.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      : [...series.values()]
  const body = list.map((s) => s.json(q.from, q.intervalMs)).join(',')
  return `{"from":"${isoFromMs(q.from)}","to":"${isoFromMs(q.to)}","intervalMs":${q.intervalMs},"series":[${body}]}`
}
