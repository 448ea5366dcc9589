/**
 * HTTP errors: every 4xx/5xx answer is `{"error": {"code": "OFA_...", "message", "where"?}}` (DESIGN §4).
 * Fastify's own errors (schema validation, bad JSON, unsupported media type, body too large) are mapped to
 * `OFA_SERVE_REQUEST_INVALID` with their status; anything unexpected is a 500 `OFA_SERVE_INTERNAL`.
 */
import { type ErrorCode, isOpenFactoryError, OpenFactoryError, type Where } from '@openfactory/model'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

const STATUS: Partial<Record<ErrorCode, number>> = {
  OFA_SERVE_REQUEST_INVALID: 400,
  OFA_SERVE_ARGUMENTS_INVALID: 400,
  OFA_SERVE_CURSOR_INVALID: 400,
  OFA_SERVE_MESSAGE_INVALID: 400,
  OFA_SERVE_ROUTE_NOT_FOUND: 404,
  OFA_SERVE_ASSET_NOT_FOUND: 404,
  OFA_SERVE_METHOD_NOT_FOUND: 404,
  OFA_SERVE_COMMAND_NOT_FOUND: 404,
  OFA_SERVE_UNAVAILABLE: 503,
  OFA_LOG_CLOSED: 503,
  OFA_LOG_IO: 503,
  OFA_SERVE_INTERNAL: 500,
}

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500
}

export function errorBody(code: ErrorCode, message: string, where?: Where): string {
  return JSON.stringify({ error: where ? { code, message, where } : { code, message } })
}

export function sendError(reply: FastifyReply, err: OpenFactoryError): FastifyReply {
  return reply
    .code(statusOf(err.code))
    .type('application/json; charset=utf-8')
    .send(errorBody(err.code, err.message, err.where))
}

/** `querystring` + `/limit` → `query.limit`. */
function validationPath(context: string | undefined, instancePath: string, missing?: unknown): string {
  const ctx = context === 'querystring' ? 'query' : (context ?? 'request')
  const parts = instancePath.split('/').filter((p) => p !== '')
  if (typeof missing === 'string') parts.push(missing)
  return [ctx, ...parts].join('.')
}

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation && err.validation.length > 0) {
    const first = err.validation[0] as {
      instancePath: string
      message?: string
      params?: { additionalProperty?: string; missingProperty?: string }
    }
    const extra = first.params?.additionalProperty
    const path = validationPath(err.validationContext, first.instancePath, extra ?? first.params?.missingProperty)
    const message =
      extra !== undefined ? `${path} is not a known parameter` : `${path} ${first.message ?? 'is invalid'}`
    return sendError(reply, new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', message, { where: { path } }))
  }
  if (isOpenFactoryError(err)) {
    if (statusOf(err.code) >= 500) request.log.error({ err }, 'request failed')
    return sendError(reply, err)
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500
  if (status >= 400 && status < 500) {
    return reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send(errorBody('OFA_SERVE_REQUEST_INVALID', err.message))
  }
  request.log.error({ err }, 'request failed')
  return reply
    .code(500)
    .type('application/json; charset=utf-8')
    .send(errorBody('OFA_SERVE_INTERNAL', 'internal error; see the server log'))
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(
    reply,
    new OpenFactoryError('OFA_SERVE_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
  )
}
