/**
 * Credentials for a stack's services, as Docker secrets. A factory's files name their credentials as variables
 * (`password: ${OPCUA_PASSWORD}`, expanded when the files are loaded: model's expand-env.ts); `ofa apply` has them
 * in its environment (or `.ofaenv`), the services do not. So each variable the files refer to and `ofa apply` has
 * becomes a secret — named by a hash of the stack, the variable and its value, so that a new value is a new secret
 * and the services using it are updated (a secret cannot change) — mounted in each of our services at
 * `/run/secrets/ofa-env-<NAME>`, where `ofa run` reads it back into its environment (secretsEnv). The values are in
 * no stack file, no service spec and no log record.
 *
 * Every service of our image loads the whole factory, so each gets every variable. Apps of other images get none (an
 * app's own `environment` is its business). Secrets of the stack no service uses are removed after an apply.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Env, referencedVariables } from '@openfactory/model'
import type { DockerClient } from '../image/docker-client.ts'
import type { StackFile } from './stack.ts'

/** The file name prefix of a variable's secret in the container (`/run/secrets/ofa-env-NAME`). */
export const SECRET_FILE_PREFIX = 'ofa-env-'
/** Where the secrets are in a container. */
export const SECRETS_DIR = '/run/secrets'
const STACK_LABEL = 'io.openfactory.stack'

export interface StackSecret {
  readonly variable: string
  /** The key in the stack file. */
  readonly key: string
  /** The secret's name in the engine. */
  readonly name: string
  readonly value: string
}

/** A secret for each variable the YAML files refer to that `env` has. */
export function stackSecrets(stack: string, files: ReadonlyMap<string, Buffer>, env: Env): StackSecret[] {
  const names = new Set<string>()
  for (const [path, content] of files) {
    if (/\.ya?ml$/i.test(path)) for (const n of referencedVariables(content.toString('utf8'))) names.add(n)
  }
  const out: StackSecret[] = []
  for (const variable of [...names].sort()) {
    const value = Object.hasOwn(env, variable) ? env[variable] : undefined
    if (typeof value !== 'string') continue // unset: its default applies (else the files did not load)
    const hash = createHash('sha256').update(`${stack}\0${variable}\0${value}`).digest('hex').slice(0, 16)
    const safe = variable.replace(/[^A-Za-z0-9_.-]/g, '_')
    out.push({ variable, key: `env_${safe}`, name: `ofa-${safe.slice(0, 40)}-${hash}`, value })
  }
  return out
}

/** The stack file with the secrets: declared (external: made by createSecrets) and mounted in our services. */
export function withSecrets(stackFile: StackFile, secrets: readonly StackSecret[], image: string): StackFile {
  if (secrets.length === 0) return stackFile
  const mounts = secrets.map((s) => ({ source: s.key, target: `${SECRET_FILE_PREFIX}${s.variable}` }))
  return {
    ...stackFile,
    services: Object.fromEntries(
      Object.entries(stackFile.services).map(([n, s]) => [n, s.image === image ? { ...s, secrets: mounts } : s]),
    ),
    secrets: Object.fromEntries(secrets.map((s) => [s.key, { external: true as const, name: s.name }])),
  }
}

/** Creates the secrets the engine does not have yet (labelled with the stack). */
export async function createSecrets(docker: DockerClient, stack: string, secrets: readonly StackSecret[]) {
  for (const s of secrets) {
    if ((await docker.run(['secret', 'inspect', '--format', '{{.ID}}', s.name])).code === 0) continue
    const create = docker.start(['secret', 'create', '--label', `${STACK_LABEL}=${stack}`, s.name, '-'])
    await create.write(Buffer.from(s.value, 'utf8'))
    const r = await create.end()
    if (r.code !== 0) throw new Error(`docker secret create ${s.name} failed: ${r.stderr.trim()}`)
  }
}

/** Removes the stack's secrets not in `keep` (one a service still uses, the engine refuses to remove: kept). */
export async function pruneSecrets(docker: DockerClient, stack: string, keep: readonly StackSecret[]) {
  const names = new Set(keep.map((s) => s.name))
  const r = await docker.run(['secret', 'ls', '--filter', `label=${STACK_LABEL}=${stack}`, '--format', '{{.Name}}'])
  for (const name of r.stdout.split('\n').map((l) => l.trim())) {
    if (name && !names.has(name)) await docker.run(['secret', 'rm', name])
  }
}

/** `env` with the variables of the secrets mounted in this container (those `env` sets win). */
export async function secretsEnv(env: Env, dir = SECRETS_DIR): Promise<Env> {
  let files: string[]
  try {
    files = (await readdir(dir)).filter((f) => f.startsWith(SECRET_FILE_PREFIX))
  } catch {
    return env
  }
  const out: Record<string, string | undefined> = {}
  for (const f of files) out[f.slice(SECRET_FILE_PREFIX.length)] = await readFile(join(dir, f), 'utf8')
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}
