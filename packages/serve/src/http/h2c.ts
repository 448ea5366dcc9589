/**
 * HTTP/2 over cleartext TCP (h2c) on the app's own port, beside HTTP/1.1. ksqlDB's clients speak HTTP/2 without
 * TLS to a ksqlDB server's single port (the npm `ksqldb-client` for every call, ksql-python-ng for /query-stream),
 * and ksqlDB serves both protocols there; Node's HTTP/2 server alone (Fastify's `http2: true` without TLS) would
 * refuse every HTTP/1.1 client, and Node serves both on one port only behind TLS (ALPN, `allowHTTP1`).
 *
 * So each new connection is told apart by its first bytes: a client that speaks HTTP/2 "with prior knowledge"
 * (RFC 9113 §3.3) opens with the 24-byte connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, which no HTTP/1.1
 * request starts with. A connection whose first bytes are the preface goes to a Node HTTP/2 server whose requests
 * are routed through the same Fastify app (same routes, hooks and guards; Fastify handles HTTP/2 requests by their
 * `httpVersionMajor`); any other goes, its bytes put back, to the app's HTTP/1.1 server as if just accepted. The
 * upgrade from HTTP/1.1 (`Upgrade: h2c`, RFC 7540 §3.2, removed from RFC 9113) is not supported: such requests are
 * answered over HTTP/1.1.
 *
 * Closing the app closes the HTTP/2 sessions (GOAWAY; what they still stream is ended by the routes' own preClose
 * hooks), then destroys those still open after `CLOSE_GRACE_MS`. HTTP/1.1 connections are the HTTP/1.1 server's,
 * which Fastify closes (`closeAllConnections`) after the preClose hooks; but that server learns of a connection only
 * once it has been handed over, so a connection that has not yet told which protocol it speaks (a client's spare
 * keep-alive connection that has sent nothing) is ours to close: it is destroyed when closing starts, as is any
 * connection accepted from then on — else the server, waiting for its connections to end, never closes. A
 * connection whose peer ends it before telling is destroyed too: handed over after its end, it would stay open,
 * the HTTP/1.1 server never told of that end.
 */
import http2 from 'node:http2'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
const CLOSE_GRACE_MS = 2000

/** Serves h2c on the app's port from now on; call before the app listens. */
export function serveCleartextHttp2(app: FastifyInstance): void {
  const server = app.server
  // Fastify's request handler takes Node's HTTP/2 compatibility objects as it takes HTTP/1.1 ones.
  const route = app.routing as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void
  const h2 = http2.createServer({}, (req, res) => route(req, res))
  const sessions = new Set<http2.ServerHttp2Session>()
  /** Connections accepted that have not told yet which protocol they speak. */
  const undecided = new Set<Socket>()
  let closing = false
  h2.on('session', (session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    session.on('error', () => {}) // a peer gone; `close` follows
  })

  // The HTTP/1.1 server's own connection handling, run for the connections that are not HTTP/2.
  const http1 = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy()
      return
    }
    undecided.add(socket)
    socket.once('close', () => undecided.delete(socket))
    let head: Buffer = Buffer.alloc(0)
    // A connection that has not told which it speaks within the HTTP/1.1 server's time for a request's headers
    // (Node's `headersTimeout`, 60 s by default) is dropped, as that server would drop it.
    const timer = setTimeout(() => socket.destroy(), server.headersTimeout || 60_000)
    timer.unref()
    const onError = (): void => {
      socket.destroy()
    }
    const decide = (): void => {
      let chunk: Buffer | null
      // biome-ignore lint/suspicious/noAssignInExpressions: read until the socket's buffer is empty
      while ((chunk = socket.read() as Buffer | null) !== null)
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      const n = Math.min(head.length, PREFACE.length)
      const prefix = head.subarray(0, n).equals(PREFACE.subarray(0, n))
      const partial = prefix && n < PREFACE.length
      if (partial && !socket.readableEnded) return // not enough bytes yet
      clearTimeout(timer)
      undecided.delete(socket)
      socket.off('readable', decide)
      socket.off('end', decide)
      socket.off('error', onError)
      if (partial) {
        // The peer ended with nothing to answer (no bytes, or the start of the preface only). Handed to the HTTP/1.1
        // server after its `end` was emitted, the socket would stay open: that server would never learn of the end.
        socket.destroy()
        return
      }
      if (head.length > 0) socket.unshift(head)
      if (prefix && n === PREFACE.length) {
        // The HTTP/1.1 server accepts sockets half-open (it ends them itself); an HTTP/2 session expects the socket
        // to end when the peer's side does, else a client gone leaves its session, and its streams, open.
        socket.allowHalfOpen = false
        h2.emit('connection', socket)
      } else {
        for (const listener of http1) listener.call(server, socket)
      }
    }
    socket.on('error', onError)
    socket.on('end', decide)
    socket.on('readable', decide)
  })

  app.addHook('preClose', async () => {
    closing = true
    for (const socket of undecided) socket.destroy()
    for (const session of sessions) {
      session.close()
      setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref()
    }
  })
}
