/**
 * `ofa apply --swarm`: the factory deployed to a Docker Swarm as one stack (stack.ts), health-gated and recorded.
 *
 * 1. Everything that can be refused is refused before anything changes: the files (loaded and checked), the stack
 *    (port clashes, impossible placements), our image missing from the engine.
 * 2. The deployment is recorded `started` on the log, the stack file written outside the factory folder and deployed
 *    (`docker stack deploy --prune --resolve-image never`: services no longer declared are removed; no registry is
 *    asked). Docker updates only the services whose spec changed — one per changed device (digest labels).
 * 3. Health gate: every service of the stack must reach all its replicas running — a task of a service with a
 *    healthcheck counts once healthy — within the timeout; an update Docker rolled back (a broken image) fails it.
 * 4. The deployment is recorded `applied`, or `failed` with the reason.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EventLog } from '@openfactory/log'
import { type Factory, OpenFactoryError } from '@openfactory/model'
import type { DockerClient } from '../image/docker-client.ts'
import { type Deployment, pendingDeployment, recordDeployment } from './deployments.ts'
import { generateStack } from './stack.ts'

export interface SwarmApplyOptions {
  readonly factory: Factory
  /** The factory's Kafka log (the deployments are recorded there). */
  readonly log: EventLog
  readonly bootstrapServers: readonly string[]
  readonly stack: string
  readonly image: string
  readonly docker: DockerClient
  readonly timeoutMs: number
  readonly progress: (line: string) => void
}

export interface SwarmApplyResult {
  /** The deployment recorded (none when the files matched the last one; the stack is deployed all the same). */
  readonly deployment?: Deployment
  readonly services: readonly string[]
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
  const stack = generateStack(o.factory, { image: o.image, bootstrapServers: o.bootstrapServers })
  const image = await o.docker.run(['image', 'inspect', '--format', '{{.Id}}', o.image])
  if (image.code !== 0) {
    throw new OpenFactoryError(
      'OFA_DEPLOY_IMAGE_MISSING',
      `image ${o.image} is not in the engine's image store (${o.docker.where}): build it with ofa image build`,
    )
  }
  const pending = await pendingDeployment(o.log, o.factory, 'ofa apply --swarm')
  const started = pending.next ? { ...pending.next, outcome: 'started' as const } : undefined
  if (started) await recordDeployment(o.log, started)
  const services = Object.keys(stack.services).map((s) => `${o.stack}_${s}`)
  const fail = async (message: string): Promise<never> => {
    if (started) await recordDeployment(o.log, { ...started, outcome: 'failed', error: message })
    throw new OpenFactoryError('OFA_DEPLOY_FAILED', message)
  }
  const before = await updateStatuses(o.docker, services)
  const dir = await mkdtemp(join(tmpdir(), 'ofa-stack-'))
  try {
    const file = join(dir, 'stack.json')
    await writeFile(file, JSON.stringify(stack, null, 2))
    o.progress(`deploying stack ${o.stack}: ${services.length} service(s)`)
    const deployed = await o.docker.run([
      'stack',
      'deploy',
      '--prune',
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
  // Health gate.
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
    if (ready) break
    const back = await rolledBack(o.docker, services, before)
    if (back.length > 0) await fail(`the update of ${back.join(', ')} failed and Docker rolled it back`)
    if (Date.now() > deadline) {
      const late = services.filter((s) => {
        const [running, desired] = now.get(s) ?? [0, -1]
        return running !== desired || desired < 0
      })
      await fail(`not every service ready within ${Math.round(o.timeoutMs / 1000)} s: ${late.join(', ')}`)
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  const back = await rolledBack(o.docker, services, before)
  if (back.length > 0) await fail(`the update of ${back.join(', ')} failed and Docker rolled it back`)
  let deployment: Deployment | undefined
  if (started) {
    deployment = { ...started, outcome: 'applied' }
    await recordDeployment(o.log, deployment)
  }
  o.progress(`stack ${o.stack}: every service ready`)
  return { ...(deployment ? { deployment } : {}), services }
}
