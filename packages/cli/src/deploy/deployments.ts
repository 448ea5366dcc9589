/**
 * Deployments, recorded on the log: each time a factory's files are put to work (`ofa up` starting with files that
 * differ from the last deployment), a record on the compacted topic `ofa_deployments` says what was deployed — the
 * whole state (state.ts), the plan from the one before, the git commit and author when the folder is in a git
 * repository, when, by what, and the outcome. Keyed `<factory>/<seq>` (seq zero-padded), so compaction keeps every
 * deployment (the last record of each: `started`, then `applied` or `failed`). `ofa plan` diffs the files against
 * the last applied one; `ofa history` lists them.
 */
import { execFileSync } from 'node:child_process'
import { type EventLog, readTopic } from '@openfactory/log'
import type { Factory } from '@openfactory/model'
import { openAuditLog } from '@openfactory/serve'
import { cliActor } from '../actor.ts'
import { type Plan, planChanges } from './plan.ts'
import type { Snapshot } from './snapshot.ts'
import { desiredState, type FactoryState } from './state.ts'

export const DEPLOYMENTS_TOPIC = 'ofa_deployments'

export interface GitInfo {
  readonly commit: string
  readonly author: string
  /** Files changed since that commit (the deployment is not exactly the commit). */
  readonly dirty: boolean
}

export interface Deployment {
  readonly factory: string
  readonly seq: number
  /** ISO-8601. */
  readonly at: string
  /** What deployed it: `ofa up`, `ofa apply`... */
  readonly by: string
  readonly git?: GitInfo
  readonly outcome: 'started' | 'applied' | 'failed'
  readonly error?: string
  readonly summary: Plan['summary']
  readonly plan: Plan
  readonly state: FactoryState
  /** The files deployed (`ofa apply --swarm`, `ofa rollback`): what a rollback puts back. */
  readonly snapshot?: Snapshot
}

const keyOf = (factory: string, seq: number) => `${factory}/${String(seq).padStart(8, '0')}`

/** A factory's deployments in order (the last record of each), none when the topic does not exist yet. */
export async function readDeployments(log: EventLog, factory: string): Promise<Deployment[]> {
  const latest = new Map<string, Deployment>()
  for (const r of await readTopic(log, DEPLOYMENTS_TOPIC)) {
    const key = r.key?.toString('utf8') ?? ''
    if (!key.startsWith(`${factory}/`)) continue
    if (r.value === null) {
      latest.delete(key)
      continue
    }
    try {
      latest.set(key, JSON.parse(r.value.toString('utf8')) as Deployment)
    } catch {
      // Not ours (written by hand): skipped, as every reader of a shared topic does.
    }
  }
  return [...latest.values()].sort((a, b) => a.seq - b.seq)
}

/** The state of the last deployment applied (empty when none was). */
export function lastApplied(deployments: readonly Deployment[]): Deployment | undefined {
  return deployments.filter((d) => d.outcome === 'applied').at(-1)
}

/** Appends a deployment record (creating the topic, compacted, when missing). */
export async function recordDeployment(log: EventLog, d: Deployment): Promise<void> {
  if (!(await log.listTopics()).includes(DEPLOYMENTS_TOPIC)) {
    await log.createTopic({ name: DEPLOYMENTS_TOPIC, partitions: 1, cleanupPolicy: 'compact' })
  }
  await log.append(DEPLOYMENTS_TOPIC, [{ key: keyOf(d.factory, d.seq), value: JSON.stringify(d) }])
  // Each outcome is on the audit trail too, with who deployed (packages/serve/src/auth/audit.ts).
  await openAuditLog(log).record({
    who: cliActor(),
    kind: 'deployment',
    action: d.by,
    target: `${d.factory}/${d.seq}`,
    outcome: d.error ? `${d.outcome}: ${d.error}` : d.outcome,
  })
}

/** The folder's git commit and author, when it is in a git repository (and git is installed). */
export function gitInfo(dir: string): GitInfo | undefined {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })
  try {
    const commit = git('rev-parse', 'HEAD').trim()
    const author = git('log', '-1', '--format=%an <%ae>').trim()
    const dirty = git('status', '--porcelain', '--', '.').trim() !== ''
    return { commit, author, dirty }
  } catch {
    return undefined
  }
}

/**
 * What the files would change against the last applied deployment of their factory on this log: the plan, and the
 * record to append once it is applied (none when nothing changed).
 */
export async function pendingDeployment(
  log: EventLog,
  factory: Factory,
  by: string,
  opts: { readonly snapshot?: Snapshot; readonly git?: GitInfo } = {},
): Promise<{ plan: Plan; deployments: Deployment[]; next?: Deployment }> {
  const name = factory.manifest.name
  const deployments = await readDeployments(log, name)
  const state = desiredState(factory)
  const last = lastApplied(deployments)
  const plan = planChanges(state, last?.state ?? { resources: [] })
  // Files that change nothing a plan shows (a comment, a README) still make a deployment when they are kept.
  const sameFiles = !opts.snapshot || last?.snapshot?.sha256 === opts.snapshot.sha256
  if (plan.changes.length === 0 && sameFiles) return { plan, deployments }
  const git = opts.git ?? gitInfo(factory.dir)
  const next: Deployment = {
    factory: name,
    seq: (deployments.at(-1)?.seq ?? 0) + 1,
    at: new Date().toISOString(),
    by,
    ...(git ? { git } : {}),
    outcome: 'applied',
    summary: plan.summary,
    plan,
    state,
    ...(opts.snapshot ? { snapshot: opts.snapshot } : {}),
  }
  return { plan, deployments, next }
}
