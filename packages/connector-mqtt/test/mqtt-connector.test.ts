// The MQTT connector against Debian's Mosquitto, fed by Debian's mosquitto_pub: payload forms, bad payloads, the
// persistent session across a disconnect and a broker restart (nothing lost, nothing twice), commands over MQTT 5
// and 3.1.1.
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
  startRecorded,
} from '@openfactory/connectors/testing'
import mqtt from 'mqtt'
import { MqttConnector, parseMqttDevice } from '../src/index.ts'
import { type Broker, mosquittoPub, privateBroker, restartBroker, sharedBroker, uniqueTopic } from './broker.ts'

const TIMINGS = { backoff: { initialMs: 100, maxMs: 500 }, connectTimeoutMs: 2000 }

function connector(broker: Broker, uuid: string, block: Record<string, unknown>): MqttConnector {
  const config = parseMqttDevice(deviceConfig({ type: 'mqtt', url: broker.url, ...block }, { uuid }))
  return new MqttConnector(config, { timings: TIMINGS })
}

async function run(t: TestContext, c: MqttConnector): Promise<RecordingContext> {
  const ctx = await startRecorded(t, c)
  await eventually(() => (ctx.availability.at(-1)?.available ? true : undefined), 10_000, 'AVAILABLE')
  return ctx
}

function valuesOf(ctx: RecordingContext, id: string) {
  return ctx.published.filter((p) => p.observation.id === id).map((p) => p.observation)
}

test('raw text, JSON fields and {timestamp, value} payloads become observations; bad ones UNAVAILABLE with a reason', async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const c = connector(broker, 'MQTT-FORMS', {
    max_payload_bytes: 64,
    topics: {
      temp: { topic: `${base}/+/temp`, tag: 'Temperature', units: 'CELSIUS' },
      mode: { topic: `${base}/mode`, tag: 'ControllerMode', type: 'Events', payload: 'raw' },
      speed: { topic: `${base}/json`, tag: 'RotaryVelocity', path: 'data.speeds[1]' },
      load: { topic: `${base}/tv`, tag: 'Load' },
    },
  })
  const ctx = await run(t, c)
  await mosquittoPub(broker, `${base}/a/temp`, ['21.5', '"22.25"', 'not json', '{"x":1}'])
  await mosquittoPub(broker, `${base}/mode`, ['AUTOMATIC', 'MANUAL'])
  await mosquittoPub(broker, `${base}/json`, ['{"data":{"speeds":[100,2500.5]}}', '{"data":{}}'])
  await mosquittoPub(broker, `${base}/tv`, [
    '{"timestamp":"2026-01-02T03:04:05.678Z","value":0.75}',
    '{"timestamp":1767323045678,"value":"0.5"}',
    '{"timestamp":"yesterday","value":1}',
    `{"value":${'1'.repeat(70)}}`,
    '{"value":0.25}',
  ])
  await eventually(() => (valuesOf(ctx, 'load').length === 5 ? true : undefined), 10_000, 'load observations')
  await eventually(() => (valuesOf(ctx, 'temp').length === 4 ? true : undefined), 10_000, 'temp observations')

  const temp = valuesOf(ctx, 'temp')
  assert.deepEqual(
    temp.map((o) => o.value),
    [21.5, 22.25, 'UNAVAILABLE', 'UNAVAILABLE'],
  )
  assert.equal(temp[0]?.type, 'Samples')
  assert.equal(temp[0]?.attributes.units, 'CELSIUS')
  assert.equal(temp[2]?.attributes.quality, 'BAD')
  assert.match(String(temp[2]?.attributes.reason), /^OFA_MQTT_PAYLOAD: payload is not valid JSON/)
  assert.match(String(temp[3]?.attributes.reason), /^OFA_MQTT_PAYLOAD: \{"x":1\} is not a number/)

  assert.deepEqual(
    valuesOf(ctx, 'mode').map((o) => [o.type, o.value]),
    [
      ['Events', 'AUTOMATIC'],
      ['Events', 'MANUAL'],
    ],
  )
  const speed = valuesOf(ctx, 'speed')
  assert.equal(speed[0]?.value, 2500.5)
  assert.match(String(speed[1]?.attributes.reason), /payload has no field data\.speeds\[1\]/)

  const load = valuesOf(ctx, 'load')
  assert.deepEqual(
    load.map((o) => o.value),
    [0.75, 0.5, 'UNAVAILABLE', 'UNAVAILABLE', 0.25],
  )
  assert.equal(load[0]?.attributes.timestamp, '2026-01-02T03:04:05.678Z')
  assert.equal(load[1]?.attributes.timestamp, '2026-01-02T03:04:05.678Z')
  assert.match(String(load[2]?.attributes.reason), /timestamp "yesterday" is not a time/)
  // 64 bytes is the limit: the 80-byte payload is refused, the next one read.
  assert.match(String(load[3]?.attributes.reason), /payload of 80 bytes is over max_payload_bytes \(64\)/)
  assert.equal(c.stats.badPayloads, 5)
  // The asset stayed available throughout.
  assert.deepEqual(
    ctx.availability.map((a) => a.available),
    [true],
  )
})

test('QoS 1 on a persistent session: nothing lost or written twice across a disconnect and broker restarts', async (t) => {
  const broker = await privateBroker(t)
  const topic = uniqueTopic()
  const block = { client_id: `ofa-persist-${process.pid}`, topics: { n: { topic, tag: 'PartCount', type: 'Events' } } }
  const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))
  const seen: string[] = []
  const collect = (ctx: RecordingContext) =>
    valuesOf(ctx, 'n')
      .filter((o) => o.value !== 'UNAVAILABLE')
      .map((o) => String(o.value))

  const first = connector(broker, 'MQTT-PERSIST', block)
  const ctx1 = createRecordingContext()
  await first.start(ctx1)
  await mosquittoPub(broker, topic, numbers(1, 200))
  await eventually(() => (collect(ctx1).length >= 200 ? true : undefined), 15_000, 'the first 200')

  // The broker restarts under a running connector: it reconnects to the session the broker kept.
  await restartBroker(broker)
  await eventually(
    () => (ctx1.availability.at(-1)?.available && ctx1.availability.length >= 3 ? true : undefined),
    15_000,
    'reconnect',
  )
  assert.match(String(ctx1.availability[1]?.reason), /^OFA_MQTT_CONNECT: /)
  await mosquittoPub(broker, topic, numbers(201, 400))
  await eventually(() => (collect(ctx1).length >= 400 ? true : undefined), 15_000, 'the next 200')
  ctx1.controller.abort()
  await first.stop()
  seen.push(...collect(ctx1))

  // While no connector runs, the broker queues for the session; it restarts (persisting the queue) meanwhile.
  await mosquittoPub(broker, topic, numbers(401, 1000))
  await restartBroker(broker)
  const second = connector(broker, 'MQTT-PERSIST', block)
  const ctx2 = await run(t, second)
  await eventually(() => (collect(ctx2).length >= 600 ? true : undefined), 15_000, 'the queued 600')
  await mosquittoPub(broker, topic, ['1001'])
  await eventually(() => (collect(ctx2).includes('1001') ? true : undefined), 15_000, 'the last one')
  seen.push(...collect(ctx2))
  assert.deepEqual(seen, numbers(1, 1001))
})

test('MQTT 5 commands carry a response topic and correlation data; the answer completes or fails them', async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const c = connector(broker, 'MQTT-CMD5', {
    protocol_version: 5,
    commands: {
      SetSpeed: { topic: `${base}/cmd/speed`, arguments: ['rpm'], description: 'sets the speed' },
      Fail: { topic: `${base}/cmd/fail`, timeout_ms: 5000 },
      Silent: { topic: `${base}/cmd/silent`, timeout_ms: 200 },
    },
  })
  // The edge device: another MQTT 5 client answering on the response topic with the correlation data it got.
  const device = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `device-${process.pid}` })
  t.after(() => device.endAsync())
  const got: { topic: string; body: unknown; responseTopic?: string; correlation?: string }[] = []
  device.on('message', (topic, payload, packet) => {
    const body = JSON.parse(payload.toString())
    const responseTopic = packet.properties?.responseTopic
    const correlationData = packet.properties?.correlationData
    got.push({ topic, body, responseTopic, correlation: correlationData?.toString() })
    if (!responseTopic || topic.endsWith('/silent')) return
    const answer = topic.endsWith('/fail') ? { error: 'spindle locked' } : { rpm: body.arguments.rpm, ok: true }
    device.publish(responseTopic, JSON.stringify(answer), { qos: 1, properties: { correlationData } })
  })
  await device.subscribeAsync(`${base}/cmd/#`, { qos: 1 })
  const ctx = await run(t, c)
  assert.deepEqual(ctx.declared[0]?.methods, [
    { name: 'SetSpeed', description: 'sets the speed', arguments: [{ name: 'rpm', required: true }] },
    { name: 'Fail', description: '', arguments: [] },
    { name: 'Silent', description: '', arguments: [] },
  ])
  const envelope = (id: string) => ({
    header: { correlation_id: id, sender_uuid: 'test', timestamp: new Date().toISOString(), signature: '' },
    arguments: {},
  })
  const result = await c.execute({
    assetUuid: 'MQTT-CMD5',
    method: 'SetSpeed',
    arguments: { rpm: 1200 },
    envelope: envelope('c-1'),
  })
  assert.deepEqual(result, { rpm: 1200, ok: true })
  assert.equal(got[0]?.topic, `${base}/cmd/speed`)
  assert.equal(got[0]?.responseTopic, 'ofa/reply/ofa-MQTT-CMD5')
  assert.equal(got[0]?.correlation, 'c-1')
  assert.deepEqual(got[0]?.body, { method: 'SetSpeed', arguments: { rpm: 1200 }, correlation_id: 'c-1' })

  await assert.rejects(
    c.execute({ assetUuid: 'MQTT-CMD5', method: 'Fail', arguments: {}, envelope: envelope('c-2') }),
    { code: 'OFA_COMMAND_FAILED', message: 'spindle locked' },
  )
  await assert.rejects(
    c.execute({ assetUuid: 'MQTT-CMD5', method: 'Silent', arguments: {}, envelope: envelope('c-3') }),
    { code: 'OFA_COMMAND_TIMEOUT' },
  )
  await assert.rejects(
    c.execute({ assetUuid: 'MQTT-CMD5', method: 'Nope', arguments: {}, envelope: envelope('c-4') }),
    { code: 'OFA_COMMAND_REJECTED' },
  )
})

test('MQTT 3.1.1 commands: answered on the reply topic by correlation_id, or complete once the broker has them', async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const c = connector(broker, 'MQTT-CMD3', {
    protocol_version: 4,
    commands: {
      Start: { topic: `${base}/cmd/start`, reply_topic: `${base}/reply` },
      Blink: { topic: `${base}/cmd/blink` },
    },
  })
  const device = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: `device3-${process.pid}` })
  t.after(() => device.endAsync())
  const got: string[] = []
  device.on('message', (topic, payload) => {
    got.push(topic)
    const body = JSON.parse(payload.toString())
    if (topic.endsWith('/start')) {
      device.publish(`${base}/reply`, JSON.stringify({ correlation_id: body.correlation_id, started: true }), {
        qos: 1,
      })
    }
  })
  await device.subscribeAsync(`${base}/cmd/#`, { qos: 1 })
  await run(t, c)
  const header = (id: string) => ({ correlation_id: id, sender_uuid: 't', timestamp: '', signature: '' })
  const started = await c.execute({
    assetUuid: 'MQTT-CMD3',
    method: 'Start',
    arguments: {},
    envelope: { header: header('s-1'), arguments: {} },
  })
  assert.deepEqual(started, { correlation_id: 's-1', started: true })
  const blink = await c.execute({
    assetUuid: 'MQTT-CMD3',
    method: 'Blink',
    arguments: {},
    envelope: { header: header('s-2'), arguments: {} },
  })
  assert.deepEqual(blink, { published: `${base}/cmd/blink` })
  await eventually(() => (got.includes(`${base}/cmd/blink`) ? true : undefined), 10_000, 'the blink command')
})

test('a flood while the log is behind: nothing more is read (the broker keeps it) until the log takes it, then all of it', async (t) => {
  // A broker of this test alone: the only client in this process connected to it is the connector.
  const broker = await privateBroker(t)
  const topic = uniqueTopic()
  const c = connector(broker, 'MQTT-FLOOD', {
    client_id: `ofa-flood-${process.pid}`,
    // The backlog arrives at once when the log takes it again: no rate limit here (flood.test.ts tests the limit).
    max_messages_per_s: 0,
    topics: { n: { topic, tag: 'PartCount', type: 'Events' } },
  })
  const ctx = await startRecorded(t, c, { congested: true })
  const numbers = Array.from({ length: 2000 }, (_, i) => String(i + 1))
  await mosquittoPub(broker, topic, numbers)
  // Every message is with the broker (mosquitto_pub got its PUBACKs); we took the first and wait for the log.
  await eventually(() => (valuesOf(ctx, 'n').length === 1 ? true : undefined), 10_000, 'the first message')
  // The broker sends up to 1000 unacknowledged QoS 1 messages at once (max_inflight_messages of scripts/mosquitto.ts):
  // wait until the bytes of at least AHEAD more than the first have reached this process on the connector's socket.
  // Each is a PUBLISH of MQTT 5 (§3.3): fixed header (2 bytes here), topic (2 + length), packet id (2), properties
  // length (1), payload; CONNACK and SUBACK come first (under 64 bytes with Mosquitto's properties).
  const AHEAD = 100
  const publishBytes = (payload: string) => 2 + 2 + Buffer.byteLength(topic) + 2 + 1 + Buffer.byteLength(payload)
  const needed = 64 + numbers.slice(0, 1 + AHEAD).reduce((n, p) => n + publishBytes(p), 0)
  const socket = brokerSocket(broker.port)
  await eventually(() => (socket.bytesRead >= needed ? true : undefined), 10_000, `${AHEAD} more messages read`)
  // They are in our process, and none of them was handed on while the log is behind.
  assert.equal(valuesOf(ctx, 'n').length, 1)
  assert.equal(c.stats.received, 1)
  ctx.setCongested(false)
  await eventually(() => (valuesOf(ctx, 'n').length === 2000 ? true : undefined), 15_000, 'all of them')
  assert.deepEqual(
    valuesOf(ctx, 'n').map((o) => o.value),
    numbers,
  )
})

test('a pause for the log longer than the keep-alive keeps the connection: no reconnect, no UNAVAILABLE', async (t) => {
  // mqtt.js takes only a PINGRESP as a sign of life, and it waits behind the messages not read while the log is
  // behind: without our pings, a pause of 1.5 keep-alive intervals closed the connection and the reconnect marked every
  // item UNAVAILABLE (bench/soak.ts: 210 000 records for 10 000 assets at once, past the supervisor's buffer).
  const broker = await privateBroker(t)
  const topic = uniqueTopic()
  const c = connector(broker, 'MQTT-PAUSE', {
    client_id: `ofa-pause-${process.pid}`,
    keepalive_s: 1,
    topics: { n: { topic, tag: 'PartCount', type: 'Events' } },
  })
  const ctx = await startRecorded(t, c, { congested: true })
  await eventually(() => (ctx.availability.at(-1)?.available ? true : undefined), 10_000, 'AVAILABLE')
  const numbers = Array.from({ length: 200 }, (_, i) => String(i + 1))
  await mosquittoPub(broker, topic, numbers)
  await eventually(() => (valuesOf(ctx, 'n').length === 1 ? true : undefined), 10_000, 'the first message')
  await new Promise((r) => setTimeout(r, 4000)) // four keep-alive intervals behind
  ctx.setCongested(false)
  await eventually(() => (valuesOf(ctx, 'n').length === 200 ? true : undefined), 15_000, 'all of them')
  assert.deepEqual(
    valuesOf(ctx, 'n').map((o) => o.value),
    numbers,
  )
  assert.deepEqual(
    ctx.availability.filter((a) => !a.available),
    [],
    'never UNAVAILABLE',
  )
})

/**
 * The one TCP socket of this process connected to the broker on `port` (the connector's mqtt.js client keeps its own
 * private): found among the process's active handles, to read how many bytes the broker sent it.
 */
function brokerSocket(port: number): Socket {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
  const sockets = handles.filter((h): h is Socket => h instanceof Socket && h.remotePort === port)
  assert.equal(sockets.length, 1, 'one connection to the broker')
  return sockets[0] as Socket
}
