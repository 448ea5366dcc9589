import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type EventLog, type LogRecord, openEmbeddedLog } from '@openfactory/log'
import { DEFAULT_ASSETS_PARTITIONS, decodeObservation, type Observation, TOPICS } from '@openfactory/model'

/** A real embedded log in a temp dir with the OpenFactory topics, closed and removed after the test. */
export async function createTestLog(t: TestContext): Promise<{ log: EventLog; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-conn-'))
  const log = await openEmbeddedLog({ dir })
  t.after(async () => {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: TOPICS.assets, partitions: DEFAULT_ASSETS_PARTITIONS })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  await log.createTopic({ name: TOPICS.documents, partitions: 1, cleanupPolicy: 'compact' })
  return { log, dir }
}

export async function readAll(log: EventLog, topic: string): Promise<LogRecord[]> {
  const d = await log.describeTopic(topic)
  const out: LogRecord[] = []
  for (const p of d.partitionStates) {
    let offset = p.startOffset
    for (;;) {
      const batch = await log.read(topic, p.partition, offset)
      if (batch.length === 0) break
      out.push(...batch)
      offset = (batch.at(-1) as LogRecord).offset + 1
    }
  }
  return out
}

/** Observations of one asset on ofa_assets, in log order. */
export async function observationsOf(log: EventLog, uuid: string): Promise<Observation[]> {
  return (await readAll(log, TOPICS.assets))
    .filter((r) => r.key?.toString() === uuid)
    .map((r) => decodeObservation(r.value as Buffer))
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
