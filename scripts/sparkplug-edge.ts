// The Sparkplug B edge node of the MQTT tests (scripts/peers/sparkplug_edge.py): paho-mqtt and Google's protobuf from
// PyPI, installed once into .cache/sparkplug/venv-<hash> (python-env.ts), with our
// packages/connector-mqtt/proto/sparkplug_b.proto compiled by grpcio-tools into that venv's gen/ folder. Tests start
// the edge node themselves (`startEdge`), one per test, against the broker they use.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ensurePythonEnv, pythonEnvDir, ROOT, runOrThrow } from './python-env.ts'
import { log } from './script-cli.ts'

const REQUIREMENTS = path.join(ROOT, 'scripts', 'peers', 'sparkplug-requirements.txt')
const PROTO = path.join(ROOT, 'packages', 'connector-mqtt', 'proto', 'sparkplug_b.proto')
const EDGE = path.join(ROOT, 'scripts', 'peers', 'sparkplug_edge.py')

/** Installs the venv once and compiles the .proto (again when it changed); returns the python and the gen folder. */
export async function install(): Promise<{ python: string; gen: string }> {
  const python = await ensurePythonEnv({
    name: 'sparkplug',
    requirements: REQUIREMENTS,
    check: 'import paho.mqtt.client, google.protobuf, grpc_tools',
    log: (m) => log(`sparkplug edge: ${m}`),
  })
  const gen = path.join(pythonEnvDir({ name: 'sparkplug', requirements: REQUIREMENTS }), 'gen')
  const out = path.join(gen, 'sparkplug_b_pb2.py')
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(PROTO).mtimeMs) {
    fs.mkdirSync(gen, { recursive: true })
    await runOrThrow(python, ['-m', 'grpc_tools.protoc', `-I${path.dirname(PROTO)}`, `--python_out=${gen}`, PROTO])
  }
  return { python, gen }
}

export interface EdgeOptions {
  readonly port: number
  readonly group?: string
  readonly node?: string
  readonly device?: string
  readonly bdSeq?: number
}

/** A running edge node: `send` writes a command line, `lines` holds what it printed, `waitFor` waits for a line. */
export interface Edge {
  readonly process: ChildProcessWithoutNullStreams
  readonly lines: string[]
  send(line: string): void
  waitFor(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>
  stop(): Promise<void>
}

export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  const { python, gen } = await install()
  const args = [EDGE, '--port', String(opts.port), '--gen', gen]
  if (opts.group) args.push('--group', opts.group)
  if (opts.node) args.push('--node', opts.node)
  if (opts.device) args.push('--device', opts.device)
  if (opts.bdSeq !== undefined) args.push('--bdseq', String(opts.bdSeq))
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  let stderr = ''
  let buffer = ''
  const waiters = new Set<() => void>()
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString()
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
    for (const w of waiters) w()
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const edge: Edge = {
    process: child,
    lines,
    send: (line) => void child.stdin.write(`${line}\n`),
    waitFor: (match, what, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match)
          if (found !== undefined) {
            waiters.delete(check)
            clearTimeout(timer)
            resolve(found)
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`edge node: timed out waiting for ${what}; it printed ${JSON.stringify(lines)}\n${stderr}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
    stop: async () => {
      if (child.exitCode === null) {
        child.stdin.end('quit\n')
        const t = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(t)
      }
    },
  }
  return edge
}

/** `npx node scripts/sparkplug-edge.ts --port P [--group G --node N --device D]`: the edge node, on this terminal. */
if (import.meta.main) {
  const { python, gen } = await install()
  const child = spawn(python, [EDGE, '--gen', gen, ...process.argv.slice(2)], { stdio: 'inherit' })
  child.on('exit', (code) => process.exit(code ?? 1))
}
