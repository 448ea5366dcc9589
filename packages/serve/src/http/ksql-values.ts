/**
 * SQL values as ksqlDB's HTTP API writes them in the rows of query answers (`/query`, `/query-stream`), by column
 * type (the engine's values are plain JavaScript: @openfactory/sql `types.ts`):
 *
 * | SQL type                     | engine value                         | in the answer                                   |
 * | ---------------------------- | ------------------------------------ | ----------------------------------------------- |
 * | TIMESTAMP                    | ms since 1970-01-01T00:00:00Z        | `"2021-06-29T14:32:30.000"` (UTC, no zone)      |
 * | DATE                         | days since 1970-01-01                | `"2021-06-29"`                                  |
 * | TIME                         | ms since midnight                    | `"14:32:30"`, `"14:32:30.250"` with its ms      |
 * | BYTES                        | `Uint8Array`                         | base64 text                                     |
 * | MAP<STRING, T>               | `Map`                                | a JSON object                                   |
 * | STRUCT<...>, ARRAY<T>        | object, array                        | a JSON object, an array, their values by type   |
 * | BOOLEAN, INTEGER, BIGINT, DOUBLE, DECIMAL, STRING | as they are     | as they are                                     |
 *
 * (ksqlDB's answers show these forms, e.g. confluentinc/ksql issue 10638 for DATE, TIME and TIMESTAMP.) A column
 * whose type text cannot be read is written by the shape of its values alone (a `Map` as an object, bytes as base64,
 * numbers as numbers).
 */
import type { SqlType, SqlValue } from '@openfactory/sql'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue }

const DAY_MS = 86_400_000

function two(n: number): string {
  return String(n).padStart(2, '0')
}

function timeText(ms: number): string {
  const t = ((ms % DAY_MS) + DAY_MS) % DAY_MS
  const s = Math.floor(t / 1000)
  const text = `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`
  const frac = t % 1000
  return frac === 0 ? text : `${text}.${String(frac).padStart(3, '0')}`
}

/** An ISO date-time of `ms` (UTC), without its zone; undefined past what `Date` holds. */
function timestampText(ms: number): string | undefined {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().slice(0, -1)
}

/**
 * A column's type from its text in a query's header (the engine's own parser reads it: `parseExpression` of the
 * SQL package), or undefined; the last 1000 texts are cached.
 */
export function typeParser(
  parseExpression: (text: string) => { kind: string; type?: SqlType | null },
): (text: string) => SqlType | undefined {
  const cache = new Map<string, SqlType | undefined>()
  return (text) => {
    if (cache.has(text)) return cache.get(text)
    let type: SqlType | undefined
    try {
      const e = parseExpression(`CAST(NULL AS ${text})`)
      type = e.kind === 'CastNode' ? (e.type ?? undefined) : undefined
    } catch {
      type = undefined
    }
    if (cache.size >= 1000) cache.clear()
    cache.set(text, type)
    return type
  }
}

/** One value of type `type` (undefined: not known) as the answer writes it. */
export function wireValue(v: SqlValue, type: SqlType | undefined): JsonValue {
  if (v === null) return null
  if (typeof v === 'number') {
    switch (type?.kind) {
      case 'TIMESTAMP':
        return timestampText(v) ?? v
      case 'DATE':
        return timestampText(v * DAY_MS)?.slice(0, 10) ?? v
      case 'TIME':
        return timeText(v)
      default:
        return v
    }
  }
  if (typeof v !== 'object') return v
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
  if (v instanceof Map) {
    const valueType = type?.kind === 'MAP' ? type.value : undefined
    const out: Record<string, JsonValue> = {}
    for (const [k, x] of v) out[k] = wireValue(x as SqlValue, valueType)
    return out
  }
  if (Array.isArray(v)) {
    const element = type?.kind === 'ARRAY' ? type.element : undefined
    return v.map((x) => wireValue(x as SqlValue, element))
  }
  const fields = type?.kind === 'STRUCT' ? new Map(type.fields.map((f) => [f.name, f.type])) : undefined
  const out: Record<string, JsonValue> = {}
  for (const [k, x] of Object.entries(v)) out[k] = wireValue(x as SqlValue, fields?.get(k))
  return out
}

/** Writes the rows of an answer whose columns have `types` (ksqlDB's type texts, read by `parseType`). */
export function rowWriter(
  types: readonly string[],
  parseType: (text: string) => SqlType | undefined,
): (row: readonly SqlValue[]) => JsonValue[] {
  const parsed = types.map((t) => parseType(t))
  return (row) => row.map((v, i) => wireValue(v, parsed[i]))
}
