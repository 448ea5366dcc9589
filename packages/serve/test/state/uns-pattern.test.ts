import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import { inferUnsSeparator, matchUnsLevels, splitUns, validateUnsPattern } from '../../src/state/uns-pattern.ts'

const path = ['Demofactory', 'Machining', 'WC001', 'dht-sensor']
const m = (pattern: string, sep = '/') => matchUnsLevels(splitUns(pattern, sep), path)

test('a pattern selects every item, one item, or nothing of an asset', () => {
  assert.equal(m('Demofactory/Machining/WC001/dht-sensor'), true) // the asset's own path: all items
  assert.equal(m('Demofactory/Machining/#'), true)
  assert.equal(m('#'), true)
  assert.equal(m('Demofactory/+/+/dht-sensor'), true)
  assert.equal(m('Demofactory/+/+/+/Temp'), 'Temp') // item level
  assert.equal(m('Demofactory/Machining/WC001/dht-sensor/+'), true)
  assert.equal(m('Demofactory/Machining/WC001/dht-sensor/#'), true)
  assert.equal(m('Demofactory/Machining/WC001/dht-sensor/Temp/#'), 'Temp') // `#` also matches its parent
  assert.equal(m('Demofactory/Assembly/#'), false)
  assert.equal(m('Demofactory/Machining/+'), false) // one level only
  assert.equal(m('Demofactory/Machining/WC001/dht-sensor/Temp/extra'), false)
  assert.equal(m('Demofactory/Machining'), false)
})

test('the separator is whatever the schema uses', () => {
  assert.equal(m('Demofactory.Machining.#', '.'), true)
  assert.equal(m('Demofactory.+.WC001.+.Hum', '.'), 'Hum')
  assert.equal(inferUnsSeparator(path, 'Demofactory.Machining.WC001.dht-sensor', '/'), '.')
  assert.equal(inferUnsSeparator(path, 'Demofactory::Machining::WC001::dht-sensor', '/'), '::')
  assert.equal(inferUnsSeparator(['a'], 'a', '/'), '/')
  assert.equal(inferUnsSeparator(path, 'something-else', '/'), '/')
})

test('bad patterns are refused with a coded error naming the field', () => {
  for (const bad of ['', 'a/#/b', 'a/b#', 'a+/b', 'a/+b', 42]) {
    assert.throws(
      () => validateUnsPattern(bad, 'OFA_SERVE_REQUEST_INVALID', 'query.uns'),
      (err) => isOpenFactoryError(err, 'OFA_SERVE_REQUEST_INVALID') && err.where?.path === 'query.uns',
      String(bad),
    )
  }
  for (const good of ['#', '+', 'a/+/c', 'a/#', 'a.b.#', 'Demofactory/Machining/WC001']) {
    assert.equal(validateUnsPattern(good, 'OFA_SERVE_REQUEST_INVALID', 'uns'), good)
  }
})

test('property: a path always matches itself, `#`, and itself with any level replaced by `+`', () => {
  const level = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/)
  fc.assert(
    fc.property(fc.array(level, { minLength: 1, maxLength: 6 }), fc.nat(), (levels, k) => {
      assert.equal(matchUnsLevels(levels, levels), true)
      assert.equal(matchUnsLevels(['#'], levels), true)
      const i = k % levels.length
      const withPlus = levels.map((l, j) => (j === i ? '+' : l))
      assert.equal(matchUnsLevels(withPlus, levels), true)
      assert.equal(matchUnsLevels([...levels.slice(0, i), '#'], levels), true)
      assert.equal(matchUnsLevels([...levels, 'item'], levels), 'item')
    }),
  )
})
