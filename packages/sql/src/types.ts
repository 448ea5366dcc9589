/**
 * SQL types and the values that carry them at run time: the one vocabulary the parser (column definitions,
 * CAST), the function registry (signatures), the planner (type checking at CREATE time) and the operators share.
 *
 * Types are those of ksqlDB (docs: "Data types" of the ksqlDB reference). Values are plain JavaScript:
 *
 * | SQL type                 | value                                                   |
 * | ------------------------ | ------------------------------------------------------- |
 * | BOOLEAN                  | `boolean`                                               |
 * | INTEGER, BIGINT          | `number` (integral; BIGINT exact up to 2^53 − 1)        |
 * | DOUBLE                   | `number`                                                |
 * | DECIMAL(p, s)            | `number` rounded to s decimals                          |
 * | STRING (VARCHAR)         | `string`                                                |
 * | BYTES                    | `Uint8Array`                                            |
 * | TIMESTAMP                | `number`, milliseconds since 1970-01-01T00:00:00Z       |
 * | DATE                     | `number`, days since 1970-01-01                         |
 * | TIME                     | `number`, milliseconds since midnight                   |
 * | ARRAY<T>                 | `readonly SqlValue[]`                                   |
 * | MAP<STRING, T>           | `ReadonlyMap<string, SqlValue>`                         |
 * | STRUCT<a T, ...>         | `SqlStruct`: a null-prototype object keyed by field name |
 *
 * and SQL NULL is `null` for every type. BIGINT as `number` keeps the hot paths free of `bigint` arithmetic;
 * ROWTIME (ms) and offsets fit easily.
 */

export type ScalarTypeName =
  | 'BOOLEAN'
  | 'INTEGER'
  | 'BIGINT'
  | 'DOUBLE'
  | 'STRING'
  | 'BYTES'
  | 'TIMESTAMP'
  | 'DATE'
  | 'TIME'

export type SqlType =
  | { readonly kind: ScalarTypeName }
  | { readonly kind: 'DECIMAL'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'ARRAY'; readonly element: SqlType }
  | { readonly kind: 'MAP'; readonly key: SqlType; readonly value: SqlType }
  | { readonly kind: 'STRUCT'; readonly fields: readonly StructField[] }

export interface StructField {
  readonly name: string
  readonly type: SqlType
}

export type SqlStruct = { readonly [field: string]: SqlValue }

export type SqlValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly SqlValue[]
  | ReadonlyMap<string, SqlValue>
  | SqlStruct

const scalar = <K extends ScalarTypeName>(kind: K): { readonly kind: K } => Object.freeze({ kind })

export const SqlType = {
  BOOLEAN: scalar('BOOLEAN'),
  INTEGER: scalar('INTEGER'),
  BIGINT: scalar('BIGINT'),
  DOUBLE: scalar('DOUBLE'),
  STRING: scalar('STRING'),
  BYTES: scalar('BYTES'),
  TIMESTAMP: scalar('TIMESTAMP'),
  DATE: scalar('DATE'),
  TIME: scalar('TIME'),
  decimal: (precision: number, scale: number): SqlType => Object.freeze({ kind: 'DECIMAL', precision, scale }),
  array: (element: SqlType): SqlType => Object.freeze({ kind: 'ARRAY', element }),
  map: (key: SqlType, value: SqlType): SqlType => Object.freeze({ kind: 'MAP', key, value }),
  struct: (fields: readonly StructField[]): SqlType =>
    Object.freeze({ kind: 'STRUCT', fields: Object.freeze(fields.map((f) => Object.freeze({ ...f }))) }),
} as const

/** ksqlDB's spelling of a type: `ARRAY<STRING>`, `MAP<STRING, INTEGER>`, `STRUCT<\`a\` INTEGER>`, `DECIMAL(4, 2)`. */
export function formatType(t: SqlType): string {
  switch (t.kind) {
    case 'DECIMAL':
      return `DECIMAL(${t.precision}, ${t.scale})`
    case 'ARRAY':
      return `ARRAY<${formatType(t.element)}>`
    case 'MAP':
      return `MAP<${formatType(t.key)}, ${formatType(t.value)}>`
    case 'STRUCT':
      return `STRUCT<${t.fields.map((f) => `\`${f.name}\` ${formatType(f.type)}`).join(', ')}>`
    default:
      return t.kind
  }
}

/** Structural equality of two types (DECIMAL compares precision and scale; STRUCT field names and order). */
export function sameType(a: SqlType, b: SqlType): boolean {
  if (a === b) return true
  if (a.kind !== b.kind) return false
  switch (a.kind) {
    case 'DECIMAL':
      return b.kind === 'DECIMAL' && a.precision === b.precision && a.scale === b.scale
    case 'ARRAY':
      return b.kind === 'ARRAY' && sameType(a.element, b.element)
    case 'MAP':
      return b.kind === 'MAP' && sameType(a.key, b.key) && sameType(a.value, b.value)
    case 'STRUCT':
      return (
        b.kind === 'STRUCT' &&
        a.fields.length === b.fields.length &&
        a.fields.every((f, i) => f.name === b.fields[i]?.name && sameType(f.type, b.fields[i]?.type as SqlType))
      )
    default:
      return true
  }
}

const NUMERIC_RANK = { INTEGER: 0, BIGINT: 1, DECIMAL: 2, DOUBLE: 3 } as const

export function isNumeric(t: SqlType): boolean {
  return t.kind in NUMERIC_RANK
}

/**
 * The type two numeric operands are widened to, as ksqlDB does for arithmetic and comparison:
 * INTEGER < BIGINT < DECIMAL < DOUBLE. Undefined when either is not numeric.
 */
export function widerNumeric(a: SqlType, b: SqlType): SqlType | undefined {
  if (!isNumeric(a) || !isNumeric(b)) return undefined
  const ra = NUMERIC_RANK[a.kind as keyof typeof NUMERIC_RANK]
  const rb = NUMERIC_RANK[b.kind as keyof typeof NUMERIC_RANK]
  if (a.kind === 'DECIMAL' && b.kind === 'DECIMAL') {
    const scale = Math.max(a.scale, b.scale)
    const integral = Math.max(a.precision - a.scale, b.precision - b.scale)
    return SqlType.decimal(integral + scale, scale)
  }
  return ra >= rb ? a : b
}
