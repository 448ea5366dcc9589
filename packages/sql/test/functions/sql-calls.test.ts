// Every function of the registry called from SQL: each signature of each scalar function compiled from its SQL
// text (expressions.ts: lambdas typed and compiled with their parameters in scope) and evaluated; each signature of
// each aggregate planned in a GROUP BY (planner.ts: literal-only arguments evaluated when the statement is created).
// SHOW FUNCTIONS lists the registry. The golden cases of cases/functions.json run calls of each category through the
// engine, on the embedded log.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Catalog } from '../../src/catalog.ts'
import { openSqlEngine } from '../../src/engine.ts'
import { compileExpression, type Scope } from '../../src/expressions.ts'
import { formatSqlType } from '../../src/format.ts'
import { defaultFunctions, functionNames } from '../../src/functions/index.ts'
import type { AggregateSignature } from '../../src/functions/registry.ts'
import type { ParamType, SignatureShape } from '../../src/functions/signature.ts'
import { parseExpression, parseStatements } from '../../src/parser.ts'
import { planStatement } from '../../src/planner.ts'
import { type SqlType, SqlType as T } from '../../src/types.ts'
import { BACKBONES } from '../processor/helpers.ts'
import { assertCode } from './helpers.ts'

const NO_COLUMNS: Scope = {
  column(ref) {
    throw new Error(`no column ${ref.name} here`)
  },
}

/** A concrete type for a generic (the same letter, the same type). */
function concrete(p: ParamType): SqlType {
  switch (p.kind) {
    case 'GENERIC':
      return p.constraint === 'decimal' ? T.decimal(4, 2) : T.INTEGER
    case 'ARRAY':
      return T.array(concrete(p.element))
    case 'MAP':
      return T.map(concrete(p.key), concrete(p.value))
    case 'LAMBDA':
      throw new Error('a lambda has no SQL type')
    default:
      return p as SqlType
  }
}

/** A literal of a type, for literal-only arguments. */
function literal(t: SqlType): string {
  switch (t.kind) {
    case 'STRING':
      return "'ACTIVE'"
    case 'BOOLEAN':
      return 'true'
    case 'DOUBLE':
      return '0.5'
    default:
      return '2'
  }
}

/** The SQL arguments of a call of a signature: typed NULLs, lambdas `(x1, ...) => CAST(NULL AS result)`, literals. */
function argumentsOf(s: SignatureShape, literals: readonly number[] = []): string[] {
  return s.params.map((p, i) => {
    if (p.kind === 'LAMBDA') {
      const params = p.params.map((_, j) => `x${j + 1}`)
      return `(${params.join(', ')}) => CAST(NULL AS ${formatSqlType(concrete(p.result))})`
    }
    const t = concrete(p)
    return literals.includes(i) ? literal(t) : `CAST(NULL AS ${formatSqlType(t)})`
  })
}

describe('every function of the registry, called from SQL', () => {
  test('each signature of each scalar function compiles from SQL and runs', () => {
    let calls = 0
    for (const spec of defaultFunctions.scalarSpecs()) {
      for (const s of spec.signatures) {
        const sql = `${spec.name}(${argumentsOf(s).join(', ')})`
        const c = compileExpression(parseExpression(sql), { scope: NO_COLUMNS, functions: defaultFunctions })
        assert.ok(c.type, sql)
        c.eval([])
        calls++
      }
    }
    assert.ok(calls > defaultFunctions.scalarSpecs().length)
  })

  test('each signature of each aggregate plans in a GROUP BY, literal-only arguments given literals', () => {
    const catalog = new Catalog()
    const [create] = parseStatements(
      "CREATE STREAM s (id VARCHAR KEY, g VARCHAR) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');",
    )
    const source = planStatement(create as never, { catalog, properties: {}, functions: defaultFunctions })
    assert.equal(source.kind, 'create-source')
    if (source.kind === 'create-source') catalog.add(source.source)
    for (const spec of defaultFunctions.aggregateSpecs()) {
      for (const s of spec.signatures as readonly AggregateSignature[]) {
        const args = s.params.length === 0 ? '*' : argumentsOf(s, s.literals).join(', ')
        const sql = `CREATE TABLE t AS SELECT g, ${spec.name}(${args}) AS a FROM s GROUP BY g;`
        const [stmt] = parseStatements(sql)
        const plan = planStatement(stmt as never, { catalog, properties: {}, functions: defaultFunctions })
        assert.equal(plan.kind, 'create-as', sql)
      }
    }
  })

  test('lambdas: parameters shadow columns, see the outer row, and nest', () => {
    const scope: Scope = {
      column(ref) {
        if (ref.name === 'X') return { index: 0, type: T.INTEGER }
        if (ref.name === 'ARR') return { index: 1, type: T.array(T.INTEGER) }
        throw new Error(`no column ${ref.name}`)
      },
    }
    const run = (sql: string) =>
      compileExpression(parseExpression(sql), { scope, functions: defaultFunctions }).eval([10, [1, 2, 3]])
    assert.deepEqual(run('TRANSFORM(arr, x => x * 2)'), [2, 4, 6])
    assert.deepEqual(run('TRANSFORM(arr, y => y + x)'), [11, 12, 13])
    assert.deepEqual(run('TRANSFORM(arr, y => REDUCE(arr, 0, (s, z) => s + z * y))'), [6, 12, 18])
    assert.equal(run('REDUCE(FILTER(arr, y => y <> 2), x, (s, y) => s + y)'), 14)
    assertCode(() => run('REDUCE(arr, 0, (s, s) => s)'), 'OFA_SQL_TYPE', /distinct names/)
    assertCode(() => run('TRANSFORM(arr, (y, z) => y)'), 'OFA_SQL_FUNCTION', /a lambda of 2 parameters/)
  })

  test('comparisons and CAST are cast.ts: deep equality, a STRING read as a DATE or TIMESTAMP as CAST reads it', () => {
    const run = (sql: string) =>
      compileExpression(parseExpression(sql), { scope: NO_COLUMNS, functions: defaultFunctions }).eval([])
    assert.equal(run("STRUCT(a := 1, b := 'x') = STRUCT(a := 1, b := 'x')"), true)
    assert.equal(run("MAP('a' := 1, 'b' := 2) = MAP('b' := 2, 'a' := 1)"), true)
    assert.equal(run("CAST('2024-03-01' AS DATE) = '2024-03-01'"), true)
    assert.equal(run("CAST('2024-03-01' AS DATE) BETWEEN '2024-01-01' AND '2024-12-31'"), true)
    assert.equal(run("FROM_UNIXTIME(0) < '1970-01-01T00:00:00.001'"), true)
    assert.equal(run("FROM_UNIXTIME(0) IN ('1970-01-01T00:00:00', '2000-01-01T00:00:00')"), true)
    assert.equal(run('CAST(2.5 AS STRING)'), '2.5')
    assertCode(() => run("FROM_UNIXTIME(0) = 'yesterday'"), 'OFA_SQL_VALUE')
  })

  test('SHOW FUNCTIONS lists the registry', async (t) => {
    const log = await (BACKBONES[0] as (typeof BACKBONES)[number]).open(t)
    const engine = await openSqlEngine({ eventLog: log })
    t.after(() => engine.close())
    const [entity] = await engine.execute('SHOW FUNCTIONS;')
    assert.equal(entity?.['@type'], 'function_names')
    const listed = (entity as { functions: unknown }).functions
    assert.deepEqual(listed, functionNames(defaultFunctions))
    assert.equal(
      (listed as unknown[]).length,
      defaultFunctions.scalarSpecs().length + defaultFunctions.aggregateSpecs().length,
    )
  })
})
