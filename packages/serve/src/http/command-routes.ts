/**
 * Command routes (a Fastify plugin): `POST /api/assets/{uuid}/methods/{name}` sends `<name>_CMD` and waits (up to
 * `timeout_ms`) for a final `<name>_RESULT` — 200 with it, else 202 with the command so far and a `Location` to
 * poll; `GET /api/commands/{correlationId}` shows a command and its result. It owns the waits of calls in
 * progress: closing the app ends them (each answers with what it has).
 */
import { checkMethodArguments, OpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { isFinalStatus } from '../state/commands.ts'
import { assetNotFound, sendJsonText } from './replies.ts'
import { errorResponses } from './schemas.ts'

/**
 * Refuses a number that is not finite anywhere in the arguments, typed or not (`1e999` parses to Infinity, which
 * JSON carries on as `null`): the device must get what the caller wrote or nothing. Bodies are at most 64 levels
 * deep (`json-body.ts`), so the walk is shallow.
 */
function checkFinite(value: unknown, path = 'body'): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new OpenFactoryError(
        'OFA_SERVE_ARGUMENTS_INVALID',
        `${path} is not a finite number (a JSON number must fit a 64-bit float: at most about 1.8e308)`,
        { where: { path } },
      )
    }
    return
  }
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkFinite(value[i], `${path}[${i}]`)
    return
  }
  for (const [k, v] of Object.entries(value)) checkFinite(v, `${path}.${k}`)
}

export interface CommandRoutesOptions {
  /** How long a method call waits for its result when the request gives no `timeout_ms`. */
  readonly commandTimeoutMs: number
  /** The largest `timeout_ms` accepted. */
  readonly maxCommandTimeoutMs: number
}

export const commandRoutes: FastifyPluginAsync<CommandRoutesOptions> = async (app, opts) => {
  const { state, commands } = app
  const waiting = new Set<AbortController>()
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    for (const w of waiting) w.abort()
  })

  app.post<{
    Params: { uuid: string; name: string }
    Querystring: { timeout_ms?: number }
    Body: Record<string, unknown>
  }>(
    '/api/assets/:uuid/methods/:name',
    {
      config: { access: 'command' },
      schema: {
        summary: 'Call a method of an asset',
        description:
          'Sends `<name>_CMD` with the body as arguments and waits up to `timeout_ms` for a final `<name>_RESULT` (completed, failed, rejected, timeout): 200 with it. When none came in time: 202 with the command so far (`pending` or `accepted`); poll `Location`.',
        tags: ['commands'],
        params: {
          type: 'object',
          required: ['uuid', 'name'],
          additionalProperties: false,
          properties: { uuid: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 } },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            timeout_ms: {
              type: 'integer',
              minimum: 0,
              maximum: opts.maxCommandTimeoutMs,
              description: `How long to wait for the result (default ${opts.commandTimeoutMs})`,
            },
          },
        },
        body: { type: 'object', additionalProperties: true, description: 'Arguments by name' },
        response: {
          200: { description: 'The command with its final result', $ref: 'Command#' },
          202: { description: 'Sent; no final result yet', $ref: 'Command#' },
          400: errorResponses[400],
          404: errorResponses[404],
          415: errorResponses[415],
          503: errorResponses[503],
        },
      },
      // A call without arguments may come without a body.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
    },
    async (request, reply) => {
      const { uuid, name } = request.params
      const view = state.asset(uuid)
      if (!view) throw assetNotFound(uuid)
      const method = view.methods.find((m) => m.name === name)
      if (!method) {
        const known = view.methods.map((m) => m.name).join(', ') || 'none'
        throw new OpenFactoryError('OFA_SERVE_METHOD_NOT_FOUND', `${uuid} has no method ${name} (methods: ${known})`, {
          where: { path: 'params.name' },
        })
      }
      checkMethodArguments(method, request.body, { code: 'OFA_SERVE_ARGUMENTS_INVALID', path: 'body' })
      checkFinite(request.body)
      const who = request.principal
      const sent = await commands.send({
        assetUuid: uuid,
        method: name,
        arguments: request.body,
        // The verified caller; none when authentication is off (nobody was verified).
        ...(who && who.kind !== 'open' ? { signature: who.id } : {}),
      })
      const timeoutMs = request.query.timeout_ms ?? opts.commandTimeoutMs
      const abort = new AbortController()
      const onClose = () => abort.abort()
      reply.raw.once('close', onClose)
      waiting.add(abort)
      if (closing) abort.abort()
      const record = (await commands.wait(sent.correlationId, { timeoutMs, signal: abort.signal })) ?? sent
      waiting.delete(abort)
      reply.raw.off('close', onClose)
      await app.audit
        ?.record({
          who: who?.id ?? 'anonymous',
          kind: 'command',
          action: `call ${name}`,
          target: uuid,
          arguments: request.body,
          outcome: `${record.status}${record.result !== undefined ? `: ${JSON.stringify(record.result).slice(0, 1000)}` : ''}`,
          from: request.ip,
        })
        .catch((err: Error) => request.log.error({ err }, 'audit record not written'))
      if (isFinalStatus(record.status)) return sendJsonText(reply, JSON.stringify(record))
      reply.header('location', `/api/commands/${encodeURIComponent(record.correlationId)}`)
      return sendJsonText(reply, JSON.stringify(record), 202)
    },
  )

  app.get<{ Params: { correlationId: string } }>(
    '/api/commands/:correlationId',
    {
      config: { access: 'read' },
      schema: {
        summary: 'A command and its result',
        tags: ['commands'],
        params: {
          type: 'object',
          required: ['correlationId'],
          additionalProperties: false,
          properties: { correlationId: { type: 'string', minLength: 1 } },
        },
        response: { 200: { $ref: 'Command#' }, 404: errorResponses[404] },
      },
    },
    async (request, reply) => {
      const record = commands.get(request.params.correlationId)
      if (!record) {
        throw new OpenFactoryError(
          'OFA_SERVE_COMMAND_NOT_FOUND',
          `no command with correlation id ${JSON.stringify(request.params.correlationId)}`,
          { where: { path: 'params.correlationId' } },
        )
      }
      return sendJsonText(reply, JSON.stringify(record))
    },
  )
}
