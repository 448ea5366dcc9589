// The example Modbus factory (examples/modbus-factory) end to end, as its README runs it: the simulated PLC
// (examples/modbus-factory/simulator/modbus_plc.py on pymodbus, started through scripts/modbus.ts) and
// `ofa up examples/modbus-factory` in a process group of its own; checked through the HTTP API — values flowing,
// a write verified by read-back and one refused by the map, and one unit going silent while the other goes on.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startModbusServer } from '../../../scripts/modbus.ts'
import { canBind, eventually, getJson, startOfa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const FACTORY = 'examples/modbus-factory'
const FILLER = 'MODBUS-FILLER'
const CAPPER = 'MODBUS-CAPPER'
/** Deadline of every wait: generous, the assertions never depend on it. */
const LONG = 60_000

interface ItemState {
  id: string
  value: unknown
  attributes: Record<string, string | number | undefined>
}

test('the example Modbus factory runs end to end against its simulated PLC', { timeout: 300_000 }, async (t) => {
  assert.ok(await canBind(5020), "port 5020 is taken: is the example's PLC running? (scripts/modbus serve)")
  const plc = await startModbusServer({
    program: join(ROOT, FACTORY, 'simulator/modbus_plc.py'),
    port: 5020,
    units: '1,2',
    args: ['--period', '0.2'],
  })
  t.after(() => plc.stop())
  const tmp = await tempDir(t, 'ofa-modbus-factory-')
  const up = startOfa(t, ['up', FACTORY, '--port', '0', '--data', join(tmp, 'data')], { HOST_IP: '127.0.0.1' })
  const api = `${await up.url}/api`
  const state = async (uuid: string) =>
    (await getJson(`${api}/assets/${uuid}`)) as { availability: string; state: ItemState[] }
  const item = async (uuid: string, id: string) => (await state(uuid)).state.find((s) => s.id === id)
  const call = async (uuid: string, method: string, args: Record<string, unknown>) => {
    const res = await fetch(`${api}/assets/${uuid}/methods/${method}?timeout_ms=30000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(args),
    })
    assert.equal(res.status, 200)
    return (await res.json()) as { status: string; result?: unknown; error?: { code: string; message: string } }
  }

  await eventually(
    async () => {
      const body = await getJson(`${api}/assets`)
      return body.items.length === 2 &&
        body.items.every((a: { availability: string }) => a.availability === 'AVAILABLE')
        ? true
        : undefined
    },
    'two AVAILABLE assets',
    LONG,
  )
  // Values decoded from the map: a 16-character recipe name, a scaled temperature, a counting uint32.
  await eventually(
    async () => ((await item(FILLER, 'recipe'))?.value === 'SPARKLING-0500' ? true : undefined),
    'recipe',
    LONG,
  )
  const temp = Number((await item(FILLER, 'product_temp'))?.value)
  assert.ok(temp >= 17.8 && temp <= 19.0, `temperature ${temp} in the simulator's 17.8-19.0 °C`)
  const first = Number((await item(FILLER, 'bottles'))?.value)
  await eventually(
    async () => (Number((await item(FILLER, 'bottles'))?.value) > first ? true : undefined),
    'bottles count',
    LONG,
  )

  // A write reaches the PLC and is read back; one past the map's maximum is refused before anything is sent.
  const done = await call(FILLER, 'set_fill_volume', { value: 750 })
  assert.deepEqual([done.status, done.result], ['completed', { value: 750 }])
  await eventually(
    async () => ((await item(FILLER, 'fill_volume'))?.value === 750 ? true : undefined),
    'fill_volume 750',
    LONG,
  )
  const refused = await call(FILLER, 'set_fill_volume', { value: 1750 })
  assert.deepEqual([refused.status, refused.error?.code], ['rejected', 'OFA_COMMAND_REJECTED'])

  // Unit 2 stops answering: the capper turns UNAVAILABLE with the timeout as reason; the filler goes on.
  await plc.control('mute 2')
  await eventually(
    async () => ((await state(CAPPER)).availability === 'UNAVAILABLE' ? true : undefined),
    'capper down',
    LONG,
  )
  const speed = await item(CAPPER, 'head_speed')
  assert.equal(speed?.value, 'UNAVAILABLE')
  assert.match(String(speed?.attributes.reason), /^OFA_MODBUS_TIMEOUT: unit 2/)
  assert.equal((await state(FILLER)).availability, 'AVAILABLE')
  const during = Number((await item(FILLER, 'bottles'))?.value)
  await eventually(
    async () => (Number((await item(FILLER, 'bottles'))?.value) > during ? true : undefined),
    'filler goes on',
    LONG,
  )
  await plc.control('unmute 2')
  await eventually(
    async () => ((await state(CAPPER)).availability === 'AVAILABLE' ? true : undefined),
    'capper back',
    LONG,
  )
})
