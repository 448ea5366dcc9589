/**
 * What an event log implementation supplies: the narrow interface under `LogCore` (log-core.ts), which checks
 * every argument of `EventLog` once, the same way for every implementation, and places records on partitions
 * (as kysely's RuntimeDriver wraps each dialect's Driver). A driver may rely on what the core guarantees (said
 * per method) and checks none of it again; what only it can know (a topic that does not exist, a read-only
 * log, I/O) it reports with the usual coded errors.
 *
 * Lifecycle: the implementation's factory opens its driver and hands it to `LogCore`. The core calls `close()`
 * once, and nothing else after it (calls in flight may still be running and should end with OFA_LOG_CLOSED).
 */
import type {
  GroupConsumer,
  LogRecord,
  ProducerRecord,
  RecordMetadata,
  StartPosition,
  TopicDescription,
} from './backbone.ts'
import type { NormalizedTopicSpec } from './topic-spec.ts'

/** What the core needs to know of a topic to check an append or a partition number. */
export interface DriverTopic {
  readonly partitions: number
  /** The cleanup policy compacts: every record needs a key. */
  readonly compacted: boolean
  /** The largest record the topic takes: key, value, header names and values together, in bytes. */
  readonly maxRecordBytes: number
  /**
   * For a driver that `failsQueuedAppends` (see `EventLog`): how many failures of the topic's appends the driver
   * had seen when `topic()` was called; `append` gets this object back and refuses the records, writing nothing,
   * when a failure came since (the append was asked for before it, so it counts as queued behind it).
   */
  readonly fence?: number
}

/** Where a followed partition starts. */
export interface FollowStart {
  readonly partition: number
  readonly from: StartPosition
}

/** Consumer options as the core has checked them. */
export interface DriverConsumerOptions {
  readonly group: string
  /** Distinct, valid topic names (not checked to exist). */
  readonly topics: readonly string[]
  readonly resetTo: 'earliest' | 'latest'
  /**
   * Per topic of `topics`, where a partition with no committed offset starts (see `ConsumerOptions.startAt`):
   * partitions and offsets are non-negative integers, the range of partitions checked by the core before the first
   * read; the driver clamps an offset into the partition when it takes the partition up.
   */
  readonly startAt?: ReadonlyMap<string, ReadonlyMap<number, number>>
  readonly maxRecords: number
  /** At least 1000 when given; the driver's default otherwise. */
  readonly sessionTimeoutMs?: number
  readonly signal?: AbortSignal
  /**
   * A consumer outside the group's rebalancing that reads exactly these partitions (see
   * `ConsumerOptions.partitions`): per topic of `topics`, the partitions (distinct, in range: the core checks the
   * range before the first read); a topic missing from the map: all of its partitions. Absent: a group member.
   */
  readonly partitions?: ReadonlyMap<string, readonly number[]>
}

export interface LogDriver {
  /** See `EventLog.description`. */
  readonly description: string
  /**
   * The topic's partition count and limits; OFA_LOG_UNKNOWN_TOPIC when it does not exist. Answers synchronously
   * when it can (the embedded log): the append path then takes no extra turn of the event loop.
   */
  topic(name: string): DriverTopic | Promise<DriverTopic>
  /** The spec is checked and has its defaults (`segmentBytes` only when asked). */
  createTopic(spec: NormalizedTopicSpec): Promise<void>
  listTopics(): Promise<string[]>
  /** `name` is a string. */
  describeTopic(name: string): Promise<TopicDescription>
  /**
   * Writes checked records (see `EventLog.append` for what a rejection may leave written): `partitions[i]` is
   * record i's partition, `sizes[i]` an upper bound of its key, value, header names and values in bytes (text
   * counted at 3 bytes per UTF-16 unit); both arrays are only valid during the call's synchronous part. Every
   * record is an object with a valid key, value, headers and timestamp (absent: the driver's clock), no larger
   * than `topic(..).maxRecordBytes`, keyed when the topic is compacted. Resolves with the records' metadata in
   * input order.
   */
  append(
    topic: string,
    records: readonly ProducerRecord[],
    partitions: readonly number[],
    sizes: readonly number[],
    /** What `topic(topic)` answered for this append. */
    info?: DriverTopic,
  ): Promise<RecordMetadata[]>
  /** `partition` is in range, `offset` a non-negative integer, both limits positive integers. */
  read(topic: string, partition: number, offset: number, maxRecords: number, maxBytes: number): Promise<LogRecord[]>
  /**
   * Follows the partitions of `starts` (distinct, in range; offsets non-negative integers) until the signal
   * aborts or the log closes; batches of at most `maxRecords`.
   */
  follow(
    topic: string,
    starts: readonly FollowStart[],
    maxRecords: number,
    signal: AbortSignal | undefined,
  ): AsyncIterable<LogRecord[]>
  /**
   * A consumer (see `GroupConsumer`). The core checks the offsets given to its `commit` (topics of the consumer,
   * partitions in range, non-negative integer offsets) before passing them on.
   */
  consumer(opts: DriverConsumerOptions): GroupConsumer
  /** `group` is a non-empty string, `topic` a string. */
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>
  close(): Promise<void>
}
