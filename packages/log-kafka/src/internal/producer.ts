// Sends batches of records to partition leaders with Produce requests we encode (produce-request.ts), as an
// idempotent producer when acks=all (KIP-98): a producer id and epoch from the brokers (InitProducerId, through
// the library), and per partition a sequence number that the broker checks, so that a request resent after a
// timeout or a lost connection is written once. The batcher sends one `send` at a time, so sequences only move
// forward after an answer; within a `send`, the requests to different leaders go out together.
//
// Errors per partition (Kafka protocol guide, "Error Codes"): leadership moving, not enough in-sync replicas,
// timeouts and storage errors are retried with the same sequence after fresh metadata; a lost producer state
// (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH) gets a new producer id, sequences
// from 0, and the batch sent again (it may then be written twice: such losses come only from broker-side
// anomalies); anything else fails the records of that partition.
import { type ErrorCode, OpenFactoryError } from '@openfactory/model'
import type { ConnectionPool, Producer, Reader } from '@platformatic/kafka'
import { Writer } from '@platformatic/kafka'
import type { KafkaCompression } from '../kafka-log-options.ts'
import { kafkaError } from './errors.ts'
import type { MetadataCache } from './metadata.ts'
import { type BatchRecord, decodeProduceResponse, encodeProduceRequest, encodeRecordBatch } from './produce-request.ts'
import { type RetryPolicy, retrying } from './retrying.ts'

export const PRODUCE_VERSIONS = { min: 9, max: 11 }
const PRODUCE_API_KEY = 0
const SEQUENCE_WRAP = 2 ** 31

export interface SendRecord extends BatchRecord {
  readonly topic: string
  readonly partition: number
}

/** Per `topic\0partition`: the offset of its first record, or why it failed. */
export type SendResult = Map<string, { readonly baseOffset: number } | { readonly error: OpenFactoryError }>

export interface KafkaProducerOptions {
  readonly metadata: MetadataCache
  readonly pool: ConnectionPool
  /** The library's producer: only for InitProducerId. */
  readonly idProducer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly acks: -1 | 1
  readonly idempotent: boolean
  readonly version: number
  readonly timeoutMs: number
  /** How often a send is tried again, and how long apart (the log's `retries`, `retryDelayMs`). */
  readonly policy: RetryPolicy
  readonly compression: KafkaCompression
}

const RETRIABLE = new Set([
  2, // CORRUPT_MESSAGE (in transit)
  3, // UNKNOWN_TOPIC_OR_PARTITION (metadata not everywhere yet)
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  7, // REQUEST_TIMED_OUT
  8, // BROKER_NOT_AVAILABLE
  9, // REPLICA_NOT_AVAILABLE
  13, // NETWORK_EXCEPTION
  19, // NOT_ENOUGH_REPLICAS
  20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
])
const STATE_LOST = new Set([
  45, // OUT_OF_ORDER_SEQUENCE_NUMBER
  47, // INVALID_PRODUCER_EPOCH
  59, // UNKNOWN_PRODUCER_ID
])
/** Codes that end an append, and what they mean for us. */
const FINAL: ReadonlyMap<number, [ErrorCode, string]> = new Map([
  [3, ['OFA_LOG_UNKNOWN_TOPIC', 'UNKNOWN_TOPIC_OR_PARTITION']],
  [10, ['OFA_LOG_RECORD_TOO_LARGE', 'MESSAGE_TOO_LARGE']],
  [18, ['OFA_LOG_RECORD_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']],
  [19, ['OFA_LOG_NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS']],
  [20, ['OFA_LOG_NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND']],
  [21, ['OFA_LOG_INVALID_ARGUMENT', 'INVALID_REQUIRED_ACKS']],
  [29, ['OFA_LOG_AUTH', 'TOPIC_AUTHORIZATION_FAILED']],
  [32, ['OFA_LOG_INVALID_ARGUMENT', 'INVALID_TIMESTAMP']],
  [44, ['OFA_LOG_INVALID_ARGUMENT', 'POLICY_VIOLATION']],
  [87, ['OFA_LOG_INVALID_ARGUMENT', 'INVALID_RECORD']],
])

function partitionError(topic: string, partition: number, code: number, message: string | null): OpenFactoryError {
  const [ofa, name] = FINAL.get(code) ?? ['OFA_LOG_IO', `Kafka error ${code}`]
  const retryable = RETRIABLE.has(code) || STATE_LOST.has(code)
  return new OpenFactoryError(ofa, `append to ${topic}/${partition}: ${name}${message ? `: ${message}` : ''}`, {
    retryable,
  })
}

export class KafkaProducer {
  readonly #o: KafkaProducerOptions
  #producerId = -1n
  #producerEpoch = -1
  readonly #sequences = new Map<string, number>()

  constructor(opts: KafkaProducerOptions) {
    this.#o = opts
  }

  async #initProducerId(): Promise<void> {
    try {
      const info = await this.#o.idProducer.initIdempotentProducer({})
      this.#producerId = info.producerId
      this.#producerEpoch = info.producerEpoch
      this.#sequences.clear()
    } catch (err) {
      throw kafkaError('InitProducerId', err)
    }
  }

  /** Writes the records (grouped by partition, in order); resolves with each partition's outcome. */
  async send(records: readonly SendRecord[]): Promise<SendResult> {
    const pending = new Map<string, { topic: string; partition: number; records: SendRecord[] }>()
    for (const r of records) {
      const tp = `${r.topic}\0${r.partition}`
      let g = pending.get(tp)
      if (!g) {
        g = { topic: r.topic, partition: r.partition, records: [] }
        pending.set(tp, g)
      }
      g.records.push(r)
    }
    const results: SendResult = new Map()
    const topics = [...new Set(records.map((r) => r.topic))]
    const what = `append to ${topics.join(', ')}`
    let lastError: OpenFactoryError | null = null
    /** Thrown when partitions are left unanswered or answered with a retriable error: always tried again. */
    let incomplete: OpenFactoryError | null = null
    try {
      await retrying(
        this.#o.policy,
        (err) => err === incomplete || kafkaError(what, err).retryable,
        async (attempt) => {
          if (this.#o.idempotent && this.#producerId < 0n) await this.#initProducerId()
          const md = await this.#o.metadata.get(topics, attempt > 1)
          const byLeader = new Map<number, string[]>()
          for (const [tp, g] of pending) {
            const leader = md.topics.get(g.topic)?.partitions[g.partition]?.leader ?? -1
            byLeader.set(leader, [...(byLeader.get(leader) ?? []), tp])
          }
          await Promise.all(
            [...byLeader].map(async ([leader, tps]) => {
              const broker = md.brokers.get(leader)
              if (!broker) {
                lastError = new OpenFactoryError('OFA_LOG_IO', `no leader for ${tps.length} partition(s)`, {
                  retryable: true,
                })
                return
              }
              const answers = await this.#request(
                broker,
                tps.map((tp) => pending.get(tp)!),
              ).catch((err: unknown) => {
                lastError = kafkaError(what, err)
                return null // a lost connection: everything to this broker is sent again, with the same sequences
              })
              for (const a of answers ?? []) {
                const tp = `${a.topic}\0${a.partition}`
                const g = pending.get(tp)
                if (!g) continue
                if (a.errorCode === 0) {
                  if (this.#o.idempotent) {
                    this.#sequences.set(tp, ((this.#sequences.get(tp) ?? 0) + g.records.length) % SEQUENCE_WRAP)
                  }
                  results.set(tp, { baseOffset: a.baseOffset })
                  pending.delete(tp)
                } else if (STATE_LOST.has(a.errorCode) && this.#o.idempotent) {
                  this.#producerId = -1n // a new producer id, sequences from 0, on the next attempt
                  lastError = partitionError(a.topic, a.partition, a.errorCode, a.message)
                } else if (RETRIABLE.has(a.errorCode)) {
                  lastError = partitionError(a.topic, a.partition, a.errorCode, a.message)
                } else {
                  results.set(tp, { error: partitionError(a.topic, a.partition, a.errorCode, a.message) })
                  pending.delete(tp)
                }
              }
            }),
          )
          if (pending.size > 0) {
            incomplete = lastError ?? new OpenFactoryError('OFA_LOG_IO', `${what}: no answer`, { retryable: true })
            throw incomplete
          }
        },
      )
    } catch (err) {
      // Retries spent (the last failure stands for every partition left), or a failure not worth another attempt.
      this.#forgetUnanswered()
      const error = kafkaError(what, err) // (an OpenFactoryError, `incomplete` among them, passes unchanged)
      for (const tp of pending.keys()) results.set(tp, { error })
    }
    return results
  }

  /**
   * Giving up on batches that may have been written (the answer was lost): their sequences stay where they were,
   * so the next batch of such a partition would reuse them, and a broker that did write the lost batch would take
   * a next batch of the same size for a resend of it, answer with the old offset and write nothing. A new producer
   * id (sequences from 0) on the next send rules that out.
   */
  #forgetUnanswered(): void {
    if (this.#o.idempotent) this.#producerId = -1n
  }

  /** One Produce request to one broker. */
  async #request(
    broker: { host: string; port: number },
    groups: readonly { topic: string; partition: number; records: SendRecord[] }[],
  ): Promise<ReturnType<typeof decodeProduceResponse>> {
    const topics = new Map<string, Map<number, Buffer>>()
    for (const g of groups) {
      const tp = `${g.topic}\0${g.partition}`
      const batch = encodeRecordBatch(g.records, {
        producerId: this.#o.idempotent ? this.#producerId : -1n,
        producerEpoch: this.#o.idempotent ? this.#producerEpoch : -1,
        baseSequence: this.#o.idempotent ? (this.#sequences.get(tp) ?? 0) : -1,
        compression: this.#o.compression,
      })
      let parts = topics.get(g.topic)
      if (!parts) {
        parts = new Map()
        topics.set(g.topic, parts)
      }
      parts.set(g.partition, batch)
    }
    const body = encodeProduceRequest(this.#o.acks, this.#o.timeoutMs, topics)
    const connection = await this.#o.pool.get(broker)
    return new Promise((resolve, reject) => {
      connection.send(
        PRODUCE_API_KEY,
        this.#o.version,
        () => Writer.create().append(body),
        (_c: number, _k: number, _v: number, reader: Reader) =>
          decodeProduceResponse(reader.buffer.slice(reader.position) as Buffer),
        true,
        true,
        (err: Error | null, res?: ReturnType<typeof decodeProduceResponse>) =>
          err || !res ? reject(err) : resolve(res),
      )
    })
  }
}
