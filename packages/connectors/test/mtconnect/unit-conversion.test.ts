// nativeUnits → units (and nativeScale) of an adapter's numbers, and `* calibration:`, as an MTConnect agent applies
// them (unit-conversion.ts; the SHDR mapper through shdrItemFromMTConnect).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ConfigWarning, Observation } from '@openfactory/model'
import {
  mtconnectDeviceToAsset,
  parseDevicesXml,
  shdrDeviceFromMTConnect,
  unitConversion,
} from '../../src/mtconnect/index.ts'
import { ShdrMapper } from '../../src/shdr/mapper.ts'
import { parseShdrLine, type ShdrDataLine } from '../../src/shdr/parser.ts'

function close(actual: number | undefined, expected: number, what: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} ≠ ${expected}`,
  )
}

/** `(v + offset) × factor` of a pair. */
function convert(from: string, to: string, v: number): number | undefined {
  const c = unitConversion(from, to)
  return c ? (v + c.offset) * c.factor : undefined
}

describe('unit conversion', () => {
  test('pairs, prefixes, powers, rates and 3D values', () => {
    close(convert('INCH', 'MILLIMETER', 2), 50.8, 'inch')
    close(convert('FOOT', 'MILLIMETER', 1), 304.8, 'foot')
    close(convert('FAHRENHEIT', 'CELSIUS', 212), 100, 'fahrenheit (offset, then factor)')
    close(convert('KILOWATT', 'WATT', 1.5), 1500, 'kilo')
    close(convert('RADIAN', 'DEGREE', Math.PI), 180, 'radian')
    close(convert('FOOT/MINUTE', 'MILLIMETER/SECOND', 60), 304.8, 'a rate: numerator over denominator')
    close(convert('REVOLUTION/SECOND', 'REVOLUTION/MINUTE', 2), 120, 'per second to per minute')
    close(convert('CUBIC_INCH', 'CUBIC_MILLIMETER', 1), 25.4 ** 3, 'cubic')
    close(convert('INCH_3D', 'MILLIMETER_3D', 1), 25.4, '3D, each number')
    close(convert('MILLIMETER/SECOND^2', 'MILLIMETER/MINUTE^2', 1), 3600, 'a power in the denominator')
    assert.deepEqual(unitConversion('MILLIMETER', 'MILLIMETER'), { factor: 1, offset: 0 })
    for (const [from, to] of [
      ['INCH', 'CELSIUS'],
      ['INCH_3D', 'MILLIMETER'],
      ['INCH', 'MILLIMETER/SECOND'],
      ['CUBIC_INCH', 'MILLIMETER'],
      ['FURLONG', 'MILLIMETER'],
    ]) {
      assert.equal(unitConversion(from as string, to as string), null, `${from} → ${to} is unknown`)
    }
  })
})

const XML = `<MTConnectDevices><Devices><Device id="d" name="m" uuid="M"><DataItems>
  <DataItem id="x" name="Xact" category="SAMPLE" type="POSITION" units="MILLIMETER" nativeUnits="INCH"/>
  <DataItem id="t" name="temp" category="SAMPLE" type="TEMPERATURE" units="CELSIUS" nativeUnits="FAHRENHEIT"/>
  <DataItem id="p" name="power" category="SAMPLE" type="WATTAGE" units="WATT" nativeUnits="KILOWATT" nativeScale="10"/>
  <DataItem id="v" name="path" category="SAMPLE" type="PATH_POSITION" units="MILLIMETER_3D" nativeUnits="INCH_3D"/>
  <DataItem id="f" name="feed" category="SAMPLE" type="PATH_FEEDRATE" units="MILLIMETER/SECOND" nativeUnits="FOOT/MINUTE"/>
  <DataItem id="odd" name="odd" category="SAMPLE" type="LENGTH" units="MILLIMETER" nativeUnits="FURLONG"/>
  <DataItem id="s" name="speed" category="SAMPLE" type="ROTARY_VELOCITY" units="REVOLUTION/MINUTE"/>
</DataItems></Device></Devices></MTConnectDevices>`

function line(text: string): ShdrDataLine {
  return parseShdrLine(text, 1) as ShdrDataLine
}

function values(m: ShdrMapper, text: string): Record<string, Observation['value']> {
  const out: Record<string, Observation['value']> = {}
  for (const g of m.map(line(text), Date.parse('2026-01-01T00:00:00Z')).groups) {
    for (const o of g.observations) out[o.id] = o.value
  }
  return out
}

describe('SHDR values in the units of the Devices.xml', () => {
  test('converted from nativeUnits, divided by nativeScale; an unknown pair warns once and passes as sent', () => {
    const warnings: ConfigWarning[] = []
    const [device] = parseDevicesXml(XML, { file: 'm.xml', onWarning: (w) => warnings.push(w) })
    assert.deepEqual(
      warnings.map((w) => w.message),
      ['<DataItem id="odd">: nativeUnits FURLONG cannot be converted to MILLIMETER; its values pass as sent'],
    )
    const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')], filterDuplicates: false })
    const v = values(m, '2026-01-01T00:00:00Z|Xact|2|temp|212|power|3|path|1 2 -0.5|feed|60|odd|7|speed|1200')
    close(v.x as number, 50.8, 'INCH → MILLIMETER')
    close(v.t as number, 100, 'FAHRENHEIT → CELSIUS')
    close(v.p as number, 300, 'KILOWATT → WATT, then / nativeScale 10')
    assert.equal(v.v, '25.4 50.8 -12.7', 'each number of a 3D value')
    close(v.f as number, 304.8, 'FOOT/MINUTE → MILLIMETER/SECOND')
    assert.equal(v.odd, 7, 'unknown: as sent')
    assert.equal(v.s, 1200, 'no nativeUnits: as sent')
  })

  test('* calibration: factor and offset per item, in place of the unit conversion; bad entries are refused', () => {
    const [device] = parseDevicesXml(XML, { file: 'm.xml' })
    const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')], filterDuplicates: false })
    assert.deepEqual(m.calibrate('Xact|2|1|speed|0.5|0|nope|1|1|temp|x|1'), ['nope', 'temp'])
    const v = values(m, '2026-01-01T00:00:00Z|Xact|2|speed|1200|temp|212')
    assert.equal(v.x, 6, '(2 + 1) × 2')
    assert.equal(v.s, 600, '(1200 + 0) × 0.5')
    close(v.t as number, 100, 'a refused entry leaves the item as it was')
  })
})

describe('Filters of the Devices.xml', () => {
  const FILTERED = `<MTConnectDevices><Devices><Device id="d" name="m" uuid="M"><DataItems>
  <DataItem id="l" name="load" category="SAMPLE" type="LOAD" units="PERCENT"><Filters><Filter type="MINIMUM_DELTA">0.5</Filter></Filters></DataItem>
  <DataItem id="p" name="pos" category="SAMPLE" type="POSITION" units="MILLIMETER"><Filters><Filter type="PERIOD">10</Filter></Filters></DataItem>
</DataItems></Device></Devices></MTConnectDevices>`

  test('MINIMUM_DELTA: a sample within the delta of the last kept is dropped; UNAVAILABLE starts again', () => {
    const [device] = parseDevicesXml(FILTERED, { file: 'f.xml' })
    assert.equal(device?.dataItems.find((d) => d.id === 'l')?.minimumDelta, 0.5)
    assert.equal(device?.dataItems.find((d) => d.id === 'p')?.period, 10)
    const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')], filterDuplicates: false })
    const kept: unknown[] = []
    for (const v of ['10', '10.4', '10.49', '10.5', '10.2', '9.99', 'UNAVAILABLE', '9.9', '10']) {
      const out = values(m, `2026-01-01T00:00:00Z|load|${v}`)
      if ('l' in out) kept.push(out.l)
    }
    // 10.5 is 0.5 from 10 (kept); 10.2 is 0.3 from 10.5 (dropped); 9.99 is 0.51 from 10.5 (kept).
    assert.deepEqual(kept, [10, 10.5, 9.99, 'UNAVAILABLE', 9.9])
    assert.equal(m.stats().belowMinimumDelta, 4)
  })

  test('PERIOD: one observation per period on the line clock; the last held goes at the end, nothing accepted is lost', () => {
    const [device] = parseDevicesXml(FILTERED, { file: 'f.xml' })
    const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')], filterDuplicates: false })
    const at = (s: number, v: string, receivedAt = Date.parse('2026-01-01T00:00:00Z') + s * 1000) =>
      m
        .map(line(`2026-01-01T00:00:${String(s).padStart(2, '0')}Z|pos|${v}`), receivedAt)
        .groups.flatMap((g) => g.observations.map((o) => `${o.attributes.timestamp.slice(17, 19)}=${o.value}`))
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    assert.deepEqual(at(0, '1'), ['00=1'], 'the first opens a period of 10 s')
    assert.deepEqual(at(3, '2'), [], 'held')
    assert.deepEqual(at(5, '3'), [], 'replaces the held one')
    assert.equal(m.nextDue(), t0 + 10_000, 'due at the end of the period (our clock)')
    assert.deepEqual(m.releaseDue(t0 + 9_999), [])
    assert.deepEqual(
      m.releaseDue(t0 + 10_000).flatMap((g) => g.observations.map((o) => o.value)),
      [3],
      'the last of the period is delivered when it ends',
    )
    assert.deepEqual(at(12, '4'), [], 'within the next period (10–20 s): held')
    assert.deepEqual(at(21, '5'), ['12=4'], 'past its end: the held one goes, this one is held for the next period')
    assert.deepEqual(at(45, '6'), ['21=5', '45=6'], 'long after: the held one, then this one opening a new period')
    assert.deepEqual(at(47, '7'), [])
    assert.deepEqual(
      at(48, 'UNAVAILABLE'),
      ['47=7', '48=UNAVAILABLE'],
      'UNAVAILABLE passes at once, after the held one',
    )
    assert.deepEqual(at(49, '8'), ['49=8'], 'and starts again')
    assert.deepEqual(at(50, '9'), [])
    const down = m.unavailableAll('M', 'adapter gone', t0 + 51_000).map((o) => `${o.id}=${o.value}`)
    assert.deepEqual(down.slice(0, 1), ['p=9'], 'the adapter gone: what was held goes first')
    assert.ok(down.includes('p=UNAVAILABLE'))
    assert.equal(m.stats().periodReplaced, 1)
    assert.equal(m.nextDue(), undefined)
  })

  test('filters are part of the asset model', () => {
    const [device] = parseDevicesXml(FILTERED, { file: 'f.xml' })
    const asset = mtconnectDeviceToAsset(device!, { uuid: 'M' })
    assert.deepEqual(
      asset.dataItems.map((d) => [d.id, d.filters]),
      [
        ['l', { minimumDelta: 0.5 }],
        ['p', { period: 10 }],
      ],
    )
  })

  test('a Filter of another type or without a number is a problem of the file', () => {
    for (const [filter, message] of [
      ['<Filter type="SMOOTH">1</Filter>', /<Filter type="SMOOTH">: expected MINIMUM_DELTA or PERIOD/],
      ['<Filter type="MINIMUM_DELTA">-1</Filter>', /holds '-1'; expected a number, 0 or more/],
      ['<Filter type="PERIOD"></Filter>', /holds ''; expected a number/],
    ] as const) {
      const xml = FILTERED.replace('<Filter type="PERIOD">10</Filter>', filter)
      assert.throws(
        () => parseDevicesXml(xml, { file: 'f.xml' }),
        (err: { message: string; problems: { message: string }[] }) =>
          [err, ...err.problems].some((p) => message.test(p.message)),
      )
    }
  })
})

describe('constant items, upcased vocabulary, duplicates, time series', () => {
  const XML2 = `<MTConnectDevices><Devices><Device id="d" name="m" uuid="M"><DataItems>
  <DataItem id="mode" name="mode" category="EVENT" type="CONTROLLER_MODE"/>
  <DataItem id="prog" name="prog" category="EVENT" type="PROGRAM"/>
  <DataItem id="kind" name="kind" category="EVENT" type="x:MACHINE_KIND"><Constraints><Value>LATHE</Value></Constraints></DataItem>
  <DataItem id="lim" name="lim" category="SAMPLE" type="LOAD"><Constraints><Value>5</Value><Maximum>10</Maximum></Constraints></DataItem>
  <DataItem id="ts" name="ts" category="SAMPLE" type="POSITION" representation="TIME_SERIES" units="MILLIMETER" nativeUnits="INCH"/>
</DataItems></Device></Devices></MTConnectDevices>`

  test('one Constraints Value and nothing else is a constant: set at start, adapter values ignored, kept when the adapter goes', () => {
    const [device] = parseDevicesXml(XML2, { file: 'f.xml' })
    assert.equal(device?.dataItems.find((d) => d.id === 'kind')?.constantValue, 'LATHE')
    assert.equal(device?.dataItems.find((d) => d.id === 'lim')?.constantValue, undefined, 'a Value beside a Maximum')
    assert.equal(
      mtconnectDeviceToAsset(device!, { uuid: 'M' }).dataItems.find((d) => d.id === 'kind')?.constantValue,
      'LATHE',
    )
    const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')] })
    assert.deepEqual(
      m.constants('M', 0).map((o) => [o.id, o.value, o.tag, o.type]),
      [['kind', 'LATHE', 'x:MachineKind', 'Events']],
    )
    assert.deepEqual(values(m, '2026-01-01T00:00:00Z|kind|MILL|prog|O1'), { prog: 'O1' })
    assert.equal(m.stats().constantIgnored, 1)
    const down = m.unavailableAll('M', 'gone').map((o) => o.id)
    assert.ok(!down.includes('kind') && down.includes('prog'))
  })

  test('controlled-vocabulary events are upcased unless the option says no; free text is kept', () => {
    const [device] = parseDevicesXml(XML2, { file: 'f.xml' })
    const on = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')] })
    assert.deepEqual(values(on, '2026-01-01T00:00:00Z|mode|automatic|prog|o1 rev a'), {
      mode: 'AUTOMATIC',
      prog: 'o1 rev a',
    })
    const off = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')], upcaseValues: false })
    assert.deepEqual(values(off, '2026-01-01T00:00:00Z|mode|automatic'), { mode: 'automatic' })
  })

  test('repeated values are dropped by default, kept with filterDuplicates: false', () => {
    const [device] = parseDevicesXml(XML2, { file: 'f.xml' })
    for (const [filterDuplicates, expected] of [
      [true, [{ prog: 'A' }, {}, { prog: 'B' }]],
      [false, [{ prog: 'A' }, { prog: 'A' }, { prog: 'B' }]],
    ] as const) {
      const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')], filterDuplicates })
      assert.deepEqual(
        ['A', 'A', 'B'].map((v) => values(m, `2026-01-01T00:00:00Z|prog|${v}`)),
        expected,
      )
    }
  })

  test('time series values are converted from nativeUnits like single samples', () => {
    const [device] = parseDevicesXml(XML2, { file: 'f.xml' })
    const m = new ShdrMapper({ devices: [shdrDeviceFromMTConnect(device!, 'M')] })
    assert.deepEqual(values(m, '2026-01-01T00:00:00Z|ts|3|100|1 2 0.5'), { ts: '25.4 50.8 12.7' })
  })
})
