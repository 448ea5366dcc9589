/**
 * Header columns: columns filled from a record's headers rather than its key or value (reference: docs.ksqldb.io,
 * "Data definition" § Headers). They are read-only: nothing is written into headers.
 *
 * - `HEADERS`, of type `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`: every header of the record, in the record's order,
 *   each as a struct of its name and its bytes; an empty array when the record has none.
 * - `HEADER('name')`, of type `BYTES`: the bytes of that header (Kafka allows a name several times: the last one),
 *   NULL when the record has no such header.
 *
 * A schema has at most one `HEADERS` column, and no `HEADER('name')` column beside it; two `HEADER` columns may not
 * name the same header.
 */
import { OpenFactoryError } from '@openfactory/model'
import { formatType, type SqlStruct, SqlType, type SqlValue, sameType } from '../types.ts'

/** A header column: `headerKey` is the name of `HEADER('name')`; absent for `HEADERS`. */
export interface HeaderColumn {
  readonly name: string
  readonly type: SqlType
  readonly headerKey?: string
}

/** The type a `HEADERS` column must have. */
export const HEADERS_TYPE: SqlType = SqlType.array(
  SqlType.struct([
    { name: 'KEY', type: SqlType.STRING },
    { name: 'VALUE', type: SqlType.BYTES },
  ]),
)

/** Checks header columns when their statement is created: `OFA_SQL_TYPE` for a wrong type or a duplicate. */
export function checkHeaderColumns(columns: readonly HeaderColumn[]): void {
  const keys = new Set<string>()
  let all: HeaderColumn | undefined
  for (const c of columns) {
    if (c.headerKey === undefined) {
      if (!sameType(c.type, HEADERS_TYPE)) {
        throw new OpenFactoryError(
          'OFA_SQL_TYPE',
          `HEADERS column ${c.name} must be of type ${formatType(HEADERS_TYPE)}, not ${formatType(c.type)}`,
        )
      }
      if (all !== undefined) {
        throw new OpenFactoryError('OFA_SQL_TYPE', `two HEADERS columns, ${all.name} and ${c.name}: one holds them all`)
      }
      all = c
    } else {
      if (c.type.kind !== 'BYTES') {
        throw new OpenFactoryError(
          'OFA_SQL_TYPE',
          `HEADER('${c.headerKey}') column ${c.name} must be of type BYTES, not ${formatType(c.type)}`,
        )
      }
      if (keys.has(c.headerKey)) {
        throw new OpenFactoryError('OFA_SQL_TYPE', `two columns read HEADER('${c.headerKey}')`)
      }
      keys.add(c.headerKey)
    }
  }
  if (all !== undefined && keys.size > 0) {
    throw new OpenFactoryError(
      'OFA_SQL_TYPE',
      `HEADERS column ${all.name} already holds every header: no HEADER('...') column beside it`,
    )
  }
}

/**
 * The values of header columns for a record's headers, in column order. The bytes are copies: a record's buffers
 * may share memory with the log's read buffers.
 */
export function decodeHeaders(headers: Readonly<Record<string, Buffer>>, columns: readonly HeaderColumn[]): SqlValue[] {
  const out = new Array<SqlValue>(columns.length)
  for (let i = 0; i < columns.length; i++) {
    const key = (columns[i] as HeaderColumn).headerKey
    if (key === undefined) {
      const all: SqlStruct[] = []
      for (const name in headers) {
        const entry: Record<string, SqlValue> = Object.create(null)
        entry.KEY = name
        entry.VALUE = new Uint8Array(headers[name] as Buffer)
        all.push(entry)
      }
      out[i] = all
    } else {
      const b = Object.hasOwn(headers, key) ? headers[key] : undefined
      out[i] = b === undefined ? null : new Uint8Array(b)
    }
  }
  return out
}
