/**
 * CAST, and the comparisons the operators need, with ksqlDB's semantics (docs: "Scalar functions" § CAST).
 *
 * - `canCast(from, to)` is checked when a statement is created: any type but BYTES to STRING; STRING to BOOLEAN, the
 *   numeric types, DATE, TIME, TIMESTAMP; numeric to numeric; TIMESTAMP to DATE or TIME; DATE to TIMESTAMP; ARRAY,
 *   MAP and STRUCT element by element (a STRUCT takes the target's fields by name, case-sensitively; a field the
 *   source lacks is NULL). A NULL literal (type `null`) casts to anything.
 * - `castValue(value, from, to)` converts at run time. Text that is not a number (or does not fit the type) is an
 *   `OFA_SQL_VALUE` error, which the engine reports per record. Numbers print as the JVM prints them: DOUBLE as
 *   `Double.toString` (`1.0E10`, `20.0`), DECIMAL with its scale (`1.50`); TIMESTAMP as `yyyy-MM-dd'T'HH:mm:ss.SSS`
 *   (UTC), DATE as `yyyy-MM-dd`, TIME as `HH:mm[:ss[.SSS]]`. A string is `true` as a BOOLEAN when it is `true` in any
 *   case, and `false` otherwise. DOUBLE and DECIMAL to INTEGER or BIGINT truncate toward zero (saturating, as Java's
 *   casts); to DECIMAL they round half away from zero and must fit the precision.
 * - `compareValues` orders two non-NULL values for ORDER BY, MIN, MAX, TOPK, ARRAY_SORT; `equalValues` is `=`,
 *   `IN`, DISTINCT and NULLIF between non-NULL values, deep for ARRAY, MAP and STRUCT. NULL at the top level is the
 *   caller's: SQL's three-valued logic (`NULL = x` is NULL, not false) belongs to the expression, not to these.
 *   Nested NULLs (an element of an array) are equal to each other and sort after every value.
 */
import { OpenFactoryError } from '@openfactory/model'
import { DAY_MS, dateText, timestampText, timeText } from './functions/calendar.ts'
import { decimalLimit, doubleToInt, doubleToLong, roundHalfUp } from './functions/numbers.ts'
import {
  base64Text,
  decimalText,
  javaDoubleText,
  parseBigintText,
  parseDateText,
  parseDoubleText,
  parseIntegerText,
  parseTimestampText,
  parseTimeText,
} from './serde/scalar-text.ts'
import { formatType, isNumeric, type SqlStruct, type SqlType, type SqlValue, sameType } from './types.ts'

const FROM_STRING = new Set(['BOOLEAN', 'INTEGER', 'BIGINT', 'DECIMAL', 'DOUBLE', 'TIME', 'DATE', 'TIMESTAMP'])

/** Whether `CAST(x AS to)` is allowed for an `x` of type `from` (`null`: a NULL literal). */
export function canCast(from: SqlType | null, to: SqlType): boolean {
  if (from === null || sameType(from, to)) return true
  if (to.kind === 'STRING') return from.kind !== 'BYTES'
  if (from.kind === 'STRING') return FROM_STRING.has(to.kind)
  if (isNumeric(from)) return isNumeric(to)
  switch (from.kind) {
    case 'TIMESTAMP':
      return to.kind === 'DATE' || to.kind === 'TIME'
    case 'DATE':
      return to.kind === 'TIMESTAMP'
    case 'ARRAY':
      return to.kind === 'ARRAY' && canCast(from.element, to.element)
    case 'MAP':
      return to.kind === 'MAP' && canCast(from.key, to.key) && canCast(from.value, to.value)
    case 'STRUCT':
      return (
        to.kind === 'STRUCT' &&
        to.fields.every((f) => {
          const s = from.fields.find((x) => x.name === f.name)
          return s === undefined || canCast(s.type, f.type)
        })
      )
    default:
      return false
  }
}

function valueError(value: SqlValue, to: SqlType, why?: string): OpenFactoryError {
  const text = typeof value === 'string' ? `'${value}'` : String(value)
  return new OpenFactoryError('OFA_SQL_VALUE', `cannot CAST ${text} AS ${formatType(to)}${why ? `: ${why}` : ''}`)
}

/** `CAST(value AS to)` for a value of type `from`. Throws OFA_SQL_VALUE for a value that cannot be converted. */
export function castValue(value: SqlValue, from: SqlType | null, to: SqlType): SqlValue {
  if (value === null || from === null) return null
  if (from === to) return value
  switch (to.kind) {
    case 'STRING':
      if (from.kind === 'BYTES') break
      return valueText(value, from)
    case 'BOOLEAN':
      if (from.kind === 'BOOLEAN') return value
      if (from.kind === 'STRING') return (value as string).toLowerCase() === 'true'
      break
    case 'INTEGER':
      if (from.kind === 'STRING') {
        const n = parseIntegerText((value as string).trim())
        if (n === undefined) throw valueError(value, to)
        return n
      }
      if (from.kind === 'BIGINT') return (value as number) | 0
      if (isNumeric(from)) return doubleToInt(value as number)
      break
    case 'BIGINT':
      if (from.kind === 'STRING') {
        const n = parseBigintText((value as string).trim())
        if (n === undefined) throw valueError(value, to)
        return n
      }
      if (isNumeric(from)) return doubleToLong(value as number)
      break
    case 'DOUBLE':
      if (from.kind === 'STRING') {
        const n = parseDoubleText(value as string)
        if (n === undefined) throw valueError(value, to)
        return n
      }
      if (isNumeric(from)) return value
      break
    case 'DECIMAL': {
      let n: number
      if (from.kind === 'STRING') {
        const parsed = parseDoubleText(value as string)
        if (parsed === undefined || !Number.isFinite(parsed)) throw valueError(value, to)
        n = parsed
      } else if (isNumeric(from)) {
        n = value as number
        if (!Number.isFinite(n)) throw valueError(value, to)
      } else {
        break
      }
      const r = roundHalfUp(n, to.scale)
      if (Math.abs(r) >= decimalLimit(to.precision, to.scale)) throw valueError(value, to, 'too large for it')
      return r
    }
    case 'TIMESTAMP':
      if (from.kind === 'STRING') {
        const ms = parseTimestampText((value as string).trim())
        if (ms === undefined) throw valueError(value, to, 'not an ISO-8601 date-time')
        return ms
      }
      if (from.kind === 'DATE') return (value as number) * DAY_MS
      break
    case 'DATE':
      if (from.kind === 'STRING') {
        const d = parseDateText((value as string).trim())
        if (d === undefined) throw valueError(value, to, 'not a yyyy-MM-dd date')
        return d
      }
      if (from.kind === 'TIMESTAMP') return Math.floor((value as number) / DAY_MS)
      break
    case 'TIME':
      if (from.kind === 'STRING') {
        const t = parseTimeText((value as string).trim())
        if (t === undefined) throw valueError(value, to, 'not an HH:mm:ss time')
        return t
      }
      if (from.kind === 'TIMESTAMP') {
        const ms = value as number
        return ms - Math.floor(ms / DAY_MS) * DAY_MS
      }
      break
    case 'ARRAY':
      if (from.kind === 'ARRAY') {
        const src = value as readonly SqlValue[]
        const out = new Array<SqlValue>(src.length)
        for (let i = 0; i < src.length; i++) out[i] = castValue(src[i] as SqlValue, from.element, to.element)
        return out
      }
      break
    case 'MAP':
      if (from.kind === 'MAP') {
        const out = new Map<string, SqlValue>()
        const keysToo = !sameType(from.key, to.key)
        for (const [k, v] of value as ReadonlyMap<string, SqlValue>) {
          const key = keysToo ? String(castValue(k, from.key, to.key)) : k
          out.set(key, castValue(v, from.value, to.value))
        }
        return out
      }
      break
    case 'STRUCT':
      if (from.kind === 'STRUCT') {
        const src = value as SqlStruct
        const out: Record<string, SqlValue> = Object.create(null)
        for (const f of to.fields) {
          const s = from.fields.find((x) => x.name === f.name)
          out[f.name] = s === undefined ? null : castValue(src[f.name] ?? null, s.type, f.type)
        }
        return out
      }
      break
    default:
      if (sameType(from, to)) return value
  }
  if (sameType(from, to)) return value
  throw new OpenFactoryError('OFA_SQL_TYPE', `cannot CAST ${formatType(from)} AS ${formatType(to)}`)
}

/**
 * The text of a non-NULL value as ksqlDB's CAST to STRING writes it. Collections as Java prints them: an ARRAY
 * `[1, 2, null]`, a MAP `{a=1, b=2}`, a STRUCT `Struct{A=1,B=x}` (fields that are NULL left out); BYTES (inside a
 * collection) in base64.
 */
export function valueText(value: SqlValue, type: SqlType): string {
  switch (type.kind) {
    case 'STRING':
      return value as string
    case 'BOOLEAN':
      return value ? 'true' : 'false'
    case 'INTEGER':
    case 'BIGINT':
      return String(value)
    case 'DOUBLE':
      return javaDoubleText(value as number)
    case 'DECIMAL':
      return decimalText(value as number, type.scale)
    case 'TIMESTAMP':
      return timestampText(value as number)
    case 'DATE':
      return dateText(value as number)
    case 'TIME':
      return timeText(value as number)
    case 'BYTES':
      return base64Text(value as Uint8Array)
    case 'ARRAY': {
      const parts: string[] = []
      for (const e of value as readonly SqlValue[]) parts.push(e === null ? 'null' : valueText(e, type.element))
      return `[${parts.join(', ')}]`
    }
    case 'MAP': {
      const parts: string[] = []
      for (const [k, v] of value as ReadonlyMap<string, SqlValue>) {
        parts.push(`${k}=${v === null ? 'null' : valueText(v, type.value)}`)
      }
      return `{${parts.join(', ')}}`
    }
    case 'STRUCT': {
      const s = value as SqlStruct
      const parts: string[] = []
      for (const f of type.fields) {
        const v = s[f.name] ?? null
        if (v !== null) parts.push(`${f.name}=${valueText(v, f.type)}`)
      }
      return `Struct{${parts.join(',')}}`
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison

/**
 * Orders two values of one type: negative when `a` comes first, 0 when equal, positive otherwise. Numbers by value
 * (NaN after every number, as Java's `Double.compare`), strings by UTF-16 code units (Java's `String.compareTo`:
 * `'Z' < 'a'`), false before true, BYTES as unsigned bytes, ARRAY element by element then by length, STRUCT field by
 * field in the type's order, MAP by its sorted keys then values. NULL (nested) comes after every value. The type is
 * needed for STRUCT fields' order only; without it the fields are compared in the order of `a`'s keys.
 */
export function compareValues(a: SqlValue, b: SqlValue, type?: SqlType): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  switch (typeof a) {
    case 'number': {
      const y = b as number
      if (a < y) return -1
      if (a > y) return 1
      const an = Number.isNaN(a)
      return an === Number.isNaN(y) ? 0 : an ? 1 : -1
    }
    case 'string':
      return a < (b as string) ? -1 : 1
    case 'boolean':
      return a ? 1 : -1
  }
  if (a instanceof Uint8Array) return Buffer.compare(a, b as Uint8Array)
  if (Array.isArray(a)) {
    const y = b as readonly SqlValue[]
    const element = type?.kind === 'ARRAY' ? type.element : undefined
    const n = Math.min(a.length, y.length)
    for (let i = 0; i < n; i++) {
      const c = compareValues(a[i] as SqlValue, y[i] as SqlValue, element)
      if (c !== 0) return c
    }
    return a.length - y.length
  }
  if (a instanceof Map) {
    const y = b as ReadonlyMap<string, SqlValue>
    const ka = [...a.keys()].sort()
    const kb = [...y.keys()].sort()
    const c = compareValues(ka, kb)
    if (c !== 0) return c
    const value = type?.kind === 'MAP' ? type.value : undefined
    for (const k of ka) {
      const d = compareValues(a.get(k) as SqlValue, y.get(k) ?? null, value)
      if (d !== 0) return d
    }
    return 0
  }
  const x = a as SqlStruct
  const y = b as SqlStruct
  const fields = type?.kind === 'STRUCT' ? type.fields : Object.keys(x).map((name) => ({ name, type: undefined }))
  for (const f of fields) {
    const c = compareValues(x[f.name] ?? null, y[f.name] ?? null, f.type)
    if (c !== 0) return c
  }
  return 0
}

/** Whether two values are equal: numbers by value (NaN equals NaN, 0 equals -0), collections deeply. */
export function equalValues(a: SqlValue, b: SqlValue): boolean {
  if (a === b) return true
  if (a === null || b === null) return false
  if (typeof a === 'number') return typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)
  if (typeof a !== 'object' || typeof b !== 'object') return false
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!equalValues(a[i] as SqlValue, b[i] as SqlValue)) return false
    return true
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false
    for (const [k, v] of a) {
      if (!b.has(k) || !equalValues(v, b.get(k) as SqlValue)) return false
    }
    return true
  }
  if (b instanceof Map || b instanceof Uint8Array || Array.isArray(b)) return false
  const x = a as SqlStruct
  const y = b as SqlStruct
  const kx = Object.keys(x)
  if (kx.length !== Object.keys(y).length) return false
  for (const k of kx) if (!(k in y) || !equalValues(x[k] as SqlValue, y[k] as SqlValue)) return false
  return true
}

/**
 * A text that two values share exactly when `equalValues` says they are equal: the key of a value in a set
 * (ARRAY_DISTINCT, COUNT_DISTINCT, COLLECT_SET). Strings are JSON-quoted, so no other value's key looks like one.
 */
export function valueKey(v: SqlValue): string {
  if (v === null) return 'null'
  switch (typeof v) {
    case 'number':
      return String(v)
    case 'string':
      return JSON.stringify(v)
    case 'boolean':
      return v ? 'true' : 'false'
  }
  if (v instanceof Uint8Array) return `b:${base64Text(v)}`
  if (Array.isArray(v)) return `[${v.map(valueKey).join(',')}]`
  if (v instanceof Map) {
    const keys = [...v.keys()].sort()
    return `m{${keys.map((k) => `${JSON.stringify(k)}:${valueKey(v.get(k) as SqlValue)}`).join(',')}}`
  }
  const s = v as SqlStruct
  const keys = Object.keys(s).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${valueKey(s[k] as SqlValue)}`).join(',')}}`
}
