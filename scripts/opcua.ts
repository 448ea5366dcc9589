// OPC UA servers for tests: a synthetic machine (scripts/peers/opcua_server.py) served by asyncua, an OPC UA
// stack from PyPI that we did not write, so that our client is checked against an independent peer. Installs a
// pinned asyncua into a Python venv once and runs named servers on 127.0.0.1, each in its own process group.
// Run it through `scripts/opcua` (which picks the project's Node 24):
//
//   scripts/opcua start [--name N] [--security none|sign-and-encrypt] [--port P] [--json]   start, wait until it serves
//   scripts/opcua start --name N --program FILE --port P [-- ARGS...]    the same, running another asyncua program
//   scripts/opcua status [--name N] [--json]                                               list servers, running or not
//   scripts/opcua stop [--name N] [--clean]            stop one server (default: all); --clean deletes its state and PKI
//   scripts/opcua env [--name N]                       print the OFA_OPCUA_* variables tests read
//   scripts/opcua install                              only install asyncua into .cache/opcua/venv-<hash>
//
// A server keeps its port and (sign-and-encrypt) its key and self-signed certificate across stop/start, so a client
// reconnects to the same endpoint. `--program` runs another Python file in the same venv in place of the test peer
// (the example factory's simulator, examples/opcua-factory/simulator/opcua_factory.py): it is given `--host`,
// `--port` and the ARGS after `--`, and prints a `ready <endpoint> namespace=<uri> ...` line like the peer; its
// program and ARGS are kept with the port, so a restart runs the same. The venv lives in
// .cache/opcua/venv-<hash of the requirements file>, server state (pid, port, endpoint, log, PKI) in
// .cache/opcua/run/<name>/; .cache/ is ignored by git.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { canBind, pickFreePort } from './local-ports.ts'
import { withLock as lockIn } from './lock-file.ts'
import { ensurePythonEnv } from './python-env.ts'
import { runState } from './run-state.ts'
import { log, runScript, UsageError } from './script-cli.ts'

/** Runs `fn` holding a lock under .cache/opcua/run, so that concurrent test processes start a server once. */
function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return lockIn(RUN, name, fn)
}

export const USERNAME = 'ofa'
export const PASSWORD = 'ofa-secret'
const HOST = '127.0.0.1'

const ROOT = path.resolve(import.meta.dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'opcua')
const RUN = path.join(CACHE, 'run')
const SERVER_SCRIPT = path.join(ROOT, 'scripts', 'peers', 'opcua_server.py')
/** Every Python package of the server, pinned; its hash names the venv, so an edit makes a new one. */
const REQUIREMENTS = path.join(ROOT, 'scripts', 'peers', 'opcua-requirements.txt')

/** The asyncua version the requirements file pins. */
export const ASYNCUA_VERSION = /^asyncua==(\S+)$/m.exec(fs.readFileSync(REQUIREMENTS, 'utf8'))?.[1] ?? 'unknown'

export type Security = 'none' | 'sign-and-encrypt'

/** What `status --json` prints for a server, and what `state.json` holds. */
export interface ServerState {
  readonly name: string
  readonly asyncua: string
  readonly security: Security
  readonly host: string
  readonly port: number
  /** `opc.tcp://127.0.0.1:<port>/openfactory/peer`, as the server prints it in its ready line (a program's: its own). */
  endpoint: string
  /** The namespace URI of the machine's nodes (from the ready line; null before the first start). */
  namespace: string | null
  /** Session credentials: required on sign-and-encrypt servers, absent on `none` (anonymous sessions). */
  readonly username?: string
  readonly password?: string
  /** The server's certificate (DER), sign-and-encrypt only; made on first start and kept. */
  readonly serverCertificate?: string
  readonly pki: string
  readonly log: string
  /** The server process, leader of its own process group (pgid = pid). */
  pid: number | null
  /** `--program`: the Python file run instead of the test peer (absolute), and the arguments given after `--`. */
  readonly program?: string
  programArgs?: string[]
  /** Further endpoints a program's ready line names (`dht1=opc.tcp://...`), by name; their ports are its too. */
  otherEndpoints?: Record<string, string>
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

const states = runState<ServerState>(RUN)
const readState = states.read
const writeState = states.write
const serverNames = states.names

/**
 * True when `pid` is our OPC UA server on `port` (not a recycled pid, not a zombie): the test peer, or the
 * `program` a server was started with.
 */
function isServer(pid: number | null, port: number, program?: string): boolean {
  if (!pid) return false
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const ours = program ? argv.includes(program) : argv.some((a) => a.endsWith('opcua_server.py'))
    return ours && argv[argv.indexOf('--port') + 1] === String(port)
  } catch {
    return false
  }
}

function running(state: ServerState): boolean {
  return isServer(state.pid, state.port, state.program)
}

/** The ports a server takes: its own, and those of the other endpoints its program named. */
function portsOf(state: ServerState | undefined): number[] {
  if (!state) return []
  const others = Object.values(state.otherEndpoints ?? {}).map((url) => Number(/:(\d+)(\/|$)/.exec(url)?.[1]))
  return [state.port, ...others.filter((p) => Number.isInteger(p))]
}

/** Installs the pinned asyncua and its dependencies from PyPI once (python-env.ts); returns the venv's python. */
export function install(): Promise<string> {
  return ensurePythonEnv({
    name: 'opcua',
    requirements: REQUIREMENTS,
    check: 'import asyncua',
    log: (m) => log(`asyncua ${ASYNCUA_VERSION}: ${m}`),
  })
}

/**
 * A free port from 4850 upwards, not recorded by another server. OPC UA's registered port 4840 and the ports
 * after it up to 4849 are left to the example factory's servers (examples/opcua-factory: 4840 to 4842, as the
 * reference demo has them).
 */
async function pickPort(wanted: number | undefined): Promise<number> {
  if (wanted) {
    if (!(await canBind(HOST, wanted))) throw new UsageError(`port ${wanted} is not free on ${HOST}`)
    return wanted
  }
  const taken = new Set(serverNames().flatMap((n) => portsOf(readState(n))))
  return pickFreePort(HOST, 4850, taken, 'an OPC UA server')
}

/**
 * The OPC UA Connection Protocol's handshake (OPC 10000-6, 7.1.2): every message starts with a header of
 * MessageType (3 ASCII bytes), a reserved 'F' and MessageSize (UInt32, little endian, the whole message). A client
 * opens with Hello ('HEL'): ProtocolVersion, ReceiveBufferSize, SendBufferSize, MaxMessageSize, MaxChunkCount
 * (UInt32 each; 0 = no limit for the last two) and EndpointUrl (String: Int32 byte length, then UTF-8). A server
 * that serves answers Acknowledge ('ACK', five UInt32) or Error ('ERR': UInt32 status code, String reason).
 * Resolves when an Acknowledge arrives; we then close the socket (a server must accept that).
 */
export function opcuaHello(host: string, port: number, endpoint: string, timeoutMs = 2000): Promise<void> {
  const url = Buffer.from(endpoint, 'utf8')
  const msg = Buffer.alloc(8 + 20 + 4 + url.length)
  msg.write('HELF', 0, 'latin1')
  msg.writeUInt32LE(msg.length, 4)
  msg.writeUInt32LE(0, 8) // ProtocolVersion
  msg.writeUInt32LE(65_536, 12) // ReceiveBufferSize
  msg.writeUInt32LE(65_536, 16) // SendBufferSize
  msg.writeUInt32LE(0, 20) // MaxMessageSize
  msg.writeUInt32LE(0, 24) // MaxChunkCount
  msg.writeInt32LE(url.length, 28)
  url.copy(msg, 32)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => socket.destroy(new Error('no Acknowledge within the timeout')), timeoutMs)
    const done = (err?: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve()
    }
    socket.on('connect', () => socket.write(msg))
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 8 || buf.length < buf.readUInt32LE(4)) return
      const type = buf.toString('latin1', 0, 3)
      if (type === 'ACK') done()
      else if (type === 'ERR') done(new Error(`Error message, status 0x${buf.readUInt32LE(8).toString(16)}`))
      else done(new Error(`unexpected message type ${type}`))
    })
    socket.on('error', (err) => done(err))
    socket.on('close', () => done(new Error('connection closed')))
  })
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * The `ready <url> namespace=<uri> ...` line the server prints once it serves, if written after `offset`; `others`
 * are the further `name=opc.tcp://...` endpoints it names.
 */
function readyLine(
  file: string,
  offset: number,
): { endpoint: string; namespace: string; others: Record<string, string> } | undefined {
  let text = ''
  try {
    const fd = fs.openSync(file, 'r')
    try {
      const size = fs.fstatSync(fd).size
      const b = Buffer.alloc(Math.max(0, size - offset))
      fs.readSync(fd, b, 0, b.length, offset)
      text = b.toString('utf8')
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return undefined
  }
  const m = /^ready (\S+) namespace=(\S+)(.*)$/m.exec(text)
  if (!m) return undefined
  const others = Object.fromEntries([...m[3]!.matchAll(/ ([\w-]+)=(opc\.tcp:\/\/\S+)/g)].map((o) => [o[1]!, o[2]!]))
  return { endpoint: m[1]!, namespace: m[2]!, others }
}

/** Waits for the ready line and an Acknowledge to a Hello; fails at once when the process exits. */
async function waitReady(state: ServerState, offset: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!running(state)) {
      throw new Error(`OPC UA server '${state.name}' exited; last lines of ${state.log}:\n${tail(state.log)}`)
    }
    const ready = readyLine(state.log, offset)
    if (ready) {
      if (state.program) {
        // A program names its own endpoint (its path is its business); it must be on the port it was given.
        if (!ready.endpoint.startsWith(`opc.tcp://${state.host}:${state.port}`)) {
          throw new Error(`OPC UA server '${state.name}' serves ${ready.endpoint}, not on ${state.host}:${state.port}`)
        }
        state.endpoint = ready.endpoint
        state.otherEndpoints = ready.others
      } else if (ready.endpoint !== state.endpoint) {
        throw new Error(`OPC UA server '${state.name}' serves ${ready.endpoint}, expected ${state.endpoint}`)
      }
      state.namespace = ready.namespace
      const answered = await opcuaHello(state.host, state.port, state.endpoint).then(
        () => true,
        () => false,
      )
      if (answered) return
    }
    if (Date.now() > deadline) {
      throw new Error(`OPC UA server '${state.name}' not ready after ${timeoutMs / 1000} s; see ${state.log}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface StartOptions {
  readonly name: string
  readonly security: Security
  readonly port?: number
  readonly timeoutMs?: number
  /**
   * A Python file to run in the venv instead of the test peer (security none only; `port` required the first
   * time): it is given `--host`, `--port` and `programArgs`. Absent on a server that has one: the recorded one.
   */
  readonly program?: string
  /** Arguments for `program`; absent: those recorded. */
  readonly programArgs?: readonly string[]
}

/** Starts the server (a no-op when it runs) and resolves once it answers an OPC UA Hello. */
export function start(opts: StartOptions): Promise<ServerState> {
  return withLock(opts.name, () => startLocked(opts))
}

async function startLocked(opts: StartOptions): Promise<ServerState> {
  if (!['none', 'sign-and-encrypt'].includes(opts.security)) {
    throw new UsageError('--security must be none or sign-and-encrypt')
  }
  const program = opts.program === undefined ? undefined : path.resolve(opts.program)
  if (program !== undefined) {
    if (opts.security !== 'none') throw new UsageError('--program runs with security none only')
    if (!program.endsWith('.py') || !fs.statSync(program, { throwIfNoEntry: false })?.isFile()) {
      throw new UsageError(`--program ${opts.program}: not a Python file`)
    }
  }
  let state = readState(opts.name)
  if (state && program !== undefined && state.program !== program) {
    throw new UsageError(
      `server '${opts.name}' runs ${state.program ? path.relative(ROOT, state.program) : 'the test peer'}; run 'scripts/opcua stop --name ${opts.name} --clean' first, or choose another --name`,
    )
  }
  if (!state && program !== undefined && !opts.port) {
    throw new UsageError('--program needs --port (a program may serve the ports after it too)')
  }
  if (state && state.security !== opts.security) {
    throw new UsageError(
      `server '${opts.name}' runs with security ${state.security}; run 'scripts/opcua stop --name ${opts.name} --clean' first, or choose another --name`,
    )
  }
  if (state && opts.port && state.port !== opts.port) {
    throw new UsageError(`server '${opts.name}' uses port ${state.port}; stop it with --clean first`)
  }
  if (state && running(state)) return state
  if (state?.program && opts.programArgs) state.programArgs = [...opts.programArgs]
  const python = await install()
  if (!state) {
    // One server at a time picks its port and records it (servers may be started concurrently).
    state = await withLock('.ports', async () => {
      const port = await pickPort(opts.port)
      const dir = path.join(RUN, opts.name)
      const secure = opts.security === 'sign-and-encrypt'
      const fresh: ServerState = {
        name: opts.name,
        asyncua: ASYNCUA_VERSION,
        security: opts.security,
        host: HOST,
        port,
        // A program's endpoint is what its ready line says; until then, this.
        endpoint: program ? `opc.tcp://${HOST}:${port}` : `opc.tcp://${HOST}:${port}/openfactory/peer`,
        namespace: null,
        ...(secure
          ? { username: USERNAME, password: PASSWORD, serverCertificate: path.join(dir, 'pki', 'server-cert.der') }
          : {}),
        pki: path.join(dir, 'pki'),
        log: path.join(dir, 'server.log'),
        pid: null,
        ...(program ? { program, programArgs: [...(opts.programArgs ?? [])] } : {}),
      }
      writeState(fresh)
      return fresh
    })
  }
  if (!(await canBind(state.host, state.port))) {
    throw new Error(`${state.host}:${state.port} is taken by another process`)
  }
  const started = Date.now()
  fs.mkdirSync(path.dirname(state.log), { recursive: true })
  const out = fs.openSync(state.log, 'a')
  const offset = fs.fstatSync(out).size
  const args = state.program
    ? [state.program, '--host', state.host, '--port', String(state.port), ...(state.programArgs ?? [])]
    : [
        SERVER_SCRIPT,
        '--host',
        state.host,
        '--port',
        String(state.port),
        '--security',
        state.security,
        '--pki',
        state.pki,
        ...(state.username ? ['--user', state.username, '--password', state.password!] : []),
      ]
  // Its own process group (detached), so that stop() ends the server and anything it started with one kill(-pgid).
  const child = spawn(python, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  })
  fs.closeSync(out)
  child.unref()
  state.pid = child.pid ?? null
  writeState(state)
  await waitReady(state, offset, opts.timeoutMs ?? 60_000)
  writeState(state)
  const also = Object.values(state.otherEndpoints ?? {})
  log(
    `opcua '${state.name}' (asyncua ${ASYNCUA_VERSION}, ${state.security}${state.program ? `, ${path.relative(ROOT, state.program)}` : ''}): ${[state.endpoint, ...also].join(' and ')} ready in ${seconds(started)}`,
  )
  return state
}

/** Stops a server's process group: SIGTERM (a clean shutdown), SIGKILL after `graceMs`; `clean` deletes its state. */
export async function stop(name: string, clean = false, graceMs = 10_000): Promise<void> {
  const state = readState(name)
  if (!state) return
  const pid = state.pid
  const up = (): boolean => isServer(pid, state.port, state.program)
  if (pid && up()) {
    const group = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal)
      } catch {
        // the group is gone already
      }
    }
    group('SIGTERM')
    const deadline = Date.now() + graceMs
    while (up() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    if (up()) group('SIGKILL')
    while (up()) await new Promise((r) => setTimeout(r, 50))
  }
  if (clean) {
    fs.rmSync(path.join(RUN, name), { recursive: true, force: true })
  } else {
    state.pid = null
    writeState(state)
  }
  log(`opcua '${name}': stopped${clean ? ', state deleted' : ''}`)
}

/**
 * The environment variables the OPC UA tests read: a `none` server's as OFA_OPCUA_*, a sign-and-encrypt
 * server's as OFA_OPCUA_SECURE_* (with the user, the password and the server certificate's path).
 */
export function envFor(state: ServerState): Record<string, string> {
  const p = state.security === 'none' ? 'OFA_OPCUA' : 'OFA_OPCUA_SECURE'
  return {
    [`${p}_SERVER`]: state.name,
    [`${p}_ENDPOINT`]: state.endpoint,
    [`${p}_NAMESPACE`]: state.namespace ?? '',
    ...(state.username ? { [`${p}_USERNAME`]: state.username, [`${p}_PASSWORD`]: state.password! } : {}),
    ...(state.serverCertificate ? { [`${p}_SERVER_CERT`]: state.serverCertificate } : {}),
  }
}

export function status(name?: string): (ServerState & { running: boolean })[] {
  const names = name ? [name] : serverNames()
  return names
    .map((n) => readState(n))
    .filter((s): s is ServerState => s !== undefined)
    .map((s) => ({ ...s, running: running(s) }))
}

function describe(state: ServerState): string {
  const up = running(state)
  return [
    `server '${state.name}' (asyncua ${state.asyncua}, security ${state.security}): ${up ? `running, pid ${state.pid}` : 'stopped'}`,
    ...(state.program
      ? [`  program ${path.relative(ROOT, state.program)}${(state.programArgs ?? []).map((a) => ` ${a}`).join('')}`]
      : []),
    `  endpoint ${state.endpoint}, namespace ${state.namespace ?? '(not started yet)'}`,
    ...Object.entries(state.otherEndpoints ?? {}).map(([k, v]) => `  ${k} endpoint ${v}`),
    ...(state.username
      ? [
          `  Basic256Sha256 SignAndEncrypt, user ${state.username}, password ${state.password}, certificate ${state.serverCertificate}`,
        ]
      : ['  SecurityPolicy None, anonymous sessions']),
    `  log ${state.log}`,
  ].join('\n')
}

function parseArgs(argv: string[]): { cmd: string; flags: Map<string, string | true>; passed?: string[] } {
  const [cmd = 'help', ...all] = argv
  const dashes = all.indexOf('--')
  const rest = dashes < 0 ? all : all.slice(0, dashes)
  const passed = dashes < 0 ? undefined : all.slice(dashes + 1)
  const flags = new Map<string, string | true>()
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${a}`)
    const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined]
    if (v !== undefined) flags.set(k, v)
    else if (['clean', 'json'].includes(k)) flags.set(k, true)
    else {
      const next = rest[++i]
      if (next === undefined) throw new UsageError(`--${k} needs a value`)
      flags.set(k, next)
    }
  }
  return { cmd, flags, ...(passed ? { passed } : {}) }
}

const USAGE = `usage:
  scripts/opcua start [--name N] [--security none|sign-and-encrypt] [--port P] [--json]
  scripts/opcua start --name N --program FILE.py --port P [--json] [-- PROGRAM-ARGS...]
  scripts/opcua status [--name N] [--json]
  scripts/opcua stop [--name N] [--clean]
  scripts/opcua env [--name N]          (export lines for the tests: eval "$(scripts/opcua env)")
  scripts/opcua install
Servers are named (default 'default') and listen on 127.0.0.1, port P (default: 4850 or the next free).
sign-and-encrypt: Basic256Sha256, user ${USERNAME}, password ${PASSWORD}, a self-signed server certificate.
--program: a Python file of ours run in the venv instead of the test peer (security none), given --host, --port
and PROGRAM-ARGS; e.g. examples/opcua-factory/simulator/opcua_factory.py --port 4840 (it serves 4840 to 4842).`

async function main(argv: string[]): Promise<number> {
  const { cmd, flags, passed } = parseArgs(argv)
  const name = typeof flags.get('name') === 'string' ? (flags.get('name') as string) : undefined
  if (name !== undefined && !/^[A-Za-z0-9_-]+$/.test(name)) throw new UsageError('--name: letters, digits, - and _')
  const json = flags.get('json') === true
  switch (cmd) {
    case 'start': {
      const port = flags.get('port')
      if (port !== undefined && !(typeof port === 'string' && /^\d+$/.test(port) && Number(port) < 65_536)) {
        throw new UsageError('--port must be a number')
      }
      const security = flags.get('security') ?? 'none'
      const program = flags.get('program')
      if (program === true) throw new UsageError('--program needs a file')
      if (passed !== undefined && program === undefined) throw new UsageError('arguments after -- go with --program')
      const state = await start({
        name: name ?? 'default',
        security: security as Security,
        port: port === undefined ? undefined : Number(port),
        ...(program !== undefined ? { program } : {}),
        ...(passed !== undefined ? { programArgs: passed } : {}),
      })
      process.stdout.write(json ? `${JSON.stringify(state)}\n` : `${describe(state)}\n`)
      return 0
    }
    case 'status': {
      const all = status(name)
      if (json) process.stdout.write(`${JSON.stringify(name ? (all[0] ?? null) : all)}\n`)
      else process.stdout.write(all.length ? `${all.map(describe).join('\n')}\n` : 'no OPC UA server\n')
      return name && all.length === 0 ? 1 : 0
    }
    case 'stop':
      for (const n of name ? [name] : serverNames()) await stop(n, flags.get('clean') === true)
      return 0
    case 'env': {
      const all = status(name).filter((s) => s.running)
      if (all.length === 0) throw new UsageError(`no running server${name ? ` '${name}'` : ''}; start it first`)
      for (const s of all) {
        for (const [k, v] of Object.entries(envFor(s))) process.stdout.write(`export ${k}='${v}'\n`)
      }
      return 0
    }
    case 'install':
      process.stdout.write(`${await install()}\n`)
      return 0
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`)
      return 0
    default:
      throw new UsageError(`unknown command ${cmd}`)
  }
}

if (import.meta.main) runScript('scripts/opcua', USAGE, main)
