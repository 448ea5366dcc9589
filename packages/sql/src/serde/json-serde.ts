/**
 * The JSON format, read and written as ksqlDB reads and writes it (reference: docs.ksqldb.io, "Serialization
 * formats" § JSON and § "Single field (un)wrapping").
 *
 * Shape. The bytes are UTF-8 JSON text. Several columns are the fields of one JSON object. One column is a field of
 * an object too, unless it is a key (a single key column is always the bare JSON value: `"abc"`, `12`, or for a
 * STRUCT key the struct's object) or a value with `WRAP_SINGLE_VALUE=false` (the bare value as well). The JSON
 * literal `null` is the same as null bytes: no row (a tombstone value, a null key).
 *
 * Reading. Each column takes the object's field of the same name; when there is none, the first field whose name
 * matches without regard to case (`attributes` fills ATTRIBUTES). Fields the object lacks are NULL; fields the
 * columns lack are ignored. STRUCT fields are matched the same way, at any depth. A value is coerced to its
 * column's type as ksqlDB's reader does:
 *
 * | SQL type        | JSON accepted                                                                        |
 * | --------------- | ------------------------------------------------------------------------------------ |
 * | BOOLEAN         | `true`, `false`                                                                      |
 * | INTEGER, BIGINT | a number (the fraction dropped toward zero) or a string of digits; out of range: error |
 * | DOUBLE          | a number, or a string Java's `Double.parseDouble` reads (`"1.5"`, `"NaN"`)           |
 * | DECIMAL(p, s)   | a number or a numeric string that fits without rounding                             |
 * | STRING          | a string; a number, boolean, object or array becomes text (below)                   |
 * | BYTES           | a base64 string                                                                     |
 * | TIMESTAMP       | a number of ms, a string of digits, or an ISO-8601 date-time (UTC if no zone)       |
 * | DATE            | a number of days, a string of digits, or `yyyy-MM-dd`                               |
 * | TIME            | a number of ms since midnight, a string of digits, or `HH:mm[:ss[.fff]]`            |
 * | ARRAY<T>        | an array                                                                            |
 * | MAP<STRING, T>  | an object                                                                           |
 * | STRUCT<...>     | an object                                                                           |
 *
 * Text of non-strings read into STRING: a number keeps the text ksqlDB gives it (see `bigDecimalText`: `12.5` is
 * `'12.5'`, `20.0` is `'20.0'`, `1e3` is `'1E+3'`), a boolean is `'true'`/`'false'`, an object is its compact JSON
 * text, an array is its elements as text, each as if read into STRING, between `[` and `]` and separated by `, `.
 * Anything else that does not fit is an `OFA_SQL_VALUE` error naming the JSON path (`$.ATTRIBUTES.x`, `$[2]`).
 *
 * Writing. Column names as declared (upper case unless quoted), every column written (NULL as `null`), STRUCT
 * fields as declared and in order; BOOLEAN, INTEGER, BIGINT as JSON literals; DOUBLE as Java's `Double.toString`
 * writes it (`20.0`, `1.0E7`; NaN and the infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`); DECIMAL as
 * a number with exactly s fractional digits; STRING as a JSON string; BYTES as base64; TIMESTAMP and TIME as ms,
 * DATE as days; ARRAY as an array, MAP and STRUCT as objects. A bare single value that is NULL writes no bytes
 * (null), as ksqlDB does.
 *
 * Speed. A record is parsed once by `JSON.parse`, then its fields are looked up by name through tables built when
 * the serde is created. Only the text of a number read into STRING needs the number as written: when the columns
 * have a STRING anywhere, the text is scanned first (`hasInexactNumber`), and only a record holding a number that
 * JavaScript would print differently (`20.0`, `1e3`) is parsed again keeping number texts.
 */
import type { SqlStruct, SqlType, SqlValue } from '../types.ts'
import { formatType } from '../types.ts'
import {
  base64Text,
  bigDecimalText,
  decimalText,
  inInt32,
  inInt64,
  javaDoubleText,
  parseBase64Text,
  parseBigintText,
  parseDateText,
  parseDecimalText,
  parseDoubleText,
  parseIntegerText,
  parseTimestampText,
  parseTimeText,
} from './scalar-text.ts'
import type { Serde, SerdeColumn, SerdeOptions } from './serde.ts'
import {
  CoercionFailure,
  fieldStep,
  type SerdeRole,
  serdeEncodeError,
  serdeUnsupported,
  serdeValueError,
} from './serde-error.ts'

// Slot codes: one per SQL type, compared as small integers on the hot path.
const BOOLEAN = 0
const INTEGER = 1
const BIGINT = 2
const DOUBLE = 3
const DECIMAL = 4
const STRING = 5
const BYTES = 6
const TIMESTAMP = 7
const DATE = 8
const TIME = 9
const ARRAY = 10
const MAP = 11
const STRUCT = 12

const CODES: Readonly<Record<SqlType['kind'], number>> = {
  BOOLEAN,
  INTEGER,
  BIGINT,
  DOUBLE,
  DECIMAL,
  STRING,
  BYTES,
  TIMESTAMP,
  DATE,
  TIME,
  ARRAY,
  MAP,
  STRUCT,
}

/** A type compiled for reading and writing: what the coercion switches on. */
interface Slot {
  readonly code: number
  /** The type as ksqlDB spells it, for messages. */
  readonly label: string
  /** ARRAY's element, MAP's value. */
  readonly element: Slot | null
  /** STRUCT's fields. */
  readonly fields: FieldTable | null
  readonly precision: number
  readonly scale: number
}

/** The named fields of an object (the columns of a wrapped key or value, or a STRUCT's fields). */
interface FieldTable {
  readonly names: readonly string[]
  readonly slots: readonly Slot[]
  /** `"NAME":` with `{` before the first and `,` before the others: what the writer emits before each value. */
  readonly prefixes: readonly string[]
  /** JSONPath steps for messages: `.NAME`. */
  readonly steps: readonly string[]
  /** The names as declared: keys equal to one of them were matched in the exact pass. */
  readonly exact: ReadonlySet<string>
  /** Lower-case name → the fields of that lower-case name, for the case-insensitive pass. */
  readonly lower: ReadonlyMap<string, readonly number[]>
  /** Names every object inherits (`constructor`, `toString`, `__proto__`): these are looked up as own properties. */
  readonly inherited: readonly boolean[]
}

function compileSlot(t: SqlType, where: string): Slot {
  const code = CODES[t.kind]
  let element: Slot | null = null
  let fields: FieldTable | null = null
  if (t.kind === 'ARRAY') element = compileSlot(t.element, `${where}[]`)
  else if (t.kind === 'MAP') {
    if (t.key.kind !== 'STRING') {
      throw serdeUnsupported(
        `the JSON format carries only MAPs with STRING keys (JSON object keys are text), not ${formatType(t)} (${where})`,
      )
    }
    element = compileSlot(t.value, `${where}{}`)
  } else if (t.kind === 'STRUCT') fields = compileFields(t.fields, where)
  return Object.freeze({
    code,
    label: formatType(t),
    element,
    fields,
    precision: t.kind === 'DECIMAL' ? t.precision : 0,
    scale: t.kind === 'DECIMAL' ? t.scale : 0,
  })
}

function compileFields(columns: readonly SerdeColumn[], where: string): FieldTable {
  const lower = new Map<string, number[]>()
  columns.forEach((c, i) => {
    const k = c.name.toLowerCase()
    const at = lower.get(k)
    if (at) at.push(i)
    else lower.set(k, [i])
  })
  return Object.freeze({
    names: columns.map((c) => c.name),
    slots: columns.map((c) => compileSlot(c.type, where === '' ? `column ${c.name}` : `${where}.${c.name}`)),
    prefixes: columns.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`),
    steps: columns.map((c) => fieldStep(c.name)),
    exact: new Set(columns.map((c) => c.name)),
    lower,
    inherited: columns.map((c) => c.name in Object.prototype),
  })
}

function hasString(s: Slot): boolean {
  if (s.code === STRING) return true
  if (s.element) return hasString(s.element)
  if (s.fields) return s.fields.slots.some(hasString)
  return false
}

/** A JSON number whose text JavaScript would not give back (`20.0`, `1e3`, `-0`): its value and its text. */
class SourcedNumber {
  readonly value: number
  readonly text: string
  constructor(value: number, text: string) {
    this.value = value
    this.text = text
  }
}

/** `JSON.parse` reviver keeping the text of the numbers that JavaScript would print differently. */
function keepNumberText(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || context?.source === undefined) return value
  return String(value) === context.source ? value : new SourcedNumber(value, context.source)
}

/**
 * Whether JSON text holds a number (outside strings) whose text differs from JavaScript's for the same value, so
 * that only such records pay for `keepNumberText`. Strings are skipped with `indexOf`, minding escaped quotes.
 */
export function hasInexactNumber(t: string): boolean {
  const n = t.length
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i)
    if (c === 34) {
      // a string: find its closing quote, one not preceded by an odd number of backslashes
      let j = t.indexOf('"', i + 1)
      while (j > 0 && t.charCodeAt(j - 1) === 92) {
        let k = j - 2
        while (k > i && t.charCodeAt(k) === 92) k--
        if ((j - 1 - k) % 2 === 0) break
        j = t.indexOf('"', j + 1)
      }
      if (j < 0) return false // not JSON: JSON.parse will say so
      i = j
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      let j = i + 1
      let plain = true // digits only: canonical when short (JSON has no leading zeros)
      for (; j < n; j++) {
        const d = t.charCodeAt(j)
        if (d >= 48 && d <= 57) continue
        if (d === 46 || d === 101 || d === 69 || d === 43 || d === 45) plain = false
        else break
      }
      if (!(plain && c !== 45 && j - i < 16)) {
        const token = t.slice(i, j)
        if (String(Number(token)) !== token) return true
      }
      i = j - 1
    }
  }
  return false
}

function describe(v: unknown): string {
  if (typeof v === 'string') return 'a string'
  if (typeof v === 'number' || v instanceof SourcedNumber) return 'a number'
  if (typeof v === 'boolean') return 'a boolean'
  if (Array.isArray(v)) return 'an array'
  return 'an object'
}

function cannot(v: unknown, s: Slot, why?: string): CoercionFailure {
  return new CoercionFailure(`cannot read ${describe(v)} as ${s.label}${why ? ` (${why})` : ''}`)
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' ? v : v instanceof SourcedNumber ? v.value : undefined
}

/** The text of a JSON number as ksqlDB gives it (see `bigDecimalText`); JavaScript's text is the same when plain. */
function numberText(v: number | SourcedNumber): string {
  if (typeof v !== 'number') return bigDecimalText(v.text)
  const s = String(v)
  return s.includes('e') ? bigDecimalText(s) : s
}

/** The STRING of a JSON value that is not a string (see the header: ksqlDB's text of numbers, objects, arrays). */
function textOf(v: unknown): string {
  if (typeof v === 'number' || v instanceof SourcedNumber) return numberText(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) {
      const e = v[i]
      if (i > 0) out += ', '
      out += e === null ? 'null' : typeof e === 'string' ? e : textOf(e)
    }
    return `${out}]`
  }
  return jsonText(v)
}

/** Compact JSON text of a parsed JSON value, numbers as ksqlDB writes them back. */
function jsonText(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number' || v instanceof SourcedNumber) return numberText(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + jsonText(v[i])
    return `${out}]`
  }
  const o = v as Record<string, unknown>
  let out = '{'
  let first = true
  for (const k in o) {
    out += `${first ? '' : ','}${JSON.stringify(k)}:${jsonText(o[k])}`
    first = false
  }
  return `${out}}`
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof SourcedNumber)
}

/**
 * The JSON values of the fields of a table in an object, in field order (undefined where missing): exact names
 * first, then, for the fields still missing, the first key equal to the name without regard to case.
 */
function matchFields(o: Record<string, unknown>, t: FieldTable): unknown[] {
  const names = t.names
  const n = names.length
  const raw = new Array<unknown>(n)
  let missing = 0
  for (let i = 0; i < n; i++) {
    const name = names[i] as string
    const v = t.inherited[i] ? (Object.hasOwn(o, name) ? o[name] : undefined) : o[name]
    raw[i] = v
    if (v === undefined) missing++
  }
  if (missing > 0) {
    for (const k in o) {
      if (t.exact.has(k)) continue
      const at = t.lower.get(k) ?? t.lower.get(k.toLowerCase())
      if (at === undefined) continue
      for (const i of at) {
        if (raw[i] === undefined) {
          raw[i] = o[k]
          missing--
        }
      }
      if (missing === 0) break
    }
  }
  return raw
}

/** The SQL values of an object's fields (in place of the raw array), each coerced to its slot. */
function readFields(o: Record<string, unknown>, t: FieldTable): SqlValue[] {
  const out = matchFields(o, t) as SqlValue[]
  let i = 0
  try {
    for (; i < out.length; i++) {
      const v = out[i]
      out[i] = v === undefined ? null : coerce(v, t.slots[i] as Slot)
    }
  } catch (e) {
    if (e instanceof CoercionFailure) e.path.unshift(t.steps[i] as string)
    throw e
  }
  return out
}

/** A parsed JSON value as a SQL value of a slot's type, or a `CoercionFailure`. */
function coerce(v: unknown, s: Slot): SqlValue {
  if (v === null) return null
  switch (s.code) {
    case STRING:
      return typeof v === 'string' ? v : textOf(v)
    case BOOLEAN:
      if (typeof v === 'boolean') return v
      throw cannot(v, s)
    case INTEGER:
    case BIGINT: {
      const n = numberOf(v)
      if (n !== undefined) {
        const t = Math.trunc(n)
        if (s.code === INTEGER ? inInt32(t) : inInt64(t)) return t === 0 ? 0 : t
        throw cannot(v, s, 'out of range')
      }
      if (typeof v === 'string') {
        const p = s.code === INTEGER ? parseIntegerText(v) : parseBigintText(v)
        if (p !== undefined) return p
        throw cannot(v, s, s.code === INTEGER ? 'not a 32-bit integer' : 'not a 64-bit integer')
      }
      throw cannot(v, s)
    }
    case DOUBLE: {
      const n = numberOf(v)
      if (n !== undefined) return n
      if (typeof v === 'string') {
        const p = parseDoubleText(v)
        if (p !== undefined) return p
        throw cannot(v, s, 'not a number')
      }
      throw cannot(v, s)
    }
    case DECIMAL: {
      let text: string
      if (typeof v === 'number') text = String(v)
      else if (v instanceof SourcedNumber) text = v.text
      else if (typeof v === 'string') text = v
      else throw cannot(v, s)
      const d = parseDecimalText(text, s.precision, s.scale)
      if (typeof d === 'number') return d
      throw cannot(v, s, d)
    }
    case BYTES:
      if (typeof v === 'string') {
        const b = parseBase64Text(v)
        if (b !== undefined) return b
        throw cannot(v, s, 'not base64')
      }
      throw cannot(v, s)
    case TIMESTAMP:
    case DATE:
    case TIME: {
      const n = numberOf(v)
      if (n !== undefined) {
        const t = Math.trunc(n)
        if (s.code === TIME ? t >= 0 && t < 86_400_000 : Number.isSafeInteger(t)) return t === 0 ? 0 : t
        throw cannot(v, s, 'out of range')
      }
      if (typeof v === 'string') {
        const p = s.code === TIMESTAMP ? parseTimestampText(v) : s.code === DATE ? parseDateText(v) : parseTimeText(v)
        if (p !== undefined) return p
        throw cannot(
          v,
          s,
          s.code === TIMESTAMP
            ? 'neither milliseconds nor an ISO-8601 date-time'
            : s.code === DATE
              ? 'neither days nor yyyy-MM-dd'
              : 'neither milliseconds of the day nor HH:mm:ss',
        )
      }
      throw cannot(v, s)
    }
    case ARRAY: {
      if (!Array.isArray(v)) throw cannot(v, s)
      const el = s.element as Slot
      const out = new Array<SqlValue>(v.length)
      let i = 0
      try {
        for (; i < v.length; i++) out[i] = coerce(v[i], el)
      } catch (e) {
        if (e instanceof CoercionFailure) e.path.unshift(`[${i}]`)
        throw e
      }
      return out
    }
    case MAP: {
      if (!isObject(v)) throw cannot(v, s)
      const el = s.element as Slot
      const out = new Map<string, SqlValue>()
      let key = ''
      try {
        for (key in v) out.set(key, coerce(v[key], el))
      } catch (e) {
        if (e instanceof CoercionFailure) e.path.unshift(fieldStep(key))
        throw e
      }
      return out
    }
    case STRUCT: {
      if (!isObject(v)) throw cannot(v, s)
      const t = s.fields as FieldTable
      const values = readFields(v, t)
      const out: Record<string, SqlValue> = Object.create(null)
      for (let i = 0; i < values.length; i++) out[t.names[i] as string] = values[i] as SqlValue
      return out as SqlStruct
    }
    default:
      throw new CoercionFailure(`unknown type ${s.label}`)
  }
}

/** Compact JSON text of a SQL value of a slot's type, or a `CoercionFailure` when the value is not of the type. */
function write(v: SqlValue | undefined, s: Slot): string {
  if (v === null || v === undefined) return 'null'
  switch (s.code) {
    case STRING:
      if (typeof v === 'string') return JSON.stringify(v)
      break
    case BOOLEAN:
      if (typeof v === 'boolean') return v ? 'true' : 'false'
      break
    case INTEGER:
    case BIGINT:
    case TIMESTAMP:
    case DATE:
    case TIME:
      if (typeof v === 'number' && Number.isInteger(v)) return String(v)
      break
    case DOUBLE:
      if (typeof v === 'number') return Number.isFinite(v) ? javaDoubleText(v) : `"${javaDoubleText(v)}"`
      break
    case DECIMAL:
      if (typeof v === 'number' && Number.isFinite(v)) return decimalText(v, s.scale)
      break
    case BYTES:
      if (v instanceof Uint8Array) return `"${base64Text(v)}"`
      break
    case ARRAY:
      if (Array.isArray(v)) {
        const el = s.element as Slot
        let out = '['
        let i = 0
        try {
          for (; i < v.length; i++) out += (i > 0 ? ',' : '') + write(v[i], el)
        } catch (e) {
          if (e instanceof CoercionFailure) e.path.unshift(`[${i}]`)
          throw e
        }
        return `${out}]`
      }
      break
    case MAP:
      if (v instanceof Map) {
        const el = s.element as Slot
        let out = '{'
        let key = ''
        try {
          for (const [k, x] of v as ReadonlyMap<string, SqlValue>) {
            key = k
            out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${write(x, el)}`
          }
        } catch (e) {
          if (e instanceof CoercionFailure) e.path.unshift(fieldStep(key))
          throw e
        }
        return `${out}}`
      }
      break
    case STRUCT:
      if (typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Uint8Array)) {
        return writeFields(v as SqlStruct, s.fields as FieldTable)
      }
      break
  }
  throw new CoercionFailure(`${writtenKind(v)} is not of type ${s.label}`)
}

function writtenKind(v: SqlValue): string {
  if (v instanceof Uint8Array) return 'bytes'
  if (v instanceof Map) return 'a map'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'a struct' : `${typeof v} ${String(v).slice(0, 40)}`
}

/** A STRUCT as an object: its fields as declared, in order, absent ones as null. */
function writeFields(o: SqlStruct, t: FieldTable): string {
  const names = t.names
  if (names.length === 0) return '{}'
  let out = ''
  let i = 0
  try {
    for (; i < names.length; i++) {
      const x = o[names[i] as string]
      out += (t.prefixes[i] as string) + write(typeof x === 'function' ? null : x, t.slots[i] as Slot)
    }
  } catch (e) {
    if (e instanceof CoercionFailure) e.path.unshift(t.steps[i] as string)
    throw e
  }
  return `${out}}`
}

/** The columns of a row as an object: one field per column, in column order. */
function writeRow(values: readonly SqlValue[], t: FieldTable): string {
  const n = t.names.length
  let out = ''
  let i = 0
  try {
    for (; i < n; i++) out += (t.prefixes[i] as string) + write(values[i], t.slots[i] as Slot)
  } catch (e) {
    if (e instanceof CoercionFailure) e.path.unshift(t.steps[i] as string)
    throw e
  }
  return `${out}}`
}

function pathOf(f: CoercionFailure): string {
  return `$${f.path.join('')}`
}

/** V8's `JSON.parse` message without the excerpt of the text it quotes (a record may be confidential). */
function parseMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e)
  return m.replace(/,? ?"[\s\S]*" is not valid JSON$/, ' (not valid JSON)')
}

export function createJsonSerde(columns: readonly SerdeColumn[], options: SerdeOptions): Serde {
  const role: SerdeRole = options.role
  const bare = columns.length === 1 && (role === 'key' || options.wrapSingleValue === false)
  const table = compileFields(columns, '')
  const single = table.slots[0] as Slot
  const scan = table.slots.some(hasString)
  const fail = (f: CoercionFailure): Error => serdeValueError('JSON', role, `${f.what} at ${pathOf(f)}`)
  return {
    format: 'JSON',
    decode(bytes) {
      if (bytes === null || bytes.length === 0) return null
      const text = bytes.toString('utf8')
      let doc: unknown
      try {
        doc = scan && hasInexactNumber(text) ? JSON.parse(text, keepNumberText) : JSON.parse(text)
      } catch (e) {
        throw serdeValueError('JSON', role, `not JSON: ${parseMessage(e)}`)
      }
      if (doc === null) return null
      try {
        if (bare) return [coerce(doc, single)]
        if (!isObject(doc)) {
          throw new CoercionFailure(
            `expected an object with fields ${table.names.join(', ')}, found ${describe(doc)}` +
              (columns.length === 1 && role === 'value' ? ' (a bare value needs WRAP_SINGLE_VALUE=false)' : ''),
          )
        }
        return readFields(doc, table)
      } catch (e) {
        if (e instanceof CoercionFailure) throw fail(e)
        throw e
      }
    },
    encode(values) {
      try {
        if (bare) {
          const v = values[0] ?? null
          return v === null ? null : Buffer.from(write(v, single), 'utf8')
        }
        return Buffer.from(writeRow(values, table), 'utf8')
      } catch (e) {
        if (e instanceof CoercionFailure) throw serdeEncodeError('JSON', role, `${e.what} at ${pathOf(e)}`)
        throw e
      }
    },
  }
}
