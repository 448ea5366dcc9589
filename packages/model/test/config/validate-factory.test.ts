import assert from 'node:assert/strict'
import { basename, join } from 'node:path'
import { describe, test } from 'node:test'
import { loadFactory, topicSettings, validateFactory } from '../../src/config/index.ts'
import { isOpenFactoryError } from '../../src/errors.ts'
import { brief, tmpFactory, UNS_SCHEMA } from './helpers.ts'

const SIM = (name: string, uuid: string) =>
  `devices:\n  ${name}:\n    uuid: ${uuid}\n    connector:\n      type: simulator\n`

describe('finding the files of a factory', () => {
  test('a folder is walked for .yml/.yaml, skipping hidden folders, node_modules and folders holding .ofa-skip', async (t) => {
    const dir = await tmpFactory(t, {
      'a.yml': SIM('a', 'A-1'),
      'sub/b.yaml': SIM('b', 'B-1'),
      'sub/notes.txt': 'not yaml',
      '.hidden/c.yml': 'not: [valid',
      'node_modules/pkg/d.yml': 'not: [valid',
      'samples/.ofa-skip': 'broken on purpose\n',
      'samples/e.yml': 'not: [valid',
      'samples/deeper/f.yml': 'not: [valid',
    })
    const { factory, problems, skipped } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(
      factory.files.map((f) => f.path.slice(dir.length + 1)),
      ['a.yml', 'sub/b.yaml'],
    )
    assert.deepEqual(skipped, [join(dir, 'samples')])
    assert.deepEqual(factory.manifest.name, basename(dir))
  })

  test('a folder named broken is read like any other; a folder holding .ofa-skip is read when named', async (t) => {
    const dir = await tmpFactory(t, {
      'broken/e.yml': 'not: [valid',
      'samples/.ofa-skip': '',
      'samples/f.yml': SIM('f', 'F-1'),
    })
    const walked = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(walked.problems), ['broken/e.yml:1:12 OFA_CONFIG_YAML'])
    const named = await validateFactory(['samples'], { cwd: dir, env: {} })
    assert.deepEqual(brief(named.problems), [])
    assert.deepEqual(
      named.factory.devices.map((d) => d.uuid),
      ['F-1'],
    )
    assert.deepEqual(named.skipped, [])
  })

  test('include: a glob does not reach into a folder holding .ofa-skip; naming the folder does', async (t) => {
    const files = {
      'devices/a.yml': SIM('a', 'A-1'),
      'devices/samples/.ofa-skip': '',
      'devices/samples/b.yml': 'not: [valid',
    }
    const globbed = await tmpFactory(t, { ...files, 'factory.yaml': 'include: ["devices/**/*.yml", "devices/*"]\n' })
    const r = await validateFactory([globbed], { cwd: globbed, env: {} })
    assert.deepEqual(brief(r.problems), [])
    assert.deepEqual(
      r.factory.devices.map((d) => d.uuid),
      ['A-1'],
    )
    assert.deepEqual(r.skipped, [join(globbed, 'devices/samples')])
    const named = await tmpFactory(t, { ...files, 'factory.yaml': 'include: [devices/samples]\n' })
    const n = await validateFactory([named], { cwd: named, env: {} })
    assert.deepEqual(brief(n.problems), ['devices/samples/b.yml:1:12 OFA_CONFIG_YAML'])
  })

  test('files and folders may be given together; each file is read once', async (t) => {
    const dir = await tmpFactory(t, { 'x/a.yml': SIM('a', 'A-1'), 'y/b.yml': SIM('b', 'B-1') })
    const { factory, problems } = await validateFactory(['x', 'y/b.yml', 'x/a.yml'], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(
      factory.devices.map((d) => d.uuid),
      ['A-1', 'B-1'],
    )
    assert.equal(factory.dir, join(dir, 'x'))
  })

  test('a path that does not exist is a problem', async (t) => {
    const dir = await tmpFactory(t, {})
    const { problems } = await validateFactory(['nope.yml'], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['nope.yml:undefined:undefined OFA_CONFIG_FILE'])
  })

  test('factory.yaml include: files, folders and globs; entries matching nothing are problems', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml': 'include:\n  - devices/*.yml\n  - apps\n  - infra.yml\n  - missing.yml\n  - none/*.yml\n',
      'devices/a.yml': SIM('a', 'A-1'),
      'devices/b.yml': SIM('b', 'B-1'),
      'apps/apps.yml': 'apps:\n  x:\n    uuid: X-1\n    image: img\n',
      'infra.yml': 'nodes:\n  managers:\n    m:\n      ip: 10.0.0.1\n',
      'ignored.yml': 'not: [valid',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'factory.yaml:5:5 OFA_CONFIG_FILE include[3]',
      'factory.yaml:6:5 OFA_CONFIG_FILE include[4]',
    ])
    assert.deepEqual(
      factory.devices.map((d) => d.uuid),
      ['A-1', 'B-1'],
    )
    assert.deepEqual(
      factory.apps.map((d) => d.uuid),
      ['X-1'],
    )
    assert.equal(factory.infrastructure.nodes.length, 1)
  })

  test('factory.yaml given as a file means its whole folder', async (t) => {
    const dir = await tmpFactory(t, { 'factory.yaml': 'name: f1\n', 'a.yml': SIM('a', 'A-1') })
    const factory = await loadFactory(['factory.yaml'], { cwd: dir, env: {} })
    assert.equal(factory.manifest.name, 'f1')
    assert.deepEqual(
      factory.devices.map((d) => d.uuid),
      ['A-1'],
    )
  })

  test('a second factory.yaml in the tree is a problem', async (t) => {
    const dir = await tmpFactory(t, { 'factory.yaml': '', 'other/factory.yml': 'name: other\n' })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['other/factory.yml:undefined:undefined OFA_CONFIG_FILE'])
  })

  test('a file of no known kind, an empty file and a file that is not a map are problems', async (t) => {
    const dir = await tmpFactory(t, { 'compose.yml': 'services: {}\n', 'empty.yml': '', 'list.yml': '- a\n' })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'compose.yml:1:1 OFA_CONFIG_KIND_UNKNOWN',
      'empty.yml:1:1 OFA_CONFIG_KIND_UNKNOWN',
      'list.yml:1:1 OFA_CONFIG_KIND_UNKNOWN',
    ])
  })

  test('a file may hold several sections; unknown top-level keys are reported', async (t) => {
    const dir = await tmpFactory(t, {
      'all.yml': `${SIM('a', 'A-1')}apps:\n  x:\n    uuid: X-1\n    image: img\napp:\n  y: 1\n`,
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['all.yml:10:1 OFA_CONFIG_UNKNOWN_FIELD app'])
    assert.match(problems[0]!.message, /did you mean "apps"/)
    assert.deepEqual(factory.files[0]?.kinds, ['devices', 'apps'])
    assert.equal(factory.devices.length + factory.apps.length, 2)
  })
})

describe('factory.yaml', () => {
  test('defaults: folder name, embedded backbone in .ofa-data, 6 partitions for ofa_assets', async (t) => {
    const dir = await tmpFactory(t, { 'factory.yaml': '# nothing set\n' })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(factory.manifest, {
      file: join(dir, 'factory.yaml'),
      dir,
      name: basename(dir),
      backbone: { type: 'embedded' },
      topics: {},
      sql: [],
      processors: [],
    })
    assert.deepEqual(topicSettings(factory.manifest, 'ofa_assets'), { partitions: 6, replicationFactor: 1 })
    assert.deepEqual(topicSettings(factory.manifest, 'ofa_deployments'), { partitions: 1, replicationFactor: 1 })
  })

  test('topics: defaults apply to every topic, a topic entry wins', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml':
        'backbone:\n  dataDir: /var/lib/ofa\ntopics:\n  defaults: {replicationFactor: 3, partitions: 2, retentionBytes: -1}\n  ofa_assets: {partitions: 12, retentionMs: 86400000}\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(factory.manifest.backbone, { type: 'embedded', dataDir: '/var/lib/ofa' })
    assert.deepEqual(topicSettings(factory.manifest, 'ofa_assets'), {
      partitions: 12,
      replicationFactor: 3,
      retentionMs: 86400000,
      retentionBytes: -1,
    })
    assert.deepEqual(topicSettings(factory.manifest, 'other'), {
      partitions: 2,
      replicationFactor: 3,
      retentionBytes: -1,
    })
  })

  test('kafka backbone: servers from a comma-separated variable, security defaults, TLS files', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml': `backbone:
  type: kafka
  bootstrapServers: \${KAFKA_BROKER}
  security:
    protocol: SASL_SSL
    sasl: {mechanism: SCRAM-SHA-512, username: ofa, password: \${KAFKA_PASSWORD}}
    tls:
      ca: certs/ca.pem
      cert: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"
`,
      'certs/ca.pem': '-----BEGIN CERTIFICATE-----\n',
    })
    const env = { KAFKA_BROKER: 'broker-1:9092, broker-2:9092,[::1]:9093', KAFKA_PASSWORD: 's3cret' }
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(factory.manifest.backbone, {
      type: 'kafka',
      bootstrapServers: ['broker-1:9092', 'broker-2:9092', '[::1]:9093'],
      clientId: 'openfactory',
      security: {
        protocol: 'SASL_SSL',
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'ofa', password: 's3cret' },
        tls: {
          rejectUnauthorized: true,
          ca: join(dir, 'certs/ca.pem'),
          cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
        },
      },
    })
  })

  test('edge forwarding: defaults to the factory name and its three topics; a bad edge id is placed', async (t) => {
    let dir = await tmpFactory(t, {
      'factory.yaml': 'name: line-3\nbackbone:\n  type: embedded\n  forward: {bootstrapServers: central:9092}\n',
    })
    let r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), [])
    assert.deepEqual(r.factory.manifest.backbone, {
      type: 'embedded',
      forward: {
        bootstrapServers: ['central:9092'],
        clientId: 'openfactory',
        security: { protocol: 'PLAINTEXT' },
        edgeId: 'line-3',
        topics: ['ofa_assets', 'ofa_registry', 'ofa_asset_documents'],
      },
    })
    dir = await tmpFactory(t, {
      'factory.yaml':
        'backbone:\n  forward:\n    bootstrapServers: [central:9092]\n    edgeId: "bad edge"\n    topics: []\n',
    })
    r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), [
      'factory.yaml:4:13 OFA_CONFIG_VALUE backbone.forward.edgeId',
      'factory.yaml:5:13 OFA_CONFIG_VALUE backbone.forward.topics',
    ])
  })

  test('kafka backbone problems; one bad setting does not hide the others', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml': `backbone:
  type: kafka
  bootstrapServers: [broker-1:9092, broker-2]
topics:
  bad topic: {partitions: 0}
  ofa_assets: {partitions: 0}
uns: missing-uns.yml
colour: blue
`,
    })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'factory.yaml:3:37 OFA_CONFIG_VALUE backbone.bootstrapServers[1]',
      'factory.yaml:5:3 OFA_CONFIG_VALUE topics.bad topic',
      'factory.yaml:6:28 OFA_CONFIG_VALUE topics.ofa_assets.partitions',
      'factory.yaml:7:6 OFA_CONFIG_FILE uns',
      'factory.yaml:8:1 OFA_CONFIG_UNKNOWN_FIELD colour',
    ])
  })

  test('kafka security: SASL protocols need sasl, TLS settings need an SSL protocol, TLS files must exist', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml': `backbone:
  type: kafka
  bootstrapServers: b:9092
  security:
    protocol: SASL_PLAINTEXT
    tls: {ca: nope.pem}
`,
    })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'factory.yaml:4:3 OFA_CONFIG_MISSING_FIELD backbone.security.sasl',
      'factory.yaml:6:5 OFA_CONFIG_VALUE backbone.security.tls',
      'factory.yaml:6:15 OFA_CONFIG_FILE backbone.security.tls.ca',
    ])
    const plain = await tmpFactory(t, {
      'factory.yaml':
        'backbone:\n  type: kafka\n  bootstrapServers: b:9092\n  security:\n    sasl: {mechanism: PLAIN, username: u, password: p}\n',
    })
    const r = await validateFactory([plain], { cwd: plain, env: {} })
    assert.deepEqual(brief(r.problems), ['factory.yaml:5:5 OFA_CONFIG_VALUE backbone.security.sasl'])
  })

  test('kafka sasl: password or passwordFile (resolved from factory.yaml, not read); one the deployments keep is refused', async (t) => {
    const sasl = (creds: string) =>
      `backbone:\n  type: kafka\n  bootstrapServers: b:9092\n  security:\n    protocol: SASL_SSL\n    sasl: {mechanism: PLAIN, username: u${creds}}\n`
    let dir = await tmpFactory(t, { 'factory.yaml': sasl(', passwordFile: .secrets/kafka') })
    let r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), [], 'a missing file is no problem: it is read when the connection opens')
    const b = r.factory.manifest.backbone
    assert.equal(b.type === 'kafka' && b.security.sasl?.passwordFile, join(dir, '.secrets/kafka'))
    dir = await tmpFactory(t, { 'factory.yaml': sasl(', passwordFile: /run/secrets/kafka') })
    r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), [])
    dir = await tmpFactory(t, { 'factory.yaml': sasl(', password: p, passwordFile: /run/secrets/kafka') })
    r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), ['factory.yaml:6:56 OFA_CONFIG_VALUE backbone.security.sasl.passwordFile'])
    assert.match(r.problems[0]!.message, /password and passwordFile exclude each other/)
    dir = await tmpFactory(t, { 'factory.yaml': sasl(', passwordFile: secrets/kafka') })
    r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), ['factory.yaml:6:57 OFA_CONFIG_VALUE backbone.security.sasl.passwordFile'])
    assert.match(r.problems[0]!.message, /in the factory folder, whose files every deployment keeps on the log/)
  })

  test('backbone type must be embedded or kafka', async (t) => {
    const dir = await tmpFactory(t, { 'factory.yaml': 'backbone:\n  type: rabbitmq\n' })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['factory.yaml:2:9 OFA_CONFIG_VALUE backbone.type'])
    assert.match(problems[0]!.message, /expected one of embedded, kafka, got "rabbitmq"/)
  })
})

describe('which UNS schema applies', () => {
  const schemaFor = (inc: string) => UNS_SCHEMA.replace('inc: Demofactory', `inc: ${inc}`)
  const files = {
    'factory.yaml': 'uns: schemas/from-manifest.yml\n',
    'schemas/from-manifest.yml': schemaFor('Manifest'),
    'schemas/from-option.yml': schemaFor('Option'),
    'schemas/from-env.yml': schemaFor('Env'),
    'uns_schema.yml': schemaFor('Folder'),
    'devices.yml': SIM('a', 'A-1'),
  }
  const incOf = async (dir: string, opts: { uns?: string; env?: Record<string, string> }) => {
    const { factory, problems } = await validateFactory([dir], {
      cwd: dir,
      env: opts.env ?? {},
      ...(opts.uns ? { uns: opts.uns } : {}),
    })
    assert.deepEqual(brief(problems), [])
    return factory.devices[0]?.uns?.levels.inc
  }

  test('--uns, then factory.yaml uns, then OPENFACTORY_UNS_SCHEMA, then uns_schema.yml, then uns.yml', async (t) => {
    const dir = await tmpFactory(t, files)
    const env = { OPENFACTORY_UNS_SCHEMA: 'schemas/from-env.yml' }
    assert.equal(await incOf(dir, { uns: 'schemas/from-option.yml', env }), 'Option')
    assert.equal(await incOf(dir, { env }), 'Manifest')
    const noManifest = await tmpFactory(t, { ...files, 'factory.yaml': '' })
    assert.equal(await incOf(noManifest, { env }), 'Env')
    assert.equal(await incOf(noManifest, {}), 'Folder')
    const unsYml = await tmpFactory(t, { 'uns.yml': schemaFor('UnsYml'), 'devices.yml': SIM('a', 'A-1') })
    assert.equal(await incOf(unsYml, {}), 'UnsYml')
  })

  test('a schema that cannot be found or read is reported once, without UNS noise on the devices', async (t) => {
    const dir = await tmpFactory(t, {
      'devices.yml': 'devices:\n  a:\n    uuid: A-1\n    uns: {area: Machining}\n    connector: {type: simulator}\n',
      'not-uns.yml': 'apps: {}\n',
    })
    const missing = await validateFactory([dir], { cwd: dir, env: {}, uns: 'nope.yml' })
    assert.deepEqual(brief(missing.problems), ['nope.yml:undefined:undefined OFA_CONFIG_FILE'])
    const notUns = await validateFactory([dir], { cwd: dir, env: {}, uns: 'not-uns.yml' })
    assert.deepEqual(brief(notUns.problems), ['not-uns.yml:1:1 OFA_UNS_SCHEMA'])
    const remote = await validateFactory([dir], {
      cwd: dir,
      env: { OPENFACTORY_UNS_SCHEMA: 'github://org:repo@/uns.yml' },
    })
    assert.deepEqual(brief(remote.problems), ['github://org:repo@/uns.yml:undefined:undefined OFA_CONFIG_FILE'])
    const badManifest = await tmpFactory(t, {
      'factory.yaml': 'uns: [a, b]\n',
      'devices.yml': 'devices:\n  a:\n    uuid: A-1\n    uns: {area: Machining}\n    connector: {type: simulator}\n',
    })
    const r = await validateFactory([badManifest], { cwd: badManifest, env: {} })
    assert.deepEqual(brief(r.problems), ['factory.yaml:1:6 OFA_CONFIG_TYPE uns'])
  })
})

describe('across files', () => {
  test('uuids are unique across devices and apps of all files; names are local to a file', async (t) => {
    const dir = await tmpFactory(t, {
      'a.yml': SIM('sensor', 'S-1'),
      'b.yml': `${SIM('sensor', 'S-2')}    uns: {}\n`,
      'c.yml': 'apps:\n  app:\n    uuid: S-1\n    image: img\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['c.yml:3:11 OFA_CONFIG_DUPLICATE_UUID apps.app.uuid'])
    assert.equal(problems[0]!.message, 'apps.app.uuid: uuid "S-1" is already used by devices.sensor (a.yml:2:3)')
    assert.deepEqual(
      factory.devices.map((d) => d.uuid),
      ['S-1', 'S-2'],
    )
  })

  test('node IPs are unique across files (IPv6 compared in canonical form); names of nodes, networks, volumes too', async (t) => {
    const dir = await tmpFactory(t, {
      'a.yml':
        'nodes:\n  managers:\n    m1: {ip: "fd00::1"}\nnetworks:\n  net: {ipam: {config: [{subnet: 10.1.0.0/16}]}}\n',
      'b.yml':
        'nodes:\n  workers:\n    w1: {ip: "fd00:0:0::1"}\n    m1: {ip: 10.0.0.9}\nnetworks:\n  net: {ipam: {config: [{subnet: 10.2.0.0/16}]}}\nvolumes:\n  v: ~\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'b.yml:3:14 OFA_CONFIG_DUPLICATE_IP nodes.workers.w1.ip',
      'b.yml:4:5 OFA_CONFIG_VALUE nodes.workers.m1',
      'b.yml:6:3 OFA_CONFIG_VALUE networks.net',
    ])
    assert.deepEqual(
      factory.infrastructure.volumes.map((v) => [v.name, v.driverOpts]),
      [['v', {}]],
    )
  })

  test('loadFactory throws OFA_CONFIG_INVALID carrying every problem', async (t) => {
    const dir = await tmpFactory(t, {
      'a.yml': 'devices:\n  a:\n    uuid: A-1\n    connector: {type: shdr, host: h, port: x}\n  b: {}\n',
    })
    await assert.rejects(loadFactory([dir], { cwd: dir, env: {} }), (err: unknown) => {
      assert.ok(isOpenFactoryError(err, 'OFA_CONFIG_INVALID'))
      assert.deepEqual(brief(err.problems), [
        'a.yml:4:44 OFA_CONFIG_TYPE devices.a.connector.port',
        'a.yml:5:3 OFA_CONFIG_MISSING_FIELD devices.b.uuid',
        'a.yml:5:3 OFA_CONFIG_MISSING_FIELD devices.b.connector',
      ])
      // A summary: the problems are printed from `problems`, once each.
      assert.equal(err.message, '3 problems in the factory configuration')
      return true
    })
  })

  test('filter_duplicates and upcase_values are booleans for our agent, refused for an external one', async (t) => {
    const dir = await tmpFactory(t, {
      'cell.xml': '<MTConnectDevices><Devices><Device id="d" name="d" uuid="D"/></Devices></MTConnectDevices>',
      'devices.yml': `devices:
  ours:
    uuid: OURS
    connector:
      type: mtconnect
      agent:
        port: 5000
        device_xml: cell.xml
        adapter: {ip: 127.0.0.1, port: 7878}
        filter_duplicates: false
        upcase_values: yes please
  theirs:
    uuid: THEIRS
    connector:
      type: mtconnect
      agent: {ip: 10.0.0.9, port: 5000, filter_duplicates: true}
`,
    })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'devices.yml:11:24 OFA_CONFIG_TYPE devices.ours.connector.agent.upcase_values',
      'devices.yml:16:41 OFA_CONFIG_VALUE devices.theirs.connector.agent.filter_duplicates',
    ])
  })

  test('an app needs an image or a command; a command is a text or a non-empty list', async (t) => {
    const dir = await tmpFactory(t, {
      'apps.yml': `apps:
  neither:
    uuid: APP-1
  listed:
    uuid: APP-2
    command: [python3, app.py]
  shell:
    uuid: APP-3
    command: python3 app.py --fast
  empty:
    uuid: APP-4
    command: []
`,
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'apps.yml:2:3 OFA_CONFIG_MISSING_FIELD apps.neither.image',
      'apps.yml:12:14 OFA_CONFIG_VALUE apps.empty.command',
    ])
    assert.deepEqual(
      factory.apps.map((a) => a.spec.command),
      [['python3', 'app.py'], 'python3 app.py --fast'],
    )
  })

  test('sql: files relative to factory.yaml, each must exist', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml': 'sql: [sql/a.sql, sql/missing.sql]\n',
      'sql/a.sql': 'SHOW STREAMS;\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['factory.yaml:1:18 OFA_CONFIG_FILE sql[1]'])
    assert.deepEqual(factory.manifest.sql, [], 'a manifest with problems falls back to its defaults')
    const ok = await tmpFactory(t, { 'factory.yaml': 'sql: [sql/a.sql]\n', 'sql/a.sql': 'SHOW STREAMS;\n' })
    const loaded = await validateFactory([ok], { cwd: ok, env: {} })
    assert.deepEqual(brief(loaded.problems), [])
    assert.deepEqual(loaded.factory.manifest.sql, [join(ok, 'sql/a.sql')])
  })

  test('processors: .ts/.js modules relative to factory.yaml, each must exist', async (t) => {
    const dir = await tmpFactory(t, {
      'factory.yaml': 'processors:\n  - processors/a.ts\n  - processors/missing.js\n  - processors/b.py\n',
      'processors/a.ts': 'export default {}\n',
      'processors/b.py': 'print(1)\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [
      'factory.yaml:3:5 OFA_CONFIG_FILE processors[1]',
      'factory.yaml:4:5 OFA_CONFIG_VALUE processors[2]',
    ])
    assert.match(problems[1]!.message, /expected a \.ts, \.mts, \.js, \.mjs module/)
    assert.deepEqual(factory.manifest.processors, [], 'a manifest with problems falls back to its defaults')
    const ok = await tmpFactory(t, {
      'factory.yaml': 'processors: [processors/a.ts, processors/b.mjs]\n',
      'processors/a.ts': 'export default {}\n',
      'processors/b.mjs': 'export default {}\n',
    })
    const loaded = await validateFactory([ok], { cwd: ok, env: {} })
    assert.deepEqual(brief(loaded.problems), [])
    assert.deepEqual(loaded.factory.manifest.processors, [join(ok, 'processors/a.ts'), join(ok, 'processors/b.mjs')])
  })
})
