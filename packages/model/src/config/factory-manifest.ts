/**
 * `factory.yaml`: our root manifest (not a reference format). Its keys are camelCase and equal the
 * TypeScript option names below.
 *
 *   name: demo-factory                 # default: the folder's name
 *   uns: uns/uns_schema.yml            # the UNS schema, relative to this file
 *   backbone:
 *     type: embedded                   # default
 *     dataDir: .ofa-data               # relative to this file; default: ./.ofa-data where ofa up runs
 *   # backbone: {type: kafka, bootstrapServers: [broker-1:9092], clientId: openfactory,
 *   #            security: {protocol: SASL_SSL, sasl: {mechanism: SCRAM-SHA-512, username, password | passwordFile},
 *   #                       tls: {ca: certs/ca.pem, rejectUnauthorized: true}}}
 *   topics:
 *     defaults: {replicationFactor: 3} # applies to every topic
 *     ofa_assets: {partitions: 12, retentionMs: 604800000}
 *   include: [devices/*.yml, apps.yml] # default: every .yml/.yaml in the folder tree
 *   sql: [sql/assets.sql]              # SQL files run by ofa up / ofa run, in order (ksqlDB dialect)
 *   processors: [processors/overload.ts] # TypeScript/JavaScript processors run by ofa up (default export)
 */
import { readFileSync, statSync } from 'node:fs'
import { basename, isAbsolute, relative, resolve, sep } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import { parse as parseYaml } from 'yaml'
import { TOPICS } from '../topics.ts'
import type { Refine } from './check-value.ts'
import { resolveFileRef } from './device-schema.ts'

export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const

/** `host:port`, `[v6]:port`. */
const HOST_PORT = /^(?:[A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/

/** A SQL file the factory runs: it must exist; the loaded value is absolute. */
const refineSqlFile: Refine = (v: string, report, ctx) => {
  const p = resolveFileRef(ctx.dir, v)
  let ok = false
  try {
    ok = statSync(p).isFile()
  } catch {}
  if (!ok) report([], 'OFA_CONFIG_FILE', `file not found: ${v}`)
  return p
}

/** Module files a processor may be written in (Node runs `.ts` by stripping types). */
const PROCESSOR_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const

/** A processor module: a .ts/.js file that must exist; the loaded value is absolute. */
const refineProcessorFile: Refine = (v: string, report, ctx) => {
  if (!PROCESSOR_EXTENSIONS.some((e) => v.endsWith(e))) {
    report([], 'OFA_CONFIG_VALUE', `expected a ${PROCESSOR_EXTENSIONS.join(', ')} module, got ${JSON.stringify(v)}`)
    return v
  }
  return refineSqlFile(v, report, ctx)
}

const refineServers: Refine = (v: string | string[], report) => {
  const list = (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== '')
  if (list.length === 0) report([], 'OFA_CONFIG_VALUE', 'expected at least one host:port')
  list.forEach((s) => {
    const m = HOST_PORT.exec(s)
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
      report(Array.isArray(v) ? [v.indexOf(s)] : [], 'OFA_CONFIG_VALUE', `expected host:port, got ${JSON.stringify(s)}`)
    }
  })
  return list
}

/**
 * SASL credentials. The password is written as `${KAFKA_PASSWORD}` (expanded when the file is loaded) or read from
 * `passwordFile` (a Docker or Kubernetes secret) when the connection opens, not when the file is loaded: a password
 * the command line gives (`OFA_KAFKA_PASSWORD`, `--kafka-password-file`) replaces it without the file being needed.
 */
export const KafkaSasl = Type.Object(
  {
    mechanism: Type.Union(KAFKA_SASL_MECHANISMS.map((m) => Type.Literal(m))),
    username: Type.String({ minLength: 1 }),
    password: Type.Optional(Type.String()),
    passwordFile: Type.Optional(Type.String({ minLength: 1, expected: 'a file path, relative to factory.yaml' })),
  },
  {
    additionalProperties: false,
    exactlyOne: {
      fields: ['password', 'passwordFile'],
      missing: 'missing required field: give password (written as $KAFKA_PASSWORD, a variable) or passwordFile',
      both: 'password and passwordFile exclude each other: give only one',
    },
  },
)

/** A PEM file (relative to the manifest) or PEM text. */
const Pem = Type.String({ minLength: 1, expected: 'a PEM file path or PEM text' })

export const KafkaTls = Type.Object(
  {
    ca: Type.Optional(Pem),
    cert: Type.Optional(Pem),
    key: Type.Optional(Pem),
    rejectUnauthorized: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

const refineSecurity: Refine = (
  v: { protocol?: string; sasl?: { passwordFile?: string }; tls?: Record<string, string> },
  report,
  ctx,
) => {
  const protocol = v.protocol ?? 'PLAINTEXT'
  const usesSasl = protocol.startsWith('SASL_')
  const usesTls = protocol.endsWith('SSL')
  if (usesSasl && v.sasl === undefined)
    report(['sasl'], 'OFA_CONFIG_MISSING_FIELD', `missing required field (protocol is ${protocol})`, 'parent')
  if (!usesSasl && v.sasl !== undefined)
    report(['sasl'], 'OFA_CONFIG_VALUE', `needs protocol SASL_PLAINTEXT or SASL_SSL, not ${protocol}`, 'key')
  if (!usesTls && v.tls !== undefined)
    report(['tls'], 'OFA_CONFIG_VALUE', `needs protocol SSL or SASL_SSL, not ${protocol}`, 'key')
  const tls = v.tls ? { ...v.tls } : undefined
  for (const f of ['ca', 'cert', 'key'] as const) {
    const ref = tls?.[f]
    if (tls === undefined || ref === undefined || ref.includes('-----BEGIN')) continue
    const p = resolveFileRef(ctx.dir, ref)
    let ok = false
    try {
      ok = statSync(p).isFile()
    } catch {}
    if (!ok) report(['tls', f], 'OFA_CONFIG_FILE', `file not found: ${ref}`)
    tls[f] = p
  }
  const passwordFile = v.sasl?.passwordFile
  const passwordPath = passwordFile !== undefined ? resolveFileRef(ctx.dir, passwordFile) : undefined
  if (passwordPath !== undefined && recordedWithDeployments(ctx.dir, passwordPath)) {
    report(
      ['sasl', 'passwordFile'],
      'OFA_CONFIG_VALUE',
      `${passwordFile} is in the factory folder, whose files every deployment keeps on the log (ofa history): put ` +
        'it outside the folder, or in a hidden file or folder (.kafka-password), which deployments leave out',
    )
  }
  const sasl = passwordPath !== undefined ? { ...v.sasl, passwordFile: passwordPath } : v.sasl
  return {
    ...v,
    protocol,
    ...(sasl ? { sasl } : {}),
    ...(tls ? { tls: { rejectUnauthorized: true, ...tls } } : {}),
  }
}

/** Whether a file is one a deployment's snapshot keeps: inside the factory folder, no part of its path hidden. */
function recordedWithDeployments(dir: string, path: string): boolean {
  const rel = relative(dir, path)
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return false
  return !rel.split(sep).some((part) => part.startsWith('.') || part === 'node_modules')
}

export const KafkaSecurity = Type.Object(
  {
    protocol: Type.Optional(Type.Union(KAFKA_SECURITY_PROTOCOLS.map((p) => Type.Literal(p)))),
    sasl: Type.Optional(KafkaSasl),
    tls: Type.Optional(KafkaTls),
  },
  { additionalProperties: false, refine: refineSecurity },
)

/** The connection part of a Kafka backbone and of an edge's forwarding. */
const KafkaConnection = {
  bootstrapServers: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], {
    expected: 'a list of host:port',
    refine: refineServers,
  }),
  clientId: Type.Optional(Type.String({ minLength: 1 })),
  security: Type.Optional(KafkaSecurity),
}

/** Edge store-and-forward: the embedded log's topics copied to a central Kafka. */
export const ForwardSpec = Type.Object(
  {
    ...KafkaConnection,
    edgeId: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$', expected: 'a name (letters, digits, _.:-)' }),
    ),
    topics: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$', expected: 'a topic name' }), { minItems: 1 }),
    ),
  },
  { additionalProperties: false },
)

export const EmbeddedBackboneSpec = Type.Object(
  {
    type: Type.Literal('embedded'),
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    forward: Type.Optional(ForwardSpec),
  },
  { additionalProperties: false },
)

export const KafkaBackboneSpec = Type.Object(
  { type: Type.Literal('kafka'), ...KafkaConnection },
  { additionalProperties: false },
)

export const TopicSettingsSpec = Type.Object(
  {
    partitions: Type.Optional(Type.Integer({ minimum: 1 })),
    replicationFactor: Type.Optional(Type.Integer({ minimum: 1 })),
    retentionMs: Type.Optional(Type.Integer({ minimum: -1, expected: 'milliseconds (-1: forever)' })),
    retentionBytes: Type.Optional(Type.Integer({ minimum: -1, expected: 'bytes (-1: no limit)' })),
  },
  { additionalProperties: false },
)

/** `auth:`: who may call the serving app (packages/serve/src/auth). Present: authentication is required. */
export const AuthSpec = Type.Object(
  {
    /** API keys made with `ofa auth key create` (default true). */
    keys: Type.Optional(Type.Boolean()),
    oidc: Type.Optional(
      Type.Object(
        {
          issuer: Type.String({ minLength: 1, pattern: '^https?://', expected: 'the issuer URL (https://...)' }),
          audience: Type.Union([
            Type.String({ minLength: 1 }),
            Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
          ]),
          jwksUri: Type.Optional(Type.String({ pattern: '^https?://', expected: 'a URL' })),
          roleClaim: Type.Optional(Type.String({ minLength: 1 })),
          scopeClaim: Type.Optional(Type.String({ minLength: 1 })),
          clockToleranceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

export interface AuthSettings {
  readonly keys: boolean
  readonly oidc?: {
    readonly issuer: string
    readonly audience: string | readonly string[]
    readonly jwksUri?: string
    readonly roleClaim?: string
    readonly scopeClaim?: string
    readonly clockToleranceSeconds?: number
  }
}

export const FactoryManifestSpec = Type.Object(
  {
    auth: Type.Optional(AuthSpec),
    name: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', expected: 'a name (letters, digits, _.-)' }),
    ),
    uns: Type.Optional(Type.String({ minLength: 1 })),
    backbone: Type.Optional(
      Type.Union([EmbeddedBackboneSpec, KafkaBackboneSpec], { discriminator: { propertyName: 'type' } }),
    ),
    topics: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' }), TopicSettingsSpec, {
        keyExpected: 'a topic name (letters, digits, ._-) or defaults',
      }),
    ),
    include: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))])),
    sql: Type.Optional(
      Type.Array(
        Type.String({ minLength: 1, expected: 'a .sql file, relative to factory.yaml', refine: refineSqlFile }),
      ),
    ),
    processors: Type.Optional(
      Type.Array(
        Type.String({
          minLength: 1,
          expected: 'a .ts or .js module, relative to factory.yaml',
          refine: refineProcessorFile,
        }),
      ),
    ),
  },
  { additionalProperties: false },
)

/** factory.yaml as written. */
export type FactoryManifestSpec = Static<typeof FactoryManifestSpec>

export type KafkaSecurityProtocol = (typeof KAFKA_SECURITY_PROTOCOLS)[number]
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number]

export interface EmbeddedBackboneOptions {
  readonly type: 'embedded'
  /** Absolute path of the log's data directory when factory.yaml sets it; `ofa up` defaults to `./.ofa-data`. */
  readonly dataDir?: string
  /** Edge store-and-forward to a central Kafka, when set. */
  readonly forward?: ForwardOptions
}

/** Where an edge forwards its embedded log: a Kafka connection, this edge's name, the topics. */
export interface ForwardOptions extends Omit<KafkaBackboneOptions, 'type'> {
  /** Unique among the edges forwarding to one Kafka; default the factory's name. */
  readonly edgeId: string
  /** Default the factory's topics: `ofa_assets`, `ofa_registry`, `ofa_asset_documents`. */
  readonly topics: readonly string[]
}

export interface KafkaBackboneOptions {
  readonly type: 'kafka'
  /** `host:port` of one or more brokers (a comma-separated text is split). */
  readonly bootstrapServers: readonly string[]
  /** Default `openfactory`. */
  readonly clientId: string
  readonly security: {
    /** Default PLAINTEXT. */
    readonly protocol: KafkaSecurityProtocol
    readonly sasl?: KafkaSaslOptions
    /** `ca`, `cert`, `key`: absolute file paths or PEM text. `rejectUnauthorized` defaults to true. */
    readonly tls?: {
      readonly ca?: string
      readonly cert?: string
      readonly key?: string
      readonly rejectUnauthorized: boolean
    }
  }
}

/** SASL credentials: the password itself, or the absolute path of the file holding it (exactly one of the two). */
export interface KafkaSaslOptions {
  readonly mechanism: KafkaSaslMechanism
  readonly username: string
  readonly password?: string
  /** Read when the connection opens; one trailing line break is not part of the password. */
  readonly passwordFile?: string
}

export type BackboneOptions = EmbeddedBackboneOptions | KafkaBackboneOptions

export interface TopicSettings {
  readonly partitions?: number
  readonly replicationFactor?: number
  /** How long records are kept; -1 forever. */
  readonly retentionMs?: number
  /** How many bytes a partition keeps; -1 no limit. */
  readonly retentionBytes?: number
}

/** The manifest with defaults applied. */
export interface FactoryManifest {
  /** Absolute path of factory.yaml; undefined when the factory has none (every default then applies). */
  readonly file?: string
  /** The factory folder: relative paths start here. */
  readonly dir: string
  readonly name: string
  /** Absolute path of the UNS schema named by `uns`, if any. */
  readonly uns?: string
  readonly backbone: BackboneOptions
  /** Per-topic settings; the key `defaults` applies to every topic. Resolve with `topicSettings`. */
  readonly topics: Readonly<Record<string, TopicSettings>>
  /** Files, folders and globs making up the factory, relative to `dir`; undefined means the whole folder tree. */
  readonly include?: readonly string[]
  /** SQL files (absolute paths) run in order when the factory starts. */
  readonly sql: readonly string[]
  /** Processor modules (absolute paths) whose default export is a processor definition, run when the factory starts. */
  readonly processors: readonly string[]
  /** `auth:`: authentication required, with API keys and/or OIDC tokens. Absent: the API is open. */
  readonly auth?: AuthSettings
}

export const ASSETS_TOPIC = 'ofa_assets'

/**
 * The settings of one topic: its own entry, else `defaults`, else built-in defaults (6 partitions for
 * `ofa_assets`, 1 for other topics; replication factor 1; retention left to the backbone).
 */
export function topicSettings(
  manifest: Pick<FactoryManifest, 'topics'>,
  topic: string,
): TopicSettings & { partitions: number; replicationFactor: number } {
  const own = manifest.topics[topic] ?? {}
  const defaults = manifest.topics.defaults ?? {}
  const retentionMs = own.retentionMs ?? defaults.retentionMs
  const retentionBytes = own.retentionBytes ?? defaults.retentionBytes
  return {
    partitions: own.partitions ?? defaults.partitions ?? (topic === ASSETS_TOPIC ? 6 : 1),
    replicationFactor: own.replicationFactor ?? defaults.replicationFactor ?? 1,
    ...(retentionMs !== undefined ? { retentionMs } : {}),
    ...(retentionBytes !== undefined ? { retentionBytes } : {}),
  }
}

/** Applies defaults to a validated manifest. `dir` is the factory folder, `file` the manifest's path. */
export function resolveManifest(spec: FactoryManifestSpec, dir: string, file?: string): FactoryManifest {
  const b = spec.backbone
  let backbone: BackboneOptions
  const name = spec.name ?? basename(dir)
  if (b?.type === 'kafka') {
    backbone = { type: 'kafka', ...kafkaConnection(b) }
  } else {
    const f = b?.forward
    backbone = {
      type: 'embedded',
      ...(b?.dataDir !== undefined ? { dataDir: resolve(dir, b.dataDir) } : {}),
      ...(f
        ? {
            forward: {
              ...kafkaConnection(f),
              edgeId: f.edgeId ?? name,
              topics: f.topics ?? [TOPICS.assets, TOPICS.registry, TOPICS.documents],
            },
          }
        : {}),
    }
  }
  const include = spec.include === undefined ? undefined : Array.isArray(spec.include) ? spec.include : [spec.include]
  return {
    ...(file !== undefined ? { file } : {}),
    dir,
    name,
    ...(spec.uns !== undefined ? { uns: resolveFileRef(dir, spec.uns) } : {}),
    backbone,
    topics: spec.topics ?? {},
    ...(include !== undefined ? { include } : {}),
    sql: spec.sql ?? [],
    processors: spec.processors ?? [],
    ...(spec.auth !== undefined ? { auth: { ...spec.auth, keys: spec.auth.keys ?? true } as AuthSettings } : {}),
  }
}

function kafkaConnection(b: {
  bootstrapServers: string | string[]
  clientId?: string
  security?: unknown
}): Omit<KafkaBackboneOptions, 'type'> {
  const security = (b.security ?? {}) as Partial<KafkaBackboneOptions['security']>
  return {
    bootstrapServers: b.bootstrapServers as string[],
    clientId: b.clientId ?? 'openfactory',
    security: { ...security, protocol: security.protocol ?? 'PLAINTEXT' },
  }
}

/**
 * A factory's name as its folder gives it — factory.yaml's `name`, else the folder's name — without loading the rest:
 * `ofa rollback` finds a factory's deployments by it even when the files now in the folder are broken.
 */
export function factoryNameOf(dir: string): string {
  for (const file of ['factory.yaml', 'factory.yml']) {
    let text: string
    try {
      text = readFileSync(resolve(dir, file), 'utf8')
    } catch {
      continue
    }
    try {
      const name = (parseYaml(text) as { name?: unknown } | null)?.name
      if (typeof name === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return name
    } catch {
      // A broken manifest: the folder's name, as when it has none.
    }
    break
  }
  return basename(dir)
}
