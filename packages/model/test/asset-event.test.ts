import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Asset, DeviceComponent, MethodContract } from '../src/asset.ts'
import {
  type AssetEvent,
  AssetEvents,
  classifyObservation,
  decodeAssetDeclaration,
  decodeAssetDocument,
  decodeAssetEvent,
  encodeAssetDeclaration,
  encodeAssetDocument,
  encodeAssetEvent,
} from '../src/asset-event.ts'
import { COMMAND_STATUSES } from '../src/command.ts'
import { isOpenFactoryError } from '../src/errors.ts'
import { checkMethodArguments, methodArgumentProblems } from '../src/method-arguments.ts'
import type { Observation } from '../src/observation.ts'

const roundTrip = (e: AssetEvent): AssetEvent => decodeAssetEvent(encodeAssetEvent(e))

test('a command is <Method>_CMD with the envelope as JSON text, and decodes back', () => {
  const cmd = AssetEvents.command({
    method: 'SetSpeed',
    senderUuid: 'ofa-api',
    arguments: { rpm: 1200 },
    correlationId: 'c-1',
    at: 0,
  })
  const text = encodeAssetEvent(cmd)
  assert.equal(
    text,
    '{"ID":"SetSpeed_CMD","VALUE":"{\\"header\\":{\\"correlation_id\\":\\"c-1\\",\\"sender_uuid\\":\\"ofa-api\\",\\"timestamp\\":\\"1970-01-01T00:00:00.000Z\\",\\"signature\\":null},\\"arguments\\":{\\"rpm\\":1200}}","TAG":"Method.Command","TYPE":"OpenFactory","attributes":{"timestamp":"1970-01-01T00:00:00.000Z"}}',
  )
  const back = decodeAssetEvent(text)
  assert.ok(back.kind === 'command')
  assert.equal(back.method, 'SetSpeed')
  assert.deepEqual(back.envelope, {
    header: { correlation_id: 'c-1', sender_uuid: 'ofa-api', timestamp: '1970-01-01T00:00:00.000Z', signature: null },
    arguments: { rpm: 1200 },
  })
})

test('a command whose VALUE is an object, or whose TYPE is Method, is read as well', () => {
  const e = decodeAssetEvent({
    ID: 'Start_CMD',
    TYPE: 'OpenFactory',
    VALUE: { header: { correlation_id: 'y' } },
    attributes: {},
  })
  assert.ok(e.kind === 'command')
  assert.equal(e.envelope.header.correlation_id, 'y')
  const m = decodeAssetEvent({
    id: 'Stop_CMD',
    type: 'Method',
    value: '{"header":{"correlation_id":"z"}}',
    attributes: {},
  })
  assert.ok(m.kind === 'command')
  assert.equal(m.method, 'Stop')
})

test('results carry the correlation id and a status', () => {
  const r = AssetEvents.result('SetSpeed', { correlation_id: 'c-1', status: 'completed', result: { rpm: 1200 } }, 0)
  assert.equal(r.observation.id, 'SetSpeed_RESULT')
  assert.equal(r.observation.tag, 'Method.Result')
  const back = roundTrip(r)
  assert.ok(back.kind === 'result')
  assert.deepEqual(back.result, { correlation_id: 'c-1', status: 'completed', result: { rpm: 1200 } })
})

test('bad envelopes and results get OFA_COMMAND_INVALID', () => {
  const base = { tag: 'Method.Command', type: 'OpenFactory' as const, attributes: { timestamp: 't' } }
  for (const o of [
    { ...base, id: 'Start_CMD', value: 'nope' },
    { ...base, id: 'Start_CMD', value: '{"arguments":{}}' },
    { ...base, id: 'Start_CMD', value: '{"header":{"correlation_id":"a"},"arguments":[1]}' },
    { ...base, id: 'Start_RESULT', value: '{"correlation_id":"a","status":"done"}' },
    { ...base, id: 'Start_RESULT', value: '[]' },
  ]) {
    assert.throws(
      () => classifyObservation(o),
      (e) => isOpenFactoryError(e, 'OFA_COMMAND_INVALID'),
      o.id + o.value,
    )
  }
  // `_CMD` alone is no command: an attribute like any other.
  assert.equal(classifyObservation({ ...base, id: '_CMD', value: '{}' }).kind, 'observation')
})

test('a method is published with TYPE Method and its JSON contract', () => {
  const e = AssetEvents.method(
    { name: 'SetSpeed', description: 'spindle speed', arguments: [{ name: 'rpm', description: 'rev/min' }] },
    0,
  )
  assert.equal(e.observation.type, 'Method')
  assert.deepEqual(JSON.parse(String(e.observation.value)), {
    description: 'spindle speed',
    arguments: [{ name: 'rpm', description: 'rev/min' }],
  })
  assert.deepEqual(roundTrip(e), e)
})

test('availability: a heartbeat carries its TTL, UNAVAILABLE its reason', () => {
  const up = AssetEvents.availability({ available: true, ttlMs: 15000, at: 0 })
  assert.equal(
    encodeAssetEvent(up),
    '{"ID":"avail","VALUE":"AVAILABLE","TAG":"Availability","TYPE":"Events","attributes":{"timestamp":"1970-01-01T00:00:00.000Z","ttl_ms":15000}}',
  )
  assert.deepEqual(roundTrip(up), up)
  const down = AssetEvents.availability({ available: false, reason: 'adapter gone', at: 0 })
  const back = roundTrip(down)
  assert.ok(back.kind === 'availability')
  assert.equal(back.available, false)
  assert.equal(back.reason, 'adapter gone')
})

const asset: Asset = {
  uuid: 'CNC-1',
  type: 'Device',
  uns: { levels: { area: 'Machining', asset: 'CNC-1' }, unsId: 'Machining/CNC-1' },
  referencesAbove: ['AGENT-1'],
  referencesBelow: [],
  dataItems: [
    { id: 'Temp', category: 'Samples', tag: 'Temperature', units: 'CELSIUS', subType: 'ACTUAL' },
    { id: 'exec', category: 'Events', tag: 'Execution' },
  ],
  methods: [{ name: 'Start', description: 'starts', arguments: [] }],
}

test('declaring an asset: identity attributes, methods, then every item UNAVAILABLE with units and subType', () => {
  const events = AssetEvents.declare(asset, 0)
  assert.deepEqual(
    events.map((e) => [e.kind, e.observation.id]),
    [
      ['declaration', 'AssetType'],
      ['declaration', 'uns_id'],
      ['declaration', 'references_above'],
      ['declaration', 'references_below'],
      ['method', 'Start'],
      ['observation', 'Temp'],
      ['observation', 'exec'],
    ],
  )
  const temp = events[5]?.observation as Observation
  assert.equal(temp.value, 'UNAVAILABLE')
  assert.equal(temp.attributes.units, 'CELSIUS')
  assert.equal(temp.attributes.subType, 'ACTUAL')
  for (const e of events) assert.deepEqual(roundTrip(e), e)
  const above = roundTrip(events[2] as AssetEvent)
  assert.ok(above.kind === 'declaration')
  assert.deepEqual(above.references, ['AGENT-1'])
  assert.deepEqual(decodeAssetDeclaration('CNC-1', encodeAssetDeclaration(asset)), asset)
  assert.deepEqual(decodeAssetDeclaration('X', '{}'), {
    uuid: 'X',
    type: 'Unknown',
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [],
    methods: [],
  })
  assert.throws(
    () => decodeAssetDeclaration('X', '[]'),
    (e) => isOpenFactoryError(e, 'OFA_OBSERVATION_INVALID'),
  )
})

test('asset documents round-trip; a document without its fields is refused', () => {
  const doc = { assetId: 'T1', type: 'CuttingTool', deviceUuid: 'CNC-1', timestamp: 't', body: '<CuttingTool/>' }
  assert.deepEqual(decodeAssetDocument(encodeAssetDocument(doc)), doc)
  assert.deepEqual(decodeAssetDocument(encodeAssetDocument({ ...doc, removed: true })), { ...doc, removed: true })
  assert.throws(
    () => decodeAssetDocument('{"assetId":"T1"}'),
    (e) => isOpenFactoryError(e, 'OFA_OBSERVATION_INVALID'),
  )
})

// --- properties ------------------------------------------------------------------------------------------

const text = fc.string({ unit: 'binary', maxLength: 20 })
const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,11}$/)
const at = fc.integer({ min: 0, max: 4102444800000 })
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown)
const contract: fc.Arbitrary<MethodContract> = fc.record({
  name,
  description: text,
  arguments: fc.array(
    fc
      .record(
        {
          name,
          description: text,
          type: fc.constantFrom('number', 'string', 'boolean', 'object'),
          required: fc.boolean(),
        },
        { requiredKeys: ['name'] },
      )
      .map((a) => ({ ...a })),
    { maxLength: 3 },
  ),
})

const event: fc.Arbitrary<AssetEvent> = fc.oneof(
  fc
    .record({ id: name, value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), text), tag: name, at })
    .filter(
      ({ id }) =>
        !['avail', 'agent_avail', 'AssetType', 'DockerService', 'uns_id'].includes(id) && !/_(CMD|RESULT)$/.test(id),
    )
    .map(({ id, value, tag, at }) =>
      AssetEvents.observation({
        id,
        value: Object.is(value, -0) ? 0 : value,
        tag,
        type: typeof value === 'number' ? 'Samples' : 'Events',
        attributes: { timestamp: new Date(at).toISOString() },
      }),
    ),
  fc
    .tuple(fc.constantFrom('AssetType', 'DockerService', 'uns_id') as fc.Arbitrary<'AssetType'>, text, at)
    .map(([a, v, t]) => AssetEvents.declaration(a, v, t)),
  fc
    .tuple(
      fc.constantFrom('references_above', 'references_below') as fc.Arbitrary<'references_above'>,
      fc.array(name, { maxLength: 4 }),
      at,
    )
    .map(([a, v, t]) => AssetEvents.declaration(a, v, t)),
  fc.tuple(contract, at).map(([c, t]) => AssetEvents.method(c, t)),
  fc
    .record({
      method: name,
      senderUuid: text,
      arguments: fc.dictionary(name, json, { maxKeys: 3 }).map((d) => ({ ...d })),
      correlationId: text,
      at,
    })
    .map((o) => AssetEvents.command(o)),
  fc
    .record({
      method: name,
      id: text,
      status: fc.constantFrom(...COMMAND_STATUSES),
      result: fc.option(json, { nil: undefined }),
      error: fc.option(fc.record({ code: name, message: text }), { nil: undefined }),
      at,
    })
    .map(({ method, id, status, result, error, at }) =>
      AssetEvents.result(
        method,
        {
          correlation_id: id,
          status,
          ...(result === undefined || result === null ? {} : { result }),
          ...(error ? { error } : {}),
        },
        at,
      ),
    ),
  fc
    .record({ available: fc.boolean(), ttl: fc.nat(100_000), reason: text, at })
    .map(({ available, ttl, reason, at }) =>
      AssetEvents.availability(available ? { available, ttlMs: ttl, at } : { available, reason, at }),
    ),
)

test('property: every kind of event decodes to what was encoded', () => {
  fc.assert(
    fc.property(event, (e) => {
      assert.deepEqual(roundTrip(e), e)
    }),
    { numRuns: 2000 },
  )
})

// The ofa_registry value: the declared Asset, its MTConnect description (component tree, data item types) optional.
/** Components nested `depth` levels at most. */
const componentTree = (depth: number): fc.Arbitrary<DeviceComponent> =>
  fc.record(
    {
      type: name,
      id: name,
      name: text,
      dataItems: fc.array(name, { maxLength: 3 }),
      components: depth > 1 ? fc.array(componentTree(depth - 1), { maxLength: 2 }) : fc.constant([]),
    },
    { requiredKeys: ['type', 'id', 'dataItems', 'components'] },
  )
const declared: fc.Arbitrary<Asset> = fc
  .record(
    {
      uuid: name,
      type: name,
      uns: fc.record({ levels: fc.dictionary(name, name, { maxKeys: 3 }), unsId: name }),
      referencesAbove: fc.array(name, { maxLength: 2 }),
      referencesBelow: fc.array(name, { maxLength: 2 }),
      dataItems: fc.array(
        fc.record(
          {
            id: name,
            category: fc.constantFrom('Samples', 'Events', 'Condition'),
            tag: name,
            type: name,
            subType: name,
            units: name,
            nativeUnits: name,
            representation: fc.constantFrom('VALUE', 'TIME_SERIES', 'DATA_SET', 'TABLE'),
            name: text,
          },
          { requiredKeys: ['id', 'category', 'tag'] },
        ),
        { maxLength: 4 },
      ),
      methods: fc.array(contract, { maxLength: 2 }),
      device: fc.record(
        {
          id: name,
          name: text,
          uuid: name,
          dataItems: fc.array(name, { maxLength: 3 }),
          components: fc.array(componentTree(3), { maxLength: 3 }),
        },
        { requiredKeys: ['id', 'name', 'dataItems', 'components'] },
      ),
    },
    { requiredKeys: ['uuid', 'type', 'referencesAbove', 'referencesBelow', 'dataItems', 'methods'] },
  )
  // Plain objects, as a registry record reads back (fast-check's records have no Object prototype).
  .map((a) => JSON.parse(JSON.stringify(a)) as Asset)

test('property: a declared asset, with or without its MTConnect description, decodes to what was encoded', () => {
  fc.assert(
    fc.property(declared, (a) => {
      assert.deepEqual(decodeAssetDeclaration(a.uuid, encodeAssetDeclaration(a)), a)
    }),
    { numRuns: 1000 },
  )
})

test('a declaration written before the MTConnect description existed decodes as it did; a malformed one is left out', () => {
  const old = JSON.stringify({ ...asset, device: undefined })
  const back = decodeAssetDeclaration('CNC-1', old)
  assert.deepEqual(back, asset)
  assert.ok(!('device' in back))
  // No name: no description. A component without an id is skipped, the rest kept.
  assert.ok(!('device' in decodeAssetDeclaration('X', '{"device":{"id":"d"}}')))
  const partial = decodeAssetDeclaration(
    'X',
    '{"device":{"id":"d","name":"n","dataItems":["a",1],"components":[{"type":"Axes"},{"type":"Axes","id":"ax","dataItems":"no"}]}}',
  )
  assert.deepEqual(partial.device, {
    id: 'd',
    name: 'n',
    dataItems: ['a'],
    components: [{ type: 'Axes', id: 'ax', dataItems: [], components: [] }],
  })
})

/** A record as another writer may shape it: field names in any case, VALUE a number or text, extra attributes. */
function respell(o: Observation, upper: boolean[]): Record<string, unknown> {
  const names = ['ID', 'VALUE', 'TAG', 'TYPE', 'attributes']
  const spelled = names.map((n, i) => (upper[i] ? n.toUpperCase() : n.toLowerCase()))
  return Object.fromEntries([
    [spelled[0], o.id],
    [spelled[1], o.value],
    [spelled[2], o.tag],
    [spelled[3], o.type],
    [spelled[4], { ...o.attributes, extra: 'kept' }],
  ])
}

test('property: reference-shaped records (any case, numbers or text, extra attributes) decode to the same event', () => {
  fc.assert(
    fc.property(event, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), (e, upper) => {
      const back = decodeAssetEvent(JSON.stringify(respell(e.observation, upper)))
      assert.equal(back.kind, e.kind)
      assert.equal(back.observation.id, e.observation.id)
      assert.equal(back.observation.value, e.observation.value)
      assert.equal(back.observation.attributes.extra, 'kept')
      const { observation: _a, ...typed } = back
      const { observation: _b, ...expected } = e
      assert.deepEqual(typed, expected)
    }),
    { numRuns: 1000 },
  )
})

// --- method arguments ------------------------------------------------------------------------------------

const setSpeed: MethodContract = {
  name: 'SetSpeed',
  description: '',
  arguments: [
    { name: 'rpm', type: 'number', required: true },
    { name: 'note', type: 'string' },
  ],
}

test('method arguments: required, unknown, wrong type and non-finite numbers are refused, all at once', () => {
  checkMethodArguments(setSpeed, { rpm: 1200 })
  checkMethodArguments(setSpeed, { rpm: 1200, note: 'x' })
  assert.throws(
    () => checkMethodArguments(setSpeed, {}),
    (e) => isOpenFactoryError(e, 'OFA_COMMAND_REJECTED') && /rpm is required/.test(e.message),
  )
  assert.throws(
    () => checkMethodArguments(setSpeed, { rpm: Number.POSITIVE_INFINITY }),
    (e) => isOpenFactoryError(e) && /must be a number, got non-finite number/.test(e.message),
  )
  const problems = methodArgumentProblems(
    setSpeed,
    { rpm: '1', speed: 3 },
    { code: 'OFA_SERVE_ARGUMENTS_INVALID', path: 'body' },
  )
  assert.deepEqual(
    problems.map((p) => [p.code, p.where?.path, p.message]),
    [
      ['OFA_SERVE_ARGUMENTS_INVALID', 'body.rpm', 'argument rpm must be a number, got string'],
      ['OFA_SERVE_ARGUMENTS_INVALID', 'body.speed', 'SetSpeed has no argument speed (arguments: rpm, note)'],
    ],
  )
  assert.throws(
    () => checkMethodArguments(setSpeed, { rpm: '1', speed: 3 }),
    (e) => isOpenFactoryError(e) && e.problems.length === 2,
  )
})
