// MQTT ingest: messages/s taken in from Debian's Mosquitto by the MQTT connector (`connector.type: mqtt`: mqtt.js
// client, topic match, JSON payload → observation, `ctx.publish` into a counting context), at QoS 0 and QoS 1,
// beside a same-run anchor: a bare mqtt.js subscriber (same library, same options) counting its messages.
//
// So that the publisher does not share the 2 cores with the client being measured, the broker is filled first: a
// persistent session (clean session 0) subscribes and leaves, `mosquitto_pub -l` publishes N small JSON messages
// (`{"timestamp": <ms>, "value": <n>}`, 40-odd bytes) that the broker queues for it, then the client under test
// connects with that session and the clock runs from CONNECT until the N-th message is counted. Order per QoS:
// anchor, ours, ours through the log, anchor. "Through the log": the same connector under a supervisor writing to a
// real embedded log (`openEmbeddedLog`, default options: fsync on; in a temp dir, with the factory's topics), the
// clock running from the supervisor's start until the N-th message is handed on and every record is durable
// (`supervisor.flush()`). The broker is ours (scripts/mosquitto.ts), started here under the name `bench`.
//   npx node bench/mqtt-ingest.ts [messages]
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createSupervisor } from '@openfactory/connectors'
import { deviceConfig } from '@openfactory/connectors/testing'
import { openEmbeddedLog } from '@openfactory/log'
import { DEFAULT_ASSETS_PARTITIONS, silentLogger, TOPICS } from '@openfactory/model'
import mqtt from 'mqtt'
import { MqttConnector, parseMqttDevice } from '../packages/connector-mqtt/src/index.ts'
import { start, stop } from '../scripts/mosquitto.ts'
import { countingContext } from './lib/counting-context.ts'

const N = Number(process.argv[2] ?? 200_000)
const broker = await start({ name: 'bench' })
process.on('exit', () => void stop('bench', true))
let round = 0

/** `count` messages from `first` on, by one mosquitto_pub. */
function publish(topic: string, qos: 1, first: number, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-p', String(broker.port), '-h', '127.0.0.1', '-t', topic, '-q', String(qos), '-l']
    const child = spawn('mosquitto_pub', args, { stdio: ['pipe', 'ignore', 'inherit'] })
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}`))))
    const t0 = Date.now()
    const lines: string[] = []
    for (let i = first; i < first + count; i++) lines.push(`{"timestamp":${t0 + i},"value":${i}.5}`)
    child.stdin.end(`${lines.join('\n')}\n`)
  })
}

/**
 * Messages per mosquitto_pub: one run given 200 000 lines at QoS 1 left the session with 3 399 queued (seen
 * 2026-12-06, Mosquitto 2.0.11); runs of 20 000 deliver every one.
 */
const CHUNK = 20_000

/** A persistent session subscribed to `topic`, then a broker queue of N messages for it. */
async function fill(clientId: string, topic: string, qos: 0 | 1): Promise<void> {
  const c = await mqtt.connectAsync(broker.url, { clientId, clean: false, protocolVersion: 4 })
  await c.subscribeAsync(topic, { qos })
  await c.endAsync()
  // Published at QoS 1 (nothing lost on the way in); the subscription's QoS is the QoS of delivery.
  for (let i = 0; i < N; i += CHUNK) await publish(topic, 1, i, Math.min(CHUNK, N - i))
}

async function anchor(qos: 0 | 1): Promise<number> {
  const clientId = `bench-anchor-${++round}`
  const topic = `bench/${round}/value`
  await fill(clientId, topic, qos)
  const t0 = performance.now()
  let n = 0
  const c = mqtt.connect(broker.url, { clientId, clean: false, protocolVersion: 4, resubscribe: false })
  await new Promise<void>((resolve) => {
    c.on('message', () => {
      if (++n === N) resolve()
    })
  })
  const s = (performance.now() - t0) / 1000
  await c.endAsync()
  return N / s
}

function connectorFor(clientId: string, topic: string, qos: 0 | 1): MqttConnector {
  const config = parseMqttDevice(
    deviceConfig(
      {
        type: 'mqtt',
        url: broker.url,
        client_id: clientId,
        protocol_version: 4,
        qos,
        topics: { v: { topic, tag: 'Load' } },
      },
      { uuid: 'BENCH-MQTT' },
    ),
  )
  return new MqttConnector(config)
}

async function ours(qos: 0 | 1): Promise<number> {
  const clientId = `bench-ours-${++round}`
  const topic = `bench/${round}/value`
  await fill(clientId, topic, qos)
  const connector = connectorFor(clientId, topic, qos)
  let n = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  const t0 = performance.now()
  await connector.start(
    countingContext({
      publish: (_uuid, obs) => {
        n += obs.length
        if (n === N) done()
      },
    }),
  )
  await finished
  const s = (performance.now() - t0) / 1000
  await connector.stop()
  return N / s
}

/** Ours under a supervisor, into a real embedded log: from the supervisor's start to every record durable. */
async function throughLog(qos: 0 | 1): Promise<number> {
  const clientId = `bench-log-${++round}`
  const topic = `bench/${round}/value`
  await fill(clientId, topic, qos)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ofa-bench-mqtt-'))
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: TOPICS.assets, partitions: DEFAULT_ASSETS_PARTITIONS })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.documents, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.connectorState, partitions: 1, cleanupPolicy: 'compact' })
  const connector = connectorFor(clientId, topic, qos)
  const supervisor = createSupervisor({ eventLog: log, logger: silentLogger })
  supervisor.add(connector)
  const t0 = performance.now()
  await supervisor.start()
  while (connector.stats.received < N) await new Promise((r) => setTimeout(r, 5))
  await supervisor.flush()
  const s = (performance.now() - t0) / 1000
  const written = supervisor.writerStats().written
  await supervisor.stop()
  await log.close()
  await rm(dir, { recursive: true, force: true })
  if (written < N) throw new Error(`only ${written} records written of ${N}`)
  return N / s
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US')
console.log(
  `MQTT ingest, ${N} queued messages per case, ${os.cpus().length} cores, Node ${process.version}, load ${os.loadavg()[0]?.toFixed(1)}`,
)
for (const qos of [0, 1] as const) {
  const a1 = await anchor(qos)
  const o = await ours(qos)
  const l = await throughLog(qos)
  const a2 = await anchor(qos)
  const a = (a1 + a2) / 2
  console.log(
    `QoS ${qos}: anchor ${fmt(a1)}/s, ours ${fmt(o)}/s, through the log ${fmt(l)}/s, anchor ${fmt(a2)}/s; ours/anchor ${(o / a).toFixed(2)}, through the log/anchor ${(l / a).toFixed(2)}`,
  )
}
await stop('bench', true)
process.exit(0)
