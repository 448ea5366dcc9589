import { type ChildProcess, spawn } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import https from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { SqlValue } from '@openfactory/sql'
import { main } from '../src/main.ts'
import type { LocalRuntime } from '../src/runtime/local-runtime.ts'

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `ofa` in-process with captured output. */
export async function ofa(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; stdin?: string; signal?: AbortSignal } = {},
): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    signal: opts.signal ?? new AbortController().signal,
  })
  return { code, stdout, stderr }
}

/**
 * A temporary directory removed after the test. `t.after` hooks run in the order registered, so a runtime started
 * later may still be writing in it when it is removed: stop it in the test's body (removal retries meanwhile).
 */
export async function tempDir(t: TestContext, prefix = 'ofa-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }))
  return dir
}

/** A TCP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** Waits until `check` gives a value other than undefined (a throw counts as not yet), and returns it. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await Promise.resolve()
      .then(check)
      .catch(() => undefined)
    if (v !== undefined && (v as unknown) !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The rows of a pull query on a running factory's SQL engine, as objects by column name. */
export async function pull(rt: LocalRuntime, sql: string): Promise<Record<string, SqlValue>[]> {
  const r = await rt.sql.query(sql)
  const rows: Record<string, SqlValue>[] = []
  for await (const row of r.rows) {
    rows.push(Object.fromEntries(r.header.columnNames.map((c, i) => [c, row[i] ?? null])))
  }
  return rows
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(url, { headers })
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return res.json()
}

/** GET over HTTPS trusting `ca` (PEM): status, headers and the JSON body, whatever the status. */
export function getJsonTls(
  url: string,
  ca: string,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: any }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }))
      })
      .on('error', reject)
  })
}

const DEMO = fileURLToPath(new URL('../../../examples/demo-factory/', import.meta.url))

/**
 * A copy of the demo factory in a temp dir (removed after the test) whose SHDR replay adapter listens on a
 * free port; with `bootstrap`, its factory.yaml names that Kafka as the backbone. Returns the factory folder.
 */
export async function demoCopy(t: TestContext, opts: { bootstrap?: string } = {}): Promise<string> {
  const dir = join(await tempDir(t, 'ofa-demo-'), 'factory')
  await cp(DEMO, dir, { recursive: true, filter: (src) => !src.includes('.ofa-data') })
  const file = join(dir, 'devices', 'cnc-mtconnect.yml')
  await writeFile(file, (await readFile(file, 'utf8')).replace('port: 7878', `port: ${await freePort()}`))
  if (opts.bootstrap) {
    const manifest = join(dir, 'factory.yaml')
    const text = await readFile(manifest, 'utf8')
    await writeFile(manifest, text.replace('type: embedded', `type: kafka\n  bootstrapServers: [${opts.bootstrap}]`))
  }
  return dir
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(ROOT, 'packages/cli/bin/ofa.js')

/** Whether a port of 127.0.0.1 is free (an example's fixed port, checked before its test starts). */
export async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** An `ofa` process of a test. */
export interface OfaProcess {
  readonly child: ChildProcess
  readonly url: Promise<string>
  readonly exited: Promise<number | null>
  output(): string
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * `ofa` as a user runs it (`packages/cli/bin/ofa.js` from the repository), leading its own process group, killed
 * with its group after the test; `url` resolves with the API's address once it prints it.
 */
export function startOfa(t: TestContext, args: string[], env: Record<string, string>): OfaProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  const pgid = child.pid as number
  t.after(() => {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (err = (err + d).slice(-8000)))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = eventually(
    () => {
      if (child.exitCode !== null) throw new Error('exited')
      return /API\s+(https?:\/\/\S+)\/api\/assets/.exec(out)?.[1]
    },
    'ofa up to print its URL',
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; stdout:\n${out}\nstderr:\n${err}`)
  })
  return { child, url, exited, output: () => `${out}\n${err}` }
}
