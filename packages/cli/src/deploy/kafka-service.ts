/**
 * The stack's own Kafka: one service of the broker image (`ofa image build --kafka`), so that a factory can be
 * deployed to a swarm that has no Kafka yet. One KRaft node, broker and controller, on the host network like the
 * other services (stack.ts): PLAINTEXT clients on `port`, its controller on `controllerPort`, both at `host`.
 *
 * - Its data is a named volume of the stack (`<stack>_kafka-data` once deployed) mounted at /var/lib/kafka: the
 *   entrypoint formats it on the first start only, so a restarted or updated task keeps the topics, the offsets
 *   and the cluster id.
 * - Healthy once it answers a Metadata request listing itself (KafkaEntrypoint `health`, a small JVM, every 5 s),
 *   so `ofa apply` waits for it like for any service with a healthcheck.
 * - Restarted on any exit; updated stop-first (two brokers cannot hold one volume and one port) and rolled back when
 *   the new one does not become healthy; 30 s to shut down cleanly on SIGTERM.
 * - Pinned to a node, because a local volume lives on the node that made it: by default `node.role == manager`,
 *   which is one node on a single-node swarm. On a swarm with several managers that does not pin it (a task
 *   rescheduled to another manager would start an empty broker, a new cluster): pass `constraints` naming one node,
 *   e.g. `node.hostname == edge-1`, or a label only that node has.
 *
 * The other services reach it at `bootstrap`, `host:port`: 127.0.0.1 on a single-node swarm, where every service
 * runs on the node of the broker. For services on other nodes, `host` must be an address of the broker's node that
 * they can reach (the broker listens on it and advertises it); the listener is PLAINTEXT, without authentication:
 * keep it on a trusted network.
 */
import { createHash } from 'node:crypto'
import { OpenFactoryError } from '@openfactory/model'
import { KAFKA_HEALTHCHECK } from '../image/kafka-root-filesystem.ts'
import type { StackService } from './stack.ts'

/** The service's name in the stack. */
export const KAFKA_SERVICE = 'kafka'
/** The key of its data volume in the stack file (docker names it `<stack>_kafka-data`). */
export const KAFKA_VOLUME = 'kafka-data'
/** The image `ofa image build --kafka` tags last. */
export const KAFKA_IMAGE = 'openfactory/kafka:latest'

export interface KafkaServiceOptions {
  /** The broker image (default `openfactory/kafka:latest`; `openfactory/kafka:<Kafka version>` pins it). */
  readonly image?: string
  /** The port of its clients, on the host network (default 9092). */
  readonly port?: number
  /** The port of its KRaft controller, on the host network (default `port + 1`). */
  readonly controllerPort?: number
  /** The address it listens on and advertises (default 127.0.0.1: clients on its own node). */
  readonly host?: string
  /** Placement constraints that pin it to one node (default `node.role == manager`). */
  readonly constraints?: readonly string[]
}

export interface KafkaService {
  /** Its name in the stack (`kafka`). */
  readonly name: string
  readonly service: StackService
  /** The stack file's top-level volumes it needs. */
  readonly volumes: Readonly<Record<string, { readonly labels: Readonly<Record<string, string>> }>>
  /** `host:port`, for the other services' `--bootstrap`. */
  readonly bootstrap: string
}

const HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*)$/

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new OpenFactoryError('OFA_DEPLOY_KAFKA', `the stack's Kafka: ${name} ${port} is not a port (1 to 65535)`)
  }
}

/** The stack service of the broker, its volume and the address the other services use. */
export function kafkaService(options: KafkaServiceOptions = {}): KafkaService {
  const image = options.image ?? KAFKA_IMAGE
  const port = options.port ?? 9092
  const controllerPort = options.controllerPort ?? port + 1
  const host = options.host ?? '127.0.0.1'
  checkPort('port', port)
  checkPort('controller port', controllerPort)
  if (controllerPort === port) {
    throw new OpenFactoryError('OFA_DEPLOY_KAFKA', `the stack's Kafka: its clients and its controller both on ${port}`)
  }
  if (!HOST.test(host) || host === '0.0.0.0') {
    throw new OpenFactoryError(
      'OFA_DEPLOY_KAFKA',
      `the stack's Kafka: host ${JSON.stringify(host)} is not an address clients can reach (an IPv4 address or a host name)`,
    )
  }
  const constraints = options.constraints?.length ? [...options.constraints] : ['node.role == manager']
  const environment = { KAFKA_HOST: host, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controllerPort) }
  const digest = createHash('sha256')
    .update(JSON.stringify({ image, environment, constraints }))
    .digest('hex')
    .slice(0, 16)
  const labels = { 'io.openfactory.resource': 'kafka', 'io.openfactory.digest': digest }
  const service: StackService = {
    image,
    labels,
    environment,
    networks: ['hostnet'],
    volumes: [{ type: 'volume', source: KAFKA_VOLUME, target: '/var/lib/kafka' }],
    healthcheck: {
      test: ['CMD', ...KAFKA_HEALTHCHECK],
      interval: '5s',
      timeout: '5s',
      retries: 3,
      start_period: '60s',
    },
    stop_grace_period: '30s',
    deploy: {
      replicas: 1,
      labels,
      restart_policy: { condition: 'any', delay: '2s' },
      update_config: { parallelism: 1, order: 'stop-first', failure_action: 'rollback', monitor: '30s' },
      rollback_config: { parallelism: 1, order: 'stop-first' },
      placement: { constraints },
    },
  }
  return {
    name: KAFKA_SERVICE,
    service,
    volumes: { [KAFKA_VOLUME]: { labels: { 'io.openfactory.resource': 'kafka data' } } },
    bootstrap: `${host}:${port}`,
  }
}
