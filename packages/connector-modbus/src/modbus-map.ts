/**
 * A `connector.type: modbus` device's register map, typed and checked: what `parse` in modbus-spec.ts returns and
 * the connector runs on.
 *
 * Model's schema only knows the block's outline (`host`, `port`, `unit_id`, each register's `address`); every other
 * rule is here, because only the map as a whole can be judged: two fields of one unit and table must not share a
 * register (bit fields may share one, on different bits), a field must end inside the 65 536 addresses, and one
 * field must fit one read (125 registers, 2000 bits). Every problem is reported at once, each with the device's
 * file and line and the field's path (`devices.plc.connector.registers.temp.address`).
 */
import { connectorConfigError, connectorPath } from '@openfactory/connectors'
import type { DataItemCategory, DeviceConfig, OpenFactoryError, UnsPlacement, Where } from '@openfactory/model'

/** The four Modbus tables, as a device file names them. */
export type ModbusTable = 'coil' | 'discrete' | 'holding' | 'input'
export const MODBUS_TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'holding', 'input']

export type FieldType =
  | 'bool'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float32'
  | 'float64'
  | 'string'
  | 'bit'
export const FIELD_TYPES: readonly FieldType[] = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float32',
  'float64',
  'string',
  'bit',
]

/** Registers a fixed-size type takes (string: its `length`; bool: one coil or discrete input). */
export const TYPE_WORDS: Readonly<Record<Exclude<FieldType, 'string'>, number>> = {
  bool: 1,
  bit: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  float64: 4,
}

export type Order = 'big' | 'little'

/** Protocol limits (Modbus Application Protocol V1.1b3, 6.1-6.4, 6.11-6.12): entries per request. */
export const MAX_READ_REGISTERS = 125
export const MAX_READ_BITS = 2000
export const MAX_WRITE_REGISTERS = 123
export const MAX_WRITE_BITS = 1968
export const ADDRESS_SPACE = 65536

export const DEFAULT_PORT = 502
export const DEFAULT_UNIT_ID = 1
export const DEFAULT_POLL_INTERVAL_MS = 1000
export const DEFAULT_TIMEOUT_MS = 1000
/** Unread registers (or bits) a grouped read may span between two fields, rather than making two requests. */
export const DEFAULT_MAX_GAP = 16

export interface ModbusField {
  /** The data item id (the key in `registers`). */
  readonly id: string
  readonly unitId: number
  readonly table: ModbusTable
  readonly address: number
  readonly type: FieldType
  /** Registers (bits for coils and discrete inputs) the field takes. */
  readonly count: number
  /** `bit`: which bit of the register, 0 the least significant. */
  readonly bit: number
  /** Big: the most significant byte first in each register. */
  readonly byteOrder: Order
  /** Big: the most significant register first. */
  readonly wordOrder: Order
  /** value = raw × scale + offset (numbers only). */
  readonly scale: number
  readonly offset: number
  readonly units?: string
  readonly category: DataItemCategory
  /** The MTConnect type in PascalCase (the observation's TAG). */
  readonly tag: string
  readonly pollIntervalMs: number
  /** Offers the method `set_<id>`. */
  readonly writable: boolean
  /** Engineering-unit bounds a write must respect (besides what the type can hold). */
  readonly minimum?: number
  readonly maximum?: number
  readonly where: Where
}

export interface ModbusUnitSettings {
  readonly unitId: number
  readonly timeoutMs: number
}

/**
 * per_unit: a connection per unit id; pipelined: one connection, each unit's requests in flight beside the others';
 * shared: one connection, one request at a time for every unit (see modbus-client.ts).
 */
export type ModbusConnection = 'per_unit' | 'pipelined' | 'shared'
export const MODBUS_CONNECTIONS: readonly ModbusConnection[] = ['per_unit', 'pipelined', 'shared']

export interface ModbusDeviceConfig {
  readonly uuid: string
  readonly uns?: UnsPlacement
  readonly host: string
  readonly port: number
  readonly connection: ModbusConnection
  readonly maxGap: number
  readonly units: readonly ModbusUnitSettings[]
  readonly fields: readonly ModbusField[]
}

type Block = Record<string, unknown>

const isBlock = (v: unknown): v is Block => typeof v === 'object' && v !== null && !Array.isArray(v)

const BLOCK_KEYS = [
  'type',
  'host',
  'port',
  'unit_id',
  'timeout_ms',
  'poll_interval_ms',
  'max_gap',
  'connection',
  'units',
  'registers',
]
const FIELD_KEYS = [
  'address',
  'table',
  'unit_id',
  'type',
  'length',
  'bit',
  'byte_order',
  'word_order',
  'scale',
  'offset',
  'units',
  'category',
  'tag',
  'poll_interval_ms',
  'writable',
  'minimum',
  'maximum',
]

/** Reads and checks a device's modbus block; throws every problem at once (see `collectProblems`). */
export function readModbusDevice(device: DeviceConfig, problems: OpenFactoryError[]): ModbusDeviceConfig {
  const block = device.connector as unknown as Block
  const base = connectorPath(device)
  const bad = (field: string, message: string) => problems.push(connectorConfigError(device, field, message))
  for (const k of Object.keys(block)) if (!BLOCK_KEYS.includes(k)) bad(k, 'is not a field of a modbus connector')

  const int = (field: string, v: unknown, def: number, min: number, max: number): number => {
    if (v === undefined) return def
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      bad(field, `must be an integer from ${min} to ${max}`)
      return def
    }
    return v
  }
  const num = (field: string, v: unknown, def: number | undefined): number | undefined => {
    if (v === undefined) return def
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      bad(field, 'must be a number')
      return def
    }
    return v
  }
  const oneOf = <T extends string>(field: string, v: unknown, allowed: readonly T[], def: T): T => {
    if (v === undefined) return def
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      bad(field, `must be one of ${allowed.join(', ')}`)
      return def
    }
    return v as T
  }

  const defaultUnit = int('unit_id', block.unit_id, DEFAULT_UNIT_ID, 0, 255)
  const timeoutMs = int('timeout_ms', block.timeout_ms, DEFAULT_TIMEOUT_MS, 1, 600_000)
  const pollMs = int('poll_interval_ms', block.poll_interval_ms, DEFAULT_POLL_INTERVAL_MS, 1, 86_400_000)
  const maxGap = int('max_gap', block.max_gap, DEFAULT_MAX_GAP, 0, MAX_READ_REGISTERS - 2)
  const connection = oneOf('connection', block.connection, MODBUS_CONNECTIONS, 'per_unit')
  const unitTimeouts = new Map<number, number>()
  if (block.units !== undefined) {
    if (!isBlock(block.units)) bad('units', 'must be a map of unit id to {timeout_ms}')
    else {
      for (const [key, u] of Object.entries(block.units)) {
        const id = Number(key)
        if (!/^\d+$/.test(key) || id > 255) {
          bad(`units.${key}`, 'is not a unit id (0-255)')
          continue
        }
        if (!isBlock(u)) {
          bad(`units.${key}`, 'must be a map with timeout_ms')
          continue
        }
        for (const k of Object.keys(u)) if (k !== 'timeout_ms') bad(`units.${key}.${k}`, 'is not a field of a unit')
        unitTimeouts.set(id, int(`units.${key}.timeout_ms`, u.timeout_ms, timeoutMs, 1, 600_000))
      }
    }
  }

  const fields: ModbusField[] = []
  for (const [id, raw] of Object.entries(isBlock(block.registers) ? block.registers : {})) {
    const at = `registers.${id}`
    if (!isBlock(raw)) continue // model's schema already refused it
    const f = (k: string) => `${at}.${k}`
    for (const k of Object.keys(raw)) if (!FIELD_KEYS.includes(k)) bad(f(k), 'is not a field of a register')
    const table = oneOf(f('table'), raw.table, MODBUS_TABLES, 'holding')
    const bits = table === 'coil' || table === 'discrete'
    const type = oneOf(f('type'), raw.type, FIELD_TYPES, bits ? 'bool' : 'uint16')
    if (bits && type !== 'bool') bad(f('type'), `a ${table} holds a bool, not ${type}`)
    if (!bits && type === 'bool')
      bad(f('type'), 'bool is for coils and discrete inputs; a bit of a register is type bit')
    let count = type === 'string' ? 0 : TYPE_WORDS[type]
    if (type === 'string') {
      if (raw.length === undefined) bad(f('length'), 'is required for a string (registers, two characters each)')
      count = int(f('length'), raw.length, 1, 1, MAX_READ_REGISTERS)
    } else if (raw.length !== undefined) bad(f('length'), 'is only for strings')
    if (type !== 'bit' && raw.bit !== undefined) bad(f('bit'), 'is only for type bit')
    const bit = int(f('bit'), raw.bit, 0, 0, 15)
    const address = int(f('address'), raw.address, 0, 0, ADDRESS_SPACE - 1)
    if (address + count > ADDRESS_SPACE) {
      bad(f('address'), `${type} at ${address} takes ${count} registers and ends past address ${ADDRESS_SPACE - 1}`)
    }
    const numeric = type !== 'string' && type !== 'bool' && type !== 'bit'
    for (const k of ['scale', 'offset', 'minimum', 'maximum'] as const) {
      if (!numeric && raw[k] !== undefined) bad(f(k), `is only for numbers, not ${type}`)
    }
    const scale = num(f('scale'), raw.scale, 1) as number
    if (scale === 0) bad(f('scale'), 'must not be 0 (a write could not be scaled back)')
    const minimum = num(f('minimum'), raw.minimum, undefined)
    const maximum = num(f('maximum'), raw.maximum, undefined)
    if (minimum !== undefined && maximum !== undefined && minimum > maximum) bad(f('maximum'), 'is below minimum')
    const writable = raw.writable === undefined ? false : raw.writable
    if (typeof writable !== 'boolean') bad(f('writable'), 'must be true or false')
    if (writable === true && type === 'string' && count > MAX_WRITE_REGISTERS) {
      bad(f('length'), `a writable string takes at most ${MAX_WRITE_REGISTERS} registers (one write)`)
    }
    if (writable === true && (table === 'input' || table === 'discrete')) {
      bad(f('writable'), `a ${table === 'input' ? 'input register' : 'discrete input'} cannot be written`)
    }
    const unitId = int(f('unit_id'), raw.unit_id, defaultUnit, 0, 255)
    if (!unitTimeouts.has(unitId)) unitTimeouts.set(unitId, timeoutMs)
    const units = raw.units
    if (units !== undefined && (typeof units !== 'string' || units === '')) bad(f('units'), 'must be text')
    const tag = raw.tag === undefined ? pascal(id) : raw.tag
    fields.push({
      id,
      unitId,
      table,
      address,
      type,
      count,
      bit,
      byteOrder: oneOf(f('byte_order'), raw.byte_order, ['big', 'little'], 'big'),
      wordOrder: oneOf(f('word_order'), raw.word_order, ['big', 'little'], 'big'),
      scale,
      offset: num(f('offset'), raw.offset, 0) as number,
      ...(typeof units === 'string' && units !== '' ? { units } : {}),
      category: oneOf(f('category'), raw.category, ['Samples', 'Events', 'Condition'], numeric ? 'Samples' : 'Events'),
      tag: String(tag),
      pollIntervalMs: int(f('poll_interval_ms'), raw.poll_interval_ms, pollMs, 1, 86_400_000),
      writable: writable === true,
      ...(minimum !== undefined ? { minimum } : {}),
      ...(maximum !== undefined ? { maximum } : {}),
      where: { ...device.where, path: `${base}.${at}` },
    })
  }
  if (fields.length === 0) bad('registers', 'names no register: a modbus device needs at least one to poll')
  for (const [a, b] of overlaps(fields)) {
    problems.push(
      connectorConfigError(
        device,
        `registers.${b.id}.address`,
        `overlaps registers.${a.id} (unit ${a.unitId}, ${a.table} ${a.address}-${a.address + a.count - 1})`,
      ),
    )
  }
  return {
    uuid: device.uuid,
    ...(device.uns ? { uns: device.uns } : {}),
    host: String(block.host),
    port: typeof block.port === 'number' ? block.port : DEFAULT_PORT,
    connection,
    maxGap,
    units: [...unitTimeouts].sort((x, y) => x[0] - y[0]).map(([unitId, t]) => ({ unitId, timeoutMs: t })),
    fields,
  }
}

/** Pairs of fields of one unit and table that share a register (bit fields on different bits may share one). */
export function overlaps(fields: readonly ModbusField[]): Array<[ModbusField, ModbusField]> {
  const out: Array<[ModbusField, ModbusField]> = []
  const sorted = [...fields].sort(
    (x, y) => x.unitId - y.unitId || x.table.localeCompare(y.table) || x.address - y.address,
  )
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as ModbusField
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as ModbusField
      if (b.unitId !== a.unitId || b.table !== a.table || b.address >= a.address + a.count) break
      if (a.type === 'bit' && b.type === 'bit' && a.bit !== b.bit) continue
      out.push([a, b])
    }
  }
  return out
}

function pascal(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter((s) => s !== '')
    .map((s) => s[0]?.toUpperCase() + s.slice(1))
    .join('')
}
