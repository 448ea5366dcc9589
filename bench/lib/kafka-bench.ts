// What the Kafka benchmarks share: the broker (scripts/kafka's cluster `bench`, started here unless it already
// runs, then stopped), a header that says what machine and broker the figures come from, and the result table.
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import { type KafkaLog, openKafkaLog } from '@openfactory/log-kafka'
import { KAFKA_VERSION, start, status, stop } from '../../scripts/kafka.ts'

export interface BenchKafka {
  readonly bootstrap: string
  readonly log: KafkaLog
  /** Closes the log; stops the cluster (its data deleted) unless it ran before. */
  close(): Promise<void>
}

/** Starts (or finds) the broker, opens a log on it and prints the header: `title`, then the records line. */
export async function benchKafka(title: string, records: string): Promise<BenchKafka> {
  const wasRunning = status('bench')[0]?.running.every(Boolean) ?? false
  const cluster = await start({ name: 'bench', brokers: 1 })
  const log = await openKafkaLog({ bootstrapServers: cluster.bootstrap, clientId: 'ofa-bench' })
  const cpus = os.cpus()
  console.log(`# ${title}`)
  console.log(`date: ${new Date().toISOString()}`)
  console.log(
    `node: ${process.version}; java: ${javaVersion()}; cpus: ${cpus.length} × ${cpus[0]?.model ?? '?'}; memory: ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  )
  console.log(
    `broker: Apache Kafka ${KAFKA_VERSION}, one KRaft node on ${cluster.bootstrap} (-Xmx512m, 2 network + 2 I/O threads)`,
  )
  console.log(`records: ${records}\n`)
  return {
    bootstrap: cluster.bootstrap,
    log,
    async close() {
      await log.close()
      if (!wasRunning) await stop('bench', true)
    },
  }
}

function javaVersion(): string {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' })
  return (r.stderr.split('\n')[0] ?? '?').replace(/^openjdk version /, '').replace(/"/g, '')
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
export const best = (xs: readonly number[]): number => Math.max(...xs)

/** The markdown table every benchmark ends with: our figure, the anchor's, the ratio. */
export function printResults(
  rows: readonly { case: string; ours: number; anchor: number; anchorName: string }[],
): void {
  console.log('\n| case | ours (records/s) | anchor (records/s) | ours/anchor |')
  console.log('|---|---:|---:|---:|')
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${fmt(r.ours)} | ${fmt(r.anchor)} (${r.anchorName}) | ${((r.ours / r.anchor) * 100).toFixed(0)}% |`,
    )
  }
}
