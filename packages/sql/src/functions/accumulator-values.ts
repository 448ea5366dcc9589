/**
 * SQL values inside aggregate accumulators, which must be plain JSON (the engine persists them with
 * `JSON.stringify`). A codec is chosen per type when the aggregate is created, so that adding a value costs no type
 * test: STRING, BOOLEAN and the integral and date/time types are JSON already; a DOUBLE that is NaN or infinite is
 * held as its name (`'NaN'`, `'Infinity'`, `'-Infinity'`); BYTES, MAP, ARRAY and STRUCT go through `toJsonValue`
 * (values.ts: `{"$bytes": ...}`, `{"$map": [...]}`), where a non-finite DOUBLE nested in them becomes NULL.
 */
import type { SqlType, SqlValue } from '../types.ts'
import { fromJsonValue, type JsonValue, toJsonValue } from '../values.ts'

export type { JsonValue }

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
