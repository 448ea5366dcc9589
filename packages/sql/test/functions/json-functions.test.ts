import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseJsonPath, toJsonText } from '../../src/functions/json-functions.ts'
import { assertCode, call, s, struct, T } from './helpers.ts'

describe('JSON paths', () => {
  test('$, .name, [index], quoted names', () => {
    assert.deepEqual(parseJsonPath('$'), [])
    assert.deepEqual(parseJsonPath('$.log.cloud'), ['log', 'cloud'])
    assert.deepEqual(parseJsonPath('$.a[0][12].b'), ['a', 0, 12, 'b'])
    assert.deepEqual(parseJsonPath(`$['a b']["c.d"]['it\\'s']`), ['a b', 'c.d', "it's"])
    assert.deepEqual(parseJsonPath('a.b'), ['a', 'b'])
  })

  test('wildcards, filters and malformed paths are OFA_SQL_VALUE errors', () => {
    assertCode(() => parseJsonPath('$.a[*]'), 'OFA_SQL_VALUE', /wildcards and filters are not supported/)
    assertCode(() => parseJsonPath('$.*'), 'OFA_SQL_VALUE', /wildcards/)
    assertCode(() => parseJsonPath('$.a[?(@.b)]'), 'OFA_SQL_VALUE', /filters/)
    assertCode(() => parseJsonPath('$.a['), 'OFA_SQL_VALUE', /JSON path '\$\.a\['/)
    assertCode(() => call('EXTRACTJSONFIELD', s('{}'), s('$..a')), 'OFA_SQL_VALUE')
  })

  test('EXTRACTJSONFIELD compiles a path once and follows a path that changes', () => {
    const f = (json: string, path: string) => call('EXTRACTJSONFIELD', s(json), s(path))
    assert.equal(f('{"a":{"b":[10,20]}}', '$.a.b[1]'), '20')
    assert.equal(f('{"a":{"b":[10,20]}}', '$.a.b'), '[10,20]')
    assert.equal(f('{"a":"x"}', '$.a.b'), null)
    assert.equal(f('[1,2]', '$.a'), null)
    assert.equal(f('{"0":"zero"}', '$[0]'), null)
    assert.equal(f('{"0":"zero"}', "$['0']"), 'zero')
  })
})

describe('TO_JSON_STRING', () => {
  test('types decide the text: DOUBLE as Java prints it, non-finite as strings, DECIMAL with its scale', () => {
    assert.equal(toJsonText(20, T.DOUBLE), '20.0')
    assert.equal(toJsonText(Number.NaN, T.DOUBLE), '"NaN"')
    assert.equal(toJsonText(1.5, T.decimal(5, 3)), '1.500')
    assert.equal(toJsonText(null, T.STRING), 'null')
    assert.equal(toJsonText('a"b', T.STRING), '"a\\"b"')
  })

  test('nested STRUCT, ARRAY and MAP keep field order and NULLs', () => {
    const type = T.struct([
      { name: 'JSON_KEY', type: T.INTEGER },
      { name: 'JSON_VALUE', type: T.map(T.STRING, T.array(T.DOUBLE)) },
      { name: 'MISSING', type: T.STRING },
    ])
    const v = struct({ JSON_KEY: 1, JSON_VALUE: new Map([['c', [2, null]]]) })
    assert.equal(toJsonText(v, type), '{"JSON_KEY":1,"JSON_VALUE":{"c":[2.0,null]},"MISSING":null}')
    assert.equal(JSON.parse(toJsonText(v, type)).JSON_VALUE.c[0], 2)
  })
})
