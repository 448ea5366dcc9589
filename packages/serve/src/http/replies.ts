/** Replies shared by the route plugins. */
import { OpenFactoryError } from '@openfactory/model'
import type { FastifyReply } from 'fastify'

export const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * Sends JSON text built by the route (the state keeps entries as JSON fragments; `bench/serve-rest.ts` measures
 * this path against a bare Fastify route). Fastify does not serialise a string: the tests check every such
 * body against the route's response schema in the OpenAPI document (test/helpers/http.ts).
 */
export function sendJsonText(reply: FastifyReply, text: string | Buffer, status = 200): FastifyReply {
  return reply.code(status).type(JSON_TYPE).send(text)
}

export function assetNotFound(uuid: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_ASSET_NOT_FOUND', `no asset ${JSON.stringify(uuid)}`, {
    where: { path: 'params.uuid' },
  })
}
