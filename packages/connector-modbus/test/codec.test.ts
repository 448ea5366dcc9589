// Register words <-> values: known layouts of every type and order, and encode/decode as inverses (fast-check).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  decodeRaw,
  decodeValue,
  encodeRaw,
  type FieldType,
  type ModbusField,
  TYPE_WORDS,
  unscale,
} from '../src/index.ts'
import { modbusField } from './fields.ts'

const field = (type: FieldType, over: Partial<ModbusField> = {}): ModbusField =>
  modbusField({ type, count: type === 'string' ? 4 : TYPE_WORDS[type], ...over })

test('known layouts: float32 21.5 as ABCD, CDAB, BADC and DCBA', () => {
  // 21.5 = 0x41AC0000.
  assert.equal(decodeRaw(field('float32'), [0x41ac, 0x0000]), 21.5)
  assert.equal(decodeRaw(field('float32', { wordOrder: 'little' }), [0x0000, 0x41ac]), 21.5)
  assert.equal(decodeRaw(field('float32', { byteOrder: 'little' }), [0xac41, 0x0000]), 21.5)
  assert.equal(decodeRaw(field('float32', { byteOrder: 'little', wordOrder: 'little' }), [0x0000, 0xac41]), 21.5)
})

test('known layouts: signed and unsigned integers, int64, a bit, a string', () => {
  assert.equal(decodeRaw(field('int16'), [0xfb2e]), -1234)
  assert.equal(decodeRaw(field('uint16'), [0xfb2e]), 64302)
  assert.equal(decodeRaw(field('int32'), [0xf8a4, 0x32eb]), -123456789)
  assert.equal(decodeRaw(field('uint32'), [0xb2d0, 0x5e00]), 3000000000)
  assert.equal(decodeRaw(field('int64'), [0xffff, 0xfee0, 0x8e04, 0xfb35]), -1234567890123)
  assert.equal(decodeRaw(field('bit', { bit: 2 }), [0b0100]), true)
  assert.equal(decodeRaw(field('bit', { bit: 1 }), [0b0100]), false)
  assert.equal(decodeRaw(field('string'), [0x4f46, 0x412d, 0x5031, 0x0000]), 'OFA-P1')
  assert.equal(decodeRaw(field('string', { byteOrder: 'little' }), [0x464f, 0x2d41, 0x3150, 0x0000]), 'OFA-P1')
})

test('scale and offset: 2155 × 0.01 reads 21.55; a write is scaled back', () => {
  const temp = field('uint16', { scale: 0.01 })
  assert.equal(decodeValue(temp, [2155]), 21.55)
  assert.equal(unscale(temp, 21.55), 2155)
  const f = field('int16', { scale: 0.5, offset: -40 })
  assert.equal(decodeValue(f, [100]), 10)
  assert.equal(unscale(f, 10), 100)
})

test('encode refuses what the type cannot hold, just past each edge', () => {
  assert.deepEqual(encodeRaw(field('int16'), 32767), [0x7fff])
  assert.throws(() => encodeRaw(field('int16'), 32768), RangeError)
  assert.deepEqual(encodeRaw(field('uint16'), 0), [0])
  assert.throws(() => encodeRaw(field('uint16'), -1), RangeError)
  assert.throws(() => encodeRaw(field('uint32'), 4294967296), RangeError)
  assert.throws(() => encodeRaw(field('int32'), 1.5), RangeError)
  assert.deepEqual(encodeRaw(field('string'), 'ABCDEFGH').length, 4)
  assert.throws(() => encodeRaw(field('string'), 'ABCDEFGHI'), RangeError)
})

const orders = fc.record({
  byteOrder: fc.constantFrom('big' as const, 'little' as const),
  wordOrder: fc.constantFrom('big' as const, 'little' as const),
})

test('property: decode(encode(v)) = v for every integer type and order', () => {
  const cases: Array<[FieldType, fc.Arbitrary<number>]> = [
    ['int16', fc.integer({ min: -32768, max: 32767 })],
    ['uint16', fc.integer({ min: 0, max: 65535 })],
    ['int32', fc.integer({ min: -2147483648, max: 2147483647 })],
    ['uint32', fc.integer({ min: 0, max: 4294967295 })],
    ['int64', fc.maxSafeInteger()],
  ]
  for (const [type, arb] of cases) {
    fc.assert(
      fc.property(arb, orders, (v, o) => {
        const f = field(type, o)
        const words = encodeRaw(f, v)
        assert.equal(words.length, f.count)
        assert.ok(words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff))
        assert.equal(decodeRaw(f, words), v)
      }),
    )
  }
})

test('property: floats round-trip (float64 exactly, float32 to single precision)', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), orders, (v, o) => {
      assert.equal(decodeRaw(field('float64', o), encodeRaw(field('float64', o), v)), v)
    }),
  )
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), orders, (v, o) => {
      assert.equal(decodeRaw(field('float32', o), encodeRaw(field('float32', o), v)), Math.fround(v))
    }),
  )
})

test('property: words read in one order and written in another are the byte-swapped words', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 2 }), (ws) => {
      const big = decodeRaw(field('uint32'), ws)
      const swapped = ws.map((w) => ((w & 0xff) << 8) | (w >> 8)).reverse()
      assert.equal(decodeRaw(field('uint32', { byteOrder: 'little', wordOrder: 'little' }), swapped), big)
    }),
  )
})
