// The example factory's simulated MTConnect agent (examples/mtconnect-agent-factory/simulator.ts) in the background:
// started in its own process group, its output in a log, stopped by group. Run it through `scripts/mtconnect-agent`
// (which picks the project's Node 24):
//
//   scripts/mtconnect-agent start [--name N] [--port P] [--host H] [--period MS] [--format xml|json1|json2]
//                                                        start, and wait until it serves probe
//   scripts/mtconnect-agent status [--name N] [--json]   list agents, running or not
//   scripts/mtconnect-agent stop [--name N] [--clean]    stop one agent (default: all); --clean deletes its state
//
// An agent keeps its port, period and format across stop/start (`start --name N` again runs the same). Every start
// is a new agent run (a new instanceId), as a restarted agent is. State (pid, port, log) is in
// .cache/mtconnect-agent/run/<name>/; .cache/ is ignored by git. The default name is `example`, its port 5000 (the
// example's device files).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { canBind } from './local-ports.ts'
import { runState } from './run-state.ts'
import { log, runScript, UsageError } from './script-cli.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const RUN = path.join(ROOT, '.cache', 'mtconnect-agent', 'run')
const SIMULATOR = path.join(ROOT, 'examples', 'mtconnect-agent-factory', 'simulator.ts')
const FORMATS = ['xml', 'json1', 'json2']

/** What `state.json` holds and `status --json` prints. */
export interface AgentState {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly periodMs: number
  readonly format: string
  readonly url: string
  readonly log: string
  /** The agent process, leader of its own process group (pgid = pid). */
  pid: number | null
}

const states = runState<AgentState>(RUN)
const readState = states.read
const writeState = states.write
const agentNames = states.names

/** True when `pid` is our simulator on `port` (not a recycled pid, not a zombie). */
function isAgent(pid: number | null, port: number): boolean {
  if (!pid) return false
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return argv.includes(SIMULATOR) && argv[argv.indexOf('--port') + 1] === String(port)
  } catch {
    return false
  }
}

function running(state: AgentState): boolean {
  return isAgent(state.pid, state.port)
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Whether GET /probe answers 200 (the agent serves). */
function probes(host: string, port: number): Promise<boolean> {
  return fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/probe`, { signal: AbortSignal.timeout(2000) })
    .then(async (res) => {
      await res.arrayBuffer()
      return res.status === 200
    })
    .catch(() => false)
}

export interface StartOptions {
  readonly name: string
  readonly port?: number
  readonly host?: string
  readonly periodMs?: number
  readonly format?: string
  readonly timeoutMs?: number
}

/** Starts the agent (a no-op when it runs) and resolves once it answers `probe`. */
export async function start(opts: StartOptions): Promise<AgentState> {
  const before = readState(opts.name)
  if (before && running(before)) {
    log(`mtconnect-agent '${opts.name}': runs already, ${before.url}`)
    return before
  }
  const host = opts.host ?? before?.host ?? '127.0.0.1'
  const port = opts.port ?? before?.port ?? 5000
  const periodMs = opts.periodMs ?? before?.periodMs ?? 500
  const format = opts.format ?? before?.format ?? 'xml'
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port ${port}: not a port`)
  if (!(periodMs >= 10)) throw new UsageError(`--period ${periodMs}: at least 10 ms`)
  if (!FORMATS.includes(format)) throw new UsageError(`--format ${format}: one of ${FORMATS.join(', ')}`)
  if (!(await canBind(host, port))) throw new UsageError(`port ${port} is not free on ${host}`)
  const dir = path.join(RUN, opts.name)
  fs.mkdirSync(dir, { recursive: true })
  const logFile = path.join(dir, 'agent.log')
  const offset = fs.statSync(logFile, { throwIfNoEntry: false })?.size ?? 0
  const out = fs.openSync(logFile, 'a')
  // Its own process group (detached), so that stop() ends it and anything it started with one kill(-pgid).
  const child = spawn(
    process.execPath,
    [SIMULATOR, '--port', String(port), '--host', host, '--period', String(periodMs), '--format', format],
    { cwd: ROOT, detached: true, stdio: ['ignore', out, out] },
  )
  fs.closeSync(out)
  child.unref()
  const state: AgentState = {
    name: opts.name,
    host,
    port,
    periodMs,
    format,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    log: logFile,
    pid: child.pid ?? null,
  }
  writeState(state)
  const timeoutMs = opts.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!running(state)) {
      const text = fs.readFileSync(logFile, 'utf8').slice(offset)
      throw new Error(`mtconnect-agent '${opts.name}' exited; its output:\n${text.trim() || tail(logFile)}`)
    }
    if (await probes(host, port)) break
    if (Date.now() > deadline) {
      throw new Error(
        `mtconnect-agent '${opts.name}' does not answer probe after ${timeoutMs / 1000} s; see ${logFile}`,
      )
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  log(`mtconnect-agent '${opts.name}': ${state.url} (${format}, a change every ${periodMs} ms), log ${logFile}`)
  return state
}

/** Stops an agent's process group: SIGTERM, SIGKILL after `graceMs`; `clean` deletes its state. */
export async function stop(name: string, clean = false, graceMs = 10_000): Promise<void> {
  const state = readState(name)
  if (!state) return
  const pid = state.pid
  const up = (): boolean => isAgent(pid, state.port)
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
  if (clean) fs.rmSync(path.join(RUN, name), { recursive: true, force: true })
  else {
    state.pid = null
    writeState(state)
  }
  log(`mtconnect-agent '${name}': stopped${clean ? ', state deleted' : ''}`)
}

export function status(name?: string): (AgentState & { running: boolean })[] {
  const names = name ? [name] : agentNames()
  return names.flatMap((n) => {
    const s = readState(n)
    return s ? [{ ...s, running: running(s) }] : []
  })
}

function parseFlags(argv: string[]): { cmd: string; flags: Map<string, string | true> } {
  const [cmd = 'help', ...rest] = argv
  const flags = new Map<string, string | true>()
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}'`)
    const key = a.slice(2)
    if (['json', 'clean'].includes(key)) flags.set(key, true)
    else if (['name', 'port', 'host', 'period', 'format'].includes(key)) {
      const v = rest[++i]
      if (v === undefined) throw new UsageError(`--${key} needs a value`)
      flags.set(key, v)
    } else throw new UsageError(`unknown option --${key}`)
  }
  return { cmd, flags }
}

const HELP = `scripts/mtconnect-agent: the example factory's simulated MTConnect agent, in the background
  start [--name N] [--port P] [--host H] [--period MS] [--format xml|json1|json2]
                          start (default name 'example', port 5000) and wait until it answers probe
  status [--name N] [--json]   list agents
  stop [--name N] [--clean]    stop one agent (default: all); --clean deletes its state and log`

async function main(argv: string[]): Promise<number> {
  const { cmd, flags } = parseFlags(argv)
  const str = (k: string): string | undefined => {
    const v = flags.get(k)
    return typeof v === 'string' ? v : undefined
  }
  const num = (k: string): number | undefined => (str(k) === undefined ? undefined : Number(str(k)))
  switch (cmd) {
    case 'start': {
      const state = await start({
        name: str('name') ?? 'example',
        ...(num('port') !== undefined ? { port: num('port') } : {}),
        ...(str('host') !== undefined ? { host: str('host') } : {}),
        ...(num('period') !== undefined ? { periodMs: num('period') } : {}),
        ...(str('format') !== undefined ? { format: str('format') } : {}),
      })
      console.log(state.url)
      return 0
    }
    case 'stop': {
      const name = str('name')
      for (const n of name ? [name] : agentNames()) await stop(n, flags.has('clean'))
      return 0
    }
    case 'status': {
      const list = status(str('name'))
      if (flags.has('json')) console.log(JSON.stringify(list, null, 2))
      else if (list.length === 0) console.log('no agent')
      else {
        for (const s of list) {
          console.log(
            `${s.name}: ${s.running ? `running (pid ${s.pid})` : 'stopped'}, ${s.url}, ${s.format}, log ${s.log}`,
          )
        }
      }
      return 0
    }
    case 'help':
    case '--help':
      console.log(HELP)
      return 0
    default:
      throw new UsageError(`unknown command '${cmd}'`)
  }
}

if (import.meta.main) runScript('scripts/mtconnect-agent', HELP, main)
