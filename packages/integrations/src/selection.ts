/**
 * Which observations of `ofa_assets` an integration takes (`observations:` of a webhook or of `mqtt_publish`):
 * records of the listed `assets` (every item, or only `items` when given), and records of the assets whose UNS path
 * matches one of the `uns` patterns. `items` alone selects those items of every asset. Only values of data items
 * are taken (samples, events, conditions: model's `classifyObservation` kind `observation`): declarations,
 * availability, commands and their results are not. The app's own asset is never taken (its status items would
 * feed themselves).
 *
 * UNS patterns mean what they mean for the API's subscriptions (serve's uns-pattern.ts): `+` one level, `#` every
 * remaining level; levels split by the factory's UNS separator; a pattern one level longer than an asset's path
 * selects an item of it. An asset's path is its placement from the factory's files (devices and apps).
 */
import {
  type AppConfig,
  classifyObservation,
  decodeObservation,
  type Factory,
  type Observation,
  type UnsPlacement,
} from '@openfactory/model'

export interface ObservationSelectionConfig {
  readonly assets?: readonly string[]
  readonly items?: readonly string[]
  readonly uns?: readonly string[]
}

/** What a selection decides for one record: the observation and its asset, or null. */
export interface Selected {
  readonly asset: string
  readonly observation: Observation
  /** The asset's UNS placement, when the factory gives one. */
  readonly uns?: UnsPlacement
}

export class ObservationSelector {
  readonly #assets: ReadonlySet<string> | null
  readonly #items: ReadonlySet<string> | null
  readonly #patterns: readonly string[][]
  readonly #placements: ReadonlyMap<string, UnsPlacement>
  readonly #self: string
  /** Per asset: every item (true), some items (a set), none (false); filled as assets are met. */
  readonly #byAsset = new Map<string, boolean | ReadonlySet<string>>()

  constructor(selection: ObservationSelectionConfig, factory: Factory, self: string) {
    this.#assets = selection.assets ? new Set(selection.assets) : null
    this.#items = selection.items ? new Set(selection.items) : null
    const separator = factory.uns?.separator || '/'
    this.#patterns = (selection.uns ?? []).map((p) => p.split(separator))
    this.#placements = unsPlacements(factory)
    this.#self = self
  }

  /** The asset's UNS placement from the factory's files. */
  placement(asset: string): UnsPlacement | undefined {
    return this.#placements.get(asset)
  }

  /** The record's observation when the selection takes it, else null (a value that does not decode: null). */
  select(key: Buffer | null, value: Buffer | null): Selected | null {
    if (key === null || value === null) return null
    const asset = key.toString('utf8')
    const which = this.#which(asset)
    if (which === false) return null
    let o: Observation
    try {
      o = decodeObservation(value)
      if (classifyObservation(o).kind !== 'observation') return null
    } catch {
      return null
    }
    if (which !== true && !which.has(o.id)) return null
    const uns = this.#placements.get(asset)
    return uns ? { asset, observation: o, uns } : { asset, observation: o }
  }

  #which(asset: string): boolean | ReadonlySet<string> {
    let w = this.#byAsset.get(asset)
    if (w === undefined) {
      w = this.#compute(asset)
      this.#byAsset.set(asset, w)
    }
    return w
  }

  #compute(asset: string): boolean | ReadonlySet<string> {
    if (asset === this.#self) return false
    const byList = this.#assets === null ? this.#patterns.length === 0 : this.#assets.has(asset)
    if (byList) return this.#items ?? true
    const uns = this.#placements.get(asset)
    if (!uns) return false
    const path = Object.values(uns.levels)
    const items = new Set<string>()
    for (const p of this.#patterns) {
      const m = matchUns(p, path)
      if (m === true) return this.#items ?? true
      if (typeof m === 'string') items.add(m)
    }
    if (this.#items) for (const i of [...items]) if (!this.#items.has(i)) items.delete(i)
    return items.size > 0 ? items : false
  }
}

/** The UNS placement of every device and app of the factory, by uuid. */
export function unsPlacements(factory: Factory): Map<string, UnsPlacement> {
  const out = new Map<string, UnsPlacement>()
  for (const d of factory.devices) if (d.uns) out.set(d.uuid, d.uns)
  for (const a of factory.apps as readonly AppConfig[]) if (a.uns) out.set(a.uuid, a.uns)
  return out
}

/** Serve's `matchUnsLevels` rule (uns-pattern.ts): every item (true), one item (its id), or nothing (false). */
function matchUns(pattern: readonly string[], path: readonly string[]): boolean | string {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string
    if (p === '#') return true
    if (i === path.length) {
      const rest = pattern.length - i - 1
      if (rest === 0 || (rest === 1 && pattern[i + 1] === '#')) return p === '+' ? true : p
      return false
    }
    if (p !== '+' && p !== path[i]) return false
  }
  return pattern.length === path.length
}
