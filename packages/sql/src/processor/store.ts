/**
 * The in-memory key-value store of a task, recording what changed since the last flush so that the task can write
 * those changes to its changelog (one entry per changed key: the last value, or a tombstone).
 */
import type { KeyValueStore } from './processor.ts'

/** A changed key: its new value, or `undefined` for a deletion. */
export type StoreChange = readonly [key: string, value: unknown]

export class MemoryStore<V = unknown> implements KeyValueStore<V> {
  readonly name: string
  readonly #map = new Map<string, V>()
  /** Keys changed since the last `takeChanges`, with their latest value (`undefined`: deleted). */
  #dirty = new Map<string, V | undefined>()
  #sorted: string[] | undefined

  constructor(name: string) {
    this.name = name
  }

  get(key: string): V | undefined {
    return this.#map.get(key)
  }

  has(key: string): boolean {
    return this.#map.has(key)
  }

  put(key: string, value: V): void {
    if (value === undefined) throw new TypeError(`store ${this.name}: put undefined for ${key}; use delete`)
    if (!this.#map.has(key)) this.#sorted = undefined
    this.#map.set(key, value)
    this.#dirty.set(key, value)
  }

  delete(key: string): void {
    if (!this.#map.delete(key)) return
    this.#sorted = undefined
    this.#dirty.set(key, undefined)
  }

  get size(): number {
    return this.#map.size
  }

  *range(from?: string, to?: string): IterableIterator<[string, V]> {
    if (!this.#sorted) this.#sorted = [...this.#map.keys()].sort()
    const keys = this.#sorted
    let lo = 0
    if (from !== undefined) {
      let hi = keys.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if ((keys[mid] as string) < from) lo = mid + 1
        else hi = mid
      }
    }
    for (let i = lo; i < keys.length; i++) {
      const k = keys[i] as string
      if (to !== undefined && k >= to) return
      const v = this.#map.get(k)
      // A key deleted while iterating is skipped (the sorted copy is rebuilt on the next range).
      if (v !== undefined || this.#map.has(k)) yield [k, v as V]
    }
  }

  entries(): IterableIterator<[string, V]> {
    return this.#map.entries()
  }

  /** The changes since the last call, and forgets them. */
  takeChanges(): StoreChange[] {
    if (this.#dirty.size === 0) return []
    const out = [...this.#dirty]
    this.#dirty = new Map()
    return out
  }

  /** Applies a changelog entry while restoring (not recorded as a change). */
  restore(key: string, value: V | undefined): void {
    if (value === undefined) {
      if (this.#map.delete(key)) this.#sorted = undefined
    } else {
      if (!this.#map.has(key)) this.#sorted = undefined
      this.#map.set(key, value)
    }
  }

  /** Forgets changes not yet taken (a failed batch is replayed from the last checkpoint). */
  clear(): void {
    this.#map.clear()
    this.#dirty = new Map()
    this.#sorted = undefined
  }
}
