/**
 * From a device of the factory configuration to the connector that virtualises it — what `ofa up` and
 * `ofa run` call. Also recognises the adapters we can start ourselves: an MTConnect adapter declared with
 * `image: openfactory/shdr-replay` replays an SHDR log (environment `SHDR_FILE`, relative to the device file;
 * `SHDR_SPEED`, default 1; `SHDR_LOOP`, default true) on 127.0.0.1 at the adapter's port.
 */
import { dirname, isAbsolute, resolve } from 'node:path'
import { type DeviceConfig, OpenFactoryError, parseSimulatorConfig } from '@openfactory/model'
import type { Connector } from './connector.ts'
import { type MTConnectConnectorConfig, mtconnectConnectorFromConfig } from './mtconnect/index.ts'
import { type ShdrConnectorConfig, shdrConnectorFromConfig } from './shdr/index.ts'
import { createSimulatorConnector } from './simulator/simulator-connector.ts'

/** The image name of our SHDR replay adapter. */
export const SHDR_REPLAY_IMAGE = 'openfactory/shdr-replay'

export interface BuiltinAdapter {
  /** The device whose adapter this is. */
  readonly deviceUuid: string
  readonly file: string
  readonly port: number
  readonly speed: number
  readonly loop: boolean
}

export type DevicePlan =
  | { readonly kind: 'run'; readonly connector: Connector; readonly adapter?: BuiltinAdapter }
  | { readonly kind: 'skip'; readonly reason: string }

function envMap(list: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>()
  for (const entry of list ?? []) {
    const i = entry.indexOf('=')
    if (i > 0) m.set(entry.slice(0, i), entry.slice(i + 1))
  }
  return m
}

function builtinAdapter(device: DeviceConfig, cfg: MTConnectConnectorConfig): BuiltinAdapter | null {
  const adapter = cfg.agent?.adapter as
    | (MTConnectConnectorConfig['agent']['adapter'] & { environment?: string[] })
    | undefined
  if (!adapter?.image) return null
  const image = adapter.image.replace(/:[^/:]*$/, '')
  if (image !== SHDR_REPLAY_IMAGE) return null
  const env = envMap(adapter.environment)
  const file = env.get('SHDR_FILE')
  if (!file) {
    throw new OpenFactoryError(
      'OFA_CONNECTOR_CONFIG',
      `${device.uuid}: the ${SHDR_REPLAY_IMAGE} adapter needs SHDR_FILE=<log file> in its environment`,
      {
        where: device.where,
      },
    )
  }
  const speed = Number(env.get('SHDR_SPEED') ?? 1)
  if (!(speed > 0)) {
    throw new OpenFactoryError('OFA_CONNECTOR_CONFIG', `${device.uuid}: SHDR_SPEED must be a positive number`, {
      where: device.where,
    })
  }
  return {
    deviceUuid: device.uuid,
    file: isAbsolute(file) ? file : resolve(dirname(device.file), file),
    port: adapter.port,
    speed,
    loop: (env.get('SHDR_LOOP') ?? 'true') !== 'false',
  }
}

/** Decides how to run one device. Throws `OFA_CONNECTOR_CONFIG` (or a config error) for a device that cannot run. */
export function planDevice(device: DeviceConfig): DevicePlan {
  const c = device.connector
  const uns = device.uns ? { uns: device.uns } : {}
  switch (c.type) {
    case 'simulator':
      return {
        kind: 'run',
        connector: createSimulatorConnector({
          uuid: device.uuid,
          config: parseSimulatorConfig(c, `devices.${device.name}.connector`),
          ...uns,
        }),
      }
    case 'shdr':
      return {
        kind: 'run',
        connector: shdrConnectorFromConfig(c as ShdrConnectorConfig, { uuid: device.uuid, ...uns }),
      }
    case 'mtconnect': {
      const cfg = c as unknown as MTConnectConnectorConfig
      const adapter = builtinAdapter(device, cfg)
      if (cfg.agent?.adapter?.image && !adapter) {
        return {
          kind: 'skip',
          reason: `adapter image ${cfg.agent.adapter.image} runs only where containers run (ofa apply to Docker Swarm)`,
        }
      }
      if (cfg.agent?.ip) return { kind: 'skip', reason: 'an external MTConnect agent (agent.ip) is not ingested yet' }
      const withIp: MTConnectConnectorConfig = adapter
        ? { ...cfg, agent: { ...cfg.agent, adapter: { ip: '127.0.0.1', port: adapter.port } } }
        : cfg
      const connector = mtconnectConnectorFromConfig(withIp, {
        uuid: device.uuid,
        baseDir: dirname(device.file),
        ...uns,
      })
      return adapter ? { kind: 'run', connector, adapter } : { kind: 'run', connector }
    }
    default:
      return { kind: 'skip', reason: `connector type ${c.type} is not available yet` }
  }
}
