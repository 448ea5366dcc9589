// `connector.type: mqtt` in the registry: what model's schema refuses (file, line, field), what parse adds and
// refuses, its defaults, and its reference section.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkConnectorConfigs, connectorReference, connectorSpec, planDevice } from '@openfactory/connectors'
import { deviceConfig } from '@openfactory/connectors/testing'
import { validateFactory } from '@openfactory/model'
import { makeCertificates } from '../../../scripts/test-certs.ts'
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
    assetLevel: -1,
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

test('parse: mutual TLS reads tls.cert and tls.key beside the device file; each misuse is refused naming its field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-mqtt-mtls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const mine = makeCertificates(join(dir, 'mine'))
  const other = makeCertificates(join(dir, 'other'))
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n')
  // The same key, encrypted with a passphrase (PKCS#8): there is no passphrase field to open it.
  const enc = spawnSync('openssl', [
    'pkcs8',
    '-topk8',
    '-in',
    mine.clientKey,
    '-passout',
    'pass:synthetic-7',
    '-out',
    join(dir, 'enc.key'),
  ])
  assert.equal(enc.status, 0, String(enc.stderr))
  const file = join(dir, 'devices.yml')
  const device = (name: string, tls: Record<string, unknown>, url = 'mqtts://127.0.0.1:8883') =>
    deviceConfig({ type: 'mqtt', url, tls }, { uuid: name.toUpperCase(), name, file })

  // Relative to the device file, read like tls.ca: the files' PEM text goes to mqtt.js.
  const ok = parseMqttDevice(device('ok', { ca: 'mine/ca.pem', cert: 'mine/client.pem', key: 'mine/client.key' }))
  assert.equal(ok.ca, readFileSync(mine.ca, 'utf8'))
  assert.equal(ok.cert, readFileSync(mine.clientCert, 'utf8'))
  assert.equal(ok.key, readFileSync(mine.clientKey, 'utf8'))
  assert.equal(parseMqttDevice(device('plain', {})).cert, undefined)

  const problems = checkConnectorConfigs([
    device('keyonly', { key: 'mine/client.key' }),
    device('certonly', { cert: 'mine/client.pem' }),
    device('missing', { cert: 'mine/no-such.pem', key: 'mine/no-such.key' }),
    device('unreadable', { cert: 'mine', key: 'mine/client.key' }),
    device('notpem', { cert: 'garbage.pem', key: 'garbage.pem' }),
    device('mismatch', { cert: 'mine/client.pem', key: other.clientKey }),
    device('encrypted', { cert: 'mine/client.pem', key: 'enc.key' }),
    device('plaintcp', { cert: 'mine/client.pem', key: 'mine/client.key' }, 'mqtt://127.0.0.1:1883'),
  ])
  assert.deepEqual(
    problems.map((p) => [p.code, p.where?.path, p.message.replace(/^\S+: /, '')]),
    [
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.keyonly.connector.tls.key',
        'a client key needs its certificate: tls.cert is missing',
      ],
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.certonly.connector.tls.cert',
        'a client certificate needs its private key: tls.key is missing',
      ],
      ['OFA_CONNECTOR_CONFIG', 'devices.missing.connector.tls.cert', 'cannot read mine/no-such.pem: ENOENT'],
      ['OFA_CONNECTOR_CONFIG', 'devices.missing.connector.tls.key', 'cannot read mine/no-such.key: ENOENT'],
      ['OFA_CONNECTOR_CONFIG', 'devices.unreadable.connector.tls.cert', 'cannot read mine: EISDIR'],
      ['OFA_CONNECTOR_CONFIG', 'devices.notpem.connector.tls.cert', 'garbage.pem holds no PEM certificate'],
      ['OFA_CONNECTOR_CONFIG', 'devices.notpem.connector.tls.key', 'garbage.pem holds no PEM private key'],
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.mismatch.connector.tls.key',
        `${other.clientKey} is not the private key of mine/client.pem`,
      ],
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.encrypted.connector.tls.key',
        "enc.key is encrypted: give the key unencrypted (readable by the connector's user only)",
      ],
      [
        'OFA_CONNECTOR_CONFIG',
        'devices.plaintcp.connector.tls.cert',
        'a client certificate needs a TLS URL (mqtts://, ssl:// or wss://)',
      ],
    ],
  )
  // No problem quotes the key.
  const keyLines = readFileSync(mine.clientKey, 'utf8').split('\n').slice(1, -2)
  for (const p of problems) for (const line of keyLines) assert.ok(!p.message.includes(line))
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
      tls: {ca: ca.pem, cert: client.pem, key: client.key, certificate: x}
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
    // tls.cert and tls.key are known fields (mutual TLS); a misspelt one is not.
    '12 OFA_CONFIG_UNKNOWN_FIELD devices.s.connector.tls.certificate',
    '14 OFA_CONFIG_VALUE devices.s.connector.topics.t.path',
    '16 OFA_CONFIG_VALUE devices.s.connector.commands.Go.timeout_ms',
    '16 OFA_CONFIG_VALUE devices.s.connector.commands.Go.topic',
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
