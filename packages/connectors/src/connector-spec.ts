/**
 * The connector registry. Every connector type registers a spec: its `connector.type`, a summary, the fields of
 * its configuration block (with defaults, for its reference section), a `parse` that checks a device's block
 * once and types it, and a factory. `ofa validate` and `ofa up` / `ofa run` both go through the spec
 * (`checkConnectorConfigs`, `planDevice` in from-config.ts), so a configuration is judged the same way by both.
 *
 * Where each rule lives: the shape of every connector block (fields, types, ports, exclusive fields, files that
 * must exist) is model's TypeBox schema of that type (model's device-schema.ts), checked with file, line and
 * column when the factory is loaded — a `DeviceConfig` has passed it. `parse` adds only what model cannot know
 * (an SHDR key's syntax, the content of a Devices.xml, our replay adapter's environment) and never repeats a
 * schema rule; its errors carry the device's file and line and the field path. `create` trusts what `parse`
 * returned.
 *
 * Lifecycle: specs register when their module loads (the built-in ones through this package's index and
 * from-config.ts); a type registers once. Connector packages (OPC UA, Modbus, MQTT) register theirs the same way.
 */
import {
  type BackoffOptions,
  type ConfigWarning,
  type DeviceConfig,
  DeviceSpec,
  type ErrorCode,
  OpenFactoryError,
} from '@openfactory/model'
import type { Connector } from './connector.ts'

/**
 * Timings of a connector that keeps a connection to its device; every one has a default, tests shorten them.
 * SHDR's defaults: the adapter's announced heartbeat, a legacy timeout of 60 000 ms (`SHDR_LEGACY_TIMEOUT_MS`; an
 * adapter that never answers PING and stays silent that long is declared dead), a connect timeout of 5000 ms,
 * reconnects 500 ms doubling to 30 s (±20 % jitter).
 */
export interface ConnectionTimings {
  /**
   * Overrides the heartbeat the device announces (SHDR); the heartbeat asked of an MTConnect agent, whose stream is
   * stalled after twice it (default 10 000 ms).
   */
  readonly heartbeatMs?: number
  /** Silence after which a device that never answered a heartbeat is declared dead (SHDR: 60 000 ms). */
  readonly legacyTimeoutMs?: number
  /** A connection attempt that takes longer fails. */
  readonly connectTimeoutMs?: number
  /** Delays between reconnection attempts. */
  readonly backoff?: BackoffOptions
  /** How long a server keeps a session whose client went silent (OPC UA: 60 000 ms). */
  readonly sessionTimeoutMs?: number
}

/** What a runtime gives `create` besides the configuration. */
export interface ConnectorDeps {
  /** The clock, for connectors that stamp or schedule by it (tests). */
  readonly now?: () => number
  /** Connection timings, for connectors that keep a connection (tests shorten them). */
  readonly timings?: ConnectionTimings
  /**
   * The certificate store of connectors that need one (OPC UA): our own certificate and key, and the server
   * certificates we trust or rejected. Default `OPENFACTORY_PKI_DIR`, else `./.ofa-pki`.
   */
  readonly pkiDir?: string
}

/** An adapter a runtime starts itself for a device (our SHDR replay, `image: openfactory/shdr-replay`). */
export interface BuiltinAdapter {
  /** The device whose adapter this is. */
  readonly deviceUuid: string
  /** The SHDR log to replay (absolute). */
  readonly file: string
  readonly port: number
  readonly speed: number
  readonly loop: boolean
}

/** One field of a connector block, for the reference section. */
export interface ConnectorField {
  /** Dotted path inside the block; `<key>` stands for a key of a map (`data.<key>.tag`). */
  readonly path: string
  /** What it holds, in words (`text`, `a port number`, `one of Samples, Events, Condition`). */
  readonly type: string
  /** Whether the map holding it must have it (`agent.adapter.port`: whenever there is an `agent.adapter`). */
  readonly required: boolean
  /** The default, as it would be written in the file (a literal); absent when there is none or it is not one. */
  readonly default?: string
  readonly description: string
}

export interface ConnectorSpec<C = unknown, K extends Connector = Connector> {
  /** `connector.type` in a device file. */
  readonly type: string
  /** What the connector does, in one sentence. */
  readonly summary: string
  /** The fields of its block (see `fieldsOfSchema` to take them from model's schema). */
  readonly fields: readonly ConnectorField[]
  /**
   * Checks the connector block of a device that passed model's validation, once, and returns the typed
   * configuration. Throws an `OpenFactoryError` (OFA_CONNECTOR_CONFIG, OFA_MTCONNECT_XML, OFA_CONFIG_FILE...)
   * whose `where` names the file, the line and the field, carrying every problem found.
   */
  parse(device: DeviceConfig): C
  /**
   * What `parse` read past (placed, e.g. a Devices.xml's duplicate component id): logged by `ofa up`, printed by
   * `ofa validate`; none by default.
   */
  warnings?(config: C): readonly ConfigWarning[]
  /** Why a device so configured does not run in this process (an external agent, a container image); else undefined. */
  skipReason?(config: C): string | undefined
  /** The adapter the runtime starts for it, if any. */
  adapter?(config: C): BuiltinAdapter | undefined
  /** Builds the connector from a configuration `parse` returned. */
  create(config: C, deps: ConnectorDeps): K
}

const registry = new Map<string, ConnectorSpec>()

/** Registers a connector type. Registering a type twice is a programming error. */
export function registerConnector<C, K extends Connector>(spec: ConnectorSpec<C, K>): ConnectorSpec<C, K> {
  if (registry.has(spec.type)) throw new Error(`connector type ${spec.type} is registered twice`)
  registry.set(spec.type, spec as unknown as ConnectorSpec)
  return spec
}

/** The spec of a connector type, or undefined when no connector of that type is registered. */
export function connectorSpec(type: string): ConnectorSpec | undefined {
  return registry.get(type)
}

/** Every registered spec, by type name. */
export function connectorSpecs(): ConnectorSpec[] {
  return [...registry.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for specs

/** The path of a device's connector block in its file: `devices.<name>.connector` (older format: the device). */
export function connectorPath(device: DeviceConfig): string {
  const base = device.where.path ?? `devices.${device.name}`
  return device.legacyFormat ? base : `${base}.connector`
}

/** An error about a field of a device's connector block, placed at the device in its file. */
export function connectorConfigError(
  device: DeviceConfig,
  field: string,
  message: string,
  code: ErrorCode = 'OFA_CONNECTOR_CONFIG',
): OpenFactoryError {
  const path = field === '' ? connectorPath(device) : `${connectorPath(device)}.${field}`
  return new OpenFactoryError(code, `${path}: ${message}`, { where: { ...device.where, path } })
}

/** One error carrying `problems` (itself when there is one). */
export function collectProblems(problems: readonly OpenFactoryError[]): OpenFactoryError {
  if (problems.length === 1) return problems[0] as OpenFactoryError
  const first = problems[0] as OpenFactoryError
  // The message is a count: whoever prints the error prints each problem after it (not twice).
  return new OpenFactoryError(first.code, `${problems.length} problems in the connector configuration`, { problems })
}

/** A JSON schema node, as model's TypeBox schemas are. */
interface SchemaNode {
  readonly type?: string
  readonly const?: unknown
  readonly anyOf?: readonly SchemaNode[]
  readonly properties?: Readonly<Record<string, SchemaNode>>
  readonly patternProperties?: Readonly<Record<string, SchemaNode>>
  readonly required?: readonly string[]
  readonly items?: SchemaNode
  readonly minimum?: number
  readonly maximum?: number
  readonly expected?: string
}

/** Model's schema of one connector type's block (a branch of `DeviceSpec.connector`), the one place of its rules. */
export function modelConnectorSchema(type: string): SchemaNode {
  const union = (DeviceSpec as unknown as { properties: { connector: SchemaNode } }).properties.connector
  const branch = union.anyOf?.find((b) => b.properties?.type?.const === type)
  if (!branch) throw new Error(`model has no schema for connector type ${type}`)
  return branch
}

function describeNode(s: SchemaNode): string {
  if (s.expected) return s.expected
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.anyOf) {
    if (s.anyOf.every((b) => b.const !== undefined)) return `one of ${s.anyOf.map((b) => String(b.const)).join(', ')}`
    return s.anyOf.map(describeNode).join(' or ')
  }
  switch (s.type) {
    case 'string':
      return 'text'
    case 'integer':
      return s.minimum !== undefined ? `an integer ≥ ${s.minimum}` : 'an integer'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'true or false'
    case 'array':
      return s.items ? `a list, each ${describeNode(s.items)}` : 'a list'
    case 'object':
      return s.patternProperties ? 'a map' : 'a map of the fields below'
    default:
      return 'a value'
  }
}

/** What `fieldsOfSchema` needs beyond the schema: a description (and a default) per field path. */
export type FieldNotes = Readonly<Record<string, { readonly description: string; readonly default?: string }>>

/**
 * The fields of a block, taken from its schema (paths, types, whether required) and `notes` (what each means,
 * its default). Every field of the schema must have a note and every note a field: the reference cannot
 * forget a field, nor describe one that does not exist. Fields named in `skip` are left out with their children
 * (e.g. `deploy`, documented with the deployment).
 */
export function fieldsOfSchema(schema: SchemaNode, notes: FieldNotes, skip: readonly string[] = []): ConnectorField[] {
  const out: ConnectorField[] = []
  const walk = (node: SchemaNode, prefix: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const path = prefix === '' ? name : `${prefix}.${name}`
      if (skip.includes(path)) continue
      const required = (node.required ?? []).includes(name)
      const note = notes[path]
      if (!note) throw new Error(`connector field ${path} has no description`)
      out.push({
        path,
        type: describeNode(child),
        required,
        ...(note.default !== undefined ? { default: note.default } : {}),
        description: note.description,
      })
      if (child.properties) walk(child, path)
      const entry = child.patternProperties ? Object.values(child.patternProperties)[0] : undefined
      if (entry?.properties) walk(entry, `${path}.<key>`)
    }
  }
  walk(schema, '')
  const known = new Set(out.map((f) => f.path))
  for (const path of Object.keys(notes)) {
    if (!known.has(path)) throw new Error(`connector field note ${path} names no field of the schema`)
  }
  return out
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

/**
 * The reference section of a connector type, in Markdown: its name, summary and a table of its fields with
 * defaults. docs/reference/connectors.md holds each one between `<!-- connector: TYPE -->` and
 * `<!-- /connector: TYPE -->`, and a test keeps them equal.
 */
export function connectorReference(spec: ConnectorSpec): string {
  const rows = spec.fields.map((f) => [
    `\`${f.path}\``,
    f.type.replaceAll('|', '\\|'),
    f.required ? 'yes' : '',
    f.default === undefined ? '' : `\`${f.default}\``,
    f.description.replaceAll('|', '\\|'),
  ])
  return [
    `## \`${spec.type}\``,
    '',
    spec.summary,
    '',
    table(['field', 'type', 'required', 'default', 'meaning'], rows),
  ].join('\n')
}
