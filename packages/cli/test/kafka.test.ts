// The factory on Apache Kafka: `ofa up --backbone kafka`, and `ofa run` processes sharing the work (a serving
// app, replicas of one device's connector taking over from each other on stop and on kill -9). Real broker:
// the single-node cluster that `npm test` starts (see packages/log-kafka/test/helpers.ts).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { partitionFor } from '@openfactory/log'
import { openKafkaLog } from '@openfactory/log-kafka'
import { decodeObservation, silentLogger, TOPICS } from '@openfactory/model'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { demoCopy, eventually, getJson, ofa, pull } from './helpers.ts'

const BIN = fileURLToPath(new URL('../bin/ofa.js', import.meta.url))
const CNC = 'DEMO-CNC-SIM-001'

async function callSetSpeed(api: string, rpm: number): Promise<{ status: string; result: unknown }> {
  const res = await fetch(`${api}/assets/${CNC}/methods/SetSpeed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rpm }),
  })
  assert.equal(res.status, 200)
  return (await res.json()) as { status: string; result: unknown }
}

/** `avail` and a fresh `spindle_speed` of the CNC as the serving layer sees them. */
async function _cncState(api: string): Promise<{ avail: string; speedAt: number }> {
  const a = await getJson(`${api}/assets/${CNC}`)
  const item = (id: string) => a.state.find((s: { id: string }) => s.id === id)
  return { avail: item('avail').value, speedAt: Date.parse(item('spindle_speed').timestamp) }
}

test('ofa up --backbone kafka runs the demo factory on Kafka', { timeout: 120_000 }, async (t) => {
  const { bootstrap } = await kafka()
  const dir = await demoCopy(t)
  const rt = await startLocalRuntime({ paths: [dir], backbone: 'kafka', bootstrap, port: 0, logger: silentLogger })
  let stopped = false
  t.after(() => (stopped ? undefined : rt.stop()))
  assert.match(rt.log.description, /^kafka /)
  assert.equal(rt.where, `kafka ${bootstrap}`)
  const api = `${rt.url}/api`
  for (const uuid of [CNC, 'DEMO-DHT-001', 'OFA-MILL-001']) {
    await eventually(
      async () => (await getJson(`${api}/assets/${uuid}`)).availability === 'AVAILABLE' || undefined,
      `${uuid} AVAILABLE`,
      30_000,
    )
  }
  // The factory's SQL (the reference's asset topology, examples/demo-factory/sql/assets.sql) on Kafka: the
  // current value of an item, and the same with its UNS path through the foreign-key join.
  const placed = await eventually(
    async () => {
      const rows = await pull(rt, `SELECT * FROM assets_uns WHERE asset_uuid_key = '${CNC}|spindle_load';`)
      return rows[0]?.VALUE !== undefined && rows[0]?.VALUE !== 'UNAVAILABLE' ? rows[0] : undefined
    },
    'the spindle load with its UNS path in assets_uns',
    30_000,
  )
  assert.equal(placed.KEY, `${placed.UNS_ID}|spindle_load`)
  const current = await pull(rt, `SELECT value FROM assets WHERE key = '${CNC}|spindle_load';`)
  assert.ok(Number.isFinite(Number(current[0]?.VALUE)), `a number as text: ${current[0]?.VALUE}`)
  const answer = await callSetSpeed(api, 1500)
  assert.equal(answer.status, 'completed')
  assert.deepEqual(answer.result, { spindle_speed: 1500 })
  const stoppedAt = Date.now()
  await rt.stop()
  stopped = true

  // Another Kafka client finds the sensor's last word on its partition: UNAVAILABLE, the connector stopped.
  const reader = await openKafkaLog({ bootstrapServers: bootstrap, clientId: 'ofa-cli-test' })
  t.after(() => reader.close())
  const d = await reader.describeTopic(TOPICS.assets)
  const p = partitionFor('DEMO-DHT-001', d.partitions)
  const end = d.partitionStates[p]!.endOffset
  const tail = await reader.read(TOPICS.assets, p, Math.max(0, end - 200), { maxRecords: 200 })
  const last = tail
    .filter((r) => r.key?.toString() === 'DEMO-DHT-001')
    .map((r) => ({ at: r.timestamp, obs: decodeObservation(r.value!) }))
    .filter((r) => r.obs.id === 'avail')
    .at(-1)
  assert.ok(last && last.at >= stoppedAt - 1000, 'the last avail of the sensor was written at stop')
  assert.equal(last.obs.value, 'UNAVAILABLE')
  assert.equal(last.obs.attributes.reason, 'connector stopped')
})

const TAKEN = 'lease taken: connector running'
const LOST = 'lease lost: connector stopped'

/** An `ofa` child process whose stdout and stderr (JSON log lines) are kept. */
class OfaProcess {
  readonly child: ChildProcess
  out = ''
  err = ''
  readonly exited: Promise<number | null>
  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout!.on('data', (d) => (this.out += d))
    this.child.stderr!.on('data', (d) => (this.err += d))
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)))
  }
  /** Whether it runs its connector now: it took the lease last, and has not exited. */
  get holds(): boolean {
    return this.child.exitCode === null && this.err.lastIndexOf(TAKEN) > this.err.lastIndexOf(LOST)
  }
  get taken(): number {
    return this.err.split(TAKEN).length - 1
  }
  url(): Promise<string> {
    return eventually(
      () => /API\s+(http:\/\/\S+)\/api\/assets/.exec(this.out)?.[1],
      `the URL of the serving app; stderr:\n${this.err.slice(-2000)}`,
      30_000,
    )
  }
}

test('ofa run: a serving app and replicas of a connector share the work through Kafka', {
  timeout: 240_000,
}, async (t) => {
  const { bootstrap } = await kafka()
  const dir = await demoCopy(t, { bootstrap })
  const started: OfaProcess[] = []
  const run = (...args: string[]): OfaProcess => {
    const p = new OfaProcess(['run', ...args])
    started.push(p)
    return p
  }
  t.after(() => {
    for (const p of started) p.child.kill('SIGKILL')
  })
  /** The one replica that runs the connector, once exactly one does. */
  const holder = (replicas: OfaProcess[]) =>
    eventually(
      () => {
        const h = replicas.filter((p) => p.holds)
        return h.length === 1 ? h[0] : undefined
      },
      'exactly one replica holding the lease',
      60_000,
    )
  const freshData = (since: number, what: string) =>
    eventually(
      async () => {
        const a = await getJson(`${api}/assets/${CNC}`)
        const item = (id: string) => a.state.find((s: { id: string }) => s.id === id)
        return (item('avail').value === 'AVAILABLE' && Date.parse(item('spindle_speed').timestamp) > since) || undefined
      },
      what,
      30_000,
    )

  const serve = run('OFA-SERVE', dir, '--port', '0')
  const api = `${await serve.url()}/api`
  const a = run(CNC, dir)
  const b = run(CNC, dir)
  const first = await holder([a, b])
  const second = first === a ? b : a
  assert.equal(second.taken, 0, 'the other replica waits')

  // The holder runs the device: the serving app (another process) sees it, and its method answers.
  await freshData(0, 'CNC data from the first replica')
  let answer = await callSetSpeed(api, 1500)
  assert.equal(answer.status, 'completed')

  // Stopping the holder moves the work to the other replica.
  first.child.kill('SIGTERM')
  assert.equal(await first.exited, 0)
  const movedAt = Date.now()
  assert.equal(await holder([second]), second)
  await freshData(movedAt, 'fresh CNC data from the second replica')
  answer = await callSetSpeed(api, 2000)
  assert.equal(answer.status, 'completed')
  assert.deepEqual(answer.result, { spindle_speed: 2000 })

  // A replica joining does not take the lease from the one that has it (the group's leader keeps partition 0).
  const third = run(CNC, dir)
  await eventually(() => third.out.includes('Ctrl-C stops') || undefined, 'the third replica started', 30_000)
  await new Promise((r) => setTimeout(r, 3000))
  const killed = await holder([second, third])
  assert.equal(killed, second, 'the lease stayed where it was')
  assert.equal(second.taken, 1, 'and was never lost meanwhile')
  // A replica killed with -9 says nothing; its session times out and the waiting replica takes over.
  const waiting = third
  killed.child.kill('SIGKILL')
  const killedAt = Date.now()
  assert.equal(await holder([waiting]), waiting)
  await freshData(killedAt, 'fresh CNC data after the takeover')
  answer = await callSetSpeed(api, 2500)
  assert.equal(answer.status, 'completed')

  for (const p of [serve, waiting]) p.child.kill('SIGTERM')
  assert.equal(await serve.exited, 0)
  assert.equal(await waiting.exited, 0)
})

test('ofa run refuses what it cannot run, with a clear message', async (t) => {
  const dir = await demoCopy(t)
  let r = await ofa(['run', CNC, dir])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /OFA_CLI_USAGE .*backbone kafka/)
  r = await ofa(['run', 'NO-SUCH-UUID', dir, '--bootstrap', '127.0.0.1:1'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /no device or app with uuid NO-SUCH-UUID/)
  r = await ofa(['run', CNC, dir, '--bootstrap', 'nonsense'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--bootstrap: .*not host:port/)
  r = await ofa(['run', CNC])
  assert.equal(r.code, 2)
})

test('ofa log topics, produce and tail work on Kafka with --bootstrap', async () => {
  const { bootstrap } = await kafka()
  const topic = `cli-log-${Date.now()}`
  let r = await ofa(['log', 'produce', topic, '--bootstrap', bootstrap, '--key', 'k1', '--partitions', '3', 'a', 'b'])
  assert.equal(r.code, 0, r.stderr)
  const p = partitionFor('k1', 3)
  assert.equal(r.stdout, `${topic}\t${p}\t0\n${topic}\t${p}\t1\n`)
  r = await ofa(['log', 'tail', topic, '--bootstrap', bootstrap])
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.deepEqual(
    lines.map((l) => [l.partition, l.offset, l.key, l.value]),
    [
      [p, 0, 'k1', 'a'],
      [p, 1, 'k1', 'b'],
    ],
  )
  r = await ofa(['log', 'topics', '--bootstrap', bootstrap])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`${topic}\tpartitions=3\tpolicy=delete\trecords=2`))
  r = await ofa(['log', 'tail', topic, '--bootstrap', bootstrap, '--data', '/tmp/x'])
  assert.equal(r.code, 2)
})
