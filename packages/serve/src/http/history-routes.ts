/**
 * History routes (a Fastify plugin): `GET /api/assets/{uuid}/history`, observations read back from the log — raw
 * and paged, or downsampled into buckets (`buckets`/`interval`: history-downsample.ts) — and
 * `GET /api/assets/{uuid}/history/export`, a range streamed as CSV or JSON (history-export.ts).
 */
import { Readable } from 'node:stream'
import { OpenFactoryError, parseTime } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { assetPartition, readHistory } from './history.ts'
import { bucketCount, MAX_BUCKETS, readDownsampled } from './history-downsample.ts'
import { type ExportFormat, exportChunks } from './history-export.ts'
import { assetNotFound, JSON_TYPE, sendJsonText } from './replies.ts'
import { cursorSchema, errorResponses, pageSchema, timeSchema, uuidParams } from './schemas.ts'

export interface HistoryRoutesOptions {
  /** Offsets of a partition one downsampled-history request may read (`maxHistoryScanRecords`). */
  readonly maxScanRecords: number
}

interface HistoryQuerystring {
  id?: string
  from?: string
  to?: string
  limit?: number
  cursor?: string
  buckets?: number
  interval?: number
}

interface ExportQuerystring {
  format: ExportFormat
  id?: string
  from: string
  to: string
}

/** The page size of raw history when `limit` is not given. */
const DEFAULT_LIMIT = 1000

/** Epoch ms that `Date` can show (±8.64e15): a time past them is no time. */
const MAX_TIME = 8.64e15

function invalid(path: string, message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', message, { where: { path } })
}

/** A time of the query (`query.<name>`): ISO-8601 or epoch milliseconds; undefined when absent. */
export function queryTime(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  const t = parseTime(text)
  if (t === undefined || Math.abs(t) > MAX_TIME) {
    throw invalid(
      `query.${name}`,
      `query.${name} must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(text)}`,
    )
  }
  return t
}

/** `id=a,b,a`: the ids in the order given, each once; null when absent or empty. */
function itemIds(text: string | undefined): string[] | null {
  if (text === undefined) return null
  const ids = [...new Set(text.split(',').filter((s) => s !== ''))]
  return ids.length > 0 ? ids : null
}

/** `from` ≤ `to`, both given. */
function ordered(from: number, to: number, toGiven: boolean): void {
  if (from > to) {
    throw invalid('query.from', toGiven ? 'query.from is after query.to' : 'query.from is after now (query.to)')
  }
}

/** Safe in a quoted `filename` of Content-Disposition: letters, digits, `.`, `_`, `-`; anything else `_`. */
function fileName(uuid: string, ext: string): string {
  return `${uuid.replace(/[^A-Za-z0-9._-]/g, '_')}-history.${ext}`
}

export const historyRoutes: FastifyPluginAsync<HistoryRoutesOptions> = async (app, opts) => {
  const { state, eventLog } = app

  app.get<{ Params: { uuid: string }; Querystring: HistoryQuerystring }>(
    '/api/assets/:uuid/history',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Observations of one asset from the log: in log order, or downsampled into time buckets',
        description:
          'Reads the asset’s ofa_assets partition. `from`/`to` select by source time (inclusive), whatever the order of the records on the log (a backlog forwarded late included); `id` is one item id or a comma-separated list. Raw: a page reads a bounded number of records and may hold fewer than `limit` items while `nextCursor` is not null. With `buckets` or `interval` (then `from` is required, `to` defaults to now, `limit` and `cursor` are refused): one series per item, each bucket with count, min/max/avg of the numeric values and the first and last value by source time.',
        tags: ['assets'],
        params: uuidParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            id: { type: 'string', description: 'Item id(s), comma-separated' },
            from: timeSchema('Earliest source time'),
            to: timeSchema('Latest source time'),
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: 10_000,
              description: `Page size (1–10000, default ${DEFAULT_LIMIT}); not with buckets or interval`,
            },
            cursor: cursorSchema,
            buckets: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_BUCKETS,
              description: `Downsample into this many buckets (1–${MAX_BUCKETS}) of equal length over [from, to]`,
            },
            interval: {
              type: 'integer',
              minimum: 1,
              description: `Downsample into buckets of this many milliseconds (at most ${MAX_BUCKETS} buckets over [from, to])`,
            },
          },
        },
        response: {
          200: { oneOf: [pageSchema('HistoryItem#'), { $ref: 'DownsampledHistory#' }] },
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
      const from = queryTime(q.from, 'from')
      const givenTo = queryTime(q.to, 'to')
      if (from !== undefined && givenTo !== undefined) ordered(from, givenTo, true)
      const ids = itemIds(q.id)
      if (q.buckets === undefined && q.interval === undefined) {
        const page = await readHistory(eventLog, state.timeIndex, {
          uuid,
          ids: ids === null ? null : new Set(ids),
          ...(from !== undefined ? { from } : {}),
          ...(givenTo !== undefined ? { to: givenTo } : {}),
          limit: q.limit ?? DEFAULT_LIMIT,
          ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        })
        const next = page.nextCursor === null ? 'null' : JSON.stringify(page.nextCursor)
        return sendJsonText(reply, `{"items":[${page.items.join(',')}],"nextCursor":${next}}`)
      }
      if (q.buckets !== undefined && q.interval !== undefined) {
        throw invalid('query.interval', 'give buckets or interval, not both')
      }
      if (q.limit !== undefined)
        throw invalid('query.limit', 'limit pages the raw history: not with buckets or interval')
      if (q.cursor !== undefined) {
        throw invalid('query.cursor', 'cursor pages the raw history: not with buckets or interval')
      }
      if (from === undefined) throw invalid('query.from', 'a downsampled history (buckets or interval) needs from')
      const to = givenTo ?? Date.now()
      ordered(from, to, givenTo !== undefined)
      let intervalMs: number
      if (q.buckets !== undefined) intervalMs = Math.max(1, Math.ceil((to - from) / q.buckets))
      else {
        intervalMs = q.interval as number
        const count = bucketCount(from, to, intervalMs)
        if (count > MAX_BUCKETS) {
          throw invalid(
            'query.interval',
            `an interval of ${intervalMs} ms cuts the range into ${count} buckets, more than ${MAX_BUCKETS}: make it at least ${Math.ceil((to - from) / MAX_BUCKETS)} ms`,
          )
        }
      }
      const body = await readDownsampled(eventLog, state.timeIndex, {
        uuid,
        ids,
        from,
        to,
        intervalMs,
        maxScanRecords: opts.maxScanRecords,
      })
      return sendJsonText(reply, body)
    },
  )

  app.get<{ Params: { uuid: string }; Querystring: ExportQuerystring }>(
    '/api/assets/:uuid/history/export',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Every observation of one asset in a time range, streamed as CSV or JSON',
        description:
          'Every observation of the range whose source time is in [from, to] (inclusive), in log order, without paging: CSV with the header row `timestamp,id,tag,type,value,units,offset` (RFC 4180), or a JSON array of history items. Sent as an attachment (`Content-Disposition`), streamed as the log is read.',
        tags: ['assets'],
        params: uuidParams,
        querystring: {
          type: 'object',
          required: ['format', 'from', 'to'],
          additionalProperties: false,
          properties: {
            format: { type: 'string', enum: ['csv', 'json'] },
            id: { type: 'string', description: 'Item id(s), comma-separated' },
            from: timeSchema('Earliest source time'),
            to: timeSchema('Latest source time'),
          },
        },
        response: {
          200: {
            description: 'The observations: a CSV file or a JSON array',
            content: {
              'text/csv': { schema: { type: 'string' } },
              'application/json': { schema: { type: 'array', items: { $ref: 'HistoryItem#' } } },
            },
          },
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
      const from = queryTime(q.from, 'from') as number
      const to = queryTime(q.to, 'to') as number
      ordered(from, to, true)
      const ids = itemIds(q.id)
      const part = await assetPartition(eventLog, uuid)
      const chunks = exportChunks(eventLog, state.timeIndex, part, {
        uuid,
        ids: ids === null ? null : new Set(ids),
        from,
        to,
        format: q.format,
      })
      // The first chunk comes after the first read: a log that cannot be read is answered with an error, not
      // with a file cut short.
      const first = await chunks.next()
      async function* rest(): AsyncGenerator<string> {
        if (!first.done) yield first.value
        yield* chunks
      }
      const csv = q.format === 'csv'
      return reply
        .code(200)
        .type(csv ? 'text/csv; charset=utf-8' : JSON_TYPE)
        .header('content-disposition', `attachment; filename="${fileName(uuid, q.format)}"`)
        .send(Readable.from(rest(), { objectMode: false, highWaterMark: 64 * 1024 }))
    },
  )
}
