/**
 * Request guards (a Fastify plugin, app-wide): checks every request must pass before its route runs. Until the
 * API has authentication, they keep a web page in a browser from using a server it can reach (on the same
 * machine, or on the plant network):
 *
 * 1. URL length: a URL (path and query) longer than `maxUrlBytes` is a 414 `OFA_SERVE_TOO_LARGE`.
 * 2. `Host` (DNS rebinding: a page of `evil.example` whose name is made to resolve to this server's address
 *    would otherwise read and call the API as same-origin): the host name must be an IP address (v4, or v6 in
 *    brackets), `localhost` or a name under `.localhost`, this machine's host name, or one of `allowedHosts`
 *    (a name, or `.example.com` for that domain and every name under it; `*` allows any). Else 403
 *    `OFA_SERVE_HOST_NOT_ALLOWED`. A request without `Host` (HTTP/1.0; never a browser) passes.
 * 3. `Origin`, when the request has one, on every request that is not a GET or HEAD and on the live routes
 *    (WebSocket upgrades and SSE: route config `checkOrigin`), since a browser lets any page open a WebSocket
 *    or send a form: the origin must be this server's (its host and port equal `Host`), a loopback one
 *    (`http(s)://localhost`, `127.0.0.1`, `[::1]`, any port), or one of `allowedOrigins` (`scheme://host[:port]`;
 *    `*` allows any). Else 403 `OFA_SERVE_ORIGIN_NOT_ALLOWED` (`Origin: null` included).
 * 4. While the app closes, requests under `/api` get 503 `OFA_SERVE_UNAVAILABLE` (in our shape, not Fastify's).
 * 5. Content type: a POST (PUT, PATCH) must say `content-type: application/json`, with a body or without one
 *    (a page can send a body-less or `text/plain` POST to any site without asking it first; a JSON one it cannot,
 *    the browser asks first, and this server grants nothing). Else 415 `OFA_SERVE_UNSUPPORTED_MEDIA_TYPE`. A route
 *    may take other types besides (route config `contentTypes`: the ksqlDB-compatible routes take ksqlDB's).
 * Over HTTP/2 (h2c.ts) the host is the `:authority` pseudo-header, checked as `Host` is.
 */

import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { excerpt, OpenFactoryError } from '@openfactory/model'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { sendError, unsupportedMediaType, urlTooLong } from './errors.ts'

export interface RequestGuardsOptions {
  /** Host names accepted besides IP addresses, `localhost` and this machine's name (`*`: any). */
  readonly allowedHosts: readonly string[]
  /** Origins accepted besides this server's and loopback ones (`*`: any). */
  readonly allowedOrigins: readonly string[]
  readonly maxUrlBytes: number
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Check `Origin` on this route whatever its method (the live routes). */
    checkOrigin?: boolean
    /**
     * Content types (essences) a POST to this route may say it carries besides `application/json` (the
     * ksqlDB-compatible routes take ksqlDB's own); `''` also lets through a POST that names none.
     */
    contentTypes?: readonly string[]
  }
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])
const LOOPBACK_ORIGIN = /^https?:\/\/(?:localhost|[^/:]+\.localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(?::\d+)?$/

/** `Host` header → lower-case host name without port, brackets kept for IPv6 (`[::1]`); undefined if malformed. */
export function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0) return undefined
    const rest = h.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined
    return h.slice(0, end + 1)
  }
  const m = /^([^:]*)(?::\d{1,5})?$/.exec(h)
  if (!m) return undefined
  return (m[1] as string).replace(/\.$/, '')
}

/** The port a `Host` header or origin names, or the scheme's default. */
function portOf(host: string, scheme: string): string {
  const m = /:(\d{1,5})$/.exec(host.trim())
  if (m && !host.trim().endsWith(']')) return m[1] as string
  return scheme === 'https:' ? '443' : '80'
}

export interface HostPolicy {
  hostAllowed(name: string): boolean
  originAllowed(origin: string, host: string | undefined): boolean
}

export function createHostPolicy(allowedHosts: readonly string[], allowedOrigins: readonly string[]): HostPolicy {
  const anyHost = allowedHosts.includes('*')
  const exact = new Set<string>()
  const suffixes: string[] = []
  const machine = hostname().toLowerCase()
  for (const name of [machine, machine.split('.')[0] as string, ...allowedHosts]) {
    const n = name.trim().toLowerCase().replace(/\.$/, '')
    if (n === '' || n === '*') continue
    if (n.startsWith('.')) suffixes.push(n)
    else exact.add(n)
  }
  const anyOrigin = allowedOrigins.includes('*')
  const origins = new Set<string>()
  for (const o of allowedOrigins) {
    if (o === '*') continue
    try {
      origins.add(new URL(o).origin)
    } catch {
      origins.add(o)
    }
  }

  const hostAllowed = (name: string): boolean => {
    if (anyHost || exact.has(name)) return true
    if (name.startsWith('[') && name.endsWith(']')) return isIP(name.slice(1, -1)) === 6
    if (isIP(name) === 4) return true
    if (name === 'localhost' || name.endsWith('.localhost')) return true
    return suffixes.some((s) => name.endsWith(s) || name === s.slice(1))
  }

  return {
    hostAllowed,
    originAllowed(origin, host) {
      if (anyOrigin) return true
      let url: URL
      try {
        url = new URL(origin)
      } catch {
        return false
      }
      if (url.origin === 'null') return false
      if (origins.has(url.origin) || LOOPBACK_ORIGIN.test(url.origin)) return true
      // Same origin: the page was served by this server, under the name and port the request is addressed to.
      if (host === undefined) return false
      const name = hostName(host)
      if (name === undefined || !hostAllowed(name)) return false
      const originHost = url.hostname.toLowerCase()
      return (
        originHost === name && (url.port || (url.protocol === 'https:' ? '443' : '80')) === portOf(host, url.protocol)
      )
    },
  }
}

function forbidden(code: 'OFA_SERVE_HOST_NOT_ALLOWED' | 'OFA_SERVE_ORIGIN_NOT_ALLOWED', message: string, path: string) {
  return new OpenFactoryError(code, message, { where: { path } })
}

export const requestGuards = fp<RequestGuardsOptions>(
  async (app, opts) => {
    const policy = createHostPolicy(opts.allowedHosts, opts.allowedOrigins)
    const maxUrlBytes = opts.maxUrlBytes
    let closing = false
    app.addHook('preClose', async () => {
      closing = true
    })

    /** Verdicts on the `Host` headers seen (a few distinct ones in practice; bounded): one lookup per request. */
    const hostVerdicts = new Map<string, boolean>()
    const hostAllowed = (host: string): boolean => {
      let ok = hostVerdicts.get(host)
      if (ok === undefined) {
        const name = hostName(host)
        ok = name !== undefined && policy.hostAllowed(name)
        if (hostVerdicts.size >= 256) hostVerdicts.clear()
        hostVerdicts.set(host, ok)
      }
      return ok
    }

    /** Why the request is refused (with the status), or null. */
    const refusal = (request: FastifyRequest): { error: OpenFactoryError; status?: number } | null => {
      const url = request.raw.url ?? '/'
      if (url.length > maxUrlBytes / 3 && Buffer.byteLength(url) > maxUrlBytes) {
        return { error: urlTooLong(maxUrlBytes), status: 414 }
      }
      // HTTP/2 carries the host as `:authority` (RFC 9113 §8.3.1), HTTP/1.1 as `Host`.
      const host = request.headers.host ?? (request.headers[':authority'] as string | undefined)
      if (host !== undefined && !hostAllowed(host)) {
        return {
          error: forbidden(
            'OFA_SERVE_HOST_NOT_ALLOWED',
            `this server does not answer to the host name ${JSON.stringify(excerpt(host, 100))}; list it in the allowed hosts (ofa: OPENFACTORY_ALLOWED_HOSTS) if it is this server's`,
            'headers.host',
          ),
        }
      }
      const origin = request.headers.origin
      const method = request.method
      if (
        origin !== undefined &&
        ((method !== 'GET' && method !== 'HEAD') || request.routeOptions.config?.checkOrigin === true) &&
        !policy.originAllowed(origin, host)
      ) {
        return {
          error: forbidden(
            'OFA_SERVE_ORIGIN_NOT_ALLOWED',
            `requests from the web origin ${JSON.stringify(excerpt(origin, 100))} are not allowed; list it in the allowed origins (ofa: OPENFACTORY_ALLOWED_ORIGINS) if it is trusted`,
            'headers.origin',
          ),
        }
      }
      if (closing && url.startsWith('/api')) {
        return { error: new OpenFactoryError('OFA_SERVE_UNAVAILABLE', 'the server is closing') }
      }
      if (BODY_METHODS.has(method) && !request.is404) {
        const type = request.headers['content-type']
        const essence = type?.split(';')[0]?.trim().toLowerCase()
        if (essence !== 'application/json' && !request.routeOptions.config?.contentTypes?.includes(essence ?? '')) {
          return { error: unsupportedMediaType(type) }
        }
      }
      return null
    }

    // A callback hook, not an async one: it runs on every request (bench/serve-rest.ts).
    app.addHook('onRequest', (request, reply, done) => {
      const refused = refusal(request)
      if (refused === null) return done()
      // An upgrade request's socket is no longer the HTTP server's: once the refusal is written, it is ours to end.
      if (request.headers.upgrade !== undefined) {
        const socket = request.raw.socket
        reply.raw.once('finish', () => socket.destroySoon())
        reply.raw.once('close', () => socket.destroy())
        reply.header('connection', 'close')
      }
      sendError(reply, refused.error, refused.status)
    })
  },
  { name: 'ofa-request-guards', fastify: '5.x' },
)
