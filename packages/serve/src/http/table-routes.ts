/**
 * SQL tables over the REST API (a Fastify plugin, registered with the ksqlDB-compatible routes when the app has
 * an SQL engine): `GET /api/tables/{name}` answers a table's current rows — the same state a pull query reads,
 * caught up with the table's topic first — as JSON objects by column name; `?key=` the row of one key (text, cast
 * to the key column's type), `?limit=` at most that many rows (default 1000, at most 10 000). Values are written
 * as the ksqlDB-compatible answers write them (maps as objects, TIMESTAMP as ISO-8601 text, BYTES as base64).
 */
import type { SqlEngineApi } from '@openfactory/sql'
import type { FastifyPluginAsync } from 'fastify'
import { typeParser, wireValue } from './ksql-values.ts'
import { errorResponses } from './schemas.ts'

export const DEFAULT_TABLE_ROWS = 1000
export const MAX_TABLE_ROWS = 10_000

export const tableRoutes: FastifyPluginAsync<{ readonly sql: SqlEngineApi }> = async (app, { sql }) => {
  const parseType = typeParser((await import('@openfactory/sql')).parseExpression)
  app.get<{ Params: { name: string }; Querystring: { key?: string; limit: number } }>(
    '/api/tables/:name',
    {
      config: { access: 'read', allAssets: true },
      schema: {
        summary: "An SQL table's current rows (what a pull query reads), all of them or one key's",
        tags: ['sql'],
        params: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            key: { type: 'string', maxLength: 4096, description: "the key's value, as text" },
            limit: { type: 'integer', minimum: 1, maximum: MAX_TABLE_ROWS, default: DEFAULT_TABLE_ROWS },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['table', 'columns', 'rows'],
            properties: {
              table: { type: 'string' },
              columns: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'type', 'key'],
                  properties: { name: { type: 'string' }, type: { type: 'string' }, key: { type: 'boolean' } },
                },
              },
              rows: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          400: errorResponses[400],
          404: errorResponses[404],
        },
      },
    },
    async (request) => {
      const { key, limit } = request.query
      const controller = new AbortController()
      request.raw.once('close', () => controller.abort())
      const answer = await sql.tableRows(request.params.name, {
        ...(key !== undefined ? { key } : {}),
        limit,
        signal: controller.signal,
      })
      const types = answer.columns.map((c) => parseType(c.type))
      return {
        table: answer.table,
        columns: answer.columns,
        rows: answer.rows.map((row) =>
          Object.fromEntries(answer.columns.map((c, i) => [c.name, wireValue(row[i] ?? null, types[i])])),
        ),
      }
    },
  )
}
