// Topic specs (checked by @openfactory/log's core): their mapping to and from Kafka topic configs (`cleanup.policy`, `retention.ms`, `retention.bytes`, `segment.bytes`).
import type { CleanupPolicy, NormalizedTopicSpec } from '@openfactory/log'

/** A spec with defaults; `segmentBytes` stays undefined when not asked (the broker's default applies). */
export type KafkaTopicSpec = NormalizedTopicSpec

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
