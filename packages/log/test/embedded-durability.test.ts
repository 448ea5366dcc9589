// Durability of the embedded log: crashes (SIGKILL), torn tails, damage, the owner lock, read-only readers,
// verify and repair. These are the embedded log's own tests; the backbone contract lives apart from them.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import { type EmbeddedLog, openEmbeddedLog, repairLog, verifyLog } from '../src/index.ts'
import { rejectsWith } from '../src/testing/index.ts'
import { createTestLog, readAll, segmentFiles, tempDir } from './helpers.ts'

const CHILD = path.join(import.meta.dirname, 'fixtures', 'log-child.ts')

interface Child {
  proc: ChildProcess
  lines: string[]
  exited: Promise<void>
}

function startChild(dir: string, mode: string, ...extra: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, dir, mode, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let rest = ''
  proc.stdout!.setEncoding('utf8')
  proc.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop()!
    lines.push(...parts)
  })
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
  return { proc, lines, exited }
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function writeBatches(log: EmbeddedLog, topic: string, batches: number, size = 5): Promise<void> {
  for (let b = 0; b < batches; b++) {
    await log.append(
      topic,
      Array.from({ length: size }, (_, i) => ({ key: `k${i}`, value: `b${b}-r${i}`.padEnd(40, '.'), partition: 0 })),
    )
  }
}

/** Positions of the batches of a segment file (from the batch length field at byte 8 of each header). */
function batchPositions(file: string): number[] {
  const buf = fs.readFileSync(file)
  const out: number[] = []
  for (let p = 0; p + 56 <= buf.length; p += buf.readUInt32LE(p + 8)) out.push(p)
  return out
}

function flipByte(file: string, position: number): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, position)
  b[0] = b[0]! ^ 0x5a
  fs.writeSync(fd, b, 0, 1, position)
  fs.closeSync(fd)
}

describe('embedded log: crash safety', () => {
  it('keeps every acknowledged record when the writer is killed with SIGKILL at random moments under load', {
    timeout: 60_000,
  }, async (t) => {
    const dir = tempDir(t)
    const acked = new Map<string, string>()
    // Random moments, reproducible: the seed is in every failure message.
    const seed = Date.now() % 100_000
    let state = seed
    const random = () => {
      state = (state * 48271) % 2147483647
      return state / 2147483647
    }
    let seq = 0
    for (let round = 0; round < 10; round++) {
      const child = startChild(dir, 'append', String(seq))
      t.after(() => child.proc.kill('SIGKILL'))
      // Kill after a random number of acknowledged records, or a random time after the first one.
      const atLines = 1 + Math.floor(random() * 2500)
      const afterMs = Math.floor(random() * 400)
      await waitFor(() => child.lines.length >= 1, `seed ${seed}, round ${round}: the first acknowledged append`)
      if (random() < 0.5) await waitFor(() => child.lines.length >= atLines, `seed ${seed}: ${atLines} records`)
      else await new Promise((r) => setTimeout(r, afterMs))
      child.proc.kill('SIGKILL')
      await child.exited
      for (const line of child.lines) {
        const [p, o, s] = line.split(' ')
        acked.set(`${p}/${o}`, s!)
        seq = Math.max(seq, Number(s) + 1)
      }
      seq += 100_000
      // No false alarm: the marks never claim more than the segments hold, whenever the kill came.
      const report = await verifyLog(dir)
      assert.deepEqual(
        report.problems.map((p) => p.format()),
        [],
        `seed ${seed}, round ${round}: nothing is corrupt`,
      )
      for (const p of report.partitions) {
        assert.ok(p.highWaterMark !== null && p.highWaterMark <= p.endOffset!, `seed ${seed}: marks within the data`)
      }
    }
    const log = await createTestLog(t, { dir })
    const parts = await Promise.all([0, 1, 2].map((p) => readAll(log, 'durable', p)))
    for (const [where, s] of acked) {
      const [p, o] = where.split('/').map(Number) as [number, number]
      const value = parts[p]!.get(o)
      assert.ok(value !== undefined, `seed ${seed}: acknowledged record ${where} is missing`)
      assert.ok(
        value.startsWith(`seq:${s}:`),
        `seed ${seed}: record ${where} holds ${value.slice(0, 20)}, not seq ${s}`,
      )
    }
    for (const [p, recs] of parts.entries()) {
      const offsets = [...recs.keys()]
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => i),
        `partition ${p} has no gaps`,
      )
    }
    // The group's committed offsets stay within the partitions.
    for (const [p, o] of await log.committedOffsets('durable-reader', 'durable')) {
      assert.ok(o <= parts[p]!.size, `seed ${seed}: committed ${o} within partition ${p} (${parts[p]!.size})`)
    }
    // The log takes appends again where it stopped.
    const [m] = await log.append('durable', [{ value: 'after', partition: 0 }])
    assert.equal(m!.offset, parts[0]!.size)
  })
})

describe('embedded log: torn tails and damage', () => {
  for (const [name, tear] of [
    ['half a batch', (file: string, batch: Buffer) => fs.appendFileSync(file, batch.subarray(0, batch.length >> 1))],
    ['zeros', (file: string) => fs.appendFileSync(file, Buffer.alloc(5000))],
    ['a header only', (file: string, batch: Buffer) => fs.appendFileSync(file, batch.subarray(0, 56))],
    ['a few bytes', (file: string, batch: Buffer) => fs.appendFileSync(file, batch.subarray(0, 3))],
    [
      'a copy of a batch whose checksum fails',
      (file: string, batch: Buffer) => {
        const copy = Buffer.from(batch)
        copy[copy.length - 3] = copy[copy.length - 3]! ^ 0xff
        fs.appendFileSync(file, copy)
      },
    ],
  ] as const) {
    it(`cuts a torn tail on open: ${name}`, async (t) => {
      const dir = tempDir(t)
      let log = await openEmbeddedLog({ dir })
      await log.createTopic({ name: 'tt', partitions: 1 })
      await writeBatches(log, 'tt', 3)
      await log.close()
      const [file] = segmentFiles(dir, 'tt', 0) as [string]
      const size = fs.statSync(file).size
      const pos = batchPositions(file)
      const lastBatch = fs.readFileSync(file).subarray(pos[2]!)
      tear(file, lastBatch)
      const report = await verifyLog(dir)
      assert.deepEqual(report.problems, [])
      assert.equal(report.partitions[0]!.tornTail?.offset, size)
      // A read-only reader leaves the torn tail alone.
      const ro = await openEmbeddedLog({ dir, readOnly: true })
      assert.equal((await ro.read('tt', 0, 0)).length, 15)
      await ro.close()
      assert.ok(fs.statSync(file).size > size)
      log = await createTestLog(t, { dir })
      assert.equal(fs.statSync(file).size, size, 'the torn tail was cut')
      assert.equal((await log.read('tt', 0, 0)).length, 15)
      const [m] = await log.append('tt', [{ value: 'next', partition: 0 }])
      assert.equal(m!.offset, 15)
      await log.close()
      assert.equal((await verifyLog(dir)).ok, true)
    })
  }

  it('calls a damaged last batch damage when the high-water mark says it was acknowledged; repair keeps its offsets', async (t) => {
    const dir = tempDir(t)
    const log = await openEmbeddedLog({ dir })
    await log.createTopic({ name: 'tt', partitions: 1 })
    await writeBatches(log, 'tt', 3)
    await log.close()
    const [file] = segmentFiles(dir, 'tt', 0) as [string]
    const pos = batchPositions(file)
    flipByte(file, fs.statSync(file).size - 5)
    const report = await verifyLog(dir)
    assert.deepEqual(
      report.problems.map((p) => [p.code, p.where?.file, p.where?.offset]),
      [['OFA_LOG_CORRUPT', file, pos[2]]],
    )
    assert.match(report.problems[0]!.message, /checksum/)
    assert.equal(report.partitions[0]!.tornTail, null)
    let again = await createTestLog(t, { dir })
    await rejectsWith(() => again.read('tt', 0, 0), 'OFA_LOG_CORRUPT')
    await again.close()
    assert.ok(fs.statSync(file).size > pos[2]!, 'nothing was cut')
    const repair = await repairLog(dir)
    assert.deepEqual(
      repair.actions.map((a) => [a.action, a.lost.map((l) => [l.fromOffset, l.toOffset])]),
      [['moved-aside', [[10, 14]]]],
    )
    again = await createTestLog(t, { dir })
    assert.equal((await again.read('tt', 0, 0)).length, 10)
    const [m] = await again.append('tt', [{ value: 'next', partition: 0 }])
    assert.equal(m!.offset, 15)
  })

  it('refuses a partition damaged before its tail with OFA_LOG_CORRUPT naming file and offset; repair moves the damage aside', async (t) => {
    const dir = tempDir(t)
    let log = await openEmbeddedLog({ dir })
    await log.createTopic({ name: 'dmg', partitions: 2 })
    await writeBatches(log, 'dmg', 3)
    await log.append('dmg', [{ value: 'other', partition: 1 }])
    await log.close()
    const [file] = segmentFiles(dir, 'dmg', 0) as [string]
    const pos = batchPositions(file)
    flipByte(file, pos[1]! + 70)

    log = await createTestLog(t, { dir })
    const check = (err: unknown): boolean => {
      assert.ok(isOpenFactoryError(err, 'OFA_LOG_CORRUPT'), String(err))
      assert.equal(err.where?.file, file)
      assert.equal(err.where?.offset, pos[1])
      return true
    }
    await assert.rejects(() => log.read('dmg', 0, 0), check)
    await assert.rejects(() => log.append('dmg', [{ value: 'x', partition: 0 }]), check)
    // describeTopic names the damaged partition's error and still describes the other one.
    const described = await log.describeTopic('dmg')
    assert.ok(check(described.partitionStates[0]!.error))
    assert.equal(described.partitionStates[1]!.error, undefined)
    assert.equal(described.partitionStates[1]!.endOffset, 1)
    assert.equal((await log.read('dmg', 1, 0)).length, 1, 'the other partition works')
    await log.append('dmg', [{ value: 'still', partition: 1 }])
    await rejectsWith(() => repairLog(dir), 'OFA_LOG_LOCKED')
    await log.close()

    const report = await verifyLog(dir)
    assert.equal(report.ok, false)
    assert.equal(report.problems.length, 1)
    assert.equal(report.problems[0]!.code, 'OFA_LOG_CORRUPT')
    assert.deepEqual(report.problems[0]!.where, { file, offset: pos[1] })
    const original = fs.readFileSync(file)

    const repair = await repairLog(dir)
    assert.equal(repair.actions.length, 1)
    const action = repair.actions[0]!
    assert.equal(action.action, 'moved-aside')
    assert.equal(action.movedTo, `${file}.damaged`)
    assert.deepEqual(
      action.lost.map((l) => [l.fromOffset, l.toOffset, l.position]),
      [[5, 9, pos[1]]],
    )
    assert.deepEqual(fs.readFileSync(`${file}.damaged`), original, 'the damaged original is kept')
    assert.equal((await verifyLog(dir)).ok, true)

    log = await createTestLog(t, { dir })
    const recs = await log.read('dmg', 0, 0)
    assert.deepEqual(
      recs.map((r) => r.offset),
      [0, 1, 2, 3, 4, 10, 11, 12, 13, 14],
    )
    const [m] = await log.append('dmg', [{ value: 'after repair', partition: 0 }])
    assert.equal(m!.offset, 15, 'offsets never go back')
  })

  it('finds damage in a sealed segment: its header on open, its records on read', async (t) => {
    const dir = tempDir(t)
    let log = await openEmbeddedLog({ dir })
    await log.createTopic({ name: 'sealed', partitions: 1, segmentBytes: 1024 })
    await writeBatches(log, 'sealed', 12)
    await log.close()
    const files = segmentFiles(dir, 'sealed', 0)
    assert.ok(files.length >= 3, 'several segments')
    // Records of the first segment damaged: found when read.
    flipByte(files[0]!, 100)
    log = await createTestLog(t, { dir })
    await rejectsWith(() => log.read('sealed', 0, 0), 'OFA_LOG_CORRUPT')
    const late = await log.read('sealed', 0, 55)
    assert.equal(late[0]!.offset, 55, 'segments after the damage read fine')
    await log.close()
    assert.deepEqual(
      (await verifyLog(dir)).problems.map((p) => p.where),
      [{ file: files[0], offset: 0 }],
    )
    // A damaged header in a sealed segment: the partition refuses to open.
    flipByte(files[1]!, 30)
    log = await createTestLog(t, { dir })
    await assert.rejects(
      () => log.read('sealed', 0, 55),
      (err: unknown) =>
        isOpenFactoryError(err, 'OFA_LOG_CORRUPT') && err.where?.file === files[1] && err.where?.offset === 0,
    )
    await log.close()
    const repair = await repairLog(dir)
    assert.deepEqual(
      repair.actions.map((a) => [a.file, a.action]),
      [
        [files[0], 'moved-aside'],
        [files[1], 'moved-aside'],
      ],
    )
    const after = await openEmbeddedLog({ dir })
    t.after(() => after.close())
    const recs = await readAll(after, 'sealed', 0)
    assert.ok(recs.size > 0 && recs.size < 60)
    assert.ok(recs.has(59))
  })

  it('verify and repair leave a healthy log alone', async (t) => {
    const dir = tempDir(t)
    const log = await openEmbeddedLog({ dir })
    await log.createTopic({ name: 'ok', partitions: 2, segmentBytes: 1024 })
    await writeBatches(log, 'ok', 8)
    await log.close()
    const report = await verifyLog(dir)
    assert.equal(report.ok, true)
    const p0 = report.partitions.find((p) => p.partition === 0)!
    assert.equal(p0.records, 40)
    assert.equal(p0.firstOffset, 0)
    assert.equal(p0.lastOffset, 39)
    assert.ok(p0.segments.length > 1)
    assert.deepEqual((await repairLog(dir)).actions, [])
    await rejectsWith(() => verifyLog(path.join(dir, 'nothing-here')), 'OFA_LOG_NOT_FOUND')
  })

  it('refuses records larger than maxRecordBytes', async (t) => {
    const log = await createTestLog(t, { maxRecordBytes: 1000 })
    await log.createTopic({ name: 'big', partitions: 1 })
    await rejectsWith(
      () => log.append('big', [{ value: 'ok' }, { value: 'x'.repeat(2000) }]),
      'OFA_LOG_RECORD_TOO_LARGE',
    )
    assert.deepEqual(await log.read('big', 0, 0), [], 'nothing of a refused append is written')
  })
})

describe('embedded log: one owner, many readers', () => {
  it('gives a second writer OFA_LOG_LOCKED, in this process and in another one', { timeout: 30_000 }, async (t) => {
    const dir = tempDir(t)
    const log = await createTestLog(t, { dir })
    await rejectsWith(() => openEmbeddedLog({ dir }), 'OFA_LOG_LOCKED')
    const child = startChild(dir, 'try-open')
    await child.exited
    assert.deepEqual(child.lines, ['error OFA_LOG_LOCKED'])
    await log.close()
    const again = startChild(dir, 'try-open')
    await again.exited
    assert.deepEqual(again.lines, ['opened'])
  })

  it('leaves no stale lock when the owner is killed with SIGKILL', { timeout: 30_000 }, async (t) => {
    const dir = tempDir(t)
    const child = startChild(dir, 'own')
    t.after(() => child.proc.kill('SIGKILL'))
    await waitFor(() => child.lines.includes('owned'), 'the child to own the log')
    await assert.rejects(
      () => openEmbeddedLog({ dir }),
      (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_LOCKED') && err.message.includes(`pid ${child.proc.pid}`),
    )
    child.proc.kill('SIGKILL')
    await child.exited
    const log = await createTestLog(t, { dir })
    assert.deepEqual(await log.listTopics(), [])
  })

  it('serves read-only readers beside the writer, following its appends', async (t) => {
    const dir = tempDir(t)
    const log = await createTestLog(t, { dir })
    await log.createTopic({ name: 'shared', partitions: 2, segmentBytes: 2048 })
    await log.append('shared', [{ key: 'a', value: 'one' }])
    const ro = await createTestLog(t, { dir, readOnly: true, pollIntervalMs: 10 })
    assert.deepEqual(await ro.listTopics(), ['shared'])
    await rejectsWith(() => ro.append('shared', [{ value: 'x' }]), 'OFA_LOG_READ_ONLY')
    await rejectsWith(() => ro.createTopic({ name: 'other', partitions: 1 }), 'OFA_LOG_READ_ONLY')
    const ac = new AbortController()
    t.after(() => ac.abort())
    const got: string[] = []
    const following = (async () => {
      for await (const b of ro.follow('shared', { signal: ac.signal })) for (const r of b) got.push(r.value!.toString())
    })()
    for (let i = 0; i < 60; i++) await log.append('shared', [{ key: `k${i % 5}`, value: `v${i}`.padEnd(100, '.') }])
    await waitFor(() => got.length >= 61, 'the read-only follower to see every record')
    ac.abort()
    await following
    assert.equal(new Set(got).size, 61)
    // A topic created after the reader opened shows up too.
    await log.createTopic({ name: 'later', partitions: 1 })
    await log.append('later', [{ value: 'hello' }])
    assert.ok((await ro.listTopics()).includes('later'))
    assert.equal((await ro.read('later', 0, 0))[0]!.value!.toString(), 'hello')
    await rejectsWith(() => openEmbeddedLog({ dir: path.join(dir, 'missing'), readOnly: true }), 'OFA_LOG_NOT_FOUND')
  })

  it('refuses to adopt a directory that holds something else', async (t) => {
    const dir = tempDir(t)
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine')
    await rejectsWith(() => openEmbeddedLog({ dir }), 'OFA_LOG_INVALID_ARGUMENT')
  })
})

describe('embedded log: segments, group commit, retention, compaction', () => {
  it('rolls segments and reads across them, before and after a restart', async (t) => {
    const dir = tempDir(t)
    let log = await openEmbeddedLog({ dir })
    await log.createTopic({ name: 'roll', partitions: 1, segmentBytes: 1024 })
    await writeBatches(log, 'roll', 20)
    assert.ok(segmentFiles(dir, 'roll', 0).length > 5)
    assert.equal((await readAll(log, 'roll', 0)).size, 100)
    await log.close()
    log = await createTestLog(t, { dir })
    const recs = await readAll(log, 'roll', 0)
    assert.deepEqual([...recs.keys()], [...Array(100).keys()])
    assert.equal((await log.read('roll', 0, 37, { maxRecords: 1 }))[0]!.offset, 37)
    const [m] = await log.append('roll', [{ value: 'x', partition: 0 }])
    assert.equal(m!.offset, 100)
  })

  it('writes concurrent appends to one partition in fewer batches than appends (group commit)', async (t) => {
    const dir = tempDir(t)
    const log = await openEmbeddedLog({ dir })
    await log.createTopic({ name: 'gc', partitions: 1 })
    const metas = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append('gc', [{ value: `v${i}` }])))
    assert.deepEqual(
      metas.map((m) => m[0]!.offset).sort((a, b) => a - b),
      [...Array(200).keys()],
    )
    await log.close()
    const report = await verifyLog(dir)
    const seg = report.partitions[0]!.segments[0]!
    assert.equal(seg.records, 200)
    assert.ok(seg.batches < 200, `${seg.batches} batches for 200 appends`)
  })

  it('deletes old segments by size and by time, and answers OFA_LOG_OFFSET_OUT_OF_RANGE below the start', async (t) => {
    let now = 1_700_000_000_000
    const log = await createTestLog(t, { now: () => now })
    await log.createTopic({ name: 'bysize', partitions: 1, segmentBytes: 1024, retentionBytes: 3000, retentionMs: -1 })
    await log.createTopic({ name: 'bytime', partitions: 1, segmentBytes: 1024, retentionMs: 60_000 })
    await log.createTopic({ name: 'keep', partitions: 1, segmentBytes: 1024, retentionMs: -1 })
    for (const topic of ['bysize', 'bytime', 'keep']) await writeBatches(log, topic, 20)
    now += 30_000
    await writeBatches(log, 'bytime', 20)
    now += 45_000
    const result = await log.enforceRetention()
    assert.ok(result.deletedSegments > 0)
    const size = (await log.describeTopic('bysize')).partitionStates[0]!
    assert.ok(size.startOffset > 0)
    assert.equal(size.endOffset, 100)
    const onDisk = segmentFiles(log.dir, 'bysize', 0).reduce((n, f) => n + fs.statSync(f).size, 0)
    assert.ok(onDisk < 3000 + 1024, `${onDisk} bytes left`)
    await rejectsWith(() => log.read('bysize', 0, 0), 'OFA_LOG_OFFSET_OUT_OF_RANGE')
    assert.equal((await log.read('bysize', 0, size.startOffset))[0]!.offset, size.startOffset)
    const time = (await log.describeTopic('bytime')).partitionStates[0]!
    assert.ok(
      time.startOffset >= 80 && time.startOffset <= 100,
      `start ${time.startOffset}: the first 100 records expired`,
    )
    assert.equal((await log.describeTopic('keep')).partitionStates[0]!.startOffset, 0)
  })

  it('starts a consumer whose startAt offset fell below the start (retention) at the start', async (t) => {
    const log = await createTestLog(t)
    await log.createTopic({ name: 'trimmed', partitions: 1, segmentBytes: 1024, retentionBytes: 3000, retentionMs: -1 })
    await writeBatches(log, 'trimmed', 20)
    await log.enforceRetention()
    const { startOffset } = (await log.describeTopic('trimmed')).partitionStates[0]!
    assert.ok(startOffset > 0)
    const c = log.consumer({ group: 'g', topics: ['trimmed'], resetTo: 'latest', startAt: { trimmed: { 0: 0 } } })
    t.after(() => c.close())
    for await (const batch of c) {
      assert.equal(batch[0]!.offset, startOffset, 'from the first record held, not from the end')
      break
    }
  })

  it('drops tombstones only after the tombstone retention, and refuses records without key', async (t) => {
    let now = 1_700_000_000_000
    const log = await createTestLog(t, { now: () => now, tombstoneRetentionMs: 1000 })
    await log.createTopic({ name: 'state', partitions: 1, cleanupPolicy: 'compact', segmentBytes: 1024 })
    await rejectsWith(() => log.append('state', [{ key: null, value: 'x' }]), 'OFA_LOG_INVALID_ARGUMENT')
    await log.append('state', [{ key: 'gone', value: 'v1' }])
    await log.append('state', [{ key: 'gone', value: null }])
    for (let i = 0; i < 30; i++) await log.append('state', [{ key: `k${i % 3}`, value: `${i}`.padEnd(60, '.') }])
    await log.compact('state')
    let recs = await readAll(log, 'state', 0)
    assert.equal(recs.get(0), undefined, 'the superseded value is gone')
    assert.equal(recs.get(1), '', 'the tombstone is kept for now')
    now += 2000
    await log.compact('state')
    recs = await readAll(log, 'state', 0)
    assert.equal(recs.get(1), undefined, 'the tombstone is gone after its retention')
    await log.close()
    assert.equal((await verifyLog(log.dir)).ok, true)
  })

  it('compacts compacted topics in the background', async (t) => {
    const log = await createTestLog(t, { compactionIntervalMs: 20 })
    await log.createTopic({ name: 'bg', partitions: 1, cleanupPolicy: 'compact', segmentBytes: 1024 })
    for (let i = 0; i < 100; i++) await log.append('bg', [{ key: `k${i % 3}`, value: `${i}`.padEnd(60, '.') }])
    const deadline = Date.now() + 20_000
    while ((await readAll(log, 'bg', 0)).size > 50) {
      assert.ok(Date.now() < deadline, 'background compaction ran')
      await new Promise((r) => setTimeout(r, 20))
    }
  })

  describe('a compaction that stopped halfway', () => {
    /**
     * Writes a compacted topic, compacts it once (each segment shrinks), saves the files, compacts again (the
     * segments merge) and returns the files before and after the merge, with the merge groups.
     */
    async function mergedTopic(dir: string) {
      let log = await openEmbeddedLog({ dir })
      await log.createTopic({ name: 'cmp', partitions: 1, cleanupPolicy: 'compact', segmentBytes: 1024 })
      // 20 keys, 4 versions each: the latest versions stay in sealed segments.
      for (let i = 0; i < 80; i++) await log.append('cmp', [{ key: `k${i % 20}`, value: `${i}`.padEnd(60, '.') }])
      await log.compact('cmp')
      const expected = await readAll(log, 'cmp', 0)
      await log.close()
      const before = new Map(segmentFiles(dir, 'cmp', 0).map((f) => [f, fs.readFileSync(f)] as const))
      log = await openEmbeddedLog({ dir })
      await log.compact('cmp')
      assert.deepEqual(await readAll(log, 'cmp', 0), expected)
      await log.close()
      const after = new Map(segmentFiles(dir, 'cmp', 0).map((f) => [f, fs.readFileSync(f)] as const))
      assert.ok(after.size < before.size, 'segments were merged')
      const base = (f: string) => Number(path.basename(f).slice(0, 20))
      const remaining = [...after.keys()]
      const groups = remaining.slice(0, -1).map((f, i) => {
        const next = base(remaining[i + 1]!)
        return [...before.keys()].filter((g) => base(g) >= base(f) && base(g) < next)
      })
      return { expected, before, after, groups: groups.filter((g) => g.length > 1), base }
    }

    async function reopenAndCheck(
      t: import('node:test').TestContext,
      dir: string,
      expected: Map<number, string>,
      files: string[],
    ) {
      const report = await verifyLog(dir)
      assert.deepEqual(report.problems, [])
      const log = await createTestLog(t, { dir })
      assert.deepEqual(await readAll(log, 'cmp', 0), expected)
      await log.close()
      const names = fs.readdirSync(path.join(dir, 'topics', 'cmp', '0'))
      assert.deepEqual(
        names.filter((n) => !/^\d{20}\.log$/.test(n) && n !== 'marks'),
        [],
        'no leftovers',
      )
      assert.deepEqual(segmentFiles(dir, 'cmp', 0), files, 'the merged segments are the ones in use')
      assert.equal((await verifyLog(dir)).ok, true)
    }

    it('after the merged segment was put in place: deletes the segments it replaced', async (t) => {
      const dir = tempDir(t)
      const { expected, before, after, groups, base } = await mergedTopic(dir)
      const [group] = groups as [string[]]
      for (const f of group.slice(1)) fs.writeFileSync(f, before.get(f)!)
      fs.writeFileSync(`${group[0]}.swap`, JSON.stringify({ replaces: group.map(base) }))
      const ro = await openEmbeddedLog({ dir, readOnly: true })
      assert.deepEqual(await readAll(ro, 'cmp', 0), expected, 'a reader leaves the replaced segments out')
      await ro.close()
      await reopenAndCheck(t, dir, expected, [...after.keys()])
    })

    it('before the merged segment was put in place: puts it in place', async (t) => {
      const dir = tempDir(t)
      const { expected, before, after, groups, base } = await mergedTopic(dir)
      const [group] = groups as [string[]]
      fs.writeFileSync(`${group[0]}.cleaned`, after.get(group[0]!)!)
      for (const f of group) fs.writeFileSync(f, before.get(f)!)
      fs.writeFileSync(`${group[0]}.swap`, JSON.stringify({ replaces: group.map(base) }))
      await reopenAndCheck(t, dir, expected, [...after.keys()])
    })

    it('while the merged segment was being written: deletes it', async (t) => {
      const dir = tempDir(t)
      const { expected, after } = await mergedTopic(dir)
      const first = [...after.keys()][0]!
      fs.writeFileSync(`${first}.cleaned`, 'half-written')
      assert.ok((await verifyLog(dir)).partitions[0]!.notes.length > 0)
      await reopenAndCheck(t, dir, expected, [...after.keys()])
    })

    it('without a marker, overlapping segments are damage, not leftovers', async (t) => {
      const dir = tempDir(t)
      const { before, groups } = await mergedTopic(dir)
      const [group] = groups as [string[]]
      for (const f of group.slice(1)) fs.writeFileSync(f, before.get(f)!)
      const log = await createTestLog(t, { dir })
      await assert.rejects(
        () => log.read('cmp', 0, 0),
        (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_CORRUPT') && err.where?.file === group[0],
      )
    })
  })
})
