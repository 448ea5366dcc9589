/**
 * What loading a factory gives: the manifest, the UNS schema that applies, and every device, app and piece of
 * infrastructure, each with the file and place that declares it.
 */
import type { UnsPlacement } from '../asset.ts'
import { formatWhere, type OpenFactoryError, type Where } from '../errors.ts'
import type { AppSpec } from './app-schema.ts'
import type { ConnectorConfig, DeviceSpec } from './device-schema.ts'
import type { Env } from './expand-env.ts'
import type { FactoryManifest } from './factory-manifest.ts'
import type { NetworkSpec } from './infra-schema.ts'
import type { ConfigLimits } from './limits.ts'
import type { UnsSchema } from './uns-schema.ts'

export interface ValidateFactoryOptions {
  /** Path of the UNS schema to use (the `--uns` option), relative to `cwd`. */
  readonly uns?: string
  /**
   * Variables for `$VAR` expansion and OPENFACTORY_UNS_SCHEMA. Default: `process.env`. Those of a `.ofaenv`
   * file in `cwd` are added where not set here.
   */
  readonly env?: Env
  /**
   * Where relative paths start, what printed file names are relative to, and where `.ofaenv` is read.
   * Default: `process.cwd()`.
   */
  readonly cwd?: string
  /**
   * Bounds on what is read: file sizes, number of files, nesting, aliases (limits.ts). Default: CONFIG_LIMITS;
   * the limits given replace those defaults.
   */
  readonly limits?: Partial<ConfigLimits>
  /**
   * Stops the validation (Ctrl-C): `validateFactory` rejects with the signal's reason (an `AbortError`). The
   * loader yields to the event loop between files and while it checks many entries, so an abort is seen soon.
   */
  readonly signal?: AbortSignal
}

/** A folder holding this file is skipped when a folder above it is walked (it is read when named). */
export const SKIP_MARKER = '.ofa-skip'

/** Something accepted in a factory's files that is probably not what was meant: reported, never fatal. */
export class ConfigWarning {
  /** Starts with the field path, like a problem's: `devices.cnc-1.uns.zone: ...`. */
  readonly message: string
  readonly where: Where

  constructor(message: string, where: Where) {
    this.message = message
    this.where = where
  }

  /** `file:line:column: warning message`, the way `ofa validate` prints it. */
  format(): string {
    return `${formatWhere(this.where)}warning ${this.message}`
  }
}

export type ConfigKind = 'manifest' | 'devices' | 'apps' | 'infrastructure' | 'uns-schema'

export interface ConfigFile {
  /** Absolute path. */
  readonly path: string
  readonly kinds: readonly ConfigKind[]
}

/** Where a declaration is: absolute file path plus the printed place (file relative to cwd, line, column). */
export interface Declared {
  /** Absolute path of the file that declares it. */
  readonly file: string
  /** Its place, for messages: file (as printed), line and column of its key, field path. */
  readonly where: Where
}

export interface DeviceConfig extends Declared {
  /** The key under `devices:` (local to its file). */
  readonly name: string
  readonly uuid: string
  /** The connector; a device in the older format (`agent:` directly under it) gets `{type: mtconnect, agent}`. */
  readonly connector: ConnectorConfig
  /** Its place in the UNS, when a UNS schema applies. */
  readonly uns?: UnsPlacement
  /** True for the older format (`agent:` directly under the device, UNS levels maybe as top-level keys). */
  readonly legacyFormat: boolean
  /** The entry as written, defaults applied and file paths (`device_xml`) made absolute. */
  readonly spec: DeviceSpec
}

export interface AppConfig extends Declared {
  readonly name: string
  readonly uuid: string
  readonly uns?: UnsPlacement
  readonly spec: AppSpec
}

export interface NodeConfig extends Declared {
  readonly name: string
  readonly role: 'manager' | 'worker'
  readonly ip: string
  readonly labels: Readonly<Record<string, string>>
}

export interface NetworkConfig extends Declared {
  /** The key under `networks:`. */
  readonly name: string
  readonly spec: NetworkSpec
}

export interface VolumeConfig extends Declared {
  readonly name: string
  readonly driverOpts: Readonly<Record<string, string>>
}

export interface Infrastructure {
  readonly nodes: readonly NodeConfig[]
  readonly networks: readonly NetworkConfig[]
  readonly volumes: readonly VolumeConfig[]
}

export interface Factory {
  /** The factory folder. */
  readonly dir: string
  readonly manifest: FactoryManifest
  /** The UNS schema that applies, if any. */
  readonly uns?: UnsSchema
  /** Devices and apps without problems (an entry with a problem is left out, and the problem reported). */
  readonly devices: readonly DeviceConfig[]
  readonly apps: readonly AppConfig[]
  readonly infrastructure: Infrastructure
  /** Every file read, manifest and UNS schema included. */
  readonly files: readonly ConfigFile[]
}

export interface ValidateFactoryResult {
  readonly factory: Factory
  /** Every problem, sorted by file, line and column. Empty when the configuration is valid. */
  readonly problems: readonly OpenFactoryError[]
  /** What was accepted but ignored (UNS levels the template does not have...), sorted like the problems. */
  readonly warnings: readonly ConfigWarning[]
  /** Absolute paths of the folders skipped because they hold a `.ofa-skip` file (SKIP_MARKER). */
  readonly skipped: readonly string[]
}
