/**
 * The façade's response documents (MTConnect Part 1 §8): `MTConnectDevices` (probe), `MTConnectStreams` (current,
 * sample), `MTConnectAssets` (assets, asset/{id}) and `MTConnectError`, in the standard's XML (namespaces of version
 * `MTCONNECT_VERSION`, 2.2) or in JSON as agents answer `Accept: application/json` — the version 2 layout of the
 * MTConnect agent (`{"MTConnectStreams": {"jsonVersion": 2, "schemaVersion", "Header", "Streams"}}`): an element
 * is an object whose keys are its attributes (numbers where the standard has numbers), its text is `value`, and the
 * elements of a list (`Devices`, `Components`, `DataItems`, `Streams`, a DeviceStream's ComponentStreams,
 * `Samples`, `Events`, `Condition`, `Assets`, `Errors`) are grouped by element name into arrays.
 *
 * Headers (§8.1.2): `creationTime`, `sender`, `instanceId`, `version`, `deviceModelChangeTime` (Devices, Streams),
 * `bufferSize` (Devices, Streams, Error), `nextSequence`, `firstSequence`, `lastSequence` (Devices, Streams),
 * `assetBufferSize`, `assetCount` (Devices, Assets).
 *
 * Streams (Part 3 §4): `Streams/DeviceStream[name, uuid]/ComponentStream[component, componentId, name]`, then
 * `Samples`, `Events`, `Condition` holding one element per observation, named after the data item's type in
 * PascalCase (`Position`, `PartCount`, with `TimeSeries` / `DataSet` / `Table` for those representations), with
 * `dataItemId`, `timestamp`, `sequence`, and `name`, `subType` when the item has them; a condition's element is its
 * level (`Normal`, `Warning`, `Fault`, `Unavailable`) with the item's `type`, `nativeCode`, `nativeSeverity`,
 * `qualifier` and the message as text. A data set's or table's value (our JSON text of its entries) is written as
 * `Entry[key]` elements (`Cell[key]` in a table's rows; `removed="true"` for a removed key) with `count`.
 *
 * Types with a namespace prefix (`x:SPINDLE_LOAD` → element `x:SpindleLoad`) have the prefix declared on the root
 * as `urn:openfactory.org:mtconnect:<prefix>` (we do not know the schema they came from).
 */
import { MTCONNECT_VERSION, mtconnectNamespace, xmlAttributes, xmlEscape } from '@openfactory/model'
import type { MtComponent, MtDataItem, MtDevice } from './agent-model.ts'
import type { BufferedObservation } from './sequence-buffer.ts'

export type Format = 'xml' | 'json'

export interface Header {
  readonly creationTime: string
  readonly sender: string
  readonly instanceId: number
  readonly version: string
  readonly deviceModelChangeTime?: string
  readonly bufferSize?: number
  readonly nextSequence?: number
  readonly firstSequence?: number
  readonly lastSequence?: number
  readonly assetBufferSize?: number
  readonly assetCount?: number
}

/** The Header's `version`: the standard's version with the agent's minor numbers. */
export const HEADER_VERSION = `${MTCONNECT_VERSION}.0.0`

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

function headerXml(h: Header): string {
  return `<Header${xmlAttributes(h as unknown as Record<string, string | number | undefined>)}/>`
}

function jsonDocument(root: string, body: Record<string, unknown>): string {
  return JSON.stringify({ [root]: { jsonVersion: 2, schemaVersion: MTCONNECT_VERSION, ...body } })
}

function rootXml(document: 'Devices' | 'Streams' | 'Assets' | 'Error', prefixes: ReadonlySet<string> = new Set()) {
  let ns = ` xmlns="${mtconnectNamespace(document)}"`
  for (const p of prefixes) ns += ` xmlns:${p}="urn:openfactory.org:mtconnect:${xmlEscape(p)}"`
  return `<MTConnect${document}${ns}>`
}

/** Appends to the list under `key`, made when absent. */
function push(lists: Record<string, unknown[]>, key: string, value: unknown): void {
  const list = lists[key]
  if (list) list.push(value)
  else lists[key] = [value]
}

function prefixOf(name: string, prefixes: Set<string>): void {
  const colon = name.indexOf(':')
  if (colon > 0) prefixes.add(name.slice(0, colon))
}

// --- probe ---------------------------------------------------------------------------------------------------

function dataItemAttributes(d: MtDataItem): Record<string, string | undefined> {
  return {
    category: d.category,
    id: d.id,
    name: d.name,
    type: d.type,
    subType: d.subType,
    units: d.units,
    nativeUnits: d.nativeUnits,
    representation: d.representation,
  }
}

function componentXml(c: MtComponent, out: string[]): void {
  const device = c.element === 'Device'
  out.push(
    `<${c.element}${xmlAttributes({ id: c.id, name: device ? c.device.name : c.name, ...(device ? { uuid: c.device.uuid } : {}) })}>`,
  )
  if (c.dataItems.length > 0) {
    out.push('<DataItems>')
    for (const d of c.dataItems) out.push(`<DataItem${xmlAttributes(dataItemAttributes(d))}/>`)
    out.push('</DataItems>')
  }
  if (c.components.length > 0) {
    out.push('<Components>')
    for (const s of c.components) componentXml(s, out)
    out.push('</Components>')
  }
  out.push(`</${c.element}>`)
}

function componentJson(c: MtComponent): Record<string, unknown> {
  const device = c.element === 'Device'
  const o: Record<string, unknown> = { id: c.id }
  const name = device ? c.device.name : c.name
  if (name !== undefined) o.name = name
  if (device) o.uuid = c.device.uuid
  if (c.dataItems.length > 0) {
    o.DataItems = {
      DataItem: c.dataItems.map((d) =>
        Object.fromEntries(Object.entries(dataItemAttributes(d)).filter(([, v]) => v !== undefined)),
      ),
    }
  }
  if (c.components.length > 0) {
    const groups: Record<string, unknown[]> = {}
    for (const s of c.components) push(groups, s.element, componentJson(s))
    o.Components = groups
  }
  return o
}

export function probeDocument(format: Format, header: Header, devices: readonly MtDevice[]): string {
  if (format === 'json') {
    return jsonDocument('MTConnectDevices', {
      Header: header,
      Devices: { Device: devices.map((d) => componentJson(d.root)) },
    })
  }
  const out: string[] = [XML_DECLARATION, rootXml('Devices'), headerXml(header), '<Devices>']
  for (const d of devices) componentXml(d.root, out)
  out.push('</Devices></MTConnectDevices>')
  return out.join('')
}

// --- streams -------------------------------------------------------------------------------------------------

/** One observation to write, with the data item it is of. */
export interface Shown {
  readonly item: MtDataItem
  readonly obs: BufferedObservation
}

const LEVELS: Record<string, string> = {
  NORMAL: 'Normal',
  WARNING: 'Warning',
  FAULT: 'Fault',
  UNAVAILABLE: 'Unavailable',
}

function levelOf(o: BufferedObservation): string {
  return LEVELS[String(o.value)] ?? 'Unavailable'
}

/** A data set's or table's entries from our JSON text; undefined when the value is not that (UNAVAILABLE...). */
function entriesOf(value: number | string): [string, unknown][] | undefined {
  if (typeof value !== 'string' || value[0] !== '{') return undefined
  try {
    const v = JSON.parse(value) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v) : undefined
  } catch {
    return undefined
  }
}

function observationXml(s: Shown, prefixes: Set<string>): string {
  const { item, obs } = s
  const x = obs.extras
  if (item.category === 'CONDITION') {
    const el = levelOf(obs)
    const a = xmlAttributes({
      dataItemId: item.id,
      timestamp: obs.timestamp,
      sequence: obs.sequence,
      name: item.name,
      subType: item.subType,
      type: item.type,
      nativeCode: x?.nativeCode,
      nativeSeverity: x?.nativeSeverity,
      qualifier: x?.qualifier,
    })
    const text = x?.message
    return text === undefined || text === '' ? `<${el}${a}/>` : `<${el}${a}>${xmlEscape(String(text))}</${el}>`
  }
  const el = item.element
  prefixOf(el, prefixes)
  const entries =
    item.representation === 'DATA_SET' || item.representation === 'TABLE' ? entriesOf(obs.value) : undefined
  const common = {
    dataItemId: item.id,
    timestamp: obs.timestamp,
    sequence: obs.sequence,
    name: item.name,
    subType: item.subType,
  }
  if (entries) {
    let body = ''
    for (const [k, v] of entries) {
      if (v === null) body += `<Entry${xmlAttributes({ key: k, removed: 'true' })}/>`
      else if (typeof v === 'object') {
        let cells = ''
        for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) {
          cells += `<Cell${xmlAttributes({ key: ck })}>${xmlEscape(String(cv))}</Cell>`
        }
        body += `<Entry${xmlAttributes({ key: k })}>${cells}</Entry>`
      } else body += `<Entry${xmlAttributes({ key: k })}>${xmlEscape(String(v))}</Entry>`
    }
    return `<${el}${xmlAttributes({ ...common, count: entries.length, resetTriggered: x?.resetTriggered })}>${body}</${el}>`
  }
  const a = xmlAttributes({
    ...common,
    sampleCount: x?.sampleCount,
    sampleRate: x?.sampleRate,
    resetTriggered: x?.resetTriggered,
    duration: x?.duration,
    statistic: x?.statistic,
    nativeCode: x?.nativeCode,
  })
  return `<${el}${a}>${xmlEscape(String(obs.value))}</${el}>`
}

function observationJson(s: Shown): [string, Record<string, unknown>] {
  const { item, obs } = s
  const x = obs.extras
  const o: Record<string, unknown> = { dataItemId: item.id, timestamp: obs.timestamp, sequence: obs.sequence }
  if (item.name !== undefined) o.name = item.name
  if (item.subType !== undefined) o.subType = item.subType
  if (item.category === 'CONDITION') {
    o.type = item.type
    for (const k of ['nativeCode', 'nativeSeverity', 'qualifier'] as const) if (x?.[k] !== undefined) o[k] = x[k]
    if (x?.message !== undefined && x.message !== '') o.value = x.message
    return [levelOf(obs), o]
  }
  if (x) for (const [k, v] of Object.entries(x)) if (k !== 'message') o[k] = v
  const entries =
    item.representation === 'DATA_SET' || item.representation === 'TABLE' ? entriesOf(obs.value) : undefined
  if (entries) {
    o.count = entries.length
    o.value = Object.fromEntries(entries.map(([k, v]) => [k, v === null ? { removed: true } : v]))
  } else if (item.representation === 'TIME_SERIES' && typeof obs.value === 'string' && obs.value !== 'UNAVAILABLE') {
    o.value = obs.value.trim().split(/\s+/).map(Number)
  } else o.value = obs.value
  return [item.element, o]
}

interface ComponentGroup {
  readonly component: MtComponent
  readonly samples: Shown[]
  readonly events: Shown[]
  readonly conditions: Shown[]
}

/** Observations grouped as a Streams document groups them: by device, component, category; order kept inside. */
function group(shown: Iterable<Shown>): Map<MtDevice, Map<MtComponent, ComponentGroup>> {
  const devices = new Map<MtDevice, Map<MtComponent, ComponentGroup>>()
  for (const s of shown) {
    const c = s.item.component
    let comps = devices.get(c.device)
    if (!comps) {
      comps = new Map()
      devices.set(c.device, comps)
    }
    let g = comps.get(c)
    if (!g) {
      g = { component: c, samples: [], events: [], conditions: [] }
      comps.set(c, g)
    }
    ;(s.item.category === 'SAMPLE' ? g.samples : s.item.category === 'EVENT' ? g.events : g.conditions).push(s)
  }
  return devices
}

export function streamsDocument(format: Format, header: Header, shown: Iterable<Shown>): string {
  const devices = group(shown)
  if (format === 'json') {
    const deviceStreams: unknown[] = []
    for (const [device, comps] of devices) {
      const componentStreams: unknown[] = []
      for (const g of comps.values()) {
        const cs: Record<string, unknown> = {
          component: g.component.element,
          componentId: g.component.id,
        }
        const name = g.component.element === 'Device' ? device.name : g.component.name
        if (name !== undefined) cs.name = name
        for (const [key, list] of [
          ['Samples', g.samples],
          ['Events', g.events],
          ['Condition', g.conditions],
        ] as const) {
          if (list.length === 0) continue
          const byElement: Record<string, unknown[]> = {}
          for (const s of list) {
            const [el, o] = observationJson(s)
            push(byElement, el, o)
          }
          cs[key] = byElement
        }
        componentStreams.push(cs)
      }
      deviceStreams.push({ name: device.name, uuid: device.uuid, ComponentStream: componentStreams })
    }
    return jsonDocument('MTConnectStreams', {
      Header: header,
      Streams: deviceStreams.length > 0 ? { DeviceStream: deviceStreams } : {},
    })
  }
  const prefixes = new Set<string>()
  const body: string[] = []
  for (const [device, comps] of devices) {
    body.push(`<DeviceStream${xmlAttributes({ name: device.name, uuid: device.uuid })}>`)
    for (const g of comps.values()) {
      const c = g.component
      body.push(
        `<ComponentStream${xmlAttributes({ component: c.element, name: c.element === 'Device' ? device.name : c.name, componentId: c.id })}>`,
      )
      for (const [tag, list] of [
        ['Samples', g.samples],
        ['Events', g.events],
        ['Condition', g.conditions],
      ] as const) {
        if (list.length === 0) continue
        body.push(`<${tag}>`)
        for (const s of list) body.push(observationXml(s, prefixes))
        body.push(`</${tag}>`)
      }
      body.push('</ComponentStream>')
    }
    body.push('</DeviceStream>')
  }
  return `${XML_DECLARATION}${rootXml('Streams', prefixes)}${headerXml(header)}<Streams>${body.join('')}</Streams></MTConnectStreams>`
}

// --- errors --------------------------------------------------------------------------------------------------

/** MTConnect Part 1 §8.4 error codes. */
export type MTConnectErrorCode =
  | 'ASSET_NOT_FOUND'
  | 'INTERNAL_ERROR'
  | 'INVALID_REQUEST'
  | 'INVALID_URI'
  | 'INVALID_XPATH'
  | 'NO_DEVICE'
  | 'OUT_OF_RANGE'
  | 'QUERY_ERROR'
  | 'TOO_MANY'
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED'

export interface MTConnectErrorEntry {
  readonly code: MTConnectErrorCode
  readonly message: string
}

export function errorDocument(format: Format, header: Header, errors: readonly MTConnectErrorEntry[]): string {
  if (format === 'json') {
    return jsonDocument('MTConnectError', {
      Header: header,
      Errors: { Error: errors.map((e) => ({ errorCode: e.code, value: e.message })) },
    })
  }
  const list = errors.map((e) => `<Error${xmlAttributes({ errorCode: e.code })}>${xmlEscape(e.message)}</Error>`)
  return `${XML_DECLARATION}${rootXml('Error')}${headerXml(header)}<Errors>${list.join('')}</Errors></MTConnectError>`
}

// --- assets --------------------------------------------------------------------------------------------------

/** An element of an asset document, parsed (asset-bodies.ts). */
export interface AssetElement {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: readonly AssetElement[]
  readonly text: string
}

function elementXml(e: AssetElement, out: string[]): void {
  out.push(`<${e.name}${xmlAttributes(e.attributes)}`)
  if (e.children.length === 0 && e.text === '') {
    out.push('/>')
    return
  }
  out.push('>', xmlEscape(e.text))
  for (const c of e.children) elementXml(c, out)
  out.push(`</${e.name}>`)
}

function elementJson(e: AssetElement): Record<string, unknown> {
  const o: Record<string, unknown> = { ...e.attributes }
  const byName = new Map<string, Record<string, unknown>[]>()
  for (const c of e.children) {
    const list = byName.get(c.name)
    if (list) list.push(elementJson(c))
    else byName.set(c.name, [elementJson(c)])
  }
  for (const [name, list] of byName) o[name] = list.length === 1 ? list[0] : list
  const text = e.text.trim()
  if (text !== '') o.value = text
  return o
}

export function assetsDocument(format: Format, header: Header, assets: readonly AssetElement[]): string {
  if (format === 'json') {
    const groups: Record<string, unknown[]> = {}
    for (const a of assets) push(groups, a.name, elementJson(a))
    return jsonDocument('MTConnectAssets', { Header: header, Assets: groups })
  }
  const prefixes = new Set<string>()
  const body: string[] = []
  const walk = (e: AssetElement): void => {
    prefixOf(e.name, prefixes)
    for (const a of Object.keys(e.attributes))
      if (!a.startsWith('xmlns') && !a.startsWith('xml:')) prefixOf(a, prefixes)
    for (const c of e.children) walk(c)
  }
  for (const a of assets) {
    walk(a)
    elementXml(a, body)
  }
  return `${XML_DECLARATION}${rootXml('Assets', prefixes)}${headerXml(header)}<Assets>${body.join('')}</Assets></MTConnectAssets>`
}
