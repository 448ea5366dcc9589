/**
 * Client-side routes on the History API: `/`, `/asset/<uuid>`, `/trends?...`, `/events`, `/alerts`, `/services`,
 * `/sql`. The serving app answers index.html for any such path (a bookmark, a reload), so every address is shareable.
 * Links are real `<a href>` (open in a new tab works); a plain click is handled here without a page load.
 */
import { signal } from '@preact/signals'

export interface Location {
  readonly path: string
  readonly params: URLSearchParams
}

function current(): Location {
  return { path: location.pathname, params: new URLSearchParams(location.search) }
}

export const route = signal<Location>(current())

export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  route.value = current()
}

addEventListener('popstate', () => {
  route.value = current()
})

/** The click handler of an in-app link: a plain left click navigates here, anything else is the browser's. */
export function onLinkClick(ev: MouseEvent): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return
  const a = (ev.currentTarget as HTMLElement).closest('a')
  if (!a || a.target || a.origin !== location.origin) return
  ev.preventDefault()
  navigate(a.pathname + a.search + a.hash)
}

export function assetHref(uuid: string): string {
  return `/asset/${encodeURIComponent(uuid)}`
}
