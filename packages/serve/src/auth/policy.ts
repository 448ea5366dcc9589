/**
 * Scopes: what of the factory a principal's role applies to (types.ts). A scope is a UNS pattern — MQTT-style,
 * `Plant1/Machining/#`, `+` one level (state/uns-pattern.ts), split by the separator of the asset's UNS schema — or
 * an asset pattern `asset:CNC-*` (`*` any run of characters, matched against the uuid). No scope: every asset.
 *
 * Scopes select whole assets: a UNS pattern selects an asset when it matches the asset's own path (`.../#` under
 * it, `+` levels, or the path itself); a pattern that ends at an item selects nothing (a scope is not a field
 * filter). The role then says what may be done to the assets selected. An asset not placed in the UNS is reached by
 * `asset:` scopes only.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { AssetState } from '../state/asset-state.ts'
import { matchUnsLevels, splitUns, validateUnsPattern } from '../state/uns-pattern.ts'
import type { Principal } from './types.ts'

const ASSET = 'asset:'

/** Checks a scope (for key creation and token claims); returns it. */
export function validateScope(scope: unknown, path: string): string {
  if (typeof scope === 'string' && scope.startsWith(ASSET)) {
    if (scope.length === ASSET.length || scope.length > 256) {
      throw new OpenFactoryError('OFA_AUTH_CONFIG', `${path}: an asset pattern after "asset:", at most 256 characters`)
    }
    return scope
  }
  return validateUnsPattern(scope, 'OFA_AUTH_CONFIG', path)
}

function assetPattern(pattern: string): RegExp {
  const body = pattern
    .slice(ASSET.length)
    .split('*')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${body}$`)
}

const compiled = new Map<string, RegExp>()

/** Whether a scope selects an asset. */
function selects(scope: string, uuid: string, state: AssetState): boolean {
  if (scope.startsWith(ASSET)) {
    let re = compiled.get(scope)
    if (!re) {
      if (compiled.size > 10_000) compiled.clear()
      re = assetPattern(scope)
      compiled.set(scope, re)
    }
    return re.test(uuid)
  }
  const path = state.unsPath(uuid)
  return path !== undefined && matchUnsLevels(splitUns(scope, path.separator), path.levels) === true
}

/** Whether the principal's scopes select the asset (no scope: every asset). */
export function inScope(p: Principal, uuid: string, state: AssetState): boolean {
  return p.scopes.length === 0 || p.scopes.some((s) => selects(s, uuid, state))
}
