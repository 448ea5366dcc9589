/**
 * `connector.type: mtconnect` in the connector registry (also the older format, `agent:` right under the device).
 *
 * With `agent.ip` and `agent.port` an MTConnect agent runs elsewhere and we are its client (agent-connector.ts):
 * its probe gives the asset model (the device's uuid binds the agent's device of that uuid, name or id, else its only one), its current and sample
 * stream the observations, its assets the asset documents. Nothing is read at `parse` (the agent is asked at run
 * time), so `ofa validate` checks only the block's shape.
 *
 * With `agent.device_xml` and `agent.adapter` OpenFactory is the agent: `parse` reads the Devices.xml (its
 * problems are OFA_MTCONNECT_XML with the XML file's line and column, so `ofa validate` reports them; what it
 * reads past, a duplicate component id, is a warning: `ofa validate` prints it, `ofa up` logs it) and the
 * connector ingests the adapter. The device file's uuid binds the Devices.xml's device of that uuid, name or id,
 * else the only device of a one-device file; several devices and no match is OFA_CONNECTOR_CONFIG naming the
 * file and its devices. Device files that share one adapter each open their own SHDR connection to it (an
 * adapter serves several clients; each connection ingests its own device's keys and counts the others' as unknown). An adapter given as `image: openfactory/shdr-replay` is one the runtime starts
 * itself: it replays an SHDR log (environment `SHDR_FILE`, relative to the device file; `SHDR_SPEED`, default 1;
 * `SHDR_LOOP`, default true) on 127.0.0.1 at the adapter's port. Another image runs only where containers run:
 * such devices are skipped, with that reason.
 *
 * Model's schema checks the block's shape (ip or device_xml + adapter, ip or image, the file exists).
 */
import { dirname, isAbsolute, resolve } from 'node:path'
import type {
  ConfigWarning,
  DeviceConfig,
  MTConnectConnectorConfig as MTConnectBlock,
  UnsPlacement,
} from '@openfactory/model'
import { isShdrReplayImage, readShdrReplayEnvironment, SHDR_REPLAY_IMAGE } from '@openfactory/model'
import {
  type BuiltinAdapter,
  collectProblems,
  connectorConfigError,
  fieldsOfSchema,
  modelConnectorSchema,
  registerConnector,
} from '../connector-spec.ts'
import type { ShdrConnector } from '../shdr/shdr-connector.ts'
import { MTConnectAgentConnector } from './agent-connector.ts'
import { type MTConnectDeviceModel, readDevicesXml } from './devices-xml.ts'
import { deviceForUuid, mtconnectConnectorOf, offeredDevices } from './mtconnect-connector.ts'

/** The image name of our SHDR replay adapter (defined in model, beside the reader of its environment). */
export { SHDR_REPLAY_IMAGE } from '@openfactory/model'

/** A `connector.type: mtconnect` device, typed. */
export type MTConnectDeviceConfig =
  | {
      /** An external MTConnect agent: we are its client. */
      readonly kind: 'agent'
      readonly uuid: string
      readonly uns?: UnsPlacement
      readonly agent: { readonly ip: string; readonly port: number }
    }
  | {
      /** We are the agent of an SHDR adapter. */
      readonly kind: 'adapter'
      readonly uuid: string
      readonly uns?: UnsPlacement
      readonly deviceXmlFile: string
      readonly devices: readonly MTConnectDeviceModel[]
      /** What the Devices.xml got wrong that we read past (a duplicate component id). */
      readonly warnings: readonly ConfigWarning[]
      /** Where the adapter listens, or the image it runs in when it is not ours to start. */
      readonly adapter: { readonly host: string; readonly port: number } | { readonly image: string }
      /** Our replay adapter, when the device declares it. */
      readonly replay?: BuiltinAdapter
      readonly filterDuplicates?: boolean
      readonly upcaseValues?: boolean
    }

const ENVIRONMENT = 'agent.adapter.environment'

function skipReason(c: MTConnectDeviceConfig): string | undefined {
  if (c.kind === 'agent') return undefined
  if ('image' in c.adapter) {
    return `adapter image ${c.adapter.image} runs only where containers run (ofa apply to Docker Swarm)`
  }
  return undefined
}

export const mtconnectSpec = registerConnector<MTConnectDeviceConfig, ShdrConnector | MTConnectAgentConnector>({
  type: 'mtconnect',
  summary:
    'An MTConnect agent elsewhere (ip), read over HTTP: probe, current, the sample stream and assets; or OpenFactory is the agent: the Devices.xml gives the asset model, the adapter is ingested over SHDR (TCP).',
  fields: fieldsOfSchema(
    modelConnectorSchema('mtconnect'),
    {
      type: { description: 'the connector type' },
      agent: { description: 'the agent: an external one (ip) or us (device_xml + adapter)' },
      'agent.ip': {
        description:
          "an external agent, read over HTTP; its device whose uuid, name or id is this device's uuid (else its only device) is this device; excludes device_xml and adapter",
      },
      'agent.port': { description: "the agent's HTTP port" },
      'agent.device_xml': { description: 'the Devices.xml, relative to the device file' },
      'agent.adapter': { description: 'the SHDR adapter we ingest' },
      'agent.adapter.ip': { description: 'an adapter running elsewhere (exactly one of ip and image)' },
      'agent.adapter.image': {
        description: `an adapter to deploy as a container; ${SHDR_REPLAY_IMAGE} is started by ofa up itself`,
      },
      'agent.adapter.port': { description: "the adapter's port" },
      'agent.filter_duplicates': {
        description:
          "drop a value that repeats its data item's last one (samples and events; as the reference agent); not for an external agent",
        default: 'true',
      },
      'agent.upcase_values': {
        description:
          "upcase event values of the standard's controlled vocabulary (EXECUTION, CONTROLLER_MODE, ...: active → ACTIVE); not for an external agent",
        default: 'true',
      },
      'agent.adapter.environment': {
        description: `the adapter's environment, NAME=value; ${SHDR_REPLAY_IMAGE}: SHDR_FILE (required), SHDR_SPEED (default 1), SHDR_LOOP (default true)`,
      },
    },
    ['agent.deploy', 'agent.adapter.deploy'],
  ),
  parse(device: DeviceConfig): MTConnectDeviceConfig {
    const { agent } = device.connector as MTConnectBlock
    if (agent.ip !== undefined) {
      const uns = device.uns ? { uns: device.uns } : {}
      return { kind: 'agent', uuid: device.uuid, ...uns, agent: { ip: agent.ip, port: agent.port } }
    }
    // Model guarantees device_xml and adapter here (and that the file exists).
    const xml = agent.device_xml as string
    const adapter = agent.adapter as NonNullable<typeof agent.adapter>
    const deviceXmlFile = isAbsolute(xml) ? xml : resolve(dirname(device.file), xml)
    const warnings: ConfigWarning[] = []
    const devices = readDevicesXml(deviceXmlFile, { onWarning: (w) => warnings.push(w) })
    if (!deviceForUuid(devices, device.uuid)) {
      // Several devices and none is this one: binding the first would ingest another machine under this uuid.
      throw connectorConfigError(
        device,
        'agent.device_xml',
        `${xml} describes several devices and none has uuid, name or id '${device.uuid}' (devices: ${offeredDevices(devices)}); give the device file the uuid of one of them`,
      )
    }
    const base = {
      uuid: device.uuid,
      ...(device.uns ? { uns: device.uns } : {}),
      deviceXmlFile,
      devices,
      warnings,
      ...(agent.filter_duplicates !== undefined ? { filterDuplicates: agent.filter_duplicates } : {}),
      ...(agent.upcase_values !== undefined ? { upcaseValues: agent.upcase_values } : {}),
    }
    if (adapter.image === undefined) {
      return { kind: 'adapter', ...base, adapter: { host: adapter.ip as string, port: adapter.port } }
    }
    if (!isShdrReplayImage(adapter.image)) return { kind: 'adapter', ...base, adapter: { image: adapter.image } }
    // One reader of the replay environment, shared with `ofa validate` (model's shdr-replay.ts).
    const { settings, problems: bad } = readShdrReplayEnvironment(adapter.environment, { dir: dirname(device.file) })
    const problems = bad.map((p) => connectorConfigError(device, ENVIRONMENT, p.message))
    if (problems.length > 0 || settings.file === undefined) throw collectProblems(problems)
    const replay: BuiltinAdapter = {
      deviceUuid: device.uuid,
      file: settings.file,
      port: adapter.port,
      speed: settings.speed,
      loop: settings.loop,
    }
    return { kind: 'adapter', ...base, adapter: { host: '127.0.0.1', port: adapter.port }, replay }
  },
  warnings: (c) => (c.kind === 'adapter' ? c.warnings : []),
  skipReason,
  adapter: (c) => (c.kind === 'adapter' ? c.replay : undefined),
  create(c, deps) {
    if (c.kind === 'agent') {
      return new MTConnectAgentConnector({
        agent: { host: c.agent.ip, port: c.agent.port },
        uuid: c.uuid,
        ...(c.uns ? { uns: { [c.uuid]: c.uns } } : {}),
        ...(deps.timings ? { timings: deps.timings } : {}),
      })
    }
    if ('image' in c.adapter) {
      throw new Error(`mtconnect device ${c.uuid} cannot run here: ${skipReason(c)}`)
    }
    return mtconnectConnectorOf(c.devices, {
      deviceXmlFile: c.deviceXmlFile,
      adapter: c.adapter,
      uuid: c.uuid,
      ...(c.uns ? { uns: { [c.uuid]: c.uns } } : {}),
      ...(deps.timings ? { timings: deps.timings } : {}),
      ...(c.filterDuplicates !== undefined ? { filterDuplicates: c.filterDuplicates } : {}),
      ...(c.upcaseValues !== undefined ? { upcaseValues: c.upcaseValues } : {}),
    })
  },
})
