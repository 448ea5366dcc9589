/** History routes (a Fastify plugin): `GET /api/assets/{uuid}/history`, observations read back from the log. */
import { OpenFactoryError, parseTime } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { readHistory } from './history.ts'
import { assetNotFound, sendJsonText } from './replies.ts'
import { cursorSchema, errorResponses, limitSchema, pageSchema, timeSchema, uuidParams } from './schemas.ts'

interface HistoryQuerystring {
  id?: string
  from?: string
  to?: string
  limit: number
  cursor?: string
}

function time(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  const t = parseTime(text)
  if (t === undefined) {
    throw new OpenFactoryError(
      'OFA_SERVE_REQUEST_INVALID',
      `query.${name} must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(text)}`,
      { where: { path: `query.${name}` } },
    )
  }
  return t
}

export const historyRoutes: FastifyPluginAsync = async (app) => {
  const { state, eventLog } = app

  app.get<{ Params: { uuid: string }; Querystring: HistoryQuerystring }>(
    '/api/assets/:uuid/history',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Observations of one asset from the log, in log order',
        description:
          'Reads the asset’s ofa_assets partition. `from`/`to` select by source time (inclusive), whatever the order of the records on the log (a backlog forwarded late included); `id` is one item id or a comma-separated list. A page reads a bounded number of records and may hold fewer than `limit` items while `nextCursor` is not null.',
        tags: ['assets'],
        params: uuidParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            id: { type: 'string', description: 'Item id(s), comma-separated' },
            from: timeSchema('Earliest source time'),
            to: timeSchema('Latest source time'),
            limit: limitSchema(10_000, 1000),
            cursor: cursorSchema,
          },
        },
        response: {
          200: pageSchema('HistoryItem#'),
          400: errorResponses[400],
          404: errorResponses[404],
          503: errorResponses[503],
        },
      },
    },
    async (request, reply) => {
      const uuid = request.params.uuid
      if (!state.has(uuid)) throw assetNotFound(uuid)
      const q = request.query
      const from = time(q.from, 'from')
      const to = time(q.to, 'to')
      if (from !== undefined && to !== undefined && from > to) {
        throw new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', 'query.from is after query.to', {
          where: { path: 'query.from' },
        })
      }
      const ids = q.id === undefined ? null : new Set(q.id.split(',').filter((s) => s !== ''))
      const page = await readHistory(eventLog, state.timeIndex, {
        uuid,
        ids: ids && ids.size > 0 ? ids : null,
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        limit: q.limit,
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      })
      const next = page.nextCursor === null ? 'null' : JSON.stringify(page.nextCursor)
      return sendJsonText(reply, `{"items":[${page.items.join(',')}],"nextCursor":${next}}`)
    },
  )
}
