import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connectorConformance, deviceConfig } from '@openfactory/connectors/testing'
import { isOpenFactoryError, type Observation, parseSimulatorConfig } from '@openfactory/model'
import { createSimulatorConnector } from '../../src/simulator/simulator-connector.ts'
import { simulatorSpec } from '../../src/simulator/simulator-spec.ts'
import { recordingContext } from '../fake-context.ts'

const CONFIG = {
  type: 'simulator',
  interval_ms: 20,
  seed: 1,
  items: {
    spindle_speed: {
      tag: 'RotaryVelocity',
      category: 'Samples',
      units: 'REVOLUTION/MINUTE',
      signal: 'sine',
      offset: 1000,
      amplitude: 100,
      period_s: 10,
    },
    temp: { tag: 'Temperature', category: 'Samples', signal: 'random_walk', start: 20, step: 0.5, min: 15, max: 25 },
    load: { tag: 'Load', category: 'Samples', signal: 'ramp', from: 0, to: 100, period_s: 1 },
    execution: {
      tag: 'Execution',
      category: 'Events',
      initial: 'READY',
      states: { READY: { next: 'ACTIVE', after_s: 0.01 }, ACTIVE: { next: ['READY'], after_s: [0.01, 0.02] } },
    },
    program: { tag: 'Program', category: 'Events', values: ['O1', 'O2'], every_s: 0.01 },
    part_count: { tag: 'PartCount', category: 'Events', counter: { every_s: 0.01 } },
    system: {
      tag: 'System',
      category: 'Condition',
      faults: [{ native_code: 'E1', level: 'FAULT', message: 'overtemp', every_s: 0.05, duration_s: 0.02, start_s: 0 }],
    },
  },
  methods: {
    SetSpeed: {
      description: 'Set spindle speed',
      arguments: [{ name: 'rpm', type: 'number', required: true }],
      set: { spindle_speed: '$rpm' },
    },
    Stop: { description: 'Stop', set: { execution: 'READY' } },
  },
}

function values(published: { observation: Observation }[], id: string): Observation['value'][] {
  return published.filter((p) => p.observation.id === id).map((p) => p.observation.value)
}

async function run(ms: number, now?: () => number) {
  const sim = createSimulatorConnector({ uuid: 'SIM-1', config: parseSimulatorConfig(CONFIG), ...(now ? { now } : {}) })
  const ctx = recordingContext()
  await sim.start(ctx)
  await new Promise((r) => setTimeout(r, ms))
  await sim.stop()
  return { sim, ctx }
}

test('declares its asset with data items and methods, and goes AVAILABLE', async () => {
  const { ctx } = await run(0)
  const [asset] = ctx.declared
  assert.equal(asset?.uuid, 'SIM-1')
  assert.deepEqual(
    asset?.dataItems.map((d) => [d.id, d.category, d.tag]),
    [
      ['spindle_speed', 'Samples', 'RotaryVelocity'],
      ['temp', 'Samples', 'Temperature'],
      ['load', 'Samples', 'Load'],
      ['execution', 'Events', 'Execution'],
      ['program', 'Events', 'Program'],
      ['part_count', 'Events', 'PartCount'],
      ['system', 'Condition', 'System'],
    ],
  )
  assert.deepEqual(asset?.dataItems.find((d) => d.id === 'execution')?.constraints, { values: ['READY', 'ACTIVE'] })
  assert.deepEqual(
    asset?.methods.map((m) => m.name),
    ['SetSpeed', 'Stop'],
  )
  assert.deepEqual(ctx.availability, [{ uuid: 'SIM-1', available: true }])
  assert.deepEqual(values(ctx.published, 'execution'), ['READY'])
  assert.deepEqual(values(ctx.published, 'system'), ['NORMAL'])
})

test('signals, state machines, cycles, counters and faults all move', async () => {
  const { ctx } = await run(300)
  const speeds = values(ctx.published, 'spindle_speed') as number[]
  assert.ok(speeds.length >= 3)
  for (const v of speeds) assert.ok(v >= 900 && v <= 1100, `sine within offset ± amplitude: ${v}`)
  for (const v of values(ctx.published, 'temp') as number[]) assert.ok(v >= 15 && v <= 25, `random walk clamped: ${v}`)
  for (const v of values(ctx.published, 'load') as number[]) assert.ok(v >= 0 && v <= 100, `ramp in range: ${v}`)
  const exec = values(ctx.published, 'execution')
  assert.ok(exec.includes('ACTIVE') && exec.includes('READY'), `state machine moved: ${exec}`)
  for (let i = 1; i < exec.length; i++)
    assert.notEqual(exec[i], exec[i - 1], 'an event is published only when it changes')
  assert.ok(values(ctx.published, 'program').includes('O2'))
  const counts = values(ctx.published, 'part_count').map(Number)
  assert.deepEqual(
    counts,
    counts.map((_, i) => i),
    'the counter counts up by one from 0',
  )
  const system = ctx.published.filter((p) => p.observation.id === 'system').map((p) => p.observation)
  const fault = system.find((o) => o.value === 'FAULT')
  assert.equal(fault?.attributes.nativeCode, 'E1')
  assert.equal(fault?.attributes.message, 'overtemp')
  const cleared = system.find((o) => o.value === 'NORMAL' && o.attributes.nativeCode === 'E1')
  assert.ok(cleared, 'the fault is cleared by its native code')
})

test('methods change the simulation and answer with what they set', async () => {
  const sim = createSimulatorConnector({
    uuid: 'SIM-1',
    config: parseSimulatorConfig({ ...CONFIG, interval_ms: 10_000 }),
  })
  const ctx = recordingContext()
  await sim.start(ctx)
  const envelope = { header: { correlation_id: 'c', sender_uuid: 's', timestamp: '', signature: null }, arguments: {} }
  const result = await sim.execute({ assetUuid: 'SIM-1', method: 'SetSpeed', arguments: { rpm: 5000 }, envelope })
  assert.deepEqual(result, { spindle_speed: 5000 })
  const last = ctx.published.filter((p) => p.observation.id === 'spindle_speed').at(-1)?.observation.value as number
  assert.ok(Math.abs(last - 5000) <= 100, `new centre: ${last}`)
  await assert.rejects(
    sim.execute({ assetUuid: 'SIM-1', method: 'SetSpeed', arguments: { rpm: 'fast' }, envelope }),
    (e) => isOpenFactoryError(e, 'OFA_COMMAND_REJECTED'),
  )
  await assert.rejects(sim.execute({ assetUuid: 'SIM-1', method: 'SetSpeed', arguments: {}, envelope }), (e) =>
    isOpenFactoryError(e, 'OFA_COMMAND_REJECTED'),
  )
  await sim.stop()
})

test('a bad simulator block lists every problem with its field path', () => {
  try {
    parseSimulatorConfig({
      type: 'simulator',
      interval_ms: 'fast',
      colour: 'red',
      items: {
        a: { tag: 'X', category: 'Sample', signal: 'square' },
        b: { category: 'Events', states: { ON: { next: 'OFF' } }, initial: 'ON' },
        c: { tag: 'C', category: 'Events', counter: { every_s: 1, while: { nope: 'ACTIVE' } } },
      },
      methods: { M: { set: { zz: '$x' } } },
    })
    assert.fail('expected an error')
  } catch (err) {
    assert.ok(isOpenFactoryError(err, 'OFA_CONFIG_INVALID'))
    const messages = err.problems.map((p) => p.message)
    for (const expected of [
      'connector.items.a.category',
      'connector.items.a.signal',
      'connector.items.b.tag',
      'connector.items.b.states.ON.next: names the unknown state OFF',
      'connector.items.c.counter.while: names the unknown item nope',
      'connector.methods.M.set.zz',
      'connector.interval_ms',
      'connector.colour: is not a simulator field',
    ]) {
      assert.ok(
        messages.some((m) => m.startsWith(expected)),
        `${expected} in\n${messages.join('\n')}`,
      )
    }
    for (const p of err.problems) assert.equal(p.code, 'OFA_CONNECTOR_CONFIG')
  }
})

test('connector.type simulator through the registry: problems name the device file and the field', () => {
  const device = deviceConfig(
    { type: 'simulator', interval_ms: 'fast', items: { a: { tag: 'X', category: 'Sample' } } },
    { uuid: 'SIM-9', name: 'sim', file: '/factory/devices.yml' },
  )
  try {
    simulatorSpec.parse(device)
    assert.fail('expected an error')
  } catch (err) {
    assert.ok(isOpenFactoryError(err, 'OFA_CONNECTOR_CONFIG'), String(err))
    assert.deepEqual(
      err.problems.map((p) => [p.where?.file, p.where?.line, p.where?.path]),
      [
        ['/factory/devices.yml', 1, 'devices.sim.connector.items.a.category'],
        ['/factory/devices.yml', 1, 'devices.sim.connector.interval_ms'],
      ],
    )
  }
  const sim = simulatorSpec.create(simulatorSpec.parse(deviceConfig(CONFIG, { uuid: 'SIM-9' })), {})
  assert.equal(sim.asset().dataItems.length, Object.keys(CONFIG.items).length)
})

// The connector conformance suite: the simulated device is unplugged, comes back, misreads on demand.
connectorConformance({
  name: 'simulator',
  async setup() {
    const device = deviceConfig({ ...CONFIG, interval_ms: 20 }, { uuid: 'SIM-CONF' })
    const sim = simulatorSpec.create(simulatorSpec.parse(device), {})
    return {
      connector: sim,
      assetUuid: 'SIM-CONF',
      method: { name: 'SetSpeed', arguments: { rpm: 1200 } },
      produce: async () => {}, // it samples every 20 ms by itself
      breakDevice: async () => sim.simulateDeviceLoss('conformance: the device was unplugged'),
      restoreDevice: async () => sim.simulateDeviceReturn(),
      sendBadData: async () => {
        sim.simulateBadReading('temp', 'conformance: the sensor gave no reading')
        return 'temp'
      },
    }
  },
})
