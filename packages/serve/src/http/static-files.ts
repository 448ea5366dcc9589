/**
 * The web dashboard's files (a Fastify plugin, registered when `createServeApp` is given `dashboardDir`): the built
 * single-page app of @openfactory/dashboard (index.html and its hashed files under static/), served at `/`.
 *
 * - `GET /` answers index.html. A browser's navigation elsewhere — a GET whose `Accept` names `text/html`, outside
 *   `/api`, whose last path segment has no extension (`/asset/DEMO-CNC-SIM-001`, `/trends?...`) — answers index.html
 *   too: the app routes on the client, so a bookmark or a reload of any of its pages works. Any other unknown path
 *   stays the 404 `OFA_SERVE_ROUTE_NOT_FOUND` it was (API clients and `curl` see no change).
 * - Files are sent with their content type (by extension) and an ETag; `static/` holds Vite's hashed names, which
 *   never change content, kept by browsers for a year (`immutable`); index.html is revalidated on every load
 *   (`no-cache`), so a new build is picked up at once.
 * - The routes are public (`access: 'public'`): the files hold no data. The app's data calls carry the user's
 *   credential (`Authorization: Bearer`, `?access_token=` on the WebSocket) and pass the usual checks.
 * - index.html carries the page's own Content-Security-Policy (`dashboardCsp`): scripts and styles from this server
 *   only (no inline script, nothing evaluated: Vite's build has neither), connections to this server only (fetch,
 *   and WebSocket on the same host), no frames, no plugins, no base or form targets elsewhere. Every other answer
 *   keeps the API's `default-src 'none'` of security-headers.ts, which also sends the other headers as before.
 * - Without a built dashboard (`npm ci` builds it; `packages/dashboard/dist` is git-ignored) the pages answer 503
 *   `OFA_SERVE_DASHBOARD_NOT_BUILT`, saying how to build it; the check is made again on each request until the
 *   files are there, so building while the server runs is enough.
 *
 * Files are read by @fastify/static (`send`: path traversal refused, dot files ignored, ranges, conditional GETs).
 */
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import fastifyStatic from '@fastify/static'
import { OpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { sendError } from './errors.ts'

export interface StaticFilesOptions {
  /** The built dashboard: a folder with index.html (and static/). */
  readonly root: string
  /** How to build it, named in the 503 when the folder has none (default: the repository's command). */
  readonly buildHint?: string
}

/** Where Vite puts the hashed files (`build.assetsDir` of @openfactory/dashboard's build). */
const HASHED_PREFIX = 'static/'
/** One year, in milliseconds (@fastify/static's `maxAge`). */
const YEAR_MS = 365 * 24 * 3600 * 1000
/** A `Host` header fit to be written in a policy: a host name or address and a port, nothing else. */
const PLAIN_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i

/**
 * The dashboard page's policy. `connect-src 'self'` allows the page's own origin; the WebSocket of the same host is
 * named too (`ws:`/`wss:` of the `Host` the page was loaded from), for browsers that do not count it as `'self'`.
 */
export function dashboardCsp(host: string | undefined): string {
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : ''
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

function isFile(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isFile() === true
}

/** A browser navigating to a page of the app: not a file, not the API. */
function isNavigation(request: FastifyRequest, file: string): boolean {
  if (file === '' || file === 'api' || file.startsWith('api/')) return file === ''
  const last = file.slice(file.lastIndexOf('/') + 1)
  if (last.includes('.')) return false
  const accept = request.headers.accept
  return typeof accept === 'string' && accept.includes('text/html')
}

export const staticFiles: FastifyPluginAsync<StaticFilesOptions> = async (app, opts) => {
  const root = path.resolve(opts.root)
  const hint = opts.buildHint ?? 'npm ci (its prepare script builds it) or npm run build -w @openfactory/dashboard'
  let built = false
  const ready = (): boolean => {
    built ||= existsSync(path.join(root, 'index.html'))
    return built
  }
  // `serve: false`: no routes of its own (ours say what they need); it lends `reply.sendFile`.
  await app.register(fastifyStatic, { root, serve: false, index: false, dotfiles: 'ignore' })

  const sendIndex = (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('content-security-policy', dashboardCsp(request.headers.host))
    reply.header('cache-control', 'no-cache')
    return reply.sendFile('index.html', root, { cacheControl: false })
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const file = ((request.params as { '*'?: string })['*'] ?? '').replace(/^\/+/, '')
    // Nothing outside the folder (`/../x`, `/%2e%2e/x`): send refuses it too, this answers it as the 404 it is.
    const full = path.resolve(root, file)
    if (full !== root && !full.startsWith(`${root}${path.sep}`)) return reply.callNotFound()
    const navigation = isNavigation(request, file)
    const known = navigation || file.startsWith(HASHED_PREFIX) || (file !== '' && isFile(full))
    if (!known) return reply.callNotFound()
    if (!ready()) {
      return sendError(
        reply,
        new OpenFactoryError(
          'OFA_SERVE_DASHBOARD_NOT_BUILT',
          `the dashboard is not built: ${root} has no index.html; run ${hint}, then reload`,
        ),
        503,
      )
    }
    if (navigation || file === 'index.html') return sendIndex(request, reply)
    if (!isFile(full)) return reply.callNotFound()
    return file.startsWith(HASHED_PREFIX)
      ? reply.sendFile(file, root, { maxAge: YEAR_MS, immutable: true })
      : reply.sendFile(file, root, { cacheControl: false })
  }

  const route = { config: { access: 'public' as const }, schema: { hide: true } }
  app.get('/', route, handler)
  app.get('/*', route, handler)
}
