// The backbone contract, run against a real Kafka broker (scripts/kafka): the same suite the embedded log passes.
// Compaction is Kafka's: the log cleaner keeps the latest record per key, eventually. Compacted topics get
// settings that make it act within seconds: a segment rolls as soon as a record comes 1 ms after the segment's
// first (segment.ms; the cleaner never touches the segment being written, and the suite's appends may all fall
// within a few milliseconds), any dirty share is worth cleaning, and the broker's cleaner looks every 200 ms
// (log.cleaner.backoff.ms in scripts/kafka).
import type { TopicSpec } from '@openfactory/log'
import { runBackboneContract } from '@openfactory/log/testing'
import { openTestLog } from './helpers.ts'

const fastCompaction = (spec: TopicSpec): Record<string, string> =>
  spec.cleanupPolicy?.includes('compact')
    ? { 'segment.ms': '1', 'min.cleanable.dirty.ratio': '0.01', 'delete.retention.ms': '1000' }
    : {}

runBackboneContract('kafka', {
  open: (t) => openTestLog(t, { topicConfigs: fastCompaction }),
  async reopen(t, log) {
    // The data lives in the broker: a restart is a new client.
    await log.close()
    return openTestLog(t, { topicConfigs: fastCompaction })
  },
  eventuallyMs: 30_000,
  // The broker's default max.message.bytes (1 048 588) less the framing of a batch of one record (61 + 36).
  maxRecordBytes: 1_048_588 - 97,
})
