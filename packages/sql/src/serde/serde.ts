/**
 * Serialization formats: how the key or the value of a log record becomes the values of a stream's or table's key
 * or value columns, and back. The formats are ksqlDB's (reference: docs.ksqldb.io, "Serialization formats"), the
 * ones a statement names with `KEY_FORMAT`, `VALUE_FORMAT` or `FORMAT`:
 *
 * | format      | carries                                                        | file                 |
 * | ----------- | -------------------------------------------------------------- | -------------------- |
 * | `JSON`      | any columns of any type                                        | `json-serde.ts`      |
 * | `KAFKA`     | one STRING, INTEGER, BIGINT, DOUBLE or BYTES column, as Kafka's primitive serializers write it | `kafka-serde.ts` |
 * | `DELIMITED` | scalar columns, as one line of delimited text                  | `delimited-serde.ts` |
 * | `NONE`      | no columns (the key of a keyless stream)                       | here                 |
 *
 * Header columns (`HEADERS`, `HEADER('name')`) are read by `decode-headers.ts`.
 */
import type { SqlType, SqlValue } from '../types.ts'
import { createDelimitedSerde } from './delimited-serde.ts'
import { createJsonSerde } from './json-serde.ts'
import { createKafkaSerde } from './kafka-serde.ts'
import { type SerdeRole, serdeUnsupported } from './serde-error.ts'

export type SerdeFormat = 'JSON' | 'KAFKA' | 'DELIMITED' | 'NONE'

export const SERDE_FORMATS: readonly SerdeFormat[] = Object.freeze(['JSON', 'KAFKA', 'DELIMITED', 'NONE'])

/** A key or value column: its name as the parser normalised it (upper case unless quoted) and its type. */
export interface SerdeColumn {
  readonly name: string
  readonly type: SqlType
}

export interface SerdeOptions {
  /** Whether the serde reads record keys or record values (keys are never wrapped in one-field objects). */
  readonly role: SerdeRole
  /**
   * `WRAP_SINGLE_VALUE`: with exactly one value column, `true` (the default) reads and writes a JSON object with one
   * field, `false` the bare JSON value. Ignored for keys (one key column is always bare, several are an object),
   * for several columns and for formats other than JSON (which have no wrapping); the engine refuses the
   * combinations ksqlDB refuses when the statement is created.
   */
  readonly wrapSingleValue?: boolean
  /** `VALUE_DELIMITER` / `KEY_DELIMITER` of DELIMITED: one character, or `TAB` or `SPACE`; default `,`. */
  readonly delimiter?: string
}

/**
 * The codec of one format for one list of columns. Created once per source when its statement is created (which
 * is where a format that cannot carry the columns is refused), then used for every record; it keeps no state
 * between records, so one serde may serve any number of tasks.
 */
export interface Serde {
  readonly format: SerdeFormat
  /**
   * The column values, in column order, of a record's key or value bytes; null for null bytes (a tombstone value, a
   * null key) and, but for KAFKA STRING and BYTES, for empty bytes (NONE gives `[]` for anything). Throws
   * `OFA_SQL_VALUE` for bytes that do not decode, saying what and where.
   */
  decode(bytes: Buffer | null): SqlValue[] | null
  /** The bytes of the column values (in column order); null when the format writes nothing (see each format). */
  encode(values: readonly SqlValue[]): Buffer | null
}

/**
 * The serde of a format for columns. Throws `OFA_SQL_UNSUPPORTED` when the format cannot carry them (KAFKA with
 * several columns or a type other than STRING, INTEGER, BIGINT, DOUBLE and BYTES; DELIMITED with ARRAY, MAP or
 * STRUCT; JSON with a MAP whose key is not STRING; NONE with any column or as a value format), naming the format and
 * the column.
 */
export function createSerde(format: SerdeFormat, columns: readonly SerdeColumn[], options: SerdeOptions): Serde {
  if (columns.length === 0 && format !== 'NONE' && SERDE_FORMATS.includes(format)) return emptySerde(format)
  switch (format) {
    case 'JSON':
      return createJsonSerde(columns, options)
    case 'KAFKA':
      return createKafkaSerde(columns, options)
    case 'DELIMITED':
      return createDelimitedSerde(columns, options)
    case 'NONE':
      return createNoneSerde(columns, options)
    default:
      throw serdeUnsupported(`unknown serialization format '${String(format)}' (we run ${SERDE_FORMATS.join(', ')})`)
  }
}

const EMPTY: readonly SqlValue[] = Object.freeze([])

/** NONE: the key of a keyless stream. Nothing is read (every key gives no columns) and nothing is written. */
function createNoneSerde(columns: readonly SerdeColumn[], options: SerdeOptions): Serde {
  if (options.role === 'value')
    throw serdeUnsupported('the NONE format is a key format only; it cannot be a value format')
  const first = columns[0]
  if (first !== undefined) {
    throw serdeUnsupported(
      `the NONE key format carries no columns, but key column ${first.name} is declared: ` +
        `remove the key columns or choose another KEY_FORMAT`,
    )
  }
  return {
    format: 'NONE',
    decode: () => [],
    encode: () => null,
  }
}

/**
 * Any format for no columns (the key of a keyless stream whose key format is not NONE, say): no values, and nothing
 * written, as ksqlDB's KAFKA format does for no columns.
 */
function emptySerde(format: SerdeFormat): Serde {
  return {
    format,
    decode: (bytes) => (bytes === null ? null : (EMPTY as SqlValue[]).slice()),
    encode: () => null,
  }
}
