// The processor runtime's exactly-once protocol (task.ts), on every backbone: outputs and state survive appends
// refused, cut short or written without acknowledgement, with nothing lost and nothing written twice.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ProcessorSpec } from '../../src/processor/processor.ts'
import { runProcessor } from '../../src/processor/run-processor.ts'
import {
  assertExactlyOnce,
  BACKBONES,
  countsByKey,
  type Fault,
  faultyLog,
  fill,
  readTopic,
  T0,
  totals,
  uniqueTopic,
  until,
} from './helpers.ts'

for (const backbone of BACKBONES) {
  describe(`processor runtime on the ${backbone.name} log`, () => {
    test('one task per partition; state per key; a record refused with OFA_SQL_VALUE is skipped', async (t) => {
      const log = await backbone.open(t)
      const input = uniqueTopic('in')
      const output = uniqueTopic('out')
      await log.createTopic({ name: input, partitions: 3 })
      await log.createTopic({ name: output, partitions: 3 })
      await fill(log, input, 0, 1400)
      await log.append(input, [{ key: 'k0', value: 'bad' }])
      const handle = runProcessor({ eventLog: log, spec: totals(uniqueTopic('p'), input, output) })
      t.after(() => handle.stop())
      await handle.ready
      await until(async () => (await readTopic(log, output)).length >= 1400, '1400 outputs')
      await until(() => Object.values(handle.stats().tasks).reduce((s, x) => s + x.skipped, 0) === 1, 'one skipped')
      const counts = await countsByKey(log, output)
      assertExactlyOnce(counts, 1400)
      assert.equal(Object.keys(handle.stats().tasks).length, 3)
      // Each output record names its task and source record.
      const [first] = await readTopic(log, output)
      assert.match(first?.headers['ofa.task']?.toString() ?? '', /^p-[0-9a-f]{8}\/\d$/)
      assert.match(first?.headers['ofa.src']?.toString() ?? '', /^0:\d+:0$/)
    })

    for (const [what, fault] of [
      ['the checkpoint refused after the outputs were written', 'checkpoint-before'],
      ['the outputs cut short (a prefix written)', 'output-prefix'],
      ['the outputs written but not acknowledged', 'output-after'],
      ['the checkpoint written but not acknowledged', 'checkpoint-after'],
    ] as const) {
      test(`${what}: restored from the checkpoint, nothing lost, nothing twice`, async (t) => {
        const log = await backbone.open(t)
        const input = uniqueTopic('in')
        const output = uniqueTopic('out')
        await log.createTopic({ name: input, partitions: 2 })
        await log.createTopic({ name: output, partitions: 2 })
        const spec = totals(uniqueTopic('p'), input, output)
        let appends = 0
        let injected = 0
        const faulty = faultyLog(log, (topic, records): Fault => {
          const isCheckpoint = topic.startsWith('_ofa_proc_')
          const isOutput = topic === output
          if (!isCheckpoint && !isOutput) return undefined
          appends++
          // Every fifth append of the chosen kind fails, a few times over the run.
          if (appends % 5 !== 0 || injected >= 6) return undefined
          if (fault.startsWith('checkpoint') !== isCheckpoint) return undefined
          injected++
          if (fault === 'checkpoint-before') return { kind: 'before' }
          if (fault === 'output-prefix') return { kind: 'after', prefix: Math.floor(records.length / 2) }
          return { kind: 'after' }
        })
        const handle = runProcessor({ eventLog: faulty, spec, maxBatchRecords: 50 })
        t.after(() => handle.stop())
        await handle.ready
        for (let i = 0; i < 6; i++) {
          await fill(log, input, i * 300, 300)
          await new Promise((r) => setTimeout(r, 30))
        }
        await until(
          async () => (await readTopic(log, output)).length >= 1800 && injected >= 3,
          'all outputs',
          20_000,
          async () =>
            `${(await readTopic(log, output)).length} outputs, ${injected} faults, ${JSON.stringify(handle.stats())}`,
        )
        await new Promise((r) => setTimeout(r, 200))
        assertExactlyOnce(await countsByKey(log, output), 1800)
        const stats = Object.values(handle.stats().tasks)
        assert.ok(
          stats.reduce((s, x) => s + x.restores, 0) > stats.length,
          'the faults made tasks restore from their checkpoint',
        )
        if (fault.startsWith('output'))
          assert.ok(stats.reduce((s, x) => s + x.deduplicated, 0) > 0, 'outputs found written were not rewritten')
      })
    }

    test('a new runner on the same log resumes where the last one stopped', async (t) => {
      const log = await backbone.open(t)
      const input = uniqueTopic('in')
      const output = uniqueTopic('out')
      await log.createTopic({ name: input, partitions: 2 })
      await log.createTopic({ name: output, partitions: 2 })
      const spec = totals(uniqueTopic('p'), input, output)
      await fill(log, input, 0, 500)
      const one = runProcessor({ eventLog: log, spec })
      await until(async () => (await readTopic(log, output)).length >= 500, 'first 500')
      await one.stop()
      await fill(log, input, 500, 500)
      const two = runProcessor({ eventLog: log, spec })
      t.after(() => two.stop())
      await until(async () => (await readTopic(log, output)).length >= 1000, 'the next 500')
      await new Promise((r) => setTimeout(r, 100))
      assertExactlyOnce(await countsByKey(log, output), 1000)
    })

    test('two inputs are merged by timestamp, and an interrupted batch is replayed from its intent', async (t) => {
      const log = await backbone.open(t)
      const a = uniqueTopic('a')
      const b = uniqueTopic('b')
      const output = uniqueTopic('out')
      for (const name of [a, b, output]) await log.createTopic({ name, partitions: 1 })
      const spec: ProcessorSpec = {
        id: uniqueTopic('merge'),
        inputs: [a, b],
        outputs: [output],
        stores: ['seen'],
        process(r, ctx) {
          const seen = ctx.store<number>('seen')
          const n = (seen.get('n') ?? 0) + 1
          seen.put('n', n)
          ctx.emit(output, { key: 'all', value: `${n}:${r.input}:${r.value?.toString()}`, timestamp: r.timestamp })
        },
      }
      // Interleaved timestamps across the two topics.
      await log.append(
        a,
        [1, 3, 5, 7].map((ts) => ({ key: 'x', value: `a${ts}`, timestamp: T0 + ts })),
      )
      await log.append(
        b,
        [2, 4, 6, 8].map((ts) => ({ key: 'x', value: `b${ts}`, timestamp: T0 + ts })),
      )
      let failed = false
      const faulty = faultyLog(log, (topic) => {
        // The first batch: the intent is written, then the outputs fail once.
        if (topic === output && !failed) {
          failed = true
          return { kind: 'after', prefix: 3 }
        }
        return undefined
      })
      const handle = runProcessor({ eventLog: faulty, spec })
      t.after(() => handle.stop())
      await until(async () => (await readTopic(log, output)).length >= 8, 'eight outputs')
      await new Promise((r) => setTimeout(r, 100))
      assert.deepEqual(
        (await readTopic(log, output)).map((r) => r.value?.toString()),
        ['1:0:a1', '2:1:b2', '3:0:a3', '4:1:b4', '5:0:a5', '6:1:b6', '7:0:a7', '8:1:b8'],
      )
    })
  })
}
