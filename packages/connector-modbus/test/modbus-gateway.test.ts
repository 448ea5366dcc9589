// Several unit ids behind one host and port (a gateway), against real Modbus TCP servers: pymodbus
// (scripts/peers/modbus_server.py; test/peers/pipelining_server.py where requests are pipelined), and, for the
// connection modes, the server's own count of its connections (the kernel's socket table, peer.ts).
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
} from '@openfactory/connectors/testing'
import type { Observation } from '@openfactory/model'
import { type ModbusConnector, modbusSpec } from '../src/index.ts'
import { type ModbusPeer, serverConnections, startPeer } from './peer.ts'

const FAST = { connectTimeoutMs: 2000, backoff: { initialMs: 50, maxMs: 200 } }

/** Units 1-3 of the peer: each one's counter (holding register 100) and its own id (holding register 30). */
function gatewayBlock(peer: ModbusPeer, extra: Record<string, unknown> = {}) {
  const registers: Record<string, unknown> = {}
  for (const u of [1, 2, 3]) {
    registers[`count${u}`] = { address: 100, unit_id: u, category: 'Events', tag: 'PartCount' }
    registers[`id${u}`] = { address: 30, unit_id: u }
  }
  return {
    type: 'modbus',
    host: peer.host,
    port: peer.port,
    poll_interval_ms: 50,
    timeout_ms: 300,
    registers,
    ...extra,
  }
}

async function startDevice(t: TestContext, block: Record<string, unknown>) {
  const connector = modbusSpec.create(modbusSpec.parse(deviceConfig(block, { uuid: 'GW-1' })), {
    timings: FAST,
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
const counts = (ctx: RecordingContext, id: string): number[] =>
  valuesOf(ctx, id)
    .filter((o) => o.value !== 'UNAVAILABLE')
    .map((o) => Number(o.value))

/** Mutes unit 2: its count goes UNAVAILABLE, BAD, with the timeout (`timeoutMs`) as reason, and so does its id. */
async function muteUnit2(ctx: RecordingContext, peer: ModbusPeer, timeoutMs: number): Promise<void> {
  await peer.control('mute 2')
  await eventually(
    () => (valuesOf(ctx, 'count2').at(-1)?.value === 'UNAVAILABLE' ? true : undefined),
    10_000,
    'unit 2 UNAVAILABLE',
  )
  const down = valuesOf(ctx, 'count2').at(-1) as Observation
  assert.deepEqual(
    [down.attributes.quality, down.attributes.reason],
    ['BAD', `OFA_MODBUS_TIMEOUT: unit 2: no response within ${timeoutMs} ms`],
  )
  assert.equal(valuesOf(ctx, 'id2').at(-1)?.value, 'UNAVAILABLE')
}

/**
 * After unit 2 was muted, then unmuted, while units 1 and 3 answered: they were never UNAVAILABLE, unit 2's id read
 * 2, UNAVAILABLE, 2 (its count UNAVAILABLE once), the asset stayed available, and unit 2's timeouts never remade
 * the one connection.
 */
function assertUnit2Recovered(ctx: RecordingContext, connector: ModbusConnector, port: number): void {
  for (const id of ['count1', 'count3']) {
    assert.ok(
      valuesOf(ctx, id).every((o) => o.value !== 'UNAVAILABLE'),
      `${id} never UNAVAILABLE`,
    )
  }
  assert.deepEqual(
    valuesOf(ctx, 'id2').map((o) => o.value),
    [2, 'UNAVAILABLE', 2],
  )
  assert.equal(valuesOf(ctx, 'count2').filter((o) => o.value === 'UNAVAILABLE').length, 1)
  assert.ok(
    ctx.availability.every((a) => a.available),
    'the asset stays available while units answer',
  )
  assert.equal(serverConnections(port), 1)
  assert.equal(connector.stats().connections, 1)
}
const allRead = (ctx: RecordingContext) => () =>
  [1, 2, 3].every((u) => valuesOf(ctx, `id${u}`).some((o) => o.value === u)) ? true : undefined

test('pipelined: three units on one connection; a muted unit delays no other unit’s polls, its items UNAVAILABLE, then back', async (t) => {
  // The counters tick every 0.5 s and are polled every 50 ms; unit 2 waits 3 s for an answer. Were the units'
  // requests queued one behind the other on the connection, each poll of the muted unit would hold the others back
  // 3 s, and their counters would skip values.
  const peer = await startPeer(t, '1,2,3', { pipelining: true, tick: 0.5 })
  const { ctx, connector } = await startDevice(
    t,
    // Units 1 and 3 wait 1 s (a loaded machine may stall a poll a few hundred ms), unit 2 3 s.
    gatewayBlock(peer, { connection: 'pipelined', timeout_ms: 1000, units: { '2': { timeout_ms: 3000 } } }),
  )
  await eventually(allRead(ctx), 10_000, 'every unit read')
  assert.equal(serverConnections(peer.port), 1, 'the server holds one connection')
  await eventually(() => (counts(ctx, 'count2').length >= 2 ? true : undefined), 10_000, 'unit 2 counting')
  await muteUnit2(ctx, peer, 3000)
  // While unit 2 stays muted (several of its 3 s timeouts), units 1 and 3 count on.
  const mark = counts(ctx, 'count3').length
  await eventually(() => (counts(ctx, 'count3').length >= mark + 8 ? true : undefined), 20_000, 'unit 3 counts on')
  assert.equal(valuesOf(ctx, 'count2').at(-1)?.value, 'UNAVAILABLE', 'unit 2 still down meanwhile')
  await peer.control('unmute 2')
  await eventually(() => (valuesOf(ctx, 'id2').at(-1)?.value === 2 ? true : undefined), 10_000, 'unit 2 back')
  await eventually(() => (valuesOf(ctx, 'count2').at(-1)?.value !== 'UNAVAILABLE' ? true : undefined), 10_000, 'count2')
  for (const id of ['count1', 'count3']) {
    const c = counts(ctx, id)
    assert.ok(c.length >= 12, `${id}: ${c.length} counts`)
    // In order, none repeated, at most one count skipped at a time (a poll held back by a loaded machine): had the
    // units' requests been queued behind the muted unit's 3 s timeouts, each would skip about six.
    const steps = c.slice(1).map((x, i) => x - (c[i] as number))
    assert.deepEqual(
      steps.filter((s) => s !== 1 && s !== 2),
      [],
      `${id}: ${c.join(' ')}`,
    )
  }
  assertUnit2Recovered(ctx, connector, peer.port)
})

test('shared: three units on one connection, one request at a time, with any server', async (t) => {
  const peer = await startPeer(t)
  const { ctx, connector } = await startDevice(t, gatewayBlock(peer, { connection: 'shared' }))
  await eventually(allRead(ctx), 10_000, 'every unit read')
  await eventually(
    () => ([1, 2, 3].every((u) => counts(ctx, `count${u}`).length >= 3) ? true : undefined),
    10_000,
    'every unit counting',
  )
  assert.equal(serverConnections(peer.port), 1)
  assert.equal(connector.stats().connections, 1)
})

test('per_unit (the default): a connection per unit id', async (t) => {
  const peer = await startPeer(t)
  const { ctx, connector } = await startDevice(t, gatewayBlock(peer))
  await eventually(allRead(ctx), 10_000, 'every unit read')
  assert.equal(serverConnections(peer.port), 3)
  assert.equal(connector.stats().connections, 3)
})

test('shared: a muted unit times out, its items UNAVAILABLE, while the other units on the connection are still polled, on one connection', async (t) => {
  // One request at a time: each poll of the muted unit holds the others back by its timeout (documented), but
  // never stops them, and its timeouts leave the connection up while the others answer on it.
  const peer = await startPeer(t, '1,2,3', { tick: 0.2 })
  const { ctx, connector } = await startDevice(t, gatewayBlock(peer, { connection: 'shared', timeout_ms: 1000 }))
  await eventually(allRead(ctx), 10_000, 'every unit read')
  await eventually(() => (counts(ctx, 'count2').length >= 2 ? true : undefined), 10_000, 'unit 2 counting')
  assert.equal(serverConnections(peer.port), 1, 'the server holds one connection')
  await muteUnit2(ctx, peer, 1000)
  // While unit 2 stays muted (several of its timeouts), units 1 and 3 count on.
  const marks = [counts(ctx, 'count1').length, counts(ctx, 'count3').length]
  await eventually(
    () =>
      counts(ctx, 'count1').length >= (marks[0] as number) + 8 &&
      counts(ctx, 'count3').length >= (marks[1] as number) + 8
        ? true
        : undefined,
    30_000,
    'units 1 and 3 count on',
  )
  assert.equal(valuesOf(ctx, 'count2').at(-1)?.value, 'UNAVAILABLE', 'unit 2 still down meanwhile')
  // Its timeouts never remade the connection the others answer on.
  assert.equal(serverConnections(peer.port), 1)
  assert.equal(connector.stats().connections, 1)
  await peer.control('unmute 2')
  await eventually(() => (valuesOf(ctx, 'id2').at(-1)?.value === 2 ? true : undefined), 10_000, 'unit 2 back')
  await eventually(() => (valuesOf(ctx, 'count2').at(-1)?.value !== 'UNAVAILABLE' ? true : undefined), 10_000, 'count2')
  for (const id of ['count1', 'count3']) {
    const c = counts(ctx, id)
    assert.ok(
      c.every((x, i) => i === 0 || x > (c[i - 1] as number)),
      `${id} counts up, in order: ${c.join(' ')}`,
    )
  }
  assertUnit2Recovered(ctx, connector, peer.port)
})

test('shared: every unit silent is a dead link: the connection is remade, the asset UNAVAILABLE with the timeout, then back', async (t) => {
  const peer = await startPeer(t)
  const { ctx, connector } = await startDevice(t, gatewayBlock(peer, { connection: 'shared', timeout_ms: 500 }))
  await eventually(allRead(ctx), 10_000, 'every unit read')
  assert.equal(connector.stats().connections, 1)
  for (const u of [1, 2, 3]) await peer.control(`mute ${u}`)
  await eventually(
    () => (ctx.availability.at(-1)?.available === false ? true : undefined),
    10_000,
    'the asset UNAVAILABLE',
  )
  assert.match(String(ctx.availability.at(-1)?.reason), /^OFA_MODBUS_TIMEOUT: unit \d: no response within 500 ms$/)
  // Two timeouts in a row with nothing back between them: the connection is remade, though requests wait.
  await eventually(() => (connector.stats().connections >= 2 ? true : undefined), 10_000, 'a new connection')
  for (const u of [1, 2, 3]) await peer.control(`unmute ${u}`)
  await eventually(
    () => (ctx.availability.at(-1)?.available === true ? true : undefined),
    10_000,
    'the asset available again',
  )
  await eventually(
    () => ([1, 2, 3].every((u) => valuesOf(ctx, `id${u}`).at(-1)?.value === u) ? true : undefined),
    10_000,
    'every unit back',
  )
  for (const u of [1, 2, 3]) {
    assert.deepEqual(
      valuesOf(ctx, `id${u}`).map((o) => o.value),
      [u, 'UNAVAILABLE', u],
    )
  }
})
