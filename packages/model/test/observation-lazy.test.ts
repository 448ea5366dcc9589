// The lazy observation decoder against the full one: on generated records (as `encodeObservation` writes them,
// and the same bytes mutated: cut, a byte changed, whitespace, other spellings) both give the same observation or
// the same error, and records in the usual shape do take the lazy path.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isOpenFactoryError } from '../src/errors.ts'
import { decodeObservation, encodeObservation, OBSERVATION_TYPES, type Observation } from '../src/observation.ts'
import { decodeObservationLazy } from '../src/observation-lazy.ts'

type Outcome = { ok: Observation } | { error: string }

function outcome(decode: (b: Uint8Array) => Observation, bytes: Uint8Array): Outcome {
  try {
    const o = decode(bytes)
    // Every field read by name, the attributes last (they are parsed then).
    return { ok: { id: o.id, value: o.value, tag: o.tag, type: o.type, attributes: o.attributes } }
  } catch (err) {
    assert.ok(isOpenFactoryError(err), `a coded error, got ${err}`)
    return { error: `${err.code}: ${err.message}` }
  }
}

function assertSame(bytes: Uint8Array): void {
  const full = outcome(decodeObservation, bytes)
  const lazy = outcome(decodeObservationLazy, bytes)
  assert.deepStrictEqual(lazy, full, Buffer.from(bytes).toString('latin1'))
}

const text = fc.oneof(
  fc.constantFrom('Temp', 'rpm', 'avail', 'UNAVAILABLE', '', 'a"b', 'back\\slash', 'tab\there', 'é', '温度', '💡'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
)
const scalar = fc.oneof(
  text,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
)
const attrs = fc.dictionary(
  fc.oneof(fc.constantFrom('timestamp', 'Timestamp', 'units', 'quality', 'ttl_ms', '__proto__'), fc.string()),
  fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 3 }), scalar)),
  { maxKeys: 5 },
)
const record = fc.record({
  id: text,
  value: fc.oneof(
    text,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  ),
  tag: fc.oneof(text, fc.constant(null)),
  type: fc.oneof(fc.constantFrom(...OBSERVATION_TYPES), text),
  attributes: fc.oneof(attrs, fc.constant(undefined)),
  timestamp: fc.oneof(fc.constant('2025-05-04T12:34:56.789Z'), fc.constant(undefined), fc.integer()),
})

/** Records as our connectors write them: ASCII text, a known type, flat attributes (the lazy path's shape). */
const asciiText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 12,
})
const asciiScalar = fc.oneof(
  asciiText,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
)
const usual = fc.record({
  id: asciiText,
  value: asciiScalar,
  tag: fc.oneof(asciiText, fc.constant(null)),
  type: fc.constantFrom(...OBSERVATION_TYPES),
  attributes: fc.dictionary(
    fc.oneof(fc.constantFrom('timestamp', 'units', 'quality', 'ttl_ms'), asciiText),
    asciiScalar,
    { maxKeys: 5 },
  ),
  timestamp: fc.oneof(fc.constant('2025-05-04T12:34:56.789Z'), fc.constant(undefined), fc.integer()),
})

/** The record as the wire carries it: the field order `encodeObservation` uses, any values. */
function wire(r: {
  id: string
  value: unknown
  tag: unknown
  type: string
  attributes: Record<string, unknown> | undefined
  timestamp: unknown
}): Buffer {
  const attributes = r.attributes === undefined ? undefined : { ...r.attributes }
  if (attributes !== undefined && r.timestamp !== undefined) attributes.timestamp = r.timestamp
  return Buffer.from(JSON.stringify({ ID: r.id, VALUE: r.value, TAG: r.tag, TYPE: r.type, attributes }), 'utf8')
}

test('gives what decodeObservation gives, field for field, on generated records', () => {
  let lazy = 0
  fc.assert(
    fc.property(fc.oneof(record, usual), (r) => {
      assertSame(wire(r))
      try {
        if (Object.getPrototypeOf(decodeObservationLazy(wire(r))) !== Object.prototype) lazy++
      } catch {}
    }),
    { numRuns: 3000 },
  )
  assert.ok(lazy > 300, `the lazy path was taken ${lazy} times of 3000`)
})

test('gives what decodeObservation gives on mutated records: cut, a byte changed, whitespace, case', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      byte: fc.constantFrom(0x20, 0x0a, 0x2c, 0x22, 0x7d, 0x5c, 0x30, 0x2d, 0x2e, 0x65, 0xc3),
    }),
    fc.record({ kind: fc.constant('case' as const), at: fc.nat() }),
  )
  fc.assert(
    fc.property(fc.oneof(record, usual), fc.array(mutation, { minLength: 1, maxLength: 3 }), (r, mutations) => {
      let b = wire(r)
      for (const m of mutations) {
        const at = b.length === 0 ? 0 : m.at % b.length
        if (m.kind === 'cut') b = b.subarray(0, at)
        else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at)])
        else if (b.length > 0) {
          b = Buffer.from(b)
          b[at] = m.kind === 'set' ? m.byte : (b[at] as number) ^ 0x20
        }
      }
      assertSame(b)
    }),
    { numRuns: 5000 },
  )
})

test('numbers at the edges of JSON: the same values, the same refusals', () => {
  const values = [
    '0',
    '-0',
    '1e400',
    '-1e-400',
    '1.5E+3',
    '01',
    '1.',
    '.5',
    '-',
    '1e',
    '+1',
    '0x10',
    '9007199254740993',
  ]
  for (const v of values) {
    assertSame(
      Buffer.from(`{"ID":"x","VALUE":${v},"TAG":"t","TYPE":"Samples","attributes":{"timestamp":"t","n":${v}}}`),
    )
  }
})

test('records in the usual shape take the lazy path, with attributes parsed once, when read', () => {
  const o = decodeObservationLazy(
    Buffer.from(
      encodeObservation({
        id: 'Temp',
        value: 216.92,
        tag: 'Temperature',
        type: 'Samples',
        attributes: { timestamp: '2025-05-04T12:34:56.789Z', units: 'CELSIUS', ttl_ms: 5000, flag: true, none: null },
      }),
    ),
  )
  assert.notEqual(Object.getPrototypeOf(o), Object.prototype, 'not a plain object: the lazy path')
  assert.equal(o.id, 'Temp')
  assert.equal(o.value, 216.92)
  const attributes = o.attributes
  assert.equal(o.attributes, attributes, 'parsed once')
  assert.deepEqual(attributes, {
    timestamp: '2025-05-04T12:34:56.789Z',
    units: 'CELSIUS',
    ttl_ms: 5000,
    flag: true,
    none: null,
  })
  assert.deepEqual(JSON.parse(JSON.stringify(o)), {
    id: 'Temp',
    value: 216.92,
    tag: 'Temperature',
    type: 'Samples',
    attributes,
  })
  // Without a timestamp attribute: '' as the full decoder gives.
  const bare = decodeObservationLazy(Buffer.from('{"ID":"a","VALUE":"x","TAG":null,"TYPE":"Events","attributes":{}}'))
  assert.notEqual(Object.getPrototypeOf(bare), Object.prototype)
  assert.deepEqual(bare.attributes, { timestamp: '' })
  assert.equal(bare.tag, '')
})

test('keeps no view of the bytes it was given: a reused read buffer does not change the attributes', () => {
  const bytes = Buffer.from(
    '{"ID":"a","VALUE":1,"TAG":"T","TYPE":"Samples","attributes":{"timestamp":"2025-01-01T00:00:00.000Z"}}',
  )
  const o = decodeObservationLazy(bytes)
  bytes.fill(0x20)
  assert.equal(o.attributes.timestamp, '2025-01-01T00:00:00.000Z')
})
