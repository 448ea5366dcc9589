/**
 * The app's frame: a header (pages, the live connection, who is signed in), the UNS tree beside every page, and the
 * page of the current route in `<main>`. A new page moves focus to its `<main>` (a screen reader reads the new
 * page's heading) and sets the document's title.
 */
import { useEffect, useRef } from 'preact/hooks'
import { signInNeeded } from './api.ts'
import { authChecked, authError, me, signOut } from './auth.ts'
import { Link } from './components/link.tsx'
import { UnsTreeView } from './components/uns-tree-view.tsx'
import { liveStatus } from './live.ts'
import { AlertsPage } from './pages/alerts-page.tsx'
import { AssetPage } from './pages/asset-page.tsx'
import { EventsPage } from './pages/events-page.tsx'
import { HomePage } from './pages/home-page.tsx'
import { ServicesPage } from './pages/services-page.tsx'
import { SignInPage } from './pages/sign-in.tsx'
import { SqlPage } from './pages/sql-page.tsx'
import { TrendsPage } from './pages/trends-page.tsx'
import { route } from './router.ts'

const PAGES = [
  { href: '/', label: 'Overview' },
  { href: '/trends', label: 'Trends' },
  { href: '/events', label: 'Events' },
  { href: '/alerts', label: 'Alerts' },
  { href: '/services', label: 'Services' },
  { href: '/sql', label: 'SQL' },
] as const

function page(path: string): { title: string; node: preact.JSX.Element } {
  if (path.startsWith('/asset/')) {
    const uuid = decodeURIComponent(path.slice('/asset/'.length))
    return { title: uuid, node: <AssetPage key={uuid} uuid={uuid} /> }
  }
  switch (path) {
    case '/':
      return { title: 'Overview', node: <HomePage /> }
    case '/trends':
      return { title: 'Trends', node: <TrendsPage /> }
    case '/events':
      return { title: 'Events', node: <EventsPage /> }
    case '/alerts':
      return { title: 'Alerts', node: <AlertsPage /> }
    case '/services':
      return { title: 'Services and health', node: <ServicesPage /> }
    case '/sql':
      return { title: 'SQL', node: <SqlPage /> }
    default:
      return {
        title: 'Not found',
        node: (
          <section>
            <h1>Not found</h1>
            <p>
              There is no page at <code>{path}</code>. <Link href="/">Go to the overview</Link>.
            </p>
          </section>
        ),
      }
  }
}

const LIVE_TEXT = {
  idle: 'live: idle',
  connecting: 'live: connecting',
  open: 'live',
  reconnecting: 'live: reconnecting',
}

function Header() {
  const path = route.value.path
  const user = me.value
  return (
    <header class="top">
      <span class="brand">OpenFactory</span>
      <nav aria-label="Pages">
        <ul>
          {PAGES.map((p) => (
            <li key={p.href}>
              <Link href={p.href} aria-current={path === p.href ? 'page' : undefined}>
                {p.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <span class={`live-status ${liveStatus.value}`} role="status">
        {LIVE_TEXT[liveStatus.value]}
      </span>
      {user && (
        <span class="user">
          {user.kind === 'open' ? (
            <span title="The API runs without authentication">open API (admin)</span>
          ) : (
            <>
              <span>
                {user.name ?? user.id} <span class="role">{user.role}</span>
              </span>
              <button type="button" onClick={signOut}>
                Sign out
              </button>
            </>
          )}
        </span>
      )}
    </header>
  )
}

export function App() {
  const path = route.value.path
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)
  const { title, node } = page(path)

  useEffect(() => {
    document.title = `${title} · OpenFactory`
    if (first.current) {
      first.current = false
      return
    }
    main.current?.focus({ preventScroll: true })
  }, [path, title])

  if (!authChecked.value) return <p class="loading">Loading…</p>
  if (signInNeeded.value) return <SignInPage />
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header />
      {authError.value && (
        <p role="alert" class="error banner">
          The server did not answer: {authError.value}
        </p>
      )}
      <div class="layout">
        <aside aria-label="Asset tree">
          <UnsTreeView />
        </aside>
        <main id="main" ref={main} tabIndex={-1}>
          {node}
        </main>
      </div>
    </>
  )
}
