// PostgreSQL servers for tests: Debian's `postgresql`, a database we did not write, so that the historian
// (@openfactory/historian) is checked against the real thing (and Debian's psql as an independent client). Installs
// the Debian package once when `initdb` / `postgres` are missing, and runs named clusters on 127.0.0.1, each made by
// initdb in its own folder, started by pg_ctl (the postmaster leads its own session, hence its own process group).
// Run it through `scripts/postgres` (which picks the project's Node 24):
//
//   scripts/postgres start [--name N] [--port P] [--json]   start a cluster (initdb at the first start), wait for it
//   scripts/postgres restart [--name N]                     stop it (fast shutdown) and start it again, same port
//   scripts/postgres status [--name N] [--json]             list clusters, running or not
//   scripts/postgres stop [--name N] [--clean]              stop one cluster (default: all); --clean deletes its data
//   scripts/postgres env [--name N]                         print the OFA_PG_* variables tests read
//   scripts/postgres install                                only install Debian's postgresql
//
// PostgreSQL refuses to run as root: as root, the cluster's folder belongs to the `postgres` system user that the
// Debian package creates, and initdb / pg_ctl run as that user (`runuser -u postgres --`); as another user they run
// as that user. Each cluster has a superuser `postgres` (peer and trust on its Unix socket only, in the cluster's
// folder) and a login `ofa` with a password and CREATEDB (scram-sha-256 over TCP), which tests use: each test makes a
// database of its own. State (pid, port, log, data/) lives in .cache/postgres/run/<name>/; .cache/ is ignored by git.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { liveArgv, pickFreePort } from './local-ports.ts'
import { withLock } from './lock-file.ts'
import { runState } from './run-state.ts'
import { log, runScript, UsageError } from './script-cli.ts'

const HOST = '127.0.0.1'
const ROOT = path.resolve(import.meta.dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'postgres')
const RUN = path.join(CACHE, 'run')
/** The login tests use, and its password (a test server on loopback: not a secret). */
export const TEST_USER = 'ofa'
export const TEST_PASSWORD = 'ofa-test-password'

export interface ClusterState {
  readonly name: string
  readonly host: string
  readonly port: number
  /** The folder of the server's binaries (`/usr/lib/postgresql/15/bin`). */
  readonly bin: string
  readonly data: string
  /** The folder of the Unix socket (the cluster's folder). */
  readonly socketDir: string
  readonly log: string
  /** `postgres://ofa@127.0.0.1:<port>/ofa`: no password in it; it is in `password`. */
  readonly url: string
  readonly user: string
  readonly password: string
  /** The postmaster (leader of its own session and process group). */
  pid: number | null
}

const states = runState<ClusterState>(RUN)

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

/** The newest Debian server binaries folder holding initdb, pg_ctl and postgres. */
function serverBin(): string | undefined {
  const base = '/usr/lib/postgresql'
  let versions: string[] = []
  try {
    versions = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))
  } catch {}
  for (const v of versions) {
    const bin = path.join(base, v, 'bin')
    if (['initdb', 'pg_ctl', 'postgres'].every((f) => fs.existsSync(path.join(bin, f)))) return bin
  }
  return undefined
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

function runOrThrow(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${out}`)),
    )
    child.stdin.end(opts.input ?? '')
  })
}

/** Installs Debian's postgresql when its server binaries are missing (holding a lock: concurrent tests install once). */
export async function install(): Promise<string> {
  const found = serverBin()
  if (found && which('psql')) return found
  return withLock(CACHE, 'install', async () => {
    const again = serverBin()
    if (again && which('psql')) return again
    if (!which('apt-get')) throw new Error('postgresql is missing and there is no apt-get to install it with')
    const started = Date.now()
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    log('$ apt-get update')
    await runOrThrow('apt-get', ['update', '-q'], { env })
    log('$ apt-get install -y postgresql')
    await runOrThrow(
      'apt-get',
      ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'postgresql'],
      { env },
    )
    const bin = serverBin()
    if (!bin || !which('psql')) throw new Error('apt-get installed postgresql, yet initdb, postgres or psql is missing')
    log(`postgresql installed in ${seconds(started)}`)
    return bin
  })
}

const asRoot = process.getuid?.() === 0

/** Runs a server binary as the cluster's owner: the `postgres` system user when we are root, else ourselves. */
function asOwner(cmd: string, args: string[], input?: string): Promise<string> {
  return asRoot
    ? runOrThrow('runuser', ['-u', 'postgres', '--', cmd, ...args], input === undefined ? {} : { input })
    : runOrThrow(cmd, args, input === undefined ? {} : { input })
}

function chownToOwner(p: string): void {
  if (!asRoot) return
  const r = spawnSync('chown', ['-R', 'postgres:postgres', p])
  if (r.status !== 0) throw new Error(`chown postgres ${p} failed: ${r.stderr}`)
}

/** The postmaster's pid from its pid file, when that process is alive and not a zombie. */
function postmasterPid(data: string): number | null {
  let pid: number
  try {
    pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  } catch {
    return null
  }
  if (!Number.isInteger(pid) || pid <= 0) return null
  return liveArgv(pid)?.includes(data) ? pid : null
}

/** A free port from 15440 upwards, not recorded by another cluster (5432 stays free for a user's own server). */
function pickPort(): Promise<number> {
  const taken = new Set(states.names().map((n) => states.read(n)?.port))
  return pickFreePort(HOST, 15440, taken, 'a PostgreSQL cluster')
}

/** Runs SQL as the superuser over the cluster's Unix socket with psql (stops at the first error). */
export function adminSql(state: ClusterState, sql: string, db = 'postgres'): Promise<string> {
  return asOwner(
    'psql',
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', state.socketDir, '-p', String(state.port), '-U', 'postgres', '-d', db],
    sql,
  )
}

async function pgCtl(state: ClusterState, action: 'start' | 'stop'): Promise<void> {
  const bin = path.join(state.bin, 'pg_ctl')
  if (action === 'stop') {
    await asOwner(bin, ['stop', '-D', state.data, '-m', 'fast', '-w', '-t', '60'])
    return
  }
  const opts = [
    `-p ${state.port}`,
    `-k ${state.socketDir}`,
    `-c listen_addresses=${HOST}`,
    // A test server: durability across an OS crash is not what tests check, speed is welcome.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ')
  await asOwner(bin, ['start', '-D', state.data, '-l', state.log, '-w', '-t', '60', '-o', opts])
}

export interface StartOptions {
  readonly name?: string
  /** A port of our choosing; default: the one the cluster had, else a free one from 15440. */
  readonly port?: number
}

/** Starts (or finds running) the cluster `name` — initdb at its first start — and waits until it accepts logins. */
export async function start(opts: StartOptions = {}): Promise<ClusterState> {
  const name = opts.name ?? 'test'
  const bin = await install()
  return withLock(RUN, name, async () => {
    const old = states.read(name)
    if (old && postmasterPid(old.data) !== null) {
      if (opts.port === undefined || opts.port === old.port) return { ...old, pid: postmasterPid(old.data) }
      throw new UsageError(`postgres ${name} runs on another port: stop it first`)
    }
    const started = Date.now()
    const dir = path.join(RUN, name)
    fs.mkdirSync(dir, { recursive: true })
    const data = path.join(dir, 'data')
    const port = opts.port ?? old?.port ?? (await pickPort())
    const state: ClusterState = {
      name,
      host: HOST,
      port,
      bin,
      data,
      socketDir: dir,
      log: path.join(dir, 'postgres.log'),
      url: `postgres://${TEST_USER}@${HOST}:${port}/${TEST_USER}`,
      user: TEST_USER,
      password: TEST_PASSWORD,
      pid: null,
    }
    const fresh = !fs.existsSync(path.join(data, 'PG_VERSION'))
    if (fresh) {
      fs.rmSync(data, { recursive: true, force: true })
      chownToOwner(dir)
      await asOwner(path.join(bin, 'initdb'), [
        '-D',
        data,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ])
    }
    chownToOwner(dir)
    await pgCtl(state, 'start')
    state.pid = postmasterPid(data)
    states.write(state)
    if (fresh) {
      const pw = TEST_PASSWORD.replace(/'/g, "''")
      await adminSql(
        state,
        `CREATE ROLE ${TEST_USER} LOGIN CREATEDB PASSWORD '${pw}';\nCREATE DATABASE ${TEST_USER} OWNER ${TEST_USER};\n`,
      )
    }
    log(`postgres ${name}: ${HOST}:${port} ready in ${seconds(started)}`)
    return state
  })
}

/** Stops the cluster `name` (fast shutdown: sessions end, what was committed stays); `clean` deletes its folder. */
export async function stop(name: string, clean = false): Promise<void> {
  const state = states.read(name)
  if (!state) return
  await withLock(RUN, name, async () => {
    if (postmasterPid(state.data) !== null) {
      try {
        await pgCtl(state, 'stop')
      } catch (err) {
        const pid = postmasterPid(state.data)
        if (pid === null) return
        process.kill(-pid, 'SIGKILL')
        log(`postgres ${name}: pg_ctl stop failed, killed: ${(err as Error).message}`)
      }
    }
    states.write({ ...state, pid: null })
  })
  if (clean) fs.rmSync(path.join(RUN, name), { recursive: true, force: true })
}

/** Stops the cluster and starts it again on the same port (what a database restart under load looks like). */
export async function restart(name: string): Promise<ClusterState> {
  await stop(name)
  return start({ name })
}

export function status(): (ClusterState & { running: boolean })[] {
  return states.names().flatMap((n) => {
    const s = states.read(n)
    return s ? [{ ...s, running: postmasterPid(s.data) !== null }] : []
  })
}

/**
 * The variables tests read: OFA_PG_URL (no password in it), OFA_PG_PASSWORD, OFA_PG_BIN (the server's binaries) and
 * OFA_PG_NAME for the cluster `test`; OFA_PG_<NAME>_* for others.
 */
export function envFor(state: ClusterState): Record<string, string> {
  const prefix = state.name === 'test' ? 'OFA_PG' : `OFA_PG_${state.name.toUpperCase().replace(/\W/g, '_')}`
  return {
    [`${prefix}_URL`]: state.url,
    [`${prefix}_PASSWORD`]: state.password,
    [`${prefix}_BIN`]: state.bin,
    [`${prefix}_NAME`]: state.name,
  }
}

const USAGE = `usage: scripts/postgres start [--name N] [--port P] [--json]
       scripts/postgres restart [--name N]
       scripts/postgres status [--name N] [--json]
       scripts/postgres stop [--name N] [--clean]
       scripts/postgres env [--name N]
       scripts/postgres install`

function option(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag)
  if (i < 0) return undefined
  const v = argv[i + 1]
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`)
  return v
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  const name = option(rest, '--name')
  const json = rest.includes('--json')
  switch (cmd) {
    case 'install':
      log(`server binaries: ${await install()}`)
      return 0
    case 'start': {
      const p = option(rest, '--port')
      const port = p === undefined ? undefined : Number(p)
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
        throw new UsageError(`--port ${p} is not a port number`)
      }
      const s = await start({ ...(name ? { name } : {}), ...(port ? { port } : {}) })
      console.log(json ? JSON.stringify(s) : s.url)
      return 0
    }
    case 'restart': {
      const s = await restart(name ?? 'test')
      console.log(s.url)
      return 0
    }
    case 'status': {
      const all = status().filter((s) => !name || s.name === name)
      if (json) console.log(JSON.stringify(all))
      else for (const s of all) console.log(`${s.name}\t${s.host}:${s.port}\t${s.running ? 'running' : 'stopped'}`)
      return 0
    }
    case 'stop':
      for (const n of name ? [name] : states.names()) await stop(n, rest.includes('--clean'))
      return 0
    case 'env': {
      const s = states.read(name ?? 'test')
      if (!s) throw new Error(`no cluster ${name ?? 'test'}`)
      for (const [k, v] of Object.entries(envFor(s))) console.log(`export ${k}=${v}`)
      return 0
    }
    case 'help':
      console.log(USAGE)
      return 0
    default:
      throw new UsageError(cmd ? `unknown command ${cmd}` : 'a command is needed')
  }
}

if (import.meta.main) runScript('scripts/postgres', USAGE, main)
