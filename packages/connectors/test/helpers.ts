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

/** Polls `check` until it returns a value other than undefined. */
export { eventually } from '../src/testing/index.ts'
