import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { defaultFunctions } from '../../src/functions/index.ts'
import { formatArgType } from '../../src/functions/signature.ts'
import type { SqlValue } from '../../src/types.ts'
import { call } from './helpers.ts'
import {
  ALL_SCALAR_CASES,
  COLLECTION_CASES,
  DATE_TIME_CASES,
  JSON_CASES,
  MATH_CASES,
  NULL_CASES,
  type ScalarCase,
  STRING_CASES,
} from './scalar-cases.ts'

function title(k: ScalarCase): string {
  const args = k.args.map(([type, v]) =>
    type === null ? 'NULL' : `${formatArgType(type)} ${typeof v === 'function' ? 'λ' : JSON.stringify(v)}`,
  )
  return `${k.fn}(${args.join(', ')})`
}

function run(cases: readonly ScalarCase[]): void {
  for (const k of cases) {
    test(title(k), () => {
      const actual = call(k.fn, ...k.args)
      if (typeof k.expect === 'function') k.expect(actual)
      else assert.deepStrictEqual(actual, k.expect as SqlValue)
    })
  }
}

describe('string functions', () => run(STRING_CASES))
describe('numeric functions', () => run(MATH_CASES))
describe('NULL functions', () => run(NULL_CASES))
describe('date and time functions', () => run(DATE_TIME_CASES))
describe('JSON functions', () => run(JSON_CASES))
describe('collection functions', () => run(COLLECTION_CASES))

describe('every scalar function has golden cases', () => {
  test('a case with a result, and a case with a NULL argument (functions that take arguments)', () => {
    const missing: string[] = []
    for (const spec of defaultFunctions.scalarSpecs()) {
      const cases = ALL_SCALAR_CASES.filter((k) => k.fn === spec.name)
      const hasNull = (k: ScalarCase): boolean => k.args.some(([, v]) => v === null)
      if (!cases.some((k) => !hasNull(k) && k.expect !== null)) missing.push(`${spec.name}: a case with a result`)
      const takesArgs = spec.signatures.some((sig) => sig.params.length > 0)
      if (takesArgs && !cases.some(hasNull)) missing.push(`${spec.name}: a case with a NULL argument`)
    }
    assert.deepEqual(missing, [])
  })

  test('every case names a registered function', () => {
    const unknown = ALL_SCALAR_CASES.filter((k) => defaultFunctions.scalarSpec(k.fn) === undefined).map((k) => k.fn)
    assert.deepEqual(unknown, [])
  })
})
