import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { hasInexactNumber } from '../../src/serde/json-serde.ts'
import { createSerde, type Serde } from '../../src/serde/serde.ts'
import { type SqlStruct, SqlType, type SqlValue } from '../../src/types.ts'
import { assertCode, buf, jsonTypeArb, nullableArb, typedValueArb } from './helpers.ts'

const json = (columns: { name: string; type: SqlType }[], opts: { wrapSingleValue?: boolean } = {}): Serde =>
  createSerde('JSON', columns, { role: 'value', ...opts })

/** Decodes one JSON text for one column of a type (wrapped: `{"V": <text>}`). */
function readAs(type: SqlType, text: string): SqlValue {
  const row = json([{ name: 'V', type }]).decode(buf(`{"V":${text}}`))
  assert.ok(row !== null)
  return row[0] as SqlValue
}

function struct(fields: Record<string, SqlValue>): SqlStruct {
  return Object.assign(Object.create(null), fields)
}

describe('JSON round trip (fast-check)', () => {
  test('wrapped: encode then decode gives the values back, for values of any type beside a STRING column', () => {
    fc.assert(
      fc.property(typedValueArb(jsonTypeArb), nullableArb(SqlType.STRING), ([type, value], text) => {
        const serde = json([
          { name: 'A', type },
          { name: 'b', type: SqlType.STRING },
        ])
        const bytes = serde.encode([value, text])
        assert.ok(bytes !== null)
        assert.deepEqual(serde.decode(bytes), [value, text])
      }),
      { numRuns: 500 },
    )
  })

  test('bare (a key, or WRAP_SINGLE_VALUE=false): the value alone; NULL writes no bytes', () => {
    fc.assert(
      fc.property(typedValueArb(jsonTypeArb), fc.boolean(), ([type, value], asKey) => {
        const serde = createSerde('JSON', [{ name: 'K', type }], {
          role: asKey ? 'key' : 'value',
          wrapSingleValue: false,
        })
        const bytes = serde.encode([value])
        if (value === null) {
          assert.equal(bytes, null)
          assert.equal(serde.decode(bytes), null)
        } else {
          assert.deepEqual(serde.decode(bytes), [value])
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('JSON shape', () => {
  test('one value column is wrapped by default, bare with WRAP_SINGLE_VALUE=false', () => {
    const columns = [{ name: 'ID', type: SqlType.BIGINT }]
    assert.equal(json(columns).encode([10])?.toString(), '{"ID":10}')
    assert.deepEqual(json(columns).decode(buf('{"id":10}')), [10])
    assert.equal(json(columns, { wrapSingleValue: false }).encode([10])?.toString(), '10')
    assert.deepEqual(json(columns, { wrapSingleValue: false }).decode(buf('10')), [10])
    assertCode(() => json(columns).decode(buf('10')), 'OFA_SQL_VALUE', /WRAP_SINGLE_VALUE=false/)
  })

  test('one key column is the bare value; several are an object', () => {
    const one = createSerde('JSON', [{ name: 'K', type: SqlType.STRING }], { role: 'key' })
    assert.equal(one.encode(['a'])?.toString(), '"a"')
    assert.deepEqual(one.decode(buf('"a"')), ['a'])
    const two = createSerde(
      'JSON',
      [
        { name: 'K1', type: SqlType.INTEGER },
        { name: 'K2', type: SqlType.STRING },
      ],
      { role: 'key' },
    )
    assert.equal(two.encode([1, 'x'])?.toString(), '{"K1":1,"K2":"x"}')
    assert.deepEqual(two.decode(buf('{"k2":"x","K1":1}')), [1, 'x'])
  })

  test('a STRUCT key is the struct object itself', () => {
    const serde = createSerde('JSON', [{ name: 'K', type: SqlType.struct([{ name: 'F1', type: SqlType.INTEGER }]) }], {
      role: 'key',
    })
    assert.equal(serde.encode([struct({ F1: 1 })])?.toString(), '{"F1":1}')
    assert.deepEqual(serde.decode(buf('{"f1":1}')), [struct({ F1: 1 })])
  })

  test('null bytes, empty bytes and the JSON literal null are no row', () => {
    const serde = json([{ name: 'A', type: SqlType.STRING }])
    assert.equal(serde.decode(null), null)
    assert.equal(serde.decode(Buffer.alloc(0)), null)
    assert.equal(serde.decode(buf('null')), null)
    assert.equal(serde.decode(buf(' null ')), null)
  })

  test('fields the object lacks are NULL, fields the columns lack are ignored', () => {
    const serde = json([
      { name: 'A', type: SqlType.INTEGER },
      { name: 'B', type: SqlType.STRING },
    ])
    assert.deepEqual(serde.decode(buf('{"A":1,"C":{"deep":[1,2]},"D":null}')), [1, null])
    assert.deepEqual(serde.decode(buf('{}')), [null, null])
  })
})

describe('JSON field names', () => {
  const columns = [
    { name: 'ID', type: SqlType.STRING },
    { name: 'VALUE', type: SqlType.STRING },
  ]

  test('matched without regard to case', () => {
    assert.deepEqual(json(columns).decode(buf('{"id":"a","Value":"b"}')), ['a', 'b'])
  })

  test('an exact match wins over a case-insensitive one, wherever it is', () => {
    assert.deepEqual(json(columns).decode(buf('{"id":"lower","ID":"exact"}')), ['exact', null])
    assert.deepEqual(json(columns).decode(buf('{"ID":"exact","id":"lower"}')), ['exact', null])
  })

  test('among case-insensitive matches, the first in the object wins', () => {
    assert.deepEqual(json(columns).decode(buf('{"Id":"first","iD":"second"}')), ['first', null])
  })

  test('a quoted lower-case column and an upper-case one each take their exact field', () => {
    const serde = json([
      { name: 'id', type: SqlType.STRING },
      { name: 'ID', type: SqlType.STRING },
    ])
    assert.deepEqual(serde.decode(buf('{"ID":"upper","id":"lower"}')), ['lower', 'upper'])
  })

  test('STRUCT fields are matched without regard to case, at every depth', () => {
    const type = SqlType.struct([
      { name: 'X', type: SqlType.DOUBLE },
      {
        name: 'INNER',
        type: SqlType.struct([
          { name: 'DEEP', type: SqlType.STRING },
          { name: 'LIST', type: SqlType.array(SqlType.struct([{ name: 'N', type: SqlType.INTEGER }])) },
        ]),
      },
    ])
    const row = json([{ name: 'POS', type }]).decode(
      buf('{"pos":{"x":1.5,"Inner":{"deep":"d","list":[{"n":1},{"N":"2"},null]}}}'),
    )
    assert.deepEqual(row, [
      struct({ X: 1.5, INNER: struct({ DEEP: 'd', LIST: [struct({ N: 1 }), struct({ N: 2 }), null] }) }),
    ])
  })

  test('names every object inherits are only matched as the record own fields', () => {
    const serde = json([
      { name: 'constructor', type: SqlType.STRING },
      { name: '__proto__', type: SqlType.STRING },
      { name: 'TOSTRING', type: SqlType.STRING },
    ])
    assert.deepEqual(serde.decode(buf('{}')), [null, null, null])
    assert.deepEqual(serde.decode(buf('{"constructor":"c","__proto__":"p","toString":"t"}')), ['c', 'p', 't'])
  })

  test('MAP keys are kept as written (no case folding)', () => {
    const row = json([{ name: 'M', type: SqlType.map(SqlType.STRING, SqlType.INTEGER) }]).decode(
      buf('{"M":{"a":1,"A":2,"__proto__":3}}'),
    )
    assert.deepEqual(row, [
      new Map([
        ['a', 1],
        ['A', 2],
        ['__proto__', 3],
      ]),
    ])
  })
})

describe('JSON coercions', () => {
  test('a number read as STRING keeps the text ksqlDB gives it', () => {
    const cases: [string, string][] = [
      ['12.5', '12.5'],
      ['20.0', '20.0'],
      ['12.50', '12.50'],
      ['12', '12'],
      ['-3', '-3'],
      ['-0', '0'],
      ['-0.0', '0.0'],
      ['0.1', '0.1'],
      ['1e3', '1E+3'],
      ['1.5E2', '1.5E+2'],
      ['2.5e-3', '0.0025'],
      ['1e-7', '1E-7'],
      ['0.000001', '0.000001'],
      ['0.0000001', '1E-7'],
      ['123456789012345678901234567890', '123456789012345678901234567890'],
      ['0.30000000000000004', '0.30000000000000004'],
      ['1e400', '1E+400'],
    ]
    for (const [literal, text] of cases) assert.equal(readAs(SqlType.STRING, literal), text, literal)
  })

  test('the table of docs/reference/sql-formats.md § "Non-strings read as STRING" holds', () => {
    const doc = readFileSync(new URL('../../../../docs/reference/sql-formats.md', import.meta.url), 'utf8')
    const section = doc.split('### Non-strings read as STRING')[1]?.split('\n\n')[2] ?? ''
    const rows = [...section.matchAll(/^\| `([^`]+)` +\| `([^`]+)` +\|$/gm)]
    assert.ok(rows.length >= 8, `rows found: ${rows.length}`)
    for (const [, literal, text] of rows) assert.equal(readAs(SqlType.STRING, literal as string), text, literal)
  })

  test('booleans, objects and arrays read as STRING become text', () => {
    assert.equal(readAs(SqlType.STRING, 'true'), 'true')
    assert.equal(readAs(SqlType.STRING, 'false'), 'false')
    assert.equal(readAs(SqlType.STRING, '{ "a" : 1.0, "b": [1, "x"], "c": null }'), '{"a":1.0,"b":[1,"x"],"c":null}')
    assert.equal(
      readAs(SqlType.STRING, '[1, "a", null, 2.50, {"k": true}, [3]]'),
      '[1, a, null, 2.50, {"k":true}, [3]]',
    )
    assert.equal(readAs(SqlType.STRING, '[]'), '[]')
  })

  test('strings of digits read as INTEGER, BIGINT and DOUBLE', () => {
    assert.equal(readAs(SqlType.INTEGER, '"42"'), 42)
    assert.equal(readAs(SqlType.INTEGER, '"-7"'), -7)
    assert.equal(readAs(SqlType.INTEGER, '"+7"'), 7)
    assert.equal(readAs(SqlType.BIGINT, '"1700000000000"'), 1700000000000)
    assert.equal(readAs(SqlType.BIGINT, '"9223372036854775807"'), 2 ** 63)
    assert.equal(readAs(SqlType.DOUBLE, '"1.5"'), 1.5)
    assert.equal(readAs(SqlType.DOUBLE, '" 2.5e1 "'), 25)
    assert.ok(Number.isNaN(readAs(SqlType.DOUBLE, '"NaN"')))
    assert.equal(readAs(SqlType.DOUBLE, '"-Infinity"'), Number.NEGATIVE_INFINITY)
    assertCode(() => readAs(SqlType.INTEGER, '"1.5"'), 'OFA_SQL_VALUE', /cannot read a string as INTEGER/, /\$\.V/)
    assertCode(() => readAs(SqlType.INTEGER, '"2147483648"'), 'OFA_SQL_VALUE', /not a 32-bit integer/)
    assertCode(() => readAs(SqlType.BIGINT, '"9223372036854775808"'), 'OFA_SQL_VALUE', /not a 64-bit integer/)
    assertCode(() => readAs(SqlType.DOUBLE, '"twelve"'), 'OFA_SQL_VALUE', /cannot read a string as DOUBLE/)
  })

  test('numbers read as INTEGER and BIGINT drop their fraction toward zero, within range', () => {
    assert.equal(readAs(SqlType.INTEGER, '1.9'), 1)
    assert.equal(readAs(SqlType.INTEGER, '-1.9'), -1)
    assert.ok(Object.is(readAs(SqlType.INTEGER, '-0.5'), 0))
    assert.equal(readAs(SqlType.BIGINT, '1e3'), 1000)
    assert.equal(readAs(SqlType.INTEGER, '2147483647'), 2147483647)
    assertCode(() => readAs(SqlType.INTEGER, '2147483648'), 'OFA_SQL_VALUE', /INTEGER \(out of range\)/)
    assertCode(() => readAs(SqlType.BIGINT, '1e19'), 'OFA_SQL_VALUE', /BIGINT \(out of range\)/)
  })

  test('BOOLEAN only from true and false; numbers only from numbers and strings', () => {
    assert.equal(readAs(SqlType.BOOLEAN, 'true'), true)
    assertCode(() => readAs(SqlType.BOOLEAN, '"true"'), 'OFA_SQL_VALUE', /cannot read a string as BOOLEAN/)
    assertCode(() => readAs(SqlType.BOOLEAN, '1'), 'OFA_SQL_VALUE', /cannot read a number as BOOLEAN/)
    assertCode(() => readAs(SqlType.INTEGER, 'true'), 'OFA_SQL_VALUE', /cannot read a boolean as INTEGER/)
    assertCode(() => readAs(SqlType.DOUBLE, '[1]'), 'OFA_SQL_VALUE', /cannot read an array as DOUBLE/)
  })

  test('DECIMAL from a number or a numeric string that fits without rounding', () => {
    const d = SqlType.decimal(4, 2)
    assert.equal(readAs(d, '12.5'), 12.5)
    assert.equal(readAs(d, '"12.50"'), 12.5)
    assert.equal(readAs(d, '-99.99'), -99.99)
    assert.equal(readAs(d, '1.2000'), 1.2)
    assert.equal(readAs(d, '1e1'), 10)
    assert.equal(readAs(d, '0.0'), 0)
    assertCode(() => readAs(d, '12.345'), 'OFA_SQL_VALUE', /needs rounding to fit DECIMAL\(4, 2\)/)
    assertCode(() => readAs(d, '123.4'), 'OFA_SQL_VALUE', /too large for DECIMAL\(4, 2\)/)
    assertCode(() => readAs(d, '"abc"'), 'OFA_SQL_VALUE', /not a decimal number/)
    assertCode(() => readAs(d, 'true'), 'OFA_SQL_VALUE', /cannot read a boolean as DECIMAL\(4, 2\)/)
  })

  test('TIMESTAMP from milliseconds (number or digits) or an ISO-8601 date-time, UTC when no zone', () => {
    const ms = Date.UTC(2026, 0, 1)
    assert.equal(readAs(SqlType.TIMESTAMP, String(ms)), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, `"${ms}"`), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, '1.7e12'), 1.7e12)
    assert.equal(readAs(SqlType.TIMESTAMP, '"2026-01-01T00:00:00.000Z"'), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, '"2026-01-01T00:00:00"'), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, '"2026-01-01 00:00"'), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, '"2026-01-01"'), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, '"2026-01-01T01:30:00+01:30"'), ms)
    assert.equal(readAs(SqlType.TIMESTAMP, '"2025-12-31T23:00:00.123456-0100"'), ms + 123)
    assertCode(() => readAs(SqlType.TIMESTAMP, '"2026-02-30T00:00:00Z"'), 'OFA_SQL_VALUE', /ISO-8601/)
    assertCode(() => readAs(SqlType.TIMESTAMP, '"yesterday"'), 'OFA_SQL_VALUE', /TIMESTAMP/)
  })

  test('DATE from days or yyyy-MM-dd; TIME from milliseconds or HH:mm:ss', () => {
    assert.equal(readAs(SqlType.DATE, '19723'), 19723)
    assert.equal(readAs(SqlType.DATE, '"19723"'), 19723)
    assert.equal(readAs(SqlType.DATE, '"2024-01-01"'), 19723)
    assert.equal(readAs(SqlType.DATE, '"1969-12-31"'), -1)
    assertCode(() => readAs(SqlType.DATE, '"2023-02-29"'), 'OFA_SQL_VALUE', /yyyy-MM-dd/)
    assert.equal(readAs(SqlType.TIME, '3600000'), 3_600_000)
    assert.equal(readAs(SqlType.TIME, '"3600000"'), 3_600_000)
    assert.equal(readAs(SqlType.TIME, '"01:00:00"'), 3_600_000)
    assert.equal(readAs(SqlType.TIME, '"01:00"'), 3_600_000)
    assert.equal(readAs(SqlType.TIME, '"23:59:59.5"'), 86_399_500)
    assertCode(() => readAs(SqlType.TIME, '86400000'), 'OFA_SQL_VALUE', /TIME \(out of range\)/)
    assertCode(() => readAs(SqlType.TIME, '"24:00:00"'), 'OFA_SQL_VALUE', /HH:mm:ss/)
  })

  test('BYTES from base64', () => {
    assert.deepEqual(readAs(SqlType.BYTES, '"AQID"'), new Uint8Array([1, 2, 3]))
    assert.deepEqual(readAs(SqlType.BYTES, '"AQI"'), new Uint8Array([1, 2]))
    assert.deepEqual(readAs(SqlType.BYTES, '""'), new Uint8Array([]))
    assertCode(() => readAs(SqlType.BYTES, '"A"'), 'OFA_SQL_VALUE', /not base64/)
    assertCode(() => readAs(SqlType.BYTES, '"a b"'), 'OFA_SQL_VALUE', /not base64/)
    assertCode(() => readAs(SqlType.BYTES, '[1,2]'), 'OFA_SQL_VALUE', /cannot read an array as BYTES/)
  })

  test('MAP<STRING, T> from an object, its values coerced', () => {
    assert.deepEqual(
      readAs(SqlType.map(SqlType.STRING, SqlType.INTEGER), '{"a":"1","b":2.7,"c":null}'),
      new Map([
        ['a', 1],
        ['b', 2],
        ['c', null],
      ]),
    )
    assertCode(() => readAs(SqlType.map(SqlType.STRING, SqlType.STRING), '[]'), 'OFA_SQL_VALUE', /an array as MAP/)
  })

  test('ARRAY from an array, its elements coerced', () => {
    assert.deepEqual(readAs(SqlType.array(SqlType.STRING), '[1, 2.0, "x", null, true]'), [
      '1',
      '2.0',
      'x',
      null,
      'true',
    ])
    assertCode(() => readAs(SqlType.array(SqlType.STRING), '{"0":"a"}'), 'OFA_SQL_VALUE', /an object as ARRAY<STRING>/)
  })
})

describe('the reference ofa_assets stream', () => {
  const columns = [
    { name: 'ID', type: SqlType.STRING },
    { name: 'VALUE', type: SqlType.STRING },
    { name: 'TAG', type: SqlType.STRING },
    { name: 'TYPE', type: SqlType.STRING },
    { name: 'ATTRIBUTES', type: SqlType.map(SqlType.STRING, SqlType.STRING) },
  ]

  test('a device sample with a numeric VALUE reads as text, the attributes map too', () => {
    const record = buf(
      '{"ID":"Xact","VALUE":12.5,"TAG":"Position","TYPE":"Samples",' +
        '"attributes":{"timestamp":"2026-01-01T00:00:00.000Z","native_code":42,"scale":1.0,"calibrated":true}}',
    )
    assert.deepEqual(json(columns).decode(record), [
      'Xact',
      '12.5',
      'Position',
      'Samples',
      new Map([
        ['timestamp', '2026-01-01T00:00:00.000Z'],
        ['native_code', '42'],
        ['scale', '1.0'],
        ['calibrated', 'true'],
      ]),
    ])
  })

  test('lower-case field names, as some writers send them', () => {
    const record = buf('{"id":"avail","value":"AVAILABLE","tag":"Availability","type":"Events","attributes":{}}')
    assert.deepEqual(json(columns).decode(record), ['avail', 'AVAILABLE', 'Availability', 'Events', new Map()])
  })

  test('written back with the declared (upper-case) names', () => {
    const row = ['Xact', '12.5', 'Position', 'Samples', new Map([['timestamp', '2026-01-01T00:00:00.000Z']])]
    assert.equal(
      json(columns).encode(row)?.toString(),
      '{"ID":"Xact","VALUE":"12.5","TAG":"Position","TYPE":"Samples","ATTRIBUTES":{"timestamp":"2026-01-01T00:00:00.000Z"}}',
    )
  })
})

describe('JSON writing', () => {
  test('each type as ksqlDB writes it', () => {
    const serde = json([
      { name: 'TS', type: SqlType.TIMESTAMP },
      { name: 'D', type: SqlType.DATE },
      { name: 'T', type: SqlType.TIME },
      { name: 'B', type: SqlType.BYTES },
      { name: 'M', type: SqlType.map(SqlType.STRING, SqlType.DOUBLE) },
      {
        name: 'S',
        type: SqlType.struct([
          { name: 'F', type: SqlType.BOOLEAN },
          { name: 'g', type: SqlType.INTEGER },
        ]),
      },
      { name: 'DEC', type: SqlType.decimal(6, 2) },
      { name: 'DBL', type: SqlType.DOUBLE },
      { name: 'quoted', type: SqlType.array(SqlType.STRING) },
    ])
    const text = serde
      .encode([
        1767225600000,
        20454,
        3_600_000,
        new Uint8Array([97, 98, 99]),
        new Map([
          ['x', 20],
          ['y', Number.NaN],
        ]),
        struct({ F: true }),
        1.5,
        1e7,
        ['a"b', null],
      ])
      ?.toString()
    assert.equal(
      text,
      '{"TS":1767225600000,"D":20454,"T":3600000,"B":"YWJj","M":{"x":20.0,"y":"NaN"},"S":{"F":true,"g":null},' +
        '"DEC":1.50,"DBL":1.0E7,"quoted":["a\\"b",null]}',
    )
  })

  test('NULL columns are written as null', () => {
    const serde = json([
      { name: 'A', type: SqlType.STRING },
      { name: 'B', type: SqlType.INTEGER },
    ])
    assert.equal(serde.encode([null, null])?.toString(), '{"A":null,"B":null}')
  })

  test('a value not of its column type is an OFA_SQL_VALUE naming the path', () => {
    const serde = json([{ name: 'A', type: SqlType.array(SqlType.INTEGER) }])
    assertCode(() => serde.encode([[1, 'x']]), 'OFA_SQL_VALUE', /cannot be written/, /\$\.A\[1\]/, /INTEGER/)
    assertCode(() => serde.encode([[1.5]]), 'OFA_SQL_VALUE', /\$\.A\[0\]/)
  })
})

describe('JSON records that do not decode', () => {
  const serde = json([
    { name: 'A', type: SqlType.struct([{ name: 'B', type: SqlType.array(SqlType.INTEGER) }]) },
    { name: 'C', type: SqlType.STRING },
  ])

  test('not JSON', () => {
    const e = assertCode(
      () => serde.decode(buf('{"A": secret')),
      'OFA_SQL_VALUE',
      /JSON value does not decode: not JSON/,
    )
    assert.doesNotMatch(e.message, /secret/)
    assertCode(() => serde.decode(buf('secret-text')), 'OFA_SQL_VALUE', /not JSON/)
    assertCode(() => serde.decode(Buffer.from([0, 0, 0, 0, 1, 123, 125])), 'OFA_SQL_VALUE', /not JSON/)
  })

  test('an array where a STRUCT is declared', () => {
    assertCode(
      () => serde.decode(buf('{"A":[1,2]}')),
      'OFA_SQL_VALUE',
      /cannot read an array as STRUCT<`B` ARRAY<INTEGER>>/,
      /at \$\.A$/,
    )
  })

  test('the path goes down structs and arrays', () => {
    assertCode(
      () => serde.decode(buf('{"a":{"b":[1,"2","x"]}}')),
      'OFA_SQL_VALUE',
      /cannot read a string as INTEGER/,
      /at \$\.A\.B\[2\]$/,
    )
  })

  test('a value that is not an object', () => {
    assertCode(
      () => serde.decode(buf('[1]')),
      'OFA_SQL_VALUE',
      /expected an object with fields A, C, found an array at \$$/,
    )
    assertCode(() => serde.decode(buf('"x"')), 'OFA_SQL_VALUE', /found a string/)
  })

  test('the role is named', () => {
    const key = createSerde('JSON', [{ name: 'K', type: SqlType.INTEGER }], { role: 'key' })
    assertCode(() => key.decode(buf('"x"')), 'OFA_SQL_VALUE', /^JSON key does not decode/)
  })
})

describe('JSON serdes that cannot be', () => {
  test('a MAP whose key is not STRING', () => {
    assertCode(
      () => json([{ name: 'M', type: SqlType.map(SqlType.INTEGER, SqlType.STRING) }]),
      'OFA_SQL_UNSUPPORTED',
      /JSON/,
      /MAP<INTEGER, STRING>/,
      /column M/,
    )
  })
})

describe('hasInexactNumber', () => {
  test('finds numbers JavaScript prints differently, outside strings only', () => {
    assert.equal(hasInexactNumber('{"a":12.5,"b":-3,"c":[1,2,0.25],"d":"20.0"}'), false)
    assert.equal(hasInexactNumber('{"a":"x\\"20.0","b":1}'), false)
    assert.equal(hasInexactNumber('{"a":"\\\\","b":20.0}'), true)
    assert.equal(hasInexactNumber('{"a":1e3}'), true)
    assert.equal(hasInexactNumber('[-0]'), true)
    assert.equal(hasInexactNumber('[12345678901234567890]'), true)
    assert.equal(hasInexactNumber('[123456789012345]'), false)
  })

  test('agrees with comparing every number literal with its JavaScript text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v)
        assert.equal(hasInexactNumber(text), false)
      }),
    )
  })
})
