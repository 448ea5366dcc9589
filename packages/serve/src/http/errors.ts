/**
 * HTTP errors: every 4xx/5xx answer is `{"error": {"code": "OFA_...", "message", "where"?}}` (DESIGN §4), also
 * where Fastify or Node.js would answer in their own format:
 * - `errorHandler`: errors thrown by routes and hooks; Fastify's own (schema validation, a body too large, an
 *   unsupported media type) are mapped to our codes with their status; anything unexpected is a 500
 *   `OFA_SERVE_INTERNAL`;
 * - `frameworkErrors`: what Fastify's router finds before any route runs (a URL whose percent-encoding is not
 *   UTF-8, such as `%FF`; a path parameter longer than the limit);
 * - `clientErrorHandler`: what Node's HTTP parser refuses before Fastify sees a request (a request line or
 *   headers past Node's `maxHeaderSize`, 16 KiB by default; bytes that are not HTTP).
 * Messages never carry raw binary: client text in them is escaped (`printable`).
 */
import type { Socket } from 'node:net'
import {
  type ErrorCode,
  excerpt,
  isOpenFactoryError,
  OpenFactoryError,
  printable,
  type Where,
} from '@openfactory/model'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { type SecurityHeadersOptions, securityHeaderLines } from './security-headers.ts'

const STATUS: Partial<Record<ErrorCode, number>> = {
  OFA_SERVE_REQUEST_INVALID: 400,
  OFA_SERVE_ARGUMENTS_INVALID: 400,
  OFA_SERVE_CURSOR_INVALID: 400,
  OFA_SERVE_RANGE_TOO_LARGE: 400,
  OFA_SERVE_MESSAGE_INVALID: 400,
  OFA_SERVE_HOST_NOT_ALLOWED: 403,
  OFA_SERVE_ORIGIN_NOT_ALLOWED: 403,
  OFA_SERVE_ROUTE_NOT_FOUND: 404,
  OFA_SERVE_ASSET_NOT_FOUND: 404,
  OFA_SERVE_METHOD_NOT_FOUND: 404,
  OFA_SERVE_COMMAND_NOT_FOUND: 404,
  OFA_SERVE_DOCUMENT_NOT_FOUND: 404,
  OFA_ALERT_NOT_FOUND: 404,
  OFA_SERVE_TOO_LARGE: 413,
  OFA_SERVE_UNSUPPORTED_MEDIA_TYPE: 415,
  OFA_SERVE_RATE_LIMITED: 429,
  OFA_SERVE_UNAVAILABLE: 503,
  OFA_AUTH_REQUIRED: 401,
  OFA_AUTH_INVALID: 401,
  OFA_AUTH_FORBIDDEN: 403,
  OFA_AUTH_CONFIG: 400,
  OFA_SERVE_SUBSCRIPTION_LIMIT: 503,
  OFA_LOG_CLOSED: 503,
  OFA_LOG_IO: 503,
  OFA_LOG_CORRUPT: 503,
  OFA_SERVE_INTERNAL: 500,
  // The SQL engine's, on /api/tables: no such table, a key that is no value of the key's type, a lookup by key of a
  // table with several key columns.
  OFA_SQL_UNKNOWN_SOURCE: 404,
  OFA_SQL_VALUE: 400,
  OFA_SQL_UNSUPPORTED: 400,
}

/** The status an error code is answered with (`OFA_SERVE_TOO_LARGE` also with 414 and 431: `sendError`). */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500
}

export function errorBody(code: ErrorCode, message: string, where?: Where): string {
  const safeWhere = where?.path === undefined ? where : { ...where, path: printable(where.path) }
  const msg = printable(message)
  return JSON.stringify({ error: safeWhere ? { code, message: msg, where: safeWhere } : { code, message: msg } })
}

/** Answers with `err` in our shape; `status` overrides the code's own (414 and 431 for `OFA_SERVE_TOO_LARGE`). */
export function sendError(reply: FastifyReply, err: OpenFactoryError, status = statusOf(err.code)): FastifyReply {
  return reply
    .code(status)
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

/** Fastify's own request errors, by their code: ours, with the status to answer. */
function fastifyError(err: FastifyError): { error: OpenFactoryError; status: number } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { error: unsupportedMediaType(undefined), status: 415 }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        error: new OpenFactoryError('OFA_SERVE_TOO_LARGE', `the body is larger than ${bodyLimitOf(err)}`),
        status: 413,
      }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        error: new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', 'the body is not as long as its content-length says'),
        status: 400,
      }
    default:
      return null
  }
}

function bodyLimitOf(err: FastifyError): string {
  const m = /(\d+)/.exec(err.message)
  return m ? `${m[1]} bytes` : 'the limit'
}

/** 415: a body (or a POST without one) that is not `application/json`. */
export function unsupportedMediaType(contentType: string | undefined): OpenFactoryError {
  const given = contentType === undefined ? 'none' : JSON.stringify(excerpt(contentType, 100))
  return new OpenFactoryError(
    'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE',
    `the body must be JSON with content-type application/json (given: ${given})`,
    { where: { path: 'headers.content-type' } },
  )
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
    if (statusOf(err.code) >= 500 && err.code !== 'OFA_SERVE_SUBSCRIPTION_LIMIT') {
      request.log.error({ err }, 'request failed')
    }
    return sendError(reply, err)
  }
  const known = fastifyError(err)
  if (known) return sendError(reply, known.error, known.status)
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500
  if (status >= 400 && status < 500) {
    return sendError(reply, new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', err.message), status)
  }
  request.log.error({ err }, 'request failed')
  return sendError(reply, new OpenFactoryError('OFA_SERVE_INTERNAL', 'internal error; see the server log'), 500)
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = excerpt(request.url.split('?')[0] as string)
  return sendError(reply, new OpenFactoryError('OFA_SERVE_ROUTE_NOT_FOUND', `no route ${request.method} ${path}`))
}

/** A URL longer than `maxUrlBytes` (414). */
export function urlTooLong(maxUrlBytes: number): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_TOO_LARGE', `the URL (path and query) is longer than ${maxUrlBytes} bytes`, {
    where: { path: 'url' },
  })
}

/**
 * Fastify's `frameworkErrors`: errors its router finds before a route runs. `%FF` (percent-encoding that is not
 * UTF-8) in the path is a 400; a path parameter past Fastify's `maxParamLength` (set to the URL limit) a 414.
 */
export function frameworkErrors(maxUrlBytes: number) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH' || Buffer.byteLength(request.raw.url ?? '') > maxUrlBytes) {
      return sendError(reply, urlTooLong(maxUrlBytes), 414)
    }
    if (err.code === 'FST_ERR_BAD_URL') {
      const path = excerpt((request.raw.url ?? '').split('?')[0] as string)
      return sendError(
        reply,
        new OpenFactoryError(
          'OFA_SERVE_REQUEST_INVALID',
          `the URL path ${JSON.stringify(path)} is not valid: its percent-encoding does not decode to UTF-8 text`,
          { where: { path: 'url' } },
        ),
      )
    }
    return sendError(reply, new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', err.message), 400)
  }
}

const HTTP_METHOD = /^[A-Z]+ /

/**
 * Node's `clientError` (Fastify's `clientErrorHandler`): a request its parser refuses. A request line or headers
 * past `maxHeaderSize` (`HPE_HEADER_OVERFLOW`) is a 414 when the request line itself does not fit (its first line
 * is longer than the URL limit), else a 431; any other bytes that are not HTTP a 400. The answer is written on the
 * socket, which is then closed.
 */
export function clientErrorHandler(maxUrlBytes: number, security: SecurityHeadersOptions) {
  const headerLines = securityHeaderLines(security)
  return (cause: Error, socket: Socket): void => {
    const err = cause as Error & { code?: string; rawPacket?: unknown }
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    let status = 400
    let error: OpenFactoryError
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      const packet = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : Buffer.alloc(0)
      const head = packet.subarray(0, 16).toString('latin1')
      const eol = packet.indexOf(10)
      if (HTTP_METHOD.test(head) && (eol < 0 || eol > maxUrlBytes)) {
        status = 414
        error = urlTooLong(maxUrlBytes)
      } else {
        status = 431
        error = new OpenFactoryError(
          'OFA_SERVE_TOO_LARGE',
          'the request line and headers are larger than the server takes (Node.js maxHeaderSize, 16 KiB by default)',
          { where: { path: 'headers' } },
        )
      }
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408
      error = new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', 'the request did not arrive in time')
    } else {
      error = new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', 'the request is not valid HTTP/1.1')
    }
    if (socket.writable) {
      const body = errorBody(error.code, error.message, error.where)
      const reason =
        status === 414
          ? 'URI Too Long'
          : status === 431
            ? 'Request Header Fields Too Large'
            : status === 408
              ? 'Request Timeout'
              : 'Bad Request'
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headerLines}Connection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy()
  }
}
