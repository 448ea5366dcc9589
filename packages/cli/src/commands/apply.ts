/**
 * The Docker Swarm commands, one set of flags (`--bootstrap`, `--stack`, `--image`, `--state-dir`, `--docker-host`,
 * `--timeout`):
 *
 * - `ofa apply FACTORY-DIR --swarm`: deploys the folder's files as one stack, waits until every service is ready,
 *   and records the deployment on the factory's Kafka log (deploy/swarm.ts). The local runtime applies with `ofa up`.
 * - `ofa rollback FACTORY-DIR [--to SEQ | GIT-REF]`: deploys the files of an earlier deployment (kept with it on the
 *   log) or of a git commit of the folder, the same way; by default those of the last applied deployment whose files
 *   differ from the last one's.
 * - `ofa status FACTORY-DIR [--json]`: the stack as it runs against the folder's files: each service in sync,
 *   changed since deployed, declared but not running, or running but not declared (drift), and the last deployment.
 *   Exits 1 when anything differs (drift), 0 when the stack runs the files.
 *
 * - `ofa device up|down PATH`, `ofa apps up|down PATH`: the reference's commands, as deployments (upDownCommand).
 *
 * Kafka: `--bootstrap`, else factory.yaml's kafka backbone, or with `--own-kafka` the stack's own broker
 * (deploy/kafka-service.ts, image `ofa image build --kafka`), started and healthy before anything is recorded on it.
 * The embedded log is refused: the services are separate processes, maybe on several machines. The connection's
 * security (the `--kafka-*` flags and `OFA_KAFKA_*` variables over factory.yaml's: runtime/kafka-security.ts) is
 * the same for the deployments recorded here and for the services, which get it as flags and Docker secrets.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { parseArgs } from 'node:util'
import type { EventLog } from '@openfactory/log'
import { openKafkaLog } from '@openfactory/log-kafka'
import { type Factory, factoryNameOf, loadFactory, OpenFactoryError, withOfaenv } from '@openfactory/model'
import { type Deployment, type GitInfo, gitInfo, lastApplied, readDeployments } from '../deploy/deployments.ts'
import { type KafkaService, kafkaService } from '../deploy/kafka-service.ts'
import { planChanges } from '../deploy/plan.ts'
import { MAX_SNAPSHOT_FILES, type Snapshot, takeSnapshot, writeSnapshot } from '../deploy/snapshot.ts'
import { desiredState } from '../deploy/state.ts'
import {
  applyToSwarm,
  DIGEST_LABEL,
  runningServices,
  type SwarmTarget,
  stackOf,
  startStackKafka,
} from '../deploy/swarm.ts'
import { createDockerClient } from '../image/docker-client.ts'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { bootstrapFlag } from '../runtime/backbone.ts'
import {
  KAFKA_SECURITY_FLAGS,
  type KafkaSecurity,
  kafkaSecurity,
  refuseKafkaSecurityFlags,
} from '../runtime/kafka-security.ts'
import { usageError } from '../usage.ts'
import { defaultImage } from './stack.ts'

const FLAGS = {
  swarm: { type: 'boolean' },
  bootstrap: { type: 'string' },
  ...KAFKA_SECURITY_FLAGS,
  stack: { type: 'string' },
  image: { type: 'string' },
  'state-dir': { type: 'string' },
  'docker-host': { type: 'string' },
  timeout: { type: 'string' },
  uns: { type: 'string' },
  'own-kafka': { type: 'boolean' },
  'kafka-port': { type: 'string' },
  'kafka-image': { type: 'string' },
  to: { type: 'string' },
  json: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  insecure: { type: 'boolean' },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>['values']

function parse(command: string, args: readonly string[]): { values: Values; dir: string } {
  const { values, positionals } = parseArgs({ args: [...args], options: FLAGS, allowPositionals: true })
  if (positionals.length !== 1) throw usageError(`ofa ${command} needs one factory folder`)
  const allowed: Record<string, readonly string[]> = { apply: [], rollback: ['to'], status: ['json'] }
  for (const only of ['to', 'json'] as const) {
    if (values[only] !== undefined && !allowed[command]?.includes(only))
      throw usageError(`--${only} is not an option of ofa ${command}`)
  }
  return { values, dir: positionals[0] as string }
}

/** The folder's files loaded with the command's options. */
function loader(values: Values, io: CliIo): (dir: string) => Promise<Factory> {
  return (dir) =>
    loadFactory([dir], { ...(values.uns ? { uns: resolve(io.cwd, values.uns) } : {}), env: io.env, cwd: io.cwd })
}

/** The stack's own Kafka, with --own-kafka (port --kafka-port, default 9092; image --kafka-image). */
function ownKafka(values: Values): KafkaService | undefined {
  if (!values['own-kafka']) {
    if (values['kafka-port'] !== undefined || values['kafka-image'] !== undefined)
      throw usageError('--kafka-port and --kafka-image go with --own-kafka')
    return undefined
  }
  if (values.bootstrap !== undefined) throw usageError('--own-kafka and --bootstrap exclude each other')
  const port = values['kafka-port'] === undefined ? 9092 : Number(values['kafka-port'])
  return kafkaService({ port, ...(values['kafka-image'] ? { image: values['kafka-image'] } : {}) })
}

/** Kafka as this command and the services reach it. */
interface Connection {
  readonly bootstrapServers: string[]
  readonly security: KafkaSecurity
}

/**
 * Kafka as the services reach it: the stack's own (PLAINTEXT), --bootstrap, else the factory's kafka backbone, with
 * the security the flags, the variables and factory.yaml give; the embedded log is refused.
 */
function connectionOf(
  values: Values,
  io: CliIo,
  factory: Factory | undefined,
  kafka: KafkaService | undefined,
): Connection {
  if (kafka) {
    refuseKafkaSecurityFlags(values, "the stack's own Kafka (--own-kafka) is PLAINTEXT")
    return { bootstrapServers: [kafka.bootstrap], security: { protocol: 'PLAINTEXT' } }
  }
  const b = factory?.manifest.backbone
  const named = b?.type === 'kafka' ? b : undefined
  const security = () =>
    kafkaSecurity({ flags: values, env: io.env, cwd: io.cwd, ...(named ? { base: named.security } : {}) })
  if (values.bootstrap !== undefined) return { bootstrapServers: bootstrapFlag(values.bootstrap), security: security() }
  if (named) return { bootstrapServers: [...named.bootstrapServers], security: security() }
  throw new OpenFactoryError(
    'OFA_DEPLOY_BACKBONE',
    'a stack runs on Kafka: pass --bootstrap HOST:PORT, set backbone kafka in factory.yaml, or let the stack run ' +
      'its own with --own-kafka (after ofa image build --kafka); the embedded log belongs to one process, and the ' +
      'services of a stack are several, on one or several nodes',
    factory?.manifest.file ? { where: { file: factory.manifest.file } } : {},
  )
}

/** The stack's state folder: --state-dir, else `$XDG_STATE_HOME/openfactory/swarm/<stack>`. */
function stateDirOf(values: Values, io: CliIo, stack: string): string {
  if (values['state-dir']) return resolve(io.cwd, values['state-dir'])
  const base = io.env.XDG_STATE_HOME || join(io.env.HOME || homedir(), '.local', 'state')
  return join(base, 'openfactory', 'swarm', stack)
}

async function target(
  values: Values,
  io: CliIo,
  stack: string,
  connection: Connection,
  kafka: KafkaService | undefined,
): Promise<SwarmTarget> {
  const timeout = values.timeout === undefined ? 180 : Number(values.timeout)
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw usageError(`--timeout must be a number of seconds, got "${values.timeout}"`)
  const docker = createDockerClient({
    ...(values['docker-host'] ? { host: values['docker-host'] } : {}),
    env: { ...process.env, ...io.env },
    signal: io.signal,
  })
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    throw usageError('--tls-cert and --tls-key go together: the certificate of the serving app and its key')
  await docker.serverVersion()
  return {
    docker,
    stack,
    image: values.image ?? defaultImage(),
    ...connection,
    stateDir: stateDirOf(values, io, stack),
    timeoutMs: timeout * 1000,
    progress: (line) => io.stderr.write(`${line}\n`),
    ...(kafka ? { kafka } : {}),
    ...(values['tls-cert'] && values['tls-key']
      ? { serveTls: { cert: resolve(io.cwd, values['tls-cert']), key: resolve(io.cwd, values['tls-key']) } }
      : {}),
    ...(values.insecure ? { insecure: true } : {}),
  }
}

async function withLog<T>(connection: Connection, use: (log: EventLog) => Promise<T>): Promise<T> {
  const log = await openKafkaLog({ ...connection, clientId: 'ofa-apply' })
  try {
    return await use(log)
  } finally {
    await log.close()
  }
}

function applied(d: Deployment | undefined, services: number): string {
  return d
    ? `deployment ${d.seq}: +${d.summary.create} ~${d.summary.update} -${d.summary.delete}, ${services} service(s) ready\n`
    : `no change to the files since the last deployment; ${services} service(s) ready\n`
}

export async function applyCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, dir } = parse('apply', args)
  if (!values.swarm)
    throw usageError('ofa apply deploys to a Docker Swarm (--swarm); the local runtime applies with ofa up')
  return applyFolder(values, io, resolve(io.cwd, dir), 'ofa apply --swarm')
}

/** The files of `dir` deployed (without those `exclude` leaves out), recorded as deployed `by`. */
async function applyFolder(
  values: Values,
  io: CliIo,
  dir: string,
  by: string,
  exclude?: (path: string) => boolean,
): Promise<number> {
  const checked = await loader(values, io)(dir)
  const kafka = ownKafka(values)
  const connection = connectionOf(values, io, checked, kafka)
  const stack = values.stack ?? checked.manifest.name
  outsideFolder(stateDirOf(values, io, stack), dir)
  const t = await target(values, io, stack, connection, kafka)
  let factory = checked
  let snapshot: Snapshot | undefined
  if (exclude) {
    // The files without those left out, loaded from where the services will read them.
    snapshot = await takeSnapshot(dir, exclude)
    factory = await loader(values, io)(await writeSnapshot(snapshot, join(t.stateDir, 'snapshots')))
  }
  await startStackKafka(t)
  return withLog(connection, async (log) => {
    const git = snapshot ? gitInfo(dir) : undefined
    const result = await applyToSwarm({
      ...t,
      factory,
      env: await withOfaenv(io.cwd, io.env),
      ...(snapshot ? { snapshot } : {}),
      ...(git ? { git: { ...git, dirty: true } } : {}),
      log,
      by,
    })
    await writeOut(io.stdout, applied(result.deployment, result.services.length))
    return EXIT.ok
  })
}

/** The state folder must not be inside the factory folder: each snapshot would hold the ones before it. */
function outsideFolder(stateDir: string, dir: string): void {
  const rel = relative(dir, stateDir)
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw usageError(`--state-dir ${stateDir} is inside the factory folder ${dir}: put it elsewhere`)
  }
}

/** The factory folder of a path: the nearest folder holding a factory.yaml, from the path up; else its folder. */
function factoryFolderOf(path: string): string {
  const start = statSync(path, { throwIfNoEntry: false })?.isDirectory() ? path : dirname(path)
  for (let d = start; ; d = dirname(d)) {
    if (['factory.yaml', 'factory.yml'].some((f) => existsSync(join(d, f)))) return d
    if (dirname(d) === d) return start
  }
}

/**
 * The reference's `ofa device up|down PATH` and `ofa apps up|down PATH`, on our declarative deployments: PATH (a
 * file or a folder of the factory folder) is part of what runs or not. `up` deploys the factory folder as `ofa
 * apply` does (PATH with everything else in it); `down` deploys it without PATH's files — the deployment keeps the
 * files without them, so `ofa plan` and `ofa status` then show them as not deployed, and `up` puts them back.
 */
export async function upDownCommand(kind: 'device' | 'apps', args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  if (sub !== 'up' && sub !== 'down') throw usageError(`ofa ${kind} up PATH | ofa ${kind} down PATH`)
  const { values, dir: given } = parse('apply', rest)
  const path = resolve(io.cwd, given)
  if (!existsSync(path)) throw usageError(`${given}: no such file or folder`)
  const dir = factoryFolderOf(path)
  const rel = relative(dir, path).split(sep).join('/')
  const by = `ofa ${kind} ${sub} ${rel || '.'}`
  if (sub === 'up') return applyFolder(values, io, dir, by)
  if (rel === '') throw usageError(`ofa ${kind} down ${given}: that is the whole factory (docker stack rm removes it)`)
  return applyFolder(values, io, dir, by, (p) => p === rel || p.startsWith(`${rel}/`))
}

/** The files of a git ref of the folder, in a new temporary folder (removed by the caller). */
async function filesAtGitRef(dir: string, ref: string): Promise<{ folder: string; git: GitInfo }> {
  const git = (args: string[], encoding: 'utf8' | 'buffer' = 'utf8') =>
    execFileSync('git', ['-C', dir, ...args], {
      encoding,
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    })
  let commit: string
  try {
    // A ref is never an option of git's (`--to -x`).
    if (ref.startsWith('-')) throw new Error('not a ref')
    commit = (git(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`]) as string).trim()
  } catch {
    throw new OpenFactoryError('OFA_DEPLOY_ROLLBACK', `${ref} is neither a deployment number nor a git ref of ${dir}`)
  }
  const paths = (git(['ls-tree', '-r', '-z', '--name-only', commit, '--', '.']) as string).split('\0').filter(Boolean)
  if (paths.length > MAX_SNAPSHOT_FILES) {
    throw new OpenFactoryError('OFA_DEPLOY_TOO_LARGE', `${ref} holds more than ${MAX_SNAPSHOT_FILES} files`, {
      where: { file: dir },
    })
  }
  const folder = await mkdtemp(join(tmpdir(), 'ofa-rollback-'))
  for (const p of paths) {
    const full = join(folder, p)
    await mkdir(dirname(full), { recursive: true })
    await writeFile(full, git(['show', `${commit}:./${p}`], 'buffer') as Buffer)
  }
  const author = (git(['log', '-1', '--format=%an <%ae>', commit]) as string).trim()
  return { folder, git: { commit, author, dirty: false } }
}

/** The files a rollback deploys: those of deployment `--to N`, of a git ref, or of the last that differed. */
async function rollbackFiles(
  deployments: readonly Deployment[],
  to: string | undefined,
  dir: string,
): Promise<{ snapshot: Snapshot; label: string; git?: GitInfo }> {
  const refuse = (message: string) => new OpenFactoryError('OFA_DEPLOY_ROLLBACK', message)
  if (to !== undefined && !/^\d+$/.test(to)) {
    const { folder, git } = await filesAtGitRef(dir, to)
    try {
      return { snapshot: await takeSnapshot(folder), label: to, git }
    } finally {
      await rm(folder, { recursive: true, force: true })
    }
  }
  let d: Deployment | undefined
  if (to !== undefined) {
    d = deployments.find((x) => x.seq === Number(to))
    if (!d) throw refuse(`no deployment ${to} of this factory (ofa history lists them)`)
    if (d.outcome !== 'applied') throw refuse(`deployment ${to} ${d.outcome}: roll back to one that was applied`)
  } else {
    const last = lastApplied(deployments)
    if (!last) throw refuse('nothing applied yet: nothing to roll back')
    d = deployments.findLast(
      (x) => x.outcome === 'applied' && x.snapshot && x.snapshot.sha256 !== last.snapshot?.sha256,
    )
    if (!d) throw refuse(`no deployment before ${last.seq} with other files: nothing to roll back to`)
  }
  if (!d.snapshot) throw refuse(`deployment ${d.seq} (by ${d.by}) kept no files: roll back with --to GIT-REF`)
  return { snapshot: d.snapshot, label: String(d.seq), ...(d.git ? { git: d.git } : {}) }
}

export async function rollbackCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, dir: given } = parse('rollback', args)
  const dir = resolve(io.cwd, given)
  // The folder's files may be what is broken: only its name is read, then the older files are loaded.
  const current = await loader(values, io)(dir).catch(() => undefined)
  const name = current?.manifest.name ?? factoryNameOf(dir)
  const kafka = ownKafka(values)
  const connection = connectionOf(values, io, current, kafka)
  outsideFolder(stateDirOf(values, io, values.stack ?? name), dir)
  const t = await target(values, io, values.stack ?? name, connection, kafka)
  await startStackKafka(t)
  return withLog(connection, async (log) => {
    const { snapshot, label, git } = await rollbackFiles(await readDeployments(log, name), values.to, dir)
    const folder = await writeSnapshot(snapshot, join(t.stateDir, 'snapshots'))
    const factory = await loadFactory([folder], { env: io.env, cwd: io.cwd })
    if (factory.manifest.name !== name) {
      throw new OpenFactoryError(
        'OFA_DEPLOY_ROLLBACK',
        `the files of ${label} are those of factory ${factory.manifest.name}, not ${name}`,
      )
    }
    io.stderr.write(`rolling back to ${/^\d+$/.test(label) ? `deployment ${label}` : label}\n`)
    const result = await applyToSwarm({
      ...t,
      factory,
      env: await withOfaenv(io.cwd, io.env),
      snapshot,
      log,
      by: `ofa rollback --to ${label}`,
      ...(git ? { git } : {}),
    })
    await writeOut(io.stdout, applied(result.deployment, result.services.length))
    return EXIT.ok
  })
}

/** One service of `ofa status`. */
interface ServiceStatus {
  readonly service: string
  /** in-sync: runs what the files declare; changed: runs an older version of its resource; missing: declared, not
   * deployed; undeclared: deployed, no longer declared. */
  readonly state: 'in-sync' | 'changed' | 'missing' | 'undeclared'
  readonly resource?: string
  /** `running/desired` replicas. */
  readonly replicas?: string
}

const MARK = { 'in-sync': '=', changed: '~', missing: '+', undeclared: '-' } as const
const SAYS = {
  'in-sync': 'as the files declare',
  changed: 'runs an older version: the files changed it since (ofa apply)',
  missing: 'declared, not deployed (ofa apply)',
  undeclared: 'runs, no longer declared (ofa apply removes it)',
} as const

export async function statusCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, dir } = parse('status', args)
  const factory = await loader(values, io)(resolve(io.cwd, dir))
  const kafka = ownKafka(values)
  const connection = connectionOf(values, io, factory, kafka)
  const t = await target(values, io, values.stack ?? factory.manifest.name, connection, kafka)
  const declared = stackOf(factory, t)
  const running = new Map((await runningServices(t.docker, t.stack)).map((s) => [s.name, s]))
  const counts = await t.docker.run(['stack', 'services', t.stack, '--format', '{{.Name}} {{.Replicas}}'])
  const replicas = new Map(
    counts.stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter((p) => p.length >= 2)
      .map((p) => [p[0] as string, p[1] as string]),
  )
  const services: ServiceStatus[] = []
  for (const [short, s] of Object.entries(declared.services)) {
    const name = `${t.stack}_${short}`
    const now = running.get(name)
    const resource = s.deploy.labels['io.openfactory.resource']
    running.delete(name)
    services.push({
      service: name,
      state: !now ? 'missing' : now.digest === s.deploy.labels[DIGEST_LABEL] ? 'in-sync' : 'changed',
      ...(resource ? { resource } : {}),
      ...(replicas.has(name) ? { replicas: replicas.get(name) } : {}),
    })
  }
  for (const [name, s] of running) {
    services.push({
      service: name,
      state: 'undeclared',
      ...(s.resource ? { resource: s.resource } : {}),
      ...(replicas.has(name) ? { replicas: replicas.get(name) } : {}),
    })
  }
  const deployments = await withLog(connection, (log) => readDeployments(log, factory.manifest.name))
  const last = deployments.at(-1)
  const base = lastApplied(deployments)
  const plan = planChanges(desiredState(factory), base?.state ?? { resources: [] })
  const drift = services.some((s) => s.state !== 'in-sync') || plan.changes.length > 0
  if (values.json) {
    await writeOut(
      io.stdout,
      `${JSON.stringify({
        factory: factory.manifest.name,
        stack: t.stack,
        drift,
        lastDeployment: last ? { seq: last.seq, outcome: last.outcome, at: last.at, by: last.by } : null,
        lastApplied: base?.seq ?? null,
        pending: plan.summary,
        services,
      })}\n`,
    )
    return drift ? EXIT.failed : EXIT.ok
  }
  const lines = [
    `Stack ${t.stack} of factory ${factory.manifest.name}: ${drift ? 'differs from the files' : 'runs the files'}`,
    last
      ? `  last deployment ${last.seq} ${last.outcome} ${last.at} by ${last.by}${last.error ? `: ${last.error}` : ''}`
      : '  no deployment recorded',
    plan.changes.length > 0
      ? `  the files: ${plan.summary.create} to create, ${plan.summary.update} to update, ${plan.summary.delete} to delete since deployment ${base?.seq ?? '(none)'} (ofa plan)`
      : `  the files: as deployment ${base?.seq ?? '(none)'} applied them`,
    ...services.map((s) => `${MARK[s.state]} ${s.service.padEnd(40)} ${(s.replicas ?? '').padEnd(5)} ${SAYS[s.state]}`),
  ]
  await writeOut(io.stdout, `${lines.join('\n')}\n`)
  return drift ? EXIT.failed : EXIT.ok
}
