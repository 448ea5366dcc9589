/**
 * The DELIMITED format: the columns as one line of delimited text, UTF-8 (reference: docs.ksqldb.io,
 * "Serialization formats" § DELIMITED; the quoting is RFC 4180's, as ksqlDB's CSV library writes it).
 *
 * Fields. One field per column, in column order, separated by the delimiter: `,` by default, or the one character
 * of `VALUE_DELIMITER` / `KEY_DELIMITER`, `TAB` and `SPACE` naming the tab and the space. A field that holds the
 * delimiter, a double quote or a line break is quoted: between double quotes, each double quote inside doubled
 * (`"a,b"`, `"say ""hi"""`). A record has exactly as many fields as there are columns; a line break ends it and
 * only line breaks may follow.
 *
 * NULL. An empty field is NULL, for every type. The empty string, and empty BYTES, are the quoted empty field `""`
 * (ksqlDB reads that as NULL too; it writes it only for an empty string in the first field).
 *
 * Types. Scalars only (ARRAY, MAP and STRUCT are refused when the serde is created):
 *
 * | SQL type        | field text                                                                  |
 * | --------------- | --------------------------------------------------------------------------- |
 * | BOOLEAN         | `true` or `false` (any case)                                                |
 * | INTEGER, BIGINT | decimal digits with an optional sign                                        |
 * | DOUBLE          | as Java's `Double.toString` writes it (`12.0`, `1.0E7`, `NaN`); read as `Double.parseDouble` reads |
 * | DECIMAL(p, s)   | plain decimal notation, s fractional digits; read if it fits without rounding |
 * | STRING          | the text                                                                     |
 * | BYTES           | base64                                                                       |
 * | TIMESTAMP       | milliseconds since the epoch (read: also ISO-8601, UTC when no zone)         |
 * | DATE            | days since 1970-01-01 (read: also `yyyy-MM-dd`)                              |
 * | TIME            | milliseconds since midnight (read: also `HH:mm[:ss[.fff]]`)                  |
 */
import type { SqlType, SqlValue } from '../types.ts'
import { formatType } from '../types.ts'
import {
  base64Text,
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
import { type SerdeRole, serdeEncodeError, serdeUnsupported, serdeValueError } from './serde-error.ts'

const SCALARS = ['BOOLEAN', 'INTEGER', 'BIGINT', 'DOUBLE', 'DECIMAL', 'STRING', 'BYTES', 'TIMESTAMP', 'DATE', 'TIME']

/** The delimiter character of a `*_DELIMITER` property, or an `OFA_SQL_UNSUPPORTED` error. */
export function delimiterOf(option: string | undefined): string {
  if (option === undefined) return ','
  if (option === 'TAB') return '\t'
  if (option === 'SPACE') return ' '
  if (option.length !== 1 || option === '"' || option === '\r' || option === '\n') {
    throw serdeUnsupported(
      `the DELIMITED delimiter must be one character other than a double quote or a line break, or TAB or SPACE; ` +
        `got ${JSON.stringify(option)}`,
    )
  }
  return option
}

/**
 * The fields of a line, split at the delimiter (code `d`) and unquoted: a string per field, null for an empty
 * unquoted field. A string when the line is malformed: what is wrong.
 */
function splitFields(text: string, d: number): (string | null)[] | string {
  const out: (string | null)[] = []
  const n = text.length
  let i = 0
  for (;;) {
    if (i < n && text.charCodeAt(i) === 34) {
      let value = ''
      let j = i + 1
      for (;;) {
        const q = text.indexOf('"', j)
        if (q < 0) return `field ${out.length + 1} opens a quote that is not closed`
        value += text.slice(j, q)
        if (text.charCodeAt(q + 1) === 34) {
          value += '"'
          j = q + 2
        } else {
          j = q + 1
          break
        }
      }
      out.push(value)
      i = j
      if (i >= n) break
      const c = text.charCodeAt(i)
      if (c === d) {
        i++
        continue
      }
      if (c === 13 || c === 10) break
      return `field ${out.length} has text after its closing quote`
    }
    let j = i
    while (j < n) {
      const c = text.charCodeAt(j)
      if (c === d || c === 13 || c === 10) break
      j++
    }
    out.push(j === i ? null : text.slice(i, j))
    i = j
    if (i >= n || text.charCodeAt(i) !== d) break
    i++
  }
  for (; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c !== 13 && c !== 10) return 'holds more than one line'
  }
  return out
}

/** A field's text as a value of a scalar type other than DECIMAL, or undefined when it is not one. */
function parseField(f: string, t: SqlType): SqlValue | undefined {
  switch (t.kind) {
    case 'STRING':
      return f
    case 'BOOLEAN': {
      const l = f.toLowerCase()
      return l === 'true' ? true : l === 'false' ? false : undefined
    }
    case 'INTEGER':
      return parseIntegerText(f)
    case 'BIGINT':
      return parseBigintText(f)
    case 'DOUBLE':
      return parseDoubleText(f)
    case 'BYTES':
      return parseBase64Text(f)
    case 'TIMESTAMP':
      return parseTimestampText(f)
    case 'DATE':
      return parseDateText(f)
    case 'TIME':
      return parseTimeText(f)
    default:
      return undefined
  }
}

/** A value's field text (unquoted), or undefined when the value is not of the type. */
function fieldText(v: SqlValue, t: SqlType): string | undefined {
  switch (t.kind) {
    case 'STRING':
      return typeof v === 'string' ? v : undefined
    case 'BOOLEAN':
      return typeof v === 'boolean' ? String(v) : undefined
    case 'INTEGER':
      return typeof v === 'number' && Number.isInteger(v) && inInt32(v) ? String(v) : undefined
    case 'BIGINT':
      return typeof v === 'number' && Number.isInteger(v) && inInt64(v) ? String(v) : undefined
    case 'TIMESTAMP':
    case 'DATE':
    case 'TIME':
      return typeof v === 'number' && Number.isInteger(v) ? String(v) : undefined
    case 'DOUBLE':
      return typeof v === 'number' ? javaDoubleText(v) : undefined
    case 'DECIMAL':
      return typeof v === 'number' && Number.isFinite(v) ? decimalText(v, t.scale) : undefined
    case 'BYTES':
      return v instanceof Uint8Array ? base64Text(v) : undefined
    default:
      return undefined
  }
}

export function createDelimitedSerde(columns: readonly SerdeColumn[], options: SerdeOptions): Serde {
  const role: SerdeRole = options.role
  for (const c of columns) {
    if (!SCALARS.includes(c.type.kind)) {
      throw serdeUnsupported(
        `the DELIMITED format carries scalar types only, not ${formatType(c.type)} (${role} column ${c.name}): ` +
          `use JSON`,
      )
    }
  }
  const delimiter = delimiterOf(options.delimiter)
  const d = delimiter.charCodeAt(0)
  const types = columns.map((c) => c.type)
  const n = columns.length
  const fail = (what: string): Error => serdeValueError('DELIMITED', role, what)
  return {
    format: 'DELIMITED',
    decode(bytes) {
      if (bytes === null || bytes.length === 0) return null
      const fields = splitFields(bytes.toString('utf8'), d)
      if (typeof fields === 'string') throw fail(`the line ${fields}`)
      if (fields.length !== n)
        throw fail(`expected ${n} fields (${columns.map((c) => c.name).join(', ')}), found ${fields.length}`)
      const out = new Array<SqlValue>(n)
      for (let i = 0; i < n; i++) {
        const f = fields[i] as string | null
        const t = types[i] as SqlType
        if (f === null || (f === '' && t.kind !== 'STRING' && t.kind !== 'BYTES')) {
          out[i] = null
          continue
        }
        const v = t.kind === 'DECIMAL' ? parseDecimalText(f, t.precision, t.scale) : parseField(f, t)
        if (v === undefined || (t.kind === 'DECIMAL' && typeof v === 'string')) {
          const why = typeof v === 'string' ? ` (${v})` : ''
          throw fail(`cannot read field ${i + 1} (${columns[i]?.name}) as ${formatType(t)}${why}`)
        }
        out[i] = v
      }
      return out
    },
    encode(values) {
      let line = ''
      for (let i = 0; i < n; i++) {
        if (i > 0) line += delimiter
        const v = values[i] ?? null
        if (v === null) continue
        const text = fieldText(v, types[i] as SqlType)
        if (text === undefined) {
          throw serdeEncodeError(
            'DELIMITED',
            role,
            `${String(v).slice(0, 40)} is not of type ${formatType(types[i] as SqlType)} (column ${columns[i]?.name})`,
          )
        }
        line += needsQuotes(text, delimiter) ? `"${text.replaceAll('"', '""')}"` : text
      }
      return Buffer.from(line, 'utf8')
    },
  }
}

function needsQuotes(text: string, delimiter: string): boolean {
  return text === '' || text.includes(delimiter) || text.includes('"') || text.includes('\n') || text.includes('\r')
}
