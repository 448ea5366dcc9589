// End to end over real TCP on 127.0.0.1: our SHDR adapter server writes made-up lines, the connector ingests them
// into a recording fake ConnectorContext.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { connectorConformance, deviceConfig } from '@openfactory/connectors/testing'
import { isOpenFactoryError } from '@openfactory/model'
import { checkConnectorConfigs } from '../../src/from-config.ts'
import { createShdrAdapterServer, type ShdrAdapterServer } from '../../src/shdr/adapter-server.ts'
import { createShdrConnector } from '../../src/shdr/shdr-connector.ts'
import { shdrSpec } from '../../src/shdr/shdr-spec.ts'
import { FAST, last, startAdapter, startConnector, waitFor } from './helpers.ts'

const DATA = {
  temp: { tag: 'Temperature', type: 'Samples' },
  state: { tag: 'Execution', type: 'Events' },
} as const

describe('connector.type: shdr over TCP', () => {
  test('ingests lines in order, survives malformed ones, heartbeats, goes UNAVAILABLE when killed, resumes', async (t) => {
    let server = await startAdapter(t, { heartbeatMs: 1000 })
    const port = server.port
    const connector = createShdrConnector({ uuid: 'SENSOR-1', host: '127.0.0.1', port, data: DATA, timings: FAST })
    const ctx = await startConnector(t, connector)
    assert.deepEqual(ctx.calls[0], {
      call: 'declareAssets',
      assets: [
        {
          uuid: 'SENSOR-1',
          type: 'Device',
          referencesAbove: [],
          referencesBelow: [],
          dataItems: [
            { id: 'temp', category: 'Samples', tag: 'Temperature' },
            { id: 'state', category: 'Events', tag: 'Execution' },
          ],
          methods: [],
        },
      ],
    })
    await waitFor(() => ctx.availability('SENSOR-1').some((a) => a.available), 'connected')
    await waitFor(() => connector.stats().heartbeatMs === 1000, 'PONG 1000')

    const lines = [
      '* adapterVersion: test-1',
      '2025-01-01T00:00:01.000Z|temp|20.5|state|ACTIVE',
      '2025-13-01T00:00:02.000Z|temp|99', // bad timestamp: dropped, counted
      '2025-01-01T00:00:03.000Z|humidity|40|temp|21', // unknown key skipped, the rest kept
      '2025-01-01T00:00:04.000Z|temp|\u0000\u0001', // binary garbage
      '2025-01-01T00:00:05.000Z|temp|hot', // not a number: UNAVAILABLE, quality BAD
      '2025-01-01T00:00:06.000Z|state|STOPPED|temp|22.25',
    ]
    for (const l of lines) server.send(l)
    await waitFor(() => ctx.observations('SENSOR-1').length >= 6, 'six observations')
    const obs = ctx.observations('SENSOR-1')
    assert.deepEqual(
      obs.map((o) => [o.attributes.timestamp, o.id, o.value, o.attributes.quality ?? 'GOOD']),
      [
        ['2025-01-01T00:00:01.000Z', 'temp', 20.5, 'GOOD'],
        ['2025-01-01T00:00:01.000Z', 'state', 'ACTIVE', 'GOOD'],
        ['2025-01-01T00:00:03.000Z', 'temp', 21, 'GOOD'],
        ['2025-01-01T00:00:05.000Z', 'temp', 'UNAVAILABLE', 'BAD'],
        ['2025-01-01T00:00:06.000Z', 'state', 'STOPPED', 'GOOD'],
        ['2025-01-01T00:00:06.000Z', 'temp', 22.25, 'GOOD'],
      ],
    )
    const s = connector.stats()
    assert.equal(s.malformed, 2)
    assert.deepEqual(s.malformedByReason, { 'bad-timestamp': 1, 'control-characters': 1 })
    assert.deepEqual(s.unknownKeys, { humidity: 1 })
    assert.equal(connector.adapterInfo().adapterVersion, 'test-1')
    const warned = ctx.logs.filter((l) => l.level === 'warn').map((l) => l.message)
    assert.ok(
      warned.some((m) => /SHDR line \d+ malformed \(bad-timestamp\)/.test(m)),
      warned.join('\n'),
    )
    assert.ok(ctx.logs.some((l) => l.message.includes('names no data item') && l.fields?.key === 'humidity'))

    // Kill the adapter: every item UNAVAILABLE, then setAvailable(false), with the reason.
    await server.close()
    await waitFor(() => ctx.availability('SENSOR-1').at(-1)?.available === false, 'UNAVAILABLE after the kill')
    const down = ctx.calls.findLastIndex((c) => c.call === 'setAvailable' && !c.available)
    const before = ctx.calls[down - 1]
    assert.ok(before?.call === 'publish')
    assert.deepEqual(
      before.observations.map((o) => [o.id, o.value, o.type]),
      [
        ['temp', 'UNAVAILABLE', 'Samples'],
        ['state', 'UNAVAILABLE', 'Events'],
      ],
    )
    assert.match(String(ctx.availability('SENSOR-1').at(-1)?.reason), /adapter 127\.0\.0\.1:\d+/)

    // Restart it on the same port: the connector reconnects and resumes.
    server = await createShdrAdapterServer({ port, heartbeatMs: 1000 })
    t.after(() => server.close())
    await waitFor(() => ctx.availability('SENSOR-1').at(-1)?.available === true, 'available again')
    server.send('2025-01-01T00:01:00.000Z|temp|30')
    await waitFor(() => last(ctx.observations('SENSOR-1'), 'temp')?.value === 30, 'data after the restart')
    assert.equal(connector.stats().connects, 2)
  })

  test('a hung adapter (no PONG, no data) is declared dead after one unanswered PING and retried', async (t) => {
    const server = await startAdapter(t, { heartbeatMs: 100 })
    const connector = createShdrConnector({
      uuid: 'S-2',
      host: '127.0.0.1',
      port: server.port,
      data: DATA,
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    await waitFor(() => connector.stats().heartbeatMs === 100, 'PONG')
    server.sendValues({ temp: 1 })
    await waitFor(() => last(ctx.observations('S-2'), 'temp')?.value === 1, 'first value')
    server.setResponsive(false)
    await waitFor(() => ctx.availability('S-2').at(-1)?.available === false, 'heartbeat timeout')
    assert.match(
      String(ctx.availability('S-2').at(-1)?.reason),
      /no PONG or data within 100 ms of a PING \(heartbeat 100 ms\)/,
    )
    assert.equal(last(ctx.observations('S-2'), 'temp')?.value, 'UNAVAILABLE')
    server.setResponsive(true)
    await waitFor(() => ctx.availability('S-2').at(-1)?.available === true, 'reconnected')
    // The new connection gets the adapter's snapshot first (the last temp).
    await waitFor(() => last(ctx.observations('S-2'), 'temp')?.value === 1, 'snapshot value')
  })

  test('an adapter that is not there yet: UNAVAILABLE once, then connects when it appears', async (t) => {
    const probe = await createShdrAdapterServer({ port: 0 })
    const port = probe.port
    await probe.close()
    const connector = createShdrConnector({ uuid: 'S-3', host: '127.0.0.1', port, data: DATA, timings: FAST })
    const ctx = await startConnector(t, connector)
    await waitFor(() => ctx.availability('S-3').length === 1, 'first failure reported')
    assert.equal(ctx.availability('S-3')[0]?.available, false)
    assert.match(String(ctx.availability('S-3')[0]?.reason), /ECONNREFUSED/)
    await new Promise((r) => setTimeout(r, 100)) // several failed attempts: still one report
    assert.equal(ctx.availability('S-3').length, 1)
    const server = await createShdrAdapterServer({ port, heartbeatMs: 1000 })
    t.after(() => server.close())
    await waitFor(() => ctx.availability('S-3').at(-1)?.available === true, 'connected once the adapter is up')
  })

  test('stop() closes the connection and publishes nothing more', async (t) => {
    const server = await startAdapter(t)
    const connector = createShdrConnector({
      uuid: 'S-4',
      host: '127.0.0.1',
      port: server.port,
      data: DATA,
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    await server.waitForClients(1, 2000)
    await connector.stop()
    const n = ctx.calls.length
    server.sendValues({ temp: 5 })
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(ctx.calls.length, n)
    assert.equal(connector.stats().connected, false)
  })
})

describe('shdr connector configuration', () => {
  test('from the reference YAML shape, through the registry', () => {
    const device = deviceConfig({ type: 'shdr', host: '10.0.0.5', port: 7878, data: DATA }, { uuid: 'DEV-1' })
    const c = shdrSpec.create(shdrSpec.parse(device), {})
    assert.equal(c.name, 'DEV-1')
    // The one rule model's schema does not hold: a key is one field of a '|'-separated line.
    const bad = deviceConfig(
      { type: 'shdr', host: 'h', port: 7878, data: { 'a|b': { tag: 'T', type: 'Samples' } } },
      { uuid: 'DEV-2', name: 'sensor', file: '/factory/devices.yml' },
    )
    const [problem, ...more] = checkConnectorConfigs([bad])
    assert.equal(more.length, 0)
    assert.equal(problem?.code, 'OFA_CONNECTOR_CONFIG')
    assert.equal(problem?.where?.file, '/factory/devices.yml')
    assert.equal(problem?.where?.line, 1)
    assert.equal(problem?.where?.path, 'devices.sensor.connector.data.a|b')
    assert.match(problem?.message ?? '', /hold no '\|'/)
  })

  test('invalid values are OFA_CONNECTOR_CONFIG naming the field', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ host: '', port: 7878, data: {} }, /host/],
      [{ host: 'h', port: 70000, data: {} }, /connector.port must be a port number at most 65535/],
      [
        { host: 'h', port: 7878, data: { t: { tag: 'T', type: 'Sample' } } },
        /connector.data.t.type must be one of Samples, Events, Condition/,
      ],
      [{ host: 'h', port: 7878, data: { t: { type: 'Samples' } } }, /connector.data.t.tag/],
      [{ host: 'h', port: 7878, data: { 'a|b': { tag: 'T', type: 'Samples' } } }, /hold no '\|'/],
    ]
    for (const [config, message] of bad) {
      assert.throws(
        () => createShdrConnector({ uuid: 'U', ...config } as never),
        (err) => isOpenFactoryError(err, 'OFA_CONNECTOR_CONFIG') && message.test(err.message),
        String(message),
      )
    }
  })
})

// The connector conformance suite: the device peer is our adapter server; broken by closing it, restored on the
// same port, bad data a Samples value that is not a number.
connectorConformance({
  name: 'shdr',
  async setup(t) {
    let server: ShdrAdapterServer = await createShdrAdapterServer({ port: 0, heartbeatMs: 1000 })
    const port = server.port
    t.after(() => server.close())
    const device = deviceConfig({ type: 'shdr', host: '127.0.0.1', port, data: DATA }, { uuid: 'SHDR-CONF' })
    return {
      connector: shdrSpec.create(shdrSpec.parse(device), { timings: FAST }),
      assetUuid: 'SHDR-CONF',
      produce: async () => server.sendValues({ temp: 21.5, state: 'ACTIVE' }),
      breakDevice: () => server.close(),
      restoreDevice: async () => {
        server = await createShdrAdapterServer({ port, heartbeatMs: 1000 })
      },
      sendBadData: async () => {
        server.sendValues({ temp: 'hot' })
        return 'temp'
      },
    }
  },
})
