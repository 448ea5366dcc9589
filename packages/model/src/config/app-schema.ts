/**
 * App files, in the reference OpenFactory format:
 *
 *   apps:
 *     <name>:
 *       uuid: DASHBOARD
 *       image: ghcr.io/acme/dashboard:1.2
 *       command: [python3, app.py]   # ours: run by ofa up as a local process (relative to this file's folder)
 *       image_pull_policy: missing | always
 *       runtime_uid: 1000            # with runtime_gid, or neither
 *       runtime_gid: 1000
 *       uns: {area: Machining}
 *       environment: [NAME=value]
 *       storage: {<name>: {type: nfs | local, ...}}   # a local_path must be a folder (relative to this file)
 *       routing: {expose: true, port: 8000, hostname: dashboard}   # hostname: a DNS name
 *       metrics: {port: 4000, path: /metrics}
 *       networks: [factory-net]
 *       deploy: {...}
 *
 * Older reference versions had a single storage backend (`storage: {type: nfs, ...}`); it is accepted too.
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import { AlertsSpec } from './alerts-schema.ts'
import type { Refine } from './check-value.ts'
import { AssetUuid, DeploySpec, EnvironmentList, NonEmptyString, Port } from './common-schema.ts'
import { UnsLevels } from './device-schema.ts'
import { HistorianSpec } from './historian-schema.ts'
import { MqttPublishSpec, WebhooksSpec } from './integrations-schema.ts'

/**
 * The blocks of our built-in apps: an app with one of them is run by `ofa up` in its process and by `ofa run <uuid>`
 * (connectors' app-kind.ts), and needs no image or command.
 */
export const BUILTIN_APP_BLOCKS = ['historian', 'alerts', 'webhooks', 'mqtt_publish'] as const

const MountPoint = Type.String({
  pattern: '^(?!.*\\.\\.)/[A-Za-z0-9._/-]{0,254}$',
  expected: 'an absolute path inside the container (letters, digits, ._-/; no ..)',
})
const AbsolutePath = Type.String({ pattern: '^\\s*/', expected: 'an absolute path' })

export const NfsStorage = Type.Object(
  {
    type: Type.Literal('nfs'),
    description: Type.Optional(Type.String()),
    server: Type.String({
      pattern: '^\\s*(?:(?:[a-zA-Z0-9-]+\\.)*[a-zA-Z0-9-]+|\\[[0-9a-fA-F:]+\\])\\s*$',
      expected: 'a host name, an IPv4 address or an IPv6 address in [brackets]',
    }),
    remote_path: AbsolutePath,
    mount_point: MountPoint,
    mount_options: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
)

/**
 * A folder on the host, mounted into the container. The reference wants an absolute path to a folder that
 * exists; we also take a path relative to the file that names it, and the loaded value is absolute.
 */
const refineLocalFolder: Refine = (v: string, report, ctx) => {
  const p = resolve(ctx.dir, v)
  let isFolder: boolean | undefined
  try {
    isFolder = statSync(p).isDirectory()
  } catch {}
  if (isFolder === undefined) report([], 'OFA_CONFIG_FILE', `folder not found: ${v}`)
  else if (!isFolder) report([], 'OFA_CONFIG_FILE', `not a folder: ${v}`)
  return p
}

export const LocalStorage = Type.Object(
  {
    type: Type.Literal('local'),
    description: Type.Optional(Type.String()),
    local_path: Type.String({ minLength: 1, expected: 'a folder on the host', refine: refineLocalFolder }),
    mount_point: MountPoint,
  },
  { additionalProperties: false },
)

export const StorageBackend = Type.Union([NfsStorage, LocalStorage], { discriminator: { propertyName: 'type' } })

const StorageMap = Type.Record(Type.String({ pattern: '^[a-zA-Z0-9_-]+$' }), StorageBackend, {
  keyExpected: 'letters, digits, _ and -',
})

/** A map of named backends; a map with a `type` text is the older single-backend form. */
const Storage = Type.Unsafe<Static<typeof StorageMap> | Static<typeof StorageBackend>>({
  if: { type: 'object', properties: { type: { type: 'string' } }, required: ['type'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else, never awaited.
  then: StorageBackend,
  else: StorageMap,
})

/** DNS names: labels of 1 to 63 letters, digits and `-` (not first or last), dot-separated, 253 at most. */
const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
export const DnsName = Type.String({
  pattern: `^(?=.{1,253}$)${DNS_LABEL}(?:\\.${DNS_LABEL})*$`,
  expected: 'a host name (labels of 1 to 63 letters, digits and -, not starting or ending with -, separated by dots)',
})

export const RoutingSpec = Type.Object(
  {
    expose: Type.Optional(Type.Boolean()),
    port: Type.Optional(Port),
    hostname: Type.Optional(DnsName),
    // Computed by the reference, but declared fields of its schema: accepted and ignored.
    canonical_hostname: Type.Optional(Type.String()),
    alias_hostname: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

export const MetricsSpec = Type.Object(
  { port: Port, path: Type.Optional(Type.String({ pattern: '^/', expected: 'an HTTP path like /metrics' })) },
  { additionalProperties: false },
)

const refineApp: Refine = (
  v: { runtime_uid?: number; runtime_gid?: number; image?: string; command?: unknown } & Record<string, unknown>,
  report,
) => {
  const builtin = BUILTIN_APP_BLOCKS.filter((b) => v[b] !== undefined)
  if (builtin.length > 1) {
    report([builtin[1]!], 'OFA_CONFIG_VALUE', `an app is one built-in app: ${builtin.join(' and ')} are both given`)
  } else if (builtin.length === 1 && (v.image !== undefined || v.command !== undefined)) {
    const other = v.command !== undefined ? 'command' : 'image'
    report([other], 'OFA_CONFIG_VALUE', `a ${builtin[0]} app is ours to run: it takes no ${other}`)
  } else if (builtin.length === 0 && v.image === undefined && v.command === undefined) {
    report(
      ['image'],
      'OFA_CONFIG_MISSING_FIELD',
      `an app needs an image (a container, deployed to a swarm), a command (a local process ofa up runs), or both; or one of our built-in blocks (${BUILTIN_APP_BLOCKS.join(', ')})`,
      'parent',
    )
  }
  if ((v.runtime_uid === undefined) !== (v.runtime_gid === undefined)) {
    const missing = v.runtime_uid === undefined ? 'runtime_uid' : 'runtime_gid'
    report(
      [missing],
      'OFA_CONFIG_MISSING_FIELD',
      'runtime_uid and runtime_gid go together: give both or neither',
      'parent',
    )
  }
}

export const AppSpec = Type.Object(
  {
    uuid: AssetUuid,
    image: Type.Optional(NonEmptyString),
    /**
     * Ours: the app as a local process that `ofa up` runs and supervises — a list (program and arguments, run
     * as is) or a text (run by /bin/sh -c) — in the folder of the file that declares it.
     */
    command: Type.Optional(
      Type.Union([
        Type.String({ minLength: 1 }),
        Type.Array(Type.String(), { minItems: 1, expected: 'a program and its arguments' }),
      ]),
    ),
    image_pull_policy: Type.Optional(
      Type.Union([Type.Literal('missing'), Type.Literal('always')], { default: 'missing' }),
    ),
    runtime_uid: Type.Optional(Type.Integer({ minimum: 1 })),
    runtime_gid: Type.Optional(Type.Integer({ minimum: 1 })),
    uns: Type.Optional(UnsLevels),
    environment: Type.Optional(EnvironmentList),
    storage: Type.Optional(Storage),
    routing: Type.Optional(RoutingSpec),
    metrics: Type.Optional(MetricsSpec),
    networks: Type.Optional(Type.Array(Type.String({ pattern: '\\S', expected: 'a network name' }))),
    deploy: Type.Optional(DeploySpec),
    // Ours: the built-in apps (BUILTIN_APP_BLOCKS).
    historian: Type.Optional(HistorianSpec),
    alerts: Type.Optional(AlertsSpec),
    webhooks: Type.Optional(WebhooksSpec),
    mqtt_publish: Type.Optional(MqttPublishSpec),
  },
  { additionalProperties: false, refine: refineApp },
)

/** One entry of an `apps:` map, as written (defaults applied). */
export type AppSpec = Static<typeof AppSpec>
