// The Kafka Streams anchor alone: fills an input topic (and a table topic) on a Kafka cluster of scripts/kafka.ts,
// then runs each mode under each processing guarantee and prints the figures (bench/kafka-streams/README.md).
//
//   npx node bench/kafka-streams/run.ts [--cluster bench] [--bootstrap HOST:PORT] [--records 200000]
//     [--partitions 3] [--assets 1000] [--modes filter-project,tumbling-aggregate,stream-table-join]
//     [--guarantees exactly_once_v2,at_least_once] [--warmup 1] [--rounds 1] [--keep-topics]
//
// Without --bootstrap the cluster `--cluster` is started when it does not run (and stopped, its data deleted,
// at the end); with it, that broker is used as it is. Topics get unique names and are deleted at the end.
import os from 'node:os'
import { parseArgs } from 'node:util'
import { openKafkaLog } from '@openfactory/log-kafka'
import { KAFKA_VERSION, start, status, stop } from '../../scripts/kafka.ts'
import {
  buildKafkaStreamsBench,
  type KafkaStreamsBenchMode,
  type KafkaStreamsBenchResult,
  type ProcessingGuarantee,
  runKafkaStreamsBench,
} from '../lib/kafka-streams.ts'
import { fillStreamBenchTopics } from '../lib/stream-bench-data.ts'

const { values: args } = parseArgs({
  options: {
    cluster: { type: 'string', default: 'bench' },
    bootstrap: { type: 'string' },
    records: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '3' },
    assets: { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'filter-project,tumbling-aggregate,stream-table-join' },
    guarantees: { type: 'string', default: 'exactly_once_v2,at_least_once' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    'keep-topics': { type: 'boolean', default: false },
  },
})
const RECORDS = Number(args.records)
const PARTITIONS = Number(args.partitions)
const ROUNDS = Number(args.rounds)
const WARMUP = Number(args.warmup)
const MODES = args.modes.split(',') as KafkaStreamsBenchMode[]
const GUARANTEES = args.guarantees.split(',') as ProcessingGuarantee[]
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

const build = await buildKafkaStreamsBench()
console.log(
  `# Kafka Streams anchor\nbuild: ${build.built ? `built in ${build.seconds.toFixed(1)} s` : `cached (${build.seconds.toFixed(2)} s to check)`} -> ${build.dir}`,
)

let stopCluster = false
let bootstrap = args.bootstrap
if (!bootstrap) {
  stopCluster = !(status(args.cluster)[0]?.running.every(Boolean) ?? false)
  bootstrap = (await start({ name: args.cluster, brokers: 1 })).bootstrap
}
const log = await openKafkaLog({ bootstrapServers: bootstrap, clientId: 'ofa-bench-kafka-streams' })
// Ctrl-C stops the run under way (the wrapper stops the JVM, which deletes its application) and then the topics
// below are deleted.
const stopped = new AbortController()
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stopped.abort(new Error(`stopped by ${sig}`)))
const prefix = `ks-bench-${Date.now().toString(36)}-${process.pid}`
const topics: string[] = []
try {
  const inputTopic = `${prefix}-input`
  const tableTopic = MODES.includes('stream-table-join') ? `${prefix}-table` : undefined
  topics.push(inputTopic, ...(tableTopic ? [tableTopic] : []))
  const filled = await fillStreamBenchTopics(log, {
    inputTopic,
    tableTopic,
    records: RECORDS,
    partitions: PARTITIONS,
    assets: Number(args.assets),
  })
  const cpus = os.cpus()
  console.log(`date: ${new Date().toISOString()}`)
  console.log(`cpus: ${cpus.length} × ${cpus[0]?.model ?? '?'}; broker: Apache Kafka ${KAFKA_VERSION} at ${bootstrap}`)
  console.log(
    `input: ${fmt(filled.records)} records (${(filled.inputBytes / filled.records).toFixed(0)} B JSON values, ${args.assets} asset keys) in ${PARTITIONS} partitions, timestamps over the last ${((filled.lastTimestamp - filled.firstTimestamp) / 60_000).toFixed(0)} min; table: ${filled.tableRecords} records; filled in ${filled.seconds.toFixed(1)} s`,
  )
  console.log(
    `expected: filter-project ${fmt(filled.expected.filterProject)} outputs; stream-table-join ${fmt(filled.records)} (${fmt(filled.expected.joinMatched)} with uns_id); tumbling-aggregate ≥ ${fmt(filled.expected.windows)} (asset, window) pairs\n`,
  )

  const results: KafkaStreamsBenchResult[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    for (const guarantee of GUARANTEES) {
      for (const mode of MODES) {
        stopped.signal.throwIfAborted()
        const outputTopic = `${prefix}-out-${mode}-${guarantee}-${round}`
        topics.push(outputTopic)
        const r = await runKafkaStreamsBench({
          bootstrap,
          mode,
          inputTopic,
          tableTopic: mode === 'stream-table-join' ? tableTopic : undefined,
          outputTopic,
          records: RECORDS,
          guarantee,
          warmupRuns: WARMUP,
          signal: stopped.signal,
        })
        const want =
          mode === 'filter-project'
            ? filled.expected.filterProject
            : mode === 'stream-table-join'
              ? filled.records
              : undefined
        const check =
          want === undefined
            ? r.outputs >= filled.expected.windows
              ? 'ok'
              : `FEWER THAN ${filled.expected.windows}`
            : r.outputs === want
              ? 'ok'
              : `EXPECTED ${want}`
        const cold = r.warmups[0] ? `; cold JVM ${fmt(r.warmups[0].rowsPerSecond)} rows/s` : ''
        console.log(
          `${mode} ${guarantee}: ${fmt(r.rowsPerSecond)} rows/s${cold} (${r.seconds.toFixed(2)} s; CPU ${r.processCpuSeconds.toFixed(2)} s process, ${r.streamThreadCpuSeconds.toFixed(2)} s stream thread); outputs ${fmt(r.outputs)} ${check}; ${r.commits} commits; first record read ${r.processStartupSeconds.toFixed(1)} s after spawning java, wall ${r.wallSeconds.toFixed(1)} s`,
        )
        results.push(r)
      }
    }
  }
  const r0 = results[0]
  if (r0) {
    console.log(
      `\nKafka Streams ${r0.kafkaStreamsVersion} on Java ${r0.java}; ${r0.threadsNote}; commit.interval.ms ${r0.commitIntervalMs}, statestore.cache.max.bytes ${r0.cacheMaxBytes}, topology.optimization ${r0.topologyOptimization}; measured: ${r0.measured}`,
    )
  }
  const coldColumn = WARMUP > 0 ? ' rows/s, cold JVM |' : ''
  console.log(
    `\n| mode | guarantee | rows/s |${coldColumn} s | process CPU s | stream thread CPU s | rows per process CPU s | outputs |`,
  )
  console.log(`|---|---|---:|${WARMUP > 0 ? '---:|' : ''}---:|---:|---:|---:|---:|`)
  for (const r of results) {
    const cold = r.warmups[0] ? ` ${fmt(r.warmups[0].rowsPerSecond)} |` : ''
    console.log(
      `| ${r.mode} | ${r.guarantee} | ${fmt(r.rowsPerSecond)} |${cold} ${r.seconds.toFixed(2)} | ${r.processCpuSeconds.toFixed(2)} | ${r.streamThreadCpuSeconds.toFixed(2)} | ${fmt(r.records / r.processCpuSeconds)} | ${fmt(r.outputs)} |`,
    )
  }
} finally {
  if (!args['keep-topics']) for (const t of topics) await log.deleteTopic(t).catch(() => {})
  await log.close()
  if (stopCluster) await stop(args.cluster, true)
}
