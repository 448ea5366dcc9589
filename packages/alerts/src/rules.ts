/**
 * The rules of one alerts app, typed from its `alerts:` block (model's alerts-schema.ts checked their shape), and
 * which rules apply to an asset: named assets directly, selectors (a UNS pattern, an asset type) against what the
 * asset is known to be.
 */
import type { AlertsSpec } from '@openfactory/model'
import type { AlertSeverity } from './alert-event.ts'

interface RuleBase {
  readonly id: string
  readonly severity: AlertSeverity
  /** Text put before what the rule saw. */
  readonly message?: string
  /** Named targets; absent when the rule selects assets. */
  readonly assets?: ReadonlySet<string>
  /** A UNS pattern split into levels (`+`: one level, `#`: the rest). */
  readonly uns?: readonly string[]
  readonly assetType?: string
}

export interface ThresholdRule extends RuleBase {
  readonly kind: 'threshold'
  readonly item: string
  readonly direction: 'above' | 'below'
  readonly level: number
  /** Hysteresis: the value must fall below (rise over) this to clear. */
  readonly clear: number
  readonly forMs: number
}

export interface ConditionRule extends RuleBase {
  readonly kind: 'condition'
  readonly item: string
  /** WARNING: raised at WARNING or FAULT; FAULT: at FAULT only. */
  readonly level: 'WARNING' | 'FAULT'
  readonly forMs: number
}

export interface AvailabilityRule extends RuleBase {
  readonly kind: 'availability'
  readonly forMs: number
}

export type AlertRule = ThresholdRule | ConditionRule | AvailabilityRule

export interface AlertsConfig {
  readonly start: 'latest' | 'earliest'
  readonly tickMs: number
  readonly maxTracked: number
  readonly rules: readonly AlertRule[]
  /** The UNS separator the patterns are split with. */
  readonly separator: string
}

/** Types a checked block. `separator`: the factory's UNS schema's (default `/`). */
export function alertsConfig(spec: AlertsSpec, separator = '/'): AlertsConfig {
  const rules = spec.rules.map((r): AlertRule => {
    const base: RuleBase = {
      id: r.id,
      severity: r.severity ?? 'warning',
      ...(r.message !== undefined ? { message: r.message } : {}),
      ...(r.asset !== undefined || r.assets !== undefined ? { assets: new Set(r.assets ?? [r.asset as string]) } : {}),
      ...(r.uns !== undefined ? { uns: splitLevels(r.uns, separator) } : {}),
      ...(r.asset_type !== undefined ? { assetType: r.asset_type } : {}),
    }
    if (r.unavailable_for_ms !== undefined) return { ...base, kind: 'availability', forMs: r.unavailable_for_ms }
    if (r.condition !== undefined) {
      return { ...base, kind: 'condition', item: r.item as string, level: r.condition, forMs: r.for_ms ?? 0 }
    }
    const direction = r.above !== undefined ? 'above' : 'below'
    const level = (r.above ?? r.below) as number
    return {
      ...base,
      kind: 'threshold',
      item: r.item as string,
      direction,
      level,
      clear: r.clear ?? level,
      forMs: r.for_ms ?? 0,
    }
  })
  return {
    start: spec.start ?? 'latest',
    tickMs: spec.tick_ms ?? 1000,
    maxTracked: spec.max_tracked ?? 10_000,
    rules,
    separator,
  }
}

function splitLevels(text: string, separator: string): string[] {
  return separator === '' ? [text] : text.split(separator)
}

/** What is known of an asset for selectors: its type and UNS id (from its declaration). */
export interface AssetInfo {
  readonly type?: string
  readonly unsId?: string
}

/** True when a UNS pattern selects an asset's path (MQTT wildcards: `+` one level, `#` the rest, zero included). */
export function unsMatches(pattern: readonly string[], path: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string
    if (p === '#') return true
    if (i >= path.length) return false
    if (p !== '+' && p !== path[i]) return false
  }
  return pattern.length === path.length
}

/** True when the rule applies to the asset. */
export function ruleTargets(rule: AlertRule, uuid: string, info: AssetInfo | undefined, separator: string): boolean {
  if (rule.assets) return rule.assets.has(uuid)
  if (rule.assetType !== undefined && info?.type !== rule.assetType) return false
  if (rule.uns !== undefined) {
    // `#` alone selects every asset, placed in the UNS or not.
    if (rule.uns.length === 1 && rule.uns[0] === '#') return true
    if (info?.unsId === undefined) return false
    return unsMatches(rule.uns, splitLevels(info.unsId, separator))
  }
  return true
}
