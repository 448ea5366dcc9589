/**
 * Conditions: MTConnect's health signals. Each activation or clearing is one observation
 * (`TYPE: "Condition"`, `VALUE` the level, `attributes.nativeCode` etc.). The current state of one condition
 * item is the set of its active entries: several faults may be active at once, each keyed by native code.
 * NORMAL with a native code clears that code; NORMAL without one clears them all; UNAVAILABLE replaces them all.
 */
import type { ConditionLevel, Observation } from './observation.ts'

export interface ActiveCondition {
  readonly level: Exclude<ConditionLevel, 'NORMAL'>
  readonly nativeCode: string
  readonly nativeSeverity?: string
  readonly qualifier?: string
  readonly message?: string
  readonly timestamp: string
}

/** Applies one condition observation to the active set; returns a new array (the input is not changed). */
export function applyCondition(active: readonly ActiveCondition[], o: Observation): ActiveCondition[] {
  const level = String(o.value) as ConditionLevel
  const a = o.attributes
  const code = typeof a.nativeCode === 'string' ? a.nativeCode : a.nativeCode == null ? '' : String(a.nativeCode)
  if (level === 'NORMAL') return code === '' ? [] : active.filter((c) => c.nativeCode !== code)
  const entry: ActiveCondition = {
    level: level === 'WARNING' || level === 'FAULT' ? level : 'UNAVAILABLE',
    nativeCode: code,
    timestamp: a.timestamp,
    ...(a.nativeSeverity != null ? { nativeSeverity: String(a.nativeSeverity) } : {}),
    ...(a.qualifier != null ? { qualifier: String(a.qualifier) } : {}),
    ...(a.message != null ? { message: String(a.message) } : {}),
  }
  if (entry.level === 'UNAVAILABLE') return [entry]
  return [...active.filter((c) => c.nativeCode !== code && c.level !== 'UNAVAILABLE'), entry]
}

/** The most severe level of an active set: FAULT over WARNING over UNAVAILABLE; NORMAL when empty. */
export function worstLevel(active: readonly ActiveCondition[]): ConditionLevel {
  if (active.some((c) => c.level === 'FAULT')) return 'FAULT'
  if (active.some((c) => c.level === 'WARNING')) return 'WARNING'
  if (active.length > 0) return 'UNAVAILABLE'
  return 'NORMAL'
}
