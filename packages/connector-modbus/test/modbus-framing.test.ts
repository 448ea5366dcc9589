// Responses a real Modbus server would not send, from a small TCP server in the test (a deliberately broken
// device; the pymodbus peer serves the normal cases): a garbled MBAP header, and an answer that comes after its
// request timed out, once its transaction id could have been given to a newer request.
import assert from 'node:assert/strict'
import net from 'node:net'
import { type TestContext, test } from 'node:test'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
} from '@openfactory/connectors/testing'
import type { Observation } from '@openfactory/model'
import { type ModbusConnector, modbusSpec } from '../src/index.ts'
import { MAX_QUARANTINED } from '../src/modbus-client.ts'

const FAST = { connectTimeoutMs: 2000, backoff: { initialMs: 50, maxMs: 200 } }

interface Request {
  /** 1 for the first connection the server accepted. */
  readonly conn: number
  /** 1 for the connection's first request. */
  readonly n: number
  readonly tx: number
  readonly unit: number
  readonly fc: number
  readonly address: number
  readonly count: number
}

/** An MBAP frame; `protocol` and `length` may lie. */
function frame(tx: number, unit: number, pdu: Buffer, protocol = 0, length = pdu.length + 1): Buffer {
  const head = Buffer.alloc(7)
  head.writeUInt16BE(tx, 0)
  head.writeUInt16BE(protocol, 2)
  head.writeUInt16BE(length, 4)
  head.writeUInt8(unit, 6)
  return Buffer.concat([head, pdu])
}

/** The PDU answering a read of holding registers with `words`. */
function registers(words: readonly number[]): Buffer {
  const pdu = Buffer.alloc(2 + words.length * 2)
  pdu.writeUInt8(3, 0)
  pdu.writeUInt8(words.length * 2, 1)
  words.forEach((w, i) => {
    pdu.writeUInt16BE(w, 2 + i * 2)
  })
  return pdu
}

/** A Modbus TCP server of our own: `answer` decides what each request gets (nothing, a frame, bytes). */
async function rawServer(t: TestContext, answer: (r: Request, send: (b: Buffer) => void) => void) {
  let conns = 0
  const closed = new Set<number>()
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    const conn = ++conns
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      closed.add(conn)
    })
    socket.on('error', () => undefined)
    let n = 0
    let rx = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      rx = Buffer.concat([rx, chunk])
      while (rx.length >= 12) {
        const len = rx.readUInt16BE(4)
        if (rx.length < 6 + len) break
        const r: Request = {
          conn,
          n: ++n,
          tx: rx.readUInt16BE(0),
          unit: rx.readUInt8(6),
          fc: rx.readUInt8(7),
          address: rx.readUInt16BE(8),
          count: rx.readUInt16BE(10),
        }
        rx = rx.subarray(6 + len)
        answer(r, (b) => socket.write(b))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return conns
    },
    /** The connections that have closed, by number. */
    closed,
  }
}

async function startDevice(t: TestContext, block: Record<string, unknown>, timings = FAST) {
  const connector = modbusSpec.create(modbusSpec.parse(deviceConfig(block, { uuid: 'RAW-1' })), {
    timings,
  }) as ModbusConnector
  const ctx = createRecordingContext()
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await connector.stop()
  })
  return { ctx, connector }
}

const valuesOf = (ctx: RecordingContext, id: string): Observation[] =>
  ctx.published.filter((p) => p.observation.id === id).map((p) => p.observation)

test('a garbled response header: OFA_MODBUS_RESPONSE on the items at once (not a timeout), and a new connection', async (t) => {
  // Connection 1's third answer claims 768 bytes (a frame holds at most 254), connection 2's third has protocol id
  // 7 (Modbus is 0); otherwise register 0 holds the connection's number.
  const server = await rawServer(t, (r, send) => {
    if (r.n === 3 && r.conn === 1) send(frame(r.tx, r.unit, registers([0]), 0, 768))
    else if (r.n === 3 && r.conn === 2) send(frame(r.tx, r.unit, registers([0]), 7))
    else send(frame(r.tx, r.unit, registers(Array.from({ length: r.count }, () => r.conn))))
  })
  // A timeout far longer than the test waits: the error must come from the header, not from waiting.
  const { ctx } = await startDevice(t, {
    type: 'modbus',
    host: '127.0.0.1',
    port: server.port,
    poll_interval_ms: 20,
    timeout_ms: 60_000,
    registers: { r: { address: 0 } },
  })
  await eventually(() => (valuesOf(ctx, 'r').length >= 5 ? true : undefined), 10_000, 'five observations')
  const r = valuesOf(ctx, 'r')
  assert.deepEqual(
    r.map((o) => o.value),
    [1, 'UNAVAILABLE', 2, 'UNAVAILABLE', 3],
  )
  assert.equal(r[1]?.attributes.quality, 'BAD')
  assert.match(
    String(r[1]?.attributes.reason),
    /^OFA_MODBUS_RESPONSE: 127\.0\.0\.1:\d+: a malformed response header \(transaction \d+, protocol id 0, length 768;/,
  )
  assert.match(String(r[3]?.attributes.reason), /^OFA_MODBUS_RESPONSE: .*protocol id 7, length 5;/)
  assert.equal(server.connections, 3, 'each garbled header ended its connection')
  // The unit answered throughout (wrongly twice): the asset stayed available.
  assert.ok(ctx.availability.every((a) => a.available))
})

test('header lengths at their edges: 3 and 254 are framed (then read as what they hold), 2 and 255 end the connection', async (t) => {
  const server = await rawServer(t, (r, send) => {
    if (r.conn === 1 && r.n === 3) send(frame(r.tx, r.unit, Buffer.alloc(254, 3), 0, 255))
    else if (r.conn === 2 && r.n === 3) send(frame(r.tx, r.unit, Buffer.from([3]), 0, 2))
    else if (r.conn === 3 && r.n === 3)
      send(frame(r.tx, r.unit, Buffer.from([0x83, 2]))) // an exception: length 3
    else if (r.conn === 3 && r.n === 5)
      send(frame(r.tx, r.unit, Buffer.from([3, 251, ...Buffer.alloc(251)]))) // 254
    else send(frame(r.tx, r.unit, registers(Array.from({ length: r.count }, () => r.conn))))
  })
  const { ctx } = await startDevice(t, {
    type: 'modbus',
    host: '127.0.0.1',
    port: server.port,
    poll_interval_ms: 20,
    timeout_ms: 60_000,
    registers: { r: { address: 0 } },
  })
  await eventually(() => (valuesOf(ctx, 'r').length >= 9 ? true : undefined), 10_000, 'nine observations')
  const r = valuesOf(ctx, 'r')
  assert.deepEqual(
    r.map((o) => o.value),
    [1, 'UNAVAILABLE', 2, 'UNAVAILABLE', 3, 'UNAVAILABLE', 3, 'UNAVAILABLE', 3],
  )
  const reasons = r.filter((o) => o.value === 'UNAVAILABLE').map((o) => String(o.attributes.reason))
  assert.match(reasons[0] as string, /^OFA_MODBUS_RESPONSE: .*malformed response header .*length 255;/)
  assert.match(reasons[1] as string, /^OFA_MODBUS_RESPONSE: .*malformed response header .*length 2;/)
  assert.equal(reasons[2], 'OFA_MODBUS_EXCEPTION 2 (illegal data address)')
  assert.match(reasons[3] as string, /^OFA_MODBUS_RESPONSE: unit 1: a response of the wrong length/)
  assert.equal(server.connections, 3, 'only the unframeable headers ended a connection')
})

test('pipelined: a late answer is never taken for a newer request, across a wrap of the 256 transaction ids', async (t) => {
  // Unit 2's first request is held. Should its transaction id come again on the connection, the held answer
  // (value 999) is sent first, as a late answer would arrive.
  let held: Request | null = null
  let reused = 0
  const after = new Set<number>()
  let requestsAfter = 0
  const server = await rawServer(t, (r, send) => {
    if (r.unit === 2 && held === null) {
      held = r
      return
    }
    if (held) {
      requestsAfter++
      after.add(r.tx)
      if (r.tx === held.tx) {
        reused++
        send(frame(held.tx, 2, registers([999])))
      }
    }
    send(frame(r.tx, r.unit, registers(Array.from({ length: r.count }, () => r.unit))))
  })
  const { ctx, connector } = await startDevice(t, {
    type: 'modbus',
    host: '127.0.0.1',
    port: server.port,
    connection: 'pipelined',
    poll_interval_ms: 1,
    timeout_ms: 300,
    registers: { u1: { address: 0, unit_id: 1 }, u2: { address: 0, unit_id: 2 } },
  })
  await eventually(() => (requestsAfter >= 600 ? true : undefined), 20_000, 'two wraps of the ids')
  assert.equal(reused, 0, 'the timed-out id was not given to another request')
  assert.equal(after.size, 255, 'every other id was used')
  assert.deepEqual(
    valuesOf(ctx, 'u2').map((o) => o.value),
    ['UNAVAILABLE', 2],
  )
  assert.match(String(valuesOf(ctx, 'u2')[0]?.attributes.reason), /^OFA_MODBUS_TIMEOUT: unit 2/)
  assert.deepEqual(
    valuesOf(ctx, 'u1').map((o) => o.value),
    [1],
  )
  assert.equal(connector.stats().connections, 1)
  assert.equal(server.connections, 1)
})

test(`pipelined: ${MAX_QUARANTINED} quarantined ids retire the connection; the other unit never notices`, async (t) => {
  // Unit 2 never answers; unit 1 answers at once. Each of unit 2's timeouts quarantines one id.
  const unit2On = new Map<number, number>()
  const server = await rawServer(t, (r, send) => {
    if (r.unit === 2) {
      unit2On.set(r.conn, (unit2On.get(r.conn) ?? 0) + 1)
      return
    }
    send(frame(r.tx, r.unit, registers(Array.from({ length: r.count }, () => r.unit))))
  })
  const { ctx, connector } = await startDevice(
    t,
    {
      type: 'modbus',
      host: '127.0.0.1',
      port: server.port,
      connection: 'pipelined',
      poll_interval_ms: 1,
      timeout_ms: 5000,
      units: { '2': { timeout_ms: 30 } },
      registers: { u1: { address: 0, unit_id: 1 }, u2: { address: 0, unit_id: 2 } },
    },
    { connectTimeoutMs: 2000, backoff: { initialMs: 1, maxMs: 2 } },
  )
  await eventually(() => (server.connections === 2 ? true : undefined), 30_000, 'a second connection')
  // Exactly the limit's worth of unit 2's requests went to the first connection: the 128th timeout retired it.
  assert.equal(unit2On.get(1), MAX_QUARANTINED)
  await eventually(() => (server.closed.has(1) ? true : undefined), 10_000, 'the first connection closed')
  await eventually(() => ((unit2On.get(2) ?? 0) >= 3 ? true : undefined), 10_000, 'unit 2 polled on the second')
  assert.deepEqual(
    valuesOf(ctx, 'u1').map((o) => o.value),
    [1],
    'unit 1: its value once, never UNAVAILABLE',
  )
  assert.deepEqual(
    valuesOf(ctx, 'u2').map((o) => o.value),
    ['UNAVAILABLE'],
  )
  assert.equal(connector.stats().connections, 2)
})
