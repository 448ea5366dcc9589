/**
 * The backbone over Apache Kafka 4.x, with @platformatic/kafka (pure TypeScript): the `EventLog` interface of
 * @openfactory/log, passing the same contract suite as the embedded log.
 *
 * - Appends go through one idempotent producer with `acks=all` (every in-sync replica has the records before an
 *   append resolves; retries never duplicate): batched by `AppendBatcher`, encoded and sent by `KafkaProducer`
 *   (our record batch and Produce encoder; the library's halved the throughput). The partition of a keyed record
 *   is ours (`partitionFor`: Kafka's murmur2, as the Java client and ksqlDB place keys), never the library's.
 * - `read` and `follow` send Fetch requests straight to partition leaders (`Fetcher`, our response decoder); only
 *   records below the high watermark (acknowledged by the in-sync replicas) are ever returned.
 * - Consumer groups use Kafka's classic group protocol with committed offsets (`KafkaGroupConsumer`).
 * - Topic administration maps `TopicSpec` to topic configs; `describeTopic` adds start and end offsets
 *   (ListOffsets earliest and latest).
 *
 * - Every argument is checked by @openfactory/log's `LogCore`, as for the embedded log; `KafkaLog` is that core
 *   over our driver (internal/kafka-driver.ts). Before an append, the core also refuses records larger than the
 *   topic's `max.message.bytes` allows, and keyless records on compacted topics (both read from the topic's
 *   configs, once a minute at most), so that an append refused for its records writes nothing.
 * - Failed requests are tried again `retries` times, `retryDelayMs` apart (internal/retrying.ts, on
 *   @openfactory/model's `retry`).
 *
 * Lifecycle: `openKafkaLog(options)` connects (and fails with a coded error when no broker answers); `close()`
 * waits for queued appends, leaves consumer groups, stops followers and closes every connection.
 */
import { checkTopicName, LogCore } from '@openfactory/log'
import { OpenFactoryError } from '@openfactory/model'
import { Admin, Producer, type ProducerOptions } from '@platformatic/kafka'
import { kafkaError } from './internal/errors.ts'
import { FETCH_VERSIONS } from './internal/fetcher.ts'
import { clientOptions, KafkaDriver } from './internal/kafka-driver.ts'
import { PRODUCE_VERSIONS } from './internal/producer.ts'
import { type KafkaLogOptions, resolveKafkaLogOptions } from './kafka-log-options.ts'

/** Largest partition count `createTopic` accepts. */
const MAX_PARTITIONS = 100_000

export class KafkaLog extends LogCore {
  readonly #driver: KafkaDriver
  /** A failed produce request fails the appends of its topic queued behind it (internal/append-batcher.ts). */
  readonly failsQueuedAppends = true

  /** Use `openKafkaLog`. */
  constructor(driver: KafkaDriver) {
    super(driver, { maxPartitions: MAX_PARTITIONS })
    this.#driver = driver
  }

  /** The brokers this log was opened with. */
  get bootstrapServers(): readonly string[] {
    return this.#driver.brokers
  }

  /** Deletes a topic and its records (not part of `EventLog`; for tools and tests). */
  async deleteTopic(name: string): Promise<void> {
    this.checkOpen()
    checkTopicName(name)
    await this.#driver.deleteTopic(name)
  }
}

/**
 * Opens the Kafka backbone: validates the options (OFA_LOG_INVALID_ARGUMENT, OFA_CONFIG_FILE for an unreadable
 * certificate), connects to the bootstrap servers and checks that the brokers speak a Fetch version we know
 * (Kafka 3.1 or later). No broker answering: OFA_LOG_IO (retryable); credentials or TLS refused: OFA_LOG_AUTH.
 */
export async function openKafkaLog(options: KafkaLogOptions): Promise<KafkaLog> {
  const o = resolveKafkaLogOptions(options)
  const base = clientOptions(o)
  const admin = new Admin(base)
  // The library's producer only obtains our producer id (InitProducerId); KafkaProducer sends the records.
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    ...base,
    idempotent: true,
  } satisfies ProducerOptions<Buffer, Buffer, Buffer, Buffer>)
  let versions: { fetch: number; produce: number }
  try {
    const apis = await admin.listApis()
    const fetch = apis.find((a) => a.apiKey === 1)
    if (!fetch || fetch.maxVersion < FETCH_VERSIONS.min) {
      throw new OpenFactoryError(
        'OFA_LOG_INVALID_ARGUMENT',
        `the brokers at ${o.brokers.join(',')} do not speak Fetch v${FETCH_VERSIONS.min} or later: Kafka 3.1 or later is needed`,
      )
    }
    const produce = apis.find((a) => a.apiKey === 0)
    if (!produce || produce.maxVersion < PRODUCE_VERSIONS.min) {
      throw new OpenFactoryError(
        'OFA_LOG_INVALID_ARGUMENT',
        `the brokers at ${o.brokers.join(',')} do not speak Produce v${PRODUCE_VERSIONS.min} or later: Kafka 3.1 or later is needed`,
      )
    }
    versions = {
      fetch: Math.min(fetch.maxVersion, FETCH_VERSIONS.max),
      produce: Math.min(produce.maxVersion, PRODUCE_VERSIONS.max),
    }
    await admin.metadata({ topics: [] })
  } catch (err) {
    await Promise.allSettled([admin.close(), producer.close(true)])
    throw kafkaError(`connect to Kafka at ${o.brokers.join(',')}`, err)
  }
  return new KafkaLog(new KafkaDriver(o, admin, producer, versions))
}
