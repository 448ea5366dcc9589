// The app over TLS on a real port, its certificate signed by a test CA the clients pin: REST over HTTP/1.1, a
// WebSocket (wss) and an SSE stream receiving an update, npm's ksqldb-client over HTTP/2 chosen by ALPN, and the
// limits (body, WebSocket message) as over plain HTTP.
import assert from 'node:assert/strict'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import ksqldbClient from 'ksqldb-client'
import { WebSocket } from 'ws'
import { createServeApp } from '../../src/index.ts'
import { createFakeSql, MACHINES, STREAMS } from '../helpers/fake-sql.ts'
import { responseChecker } from '../helpers/http.ts'
import { createTestLog, createTestServing, declare, publish, sample, sensor, waitFor } from '../helpers/log.ts'
import { createTestPki, type TestPki } from '../helpers/tls.ts'

const KsqldbClient = ksqldbClient as unknown as typeof ksqldbClient.default

interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

/** One HTTPS request over HTTP/1.1 with `ca` pinned (Node's client: it takes a CA, fetch does not). */
export function httpsRequest(
  url: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

async function start(t: TestContext, pki: TestPki) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await waitFor('m-1', () => serving.state.item('m-1', 'system'))
  const app = await createServeApp({ eventLog: log, serving, sql: createFakeSql(), tls: pki })
  t.after(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  return { log, app, port, base: `https://127.0.0.1:${port}` }
}

async function checked(app: FastifyInstance, path: string, a: Answer, method = 'GET'): Promise<Answer> {
  ;(await responseChecker(app)).check(method, path, a.status, a.headers['content-type'] as string | undefined, a.body)
  return a
}

test('TLS: REST over HTTPS with the CA pinned, HSTS; refused without the CA; ALPN offers h2 and http/1.1', async (t) => {
  const pki = await createTestPki(t)
  const { app, port, base } = await start(t, pki)

  const assets = await checked(app, '/api/assets', await httpsRequest(`${base}/api/assets`, pki.ca))
  assert.equal(assets.status, 200)
  assert.deepEqual(
    JSON.parse(assets.body).items.map((a: { uuid: string }) => a.uuid),
    ['m-1'],
  )
  assert.equal(assets.headers['strict-transport-security'], 'max-age=31536000')
  assert.equal(assets.headers['x-content-type-options'], 'nosniff')

  // A client that does not trust the CA does not get in.
  await assert.rejects(httpsRequest(`${base}/api/assets`, ''), (err: NodeJS.ErrnoException) => {
    assert.match(err.code ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/)
    return true
  })

  // What the server says it speaks, by ALPN: h2 first, HTTP/1.1 too.
  for (const [offer, chosen] of [
    [['h2', 'http/1.1'], 'h2'],
    [['http/1.1'], 'http/1.1'],
  ] as const) {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, ALPNProtocols: [...offer] })
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve)
      socket.once('error', reject)
    })
    assert.equal(socket.alpnProtocol, chosen)
    socket.destroy()
  }
})

test('TLS: a wss subscription and an SSE stream receive an update; bounds kept (WebSocket message, body)', async (t) => {
  const pki = await createTestPki(t)
  const { log, app, base } = await start(t, pki)
  const checker = await responseChecker(app)

  const ws = new WebSocket(`${base.replace('https', 'wss')}/api/ws`, { ca: pki.ca })
  t.after(() => ws.terminate())
  const wsMessages: { id: string; kind: string; data?: any }[] = []
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString())
    checker.checkLive(m)
    wsMessages.push(m)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.send(JSON.stringify({ op: 'subscribe', id: 's1', assets: ['m-1'], items: ['Temp'] }))

  // SSE over HTTPS: the head, then events as they come.
  const sseEvents: string[] = []
  const sse = https.get(`${base}/api/events?assets=m-1&items=Temp`, { ca: pki.ca, agent: false })
  t.after(() => sse.destroy())
  const sseHead = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    sse.once('response', resolve)
    sse.once('error', reject)
  })
  assert.equal(sseHead.statusCode, 200)
  assert.match(String(sseHead.headers['content-type']), /^text\/event-stream/)
  assert.equal(sseHead.headers['strict-transport-security'], 'max-age=31536000')
  assert.equal(sseHead.headers['x-content-type-options'], 'nosniff')
  sseHead.setEncoding('utf8')
  let buffer = ''
  sseHead.on('data', (d: string) => {
    buffer += d
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      sseEvents.push(buffer.slice(0, end))
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
    }
  })

  const until = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 5000
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  await until('the WebSocket snapshot', () => wsMessages.some((m) => m.kind === 'snapshot'))
  await until('the SSE snapshot', () => sseEvents.some((e) => e.startsWith('event: snapshot')))
  await publish(log, 'm-1', [sample('Temp', 21.5)])
  await until('the WebSocket update', () => wsMessages.some((m) => m.kind === 'update' && m.data?.value === 21.5))
  await until('the SSE update', () => sseEvents.some((e) => e.startsWith('event: update') && e.includes('21.5')))
  const update = sseEvents.find((e) => e.startsWith('event: update')) as string
  checker.checkLive(JSON.parse(update.slice(update.indexOf('data: ') + 6)))

  // A WebSocket message past 64 KiB ends the connection (1009), as over plain HTTP.
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.send(JSON.stringify({ op: 'subscribe', id: 'x'.repeat(64 * 1024) }))
  assert.equal(await closed, 1009)

  // A body past 1 MiB is a 413 in our shape.
  const big = await httpsRequest(`${base}/api/assets/m-1/methods/SetSetpoint`, pki.ca, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: 1, pad: 'x'.repeat(1024 * 1024) }),
  })
  await checked(app, '/api/assets/m-1/methods/SetSetpoint', big, 'POST')
  assert.equal(big.status, 413)
  assert.equal(JSON.parse(big.body).error.code, 'OFA_SERVE_TOO_LARGE')
})

test('TLS: npm ksqldb-client over HTTP/2 (ALPN h2) with the CA pinned: statements and a pull query', async (t) => {
  const pki = await createTestPki(t)
  const { port } = await start(t, pki)
  const client = new KsqldbClient({
    host: 'https://127.0.0.1',
    port,
    authorization: { ssl: { ca: pki.ca } },
  } as ConstructorParameters<typeof KsqldbClient>[0])
  await client.connect()
  t.after(() => client.disconnect())
  assert.deepEqual(await client.listStreams(), STREAMS)
  const pull = await client.query('SELECT * FROM machines;')
  assert.equal(pull.status, 200)
  assert.deepEqual(pull.data?.metadata.columnNames, MACHINES.columnNames)
})
