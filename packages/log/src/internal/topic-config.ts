// Topic specs: validation, defaults, and `topic.json` (the file that makes a topic exist on disk).
import fs from 'node:fs'
import type { TopicSpec } from '../backbone.ts'
import { normalizeTopicSpec } from '../topic-spec.ts'
import { corrupt, invalidArgument } from './errors.ts'

export type FullTopicSpec = Required<TopicSpec>

export const MAX_PARTITIONS = 10_000

/** Validates a spec and fills in the defaults, the segment size included. */
export function normalizeSpec(spec: TopicSpec, defaultSegmentBytes: number): FullTopicSpec {
  const n = normalizeTopicSpec(spec, { maxPartitions: MAX_PARTITIONS })
  return { ...n, segmentBytes: n.segmentBytes ?? defaultSegmentBytes }
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

/**
 * A spec for a topic whose topic.json is missing or damaged, rebuilt from what survives: every setting that can
 * still be read from the damaged `text` (each field on its own), the partition count from the partition
 * directories found (`partitionsOnDisk`: the highest number + 1) where the text does not give a larger one, and
 * the defaults for the rest. Returns the spec and the settings that were guessed.
 */
export function salvageTopicSpec(
  name: string,
  text: string | null,
  partitionsOnDisk: number,
  defaultSegmentBytes: number,
): { spec: FullTopicSpec; guessed: string[] } {
  const field = (key: string, re: string): string | undefined =>
    text === null ? undefined : new RegExp(`"${key}"\\s*:\\s*(${re})`).exec(text)?.[1]
  const num = (key: string): number | undefined => {
    const v = field(key, '-?\\d{1,16}')
    return v === undefined ? undefined : Number(v)
  }
  const guessed: string[] = []
  const raw: Record<string, unknown> = { name }
  const partitions = num('partitions')
  raw.partitions = Math.max(partitions ?? 0, partitionsOnDisk, 1)
  if (partitions === undefined) guessed.push(`partitions ${raw.partitions} (from the partition directories)`)
  const policy = field('cleanupPolicy', '"(?:delete|compact|compact,delete)"')
  if (policy !== undefined) raw.cleanupPolicy = JSON.parse(policy)
  else guessed.push('cleanupPolicy delete (edit topic.json if the topic was compacted)')
  for (const key of ['retentionMs', 'retentionBytes', 'segmentBytes', 'replicationFactor']) {
    const v = num(key)
    if (v !== undefined) raw[key] = v
    else guessed.push(`${key} (default)`)
  }
  try {
    return { spec: normalizeSpec(raw as unknown as TopicSpec, defaultSegmentBytes), guessed }
  } catch {
    // A salvaged value out of range: the defaults for everything but the partitions.
    const spec = normalizeSpec({ name, partitions: raw.partitions as number }, defaultSegmentBytes)
    return { spec, guessed: ['every setting but the partition count (default)'] }
  }
}
