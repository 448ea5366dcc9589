/**
 * The UNS tree (WAI-ARIA tree pattern, virtualised): only the rows on screen are in the document, each a
 * `treeitem` with its level, position and set size, so a screen reader announces "Machining, level 2, 2 of 3"
 * though most rows are not rendered. One row at a time is in the tab order (roving tabindex). Keys: ↑/↓ previous /
 * next row, → expand or go to the first child, ← collapse or go to the parent, Home/End first/last row, Enter or
 * Space open an asset (or toggle a group), `*` expands the focused row's siblings. A search field narrows the tree
 * to the assets whose UUID, UNS path or type contain the text.
 */
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import { assets, assetsError, assetsLoaded, tree } from '../assets.ts'
import { assetHref, navigate, route } from '../router.ts'
import { assetKey, groupPath, rollup, search, type TreeRow, visibleRows } from '../uns-tree.ts'

const ROW_HEIGHT = 28
const OVERSCAN = 10

function initialExpanded(): Set<string> {
  return new Set(tree.value.map((n) => n.key))
}

export function UnsTreeView() {
  const roots = tree.value
  const [expanded, setExpanded] = useState<Set<string>>(initialExpanded)
  const [text, setText] = useState('')
  const [focusKey, setFocusKey] = useState<string | null>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const [viewHeight, setViewHeight] = useState(600)
  const scroller = useRef<HTMLDivElement>(null)
  const moveFocus = useRef(false)
  const seeded = useRef(roots.length > 0)

  // The roots (enterprise level) open once the list has arrived.
  if (!seeded.current && roots.length > 0) {
    seeded.current = true
    for (const r of roots) expanded.add(r.key)
  }

  const found = useMemo(() => (text.trim() ? search(roots, text) : null), [roots, text])
  const rows = useMemo(() => visibleRows(roots, expanded, found?.only), [roots, expanded, found])
  const index = new Map<string, number>()
  for (const [i, r] of rows.entries()) index.set(r.node.key, i)
  const path = route.value.path
  const current = path.startsWith('/asset/') ? assetKey(decodeURIComponent(path.slice(7))) : null
  const tabKey = focusKey !== null && index.has(focusKey) ? focusKey : (rows[0]?.node.key ?? null)

  // The asset of the page is shown: its groups open (once per asset, so the user may close them again).
  const revealed = useRef<string | null>(null)
  const currentAsset = current ? assets.value.get(current.slice('asset:'.length)) : undefined
  if (currentAsset && revealed.current !== currentAsset.uuid) {
    revealed.current = currentAsset.uuid
    const path = groupPath(currentAsset)
    if (path.some((k) => !expanded.has(k))) setExpanded(new Set([...expanded, ...path]))
  }

  useLayoutEffect(() => {
    const el = scroller.current
    if (!el) return
    const ro = new ResizeObserver(() => setViewHeight(el.clientHeight || 600))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  useLayoutEffect(() => {
    if (!moveFocus.current || tabKey === null) return
    moveFocus.current = false
    const el = scroller.current?.querySelector<HTMLElement>(`[data-key="${CSS.escape(tabKey)}"]`)
    el?.focus({ preventScroll: true })
  })

  const focusRow = (i: number): void => {
    const row = rows[Math.max(0, Math.min(rows.length - 1, i))]
    if (!row) return
    const el = scroller.current
    const pos = index.get(row.node.key) ?? 0
    if (el) {
      const top = pos * ROW_HEIGHT
      if (top < el.scrollTop) el.scrollTop = top
      else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight
      setScrollTop(el.scrollTop)
    }
    moveFocus.current = true
    setFocusKey(row.node.key)
  }

  const toggle = (key: string, open?: boolean): void => {
    const next = new Set(expanded)
    if (open ?? !next.has(key)) next.add(key)
    else next.delete(key)
    setExpanded(next)
  }

  const activate = (row: TreeRow): void => {
    if (row.node.asset) navigate(assetHref(row.node.asset.uuid))
    else toggle(row.node.key)
  }

  const onKeyDown = (ev: KeyboardEvent): void => {
    const i = tabKey === null ? -1 : (index.get(tabKey) ?? -1)
    const row = rows[i]
    let handled = true
    switch (ev.key) {
      case 'ArrowDown':
        focusRow(i + 1)
        break
      case 'ArrowUp':
        focusRow(i - 1)
        break
      case 'Home':
        focusRow(0)
        break
      case 'End':
        focusRow(rows.length - 1)
        break
      case 'ArrowRight':
        if (row && !row.node.asset) {
          if (!expanded.has(row.node.key)) toggle(row.node.key, true)
          else if (row.node.children.length > 0) focusRow(i + 1)
        }
        break
      case 'ArrowLeft':
        if (row && !row.node.asset && expanded.has(row.node.key)) toggle(row.node.key, false)
        else if (row?.parentKey) focusRow(index.get(row.parentKey) ?? i)
        break
      case 'Enter':
      case ' ':
        if (row) activate(row)
        break
      case '*':
        if (row) {
          const next = new Set(expanded)
          for (const r of rows) if (r.parentKey === row.parentKey && !r.node.asset) next.add(r.node.key)
          setExpanded(next)
        }
        break
      default:
        handled = false
    }
    if (handled) ev.preventDefault()
  }

  const onSearch = (value: string): void => {
    setText(value)
    if (value.trim()) {
      const f = search(roots, value)
      setExpanded(new Set([...expanded, ...f.expand]))
    }
    if (scroller.current) scroller.current.scrollTop = 0
    setScrollTop(0)
  }

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN)
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewHeight) / ROW_HEIGHT) + OVERSCAN)

  return (
    <section class="tree-panel" aria-labelledby="tree-heading">
      <h2 id="tree-heading">Assets</h2>
      <label class="search">
        <span>Search assets</span>
        <input
          type="search"
          value={text}
          placeholder="UUID, UNS path or type"
          onInput={(e) => onSearch((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <p class="tree-count" aria-live="polite">
        {found
          ? `${found.matches}${found.truncated ? '+' : ''} matching asset${found.matches === 1 ? '' : 's'}`
          : assetsLoaded.value
            ? `${roots.reduce((n, r) => n + r.total, 0)} assets`
            : 'Loading assets…'}
      </p>
      {assetsError.value && (
        <p role="alert" class="error">
          {assetsError.value}
        </p>
      )}
      <div
        class="tree-scroll"
        ref={scroller}
        onScroll={(e) => setScrollTop((e.currentTarget as HTMLElement).scrollTop)}
      >
        <div
          role="tree"
          aria-label="Unified namespace"
          class="tree"
          style={{ height: `${rows.length * ROW_HEIGHT}px` }}
          onKeyDown={onKeyDown}
        >
          {rows.slice(first, last).map((row, k) => {
            const node = row.node
            const pos = first + k
            const state = rollup(node)
            const open = !node.asset && expanded.has(node.key)
            return (
              // biome-ignore lint/a11y/useKeyWithClickEvents: the tree takes the keys for every row (onKeyDown above: the WAI-ARIA tree pattern)
              <div
                key={node.key}
                data-key={node.key}
                role="treeitem"
                aria-level={row.level}
                aria-posinset={row.posinset}
                aria-setsize={row.setsize}
                aria-expanded={node.asset ? undefined : open}
                aria-selected={node.asset ? node.key === current : undefined}
                aria-current={node.key === current ? 'page' : undefined}
                tabIndex={node.key === tabKey ? 0 : -1}
                class={`tree-row ${node.asset ? 'leaf' : 'group'} ${node.key === current ? 'current' : ''}`}
                style={{ top: `${pos * ROW_HEIGHT}px`, paddingLeft: `${(row.level - 1) * 16 + 4}px` }}
                onClick={() => {
                  setFocusKey(node.key)
                  activate(row)
                }}
              >
                <span class="twisty" aria-hidden="true">
                  {node.asset ? '' : open ? '▾' : '▸'}
                </span>
                {node.asset ? <span class={`dot ${state}`} aria-hidden="true" /> : null}
                <span class="label">{node.label}</span>
                {node.asset ? (
                  <span class="sr-only">{state === 'all' ? ', available' : ', unavailable'}</span>
                ) : (
                  <span class={`rollup ${state}`}>
                    <span aria-hidden="true">
                      {node.available}/{node.total}
                    </span>
                    <span class="sr-only">
                      , {node.available} of {node.total} available
                    </span>
                  </span>
                )}
              </div>
            )
          })}
        </div>
      </div>
    </section>
  )
}
