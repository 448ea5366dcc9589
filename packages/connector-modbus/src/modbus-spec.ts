/**
 * `connector.type: modbus` in the connector registry. Model's schema checks the block's outline (host, port,
 * unit_id, each register's address); `parse` (modbus-map.ts) checks the register map as a whole and types it.
 * The fields are listed here rather than taken from model's schema, which leaves the block open.
 */
import { type ConnectorDeps, type ConnectorField, collectProblems, registerConnector } from '@openfactory/connectors'
import type { DeviceConfig, OpenFactoryError } from '@openfactory/model'
import { ModbusConnector } from './modbus-connector.ts'
import {
  DEFAULT_MAX_GAP,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PORT,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_UNIT_ID,
  FIELD_TYPES,
  MAX_READ_REGISTERS,
  MODBUS_CONNECTIONS,
  type ModbusDeviceConfig,
  readModbusDevice,
} from './modbus-map.ts'

export function parseModbusDevice(device: DeviceConfig): ModbusDeviceConfig {
  const problems: OpenFactoryError[] = []
  const config = readModbusDevice(device, problems)
  if (problems.length > 0) throw collectProblems(problems)
  return config
}

const field = (path: string, type: string, description: string, def?: string, required = false): ConnectorField => ({
  path,
  type,
  required,
  ...(def !== undefined ? { default: def } : {}),
  description,
})

const R = 'registers.<key>'

export const MODBUS_FIELDS: readonly ConnectorField[] = [
  field('type', '"modbus"', 'the connector type', undefined, true),
  field('host', 'text', 'the Modbus TCP server (a PLC, a gateway)', undefined, true),
  field('port', 'a port number', 'its TCP port', String(DEFAULT_PORT)),
  field('unit_id', 'an integer from 0 to 255', 'the unit id of registers that name none', String(DEFAULT_UNIT_ID)),
  field(
    'timeout_ms',
    'an integer ≥ 1',
    'a request with no answer within this fails (the unit is then down)',
    String(DEFAULT_TIMEOUT_MS),
  ),
  field(
    'poll_interval_ms',
    'an integer ≥ 1',
    'ms between reads of registers that name none',
    String(DEFAULT_POLL_INTERVAL_MS),
  ),
  field(
    'max_gap',
    `an integer from 0 to ${MAX_READ_REGISTERS - 2}`,
    'unused registers (bits) one read may span between two fields rather than making two reads',
    String(DEFAULT_MAX_GAP),
  ),
  field(
    'connection',
    `one of ${MODBUS_CONNECTIONS.join(', ')}`,
    'per_unit: a connection per unit id; pipelined, shared: one for all units (see Units below)',
    'per_unit',
  ),
  field('units', 'a map', 'settings per unit id (the key)'),
  field('units.<key>.timeout_ms', 'an integer ≥ 1', "this unit's request timeout", "the device's"),
  field('registers', 'a map', 'the register map; each key is a data item id'),
  field(
    `${R}.address`,
    'an integer from 0 to 65535',
    'the first register (coil, input) of the field, 0-based',
    undefined,
    true,
  ),
  field(`${R}.table`, 'one of holding, input, coil, discrete', 'the Modbus table', 'holding'),
  field(`${R}.unit_id`, 'an integer from 0 to 255', 'the unit id', "the device's"),
  field(
    `${R}.type`,
    `one of ${FIELD_TYPES.join(', ')}`,
    'how the registers are read (bool: coils and discrete inputs; bit: one bit of a register)',
    'uint16 (bool for coils, discrete)',
  ),
  field(`${R}.length`, `an integer from 1 to ${MAX_READ_REGISTERS}`, 'string: its registers (two characters each)'),
  field(`${R}.bit`, 'an integer from 0 to 15', 'bit: which bit, 0 the least significant', '0'),
  field(`${R}.byte_order`, 'one of big, little', "big: each register's high byte first", 'big'),
  field(
    `${R}.word_order`,
    'one of big, little',
    'big: the most significant register first (32 and 64-bit types)',
    'big',
  ),
  field(`${R}.scale`, 'a number other than 0', 'value = raw × scale + offset', '1'),
  field(`${R}.offset`, 'a number', 'added after scale', '0'),
  field(`${R}.units`, 'text', 'MTConnect units of the value (CELSIUS, MILLIMETER...)'),
  field(
    `${R}.category`,
    'one of Samples, Events, Condition',
    'the data item category (Condition: non-zero is FAULT)',
    'Samples for numbers, else Events',
  ),
  field(`${R}.tag`, 'text', 'the MTConnect type in PascalCase (the observation TAG)', 'the key in PascalCase'),
  field(`${R}.poll_interval_ms`, 'an integer ≥ 1', "this field's poll interval", "the device's"),
  field(
    `${R}.writable`,
    'true or false',
    'offers the method set_<key> {value}: written, then read back (holding registers and coils)',
    'false',
  ),
  field(`${R}.minimum`, 'a number', 'the smallest value a write may set (engineering units)'),
  field(`${R}.maximum`, 'a number', 'the largest value a write may set (engineering units)'),
]

export const modbusSpec = registerConnector<ModbusDeviceConfig, ModbusConnector>({
  type: 'modbus',
  summary:
    'A Modbus TCP server or gateway: a register map read in the fewest requests, one queue per unit id on a connection of its own or pipelined on one, writable fields as methods verified by read-back.',
  fields: MODBUS_FIELDS,
  parse: parseModbusDevice,
  create: (c: ModbusDeviceConfig, deps: ConnectorDeps) => new ModbusConnector(c, deps),
})
