/**
 * Options of the Kafka backbone, validated once by `openKafkaLog`. The connection part mirrors factory.yaml's
 * `backbone.kafka` (`KafkaBackboneOptions` in @openfactory/model: `bootstrapServers`, `clientId`, `security`),
 * so a loaded manifest's `backbone` can be passed as it is; the rest tunes the producer and consumers.
 */
import fs from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { TopicSpec } from '@openfactory/log'
import { OpenFactoryError } from '@openfactory/model'

export type KafkaSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL'
export type KafkaSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

export interface KafkaSecurityOptions {
  /** Default `PLAINTEXT`; `SSL` and `SASL_SSL` use TLS, `SASL_*` need `sasl`. */
  readonly protocol?: KafkaSecurityProtocol
  /** The password itself, or `passwordFile`: the file holding it, read when the log opens (exactly one). */
  readonly sasl?: {
    readonly mechanism: KafkaSaslMechanism
    readonly username: string
    readonly password?: string
    readonly passwordFile?: string
  }
  /** `ca`, `cert`, `key`: file paths or PEM text. `rejectUnauthorized` defaults to true. */
  readonly tls?: {
    readonly ca?: string
    readonly cert?: string
    readonly key?: string
    readonly rejectUnauthorized?: boolean
  }
}

export interface KafkaLogOptions {
  /** Accepted so that a manifest's `backbone` can be passed as it is; must be `kafka` when present. */
  readonly type?: 'kafka'
  /** `host:port` of one or more brokers, as a list or a comma-separated text. */
  readonly bootstrapServers: readonly string[] | string
  /** Default `openfactory`. */
  readonly clientId?: string
  readonly security?: KafkaSecurityOptions
  /**
   * `all` (default): an append resolves once every in-sync replica has the records, through an idempotent
   * producer (no duplicates on retries). `leader`: once the partition leader has them (may lose records when
   * the leader dies).
   */
  readonly acks?: 'all' | 'leader'
  /** How long appends wait to be batched with later ones before a request goes out. Default 0: records gather
   * while the previous produce request is in flight, and go out as soon as it returns. */
  readonly lingerMs?: number
  /** Upper bound of one produce request's records per partition, in bytes (below the broker's
   * `message.max.bytes`). Default 1 000 000. */
  readonly maxBatchBytes?: number
  /** Default `none`. */
  readonly compression?: KafkaCompression
  /** How long a request may take before it fails (and is retried). Default 30 000. */
  readonly requestTimeoutMs?: number
  /** Default 10 000. */
  readonly connectTimeoutMs?: number
  /** How often a failed request is retried (leader changes, a broker restarting), `retryDelayMs` apart. Default 20. */
  readonly retries?: number
  /** Default 500. */
  readonly retryDelayMs?: number
  /** Consumer groups: a member silent for this long leaves the group (unless `ConsumerOptions` says). Default 10 000. */
  readonly sessionTimeoutMs?: number
  /** Consumer groups: heartbeat period. Default a third of the session timeout, at most 3 000. */
  readonly heartbeatIntervalMs?: number
  /** How long `follow` and group consumers wait at the broker for new records per fetch. Default 500. */
  readonly fetchMaxWaitMs?: number
  /**
   * Kafka topic configs added when this log creates a topic (`segment.ms`, `min.cleanable.dirty.ratio`,
   * `min.insync.replicas`...), as a map or per topic spec. The spec's own fields win where they overlap.
   */
  readonly topicConfigs?: Readonly<Record<string, string>> | ((spec: TopicSpec) => Readonly<Record<string, string>>)
}

/** Options with defaults applied and files read. */
export interface ResolvedKafkaLogOptions {
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly protocol: KafkaSecurityProtocol
  readonly sasl?: { readonly mechanism: KafkaSaslMechanism; readonly username: string; readonly password: string }
  readonly tls?: TlsConnectionOptions
  readonly acks: 'all' | 'leader'
  readonly lingerMs: number
  readonly maxBatchBytes: number
  readonly compression: KafkaCompression
  readonly requestTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs?: number
  readonly fetchMaxWaitMs: number
  readonly topicConfigs: (spec: TopicSpec) => Readonly<Record<string, string>>
}

const PROTOCOLS: readonly KafkaSecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']
const MECHANISMS: readonly KafkaSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
const COMPRESSIONS: readonly KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const HOST_PORT = /^(?:[A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/

function invalid(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', `Kafka backbone: ${message}`)
}

function int(value: unknown, field: string, dflt: number, min: number, max = 2 ** 31 - 1): number {
  if (value === undefined) return dflt
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], dflt: T): T {
  if (value === undefined) return dflt
  if (!allowed.includes(value as T)) {
    throw invalid(`${field} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return value as T
}

/** PEM text as it is, or the content of the file it names. */
function pem(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw invalid(`${field} must be a file path or PEM text`)
  if (value.includes('-----BEGIN ')) return value
  try {
    return fs.readFileSync(value, 'utf8')
  } catch (err) {
    throw new OpenFactoryError('OFA_CONFIG_FILE', `Kafka backbone: cannot read ${field} file ${value}`, {
      cause: err,
      where: { file: value },
    })
  }
}

/**
 * The password a file holds (a Docker or Kubernetes secret, a file written by `echo`): its text without one trailing
 * line break. Throws the file system's error.
 */
export function readPasswordFile(file: string): string {
  return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '')
}

/** The SASL password: given, or read from `passwordFile`. Neither, both, or a file that cannot be read is refused. */
function saslPassword(s: { password?: unknown; passwordFile?: unknown }): string {
  if (s.password !== undefined && s.passwordFile !== undefined)
    throw invalid('security.sasl: password and passwordFile exclude each other')
  if (typeof s.password === 'string') return s.password
  if (typeof s.passwordFile !== 'string' || s.passwordFile === '')
    throw invalid('security.sasl.password (or passwordFile) is required')
  try {
    return readPasswordFile(s.passwordFile)
  } catch (err) {
    throw new OpenFactoryError(
      'OFA_CONFIG_FILE',
      `Kafka backbone: cannot read security.sasl.passwordFile ${s.passwordFile}`,
      { cause: err, where: { file: s.passwordFile } },
    )
  }
}

/** `bootstrapServers` as a list of `host:port`. */
export function parseBootstrapServers(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : value
  if (!Array.isArray(list)) throw invalid('bootstrapServers must be a list of host:port or a comma-separated text')
  const brokers = list.map((s) => (typeof s === 'string' ? s.trim() : s)).filter((s) => s !== '')
  if (brokers.length === 0) throw invalid('bootstrapServers names no broker')
  for (const b of brokers) {
    const m = typeof b === 'string' ? HOST_PORT.exec(b) : null
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65_535) {
      throw invalid(`bootstrapServers: ${JSON.stringify(b)} is not host:port`)
    }
  }
  return brokers as string[]
}

export function resolveKafkaLogOptions(opts: KafkaLogOptions): ResolvedKafkaLogOptions {
  if (opts === null || typeof opts !== 'object') throw invalid('options must be an object')
  if (opts.type !== undefined && opts.type !== 'kafka') throw invalid(`type must be kafka, got ${String(opts.type)}`)
  const brokers = parseBootstrapServers(opts.bootstrapServers)
  const clientId = opts.clientId ?? 'openfactory'
  if (typeof clientId !== 'string' || clientId === '') throw invalid('clientId must be a non-empty text')
  const security = opts.security ?? {}
  const protocol = oneOf(security.protocol, 'security.protocol', PROTOCOLS, 'PLAINTEXT')
  const usesSasl = protocol.startsWith('SASL_')
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL'
  let sasl: ResolvedKafkaLogOptions['sasl']
  if (usesSasl) {
    const s = security.sasl
    if (!s) throw invalid(`security.protocol ${protocol} needs security.sasl (mechanism, username, password)`)
    const mechanism = oneOf(s.mechanism, 'security.sasl.mechanism', MECHANISMS, 'PLAIN')
    if (typeof s.username !== 'string' || s.username === '') throw invalid('security.sasl.username is required')
    sasl = { mechanism, username: s.username, password: saslPassword(s) }
  } else if (security.sasl) {
    throw invalid(`security.sasl is set but security.protocol is ${protocol}; use SASL_PLAINTEXT or SASL_SSL`)
  }
  let tls: TlsConnectionOptions | undefined
  if (usesTls) {
    const t = security.tls ?? {}
    const ca = pem(t.ca, 'security.tls.ca')
    const cert = pem(t.cert, 'security.tls.cert')
    const key = pem(t.key, 'security.tls.key')
    if ((cert === undefined) !== (key === undefined)) throw invalid('security.tls: cert and key go together')
    if (t.rejectUnauthorized !== undefined && typeof t.rejectUnauthorized !== 'boolean') {
      throw invalid('security.tls.rejectUnauthorized must be true or false')
    }
    tls = {
      rejectUnauthorized: t.rejectUnauthorized ?? true,
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert, key } : {}),
    }
  } else if (security.tls) {
    throw invalid(`security.tls is set but security.protocol is ${protocol}; use SSL or SASL_SSL`)
  }
  const sessionTimeoutMs = int(opts.sessionTimeoutMs, 'sessionTimeoutMs', 10_000, 1000)
  const topicConfigs = opts.topicConfigs
  if (topicConfigs !== undefined && typeof topicConfigs !== 'function' && typeof topicConfigs !== 'object') {
    throw invalid('topicConfigs must be a map of Kafka topic configs or a function returning one')
  }
  return {
    brokers,
    clientId,
    protocol,
    ...(sasl ? { sasl } : {}),
    ...(tls ? { tls } : {}),
    acks: oneOf(opts.acks, 'acks', ['all', 'leader'], 'all'),
    lingerMs: int(opts.lingerMs, 'lingerMs', 0, 0, 60_000),
    maxBatchBytes: int(opts.maxBatchBytes, 'maxBatchBytes', 1_000_000, 1024),
    compression: oneOf(opts.compression, 'compression', COMPRESSIONS, 'none'),
    requestTimeoutMs: int(opts.requestTimeoutMs, 'requestTimeoutMs', 30_000, 100),
    connectTimeoutMs: int(opts.connectTimeoutMs, 'connectTimeoutMs', 10_000, 100),
    retries: int(opts.retries, 'retries', 20, 0, 1000),
    retryDelayMs: int(opts.retryDelayMs, 'retryDelayMs', 500, 0, 60_000),
    sessionTimeoutMs,
    ...(opts.heartbeatIntervalMs !== undefined
      ? { heartbeatIntervalMs: int(opts.heartbeatIntervalMs, 'heartbeatIntervalMs', 0, 100, sessionTimeoutMs) }
      : {}),
    fetchMaxWaitMs: int(opts.fetchMaxWaitMs, 'fetchMaxWaitMs', 500, 0, 30_000),
    topicConfigs:
      typeof topicConfigs === 'function' ? topicConfigs : () => (topicConfigs as Record<string, string>) ?? {},
  }
}
