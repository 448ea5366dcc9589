import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import { defaultFunctions, functionNames, resolveAggregate, resolveScalar } from '../../src/functions/index.ts'
import { FunctionRegistry, type ScalarSpec } from '../../src/functions/registry.ts'
import { type LambdaArgType, P } from '../../src/functions/signature.ts'
import { type SqlType, SqlType as T } from '../../src/types.ts'
import { assertCode } from './helpers.ts'

const lambdaOf = (arity: number, body: (params: readonly SqlType[]) => SqlType | null): LambdaArgType => ({
  kind: 'LAMBDA',
  arity,
  typeOf: body,
})

describe('signature resolution: implicit widening INTEGER → BIGINT → DECIMAL → DOUBLE', () => {
  test('an INTEGER argument widens to a DOUBLE parameter', () => {
    const r = resolveScalar('SQRT', [T.INTEGER])
    assert.deepEqual(r.type, T.DOUBLE)
    assert.deepEqual(r.argTypes, [T.DOUBLE])
    assert.equal(r.call([16]), 4)
  })

  test('the signature needing the fewest steps wins', () => {
    assert.deepEqual(resolveScalar('ROUND', [T.INTEGER]).type, T.INTEGER)
    assert.deepEqual(resolveScalar('ROUND', [T.BIGINT]).type, T.BIGINT)
    assert.deepEqual(resolveScalar('ROUND', [T.DOUBLE]).type, T.BIGINT)
    assert.deepEqual(resolveScalar('ROUND', [T.decimal(5, 2)]).type, T.decimal(4, 0))
    assert.deepEqual(resolveScalar('ROUND', [T.decimal(5, 2), T.INTEGER]).type, T.decimal(5, 2))
    assert.equal(resolveScalar('ROUND', [T.INTEGER, T.INTEGER]).signature, 'ROUND(INTEGER, scale INTEGER) → INTEGER')
  })

  test('a generic bound by several numeric arguments takes the widest of their types', () => {
    assert.deepEqual(resolveScalar('GREATEST', [T.INTEGER, T.BIGINT]).type, T.BIGINT)
    assert.deepEqual(resolveScalar('GREATEST', [T.INTEGER, T.DOUBLE, T.BIGINT]).type, T.DOUBLE)
    assert.deepEqual(resolveScalar('COALESCE', [T.array(T.INTEGER), T.array(T.BIGINT)]).type, T.array(T.BIGINT))
  })

  test('widening reaches inside ARRAY and MAP', () => {
    const r = resolveScalar('ARRAY_CONTAINS', [T.array(T.INTEGER), T.DOUBLE])
    assert.deepEqual(r.argTypes, [T.array(T.DOUBLE), T.DOUBLE])
    assert.equal(r.call([[1, 2], 2]), true)
    assert.deepEqual(
      resolveScalar('MAP_UNION', [T.map(T.STRING, T.INTEGER), T.map(T.STRING, T.DOUBLE)]).type,
      T.map(T.STRING, T.DOUBLE),
    )
  })

  test('no narrowing and no conversion between kinds', () => {
    assertCode(() => resolveScalar('SUBSTRING', [T.STRING, T.DOUBLE]), 'OFA_SQL_FUNCTION', /no signature of SUBSTRING/)
    assertCode(() => resolveScalar('LEN', [T.INTEGER]), 'OFA_SQL_FUNCTION')
    assertCode(() => resolveScalar('UCASE', [T.TIMESTAMP]), 'OFA_SQL_FUNCTION')
    assertCode(() => resolveScalar('COALESCE', [T.STRING, T.INTEGER]), 'OFA_SQL_FUNCTION')
  })
})

describe('signature resolution: generics', () => {
  test('ARRAY<T>, MAP<STRING, V> bind their element types', () => {
    assert.deepEqual(resolveScalar('ARRAY_DISTINCT', [T.array(T.STRING)]).type, T.array(T.STRING))
    assert.deepEqual(resolveScalar('MAP_VALUES', [T.map(T.STRING, T.BOOLEAN)]).type, T.array(T.BOOLEAN))
    const point = T.struct([
      { name: 'X', type: T.DOUBLE },
      { name: 'Y', type: T.DOUBLE },
    ])
    assert.deepEqual(resolveScalar('SLICE', [T.array(point), T.INTEGER, T.INTEGER]).type, T.array(point))
  })

  test('constraints: N numeric, C comparable, K not a collection', () => {
    assert.deepEqual(resolveScalar('ABS', [T.decimal(4, 1)]).type, T.decimal(4, 1))
    assertCode(() => resolveScalar('ABS', [T.STRING]), 'OFA_SQL_FUNCTION')
    assertCode(() => resolveScalar('ARRAY_MAX', [T.array(T.map(T.STRING, T.INTEGER))]), 'OFA_SQL_FUNCTION')
    assertCode(() => resolveScalar('ARRAY_JOIN', [T.array(T.array(T.STRING))]), 'OFA_SQL_FUNCTION')
    assert.deepEqual(resolveScalar('ARRAY_MAX', [T.array(T.TIMESTAMP)]).type, T.TIMESTAMP)
  })

  test('a variadic parameter repeats zero or more times', () => {
    assert.equal(resolveScalar('CONCAT', []).call([]), '')
    assert.equal(resolveScalar('CONCAT', [T.STRING, T.STRING, T.STRING, T.STRING]).call(['a', 'b', 'c', 'd']), 'abcd')
    assertCode(() => resolveScalar('COALESCE', []), 'OFA_SQL_FUNCTION')
  })
})

describe('signature resolution: NULL literals (type null)', () => {
  test('match any parameter, and the implementation sees null', () => {
    const r = resolveScalar('UCASE', [null])
    assert.deepEqual(r.type, T.STRING)
    assert.deepEqual(r.argTypes, [T.STRING])
    assert.equal(r.call([null]), null)
    assert.deepEqual(resolveScalar('COALESCE', [null, T.INTEGER]).type, T.INTEGER)
    assert.deepEqual(resolveScalar('ARRAY_CONTAINS', [null, T.INTEGER]).type, T.BOOLEAN)
    assert.deepEqual(resolveScalar('FLOOR', [null]).type, T.INTEGER)
  })

  test('a result type only NULLs could give is refused, asking for a CAST', () => {
    assertCode(() => resolveScalar('COALESCE', [null, null]), 'OFA_SQL_FUNCTION', /CAST/)
    assertCode(() => resolveScalar('ARRAY_DISTINCT', [null]), 'OFA_SQL_FUNCTION', /NULL arguments only/)
    assertCode(() => resolveAggregate('MAX', [null]), 'OFA_SQL_FUNCTION', /CAST/)
  })
})

describe('signature resolution: lambdas', () => {
  test("TRANSFORM types the lambda's parameter with the element type, and its result with the body's type", () => {
    const seen: (readonly SqlType[])[] = []
    const r = resolveScalar('TRANSFORM', [
      T.array(T.INTEGER),
      lambdaOf(1, (ps) => {
        seen.push(ps)
        return T.STRING
      }),
    ])
    assert.deepEqual(seen, [[T.INTEGER]])
    assert.deepEqual(r.type, T.array(T.STRING))
    assert.deepEqual(r.lambdaParams, [undefined, [T.INTEGER]])
    assert.deepEqual(r.call([[1, 2], (x) => `#${String(x)}`]), ['#1', '#2'])
  })

  test("REDUCE's state widens to the body's type, and the lambda is typed again with it", () => {
    const seen: (readonly SqlType[])[] = []
    const r = resolveScalar('REDUCE', [
      T.array(T.DOUBLE),
      T.INTEGER,
      lambdaOf(2, (ps) => {
        seen.push(ps)
        return (ps[0] as SqlType).kind === 'INTEGER' ? T.DOUBLE : (ps[0] as SqlType)
      }),
    ])
    assert.deepEqual(seen, [
      [T.INTEGER, T.DOUBLE],
      [T.DOUBLE, T.DOUBLE],
    ])
    assert.deepEqual(r.type, T.DOUBLE)
    assert.deepEqual(r.lambdaParams[2], [T.DOUBLE, T.DOUBLE])
  })

  test('a map takes lambdas of two parameters (key, value); a lambda of the wrong arity matches nothing', () => {
    const r = resolveScalar('FILTER', [T.map(T.STRING, T.INTEGER), lambdaOf(2, () => T.BOOLEAN)])
    assert.deepEqual(r.type, T.map(T.STRING, T.INTEGER))
    assert.deepEqual(r.lambdaParams[1], [T.STRING, T.INTEGER])
    assertCode(
      () => resolveScalar('FILTER', [T.array(T.INTEGER), lambdaOf(2, () => T.BOOLEAN)]),
      'OFA_SQL_FUNCTION',
      /a lambda of 2 parameters/,
    )
    assertCode(() => resolveScalar('FILTER', [T.array(T.INTEGER), lambdaOf(1, () => T.STRING)]), 'OFA_SQL_FUNCTION')
    assertCode(() => resolveScalar('UCASE', [lambdaOf(1, () => T.STRING)]), 'OFA_SQL_FUNCTION')
  })
})

describe('errors name what exists', () => {
  test('an unknown function: the closest name, or where to look', () => {
    assertCode(
      () => resolveScalar('FLOR', [T.DOUBLE]),
      'OFA_SQL_FUNCTION',
      /unknown function FLOR \(did you mean FLOOR\?\)/,
    )
    assertCode(() => resolveScalar('ucas', [T.STRING]), 'OFA_SQL_FUNCTION', /did you mean UCASE\?/)
    assertCode(
      () => resolveScalar('LATEST_BY_OFSET', [T.STRING]),
      'OFA_SQL_FUNCTION',
      /did you mean LATEST_BY_OFFSET\?/,
    )
    assertCode(() => resolveAggregate('SUMM', [T.INTEGER]), 'OFA_SQL_FUNCTION', /did you mean SUM\?/)
    assertCode(() => resolveScalar('XYZZY_PLUGH', []), 'OFA_SQL_FUNCTION', /SHOW FUNCTIONS/)
  })

  test("a wrong arity or type lists the function's signatures", () => {
    assertCode(
      () => resolveScalar('SUBSTRING', [T.STRING]),
      'OFA_SQL_FUNCTION',
      /^no signature of SUBSTRING takes \(STRING\); its signatures: SUBSTRING\(STRING, pos INTEGER\) → STRING; SUBSTRING\(STRING, pos INTEGER, len INTEGER\) → STRING; SUBSTRING\(BYTES, pos INTEGER\) → BYTES/,
    )
    assertCode(() => resolveAggregate('TOPK', [T.INTEGER]), 'OFA_SQL_FUNCTION', /TOPK\(C, k INTEGER\) → ARRAY<C>/)
  })

  test('an aggregate used as a scalar and the other way round', () => {
    assertCode(() => resolveScalar('count', [T.INTEGER]), 'OFA_SQL_FUNCTION', /COUNT is an aggregate function/)
    assertCode(() => resolveAggregate('UCASE', [T.STRING]), 'OFA_SQL_FUNCTION', /UCASE is a scalar function/)
  })

  test('the call position is attached', () => {
    try {
      resolveScalar('NOPE', [], { line: 3, column: 14 })
      assert.fail('NOPE resolved')
    } catch (e) {
      assert.ok(isOpenFactoryError(e))
      assert.deepEqual(e.where, { line: 3, column: 14 })
    }
  })
})

describe('the registry', () => {
  test('names are case-insensitive and stored in upper case', () => {
    assert.equal(resolveScalar('uCaSe', [T.STRING]).name, 'UCASE')
    assert.equal(defaultFunctions.scalarSpec('concat_ws')?.name, 'CONCAT_WS')
    assert.equal(defaultFunctions.isAggregate('latest_by_offset'), true)
    assert.equal(defaultFunctions.isAggregate('UCASE'), false)
  })

  test('registering: a name once, a spec that says what its NULLs do, one implementation per signature', () => {
    const r = new FunctionRegistry()
    const spec: ScalarSpec = {
      name: 'double_it',
      category: 'math',
      description: 'Twice the value.',
      signatures: [{ params: [P.N], returns: P.N, impl: (a) => (a[0] as number) * 2 }],
    }
    assert.equal(r.registerScalar(spec).name, 'DOUBLE_IT')
    assert.throws(() => r.registerScalar(spec), /registered twice/)
    assert.throws(
      () =>
        r.registerScalar({
          ...spec,
          name: 'X',
          signatures: [{ params: [], returns: P.N, strict: false, impl: () => 1 }],
        }),
      /nulls text/,
    )
    assert.throws(
      () => r.registerScalar({ ...spec, name: 'Y', signatures: [{ params: [], returns: P.N }] }),
      /impl or a bind/,
    )
    assert.throws(() => r.registerScalar({ ...spec, name: 'a-b' }), /letters, digits/)
    assert.throws(() => r.registerScalar({ ...spec, name: 'Z', signatures: [] }), /no signature/)
  })

  test('a strict signature returns NULL for a NULL argument without calling its implementation', () => {
    const r = new FunctionRegistry()
    r.registerScalar({
      name: 'NEVER_NULL',
      category: 'string',
      description: 'Throws on NULL.',
      signatures: [
        {
          params: [P.STRING, P.STRING],
          returns: P.STRING,
          impl: (a) => {
            if (a[0] === null || a[1] === null) throw new Error('called with NULL')
            return (a[0] as string) + (a[1] as string)
          },
        },
      ],
    })
    const f = r.resolveScalar('never_null', [T.STRING, T.STRING])
    assert.equal(f.call(['a', 'b']), 'ab')
    assert.equal(f.call(['a', null]), null)
  })

  test('aggregates: literal arguments by position (a variadic one stands for all its repetitions)', () => {
    assert.deepEqual(resolveAggregate('TOPK', [T.INTEGER, T.INTEGER]).literals, [1])
    assert.deepEqual(resolveAggregate('LATEST_BY_OFFSET', [T.STRING, T.INTEGER, T.BOOLEAN]).literals, [1, 2])
    assert.deepEqual(resolveAggregate('OEE_AVAILABILITY', [T.STRING, T.STRING, T.STRING, T.STRING]).literals, [1, 2, 3])
    assert.deepEqual(resolveAggregate('COUNT', []).literals, [])
  })

  test('every aggregate signature resolves, with undo and merge as its spec says', () => {
    const sample = (p: unknown): SqlType | null => {
      const t = p as { kind: string; constraint?: string; element?: unknown; value?: unknown }
      switch (t.kind) {
        case 'GENERIC':
          return t.constraint === 'decimal' ? T.decimal(6, 2) : T.INTEGER
        case 'ARRAY':
          return T.array(sample(t.element) as SqlType)
        case 'MAP':
          return T.map(T.STRING, sample(t.value) as SqlType)
        default:
          return t as SqlType
      }
    }
    for (const spec of defaultFunctions.aggregateSpecs()) {
      for (const sig of spec.signatures) {
        const r = defaultFunctions.resolveAggregate(spec.name, sig.params.map(sample))
        assert.equal(r.undo !== undefined, spec.undo, `${spec.name} undo`)
        assert.equal(r.merge !== undefined, spec.merge, `${spec.name} merge`)
        assert.doesNotThrow(() => JSON.stringify(r.init()), spec.name)
      }
    }
  })

  test('deterministic: false for RANDOM, UUID, UNIX_TIMESTAMP', () => {
    assert.equal(resolveScalar('RANDOM', []).deterministic, false)
    assert.equal(resolveScalar('UUID', []).deterministic, false)
    assert.equal(resolveScalar('UNIX_TIMESTAMP', []).deterministic, false)
    assert.equal(resolveScalar('UCASE', [T.STRING]).deterministic, true)
  })

  test("SHOW FUNCTIONS: each function's name, category and type, by name", () => {
    const names = functionNames()
    assert.deepEqual(
      names.map((n) => n.name),
      [...names.map((n) => n.name)].sort(),
    )
    const find = (name: string) => names.find((n) => n.name === name)
    assert.deepEqual(find('UCASE'), { name: 'UCASE', category: 'STRING', type: 'SCALAR' })
    assert.deepEqual(find('COUNT'), { name: 'COUNT', category: 'AGGREGATE', type: 'AGGREGATE' })
    assert.deepEqual(find('TIME_WEIGHTED_AVG'), {
      name: 'TIME_WEIGHTED_AVG',
      category: 'INDUSTRIAL',
      type: 'AGGREGATE',
    })
    assert.equal(names.length, defaultFunctions.scalarSpecs().length + defaultFunctions.aggregateSpecs().length)
  })

  test("the registry is the planner's FunctionResolver: scalar, aggregate, isAggregate, canCast, cast", () => {
    const f = defaultFunctions.scalar('CONCAT', [T.STRING, null], { line: 1, column: 8 })
    assert.deepEqual(f.type, T.STRING)
    assert.equal(f.call(['a', null]), 'a')
    const agg = defaultFunctions.aggregate('SUM', [T.INTEGER], { line: 1, column: 8 })
    assert.deepEqual(agg.type, T.INTEGER)
    assert.equal(agg.result(agg.add(agg.init(), [2], { timestamp: 0, offset: 0 })), 2)
    assert.equal(defaultFunctions.canCast(T.STRING, T.INTEGER), true)
    assert.equal(defaultFunctions.canCast(T.BYTES, T.STRING), false)
    assert.equal(defaultFunctions.cast('12', T.STRING, T.INTEGER), 12)
  })
})
