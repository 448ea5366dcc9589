import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { createSerde, type Serde } from '../../src/serde/serde.ts'
import { SqlType } from '../../src/types.ts'
import { assertCode, buf, nullableArb, scalarTypeArb } from './helpers.ts'

const delimited = (types: SqlType[], delimiter?: string): Serde =>
  createSerde(
    'DELIMITED',
    types.map((type, i) => ({ name: `C${i + 1}`, type })),
    { role: 'value', ...(delimiter === undefined ? {} : { delimiter }) },
  )

describe('DELIMITED round trip (fast-check)', () => {
  test('encode then decode gives the values back, for any scalar columns and delimiter', () => {
    const columns = fc
      .array(scalarTypeArb(), { minLength: 1, maxLength: 5 })
      .chain((types) => fc.tuple(fc.constant(types), fc.tuple(...types.map(nullableArb))))
    const delimiters = fc.constantFrom(undefined, 'TAB', 'SPACE', '|', ';', '.', '-', 'a', '1', '=')
    fc.assert(
      fc.property(columns, delimiters, ([types, values], delimiter) => {
        const serde = delimited(types, delimiter)
        const bytes = serde.encode(values)
        const back = serde.decode(bytes)
        if (values.every((v) => v === null) && types.length === 1) assert.equal(back, null)
        else assert.deepEqual(back, values)
      }),
      { numRuns: 500 },
    )
  })
})

describe('DELIMITED text', () => {
  const serde = delimited([SqlType.BIGINT, SqlType.STRING, SqlType.INTEGER])

  test('fields in column order', () => {
    assert.deepEqual(serde.decode(buf('120,bob,49')), [120, 'bob', 49])
    assert.equal(serde.encode([120, 'bob', 49])?.toString(), '120,bob,49')
  })

  test('a field holding the delimiter, a quote or a line break is quoted', () => {
    assert.equal(serde.encode([1, 'a,b', 2])?.toString(), '1,"a,b",2')
    assert.equal(serde.encode([1, 'say "hi"', 2])?.toString(), '1,"say ""hi""",2')
    assert.equal(serde.encode([1, 'two\nlines', 2])?.toString(), '1,"two\nlines",2')
    assert.deepEqual(serde.decode(buf('1,"say ""hi"", a,b",2')), [1, 'say "hi", a,b', 2])
    assert.deepEqual(serde.decode(buf('"1","x","2"')), [1, 'x', 2])
  })

  test('an empty field is NULL, for every type; "" is the empty string', () => {
    assert.deepEqual(serde.decode(buf(',,')), [null, null, null])
    assert.deepEqual(serde.decode(buf('"","",""')), [null, '', null])
    assert.equal(serde.encode([null, '', null])?.toString(), ',"",')
    assert.equal(serde.encode([null, null, null])?.toString(), ',,')
  })

  test('TAB, SPACE and any one character as the delimiter', () => {
    assert.deepEqual(delimited([SqlType.STRING, SqlType.STRING], 'TAB').decode(buf('a b\tc')), ['a b', 'c'])
    assert.deepEqual(delimited([SqlType.STRING, SqlType.STRING], 'SPACE').decode(buf('a,b c')), ['a,b', 'c'])
    assert.deepEqual(delimited([SqlType.STRING, SqlType.STRING], '|').decode(buf('a|b')), ['a', 'b'])
    assert.equal(delimited([SqlType.DOUBLE, SqlType.DOUBLE], '.').encode([1.5, 2])?.toString(), '"1.5"."2.0"')
  })

  test('a trailing line break ends the record', () => {
    assert.deepEqual(serde.decode(buf('1,a,2\r\n')), [1, 'a', 2])
  })

  test('each type as ksqlDB writes it', () => {
    const all = delimited([
      SqlType.BOOLEAN,
      SqlType.DOUBLE,
      SqlType.DOUBLE,
      SqlType.decimal(5, 2),
      SqlType.BYTES,
      SqlType.TIMESTAMP,
      SqlType.DATE,
      SqlType.TIME,
    ])
    const text = '"true",12.0,1.0E-4,3.10,YWJj,1767225600000,20454,3600000'
    const row = [true, 12, 1e-4, 3.1, new Uint8Array([97, 98, 99]), 1767225600000, 20454, 3_600_000]
    assert.equal(all.encode(row)?.toString(), text.replace('"true"', 'true'))
    assert.deepEqual(all.decode(buf(text)), row)
    assert.deepEqual(all.decode(buf('TRUE,NaN,-Infinity,3.1,YWJj,2026-01-01T00:00:00Z,2026-01-01,01:00')), [
      true,
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      3.1,
      new Uint8Array([97, 98, 99]),
      1767225600000,
      20454,
      3_600_000,
    ])
  })
})

describe('DELIMITED records that do not decode', () => {
  const serde = delimited([SqlType.BIGINT, SqlType.STRING, SqlType.INTEGER])

  test('the wrong number of fields', () => {
    assertCode(() => serde.decode(buf('1,a')), 'OFA_SQL_VALUE', /expected 3 fields \(C1, C2, C3\), found 2/)
    assertCode(() => serde.decode(buf('1,a,2,3')), 'OFA_SQL_VALUE', /found 4/)
  })

  test('a field that is not of its type', () => {
    assertCode(() => serde.decode(buf('1,a,x')), 'OFA_SQL_VALUE', /cannot read field 3 \(C3\) as INTEGER/)
    assertCode(
      () => delimited([SqlType.BOOLEAN]).decode(buf('yes')),
      'OFA_SQL_VALUE',
      /^DELIMITED value does not decode: cannot read field 1 \(C1\) as BOOLEAN$/,
    )
    assertCode(() => delimited([SqlType.decimal(3, 1)]).decode(buf('1.25')), 'OFA_SQL_VALUE', /needs rounding/)
  })

  test('malformed quoting and several lines', () => {
    assertCode(() => serde.decode(buf('1,"a,2')), 'OFA_SQL_VALUE', /field 2 opens a quote that is not closed/)
    assertCode(() => serde.decode(buf('1,"a"b,2')), 'OFA_SQL_VALUE', /field 2 has text after its closing quote/)
    assertCode(() => serde.decode(buf('1,a,2\n3,b,4')), 'OFA_SQL_VALUE', /more than one line/)
  })
})

describe('DELIMITED serdes that cannot be', () => {
  test('ARRAY, MAP and STRUCT columns', () => {
    for (const type of [
      SqlType.array(SqlType.STRING),
      SqlType.map(SqlType.STRING, SqlType.STRING),
      SqlType.struct([{ name: 'F', type: SqlType.STRING }]),
    ]) {
      assertCode(
        () => delimited([SqlType.STRING, type]),
        'OFA_SQL_UNSUPPORTED',
        /DELIMITED format carries scalar/,
        /column C2/,
      )
    }
  })

  test('a delimiter that is not one character', () => {
    assertCode(() => delimited([SqlType.STRING], '||'), 'OFA_SQL_UNSUPPORTED', /delimiter/, /"\|\|"/)
    assertCode(() => delimited([SqlType.STRING], ''), 'OFA_SQL_UNSUPPORTED', /delimiter/)
    assertCode(() => delimited([SqlType.STRING], '"'), 'OFA_SQL_UNSUPPORTED', /delimiter/)
  })
})
