// connector.type: mtconnect with device_xml + adapter, end to end over TCP on 127.0.0.1.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { connectorConformance, deviceConfig } from '@openfactory/connectors/testing'
import { applyCondition, isOpenFactoryError, type Observation } from '@openfactory/model'
import { connectorSpec } from '../../src/connector-spec.ts'
import { planDevice } from '../../src/from-config.ts'
import { createMTConnectConnector, MTConnectAgentConnector, mtconnectSpec } from '../../src/mtconnect/index.ts'
import { createShdrAdapterServer, type ShdrAdapterServer, ShdrConnector, shdrLines } from '../../src/shdr/index.ts'
import { FAST, last, startAdapter, startConnector, waitFor } from '../shdr/helpers.ts'

const FIXTURE_XML = new URL('../fixtures/mtconnect/mill-3axis.xml', import.meta.url).pathname
const FIXTURE_SHDR = new URL('../fixtures/shdr/mill-3axis.shdr', import.meta.url).pathname

const PRESSES = `<?xml version="1.0"?>
<MTConnectDevices><Devices>
  <Device id="p1" name="press-1" uuid="uuid-press-1">
    <DataItems>
      <DataItem id="p1_avail" category="EVENT" type="AVAILABILITY"/>
      <DataItem id="p1_msg" name="msg" category="EVENT" type="MESSAGE"/>
    </DataItems>
    <Components><Linear id="p1_ram" name="ram"><DataItems>
      <DataItem id="p1_pos" name="pos" category="SAMPLE" type="POSITION" units="MILLIMETER"/>
      <DataItem id="p1_hyd" name="hyd" category="CONDITION" type="HYDRAULIC"/>
    </DataItems></Linear></Components>
  </Device>
  <Device id="p2" name="press-2" uuid="uuid-press-2">
    <Components><Linear id="p2_ram" name="ram"><DataItems>
      <DataItem id="p2_pos" name="pos" category="SAMPLE" type="POSITION" units="MILLIMETER"/>
      <DataItem id="p2_hyd" name="hyd" category="CONDITION" type="HYDRAULIC"/>
    </DataItems></Linear></Components>
  </Device>
</Devices></MTConnectDevices>`

function active(obs: readonly Observation[], id: string): string[] {
  let set: ReturnType<typeof applyCondition> = []
  for (const o of obs) if (o.id === id) set = applyCondition(set, o)
  return set.map((c) => `${c.level}:${c.nativeCode}`)
}

describe('connector.type: mtconnect over TCP', () => {
  test('one device file per device of a multi-device Devices.xml: the uuid or name binds that device', async (t) => {
    const server = await startAdapter(t, { heartbeatMs: 1000 })
    for (const [uuid, items] of [
      ['uuid-press-2', ['p2_pos', 'p2_hyd']],
      ['press-1', ['p1_avail', 'p1_msg', 'p1_pos', 'p1_hyd']],
    ] as const) {
      const connector = createMTConnectConnector({
        deviceXml: PRESSES,
        deviceXmlFile: 'presses.xml',
        adapter: { host: '127.0.0.1', port: server.port },
        uuid,
        timings: FAST,
      })
      const ctx = await startConnector(t, connector)
      const declared = ctx.calls[0]
      assert.ok(declared?.call === 'declareAssets')
      assert.deepEqual(
        declared.assets.map((a) => [a.uuid, a.dataItems.map((d) => d.id)]),
        [[uuid, items]],
      )
    }
  })

  test('a uuid that is none of several devices is refused, naming the file and its devices; one device binds anyway', (t) => {
    const refused = (e: unknown) =>
      isOpenFactoryError(e) &&
      e.code === 'OFA_CONNECTOR_CONFIG' &&
      e.message.includes('presses.xml') &&
      e.message.includes('press-1 (uuid uuid-press-1)') &&
      e.message.includes('press-2 (uuid uuid-press-2)')
    const adapter = { host: '127.0.0.1', port: 1 }
    assert.throws(
      () => createMTConnectConnector({ deviceXml: PRESSES, deviceXmlFile: 'presses.xml', adapter, uuid: 'NO-MATCH' }),
      refused,
    )
    // From a device file, as ofa validate and ofa up read it: placed at the device's device_xml.
    const dir = mkdtempSync(join(tmpdir(), 'ofa-presses-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'presses.xml'), PRESSES)
    const fileOf = (uuid: string) =>
      deviceConfig(
        { type: 'mtconnect', agent: { device_xml: 'presses.xml', adapter: { ip: '127.0.0.1', port: 7878 } } },
        { uuid, name: 'press', file: join(dir, 'devices.yml') },
      )
    assert.throws(
      () => mtconnectSpec.parse(fileOf('NO-MATCH')),
      (e: unknown) => {
        return refused(e) && /devices\.press\.connector\.agent\.device_xml: /.test((e as Error).message)
      },
    )
    const parsed = mtconnectSpec.parse(fileOf('uuid-press-2'))
    assert.ok(parsed.kind === 'adapter')
    assert.ok(mtconnectSpec.create(parsed, { timings: FAST }) instanceof ShdrConnector)
    // A file of one device binds it whatever the uuid (the reference's single-device files).
    const one = PRESSES.replace(/<Device id="p2"[\s\S]*?<\/Device>/, '')
    assert.doesNotThrow(() => createMTConnectConnector({ deviceXml: one, adapter, uuid: 'NO-MATCH' }))
  })

  test('two device files share one adapter: each connection ingests its device, * device: switches between them', async (t) => {
    const server = await startAdapter(t, { heartbeatMs: 1000 })
    const ctxs: Awaited<ReturnType<typeof startConnector>>[] = []
    for (const uuid of ['uuid-press-1', 'uuid-press-2']) {
      const connector = createMTConnectConnector({
        deviceXml: PRESSES,
        deviceXmlFile: 'presses.xml',
        adapter: { host: '127.0.0.1', port: server.port },
        uuid,
        timings: FAST,
      })
      ctxs.push(await startConnector(t, connector))
    }
    const [one, two] = ctxs as [(typeof ctxs)[0], (typeof ctxs)[0]]
    await server.waitForClients(2, 3000)
    // Both presses name their position `pos`: which one a line means is the adapter's to say.
    for (const l of [
      '2025-02-01T10:00:00.000Z|press-2:pos|20|press-1:pos|10',
      '* device: press-2',
      '2025-02-01T10:00:01.000Z|pos|21',
      '2025-02-01T10:00:02.000Z|@ASSET@|DIE-2|Part|<Part assetId="DIE-2"/>',
      '* device: p1',
      '2025-02-01T10:00:03.000Z|pos|11',
      '2025-02-01T10:00:04.000Z|@ASSET@|DIE-1|Part|<Part assetId="DIE-1"/>',
      '2025-02-01T10:00:05.000Z|pos|12|press-2:pos|22',
    ])
      server.send(l)
    await waitFor(() => last(one.observations('uuid-press-1'), 'p1_pos')?.value === 12, 'press-1 last line')
    await waitFor(() => last(two.observations('uuid-press-2'), 'p2_pos')?.value === 22, 'press-2 last line')
    assert.deepEqual(
      one
        .observations('uuid-press-1')
        .filter((o) => o.id === 'p1_pos')
        .map((o) => o.value),
      [10, 11, 12],
    )
    assert.deepEqual(
      two
        .observations('uuid-press-2')
        .filter((o) => o.id === 'p2_pos')
        .map((o) => o.value),
      [20, 21, 22],
    )
    assert.deepEqual(one.observations('uuid-press-2'), [], 'press-1 connection publishes nothing of press-2')
    assert.deepEqual(two.observations('uuid-press-1'), [], 'press-2 connection publishes nothing of press-1')
    // Each asset document is kept once, by the connection of the device it was sent for.
    assert.deepEqual(
      one.documents().map((d) => [d.assetId, d.deviceUuid]),
      [['DIE-1', 'uuid-press-1']],
    )
    assert.deepEqual(
      two.documents().map((d) => [d.assetId, d.deviceUuid]),
      [['DIE-2', 'uuid-press-2']],
    )
  })

  test('a multi-device adapter: dev:key, * device:, conditions raised and cleared, assets, availability', async (t) => {
    const server = await startAdapter(t, { heartbeatMs: 1000, headerLines: ['* shdrVersion: 2'] })
    const connector = createMTConnectConnector({
      deviceXml: PRESSES,
      deviceXmlFile: 'presses.xml',
      adapter: { host: '127.0.0.1', port: server.port },
      uuid: { 'press-1': 'PRESS-A', 'uuid-press-2': 'PRESS-B' },
      timings: FAST,
    })
    const ctx = await startConnector(t, connector)
    const declared = ctx.calls[0]
    assert.ok(declared?.call === 'declareAssets')
    assert.deepEqual(
      declared.assets.map((a) => [a.uuid, a.dataItems.map((d) => d.id)]),
      [
        ['PRESS-A', ['p1_avail', 'p1_msg', 'p1_pos', 'p1_hyd']],
        ['PRESS-B', ['p2_pos', 'p2_hyd']],
      ],
    )
    await waitFor(() => ctx.availability('PRESS-B').at(-1)?.available === true, 'both connected')
    assert.equal(ctx.availability('PRESS-A').at(-1)?.available, true)

    const send = [
      '2025-02-01T10:00:00.000Z|press-1:pos|10.5|press-2:pos|20.5|pos|11',
      '2025-02-01T10:00:01.000Z|hyd|FAULT|HP-1|3|HIGH|Pressure high|hyd|WARNING|OIL-2||LOW|Oil low|pos|12',
      '2025-02-01T10:00:02.000Z|press-2:hyd|FAULT|HP-9|3||Pressure high on 2',
      '2025-02-01T10:00:03.000Z|hyd|NORMAL|HP-1|||',
      '2025-02-01T10:00:04.000Z|msg|M-1|Die change due|press-9:pos|1',
      '* device: press-2',
      '2025-02-01T10:00:05.000Z|pos|99|hyd|NORMAL||||',
      '* device: uuid-press-1',
      '2025-02-01T10:00:06.000Z|@ASSET@|DIE-7|Part|--multiline--D7',
      '<Part assetId="DIE-7">',
      '  <Description>Stamping die | rev B</Description>',
      '</Part>',
      '--multiline--D7',
      '2025-02-01T10:00:07.000Z|@ASSET@|DIE-8|Part|<Part assetId="DIE-8"/>',
      '2025-02-01T10:00:08.000Z|@REMOVE_ASSET@|DIE-7',
      '2025-02-01T10:00:09.000Z|p1_avail|UNAVAILABLE',
      '2025-02-01T10:00:10.000Z|press-1:p1_avail|AVAILABLE|pos|13',
    ]
    for (const l of send) server.send(l)
    await waitFor(() => last(ctx.observations('PRESS-A'), 'p1_pos')?.value === 13, 'the last line')

    const a = ctx.observations('PRESS-A')
    const b = ctx.observations('PRESS-B')
    assert.deepEqual(
      a.filter((o) => o.id === 'p1_pos').map((o) => o.value),
      [10.5, 11, 12, 13],
    )
    assert.deepEqual(
      b.filter((o) => o.id === 'p2_pos').map((o) => o.value),
      [20.5, 99],
    )
    // The device's own AVAILABILITY drives avail and is an item of its own, under its id.
    assert.deepEqual(
      a.filter((o) => o.id === 'p1_avail').map((o) => [o.value, o.tag, o.type]),
      [
        ['UNAVAILABLE', 'Availability', 'Events'],
        ['AVAILABLE', 'Availability', 'Events'],
      ],
    )
    assert.deepEqual(active(a, 'p1_hyd'), ['WARNING:OIL-2'], 'HP-1 cleared by its code, OIL-2 still active')
    assert.deepEqual(active(b, 'p2_hyd'), [], 'NORMAL without a code clears them all')
    assert.deepEqual(
      a.filter((o) => o.id === 'p1_hyd').map((o) => [o.value, o.tag, o.type, o.attributes.nativeCode]),
      [
        ['FAULT', 'Hydraulic', 'Condition', 'HP-1'],
        ['WARNING', 'Hydraulic', 'Condition', 'OIL-2'],
        ['NORMAL', 'Hydraulic', 'Condition', 'HP-1'],
      ],
    )
    const msg = last(a, 'p1_msg')
    assert.deepEqual([msg?.value, msg?.attributes.nativeCode, msg?.tag], ['Die change due', 'M-1', 'Message'])
    assert.deepEqual(connector.stats().unknownKeys, { 'press-9:pos': 1 })

    const docs = ctx.documents()
    assert.deepEqual(
      docs.map((d) => [d.assetId, d.type, d.deviceUuid, d.timestamp, d.removed ?? false]),
      [
        ['DIE-7', 'Part', 'PRESS-A', '2025-02-01T10:00:06.000Z', false],
        ['DIE-8', 'Part', 'PRESS-A', '2025-02-01T10:00:07.000Z', false],
        ['DIE-7', 'Part', 'PRESS-A', '2025-02-01T10:00:08.000Z', true],
      ],
    )
    assert.equal(docs[0]?.body, '<Part assetId="DIE-7">\n  <Description>Stamping die | rev B</Description>\n</Part>')

    // The device's own AVAILABILITY drives avail.
    assert.deepEqual(ctx.availability('PRESS-A').slice(-2), [
      { available: false, reason: 'the adapter reports the device UNAVAILABLE' },
      { available: true },
    ])
    assert.equal(connector.adapterInfo().shdrVersion, '2')
  })

  test('replays the 3-axis mill log: state and history as the file says', async (t) => {
    const server = await startAdapter(t, { heartbeatMs: 1000 })
    // Through the registry, as ofa up runs it: device_xml relative to the device file.
    const device = deviceConfig(
      {
        type: 'mtconnect',
        agent: { port: 5000, device_xml: 'mill-3axis.xml', adapter: { ip: '127.0.0.1', port: server.port } },
      },
      { uuid: 'MILL-1', file: join(dirname(FIXTURE_XML), 'devices.yml') },
    )
    assert.equal(connectorSpec('mtconnect'), mtconnectSpec)
    const connector = mtconnectSpec.create(mtconnectSpec.parse(device), { timings: FAST })
    assert.ok(connector instanceof ShdrConnector, 'device_xml + adapter: we are the agent of an SHDR adapter')
    const ctx = await startConnector(t, connector)
    await server.waitForClients(1, 3000)
    const lines = shdrLines(readFileSync(FIXTURE_SHDR, 'utf8'))
    const played = await server.play({ lines, speed: Number.POSITIVE_INFINITY, rewriteTimestamps: false })
    assert.equal(played.lines, lines.length)
    await waitFor(
      () => last(ctx.observations('MILL-1'), 'execution')?.attributes.timestamp === '2025-03-14T08:04:00.000Z',
      'the end of the log',
    )
    await waitFor(
      () => last(ctx.observations('MILL-1'), 'msg')?.value === 'Shift end: machine ready',
      'the last message',
    )

    const obs = ctx.observations('MILL-1')
    assert.equal(connector.stats().malformed, 0)
    assert.deepEqual(connector.stats().unknownKeys, {})
    assert.deepEqual(
      obs.filter((o) => o.id === 'part_count').map((o) => o.value),
      ['0', '1', '2', '3', '4', '5'],
    )
    assert.deepEqual([...new Set(obs.filter((o) => o.id === 'program').map((o) => o.value))], ['O1001', 'O1002'])
    // Timestamps never go backwards in the history of one item.
    for (const id of ['x_pos', 'execution', 's_speed']) {
      const ts = obs.filter((o) => o.id === id).map((o) => o.attributes.timestamp)
      assert.deepEqual(ts, [...ts].sort(), id)
    }
    // The servo fault was raised and cleared; the temperature warning too.
    assert.ok(obs.some((o) => o.id === 'system' && o.value === 'FAULT' && o.attributes.nativeCode === 'E-2301'))
    assert.deepEqual(active(obs, 'system'), [])
    assert.deepEqual(active(obs, 's_temp_cond'), [])
    assert.deepEqual(active(obs, 'y_travel'), [])
    // The unavailable spell: the device said so, and its items were UNAVAILABLE.
    assert.deepEqual(
      ctx.availability('MILL-1').map((a) => a.available),
      [true, true, false, true],
    )
    assert.ok(obs.some((o) => o.id === 'x_pos' && o.value === 'UNAVAILABLE'))
    assert.equal(typeof last(obs, 'x_pos')?.value, 'number')
    // Samples are numbers, the vibration a time series, the tool an asset document.
    assert.equal(last(obs, 's_vib')?.attributes.sampleCount, 8)
    assert.deepEqual(JSON.parse(String(last(obs, 'vars')?.value)), { spindle_override: '100' })
    assert.deepEqual(
      ctx.documents().map((d) => [d.assetId, d.type]),
      [['T1.EM10', 'CuttingTool']],
    )
    assert.match(ctx.documents()[0]?.body ?? '', /^<CuttingTool assetId="T1.EM10"[\s\S]*<\/CuttingTool>$/)
  })

  test('from a device file: constants at start, PERIOD held values delivered by the timer and at stop, the filter_duplicates and upcase_values options', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ofa-filters-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(
      join(dir, 'cell.xml'),
      `<MTConnectDevices><Devices><Device id="c" name="cell" uuid="CELL"><DataItems>
  <DataItem id="mode" name="mode" category="EVENT" type="CONTROLLER_MODE"/>
  <DataItem id="kind" name="kind" category="EVENT" type="x:KIND"><Constraints><Value>PRESS</Value></Constraints></DataItem>
  <DataItem id="temp" name="temp" category="SAMPLE" type="TEMPERATURE" units="CELSIUS"><Filters><Filter type="PERIOD">0.2</Filter></Filters></DataItem>
</DataItems></Device></Devices></MTConnectDevices>`,
    )
    const server = await startAdapter(t, { heartbeatMs: 1000 })
    const fileOf = (extra: Record<string, unknown>, port = server.port) =>
      mtconnectSpec.parse(
        deviceConfig(
          {
            type: 'mtconnect',
            agent: { device_xml: 'cell.xml', adapter: { ip: '127.0.0.1', port }, ...extra },
          },
          { uuid: 'CELL', name: 'cell', file: join(dir, 'devices.yml') },
        ),
      )
    const connector = mtconnectSpec.create(fileOf({}), { timings: FAST })
    const ctx = await startConnector(t, connector)
    assert.deepEqual(
      ctx.observations('CELL').map((o) => [o.id, o.value]),
      [['kind', 'PRESS']],
      'the constant, before the adapter said anything',
    )
    await server.waitForClients(1, 3000)
    const t0 = Date.now()
    const ts = (ms: number) => new Date(t0 + ms).toISOString()
    for (const l of [
      `${ts(0)}|temp|20|mode|automatic|kind|DRILL`,
      `${ts(50)}|temp|21`,
      `${ts(100)}|temp|22|mode|automatic`,
    ])
      server.send(l)
    await waitFor(
      () => last(ctx.observations('CELL'), 'temp')?.value === 22,
      'the held temperature, at the end of its period',
    )
    assert.deepEqual(
      ctx.observations('CELL').map((o) => `${o.id}=${o.value}`),
      ['kind=PRESS', 'temp=20', 'mode=AUTOMATIC', 'temp=22'],
      'the constant kept, the vocabulary upcased, the repeat dropped, one temperature per period',
    )
    server.send(`${ts(150)}|temp|23|mode|manual`)
    await waitFor(() => last(ctx.observations('CELL'), 'mode')?.value === 'MANUAL', 'the fourth line read')
    assert.equal(last(ctx.observations('CELL'), 'temp')?.value, 22, '23 is held: its period has not ended')
    await connector.stop()
    assert.equal(last(ctx.observations('CELL'), 'temp')?.value, 23, 'stopping delivers what was held')

    // The options: duplicates kept, values as sent.
    const other = await startAdapter(t, { heartbeatMs: 1000 })
    const raw = await startConnector(
      t,
      mtconnectSpec.create(fileOf({ filter_duplicates: false, upcase_values: false }, other.port), { timings: FAST }),
    )
    await other.waitForClients(1, 3000)
    other.send(`${ts(1000)}|mode|manual`)
    other.send(`${ts(1001)}|mode|manual`)
    await waitFor(() => raw.observations('CELL').filter((o) => o.id === 'mode').length === 2, 'both repeats')
    assert.deepEqual(
      raw
        .observations('CELL')
        .filter((o) => o.id === 'mode')
        .map((o) => o.value),
      ['manual', 'manual'],
    )
  })

  test('configuration errors', () => {
    // An external agent runs (we are its client: agent-*.test.ts); an adapter image is planned as skipped.
    const external = planDevice(
      deviceConfig({ type: 'mtconnect', agent: { ip: '10.0.0.1', port: 5000 } }, { uuid: 'U' }),
    )
    assert.equal(external.kind, 'run')
    assert.ok(external.kind === 'run' && external.connector instanceof MTConnectAgentConnector)
    assert.equal(external.kind === 'run' ? external.connector.name : '', 'U')
    const image = planDevice(
      deviceConfig(
        { type: 'mtconnect', agent: { device_xml: FIXTURE_XML, adapter: { image: 'adapter:1', port: 7878 } } },
        { uuid: 'U' },
      ),
    )
    assert.equal(image.kind, 'skip')
    assert.match(image.kind === 'skip' ? image.reason : '', /adapter image adapter:1 runs only where containers run/)
    const cases: [() => unknown, string, RegExp][] = [
      [
        () =>
          mtconnectSpec.parse(
            deviceConfig(
              { type: 'mtconnect', agent: { device_xml: 'missing.xml', adapter: { ip: '127.0.0.1', port: 7878 } } },
              { uuid: 'U', file: '/nonexistent/devices.yml' },
            ),
          ),
        'OFA_CONFIG_FILE',
        /\/nonexistent\/missing.xml/,
      ],
      [
        () =>
          mtconnectSpec.parse(
            deviceConfig(
              {
                type: 'mtconnect',
                agent: {
                  device_xml: FIXTURE_XML,
                  adapter: { image: 'openfactory/shdr-replay:1', port: 7878, environment: ['SHDR_SPEED=0'] },
                },
              },
              { uuid: 'U', name: 'mill' },
            ),
          ),
        'OFA_CONNECTOR_CONFIG',
        /devices.mill.connector.agent.adapter.environment: .*SHDR_FILE.*; .*SHDR_SPEED/,
      ],
      [
        () =>
          createMTConnectConnector({ deviceXml: PRESSES, adapter: { host: 'h', port: 1 }, uuid: { 'press-3': 'X' } }),
        'OFA_CONNECTOR_CONFIG',
        /'press-3' names no device .*press-1, press-2/,
      ],
      [
        () => createMTConnectConnector({ deviceXml: '<Devices><Device>', adapter: { host: 'h', port: 1 }, uuid: 'X' }),
        'OFA_MTCONNECT_XML',
        /not closed/,
      ],
      [
        () => createMTConnectConnector({ deviceXml: PRESSES, adapter: { host: '', port: 70000 }, uuid: 'X' }),
        'OFA_CONNECTOR_CONFIG',
        /MTConnectConnectorOptions.adapter.host must not be empty; .*adapter.port must be a port number at most 65535/,
      ],
    ]
    for (const [fn, code, message] of cases) {
      assert.throws(
        fn,
        // An error of several problems says how many; each problem is printed after it.
        (err) =>
          isOpenFactoryError(err) &&
          err.code === code &&
          message.test([err.message, ...err.problems.map((p) => `${p.where?.path ?? ''}: ${p.message}`)].join('; ')),
        String(message),
      )
    }
  })
})

// The connector conformance suite, on the 3-axis mill's Devices.xml: the adapter is our SHDR server.
connectorConformance({
  name: 'mtconnect',
  async setup(t) {
    let server: ShdrAdapterServer = await createShdrAdapterServer({ port: 0, heartbeatMs: 1000 })
    const port = server.port
    t.after(() => server.close())
    const device = deviceConfig(
      { type: 'mtconnect', agent: { port: 5000, device_xml: FIXTURE_XML, adapter: { ip: '127.0.0.1', port } } },
      { uuid: 'MILL-CONF' },
    )
    return {
      connector: mtconnectSpec.create(mtconnectSpec.parse(device), { timings: FAST }),
      assetUuid: 'MILL-CONF',
      produce: async () => server.sendValues({ Xact: 12.5, execution: 'ACTIVE' }),
      breakDevice: () => server.close(),
      restoreDevice: async () => {
        server = await createShdrAdapterServer({ port, heartbeatMs: 1000 })
      },
      sendBadData: async () => {
        server.sendValues({ Xact: 'jammed' })
        return 'x_pos'
      },
    }
  },
})
