/**
 * `ofa plan FACTORY-DIR [--json]`: what the factory's files would change against the last deployment recorded on
 * its log (deploy/deployments.ts) — every topic, asset, connector, SQL statement, processor and app created,
 * updated (each field that changed) or deleted. `ofa history FACTORY-DIR [--json]`: the deployments recorded.
 * Both read the log only: the embedded log is opened read-only, so they work beside the `ofa up` that owns it.
 * `--data`, `--backbone`, `--bootstrap`, the `--kafka-*` security flags and `--uns` as for `ofa up`.
 */
import { parseArgs } from 'node:util'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { openKafkaLog } from '@openfactory/log-kafka'
import { type BackboneOptions, isOpenFactoryError, silentLogger } from '@openfactory/model'
import { type Deployment, lastApplied, readDeployments } from '../deploy/deployments.ts'
import { formatPlan, planChanges } from '../deploy/plan.ts'
import { generateStack } from '../deploy/stack.ts'
import { desiredState } from '../deploy/state.ts'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { KAFKA_SECURITY_FLAGS } from '../runtime/kafka-security.ts'
import { prepare } from '../runtime/prepare.ts'
import { usageError } from '../usage.ts'
import { runtimeOptions } from './backbone-flags.ts'
import { defaultImage } from './stack.ts'

const FLAGS = {
  backbone: { type: 'string' },
  bootstrap: { type: 'string' },
  ...KAFKA_SECURITY_FLAGS,
  data: { type: 'string' },
  uns: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** The factory's log, for reading: none yet (an embedded data directory never created) is no deployment. */
async function openForReading(backbone: BackboneOptions): Promise<EventLog | undefined> {
  if (backbone.type === 'kafka') return openKafkaLog(backbone)
  try {
    return await openEmbeddedLog({ dir: backbone.dataDir as string, readOnly: true })
  } catch (err) {
    if (isOpenFactoryError(err, 'OFA_LOG_NOT_FOUND')) return undefined
    throw err
  }
}

async function load(command: string, args: readonly string[], io: CliIo) {
  const { values, positionals } = parseArgs({ args: [...args], options: FLAGS, allowPositionals: true })
  if (positionals.length === 0) throw usageError(`ofa ${command} needs a factory folder`)
  const { factory, backbone } = await prepare({
    paths: positionals,
    ...runtimeOptions(values),
    env: io.env,
    cwd: io.cwd,
    logger: silentLogger,
  })
  const log = await openForReading(backbone)
  try {
    const deployments = log ? await readDeployments(log, factory.manifest.name) : []
    return { factory, deployments, json: values.json === true }
  } finally {
    await log?.close()
  }
}

export async function planCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { factory, deployments, json } = await load('plan', args, io)
  // What could not be deployed is refused here, before anything changes: two services on one host port, a placement
  // on a node label no node has (the checks of the stack ofa apply --swarm would deploy).
  generateStack(factory, { image: defaultImage(), bootstrapServers: ['127.0.0.1:9092'] })
  const last = lastApplied(deployments)
  const plan = planChanges(desiredState(factory), last?.state ?? { resources: [] })
  if (json) {
    await writeOut(
      io.stdout,
      `${JSON.stringify({ factory: factory.manifest.name, against: last?.seq ?? null, ...plan })}\n`,
    )
    return EXIT.ok
  }
  const against = last
    ? `deployment ${last.seq} of ${last.at}${last.git ? ` (${last.git.commit.slice(0, 12)})` : ''}`
    : 'nothing deployed yet'
  await writeOut(io.stdout, `Factory ${factory.manifest.name}, against ${against}:\n${formatPlan(plan)}`)
  return EXIT.ok
}

function historyLine(d: Deployment): string {
  const s = d.summary
  const git = d.git ? ` ${d.git.commit.slice(0, 12)}${d.git.dirty ? '+changes' : ''} ${d.git.author}` : ''
  return `${String(d.seq).padStart(4)}  ${d.at}  ${d.outcome.padEnd(7)}  +${s.create} ~${s.update} -${s.delete}  by ${d.by}${git}${d.error ? `  ${d.error}` : ''}`
}

export async function historyCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { factory, deployments, json } = await load('history', args, io)
  if (json) {
    const list = deployments.map(({ state: _state, plan: _plan, snapshot: _files, ...d }) => d)
    await writeOut(io.stdout, `${JSON.stringify({ factory: factory.manifest.name, deployments: list })}\n`)
    return EXIT.ok
  }
  if (deployments.length === 0) {
    await writeOut(io.stdout, `Factory ${factory.manifest.name}: no deployment recorded yet.\n`)
    return EXIT.ok
  }
  await writeOut(
    io.stdout,
    `Factory ${factory.manifest.name}: ${deployments.length} deployment(s)\n${deployments.map(historyLine).join('\n')}\n`,
  )
  return EXIT.ok
}
