/**
 * Rate limits on writes (a Fastify plugin, app-wide): every request of a method other than GET, HEAD and OPTIONS —
 * method calls (`POST /api/assets/{uuid}/methods/{method}`), the ksqlDB-compatible routes (`/ksql`, `/query`,
 * `/query-stream`, `/inserts-stream`, `/close-query`), any POST a later route adds — counts against its caller.
 * Reads are never limited (their cost is bounded by the subscription caps and the response cache).
 *
 * The caller is the principal that authentication found (`request.principal.id`: an API key, a token's subject),
 * else the client's address (IPv6 addresses by their /64, as one host usually holds a whole /64). Authentication off,
 * every caller is the same open principal: callers are then told apart by address.
 *
 * Each caller may make `max` writes in a window of `windowMs` that starts at its first write (a fixed window: a
 * burst of up to `max` at once, then nothing until the window ends). The next one is answered 429
 * `OFA_SERVE_RATE_LIMITED` with `Retry-After` (whole seconds until the window ends), before its body is read (on the
 * ksqlDB-compatible routes in ksqlDB's shape, `error_code` 42900, as ksqlDB answers its own rate limits). Every
 * limited answer also carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds). Counters are kept for the
 * `maxCallers` callers seen last (least recently seen first out): memory stays bounded whatever the number of
 * addresses a client cycles through, at the price of a forgotten caller starting a new window.
 *
 * The counting is @fastify/rate-limit's (its in-memory store, an LRU map); this plugin chooses the routes, the caller
 * and the answer. Its hook runs at `onRequest`, after the app-wide ones (the guards, authentication): the principal is
 * known, the body not yet read. A counter lives in one process: replicas of the serving app count apart.
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import { OpenFactoryError } from '@openfactory/model'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type {} from '../auth/types.ts'

export interface RateLimitOptions {
  /** Writes a caller may make in one window (default 100). */
  readonly max: number
  /** The window, in milliseconds, from a caller's first write (default 10 000). */
  readonly windowMs: number
  /** Callers whose counters are kept (default 10 000); past it, the caller seen least recently is forgotten. */
  readonly maxCallers: number
}

export const RATE_LIMIT_DEFAULTS: RateLimitOptions = Object.freeze({ max: 100, windowMs: 10_000, maxCallers: 10_000 })

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The options with defaults, each a positive integer (else `OFA_CONFIG_VALUE`, at construction). */
export function rateLimitOptions(given: Partial<RateLimitOptions> = {}): RateLimitOptions {
  const opts = { ...RATE_LIMIT_DEFAULTS, ...given }
  for (const name of ['max', 'windowMs', 'maxCallers'] as const) {
    const v = opts[name]
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new OpenFactoryError('OFA_CONFIG_VALUE', `rateLimit.${name} must be a positive integer (given: ${v})`, {
        where: { path: `rateLimit.${name}` },
      })
    }
  }
  return opts
}

/** Who the request counts against: its authenticated principal, else its address. */
export function callerOf(request: FastifyRequest): string {
  const p = request.principal
  return p !== undefined && p.kind !== 'open' ? p.id : `ip:${normalizeIP(request.ip)}`
}

export const rateLimits = fp<RateLimitOptions>(
  async (app, opts) => {
    await app.register(rateLimit, {
      global: false,
      max: opts.max,
      timeWindow: opts.windowMs,
      cache: opts.maxCallers,
      keyGenerator: callerOf,
      errorResponseBuilder: (_request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
        return new OpenFactoryError(
          'OFA_SERVE_RATE_LIMITED',
          `more than ${context.max} writes and method calls in ${opts.windowMs / 1000} s from this caller; retry in ${seconds} s`,
          { retryable: true, retryAfterMs: context.ttl },
        )
      },
    })
    const limit = app.rateLimit()
    const hook = async function (this: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (READS.has(request.method)) return
      await limit.call(this as never, request, reply)
    }
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      if (methods.every((m) => READS.has(m))) return
      const own =
        route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
      route.onRequest = [...own, hook as onRequestHookHandler]
    })
  },
  { name: 'ofa-rate-limits', fastify: '5.x' },
)
