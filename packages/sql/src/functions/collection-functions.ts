/**
 * ARRAY and MAP functions, and the lambda functions TRANSFORM, FILTER and REDUCE (docs: "Scalar functions" §
 * Collections, § Invocation functions). Elements are compared with `equalValues` and ordered with `compareValues`
 * (cast.ts): deep for nested collections, NULL elements equal to each other. Positions count from 1.
 */
import { compareValues, equalValues, valueKey, valueText } from '../cast.ts'
import type { SqlType, SqlValue } from '../types.ts'
import type { ScalarArg, ScalarSpec, SqlLambda } from './registry.ts'
import { P } from './signature.ts'

type List = readonly SqlValue[]
type Dict = ReadonlyMap<string, SqlValue>

const list = (a: readonly ScalarArg[], i: number): List => a[i] as List
const dict = (a: readonly ScalarArg[], i: number): Dict => a[i] as Dict
const fn = (a: readonly ScalarArg[], i: number): SqlLambda => a[i] as SqlLambda

/** The distinct values of a list, in order of first occurrence (NULL kept once). */
function distinct(xs: List): SqlValue[] {
  const seen = new Set<SqlValue | string>()
  const out: SqlValue[] = []
  for (const x of xs) {
    const k = x !== null && typeof x === 'object' ? valueKey(x) : x
    if (seen.has(k)) continue
    seen.add(k)
    out.push(x)
  }
  return out
}

function contains(xs: List, v: SqlValue): boolean {
  for (const x of xs) if (x === v || (x !== null && v !== null && equalValues(x, v))) return true
  return false
}

/** The elements of `xs` that `ys` has (`keep` true) or lacks (false). */
function keepIf(xs: readonly SqlValue[], ys: List, keep: boolean): SqlValue[] {
  const out: SqlValue[] = []
  for (const x of xs) if (contains(ys, x) === keep) out.push(x)
  return out
}

/** ARRAY_JOIN: the elements as CAST to STRING writes them, NULL as 'null'. */
function joinText(xs: List, type: SqlType | undefined, sep: string): string {
  let out = ''
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as SqlValue
    if (i > 0) out += sep
    out += x === null || type === undefined ? String(x) : valueText(x, type)
  }
  return out
}

function elementType(t: SqlType | null | undefined): SqlType | undefined {
  return t?.kind === 'ARRAY' ? t.element : undefined
}

/** The largest (sign 1) or smallest (-1) non-NULL element, or NULL. */
function extremeOf(xs: List, sign: 1 | -1, type: SqlType | undefined): SqlValue {
  let best: SqlValue = null
  for (const x of xs) if (x !== null && (best === null || sign * compareValues(x, best, type) > 0)) best = x
  return best
}

export const COLLECTION_FUNCTIONS: readonly ScalarSpec[] = [
  {
    name: 'ARRAY_CONTAINS',
    category: 'collections',
    description: 'Whether the array has an element equal to the value (NULL finds a NULL element).',
    nulls: 'NULL array: false',
    signatures: [
      {
        params: [P.array(P.T), P.T],
        returns: P.BOOLEAN,
        strict: false,
        impl: (a) => a[0] !== null && contains(list(a, 0), a[1] as SqlValue),
      },
    ],
  },
  {
    name: 'ARRAY_LENGTH',
    category: 'collections',
    description: 'The number of elements.',
    signatures: [{ params: [P.array(P.T)], returns: P.INTEGER, impl: (a) => list(a, 0).length }],
  },
  {
    name: 'ARRAY_DISTINCT',
    category: 'collections',
    description: 'The distinct elements, in order of first occurrence (NULL kept once).',
    signatures: [{ params: [P.array(P.T)], returns: P.array(P.T), impl: (a) => distinct(list(a, 0)) }],
  },
  {
    name: 'ARRAY_JOIN',
    category: 'collections',
    description: "The elements as text joined by a delimiter (default ','); NULL elements as 'null'.",
    nulls: 'NULL array: NULL; NULL delimiter: no delimiter',
    signatures: [
      {
        params: [P.array(P.K)],
        returns: P.STRING,
        bind: (t) => {
          const type = elementType(t.argTypes[0])
          return (a) => joinText(list(a, 0), type, ',')
        },
      },
      {
        params: [P.array(P.K), P.STRING],
        names: [undefined, 'delimiter'],
        returns: P.STRING,
        strict: false,
        bind: (t) => {
          const type = elementType(t.argTypes[0])
          return (a) => {
            if (a[0] === null) return null
            return joinText(list(a, 0), type, a[1] === null ? '' : (a[1] as string))
          }
        },
      },
    ],
  },
  {
    name: 'ARRAY_MAX',
    category: 'collections',
    description: 'The largest element (NULL elements skipped).',
    nulls: 'NULL if the array is NULL or has only NULLs',
    signatures: [
      {
        params: [P.array(P.C)],
        returns: P.C,
        bind: (t) => {
          const type = elementType(t.argTypes[0])
          return (a) => extremeOf(list(a, 0), 1, type)
        },
      },
    ],
  },
  {
    name: 'ARRAY_MIN',
    category: 'collections',
    description: 'The smallest element (NULL elements skipped).',
    nulls: 'NULL if the array is NULL or has only NULLs',
    signatures: [
      {
        params: [P.array(P.C)],
        returns: P.C,
        bind: (t) => {
          const type = elementType(t.argTypes[0])
          return (a) => extremeOf(list(a, 0), -1, type)
        },
      },
    ],
  },
  {
    name: 'ARRAY_SORT',
    category: 'collections',
    description: "The elements sorted, 'ASC' (default) or 'DESC'; NULL elements last.",
    nulls: "NULL if any argument is NULL or the direction is neither 'ASC' nor 'DESC'",
    signatures: [
      {
        params: [P.array(P.C)],
        returns: P.array(P.C),
        bind: (t) => {
          const type = elementType(t.argTypes[0])
          const asc = (x: SqlValue, y: SqlValue): number => compareValues(x, y, type)
          return (a) => [...list(a, 0)].sort(asc)
        },
      },
      {
        params: [P.array(P.C), P.STRING],
        names: [undefined, 'direction'],
        returns: P.array(P.C),
        bind: (t) => {
          const type = elementType(t.argTypes[0])
          const asc = (x: SqlValue, y: SqlValue): number => compareValues(x, y, type)
          const desc = (x: SqlValue, y: SqlValue): number =>
            x === null ? (y === null ? 0 : 1) : y === null ? -1 : compareValues(y, x, type)
          return (a) => {
            const dir = (a[1] as string).toUpperCase()
            if (dir !== 'ASC' && dir !== 'DESC') return null
            return [...list(a, 0)].sort(dir === 'ASC' ? asc : desc)
          }
        },
      },
    ],
  },
  {
    name: 'ARRAY_REMOVE',
    category: 'collections',
    description: 'The array without the elements equal to the value (NULL removes the NULLs).',
    nulls: 'NULL array: NULL',
    signatures: [
      {
        params: [P.array(P.T), P.T],
        returns: P.array(P.T),
        strict: false,
        impl: (a) => {
          if (a[0] === null) return null
          const v = a[1] as SqlValue
          const out: SqlValue[] = []
          for (const x of list(a, 0)) if (!(x === v || (x !== null && v !== null && equalValues(x, v)))) out.push(x)
          return out
        },
      },
    ],
  },
  {
    name: 'ARRAY_CONCAT',
    category: 'collections',
    description: 'The elements of both arrays.',
    nulls: 'NULL when both are NULL; one NULL: the other',
    signatures: [
      {
        params: [P.array(P.T), P.array(P.T)],
        returns: P.array(P.T),
        strict: false,
        impl: (a) =>
          a[0] === null ? (a[1] as List | null) : a[1] === null ? list(a, 0) : [...list(a, 0), ...list(a, 1)],
      },
    ],
  },
  {
    name: 'ARRAY_UNION',
    category: 'collections',
    description: 'The distinct elements of both arrays, in order of first occurrence.',
    signatures: [
      {
        params: [P.array(P.T), P.array(P.T)],
        returns: P.array(P.T),
        impl: (a) => distinct([...list(a, 0), ...list(a, 1)]),
      },
    ],
  },
  {
    name: 'ARRAY_INTERSECT',
    category: 'collections',
    description: 'The distinct elements of the first array that the second has.',
    signatures: [
      {
        params: [P.array(P.T), P.array(P.T)],
        returns: P.array(P.T),
        impl: (a) => keepIf(distinct(list(a, 0)), list(a, 1), true),
      },
    ],
  },
  {
    name: 'ARRAY_EXCEPT',
    category: 'collections',
    description: 'The distinct elements of the first array that the second lacks.',
    signatures: [
      {
        params: [P.array(P.T), P.array(P.T)],
        returns: P.array(P.T),
        impl: (a) => keepIf(distinct(list(a, 0)), list(a, 1), false),
      },
    ],
  },
  {
    name: 'SLICE',
    category: 'collections',
    description: 'The elements from position `from` to `to`, both included (from 1; clamped to the array).',
    signatures: [
      {
        params: [P.array(P.T), P.INTEGER, P.INTEGER],
        names: [undefined, 'from', 'to'],
        returns: P.array(P.T),
        impl: (a) => {
          const xs = list(a, 0)
          const from = Math.max(1, a[1] as number)
          const to = Math.min(xs.length, a[2] as number)
          return from > to ? [] : xs.slice(from - 1, to)
        },
      },
    ],
  },
  {
    name: 'AS_MAP',
    category: 'collections',
    description: 'A map of keys to values, paired by position (a missing value is NULL; a NULL key is skipped).',
    signatures: [
      {
        params: [P.array(P.STRING), P.array(P.V)],
        names: ['keys', 'values'],
        returns: P.map(P.V),
        impl: (a) => {
          const keys = list(a, 0)
          const values = list(a, 1)
          const out = new Map<string, SqlValue>()
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i]
            if (k !== null && k !== undefined) out.set(k as string, values[i] ?? null)
          }
          return out
        },
      },
    ],
  },
  {
    name: 'MAP_KEYS',
    category: 'collections',
    description: 'The keys of a map.',
    signatures: [{ params: [P.map(P.V)], returns: P.array(P.STRING), impl: (a) => [...dict(a, 0).keys()] }],
  },
  {
    name: 'MAP_VALUES',
    category: 'collections',
    description: 'The values of a map.',
    signatures: [{ params: [P.map(P.V)], returns: P.array(P.V), impl: (a) => [...dict(a, 0).values()] }],
  },
  {
    name: 'MAP_UNION',
    category: 'collections',
    description: "The entries of both maps; a key in both takes the second map's value.",
    nulls: 'NULL when both are NULL; one NULL: the other',
    signatures: [
      {
        params: [P.map(P.V), P.map(P.V)],
        returns: P.map(P.V),
        strict: false,
        impl: (a) =>
          a[0] === null ? (a[1] as Dict | null) : a[1] === null ? dict(a, 0) : new Map([...dict(a, 0), ...dict(a, 1)]),
      },
    ],
  },
  {
    name: 'ELT',
    category: 'collections',
    description: 'The n-th of the strings that follow (from 1), or NULL when n is out of range.',
    nulls: 'NULL n: NULL; a NULL string chosen: NULL',
    signatures: [
      {
        params: [P.INTEGER, P.STRING],
        names: ['n'],
        variadic: true,
        returns: P.STRING,
        strict: false,
        impl: (a) => {
          const n = a[0] as number | null
          return n === null || n < 1 || n >= a.length ? null : (a[n] as SqlValue)
        },
      },
    ],
  },
  {
    name: 'FIELD',
    category: 'collections',
    description: 'The position (from 1) of the string among the strings that follow, or 0.',
    nulls: 'NULL string: 0 (NULL equals nothing)',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        variadic: true,
        returns: P.INTEGER,
        strict: false,
        impl: (a) => {
          const s = a[0]
          if (s === null) return 0
          for (let i = 1; i < a.length; i++) if (a[i] === s) return i
          return 0
        },
      },
    ],
  },
  {
    name: 'TRANSFORM',
    category: 'collections',
    description: 'Each element through a lambda (`x => x * 2`); for a map, its keys and values through two lambdas.',
    signatures: [
      {
        params: [P.array(P.T), P.lambda([P.T], P.U)],
        returns: P.array(P.U),
        impl: (a) => {
          const f = fn(a, 1)
          const xs = list(a, 0)
          const out = new Array<SqlValue>(xs.length)
          for (let i = 0; i < xs.length; i++) out[i] = f(xs[i] as SqlValue)
          return out
        },
      },
      {
        params: [P.map(P.V), P.lambda([P.STRING, P.V], P.STRING), P.lambda([P.STRING, P.V], P.U)],
        returns: P.map(P.U),
        impl: (a) => {
          const fk = fn(a, 1)
          const fv = fn(a, 2)
          const out = new Map<string, SqlValue>()
          for (const [k, v] of dict(a, 0)) {
            const key = fk(k, v)
            if (key !== null) out.set(key as string, fv(k, v))
          }
          return out
        },
      },
    ],
  },
  {
    name: 'FILTER',
    category: 'collections',
    description: 'The elements (or map entries) for which a lambda is true (`x => x > 0`, `(k, v) => v > 0`).',
    signatures: [
      {
        params: [P.array(P.T), P.lambda([P.T], P.BOOLEAN)],
        returns: P.array(P.T),
        impl: (a) => {
          const f = fn(a, 1)
          const out: SqlValue[] = []
          for (const x of list(a, 0)) if (f(x) === true) out.push(x)
          return out
        },
      },
      {
        params: [P.map(P.V), P.lambda([P.STRING, P.V], P.BOOLEAN)],
        returns: P.map(P.V),
        impl: (a) => {
          const f = fn(a, 1)
          const out = new Map<string, SqlValue>()
          for (const [k, v] of dict(a, 0)) if (f(k, v) === true) out.set(k, v)
          return out
        },
      },
    ],
  },
  {
    name: 'REDUCE',
    category: 'collections',
    description: 'Folds the elements (or map entries) into a state with a lambda: `REDUCE(xs, 0, (s, x) => s + x)`.',
    nulls: 'NULL collection or state: NULL',
    signatures: [
      {
        params: [P.array(P.T), P.S, P.lambda([P.S, P.T], P.S)],
        names: [undefined, 'state'],
        returns: P.S,
        impl: (a) => {
          const f = fn(a, 2)
          let s = a[1] as SqlValue
          for (const x of list(a, 0)) s = f(s, x)
          return s
        },
      },
      {
        params: [P.map(P.V), P.S, P.lambda([P.S, P.STRING, P.V], P.S)],
        names: [undefined, 'state'],
        returns: P.S,
        impl: (a) => {
          const f = fn(a, 2)
          let s = a[1] as SqlValue
          for (const [k, v] of dict(a, 0)) s = f(s, k, v)
          return s
        },
      },
    ],
  },
]
