/**
 * Keys and the audit trail over HTTP (auth/keys.ts, auth/audit.ts): `GET /api/auth/me` (who am I, any role),
 * `GET|POST /api/auth/keys`, `DELETE /api/auth/keys/{id}` and `GET /api/audit` (admin). A key is shown once, in the
 * answer to its creation; lists never show a key's hash. Every key change is on the audit trail.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { readAudit } from '../auth/audit.ts'
import { type ApiKeyRecord, createApiKey, MAX_SCOPES, readApiKeys, revokeApiKey } from '../auth/keys.ts'
import { ROLES } from '../auth/types.ts'
import { errorResponses } from './schemas.ts'

/** A key's record without its hash. */
export function publicKey({ sha256: _hash, ...rest }: ApiKeyRecord): Omit<ApiKeyRecord, 'sha256'> {
  return rest
}

export const authRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/api/auth/me',
    { config: { access: 'read' }, schema: { summary: 'The caller: its id, role and scopes', tags: ['auth'] } },
    async (request) => request.principal ?? null,
  )

  app.get(
    '/api/auth/keys',
    {
      config: { access: 'admin' },
      schema: { summary: 'The API keys (revoked ones too), without their secrets', tags: ['auth'] },
    },
    async () => ({ items: (await readApiKeys(app.eventLog)).map(publicKey) }),
  )

  app.post<{ Body: { name: string; role: string; scopes?: string[] } }>(
    '/api/auth/keys',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create an API key: the answer holds the key, shown this once',
        tags: ['auth'],
        body: {
          type: 'object',
          required: ['name', 'role'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            role: { type: 'string', enum: [...ROLES] },
            scopes: { type: 'array', maxItems: MAX_SCOPES, items: { type: 'string', minLength: 1, maxLength: 256 } },
          },
        },
        response: { 400: errorResponses[400] },
      },
    },
    async (request, reply) => {
      const by = request.principal?.id ?? 'anonymous'
      const { record, key } = await createApiKey(app.eventLog, { ...request.body, by })
      await app.audit?.record({
        who: by,
        kind: 'key',
        action: 'create key',
        target: record.id,
        outcome: `ok: ${record.role}`,
        from: request.ip,
      })
      return reply.code(201).send({ key, ...publicKey(record) })
    },
  )

  app.delete<{ Params: { id: string } }>(
    '/api/auth/keys/:id',
    { config: { access: 'admin' }, schema: { summary: 'Revoke an API key', tags: ['auth'] } },
    async (request) => {
      const by = request.principal?.id ?? 'anonymous'
      const record = await revokeApiKey(app.eventLog, request.params.id, by)
      await app.audit?.record({
        who: by,
        kind: 'key',
        action: 'revoke key',
        target: record.id,
        outcome: 'ok',
        from: request.ip,
      })
      return publicKey(record)
    },
  )

  app.get<{ Querystring: { since?: string; limit: number } }>(
    '/api/audit',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'The audit trail, oldest first: the last `limit` records at or after `since`',
        tags: ['auth'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
          },
        },
      },
    },
    async (request) => {
      if (request.query.since !== undefined && Number.isNaN(Date.parse(request.query.since))) {
        throw new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', 'since must be an ISO-8601 time')
      }
      return {
        items: await readAudit(app.eventLog, {
          ...(request.query.since ? { since: request.query.since } : {}),
          limit: request.query.limit,
        }),
      }
    },
  )
}
