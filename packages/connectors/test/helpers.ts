import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
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

/** Every record of a topic, partition by partition. */
export { readTopic as readAll } from '@openfactory/log/testing'

/** Observations of one asset on ofa_assets, in log order. */
export async function observationsOf(log: EventLog, uuid: string): Promise<Observation[]> {
  return (await readTopic(log, TOPICS.assets))
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
