// MQTT brokers for tests: Debian's Mosquitto, a broker we did not write, so that the MQTT connector is checked against
// an independent peer (and Debian's mosquitto_pub / mosquitto_sub as independent clients). Installs the Debian
// packages `mosquitto` and `mosquitto-clients` once, and runs named brokers on 127.0.0.1, each in its own process
// group, with a configuration we write. Run it through `scripts/mosquitto` (which picks the project's Node 24):
//
//   scripts/mosquitto start [--name N] [--port P] [--tls] [--require-certificate] [--user U:P]... [--json]
//                                                           start a broker, wait until it accepts connections
//   scripts/mosquitto status [--name N] [--json]             list brokers, running or not
//   scripts/mosquitto stop [--name N] [--clean]              stop one broker (default: all); --clean deletes its state
//   scripts/mosquitto env [--name N]                         print the OFA_MQTT_* variables tests read
//   scripts/mosquitto install                                only install Debian's mosquitto and mosquitto-clients
//
// A broker keeps its port and its persistence file (sessions and queued QoS 1/2 messages, written when it stops)
// across stop/start, so that a client with a persistent session finds it again after a restart. State (pid, port,
// config, log, mosquitto.db) lives in .cache/mosquitto/run/<name>/; .cache/ is ignored by git.
//
// Security, for tests of TLS and passwords against a real broker (a private broker of a test, usually):
// `tls` makes the listener TLS only (mqtts://), with a server certificate for 127.0.0.1 signed by a development CA
// made at the first start (scripts/test-certs.ts, the one scripts/kafka.ts uses; kept in tls/ of the broker's folder).
// `requireCertificate` (mutual TLS, implies `tls`) refuses a client without a certificate signed by that CA (Mosquitto's
// `require_certificate true`); tls/client.pem and client.key are such a certificate.
// `users` (name → password) writes a password file hashed by Debian's mosquitto_passwd and refuses anonymous clients.
// A restart without these options keeps the ones the broker was started with.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { liveArgv, pickFreePort } from './local-ports.ts'
import { withLock } from './lock-file.ts'
import { runState } from './run-state.ts'
import { log, runScript, UsageError } from './script-cli.ts'
import { makeCertificates, type TestCertificates } from './test-certs.ts'

const HOST = '127.0.0.1'
const ROOT = path.resolve(import.meta.dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'mosquitto')
const RUN = path.join(CACHE, 'run')
/** Debian installs the broker outside a user's PATH. */
const BROKER_PATHS = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']

/**
 * Messages the broker queues per client while it is away: Mosquitto's default of 1000 would drop (count, not keep)
 * what a test publishes to a disconnected persistent session; ours holds a million or 256 MiB, whichever first.
 */
const MAX_QUEUED_MESSAGES = 1_000_000
const MAX_QUEUED_BYTES = 256 * 1024 * 1024

export interface BrokerState {
  readonly name: string
  readonly host: string
  readonly port: number
  /** `mqtt://127.0.0.1:<port>`, or `mqtts://` when the listener is TLS. */
  readonly url: string
  /** The TLS material when the listener is TLS (`ca` is the PEM file a client pins), else null. */
  readonly tls: TestCertificates | null
  /** Mutual TLS: a client must show a certificate signed by the CA of `tls` (absent in older state files: false). */
  readonly requireCertificate?: boolean
  /** The user names of the password file when anonymous clients are refused, else null. */
  readonly users: readonly string[] | null
  readonly config: string
  readonly log: string
  /** The broker process, leader of its own process group (pgid = pid). */
  pid: number | null
}

const states = runState<BrokerState>(RUN)

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

function brokerBinary(): string | undefined {
  return BROKER_PATHS.find((p) => fs.existsSync(p))
}

function runOrThrow(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${out}`)),
    )
  })
}

/** Installs Debian's mosquitto and mosquitto-clients when missing (holding a lock: concurrent tests install once). */
export async function install(): Promise<string> {
  const ready = () => brokerBinary() !== undefined && which('mosquitto_pub')
  if (ready()) return brokerBinary() as string
  return withLock(CACHE, 'install', async () => {
    if (ready()) return brokerBinary() as string
    if (!which('apt-get')) throw new Error('mosquitto is missing and there is no apt-get to install it with')
    const started = Date.now()
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    log('$ apt-get update')
    await runOrThrow('apt-get', ['update', '-q'], env)
    log('$ apt-get install -y mosquitto mosquitto-clients')
    // Another apt-get (another script's install) may hold dpkg's lock for a while: wait for it.
    const wait = ['-o', 'DPkg::Lock::Timeout=300']
    await runOrThrow(
      'apt-get',
      ['install', '-y', '-q', '--no-install-recommends', ...wait, 'mosquitto', 'mosquitto-clients'],
      env,
    )
    if (!ready()) throw new Error('apt-get installed mosquitto, yet the broker or mosquitto_pub is missing')
    log(`mosquitto installed in ${seconds(started)}`)
    return brokerBinary() as string
  })
}

/** True when `pid` is our broker of `config` (not a recycled pid, not a zombie). */
function isBroker(pid: number | null, config: string): boolean {
  return liveArgv(pid)?.includes(config) === true
}

/** A free port from 18830 upwards, not recorded by another broker (1883 stays free for the example factory's). */
function pickPort(): Promise<number> {
  const taken = new Set(states.names().map((n) => states.read(n)?.port))
  return pickFreePort(HOST, 18830, taken, 'an MQTT broker')
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * The configuration we give the broker: one loopback listener (TLS when `tls`), anonymous clients unless there is a
 * password file, sessions persisted on stop.
 */
function configText(
  dir: string,
  port: number,
  tls: TestCertificates | null,
  passwordFile: string | null,
  requireCertificate = false,
): string {
  const user = os.userInfo().username
  return [
    `# written by scripts/mosquitto.ts`,
    `per_listener_settings false`,
    `listener ${port} ${HOST}`,
    ...(tls ? [`cafile ${tls.ca}`, `certfile ${tls.serverCert}`, `keyfile ${tls.serverKey}`] : []),
    ...(tls && requireCertificate ? [`require_certificate true`] : []),
    ...(passwordFile ? [`allow_anonymous false`, `password_file ${passwordFile}`] : [`allow_anonymous true`]),
    `persistence true`,
    `persistence_location ${dir}/`,
    `persistence_file mosquitto.db`,
    `max_queued_messages ${MAX_QUEUED_MESSAGES}`,
    `max_queued_bytes ${MAX_QUEUED_BYTES}`,
    `max_inflight_messages 1000`,
    // QoS 0 messages are queued for a disconnected persistent session too (bench/mqtt-ingest.ts drains a queue).
    `queue_qos0_messages true`,
    `log_dest stderr`,
    `log_type error`,
    `log_type warning`,
    `log_type notice`,
    // A refused login or handshake is logged at notice level, with the client's address and name (not its password).
    // As root, Mosquitto would drop to the user `mosquitto`, who cannot write our state folder.
    `user ${user}`,
    '',
  ].join('\n')
}

export interface StartOptions {
  readonly name?: string
  /** A port of our choosing; default: the one the broker had, else a free one from 18830. */
  readonly port?: number
  /** A TLS listener (mqtts://) with a development CA; default: what the broker had, else plain TCP. */
  readonly tls?: boolean
  /** Mutual TLS (implies `tls`): clients without a certificate signed by the development CA are refused. */
  readonly requireCertificate?: boolean
  /**
   * Users and their passwords (name → password; names without `:`): anonymous clients are then refused. Default:
   * the password file the broker had, else anonymous clients allowed. An empty object allows anonymous ones again.
   */
  readonly users?: Readonly<Record<string, string>>
}

/**
 * Writes the password file: `name:password` lines, then hashed in place by Debian's mosquitto_passwd (`-U`), so that
 * no password is on a command line.
 */
async function writePasswordFile(file: string, users: Readonly<Record<string, string>>): Promise<void> {
  const lines = Object.entries(users).map(([name, password]) => {
    if (name === '' || name.includes(':') || /[\r\n]/.test(name + password)) {
      throw new UsageError(`user ${JSON.stringify(name)}: a name is not empty and has no ':', no line breaks`)
    }
    return `${name}:${password}\n`
  })
  fs.writeFileSync(file, lines.join(''), { mode: 0o600 })
  await runOrThrow('mosquitto_passwd', ['-U', file], process.env)
}

/** Starts (or finds running) the broker `name` and waits until it accepts connections. */
export async function start(opts: StartOptions = {}): Promise<BrokerState> {
  const name = opts.name ?? 'test'
  const binary = await install()
  return withLock(RUN, name, async () => {
    const old = states.read(name)
    const wantsMutual = opts.requireCertificate ?? old?.requireCertificate === true
    const wantsTls = wantsMutual || (opts.tls ?? old?.tls != null)
    const same =
      (opts.port === undefined || opts.port === old?.port) &&
      wantsTls === (old?.tls != null) &&
      wantsMutual === (old?.requireCertificate === true) &&
      opts.users === undefined
    if (old && isBroker(old.pid, old.config)) {
      if (same) return old
      throw new UsageError(`mosquitto ${name} runs with other options: stop it first`)
    }
    const dir = path.join(RUN, name)
    fs.mkdirSync(dir, { recursive: true })
    const port = opts.port ?? old?.port ?? (await pickPort())
    const tls = wantsTls ? makeCertificates(path.join(dir, 'tls')) : null
    const passwordFile = path.join(dir, 'passwords')
    let users = old?.users ?? null
    if (opts.users !== undefined) {
      const names = Object.keys(opts.users)
      users = names.length > 0 ? names : null
      if (users) await writePasswordFile(passwordFile, opts.users)
      else fs.rmSync(passwordFile, { force: true })
    }
    const config = path.join(dir, 'mosquitto.conf')
    fs.writeFileSync(config, configText(dir, port, tls, users ? passwordFile : null, wantsMutual))
    const logFile = path.join(dir, 'broker.log')
    const out = fs.openSync(logFile, 'a')
    const started = Date.now()
    const child = spawn(binary, ['-c', config], { detached: true, stdio: ['ignore', out, out] })
    fs.closeSync(out)
    child.unref()
    const state: BrokerState = {
      name,
      host: HOST,
      port,
      url: `${tls ? 'mqtts' : 'mqtt'}://${HOST}:${port}`,
      tls,
      ...(wantsMutual ? { requireCertificate: true } : {}),
      users,
      config,
      log: logFile,
      pid: child.pid ?? null,
    }
    states.write(state)
    for (;;) {
      if (await accepts(port)) break
      if (!isBroker(state.pid, config)) {
        throw new Error(`mosquitto ${name} exited; its log (${logFile}):\n${fs.readFileSync(logFile, 'utf8')}`)
      }
      if (Date.now() - started > 30_000) throw new Error(`mosquitto ${name} did not listen on ${port} within 30 s`)
      await new Promise((r) => setTimeout(r, 50))
    }
    log(`mosquitto ${name}: ${state.url} ready in ${seconds(started)}`)
    return state
  })
}

/**
 * Stops the broker `name` (its process group) with SIGTERM, on which Mosquitto writes its persistence file, and
 * waits until it is gone; `clean` also deletes its state.
 */
export async function stop(name: string, clean = false): Promise<void> {
  const state = states.read(name)
  if (!state) return
  if (isBroker(state.pid, state.config)) {
    const pid = state.pid as number
    process.kill(-pid, 'SIGTERM')
    const started = Date.now()
    while (isBroker(pid, state.config)) {
      if (Date.now() - started > 10_000) process.kill(-pid, 'SIGKILL')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  states.write({ ...state, pid: null })
  if (clean) fs.rmSync(path.join(RUN, name), { recursive: true, force: true })
}

export function status(): (BrokerState & { running: boolean })[] {
  return states.names().flatMap((n) => {
    const s = states.read(n)
    return s ? [{ ...s, running: isBroker(s.pid, s.config) }] : []
  })
}

/**
 * The variables tests read: OFA_MQTT_URL for the broker `test`, OFA_MQTT_<NAME>_URL for others (and _TLS_CA, the CA
 * file, when the listener is TLS).
 */
export function envFor(state: BrokerState): Record<string, string> {
  const prefix = state.name === 'test' ? 'OFA_MQTT' : `OFA_MQTT_${state.name.toUpperCase().replace(/\W/g, '_')}`
  return { [`${prefix}_URL`]: state.url, ...(state.tls ? { [`${prefix}_TLS_CA`]: state.tls.ca } : {}) }
}

const USAGE = `usage: scripts/mosquitto start [--name N] [--port P] [--tls] [--require-certificate] [--user NAME:PASSWORD]... [--json]
       scripts/mosquitto status [--name N] [--json]
       scripts/mosquitto stop [--name N] [--clean]
       scripts/mosquitto env [--name N]
       scripts/mosquitto install`

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
      log(`broker: ${await install()}`)
      return 0
    case 'start': {
      const p = option(rest, '--port')
      const port = p === undefined ? undefined : Number(p)
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
        throw new UsageError(`--port ${p} is not a port number`)
      }
      const users: Record<string, string> = {}
      rest.forEach((a, i) => {
        if (a !== '--user') return
        const v = rest[i + 1] ?? ''
        const colon = v.indexOf(':')
        if (colon <= 0) throw new UsageError('--user needs NAME:PASSWORD')
        users[v.slice(0, colon)] = v.slice(colon + 1)
      })
      const s = await start({
        ...(name ? { name } : {}),
        ...(port ? { port } : {}),
        ...(rest.includes('--tls') ? { tls: true } : {}),
        ...(rest.includes('--require-certificate') ? { requireCertificate: true } : {}),
        ...(Object.keys(users).length > 0 ? { users } : {}),
      })
      console.log(json ? JSON.stringify(s) : s.url)
      return 0
    }
    case 'status': {
      const all = status().filter((s) => !name || s.name === name)
      if (json) console.log(JSON.stringify(all))
      else for (const s of all) console.log(`${s.name}\t${s.url}\t${s.running ? 'running' : 'stopped'}`)
      return 0
    }
    case 'stop':
      for (const n of name ? [name] : states.names()) await stop(n, rest.includes('--clean'))
      return 0
    case 'env': {
      const s = states.read(name ?? 'test')
      if (!s) throw new Error(`no broker ${name ?? 'test'}`)
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

if (import.meta.main) runScript('scripts/mosquitto', USAGE, main)
