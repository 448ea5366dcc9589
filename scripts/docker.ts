// A private Docker Engine for tests and development, in swarm mode: installs Debian's docker.io when `dockerd` is
// missing, runs `dockerd` in its own process group with its own socket, data root and exec root under
// .cache/docker/run (so that a system docker, if any, is never touched), and makes it a single-node swarm manager.
// Run it through `scripts/docker` (which picks the project's Node 24):
//
//   scripts/docker start [--json]    install docker.io if needed, start dockerd, `docker swarm init`; a no-op if it runs
//   scripts/docker status [--json]   whether it runs, its socket, its swarm state
//   scripts/docker stop [--clean]    leave the swarm, remove containers, stop dockerd; --clean also deletes its data
//   scripts/docker env               print `export OFA_DOCKER_HOST=unix://...` (tests pass it as DOCKER_HOST)
//   scripts/docker install           only install Debian's docker.io when dockerd is missing
//
// dockerd runs as DESIGN.md §6 says it works on these machines: no iptables rules, no bridge (containers and swarm
// services use the host network), the vfs storage driver (it works on any file system, at the price of a full copy
// of an image's files per container). Its containers go under the cgroup parent `ofa-dockerd` and containerd's
// namespace `ofa`, so that stop() can find what is left of them. State file, log, socket, data root and exec root
// live in .cache/docker/run/ (the exec root and the socket in /tmp/ofa-dockerd-<hash> when the repository's path
// is too long for a unix socket); .cache/ is ignored by git.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { withLock } from './lock-file.ts'
import { runState } from './run-state.ts'
import { log, runScript, UsageError } from './script-cli.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'docker')
const RUN = path.join(CACHE, 'run')
const NAME = 'dockerd'
const DIR = path.join(RUN, NAME)
/** A unix socket path holds at most 107 bytes; containerd's sockets go 40 bytes below the exec root. */
const SHORT = DIR.length > 60 ? `/tmp/ofa-dockerd-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}` : DIR
const EXEC_ROOT = path.join(SHORT, 'exec')
const CGROUP_PARENT = 'ofa-dockerd'
/** The programs of an engine: a process of one of these whose command line names our directories is ours. */
const ENGINE_PROGRAMS = new Set([
  'dockerd',
  'containerd',
  'containerd-shim',
  'containerd-shim-runc-v2',
  'docker-proxy',
  'runc',
])
/** The environment variable the tests read (they pass its value to docker as DOCKER_HOST). */
export const ENV_VAR = 'OFA_DOCKER_HOST'

/** What `status --json` prints, and what `state.json` holds. */
export interface DaemonState {
  readonly name: string
  /** `unix:///.../docker.sock`: give it to docker as DOCKER_HOST or `-H`. */
  readonly host: string
  readonly socket: string
  readonly dataRoot: string
  readonly execRoot: string
  readonly log: string
  /** dockerd, leader of its own process group (pgid = pid). */
  pid: number | null
  /** The engine's version, as `docker version` reports it (once started). */
  version: string | null
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

const states = runState<DaemonState>(RUN)

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command without blocking the event loop (servers start concurrently in scripts/test.ts). */
function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

async function runOrThrow(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/**
 * Installs Debian's docker.io (dockerd, the docker client, containerd, runc) when `dockerd` or `docker` is missing:
 * `apt-get update`, then `apt-get install`, holding a lock so that concurrent test processes install it once.
 * Returns the seconds it took, or 0 when nothing was missing.
 */
export async function install(): Promise<number> {
  if (which('dockerd') && which('docker')) return 0
  return withLock(CACHE, 'install', async () => {
    if (which('dockerd') && which('docker')) return 0
    if (!which('apt-get')) throw new Error('dockerd is missing and there is no apt-get to install docker.io with')
    const started = Date.now()
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    log('$ apt-get update')
    await runOrThrow('apt-get', ['update', '-q'], { env })
    log('$ apt-get install -y docker.io')
    // Another apt-get (another script's install) may hold dpkg's lock for a while: wait for it.
    const wait = ['-o', 'DPkg::Lock::Timeout=300']
    await runOrThrow('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...wait, 'docker.io'], { env })
    if (!which('dockerd')) throw new Error('apt-get installed docker.io, yet dockerd is not on PATH')
    log(`docker.io installed in ${seconds(started)}`)
    return (Date.now() - started) / 1000
  })
}

/** True when `pid` is our dockerd (not a recycled pid, not another engine). */
function isOurDockerd(pid: number | null): boolean {
  if (!pid) return false
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return (
      path.basename(argv[0] ?? '') === 'dockerd' && argv.includes(`--exec-root=${EXEC_ROOT}`) && !/\) Z /.test(stat)
    )
  } catch {
    return false
  }
}

/** The environment docker commands run with: our daemon, and no context or TLS settings of the user's. */
export function dockerEnv(state: Pick<DaemonState, 'host'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: state.host }
  for (const k of ['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_TLS']) delete env[k]
  return env
}

function docker(state: DaemonState, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('docker', args, { env: dockerEnv(state), timeoutMs })
}

/** GET /_ping on the socket: the engine answers `OK` once its API serves. */
function ping(socket: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
  })
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

async function waitReady(state: DaemonState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!isOurDockerd(state.pid)) throw new Error(`dockerd exited; last lines of ${state.log}:\n${tail(state.log)}`)
    if (await ping(state.socket)) return
    if (Date.now() > deadline) throw new Error(`dockerd not ready after ${timeoutMs / 1000} s; see ${state.log}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** `docker info`'s swarm state of this node: inactive, pending, active, error or locked. */
async function swarmState(state: DaemonState): Promise<string> {
  const r = await docker(state, ['info', '--format', '{{.Swarm.LocalNodeState}}'])
  if (r.code !== 0) throw new Error(`docker info failed: ${r.stderr}`)
  return r.stdout.trim()
}

/** `port` if it is free on 127.0.0.1 (0: a port the system picks), else undefined. */
function listenPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(undefined))
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address ? address.port : undefined
      server.close(() => resolve(bound))
    })
  })
}

/** Makes the engine a single-node swarm manager (an existing swarm is kept) and waits until its node is Ready. */
async function ensureSwarm(state: DaemonState, timeoutMs = 60_000): Promise<void> {
  let now = await swarmState(state)
  if (now !== 'active') {
    if (now !== 'inactive') await docker(state, ['swarm', 'leave', '--force'])
    const started = Date.now()
    // The swarm's management port: 2377 when free, else a free one (another checkout's dockerd may hold 2377).
    const port = (await listenPort(2377)) ?? (await listenPort(0))
    const r = await docker(state, [
      'swarm',
      'init',
      '--advertise-addr',
      `127.0.0.1:${port}`,
      '--listen-addr',
      `127.0.0.1:${port}`,
    ])
    if (r.code !== 0 && !/already part of a swarm/.test(r.stderr)) {
      throw new Error(`docker swarm init failed (exit ${r.code}): ${r.stderr.trim()}`)
    }
    now = await swarmState(state)
    log(`docker swarm init: ${now} in ${seconds(started)}`)
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const r = await docker(state, ['node', 'ls', '--format', '{{.Status}} {{.ManagerStatus}}'])
    if (r.code === 0 && /^Ready Leader$/m.test(r.stdout)) return
    if (Date.now() > deadline) throw new Error(`the swarm's node is not Ready: ${r.stdout}${r.stderr}`)
    await new Promise((res) => setTimeout(res, 200))
  }
}

export interface StartOptions {
  readonly timeoutMs?: number
}

/**
 * Installs docker.io if needed, starts dockerd (a no-op when it runs) and makes it a single-node swarm. Resolves
 * once the engine answers and its node is a Ready leader.
 */
export function start(opts: StartOptions = {}): Promise<DaemonState> {
  return withLock(RUN, NAME, () => startLocked(opts))
}

async function startLocked(opts: StartOptions): Promise<DaemonState> {
  await install()
  const previous = states.read(NAME)
  if (previous && isOurDockerd(previous.pid) && (await ping(previous.socket))) {
    await ensureSwarm(previous)
    return previous
  }
  // Whatever a dockerd that died left behind (containers, shims, mounts, a pid file) goes first.
  await cleanUp(false)
  const execRoot = EXEC_ROOT
  const socket = path.join(SHORT, 'docker.sock')
  const state: DaemonState = {
    name: NAME,
    host: `unix://${socket}`,
    socket,
    dataRoot: path.join(DIR, 'data'),
    execRoot,
    log: path.join(DIR, 'dockerd.log'),
    pid: null,
    version: null,
  }
  for (const dir of [DIR, state.dataRoot, execRoot]) fs.mkdirSync(dir, { recursive: true })
  const out = fs.openSync(state.log, 'a')
  const args = [
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--storage-driver=vfs',
    `--data-root=${state.dataRoot}`,
    `--exec-root=${execRoot}`,
    `--pidfile=${path.join(execRoot, 'dockerd.pid')}`,
    `--host=${state.host}`,
    `--cgroup-parent=${CGROUP_PARENT}`,
    '--containerd-namespace=ofa',
    '--containerd-plugins-namespace=ofa-plugins',
  ]
  const started = Date.now()
  // Its own process group (detached), so that stop() ends dockerd and what it started with one kill(-pgid).
  const child = spawn('dockerd', args, { detached: true, stdio: ['ignore', out, out] })
  fs.closeSync(out)
  child.unref()
  state.pid = child.pid ?? null
  states.write(state)
  await waitReady(state, opts.timeoutMs ?? 60_000)
  const version = await docker(state, ['version', '--format', '{{.Server.Version}}'])
  state.version = version.code === 0 ? version.stdout.trim() : null
  states.write(state)
  log(`dockerd ${state.version ?? '?'}: ${state.host} ready in ${seconds(started)}`)
  await ensureSwarm(state)
  return state
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Processes that belong to our engine: those naming its directories (containerd, its shims), and its containers'. */
function strays(): number[] {
  const found: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      const program = path.basename(cmdline.split('\0')[0] ?? '')
      const names = cmdline.includes(SHORT) || cmdline.includes(DIR)
      const cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      if ((names && ENGINE_PROGRAMS.has(program)) || cgroup.includes(`/${CGROUP_PARENT}/`)) found.push(pid)
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** Mount points under our directories (container shm, network namespaces), deepest first. */
function mountsUnder(): string[] {
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => decode(line.split(' ')[4] ?? ''))
  return points.filter((p) => p.startsWith(`${DIR}/`) || p.startsWith(`${SHORT}/`)).sort((a, b) => b.length - a.length)
}

/**
 * Ends what is left of an engine that is not answering (kill -9 of its processes, lazy unmounts) and removes
 * its runtime files; `clean` deletes its data root too.
 */
async function cleanUp(clean: boolean): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = strays()
    if (pids.length === 0) break
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  for (const point of mountsUnder()) spawnSync('umount', ['-l', point], { stdio: 'ignore' })
  fs.rmSync(EXEC_ROOT, { recursive: true, force: true })
  fs.rmSync(path.join(SHORT, 'docker.sock'), { force: true })
  if (SHORT !== DIR) fs.rmSync(SHORT, { recursive: true, force: true })
  if (clean) fs.rmSync(DIR, { recursive: true, force: true })
}

/**
 * Leaves the swarm (its services and their containers go), removes the containers left, stops dockerd's process
 * group (SIGTERM, SIGKILL after `graceMs`) and what it started; `clean` deletes its data (images, swarm state) too,
 * so that the next start begins from nothing.
 */
export function stop(clean = false, graceMs = 20_000): Promise<void> {
  return withLock(RUN, NAME, () => stopLocked(clean, graceMs))
}

async function stopLocked(clean: boolean, graceMs: number): Promise<void> {
  const state = states.read(NAME)
  if (!state) {
    if (clean) await cleanUp(true)
    return
  }
  const started = Date.now()
  const pid = state.pid
  if (pid && isOurDockerd(pid) && (await ping(state.socket))) {
    await docker(state, ['swarm', 'leave', '--force'], 30_000)
    const ids = (await docker(state, ['ps', '-aq'])).stdout.split('\n').filter(Boolean)
    if (ids.length > 0) await docker(state, ['rm', '-f', ...ids], 60_000)
  }
  if (pid && isOurDockerd(pid)) {
    const group = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal)
      } catch {
        // the group is gone already
      }
    }
    group('SIGTERM')
    const deadline = Date.now() + graceMs
    while (isOurDockerd(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    if (isOurDockerd(pid)) group('SIGKILL')
    while (alive(pid) && isOurDockerd(pid)) await new Promise((r) => setTimeout(r, 50))
  }
  await cleanUp(clean)
  if (!clean) {
    state.pid = null
    states.write(state)
  }
  log(`dockerd: stopped in ${seconds(started)}${clean ? ', data deleted' : ''}`)
}

/** The environment variable the tests read: OFA_DOCKER_HOST=unix:///.../docker.sock. */
export function envFor(state: DaemonState): Record<string, string> {
  return { [ENV_VAR]: state.host }
}

export async function status(): Promise<(DaemonState & { running: boolean; swarm: string | null }) | undefined> {
  const state = states.read(NAME)
  if (!state) return undefined
  const running = isOurDockerd(state.pid) && (await ping(state.socket))
  const swarm = running ? await swarmState(state).catch(() => null) : null
  return { ...state, running, swarm }
}

function describe(s: DaemonState & { running: boolean; swarm: string | null }): string {
  return [
    `dockerd ${s.version ?? ''}: ${s.running ? `running, pid ${s.pid}, swarm ${s.swarm}` : 'stopped'}`,
    `  DOCKER_HOST=${s.host}`,
    `  data root ${s.dataRoot}, exec root ${s.execRoot}`,
    `  log ${s.log}`,
  ].join('\n')
}

const USAGE = `usage:
  scripts/docker start [--json]     install docker.io if dockerd is missing, start dockerd, docker swarm init
  scripts/docker status [--json]
  scripts/docker stop [--clean]     leave the swarm, stop dockerd; --clean deletes images and swarm state too
  scripts/docker env                (export line for the tests: eval "$(scripts/docker env)")
  scripts/docker install            only install Debian's docker.io when dockerd is missing
One engine per repository: its socket is printed by start and status (use it as DOCKER_HOST).`

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv
  const flags = new Set<string>()
  for (const a of rest) {
    if (!['--json', '--clean'].includes(a)) throw new UsageError(`unexpected argument ${a}`)
    flags.add(a.slice(2))
  }
  switch (cmd) {
    case 'start': {
      const state = await start()
      const s = await status()
      process.stdout.write(flags.has('json') ? `${JSON.stringify(state)}\n` : `${describe(s!)}\n`)
      return 0
    }
    case 'status': {
      const s = await status()
      if (flags.has('json')) process.stdout.write(`${JSON.stringify(s ?? null)}\n`)
      else process.stdout.write(s ? `${describe(s)}\n` : 'no dockerd\n')
      return s?.running ? 0 : 1
    }
    case 'stop':
      await stop(flags.has('clean'))
      return 0
    case 'env': {
      const s = await status()
      if (!s?.running) throw new UsageError('dockerd does not run; start it first')
      for (const [k, v] of Object.entries(envFor(s))) process.stdout.write(`export ${k}='${v}'\n`)
      return 0
    }
    case 'install':
      await install()
      return 0
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`)
      return 0
    default:
      throw new UsageError(`unknown command ${cmd}`)
  }
}

if (import.meta.main) runScript('scripts/docker', USAGE, main)
