// Issue 10 (faults and bad input), configuration loading: regressions, each failing before its fix.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadFactory, validateFactory } from '../../src/config/index.ts'
import { sourceWork } from '../../src/config/yaml-source.ts'
import { isOpenFactoryError, type OpenFactoryError } from '../../src/errors.ts'
import { brief, devicesYaml, tmpFactory } from '../config/helpers.ts'

const MiB = 1024 * 1024

/** The problems of a factory made of `files`, validated with `opts`. */
async function problemsOf(
  t: import('node:test').TestContext,
  files: Record<string, string>,
  opts: Parameters<typeof validateFactory>[1] = {},
): Promise<readonly OpenFactoryError[]> {
  const dir = await tmpFactory(t, files)
  return (await validateFactory([dir], { cwd: dir, env: {}, ...opts })).problems
}

/** Characters that must never reach a terminal raw: controls, format characters (bidi overrides), separators. */
const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u

describe('item 10: loading is linear, files are bounded', () => {
  /** Keys compared or indexed (duplicate-key check, field path lookups) while validating `files`. */
  async function keyWork(t: import('node:test').TestContext, files: Record<string, string>): Promise<number> {
    const dir = await tmpFactory(t, files)
    sourceWork.keys = 0
    await validateFactory([dir], { cwd: dir, env: {} })
    return sourceWork.keys
  }

  test('4 times the devices in one file cost at most 5 times the key work (it was 16 times)', async (t) => {
    for (const bad of [false, true]) {
      const small = await keyWork(t, { 'd.yml': devicesYaml(500, { bad }) })
      const large = await keyWork(t, { 'd.yml': devicesYaml(2000, { bad }) })
      assert.ok(small > 0, 'the work is counted')
      assert.ok(large / small < 5, `${bad ? 'every device with a problem' : 'valid devices'}: ${small} → ${large}`)
    }
  })

  test('a file of 16 MiB is read; one byte more is refused before it is read, with the limit in bytes', async (t) => {
    const line = `#${'x'.repeat(1022)}\n`
    const at = line.repeat(16 * 1024)
    assert.equal(Buffer.byteLength(at), 16 * MiB)
    const ok = await problemsOf(t, { 'big.yml': at })
    assert.deepEqual(
      ok.map((p) => p.code),
      ['OFA_CONFIG_KIND_UNKNOWN'],
      'only comments: an empty file, but read',
    )
    const past = await problemsOf(t, { 'big.yml': `${at} ` })
    assert.deepEqual(brief(past), ['big.yml:undefined:undefined OFA_CONFIG_LIMIT'])
    assert.equal(
      past[0]?.message,
      'the file is 16777217 bytes, more than the limit of 16777216 bytes (16 MiB) per file: split it into several files',
    )
  })

  test('the bytes of all files together are bounded; the file that passes the bound is named', async (t) => {
    const files = { 'a.yml': devicesYaml(3), 'b.yml': devicesYaml(3, { from: 3 }) }
    const total = Buffer.byteLength(files['a.yml']) + Buffer.byteLength(files['b.yml'])
    assert.deepEqual(brief(await problemsOf(t, files, { limits: { totalBytes: total } })), [])
    const past = await problemsOf(t, files, { limits: { totalBytes: total - 1 } })
    assert.deepEqual(brief(past), ['b.yml:undefined:undefined OFA_CONFIG_LIMIT'])
    assert.match(past[0]!.message, new RegExp(`would bring the factory's files to ${total} bytes, more than the limit`))
  })

  test('the defaults: 32 MiB in all files is read, one byte more refused; 10 001 files are refused', async (t) => {
    const comments = `#${'x'.repeat(1022)}\n`.repeat(16 * 1024)
    const two = { 'a.yml': comments, 'b.yml': comments }
    assert.deepEqual(
      (await problemsOf(t, two)).map((p) => p.code),
      ['OFA_CONFIG_KIND_UNKNOWN', 'OFA_CONFIG_KIND_UNKNOWN'],
    )
    const past = await problemsOf(t, { ...two, 'c.yml': '\n' })
    assert.deepEqual(brief(past).slice(2), ['c.yml:undefined:undefined OFA_CONFIG_LIMIT'])
    assert.match(past[2]!.message, /to 33554433 bytes, more than the limit of 33554432 bytes \(32 MiB\) for all files$/)
    const many: Record<string, string> = {}
    for (let i = 0; i <= 10_000; i++) many[`d/${String(i).padStart(5, '0')}.yml`] = ''
    assert.deepEqual(
      (await problemsOf(t, many)).map((p) => `${p.code} ${p.message}`),
      ['OFA_CONFIG_LIMIT more than 10000 YAML files (the limit): give fewer files or folders, or split the factory'],
    )
  })

  test('a .ofaenv larger than 1 MiB is refused without being read', async (t) => {
    const ok = await problemsOf(t, { '.ofaenv': `A=${'x'.repeat(1024 * 1024 - 3)}\n`, 'd.yml': devicesYaml(1) })
    assert.deepEqual(brief(ok), [])
    const past = await problemsOf(t, { '.ofaenv': `A=${'x'.repeat(1024 * 1024 - 2)}\n`, 'd.yml': devicesYaml(1) })
    assert.deepEqual(brief(past), ['.ofaenv:undefined:undefined OFA_CONFIG_FILE'])
  })

  test('the number of files is bounded; past it nothing is read', async (t) => {
    const files = {
      'a.yml': devicesYaml(1),
      'b.yml': devicesYaml(1, { from: 1 }),
      'c.yml': devicesYaml(1, { from: 2 }),
    }
    assert.deepEqual(brief(await problemsOf(t, files, { limits: { files: 3 } })), [])
    const dir = await tmpFactory(t, { ...files, 'sub/d.yml': 'not: [valid' })
    const r = await validateFactory([dir], { cwd: dir, env: {}, limits: { files: 3 } })
    assert.deepEqual(
      r.problems.map((p) => `${p.code} ${p.message}`),
      ['OFA_CONFIG_LIMIT more than 3 YAML files (the limit): give fewer files or folders, or split the factory'],
    )
    assert.equal(r.factory.devices.length, 0)
  })
})

describe('item 18: deep nesting, aliases and bytes that are not text', () => {
  const blockMaps = (levels: number) =>
    Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}a:${i === levels - 1 ? ' 1' : ''}\n`).join('')
  const limitProblems = (problems: readonly OpenFactoryError[]) => problems.filter((p) => p.code === 'OFA_CONFIG_LIMIT')

  test('64 levels of maps and lists are read; the 65th is refused with its line and column', async (t) => {
    assert.deepEqual(limitProblems(await problemsOf(t, { 'd.yml': blockMaps(64) })), [])
    assert.deepEqual(limitProblems(await problemsOf(t, { 'd.yml': `${'['.repeat(64)}${']'.repeat(64)}\n` })), [])
    const block = await problemsOf(t, { 'd.yml': blockMaps(65) })
    assert.deepEqual(brief(block), ['d.yml:65:65 OFA_CONFIG_LIMIT'])
    assert.equal(block[0]?.message, 'nested more than 64 levels deep (maps and lists): the limit')
    assert.deepEqual(brief(await problemsOf(t, { 'd.yml': `${'['.repeat(65)}${']'.repeat(65)}\n` })), [
      'd.yml:1:65 OFA_CONFIG_LIMIT',
    ])
  })

  test('100 000 levels: the same coded problem, no stack overflow', async (t) => {
    for (const text of ['['.repeat(100_000), '{a: '.repeat(100_000), '- '.repeat(100_000)]) {
      const problems = await problemsOf(t, { 'd.yml': `${text}\n` })
      assert.deepEqual(
        problems.map((p) => p.code),
        ['OFA_CONFIG_LIMIT'],
        problems.map((p) => p.format()).join('\n'),
      )
      assert.doesNotMatch(problems[0]!.message, /stack/i)
    }
  })

  test('nesting through an alias counts: the alias that passes the limit is named', async (t) => {
    const deep = `a: &a ${'['.repeat(62)}${']'.repeat(62)}\n`
    assert.deepEqual(limitProblems(await problemsOf(t, { 'd.yml': `${deep}b: [*a]\n` })), [])
    const past = await problemsOf(t, { 'd.yml': `${deep}b: [[*a]]\n` })
    assert.deepEqual(brief(past), ['d.yml:2:6 OFA_CONFIG_LIMIT b[0][0]'])
  })

  test('aliases may add 1 000 000 nodes to a file; one more is refused at the alias', async (t) => {
    const thousand = `a: &a [${'1, '.repeat(998)}1]\nb: [${'*a, '.repeat(999)}*a]\n`
    assert.deepEqual(limitProblems(await problemsOf(t, { 'd.yml': thousand })), [])
    const past = await problemsOf(t, { 'd.yml': `${thousand}c: &c 1\nd: *c\n` })
    assert.deepEqual(brief(past), ['d.yml:4:4 OFA_CONFIG_LIMIT d'])
    assert.match(past[0]!.message, /^d: aliases expand to more than 1000000 nodes \(the limit\)/)
  })

  test('a billion laughs is refused at the alias that passes the limit', async (t) => {
    let text = 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n'
    for (let i = 1; i < 10; i++)
      text += `l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]\n`
    const problems = await problemsOf(t, { 'd.yml': text })
    assert.deepEqual(
      problems.map((p) => p.code),
      ['OFA_CONFIG_LIMIT'],
    )
    assert.equal(problems[0]?.where?.line, 6, 'l5: 10 aliases of 111 111 nodes each pass 1 000 000')
  })

  test('150 devices merging one anchor are valid (more than 100 uses of an anchor were refused)', async (t) => {
    let text = 'devices:\n  dev-0:\n    uuid: DEV-0\n    connector: &sim {type: simulator}\n'
    for (let i = 1; i < 150; i++) text += `  dev-${i}:\n    uuid: DEV-${i}\n    connector: {<<: *sim}\n`
    const dir = await tmpFactory(t, { 'd.yml': text })
    const r = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(r.problems), [])
    assert.equal(r.factory.devices.length, 150)
  })

  test('a problem in a merged map is placed where the merged value is written', async (t) => {
    const problems = await problemsOf(t, {
      'd.yml':
        'devices:\n  a:\n    uuid: A-1\n    connector: &c {type: shdr, host: h, port: x}\n  b:\n    uuid: B-1\n    connector: {<<: *c, host: k}\n',
    })
    assert.deepEqual(brief(problems), [
      'd.yml:4:47 OFA_CONFIG_TYPE devices.a.connector.port',
      'd.yml:4:47 OFA_CONFIG_TYPE devices.b.connector.port',
    ])
  })

  test('a key written twice in a map is still refused, at the second, naming the first', async (t) => {
    const problems = await problemsOf(t, {
      'd.yml': 'devices:\n  a: {uuid: A-1, connector: {type: simulator}}\n  a: {}\n',
    })
    assert.deepEqual(brief(problems), ['d.yml:3:3 OFA_CONFIG_YAML devices.a'])
    assert.equal(problems[0]?.message, 'devices.a: duplicate key (first at line 2, column 3)')
  })

  test('an alias inside the node it names is refused where it is written', async (t) => {
    const problems = await problemsOf(t, { 'd.yml': 'devices: &d\n  a: *d\n' })
    assert.deepEqual(brief(problems), ['d.yml:2:6 OFA_CONFIG_YAML devices.a'])
    assert.match(problems[0]!.message, /alias \*d is inside the node it names/)
  })

  test('a file that is not UTF-8 is refused, naming the file and the first bad byte', async (t) => {
    const dir = await tmpFactory(t, {})
    await writeFile(join(dir, 'bin.yml'), Buffer.from([...Buffer.from('devices:\n  a: ab'), 0xff, 0xfe, 0x0a]))
    await writeFile(join(dir, 'utf16.yml'), Buffer.from('\ufeffdevices: {}\n', 'utf16le'))
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    assert.deepEqual(brief(problems), ['bin.yml:2:8 OFA_CONFIG_FILE', 'utf16.yml:1:1 OFA_CONFIG_FILE'])
    assert.equal(problems[0]?.message, 'not UTF-8 text: byte 0xFF at line 2, column 8 (save the file as UTF-8)')
  })

  test('control characters YAML does not allow make a file not text', async (t) => {
    const problems = await problemsOf(t, { 'nul.yml': 'devices:\n  a\u0000b: 1\n' })
    assert.deepEqual(brief(problems), ['nul.yml:2:4 OFA_CONFIG_FILE'])
    assert.equal(problems[0]?.message, 'not text: control character U+0000 at line 2, column 4')
  })

  test('no message quotes file content raw: control, bidi and separator characters are escaped', async (t) => {
    const dir = await tmpFactory(t, {
      'd.yml':
        'devices:\n  "x\\e[31m\\u2028":\n    uuid: X-1\n    "colour\\u202E": red\n    connector: {type: shdr, host: h, port: "\\u202E78\\x07"}\n',
      'bad\u001b[2J.yml': 'not: [valid',
    })
    const { problems } = await validateFactory([dir], { cwd: dir, env: {} })
    const lines = problems.map((p) => p.format())
    for (const line of lines) assert.doesNotMatch(line, RAW, JSON.stringify(line))
    assert.match(lines.join('\n'), /^bad\\x1b\[2J\.yml:1:12: OFA_CONFIG_YAML /m)
    assert.match(lines.join('\n'), /devices\.x\\x1b\[31m\\u\{2028\}\.colour\\u\{202e\}: unknown field/)
    assert.match(lines.join('\n'), /got "\\u\{202e\}78\\u0007"/)
  })
})

describe('item 17: one rule for the SHDR replay adapter; a problem is reported once', () => {
  const REPLAY = (env: string[]) =>
    [
      'devices:',
      '  cnc:',
      '    uuid: CNC-1',
      '    connector:',
      '      type: mtconnect',
      '      agent:',
      '        port: 5000',
      '        device_xml: cnc.xml',
      '        adapter:',
      '          image: openfactory/shdr-replay:1.0',
      '          port: 7878',
      '          environment:',
      ...env.map((e) => `            - ${e}`),
      '',
    ].join('\n')
  const files = (env: string[]) => ({ 'd.yml': REPLAY(env), 'cnc.xml': '<MTConnectDevices/>', 'cnc.shdr': '' })

  test('SHDR_SPEED=abc and SHDR_LOOP=maybe are refused where they are written', async (t) => {
    const problems = await problemsOf(t, files(['SHDR_FILE=cnc.shdr', 'SHDR_SPEED=abc', 'SHDR_LOOP=maybe']))
    assert.deepEqual(brief(problems), [
      'd.yml:14:15 OFA_CONFIG_VALUE devices.cnc.connector.agent.adapter.environment[1]',
      'd.yml:15:15 OFA_CONFIG_VALUE devices.cnc.connector.agent.adapter.environment[2]',
    ])
    assert.match(problems[0]!.message, /SHDR_SPEED: expected a positive number .*, got "abc"$/)
    assert.match(problems[1]!.message, /SHDR_LOOP: expected true or false, got "maybe"$/)
  })

  test('a replay adapter needs an SHDR_FILE that exists', async (t) => {
    assert.deepEqual(brief(await problemsOf(t, files(['SHDR_SPEED=2']))), [
      'd.yml:12:11 OFA_CONFIG_MISSING_FIELD devices.cnc.connector.agent.adapter.environment',
    ])
    assert.deepEqual(brief(await problemsOf(t, files(['SHDR_FILE=nope.shdr']))), [
      'd.yml:13:15 OFA_CONFIG_FILE devices.cnc.connector.agent.adapter.environment[0]',
    ])
  })

  test('good values are valid', async (t) => {
    for (const env of [['SHDR_FILE=cnc.shdr'], ['SHDR_FILE=cnc.shdr', 'SHDR_SPEED=2.5', 'SHDR_LOOP=false']]) {
      assert.deepEqual(brief(await problemsOf(t, files(env))), [], env.join(' '))
    }
  })

  test("loadFactory's message is a summary: the problems are carried once, in `problems`", async (t) => {
    const dir = await tmpFactory(t, files(['SHDR_FILE=cnc.shdr', 'SHDR_SPEED=abc', 'SHDR_LOOP=maybe']))
    await assert.rejects(loadFactory([dir], { cwd: dir, env: {} }), (err: unknown) => {
      assert.ok(isOpenFactoryError(err, 'OFA_CONFIG_INVALID'))
      assert.equal(err.message, '2 problems in the factory configuration')
      assert.equal(err.problems.length, 2)
      return true
    })
  })
})

describe('item 9: validation stops when its signal is aborted', () => {
  async function bigFactory(t: import('node:test').TestContext): Promise<string> {
    const files: Record<string, string> = {}
    for (let f = 0; f < 100; f++) files[`devices/d${f}.yml`] = devicesYaml(200, { from: f * 200 })
    return tmpFactory(t, files)
  }

  test('an aborted signal: nothing is read', async (t) => {
    const dir = await bigFactory(t)
    await assert.rejects(
      validateFactory([dir], { cwd: dir, env: {}, signal: AbortSignal.abort() }),
      (err: Error) => err.name === 'AbortError',
    )
  })

  test('aborted mid-way through a large factory: it rejects with the abort instead of finishing', async (t) => {
    const dir = await bigFactory(t)
    const stop = new AbortController()
    setTimeout(() => stop.abort(), 50)
    await assert.rejects(
      validateFactory([dir], { cwd: dir, env: {}, signal: stop.signal }),
      (err: Error) => err.name === 'AbortError',
    )
  })
})
