/**
 * A factory as a Docker Swarm stack (a compose file for `docker stack deploy`), on a Kafka backbone:
 *
 * - one service per device, `device-<uuid>`, running `ofa run <uuid> /factory` (its connector, and our SHDR replay
 *   adapter when it declares one; replicas share a lease, so one runs it), and, for an MTConnect adapter declared
 *   with another `image`, `adapter-<uuid>` running it;
 * - one service per app with an image: `openfactory/serve` (any tag) is our serving layer (`ofa run <uuid>`, with a
 *   healthcheck on its `/healthz`), any other image runs as given, with its `environment`;
 * - one service `workers` when the factory has SQL files or processors, running `ofa run --workers /factory`;
 * - every service on the host network (no published ports: an app's port is its `routing.port`), restarted on any
 *   exit, updated one replica at a time and rolled back when the update fails (`update_config.failure_action:
 *   rollback`), with the `deploy:` of its file (replicas, resources, placement constraints);
 * - each service labelled with the resource it runs and the digest of that resource's fields (deploy/state.ts), so
 *   a change of one device changes that service's spec alone, and `docker stack deploy` updates it alone.
 *
 * On a secured Kafka, our services get the connection's settings as `--kafka-*` flags, its password and PEM files as
 * Docker secrets (secrets.ts).
 *
 * The factory folder is bind-mounted read-only at /factory: on a swarm of several nodes it must be at the same
 * path on each (shared storage). Refused here, before anything is deployed, each with its place: two services
 * listening on one port of the host network, a placement constraint on a node label no node of the
 * infrastructure file has.
 */
import '../app-kinds.ts'
import { createHash } from 'node:crypto'
import { appKindOf } from '@openfactory/connectors'
import {
  type AppConfig,
  type DeviceConfig,
  type Factory,
  memoryBytes,
  OpenFactoryError,
  SHDR_REPLAY_IMAGE,
  type Where,
} from '@openfactory/model'
import { type KafkaSecurity, kafkaSecurityArgs } from '../runtime/kafka-security.ts'
import { isServeImage } from '../runtime/service-runtime.ts'
import { workersDefinition } from '../runtime/workers-runtime.ts'
import { KAFKA_TLS_FILES, SERVE_LABEL, SERVE_TLS_FILES } from './secrets.ts'
import { fieldValue } from './state.ts'

export interface StackOptions {
  /** Our image: `openfactory/ofa:<version>` (`ofa image build`). */
  readonly image: string
  /** Kafka bootstrap servers, as the services reach them (host network). */
  readonly bootstrapServers: readonly string[]
  /** The connection's security (default: factory.yaml's, or PLAINTEXT). */
  readonly security?: KafkaSecurity
  /** The factory folder's path on the nodes (bind-mounted read-only at /factory). Default: the folder itself. */
  readonly factoryPath?: string
  /**
   * The serving app: `tls`, it serves HTTPS with the certificate and key mounted at SERVE_TLS_FILES (secrets.ts);
   * `insecure`, it listens on every address without authentication (else, without factory.yaml `auth:`, on
   * 127.0.0.1 of its node only).
   */
  readonly serve?: { readonly tls?: boolean; readonly insecure?: boolean }
}

/** The parts of a compose service we write. */
export interface StackService {
  readonly image: string
  /** Container labels: part of the task template, so a change restarts the service's tasks (a rolling update). */
  readonly labels: Readonly<Record<string, string>>
  readonly command?: readonly string[]
  readonly environment?: Readonly<Record<string, string>>
  readonly networks: readonly string[]
  /** The factory folder (a bind mount), or a named volume of the stack (`StackFile.volumes`), e.g. Kafka's data. */
  readonly volumes?: readonly (
    | { type: 'bind'; source: string; target: string; read_only: true }
    | { type: 'volume'; source: string; target: string }
  )[]
  readonly healthcheck?: {
    readonly test: readonly string[]
    readonly interval: string
    readonly timeout: string
    readonly retries: number
    readonly start_period: string
  }
  /** How long docker waits after SIGTERM before it kills the container (compose default 10s). */
  readonly stop_grace_period?: string
  /** Docker secrets mounted at /run/secrets/<target> (deploy/secrets.ts). */
  readonly secrets?: readonly { readonly source: string; readonly target: string }[]
  /** `open_files` of the `deploy.resources` (limits, else reservations) as the nofile limit. */
  readonly ulimits?: { readonly nofile: { readonly soft: number; readonly hard: number } }
  readonly deploy: {
    readonly replicas: number
    readonly labels: Readonly<Record<string, string>>
    readonly restart_policy: { readonly condition: 'any'; readonly delay: string }
    readonly update_config: Readonly<Record<string, string | number>>
    readonly rollback_config: Readonly<Record<string, string | number>>
    readonly resources?: ComposeResources
    readonly placement?: { readonly constraints: readonly string[] }
  }
}

export interface StackFile {
  readonly version: '3.8'
  readonly services: Readonly<Record<string, StackService>>
  readonly networks: { readonly hostnet: { readonly external: true; readonly name: 'host' } }
  /** Secrets the services mount, made beforehand (external). */
  readonly secrets?: Readonly<Record<string, { readonly external: true; readonly name: string }>>
  /** Named volumes the services mount (`docker stack deploy` names each `<stack>_<key>`), with their labels. */
  readonly volumes?: Readonly<Record<string, { readonly labels?: Readonly<Record<string, string>> }>>
}

/** Compose's form of resources: CPUs and memory (bytes) as text. */
interface ComposeResources {
  readonly limits?: { readonly cpus?: string; readonly memory?: string }
  readonly reservations?: { readonly cpus?: string; readonly memory?: string }
}

interface ResourcesConfig {
  readonly cpus?: number
  readonly memory?: string | number
  readonly open_files?: number
}

interface DeployConfig {
  readonly replicas?: number
  readonly resources?: { readonly limits?: ResourcesConfig; readonly reservations?: ResourcesConfig }
  readonly placement?: { readonly constraints?: readonly string[] }
}

/** A service name from a uuid: lower case, letters, digits and dashes (Docker's rule for names). */
export function serviceName(prefix: string, uuid: string): string {
  return `${prefix}-${uuid.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`
}

/** Of a resource's fields, paths inside the factory folder relative to it (the same files from a snapshot agree). */
const digest = (v: unknown, dir: string) =>
  createHash('sha256')
    .update(JSON.stringify(fieldValue(v, dir)))
    .digest('hex')
    .slice(0, 16)

const UPDATE = { parallelism: 1, order: 'stop-first', failure_action: 'rollback', monitor: '15s' } as const
const ROLLBACK = { parallelism: 1, order: 'stop-first' } as const

/**
 * A file's resources as compose takes them (`docker stack deploy` wants CPUs and memory as text; `open_files` is no
 * resource there but the service's nofile ulimit).
 */
function composeResources(r: DeployConfig['resources']): {
  resources?: ComposeResources
  ulimits?: StackService['ulimits']
} {
  if (!r) return {}
  const one = (x: ResourcesConfig | undefined) =>
    x && (x.cpus !== undefined || x.memory !== undefined)
      ? {
          ...(x.cpus !== undefined ? { cpus: String(x.cpus) } : {}),
          ...(x.memory !== undefined ? { memory: String(memoryBytes(x.memory)) } : {}),
        }
      : undefined
  const limits = one(r.limits)
  const reservations = one(r.reservations)
  const files = r.limits?.open_files ?? r.reservations?.open_files
  return {
    ...(limits || reservations
      ? { resources: { ...(limits ? { limits } : {}), ...(reservations ? { reservations } : {}) } }
      : {}),
    ...(files !== undefined ? { ulimits: { nofile: { soft: files, hard: files } } } : {}),
  }
}

function service(
  image: string,
  deploy: DeployConfig | undefined,
  labels: Record<string, string>,
  rest: Omit<StackService, 'image' | 'deploy' | 'networks' | 'labels'>,
): StackService {
  const { resources, ulimits } = composeResources(deploy?.resources)
  return {
    image,
    ...(ulimits ? { ulimits } : {}),
    // The digest on the containers too: the configuration is read from /factory at start, so a changed resource
    // must restart its tasks — a service label alone would update the service object but not what runs.
    labels,
    ...rest,
    networks: ['hostnet'],
    deploy: {
      replicas: deploy?.replicas ?? 1,
      labels,
      restart_policy: { condition: 'any', delay: '2s' },
      update_config: UPDATE,
      rollback_config: ROLLBACK,
      ...(resources ? { resources } : {}),
      ...(deploy?.placement?.constraints?.length
        ? { placement: { constraints: [...deploy.placement.constraints] } }
        : {}),
    },
  }
}

/** The device's `deploy:` (ours), else its MTConnect agent's (the reference's: the agent was the device's service). */
function deviceDeploy(d: DeviceConfig): DeployConfig | undefined {
  const c = d.connector as { type: string; agent?: { deploy?: DeployConfig } }
  return d.spec.deploy ?? (c.type === 'mtconnect' ? c.agent?.deploy : undefined)
}

export function generateStack(factory: Factory, opts: StackOptions): StackFile {
  const services: Record<string, StackService> = {}
  /** The file declaring each service (for the errors). */
  /** Where each service is declared, and the path of its `deploy:` block there (for the errors). */
  const origin = new Map<string, { where: Where; deploy: string }>()
  const mount = [
    { type: 'bind' as const, source: opts.factoryPath ?? factory.dir, target: '/factory', read_only: true as const },
  ]
  const kafka = ['--backbone', 'kafka', '--bootstrap', opts.bootstrapServers.join(','), ...securityArgs(factory, opts)]
  const ports = new Map<number, string>()
  const claimPort = (port: number, who: string, where: Where) => {
    const other = ports.get(port)
    if (other) {
      throw new OpenFactoryError(
        'OFA_DEPLOY_PORT_CLASH',
        `${where.path ? `${where.path}: ` : ''}${who} and ${other} both listen on port ${port} of the host`,
        {
          where,
        },
      )
    }
    ports.set(port, who)
  }
  for (const d of factory.devices) {
    const name = serviceName('device', d.uuid)
    origin.set(name, { where: d.where, deploy: d.spec.deploy ? 'deploy' : 'connector.agent.deploy' })
    services[name] = service(
      opts.image,
      deviceDeploy(d),
      {
        'io.openfactory.resource': `connector ${d.uuid}`,
        'io.openfactory.digest': digest({ connector: d.connector, uns: d.uns?.unsId }, factory.dir),
      },
      { command: ['run', d.uuid, '/factory', ...kafka], volumes: mount },
    )
    const c = d.connector as {
      type: string
      agent?: { adapter?: { image?: string; port?: number; environment?: readonly string[]; deploy?: DeployConfig } }
    }
    const adapter = c.type === 'mtconnect' ? c.agent?.adapter : undefined
    // Our SHDR replay adapter runs inside the device's own service (ofa run starts it); another image is a service.
    if (adapter?.image && adapter.image.split(':')[0] !== SHDR_REPLAY_IMAGE) {
      const at = (field: string) => ({ ...d.where, path: `${d.where.path}.connector.agent.adapter.${field}` })
      if (adapter.port !== undefined) claimPort(adapter.port, `the adapter of ${d.uuid}`, at('port'))
      origin.set(serviceName('adapter', d.uuid), { where: d.where, deploy: 'connector.agent.adapter.deploy' })
      services[serviceName('adapter', d.uuid)] = service(
        adapter.image,
        adapter.deploy,
        { 'io.openfactory.resource': `adapter ${d.uuid}`, 'io.openfactory.digest': digest(adapter, factory.dir) },
        { environment: environmentOf(adapter.environment) },
      )
    }
  }
  for (const a of factory.apps) {
    const spec = a.spec as AppConfig['spec'] & {
      image?: string
      environment?: readonly string[]
      routing?: { port?: number }
      deploy?: DeployConfig
    }
    const labels = { 'io.openfactory.resource': `app ${a.uuid}`, 'io.openfactory.digest': digest(spec, factory.dir) }
    const name = serviceName('app', a.uuid)
    if (appKindOf(a)) {
      // Our built-in apps (historian, alerts...): our image running `ofa run <uuid>`, replicas sharing a lease.
      origin.set(name, { where: a.where, deploy: 'deploy' })
      services[name] = service(opts.image, spec.deploy, labels, {
        command: ['run', a.uuid, '/factory', ...kafka],
        volumes: mount,
        environment: environmentOf(spec.environment),
      })
      continue
    }
    if (!spec.image) continue // a local process only (`command:`): ofa up runs it
    origin.set(name, { where: a.where, deploy: 'deploy' })
    const portAt = { ...a.where, path: `${a.where.path}.routing.port` }
    if (isServeImage(spec.image)) {
      const port = spec.routing?.port ?? 8080
      claimPort(port, `app ${a.uuid}`, portAt)
      // On every address of its node with factory.yaml `auth:` (or told `--insecure`); without, on 127.0.0.1 of
      // its node alone, as `ofa run` would refuse anything else (listening.ts).
      const open = factory.manifest.auth !== undefined || opts.serve?.insecure === true
      const tls = opts.serve?.tls === true
      services[name] = service(opts.image, spec.deploy, tls ? { ...labels, [SERVE_LABEL]: 'true' } : labels, {
        command: [
          'run',
          a.uuid,
          '/factory',
          ...kafka,
          ...(open && !factory.manifest.auth ? ['--insecure'] : []),
          ...(tls ? ['--tls-cert', SERVE_TLS_FILES.cert, '--tls-key', SERVE_TLS_FILES.key] : []),
          '--host',
          open ? '0.0.0.0' : '127.0.0.1',
          '--port',
          String(port),
        ],
        volumes: mount,
        healthcheck: {
          // Over HTTPS the certificate may name no address the container knows: the probe checks health, not trust.
          test: [
            'CMD',
            '/usr/bin/node',
            '-e',
            tls
              ? `require('node:https').get({host: '127.0.0.1', port: ${port}, path: '/healthz', rejectUnauthorized: false}, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`
              : `fetch('http://127.0.0.1:${port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
          ],
          interval: '5s',
          timeout: '3s',
          retries: 3,
          start_period: '20s',
        },
      })
    } else {
      if (spec.routing?.port !== undefined) claimPort(spec.routing.port, `app ${a.uuid}`, portAt)
      services[name] = service(spec.image, spec.deploy, labels, { environment: environmentOf(spec.environment) })
    }
  }
  // The factory's SQL and processors, when it has any: one service `workers` running `ofa run --workers` (two
  // replicas sharing a lease: one runs them, the other takes over). Its digest is over the statements and the
  // processor files alone, so a change of those restarts it alone and a device change leaves it running.
  if (factory.manifest.sql.length > 0 || factory.manifest.processors.length > 0) {
    origin.set('workers', { where: { file: factory.manifest.file ?? factory.dir }, deploy: 'deploy' })
    services.workers = service(
      opts.image,
      { replicas: 2 },
      {
        'io.openfactory.resource': 'workers',
        'io.openfactory.digest': digest(workersDefinition(factory), factory.dir),
      },
      { command: ['run', '--workers', '/factory', ...kafka], volumes: mount },
    )
  }
  checkPlacement(factory, services, origin)
  return { version: '3.8', services, networks: { hostnet: { external: true, name: 'host' } } }
}

/**
 * The `--kafka-*` flags of our services: none where the connection is PLAINTEXT and factory.yaml says so too (the
 * commands of a stack on a plain Kafka stay as they were).
 */
function securityArgs(factory: Factory, opts: StackOptions): string[] {
  const b = factory.manifest.backbone
  const named = b.type === 'kafka' ? b.security.protocol : 'PLAINTEXT'
  if (!opts.security || (opts.security.protocol === 'PLAINTEXT' && named === 'PLAINTEXT')) return []
  return kafkaSecurityArgs(opts.security, KAFKA_TLS_FILES)
}

/** `[NAME=value, ...]` as a map. */
function environmentOf(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of list ?? []) {
    const i = e.indexOf('=')
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1)
  }
  return out
}

/** The place of a service's placement constraints: its entry's file and line, the field's path. */
function placed(o: { where: Where; deploy: string } | undefined, dir: string): Where {
  if (!o) return { file: dir }
  return o.where.path ? { ...o.where, path: `${o.where.path}.${o.deploy}.placement.constraints` } : o.where
}

/** A constraint on `node.labels.<name>` that no node of the infrastructure file has is refused (when it has nodes). */
function checkPlacement(
  factory: Factory,
  services: Record<string, StackService>,
  origin: ReadonlyMap<string, { where: Where; deploy: string }>,
): void {
  const nodes = factory.infrastructure.nodes
  if (nodes.length === 0) return
  const labels = new Set(nodes.flatMap((n) => Object.entries(n.labels).map(([k, v]) => `${k}=${v}`)))
  const names = new Set(nodes.flatMap((n) => Object.keys(n.labels)))
  for (const [name, s] of Object.entries(services)) {
    for (const c of s.deploy.placement?.constraints ?? []) {
      const m = /^\s*node\.labels\.([^\s=!]+)\s*(==|!=)\s*(\S+)\s*$/.exec(c)
      if (!m) continue
      const [, label, op, value] = m as unknown as [string, string, string, string]
      if (op === '==' ? !labels.has(`${label}=${value}`) : !names.has(label)) {
        const where = placed(origin.get(name), factory.dir)
        throw new OpenFactoryError(
          'OFA_DEPLOY_PLACEMENT',
          `${where.path ? `${where.path}: ` : ''}service ${name}: no node of the infrastructure has ${op === '==' ? `label ${label}=${value}` : `a label ${label}`} (constraint "${c}")`,
          { where },
        )
      }
    }
  }
}
