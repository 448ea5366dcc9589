// The Modbus connector against a real Modbus TCP server (pymodbus, scripts/peers/modbus_server.py): every field
// type decoded from grouped reads, exception codes as UNAVAILABLE, an unresponsive unit that neither starves the
// others nor loses or duplicates observations, and writes verified by read-back.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  createRecordingContext,
  deviceConfig,
  eventually,
  type RecordingContext,
} from '@openfactory/connectors/testing'
import type { CommandEnvelope, Observation } from '@openfactory/model'
import { type ModbusConnector, modbusSpec } from '../src/index.ts'
import { type ModbusPeer, startPeer } from './peer.ts'

const FAST = { connectTimeoutMs: 2000, backoff: { initialMs: 50, maxMs: 200 } }

/** The peer's known registers (scripts/peers/modbus_server.py, SEED), as a user would map them. */
function plcBlock(peer: ModbusPeer, extra: Record<string, unknown> = {}, registers: Record<string, unknown> = {}) {
  return {
    type: 'modbus',
    host: peer.host,
    port: peer.port,
    poll_interval_ms: 50,
    timeout_ms: 300,
    registers: {
      i16: { address: 0, type: 'int16', category: 'Events' },
      u16: { address: 1, type: 'uint16' },
      i32: { address: 2, type: 'int32' },
      u32: { address: 4, type: 'uint32' },
      i64: { address: 6, type: 'int64' },
      f32: { address: 10, type: 'float32', units: 'CELSIUS', tag: 'Temperature' },
      f64: { address: 12, type: 'float64' },
      name: { address: 16, type: 'string', length: 4, tag: 'SerialNumber' },
      ready: { address: 20, type: 'bit', bit: 0 },
      fault: { address: 20, type: 'bit', bit: 1, category: 'Condition' },
      f32_cdab: { address: 22, type: 'float32', word_order: 'little' },
      f32_badc: { address: 24, type: 'float32', byte_order: 'little' },
      temp: { address: 0, table: 'input', scale: 0.01, units: 'CELSIUS', tag: 'Temperature' },
      running: { address: 0, table: 'coil' },
      door: { address: 1, table: 'discrete' },
      unit2: { address: 30, unit_id: 2 },
      unit3: { address: 30, unit_id: 3 },
      count2: { address: 100, unit_id: 2, category: 'Events', tag: 'PartCount' },
      count3: { address: 100, unit_id: 3, category: 'Events', tag: 'PartCount' },
      ...registers,
    },
    ...extra,
  }
}

async function startDevice(t: TestContext, block: Record<string, unknown>, uuid = 'PLC-1') {
  const spec = modbusSpec
  const connector = spec.create(spec.parse(deviceConfig(block, { uuid })), { timings: FAST }) as ModbusConnector
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
const lastOf = (ctx: RecordingContext, id: string) => valuesOf(ctx, id).at(-1)
const have = (ctx: RecordingContext, id: string, pred: (o: Observation) => boolean) => () =>
  valuesOf(ctx, id).some(pred) ? true : undefined

function command(method: string, args: Record<string, unknown>): CommandEnvelope {
  return { header: { correlation_id: `c-${method}`, sender: 'test' }, arguments: args } as unknown as CommandEnvelope
}

test('every field type is read from the real server, decoded with its orders and scale', async (t) => {
  const peer = await startPeer(t)
  const { ctx } = await startDevice(t, plcBlock(peer))
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 10_000, 'available')
  const ids = ['i16', 'u16', 'i32', 'u32', 'i64', 'f32', 'f64', 'name', 'ready', 'fault', 'f32_cdab', 'f32_badc']
  await eventually(
    () => ([...ids, 'temp', 'running', 'door', 'unit2', 'unit3'].every((id) => lastOf(ctx, id)) ? true : undefined),
    10_000,
    'all read',
  )
  const v = (id: string) => lastOf(ctx, id)?.value
  assert.deepEqual(ids.map(v), [
    '-1234',
    54321,
    -123456789,
    3000000000,
    -1234567890123,
    21.5,
    Math.PI,
    'OFA-PLC1',
    'true',
    'NORMAL',
    21.5,
    21.5,
  ])
  assert.deepEqual([v('temp'), v('running'), v('door'), v('unit2'), v('unit3')], [21.55, 'true', 'true', 2, 3])
  const f32 = lastOf(ctx, 'f32')!
  assert.deepEqual([f32.tag, f32.type, f32.attributes.units], ['Temperature', 'Samples', 'CELSIUS'])
  assert.equal(lastOf(ctx, 'fault')?.type, 'Condition')
  // Published on change only: a constant register is published once, however many polls passed.
  assert.equal(valuesOf(ctx, 'i32').length, 1)
  const asset = ctx.declared.at(-1)!
  assert.deepEqual(
    asset.dataItems.find((d) => d.id === 'temp'),
    { id: 'temp', category: 'Samples', tag: 'Temperature', units: 'CELSIUS' },
  )
})

test('an exception response makes only the items of that read UNAVAILABLE, with the code as reason', async (t) => {
  const peer = await startPeer(t)
  // 999-1000 passes the server's 1000 registers: exception 2 (illegal data address). max_gap 0 keeps it apart.
  const { ctx } = await startDevice(
    t,
    plcBlock(peer, { max_gap: 0 }, { past_end: { address: 999, type: 'uint32', poll_interval_ms: 50 } }),
  )
  await eventually(
    have(ctx, 'past_end', (o) => o.value === 'UNAVAILABLE'),
    10_000,
    'past_end UNAVAILABLE',
  )
  const bad = lastOf(ctx, 'past_end')!
  assert.deepEqual(
    [bad.attributes.quality, bad.attributes.reason],
    ['BAD', 'OFA_MODBUS_EXCEPTION 2 (illegal data address)'],
  )
  await eventually(
    have(ctx, 'u16', (o) => o.value === 54321),
    10_000,
    'u16 still read',
  )
  assert.ok(
    ctx.availability.every((a) => a.available),
    'the asset stays available',
  )
  assert.equal(valuesOf(ctx, 'past_end').length, 1, 'the same failure is not published again at every poll')
})

test('an unresponsive unit: its items UNAVAILABLE with the timeout as reason, the other units keep polling, nothing lost or duplicated', async (t) => {
  const peer = await startPeer(t)
  const { ctx } = await startDevice(t, plcBlock(peer))
  await eventually(
    have(ctx, 'count3', (o) => Number(o.value) > 0),
    10_000,
    'unit 3 counting',
  )
  await peer.control('mute 2')
  await eventually(
    have(ctx, 'count2', (o) => o.value === 'UNAVAILABLE'),
    10_000,
    'unit 2 UNAVAILABLE',
  )
  const down = valuesOf(ctx, 'count2').find((o) => o.value === 'UNAVAILABLE')!
  assert.match(String(down.attributes.reason), /^OFA_MODBUS_TIMEOUT: unit 2: no response within 300 ms/)
  assert.equal(down.attributes.quality, 'BAD')
  assert.equal(lastOf(ctx, 'unit2')?.value, 'UNAVAILABLE')
  // Unit 3 keeps counting while unit 2 is dead: several new values after unit 2 went down.
  const mark = valuesOf(ctx, 'count3').length
  await eventually(() => (valuesOf(ctx, 'count3').length >= mark + 5 ? true : undefined), 10_000, 'unit 3 goes on')
  assert.ok(
    ctx.availability.every((a) => a.available),
    'the asset stays available while a unit answers',
  )
  await peer.control('unmute 2')
  await eventually(
    have(ctx, 'unit2', (o) => o.value === 2 && valuesOf(ctx, 'unit2').indexOf(o) > 0),
    10_000,
    'unit 2 back',
  )
  // unit2 (a constant): its value, UNAVAILABLE once, its value again; counters never repeat a value in a row.
  assert.deepEqual(
    valuesOf(ctx, 'unit2')
      .map((o) => o.value)
      .slice(0, 3),
    [2, 'UNAVAILABLE', 2],
  )
  for (const id of ['count2', 'count3']) {
    const vs = valuesOf(ctx, id).map((o) => o.value)
    assert.ok(
      vs.every((x, i) => i === 0 || x !== vs[i - 1]),
      `${id}: no value published twice in a row`,
    )
  }
  const c3 = valuesOf(ctx, 'count3').map((o) => Number(o.value))
  assert.ok(
    c3.every((x, i) => i === 0 || x > (c3[i - 1] as number)),
    'unit 3 counts up, in order',
  )
})

test('the whole device silent: avail UNAVAILABLE with the reason, then back', async (t) => {
  const peer = await startPeer(t, '1')
  const block = {
    type: 'modbus',
    host: peer.host,
    port: peer.port,
    poll_interval_ms: 50,
    timeout_ms: 200,
    registers: { u16: { address: 1 } },
  }
  const { ctx } = await startDevice(t, block)
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 10_000, 'available')
  await peer.control('mute 1')
  await eventually(() => (ctx.availability.at(-1)?.available === false ? true : undefined), 10_000, 'unavailable')
  assert.match(String(ctx.availability.at(-1)?.reason), /^OFA_MODBUS_TIMEOUT/)
  await peer.control('unmute 1')
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 10_000, 'available again')
  assert.deepEqual(
    valuesOf(ctx, 'u16').map((o) => o.value),
    [54321, 'UNAVAILABLE', 54321],
  )
})

test('writes as methods: checked against the map, written, verified by read-back', async (t) => {
  const peer = await startPeer(t)
  const { ctx, connector } = await startDevice(
    t,
    plcBlock(
      peer,
      {},
      {
        setpoint: { address: 40, type: 'float32', writable: true, minimum: 0, maximum: 300, units: 'CELSIUS' },
        speed: { address: 42, type: 'int16', scale: 0.1, writable: true },
        label: { address: 44, type: 'string', length: 2, writable: true },
        lamp: { address: 5, table: 'coil', writable: true },
        flag: { address: 46, type: 'bit', bit: 3, writable: true },
      },
    ),
  )
  await eventually(() => (ctx.availability.at(-1)?.available === true ? true : undefined), 10_000, 'available')
  const methods = ctx.declared.at(-1)!.methods.map((m) => `${m.name}:${m.arguments[0]?.type}`)
  assert.deepEqual(methods, [
    'set_setpoint:number',
    'set_speed:number',
    'set_label:string',
    'set_lamp:boolean',
    'set_flag:boolean',
  ])
  const run = (method: string, value: unknown) =>
    connector.execute({ assetUuid: 'PLC-1', method, arguments: { value }, envelope: command(method, { value }) })
  assert.deepEqual(await run('set_setpoint', 180.5), { value: 180.5 })
  assert.deepEqual(await run('set_speed', -12.3), { value: -12.3 })
  assert.deepEqual(await run('set_label', 'AB'), { value: 'AB' })
  assert.deepEqual(await run('set_lamp', true), { value: true })
  assert.deepEqual(await run('set_flag', true), { value: true })
  await eventually(
    have(ctx, 'setpoint', (o) => o.value === 180.5),
    10_000,
    'setpoint polled',
  )
  await eventually(
    have(ctx, 'lamp', (o) => o.value === 'true'),
    10_000,
    'lamp polled',
  )
  await eventually(
    have(ctx, 'flag', (o) => o.value === 'true'),
    10_000,
    'flag polled',
  )
  // Refused before anything is sent: out of the map's range, past what the type holds, wrong JSON type, read-only.
  const refused = async (method: string, value: unknown, why: RegExp) =>
    assert.rejects(
      run(method, value),
      (e: { code?: string; message: string }) => e.code === 'OFA_COMMAND_REJECTED' && why.test(e.message),
    )
  await refused('set_setpoint', 300.5, /above 300/)
  await refused('set_speed', 3276.8, /does not fit int16/)
  await refused('set_label', 'ABCDE', /longer than 4/)
  await refused('set_lamp', 1, /true or false/)
  await refused('set_u16', 1, /no method set_u16/)
})

test('a write to a dead unit fails with the unit’s reason; nothing is written later', async (t) => {
  const peer = await startPeer(t)
  const { ctx, connector } = await startDevice(
    t,
    plcBlock(peer, {}, { sp2: { address: 40, unit_id: 2, writable: true } }),
  )
  await eventually(
    have(ctx, 'sp2', (o) => o.value === 0),
    10_000,
    'sp2 read',
  )
  await peer.control('mute 2')
  await assert.rejects(
    connector.execute({
      assetUuid: 'PLC-1',
      method: 'set_sp2',
      arguments: { value: 7 },
      envelope: command('set_sp2', { value: 7 }),
    }),
    (e: { code?: string; message: string }) =>
      e.code === 'OFA_COMMAND_FAILED' && /OFA_MODBUS_(TIMEOUT|CONNECT)/.test(e.message),
  )
  await peer.control('unmute 2')
  // Unit 2 answers reads again (its counter moves on; sp2 is polled as often): the value was
  // never written, then or later.
  const mark = Number(lastOf(ctx, 'count2')?.value)
  await eventually(
    have(ctx, 'count2', (o) => Number(o.value) > mark + 3),
    10_000,
    'unit 2 read again',
  )
  assert.ok(valuesOf(ctx, 'sp2').every((o) => o.value !== 7))
  assert.equal(
    valuesOf(ctx, 'sp2')
      .filter((o) => o.value !== 'UNAVAILABLE')
      .at(-1)?.value,
    0,
  )
})

test('a response of the wrong length and a device failure: the read’s items UNAVAILABLE with the coded reason, then values again', async (t) => {
  const peer = await startPeer(t)
  const { ctx } = await startDevice(t, plcBlock(peer))
  await eventually(
    have(ctx, 'unit3', (o) => o.value === 3),
    10_000,
    'unit 3 read',
  )
  await peer.control('fault 3 short')
  await eventually(
    have(ctx, 'unit3', (o) => o.value === 'UNAVAILABLE'),
    10_000,
    'unit3 UNAVAILABLE',
  )
  assert.match(
    String(lastOf(ctx, 'unit3')?.attributes.reason),
    /^OFA_MODBUS_RESPONSE: unit 3: a response of the wrong length/,
  )
  await peer.control('fault 3 exception')
  await eventually(
    have(ctx, 'unit3', (o) => o.attributes.reason === 'OFA_MODBUS_EXCEPTION 4 (server device failure)'),
    10_000,
    'exception 4',
  )
  await peer.control('fault 3 none')
  await eventually(() => (lastOf(ctx, 'unit3')?.value === 3 ? true : undefined), 10_000, 'unit3 back')
  // Unit 3 answered throughout (wrongly): the asset never went down, the other units' values never left.
  assert.ok(ctx.availability.every((a) => a.available))
  assert.ok(valuesOf(ctx, 'unit2').every((o) => o.value === 2))
})

test('while the log is congested, polls wait; they resume once it is writable', async (t) => {
  const peer = await startPeer(t)
  const spec = modbusSpec
  const connector = spec.create(spec.parse(deviceConfig(plcBlock(peer), { uuid: 'PLC-1' })), {
    timings: FAST,
  }) as ModbusConnector
  const ctx = createRecordingContext()
  ctx.setCongested(true)
  let waits = 0
  const wait = ctx.whenWritable
  ctx.whenWritable = () => {
    waits++
    return wait()
  }
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    ctx.setCongested(false) // a loop waiting to write must see the abort, even if the test failed before releasing it
    await connector.stop()
  })
  // Every unit's queue is held at whenWritable before its first read: nothing was read, nothing published.
  await eventually(() => (waits >= 3 ? true : undefined), 10_000, 'three units waiting')
  const { reads, registers } = connector.stats()
  assert.deepEqual({ reads, registers }, { reads: 0, registers: 0 })
  assert.equal(ctx.published.length, 0)
  ctx.setCongested(false)
  await eventually(
    have(ctx, 'u16', (o) => o.value === 54321),
    10_000,
    'polls resumed',
  )
})
