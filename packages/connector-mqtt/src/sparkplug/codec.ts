/**
 * Sparkplug B payloads (Eclipse Sparkplug 3.0, chapter 6): a Protocol Buffers message `Payload {timestamp, metrics,
 * seq, uuid, body}`, each metric `{name, alias, timestamp, datatype, is_historical, is_transient, is_null, value}`
 * where the value is one of int_value (uint32: Int8/16/32 in two's complement, UInt8/16/32), long_value (uint64:
 * Int64, UInt64, DateTime), float_value, double_value, boolean_value, string_value (String, Text, UUID),
 * bytes_value. Our schema is proto/sparkplug_b.proto, loaded here by protobufjs's reflection (no generated code).
 */
import { readFileSync } from 'node:fs'
import protobuf from 'protobufjs'

const PROTO = new URL('../../proto/sparkplug_b.proto', import.meta.url)
const root = protobuf.parse(readFileSync(PROTO, 'utf8'), { keepCase: true }).root
const PayloadType = root.lookupType('openfactory.sparkplug_b.Payload')

/** Sparkplug data types (specification 6.4.16). */
export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  Bytes: 17,
  File: 18,
} as const

export interface SparkplugMetric {
  name?: string
  alias?: number
  timestamp?: number
  datatype?: number
  is_null?: boolean
  int_value?: number
  long_value?: number
  float_value?: number
  double_value?: number
  boolean_value?: boolean
  string_value?: string
  bytes_value?: Uint8Array
}

export interface SparkplugPayload {
  timestamp?: number
  seq?: number
  metrics: SparkplugMetric[]
}

/** Decodes a payload; throws (protobufjs's error) when the bytes are not one. 64-bit values become numbers. */
export function decodePayload(bytes: Uint8Array): SparkplugPayload {
  const msg = PayloadType.decode(bytes)
  const o = PayloadType.toObject(msg, { longs: Number, defaults: false }) as SparkplugPayload
  o.metrics ??= []
  return o
}

export function encodePayload(p: SparkplugPayload): Uint8Array {
  return PayloadType.encode(PayloadType.fromObject(p)).finish()
}

/** True for the data types read as numbers (Samples). */
export function isNumeric(datatype: number | undefined): boolean {
  return datatype !== undefined && datatype >= 1 && datatype <= 10
}

/**
 * A metric's value as an observation value: numbers for the numeric types (Int8/16/32 sign-extended from their bits),
 * `true`/`false`, text, ISO-8601 for DateTime, base64 for Bytes/File; undefined when it has none (is_null, no value).
 */
export function metricValue(m: SparkplugMetric, datatype: number | undefined): number | string | undefined {
  if (m.is_null) return undefined
  switch (datatype) {
    case DataType.Int8:
      return m.int_value === undefined ? undefined : (m.int_value << 24) >> 24
    case DataType.Int16:
      return m.int_value === undefined ? undefined : (m.int_value << 16) >> 16
    case DataType.Int32:
      return m.int_value === undefined ? undefined : m.int_value | 0
    case DataType.UInt8:
    case DataType.UInt16:
    case DataType.UInt32:
      return m.int_value === undefined ? undefined : m.int_value >>> 0
    case DataType.Int64:
    case DataType.UInt64:
      return m.long_value
    case DataType.Float:
      return m.float_value
    case DataType.Double:
      return m.double_value
    case DataType.Boolean:
      return m.boolean_value === undefined ? undefined : String(m.boolean_value)
    case DataType.DateTime:
      return m.long_value === undefined ? undefined : new Date(m.long_value).toISOString()
    case DataType.Bytes:
    case DataType.File:
      return m.bytes_value === undefined ? undefined : Buffer.from(m.bytes_value).toString('base64')
    default:
      return m.string_value
  }
}

/** The value fields of a metric of `datatype` holding `value` (for NCMD/DCMD); undefined when it does not fit. */
export function metricFields(datatype: number, value: unknown): Partial<SparkplugMetric> | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  const int = (min: number, max: number) =>
    Number.isInteger(n) && n >= min && n <= max ? { int_value: n >>> 0 } : undefined
  switch (datatype) {
    case DataType.Int8:
      return int(-128, 127)
    case DataType.Int16:
      return int(-32768, 32767)
    case DataType.Int32:
      return int(-(2 ** 31), 2 ** 31 - 1)
    case DataType.UInt8:
      return int(0, 255)
    case DataType.UInt16:
      return int(0, 65535)
    case DataType.UInt32:
      return int(0, 2 ** 32 - 1)
    case DataType.Int64:
    case DataType.UInt64:
      return Number.isSafeInteger(n) && (datatype === DataType.Int64 || n >= 0) ? { long_value: n } : undefined
    case DataType.Float:
      return Number.isFinite(n) ? { float_value: n } : undefined
    case DataType.Double:
      return Number.isFinite(n) ? { double_value: n } : undefined
    case DataType.Boolean:
      return typeof value === 'boolean'
        ? { boolean_value: value }
        : value === 'true' || value === 'false'
          ? { boolean_value: value === 'true' }
          : undefined
    case DataType.String:
    case DataType.Text:
    case DataType.UUID:
      return typeof value === 'string' ? { string_value: value } : undefined
    default:
      return undefined
  }
}
