/**
 * MTConnect device descriptions (Devices.xml, the document an agent serves at `/probe`) read into our model.
 *
 * Format (MTConnect Standard Part 2, Device Information Model): `MTConnectDevices/Devices/Device`; a Device and
 * each of its components hold `DataItems/DataItem` and `Components/<ComponentType>` (Axes, Linear, Rotary,
 * Controller, Path, Systems, Sensor...), nested to any depth. A DataItem has the required attributes `id`, `category`
 * (SAMPLE | EVENT | CONDITION) and `type` (UPPER_SNAKE_CASE, e.g. `POSITION`, optionally namespaced `x:MY_TYPE`),
 * and optional `name`, `subType`, `units`, `nativeUnits`, `representation` (VALUE, TIME_SERIES, DATA_SET, TABLE;
 * DISCRETE before 1.5), plus child elements `Source`, `Constraints` (`Value`, `Minimum`, `Maximum`, `Nominal`) and
 * `ResetTrigger`. Devices need `id` and `name` (and should have `uuid`).
 *
 * The observation TAG is the type in PascalCase (`POSITION` → `Position`), with `TimeSeries`, `DataSet` or `Table`
 * appended for those representations — the element name an MTConnect agent streams, hence what the reference
 * OpenFactory puts on the wire. An SHDR key finds its data item by `name`, then `id`, then `Source` text.
 */
import { readFileSync } from 'node:fs'
import {
  type Asset,
  AVAIL_ID,
  ConfigWarning,
  type DataItem,
  type DataItemCategory,
  type DataItemConstraints,
  type DeviceComponent,
  type DeviceDescription,
  type MTConnectCategory,
  type MTConnectRepresentation,
  mtconnectTypeToTag,
  OpenFactoryError,
  REPRESENTATION_SUFFIXES,
  type UnsPlacement,
} from '@openfactory/model'
import { valueConverter } from './unit-conversion.ts'
import { localName, parseXml, type XmlElement } from './xml.ts'

// The vocabulary is model's (shared with the serving layer's MTConnect façade); re-exported for our callers.
export { type MTConnectCategory, type MTConnectRepresentation, mtconnectTypeToTag }

export interface MTConnectDataItem {
  readonly id: string
  readonly name?: string
  /** As written in the file. */
  readonly mtCategory: MTConnectCategory
  /** Our category: SAMPLE → Samples, EVENT → Events, CONDITION → Condition. */
  readonly category: DataItemCategory
  /** As written, e.g. `POSITION`, `x:SPINDLE_LOAD`. */
  readonly type: string
  /** The observation TAG: `Position`, `PositionTimeSeries`, `x:SpindleLoad`. */
  readonly tag: string
  readonly subType?: string
  readonly units?: string
  readonly nativeUnits?: string
  /** What the adapter's numbers are divided by (after the nativeUnits conversion), a positive number. */
  readonly nativeScale?: number
  readonly representation: MTConnectRepresentation
  readonly constraints?: DataItemConstraints
  /**
   * `<Filters><Filter type="MINIMUM_DELTA">`: a sample is dropped while it stays within this of the last one kept
   * (the SHDR path applies it; an agent applies its own).
   */
  readonly minimumDelta?: number
  /**
   * `<Filter type="PERIOD">`, seconds: at most one observation per period; one that comes within the period of the
   * last one delivered is held and the last held is delivered when the period ends (the SHDR path applies it).
   */
  readonly period?: number
  /**
   * A constant item: its `<Constraints>` hold one `<Value>` and nothing else (as an MTConnect agent reads them). It
   * always has that value; what an adapter sends for it is ignored.
   */
  readonly constantValue?: string
  /** Text of the `Source` element: another name an adapter may use as key. */
  readonly source?: string
  /** `ResetTrigger` element: the item accepts `value:TRIGGER` in SHDR. */
  readonly resetTrigger?: string
  /** Component path inside the device: `Axes[base]/Linear[X]`, empty for the device itself. */
  readonly componentPath: string
  readonly line: number
}

export interface MTConnectComponent {
  readonly id: string
  /** Element name: `Axes`, `Linear`, `Controller`, `Path`... */
  readonly type: string
  readonly name?: string
  /** `Axes[base]/Linear[X]`: each step is the type with the name (or id) in brackets. */
  readonly path: string
  readonly line: number
}

export interface MTConnectDeviceModel {
  readonly id: string
  readonly name: string
  readonly uuid?: string
  /** Every component, depth first, in document order. */
  readonly components: readonly MTConnectComponent[]
  /** Every data item of the device and its components, in document order. */
  readonly dataItems: readonly MTConnectDataItem[]
  readonly line: number
}

const CATEGORIES: Record<string, DataItemCategory> = { SAMPLE: 'Samples', EVENT: 'Events', CONDITION: 'Condition' }

function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => localName(c.name) === name)
}
function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => localName(c.name) === name)
}
function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s.trim()
}

/** Where a Devices.xml comes from, and who hears its warnings. */
export interface DevicesXmlOptions {
  readonly file: string
  /**
   * Called for each thing the file gets wrong that we read past (file, line, column): a component id already
   * used by another component or the device (nothing is looked up by a component's id). Without it, warnings are
   * dropped.
   */
  readonly onWarning?: (warning: ConfigWarning) => void
}

/**
 * Reads a Devices.xml text into one model per device. Throws `OFA_MTCONNECT_XML` (with `where` file/line/column)
 * for malformed XML, and one `OFA_MTCONNECT_XML` carrying every problem (`problems`) for missing or invalid
 * attributes and duplicate data item ids (an id a data item shares with anything). A component id repeating the
 * device's or another component's is a warning (`onWarning`), not a refusal: such files come from machine makers,
 * and nothing is looked up by a component id; a data item id must stay unique, as an SHDR key or a stream finds
 * its item by it.
 */
export function parseDevicesXml(xml: string, opts: DevicesXmlOptions): MTConnectDeviceModel[] {
  return devicesFromXml(parseXml(xml, { file: opts.file }), opts)
}

/**
 * The devices of a Devices document already read (`parseXml`): what `parseDevicesXml` does after parsing, for a
 * caller that looked at the root first (an agent's probe answer, agent-connector.ts). Same errors.
 */
export function devicesFromXml(root: XmlElement, opts: DevicesXmlOptions): MTConnectDeviceModel[] {
  const problems: OpenFactoryError[] = []
  const warn = (el: XmlElement, message: string): void => {
    opts.onWarning?.(new ConfigWarning(message, { file: opts.file, line: el.line, column: el.column }))
  }
  const problem = (el: XmlElement, message: string): void => {
    problems.push(
      new OpenFactoryError('OFA_MTCONNECT_XML', message, {
        where: { file: opts.file, line: el.line, column: el.column },
      }),
    )
  }

  let deviceEls: XmlElement[]
  const rootName = localName(root.name)
  if (rootName === 'MTConnectDevices') {
    const devices = child(root, 'Devices')
    if (!devices) {
      problem(root, '<MTConnectDevices> has no <Devices> element')
      deviceEls = []
    } else deviceEls = children(devices, 'Device')
  } else if (rootName === 'Devices') deviceEls = children(root, 'Device')
  else if (rootName === 'Device') deviceEls = [root]
  else {
    problem(root, `root element <${root.name}> is not <MTConnectDevices>, <Devices> or <Device>`)
    deviceEls = []
  }
  if (deviceEls.length === 0 && problems.length === 0) problem(root, 'the file describes no <Device>')

  const models: MTConnectDeviceModel[] = []
  const seenNames = new Set<string>()
  for (const d of deviceEls) {
    const id = nonEmpty(d.attributes.id)
    const name = nonEmpty(d.attributes.name)
    if (!id) problem(d, '<Device> has no id attribute')
    if (!name) problem(d, '<Device> has no name attribute')
    else if (seenNames.has(name)) problem(d, `two devices are named '${name}'`)
    else seenNames.add(name)
    const components: MTConnectComponent[] = []
    const dataItems: MTConnectDataItem[] = []
    // Every id of the device, its components and data items. A repeat involving a data item is a problem (the item
    // must be found by its id); a component id repeating the device's or another component's is a warning.
    const ids = new Map<string, { line: number; item: boolean }>()
    const checkId = (el: XmlElement, what: string, value: string | undefined): void => {
      if (!value) return
      const prev = ids.get(value)
      if (prev === undefined) ids.set(value, { line: el.line, item: what === 'data item' })
      else if (prev.item || what === 'data item')
        problem(el, `${what} id '${value}' is already used at line ${prev.line}`)
      else warn(el, `${what} id '${value}' is already used at line ${prev.line}; read anyway`)
    }
    checkId(d, 'device', id)

    const readDataItems = (owner: XmlElement, path: string): void => {
      for (const group of children(owner, 'DataItems')) {
        for (const di of children(group, 'DataItem')) {
          const item = readDataItem(di, path, problem)
          if (item) {
            checkId(di, 'data item', item.id)
            if (item.category === 'Samples' && valueConverter(item).unknown) {
              warn(
                di,
                `<DataItem id="${item.id}">: nativeUnits ${item.nativeUnits} cannot be converted to ${item.units}; its values pass as sent`,
              )
            }
            dataItems.push(item)
          }
        }
      }
    }
    const walk = (owner: XmlElement, path: string): void => {
      readDataItems(owner, path)
      for (const group of children(owner, 'Components')) {
        for (const c of group.children) {
          const type = localName(c.name)
          const cid = nonEmpty(c.attributes.id)
          const cname = nonEmpty(c.attributes.name)
          if (!cid) problem(c, `component <${c.name}> has no id attribute`)
          checkId(c, 'component', cid)
          const step = `${type}[${cname ?? cid ?? '?'}]`
          const cpath = path ? `${path}/${step}` : step
          components.push({ id: cid ?? '', type, ...(cname ? { name: cname } : {}), path: cpath, line: c.line })
          walk(c, cpath)
        }
      }
    }
    walk(d, '')
    const uuid = nonEmpty(d.attributes.uuid)
    models.push({ id: id ?? '', name: name ?? '', ...(uuid ? { uuid } : {}), components, dataItems, line: d.line })
  }

  if (problems.length === 1) throw problems[0]
  if (problems.length > 1) {
    const first = problems[0] as OpenFactoryError
    throw new OpenFactoryError(
      'OFA_MTCONNECT_XML',
      `${opts.file} has ${problems.length} problems; the first: ${first.message}`,
      { where: first.where, problems },
    )
  }
  return models
}

function readDataItem(
  el: XmlElement,
  componentPath: string,
  problem: (el: XmlElement, message: string) => void,
): MTConnectDataItem | undefined {
  const a = el.attributes
  const id = nonEmpty(a.id)
  const type = nonEmpty(a.type)
  const rawCategory = nonEmpty(a.category)
  let ok = true
  if (!id) {
    problem(el, '<DataItem> has no id attribute')
    ok = false
  }
  if (!type) {
    problem(el, `<DataItem id="${id ?? ''}"> has no type attribute`)
    ok = false
  }
  const category = rawCategory ? CATEGORIES[rawCategory.toUpperCase()] : undefined
  if (!rawCategory) {
    problem(el, `<DataItem id="${id ?? ''}"> has no category attribute`)
    ok = false
  } else if (!category) {
    problem(el, `<DataItem id="${id ?? ''}"> has category '${rawCategory}'; expected SAMPLE, EVENT or CONDITION`)
    ok = false
  }
  let representation: MTConnectRepresentation = 'VALUE'
  const rawRep = nonEmpty(a.representation)?.toUpperCase()
  if (rawRep === 'TIME_SERIES' || rawRep === 'DATA_SET' || rawRep === 'TABLE') representation = rawRep
  else if (rawRep !== undefined && rawRep !== 'VALUE' && rawRep !== 'DISCRETE') {
    problem(
      el,
      `<DataItem id="${id ?? ''}"> has representation '${a.representation}'; expected VALUE, TIME_SERIES, DATA_SET or TABLE`,
    )
    ok = false
  }
  if (!ok || !id || !type || !category) return undefined

  let minimumDelta: number | undefined
  let period: number | undefined
  for (const filters of children(el, 'Filters')) {
    for (const f of children(filters, 'Filter')) {
      const type = nonEmpty(f.attributes.type)?.toUpperCase()
      const n = Number(f.text.trim())
      if (type !== 'MINIMUM_DELTA' && type !== 'PERIOD') {
        problem(f, `<Filter type="${f.attributes.type ?? ''}">: expected MINIMUM_DELTA or PERIOD`)
        ok = false
      } else if (f.text.trim() === '' || !Number.isFinite(n) || n < 0) {
        problem(f, `<Filter type="${type}"> holds '${f.text.trim()}'; expected a number, 0 or more`)
        ok = false
      } else if (type === 'MINIMUM_DELTA') minimumDelta = n
      else period = n
    }
  }
  let constraints: DataItemConstraints | undefined
  const c = child(el, 'Constraints')
  if (c) {
    const num = (name: string): number | undefined => {
      const t = nonEmpty(child(c, name)?.text)
      if (t === undefined) return undefined
      const v = Number(t)
      if (!Number.isFinite(v)) {
        problem(child(c, name) as XmlElement, `<${name}> of data item '${id}' is not a number: '${t}'`)
        return undefined
      }
      return v
    }
    const values = children(c, 'Value')
      .map((v) => v.text.trim())
      .filter((v) => v !== '')
    const minimum = num('Minimum')
    const maximum = num('Maximum')
    const nominal = num('Nominal')
    constraints = {
      ...(minimum !== undefined ? { minimum } : {}),
      ...(maximum !== undefined ? { maximum } : {}),
      ...(nominal !== undefined ? { nominal } : {}),
      ...(values.length > 0 ? { values } : {}),
    }
    if (Object.keys(constraints).length === 0) constraints = undefined
  }
  const constantValue =
    constraints?.values?.length === 1 && Object.keys(constraints).length === 1 ? constraints.values[0] : undefined
  const name = nonEmpty(a.name)
  const subType = nonEmpty(a.subType)
  const units = nonEmpty(a.units)
  const nativeUnits = nonEmpty(a.nativeUnits)
  const rawScale = nonEmpty(a.nativeScale)
  const nativeScale = rawScale === undefined ? undefined : Number(rawScale)
  if (nativeScale !== undefined && !(Number.isFinite(nativeScale) && nativeScale > 0)) {
    problem(el, `<DataItem id="${id ?? ''}"> has nativeScale '${rawScale}'; expected a positive number`)
    ok = false
  }
  const source = nonEmpty(child(el, 'Source')?.text)
  const resetTrigger = nonEmpty(child(el, 'ResetTrigger')?.text)
  const mtCategory = rawCategory?.toUpperCase() as MTConnectCategory
  return {
    id,
    ...(name ? { name } : {}),
    mtCategory,
    category,
    type,
    tag: mtconnectTypeToTag(type) + REPRESENTATION_SUFFIXES[representation],
    ...(subType ? { subType } : {}),
    ...(units ? { units } : {}),
    ...(nativeUnits ? { nativeUnits } : {}),
    ...(nativeScale !== undefined ? { nativeScale } : {}),
    representation,
    ...(constraints ? { constraints } : {}),
    ...(minimumDelta ? { minimumDelta } : {}),
    ...(period ? { period } : {}),
    ...(constantValue !== undefined ? { constantValue } : {}),
    ...(source ? { source } : {}),
    ...(resetTrigger ? { resetTrigger } : {}),
    componentPath,
    line: el.line,
  }
}

/** Reads and parses a Devices.xml file; a missing or unreadable file is `OFA_CONFIG_FILE`. */
export function readDevicesXml(
  file: string,
  opts: { readonly onWarning?: (warning: ConfigWarning) => void } = {},
): MTConnectDeviceModel[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new OpenFactoryError('OFA_CONFIG_FILE', `cannot read device_xml ${file}: ${(err as Error).message}`, {
      cause: err,
      where: { file },
    })
  }
  return parseDevicesXml(text, { file, ...opts })
}

/**
 * True for the device's own AVAILABILITY item (directly on the Device, not on a component). Its values drive the
 * asset's `avail` (a reserved attribute) through `ctx.setAvailable` instead of being published as data.
 */
export function isDeviceAvailability(item: MTConnectDataItem): boolean {
  return item.type === 'AVAILABILITY' && item.componentPath === ''
}

export function dataItemFromMTConnect(item: MTConnectDataItem): DataItem {
  return {
    id: item.id,
    category: item.category,
    tag: item.tag,
    type: item.type,
    ...(item.subType ? { subType: item.subType } : {}),
    ...(item.units ? { units: item.units } : {}),
    ...(item.nativeUnits ? { nativeUnits: item.nativeUnits } : {}),
    ...(item.representation !== 'VALUE' ? { representation: item.representation } : {}),
    ...(item.name ? { name: item.name } : {}),
    ...(item.constraints ? { constraints: item.constraints } : {}),
    ...(item.minimumDelta || item.period
      ? {
          filters: {
            ...(item.minimumDelta ? { minimumDelta: item.minimumDelta } : {}),
            ...(item.period ? { period: item.period } : {}),
          },
        }
      : {}),
    ...(item.constantValue !== undefined ? { constantValue: item.constantValue } : {}),
  }
}

/**
 * One MTConnect device as an OpenFactory asset (`type: Device`), under the OpenFactory uuid the device file gives
 * it. The device's own AVAILABILITY item drives `avail` (see `isDeviceAvailability`) and stays an item of its own,
 * unless its id is `avail` (ours).
 */
export function mtconnectDeviceToAsset(
  device: MTConnectDeviceModel,
  opts: { uuid: string; uns?: UnsPlacement; referencesAbove?: readonly string[] },
): Asset {
  return {
    uuid: opts.uuid,
    type: 'Device',
    ...(opts.uns ? { uns: opts.uns } : {}),
    referencesAbove: opts.referencesAbove ?? [],
    referencesBelow: [],
    dataItems: device.dataItems
      .filter((d) => !(isDeviceAvailability(d) && d.id === AVAIL_ID))
      .map(dataItemFromMTConnect),
    methods: [],
    device: deviceDescription(device),
  }
}

/**
 * The device's component tree as the declaration carries it (`Asset.device`): each component with the ids of the
 * data items directly on it, nested as in the file, so the MTConnect façade (@openfactory/serve) serves the device
 * back as described. Components are found by path (`Axes[base]/Linear[X]`); two siblings of one type and one name
 * share a path, and the second's items and components are listed under the first.
 */
export function deviceDescription(device: MTConnectDeviceModel): DeviceDescription {
  interface Node {
    readonly type: string
    readonly id: string
    readonly name?: string
    readonly dataItems: string[]
    readonly components: Node[]
  }
  const root: Node = { type: 'Device', id: device.id, name: device.name, dataItems: [], components: [] }
  const byPath = new Map<string, Node>([['', root]])
  for (const c of device.components) {
    if (byPath.has(c.path)) continue
    const slash = c.path.lastIndexOf('/')
    const parent = byPath.get(slash < 0 ? '' : c.path.slice(0, slash)) ?? root
    const node: Node = { type: c.type, id: c.id, ...(c.name ? { name: c.name } : {}), dataItems: [], components: [] }
    parent.components.push(node)
    byPath.set(c.path, node)
  }
  for (const d of device.dataItems) (byPath.get(d.componentPath) ?? root).dataItems.push(d.id)
  const freeze = (n: Node): DeviceComponent => ({
    type: n.type,
    id: n.id,
    ...(n.name !== undefined ? { name: n.name } : {}),
    dataItems: n.dataItems,
    components: n.components.map(freeze),
  })
  return {
    id: device.id,
    name: device.name,
    ...(device.uuid ? { uuid: device.uuid } : {}),
    dataItems: root.dataItems,
    components: root.components.map(freeze),
  }
}

/**
 * The SHDR key → data item map of a device, as the agent resolves keys: by `name` first, then `id`, then the
 * `Source` text (a later rule never overrides an earlier one).
 */
export function mtconnectKeyMap(device: MTConnectDeviceModel): Map<string, MTConnectDataItem> {
  const map = new Map<string, MTConnectDataItem>()
  for (const d of device.dataItems) if (d.name && !map.has(d.name)) map.set(d.name, d)
  for (const d of device.dataItems) if (!map.has(d.id)) map.set(d.id, d)
  for (const d of device.dataItems) if (d.source && !map.has(d.source)) map.set(d.source, d)
  return map
}
