/**
 * From OPC UA values to observations and back: which data types are Samples (numbers) and which Events (text),
 * a DataValue's value, quality and time, an event's severity as a condition level, and a caller's JSON argument
 * as a Variant of the type the server declared. Pure functions, no session: unit-tested alone (values.test.ts).
 *
 * Rules (the reference's, and ours where it has none):
 * - a variable whose DataType is a number (SByte … Double, Number, Integer, UInteger, Duration) is `Samples`,
 *   its VALUE a JSON number; every other type is `Events`, its VALUE text (Boolean `true`/`false`, DateTime
 *   ISO-8601, LocalizedText its text, ByteString base64, arrays and structures JSON);
 * - StatusCode Good: quality GOOD; Uncertain: the value kept, quality UNCERTAIN (the reference drops it to
 *   UNAVAILABLE; a value the server vouches for less is still the device's); Bad: UNAVAILABLE, quality BAD and
 *   the status name as `reason`;
 * - time: the source timestamp, else the server's, else when we received it;
 * - event Severity (1–1000): 700 and above FAULT, 400 and above WARNING, below NORMAL.
 */
import { type ConditionLevel, isoTimestamp, type Observation, OpenFactoryError, UNAVAILABLE } from '@openfactory/model'
import { DataType, type DataValue, type NodeId, StatusCodes, Variant, VariantArrayType } from 'node-opcua-client'

/** Standard DataType node ids (namespace 0) whose values are numbers. */
const NUMERIC_DATA_TYPE_IDS = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 26, 27, 28, 290])

const NUMERIC_VARIANT_TYPES = new Set<DataType>([
  DataType.SByte,
  DataType.Byte,
  DataType.Int16,
  DataType.UInt16,
  DataType.Int32,
  DataType.UInt32,
  DataType.Int64,
  DataType.UInt64,
  DataType.Float,
  DataType.Double,
])

/**
 * Whether a variable's values are numbers: from its DataType attribute when it is a standard type, else from
 * the value the server holds now (a vendor subtype of Double, say); undefined when neither tells.
 */
export function isNumericVariable(dataType: NodeId | null | undefined, current: Variant | null | undefined): boolean {
  if (dataType && dataType.namespace === 0 && typeof dataType.value === 'number') {
    if (NUMERIC_DATA_TYPE_IDS.has(dataType.value)) return true
    if (dataType.value <= 25) return false
  }
  return current !== null && current !== undefined && isNumericVariant(current)
}

function isNumericVariant(v: Variant): boolean {
  return v.arrayType === VariantArrayType.Scalar && NUMERIC_VARIANT_TYPES.has(v.dataType)
}

/** The builtin type of a standard DataType node (`ns=0;i=11` → Double), else undefined. */
export function builtinTypeOf(dataType: NodeId | null | undefined): DataType | undefined {
  if (dataType?.namespace !== 0 || typeof dataType.value !== 'number') return undefined
  const n = dataType.value
  if (n >= 1 && n <= 25) return n as DataType
  if (n === 290) return DataType.Double
  if (n === 294) return DataType.DateTime
  return undefined
}

/** A 64-bit integer as node-opcua gives it ([high, low] 32-bit words) as a JS number (exact up to 2^53). */
function int64(v: unknown, signed: boolean): number {
  if (!Array.isArray(v) || v.length !== 2) return Number(v)
  const [hi, lo] = v as [number, number]
  const high = signed ? hi | 0 : hi >>> 0
  return high * 4294967296 + (lo >>> 0)
}

function scalarText(type: DataType, v: unknown): unknown {
  if (v === null || v === undefined) return null
  switch (type) {
    case DataType.Int64:
      return int64(v, true)
    case DataType.UInt64:
      return int64(v, false)
    case DataType.DateTime:
      return v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString() : null
    case DataType.ByteString:
      return Buffer.isBuffer(v) ? v.toString('base64') : String(v)
    case DataType.LocalizedText:
      return (v as { text?: string | null }).text ?? ''
    case DataType.QualifiedName:
      return (v as { name?: string | null }).name ?? ''
    case DataType.NodeId:
    case DataType.ExpandedNodeId:
    case DataType.Guid:
    case DataType.StatusCode:
      return String(v)
    default:
      if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
        return (v as { toJSON(): unknown }).toJSON()
      }
      return v
  }
}

/**
 * The VALUE of an observation of a Variant: a number for a numeric scalar of a `Samples` item, text otherwise.
 * Returns undefined for a value a Samples item cannot carry (text where a number was declared) and for nulls.
 */
export function observationValue(v: Variant, samples: boolean): number | string | undefined {
  if (v.dataType === DataType.Null || v.value === null || v.value === undefined) return undefined
  if (v.arrayType !== VariantArrayType.Scalar) {
    if (samples) return undefined
    const items = Array.from(v.value as ArrayLike<unknown>, (x) => scalarText(v.dataType, x))
    return JSON.stringify(items)
  }
  const x = scalarText(v.dataType, v.value)
  if (samples) {
    const n = typeof x === 'number' ? x : Number.NaN
    return Number.isFinite(n) ? n : undefined
  }
  if (x === null) return undefined
  if (typeof x === 'string') return x
  if (typeof x === 'number' || typeof x === 'boolean') return String(x)
  return JSON.stringify(x)
}

/** The name of a status code (`BadNodeIdUnknown`), for reasons and command results. */
export function statusName(code: { name?: string; value?: number } | undefined | null): string {
  if (!code) return 'Bad'
  return code.name ?? `0x${(code.value ?? 0).toString(16).padStart(8, '0')}`
}

export interface ItemDescription {
  readonly id: string
  readonly tag: string
  readonly samples: boolean
}

// The last timestamp written, kept because the changes of one publish response mostly share their source time (a
// server that samples many variables at once stamps them alike): with 10 000 items changed together,
// bench/opcua-ingest.ts spent ≈ 8 % of the client's CPU formatting the same time again (profile in bench/RESULTS.md).
let lastMs = Number.NaN
let lastIso = ''

function timestampOf(ms: number): string {
  if (ms !== lastMs) {
    lastIso = isoTimestamp(ms)
    lastMs = ms
  }
  return lastIso
}

/** The observation of one data change (or constant read) of an item. */
export function dataValueObservation(item: ItemDescription, dv: DataValue, receivedAt: number): Observation {
  const time = dv.sourceTimestamp ?? dv.serverTimestamp
  const ms = time ? time.getTime() : Number.NaN
  const timestamp = timestampOf(Number.isNaN(ms) ? receivedAt : ms)
  const type = item.samples ? 'Samples' : 'Events'
  const status = dv.statusCode ?? StatusCodes.Good
  if (status.isBad()) {
    return {
      id: item.id,
      tag: item.tag,
      type,
      value: UNAVAILABLE,
      attributes: { timestamp, quality: 'BAD', reason: statusName(status) },
    }
  }
  const value = observationValue(dv.value, item.samples)
  if (value === undefined) {
    const what = dv.value.dataType === DataType.Null ? 'no value' : `a ${DataType[dv.value.dataType]} value`
    return {
      id: item.id,
      tag: item.tag,
      type,
      value: UNAVAILABLE,
      attributes: {
        timestamp,
        reason: item.samples ? `${what} where a number was expected` : `${what}`,
      },
    }
  }
  return {
    id: item.id,
    tag: item.tag,
    type,
    value,
    attributes: { timestamp, quality: status.isGood() ? 'GOOD' : 'UNCERTAIN' },
  }
}

/** An OPC UA event Severity (1–1000) as a condition level. */
export function severityLevel(severity: number): Exclude<ConditionLevel, 'UNAVAILABLE'> {
  if (severity >= 700) return 'FAULT'
  if (severity >= 400) return 'WARNING'
  return 'NORMAL'
}

function rejected(name: string, message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_COMMAND_REJECTED', `argument ${name}: ${message}`, {
    where: { path: `arguments.${name}` },
  })
}

const INTEGER_RANGES: Partial<Record<DataType, readonly [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32768, 32767],
  [DataType.UInt16]: [0, 65535],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt32]: [0, 4294967295],
  [DataType.Int64]: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  [DataType.UInt64]: [0, Number.MAX_SAFE_INTEGER],
}

/**
 * A caller's argument as a Variant of the builtin type the server declared. Numbers may come as JSON numbers
 * or numeric text (reference clients send text), booleans as true/false or their text; anything that does not
 * fit the type (a fraction for an Int32, 300 for a Byte) is refused naming the argument.
 */
export function toVariant(name: string, type: DataType, value: unknown): Variant {
  const range = INTEGER_RANGES[type]
  if (range || type === DataType.Float || type === DataType.Double) {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
    if (!Number.isFinite(n)) return fail(name, `expected a number (${DataType[type]}), got ${JSON.stringify(value)}`)
    if (range) {
      if (!Number.isInteger(n)) return fail(name, `expected an integer (${DataType[type]}), got ${n}`)
      if (n < range[0] || n > range[1])
        return fail(name, `${n} is outside ${DataType[type]} (${range[0]}..${range[1]})`)
      if (type === DataType.Int64 || type === DataType.UInt64) {
        const hi = Math.floor(n / 4294967296)
        return new Variant({ dataType: type, value: [hi, n - hi * 4294967296] })
      }
    }
    return new Variant({ dataType: type, value: n })
  }
  switch (type) {
    case DataType.Boolean: {
      if (value === true || value === 'true') return new Variant({ dataType: type, value: true })
      if (value === false || value === 'false') return new Variant({ dataType: type, value: false })
      return fail(name, `expected true or false, got ${JSON.stringify(value)}`)
    }
    case DataType.String:
      if (typeof value === 'string') return new Variant({ dataType: type, value })
      if (typeof value === 'number' || typeof value === 'boolean')
        return new Variant({ dataType: type, value: String(value) })
      return fail(name, `expected text, got ${JSON.stringify(value)}`)
    case DataType.LocalizedText:
      if (typeof value === 'string') return new Variant({ dataType: type, value: { text: value } })
      return fail(name, `expected text, got ${JSON.stringify(value)}`)
    case DataType.DateTime: {
      const d = typeof value === 'string' || typeof value === 'number' ? new Date(value) : null
      if (!d || Number.isNaN(d.getTime())) return fail(name, `expected an ISO-8601 time, got ${JSON.stringify(value)}`)
      return new Variant({ dataType: type, value: d })
    }
    default:
      return fail(name, `the server's type ${DataType[type] ?? type} is not one a command can carry`)
  }
}

function fail(name: string, message: string): never {
  throw rejected(name, message)
}

/** A Variant as JSON for a command's result: numbers as numbers, the rest as an observation's text would be. */
export function jsonValue(v: Variant): unknown {
  if (v.arrayType === VariantArrayType.Scalar && NUMERIC_VARIANT_TYPES.has(v.dataType)) {
    return observationValue(v, true) ?? null
  }
  if (v.dataType === DataType.Boolean && v.arrayType === VariantArrayType.Scalar) return v.value === true
  return observationValue(v, false) ?? null
}
