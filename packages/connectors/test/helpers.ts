import type { EventLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
import { decodeObservation, type Observation, TOPICS } from '@openfactory/model'

/** Every record of a topic, partition by partition. */
export { readTopic as readAll } from '@openfactory/log/testing'
/** A real embedded log in a temp dir with the OpenFactory topics, closed and removed after the test. */
export { createFactoryTestLog as createTestLog } from '../src/testing/index.ts'

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
