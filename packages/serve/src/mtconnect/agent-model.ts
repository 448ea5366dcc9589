/**
 * The MTConnect device model of the façade (MTConnect Part 2): every asset the serving state knows, whatever its
 * protocol, as one `Device`.
 *
 * - An asset declared from a Devices.xml (our SHDR connector's `device_xml`, an external agent's probe: the
 *   declaration's `device`) keeps the structure it was described with: the Device's id and name, its components
 *   (element, id, name) nested as they were, each data item where it was, with its id, name, category, type,
 *   subType, units, nativeUnits and representation.
 * - Any other asset (OPC UA, simulator, Modbus, MQTT, an app...) is a Device named after its uuid whose data items
 *   sit on the Device itself, derived from its declared (or, undeclared, observed) items: category from Samples /
 *   Events / Condition, type from the TAG in MTConnect form (`mtconnectTagToType`: `Temperature` → `TEMPERATURE`),
 *   subType, units, nativeUnits, representation as declared.
 *
 * Every Device has its availability: the asset's `avail` (heartbeats, TTL expiry) is the value of the Device's
 * AVAILABILITY data item — the one its description has on the Device itself, else one with id `avail` added.
 *
 * Ids are unique in a document (they are `xs:ID`s, and clients look data items up by id): a described asset keeps
 * its file's ids unless another Device uses one of them, then all its ids are prefixed with its uuid
 * (`<uuid>_<id>`); a derived asset's ids are always so prefixed (many assets of one kind share item names). Device
 * names are unique too: a described Device keeps its name unless another has it (then its uuid is its name). Ids are
 * made XML names (`NCName`): characters a name cannot hold become `_`, and one that cannot start a name gets `_`
 * before it. The Device's `uuid` attribute is always the asset's uuid, the identity everything else in OpenFactory
 * uses (the file's own uuid may differ).
 *
 * The model is rebuilt when an asset appears, is removed or is declared again, or when an item appears that it
 * does not have (`invalidate`): not per request.
 */
import {
  AVAIL_ID,
  type DataItem,
  type DeviceComponent,
  MTCONNECT_CATEGORIES,
  type MTConnectCategory,
  type MTConnectRepresentation,
  mtconnectTagToType,
  observationElement,
} from '@openfactory/model'
import type { AssetState } from '../state/asset-state.ts'

export interface MtDataItem {
  /** The item's id on the log (`avail` for the availability). */
  readonly key: string
  /** Its id in documents. */
  readonly id: string
  readonly category: MTConnectCategory
  readonly type: string
  readonly subType?: string
  readonly name?: string
  readonly units?: string
  readonly nativeUnits?: string
  readonly representation?: MTConnectRepresentation
  /** The element its observations are written as (samples and events; conditions use their level). */
  readonly element: string
  readonly component: MtComponent
}

export interface MtComponent {
  /** `Device`, or the component's element name (`Axes`, `Linear`...). */
  readonly element: string
  readonly id: string
  readonly name?: string
  readonly dataItems: MtDataItem[]
  readonly components: MtComponent[]
  readonly device: MtDevice
}

export interface MtDevice {
  /** The asset uuid. */
  readonly uuid: string
  readonly name: string
  readonly root: MtComponent
  /** By the item's id on the log. */
  readonly items: Map<string, MtDataItem>
}

export interface AgentModel {
  /** Sorted by uuid. */
  readonly devices: readonly MtDevice[]
  readonly byUuid: ReadonlyMap<string, MtDevice>
  readonly byName: ReadonlyMap<string, MtDevice>
  /** When it was built (epoch ms): the headers' `deviceModelChangeTime`. */
  readonly builtAt: number
}

const NAME_START = /^[A-Za-z_]/
const NOT_NAME = /[^A-Za-z0-9._-]/g

/** A string as an XML name (NCName). */
export function xmlName(s: string): string {
  const t = s.replace(NOT_NAME, '_')
  return NAME_START.test(t) ? t : `_${t}`
}

const DATA_CATEGORIES = new Set(['Samples', 'Events', 'Condition'])

/** A declared (or observed) item as an MTConnect data item, before ids are settled. */
interface ItemDraft {
  readonly key: string
  readonly id: string
  readonly category: MTConnectCategory
  readonly type: string
  readonly subType?: string
  readonly name?: string
  readonly units?: string
  readonly nativeUnits?: string
  readonly representation?: MTConnectRepresentation
}

interface ComponentDraft {
  readonly element: string
  readonly id: string
  readonly name?: string
  readonly items: ItemDraft[]
  readonly components: ComponentDraft[]
}

interface DeviceDraft {
  readonly uuid: string
  readonly name: string
  readonly described: boolean
  readonly root: ComponentDraft
}

function draftItem(d: DataItem, key: string = d.id): ItemDraft | undefined {
  if (!DATA_CATEGORIES.has(d.category)) return undefined
  const representation = d.representation && d.representation !== 'VALUE' ? d.representation : undefined
  return {
    key,
    id: d.id,
    category: MTCONNECT_CATEGORIES[d.category],
    type: d.type ?? mtconnectTagToType(d.tag, representation),
    ...(d.subType ? { subType: d.subType } : {}),
    ...(d.name ? { name: d.name } : {}),
    ...(d.units ? { units: d.units } : {}),
    ...(d.nativeUnits ? { nativeUnits: d.nativeUnits } : {}),
    ...(representation ? { representation } : {}),
  }
}

const AVAILABILITY: ItemDraft = { key: AVAIL_ID, id: AVAIL_ID, category: 'EVENT', type: 'AVAILABILITY' }

/** One asset as a Device draft: its description's tree, or its items on the Device. */
function draftDevice(state: AssetState, uuid: string): DeviceDraft | undefined {
  const view = state.asset(uuid)
  if (!view) return undefined
  const defs = new Map<string, DataItem>()
  for (const d of view.dataItems) if (!defs.has(d.id)) defs.set(d.id, d)
  const placed = new Set<string>()
  let availability = false
  const take = (id: string, onDevice: boolean): ItemDraft | undefined => {
    if (placed.has(id)) return undefined
    const def = defs.get(id)
    // The Device's own AVAILABILITY item shows `avail`; one named `avail` is not among the declared items.
    const isAvail =
      onDevice && !availability && (id === AVAIL_ID || (def?.type ?? def?.tag.toUpperCase()) === 'AVAILABILITY')
    if (!def && !isAvail) return undefined
    placed.add(id)
    if (isAvail) {
      availability = true
      placed.add(AVAIL_ID)
      return { ...(def ? (draftItem(def) ?? AVAILABILITY) : AVAILABILITY), key: AVAIL_ID, category: 'EVENT' }
    }
    return draftItem(def as DataItem)
  }
  const described = view.device
  if (described) {
    const build = (c: DeviceComponent): ComponentDraft => ({
      element: c.type,
      id: c.id,
      ...(c.name !== undefined ? { name: c.name } : {}),
      items: c.dataItems.map((id) => take(id, false)).filter((d): d is ItemDraft => d !== undefined),
      components: c.components.map(build),
    })
    const rootItems = described.dataItems.map((id) => take(id, true)).filter((d): d is ItemDraft => d !== undefined)
    const root: ComponentDraft = {
      element: 'Device',
      id: described.id,
      name: described.name,
      items: rootItems,
      components: described.components.map(build),
    }
    if (!availability) rootItems.unshift(AVAILABILITY)
    placed.add(AVAIL_ID)
    // Items the description does not place (declared later, or only observed) go on the Device.
    for (const d of view.dataItems) {
      if (placed.has(d.id)) continue
      placed.add(d.id)
      const item = draftItem(d)
      if (item) rootItems.push(item)
    }
    return { uuid, name: described.name, described: true, root }
  }
  const items: ItemDraft[] = [AVAILABILITY]
  for (const d of view.dataItems) {
    if (d.id === AVAIL_ID || placed.has(d.id)) continue
    placed.add(d.id)
    const item = draftItem(d)
    if (item) items.push(item)
  }
  return { uuid, name: uuid, described: false, root: { element: 'Device', id: uuid, items, components: [] } }
}

function* draftIds(c: ComponentDraft): Generator<string> {
  yield c.id
  for (const i of c.items) yield i.id
  for (const s of c.components) yield* draftIds(s)
}

/** Builds the model of every asset the state knows (see the file's comment for ids and names). */
export function buildAgentModel(state: AssetState, now: number = Date.now()): AgentModel {
  const drafts: DeviceDraft[] = []
  for (const uuid of state.sortedUuids()) {
    const d = draftDevice(state, uuid)
    if (d) drafts.push(d)
  }
  // Which ids and names more than one device uses.
  const idUsers = new Map<string, number>()
  const nameUsers = new Map<string, number>()
  for (const d of drafts) {
    for (const id of new Set(draftIds(d.root))) idUsers.set(id, (idUsers.get(id) ?? 0) + 1)
    nameUsers.set(d.name, (nameUsers.get(d.name) ?? 0) + 1)
  }
  const devices: MtDevice[] = []
  const byUuid = new Map<string, MtDevice>()
  const byName = new Map<string, MtDevice>()
  for (const d of drafts) {
    const clash = !d.described || [...draftIds(d.root)].some((id) => (idUsers.get(id) ?? 0) > 1)
    const idOf = (id: string): string => xmlName(clash && !(id === d.uuid && !d.described) ? `${d.uuid}_${id}` : id)
    const name = (nameUsers.get(d.name) ?? 0) > 1 ? d.uuid : d.name
    const items = new Map<string, MtDataItem>()
    const device = { uuid: d.uuid, name, items } as {
      uuid: string
      name: string
      items: typeof items
      root: MtComponent
    }
    const build = (c: ComponentDraft): MtComponent => {
      const comp: MtComponent = {
        element: c.element,
        id: idOf(c.id),
        ...(c.name !== undefined ? { name: c.name } : {}),
        dataItems: [],
        components: [],
        device,
      }
      for (const i of c.items) {
        if (items.has(i.key)) continue
        const item: MtDataItem = {
          ...i,
          id: idOf(i.id),
          element: observationElement(i.type, i.representation),
          component: comp,
        }
        comp.dataItems.push(item)
        items.set(i.key, item)
      }
      for (const s of c.components) comp.components.push(build(s))
      return comp
    }
    device.root = build(d.root)
    devices.push(device)
    byUuid.set(d.uuid, device)
    if (!byName.has(name)) byName.set(name, device)
  }
  return { devices, byUuid, byName, builtAt: now }
}

/** The device a request names, by uuid first, then by name (as agents look `{device}` up). */
export function findDevice(model: AgentModel, nameOrUuid: string): MtDevice | undefined {
  return model.byUuid.get(nameOrUuid) ?? model.byName.get(nameOrUuid)
}

/** Every data item of a component and those below it, in document order. */
export function* componentItems(c: MtComponent): Generator<MtDataItem> {
  yield* c.dataItems
  for (const s of c.components) yield* componentItems(s)
}
