/**
 * Function signatures and how a call's argument types choose one, as ksqlDB resolves function calls:
 *
 * - A parameter is a concrete type (`STRING`, `ARRAY<INTEGER>`), a generic one (`T`, `ARRAY<T>`, `MAP<STRING, V>`,
 *   `N` any numeric type, `C` any comparable type), or a lambda (`(T) => U`) for TRANSFORM, FILTER and REDUCE.
 *   The last parameter may be variadic (it repeats zero or more times).
 * - An argument of a numeric type widens implicitly to a wider numeric parameter: INTEGER → BIGINT → DECIMAL →
 *   DOUBLE (also inside ARRAY, MAP and STRUCT). Every numeric type is a JavaScript number at run time, so widening
 *   converts no value. A generic bound by two numeric arguments takes the wider of their types.
 * - A NULL literal (its type is `null`, as the planner's expressions give it) matches any parameter.
 * - Among the signatures that accept the arguments, the one needing the fewest widening steps wins; on a tie, the
 *   one declared first.
 * - A lambda argument is typed last: its parameters take the types the other arguments bound (`T` of `ARRAY<T>`),
 *   then the planner types the body with them (`LambdaArgType.typeOf`) and the body's type binds the lambda's
 *   result (`U` of `(T) => U`).
 */
import { formatType, isNumeric, type SqlType, sameType, SqlType as Types, widerNumeric } from '../types.ts'

/** A lambda argument as the planner sees it before its body is typed. */
export interface LambdaArgType {
  readonly kind: 'LAMBDA'
  /** How many parameters the lambda declares (`x => ...`: 1, `(k, v) => ...`: 2). */
  readonly arity: number
  /** The type of the lambda's body when its parameters have these types (`null`: the body is a NULL literal). */
  readonly typeOf: (params: readonly SqlType[]) => SqlType | null
}

/** The type of an argument of a call: a SQL type, `null` for a NULL literal, or a lambda. */
export type ArgType = SqlType | null | LambdaArgType

/** What a generic parameter accepts. */
export type GenericConstraint = 'any' | 'numeric' | 'comparable' | 'primitive' | 'decimal'

export interface GenericParam {
  readonly kind: 'GENERIC'
  readonly name: string
  readonly constraint: GenericConstraint
}

export interface LambdaParam {
  readonly kind: 'LAMBDA'
  readonly params: readonly ParamType[]
  readonly result: ParamType
}

/** The type of a parameter: concrete, generic, or containing generics. */
export type ParamType =
  | SqlType
  | GenericParam
  | LambdaParam
  | { readonly kind: 'ARRAY'; readonly element: ParamType }
  | { readonly kind: 'MAP'; readonly key: ParamType; readonly value: ParamType }

/** What a computed return type sees: the types the arguments are taken as, and the generics' bindings. */
export interface SignatureTypes {
  /** Per argument: its parameter's type (a NULL literal takes its parameter's type, or stays `null` if generic). */
  readonly argTypes: readonly (SqlType | null)[]
  readonly bindings: ReadonlyMap<string, SqlType>
  /** The return type (for `bind`/`create`; absent while the return type itself is being computed). */
  readonly returnType?: SqlType
  /** Per argument that is a lambda: the types its parameters take. */
  readonly lambdaParams: readonly (readonly SqlType[] | undefined)[]
}

/** A return type computed from the argument types, with how the reference page shows it. */
export interface ReturnRule {
  readonly label: string
  /** The return type; undefined when a generic it needs is bound by no argument (only NULLs). */
  readonly compute: (types: SignatureTypes) => SqlType | undefined
}

export interface SignatureShape {
  readonly params: readonly ParamType[]
  /** Names of the parameters for the reference page and error messages (`pos` in `SUBSTRING(STRING, pos INTEGER)`). */
  readonly names?: readonly (string | undefined)[]
  /** The last parameter repeats zero or more times. */
  readonly variadic?: boolean
  readonly returns: ParamType | ReturnRule
}

const generic = (name: string, constraint: GenericConstraint): GenericParam =>
  Object.freeze({ kind: 'GENERIC', name, constraint })

/** Parameter types for signatures: the SQL types, generics, and constructors that take generics. */
export const P = {
  BOOLEAN: Types.BOOLEAN,
  INTEGER: Types.INTEGER,
  BIGINT: Types.BIGINT,
  DOUBLE: Types.DOUBLE,
  STRING: Types.STRING,
  BYTES: Types.BYTES,
  TIMESTAMP: Types.TIMESTAMP,
  DATE: Types.DATE,
  TIME: Types.TIME,
  /** Any type. */
  T: generic('T', 'any'),
  /** Any type (a second one). */
  U: generic('U', 'any'),
  /** Any type (map values). */
  V: generic('V', 'any'),
  /** Any type (REDUCE's state). */
  S: generic('S', 'any'),
  /** Any numeric type: INTEGER, BIGINT, DECIMAL, DOUBLE. */
  N: generic('N', 'numeric'),
  /** Any DECIMAL(p, s). */
  D: generic('D', 'decimal'),
  /** Any type with an order: numbers, STRING, BOOLEAN, DATE, TIME, TIMESTAMP. */
  C: generic('C', 'comparable'),
  /** A value that is not a collection: numbers, STRING, BOOLEAN, DATE, TIME, TIMESTAMP. */
  K: generic('K', 'primitive'),
  array: (element: ParamType): ParamType => Object.freeze({ kind: 'ARRAY', element }),
  /** MAP<STRING, value>: map keys are strings. */
  map: (value: ParamType): ParamType => Object.freeze({ kind: 'MAP', key: Types.STRING, value }),
  lambda: (params: readonly ParamType[], result: ParamType): LambdaParam =>
    Object.freeze({ kind: 'LAMBDA', params: Object.freeze([...params]), result }),
} as const

/** Generics and what they accept, for the reference page's legend. */
export const GENERIC_LEGEND: readonly (readonly [string, string])[] = [
  ['T, U, V, S', 'any type (the same letter is the same type within a signature)'],
  ['N', 'any numeric type: INTEGER, BIGINT, DECIMAL, DOUBLE'],
  ['D', 'any DECIMAL(p, s)'],
  ['C', 'any type with an order: a numeric type, STRING, BOOLEAN, DATE, TIME, TIMESTAMP'],
  ['K', 'a value that is not a collection: a numeric type, STRING, BOOLEAN, DATE, TIME, TIMESTAMP'],
]

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function formatParam(p: ParamType): string {
  switch (p.kind) {
    case 'GENERIC':
      return p.name
    case 'LAMBDA':
      return `(${p.params.map(formatParam).join(', ')}) => ${formatParam(p.result)}`
    case 'ARRAY':
      return `ARRAY<${formatParam(p.element)}>`
    case 'MAP':
      return `MAP<${formatParam(p.key)}, ${formatParam(p.value)}>`
    default:
      return formatType(p as SqlType)
  }
}

function isRule(r: ParamType | ReturnRule): r is ReturnRule {
  return typeof (r as ReturnRule).compute === 'function'
}

/** `NAME(STRING, INTEGER...) → STRING`. */
export function formatSignature(name: string, s: SignatureShape): string {
  const params = s.params.map((p, i) => {
    const name = s.names?.[i]
    const text = name ? `${name} ${formatParam(p)}` : formatParam(p)
    return s.variadic && i === s.params.length - 1 ? `${text}...` : text
  })
  const returns = isRule(s.returns) ? s.returns.label : formatParam(s.returns)
  return `${name}(${params.join(', ')}) → ${returns}`
}

/** How an argument type reads in an error message. */
export function formatArgType(a: ArgType): string {
  if (a === null) return 'NULL'
  if (a.kind === 'LAMBDA' && 'arity' in a) return `a lambda of ${a.arity} parameter${a.arity === 1 ? '' : 's'}`
  return formatType(a as SqlType)
}

// ---------------------------------------------------------------------------------------------------------------
// Widening and unification

const NUMERIC_RANK: Readonly<Record<string, number>> = { INTEGER: 0, BIGINT: 1, DECIMAL: 2, DOUBLE: 3 }
const COMPARABLE = new Set(['INTEGER', 'BIGINT', 'DECIMAL', 'DOUBLE', 'STRING', 'BOOLEAN', 'DATE', 'TIME', 'TIMESTAMP'])

function satisfies(c: GenericConstraint, t: SqlType): boolean {
  switch (c) {
    case 'any':
      return true
    case 'numeric':
      return isNumeric(t)
    case 'decimal':
      return t.kind === 'DECIMAL'
    default:
      return COMPARABLE.has(t.kind)
  }
}

/**
 * How many widening steps take a value of type `from` to a parameter of type `to` (0: the same type), or undefined
 * when it cannot go there implicitly. Numeric steps count the rank difference; DECIMAL to another DECIMAL is one.
 */
export function widenCost(from: SqlType, to: SqlType): number | undefined {
  if (from === to) return 0
  if (isNumeric(from) && isNumeric(to)) {
    if (from.kind === 'DECIMAL' && to.kind === 'DECIMAL') return sameType(from, to) ? 0 : 1
    const d = (NUMERIC_RANK[to.kind] as number) - (NUMERIC_RANK[from.kind] as number)
    return d >= 0 ? d : undefined
  }
  if (from.kind !== to.kind) return undefined
  switch (from.kind) {
    case 'ARRAY':
      return widenCost(from.element, (to as { element: SqlType }).element)
    case 'MAP': {
      const m = to as { key: SqlType; value: SqlType }
      const k = widenCost(from.key, m.key)
      const v = widenCost(from.value, m.value)
      return k === undefined || v === undefined ? undefined : k + v
    }
    case 'STRUCT': {
      const fields = (to as { fields: readonly { name: string; type: SqlType }[] }).fields
      if (fields.length !== from.fields.length) return undefined
      let cost = 0
      for (let i = 0; i < fields.length; i++) {
        const a = from.fields[i] as { name: string; type: SqlType }
        const b = fields[i] as { name: string; type: SqlType }
        if (a.name !== b.name) return undefined
        const c = widenCost(a.type, b.type)
        if (c === undefined) return undefined
        cost += c
      }
      return cost
    }
    default:
      return 0
  }
}

/** The narrowest type both widen to, or undefined. */
export function commonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (sameType(a, b)) return a
  if (isNumeric(a) && isNumeric(b)) return widerNumeric(a, b)
  if (a.kind === 'ARRAY' && b.kind === 'ARRAY') {
    const e = commonType(a.element, b.element)
    return e && Types.array(e)
  }
  if (a.kind === 'MAP' && b.kind === 'MAP') {
    const k = commonType(a.key, b.key)
    const v = commonType(a.value, b.value)
    return k && v && Types.map(k, v)
  }
  if (widenCost(a, b) !== undefined) return b
  if (widenCost(b, a) !== undefined) return a
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Matching

type Env = Map<string, SqlType>

function isLambdaArg(a: ArgType): a is LambdaArgType {
  return a !== null && a.kind === 'LAMBDA' && 'arity' in a
}

/** Pass 1: binds the generics of `param` from a (non-lambda) argument; false when it cannot match. */
function bind(param: ParamType, arg: SqlType | null, env: Env): boolean {
  if (arg === null) return true
  switch (param.kind) {
    case 'GENERIC': {
      if (!satisfies(param.constraint, arg)) return false
      const bound = env.get(param.name)
      if (bound === undefined) {
        env.set(param.name, arg)
        return true
      }
      const common = commonType(bound, arg)
      if (common === undefined) return false
      env.set(param.name, common)
      return true
    }
    case 'LAMBDA':
      return false
    case 'ARRAY':
      return arg.kind === 'ARRAY' && bind(param.element, arg.element, env)
    case 'MAP':
      return arg.kind === 'MAP' && bind(param.key, arg.key, env) && bind(param.value, arg.value, env)
    default:
      return widenCost(arg, param as SqlType) !== undefined
  }
}

/** The concrete type of a parameter under the bindings; undefined while a generic in it is unbound. */
function substitute(param: ParamType, env: ReadonlyMap<string, SqlType>): SqlType | undefined {
  switch (param.kind) {
    case 'GENERIC':
      return env.get(param.name)
    case 'LAMBDA':
      return undefined
    case 'ARRAY': {
      const e = substitute(param.element, env)
      return e && Types.array(e)
    }
    case 'MAP': {
      const k = substitute(param.key, env)
      const v = substitute(param.value, env)
      return k && v && Types.map(k, v)
    }
    default:
      return param as SqlType
  }
}

/** A signature matched to a call. */
export interface SignatureMatch {
  readonly cost: number
  readonly types: SignatureTypes
  /** The return type, or a message saying why it cannot be known (a generic only NULL arguments gave). */
  readonly returnType: SqlType | string
}

/** The parameters a call of `n` arguments meets, or undefined when the count does not fit. */
function expand(s: SignatureShape, n: number): readonly ParamType[] | undefined {
  const k = s.params.length
  if (!s.variadic) return n === k ? s.params : undefined
  if (n < k - 1) return undefined
  const out = s.params.slice(0, k - 1)
  const last = s.params[k - 1] as ParamType
  while (out.length < n) out.push(last)
  return out
}

/** Matches a call's argument types against one signature: undefined when it does not accept them. */
export function matchSignature(s: SignatureShape, args: readonly ArgType[]): SignatureMatch | undefined {
  const params = expand(s, args.length)
  if (params === undefined) return undefined
  const env: Env = new Map()
  // Pass 1: every argument but lambdas binds generics (numeric bindings widen as more arguments come).
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as ArgType
    const p = params[i] as ParamType
    if (isLambdaArg(a) || p.kind === 'LAMBDA') {
      if (!(isLambdaArg(a) && p.kind === 'LAMBDA' && a.arity === p.params.length)) return undefined
      continue
    }
    if (!bind(p, a, env)) return undefined
  }
  // Lambdas: typed with their parameters' types, their body binds their result; again until the types settle
  // (REDUCE's state can widen to the body's type).
  const lambdaParams: (readonly SqlType[] | undefined)[] = args.map(() => undefined)
  const bodies: (SqlType | null)[] = args.map(() => null)
  for (let round = 0; round < 3; round++) {
    let changed = false
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as ArgType
      if (!isLambdaArg(a)) continue
      const p = params[i] as LambdaParam
      const types: SqlType[] = []
      for (const lp of p.params) {
        const t = substitute(lp, env)
        if (t === undefined) return undefined
        types.push(t)
      }
      const before = lambdaParams[i]
      if (before?.every((t, j) => sameType(t, types[j] as SqlType))) continue
      changed = true
      lambdaParams[i] = types
      const body = a.typeOf(types)
      bodies[i] = body
      if (!bind(p.result, body, env)) return undefined
    }
    if (!changed) break
  }
  // Pass 2: every argument must widen to its parameter's final type; the cost is the widening steps.
  let cost = 0
  const argTypes: (SqlType | null)[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as ArgType
    const p = params[i] as ParamType
    if (isLambdaArg(a)) {
      const body = bodies[i] as SqlType | null
      const want = substitute((p as LambdaParam).result, env)
      if (body !== null && want !== undefined) {
        const c = widenCost(body, want)
        if (c === undefined) return undefined
        cost += c
      }
      argTypes.push(want ?? body)
      continue
    }
    const want = substitute(p, env)
    if (a === null) {
      argTypes.push(want ?? null)
      continue
    }
    if (want === undefined) return undefined
    const c = widenCost(a, want)
    if (c === undefined) return undefined
    cost += c
    argTypes.push(want)
  }
  const types: SignatureTypes = { argTypes, bindings: env, lambdaParams }
  const r = isRule(s.returns) ? s.returns.compute(types) : substitute(s.returns, env)
  const returnType = r ?? 'its type comes from NULL arguments only: CAST one of them to a type'
  return { cost, types, returnType }
}

/**
 * The best signature for the arguments: one whose return type is known before one whose return type only NULL
 * arguments could give, then the fewest widening steps, then declaration order. Undefined when none matches.
 */
export function chooseSignature<S extends SignatureShape>(
  signatures: readonly S[],
  args: readonly ArgType[],
): { readonly signature: S; readonly match: SignatureMatch } | undefined {
  let best: { signature: S; match: SignatureMatch; rank: number } | undefined
  for (const signature of signatures) {
    const match = matchSignature(signature, args)
    if (match === undefined) continue
    const rank = (typeof match.returnType === 'string' ? 1_000_000 : 0) + match.cost
    if (best === undefined || rank < best.rank) best = { signature, match, rank }
  }
  return best && { signature: best.signature, match: best.match }
}
