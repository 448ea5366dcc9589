import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { canCast, castValue, compareValues, equalValues, valueKey } from '../src/cast.ts'
import { type SqlStruct, type SqlType, type SqlValue, SqlType as T } from '../src/types.ts'
import { assertCode, struct } from './functions/helpers.ts'

/** Types, nested a little, with field names every object inherits among them. */
const typeArb: fc.Arbitrary<SqlType> = fc.letrec<{ type: SqlType }>((tie) => ({
  type: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(T.BOOLEAN, T.INTEGER, T.DOUBLE, T.STRING, T.BYTES, T.decimal(4, 2)),
    tie('type').map((t) => T.array(t)),
    tie('type').map((t) => T.map(T.STRING, t)),
    fc
      .uniqueArray(fc.tuple(fc.constantFrom('A', 'b', '__proto__', 'constructor'), tie('type')), {
        minLength: 1,
        maxLength: 3,
        selector: (f) => f[0],
      })
      .map((fields) => T.struct(fields.map(([name, type]) => ({ name, type })))),
  ),
})).type

/** A value of a type (NULL now and then), from a small domain so that equal values come up. */
function valueArb(t: SqlType): fc.Arbitrary<SqlValue> {
  const value = ((): fc.Arbitrary<SqlValue> => {
    switch (t.kind) {
      case 'BOOLEAN':
        return fc.boolean()
      case 'INTEGER':
        return fc.integer({ min: -2, max: 2 })
      case 'DOUBLE':
        return fc.constantFrom(0, -0, 1.5, Number.NaN, Number.NEGATIVE_INFINITY)
      case 'DECIMAL':
        return fc.constantFrom(0, 1.25, -3.5)
      case 'STRING':
        return fc.constantFrom('', 'a', 'A', '1', 'null', '"a"')
      case 'BYTES':
        return fc.uint8Array({ maxLength: 2, max: 1 })
      case 'ARRAY':
        return fc.array(valueArb(t.element), { maxLength: 2 })
      case 'MAP':
        return fc
          .uniqueArray(fc.tuple(fc.constantFrom('a', 'b'), valueArb(t.value)), { maxLength: 2, selector: (e) => e[0] })
          .map((entries) => new Map(entries))
      case 'STRUCT':
        return fc.tuple(...t.fields.map((f) => valueArb(f.type))).map((values) => {
          const o: Record<string, SqlValue> = Object.create(null)
          t.fields.forEach((f, i) => {
            o[f.name] = values[i] as SqlValue
          })
          return o as SqlStruct
        })
      default:
        return fc.integer({ min: 0, max: 2 })
    }
  })()
  return fc.oneof({ arbitrary: fc.constant(null), weight: 1 }, { arbitrary: value, weight: 4 })
}

describe('canCast, checked when a statement is created', () => {
  test("ksqlDB's table of casts", () => {
    const yes: [SqlType | null, SqlType][] = [
      [null, T.BYTES],
      [T.INTEGER, T.STRING],
      [T.TIMESTAMP, T.STRING],
      [T.array(T.INTEGER), T.STRING],
      [T.STRING, T.BOOLEAN],
      [T.STRING, T.decimal(4, 2)],
      [T.STRING, T.TIME],
      [T.STRING, T.DATE],
      [T.STRING, T.TIMESTAMP],
      [T.DOUBLE, T.INTEGER],
      [T.decimal(4, 2), T.BIGINT],
      [T.TIMESTAMP, T.DATE],
      [T.TIMESTAMP, T.TIME],
      [T.DATE, T.TIMESTAMP],
      [T.array(T.STRING), T.array(T.INTEGER)],
      [T.map(T.STRING, T.INTEGER), T.map(T.STRING, T.STRING)],
      [
        T.struct([{ name: 'A', type: T.INTEGER }]),
        T.struct([
          { name: 'A', type: T.STRING },
          { name: 'B', type: T.BOOLEAN },
        ]),
      ],
      [T.BYTES, T.BYTES],
    ]
    const no: [SqlType, SqlType][] = [
      [T.BYTES, T.STRING],
      [T.STRING, T.BYTES],
      [T.BOOLEAN, T.INTEGER],
      [T.INTEGER, T.BOOLEAN],
      [T.DATE, T.TIME],
      [T.TIME, T.TIMESTAMP],
      [T.INTEGER, T.TIMESTAMP],
      [T.array(T.BYTES), T.array(T.STRING)],
      [T.array(T.INTEGER), T.map(T.STRING, T.INTEGER)],
      [T.struct([{ name: 'A', type: T.BOOLEAN }]), T.struct([{ name: 'A', type: T.DATE }])],
    ]
    for (const [from, to] of yes)
      assert.equal(canCast(from, to), true, `${JSON.stringify(from)} → ${JSON.stringify(to)}`)
    for (const [from, to] of no)
      assert.equal(canCast(from, to), false, `${JSON.stringify(from)} → ${JSON.stringify(to)}`)
  })
})

describe('castValue', () => {
  test('numbers to STRING as the JVM prints them', () => {
    assert.equal(castValue(1e10, T.DOUBLE, T.STRING), '1.0E10')
    assert.equal(castValue(20, T.DOUBLE, T.STRING), '20.0')
    assert.equal(castValue(0.0001, T.DOUBLE, T.STRING), '1.0E-4')
    assert.equal(castValue(Number.NaN, T.DOUBLE, T.STRING), 'NaN')
    assert.equal(castValue(1.5, T.decimal(4, 2), T.STRING), '1.50')
    assert.equal(castValue(-7, T.INTEGER, T.STRING), '-7')
    assert.equal(castValue(9007199254740991, T.BIGINT, T.STRING), '9007199254740991')
    assert.equal(castValue(true, T.BOOLEAN, T.STRING), 'true')
  })

  test('dates and times to STRING in ISO-8601 (UTC), and back', () => {
    assert.equal(castValue(1625048319446, T.TIMESTAMP, T.STRING), '2021-06-30T10:18:39.446')
    assert.equal(castValue(18808, T.DATE, T.STRING), '2021-06-30')
    assert.equal(castValue(37119446, T.TIME, T.STRING), '10:18:39.446')
    assert.equal(castValue(37080000, T.TIME, T.STRING), '10:18')
    assert.equal(castValue('2021-06-30T10:18:39.446', T.STRING, T.TIMESTAMP), 1625048319446)
    assert.equal(castValue('2021-06-30T12:18:39.446+02:00', T.STRING, T.TIMESTAMP), 1625048319446)
    assert.equal(castValue('2021-06-30', T.STRING, T.DATE), 18808)
    assert.equal(castValue('10:18:39.446', T.STRING, T.TIME), 37119446)
    assertCode(() => castValue('30/06/2021', T.STRING, T.DATE), 'OFA_SQL_VALUE', /cannot CAST '30\/06\/2021' AS DATE/)
    assertCode(() => castValue('noon', T.STRING, T.TIMESTAMP), 'OFA_SQL_VALUE')
    assertCode(() => castValue('25:00', T.STRING, T.TIME), 'OFA_SQL_VALUE')
  })

  test('collections to STRING as Java prints them', () => {
    assert.equal(castValue([1, null, 3], T.array(T.INTEGER), T.STRING), '[1, null, 3]')
    assert.equal(castValue(new Map([['a', 1.5]]), T.map(T.STRING, T.DOUBLE), T.STRING), '{a=1.5}')
    const type = T.struct([
      { name: 'A', type: T.INTEGER },
      { name: 'B', type: T.STRING },
    ])
    assert.equal(castValue(struct({ A: 1, B: null }), type, T.STRING), 'Struct{A=1}')
  })

  test('STRING to numbers: surrounding blanks allowed, text that is not a number or does not fit is OFA_SQL_VALUE', () => {
    assert.equal(castValue(' 42 ', T.STRING, T.INTEGER), 42)
    assert.equal(castValue('-9007199254740991', T.STRING, T.BIGINT), -9007199254740991)
    assert.equal(castValue('1.5e3', T.STRING, T.DOUBLE), 1500)
    assert.equal(castValue('NaN', T.STRING, T.DOUBLE), Number.NaN)
    assert.equal(castValue('1.555', T.STRING, T.decimal(4, 2)), 1.56)
    assert.equal(castValue('-1.555', T.STRING, T.decimal(4, 2)), -1.56)
    assertCode(() => castValue('abc', T.STRING, T.INTEGER), 'OFA_SQL_VALUE', /cannot CAST 'abc' AS INTEGER/)
    assertCode(() => castValue('1.5', T.STRING, T.INTEGER), 'OFA_SQL_VALUE')
    assertCode(() => castValue('2147483648', T.STRING, T.INTEGER), 'OFA_SQL_VALUE')
    assertCode(() => castValue('9223372036854775808', T.STRING, T.BIGINT), 'OFA_SQL_VALUE')
    assertCode(() => castValue('x', T.STRING, T.DOUBLE), 'OFA_SQL_VALUE')
    assertCode(() => castValue('123.4', T.STRING, T.decimal(4, 2)), 'OFA_SQL_VALUE', /too large/)
  })

  test("STRING to BOOLEAN: 'true' in any case is true, anything else false", () => {
    assert.equal(castValue('TRUE', T.STRING, T.BOOLEAN), true)
    assert.equal(castValue('tRuE', T.STRING, T.BOOLEAN), true)
    assert.equal(castValue('false', T.STRING, T.BOOLEAN), false)
    assert.equal(castValue('yes', T.STRING, T.BOOLEAN), false)
  })

  test("between numbers: toward zero and saturating to INTEGER and BIGINT (Java's casts), rounding to DECIMAL", () => {
    assert.equal(castValue(2.9, T.DOUBLE, T.INTEGER), 2)
    assert.equal(castValue(-2.9, T.DOUBLE, T.INTEGER), -2)
    assert.equal(castValue(1e12, T.DOUBLE, T.INTEGER), 2147483647)
    assert.equal(castValue(Number.NaN, T.DOUBLE, T.BIGINT), 0)
    assert.equal(castValue(2 ** 32 + 5, T.BIGINT, T.INTEGER), 5)
    assert.equal(castValue(3, T.INTEGER, T.DOUBLE), 3)
    assert.equal(castValue(2.345, T.DOUBLE, T.decimal(3, 2)), 2.35)
    assertCode(() => castValue(10, T.INTEGER, T.decimal(3, 2)), 'OFA_SQL_VALUE', /too large/)
    assertCode(() => castValue(Number.POSITIVE_INFINITY, T.DOUBLE, T.decimal(3, 2)), 'OFA_SQL_VALUE')
  })

  test('TIMESTAMP to DATE and TIME, DATE to TIMESTAMP', () => {
    assert.equal(castValue(1625048319446, T.TIMESTAMP, T.DATE), 18808)
    assert.equal(castValue(1625048319446, T.TIMESTAMP, T.TIME), 37119446)
    assert.equal(castValue(-1, T.TIMESTAMP, T.DATE), -1)
    assert.equal(castValue(-1, T.TIMESTAMP, T.TIME), 86_399_999)
    assert.equal(castValue(18808, T.DATE, T.TIMESTAMP), 18808 * 86_400_000)
  })

  test('ARRAY, MAP and STRUCT element by element; STRUCT fields by name, a missing one NULL', () => {
    assert.deepEqual(castValue(['1', '2'], T.array(T.STRING), T.array(T.INTEGER)), [1, 2])
    assert.deepEqual(
      castValue(new Map([['a', 1]]), T.map(T.STRING, T.INTEGER), T.map(T.STRING, T.STRING)),
      new Map([['a', '1']]),
    )
    const from = T.struct([
      { name: 'A', type: T.INTEGER },
      { name: 'Z', type: T.STRING },
    ])
    const to = T.struct([
      { name: 'A', type: T.STRING },
      { name: 'B', type: T.BOOLEAN },
    ])
    assert.deepStrictEqual(castValue(struct({ A: 1, Z: 'z' }), from, to), struct({ A: '1', B: null }))
  })

  test('NULL stays NULL; an impossible cast is OFA_SQL_TYPE', () => {
    assert.equal(castValue(null, T.STRING, T.INTEGER), null)
    assert.equal(castValue(null, null, T.BYTES), null)
    assertCode(() => castValue(true, T.BOOLEAN, T.INTEGER), 'OFA_SQL_TYPE', /cannot CAST BOOLEAN AS INTEGER/)
  })

  test('property: INTEGER → STRING → INTEGER gives the integer back', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (n) => {
        const text = castValue(n, T.INTEGER, T.STRING)
        assert.equal(text, String(n))
        assert.equal(castValue(text, T.STRING, T.INTEGER), n)
      }),
    )
  })

  test('property: DOUBLE → STRING → DOUBLE gives the double back', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        assert.equal(castValue(castValue(x, T.DOUBLE, T.STRING), T.STRING, T.DOUBLE), x)
      }),
    )
  })
})

describe('compareValues and equalValues', () => {
  test('orders as Java does: numbers (NaN last), strings by UTF-16 units, false < true, BYTES unsigned', () => {
    assert.ok(compareValues(1, 2) < 0)
    assert.ok(compareValues(Number.NaN, Number.POSITIVE_INFINITY) > 0)
    assert.equal(compareValues(Number.NaN, Number.NaN), 0)
    assert.ok(compareValues('Z', 'a') < 0)
    assert.ok(compareValues('\uffff', '😀') > 0)
    assert.ok(compareValues(false, true) < 0)
    assert.ok(compareValues(new Uint8Array([0x80]), new Uint8Array([0x01])) > 0)
  })

  test('ARRAY element by element then length, STRUCT by fields in type order, nested NULLs last', () => {
    assert.ok(compareValues([1, 2], [1, 3]) < 0)
    assert.ok(compareValues([1, 2], [1]) > 0)
    assert.ok(compareValues([1, null], [1, 5]) > 0)
    const type = T.struct([
      { name: 'B', type: T.INTEGER },
      { name: 'A', type: T.INTEGER },
    ])
    assert.ok(compareValues(struct({ A: 1, B: 2 }), struct({ A: 2, B: 1 }), type) > 0)
    assert.ok(compareValues(new Map([['a', 1]]), new Map([['b', 0]])) < 0)
  })

  test('equality is deep, NaN equals NaN, -0 equals 0, nested NULLs equal', () => {
    assert.equal(equalValues(Number.NaN, Number.NaN), true)
    assert.equal(equalValues(0, -0), true)
    assert.equal(equalValues([1, null, [2]], [1, null, [2]]), true)
    assert.equal(equalValues([1], [1, 2]), false)
    assert.equal(equalValues(new Map([['a', [1]]]), new Map([['a', [1]]])), true)
    assert.equal(equalValues(new Map([['a', 1]]), new Map([['b', 1]])), false)
    assert.equal(equalValues(struct({ A: 1, B: 'x' }), struct({ B: 'x', A: 1 })), true)
    assert.equal(equalValues(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true)
    assert.equal(equalValues(new Uint8Array([1, 2]), [1, 2]), false)
    assert.equal(equalValues('1', 1), false)
  })

  test('property: valueKey(a) = valueKey(b) exactly when equalValues(a, b), and compare is 0 for equal values', () => {
    fc.assert(
      fc.property(
        typeArb.chain((t) => fc.tuple(fc.constant(t), valueArb(t), valueArb(t))),
        ([type, a, b]: [SqlType, SqlValue, SqlValue]) => {
          assert.equal(valueKey(a) === valueKey(b), equalValues(a, b))
          assert.equal(valueKey(a), valueKey(a))
          assert.equal(equalValues(a, a), true)
          if (a !== null && b !== null && equalValues(a, b)) assert.equal(compareValues(a, b, type), 0)
          if (a !== null && b !== null)
            assert.equal(Math.sign(compareValues(a, b, type)), -Math.sign(compareValues(b, a, type)) || 0)
        },
      ),
    )
  })
})
