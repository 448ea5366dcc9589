/**
 * SQL values as plain JSON data and back (stores, changelogs and aggregate accumulators hold JSON): a MAP becomes
 * `{"$map": [[k, v], ...]}`, BYTES `{"$bytes": "<base64>"}`; everything else is JSON already (a non-finite DOUBLE
 * nested in a value becomes NULL when written). And the text a group key is stored under.
 */
import type { SqlType, SqlValue } from './types.ts'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue }

export function toJsonValue(v: SqlValue): JsonValue {
  if (v === null || typeof v !== 'object') return v
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [k, toJsonValue(x)]) }
  if (Array.isArray(v)) return v.map(toJsonValue)
  const out: Record<string, JsonValue> = {}
  for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x as SqlValue)
  return out
}

export function fromJsonValue(v: JsonValue): SqlValue {
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(fromJsonValue)
  if (typeof v.$bytes === 'string' && Object.keys(v).length === 1)
    return new Uint8Array(Buffer.from(v.$bytes, 'base64'))
  if (Array.isArray(v.$map) && Object.keys(v).length === 1) {
    return new Map((v.$map as [string, JsonValue][]).map(([k, x]) => [k, fromJsonValue(x)]))
  }
  const out: Record<string, SqlValue> = Object.create(null)
  for (const [k, x] of Object.entries(v)) out[k] = fromJsonValue(x)
  return out
}

/** The store key of a group: its values as JSON text (one key, one text). */
export function groupKeyText(values: readonly SqlValue[]): string {
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : JSON.stringify(values.map(toJsonValue))
}

// ---------------------------------------------------------------------------------------------------------------
// Values inside aggregate accumulators

/**
 * A codec is chosen per type when an aggregate is created, so that adding a value costs no type test: STRING,
 * BOOLEAN and the integral and date/time types are JSON already; a DOUBLE that is NaN or infinite is held as its name
 * (`'NaN'`, `'Infinity'`, `'-Infinity'`); BYTES, MAP, ARRAY and STRUCT go through `toJsonValue`.
 */
export interface ValueCodec {
  readonly encode: (v: SqlValue) => JsonValue
  readonly decode: (j: JsonValue) => SqlValue
}

/** A double as JSON: itself, or the name of a non-finite one. */
export function encodeDouble(x: number): number | string {
  return Number.isFinite(x) ? x : String(x)
}

export function decodeDouble(j: JsonValue): number {
  return typeof j === 'number' ? j : Number(j)
}

const IDENTITY: ValueCodec = {
  encode: (v) => v as JsonValue,
  decode: (j) => j as SqlValue,
}

const DOUBLE: ValueCodec = {
  encode: (v) => (typeof v === 'number' ? encodeDouble(v) : (v as JsonValue)),
  decode: (j) => (j === null ? null : decodeDouble(j)),
}

const STRUCTURED: ValueCodec = { encode: toJsonValue, decode: fromJsonValue }

/** The codec of values of a type (`null`: the type of NULL, whose values are all NULL). */
export function codecOf(type: SqlType | null | undefined): ValueCodec {
  switch (type?.kind) {
    case 'DOUBLE':
      return DOUBLE
    case 'BYTES':
    case 'ARRAY':
    case 'MAP':
    case 'STRUCT':
      return STRUCTURED
    default:
      return IDENTITY
  }
}
