/**
 * SQL values as plain JSON data and back (stores and changelogs hold JSON): a MAP becomes `{"$map": [[k, v], ...]}`,
 * BYTES `{"$bytes": "<base64>"}`; everything else is JSON already. And the text a group key is stored under.
 */
import type { SqlValue } from './types.ts'

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
