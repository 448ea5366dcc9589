import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { TimeIndex } from '../../src/index.ts'

/** Offsets an index-guided scan reads from `start` to `end` (what history.ts does), keeping those in range. */
function scan(index: TimeIndex, times: readonly number[], start: number, from: number, to: number): number[] {
  const found: number[] = []
  let offset = start
  const end = start + times.length
  while (offset < end) {
    offset = index.seek(0, offset, from, to)
    if (offset >= end) break
    const stop = Math.min(end, index.runEnd(0, offset, from, to))
    assert.ok(stop > offset, 'a run holds at least one offset')
    for (; offset < stop; offset++) {
      const t = times[offset - start] as number
      if (t >= from && t <= to) found.push(offset)
    }
  }
  return found
}

test('a backlog appended late is found by time; blocks out of range are skipped', () => {
  const index = new TimeIndex(4)
  const hour = 3_600_000
  const now = 10 * hour
  // 12 live records, then 8 records of a backlog 3 hours old, then 4 live ones.
  const times = [
    ...Array.from({ length: 12 }, (_, i) => now + i * 1000),
    ...Array.from({ length: 8 }, (_, i) => now - 3 * hour + i * 1000),
    ...Array.from({ length: 4 }, (_, i) => now + 20_000 + i * 1000),
  ]
  times.forEach((t, offset) => {
    index.add(0, offset, t)
  })
  assert.equal(index.indexedEnd(0), 24)
  const backlog = scan(index, times, 0, now - 3 * hour, now - 3 * hour + 7000)
  assert.deepEqual(backlog, [12, 13, 14, 15, 16, 17, 18, 19])
  // The backlog's blocks are the only ones read for its range.
  assert.equal(index.seek(0, 0, now - 3 * hour, now - 3 * hour + 7000), 12)
  assert.equal(index.runEnd(0, 12, now - 3 * hour, now - 3 * hour + 7000), 20)
  // A range with nothing in it reads nothing that is indexed.
  assert.equal(index.seek(0, 0, now - 5 * hour, now - 4 * hour), 24)
  // Offsets past what is indexed are always read.
  assert.equal(index.seek(0, 30, 0, 1), 30)
  assert.equal(index.runEnd(0, 30, 0, 1), Number.POSITIVE_INFINITY)
})

test('property: an index-guided scan finds exactly the records in range, whatever their order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 20 }),
      (blockSize, start, times, a, b, unindexed) => {
        const index = new TimeIndex(blockSize)
        const indexed = Math.max(0, times.length - unindexed)
        for (let i = 0; i < indexed; i++) index.add(0, start + i, times[i] as number)
        const [from, to] = a <= b ? [a, b] : [b, a]
        const expected = times.flatMap((t, i) => (t >= from && t <= to ? [start + i] : []))
        assert.deepEqual(scan(index, times, start, from, to), expected)
      },
    ),
  )
})
