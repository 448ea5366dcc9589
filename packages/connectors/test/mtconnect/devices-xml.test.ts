import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { isOpenFactoryError, type OpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import {
  mtconnectDeviceToAsset,
  mtconnectKeyMap,
  mtconnectTypeToTag,
  parseDevicesXml,
  parseXml,
  readDevicesXml,
} from '../../src/mtconnect/index.ts'

const FIXTURE = new URL('../fixtures/mtconnect/mill-3axis.xml', import.meta.url).pathname

function xmlError(fn: () => unknown): OpenFactoryError {
  try {
    fn()
  } catch (err) {
    assert.ok(isOpenFactoryError(err, 'OFA_MTCONNECT_XML'), `expected OFA_MTCONNECT_XML, got ${String(err)}`)
    return err
  }
  assert.fail('expected an error')
}

describe('parseDevicesXml on the 3-axis mill fixture', () => {
  const [mill, ...others] = readDevicesXml(FIXTURE)
  assert.ok(mill)

  test('the device, its components with paths, and every data item', () => {
    assert.equal(others.length, 0)
    assert.deepEqual([mill.id, mill.name, mill.uuid], ['mill', 'mill-1', 'OFA-MILL-001'])
    assert.deepEqual(
      mill.components.map((c) => c.path),
      [
        'Axes[base]',
        'Axes[base]/Linear[X]',
        'Axes[base]/Linear[Y]',
        'Axes[base]/Linear[Z]',
        'Axes[base]/Rotary[C]',
        'Controller[controller]',
        'Controller[controller]/Path[path]',
        'Systems[systems]',
        'Systems[systems]/Coolant[coolant]',
        'Sensor[cabinet]',
      ],
    )
    assert.equal(mill.dataItems.length, 40)
    assert.equal(new Set(mill.dataItems.map((d) => d.id)).size, 40)
  })

  test('data item attributes, constraints, Source and ResetTrigger', () => {
    const by = (id: string) => mill.dataItems.find((d) => d.id === id)
    assert.deepEqual(by('x_pos'), {
      id: 'x_pos',
      name: 'Xact',
      mtCategory: 'SAMPLE',
      category: 'Samples',
      type: 'POSITION',
      tag: 'Position',
      subType: 'ACTUAL',
      units: 'MILLIMETER',
      nativeUnits: 'MILLIMETER',
      representation: 'VALUE',
      componentPath: 'Axes[base]/Linear[X]',
      line: 18,
    })
    assert.deepEqual(by('s_speed')?.constraints, { minimum: 0, maximum: 12000 })
    assert.deepEqual(by('s_mode')?.constraints, { values: ['SPINDLE', 'INDEX', 'CONTOUR'] })
    assert.equal(by('s_vib')?.tag, 'DisplacementTimeSeries')
    assert.equal(by('vars')?.tag, 'VariableDataSet')
    assert.equal(by('system')?.category, 'Condition')
    assert.equal(by('system')?.tag, 'System')
    assert.equal(by('cab_temp')?.source, 'CabTemp')
    assert.equal(by('part_count')?.resetTrigger, 'DAY')
  })

  test('as an OpenFactory asset under its uuid, without the device availability', () => {
    const asset = mtconnectDeviceToAsset(mill, { uuid: 'MILL-1' })
    assert.equal(asset.uuid, 'MILL-1')
    assert.equal(asset.type, 'Device')
    assert.equal(asset.dataItems.length, 39)
    assert.ok(!asset.dataItems.some((d) => d.id === 'avail'))
    assert.deepEqual(
      asset.dataItems.find((d) => d.id === 's_vib'),
      {
        id: 's_vib',
        category: 'Samples',
        tag: 'DisplacementTimeSeries',
        type: 'DISPLACEMENT',
        units: 'MILLIMETER',
        representation: 'TIME_SERIES',
        name: 'Svib',
      },
    )
    // The component tree rides along (Asset.device), items named by id where the file puts them.
    const device = asset.device
    assert.ok(device)
    assert.deepEqual([device.id, device.name, device.uuid], ['mill', 'mill-1', 'OFA-MILL-001'])
    assert.deepEqual(device.dataItems, ['avail', 'asset_chg', 'asset_rem'])
    const axes = device.components[0]
    assert.deepEqual([axes?.type, axes?.id, axes?.name], ['Axes', 'axes', 'base'])
    assert.deepEqual(
      axes?.components.map((c) => `${c.type}[${c.name}]`),
      ['Linear[X]', 'Linear[Y]', 'Linear[Z]', 'Rotary[C]'],
    )
    assert.deepEqual(axes?.components[0]?.dataItems, ['x_pos', 'x_cmd', 'x_load', 'x_travel'])
    const listed = (c: { dataItems: readonly string[]; components: readonly unknown[] }): string[] => [
      ...c.dataItems,
      ...(c.components as (typeof c)[]).flatMap(listed),
    ]
    assert.deepEqual(new Set(listed(device)), new Set(mill.dataItems.map((d) => d.id)), 'every item placed once')
    assert.equal(listed(device).length, mill.dataItems.length)
  })

  test('SHDR keys: name first, then id, then Source', () => {
    const keys = mtconnectKeyMap(mill)
    assert.equal(keys.get('Xact')?.id, 'x_pos')
    assert.equal(keys.get('x_pos')?.id, 'x_pos')
    assert.equal(keys.get('CabTemp')?.id, 'cab_temp')
    const collide = parseDevicesXml(
      `<Device id="d" name="d"><DataItems>
        <DataItem id="a" name="b" category="EVENT" type="PROGRAM"/>
        <DataItem id="b" name="c" category="EVENT" type="PROGRAM"/>
      </DataItems></Device>`,
      { file: 'x.xml' },
    )[0]
    assert.ok(collide)
    assert.equal(mtconnectKeyMap(collide).get('b')?.id, 'a', 'a name wins over an id')
  })
})

test('mtconnectTypeToTag', () => {
  assert.equal(mtconnectTypeToTag('POSITION'), 'Position')
  assert.equal(mtconnectTypeToTag('PART_COUNT'), 'PartCount')
  assert.equal(mtconnectTypeToTag('ROTARY_VELOCITY'), 'RotaryVelocity')
  assert.equal(mtconnectTypeToTag('x:SPINDLE_LOAD_PEAK'), 'x:SpindleLoadPeak')
})

describe('bad Devices.xml: OFA_MTCONNECT_XML naming file, line and column', () => {
  const cases: [string, string, number, number, RegExp][] = [
    [
      'unclosed element',
      '<Devices>\n  <Device id="d" name="d">\n</Devices>',
      3,
      1,
      /does not match <Device> opened at line 2, column 3/,
    ],
    ['element left open', '<Devices>\n  <Device id="d" name="d">', 2, 3, /<Device> is not closed/],
    ['unquoted attribute', '<Devices>\n  <Device id=d name="d"/>\n</Devices>', 2, 14, /must be quoted/],
    ['duplicate attribute', '<Device id="a" id="b" name="d"/>', 1, 16, /appears twice/],
    ['unknown entity', '<Device id="a" name="d">&nbsp;</Device>', 1, 25, /unknown entity '&nbsp;'/],
    ['text after the root', '<Device id="a" name="d"/>\nextra', 2, 1, /text after the root/],
    ['second root', '<Device id="a" name="d"/><Device id="b" name="e"/>', 1, 26, /second root/],
    ['stray end tag', '</Devices>', 1, 1, /no matching start tag/],
    ['< in an attribute', '<Device id="a<" name="d"/>', 1, 14, /'<' inside the value/],
    ['unclosed comment', '<!-- hello', 1, 1, /comment is not closed/],
    ['empty document', '   ', 1, 1, /no root element/],
    ['not XML at all', '{"devices": []}', 1, 1, /text before the root/],
  ]
  for (const [name, xml, line, column, message] of cases) {
    test(name, () => {
      const err = xmlError(() => parseDevicesXml(xml, { file: 'Devices.xml' }))
      assert.deepEqual(err.where, { file: 'Devices.xml', line, column })
      assert.match(err.message, message)
      assert.match(err.format(), new RegExp(`^Devices.xml:${line}:${column}: OFA_MTCONNECT_XML`))
    })
  }

  test('missing and invalid attributes: one error carrying every problem', () => {
    const xml = [
      '<MTConnectDevices><Devices>',
      '  <Device id="d" name="mill">',
      '    <DataItems>',
      '      <DataItem category="SAMPLE" type="POSITION"/>',
      '      <DataItem id="a" category="SAMPLE"/>',
      '      <DataItem id="b" category="BOGUS" type="X"/>',
      '      <DataItem id="c" type="X"/>',
      '      <DataItem id="e" category="EVENT" type="X" representation="WAVY"/>',
      '      <DataItem id="d" category="EVENT" type="X"/>',
      '    </DataItems>',
      '    <Components><Linear name="X"/></Components>',
      '  </Device>',
      '  <Device name="mill"/>',
      '</Devices></MTConnectDevices>',
    ].join('\n')
    const err = xmlError(() => parseDevicesXml(xml, { file: 'bad.xml' }))
    assert.deepEqual(
      err.problems.map((p) => [p.where?.line, p.where?.column, p.message]),
      [
        [4, 7, '<DataItem> has no id attribute'],
        [5, 7, '<DataItem id="a"> has no type attribute'],
        [6, 7, `<DataItem id="b"> has category 'BOGUS'; expected SAMPLE, EVENT or CONDITION`],
        [7, 7, '<DataItem id="c"> has no category attribute'],
        [8, 7, `<DataItem id="e"> has representation 'WAVY'; expected VALUE, TIME_SERIES, DATA_SET or TABLE`],
        [9, 7, `data item id 'd' is already used at line 2`],
        [11, 17, 'component <Linear> has no id attribute'],
        [13, 3, '<Device> has no id attribute'],
        [13, 3, `two devices are named 'mill'`],
      ],
    )
    assert.deepEqual(err.where, { file: 'bad.xml', line: 4, column: 7 })
    assert.match(err.message, /has 9 problems/)
  })

  test('a duplicate component id is a warning (placed) and the file is read; a data item id is never shared', () => {
    const xml = (itemId: string) =>
      [
        '<Devices><Device id="d" name="mill">',
        '  <Components>',
        '    <Axes id="c"><DataItems><DataItem id="x" category="SAMPLE" type="POSITION"/></DataItems></Axes>',
        `    <Controller id="c"><DataItems><DataItem id="${itemId}" category="EVENT" type="EXECUTION"/></DataItems></Controller>`,
        '    <Systems id="d"/>',
        '  </Components>',
        '</Device></Devices>',
      ].join('\n')
    const warnings: string[] = []
    const [mill] = parseDevicesXml(xml('exec'), { file: 'dup.xml', onWarning: (w) => warnings.push(w.format()) })
    assert.deepEqual(warnings, [
      "dup.xml:4:5: warning component id 'c' is already used at line 3; read anyway",
      "dup.xml:5:5: warning component id 'd' is already used at line 1; read anyway",
    ])
    assert.deepEqual(
      mill?.components.map((c) => c.path),
      ['Axes[c]', 'Controller[c]', 'Systems[d]'],
    )
    assert.deepEqual(
      mill?.dataItems.map((i) => i.id),
      ['x', 'exec'],
    )
    assert.doesNotThrow(() => parseDevicesXml(xml('exec'), { file: 'dup.xml' }), 'no listener: warnings dropped')
    const err = xmlError(() => parseDevicesXml(xml('x'), { file: 'dup.xml' }))
    assert.deepEqual(err.where, { file: 'dup.xml', line: 4, column: 35 })
    assert.match(err.message, /data item id 'x' is already used at line 3/)
    // a data item may not take a component's id either
    assert.match(
      xmlError(() => parseDevicesXml(xml('c'), { file: 'dup.xml' })).message,
      /data item id 'c' is already used/,
    )
  })

  test('a file with no device, or another root', () => {
    assert.match(
      xmlError(() => parseDevicesXml('<MTConnectDevices><Devices/></MTConnectDevices>', { file: 'f' })).message,
      /no <Device>/,
    )
    assert.match(xmlError(() => parseDevicesXml('<Streams/>', { file: 'f' })).message, /is not <MTConnectDevices>/)
  })

  test('a missing file is OFA_CONFIG_FILE', () => {
    assert.throws(
      () => readDevicesXml('/nonexistent/Devices.xml'),
      (err) => isOpenFactoryError(err, 'OFA_CONFIG_FILE'),
    )
  })
})

describe('the XML reader', () => {
  test('declaration, comments, CDATA, entities, namespaces', () => {
    // (A DOCTYPE is refused: see below. A comment keeps the root on line 4.)
    const root = parseXml(
      '\ufeff<?xml version="1.0"?>\n<!-- no DOCTYPE -->\n<!-- c -->\n<m:a x=\'1 &amp; 2\'>t&lt;&#65;&#x42;<![CDATA[<raw>]]><b/></m:a>',
    )
    assert.equal(root.name, 'm:a')
    assert.equal(root.attributes.x, '1 & 2')
    assert.equal(root.text, 't<AB<raw>')
    assert.equal(root.children[0]?.name, 'b')
    assert.deepEqual([root.line, root.column], [4, 1])
  })

  test('a DOCTYPE is refused: no entity declared or expanded, no external entity read (XXE)', () => {
    const cases: [string, string, number, number][] = [
      ['internal entity', '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "v">]>\n<a>&e;</a>', 2, 1],
      [
        'entity expansion bomb',
        '<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n <!ENTITY lol2 "&lol;&lol;&lol;&lol;">\n]>\n<Devices>&lol2;</Devices>',
        1,
        1,
      ],
      [
        'external entity',
        '<?xml version="1.0"?>\n  <!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        2,
        3,
      ],
      ['external DTD', '<!DOCTYPE MTConnectDevices SYSTEM "http://example.invalid/x.dtd">\n<MTConnectDevices/>', 1, 1],
      ['a bare DOCTYPE', '<!DOCTYPE MTConnectDevices>\n<MTConnectDevices/>', 1, 1],
      ['a DOCTYPE never closed', '<!DOCTYPE x [<!ENTITY e "v">', 1, 1],
    ]
    for (const [name, xml, line, column] of cases) {
      const err = xmlError(() => parseXml(xml, { file: 'Devices.xml' }))
      assert.deepEqual(err.where, { file: 'Devices.xml', line, column }, name)
      assert.match(err.message, /DOCTYPE is not accepted/, name)
      assert.match(err.format(), new RegExp(`^Devices.xml:${line}:${column}: OFA_MTCONNECT_XML`), name)
    }
    assert.match(
      xmlError(() => parseDevicesXml('<!DOCTYPE x [<!ENTITY e "v">]><Devices/>', { file: 'f.xml' })).message,
      /DOCTYPE/,
    )
  })

  test('never throws anything but OFA_MTCONNECT_XML', () => {
    const fixture = readFileSync(FIXTURE, 'utf8')
    fc.assert(
      fc.property(fc.nat(fixture.length), fc.nat(fixture.length), fc.string({ maxLength: 5 }), (a, b, junk) => {
        const text = fixture.slice(0, Math.min(a, b)) + junk + fixture.slice(Math.max(a, b))
        try {
          parseDevicesXml(text, { file: 'f.xml' })
        } catch (err) {
          assert.ok(isOpenFactoryError(err, 'OFA_MTCONNECT_XML'), String(err))
          assert.ok((err as OpenFactoryError).where?.line !== undefined)
        }
      }),
      { numRuns: 500 },
    )
  })
})
