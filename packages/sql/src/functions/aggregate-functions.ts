/**
 * ksqlDB's aggregate functions (docs: "Aggregate functions"), over the `Aggregate` interface (registry.ts). NULL
 * values are ignored unless a function says otherwise; accumulators are plain JSON (values.ts).
 *
 * Where we differ from ksqlDB, on purpose:
 * - COUNT_DISTINCT is exact (ksqlDB estimates with HyperLogLog, about 2% off): it keeps one key per distinct value.
 * - More functions can be undone (aggregate a table) and merged (session windows) than ksqlDB allows: every one
 *   whose accumulator holds enough to do it exactly. MIN, MAX, TOPK, TOPKDISTINCT, LATEST_BY_OFFSET and
 *   EARLIEST_BY_OFFSET cannot be undone (the value before the one taken back is gone).
 *
 * As ksqlDB, and maybe not what one expects:
 * - SUM of INTEGER wraps around at 32 bits (Java `int` arithmetic); SUM of no value is 0.
 * - STDDEV_SAMP returns the sample variance (ksqlDB documents this: STDDEV_SAMP is the square of the standard
 *   deviation); STDDEV_SAMPLE returns the sample standard deviation.
 * - COLLECT_LIST, COLLECT_SET and HISTOGRAM keep at most 1000 entries (ksqlDB's `ksql.functions.collect_list.limit`
 *   and `collect_set.limit`, 1000 in Confluent Cloud; HISTOGRAM's fixed limit): values past it are ignored.
 */
import { OpenFactoryError } from '@openfactory/model'
import { compareValues, equalValues, valueKey } from '../cast.ts'
import { type SqlType, type SqlValue, SqlType as Types } from '../types.ts'
import { codecOf, decodeDouble, encodeDouble, type JsonValue } from '../values.ts'
import { roundHalfUp } from './numbers.ts'
import type { Aggregate, AggregateRow, AggregateSignature, AggregateSpec, BoundTypes } from './registry.ts'
import { P } from './signature.ts'

/** The most entries COLLECT_LIST, COLLECT_SET and HISTOGRAM keep. */
export const COLLECTION_LIMIT = 1000

function argType(t: BoundTypes, i = 0): SqlType | null {
  return t.argTypes[i] ?? null
}

/** A positive whole number from a literal argument (TOPK's k, LATEST_BY_OFFSET's n). */
function countArg(name: string, v: SqlValue): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new OpenFactoryError(
      'OFA_SQL_VALUE',
      `${name}: the count must be a whole number of 1 or more, not ${String(v)}`,
    )
  }
  return v
}

/** Where a record stands in its partition: its offset, or its timestamp when the engine gives no offset. */
function positionOf(row: AggregateRow): number {
  return row.offset ?? row.timestamp
}

// ---------------------------------------------------------------------------------------------------------------
// COUNT, SUM, AVG

const count: Aggregate<number> = {
  init: () => 0,
  add: (acc, args) => (args.length === 0 || args[0] !== null ? acc + 1 : acc),
  undo: (acc, args) => (args.length === 0 || args[0] !== null ? acc - 1 : acc),
  merge: (a, b) => a + b,
  result: (acc) => acc,
}

type SumAcc = number | string

function sumOf(type: SqlType): Aggregate<SumAcc> {
  switch (type.kind) {
    case 'INTEGER':
      return {
        init: () => 0,
        add: (acc, [v]) => (v === null ? acc : ((acc as number) + (v as number)) | 0),
        undo: (acc, [v]) => (v === null ? acc : ((acc as number) - (v as number)) | 0),
        merge: (a, b) => ((a as number) + (b as number)) | 0,
        result: (acc) => acc as number,
      }
    case 'DECIMAL': {
      const scale = type.scale
      return {
        init: () => 0,
        add: (acc, [v]) => (v === null ? acc : roundHalfUp((acc as number) + (v as number), scale)),
        undo: (acc, [v]) => (v === null ? acc : roundHalfUp((acc as number) - (v as number), scale)),
        merge: (a, b) => roundHalfUp((a as number) + (b as number), scale),
        result: (acc) => acc as number,
      }
    }
    default:
      return {
        init: () => 0,
        add: (acc, [v]) => (v === null ? acc : encodeDouble(decodeDouble(acc) + (v as number))),
        undo: (acc, [v]) => (v === null ? acc : encodeDouble(decodeDouble(acc) - (v as number))),
        merge: (a, b) => encodeDouble(decodeDouble(a) + decodeDouble(b)),
        result: (acc) => decodeDouble(acc),
      }
  }
}

/** AVG: [sum, count]. */
type AvgAcc = [number | string, number]

const avg: Aggregate<AvgAcc> = {
  init: () => [0, 0],
  add: (acc, [v]) => (v === null ? acc : [encodeDouble(decodeDouble(acc[0]) + (v as number)), acc[1] + 1]),
  undo: (acc, [v]) => (v === null ? acc : [encodeDouble(decodeDouble(acc[0]) - (v as number)), acc[1] - 1]),
  merge: (a, b) => [encodeDouble(decodeDouble(a[0]) + decodeDouble(b[0])), a[1] + b[1]],
  result: (acc) => (acc[1] === 0 ? null : decodeDouble(acc[0]) / acc[1]),
}

// ---------------------------------------------------------------------------------------------------------------
// MIN, MAX

function extreme(type: SqlType, sign: 1 | -1): Aggregate<JsonValue> {
  const { encode, decode } = codecOf(type)
  const better = (v: SqlValue, acc: JsonValue): boolean =>
    acc === null || sign * compareValues(v, decode(acc), type) > 0
  return {
    init: () => null,
    add: (acc, [v]) => (v === null || v === undefined || !better(v, acc) ? acc : encode(v)),
    merge: (a, b) => (b === null || !better(decode(b), a) ? a : b),
    result: (acc) => decode(acc),
  }
}

// ---------------------------------------------------------------------------------------------------------------
// STDDEV_SAMP, STDDEV_SAMPLE: Welford's running mean and sum of squared deviations; undo reverses a step, merge is
// Chan's parallel formula.

/** [count, mean, sum of squared deviations from the mean]. */
type MomentsAcc = [number, number | string, number | string]

function moments(root: boolean): Aggregate<MomentsAcc> {
  return {
    init: () => [0, 0, 0],
    add: (acc, [v]) => {
      if (v === null) return acc
      const x = v as number
      const n = acc[0] + 1
      const mean = decodeDouble(acc[1])
      const next = mean + (x - mean) / n
      return [n, encodeDouble(next), encodeDouble(decodeDouble(acc[2]) + (x - mean) * (x - next))]
    },
    undo: (acc, [v]) => {
      if (v === null || acc[0] === 0) return acc
      const x = v as number
      const n = acc[0] - 1
      if (n === 0) return [0, 0, 0]
      const mean = decodeDouble(acc[1])
      const prev = (mean * acc[0] - x) / n
      return [n, encodeDouble(prev), encodeDouble(Math.max(0, decodeDouble(acc[2]) - (x - prev) * (x - mean)))]
    },
    merge: (a, b) => {
      if (a[0] === 0) return b
      if (b[0] === 0) return a
      const n = a[0] + b[0]
      const ma = decodeDouble(a[1])
      const d = decodeDouble(b[1]) - ma
      const m2 = decodeDouble(a[2]) + decodeDouble(b[2]) + (d * d * a[0] * b[0]) / n
      return [n, encodeDouble(ma + (d * b[0]) / n), encodeDouble(m2)]
    },
    result: (acc) => {
      if (acc[0] === 0) return null
      if (acc[0] === 1) return 0
      const variance = Math.max(0, decodeDouble(acc[2])) / (acc[0] - 1)
      return root ? Math.sqrt(variance) : variance
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// COUNT_DISTINCT, COLLECT_LIST, COLLECT_SET, HISTOGRAM

/** COUNT_DISTINCT: how many values per distinct value's key, and how many keys. */
interface DistinctAcc {
  n: number
  c: Record<string, number>
}

const countDistinct: Aggregate<DistinctAcc> = {
  init: () => ({ n: 0, c: {} }),
  add: (acc, [v]) => {
    if (v === null || v === undefined) return acc
    const k = valueKey(v)
    const c = acc.c[k]
    if (c === undefined) acc.n++
    acc.c[k] = (c ?? 0) + 1
    return acc
  },
  undo: (acc, [v]) => {
    if (v === null || v === undefined) return acc
    const k = valueKey(v)
    const c = acc.c[k]
    if (c === undefined) return acc
    if (c <= 1) {
      delete acc.c[k]
      acc.n--
    } else acc.c[k] = c - 1
    return acc
  },
  merge: (a, b) => {
    for (const [k, c] of Object.entries(b.c)) {
      const x = a.c[k]
      if (x === undefined) a.n++
      a.c[k] = (x ?? 0) + c
    }
    return a
  },
  result: (acc) => acc.n,
}

function collectList(type: SqlType | null): Aggregate<JsonValue[]> {
  const { encode, decode } = codecOf(type)
  return {
    init: () => [],
    add: (acc, [v]) => {
      if (acc.length < COLLECTION_LIMIT) acc.push(encode(v ?? null))
      return acc
    },
    undo: (acc, [v]) => {
      const text = JSON.stringify(encode(v ?? null))
      for (let i = acc.length - 1; i >= 0; i--) {
        if (JSON.stringify(acc[i]) === text) {
          acc.splice(i, 1)
          break
        }
      }
      return acc
    },
    merge: (a, b) => a.concat(b).slice(0, COLLECTION_LIMIT),
    result: (acc) => acc.map(decode),
  }
}

/** COLLECT_SET: the distinct values in order of first occurrence, each with how many records gave it. */
interface SetAcc {
  n: number
  /** `'$' + valueKey(value)` (never an integer-like key, so insertion order holds) → [value, records]. */
  m: Record<string, [JsonValue, number]>
}

function collectSet(type: SqlType | null): Aggregate<SetAcc> {
  const { encode, decode } = codecOf(type)
  return {
    init: () => ({ n: 0, m: {} }),
    add: (acc, [v]) => {
      const k = `$${valueKey(v ?? null)}`
      const e = acc.m[k]
      if (e !== undefined) e[1]++
      else if (acc.n < COLLECTION_LIMIT) {
        acc.m[k] = [encode(v ?? null), 1]
        acc.n++
      }
      return acc
    },
    undo: (acc, [v]) => {
      const k = `$${valueKey(v ?? null)}`
      const e = acc.m[k]
      if (e === undefined) return acc
      if (e[1] <= 1) {
        delete acc.m[k]
        acc.n--
      } else e[1]--
      return acc
    },
    merge: (a, b) => {
      for (const [k, [v, c]] of Object.entries(b.m)) {
        const e = a.m[k]
        if (e !== undefined) e[1] += c
        else if (a.n < COLLECTION_LIMIT) {
          a.m[k] = [v, c]
          a.n++
        }
      }
      return a
    },
    result: (acc) => Object.values(acc.m).map((e) => decode(e[0])),
  }
}

/** HISTOGRAM: `'$' + value` → records, and how many values. */
interface HistogramAcc {
  n: number
  m: Record<string, number>
}

const histogram: Aggregate<HistogramAcc> = {
  init: () => ({ n: 0, m: {} }),
  add: (acc, [v]) => {
    if (v === null || v === undefined) return acc
    const k = `$${v as string}`
    const c = acc.m[k]
    if (c !== undefined) acc.m[k] = c + 1
    else if (acc.n < COLLECTION_LIMIT) {
      acc.m[k] = 1
      acc.n++
    }
    return acc
  },
  undo: (acc, [v]) => {
    if (v === null || v === undefined) return acc
    const k = `$${v as string}`
    const c = acc.m[k]
    if (c === undefined) return acc
    if (c <= 1) {
      delete acc.m[k]
      acc.n--
    } else acc.m[k] = c - 1
    return acc
  },
  merge: (a, b) => {
    for (const [k, c] of Object.entries(b.m)) {
      const x = a.m[k]
      if (x !== undefined) a.m[k] = x + c
      else if (a.n < COLLECTION_LIMIT) {
        a.m[k] = c
        a.n++
      }
    }
    return a
  },
  result: (acc) => {
    const out = new Map<string, SqlValue>()
    for (const [k, c] of Object.entries(acc.m)) out.set(k.slice(1), c)
    return out
  },
}

// ---------------------------------------------------------------------------------------------------------------
// TOPK, TOPKDISTINCT

/** The k largest values, largest first. */
interface TopAcc {
  k: number
  v: JsonValue[]
}

function topK(type: SqlType, distinctOnly: boolean, name: string): Aggregate<TopAcc> {
  const { encode, decode } = codecOf(type)
  const insert = (acc: TopAcc, v: SqlValue): void => {
    const xs = acc.v
    // Position: after every value not below v (ties keep arrival order).
    let lo = 0
    let hi = xs.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareValues(decode(xs[mid] as JsonValue), v, type) >= 0) lo = mid + 1
      else hi = mid
    }
    if (distinctOnly && lo > 0 && equalValues(decode(xs[lo - 1] as JsonValue), v)) return
    if (lo >= acc.k) return
    xs.splice(lo, 0, encode(v))
    if (xs.length > acc.k) xs.length = acc.k
  }
  return {
    init: () => ({ k: 0, v: [] }),
    add: (acc, args) => {
      acc.k = countArg(name, args[1] ?? null)
      const v = args[0] ?? null
      if (v !== null) insert(acc, v)
      return acc
    },
    merge: (a, b) => {
      a.k = Math.max(a.k, b.k)
      for (const x of b.v) insert(a, decode(x))
      return a
    },
    result: (acc) => acc.v.map(decode),
  }
}

// ---------------------------------------------------------------------------------------------------------------
// LATEST_BY_OFFSET, EARLIEST_BY_OFFSET

/** One value: [position, value], or null before any. */
type OneAcc = [number, JsonValue] | null

function byOffset(type: SqlType | null, latest: boolean, ignoreAt: number): Aggregate<OneAcc> {
  const { encode, decode } = codecOf(type)
  const wins = (pos: number, acc: OneAcc): boolean => acc === null || (latest ? pos >= acc[0] : pos < acc[0])
  return {
    init: () => null,
    add: (acc, args, row) => {
      const v = args[0] ?? null
      if (v === null && args[ignoreAt] !== false) return acc
      const pos = positionOf(row)
      return wins(pos, acc) ? [pos, encode(v)] : acc
    },
    merge: (a, b) => (b !== null && wins(b[0], a) ? b : a),
    result: (acc) => (acc === null ? null : decode(acc[1])),
  }
}

/** The n latest (or earliest) values: [position, value] pairs by position. */
type ManyAcc = { n: number; e: [number, JsonValue][] }

function nByOffset(type: SqlType | null, latest: boolean, name: string): Aggregate<ManyAcc> {
  const { encode, decode } = codecOf(type)
  const keep = (acc: ManyAcc): void => {
    if (acc.e.length > acc.n) acc.e = latest ? acc.e.slice(acc.e.length - acc.n) : acc.e.slice(0, acc.n)
  }
  const insert = (acc: ManyAcc, pos: number, v: JsonValue): void => {
    let i = acc.e.length
    while (i > 0 && (acc.e[i - 1] as [number, JsonValue])[0] > pos) i--
    acc.e.splice(i, 0, [pos, v])
    keep(acc)
  }
  return {
    init: () => ({ n: 0, e: [] }),
    add: (acc, args, row) => {
      acc.n = countArg(name, args[1] ?? null)
      const v = args[0] ?? null
      if (v === null && args[2] !== false) return acc
      insert(acc, positionOf(row), encode(v))
      return acc
    },
    merge: (a, b) => {
      a.n = Math.max(a.n, b.n)
      for (const [pos, v] of b.e) insert(a, pos, v)
      return a
    },
    result: (acc) => acc.e.map((e) => decode(e[1])),
  }
}

function byOffsetSpec(name: string, latest: boolean): AggregateSpec {
  const which = latest ? 'latest (largest offset)' : 'earliest (smallest offset)'
  const one = (t: BoundTypes, ignoreAt: number): Aggregate => byOffset(argType(t), latest, ignoreAt) as Aggregate
  const many = (t: BoundTypes): Aggregate => nByOffset(argType(t), latest, name) as Aggregate
  return {
    name,
    category: 'aggregate',
    description: `The ${which} value; with n, the ${latest ? 'latest' : 'earliest'} n values (oldest first). NULLs are skipped unless ignoreNulls is false.`,
    nulls: 'NULL values are ignored by default; with ignoreNulls false they count as values',
    undo: false,
    merge: true,
    signatures: [
      { params: [P.T], returns: P.T, create: (t) => one(t, 1) },
      {
        params: [P.T, P.BOOLEAN],
        names: [undefined, 'ignoreNulls'],
        returns: P.T,
        literals: [1],
        create: (t) => one(t, 1),
      },
      { params: [P.T, P.INTEGER], names: [undefined, 'n'], returns: P.array(P.T), literals: [1], create: many },
      {
        params: [P.T, P.INTEGER, P.BOOLEAN],
        names: [undefined, 'n', 'ignoreNulls'],
        returns: P.array(P.T),
        literals: [1, 2],
        create: many,
      },
    ],
  }
}

// ---------------------------------------------------------------------------------------------------------------

function numericSum(): AggregateSignature[] {
  const create = (t: BoundTypes): Aggregate => sumOf(t.returnType) as Aggregate
  return [
    { params: [P.INTEGER], returns: P.INTEGER, create },
    { params: [P.BIGINT], returns: P.BIGINT, create },
    { params: [P.D], returns: P.D, create },
    { params: [P.DOUBLE], returns: P.DOUBLE, create },
  ]
}

export const AGGREGATE_FUNCTIONS: readonly AggregateSpec[] = [
  {
    name: 'COUNT',
    category: 'aggregate',
    description: 'The number of records: COUNT(*) all of them, COUNT(col) those where col is not NULL.',
    nulls: 'COUNT(col) does not count NULLs',
    undo: true,
    merge: true,
    signatures: [
      { params: [], returns: P.BIGINT, create: () => count as Aggregate },
      { params: [P.T], returns: P.BIGINT, create: () => count as Aggregate },
    ],
  },
  {
    name: 'COUNT_DISTINCT',
    category: 'aggregate',
    description: 'The number of distinct values (exact: ksqlDB estimates it).',
    undo: true,
    merge: true,
    signatures: [{ params: [P.T], returns: P.BIGINT, create: () => countDistinct as Aggregate }],
  },
  {
    name: 'SUM',
    category: 'aggregate',
    description: 'The sum, of the type of its values (INTEGER wraps at 32 bits, as in ksqlDB); 0 for none.',
    undo: true,
    merge: true,
    signatures: numericSum(),
  },
  {
    name: 'AVG',
    category: 'aggregate',
    description: 'The mean, as a DOUBLE; NULL for none.',
    undo: true,
    merge: true,
    signatures: [{ params: [P.N], returns: P.DOUBLE, create: () => avg as Aggregate }],
  },
  {
    name: 'MIN',
    category: 'aggregate',
    description: 'The smallest value.',
    undo: false,
    merge: true,
    signatures: [{ params: [P.C], returns: P.C, create: (t) => extreme(t.returnType, -1) as Aggregate }],
  },
  {
    name: 'MAX',
    category: 'aggregate',
    description: 'The largest value.',
    undo: false,
    merge: true,
    signatures: [{ params: [P.C], returns: P.C, create: (t) => extreme(t.returnType, 1) as Aggregate }],
  },
  byOffsetSpec('LATEST_BY_OFFSET', true),
  byOffsetSpec('EARLIEST_BY_OFFSET', false),
  {
    name: 'COLLECT_LIST',
    category: 'aggregate',
    description: `The values in arrival order, NULLs included; at most ${COLLECTION_LIMIT} (later ones ignored).`,
    nulls: 'NULL values are collected',
    undo: true,
    merge: true,
    signatures: [{ params: [P.T], returns: P.array(P.T), create: (t) => collectList(argType(t)) as Aggregate }],
  },
  {
    name: 'COLLECT_SET',
    category: 'aggregate',
    description: `The distinct values in order of first arrival, NULL included; at most ${COLLECTION_LIMIT} (later ones ignored).`,
    nulls: 'NULL is collected as a value',
    undo: true,
    merge: true,
    signatures: [{ params: [P.T], returns: P.array(P.T), create: (t) => collectSet(argType(t)) as Aggregate }],
  },
  {
    name: 'HISTOGRAM',
    category: 'aggregate',
    description: `Each distinct string and how many records had it; at most ${COLLECTION_LIMIT} strings (later ones ignored).`,
    undo: true,
    merge: true,
    signatures: [{ params: [P.STRING], returns: P.map(P.BIGINT), create: () => histogram as Aggregate }],
  },
  {
    name: 'TOPK',
    category: 'aggregate',
    description: 'The k largest values, largest first (k a literal).',
    undo: false,
    merge: true,
    signatures: [
      {
        params: [P.C, P.INTEGER],
        names: [undefined, 'k'],
        returns: P.array(P.C),
        literals: [1],
        create: (t) => topK(t.bindings.get('C') ?? Types.STRING, false, 'TOPK') as Aggregate,
      },
    ],
  },
  {
    name: 'TOPKDISTINCT',
    category: 'aggregate',
    description: 'The k largest distinct values, largest first (k a literal).',
    undo: false,
    merge: true,
    signatures: [
      {
        params: [P.C, P.INTEGER],
        names: [undefined, 'k'],
        returns: P.array(P.C),
        literals: [1],
        create: (t) => topK(t.bindings.get('C') ?? Types.STRING, true, 'TOPKDISTINCT') as Aggregate,
      },
    ],
  },
  {
    name: 'STDDEV_SAMP',
    category: 'aggregate',
    description:
      'The sample variance (ksqlDB: STDDEV_SAMP returns the square of the standard deviation); 0 for one value.',
    undo: true,
    merge: true,
    signatures: [{ params: [P.N], returns: P.DOUBLE, create: () => moments(false) as Aggregate }],
  },
  {
    name: 'STDDEV_SAMPLE',
    category: 'aggregate',
    description: 'The sample standard deviation; 0 for one value.',
    undo: true,
    merge: true,
    signatures: [{ params: [P.N], returns: P.DOUBLE, create: () => moments(true) as Aggregate }],
  },
]
