/**
 * The HTTP serving layer (Fastify 5): REST, WebSocket and SSE over the asset state, OpenAPI 3.1 and Swagger UI,
 * health and Prometheus metrics. Everything is under `/api` besides `/healthz` and `/metrics` (DESIGN §4);
 * errors are `{"error": {"code": "OFA_...", "message", "where"?}}`. docs/reference/http-api.md lists the routes.
 */
import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import websocket from '@fastify/websocket'
import type { EventLog } from '@openfactory/log'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { AssetState } from '../state/asset-state.ts'
import { createSubscriptionHub, type SubscriptionHub } from '../state/subscriptions.ts'
import { registerAssetRoutes } from './asset-routes.ts'
import { registerCommandRoutes } from './command-routes.ts'
import type { RouteContext } from './context.ts'
import { errorHandler, notFoundHandler } from './errors.ts'
import { registerLiveRoutes, WS_OPENAPI_PATH } from './live-routes.ts'
import type { Metric } from './metrics.ts'
import { RequestCounter } from './metrics.ts'
import { registerOpsRoutes } from './ops-routes.ts'
import { SHARED_SCHEMAS } from './schemas.ts'

/** The port `ofa up` listens on unless told otherwise. */
export const DEFAULT_PORT = 8080

export interface ServeAppOptions {
  readonly log: EventLog
  readonly state: AssetState
  /** Default: a hub over `state`, created here and closed with the app. */
  readonly hub?: SubscriptionHub
  /** Fastify's logger option (default off). */
  readonly logger?: FastifyServerOptions['logger']
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
 * drops live connections, then closes the hub it created). The state and the log stay open: close them after.
 */
export async function createServeApp(opts: ServeAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  })
  const ownHub = opts.hub === undefined
  const hub = opts.hub ?? createSubscriptionHub({ state: opts.state, maxBufferedBytes: opts.maxBufferedBytes })
  const requests = new RequestCounter()
  const ctx: RouteContext = {
    log: opts.log,
    state: opts.state,
    hub,
    requests,
    commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
    maxCommandTimeoutMs: opts.maxCommandTimeoutMs ?? 60_000,
    sseKeepAliveMs: opts.sseKeepAliveMs ?? 15_000,
    responseCacheBytes: opts.responseCacheBytes ?? 16 * 1024 * 1024,
    startedAt: Date.now(),
    ...(opts.extraMetrics ? { extraMetrics: opts.extraMetrics } : {}),
  }
  const live = new Set<() => void>()

  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  app.addHook('onResponse', async (request, reply) => {
    requests.add(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode)
  })
  app.addHook('preClose', async () => {
    for (const shutdown of [...live]) shutdown()
    if (ownHub) hub.close()
  })

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
  await app.register(websocket, { options: { maxPayload: opts.maxMessageBytes ?? 64 * 1024 } })

  registerAssetRoutes(app, ctx)
  registerCommandRoutes(app, ctx)
  registerLiveRoutes(app, ctx, live)
  registerOpsRoutes(app, ctx)
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  if (opts.docs !== false) await app.register(swaggerUi, { routePrefix: '/api/docs' })

  await app.ready()
  return app
}
