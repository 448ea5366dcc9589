// HTTP/2 over cleartext beside HTTP/1.1 on one port (h2c.ts), closing: app.close() returns with every kind of
// long-lived connection open — SSE, WebSocket, chunked HTTP/1.1 /query-stream, an HTTP/2 /query-stream stream, and
// a connection that has not said yet which protocol it speaks — and each of those clients sees its stream end.
// (With such a silent connection open, a client's spare keep-alive one, `ofa up` once hung at restart.)
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { type TestContext, test } from 'node:test'
import { WebSocket } from 'ws'
import { createServeApp } from '../../src/index.ts'
import { createFakeSql } from '../helpers/fake-sql.ts'
import { createTestLog, createTestServing } from '../helpers/log.ts'

const GUARD = { timeout: 20_000 } // a guard only: a close that hangs fails the test instead of the run

async function start(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const sql = createFakeSql()
  const app = await createServeApp({ eventLog: log, serving, sql, http2Cleartext: true })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, sql, port: (app.server.address() as net.AddressInfo).port }
}

/** Resolves once `stream` has closed, whether it ended cleanly or was cut. */
function closed(stream: NodeJS.EventEmitter): Promise<void> {
  stream.on('error', () => {}) // cut by the server closing: `close` follows
  return new Promise((resolve) => stream.once('close', () => resolve()))
}

/** A TCP connection to the app that the app has accepted and on which nothing has been sent yet. */
async function silentConnection(app: Awaited<ReturnType<typeof start>>['app'], port: number): Promise<net.Socket> {
  const accepted = once(app.server, 'connection')
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await accepted
  return socket
}

/** An HTTP/1.1 request on a connection of its own, its response once its first bytes have come. */
async function http1Stream(port: number, path: string, body?: unknown): Promise<http.IncomingMessage> {
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    agent: false,
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  })
  req.on('error', () => {})
  req.end(body === undefined ? undefined : JSON.stringify(body))
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  assert.equal(res.statusCode, 200, path)
  await once(res, 'data')
  res.resume()
  return res
}

test('closing the app with HTTP/2 cleartext on ends every long-lived connection', GUARD, async (t) => {
  const { app, sql, port } = await start(t)
  const silent = await silentConnection(app, port)
  const silentClosed = closed(silent)

  const sse = await http1Stream(port, '/api/events')
  const sseClosed = closed(sse)

  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`)
  const wsClosed = closed(ws)
  await once(ws, 'open')

  const chunked = await http1Stream(port, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES; -- h1' })
  assert.equal(chunked.headers['transfer-encoding'], 'chunked')
  const chunkedClosed = closed(chunked)
  await sql.started('-- h1')

  const session = http2.connect(`http://127.0.0.1:${port}`)
  const sessionClosed = closed(session)
  const h2 = session.request({ ':method': 'POST', ':path': '/query-stream', 'content-type': 'application/json' })
  const h2Closed = closed(h2)
  h2.end(JSON.stringify({ sql: 'SELECT * FROM readings EMIT CHANGES; -- h2' }))
  const [headers] = (await once(h2, 'response')) as [http2.IncomingHttpHeaders]
  assert.equal(headers[':status'], 200)
  await once(h2, 'data')
  h2.resume()
  await sql.started('-- h2')

  await app.close()
  await Promise.all([silentClosed, sseClosed, wsClosed, chunkedClosed, h2Closed, sessionClosed])
  assert.ok(
    sql.queries.every((q) => q.isClosed),
    'every push query is closed',
  )
})

test(
  'a connection that ends before saying which protocol it speaks is closed; the app closes after',
  GUARD,
  async (t) => {
    const { app, port } = await start(t)
    // Nothing at all, or the start of the HTTP/2 preface only: nothing to answer.
    for (const sent of ['', 'PRI * HTTP/2.0\r\n']) {
      const socket = await silentConnection(app, port)
      const ended = closed(socket)
      socket.end(sent)
      await ended
    }
    await app.close()
  },
)
