// The backbone contract, run against the embedded log writing through its write-ahead file (`wal: true`; one
// fresh data directory per test; small WAL files, so that checkpoints happen while the suite runs).
import type { EmbeddedLog } from '../src/index.ts'
import { runBackboneContract } from '../src/testing/index.ts'
import { createTestLog } from './helpers.ts'

const dirs = new WeakMap<EmbeddedLog, string>()
const WAL = { wal: true, walBytes: 64 * 1024 }

runBackboneContract('embedded (write-ahead file)', {
  async open(t) {
    const log = await createTestLog(t, WAL)
    dirs.set(log, log.dir)
    return log
  },
  async reopen(t, log) {
    await log.close()
    const next = await createTestLog(t, { ...WAL, dir: dirs.get(log as EmbeddedLog)! })
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
