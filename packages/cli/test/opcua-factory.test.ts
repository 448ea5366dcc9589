// The example OPC UA factory (examples/opcua-factory) end to end, as its README runs it: the simulated machines
// (examples/opcua-factory/simulator/opcua_factory.py, asyncua, started through scripts/opcua.ts --program) and
// `ofa up examples/opcua-factory` in a process group of its own; everything is checked through the HTTP API —
// values flowing, the sensors' events as Condition observations, writes and method calls as commands with their
// results, and the assets going UNAVAILABLE and coming back when the simulator stops and starts again.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { start, stop } from '../../../scripts/opcua.ts'
import { canBind, eventually, getJson, ofa, startOfa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const FACTORY = 'examples/opcua-factory'
const SIMULATOR = join(ROOT, FACTORY, 'simulator/opcua_factory.py')
const CTRL = 'OPCUA-TEMP-CTRL'
const SENSOR1 = 'OPCUA-DHT-SENSOR-001'
const SENSOR2 = 'OPCUA-DHT-SENSOR-002'
/** Deadline of every wait: generous, the assertions never depend on it. */
const LONG = 60_000

/** The ports of the example's device files: the controller, the DHT sensor of WC001, the one of WC002. */
const PORTS = { [CTRL]: 4840, [SENSOR1]: 4841, [SENSOR2]: 4842 } as const

interface ItemState {
  id: string
  value: unknown
  type: string
  timestamp: string
  attributes: Record<string, string | number | undefined>
  conditions?: { level: string; nativeCode: string; nativeSeverity?: string; message?: string }[]
}

interface AssetView {
  uuid: string
  availability: string
  dataItems: { id: string; tag: string; category: string }[]
  methods: { name: string }[]
  state: ItemState[]
}

interface CommandAnswer {
  status: string
  result?: unknown
  error?: { code: string; message: string }
}

test('the example OPC UA factory runs end to end against its simulator', { timeout: 300_000 }, async (t) => {
  // The shared OPC UA test servers take their ports from 4850 up: these are left to the example.
  for (const port of Object.values(PORTS)) {
    assert.ok(
      await canBind(port),
      `port ${port} is taken: is the example's simulator running? (scripts/opcua stop --name opcua-factory)`,
    )
  }
  const port = PORTS[CTRL]
  const name = `opcua-factory-test-${process.pid}`
  t.after(() => stop(name, true))
  // Faster than the defaults (500 ms updates, a status event every 10 s, a 120 s temperature swing), so that
  // the sensors' warnings come and go while the test looks.
  const simulator = {
    name,
    security: 'none' as const,
    port,
    program: SIMULATOR,
    programArgs: ['--interval', '200', '--event-interval', '1000', '--drift-period', '8'],
  }
  const state = await start(simulator)
  assert.equal(state.endpoint, `opc.tcp://127.0.0.1:${port}`)
  assert.deepEqual(state.otherEndpoints, {
    dht1: `opc.tcp://127.0.0.1:${PORTS[SENSOR1]}`,
    dht2: `opc.tcp://127.0.0.1:${PORTS[SENSOR2]}`,
  })
  assert.equal(state.namespace, 'urn:openfactory:examples:opcua-factory:temperature-controller')

  const tmp = await tempDir(t, 'ofa-opcua-factory-')
  const up = startOfa(t, ['up', FACTORY, '--port', '0', '--data', join(tmp, 'data')], {
    HOST_IP: '127.0.0.1',
    OPENFACTORY_PKI_DIR: join(tmp, 'pki'), // our client certificate: not in the repository's ./.ofa-pki
  })
  try {
    const api = `${await up.url}/api`
    const asset = (uuid: string): Promise<AssetView> => getJson(`${api}/assets/${uuid}`)
    const item = async (uuid: string, id: string): Promise<ItemState> => {
      const found = (await asset(uuid)).state.find((s) => s.id === id)
      if (!found) throw new Error(`${uuid} has no ${id} yet`)
      return found
    }
    const call = async (uuid: string, method: string, args: Record<string, unknown>): Promise<CommandAnswer> => {
      const res = await fetch(`${api}/assets/${uuid}/methods/${method}?timeout_ms=30000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(args),
      })
      assert.equal(res.status, 200, `${method}: a final result`)
      return (await res.json()) as CommandAnswer
    }
    const allAvailable = (what: string) =>
      eventually(
        async () => {
          const body = await getJson(`${api}/assets`)
          return body.items.every((a: { availability: string }) => a.availability === 'AVAILABLE') &&
            body.items.length === 3
            ? body.items
            : undefined
        },
        what,
        LONG,
      )

    // The three devices of the factory, AVAILABLE, placed in the UNS as their files say.
    const assets = await allAvailable('three AVAILABLE assets')
    assert.deepEqual(
      assets.map((a: { uuid: string; uns: { unsId: string } }) => [a.uuid, a.uns.unsId]),
      [
        [SENSOR1, 'Demofactory/Machining/WC001/dht-sensor'],
        [SENSOR2, 'Demofactory/Machining/WC002/dht-sensor'],
        [CTRL, 'Demofactory/Assembly/temp-ctrl'],
      ],
    )

    // The controller's model: numeric variables are Samples, text, booleans and times Events; every rw variable
    // is a set_<key> command beside the object's methods.
    const ctrl = await asset(CTRL)
    assert.deepEqual(Object.fromEntries(ctrl.dataItems.map((d) => [d.id, d.category])), {
      model: 'Events',
      firmware_version: 'Events',
      firmware_license: 'Events',
      manufacturer: 'Events',
      current_temp: 'Samples',
      output: 'Samples',
      last_update: 'Events',
      setpoint: 'Samples',
      mode: 'Events',
      kp: 'Samples',
      ki: 'Samples',
      kd: 'Samples',
      prop_enabled: 'Events',
      integ_enabled: 'Events',
      deriv_enabled: 'Events',
      windup: 'Samples',
      output_min: 'Samples',
      output_max: 'Samples',
    })
    assert.deepEqual(
      ctrl.methods.map((m) => m.name),
      [
        'Reset',
        'Tune',
        'set_setpoint',
        'set_mode',
        'set_kp',
        'set_ki',
        'set_kd',
        'set_prop_enabled',
        'set_integ_enabled',
        'set_deriv_enabled',
        'set_windup',
        'set_output_min',
        'set_output_max',
      ],
    )
    const sensor = await asset(SENSOR1)
    assert.deepEqual(
      sensor.dataItems.map((d) => [d.id, d.tag, d.category]),
      [
        ['temp', 'Temperature', 'Samples'],
        ['hum', 'Humidity', 'Samples'],
        ['temp_unit', 'TemperatureUnit', 'Events'],
        ['sensor_model', 'SensorModel', 'Events'],
        ['sensor_events', 'OPCUAEvent', 'Condition'],
      ],
    )
    assert.deepEqual(
      sensor.methods.map((m) => m.name),
      ['set_temp_unit'],
    )

    // The values the servers hold: the nameplate as text, the configuration as numbers and true/false (once the
    // subscription's first notification is in: AVAILABLE comes with the subscription, values right after).
    const values = async (uuid: string, ids: string[]) => {
      const s = (await asset(uuid)).state
      return ids.map((id) => s.find((x) => x.id === id)?.value)
    }
    const reported = (uuid: string, ids: string[]) =>
      eventually(
        async () => {
          const v = await values(uuid, ids)
          return v.every((x) => x !== undefined && x !== 'UNAVAILABLE') ? v : undefined
        },
        `${uuid}: ${ids.join(', ')} reported`,
        LONG,
      )
    assert.deepEqual(
      await reported(CTRL, [
        'model',
        'firmware_version',
        'manufacturer',
        'firmware_license',
        'setpoint',
        'mode',
        'kp',
        'ki',
        'kd',
        'prop_enabled',
        'windup',
        'output_min',
        'output_max',
      ]),
      [
        'TC-2400 PID temperature controller (simulated)',
        '3.1.4',
        'OpenFactory example machines',
        'Apache-2.0',
        50,
        'AUTO',
        4,
        0.2,
        1,
        'true',
        100,
        0,
        100,
      ],
    )
    assert.deepEqual(await reported(SENSOR1, ['temp_unit', 'sensor_model']), [
      'C',
      'DHT22 temperature and humidity sensor (simulated), serial OFA-DHT-0001',
    ])

    // Measured values are numbers, and they change; the last update is a time that moves on.
    for (const [uuid, id] of [
      [CTRL, 'current_temp'],
      [CTRL, 'output'],
      [SENSOR1, 'temp'],
      [SENSOR1, 'hum'],
      [SENSOR2, 'temp'],
      [SENSOR2, 'hum'],
    ] as const) {
      await reported(uuid, [id])
      const first = await item(uuid, id)
      assert.equal(first.type, 'Samples', `${uuid} ${id}`)
      assert.equal(typeof first.value, 'number', `${uuid} ${id}`)
      assert.equal(first.attributes.quality, 'GOOD')
      await eventually(
        async () => {
          const now = await item(uuid, id)
          return typeof now.value === 'number' && now.value !== first.value ? true : undefined
        },
        `${uuid} ${id} to change`,
        LONG,
      )
    }
    await reported(CTRL, ['last_update'])
    const lastUpdate = await item(CTRL, 'last_update')
    assert.match(String(lastUpdate.value), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    await eventually(
      async () => ((await item(CTRL, 'last_update')).value !== lastUpdate.value ? true : undefined),
      'LastUpdateTime to move on',
      LONG,
    )

    // The sensors' events arrive as observations of the Condition sensor_events: the periodic status reports
    // (Severity 100: NORMAL), and the high-temperature warning (Severity 500-699: WARNING) and its clearing.
    const events = async (uuid: string) =>
      (await getJson(`${api}/assets/${uuid}/history?id=sensor_events&limit=10000`)).items as ItemState[]
    // (Each DHT server's sensor is its TemperatureSensor1.)
    const sensorName = 'TemperatureSensor1'
    for (const uuid of [SENSOR1, SENSOR2]) {
      const status = await eventually(
        async () => (await events(uuid)).find((o) => o.attributes.nativeCode === 'SensorStatusEventType'),
        `a status event of ${uuid}`,
        LONG,
      )
      assert.equal(status.type, 'Condition')
      assert.equal(status.value, 'NORMAL')
      assert.equal(status.attributes.nativeSeverity, '100')
      assert.equal(status.attributes.source, sensorName)
      assert.match(String(status.attributes.message), new RegExp(`^${sensorName}: -?\\d+\\.\\d\\d C, \\d+\\.\\d %RH$`))

      const cleared = await eventually(
        async () => {
          const seen = await events(uuid)
          const raised = seen.findIndex(
            (o) => o.attributes.nativeCode === 'HighTemperatureEventType' && o.value !== 'NORMAL',
          )
          if (raised < 0) return undefined
          const clear = seen
            .slice(raised + 1)
            .find((o) => o.attributes.nativeCode === 'HighTemperatureEventType' && o.value === 'NORMAL')
          return clear ? { raised: seen[raised]!, clear } : undefined
        },
        `a high-temperature warning of ${uuid} and its clearing`,
        LONG,
      )
      const warning = cleared.raised
      assert.equal(warning.type, 'Condition')
      assert.equal(warning.value, 'WARNING')
      const severity = Number(warning.attributes.nativeSeverity)
      assert.ok(severity >= 500 && severity < 700, `severity ${severity}`)
      assert.match(String(warning.attributes.message), new RegExp(`^${sensorName}: temperature above 24\\.5 C: `))
      assert.equal(cleared.clear.attributes.message, `${sensorName}: temperature back under 24.5 C`)
      assert.equal(cleared.clear.attributes.nativeSeverity, '100')
    }

    // A write: set_setpoint writes the variable; the value comes back from the server as an observation, and the
    // controller drives the vessel there.
    let answer = await call(CTRL, 'set_setpoint', { value: 60 })
    assert.equal(answer.status, 'completed')
    assert.deepEqual(answer.result, { value: 60 })
    await eventually(async () => ((await item(CTRL, 'setpoint')).value === 60 ? true : undefined), 'setpoint 60', LONG)
    const setpoints = (await getJson(`${api}/assets/${CTRL}/history?id=setpoint&limit=100`)).items as ItemState[]
    assert.deepEqual(
      setpoints.filter((o) => o.value !== 'UNAVAILABLE').map((o) => o.value),
      [50, 60],
      'the set point read at start, then the one written',
    )

    // Method calls: Tune sets the three gains and answers with them; Reset has no output arguments.
    answer = await call(CTRL, 'Tune', { Kp: 3, Ki: 0.25, Kd: 0.5 })
    assert.equal(answer.status, 'completed')
    assert.deepEqual(answer.result, { Kp: 3, Ki: 0.25, Kd: 0.5 })
    await eventually(
      async () => {
        const [kp, ki, kd] = await values(CTRL, ['kp', 'ki', 'kd'])
        return kp === 3 && ki === 0.25 && kd === 0.5 ? true : undefined
      },
      'the new gains as observations',
      LONG,
    )
    answer = await call(CTRL, 'Reset', {})
    assert.equal(answer.status, 'completed')
    assert.deepEqual(answer.result, {})

    // What the server refuses fails with its status: a negative gain, a mode it does not know.
    answer = await call(CTRL, 'Tune', { Kp: -1, Ki: 0.25, Kd: 0.5 })
    assert.equal(answer.status, 'failed')
    assert.deepEqual(answer.error, { code: 'OFA_COMMAND_FAILED', message: 'Tune: BadOutOfRange' })
    answer = await call(CTRL, 'set_mode', { value: 'TURBO' })
    assert.equal(answer.status, 'failed')
    assert.equal(answer.error?.code, 'OFA_COMMAND_FAILED')
    assert.match(String(answer.error?.message), /BadOutOfRange/)
    assert.equal((await item(CTRL, 'mode')).value, 'AUTO')

    // The vessel reaches the new set point.
    await eventually(
      async () => {
        const v = (await item(CTRL, 'current_temp')).value
        return typeof v === 'number' && Math.abs(v - 60) < 1 ? true : undefined
      },
      'the temperature within 1 degree of 60',
      2 * LONG, // the vessel's time constant is 30 s, and Reset emptied the integral: about half a minute
    )

    // The second sensor reports in Fahrenheit once told so.
    answer = await call(SENSOR2, 'set_temp_unit', { value: 'F' })
    assert.equal(answer.status, 'completed')
    assert.deepEqual(answer.result, { value: 'F' })
    await eventually(async () => ((await item(SENSOR2, 'temp_unit')).value === 'F' ? true : undefined), 'unit F', LONG)
    // Its temperature swings between about 19 and 26 C, that is 66 to 79 F.
    await eventually(
      async () => {
        const v = (await item(SENSOR2, 'temp')).value
        return typeof v === 'number' && v > 60 ? true : undefined
      },
      'a temperature in Fahrenheit',
      LONG,
    )
    assert.equal((await item(SENSOR1, 'temp_unit')).value, 'C', 'the other sensor is left alone')

    // The simulator stops: every asset is UNAVAILABLE, with the connector's coded reason; its items too.
    await stop(name)
    for (const uuid of [CTRL, SENSOR1, SENSOR2] as const) {
      const avail = await eventually(
        async () => {
          const a = await asset(uuid)
          return a.availability === 'UNAVAILABLE' ? a.state.find((s) => s.id === 'avail') : undefined
        },
        `${uuid} UNAVAILABLE`,
        LONG,
      )
      assert.equal(avail.value, 'UNAVAILABLE')
      const uri = `opc.tcp://127.0.0.1:${PORTS[uuid]}`
      assert.ok(
        String(avail.attributes.reason).startsWith(`OFA_OPCUA_CONNECT: ${uri}: `),
        `${uuid}: ${avail.attributes.reason}`,
      )
    }
    const down = await item(CTRL, 'current_temp')
    assert.equal(down.value, 'UNAVAILABLE')
    assert.equal(down.attributes.reason, 'OFA_OPCUA_CONNECT')
    assert.equal((await item(SENSOR1, 'sensor_events')).value, 'UNAVAILABLE')

    // It starts again (the same program, ports and arguments): the assets come back with values flowing, from a
    // machine that started afresh (its set point is the initial one again).
    const restartedAt = Date.now()
    await start({ name, security: 'none' })
    await allAvailable('three AVAILABLE assets again')
    for (const [uuid, id] of [
      [CTRL, 'current_temp'],
      [SENSOR1, 'temp'],
      [SENSOR2, 'hum'],
    ] as const) {
      await eventually(
        async () => {
          const now = await item(uuid, id)
          return typeof now.value === 'number' && Date.parse(now.timestamp) > restartedAt ? true : undefined
        },
        `fresh ${uuid} ${id} values after the restart`,
        LONG,
      )
    }
    assert.equal((await item(CTRL, 'setpoint')).value, 50)
    assert.equal((await item(SENSOR2, 'temp_unit')).value, 'C')
    const answerAfter = await call(CTRL, 'set_setpoint', { value: 45.5 })
    assert.equal(answerAfter.status, 'completed')
    assert.deepEqual(answerAfter.result, { value: 45.5 })

    // And its files are valid as they are.
    const validated = await ofa(['validate', FACTORY], { cwd: ROOT, env: {} })
    assert.equal(validated.code, 0, validated.stderr)
    assert.equal(validated.stdout, 'valid: 5 files, 3 devices, 0 apps\n')
  } finally {
    // Ctrl-C as a user would (to the whole group): a clean stop.
    if (up.child.exitCode === null && up.child.pid) process.kill(-up.child.pid, 'SIGTERM')
    const code = await up.exited
    assert.equal(code, 0, `ofa up stopped cleanly; output:\n${up.output().slice(-4000)}`)
  }
})
