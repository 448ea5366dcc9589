import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  bigDecimalText,
  decimalText,
  epochDay,
  javaDoubleText,
  parseBase64Text,
  parseBigintText,
  parseDateText,
  parseDecimalText,
  parseDoubleText,
  parseIntegerText,
  parseTimestampText,
  parseTimeText,
} from '../../src/serde/scalar-text.ts'

describe('bigDecimalText: a JSON number as ksqlDB prints it', () => {
  test('integer literals keep their digits', () => {
    for (const s of ['0', '7', '-12', '9007199254740993', '-123456789012345678901234567890']) {
      assert.equal(bigDecimalText(s), s)
    }
    assert.equal(bigDecimalText('-0'), '0')
  })

  test('decimal literals print as BigDecimal.toString(): scale kept, scientific below 1E-6 or with a negative scale', () => {
    const cases: [string, string][] = [
      ['12.5', '12.5'],
      ['20.0', '20.0'],
      ['12.50', '12.50'],
      ['0.001', '0.001'],
      ['0.000001', '0.000001'],
      ['0.0000001', '1E-7'],
      ['0.00000012', '1.2E-7'],
      ['-0.0', '0.0'],
      ['0.00', '0.00'],
      ['0e-10', '0E-10'],
      ['0e5', '0E+5'],
      ['1e3', '1E+3'],
      ['1E3', '1E+3'],
      ['1.5e2', '1.5E+2'],
      ['1.50e2', '150'],
      ['1.5e1', '15'],
      ['1.23e-2', '0.0123'],
      ['-4.2e-9', '-4.2E-9'],
      ['1e+21', '1E+21'],
      ['12.5e0', '12.5'],
    ]
    for (const [literal, text] of cases) assert.equal(bigDecimalText(literal), text, literal)
  })
})

describe('javaDoubleText: a double as Double.toString writes it', () => {
  test('examples', () => {
    const cases: [number, string][] = [
      [20, '20.0'],
      [12.5, '12.5'],
      [-0.5, '-0.5'],
      [0, '0.0'],
      [-0, '-0.0'],
      [0.001, '0.001'],
      [0.0001, '1.0E-4'],
      [1.234e-5, '1.234E-5'],
      [9999999, '9999999.0'],
      [1e7, '1.0E7'],
      [123456789, '1.23456789E8'],
      [1e21, '1.0E21'],
      [Number.MAX_VALUE, '1.7976931348623157E308'],
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
      [Number.NEGATIVE_INFINITY, '-Infinity'],
    ]
    for (const [v, text] of cases) assert.equal(javaDoubleText(v), text, String(v))
  })

  test('reads back to the same double (fast-check)', () => {
    fc.assert(
      fc.property(fc.double(), (v) => {
        assert.ok(Object.is(parseDoubleText(javaDoubleText(v)), v))
      }),
    )
  })
})

describe('DECIMAL text', () => {
  test('written with exactly the scale digits', () => {
    assert.equal(decimalText(1.5, 2), '1.50')
    assert.equal(decimalText(-0, 2), '0.00')
    assert.equal(decimalText(12, 0), '12')
  })

  test('read when it fits without rounding', () => {
    assert.equal(parseDecimalText('12.50', 4, 2), 12.5)
    assert.equal(parseDecimalText('+.5', 2, 1), 0.5)
    assert.equal(parseDecimalText('1.', 1, 0), 1)
    assert.equal(parseDecimalText('0.00123', 5, 5), 0.00123)
    assert.equal(parseDecimalText('1.5e3', 4, 0), 1500)
    assert.equal(parseDecimalText('000', 1, 0), 0)
    assert.equal(parseDecimalText('0.00123', 5, 4), 'needs rounding to fit DECIMAL(5, 4)')
    assert.equal(parseDecimalText('1.5e3', 3, 0), 'is too large for DECIMAL(3, 0)')
    assert.equal(parseDecimalText('.', 3, 0), 'is not a decimal number')
    assert.equal(parseDecimalText('1,5', 3, 0), 'is not a decimal number')
  })
})

describe('integers and doubles from text', () => {
  test('INTEGER and BIGINT: digits with an optional sign, in range', () => {
    assert.equal(parseIntegerText('-2147483648'), -2147483648)
    assert.equal(parseIntegerText('2147483648'), undefined)
    assert.equal(parseIntegerText(' 1'), undefined)
    assert.equal(parseIntegerText('1e3'), undefined)
    assert.equal(parseBigintText('-9223372036854775808'), -(2 ** 63))
    assert.equal(parseBigintText('9223372036854775807'), 2 ** 63)
    assert.equal(parseBigintText('9223372036854775808'), undefined)
    assert.equal(parseBigintText('00012'), 12)
  })

  test('DOUBLE as Double.parseDouble reads it', () => {
    assert.equal(parseDoubleText(' 1.5 '), 1.5)
    assert.equal(parseDoubleText('.5'), 0.5)
    assert.equal(parseDoubleText('5.'), 5)
    assert.equal(parseDoubleText('1e3'), 1000)
    assert.equal(parseDoubleText('2.5d'), 2.5)
    assert.equal(parseDoubleText('-Infinity'), Number.NEGATIVE_INFINITY)
    assert.ok(Number.isNaN(parseDoubleText('NaN')))
    assert.equal(parseDoubleText(''), undefined)
    assert.equal(parseDoubleText('1,5'), undefined)
    assert.equal(parseDoubleText('0x10'), undefined)
  })
})

describe('dates and times from text', () => {
  test('epochDay agrees with Date.UTC (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0100-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }),
        (d) => {
          const day = epochDay(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())
          assert.equal(day, Math.floor(d.getTime() / 86_400_000))
        },
      ),
    )
  })

  test('TIMESTAMP: milliseconds, or ISO-8601 in UTC unless a zone is given', () => {
    assert.equal(parseTimestampText('-1000000000000000'), -1e15)
    assert.equal(parseTimestampText('2024-02-29T12:34:56.789Z'), Date.UTC(2024, 1, 29, 12, 34, 56, 789))
    assert.equal(parseTimestampText('2024-02-29T12:34:56.789'), Date.UTC(2024, 1, 29, 12, 34, 56, 789))
    assert.equal(parseTimestampText('2024-02-29T12:34:56,789'), undefined)
    assert.equal(parseTimestampText('2024-02-29T12:34+02'), Date.UTC(2024, 1, 29, 10, 34))
    assert.equal(parseTimestampText('1969-12-31T23:59:59.999Z'), -1)
    assert.equal(parseTimestampText('2023-02-29'), undefined)
    assert.equal(parseTimestampText('2024-01-01T24:00:00Z'), undefined)
    assert.equal(parseTimestampText('2024-01-01T00:00:00+19:00'), undefined)
  })

  test('ISO-8601 timestamps agree with Date.parse (fast-check)', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(-1e14), max: new Date(1e14), noInvalidDate: true }), (d) => {
        assert.equal(parseTimestampText(d.toISOString()), d.getTime())
      }),
    )
  })

  test('DATE: days or yyyy-MM-dd; TIME: milliseconds or HH:mm[:ss[.fff]]', () => {
    assert.equal(parseDateText('1970-01-01'), 0)
    assert.equal(parseDateText('-3'), -3)
    assert.equal(parseDateText('2024-13-01'), undefined)
    assert.equal(parseTimeText('00:00'), 0)
    assert.equal(parseTimeText('12:30:15.123456'), 45_015_123)
    assert.equal(parseTimeText('86399999'), 86_399_999)
    assert.equal(parseTimeText('86400000'), undefined)
    assert.equal(parseTimeText('12:60'), undefined)
  })
})

describe('base64', () => {
  test('standard alphabet, padding optional, nothing else', () => {
    assert.deepEqual(parseBase64Text('YWJj'), new Uint8Array([97, 98, 99]))
    assert.deepEqual(parseBase64Text('YWI='), new Uint8Array([97, 98]))
    assert.deepEqual(parseBase64Text('YWI'), new Uint8Array([97, 98]))
    assert.equal(parseBase64Text('YW-_'), undefined)
    assert.equal(parseBase64Text('Y'), undefined)
    assert.equal(parseBase64Text('YWJj\n'), undefined)
  })
})
