/**
 * Offline checks of an embedded log's data directory: `verifyLog` reads every segment and checks every
 * checksum (it changes nothing and may run beside the owning process); `repairLog` takes the directory's lock,
 * cuts torn tails, and moves damaged segments aside as `<name>.damaged`, keeping every batch that still checks
 * out and reporting the offsets that were lost.
 */
import fs from 'node:fs'
import path from 'node:path'
import { OpenFactoryError } from '@openfactory/model'
import type { LogRecord } from './backbone.ts'
import { type BatchHeader, decodeRecords } from './internal/batch-format.ts'
import { CLEANED_SUFFIX, recoverCompactions, SWAP_SUFFIX } from './internal/compaction-recovery.ts'
import { DirLock } from './internal/dir-lock.ts'
import { corrupt, ioError } from './internal/errors.ts'
import {
  closeFile,
  exists,
  fdatasync,
  fstat,
  fsyncDir,
  ftruncate,
  openFile,
  readAt,
  writeAll,
} from './internal/fs-util.ts'
import { type Damage, listSegmentFiles, scanBatches, segmentFileName } from './internal/segment.ts'
import { readTopicFile } from './internal/topic-config.ts'

export interface SegmentReport {
  readonly file: string
  readonly baseOffset: number
  readonly bytes: number
  readonly batches: number
  readonly records: number
  /** First and last record offsets (null for an empty segment). */
  readonly firstOffset: number | null
  readonly lastOffset: number | null
}

export interface TornTail {
  readonly file: string
  /** Where the never-acknowledged bytes start. */
  readonly offset: number
  readonly bytes: number
}

export interface PartitionReport {
  readonly topic: string
  readonly partition: number
  readonly segments: readonly SegmentReport[]
  readonly records: number
  readonly firstOffset: number | null
  readonly lastOffset: number | null
  /** The last segment ends with a batch that was never acknowledged; the next writer (or repair) cuts it. */
  readonly tornTail: TornTail | null
  /** Damaged acknowledged data: `OFA_LOG_CORRUPT` errors whose `where` names the file and byte offset. */
  readonly problems: readonly OpenFactoryError[]
  /** Things that are not damage, such as leftovers of an interrupted compaction that the next open removes. */
  readonly notes: readonly string[]
}

export interface VerifyReport {
  readonly dir: string
  /** No problem anywhere (a torn tail is not a problem). */
  readonly ok: boolean
  readonly partitions: readonly PartitionReport[]
  /** Every problem: the partitions' and those of topic and group files. */
  readonly problems: readonly OpenFactoryError[]
}

/** Offsets a repair could not keep. */
export interface LostRange {
  /** First and last offset lost, where known (null when the damage hides them). */
  readonly fromOffset: number | null
  readonly toOffset: number | null
  /** The damaged bytes: where in the original file, and how many. */
  readonly position: number
  readonly bytes: number
  readonly reason: string
}

export interface RepairAction {
  readonly topic?: string
  readonly partition?: number
  readonly file: string
  readonly action: 'cut-torn-tail' | 'moved-aside' | 'removed-leftover'
  /** For `moved-aside`: where the damaged original now is. */
  readonly movedTo?: string
  readonly lost: readonly LostRange[]
}

export interface RepairReport {
  readonly dir: string
  readonly actions: readonly RepairAction[]
  /** Problems repair cannot fix (an unreadable topic.json); the log may still refuse those topics. */
  readonly unrepaired: readonly OpenFactoryError[]
}

const META_FILE = 'openfactory-log.json'

/** Reads every segment of the log in `dir` and checks every checksum; changes nothing. */
export async function verifyLog(dir: string): Promise<VerifyReport> {
  const root = path.resolve(dir)
  await requireLog(root)
  const partitions: PartitionReport[] = []
  const problems: OpenFactoryError[] = []
  for (const t of await listTopics(root, problems)) {
    for (let i = 0; i < t.partitions; i++) {
      const r = await examinePartition(t.name, i, path.join(root, 'topics', t.name, String(i)))
      partitions.push(r.report)
      problems.push(...r.report.problems)
    }
  }
  problems.push(...(await checkGroups(root)).map((g) => g.error))
  return { dir: root, ok: problems.length === 0, partitions, problems }
}

/**
 * Repairs the log in `dir`: cuts torn tails, moves damaged segments aside as `<name>.damaged` (a copy holding
 * every batch that still checks out takes the original's place) and damaged group-offset files too, and
 * reports what was lost. Refuses with `OFA_LOG_LOCKED` while another process owns the directory.
 */
export async function repairLog(dir: string): Promise<RepairReport> {
  const root = path.resolve(dir)
  await requireLog(root)
  const lock = DirLock.acquire(root)
  try {
    const actions: RepairAction[] = []
    const unrepaired: OpenFactoryError[] = []
    for (const t of await listTopics(root, unrepaired)) {
      for (let i = 0; i < t.partitions; i++) {
        const pdir = path.join(root, 'topics', t.name, String(i))
        try {
          await repairPartition(t.name, i, pdir, actions)
        } catch (err) {
          unrepaired.push(err instanceof OpenFactoryError ? err : ioError(`cannot repair ${pdir}`, err))
        }
      }
    }
    for (const g of await checkGroups(root)) {
      const movedTo = await moveAside(g.file)
      actions.push({
        file: g.file,
        action: 'moved-aside',
        movedTo,
        lost: [
          {
            fromOffset: null,
            toOffset: null,
            position: 0,
            bytes: 0,
            reason: 'committed offsets of the group are lost',
          },
        ],
      })
    }
    return { dir: root, actions, unrepaired }
  } finally {
    lock.release()
  }
}

async function requireLog(root: string): Promise<void> {
  try {
    await fs.promises.access(path.join(root, META_FILE))
  } catch {
    throw new OpenFactoryError('OFA_LOG_NOT_FOUND', `${root} holds no event log (${META_FILE} is missing)`, {
      where: { file: path.join(root, META_FILE) },
    })
  }
}

async function listTopics(root: string, problems: OpenFactoryError[]): Promise<{ name: string; partitions: number }[]> {
  const topicsDir = path.join(root, 'topics')
  let names: string[]
  try {
    names = (await fs.promises.readdir(topicsDir)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw ioError(`cannot list ${topicsDir}`, err)
  }
  const out: { name: string; partitions: number }[] = []
  for (const name of names) {
    const file = path.join(topicsDir, name, 'topic.json')
    try {
      out.push({ name, partitions: (await readTopicFile(file, name)).partitions })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      problems.push(err instanceof OpenFactoryError ? err : ioError(`cannot read ${file}`, err))
    }
  }
  return out
}

async function checkGroups(root: string): Promise<{ file: string; error: OpenFactoryError }[]> {
  const gdir = path.join(root, 'groups')
  let names: string[]
  try {
    names = await fs.promises.readdir(gdir)
  } catch {
    return []
  }
  const bad: { file: string; error: OpenFactoryError }[] = []
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = path.join(gdir, name)
    try {
      const raw = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { group?: unknown; offsets?: unknown }
      if (typeof raw.group !== 'string' || raw.offsets === null || typeof raw.offsets !== 'object')
        throw new Error('unexpected content')
    } catch (err) {
      bad.push({ file, error: corrupt(file, 0, 'committed offsets of a group are unreadable', err) })
    }
  }
  return bad
}

interface ValidBatch {
  readonly position: number
  readonly length: number
  readonly baseOffset: number
  readonly lastOffset: number
  readonly records: number
}

interface SegmentExam {
  readonly file: string
  readonly base: number
  readonly size: number
  readonly batches: ValidBatch[]
  readonly damage: readonly Damage[]
}

async function examinePartition(
  topic: string,
  partition: number,
  pdir: string,
): Promise<{ report: PartitionReport; exams: SegmentExam[] }> {
  const problems: OpenFactoryError[] = []
  const notes: string[] = []
  const exams: SegmentExam[] = []
  let bases: number[] = []
  try {
    const listing = await listSegmentFiles(pdir)
    const recovery = await recoverCompactions(pdir, listing.others, true)
    notes.push(...recovery.notes.map((n) => `${n.file}: ${n.note}`))
    for (const b of recovery.ignore)
      notes.push(`${path.join(pdir, segmentFileName(b))} was replaced by a compaction; the next open deletes it`)
    for (const o of listing.others) {
      if (
        o.endsWith(CLEANED_SUFFIX) &&
        !listing.others.includes(`${o.slice(0, -CLEANED_SUFFIX.length)}${SWAP_SUFFIX}`)
      ) {
        notes.push(`${path.join(pdir, o)} is left from an interrupted compaction; the next open deletes it`)
      }
    }
    bases = listing.bases.filter((b) => !recovery.ignore.has(b))
    if (bases.length === 0) problems.push(corrupt(pdir, 0, 'partition directory holds no segment file'))
  } catch (err) {
    problems.push(
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? corrupt(pdir, 0, 'partition directory is missing')
        : err instanceof OpenFactoryError
          ? err
          : ioError(`cannot list ${pdir}`, err),
    )
  }
  let after = -1
  let tornTail: TornTail | null = null
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i]!
    const file = path.join(pdir, segmentFileName(base))
    const isLast = i === bases.length - 1
    let fd: number
    try {
      fd = await openFile(file, 'r')
    } catch (err) {
      problems.push(ioError(`cannot open ${file}`, err))
      continue
    }
    try {
      const size = (await fstat(fd)).size
      const batches: ValidBatch[] = []
      const sink: LogRecord[] = []
      const decodeProblems: OpenFactoryError[] = []
      const r = await scanBatches(
        fd,
        0,
        size,
        {
          checkBodies: true,
          continueAfterDamage: true,
          afterOffset: Math.max(after, base - 1),
          belowOffset: isLast ? Number.POSITIVE_INFINITY : bases[i + 1]!,
        },
        (h: BatchHeader, buf: Buffer, at: number) => {
          try {
            sink.length = 0
            decodeRecords(buf, at, h, {
              topic,
              partition,
              minOffset: 0,
              maxRecords: Number.POSITIVE_INFINITY,
              out: sink,
              file,
            })
          } catch (err) {
            decodeProblems.push(err as OpenFactoryError)
          }
          batches.push({
            position: h.position,
            length: h.length,
            baseOffset: h.baseOffset,
            lastOffset: h.lastOffset,
            records: h.recordCount,
          })
        },
      )
      problems.push(...decodeProblems)
      const damage = [...r.damage]
      const lastDamage = damage[damage.length - 1]
      if (isLast && lastDamage && lastDamage.end === size) {
        tornTail = { file, offset: lastDamage.position, bytes: size - lastDamage.position }
        damage.pop()
      }
      for (const d of damage) problems.push(corrupt(file, d.position, d.reason))
      // Batches whose records do not decode are damage too (their checksums match: a writer's bug, or forged).
      const undecodable = new Set(decodeProblems.map((e) => e.where?.offset))
      exams.push({
        file,
        base,
        size,
        batches: batches.filter((b) => !undecodable.has(b.position)),
        damage: [
          ...r.damage,
          ...batches
            .filter((b) => undecodable.has(b.position))
            .map((b) => ({
              position: b.position,
              end: b.position + b.length,
              reason: 'records do not decode',
              baseOffset: b.baseOffset,
              lastOffset: b.lastOffset,
            })),
        ].sort((x, y) => x.position - y.position),
      })
      const last = batches[batches.length - 1]
      if (last) after = Math.max(after, last.lastOffset)
    } finally {
      await closeFile(fd)
    }
  }
  const segments: SegmentReport[] = exams.map((e) => ({
    file: e.file,
    baseOffset: e.base,
    bytes: e.size,
    batches: e.batches.length,
    records: e.batches.reduce((n, b) => n + b.records, 0),
    firstOffset: e.batches[0]?.baseOffset ?? null,
    lastOffset: e.batches[e.batches.length - 1]?.lastOffset ?? null,
  }))
  const withData = segments.filter((s) => s.firstOffset !== null)
  return {
    report: {
      topic,
      partition,
      segments,
      records: segments.reduce((n, s) => n + s.records, 0),
      firstOffset: withData[0]?.firstOffset ?? null,
      lastOffset: withData[withData.length - 1]?.lastOffset ?? null,
      tornTail,
      problems,
      notes,
    },
    exams,
  }
}

async function repairPartition(topic: string, partition: number, pdir: string, actions: RepairAction[]): Promise<void> {
  // Interrupted compactions first, as the next open would finish them.
  const listing = await listSegmentFiles(pdir).catch(() => null)
  if (listing) {
    const { notes } = await recoverCompactions(pdir, listing.others, false)
    for (const n of notes) actions.push({ topic, partition, file: n.file, action: 'removed-leftover', lost: [] })
  }
  const { exams } = await examinePartition(topic, partition, pdir)
  for (let i = 0; i < exams.length; i++) {
    const e = exams[i]!
    const isLast = i === exams.length - 1
    if (e.damage.length === 0) continue
    const tail = e.damage[e.damage.length - 1]!
    const tornOnly = isLast && e.damage.length === 1 && tail.end === e.size
    if (tornOnly) {
      const fd = await openFile(e.file, 'r+')
      try {
        await ftruncate(fd, tail.position)
        await fdatasync(fd)
      } finally {
        await closeFile(fd)
      }
      actions.push({
        topic,
        partition,
        file: e.file,
        action: 'cut-torn-tail',
        lost: [
          {
            fromOffset: null,
            toOffset: null,
            position: tail.position,
            bytes: e.size - tail.position,
            reason: tail.reason,
          },
        ],
      })
      continue
    }
    const nextBase = exams[i + 1]?.base ?? null
    const lost = lostRanges(e, nextBase, isLast)
    // Keep every valid batch in a fresh copy; the original goes aside for inspection.
    const tmp = `${e.file}.repair.tmp`
    const src = await openFile(e.file, 'r')
    const dst = await openFile(tmp, 'w')
    try {
      let pos = 0
      for (const b of e.batches) {
        const bytes = await readAt(src, b.position, b.length)
        await writeAll(dst, bytes, pos)
        pos += b.length
      }
      await fdatasync(dst)
    } finally {
      await closeFile(src)
      await closeFile(dst)
    }
    // A hard link keeps the original under its new name while the copy replaces it atomically: the segment
    // file never goes missing, whenever this stops.
    const movedTo = await asideName(e.file)
    await fs.promises.link(e.file, movedTo)
    await fs.promises.rename(tmp, e.file)
    await fsyncDir(pdir)
    actions.push({ topic, partition, file: e.file, action: 'moved-aside', movedTo, lost })
    // Offsets never go back: when the damaged end of the last segment claimed offsets past what was kept,
    // appends continue after them in a new segment.
    if (isLast) {
      const keptLast = e.batches[e.batches.length - 1]?.lastOffset ?? e.base - 1
      const claimed = Math.max(keptLast, ...e.damage.map((d) => d.lastOffset ?? -1))
      if (claimed > keptLast) {
        await closeFile(await openFile(path.join(pdir, segmentFileName(claimed + 1)), 'wx'))
        await fsyncDir(pdir)
      }
    }
  }
}

/** The offsets each damaged region of a segment held, as far as the surrounding batches tell. */
function lostRanges(e: SegmentExam, nextBase: number | null, isLast: boolean): LostRange[] {
  return e.damage.map((d) => {
    const before = e.batches.filter((b) => b.position < d.position).pop()
    const afterB = e.batches.find((b) => b.position >= d.end)
    const fromOffset = d.baseOffset ?? (before ? before.lastOffset + 1 : e.base)
    let toOffset: number | null =
      d.lastOffset ?? (afterB ? afterB.baseOffset - 1 : nextBase !== null ? nextBase - 1 : null)
    if (isLast && d.end === e.size && d.lastOffset === undefined) toOffset = null
    return { fromOffset, toOffset, position: d.position, bytes: d.end - d.position, reason: d.reason }
  })
}

/** `<file>.damaged`, or `.damaged.1`, ... : the first name not taken. */
async function asideName(file: string): Promise<string> {
  let target = `${file}.damaged`
  for (let n = 1; await exists(target); n++) target = `${file}.damaged.${n}`
  return target
}

/** Renames `file` to its `asideName`; returns the new name. */
async function moveAside(file: string): Promise<string> {
  const target = await asideName(file)
  await fs.promises.rename(file, target)
  await fsyncDir(path.dirname(file))
  return target
}
