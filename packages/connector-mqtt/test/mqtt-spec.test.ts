// `connector.type: mqtt` in the registry: what model's schema refuses (file, line, field), what parse adds and
// refuses, its defaults, and its reference section.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkConnectorConfigs, connectorReference, connectorSpec, planDevice } from '@openfactory/connectors'
import { deviceConfig } from '@openfactory/connectors/testing'
import { validateFactory } from '@openfactory/model'
import { parseMqttDevice, topicMatches } from '../src/index.ts'

const DOC = new URL('../../../docs/reference/connectors.md', import.meta.url)

test('parse: defaults are QoS 1, a persistent session, MQTT 5, JSON payloads, Samples', () => {
  const c = parseMqttDevice(
    deviceConfig(
      {
        type: 'mqtt',
        url: 'mqtt://127.0.0.1:1883',
        topics: { temp: { topic: 'plant/+/temp', tag: 'Temperature', path: 'data.values[2].t' } },
        commands: { Start: { topic: 'plant/cmd' } },
      },
      { uuid: 'SENSOR-1', name: 'sensor' },
    ),
  )
  assert.equal(c.qos, 1)
  assert.equal(c.cleanSession, false)
  assert.equal(c.protocolVersion, 5)
  assert.equal(c.clientId, 'ofa-SENSOR-1')
  assert.equal(c.maxPayloadBytes, 1048576)
  assert.equal(c.maxMessagesPerS, 0)
  assert.deepEqual(c.items[0]?.path, ['data', 'values', 2, 't'])
  assert.equal(c.items[0]?.category, 'Samples')
  assert.equal(c.items[0]?.payload, 'json')
  assert.equal(c.items[0]?.where.path, 'devices.sensor.connector.topics.temp')
  assert.deepEqual(c.commands[0], {
    name: 'Start',
    topic: 'plant/cmd',
    description: '',
    arguments: [],
    timeoutMs: 10000,
  })
  assert.equal(planDevice(deviceConfig({ type: 'mqtt', url: 'mqtt://127.0.0.1:1' }, { uuid: 'X' })).kind, 'run')
})

test('parse: bad topic filters, a path on a raw payload, a reserved id and a missing CA file, all at once', () => {
  const problems = checkConnectorConfigs([
    deviceConfig(
      {
        type: 'mqtt',
        url: 'mqtts://127.0.0.1:8883',
        tls: { ca: 'no-such-ca.pem' },
        topics: {
          a: { topic: 'plant/#/temp', tag: 'T' },
          b: { topic: 'plant/x+', tag: 'T' },
          c: { topic: 'plant/c', tag: 'T', payload: 'raw', path: 'v' },
          AssetType: { topic: 'plant/d', tag: 'T' },
        },
      },
      { uuid: 'BAD-1', name: 'bad' },
    ),
  ])
  assert.deepEqual(
    problems.map((p) => [p.code, p.where?.path, p.message.replace(/^\S+: /, '')]),
    [
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.bad.connector.topics.a.topic',
        'topic filter plant/#/temp has # other than as the whole last level',
      ],
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.bad.connector.topics.b.topic',
        'topic filter plant/x+ has + other than as a whole level',
      ],
      ['OFA_CONNECTOR_CONFIG', 'devices.bad.connector.topics.c.path', 'a field path needs payload: json'],
      ['OFA_CONNECTOR_CONFIG', 'devices.bad.connector.topics.AssetType', 'AssetType is a reserved attribute id'],
      ['OFA_CONNECTOR_CONFIG', 'devices.bad.connector.tls.ca', 'cannot read no-such-ca.pem: ENOENT'],
    ],
  )
})

test("model's schema: unknown fields, wrong QoS, wildcard command topics and limits past their edge name file and line", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-mqtt-spec-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(
    join(dir, 'devices.yml'),
    `devices:
  s:
    uuid: S-1
    connector:
      type: mqtt
      url: mqtt://127.0.0.1:1883
      qos: 3
      max_payload_bytes: 268435456
      keepalive_s: 65536
      max_messages_per_s: -1
      topik: x
      topics:
        t: {topic: a/b, tag: T, path: "a..b"}
      commands:
        Go: {topic: "cmd/+", timeout_ms: 0}
`,
  )
  const { problems } = await validateFactory([dir], { cwd: dir })
  const brief = problems.map((p) => `${p.where?.line} ${p.code} ${p.where?.path}`).sort()
  assert.deepEqual(brief, [
    '10 OFA_CONFIG_VALUE devices.s.connector.max_messages_per_s',
    '11 OFA_CONFIG_UNKNOWN_FIELD devices.s.connector.topik',
    '13 OFA_CONFIG_VALUE devices.s.connector.topics.t.path',
    '15 OFA_CONFIG_VALUE devices.s.connector.commands.Go.timeout_ms',
    '15 OFA_CONFIG_VALUE devices.s.connector.commands.Go.topic',
    '7 OFA_CONFIG_VALUE devices.s.connector.qos',
    '8 OFA_CONFIG_VALUE devices.s.connector.max_payload_bytes',
    '9 OFA_CONFIG_VALUE devices.s.connector.keepalive_s',
  ])
  // At the edge: accepted.
  writeFileSync(
    join(dir, 'devices.yml'),
    `devices:
  s:
    uuid: S-1
    connector: {type: mqtt, url: "mqtt://127.0.0.1:1883", qos: 2, max_payload_bytes: 268435455, keepalive_s: 65535}
`,
  )
  assert.deepEqual((await validateFactory([dir], { cwd: dir })).problems, [])
  // max_messages_per_s: 0 (no limit) and 1000000 accepted, one past the top refused.
  for (const [n, ok] of [
    [0, true],
    [1_000_000, true],
    [1_000_001, false],
  ] as const) {
    writeFileSync(
      join(dir, 'devices.yml'),
      `devices:\n  s:\n    uuid: S-1\n    connector: {type: mqtt, url: "mqtt://127.0.0.1:1883", max_messages_per_s: ${n}}\n`,
    )
    const found = (await validateFactory([dir], { cwd: dir })).problems.map((p) => `${p.code} ${p.where?.path}`)
    assert.deepEqual(found, ok ? [] : ['OFA_CONFIG_VALUE devices.s.connector.max_messages_per_s'], String(n))
  }
})

test('topic filters: + is one level, # the rest (and the parent), $ topics only by name', () => {
  assert.ok(topicMatches('a/+/c', 'a/b/c'))
  assert.ok(!topicMatches('a/+/c', 'a/b/x/c'))
  assert.ok(topicMatches('a/#', 'a'))
  assert.ok(topicMatches('a/#', 'a/b/c'))
  assert.ok(!topicMatches('a/b', 'a/b/c'))
  assert.ok(topicMatches('+/+', '/x'))
  assert.ok(!topicMatches('#', '$SYS/broker'))
  assert.ok(topicMatches('$SYS/#', '$SYS/broker'))
})

test('docs/reference/connectors.md holds the generated mqtt section as is', async () => {
  const page = (await import('node:fs')).readFileSync(DOC, 'utf8')
  const open = '<!-- connector: mqtt -->\n'
  const start = page.indexOf(open)
  const end = page.indexOf('\n<!-- /connector: mqtt -->', start)
  assert.ok(start >= 0 && end > start)
  assert.equal(page.slice(start + open.length, end), connectorReference(connectorSpec('mqtt')!))
})

test('examples/mqtt-factory validates; both its devices run; sparkplug with topics is refused', async () => {
  const dir = new URL('../../../examples/mqtt-factory/', import.meta.url).pathname
  const { problems, factory } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(problems, [])
  const devices = factory.devices
  assert.deepEqual(devices.map((d) => d.uuid).sort(), ['MQTT-ENV-SENSOR', 'SPARKPLUG-EDGE1'])
  assert.deepEqual(checkConnectorConfigs(devices), [])
  for (const d of devices) assert.equal(planDevice(d).kind, 'run')
  const mixed = checkConnectorConfigs([
    deviceConfig(
      {
        type: 'mqtt',
        url: 'mqtt://127.0.0.1:1883',
        sparkplug: { group_id: 'G', edge_node_id: 'E' },
        topics: { t: { topic: 'a', tag: 'T' } },
      },
      { uuid: 'MIX', name: 'mix' },
    ),
  ])
  assert.deepEqual(
    mixed.map((p) => p.where?.path),
    ['devices.mix.connector.sparkplug'],
  )
})
