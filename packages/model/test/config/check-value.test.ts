/** The message layer over ajv: what every file format shares, checked on small schemas of our own. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Type } from '@sinclair/typebox'
import { checkValue, INVALID, type Issue, type Refine } from '../../src/config/check-value.ts'

function check(schema: Parameters<typeof checkValue>[0], value: unknown): { out: unknown; issues: string[] } {
  const issues: Issue[] = []
  const out = checkValue(schema, value, ['x'], { dir: '/tmp', issues })
  return { out, issues: issues.map((i) => `${i.code} ${i.anchor} ${i.path.join('/')}: ${i.message}`) }
}

describe('checkValue', () => {
  test('numbers and booleans may be text, as pydantic reads them in lax mode; other text is refused', () => {
    const S = Type.Object({
      port: Type.Integer({ minimum: 1, maximum: 65535, expected: 'a port number' }),
      ratio: Type.Number(),
      on: Type.Boolean(),
      name: Type.String(),
    })
    assert.deepEqual(check(S, { port: '7878', ratio: ' 0.5 ', on: 'yes', name: 'n' }), {
      out: { port: 7878, ratio: 0.5, on: true, name: 'n' },
      issues: [],
    })
    assert.deepEqual(check(S, { port: 2.0, ratio: 1, on: 0, name: 'n' }).out, {
      port: 2,
      ratio: 1,
      on: false,
      name: 'n',
    })
    assert.deepEqual(check(S, { port: '70000', ratio: 'half', on: 'maybe', name: 5 }).issues, [
      'OFA_CONFIG_VALUE value x/port: expected a port number between 1 and 65535, got 70000',
      'OFA_CONFIG_TYPE value x/ratio: expected a number, got "half"',
      'OFA_CONFIG_TYPE value x/on: expected true or false, got "maybe"',
      'OFA_CONFIG_TYPE value x/name: expected a string, got 5 (put it in quotes)',
    ])
  })

  test('an empty optional field is absent (its default applies); an empty required field is reported once', () => {
    const S = Type.Object({
      a: Type.String(),
      b: Type.Optional(Type.String()),
      c: Type.Optional(Type.Union([Type.Literal('x'), Type.Literal('y')], { default: 'x' })),
    })
    assert.deepEqual(check(S, { a: 'v', b: null, c: null }), { out: { a: 'v', c: 'x' }, issues: [] })
    assert.deepEqual(check(S, { a: null }).issues, ['OFA_CONFIG_MISSING_FIELD key x/a: required field is empty'])
    assert.deepEqual(check(S, {}).issues, ['OFA_CONFIG_MISSING_FIELD parent x/a: missing required field'])
  })

  test('unknown fields, with a guess; record keys that do not match', () => {
    const S = Type.Object(
      {
        replicas: Type.Optional(Type.Integer()),
        labels: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.String(), { keyExpected: 'a-z' })),
      },
      { additionalProperties: false },
    )
    assert.deepEqual(check(S, { replica: 1, labels: { ok: 'v', 'Not OK': 'v' } }).issues, [
      'OFA_CONFIG_UNKNOWN_FIELD key x/replica: unknown field (did you mean "replicas"?)',
      'OFA_CONFIG_VALUE key x/labels/Not OK: invalid name: expected a-z',
    ])
  })

  test('unions: one of the constants; the branch of the value shape; else what the union expects', () => {
    const S = Type.Object({
      level: Type.Optional(Type.Union([Type.Literal('ro'), Type.Literal('rw')])),
      size: Type.Optional(
        Type.Union([
          Type.String({ pattern: '^\\d+[kMG]i$', expected: 'a size like 1Gi' }),
          Type.Integer({ minimum: 0 }),
        ]),
      ),
      topics: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Record(Type.String(), Type.Integer())])),
    })
    assert.deepEqual(check(S, { level: 'rx', size: '1Gb', topics: true }).issues, [
      'OFA_CONFIG_VALUE value x/level: expected one of ro, rw, got "rx"',
      'OFA_CONFIG_VALUE value x/size: expected a size like 1Gi, got "1Gb"',
      'OFA_CONFIG_TYPE value x/topics: expected a list or a map, got true',
    ])
    assert.deepEqual(check(S, { size: -1, topics: ['a', 2] }).issues, [
      'OFA_CONFIG_VALUE value x/size: expected an integer at least 0, got -1',
      'OFA_CONFIG_TYPE value x/topics/1: expected a string, got 2 (put it in quotes)',
    ])
  })

  test('a discriminated union checks the branch its tag names', () => {
    const A = Type.Object({ type: Type.Literal('a'), port: Type.Integer() }, { additionalProperties: false })
    const B = Type.Object({ type: Type.Literal('b'), host: Type.String() }, { additionalProperties: false })
    const S = Type.Union([A, B], { discriminator: { propertyName: 'type' } })
    assert.deepEqual(check(S, { type: 'b', colour: 1 }).issues, [
      'OFA_CONFIG_MISSING_FIELD parent x/host: missing required field',
      'OFA_CONFIG_UNKNOWN_FIELD key x/colour: unknown field (allowed: type, host)',
    ])
    assert.deepEqual(check(S, { type: 'c' }).issues, ['OFA_CONFIG_VALUE value x/type: expected one of a, b, got "c"'])
    assert.deepEqual(check(S, { host: 'h' }).issues, [
      'OFA_CONFIG_MISSING_FIELD parent x/type: missing required field (one of a, b)',
    ])
    assert.deepEqual(check(S, [1]).issues, ['OFA_CONFIG_TYPE value x: expected a map, got a list'])
  })

  test('exactlyOne is checked even when other fields have problems', () => {
    const S = Type.Object(
      { ip: Type.Optional(Type.String()), image: Type.Optional(Type.String()), port: Type.Integer() },
      { exactlyOne: { fields: ['ip', 'image'], missing: 'give ip or image', both: 'ip and image exclude each other' } },
    )
    assert.deepEqual(check(S, { port: 'x' }).issues, [
      'OFA_CONFIG_TYPE value x/port: expected an integer, got "x"',
      'OFA_CONFIG_MISSING_FIELD parent x/ip: give ip or image',
    ])
    assert.deepEqual(check(S, { ip: 'a', image: 'b', port: 1 }).issues, [
      'OFA_CONFIG_VALUE key x/image: ip and image exclude each other',
    ])
  })

  test('refine runs only on a value that passes its own schema, may report several problems and replace it', () => {
    const calls: unknown[] = []
    const refine: Refine = (v: { a: number; b: number }, report, ctx) => {
      calls.push(v)
      if (v.a > v.b) {
        report(['a'], 'OFA_CONFIG_VALUE', `greater than b (${ctx.dir})`)
        report(['a'], 'OFA_CONFIG_VALUE', 'and something else', 'key')
      }
      return { sum: v.a + v.b }
    }
    const S = Type.Object({ r: Type.Object({ a: Type.Integer(), b: Type.Integer() }, { refine }) })
    assert.deepEqual(check(S, { r: { a: '1', b: 2 } }), { out: { r: { sum: 3 } }, issues: [] })
    assert.deepEqual(check(S, { r: { a: 3, b: 2 } }).issues, [
      'OFA_CONFIG_VALUE value x/r/a: greater than b (/tmp)',
      'OFA_CONFIG_VALUE key x/r/a: and something else',
    ])
    calls.length = 0
    assert.deepEqual(check(S, { r: { a: 3, b: 'x' } }).issues, [
      'OFA_CONFIG_TYPE value x/r/b: expected an integer, got "x"',
    ])
    assert.deepEqual(calls, [])
  })

  test('the value given is not changed; keys like __proto__ are fields like any other', () => {
    const S = Type.Object({ n: Type.Integer(), m: Type.Optional(Type.Record(Type.String(), Type.Integer())) })
    const input = JSON.parse('{"n": "5", "m": {"__proto__": "7"}}')
    const { out, issues } = check(S, input)
    assert.deepEqual(issues, [])
    assert.equal(input.n, '5')
    const m = (out as { m: Record<string, unknown> }).m
    assert.equal(Object.getPrototypeOf(m), Object.prototype)
    assert.equal(Object.getOwnPropertyDescriptor(m, '__proto__')?.value, 7)
  })

  test('INVALID when anything is wrong', () => {
    assert.equal(check(Type.Object({ a: Type.String() }), { a: 1 }).out, INVALID)
  })
})
