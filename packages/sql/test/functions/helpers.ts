// Calling functions the way the engine does: resolve by argument types (a NULL literal's type is null), then call
// the implementation with evaluated arguments; and running an aggregate over records.
import assert from 'node:assert/strict'
import { isOpenFactoryError } from '@openfactory/model'
import { defaultFunctions } from '../../src/functions/index.ts'
import type { AggregateRow, ResolvedAggregate, ScalarArg } from '../../src/functions/registry.ts'
import type { ArgType, LambdaArgType } from '../../src/functions/signature.ts'
import { type SqlStruct, SqlType, type SqlValue } from '../../src/types.ts'

/** An argument: its type (null: a NULL literal; a lambda) and its value. */
export type Arg = readonly [ArgType, ScalarArg]

export const T = SqlType
export const s = (v: string | null): Arg => [T.STRING, v]
export const i = (v: number | null): Arg => [T.INTEGER, v]
export const big = (v: number | null): Arg => [T.BIGINT, v]
export const dbl = (v: number | null): Arg => [T.DOUBLE, v]
export const dec = (p: number, sc: number, v: number | null): Arg => [T.decimal(p, sc), v]
export const bool = (v: boolean | null): Arg => [T.BOOLEAN, v]
export const ts = (v: number | null): Arg => [T.TIMESTAMP, v]
export const date = (v: number | null): Arg => [T.DATE, v]
export const time = (v: number | null): Arg => [T.TIME, v]
export const bytes = (v: number[] | null): Arg => [T.BYTES, v === null ? null : new Uint8Array(v)]
export const arr = (element: SqlType, v: readonly SqlValue[] | null): Arg => [T.array(element), v]
export const map = (value: SqlType, v: Record<string, SqlValue> | null): Arg => [
  T.map(T.STRING, value),
  v === null ? null : new Map(Object.entries(v)),
]
/** A NULL literal. */
export const NULL: Arg = [null, null]
/** A typed NULL (a column that is NULL). */
export const nul = (type: SqlType): Arg => [type, null]
/** A lambda whose body has type `result` and computes `f`. */
export const lambda = (arity: number, result: SqlType, f: (...xs: SqlValue[]) => SqlValue): Arg => {
  const type: LambdaArgType = { kind: 'LAMBDA', arity, typeOf: () => result }
  return [type, f]
}

export function struct(fields: Record<string, SqlValue>): SqlStruct {
  return Object.assign(Object.create(null), fields) as SqlStruct
}

/** Resolves `name` for the arguments' types and calls it with their values. */
export function call(name: string, ...args: readonly Arg[]): SqlValue {
  const r = defaultFunctions.resolveScalar(
    name,
    args.map((a) => a[0]),
  )
  return r.call(args.map((a) => a[1]))
}

/** The result type of `name` for the arguments' types. */
export function typeOf(name: string, ...args: readonly Arg[]): SqlType {
  return defaultFunctions.resolveScalar(
    name,
    args.map((a) => a[0]),
  ).type
}

export function assertCode(f: () => unknown, code: string, message?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isOpenFactoryError(e), `an OpenFactoryError, not ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message) assert.match(e.message, message)
    return true
  })
}

export function near(actual: SqlValue, expected: number, epsilon = 1e-9): void {
  assert.equal(typeof actual, 'number', `a number, not ${String(actual)}`)
  assert.ok(Math.abs((actual as number) - expected) <= epsilon, `${String(actual)} ≈ ${expected}`)
}

/** A record for an aggregate: its arguments and its row. */
export type Rec = readonly [args: readonly SqlValue[], row?: Partial<AggregateRow>]

/** Adds records to a fresh accumulator (offsets and timestamps default to the record's index). */
export function aggregate(agg: ResolvedAggregate, records: readonly Rec[], acc: unknown = agg.init()): unknown {
  let a = acc
  records.forEach(([args, row], n) => {
    a = agg.add(a, args as SqlValue[], { timestamp: n, offset: n, ...row })
  })
  return a
}

/** The accumulator after a JSON round trip, as the engine reads it back from its changelog. */
export function roundTrip<A>(acc: A): A {
  return JSON.parse(JSON.stringify(acc)) as A
}

export function resolveAggregate(name: string, ...types: ArgType[]): ResolvedAggregate {
  return defaultFunctions.resolveAggregate(name, types)
}
