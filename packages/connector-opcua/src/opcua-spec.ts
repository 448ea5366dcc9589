/**
 * `connector.type: opcua` in the connector registry: the reference OpenFactory's OPC UA device files exactly
 * (`server.uri`, `server.subscription`, `constants`, `variables`, `events`, `methods`), plus what is ours:
 * `server.security` (mode and policy), `server.user` (user name and password) and a variable's `deadband_type`.
 * Model's schema checks the block's shape; `parse` adds the one rule it does not know (a security mode and
 * policy that go together) and gives every entry its defaults and its place in the file.
 */
import {
  type ConnectorDeps,
  collectProblems,
  connectorConfigError,
  connectorPath,
  fieldsOfSchema,
  modelConnectorSchema,
  registerConnector,
} from '@openfactory/connectors'
import type { DeviceConfig, OpcuaConnectorConfig as OpcuaBlock, OpenFactoryError } from '@openfactory/model'
import {
  DEFAULT_SUBSCRIPTION,
  type NodeRef,
  type OpcuaDeviceConfig,
  type SecurityModeName,
  type SecurityPolicyName,
} from './opcua-config.ts'
import { OpcuaConnector } from './opcua-connector.ts'

interface NodeFields {
  readonly node_id?: string
  readonly browse_path?: string
}

function nodeRef(n: NodeFields): NodeRef {
  return n.node_id !== undefined ? { nodeId: n.node_id } : { browsePath: n.browse_path as string }
}

/** The policy a secured mode uses when the file names none. */
export const DEFAULT_SECURE_POLICY: SecurityPolicyName = 'Basic256Sha256'

export function parseOpcuaDevice(device: DeviceConfig): OpcuaDeviceConfig {
  const block = device.connector as OpcuaBlock
  const problems: OpenFactoryError[] = []
  const base = connectorPath(device)
  const entry = (section: string, name: string, n: NodeFields) => ({
    name,
    node: nodeRef(n),
    where: { ...device.where, path: `${base}.${section}.${name}` },
  })
  const mode: SecurityModeName = block.server.security?.mode ?? 'None'
  let policy: SecurityPolicyName = block.server.security?.policy ?? (mode === 'None' ? 'None' : DEFAULT_SECURE_POLICY)
  if (mode === 'None' && policy !== 'None') {
    problems.push(
      connectorConfigError(device, 'server.security.policy', `mode None goes with policy None, not ${policy}`),
    )
  } else if (mode !== 'None' && policy === 'None') {
    problems.push(connectorConfigError(device, 'server.security.policy', `mode ${mode} needs a policy other than None`))
    policy = DEFAULT_SECURE_POLICY
  }
  const sub = block.server.subscription ?? {}
  const subscription = {
    publishingInterval: sub.publishing_interval ?? DEFAULT_SUBSCRIPTION.publishingInterval,
    queueSize: sub.queue_size ?? DEFAULT_SUBSCRIPTION.queueSize,
    samplingInterval: sub.sampling_interval ?? DEFAULT_SUBSCRIPTION.samplingInterval,
  }
  if (problems.length > 0) throw collectProblems(problems)
  const user = block.server.user
  return {
    uuid: device.uuid,
    ...(device.uns ? { uns: device.uns } : {}),
    server: {
      uri: block.server.uri,
      mode,
      policy,
      ...(user ? { user: { name: user.name, password: user.password } } : {}),
    },
    subscription,
    constants: Object.entries(block.constants ?? {}).map(([name, c]) => ({
      ...entry('constants', name, c),
      tag: c.tag,
    })),
    variables: Object.entries(block.variables ?? {}).map(([name, v]) => ({
      ...entry('variables', name, v),
      tag: v.tag,
      writable: v.access_level === 'rw',
      deadband: v.deadband ?? 0,
      deadbandType: v.deadband_type ?? 'absolute',
      queueSize: v.queue_size ?? subscription.queueSize,
      samplingInterval: v.sampling_interval ?? subscription.samplingInterval,
    })),
    events: Object.entries(block.events ?? {}).map(([name, e]) => entry('events', name, e)),
    methods: Object.entries(block.methods ?? {}).map(([name, m]) => entry('methods', name, m)),
  }
}

const node = (what: string) => ({
  node_id: { description: `the ${what} by node id (exactly one of node_id and browse_path)` },
  browse_path: { description: `the ${what} by browse path from 0:Root` },
})

function prefixed(prefix: string, notes: Record<string, { description: string; default?: string }>) {
  return Object.fromEntries(Object.entries(notes).map(([k, v]) => [`${prefix}.${k}`, v]))
}

export const opcuaSpec = registerConnector<OpcuaDeviceConfig, OpcuaConnector>({
  type: 'opcua',
  summary:
    'An OPC UA server: variables subscribed, constants read once, events as conditions, methods and writable variables as commands. Devices naming the same server (uri, security, user) share one session.',
  fields: fieldsOfSchema(modelConnectorSchema('opcua'), {
    type: { description: 'the connector type' },
    server: { description: 'the OPC UA server' },
    'server.uri': { description: 'its endpoint URL' },
    'server.subscription': { description: "the device's subscription" },
    'server.subscription.publishing_interval': { description: 'ms between notifications', default: '100' },
    'server.subscription.queue_size': {
      description: 'values the server keeps per item between notifications',
      default: '1',
    },
    'server.subscription.sampling_interval': {
      description: 'ms between samples (0: as fast as the server can; -1: the publishing interval)',
      default: '0',
    },
    'server.security': { description: 'ours: the secure channel (absent: None)' },
    'server.security.mode': { description: 'the message security mode' },
    'server.security.policy': {
      description: 'the security policy (the server certificate must be trusted: `ofa opcua certs`)',
      default: `None for mode None, else ${DEFAULT_SECURE_POLICY}`,
    },
    'server.user': { description: 'ours: a user for the session (absent: anonymous)' },
    'server.user.name': { description: 'the user name' },
    'server.user.password': {
      description: 'the password; write it as $' + '{VARIABLE}, set in the environment or .ofaenv',
    },
    constants: { description: 'nodes read once per session; each key is the data item id' },
    ...prefixed('constants.<key>', { ...node('node'), tag: { description: "the observation's TAG" } }),
    variables: { description: 'nodes subscribed; each key is the data item id' },
    ...prefixed('variables.<key>', {
      ...node('variable'),
      tag: { description: "the observation's TAG" },
      access_level: { description: 'rw offers the method set_<key> {value} that writes the variable', default: 'ro' },
      deadband: { description: 'changes of a number not larger than this are not reported', default: '0' },
      deadband_type: { description: 'ours: absolute, or percent of the variable’s EURange', default: 'absolute' },
      queue_size: { description: "this variable's queue size", default: 'the subscription’s' },
      sampling_interval: { description: "this variable's sampling interval, ms", default: 'the subscription’s' },
    }),
    events: { description: 'event notifiers; their events are the Condition whose id is the key' },
    ...prefixed('events.<key>', node('event notifier')),
    methods: { description: 'objects whose methods are offered as commands (named after each method)' },
    ...prefixed('methods.<key>', node('object')),
  }),
  parse: parseOpcuaDevice,
  create: (c: OpcuaDeviceConfig, deps: ConnectorDeps) => new OpcuaConnector(c, deps),
})
