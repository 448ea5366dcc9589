import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  isShdrNumber,
  parseShdrIsoTime,
  parseShdrLine,
  parseShdrText,
  SHDR_MALFORMED_REASONS,
  type ShdrLine,
  ShdrStream,
  splitShdrFields,
} from '../../src/shdr/parser.ts'

interface Case {
  readonly name: string
  readonly line: string
  readonly expect: Record<string, unknown> & { timeIso?: string }
}

const { cases } = JSON.parse(readFileSync(new URL('../fixtures/shdr/parser-cases.json', import.meta.url), 'utf8')) as {
  cases: Case[]
}

describe('parseShdrLine golden cases (test/fixtures/shdr/parser-cases.json)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const got = parseShdrLine(c.line, 7) as unknown as Record<string, unknown>
      assert.equal(got.lineNo, 7)
      const { timeIso, ...fields } = c.expect
      for (const [k, v] of Object.entries(fields)) assert.deepEqual(got[k], v, `${k} of ${JSON.stringify(c.line)}`)
      if (timeIso !== undefined) assert.equal(new Date(got.timeMs as number).toISOString(), timeIso)
      if (got.kind === 'malformed') {
        assert.ok(typeof got.message === 'string' && got.message.length > 0)
        assert.ok(typeof got.text === 'string')
      }
    })
  }

  test('every reason a single line can be malformed for has a golden case', () => {
    const covered = new Set(cases.map((c) => c.expect.reason).filter(Boolean))
    const streamOnly = ['asset-unterminated', 'asset-too-large', 'line-too-long']
    for (const reason of SHDR_MALFORMED_REASONS) {
      if (!streamOnly.includes(reason)) assert.ok(covered.has(reason), `no golden case for ${reason}`)
    }
  })
})

describe('splitShdrFields', () => {
  test('fast path and quoted path agree on lines without quotes', () => {
    assert.deepEqual(splitShdrFields('a| b |c||'), ['a', 'b', 'c', '', ''])
    assert.deepEqual(splitShdrFields('"a|b"|c'), ['a|b', 'c'])
    assert.deepEqual(splitShdrFields('x|"say \\"hi\\""  |y'), ['x', 'say "hi"', 'y'])
    assert.deepEqual(splitShdrFields('x|"inner" quote|y'), ['x', '"inner" quote', 'y'])
  })
})

describe('numbers and timestamps', () => {
  test('isShdrNumber accepts exactly [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?', () => {
    const grammar = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
    for (const s of ['1', '-12.5', '+.5', '5.', '1e-3', '2E+10']) assert.ok(isShdrNumber(s), s)
    for (const s of ['', '.', '-', 'e5', '1e', '0x1F', 'NaN', 'Infinity', '1.2.3', ' 1', '1_000'])
      assert.ok(!isShdrNumber(s), s)
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[-+.eE0-9x ]{0,8}$/), fc.string({ maxLength: 8 })), (s) => {
        assert.equal(isShdrNumber(s), grammar.test(s), JSON.stringify(s))
      }),
      { numRuns: 5000 },
    )
  })

  test('the millisecond fast path agrees with the general ISO parser', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        const iso = new Date(ms).toISOString()
        assert.equal(parseShdrIsoTime(iso), ms)
        assert.equal(parseShdrIsoTime(iso, false), ms)
      }),
      { numRuns: 2000 },
    )
    for (const bad of [
      '2024-02-30T00:00:00.000Z',
      '2023-02-29T10:00:00.000Z',
      '2024-01-01T24:00:00.000Z',
      '2024-01-01T10:60:00.000Z',
      '2024-01-01T1a:00:00.000Z',
    ]) {
      assert.ok(Number.isNaN(parseShdrIsoTime(bad)), bad)
    }
  })
})

describe('ShdrStream', () => {
  test('gathers a multi-line asset into one asset line with the first line number', () => {
    const text = [
      '* shdrVersion: 2',
      '2012-02-21T23:59:33.460470Z|@ASSET@|KSSP300R.1|CuttingTool|--multiline--0FED07ACED',
      '<CuttingTool assetId="KSSP300R.1">',
      '  <Description>a|b</Description>',
      '</CuttingTool>',
      '--multiline--0FED07ACED',
      '2012-02-21T23:59:34Z|a|1',
    ].join('\r\n')
    const lines = parseShdrText(text)
    assert.deepEqual(
      lines.map((l) => [l.kind, l.lineNo]),
      [
        ['command', 1],
        ['asset', 2],
        ['data', 7],
      ],
    )
    const asset = lines[1] as Extract<ShdrLine, { kind: 'asset' }>
    assert.equal(asset.body, '<CuttingTool assetId="KSSP300R.1">\n  <Description>a|b</Description>\n</CuttingTool>')
    assert.equal(asset.assetType, 'CuttingTool')
  })

  test('an asset left open at the end is reported malformed', () => {
    const stream = new ShdrStream()
    assert.equal(stream.push('|@ASSET@|T1|CuttingTool|--multiline--X'), undefined)
    assert.equal(stream.push('<CuttingTool/>'), undefined)
    const tail = stream.end()
    assert.equal(tail?.reason, 'asset-unterminated')
    assert.equal(tail?.lineNo, 1)
    assert.equal(stream.stats().malformed, 1)
    // Line numbers start again after end(): a new connection.
    assert.equal(stream.push('|a|1')?.lineNo, 1)
  })

  test('an asset larger than the limit is dropped as malformed and the stream goes on', () => {
    const stream = new ShdrStream({ maxAssetBytes: 20 })
    stream.push('|@ASSET@|T1|CuttingTool|--multiline--X')
    assert.equal(stream.push('0123456789'), undefined)
    const m = stream.push('0123456789abcdef')
    assert.equal(m?.kind, 'malformed')
    assert.equal(m?.kind === 'malformed' && m.reason, 'asset-too-large')
    assert.equal(stream.push('|a|1')?.kind, 'data')
  })

  test('the asset limit counts UTF-8 bytes, line breaks included: at the limit kept, one byte past it dropped', () => {
    const body = (stream: ShdrStream, lines: string[]) => {
      stream.push('|@ASSET@|T1|CuttingTool|--multiline--X')
      const last = lines.map((l) => stream.push(l)).find((r) => r !== undefined)
      return last ?? stream.push('--multiline--X')
    }
    // 'é' is 2 bytes: 9 of them and the line break are 19 bytes; 'ab' + break 3 more = 22.
    const atLimit = body(new ShdrStream({ maxAssetBytes: 22 }), ['ééééééééé', 'ab'])
    assert.equal(atLimit?.kind, 'asset')
    assert.equal(atLimit?.kind === 'asset' && atLimit.body, 'ééééééééé\nab')
    const past = body(new ShdrStream({ maxAssetBytes: 21 }), ['ééééééééé', 'ab'])
    assert.equal(past?.kind === 'malformed' && past.reason, 'asset-too-large', '10 characters, but 22 bytes')
  })

  test('counts malformed lines by reason and keeps numbering them', () => {
    const stream = new ShdrStream()
    const kinds = ['2024-01-01T00:00:00Z|a|1', 'garbage 12:00|x', '2024-13-01T00:00:00Z|a|1', '* PONG', '|b|2'].map(
      (l) => stream.push(l),
    )
    assert.deepEqual(
      kinds.map((k) => k?.kind),
      ['data', 'data', 'malformed', 'malformed', 'data'],
    )
    assert.equal(kinds[3]?.lineNo, 4)
    stream.pushMalformed('line-too-long', 'a line of 2000000 characters was dropped')
    const s = stream.stats()
    assert.equal(s.lines, 6)
    assert.equal(s.malformed, 3)
    assert.deepEqual(s.byReason, { 'bad-timestamp': 1, 'bad-pong': 1, 'line-too-long': 1 })
  })
})

describe('the parser never throws', () => {
  const shdrish = fc.stringMatching(/^[-0-9T:.Z|@*" \\a-z=A-Z{}\r\u0000\u00e9]{0,80}$/)
  test('parseShdrLine and splitShdrFields on random and SHDR-like strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), shdrish),
        fc.nat(),
        (s, n) => {
          const l = parseShdrLine(s, n)
          assert.equal(l.lineNo, n)
          splitShdrFields(s)
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('ShdrStream on random sequences of lines, multi-line assets included', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 60 }),
      shdrish,
      fc.constantFrom('|@ASSET@|T1|CuttingTool|--multiline--Z', '--multiline--Z', '* PING', '* PONG 10', '|a|1'),
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), (lines) => {
        const stream = new ShdrStream({ maxAssetBytes: 200 })
        let out = 0
        for (const l of lines) if (stream.push(l)) out++
        stream.end()
        const s = stream.stats()
        assert.equal(s.lines, lines.length)
        assert.ok(out <= lines.length)
        assert.ok(s.malformed <= lines.length)
      }),
      { numRuns: 1000 },
    )
  })
})
