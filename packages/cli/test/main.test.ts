import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ofa } from './helpers.ts'

const bin = fileURLToPath(new URL('../bin/ofa.js', import.meta.url))

test('ofa version prints the package and Node versions', async () => {
  const r = await ofa(['version'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^ofa \d+\.\d+\.\d+ \(node 24\.\d+\.\d+\)\n$/)
})

test('ofa help lists every command', async () => {
  const r = await ofa(['help'])
  assert.equal(r.code, 0)
  for (const c of ['validate', 'version', 'log topics', 'log tail', 'log produce', 'log verify', 'log repair']) {
    assert.ok(r.stdout.includes(`ofa ${c}`), c)
  }
})

test('usage errors exit 2 with OFA_CLI_USAGE', async () => {
  for (const args of [
    ['frobnicate'],
    [],
    ['version', 'extra'],
    ['validate'],
    ['validate', '--bogus', 'x'],
    ['log'],
    ['log', 'nope'],
  ]) {
    const r = await ofa(args)
    assert.equal(r.code, 2, args.join(' '))
    if (args.length > 0) assert.match(r.stderr, /OFA_CLI_USAGE/, args.join(' '))
  }
})

test('the installed bin runs on Node 24', () => {
  const r = spawnSync(process.execPath, [bin, 'version'], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /^ofa /)
})
