/**
 * Asset document routes (a Fastify plugin): `GET /api/documents` lists what devices sent about physical assets
 * (MTConnect `@ASSET@`, an agent's assets: cutting tools, parts...), `GET /api/documents/{id}` answers one
 * document's last body as it was sent (XML or JSON). From `serving.documents` (state/documents.ts).
 */
import type { FastifyPluginAsync } from 'fastify'
import { inScope } from '../auth/policy.ts'
import { documentNotFound } from '../state/documents.ts'
import { sendJsonText } from './replies.ts'
import { errorResponses } from './schemas.ts'

/** The content type of a body as sent: XML and JSON by their first character, else text. */
function contentTypeOf(body: string): string {
  const first = body.trimStart()[0]
  if (first === '<') return 'application/xml; charset=utf-8'
  if (first === '{' || first === '[') return 'application/json; charset=utf-8'
  return 'text/plain; charset=utf-8'
}

export const documentRoutes: FastifyPluginAsync = async (app) => {
  const documents = app.serving.documents
  app.get<{ Querystring: { asset?: string; removed?: boolean } }>(
    '/api/documents',
    {
      config: { access: 'read' },
      schema: {
        summary: 'Asset documents (MTConnect assets: cutting tools, parts...), newest first, without their bodies',
        tags: ['documents'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            asset: { type: 'string', minLength: 1, description: 'only the documents of this asset (device) UUID' },
            removed: { type: 'boolean', default: false, description: 'include documents the device removed' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['assetId', 'type', 'deviceUuid', 'timestamp', 'removed', 'bytes'],
                  properties: {
                    assetId: { type: 'string' },
                    type: { type: 'string', description: 'CuttingTool, Part, File...' },
                    deviceUuid: { type: 'string', description: 'the asset (device) that sent it' },
                    timestamp: { type: 'string' },
                    removed: { type: 'boolean' },
                    bytes: { type: 'integer', description: 'the size of its body (UTF-8)' },
                  },
                },
              },
            },
          },
          400: errorResponses[400],
        },
      },
    },
    async (request, reply) => {
      const { asset, removed } = request.query
      const p = request.principal
      const items = documents
        .list({ ...(asset !== undefined ? { asset } : {}), removed: removed === true })
        .filter((d) => !p?.scopes.length || inScope(p, d.deviceUuid, app.state))
      return sendJsonText(reply, JSON.stringify({ items }))
    },
  )
  app.get<{ Params: { id: string } }>(
    '/api/documents/:id',
    {
      config: { access: 'read' },
      schema: {
        summary: 'One asset document: its last body as the device sent it',
        tags: ['documents'],
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', minLength: 1 } },
        },
        response: {
          200: {
            description: 'The body as the device sent it',
            content: {
              'application/xml': { schema: { type: 'string' } },
              'application/json': { schema: {} },
              'text/plain': { schema: { type: 'string' } },
            },
          },
          404: errorResponses[404],
        },
      },
    },
    async (request, reply) => {
      const doc = documents.get(request.params.id)
      const p = request.principal
      // One out of the caller's scopes is not found, as one that does not exist.
      if (!doc || (p?.scopes.length && !inScope(p, doc.deviceUuid, app.state)))
        throw documentNotFound(request.params.id)
      return reply
        .header('content-type', contentTypeOf(doc.body))
        .header('x-ofa-asset-type', doc.type)
        .header('x-ofa-device-uuid', doc.deviceUuid)
        .header('x-ofa-timestamp', doc.timestamp)
        .header('x-ofa-removed', String(doc.removed))
        .send(doc.body)
    },
  )
}
