// Issue 10, item 5: a segment cut short in the middle is not a torn tail. The partition's high-water mark (the
// end offset that was acknowledged, kept in its `marks` file) tells the two apart: opening refuses the partition
// with OFA_LOG_CORRUPT naming the file and byte offset, verify reports it, repair moves the damaged segment
// aside, records what was lost and keeps offsets going up; committed offsets beyond an end are reset to it.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { openEmbeddedLog, repairLog, verifyLog } from '../../src/index.ts'
import { tempDir } from '../helpers.ts'
import {
  appendTo,
  at,
  batchPositions,
  isCoded,
  type Ledger,
  openQuiet,
  readAll,
  segmentFiles,
} from './fault-helpers.ts'

describe('faults: lost acknowledged data at the end of a partition (issue 10, item 5)', () => {
  for (const [name, cut] of [
    ['in the middle of a batch', (pos: number[]) => [pos[4]! + 70, pos[4]!] as const],
    ['on a batch boundary', (pos: number[]) => [pos[4]!, pos[4]!] as const],
    ['to nothing', () => [0, 0] as const],
    [
      'to half its size',
      (pos: number[], size: number) => [size >> 1, pos.filter((p) => p <= size >> 1).pop()!] as const,
    ],
  ] as const) {
    it(`refuses a partition whose last segment was cut ${name}; verify reports it; repair keeps offsets going up`, async (t) => {
      const dir = tempDir(t)
      const ledger: Ledger = new Map()
      {
        const { log } = await openQuiet(t, dir)
        await log.createTopic({ name: 'cut', partitions: 2 })
        await appendTo(log, ledger, 'cut', 0, 10)
        await appendTo(log, ledger, 'cut', 1, 2)
        const c = log.consumer({ group: 'g', topics: ['cut'] })
        await c.commit([{ topic: 'cut', partition: 0, offset: 50 }])
        await c.close()
        await log.close()
      }
      const [file] = segmentFiles(dir, 'cut', 0) as [string]
      const size = fs.statSync(file).size
      const pos = batchPositions(file)
      const [cutAt, dataEnd] = cut(pos, size)
      fs.truncateSync(file, cutAt)
      const keptRecords = pos.filter((p) => p < dataEnd).length * 5

      // Verify: damage, not a torn tail.
      const report = await verifyLog(dir)
      assert.equal(report.ok, false)
      const p0 = report.partitions.find((p) => p.topic === 'cut' && p.partition === 0)!
      assert.equal(p0.problems.length, 1, p0.problems.map((e) => e.message).join('\n'))
      assert.ok(isCoded(p0.problems[0], 'OFA_LOG_CORRUPT', file))
      assert.equal(p0.problems[0]!.where?.offset, dataEnd)
      assert.match(p0.problems[0]!.message, /acknowledged/)
      assert.equal(p0.tornTail, null)

      // A read-only reader refuses it the same way.
      {
        const ro = await openEmbeddedLog({ dir, readOnly: true })
        await assert.rejects(
          () => ro.read('cut', 0, 0),
          (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
        )
        assert.equal((await ro.read('cut', 1, 0)).length, 10)
        await ro.close()
      }
      // Opening: the damaged partition refuses with file and byte offset, nothing is cut, the other one works.
      {
        const { log } = await openQuiet(t, dir)
        const check = (err: unknown) =>
          isCoded(err, 'OFA_LOG_CORRUPT', file) && (err as { where: { offset: number } }).where.offset === dataEnd
        await assert.rejects(() => log.read('cut', 0, 0), check)
        await assert.rejects(() => log.append('cut', [{ value: 'x', partition: 0 }]), check)
        assert.equal((await readAll(log, 'cut', 1)).size, 10, 'the other partition is served')
        await log.append('cut', [{ value: 'still', partition: 1 }])
        await log.close()
        assert.equal(fs.statSync(file).size, cutAt, 'opening changed nothing in the damaged partition')
      }

      // Repair: the original goes aside, the lost offsets are recorded, offsets continue where they were.
      const repair = await repairLog(dir)
      const action = repair.actions.find((a) => a.file === file)!
      assert.equal(action.action, 'moved-aside')
      assert.ok(fs.existsSync(action.movedTo!))
      assert.deepEqual(
        action.lost.map((l) => [l.fromOffset, l.toOffset]),
        [[keptRecords, 49]],
      )
      assert.deepEqual(repair.unrepaired, [])
      assert.equal((await verifyLog(dir)).ok, true, 'after repair the log verifies')

      const { log } = await openQuiet(t, dir)
      const recs = await readAll(log, 'cut', 0)
      assert.deepEqual([...recs.keys()], [...Array(keptRecords).keys()])
      for (const [o, v] of recs) assert.equal(v, ledger.get(at('cut', 0, o)))
      const [m] = await log.append('cut', [{ value: 'after repair', partition: 0 }])
      assert.equal(m!.offset, 50, 'offsets are never given out twice')
      // The group's committed offset still points at the end: a consumer gets the new record, no hang.
      assert.equal((await log.committedOffsets('g', 'cut')).get(0), 50)
      const ac = new AbortController()
      const c = log.consumer({ group: 'g', topics: ['cut'], signal: ac.signal })
      const seen: number[] = []
      for await (const batch of c) {
        for (const r of batch) if (r.partition === 0) seen.push(r.offset)
        if (seen.length > 0) break
      }
      ac.abort()
      assert.deepEqual(seen, [50])
    })
  }

  it('refuses a partition whose last segments were deleted', async (t) => {
    const dir = tempDir(t)
    const ledger: Ledger = new Map()
    {
      const { log } = await openQuiet(t, dir)
      await log.createTopic({ name: 'gone', partitions: 1, segmentBytes: 1024 })
      await appendTo(log, ledger, 'gone', 0, 12)
      await log.close()
    }
    const files = segmentFiles(dir, 'gone', 0)
    assert.ok(files.length > 3)
    for (const f of files.slice(-2)) fs.rmSync(f)
    const report = await verifyLog(dir)
    assert.equal(report.ok, false)
    assert.equal(report.problems.length, 1)
    assert.ok(isCoded(report.problems[0], 'OFA_LOG_CORRUPT'))
    const { log } = await openQuiet(t, dir)
    await assert.rejects(
      () => log.read('gone', 0, 0),
      (err) => isCoded(err, 'OFA_LOG_CORRUPT'),
    )
    await log.close()
    const repair = await repairLog(dir)
    assert.equal(repair.unrepaired.length, 0)
    assert.equal((await verifyLog(dir)).ok, true)
    const again = await openQuiet(t, dir)
    const [m] = await again.log.append('gone', [{ value: 'next', partition: 0 }])
    assert.equal(m!.offset, 60)
  })

  it('damage to the last batch of a sealed segment is reported once (not again as a gap after it)', async (t) => {
    const dir = tempDir(t)
    const ledger: Ledger = new Map()
    {
      const { log } = await openQuiet(t, dir)
      await log.createTopic({ name: 'sealed', partitions: 1, segmentBytes: 1024 })
      await appendTo(log, ledger, 'sealed', 0, 12)
      await log.close()
    }
    const [first] = segmentFiles(dir, 'sealed', 0) as [string]
    const pos = batchPositions(first)
    const last = pos[pos.length - 1]!
    const bytes = fs.readFileSync(first)
    bytes[last + 60] = bytes[last + 60]! ^ 0x20 // its records: the header still says which offsets it held
    fs.writeFileSync(first, bytes)
    const report = await verifyLog(dir)
    assert.deepEqual(
      report.problems.map((p) => [p.where?.file, p.where?.offset]),
      [[first, last]],
    )
    const repair = await repairLog(dir)
    assert.deepEqual(
      repair.actions.map((a) => [a.action, a.file]),
      [['moved-aside', first]],
    )
    assert.equal((await verifyLog(dir)).ok, true)
  })

  it('a torn tail is still cut silently: it was never acknowledged', async (t) => {
    const dir = tempDir(t)
    const ledger: Ledger = new Map()
    {
      const { log } = await openQuiet(t, dir)
      await log.createTopic({ name: 'torn', partitions: 1 })
      await appendTo(log, ledger, 'torn', 0, 3)
      await log.close()
    }
    const [file] = segmentFiles(dir, 'torn', 0) as [string]
    const bytes = fs.readFileSync(file)
    fs.appendFileSync(file, bytes.subarray(0, 100))
    assert.deepEqual((await verifyLog(dir)).problems, [])
    const { log, warnings } = await openQuiet(t, dir)
    assert.equal((await readAll(log, 'torn', 0)).size, 15)
    assert.equal(fs.statSync(file).size, bytes.length)
    assert.deepEqual(warnings, [])
  })

  it('resets committed offsets beyond a partition end to the end, with a warning', async (t) => {
    const dir = tempDir(t)
    const ledger: Ledger = new Map()
    {
      const { log } = await openQuiet(t, dir)
      await log.createTopic({ name: 'reset', partitions: 2 })
      await appendTo(log, ledger, 'reset', 0, 4)
      const c = log.consumer({ group: 'cmds', topics: ['reset'] })
      await c.commit([
        { topic: 'reset', partition: 0, offset: 20 },
        { topic: 'reset', partition: 1, offset: 0 },
      ])
      await c.close()
      await log.close()
    }
    // The end went back and the marks cannot tell (they are gone too): the group's offset points past the end.
    const [file] = segmentFiles(dir, 'reset', 0) as [string]
    fs.truncateSync(file, batchPositions(file)[2]!)
    fs.rmSync(path.join(dir, 'topics', 'reset', '0', 'marks'), { force: true })
    const { log, warnings } = await openQuiet(t, dir)
    assert.equal((await log.committedOffsets('cmds', 'reset')).get(0), 10)
    assert.ok(
      warnings.some((w) => /cmds/.test(w) && /reset\/0/.test(w) && /20/.test(w) && /10/.test(w)),
      warnings.join('\n'),
    )
    // A consumer of the group takes the next record instead of waiting for offset 20 for ever.
    await log.append('reset', [{ value: 'new', partition: 0 }])
    const ac = new AbortController()
    for await (const batch of log.consumer({ group: 'cmds', topics: ['reset'], signal: ac.signal })) {
      assert.deepEqual(
        batch.map((r) => [r.partition, r.offset]),
        [[0, 10]],
      )
      break
    }
    ac.abort()
  })
})
