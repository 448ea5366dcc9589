// Properties of the parser and the formatter, with fast-check:
// (a) arbitrary text and (b) valid statements mutated (tokens dropped, duplicated, swapped, inserted) never make the
//     parser throw anything but OpenFactoryError OFA_SQL_PARSE / OFA_SQL_LIMIT with a position;
// (c) generated syntax trees (expressions, queries, statements) survive format → parse unchanged.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, test } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import {
  ArithmeticNode,
  ArrayNode,
  BetweenNode,
  CaseNode,
  CastNode,
  ColumnElementNode,
  ColumnRefNode,
  ComparisonNode,
  type ComparisonOp,
  CreateAsSelectNode,
  CreateSourceNode,
  DereferenceNode,
  DescribeNode,
  DropNode,
  ExplainNode,
  type Expression,
  FunctionCallNode,
  InNode,
  InsertIntoNode,
  InsertValuesNode,
  IsNullNode,
  JoinNode,
  LambdaNode,
  LikeNode,
  LiteralNode,
  LogicalNode,
  MapNode,
  NotNode,
  PropertyNode,
  QueryNode,
  QueryStatementNode,
  RelationNode,
  SelectAllNode,
  SelectExpressionNode,
  SetNode,
  ShowNode,
  type Statement,
  StructNode,
  SubscriptNode,
  TerminateNode,
  UnaryNode,
  UnsetNode,
  WindowNode,
  WithinNode,
} from '../src/ast.ts'
import { formatExpression, formatStatement } from '../src/format.ts'
import { parseExpression, parseStatements } from '../src/parser.ts'
import { SqlType } from '../src/types.ts'
import { branch, strip } from './ast-helpers.ts'

const CORPUS = fs.readFileSync(new URL('./corpus.sql', import.meta.url), 'utf8')

/** Runs `f`; an error must be ours, with one of the two codes and a position the message repeats. */
function onlySqlErrors(f: () => unknown): void {
  try {
    f()
  } catch (err) {
    assert.ok(isOpenFactoryError(err), `not an OpenFactoryError: ${String(err)}`)
    assert.ok(err.code === 'OFA_SQL_PARSE' || err.code === 'OFA_SQL_LIMIT', err.code)
    const { line, column } = err.where ?? {}
    assert.ok(Number.isInteger(line) && (line as number) >= 1, `line ${line}`)
    assert.ok(Number.isInteger(column) && (column as number) >= 1, `column ${column}`)
    if (err.code === 'OFA_SQL_PARSE') assert.ok(err.message.startsWith(`line ${line}:${column}: `), err.message)
  }
}

const FRAGMENTS = [
  'SELECT',
  'FROM',
  'WHERE',
  'CREATE',
  'STREAM',
  'TABLE',
  'AS',
  'WITH',
  'INSERT',
  'INTO',
  'VALUES',
  'JOIN',
  'LEFT',
  'ON',
  'WITHIN',
  'WINDOW',
  'TUMBLING',
  'SIZE',
  'SECONDS',
  'GROUP',
  'BY',
  'PARTITION',
  'EMIT',
  'CHANGES',
  'LIMIT',
  'CASE',
  'WHEN',
  'THEN',
  'END',
  'CAST',
  'ARRAY',
  'MAP',
  'STRUCT',
  'NOT',
  'AND',
  'OR',
  'IS',
  'NULL',
  'IN',
  'LIKE',
  'BETWEEN',
  'KEY',
  'PRIMARY',
  'VARCHAR',
  'DECIMAL',
  'x',
  'KEY',
  '`a b`',
  '"q"',
  "'s'",
  "'it''s'",
  '1',
  '1.5',
  '2E3',
  '99999999999999999999999',
  '(',
  ')',
  '[',
  ']',
  '<',
  '>',
  ',',
  '.',
  ';',
  '*',
  '+',
  '-',
  '/',
  '%',
  '=',
  '!=',
  '<>',
  '||',
  '->',
  '=>',
  ':=',
  '--',
  '/*',
  '*/',
  "'",
  '`',
  '"',
  '#',
  '\n',
]

describe('the parser throws only its own errors', () => {
  test('(a) arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join(' ')),
          fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).map((parts) => parts.join('')),
        ),
        (text) => {
          onlySqlErrors(() => parseStatements(text))
          onlySqlErrors(() => parseExpression(text))
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('(b) valid statements with tokens dropped, duplicated, swapped or inserted', () => {
    const TOKEN =
      /'(?:[^']|'')*'|`[^`]*`|"[^"]*"|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|:=|=>|->|<=|>=|<>|!=|\|\||\S/g
    const statements = parseStatements(CORPUS).map((s) => s.text.match(TOKEN) ?? [])
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('drop' as const), i: fc.nat() }),
      fc.record({ op: fc.constant('duplicate' as const), i: fc.nat() }),
      fc.record({ op: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
      fc.record({ op: fc.constant('insert' as const), i: fc.nat(), token: fc.constantFrom(...FRAGMENTS) }),
    )
    fc.assert(
      fc.property(
        fc.nat({ max: statements.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (which, mutations) => {
          const tokens = [...(statements[which] as string[])]
          for (const m of mutations) {
            const i = m.i % (tokens.length + 1)
            if (m.op === 'drop') tokens.splice(i, 1)
            else if (m.op === 'duplicate' && i < tokens.length) tokens.splice(i, 0, tokens[i] as string)
            else if (m.op === 'insert') tokens.splice(i, 0, m.token)
            else if (m.op === 'swap' && tokens.length > 0) {
              const a = m.i % tokens.length
              const b = m.j % tokens.length
              ;[tokens[a], tokens[b]] = [tokens[b] as string, tokens[a] as string]
            }
          }
          onlySqlErrors(() => parseStatements(tokens.join(' ')))
        },
      ),
      { numRuns: 3000 },
    )
  })
})

// ---------------------------------------------------------------------------------------------------------------
// (c) generated trees

const at = { line: 1, column: 1 }
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null })

/** Names: plain ones, keywords (reserved or not), and quoted ones with any characters. */
const name = fc.oneof(
  fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/),
  fc.constantFrom('KEY', 'TYPE', 'VALUE', 'ID', 'TIMESTAMP', 'STREAM', 'EMIT', 'PARTITION', 'ARRAY', 'MAP'),
  fc.constantFrom('SELECT', 'FROM', 'END', 'STREAMS', 'EXTENDED', 'IF', 'ROWTIME', 'WINDOWSTART', 'ALL'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }),
)

const literal = fc.oneof(
  fc.constant(LiteralNode.null(at)),
  fc.boolean().map((b) => LiteralNode.boolean(b, at)),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => LiteralNode.string(s, at)),
  fc
    .oneof(fc.integer(), fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n }).map(Number))
    .map((v) => LiteralNode.integer(v, at)),
  fc
    .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,25}$/), fc.stringMatching(/^[0-9]{0,10}$/))
    .map(([negative, int, frac]) => {
      const value = Number(`${negative ? '-' : ''}${int}.${frac}`)
      return LiteralNode.decimal(value, frac.length, at)
    }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => LiteralNode.double(v, at)),
)

const { sqlType } = fc.letrec((tie) => ({
  sqlType: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constantFrom(
      SqlType.BOOLEAN,
      SqlType.INTEGER,
      SqlType.BIGINT,
      SqlType.DOUBLE,
      SqlType.STRING,
      SqlType.BYTES,
      SqlType.TIMESTAMP,
      SqlType.DATE,
      SqlType.TIME,
    ),
    fc.integer({ min: 1, max: 38 }).chain((p) => fc.integer({ min: 0, max: p }).map((s) => SqlType.decimal(p, s))),
    tie('sqlType').map((t) => SqlType.array(t as SqlType)),
    fc.tuple(tie('sqlType'), tie('sqlType')).map(([k, v]) => SqlType.map(k as SqlType, v as SqlType)),
    fc
      .array(fc.record({ name, type: tie('sqlType') }), { maxLength: 3 })
      .map((fields) => SqlType.struct(fields as { name: string; type: SqlType }[])),
  ),
})) as { sqlType: fc.Arbitrary<SqlType> }

const { expression } = fc.letrec((tie) => {
  const e = () => tie('expression') as fc.Arbitrary<Expression>
  const lambda = fc
    .record({ params: fc.array(name, { minLength: 1, maxLength: 3 }), body: e() })
    .map((p) => LambdaNode.create({ ...p, where: at }))
  return {
    expression: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      literal,
      fc.record({ source: opt(name), name }).map((p) => ColumnRefNode.create({ ...p, where: at })),
      fc.record({ base: e(), field: name }).map((p) => DereferenceNode.create({ ...p, where: at })),
      fc.record({ base: e(), index: e() }).map((p) => SubscriptNode.create({ ...p, where: at })),
      fc
        .record({ name, args: fc.array(fc.oneof(e(), lambda), { maxLength: 3 }), star: fc.boolean() })
        .map((p) => FunctionCallNode.create({ ...p, args: p.star ? [] : p.args, where: at })),
      fc
        .record({ op: fc.constantFrom('-' as const, '+' as const), operand: e() })
        .map((p) => UnaryNode.create({ ...p, where: at })),
      fc
        .record({ op: fc.constantFrom('+', '-', '*', '/', '%') as fc.Arbitrary<'+'>, left: e(), right: e() })
        .map((p) => ArithmeticNode.create({ ...p, where: at })),
      fc
        .record({
          op: fc.constantFrom<ComparisonOp>(
            '=',
            '<>',
            '<',
            '<=',
            '>',
            '>=',
            'IS DISTINCT FROM',
            'IS NOT DISTINCT FROM',
          ),
          left: e(),
          right: e(),
        })
        .map((p) => ComparisonNode.create({ ...p, where: at })),
      fc
        .record({ op: fc.constantFrom('AND' as const, 'OR' as const), left: e(), right: e() })
        .map((p) => LogicalNode.create({ ...p, where: at })),
      e().map((operand) => NotNode.create({ operand, where: at })),
      fc.record({ operand: e(), negated: fc.boolean() }).map((p) => IsNullNode.create({ ...p, where: at })),
      fc
        .record({ operand: e(), list: fc.array(e(), { minLength: 1, maxLength: 3 }), negated: fc.boolean() })
        .map((p) => InNode.create({ ...p, where: at })),
      fc
        .record({
          operand: e(),
          pattern: e(),
          escape: opt(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
          negated: fc.boolean(),
        })
        .map((p) => LikeNode.create({ ...p, where: at })),
      fc
        .record({ operand: e(), low: e(), high: e(), negated: fc.boolean() })
        .map((p) => BetweenNode.create({ ...p, where: at })),
      fc
        .record({
          operand: opt(e()),
          branches: fc.array(
            fc.tuple(e(), e()).map(([w, t]) => branch(w, t)),
            { minLength: 1, maxLength: 2 },
          ),
          otherwise: opt(e()),
        })
        .map((p) => CaseNode.create({ ...p, where: at })),
      fc.record({ operand: e(), type: sqlType }).map((p) => CastNode.create({ ...p, where: at })),
      fc.array(e(), { maxLength: 3 }).map((elements) => ArrayNode.create({ elements, where: at })),
      fc
        .array(fc.record({ key: e(), value: e() }), { maxLength: 3 })
        .map((entries) => MapNode.create({ entries, where: at })),
      fc
        .array(fc.record({ name, value: e() }), { maxLength: 3 })
        .map((fields) => StructNode.create({ fields, where: at })),
    ),
  }
}) as { expression: fc.Arbitrary<Expression> }

const duration = fc.oneof(
  fc.nat({ max: 10_000 }),
  fc.nat({ max: 1000 }).map((n) => n * 60_000),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
)
const relation = fc.record({ name, alias: opt(name) }).map((p) => RelationNode.create({ ...p, where: at }))
const windowNode = fc
  .oneof(
    fc.record({ type: fc.constant('TUMBLING' as const), sizeMs: duration, advanceMs: fc.constant(null) }),
    fc.record({ type: fc.constant('HOPPING' as const), sizeMs: duration, advanceMs: duration }),
    fc.record({ type: fc.constant('SESSION' as const), sizeMs: duration, advanceMs: fc.constant(null) }),
  )
  .chain((w) =>
    fc
      .record({ retentionMs: opt(duration), gracePeriodMs: opt(duration) })
      .map((rest) => WindowNode.create({ ...w, ...rest, where: at })),
  )
const join = fc
  .record({
    type: fc.constantFrom('INNER' as const, 'LEFT' as const, 'RIGHT' as const, 'FULL' as const),
    relation,
    within: opt(
      fc
        .record({ beforeMs: duration, afterMs: duration, gracePeriodMs: opt(duration) })
        .map((p) => WithinNode.create({ ...p, where: at })),
    ),
    on: expression,
  })
  .map((p) => JoinNode.create({ ...p, where: at }))
const selectItem = fc.oneof(
  opt(name).map((source) => SelectAllNode.create({ source, where: at })),
  fc.record({ expression, alias: opt(name) }).map((p) => SelectExpressionNode.create({ ...p, where: at })),
)
const queryNode = fc
  .record({
    select: fc.array(selectItem, { minLength: 1, maxLength: 3 }),
    from: relation,
    joins: fc.array(join, { maxLength: 2 }),
    window: opt(windowNode),
    filter: opt(expression),
    groupBy: fc.array(expression, { maxLength: 2 }),
    partitionBy: fc.array(expression, { maxLength: 2 }),
    having: opt(expression),
    emit: opt(fc.constantFrom('CHANGES' as const, 'FINAL' as const)),
    limit: opt(fc.nat({ max: 2147483647 })),
  })
  .map((p) => QueryNode.create({ ...p, where: at }))

const property = fc
  .record({
    name: fc.string({ unit: 'binary', maxLength: 10 }).map((s) => s.toUpperCase()),
    value: literal,
  })
  .map((p) => PropertyNode.create({ ...p, where: at }))
const properties = fc.array(property, { maxLength: 3 })
const sourceType = fc.constantFrom('STREAM' as const, 'TABLE' as const)
const text = ''
const queryStatement = queryNode.map((query) => QueryStatementNode.create({ query, text, where: at }))
const createAs = fc
  .record({ sourceType, orReplace: fc.boolean(), ifNotExists: fc.boolean(), name, properties, query: queryNode })
  .map((p) => CreateAsSelectNode.create({ ...p, text, where: at }))
const insertInto = fc
  .record({ target: name, properties, query: queryNode })
  .map((p) => InsertIntoNode.create({ ...p, text, where: at }))
const column = fc
  .record({
    name,
    type: sqlType,
    constraint: fc.constantFrom(null, 'KEY' as const, 'PRIMARY KEY' as const, 'HEADERS' as const, 'HEADER' as const),
    headerKey: fc.string({ unit: 'binary', maxLength: 6 }),
  })
  .map((p) => ColumnElementNode.create({ ...p, headerKey: p.constraint === 'HEADER' ? p.headerKey : null, where: at }))

const statement: fc.Arbitrary<Statement> = fc.oneof(
  queryStatement,
  createAs,
  insertInto,
  fc
    .record({
      sourceType,
      orReplace: fc.boolean(),
      isSource: fc.boolean(),
      ifNotExists: fc.boolean(),
      name,
      elements: fc.array(column, { maxLength: 3 }),
      properties,
    })
    .map((p) => CreateSourceNode.create({ ...p, text, where: at })),
  fc
    .record({
      target: name,
      columns: opt(fc.array(name, { minLength: 1, maxLength: 3 })),
      values: fc.array(expression, { minLength: 1, maxLength: 3 }),
    })
    .map((p) => InsertValuesNode.create({ ...p, text, where: at })),
  fc
    .record({ sourceType, ifExists: fc.boolean(), name, deleteTopic: fc.boolean() })
    .map((p) => DropNode.create({ ...p, text, where: at })),
  fc
    .record({
      what: fc.constantFrom(
        'STREAMS' as const,
        'TABLES' as const,
        'QUERIES' as const,
        'TOPICS' as const,
        'PROPERTIES' as const,
        'FUNCTIONS' as const,
      ),
      extended: fc.boolean(),
    })
    .map((p) => ShowNode.create({ ...p, text, where: at })),
  fc.oneof(
    fc
      .record({ name, extended: fc.boolean() })
      .map((p) => DescribeNode.create({ what: 'SOURCE', ...p, text, where: at })),
    fc
      .record({ what: fc.constantFrom('STREAMS' as const, 'TABLES' as const), extended: fc.boolean() })
      .map((p) => DescribeNode.create({ ...p, name: null, text, where: at })),
    name.map((n) => DescribeNode.create({ what: 'FUNCTION', name: n, extended: false, text, where: at })),
  ),
  fc.oneof(
    name.map((queryId) => ExplainNode.create({ queryId, statement: null, text, where: at })),
    fc
      .oneof(queryStatement, createAs, insertInto)
      .map((s) => ExplainNode.create({ queryId: null, statement: s, text, where: at })),
  ),
  opt(name).map((queryId) => TerminateNode.create({ queryId, text, where: at })),
  fc
    .record({ name: fc.string({ unit: 'binary' }), value: fc.string({ unit: 'binary' }) })
    .map((p) => SetNode.create({ ...p, text, where: at })),
  fc.string({ unit: 'binary' }).map((n) => UnsetNode.create({ name: n, text, where: at })),
)

describe('(c) generated trees survive format → parse', () => {
  test('expressions', () => {
    fc.assert(
      fc.property(expression, (e) => {
        const sql = formatExpression(e)
        assert.deepEqual(strip(parseExpression(sql)), strip(e), sql)
      }),
      { numRuns: 2000 },
    )
  })

  test('statements', () => {
    fc.assert(
      fc.property(statement, (s) => {
        const sql = formatStatement(s)
        const parsed = parseStatements(sql)
        assert.equal(parsed.length, 1, sql)
        assert.deepEqual(strip(parsed[0]), strip(s), sql)
      }),
      { numRuns: 500 },
    )
  })
})
