/**
 * Date and time functions (docs: "Scalar functions" § Date and time). TIMESTAMP is ms since the epoch (UTC), DATE
 * days since 1970-01-01, TIME ms since midnight. Patterns are Java's `DateTimeFormatter` patterns
 * (date-time-pattern.ts); zones are Java's zone IDs (time-zones.ts), UTC when none is given (ksqlDB's servers may run
 * in another default zone; ours is always UTC). The unit of DATEADD and its kin is one of DAYS, HOURS, MINUTES,
 * SECONDS, MILLISECONDS, MICROSECONDS, NANOSECONDS (singular too, any case), passed as a STRING: the planner passes
 * the unit keyword of `DATEADD(DAYS, 2, d)` as its name.
 */
import { OpenFactoryError } from '@openfactory/model'
import { DAY_MS } from './calendar.ts'
import {
  compilePattern,
  formatDate,
  formatTime,
  formatTimestamp,
  parseDate,
  parseTime,
  parseTimestamp,
} from './date-time-pattern.ts'
import type { ScalarArg, ScalarSignature, ScalarSpec } from './registry.ts'
import { P } from './signature.ts'
import { localToEpoch, UTC, zoneOf } from './time-zones.ts'

const str = (a: readonly ScalarArg[], i: number): string => a[i] as string
const num = (a: readonly ScalarArg[], i: number): number => a[i] as number

const UNITS: Readonly<Record<string, number>> = {
  DAY: DAY_MS,
  HOUR: 3_600_000,
  MINUTE: 60_000,
  SECOND: 1000,
  MILLISECOND: 1,
  MICROSECOND: 0.001,
  NANOSECOND: 0.000001,
}
const unitCache = new Map<string, number>()

/** Milliseconds of one unit (`DAYS`, `hour`...). Throws OFA_SQL_VALUE for another word. */
function unitMs(unit: string): number {
  let ms = unitCache.get(unit)
  if (ms === undefined) {
    const u = unit.trim().toUpperCase()
    ms = UNITS[u.endsWith('S') ? u.slice(0, -1) : u]
    if (ms === undefined) {
      throw new OpenFactoryError(
        'OFA_SQL_VALUE',
        `unknown time unit ${unit}: DAYS, HOURS, MINUTES, SECONDS, MILLISECONDS, MICROSECONDS or NANOSECONDS`,
      )
    }
    if (unitCache.size < 100) unitCache.set(unit, ms)
  }
  return ms
}

/** An interval in whole ms (sub-millisecond units truncate toward zero). */
function intervalMs(unit: string, n: number): number {
  return Math.trunc(n * unitMs(unit))
}

function modDay(ms: number): number {
  return ((ms % DAY_MS) + DAY_MS) % DAY_MS
}

const PATTERN = [undefined, 'pattern']
const PATTERN_ZONE = [undefined, 'pattern', 'zone']

/** FORMAT_TIMESTAMP and TIMESTAMPTOSTRING: (ts, pattern[, zone]). */
function formatSignatures(ts: typeof P.TIMESTAMP | typeof P.BIGINT): ScalarSignature[] {
  return [
    {
      params: [ts, P.STRING],
      names: PATTERN,
      returns: P.STRING,
      impl: (a) => formatTimestamp(compilePattern(str(a, 1)), num(a, 0), UTC),
    },
    {
      params: [ts, P.STRING, P.STRING],
      names: PATTERN_ZONE,
      returns: P.STRING,
      impl: (a) => formatTimestamp(compilePattern(str(a, 1)), num(a, 0), zoneOf(str(a, 2))),
    },
  ]
}

/** PARSE_TIMESTAMP and STRINGTOTIMESTAMP: (text, pattern[, zone]). */
function parseSignatures(ts: typeof P.TIMESTAMP | typeof P.BIGINT): ScalarSignature[] {
  return [
    {
      params: [P.STRING, P.STRING],
      names: PATTERN,
      returns: ts,
      impl: (a) => parseTimestamp(compilePattern(str(a, 1)), str(a, 0), UTC),
    },
    {
      params: [P.STRING, P.STRING, P.STRING],
      names: PATTERN_ZONE,
      returns: ts,
      impl: (a) => parseTimestamp(compilePattern(str(a, 1)), str(a, 0), zoneOf(str(a, 2))),
    },
  ]
}

function shift(
  name: string,
  description: string,
  type: typeof P.DATE | typeof P.TIME | typeof P.TIMESTAMP,
  sign: 1 | -1,
): ScalarSpec {
  const interval = type === P.TIMESTAMP ? P.BIGINT : P.INTEGER
  const impl =
    type === P.DATE
      ? (a: readonly ScalarArg[]) => num(a, 2) + sign * Math.trunc((num(a, 1) * unitMs(str(a, 0))) / DAY_MS)
      : type === P.TIME
        ? (a: readonly ScalarArg[]) => modDay(num(a, 2) + sign * intervalMs(str(a, 0), num(a, 1)))
        : (a: readonly ScalarArg[]) => num(a, 2) + sign * intervalMs(str(a, 0), num(a, 1))
  return {
    name,
    category: 'date/time',
    description,
    signatures: [{ params: [P.STRING, interval, type], names: ['unit', 'n'], returns: type, impl }],
  }
}

export const DATE_TIME_FUNCTIONS: readonly ScalarSpec[] = [
  {
    name: 'UNIX_TIMESTAMP',
    category: 'date/time',
    description: 'The current time, or the given TIMESTAMP, as ms since 1970-01-01T00:00:00Z.',
    deterministic: false,
    signatures: [
      { params: [], returns: P.BIGINT, impl: () => Date.now() },
      { params: [P.TIMESTAMP], returns: P.BIGINT, impl: (a) => num(a, 0) },
    ],
  },
  {
    name: 'UNIX_DATE',
    category: 'date/time',
    description: 'The current date (UTC), or the given DATE, as days since 1970-01-01.',
    deterministic: false,
    signatures: [
      { params: [], returns: P.INTEGER, impl: () => Math.floor(Date.now() / DAY_MS) },
      { params: [P.DATE], returns: P.INTEGER, impl: (a) => num(a, 0) },
    ],
  },
  {
    name: 'FROM_UNIXTIME',
    category: 'date/time',
    description: 'A TIMESTAMP from ms since the epoch.',
    signatures: [{ params: [P.BIGINT], returns: P.TIMESTAMP, impl: (a) => num(a, 0) }],
  },
  {
    name: 'FROM_DAYS',
    category: 'date/time',
    description: 'A DATE from days since 1970-01-01.',
    signatures: [{ params: [P.INTEGER], returns: P.DATE, impl: (a) => num(a, 0) }],
  },
  {
    name: 'FORMAT_TIMESTAMP',
    category: 'date/time',
    description: "A TIMESTAMP as text in a pattern (`'yyyy-MM-dd''T''HH:mm:ss.SSSX'`), in a zone (default UTC).",
    signatures: formatSignatures(P.TIMESTAMP),
  },
  {
    name: 'PARSE_TIMESTAMP',
    category: 'date/time',
    description: 'A TIMESTAMP from text in a pattern, local times in a zone (default UTC); a zone in the text wins.',
    signatures: parseSignatures(P.TIMESTAMP),
  },
  {
    name: 'TIMESTAMPTOSTRING',
    category: 'date/time',
    description: 'As FORMAT_TIMESTAMP, of ms since the epoch (deprecated in ksqlDB).',
    signatures: formatSignatures(P.BIGINT),
  },
  {
    name: 'STRINGTOTIMESTAMP',
    category: 'date/time',
    description: 'As PARSE_TIMESTAMP, giving ms since the epoch (deprecated in ksqlDB).',
    signatures: parseSignatures(P.BIGINT),
  },
  {
    name: 'FORMAT_DATE',
    category: 'date/time',
    description: 'A DATE as text in a pattern (date letters only).',
    signatures: [
      {
        params: [P.DATE, P.STRING],
        names: [undefined, 'pattern'],
        returns: P.STRING,
        impl: (a) => formatDate(compilePattern(str(a, 1)), num(a, 0)),
      },
    ],
  },
  {
    name: 'PARSE_DATE',
    category: 'date/time',
    description: 'A DATE from text in a pattern.',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'pattern'],
        returns: P.DATE,
        impl: (a) => parseDate(compilePattern(str(a, 1)), str(a, 0)),
      },
    ],
  },
  {
    name: 'FORMAT_TIME',
    category: 'date/time',
    description: 'A TIME as text in a pattern (time letters only).',
    signatures: [
      {
        params: [P.TIME, P.STRING],
        names: [undefined, 'pattern'],
        returns: P.STRING,
        impl: (a) => formatTime(compilePattern(str(a, 1)), num(a, 0)),
      },
    ],
  },
  {
    name: 'PARSE_TIME',
    category: 'date/time',
    description: 'A TIME from text in a pattern.',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'pattern'],
        returns: P.TIME,
        impl: (a) => parseTime(compilePattern(str(a, 1)), str(a, 0)),
      },
    ],
  },
  shift(
    'DATEADD',
    'A DATE plus an interval: `DATEADD(unit, n, date)` (less than a day: truncated toward zero).',
    P.DATE,
    1,
  ),
  shift('DATESUB', 'A DATE minus an interval: `DATESUB(unit, n, date)`.', P.DATE, -1),
  shift('TIMEADD', 'A TIME plus an interval, around midnight: `TIMEADD(unit, n, time)`.', P.TIME, 1),
  shift('TIMESUB', 'A TIME minus an interval, around midnight: `TIMESUB(unit, n, time)`.', P.TIME, -1),
  shift('TIMESTAMPADD', 'A TIMESTAMP plus an interval: `TIMESTAMPADD(unit, n, ts)`.', P.TIMESTAMP, 1),
  shift('TIMESTAMPSUB', 'A TIMESTAMP minus an interval: `TIMESTAMPSUB(unit, n, ts)`.', P.TIMESTAMP, -1),
  {
    name: 'CONVERT_TZ',
    category: 'date/time',
    description:
      "Moves a TIMESTAMP's wall-clock time from one zone to another: `CONVERT_TZ(ts, 'UTC', 'Europe/Paris')`.",
    signatures: [
      {
        params: [P.TIMESTAMP, P.STRING, P.STRING],
        names: [undefined, 'from', 'to'],
        returns: P.TIMESTAMP,
        impl: (a) => {
          const instant = localToEpoch(zoneOf(str(a, 1)), num(a, 0))
          return instant + zoneOf(str(a, 2)).offsetAt(instant)
        },
      },
    ],
  },
]
