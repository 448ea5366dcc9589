// `connector.type: opcua` in the registry: what parse gives, what it refuses, and its reference section.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { checkConnectorConfigs, connectorReference, connectorSpec, planDevice } from '@openfactory/connectors'
import { deviceConfig } from '@openfactory/connectors/testing'
import { isOpenFactoryError } from '@openfactory/model'
import { commandName, parseOpcuaDevice } from '../src/index.ts'

const DOC = new URL('../../../docs/reference/connectors.md', import.meta.url)

const block = (server: Record<string, unknown> = {}) => ({
  type: 'opcua',
  server: { uri: 'opc.tcp://127.0.0.1:4840', ...server },
  constants: { model: { node_id: 'ns=2;s=Model', tag: 'Model' } },
  variables: {
    temp: { browse_path: '0:Root/0:Objects/2:Sensors/2:Temperature', tag: 'Temperature', deadband: 0.5 },
    setpoint: {
      node_id: 'ns=2;i=10',
      tag: 'Setpoint',
      access_level: 'rw',
      queue_size: 5,
      deadband_type: 'percent',
      deadband: 2,
    },
  },
  events: { alarms: { node_id: 'ns=2;i=2000' } },
  methods: { machine: { node_id: 'ns=2;i=1' } },
})

test('parse: the reference defaults, each entry with its place in the file', () => {
  const c = parseOpcuaDevice(deviceConfig(block(), { uuid: 'DHT-1', name: 'dht' }))
  assert.deepEqual(c.server, { uri: 'opc.tcp://127.0.0.1:4840', mode: 'None', policy: 'None' })
  assert.deepEqual(c.subscription, { publishingInterval: 100, queueSize: 1, samplingInterval: 0 })
  const [temp, setpoint] = c.variables
  assert.deepEqual(
    [temp?.name, temp?.writable, temp?.deadband, temp?.deadbandType, temp?.queueSize, temp?.where.path],
    ['temp', false, 0.5, 'absolute', 1, 'devices.dht.connector.variables.temp'],
  )
  assert.deepEqual([setpoint?.writable, setpoint?.deadbandType, setpoint?.queueSize], [true, 'percent', 5])
  assert.deepEqual(temp?.node, { browsePath: '0:Root/0:Objects/2:Sensors/2:Temperature' })
  assert.deepEqual(
    c.events.map((e) => e.name),
    ['alarms'],
  )
  assert.deepEqual(
    c.methods.map((e) => e.name),
    ['machine'],
  )
})

test('parse: a secured mode takes Basic256Sha256 by default; mode and policy must agree', () => {
  const secured = parseOpcuaDevice(deviceConfig(block({ security: { mode: 'Sign' } }), { uuid: 'A' }))
  assert.equal(secured.server.policy, 'Basic256Sha256')
  const problems = checkConnectorConfigs([
    deviceConfig(block({ security: { mode: 'None', policy: 'Basic256Sha256' } }), { uuid: 'B' }),
    deviceConfig(block({ security: { mode: 'SignAndEncrypt', policy: 'None' } }), { uuid: 'C' }),
  ])
  assert.deepEqual(
    problems.map((p) => [p.code, p.where?.path]),
    [
      ['OFA_CONNECTOR_CONFIG', 'devices.B.connector.server.security.policy'],
      ['OFA_CONNECTOR_CONFIG', 'devices.C.connector.server.security.policy'],
    ],
  )
  assert.ok(problems.every((p) => isOpenFactoryError(p)))
})

test('an opcua device is run by ofa up, not skipped', () => {
  const plan = planDevice(deviceConfig(block(), { uuid: 'RUN-1' }))
  assert.equal(plan.kind, 'run')
})

test('command names from browse names: ASCII letters, digits and _', () => {
  assert.equal(commandName('SetSpeed'), 'SetSpeed')
  assert.equal(commandName('Generate Code'), 'Generate_Code')
  assert.equal(commandName('Öl Pumpe Start!'), 'Ol_Pumpe_Start')
  assert.equal(commandName('Temp °C'), 'Temp_C')
  assert.equal(commandName('  __x--y__ '), 'x_y')
})

test('docs/reference/connectors.md holds the generated opcua section as is', () => {
  const page = readFileSync(DOC, 'utf8')
  const open = '<!-- connector: opcua -->\n'
  const start = page.indexOf(open)
  const end = page.indexOf('\n<!-- /connector: opcua -->', start)
  assert.ok(start >= 0 && end > start)
  const spec = connectorSpec('opcua')!
  assert.equal(page.slice(start + open.length, end), connectorReference(spec))
})
