/**
 * Whatever the files hold, validateFactory answers with coded problems: it never throws and never crashes.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in plain strings is the configuration syntax under test.
import assert from 'node:assert/strict'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { validateFactory } from '../../src/config/index.ts'
import { ERROR_CODES, OpenFactoryError } from '../../src/errors.ts'
import { tmpFactory } from './helpers.ts'

const KEYS = [
  'devices',
  'apps',
  'nodes',
  'networks',
  'volumes',
  'namespace_structure',
  'uns_template',
  'uuid',
  'uns',
  'connector',
  'type',
  'agent',
  'ip',
  'port',
  'device_xml',
  'adapter',
  'image',
  'environment',
  'deploy',
  'replicas',
  'resources',
  'limits',
  'reservations',
  'cpus',
  'memory',
  'open_files',
  'placement',
  'constraints',
  'server',
  'uri',
  'subscription',
  'constants',
  'variables',
  'events',
  'methods',
  'node_id',
  'browse_path',
  'tag',
  'access_level',
  'host',
  'data',
  'managers',
  'workers',
  'labels',
  'ipam',
  'config',
  'subnet',
  'gateway',
  'driver_opts',
  'storage',
  'routing',
  'metrics',
  'networks',
  'supervisor',
  'ksql_tables',
  'inc',
  'area',
  'asset',
  'attribute',
  'registers',
  'broker',
  'url',
  'topics',
  '__proto__',
  'constructor',
  'toString',
  '',
  '<<',
]
const VALUES = [
  'mtconnect',
  'opcua',
  'shdr',
  'modbus',
  'mqtt',
  'simulator',
  'nfs',
  'local',
  'ANY',
  'Samples',
  'Events',
  'inc/area/asset/attribute',
  'a//attribute',
  'ns=2;i=1',
  '0:Root/0:Objects',
  '10.0.0.1',
  '10.0.0.0/8',
  '::1',
  '512Mi',
  'node.labels.a == b',
  'x.yml',
  '${HOME}',
  '${X:-7}',
  'opc.tcp://h:1',
  'A-1',
  'kafka',
  'embedded',
]

const scalar = fc.oneof(
  fc.constantFrom(...VALUES),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
)
const { node } = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 3 }),
  map: fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 4 }),
}))
const topLevel = fc.dictionary(fc.constantFrom(...KEYS.slice(0, 7), 'other'), node, { maxKeys: 3 })
const manifest = fc.dictionary(fc.constantFrom('name', 'uns', 'backbone', 'topics', 'include', 'other'), node, {
  maxKeys: 3,
})
const yamlText = fc.string({
  unit: fc.constantFrom(...'ab:-[]{}#&*!|>\'"%@`,?\n\t $.0<'.split(''), ' ', '\n  ', 'devices:', '${A}', 'uuid: x'),
  maxLength: 60,
})

function assertCoded(problems: readonly unknown[]): void {
  for (const p of problems) {
    assert.ok(p instanceof OpenFactoryError, String(p))
    assert.ok((ERROR_CODES as readonly string[]).includes(p.code))
    assert.equal(typeof p.format(), 'string')
  }
}

test('random YAML text never throws: every problem is a coded OpenFactoryError', async (t) => {
  const dir = await tmpFactory(t, {})
  await fc.assert(
    fc.asyncProperty(yamlText, yamlText, async (a, b) => {
      await writeFile(join(dir, 'a.yml'), a)
      await writeFile(join(dir, 'factory.yaml'), b)
      const { problems } = await validateFactory([dir], { cwd: dir, env: { A: '1' } })
      assertCoded(problems)
    }),
    { numRuns: 150 },
  )
})

test('random nested values in every kind of file never throw', async (t) => {
  const dir = await tmpFactory(t, {})
  await fc.assert(
    fc.asyncProperty(topLevel, topLevel, manifest, fc.boolean(), async (a, b, m, withManifest) => {
      await writeFile(join(dir, 'a.yml'), stringify(a))
      await writeFile(join(dir, 'uns_schema.yml'), stringify(b))
      if (withManifest) await writeFile(join(dir, 'factory.yaml'), stringify(m))
      else await rm(join(dir, 'factory.yaml'), { force: true })
      const { problems, factory } = await validateFactory([dir], { cwd: dir, env: {} })
      assertCoded(problems)
      assert.ok(Array.isArray(factory.devices))
    }),
    { numRuns: 300 },
  )
})
