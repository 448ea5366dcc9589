// Modbus TCP servers for tests and the example factory: scripts/peers/modbus_server.py (a synthetic PLC we wrote)
// served by pymodbus, a Modbus stack from PyPI that we did not write, so that our client is checked against an
// independent peer. Installs the pinned pymodbus into a venv once (.cache/modbus/venv-<hash>) and runs a server on
// 127.0.0.1 in its own process group, driven through its stdin. Run it through `scripts/modbus`:
//
//   scripts/modbus install                               only install pymodbus
//   scripts/modbus serve [--port P] [--units 1,2,3] [--program FILE]   run a server in the foreground (Ctrl-C stops
//                                                        it); lines typed on stdin (`mute 2`, `unmute 2`) control it
//
// Tests start their own servers (`startModbusServer`), each on a free port, and stop them by process group.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ensurePythonEnv } from './python-env.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const SERVER = path.join(ROOT, 'scripts', 'peers', 'modbus_server.py')
/** Every Python package of the server, pinned; its hash names the venv. */
const REQUIREMENTS = path.join(ROOT, 'scripts', 'peers', 'modbus-requirements.txt')

export const PYMODBUS_VERSION = /^pymodbus==(\S+)$/m.exec(fs.readFileSync(REQUIREMENTS, 'utf8'))?.[1] ?? 'unknown'

/** Installs the pinned pymodbus from PyPI once; returns the venv's python. */
export function install(log?: (m: string) => void): Promise<string> {
  return ensurePythonEnv({
    name: 'modbus',
    requirements: REQUIREMENTS,
    check: 'import pymodbus.server',
    ...(log ? { log: (m) => log(`pymodbus ${PYMODBUS_VERSION}: ${m}`) } : {}),
  })
}

export interface ModbusPeer {
  readonly host: string
  readonly port: number
  readonly units: readonly number[]
  /** Sends one control line (`mute 2`, `unmute 2`, `set 1 hr 40 7`) and waits for its `ok`. */
  control(line: string): Promise<void>
  stop(): Promise<void>
}

export interface StartOptions {
  readonly units?: string
  readonly port?: number
  /** Another Python program in the same venv, speaking the same stdin protocol (the example factory's PLC). */
  readonly program?: string
  readonly args?: readonly string[]
}

/** Starts a server and resolves once it prints its ready line. */
export async function startModbusServer(opts: StartOptions = {}): Promise<ModbusPeer> {
  const python = await install()
  const args = [
    opts.program ?? SERVER,
    '--host',
    '127.0.0.1',
    '--port',
    String(opts.port ?? 0),
    '--units',
    opts.units ?? '1,2,3',
    ...(opts.args ?? []),
  ]
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  let out = ''
  let err = ''
  const waiters: Array<{ line: string; resolve: () => void; reject: (e: Error) => void }> = []
  child.stderr?.on('data', (d) => {
    err = (err + d).slice(-4000)
  })
  const ready = new Promise<{ port: number; units: number[] }>((resolve, reject) => {
    child.once('exit', (code) => {
      const e = new Error(`modbus server exited (${code}): ${err}`)
      reject(e)
      for (const w of waiters.splice(0)) w.reject(e)
    })
    child.stdout?.on('data', (d) => {
      out += d
      let nl = out.indexOf('\n')
      while (nl >= 0) {
        const line = out.slice(0, nl).trim()
        out = out.slice(nl + 1)
        const m = /^ready port=(\d+) units=([\d,]+)$/.exec(line)
        if (m) resolve({ port: Number(m[1]), units: (m[2] as string).split(',').map(Number) })
        const ok = /^ok (.*)$/.exec(line)
        if (ok) waiters.shift()?.resolve()
        if (line.startsWith('error ')) waiters.shift()?.reject(new Error(line))
        nl = out.indexOf('\n')
      }
    })
  })
  const { port, units } = await ready
  return {
    host: '127.0.0.1',
    port,
    units,
    control(line: string) {
      return new Promise<void>((resolve, reject) => {
        waiters.push({ line, resolve, reject })
        child.stdin?.write(`${line}\n`)
      })
    },
    stop: () => stopChild(child),
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    try {
      process.kill(-(child.pid as number), 'SIGTERM')
    } catch {
      resolve()
    }
  })
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv
  const opt = (name: string) => {
    const i = rest.indexOf(`--${name}`)
    return i >= 0 ? rest[i + 1] : undefined
  }
  if (cmd === 'install') {
    console.log(await install(console.log))
    return
  }
  if (cmd === 'serve') {
    const program = opt('program')
    const peer = await startModbusServer({
      units: opt('units') ?? '1,2,3',
      port: Number(opt('port') ?? 5020),
      ...(program ? { program: path.resolve(program) } : {}),
    })
    console.log(
      `Modbus TCP server (pymodbus ${PYMODBUS_VERSION}) on ${peer.host}:${peer.port}, units ${peer.units.join(',')}`,
    )
    console.log('control lines on stdin: mute <unit>, unmute <unit>, set <unit> <co|di|hr|ir> <address> <value>')
    // Lines typed here go to the server (`mute 2` makes unit 2 stop answering).
    let pending = ''
    process.stdin.on('data', (d) => {
      pending += d
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl).trim()
        pending = pending.slice(nl + 1)
        if (line !== '') void peer.control(line).then(() => console.log(`ok ${line}`))
      }
    })
    const stop = () => void peer.stop().then(() => process.exit(0))
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    return
  }
  console.error('usage: scripts/modbus install | serve [--port P] [--units 1,2,3] [--program FILE]')
  process.exitCode = 2
}

if (process.argv[1] === import.meta.filename) await main(process.argv.slice(2))
