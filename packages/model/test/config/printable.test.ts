import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { printable } from '../../src/config/index.ts'

test('printable text stays as it is', () => {
  for (const s of ['devices.cnc-1.port', 'Größe — 温度 ✓ 🏭', 'a\\x1b', '']) assert.equal(printable(s), s)
})

test('controls, bidi overrides, separators and lone surrogates are escaped', () => {
  assert.equal(printable('a\u001b[31mb'), 'a\\x1b[31mb')
  assert.equal(printable('x\ny\tz\r'), 'x\\ny\\tz\\r')
  assert.equal(printable('\u0000\u007f\u0085'), '\\x00\\x7f\\x85')
  assert.equal(printable('abc\u202edef'), 'abc\\u{202e}def')
  assert.equal(printable('\u2028\ufeff\ud800'), '\\u{2028}\\u{feff}\\u{d800}')
  // The same text twice: no state kept between calls.
  assert.equal(printable('\u0007'), '\\x07')
  assert.equal(printable('\u0007'), '\\x07')
})

test('whatever the text, the result has no character unsafe on a terminal', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      assert.doesNotMatch(printable(s), /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u)
    }),
    { numRuns: 500 },
  )
})
