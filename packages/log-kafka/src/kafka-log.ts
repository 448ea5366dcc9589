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
 * Lifecycle: `openKafkaLog(options)` connects (and fails with a coded error when no broker answers); `close()`
 * waits for queued appends, leaves consumer groups, stops followers and closes every connection.
 */
import {
  type ConsumerOptions,
  type EventLog,
  type FollowOptions,
  type GroupConsumer,
  type LogRecord,
  type ProducerRecord,
  placeRecord,
  type ReadOptions,
  type RecordData,
  type RecordMetadata,
  type StartPosition,
  type TopicDescription,
  type TopicSpec,
} from '@openfactory/log'
import { OpenFactoryError } from '@openfactory/model'
import {
  Admin,
  type BaseOptions,
  ConnectionPool,
  type ConnectionOptions as KafkaConnectionOptions,
  ListOffsetTimestamps,
  Producer,
  type ProducerOptions,
} from '@platformatic/kafka'
import { AppendBatcher, type QueuedRecord } from './internal/append-batcher.ts'
import { closedError, hasKafkaError, invalidArgument, kafkaError, unknownTopic } from './internal/errors.ts'
import { FETCH_VERSIONS, FetchErrors, Fetcher, RETRIABLE_FETCH_ERRORS } from './internal/fetcher.ts'
import { type ConsumerHost, KafkaGroupConsumer } from './internal/group-consumer.ts'
import { MetadataCache } from './internal/metadata.ts'
import { KafkaProducer, PRODUCE_VERSIONS } from './internal/producer.ts'
import { checkTopicName, cleanupPolicyOf, normalizeSpec, topicConfigs } from './internal/topic-spec.ts'
import { type KafkaLogOptions, type ResolvedKafkaLogOptions, resolveKafkaLogOptions } from './kafka-log-options.ts'

const DEFAULT_MAX_RECORDS = 10_000
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024
const TOPIC_RESOURCE = 2 // DescribeConfigs resource type TOPIC

function bytes(data: RecordData): Buffer {
  return typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

function isData(x: unknown): x is RecordData {
  return typeof x === 'string' || x instanceof Uint8Array
}

export class KafkaLog implements EventLog {
  readonly kind = 'kafka' as const
  readonly #o: ResolvedKafkaLogOptions
  readonly #admin: Admin
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>
  readonly #batcher: AppendBatcher
  readonly #producePool: ConnectionPool
  readonly #metadata: MetadataCache
  readonly #reader: Fetcher
  readonly #fetchVersion: number
  readonly #sticky = new Map<string, number>()
  readonly #members = new Set<KafkaGroupConsumer>()
  readonly #closer = new AbortController()
  readonly #host: ConsumerHost
  #closed = false
  #closing: Promise<void> | null = null

  /** Use `openKafkaLog`. */
  constructor(
    o: ResolvedKafkaLogOptions,
    admin: Admin,
    producer: Producer<Buffer, Buffer, Buffer, Buffer>,
    versions: { fetch: number; produce: number },
  ) {
    this.#o = o
    this.#admin = admin
    this.#producer = producer
    this.#metadata = new MetadataCache(admin, o.retries, o.retryDelayMs)
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
      retries: o.retries,
      retryDelayMs: o.retryDelayMs,
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
      retries: o.retries,
      retryDelayMs: o.retryDelayMs,
      clientOptions: () => clientOptions(o),
      newFetcher: async () => new Fetcher(this.#metadata, this.#newPool(), this.#fetchVersion),
      listOffsets: (topic, partitions, which) => this.#listOffsets(topic, partitions, which),
      check: () => this.#check(),
      forget: (member) => {
        this.#members.delete(member)
      },
    }
  }

  /** The brokers this log was opened with. */
  get bootstrapServers(): readonly string[] {
    return this.#o.brokers
  }

  #check(): void {
    if (this.#closed) throw closedError()
  }

  #newPool(): ConnectionPool {
    return new ConnectionPool(this.#o.clientId, connectionOptions(this.#o))
  }

  // ---- topics ------------------------------------------------------------------------------------------------

  async createTopic(spec: TopicSpec): Promise<void> {
    this.#check()
    const full = normalizeSpec(spec)
    const configs = topicConfigs(full, this.#o.topicConfigs(spec))
    try {
      await this.#admin.createTopics({
        topics: [full.name],
        partitions: full.partitions,
        replicas: full.replicationFactor,
        configs,
      })
    } catch (err) {
      if (!hasKafkaError(err, 'TOPIC_ALREADY_EXISTS')) throw kafkaError(`create topic ${full.name}`, err)
      const existing = await this.#describeWithRetry(full.name)
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

  /** A topic just created by another client may not be in every broker's metadata yet: ask again a few times. */
  async #describeWithRetry(name: string): Promise<{ partitions: number; cleanupPolicy: string }> {
    for (let i = 0; ; i++) {
      try {
        const d = await this.#describeConfig(name, true)
        return { partitions: d.partitions, cleanupPolicy: d.cleanupPolicy }
      } catch (err) {
        if (i >= 20 || (err as OpenFactoryError).code !== 'OFA_LOG_UNKNOWN_TOPIC') throw err
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  /** Waits until every partition of a new topic has a leader, so that appends and reads work at once. */
  async #waitForLeaders(name: string, partitions: number): Promise<void> {
    const deadline = Date.now() + this.#o.requestTimeoutMs
    for (;;) {
      try {
        const md = await this.#metadata.get([name], true)
        const t = md.topics.get(name)
        if (t && t.partitionsCount === partitions && t.partitions.every((p) => p && p.leader >= 0)) return
      } catch (err) {
        if ((err as OpenFactoryError).code !== 'OFA_LOG_UNKNOWN_TOPIC' || Date.now() > deadline) throw err
      }
      if (Date.now() > deadline) {
        throw new OpenFactoryError('OFA_LOG_IO', `topic ${name}: partitions have no leader yet`, { retryable: true })
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** Deletes a topic and its records (not part of `EventLog`; for tools and tests). */
  async deleteTopic(name: string): Promise<void> {
    this.#check()
    checkTopicName(name)
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
    let configs: Map<string, string | null>
    try {
      const [res] = await this.#admin.describeConfigs({
        resources: [
          {
            resourceType: TOPIC_RESOURCE,
            resourceName: name,
            configurationKeys: ['cleanup.policy', 'retention.ms', 'retention.bytes', 'segment.bytes'],
          },
        ],
      } as Parameters<Admin['describeConfigs']>[0])
      configs = new Map((res?.configs ?? []).map((c) => [c.name, c.value ?? null]))
    } catch (err) {
      throw kafkaError(`describe topic ${name}`, err)
    }
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
    if (typeof name !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof name}`)
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

  /** ListOffsets with the earliest (-2) or latest (-1) timestamp: the start or the high watermark of partitions. */
  async #listOffsets(
    topic: string,
    partitions: readonly number[],
    which: 'earliest' | 'latest',
  ): Promise<Map<number, number>> {
    const timestamp = which === 'earliest' ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.#admin.listOffsets({
          topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
          isolationLevel: 0,
        })
        const out = new Map<number, number>()
        for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, Number(p.offset))
        return out
      } catch (err) {
        // Leadership moving (a broker restarting): refresh the metadata and ask again.
        if (
          attempt < this.#o.retries &&
          hasKafkaError(
            err,
            'NOT_LEADER_OR_FOLLOWER',
            'LEADER_NOT_AVAILABLE',
            'FENCED_LEADER_EPOCH',
            'UNKNOWN_LEADER_EPOCH',
          )
        ) {
          await this.#metadata.get([topic], true).catch(() => {})
          await new Promise((r) => setTimeout(r, this.#o.retryDelayMs))
          continue
        }
        throw kafkaError(`offsets of ${topic}`, err)
      }
    }
  }

  // ---- appending ---------------------------------------------------------------------------------------------

  async append(topic: string, records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    this.#check()
    if (!Array.isArray(records)) throw invalidArgument('append needs an array of records')
    if (typeof topic !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof topic}`)
    const n = records.length
    const numPartitions = await this.#metadata.partitions(topic)
    if (n === 0) return []
    const now = Date.now()
    const queued: QueuedRecord[] = new Array(n)
    // Null keys stick to one partition per append, moving on with every append (Kafka's sticky partitioner).
    let sticky = -1
    const keyless = (): number => {
      if (sticky < 0) {
        sticky = ((this.#sticky.get(topic) ?? -1) + 1) % numPartitions
        this.#sticky.set(topic, sticky)
      }
      return sticky
    }
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const p = placeRecord(r, i, numPartitions, keyless)
      const { key, value, headers, timestamp } = r
      if (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0)) {
        throw invalidArgument(`record ${i}: timestamp must be a non-negative number of epoch milliseconds`)
      }
      const k = key === null || key === undefined ? undefined : bytes(key)
      const v = value === null ? null : bytes(value)
      let size = 24 + (k?.length ?? 0) + (v?.length ?? 0)
      let hs: Map<Buffer, Buffer> | undefined
      if (headers !== undefined) {
        if (headers === null || typeof headers !== 'object')
          throw invalidArgument(`record ${i}: headers must be an object`)
        hs = new Map()
        for (const [hk, hv] of Object.entries(headers)) {
          if (!isData(hv)) throw invalidArgument(`record ${i}: header ${hk} must be a string or bytes`)
          const kb = Buffer.from(hk, 'utf8')
          const vb = bytes(hv)
          size += kb.length + vb.length + 4
          hs.set(kb, vb)
        }
      }
      queued[i] = { topic, partition: p, key: k, value: v, headers: hs, timestamp: timestamp ?? now, size }
    }
    return this.#batcher.append(queued)
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  async #partitionCount(topic: string, partition: number): Promise<number> {
    if (typeof topic !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof topic}`)
    const n = await this.#metadata.partitions(topic)
    if (!Number.isInteger(partition) || partition < 0 || partition >= n) {
      throw invalidArgument(`partition ${partition} is not between 0 and ${n - 1} (topic ${topic})`)
    }
    return n
  }

  async read(topic: string, partition: number, offset: number, opts: ReadOptions = {}): Promise<LogRecord[]> {
    this.#check()
    await this.#partitionCount(topic, partition)
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw invalidArgument(`offset must be a non-negative integer, got ${offset}`)
    }
    const { maxRecords, maxBytes } = readLimits(opts)
    for (let attempt = 0; ; attempt++) {
      let r: Awaited<ReturnType<Fetcher['fetch']>>[number] | undefined
      try {
        ;[r] = await this.#reader.fetch([{ topic, partition, offset, maxBytes: Math.min(maxBytes, 2 ** 31 - 1) }], {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: Math.max(maxBytes, 1024),
        })
      } catch (err) {
        this.#check()
        if (attempt >= this.#o.retries) throw kafkaError(`read ${topic}/${partition}`, err)
        await this.#metadata.get([topic], true).catch(() => {})
        await new Promise((res) => setTimeout(res, this.#o.retryDelayMs))
        continue
      }
      if (!r) throw new OpenFactoryError('OFA_LOG_IO', `read ${topic}/${partition}: no answer for the partition`)
      if (r.errorCode === FetchErrors.OFFSET_OUT_OF_RANGE) {
        throw new OpenFactoryError(
          'OFA_LOG_OFFSET_OUT_OF_RANGE',
          `offset ${offset} is outside ${topic}/${partition}, which holds offsets from ${r.logStartOffset} to ${r.highWatermark}`,
        )
      }
      if (r.errorCode === FetchErrors.UNKNOWN_TOPIC_OR_PARTITION || RETRIABLE_FETCH_ERRORS.has(r.errorCode)) {
        if (attempt >= this.#o.retries) {
          if (r.errorCode === FetchErrors.UNKNOWN_TOPIC_OR_PARTITION) throw unknownTopic(topic)
          throw new OpenFactoryError('OFA_LOG_IO', `read ${topic}/${partition}: Kafka error ${r.errorCode}`, {
            retryable: true,
          })
        }
        await this.#metadata.get([topic], true)
        await new Promise((res) => setTimeout(res, Math.min(100 * (attempt + 1), this.#o.retryDelayMs)))
        continue
      }
      if (r.errorCode !== 0) {
        throw new OpenFactoryError('OFA_LOG_IO', `read ${topic}/${partition}: Kafka error ${r.errorCode}`)
      }
      // Batches emptied by compaction (or holding only transaction markers): go on after them.
      if (r.records.length === 0 && r.nextOffset > offset && r.nextOffset < r.highWatermark) {
        offset = r.nextOffset
        attempt = -1
        continue
      }
      return limit(r.records, maxRecords, maxBytes)
    }
  }

  follow(topic: string, opts: FollowOptions = {}): AsyncIterable<LogRecord[]> {
    this.#check()
    return { [Symbol.asyncIterator]: () => this.#follow(topic, opts) }
  }

  async *#follow(topic: string, opts: FollowOptions): AsyncGenerator<LogRecord[]> {
    if (typeof topic !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof topic}`)
    const n = await this.#metadata.partitions(topic)
    const parts = opts.partitions ?? Array.from({ length: n }, (_, i) => i)
    for (const p of parts) {
      if (!Number.isInteger(p) || p < 0 || p >= n) {
        throw invalidArgument(`partition ${p} is not between 0 and ${n - 1} (topic ${topic})`)
      }
    }
    const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw invalidArgument(`maxRecords must be a positive integer, got ${maxRecords}`)
    }
    const signal = opts.signal
    const positions = await this.#startPositions(topic, parts, opts.from)
    const fetcher = new Fetcher(this.#metadata, this.#newPool(), this.#fetchVersion)
    // Aborting closes the connections, which ends a long poll at once.
    const stop = (): void => void fetcher.pool.close().catch(() => {})
    signal?.addEventListener('abort', stop, { once: true })
    this.#closer.signal.addEventListener('abort', stop, { once: true })
    const request = (): ReturnType<Fetcher['fetch']> =>
      fetcher.fetch(
        parts.map((p) => ({ topic, partition: p, offset: positions.get(p)!, maxBytes: 1024 * 1024 })),
        { maxWaitMs: this.#o.fetchMaxWaitMs, minBytes: 1, maxBytes: 16 * 1024 * 1024 },
      )
    // The next fetch goes out before the records of this one are handed over, so that the broker, the network
    // and the consumer work at the same time (as Kafka's Java consumer prefetches).
    let prefetched: ReturnType<Fetcher['fetch']> | null = null
    let failures = 0
    try {
      while (!this.#closed && !signal?.aborted) {
        let results: Awaited<ReturnType<Fetcher['fetch']>>
        try {
          results = await (prefetched ?? request())
          failures = 0
        } catch (err) {
          if (this.#closed || signal?.aborted) return
          if (++failures > this.#o.retries) throw kafkaError(`follow ${topic}`, err)
          await this.#metadata.get([topic], true).catch(() => {})
          await new Promise((r) => setTimeout(r, this.#o.retryDelayMs))
          continue
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
          if (this.#closed || signal?.aborted) return
          yield b
        }
        if (wait) await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      signal?.removeEventListener('abort', stop)
      this.#closer.signal.removeEventListener('abort', stop)
      await fetcher.pool.close().catch(() => {})
    }
  }

  async #startPositions(
    topic: string,
    parts: readonly number[],
    from: FollowOptions['from'],
  ): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    if (from === undefined || from === 'earliest' || from === 'latest') {
      return this.#listOffsets(topic, parts, from ?? 'earliest')
    }
    if (typeof from === 'number') {
      if (!Number.isSafeInteger(from) || from < 0)
        throw invalidArgument(`from must be a non-negative offset, got ${from}`)
      for (const p of parts) out.set(p, from)
      return out
    }
    if (from !== null && typeof from === 'object') {
      const missing = parts.filter((p) => (from as Record<number, number>)[p] === undefined)
      const earliest = missing.length > 0 ? await this.#listOffsets(topic, missing, 'earliest') : new Map()
      for (const p of parts) {
        const o = (from as Record<number, number>)[p]
        if (o === undefined) out.set(p, earliest.get(p) ?? 0)
        else if (!Number.isSafeInteger(o) || o < 0)
          throw invalidArgument(`from[${p}] must be a non-negative offset, got ${o}`)
        else out.set(p, o)
      }
      return out
    }
    throw invalidArgument(
      `from must be 'earliest', 'latest', an offset or a map of offsets, got ${JSON.stringify(from as StartPosition)}`,
    )
  }

  // ---- consumer groups ---------------------------------------------------------------------------------------

  consumer(opts: ConsumerOptions): GroupConsumer {
    this.#check()
    if (opts === null || typeof opts !== 'object') throw invalidArgument('consumer options must be an object')
    if (typeof opts.group !== 'string' || opts.group === '')
      throw invalidArgument('a group name must be a non-empty string')
    if (!Array.isArray(opts.topics) || opts.topics.length === 0) throw invalidArgument('a consumer needs topics')
    for (const t of opts.topics) checkTopicName(t)
    const resetTo = opts.resetTo ?? 'earliest'
    if (resetTo !== 'earliest' && resetTo !== 'latest') throw invalidArgument(`resetTo must be earliest or latest`)
    const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw invalidArgument(`maxRecords must be a positive integer, got ${maxRecords}`)
    }
    const sessionTimeoutMs = opts.sessionTimeoutMs ?? this.#o.sessionTimeoutMs
    if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < 1000) {
      throw invalidArgument(`sessionTimeoutMs must be an integer of at least 1000, got ${sessionTimeoutMs}`)
    }
    const member = new KafkaGroupConsumer(this.#host, {
      group: opts.group,
      topics: [...opts.topics],
      resetTo,
      maxRecords,
      sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(this.#o.heartbeatIntervalMs ?? 1000, Math.floor(sessionTimeoutMs / 3)),
      ...(opts.signal ? { signal: opts.signal } : {}),
    })
    this.#members.add(member)
    return member
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    this.#check()
    if (typeof group !== 'string' || group === '') throw invalidArgument('a group name must be a non-empty string')
    if (typeof topic !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof topic}`)
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

  // ---- lifecycle ---------------------------------------------------------------------------------------------

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

function readLimits(opts: ReadOptions): { maxRecords: number; maxBytes: number } {
  const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    throw invalidArgument(`maxRecords must be a positive integer, got ${maxRecords}`)
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1)
    throw invalidArgument(`maxBytes must be a positive integer, got ${maxBytes}`)
  return { maxRecords, maxBytes }
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

function connectionOptions(o: ResolvedKafkaLogOptions): KafkaConnectionOptions {
  return {
    connectTimeout: o.connectTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.sasl ? { sasl: { mechanism: o.sasl.mechanism, username: o.sasl.username, password: o.sasl.password } } : {}),
  }
}

function clientOptions(o: ResolvedKafkaLogOptions): BaseOptions {
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
  return new KafkaLog(o, admin, producer, versions)
}
