// The Docker engine the image and swarm tests run against.
//
// `npm test` (scripts/test.ts) starts a private dockerd in swarm mode with scripts/docker and passes its socket in
// OFA_DOCKER_HOST. Run alone (`npx node --test packages/cli/test/docker.test.ts`), the tests start it themselves
// (scripts/docker start: docker.io installed if dockerd is missing; left running, stop it with
// `scripts/docker stop --clean`). In CI a missing variable is an error: the tests fail, they never skip.
import { spawn } from 'node:child_process'
import type { TestContext } from 'node:test'
import { ENV_VAR, start } from '../../../scripts/docker.ts'

let engine: Promise<string> | undefined

/** DOCKER_HOST of the test engine (`unix:///.../docker.sock`), a single-node swarm manager. */
export function dockerHost(): Promise<string> {
  engine ??= (async () => {
    const given = process.env[ENV_VAR]
    if (given) return given
    if (process.env.CI) {
      throw new Error(`${ENV_VAR} is not set: the docker tests need the dockerd that scripts/test.ts starts (npm test)`)
    }
    return (await start()).host
  })()
  return engine
}

export interface DockerRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the docker command line against the test engine. */
export async function docker(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<DockerRun> {
  const host = await dockerHost()
  return new Promise((resolve, reject) => {
    const child = spawn('docker', [...args], {
      env: { ...process.env, DOCKER_HOST: host, DOCKER_CONTEXT: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 120_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
  })
}

/** Like docker(), failing with docker's output when it exits non-zero. */
export async function dockerOk(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(args, opts)
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`)
  return r.stdout
}

/** The stack removed after the test, its containers gone, and the secrets it made removed. */
export function removeStackAfter(t: TestContext, stack: string): void {
  t.after(async () => {
    await docker(['stack', 'rm', stack])
    const deadline = Date.now() + 90_000
    while ((await dockerOk(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim() !== '') {
      if (Date.now() > deadline) throw new Error(`the containers of stack ${stack} still there after 90 s`)
      await new Promise((r) => setTimeout(r, 500))
    }
    const left = (await dockerOk(['secret', 'ls', '-q', '--filter', `label=io.openfactory.stack=${stack}`])).trim()
    if (left) await docker(['secret', 'rm', ...left.split('\n')])
  })
}
