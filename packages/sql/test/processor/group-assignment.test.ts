// Group assignment (run-processor.ts) and fencing (task.ts), on every backbone with consumer groups (the embedded
// log's groups work within its one process): runners of one processor share its partitions through a consumer
// group, partitions move when one stops, and an owner that lost its partition stops writing — outputs exactly once.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, test } from 'node:test'
import type { EventLog, LogRecord } from '@openfactory/log'
import { isOpenFactoryError, silentLogger } from '@openfactory/model'
import { openTestLog } from '../../../log-kafka/test/helpers.ts'
import { openSqlEngine } from '../../src/engine.ts'
import { checkpointTopic, readCheckpointEntry } from '../../src/processor/checkpoint.ts'
import { type ProcessorHandle, type RunProcessorOptions, runProcessor } from '../../src/processor/run-processor.ts'
import { ProcessorTask } from '../../src/processor/task.ts'
import { assertExactlyOnce, BACKBONES, countsByKey, fill, readTopic, totals, uniqueTopic, until } from './helpers.ts'

/** Keys spread over every one of 4 partitions (murmur2 of `k0`..`k28`). */
const KEYS = 29
const FENCE_MS = 300
const SESSION_MS = 3000

function group(log: EventLog, spec: ReturnType<typeof totals>, extra: Partial<RunProcessorOptions> = {}) {
  return runProcessor({
    eventLog: log,
    spec,
    assignment: 'group',
    fenceMs: FENCE_MS,
    sessionTimeoutMs: SESSION_MS,
    maxBatchRecords: 100,
    ...extra,
  })
}

/** What each runner has, for a failure message. */
function owners(...handles: ProcessorHandle[]): string {
  return handles.map((h, i) => `runner ${i + 1}: [${h.partitions().join(',')}]`).join(', ')
}

for (const backbone of BACKBONES) {
  describe(`group assignment on the ${backbone.name} log`, () => {
    test('two runners share the partitions; stopping one moves its partitions to the other; exactly once', async (t) => {
      const log = await backbone.open(t)
      const input = uniqueTopic('in')
      const output = uniqueTopic('out')
      await log.createTopic({ name: input, partitions: 4 })
      await log.createTopic({ name: output, partitions: 4 })
      const spec = totals(uniqueTopic('p'), input, output)
      await fill(log, input, 0, 2000, KEYS)
      const one = group(log, spec)
      const two = group(log, spec)
      t.after(() => Promise.all([one.stop(), two.stop()]))
      await Promise.all([one.ready, two.ready])
      await until(
        () => {
          const a = one.partitions()
          const b = two.partitions()
          return a.length > 0 && b.length > 0 && new Set([...a, ...b]).size === 4 && a.length + b.length === 4
        },
        'each runner with some partitions, together all',
        20_000,
        () => owners(one, two),
      )
      await fill(log, input, 2000, 1000, KEYS)
      await until(async () => (await readTopic(log, output)).length >= 3000, '3000 outputs')
      // The input keeps coming while one runner stops: its partitions move to the other mid-stream.
      const feeding = (async () => {
        for (let i = 0; i < 10; i++) {
          await fill(log, input, 3000 + i * 100, 100, KEYS)
          await new Promise((r) => setTimeout(r, 50))
        }
      })()
      await one.stop()
      await until(
        () => two.partitions().length === 4,
        'the other runner with all four',
        20_000,
        () => owners(two),
      )
      await feeding
      await until(
        async () => (await readTopic(log, output)).length >= 4000,
        '4000 outputs',
        20_000,
        async () => `${(await readTopic(log, output)).length} outputs; ${owners(two)}`,
      )
      await new Promise((r) => setTimeout(r, 300))
      assertExactlyOnce(await countsByKey(log, output), 4000)
      // Every partition was claimed by its first owner, and again by the second for those that moved.
      const claims = (await readTopic(log, checkpointTopic(spec.id))).filter(
        (r) => readCheckpointEntry(r.key, r.value)?.kind === 'claim',
      )
      assert.ok(claims.length >= 5, `claims: ${claims.length}`)
    })

    test('an owner that lost its partition stops writing; the group gives it back; exactly once', async (t) => {
      const log = await backbone.open(t)
      const input = uniqueTopic('in')
      const output = uniqueTopic('out')
      await log.createTopic({ name: input, partitions: 2 })
      await log.createTopic({ name: output, partitions: 2 })
      const spec = totals(uniqueTopic('p'), input, output)
      await fill(log, input, 0, 1000, KEYS)
      const runner = group(log, spec)
      t.after(() => runner.stop())
      await until(() => runner.partitions().length === 2, 'the runner with both partitions', 20_000)
      await until(async () => (await readTopic(log, output)).length >= 1000, '1000 outputs')

      // A second owner of partition 0 (what a process that got it in a rebalance does, forced here): it claims
      // the partition while the runner's task still runs it, waits the fence interval, restores.
      const intruder = new ProcessorTask({
        eventLog: log,
        spec,
        partition: 0,
        resetTo: 'earliest',
        logger: silentLogger,
        fence: { owner: 'intruder', intervalMs: FENCE_MS },
      })
      await intruder.claim()
      await intruder.restore()
      await fill(log, input, 1000, 1000, KEYS)
      // The runner's task meets the claim before its next write and stops; its other partition goes on.
      await until(
        () => runner.stats().tasks[0]?.fenced === true,
        'the first owner fenced',
        20_000,
        () => JSON.stringify(runner.stats()),
      )
      assert.deepEqual(runner.partitions(), [1])
      // The intruder takes partition 0 to its end.
      const end = async () => (await log.describeTopic(input)).partitionStates[0]?.endOffset ?? 0
      const runBatches = async (task: ProcessorTask) => {
        while ((task.positions[0] ?? 0) < (await end())) {
          const records: LogRecord[] = await log.read(input, 0, task.positions[0] ?? 0, { maxRecords: 100 })
          await task.runBatch([records])
        }
      }
      await runBatches(intruder)
      await until(async () => (await readTopic(log, output)).length >= 2000, '2000 outputs')

      // The group still gives partition 0 to the runner: a session timeout after the fence, it claims it again,
      // and the intruder is the one fenced at its next write.
      await until(() => runner.partitions().length === 2, 'the runner claiming partition 0 again', 20_000)
      await fill(log, input, 2000, 1000, KEYS)
      await assert.rejects(runBatches(intruder), (err) => isOpenFactoryError(err, 'OFA_PROCESSOR_FENCED'))
      assert.equal(intruder.fenced, true)
      await until(
        async () => (await readTopic(log, output)).length >= 3000,
        '3000 outputs',
        20_000,
        async () => `${(await readTopic(log, output)).length} outputs; ${JSON.stringify(runner.stats())}`,
      )
      await new Promise((r) => setTimeout(r, 300))
      assertExactlyOnce(await countsByKey(log, output), 3000)
    })
  })
}

test('options: group assignment with a partition list, or a bad fence interval, is refused', () => {
  const spec = totals('p', 'in', 'out')
  const eventLog = {} as EventLog
  for (const bad of [
    { assignment: 'group', partitions: [0] },
    { assignment: 'group', fenceMs: 0 },
    { assignment: 'group', sessionTimeoutMs: 10 },
  ] as const) {
    assert.throws(
      () => runProcessor({ eventLog, spec, ...bad }),
      (err) => isOpenFactoryError(err, 'OFA_CONFIG_INVALID'),
    )
  }
})

/** Per partition of a checkpoint topic, the member (owner less its `#n`) that claimed it last. */
async function lastClaims(log: EventLog, topic: string): Promise<Map<number, string>> {
  const out = new Map<number, string>()
  for (const r of await readTopic(log, topic)) {
    const e = readCheckpointEntry(r.key, r.value)
    if (e?.kind === 'claim') out.set(r.partition, e.claim.owner.replace(/#\d+$/, ''))
  }
  return out
}

describe('two SQL engines in group mode on one Kafka command topic', () => {
  test('share one persistent query: each runs some of its partitions; every count once', async (t) => {
    // Two logs: two clients, as two processes would have.
    const [logOne, logTwo] = [await openTestLog(t), await openTestLog(t)]
    const id = randomUUID().slice(0, 8)
    const topic = `ev-${id}`
    await logOne.createTopic({ name: topic, partitions: 4 })
    const opts = {
      commandTopic: `_ofa_sql_commands-${id}`,
      assignment: 'group',
      fenceMs: FENCE_MS,
      sessionTimeoutMs: SESSION_MS,
    } as const
    const one = await openSqlEngine({ eventLog: logOne, ...opts })
    t.after(() => one.close())
    await one.execute(
      `CREATE STREAM ev_${id} (k VARCHAR KEY, v INT) WITH (KAFKA_TOPIC='${topic}', VALUE_FORMAT='JSON');`,
    )
    const [created] = await one.execute(
      `CREATE TABLE counts_${id} AS SELECT k, COUNT(*) AS n FROM ev_${id} GROUP BY k EMIT CHANGES;`,
      { properties: { 'auto.offset.reset': 'earliest' } },
    )
    const queryId = (created as { commandStatus?: { queryId?: string } }).commandStatus?.queryId
    assert.ok(queryId, JSON.stringify(created))
    // The second engine replays the command topic and runs the same query, in the same group.
    const two = await openSqlEngine({ eventLog: logTwo, ...opts })
    t.after(() => two.close())
    const checkpoint = checkpointTopic(queryId)
    await until(
      async () => {
        const claims = await lastClaims(logOne, checkpoint)
        return claims.size === 4 && new Set(claims.values()).size === 2
      },
      'the partitions claimed by both engines',
      30_000,
      async () => JSON.stringify([...(await lastClaims(logOne, checkpoint))]),
    )
    const n = 2000
    for (let i = 0; i < n; i += 500) {
      await logOne.append(
        topic,
        Array.from({ length: 500 }, (_, j) => ({ key: `k${(i + j) % KEYS}`, value: JSON.stringify({ v: i + j }) })),
      )
    }
    const sink = one.catalog.require(`COUNTS_${id.toUpperCase()}`).topic
    await until(async () => (await readTopic(logOne, sink)).length >= n, `${n} rows`, 30_000)
    await new Promise((r) => setTimeout(r, 300))
    const byKey = new Map<string, number[]>()
    for (const r of await readTopic(logOne, sink)) {
      const k = r.key?.toString() ?? ''
      byKey.set(k, [...(byKey.get(k) ?? []), (JSON.parse(r.value?.toString() ?? '{}') as { N: number }).N])
    }
    assertExactlyOnce(byKey, n)
  })
})
