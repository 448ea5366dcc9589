import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { createSerde, type Serde } from '../../src/serde/serde.ts'
import { SqlType } from '../../src/types.ts'
import { assertCode, buf, valueArb } from './helpers.ts'

const kafka = (type: SqlType, role: 'key' | 'value' = 'value'): Serde =>
  createSerde('KAFKA', [{ name: 'C', type }], { role })

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'))

describe('KAFKA round trip (fast-check)', () => {
  for (const type of [SqlType.STRING, SqlType.INTEGER, SqlType.BIGINT, SqlType.DOUBLE, SqlType.BYTES]) {
    test(`${type.kind}: encode then decode gives the value back`, () => {
      fc.assert(
        fc.property(valueArb(type), fc.constantFrom<'key' | 'value'>('key', 'value'), (value, role) => {
          const serde = kafka(type, role)
          assert.deepEqual(serde.decode(serde.encode([value])), [value])
        }),
        { numRuns: 300 },
      )
    })
  }

  test('NULL is no bytes, and no bytes are no row', () => {
    for (const type of [SqlType.STRING, SqlType.INTEGER, SqlType.BIGINT, SqlType.DOUBLE, SqlType.BYTES]) {
      assert.equal(kafka(type).encode([null]), null)
      assert.equal(kafka(type).decode(null), null)
    }
  })
})

describe('KAFKA bytes, as Kafka primitive serializers write them', () => {
  test('STRING is its UTF-8 text; empty bytes are the empty string', () => {
    assert.equal(hex(kafka(SqlType.STRING).encode(['é|1'])), 'c3a97c31')
    assert.deepEqual(kafka(SqlType.STRING, 'key').decode(buf('asset-1|Xact')), ['asset-1|Xact'])
    assert.deepEqual(kafka(SqlType.STRING).decode(Buffer.alloc(0)), [''])
  })

  test('INTEGER is 4 bytes big-endian two’s complement', () => {
    assert.equal(hex(kafka(SqlType.INTEGER).encode([-2])), 'fffffffe')
    assert.equal(hex(kafka(SqlType.INTEGER).encode([258])), '00000102')
    assert.deepEqual(kafka(SqlType.INTEGER).decode(Buffer.from('80000000', 'hex')), [-2147483648])
  })

  test('BIGINT is 8 bytes big-endian two’s complement', () => {
    assert.equal(hex(kafka(SqlType.BIGINT).encode([-1])), 'ffffffffffffffff')
    assert.equal(hex(kafka(SqlType.BIGINT).encode([1767225600000])), '0000019b76daa800')
    assert.deepEqual(kafka(SqlType.BIGINT).decode(Buffer.from('fffffffffffffffe', 'hex')), [-2])
    // beyond 2^53 a number holds the nearest value
    assert.deepEqual(kafka(SqlType.BIGINT).decode(Buffer.from('7fffffffffffffff', 'hex')), [2 ** 63])
  })

  test('DOUBLE is 8 bytes IEEE 754 big-endian', () => {
    assert.equal(hex(kafka(SqlType.DOUBLE).encode([1.5])), '3ff8000000000000')
    assert.deepEqual(kafka(SqlType.DOUBLE).decode(Buffer.from('c000000000000000', 'hex')), [-2])
  })

  test('BYTES are the bytes, copied', () => {
    const record = Buffer.from([1, 2, 3])
    const row = kafka(SqlType.BYTES).decode(record)
    assert.deepEqual(row, [new Uint8Array([1, 2, 3])])
    record[0] = 9
    assert.deepEqual(row, [new Uint8Array([1, 2, 3])])
    assert.deepEqual(kafka(SqlType.BYTES).decode(Buffer.alloc(0)), [new Uint8Array(0)])
  })

  test('empty bytes for a numeric type are no row', () => {
    assert.equal(kafka(SqlType.INTEGER).decode(Buffer.alloc(0)), null)
    assert.equal(kafka(SqlType.DOUBLE).decode(Buffer.alloc(0)), null)
  })

  test('the reference tombstone stream: a single CAST(NULL AS VARCHAR) value writes a null value', () => {
    const serde = createSerde('KAFKA', [{ name: 'VALUE', type: SqlType.STRING }], {
      role: 'value',
      wrapSingleValue: true,
    })
    assert.equal(serde.encode([null]), null)
  })
})

describe('KAFKA records that do not decode', () => {
  test('a truncated INTEGER', () => {
    assertCode(
      () => kafka(SqlType.INTEGER, 'key').decode(Buffer.from([0, 0, 1])),
      'OFA_SQL_VALUE',
      /^KAFKA key does not decode: INTEGER needs 4 bytes, got 3 \(key column C\)$/,
    )
  })

  test('a BIGINT or DOUBLE of the wrong length', () => {
    assertCode(() => kafka(SqlType.BIGINT).decode(Buffer.alloc(4)), 'OFA_SQL_VALUE', /BIGINT needs 8 bytes, got 4/)
    assertCode(() => kafka(SqlType.DOUBLE).decode(Buffer.alloc(9)), 'OFA_SQL_VALUE', /DOUBLE needs 8 bytes, got 9/)
  })

  test('writing a value that is not of the type', () => {
    assertCode(() => kafka(SqlType.INTEGER).encode([2 ** 31]), 'OFA_SQL_VALUE', /cannot be written/)
    assertCode(() => kafka(SqlType.INTEGER).encode([1.5]), 'OFA_SQL_VALUE', /is not of type INTEGER/)
    assertCode(() => kafka(SqlType.STRING).encode([1]), 'OFA_SQL_VALUE', /is not of type STRING/)
  })
})

describe('KAFKA serdes that cannot be', () => {
  test('two columns', () => {
    assertCode(
      () =>
        createSerde(
          'KAFKA',
          [
            { name: 'A', type: SqlType.STRING },
            { name: 'B', type: SqlType.STRING },
          ],
          { role: 'value' },
        ),
      'OFA_SQL_UNSUPPORTED',
      /KAFKA format carries one value column, not 2 \(A, B\)/,
    )
  })

  test('types without a Kafka primitive serializer', () => {
    const types = [
      SqlType.BOOLEAN,
      SqlType.decimal(4, 2),
      SqlType.TIMESTAMP,
      SqlType.DATE,
      SqlType.TIME,
      SqlType.array(SqlType.STRING),
      SqlType.map(SqlType.STRING, SqlType.STRING),
      SqlType.struct([{ name: 'F', type: SqlType.STRING }]),
    ]
    for (const type of types) {
      assertCode(() => kafka(type, 'key'), 'OFA_SQL_UNSUPPORTED', /KAFKA format does not carry/, /key column C/)
    }
    assertCode(
      () => kafka(SqlType.struct([{ name: 'F', type: SqlType.STRING }])),
      'OFA_SQL_UNSUPPORTED',
      /STRUCT<`F` STRING>/,
    )
  })
})
