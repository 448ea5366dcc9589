/**
 * The asset list every page shares: read once from `GET /api/assets` (every page of it), then kept current by one
 * live subscription to the `avail` item of every asset — an asset's availability changes in the tree as it
 * changes on the log. An asset the list did not have (declared since) makes the list be read again, at most once
 * every 5 s. The tree is rebuilt when an availability actually changes, at most every 250 ms: heartbeats (an `avail`
 * AVAILABLE every few seconds per asset) change nothing and cost no rebuild.
 */
import { signal } from '@preact/signals'
import { api } from './api.ts'
import { live } from './live.ts'
import type { AssetSummary, ItemState } from './types.ts'
import { buildTree, type TreeNode } from './uns-tree.ts'

export const assets = signal<ReadonlyMap<string, AssetSummary>>(new Map())
export const tree = signal<TreeNode[]>([])
export const assetsError = signal<string | null>(null)
export const assetsLoaded = signal(false)

let byUuid = new Map<string, AssetSummary>()
let rebuildTimer: ReturnType<typeof setTimeout> | undefined
let reloadTimer: ReturnType<typeof setTimeout> | undefined
let lastReload = 0
let stopLive: (() => void) | null = null

function publish(): void {
  rebuildTimer = undefined
  assets.value = new Map(byUuid)
  tree.value = buildTree(byUuid.values())
}

function scheduleRebuild(): void {
  if (rebuildTimer === undefined) rebuildTimer = setTimeout(publish, 250)
}

async function readAll(): Promise<Map<string, AssetSummary>> {
  const all = new Map<string, AssetSummary>()
  let cursor: string | null = null
  do {
    const page: { items: AssetSummary[]; nextCursor: string | null } = await api(
      `/api/assets?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
    for (const a of page.items) all.set(a.uuid, a)
    cursor = page.nextCursor
  } while (cursor)
  return all
}

export async function loadAssets(): Promise<void> {
  lastReload = Date.now()
  try {
    const fresh = await readAll()
    // Availability seen live meanwhile is newer than the list's.
    for (const [uuid, a] of fresh) {
      const known = byUuid.get(uuid)
      if (known && known.availability !== a.availability) fresh.set(uuid, { ...a, availability: known.availability })
    }
    byUuid = fresh
    assetsError.value = null
    assetsLoaded.value = true
    publish()
  } catch (err) {
    assetsError.value = err instanceof Error ? err.message : String(err)
  }
}

function scheduleReload(): void {
  if (reloadTimer !== undefined) return
  reloadTimer = setTimeout(
    () => {
      reloadTimer = undefined
      void loadAssets()
    },
    Math.max(0, 5000 - (Date.now() - lastReload)),
  )
}

function applyAvail(item: ItemState): boolean {
  const a = byUuid.get(item.assetUuid)
  if (!a) {
    scheduleReload()
    return false
  }
  const availability = item.value === 'AVAILABLE' ? 'AVAILABLE' : 'UNAVAILABLE'
  if (a.availability === availability) return false
  byUuid.set(a.uuid, { ...a, availability })
  return true
}

/** Reads the list and follows availability; again from scratch after a sign-in. */
export function startAssets(): void {
  stopLive?.()
  void loadAssets()
  stopLive = live.subscribe(
    { items: ['avail'] },
    {
      snapshot(items) {
        let changed = false
        for (const item of items) if (applyAvail(item)) changed = true
        if (changed) scheduleRebuild()
      },
      update(item) {
        if (applyAvail(item)) scheduleRebuild()
      },
    },
  )
}
