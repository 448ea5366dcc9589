/**
 * The HTTP serving layer (Fastify 5): REST, WebSocket and SSE over the asset state, OpenAPI 3.1 and Swagger UI,
 * health and Prometheus metrics. Everything is under `/api` besides `/healthz` and `/metrics` (DESIGN §4);
 * errors are `{"error": {"code": "OFA_...", "message", "where"?}}`. docs/reference/http-api.md lists the routes.
 *
 * The app decorates itself with what the routes share (`eventLog`, `serving`, `state`, `commands`, `hub`:
 * `decorations.ts`) and registers one plugin per route family, each closing what it owns: metrics (app-wide),
 * security headers, CORS, request guards (URL length, Host, Origin, content type) and rate limits on writes (each
 * app-wide: security-headers.ts, cors.ts, request-guards.ts, rate-limits.ts), assets, history, commands, live
 * (WebSocket/SSE), ops (health, metrics, docs), and, given an SQL engine, the ksqlDB-compatible routes (`/ksql`,
 * `/query`, `/query-stream`...: ksql-routes.ts; with HTTP/2 over cleartext on the same port, h2c.ts). Bodies are
 * read by our JSON parser only (`json-body.ts`). Given `tls`, the same app serves HTTPS: HTTP/1.1 (REST, WebSocket,
 * SSE) and HTTP/2 chosen by ALPN on one port, Node's HTTP/2 server with `allowHTTP1`; h2c is then off.
 *
 * Limits (each an option): URL 8192 bytes (414), body 1 MiB (413), request line and headers Node's 16 KiB (414
 * or 431), WebSocket message 64 KiB, subscriptions per connection and per app (`SubscriptionLimits`), push
 * queries per app and statement text (`KsqlApiOptions`). Every error, Fastify's and Node's included, is answered
 * in our shape (`errors.ts`), but those of the ksqlDB-compatible routes themselves, which are in ksqlDB's.
 */
import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import type { EventLog } from '@openfactory/log'
import { type Logger, OpenFactoryError } from '@openfactory/model'
import type { SqlEngineApi } from '@openfactory/sql'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify'
import { type AuthOptions, authentication } from '../auth/hook.ts'
import { type MTConnectOptions, mtconnectRoutes } from '../mtconnect/mtconnect-routes.ts'
import type { ServingState } from '../state/serving-state.ts'
import { createSubscriptionHub, type SubscriptionHub, type SubscriptionLimits } from '../state/subscriptions.ts'
import { type AlertsApi, alertRoutes } from './alert-routes.ts'
import { assetRoutes } from './asset-routes.ts'
import { authRoutes } from './auth-routes.ts'
import { commandRoutes } from './command-routes.ts'
import { cors } from './cors.ts'
import type {} from './decorations.ts'
import { documentRoutes } from './document-routes.ts'
import { clientErrorHandler, errorHandler, frameworkErrors, notFoundHandler } from './errors.ts'
import { serveCleartextHttp2 } from './h2c.ts'
import { historyRoutes } from './history-routes.ts'
import { jsonBodyParser } from './json-body.ts'
import { KSQL_SCHEMAS, type KsqlApiOptions, ksqlRoutes } from './ksql-routes.ts'
import { liveRoutes, WS_OPENAPI_PATH } from './live-routes.ts'
import { type Metric, metricsPlugin } from './metrics.ts'
import { opsRoutes } from './ops-routes.ts'
import { type RateLimitOptions, rateLimitOptions, rateLimits } from './rate-limits.ts'
import { requestGuards } from './request-guards.ts'
import { errorResponses, SHARED_SCHEMAS } from './schemas.ts'
import { securityHeaders, withSecurityHeaders } from './security-headers.ts'
import { staticFiles } from './static-files.ts'
import { tableRoutes } from './table-routes.ts'

/** The port `ofa up` listens on unless told otherwise. */
export const DEFAULT_PORT = 8080

/**
 * Records one downsampled-history or time-travel request may read before it is refused (`maxHistoryScanRecords`):
 * 2 000 000 take ≈ 3 s of one core to read and fold (bench/serve-history-downsample.ts: ≈ 1.6 s per million) —
 * a day of 1 Hz samples of 23 items. A request yields between reads, but its CPU is the serving process's.
 */
export const DEFAULT_MAX_HISTORY_SCAN_RECORDS = 2_000_000

export interface ServeAppOptions {
  /** The backbone: history is read from it. */
  readonly eventLog: EventLog
  /** The asset state with its availability expiry and command tracker (`createServingState`). */
  readonly serving: ServingState
  /** Default: a hub over `serving.state`, created here and closed with the app. */
  readonly hub?: SubscriptionHub
  /**
   * The process logger Fastify logs through: pino, or any object with Fastify's logger interface (Fastify's
   * `loggerInstance`). Default: no request logging.
   */
  readonly loggerInstance?: FastifyBaseLogger
  /** How long a method call waits for its result when the request gives no `timeout_ms` (default 5000). */
  readonly commandTimeoutMs?: number
  /** The largest `timeout_ms` accepted (default 60 000). */
  readonly maxCommandTimeoutMs?: number
  /** Per WebSocket/SSE connection: bytes of updates queued before it is dropped (default 4 MiB). */
  readonly maxBufferedBytes?: number
  /** SSE comment interval (default 15 000 ms). */
  readonly sseKeepAliveMs?: number
  /** Largest WebSocket message accepted from a client (default 64 KiB). */
  readonly maxMessageBytes?: number
  /** Bytes of `GET /api/assets/{uuid}` answers kept until their asset changes (default 16 MiB; 0: none). */
  readonly responseCacheBytes?: number
  /**
   * Records of `ofa_assets` one downsampled-history (`buckets`/`interval`) or time-travel (`at`) request may read
   * (default `DEFAULT_MAX_HISTORY_SCAN_RECORDS`, 2 000 000); past it: 400 `OFA_SERVE_RANGE_TOO_LARGE`.
   */
  readonly maxHistoryScanRecords?: number
  /**
   * Who may do what (auth/hook.ts): API keys, OIDC tokens, the audit trail. Default: authentication off, every
   * caller an admin (the demo on loopback).
   */
  readonly auth?: AuthOptions
  /** Serve Swagger UI at /api/docs (default true). */
  readonly docs?: boolean
  /**
   * Host names the server answers to besides IP addresses, `localhost` (and `*.localhost`) and this machine's
   * name: the names clients use to reach it (`factory.example.com`; `.example.com` for a whole domain; `*` for
   * any, behind a proxy that checks `Host` itself). Other `Host` headers get 403 `OFA_SERVE_HOST_NOT_ALLOWED`.
   */
  readonly allowedHosts?: readonly string[]
  /**
   * Web origins whose pages may call methods and open live streams, besides this server's own pages and
   * loopback ones (`https://dashboard.example.com`; `*` for any). Others get 403 `OFA_SERVE_ORIGIN_NOT_ALLOWED`.
   * The pages of these origins, and only these, may also read the answers (CORS, cors.ts): none listed, no
   * `Access-Control-*` header is ever sent and preflights are refused.
   */
  readonly allowedOrigins?: readonly string[]
  /**
   * Serve HTTPS with this certificate (PEM, the chain after it) and private key (PEM): REST, WebSocket (wss) and SSE
   * over HTTP/1.1, and HTTP/2 chosen by ALPN (`h2`, what ksqlDB's clients ask for over TLS), on the one port. h2c
   * (`http2Cleartext`) is then off, and answers carry `Strict-Transport-Security`. Default: plain HTTP.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer }
  /**
   * Writes (every method but GET, HEAD, OPTIONS: method calls, the ksqlDB-compatible routes) a caller may make per
   * window: `max` per `windowMs`, counters for `maxCallers` callers (defaults `RATE_LIMIT_DEFAULTS`: 100 per 10 s,
   * 10 000 callers); past it, 429 `OFA_SERVE_RATE_LIMITED` with `Retry-After` (rate-limits.ts). `false`: no limit.
   */
  readonly rateLimit?: Partial<RateLimitOptions> | false
  /** Longest URL (path and query) in bytes (default 8192); longer: 414 `OFA_SERVE_TOO_LARGE`. */
  readonly maxUrlBytes?: number
  /** Largest request body in bytes (default 1 MiB); larger: 413 `OFA_SERVE_TOO_LARGE`. */
  readonly maxBodyBytes?: number
  /** Caps on live subscriptions (defaults: `DEFAULT_SUBSCRIPTION_LIMITS`); ignored when `hub` is given. */
  readonly subscriptionLimits?: Partial<SubscriptionLimits>
  /**
   * Where the app's own warnings go; default: Fastify's logger. Listening beyond loopback is the caller's to decide
   * (`ofa up` and `ofa run` refuse it without authentication unless told `--insecure`).
   */
  readonly logger?: Logger
  /** More metrics for /metrics, from what runs beside the app (an edge's forwarding...). */
  readonly extraMetrics?: () => Promise<readonly Metric[]>
  /**
   * The SQL engine behind the ksqlDB-compatible routes (`/ksql`, `/query`, `/query-stream`, `/close-query`,
   * `/info`, `/healthcheck`: ksql-routes.ts). Without it, the app has none of them. The caller opens and closes it.
   */
  readonly sql?: SqlEngineApi
  /** Caps and `/info` fields of the ksqlDB-compatible routes (defaults: `KSQL_API_DEFAULTS`). */
  readonly ksqlApi?: KsqlApiOptions
  /**
   * Also serve HTTP/2 over cleartext (h2c, prior knowledge) on the same port, as ksqlDB does for its clients
   * (h2c.ts). Default: true when the app has `sql`, else false. Ignored under `tls`, where HTTP/2 is chosen by ALPN.
   */
  readonly http2Cleartext?: boolean
  /**
   * The MTConnect agent façade under `/mtconnect` (probe, current, sample, assets: docs/reference/mtconnect.md): its
   * buffer and limits (`MTCONNECT_DEFAULTS`); `false` leaves it out. It reads the log only once asked something.
   */
  readonly mtconnect?: MTConnectOptions | false
  /**
   * Serve the web dashboard at `/` from this folder (the built @openfactory/dashboard: `DASHBOARD_DIST`), public
   * files under their own Content-Security-Policy (static-files.ts). A folder without a build answers 503
   * `OFA_SERVE_DASHBOARD_NOT_BUILT`. Default: no dashboard (`/` is a 404).
   */
  readonly dashboardDir?: string
  /**
   * The open alerts and their acks behind `GET /api/alerts` and `POST /api/alerts/{uuid}/{rule}/ack`
   * (alert-routes.ts; @openfactory/alerts' `openAlertsView`). Default: none (an empty list; acks answer 404).
   */
  readonly alerts?: AlertsApi
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/**
 * Builds the app; the caller listens (`app.listen({ port: DEFAULT_PORT, host })`) and closes it (`app.close()`:
 * ends live connections and method calls in progress, then closes the hub it created). The serving state and
 * the log stay open: close them after.
 */
export async function createServeApp(opts: ServeAppOptions): Promise<FastifyInstance> {
  const maxUrlBytes = opts.maxUrlBytes ?? 8192
  const tls = opts.tls !== undefined
  const rateLimit = opts.rateLimit === false ? null : rateLimitOptions(opts.rateLimit)
  // TLS: Node's HTTP/2 server, HTTP/1.1 too (`allowHTTP1`), the protocol chosen by ALPN. The routes take Node's
  // HTTP/2 compatibility objects as they do under h2c (h2c.ts); typed as the HTTP/1.1 app the routes are written for.
  const transport = opts.tls ? { http2: true, https: { allowHTTP1: true, cert: opts.tls.cert, key: opts.tls.key } } : {}
  const app = Fastify({
    ...(transport as object),
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: false }),
    forceCloseConnections: true,
    // Closing: /api answers 503 in our shape (request-guards.ts), not Fastify's.
    return503OnClosing: false,
    // A path parameter may be as long as the URL (Fastify's default, 100 characters, would turn a long asset
    // UUID into a 414 in Fastify's format); the URL limit bounds it.
    routerOptions: { maxParamLength: maxUrlBytes },
    bodyLimit: opts.maxBodyBytes ?? 1024 * 1024,
    frameworkErrors: withSecurityHeaders(frameworkErrors(maxUrlBytes), { tls }),
    clientErrorHandler: clientErrorHandler(maxUrlBytes, { tls }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  })
  const serving = opts.serving
  const hub =
    opts.hub ??
    createSubscriptionHub({
      state: serving.state,
      maxBufferedBytes: opts.maxBufferedBytes,
      ...(opts.subscriptionLimits ? { limits: opts.subscriptionLimits } : {}),
    })
  app.decorate('eventLog', opts.eventLog)
  app.decorate('serving', serving)
  app.decorate('state', serving.state)
  app.decorate('commands', serving.commands)
  app.decorate('hub', hub)
  if (opts.hub === undefined) app.addHook('onClose', async () => hub.close())

  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  // JSON only, through our parser; anything else (text/plain included) is a 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser)
  app.addHook('onRoute', documentCommonErrors)
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)
  if (opts.sql) for (const schema of KSQL_SCHEMAS) app.addSchema(schema)
  if (!tls && (opts.http2Cleartext ?? opts.sql !== undefined)) serveCleartextHttp2(app)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OpenFactory API',
        version: packageVersion(),
        description:
          'Current state, history and live streams of every asset, and method calls. Errors are `{"error": {"code", "message", "where"?}}`; see docs/reference/http-api.md.',
      },
      tags: [
        { name: 'assets', description: 'Registry, current state, history' },
        { name: 'commands', description: 'Method calls and their results' },
        { name: 'live', description: 'WebSocket and Server-Sent Events' },
        { name: 'operations', description: 'Health and metrics' },
        { name: 'auth', description: 'The caller, API keys, the audit trail' },
        ...(opts.sql ? [{ name: 'ksqldb', description: 'ksqlDB-compatible API over the SQL engine' }] : []),
      ],
      paths: { '/api/ws': WS_OPENAPI_PATH },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })

  await app.register(metricsPlugin)
  await app.register(securityHeaders, { tls })
  await app.register(cors, { allowedOrigins: opts.allowedOrigins ?? [] })
  await app.register(requestGuards, {
    allowedHosts: opts.allowedHosts ?? [],
    allowedOrigins: opts.allowedOrigins ?? [],
    maxUrlBytes,
  })
  if (rateLimit) await app.register(rateLimits, rateLimit)
  // Before any route: it checks that each says what it needs.
  await app.register(authentication, { ...(opts.auth ?? { required: false }), state: serving.state })
  const maxScanRecords = opts.maxHistoryScanRecords ?? DEFAULT_MAX_HISTORY_SCAN_RECORDS
  if (!Number.isSafeInteger(maxScanRecords) || maxScanRecords < 1) {
    throw new OpenFactoryError(
      'OFA_CONFIG_VALUE',
      `maxHistoryScanRecords must be a positive integer (given: ${maxScanRecords})`,
    )
  }
  await app.register(assetRoutes, { responseCacheBytes: opts.responseCacheBytes ?? 16 * 1024 * 1024, maxScanRecords })
  await app.register(historyRoutes, { maxScanRecords })
  await app.register(authRoutes)
  await app.register(documentRoutes)
  await app.register(commandRoutes, {
    commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
    maxCommandTimeoutMs: opts.maxCommandTimeoutMs ?? 60_000,
  })
  await app.register(alertRoutes, opts.alerts ? { alerts: opts.alerts } : {})
  await app.register(liveRoutes, {
    sseKeepAliveMs: opts.sseKeepAliveMs ?? 15_000,
    maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024,
    maxBufferedBytes: opts.maxBufferedBytes ?? 4 * 1024 * 1024,
  })
  await app.register(opsRoutes, {
    docs: opts.docs !== false,
    ...(opts.extraMetrics ? { extraMetrics: opts.extraMetrics } : {}),
  })
  if (opts.mtconnect !== false) {
    await app.register(mtconnectRoutes, { ...opts.mtconnect, ...(opts.logger ? { logger: opts.logger } : {}) })
  }
  if (opts.sql) {
    await app.register(ksqlRoutes, { ...opts.ksqlApi, sql: opts.sql })
    await app.register(tableRoutes, { sql: opts.sql })
  }
  if (opts.dashboardDir !== undefined) await app.register(staticFiles, { root: opts.dashboardDir })

  await app.ready()
  return app
}

/**
 * Adds to every documented route the error answers any request may get before its route runs (request-guards.ts,
 * errors.ts): 400 (a URL that is not valid), 403 (Host, Origin), 414 and 431 (URL, headers too large), 503 for
 * /api routes (closing); 413 and 415 for routes that take a body, and 429 (rate-limits.ts) for those of another
 * method than GET and HEAD. A status the route documents stays as it is.
 */
function documentCommonErrors(route: RouteOptions): void {
  const schema = route.schema as { hide?: boolean; response?: Record<string, unknown> } | undefined
  if (!schema?.response || schema.hide) return
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const common: Record<string, unknown> = {
    400: errorResponses[400],
    403: { description: 'The Host or Origin header is not allowed', $ref: 'Error#' },
    414: { description: 'The URL is longer than the limit', $ref: 'Error#' },
    431: { description: 'The request line and headers are larger than the limit', $ref: 'Error#' },
    ...(route.url.startsWith('/api') ? { 503: errorResponses[503] } : {}),
    ...(methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH')
      ? {
          413: { description: 'The body is larger than the limit', $ref: 'Error#' },
          415: errorResponses[415],
        }
      : {}),
    ...(methods.some((m) => m !== 'GET' && m !== 'HEAD')
      ? { 429: { description: 'Past the rate limit of writes: retry after `Retry-After` seconds', $ref: 'Error#' } }
      : {}),
  }
  for (const [status, response] of Object.entries(common)) {
    if (!(status in schema.response)) schema.response[status] = response
  }
}
