// End to end over a real socket: WebSocket (ws) and SSE (fetch streaming) clients, method calls over HTTP.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'
import { createServeApp } from '../../src/index.ts'
import { checkedFetch, inject, type ResponseChecker, responseChecker } from '../helpers/http.ts'
import {
  avail,
  createTestLog,
  createTestServing,
  declare,
  publish,
  sample,
  sensor,
  startResponder,
  waitFor,
} from '../helpers/log.ts'

interface Message {
  id: string | null
  kind: 'snapshot' | 'update' | 'error'
  data?: unknown
  error?: { code: string; message: string; where?: { path?: string } }
}
type Item = { assetUuid: string; id: string; value: unknown }

/** Collects messages (each checked against the `LiveMessage` schema) and waits (bounded) for one matching a predicate. */
class Inbox {
  readonly messages: Message[] = []
  readonly #checker: ResponseChecker
  #waiters: (() => void)[] = []

  constructor(checker: ResponseChecker) {
    this.#checker = checker
  }

  push(m: Message): void {
    this.#checker.checkLive(m)
    this.messages.push(m)
    for (const w of this.#waiters.splice(0)) w()
  }

  async next(what: string, match: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs
    let from = 0
    for (;;) {
      for (; from < this.messages.length; from++) {
        const m = this.messages[from] as Message
        if (match(m)) {
          this.messages.splice(from, 1)
          return m
        }
      }
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages).slice(0, 500)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
}

async function start(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const state = serving.state
  await declare(log, sensor('m-1', ['Demofactory', 'Machining', 'WC001', 'm-1']))
  await declare(log, sensor('m-2', ['Demofactory', 'Machining', 'WC002', 'm-2']))
  await declare(log, sensor('a-1', ['Demofactory', 'Assembly', 'WC010', 'a-1']))
  await waitFor(
    'declarations',
    () => state.item('m-1', 'system') && state.item('m-2', 'system') && state.item('a-1', 'system'),
  )
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  assert.ok(address && typeof address === 'object')
  return { log, state, app, base: `http://127.0.0.1:${address.port}`, ws: `ws://127.0.0.1:${address.port}` }
}

async function openWs(t: TestContext, app: FastifyInstance, url: string): Promise<{ socket: WebSocket; inbox: Inbox }> {
  const socket = new WebSocket(`${url}/api/ws`)
  const inbox = new Inbox(await responseChecker(app))
  socket.on('message', (data) => inbox.push(JSON.parse(data.toString())))
  t.after(() => socket.terminate())
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return { socket, inbox }
}

async function openSse(
  t: TestContext,
  app: FastifyInstance,
  url: string,
): Promise<{ inbox: Inbox; events: string[]; response: Response }> {
  const controller = new AbortController()
  t.after(() => controller.abort())
  const response = await fetch(url, { signal: controller.signal })
  const inbox = new Inbox(await responseChecker(app))
  const events: string[] = []
  if (response.status === 200 && response.body) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    void (async () => {
      let buffer = ''
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let end = buffer.indexOf('\n\n')
          while (end >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event && data) {
              events.push(event)
              inbox.push(JSON.parse(data))
            }
            end = buffer.indexOf('\n\n')
          }
        }
      } catch {}
    })()
  }
  return { inbox, events, response }
}

test('WebSocket: snapshot then live updates with wildcard subscriptions; bad messages answered, socket kept', async (t) => {
  const { log, app, ws } = await start(t)
  const { socket, inbox } = await openWs(t, app, ws)

  socket.send(JSON.stringify({ op: 'subscribe', id: 'machining', uns: 'Demofactory/Machining/#' }))
  const snap = await inbox.next('snapshot', (m) => m.id === 'machining' && m.kind === 'snapshot')
  const assets = new Set((snap.data as Item[]).map((d) => d.assetUuid))
  assert.deepEqual([...assets].sort(), ['m-1', 'm-2'])

  socket.send(JSON.stringify({ op: 'subscribe', id: 'temps', uns: 'Demofactory/+/+/+/Temp', items: ['Temp'] }))
  const temps = await inbox.next('snapshot', (m) => m.id === 'temps' && m.kind === 'snapshot')
  assert.equal((temps.data as Item[]).length, 3)

  await publish(log, 'a-1', [sample('Temp', 30)])
  await publish(log, 'm-2', [sample('Temp', 20.5), sample('Hum', 41)])
  const u1 = await inbox.next('a-1 Temp', (m) => m.id === 'temps' && m.kind === 'update')
  assert.deepEqual([(u1.data as Item).assetUuid, (u1.data as Item).value], ['a-1', 30])
  const u2 = await inbox.next('m-2 Temp', (m) => m.id === 'machining' && m.kind === 'update')
  assert.deepEqual([(u2.data as Item).id, (u2.data as Item).value], ['Temp', 20.5])
  const u3 = await inbox.next('m-2 Hum', (m) => m.id === 'machining' && m.kind === 'update')
  assert.deepEqual([(u3.data as Item).id, (u3.data as Item).value], ['Hum', 41])
  await inbox.next('m-2 Temp (temps)', (m) => m.id === 'temps' && (m.data as Item).assetUuid === 'm-2')

  // Bad messages: a coded error each, and the socket stays open.
  const bad: [string, string, string | null][] = [
    ['not json', 'OFA_SERVE_MESSAGE_INVALID', null],
    [JSON.stringify([1]), 'OFA_SERVE_MESSAGE_INVALID', null],
    [JSON.stringify({ op: 'explode', id: 'x' }), 'OFA_SERVE_MESSAGE_INVALID', 'x'],
    [JSON.stringify({ op: 'subscribe' }), 'OFA_SERVE_MESSAGE_INVALID', null],
    [JSON.stringify({ op: 'subscribe', id: 'y', asset: ['m-1'] }), 'OFA_SERVE_MESSAGE_INVALID', 'y'],
    [JSON.stringify({ op: 'subscribe', id: 'z', uns: 'a/#/b' }), 'OFA_SERVE_MESSAGE_INVALID', 'z'],
    [JSON.stringify({ op: 'subscribe', id: 'machining' }), 'OFA_SERVE_MESSAGE_INVALID', 'machining'],
    [JSON.stringify({ op: 'unsubscribe', id: 'never' }), 'OFA_SERVE_MESSAGE_INVALID', 'never'],
  ]
  for (const [text, code, id] of bad) {
    socket.send(text)
    const err = await inbox.next(`error for ${text}`, (m) => m.kind === 'error')
    assert.equal(err.error?.code, code, text)
    assert.equal(err.id, id, text)
    assert.equal(typeof err.error?.message, 'string')
  }
  assert.equal(socket.readyState, WebSocket.OPEN)

  socket.send(JSON.stringify({ op: 'unsubscribe', id: 'machining' }))
  socket.send(JSON.stringify({ op: 'subscribe', id: 'one', assets: ['m-1'], items: ['Hum'] }))
  await inbox.next('snapshot one', (m) => m.id === 'one' && m.kind === 'snapshot')
  await publish(log, 'm-1', [sample('Temp', 1), sample('Hum', 2)])
  const one = await inbox.next('m-1 Hum', (m) => m.id === 'one' && m.kind === 'update')
  assert.equal((one.data as Item).value, 2)
  await inbox.next('m-1 Temp', (m) => m.id === 'temps' && (m.data as Item).assetUuid === 'm-1')
  assert.equal(inbox.messages.filter((m) => m.id === 'machining').length, 0, 'no update after unsubscribing')
})

test('SSE: the same snapshot and updates as events; bad queries are coded 400s', async (t) => {
  const { log, app, base } = await start(t)
  const { inbox, events, response } = await openSse(
    t,
    app,
    `${base}/api/events?uns=${encodeURIComponent('Demofactory/Machining/+/+')}&items=Temp,avail&id=live`,
  )
  assert.equal(response.status, 200)
  assert.match(String(response.headers.get('content-type')), /^text\/event-stream/)
  const snap = await inbox.next('snapshot', (m) => m.kind === 'snapshot')
  assert.equal(snap.id, 'live')
  assert.deepEqual((snap.data as Item[]).map((d) => `${d.assetUuid}|${d.id}`).sort(), ['m-1|Temp', 'm-2|Temp'])

  await publish(log, 'a-1', [sample('Temp', 99)]) // not under Machining
  await publish(log, 'm-1', [avail(true), sample('Hum', 3), sample('Temp', 25)])
  const u1 = await inbox.next('avail', (m) => m.kind === 'update')
  assert.deepEqual([(u1.data as Item).id, (u1.data as Item).value], ['avail', 'AVAILABLE'])
  const u2 = await inbox.next('Temp', (m) => m.kind === 'update')
  assert.deepEqual([(u2.data as Item).assetUuid, (u2.data as Item).id, (u2.data as Item).value], ['m-1', 'Temp', 25])
  assert.deepEqual(events, ['snapshot', 'update', 'update'])

  for (const q of [`uns=${encodeURIComponent('a/#/b')}`, 'nope=1', 'id=']) {
    const r = await checkedFetch(app, base, `/api/events?${q}`)
    assert.equal(r.status, 400, q)
    const body = r.json() as { error: { code: string } }
    assert.equal(body.error.code, 'OFA_SERVE_REQUEST_INVALID', q)
  }
})

test('method calls over HTTP: answered (200) and never answered (202, then pending)', async (t) => {
  const { log, app, base } = await start(t)
  startResponder(t, log, 'm-1', (_method, args) => ({ status: 'completed', result: { applied: args.value } }))
  let r = await checkedFetch(app, base, '/api/assets/m-1/methods/SetSetpoint', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: 50 }),
  })
  assert.equal(r.status, 200)
  const done = r.json() as { status: string; result: unknown }
  assert.equal(done.status, 'completed')
  assert.deepEqual(done.result, { applied: 50 })

  // A method without arguments: no body, but the JSON content type all POSTs need.
  r = await checkedFetch(app, base, '/api/assets/m-2/methods/Reset?timeout_ms=100', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
  })
  assert.equal(r.status, 202)
  const location = r.headers.location
  assert.ok(typeof location === 'string')
  const pending = (await checkedFetch(app, base, location)).json() as { status: string }
  assert.equal(pending.status, 'pending')
})

test('closing the app ends live connections with OFA_SERVE_UNAVAILABLE', async (t) => {
  const { app, base, ws } = await start(t)
  const { socket, inbox } = await openWs(t, app, ws)
  socket.send(JSON.stringify({ op: 'subscribe', id: 's' }))
  await inbox.next('snapshot', (m) => m.kind === 'snapshot')
  const sse = await openSse(t, app, `${base}/api/events`)
  await sse.inbox.next('snapshot', (m) => m.kind === 'snapshot')
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  await app.close()
  const err = await inbox.next('error', (m) => m.kind === 'error')
  assert.equal(err.error?.code, 'OFA_SERVE_UNAVAILABLE')
  assert.equal(await closed, 1001)
  const sseErr = await sse.inbox.next('error', (m) => m.kind === 'error')
  assert.equal(sseErr.error?.code, 'OFA_SERVE_UNAVAILABLE')
})

test('a WebSocket client that stops reading is dropped with OFA_SERVE_SLOW_CONSUMER; others keep going', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving, maxBufferedBytes: 64 * 1024 })
  t.after(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const slow = await openWs(t, app, `ws://127.0.0.1:${port}`)
  const fast = await openWs(t, app, `ws://127.0.0.1:${port}`)
  for (const c of [slow, fast]) {
    c.socket.send(JSON.stringify({ op: 'subscribe', id: 's', assets: ['flood'] }))
    await c.inbox.next('snapshot', (m) => m.kind === 'snapshot')
  }
  const closed = new Promise<number>((resolve) => slow.socket.once('close', (code) => resolve(code)))
  // Stop reading: the kernel's buffers fill, then the server's queue for this client.
  slow.socket.pause()
  const dropped = async () => /^ofa_serve_slow_consumers_dropped_total 1$/m.test((await inject(app, '/metrics')).body)
  const padding = 'x'.repeat(400)
  let sent = 0
  while (sent < 50_000 && !(await dropped())) {
    await publish(
      log,
      'flood',
      Array.from({ length: 1000 }, (_, k) => sample('Temp', sent + k, 'Temperature', { note: padding })),
    )
    sent += 1000
  }
  await waitFor('the drop', dropped)
  await waitFor('the fast client got everything', () => fast.inbox.messages.length >= sent, 20_000)
  assert.equal(fast.socket.readyState, WebSocket.OPEN)
  slow.socket.resume()
  // The server tells the client why, then closes (1008); a client still not reading a second later is cut off.
  const code = await closed
  assert.ok(code === 1008 || code === 1006, `close code ${code}`)
  if (code === 1008)
    assert.equal(slow.inbox.messages.find((m) => m.kind === 'error')?.error?.code, 'OFA_SERVE_SLOW_CONSUMER')
  assert.ok(slow.inbox.messages.filter((m) => m.kind === 'update').length < sent)
  assert.match((await inject(app, '/metrics')).body, /^ofa_serve_subscribers 1$/m)
})
