/**
 * The backbone a runtime runs on: factory.yaml's `backbone`, or the one given on the command line
 * (`--backbone kafka --bootstrap HOST:PORT`, `--data DIR`), with the Kafka connection's security from the
 * `--kafka-*` flags and `OFA_KAFKA_*` variables over factory.yaml's (kafka-security.ts), opened, with the factory's
 * topics created.
 */
import { resolve } from 'node:path'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { openKafkaLog, parseBootstrapServers } from '@openfactory/log-kafka'
import {
  type BackboneOptions,
  type Env,
  type FactoryManifest,
  type KafkaBackboneOptions,
  OpenFactoryError,
  TOPICS,
  topicSettings,
} from '@openfactory/model'
import { type KafkaSecurityFlags, kafkaSecurity, refuseKafkaSecurityFlags } from './kafka-security.ts'

/** What the command line says about the backbone; each field overrides factory.yaml. */
export interface BackboneOverrides {
  /** `embedded` or `kafka`. */
  readonly backbone?: string
  /** Kafka bootstrap servers, `host:port[,host:port...]`. */
  readonly bootstrap?: string
  /** Data directory of the embedded log. */
  readonly dataDir?: string
  /** `--kafka-security-protocol`, `--kafka-username`, ... (kafka-security.ts). */
  readonly kafkaSecurity?: KafkaSecurityFlags
}

export interface OpenedBackbone {
  readonly log: EventLog
  /** Where the data is, for people: the data directory or the bootstrap servers. */
  readonly where: string
}

/**
 * factory.yaml's backbone with the command line's overrides applied; on Kafka, each security setting from its flag,
 * else its variable of `env`, else factory.yaml.
 */
export function chooseBackbone(
  manifest: FactoryManifest,
  over: BackboneOverrides,
  cwd: string,
  env: Env = {},
): BackboneOptions {
  const from = manifest.backbone
  const type = over.backbone ?? (over.bootstrap !== undefined ? 'kafka' : from.type)
  const flags = over.kafkaSecurity ?? {}
  if (type === 'embedded') {
    if (over.bootstrap !== undefined) throw usage('--bootstrap needs --backbone kafka')
    // An edge's forwarding to Kafka takes its security from factory.yaml's backbone.forward alone.
    refuseKafkaSecurityFlags(
      flags,
      'the backbone is the embedded log (give --bootstrap, or name Kafka in factory.yaml)',
    )
    const dataDir = over.dataDir ?? (from.type === 'embedded' ? from.dataDir : undefined)
    const forward = from.type === 'embedded' ? from.forward : undefined
    return { type: 'embedded', dataDir: resolve(cwd, dataDir ?? '.ofa-data'), ...(forward ? { forward } : {}) }
  }
  if (type !== 'kafka') throw usage(`--backbone must be embedded or kafka, got "${type}"`)
  if (over.dataDir !== undefined) throw usage('--data is for the embedded backbone')
  // The connection's client id, and the security settings the command line leaves, stay those of factory.yaml when
  // it names Kafka too.
  const named: KafkaBackboneOptions | undefined = from.type === 'kafka' ? from : undefined
  const security = kafkaSecurity({ flags, env, cwd, ...(named ? { base: named.security } : {}) })
  if (over.bootstrap !== undefined) {
    const bootstrapServers = bootstrapFlag(over.bootstrap)
    return named
      ? { ...named, bootstrapServers, security }
      : { type: 'kafka', bootstrapServers, clientId: 'openfactory', security }
  }
  if (!named) throw usage('--backbone kafka needs --bootstrap HOST:PORT (factory.yaml names no Kafka)')
  return { ...named, security }
}

/** `--bootstrap HOST:PORT,...` as a list of servers; a malformed one is a usage error (exit 2). */
export function bootstrapFlag(value: string): string[] {
  try {
    return parseBootstrapServers(value)
  } catch (err) {
    throw usage(`--bootstrap: ${(err as Error).message.replace(/^Kafka backbone: /, '')}`)
  }
}

function usage(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_CLI_USAGE', message)
}

/** Opens the backbone and creates the factory's topics that are missing. */
export async function openBackbone(manifest: FactoryManifest, options: BackboneOptions): Promise<OpenedBackbone> {
  const log: EventLog =
    options.type === 'embedded'
      ? await openEmbeddedLog({ dir: options.dataDir ?? resolve('.ofa-data') })
      : await openKafkaLog(options)
  try {
    await ensureFactoryTopics(log, manifest)
  } catch (err) {
    await log.close().catch(() => {})
    throw err
  }
  return { log, where: backboneWhere(options) }
}

/**
 * Where the data is, for people: the data directory, or the bootstrap servers with the protocol and the SASL user
 * when the connection is secured (`kafka b-1:9093 (SASL_SSL, SCRAM-SHA-512 as ofa)`); never a password.
 */
export function backboneWhere(options: BackboneOptions): string {
  if (options.type === 'embedded') return options.dataDir ?? resolve('.ofa-data')
  const servers = `kafka ${options.bootstrapServers.join(',')}`
  const { protocol, sasl } = options.security
  if (protocol === 'PLAINTEXT') return servers
  return `${servers} (${protocol}${sasl ? `, ${sasl.mechanism} as ${sasl.username}` : ''})`
}

/**
 * The topics every factory uses, with factory.yaml's settings: observations, the registry, asset documents,
 * where connectors resume (`ofa_connector_state`), and the UNS map (`asset_to_uns_map_topic`).
 */
export async function ensureFactoryTopics(log: EventLog, manifest: FactoryManifest): Promise<void> {
  const existing = new Set(await log.listTopics())
  const specs = [
    { name: TOPICS.assets, cleanupPolicy: 'delete' as const },
    { name: TOPICS.registry, cleanupPolicy: 'compact' as const },
    { name: TOPICS.documents, cleanupPolicy: 'compact' as const },
    { name: TOPICS.connectorState, cleanupPolicy: 'compact' as const },
    { name: TOPICS.unsMap, cleanupPolicy: 'compact' as const },
  ]
  for (const s of specs) {
    if (!existing.has(s.name)) await log.createTopic({ ...s, ...topicSettings(manifest, s.name) })
  }
}
