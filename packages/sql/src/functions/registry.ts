/**
 * The function registry: every scalar function and aggregate the SQL engine knows, each registered with a spec
 * (name, category, one-line description, NULL behaviour, signatures) that resolves calls at CREATE time and generates
 * docs/reference/sql-functions.md (functions-reference.ts).
 *
 * Lifecycle. Specs are registered once, when the process starts (the built-ins in index.ts; an application may
 * register its own functions on `defaultFunctions` before it opens an engine). The planner resolves each call once,
 * when a statement is created: `resolveScalar(name, argTypes)` and `resolveAggregate(name, argTypes)` choose a
 * signature (signature.ts: widening, generics, NULL literals, lambdas) and return the result type and an
 * implementation bound to those types. The implementation then runs per record, with no further lookup.
 *
 * Names are case-insensitive and stored in upper case. A name is a scalar function or an aggregate, never both.
 *
 * The registry answers the planner's `FunctionResolver` interface (expressions.ts, planner.ts) as is: `scalar`,
 * `aggregate`, `isAggregate`, `canCast`, `cast`; argument types there and here are `SqlType | null`, `null` being
 * the type of a NULL literal.
 */
import { OpenFactoryError } from '@openfactory/model'
import { canCast, castValue } from '../cast.ts'
import type { SqlType, SqlValue } from '../types.ts'
import {
  type ArgType,
  chooseSignature,
  formatArgType,
  formatSignature,
  type SignatureShape,
  type SignatureTypes,
} from './signature.ts'

/** Where in the SQL text a call is (the planner's `SqlPosition`), attached to the errors. */
export interface CallPosition {
  readonly line: number
  readonly column: number
}

export type ScalarCategory = 'string' | 'math' | 'date/time' | 'JSON' | 'collections' | 'nulls' | 'conversion'
export type AggregateCategory = 'aggregate' | 'industrial'
export type FunctionCategory = ScalarCategory | AggregateCategory

/** A lambda argument's value: the compiled body, called with the lambda's parameters. */
export type SqlLambda = (...args: SqlValue[]) => SqlValue

/** An evaluated argument: a value, or a lambda (TRANSFORM, FILTER, REDUCE). */
export type ScalarArg = SqlValue | SqlLambda

/**
 * A scalar function's implementation: evaluated arguments in, a value out. It runs per record, so it allocates no
 * closures and catches nothing in its common path; a value it cannot process (text that does not parse) throws
 * `OFA_SQL_VALUE`, which the engine reports for that record.
 */
export type ScalarImpl = (args: readonly ScalarArg[]) => SqlValue

/** The types a signature was resolved with, for implementations that depend on them. */
export interface BoundTypes extends SignatureTypes {
  readonly returnType: SqlType
}

export interface ScalarSignature extends SignatureShape {
  /**
   * Default true: a NULL argument gives NULL without calling the implementation (SQL's "returns NULL on NULL
   * input"). False: the implementation sees the NULLs, and the spec's `nulls` says what it does with them.
   */
  readonly strict?: boolean
  /** The implementation, when it does not depend on the argument types. */
  readonly impl?: ScalarImpl
  /** Makes the implementation for the resolved types (called once per call site, at CREATE time). */
  readonly bind?: (types: BoundTypes) => ScalarImpl
}

export interface ScalarSpec {
  readonly name: string
  readonly category: ScalarCategory
  /** One line, for SHOW FUNCTIONS and the reference page. */
  readonly description: string
  /** What NULL arguments do, required when a signature is not strict. */
  readonly nulls?: string
  /** False for functions whose result is not a function of their arguments (RANDOM, UUID, UNIX_TIMESTAMP()). */
  readonly deterministic?: boolean
  readonly signatures: readonly ScalarSignature[]
}

/** What an aggregate is told of each record it adds or takes back. */
export interface AggregateRow {
  /** The record's timestamp (ROWTIME), ms since the epoch. */
  readonly timestamp: number
  /** The record's offset in its partition, when known. */
  readonly offset?: number
  /**
   * The end of the window the record is aggregated into (windowed aggregations), ms. Time-weighted aggregates hold
   * their last sample until it; without it, until the latest sample's timestamp.
   */
  readonly windowEnd?: number
}

/**
 * An aggregate, run by the engine per group (and window): `init()` once for a new group, `add` per record of the
 * group, `result` whenever the group's row is emitted.
 *
 * - `undo(acc, args, row)`, when present, takes a record back out: aggregating a TABLE, a row that is replaced or
 *   deleted is undone from its old group before its new version is added (as ksqlDB does). Only aggregates with
 *   `undo` can aggregate a table.
 * - `merge(a, b)`, when present, joins the accumulators of two session windows that an out-of-order record bridges
 *   (`a` the earlier session).
 *
 * Accumulators are plain JSON data (objects, arrays, strings, finite numbers, booleans, null): the engine persists
 * them in its changelog topic with `JSON.stringify` and reads them back with `JSON.parse`, and an aggregate continues
 * from a read-back accumulator exactly as from the original. Values that are not JSON (BYTES, MAP, non-finite
 * doubles) are encoded inside the accumulator.
 *
 * `add`, `undo` and `merge` may update the accumulator they are given and return it, or return a new one: the engine
 * keeps the returned one and never reuses one it passed in. `result` returns a value that shares nothing mutable
 * with the accumulator. None of them keeps state outside the accumulator.
 */
export interface Aggregate<Acc = unknown> {
  init(): Acc
  add(acc: Acc, args: readonly SqlValue[], row: AggregateRow): Acc
  result(acc: Acc): SqlValue
  undo?(acc: Acc, args: readonly SqlValue[], row: AggregateRow): Acc
  merge?(a: Acc, b: Acc): Acc
}

export interface AggregateSignature extends SignatureShape {
  /**
   * Positions of arguments that must be literals (TOPK's k, LATEST_BY_OFFSET's n and ignoreNulls); the position of a
   * variadic parameter stands for all its repetitions.
   */
  readonly literals?: readonly number[]
  /** Makes the aggregate for the resolved types (once per call site, at CREATE time). */
  readonly create: (types: BoundTypes) => Aggregate
}

export interface AggregateSpec {
  readonly name: string
  readonly category: AggregateCategory
  readonly description: string
  /** What NULL arguments do; default: NULL values are ignored. */
  readonly nulls?: string
  /** Whether its aggregates have `undo` (and so can aggregate a table). */
  readonly undo: boolean
  /** Whether its aggregates have `merge` (session windows). */
  readonly merge: boolean
  readonly signatures: readonly AggregateSignature[]
}

/** A scalar call resolved: `type` and `call` are what the planner's `FunctionResolver.scalar` returns. */
export interface ResolvedScalar {
  readonly name: string
  /** The signature chosen, as the reference page writes it. */
  readonly signature: string
  /** The result type. */
  readonly type: SqlType
  /** The types the arguments are taken as (a NULL literal: its parameter's type; a lambda: its body's type). */
  readonly argTypes: readonly (SqlType | null)[]
  /** Per lambda argument: the types its parameters take (the planner compiles the body with them). */
  readonly lambdaParams: readonly (readonly SqlType[] | undefined)[]
  readonly deterministic: boolean
  /** The implementation, NULL handling included. */
  readonly call: ScalarImpl
}

/** An aggregate call resolved: the aggregate's functions, bound to the argument types, and its result type. */
export interface ResolvedAggregate extends Aggregate<unknown> {
  readonly name: string
  readonly signature: string
  readonly type: SqlType
  readonly argTypes: readonly (SqlType | null)[]
  /** Positions of arguments that must be literals. */
  readonly literals: readonly number[]
}

const NAME = /^[A-Z][A-Z0-9_]*$/

function functionError(message: string, where?: CallPosition): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_FUNCTION', message, where ? { where } : {})
}

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours). */
function distance(a: string, b: string): number {
  const d: number[][] = []
  for (let i = 0; i <= a.length; i++) {
    d.push([i])
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        ;(d[0] as number[])[j] = j
        continue
      }
      const row = d[i] as number[]
      const up = d[i - 1] as number[]
      let v = Math.min(
        (up[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (up[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1)
      }
      row[j] = v
    }
  }
  return (d[a.length] as number[])[b.length] as number
}

/** The argument positions of a call of `n` arguments that must be literals. */
function literalPositions(s: AggregateSignature, n: number): number[] {
  const out: number[] = []
  const variadicAt = s.variadic ? s.params.length - 1 : -1
  for (const i of s.literals ?? []) {
    if (i === variadicAt) for (let j = i; j < n; j++) out.push(j)
    else if (i < n) out.push(i)
  }
  return out
}

function strictImpl(f: ScalarImpl): ScalarImpl {
  return (args) => {
    for (let i = 0; i < args.length; i++) if (args[i] === null) return null
    return f(args)
  }
}

export class FunctionRegistry {
  readonly #scalars = new Map<string, ScalarSpec>()
  readonly #aggregates = new Map<string, AggregateSpec>()

  /** Registers a scalar function; a name registered already (scalar or aggregate) is refused. */
  registerScalar(spec: ScalarSpec): ScalarSpec {
    const name = this.#checkName(spec.name, spec.signatures.length)
    for (const s of spec.signatures) {
      if ((s.impl === undefined) === (s.bind === undefined)) {
        throw new TypeError(`function ${name}: each signature has an impl or a bind, not both`)
      }
    }
    if (spec.signatures.some((s) => s.strict === false) && !spec.nulls) {
      throw new TypeError(`function ${name}: a signature that is not strict needs the spec's nulls text`)
    }
    const frozen = Object.freeze({ ...spec, name })
    this.#scalars.set(name, frozen)
    return frozen
  }

  /** Registers an aggregate; a name registered already (scalar or aggregate) is refused. */
  registerAggregate(spec: AggregateSpec): AggregateSpec {
    const name = this.#checkName(spec.name, spec.signatures.length)
    const frozen = Object.freeze({ ...spec, name })
    this.#aggregates.set(name, frozen)
    return frozen
  }

  #checkName(raw: string, signatures: number): string {
    const name = raw.toUpperCase()
    if (!NAME.test(name)) throw new TypeError(`function name ${raw}: letters, digits and _ only`)
    if (this.#scalars.has(name) || this.#aggregates.has(name)) throw new TypeError(`function ${name} registered twice`)
    if (signatures === 0) throw new TypeError(`function ${name} has no signature`)
    return name
  }

  scalarSpec(name: string): ScalarSpec | undefined {
    return this.#scalars.get(name.toUpperCase())
  }

  aggregateSpec(name: string): AggregateSpec | undefined {
    return this.#aggregates.get(name.toUpperCase())
  }

  /** The scalar functions, by name. */
  scalarSpecs(): ScalarSpec[] {
    return [...this.#scalars.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** The aggregates, by name. */
  aggregateSpecs(): AggregateSpec[] {
    return [...this.#aggregates.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  isAggregate(name: string): boolean {
    return this.#aggregates.has(name.toUpperCase())
  }

  /** The signatures of a function as the reference page writes them (empty for an unknown name). */
  signatures(name: string): string[] {
    const spec = this.scalarSpec(name) ?? this.aggregateSpec(name)
    return spec ? spec.signatures.map((s) => formatSignature(spec.name, s)) : []
  }

  /**
   * Resolves a scalar call: the signature the argument types choose, its result type and its implementation.
   * Throws OFA_SQL_FUNCTION for an unknown name (with the closest name), an aggregate, or arguments no signature
   * takes (listing the signatures).
   */
  resolveScalar(name: string, argTypes: readonly ArgType[], where?: CallPosition): ResolvedScalar {
    const upper = name.toUpperCase()
    const spec = this.#scalars.get(upper)
    if (spec === undefined) {
      if (this.#aggregates.has(upper)) {
        throw functionError(`${upper} is an aggregate function: it needs GROUP BY (or is not allowed here)`, where)
      }
      throw this.#unknown(upper, where)
    }
    const chosen = chooseSignature(spec.signatures, argTypes)
    if (chosen === undefined) throw this.#noSignature(upper, spec.signatures, argTypes, where)
    const { signature, match } = chosen
    if (typeof match.returnType === 'string') {
      throw functionError(`${formatSignature(upper, signature)}: ${match.returnType}`, where)
    }
    const types: BoundTypes = { ...match.types, returnType: match.returnType }
    const impl = signature.impl ?? (signature.bind as NonNullable<ScalarSignature['bind']>)(types)
    return {
      name: upper,
      signature: formatSignature(upper, signature),
      type: match.returnType,
      argTypes: types.argTypes,
      lambdaParams: types.lambdaParams,
      deterministic: spec.deterministic ?? true,
      call: signature.strict === false ? impl : strictImpl(impl),
    }
  }

  /** Resolves an aggregate call, as `resolveScalar` does. */
  resolveAggregate(name: string, argTypes: readonly ArgType[], where?: CallPosition): ResolvedAggregate {
    const upper = name.toUpperCase()
    const spec = this.#aggregates.get(upper)
    if (spec === undefined) {
      if (this.#scalars.has(upper)) throw functionError(`${upper} is a scalar function, not an aggregate`, where)
      throw this.#unknown(upper, where)
    }
    const chosen = chooseSignature(spec.signatures, argTypes)
    if (chosen === undefined) throw this.#noSignature(upper, spec.signatures, argTypes, where)
    const { signature, match } = chosen
    if (typeof match.returnType === 'string') {
      throw functionError(`${formatSignature(upper, signature)}: ${match.returnType}`, where)
    }
    const aggregate = signature.create({ ...match.types, returnType: match.returnType })
    if ((aggregate.undo !== undefined) !== spec.undo || (aggregate.merge !== undefined) !== spec.merge) {
      throw new TypeError(`aggregate ${upper}: its undo/merge differ from its spec's`)
    }
    return {
      name: upper,
      signature: formatSignature(upper, signature),
      type: match.returnType,
      argTypes: match.types.argTypes,
      literals: literalPositions(signature, argTypes.length),
      init: aggregate.init,
      add: aggregate.add,
      result: aggregate.result,
      ...(aggregate.undo ? { undo: aggregate.undo } : {}),
      ...(aggregate.merge ? { merge: aggregate.merge } : {}),
    }
  }

  // The planner's FunctionResolver / PlannerFunctions interface (expressions.ts, planner.ts).

  scalar(name: string, argTypes: readonly ArgType[], where?: CallPosition): ResolvedScalar {
    return this.resolveScalar(name, argTypes, where)
  }

  aggregate(name: string, argTypes: readonly ArgType[], where?: CallPosition): ResolvedAggregate {
    return this.resolveAggregate(name, argTypes, where)
  }

  canCast(from: SqlType | null, to: SqlType): boolean {
    return canCast(from, to)
  }

  cast(value: SqlValue, from: SqlType | null, to: SqlType): SqlValue {
    return castValue(value, from, to)
  }

  #unknown(name: string, where?: CallPosition): OpenFactoryError {
    let best: string | undefined
    let bestDistance = Number.POSITIVE_INFINITY
    for (const candidate of [...this.#scalars.keys(), ...this.#aggregates.keys()]) {
      const d = distance(name, candidate)
      if (d < bestDistance || (d === bestDistance && best !== undefined && candidate < best)) {
        best = candidate
        bestDistance = d
      }
    }
    const close = best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))
    return functionError(
      close
        ? `unknown function ${name} (did you mean ${best}?)`
        : `unknown function ${name} (SHOW FUNCTIONS lists them; docs/reference/sql-functions.md describes them)`,
      where,
    )
  }

  #noSignature(
    name: string,
    signatures: readonly SignatureShape[],
    argTypes: readonly ArgType[],
    where?: CallPosition,
  ): OpenFactoryError {
    const given = `(${argTypes.map(formatArgType).join(', ')})`
    const list = signatures.map((s) => formatSignature(name, s)).join('; ')
    return functionError(`no signature of ${name} takes ${given}; its signatures: ${list}`, where)
  }
}
