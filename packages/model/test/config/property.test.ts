/**
 * Whatever the files hold, validateFactory answers with coded problems: it never throws and never crashes.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} in plain strings is the configuration syntax under test.
import assert from 'node:assert/strict'
import { readdir, rm, writeFile } from 'node:fs/promises'
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

/** Characters that must never reach a terminal raw (printable.ts escapes them in every message). */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u

function assertCoded(problems: readonly unknown[]): void {
  for (const p of problems) {
    assert.ok(p instanceof OpenFactoryError, String(p))
    assert.ok((ERROR_CODES as readonly string[]).includes(p.code))
    assert.equal(typeof p.format(), 'string')
    assert.doesNotMatch(p.format(), UNSAFE, JSON.stringify(p.format()))
    assert.doesNotMatch(p.message, /maximum call stack|stack size/i)
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

/** Removes every file of a folder but the ones named. */
async function only(dir: string, keep: readonly string[]): Promise<void> {
  for (const f of await readdir(dir)) if (!keep.includes(f)) await rm(join(dir, f), { recursive: true, force: true })
}

test('random bytes in a file: coded problems, the first bad byte placed, nothing raw in any message', async (t) => {
  const dir = await tmpFactory(t, {})
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // Mostly YAML, with a few bytes of anything.
    fc
      .tuple(fc.constantFrom('devices:\n  a:\n    uuid: ', 'apps: {', 'a: &x [', ''), fc.uint8Array({ maxLength: 12 }))
      .map(([head, tail]) => new Uint8Array([...Buffer.from(head), ...tail])),
  )
  await fc.assert(
    fc.asyncProperty(bytes, async (b) => {
      await only(dir, [])
      await writeFile(join(dir, 'a.yml'), b)
      const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
      assertCoded(problems)
    }),
    { numRuns: 300 },
  )
})

test('random text with control, bidi and unassigned characters in keys and values: printed escaped', async (t) => {
  const dir = await tmpFactory(t, {})
  const weird = fc.string({
    unit: fc.constantFrom('a', '\u001b', '\u0007', '\u202e', '\u2028', '\ufeff', '\u0085', 'é', '\ue000', '\u{10ffff}'),
  })
  const file = fc.record({
    devices: fc.dictionary(weird, fc.record({ uuid: weird, connector: fc.record({ type: weird, port: weird }) }), {
      maxKeys: 3,
    }),
  })
  await fc.assert(
    fc.asyncProperty(file, async (v) => {
      await only(dir, [])
      await writeFile(join(dir, 'a.yml'), stringify(v))
      const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
      assertCoded(problems)
    }),
    { numRuns: 200 },
  )
})

/** A YAML text nested `depth` deep, each level a flow list, a flow map, a block list or a block map. */
const nested = fc
  .array(fc.constantFrom('[', '{', '-', ':'), { minLength: 1, maxLength: 1500, size: 'max' })
  .map((kinds) => {
    let head = ''
    let tail = ''
    let indent = 0
    let flow = false
    for (const k of kinds) {
      if (k === '[' || k === '{' || flow) {
        flow = true
        head += k === '{' || k === ':' ? '{a: ' : '['
        tail = (k === '{' || k === ':' ? '}' : ']') + tail
      } else if (k === '-') {
        head += `\n${' '.repeat(indent)}- `
        indent += 2
      } else {
        head += `\n${' '.repeat(indent)}a:`
        indent += 2
      }
    }
    return `${head} 1${tail}\n`
  })

test('deep nesting of every kind, directly or through aliases: a coded problem, never a stack overflow', async (t) => {
  const dir = await tmpFactory(t, {})
  const text = fc.oneof(
    nested,
    nested.map((n) => `a: &a ${n.trimStart()}b: [*a, {c: *a}]\n`),
    fc.integer({ min: 1, max: 40 }).map((levels) => {
      // Each level's anchor is aliased by the next: nesting grows through aliases alone.
      let t = 'l0: &l0 [x]\n'
      for (let i = 1; i <= levels; i++) t += `l${i}: &l${i} [[*l${i - 1}], *l${i - 1}]\n`
      return t
    }),
  )
  await fc.assert(
    fc.asyncProperty(text, async (y) => {
      await only(dir, [])
      await writeFile(join(dir, 'a.yml'), y)
      const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
      assertCoded(problems)
      assert.ok(problems.length > 0, 'not a known kind of file, at least')
    }),
    { numRuns: 200 },
  )
})

/** YAML with anchors, aliases and merge keys in random places, some names unknown, some self-referring. */
const aliased = fc
  .array(
    fc.oneof(
      fc.constantFrom('&a', '&b', '*a', '*b', '*c', '<<: *a', '<<: [*a, *b]', '<<: {x: 1}', '<<: 3'),
      fc.constantFrom('devices:', 'd1:', 'uuid: D-1', 'connector:', 'type: simulator', '[', ']', '{', '}', ', ', 'k:'),
    ),
    { maxLength: 30 },
  )
  .chain((parts) =>
    fc
      .array(fc.constantFrom(' ', '\n', '\n  ', '\n    '), { minLength: parts.length, maxLength: parts.length })
      .map((seps) => parts.map((p, i) => `${p}${seps[i]}`).join('')),
  )

test('random anchors, aliases and merges never throw', async (t) => {
  const dir = await tmpFactory(t, {})
  await fc.assert(
    fc.asyncProperty(aliased, async (y) => {
      await only(dir, [])
      await writeFile(join(dir, 'a.yml'), y)
      const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
      assertCoded(problems)
    }),
    { numRuns: 400 },
  )
})
