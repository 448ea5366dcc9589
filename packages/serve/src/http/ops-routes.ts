/**
 * Operations (a Fastify plugin): `/healthz` (log reachable, state caught up and following it, writes to the log
 * succeeding), Prometheus
 * `/metrics` (`app.metrics` plus what runs beside the app), the OpenAPI document and Swagger UI.
 */
import swaggerUi from '@fastify/swagger-ui'
import { isOpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { type Metric, withTimeout } from './metrics.ts'
import { sendJsonText } from './replies.ts'

const HEALTH_TIMEOUT_MS = 2000

/** `OFA_CODE: message` for a coded error, else the message. */
function coded(err: Error): string {
  return isOpenFactoryError(err) ? `${err.code}: ${err.message}` : err.message
}

export interface OpsRoutesOptions {
  /** Serve Swagger UI at /api/docs. */
  readonly docs: boolean
  /** More metrics for /metrics, from what runs beside the app (an edge's forwarding...). */
  readonly extraMetrics?: () => Promise<readonly Metric[]>
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, opts) => {
  const { state, metrics, serving } = app

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        summary:
          'Health: 200 when the log answers, the state has caught up and follows it, and writes to the log succeed; else 503',
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
      const writeErrors: string[] = []
      try {
        const health = await withTimeout(state.logHealth(), HEALTH_TIMEOUT_MS)
        lag = health.lag
        for (const p of health.partitionErrors)
          writeErrors.push(`${p.topic} partition ${p.partition}: ${coded(p.error)}`)
      } catch (err) {
        logOk = false
        error = (err as Error).message
      }
      const failure = state.failure
      if (failure) error = coded(failure)
      const writeFailure = serving.writes.failure
      if (writeFailure) {
        writeErrors.unshift(
          `${writeFailure.code}: ${writeFailure.what} not written since ${new Date(writeFailure.since).toISOString()}: ${writeFailure.message}`,
        )
      }
      const writesOk = writeErrors.length === 0
      const ok = logOk && state.isReady && writesOk
      const body = {
        status: ok ? 'ok' : 'unavailable',
        log: logOk ? 'ok' : 'unreachable',
        ready: state.isReady,
        lag,
        writes: writesOk ? 'ok' : 'failing',
        ...(error ? { error } : {}),
        ...(writesOk ? {} : { writeError: writeErrors.slice(0, 4).join('; ') }),
      }
      return sendJsonText(reply, JSON.stringify(body), ok ? 200 : 503)
    },
  )

  app.get(
    '/metrics',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        tags: ['operations'],
        response: {
          200: {
            description: 'The metrics',
            content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      let extra: readonly Metric[] = []
      if (opts.extraMetrics) {
        try {
          extra = await withTimeout(opts.extraMetrics(), HEALTH_TIMEOUT_MS)
        } catch {
          // What runs beside the app did not answer in time: its metrics are left out of this scrape.
        }
      }
      return reply.type(metrics.contentType).send(await metrics.render(extra))
    },
  )

  app.get('/api/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () => app.swagger())
  if (opts.docs) await app.register(swaggerUi, { routePrefix: '/api/docs' })
}
