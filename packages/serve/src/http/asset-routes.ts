/**
 * Asset routes: the registry with current state (`GET /api/assets`, `GET /api/assets/{uuid}`) and history from
 * the log (`GET /api/assets/{uuid}/history`).
 */
import { OpenFactoryError, parseTime } from '@openfactory/model'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { decodeCursor, encodeCursor } from '../internal/cursor.ts'
import { matchUnsLevels, splitUns, validateUnsPattern } from '../state/uns-pattern.ts'
import type { RouteContext } from './context.ts'
import { readHistory } from './history.ts'
import { cursorSchema, errorResponses, limitSchema, pageSchema, timeSchema, uuidParams } from './schemas.ts'

const JSON_TYPE = 'application/json; charset=utf-8'

export function sendJsonText(reply: FastifyReply, text: string, status = 200): FastifyReply {
  return reply.code(status).type(JSON_TYPE).send(text)
}

export function assetNotFound(uuid: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_ASSET_NOT_FOUND', `no asset ${JSON.stringify(uuid)}`, {
    where: { path: 'params.uuid' },
  })
}

interface ListQuery {
  type?: string
  availability?: 'AVAILABLE' | 'UNAVAILABLE'
  uns?: string
  limit: number
  cursor?: string
}

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

/**
 * Bodies of `GET /api/assets/{uuid}` as built for an asset version, least recently used first out past
 * `maxBytes`: an asset read again before it changes costs a lookup.
 */
export class ResponseCache {
  readonly #entries = new Map<string, { version: number; body: Buffer }>()
  readonly #maxBytes: number
  #bytes = 0

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  get(key: string, version: number): Buffer | undefined {
    const e = this.#entries.get(key)
    if (e === undefined || e.version !== version) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, e)
    return e.body
  }

  set(key: string, version: number, body: Buffer): void {
    const old = this.#entries.get(key)
    if (old) {
      this.#bytes -= old.body.length
      this.#entries.delete(key)
    }
    if (body.length > this.#maxBytes) return
    this.#entries.set(key, { version, body })
    this.#bytes += body.length
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break
      this.#entries.delete(k)
      this.#bytes -= e.body.length
    }
  }

  get bytes(): number {
    return this.#bytes
  }
}

export function registerAssetRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, log } = ctx
  const cache = new ResponseCache(ctx.responseCacheBytes)

  app.get<{ Querystring: ListQuery }>(
    '/api/assets',
    {
      schema: {
        summary: 'List assets',
        description: 'Assets known from ofa_registry or ofa_assets, sorted by UUID, filtered and paginated.',
        tags: ['assets'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            type: { type: 'string', description: 'Asset type (`Device`, `MTConnectAgent`, ...)' },
            availability: { type: 'string', enum: ['AVAILABLE', 'UNAVAILABLE'] },
            uns: { type: 'string', description: 'UNS pattern; `+` one level, `#` the rest' },
            limit: limitSchema(1000, 100),
            cursor: cursorSchema,
          },
        },
        response: {
          200: pageSchema('AssetSummary#'),
          400: errorResponses[400],
        },
      },
    },
    async (request, reply) => {
      const q = request.query
      const uns = q.uns === undefined ? undefined : validateUnsPattern(q.uns, 'OFA_SERVE_REQUEST_INVALID', 'query.uns')
      const after = q.cursor === undefined ? undefined : decodeCursor('assets', q.cursor).a
      if (q.cursor !== undefined && typeof after !== 'string') {
        throw new OpenFactoryError('OFA_SERVE_CURSOR_INVALID', 'cursor was not produced by this route', {
          where: { path: 'query.cursor' },
        })
      }
      const uuids = state.sortedUuids()
      let i = 0
      if (after !== undefined) {
        // First UUID after the cursor's (binary search: the list is sorted).
        let lo = 0
        let hi = uuids.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if ((uuids[mid] as string) <= (after as string)) lo = mid + 1
          else hi = mid
        }
        i = lo
      }
      const items: string[] = []
      let last: string | undefined
      let more = false
      for (; i < uuids.length; i++) {
        const uuid = uuids[i] as string
        if (q.availability !== undefined && state.availability(uuid) !== q.availability) continue
        if (uns !== undefined) {
          const path = state.unsPath(uuid)
          if (!path || matchUnsLevels(splitUns(uns, path.separator), path.levels) === false) continue
        }
        const view = state.asset(uuid)
        if (!view || (q.type !== undefined && view.type !== q.type)) continue
        if (items.length === q.limit) {
          more = true
          break
        }
        items.push(
          JSON.stringify({
            uuid: view.uuid,
            type: view.type,
            uns: view.uns,
            referencesAbove: view.referencesAbove,
            referencesBelow: view.referencesBelow,
            availability: view.availability,
            declared: view.declared,
          }),
        )
        last = uuid
      }
      const next = more && last !== undefined ? JSON.stringify(encodeCursor('assets', { a: last })) : 'null'
      return sendJsonText(reply, `{"items":[${items.join(',')}],"nextCursor":${next}}`)
    },
  )

  app.get<{ Params: { uuid: string } }>(
    '/api/assets/:uuid',
    {
      schema: {
        summary: 'One asset: its model and the current state of every data item',
        tags: ['assets'],
        params: uuidParams,
        response: { 200: { $ref: 'Asset#' }, 404: errorResponses[404] },
      },
    },
    async (request, reply) => {
      const uuid = request.params.uuid
      const version = state.version(uuid)
      if (version === undefined) throw assetNotFound(uuid)
      let body = cache.get(uuid, version)
      if (body === undefined) {
        const view = state.asset(uuid) as NonNullable<ReturnType<typeof state.asset>>
        const items: string[] = []
        for (const id of state.itemIds(uuid)) items.push(state.itemJson(uuid, id) as string)
        const head = JSON.stringify(view)
        body = Buffer.from(`${head.slice(0, -1)},"state":[${items.join(',')}]}`, 'utf8')
        cache.set(uuid, version, body)
      }
      return reply.code(200).type(JSON_TYPE).send(body)
    },
  )

  app.get<{ Params: { uuid: string }; Querystring: HistoryQuerystring }>(
    '/api/assets/:uuid/history',
    {
      schema: {
        summary: 'Observations of one asset from the log, oldest first',
        description:
          'Reads the asset’s ofa_assets partition. `from`/`to` select by source time (inclusive); `id` is one item id or a comma-separated list. A page scans a bounded number of records and may hold fewer than `limit` items while `nextCursor` is not null.',
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
      const page = await readHistory(log, {
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
