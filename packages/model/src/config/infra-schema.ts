/**
 * Infrastructure files, in the reference OpenFactory format: the Docker Swarm nodes, overlay networks and
 * volumes a factory runs on.
 *
 *   nodes:
 *     managers: {<name>: {ip: 10.0.0.10, labels: {zone: building-a}}}
 *     workers:  {<name>: {ip: 10.0.0.11}}
 *   networks:
 *     <name>: {name: factory-net, ipam: {config: [{subnet: 10.1.0.0/16, gateway: 10.1.0.1, ip_range: ...}]}}
 *   volumes:
 *     <name>: {driver_opts: {type: nfs, o: "addr=10.0.0.20,rw", device: ":/data"}}
 *
 * The reference takes IPv4 node addresses only; we take IPv6 as well.
 */
import { isIP } from 'node:net'
import { type Static, Type } from '@sinclair/typebox'
import type { Refine } from './check-value.ts'

/** The canonical text of an IP address (`::0:1` → `::1`), or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  const s = text.trim()
  const v = isIP(s)
  if (v === 4)
    return s
      .split('.')
      .map((p) => String(Number(p)))
      .join('.')
  if (v === 6) {
    try {
      return new URL(`http://[${s}]/`).hostname.slice(1, -1)
    } catch {
      return s.toLowerCase()
    }
  }
  return undefined
}

function isCidr(text: string): boolean {
  const m = /^\s*([^/\s]+)\/(\d{1,3})\s*$/.exec(text)
  if (!m) return false
  const v = isIP(m[1]!)
  return v !== 0 && Number(m[2]) <= (v === 4 ? 32 : 128)
}

const refineIp: Refine = (v: string, report) => {
  if (canonicalIp(v) === undefined)
    report([], 'OFA_CONFIG_VALUE', `expected an IPv4 or IPv6 address, got ${JSON.stringify(v)}`)
}
const refineCidr: Refine = (v: string, report) => {
  if (!isCidr(v)) report([], 'OFA_CONFIG_VALUE', `expected a subnet like 10.1.0.0/16, got ${JSON.stringify(v)}`)
}

export const IpAddress = Type.String({ expected: 'an IPv4 or IPv6 address', refine: refineIp })
export const Cidr = Type.String({ expected: 'a subnet like 10.1.0.0/16', refine: refineCidr })

export const SwarmNodeSpec = Type.Object(
  { ip: IpAddress, labels: Type.Optional(Type.Record(Type.String(), Type.String())) },
  { additionalProperties: false },
)

export const NodesSpec = Type.Object(
  {
    managers: Type.Optional(Type.Record(Type.String(), SwarmNodeSpec)),
    workers: Type.Optional(Type.Record(Type.String(), SwarmNodeSpec)),
  },
  { additionalProperties: false },
)

export const IpamConfig = Type.Object(
  {
    subnet: Cidr,
    gateway: Type.Optional(IpAddress),
    ip_range: Type.Optional(Cidr),
    aux_addresses: Type.Optional(Type.Record(Type.String(), IpAddress)),
  },
  { additionalProperties: false },
)

export const NetworkSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1 })),
    ipam: Type.Object({ config: Type.Array(IpamConfig) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
)

export const VolumeSpec = Type.Union([
  Type.Null(),
  Type.Object(
    { driver_opts: Type.Optional(Type.Record(Type.String(), Type.String())) },
    { additionalProperties: false },
  ),
])

export type SwarmNodeSpec = Static<typeof SwarmNodeSpec>
export type NetworkSpec = Static<typeof NetworkSpec>
export type VolumeSpec = Static<typeof VolumeSpec>
