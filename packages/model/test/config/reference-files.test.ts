/**
 * Files written the way the reference OpenFactory documents them (current and older shapes), using every
 * optional field its published schemas accept: none may be refused. The files are our own, written for
 * this test.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in plain strings is the configuration syntax under test.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { validateFactory } from '../../src/config/index.ts'
import { brief, tmpFactory } from './helpers.ts'

const UNS = `namespace_structure:
  - inc: OpenFactory
  - workcenter: [WC1, WC2]
  - asset: ANY
  - attribute: ANY
uns_template: inc/workcenter/asset/attribute
`

const DEPLOY = `
      replicas: 1
      resources:
        reservations: {cpus: 0.25, memory: 256Mi, open_files: 1024}
        limits: {cpus: 1.0, memory: 1Gi, open_files: 65535}
      placement:
        constraints:
          - node.labels.zone == building-a
          - node.labels.type=edge`

const DEVICES = `devices:
  cnc:
    uuid: CNC-R1
    uns:
      workcenter: WC1
      asset: cnc-r1
    connector:
      type: mtconnect
      agent:
        port: 3000
        device_xml: model.xml
        adapter:
          image: ghcr.io/example/adapter
          port: 7878
          environment:
            - SLEEP_INTERVAL=3.0
          deploy:${DEPLOY.replaceAll('\n      ', '\n            ')}
        deploy:${DEPLOY.replaceAll('\n      ', '\n          ')}
    ksql_tables: [device, producer, agent]
    supervisor:
      image: ghcr.io/example/opcua-supervisor
      adapter:
        ip: 192.168.0.201
        port: 4840
        environment:
          - NAMESPACE_URI=openfactory
        deploy:
          resources:
            limits: {cpus: 0.25}
      deploy:
        replicas: 1
  external:
    uuid: EXT-R1
    connector:
      type: mtconnect
      agent:
        ip: 10.0.0.218
        port: 5000
        deploy: {replicas: 1}
  remote-model:
    uuid: REMOTE-R1
    connector:
      type: mtconnect
      agent:
        port: 3101
        device_xml: github://org:repo@/simulators/temp_sensor/device.xml
        adapter: {ip: temperature-sensor-simulator, port: 7878}
  opcua:
    uuid: OPCUA-R1
    uns: {workcenter: WC2}
    connector:
      type: opcua
      server:
        uri: opc.tcp://127.0.0.1:4840/freeopcua/server/
        subscription:
          publishing_interval: 200
          queue_size: 10
          sampling_interval: 25
      constants:
        device_model: {node_id: ns=2;i=1001, tag: Model}
        serial: {browse_path: 0:Root/0:Objects/2:Device/2:SerialNumber, tag: SerialNumber}
      variables:
        temp: {node_id: ns=3;i=1050, tag: Temperature, queue_size: 5, sampling_interval: 50, deadband: 0.1}
        hum: {browse_path: 0:Root/0:Objects/2:Sensors/2:Humidity, tag: Humidity}
        setpoint: {node_id: ns=2;i=10, tag: Setpoint, access_level: rw}
        named: {node_id: ns=2;s=Line.Speed, tag: Speed, access_level: ro}
      events:
        iolinkmaster: {node_id: ns=6;i=43}
      methods:
        tempSensor: {browse_path: 0:Root/0:Objects/2:Sensors/2:TemperatureSensor}
        humiSensor: {node_id: ns=5;i=12}
  opcua-minimal:
    uuid: OPCUA-R2
    connector:
      type: opcua
      server: {uri: opc.tcp://plc:4840}
  shdr:
    uuid: SHDR-R1
    connector:
      type: shdr
      host: shdr-adapter.factory.local
      port: 7878
      data:
        temp: {tag: Temperature, type: Samples}
        humi: {tag: Humidity, type: Events}
  shdr-minimal:
    uuid: SHDR-R2
    connector: {type: shdr, host: 192.168.1.10, port: 7878}
`

const LEGACY_DEVICES = `devices:
  testcnc:
    uuid: TEST_CNC
    workcenter: WC2
    agent:
      port: 3201
      device_xml: model.xml
      adapter:
        ip: 192.168.0.201
        port: 7879
      deploy:
        resources:
          limits:
            cpus: 0.25
          reservations:
            cpus: 0.2
    supervisor:
      image: ghcr.io/example/opcua-supervisor
      adapter:
        ip: 192.168.0.201
        port: 4840
        environment:
         - BROWSE_NAME=TESTCNC
    ksql_tables: [device]
    influxdb:
      url: http://influxdb:8086
      organisation: factory
      token: secret
      bucket: ofa
  dht-001:
    uuid: DHT-001
    agent:
      ip: 10.0.0.218
      port: 3000
`

const APPS = `apps:
  scheduler:
    uuid: app-scheduler
    image: ghcr.io/example/scheduler:v1.0.0
    image_pull_policy: missing
    runtime_uid: 1234
    runtime_gid: 5678
    uns:
      workcenter: WC1
    environment:
     - ENV=production
    storage:
      data:
        type: nfs
        description: shared data
        server: deskfab.example.com
        remote_path: /nfs/deskfab
        mount_point: /mnt
        mount_options:
          - ro
      cache:
        type: local
        local_path: /var/cache/app
        mount_point: /cache
      v6:
        type: nfs
        server: "[fd00::20]"
        remote_path: /export
        mount_point: /v6
    routing:
      expose: true
      port: 8000
      hostname: dashboard
      canonical_hostname: app-scheduler.example.com
      alias_hostname: dashboard.example.com
    metrics:
      port: 4000
      path: /metrics
    networks:
      - factory-net
      - monitoring-net
    deploy:${DEPLOY.replaceAll('\n      ', '\n      ')}
  older:
    uuid: TEST-APP
    image: ofa/test-app
    environment:
      - KSQLDB_LOG_LEVEL=DEBUG
  single-storage:
    uuid: SINGLE-STORAGE
    image: img
    storage:
      type: nfs
      server: 10.0.5.2
      remote_path: /nfs/data
      mount_point: /mnt
      mount_options: [rw, noatime]
  metrics-default-path:
    uuid: METRICS
    image: img
    routing: {expose: false}
    metrics: {port: 9100}
    deploy: {}
`

const INFRA = `nodes:
  managers:
    manager-1:
      ip: 192.168.1.10
      labels: {zone: building-a}
  workers:
    worker-1:
      ip: 192.168.1.11
volumes:
  my-volume:
    driver_opts:
      type: nfs
      o: addr=192.168.1.20,nolock,soft,rw
      device: ":/data"
  plain-volume:
networks:
  openfactory-network:
    name: ofa-net
    ipam:
      config:
        - subnet: 192.168.0.0/16
          gateway: 192.168.0.1
          ip_range: 192.168.10.0/24
          aux_addresses: {host1: 192.168.0.5}
  docker-ingress-network:
    ipam:
      config:
        - subnet: 10.0.0.0/24
`

test('reference-shaped device (current and older format), app, infrastructure and UNS files are accepted', async (t) => {
  const dir = await tmpFactory(t, {
    'uns_schema.yml': UNS,
    'devices.yml': DEVICES,
    'legacy.yml': LEGACY_DEVICES,
    'infra.yml': INFRA,
    'model.xml': '<MTConnectDevices/>',
    'cache/.keep': '',
  })
  // A local storage path must be a folder that exists (absolute, as the reference writes it).
  await writeFile(join(dir, 'apps.yml'), APPS.replace('/var/cache/app', join(dir, 'cache')))
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), [])
  assert.deepEqual(
    factory.devices.map((d) => [d.uuid, d.connector.type, d.legacyFormat, d.uns?.unsId]),
    [
      ['CNC-R1', 'mtconnect', false, 'OpenFactory/WC1/cnc-r1'],
      ['EXT-R1', 'mtconnect', false, 'OpenFactory/EXT-R1'],
      ['REMOTE-R1', 'mtconnect', false, 'OpenFactory/REMOTE-R1'],
      ['OPCUA-R1', 'opcua', false, 'OpenFactory/WC2/OPCUA-R1'],
      ['OPCUA-R2', 'opcua', false, 'OpenFactory/OPCUA-R2'],
      ['SHDR-R1', 'shdr', false, 'OpenFactory/SHDR-R1'],
      ['SHDR-R2', 'shdr', false, 'OpenFactory/SHDR-R2'],
      ['TEST_CNC', 'mtconnect', true, 'OpenFactory/WC2/TEST_CNC'],
      ['DHT-001', 'mtconnect', true, 'OpenFactory/DHT-001'],
    ],
  )
  const cnc = factory.devices[0]!
  if (cnc.connector.type !== 'mtconnect') assert.fail('mtconnect expected')
  assert.equal(cnc.connector.agent.device_xml, join(dir, 'model.xml'))
  assert.deepEqual(cnc.connector.agent.deploy?.placement?.constraints, [
    'node.labels.zone == building-a',
    'node.labels.type == edge',
  ])
  assert.equal(
    factory.devices[2]?.connector.type === 'mtconnect' && factory.devices[2].connector.agent.device_xml,
    'github://org:repo@/simulators/temp_sensor/device.xml',
  )
  assert.deepEqual(
    factory.apps.map((a) => [a.uuid, a.uns?.unsId]),
    [
      ['app-scheduler', 'OpenFactory/WC1/app-scheduler'],
      ['TEST-APP', 'OpenFactory/TEST-APP'],
      ['SINGLE-STORAGE', 'OpenFactory/SINGLE-STORAGE'],
      ['METRICS', 'OpenFactory/METRICS'],
    ],
  )
  assert.deepEqual(factory.apps[3]?.spec.metrics, { port: 9100 })
  assert.deepEqual(
    factory.infrastructure.networks.map((n) => n.name),
    ['openfactory-network', 'docker-ingress-network'],
  )
  assert.deepEqual(
    factory.infrastructure.volumes.map((v) => v.name),
    ['my-volume', 'plain-volume'],
  )
})

test('values pydantic accepts in lax mode are accepted: numbers and booleans as text, 2.0 as an integer', async (t) => {
  const dir = await tmpFactory(t, {
    'apps.yml': `apps:
  a:
    uuid: A-1
    image: img
    runtime_uid: "1000"
    runtime_gid: 1000.0
    routing: {expose: "yes", port: "8000"}
    deploy:
      replicas: "2"
      resources: {limits: {cpus: "0.5", memory: "0.5Gi"}, reservations: {memory: 1073741824}}
`,
  })
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), [])
  const spec = factory.apps[0]!.spec
  assert.deepEqual(
    [spec.runtime_uid, spec.runtime_gid, spec.routing, spec.deploy?.replicas],
    [1000, 1000, { expose: true, port: 8000 }, 2],
  )
  assert.deepEqual(spec.deploy?.resources?.limits, { cpus: 0.5, memory: '0.5Gi' })
})

test('the reference integration-test files with ${VAR}', async (t) => {
  const dir = await tmpFactory(t, {
    'infra.yml': '# A single node cluster\n\nnodes:\n  managers:\n    manager: \n      ip: ${HOST_IP}\n',
    'app.yml':
      'apps:\n\n  test-app:\n    uuid: TEST-APP\n    image: ofa/test-app\n    environment:\n      - LOG_LEVEL=${APP_LOG_LEVEL:-INFO}\n',
  })
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: { HOST_IP: '192.168.0.10' } })
  assert.deepEqual(brief(problems), [])
  assert.equal(factory.infrastructure.nodes[0]?.ip, '192.168.0.10')
  assert.deepEqual(factory.apps[0]?.spec.environment, ['LOG_LEVEL=INFO'])
})

test('what the reference refuses we refuse too, with a precise place', async (t) => {
  const dir = await tmpFactory(t, {
    'uns_schema.yml': UNS,
    'devices.yml': `devices:
  a:
    uuid: A-1
    connector:
      type: opcua
      server: {uri: opc.tcp://h:4840}
      variables:
        v1: {node_id: ns=2;i=1, tag: T}
        v2: {node_id: ns=2;i=1, tag: T2}
        dup: {node_id: ns=2;i=3, tag: T3}
        path: {browse_path: Objects/2:Temp, tag: T4}
      events:
        dup: {node_id: ns=2;i=4}
    ksql_tables: [device, table]
  b:
    uuid: B-1
    connector:
      type: shdr
      host: h
      port: 0
      data:
        x: {tag: X, type: Sample}
`,
    'apps.yml': `apps:
  a:
    uuid: APP-1
    image: img
    image_pull_policy: never
    runtime_uid: 10
    storage:
      bad name: {type: local, local_path: relative/path, mount_point: /x}
      other: {type: s3, bucket: b}
`,
  })
  const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), [
    'apps.yml:5:24 OFA_CONFIG_VALUE apps.a.image_pull_policy',
    'apps.yml:8:7 OFA_CONFIG_VALUE apps.a.storage.bad name',
    'apps.yml:9:21 OFA_CONFIG_VALUE apps.a.storage.other.type',
    'devices.yml:11:29 OFA_CONFIG_VALUE devices.a.connector.variables.path.browse_path',
    'devices.yml:14:27 OFA_CONFIG_VALUE devices.a.ksql_tables[1]',
    'devices.yml:20:13 OFA_CONFIG_VALUE devices.b.connector.port',
    'devices.yml:22:27 OFA_CONFIG_VALUE devices.b.connector.data.x.type',
  ])
  // With the structure fixed, the cross-field rules are reported too.
  const fixed = await tmpFactory(t, {
    'devices.yml': `devices:
  a:
    uuid: A-1
    connector:
      type: opcua
      server: {uri: opc.tcp://h:4840}
      variables:
        v1: {node_id: ns=2;i=1, tag: T}
        v2: {node_id: ns=2;i=1, tag: T2}
        dup: {node_id: ns=2;i=3, tag: T3}
      events:
        dup: {node_id: ns=2;i=4}
`,
    'apps.yml': 'apps:\n  a:\n    uuid: APP-1\n    image: img\n    runtime_uid: 10\n',
  })
  const r = await validateFactory([fixed], { cwd: fixed, env: {} })
  assert.deepEqual(brief(r.problems), [
    'apps.yml:2:3 OFA_CONFIG_MISSING_FIELD apps.a.runtime_gid',
    'devices.yml:9:13 OFA_CONFIG_VALUE devices.a.connector.variables.v2',
    'devices.yml:12:9 OFA_CONFIG_VALUE devices.a.connector.events.dup',
  ])
  assert.match(r.problems[1]!.message, /same node as variables\.v1 \(ns=2;i=1\)/)
  assert.match(r.problems[2]!.message, /local name already used in variables/)
})
