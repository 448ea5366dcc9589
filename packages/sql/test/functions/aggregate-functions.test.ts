import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { COLLECTION_LIMIT } from '../../src/functions/aggregate-functions.ts'
import type { ResolvedAggregate } from '../../src/functions/registry.ts'
import type { SqlValue } from '../../src/types.ts'
import { aggregate, assertCode, near, type Rec, resolveAggregate, roundTrip, T } from './helpers.ts'

const values = (...xs: SqlValue[]): Rec[] => xs.map((x) => [[x]])

/** Adds the first records, round-trips the accumulator through JSON, adds the rest: same result as straight on. */
function assertRoundTrip(agg: ResolvedAggregate, records: readonly Rec[], at = Math.floor(records.length / 2)): void {
  const straight = agg.result(aggregate(agg, records))
  let acc = roundTrip(aggregate(agg, records.slice(0, at)))
  records.slice(at).forEach(([args, row], n) => {
    acc = agg.add(acc, args as SqlValue[], { timestamp: at + n, offset: at + n, ...row })
  })
  assert.deepStrictEqual(agg.result(roundTrip(acc)), straight)
}

/** Merging the accumulators of two halves gives what adding them all gives. */
function assertMerge(agg: ResolvedAggregate, records: readonly Rec[], at = Math.floor(records.length / 2)): void {
  const merge = agg.merge as NonNullable<ResolvedAggregate['merge']>
  const a = aggregate(agg, records.slice(0, at))
  const b = roundTrip(
    aggregate(
      agg,
      records.slice(at).map(([args, row], n) => [args, { timestamp: at + n, offset: at + n, ...row }] as Rec),
    ),
  )
  assert.deepStrictEqual(agg.result(merge(a, b)), agg.result(aggregate(agg, records)))
}

function undo(agg: ResolvedAggregate, acc: unknown, args: SqlValue[]): unknown {
  return (agg.undo as NonNullable<ResolvedAggregate['undo']>)(acc, args, { timestamp: 0, offset: 0 })
}

describe('COUNT', () => {
  test('COUNT(*) counts records; COUNT(col) the non-NULL ones', () => {
    const star = resolveAggregate('COUNT')
    assert.equal(star.result(aggregate(star, [[[]], [[]], [[]]])), 3)
    const col = resolveAggregate('COUNT', T.STRING)
    assert.deepEqual(col.type, T.BIGINT)
    assert.equal(col.result(aggregate(col, values('a', null, 'b'))), 2)
    assert.equal(col.result(col.init()), 0)
  })

  test('undo, merge, JSON round trip', () => {
    const col = resolveAggregate('COUNT', T.STRING)
    assert.equal(col.result(undo(col, aggregate(col, values('a', 'b')), ['a'])), 1)
    assert.equal(col.result(undo(col, aggregate(col, values('a', 'b')), [null])), 2)
    assertMerge(col, values('a', null, 'b', 'c'))
    assertRoundTrip(col, values('a', null, 'b', 'c'))
  })
})

describe('COUNT_DISTINCT', () => {
  test('distinct non-NULL values, exactly', () => {
    const agg = resolveAggregate('COUNT_DISTINCT', T.INTEGER)
    assert.equal(agg.result(aggregate(agg, values(1, 2, 2, null, 3, 1))), 3)
    const arrays = resolveAggregate('COUNT_DISTINCT', T.array(T.STRING))
    assert.equal(arrays.result(aggregate(arrays, values(['a'], ['a'], ['b'], []))), 3)
  })

  test('undo takes one occurrence back; merge; JSON round trip', () => {
    const agg = resolveAggregate('COUNT_DISTINCT', T.STRING)
    let acc = aggregate(agg, values('a', 'b', 'b'))
    acc = undo(agg, acc, ['b'])
    assert.equal(agg.result(acc), 2)
    acc = undo(agg, acc, ['b'])
    assert.equal(agg.result(acc), 1)
    acc = undo(agg, acc, ['zzz'])
    assert.equal(agg.result(acc), 1)
    assertMerge(agg, values('a', 'b', 'b', 'c', 'a'))
    assertRoundTrip(agg, values('a', 'b', 'b', 'c', 'a'))
  })
})

describe('SUM', () => {
  test('of the type of its values; NULLs ignored; 0 for none', () => {
    const ints = resolveAggregate('SUM', T.INTEGER)
    assert.deepEqual(ints.type, T.INTEGER)
    assert.equal(ints.result(aggregate(ints, values(1, null, 2))), 3)
    assert.equal(ints.result(ints.init()), 0)
    assert.deepEqual(resolveAggregate('SUM', T.BIGINT).type, T.BIGINT)
    const decimals = resolveAggregate('SUM', T.decimal(6, 2))
    assert.deepEqual(decimals.type, T.decimal(6, 2))
    assert.equal(decimals.result(aggregate(decimals, values(0.1, 0.2))), 0.3)
    const doubles = resolveAggregate('SUM', T.DOUBLE)
    near(doubles.result(aggregate(doubles, values(0.5, 1.25))), 1.75)
  })

  test('INTEGER wraps around at 32 bits, as Java int arithmetic (ksqlDB)', () => {
    const ints = resolveAggregate('SUM', T.INTEGER)
    assert.equal(ints.result(aggregate(ints, values(2147483647, 1))), -2147483648)
  })

  test('a non-finite DOUBLE survives the JSON round trip', () => {
    const doubles = resolveAggregate('SUM', T.DOUBLE)
    assertRoundTrip(doubles, values(1, Number.POSITIVE_INFINITY, 2), 2)
    assert.equal(doubles.result(roundTrip(aggregate(doubles, values(1, Number.NaN)))), Number.NaN)
  })

  test('property: SUM after undoing some values equals SUM of the remaining ones', () => {
    const agg = resolveAggregate('SUM', T.BIGINT)
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.option(fc.integer({ min: -1e6, max: 1e6 })), fc.boolean()), { maxLength: 40 }),
        (rows) => {
          let acc = roundTrip(
            aggregate(
              agg,
              rows.map(([v]) => [[v]] as Rec),
            ),
          )
          for (const [v, gone] of rows) if (gone) acc = undo(agg, acc, [v])
          const remaining = rows.filter(([, gone]) => !gone).reduce((s, [v]) => s + (v ?? 0), 0)
          assert.equal(agg.result(acc), remaining)
        },
      ),
    )
  })

  test('merge, JSON round trip', () => {
    assertMerge(resolveAggregate('SUM', T.INTEGER), values(1, 2, null, 4))
    assertRoundTrip(resolveAggregate('SUM', T.DOUBLE), values(1.5, 2, null, 4))
  })
})

describe('AVG', () => {
  test('a DOUBLE; NULLs ignored; NULL for none', () => {
    const agg = resolveAggregate('AVG', T.INTEGER)
    assert.deepEqual(agg.type, T.DOUBLE)
    assert.equal(agg.result(aggregate(agg, values(1, 2, null, 6))), 3)
    assert.equal(agg.result(aggregate(agg, values(null))), null)
  })

  test('undo, merge, JSON round trip', () => {
    const agg = resolveAggregate('AVG', T.DOUBLE)
    assert.equal(agg.result(undo(agg, aggregate(agg, values(1, 2, 6)), [6])), 1.5)
    assert.equal(agg.result(undo(agg, aggregate(agg, values(1)), [1])), null)
    assertMerge(agg, values(1, 2, 6, 7))
    assertRoundTrip(agg, values(1, 2, 6, 7))
  })
})

describe('MIN and MAX', () => {
  test('numbers, strings, timestamps; NULLs ignored; NULL for none', () => {
    const max = resolveAggregate('MAX', T.INTEGER)
    assert.equal(max.result(aggregate(max, values(3, null, 9, 1))), 9)
    assert.equal(max.result(aggregate(max, values(null))), null)
    const min = resolveAggregate('MIN', T.STRING)
    assert.equal(min.result(aggregate(min, values('b', 'a', 'B'))), 'B')
    const latest = resolveAggregate('MAX', T.TIMESTAMP)
    assert.deepEqual(latest.type, T.TIMESTAMP)
    assert.equal(latest.result(aggregate(latest, values(5, 7, 6))), 7)
    assertCode(() => resolveAggregate('MAX', T.array(T.INTEGER)), 'OFA_SQL_FUNCTION')
  })

  test('NaN is the largest DOUBLE (Java order) and survives the JSON round trip', () => {
    const max = resolveAggregate('MAX', T.DOUBLE)
    assert.equal(max.result(roundTrip(aggregate(max, values(1, Number.NaN, 2)))), Number.NaN)
    const min = resolveAggregate('MIN', T.DOUBLE)
    assert.equal(min.result(roundTrip(aggregate(min, values(1, Number.NEGATIVE_INFINITY)))), Number.NEGATIVE_INFINITY)
  })

  test('no undo; merge, JSON round trip', () => {
    assert.equal(resolveAggregate('MIN', T.INTEGER).undo, undefined)
    assertMerge(resolveAggregate('MIN', T.INTEGER), values(3, 9, 1, 4))
    assertMerge(resolveAggregate('MAX', T.STRING), values('x', 'y', null, 'a'))
    assertRoundTrip(resolveAggregate('MAX', T.decimal(4, 1)), values(1.5, 9.5, 2.5))
  })
})

describe('LATEST_BY_OFFSET and EARLIEST_BY_OFFSET', () => {
  test('the value of the largest (smallest) offset; NULLs ignored unless ignoreNulls is false', () => {
    const latest = resolveAggregate('LATEST_BY_OFFSET', T.STRING)
    assert.equal(latest.result(aggregate(latest, values('a', 'b', null))), 'b')
    const latestNulls = resolveAggregate('LATEST_BY_OFFSET', T.STRING, T.BOOLEAN)
    assert.equal(latestNulls.result(aggregate(latestNulls, [[['a', false]], [[null, false]]])), null)
    assert.equal(latestNulls.result(aggregate(latestNulls, [[['a', true]], [[null, true]]])), 'a')
    const earliest = resolveAggregate('EARLIEST_BY_OFFSET', T.STRING)
    assert.equal(earliest.result(aggregate(earliest, values(null, 'a', 'b'))), 'a')
    assert.equal(earliest.result(earliest.init()), null)
  })

  test('offsets decide, not arrival', () => {
    const latest = resolveAggregate('LATEST_BY_OFFSET', T.INTEGER)
    assert.equal(
      latest.result(
        aggregate(latest, [
          [[1], { offset: 10 }],
          [[2], { offset: 5 }],
        ]),
      ),
      1,
    )
    const earliest = resolveAggregate('EARLIEST_BY_OFFSET', T.INTEGER)
    assert.equal(
      earliest.result(
        aggregate(earliest, [
          [[1], { offset: 10 }],
          [[2], { offset: 5 }],
        ]),
      ),
      2,
    )
  })

  test('with n: the latest (earliest) n values as an array, oldest first', () => {
    const latest = resolveAggregate('LATEST_BY_OFFSET', T.INTEGER, T.INTEGER)
    assert.deepEqual(latest.type, T.array(T.INTEGER))
    assert.deepEqual(latest.result(aggregate(latest, [[[1, 2]], [[2, 2]], [[3, 2]], [[null, 2]]])), [2, 3])
    const withNulls = resolveAggregate('LATEST_BY_OFFSET', T.INTEGER, T.INTEGER, T.BOOLEAN)
    assert.deepEqual(withNulls.result(aggregate(withNulls, [[[1, 2, false]], [[2, 2, false]], [[null, 2, false]]])), [
      2,
      null,
    ])
    const earliest = resolveAggregate('EARLIEST_BY_OFFSET', T.INTEGER, T.INTEGER)
    assert.deepEqual(earliest.result(aggregate(earliest, [[[1, 2]], [[2, 2]], [[3, 2]]])), [1, 2])
    assertCode(() => aggregate(latest, [[[1, 0]]]), 'OFA_SQL_VALUE', /count must be a whole number/)
  })

  test('no undo; merge, JSON round trip (structured values too)', () => {
    const latest = resolveAggregate('LATEST_BY_OFFSET', T.map(T.STRING, T.BYTES))
    assert.equal(latest.undo, undefined)
    const m = (k: string, b: number) => new Map([[k, new Uint8Array([b])]])
    assertRoundTrip(latest, values(m('a', 1), m('b', 2), null), 1)
    assertMerge(latest, values(m('a', 1), m('b', 2), null))
    const earliest = resolveAggregate('EARLIEST_BY_OFFSET', T.DOUBLE)
    assertMerge(earliest, values(null, 1.5, 2.5))
    const n = resolveAggregate('EARLIEST_BY_OFFSET', T.STRING, T.INTEGER)
    assertMerge(n, [[['a', 2]], [['b', 2]], [['c', 2]]], 1)
    assertRoundTrip(resolveAggregate('LATEST_BY_OFFSET', T.STRING, T.INTEGER), [[['a', 2]], [['b', 2]], [['c', 2]]], 1)
  })
})

describe('COLLECT_LIST and COLLECT_SET', () => {
  test('COLLECT_LIST: every value in arrival order, NULLs included', () => {
    const agg = resolveAggregate('COLLECT_LIST', T.INTEGER)
    assert.deepEqual(agg.type, T.array(T.INTEGER))
    assert.deepEqual(agg.result(aggregate(agg, values(1, null, 1, 2))), [1, null, 1, 2])
  })

  test(`COLLECT_SET: the distinct values in order of first arrival, NULL once`, () => {
    const agg = resolveAggregate('COLLECT_SET', T.STRING)
    assert.deepEqual(agg.result(aggregate(agg, values('b', 'a', null, 'b', null))), ['b', 'a', null])
    const numbers = resolveAggregate('COLLECT_SET', T.INTEGER)
    assert.deepEqual(numbers.result(aggregate(numbers, values(10, 2, 10, 1))), [10, 2, 1])
  })

  test(`at most ${COLLECTION_LIMIT} entries, later ones ignored`, () => {
    const list = resolveAggregate('COLLECT_LIST', T.INTEGER)
    const many = Array.from({ length: COLLECTION_LIMIT + 5 }, (_, n) => n)
    const got = list.result(aggregate(list, values(...many))) as number[]
    assert.equal(got.length, COLLECTION_LIMIT)
    assert.equal(got[COLLECTION_LIMIT - 1], COLLECTION_LIMIT - 1)
    const set = resolveAggregate('COLLECT_SET', T.INTEGER)
    assert.equal((set.result(aggregate(set, values(...many, 0))) as number[]).length, COLLECTION_LIMIT)
  })

  test('undo: COLLECT_LIST removes the last occurrence; COLLECT_SET a value once its every record is undone', () => {
    const list = resolveAggregate('COLLECT_LIST', T.INTEGER)
    assert.deepEqual(list.result(undo(list, aggregate(list, values(1, 2, 1, 3)), [1])), [1, 2, 3])
    const set = resolveAggregate('COLLECT_SET', T.INTEGER)
    let acc = aggregate(set, values(1, 2, 1))
    acc = undo(set, acc, [1])
    assert.deepEqual(set.result(acc), [1, 2])
    acc = undo(set, acc, [1])
    assert.deepEqual(set.result(acc), [2])
  })

  test('merge, JSON round trip (BYTES and STRUCT values)', () => {
    const list = resolveAggregate('COLLECT_LIST', T.BYTES)
    assertRoundTrip(list, values(new Uint8Array([1]), null, new Uint8Array([2, 3])))
    assertMerge(list, values(new Uint8Array([1]), null, new Uint8Array([2, 3])))
    const point = T.struct([{ name: 'X', type: T.INTEGER }])
    const set = resolveAggregate('COLLECT_SET', point)
    const p = (x: number) => Object.assign(Object.create(null), { X: x })
    assertRoundTrip(set, values(p(1), p(2), p(1)))
    assertMerge(set, values(p(1), p(2), p(1), p(3)))
  })
})

describe('HISTOGRAM', () => {
  test('each distinct string and its count; NULLs ignored', () => {
    const agg = resolveAggregate('HISTOGRAM', T.STRING)
    assert.deepEqual(agg.type, T.map(T.STRING, T.BIGINT))
    assert.deepEqual(
      agg.result(aggregate(agg, values('READY', 'ACTIVE', null, 'ACTIVE', '__proto__', '12'))),
      new Map([
        ['READY', 1],
        ['ACTIVE', 2],
        ['__proto__', 1],
        ['12', 1],
      ]),
    )
  })

  test(`at most ${COLLECTION_LIMIT} strings; undo, merge, JSON round trip`, () => {
    const agg = resolveAggregate('HISTOGRAM', T.STRING)
    const many = Array.from({ length: COLLECTION_LIMIT + 1 }, (_, n) => `s${n}`)
    assert.equal((agg.result(aggregate(agg, values(...many))) as Map<string, number>).size, COLLECTION_LIMIT)
    let acc = aggregate(agg, values('a', 'b', 'a'))
    acc = undo(agg, acc, ['a'])
    acc = undo(agg, acc, ['b'])
    assert.deepEqual(agg.result(acc), new Map([['a', 1]]))
    assertMerge(agg, values('a', 'b', 'a', 'c'))
    assertRoundTrip(agg, values('a', 'b', 'a', 'c'))
  })
})

describe('TOPK and TOPKDISTINCT', () => {
  test('the k largest, largest first; TOPKDISTINCT without repeats; NULLs ignored', () => {
    const top = resolveAggregate('TOPK', T.INTEGER, T.INTEGER)
    assert.deepEqual(top.type, T.array(T.INTEGER))
    const rows = [5, 1, 9, null, 3, 9].map((v) => [[v, 3]] as Rec)
    assert.deepEqual(top.result(aggregate(top, rows)), [9, 9, 5])
    const distinct = resolveAggregate('TOPKDISTINCT', T.INTEGER, T.INTEGER)
    assert.deepEqual(distinct.result(aggregate(distinct, rows)), [9, 5, 3])
    const strings = resolveAggregate('TOPK', T.STRING, T.INTEGER)
    assert.deepEqual(strings.result(aggregate(strings, [[['a', 2]], [['c', 2]], [['b', 2]]])), ['c', 'b'])
  })

  test('k must be 1 or more', () => {
    const top = resolveAggregate('TOPK', T.INTEGER, T.INTEGER)
    assertCode(() => aggregate(top, [[[1, 0]]]), 'OFA_SQL_VALUE')
    assertCode(() => aggregate(top, [[[1, null]]]), 'OFA_SQL_VALUE')
  })

  test('no undo; merge, JSON round trip', () => {
    const rows = [5, 1, 9, 3, 9, 7].map((v) => [[v, 3]] as Rec)
    const top = resolveAggregate('TOPK', T.DOUBLE, T.INTEGER)
    assert.equal(top.undo, undefined)
    assertMerge(top, rows)
    assertRoundTrip(top, rows)
    const distinct = resolveAggregate('TOPKDISTINCT', T.INTEGER, T.INTEGER)
    assertMerge(distinct, rows)
    assertRoundTrip(distinct, rows)
  })
})

describe('STDDEV_SAMP and STDDEV_SAMPLE', () => {
  const data = values(2, 4, 4, 4, 5, 5, 7, 9)

  test('STDDEV_SAMPLE: the sample standard deviation; STDDEV_SAMP: its square, as ksqlDB documents', () => {
    const sample = resolveAggregate('STDDEV_SAMPLE', T.INTEGER)
    near(sample.result(aggregate(sample, data)), Math.sqrt(32 / 7))
    const samp = resolveAggregate('STDDEV_SAMP', T.INTEGER)
    near(samp.result(aggregate(samp, data)), 32 / 7)
  })

  test('NULL for no value, 0 for one; NULLs ignored', () => {
    const agg = resolveAggregate('STDDEV_SAMPLE', T.DOUBLE)
    assert.equal(agg.result(agg.init()), null)
    assert.equal(agg.result(aggregate(agg, values(3, null))), 0)
  })

  test('undo, merge, JSON round trip', () => {
    const agg = resolveAggregate('STDDEV_SAMPLE', T.DOUBLE)
    near(agg.result(undo(agg, aggregate(agg, values(2, 4, 4, 4, 5, 5, 7, 9, 100)), [100])), Math.sqrt(32 / 7), 1e-9)
    assert.equal(agg.result(undo(agg, aggregate(agg, values(3)), [3])), null)
    const merge = agg.merge as NonNullable<ResolvedAggregate['merge']>
    near(agg.result(merge(aggregate(agg, data.slice(0, 3)), aggregate(agg, data.slice(3)))), Math.sqrt(32 / 7))
    assertRoundTrip(agg, data)
  })
})
