import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { validateFactory } from '../../src/config/index.ts'
import { brief, tmpFactory } from './helpers.ts'

const app = (name: string, fields: string) => `  ${name}:\n    uuid: ${name.toUpperCase()}\n    image: img\n${fields}`

test('routing.hostname: DNS labels of 1 to 63 letters, digits and -, not at either end; 253 in all', async (t) => {
  const good = [
    'dashboard',
    'a',
    'app-1',
    'Dash1.factory.example',
    `${'a'.repeat(63)}.b`,
    `${'abcdefg.'.repeat(31)}abcd`,
  ]
  const bad = [
    'bad_name',
    '-dash',
    'dash-',
    'a..b',
    '.a',
    'a.',
    'dash board',
    `${'a'.repeat(64)}`,
    `${'abcdefg.'.repeat(31)}abcdef`,
    'é',
  ]
  const lines = [...good, ...bad].map((h, i) => app(`a${i}`, `    routing: {expose: true, hostname: "${h}"}\n`))
  const dir = await tmpFactory(t, { 'apps.yml': `apps:\n${lines.join('')}` })
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(
    problems.map((p) => p.where?.path),
    bad.map((_, i) => `apps.a${good.length + i}.routing.hostname`),
  )
  for (const p of problems) assert.equal(p.code, 'OFA_CONFIG_VALUE')
  assert.match(problems[0]!.message, /expected a host name \(labels of 1 to 63 letters, digits and -.*got "bad_name"/)
  assert.deepEqual(
    factory.apps.map((a) => a.spec.routing?.hostname),
    good,
  )
})

test('storage local_path: a folder that exists, relative to the file that names it; the loaded path is absolute', async (t) => {
  const dir = await tmpFactory(t, { 'apps/data/scratch/.keep': '', 'apps/data/file.txt': 'not a folder' })
  await writeFile(
    join(dir, 'apps/apps.yml'),
    `apps:
  relative:
    uuid: REL
    image: img
    storage:
      scratch: {type: local, local_path: data/scratch, mount_point: /scratch}
  absolute:
    uuid: ABS
    image: img
    storage: {type: local, local_path: ${join(dir, 'apps/data')}, mount_point: /x}
  missing:
    uuid: MISSING
    image: img
    storage:
      s: {type: local, local_path: nope, mount_point: /s}
  file:
    uuid: FILE
    image: img
    storage:
      s: {type: local, local_path: data/file.txt, mount_point: /s}
`,
  )
  const { factory, problems } = await validateFactory([dir], { cwd: dir, env: {} })
  assert.deepEqual(brief(problems), [
    'apps/apps.yml:15:36 OFA_CONFIG_FILE apps.missing.storage.s.local_path',
    'apps/apps.yml:20:36 OFA_CONFIG_FILE apps.file.storage.s.local_path',
  ])
  assert.equal(problems[0]!.message, 'apps.missing.storage.s.local_path: folder not found: nope')
  assert.equal(problems[1]!.message, 'apps.file.storage.s.local_path: not a folder: data/file.txt')
  assert.deepEqual(
    factory.apps.map((a) => a.spec.storage),
    [
      { scratch: { type: 'local', local_path: join(dir, 'apps/data/scratch'), mount_point: '/scratch' } },
      { type: 'local', local_path: join(dir, 'apps/data'), mount_point: '/x' },
    ],
  )
})
