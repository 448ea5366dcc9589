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
 *
 * The Kafka connection's security goes the same way (withKafkaSecrets): the services get its settings as flags
 * (`--kafka-security-protocol`, `--kafka-username`, ...: stack.ts), its password as the secret of the variable
 * `OFA_KAFKA_PASSWORD` (so `ofa run` reads it as if it were set), and its CA, certificate and key as secrets mounted at
 * KAFKA_TLS_FILES — the files ofa apply was given may be on no node.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readPasswordFile } from '@openfactory/log-kafka'
import {
  BUILTIN_APP_BLOCKS,
  type Env,
  type Factory,
  type KafkaBackboneOptions,
  OpenFactoryError,
  referencedVariables,
} from '@openfactory/model'
import type { DockerClient } from '../image/docker-client.ts'
import { KAFKA_PASSWORD_VARIABLE } from '../runtime/kafka-security.ts'
import type { StackFile } from './stack.ts'

/** The file name prefix of a variable's secret in the container (`/run/secrets/ofa-env-NAME`). */
export const SECRET_FILE_PREFIX = 'ofa-env-'
/** Where the secrets are in a container. */
export const SECRETS_DIR = '/run/secrets'
const STACK_LABEL = 'io.openfactory.stack'

export interface StackSecret {
  /** Mounted only in the services with this container label (the serving app's: its TLS key); default every one. */
  readonly onlyLabel?: string
  /** The environment variable it gives `ofa run` (secretsEnv), if it is one. */
  readonly variable?: string
  /** The key in the stack file. */
  readonly key: string
  /** The secret's name in the engine. */
  readonly name: string
  readonly value: string
  /** Its file name in /run/secrets. */
  readonly target: string
}

/** Where our services find the Kafka connection's PEM files. */
export const KAFKA_TLS_FILES = {
  ca: `${SECRETS_DIR}/ofa-kafka-ca.pem`,
  cert: `${SECRETS_DIR}/ofa-kafka-cert.pem`,
  key: `${SECRETS_DIR}/ofa-kafka-key.pem`,
} as const

/** The container label of the serving app's services: the secrets of its TLS certificate go to them alone. */
export const SERVE_LABEL = 'io.openfactory.serve'

/** Where the serving app finds its HTTPS certificate and key (`ofa apply --tls-cert --tls-key`). */
export const SERVE_TLS_FILES = {
  cert: `${SECRETS_DIR}/ofa-serve-cert.pem`,
  key: `${SECRETS_DIR}/ofa-serve-key.pem`,
} as const

/** A secret of a stack, named by a hash of the stack, what it is and its value (a new value, a new secret). */
function secretOf(
  stack: string,
  id: string,
  value: string,
  s: { key: string; target: string; variable?: string },
): StackSecret {
  const hash = createHash('sha256').update(`${stack}\0${id}\0${value}`).digest('hex').slice(0, 16)
  const safe = id.replace(/[^A-Za-z0-9_.-]/g, '_')
  return { ...s, name: `ofa-${safe.slice(0, 40)}-${hash}`, value }
}

/**
 * The variables our built-in apps read by name (`password_env: PG_PASSWORD`, `secret_env: HOOK_SECRET`: any key
 * ending in `_env` in their block), which the YAML files name without referring to them.
 */
export function builtinAppVariables(factory: Factory): string[] {
  const names = new Set<string>()
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x)
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.endsWith('_env') && typeof x === 'string') names.add(x)
        else walk(x)
      }
    }
  }
  for (const app of factory.apps) {
    const spec = app.spec as unknown as Record<string, unknown>
    for (const block of BUILTIN_APP_BLOCKS) walk(spec[block])
  }
  return [...names]
}

/**
 * A secret for each variable the YAML files refer to that `env` has, and for each of `named` (variables the services
 * read by name: builtinAppVariables) that it has.
 */
export function stackSecrets(
  stack: string,
  files: ReadonlyMap<string, Buffer>,
  env: Env,
  named: readonly string[] = [],
): StackSecret[] {
  const names = new Set<string>(named)
  for (const [path, content] of files) {
    if (/\.ya?ml$/i.test(path)) for (const n of referencedVariables(content.toString('utf8'))) names.add(n)
  }
  const out: StackSecret[] = []
  for (const variable of [...names].sort()) {
    const value = Object.hasOwn(env, variable) ? env[variable] : undefined
    if (typeof value !== 'string') continue // unset: its default applies (else the files did not load)
    const key = `env_${variable.replace(/[^A-Za-z0-9_.-]/g, '_')}`
    out.push(secretOf(stack, variable, value, { key, target: `${SECRET_FILE_PREFIX}${variable}`, variable }))
  }
  return out
}

/** What of the Kafka connection's security goes as a secret: each part's id, file name, and how to read it. */
function kafkaParts(security: KafkaBackboneOptions['security'] | undefined) {
  const parts: { id: string; target: string; variable?: string; read: () => string }[] = []
  const sasl = security?.sasl
  if (sasl) {
    const target = `${SECRET_FILE_PREFIX}${KAFKA_PASSWORD_VARIABLE}`
    parts.push({
      id: 'kafka_password',
      target,
      variable: KAFKA_PASSWORD_VARIABLE,
      read: () => sasl.password ?? readable(sasl.passwordFile as string, readPasswordFile),
    })
  }
  for (const f of ['ca', 'cert', 'key'] as const) {
    const pem = security?.tls?.[f]
    if (pem === undefined) continue
    const target = KAFKA_TLS_FILES[f].slice(SECRETS_DIR.length + 1)
    parts.push({
      id: `kafka_${f}`,
      target,
      read: () => (pem.includes('-----BEGIN') ? pem : readable(pem, (p) => readFileSync(p, 'utf8'))),
    })
  }
  return parts
}

function readable(file: string, read: (file: string) => string): string {
  try {
    return read(file)
  } catch (err) {
    throw new OpenFactoryError('OFA_CONFIG_FILE', `the Kafka connection's ${file} cannot be read`, {
      cause: err,
      where: { file },
    })
  }
}

/**
 * The Kafka connection's password and PEM files as secrets of the stack (module comment), added to the variables'
 * secrets: a file referring to `${OFA_KAFKA_PASSWORD}` itself gets the password the connection uses.
 */
export function withKafkaSecrets(
  stack: string,
  secrets: readonly StackSecret[],
  security: KafkaBackboneOptions['security'] | undefined,
): StackSecret[] {
  const kafka = kafkaParts(security).map((p) =>
    secretOf(stack, p.id, p.read(), { key: p.id, target: p.target, ...(p.variable ? { variable: p.variable } : {}) }),
  )
  const taken = new Set(kafka.map((k) => k.target))
  return [...secrets.filter((s) => !taken.has(s.target)), ...kafka]
}

/**
 * The serving app's HTTPS certificate and key (files on the machine running `ofa apply`) as secrets of the stack,
 * mounted in the serving app's services alone (SERVE_LABEL), at SERVE_TLS_FILES.
 */
export function withServeTlsSecrets(
  stack: string,
  secrets: readonly StackSecret[],
  tls: { readonly cert: string; readonly key: string } | undefined,
): StackSecret[] {
  if (!tls) return [...secrets]
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8')
    } catch (err) {
      throw new OpenFactoryError('OFA_CONFIG_FILE', `the serving app's TLS file ${file} cannot be read`, {
        cause: err,
        where: { file },
      })
    }
  }
  return [
    ...secrets,
    ...(['cert', 'key'] as const).map((f) => ({
      ...secretOf(stack, `serve_${f}`, read(tls[f]), {
        key: `serve_${f}`,
        target: SERVE_TLS_FILES[f].slice(SECRETS_DIR.length + 1),
      }),
      onlyLabel: SERVE_LABEL,
    })),
  ]
}

/**
 * The same secrets under fixed names (`ofa-kafka-password`, `ofa-kafka-ca`, ...), without their values: `ofa stack`
 * prints a stack file, the operator makes them (`docker secret create ofa-kafka-password FILE`).
 */
export function namedKafkaSecrets(security: KafkaBackboneOptions['security'] | undefined): StackSecret[] {
  return kafkaParts(security).map((p) => {
    const name = `ofa-${p.id.replace('_', '-')}`
    return { ...(p.variable ? { variable: p.variable } : {}), key: p.id, name, value: '', target: p.target }
  })
}

/** The serving app's certificate and key under fixed names (`ofa-serve-cert`, `ofa-serve-key`), for `ofa stack --tls`. */
export function namedServeTlsSecrets(): StackSecret[] {
  return (['cert', 'key'] as const).map((f) => ({
    key: `serve_${f}`,
    name: `ofa-serve-${f}`,
    value: '',
    target: SERVE_TLS_FILES[f].slice(SECRETS_DIR.length + 1),
    onlyLabel: SERVE_LABEL,
  }))
}

/** The stack file with the secrets: declared (external: made by createSecrets) and mounted in our services. */
export function withSecrets(stackFile: StackFile, secrets: readonly StackSecret[], image: string): StackFile {
  if (secrets.length === 0) return stackFile
  const mounts = (service: StackFile['services'][string]) =>
    secrets
      .filter((s) => s.onlyLabel === undefined || service.labels[s.onlyLabel] !== undefined)
      .map((s) => ({ source: s.key, target: s.target }))
  return {
    ...stackFile,
    services: Object.fromEntries(
      Object.entries(stackFile.services).map(([n, s]) => {
        const m = s.image === image ? mounts(s) : []
        return [n, m.length > 0 ? { ...s, secrets: m } : s]
      }),
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
