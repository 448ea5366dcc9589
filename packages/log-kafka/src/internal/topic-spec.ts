// Topic specs: validation (Kafka's own rules, the same as the embedded log's), and their mapping to and from
// Kafka topic configs (`cleanup.policy`, `retention.ms`, `retention.bytes`, `segment.bytes`).
import type { CleanupPolicy, TopicSpec } from '@openfactory/log'
import { invalidArgument } from './errors.ts'

const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/
const POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete']
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000

/** Kafka's rule for topic names: letters, digits, `.`, `_`, `-`, at most 249; not `.` or `..`. */
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

/** A spec with defaults; `segmentBytes` stays undefined when not asked (the broker's default applies). */
export interface KafkaTopicSpec {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor: number
  readonly cleanupPolicy: CleanupPolicy
  readonly retentionMs: number
  readonly retentionBytes: number
  readonly segmentBytes?: number
}

export function normalizeSpec(spec: TopicSpec): KafkaTopicSpec {
  if (spec === null || typeof spec !== 'object') throw invalidArgument('a topic spec must be an object')
  checkTopicName(spec.name)
  const partitions = checkInt(spec.partitions, `topic ${spec.name}: partitions`, 1, 100_000)
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

/** The Kafka topic configs of a spec, after `extra` (the spec's own settings win). */
export function topicConfigs(
  spec: KafkaTopicSpec,
  extra: Readonly<Record<string, string>>,
): { name: string; value: string }[] {
  const configs: Record<string, string> = { ...extra }
  configs['cleanup.policy'] = spec.cleanupPolicy
  configs['retention.ms'] = String(spec.retentionMs)
  configs['retention.bytes'] = String(spec.retentionBytes)
  if (spec.segmentBytes !== undefined) configs['segment.bytes'] = String(spec.segmentBytes)
  return Object.entries(configs).map(([name, value]) => ({ name, value }))
}

/** Kafka's `cleanup.policy` (a list, in any order) as ours. */
export function cleanupPolicyOf(value: string | null | undefined): CleanupPolicy {
  const parts = new Set((value ?? 'delete').split(',').map((s) => s.trim()))
  if (parts.has('compact') && parts.has('delete')) return 'compact,delete'
  return parts.has('compact') ? 'compact' : 'delete'
}
