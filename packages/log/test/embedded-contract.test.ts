// The backbone contract, run against the embedded log (one fresh data directory per test).
import type { EmbeddedLog } from '../src/index.ts'
import { runBackboneContract } from '../src/testing/index.ts'
import { createTestLog } from './helpers.ts'

const dirs = new WeakMap<EmbeddedLog, string>()

runBackboneContract('embedded', {
  async open(t) {
    const log = await createTestLog(t)
    dirs.set(log, log.dir)
    return log
  },
  async reopen(t, log) {
    await log.close()
    const next = await createTestLog(t, { dir: dirs.get(log as EmbeddedLog)! })
    dirs.set(next, next.dir)
    return next
  },
  async forceCompaction(log, topic) {
    await (log as EmbeddedLog).compact(topic)
  },
  compactionTopic: { segmentBytes: 1024 },
  eventuallyMs: 10_000,
  maxRecordBytes: 8 << 20, // the default maxRecordBytes
})
