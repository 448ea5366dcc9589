import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, test } from 'node:test'
import { ArithmeticNode, ColumnRefNode, LiteralNode, SubscriptNode, UnaryNode } from '../src/ast.ts'
import {
  formatDuration,
  formatExpression,
  formatIdentifier,
  formatSqlType,
  formatStatement,
  formatString,
} from '../src/format.ts'
import { parseExpression, parseStatements } from '../src/parser.ts'
import { SqlType } from '../src/types.ts'
import { strip } from './ast-helpers.ts'

const CORPUS = fs.readFileSync(new URL('./corpus.sql', import.meta.url), 'utf8')
const at = { line: 1, column: 1 }

describe('formatStatement', () => {
  test('every statement of the corpus round-trips: parse(format(ast)) equals ast, positions and text aside', () => {
    const stmts = parseStatements(CORPUS)
    assert.ok(stmts.length > 40)
    for (const s of stmts) {
      const text = formatStatement(s)
      const again = parseStatements(text)
      assert.equal(again.length, 1, text)
      assert.deepEqual(strip(again[0]), strip(s), text)
      // The canonical text is a fixed point.
      assert.equal(formatStatement(again[0] as (typeof again)[0]), text)
    }
  })

  test('canonical text: upper-case keywords, quoted names only when needed, AS for aliases', () => {
    const f = (sql: string) => formatStatement(parseStatements(sql)[0] as any)
    assert.equal(
      f("create stream s (key varchar key, `Mixed` int, type map<string, array<decimal(4,2)>>) with (kafka_topic='t')"),
      "CREATE STREAM S (`KEY` STRING KEY, `Mixed` INTEGER, TYPE MAP<STRING, ARRAY<DECIMAL(4, 2)>>) WITH (KAFKA_TOPIC='t')",
    )
    assert.equal(
      f(
        'select a x, b.* from s b left outer join t within 60 seconds on b.k = t.k window hopping (size 2 hours, advance by 30 minutes) where a != 1 emit changes limit 2',
      ),
      'SELECT A AS X, B.* FROM S AS B LEFT JOIN T WITHIN 1 MINUTE ON B.K = T.K ' +
        'WINDOW HOPPING (SIZE 2 HOURS, ADVANCE BY 30 MINUTES) WHERE A <> 1 EMIT CHANGES LIMIT 2',
    )
    assert.equal(f("insert into t (a, `b`) values (1, 'x''y')"), "INSERT INTO T (A, `b`) VALUES (1, 'x''y')")
    assert.equal(f("set 'a.b' = 'c'"), "SET 'a.b' = 'c'")
    assert.equal(f('describe `STREAMS`'), 'DESCRIBE `STREAMS`')
    assert.equal(f('terminate all'), 'TERMINATE ALL')
    assert.equal(
      f("create table t (a int) with ('key.format'='KAFKA', `select`=1)"),
      "CREATE TABLE T (A INTEGER) WITH ('KEY.FORMAT'='KAFKA', 'SELECT'=1)",
    )
  })
})

describe('formatExpression', () => {
  const round = (sql: string) => formatExpression(parseExpression(sql))

  test('parentheses only where precedence needs them', () => {
    assert.equal(round('(a + b) * c'), '(A + B) * C')
    assert.equal(round('a + (b * c)'), 'A + B * C')
    assert.equal(round('a - (b - c)'), 'A - (B - C)')
    assert.equal(round('(a - b) - c'), 'A - B - C')
    assert.equal(round('(a OR b) AND NOT (c AND d)'), '(A OR B) AND NOT (C AND D)')
    assert.equal(round('NOT a = b'), 'NOT A = B')
    assert.equal(round('(NOT a) = b'), '(NOT A) = B')
    assert.equal(round('(a = b) = c'), '(A = B) = C')
    assert.equal(round('a || b || c'), 'CONCAT(CONCAT(A, B), C)')
    assert.equal(round('(a->b)[1]'), 'A->B[1]')
    assert.equal(round('(-1)[1]'), '(-1)[1]')
  })

  test('signs: -1 is a literal, -(1) a unary minus, - -1 and -(-x) keep their shape', () => {
    assert.equal(round('-1'), '-1')
    assert.equal(round('-(1)'), '-(1)')
    assert.equal(round('- -1'), '-(-1)')
    assert.equal(round('-(-x)'), '-(-X)')
    assert.equal(round('a - -1'), 'A - -1')
    const unary = UnaryNode.create({ op: '-', operand: LiteralNode.integer(1, at), where: at })
    assert.deepEqual(strip(parseExpression(formatExpression(unary))), strip(unary))
  })

  test('literals keep their type', () => {
    assert.equal(round('1.50'), '1.50')
    assert.equal(round('3.'), '3.')
    assert.equal(round('.5'), '0.5')
    assert.equal(round('1.5E3'), '1.5E+3')
    assert.equal(round('-0E0'), '-0E0')
    assert.equal(round('9223372036854775807'), '9223372036854775808')
    assert.equal(round("'it''s'"), "'it''s'")
    assert.equal(round('null'), 'NULL')
    assert.equal(round('true'), 'TRUE')
    for (const text of ['1.50', '3.', '1.5E3', '-0E0', '9223372036854775807', '123456789012345678901234.5', '-7']) {
      const e = parseExpression(text)
      assert.deepEqual(strip(parseExpression(formatExpression(e))), strip(e), text)
    }
  })

  test('a tree built by hand', () => {
    const e = ArithmeticNode.create({
      op: '*',
      left: SubscriptNode.create({
        base: ColumnRefNode.create({ source: 'my src', name: 'KEY', where: at }),
        index: LiteralNode.integer(1, at),
        where: at,
      }),
      right: ArithmeticNode.create({
        op: '+',
        left: LiteralNode.decimal(2.5, 2, at),
        right: LiteralNode.double(0.1, at),
        where: at,
      }),
      where: at,
    })
    assert.equal(formatExpression(e), '`my src`.`KEY`[1] * (2.50 + 1E-1)')
  })
})

describe('names, types, durations', () => {
  test('formatIdentifier quotes what would not read back the same', () => {
    assert.equal(formatIdentifier('ABC_1'), 'ABC_1')
    assert.equal(formatIdentifier('_X'), '_X')
    assert.equal(formatIdentifier('abc'), '`abc`')
    assert.equal(formatIdentifier('1A'), '`1A`')
    assert.equal(formatIdentifier('A B'), '`A B`')
    assert.equal(formatIdentifier('a`b'), '`a``b`')
    assert.equal(formatIdentifier('SELECT'), '`SELECT`')
    assert.equal(formatIdentifier('KEY'), '`KEY`')
    assert.equal(formatString("a'b"), "'a''b'")
  })

  test('formatSqlType', () => {
    assert.equal(
      formatSqlType(
        SqlType.struct([
          { name: 'a b', type: SqlType.map(SqlType.STRING, SqlType.array(SqlType.decimal(5, 1))) },
          { name: 'C', type: SqlType.BYTES },
        ]),
      ),
      'STRUCT<`a b` MAP<STRING, ARRAY<DECIMAL(5, 1)>>, C BYTES>',
    )
  })

  test('formatDuration picks the largest unit that divides', () => {
    assert.equal(formatDuration(0), '0 MILLISECONDS')
    assert.equal(formatDuration(1), '1 MILLISECOND')
    assert.equal(formatDuration(1500), '1500 MILLISECONDS')
    assert.equal(formatDuration(90_000), '90 SECONDS')
    assert.equal(formatDuration(3_600_000), '1 HOUR')
    assert.equal(formatDuration(172_800_000), '2 DAYS')
  })
})
