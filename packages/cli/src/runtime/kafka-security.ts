/**
 * The Kafka connection's security as the command line gives it: one set of flags, shared by every command that
 * takes `--bootstrap` (ofa up, run, log, plan, history, stack, apply, rollback, status, device, apps), each with an
 * environment variable, over factory.yaml's `backbone.security` when that names the Kafka connected to. Each
 * setting is taken from its flag, else its variable, else factory.yaml; a flag that its protocol does not use, an
 * unknown value, a missing user name or password, a file that cannot be read are refused with
 * `OFA_CLI_KAFKA_SECURITY`, naming the flag or the variable.
 *
 * Names. The protocol and the mechanism carry Kafka's own client property names (`security.protocol`,
 * `sasl.mechanism`, as every Kafka client and `kcat -X` spell them); the credentials and files carry the name of
 * their key in factory.yaml (`username`, `password`, `passwordFile`, `ca`, `cert`, `key`). Not
 * `OFA_KAFKA_SASL_USERNAME` or `OFA_KAFKA_TLS_CA`: the test harness sets those very names for the cluster it starts
 * (scripts/kafka.ts `envFor`), and every `ofa` a test starts would read them.
 *
 * The password has no flag (a command line shows in `ps` and in shell histories): it comes from `OFA_KAFKA_PASSWORD`,
 * or from a file (`--kafka-password-file`, `OFA_KAFKA_PASSWORD_FILE`: Docker and Kubernetes secrets), or from
 * factory.yaml (`password: ${VAR}`, `passwordFile`). No message here or elsewhere prints it.
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { readPasswordFile } from '@openfactory/log-kafka'
import {
  type Env,
  KAFKA_SASL_MECHANISMS,
  KAFKA_SECURITY_PROTOCOLS,
  type KafkaBackboneOptions,
  type KafkaSaslMechanism,
  type KafkaSaslOptions,
  type KafkaSecurityProtocol,
  OpenFactoryError,
} from '@openfactory/model'

/** The flags, for `parseArgs`. */
export const KAFKA_SECURITY_FLAGS = {
  'kafka-security-protocol': { type: 'string' },
  'kafka-sasl-mechanism': { type: 'string' },
  'kafka-username': { type: 'string' },
  'kafka-password-file': { type: 'string' },
  'kafka-ca': { type: 'string' },
  'kafka-cert': { type: 'string' },
  'kafka-key': { type: 'string' },
} as const

export type KafkaSecurityFlag = keyof typeof KAFKA_SECURITY_FLAGS
/** The flags as `parseArgs` gives them (other flags may be there too). */
export type KafkaSecurityFlags = { readonly [F in KafkaSecurityFlag]?: string }

/** The environment variable of each flag; `OFA_KAFKA_PASSWORD` has no flag. */
export const KAFKA_SECURITY_VARIABLES = {
  'kafka-security-protocol': 'OFA_KAFKA_SECURITY_PROTOCOL',
  'kafka-sasl-mechanism': 'OFA_KAFKA_SASL_MECHANISM',
  'kafka-username': 'OFA_KAFKA_USERNAME',
  'kafka-password-file': 'OFA_KAFKA_PASSWORD_FILE',
  'kafka-ca': 'OFA_KAFKA_CA',
  'kafka-cert': 'OFA_KAFKA_CERT',
  'kafka-key': 'OFA_KAFKA_KEY',
} as const satisfies Record<KafkaSecurityFlag, string>

export const KAFKA_PASSWORD_VARIABLE = 'OFA_KAFKA_PASSWORD'

export type KafkaSecurity = KafkaBackboneOptions['security']

const SASL_SETTINGS: readonly KafkaSecurityFlag[] = ['kafka-sasl-mechanism', 'kafka-username', 'kafka-password-file']
const TLS_SETTINGS: readonly KafkaSecurityFlag[] = ['kafka-ca', 'kafka-cert', 'kafka-key']

export interface KafkaSecurityInput {
  /** The command's parsed flags. */
  readonly flags: KafkaSecurityFlags
  /** The process's environment (not `.ofaenv`: that is for the variables factory files refer to). */
  readonly env: Env
  /** Relative file paths of flags and variables start here. */
  readonly cwd: string
  /** factory.yaml's security, when factory.yaml names the Kafka connected to. */
  readonly base?: KafkaSecurity
  /** False where no connection is made (`ofa stack` prints a stack file): a password is then not required. */
  readonly requirePassword?: boolean
}

function refuse(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_CLI_KAFKA_SECURITY', message)
}

/** A setting given on the command line or in the environment: its value and how the user named it. */
interface Given {
  readonly value: string
  readonly name: string
}

/** The flags given, in the order of KAFKA_SECURITY_FLAGS. */
export function givenKafkaSecurityFlags(flags: KafkaSecurityFlags): string[] {
  return (Object.keys(KAFKA_SECURITY_FLAGS) as KafkaSecurityFlag[])
    .filter((f) => flags[f] !== undefined)
    .map((f) => `--${f}`)
}

/**
 * Refuses the security flags where no Kafka connection is made (`what`: the embedded log, the stack's own Kafka).
 * The variables are left alone there: the environment is shared by every command.
 */
export function refuseKafkaSecurityFlags(flags: KafkaSecurityFlags, what: string): void {
  const given = givenKafkaSecurityFlags(flags)
  if (given.length > 0) throw refuse(`${given.join(', ')}: ${what}`)
}

function oneOf<T extends string>(g: Given | undefined, allowed: readonly T[]): T | undefined {
  if (g === undefined) return undefined
  if (!allowed.includes(g.value as T)) {
    throw refuse(`${g.name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(g.value)}`)
  }
  return g.value as T
}

/** A PEM file named by a flag or variable, as an absolute path; it must be a file. */
function pemFile(g: Given | undefined, cwd: string): string | undefined {
  if (g === undefined) return undefined
  const path = resolve(cwd, g.value)
  let ok = false
  try {
    ok = statSync(path).isFile()
  } catch {}
  if (!ok) throw refuse(`${g.name}: no file ${path}`)
  return path
}

/**
 * The security of the connection: each setting from its flag, else its variable, else `base` (factory.yaml).
 * Settings of the base that the protocol chosen does not use are dropped; flags it does not use are refused, and so
 * are variables, unless the protocol is a flag (a password left behind means a protocol forgotten, unless the command
 * line says which).
 */
export function kafkaSecurity(input: KafkaSecurityInput): KafkaSecurity {
  const { flags, env, cwd, base } = input
  const given = (flag: KafkaSecurityFlag): Given | undefined => {
    const f = flags[flag]
    if (f !== undefined) return { value: f, name: `--${flag}` }
    const variable = KAFKA_SECURITY_VARIABLES[flag]
    const v = env[variable]
    return v !== undefined && v !== '' ? { value: v, name: variable } : undefined
  }
  const protocolGiven = given('kafka-security-protocol')
  const protocol: KafkaSecurityProtocol =
    oneOf(protocolGiven, KAFKA_SECURITY_PROTOCOLS) ?? base?.protocol ?? 'PLAINTEXT'
  const usesSasl = protocol.startsWith('SASL_')
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL'
  const envPassword = env[KAFKA_PASSWORD_VARIABLE]
  const password: Given | undefined =
    envPassword !== undefined && envPassword !== '' ? { value: envPassword, name: KAFKA_PASSWORD_VARIABLE } : undefined
  const saying = protocolGiven ? `${protocolGiven.name} says ${protocol}` : `the security protocol is ${protocol}`
  // A protocol given as a flag is the command line's choice: variables it does not use are then left alone (the
  // environment is shared by every command); anything else it does not use is refused.
  const byFlag = protocolGiven?.name.startsWith('--') === true
  const unused = (found: string[], needs: string) => {
    const names = byFlag ? found.filter((n) => n.startsWith('--')) : found
    if (names.length === 0) return
    throw refuse(
      `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} given but ${saying}: ` +
        `use ${needs} (--kafka-security-protocol or ${KAFKA_SECURITY_VARIABLES['kafka-security-protocol']})`,
    )
  }
  if (!usesSasl) {
    const names = SASL_SETTINGS.flatMap((f) => given(f)?.name ?? [])
    unused(password ? [...names, password.name] : names, 'SASL_PLAINTEXT or SASL_SSL')
  }
  if (!usesTls)
    unused(
      TLS_SETTINGS.flatMap((f) => given(f)?.name ?? []),
      'SSL or SASL_SSL',
    )

  let sasl: KafkaSaslOptions | undefined
  if (usesSasl) {
    const from = base?.sasl
    const mechanism: KafkaSaslMechanism | undefined =
      oneOf(given('kafka-sasl-mechanism'), KAFKA_SASL_MECHANISMS) ?? from?.mechanism
    if (mechanism === undefined) {
      throw refuse(
        `${protocol} needs a SASL mechanism: --kafka-sasl-mechanism or ${KAFKA_SECURITY_VARIABLES['kafka-sasl-mechanism']} ` +
          `(${KAFKA_SASL_MECHANISMS.join(', ')})`,
      )
    }
    const username = given('kafka-username')?.value ?? from?.username
    if (username === undefined) {
      throw refuse(`${protocol} needs a user name: --kafka-username or ${KAFKA_SECURITY_VARIABLES['kafka-username']}`)
    }
    sasl = { mechanism, username, ...saslPassword(input, password, from) }
  }

  let tls: KafkaSecurity['tls']
  if (usesTls) {
    const from = base?.tls
    const ca = pemFile(given('kafka-ca'), cwd) ?? from?.ca
    const certGiven = given('kafka-cert')
    const keyGiven = given('kafka-key')
    if ((certGiven === undefined) !== (keyGiven === undefined)) {
      const [has, lacks] = certGiven
        ? [certGiven.name, '--kafka-key or OFA_KAFKA_KEY']
        : [keyGiven!.name, '--kafka-cert or OFA_KAFKA_CERT']
      throw refuse(`${has} needs ${lacks}: a client certificate and its key go together`)
    }
    const cert = pemFile(certGiven, cwd) ?? from?.cert
    const key = pemFile(keyGiven, cwd) ?? from?.key
    // None given anywhere: the system's CAs, as factory.yaml without `tls:` means.
    if (from !== undefined || ca !== undefined || cert !== undefined) {
      tls = {
        rejectUnauthorized: from?.rejectUnauthorized ?? true,
        ...(ca !== undefined ? { ca } : {}),
        ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
      }
    }
  }
  return { protocol, ...(sasl ? { sasl } : {}), ...(tls ? { tls } : {}) }
}

/**
 * The password: `--kafka-password-file`, else `OFA_KAFKA_PASSWORD` or `OFA_KAFKA_PASSWORD_FILE` (not both), else
 * factory.yaml's (`password`, or `passwordFile`, read when the connection opens).
 */
function saslPassword(
  input: KafkaSecurityInput,
  password: Given | undefined,
  from: KafkaSaslOptions | undefined,
): { password?: string; passwordFile?: string } {
  const flag = input.flags['kafka-password-file']
  const fileVariable = KAFKA_SECURITY_VARIABLES['kafka-password-file']
  const envFile = input.env[fileVariable]
  if (flag === undefined && password && envFile !== undefined && envFile !== '') {
    throw refuse(`${KAFKA_PASSWORD_VARIABLE} and ${fileVariable} are both set: set one`)
  }
  const file: Given | undefined =
    flag !== undefined
      ? { value: flag, name: '--kafka-password-file' }
      : password === undefined && envFile !== undefined && envFile !== ''
        ? { value: envFile, name: fileVariable }
        : undefined
  if (file) {
    const path = resolve(input.cwd, file.value)
    let text: string
    try {
      text = readPasswordFile(path)
    } catch (err) {
      throw new OpenFactoryError('OFA_CLI_KAFKA_SECURITY', `${file.name}: cannot read ${path}`, { cause: err })
    }
    if (text === '') throw refuse(`${file.name}: ${path} is empty`)
    return { password: text }
  }
  if (password) return { password: password.value }
  if (from?.password !== undefined) return { password: from.password }
  if (from?.passwordFile !== undefined) return { passwordFile: from.passwordFile }
  if (input.requirePassword === false) return {}
  throw refuse(
    `SASL needs a password: ${KAFKA_PASSWORD_VARIABLE}, --kafka-password-file or ${fileVariable} ` +
      '(no flag takes the password itself: a command line shows in ps)',
  )
}

/**
 * The flags that give a process the non-secret part of `security` (the password goes as `OFA_KAFKA_PASSWORD`, a
 * Docker secret in a stack: deploy/secrets.ts). `files`: where that process finds the CA, certificate and key.
 */
export function kafkaSecurityArgs(
  security: KafkaSecurity,
  files: { readonly ca: string; readonly cert: string; readonly key: string },
): string[] {
  const args = ['--kafka-security-protocol', security.protocol]
  if (security.sasl)
    args.push('--kafka-sasl-mechanism', security.sasl.mechanism, '--kafka-username', security.sasl.username)
  const tls = security.tls
  if (tls?.ca !== undefined) args.push('--kafka-ca', files.ca)
  if (tls?.cert !== undefined && tls.key !== undefined) args.push('--kafka-cert', files.cert, '--kafka-key', files.key)
  return args
}
