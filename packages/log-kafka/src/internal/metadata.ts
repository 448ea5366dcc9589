// Cluster metadata (brokers, topics, partition leaders), cached by the library's admin client for a few seconds.
import { isOpenFactoryError, retryAdvice } from '@openfactory/model'
import type { Admin, ClusterMetadata } from '@platformatic/kafka'
import { kafkaError } from './errors.ts'
import { type RetryPolicy, retrying } from './retrying.ts'

/** A topic another client just created may not be in every broker's metadata yet: one more look, this later. */
const UNKNOWN_TOPIC_RECHECK: RetryPolicy = { retries: 1, delayMs: 100 }
const isUnknownTopic = (err: unknown): boolean => isOpenFactoryError(err, 'OFA_LOG_UNKNOWN_TOPIC')
const isRetryable = (err: unknown): boolean => retryAdvice(err).retry

export class MetadataCache {
  readonly #admin: Admin
  readonly #policy: RetryPolicy

  constructor(admin: Admin, policy: RetryPolicy) {
    this.#admin = admin
    this.#policy = policy
  }

  /**
   * Metadata of `topics`; `force` asks the brokers again. An unknown topic rejects with OFA_LOG_UNKNOWN_TOPIC
   * after one more look 100 ms later; unreachable brokers (retryable errors) are retried as the policy says.
   */
  get(topics: readonly string[], force = false): Promise<ClusterMetadata> {
    return retrying(UNKNOWN_TOPIC_RECHECK, isUnknownTopic, (look) =>
      retrying(this.#policy, isRetryable, async (attempt) => {
        try {
          return await this.#admin.metadata({
            topics: [...topics],
            forceUpdate: force || look > 1 || attempt > 1,
            retries: 0,
          })
        } catch (err) {
          throw kafkaError(`metadata of ${topics.join(', ') || 'the cluster'}`, err)
        }
      }),
    )
  }

  /** The partition count of a topic. */
  async partitions(topic: string, force = false): Promise<number> {
    const md = await this.get([topic], force)
    return md.topics.get(topic)!.partitionsCount
  }
}
