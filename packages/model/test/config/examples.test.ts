import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFactory, topicSettings, validateFactory } from '../../src/config/index.ts'
import { brief, EXAMPLE_UNS, EXAMPLES, ROOT } from './helpers.ts'

test('the example factory is valid', async () => {
  const { factory, problems } = await validateFactory(['examples'], { cwd: ROOT, env: {} })
  assert.deepEqual(brief(problems), [])
  assert.equal(factory.manifest.name, 'demo-factory')
  assert.equal(factory.dir, EXAMPLES)
  assert.deepEqual(
    factory.files.map((f) => [f.path.slice(EXAMPLES.length + 1), f.kinds.join(',')]),
    [
      ['factory.yaml', 'manifest'],
      ['uns/uns_schema.yml', 'uns-schema'],
      ['devices/mtconnect-cnc.yml', 'devices'],
      ['devices/opcua-sensor.yml', 'devices'],
      ['devices/shdr-lathe.yml', 'devices'],
      ['apps/apps.yml', 'apps'],
      ['infra/infrastructure.yml', 'infrastructure'],
    ],
  )
  assert.equal(factory.uns?.separator, '/')
  assert.deepEqual(
    factory.devices.map((d) => [d.uuid, d.connector.type, d.uns?.unsId]),
    [
      ['CNC-001', 'mtconnect', 'Demofactory/Machining/WC002/CNC-001'],
      ['DHT-001', 'opcua', 'Demofactory/Machining/WC001/dht-sensor'],
      ['LATHE-001', 'shdr', 'Demofactory/Machining/WC003/ST1/LATHE-001'],
    ],
  )
  assert.deepEqual(factory.devices[1]?.uns?.levels, {
    inc: 'Demofactory',
    area: 'Machining',
    workcenter: 'WC001',
    asset: 'dht-sensor',
  })
  assert.deepEqual(
    factory.apps.map((a) => [a.uuid, a.uns?.unsId, a.spec.image_pull_policy]),
    [
      ['DASHBOARD', 'Demofactory/Quality/DASHBOARD', 'missing'],
      ['HISTORIAN', 'Demofactory/HISTORIAN', 'always'],
    ],
  )
  assert.deepEqual(
    factory.infrastructure.nodes.map((n) => [n.name, n.role, n.ip, n.labels.zone]),
    [
      ['manager-1', 'manager', '10.0.0.10', 'building-a'],
      ['worker-1', 'worker', '10.0.0.11', 'building-a'],
      ['worker-2', 'worker', '10.0.0.12', 'building-b'],
    ],
  )
  assert.deepEqual(factory.infrastructure.networks[0]?.spec.ipam.config[0]?.subnet, '10.1.0.0/16')
  assert.deepEqual(factory.infrastructure.volumes[0]?.driverOpts.device, ':/exports/historian')
})

test('loaded values: defaults, env defaults, resolved paths, normalized constraints', async () => {
  const factory = await loadFactory(['examples'], { cwd: ROOT, env: { CNC_HOST: '10.9.9.9' } })
  const cnc = factory.devices.find((d) => d.uuid === 'CNC-001')!
  assert.equal(cnc.connector.type, 'mtconnect')
  if (cnc.connector.type !== 'mtconnect') return
  assert.equal(cnc.connector.agent.device_xml, join(EXAMPLES, 'devices/cnc-devices.xml'))
  assert.deepEqual(cnc.connector.agent.adapter?.environment, ['CNC_HOST=10.9.9.9', 'ADAPTER_PORT=7878'])
  assert.deepEqual(cnc.spec.ksql_tables, ['device', 'producer', 'agent'])
  assert.equal(cnc.where.file, 'examples/devices/mtconnect-cnc.yml')
  assert.equal(cnc.where.line, 4)
  const sensor = factory.devices.find((d) => d.uuid === 'DHT-001')!
  assert.ok(sensor.connector.type === 'opcua')
  if (sensor.connector.type === 'opcua')
    assert.equal(sensor.connector.server.uri, 'opc.tcp://127.0.0.1:4840/openfactory/sensors')
  const dashboard = factory.apps.find((a) => a.uuid === 'DASHBOARD')!
  assert.deepEqual(dashboard.spec.deploy?.placement?.constraints, ['node.role == manager'])
  assert.deepEqual(dashboard.spec.environment, ['LOG_LEVEL=info'])
  assert.deepEqual(factory.manifest.backbone, { type: 'embedded', dataDir: join(EXAMPLES, '.ofa-data') })
  assert.deepEqual(topicSettings(factory.manifest, 'ofa_assets'), {
    partitions: 6,
    replicationFactor: 1,
    retentionMs: 604800000,
  })
})

for (const file of [
  'devices/opcua-sensor.yml',
  'devices/mtconnect-cnc.yml',
  'devices/shdr-lathe.yml',
  'apps/apps.yml',
]) {
  test(`${file} is valid on its own with --uns`, async () => {
    const { factory, problems } = await validateFactory([join(EXAMPLES, file)], {
      cwd: ROOT,
      env: {},
      uns: EXAMPLE_UNS,
    })
    assert.deepEqual(brief(problems), [])
    assert.equal(factory.devices.length + factory.apps.length > 0, true)
  })
}

test('infra/infrastructure.yml and uns/uns_schema.yml are valid on their own', async () => {
  for (const file of ['infra/infrastructure.yml', 'uns/uns_schema.yml']) {
    const { problems } = await validateFactory([join(EXAMPLES, file)], { cwd: ROOT, env: {} })
    assert.deepEqual(brief(problems), [], file)
  }
})
