// An edge: `ofa up` on the embedded log with factory.yaml `backbone.forward` copies its log to the central
// Kafka (the single-node cluster `npm test` starts). Killed with -9 mid-forward and started again, every
// record of its log ends up in Kafka once, in order; with Kafka unreachable, the edge runs all the same.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { EDGE_HEADER, EDGE_OFFSET_HEADER, type EventLog, openEmbeddedLog } from '@openfactory/log'
import { readAll } from '@openfactory/log/testing'
import { openKafkaLog } from '@openfactory/log-kafka'
import { silentLogger, TOPICS } from '@openfactory/model'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { demoCopy, eventually, freePort, getJson } from './helpers.ts'

const BIN = fileURLToPath(new URL('../bin/ofa.js', import.meta.url))

/** The demo factory as an edge forwarding to `bootstrap` under a fresh edge id. */
async function edgeFactory(
  t: Parameters<typeof demoCopy>[0],
  bootstrap: string,
): Promise<{ dir: string; edgeId: string }> {
  const dir = await demoCopy(t)
  const edgeId = `edge-${randomUUID().slice(0, 8)}`
  const manifest = join(dir, 'factory.yaml')
  const text = await readFile(manifest, 'utf8')
  await writeFile(
    manifest,
    text.replace('type: embedded', `type: embedded\n  forward: {bootstrapServers: [${bootstrap}], edgeId: ${edgeId}}`),
  )
  return { dir, edgeId }
}

/** Kafka's records of one edge in one partition, as [edge offset, key, value]. */
async function edgeRecords(central: EventLog, topic: string, partition: number, edgeId: string) {
  return (await readAll(central, topic, partition))
    .filter((r) => r.headers[EDGE_HEADER]?.toString() === edgeId)
    .map((r) => [Number(r.headers[EDGE_OFFSET_HEADER]?.toString()), r.key?.toString(), r.value?.toString()])
}

function startEdge(args: string[]): { child: ChildProcess; exited: Promise<number | null>; out: () => string } {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return { child, exited, out: () => out }
}

test('an edge forwards its whole log to Kafka once, in order, across kill -9', { timeout: 180_000 }, async (t) => {
  const { bootstrap } = await kafka()
  const { dir, edgeId } = await edgeFactory(t, bootstrap)
  const data = join(dir, '..', 'data')
  const central = await openKafkaLog({ bootstrapServers: bootstrap, clientId: 'ofa-edge-test' })
  t.after(() => central.close())
  const forwarded = async () => {
    const d = await central.describeTopic(TOPICS.assets).catch(() => null)
    if (!d) return 0
    let n = 0
    for (let p = 0; p < d.partitions; p++) n += (await edgeRecords(central, TOPICS.assets, p, edgeId)).length
    return n
  }

  const first = startEdge([dir, '--port', '0', '--data', data])
  t.after(() => first.child.kill('SIGKILL'))
  await eventually(() => first.out().includes(`as edge ${edgeId}`) || undefined, 'the edge to start', 30_000)
  const before = await eventually(
    async () => {
      const n = await forwarded()
      return n >= 50 ? n : undefined
    },
    'records forwarded by the first edge process',
    60_000,
  )
  first.child.kill('SIGKILL')
  await first.exited

  const second = startEdge([dir, '--port', '0', '--data', data])
  t.after(() => second.child.kill('SIGKILL'))
  await eventually(
    async () => ((await forwarded()) > before + 50 ? true : undefined),
    'more records forwarded after the restart',
    60_000,
  )
  // Its metrics say it is connected, and how much it forwarded and has left.
  const url = /API\s+(http:\/\/\S+)\/api\/assets/.exec(second.out())?.[1]
  assert.ok(url, 'the edge printed its URL')
  const metrics = await (await fetch(`${url}/metrics`)).text()
  assert.match(metrics, /^ofa_forward_connected 1$/m)
  assert.ok(Number(/^ofa_forward_records_total (\d+)$/m.exec(metrics)?.[1]) > 0, 'records forwarded')
  assert.match(metrics, /^ofa_forward_lag_records\{topic="ofa_assets",partition="0"\} \d+$/m)
  second.child.kill('SIGTERM')
  assert.equal(await second.exited, 0)

  // The edge's log, read back, and Kafka's copy: the same records, once each, in the same order.
  const edge = await openEmbeddedLog({ dir: data })
  t.after(() => edge.close())
  for (const topic of [TOPICS.assets, TOPICS.registry]) {
    const d = await edge.describeTopic(topic)
    let total = 0
    for (let p = 0; p < d.partitions; p++) {
      const src = await readAll(edge, topic, p)
      total += src.length
      assert.deepEqual(
        await edgeRecords(central, topic, p, edgeId),
        src.map((r) => [r.offset, r.key?.toString(), r.value?.toString()]),
        `${topic} partition ${p}`,
      )
    }
    assert.ok(total > 0, `${topic} has records`)
  }
})

test('an edge runs while the central Kafka is unreachable', { timeout: 60_000 }, async (t) => {
  const { dir } = await edgeFactory(t, `127.0.0.1:${await freePort()}`)
  const rt = await startLocalRuntime({ paths: [dir], dataDir: join(dir, '..', 'data'), port: 0, logger: silentLogger })
  let stopped = false
  t.after(() => (stopped ? undefined : rt.stop()))
  assert.ok(rt.forwarding)
  await eventually(
    async () => (await getJson(`${rt.url}/api/assets/DEMO-DHT-001`)).availability === 'AVAILABLE' || undefined,
    'the sensor AVAILABLE at the edge',
  )
  assert.equal(await rt.forwarding.stats(), null, 'nothing forwarded: Kafka never answered')
  const metrics = await (await fetch(`${rt.url}/metrics`)).text()
  assert.match(metrics, /^ofa_forward_connected 0$/m)
  assert.match(metrics, /^ofa_forward_records_total 0$/m)
  // The connectors' writes to the edge's own log: nothing waits, nothing dropped or set aside.
  assert.match(metrics, /^ofa_connector_records_buffered \d+$/m)
  assert.match(metrics, /^# TYPE ofa_connector_records_dropped_total counter$/m)
  assert.doesNotMatch(metrics, /^ofa_connector_records_dropped_total\{/m, 'no connector dropped anything')
  assert.match(metrics, /^# TYPE ofa_connector_records_set_aside_total counter$/m)
  await rt.stop()
  stopped = true
})
