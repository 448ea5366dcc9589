/**
 * `ofa apply --swarm` and `ofa rollback`: a factory's files deployed to a Docker Swarm as one stack (stack.ts),
 * health-gated and recorded.
 *
 * 1. Everything that can be refused is refused before anything changes: the files (loaded and checked), the stack
 *    (port clashes, impossible placements), our image missing from the engine, a folder too large to keep.
 * 2. The deployment is recorded `started` on the log with a snapshot of the files (snapshot.ts); one an apply killed
 *    halfway left `started` is recorded `failed` (interrupted): this apply completes it.
 * 3. The services run the snapshot, not the folder: it is written once to `<state>/snapshots/<sha256>` and
 *    bind-mounted read-only at /factory. A service whose resource did not change (same digest label) keeps the
 *    snapshot it runs, so its spec is unchanged and Docker leaves it alone; the others get the new one. The folder
 *    can change (a checkout, an edit) under running services without touching them, and a rollback is the same
 *    deploy of older files. On several nodes, the state folder must be at one path on each (shared storage).
 * 4. `docker stack deploy --prune --resolve-image never`: services no longer declared are removed, no registry is
 *    asked, Docker updates the services whose spec changed (rolling, rolled back by Docker when the update fails).
 * 5. Health gate: every service must reach all its replicas running — a task of a service with a healthcheck
 *    counts once healthy — within the timeout; an update Docker rolled back (a broken image) fails it.
 * 6. The deployment is recorded `applied` (or `failed` with the reason), and snapshots no service of the stack
 *    runs or would roll back to are deleted.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EventLog } from '@openfactory/log'
import { type Env, type Factory, OpenFactoryError } from '@openfactory/model'
import type { DockerClient } from '../image/docker-client.ts'
import type { KafkaSecurity } from '../runtime/kafka-security.ts'
import { type Deployment, type GitInfo, pendingDeployment, recordDeployment } from './deployments.ts'
import type { KafkaService } from './kafka-service.ts'
import {
  builtinAppVariables,
  createSecrets,
  pruneSecrets,
  stackSecrets,
  withKafkaSecrets,
  withSecrets,
  withServeTlsSecrets,
} from './secrets.ts'
import { type Snapshot, snapshotFiles, takeSnapshot, writeSnapshot } from './snapshot.ts'
import { generateStack, type StackFile } from './stack.ts'

export const DIGEST_LABEL = 'io.openfactory.digest'
export const RESOURCE_LABEL = 'io.openfactory.resource'

/** Where and how a stack is deployed. */
export interface SwarmTarget {
  readonly docker: DockerClient
  readonly stack: string
  /** Our image: `openfactory/ofa:<version>`. */
  readonly image: string
  /** Kafka, as the services reach it. */
  readonly bootstrapServers: readonly string[]
  /** The connection's security: the services get it as flags and secrets (stack.ts, secrets.ts). */
  readonly security?: KafkaSecurity
  /** The stack's own folder: the snapshots its services run (`<state>/snapshots/<sha256>`). */
  readonly stateDir: string
  readonly timeoutMs: number
  readonly progress: (line: string) => void
  /** The stack's own Kafka (`--own-kafka`), when it runs one: `bootstrapServers` is then its address. */
  readonly kafka?: KafkaService
  /** The serving app's HTTPS certificate and key, files on this machine (`--tls-cert`, `--tls-key`): secrets. */
  readonly serveTls?: { readonly cert: string; readonly key: string }
  /** The serving app listens beyond loopback without authentication (`--insecure`). */
  readonly insecure?: boolean
}

/** The factory's stack, with the stack's own Kafka when it runs one. */
export function stackOf(factory: Factory, t: SwarmTarget, factoryPath?: string): StackFile {
  const stack = generateStack(factory, {
    image: t.image,
    bootstrapServers: t.bootstrapServers,
    ...(t.security ? { security: t.security } : {}),
    ...(factoryPath ? { factoryPath } : {}),
    serve: { tls: t.serveTls !== undefined, insecure: t.insecure === true },
  })
  if (!t.kafka) return stack
  return {
    ...stack,
    services: { [t.kafka.name]: t.kafka.service, ...stack.services },
    volumes: { ...stack.volumes, ...t.kafka.volumes },
  }
}

async function requireImage(docker: DockerClient, image: string, build: string): Promise<void> {
  const r = await docker.run(['image', 'inspect', '--format', '{{.Id}}', image])
  if (r.code !== 0) {
    throw new OpenFactoryError(
      'OFA_DEPLOY_IMAGE_MISSING',
      `image ${image} is not in the engine's image store (${docker.where}): build it with ${build}`,
    )
  }
}

/**
 * The stack's own Kafka started (or left as it runs) and healthy, before anything is recorded on it: deployed alone,
 * without --prune, so that the rest of the stack is untouched; `applyToSwarm` then deploys it with the rest,
 * unchanged.
 */
export async function startStackKafka(t: SwarmTarget): Promise<void> {
  const kafka = t.kafka
  if (!kafka) return
  await requireImage(t.docker, kafka.service.image, 'ofa image build --kafka')
  const name = `${t.stack}_${kafka.name}`
  const stackFile: StackFile = {
    version: '3.8',
    services: { [kafka.name]: kafka.service },
    networks: { hostnet: { external: true, name: 'host' } },
    volumes: kafka.volumes,
  }
  const fail = async (message: string): Promise<never> => {
    throw new OpenFactoryError('OFA_DEPLOY_FAILED', `the stack's Kafka: ${message}`)
  }
  const before = await updateStatuses(t.docker, [name])
  await deployStack(t, stackFile, 1, fail, false)
  await healthGate(t, [name], before, fail)
}

export interface SwarmApplyOptions extends SwarmTarget {
  /** The files deployed: loaded, checked and snapshotted (ofa apply), or already a snapshot (ofa rollback). */
  readonly factory: Factory
  /** The snapshot of `factory.dir`, when already taken. */
  readonly snapshot?: Snapshot
  /** The factory's Kafka log (the deployments are recorded there). */
  readonly log: EventLog
  /** What deploys: `ofa apply --swarm`, `ofa rollback --to 3`. */
  readonly by: string
  /** The commit deployed, when not the folder's (a rollback). */
  readonly git?: GitInfo
  /** The variables the files refer to (credentials), given to the services as Docker secrets (secrets.ts). */
  readonly env: Env
}

export interface SwarmApplyResult {
  /** The deployment recorded (none when the files matched the last one; the stack is deployed all the same). */
  readonly deployment?: Deployment
  readonly services: readonly string[]
}

/** A service of a stack as the engine has it: its digest label and the snapshots its spec and previous spec mount. */
export interface RunningService {
  readonly name: string
  readonly resource?: string
  readonly digest?: string
  /** Bind-mount sources of its spec. */
  readonly mounts: readonly string[]
  /** Bind-mount sources of its previous spec (what Docker rolls back to). */
  readonly previousMounts: readonly string[]
  readonly image: string
}

interface ServiceJson {
  Spec?: {
    Name?: string
    Labels?: Record<string, string>
    TaskTemplate?: { ContainerSpec?: { Image?: string; Mounts?: { Source?: string }[] } }
  }
  PreviousSpec?: { TaskTemplate?: { ContainerSpec?: { Mounts?: { Source?: string }[] } } }
}

/** The services of a stack (none when it is not deployed). */
export async function runningServices(docker: DockerClient, stack: string): Promise<RunningService[]> {
  const ids = await docker.run(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])
  const list = ids.stdout.split('\n').filter((l) => l.trim() !== '')
  if (ids.code !== 0 || list.length === 0) return []
  const r = await docker.run(['service', 'inspect', ...list])
  if (r.code !== 0) throw new OpenFactoryError('OFA_DEPLOY_FAILED', `docker service inspect failed: ${r.stderr.trim()}`)
  const sources = (m: { Source?: string }[] | undefined) => (m ?? []).flatMap((x) => (x.Source ? [x.Source] : []))
  return (JSON.parse(r.stdout) as ServiceJson[]).map((s) => {
    const labels = s.Spec?.Labels ?? {}
    return {
      name: s.Spec?.Name ?? '',
      ...(labels[RESOURCE_LABEL] ? { resource: labels[RESOURCE_LABEL] } : {}),
      ...(labels[DIGEST_LABEL] ? { digest: labels[DIGEST_LABEL] } : {}),
      mounts: sources(s.Spec?.TaskTemplate?.ContainerSpec?.Mounts),
      previousMounts: sources(s.PreviousSpec?.TaskTemplate?.ContainerSpec?.Mounts),
      image: s.Spec?.TaskTemplate?.ContainerSpec?.Image ?? '',
    }
  })
}

/** Each service whose resource did not change keeps the snapshot it runs (so that its spec does not change). */
function keepUnchanged(stackFile: StackFile, stack: string, running: readonly RunningService[]): StackFile {
  const byName = new Map(running.map((r) => [r.name, r]))
  const services = Object.fromEntries(
    Object.entries(stackFile.services).map(([name, s]) => {
      const now = byName.get(`${stack}_${name}`)
      const source = now?.mounts.find((m) => m.startsWith('/'))
      if (!s.volumes || !now || now.digest !== s.deploy.labels[DIGEST_LABEL] || source === undefined) return [name, s]
      // The factory's bind mount only (a named volume, Kafka's data, stays as declared).
      return [name, { ...s, volumes: s.volumes.map((v) => (v.type === 'bind' ? { ...v, source } : v)) }]
    }),
  )
  return { ...stackFile, services }
}

/** `name replicas` of each service of a stack: `running/desired`. */
async function replicas(docker: DockerClient, stack: string): Promise<Map<string, [number, number]>> {
  const r = await docker.run(['stack', 'services', stack, '--format', '{{.Name}} {{.Replicas}}'])
  const out = new Map<string, [number, number]>()
  if (r.code !== 0) return out
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) (\d+)\/(\d+)/.exec(line.trim())
    if (m) out.set(m[1] as string, [Number(m[2]), Number(m[3])])
  }
  return out
}

/** Each service's last update: its state and when it started (`rollback_completed 2026-...`), '' when none. */
async function updateStatuses(docker: DockerClient, services: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const s of services) {
    const r = await docker.run([
      'service',
      'inspect',
      s,
      '--format',
      '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.StartedAt}}{{end}}',
    ])
    out.set(s, r.code === 0 ? r.stdout.trim() : '')
  }
  return out
}

/** The services whose update during this apply Docker rolled back (their new spec failed). */
async function rolledBack(
  docker: DockerClient,
  services: readonly string[],
  before: ReadonlyMap<string, string>,
): Promise<string[]> {
  const now = await updateStatuses(docker, services)
  return services.filter((s) => {
    const status = now.get(s) ?? ''
    return status !== (before.get(s) ?? '') && /^rollback/.test(status)
  })
}

export async function applyToSwarm(o: SwarmApplyOptions): Promise<SwarmApplyResult> {
  const snapshots = join(o.stateDir, 'snapshots')
  const snapshot = o.snapshot ?? (await takeSnapshot(o.factory.dir))
  const folder = join(snapshots, snapshot.sha256)
  // Refusals first (port clashes, placements): generating the stack checks them.
  const planned = stackOf(o.factory, o, folder)
  await requireImage(o.docker, o.image, 'ofa image build')
  // Read before anything is recorded: a Kafka password or PEM file that cannot be read is refused here.
  const secrets = withServeTlsSecrets(
    o.stack,
    withKafkaSecrets(
      o.stack,
      stackSecrets(o.stack, snapshotFiles(snapshot), o.env, builtinAppVariables(o.factory)),
      o.security,
    ),
    o.serveTls,
  )
  const pending = await pendingDeployment(o.log, o.factory, o.by, { snapshot, ...(o.git ? { git: o.git } : {}) })
  const started = pending.next ? { ...pending.next, outcome: 'started' as const } : undefined
  if (started) await recordDeployment(o.log, started)
  for (const d of pending.deployments.filter((x) => x.outcome === 'started')) {
    o.progress(`deployment ${d.seq} was interrupted; this one completes it`)
    await recordDeployment(o.log, {
      ...d,
      outcome: 'failed',
      error: `interrupted before it finished; ${started ? `deployment ${started.seq}` : 'a later apply'} completed it`,
    })
  }
  const services = Object.keys(planned.services).map((s) => `${o.stack}_${s}`)
  const fail = async (message: string): Promise<never> => {
    if (started) await recordDeployment(o.log, { ...started, outcome: 'failed', error: message })
    throw new OpenFactoryError('OFA_DEPLOY_FAILED', message)
  }
  try {
    await mkdir(snapshots, { recursive: true })
    await writeSnapshot(snapshot, snapshots)
    await createSecrets(o.docker, o.stack, secrets)
    const stackFile = withSecrets(
      keepUnchanged(planned, o.stack, await runningServices(o.docker, o.stack)),
      secrets,
      o.image,
    )
    const before = await updateStatuses(o.docker, services)
    await deployStack(o, stackFile, services.length, fail)
    await healthGate(o, services, before, fail)
  } catch (err) {
    if (err instanceof OpenFactoryError && err.code === 'OFA_DEPLOY_FAILED') throw err
    return fail(err instanceof Error ? err.message : String(err))
  }
  let deployment: Deployment | undefined
  if (started) {
    deployment = { ...started, outcome: 'applied' }
    await recordDeployment(o.log, deployment)
  }
  o.progress(`stack ${o.stack}: every service ready`)
  await pruneSnapshots(o.docker, o.stack, snapshots, folder).catch((err: Error) =>
    o.progress(`old snapshots not deleted: ${err.message}`),
  )
  await pruneSecrets(o.docker, o.stack, secrets)
  return { ...(deployment ? { deployment } : {}), services }
}

async function deployStack(
  o: SwarmTarget,
  stackFile: StackFile,
  count: number,
  fail: (message: string) => Promise<never>,
  prune = true,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-stack-'))
  try {
    const file = join(dir, 'stack.json')
    await writeFile(file, JSON.stringify(stackFile, null, 2))
    o.progress(`deploying stack ${o.stack}: ${count} service(s)`)
    const deployed = await o.docker.run([
      'stack',
      'deploy',
      ...(prune ? ['--prune'] : []),
      '--resolve-image',
      'never',
      '--compose-file',
      file,
      o.stack,
    ])
    if (deployed.code !== 0)
      await fail(`docker stack deploy failed: ${deployed.stderr.trim() || deployed.stdout.trim()}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Every service with all its replicas running (healthy), no update under way, none rolled back; else fails. */
async function healthGate(
  o: SwarmTarget,
  services: readonly string[],
  before: ReadonlyMap<string, string>,
  fail: (message: string) => Promise<never>,
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs
  const said = new Map<string, string>()
  for (;;) {
    const now = await replicas(o.docker, o.stack)
    const statuses = await updateStatuses(o.docker, services)
    let ready = true
    for (const s of services) {
      // An update under way (its old task may still be counted as running) is not ready yet.
      if (/^(updating|rollback_started|paused|rollback_paused)\b/.test(statuses.get(s) ?? '')) ready = false
      const [running, desired] = now.get(s) ?? [0, -1]
      const text = `${running}/${desired < 0 ? '?' : desired}`
      if (said.get(s) !== text) {
        said.set(s, text)
        o.progress(`  ${s} ${text}`)
      }
      if (desired < 0 || running !== desired) ready = false
    }
    const back = await rolledBack(o.docker, services, before)
    if (back.length > 0) await fail(`the update of ${back.join(', ')} failed and Docker rolled it back`)
    if (ready) return
    if (Date.now() > deadline) {
      const late = services.filter((s) => {
        const [running, desired] = now.get(s) ?? [0, -1]
        return running !== desired || desired < 0
      })
      await fail(`not every service ready within ${Math.round(o.timeoutMs / 1000)} s: ${late.join(', ')}`)
    }
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** Deletes the snapshots no service of the stack mounts, now or in the spec Docker would roll back to. */
async function pruneSnapshots(docker: DockerClient, stack: string, root: string, current: string): Promise<void> {
  const used = new Set([current])
  for (const s of await runningServices(docker, stack)) for (const m of [...s.mounts, ...s.previousMounts]) used.add(m)
  for (const name of await readdir(root)) {
    const p = join(root, name)
    if (!used.has(p) && /^[0-9a-f]{64}$/.test(name)) await rm(p, { recursive: true, force: true })
  }
}
