// `connector.type: modbus` in the registry: the register map parse gives, what it refuses (each problem placed),
// and the reference section in docs/reference/connectors.md.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { checkConnectorConfigs, connectorReference, connectorSpec, planDevice } from '@openfactory/connectors'
import { deviceConfig } from '@openfactory/connectors/testing'
import { MAX_READ_REGISTERS, MAX_WRITE_REGISTERS, parseModbusDevice } from '../src/index.ts'

const DOC = new URL('../../../docs/reference/connectors.md', import.meta.url)

const block = (registers: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'modbus',
  host: '127.0.0.1',
  port: 5020,
  registers,
  ...extra,
})

const problemsOf = (b: Record<string, unknown>) =>
  checkConnectorConfigs([deviceConfig(b, { uuid: 'PLC-1', name: 'plc' })]).map((p) => [
    p.code,
    p.where?.path,
    p.message,
  ])

test('parse: defaults, orders, scale and place of each field', () => {
  const c = parseModbusDevice(
    deviceConfig(
      block(
        {
          temp: { address: 0, table: 'input', scale: 0.01, units: 'CELSIUS', tag: 'Temperature' },
          speed: { address: 10, type: 'float32', word_order: 'little', unit_id: 2, poll_interval_ms: 250 },
          running: { address: 3, table: 'coil' },
        },
        { units: { '2': { timeout_ms: 300 } } },
      ),
      { uuid: 'PLC-1', name: 'plc' },
    ),
  )
  assert.equal(c.port, 5020)
  assert.equal(c.maxGap, 16)
  assert.equal(c.connection, 'per_unit')
  assert.deepEqual(c.units, [
    { unitId: 1, timeoutMs: 1000 },
    { unitId: 2, timeoutMs: 300 },
  ])
  const [temp, speed, running] = c.fields
  assert.deepEqual(
    [temp?.table, temp?.type, temp?.count, temp?.scale, temp?.category, temp?.unitId, temp?.pollIntervalMs],
    ['input', 'uint16', 1, 0.01, 'Samples', 1, 1000],
  )
  assert.equal(temp?.where.path, 'devices.plc.connector.registers.temp')
  assert.deepEqual([speed?.count, speed?.wordOrder, speed?.byteOrder, speed?.tag], [2, 'little', 'big', 'Speed'])
  assert.deepEqual([running?.type, running?.category], ['bool', 'Events'])
})

test('a map whose fields overlap is refused, naming the field and the one it overlaps', () => {
  const problems = problemsOf(
    block({
      a: { address: 10, type: 'float64' },
      b: { address: 13 },
      // Two bits of one register do not overlap; the same bit twice does.
      c: { address: 20, type: 'bit', bit: 1 },
      d: { address: 20, type: 'bit', bit: 2 },
      e: { address: 20, type: 'bit', bit: 2 },
      // Another table or another unit is another register.
      f: { address: 13, table: 'input' },
      g: { address: 13, unit_id: 2 },
    }),
  )
  assert.deepEqual(
    problems.map((p) => p.slice(0, 2)),
    [
      ['OFA_CONNECTOR_CONFIG', 'devices.plc.connector.registers.b.address'],
      ['OFA_CONNECTOR_CONFIG', 'devices.plc.connector.registers.e.address'],
    ],
  )
  assert.match(String(problems[0]?.[2]), /overlaps registers\.a \(unit 1, holding 10-13\)/)
})

test('protocol limits: a field ending past 65535, a string just past 125 registers (123 when writable), bad types and orders', () => {
  const problems = problemsOf(
    block({
      end_ok: { address: 65535 },
      end_past: { address: 65535, type: 'int32', unit_id: 3 },
      end_ok32: { address: 65534, type: 'int32', unit_id: 4 },
      s_ok: { address: 0, type: 'string', length: MAX_READ_REGISTERS },
      s_past: { address: 200, type: 'string', length: MAX_READ_REGISTERS + 1 },
      s_nolen: { address: 400, type: 'string' },
      coil_int: { address: 0, table: 'coil', type: 'int16' },
      reg_bool: { address: 500, type: 'bool' },
      order: { address: 600, byte_order: 'middle' },
      bit_past: { address: 700, type: 'bit', bit: 16 },
      w_ok: { address: 1000, type: 'string', length: MAX_WRITE_REGISTERS, writable: true },
      w_past: { address: 2000, type: 'string', length: MAX_WRITE_REGISTERS + 1, writable: true },
      ro: { address: 0, table: 'input', writable: true },
      zero: { address: 800, scale: 0 },
      what: { address: 900, colour: 'red' },
    }),
  )
  assert.deepEqual(
    problems.map((p) => p[1]?.replace('devices.plc.connector.', '')),
    [
      'registers.end_past.address',
      'registers.s_past.length',
      'registers.s_nolen.length',
      'registers.coil_int.type',
      'registers.reg_bool.type',
      'registers.order.byte_order',
      'registers.bit_past.bit',
      'registers.w_past.length',
      'registers.ro.writable',
      'registers.zero.scale',
      'registers.what.colour',
    ],
  )
  assert.ok(problems.every((p) => p[0] === 'OFA_CONNECTOR_CONFIG'))
})

test('block settings are checked at their edges', () => {
  const paths = problemsOf(
    block({ a: { address: 0 } }, { max_gap: MAX_READ_REGISTERS - 1, timeout_ms: 0, units: { '256': {}, x: {} } }),
  ).map((p) => p[1]?.replace('devices.plc.connector.', ''))
  assert.deepEqual(paths, ['timeout_ms', 'max_gap', 'units.256', 'units.x'])
  assert.deepEqual(problemsOf(block({ a: { address: 0 } }, { max_gap: MAX_READ_REGISTERS - 2, timeout_ms: 1 })), [])
  assert.deepEqual(
    problemsOf(block({})).map((p) => p[1]),
    ['devices.plc.connector.registers'],
  )
})

test('connection: per_unit, pipelined or shared; anything else refused with its place', () => {
  for (const connection of ['per_unit', 'pipelined', 'shared'] as const) {
    const c = parseModbusDevice(deviceConfig(block({ a: { address: 0 } }, { connection }), { uuid: 'PLC-1' }))
    assert.equal(c.connection, connection)
  }
  assert.deepEqual(problemsOf(block({ a: { address: 0 } }, { connection: 'pooled' })), [
    [
      'OFA_CONNECTOR_CONFIG',
      'devices.plc.connector.connection',
      'devices.plc.connector.connection: must be one of per_unit, pipelined, shared',
    ],
  ])
})

test('a modbus device is run by ofa up, not skipped', () => {
  assert.equal(planDevice(deviceConfig(block({ a: { address: 0 } }), { uuid: 'RUN-1' })).kind, 'run')
})

test('docs/reference/connectors.md holds the generated modbus section as is', () => {
  const page = readFileSync(DOC, 'utf8')
  const open = '<!-- connector: modbus -->\n'
  const start = page.indexOf(open)
  const end = page.indexOf('\n<!-- /connector: modbus -->', start)
  assert.ok(start >= 0 && end > start)
  assert.equal(page.slice(start + open.length, end), connectorReference(connectorSpec('modbus')!))
})
