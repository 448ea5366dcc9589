/**
 * An edge's store-and-forward (factory.yaml `backbone.forward`): the embedded log is copied to a central Kafka
 * by a forwarder (see @openfactory/log `createForwarder`). Kafka may be down when the edge starts: the
 * connection is tried again with backoff in the background, and the edge runs meanwhile — its log keeps
 * everything until Kafka takes it.
 */
import { createForwarder, type EventLog, type Forwarder, type ForwarderStats } from '@openfactory/log'
import { type KafkaLog, openKafkaLog } from '@openfactory/log-kafka'
import { Backoff, type DebugLogger, type ForwardOptions, OpenFactoryError, sleep } from '@openfactory/model'
import type { Metric } from '@openfactory/serve'

export interface EdgeForwarding {
  /** The forwarder's figures, or null while Kafka has not been reached yet. */
  stats(): Promise<ForwarderStats | null>
  /**
   * Stops: first gives the forwarder up to `drainMs` to hand over what the log holds (the connectors' last
   * words), then stops it and closes the Kafka connection. What is left is forwarded at the next start.
   */
  stop(drainMs?: number): Promise<void>
  /** Prometheus metrics: connected, records forwarded, lag per topic and partition. */
  metrics(): Promise<Metric[]>
}

/** Starts forwarding `f.topics` of `source`; a topic the edge's log does not have is refused at once. */
export async function startEdgeForwarding(
  source: EventLog,
  f: ForwardOptions,
  logger: DebugLogger,
): Promise<EdgeForwarding> {
  const have = new Set(await source.listTopics())
  const missing = f.topics.filter((t) => !have.has(t))
  if (missing.length > 0) {
    throw new OpenFactoryError(
      'OFA_CONFIG_VALUE',
      `backbone.forward.topics: the edge's log has no topic ${missing.join(', ')} (it has ${[...have].join(', ')})`,
    )
  }
  const stopping = new AbortController()
  let target: KafkaLog | null = null
  let forwarder: Forwarder | null = null
  const where = f.bootstrapServers.join(',')
  const running = (async () => {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 })
    let warned = false
    while (!stopping.signal.aborted) {
      try {
        target = await openKafkaLog({
          bootstrapServers: f.bootstrapServers,
          clientId: f.clientId,
          security: f.security,
        })
        break
      } catch (err) {
        if (!warned)
          logger.warn('central Kafka not reached; the edge keeps its log and tries again', {
            kafka: where,
            error: (err as Error).message,
          })
        warned = true
        await sleep(backoff.next(), stopping.signal)
      }
    }
    if (!target) return
    if (stopping.signal.aborted) {
      await target.close()
      return
    }
    forwarder = createForwarder({ source, target, edgeId: f.edgeId, topics: f.topics, logger })
    await forwarder.start()
    logger.info('forwarding to the central Kafka', { kafka: where, edge: f.edgeId, topics: f.topics })
  })().catch((err: Error) => logger.error('edge forwarding stopped', { error: err.message }))

  return {
    async stats() {
      return forwarder ? forwarder.stats() : null
    },
    async metrics() {
      const s = forwarder ? await forwarder.stats() : null
      const lag = s?.topics.flatMap((t) =>
        t.partitions.flatMap((p) =>
          p.lag === undefined ? [] : [{ labels: { topic: t.topic, partition: String(p.partition) }, value: p.lag }],
        ),
      )
      return [
        {
          name: 'ofa_forward_connected',
          help: '1 while the central Kafka takes the records this edge forwards.',
          type: 'gauge',
          samples: [{ value: s?.connected ? 1 : 0 }],
        },
        {
          name: 'ofa_forward_records_total',
          help: 'Records this edge forwarded to the central Kafka since it started.',
          type: 'counter',
          samples: [{ value: s?.forwarded ?? 0 }],
        },
        {
          name: 'ofa_forward_lag_records',
          help: "Records in the edge's log not yet forwarded, per topic and partition.",
          type: 'gauge',
          labelNames: ['topic', 'partition'],
          samples: lag ?? [],
        },
      ]
    },
    async stop(drainMs = 5000) {
      if (forwarder && !stopping.signal.aborted) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          forwarder.caughtUp().catch(() => {}),
          new Promise<void>((r) => {
            timer = setTimeout(r, drainMs)
          }),
        ])
        clearTimeout(timer)
      }
      stopping.abort()
      await running
      await forwarder?.stop()
      await target?.close()
    },
  }
}
