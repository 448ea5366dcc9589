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
