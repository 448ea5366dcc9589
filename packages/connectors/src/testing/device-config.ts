/**
 * A `DeviceConfig` as model's factory loader would give it, for tests that run a connector through its spec
 * (`connectorSpec(type).parse(device)`) without writing a device file. The block is taken as valid: model's
 * schema is not run on it (load a factory with `loadFactory` for that).
 */
import { join } from 'node:path'
import type { ConnectorConfig, DeviceConfig, UnsPlacement } from '@openfactory/model'

export interface DeviceConfigOptions {
  readonly uuid: string
  /** The key under `devices:` (default: the uuid). */
  readonly name?: string
  /** The device file (default `devices.yml` in the working directory): relative paths in the block start from its folder. */
  readonly file?: string
  readonly uns?: UnsPlacement
  /** The older format: `agent:` right under the device (mtconnect only). */
  readonly legacyFormat?: boolean
}

export function deviceConfig(connector: Record<string, unknown>, opts: DeviceConfigOptions): DeviceConfig {
  const name = opts.name ?? opts.uuid
  const file = opts.file ?? join(process.cwd(), 'devices.yml')
  const block = connector as unknown as ConnectorConfig
  return {
    file,
    where: { file, line: 1, column: 1, path: `devices.${name}` },
    name,
    uuid: opts.uuid,
    connector: block,
    ...(opts.uns ? { uns: opts.uns } : {}),
    legacyFormat: opts.legacyFormat ?? false,
    spec: opts.legacyFormat
      ? ({ uuid: opts.uuid, agent: (block as { agent?: unknown }).agent } as DeviceConfig['spec'])
      : ({ uuid: opts.uuid, connector: block } as DeviceConfig['spec']),
  }
}
