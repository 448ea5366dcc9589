/**
 * The checking core of every backbone: `EventLog` over a `LogDriver` (log-driver.ts). Each call's arguments are
 * checked here, once for all implementations, so that both backbones refuse the same calls with the same coded
 * errors (OFA_LOG_INVALID_ARGUMENT naming what is wrong; OFA_LOG_RECORD_TOO_LARGE; OFA_LOG_CLOSED once closed);
 * records are placed on partitions here (`placeRecord`: Kafka's murmur2, the sticky partition for null keys).
 * An implementation is a driver plus a class extending `LogCore` for what it offers beyond the interface
 * (`EmbeddedLog.compact`, `KafkaLog.deleteTopic`).
 *
 * The append path runs once per record: it allocates nothing per record and, when the driver knows the topic
 * synchronously, takes no extra turn of the event loop (bench/log-append.ts measures it).
 */
import { OpenFactoryError } from '@openfactory/model'
import type {
  ConsumerOptions,
  EventLog,
  FollowOptions,
  GroupConsumer,
  LogRecord,
  PartitionOffsets,
  ProducerRecord,
  ReadOptions,
  RecordData,
  RecordMetadata,
  StartPosition,
  TopicDescription,
  TopicPartitionOffset,
  TopicSpec,
} from './backbone.ts'
import { closedError, invalidArgument } from './internal/errors.ts'
import type { DriverTopic, FollowStart, LogDriver } from './log-driver.ts'
import { placeRecord } from './record-placement.ts'
import { checkTopicName, normalizeTopicSpec } from './topic-spec.ts'

/** Records per read, follow batch or consumer batch unless the caller says. */
export const DEFAULT_MAX_RECORDS = 10_000
/** Bytes per read unless the caller says. */
export const DEFAULT_MAX_BYTES = 8 << 20
/** A header name takes 2 length bytes in the embedded format; Kafka's is a varint. One limit for both. */
const MAX_HEADER_NAME_BYTES = 0xffff

export interface LogCoreOptions {
  /** Largest partition count `createTopic` accepts. */
  readonly maxPartitions: number
}

export class LogCore implements EventLog {
  readonly #driver: LogDriver
  readonly #maxPartitions: number
  /** Per topic: the partition that records without a key went to last (Kafka's sticky partitioner). */
  readonly #sticky = new Map<string, number>()
  #closed = false
  #closing: Promise<void> | null = null

  constructor(driver: LogDriver, opts: LogCoreOptions) {
    this.#driver = driver
    this.#maxPartitions = opts.maxPartitions
  }

  get description(): string {
    return this.#driver.description
  }

  /** Throws OFA_LOG_CLOSED once `close()` was called; for the methods a subclass adds. */
  protected checkOpen(): void {
    if (this.#closed) throw closedError()
  }

  // ---- topics ------------------------------------------------------------------------------------------------

  async createTopic(spec: TopicSpec): Promise<void> {
    this.checkOpen()
    await this.#driver.createTopic(normalizeTopicSpec(spec, { maxPartitions: this.#maxPartitions }))
  }

  async listTopics(): Promise<string[]> {
    this.checkOpen()
    return this.#driver.listTopics()
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.checkOpen()
    checkName(name)
    return this.#driver.describeTopic(name)
  }

  // ---- appending ---------------------------------------------------------------------------------------------

  append(topic: string, records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    try {
      this.checkOpen()
      checkName(topic)
      if (!Array.isArray(records)) throw invalidArgument('append needs an array of records')
      const found = this.#driver.topic(topic)
      if (found instanceof Promise) return found.then((t) => this.#append(topic, t, records))
      return this.#append(topic, found, records)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Checks and places every record, then hands them to the driver: a bad record writes nothing. */
  #append(topic: string, t: DriverTopic, records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    this.checkOpen()
    const n = records.length
    if (n === 0) return Promise.resolve([])
    const numPartitions = t.partitions
    const limit = t.maxRecordBytes
    const compacted = t.compacted
    const parts = new Array<number>(n)
    const sizes = new Array<number>(n)
    let sticky = -1
    const keyless = (): number => {
      if (sticky < 0) sticky = this.#nextSticky(topic, numPartitions)
      return sticky
    }
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      const p = placeRecord(r, i, numPartitions, keyless)
      const { key, value, headers, timestamp } = r
      if (timestamp !== undefined && !(Number.isSafeInteger(timestamp) && timestamp >= 0)) {
        throw invalidArgument(
          `record ${i}: timestamp must be a non-negative integer of epoch milliseconds, got ${String(timestamp)}`,
        )
      }
      if (compacted && (key === null || key === undefined)) {
        throw invalidArgument(`record ${i}: a compacted topic (${topic}) needs a key on every record`)
      }
      let size = dataBound(key) + dataBound(value)
      if (headers !== undefined) size += headersBound(headers, i)
      if (size > limit) {
        const exact = recordBytes(r)
        if (exact > limit) {
          throw new OpenFactoryError(
            'OFA_LOG_RECORD_TOO_LARGE',
            `record ${i} of an append to ${topic} has ${exact} bytes of key, value and headers; the limit is ${limit}`,
          )
        }
      }
      parts[i] = p
      sizes[i] = size
    }
    return this.#driver.append(topic, records, parts, sizes, t)
  }

  #nextSticky(topic: string, numPartitions: number): number {
    const next = ((this.#sticky.get(topic) ?? -1) + 1) % numPartitions
    this.#sticky.set(topic, next)
    return next
  }

  // ---- reading -----------------------------------------------------------------------------------------------

  async read(topic: string, partition: number, offset: number, opts: ReadOptions = {}): Promise<LogRecord[]> {
    this.checkOpen()
    checkName(topic)
    if (opts === null || typeof opts !== 'object') throw invalidArgument('read options must be an object')
    const maxRecords = positiveInt(opts.maxRecords, DEFAULT_MAX_RECORDS, 'maxRecords')
    const maxBytes = positiveInt(opts.maxBytes, DEFAULT_MAX_BYTES, 'maxBytes')
    const found = this.#driver.topic(topic)
    const t = found instanceof Promise ? await found : found
    checkPartition(topic, t, partition)
    checkOffset(offset, 'offset')
    return this.#driver.read(topic, partition, offset, maxRecords, maxBytes)
  }

  follow(topic: string, opts: FollowOptions = {}): AsyncIterable<LogRecord[]> {
    this.checkOpen()
    return { [Symbol.asyncIterator]: () => this.#follow(topic, opts) }
  }

  async *#follow(topic: string, opts: FollowOptions): AsyncGenerator<LogRecord[]> {
    checkName(topic)
    if (opts === null || typeof opts !== 'object') throw invalidArgument('follow options must be an object')
    const maxRecords = positiveInt(opts.maxRecords, DEFAULT_MAX_RECORDS, 'maxRecords')
    const found = this.#driver.topic(topic)
    const t = found instanceof Promise ? await found : found
    this.checkOpen()
    let partitions: readonly number[]
    if (opts.partitions === undefined) partitions = Array.from({ length: t.partitions }, (_, i) => i)
    else {
      if (!Array.isArray(opts.partitions)) throw invalidArgument('follow: partitions must be an array of numbers')
      partitions = opts.partitions
      for (const p of partitions) checkPartition(topic, t, p)
      if (new Set(partitions).size !== partitions.length) {
        throw invalidArgument(`follow: partitions lists a partition twice (${partitions.join(', ')})`)
      }
    }
    const starts = followStarts(topic, t, partitions, opts.from)
    yield* this.#driver.follow(topic, starts, maxRecords, opts.signal)
  }

  // ---- consumer groups ---------------------------------------------------------------------------------------

  consumer(opts: ConsumerOptions): GroupConsumer {
    this.checkOpen()
    if (opts === null || typeof opts !== 'object') throw invalidArgument('consumer options must be an object')
    if (typeof opts.group !== 'string' || opts.group === '') throw invalidArgument('a consumer needs a group name')
    if (!Array.isArray(opts.topics) || opts.topics.length === 0) {
      throw invalidArgument('a consumer needs a non-empty list of topics')
    }
    for (const topic of opts.topics) checkTopicName(topic)
    const topics = [...new Set(opts.topics)]
    const resetTo = opts.resetTo ?? 'earliest'
    if (resetTo !== 'earliest' && resetTo !== 'latest') {
      throw invalidArgument(`resetTo must be 'earliest' or 'latest', got ${JSON.stringify(opts.resetTo)}`)
    }
    const maxRecords = positiveInt(opts.maxRecords, DEFAULT_MAX_RECORDS, 'maxRecords')
    const s = opts.sessionTimeoutMs
    if (s !== undefined && (!Number.isSafeInteger(s) || s < 1000)) {
      throw invalidArgument(`sessionTimeoutMs must be an integer of at least 1000, got ${JSON.stringify(s)}`)
    }
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
      throw invalidArgument('signal must be an AbortSignal')
    }
    const partitions = opts.partitions === undefined ? undefined : assignedPartitions(opts.partitions, topics)
    const startAt = opts.startAt === undefined ? undefined : startOffsets(opts.startAt, topics)
    const inner = this.#driver.consumer({
      group: opts.group,
      topics,
      resetTo,
      ...(startAt ? { startAt } : {}),
      maxRecords,
      ...(s !== undefined ? { sessionTimeoutMs: s } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(partitions ? { partitions } : {}),
    })
    // Partitions named by `partitions` and `startAt`: their range is checked before the first read.
    const named = new Map<string, number[]>()
    for (const [topic, list] of partitions ?? []) named.set(topic, [...list])
    for (const [topic, offsets] of startAt ?? []) named.set(topic, [...(named.get(topic) ?? []), ...offsets.keys()])
    return new CheckedConsumer(inner, topics, named, (topic) => this.#topicInfo(topic))
  }

  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    this.checkOpen()
    if (typeof group !== 'string' || group === '') throw invalidArgument('a group name must be a non-empty string')
    checkName(topic)
    return this.#driver.committedOffsets(group, topic)
  }

  async #topicInfo(topic: string): Promise<DriverTopic> {
    this.checkOpen()
    return this.#driver.topic(topic)
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  close(): Promise<void> {
    this.#closed = true
    this.#closing ??= this.#driver.close()
    return this.#closing
  }
}

/**
 * The consumer the driver made, with the offsets given to `commit` checked and the partitions its options name
 * (`partitions`, `startAt`) checked to exist before the first read. Batches pass through untouched.
 */
class CheckedConsumer implements GroupConsumer {
  readonly group: string
  readonly #inner: GroupConsumer
  readonly #topics: readonly string[]
  readonly #named: ReadonlyMap<string, readonly number[]>
  readonly #topic: (topic: string) => Promise<DriverTopic>

  constructor(
    inner: GroupConsumer,
    topics: readonly string[],
    named: ReadonlyMap<string, readonly number[]>,
    topic: (topic: string) => Promise<DriverTopic>,
  ) {
    this.group = inner.group
    this.#inner = inner
    this.#topics = topics
    this.#named = named
    this.#topic = topic
  }

  [Symbol.asyncIterator](): AsyncIterator<LogRecord[]> {
    return this.#named.size > 0 ? this.#runChecked(this.#named) : this.#inner[Symbol.asyncIterator]()
  }

  async *#runChecked(named: ReadonlyMap<string, readonly number[]>): AsyncGenerator<LogRecord[]> {
    try {
      for (const [topic, partitions] of named) {
        const t = await this.#topic(topic)
        for (const p of partitions) checkPartition(topic, t, p)
      }
    } catch (err) {
      await this.#inner.close()
      throw err
    }
    yield* this.#inner
  }

  assignment(): readonly { topic: string; partition: number }[] {
    return this.#inner.assignment()
  }

  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets !== undefined) {
      if (!Array.isArray(offsets)) throw invalidArgument('commit needs an array of offsets')
      for (const o of offsets) {
        if (o === null || typeof o !== 'object') throw invalidArgument(`bad offset to commit: ${JSON.stringify(o)}`)
        if (!this.#topics.includes(o.topic)) {
          throw invalidArgument(`topic ${JSON.stringify(o.topic)} is not one of this consumer's topics`)
        }
        checkOffset(o.offset, `the offset to commit for ${o.topic}/${o.partition}`)
        checkPartition(o.topic, await this.#topic(o.topic), o.partition)
      }
    }
    return this.#inner.commit(offsets)
  }

  close(): Promise<void> {
    return this.#inner.close()
  }
}

// ---- checks ------------------------------------------------------------------------------------------------

function checkName(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') throw invalidArgument(`a topic name must be a string, got ${typeof topic}`)
}

function positiveInt(value: number | undefined, dflt: number, name: string): number {
  const v = value ?? dflt
  if (!Number.isSafeInteger(v) || v < 1) throw invalidArgument(`${name} must be a positive integer, got ${value}`)
  return v
}

function checkOffset(offset: unknown, what: string): void {
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) {
    throw invalidArgument(`${what} must be a non-negative integer, got ${String(offset)}`)
  }
}

function checkPartition(topic: string, t: DriverTopic, partition: unknown): void {
  if (!Number.isInteger(partition) || (partition as number) < 0 || (partition as number) >= t.partitions) {
    throw invalidArgument(`partition ${String(partition)} is not between 0 and ${t.partitions - 1} (topic ${topic})`)
  }
}

/** Where each followed partition starts, from `FollowOptions.from`. */
function followStarts(
  topic: string,
  t: DriverTopic,
  partitions: readonly number[],
  from: FollowOptions['from'],
): FollowStart[] {
  if (from === undefined || from === 'earliest' || from === 'latest') {
    const f: StartPosition = from ?? 'earliest'
    return partitions.map((partition) => ({ partition, from: f }))
  }
  if (typeof from === 'number') {
    checkOffset(from, 'from')
    return partitions.map((partition) => ({ partition, from }))
  }
  if (from === null || typeof from !== 'object' || Array.isArray(from)) {
    throw invalidArgument(
      `from must be 'earliest', 'latest', an offset or a map of offsets, got ${JSON.stringify(from)}`,
    )
  }
  const given = offsetsByPartition(from, 'from')
  for (const [p, offset] of given) {
    checkPartition(topic, t, p)
    checkOffset(offset, `from[${p}]`)
  }
  return partitions.map((partition) => ({ partition, from: given.get(partition) ?? 'earliest' }))
}

function offsetsByPartition(from: PartitionOffsets, what: string): Map<number, number> {
  if (from instanceof Map) return new Map(from)
  const out = new Map<number, number>()
  for (const [k, v] of Object.entries(from)) {
    const p = /^(0|[1-9]\d{0,8})$/.test(k) ? Number(k) : Number.NaN
    if (Number.isNaN(p)) throw invalidArgument(`${what}: ${JSON.stringify(k)} is not a partition number`)
    out.set(p, v as number)
  }
  return out
}

/** `ConsumerOptions.startAt` checked against the consumer's topics (the range is checked at the first read). */
function startOffsets(
  given: Readonly<Record<string, PartitionOffsets>>,
  topics: readonly string[],
): Map<string, Map<number, number>> {
  if (given === null || typeof given !== 'object' || Array.isArray(given) || given instanceof Map) {
    throw invalidArgument('startAt must map topics to offsets per partition')
  }
  const out = new Map<string, Map<number, number>>()
  for (const [topic, offsets] of Object.entries(given)) {
    if (!topics.includes(topic)) throw invalidArgument(`startAt names ${topic}, which is not one of the topics`)
    if (offsets === null || typeof offsets !== 'object' || Array.isArray(offsets)) {
      throw invalidArgument(`startAt of ${topic} must map partition numbers to offsets`)
    }
    const byPartition = offsetsByPartition(offsets, `startAt of ${topic}`)
    for (const [p, offset] of byPartition) {
      if (!Number.isInteger(p) || p < 0) throw invalidArgument(`startAt of ${topic}: ${String(p)} is not a partition`)
      checkOffset(offset, `startAt of ${topic}/${p}`)
    }
    out.set(topic, byPartition)
  }
  return out
}

/** `ConsumerOptions.partitions` checked against the consumer's topics (the range is checked at the first read). */
function assignedPartitions(
  given: Readonly<Record<string, readonly number[]>>,
  topics: readonly string[],
): Map<string, readonly number[]> {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw invalidArgument('partitions must map topics to lists of partition numbers')
  }
  const out = new Map<string, readonly number[]>()
  for (const [topic, list] of Object.entries(given)) {
    if (!topics.includes(topic)) throw invalidArgument(`partitions names ${topic}, which is not one of the topics`)
    if (!Array.isArray(list) || list.length === 0) {
      throw invalidArgument(`partitions of ${topic} must be a non-empty list of partition numbers`)
    }
    for (const p of list) {
      if (!Number.isInteger(p) || p < 0)
        throw invalidArgument(`partitions of ${topic}: ${String(p)} is not a partition`)
    }
    if (new Set(list).size !== list.length) throw invalidArgument(`partitions of ${topic} lists a partition twice`)
    out.set(
      topic,
      [...list].sort((a, b) => a - b),
    )
  }
  return out
}

// ---- record sizes ------------------------------------------------------------------------------------------

/** At most the bytes of `d` (text counted at 3 bytes per UTF-16 unit, UTF-8's worst case). */
function dataBound(d: RecordData | null | undefined): number {
  if (d === null || d === undefined) return 0
  return typeof d === 'string' ? d.length * 3 : d.byteLength
}

function dataBytes(d: RecordData | null | undefined): number {
  if (d === null || d === undefined) return 0
  return typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength
}

/** Checks record `i`'s headers and returns at most the bytes of their names and values. */
function headersBound(headers: unknown, i: number): number {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers) || headers instanceof Map) {
    throw invalidArgument(`record ${i}: headers must be an object of names to strings or bytes`)
  }
  let n = 0
  for (const name in headers) {
    const v = (headers as Record<string, unknown>)[name]
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) {
      throw invalidArgument(`record ${i}: header ${JSON.stringify(name)} must be a string or bytes`)
    }
    if (name.length * 3 > MAX_HEADER_NAME_BYTES && Buffer.byteLength(name) > MAX_HEADER_NAME_BYTES) {
      throw invalidArgument(`record ${i}: header name longer than ${MAX_HEADER_NAME_BYTES} bytes`)
    }
    n += name.length * 3 + dataBound(v)
  }
  return n
}

/** The bytes of a record's key, value, header names and values: what the size limit counts. */
export function recordBytes(r: ProducerRecord): number {
  let n = dataBytes(r.key) + dataBytes(r.value)
  if (r.headers) for (const name in r.headers) n += Buffer.byteLength(name) + dataBytes(r.headers[name])
  return n
}
