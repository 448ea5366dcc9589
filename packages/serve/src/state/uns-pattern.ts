/**
 * UNS subscription patterns: MQTT-style wildcards over Unified Namespace paths, whatever the schema's separator.
 *
 * An asset's UNS path is its `uns_id` split by the separator of its UNS schema (`Demofactory/Machining/WC001/
 * dht-sensor`); the schema's template ends with `attribute`, so an item's path is the asset's path plus the item
 * id (`Demofactory/Machining/WC001/dht-sensor/Temp`). In a pattern, `+` stands for exactly one level and `#` for
 * every remaining level, zero included (MQTT 5, §4.7.1): `Demofactory/Machining/#` selects every item of every
 * asset under Machining, `Demofactory/+/+/+/Temp` every `Temp` four levels down. A pattern equal to an asset's
 * path selects all of that asset's items.
 */
import { type ErrorCode, OpenFactoryError } from '@openfactory/model'

/** What a pattern selects of one asset: every item (`true`), one item (its id), or nothing (`false`). */
export type UnsMatch = boolean | string

/**
 * Checks a pattern before use. `#` may only be a whole last level and `+` a whole level; a level is delimited
 * by characters other than letters, digits, `_` and `-` (the separator is not known until a path is matched).
 */
export function validateUnsPattern(pattern: unknown, code: ErrorCode, path: string): string {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new OpenFactoryError(code, `${path} must be a non-empty UNS pattern`, { where: { path } })
  }
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c !== '+' && c !== '#') continue
    const before = i === 0 || !isNameChar(pattern.charCodeAt(i - 1))
    const after = i === pattern.length - 1 || !isNameChar(pattern.charCodeAt(i + 1))
    if (!before || !after) {
      throw new OpenFactoryError(code, `${path}: "${c}" must be a whole level in ${JSON.stringify(pattern)}`, {
        where: { path },
      })
    }
    if (c === '#' && i !== pattern.length - 1) {
      throw new OpenFactoryError(code, `${path}: "#" may only be the last level in ${JSON.stringify(pattern)}`, {
        where: { path },
      })
    }
  }
  return pattern
}

function isNameChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 95 || // _
    code === 45 // -
  )
}

/**
 * Matches a pattern (already split into levels with the asset's separator) against an asset's path levels.
 * Items sit one level below the asset, so a pattern one level longer than the path selects one item (a literal
 * last level) or all of them (`+`).
 */
export function matchUnsLevels(pattern: readonly string[], path: readonly string[]): UnsMatch {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string
    if (p === '#') return true
    if (i === path.length) {
      // The item level. `x/#` after it still matches the item itself (MQTT: `#` matches the parent level).
      const rest = pattern.length - i - 1
      if (rest === 0 || (rest === 1 && pattern[i + 1] === '#')) return p === '+' ? true : p
      return false
    }
    if (p !== '+' && p !== path[i]) return false
  }
  return pattern.length === path.length
}

/** Splits a UNS path or pattern into levels. */
export function splitUns(text: string, separator: string): string[] {
  return separator === '' ? [text] : text.split(separator)
}

/**
 * The separator an asset's placement uses: the text between the first two level values of its `uns_id`, when
 * the values joined with it give the `uns_id` back; otherwise `fallback`.
 */
export function inferUnsSeparator(levels: readonly string[], unsId: string, fallback: string): string {
  if (levels.length < 2) return fallback
  const first = levels[0] as string
  const second = levels[1] as string
  if (!unsId.startsWith(first)) return fallback
  const at = unsId.indexOf(second, first.length + 1)
  if (at < 0) return fallback
  const sep = unsId.slice(first.length, at)
  return levels.join(sep) === unsId ? sep : fallback
}
