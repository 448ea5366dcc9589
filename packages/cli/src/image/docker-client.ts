/**
 * The `docker` command line, run as a child process against one engine (`host`: DOCKER_HOST, e.g.
 * `unix:///var/run/docker.sock`). We drive the client rather than the Engine API so that what `ofa` does can be
 * repeated by hand with the same commands, and so that contexts, TLS settings and SSH hosts work as docker has them.
 * Every failure to start the client is `OFA_DOCKER_MISSING`; an engine that does not answer is
 * `OFA_DOCKER_UNREACHABLE`.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { OpenFactoryError } from '@openfactory/model'

export interface DockerClientOptions {
  /** DOCKER_HOST for every command; absent: the environment's (or docker's default socket). */
  readonly host?: string
  /** The environment docker runs with (PATH, HOME, DOCKER_*). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly signal?: AbortSignal
}

export interface DockerResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** A running docker command whose standard input the caller writes (`docker import -`). */
export interface DockerInput {
  /** Writes a chunk, waiting while the pipe is full; rejects once docker has exited. */
  write(chunk: Buffer): Promise<void>
  /** Closes standard input and resolves with docker's result. */
  end(): Promise<DockerResult>
  /** Kills docker before its input is complete (so that it makes nothing of half an input). */
  abort(): Promise<DockerResult>
}

export interface DockerClient {
  /** Where the engine is, for messages: DOCKER_HOST, or `the default engine`. */
  readonly where: string
  run(args: readonly string[]): Promise<DockerResult>
  /** Like run, failing with `OFA_DOCKER_UNREACHABLE` or `code` (with docker's message) when docker fails. */
  runOrThrow(args: readonly string[], code: 'OFA_IMAGE_BUILD', what: string): Promise<string>
  /** Starts a command that reads standard input. */
  start(args: readonly string[]): DockerInput
  /** The engine's version; throws OFA_DOCKER_MISSING or OFA_DOCKER_UNREACHABLE. */
  serverVersion(): Promise<string>
}

/** What the client says when no engine answers at its host. */
const UNREACHABLE = /Cannot connect to the Docker daemon|error during connect/i

export function createDockerClient(options: DockerClientOptions): DockerClient {
  const env: Record<string, string | undefined> = { ...options.env }
  if (options.host !== undefined) env.DOCKER_HOST = options.host
  const where = env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST}` : 'the default engine (DOCKER_HOST is not set)'

  const missing = (err: unknown) =>
    new OpenFactoryError(
      'OFA_DOCKER_MISSING',
      'the docker command is not installed or not on PATH (Debian: apt-get install docker.io; or scripts/docker start)',
      { cause: err },
    )
  const unreachable = (stderr: string) =>
    new OpenFactoryError('OFA_DOCKER_UNREACHABLE', `no Docker engine answers at ${where}: ${stderr.trim()}`, {
      retryable: true,
    })

  function spawnDocker(args: readonly string[], input: boolean) {
    const child = spawn('docker', [...args], {
      env,
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      signal: options.signal,
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const done = new Promise<DockerResult>((resolve, reject) => {
      child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? missing(err) : err))
      child.on('close', (code, signal) => resolve({ code: code ?? 128 + (signal ? 15 : 0), stdout, stderr }))
    })
    return { child, done }
  }

  const client: DockerClient = {
    where,
    run: (args) => spawnDocker(args, false).done,
    async runOrThrow(args, code, what) {
      const r = await client.run(args)
      if (r.code === 0) return r.stdout
      if (UNREACHABLE.test(r.stderr)) throw unreachable(r.stderr)
      throw new OpenFactoryError(code, `${what}: docker ${args[0]} failed (exit ${r.code}): ${r.stderr.trim()}`)
    },
    start(args) {
      const { child, done } = spawnDocker(args, true)
      const stdin = child.stdin!
      let exited = false
      const ended = done.finally(() => {
        exited = true
      })
      ended.catch(() => {})
      stdin.on('error', () => {}) // EPIPE once docker exits: its exit status and stderr tell why
      return {
        async write(chunk) {
          if (exited) throw new Error('docker exited before it read all its input')
          if (!stdin.write(chunk)) {
            await Promise.race([once(stdin, 'drain'), ended.then(() => undefined)])
          }
        },
        async end() {
          stdin.end()
          return ended
        },
        async abort() {
          if (!exited) child.kill('SIGKILL')
          return ended.catch((err: unknown) => ({ code: 1, stdout: '', stderr: String(err) }))
        },
      }
    },
    async serverVersion() {
      const r = await client.run(['version', '--format', '{{.Server.Version}}'])
      if (r.code !== 0 || !r.stdout.trim()) throw unreachable(r.stderr || r.stdout)
      return r.stdout.trim()
    },
  }
  return client
}
