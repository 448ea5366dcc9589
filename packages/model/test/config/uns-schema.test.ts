import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkUnsPlacement, parseUnsSchema, placeAsset, validateFactory } from '../../src/config/index.ts'
import { isOpenFactoryError, type OpenFactoryError } from '../../src/errors.ts'
import { brief, tmpFactory, UNS_SCHEMA } from './helpers.ts'

const schema = parseUnsSchema(UNS_SCHEMA, { file: 'uns.yml' })

function problemsOf(uns: Record<string, unknown> | undefined, uuid = 'DEV-1'): string[] {
  return checkUnsPlacement(schema, uuid, uns).problems.map((p) => `${p.level ?? '-'}: ${p.message}`)
}

function warningsOf(uns: Record<string, unknown> | undefined, uuid = 'DEV-1'): string[] {
  return checkUnsPlacement(schema, uuid, uns).warnings.map((p) => `${p.level ?? '-'}: ${p.message}`)
}

function parseErrors(text: string): string[] {
  try {
    parseUnsSchema(text, { file: 'uns.yml' })
  } catch (err) {
    assert.ok(isOpenFactoryError(err, 'OFA_CONFIG_INVALID'))
    return err.problems.map((p: OpenFactoryError) =>
      `${p.where?.line}:${p.where?.column} ${p.code} ${p.where?.path ?? ''}`.trim(),
    )
  }
  assert.fail('expected the schema to be refused')
}

describe('parseUnsSchema', () => {
  test('levels, template and separator', () => {
    assert.equal(schema.separator, '/')
    assert.deepEqual(schema.template, ['inc', 'area', 'workcenter', 'station', 'asset', 'attribute'])
    assert.deepEqual(schema.levels.slice(0, 3), [
      { name: 'inc', constraint: { kind: 'constant', value: 'Demofactory' } },
      { name: 'area', constraint: { kind: 'enum', values: ['Machining', 'Assembly', 'Quality'] } },
      { name: 'workcenter', constraint: { kind: 'any' } },
    ])
    assert.equal(schema.file, 'uns.yml')
  })

  test('the separator comes from the template; the template may leave levels out', () => {
    const s = parseUnsSchema(
      'namespace_structure:\n  - inc: ACME\n  - site: ANY\n  - line: ANY\n  - asset: ANY\n  - attribute: ANY\nuns_template: inc.line.asset.attribute\n',
    )
    assert.equal(s.separator, '.')
    assert.equal(s.place('M-1', { line: 'L2' }).unsId, 'ACME.L2.M-1')
  })

  test('the template must end with attribute and name known levels in order', () => {
    const head = 'namespace_structure:\n  - inc: A\n  - area: ANY\n  - asset: ANY\n  - attribute: ANY\n'
    assert.deepEqual(parseErrors(`${head}uns_template: inc/area/asset\n`), ['6:15 OFA_UNS_SCHEMA uns_template'])
    assert.deepEqual(parseErrors(`${head}uns_template: inc/zone/asset/attribute\n`), [
      '6:15 OFA_UNS_SCHEMA uns_template',
    ])
    assert.deepEqual(parseErrors(`${head}uns_template: area/inc/asset/attribute\n`), [
      '6:15 OFA_UNS_SCHEMA uns_template',
    ])
    assert.deepEqual(parseErrors(`${head}uns_template: incareaassetattribute\n`), ['6:15 OFA_UNS_SCHEMA uns_template'])
  })

  test('a template without asset is taken: asset is placed right before attribute', () => {
    const head = 'namespace_structure:\n  - inc: A\n  - area: ANY\n  - asset: [M1, M2]\n  - attribute: ANY\n'
    const s = parseUnsSchema(`${head}uns_template: inc/area/attribute\n`)
    assert.deepEqual(s.template, ['inc', 'area', 'asset', 'attribute'])
    assert.equal(s.place('M1', { area: 'North' }).unsId, 'A/North/M1')
    assert.equal(s.place('X', { area: 'North', asset: 'M2' }).unsId, 'A/North/M2')
    // The asset level keeps the constraint namespace_structure gives it; without one, any value.
    assert.throws(() => s.place('X', { area: 'North' }), /is not allowed \(allowed: M1, M2\)/)
    const noAssetLevel = parseUnsSchema(
      'namespace_structure:\n  - inc: A\n  - attribute: ANY\nuns_template: inc/attribute\n',
    )
    assert.equal(noAssetLevel.place('DEV-9').unsId, 'A/DEV-9')
  })

  test('each level is a one-key map with a constant, a list or ANY', () => {
    assert.deepEqual(
      parseErrors(
        'namespace_structure:\n  - inc: A\n    area: B\n  - asset: ANY\n  - attribute: ANY\nuns_template: inc/asset/attribute\n',
      ),
      ['2:5 OFA_UNS_SCHEMA namespace_structure[0]'],
    )
    assert.deepEqual(
      parseErrors(
        'namespace_structure:\n  - inc: A\n  - asset: ANY\n  - attribute: 3\nuns_template: inc/asset/attribute\n',
      ),
      ['4:16 OFA_CONFIG_TYPE namespace_structure[2].attribute'],
    )
    assert.deepEqual(
      parseErrors(
        'namespace_structure:\n  - inc: A\n  - asset: [ ]\n  - inc: C\n  - attribute: ANY\nuns_template: inc/asset/attribute\n',
      ),
      ['3:12 OFA_UNS_SCHEMA namespace_structure[1].asset', '4:10 OFA_UNS_SCHEMA namespace_structure[2].inc'],
    )
    assert.deepEqual(parseErrors('namespace_structure: []\nuns_template: a/attribute\nextra: 1\n'), [
      '1:22 OFA_CONFIG_VALUE namespace_structure',
      '3:1 OFA_CONFIG_UNKNOWN_FIELD extra',
    ])
  })

  test('values may not contain the separator', () => {
    assert.deepEqual(
      parseErrors(
        'namespace_structure:\n  - inc: A/B\n  - asset: ANY\n  - attribute: ANY\nuns_template: inc/asset/attribute\n',
      ),
      ['2:10 OFA_UNS_SCHEMA namespace_structure[0].inc'],
    )
  })
})

describe('placing an asset', () => {
  test('constant levels may be omitted; the same value is fine; another value is an error', () => {
    assert.deepEqual(problemsOf({ area: 'Machining' }), [])
    assert.deepEqual(problemsOf({ inc: 'Demofactory', area: 'Machining' }), [])
    assert.deepEqual(problemsOf({ inc: 'Other', area: 'Machining' }), [
      'inc: is the constant "Demofactory" in the UNS schema, got "Other"',
    ])
    assert.equal(schema.place('DEV-1', { area: 'Machining' }).levels.inc, 'Demofactory')
  })

  test('listed levels take allowed values only', () => {
    assert.deepEqual(problemsOf({ area: 'Assembly' }), [])
    assert.deepEqual(problemsOf({ area: 'Painting' }), [
      'area: "Painting" is not allowed (allowed: Machining, Assembly, Quality)',
    ])
  })

  test('ANY levels take any value', () => {
    assert.deepEqual(problemsOf({ area: 'Assembly', workcenter: 'anything-at-all_1' }), [])
    assert.equal(schema.place('X', { area: 'Assembly', workcenter: 12 }).levels.workcenter, '12')
  })

  test('asset defaults to the uuid and comes last; it may be given', () => {
    const p = schema.place('DHT-001', { area: 'Machining', workcenter: 'WC001' })
    assert.deepEqual(p, {
      levels: { inc: 'Demofactory', area: 'Machining', workcenter: 'WC001', asset: 'DHT-001' },
      unsId: 'Demofactory/Machining/WC001/DHT-001',
    })
    assert.deepEqual(Object.keys(p.levels), ['inc', 'area', 'workcenter', 'asset'])
    assert.equal(
      schema.place('DHT-001', { area: 'Machining', workcenter: 'WC001', asset: 'dht-sensor' }).unsId,
      'Demofactory/Machining/WC001/dht-sensor',
    )
    assert.equal(schema.place('DHT-001').unsId, 'Demofactory/DHT-001')
  })

  test('levels before asset are a contiguous prefix: area then asset is fine, area and station are not', () => {
    assert.deepEqual(problemsOf({ area: 'Machining', asset: 'a' }), [])
    assert.deepEqual(problemsOf({ area: 'Machining', workcenter: 'W', station: 'S' }), [])
    assert.deepEqual(problemsOf({ area: 'Machining', station: 'S' }), [
      '-: levels must be given in order without gaps (area/workcenter/station, then asset): workcenter missing before station',
    ])
    assert.deepEqual(problemsOf({ workcenter: 'W' }), [
      '-: levels must be given in order without gaps (area/workcenter/station, then asset): area missing before workcenter',
    ])
  })

  test('levels after asset in the template cannot be set', () => {
    const s = parseUnsSchema(
      'namespace_structure:\n  - inc: A\n  - asset: ANY\n  - cell: ANY\n  - attribute: ANY\nuns_template: inc/asset/cell/attribute\n',
    )
    assert.deepEqual(
      checkUnsPlacement(s, 'X', { cell: 'c' }).problems.map((p) => p.level),
      ['cell'],
    )
    assert.equal(s.place('X').unsId, 'A/X')
  })

  test('unknown levels and the attribute level are ignored with a warning, as the reference accepts them', () => {
    assert.deepEqual(problemsOf({ zone: 'z' }), [])
    assert.deepEqual(warningsOf({ zone: 'z' }), [
      'zone: not a level of the UNS template (inc, area, workcenter, station, asset): ignored',
    ])
    assert.deepEqual(problemsOf({ attribute: 'Temp' }), [])
    assert.deepEqual(warningsOf({ attribute: 'Temp' }), [
      'attribute: the attribute level names data items, not assets: ignored',
    ])
    assert.deepEqual(schema.place('DEV-1', { area: 'Machining', zone: 'z', attribute: 'Temp' }), {
      levels: { inc: 'Demofactory', area: 'Machining', asset: 'DEV-1' },
      unsId: 'Demofactory/Machining/DEV-1',
    })
  })

  test('values with the separator and values that are not text are refused', () => {
    assert.deepEqual(problemsOf({ area: 'Machining', workcenter: 'W/1' }), [
      'workcenter: "W/1" is empty or contains the separator /',
    ])
    assert.deepEqual(problemsOf({ area: 'Machining', workcenter: { a: 1 } }), [
      'workcenter: expected a level value (text)',
    ])
  })

  test('placeAsset throws OFA_UNS_INVALID carrying every problem', () => {
    assert.throws(
      () => placeAsset(schema, 'X', { inc: 'B', area: 'Painting' }),
      (err: unknown) => isOpenFactoryError(err, 'OFA_UNS_INVALID') && err.problems.length === 2,
    )
  })
})

describe('UNS in a factory', () => {
  test('devices and apps get a placement; warnings and problems point at the level', async (t) => {
    const dir = await tmpFactory(t, {
      'uns_schema.yml': UNS_SCHEMA,
      'devices.yml': `devices:
  ok:
    uuid: OK-1
    uns: {area: Assembly, workcenter: WC9}
    connector: {type: simulator}
  bad:
    uuid: BAD-1
    uns:
      area: Assembly
      zone: Z1
    connector: {type: simulator}
`,
      'apps.yml': 'apps:\n  app:\n    uuid: APP-1\n    image: img\n    uns:\n      area: Quality\n',
    })
    const { factory, problems, warnings } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(
      warnings.map((w) => w.format()),
      [
        'devices.yml:10:7: warning devices.bad.uns.zone: not a level of the UNS template (inc, area, workcenter, station, asset): ignored',
      ],
    )
    assert.deepEqual(
      [...factory.devices, ...factory.apps].map((a) => a.uns?.unsId),
      ['Demofactory/Assembly/WC9/OK-1', 'Demofactory/Assembly/BAD-1', 'Demofactory/Quality/APP-1'],
    )
    const broken = await tmpFactory(t, {
      'uns_schema.yml': UNS_SCHEMA,
      'devices.yml':
        'devices:\n  bad:\n    uuid: BAD-1\n    uns:\n      area: Painting\n    connector: {type: simulator}\n',
    })
    const r = await validateFactory([broken], { cwd: broken, env: {} })
    assert.deepEqual(brief(r.problems), ['devices.yml:5:13 OFA_UNS_INVALID devices.bad.uns.area'])
  })

  test('a template without asset and an attribute level given to a device are warnings', async (t) => {
    const dir = await tmpFactory(t, {
      'uns.yml':
        'namespace_structure:\n  - inc: A\n  - area: ANY\n  - attribute: ANY\nuns_template: inc/area/attribute\n',
      'devices.yml':
        'devices:\n  d:\n    uuid: D-1\n    uns: {area: North, attribute: Temp}\n    connector: {type: simulator}\n',
    })
    const { factory, problems, warnings } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), [])
    assert.deepEqual(
      warnings.map((w) => w.format()),
      [
        'devices.yml:4:24: warning devices.d.uns.attribute: the attribute level names data items, not assets: ignored',
        'uns.yml:5:15: warning uns_template: no asset level: assets are placed at inc/area/asset (asset is the uuid unless given)',
      ],
    )
    assert.equal(factory.devices[0]?.uns?.unsId, 'A/North/D-1')
  })

  test('without a schema, assets have no placement; uns levels are an error', async (t) => {
    const dir = await tmpFactory(t, {
      'devices.yml':
        'devices:\n  a:\n    uuid: A-1\n    connector: {type: simulator}\n  b:\n    uuid: B-1\n    uns: {area: X}\n    connector: {type: simulator}\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['devices.yml:7:5 OFA_UNS_MISSING_SCHEMA devices.b.uns'])
    assert.equal(factory.uns, undefined)
    assert.deepEqual(
      factory.devices.map((d) => [d.uuid, d.uns]),
      [['A-1', undefined]],
    )
  })

  test('a UNS schema among the files is not applied unless named, but the problem says where it is', async (t) => {
    const dir = await tmpFactory(t, {
      'schemas/plant.yml': UNS_SCHEMA,
      'devices.yml': 'devices:\n  b:\n    uuid: B-1\n    uns: {area: Assembly}\n    connector: {type: simulator}\n',
    })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['devices.yml:4:5 OFA_UNS_MISSING_SCHEMA devices.b.uns'])
    assert.match(problems[0]!.message, /schemas\/plant\.yml is one: name it with uns in factory\.yaml or --uns/)
    const named = await validateFactory([dir], { cwd: dir, env: {}, uns: 'schemas/plant.yml' })
    assert.deepEqual(brief(named.problems), [])
  })

  test('a uuid that cannot be the default asset is reported at the uuid', async (t) => {
    const dir = await tmpFactory(t, {
      'uns.yml':
        'namespace_structure:\n  - inc: A\n  - asset: [M1, M2]\n  - attribute: ANY\nuns_template: inc/asset/attribute\n',
      'devices.yml':
        'devices:\n  a:\n    uuid: M3\n    connector: {type: simulator}\n  b:\n    uuid: X\n    uns: {asset: M2}\n    connector: {type: simulator}\n',
    })
    const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['devices.yml:3:11 OFA_UNS_INVALID devices.a.uuid'])
    assert.equal(factory.devices[0]?.uns?.unsId, 'A/M2')
  })
})
