/**
 * The asset model: what a virtual asset is, independent of where its data comes from.
 * An asset is anything with a UUID that emits or receives data (a device, an agent, an app), placed in the
 * Unified Namespace (UNS) and composed with other assets through references above and below.
 */

/** MTConnect's three data item categories, spelled as the reference OpenFactory's `TYPE` field spells them. */
export type DataItemCategory = 'Samples' | 'Events' | 'Condition'

export const DATA_ITEM_CATEGORIES: readonly DataItemCategory[] = ['Samples', 'Events', 'Condition']

/** Bounds and allowed values a data item promises. Values outside them are reported with quality UNCERTAIN. */
export interface DataItemConstraints {
  readonly minimum?: number
  readonly maximum?: number
  readonly nominal?: number
  readonly values?: readonly string[]
}

export interface DataItem {
  /** Unique within its asset; the `ID` of the item's observations. */
  readonly id: string
  readonly category: DataItemCategory
  /** MTConnect type in PascalCase (`Temperature`, `Execution`, `PartCount`): the observation's `TAG`. */
  readonly tag: string
  readonly subType?: string
  readonly units?: string
  readonly nativeUnits?: string
  /** MTConnect representation: VALUE (default), TIME_SERIES, DATA_SET, TABLE. */
  readonly representation?: 'VALUE' | 'TIME_SERIES' | 'DATA_SET' | 'TABLE'
  readonly name?: string
  readonly constraints?: DataItemConstraints
  /**
   * MTConnect `<Filters>` the connector applies: `minimumDelta` (a sample within this of the last one kept is
   * dropped) and `period` (seconds: at most one observation per period, the last of the period delivered).
   */
  readonly filters?: DataItemFilters
  /** A constant item (MTConnect: one `<Constraints><Value>` and nothing else): it always has this value. */
  readonly constantValue?: string
  /**
   * The MTConnect type as its description writes it (`POSITION`, `PART_COUNT`, `x:SPINDLE_LOAD`), for an item read
   * from a Devices.xml; absent otherwise (the MTConnect façade then derives it from `tag`).
   */
  readonly type?: string
}

export interface DataItemFilters {
  readonly minimumDelta?: number
  readonly period?: number
}

/** An argument of a method, as published in the method's JSON contract. */
export interface MethodArgument {
  readonly name: string
  readonly description?: string
  /** Our addition: the JSON type a caller must pass. Absent means any. */
  readonly type?: 'number' | 'string' | 'boolean' | 'object'
  readonly required?: boolean
}

/**
 * A method an asset offers. Published on the log as an attribute with `TYPE: "Method"` whose value is the JSON
 * contract `{"description", "arguments": [{"name", "description"}]}`.
 */
export interface MethodContract {
  readonly name: string
  readonly description: string
  readonly arguments: readonly MethodArgument[]
}

/**
 * A component of a device as its MTConnect description (Devices.xml, Part 2) nests it: `Axes` holding `Linear`
 * `X`, a `Controller` holding a `Path`... Data items are named by id (ids are unique within an asset); their
 * definitions stay in `Asset.dataItems`.
 */
export interface DeviceComponent {
  /** The element name: `Axes`, `Linear`, `Rotary`, `Controller`, `Path`, `Systems`... */
  readonly type: string
  readonly id: string
  readonly name?: string
  /** Ids of the data items directly on this component, in document order. */
  readonly dataItems: readonly string[]
  readonly components: readonly DeviceComponent[]
}

/**
 * The device an asset was described as in an MTConnect Devices.xml (the SHDR connector's `device_xml`, an external
 * agent's probe): its identity there and its component tree, so that the MTConnect façade serves it back as it was
 * described. Absent for assets without such a description (OPC UA, simulator...).
 */
export interface DeviceDescription {
  /** The Device element's `id`. */
  readonly id: string
  /** The Device element's `name`. */
  readonly name: string
  /** The Device element's `uuid`, when the file gives one (the asset's own uuid may differ). */
  readonly uuid?: string
  /** Ids of the data items directly on the Device, in document order. */
  readonly dataItems: readonly string[]
  readonly components: readonly DeviceComponent[]
}

/** Asset types the reference OpenFactory publishes as the `AssetType` attribute; apps may use others. */
export type AssetType = 'Device' | 'MTConnectAgent' | 'KafkaProducer' | 'Supervisor' | 'OpenFactoryApp' | (string & {})

/** Where an asset sits in the Unified Namespace. */
export interface UnsPlacement {
  /** Level name → value, in template order, ending with the `asset` level. */
  readonly levels: Readonly<Record<string, string>>
  /** The values joined with the schema's separator, e.g. `Demofactory/Machining/WC001/dht-sensor`. */
  readonly unsId: string
}

export interface Asset {
  readonly uuid: string
  readonly type: AssetType
  readonly uns?: UnsPlacement
  /** UUIDs of assets this one belongs to (e.g. the agent a device reports through). */
  readonly referencesAbove: readonly string[]
  /** UUIDs of assets that belong to this one. */
  readonly referencesBelow: readonly string[]
  readonly dataItems: readonly DataItem[]
  readonly methods: readonly MethodContract[]
  /** Its MTConnect description, when it was declared from one (optional: older declarations have none). */
  readonly device?: DeviceDescription
}

/** Attribute ids the reference OpenFactory reserves on every asset; connectors must not use them for data. */
export const RESERVED_ATTRIBUTE_IDS: readonly string[] = [
  'AssetType',
  'DockerService',
  'references_above',
  'references_below',
  'uns_id',
  'avail',
  'agent_avail',
]

/** Asset UUIDs in the reference are free-form strings; we accept letters, digits and `-_.:` (no spaces, no `|`). */
export const ASSET_UUID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/
