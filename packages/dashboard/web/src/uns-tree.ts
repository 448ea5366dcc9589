/**
 * The UNS tree of the asset list: enterprise → area → work center → station → asset, from each asset's
 * `uns.levels` (the schema's levels in the template's order: every level but the last is a group, the last names
 * the asset), with the assets that have no UNS placement in a group of their own. Every group rolls up the
 * availability of the assets below it. Pure functions, no DOM: the tree view virtualises the rows `visibleRows`
 * returns, so 10 000 assets cost only the rows on screen.
 */
import type { AssetSummary } from './types.ts'

export interface TreeNode {
  /** Unique in the tree: the group's path, or `asset:<uuid>`. */
  readonly key: string
  readonly label: string
  /** The UNS level name (`area`, `workcenter`...), `asset` for an asset, `none` for the group of unplaced assets. */
  readonly level: string
  readonly children: TreeNode[]
  readonly asset?: AssetSummary
  /** Assets at and below this node, and how many of them are AVAILABLE. */
  total: number
  available: number
}

export const NO_UNS_KEY = 'group:(no UNS)'
/** Between level values in a group's key: a character no UNS level holds (and that CSS selectors can escape). */
const SEP = '\u001f'

function groupKey(path: readonly string[]): string {
  return `group:${path.join(SEP)}`
}

/** The keys of the groups an asset is under, from the root down. */
export function groupPath(asset: Pick<AssetSummary, 'uns'>): string[] {
  const levels = asset.uns ? Object.values(asset.uns.levels) : []
  if (levels.length === 0) return [NO_UNS_KEY]
  return levels.slice(0, -1).map((_, i) => groupKey(levels.slice(0, i + 1)))
}

export function assetKey(uuid: string): string {
  return `asset:${uuid}`
}

function compare(a: TreeNode, b: TreeNode): number {
  const ga = a.asset ? 1 : 0
  const gb = b.asset ? 1 : 0
  if (ga !== gb) return ga - gb
  return a.label.localeCompare(b.label, undefined, { numeric: true }) || a.key.localeCompare(b.key)
}

/** The tree's roots, sorted (groups before assets, by label), with availability rolled up. */
export function buildTree(assets: Iterable<AssetSummary>): TreeNode[] {
  const roots: TreeNode[] = []
  const groups = new Map<string, TreeNode>()
  const group = (parent: TreeNode[] | undefined, key: string, label: string, level: string): TreeNode => {
    let node = groups.get(key)
    if (!node) {
      node = { key, label, level, children: [], total: 0, available: 0 }
      groups.set(key, node)
      ;(parent ?? roots).push(node)
    }
    return node
  }
  for (const asset of assets) {
    const leaf: TreeNode = {
      key: assetKey(asset.uuid),
      label: asset.uuid,
      level: 'asset',
      children: [],
      asset,
      total: 1,
      available: asset.availability === 'AVAILABLE' ? 1 : 0,
    }
    const levels = asset.uns ? Object.entries(asset.uns.levels) : []
    let siblings: TreeNode[] | undefined
    if (levels.length === 0) {
      siblings = group(undefined, NO_UNS_KEY, 'No UNS placement', 'none').children
    } else {
      const path: string[] = []
      for (const [name, val] of levels.slice(0, -1)) {
        path.push(val)
        siblings = group(siblings, groupKey(path), val, name).children
      }
      const last = levels[levels.length - 1]
      if (last && last[1] !== asset.uuid) (leaf as { label: string }).label = `${last[1]} (${asset.uuid})`
    }
    ;(siblings ?? roots).push(leaf)
  }
  const finish = (nodes: TreeNode[]): void => {
    nodes.sort(compare)
    for (const n of nodes) {
      if (n.asset) continue
      finish(n.children)
      n.total = 0
      n.available = 0
      for (const c of n.children) {
        n.total += c.total
        n.available += c.available
      }
    }
  }
  finish(roots)
  return roots
}

/** One row of the tree as displayed. */
export interface TreeRow {
  readonly node: TreeNode
  /** 1 for a root. */
  readonly level: number
  /** Position among its siblings (1-based) and their number: aria-posinset / aria-setsize. */
  readonly posinset: number
  readonly setsize: number
  readonly parentKey: string | null
}

/**
 * The rows shown: every node whose ancestors are all expanded, depth first. With `only`, just the nodes in it
 * (a search's matches and their ancestors).
 */
export function visibleRows(
  roots: readonly TreeNode[],
  expanded: ReadonlySet<string>,
  only?: ReadonlySet<string>,
): TreeRow[] {
  const rows: TreeRow[] = []
  const walk = (nodes: readonly TreeNode[], level: number, parentKey: string | null): void => {
    const shown = only ? nodes.filter((n) => only.has(n.key)) : nodes
    shown.forEach((node, i) => {
      rows.push({ node, level, posinset: i + 1, setsize: shown.length, parentKey })
      if (!node.asset && expanded.has(node.key)) walk(node.children, level + 1, node.key)
    })
  }
  walk(roots, 1, null)
  return rows
}

/**
 * A search: the nodes to show for `text` (case-insensitive, in an asset's UUID, UNS path or type, or a group's
 * label) — the matches and their ancestors — and the groups to expand so that every match is on screen. At most
 * `limit` assets match (the first ones in tree order).
 */
export function search(
  roots: readonly TreeNode[],
  text: string,
  limit = 1000,
): { only: Set<string>; expand: Set<string>; matches: number; truncated: boolean } {
  const needle = text.trim().toLowerCase()
  const only = new Set<string>()
  const expand = new Set<string>()
  let matches = 0
  let truncated = false
  const walk = (node: TreeNode, ancestorMatched: boolean): boolean => {
    if (truncated) return false
    const a = node.asset
    const hay = a ? `${a.uuid} ${a.uns?.unsId ?? ''} ${a.type}`.toLowerCase() : node.label.toLowerCase()
    const self = hay.includes(needle)
    if (a) {
      if (!(self || ancestorMatched)) return false
      if (matches >= limit) {
        truncated = true
        return false
      }
      matches++
      only.add(node.key)
      return true
    }
    let any = false
    for (const c of node.children) if (walk(c, ancestorMatched || self)) any = true
    if (any || self) {
      only.add(node.key)
      if (any) expand.add(node.key)
    }
    return any || self
  }
  for (const r of roots) walk(r, false)
  return { only, expand, matches, truncated }
}

/** `all` / `some` / `none` of the node's assets AVAILABLE. */
export function rollup(node: Pick<TreeNode, 'total' | 'available'>): 'all' | 'some' | 'none' {
  if (node.available === node.total) return 'all'
  return node.available === 0 ? 'none' : 'some'
}
