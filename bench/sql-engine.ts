// Our SQL engine beside Kafka Streams (the engine under ksqlDB), on the same broker and the same input topics:
// filter/project, a tumbling-window aggregate and a stream-table LEFT JOIN, rows/s from the query's start until every input record is
// processed (our engine: `settle()`; Kafka Streams: bench/lib/kafka-streams.ts, its commit reaching the end), both
// exactly once; then our engine on the embedded log with the same data; then the restore time of a table of many
// keys (the engine restarted on its checkpoint). One thread each: rows/s per core.
//
//   npx node bench/sql-engine.ts [--records 200000] [--keys 200000]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { openSqlEngine } from '@openfactory/sql'
import { benchKafka, fmt, printResults } from './lib/kafka-bench.ts'
import { runKafkaStreamsBench } from './lib/kafka-streams.ts'
import { fillStreamBenchTopics } from './lib/stream-bench-data.ts'

const { values } = parseArgs({
  options: { records: { type: 'string', default: '200000' }, keys: { type: 'string', default: '200000' } },
})
const RECORDS = Number(values.records)
const KEYS = Number(values.keys)
const PARTITIONS = 3
const run = Date.now().toString(36)

const STREAM = (input: string) =>
  `CREATE STREAM s_${run} (uuid VARCHAR KEY, id VARCHAR, value DOUBLE, tag VARCHAR, type VARCHAR) WITH (KAFKA_TOPIC='${input}', VALUE_FORMAT='JSON');`

/** Per mode: the statements declaring the inputs, then the persistent query (last). */
const QUERIES = {
  'filter-project': (input: string, output: string) => [
    STREAM(input),
    `CREATE STREAM o_${run} WITH (KAFKA_TOPIC='${output}') AS SELECT uuid, id, value FROM s_${run} WHERE type = 'Samples' AND value > 10;`,
  ],
  'tumbling-aggregate': (input: string, output: string) => [
    STREAM(input),
    `CREATE TABLE w_${run} WITH (KAFKA_TOPIC='${output}') AS SELECT uuid, COUNT(*) AS n, AVG(value) AS mean FROM s_${run} WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 1 MINUTE) GROUP BY uuid;`,
  ],
  'stream-table-join': (input: string, output: string) => [
    STREAM(input),
    `CREATE TABLE t_${run} (uuid VARCHAR PRIMARY KEY, uns_id VARCHAR) WITH (KAFKA_TOPIC='${input}-table', VALUE_FORMAT='JSON');`,
    `CREATE STREAM j_${run} WITH (KAFKA_TOPIC='${output}') AS SELECT s.uuid AS uuid, s.id, s.value, t.uns_id FROM s_${run} s LEFT JOIN t_${run} t ON s.uuid = t.uuid;`,
  ],
} as const

/** Runs one query of ours over a filled topic; rows/s from the CREATE to every record processed. */
async function ours(log: EventLog, mode: keyof typeof QUERIES, input: string, tag: string): Promise<number> {
  const engine = await openSqlEngine({ eventLog: log, commandTopic: `_ofa_sql_commands_bench_${tag}` })
  try {
    const statements = QUERIES[mode](input, `out-${tag}`)
    for (const ddl of statements.slice(0, -1)) await engine.execute(ddl)
    const started = performance.now()
    await engine.execute(statements.at(-1) as string, { properties: { 'auto.offset.reset': 'earliest' } })
    await engine.settle(600_000)
    return RECORDS / ((performance.now() - started) / 1000)
  } finally {
    await engine.close()
  }
}

const kafka = await benchKafka(
  'SQL engine: our engine and Kafka Streams on one broker',
  `${fmt(RECORDS)} (≈157 B JSON)`,
)
const rows: { case: string; ours: number; anchor: number; anchorName: string }[] = []
try {
  const input = `sql-bench-in-${run}`
  const tableTopic = `${input}-table`
  const filled = await fillStreamBenchTopics(kafka.log, {
    inputTopic: input,
    tableTopic,
    records: RECORDS,
    partitions: PARTITIONS,
  })
  console.log(`filled ${fmt(filled.records)} records in ${filled.seconds.toFixed(1)} s`)
  for (const mode of Object.keys(QUERIES) as (keyof typeof QUERIES)[]) {
    const anchor = await runKafkaStreamsBench({
      bootstrap: kafka.bootstrap,
      mode,
      inputTopic: input,
      outputTopic: `ks-out-${mode}-${run}`,
      guarantee: 'exactly_once_v2',
      ...(mode === 'stream-table-join' ? { tableTopic } : {}),
    })
    const mine = await ours(kafka.log, mode, input, `${mode}-${run}`)
    console.log(`${mode}: ours ${fmt(mine)} rows/s, Kafka Streams ${fmt(anchor.rowsPerSecond)} rows/s`)
    rows.push({
      case: `${mode}, Kafka, exactly once`,
      ours: mine,
      anchor: anchor.rowsPerSecond,
      anchorName: `Kafka Streams ${anchor.kafkaStreamsVersion}`,
    })
  }

  // The same on the embedded log (its anchor stays Kafka Streams on Kafka: there is none embedded).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-sql-bench-'))
  const embedded = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
  try {
    await fillStreamBenchTopics(embedded, { inputTopic: input, tableTopic, records: RECORDS, partitions: PARTITIONS })
    for (const mode of Object.keys(QUERIES) as (keyof typeof QUERIES)[]) {
      const mine = await ours(embedded, mode, input, `emb-${mode}-${run}`)
      const anchor = rows.find((r) => r.case.startsWith(mode))
      rows.push({
        case: `${mode}, embedded log, exactly once`,
        ours: mine,
        anchor: anchor?.anchor ?? 0,
        anchorName: 'Kafka Streams on Kafka, above',
      })
    }

    // Restore: a table of KEYS keys, then a new engine on the same log restores it from its checkpoint.
    const keyed = `sql-bench-keys-${run}`
    await embedded.createTopic({ name: keyed, partitions: 1 })
    const t0 = Date.now()
    for (let i = 0; i < KEYS; i += 10_000) {
      await embedded.append(
        keyed,
        Array.from({ length: Math.min(10_000, KEYS - i) }, (_, j) => ({
          key: `k${i + j}`,
          value: `{"v":${(i + j) % 100}}`,
          timestamp: t0,
        })),
      )
    }
    const statements = [
      `CREATE STREAM k_${run} (k VARCHAR KEY, v INT) WITH (KAFKA_TOPIC='${keyed}', VALUE_FORMAT='JSON');`,
      `CREATE TABLE kt_${run} AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM k_${run} GROUP BY k;`,
    ]
    let engine = await openSqlEngine({ eventLog: embedded, commandTopic: `_ofa_sql_commands_restore_${run}` })
    await engine.execute(statements[0] as string)
    await engine.execute(statements[1] as string, { properties: { 'auto.offset.reset': 'earliest' } })
    await engine.settle(600_000)
    await engine.close()
    const started = performance.now()
    engine = await openSqlEngine({ eventLog: embedded, commandTopic: `_ofa_sql_commands_restore_${run}` })
    await engine.settle(600_000)
    const restoreSeconds = (performance.now() - started) / 1000
    await engine.close()
    console.log(
      `restore of a table of ${fmt(KEYS)} keys (embedded log): ${restoreSeconds.toFixed(2)} s (${fmt(KEYS / restoreSeconds)} keys/s)`,
    )
  } finally {
    await embedded.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  printResults(rows)
} finally {
  await kafka.close()
}
