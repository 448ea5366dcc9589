/**
 * From the devices of a factory configuration to the connectors that virtualise them — what `ofa up` and
 * `ofa run` call (`planDevice`) and what `ofa validate` checks (`checkConnectorConfigs`). Both go through the
 * spec each connector type registered (connector-spec.ts), so a device file is judged the same way by both.
 */
import { type ConfigWarning, type DeviceConfig, isOpenFactoryError, type OpenFactoryError } from '@openfactory/model'
import type { Connector } from './connector.ts'
import { type BuiltinAdapter, type ConnectorDeps, connectorSpec } from './connector-spec.ts'
// The built-in connector types, registered when their modules load.
import './mtconnect/mtconnect-spec.ts'
import './shdr/shdr-spec.ts'
import './simulator/simulator-spec.ts'

/** How a device is run, or why not; `warnings`: what its connector's `parse` read past (placed). */
export type DevicePlan = (
  | { readonly kind: 'run'; readonly connector: Connector; readonly adapter?: BuiltinAdapter }
  | { readonly kind: 'skip'; readonly reason: string }
) & { readonly warnings?: readonly ConfigWarning[] }

/**
 * Decides how to run one device: its connector (and the adapter to start for it, if any), or why it is not run
 * here. Throws the spec's error (OFA_CONNECTOR_CONFIG, OFA_MTCONNECT_XML...) for a device that cannot run.
 */
export function planDevice(device: DeviceConfig, deps: ConnectorDeps = {}): DevicePlan {
  const type = device.connector.type
  const spec = connectorSpec(type)
  if (!spec) return { kind: 'skip', reason: `connector type ${type} is not available yet` }
  const config = spec.parse(device)
  const found = spec.warnings?.(config) ?? []
  const warnings = found.length > 0 ? { warnings: found } : {}
  const reason = spec.skipReason?.(config)
  if (reason !== undefined) return { kind: 'skip', reason, ...warnings }
  const adapter = spec.adapter?.(config)
  const connector = spec.create(config, deps)
  return adapter ? { kind: 'run', connector, adapter, ...warnings } : { kind: 'run', connector, ...warnings }
}

/**
 * Every problem the registered connectors find in the devices' connector blocks (devices of a type no connector
 * is registered for are left to model's validation). Each problem names its file, line and field. What a
 * connector reads past (a Devices.xml's duplicate component id) goes to `onWarning`.
 */
export function checkConnectorConfigs(
  devices: readonly DeviceConfig[],
  opts: { readonly onWarning?: (warning: ConfigWarning) => void } = {},
): OpenFactoryError[] {
  const problems: OpenFactoryError[] = []
  for (const device of devices) {
    const spec = connectorSpec(device.connector.type)
    if (!spec) continue
    try {
      const config = spec.parse(device)
      for (const w of spec.warnings?.(config) ?? []) opts.onWarning?.(w)
    } catch (err) {
      if (!isOpenFactoryError(err)) throw err
      problems.push(...(err.problems.length > 0 ? err.problems : [err]))
    }
  }
  return problems
}
