// The MTConnect façade's devices: an asset fed by our SHDR connector from a Devices.xml comes back out of `probe` with
// the structure it was described with; an asset without one gets a Device derived from its model. Read by a client
// we did not write (pymtconnect from PyPI) and by Python's own XML parser.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseDevicesXml } from '@openfactory/connectors'
import { isoTimestamp } from '@openfactory/model'
import { createTestLog, createTestServing, declare, publish, sample, sensor } from '../helpers/log.ts'
import { client, eventually, feedMill, MILL_XML, startApp } from './helpers.ts'

interface XmlComponent {
  element: string
  attributes: Record<string, string>
  dataItems: Record<string, string>[]
  components: XmlComponent[]
}

/** Components as `element[id,name]` paths, and every data item with the attributes the test compares. */
function flatten(c: XmlComponent, path = ''): { components: string[]; items: Record<string, string>[] } {
  const here = `${path}/${c.element}[${c.attributes.id},${c.attributes.name ?? ''}]`
  const out = { components: [here], items: c.dataItems.map((d): Record<string, string> => ({ ...d, at: here })) }
  for (const s of c.components) {
    const f = flatten(s, here)
    out.components.push(...f.components)
    out.items.push(...f.items)
  }
  return out
}

const COMPARED = ['id', 'name', 'category', 'type', 'subType', 'units', 'nativeUnits', 'representation'] as const

test('an asset fed by our SHDR connector from a Devices.xml comes back out of probe as it was described', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const mill = await feedMill(t, log, 'MILL-7')
  mill.send(`${isoTimestamp()}|Xact|12.5|exec|ACTIVE|program|O1234|parts|3|vars|a=1 b=2`)
  mill.send(`${isoTimestamp()}|Xtravel|FAULT|OT-1|2|HIGH|overtravel X`)
  await eventually(() => (serving.state.item('MILL-7', 'xtravel')?.value === 'FAULT' ? true : undefined))
  const { url } = await startApp(t, log, serving)

  const probe = await client<{
    client: { devices: { name: string; uuid: string; id: string }[] }
    xml: { status: number; header: Record<string, string>; devices: XmlComponent[] }
  }>(['probe', url])
  // pymtconnect reads the Device (its name, uuid, id).
  assert.deepEqual(probe.client.devices, [{ name: 'vmc-7', uuid: 'MILL-7', id: 'vmc' }])
  // The XML: the same components, nested the same way, and every data item with the same attributes.
  const [device] = probe.xml.devices
  assert.ok(device)
  const served = flatten(device)
  const [model] = parseDevicesXml(MILL_XML, { file: 'vmc-7.xml' })
  assert.ok(model)
  // Paths as the file nests them: element[id,name] at each level.
  const byPath = new Map(model.components.map((c) => [c.path, c]))
  const pathOf = (p: string): string =>
    p
      .split('/')
      .map((_, i, all) => {
        const c = byPath.get(all.slice(0, i + 1).join('/'))
        return `${c?.type}[${c?.id},${c?.name ?? ''}]`
      })
      .join('/')
  assert.deepEqual(served.components, [
    '/Device[vmc,vmc-7]',
    ...model.components.map((c) => `/Device[vmc,vmc-7]/${pathOf(c.path)}`),
  ])
  const expectedItems = model.dataItems.map((d) => ({
    ...Object.fromEntries(
      COMPARED.filter((k) => k !== 'category' && k !== 'representation' && d[k as keyof typeof d] !== undefined).map(
        (k) => [k, String(d[k as keyof typeof d])],
      ),
    ),
    category: d.mtCategory,
    ...(d.representation !== 'VALUE' ? { representation: d.representation } : {}),
    at: d.componentPath === '' ? '/Device[vmc,vmc-7]' : `/Device[vmc,vmc-7]/${pathOf(d.componentPath)}`,
  }))
  const comparable = (items: Record<string, string>[]) =>
    items
      .map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => k === 'at' || COMPARED.includes(k as never))))
      .sort((a, b) => String(a.id).localeCompare(String(b.id)))
  assert.deepEqual(comparable(served.items), comparable(expectedItems))
  assert.equal(probe.xml.status, 200)
  assert.equal(probe.xml.header.version, '2.2.0.0')
  for (const k of ['creationTime', 'sender', 'instanceId', 'bufferSize', 'assetBufferSize', 'assetCount']) {
    assert.ok(k in probe.xml.header, `Header@${k}`)
  }

  // current, read by pymtconnect (events, conditions) and the XML (samples too): the values the adapter sent, under
  // the file's ids; the Device's AVAILABILITY item shows the asset's availability.
  const current = await client<{
    client: {
      events: { dataItemId: string; value: unknown }[]
      conditions: { dataItemId: string; state: string; nativeCode: string }[]
    }
    xml: { observations: { element: string; attributes: Record<string, string>; text: string; entries: unknown[] }[] }
  }>(['current', url])
  const event = (id: string) => current.client.events.find((e) => e.dataItemId === id)?.value
  assert.equal(event('exec'), 'ACTIVE')
  assert.equal(event('program'), 'O1234')
  assert.equal(String(event('parts')), '3')
  assert.equal(event('vmc_avail'), 'AVAILABLE')
  const travel = current.client.conditions.find((c) => c.dataItemId === 'xtravel')
  assert.deepEqual([travel?.state, travel?.nativeCode], ['Fault', 'OT-1'])
  const xpos = current.xml.observations.find((o) => o.attributes.dataItemId === 'xpos')
  assert.equal(xpos?.element, 'Position')
  assert.equal(xpos?.text, '12.5')
  assert.equal(xpos?.attributes.subType, 'ACTUAL')
  const vars = current.xml.observations.find((o) => o.attributes.dataItemId === 'vars')
  assert.equal(vars?.element, 'VariableDataSet')
  assert.deepEqual(vars?.entries, [
    { key: 'a', value: '1' },
    { key: 'b', value: '2' },
  ])
})

test('an asset without a Devices.xml is a Device of its own, its items derived from its model', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('OPC-1', ['F', 'A', 'OPC-1']))
  await declare(log, sensor('OPC-2', ['F', 'A', 'OPC-2']))
  await publish(log, 'OPC-1', [sample('Temp', 21.5)])
  await eventually(() => (serving.state.item('OPC-1', 'Temp')?.value === 21.5 ? true : undefined))
  const { url } = await startApp(t, log, serving)
  const probe = await client<{ xml: { devices: XmlComponent[] } }>(['probe', url])
  assert.deepEqual(
    probe.xml.devices.map((d) => d.attributes),
    [
      { id: 'OPC-1', name: 'OPC-1', uuid: 'OPC-1' },
      { id: 'OPC-2', name: 'OPC-2', uuid: 'OPC-2' },
    ],
  )
  // Ids prefixed by the uuid (both sensors have a `Temp`), types in MTConnect form, units as declared.
  assert.deepEqual(probe.xml.devices[0]?.dataItems, [
    { category: 'EVENT', id: 'OPC-1_avail', type: 'AVAILABILITY' },
    { category: 'SAMPLE', id: 'OPC-1_Temp', type: 'TEMPERATURE', units: 'CELSIUS' },
    { category: 'SAMPLE', id: 'OPC-1_Hum', type: 'HUMIDITY', units: 'PERCENT' },
    { category: 'EVENT', id: 'OPC-1_exec', type: 'EXECUTION' },
    { category: 'CONDITION', id: 'OPC-1_system', type: 'SYSTEM' },
  ])
})
