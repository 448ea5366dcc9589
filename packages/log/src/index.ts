// @openfactory/log — the event log every observation and command passes through.

// The backbone interface: topics, partitions, keyed records, offsets, followers, consumer groups.
export * from './backbone.ts'
// The embedded implementation: segment files in a data directory owned by one process.
export {
  type CompactionResult,
  EmbeddedLog,
  type EmbeddedLogOptions,
  openEmbeddedLog,
  type RetentionResult,
} from './embedded-log.ts'
// Store and forward: copies topics of one log to another (an edge's embedded log to the central Kafka), once.
export {
  createForwarder,
  EDGE_HEADER,
  EDGE_OFFSET_HEADER,
  type Forwarder,
  type ForwarderLogger,
  type ForwarderOptions,
  type ForwarderPartitionStats,
  type ForwarderStats,
  type ForwarderTopicStats,
  forwarderGroup,
} from './forwarder.ts'
// What `EmbeddedLog.compact` did to one partition.
export type { PartitionCompaction } from './internal/maintenance.ts'
// The checking core every backbone shares, and the narrow driver each implementation supplies under it.
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, LogCore, type LogCoreOptions, recordBytes } from './log-core.ts'
export type { DriverConsumerOptions, DriverTopic, FollowStart, LogDriver } from './log-driver.ts'
// Kafka's murmur2 key partitioning, so that every backbone and Java client agree on partitions.
export { murmur2, partitionFor, partitionsForKeys, toPositive } from './partitioner.ts'
// Each record of an append: its shape checked, its partition chosen as Kafka's Java client would.
export { readTopic } from './read-topic.ts'
export { placeRecord } from './record-placement.ts'
// Catch up, then follow: how every reader builds a view from a topic and keeps it current.
export { type TailBatch, type TailOptions, tail } from './tail.ts'
// Topic specs as every backbone checks them: names, settings, defaults.
export { checkTopicName, DEFAULT_RETENTION_MS, type NormalizedTopicSpec, normalizeTopicSpec } from './topic-spec.ts'
// Offline checks of a data directory: verify every file; repair what can be repaired, recording what was lost.
export {
  type LostRange,
  type PartitionReport,
  REPAIRS_FILE,
  type RepairAction,
  type RepairReport,
  repairLog,
  type SegmentReport,
  type TornTail,
  type VerifyReport,
  verifyLog,
  type WalReport,
} from './verify.ts'
