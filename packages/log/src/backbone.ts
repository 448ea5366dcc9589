/**
 * The backbone: one durable, ordered event log that every observation and command passes through.
 *
 * The model is Kafka's, so that the embedded log and Apache Kafka are interchangeable behind this interface:
 * named topics split into partitions; each partition an append-only sequence of keyed records numbered by
 * offsets (0, 1, 2, ... — compaction may leave gaps); a record's partition chosen from its key with Kafka's
 * murmur2 (see `partitioner.ts`) so Java clients, ksqlDB and we agree. Topics are either `delete` (records
 * expire by time or size) or `compact` (the latest record per key is kept; a null value is a tombstone).
 *
 * Every implementation passes the contract suite in `src/testing/contract.ts`. The arguments of every call are
 * checked once, the same way for every implementation, by `LogCore` (`log-core.ts`); an implementation supplies a
 * `LogDriver` (`log-driver.ts`).
 */

import type { OpenFactoryError } from '@openfactory/model'

/** Record keys and values: text (written as UTF-8) or bytes. */
export type RecordData = string | Uint8Array

export interface ProducerRecord {
  /** The key; records with one key go to one partition, in order. Null or absent: spread over partitions. */
  readonly key?: RecordData | null
  /** The value; null is a tombstone (deletes the key from a compacted topic). */
  readonly value: RecordData | null
  readonly headers?: Readonly<Record<string, RecordData>>
  /** Epoch milliseconds, a non-negative integer; default: the time of the append. */
  readonly timestamp?: number
  /** Forces a partition; default: murmur2 of the key. */
  readonly partition?: number
}

/** A record as read back. Buffers may share memory with the log's read buffers: copy them to keep them. */
export interface LogRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, Buffer>>
}

/** Where an appended record landed. */
export interface RecordMetadata {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  /** Copies kept (Kafka); the embedded log keeps one and records the number. Default 1. */
  readonly replicationFactor?: number
  /** Default `delete`. */
  readonly cleanupPolicy?: CleanupPolicy
  /** Records older than this are deleted (whole segments at a time); -1 keeps them forever. Default 7 days. */
  readonly retentionMs?: number
  /** A partition larger than this loses its oldest segments; -1 for no limit. Default -1. */
  readonly retentionBytes?: number
  /** Segment size at which a new segment starts. Default 128 MiB (embedded). */
  readonly segmentBytes?: number
}

export interface PartitionState {
  readonly partition: number
  /** The first offset still held (moves up with retention). */
  readonly startOffset: number
  /** The offset the next record will get: every record below it is durable and readable. */
  readonly endOffset: number
  /**
   * Set when the partition cannot be used (embedded: damage found in its files, or a failed write that stops its
   * appends): the coded error its reads or appends answer, `where` naming the file. The other partitions work.
   */
  readonly error?: OpenFactoryError
}

export interface TopicDescription extends Required<TopicSpec> {
  readonly partitionStates: readonly PartitionState[]
}

export interface ReadOptions {
  /** Stop after this many records (default 10 000). */
  readonly maxRecords?: number
  /** Stop after about this many bytes (default 8 MiB); at least one record is returned if one exists. */
  readonly maxBytes?: number
}

/** Where to start reading a partition: its start, its end (only new records), or an offset. */
export type StartPosition = 'earliest' | 'latest' | number

/** An offset per partition number (a plain object or a Map, such as `committedOffsets` returns). */
export type PartitionOffsets = Readonly<Record<number, number>> | ReadonlyMap<number, number>

export interface FollowOptions {
  /** Partitions to follow (distinct, each in range); default all. */
  readonly partitions?: readonly number[]
  /**
   * Default `earliest`. A number applies to every followed partition; a map gives each its own offset (a
   * followed partition missing from it starts at its start; every key must be a partition of the topic).
   */
  readonly from?: StartPosition | PartitionOffsets
  readonly signal?: AbortSignal
  readonly maxRecords?: number
}

export interface TopicPartitionOffset {
  readonly topic: string
  readonly partition: number
  /** The next offset to read (Kafka's committed-offset convention). */
  readonly offset: number
}

export interface ConsumerOptions {
  readonly group: string
  readonly topics: readonly string[]
  /**
   * Where a partition with no committed offset starts (unless `startAt` gives it an offset), and where reading
   * goes on when its position falls out of the partition (retention). Default `earliest`: never skip data silently.
   */
  readonly resetTo?: 'earliest' | 'latest'
  /**
   * Where a partition with no committed offset starts, per topic of `topics` and partition: an offset (a plain
   * object or a Map of partition numbers to offsets); `resetTo` for the partitions it does not name. A committed
   * offset always wins. An offset outside the partition when the consumer starts it is clamped into it: below its
   * start, the start (the records before were deleted); past its end, the end. For a reader that captured a
   * partition's end (`describeTopic`) when it first needed it and starts reading later: nothing appended between
   * the two is skipped, as `resetTo: 'latest'` would. Every partition must exist (checked at the first read).
   */
  readonly startAt?: Readonly<Record<string, PartitionOffsets>>
  readonly signal?: AbortSignal
  readonly maxRecords?: number
  /** A member silent for this long leaves the group and its partitions move to others (at least 1000). */
  readonly sessionTimeoutMs?: number
  /**
   * Reads only these partitions, per topic of `topics` (a topic missing from the map: all of its partitions), as
   * a consumer of its own: it does not join the group's rebalancing (no other member takes these partitions, and
   * it takes no others), yet starts from the group's committed offsets and commits to them. For a process that
   * handles some keys only, e.g. a connector reading the partitions its assets' keys map to
   * (`partitionsForKeys`). Several such consumers of one group may share the group's offsets on disjoint
   * partitions; do not mix them with members that join the same group (Kafka refuses their commits).
   */
  readonly partitions?: Readonly<Record<string, readonly number[]>>
}

/**
 * A member of a consumer group. Partitions of its topics are shared among the group's members; when members
 * join or leave, partitions move (a rebalance) and reading resumes from the committed offsets.
 *
 * The lease rule, kept by every backbone (`ofa run` elects one replica with it): partition 0 of each topic stays
 * with the group's longest-standing member subscribed to that topic when others join; it moves only when that
 * member leaves or its session times out. A consumer given `partitions` takes no part in this: it is not a
 * member, it owns what it was given.
 *
 * Lifecycle: created by `EventLog.consumer`, it joins the group on the first iteration; iterate to receive
 * batches; `commit()` after processing; `close()` (or the signal) leaves the group. Delivery is
 * at-least-once: records after the last commit are delivered again after a rebalance or restart.
 */
export interface GroupConsumer extends AsyncIterable<LogRecord[]> {
  readonly group: string
  /** Commits the given offsets, or, without arguments, the position after every record delivered so far. */
  commit(offsets?: readonly TopicPartitionOffset[]): Promise<void>
  /** The partitions this member owns now (for a consumer given `partitions`: those, once it started reading). */
  assignment(): readonly { topic: string; partition: number }[]
  close(): Promise<void>
}

/**
 * The backbone interface. Lifecycle: open it with its implementation's factory (`openEmbeddedLog`, ...),
 * use it, `close()` it; a closed log rejects every call with `OFA_LOG_CLOSED`.
 */
export interface EventLog {
  /**
   * What this log is and where, for people (log lines, metrics labels, `ofa` output): e.g.
   * `embedded log in /srv/ofa-data` or `kafka 10.0.0.5:9092`. Not meant to be parsed; code that needs a
   * capability asks for that capability, not for an implementation.
   */
  readonly description: string
  /**
   * True when a failed append also fails every append to the same topic still queued behind it (nothing of those
   * is written): a caller with several appends of a topic in flight then never sees a later one land after an
   * earlier one failed, and what landed is, per partition, a prefix of the records in the order appended.
   * `createForwarder` keeps several appends in flight only with such a target. Kafka: true. Absent: not promised.
   */
  readonly failsQueuedAppends?: boolean
  /** Creates a topic; creating one that exists with the same partition count does nothing. */
  createTopic(spec: TopicSpec): Promise<void>
  listTopics(): Promise<string[]>
  describeTopic(name: string): Promise<TopicDescription>
  /**
   * Appends records and resolves once they are durable (on disk, or acknowledged by all in-sync replicas),
   * with each record's partition and offset, in input order. Records with one key keep their order.
   *
   * Every record is checked before any is written: an invalid one (`OFA_LOG_INVALID_ARGUMENT`: shape, types,
   * timestamp that is not a non-negative integer, partition out of range, no key on a compacted topic), one
   * larger than the backbone's limit (`OFA_LOG_RECORD_TOO_LARGE`: key, value, header names and values together,
   * in bytes; embedded: `maxRecordBytes`, Kafka: the topic's `max.message.bytes` less a batch's framing), an
   * unknown topic or a closed log rejects the append and writes nothing.
   *
   * A rejection while writing (`OFA_LOG_IO`, `OFA_LOG_NOT_ENOUGH_REPLICAS`, a record the broker refuses) may
   * leave part of the append written, and such records may still become durable after the rejection. What is
   * written is, per partition, a prefix of the append's records for that partition, in input order: never a
   * record without the ones before it on its partition; partitions are independent (one may hold all its
   * records, another none). Embedded: the records of a partition go out in batches, one write each; a failed
   * write fails that batch and every later one queued on the partition, the batches before it stay; the file is
   * cut back to them, so the partition takes appends again once writes succeed (a full disk: `OFA_LOG_IO`,
   * retryable), except after a failed fdatasync for another reason (appends refused until the log is reopened). Kafka: the records of a partition go out in produce requests, in
   * order and one at a time, each written whole or not at all; a failed request ends the append (what of it
   * was not sent yet is not sent, on any partition; requests already out to other partitions' leaders may still
   * succeed), and a request whose answer was lost may have been written; a failed request also fails every append
   * to its topic asked for before that failure and not sent yet (`failsQueuedAppends`). A retry of a rejected append may thus
   * write some records twice; `createForwarder` shows how to find what landed.
   */
  append(topic: string, records: readonly ProducerRecord[]): Promise<RecordMetadata[]>
  /** Reads records of one partition from an offset; an empty array at the end. */
  read(topic: string, partition: number, offset: number, opts?: ReadOptions): Promise<LogRecord[]>
  /** Reads and keeps following: yields batches as they become durable, until the signal aborts. */
  follow(topic: string, opts?: FollowOptions): AsyncIterable<LogRecord[]>
  /** A consumer-group member (see `GroupConsumer`). */
  consumer(opts: ConsumerOptions): GroupConsumer
  /** Committed offsets of a group, per partition (absent where nothing was committed). */
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>
  close(): Promise<void>
}
