// One device, many sensors: a `{asset}` level of the topic filters names the asset, against Debian's Mosquitto fed by
// Debian's mosquitto_pub. Each sensor is declared once with its items (below the device, beside it in the UNS), gets
// its own availability (also when the broker goes away and comes back), and `assets.max` is held just past its edge:
// the refused name's messages are counted exactly, told once, and the sensors already made keep flowing.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createRecordingContext, deviceConfig, eventually } from '@openfactory/connectors/testing'
import { validateFactory } from '@openfactory/model'
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
  const ctx = createRecordingContext()
  await c.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await c.stop()
  })
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
  const ctx = createRecordingContext()
  await c.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await c.stop()
  })
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
  const ctx = createRecordingContext()
  await c.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await c.stop()
  })
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
