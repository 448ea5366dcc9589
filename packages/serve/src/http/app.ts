/**
 * The HTTP serving layer (Fastify 5): REST, WebSocket and SSE over the asset state, OpenAPI 3.1 and Swagger UI,
 * health and Prometheus metrics. Everything is under `/api` besides `/healthz` and `/metrics` (DESIGN §4);
 * errors are `{"error": {"code": "OFA_...", "message", "where"?}}`. docs/reference/http-api.md lists the routes.
 *
 * The app decorates itself with what the routes share (`eventLog`, `serving`, `state`, `commands`, `hub`:
 * `decorations.ts`) and registers one plugin per route family, each closing what it owns: metrics (app-wide),
 * assets, history, commands, live (WebSocket/SSE), ops (health, metrics, docs).
 */
import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import type { EventLog } from '@openfactory/log'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { ServingState } from '../state/serving-state.ts'
import { createSubscriptionHub, type SubscriptionHub } from '../state/subscriptions.ts'
import { assetRoutes } from './asset-routes.ts'
import { commandRoutes } from './command-routes.ts'
import type {} from './decorations.ts'
import { errorHandler, notFoundHandler } from './errors.ts'
import { historyRoutes } from './history-routes.ts'
import { liveRoutes, WS_OPENAPI_PATH } from './live-routes.ts'
import { type Metric, metricsPlugin } from './metrics.ts'
import { opsRoutes } from './ops-routes.ts'
import { SHARED_SCHEMAS } from './schemas.ts'

/** The port `ofa up` listens on unless told otherwise. */
export const DEFAULT_PORT = 8080

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
  /** Serve Swagger UI at /api/docs (default true). */
  readonly docs?: boolean
  /** More metrics for /metrics, from what runs beside the app (an edge's forwarding...). */
  readonly extraMetrics?: () => Promise<readonly Metric[]>
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
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: false }),
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  })
  const serving = opts.serving
  const hub = opts.hub ?? createSubscriptionHub({ state: serving.state, maxBufferedBytes: opts.maxBufferedBytes })
  app.decorate('eventLog', opts.eventLog)
  app.decorate('serving', serving)
  app.decorate('state', serving.state)
  app.decorate('commands', serving.commands)
  app.decorate('hub', hub)
  if (opts.hub === undefined) app.addHook('onClose', async () => hub.close())

  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)
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
      ],
      paths: { '/api/ws': WS_OPENAPI_PATH },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })

  await app.register(metricsPlugin)
  await app.register(assetRoutes, { responseCacheBytes: opts.responseCacheBytes ?? 16 * 1024 * 1024 })
  await app.register(historyRoutes)
  await app.register(commandRoutes, {
    commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
    maxCommandTimeoutMs: opts.maxCommandTimeoutMs ?? 60_000,
  })
  await app.register(liveRoutes, {
    sseKeepAliveMs: opts.sseKeepAliveMs ?? 15_000,
    maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024,
  })
  await app.register(opsRoutes, {
    docs: opts.docs !== false,
    ...(opts.extraMetrics ? { extraMetrics: opts.extraMetrics } : {}),
  })

  await app.ready()
  return app
}
