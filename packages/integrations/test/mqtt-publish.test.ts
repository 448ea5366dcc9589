// The mqtt_publish app against Debian's Mosquitto (scripts/mosquitto; OFA_MQTT_URL, else the broker `test` started
// here): the observations a UNS pattern selects arrive under the UNS topic tree, as JSON, retained; others do not.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeObservation, TOPICS } from '@openfactory/model'
import mqtt from 'mqtt'
import {
  privateBroker,
  restartBroker,
  sharedBroker,
  stopBroker,
  uniqueTopic,
} from '../../connector-mqtt/test/broker.ts'
import type { MqttPublishApp } from '../src/index.ts'
import { DEVICES_YAML, FACTORY_YAML, UNS_YAML } from './fixtures.ts'
import { runApp, testFactory, testLog, until } from './helpers.ts'

test('observations selected by a UNS pattern are published under <prefix>/<inc>/<site>/<area>/<line>/<asset>/<item>, retained', async (t) => {
  const broker = await sharedBroker()
  const prefix = uniqueTopic()
  const log = await testLog(t)
  const factory = await testFactory(t, {
    'factory.yaml': FACTORY_YAML,
    'uns.yml': UNS_YAML,
    'devices.yml': DEVICES_YAML,
    'apps.yml': `apps:\n  pub:\n    uuid: MQTT-PUB\n    mqtt_publish:\n      url: ${broker.url}\n      topic_prefix: ${prefix}\n      qos: 1\n      observations: {uns: ['Acme/Lyon/#']}\n`,
  })
  const obs = (id: string, value: number | string, t0: number, extra: Record<string, unknown> = {}) =>
    encodeObservation({
      id,
      value,
      tag: 'Force',
      type: 'Samples',
      attributes: { timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, t0)).toISOString(), ...extra },
    })
  await log.append(TOPICS.assets, [
    { key: 'PRESS-1', value: obs('force', 101.5, 1, { units: 'NEWTON' }) },
    { key: 'PRESS-1', value: obs('force', 102.5, 2, { units: 'NEWTON' }) },
    { key: 'OTHER-1', value: obs('temp', 20, 3) },
    { key: 'PRESS-1', value: obs('mode', 'UNAVAILABLE', 4) },
  ])
  const { app, supervisor } = await runApp(t, log, factory, 'MQTT-PUB')
  // A subscriber that connects after the publishes still gets the last value of each topic (retain).
  await until(() => ((app as MqttPublishApp).metrics().samples?.[0]?.value ?? 0) >= 3, 'three messages acknowledged')
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 })
  t.after(() => sub.endAsync())
  const got = new Map<string, Record<string, unknown>>()
  sub.on('message', (topic, payload) => got.set(topic, JSON.parse(payload.toString())))
  await sub.subscribeAsync(`${prefix}/#`, { qos: 1 })
  await until(() => got.size >= 2, 'the retained messages')
  const base = `${prefix}/Acme/Lyon/Stamping/L1/press-1`
  assert.deepEqual([...got.keys()].sort(), [`${base}/force`, `${base}/mode`])
  const force = got.get(`${base}/force`)!
  assert.equal(force.value, 102.5)
  assert.equal(force.timestamp, '2026-01-01T00:00:02.000Z')
  assert.equal(force.quality, 'GOOD')
  assert.equal(force.units, 'NEWTON')
  assert.equal(force.asset, 'PRESS-1')
  assert.equal(force.uns, 'Acme/Lyon/Stamping/L1/press-1')
  assert.equal(got.get(`${base}/mode`)!.quality, 'BAD')

  // Live: a new value is published to the subscriber.
  await log.append(TOPICS.assets, [{ key: 'PRESS-1', value: obs('force', 110, 5) }])
  await until(() => got.get(`${base}/force`)?.value === 110, 'the live value')
  await supervisor.stop()
  // Clear the retained messages of this test.
  await sub.unsubscribeAsync(`${prefix}/#`)
  for (const topic of got.keys()) await sub.publishAsync(topic, '', { retain: true, qos: 1 })
})

test('a broker with users (password_env), stopped and started again: what was appended meanwhile is published after the reconnect', async (t) => {
  const broker = await privateBroker(t, { users: { pub: 'pub-pw', reader: 'reader-pw' } })
  const prefix = uniqueTopic()
  const log = await testLog(t)
  const factory = await testFactory(t, {
    'factory.yaml': FACTORY_YAML,
    'uns.yml': UNS_YAML,
    'devices.yml': DEVICES_YAML,
    'apps.yml': `apps:\n  pub:\n    uuid: MQTT-PUB\n    mqtt_publish:\n      url: ${broker.url}\n      username: pub\n      password_env: PUB_PW\n      topic_prefix: ${prefix}\n      observations: {assets: [PRESS-1], items: [force]}\n`,
  })
  const obs = (value: number) =>
    encodeObservation({
      id: 'force',
      value,
      tag: 'Force',
      type: 'Samples',
      attributes: { timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, value)).toISOString() },
    })
  await log.append(TOPICS.assets, [{ key: 'PRESS-1', value: obs(1) }])
  const { app, supervisor } = await runApp(t, log, factory, 'MQTT-PUB', { PUB_PW: 'pub-pw' })
  const published = () => (app as MqttPublishApp).metrics().samples?.[0]?.value ?? 0
  await until(() => published() >= 1, 'the first message acknowledged')

  await stopBroker(broker)
  await log.append(TOPICS.assets, [
    { key: 'PRESS-1', value: obs(2) },
    { key: 'PRESS-1', value: obs(3) },
  ])
  await restartBroker(broker)
  await until(() => published() >= 3, 'the messages appended while the broker was down', 60_000)
  const reader = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'reader', password: 'reader-pw' })
  t.after(() => reader.endAsync())
  const got: number[] = []
  reader.on('message', (_topic, payload) => {
    if (payload.length > 0) got.push(JSON.parse(payload.toString()).value)
  })
  await reader.subscribeAsync(`${prefix}/Acme/Lyon/Stamping/L1/press-1/force`, { qos: 1 })
  await until(() => got.length > 0, 'the retained last value')
  assert.equal(got.at(-1), 3)
  await supervisor.stop()
})
