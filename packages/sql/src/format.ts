/**
 * Canonical SQL text from the syntax tree (ast.ts): one line per statement, keywords upper-case, identifiers
 * back-quoted when they need it, literals re-escaped, and parentheses only where precedence needs them — such that
 * parsing the text again (parser.ts) gives the same tree, positions and source text aside.
 *
 * Choices that keep that promise:
 * - An identifier is written bare only when it is upper-case letters, digits and `_` and spells no keyword (even a
 *   non-reserved one): `ID`, but `` `KEY` ``, `` `My Col` ``.
 * - Aliases always take `AS`.
 * - A unary minus over a number is written `-(1)`: `-1` is the literal −1.
 * - A DECIMAL literal keeps its scale (`1.50`, `5.` for scale 0); a DOUBLE has an exponent (`1.5E+3`).
 * - Durations are written in the largest unit that divides them (`3600000` ms → `1 HOUR`).
 * - A statement is written without its `;`.
 */
import { OpenFactoryError } from '@openfactory/model'
import {
  decimalText,
  type Expression,
  type JoinNode,
  type LiteralNode,
  type PropertyNode,
  type QueryNode,
  type RelationNode,
  type SelectItem,
  type Statement,
  type WindowNode,
  type WithinNode,
} from './ast.ts'
import { KEYWORDS, RESERVED_WORDS } from './parser.ts'
import type { SqlType } from './types.ts'

/** `NAME` when it can be written bare, else `` `name` `` (a `` ` `` inside doubled). */
export function formatIdentifier(name: string): string {
  return /^[A-Z_][A-Z0-9_]*$/.test(name) && !KEYWORDS.has(name) ? name : `\`${name.replaceAll('`', '``')}\``
}

/** `'text'`, a `'` inside doubled. */
export function formatString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

/** A type as our parser reads it back (struct field names quoted as identifiers). */
export function formatSqlType(t: SqlType): string {
  switch (t.kind) {
    case 'DECIMAL':
      return `DECIMAL(${t.precision}, ${t.scale})`
    case 'ARRAY':
      return `ARRAY<${formatSqlType(t.element)}>`
    case 'MAP':
      return `MAP<${formatSqlType(t.key)}, ${formatSqlType(t.value)}>`
    case 'STRUCT':
      return `STRUCT<${t.fields.map((f) => `${formatIdentifier(f.name)} ${formatSqlType(f.type)}`).join(', ')}>`
    default:
      return t.kind
  }
}

function unprintable(what: string): never {
  throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', `cannot write ${what} as SQL text`)
}

function formatLiteral(l: LiteralNode): string {
  const v = l.value
  if (l.type === null) return 'NULL'
  switch (l.type.kind) {
    case 'BOOLEAN':
      return v ? 'TRUE' : 'FALSE'
    case 'STRING':
      return formatString(String(v))
    case 'INTEGER':
    case 'BIGINT':
      if (typeof v !== 'number' || !Number.isInteger(v)) return unprintable(`the integer literal ${String(v)}`)
      return BigInt(v).toString()
    case 'DECIMAL': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return unprintable(`the DECIMAL literal ${String(v)}`)
      const text = decimalText(v, l.type.scale)
      return l.type.scale === 0 ? `${text}.` : text
    }
    case 'DOUBLE':
      if (typeof v !== 'number' || !Number.isFinite(v)) return unprintable(`the DOUBLE literal ${String(v)}`)
      if (Object.is(v, -0)) return '-0E0'
      return v.toExponential().toUpperCase()
    default:
      return unprintable(`a literal of type ${l.type.kind}`)
  }
}

// Precedence levels, as the parser has them (loosest first).
const OR = 1
const AND = 2
const NOT = 3
const PREDICATE = 4
const CONCAT = 5
const ADDITIVE = 6
const MULTIPLICATIVE = 7
const UNARY = 8
const POSTFIX = 9
const PRIMARY = 10

function isNumericLiteral(e: Expression): e is LiteralNode {
  return e.kind === 'LiteralNode' && typeof e.value === 'number'
}

function precedence(e: Expression): number {
  switch (e.kind) {
    case 'LogicalNode':
      return e.op === 'OR' ? OR : AND
    case 'NotNode':
      return NOT
    case 'ComparisonNode':
    case 'IsNullNode':
    case 'InNode':
    case 'LikeNode':
    case 'BetweenNode':
      return PREDICATE
    case 'ArithmeticNode':
      return e.op === '+' || e.op === '-' ? ADDITIVE : MULTIPLICATIVE
    case 'UnaryNode':
      return UNARY
    case 'LiteralNode':
      // A negative number is written with its sign: it binds like a unary minus.
      return isNumericLiteral(e) && ((e.value as number) < 0 || Object.is(e.value, -0)) ? UNARY : PRIMARY
    case 'DereferenceNode':
    case 'SubscriptNode':
      return POSTFIX
    case 'LambdaNode':
      return 0
    default:
      return PRIMARY
  }
}

/** `e`, in parentheses when it binds looser than `min`. */
function operand(e: Expression, min: number): string {
  const text = formatExpression(e)
  return precedence(e) < min ? `(${text})` : text
}

function list(items: readonly Expression[]): string {
  return items.map((e) => formatExpression(e)).join(', ')
}

/** Canonical SQL text of an expression. */
export function formatExpression(e: Expression): string {
  switch (e.kind) {
    case 'LiteralNode':
      return formatLiteral(e)
    case 'ColumnRefNode':
      return e.source === null ? formatIdentifier(e.name) : `${formatIdentifier(e.source)}.${formatIdentifier(e.name)}`
    case 'DereferenceNode':
      return `${operand(e.base, POSTFIX)}->${formatIdentifier(e.field)}`
    case 'SubscriptNode':
      return `${operand(e.base, POSTFIX)}[${operand(e.index, CONCAT)}]`
    case 'FunctionCallNode':
      return `${formatIdentifier(e.name)}(${e.star ? '*' : list(e.args)})`
    case 'LambdaNode': {
      const params = e.params.map(formatIdentifier).join(', ')
      return `${e.params.length === 1 ? params : `(${params})`} => ${formatExpression(e.body)}`
    }
    case 'UnaryNode':
      // `-(1)` and `-(-x)`: `-1` would be a literal, `--x` a comment.
      return isNumericLiteral(e.operand) || e.operand.kind === 'UnaryNode'
        ? `${e.op}(${formatExpression(e.operand)})`
        : `${e.op}${operand(e.operand, UNARY)}`
    case 'ArithmeticNode': {
      const p = precedence(e)
      return `${operand(e.left, p)} ${e.op} ${operand(e.right, p + 1)}`
    }
    case 'LogicalNode': {
      const p = precedence(e)
      return `${operand(e.left, p)} ${e.op} ${operand(e.right, p + 1)}`
    }
    case 'NotNode':
      return `NOT ${operand(e.operand, NOT)}`
    case 'ComparisonNode':
      return `${operand(e.left, CONCAT)} ${e.op} ${operand(e.right, CONCAT)}`
    case 'IsNullNode':
      return `${operand(e.operand, CONCAT)} IS ${e.negated ? 'NOT ' : ''}NULL`
    case 'InNode':
      return `${operand(e.operand, CONCAT)} ${e.negated ? 'NOT ' : ''}IN (${list(e.list)})`
    case 'LikeNode': {
      const escapeClause = e.escape === null ? '' : ` ESCAPE ${formatString(e.escape)}`
      return `${operand(e.operand, CONCAT)} ${e.negated ? 'NOT ' : ''}LIKE ${operand(e.pattern, CONCAT)}${escapeClause}`
    }
    case 'BetweenNode':
      return (
        `${operand(e.operand, CONCAT)} ${e.negated ? 'NOT ' : ''}BETWEEN ` +
        `${operand(e.low, CONCAT)} AND ${operand(e.high, CONCAT)}`
      )
    case 'CaseNode': {
      const parts = ['CASE']
      if (e.operand !== null) parts.push(formatExpression(e.operand))
      for (const b of e.branches) parts.push(`WHEN ${formatExpression(b.when)} THEN ${formatExpression(b.then)}`)
      if (e.otherwise !== null) parts.push(`ELSE ${formatExpression(e.otherwise)}`)
      parts.push('END')
      return parts.join(' ')
    }
    case 'CastNode':
      return `CAST(${formatExpression(e.operand)} AS ${formatSqlType(e.type)})`
    case 'ArrayNode':
      return `ARRAY[${list(e.elements)}]`
    case 'MapNode':
      return `MAP(${e.entries.map((m) => `${formatExpression(m.key)} := ${formatExpression(m.value)}`).join(', ')})`
    case 'StructNode':
      return `STRUCT(${e.fields.map((f) => `${formatIdentifier(f.name)} := ${formatExpression(f.value)}`).join(', ')})`
  }
}

const UNITS: readonly (readonly [number, string, string])[] = [
  [86_400_000, 'DAY', 'DAYS'],
  [3_600_000, 'HOUR', 'HOURS'],
  [60_000, 'MINUTE', 'MINUTES'],
  [1000, 'SECOND', 'SECONDS'],
  [1, 'MILLISECOND', 'MILLISECONDS'],
]

/** `90 SECONDS`: milliseconds in the largest unit that divides them. */
export function formatDuration(ms: number): string {
  for (const [size, one, many] of UNITS) {
    if (ms !== 0 && ms % size === 0) {
      const n = ms / size
      return `${n} ${n === 1 ? one : many}`
    }
  }
  return `${ms} MILLISECONDS`
}

function formatRelation(r: RelationNode): string {
  return r.alias === null ? formatIdentifier(r.name) : `${formatIdentifier(r.name)} AS ${formatIdentifier(r.alias)}`
}

function formatSelectItem(item: SelectItem): string {
  if (item.kind === 'SelectAllNode') return item.source === null ? '*' : `${formatIdentifier(item.source)}.*`
  const e = formatExpression(item.expression)
  return item.alias === null ? e : `${e} AS ${formatIdentifier(item.alias)}`
}

function formatGrace(ms: number | null): string {
  return ms === null ? '' : ` GRACE PERIOD ${formatDuration(ms)}`
}

function formatWithin(w: WithinNode): string {
  const size =
    w.beforeMs === w.afterMs
      ? formatDuration(w.beforeMs)
      : `(${formatDuration(w.beforeMs)}, ${formatDuration(w.afterMs)})`
  return ` WITHIN ${size}${formatGrace(w.gracePeriodMs)}`
}

function formatJoin(j: JoinNode): string {
  const within = j.within === null ? '' : formatWithin(j.within)
  return ` ${j.type} JOIN ${formatRelation(j.relation)}${within} ON ${formatExpression(j.on)}`
}

function formatWindow(w: WindowNode): string {
  const parts =
    w.type === 'SESSION'
      ? [formatDuration(w.sizeMs)]
      : [
          `SIZE ${formatDuration(w.sizeMs)}`,
          ...(w.advanceMs === null ? [] : [`ADVANCE BY ${formatDuration(w.advanceMs)}`]),
        ]
  if (w.retentionMs !== null) parts.push(`RETENTION ${formatDuration(w.retentionMs)}`)
  if (w.gracePeriodMs !== null) parts.push(`GRACE PERIOD ${formatDuration(w.gracePeriodMs)}`)
  return ` WINDOW ${w.type} (${parts.join(', ')})`
}

/** Canonical SQL text of a SELECT. */
export function formatQuery(q: QueryNode): string {
  let out = `SELECT ${q.select.map(formatSelectItem).join(', ')} FROM ${formatRelation(q.from)}`
  for (const j of q.joins) out += formatJoin(j)
  if (q.window !== null) out += formatWindow(q.window)
  if (q.filter !== null) out += ` WHERE ${formatExpression(q.filter)}`
  if (q.groupBy.length > 0) out += ` GROUP BY ${list(q.groupBy)}`
  if (q.partitionBy.length > 0) out += ` PARTITION BY ${list(q.partitionBy)}`
  if (q.having !== null) out += ` HAVING ${formatExpression(q.having)}`
  if (q.emit !== null) out += ` EMIT ${q.emit}`
  if (q.limit !== null) out += ` LIMIT ${q.limit}`
  return out
}

function formatPropertyName(name: string): string {
  return /^[A-Z_][A-Z0-9_]*$/.test(name) && !RESERVED_WORDS.has(name) ? name : formatString(name)
}

function formatProperties(properties: readonly PropertyNode[]): string {
  if (properties.length === 0) return ''
  return ` WITH (${properties.map((p) => `${formatPropertyName(p.name)}=${formatLiteral(p.value)}`).join(', ')})`
}

/** Canonical SQL text of a statement, without `;`. */
export function formatStatement(s: Statement): string {
  switch (s.kind) {
    case 'QueryStatementNode':
      return formatQuery(s.query)
    case 'CreateSourceNode': {
      const elements = s.elements.map((c) => {
        const constraint =
          c.constraint === null
            ? ''
            : c.constraint === 'HEADER'
              ? ` HEADER(${formatString(c.headerKey ?? '')})`
              : ` ${c.constraint}`
        return `${formatIdentifier(c.name)} ${formatSqlType(c.type)}${constraint}`
      })
      return (
        `CREATE ${s.orReplace ? 'OR REPLACE ' : ''}${s.isSource ? 'SOURCE ' : ''}${s.sourceType} ` +
        `${s.ifNotExists ? 'IF NOT EXISTS ' : ''}${formatIdentifier(s.name)}` +
        `${elements.length > 0 ? ` (${elements.join(', ')})` : ''}${formatProperties(s.properties)}`
      )
    }
    case 'CreateAsSelectNode':
      return (
        `CREATE ${s.orReplace ? 'OR REPLACE ' : ''}${s.sourceType} ${s.ifNotExists ? 'IF NOT EXISTS ' : ''}` +
        `${formatIdentifier(s.name)}${formatProperties(s.properties)} AS ${formatQuery(s.query)}`
      )
    case 'InsertIntoNode':
      return `INSERT INTO ${formatIdentifier(s.target)}${formatProperties(s.properties)} ${formatQuery(s.query)}`
    case 'InsertValuesNode': {
      const columns = s.columns === null ? '' : ` (${s.columns.map(formatIdentifier).join(', ')})`
      return `INSERT INTO ${formatIdentifier(s.target)}${columns} VALUES (${list(s.values)})`
    }
    case 'DropNode':
      return (
        `DROP ${s.sourceType} ${s.ifExists ? 'IF EXISTS ' : ''}${formatIdentifier(s.name)}` +
        `${s.deleteTopic ? ' DELETE TOPIC' : ''}`
      )
    case 'ShowNode':
      return `SHOW ${s.what}${s.extended ? ' EXTENDED' : ''}`
    case 'DescribeNode':
      switch (s.what) {
        case 'SOURCE':
          return `DESCRIBE ${s.extended ? 'EXTENDED ' : ''}${formatIdentifier(s.name ?? '')}`
        case 'FUNCTION':
          return `DESCRIBE FUNCTION ${formatIdentifier(s.name ?? '')}`
        default:
          return `DESCRIBE ${s.what}${s.extended ? ' EXTENDED' : ''}`
      }
    case 'ExplainNode':
      return `EXPLAIN ${s.statement === null ? formatIdentifier(s.queryId ?? '') : formatStatement(s.statement)}`
    case 'TerminateNode':
      return `TERMINATE ${s.queryId === null ? 'ALL' : formatIdentifier(s.queryId)}`
    case 'SetNode':
      return `SET ${formatString(s.name)} = ${formatString(s.value)}`
    case 'UnsetNode':
      return `UNSET ${formatString(s.name)}`
  }
}
