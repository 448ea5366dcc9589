/**
 * Security headers (a Fastify plugin, app-wide): what every answer tells a browser, so that a page of another site
 * cannot frame the API or the docs, a JSON answer is never read as a script or a page, and no URL of ours leaks in a
 * `Referer`. A handful of fixed headers, set by one hook; @fastify/helmet would need most of its defaults turned
 * off (`upgrade-insecure-requests` breaks the docs over plain HTTP, HSTS must follow TLS, the cross-origin isolation
 * headers are not ours to choose for every client), leaving the same few lines of configuration.
 *
 * - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`;
 * - `Content-Security-Policy`: the API's answers are data, never a document: `default-src 'none'` (nothing loads,
 *   nothing runs) and `frame-ancestors 'none'`. Swagger UI (`/api/docs` and below) gets the policy it needs and no
 *   more: its scripts, styles and images from this server only (the UI's styles are partly inline: `style-src`
 *   allows them; no inline or evaluated script), `connect-src 'self'` for the OpenAPI document and "Try it out",
 *   images also as `data:` URLs (its icons);
 * - `Strict-Transport-Security: max-age=31536000` when the app serves TLS (never over plain HTTP, where it would be
 *   ignored anyway, and would pin a name to HTTPS that also serves HTTP).
 *
 * The headers go on the raw response as each request arrives, so that every answer carries them: those of the
 * routes, the errors of the guards that run after this hook, the streams that write their own head (SSE), and the
 * router's own errors (`withSecurityHeaders` around Fastify's `frameworkErrors`), and the answers to bytes that are
 * not HTTP, written on the socket by errors.ts `clientErrorHandler` (`securityHeaderLines`).
 */
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export interface SecurityHeadersOptions {
  /** The app serves TLS: add `Strict-Transport-Security`. */
  readonly tls: boolean
}

/** The policy of every answer but Swagger UI's. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/** Swagger UI's pages (`/api/docs`...): its own files, inline styles, data: images, requests to this server. */
export const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

/** One year: what browsers keep an HTTPS-only host for. */
const HSTS = 'max-age=31536000'

const DOCS = /^\/api\/docs(?:[/?#]|$)/

type Headers = readonly (readonly [string, string])[]

function headerSets(opts: SecurityHeadersOptions): { api: Headers; docs: Headers } {
  const common: [string, string][] = [
    ['x-content-type-options', 'nosniff'],
    ['referrer-policy', 'no-referrer'],
    ['x-frame-options', 'DENY'],
    ...(opts.tls ? [['strict-transport-security', HSTS] as [string, string]] : []),
  ]
  return {
    api: [...common, ['content-security-policy', API_CSP]],
    docs: [...common, ['content-security-policy', DOCS_CSP]],
  }
}

/** The API's headers as raw `Name: value\r\n` lines, for an answer written on the socket. */
export function securityHeaderLines(opts: SecurityHeadersOptions): string {
  return headerSets(opts)
    .api.map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
}

function setAll(res: ServerResponse | Http2ServerResponse, headers: Headers): void {
  if (res.headersSent) return
  for (const [name, value] of headers) res.setHeader(name, value)
}

export const securityHeaders = fp<SecurityHeadersOptions>(
  async (app, opts) => {
    const { api, docs } = headerSets(opts)
    // A callback hook, not an async one: it runs on every request (request-guards.ts does the same).
    app.addHook('onRequest', (request, reply, done) => {
      const url = request.url
      setAll(reply.raw, url.startsWith('/api/docs') && DOCS.test(url) ? docs : api)
      done()
    })
  },
  { name: 'ofa-security-headers', fastify: '5.x' },
)

/**
 * Fastify's `frameworkErrors` handler with the headers added first: the router answers a URL it cannot decode before
 * any hook runs.
 */
export function withSecurityHeaders<T>(
  handler: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => T,
  opts: SecurityHeadersOptions,
): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => T {
  const { api } = headerSets(opts)
  return (err, request, reply) => {
    setAll(reply.raw, api)
    return handler(err, request, reply)
  }
}
