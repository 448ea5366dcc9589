// `ofa run --workers` (runtime/workers-runtime.ts): a factory's SQL and TypeScript processors in processes of their
// own on Kafka, beside `ofa run <device>`. Two worker replicas share a lease; the holder is killed with SIGKILL (its
// whole process group) while the device keeps sending; the other takes over, and every output — of a derived
// stream, of a table over it, of a processor — is there once for each input, none missing, none twice: the same
// check as the processor runtime's kill -9 tests (packages/sql/test/processor/kill-9.test.ts), on the `ofa.src`
// header each output carries. The factory folder is outside the repository and its processor imports
// @openfactory/sql at run time, as a processor under /factory does in our image. Real broker: the single-node
// cluster of packages/log-kafka/test/helpers.ts, shared with other tests (names of this run alone).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type EventLog, type LogRecord, partitionFor } from '@openfactory/log'
import { decodeAssetEvent, TOPICS } from '@openfactory/model'
import { kafka, openTestLog } from '../../log-kafka/test/helpers.ts'
import { eventually, groupAlive, ofa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(ROOT, 'packages/cli/bin/ofa.js')
const TAKEN = 'lease taken: workers running'
const LOST = 'lease lost: workers stopped'

/**
 * An `ofa` process leading its own process group (killed with it after the test), its whole output kept: the lease
 * changes are JSON log lines on stderr.
 */
class OfaProcess {
  readonly child: ChildProcess
  readonly pgid: number
  out = ''
  err = ''
  readonly exited: Promise<number | null>
  constructor(t: TestContext, args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.pgid = this.child.pid as number
    t.after(() => {
      if (groupAlive(this.pgid)) process.kill(-this.pgid, 'SIGKILL')
    })
    this.child.stdout?.on('data', (d) => (this.out += d))
    this.child.stderr?.on('data', (d) => (this.err += d))
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)))
  }
  /** Runs the workers now: it took the lease last, and has not exited. */
  get holds(): boolean {
    return this.child.exitCode === null && this.err.lastIndexOf(TAKEN) > this.err.lastIndexOf(LOST)
  }
  get taken(): number {
    return this.err.split(TAKEN).length - 1
  }
  get started(): boolean {
    return this.out.includes('Ctrl-C stops')
  }
}

/** Every record of a topic (one partition, or all). */
async function records(log: EventLog, topic: string, partition?: number): Promise<LogRecord[]> {
  const d = await log.describeTopic(topic)
  const out: LogRecord[] = []
  for (const s of d.partitionStates) {
    if (partition !== undefined && s.partition !== partition) continue
    for (let offset = s.startOffset; offset < s.endOffset; ) {
      const batch = await log.read(topic, s.partition, offset)
      if (batch.length === 0) break
      out.push(...batch)
      offset = (batch.at(-1) as LogRecord).offset + 1
    }
  }
  return out
}

const header = (r: LogRecord, name: string) => r.headers[name]?.toString()

test('ofa run --workers: replicas share a lease; the holder killed with -9, the other takes over; every output once', {
  timeout: 240_000,
}, async (t) => {
  const { bootstrap } = await kafka()
  const log = await openTestLog(t)
  // The broker is shared by the whole test run (and by runs before it): names of this run alone.
  const suffix = randomUUID().slice(0, 8)
  const uuid = `WORKERS-SIM-${suffix}`
  const derived = `temps_${suffix}`
  const table = `TEMP_STATS_${suffix.toUpperCase()}`
  const tagged = `tagged_${suffix}`
  const dir = join(await tempDir(t, 'ofa-workers-'), 'factory')
  await mkdir(join(dir, 'sql'), { recursive: true })
  await mkdir(join(dir, 'processors'))
  await writeFile(
    join(dir, 'factory.yaml'),
    `name: workers-${suffix}\nsql: [sql/temperatures.sql]\nprocessors: [processors/tagged.ts]\n`,
  )
  await writeFile(
    join(dir, 'devices.yml'),
    `devices:
  sensor:
    uuid: ${uuid}
    connector:
      type: simulator
      interval_ms: 100
      items:
        temperature: {tag: Temperature, category: Samples, units: CELSIUS, signal: sine, offset: 20, amplitude: 5, period_s: 10, decimals: 2}
`,
  )
  // In the style of examples/demo-factory/sql/assets.sql: the observations as a stream, a derived stream of one
  // item, a table over it.
  await writeFile(
    join(dir, 'sql', 'temperatures.sql'),
    `SET 'auto.offset.reset' = 'earliest';
CREATE STREAM observations_${suffix} (
  asset_uuid VARCHAR KEY, id VARCHAR, value VARCHAR, tag VARCHAR, type VARCHAR, attributes MAP<VARCHAR, VARCHAR>
) WITH (KAFKA_TOPIC = 'ofa_assets', VALUE_FORMAT = 'JSON');
CREATE STREAM temps_${suffix} WITH (KAFKA_TOPIC = '${derived}', VALUE_FORMAT = 'JSON') AS
  SELECT asset_uuid, CAST(value AS DOUBLE) AS celsius, attributes['timestamp'] AS measured_at
  FROM observations_${suffix}
  WHERE asset_uuid = '${uuid}' AND id = 'temperature' AND value != 'UNAVAILABLE';
CREATE TABLE temp_stats_${suffix} AS
  SELECT asset_uuid, COUNT(*) AS samples, MAX(celsius) AS max_celsius FROM temps_${suffix} GROUP BY asset_uuid;
`,
  )
  // A runtime import of our package from a folder outside the repository (runtime/processors.ts resolves it).
  await writeFile(
    join(dir, 'processors', 'tagged.ts'),
    `import { defineProcessor } from '@openfactory/sql'

export default defineProcessor({
  id: 'tagged-${suffix}',
  outputs: ['${tagged}'],
  process(record, ctx) {
    const asset = ctx.asset(record)
    if (asset?.assetUuid !== '${uuid}' || asset.event.kind !== 'observation') return
    const o = asset.observation
    if (o.id !== 'temperature' || o.value === 'UNAVAILABLE') return
    ctx.emit('${tagged}', { key: asset.assetUuid, value: String(o.value), timestamp: record.timestamp })
  },
})
`,
  )
  const kafkaFlags = ['--backbone', 'kafka', '--bootstrap', bootstrap]

  const device = new OfaProcess(t, ['run', uuid, dir, ...kafkaFlags])
  const one = new OfaProcess(t, ['run', '--workers', dir, ...kafkaFlags])
  const two = new OfaProcess(t, ['run', '--workers', dir, ...kafkaFlags])
  const state = () =>
    `first: ${one.holds ? 'holds' : 'waits'}, second: ${two.holds ? 'holds' : 'waits'}\n` +
    `first's stderr:\n${one.err.slice(-3000)}\nsecond's stderr:\n${two.err.slice(-3000)}`
  const holder = await eventually(
    () => {
      const h = [one, two].filter((p) => p.holds)
      return h.length === 1 ? h[0] : undefined
    },
    'exactly one worker holding the lease',
    60_000,
  ).catch((e: Error) => assert.fail(`${e.message}\n${state()}`))
  const standby = holder === one ? two : one
  await eventually(() => standby.started || undefined, 'the other worker started', 30_000)
  assert.match(holder.out, new RegExp(`workers of workers-${suffix} on kafka .*lease ofa-workers-workers-${suffix}`))

  // The derived stream receives the device's temperatures, from the holder alone.
  const count = async (topic: string) => (await records(log, topic)).length
  await eventually(async () => ((await count(derived)) >= 30 ? true : undefined), `30 records on ${derived}`, 60_000)
  assert.equal(standby.taken, 0, 'the other worker waits')

  // kill -9 of the holder's process group, while the device goes on: the other takes the lease (once the group's
  // session of the dead member times out) and the derived output goes on.
  process.kill(-holder.pgid, 'SIGKILL')
  await holder.exited
  const atKill = await count(derived)
  await eventually(() => standby.holds || undefined, 'the other worker taking over', 60_000).catch((e: Error) =>
    assert.fail(`${e.message}\n${state()}`),
  )
  await eventually(
    async () => ((await count(derived)) >= atKill + 30 ? true : undefined),
    'derived records after the takeover',
    60_000,
  )

  // The device stops; the workers catch up with every temperature it sent.
  process.kill(-device.pgid, 'SIGTERM')
  assert.equal(await device.exited, 0)
  const partitions = (await log.describeTopic(TOPICS.assets)).partitions
  const p = partitionFor(uuid, partitions)
  const inputs = (await records(log, TOPICS.assets, p)).filter((r) => {
    if (r.key?.toString() !== uuid || !r.value) return false
    const e = decodeAssetEvent(r.value)
    return e.kind === 'observation' && e.observation.id === 'temperature' && e.observation.value !== 'UNAVAILABLE'
  })
  // What an uninterrupted run writes: one output per input, in the input's order, each naming its source record.
  const expected = inputs.map((r) => `0:${r.offset}:0`)
  const sources = async (topic: string) => (await records(log, topic)).map((r) => header(r, 'ofa.src'))
  await eventually(
    async () =>
      (await count(derived)) >= expected.length && (await count(tagged)) >= expected.length ? true : undefined,
    'every temperature through the derived stream and the processor',
    60_000,
  )
  await new Promise((r) => setTimeout(r, 1000))

  const temps = await records(log, derived)
  // One task wrote them (the query's, of the device's partition), whichever process ran it.
  const task = header(temps[0] as LogRecord, 'ofa.task') ?? ''
  assert.match(task, new RegExp(`^CSAS_TEMPS_${suffix.toUpperCase()}_\\d+/${p}$`))
  assert.ok(temps.every((r) => header(r, 'ofa.task') === task))
  assert.deepEqual(await sources(derived), expected, `${derived}: each input once, none missing, in order`)
  const out = await records(log, tagged)
  assert.ok(out.every((r) => header(r, 'ofa.task') === `tagged-${suffix}/${p}`))
  assert.deepEqual(await sources(tagged), expected, `${tagged}: each input once, none missing, in order`)
  // The table's changelog: the running count 1..n, each once — no input counted twice across the takeover.
  const samples = (await records(log, table))
    .filter((r) => r.key?.toString() === uuid)
    .map((r) => (JSON.parse(r.value?.toString() ?? '{}') as { SAMPLES: number }).SAMPLES)
  assert.deepEqual(
    samples,
    temps.map((_, i) => i + 1),
    `${table}: every count once, in order`,
  )
  assert.ok(expected.length >= atKill + 30, `${expected.length} temperatures, ${atKill} of them before the kill`)

  assert.equal(standby.taken, 1, 'the lease moved once, to the worker that waited')

  // A clean stop of the worker holding the lease: its work stops, then it leaves the group.
  process.kill(-standby.pgid, 'SIGTERM')
  assert.equal(await standby.exited, 0)
  assert.ok(standby.err.includes(LOST), 'the workers stopped before the process ended')
  assert.ok(!groupAlive(standby.pgid))
})

test('ofa run --workers refuses a factory with no SQL and no processors, and flags it has no use for', async (t) => {
  const dir = await tempDir(t, 'ofa-workers-')
  await writeFile(join(dir, 'factory.yaml'), 'name: nothing-to-run\n')
  let r = await ofa(['run', '--workers', dir, '--bootstrap', '127.0.0.1:1'])
  assert.equal(r.code, 1)
  assert.match(
    r.stderr,
    /factory\.yaml: OFA_CLI_NOTHING_TO_RUN factory nothing-to-run has no workers to run: .*neither sql: files nor processors:/,
  )
  await mkdir(join(dir, 'sql'))
  await writeFile(join(dir, 'sql', 'a.sql'), "SET 'auto.offset.reset' = 'earliest';\n")
  await writeFile(join(dir, 'factory.yaml'), 'name: nothing-to-run\nsql: [sql/a.sql]\n')
  r = await ofa(['run', '--workers', dir])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /OFA_CLI_USAGE .*backbone kafka/)
  r = await ofa(['run', '--workers', dir, '--bootstrap', '127.0.0.1:1', '--port', '8080'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /OFA_CLI_USAGE ofa run --workers listens on no port/)
  r = await ofa(['run', '--workers'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /OFA_CLI_USAGE ofa run --workers needs a factory folder/)
})

test('ofa run --workers: a statement the engine refuses stops the holder, exit 1, the error placed in its file', {
  timeout: 60_000,
}, async (t) => {
  const { bootstrap } = await kafka()
  const suffix = randomUUID().slice(0, 8)
  const dir = await tempDir(t, 'ofa-workers-')
  await writeFile(join(dir, 'factory.yaml'), `name: workers-refused-${suffix}\nsql: [bad.sql]\n`)
  await writeFile(
    join(dir, 'bad.sql'),
    `SET 'auto.offset.reset' = 'earliest';\nCREATE STREAM s_${suffix} AS SELECT * FROM no_such_stream_${suffix};\n`,
  )
  const r = await ofa(['run', '--workers', dir, '--bootstrap', bootstrap])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stdout, /stopped\n$/)
  assert.match(r.stderr, new RegExp(`bad\\.sql:2:\\d+: OFA_SQL_UNKNOWN_SOURCE .*no_such_stream_${suffix}`, 'i'))
})
