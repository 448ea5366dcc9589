/**
 * Alert routes (a Fastify plugin): `GET /api/alerts` lists the open alerts (viewer: `read`; a principal with scopes
 * sees those of its assets only), `POST /api/alerts/{uuid}/{rule}/ack` acknowledges one (operator: `command`;
 * scoped by the asset like a method call; on the audit trail as `ack alert <rule>`).
 *
 * The alerts themselves are @openfactory/alerts' (its view of `ofa_alerts`); this package does not import it: the
 * runtime passes it in as `AlertsApi` (DESIGN §4: engine packages are given what the edge needs as interfaces).
 * Without one (no alerts app in the factory) the list is empty and every ack is a 404 `OFA_ALERT_NOT_FOUND`.
 *
 * An ack is not written as an alert event here: the API writes an ack request that the alerts app turns into the
 * `acknowledged` event, once (a repeated request acknowledges once); the route waits for it up to `timeout_ms` —
 * 200 with the acknowledged alert, else 202 with the alert as it was (the ack is on its way).
 */
import { OpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { inScope } from '../auth/policy.ts'
import { sendJsonText } from './replies.ts'
import { errorResponses } from './schemas.ts'

/** An alert as `ofa_alerts` carries it (@openfactory/alerts' `AlertEvent`: its last event). */
export interface AlertRecord {
  readonly rule: string
  readonly asset: string
  readonly app: string
  readonly state: 'raised' | 'acknowledged' | 'cleared'
  readonly severity: 'info' | 'warning' | 'critical'
  readonly at: string
  readonly raisedAt: string
  readonly message: string
  readonly item?: string
  readonly value?: unknown
  readonly by?: string
  readonly active?: boolean
  readonly acked?: boolean
}

/** What the runtime gives the routes (@openfactory/alerts' `openAlertsView`). */
export interface AlertsApi {
  /** The open alerts (not both cleared and acknowledged), the most recently changed first. */
  list(): readonly AlertRecord[]
  /** Acknowledges an open alert; throws OFA_ALERT_NOT_FOUND when there is none. */
  ack(
    asset: string,
    rule: string,
    by: string,
    opts: { readonly timeoutMs: number },
  ): Promise<{ readonly alert: AlertRecord; readonly written: boolean; readonly confirmed: boolean }>
}

export interface AlertRoutesOptions {
  readonly alerts?: AlertsApi
  /** How long an ack waits for its `acknowledged` event when the request gives no `timeout_ms` (default 5000). */
  readonly ackTimeoutMs?: number
}

const alertSchema = {
  type: 'object',
  required: ['rule', 'asset', 'app', 'state', 'severity', 'at', 'raisedAt', 'message'],
  properties: {
    rule: { type: 'string' },
    asset: { type: 'string' },
    app: { type: 'string' },
    state: { type: 'string', enum: ['raised', 'acknowledged', 'cleared'] },
    severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
    at: { type: 'string', description: 'ISO-8601: when this change happened' },
    raisedAt: { type: 'string', description: 'ISO-8601: when the alert was raised' },
    message: { type: 'string' },
    item: { type: 'string' },
    value: {},
    by: { type: 'string', description: 'Who acknowledged it' },
    active: { type: 'boolean', description: 'The rule still holds (false once cleared)' },
    acked: { type: 'boolean' },
  },
} as const

export const alertRoutes: FastifyPluginAsync<AlertRoutesOptions> = async (app, opts) => {
  const { state } = app
  const maxTimeout = 60_000

  app.get(
    '/api/alerts',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Open alerts',
        description:
          'Every alert not both cleared and acknowledged, the most recently changed first: its last event on `ofa_alerts`.',
        tags: ['alerts'],
        response: {
          200: {
            type: 'object',
            required: ['items'],
            additionalProperties: false,
            properties: { items: { type: 'array', items: alertSchema } },
          },
        },
      },
    },
    async (request, reply) => {
      const who = request.principal
      const all = opts.alerts?.list() ?? []
      const alerts = who && who.scopes.length > 0 ? all.filter((a) => inScope(who, a.asset, state)) : all
      return sendJsonText(reply, JSON.stringify({ items: alerts }))
    },
  )

  app.post<{ Params: { uuid: string; rule: string }; Querystring: { timeout_ms?: number } }>(
    '/api/alerts/:uuid/:rule/ack',
    {
      config: { access: 'command' },
      schema: {
        summary: 'Acknowledge an alert',
        description:
          'Asks the alerts app that raised it to acknowledge the open alert `rule` of asset `uuid` and waits up to `timeout_ms` for its `acknowledged` event: 200 with it; 202 with the alert as it was when none came in time. An alert already acknowledged: 200, nothing written.',
        tags: ['alerts'],
        params: {
          type: 'object',
          required: ['uuid', 'rule'],
          additionalProperties: false,
          properties: { uuid: { type: 'string', minLength: 1 }, rule: { type: 'string', minLength: 1 } },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            timeout_ms: {
              type: 'integer',
              minimum: 0,
              maximum: maxTimeout,
              description: `How long to wait for the acknowledged event (default ${opts.ackTimeoutMs ?? 5000})`,
            },
          },
        },
        response: { 200: alertSchema, 202: alertSchema, 404: errorResponses[404] },
      },
    },
    async (request, reply) => {
      const { uuid, rule } = request.params
      if (!opts.alerts) {
        throw new OpenFactoryError('OFA_ALERT_NOT_FOUND', `no open alert ${rule} on ${uuid}: no alerts app runs here`, {
          where: { path: 'params' },
        })
      }
      const who = request.principal
      const by = who?.id ?? 'anonymous'
      const result = await opts.alerts.ack(uuid, rule, by, {
        timeoutMs: request.query.timeout_ms ?? opts.ackTimeoutMs ?? 5000,
      })
      if (result.written) {
        await app.audit
          ?.record({
            who: by,
            kind: 'command',
            action: `ack alert ${rule}`,
            target: uuid,
            outcome: result.confirmed ? 'acknowledged' : 'ack requested',
            from: request.ip,
          })
          .catch((err: Error) => request.log.error({ err }, 'audit record not written'))
      }
      return sendJsonText(reply, JSON.stringify(result.alert), result.confirmed ? 200 : 202)
    },
  )
}
