// Crash safety of the write-ahead file (`wal: true`): a child appending to 6 partitions is killed with SIGKILL
// at random moments, and the disk is then put in the states a crash can leave — a torn WAL tail, segment
// writes lost after the WAL record was durable (a crash of the machine before a checkpoint), a WAL file left
// by a checkpoint cut short — and every acknowledged record must be there after reopening, exactly once.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { crc32 } from 'node:zlib'
import { isOpenFactoryError } from '@openfactory/model'
import { type EmbeddedLog, openEmbeddedLog, repairLog, verifyLog } from '../src/index.ts'
import {
  encodeFileHeader,
  scanWal,
  WAL_FILE_HEADER_SIZE,
  WAL_MAGIC,
  type WalEntry,
  walFileName,
} from '../src/internal/wal.ts'
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
    // the WAL) and was fdatasync'd with everything before it, or was made durable by a checkpoint: only what
    // follows the last such batch may be lost.
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

// ---- recycled WAL files --------------------------------------------------------------------------------------
// At a checkpoint the WAL file is renamed to the next number and written over from its start, so it holds, after
// its live records, the stale ones of its earlier use. A crash is taken here as a copy of the data directory while
// the writer is idle (what a killed process leaves: every write in the page cache); a crash of the machine also
// loses the segment writes made since the last checkpoint (loseUnsyncedSegmentWrites).

/** `${partition}/${offset}` → value of every acknowledged record. */
type Ledger = Map<string, string>

/** Appends `n` times 12 records spread over the partitions; `fixed` keeps every append the same size. */
async function appendSome(log: EmbeddedLog, ledger: Ledger, n: number, tag: string, fixed = false): Promise<void> {
  for (let i = 0; i < n; i++) {
    const records = Array.from({ length: 12 }, (_, j) => ({
      key: `k${j}`,
      value: `${tag}-${i}-${j}-`.padEnd(fixed ? 240 : 200 + ((i * 7 + j * 3) % 90), 'v').slice(0, fixed ? 240 : 300),
    }))
    const meta = await log.append(TOPIC, records)
    for (const [k, m] of meta.entries()) ledger.set(`${m.partition}/${m.offset}`, records[k]!.value)
  }
}

/** A copy of the data directory as a killed process leaves it (but the lock). */
async function crashCopy(t: TestContext, dir: string): Promise<string> {
  const copy = tempDir(t, 'ofa-wal-crash-')
  for (let attempt = 0; ; attempt++) {
    try {
      fs.cpSync(dir, copy, { recursive: true, filter: (src) => !path.basename(src).startsWith('lock') })
      return copy
    } catch (err) {
      // A checkpoint still running after the last append renamed a WAL file under the copy: copy again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 20) throw err
      fs.rmSync(copy, { recursive: true, force: true })
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

/** Opens `dir` and checks that it holds every record of `ledger` and nothing else; returns the warnings. */
async function checkLedger(dir: string, ledger: Ledger): Promise<string[]> {
  const warnings: string[] = []
  const log = await openEmbeddedLog({
    dir,
    wal: true,
    compactionIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    onWarning: (w) => warnings.push(w.message),
  })
  try {
    const d = await log.describeTopic(TOPIC)
    for (const st of d.partitionStates) {
      assert.equal(st.error, undefined, `partition ${st.partition}: ${st.error?.message}`)
      const held = [...ledger.keys()].filter((k) => k.startsWith(`${st.partition}/`)).length
      assert.equal(st.endOffset, held, `partition ${st.partition} ends after its acknowledged records`)
    }
    for (const [key, value] of ledger) {
      const [p, o] = key.split('/').map(Number) as [number, number]
      const [r] = await log.read(TOPIC, p, o, { maxRecords: 1 })
      assert.equal(r?.value?.toString(), value, `record ${key}`)
    }
  } finally {
    await log.close()
  }
  return warnings
}

/** Opens a writer on `dir` with small WAL files, and the topic. */
async function openSmallWal(t: TestContext, walBytes: number): Promise<{ dir: string; log: EmbeddedLog }> {
  const dir = tempDir(t)
  const log = await openEmbeddedLog({ dir, wal: true, walBytes, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
  t.after(() => log.close())
  await log.createTopic({ name: TOPIC, partitions: PARTITIONS, segmentBytes: 256 * 1024 })
  return { dir, log }
}

/** Appends until the newest WAL file is a recycled one with stale bytes after its live records. */
async function appendUntilRecycled(log: EmbeddedLog, dir: string, ledger: Ledger, fixed = false): Promise<void> {
  for (let round = 0; round < 200; round++) {
    await appendSome(log, ledger, 1, `r${round}`, fixed)
    await new Promise((r) => setTimeout(r, 10)) // (a checkpoint may follow the append)
    const f = (await scanWal(dir).catch(() => null))?.files.at(-1)
    if (f?.header?.recycled && f.records > 0 && f.validEnd < f.size && f.seq >= 3) return
  }
  assert.fail('the WAL file was never recycled')
}

describe('write-ahead file: recycled files', () => {
  it('many checkpoints reuse the WAL file (never more than two), and a crash after any of them loses nothing', async (t) => {
    const { dir, log } = await openSmallWal(t, 16 * 1024)
    const ledger: Ledger = new Map()
    for (let round = 0; round < 40; round++) {
      await appendSome(log, ledger, 3, `m${round}`)
      assert.ok(walFiles(dir).length <= 2, `${walFiles(dir).length} WAL files`)
      if (round % 10 === 9) {
        const copy = await crashCopy(t, dir)
        const scan = await scanWal(copy)
        assert.deepEqual(scan.damage, [])
        assert.ok(scan.files.every((f) => f.torn === null))
        assert.deepEqual(await checkLedger(copy, ledger), [])
        assert.equal((await verifyLog(copy)).ok, true)
      }
    }
    const scan = await scanWal(dir)
    assert.ok(scan.lastFile >= 10, `file number ${scan.lastFile}: checkpoints happened`)
    assert.ok(scan.files.at(-1)!.header?.recycled, 'the current file is a recycled one')
    await log.close()
    assert.deepEqual(await checkLedger(dir, ledger), [])
    // Reopened many times: each open reuses the file the last one left (after a crash) or starts one.
    for (let i = 0; i < 5; i++) {
      const again = await openEmbeddedLog({ dir, wal: true, walBytes: 16 * 1024, compactionIntervalMs: 0 })
      await appendSome(again, ledger, 8, `o${i}`)
      const copy = await crashCopy(t, dir)
      await again.close()
      assert.deepEqual(await checkLedger(copy, ledger), [])
    }
    assert.deepEqual(await checkLedger(dir, ledger), [])
  })

  for (const fixed of [true, false]) {
    it(`stale records after the live tail are ignored, not a torn tail nor damage (${fixed ? 'a stale record right after the tail' : 'the tail ends within a stale record'}); the segments are rebuilt from the live ones`, async (t) => {
      const { dir, log } = await openSmallWal(t, 64 * 1024)
      const ledger: Ledger = new Map()
      await appendUntilRecycled(log, dir, ledger, fixed)
      const copy = await crashCopy(t, dir)
      const scan = await scanWal(copy)
      const f = scan.files.at(-1)!
      assert.deepEqual(scan.damage, [])
      assert.equal(f.torn, null)
      assert.ok(f.validEnd < f.size)
      if (fixed) {
        // Same-sized group commits: the bytes after the tail are a whole stale record, checksums valid.
        assert.equal(f.validEnd, WAL_FILE_HEADER_SIZE + f.records * ((f.validEnd - WAL_FILE_HEADER_SIZE) / f.records))
        const buf = fs.readFileSync(f.file)
        assert.equal(buf.readUInt32LE(f.validEnd), WAL_MAGIC)
        assert.notEqual(buf.readUInt32LE(f.validEnd + 28), f.seq, 'a record of the file’s earlier use')
      }
      // A crash of the machine: the segment writes since the checkpoint are lost, the live records restore them.
      assert.ok((await loseUnsyncedSegmentWrites(copy, 'cut')) > 0)
      // (Verify may find segments short of their high-water mark: the WAL holds what they miss.)
      const v = await verifyLog(copy)
      assert.deepEqual(
        v.problems.filter((p) => p.where?.file?.endsWith('.wal')),
        [],
      )
      assert.ok((v.wal?.pendingBatches ?? 0) > 0)
      assert.ok(!v.notes.some((n) => n.includes('torn')), v.notes.join('\n'))
      assert.deepEqual(await checkLedger(copy, ledger), [])
    })
  }

  it('a crash right after a WAL file was recycled (renamed; header not written, half written, written alone, or written with the rename lost): nothing lost, no damage', async (t) => {
    const { dir, log } = await openSmallWal(t, 16 * 1024)
    const ledger: Ledger = new Map()
    await appendUntilRecycled(log, dir, ledger)
    // A killed process leaves the segments whole (in the page cache), as a checkpoint leaves them durable
    // before it renames the WAL file: the crash comes right after that rename.
    const live = await crashCopy(t, dir)
    const before = await scanWal(live)
    const n = before.files.at(-1)!.seq
    for (const how of ['renamed', 'half a header', 'header alone', 'created empty', 'rename lost'] as const) {
      const copy = await crashCopy(t, live)
      const from = path.join(copy, 'wal', walFileName(n))
      const to = path.join(copy, 'wal', walFileName(n + 1))
      const header = encodeFileHeader(n + 1, before.lastSequence + 1, how !== 'created empty')
      if (how === 'created empty') fs.writeFileSync(to, '')
      else {
        // 'rename lost': the header made durable, the rename not (the writer makes the rename durable first; a
        // file system that reordered them would leave this).
        if (how !== 'rename lost') fs.renameSync(from, to)
        const fd = fs.openSync(how === 'rename lost' ? from : to, 'r+')
        if (how === 'half a header') fs.writeSync(fd, header, 0, 20, 0)
        if (how === 'header alone' || how === 'rename lost') fs.writeSync(fd, header, 0, header.length, 0)
        fs.closeSync(fd)
      }
      const scan = await scanWal(copy)
      assert.deepEqual(scan.damage, [], how)
      const f = scan.files.find((x) => x.seq === (how === 'rename lost' ? n : n + 1))!
      assert.equal(f.records, 0, how)
      assert.equal(f.torn, null, how)
      assert.equal(f.stale !== null, how !== 'header alone', `${how}: ${f.stale}`)
      const v = await verifyLog(copy)
      assert.equal(v.ok, true, `${how}: ${JSON.stringify(v.problems)}`)
      assert.deepEqual(await checkLedger(copy, ledger), [], how)
      // The next writer reuses or deletes what it found; a crash after more appends loses nothing either.
      const more = new Map(ledger)
      const w = await openEmbeddedLog({ dir: copy, wal: true, walBytes: 16 * 1024 })
      await appendSome(w, more, 30, `after-${how}`)
      const again = await crashCopy(t, copy)
      await w.close()
      assert.deepEqual(await checkLedger(again, more), [], how)
      assert.deepEqual(await checkLedger(copy, more), [], how)
    }
  })

  it('verify and repair on a recycled file: live batches beyond the segments are written there, a torn record of the file is cut, stale ones stay ignored', async (t) => {
    const { dir, log } = await openSmallWal(t, 64 * 1024)
    const ledger: Ledger = new Map()
    await appendUntilRecycled(log, dir, ledger)
    const copy = await crashCopy(t, dir)
    assert.ok((await loseUnsyncedSegmentWrites(copy, 'cut')) > 0)
    // A torn write of the next record: its header and directory check out, its batches were cut short.
    const f = (await scanWal(copy)).files.at(-1)!
    const buf = fs.readFileSync(f.file)
    let last = WAL_FILE_HEADER_SIZE
    for (let i = 1; i < f.records; i++) last += buf.readUInt32LE(last + 8)
    const rec = Buffer.from(buf.subarray(last, last + buf.readUInt32LE(last + 8)))
    const seq = rec.readUInt32LE(16) + 1
    rec.writeUInt32LE(seq, 16)
    const dirLength = rec.readUInt32LE(24)
    rec.writeUInt32LE(crc32(rec.subarray(32, 32 + dirLength), crc32(rec.subarray(8, 32))), 4)
    const fd = fs.openSync(f.file, 'r+')
    fs.writeSync(fd, rec, 0, 32 + dirLength + 100, f.validEnd)
    fs.closeSync(fd)
    const v = await verifyLog(copy)
    assert.deepEqual(
      v.problems.filter((p) => p.where?.file?.endsWith('.wal')),
      [],
    )
    assert.ok((v.wal?.pendingBatches ?? 0) > 0)
    assert.equal(v.wal?.files.at(-1)?.tornAt, f.validEnd)
    const r = await repairLog(copy)
    assert.deepEqual(r.unrepaired, [])
    assert.ok(r.actions.some((a) => a.action === 'replayed-wal'))
    assert.ok(r.actions.some((a) => a.action === 'cut-torn-tail' && a.file === f.file))
    const after = await verifyLog(copy)
    assert.equal(after.ok, true, JSON.stringify(after.problems))
    assert.deepEqual(await checkLedger(copy, ledger), [])
  })

  it('a damaged WAL file header with live records after it is damage: verify says so, the records are still replayed', async (t) => {
    const { dir, log } = await openSmallWal(t, 64 * 1024)
    const ledger: Ledger = new Map()
    await appendUntilRecycled(log, dir, ledger)
    const copy = await crashCopy(t, dir)
    assert.ok((await loseUnsyncedSegmentWrites(copy, 'cut')) > 0)
    const f = (await scanWal(copy)).files.at(-1)!
    const fd = fs.openSync(f.file, 'r+')
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 9) // the version, under the header's CRC
    fs.closeSync(fd)
    const v = await verifyLog(copy)
    assert.equal(v.ok, false)
    assert.ok(v.problems.some((p) => p.message.includes('damaged WAL file header')))
    const warnings = await checkLedger(copy, ledger)
    assert.ok(warnings.some((w) => w.includes('damaged WAL file header')))
  })
})
