/**
 * `connector.type: mtconnect` with `agent.device_xml` and `agent.adapter {ip, port}`: we are the agent
 * (registered by mtconnect-spec.ts). The
 * Devices.xml gives the devices and their data items (the asset model); the adapter speaks SHDR over TCP and is
 * ingested by the same engine as `connector.type: shdr` (../shdr/shdr-connector.ts), keys resolved as the agent
 * resolves them (name, then id, then Source).
 *
 * One OpenFactory uuid per device: a single uuid serves the device of that uuid, name or id, else the only device of
 * a one-device file (several devices and no match: OFA_CONNECTOR_CONFIG naming the devices); a map from
 * MTConnect device name or uuid to OpenFactory uuid serves a multi-device adapter (`mill-2:Xpos` keys, or
 * `* device: mill-2`). Devices the map leaves out are not ingested (their keys are unknown keys).
 */
import { resolve } from 'node:path'
import { createOptionsChecker, OpenFactoryError, type UnsPlacement } from '@openfactory/model'
import { modelConnectorSchema } from '../connector-spec.ts'
import type { ShdrDevice, ShdrItem, ShdrItemKind } from '../shdr/mapper.ts'
import { ShdrConnector, type ShdrTimings } from '../shdr/shdr-connector.ts'
import {
  isDeviceAvailability,
  type MTConnectDataItem,
  type MTConnectDeviceModel,
  mtconnectDeviceToAsset,
  mtconnectKeyMap,
  parseDevicesXml,
  readDevicesXml,
} from './devices-xml.ts'
import { valueConverter } from './unit-conversion.ts'

/** Sample types whose value is a vector of numbers (kept as the space-separated text). */
const VECTOR_TYPES = new Set([
  'PATH_POSITION',
  'ORIENTATION',
  'PATH_FEEDRATE_PER_REVOLUTION',
  'ROTATION',
  'TRANSLATION',
])

/**
 * Event types whose values the standard draws from a closed, upper-case vocabulary (MTConnect Part 3, "Controlled
 * Vocabulary" of each EVENT type): values an adapter sends in another case are upcased (`upcaseValues`).
 */
export const CONTROLLED_VOCABULARY: ReadonlySet<string> = new Set([
  'ACTIVATION_STATE',
  'ACTUATOR_STATE',
  'AVAILABILITY',
  'AXIS_COUPLING',
  'AXIS_INTERLOCK',
  'AXIS_STATE',
  'BATTERY_STATE',
  'CHARACTERISTIC_STATUS',
  'CHUCK_INTERLOCK',
  'CHUCK_STATE',
  'CLOSE_CHUCK',
  'CLOSE_DOOR',
  'COMPOSITION_STATE',
  'CONNECTION_STATUS',
  'CONTROLLER_MODE',
  'CONTROLLER_MODE_OVERRIDE',
  'DEACTIVATION_STATE',
  'DIRECTION',
  'DOOR_STATE',
  'EMERGENCY_STOP',
  'END_OF_BAR',
  'EQUIPMENT_MODE',
  'EXECUTION',
  'FUNCTIONAL_MODE',
  'INTERFACE_STATE',
  'LEAK_DETECT',
  'LOCK_STATE',
  'MATERIAL_CHANGE',
  'MATERIAL_FEED',
  'MATERIAL_LOAD',
  'MATERIAL_RETRACT',
  'MATERIAL_UNLOAD',
  'OPEN_CHUCK',
  'OPEN_DOOR',
  'OPERATING_MODE',
  'PART_CHANGE',
  'PART_DETECT',
  'PART_PROCESSING_STATE',
  'PART_STATUS',
  'PATH_MODE',
  'POWER_STATE',
  'POWER_STATUS',
  'PROCESS_STATE',
  'PROGRAM_EDIT',
  'PROGRAM_LOCATION_TYPE',
  'ROTARY_MODE',
  'SPINDLE_INTERLOCK',
  'SWITCHED',
  'VALVE_STATE',
  'WAIT_STATE',
])

function kindOf(d: MTConnectDataItem): ShdrItemKind {
  if (d.category === 'Condition') return 'condition'
  if (isDeviceAvailability(d)) return 'availability'
  if (d.representation === 'TIME_SERIES') return 'time-series'
  if (d.representation === 'DATA_SET') return 'data-set'
  if (d.representation === 'TABLE') return 'table'
  if (d.category === 'Events' && d.type === 'MESSAGE') return 'message'
  if (d.category === 'Events' && d.type === 'ALARM') return 'alarm'
  if (d.category === 'Samples' && (VECTOR_TYPES.has(d.type) || d.units?.endsWith('_3D'))) return 'vector'
  return 'value'
}

/** How the SHDR mapper treats one MTConnect data item. */
export function shdrItemFromMTConnect(d: MTConnectDataItem): ShdrItem {
  return {
    id: d.id,
    tag: d.tag,
    category: d.category,
    kind: kindOf(d),
    ...(d.units ? { units: d.units } : {}),
    ...(d.subType ? { subType: d.subType } : {}),
    ...(d.constraints ? { constraints: d.constraints } : {}),
    ...(d.resetTrigger ? { resetTrigger: true } : {}),
    ...(d.category === 'Samples' ? converterOf(d) : {}),
    ...(d.category === 'Samples' && d.minimumDelta !== undefined ? { minimumDelta: d.minimumDelta } : {}),
    ...(d.period !== undefined ? { periodMs: d.period * 1000 } : {}),
    ...(d.constantValue !== undefined ? { constantValue: d.constantValue } : {}),
    ...(d.category === 'Events' && CONTROLLED_VOCABULARY.has(d.type) ? { controlledVocabulary: true } : {}),
  }
}

function converterOf(d: MTConnectDataItem): { convert?: (v: number) => number } {
  const { convert } = valueConverter(d)
  return convert ? { convert } : {}
}

/** The SHDR view of one device: its keys (name, id, Source) and the names `dev:` prefixes may use. */
export function shdrDeviceFromMTConnect(device: MTConnectDeviceModel, assetUuid: string): ShdrDevice {
  const keys = new Map<string, ShdrItem>()
  const items = new Map<string, ShdrItem>()
  for (const [key, d] of mtconnectKeyMap(device)) {
    let item = items.get(d.id)
    if (!item) {
      item = shdrItemFromMTConnect(d)
      items.set(d.id, item)
    }
    keys.set(key, item)
  }
  const aliases = [device.name, device.id, ...(device.uuid ? [device.uuid] : [])].filter((a) => a !== '')
  return { assetUuid, aliases, keys }
}

export interface MTConnectConnectorOptions {
  /** Absolute path of the Devices.xml (relative paths are resolved against the working directory). */
  readonly deviceXmlFile?: string
  /** Or the Devices.xml text itself (`deviceXmlFile` then only names it in errors). */
  readonly deviceXml?: string
  readonly adapter: { readonly host: string; readonly port: number }
  /** The OpenFactory uuid of the device, or MTConnect device name/uuid → OpenFactory uuid for several. */
  readonly uuid: string | Readonly<Record<string, string>>
  /** UNS placement per OpenFactory uuid. */
  readonly uns?: Readonly<Record<string, UnsPlacement>>
  readonly shdrVersion?: number
  readonly timings?: ShdrTimings
  /** The connector's name (default: the first uuid). */
  readonly name?: string
  /** Drop a value that repeats its item's last one (default true, as the reference agent). */
  readonly filterDuplicates?: boolean
  /** Upcase event values of the standard's controlled vocabulary (default true, as the reference agent). */
  readonly upcaseValues?: boolean
}

function configError(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_CONNECTOR_CONFIG', message)
}

/** The adapter's host and port checked with the rules of model's schema of `agent.adapter` (ip, port). */
const ADAPTER_BLOCK =
  modelConnectorSchema('mtconnect').properties?.agent?.properties?.adapter?.properties ?? ({} as Record<string, never>)
const checkOptions = createOptionsChecker(
  {
    type: 'object',
    properties: {
      deviceXmlFile: { type: 'string', minLength: 1 },
      deviceXml: { type: 'string' },
      adapter: {
        type: 'object',
        properties: { host: ADAPTER_BLOCK.ip, port: ADAPTER_BLOCK.port },
        required: ['host', 'port'],
        additionalProperties: false,
      },
      uuid: {
        anyOf: [
          { type: 'string', minLength: 1 },
          { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
        ],
        expected: 'a uuid, or a map of device names to uuids',
      },
      uns: { type: 'object' },
      shdrVersion: { type: 'integer', minimum: 1 },
      timings: { type: 'object' },
      name: { type: 'string', minLength: 1 },
      filterDuplicates: { type: 'boolean' },
      upcaseValues: { type: 'boolean' },
    },
    required: ['adapter', 'uuid'],
    additionalProperties: false,
  } as unknown as Parameters<typeof createOptionsChecker>[0],
  { code: 'OFA_CONNECTOR_CONFIG', what: 'MTConnectConnectorOptions' },
)

/**
 * The device one OpenFactory uuid (a device file's `uuid`) binds, of a Devices.xml or of an agent's probe: the device
 * whose uuid, name or id is that uuid; else, when there is one device, that device. Several devices none of which
 * matches is ambiguous: `undefined`, and the caller refuses the binding with the devices offered
 * (`offeredDevices`) — binding the first would ingest another machine under this uuid.
 */
export function deviceForUuid(models: readonly MTConnectDeviceModel[], uuid: string): MTConnectDeviceModel | undefined {
  const match = models.find((m) => m.uuid === uuid || m.name === uuid || m.id === uuid)
  return match ?? (models.length === 1 ? models[0] : undefined)
}

/** The devices of a Devices.xml as a message lists them: `name (uuid ...)`, comma-separated. */
export function offeredDevices(models: readonly MTConnectDeviceModel[]): string {
  return models.map((m) => (m.uuid ? `${m.name} (uuid ${m.uuid})` : m.name)).join(', ') || 'none'
}

/**
 * The connector of device models already read: binds devices to uuids (`OFA_CONNECTOR_CONFIG` for a map entry
 * that names no device) and builds the SHDR engine (mtconnect-spec.ts and `createMTConnectConnector`).
 */
export function mtconnectConnectorOf(
  models: readonly MTConnectDeviceModel[],
  opts: Omit<MTConnectConnectorOptions, 'deviceXml'>,
): ShdrConnector {
  const bound: { model: MTConnectDeviceModel; uuid: string }[] = []
  if (typeof opts.uuid === 'string') {
    if (opts.uuid === '') throw configError('the device uuid is required')
    const model = deviceForUuid(models, opts.uuid)
    if (!model) {
      throw configError(
        `uuid '${opts.uuid}' names no device of ${opts.deviceXmlFile ?? 'the Devices.xml'}, which describes several (devices: ${offeredDevices(models)}): give the device file the uuid, name or id of one of them`,
      )
    }
    bound.push({ model, uuid: opts.uuid })
  } else {
    for (const [ref, uuid] of Object.entries(opts.uuid)) {
      const model = models.find((m) => m.name === ref || m.uuid === ref || m.id === ref)
      if (!model) {
        throw configError(
          `'${ref}' names no device of the Devices.xml (devices: ${models.map((m) => m.name).join(', ')})`,
        )
      }
      if (bound.some((b) => b.model === model)) throw configError(`device '${model.name}' is given two uuids`)
      bound.push({ model, uuid })
    }
    if (bound.length === 0) throw configError('the uuid map is empty')
  }
  return new ShdrConnector({
    name: opts.name ?? (bound[0] as { uuid: string }).uuid,
    host: opts.adapter.host,
    port: opts.adapter.port,
    devices: bound.map((b) => shdrDeviceFromMTConnect(b.model, b.uuid)),
    // The file's other devices, when device files share its adapter: `* device:` naming one is not ours.
    foreignDevices: models
      .filter((m) => !bound.some((b) => b.model === m))
      .flatMap((m) => [m.name, m.uuid, m.id].filter((a): a is string => typeof a === 'string' && a !== '')),
    assets: bound.map((b) => {
      const uns = opts.uns?.[b.uuid]
      return mtconnectDeviceToAsset(b.model, { uuid: b.uuid, ...(uns ? { uns } : {}) })
    }),
    ...(opts.shdrVersion !== undefined ? { shdrVersion: opts.shdrVersion } : {}),
    ...(opts.timings ? { timings: opts.timings } : {}),
    ...(opts.filterDuplicates !== undefined ? { filterDuplicates: opts.filterDuplicates } : {}),
    ...(opts.upcaseValues !== undefined ? { upcaseValues: opts.upcaseValues } : {}),
  })
}

/**
 * `connector.type: mtconnect` from code: checks the options once, reads and validates the Devices.xml now
 * (`OFA_MTCONNECT_XML`, `OFA_CONFIG_FILE`) and binds devices to uuids. A device file goes through the registry
 * instead (`connectorSpec('mtconnect')`).
 */
export function createMTConnectConnector(opts: MTConnectConnectorOptions): ShdrConnector {
  checkOptions(opts)
  let models: MTConnectDeviceModel[]
  if (opts.deviceXml !== undefined)
    models = parseDevicesXml(opts.deviceXml, { file: opts.deviceXmlFile ?? 'Devices.xml' })
  else if (opts.deviceXmlFile !== undefined) models = readDevicesXml(resolve(opts.deviceXmlFile))
  else throw configError('agent.device_xml is required')
  const { deviceXml: _xml, ...rest } = opts
  return mtconnectConnectorOf(models, rest)
}
