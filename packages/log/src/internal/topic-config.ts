// Topic specs: validation, defaults, and `topic.json` (the file that makes a topic exist on disk).
import fs from 'node:fs'
import type { CleanupPolicy, TopicSpec } from '../backbone.ts'
import { corrupt, invalidArgument } from './errors.ts'

export type FullTopicSpec = Required<TopicSpec>

const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/
const POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete']
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000
export const MAX_PARTITIONS = 10_000

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

/** Validates a spec and fills in the defaults. */
export function normalizeSpec(spec: TopicSpec, defaultSegmentBytes: number): FullTopicSpec {
  if (spec === null || typeof spec !== 'object') throw invalidArgument('a topic spec must be an object')
  checkTopicName(spec.name)
  const partitions = checkInt(spec.partitions, `topic ${spec.name}: partitions`, 1, MAX_PARTITIONS)
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
    segmentBytes: checkInt(
      spec.segmentBytes ?? defaultSegmentBytes,
      `topic ${spec.name}: segmentBytes`,
      1024,
      2 ** 31 - 1,
    ),
  }
}

export function isCompacted(spec: FullTopicSpec): boolean {
  return spec.cleanupPolicy !== 'delete'
}

export function hasDeletePolicy(spec: FullTopicSpec): boolean {
  return spec.cleanupPolicy !== 'compact'
}

/** Reads and checks `topic.json`; damage is `OFA_LOG_CORRUPT` naming the file. */
export async function readTopicFile(file: string, dirName: string): Promise<FullTopicSpec> {
  const text = await fs.promises.readFile(file, 'utf8')
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw corrupt(file, 0, 'topic.json is not valid JSON', err)
  }
  try {
    const spec = normalizeSpec(raw as TopicSpec, 128 * 1024 * 1024)
    if (spec.name !== dirName) throw invalidArgument(`topic.json names topic ${spec.name}, not ${dirName}`)
    return spec
  } catch (err) {
    throw corrupt(file, 0, `topic.json is invalid: ${(err as Error).message}`, err)
  }
}

export function topicFileText(spec: FullTopicSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`
}
