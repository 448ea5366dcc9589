// Test helpers: the Kafka clusters the tests run against, and logs that close after their test.
//
// `npm test` (scripts/test.ts) starts a single-node cluster and a three-node cluster with scripts/kafka and
// passes them in OFA_KAFKA_* and OFA_KAFKA3_* variables. Run alone (`npx node --test packages/log-kafka/test`),
// the tests start those clusters themselves (scripts/kafka start --name test / test-3, left running: stop them
// with `scripts/kafka stop`). In CI a missing variable is an error: the tests fail, they never skip.
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type ClusterState, envFor, start, status } from '../../../scripts/kafka.ts'
import { type KafkaLog, type KafkaLogOptions, openKafkaLog } from '../src/index.ts'

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..')

export interface KafkaCluster {
  readonly name: string
  readonly bootstrap: string
  readonly saslBootstrap: string
  readonly sasl: { readonly username: string; readonly password: string }
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string }
}

function fromEnv(prefix: string): KafkaCluster | undefined {
  const e = process.env
  if (!e[`${prefix}_BOOTSTRAP`]) return undefined
  const need = (k: string): string => {
    const v = e[`${prefix}_${k}`]
    if (!v) throw new Error(`${prefix}_BOOTSTRAP is set but ${prefix}_${k} is not (see scripts/kafka env)`)
    return v
  }
  return {
    name: need('CLUSTER'),
    bootstrap: need('BOOTSTRAP'),
    saslBootstrap: need('SASL_BOOTSTRAP'),
    sasl: { username: need('SASL_USERNAME'), password: need('SASL_PASSWORD') },
    tls: { ca: need('TLS_CA'), cert: need('TLS_CERT'), key: need('TLS_KEY') },
  }
}

async function cluster(prefix: 'OFA_KAFKA' | 'OFA_KAFKA3', name: string, brokers: number): Promise<KafkaCluster> {
  const given = fromEnv(prefix)
  if (given) return given
  if (process.env.CI) {
    throw new Error(
      `${prefix}_BOOTSTRAP is not set: the Kafka tests need the brokers that scripts/test.ts starts (npm test)`,
    )
  }
  const state: ClusterState = await start({ name, brokers })
  return toCluster(envFor(state, prefix), prefix)
}

function toCluster(env: Record<string, string>, prefix: string): KafkaCluster {
  return {
    name: env[`${prefix}_CLUSTER`]!,
    bootstrap: env[`${prefix}_BOOTSTRAP`]!,
    saslBootstrap: env[`${prefix}_SASL_BOOTSTRAP`]!,
    sasl: { username: env[`${prefix}_SASL_USERNAME`]!, password: env[`${prefix}_SASL_PASSWORD`]! },
    tls: { ca: env[`${prefix}_TLS_CA`]!, cert: env[`${prefix}_TLS_CERT`]!, key: env[`${prefix}_TLS_KEY`]! },
  }
}

let single: Promise<KafkaCluster> | undefined
let three: Promise<KafkaCluster> | undefined

/** The single-node cluster (PLAINTEXT and SASL_SSL listeners). */
export function kafka(): Promise<KafkaCluster> {
  single ??= cluster('OFA_KAFKA', 'test', 1)
  return single
}

/** The three-node cluster (replication tests). */
export function kafka3(): Promise<KafkaCluster> {
  three ??= cluster('OFA_KAFKA3', 'test-3', 3)
  return three
}

/** The pids of a cluster's nodes, by node id (from scripts/kafka's state). */
export function nodePids(name: string): Map<number, number | null> {
  const state = status(name)[0]
  if (!state) throw new Error(`no Kafka cluster '${name}'`)
  return new Map(state.nodes.map((n, i) => [n.id, state.running[i] ? n.pid : null]))
}

/** Opens a Kafka log that closes after the test. */
export async function openTestLog(t: TestContext, opts: Partial<KafkaLogOptions> = {}): Promise<KafkaLog> {
  const c = await kafka()
  const log = await openKafkaLog({ bootstrapServers: c.bootstrap, clientId: 'ofa-test', ...opts })
  t.after(() => log.close())
  return log
}
