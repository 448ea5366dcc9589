// Kafka backbone: our produce path (KafkaLog.append) against Kafka's own load generator,
// org.apache.kafka.tools.ProducerPerformance (Java client, from kafka-tools), on the same single broker, with the
// same record size and acks=all, in one run; then consuming, ours (KafkaLog.follow, and KafkaLog.read calls) against
// org.apache.kafka.tools.ConsumerPerformance.
//
//   npx node bench/kafka-produce.ts [--records 1000000] [--rounds 2] [--size 200] [--batch 1000] [--inflight 8]
//
// The broker is scripts/kafka's single node (cluster `bench`, started and stopped here unless it already runs).
// Records: 200-byte values (random bytes, like ProducerPerformance's payloads), no key; each producer writes to a
// fresh one-partition topic. ProducerPerformance runs with its defaults plus acks=all (idempotent producer,
// linger.ms 5, batch.size 16384, 5 requests in flight, no compression); ours keeps `--inflight` appends of
// `--batch` records outstanding (its batcher sends one produce request at a time, as large as the queue allows).
// Ours and the anchor alternate, `--rounds` times each; broker, load generator and client share the machine.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { KAFKA_VERSION } from '../scripts/kafka.ts'
import { benchKafka, best, fmt, printResults } from './lib/kafka-bench.ts'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '2' },
    size: { type: 'string', default: '200' },
    batch: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '8' },
  },
})
const N = Number(args.records)
const ROUNDS = Number(args.rounds)
const SIZE = Number(args.size)
const BATCH = Number(args.batch)
const INFLIGHT = Number(args.inflight)
const LIBS = path.resolve(import.meta.dirname, '..', '.cache', 'kafka', KAFKA_VERSION, 'libs')

const bench = await benchKafka(
  'Kafka backbone: produce and consume throughput',
  `${N.toLocaleString('en-US')} per run, value ${SIZE} B, no key, one-partition topic per run, acks=all; ${ROUNDS} alternating rounds`,
)
const { bootstrap, log } = bench
let topicCount = 0
async function freshTopic(): Promise<string> {
  const topic = `bench-${process.pid}-${++topicCount}`
  await log.createTopic({ name: topic, partitions: 1 })
  return topic
}

/** Kafka's ProducerPerformance: its last line is "N records sent, X records/sec (Y MB/sec), ...". */
async function theirsProduce(topic: string, props: string[] = []): Promise<number> {
  const out = execFileSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      `${LIBS}/*`,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(N),
      '--record-size',
      String(SIZE),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=all',
      ...props,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 16 * 1024 * 1024 },
  )
  const last = out.trim().split('\n').pop() ?? ''
  const m = /([\d.]+) records\/sec/.exec(last)
  if (!m) throw new Error(`unexpected ProducerPerformance output: ${last}`)
  return Number(m[1])
}

/** Ours: `INFLIGHT` appends of `BATCH` records outstanding until N records are acknowledged. */
async function oursProduce(topic: string): Promise<number> {
  const values = Array.from({ length: 1024 }, () => randomBytes(SIZE))
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < N) {
        const n = Math.min(BATCH, N - next)
        const from = next
        next += n
        const records = new Array(n)
        for (let i = 0; i < n; i++) records[i] = { value: values[(from + i) & 1023]! }
        await log.append(topic, records)
      }
    }),
  )
  return N / ((performance.now() - t0) / 1000)
}

/** Kafka's ConsumerPerformance (CSV: ..., data.consumed.in.nMsg, nMsg.sec, ..., fetch.nMsg.sec). */
function theirsConsume(topic: string): number {
  const out = execFileSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      `${LIBS}/*`,
      'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      topic,
      '--messages',
      String(N),
      '--hide-header',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const cols = out
    .trim()
    .split('\n')
    .pop()!
    .split(',')
    .map((s) => s.trim())
  return Number(cols[9]) // fetch.nMsg.sec: from the first fetch to the last record (the group join left out)
}

/** Ours: `follow` from the start until N records (fetches pipelined), or `read` calls one after another. */
async function oursConsume(topic: string, how: 'follow' | 'read'): Promise<number> {
  const t0 = performance.now()
  let count = 0
  if (how === 'follow') {
    const ac = new AbortController()
    for await (const batch of log.follow(topic, { from: 'earliest', signal: ac.signal })) {
      count += batch.length
      if (count >= N) break
    }
    ac.abort()
  } else {
    let offset = 0
    while (count < N) {
      const batch = await log.read(topic, 0, offset)
      if (batch.length === 0) break
      count += batch.length
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return count / ((performance.now() - t0) / 1000)
}

/** ProducerPerformance with batches as large as ours may get (batch.size = our maxBatchBytes). */
const TUNED = ['batch.size=1000000', 'linger.ms=5']
const produced: { ours: number[]; theirs: number[]; tuned: number[] } = { ours: [], theirs: [], tuned: [] }
const consumed: { ours: number[]; read: number[]; theirs: number[] } = { ours: [], read: [], theirs: [] }
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const a = await freshTopic()
    const theirs = await theirsProduce(a)
    const b = await freshTopic()
    const ours = await oursProduce(b)
    const c = await freshTopic()
    const tuned = await theirsProduce(c, TUNED)
    produced.theirs.push(theirs)
    produced.ours.push(ours)
    produced.tuned.push(tuned)
    console.log(
      `round ${round} produce: ours ${fmt(ours).padStart(10)} rec/s   ProducerPerformance ${fmt(theirs).padStart(10)} rec/s   ${((ours / theirs) * 100).toFixed(0)}%   (with ${TUNED.join(' ')}: ${fmt(tuned)} rec/s, ${((ours / tuned) * 100).toFixed(0)}%)`,
    )
    // Both consumers read the topic ours wrote (the same records).
    const tc = theirsConsume(b)
    const oc = await oursConsume(b, 'follow')
    const or = await oursConsume(b, 'read')
    consumed.theirs.push(tc)
    consumed.ours.push(oc)
    consumed.read.push(or)
    console.log(
      `round ${round} consume: ours ${fmt(oc).padStart(10)} rec/s   ConsumerPerformance ${fmt(tc).padStart(10)} rec/s   ${((oc / tc) * 100).toFixed(0)}%   (read calls: ${fmt(or)} rec/s)`,
    )
    for (const topic of [a, b, c]) await log.deleteTopic(topic)
  }
} finally {
  await bench.close()
}

printResults([
  {
    case: `produce, acks=all, ${SIZE} B (best of ${ROUNDS})`,
    ours: best(produced.ours),
    anchor: best(produced.theirs),
    anchorName: 'ProducerPerformance',
  },
  {
    case: `produce, acks=all, ${SIZE} B (best of ${ROUNDS})`,
    ours: best(produced.ours),
    anchor: best(produced.tuned),
    anchorName: `ProducerPerformance, ${TUNED.join(' ')}`,
  },
  {
    case: `consume (read calls), ${SIZE} B (best of ${ROUNDS})`,
    ours: best(consumed.read),
    anchor: best(consumed.theirs),
    anchorName: 'ConsumerPerformance',
  },
  {
    case: `consume (follow), ${SIZE} B (best of ${ROUNDS})`,
    ours: best(consumed.ours),
    anchor: best(consumed.theirs),
    anchorName: 'ConsumerPerformance',
  },
])
