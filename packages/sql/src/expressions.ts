/**
 * Expressions compiled to closures over a row (schema.ts: one array, columns by index), typed at compile time —
 * a statement with a type error is refused when it is created, not when a record comes.
 *
 * SQL semantics as ksqlDB has them: NULL in, NULL out for operators and comparisons; AND/OR/NOT three-valued;
 * `=` between numbers of different types compares their values; INTEGER and BIGINT division truncates, division
 * by zero is NULL for integers; `x IN (...)` is NULL when no element matched and one was NULL; LIKE's `%` and `_`;
 * array subscripts count from 1 (negative: from the end), out of range is NULL; a struct field of a NULL struct is
 * NULL. A run-time value that cannot be had (a cast of 'abc' to INTEGER) throws OFA_SQL_VALUE: the record is
 * skipped and logged by the processor, as ksqlDB's processing log does. CAST and the comparisons are cast.ts's
 * (`castValue` through the resolver, `compareValues`, `equalValues`); a STRING compared with a TIMESTAMP, DATE or
 * TIME is read as one, as CAST reads it.
 *
 * Function calls are resolved by the function registry (functions/registry.ts) through `FunctionResolver`. A lambda
 * argument (`TRANSFORM(arr, x => x * 2)`) is typed with the parameter types the registry gives it; its body is
 * compiled with its parameters in scope (they shadow columns of the same name), each held in a cell the lambda sets
 * before it evaluates its body over the call's row.
 */
import { OpenFactoryError } from '@openfactory/model'
import {
  type ColumnRefNode,
  type Expression,
  type FunctionCallNode,
  type LambdaNode,
  LiteralNode,
  type SqlPosition,
} from './ast.ts'
import { castValue, compareValues, equalValues } from './cast.ts'
import type { ScalarArg, SqlLambda } from './functions/registry.ts'
import type { ArgType, LambdaArgType } from './functions/signature.ts'
import type { Row } from './row-codec.ts'
import { formatType, isNumeric, type SqlStruct, SqlType, type SqlValue, widerNumeric } from './types.ts'

export type Evaluator = (row: Row) => SqlValue

export interface Compiled {
  /** null: the type of NULL (a NULL literal, or CAST-less NULL), compatible with any. */
  readonly type: SqlType | null
  readonly eval: Evaluator
}

/** Where columns come from: a name (and its source qualifier) to an index of the row and a type. */
export interface Scope {
  column(ref: ColumnRefNode): { readonly index: number; readonly type: SqlType }
}

/** A scalar function resolved for argument types (the registry's `ResolvedScalar` is one). */
export interface ResolvedScalar {
  readonly type: SqlType | null
  /** Per lambda argument: the types its parameters take. */
  readonly lambdaParams: readonly (readonly SqlType[] | undefined)[]
  readonly call: (args: readonly ScalarArg[]) => SqlValue
}

/** The functions expressions call: the function registry (functions/registry.ts) answers it. */
export interface FunctionResolver {
  /** Throws OFA_SQL_FUNCTION when no signature of `name` takes these types (a lambda: `LambdaArgType`). */
  scalar(name: string, argTypes: readonly ArgType[], where: SqlPosition): ResolvedScalar
  /** Whether `name` is an aggregate function (COUNT, SUM, LATEST_BY_OFFSET...). */
  isAggregate(name: string): boolean
  /** Casts a value (OFA_SQL_VALUE when it cannot be); `check` at compile time refuses impossible casts. */
  cast(value: SqlValue, from: SqlType | null, to: SqlType): SqlValue
  canCast(from: SqlType | null, to: SqlType): boolean
}

export interface CompileContext {
  readonly scope: Scope
  readonly functions: FunctionResolver
  /** Nodes the caller compiled already: aggregate calls and GROUP BY expressions over an aggregate row. */
  readonly replace?: (e: Expression) => Compiled | undefined
  /** The parameters of the lambdas being compiled (a body, and the lambdas inside it), by name. */
  readonly lambdaParams?: ReadonlyMap<string, LambdaParamCell>
}

/** A lambda parameter: its type, and its value during a call of the lambda. */
interface LambdaParamCell {
  readonly type: SqlType
  value: SqlValue
}

function typeError(message: string, where: SqlPosition): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_TYPE', message, { where })
}

function show(t: SqlType | null): string {
  return t ? formatType(t) : 'NULL'
}

const isIntegral = (t: SqlType | null) => t?.kind === 'INTEGER' || t?.kind === 'BIGINT'

function comparable(a: SqlType | null, b: SqlType | null): boolean {
  if (a === null || b === null) return true
  if (isNumeric(a) && isNumeric(b)) return true
  const temporal = (t: SqlType) => t.kind === 'TIMESTAMP' || t.kind === 'DATE' || t.kind === 'TIME'
  if (temporal(a) && (b.kind === a.kind || b.kind === 'STRING')) return true
  if (temporal(b) && a.kind === 'STRING') return true
  return a.kind === b.kind
}

/**
 * A STRING compared with a TIMESTAMP, DATE or TIME is read as one, as CAST reads it (ISO 8601, UTC unless it names
 * a zone), as ksqlDB does for literals; text that is not one is OFA_SQL_VALUE for the record.
 */
function coerceForCompare(target: SqlType | null, other: SqlType | null, fn: Evaluator): Evaluator {
  if (target?.kind === 'STRING' && (other?.kind === 'TIMESTAMP' || other?.kind === 'DATE' || other?.kind === 'TIME')) {
    return (row) => castValue(fn(row), SqlType.STRING, other)
  }
  return fn
}

/** `LIKE` pattern to a regular expression: `%` any text, `_` one character, `escape` makes the next literal. */
export function likeToRegExp(pattern: string, escapeChar: string | null): RegExp {
  let out = '^'
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string
    if (escapeChar !== null && ch === escapeChar && i + 1 < pattern.length) {
      out += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    } else if (ch === '%') out += '[\\s\\S]*'
    else if (ch === '_') out += '[\\s\\S]'
    else out += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`${out}$`, 'u')
}

export function compileExpression(e: Expression, ctx: CompileContext): Compiled {
  if (e.kind === 'ColumnRefNode' && e.source === null && ctx.lambdaParams) {
    const cell = ctx.lambdaParams.get(e.name)
    if (cell) return { type: cell.type, eval: () => cell.value }
  }
  const replaced = ctx.replace?.(e)
  if (replaced) return replaced
  const sub = (x: Expression) => compileExpression(x, ctx)
  switch (e.kind) {
    case 'LiteralNode': {
      const v = e.value as SqlValue
      return { type: e.type, eval: () => v }
    }
    case 'ColumnRefNode': {
      const { index, type } = ctx.scope.column(e)
      return { type, eval: (row) => row[index] ?? null }
    }
    case 'DereferenceNode': {
      const base = sub(e.base)
      if (base.type && base.type.kind !== 'STRUCT') {
        throw typeError(`-> needs a STRUCT; ${show(base.type)} has no field ${e.field}`, e.where)
      }
      const field =
        base.type?.kind === 'STRUCT'
          ? (base.type.fields.find((f) => f.name === e.field) ??
            base.type.fields.find((f) => f.name.toUpperCase() === e.field.toUpperCase()))
          : undefined
      if (base.type && !field) {
        throw new OpenFactoryError('OFA_SQL_UNKNOWN_COLUMN', `${show(base.type)} has no field ${e.field}`, {
          where: e.where,
        })
      }
      const name = field?.name ?? e.field
      const b = base.eval
      return {
        type: field?.type ?? null,
        eval: (row) => {
          const s = b(row) as SqlStruct | null
          return s === null ? null : (s[name] ?? null)
        },
      }
    }
    case 'SubscriptNode': {
      const base = sub(e.base)
      const index = sub(e.index)
      const b = base.eval
      const i = index.eval
      if (base.type?.kind === 'ARRAY') {
        if (index.type && !isIntegral(index.type)) {
          throw typeError(`an array index is an INTEGER, not ${show(index.type)}`, e.index.where)
        }
        return {
          type: base.type.element,
          eval: (row) => {
            const arr = b(row) as SqlValue[] | null
            const n = i(row) as number | null
            if (arr === null || n === null || n === 0) return null
            const at = n > 0 ? n - 1 : arr.length + n
            return at >= 0 && at < arr.length ? (arr[at] ?? null) : null
          },
        }
      }
      if (base.type?.kind === 'MAP') {
        return {
          type: base.type.value,
          eval: (row) => {
            const m = b(row) as ReadonlyMap<string, SqlValue> | null
            const k = i(row)
            if (m === null || k === null) return null
            return m.get(String(k)) ?? null
          },
        }
      }
      throw typeError(`[] needs an ARRAY or a MAP, not ${show(base.type)}`, e.where)
    }
    case 'FunctionCallNode':
      return compileCall(e, ctx)
    case 'LambdaNode':
      throw typeError('a lambda is only an argument of a function (TRANSFORM, FILTER, REDUCE)', e.where)
    case 'UnaryNode': {
      const x = sub(e.operand)
      if (x.type && !isNumeric(x.type)) throw typeError(`unary ${e.op} needs a number, not ${show(x.type)}`, e.where)
      const f = x.eval
      return e.op === '+'
        ? x
        : {
            type: x.type,
            eval: (row) => {
              const v = f(row) as number | null
              return v === null ? null : -v
            },
          }
    }
    case 'ArithmeticNode': {
      const l = sub(e.left)
      const r = sub(e.right)
      if ((l.type && !isNumeric(l.type)) || (r.type && !isNumeric(r.type))) {
        throw typeError(`${show(l.type)} ${e.op} ${show(r.type)}: arithmetic needs numbers`, e.where)
      }
      const type = l.type && r.type ? (widerNumeric(l.type, r.type) as SqlType) : (l.type ?? r.type)
      const integral = isIntegral(type)
      const a = l.eval
      const b = r.eval
      const op = e.op
      return {
        type,
        eval: (row) => {
          const x = a(row) as number | null
          if (x === null) return null
          const y = b(row) as number | null
          if (y === null) return null
          switch (op) {
            case '+':
              return x + y
            case '-':
              return x - y
            case '*':
              return x * y
            case '/':
              if (integral) return y === 0 ? null : Math.trunc(x / y)
              return x / y
            default:
              if (y === 0) return null
              return x % y
          }
        },
      }
    }
    case 'ComparisonNode': {
      const l = sub(e.left)
      const r = sub(e.right)
      if (!comparable(l.type, r.type)) throw typeError(`cannot compare ${show(l.type)} with ${show(r.type)}`, e.where)
      const a = coerceForCompare(l.type, r.type, l.eval)
      const b = coerceForCompare(r.type, l.type, r.eval)
      const op = e.op
      if (op === 'IS DISTINCT FROM' || op === 'IS NOT DISTINCT FROM') {
        const distinct = op === 'IS DISTINCT FROM'
        return {
          type: SqlType.BOOLEAN,
          eval: (row) => {
            const same = equalValues(a(row), b(row))
            return distinct ? !same : same
          },
        }
      }
      if (op === '=' || op === '<>') {
        const equal = op === '='
        return {
          type: SqlType.BOOLEAN,
          eval: (row) => {
            const x = a(row)
            if (x === null) return null
            const y = b(row)
            if (y === null) return null
            return equalValues(x, y) === equal
          },
        }
      }
      const type = l.type ?? r.type ?? undefined
      return {
        type: SqlType.BOOLEAN,
        eval: (row) => {
          const x = a(row)
          if (x === null) return null
          const y = b(row)
          if (y === null) return null
          const c = compareValues(x, y, type)
          switch (op) {
            case '<':
              return c < 0
            case '<=':
              return c <= 0
            case '>':
              return c > 0
            default:
              return c >= 0
          }
        },
      }
    }
    case 'LogicalNode': {
      const l = boolean(sub(e.left), e.left.where)
      const r = boolean(sub(e.right), e.right.where)
      if (e.op === 'AND') {
        return {
          type: SqlType.BOOLEAN,
          eval: (row) => {
            const x = l(row)
            if (x === false) return false
            const y = r(row)
            if (y === false) return false
            return x === null || y === null ? null : true
          },
        }
      }
      return {
        type: SqlType.BOOLEAN,
        eval: (row) => {
          const x = l(row)
          if (x === true) return true
          const y = r(row)
          if (y === true) return true
          return x === null || y === null ? null : false
        },
      }
    }
    case 'NotNode': {
      const x = boolean(sub(e.operand), e.operand.where)
      return {
        type: SqlType.BOOLEAN,
        eval: (row) => {
          const v = x(row)
          return v === null ? null : !v
        },
      }
    }
    case 'IsNullNode': {
      const x = sub(e.operand).eval
      const negated = e.negated
      return { type: SqlType.BOOLEAN, eval: (row) => (x(row) === null) !== negated }
    }
    case 'InNode': {
      const x = sub(e.operand)
      const list = e.list.map((item) => {
        const c = sub(item)
        if (!comparable(x.type, c.type)) throw typeError(`${show(c.type)} in a list of ${show(x.type)}`, item.where)
        return coerceForCompare(c.type, x.type, c.eval)
      })
      const a = x.eval
      const negated = e.negated
      return {
        type: SqlType.BOOLEAN,
        eval: (row) => {
          const v = a(row)
          if (v === null) return null
          let sawNull = false
          for (const f of list) {
            const w = f(row)
            if (w === null) sawNull = true
            else if (equalValues(v, w)) return !negated
          }
          return sawNull ? null : negated
        },
      }
    }
    case 'LikeNode': {
      const x = sub(e.operand)
      const p = sub(e.pattern)
      for (const [c, at] of [
        [x, e.operand.where],
        [p, e.pattern.where],
      ] as const) {
        if (c.type && c.type.kind !== 'STRING') throw typeError(`LIKE needs text, not ${show(c.type)}`, at)
      }
      const a = x.eval
      const escapeChar = e.escape
      const negated = e.negated
      const constant = e.pattern.kind === 'LiteralNode' && typeof e.pattern.value === 'string'
      const fixed = constant ? likeToRegExp(e.pattern.value as string, escapeChar) : undefined
      const pf = p.eval
      return {
        type: SqlType.BOOLEAN,
        eval: (row) => {
          const v = a(row) as string | null
          if (v === null) return null
          let re = fixed
          if (!re) {
            const pattern = pf(row) as string | null
            if (pattern === null) return null
            re = likeToRegExp(pattern, escapeChar)
          }
          return re.test(v) !== negated
        },
      }
    }
    case 'BetweenNode': {
      const x = sub(e.operand)
      const lo = sub(e.low)
      const hi = sub(e.high)
      if (!comparable(x.type, lo.type) || !comparable(x.type, hi.type)) {
        throw typeError(`${show(x.type)} BETWEEN ${show(lo.type)} AND ${show(hi.type)}`, e.where)
      }
      const a = coerceForCompare(x.type, lo.type ?? hi.type, x.eval)
      const l = coerceForCompare(lo.type, x.type, lo.eval)
      const h = coerceForCompare(hi.type, x.type, hi.eval)
      const type = x.type ?? lo.type ?? hi.type ?? undefined
      const negated = e.negated
      return {
        type: SqlType.BOOLEAN,
        eval: (row) => {
          const v = a(row)
          const low = l(row)
          const high = h(row)
          if (v === null || low === null || high === null) return null
          return (compareValues(v, low, type) >= 0 && compareValues(v, high, type) <= 0) !== negated
        },
      }
    }
    case 'CaseNode': {
      const operand = e.operand ? sub(e.operand) : undefined
      const branches = e.branches.map((b) => {
        const when = sub(b.when)
        if (operand && !comparable(operand.type, when.type)) {
          throw typeError(`CASE ${show(operand.type)} WHEN ${show(when.type)}`, b.when.where)
        }
        return { when: operand ? when.eval : boolean(when, b.when.where), result: sub(b.then) }
      })
      const otherwise = e.otherwise ? sub(e.otherwise) : undefined
      const type = [...branches.map((b) => b.result.type), otherwise?.type ?? null].reduce<SqlType | null>(
        (acc, t) => resultType(acc, t, e.where),
        null,
      )
      const o = operand?.eval
      const list = branches.map((b) => [b.when, b.result.eval] as const)
      const other = otherwise?.eval
      return {
        type,
        eval: (row) => {
          const v = o ? o(row) : undefined
          for (const [when, then] of list) {
            const w = when(row)
            if (o ? v !== null && w !== null && equalValues(v as SqlValue, w) : w === true) return then(row)
          }
          return other ? other(row) : null
        },
      }
    }
    case 'CastNode': {
      const x = sub(e.operand)
      if (!ctx.functions.canCast(x.type, e.type)) {
        throw typeError(`cannot CAST ${show(x.type)} AS ${formatType(e.type)}`, e.where)
      }
      const f = x.eval
      const from = x.type
      const to = e.type
      const cast = ctx.functions.cast
      if (from === null) return { type: to, eval: () => null }
      return { type: to, eval: (row) => cast(f(row), from, to) }
    }
    case 'ArrayNode': {
      const items = e.elements.map(sub)
      const element = items.reduce<SqlType | null>((acc, c) => resultType(acc, c.type, e.where), null)
      const fs = items.map((c) => c.eval)
      return { type: SqlType.array(element ?? SqlType.STRING), eval: (row) => fs.map((f) => f(row)) }
    }
    case 'MapNode': {
      const entries = e.entries.map((en) => ({ key: sub(en.key), value: sub(en.value) }))
      const value = entries.reduce<SqlType | null>((acc, en) => resultType(acc, en.value.type, e.where), null)
      const fs = entries.map((en) => [en.key.eval, en.value.eval] as const)
      return {
        type: SqlType.map(SqlType.STRING, value ?? SqlType.STRING),
        eval: (row) => {
          const m = new Map<string, SqlValue>()
          for (const [k, v] of fs) {
            const key = k(row)
            if (key !== null) m.set(String(key), v(row))
          }
          return m
        },
      }
    }
    case 'StructNode': {
      const fields = e.fields.map((f) => ({ name: f.name, c: sub(f.value) }))
      const names = fields.map((f) => f.name)
      const fs = fields.map((f) => f.c.eval)
      return {
        type: SqlType.struct(fields.map((f) => ({ name: f.name, type: f.c.type ?? SqlType.STRING }))),
        eval: (row) => {
          const s: Record<string, SqlValue> = Object.create(null)
          for (let i = 0; i < fs.length; i++) s[names[i] as string] = (fs[i] as Evaluator)(row)
          return s
        },
      }
    }
  }
}

/** The type of an expression that takes either of two types (CASE branches, ARRAY elements). */
function resultType(a: SqlType | null, b: SqlType | null, where: SqlPosition): SqlType | null {
  if (a === null) return b
  if (b === null) return a
  if (isNumeric(a) && isNumeric(b)) return widerNumeric(a, b) as SqlType
  if (a.kind === b.kind) return a
  throw typeError(`${show(a)} and ${show(b)} do not mix`, where)
}

/** A condition: BOOLEAN (or NULL), else OFA_SQL_TYPE. */
function boolean(c: Compiled, where: SqlPosition): (row: Row) => boolean | null {
  if (c.type && c.type.kind !== 'BOOLEAN') throw typeError(`a condition is BOOLEAN, not ${show(c.type)}`, where)
  const f = c.eval
  return (row) => f(row) as boolean | null
}

/**
 * DATEADD and its kin take a time unit first (date-time-functions.ts): ksqlDB writes it as a keyword,
 * `DATEADD(DAYS, 2, d)`, which the parser reads as a column; it is passed to the function as its name.
 */
const UNIT_FIRST = new Set(['DATEADD', 'DATESUB', 'TIMEADD', 'TIMESUB', 'TIMESTAMPADD', 'TIMESTAMPSUB'])
const UNIT_KEYWORD = /^(?:DAY|HOUR|MINUTE|SECOND|MILLISECOND|MICROSECOND|NANOSECOND)S?$/

function unitKeyword(e: Expression): Expression {
  return e.kind === 'ColumnRefNode' && e.source === null && UNIT_KEYWORD.test(e.name)
    ? LiteralNode.string(e.name, e.where)
    : e
}

/** A lambda's body compiled with its parameters of these types in scope, and the cells that hold their values. */
function compileLambdaBody(
  node: LambdaNode,
  types: readonly SqlType[],
  ctx: CompileContext,
): { readonly body: Compiled; readonly cells: LambdaParamCell[] } {
  if (new Set(node.params).size !== node.params.length) {
    throw typeError(`a lambda's parameters have distinct names: (${node.params.join(', ')})`, node.where)
  }
  const params = new Map(ctx.lambdaParams)
  const cells = node.params.map((name, i) => {
    const cell: LambdaParamCell = { type: types[i] as SqlType, value: null }
    params.set(name, cell)
    return cell
  })
  return { body: compileExpression(node.body, { ...ctx, lambdaParams: params }), cells }
}

/** A lambda argument before its call is resolved: the registry types its body for the parameter types it chose. */
function lambdaArgType(node: LambdaNode, ctx: CompileContext): LambdaArgType {
  return {
    kind: 'LAMBDA',
    arity: node.params.length,
    typeOf: (types) => compileLambdaBody(node, types, ctx).body.type,
  }
}

/**
 * A lambda argument's value for a row: one function per call site, which sets its parameters' cells and evaluates
 * the body over the row the call is evaluated for (the call's evaluator sets it first).
 */
function compileLambda(node: LambdaNode, types: readonly SqlType[], ctx: CompileContext): (row: Row) => SqlLambda {
  const { body, cells } = compileLambdaBody(node, types, ctx)
  const f = body.eval
  const n = cells.length
  let current: Row = []
  const lambda: SqlLambda = (...xs) => {
    for (let i = 0; i < n; i++) (cells[i] as LambdaParamCell).value = xs[i] ?? null
    return f(current)
  }
  return (row) => {
    current = row
    return lambda
  }
}

function compileCall(e: FunctionCallNode, ctx: CompileContext): Compiled {
  if (ctx.functions.isAggregate(e.name)) {
    throw new OpenFactoryError(
      'OFA_SQL_FUNCTION',
      `${e.name} is an aggregate function: it needs GROUP BY (or is not allowed here)`,
      { where: e.where },
    )
  }
  const nodes =
    UNIT_FIRST.has(e.name) && e.args.length > 0 ? [unitKeyword(e.args[0] as Expression), ...e.args.slice(1)] : e.args
  const args = nodes.map((a) => (a.kind === 'LambdaNode' ? undefined : compileExpression(a, ctx)))
  const resolved = ctx.functions.scalar(
    e.name,
    nodes.map((a, i) => (a.kind === 'LambdaNode' ? lambdaArgType(a, ctx) : (args[i] as Compiled).type)),
    e.where,
  )
  const fs: ((row: Row) => ScalarArg)[] = nodes.map((a, i) => {
    if (a.kind !== 'LambdaNode') return (args[i] as Compiled).eval
    const types = resolved.lambdaParams[i]
    if (types === undefined) throw typeError(`${e.name} takes no lambda here`, a.where)
    return compileLambda(a, types, ctx)
  })
  const call = resolved.call
  const n = fs.length
  if (n === 1) {
    const f0 = fs[0] as (row: Row) => ScalarArg
    return { type: resolved.type, eval: (row) => call([f0(row)]) }
  }
  return {
    type: resolved.type,
    eval: (row) => {
      const values = new Array<ScalarArg>(n)
      for (let i = 0; i < n; i++) values[i] = (fs[i] as (row: Row) => ScalarArg)(row)
      return call(values)
    },
  }
}
