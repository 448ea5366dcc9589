/**
 * The `alerts:` block of an app (ours): alert rules evaluated on the log (@openfactory/alerts). Documented in
 * docs/reference/apps.md ("Alerts"):
 *
 *   alerts:
 *     start: latest              # where a first run starts reading ofa_assets (earliest: the whole history)
 *     tick_ms: 1000              # how often time is written to the log for durations to expire
 *     max_tracked: 10000         # alerts and pending checks kept per partition (past it: not tracked, counted)
 *     rules:
 *       - id: spindle_hot        # letters, digits, _ and -; unique in the app
 *         severity: critical     # info | warning (default) | critical
 *         asset: CNC-001         # or assets: [..], or uns: Demofactory/Machining/#, and/or asset_type: Device
 *         item: spindle_temp
 *         above: 80              # or below:
 *         clear: 75              # hysteresis: cleared below 75 (default: the threshold itself)
 *         for_ms: 5000           # held this long before raising (default 0)
 *       - id: estop
 *         asset: CNC-001
 *         item: system
 *         condition: FAULT       # WARNING: raised at WARNING or FAULT
 *       - id: offline
 *         uns: Demofactory/#
 *         unavailable_for_ms: 30000
 *
 * What one field alone cannot say (one check and one target per rule, a clear level on the right side, distinct
 * ids) is checked by `refineAlerts`, each problem at its rule's field.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { Refine } from './check-value.ts'
import { AssetUuid, NonEmptyString } from './common-schema.ts'

/** Rules of one alerts app at most (each is evaluated for every observation of the assets it targets). */
export const MAX_ALERT_RULES = 1000

const RuleId = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  expected: 'a rule id: 1 to 64 letters, digits, _ and -',
})
const Milliseconds = Type.Integer({ minimum: 0, maximum: 365 * 24 * 3600 * 1000, expected: 'milliseconds' })

export const AlertRuleSpec = Type.Object(
  {
    id: RuleId,
    severity: Type.Optional(
      Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], { default: 'warning' }),
    ),
    /** Text put before what the rule saw in the alert's message. */
    message: Type.Optional(NonEmptyString),
    asset: Type.Optional(AssetUuid),
    assets: Type.Optional(Type.Array(AssetUuid, { minItems: 1, maxItems: 10_000 })),
    uns: Type.Optional(
      Type.String({
        pattern: '^\\S+$',
        expected: 'a UNS pattern like Demofactory/Machining/# (+ one level, # the rest)',
      }),
    ),
    asset_type: Type.Optional(NonEmptyString),
    item: Type.Optional(NonEmptyString),
    above: Type.Optional(Type.Number()),
    below: Type.Optional(Type.Number()),
    clear: Type.Optional(Type.Number()),
    for_ms: Type.Optional(Milliseconds),
    condition: Type.Optional(Type.Union([Type.Literal('WARNING'), Type.Literal('FAULT')])),
    unavailable_for_ms: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 365 * 24 * 3600 * 1000, expected: 'milliseconds' }),
    ),
  },
  { additionalProperties: false },
)
export type AlertRuleSpec = Static<typeof AlertRuleSpec>

/** `+` and `#` are whole levels, `#` only last (a level is delimited by characters other than letters, digits, _ -). */
function unsPatternProblem(p: string): string | undefined {
  const name = /[A-Za-z0-9_-]/
  for (let i = 0; i < p.length; i++) {
    const c = p[i]
    if (c !== '+' && c !== '#') continue
    const before = i === 0 || !name.test(p[i - 1] as string)
    const after = i === p.length - 1 || !name.test(p[i + 1] as string)
    if (!before || !after) return `"${c}" must be a whole level`
    if (c === '#' && i !== p.length - 1) return '"#" may only be the last level'
  }
  return undefined
}

const refineAlerts: Refine = (v: { rules: AlertRuleSpec[] }, report) => {
  const ids = new Map<string, number>()
  v.rules.forEach((r, i) => {
    const at = (field: string) => ['rules', i, field]
    const first = ids.get(r.id)
    if (first !== undefined) report(at('id'), 'OFA_CONFIG_VALUE', `rule id ${r.id} is already used by rules[${first}]`)
    else ids.set(r.id, i)

    // The target: assets named, or a UNS pattern and/or an asset type.
    if (r.asset !== undefined && r.assets !== undefined) {
      report(at('assets'), 'OFA_CONFIG_VALUE', 'asset and assets exclude each other: give only one', 'key')
    }
    const named = r.asset !== undefined || r.assets !== undefined
    const selected = r.uns !== undefined || r.asset_type !== undefined
    if (named && selected) {
      const field = r.uns !== undefined ? 'uns' : 'asset_type'
      report(
        at(field),
        'OFA_CONFIG_VALUE',
        `${field} selects assets: not with asset or assets (name them or select them)`,
        'key',
      )
    }
    if (!named && !selected) {
      report(
        at('asset'),
        'OFA_CONFIG_MISSING_FIELD',
        `rule ${r.id} targets nothing: give asset, assets, uns or asset_type`,
        'parent',
      )
    }
    if (r.uns !== undefined) {
      const problem = unsPatternProblem(r.uns)
      if (problem) report(at('uns'), 'OFA_CONFIG_VALUE', `${problem} in ${JSON.stringify(r.uns)}`)
    }

    // The check: a threshold, a condition level, or availability lost.
    const kinds = [
      r.above !== undefined || r.below !== undefined ? 'threshold' : undefined,
      r.condition !== undefined ? 'condition' : undefined,
      r.unavailable_for_ms !== undefined ? 'unavailable_for_ms' : undefined,
    ].filter((k) => k !== undefined)
    if (kinds.length === 0) {
      report(
        at('above'),
        'OFA_CONFIG_MISSING_FIELD',
        `rule ${r.id} checks nothing: give above or below (a threshold), condition, or unavailable_for_ms`,
        'parent',
      )
    } else if (kinds.length > 1) {
      const second = kinds[1] === 'condition' ? 'condition' : 'unavailable_for_ms'
      report(at(second), 'OFA_CONFIG_VALUE', `a rule checks one thing: ${kinds.join(' and ')} are both given`, 'key')
    }
    if (r.above !== undefined && r.below !== undefined) {
      report(at('below'), 'OFA_CONFIG_VALUE', 'above and below exclude each other: one rule per threshold', 'key')
    }
    if (r.unavailable_for_ms !== undefined) {
      if (r.item !== undefined) {
        report(at('item'), 'OFA_CONFIG_VALUE', 'unavailable_for_ms watches the asset (avail): it takes no item', 'key')
      }
      if (r.for_ms !== undefined) {
        report(at('for_ms'), 'OFA_CONFIG_VALUE', 'unavailable_for_ms is already a duration: it takes no for_ms', 'key')
      }
    } else if (kinds.length > 0 && r.item === undefined) {
      report(
        at('item'),
        'OFA_CONFIG_MISSING_FIELD',
        `rule ${r.id}: missing required field item (the data item to watch)`,
        'parent',
      )
    }
    if (r.clear !== undefined) {
      if (r.above !== undefined && r.clear > r.above) {
        report(
          at('clear'),
          'OFA_CONFIG_VALUE',
          `clear ${r.clear} must be at or below above (${r.above}): the level the value falls under to clear`,
        )
      } else if (r.below !== undefined && r.clear < r.below) {
        report(
          at('clear'),
          'OFA_CONFIG_VALUE',
          `clear ${r.clear} must be at or above below (${r.below}): the level the value rises over to clear`,
        )
      } else if (r.above === undefined && r.below === undefined) {
        report(at('clear'), 'OFA_CONFIG_VALUE', 'clear is the hysteresis of a threshold: give above or below', 'key')
      }
    }
  })
}

export const AlertsSpec = Type.Object(
  {
    start: Type.Optional(Type.Union([Type.Literal('latest'), Type.Literal('earliest')], { default: 'latest' })),
    tick_ms: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 60_000, default: 1000, expected: 'milliseconds (100 to 60000)' }),
    ),
    max_tracked: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 })),
    rules: Type.Array(AlertRuleSpec, { minItems: 1, maxItems: MAX_ALERT_RULES }),
  },
  { additionalProperties: false, refine: refineAlerts },
)
export type AlertsSpec = Static<typeof AlertsSpec>
