/**
 * The functions the planner resolves calls with: scalar functions, aggregates and casts, typed at CREATE time.
 *
 * This is the engine's core set — what the reference topology and the common queries need; the full registry of
 * documented functions (docs/reference/sql-functions.md) plugs in through the same `PlannerFunctions` interface.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { SqlPosition } from './ast.ts'
import type { PlannerFunctions, ResolvedAggregate } from './planner.ts'
import { formatType, isNumeric, type SqlType, type SqlValue, SqlType as T, widerNumeric } from './types.ts'
import { fromJsonValue, type JsonValue, toJsonValue } from './values.ts'

type Types = readonly (SqlType | null)[]

interface ScalarDef {
  readonly signature: string
  readonly type: (args: Types) => SqlType | null
  readonly check: (args: Types) => boolean
  readonly call: (args: SqlValue[]) => SqlValue
}

const anyText = (args: Types) => args.every((t) => t === null || t.kind === 'STRING')
const oneText = (args: Types) => args.length === 1 && anyText(args)
const oneNumber = (args: Types) => args.length === 1 && (args[0] === null || isNumeric(args[0] as SqlType))

function firstType(args: Types): SqlType | null {
  let out: SqlType | null = null
  for (const t of args) {
    if (t === null) continue
    if (out === null) out = t
    else if (isNumeric(out) && isNumeric(t)) out = widerNumeric(out, t) as SqlType
  }
  return out
}

const sameTypes = (args: Types) => {
  const t = firstType(args)
  return args.every((a) => a === null || t === null || a.kind === t.kind || (isNumeric(a) && isNumeric(t)))
}

const SCALARS: Record<string, ScalarDef> = {
  CONCAT: {
    signature: 'CONCAT(STRING, ...) → STRING',
    check: (a) => a.length >= 1 && anyText(a),
    type: () => T.STRING,
    call: (args) => {
      let out = ''
      for (const a of args) if (a !== null) out += a as string
      return out
    },
  },
  CONCAT_WS: {
    signature: 'CONCAT_WS(separator STRING, STRING, ...) → STRING',
    check: (a) => a.length >= 2 && anyText(a),
    type: () => T.STRING,
    call: ([sep, ...rest]) => (sep === null ? null : rest.filter((x) => x !== null).join(sep as string)),
  },
  COALESCE: {
    signature: 'COALESCE(T, T, ...) → T',
    check: (a) => a.length >= 1 && sameTypes(a),
    type: firstType,
    call: (args) => {
      for (const a of args) if (a !== null) return a
      return null
    },
  },
  IFNULL: {
    signature: 'IFNULL(T, T) → T',
    check: (a) => a.length === 2 && sameTypes(a),
    type: firstType,
    call: ([a, b]) => (a === null ? (b ?? null) : (a ?? null)),
  },
  NULLIF: {
    signature: 'NULLIF(T, T) → T',
    check: (a) => a.length === 2 && sameTypes(a),
    type: firstType,
    call: ([a, b]) => (a === b ? null : (a ?? null)),
  },
  UCASE: {
    signature: 'UCASE(STRING) → STRING',
    check: oneText,
    type: () => T.STRING,
    call: ([a]) => (a === null ? null : (a as string).toUpperCase()),
  },
  LCASE: {
    signature: 'LCASE(STRING) → STRING',
    check: oneText,
    type: () => T.STRING,
    call: ([a]) => (a === null ? null : (a as string).toLowerCase()),
  },
  TRIM: {
    signature: 'TRIM(STRING) → STRING',
    check: oneText,
    type: () => T.STRING,
    call: ([a]) => (a === null ? null : (a as string).trim()),
  },
  LEN: {
    signature: 'LEN(STRING) → INTEGER',
    check: oneText,
    type: () => T.INTEGER,
    call: ([a]) => (a === null ? null : [...(a as string)].length),
  },
  ABS: {
    signature: 'ABS(number) → number',
    check: oneNumber,
    type: firstType,
    call: ([a]) => (a === null ? null : Math.abs(a as number)),
  },
  FLOOR: {
    signature: 'FLOOR(number) → number',
    check: oneNumber,
    type: firstType,
    call: ([a]) => (a === null ? null : Math.floor(a as number)),
  },
  CEIL: {
    signature: 'CEIL(number) → number',
    check: oneNumber,
    type: firstType,
    call: ([a]) => (a === null ? null : Math.ceil(a as number)),
  },
  ROUND: {
    signature: 'ROUND(number[, scale INTEGER]) → number',
    check: (a) => (a.length === 1 || a.length === 2) && a.every((t) => t === null || isNumeric(t)),
    type: (a) => (a.length === 1 && a[0]?.kind === 'DOUBLE' ? T.BIGINT : firstType(a.slice(0, 1))),
    call: ([a, s]) => {
      if (a === null || s === null) return null
      const f = 10 ** ((s as number | undefined) ?? 0)
      return Math.round((a as number) * f) / f
    },
  },
}

interface AggregateDef {
  readonly signature: string
  readonly check: (args: Types) => boolean
  readonly make: (args: Types) => ResolvedAggregate
}

/** Entries of LATEST_BY_OFFSET / EARLIEST_BY_OFFSET / COLLECT_LIST accumulators hold JSON (values.ts). */
const AGGREGATES: Record<string, AggregateDef> = {
  COUNT: {
    signature: 'COUNT(*) | COUNT(T) → BIGINT',
    check: (a) => a.length <= 1,
    make: (a) => ({
      type: T.BIGINT,
      init: () => 0,
      add: (acc, args) => (a.length === 0 || args[0] !== null ? (acc as number) + 1 : acc),
      undo: (acc, args) => (a.length === 0 || args[0] !== null ? (acc as number) - 1 : acc),
      result: (acc) => acc as number,
    }),
  },
  SUM: {
    signature: 'SUM(number) → number',
    check: oneNumber,
    make: (a) => ({
      type: firstType(a) ?? T.DOUBLE,
      init: () => 0,
      add: (acc, [v]) => (v === null ? acc : (acc as number) + (v as number)),
      undo: (acc, [v]) => (v === null ? acc : (acc as number) - (v as number)),
      result: (acc) => acc as number,
    }),
  },
  AVG: {
    signature: 'AVG(number) → DOUBLE',
    check: oneNumber,
    make: () => ({
      type: T.DOUBLE,
      init: () => [0, 0],
      add: (acc, [v]) =>
        v === null ? acc : [((acc as number[])[0] as number) + (v as number), ((acc as number[])[1] as number) + 1],
      undo: (acc, [v]) =>
        v === null ? acc : [((acc as number[])[0] as number) - (v as number), ((acc as number[])[1] as number) - 1],
      result: (acc) => {
        const [sum, n] = acc as [number, number]
        return n === 0 ? null : sum / n
      },
    }),
  },
  MIN: {
    signature: 'MIN(number) → number',
    check: oneNumber,
    make: (a) => ({
      type: firstType(a) ?? T.DOUBLE,
      init: () => null,
      add: (acc, [v]) => (v === null ? acc : acc === null ? v : Math.min(acc as number, v as number)),
      result: (acc) => acc as number | null,
    }),
  },
  MAX: {
    signature: 'MAX(number) → number',
    check: oneNumber,
    make: (a) => ({
      type: firstType(a) ?? T.DOUBLE,
      init: () => null,
      add: (acc, [v]) => (v === null ? acc : acc === null ? v : Math.max(acc as number, v as number)),
      result: (acc) => acc as number | null,
    }),
  },
  LATEST_BY_OFFSET: {
    signature: 'LATEST_BY_OFFSET(T) → T',
    check: (a) => a.length === 1,
    make: (a) => ({
      type: a[0] ?? T.STRING,
      init: () => null,
      // The value of the record with the highest offset; a NULL does not replace a value (ksqlDB's default).
      add: (acc, [v]) => (v === null ? acc : toJsonValue(v ?? null)),
      undo: (acc) => acc,
      result: (acc) => fromJsonValue(acc as JsonValue),
    }),
  },
  EARLIEST_BY_OFFSET: {
    signature: 'EARLIEST_BY_OFFSET(T) → T',
    check: (a) => a.length === 1,
    make: (a) => ({
      type: a[0] ?? T.STRING,
      init: () => null,
      add: (acc, [v]) => (acc !== null || v === null ? acc : toJsonValue(v ?? null)),
      undo: (acc) => acc,
      result: (acc) => fromJsonValue(acc as JsonValue),
    }),
  },
  COLLECT_LIST: {
    signature: 'COLLECT_LIST(T) → ARRAY<T>',
    check: (a) => a.length === 1,
    make: (a) => ({
      type: T.array(a[0] ?? T.STRING),
      init: () => [],
      // ksqlDB keeps at most 1000 entries.
      add: (acc, [v]) =>
        (acc as JsonValue[]).length >= 1000 ? acc : [...(acc as JsonValue[]), toJsonValue(v ?? null)],
      undo: (acc, [v]) => {
        const list = [...(acc as JsonValue[])]
        const text = JSON.stringify(toJsonValue(v ?? null))
        const at = list.findIndex((x) => JSON.stringify(x) === text)
        if (at >= 0) list.splice(at, 1)
        return list
      },
      result: (acc) => (acc as JsonValue[]).map(fromJsonValue),
    }),
  },
}

function functionError(name: string, args: Types, signature: string | undefined, where: SqlPosition): OpenFactoryError {
  const given = args.map((t) => (t ? formatType(t) : 'NULL')).join(', ')
  return new OpenFactoryError(
    'OFA_SQL_FUNCTION',
    signature
      ? `${name}(${given}): no signature takes these arguments; ${signature}`
      : `${name} is not a function (see docs/reference/sql-functions.md)`,
    { where },
  )
}

function castOne(v: SqlValue, to: SqlType): SqlValue {
  if (v === null) return null
  switch (to.kind) {
    case 'STRING':
      return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(toJsonValue(v)) : String(v)
    case 'INTEGER':
    case 'BIGINT': {
      const n = typeof v === 'string' ? Number(v.trim()) : Number(v)
      if (!Number.isFinite(n)) throw new OpenFactoryError('OFA_SQL_VALUE', `cannot CAST '${String(v)}' AS ${to.kind}`)
      return Math.trunc(n)
    }
    case 'DOUBLE':
    case 'DECIMAL': {
      const n = typeof v === 'string' ? Number(v.trim()) : Number(v)
      if (Number.isNaN(n))
        throw new OpenFactoryError('OFA_SQL_VALUE', `cannot CAST '${String(v)}' AS ${formatType(to)}`)
      return to.kind === 'DECIMAL' ? Math.round(n * 10 ** to.scale) / 10 ** to.scale : n
    }
    case 'BOOLEAN':
      if (typeof v === 'boolean') return v
      if (typeof v === 'string') return v.trim().toLowerCase() === 'true'
      return Boolean(v)
    case 'TIMESTAMP': {
      if (typeof v === 'number') return v
      const ms = Date.parse(String(v))
      if (Number.isNaN(ms)) throw new OpenFactoryError('OFA_SQL_VALUE', `cannot CAST '${String(v)}' AS TIMESTAMP`)
      return ms
    }
    default:
      return v
  }
}

const SCALAR_KINDS = new Set(['BOOLEAN', 'INTEGER', 'BIGINT', 'DOUBLE', 'DECIMAL', 'STRING', 'TIMESTAMP'])

export const coreFunctions: PlannerFunctions = {
  scalar(name, argTypes, where) {
    const def = SCALARS[name]
    if (!def?.check(argTypes)) throw functionError(name, argTypes, def?.signature, where)
    return { type: def.type(argTypes), call: def.call }
  },
  isAggregate: (name) => name in AGGREGATES,
  aggregate(name, argTypes, where) {
    const def = AGGREGATES[name]
    if (!def?.check(argTypes)) throw functionError(name, argTypes, def?.signature, where)
    return def.make(argTypes)
  },
  canCast: (from, to) =>
    from === null || from.kind === to.kind || (SCALAR_KINDS.has(from.kind) && SCALAR_KINDS.has(to.kind)),
  cast: (value, _from, to) => castOne(value, to),
}

/** Names and categories, for SHOW FUNCTIONS. */
export function coreFunctionNames(): { name: string; category: string; type: string }[] {
  return [
    ...Object.keys(SCALARS).map((name) => ({ name, category: 'scalar', type: 'SCALAR' })),
    ...Object.keys(AGGREGATES).map((name) => ({ name, category: 'aggregate', type: 'AGGREGATE' })),
  ].sort((a, b) => a.name.localeCompare(b.name))
}
