// Crash safety of the write-ahead file (`wal: true`): a child appending to 6 partitions is killed with SIGKILL
// at random moments, and the disk is then put in the states a crash can leave — a torn WAL tail, segment
// writes lost after the WAL record was durable (a crash of the machine before a checkpoint), a WAL file left
// by a checkpoint cut short — and every acknowledged record must be there after reopening, exactly once.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import { type EmbeddedLog, openEmbeddedLog, repairLog, verifyLog } from '../src/index.ts'
import { scanWal, type WalEntry } from '../src/internal/wal.ts'
import { testTmpfs } from './faults/fault-helpers.ts'
import { segmentFiles, tempDir } from './helpers.ts'

const CHILD = path.join(import.meta.dirname, 'fixtures', 'wal-child.ts')
const TOPIC = 'wal'
const PARTITIONS = 6

interface Acked {
  partition: number
  offset: number
  seq: number
}

/** Runs the appending child until it acknowledged at least `min` records, then for `ms` more, then kills it. */
async function appendAndKill(
  dir: string,
  firstSeq: number,
  walBytes: number,
  ms: number,
  min = 200,
  mixed = false,
): Promise<Acked[]> {
  const extra = mixed ? ['mixed'] : []
  const proc: ChildProcess = spawn(process.execPath, [CHILD, dir, String(firstSeq), String(walBytes), ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines: string[] = []
  let rest = ''
  proc.stdout!.setEncoding('utf8')
  proc.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop()!
    lines.push(...parts)
  })
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
  const deadline = Date.now() + 30_000
  while (lines.length < min + 1) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL')
      assert.fail(`the child acknowledged only ${lines.length - 1} records`)
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  await new Promise((r) => setTimeout(r, ms))
  proc.kill('SIGKILL')
  await exited
  // Lines are printed whole after each acknowledged append; a line cut by the kill was never complete.
  return lines
    .filter((l) => l !== 'ready')
    .map((l) => {
      const [p, o, s] = l.split(' ').map(Number) as [number, number, number]
      return { partition: p, offset: o, seq: s }
    })
}

/** Every record of the topic: per partition, offset → [seq, producer]; checks the offsets are dense. */
async function readTopic(dir: string): Promise<Map<number, [number, number]>[]> {
  const log = await openEmbeddedLog({ dir, wal: true, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
  try {
    const d = await log.describeTopic(TOPIC)
    const out: Map<number, [number, number]>[] = []
    for (let p = 0; p < PARTITIONS; p++) {
      const st = d.partitionStates[p]!
      assert.equal(st.error, undefined, `partition ${p}: ${st.error?.message}`)
      const m = new Map<number, [number, number]>()
      let offset = st.startOffset
      while (offset < st.endOffset) {
        const recs = await log.read(TOPIC, p, offset, { maxRecords: 5000 })
        for (const r of recs) {
          assert.equal(r.offset, offset, `partition ${p}: offsets are dense`)
          const [, seq, producer] = r.value!.toString().split(':')
          m.set(r.offset, [Number(seq), Number(producer)])
          offset++
        }
      }
      out.push(m)
    }
    return out
  } finally {
    await log.close()
  }
}

/** Every acknowledged record is where it was acknowledged, every seq at most once, in order per producer. */
function checkRecords(parts: Map<number, [number, number]>[], acked: readonly Acked[]): void {
  for (const a of acked) {
    const got = parts[a.partition]!.get(a.offset)
    assert.ok(got, `acknowledged record ${a.partition}/${a.offset} (seq ${a.seq}) is missing`)
    assert.equal(got[0], a.seq, `record ${a.partition}/${a.offset}`)
  }
  const seen = new Set<number>()
  for (const [p, m] of parts.entries()) {
    const last = [-1, -1]
    for (const [offset, [seq, producer]] of [...m.entries()].sort((x, y) => x[0] - y[0])) {
      assert.ok(!seen.has(seq), `seq ${seq} appears twice (again at ${p}/${offset})`)
      seen.add(seq)
      assert.ok(seq > last[producer]!, `partition ${p}: producer ${producer}'s records out of order at ${offset}`)
      last[producer] = seq
    }
  }
}

/** Positions and base offsets of the batches of a segment file. */
function batches(file: string): { position: number; base: number; length: number }[] {
  const buf = fs.readFileSync(file)
  const out: { position: number; base: number; length: number }[] = []
  for (let p = 0; p + 56 <= buf.length; ) {
    const length = buf.readUInt32LE(p + 8)
    if (length < 56 || p + length > buf.length) break
    out.push({ position: p, base: Number(buf.readBigInt64LE(p + 16)), length })
    p += length
  }
  return out
}

/**
 * What a crash of the machine may do to segment writes not yet made durable by a checkpoint (those the WAL
 * covers; only the batches after the last one the WAL does not hold): `cut` loses them all (the file ends before
 * the first one), `hole` loses the first one only (zeros) and keeps the later ones. Returns how many partitions
 * were changed.
 */
async function loseUnsyncedSegmentWrites(dir: string, how: 'cut' | 'hole'): Promise<number> {
  const scan = await scanWal(dir)
  let changed = 0
  for (let p = 0; p < PARTITIONS; p++) {
    const entries = scan.entries.get(`${TOPIC}/${p}`)
    if (!entries || entries.length === 0) continue
    // A batch the WAL does not hold went to the segment by itself (a group commit of one partition, which skips
    // the WAL) and was fdatasync'd with everything before it: only what follows the last such batch may be lost.
    const inWal = new Set(entries.map((e) => e.header.baseOffset))
    const active = segmentFiles(dir, TOPIC, p).at(-1)!
    const list = batches(active)
    let from = 0
    for (let i = 0; i < list.length; i++) if (!inWal.has(list[i]!.base)) from = i + 1
    const first = list.slice(from).find((b) => inWal.has(b.base))
    if (!first) continue
    if (how === 'cut') fs.truncateSync(active, first.position)
    else {
      const fd = fs.openSync(active, 'r+')
      fs.writeSync(fd, Buffer.alloc(first.length), 0, first.length, first.position)
      fs.closeSync(fd)
    }
    changed++
  }
  return changed
}

/**
 * Appends and kills until the crash leaves segment writes to lose (a kill right after a group commit of one
 * partition, which skips the WAL and fdatasyncs the segment, may leave none), then loses them. Returns every
 * acknowledged record, and the partitions' segment bytes before the loss.
 */
async function crashAndLose(dir: string, how: 'cut' | 'hole'): Promise<{ acked: Acked[]; sizes: number[] }> {
  const acked: Acked[] = []
  for (let attempt = 0; attempt < 10; attempt++) {
    acked.push(...(await appendAndKill(dir, attempt * 10_000_000, 64 << 20, 100, 2000)))
    assert.ok(walFiles(dir).length > 0)
    const sizes = Array.from({ length: PARTITIONS }, (_, p) =>
      segmentFiles(dir, TOPIC, p).reduce((n, f) => n + fs.statSync(f).size, 0),
    )
    if ((await loseUnsyncedSegmentWrites(dir, how)) > 0) return { acked, sizes }
  }
  assert.fail('no crash left segment writes behind the WAL to lose')
}

function walFiles(dir: string): string[] {
  const wdir = path.join(dir, 'wal')
  if (!fs.existsSync(wdir)) return []
  return fs
    .readdirSync(wdir)
    .filter((f) => f.endsWith('.wal'))
    .sort()
    .map((f) => path.join(wdir, f))
}

describe('write-ahead file: crashes', () => {
  it('SIGKILL at random moments while appending to 6 partitions: every acknowledged record is there exactly once', async (t) => {
    const dir = tempDir(t)
    const acked: Acked[] = []
    const rounds = 16
    let lost = 0
    for (let round = 0; round < rounds; round++) {
      // Small WAL files in half the rounds: kills then also land while the WAL is checkpointed.
      const walBytes = round % 2 === 0 ? 96 * 1024 : 8 << 20
      // Every fourth round mixes in group commits of one partition (they skip the WAL).
      const mixed = round % 4 === 3
      const ms = Math.floor(Math.random() * 250)
      acked.push(...(await appendAndKill(dir, round * 10_000_000, walBytes, ms, 200, mixed)))
      // Every third round, also lose what a crash of the machine may lose: segment writes the WAL covers.
      if (round % 3 === 1) lost += await loseUnsyncedSegmentWrites(dir, round % 2 === 0 ? 'hole' : 'cut')
      checkRecords(await readTopic(dir), acked)
      assert.deepEqual(walFiles(dir), [], 'a clean close leaves no WAL file')
    }
    assert.ok(acked.length > rounds * 200)
    assert.ok(lost > 0, 'some rounds had segment writes to lose')
    const v = await verifyLog(dir)
    assert.equal(v.ok, true, JSON.stringify(v.problems))
  })

  it('a crash between the WAL write and the segment write: the segments are rebuilt from the WAL', async (t) => {
    const dir = tempDir(t)
    // The WAL covers everything (no checkpoint yet): the segments lose what was written behind it.
    const { acked, sizes } = await crashAndLose(dir, 'cut')
    // Verify, before the writer opens: the WAL holds batches beyond the segments, for the next open to write.
    const v = await verifyLog(dir)
    assert.ok((v.wal?.pendingBatches ?? 0) > 0, JSON.stringify(v.wal))
    assert.ok(v.notes.some((n) => n.includes('beyond its segments')))
    checkRecords(await readTopic(dir), acked)
    for (let p = 0; p < PARTITIONS; p++) {
      const now = segmentFiles(dir, TOPIC, p).reduce((n, f) => n + fs.statSync(f).size, 0)
      assert.ok(now >= sizes[p]!, `partition ${p} was rebuilt (${now} bytes, ${sizes[p]} before)`)
    }
  })

  it('a reader opening after a crash, before the writer, reads every acknowledged record from the segments', async (t) => {
    const dir = tempDir(t)
    const acked = await appendAndKill(dir, 0, 64 << 20, 100, 1000)
    assert.ok(walFiles(dir).length > 0)
    const reader = await openEmbeddedLog({ dir, readOnly: true })
    try {
      const d = await reader.describeTopic(TOPIC)
      for (const a of acked) {
        assert.equal(d.partitionStates[a.partition]!.error, undefined)
        const [r] = await reader.read(TOPIC, a.partition, a.offset, { maxRecords: 1 })
        assert.equal(r?.value?.toString().split(':')[1], String(a.seq))
      }
    } finally {
      await reader.close()
    }
    // The reader changed nothing: the WAL is still there for the writer.
    assert.ok(walFiles(dir).length > 0)
  })

  it('a hole in an unsynced segment tail with valid batches after it is rewritten from the WAL', async (t) => {
    const dir = tempDir(t)
    const { acked } = await crashAndLose(dir, 'hole')
    checkRecords(await readTopic(dir), acked)
  })

  it('a torn WAL tail is cut; verify notes it first, and finds nothing after', async (t) => {
    const dir = tempDir(t)
    const acked = await appendAndKill(dir, 0, 64 << 20, 50)
    const newest = walFiles(dir).at(-1)!
    const size = fs.statSync(newest).size
    // Half of a copy of the last record's start, then zeros: a write that never completed.
    const head = fs.readFileSync(newest).subarray(0, Math.min(size, 300))
    fs.appendFileSync(newest, Buffer.concat([head, Buffer.alloc(4096)]))
    const before = await verifyLog(dir)
    assert.equal(before.ok, true, JSON.stringify(before.problems))
    assert.ok(before.wal?.files.some((f) => f.tornAt === size))
    checkRecords(await readTopic(dir), acked)
    const after = await verifyLog(dir)
    assert.equal(after.ok, true)
    assert.equal(after.wal?.files.length ?? 0, 0)
  })

  it('a crash during WAL truncation (an old WAL file left beside the segments it covers): replayed once only', async (t) => {
    const dir = tempDir(t)
    const acked = await appendAndKill(dir, 0, 64 << 20, 100, 1000)
    const kept = walFiles(dir).map((f) => [f, fs.readFileSync(f)] as const)
    assert.ok(kept.length > 0)
    const first = await readTopic(dir) // replays and checkpoints: the WAL files go
    checkRecords(first, acked)
    assert.deepEqual(walFiles(dir), [])
    // The checkpoint made the segments durable; the crash came before the WAL file was deleted.
    for (const [f, bytes] of kept) fs.writeFileSync(f, bytes)
    const more = await appendAndKill(dir, 50_000_000, 64 << 20, 50, 500)
    const all = [...acked, ...more]
    const parts = await readTopic(dir)
    checkRecords(parts, all)
    const total = parts.reduce((n, m) => n + m.size, 0)
    assert.ok(total >= all.length)
  })

  it('a damaged WAL record that acknowledged records follow is reported by verify, and the partitions say where', async (t) => {
    const dir = tempDir(t)
    // Lose the segment writes, then damage a WAL record in the middle: its batches cannot be replayed.
    await crashAndLose(dir, 'cut')
    const scan = await scanWal(dir)
    // A record holding a batch no longer in its segment (cut above), with batches of that partition after it.
    let mid: WalEntry | undefined
    for (let p = 0; p < PARTITIONS && !mid; p++) {
      const active = segmentFiles(dir, TOPIC, p).at(-1)!
      const segmentEnd = Math.max(Number(path.basename(active, '.log')) - 1, ...batches(active).map((b) => b.base))
      const later = (scan.entries.get(`${TOPIC}/${p}`) ?? [])
        .slice(0, -1)
        .filter((e) => e.header.baseOffset > segmentEnd)
      mid = later[Math.floor(later.length / 2)]
    }
    assert.ok(mid, 'a WAL record with batches no longer in their segment, and more after it')
    const fd = fs.openSync(mid.file, 'r+')
    fs.writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, mid.position + 40)
    fs.closeSync(fd)
    const v = await verifyLog(dir)
    assert.equal(v.ok, false)
    assert.ok(
      v.problems.some((p) => p.where?.file === mid.file && p.where.offset === mid.position),
      JSON.stringify(v.problems.map((p) => p.message)),
    )
    const warnings: string[] = []
    const log = await openEmbeddedLog({ dir, wal: true, onWarning: (w) => warnings.push(w.message) })
    const d = await log.describeTopic(TOPIC)
    assert.ok(d.partitionStates.some((s) => s.error?.code === 'OFA_LOG_CORRUPT'))
    assert.ok(warnings.some((w) => w.includes('damaged write-ahead record')))
    await log.close()
    // The WAL files stay for repair.
    assert.ok(walFiles(dir).includes(mid.file))
    const r = await repairLog(dir)
    assert.ok(r.actions.length > 0)
    assert.equal((await verifyLog(dir)).ok, true)
  })
})

describe('write-ahead file: a full disk', () => {
  it('fails the group commit with a retryable OFA_LOG_IO, cut back whole, and takes appends again once space is back', {
    timeout: 20_000,
  }, async (t) => {
    let log: EmbeddedLog | null = null
    const mnt = testTmpfs(t, 'ofa-wal-tmpfs-', '2m', async () => {
      await log?.close().catch(() => {})
    })
    if (!mnt) return
    const dir = path.join(mnt, 'data')
    const ballast = path.join(mnt, 'ballast')
    fs.writeFileSync(ballast, Buffer.alloc(256 * 1024, 1))
    const opts = { dir, wal: true, compactionIntervalMs: 0, retentionCheckIntervalMs: 0, onWarning: () => {} }
    log = await openEmbeddedLog(opts)
    await log.createTopic({ name: 'full', partitions: 3, segmentBytes: 64 * 1024 })
    const ledger = new Map<string, string>()
    let failure: unknown = null
    for (let n = 0; failure === null; n++) {
      const records = Array.from({ length: 9 }, (_, i) => ({ value: `n${n}-${i}-`.padEnd(700, 'x'), partition: i % 3 }))
      try {
        const meta = await log.append('full', records)
        for (const [i, m] of meta.entries()) ledger.set(`${m.partition}/${m.offset}`, records[i]!.value)
      } catch (err) {
        failure = err
      }
    }
    assert.ok(isOpenFactoryError(failure, 'OFA_LOG_IO'), String(failure))
    assert.equal(failure.retryable, true)
    assert.match(failure.message, /ENOSPC|no space/i)
    const states = (await log.describeTopic('full')).partitionStates
    assert.deepEqual(
      states.map((s) => s.error),
      [undefined, undefined, undefined],
    )
    // Nothing of a failed group commit counts: each partition ends where its acknowledged records end.
    for (const s of states) {
      const held = [...ledger.keys()].filter((k) => k.startsWith(`${s.partition}/`)).length
      assert.equal(s.endOffset, held, `partition ${s.partition}`)
    }
    fs.rmSync(ballast)
    const meta = await log.append(
      'full',
      [0, 1, 2].map((p) => ({ value: `after-${p}`, partition: p })),
    )
    for (const m of meta) {
      assert.equal(m.offset, states[m.partition]!.endOffset, 'offsets follow on')
      ledger.set(`${m.partition}/${m.offset}`, `after-${m.partition}`)
    }
    await log.close()
    assert.equal((await verifyLog(dir)).ok, true)
    log = await openEmbeddedLog(opts)
    for (const [key, v] of ledger) {
      const [p, o] = key.split('/').map(Number) as [number, number]
      const [r] = await log.read('full', p, o, { maxRecords: 1 })
      assert.equal(r?.value?.toString(), v)
    }
  })
})
