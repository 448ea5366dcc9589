// The input of the stream-processing benchmarks (our SQL engine and its Kafka Streams anchor read the same
// topics): observations keyed by asset uuid, and a compacted table of the assets' UNS ids. Deterministic for a
// seed, except for the timestamps, which end at the time of the fill (the broker's 7-day retention may delete
// older records at any time).
//
// Input record: key = asset uuid; value (≈ 157 bytes of JSON)
//   {"id": "temp", "value": 42.17, "tag": "Temperature", "type": "Samples",
//    "attributes": {"timestamp": "2026-...Z", "units": "CELSIUS", "subType": "ACTUAL"}}
// 4 of the 5 data items per asset are Samples, one is an Events counter; values uniform in [0, 100) with two
// decimals, so `type = 'Samples' AND value > 10` keeps ≈ 72%. The assets are drawn at random; record timestamps
// rise evenly over `spreadMs` (5 minutes: 5 or 6 one-minute windows per asset), so every partition is in
// timestamp order.
// Table record: key = asset uuid; value {"uns_id": "Demofactory/Area-1/WC07/asset-0042"}, for 9 assets in 10
// (every tenth asset has none, so a LEFT JOIN yields some nulls), timestamped a minute before the first input
// record (a stream-table join processes records in timestamp order: the table is loaded first).
import type { EventLog, ProducerRecord } from '@openfactory/log'

export interface StreamBenchDataOptions {
  /** Input records. */
  readonly records: number
  /** Distinct keys. Default 1000. */
  readonly assets?: number
  /** The input's timestamps span this, ending now. Default 5 minutes. */
  readonly spreadMs?: number
  /** Default 1. */
  readonly seed?: number
  /** The filter-project threshold the expected counts are computed for. Default 10. */
  readonly threshold?: number
}

export interface FillStreamBenchOptions extends StreamBenchDataOptions {
  readonly inputTopic: string
  /** Created compacted, with the input's partition count (a join needs co-partitioned topics). */
  readonly tableTopic?: string
  readonly partitions: number
  /** Records per append. Default 5000. */
  readonly batch?: number
}

/** What a correct run of each query outputs, for checking the engines against each other. */
export interface StreamBenchExpected {
  /** Records with `type = 'Samples' AND value > threshold`. */
  readonly filterProject: number
  /** Left-join outputs with a non-null `uns_id` (every input record gives one output). */
  readonly joinMatched: number
  /** Distinct (asset, one-minute window) pairs: the least number of aggregate outputs. */
  readonly windows: number
}

export interface FilledStreamBench {
  readonly records: number
  readonly tableRecords: number
  readonly partitions: number
  readonly inputBytes: number
  readonly firstTimestamp: number
  readonly lastTimestamp: number
  readonly expected: StreamBenchExpected
  readonly seconds: number
}

const DATA_ITEMS = [
  { id: 'temp', tag: 'Temperature', type: 'Samples', units: 'CELSIUS' },
  { id: 'load', tag: 'Load', type: 'Samples', units: 'PERCENT' },
  { id: 'speed', tag: 'RotaryVelocity', type: 'Samples', units: 'REVOLUTION/MINUTE' },
  { id: 'pos-x', tag: 'Position', type: 'Samples', units: 'MILLIMETER' },
  { id: 'part-count', tag: 'PartCount', type: 'Events', units: 'COUNT' },
] as const

const WINDOW_MS = 60_000

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
}

/** The asset uuids for a seed. */
export function streamBenchAssets(count: number, seed = 1): string[] {
  const random = prng(seed * 7919)
  return Array.from({ length: count }, () => uuid(random))
}

/** Whether asset number `i` has a table record. */
const hasTableRecord = (i: number): boolean => i % 10 !== 9

/** The table: one record per asset that has a UNS id. */
export function streamBenchTable(assets: readonly string[], timestamp: number): ProducerRecord[] {
  const records: ProducerRecord[] = []
  assets.forEach((key, i) => {
    if (!hasTableRecord(i)) return
    const uns = `Demofactory/Area-${i % 3}/WC${String(i % 20).padStart(2, '0')}/asset-${String(i).padStart(4, '0')}`
    records.push({ key, value: JSON.stringify({ uns_id: uns }), timestamp })
  })
  return records
}

/**
 * Creates the topics (they must not hold records yet) and appends the input (and table), then checks that every
 * record landed. Any `EventLog` will do: Kafka for the anchor, the embedded log for our engine alone.
 */
export async function fillStreamBenchTopics(log: EventLog, o: FillStreamBenchOptions): Promise<FilledStreamBench> {
  const started = performance.now()
  const assetCount = o.assets ?? 1000
  const spreadMs = o.spreadMs ?? 5 * 60_000
  const threshold = o.threshold ?? 10
  const batchSize = o.batch ?? 5000
  const assets = streamBenchAssets(assetCount, o.seed ?? 1)
  const random = prng(o.seed ?? 1)
  const last = Date.now()
  const first = last - spreadMs

  await log.createTopic({ name: o.inputTopic, partitions: o.partitions })
  let tableRecords = 0
  if (o.tableTopic) {
    await log.createTopic({ name: o.tableTopic, partitions: o.partitions, cleanupPolicy: 'compact' })
    const table = streamBenchTable(assets, first - 60_000)
    await log.append(o.tableTopic, table)
    tableRecords = table.length
  }

  let filterProject = 0
  let joinMatched = 0
  let inputBytes = 0
  const windows = new Set<string>()
  const inflight = new Set<Promise<unknown>>()
  for (let from = 0; from < o.records; from += batchSize) {
    const n = Math.min(batchSize, o.records - from)
    const batch: ProducerRecord[] = new Array(n)
    for (let j = 0; j < n; j++) {
      const i = from + j
      const a = Math.floor(random() * assetCount)
      const item = DATA_ITEMS[Math.floor(random() * DATA_ITEMS.length)]!
      const value = Math.floor(random() * 10_000) / 100
      const timestamp = o.records > 1 ? first + Math.floor((i * spreadMs) / (o.records - 1)) : last
      const json = JSON.stringify({
        id: item.id,
        value,
        tag: item.tag,
        type: item.type,
        attributes: { timestamp: new Date(timestamp).toISOString(), units: item.units, subType: 'ACTUAL' },
      })
      inputBytes += json.length
      if (item.type === 'Samples' && value > threshold) filterProject++
      if (hasTableRecord(a)) joinMatched++
      windows.add(`${a}@${Math.floor(timestamp / WINDOW_MS)}`)
      batch[j] = { key: assets[a]!, value: json, timestamp }
    }
    // A few appends in flight; the log keeps each key's records in order (one partition, appended in order).
    const p = log.append(o.inputTopic, batch).finally(() => inflight.delete(p))
    inflight.add(p)
    if (inflight.size >= 4) await Promise.race(inflight)
  }
  await Promise.all(inflight)

  const d = await log.describeTopic(o.inputTopic)
  const held = d.partitionStates.reduce((n, s) => n + s.endOffset - s.startOffset, 0)
  if (held !== o.records) throw new Error(`${o.inputTopic} holds ${held} records after the fill, not ${o.records}`)
  return {
    records: o.records,
    tableRecords,
    partitions: o.partitions,
    inputBytes,
    firstTimestamp: first,
    lastTimestamp: last,
    expected: { filterProject, joinMatched, windows: windows.size },
    seconds: (performance.now() - started) / 1000,
  }
}
