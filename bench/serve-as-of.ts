// Time travel: `GET /api/assets/{uuid}?at=T` on a log of 10 000 000 records, beside the anchor "a full replay of
// the partition to T", measured in the same run.
//
//   npx node bench/serve-as-of.ts [--records 10000000] [--assets 60] [--items 10] [--queries 40] [--anchors 6]
//
// The embedded log (no fsync; 6 partitions) holds `--assets` assets × `--items` numeric items, written round-robin,
// one record per millisecond of record time (source time 2 ms earlier); the serving state is rebuilt from it (as
// on restart: that is when the as-of index is built) with the default as-of options. Queries ask for one asset at
// an instant drawn uniformly over the log's time span (`app.inject`: route, index, window read, JSON, no socket).
// The anchor, at some of the same instants: read the asset's partition from its start with `eventLog.read` (8192
// per read) until the first record after T, decode each record of the asset and keep its last value per item —
// what answering without an index costs. Each anchor's values are compared with ours (a wrong answer stops the
// benchmark). Medians; the ratio is the anchor's time over ours.
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
    records: { type: 'string', default: '10000000' },
    assets: { type: 'string', default: '60' },
    items: { type: 'string', default: '10' },
    queries: { type: 'string', default: '40' },
    anchors: { type: 'string', default: '6' },
  },
})
const RECORDS = Number(args.records)
const ASSETS = Number(args.assets)
const ITEMS = Number(args.items)
const QUERIES = Number(args.queries)
const ANCHORS = Number(args.anchors)
const T0 = Date.UTC(2026, 9, 1)
const uuid = (i: number) => `asset-${String(i).padStart(3, '0')}`

/** Record i: asset i mod ASSETS, item (i / ASSETS) mod ITEMS; record time T0 + i. */
async function writeLog(log: EmbeddedLog): Promise<void> {
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  const chunk = 20_000
  for (let i = 0; i < RECORDS; i += chunk) {
    const records = []
    for (let j = i; j < Math.min(RECORDS, i + chunk); j++) {
      const t = T0 + j
      records.push({
        key: uuid(j % ASSETS),
        value: encodeObservation({
          id: `item${Math.floor(j / ASSETS) % ITEMS}`,
          value: j,
          tag: 'Temperature',
          type: 'Samples',
          attributes: { timestamp: isoTimestamp(t - 2), units: 'CELSIUS' },
        }),
        timestamp: t,
      })
    }
    await log.append(TOPICS.assets, records)
  }
}

/** The anchor: the asset's partition replayed from its start to T; its last value per item. */
async function replay(log: EmbeddedLog, asset: string, at: number): Promise<Map<string, unknown>> {
  const desc = await log.describeTopic(TOPICS.assets)
  const partition = partitionFor(asset, desc.partitions)
  const ps = desc.partitionStates[partition] as { startOffset: number; endOffset: number }
  const key = Buffer.from(asset)
  const out = new Map<string, unknown>()
  let offset = ps.startOffset
  for (;;) {
    const batch = await log.read(TOPICS.assets, partition, offset, { maxRecords: 8192 })
    if (batch.length === 0) return out
    for (const r of batch) {
      if (r.timestamp > at) return out
      if (r.key !== null && r.value !== null && key.equals(r.key)) {
        const o = decodeObservation(r.value)
        out.set(o.id, o.value)
      }
    }
    offset = (batch.at(-1) as LogRecord).offset + 1
    if (offset >= ps.endOffset) return out
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-as-of-'))
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
    const stats = serving.state.asOfIndex.stats()
    const rss = process.memoryUsage().rss / 2 ** 20
    console.log(
      `setup: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${RECORDS} records (${ASSETS} assets × ${ITEMS} items, round-robin, one per ms of record time), embedded log without fsync, 6 partitions; written in ${writeS.toFixed(1)} s; state and as-of index rebuilt in ${foldS.toFixed(1)} s (RSS ${rss.toFixed(0)} MiB)`,
    )
    console.log(
      `as-of index (defaults): ${stats.keys} keys, ${stats.checkpoints} checkpoints, ${stats.entries} entries, ${(stats.checkpointBytes / 1024).toFixed(0)} KiB of checkpoints, ${(stats.otherBytes / 1024).toFixed(0)} KiB of per-key arrays and record-time blocks`,
    )
    // Instants spread over the span, the assets in turn (deterministic).
    const span = RECORDS
    const instants = Array.from({ length: QUERIES }, (_, q) => ({
      asset: uuid((q * 7) % ASSETS),
      at: T0 + Math.floor(((q + 0.5) / QUERIES) * span),
    }))
    const ours: number[] = []
    const anchors: number[] = []
    const answers = new Map<number, Map<string, unknown>>()
    for (let q = 0; q < instants.length; q++) {
      const { asset, at } = instants[q] as { asset: string; at: number }
      const start = performance.now()
      const res = await app.inject(`/api/assets/${asset}?at=${at}`)
      ours.push(performance.now() - start)
      if (res.statusCode !== 200) throw new Error(`${res.statusCode}: ${res.body.slice(0, 300)}`)
      const body = res.json() as { state: { id: string; value: unknown }[] }
      answers.set(q, new Map(body.state.filter((s) => s.id.startsWith('item')).map((s) => [s.id, s.value])))
    }
    // The anchor at every (QUERIES / ANCHORS)-th instant, answers compared.
    const step = Math.max(1, Math.floor(QUERIES / ANCHORS))
    for (let q = Math.floor(step / 2); q < instants.length && anchors.length < ANCHORS; q += step) {
      const { asset, at } = instants[q] as { asset: string; at: number }
      const start = performance.now()
      const want = await replay(log, asset, at)
      anchors.push(performance.now() - start)
      const got = answers.get(q)
      if (JSON.stringify([...(got ?? [])].sort()) !== JSON.stringify([...want].sort())) {
        throw new Error(`answers differ for ${asset} at ${isoTimestamp(at)}`)
      }
    }
    const o = medianOf(ours)
    const a = medianOf(anchors)
    console.log(
      `ours: ${QUERIES} queries, median ${o.toFixed(2)} ms (min ${Math.min(...ours).toFixed(2)}, max ${Math.max(...ours).toFixed(2)})`,
    )
    console.log(
      `anchor (full replay of the partition to T): ${anchors.length} instants, median ${a.toFixed(0)} ms (${anchors.map((x) => x.toFixed(0)).join(', ')}); answers equal`,
    )
    console.log(`ratio anchor / ours: ${(a / o).toFixed(0)}×`)
    await app.close()
    await serving.close()
    await log.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
