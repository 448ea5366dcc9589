/**
 * A bounded string interner: equal strings seen many times (tags, types, item ids, attribute fragments such
 * as `,"units":"CELSIUS"`) are kept once. Past `max` distinct strings it stops adding, so hostile or
 * high-cardinality input cannot grow it without bound; such strings are simply not shared.
 */
export class Interner {
  readonly #map = new Map<string, string>()
  readonly #max: number
  readonly #maxLength: number

  constructor(max = 65_536, maxLength = 256) {
    this.#max = max
    this.#maxLength = maxLength
  }

  intern(s: string): string {
    if (s.length > this.#maxLength) return s
    const found = this.#map.get(s)
    if (found !== undefined) return found
    if (this.#map.size < this.#max) this.#map.set(s, s)
    return s
  }

  get size(): number {
    return this.#map.size
  }
}
