/**
 * Asset routes (a Fastify plugin): the registry with current state, `GET /api/assets` and `GET /api/assets/{uuid}`.
 * It owns the cache of `GET /api/assets/{uuid}` answers (emptied when the app closes).
 */
import { isoFromMs, OpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { inScope } from '../auth/policy.ts'
import { decodeCursor, encodeCursor } from '../internal/cursor.ts'
import { matchUnsLevels, splitUns, validateUnsPattern } from '../state/uns-pattern.ts'
import { queryTime } from './history-routes.ts'
import { assetNotFound, JSON_TYPE, sendJsonText } from './replies.ts'
import { cursorSchema, errorResponses, limitSchema, pageAtSchema, timeSchema, uuidParams } from './schemas.ts'

export interface AssetRoutesOptions {
  /** Bytes of `GET /api/assets/{uuid}` bodies kept between changes of their asset (0: none). */
  readonly responseCacheBytes: number
  /** Offsets of `ofa_assets` one `?at=` request may read (`maxHistoryScanRecords`). */
  readonly maxScanRecords: number
}

interface ListQuery {
  type?: string
  availability?: 'AVAILABLE' | 'UNAVAILABLE'
  uns?: string
  limit: number
  cursor?: string
  at?: string
}

const atSchema = timeSchema(
  'The instant to read the state at: every record of ofa_assets appended (record time) at or before it',
)

/**
 * Bodies of `GET /api/assets/{uuid}` as built for an asset version, least recently used first out past
 * `maxBytes` (UTF-8 bytes): an asset read again before it changes costs a lookup. Kept for speed:
 * `bench/serve-rest.ts` (cached answers ≈ 1.3–1.5× built ones). Bodies are strings, as the text they are built
 * as: Node writes a string body with the response head in one write (a Buffer takes a `writev` of both).
 */
export class ResponseCache {
  readonly #entries = new Map<string, { version: number; body: string; bytes: number }>()
  readonly #maxBytes: number
  #bytes = 0

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  get(key: string, version: number): string | undefined {
    const e = this.#entries.get(key)
    if (e === undefined || e.version !== version) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, e)
    return e.body
  }

  set(key: string, version: number, body: string): void {
    const old = this.#entries.get(key)
    if (old) {
      this.#bytes -= old.bytes
      this.#entries.delete(key)
    }
    // (Past maxBytes in UTF-16 units, its UTF-8 bytes are too: no need to count them.)
    if (body.length > this.#maxBytes) return
    const bytes = Buffer.byteLength(body, 'utf8')
    if (bytes > this.#maxBytes) return
    this.#entries.set(key, { version, body, bytes })
    this.#bytes += bytes
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break
      this.#entries.delete(k)
      this.#bytes -= e.bytes
    }
  }

  clear(): void {
    this.#entries.clear()
    this.#bytes = 0
  }

  get bytes(): number {
    return this.#bytes
  }
}

export const assetRoutes: FastifyPluginAsync<AssetRoutesOptions> = async (app, opts) => {
  const { state } = app
  const cache = new ResponseCache(opts.responseCacheBytes)
  app.addHook('onClose', async () => cache.clear())

  app.get<{ Querystring: ListQuery }>(
    '/api/assets',
    {
      config: { access: 'read' },
      schema: {
        summary: 'List assets',
        description:
          'Assets known from ofa_registry or ofa_assets, sorted by UUID, filtered and paginated. With `at`: availability (in the answer and for the filter) as the log held it then.',
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
            at: atSchema,
          },
        },
        response: {
          200: pageAtSchema('AssetSummary#'),
          400: errorResponses[400],
        },
      },
    },
    async (request, reply) => {
      const q = request.query
      const at = queryTime(q.at, 'at')
      const asOf = at === undefined ? undefined : state.asOf(at, { maxScanRecords: opts.maxScanRecords })
      const uns = q.uns === undefined ? undefined : validateUnsPattern(q.uns, 'OFA_SERVE_REQUEST_INVALID', 'query.uns')
      const after = q.cursor === undefined ? undefined : decodeCursor('assets', q.cursor).a
      if (q.cursor !== undefined && typeof after !== 'string') {
        throw new OpenFactoryError('OFA_SERVE_CURSOR_INVALID', 'cursor was not produced by this route', {
          where: { path: 'query.cursor' },
        })
      }
      const uuids = state.sortedUuids()
      // A caller with scopes lists the assets in them only.
      const scoped = request.principal?.scopes.length ? request.principal : undefined
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
        if (scoped && !inScope(scoped, uuid, state)) continue
        if (asOf === undefined && q.availability !== undefined && state.availability(uuid) !== q.availability) continue
        if (uns !== undefined) {
          const path = state.unsPath(uuid)
          if (!path || matchUnsLevels(splitUns(uns, path.separator), path.levels) === false) continue
        }
        const view = state.asset(uuid)
        if (!view || (q.type !== undefined && view.type !== q.type)) continue
        // As of `at`: availability then (read last, after the filters that cost nothing).
        const availability = asOf === undefined ? view.availability : await asOf.availability(uuid)
        if (q.availability !== undefined && availability !== q.availability) continue
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
            availability,
            declared: view.declared,
          }),
        )
        last = uuid
      }
      const next = more && last !== undefined ? JSON.stringify(encodeCursor('assets', { a: last })) : 'null'
      const atMember = at === undefined ? '' : `,"at":"${isoFromMs(at)}"`
      return sendJsonText(reply, `{"items":[${items.join(',')}],"nextCursor":${next}${atMember}}`)
    },
  )

  app.get<{ Params: { uuid: string }; Querystring: { at?: string } }>(
    '/api/assets/:uuid',
    {
      config: { access: 'read' },
      schema: {
        summary: 'One asset: its model and the current state of every data item (or as of `at`)',
        description:
          'With `at`: every entry as the log held it at that instant (records appended at or before it, folded as the live state folds them), availability then too; the identity (declaration, UNS, data items, methods) is the current one.',
        tags: ['assets'],
        params: uuidParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { at: atSchema },
        },
        response: { 200: { $ref: 'Asset#' }, 400: errorResponses[400], 404: errorResponses[404] },
      },
    },
    // Not an async handler: the current state is answered without a promise (bench/serve-rest.ts); `at` returns one.
    (request, reply) => {
      const uuid = request.params.uuid
      const version = state.version(uuid)
      if (version === undefined) throw assetNotFound(uuid)
      if (request.query.at !== undefined) return answerAt(uuid, queryTime(request.query.at, 'at') as number, reply)
      let body = cache.get(uuid, version)
      if (body === undefined) {
        body = state.answerJson(uuid) as string
        cache.set(uuid, version, body)
      }
      reply.code(200).type(JSON_TYPE).send(body)
    },
  )

  async function answerAt(uuid: string, at: number, reply: FastifyReply): Promise<FastifyReply> {
    const view = state.asset(uuid) as NonNullable<ReturnType<typeof state.asset>>
    const then = await state.asOf(at, { maxScanRecords: opts.maxScanRecords }).asset(uuid)
    if (then === undefined) throw assetNotFound(uuid)
    const head = JSON.stringify({ ...view, availability: then.availability })
    return sendJsonText(reply, `${head.slice(0, -1)},"state":[${then.items.join(',')}],"at":"${isoFromMs(at)}"}`)
  }
}
