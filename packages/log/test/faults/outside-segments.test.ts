// Issue 10, item 16: damage outside the records — topic.json, openfactory-log.json, a deleted segment, the lock
// and owner files, the marks, a compaction marker, group offsets, a partition directory. Each case: opening
// serves what is intact and answers a coded error naming the file for what is not (or repairs what holds no
// data by itself, with a warning); verify reports it; repair fixes it or says what to do.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { openEmbeddedLog, repairLog, verifyLog } from '../../src/index.ts'
import { rejectsWith } from '../../src/testing/index.ts'
import { tempDir } from '../helpers.ts'
import { appendTo, at, isCoded, type Ledger, openQuiet, readAll, segmentFiles } from './fault-helpers.ts'

/**
 * A log with topic `a` (2 partitions, small segments), topic `b` (compacted, 1 partition) and a committed
 * group; returns the ledger of what was acknowledged.
 */
async function standardLog(t: TestContext, dir: string): Promise<Ledger> {
  const ledger: Ledger = new Map()
  const { log } = await openQuiet(t, dir)
  await log.createTopic({ name: 'a', partitions: 2, segmentBytes: 1024 })
  await log.createTopic({ name: 'b', partitions: 1, cleanupPolicy: 'compact', segmentBytes: 1024 })
  await appendTo(log, ledger, 'a', 0, 8)
  await appendTo(log, ledger, 'a', 1, 3)
  await appendTo(log, ledger, 'b', 0, 4)
  const c = log.consumer({ group: 'g', topics: ['a'] })
  await c.commit([{ topic: 'a', partition: 1, offset: 15 }])
  await c.close()
  await log.close()
  return ledger
}

/** Every acknowledged record of the partitions named is read back with its value. */
async function assertIntact(
  log: Awaited<ReturnType<typeof openEmbeddedLog>>,
  ledger: Ledger,
  parts: readonly [string, number][],
): Promise<void> {
  for (const [topic, p] of parts) {
    const recs = await readAll(log, topic, p)
    for (const [key, value] of ledger) {
      const [tt, pp, o] = key.split('/')
      if (tt !== topic || Number(pp) !== p) continue
      assert.equal(recs.get(Number(o)), value, `acknowledged record ${key}`)
    }
  }
}

async function verifiesAfterRepair(dir: string): Promise<Awaited<ReturnType<typeof repairLog>>> {
  const repair = await repairLog(dir)
  assert.deepEqual(
    repair.unrepaired.map((e) => e.message),
    [],
  )
  const after = await verifyLog(dir)
  assert.deepEqual(
    after.problems.map((e) => e.format()),
    [],
    'after repair the log verifies',
  )
  return repair
}

describe('faults: damage outside the segment files (issue 10, item 16)', () => {
  it('a garbage topic.json: that topic answers OFA_LOG_CORRUPT, the others are served; repair rebuilds it from what survives', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const file = path.join(dir, 'topics', 'b', 'topic.json')
    const text = fs.readFileSync(file, 'utf8')
    // Half of it survives: the policy line is readable, the rest is cut off.
    fs.writeFileSync(file, `${text.slice(0, text.indexOf('"retentionMs"'))}\u0000\u0000garbage`)
    {
      const { log, warnings } = await openQuiet(t, dir)
      await assert.rejects(
        () => log.read('b', 0, 0),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
      )
      await assert.rejects(
        () => log.append('b', [{ key: 'k', value: 'x' }]),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
      )
      await assert.rejects(
        () => log.createTopic({ name: 'b', partitions: 1, cleanupPolicy: 'compact' }),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
      )
      await assertIntact(log, ledger, [
        ['a', 0],
        ['a', 1],
      ])
      assert.ok(warnings.some((w) => w.includes(file)))
      await log.close()
    }
    const report = await verifyLog(dir)
    assert.deepEqual(
      report.problems.map((p) => p.where?.file),
      [file],
    )
    const repair = await verifiesAfterRepair(dir)
    const rebuilt = repair.actions.find((a) => a.file === file)!
    assert.equal(rebuilt.action, 'rebuilt')
    assert.ok(fs.existsSync(rebuilt.movedTo!), 'the damaged topic.json is kept aside')
    assert.match(rebuilt.note!, /retentionMs/)
    assert.doesNotMatch(rebuilt.note!, /cleanupPolicy/, 'the policy could still be read')
    const { log } = await openQuiet(t, dir)
    assert.equal((await log.describeTopic('b')).cleanupPolicy, 'compact')
    await assertIntact(log, ledger, [['b', 0]])
  })

  it('a wholly unreadable topic.json is rebuilt with defaults, each guess named', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const file = path.join(dir, 'topics', 'a', 'topic.json')
    fs.writeFileSync(file, Buffer.from([0xff, 0x00, 0x13, 0x37]))
    const repair = await verifiesAfterRepair(dir)
    const note = repair.actions.find((a) => a.file === file)!.note!
    assert.match(note, /partitions 2 \(from the partition directories\)/)
    assert.match(note, /cleanupPolicy delete/)
    const { log } = await openQuiet(t, dir)
    await assertIntact(log, ledger, [
      ['a', 0],
      ['a', 1],
    ])
  })

  it('a deleted topic.json is damage, not an interrupted creation: createTopic never overwrites the records', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const file = path.join(dir, 'topics', 'a', 'topic.json')
    fs.rmSync(file)
    {
      const { log } = await openQuiet(t, dir)
      assert.deepEqual(await log.listTopics(), ['a', 'b'])
      await assert.rejects(
        () => log.createTopic({ name: 'a', partitions: 2 }),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
      )
      await assert.rejects(
        () => log.read('a', 0, 0),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
      )
      await log.close()
    }
    assert.ok(segmentFiles(dir, 'a', 0).length > 1, 'the records are still there')
    assert.deepEqual(
      (await verifyLog(dir)).problems.map((p) => p.where?.file),
      [file],
    )
    await verifiesAfterRepair(dir)
    const { log } = await openQuiet(t, dir)
    await assertIntact(log, ledger, [
      ['a', 0],
      ['a', 1],
    ])
  })

  for (const [name, damage] of [
    ['garbage', (file: string) => fs.writeFileSync(file, '{"format": "openfactory-embed')],
    ['missing', (file: string) => fs.rmSync(file)],
  ] as const) {
    it(`a ${name} openfactory-log.json: opening refuses with OFA_LOG_CORRUPT saying what to do; repair writes it`, async (t) => {
      const dir = tempDir(t)
      const ledger = await standardLog(t, dir)
      const file = path.join(dir, 'openfactory-log.json')
      damage(file)
      for (const readOnly of [false, true]) {
        await assert.rejects(
          () => openEmbeddedLog({ dir, readOnly }),
          (err) => isCoded(err, 'OFA_LOG_CORRUPT', file) && /ofa log repair/.test((err as Error).message),
        )
      }
      const report = await verifyLog(dir)
      assert.equal(report.ok, false)
      assert.deepEqual(
        report.problems.map((p) => p.where?.file),
        [file],
      )
      const repair = await verifiesAfterRepair(dir)
      assert.ok(repair.actions.some((a) => a.file === file && a.action === 'rebuilt'))
      const { log } = await openQuiet(t, dir)
      await assertIntact(log, ledger, [
        ['a', 0],
        ['a', 1],
        ['b', 0],
      ])
    })
  }

  it('a deleted segment in the middle: that partition answers OFA_LOG_CORRUPT, the rest is served; repair stands a lost-batch for it', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const files = segmentFiles(dir, 'a', 0)
    assert.ok(files.length >= 3, `${files.length} segments`)
    fs.rmSync(files[1]!)
    {
      const { log } = await openQuiet(t, dir)
      await assert.rejects(
        () => log.read('a', 0, 0),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', files[2]),
      )
      await assert.rejects(
        () => log.append('a', [{ value: 'x', partition: 0 }]),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT'),
      )
      const d = await log.describeTopic('a')
      assert.equal(d.partitionStates[0]!.error?.code, 'OFA_LOG_CORRUPT')
      await assertIntact(log, ledger, [
        ['a', 1],
        ['b', 0],
      ])
      await log.append('a', [{ value: 'fine', partition: 1 }])
      await log.close()
    }
    const report = await verifyLog(dir)
    assert.deepEqual(
      report.problems.map((p) => p.where?.file),
      [files[2]],
    )
    const repair = await verifiesAfterRepair(dir)
    const filled = repair.actions.find((a) => a.action === 'filled-gap')!
    assert.equal(filled.file, files[1], 'the new file takes the deleted one’s place')
    const [lost] = filled.lost
    const { log } = await openQuiet(t, dir)
    const recs = await readAll(log, 'a', 0)
    for (const [key, value] of ledger) {
      const [tt, pp, o] = key.split('/')
      if (tt !== 'a' || pp !== '0') continue
      const offset = Number(o)
      if (offset >= lost!.fromOffset! && offset <= lost!.toOffset!) assert.equal(recs.get(offset), undefined)
      else assert.equal(recs.get(offset), value, `record ${key} kept`)
    }
    const [m] = await log.append('a', [{ value: 'next', partition: 0 }])
    assert.equal(m!.offset, 40, 'offsets go on where they were')
  })

  it('followers and consumer groups of a topic go on with its other partitions, and say which one is skipped', async (t) => {
    const dir = tempDir(t)
    await standardLog(t, dir)
    const files = segmentFiles(dir, 'a', 0)
    fs.rmSync(files[1]!)
    const { log, warnings } = await openQuiet(t, dir)
    const ac = new AbortController()
    t.after(() => ac.abort())
    const followed: string[] = []
    const following = (async () => {
      for await (const b of log.follow('a', { signal: ac.signal }))
        for (const r of b) followed.push(`${r.partition}/${r.offset}`)
    })()
    const consumed: string[] = []
    const consuming = (async () => {
      for await (const b of log.consumer({ group: 'fresh', topics: ['a'], signal: ac.signal })) {
        for (const r of b) consumed.push(`${r.partition}/${r.offset}`)
      }
    })()
    await log.append('a', [{ value: 'new', partition: 1 }])
    const deadline = Date.now() + 10_000
    while (!(followed.includes('1/15') && consumed.includes('1/15'))) {
      assert.ok(Date.now() < deadline, `follower saw ${followed.length}, consumer ${consumed.length} records`)
      await new Promise((r) => setTimeout(r, 10))
    }
    ac.abort()
    await Promise.all([following, consuming])
    assert.ok(followed.every((r) => r.startsWith('1/')))
    assert.ok(consumed.every((r) => r.startsWith('1/')))
    assert.ok(
      warnings.some((w) => w.includes(files[2]!)),
      warnings.join('\n'),
    )
  })

  it('a garbage lock file nobody holds is replaced on open, with a warning; one that a process holds is OFA_LOG_LOCKED', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const lock = path.join(dir, 'lock')
    fs.writeFileSync(lock, 'this is not an SQLite database '.repeat(40))
    assert.ok((await verifyLog(dir)).notes.some((n) => n.includes(lock)))
    {
      const { log, warnings } = await openQuiet(t, dir)
      await assertIntact(log, ledger, [['a', 0]])
      assert.ok(
        warnings.some((w) => w.includes('lock') && w.includes('moved aside')),
        warnings.join('\n'),
      )
      assert.ok(fs.existsSync(`${lock}.damaged`))
      // Damaged while held: the owner still owns it.
      fs.writeFileSync(lock, 'garbage again '.repeat(40))
      await rejectsWith(() => openEmbeddedLog({ dir }), 'OFA_LOG_LOCKED')
      await log.close()
    }
    const repair = await verifiesAfterRepair(dir)
    assert.ok(repair.actions.some((a) => a.action === 'replaced-lock'))
  })

  it('a garbage owner.json changes nothing but a note', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const owner = path.join(dir, 'owner.json')
    fs.writeFileSync(owner, '\u0000{{{')
    const report = await verifyLog(dir)
    assert.equal(report.ok, true)
    assert.ok(report.notes.some((n) => n.includes(owner)))
    const { log } = await openQuiet(t, dir)
    await assertIntact(log, ledger, [['a', 0]])
    assert.ok(JSON.parse(fs.readFileSync(owner, 'utf8')).pid > 0, 'the writer rewrote it')
  })

  for (const [name, damage] of [
    ['garbage', (file: string) => fs.writeFileSync(file, Buffer.alloc(64, 0x41))],
    ['missing', (file: string) => fs.rmSync(file)],
    ['cut short', (file: string) => fs.truncateSync(file, 20)],
  ] as const) {
    it(`${name} marks: the partition is served and its marks rebuilt, with a warning; verify reports it`, async (t) => {
      const dir = tempDir(t)
      const ledger = await standardLog(t, dir)
      const file = path.join(dir, 'topics', 'a', '0', 'marks')
      damage(file)
      const report = await verifyLog(dir)
      assert.deepEqual(
        report.problems.map((p) => p.where?.file),
        [file],
      )
      const { log, warnings } = await openQuiet(t, dir)
      await assertIntact(log, ledger, [['a', 0]])
      assert.ok(
        warnings.some((w) => w.includes(file)),
        warnings.join('\n'),
      )
      await log.close()
      assert.equal((await verifyLog(dir)).ok, true, 'the writer rebuilt the marks')
      assert.equal(
        (await verifyLog(dir)).partitions.find((p) => p.topic === 'a' && p.partition === 0)!.highWaterMark,
        40,
      )
    })
  }

  it('one damaged slot of the marks file: the other slot is read', async (t) => {
    const dir = tempDir(t)
    await standardLog(t, dir)
    const file = path.join(dir, 'topics', 'a', '0', 'marks')
    const buf = fs.readFileSync(file)
    // Damage the slot holding the latest values: the older slot still tells a lower (never a higher) mark.
    const latest = buf.readDoubleLE(8) > buf.readDoubleLE(40) ? 0 : 32
    buf[latest + 20] = buf[latest + 20]! ^ 0xff
    fs.writeFileSync(file, buf)
    const report = await verifyLog(dir)
    assert.equal(report.ok, true)
    const p = report.partitions.find((x) => x.topic === 'a' && x.partition === 0)!
    assert.ok(p.highWaterMark !== null && p.highWaterMark <= 40)
    assert.ok(p.notes.some((n) => n.includes('slot')))
  })

  it('a garbage compaction marker: that partition answers OFA_LOG_CORRUPT naming it; repair works out the compaction from the files', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const [first] = segmentFiles(dir, 'b', 0) as [string]
    const marker = `${first}.swap`
    fs.writeFileSync(marker, '{"replaces": [0, 5, ')
    {
      const { log } = await openQuiet(t, dir)
      await assert.rejects(
        () => log.read('b', 0, 0),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', marker),
      )
      await assertIntact(log, ledger, [['a', 0]])
      await log.close()
    }
    assert.deepEqual(
      (await verifyLog(dir)).problems.map((p) => p.where?.file),
      [marker],
    )
    const repair = await verifiesAfterRepair(dir)
    assert.ok(repair.actions.some((a) => a.file === marker && a.action === 'removed-leftover'))
    const { log } = await openQuiet(t, dir)
    await assertIntact(log, ledger, [['b', 0]])
  })

  it('a garbage group-offsets file: that group answers OFA_LOG_CORRUPT naming it, others work; repair moves it aside', async (t) => {
    const dir = tempDir(t)
    await standardLog(t, dir)
    const file = path.join(dir, 'groups', 'g.json')
    fs.writeFileSync(file, '{"group": "g", "offsets": {"a": {"1": "fif')
    {
      const { log } = await openQuiet(t, dir)
      await assert.rejects(
        () => log.committedOffsets('g', 'a'),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', file),
      )
      const other = log.consumer({ group: 'other', topics: ['a'] })
      await other.commit([{ topic: 'a', partition: 0, offset: 3 }])
      await other.close()
      await log.close()
    }
    assert.deepEqual(
      (await verifyLog(dir)).problems.map((p) => p.where?.file),
      [file],
    )
    const repair = await verifiesAfterRepair(dir)
    assert.ok(repair.actions.some((a) => a.file === file && a.action === 'moved-aside'))
    const { log } = await openQuiet(t, dir)
    assert.deepEqual(await log.committedOffsets('g', 'a'), new Map())
    assert.equal((await log.committedOffsets('other', 'a')).get(0), 3)
  })

  it('a deleted partition directory: that partition answers OFA_LOG_CORRUPT; repair makes it again, empty, and says what was lost', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    const pdir = path.join(dir, 'topics', 'a', '1')
    fs.rmSync(pdir, { recursive: true })
    {
      const { log } = await openQuiet(t, dir)
      await assert.rejects(
        () => log.read('a', 1, 0),
        (err) => isCoded(err, 'OFA_LOG_CORRUPT', pdir),
      )
      await assertIntact(log, ledger, [['a', 0]])
      await log.close()
    }
    assert.deepEqual(
      (await verifyLog(dir)).problems.map((p) => p.where?.file),
      [pdir],
    )
    const repair = await verifiesAfterRepair(dir)
    assert.ok(repair.actions.some((a) => a.file === pdir && a.action === 'recreated'))
    // The group's offset 15 pointed into the lost partition: reset to its new end.
    assert.ok(repair.actions.some((a) => a.action === 'reset-offsets' && a.partition === 1))
    const { log } = await openQuiet(t, dir)
    assert.equal((await log.committedOffsets('g', 'a')).get(1), 0)
    const [m] = await log.append('a', [{ value: 'again', partition: 1 }])
    assert.equal(m!.offset, 0)
    assert.equal(ledger.has(at('a', 1, 0)), true)
  })

  it('a format version 1 directory (no marks; compaction left gaps) opens without warnings; gaps are checked in topics without compaction', async (t) => {
    const dir = tempDir(t)
    const ledger = await standardLog(t, dir)
    fs.writeFileSync(path.join(dir, 'openfactory-log.json'), '{"format":"openfactory-embedded-log","version":1}\n')
    for (const [topic, p] of [
      ['a', 0],
      ['a', 1],
      ['b', 0],
    ] as const) {
      fs.rmSync(path.join(dir, 'topics', topic, String(p), 'marks'))
    }
    // Version 1 compaction dropped emptied batches: a gap in a compacted topic is no damage there.
    const bFiles = segmentFiles(dir, 'b', 0)
    assert.ok(bFiles.length >= 2)
    fs.rmSync(bFiles[0]!)
    const report = await verifyLog(dir)
    assert.equal(report.formatVersion, 1)
    assert.deepEqual(
      report.problems.map((p) => p.format()),
      [],
    )
    const { log, warnings } = await openQuiet(t, dir)
    assert.deepEqual(warnings, [])
    await assertIntact(log, ledger, [
      ['a', 0],
      ['a', 1],
    ])
    await log.close()
    assert.ok(fs.existsSync(path.join(dir, 'topics', 'a', '0', 'marks')), 'the writer made the marks')
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'openfactory-log.json'), 'utf8')).version, 1)
    // A gap in a topic without compaction is damage at any version.
    fs.rmSync(segmentFiles(dir, 'a', 0)[1]!)
    assert.equal((await verifyLog(dir)).ok, false)
  })
})
