import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { compactTimestamp, isoFromMs, parseTime } from '../src/time.ts'

test('isoFromMs is toISOString, and compactTimestamp gives canonical timestamps back as epoch ms', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253402300799999 }), (ms) => {
      const iso = new Date(ms).toISOString()
      assert.equal(isoFromMs(ms), iso)
      assert.equal(compactTimestamp(iso), ms)
    }),
    { numRuns: 20_000 },
  )
  for (const ms of [0, 86_399_999, 86_400_000, 951_782_400_000 /* 2000-02-29 */, Date.now()]) {
    assert.equal(isoFromMs(ms), new Date(ms).toISOString())
  }
  assert.equal(isoFromMs(-1), new Date(-1).toISOString())
  // The last two answers are kept: asked again, in turn with others, after another day, a time before 1970.
  for (const ms of [5, 5, 6, 5, 7, 5, 8, 6, 86_400_005, 5, -1, 5, -1, -1, 5, 7, 6, 7])
    assert.equal(isoFromMs(ms), new Date(ms).toISOString())
})

test('compactTimestamp keeps every other text as it is', () => {
  for (const t of [
    '2025-05-04T12:34:56Z',
    '2025-05-04T12:34:56.789123Z',
    '2025-02-29T00:00:00.000Z',
    '2025-13-01T00:00:00.000Z',
    '2025-05-04T24:00:00.000Z',
    '1969-12-31T23:59:59.999Z',
    '2025-05-04 12:34:56.789Z',
    'x025-05-04T12:34:56.789Z',
    '',
  ]) {
    assert.equal(compactTimestamp(t), t)
  }
  assert.equal(compactTimestamp('2024-02-29T00:00:00.000Z'), Date.UTC(2024, 1, 29))
})

test('parseTime takes ISO-8601 or epoch milliseconds', () => {
  assert.equal(parseTime('1714826096789'), 1714826096789)
  assert.equal(parseTime('2024-05-04T12:34:56.789Z'), 1714826096789)
  assert.equal(parseTime('2024-05-04T14:34:56.789+02:00'), 1714826096789)
  assert.equal(parseTime('2024-05-04'), Date.UTC(2024, 4, 4))
  for (const bad of ['yesterday', '12.5', '2024-13-45T00:00:00Z', '', '1e3'])
    assert.equal(parseTime(bad), undefined, bad)
})
