// Deploying to a Docker Swarm: `ofa apply` beside Docker alone, and a connector's failover beside Docker replacing a
// service's task, on the single-node swarm of scripts/docker and the Kafka of scripts/kafka (cluster `bench`), each
// started here unless it already runs, then stopped.
//
//   npx node bench/swarm-deploy.ts [--rounds 2]
//
// Cases, each `--rounds` times, ours and the anchor alternating; the image is built once before any timer starts.
// - deploy the demo factory (5 services: 3 devices, the serving app, 2 workers): `ofa apply --swarm` as a user runs it
//   (a process: load and check the files, snapshot them, record the deployment, `docker stack deploy`, wait until
//   every service is ready), on a new stack each round. Anchor: `docker stack deploy` of the same stack file (what
//   `ofa stack` prints) and polling `docker stack services` every 500 ms until every service has its replicas —
//   Docker alone, with nothing checked or recorded.
// - one device changed: `ofa apply` after a device file's `interval_ms` changed, until every service is ready (Docker
//   updates that service alone). Anchor: `docker service update --force` of that service (Docker restarts its task
//   and waits until it runs).
// - failover: a device service of two replicas; the container holding the device's session is killed (`docker
//   kill`); ours: from the kill to the other replica's log line `lease taken` (the time in that line). Anchor: `docker
//   service update --force` of a one-replica service (what Docker takes to replace a task).
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { status as dockerStatus, start as startDocker, stop as stopDocker } from '../scripts/docker.ts'
import { benchKafka } from './lib/kafka-bench.ts'
import { medianOf } from './lib/stats.ts'

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '2' } } })
const ROUNDS = Number(args.rounds)
const ROOT = path.resolve(import.meta.dirname, '..')
const RUN = randomBytes(3).toString('hex')
const IMAGE = `ofa-bench/ofa:${RUN}`

const dockerWasRunning = (await dockerStatus())?.running ?? false
const engine = await startDocker()
const env = { ...process.env, DOCKER_HOST: engine.host }
const kafka = await benchKafka('Docker Swarm: ofa apply and failover', `the demo factory; ${ROUNDS} rounds`)
const work = mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-swarm-'))

function sh(cmd: string, argv: string[]): string {
  const r = spawnSync(cmd, argv, { env, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status}\n${r.stderr}${r.stdout}`)
  return r.stdout
}
const docker = (...a: string[]) => sh('docker', a)
const ofa = (...a: string[]) => sh(process.execPath, [path.join(ROOT, 'packages/cli/bin/ofa.js'), ...a])
const seconds = (t0: number) => (performance.now() - t0) / 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitReady(stack: string, services: number): Promise<void> {
  for (;;) {
    const lines = docker('stack', 'services', stack, '--format', '{{.Replicas}}').trim().split('\n').filter(Boolean)
    const ready = lines.filter((l) => {
      const m = /^(\d+)\/(\d+)/.exec(l)
      return m && m[1] === m[2]
    })
    if (lines.length === services && ready.length === services) return
    await sleep(500)
  }
}

async function removeStack(stack: string): Promise<void> {
  spawnSync('docker', ['stack', 'rm', stack], { env })
  while (docker('ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`).trim() !== '') await sleep(500)
}

/** A copy of the demo factory named `name` (its own deployments on the log). */
function demo(name: string): string {
  const dir = path.join(work, name)
  cpSync(path.join(ROOT, 'examples/demo-factory'), dir, { recursive: true })
  const manifest = path.join(dir, 'factory.yaml')
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(/^name: .*$/m, `name: ${name}`))
  return dir
}

const swarmFlags = (stack: string) => [
  '--bootstrap',
  kafka.bootstrap,
  '--stack',
  stack,
  '--image',
  IMAGE,
  '--state-dir',
  path.join(work, `state-${stack}`),
]

const rows: { case: string; ours: number[]; anchor: number[]; anchorName: string }[] = [
  { case: 'deploy the demo factory (5 services)', ours: [], anchor: [], anchorName: 'docker stack deploy + wait' },
  { case: 'one device changed', ours: [], anchor: [], anchorName: 'docker service update --force' },
  { case: 'failover of a killed connector', ours: [], anchor: [], anchorName: 'docker service update --force' },
]

try {
  ofa('image', 'build', '--tag', IMAGE)
  for (let round = 0; round < ROUNDS; round++) {
    // Deploy.
    const name = `bench-${RUN}-${round}`
    const dir = demo(name)
    let t0 = performance.now()
    ofa('apply', dir, '--swarm', ...swarmFlags(name))
    rows[0]?.ours.push(seconds(t0))
    // One device changed.
    const file = path.join(dir, 'devices/cnc-simulated.yml')
    writeFileSync(file, readFileSync(file, 'utf8').replace(/interval_ms: \d+/, 'interval_ms: 750'))
    t0 = performance.now()
    ofa('apply', dir, '--swarm', ...swarmFlags(name))
    rows[1]?.ours.push(seconds(t0))
    t0 = performance.now()
    docker('service', 'update', '--force', '--quiet', `${name}_device-demo-cnc-sim-001`)
    rows[1]?.anchor.push(seconds(t0))
    // Failover: the simulated machine with two replicas.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^( {4}uuid: .*)$/m, '$1\n    deploy: { replicas: 2 }'))
    ofa('apply', dir, '--swarm', ...swarmFlags(name))
    const service = `${name}_device-demo-cnc-sim-001`
    const containers = () =>
      docker('ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`).trim().split('\n')
    const takenAt = (id: string): number | undefined => {
      const r = spawnSync('docker', ['logs', id], { env, encoding: 'utf8' })
      const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('lease taken'))
      const last = lines.at(-1)
      return last ? Date.parse((JSON.parse(last) as { time: string }).time) : undefined
    }
    let holder: string | undefined
    while (!holder) {
      const ids = containers()
      holder = ids.length === 2 ? ids.find((id) => takenAt(id) !== undefined) : undefined
      if (!holder) await sleep(200)
    }
    const other = containers().find((id) => id !== holder) as string
    const killedAt = Date.now()
    docker('kill', holder)
    let taken: number | undefined
    while (taken === undefined) {
      taken = takenAt(other)
      if (taken === undefined) await sleep(200)
    }
    rows[2]?.ours.push((taken - killedAt) / 1000)
    writeFileSync(file, readFileSync(file, 'utf8').replace('    deploy: { replicas: 2 }\n', ''))
    ofa('apply', dir, '--swarm', ...swarmFlags(name))
    t0 = performance.now()
    docker('service', 'update', '--force', '--quiet', service)
    rows[2]?.anchor.push(seconds(t0))
    await removeStack(name)
    // The anchor of the deploy: Docker alone, the same stack file, a new stack.
    const stackFile = path.join(work, `${name}-stack.json`)
    writeFileSync(
      stackFile,
      ofa('stack', dir, '--bootstrap', kafka.bootstrap, '--image', IMAGE, '--factory-path', path.join(work, name)),
    )
    const anchorStack = `${name}-docker`
    t0 = performance.now()
    docker('stack', 'deploy', '--resolve-image', 'never', '--compose-file', stackFile, anchorStack)
    await waitReady(anchorStack, 5)
    rows[0]?.anchor.push(seconds(t0))
    await removeStack(anchorStack)
  }
  console.log('\n| case | ours (s, median) | anchor (s, median) | ours/anchor |')
  console.log('|---|---:|---:|---:|')
  for (const r of rows) {
    const ours = medianOf(r.ours)
    const anchor = medianOf(r.anchor)
    console.log(
      `| ${r.case} | ${ours.toFixed(1)} (${r.ours.map((x) => x.toFixed(1)).join(', ')}) | ${anchor.toFixed(1)} (${r.anchor.map((x) => x.toFixed(1)).join(', ')}; ${r.anchorName}) | ${(ours / anchor).toFixed(2)}× |`,
    )
  }
} finally {
  spawnSync('docker', ['image', 'rm', IMAGE], { env })
  rmSync(work, { recursive: true, force: true })
  await kafka.close()
  if (!dockerWasRunning) await stopDocker(true)
}
