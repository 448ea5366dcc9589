// A processor stopped while its tasks restore (a rebalance or a stop arriving then, as after a broker outage with
// group assignment): stop() returns and the tasks end. An attempt stopped before its pumps started used to leave
// them waiting for records forever (the 'abort' listener was added after the abort), and stop() with them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { runProcessor } from '../../src/processor/run-processor.ts'
import { BACKBONES, fill, totals, uniqueTopic, until } from './helpers.ts'

/** The log, with describeTopic held up while `slow` is set (restore starts with one). */
function slowDescribe(log: EventLog, slow: { on: boolean; calls: number }): EventLog {
  return new Proxy(log, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver)
      if (prop !== 'describeTopic') return typeof v === 'function' ? v.bind(target) : v
      return async (name: string) => {
        if (slow.on) {
          slow.calls++
          await new Promise((r) => setTimeout(r, 500))
        }
        return target.describeTopic(name)
      }
    },
  })
}

const embedded = BACKBONES.find((b) => b.name === 'embedded')!

for (const assignment of ['static', 'group'] as const) {
  test(`a processor stopped while its tasks restore stops (${assignment} assignment)`, async (t) => {
    const log = await embedded.open(t)
    const input = uniqueTopic('in')
    const output = uniqueTopic('out')
    await log.createTopic({ name: input, partitions: 2 })
    await log.createTopic({ name: output, partitions: 2 })
    await fill(log, input, 0, 50)
    // describeTopic held up from the start: the processor's check calls it once, then each task's restore.
    const slow = { on: true, calls: 0 }
    const handle = runProcessor({
      eventLog: slowDescribe(log, slow),
      spec: totals(uniqueTopic('p'), input, output),
      assignment,
      ...(assignment === 'group' ? { fenceMs: 100, sessionTimeoutMs: 1000 } : {}),
    })
    await until(() => slow.calls >= 2, 'a task restoring', 10_000)
    const stopped = await Promise.race([
      handle.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('hung'), 10_000).unref()),
    ])
    assert.equal(stopped, 'stopped')
  })
}
