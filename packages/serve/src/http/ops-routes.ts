/** Operations: `/healthz` (log reachable, state caught up) and Prometheus `/metrics`. */
import type { FastifyInstance } from 'fastify'
import type { RouteContext } from './context.ts'
import { type Metric, renderMetrics } from './metrics.ts'

const HEALTH_TIMEOUT_MS = 2000

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e) => {
        clearTimeout(t)
        reject(e)
      },
    )
  })
}

export function registerOpsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, hub } = ctx

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Health: 200 when the log answers and the state has caught up, else 503',
        tags: ['operations'],
        response: {
          200: { $ref: 'Health#' },
          503: { $ref: 'Health#' },
        },
      },
    },
    async (_request, reply) => {
      let logOk = true
      let lag: number | null = null
      let error: string | undefined
      try {
        lag = await withTimeout(state.lag(), HEALTH_TIMEOUT_MS)
      } catch (err) {
        logOk = false
        error = (err as Error).message
      }
      const ok = logOk && state.isReady
      return reply
        .code(ok ? 200 : 503)
        .type('application/json; charset=utf-8')
        .send(
          JSON.stringify({
            status: ok ? 'ok' : 'unavailable',
            log: logOk ? 'ok' : 'unreachable',
            ready: state.isReady,
            lag,
            ...(error ? { error } : {}),
          }),
        )
    },
  )

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text exposition format 0.0.4)', tags: ['operations'] } },
    async (_request, reply) => {
      const s = state.stats()
      const h = hub.stats()
      let lag = Number.NaN
      try {
        lag = await withTimeout(state.lag(), HEALTH_TIMEOUT_MS)
      } catch {}
      const g = (name: string, help: string, value: number): Metric => ({
        name,
        help,
        type: 'gauge',
        samples: [{ value }],
      })
      const c = (name: string, help: string, value: number): Metric => ({
        name,
        help,
        type: 'counter',
        samples: [{ value }],
      })
      const metrics: Metric[] = [
        {
          name: 'ofa_http_requests_total',
          help: 'HTTP requests answered, by method, route and status.',
          type: 'counter',
          samples: ctx.requests.samples(),
        },
        c(
          'ofa_serve_observations_ingested_total',
          'Records applied from ofa_assets (replay included).',
          s.observations,
        ),
        c('ofa_serve_registry_records_total', 'Records applied from ofa_registry.', s.registryRecords),
        c('ofa_serve_invalid_records_total', 'Records skipped because they are not valid.', s.invalidRecords),
        c(
          'ofa_serve_availability_expiries_total',
          'avail UNAVAILABLE written because a heartbeat TTL passed.',
          s.expiries,
        ),
        c('ofa_serve_commands_sent_total', 'Commands sent through this server.', state.commands.sent),
        g('ofa_serve_commands_tracked', 'Commands kept for lookups.', s.commands),
        g('ofa_serve_state_assets', 'Assets in the state.', s.assets),
        g('ofa_serve_state_items', 'uuid|id entries in the current-state table.', s.items),
        g('ofa_serve_ready', '1 once the state has caught up with the log.', s.ready ? 1 : 0),
        g('ofa_serve_lag_records', 'Records on the log not yet applied to the state (NaN: log unreachable).', lag),
        g('ofa_serve_subscribers', 'Open WebSocket and SSE connections.', h.connections),
        g('ofa_serve_subscriptions', 'Live subscriptions.', h.subscriptions),
        c('ofa_serve_updates_sent_total', 'Update messages sent to subscribers.', h.updatesSent),
        c(
          'ofa_serve_slow_consumers_dropped_total',
          'Connections dropped because they did not keep up.',
          h.slowConsumersDropped,
        ),
        g('process_resident_memory_bytes', 'Resident memory size in bytes.', process.memoryUsage.rss()),
        g('process_uptime_seconds', 'Seconds since the app was created.', (Date.now() - ctx.startedAt) / 1000),
      ]
      if (ctx.extraMetrics) {
        try {
          metrics.push(...(await withTimeout(ctx.extraMetrics(), HEALTH_TIMEOUT_MS)))
        } catch {
          // What runs beside the app did not answer in time: its metrics are left out of this scrape.
        }
      }
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(metrics))
    },
  )
}
