// Edge store and forward: records already in an edge's embedded log forwarded to Kafka by the forwarder
// (createForwarder: group consumer, edge headers, recovery scan, commits), against a bare copy of the same records
// (EmbeddedLog.read per partition, KafkaLog.append) in the same run.
//
//   npx node bench/edge-forward.ts [--records 1000000] [--rounds 2] [--size 200] [--partitions 6] [--batch 1000] [--inflight 8] [--forward-batch N] [--forward-inflight N]
//
// The broker is scripts/kafka's single node (cluster `bench`, started and stopped here unless it already runs).
// Records: 200-byte values (random bytes), keys `asset-<i % 100>`, in one topic of 6 partitions of an embedded log
// in a temporary directory (one per round), appended before any timer starts. Both copies go to fresh Kafka topics
// of the same partition count, created before their timer starts; acks=all.
// - ours: `start()` to `caughtUp()` of a forwarder with its defaults (batches of up to 10 000 records read; since
//   issue 18, with a Kafka target, up to 8 appends of up to 2 000 records in flight per topic — `--forward-inflight
//   1` for one append of up to 10 000 at a time, as before; commits once a second, off the appends' path);
//   includes the consumer's join and the one-time scan of each (empty) target partition, all six before the first
//   append.
// - anchor: the same records read partition after partition (`read`, 10 000 records per call), copied, and
//   appended in batches of `--batch` records with `--inflight` appends outstanding (kafka-produce.ts's producer).
// - information: the embedded read alone (the same `read` calls, no copy, nothing sent).
// Ours and the anchor alternate, `--rounds` times each; broker and client share the machine.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createForwarder, type EmbeddedLog, openEmbeddedLog, type ProducerRecord } from '@openfactory/log'
import { benchKafka, best, fmt, printResults } from './lib/kafka-bench.ts'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '2' },
    size: { type: 'string', default: '200' },
    partitions: { type: 'string', default: '6' },
    batch: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '8' },
    'forward-batch': { type: 'string' },
    'forward-inflight': { type: 'string' },
  },
})
const N = Number(args.records)
const ROUNDS = Number(args.rounds)
const SIZE = Number(args.size)
const PARTITIONS = Number(args.partitions)
const BATCH = Number(args.batch)
const INFLIGHT = Number(args.inflight)

const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-edge-'))
process.on('exit', () => fs.rmSync(baseDir, { recursive: true, force: true }))

const bench = await benchKafka(
  'Edge store and forward: embedded log → Kafka',
  `${N.toLocaleString('en-US')} per run, value ${SIZE} B, key asset-<i % 100>, ${PARTITIONS}-partition topics, acks=all; ${ROUNDS} alternating rounds`,
)
const kafka = bench.log
const rate = (n: number, t0: number): number => n / ((performance.now() - t0) / 1000)

/** A fresh embedded log holding N records in one topic; appended (durably) before any timer starts. */
async function fillEdge(round: number): Promise<{ edge: EmbeddedLog; dir: string; topic: string }> {
  const dir = path.join(baseDir, `round-${round}`)
  const edge = await openEmbeddedLog({ dir })
  const topic = `edge-${process.pid}-${round}`
  await edge.createTopic({ name: topic, partitions: PARTITIONS })
  const values = Array.from({ length: 1024 }, () => randomBytes(SIZE))
  const CHUNK = 10_000
  for (let from = 0; from < N; from += CHUNK) {
    const n = Math.min(CHUNK, N - from)
    const records = new Array<ProducerRecord>(n)
    for (let i = 0; i < n; i++) records[i] = { key: `asset-${(from + i) % 100}`, value: values[(from + i) & 1023]! }
    await edge.append(topic, records)
  }
  return { edge, dir, topic }
}

/** Records in a Kafka topic (sum of end offsets): every run must have copied exactly N. */
async function count(topic: string): Promise<number> {
  const d = await kafka.describeTopic(topic)
  return d.partitionStates.reduce((n, s) => n + s.endOffset - s.startOffset, 0)
}

/** Ours: the forwarder, from `start()` until `caughtUp()` resolves. */
async function oursForward(edge: EmbeddedLog, topic: string, round: number): Promise<number> {
  // The forwarder writes to the topic of the same name; created beforehand like the anchor's.
  await kafka.createTopic({ name: topic, partitions: PARTITIONS })
  const forwarder = createForwarder({
    source: edge,
    target: kafka,
    edgeId: `bench-${process.pid}-${round}`,
    topics: [topic],
    ...(args['forward-batch'] ? { maxBatchRecords: Number(args['forward-batch']) } : {}),
    ...(args['forward-inflight'] ? { maxAppendsInFlight: Number(args['forward-inflight']) } : {}),
  })
  let r: number
  try {
    const t0 = performance.now()
    await forwarder.start()
    await forwarder.caughtUp()
    r = rate(N, t0)
    const forwarded = (await forwarder.stats()).forwarded
    if (forwarded !== N) throw new Error(`forwarder forwarded ${forwarded} records, expected ${N}`)
  } finally {
    await forwarder.stop()
  }
  const n = await count(topic)
  if (n !== N) throw new Error(`forwarded topic holds ${n} records, expected ${N}`)
  return r
}

/** Anchor: `read` partition after partition, copy, `append` in batches of BATCH with INFLIGHT outstanding. */
async function anchorCopy(edge: EmbeddedLog, topic: string): Promise<number> {
  const target = `${topic}-copy`
  await kafka.createTopic({ name: target, partitions: PARTITIONS })
  const queue: ProducerRecord[][] = []
  let partition = 0
  let offset = 0
  let reading: Promise<void> | null = null
  const fill = async (): Promise<void> => {
    const records = await edge.read(topic, partition, offset)
    if (records.length === 0) {
      partition++
      offset = 0
      return
    }
    offset = records[records.length - 1]!.offset + 1
    for (let i = 0; i < records.length; i += BATCH) {
      queue.push(
        records.slice(i, i + BATCH).map((r) => ({
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
          timestamp: r.timestamp,
          partition: r.partition,
        })),
      )
    }
  }
  /** The next batch, reading more (one read at a time) when none is queued; null at the end. */
  const take = async (): Promise<ProducerRecord[] | null> => {
    while (queue.length === 0) {
      if (partition >= PARTITIONS) return null
      reading ??= fill().finally(() => {
        reading = null
      })
      await reading
    }
    return queue.shift()!
  }
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      for (let batch = await take(); batch !== null; batch = await take()) await kafka.append(target, batch)
    }),
  )
  const r = rate(N, t0)
  const n = await count(target)
  if (n !== N) throw new Error(`copied topic holds ${n} records, expected ${N}`)
  return r
}

/** Information: the embedded log's `read` calls alone. */
async function readOnly(edge: EmbeddedLog, topic: string): Promise<number> {
  let n = 0
  const t0 = performance.now()
  for (let p = 0; p < PARTITIONS; p++) {
    for (let offset = 0; ; ) {
      const records = await edge.read(topic, p, offset)
      if (records.length === 0) break
      n += records.length
      offset = records[records.length - 1]!.offset + 1
    }
  }
  const r = rate(n, t0)
  if (n !== N) throw new Error(`read ${n} records, expected ${N}`)
  return r
}

const results: { ours: number[]; anchor: number[]; read: number[] } = { ours: [], anchor: [], read: [] }
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const { edge, dir, topic } = await fillEdge(round)
    try {
      const read = await readOnly(edge, topic)
      const ours = await oursForward(edge, topic, round)
      const anchor = await anchorCopy(edge, topic)
      results.read.push(read)
      results.ours.push(ours)
      results.anchor.push(anchor)
      console.log(
        `round ${round}: forwarder ${fmt(ours).padStart(10)} rec/s   read + append ${fmt(anchor).padStart(10)} rec/s   ${((ours / anchor) * 100).toFixed(0)}%   (embedded read alone: ${fmt(read)} rec/s)`,
      )
      for (const t of [topic, `${topic}-copy`]) await kafka.deleteTopic(t)
    } finally {
      await edge.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
} finally {
  await bench.close()
}

printResults([
  {
    case: `forward embedded → Kafka, ${PARTITIONS} partitions, acks=all, ${SIZE} B (best of ${ROUNDS})`,
    ours: best(results.ours),
    anchor: best(results.anchor),
    anchorName: `read + append, ${INFLIGHT} × ${BATCH} in flight`,
  },
])
console.log(`\nembedded read alone (information, best of ${ROUNDS}): ${fmt(best(results.read))} records/s`)
