import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { resolveScalar } from '../../src/functions/index.ts'
import { assertCode, bytes, call, i, s, T } from './helpers.ts'

describe('regular expressions', () => {
  test('a pattern that does not compile is an OFA_SQL_VALUE error for the record', () => {
    assertCode(
      () => call('REGEXP_REPLACE', s('abc'), s('(a'), s('x')),
      'OFA_SQL_VALUE',
      /not a valid regular expression: \(a/,
    )
    assertCode(() => call('REGEXP_EXTRACT', s('[z-a]'), s('abc')), 'OFA_SQL_VALUE')
  })

  test('a call site keeps the last compiled pattern and follows a pattern that changes', () => {
    const f = resolveScalar('REGEXP_EXTRACT', [T.STRING, T.STRING])
    assert.equal(f.call(['[0-9]+', 'a12']), '12')
    assert.equal(f.call(['[a-z]+', 'a12']), 'a')
    assert.equal(f.call(['[0-9]+', 'b34']), '34')
  })

  test('a global pattern is reused from its start each call', () => {
    const f = resolveScalar('REGEXP_EXTRACT_ALL', [T.STRING, T.STRING])
    assert.deepEqual(f.call(['\\d', 'a1b2']), ['1', '2'])
    assert.deepEqual(f.call(['\\d', 'c3']), ['3'])
    assert.deepEqual(f.call(['x*', 'ab']), ['', '', ''])
    const split = resolveScalar('REGEXP_SPLIT_TO_ARRAY', [T.STRING, T.STRING])
    assert.deepEqual(split.call(['a,b', ',']), ['a', 'b'])
    assert.deepEqual(split.call(['c,d,e', ',']), ['c', 'd', 'e'])
    assert.deepEqual(split.call(['abc', 'x*']), ['a', 'b', 'c'])
  })
})

describe('encodings', () => {
  test('hex, utf8, ascii, base64 (any case); another one, or text not in it, is an OFA_SQL_VALUE error', () => {
    assert.deepEqual(call('TO_BYTES', s('héllo'), s('utf8')), new Uint8Array(Buffer.from('héllo')))
    assert.equal(call('FROM_BYTES', bytes([0xc3, 0xa9]), s('UTF8')), 'é')
    assertCode(() => call('TO_BYTES', s('abc'), s('latin9')), 'OFA_SQL_VALUE', /unknown encoding latin9/)
    assertCode(() => call('TO_BYTES', s('abc'), s('hex')), 'OFA_SQL_VALUE', /not hex/)
    assertCode(() => call('TO_BYTES', s('a$c'), s('base64')), 'OFA_SQL_VALUE', /not base64/)
    assertCode(() => call('FROM_BYTES', bytes([0xc3]), s('ascii')), 'OFA_SQL_VALUE', /not ASCII/)
  })
})

describe('positions count UTF-16 code units from 1, as Java strings do', () => {
  test('SUBSTRING and INSTR around a character outside the BMP', () => {
    assert.equal(call('INSTR', s('a😀b'), s('b')), 4)
    assert.equal(call('SUBSTRING', s('a😀b'), i(2), i(2)), '😀')
    assert.equal(call('CHR', i(0x1f600)), '😀')
    assert.equal(call('CHR', s('\\ud83d\\ude00')), '😀')
  })
})
