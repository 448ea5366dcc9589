/**
 * `ofa nodes ls|up|down`: the Docker Swarm nodes a factory runs on, against the reference's infrastructure file
 * (`nodes: {managers: {...}, workers: {...}}`, each with its `ip` and `labels`). A declared node is the swarm node
 * whose address (`Status.Addr`, or its manager address) is its `ip`.
 *
 * - `ls`: every node of the swarm: name, role, availability, state, address, labels (and `--json`).
 * - `up PATH`: each declared node in the swarm is made as declared: its labels set (other labels kept), active, and
 *   promoted or demoted to its role. A declared node not in the swarm cannot be joined from here (joining runs on
 *   that machine): the command prints the `docker swarm join` line to run there, and exits 1.
 * - `down PATH`: each declared node in the swarm is drained (its tasks move to other nodes) and loses the labels the
 *   file gave it; then, on that machine, `docker swarm leave`. Draining the last active node would stop every service:
 *   refused (`OFA_DEPLOY_NODE`) before anything changes.
 *
 * The reference runs these steps on each machine over SSH; we change only what the manager's engine can change, and
 * say what is left to run where.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadFactory, type NodeConfig, OpenFactoryError } from '@openfactory/model'
import { createDockerClient, type DockerClient } from '../image/docker-client.ts'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { usageError } from '../usage.ts'

interface SwarmNode {
  readonly id: string
  readonly hostname: string
  readonly role: 'manager' | 'worker'
  readonly availability: string
  readonly state: string
  readonly addresses: readonly string[]
  /** A manager's address for joining, `ip:port`. */
  readonly managerAddr?: string
  readonly labels: Readonly<Record<string, string>>
  readonly self: boolean
}

interface NodeJson {
  ID: string
  Description?: { Hostname?: string }
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> }
  Status?: { State?: string; Addr?: string }
  ManagerStatus?: { Addr?: string }
}

async function check(docker: DockerClient, args: string[]): Promise<string> {
  const r = await docker.run(args)
  if (r.code !== 0) {
    throw new OpenFactoryError('OFA_DEPLOY_NODE', `docker ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout}`)
  }
  return r.stdout
}

async function swarmNodes(docker: DockerClient): Promise<SwarmNode[]> {
  const ids = (await check(docker, ['node', 'ls', '-q'])).split('\n').filter((l) => l.trim() !== '')
  const self = (await check(docker, ['info', '--format', '{{.Swarm.NodeID}}'])).trim()
  const nodes = JSON.parse(await check(docker, ['node', 'inspect', ...ids])) as NodeJson[]
  return nodes.map((n) => ({
    id: n.ID,
    hostname: n.Description?.Hostname ?? '',
    role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
    availability: n.Spec?.Availability ?? '',
    state: n.Status?.State ?? '',
    addresses: [n.Status?.Addr, n.ManagerStatus?.Addr?.replace(/:\d+$/, '')].filter((a): a is string => !!a),
    ...(n.ManagerStatus?.Addr ? { managerAddr: n.ManagerStatus.Addr } : {}),
    labels: n.Spec?.Labels ?? {},
    self: n.ID === self,
  }))
}

function docker(values: { 'docker-host'?: string | undefined }, io: CliIo): DockerClient {
  return createDockerClient({
    ...(values['docker-host'] ? { host: values['docker-host'] } : {}),
    env: { ...process.env, ...io.env },
    signal: io.signal,
  })
}

const labelsText = (l: Readonly<Record<string, string>>) =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-'

export async function nodesCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    options: { 'docker-host': { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
  })
  const engine = docker(values, io)
  if (sub === 'ls') {
    if (positionals.length > 0) throw usageError('ofa nodes ls takes no path')
    const nodes = await swarmNodes(engine)
    if (values.json) {
      await writeOut(io.stdout, `${JSON.stringify({ nodes })}\n`)
      return EXIT.ok
    }
    const lines = nodes.map(
      (n) =>
        `${n.self ? '*' : ' '} ${n.hostname.padEnd(20)} ${n.role.padEnd(8)} ${n.availability.padEnd(7)} ${n.state.padEnd(8)} ${(n.addresses[0] ?? '-').padEnd(16)} ${labelsText(n.labels)}`,
    )
    await writeOut(io.stdout, `${lines.join('\n')}\n`)
    return EXIT.ok
  }
  if (sub !== 'up' && sub !== 'down') throw usageError('ofa nodes ls | up PATH | down PATH')
  if (positionals.length !== 1) throw usageError(`ofa nodes ${sub} needs an infrastructure file or a factory folder`)
  if (values.json) throw usageError(`--json is not an option of ofa nodes ${sub}`)
  const path = resolve(io.cwd, positionals[0] as string)
  const declared = (await loadFactory([path], { env: io.env, cwd: io.cwd })).infrastructure.nodes
  if (declared.length === 0) {
    throw new OpenFactoryError('OFA_DEPLOY_NODE', `${path} declares no node (nodes: {managers, workers})`, {
      where: { file: path },
    })
  }
  const nodes = await swarmNodes(engine)
  const match = (d: NodeConfig) => nodes.find((n) => n.addresses.includes(d.ip))
  const out: string[] = []
  if (sub === 'down') {
    const leaving = new Set(declared.flatMap((d) => match(d)?.id ?? []))
    const left = nodes.filter((n) => !leaving.has(n.id) && n.availability === 'active')
    if (leaving.size > 0 && left.length === 0) {
      throw new OpenFactoryError(
        'OFA_DEPLOY_NODE',
        `draining ${[...leaving].length} node(s) would leave no active node: every service would stop (nothing changed)`,
        { where: { file: path } },
      )
    }
    for (const d of declared) {
      const n = match(d)
      if (!n) {
        out.push(`${d.name} (${d.ip}): not in the swarm`)
        continue
      }
      const remove = Object.keys(d.labels).filter((k) => k in n.labels)
      await check(engine, [
        'node',
        'update',
        '--availability',
        'drain',
        ...remove.flatMap((k) => ['--label-rm', k]),
        n.id,
      ])
      out.push(
        `${d.name} (${d.ip}): drained${remove.length ? `, labels removed: ${remove.join(', ')}` : ''}; then on ${d.ip}: docker swarm leave`,
      )
    }
    await writeOut(io.stdout, `${out.join('\n')}\n`)
    return EXIT.ok
  }
  let missing = 0
  const self = nodes.find((n) => n.self)
  for (const d of declared) {
    const n = match(d)
    if (!n) {
      missing++
      const token = (await check(engine, ['swarm', 'join-token', '-q', d.role])).trim()
      const manager = self?.managerAddr ?? '<manager address>:2377'
      out.push(`${d.name} (${d.ip}): not in the swarm; on ${d.ip} run: docker swarm join --token ${token} ${manager}`)
      continue
    }
    if (n.role !== d.role) {
      await check(engine, ['node', d.role === 'manager' ? 'promote' : 'demote', n.id])
      out.push(`${d.name} (${d.ip}): ${d.role === 'manager' ? 'promoted' : 'demoted'} to ${d.role}`)
    }
    const add = Object.entries(d.labels).filter(([k, v]) => n.labels[k] !== v)
    if (add.length > 0 || n.availability !== 'active') {
      await check(engine, [
        'node',
        'update',
        '--availability',
        'active',
        ...add.flatMap(([k, v]) => ['--label-add', `${k}=${v}`]),
        n.id,
      ])
    }
    out.push(`${d.name} (${d.ip}): ${n.hostname}, ${d.role}, active, labels ${labelsText(d.labels)}`)
  }
  await writeOut(io.stdout, `${out.join('\n')}\n`)
  return missing > 0 ? EXIT.failed : EXIT.ok
}
