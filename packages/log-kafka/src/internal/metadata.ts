// Cluster metadata (brokers, topics, partition leaders), cached by the library's admin client for a few seconds.
import type { OpenFactoryError } from '@openfactory/model'
import type { Admin, ClusterMetadata } from '@platformatic/kafka'
import { kafkaError } from './errors.ts'

export class MetadataCache {
  readonly #admin: Admin
  readonly #retries: number
  readonly #retryDelayMs: number

  constructor(admin: Admin, retries: number, retryDelayMs: number) {
    this.#admin = admin
    this.#retries = retries
    this.#retryDelayMs = retryDelayMs
  }

  /**
   * Metadata of `topics`; `force` asks the brokers again. An unknown topic rejects with OFA_LOG_UNKNOWN_TOPIC
   * after one more look 100 ms later (a topic another client just created may not be everywhere yet);
   * unreachable brokers are retried `retries` times.
   */
  async get(topics: readonly string[], force = false): Promise<ClusterMetadata> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#admin.metadata({ topics: [...topics], forceUpdate: force || attempt > 0, retries: 0 })
      } catch (err) {
        const e: OpenFactoryError = kafkaError(`metadata of ${topics.join(', ') || 'the cluster'}`, err)
        if (e.code === 'OFA_LOG_UNKNOWN_TOPIC') {
          if (attempt >= 1) throw e
          await new Promise((r) => setTimeout(r, 100))
          continue
        }
        if (!e.retryable || attempt >= this.#retries) throw e
        await new Promise((r) => setTimeout(r, this.#retryDelayMs))
      }
    }
  }

  /** The partition count of a topic. */
  async partitions(topic: string, force = false): Promise<number> {
    const md = await this.get([topic], force)
    return md.topics.get(topic)!.partitionsCount
  }
}
