/**
 * A `connector.type: opcua` device, typed: what `parse` in opcua-spec.ts returns and the connector runs on.
 *
 * The block's shape (node ids, browse paths, one of the two per node, local names unique across sections) is
 * model's schema (device-schema.ts); here it is only typed, given its defaults, and each node keeps the place
 * of its entry (file, line, field path) so an error about it can name it.
 */
import type { UnsPlacement, Where } from '@openfactory/model'

/** OPC UA security modes and policies, as a device file spells them (`server.security`). */
export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt'
export type SecurityPolicyName =
  | 'None'
  | 'Basic128Rsa15'
  | 'Basic256'
  | 'Basic256Sha256'
  | 'Aes128_Sha256_RsaOaep'
  | 'Aes256_Sha256_RsaPss'

/** How to reach one server; devices with equal `ServerKey`s share one session (session-pool.ts). */
export interface OpcuaServerTarget {
  readonly uri: string
  readonly mode: SecurityModeName
  readonly policy: SecurityPolicyName
  readonly user?: { readonly name: string; readonly password: string }
}

/** A node as the file names it: by node id (`ns=2;s=Name`) or browse path (`0:Root/0:Objects/2:Machine`). */
export type NodeRef = { readonly nodeId: string } | { readonly browsePath: string }

interface NodeEntry {
  /** The local name (the key in its section): the data item id, or the method group's name. */
  readonly name: string
  readonly node: NodeRef
  /** Where the entry is: the device file and line, `path` the entry's field path (`devices.x.connector.variables.t`). */
  readonly where: Where
}

export interface OpcuaConstantEntry extends NodeEntry {
  readonly tag: string
}

export interface OpcuaVariableEntry extends NodeEntry {
  readonly tag: string
  readonly writable: boolean
  /** 0: every change. */
  readonly deadband: number
  readonly deadbandType: 'absolute' | 'percent'
  /** Per variable, else the subscription's. */
  readonly queueSize: number
  readonly samplingInterval: number
}

export type OpcuaEventEntry = NodeEntry
export type OpcuaMethodsEntry = NodeEntry

export interface OpcuaSubscriptionSettings {
  /** Milliseconds between notifications the server sends (the reference's default: 100). */
  readonly publishingInterval: number
  readonly queueSize: number
  /** Milliseconds; -1: the publishing interval; 0: as fast as the server can. */
  readonly samplingInterval: number
}

export interface OpcuaDeviceConfig {
  readonly uuid: string
  readonly uns?: UnsPlacement
  readonly server: OpcuaServerTarget
  readonly subscription: OpcuaSubscriptionSettings
  readonly constants: readonly OpcuaConstantEntry[]
  readonly variables: readonly OpcuaVariableEntry[]
  readonly events: readonly OpcuaEventEntry[]
  readonly methods: readonly OpcuaMethodsEntry[]
}

/** The reference's subscription defaults. */
export const DEFAULT_SUBSCRIPTION: OpcuaSubscriptionSettings = {
  publishingInterval: 100,
  queueSize: 1,
  samplingInterval: 0,
}

export function describeNode(ref: NodeRef): string {
  return 'nodeId' in ref ? ref.nodeId : ref.browsePath
}
