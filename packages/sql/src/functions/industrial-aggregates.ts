/**
 * Aggregates for machine data, which ksqlDB and its peers lack. Machines report a value when it changes (MTConnect,
 * OPC UA subscriptions), so a value holds from its record's timestamp until the next record: averages and durations
 * must weigh each value by the time it held, not count records.
 *
 * Time-weighted aggregates (TIME_WEIGHTED_AVG, TIME_IN_STATE, TIME_IN_STATES, OEE_AVAILABILITY):
 * - Each sample (a record: its value and `row.timestamp`) holds from its timestamp until the next sample's.
 * - The last sample holds until the window's end when the engine passes `row.windowEnd` (windowed aggregations);
 *   otherwise until its own timestamp (it has held for no time yet), so an EMIT CHANGES row says what is known so far.
 *   Time before the first sample of the window is not counted: a value set before the window and unchanged through it
 *   gives no sample (carry it in with LATEST_BY_OFFSET over a longer window when it matters).
 * - NULL, and the string 'UNAVAILABLE' (MTConnect's word for a value the agent cannot get), are "unknown": the time
 *   they hold is counted in neither the numerator nor the denominator.
 * - Out-of-order records: the 16 latest samples are kept in timestamp order, so a record up to 16 samples late still
 *   takes its place; a record older than every kept sample is ignored (its interval was already counted).
 * - Merge (session windows): the earlier session's last sample holds until the later session's first.
 * - No undo: a table row replaced is not a sample taken back. Use them over streams.
 *
 * DEADBAND is not time-weighted: it reports a value only when it moved past a band from the last reported one, in
 * arrival order.
 */
import { OpenFactoryError } from '@openfactory/model'
import { valueText } from '../cast.ts'
import type { SqlType, SqlValue } from '../types.ts'
import type { JsonValue } from '../values.ts'
import type { Aggregate, AggregateRow, AggregateSpec } from './registry.ts'
import { P } from './signature.ts'

/** How many latest samples a time-weighted accumulator keeps in order. */
export const REORDER_SAMPLES = 16
/** The most distinct states TIME_IN_STATES keeps (later new states are ignored). */
export const STATES_LIMIT = 1000

/** A sample: [timestamp, value]; the value is a primitive (number, string, boolean) or null (unknown). */
type Sample = [number, string | number | boolean | null]

/** What a time-weighted aggregate adds up: `hold(w, v, ms)` adds a known value held for ms. */
interface Integrator<W> {
  readonly init: () => W
  readonly copy: (w: W) => W
  readonly hold: (w: W, v: string | number | boolean, ms: number, x: JsonValue) => void
  readonly merge: (a: W, b: W) => W
  readonly result: (w: W, x: JsonValue, last: Sample | null) => SqlValue
}

interface TimedAcc<W> {
  /** The kept samples, by timestamp. */
  b: Sample[]
  /** The sample before `b[0]` whose interval is not counted yet (folded samples before it are in `w`). */
  l: Sample | null
  /** The first sample's timestamp. */
  f: number | null
  /** The latest window end the engine gave. */
  e: number | null
  /** The aggregate's constant argument (the state, the running values). */
  x: JsonValue
  w: W
}

function known(v: Sample[1]): v is string | number | boolean {
  return v !== null && v !== 'UNAVAILABLE'
}

/** A sample's value as JSON: a non-finite number is unknown. */
function sampleValue(v: SqlValue | undefined): Sample[1] {
  if (v === null || v === undefined) return null
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  return typeof v === 'string' || typeof v === 'boolean' ? v : null
}

function timed<W>(
  integrator: Integrator<W>,
  value: (args: readonly SqlValue[]) => Sample[1],
  constant: (args: readonly SqlValue[]) => JsonValue,
): Aggregate<TimedAcc<W>> {
  const { hold } = integrator
  /** Counts `from` held until `to`. */
  const span = (w: W, from: Sample | null, to: number, x: JsonValue): void => {
    if (from !== null && known(from[1]) && to > from[0]) hold(w, from[1], to - from[0], x)
  }
  const foldAll = (acc: TimedAcc<W>): void => {
    for (const s of acc.b) {
      span(acc.w, acc.l, s[0], acc.x)
      acc.l = s
    }
    acc.b = []
  }
  return {
    init: () => ({ b: [], l: null, f: null, e: null, x: null, w: integrator.init() }),
    add: (acc, args, row: AggregateRow) => {
      if (acc.x === null) acc.x = constant(args)
      if (row.windowEnd !== undefined && (acc.e === null || row.windowEnd > acc.e)) acc.e = row.windowEnd
      const t = row.timestamp
      if (acc.l !== null && t < acc.l[0]) return acc
      const s: Sample = [t, value(args)]
      let i = acc.b.length
      while (i > 0 && (acc.b[i - 1] as Sample)[0] > t) i--
      acc.b.splice(i, 0, s)
      if (acc.f === null || t < acc.f) acc.f = t
      if (acc.b.length > REORDER_SAMPLES) {
        const first = acc.b.shift() as Sample
        span(acc.w, acc.l, first[0], acc.x)
        acc.l = first
      }
      return acc
    },
    merge: (a, b) => {
      const [early, late] = (a.f ?? Number.POSITIVE_INFINITY) <= (b.f ?? Number.POSITIVE_INFINITY) ? [a, b] : [b, a]
      foldAll(early)
      if (late.f !== null) span(early.w, early.l, late.f, early.x)
      return {
        b: late.b,
        l: late.l ?? (late.b.length === 0 ? early.l : null),
        f: early.f ?? late.f,
        e: early.e === null ? late.e : late.e === null ? early.e : Math.max(early.e, late.e),
        x: early.x ?? late.x,
        w: integrator.merge(early.w, late.w),
      }
    },
    result: (acc) => {
      const w = integrator.copy(acc.w)
      let prev = acc.l
      for (const s of acc.b) {
        span(w, prev, s[0], acc.x)
        prev = s
      }
      if (acc.e !== null) span(w, prev, acc.e, acc.x)
      return integrator.result(w, acc.x, prev)
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** TIME_WEIGHTED_AVG: [Σ value × ms, Σ ms]. */
const weightedAverage: Integrator<[number, number]> = {
  init: () => [0, 0],
  copy: (w) => [w[0], w[1]],
  hold: (w, v, ms) => {
    w[0] += (v as number) * ms
    w[1] += ms
  },
  merge: (a, b) => [a[0] + b[0], a[1] + b[1]],
  // No time held yet (one sample): the last known value.
  result: (w, _x, last) => (w[1] > 0 ? w[0] / w[1] : last !== null && known(last[1]) ? last[1] : null),
}

/** TIME_IN_STATE: ms in the state. */
const timeInState: Integrator<[number]> = {
  init: () => [0],
  copy: (w) => [w[0]],
  hold: (w, v, ms, x) => {
    if (v === x) w[0] += ms
  },
  merge: (a, b) => [a[0] + b[0]],
  result: (w) => w[0],
}

/** TIME_IN_STATES: ms per state (by its text), and how many states. */
const timeInStates: Integrator<{ n: number; m: Record<string, number> }> = {
  init: () => ({ n: 0, m: {} }),
  copy: (w) => ({ n: w.n, m: { ...w.m } }),
  hold: (w, v, ms) => {
    const k = `$${String(v)}`
    const c = w.m[k]
    if (c !== undefined) w.m[k] = c + ms
    else if (w.n < STATES_LIMIT) {
      w.m[k] = ms
      w.n++
    }
  },
  merge: (a, b) => {
    for (const [k, ms] of Object.entries(b.m)) {
      const c = a.m[k]
      if (c !== undefined) a.m[k] = c + ms
      else if (a.n < STATES_LIMIT) {
        a.m[k] = ms
        a.n++
      }
    }
    return a
  },
  result: (w) => {
    const out = new Map<string, SqlValue>()
    for (const [k, ms] of Object.entries(w.m)) out.set(k.slice(1), ms)
    return out
  },
}

/** OEE_AVAILABILITY: [ms running, ms known]; the constant is the list of running values. */
const availability: Integrator<[number, number]> = {
  init: () => [0, 0],
  copy: (w) => [w[0], w[1]],
  hold: (w, v, ms, x) => {
    if (v === true || (Array.isArray(x) && x.includes(v))) w[0] += ms
    w[1] += ms
  },
  merge: (a, b) => [a[0] + b[0], a[1] + b[1]],
  result: (w) => (w[1] > 0 ? w[0] / w[1] : null),
}

/** The text a state is known by in TIME_IN_STATES' map (as CAST to STRING writes it). */
function stateText(type: SqlType | null): (args: readonly SqlValue[]) => Sample[1] {
  return (args) => {
    const v = sampleValue(args[0])
    if (v === null || typeof v === 'string' || type === null) return v
    return valueText(v, type)
  }
}

const first = (args: readonly SqlValue[]): Sample[1] => sampleValue(args[0])

/** The running values of OEE_AVAILABILITY(state, running...): the arguments after the first, or 'ACTIVE'. */
function runningValues(args: readonly SqlValue[]): JsonValue {
  if (args.length < 2) return ['ACTIVE']
  const out: JsonValue[] = []
  for (let i = 1; i < args.length; i++) if (typeof args[i] === 'string') out.push(args[i] as string)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// DEADBAND

/** [reported yet, the value last reported]. */
type DeadbandAcc = [boolean, JsonValue]

function deadband(numeric: boolean): Aggregate<DeadbandAcc> {
  return {
    init: () => [false, null],
    add: (acc, args) => {
      const v = sampleValue(args[0])
      if (!acc[0]) return [true, v]
      const r = acc[1]
      if (v === null || r === null) return v === r ? acc : [true, v]
      if (numeric) {
        const band = args[1]
        if (typeof band === 'number' && band < 0) {
          throw new OpenFactoryError('OFA_SQL_VALUE', `DEADBAND: the band must not be negative, not ${band}`)
        }
        return Math.abs((v as number) - (r as number)) > ((band as number | null) ?? 0) ? [true, v] : acc
      }
      return v === r ? acc : [true, v]
    },
    result: (acc) => acc[1] as SqlValue,
  }
}

// ---------------------------------------------------------------------------------------------------------------

export const INDUSTRIAL_AGGREGATES: readonly AggregateSpec[] = [
  {
    name: 'TIME_WEIGHTED_AVG',
    category: 'industrial',
    description:
      'The mean of a value weighted by the time each value held (until the next record, the last one until the window end).',
    nulls: 'NULL time is not counted; NULL when no value is known',
    undo: false,
    merge: true,
    signatures: [
      {
        params: [P.N],
        returns: P.DOUBLE,
        create: () => timed(weightedAverage, first, () => null) as Aggregate,
      },
    ],
  },
  {
    name: 'TIME_IN_STATE',
    category: 'industrial',
    description: "Milliseconds a value spent equal to a state: `TIME_IN_STATE(execution, 'ACTIVE')`.",
    nulls: "NULL and 'UNAVAILABLE' time is in no state",
    undo: false,
    merge: true,
    signatures: [
      {
        params: [P.K, P.K],
        names: [undefined, 'state'],
        returns: P.BIGINT,
        literals: [1],
        create: () => timed(timeInState, first, (args) => sampleValue(args[1])) as Aggregate,
      },
    ],
  },
  {
    name: 'TIME_IN_STATES',
    category: 'industrial',
    description: `Milliseconds spent in each value a state took, as a map (at most ${STATES_LIMIT} states).`,
    nulls: "NULL and 'UNAVAILABLE' time is in no state",
    undo: false,
    merge: true,
    signatures: [
      {
        params: [P.K],
        returns: P.map(P.BIGINT),
        create: (t) => timed(timeInStates, stateText(t.argTypes[0] ?? null), () => null) as Aggregate,
      },
    ],
  },
  {
    name: 'OEE_AVAILABILITY',
    category: 'industrial',
    description:
      "The fraction of known time a machine ran: its state was one of the running values (default 'ACTIVE', MTConnect's Execution), or true.",
    nulls: "NULL and 'UNAVAILABLE' time is left out; NULL when no time is known",
    undo: false,
    merge: true,
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: ['state', 'running'],
        variadic: true,
        returns: P.DOUBLE,
        literals: [1],
        create: () => timed(availability, first, runningValues) as Aggregate,
      },
      {
        params: [P.BOOLEAN],
        returns: P.DOUBLE,
        create: () => timed(availability, first, () => []) as Aggregate,
      },
    ],
  },
  {
    name: 'DEADBAND',
    category: 'industrial',
    description:
      'The last value reported by exception: a number is reported when it moved more than the band from the last reported one; any other value when it changed.',
    nulls: 'A NULL value is reported (a change); a NULL band is 0',
    undo: false,
    merge: false,
    signatures: [
      {
        params: [P.N, P.DOUBLE],
        names: [undefined, 'band'],
        returns: P.N,
        literals: [1],
        create: () => deadband(true) as Aggregate,
      },
      { params: [P.K], returns: P.K, create: () => deadband(false) as Aggregate },
    ],
  },
]
