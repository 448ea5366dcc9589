// One device, many sensors: a `{asset}` level of the topic filters names the asset, against Debian's Mosquitto fed by
// Debian's mosquitto_pub. Each sensor is declared once with its items (below the device, beside it in the UNS), gets
// its own availability (also when the broker goes away and comes back), and `assets.max` is held just past its edge:
// the refused name's messages are counted exactly, told once, and the sensors already made keep flowing. A command
// whose topic has `{asset}` is each sensor's method: published with the sensor's name there, answered like the
// device's own (directly and through a supervisor on the log); a sensor no topic named, a uuid two names give, or a
// method on the wrong asset is refused and nothing is published.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkConnectorConfigs, createSupervisor } from '@openfactory/connectors'
import { createFactoryTestLog, deviceConfig, eventually, startRecorded } from '@openfactory/connectors/testing'
import { readTopic } from '@openfactory/log/testing'
import {
  AssetEvents,
  decodeAssetEvent,
  encodeAssetEvent,
  silentLogger,
  TOPICS,
  validateFactory,
} from '@openfactory/model'
import mqtt from 'mqtt'
import { DEFAULT_MAX_ASSETS, MqttConnector, parseMqttDevice } from '../src/index.ts'
import { mosquittoPub, privateBroker, restartBroker, sharedBroker, stopBroker, uniqueTopic } from './broker.ts'

const TIMINGS = { backoff: { initialMs: 100, maxMs: 500 }, connectTimeoutMs: 2000 }
const MAX = 3
const UNS = { levels: { inc: 'Demofactory', area: 'Sensing', asset: 'DHT-GW' }, unsId: 'Demofactory/Sensing/DHT-GW' }

function block(url: string, base: string, assets: Record<string, unknown> | undefined) {
  return {
    type: 'mqtt',
    url,
    topics: {
      temperature: { topic: `${base}/{asset}/temperature`, tag: 'Temperature', payload: 'raw', units: 'CELSIUS' },
      humidity: { topic: `${base}/{asset}/humidity`, tag: 'Humidity', payload: 'raw' },
      load: { topic: `${base}/gateway/load`, tag: 'Load', payload: 'raw' },
    },
    ...(assets ? { assets } : {}),
  }
}

test('parse: {asset} subscribes as +, names the level; assets.uuid and assets.max default; misuse is refused', () => {
  const c = parseMqttDevice(deviceConfig(block('mqtt://127.0.0.1:1883', 'p', undefined), { uuid: 'DHT-GW' }))
  assert.deepEqual(
    c.items.map((i) => [i.id, i.topic, i.assetLevel]),
    [
      ['temperature', 'p/+/temperature', 1],
      ['humidity', 'p/+/humidity', 1],
      ['load', 'p/gateway/load', -1],
    ],
  )
  assert.deepEqual(c.assets, { uuid: 'DHT-GW.{asset}', max: DEFAULT_MAX_ASSETS })
  // No {asset} level: no assets block, one asset as before.
  const plain = parseMqttDevice(
    deviceConfig({ type: 'mqtt', url: 'mqtt://h:1', topics: { t: { topic: 'a/+', tag: 'T' } } }, { uuid: 'P' }),
  )
  assert.equal(plain.assets, undefined)
  const refused = (connector: Record<string, unknown>) => {
    try {
      parseMqttDevice(deviceConfig(connector, { uuid: 'BAD', name: 'bad' }))
    } catch (err) {
      const all = (err as { problems?: Error[] }).problems ?? []
      return (all.length > 0 ? all : [err as Error]).map((e) => e.message)
    }
    return []
  }
  const twice = refused({ type: 'mqtt', url: 'mqtt://h:1', topics: { t: { topic: '{asset}/{asset}', tag: 'T' } } })
  assert.equal(twice.length, 1)
  assert.match(twice[0] as string, /topics\.t\.topic: .*has \{asset\} more than once/)
  const partial = refused({ type: 'mqtt', url: 'mqtt://h:1', topics: { t: { topic: 'a/x{asset}', tag: 'T' } } })
  assert.match(partial[0] as string, /topics\.t\.topic: .*other than as a whole level/)
  const orphan = refused({
    type: 'mqtt',
    url: 'mqtt://h:1',
    topics: { t: { topic: 'a/+', tag: 'T' } },
    assets: { max: 5 },
  })
  assert.match(orphan[0] as string, /connector\.assets: no topic filter has an \{asset\} level/)
})

test("model's schema: assets.max from 1 to 100000, assets.uuid must hold {asset}; refused with file and line", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-mqtt-assets-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = (assets: string) =>
    writeFileSync(
      join(dir, 'devices.yml'),
      `devices:
  s:
    uuid: S-1
    connector:
      type: mqtt
      url: mqtt://127.0.0.1:1883
      topics:
        t: {topic: "plant/{asset}/t", tag: T}
      assets: ${assets}
`,
    )
  for (const [assets, ok] of [
    ['{max: 1, uuid: "S-{asset}"}', true],
    ['{max: 100000}', true],
    ['{max: 0}', false],
    ['{max: 100001}', false],
    ['{uuid: "S-no-level"}', false],
    ['{maxx: 3}', false],
  ] as const) {
    file(assets)
    const { problems } = await validateFactory([dir], { cwd: dir })
    if (ok) assert.deepEqual(problems, [], assets)
    else {
      assert.equal(problems.length, 1, assets)
      assert.equal(problems[0]?.where?.line, 9, assets)
      assert.match(String(problems[0]?.where?.path), /^devices\.s\.connector\.assets/, assets)
    }
  }
})

test('each sensor named by a topic level is its own asset, declared once, available with the connection; assets.max is held just past its edge', async (t) => {
  const broker = await privateBroker(t)
  const base = uniqueTopic()
  const config = parseMqttDevice(
    deviceConfig(block(broker.url, base, { uuid: 'DHT-{asset}', max: MAX }), { uuid: 'DHT-GW', uns: UNS }),
  )
  const c = new MqttConnector(config, { timings: TIMINGS })
  const ctx = await startRecorded(t, c)
  const lastAvail = (uuid: string) => ctx.availability.filter((a) => a.uuid === uuid).at(-1)
  const values = (uuid: string, id: string) =>
    ctx.published.filter((p) => p.uuid === uuid && p.observation.id === id).map((p) => p.observation.value)
  await eventually(() => (lastAvail('DHT-GW')?.available ? true : undefined), 10_000, 'AVAILABLE')
  // Only the device is declared before any message: its own item, no sensor items.
  assert.deepEqual(
    ctx.declared.map((a) => [a.uuid, a.dataItems.map((d) => d.id)]),
    [['DHT-GW', ['load']]],
  )

  // Three sensors (the limit), two messages each on each item, and the gateway's own item.
  const sensors = ['s1', 's2', 's3']
  await Promise.all(
    sensors.flatMap((s, i) => [
      mosquittoPub(broker, `${base}/${s}/temperature`, [`${20 + i}`, `${20.5 + i}`]),
      mosquittoPub(broker, `${base}/${s}/humidity`, [`${40 + i}`, `${41 + i}`]),
    ]),
  )
  await mosquittoPub(broker, `${base}/gateway/load`, ['7'])
  await eventually(
    () => (sensors.every((s) => values(`DHT-${s}`, 'humidity').length === 2) ? true : undefined),
    10_000,
    'the three sensors',
  )
  await eventually(() => (values('DHT-GW', 'load').length === 1 ? true : undefined), 10_000, 'the load')
  sensors.forEach((s, i) => {
    assert.deepEqual(values(`DHT-${s}`, 'temperature'), [20 + i, 20.5 + i])
    assert.deepEqual(values(`DHT-${s}`, 'humidity'), [40 + i, 41 + i])
    assert.deepEqual(lastAvail(`DHT-${s}`), { uuid: `DHT-${s}`, available: true })
  })
  assert.deepEqual(values('DHT-GW', 'load'), [7])
  assert.equal(values('DHT-GW', 'temperature').length, 0)
  // Each sensor declared once: its {asset} items, below the device, beside it in the UNS.
  const declared = ctx.declared.filter((a) => a.uuid !== 'DHT-GW')
  assert.deepEqual(declared.map((a) => a.uuid).sort(), ['DHT-s1', 'DHT-s2', 'DHT-s3'])
  const s2 = declared.find((a) => a.uuid === 'DHT-s2')
  assert.deepEqual(
    s2?.dataItems.map((d) => [d.id, d.tag, d.category, d.units]),
    [
      ['temperature', 'Temperature', 'Samples', 'CELSIUS'],
      ['humidity', 'Humidity', 'Samples', undefined],
    ],
  )
  assert.deepEqual(s2?.referencesAbove, ['DHT-GW'])
  assert.deepEqual(s2?.uns, {
    levels: { inc: 'Demofactory', area: 'Sensing', asset: 'DHT-s2' },
    unsId: 'Demofactory/Sensing/DHT-s2',
  })

  // One past the edge: a fourth sensor is refused, each of its messages counted, told once; the others keep flowing.
  await mosquittoPub(broker, `${base}/s4/temperature`, ['1', '2', '3'])
  await mosquittoPub(broker, `${base}/s4/humidity`, ['4', '5'])
  await mosquittoPub(broker, `${base}/s1/temperature`, ['99'])
  await eventually(() => (values('DHT-s1', 'temperature').length === 3 ? true : undefined), 10_000, 'after s4')
  assert.equal(c.stats.assetLimitDropped, 5)
  assert.deepEqual(c.metrics().messagesDropped, { asset_limit: 5 })
  assert.equal(values('DHT-s4', 'temperature').length, 0)
  assert.equal(
    ctx.declared.some((a) => a.uuid === 'DHT-s4'),
    false,
  )
  const told = ctx.logs.filter((l) => l.message.startsWith('OFA_MQTT_ASSET_LIMIT'))
  assert.equal(told.length, 1)
  assert.match(told[0]?.message ?? '', /"s4".*already 3 assets named by topic levels \(assets\.max\)/)
  assert.deepEqual(values('DHT-s1', 'temperature'), [20, 20.5, 99])
  assert.equal(c.stats.unmatched, 0)

  // The broker goes away: every sensor and the device UNAVAILABLE with the reason, their items too; then back.
  await stopBroker(broker)
  await eventually(
    () =>
      ['DHT-GW', ...sensors.map((s) => `DHT-${s}`)].every((u) => lastAvail(u)?.available === false) ? true : undefined,
    10_000,
    'all UNAVAILABLE',
  )
  assert.match(String(lastAvail('DHT-s3')?.reason), /^OFA_MQTT_CONNECT: /)
  assert.equal(values('DHT-s3', 'humidity').at(-1), 'UNAVAILABLE')
  await restartBroker(broker)
  await eventually(
    () => (['DHT-GW', ...sensors.map((s) => `DHT-${s}`)].every((u) => lastAvail(u)?.available) ? true : undefined),
    15_000,
    'all AVAILABLE again',
  )
  // Still one declaration per sensor.
  assert.equal(ctx.declared.filter((a) => a.uuid !== 'DHT-GW').length, 3)
})

test('two level values that give one uuid are one asset, declared once (each value counts toward assets.max)', async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const config = parseMqttDevice(
    deviceConfig(
      {
        type: 'mqtt',
        url: broker.url,
        topics: { v: { topic: `${base}/{asset}/v`, tag: 'Load', payload: 'raw' } },
        assets: { uuid: 'X-{asset}', max: 2 },
      },
      { uuid: 'X-GW' },
    ),
  )
  const c = new MqttConnector(config, { timings: TIMINGS })
  const ctx = await startRecorded(t, c)
  await mosquittoPub(broker, `${base}/a b/v`, ['1'])
  await mosquittoPub(broker, `${base}/a_b/v`, ['2'])
  await mosquittoPub(broker, `${base}/c/v`, ['3'])
  await eventually(() => (c.stats.assetLimitDropped === 1 ? true : undefined), 10_000, 'c refused')
  await eventually(
    () => (ctx.published.filter((p) => p.uuid === 'X-a_b').length === 2 ? true : undefined),
    10_000,
    'both values',
  )
  assert.deepEqual(
    ctx.published.filter((p) => p.uuid === 'X-a_b').map((p) => p.observation.value),
    [1, 2],
  )
  assert.deepEqual(
    ctx.declared.map((a) => a.uuid),
    ['X-GW', 'X-a_b'],
  )
})

test('the broker goes away while the log is behind: the named sensors are marked UNAVAILABLE only as the log takes records', async (t) => {
  const broker = await privateBroker(t)
  const base = uniqueTopic()
  const config = parseMqttDevice(
    deviceConfig(block(broker.url, base, { uuid: 'DHT-{asset}', max: MAX }), { uuid: 'DHT-GW', uns: UNS }),
  )
  const c = new MqttConnector(config, { timings: TIMINGS })
  const ctx = await startRecorded(t, c)
  const lastAvail = (uuid: string) => ctx.availability.filter((a) => a.uuid === uuid).at(-1)
  const sensors = ['DHT-s1', 'DHT-s2', 'DHT-s3']
  await eventually(() => (lastAvail('DHT-GW')?.available ? true : undefined), 10_000, 'AVAILABLE')
  await Promise.all(['s1', 's2', 's3'].map((s) => mosquittoPub(broker, `${base}/${s}/temperature`, ['20'])))
  await eventually(() => (sensors.every((u) => lastAvail(u)?.available) ? true : undefined), 10_000, 'sensors')

  ctx.setCongested(true)
  await stopBroker(broker)
  // The device itself is marked at once (its own items: a few records); the sensors wait for the log.
  await eventually(() => (lastAvail('DHT-GW')?.available === false ? true : undefined), 10_000, 'device UNAVAILABLE')
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual(
    sensors.map((u) => lastAvail(u)?.available),
    [true, true, true],
  )
  ctx.setCongested(false)
  await eventually(
    () => (sensors.every((u) => lastAvail(u)?.available === false) ? true : undefined),
    10_000,
    'sensors UNAVAILABLE once the log took records',
  )
  const marks = ctx.published.filter((p) => p.uuid === 'DHT-s2' && p.observation.value === 'UNAVAILABLE')
  assert.deepEqual(marks.map((p) => p.observation.id).sort(), ['humidity', 'temperature'])
})

test('parse: {asset} in a command topic makes it a method of the named assets; misuse is refused naming the field', () => {
  const base = block('mqtt://127.0.0.1:1883', 'p', undefined)
  const c = parseMqttDevice(
    deviceConfig(
      {
        ...base,
        commands: {
          SetPoint: { topic: 'p/{asset}/cmd/setpoint', reply_topic: 'p/{asset}/reply' },
          Reset: { topic: 'p/gateway/cmd/reset' },
        },
      },
      { uuid: 'DHT-GW' },
    ),
  )
  assert.deepEqual(
    c.commands.map((m) => [m.name, m.topic, m.assetLevel, m.replyTopic]),
    [
      ['SetPoint', 'p/{asset}/cmd/setpoint', 1, 'p/{asset}/reply'],
      ['Reset', 'p/gateway/cmd/reset', -1, undefined],
    ],
  )
  const problems = (connector: Record<string, unknown>) =>
    checkConnectorConfigs([deviceConfig(connector, { uuid: 'BAD', name: 'bad' })]).map(
      (p) => `${p.code} ${p.where?.path}: ${p.message.replace(/^\S+: /, '')}`,
    )
  assert.deepEqual(
    problems({
      ...base,
      commands: {
        Twice: { topic: 'p/{asset}/{asset}' },
        Partial: { topic: 'p/x{asset}' },
        DeviceReply: { topic: 'p/gateway/cmd', reply_topic: 'p/{asset}/reply' },
        ReplyTwice: { topic: 'p/{asset}/cmd', reply_topic: '{asset}/{asset}' },
      },
    }),
    [
      'OFA_CONNECTOR_CONFIG devices.bad.connector.commands.Twice.topic: topic p/{asset}/{asset} has {asset} more than once',
      'OFA_CONNECTOR_CONFIG devices.bad.connector.commands.Partial.topic: topic p/x{asset} has {asset} other than as a whole level',
      "OFA_CONNECTOR_CONFIG devices.bad.connector.commands.DeviceReply.reply_topic: has {asset} but the command topic has none: the device's own command names no asset",
      'OFA_CONNECTOR_CONFIG devices.bad.connector.commands.ReplyTwice.reply_topic: topic {asset}/{asset} has {asset} more than once',
    ],
  )
  // No topic filter names assets: a command topic with {asset} would be nobody's method.
  assert.deepEqual(
    problems({
      type: 'mqtt',
      url: 'mqtt://h:1',
      topics: { t: { topic: 'a/+', tag: 'T' } },
      commands: { Go: { topic: 'a/{asset}/go' } },
    }),
    [
      "OFA_CONNECTOR_CONFIG devices.bad.connector.commands.Go.topic: {asset} names an asset of the topics' {asset} level, and no topic filter has one",
    ],
  )
})

/** A command's envelope as the supervisor hands it over. */
function envelope(id: string) {
  return {
    header: { correlation_id: id, sender_uuid: 'test', timestamp: new Date().toISOString(), signature: '' },
    arguments: {},
  }
}

test('commands to assets named by topic levels: published with {asset} replaced by the sensor name, answered like the device own; unknown, ambiguous and misplaced ones refused, nothing published', async (t) => {
  const broker = await sharedBroker()
  for (const version of [5, 4] as const) {
    const base = uniqueTopic()
    const config = parseMqttDevice(
      deviceConfig(
        {
          ...block(broker.url, base, { uuid: 'DHT-{asset}' }),
          protocol_version: version,
          client_id: `ofa-cmd-${version}-${process.pid}`,
          commands: {
            // Each sensor answers on its own reply topic (MQTT 5: given as the response topic).
            SetPoint: {
              topic: `${base}/{asset}/cmd/setpoint`,
              reply_topic: `${base}/{asset}/reply`,
              arguments: ['value'],
              description: 'sets the alarm threshold',
            },
            Reset: { topic: `${base}/gateway/cmd/reset`, ...(version === 4 ? { reply_topic: `${base}/reply` } : {}) },
          },
        },
        { uuid: 'DHT-GW' },
      ),
    )
    // The sensors' gateway: another MQTT client answering each command it gets (MQTT 5 on the response topic with
    // the correlation data; MQTT 3.1.1 on the sensor's reply topic with the correlation_id).
    const gateway = await mqtt.connectAsync(broker.url, {
      protocolVersion: version,
      clientId: `gw-${version}-${process.pid}`,
    })
    t.after(() => gateway.endAsync())
    const got: {
      topic: string
      body: { method: string; arguments: { value?: number }; correlation_id: string }
      responseTopic: string | undefined
    }[] = []
    gateway.on('message', (topic, payload, packet) => {
      const body = JSON.parse(payload.toString())
      got.push({ topic, body, responseTopic: packet.properties?.responseTopic })
      const sensor = topic.slice(base.length + 1).split('/')[0] as string
      const answer = JSON.stringify({ sensor, threshold: body.arguments.value, correlation_id: body.correlation_id })
      const responseTopic = packet.properties?.responseTopic
      if (responseTopic) {
        gateway.publish(responseTopic, answer, {
          qos: 1,
          properties: { correlationData: packet.properties?.correlationData as Buffer },
        })
      } else {
        gateway.publish(sensor === 'gateway' ? `${base}/reply` : `${base}/${sensor}/reply`, answer, { qos: 1 })
      }
    })
    await gateway.subscribeAsync(`${base}/+/cmd/#`, { qos: 1 })

    const c = new MqttConnector(config, { timings: TIMINGS })
    const ctx = await startRecorded(t, c)
    await mosquittoPub(broker, `${base}/s1/temperature`, ['20'])
    await mosquittoPub(broker, `${base}/s2/temperature`, ['21'])
    await mosquittoPub(broker, `${base}/a b/temperature`, ['22'])
    await mosquittoPub(broker, `${base}/a_b/temperature`, ['23'])
    await eventually(
      () => (ctx.published.filter((p) => p.observation.id === 'temperature').length === 4 ? true : undefined),
      10_000,
      'the sensors',
    )
    // The device offers its own method; each sensor offers SetPoint.
    const methodsOf = (uuid: string) => ctx.declared.find((a) => a.uuid === uuid)?.methods.map((m) => m.name)
    assert.deepEqual(methodsOf('DHT-GW'), ['Reset'])
    assert.deepEqual(methodsOf('DHT-s2'), ['SetPoint'])
    assert.deepEqual(ctx.declared.find((a) => a.uuid === 'DHT-s1')?.methods, [
      { name: 'SetPoint', description: 'sets the alarm threshold', arguments: [{ name: 'value', required: true }] },
    ])

    const send = (assetUuid: string, method: string, id: string) =>
      c.execute({ assetUuid, method, arguments: { value: 30 }, envelope: envelope(`${id}-${version}`) })
    // To s2: published on s2's topic, completed by s2's answer.
    assert.deepEqual(await send('DHT-s2', 'SetPoint', 'c1'), {
      sensor: 's2',
      threshold: 30,
      correlation_id: `c1-${version}`,
    })
    assert.deepEqual(await send('DHT-GW', 'Reset', 'c2'), {
      sensor: 'gateway',
      threshold: 30,
      correlation_id: `c2-${version}`,
    })
    // Refused before anything is published: a sensor no topic named, one uuid from two names, a method on the
    // wrong asset.
    const refused = async (uuid: string, method: string, why: RegExp) =>
      assert.rejects(send(uuid, method, 'no'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'OFA_COMMAND_REJECTED')
        assert.match(err.message, why)
        return true
      })
    await refused('DHT-s9', 'SetPoint', /^SetPoint to DHT-s9: no asset of DHT-GW has this uuid: no topic has named it/)
    await refused('DHT-a_b', 'SetPoint', /the topic level values "a b" and "a_b" both give this uuid: not sent/)
    await refused('DHT-GW', 'SetPoint', /SetPoint to DHT-GW: a method of the assets named by the \{asset\} level/)
    await refused('DHT-s1', 'Reset', /Reset to DHT-s1: a method of DHT-GW only/)
    // To s1 afterwards: the gateway got exactly the three commands sent, in order.
    assert.deepEqual(await send('DHT-s1', 'SetPoint', 'c3'), {
      sensor: 's1',
      threshold: 30,
      correlation_id: `c3-${version}`,
    })
    const v5 = (topic: string) => (version === 5 ? topic : undefined)
    assert.deepEqual(
      got.map((g) => [g.topic, g.body.method, g.body.correlation_id, g.responseTopic]),
      [
        [`${base}/s2/cmd/setpoint`, 'SetPoint', `c1-${version}`, v5(`${base}/s2/reply`)],
        [`${base}/gateway/cmd/reset`, 'Reset', `c2-${version}`, v5(`ofa/reply/ofa-cmd-5-${process.pid}`)],
        [`${base}/s1/cmd/setpoint`, 'SetPoint', `c3-${version}`, v5(`${base}/s1/reply`)],
      ],
    )
    // A reply topic with {asset} is read as replies, not data: nothing unmatched, no observation from it.
    assert.equal(c.stats.unmatched, 0)
  }
})

test('through a supervisor on the log: a command to a named sensor is accepted, published on its topic and completed by its answer', async (t) => {
  const broker = await sharedBroker()
  const base = uniqueTopic()
  const config = parseMqttDevice(
    deviceConfig(
      {
        ...block(broker.url, base, { uuid: 'SUP-{asset}', max: MAX }),
        client_id: `ofa-sup-${process.pid}`,
        commands: { SetPoint: { topic: `${base}/{asset}/cmd/setpoint`, arguments: ['value'] } },
      },
      { uuid: 'SUP-GW' },
    ),
  )
  const gateway = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `gw-sup-${process.pid}` })
  t.after(() => gateway.endAsync())
  const topics: string[] = []
  gateway.on('message', (topic, payload, packet) => {
    topics.push(topic)
    const body = JSON.parse(payload.toString())
    gateway.publish(packet.properties?.responseTopic as string, JSON.stringify({ threshold: body.arguments.value }), {
      qos: 1,
      properties: { correlationData: packet.properties?.correlationData as Buffer },
    })
  })
  await gateway.subscribeAsync(`${base}/+/cmd/#`, { qos: 1 })
  const { log } = await createFactoryTestLog(t)
  const supervisor = createSupervisor({ eventLog: log, logger: silentLogger, restartBackoff: { initialMs: 50 } })
  t.after(() => supervisor.stop())
  const c = new MqttConnector(config, { timings: TIMINGS })
  supervisor.add(c)
  await supervisor.start()
  // start() launches the connector without waiting for it: the sensor publishes once the connector is subscribed.
  await eventually(() => (supervisor.status()[0]?.state === 'running' ? true : undefined), 10_000, 'connector running')
  await mosquittoPub(broker, `${base}/s7/temperature`, ['20'])
  const events = async (uuid: string) =>
    (await readTopic(log, TOPICS.assets))
      .filter((r) => r.key?.toString() === uuid && r.value !== null)
      .map((r) => decodeAssetEvent(r.value as Buffer))
  await eventually(
    async () => ((await events('SUP-s7')).some((e) => e.kind === 'observation') ? true : undefined),
    10_000,
    'the sensor on the log',
  )
  const send = async (uuid: string) => {
    const cmd = AssetEvents.command({ method: 'SetPoint', senderUuid: 'test', arguments: { value: 31 } })
    await log.append(TOPICS.assets, [{ key: uuid, value: encodeAssetEvent(cmd) }])
    const id = cmd.envelope.header.correlation_id
    return eventually(
      async () => {
        const results = (await events(uuid)).flatMap((e) =>
          e.kind === 'result' && e.result.correlation_id === id ? [e.result] : [],
        )
        return results.some((r) => r.status !== 'accepted') ? results : undefined
      },
      10_000,
      `the result on ${uuid}`,
    )
  }
  const results = await send('SUP-s7')
  assert.deepEqual(
    results.map((r) => [r.status, r.result]),
    [
      ['accepted', undefined],
      ['completed', { threshold: 31 }],
    ],
  )
  assert.deepEqual(topics, [`${base}/s7/cmd/setpoint`])
  // The device itself does not offer the sensors' method.
  const onDevice = await send('SUP-GW')
  assert.equal(onDevice.at(-1)?.status, 'rejected')
  assert.equal(onDevice.at(-1)?.error?.code, 'OFA_COMMAND_REJECTED')
  assert.deepEqual(topics, [`${base}/s7/cmd/setpoint`])
  // Stopped while the log is open (the `after` hooks close it first: the writer would wait for it in vain).
  await supervisor.stop()
})
