import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ofa } from './helpers.ts'

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
