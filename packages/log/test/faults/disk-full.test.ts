// Issue 10, item 13 (the log's part): a full disk. On a real 2 MiB tmpfs the test mounts (as root; without the
// right to mount, the test says so and is skipped): appends fail with OFA_LOG_IO naming ENOSPC, retryable; no
// partition is left broken (a write that failed partway is cut back); reads go on; once space comes back the
// log takes appends again by itself, offsets following on; a restart finds nothing damaged.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isOpenFactoryError, type OpenFactoryError } from '@openfactory/model'
import { type EmbeddedLog, openEmbeddedLog, verifyLog } from '../../src/index.ts'
import { at, type Ledger, readAll, testTmpfs } from './fault-helpers.ts'

describe('faults: a full disk (issue 10, item 13)', () => {
  it('fails appends with a retryable OFA_LOG_IO, keeps reading, and takes appends again once space is back', {
    timeout: 20_000,
  }, async (t) => {
    let log: EmbeddedLog | null = null
    const mnt = testTmpfs(t, 'ofa-log-tmpfs-', '2m', async () => {
      await log?.close().catch(() => {})
    })
    if (!mnt) return
    const dir = path.join(mnt, 'data')
    // Room to give back later: 256 KiB the log cannot use until this file goes.
    const ballast = path.join(mnt, 'ballast')
    fs.writeFileSync(ballast, Buffer.alloc(256 * 1024, 1))
    log = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0, onWarning: () => {} })
    await log.createTopic({ name: 'full', partitions: 2, segmentBytes: 64 * 1024 })
    const ledger: Ledger = new Map()
    const value = (p: number, n: number) => `p${p}-n${n}-`.padEnd(900, 'x')
    let failure: OpenFactoryError | null = null
    const next = [0, 0]
    // Two producers, one per partition, until the disk is full.
    await Promise.all(
      [0, 1].map(async (p) => {
        while (failure === null) {
          const records = Array.from({ length: 7 }, () => ({ value: value(p, next[p]!++), partition: p }))
          try {
            const meta = await log!.append('full', records)
            for (const [i, m] of meta.entries()) ledger.set(at('full', m.partition, m.offset), records[i]!.value)
          } catch (err) {
            assert.ok(isOpenFactoryError(err), String(err))
            failure = err
          }
        }
      }),
    )
    const err = failure as OpenFactoryError | null
    assert.ok(err)
    assert.equal(err.code, 'OFA_LOG_IO')
    assert.equal(err.retryable, true)
    assert.match(err.message, /ENOSPC|no space/i)
    assert.ok(err.where?.file?.startsWith(path.join(dir, 'topics', 'full')), JSON.stringify(err.where))
    // Still full: appends keep failing the same way (what a failed batch had taken was given back, so a few
    // single records may fit first), and no partition is marked failed.
    let again: unknown = null
    for (let n = 0; n < 100 && again === null; n++) {
      const v = value(0, 1e6 + n)
      await log.append('full', [{ value: v, partition: 0 }]).then(
        ([m]) => ledger.set(at('full', 0, m!.offset), v),
        (e: unknown) => {
          again = e
        },
      )
    }
    assert.ok(isOpenFactoryError(again, 'OFA_LOG_IO') && again.retryable, String(again))
    const states = (await log.describeTopic('full')).partitionStates
    assert.deepEqual(
      states.map((s) => s.error),
      [undefined, undefined],
    )
    // Group commits fail the same way and leave no temporary file behind.
    const c = log.consumer({ group: 'full-g', topics: ['full'] })
    const commitErr = await c.commit([{ topic: 'full', partition: 0, offset: 1 }]).then(
      () => null,
      (e: unknown) => e,
    )
    if (commitErr !== null)
      assert.ok(isOpenFactoryError(commitErr, 'OFA_LOG_IO') && commitErr.retryable, String(commitErr))
    assert.deepEqual(
      fs.readdirSync(path.join(dir, 'groups')).filter((f) => f.endsWith('.tmp')),
      [],
    )
    // Reads go on, each partition answering for itself.
    for (const p of [0, 1]) {
      const recs = await readAll(log, 'full', p)
      for (const [key, v] of ledger)
        if (key.startsWith(`full/${p}/`)) assert.equal(recs.get(Number(key.split('/')[2])), v)
      assert.equal(recs.size, states[p]!.endOffset)
    }
    // Space comes back: appends work again without a restart, offsets following on.
    fs.rmSync(ballast)
    for (const p of [0, 1]) {
      const [m] = await log.append('full', [{ value: value(p, 1e7), partition: p }])
      assert.equal(m!.offset, states[p]!.endOffset, `partition ${p} goes on where it stopped`)
      ledger.set(at('full', p, m!.offset), value(p, 1e7))
    }
    await c.commit([{ topic: 'full', partition: 0, offset: 1 }])
    await c.close()
    await log.close()
    // A restart finds nothing damaged and every acknowledged record.
    const report = await verifyLog(dir)
    assert.deepEqual(
      report.problems.map((p) => p.format()),
      [],
    )
    assert.deepEqual(
      report.partitions.map((p) => p.tornTail),
      [null, null],
    )
    log = await openEmbeddedLog({ dir, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
    for (const p of [0, 1]) {
      const recs = await readAll(log, 'full', p)
      for (const [key, v] of ledger)
        if (key.startsWith(`full/${p}/`)) assert.equal(recs.get(Number(key.split('/')[2])), v)
    }
  })
})
