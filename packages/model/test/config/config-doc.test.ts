/**
 * Every YAML example of docs/reference/config.md is a valid file. A block whose first line is
 * `# factory.yaml` is a manifest; the others are checked with the demo UNS schema. Blocks whose field
 * values are placeholders (`<name>:`, `...`) are syntax summaries and are skipped.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { CONFIG_LIMITS, validateFactory } from '../../src/config/index.ts'
import { brief, ROOT, tmpFactory, UNS_SCHEMA } from './helpers.ts'

const page = readFileSync(join(ROOT, 'docs/reference/config.md'), 'utf8')
const blocks = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!)

test('config.md has YAML examples', () => {
  assert.ok(blocks.length >= 10)
})

for (const [i, block] of blocks.entries()) {
  // A syntax summary (placeholders like `<name>:` or `...`) is not an example: nothing to run.
  if (block.includes('<name>') || block.includes('...')) continue
  test(`config.md example ${i + 1}`, async (t) => {
    const manifest = block.startsWith('# factory.yaml')
    const dir = await tmpFactory(t, {
      [manifest ? 'factory.yaml' : 'example.yml']: block,
      'uns/uns_schema.yml': UNS_SCHEMA,
      'devices/a.yml': 'devices:\n  a:\n    uuid: A-1\n    connector: {type: simulator}\n',
      'cnc-devices.xml': '<MTConnectDevices/>',
    })
    const { problems } = await validateFactory([dir], {
      cwd: dir,
      env: {},
      ...(manifest ? {} : { uns: join(dir, 'uns/uns_schema.yml') }),
    })
    assert.deepEqual(brief(problems), [], block)
  })
}

test('config.md states every limit of loading with its default', () => {
  const section = page.slice(page.indexOf('## Limits'), page.indexOf('\n## ', page.indexOf('## Limits') + 1))
  const row = (name: string) => section.split('\n').find((l) => l.startsWith(`| \`${name}\``)) ?? ''
  for (const name of Object.keys(CONFIG_LIMITS)) assert.ok(row(name), `a row for ${name}`)
  const L = CONFIG_LIMITS
  assert.ok(row('fileBytes').includes(`${L.fileBytes / 1024 / 1024} MiB (${L.fileBytes} bytes)`))
  assert.ok(row('totalBytes').includes(`${L.totalBytes / 1024 / 1024} MiB (${L.totalBytes} bytes)`))
  assert.ok(row('files').includes(`| ${L.files} `))
  assert.ok(row('depth').includes(`| ${L.depth} maps and lists`))
  assert.ok(row('aliasNodes').includes(`| ${L.aliasNodes} nodes`))
})
