// The `alerts:` block as a factory's files give it (model's alerts-schema.ts): a good one typed into rules, and bad
// ones — rules that target or check nothing, thresholds whose clear level is on the wrong side, duplicate ids,
// fields that exclude each other, more rules than allowed — each a coded error at its file, line and field.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { appKindOf, checkAppKinds } from '@openfactory/connectors'
import { MAX_ALERT_RULES, validateFactory } from '@openfactory/model'
import '../src/index.ts'
import { alertsConfig } from '../src/rules.ts'

async function load(rules: string, extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-alerts-config-'))
  try {
    writeFileSync(join(dir, 'factory.yaml'), 'name: alerts\nbackbone:\n  type: embedded\n')
    writeFileSync(
      join(dir, 'apps.yml'),
      `apps:\n  alerts:\n    uuid: ALERTS\n    alerts:\n${extra}      rules:\n${rules}`,
    )
    return await validateFactory([dir])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('a good block: typed rules, defaults applied, run by the alerts kind', async () => {
  const { factory, problems } = await load(
    [
      '        - {id: hot, asset: M1, item: temp, above: 80, clear: 75, for_ms: 5000, severity: critical}',
      '        - {id: low, assets: [M1, M2], item: p, below: 2}',
      '        - {id: fault, uns: "Plant/+/#", asset_type: Device, item: system, condition: FAULT}',
      '        - {id: offline, uns: "#", unavailable_for_ms: 30000}',
      '',
    ].join('\n'),
    '      tick_ms: 500\n',
  )
  assert.deepEqual(
    problems.map((p) => p.format()),
    [],
  )
  const app = factory.apps[0]
  assert.ok(app)
  assert.equal(appKindOf(app)?.block, 'alerts')
  assert.deepEqual(checkAppKinds(factory.apps), [])
  const config = alertsConfig(app.spec.alerts as never)
  assert.equal(config.tickMs, 500)
  assert.equal(config.maxTracked, 10_000)
  assert.equal(config.start, 'latest')
  assert.deepEqual(
    config.rules.map((r) => [r.id, r.kind, r.severity]),
    [
      ['hot', 'threshold', 'critical'],
      ['low', 'threshold', 'warning'],
      ['fault', 'condition', 'warning'],
      ['offline', 'availability', 'warning'],
    ],
  )
  const low = config.rules[1]
  assert.ok(low?.kind === 'threshold')
  assert.equal(low.clear, 2, 'the clear level defaults to the threshold')
  assert.deepEqual(config.rules[2]?.uns, ['Plant', '+', '#'])
})

test('bad rules: each problem coded, at its file, line and field', async () => {
  const { problems } = await load(
    [
      '        - {id: hot, asset: M1, item: temp, above: 80, clear: 85}', // line 6: clear above `above`
      '        - {id: hot, asset: M1, item: temp, below: 2, clear: 1}', // line 7: duplicate id; clear below `below`
      '        - {id: nothing, item: temp, above: 1}', // line 8: no target
      '        - {id: idle, asset: M1}', // line 9: no check
      '        - {id: two, asset: M1, item: t, above: 1, condition: FAULT}', // line 10: two checks
      '        - {id: both, asset: M1, uns: "A/#", item: t, above: 1}', // line 11: named and selected
      '        - {id: noitem, asset: M1, above: 1}', // line 12: no item
      '        - {id: availitem, asset: M1, item: x, unavailable_for_ms: 5}', // line 13: item on availability
      '        - {id: badpat, uns: "A/#/B", item: t, above: 1}', // line 14: # not last
      '',
    ].join('\n'),
  )
  // What the schema finds first (the rules above are checked once every field has its shape).
  const shapes = await load(
    [
      '        - {id: "bad id", asset: M1, item: t, above: 1}', // line 6: id pattern
      '        - {id: neg, asset: M1, item: t, above: 1, for_ms: -5}', // line 7: negative duration
      '        - {id: sev, asset: M1, item: t, above: x, severity: loud}', // line 8: not a number, bad severity
      '',
    ].join('\n'),
  )
  const lines = [...problems, ...shapes.problems].map((p) => p.format().replace(/^.*apps\.yml:/, ''))
  const expect: [number, string, RegExp][] = [
    [6, 'OFA_CONFIG_VALUE', /rules\[0\]\.clear: clear 85 must be at or below above \(80\)/],
    [7, 'OFA_CONFIG_VALUE', /rules\[1\]\.id: rule id hot is already used by rules\[0\]/],
    [7, 'OFA_CONFIG_VALUE', /rules\[1\]\.clear: clear 1 must be at or above below \(2\)/],
    [8, 'OFA_CONFIG_MISSING_FIELD', /rule nothing targets nothing: give asset, assets, uns or asset_type/],
    [9, 'OFA_CONFIG_MISSING_FIELD', /rule idle checks nothing/],
    [10, 'OFA_CONFIG_VALUE', /a rule checks one thing: threshold and condition are both given/],
    [11, 'OFA_CONFIG_VALUE', /uns selects assets: not with asset or assets/],
    [12, 'OFA_CONFIG_MISSING_FIELD', /rule noitem: missing required field item/],
    [13, 'OFA_CONFIG_VALUE', /unavailable_for_ms watches the asset \(avail\): it takes no item/],
    [14, 'OFA_CONFIG_VALUE', /"#" may only be the last level/],
    [6, 'OFA_CONFIG_VALUE', /rules\[0\]\.id: expected a rule id/],
    [7, 'OFA_CONFIG_VALUE', /rules\[1\]\.for_ms: expected milliseconds/],
    [8, 'OFA_CONFIG_TYPE', /rules\[2\]\.above: expected a number/],
    [8, 'OFA_CONFIG_VALUE', /rules\[2\]\.severity: expected one of info, warning, critical/],
  ]
  for (const [line, code, re] of expect) {
    assert.ok(
      lines.some((l) => l.startsWith(`${line}:`) && l.includes(code) && re.test(l)),
      `line ${line} ${code} ${re}: not in\n${lines.join('\n')}`,
    )
  }
  assert.equal(lines.length, expect.length, lines.join('\n'))
  assert.ok(problems.every((p) => p.where?.file?.endsWith('apps.yml')))
})

test(`at most ${MAX_ALERT_RULES} rules: one more is refused; no rules at all too`, async () => {
  const rule = (i: number) => `        - {id: r${i}, asset: M1, item: t, above: ${i}}`
  const at = await load(`${Array.from({ length: MAX_ALERT_RULES }, (_, i) => rule(i)).join('\n')}\n`)
  assert.deepEqual(at.problems, [])
  const past = await load(`${Array.from({ length: MAX_ALERT_RULES + 1 }, (_, i) => rule(i)).join('\n')}\n`)
  assert.equal(past.problems.length, 1)
  assert.match(past.problems[0]?.format() ?? '', /alerts\.rules/)
  const none = await load('        []\n')
  assert.equal(none.problems.length, 1)
  assert.match(none.problems[0]?.format() ?? '', /alerts\.rules/)
})

test('the example of docs/reference/apps.md, as written there, loads and types', async () => {
  const md = readFileSync(new URL('../../../docs/reference/apps.md', import.meta.url), 'utf8')
  const example = /## Alerts[\s\S]*?```yaml\n([\s\S]*?)```/.exec(md)?.[1]
  assert.ok(example)
  const dir = mkdtempSync(join(tmpdir(), 'ofa-alerts-doc-'))
  try {
    writeFileSync(join(dir, 'factory.yaml'), 'name: alerts\nbackbone:\n  type: embedded\n')
    writeFileSync(join(dir, 'apps.yml'), example)
    const { factory, problems } = await validateFactory([dir])
    assert.deepEqual(
      problems.map((p) => p.format()),
      [],
    )
    const config = alertsConfig(factory.apps[0]?.spec.alerts as never)
    assert.deepEqual(
      config.rules.map((r) => `${r.id}:${r.kind}`),
      ['spindle_hot:threshold', 'spindle_fault:condition', 'offline:availability'],
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
