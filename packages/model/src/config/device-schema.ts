/**
 * Device files, in the reference OpenFactory format:
 *
 *   devices:
 *     <name>:                      # local to the file; the uuid is what must be unique
 *       uuid: CNC-001
 *       uns: {area: Machining}     # levels of the UNS schema (optional)
 *       connector: {type: mtconnect | opcua | shdr | modbus | mqtt | simulator, ...}
 *       ksql_tables: [device, producer, agent]
 *
 * The older shape, still found in the field, has `agent:` (an MTConnect agent) directly under the device
 * instead of `connector:`, an optional `supervisor:`, and may carry UNS levels as top-level keys of the
 * device. `modbus`, `mqtt` and `simulator` are ours; their shapes are open for now and will be tightened
 * by the connectors that read them.
 */
import { statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { ExactlyOne, Refine } from './check-value.ts'
import { AssetUuid, DeploySpec, EnvironmentList, NonEmptyString, Port } from './common-schema.ts'
import { isShdrReplayImage, readShdrReplayEnvironment } from './shdr-replay.ts'
import { readSimulatorConfig } from './simulator-config.ts'

/** `github://org:repo@/path` and other URIs the reference can open are not checked on disk. */
const URI = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//

/** Resolves a path named in a file relative to that file's folder; URIs are kept as they are. */
export function resolveFileRef(dir: string, ref: string): string {
  return URI.test(ref) || isAbsolute(ref) ? ref : resolve(dir, ref)
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile()
  } catch {
    return false
  }
}

/** Exactly one of two fields (the `exactlyOne` keyword, check-value.ts). */
function exactlyOne(a: string, b: string, why: string): ExactlyOne {
  return {
    fields: [a, b],
    missing: `missing required field: give ${a} or ${b} (${why})`,
    both: `${a} and ${b} exclude each other: give only one`,
  }
}

// ---------------------------------------------------------------------------------------------------------
// MTConnect

/** Our replay adapter's settings, read as the runtime reads them (shdr-replay.ts); each problem at its entry. */
const refineAdapter: Refine = (v: { image?: string; environment?: string[] }, report, ctx) => {
  if (v.image === undefined || !isShdrReplayImage(v.image)) return
  for (const p of readShdrReplayEnvironment(v.environment, { dir: ctx.dir }).problems) {
    if (p.index !== undefined) report(['environment', p.index], p.code, p.message)
    else report(['environment'], p.code, p.message, v.environment === undefined ? 'parent' : 'key')
  }
}

export const MTConnectAdapter = Type.Object(
  {
    ip: Type.Optional(NonEmptyString),
    image: Type.Optional(NonEmptyString),
    port: Port,
    environment: Type.Optional(EnvironmentList),
    deploy: Type.Optional(DeploySpec),
  },
  {
    additionalProperties: false,
    exactlyOne: exactlyOne('ip', 'image', 'ip: an adapter running elsewhere; image: an adapter to deploy'),
    refine: refineAdapter,
  },
)

const refineAgent: Refine = (
  v: { ip?: string; device_xml?: string; adapter?: unknown; filter_duplicates?: boolean; upcase_values?: boolean },
  report,
  ctx,
) => {
  if (v.ip !== undefined) {
    for (const f of ['device_xml', 'adapter', 'filter_duplicates', 'upcase_values'] as const) {
      if (v[f] !== undefined) report([f], 'OFA_CONFIG_VALUE', `not allowed for an external agent (ip is set)`, 'key')
    }
    return
  }
  for (const f of ['device_xml', 'adapter'] as const) {
    if (v[f] === undefined) {
      report(
        [f],
        'OFA_CONFIG_MISSING_FIELD',
        'missing required field (an agent without ip needs device_xml and adapter)',
        'parent',
      )
    }
  }
  if (v.device_xml !== undefined) {
    const p = resolveFileRef(ctx.dir, v.device_xml)
    if (!URI.test(p) && !isFile(p)) report(['device_xml'], 'OFA_CONFIG_FILE', `file not found: ${v.device_xml}`)
    return { ...v, device_xml: p }
  }
  return undefined
}

export const MTConnectAgent = Type.Object(
  {
    ip: Type.Optional(NonEmptyString),
    port: Port,
    device_xml: Type.Optional(NonEmptyString),
    adapter: Type.Optional(MTConnectAdapter),
    filter_duplicates: Type.Optional(Type.Boolean()),
    upcase_values: Type.Optional(Type.Boolean()),
    deploy: Type.Optional(DeploySpec),
  },
  { additionalProperties: false, refine: refineAgent },
)

export const MTConnectConnectorConfig = Type.Object(
  { type: Type.Literal('mtconnect'), agent: MTConnectAgent },
  { additionalProperties: false },
)

// ---------------------------------------------------------------------------------------------------------
// OPC UA

const NodeId = Type.String({ pattern: '^ns=\\d+;[isgb]=.+$', expected: 'a node id like ns=2;i=1001 or ns=2;s=Name' })
const BrowsePath = Type.String({
  pattern: '^0:Root(?:/\\d+:[^/\\s](?:[^/]*[^/\\s])?)*$',
  expected: 'a browse path like 0:Root/0:Objects/2:Sensors/2:Temperature',
})

const nodeFields = { node_id: Type.Optional(NodeId), browse_path: Type.Optional(BrowsePath) }
const nodeOptions = { additionalProperties: false, exactlyOne: exactlyOne('node_id', 'browse_path', 'the node to use') }

export const OpcuaConstant = Type.Object({ ...nodeFields, tag: NonEmptyString }, nodeOptions)
export const OpcuaVariable = Type.Object(
  {
    ...nodeFields,
    tag: NonEmptyString,
    access_level: Type.Optional(Type.Union([Type.Literal('ro'), Type.Literal('rw')])),
    deadband: Type.Optional(Type.Number({ minimum: 0 })),
    // Ours: how `deadband` is read (the reference's is absolute).
    deadband_type: Type.Optional(Type.Union([Type.Literal('absolute'), Type.Literal('percent')])),
    queue_size: Type.Optional(Type.Integer({ minimum: 0 })),
    sampling_interval: Type.Optional(
      Type.Number({ minimum: -1, expected: 'milliseconds (-1: the publishing interval)' }),
    ),
  },
  nodeOptions,
)
export const OpcuaNode = Type.Object(nodeFields, nodeOptions)

export const OpcuaSubscription = Type.Object(
  {
    publishing_interval: Type.Optional(Type.Number({ minimum: 0, expected: 'milliseconds' })),
    queue_size: Type.Optional(Type.Integer({ minimum: 0 })),
    sampling_interval: Type.Optional(
      Type.Number({ minimum: -1, expected: 'milliseconds (-1: the publishing interval)' }),
    ),
  },
  { additionalProperties: false },
)

/** Ours: the secure channel (the reference connects with SecurityPolicy None only). */
export const OpcuaSecurity = Type.Object(
  {
    mode: Type.Union([Type.Literal('None'), Type.Literal('Sign'), Type.Literal('SignAndEncrypt')]),
    policy: Type.Optional(
      Type.Union([
        Type.Literal('None'),
        Type.Literal('Basic128Rsa15'),
        Type.Literal('Basic256'),
        Type.Literal('Basic256Sha256'),
        Type.Literal('Aes128_Sha256_RsaOaep'),
        Type.Literal('Aes256_Sha256_RsaPss'),
      ]),
    ),
  },
  { additionalProperties: false },
)

/** Ours: a user name and password for the session (anonymous when absent); write the password as `${VAR}`. */
export const OpcuaUser = Type.Object({ name: NonEmptyString, password: Type.String() }, { additionalProperties: false })

export const OpcuaServer = Type.Object(
  {
    uri: Type.String({ pattern: '^opc\\.(?:tcp|https|wss)://\\S+$', expected: 'an endpoint like opc.tcp://host:4840' }),
    subscription: Type.Optional(OpcuaSubscription),
    security: Type.Optional(OpcuaSecurity),
    user: Type.Optional(OpcuaUser),
  },
  { additionalProperties: false },
)

const OPCUA_SECTIONS = ['constants', 'variables', 'events', 'methods'] as const

/** Local names are unique across sections; a node appears at most once per section. */
const refineOpcua: Refine = (v: Record<string, unknown>, report) => {
  const seen = new Map<string, string>()
  for (const section of OPCUA_SECTIONS) {
    const entries = v[section] as Record<string, { node_id?: string; browse_path?: string }> | undefined
    if (!entries) continue
    const nodes = new Map<string, string>()
    for (const [name, node] of Object.entries(entries)) {
      const other = seen.get(name)
      if (other !== undefined) report([section, name], 'OFA_CONFIG_VALUE', `local name already used in ${other}`, 'key')
      else seen.set(name, section)
      const id = node.node_id ?? node.browse_path ?? ''
      const first = nodes.get(id)
      if (first !== undefined) report([section, name], 'OFA_CONFIG_VALUE', `same node as ${section}.${first} (${id})`)
      else nodes.set(id, name)
    }
  }
}

export const OpcuaConnectorConfig = Type.Object(
  {
    type: Type.Literal('opcua'),
    server: OpcuaServer,
    constants: Type.Optional(Type.Record(Type.String(), OpcuaConstant)),
    variables: Type.Optional(Type.Record(Type.String(), OpcuaVariable)),
    events: Type.Optional(Type.Record(Type.String(), OpcuaNode)),
    methods: Type.Optional(Type.Record(Type.String(), OpcuaNode)),
  },
  { additionalProperties: false, refine: refineOpcua },
)

// ---------------------------------------------------------------------------------------------------------
// SHDR (MTConnect adapter protocol, read directly)

export const ShdrDataItem = Type.Object(
  {
    tag: NonEmptyString,
    // Condition is ours: the reference reads Samples and Events only.
    type: Type.Union([Type.Literal('Samples'), Type.Literal('Events'), Type.Literal('Condition')]),
  },
  { additionalProperties: false },
)

export const ShdrConnectorConfig = Type.Object(
  {
    type: Type.Literal('shdr'),
    host: NonEmptyString,
    port: Port,
    data: Type.Optional(Type.Record(Type.String(), ShdrDataItem)),
  },
  { additionalProperties: false },
)

// ---------------------------------------------------------------------------------------------------------
// Ours: Modbus, MQTT, simulator. Open shapes for now: known fields are typed, others are kept.

export const ModbusRegister = Type.Object(
  {
    address: Type.Integer({ minimum: 0, maximum: 65535, expected: 'a register address (0-65535)' }),
    tag: Type.Optional(NonEmptyString),
  },
  { additionalProperties: true },
)

export const ModbusConnectorConfig = Type.Object(
  {
    type: Type.Literal('modbus'),
    host: NonEmptyString,
    port: Type.Optional(Port),
    unit_id: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, expected: 'a unit id (0-255)' })),
    registers: Type.Optional(Type.Record(Type.String(), ModbusRegister)),
  },
  { additionalProperties: true },
)

// MQTT: a closed shape, read by packages/connector-mqtt (its spec adds topic-filter syntax and reads the TLS files).

/** An MQTT data item: the topic filter it is read from (wildcards `+` and `#` allowed) and how its payload is read. */
export const MqttTopicItem = Type.Object(
  {
    topic: NonEmptyString,
    tag: NonEmptyString,
    type: Type.Optional(Type.Union([Type.Literal('Samples'), Type.Literal('Events')])),
    payload: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('raw')])),
    path: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_$-]+(?:\\[\\d+\\])*(?:\\.[A-Za-z0-9_$-]+(?:\\[\\d+\\])*)*$',
        expected: 'a field path like data.temperature or values[0]',
      }),
    ),
    units: Type.Optional(NonEmptyString),
  },
  { additionalProperties: false },
)

/** A command sent to the device as an MQTT message; the answer comes back on the response (or reply) topic. */
export const MqttCommand = Type.Object(
  {
    topic: Type.String({ pattern: '^[^+#]+$', expected: 'a topic name without wildcards' }),
    reply_topic: Type.Optional(Type.String({ pattern: '^[^+#]+$', expected: 'a topic name without wildcards' })),
    description: Type.Optional(Type.String()),
    arguments: Type.Optional(Type.Array(NonEmptyString)),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, expected: 'ms (1-3600000)' })),
  },
  { additionalProperties: false },
)

const SparkplugId = Type.String({ pattern: '^[^+#/]+$', expected: 'a Sparkplug id (no +, # or /)' })

/** Ours: a Sparkplug B edge node the connector reads as a Sparkplug Host Application. */
export const MqttSparkplug = Type.Object(
  { group_id: SparkplugId, edge_node_id: SparkplugId, host_id: Type.Optional(SparkplugId) },
  { additionalProperties: false },
)

/**
 * Ours: one asset per value of the `{asset}` level of the `topics` filters (one device, many sensors): the uuid each
 * gets and how many one device may create.
 */
export const MqttAssets = Type.Object(
  {
    uuid: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.:-]*\\{asset\\}[A-Za-z0-9_.:-]*$',
        expected: 'a uuid with {asset} once, like DHT-{asset}',
      }),
    ),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, expected: 'a count (1-100000)' })),
  },
  { additionalProperties: false },
)

export const MqttConnectorConfig = Type.Object(
  {
    type: Type.Literal('mqtt'),
    url: Type.String({ pattern: '^(?:mqtts?|wss?|tcp|ssl)://\\S+$', expected: 'a URL like mqtt://host:1883' }),
    protocol_version: Type.Optional(
      Type.Union([Type.Literal(4), Type.Literal(5)], { expected: '4 (MQTT 3.1.1) or 5 (MQTT 5)' }),
    ),
    client_id: Type.Optional(
      Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$', expected: 'up to 128 printable ASCII characters' }),
    ),
    username: Type.Optional(NonEmptyString),
    password: Type.Optional(Type.String()),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(NonEmptyString),
          // Mutual TLS: our client certificate and its private key (PEM files; both or neither, checked by the spec).
          cert: Type.Optional(NonEmptyString),
          key: Type.Optional(NonEmptyString),
          reject_unauthorized: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], { expected: '0, 1 or 2' })),
    clean_session: Type.Optional(Type.Boolean()),
    keepalive_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, expected: 'seconds (0-65535)' })),
    max_payload_bytes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 268_435_455, expected: 'bytes (1-268435455)' }),
    ),
    max_messages_per_s: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000, expected: 'messages per second (0-1000000, 0 no limit)' }),
    ),
    topics: Type.Optional(Type.Record(Type.String(), MqttTopicItem)),
    commands: Type.Optional(Type.Record(Type.String(), MqttCommand)),
    sparkplug: Type.Optional(MqttSparkplug),
    assets: Type.Optional(MqttAssets),
  },
  { additionalProperties: false },
)

const refineSimulator: Refine = (v: unknown, report) => {
  readSimulatorConfig(v, (path, message) => {
    const anchor = message === 'is required' ? 'parent' : message.startsWith('is not a simulator') ? 'key' : 'value'
    report(path, 'OFA_CONNECTOR_CONFIG', message, anchor)
  })
  return undefined
}

/** `connector.type: simulator`: checked by the simulator's own reader (simulator-config.ts). */
export const SimulatorConnectorConfig = Type.Object(
  { type: Type.Literal('simulator') },
  { additionalProperties: true, refine: refineSimulator },
)

export const ConnectorConfig = Type.Union(
  [
    MTConnectConnectorConfig,
    OpcuaConnectorConfig,
    ShdrConnectorConfig,
    ModbusConnectorConfig,
    MqttConnectorConfig,
    SimulatorConnectorConfig,
  ],
  { discriminator: { propertyName: 'type' } },
)

export type MTConnectAgent = Static<typeof MTConnectAgent>
export type MTConnectAdapter = Static<typeof MTConnectAdapter>
export type MTConnectConnectorConfig = Static<typeof MTConnectConnectorConfig>
export type OpcuaConnectorConfig = Static<typeof OpcuaConnectorConfig>
export type ShdrConnectorConfig = Static<typeof ShdrConnectorConfig>
export type ModbusConnectorConfig = Static<typeof ModbusConnectorConfig> & Record<string, unknown>
export type MqttConnectorConfig = Static<typeof MqttConnectorConfig>
export type SimulatorConnectorConfig = Static<typeof SimulatorConnectorConfig> & Record<string, unknown>
export type ConnectorConfig =
  | MTConnectConnectorConfig
  | OpcuaConnectorConfig
  | ShdrConnectorConfig
  | ModbusConnectorConfig
  | MqttConnectorConfig
  | SimulatorConnectorConfig
export type ConnectorType = ConnectorConfig['type']
export const CONNECTOR_TYPES: readonly ConnectorType[] = ['mtconnect', 'opcua', 'shdr', 'modbus', 'mqtt', 'simulator']

// ---------------------------------------------------------------------------------------------------------
// Device

/** UNS level values: text (numbers are taken as their text, as the reference does). */
export const UnsLevels = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean()], { expected: 'a level value (text)' }),
)

/** The supervisor of the older format: a container that forwards commands through its own adapter. */
export const SupervisorConfig = Type.Object(
  { image: NonEmptyString, adapter: MTConnectAdapter, deploy: Type.Optional(DeploySpec) },
  { additionalProperties: false },
)

/** Older format: InfluxDB export settings, accepted and ignored. */
export const InfluxDb = Type.Object(
  {
    url: Type.Optional(Type.String()),
    organisation: Type.Optional(Type.String()),
    token: Type.Optional(Type.String()),
    bucket: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

export const KsqlTable = Type.Union([Type.Literal('device'), Type.Literal('producer'), Type.Literal('agent')])

export const DeviceSpec = Type.Object(
  {
    uuid: AssetUuid,
    uns: Type.Optional(UnsLevels),
    connector: Type.Optional(ConnectorConfig),
    agent: Type.Optional(MTConnectAgent),
    supervisor: Type.Optional(SupervisorConfig),
    ksql_tables: Type.Optional(Type.Array(KsqlTable)),
    influxdb: Type.Optional(InfluxDb),
    /** The device's connector service on a swarm (`ofa apply --swarm`): replicas share one session to the device. */
    deploy: Type.Optional(DeploySpec),
  },
  {
    additionalProperties: false,
    exactlyOne: {
      fields: ['connector', 'agent'],
      missing: 'missing required field',
      both: 'agent (the older format) and connector exclude each other: use connector',
    },
  },
)

/** One entry of a `devices:` map, as written (defaults applied, paths resolved). */
export type DeviceSpec = Static<typeof DeviceSpec>
