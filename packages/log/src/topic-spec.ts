// Topic specs as every backbone checks them: Kafka's rules for names and settings, and the defaults.
import type { CleanupPolicy, TopicSpec } from './backbone.ts'
import { invalidArgument } from './internal/errors.ts'

const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/
const POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete']
/** Records are kept 7 days unless a topic says otherwise. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000

/** Kafka's rule for topic names (also safe as a directory name): letters, digits, `.`, `_`, `-`; not `.` or `..`. */
export function checkTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !TOPIC_RE.test(name) || name === '.' || name === '..') {
    throw invalidArgument(
      `invalid topic name ${JSON.stringify(name)}: use 1 to 249 letters, digits, '.', '_' or '-' (not '.' or '..')`,
    )
  }
}

function checkInt(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

/** A checked spec with defaults; `segmentBytes` only when the spec sets it (each backbone has its default). */
export interface NormalizedTopicSpec {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly cleanupPolicy: CleanupPolicy
  readonly retentionMs: number
  readonly retentionBytes: number
  readonly segmentBytes?: number
}

/** Checks a spec (OFA_LOG_INVALID_ARGUMENT naming the field) and fills in the defaults. */
export function normalizeTopicSpec(spec: TopicSpec, limits: { readonly maxPartitions: number }): NormalizedTopicSpec {
  if (spec === null || typeof spec !== 'object') throw invalidArgument('a topic spec must be an object')
  checkTopicName(spec.name)
  const partitions = checkInt(spec.partitions, `topic ${spec.name}: partitions`, 1, limits.maxPartitions)
  const cleanupPolicy = spec.cleanupPolicy ?? 'delete'
  if (!POLICIES.includes(cleanupPolicy)) {
    throw invalidArgument(
      `topic ${spec.name}: cleanupPolicy must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(cleanupPolicy)}`,
    )
  }
  const retentionMs = spec.retentionMs ?? DEFAULT_RETENTION_MS
  if (retentionMs !== -1) checkInt(retentionMs, `topic ${spec.name}: retentionMs`, 1)
  const retentionBytes = spec.retentionBytes ?? -1
  if (retentionBytes !== -1) checkInt(retentionBytes, `topic ${spec.name}: retentionBytes`, 1)
  return {
    name: spec.name,
    partitions,
    replicationFactor: checkInt(spec.replicationFactor ?? 1, `topic ${spec.name}: replicationFactor`, 1, 1000),
    cleanupPolicy,
    retentionMs,
    retentionBytes,
    ...(spec.segmentBytes !== undefined
      ? { segmentBytes: checkInt(spec.segmentBytes, `topic ${spec.name}: segmentBytes`, 1024, 2 ** 31 - 1) }
      : {}),
  }
}
