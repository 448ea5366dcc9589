// The industrial aggregates, with figures computed by hand: a value holds from its record's timestamp until the next
// record's, the last one until the window end when the engine gives it.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { REORDER_SAMPLES } from '../../src/functions/industrial-aggregates.ts'
import type { ResolvedAggregate } from '../../src/functions/registry.ts'
import type { SqlValue } from '../../src/types.ts'
import { aggregate, assertCode, near, type Rec, resolveAggregate, roundTrip, T } from './helpers.ts'

/** Samples: [value, timestamp], with an optional window end for all of them. */
function samples(rows: readonly (readonly [SqlValue, number])[], windowEnd?: number, ...more: SqlValue[]): Rec[] {
  return rows.map(([v, t]) => [[v, ...more], windowEnd === undefined ? { timestamp: t } : { timestamp: t, windowEnd }])
}

function merge(agg: ResolvedAggregate, a: unknown, b: unknown): unknown {
  return (agg.merge as NonNullable<ResolvedAggregate['merge']>)(a, b)
}

const MIN = 60_000

describe('TIME_WEIGHTED_AVG', () => {
  const twa = resolveAggregate('TIME_WEIGHTED_AVG', T.INTEGER)

  test('10 held 2 s then 20 held 1 s until the window end: (10×2 + 20×1) / 3 = 13.333...', () => {
    assert.deepEqual(twa.type, T.DOUBLE)
    const acc = aggregate(
      twa,
      samples(
        [
          [10, 0],
          [20, 2000],
        ],
        3000,
      ),
    )
    near(twa.result(acc), 40 / 3)
  })

  test('without a window end, the last value has held for no time yet: 10', () => {
    assert.equal(
      twa.result(
        aggregate(
          twa,
          samples([
            [10, 0],
            [20, 2000],
          ]),
        ),
      ),
      10,
    )
  })

  test('one sample: its value; none: NULL', () => {
    assert.equal(twa.result(aggregate(twa, samples([[7, 100]]))), 7)
    assert.equal(twa.result(twa.init()), null)
    assert.equal(twa.result(aggregate(twa, samples([[null, 100]]))), null)
  })

  test('NULL (unavailable) time is counted for nothing: 10 for 1 s, unknown for 2 s, 20 for 1 s → 15', () => {
    const acc = aggregate(
      twa,
      samples(
        [
          [10, 0],
          [null, 1000],
          [20, 3000],
        ],
        4000,
      ),
    )
    assert.equal(twa.result(acc), 15)
  })

  test('a record arriving late takes its place among the kept samples', () => {
    const inOrder = aggregate(
      twa,
      samples(
        [
          [10, 0],
          [30, 1000],
          [20, 2000],
        ],
        3000,
      ),
    )
    const late = aggregate(
      twa,
      samples(
        [
          [10, 0],
          [20, 2000],
          [30, 1000],
        ],
        3000,
      ),
    )
    assert.equal(twa.result(late), twa.result(inOrder))
    assert.equal(twa.result(late), 20)
  })

  test(`a record older than the ${REORDER_SAMPLES} kept samples is ignored`, () => {
    const rows: [SqlValue, number][] = Array.from({ length: REORDER_SAMPLES + 2 }, (_, n) => [10, n * 1000])
    const acc = aggregate(twa, samples([...rows, [1000, 500]]))
    assert.equal(twa.result(acc), 10)
    const kept = aggregate(twa, samples([...rows, [1000, (REORDER_SAMPLES + 1) * 1000 - 500]]))
    assert.ok((twa.result(kept) as number) > 10)
  })

  test('the JSON round trip continues exactly', () => {
    const rows = samples(
      Array.from({ length: 40 }, (_, n) => [n % 7, n * 250 + (n % 3) * 10] as const),
      12_000,
    )
    const straight = twa.result(aggregate(twa, rows))
    const half = roundTrip(aggregate(twa, rows.slice(0, 23)))
    const rest = roundTrip(aggregate(twa, rows.slice(23), half))
    assert.equal(twa.result(rest), straight)
  })

  test('merge (session windows): the earlier session holds its last value until the later one starts', () => {
    const a = aggregate(
      twa,
      samples([
        [10, 0],
        [20, 1000],
      ]),
    )
    const b = roundTrip(
      aggregate(
        twa,
        samples([
          [30, 5000],
          [40, 6000],
        ]),
      ),
    )
    // 10 for 1 s, 20 for 4 s, 30 for 1 s: 120 / 6.
    assert.equal(twa.result(merge(twa, a, b)), 20)
    assert.equal(
      twa.result(
        merge(
          twa,
          roundTrip(b),
          aggregate(
            twa,
            samples([
              [10, 0],
              [20, 1000],
            ]),
          ),
        ),
      ),
      20,
    )
  })

  test('property: merging two consecutive sessions equals adding all their records', () => {
    const sample = fc.tuple(
      fc.option(fc.integer({ min: -100, max: 100 }), { freq: 5 }),
      fc.integer({ min: 1, max: 5000 }),
    )
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: 30 }), fc.nat(30), (steps, cut) => {
        const rows: [SqlValue, number][] = []
        let t = 0
        for (const [v, dt] of steps) {
          t += dt
          rows.push([v, t])
        }
        const at = Math.min(cut, rows.length)
        const all = twa.result(aggregate(twa, samples(rows)))
        const merged = twa.result(
          merge(twa, aggregate(twa, samples(rows.slice(0, at))), roundTrip(aggregate(twa, samples(rows.slice(at))))),
        )
        if (all === null) assert.equal(merged, null)
        else near(merged, all as number, 1e-9)
      }),
    )
  })

  test('no undo (a table row replaced is not a sample taken back)', () => {
    assert.equal(twa.undo, undefined)
  })
})

// An MTConnect Execution over two minutes: ACTIVE 1 min, READY 30 s, ACTIVE 30 s.
const EXECUTION: [SqlValue, number][] = [
  ['ACTIVE', 0],
  ['READY', MIN],
  ['ACTIVE', 1.5 * MIN],
]

describe('TIME_IN_STATE and TIME_IN_STATES', () => {
  test('ms a value spent in a state: ACTIVE 1 min + 30 s = 90 000 ms', () => {
    const agg = resolveAggregate('TIME_IN_STATE', T.STRING, T.STRING)
    assert.deepEqual(agg.type, T.BIGINT)
    assert.equal(agg.result(aggregate(agg, samples(EXECUTION, 2 * MIN, 'ACTIVE'))), 90_000)
    assert.equal(agg.result(aggregate(agg, samples(EXECUTION, 2 * MIN, 'READY'))), 30_000)
    assert.equal(agg.result(aggregate(agg, samples(EXECUTION, 2 * MIN, 'STOPPED'))), 0)
  })

  test('UNAVAILABLE and NULL time is in no state', () => {
    const agg = resolveAggregate('TIME_IN_STATES', T.STRING)
    assert.deepEqual(agg.type, T.map(T.STRING, T.BIGINT))
    const rows = samples([...EXECUTION, ['UNAVAILABLE', 1.75 * MIN], [null, 1.8 * MIN]], 2 * MIN)
    assert.deepEqual(
      agg.result(aggregate(agg, rows)),
      new Map([
        ['ACTIVE', 75_000],
        ['READY', 30_000],
      ]),
    )
  })

  test('states that are not strings are keyed by their text', () => {
    const agg = resolveAggregate('TIME_IN_STATES', T.BOOLEAN)
    assert.deepEqual(
      agg.result(
        aggregate(
          agg,
          samples(
            [
              [true, 0],
              [false, 1000],
            ],
            4000,
          ),
        ),
      ),
      new Map([
        ['true', 1000],
        ['false', 3000],
      ]),
    )
  })

  test('merge, JSON round trip', () => {
    const agg = resolveAggregate('TIME_IN_STATES', T.STRING)
    const a = aggregate(agg, samples(EXECUTION.slice(0, 2)))
    const b = roundTrip(aggregate(agg, samples(EXECUTION.slice(2), 2 * MIN)))
    assert.deepEqual(agg.result(merge(agg, a, b)), agg.result(aggregate(agg, samples(EXECUTION, 2 * MIN))))
    const one = resolveAggregate('TIME_IN_STATE', T.STRING, T.STRING)
    const half = roundTrip(aggregate(one, samples(EXECUTION.slice(0, 2), undefined, 'ACTIVE')))
    assert.equal(one.result(aggregate(one, samples(EXECUTION.slice(2), 2 * MIN, 'ACTIVE'), half)), 90_000)
  })
})

describe('OEE_AVAILABILITY', () => {
  test('the fraction of time running: ACTIVE 90 s of 120 s = 0.75 (ACTIVE by default)', () => {
    const agg = resolveAggregate('OEE_AVAILABILITY', T.STRING)
    assert.deepEqual(agg.type, T.DOUBLE)
    assert.equal(agg.result(aggregate(agg, samples(EXECUTION, 2 * MIN))), 0.75)
  })

  test('unknown time (UNAVAILABLE, NULL) is left out of the denominator', () => {
    const agg = resolveAggregate('OEE_AVAILABILITY', T.STRING)
    // ACTIVE 60 s, UNAVAILABLE 30 s, READY 30 s: 60 / 90.
    const rows = samples(
      [
        ['ACTIVE', 0],
        ['UNAVAILABLE', MIN],
        ['READY', 1.5 * MIN],
      ],
      2 * MIN,
    )
    near(agg.result(aggregate(agg, rows)), 2 / 3)
    assert.equal(agg.result(aggregate(agg, samples([['UNAVAILABLE', 0]], MIN))), null)
  })

  test('running values given: OEE_AVAILABILITY(execution, ACTIVE, INTERRUPTED)', () => {
    const agg = resolveAggregate('OEE_AVAILABILITY', T.STRING, T.STRING, T.STRING)
    const rows = samples(
      [
        ['ACTIVE', 0],
        ['INTERRUPTED', MIN],
        ['STOPPED', 1.5 * MIN],
      ],
      2 * MIN,
      'ACTIVE',
      'INTERRUPTED',
    )
    assert.equal(agg.result(aggregate(agg, rows)), 0.75)
  })

  test('a BOOLEAN running flag', () => {
    const agg = resolveAggregate('OEE_AVAILABILITY', T.BOOLEAN)
    assert.equal(
      agg.result(
        aggregate(
          agg,
          samples(
            [
              [true, 0],
              [false, 3000],
            ],
            4000,
          ),
        ),
      ),
      0.75,
    )
    assert.equal(agg.result(agg.init()), null)
  })

  test('merge, JSON round trip', () => {
    const agg = resolveAggregate('OEE_AVAILABILITY', T.STRING)
    const a = aggregate(agg, samples(EXECUTION.slice(0, 1)))
    const b = roundTrip(aggregate(agg, samples(EXECUTION.slice(1), 2 * MIN)))
    assert.equal(agg.result(merge(agg, a, b)), 0.75)
    const half = roundTrip(aggregate(agg, samples(EXECUTION.slice(0, 2))))
    assert.equal(agg.result(aggregate(agg, samples(EXECUTION.slice(2), 2 * MIN), half)), 0.75)
  })
})

describe('DEADBAND', () => {
  test('a number is reported when it moved more than the band from the last reported one', () => {
    const agg = resolveAggregate('DEADBAND', T.DOUBLE, T.DOUBLE)
    assert.deepEqual(agg.type, T.DOUBLE)
    const reported: SqlValue[] = []
    let acc = agg.init()
    for (const v of [10, 10.4, 10.6, 11.2, 10.5, 10.9]) {
      acc = roundTrip(agg.add(acc, [v, 0.5], { timestamp: 0 }))
      reported.push(agg.result(acc))
    }
    assert.deepEqual(reported, [10, 10, 10.6, 11.2, 10.5, 10.5])
  })

  test('an INTEGER value keeps its type; a band of exactly the move does not report', () => {
    const agg = resolveAggregate('DEADBAND', T.INTEGER, T.INTEGER)
    assert.deepEqual(agg.type, T.INTEGER)
    assert.equal(agg.result(aggregate(agg, [[[100, 5]], [[105, 5]]])), 100)
    assert.equal(agg.result(aggregate(agg, [[[100, 5]], [[106, 5]]])), 106)
  })

  test('any other value is reported when it changed', () => {
    const agg = resolveAggregate('DEADBAND', T.STRING)
    assert.equal(agg.result(aggregate(agg, [[['A']], [['A']], [['B']]])), 'B')
  })

  test('NULL is a change reported; a NULL band is 0; a negative band is refused', () => {
    const agg = resolveAggregate('DEADBAND', T.DOUBLE, T.DOUBLE)
    assert.equal(agg.result(aggregate(agg, [[[1, 0.5]], [[null, 0.5]]])), null)
    assert.equal(agg.result(aggregate(agg, [[[1, 0.5]], [[null, 0.5]], [[1.1, 0.5]]])), 1.1)
    assert.equal(agg.result(aggregate(agg, [[[1, null]], [[1.01, null]]])), 1.01)
    assertCode(() => aggregate(agg, [[[1, -1]], [[2, -1]]]), 'OFA_SQL_VALUE', /must not be negative/)
    assert.equal(agg.undo, undefined)
    assert.equal(agg.merge, undefined)
  })
})
