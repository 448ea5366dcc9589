/**
 * Live streams (a Fastify plugin): WebSocket `/api/ws` and Server-Sent Events `/api/events` (DESIGN §4), over the
 * subscription hub (`app.hub`). It owns its connections: closing the app ends them with `OFA_SERVE_UNAVAILABLE`.
 *
 * WebSocket, client → server (text frames, JSON):
 *   {"op": "subscribe", "id": "s1", "assets"?: [uuid, ...], "items"?: [id, ...], "uns"?: "Demofactory/Machining/#"}
 *   {"op": "unsubscribe", "id": "s1"}
 * server → client:
 *   {"id": "s1", "kind": "snapshot", "data": [ItemState, ...]}   once, right after subscribing
 *   {"id": "s1", "kind": "update", "data": ItemState}            per change
 *   {"id": "s1" | null, "kind": "error", "error": {"code", "message", "where"?}}
 * A bad message gets an error message and the socket stays open; so does a subscription past a cap of the hub
 * (`OFA_SERVE_SUBSCRIPTION_LIMIT`). A client that does not keep up is sent an `OFA_SERVE_SLOW_CONSUMER` error and
 * closed (code 1008); on shutdown, `OFA_SERVE_UNAVAILABLE` (code 1001). While more than `maxBufferedBytes` wait
 * to be sent to a client (snapshots, answers), its messages are not read (the socket is paused until they have
 * gone out): a client that sends without reading cannot make the server hold more than that and one answer.
 * A plain GET of `/api/ws` (no upgrade) is a 426.
 *
 * SSE: `GET /api/events?assets=a,b&items=x,y&uns=pattern&id=name` streams the same messages, each as an event
 * whose name is the message's `kind` (`event: snapshot`, `event: update`, `event: error`) and whose `data` is
 * the JSON; the subscription id is `id` (default `events`). A comment line every `sseKeepAliveMs` keeps
 * proxies from closing the stream. Past the hub's cap of subscriptions, the request is a 503
 * `OFA_SERVE_SUBSCRIPTION_LIMIT` before the stream starts.
 *
 * Both routes check `Origin` (route config `checkOrigin`, request-guards.ts): a browser lets any page open them.
 */
import websocket from '@fastify/websocket'
import { isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import type { FastifyPluginAsync } from 'fastify'
import { inScope } from '../auth/policy.ts'
import type { Principal } from '../auth/types.ts'
import type { AssetState } from '../state/asset-state.ts'
import type { HubConnection, SubscriberSink } from '../state/subscriptions.ts'
import { parseSubscriptionSpec } from '../state/subscriptions.ts'
import { sendError } from './errors.ts'
import { errorResponses } from './schemas.ts'

export interface LiveRoutesOptions {
  /** SSE comment interval. */
  readonly sseKeepAliveMs: number
  /** Largest WebSocket message accepted from a client. */
  readonly maxMessageBytes: number
  /** Bytes waiting to be sent to a WebSocket client above which its messages are no longer read. */
  readonly maxBufferedBytes: number
}

/** A caller with scopes is sent the assets in them only (auth/policy.ts). */
function visibleTo(p: Principal | undefined, state: AssetState): Pick<SubscriberSink, 'visible'> {
  if (!p || p.scopes.length === 0) return {}
  return { visible: (uuid) => inScope(p, uuid, state) }
}

const SUBSCRIBE_FIELDS = new Set(['op', 'id', 'assets', 'items', 'uns'])

/** The OpenAPI description of `/api/ws` (WebSocket routes cannot be described by their route schema). */
export const WS_OPENAPI_PATH = {
  get: {
    summary: 'Live state over WebSocket',
    description:
      'Upgrade to WebSocket, then send `{"op":"subscribe","id","assets"?,"items"?,"uns"?}` or `{"op":"unsubscribe","id"}` as text frames. The server answers `{"id","kind":"snapshot","data":[ItemState...]}` once, then `{"id","kind":"update","data":ItemState}` per change; a bad message gets `{"id","kind":"error","error":{"code","message","where"?}}` and the socket stays open (every server message is a `LiveMessage`). A client that does not keep up is sent `OFA_SERVE_SLOW_CONSUMER` and closed (1008).',
    tags: ['live'],
    responses: {
      '101': { description: 'Switching to the WebSocket protocol' },
      ...Object.fromEntries(
        (
          [
            ['400', 'A URL that is not valid'],
            ['403', 'The Host or Origin header is not allowed'],
            ['414', 'The URL is longer than the limit'],
            ['426', 'Not a WebSocket upgrade request'],
            ['431', 'The request line and headers are larger than the limit'],
            ['503', 'The server is closing'],
          ] as const
        ).map(([status, description]) => [
          status,
          { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        ]),
      ),
    },
  },
}

export function errorMessage(id: string | null, err: OpenFactoryError): string {
  return JSON.stringify({ id, kind: 'error', error: err.toJSON() })
}

function closing(): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_UNAVAILABLE', 'the server is closing')
}

function invalid(message: string, path?: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_MESSAGE_INVALID', message, path ? { where: { path } } : {})
}

/** Handles one client message; returns the error to answer with, if any. */
function handleMessage(
  conn: HubConnection,
  text: string,
  maxListEntries: number,
): { id: string | null; error: OpenFactoryError } | null {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    return { id: null, error: invalid('message is not JSON') }
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return { id: null, error: invalid('message must be a JSON object') }
  }
  const m = msg as Record<string, unknown>
  const id = typeof m.id === 'string' ? m.id : null
  try {
    if (m.op === 'subscribe') {
      const unknown = Object.keys(m).find((k) => !SUBSCRIBE_FIELDS.has(k))
      if (unknown !== undefined) throw invalid(`unknown field ${JSON.stringify(unknown)} in subscribe`, unknown)
      conn.subscribe(parseSubscriptionSpec(m, 'OFA_SERVE_MESSAGE_INVALID', maxListEntries))
    } else if (m.op === 'unsubscribe') {
      if (id === null) throw invalid('unsubscribe needs the id of a subscription', 'id')
      if (!conn.unsubscribe(id)) throw invalid(`no subscription ${JSON.stringify(id)}`, 'id')
    } else {
      throw invalid('op must be "subscribe" or "unsubscribe"', 'op')
    }
  } catch (err) {
    if (isOpenFactoryError(err)) return { id, error: err }
    throw err
  }
  return null
}

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return items.length > 0 ? items : undefined
}

export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (app, opts) => {
  const { hub } = app
  const maxListEntries = hub.limits.listEntries
  /** How to end each open connection. */
  const live = new Set<() => void>()
  app.addHook('preClose', async () => {
    for (const shutdown of [...live]) shutdown()
  })
  // Registered after that hook, so that our clients are told why before @fastify/websocket closes the sockets.
  await app.register(websocket, { options: { maxPayload: opts.maxMessageBytes } })

  app.route({
    method: 'GET',
    url: '/api/ws',
    // Documented by hand in the OpenAPI document (`WS_OPENAPI_PATH`): WebSocket routes cannot be described.
    schema: { hide: true },
    config: { checkOrigin: true, access: 'read' },
    handler: async (_request, reply) => {
      reply.header('upgrade', 'websocket')
      return sendError(
        reply,
        new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', '/api/ws speaks WebSocket: send an upgrade request'),
        426,
      )
    },
    wsHandler: (socket, request) => {
      // The upgraded request's socket is the one the WebSocket writes to: corked while a log batch is applied.
      const raw = request.raw.socket
      let killTimer: NodeJS.Timeout | undefined
      const sink: SubscriberSink = {
        send: (text) => socket.send(text),
        ...visibleTo(request.principal, app.state),
        bufferedBytes: () => socket.bufferedAmount,
        cork: () => raw.cork(),
        uncork: () => raw.uncork(),
        close: (err) => {
          if (killTimer) return
          try {
            socket.send(errorMessage(null, err))
            socket.close(err.code === 'OFA_SERVE_UNAVAILABLE' ? 1001 : 1008, err.code)
          } catch {}
          killTimer = setTimeout(() => socket.terminate(), 1000)
          killTimer.unref()
        },
      }
      const conn = hub.connect(sink)
      const shutdown = () => {
        conn.close()
        sink.close(closing())
      }
      live.add(shutdown)
      // Backpressure: while what waits to be sent to this client is above the bound, read nothing more from it.
      // Pausing stops the socket; messages of the chunk already read still arrive: they wait in `held` (at most
      // one read's worth) and are handled, in order, once the answers have gone out.
      let paused = false
      const held: { data: Buffer; isBinary: boolean }[] = []
      const handle = (data: Buffer, isBinary: boolean): void => {
        if (isBinary) {
          socket.send(errorMessage(null, invalid('messages must be text frames')))
        } else {
          const answer = handleMessage(conn, data.toString(), maxListEntries)
          if (answer && socket.readyState === socket.OPEN) socket.send(errorMessage(answer.id, answer.error))
        }
        if (socket.bufferedAmount > opts.maxBufferedBytes && socket.readyState === socket.OPEN) {
          paused = true
          socket.pause()
          raw.once('drain', resume)
        }
      }
      const resume = (): void => {
        paused = false
        while (!paused && held.length > 0 && socket.readyState === socket.OPEN) {
          const m = held.shift() as { data: Buffer; isBinary: boolean }
          handle(m.data, m.isBinary)
        }
        if (!paused && socket.readyState === socket.OPEN) socket.resume()
      }
      socket.on('message', (data, isBinary) => {
        const bytes = Buffer.isBuffer(data)
          ? data
          : Array.isArray(data)
            ? Buffer.concat(data)
            : Buffer.from(new Uint8Array(data))
        if (paused) held.push({ data: bytes, isBinary })
        else handle(bytes, isBinary)
      })
      socket.on('close', () => {
        raw.off('drain', resume)
        held.length = 0
        if (killTimer) clearTimeout(killTimer)
        live.delete(shutdown)
        conn.close()
      })
      socket.on('error', () => conn.close())
    },
  })

  app.get<{ Querystring: { id?: string; assets?: string; items?: string; uns?: string } }>(
    '/api/events',
    {
      config: { checkOrigin: true, access: 'read' },
      schema: {
        summary: 'Live state as Server-Sent Events',
        description:
          'Events `snapshot` (once) then `update` (per change), with the same JSON as the WebSocket messages; `error` before the server drops the stream.',
        tags: ['live'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            id: { type: 'string', minLength: 1, description: 'Subscription id echoed in messages (default `events`)' },
            assets: { type: 'string', description: 'Asset UUIDs, comma-separated' },
            items: { type: 'string', description: 'Item ids, comma-separated' },
            uns: { type: 'string', description: 'UNS pattern; `+` one level, `#` the rest' },
          },
        },
        response: {
          200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          400: errorResponses[400],
          503: { description: 'Past the cap of subscriptions, or the server is closing', $ref: 'Error#' },
        },
      },
    },
    (request, reply) => {
      const q = request.query
      const assets = list(q.assets)
      const items = list(q.items)
      const spec = parseSubscriptionSpec(
        { id: q.id ?? 'events', ...(assets ? { assets } : {}), ...(items ? { items } : {}), uns: q.uns },
        'OFA_SERVE_REQUEST_INVALID',
        maxListEntries,
      )
      hub.assertRoom()
      reply.hijack()
      // A hijacked reply skips the onResponse hook: counted here.
      app.metrics.httpRequests.inc({ method: 'GET', route: '/api/events', status: '200' })
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        // HTTP/2 (h2c.ts) has no connection-specific headers (RFC 9113 §8.2.2).
        ...(request.raw.httpVersionMajor === 2 ? {} : { connection: 'keep-alive' }),
        'x-accel-buffering': 'no',
      })
      let ended = false
      const end = () => {
        if (ended) return
        ended = true
        clearInterval(keepAlive)
        live.delete(shutdown)
        conn.close()
      }
      const sink: SubscriberSink = {
        send: (text, kind) => {
          res.write(`event: ${kind}\ndata: ${text}\n\n`)
        },
        ...visibleTo(request.principal, app.state),
        bufferedBytes: () => res.writableLength,
        cork: () => res.cork(),
        uncork: () => res.uncork(),
        close: (err) => {
          if (!res.writableEnded) res.end(`event: error\ndata: ${errorMessage(spec.id, err)}\n\n`)
          setTimeout(() => res.destroy(), 1000).unref()
          end()
        },
      }
      const conn = hub.connect(sink)
      const shutdown = () => sink.close(closing())
      live.add(shutdown)
      const keepAlive = setInterval(() => res.write(': keepalive\n\n'), opts.sseKeepAliveMs)
      keepAlive.unref()
      res.on('close', end)
      res.on('error', end)
      conn.subscribe(spec)
    },
  )
}
