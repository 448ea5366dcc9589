// Helpers of the parser and formatter tests: syntax trees without positions and source text, and short builders
// of expected trees in that form.
import assert from 'node:assert/strict'
import { isOpenFactoryError } from '@openfactory/model'

/** A copy of a tree without `where` and `text`, as plain objects (frozen ones and SqlType constants alike). */
export function strip(x: unknown): any {
  if (Array.isArray(x)) return x.map(strip)
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(x)) if (k !== 'where' && k !== 'text') out[k] = strip(v)
    return out
  }
  return x
}

/** Asserts that `f` throws an OpenFactoryError with this code, position and (when given) message. */
export function assertSqlError(
  f: () => unknown,
  expected: { code: string; line: number; column: number; message?: string | RegExp; file?: string },
): void {
  try {
    f()
  } catch (err) {
    assert.ok(isOpenFactoryError(err), `not an OpenFactoryError: ${String(err)}`)
    assert.equal(err.code, expected.code, err.message)
    assert.deepEqual(
      { file: err.where?.file, line: err.where?.line, column: err.where?.column },
      { file: expected.file, line: expected.line, column: expected.column },
      err.message,
    )
    if (typeof expected.message === 'string') assert.equal(err.message, expected.message)
    else if (expected.message) assert.match(err.message, expected.message)
    return
  }
  assert.fail('no error thrown')
}

// Expected trees, without positions.
const t = (kind: string) => ({ kind })
export const type = {
  INTEGER: t('INTEGER'),
  BIGINT: t('BIGINT'),
  DOUBLE: t('DOUBLE'),
  STRING: t('STRING'),
  BOOLEAN: t('BOOLEAN'),
  decimal: (precision: number, scale: number) => ({ kind: 'DECIMAL', precision, scale }),
}
export const col = (name: string, source: string | null = null) => ({ kind: 'ColumnRefNode', source, name })
export const lit = (value: unknown, typ: object | null) => ({ kind: 'LiteralNode', type: typ, value })
export const int = (value: number) =>
  lit(value, value >= -2147483648 && value <= 2147483647 ? type.INTEGER : type.BIGINT)
export const str = (value: string) => lit(value, type.STRING)
export const NULL = lit(null, null)
export const call = (name: string, ...args: unknown[]) => ({ kind: 'FunctionCallNode', name, args, star: false })
export const cmp = (op: string, left: unknown, right: unknown) => ({ kind: 'ComparisonNode', op, left, right })
export const arith = (op: string, left: unknown, right: unknown) => ({ kind: 'ArithmeticNode', op, left, right })
export const and = (left: unknown, right: unknown) => ({ kind: 'LogicalNode', op: 'AND', left, right })
export const or = (left: unknown, right: unknown) => ({ kind: 'LogicalNode', op: 'OR', left, right })
export const not = (operand: unknown) => ({ kind: 'NotNode', operand })
export const item = (expression: unknown, alias: string | null = null) => ({
  kind: 'SelectExpressionNode',
  expression,
  alias,
})
/** A CASE branch's fields (see CaseBranch in ast.ts). */
export const branch = <W, T>(when: W, then: T) => ({ when, then })
export const rel = (name: string, alias: string | null = null) => ({ kind: 'RelationNode', name, alias })
export const prop = (name: string, value: unknown) => ({ kind: 'PropertyNode', name, value })
export const query = (q: Record<string, unknown>) => ({
  kind: 'QueryNode',
  select: [],
  from: null,
  joins: [],
  window: null,
  filter: null,
  groupBy: [],
  partitionBy: [],
  having: null,
  emit: null,
  limit: null,
  ...q,
})
