// Downsampled history: `GET /api/assets/{uuid}/history?from&to&buckets` over 1 000 000 points of one asset,
// beside the anchor "reading the same records raw with eventLog.read", measured in the same run.
//
//   npx node bench/serve-history-downsample.ts [--points 1000000] [--items 4] [--buckets 1000] [--rounds 3]
//
// The embedded log (no fsync; 6 partitions) holds the asset's declaration, then `--points` observations spread over
// `--items` numeric items, 10 ms apart, one every 50th UNAVAILABLE; the serving state is rebuilt from it (as on
// restart), then the app answers the query in this process (`app.inject`: the route, the time index, the scan and
// the JSON, without a socket). Anchors, in the same process, alternating with ours: reading the asset's partition
// from its start to its end with `eventLog.read` in batches of the same size the query reads (8192), records left
// as they come (raw); and the same read with every record decoded by the codec (`decodeObservation`), which any
// reader of observations pays. Medians of the rounds; the ratios are ours over each anchor (time).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { type EmbeddedLog, type LogRecord, openEmbeddedLog, partitionFor } from '@openfactory/log'
import { decodeObservation, encodeObservation, isoTimestamp, TOPICS } from '@openfactory/model'
import { createServeApp, createServingState } from '@openfactory/serve'
import { medianOf } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '4' },
    buckets: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
})
const POINTS = Number(args.points)
const ITEMS = Number(args.items)
const BUCKETS = Number(args.buckets)
const ROUNDS = Number(args.rounds)
const UUID = 'bench-asset-1'
const T0 = Date.UTC(2026, 10, 1)
const STEP_MS = 10
const BATCH = 8192

async function writeLog(log: EmbeddedLog): Promise<void> {
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  const chunk = 10_000
  for (let i = 0; i < POINTS; i += chunk) {
    const records = []
    for (let j = i; j < Math.min(POINTS, i + chunk); j++) {
      const t = T0 + j * STEP_MS
      records.push({
        key: UUID,
        value: encodeObservation({
          id: `item${j % ITEMS}`,
          value: j % 50 === 49 ? 'UNAVAILABLE' : Math.round(Math.sin(j / 1000) * 1000) / 10,
          tag: 'Temperature',
          type: 'Samples',
          attributes: { timestamp: isoTimestamp(t), ingestion_timestamp: isoTimestamp(t + 2), units: 'CELSIUS' },
        }),
        timestamp: t + 3,
      })
    }
    await log.append(TOPICS.assets, records)
  }
}

/** Reads the asset's partition start to end; with `decode`, decodes each record of the asset. Returns records read. */
async function readAll(log: EmbeddedLog, decode: boolean): Promise<number> {
  const desc = await log.describeTopic(TOPICS.assets)
  const partition = partitionFor(UUID, desc.partitions)
  const ps = desc.partitionStates[partition] as { startOffset: number; endOffset: number }
  const key = Buffer.from(UUID)
  let offset = ps.startOffset
  let n = 0
  let sink = 0
  while (offset < ps.endOffset) {
    const batch = await log.read(TOPICS.assets, partition, offset, { maxRecords: BATCH })
    if (batch.length === 0) break
    for (const r of batch) {
      n++
      if (decode && r.key !== null && r.value !== null && key.equals(r.key))
        sink += decodeObservation(r.value).id.length
    }
    offset = (batch.at(-1) as LogRecord).offset + 1
  }
  if (decode && sink === 0) throw new Error('nothing decoded')
  return n
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-downsample-'))
  try {
    const log = await openEmbeddedLog({ dir, fsync: false, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
    let t = performance.now()
    await writeLog(log)
    const writeS = (performance.now() - t) / 1000
    t = performance.now()
    const serving = createServingState({ eventLog: log })
    await serving.ready()
    const foldS = (performance.now() - t) / 1000
    const app = await createServeApp({ eventLog: log, serving })
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
    console.log(
      `setup: ${os.cpus().length} × ${cpu}, Node ${process.version}; ${POINTS} points of one asset over ${ITEMS} items, ${STEP_MS} ms apart (${((POINTS * STEP_MS) / 3_600_000).toFixed(1)} h); embedded log without fsync, 6 partitions; written in ${writeS.toFixed(1)} s, state rebuilt in ${foldS.toFixed(1)} s; ${BUCKETS} buckets; ${ROUNDS} rounds, cases alternating (+1 warm-up)`,
    )
    const from = T0
    const to = T0 + (POINTS - 1) * STEP_MS
    const url = `/api/assets/${UUID}/history?from=${from}&to=${to}&buckets=${BUCKETS}`
    const ours = async () => {
      const res = await app.inject(url)
      if (res.statusCode !== 200) throw new Error(`${res.statusCode}: ${res.body.slice(0, 300)}`)
      const body = res.json() as { series: { buckets: { count: number }[] }[] }
      const count = body.series.reduce((n, s) => n + s.buckets.reduce((m, b) => m + b.count, 0), 0)
      if (count !== POINTS) throw new Error(`${count} points counted, ${POINTS} written`)
      return count
    }
    const cases: [string, () => Promise<number>][] = [
      ['ours: downsampled query', ours],
      ['anchor: eventLog.read, raw', () => readAll(log, false)],
      ['anchor: eventLog.read + decodeObservation', () => readAll(log, true)],
    ]
    const times = new Map<string, number[]>(cases.map(([name]) => [name, []]))
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [name, run] of cases) {
        const start = performance.now()
        await run()
        const ms = performance.now() - start
        if (round > 0) times.get(name)?.push(ms)
      }
    }
    const med = (name: string) => medianOf(times.get(name) as number[])
    for (const [name] of cases) {
      const all = (times.get(name) as number[]).map((x) => x.toFixed(0)).join(', ')
      const m = med(name)
      console.log(
        `${name.padEnd(45)} ${m.toFixed(0).padStart(6)} ms  (${((POINTS / m) * 1000).toFixed(0)} points/s; rounds ${all})`,
      )
    }
    const o = med('ours: downsampled query')
    console.log(
      `ratio ours / raw read: ${(o / med('anchor: eventLog.read, raw')).toFixed(2)}; ours / read + decode: ${(o / med('anchor: eventLog.read + decodeObservation')).toFixed(2)}`,
    )
    await app.close()
    await serving.close()
    await log.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
