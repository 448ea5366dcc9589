import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ofa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

test('ofa validate examples: exit 0 with a summary', async () => {
  const r = await ofa(['validate', 'examples'], { cwd: ROOT })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^valid: \d+ files, 3 devices, 2 apps\n$/)
})

test('ofa validate on the demo factory finds its UNS schema through factory.yaml', async () => {
  const r = await ofa(['validate', 'examples/demo-factory'], { cwd: ROOT })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /3 devices/)
})

test('a broken file: exit 1, each problem as file:line:column: CODE message', async () => {
  const r = await ofa(['validate', 'examples/broken/several-problems.yml', '--uns', 'examples/uns/uns_schema.yml'], {
    cwd: ROOT,
  })
  assert.equal(r.code, 1)
  const lines = r.stderr.trim().split('\n')
  assert.match(lines.at(-1) as string, /^\d+ problems in \d+ files?$/)
  for (const line of lines.slice(0, -1)) {
    assert.match(line, /^examples\/broken\/several-problems\.yml:\d+:\d+: OFA_[A-Z_]+ \S+/, line)
  }
})

test('the UNS schema may come from OPENFACTORY_UNS_SCHEMA', async () => {
  const file = 'examples/devices/opcua-sensor.yml'
  const without = await ofa(['validate', file], { cwd: ROOT })
  assert.equal(without.code, 1)
  assert.match(without.stderr, /OFA_UNS_MISSING_SCHEMA/)
  const withEnv = await ofa(['validate', file], {
    cwd: ROOT,
    env: { OPENFACTORY_UNS_SCHEMA: `${ROOT}examples/uns/uns_schema.yml` },
  })
  assert.equal(withEnv.code, 0, withEnv.stderr)
})

test('a path that does not exist is a coded problem, not a crash', async () => {
  const r = await ofa(['validate', 'no/such/folder'], { cwd: ROOT })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /OFA_CONFIG_FILE/)
})

test('a folder holding .ofa-skip is skipped, and said so; warnings are printed and keep exit 0', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'samples'))
  await writeFile(join(dir, 'samples/.ofa-skip'), 'broken on purpose\n')
  await writeFile(join(dir, 'samples/bad.yml'), 'not: [valid')
  await writeFile(
    join(dir, 'uns.yml'),
    'namespace_structure:\n  - inc: Plant\n  - area: ANY\n  - asset: ANY\n  - attribute: ANY\nuns_template: inc/area/asset/attribute\n',
  )
  await writeFile(
    join(dir, 'devices.yml'),
    'devices:\n  d:\n    uuid: D-1\n    uns: {area: North, zone: Z1}\n    connector: {type: simulator}\n',
  )
  const r = await ofa(['validate', '.'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'valid: 2 files, 1 device, 0 apps, 1 warning\n')
  assert.deepEqual(r.stderr.trim().split('\n'), [
    'skipped samples: it holds a .ofa-skip file',
    'devices.yml:4:24: warning devices.d.uns.zone: not a level of the UNS template (inc, area, asset): ignored',
  ])
  // Named, the skipped folder is read.
  const named = await ofa(['validate', 'samples'], { cwd: dir })
  assert.equal(named.code, 1)
  assert.match(named.stderr, /^samples\/bad\.yml:1:12: OFA_CONFIG_YAML /)
})

test('variables come from .ofaenv in the working folder too; the environment wins', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, '.ofaenv'), 'LATHE_HOST=10.0.0.7\nLATHE_PORT=7000\n')
  await writeFile(
    join(dir, 'lathe.yml'),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} in a plain string is the syntax under test.
    'devices:\n  lathe:\n    uuid: LATHE-1\n    connector: {type: shdr, host: $LATHE_HOST, port: ${LATHE_PORT}}\n',
  )
  const r = await ofa(['validate', 'lathe.yml'], { cwd: dir, env: { LATHE_PORT: 'x' } })
  assert.equal(r.code, 1)
  assert.match(
    r.stderr,
    /^lathe\.yml:4:54: OFA_CONFIG_TYPE devices\.lathe\.connector\.port: expected a port number, got "x"/,
  )
  const ok = await ofa(['validate', 'lathe.yml'], { cwd: dir })
  assert.equal(ok.code, 0, ok.stderr)
})

test('connector blocks are also checked by their connector spec, as ofa up checks them', async (t) => {
  const dir = await tempDir(t)
  await writeFile(
    join(dir, 'Devices.xml'),
    '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<MTConnectDevices/>\n',
  )
  await writeFile(
    join(dir, 'devices.yml'),
    [
      'devices:',
      '  cnc:',
      '    uuid: CNC-1',
      '    connector: {type: mtconnect, agent: {port: 5000, device_xml: Devices.xml, adapter: {ip: 127.0.0.1, port: 7878}}}',
      '  sensor:',
      '    uuid: SENSOR-1',
      "    connector: {type: shdr, host: 127.0.0.1, port: 7878, data: {'a|b': {tag: Temperature, type: Samples}}}",
      '',
    ].join('\n'),
  )
  const r = await ofa(['validate', '.'], { cwd: dir })
  assert.equal(r.code, 1)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.at(-1), '2 problems in 1 file')
  assert.ok(
    lines.some((l) => /Devices\.xml:2:1: OFA_MTCONNECT_XML XML: a DOCTYPE is not accepted/.test(l)),
    r.stderr,
  )
  assert.ok(
    lines.some((l) =>
      /^devices\.yml:5:3: OFA_CONNECTOR_CONFIG devices\.sensor\.connector\.data\.a\|b: an SHDR key .*'\|'/.test(l),
    ),
    r.stderr,
  )
})

test('a Devices.xml with a duplicate component id is a warning; a duplicate data item id stays a problem', async (t) => {
  const devicesXml = (itemId: string) =>
    [
      '<MTConnectDevices><Devices>',
      '  <Device id="dev" name="mill" uuid="MILL-1">',
      '    <Components>',
      '      <Axes id="ax"><DataItems><DataItem id="x1" category="SAMPLE" type="POSITION"/></DataItems></Axes>',
      `      <Controller id="ax"><DataItems><DataItem id="${itemId}" category="EVENT" type="EXECUTION"/></DataItems></Controller>`,
      '    </Components>',
      '  </Device>',
      '</Devices></MTConnectDevices>',
      '',
    ].join('\n')
  const factory = async (itemId: string) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'Devices.xml'), devicesXml(itemId))
    await writeFile(
      join(dir, 'devices.yml'),
      [
        'devices:',
        '  mill:',
        '    uuid: MILL-1',
        '    connector: {type: mtconnect, agent: {port: 5000, device_xml: Devices.xml, adapter: {ip: 127.0.0.1, port: 7878}}}',
        '',
      ].join('\n'),
    )
    return dir
  }
  const warned = await ofa(['validate', '.'], { cwd: await factory('exec') })
  assert.equal(warned.code, 0, warned.stderr)
  assert.match(warned.stdout, /^valid: 1 file, 1 device, 0 apps, 1 warning$/m)
  assert.match(warned.stderr, /\/Devices\.xml:5:7: warning component id 'ax' is already used at line 4; read anyway$/m)

  const refused = await ofa(['validate', '.'], { cwd: await factory('x1') })
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /Devices\.xml:5:\d+: OFA_MTCONNECT_XML data item id 'x1' is already used at line 4/)
  assert.match(refused.stderr, /^1 problem in 1 file$/m, 'a refused Devices.xml reports its problems only')
})
