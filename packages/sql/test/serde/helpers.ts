// fast-check arbitraries for the serde round-trip properties: SQL types (nested up to a small depth) and values of
// a type, built the way the engine carries them (types.ts): STRUCTs as null-prototype objects, MAPs as Maps,
// BYTES as Uint8Arrays.
import assert from 'node:assert/strict'
import { isOpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import { type ScalarTypeName, type SqlStruct, SqlType, type SqlValue } from '../../src/types.ts'

export const SCALAR_NAMES: readonly ScalarTypeName[] = [
  'BOOLEAN',
  'INTEGER',
  'BIGINT',
  'DOUBLE',
  'STRING',
  'BYTES',
  'TIMESTAMP',
  'DATE',
  'TIME',
]

/** Field names, some of them tricky: case twins, names every object inherits, a name that is no identifier. */
const FIELD_NAMES = ['A', 'b', 'Name', 'ID', 'id', 'constructor', '__proto__', 'toString', 'x y', 'VALUE']

export const decimalTypeArb: fc.Arbitrary<SqlType> = fc
  .integer({ min: 1, max: 15 })
  .chain((p) => fc.integer({ min: 0, max: p }).map((s) => SqlType.decimal(p, s)))

/** Scalar types (DECIMAL included). */
export function scalarTypeArb(names: readonly ScalarTypeName[] = SCALAR_NAMES): fc.Arbitrary<SqlType> {
  return fc.oneof(fc.constantFrom(...names.map((n) => SqlType[n])), decimalTypeArb)
}

/** Any type JSON carries: scalars, ARRAY, MAP<STRING, T> and STRUCT, nested. */
export const jsonTypeArb: fc.Arbitrary<SqlType> = fc.letrec<{ type: SqlType }>((tie) => ({
  type: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarTypeArb(),
    tie('type').map((t) => SqlType.array(t)),
    tie('type').map((t) => SqlType.map(SqlType.STRING, t)),
    fc
      .uniqueArray(fc.tuple(fc.constantFrom(...FIELD_NAMES), tie('type')), {
        minLength: 1,
        maxLength: 4,
        selector: (f) => f[0],
      })
      .map((fields) => SqlType.struct(fields.map(([name, type]) => ({ name, type })))),
  ),
})).type

const stringArb = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' }))

/** A non-null value of a type. */
export function valueArb(t: SqlType): fc.Arbitrary<SqlValue> {
  switch (t.kind) {
    case 'BOOLEAN':
      return fc.boolean()
    case 'INTEGER':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
    case 'BIGINT':
      return fc.maxSafeInteger()
    case 'DOUBLE':
      return fc.double()
    case 'DECIMAL': {
      const limit = 10 ** t.precision - 1
      return fc.integer({ min: -limit, max: limit }).map((n) => Number(`${n}e-${t.scale}`))
    }
    case 'STRING':
      return stringArb
    case 'BYTES':
      return fc.uint8Array({ maxLength: 24 })
    case 'TIMESTAMP':
      return fc.integer({ min: -8.64e15, max: 8.64e15 })
    case 'DATE':
      return fc.integer({ min: -1e8, max: 1e8 })
    case 'TIME':
      return fc.integer({ min: 0, max: 86_399_999 })
    case 'ARRAY':
      return fc.array(nullableArb(t.element), { maxLength: 4 })
    case 'MAP':
      return fc
        .uniqueArray(fc.tuple(stringArb, nullableArb(t.value)), { maxLength: 4, selector: (e) => e[0] })
        .map((entries) => new Map(entries))
    case 'STRUCT':
      return fc.tuple(...t.fields.map((f) => nullableArb(f.type))).map((values) => {
        const o: Record<string, SqlValue> = Object.create(null)
        t.fields.forEach((f, i) => {
          o[f.name] = values[i] as SqlValue
        })
        return o as SqlStruct
      })
  }
}

/** A value of a type, or NULL. */
export function nullableArb(t: SqlType): fc.Arbitrary<SqlValue> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: 1 }, { arbitrary: valueArb(t), weight: 5 })
}

/** A type with a value of it. */
export function typedValueArb(types: fc.Arbitrary<SqlType>): fc.Arbitrary<[SqlType, SqlValue]> {
  return types.chain((t) => fc.tuple(fc.constant(t), nullableArb(t)))
}

/** Asserts that `fn` throws an OpenFactoryError of `code` whose message matches every pattern; returns the error. */
export function assertCode(fn: () => unknown, code: string, ...patterns: RegExp[]): Error {
  let thrown: unknown
  try {
    fn()
  } catch (e) {
    thrown = e
  }
  assert.ok(isOpenFactoryError(thrown), `expected an OpenFactoryError ${code}, got ${String(thrown)}`)
  assert.equal(thrown.code, code, thrown.message)
  for (const p of patterns) assert.match(thrown.message, p)
  return thrown
}

export const buf = (text: string): Buffer => Buffer.from(text, 'utf8')
