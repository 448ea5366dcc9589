import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { applyCondition, decodeObservation, encodeObservation, type Observation, worstLevel } from '@openfactory/model'
import fc from 'fast-check'
import { readDevicesXml, shdrDeviceFromMTConnect } from '../../src/mtconnect/index.ts'
import { parseShdrDataSet, type ShdrDevice, type ShdrItem, ShdrMapper } from '../../src/shdr/mapper.ts'
import { parseShdrLine, type ShdrDataLine } from '../../src/shdr/parser.ts'
import { shdrDeviceFromData } from '../../src/shdr/shdr-connector.ts'

const [first] = readDevicesXml(new URL('../fixtures/mtconnect/mill-3axis.xml', import.meta.url).pathname)
if (!first) throw new Error('fixture has no device')
const mill = first
const RECEIVED = Date.parse('2025-01-01T00:00:00.000Z')

function data(line: string, lineNo = 1): ShdrDataLine {
  const l = parseShdrLine(line, lineNo)
  assert.equal(l.kind, 'data', `${line} parses as data`)
  return l as ShdrDataLine
}

function millMapper(shdrVersion = 1): ShdrMapper {
  return new ShdrMapper({ devices: [shdrDeviceFromMTConnect(mill, 'MILL-1')], shdrVersion })
}

function obsOf(m: ShdrMapper, line: string): Observation[] {
  return m.map(data(line), RECEIVED).groups.flatMap((g) => g.observations)
}

describe('ShdrMapper with a Devices.xml model', () => {
  test("a value that repeats the item's last one is dropped (filterDuplicates, on by default), until UNAVAILABLE", () => {
    const m = millMapper()
    const ids = (line: string) => obsOf(m, line).map((o) => `${o.id}=${o.value}`)
    assert.deepEqual(ids('|Xact|1|mode|AUTOMATIC'), ['x_pos=1', 'mode=AUTOMATIC'])
    assert.deepEqual(ids('|Xact|1|mode|AUTOMATIC'), [], 'the same values again: nothing new')
    assert.deepEqual(ids('|Xact|2|mode|AUTOMATIC'), ['x_pos=2'])
    m.unavailableAll('MILL-1', 'adapter gone')
    assert.deepEqual(ids('|Xact|2|mode|AUTOMATIC'), ['x_pos=2', 'mode=AUTOMATIC'], 'after UNAVAILABLE a value is news')
    assert.equal(m.stats().duplicates, 3)
    const all = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(mill, 'MILL-1')], filterDuplicates: false })
    assert.equal(all.map(data('|Xact|1'), RECEIVED).groups.length, 1)
    assert.equal(all.map(data('|Xact|1'), RECEIVED).groups.length, 1, 'off: every value is kept')
  })

  test('an empty field: an empty event value (kept, as the reference agent keeps it), UNAVAILABLE for a sample', () => {
    const obs = obsOf(millMapper(), '2025-03-14T08:00:01Z|program||Xact||mode|unavailable')
    assert.deepEqual(
      obs.map((o) => [o.id, o.value]),
      [
        ['program', ''],
        ['x_pos', 'UNAVAILABLE'],
        ['mode', 'UNAVAILABLE'],
      ],
    )
    const message = obsOf(millMapper(), '2025-03-14T08:00:01Z|msg|M12|')
    assert.deepEqual(
      message.map((o) => [o.id, o.value, o.attributes.nativeCode]),
      [['msg', '', 'M12']],
      'a message whose text is blank',
    )
  })

  test('samples stay numbers, events stay text, with units, subType, timestamps', () => {
    const obs = obsOf(millMapper(), '2025-03-14T08:00:01.5Z|Xact|-12.5|mode|AUTOMATIC|part_count|12')
    assert.deepEqual(obs, [
      {
        id: 'x_pos',
        value: -12.5,
        tag: 'Position',
        type: 'Samples',
        attributes: {
          timestamp: '2025-03-14T08:00:01.500Z',
          ingestion_timestamp: '2025-01-01T00:00:00.000Z',
          units: 'MILLIMETER',
          subType: 'ACTUAL',
        },
      },
      {
        id: 'mode',
        value: 'AUTOMATIC',
        tag: 'ControllerMode',
        type: 'Events',
        attributes: { timestamp: '2025-03-14T08:00:01.500Z', ingestion_timestamp: '2025-01-01T00:00:00.000Z' },
      },
      {
        id: 'part_count',
        value: '12',
        tag: 'PartCount',
        type: 'Events',
        attributes: {
          timestamp: '2025-03-14T08:00:01.500Z',
          ingestion_timestamp: '2025-01-01T00:00:00.000Z',
          subType: 'ALL',
        },
      },
    ])
    // The wire format round-trips.
    for (const o of obs) assert.deepEqual(decodeObservation(encodeObservation(o)), o)
  })

  test('keys resolve by name, then id, then Source', () => {
    const obs = obsOf(millMapper(), '|Xact|1|x_pos|2|CabTemp|30.5|cab_temp|31')
    assert.deepEqual(
      obs.map((o) => [o.id, o.value]),
      [
        ['x_pos', 1],
        ['x_pos', 2],
        ['cab_temp', 30.5],
        ['cab_temp', 31],
      ],
    )
    assert.equal(obs[0]?.attributes.timestamp, '2025-01-01T00:00:00.000Z', 'no timestamp: the receive time')
  })

  test('UNAVAILABLE and empty values; bad numbers are UNAVAILABLE with quality BAD and a reason', () => {
    const m = millMapper()
    const r = m.map(data('2025-03-14T08:00:00Z|Xact|unavailable|Yact||Zact|1.2.3|execution|UNAVAILABLE'), RECEIVED)
    const obs = r.groups[0]?.observations ?? []
    assert.deepEqual(
      obs.map((o) => [o.id, o.value, o.attributes.quality]),
      [
        ['x_pos', 'UNAVAILABLE', undefined],
        ['y_pos', 'UNAVAILABLE', undefined],
        ['z_pos', 'UNAVAILABLE', 'BAD'],
        ['execution', 'UNAVAILABLE', undefined],
      ],
    )
    assert.match(String(obs[2]?.attributes.reason), /not a number: '1.2.3'/)
    assert.deepEqual(
      r.problems.map((p) => [p.lineNo, p.key, p.reason]),
      [[1, 'Zact', 'bad-number']],
    )
  })

  test('constraints: out of range or not an allowed value is UNCERTAIN', () => {
    const obs = obsOf(millMapper(), '|Srpm|15000|execution|DANCING|Smode|SPINDLE')
    assert.equal(obs[0]?.attributes.quality, 'UNCERTAIN')
    assert.match(String(obs[0]?.attributes.reason), /outside \[0, 12000\]/)
    assert.equal(obs[1]?.attributes.quality, 'UNCERTAIN')
    assert.equal(obs[2]?.attributes.quality, undefined)
  })

  test('conditions: level and native fields, several active, cleared by code or NORMAL', () => {
    const m = millMapper()
    const lines = [
      '2025-03-14T08:01:00Z|system|FAULT|E-1|2|HIGH|Servo amplifier fault',
      '2025-03-14T08:01:01Z|system|WARNING|W-7||LOW|Low lube',
      '2025-03-14T08:01:02Z|system|NORMAL|E-1|||',
      '2025-03-14T08:01:03Z|system|NORMAL||||',
      '2025-03-14T08:01:04Z|system|unavailable||||',
    ]
    const obs = lines.flatMap((l) => obsOf(m, l))
    assert.deepEqual(obs[0], {
      id: 'system',
      value: 'FAULT',
      tag: 'System',
      type: 'Condition',
      attributes: {
        timestamp: '2025-03-14T08:01:00.000Z',
        ingestion_timestamp: '2025-01-01T00:00:00.000Z',
        nativeCode: 'E-1',
        nativeSeverity: '2',
        qualifier: 'HIGH',
        message: 'Servo amplifier fault',
      },
    })
    let active = applyCondition([], obs[0] as Observation)
    active = applyCondition(active, obs[1] as Observation)
    assert.deepEqual(
      active.map((c) => [c.level, c.nativeCode]),
      [
        ['FAULT', 'E-1'],
        ['WARNING', 'W-7'],
      ],
    )
    active = applyCondition(active, obs[2] as Observation)
    assert.deepEqual(
      active.map((c) => c.nativeCode),
      ['W-7'],
    )
    assert.equal(worstLevel(active), 'WARNING')
    active = applyCondition(active, obs[3] as Observation)
    assert.deepEqual(active, [])
    assert.equal(obs[4]?.value, 'UNAVAILABLE')
  })

  test('a bad condition level is a problem, not an observation', () => {
    const m = millMapper()
    const r = m.map(data('|system|BROKEN|E-1|||'), RECEIVED)
    assert.equal(r.groups.length, 0)
    assert.equal(r.problems[0]?.reason, 'bad-condition-level')
  })

  test('messages carry their native code; a message without one is text only', () => {
    const m = millMapper()
    assert.deepEqual(
      obsOf(m, '|msg|CHG_INSRT|Change inserts').map((o) => [o.id, o.tag, o.type, o.value, o.attributes.nativeCode]),
      [['msg', 'Message', 'Events', 'Change inserts', 'CHG_INSRT']],
    )
    assert.deepEqual(
      obsOf(m, '|msg|Door open').map((o) => [o.value, o.attributes.nativeCode]),
      [['Door open', undefined]],
    )
  })

  test('time series: samples as MTConnect streams them, count and rate attributes', () => {
    const m = millMapper()
    const [o] = obsOf(m, '2025-03-14T08:00:00Z|Svib|4|1000|0.1 0.2 -0.3 4e-3')
    assert.equal(o?.tag, 'DisplacementTimeSeries')
    assert.equal(o?.value, '0.1 0.2 -0.3 0.004')
    assert.equal(o?.attributes.sampleCount, 4)
    assert.equal(o?.attributes.sampleRate, 1000)
    const [short] = obsOf(m, '|Svib|5||1 2')
    assert.equal(short?.attributes.quality, 'UNCERTAIN')
    assert.equal(short?.attributes.sampleRate, undefined)
    const [bad] = obsOf(m, '|Svib|x|10|1 2')
    assert.equal(bad?.value, 'UNAVAILABLE')
    assert.equal(bad?.attributes.quality, 'BAD')
  })

  test('data sets: JSON text, removals as null, reset trigger', () => {
    const m = millMapper()
    const [o] = obsOf(m, '|vars|:MANUAL a=1 b="two words" c d=')
    assert.equal(o?.tag, 'VariableDataSet')
    assert.deepEqual(JSON.parse(String(o?.value)), { a: '1', b: 'two words', c: null, d: null })
    assert.equal(o?.attributes.resetTriggered, 'MANUAL')
    assert.equal(o?.attributes.count, 4)
  })

  test('a reset trigger on a value item', () => {
    const [o] = obsOf(millMapper(), '|part_count|0:day')
    assert.equal(o?.value, '0')
    assert.equal(o?.attributes.resetTriggered, 'DAY')
  })

  test('three-space samples keep their text', () => {
    const [o] = obsOf(millMapper(), '|path_pos|1.5 -2 3e1')
    assert.equal(o?.value, '1.5 -2 3e1')
    assert.equal(o?.tag, 'PathPosition')
  })

  test('the device AVAILABILITY item is an availability change, not an observation', () => {
    const m = millMapper()
    const r = m.map(data('2025-03-14T08:00:00Z|avail|UNAVAILABLE|Xact|1'), RECEIVED)
    assert.deepEqual(r.availability, [{ assetUuid: 'MILL-1', available: false, timestamp: '2025-03-14T08:00:00.000Z' }])
    assert.deepEqual(
      r.groups[0]?.observations.map((o) => o.id),
      ['x_pos'],
    )
  })

  test('unknown keys are skipped with their value, reported once, counted every time', () => {
    const m = millMapper()
    const r1 = m.map(data('|nope|1|Xact|2|nope2|x|Yact|3'), RECEIVED)
    assert.deepEqual(
      r1.groups[0]?.observations.map((o) => [o.id, o.value]),
      [
        ['x_pos', 2],
        ['y_pos', 3],
      ],
    )
    assert.deepEqual(r1.newUnknownKeys, ['nope', 'nope2'])
    const r2 = m.map(data('|nope|5'), RECEIVED)
    assert.deepEqual(r2.newUnknownKeys, [])
    assert.deepEqual(m.stats().unknownKeys, { nope: 2, nope2: 1 })
  })

  test('SHDR 1: a multi-field observation ends its line; SHDR 2: several per line', () => {
    const line = '|system|FAULT|E-1|1||Fault|Xact|5'
    assert.deepEqual(
      obsOf(millMapper(1), line).map((o) => o.id),
      ['system'],
    )
    assert.deepEqual(
      obsOf(millMapper(2), line).map((o) => o.id),
      ['system', 'x_pos'],
    )
    const m = millMapper(1)
    m.shdrVersion = 2
    assert.equal(m.shdrVersion, 2)
  })

  test('a key with no value is a problem', () => {
    const r = millMapper().map(data('|Xact|1|Yact'), RECEIVED)
    assert.equal(r.groups[0]?.observations.length, 1)
    assert.deepEqual(
      r.problems.map((p) => [p.key, p.reason]),
      [['Yact', 'missing-value']],
    )
  })

  test('relative timestamps count from the receive time of the first one', () => {
    const m = millMapper()
    const a = m.map(data('1000|Xact|1'), RECEIVED).groups[0]?.observations[0]
    const b = m.map(data('1500.7|Xact|2'), RECEIVED + 2000).groups[0]?.observations[0]
    assert.equal(a?.attributes.timestamp, '2025-01-01T00:00:00.000Z')
    assert.equal(b?.attributes.timestamp, '2025-01-01T00:00:00.500Z')
    m.resetRelativeTime()
    const c = m.map(data('10|Xact|3'), RECEIVED + 5000).groups[0]?.observations[0]
    assert.equal(c?.attributes.timestamp, '2025-01-01T00:00:05.000Z')
  })

  test('durations become an attribute', () => {
    const [o] = obsOf(millMapper(), '2025-03-14T08:00:00Z@2.5|Sload|40')
    assert.equal(o?.attributes.duration, 2.5)
  })

  test('unavailableAll: every item once, conditions UNAVAILABLE without quality, others BAD', () => {
    const m = millMapper()
    const obs = m.unavailableAll('MILL-1', 'adapter gone', RECEIVED)
    assert.equal(obs.length, 39, 'every item of the fixture but the device availability')
    assert.ok(obs.every((o) => o.value === 'UNAVAILABLE' && o.attributes.reason === 'adapter gone'))
    const system = obs.find((o) => o.id === 'system')
    assert.equal(system?.type, 'Condition')
    assert.equal(system?.attributes.quality, undefined)
    assert.equal(obs.find((o) => o.id === 'x_pos')?.attributes.quality, 'BAD')
    assert.equal(new Set(obs.map((o) => o.id)).size, obs.length)
  })
})

describe('multi-device adapters', () => {
  const item = (id: string, category: ShdrItem['category'] = 'Samples'): ShdrItem => ({
    id,
    tag: 'Current',
    category,
    kind: 'value',
  })
  const dev = (uuid: string, name: string): ShdrDevice => ({
    assetUuid: uuid,
    aliases: [name],
    keys: new Map([['current', item('current')]]),
  })

  test('dev:key addresses another device; * device: changes the default', () => {
    const m = new ShdrMapper({
      devices: [dev('A-UUID', 'device1'), dev('B-UUID', 'device2'), dev('C-UUID', 'device3')],
    })
    const r = m.map(
      data('|device1:current|12|device2:current|11|current|10|device3:current|9|device9:current|1'),
      RECEIVED,
    )
    assert.deepEqual(
      r.groups.map((g) => [g.assetUuid, g.observations.map((o) => o.value)]),
      [
        ['A-UUID', [12, 10]],
        ['B-UUID', [11]],
        ['C-UUID', [9]],
      ],
    )
    assert.deepEqual(r.newUnknownKeys, ['device9:current'])
    assert.equal(m.setDefaultDevice('device2'), true)
    assert.equal(m.setDefaultDevice('nope'), false)
    assert.equal(m.map(data('|current|7'), RECEIVED).groups[0]?.assetUuid, 'B-UUID')
  })

  test('a YAML shdr device: the key is the ID, tag and type as declared', () => {
    const d = shdrDeviceFromData('SENSOR-1', {
      temp: { tag: 'Temperature', type: 'Samples' },
      state: { tag: 'Execution', type: 'Events' },
    })
    const m = new ShdrMapper({ devices: [d] })
    assert.deepEqual(
      m
        .map(data('|temp|21.5|state|ACTIVE|humi|40'), RECEIVED)
        .groups[0]?.observations.map((o) => [o.id, o.tag, o.type, o.value]),
      [
        ['temp', 'Temperature', 'Samples', 21.5],
        ['state', 'Execution', 'Events', 'ACTIVE'],
      ],
    )
  })
})

describe('parseShdrDataSet', () => {
  test('quotes, braces, escapes and tables', () => {
    assert.deepEqual(parseShdrDataSet('a=\'x y\' b={p q} c="say \\"hi\\""'), {
      entries: [
        ['a', 'x y'],
        ['b', 'p q'],
        ['c', 'say "hi"'],
      ],
    })
    assert.deepEqual(parseShdrDataSet("G53.1={X=1.0 Y=2.0 s='with space'} G53.2={X=4.0} G53.3=", true), {
      entries: [
        ['G53.1', { X: '1.0', Y: '2.0', s: 'with space' }],
        ['G53.2', { X: '4.0' }],
        ['G53.3', null],
      ],
    })
    assert.deepEqual(parseShdrDataSet(':RESET'), { entries: [], resetTriggered: 'RESET' })
  })

  test('never throws on random input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.boolean(), (s, table) => {
        parseShdrDataSet(s, table)
      }),
      { numRuns: 1000 },
    )
  })
})

test('the mapper never throws on random data lines', () => {
  const m = millMapper(2)
  const keys = [...shdrDeviceFromMTConnect(mill, 'MILL-1').keys.keys(), 'nope', 'mill-1:Xact', '']
  const token = fc.oneof(
    fc.constantFrom(...keys),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('UNAVAILABLE', 'FAULT', '1.5'),
  )
  fc.assert(
    fc.property(fc.array(token, { maxLength: 14 }), (tokens) => {
      const line: ShdrDataLine = { kind: 'data', lineNo: 1, time: 'now', timeMs: Number.NaN, timestamp: '', tokens }
      const r = m.map(line, RECEIVED)
      for (const g of r.groups) for (const o of g.observations) decodeObservation(encodeObservation(o))
    }),
    { numRuns: 2000 },
  )
})
