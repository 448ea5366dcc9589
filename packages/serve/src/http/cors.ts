/**
 * Cross-origin reads (CORS; a Fastify plugin, app-wide): off unless origins are configured. The request guards
 * (request-guards.ts) decide which web origins may *send* to the API; CORS decides which pages may *read* its answers.
 * Only the origins listed in `allowedOrigins` may: the loopback origins and this server's own pages that the guards
 * let through get no CORS header (a page served by this server needs none; a dashboard on `localhost:3000` is
 * listed like any other).
 *
 * - No origin listed (the default): no `Access-Control-*` header is ever sent, and a preflight (`OPTIONS` with
 *   `Origin` and `Access-Control-Request-Method`, which a browser sends before a cross-origin POST of JSON) is
 *   answered 403 `OFA_SERVE_ORIGIN_NOT_ALLOWED`: the browser then sends nothing.
 * - Origins listed (`https://dashboard.example.com`, or `*` for any): a preflight from one of them is answered 204
 *   with `Access-Control-Allow-Origin` (that origin, or `*`), `-Allow-Methods: GET, HEAD, POST`, `-Allow-Headers:
 *   Authorization, Content-Type, Accept, Last-Event-ID`, `-Max-Age: 600`; a preflight from another origin is a 403
 *   as above. Every other answer to a listed origin (errors included, SSE streams included) carries
 *   `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers` (`Retry-After` and the rate-limit headers);
 *   answers vary by `Origin` (`Vary: Origin`) whenever a list is configured. Credentials (cookies) are never allowed:
 *   the API takes an `Authorization` header, which a page sends itself.
 *
 * Runs before the request guards, so that the answers they refuse a listed origin with are readable by its page.
 * WebSocket upgrades are not CORS requests: the guards check their `Origin`.
 */
import { excerpt, OpenFactoryError } from '@openfactory/model'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { sendError } from './errors.ts'

export interface CorsOptions {
  /** Origins whose pages may read answers (`scheme://host[:port]`; `*`: any). Empty: CORS off. */
  readonly allowedOrigins: readonly string[]
}

const ALLOW_METHODS = 'GET, HEAD, POST'
const ALLOW_HEADERS = 'Authorization, Content-Type, Accept, Last-Event-ID'
const EXPOSE_HEADERS = 'Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'
const MAX_AGE_S = '600'

/** `https://Example.com:443/` → `https://example.com`; text that is no URL is kept as it is (it matches nothing). */
function normalOrigin(origin: string): string {
  try {
    return new URL(origin).origin
  } catch {
    return origin
  }
}

function refused(origin: string, configured: boolean): OpenFactoryError {
  const why = configured
    ? 'it is not one of the allowed origins'
    : 'cross-origin requests are off: no allowed origins are configured'
  return new OpenFactoryError(
    'OFA_SERVE_ORIGIN_NOT_ALLOWED',
    `pages of ${JSON.stringify(excerpt(origin, 100))} may not call this API (${why}; ofa: OPENFACTORY_ALLOWED_ORIGINS)`,
    { where: { path: 'headers.origin' } },
  )
}

export const cors = fp<CorsOptions>(
  async (app, opts) => {
    const any = opts.allowedOrigins.includes('*')
    const listed = new Set(opts.allowedOrigins.filter((o) => o !== '*').map(normalOrigin))
    const configured = any || listed.size > 0
    /** The `Access-Control-Allow-Origin` value for this request's origin, or undefined when it is not listed. */
    const allowOrigin = (origin: string): string | undefined => {
      if (any) return '*'
      if (listed.size === 0) return undefined
      return listed.has(normalOrigin(origin)) ? origin : undefined
    }

    const preflight = (reply: FastifyReply, origin: string): FastifyReply => {
      const allowed = allowOrigin(origin)
      if (allowed === undefined) return sendError(reply, refused(origin, configured))
      return reply
        .code(204)
        .header('access-control-allow-origin', allowed)
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', ALLOW_HEADERS)
        .header('access-control-max-age', MAX_AGE_S)
        .header('vary', 'Origin')
        .send()
    }

    // A callback hook, not an async one: it runs on every request.
    app.addHook('onRequest', (request, reply, done) => {
      const origin = request.headers.origin
      if (origin === undefined) return done()
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
        preflight(reply, origin)
        return
      }
      if (configured) {
        // On the raw response: a stream that writes its own head (SSE) carries them too.
        const res = reply.raw
        res.setHeader('vary', 'Origin')
        const allowed = allowOrigin(origin)
        if (allowed !== undefined) {
          res.setHeader('access-control-allow-origin', allowed)
          res.setHeader('access-control-expose-headers', EXPOSE_HEADERS)
        }
      }
      done()
    })
  },
  { name: 'ofa-cors', fastify: '5.x' },
)
