// The connector as a Sparkplug B Host Application against an edge node we did not write the stack of: paho-mqtt and
// Google's protobuf (PyPI), encoding with the module grpcio-tools compiled from our proto/sparkplug_b.proto
// (scripts/peers/sparkplug_edge.py), through Debian's Mosquitto.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
} from '@openfactory/connectors/testing'
import mqtt from 'mqtt'
import { type Edge, startEdge } from '../../../scripts/sparkplug-edge.ts'
import { MqttConnector, parseMqttDevice } from '../src/index.ts'
import { decodePayload, encodePayload, metricFields, metricValue } from '../src/sparkplug/codec.ts'
import { type Broker, sharedBroker } from './broker.ts'

const TIMINGS = { backoff: { initialMs: 100, maxMs: 500 }, connectTimeoutMs: 2000 }
let count = 0

function names() {
  const id = `${process.pid}-${++count}-${Math.random().toString(36).slice(2, 6)}`
  return { group: `G-${id}`, node: 'Edge1', host: `host-${id}`, uuid: `EDGE-${id}` }
}

async function hostFor(t: TestContext, broker: Broker, n: ReturnType<typeof names>) {
  const config = parseMqttDevice(
    deviceConfig(
      {
        type: 'mqtt',
        url: broker.url,
        client_id: `ofa-${n.host}`,
        sparkplug: { group_id: n.group, edge_node_id: n.node, host_id: n.host },
      },
      { uuid: n.uuid },
    ),
  )
  const c = new MqttConnector(config, { timings: TIMINGS })
  const ctx = createRecordingContext()
  await c.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await c.stop()
  })
  return { c, ctx }
}

async function edgeFor(t: TestContext, broker: Broker, n: ReturnType<typeof names>): Promise<Edge> {
  const edge = await startEdge({ port: broker.port, group: n.group, node: n.node, device: 'Sensor1', bdSeq: 3 })
  t.after(() => edge.stop())
  await edge.waitFor((l) => l === 'ready', 'ready')
  return edge
}

const last = (ctx: RecordingContext, uuid: string) => ctx.availability.filter((a) => a.uuid === uuid).at(-1)
const values = (ctx: RecordingContext, uuid: string, id: string) =>
  ctx.published.filter((p) => p.uuid === uuid && p.observation.id === id).map((p) => p.observation.value)

test('codec: our .proto round-trips, Int types sign-extend, values that do not fit a type are refused', () => {
  const bytes = encodePayload({
    timestamp: 1767323045678,
    seq: 7,
    metrics: [{ name: 'a', alias: 2, datatype: 2, int_value: -3 >>> 0 }],
  })
  const p = decodePayload(bytes)
  assert.equal(p.seq, 7)
  assert.equal(p.timestamp, 1767323045678)
  assert.equal(metricValue(p.metrics[0]!, 2), -3)
  assert.deepEqual(metricFields(1, 127), { int_value: 127 })
  assert.equal(metricFields(1, 128), undefined)
  assert.equal(metricFields(5, -1), undefined)
  assert.deepEqual(metricFields(11, 'true'), { boolean_value: true })
  assert.throws(() => decodePayload(Buffer.from([0xff, 0xff, 0xff])))
})

test('births define the assets, DDATA by alias carries observations, STATE announces us, DCMD reaches the edge node', async (t) => {
  const broker = await sharedBroker()
  const n = names()
  // The edge node is up first: the host asks for its births when it connects.
  const edge = await edgeFor(t, broker, n)
  const { c, ctx } = await hostFor(t, broker, n)
  await edge.waitFor((l) => l === 'rebirth', 'the rebirth request of the host')
  const device = `${n.uuid}.Sensor1`
  await eventually(() => (last(ctx, device)?.available ? true : undefined), 15_000, 'DBIRTH')
  const declared = ctx.declared.at(-1)
  assert.ok(declared)
  const assets = ctx.calls.filter((x) => x.call === 'declareAssets').at(-1)
  assert.ok(assets && assets.call === 'declareAssets')
  const byUuid = new Map(assets.assets.map((a) => [a.uuid, a]))
  assert.deepEqual(
    byUuid.get(device)?.dataItems.map((d) => [d.id, d.category, d.tag]),
    [
      ['Temperature', 'Samples', 'Temperature'],
      ['Mode', 'Events', 'Mode'],
      ['Setpoint', 'Samples', 'Setpoint'],
    ],
  )
  assert.deepEqual(byUuid.get(n.uuid)?.referencesBelow, [device])
  assert.ok(byUuid.get(n.uuid)?.dataItems.some((d) => d.id === 'Node_Control_Rebirth'))
  assert.equal(last(ctx, n.uuid)?.available, true)

  edge.send('ddata 21.5')
  edge.send('ndata 42')
  await eventually(() => (values(ctx, device, 'Temperature').includes(21.5) ? true : undefined), 15_000, 'DDATA')
  await eventually(() => (values(ctx, n.uuid, 'Uptime').includes(42) ? true : undefined), 15_000, 'NDATA')

  // STATE: retained, online, read by another client.
  const watcher = await mqtt.connectAsync(broker.url, { clientId: `watch-${n.host}` })
  t.after(() => watcher.endAsync())
  const state = new Promise<string>((resolve) => watcher.on('message', (_t, p) => resolve(p.toString())))
  await watcher.subscribeAsync(`spBv1.0/STATE/${n.host}`, { qos: 1 })
  assert.equal(JSON.parse(await state).online, true)

  // DCMD: a command on the device asset reaches the edge node, which reports the new value in DDATA.
  const envelope = {
    header: { correlation_id: 'w-1', sender_uuid: 't', timestamp: '', signature: '' },
    arguments: {},
  }
  const result = await c.execute({
    assetUuid: device,
    method: 'WriteMetric',
    arguments: { metric: 'Setpoint', value: -250 },
    envelope,
  })
  assert.deepEqual(result, { published: `spBv1.0/${n.group}/DCMD/${n.node}/Sensor1` })
  await edge.waitFor((l) => l === 'dcmd Setpoint -250', 'the DCMD')
  await eventually(() => (values(ctx, device, 'Setpoint').includes(-250) ? true : undefined), 15_000, 'new Setpoint')
  await assert.rejects(
    c.execute({
      assetUuid: device,
      method: 'WriteMetric',
      arguments: { metric: 'Setpoint', value: 2 ** 31 },
      envelope,
    }),
    { code: 'OFA_COMMAND_REJECTED' },
  )
  await assert.rejects(
    c.execute({ assetUuid: device, method: 'WriteMetric', arguments: { metric: 'Nope', value: 1 }, envelope }),
    { code: 'OFA_COMMAND_REJECTED' },
  )
})

test('a sequence gap or a bad payload: UNAVAILABLE with a coded reason and a rebirth; DDEATH and NDEATH (the will)', async (t) => {
  const broker = await sharedBroker()
  const n = names()
  const { c, ctx } = await hostFor(t, broker, n)
  const edge = await edgeFor(t, broker, n)
  const device = `${n.uuid}.Sensor1`
  await eventually(() => (last(ctx, device)?.available ? true : undefined), 15_000, 'DBIRTH')

  edge.send('skip')
  edge.send('ddata 99')
  await eventually(
    () => (ctx.availability.some((a) => a.uuid === device && !a.available) ? true : undefined),
    15_000,
    'the gap',
  )
  const gap = ctx.availability.find((a) => a.uuid === n.uuid && !a.available)
  assert.match(String(gap?.reason), /^OFA_SPARKPLUG_SEQUENCE: DDATA with seq 3 where 2 was due; rebirth requested/)
  await edge.waitFor((l) => l === 'rebirth', 'the rebirth request')
  await eventually(() => (last(ctx, device)?.available ? true : undefined), 15_000, 'the new DBIRTH')
  assert.ok(!values(ctx, device, 'Temperature').includes(99), 'data past a gap is not taken')
  edge.send('ddata 23')
  await eventually(() => (values(ctx, device, 'Temperature').includes(23) ? true : undefined), 15_000, 'DDATA')
  assert.equal(c.sparkplug?.stats.sequenceGaps, 1)

  edge.send('garbage')
  await eventually(
    () => (String(last(ctx, device)?.reason).startsWith('OFA_SPARKPLUG_PAYLOAD') ? true : undefined),
    15_000,
    'the bad payload',
  )
  await eventually(() => (last(ctx, device)?.available ? true : undefined), 15_000, 'the births after it')

  edge.send('ddeath')
  await eventually(() => (last(ctx, device)?.available === false ? true : undefined), 15_000, 'DDEATH')
  assert.match(String(last(ctx, device)?.reason), /^OFA_SPARKPLUG_DEATH: the device Sensor1 died/)
  assert.equal(last(ctx, n.uuid)?.available, true)

  // The edge node vanishes without a word: the broker publishes its will, NDEATH.
  await edge.stop()
  await eventually(() => (last(ctx, n.uuid)?.available === false ? true : undefined), 15_000, 'NDEATH')
  assert.match(String(last(ctx, n.uuid)?.reason), /^OFA_SPARKPLUG_DEATH: the edge node Edge1 died \(NDEATH\)/)
})

/** Whether Mosquitto kept a session for `clientId`: a probe connects under it without a clean start, reads CONNACK. */
async function sessionKept(broker: Broker, clientId: string, protocolVersion: 4 | 5): Promise<boolean> {
  const probe = mqtt.connect(broker.url, {
    clientId,
    clean: false,
    protocolVersion,
    reconnectPeriod: 0,
    // MQTT 5: the probe's own session ends with its connection.
    ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
  })
  const present = await new Promise<boolean>((resolve, reject) => {
    probe.once('connect', (connack) => resolve(connack.sessionPresent))
    probe.once('error', reject)
  })
  await probe.endAsync()
  // MQTT 3.1.1: the probe's session stays; a clean connection clears it, so the next probe sees only the connector's.
  if (protocolVersion === 4)
    await (await mqtt.connectAsync(broker.url, { clientId, clean: true, protocolVersion })).endAsync()
  return present
}

test('Sparkplug 3.0: the host connects with a clean session (no session kept after it leaves); plain MQTT keeps its persistent one', async () => {
  const broker = await sharedBroker()
  for (const version of [5, 4] as const) {
    const n = names()
    const sparkplug = parseMqttDevice(
      deviceConfig(
        {
          type: 'mqtt',
          url: broker.url,
          protocol_version: version,
          client_id: `ofa-${n.host}`,
          sparkplug: { group_id: n.group, edge_node_id: n.node, host_id: n.host },
        },
        { uuid: n.uuid },
      ),
    )
    assert.equal(sparkplug.cleanSession, true)
    const plain = parseMqttDevice(
      deviceConfig(
        {
          type: 'mqtt',
          url: broker.url,
          protocol_version: version,
          client_id: `ofa-plain-${n.host}`,
          topics: { t: { topic: `plain/${n.host}/t`, tag: 'T' } },
        },
        { uuid: `PLAIN-${n.uuid}` },
      ),
    )
    assert.equal(plain.cleanSession, false)
    for (const config of [sparkplug, plain]) {
      const c = new MqttConnector(config, { timings: TIMINGS })
      const ctx = createRecordingContext()
      await c.start(ctx)
      ctx.controller.abort()
      await c.stop()
    }
    // The broker kept no session for the host (Clean Session 1; MQTT 5: Clean Start 1, Session Expiry 0) ...
    assert.equal(await sessionKept(broker, sparkplug.clientId, version), false, `MQTT ${version} host`)
    // ... and keeps the plain device's, with its QoS 1 subscription, for what arrives while it is away.
    assert.equal(await sessionKept(broker, plain.clientId, version), true, `MQTT ${version} plain`)
  }
  // A Sparkplug device that asks for a persistent session is refused.
  assert.throws(
    () =>
      parseMqttDevice(
        deviceConfig(
          {
            type: 'mqtt',
            url: broker.url,
            clean_session: false,
            sparkplug: { group_id: 'G', edge_node_id: 'E' },
          },
          { uuid: 'SP-PERSISTENT', name: 'sp' },
        ),
      ),
    /devices\.sp\.connector\.clean_session: a Sparkplug Host Application connects with a clean session/,
  )
})
