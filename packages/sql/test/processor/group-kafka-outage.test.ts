// Group assignment (run-processor.ts) across a Kafka broker outage: the group members lose their group and the
// tasks fail while the broker is away; once it is back they join again, take their partitions over and go on —
// outputs exactly once — and stop() returns. The broker stopped here is this file's own cluster, `sql-outage`
// (other test files share `test` and `test-3`), started and deleted by the test.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createLogger, silentLogger } from '@openfactory/model'
import { type ClusterState, start, stop } from '../../../../scripts/kafka.ts'
import { openKafkaLog } from '../../../log-kafka/src/index.ts'
import { runProcessor } from '../../src/processor/run-processor.ts'
import { assertExactlyOnce, countsByKey, fill, readTopic, totals, uniqueTopic, until } from './helpers.ts'

const CLUSTER = 'sql-outage'
/** OFA_DEBUG_OUTAGE=1 shows the processors' warnings. */
const logger = process.env.OFA_DEBUG_OUTAGE ? createLogger({ name: 'outage', level: 'debug' }) : silentLogger
let cluster: ClusterState

before(async () => {
  cluster = await start({ name: CLUSTER, brokers: 1 })
})
after(() => stop(CLUSTER, true))

test('group assignment on Kafka goes on after a broker outage, exactly once, and stops', {
  timeout: 180_000,
}, async (t) => {
  const log = await openKafkaLog({ bootstrapServers: cluster.bootstrap, clientId: 'ofa-sql-outage' })
  t.after(() => log.close())
  const input = uniqueTopic('in')
  const output = uniqueTopic('out')
  await log.createTopic({ name: input, partitions: 4 })
  await log.createTopic({ name: output, partitions: 4 })
  const spec = totals(uniqueTopic('p'), input, output)
  await fill(log, input, 0, 500, 29)
  const handles = [1, 2, 3].map(() =>
    runProcessor({
      eventLog: log,
      spec: { ...spec },
      assignment: 'group',
      fenceMs: 500,
      sessionTimeoutMs: 3000,
      maxBatchRecords: 100,
      logger,
    }),
  )
  let stopped = false
  t.after(() => (stopped ? undefined : Promise.all(handles.map((h) => h.stop()))))
  await Promise.all(handles.map((h) => h.ready))
  await until(async () => (await readTopic(log, output)).length >= 500, '500 outputs', 30_000)

  await stop(CLUSTER, false)
  await new Promise((r) => setTimeout(r, 12_000))
  await start({ name: CLUSTER, brokers: 1 })

  await fill(log, input, 500, 500, 29)
  await until(
    async () => (await readTopic(log, output)).length >= 1000,
    '1000 outputs after the outage',
    90_000,
    () => handles.map((h, i) => `runner ${i + 1}: [${h.partitions().join(',')}]`).join(', '),
  )
  // Nothing more comes: each input record's output once.
  await new Promise((r) => setTimeout(r, 2000))
  assertExactlyOnce(await countsByKey(log, output), 1000)

  const stopping = Promise.all(handles.map((h) => h.stop()))
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())
  assert.notEqual(await Promise.race([stopping, timeout]), 'timeout', 'stop() returns')
  stopped = true
})
