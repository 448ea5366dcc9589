// The Kafka backbone's driver (see @openfactory/log's log-driver.ts): topic administration, appends through our
// producer, reads and follows through our fetcher, consumer groups. `KafkaLog` (kafka-log.ts) puts the checking
// core over it; how each part talks to Kafka is described there and in the files of this folder.
import type {
  DriverConsumerOptions,
  DriverTopic,
  FollowStart,
  GroupConsumer,
  LogDriver,
  LogRecord,
  NormalizedTopicSpec,
  ProducerRecord,
  RecordData,
  RecordMetadata,
  TopicDescription,
  TopicPartitionOffset,
} from '@openfactory/log'
import { isOpenFactoryError, OpenFactoryError, sleep } from '@openfactory/model'
import {
  type Admin,
  type BaseOptions,
  ConnectionPool,
  type ConnectionOptions as KafkaConnectionOptions,
  ListOffsetTimestamps,
  type Producer,
} from '@platformatic/kafka'
import type { ResolvedKafkaLogOptions } from '../kafka-log-options.ts'
import { AppendBatcher, type QueuedRecord } from './append-batcher.ts'
import { closedError, hasKafkaError, kafkaError, unknownTopic } from './errors.ts'
import { FetchErrors, Fetcher, RETRIABLE_FETCH_ERRORS } from './fetcher.ts'
import { type ConsumerHost, KafkaGroupConsumer } from './group-consumer.ts'
import { MetadataCache } from './metadata.ts'
import { type HeaderBytes, headerBytes } from './produce-request.ts'
import { KafkaProducer } from './producer.ts'
import { type RetryPolicy, retrying } from './retrying.ts'
import { cleanupPolicyOf, topicConfigs } from './topic-spec.ts'

const TOPIC_RESOURCE = 2 // DescribeConfigs resource type TOPIC
/** The broker's default `message.max.bytes` (and so a topic's `max.message.bytes`), Kafka 4.x. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
/**
 * Bytes a record batch holding one record takes beyond the record's key, value and headers (Kafka documentation,
 * "Record Batch"): the batch header (61) and the record's own framing at its largest without headers — length,
 * attributes, timestamp delta, offset delta, key length, value length, header count (5 + 1 + 10 + 5 + 5 + 5 + 5).
 * A topic's `max.message.bytes` bounds a whole batch: it less this is the largest record we let through.
 */
const BATCH_HEADER_BYTES = 61
const RECORD_FRAMING_BYTES = 36
/** Framing of one header at most: name length and value length varints. */
const HEADER_FRAMING_BYTES = 10
/** How long a topic's cleanup policy and size limit are taken as known. */
const TOPIC_LIMITS_TTL_MS = 60_000

interface TopicLimits {
  readonly compacted: boolean
  /** The topic's `max.message.bytes`: the largest batch it takes. */
  readonly maxMessageBytes: number
  readonly at: number
}

const isLeadershipError = (err: unknown): boolean =>
  hasKafkaError(err, 'NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH')
const isUnknownTopic = (err: unknown): boolean => isOpenFactoryError(err, 'OFA_LOG_UNKNOWN_TOPIC')

function bytes(data: RecordData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/** A header value for the wire: short ASCII text as it is (see `HeaderBytes`), anything else as bytes. */
function headerValue(data: RecordData): HeaderBytes {
  return typeof data === 'string' ? headerBytes(data) : bytes(data)
}

/** Header names for the wire, kept (a few distinct ones in practice, at most 256): one check per name. */
const headerNames = new Map<string, HeaderBytes>()
function headerName(name: string): HeaderBytes {
  let b = headerNames.get(name)
  if (b === undefined) {
    b = headerBytes(name)
    if (headerNames.size >= 256) headerNames.clear()
    headerNames.set(name, b)
  }
  return b
}

export class KafkaDriver implements LogDriver {
  readonly description: string
  readonly #o: ResolvedKafkaLogOptions
  readonly #admin: Admin
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly #batcher: AppendBatcher
  readonly #producePool: ConnectionPool
  readonly #metadata: MetadataCache
  readonly #reader: Fetcher
  readonly #fetchVersion: number
  readonly #policy: RetryPolicy
  readonly #limits = new Map<string, TopicLimits>()
  /** Per topic: the latest `topic()` call not answered yet (calls are answered in order). */
  readonly #topicCalls = new Map<string, Promise<DriverTopic>>()
  readonly #members = new Set<KafkaGroupConsumer>()
  readonly #closer = new AbortController()
  readonly #host: ConsumerHost
  #closed = false
  #closing: Promise<void> | null = null

  constructor(
    o: ResolvedKafkaLogOptions,
    admin: Admin,
    producer: Producer<Buffer, Buffer, Buffer, Buffer>,
    versions: { fetch: number; produce: number },
  ) {
    this.#o = o
    this.description = `kafka ${o.brokers.join(',')}`
    this.#admin = admin
    this.#producer = producer
    this.#policy = { retries: o.retries, delayMs: o.retryDelayMs }
    this.#metadata = new MetadataCache(admin, this.#policy)
    this.#fetchVersion = versions.fetch
    this.#reader = new Fetcher(this.#metadata, this.#newPool(), versions.fetch)
    this.#producePool = this.#newPool()
    const sender = new KafkaProducer({
      metadata: this.#metadata,
      pool: this.#producePool,
      idProducer: producer,
      acks: o.acks === 'all' ? -1 : 1,
      idempotent: o.acks === 'all',
      version: versions.produce,
      timeoutMs: o.requestTimeoutMs,
      policy: this.#policy,
      compression: o.compression,
    })
    this.#batcher = new AppendBatcher({
      lingerMs: o.lingerMs,
      maxBatchBytes: o.maxBatchBytes,
      send: (records) => sender.send(records),
    })
    this.#host = {
      metadata: this.#metadata,
      fetchMaxWaitMs: o.fetchMaxWaitMs,
      policy: this.#policy,
      clientOptions: () => clientOptions(o),
      newFetcher: async () => new Fetcher(this.#metadata, this.#newPool(), this.#fetchVersion),
      listOffsets: (topic, partitions, which) => this.#listOffsets(topic, partitions, which),
      committedOffsets: (group, topic) => this.committedOffsets(group, topic),
      commitOffsets: (group, offsets) => this.#commitOffsets(group, offsets),
      check: () => this.#check(),
      forget: (member) => {
        this.#members.delete(member)
      },
    }
  }

  /** The brokers this log was opened with. */
  get brokers(): readonly string[] {
    return this.#o.brokers
  }

  #check(): void {
    if (this.#closed) throw closedError()
  }

  #newPool(): ConnectionPool {
    return new ConnectionPool(this.#o.clientId, connectionOptions(this.#o))
  }

  // ---- topics ------------------------------------------------------------------------------------------------

  /**
   * Answers in call order per topic (so that appends reach the batcher in the order they were asked for), with
   * the topic's failure count at the call as `fence` (see AppendBatcher: an append asked for before a failure of
   * its topic fails too).
   */
  topic(name: string): Promise<DriverTopic> {
    const fence = this.#batcher.failures(name)
    const before = this.#topicCalls.get(name)
    const info = (async () => {
      if (before) await before.catch(() => {})
      return this.#topicInfo(name)
    })()
    this.#topicCalls.set(name, info)
    const forget = () => {
      if (this.#topicCalls.get(name) === info) this.#topicCalls.delete(name)
    }
    info.then(forget, forget)
    return info.then((t) => ({ ...t, fence }))
  }

  async #topicInfo(name: string): Promise<DriverTopic> {
    this.#check()
    const partitions = await this.#metadata.partitions(name)
    const limits = await this.#topicLimits(name)
    return {
      partitions,
      compacted: limits.compacted,
      maxRecordBytes: limits.maxMessageBytes - BATCH_HEADER_BYTES - RECORD_FRAMING_BYTES,
    }
  }

  /** A topic's cleanup policy and size limit, asked of the brokers once a minute at most. */
  async #topicLimits(name: string): Promise<TopicLimits> {
    const known = this.#limits.get(name)
    if (known && Date.now() - known.at < TOPIC_LIMITS_TTL_MS) return known
    let configs: Map<string, string | null>
    try {
      configs = await this.#topicConfigs(name, ['cleanup.policy', 'max.message.bytes'])
    } catch (err) {
      // A principal allowed to write but not to describe configs: the brokers' defaults, and the brokers check.
      if (!isOpenFactoryError(err, 'OFA_LOG_AUTH')) throw err
      configs = new Map()
    }
    return this.#remember(name, configs)
  }

  #remember(name: string, configs: Map<string, string | null>): TopicLimits {
    const max = Number(configs.get('max.message.bytes') ?? Number.NaN)
    const limits = {
      compacted: cleanupPolicyOf(configs.get('cleanup.policy')) !== 'delete',
      maxMessageBytes: Number.isSafeInteger(max) && max > 0 ? max : DEFAULT_MAX_MESSAGE_BYTES,
      at: Date.now(),
    }
    this.#limits.set(name, limits)
    return limits
  }

  async #topicConfigs(name: string, keys: readonly string[]): Promise<Map<string, string | null>> {
    try {
      const [res] = await this.#admin.describeConfigs({
        resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: [...keys] }],
      } as Parameters<Admin['describeConfigs']>[0])
      return new Map((res?.configs ?? []).map((c) => [c.name, c.value ?? null]))
    } catch (err) {
      throw kafkaError(`describe topic ${name}`, err)
    }
  }

  async createTopic(full: NormalizedTopicSpec): Promise<void> {
    this.#check()
    const configs = topicConfigs(full, this.#o.topicConfigs(full))
    this.#limits.delete(full.name)
    try {
      await this.#admin.createTopics({
        topics: [full.name],
        partitions: full.partitions,
        replicas: full.replicationFactor,
        configs,
      })
    } catch (err) {
      if (!hasKafkaError(err, 'TOPIC_ALREADY_EXISTS')) throw kafkaError(`create topic ${full.name}`, err)
      // Just created by another client, it may not be in every broker's metadata yet: ask again a few times.
      const existing = await retrying({ retries: 20, delayMs: 100 }, isUnknownTopic, () =>
        this.#describeConfig(full.name, true),
      )
      if (existing.partitions !== full.partitions || existing.cleanupPolicy !== full.cleanupPolicy) {
        throw new OpenFactoryError(
          'OFA_LOG_TOPIC_CONFLICT',
          `topic ${full.name} exists with ${existing.partitions} partitions and cleanup policy ${existing.cleanupPolicy}; asked for ${full.partitions} and ${full.cleanupPolicy}`,
        )
      }
      return
    }
    await this.#waitForLeaders(full.name, full.partitions)
  }

  /** Waits until every partition of a new topic has a leader, so that appends and reads work at once. */
  async #waitForLeaders(name: string, partitions: number): Promise<void> {
    const deadline = Date.now() + this.#o.requestTimeoutMs
    const notYet = new OpenFactoryError('OFA_LOG_IO', `topic ${name}: partitions have no leader yet`, {
      retryable: true,
    })
    await retrying(
      { retries: Number.POSITIVE_INFINITY, delayMs: 50 },
      (err) => (err === notYet || isUnknownTopic(err)) && Date.now() <= deadline,
      async () => {
        const md = await this.#metadata.get([name], true)
        const t = md.topics.get(name)
        if (!(t && t.partitionsCount === partitions && t.partitions.every((p) => p && p.leader >= 0))) throw notYet
      },
    )
  }

  /** Deletes a topic and its records. */
  async deleteTopic(name: string): Promise<void> {
    this.#check()
    this.#limits.delete(name)
    try {
      await this.#admin.deleteTopics({ topics: [name] })
    } catch (err) {
      throw kafkaError(`delete topic ${name}`, err)
    }
  }

  async listTopics(): Promise<string[]> {
    this.#check()
    try {
      const names = await this.#admin.listTopics({ includeInternals: false })
      return names.filter((n) => !n.startsWith('__')).sort()
    } catch (err) {
      throw kafkaError('list topics', err)
    }
  }

  async #describeConfig(
    name: string,
    force = false,
  ): Promise<Omit<TopicDescription, 'partitionStates'> & { leaders: number[] }> {
    const md = await this.#metadata.get([name], force)
    const t = md.topics.get(name)!
    const configs = await this.#topicConfigs(name, [
      'cleanup.policy',
      'retention.ms',
      'retention.bytes',
      'segment.bytes',
      'max.message.bytes',
    ])
    this.#remember(name, configs)
    const num = (k: string, dflt: number): number => {
      const v = configs.get(k)
      return v === undefined || v === null ? dflt : Number(v)
    }
    return {
      name,
      partitions: t.partitionsCount,
      replicationFactor: t.partitions[0]?.replicas.length ?? 1,
      cleanupPolicy: cleanupPolicyOf(configs.get('cleanup.policy')),
      retentionMs: num('retention.ms', 604_800_000),
      retentionBytes: num('retention.bytes', -1),
      segmentBytes: num('segment.bytes', 1_073_741_824),
      leaders: t.partitions.map((p) => p.leader),
    }
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#check()
    const { leaders, ...d } = await this.#describeConfig(name)
    const all = leaders.map((_, i) => i)
    const [start, end] = await Promise.all([
      this.#listOffsets(name, all, 'earliest'),
      this.#listOffsets(name, all, 'latest'),
    ])
    return {
      ...d,
      partitionStates: all.map((p) => ({ partition: p, startOffset: start.get(p) ?? 0, endOffset: end.get(p) ?? 0 })),
    }
  }

  /**
   * ListOffsets with the earliest (-2) or latest (-1) timestamp: the start or the high watermark of partitions.
   * Leadership moving (a broker restarting): fresh metadata, and the request again.
   */
  async #listOffsets(
    topic: string,
    partitions: readonly number[],
    which: 'earliest' | 'latest',
  ): Promise<Map<number, number>> {
    const timestamp = which === 'earliest' ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST
    try {
      return await retrying(this.#policy, isLeadershipError, async (attempt) => {
        if (attempt > 1) await this.#metadata.get([topic], true).catch(() => {})
        const res = await this.#admin.listOffsets({
          topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
          isolationLevel: 0,
        })
        const out = new Map<number, number>()
        for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, Number(p.offset))
        return out
      })
    } catch (err) {
      throw kafkaError(`offsets of ${topic}`, err)
    }
  }

  // ---- appending ---------------------------------------------------------------------------------------------

  append(
    topic: string,
    records: readonly ProducerRecord[],
    partitions: readonly number[],
    _sizes: readonly number[],
    info?: DriverTopic,
  ): Promise<RecordMetadata[]> {
    this.#check()
    const n = records.length
    const now = Date.now()
    const batchLimit = (this.#limits.get(topic)?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES) - BATCH_HEADER_BYTES
    const queued: QueuedRecord[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const { key, value, headers } = r
      const k = key === null || key === undefined ? undefined : bytes(key)
      const v = value === null ? null : bytes(value)
      let size = RECORD_FRAMING_BYTES + (k?.length ?? 0) + (v?.length ?? 0)
      let hs: HeaderBytes[] | undefined
      if (headers !== undefined) {
        hs = []
        for (const hk in headers) {
          const kb = headerName(hk)
          const vb = headerValue(headers[hk]!)
          size += kb.length + vb.length + HEADER_FRAMING_BYTES
          hs.push(kb, vb)
        }
      }
      queued[i] = {
        topic,
        partition: partitions[i]!,
        key: k,
        value: v,
        headers: hs,
        timestamp: r.timestamp ?? now,
        size,
        batchLimit,
      }
    }
    return this.#batcher.append(queued, info?.fence)
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  async read(
    topic: string,
    partition: number,
    offset: number,
    maxRecords: number,
    maxBytes: number,
  ): Promise<LogRecord[]> {
    this.#check()
    // Failures worth another attempt, `retries` times `retryDelayMs` apart: the fetch failing (a broker away) and
    // a partition error that fresh metadata may cure (a leader moving). The error of the last attempt stands.
    const again = new WeakSet<object>()
    // After a partition error the fresh metadata must be had (a topic deleted meanwhile ends the read there);
    // after a failed fetch, the brokers may not answer it either.
    let partitionError = false
    for (;;) {
      const r = await retrying(
        this.#policy,
        (err) => again.has(err as object) && !this.#closed,
        async (attempt) => {
          if (attempt > 1) {
            const refresh = this.#metadata.get([topic], true)
            await (partitionError ? refresh : refresh.catch(() => {}))
          }
          this.#check()
          partitionError = false
          let res: Awaited<ReturnType<Fetcher['fetch']>>[number] | undefined
          try {
            ;[res] = await this.#reader.fetch(
              [{ topic, partition, offset, maxBytes: Math.min(maxBytes, 2 ** 31 - 1) }],
              { maxWaitMs: 0, minBytes: 0, maxBytes: Math.max(maxBytes, 1024) },
            )
          } catch (err) {
            const e = kafkaError(`read ${topic}/${partition}`, err)
            again.add(e)
            throw e
          }
          if (!res) throw new OpenFactoryError('OFA_LOG_IO', `read ${topic}/${partition}: no answer for the partition`)
          if (res.errorCode === FetchErrors.OFFSET_OUT_OF_RANGE) {
            throw new OpenFactoryError(
              'OFA_LOG_OFFSET_OUT_OF_RANGE',
              `offset ${offset} is outside ${topic}/${partition}, which holds offsets from ${res.logStartOffset} to ${res.highWatermark}`,
            )
          }
          if (res.errorCode === FetchErrors.UNKNOWN_TOPIC_OR_PARTITION || RETRIABLE_FETCH_ERRORS.has(res.errorCode)) {
            const e =
              res.errorCode === FetchErrors.UNKNOWN_TOPIC_OR_PARTITION
                ? unknownTopic(topic)
                : new OpenFactoryError('OFA_LOG_IO', `read ${topic}/${partition}: Kafka error ${res.errorCode}`, {
                    retryable: true,
                  })
            again.add(e)
            partitionError = true
            throw e
          }
          if (res.errorCode !== 0) {
            throw new OpenFactoryError('OFA_LOG_IO', `read ${topic}/${partition}: Kafka error ${res.errorCode}`)
          }
          return res
        },
      )
      // Batches emptied by compaction (or holding only transaction markers): go on after them.
      if (r.records.length === 0 && r.nextOffset > offset && r.nextOffset < r.highWatermark) {
        offset = r.nextOffset
        continue
      }
      return limit(r.records, maxRecords, maxBytes)
    }
  }

  async *follow(
    topic: string,
    starts: readonly FollowStart[],
    maxRecords: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<LogRecord[]> {
    this.#check()
    const parts = starts.map((s) => s.partition)
    const positions = await this.#startPositions(topic, starts)
    const fetcher = new Fetcher(this.#metadata, this.#newPool(), this.#fetchVersion)
    // Aborting closes the connections, which ends a long poll at once.
    const stop = (): void => void fetcher.pool.close().catch(() => {})
    signal?.addEventListener('abort', stop, { once: true })
    this.#closer.signal.addEventListener('abort', stop, { once: true })
    const ended = (): boolean => this.#closed || signal?.aborted === true
    const request = (): ReturnType<Fetcher['fetch']> =>
      fetcher.fetch(
        parts.map((p) => ({ topic, partition: p, offset: positions.get(p)!, maxBytes: 1024 * 1024 })),
        { maxWaitMs: this.#o.fetchMaxWaitMs, minBytes: 1, maxBytes: 16 * 1024 * 1024 },
      )
    // The next fetch goes out before the records of this one are handed over, so that the broker, the network
    // and the consumer work at the same time (as Kafka's Java consumer prefetches).
    let prefetched: ReturnType<Fetcher['fetch']> | null = null
    try {
      while (!ended()) {
        let results: Awaited<ReturnType<Fetcher['fetch']>>
        try {
          // A broker away or a leader moving: fresh metadata, and the fetch again, `retries` times.
          const first = prefetched
          results = await retrying(
            this.#policy,
            () => !ended(),
            async (attempt) => {
              if (attempt > 1) await this.#metadata.get([topic], true).catch(() => {})
              return attempt === 1 && first ? first : request()
            },
            signal,
          )
        } catch (err) {
          if (ended()) return
          throw kafkaError(`follow ${topic}`, err)
        } finally {
          prefetched = null
        }
        let wait = false
        const batches: LogRecord[][] = []
        for (const r of results) {
          if (r.errorCode === FetchErrors.OFFSET_OUT_OF_RANGE) {
            // Below the start: retention deleted those records, go on from the start. Above the end: wait for it.
            if (r.logStartOffset >= 0 && positions.get(r.partition)! < r.logStartOffset) {
              positions.set(r.partition, r.logStartOffset)
            } else wait = true
            continue
          }
          if (r.errorCode !== 0) {
            if (r.errorCode !== FetchErrors.UNKNOWN_TOPIC_OR_PARTITION && !RETRIABLE_FETCH_ERRORS.has(r.errorCode)) {
              throw new OpenFactoryError('OFA_LOG_IO', `follow ${topic}/${r.partition}: Kafka error ${r.errorCode}`)
            }
            await this.#metadata.get([topic], true).catch(() => {})
            wait = true
            continue
          }
          positions.set(r.partition, r.nextOffset)
          for (let i = 0; i < r.records.length; i += maxRecords) batches.push(r.records.slice(i, i + maxRecords))
        }
        if (!wait && batches.length > 0) {
          prefetched = request()
          prefetched.catch(() => {}) // (an abort closes the connections under it; the loop handles the rest)
        }
        for (const b of batches) {
          if (ended()) return
          yield b
        }
        if (wait) await sleep(100, signal)
      }
    } finally {
      signal?.removeEventListener('abort', stop)
      this.#closer.signal.removeEventListener('abort', stop)
      await fetcher.pool.close().catch(() => {})
    }
  }

  /** Each followed partition's first offset: the ones given, the others looked up (ListOffsets). */
  async #startPositions(topic: string, starts: readonly FollowStart[]): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    for (const which of ['earliest', 'latest'] as const) {
      const parts = starts.filter((s) => s.from === which).map((s) => s.partition)
      if (parts.length > 0) for (const [p, o] of await this.#listOffsets(topic, parts, which)) out.set(p, o)
    }
    for (const s of starts) {
      if (typeof s.from === 'number') out.set(s.partition, s.from)
      else if (!out.has(s.partition)) out.set(s.partition, 0)
    }
    return out
  }

  // ---- consumer groups ---------------------------------------------------------------------------------------

  consumer(opts: DriverConsumerOptions): GroupConsumer {
    this.#check()
    const sessionTimeoutMs = opts.sessionTimeoutMs ?? this.#o.sessionTimeoutMs
    const member = new KafkaGroupConsumer(this.#host, {
      ...opts,
      sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(this.#o.heartbeatIntervalMs ?? 1000, Math.floor(sessionTimeoutMs / 3)),
    })
    this.#members.add(member)
    return member
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    this.#check()
    const n = await this.#metadata.partitions(topic)
    try {
      const res = await this.#admin.listConsumerGroupOffsets({
        groups: [
          { groupId: group, topics: [{ name: topic, partitionIndexes: Array.from({ length: n }, (_, i) => i) }] },
        ],
      })
      const out = new Map<number, number>()
      for (const g of res) {
        for (const t of g.topics) {
          if (t.name !== topic) continue
          for (const p of t.partitions)
            if (p.committedOffset >= 0n) out.set(p.partitionIndex, Number(p.committedOffset))
        }
      }
      return out
    } catch (err) {
      throw kafkaError(`committed offsets of group ${group}`, err)
    }
  }

  /** OffsetCommit outside any generation (a consumer given its partitions): what Kafka's simple consumers do. */
  async #commitOffsets(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.#check()
    const byTopic = new Map<string, { partition: number; offset: bigint }[]>()
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? []
      list.push({ partition: o.partition, offset: BigInt(o.offset) })
      byTopic.set(o.topic, list)
    }
    try {
      await this.#admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })),
      })
    } catch (err) {
      throw kafkaError(`commit of group ${group}`, err)
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  /** Waits for queued appends, leaves consumer groups, stops followers and closes every connection. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true
      this.#closing = (async () => {
        this.#closer.abort()
        await Promise.all([...this.#members].map((m) => m.close()))
        await this.#batcher.close()
        await Promise.allSettled([
          this.#producer.close(true),
          this.#admin.close(),
          this.#reader.pool.close(),
          this.#producePool.close(),
        ])
      })()
    }
    return this.#closing
  }
}

/** The first `maxRecords` records, stopping once about `maxBytes` are reached (at least one record). */
function limit(records: LogRecord[], maxRecords: number, maxBytes: number): LogRecord[] {
  let bytesSoFar = 0
  let i = 0
  for (; i < records.length && i < maxRecords; i++) {
    const r = records[i]!
    let size = 16 + (r.key?.length ?? 0) + (r.value?.length ?? 0)
    for (const [k, v] of Object.entries(r.headers)) size += k.length + v.length
    if (i > 0 && bytesSoFar + size > maxBytes) break
    bytesSoFar += size
  }
  return i === records.length ? records : records.slice(0, i)
}

export function connectionOptions(o: ResolvedKafkaLogOptions): KafkaConnectionOptions {
  return {
    connectTimeout: o.connectTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.sasl ? { sasl: { mechanism: o.sasl.mechanism, username: o.sasl.username, password: o.sasl.password } } : {}),
  }
}

export function clientOptions(o: ResolvedKafkaLogOptions): BaseOptions {
  return {
    ...connectionOptions(o),
    clientId: o.clientId,
    bootstrapBrokers: [...o.brokers],
    timeout: o.requestTimeoutMs,
    retries: o.retries,
    retryDelay: o.retryDelayMs,
    metadataMaxAge: 5000,
    autocreateTopics: false,
  }
}
