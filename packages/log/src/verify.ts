/**
 * Offline checks of an embedded log's data directory.
 *
 * `verifyLog` reads every file of the directory and changes nothing (it may run beside the owning process): the
 * format marker, the lock, every topic.json, every partition's marks (high-water and start), compaction markers,
 * every segment with every checksum and every record, the gaps between batches and segments, and the committed
 * group offsets. Problems are `OFA_LOG_CORRUPT` errors whose `where` names the file and byte offset; things that
 * are not damage (leftovers the next open removes, a damaged lock file nobody holds) are notes.
 *
 * `repairLog` takes the directory's lock and fixes what verify finds, recording every action in the report and
 * in `<dir>/repairs.jsonl`: it rewrites the format marker, replaces a damaged lock, rebuilds a topic.json from
 * what survives, finishes or undoes interrupted compactions (a damaged marker included), cuts torn tails,
 * copies each damaged segment without its damage (the original kept as `<name>.damaged`), stands a batch
 * without records flagged "lost" for every range of offsets that is gone — so offsets never go back and no
 * committed offset points past an end — rebuilds the marks, moves unreadable group-offset files aside, and
 * resets committed offsets beyond a partition's end to that end.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { OpenFactoryError } from '@openfactory/model'
import type { LogRecord } from './backbone.ts'
import { type BatchHeader, decodeRecords, emptyBatches } from './internal/batch-format.ts'
import { CLEANED_SUFFIX, recoverCompactions, SWAP_SUFFIX } from './internal/compaction-recovery.ts'
import { DirLock } from './internal/dir-lock.ts'
import { FORMAT_VERSION, META_FILE, metaText, parseMeta, topicDirHoldsData } from './internal/embedded-driver.ts'
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
  writeFileAtomic,
} from './internal/fs-util.ts'
import { MARKS_FILE, type MarksRead, marksBytes, readMarks } from './internal/marks.ts'
import { OffsetStore } from './internal/offset-store.ts'
import { lostAtEndMessage } from './internal/partition.ts'
import { type Damage, listSegmentFiles, parseSegmentName, scanBatches, segmentFileName } from './internal/segment.ts'
import {
  type FullTopicSpec,
  isCompacted,
  readTopicFile,
  salvageTopicSpec,
  topicFileText,
} from './internal/topic-config.ts'
import { cutTornWal, scanWal, type WalEntry, type WalScan, walDamageError, walKey } from './internal/wal.ts'

export interface SegmentReport {
  readonly file: string
  readonly baseOffset: number
  readonly bytes: number
  readonly batches: number
  readonly records: number
  /** First and last record offsets (null for a segment without records). */
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
  /** The offset the next record would get (past the last batch, records or not); null when unknown. */
  readonly endOffset: number | null
  /** From the marks file: every offset below it was acknowledged (null when the marks cannot be read). */
  readonly highWaterMark: number | null
  /** From the marks file: offsets below it were deleted by retention. */
  readonly startMark: number | null
  /** The last segment ends with a batch that was never acknowledged; the next writer (or repair) cuts it. */
  readonly tornTail: TornTail | null
  /** Damaged acknowledged data: `OFA_LOG_CORRUPT` errors whose `where` names the file and byte offset. */
  readonly problems: readonly OpenFactoryError[]
  /** Things that are not damage, such as leftovers of an interrupted compaction that the next open removes. */
  readonly notes: readonly string[]
  /** Offsets an earlier repair recorded as lost (batches flagged lost). */
  readonly lostEarlier: readonly { readonly fromOffset: number; readonly toOffset: number }[]
}

/** The write-ahead files (see internal/wal.ts), as verify finds them. */
export interface WalReport {
  readonly files: readonly {
    readonly file: string
    readonly bytes: number
    readonly records: number
    readonly batches: number
    /** Where a torn tail starts (a record whose write never completed: cut at the next open), or null. */
    readonly tornAt: number | null
  }[]
  /** Batches in the WAL beyond their partition's segments: the next open (or repair) writes them there. */
  readonly pendingBatches: number
}

export interface VerifyReport {
  readonly dir: string
  /** The write-ahead files, or null when there are none. */
  readonly wal?: WalReport | null
  /** No problem anywhere (a torn tail, and what notes say, are not problems). */
  readonly ok: boolean
  /** The directory's format version (1 or 2), null when its marker cannot be read. */
  readonly formatVersion: number | null
  readonly partitions: readonly PartitionReport[]
  /** Every problem: the partitions', and those of the marker, topic and group files. */
  readonly problems: readonly OpenFactoryError[]
  /** About the directory itself (the lock, owner.json, committed offsets the next open resets...). */
  readonly notes: readonly string[]
}

/** Offsets a repair could not keep. */
export interface LostRange {
  /** First and last offset lost, where known (null when the damage hides them). */
  readonly fromOffset: number | null
  readonly toOffset: number | null
  /** The damaged bytes: where in the original file, and how many (0 when the bytes themselves are gone). */
  readonly position: number
  readonly bytes: number
  readonly reason: string
}

export interface RepairAction {
  readonly topic?: string
  readonly partition?: number
  readonly file: string
  /**
   * - `cut-torn-tail`: a never-acknowledged last batch was cut;
   * - `moved-aside`: a damaged file was kept as `movedTo`; for a segment, a copy holding every batch that still
   *   checks out (and lost-batches for what does not) took its place;
   * - `filled-gap`: a new segment file stands, with a lost-batch, for offsets whose segment is gone;
   * - `moved-start`: segments at the start of the partition are gone; its start mark moved past them;
   * - `rebuilt`: a file was written again from what survives (marker, topic.json, marks, owner.json);
   * - `recreated`: a missing partition directory was made again, empty;
   * - `replaced-lock`: a damaged lock file nobody held was moved aside and replaced;
   * - `reset-offsets`: committed group offsets beyond a partition's end were set to that end;
   * - `removed-leftover`: an interrupted compaction was finished or undone;
   * - `replayed-wal`: batches of the write-ahead file beyond a partition's segments were written there (a
   *   damaged WAL record's offsets became lost-batches); the WAL files were then removed (damaged ones moved
   *   aside); for the WAL file itself, `cut-torn-tail` is a never-acknowledged record cut.
   */
  readonly action:
    | 'cut-torn-tail'
    | 'moved-aside'
    | 'filled-gap'
    | 'moved-start'
    | 'rebuilt'
    | 'recreated'
    | 'replaced-lock'
    | 'reset-offsets'
    | 'removed-leftover'
    | 'replayed-wal'
  /** For `moved-aside` and `replaced-lock`: where the damaged original now is. */
  readonly movedTo?: string
  readonly lost: readonly LostRange[]
  /** What was done, in words (what was guessed, what to check). */
  readonly note?: string
}

export interface RepairReport {
  readonly dir: string
  readonly actions: readonly RepairAction[]
  /** Problems repair could not fix; the log may still refuse what they name. */
  readonly unrepaired: readonly OpenFactoryError[]
}

/** Repairs are recorded here, one JSON line each, beside what they repaired. */
export const REPAIRS_FILE = 'repairs.jsonl'
const DEFAULT_SEGMENT_BYTES = 128 * 1024 * 1024
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1')

// ---- verify ------------------------------------------------------------------------------------------------

/** Reads every file of the log in `dir` and checks it; changes nothing. */
export async function verifyLog(dir: string): Promise<VerifyReport> {
  const root = path.resolve(dir)
  const meta = await examineMeta(root)
  const problems: OpenFactoryError[] = [...meta.problems]
  const notes: string[] = [...(await examineLock(root))]
  const partitions: PartitionReport[] = []
  const ends = new Map<string, number>()
  for (const t of await examineTopics(root, meta.version)) {
    problems.push(...t.problems)
    notes.push(...t.notes)
    for (const i of t.partitions) {
      const exam = await examinePartition(t.name, i, path.join(t.dir, String(i)), t.contiguous, meta.version)
      partitions.push(exam.report)
      problems.push(...exam.report.problems)
      if (exam.report.problems.length === 0 && exam.report.endOffset !== null)
        ends.set(`${t.name}/${i}`, exam.report.endOffset)
    }
  }
  const groups = await examineGroups(root)
  problems.push(...groups.map((g) => g.error))
  for (const g of await committedBeyond(root, ends)) {
    notes.push(
      `consumer group ${g.group}: committed offset ${g.offset} of ${g.topic}/${g.partition} is beyond the partition's end ${g.end}; the next writer (or repair) resets it to ${g.end}`,
    )
  }
  const wal = await examineWal(root, partitions, problems, notes)
  return { dir: root, ok: problems.length === 0, formatVersion: meta.version, partitions, problems, notes, wal }
}

/**
 * The WAL files: a damaged record is a problem (valid records follow it: it was acknowledged); a torn tail of
 * the newest file is a note (never acknowledged; the next open cuts it); batches beyond their partition's end
 * are a note (the next open replays them). A partition with problems whose end the WAL continues is told so.
 */
async function examineWal(
  root: string,
  partitions: readonly PartitionReport[],
  problems: OpenFactoryError[],
  notes: string[],
): Promise<WalReport | null> {
  let scan: WalScan
  try {
    scan = await scanWal(root)
  } catch (err) {
    problems.push(ioError('cannot read the write-ahead files', err, path.join(root, 'wal')))
    return null
  }
  if (scan.files.length === 0) return null
  for (const d of scan.damage) problems.push(walDamageError(d))
  for (const f of scan.files) {
    if (f.torn)
      notes.push(
        `${f.file}: torn tail at byte ${f.torn.position} (${f.torn.reason}): a write-ahead record never completed, cut at the next open`,
      )
    if (f.stale)
      notes.push(
        `${f.file}: holds no record (${f.stale}): a checkpoint was starting it (a recycled or new file) when it stopped; the next open reuses or deletes it`,
      )
  }
  let pendingBatches = 0
  for (const [key, entries] of scan.entries) {
    const p = partitions.find((r) => walKey(r.topic, r.partition) === key)
    const end = p?.endOffset != null ? p.endOffset - 1 : -1
    const beyond = entries.filter((e) => e.header.lastOffset > end)
    if (beyond.length === 0) continue
    pendingBatches += beyond.length
    notes.push(
      `the write-ahead file holds offsets ${beyond[0]!.header.baseOffset} to ${beyond[beyond.length - 1]!.header.lastOffset} of ${key} beyond its segments (to offset ${end}): the next open (or repair) writes them there${p && p.problems.length > 0 ? '; this may mend the problems found in its segments' : ''}`,
    )
  }
  return {
    files: scan.files.map((f) => ({
      file: f.file,
      bytes: f.size,
      records: f.records,
      batches: f.batches,
      tornAt: f.torn?.position ?? null,
    })),
    pendingBatches,
  }
}

/** The format marker: its version (1 when unreadable: the lenient checks) and what is wrong with it. */
async function examineMeta(
  root: string,
): Promise<{ version: number; readable: boolean; problems: OpenFactoryError[]; text: string | null }> {
  const file = path.join(root, META_FILE)
  let text: string | null = null
  try {
    text = await fs.promises.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot read ${file}`, err, file)
  }
  if (text === null) {
    if (!(await exists(path.join(root, 'topics')))) {
      throw new OpenFactoryError('OFA_LOG_NOT_FOUND', `${root} holds no event log (${META_FILE} is missing)`, {
        where: { file },
      })
    }
    return {
      version: 1,
      readable: false,
      text,
      problems: [
        corrupt(file, 0, `${META_FILE} is missing, yet the directory holds topics; "ofa log repair" writes it`),
      ],
    }
  }
  const meta = parseMeta(text)
  if (typeof meta === 'string') {
    return {
      version: salvageVersion(text),
      readable: false,
      text,
      problems: [corrupt(file, 0, `${meta}; "ofa log repair" writes it again`)],
    }
  }
  if (meta.version !== 1 && meta.version !== 2) {
    return {
      version: meta.version,
      readable: true,
      text,
      problems: [corrupt(file, 0, `${META_FILE} has format version ${meta.version}; this OpenFactory reads 1 and 2`)],
    }
  }
  return { version: meta.version, readable: true, text, problems: [] }
}

/** The version a damaged marker still shows, or 1 (the checks that hold for every version). */
function salvageVersion(text: string): number {
  const m = /"version"\s*:\s*([12])\b/.exec(text)
  return m ? Number(m[1]) : 1
}

/** Notes about the lock and owner files (they hold no data; a writer replaces them). */
async function examineLock(root: string): Promise<string[]> {
  const notes: string[] = []
  const lock = path.join(root, 'lock')
  try {
    const fd = await openFile(lock, 'r')
    try {
      const head = await readAt(fd, 0, SQLITE_HEADER.length)
      if (head.length > 0 && !head.equals(SQLITE_HEADER)) {
        notes.push(
          `${lock} is damaged (not an SQLite database); the next writer, or "ofa log repair", replaces it once no process holds it`,
        )
      }
    } finally {
      await closeFile(fd)
    }
  } catch {
    // No lock file: the next writer makes one.
  }
  const owner = path.join(root, 'owner.json')
  try {
    const o = JSON.parse(await fs.promises.readFile(owner, 'utf8'))
    if (o === null || typeof o !== 'object') throw new Error('not an object')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      notes.push(`${owner} is unreadable; it only names the owner in messages, and the next writer rewrites it`)
    }
  }
  return notes
}

interface TopicExam {
  readonly name: string
  readonly dir: string
  readonly spec: FullTopicSpec | null
  /** The partitions to examine: the spec's, or (without one) the directories found. */
  readonly partitions: readonly number[]
  readonly contiguous: boolean
  readonly problems: OpenFactoryError[]
  readonly notes: string[]
  /** topic.json is missing or damaged while the topic holds records. */
  readonly needsSpec: boolean
  readonly specText: string | null
}

/** Numbered partition directories of a topic directory. */
async function partitionDirs(tdir: string): Promise<number[]> {
  const out: number[] = []
  for (const name of await fs.promises.readdir(tdir).catch(() => [] as string[])) {
    if (/^(0|[1-9]\d{0,4})$/.test(name)) out.push(Number(name))
  }
  return out.sort((a, b) => a - b)
}

async function examineTopics(root: string, version: number): Promise<TopicExam[]> {
  const topicsDir = path.join(root, 'topics')
  let names: string[]
  try {
    names = (await fs.promises.readdir(topicsDir)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw ioError(`cannot list ${topicsDir}`, err, topicsDir)
  }
  const out: TopicExam[] = []
  for (const name of names) {
    const tdir = path.join(topicsDir, name)
    if (!(await fs.promises.stat(tdir).catch(() => null))?.isDirectory()) continue
    const file = path.join(tdir, 'topic.json')
    const problems: OpenFactoryError[] = []
    const notes: string[] = []
    const dirs = await partitionDirs(tdir)
    let spec: FullTopicSpec | null = null
    let specText: string | null = null
    let needsSpec = false
    try {
      specText = await fs.promises.readFile(file, 'utf8')
      spec = await readTopicFile(file, name)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const held = await topicDirHoldsData(tdir)
        if (!held) {
          notes.push(
            `${tdir} has no topic.json and no records: an interrupted creation, which the next createTopic starts again`,
          )
          continue
        }
        problems.push(
          corrupt(
            file,
            0,
            `topic ${name} has records on disk (${held}) but its topic.json is missing; "ofa log repair" rebuilds it`,
          ),
        )
      } else {
        problems.push(err instanceof OpenFactoryError ? err : ioError(`cannot read ${file}`, err, file))
      }
      needsSpec = true
    }
    const partitions = spec ? Array.from({ length: spec.partitions }, (_, i) => i) : dirs
    if (spec) {
      const extra = dirs.filter((d) => d >= spec.partitions)
      if (extra.length > 0)
        notes.push(
          `${tdir} holds partition directories beyond its ${spec.partitions} partitions (${extra.join(', ')}); they are not used`,
        )
    }
    out.push({
      name,
      dir: tdir,
      spec,
      partitions,
      // Without a spec the policy is unknown: only the checks that hold for every policy of this version.
      contiguous: version >= 2 || (spec !== null && !isCompacted(spec)),
      problems,
      notes,
      needsSpec,
      specText,
    })
  }
  return out
}

interface ValidBatch {
  readonly position: number
  readonly length: number
  readonly baseOffset: number
  readonly lastOffset: number
  readonly records: number
  readonly lost: boolean
  readonly maxTimestamp: number
}

interface SegmentExam {
  readonly file: string
  readonly base: number
  readonly size: number
  /** Batches that check out and decode. */
  readonly batches: ValidBatch[]
  /** Damaged byte regions and gaps, in file order. */
  readonly damage: readonly Damage[]
}

interface PartitionExam {
  readonly report: PartitionReport
  readonly exists: boolean
  readonly marks: MarksRead
  readonly segments: SegmentExam[]
  /** Offsets missing at the start of the partition (segments deleted behind retention's back). */
  readonly startLoss: { from: number; to: number } | null
}

async function examinePartition(
  topic: string,
  partition: number,
  pdir: string,
  contiguous: boolean,
  version: number,
): Promise<PartitionExam> {
  const problems: OpenFactoryError[] = []
  const notes: string[] = []
  const exams: SegmentExam[] = []
  const lostEarlier: { fromOffset: number; toOffset: number }[] = []
  const marksFile = path.join(pdir, MARKS_FILE)
  // The marks before the segments: the high-water mark is then never ahead of what the scan sees.
  const marks: MarksRead = await readMarks(marksFile).catch(
    (err): MarksRead => ({ kind: 'damaged', reason: `cannot read it: ${(err as Error).message}` }),
  )
  let bases: number[] = []
  let dirExists = true
  try {
    const listing = await listSegmentFiles(pdir)
    try {
      const recovery = await recoverCompactions(pdir, listing.others, true)
      notes.push(...recovery.notes.map((n) => `${n.file}: ${n.note}; the next writer finishes it`))
      for (const b of recovery.ignore)
        notes.push(`${path.join(pdir, segmentFileName(b))} was replaced by a compaction; the next writer deletes it`)
      bases = listing.bases.filter((b) => !recovery.ignore.has(b))
    } catch (err) {
      problems.push(
        err instanceof OpenFactoryError
          ? withAdvice(err, '"ofa log repair" finishes or undoes the compaction from the segments')
          : ioError(`cannot read the compaction markers in ${pdir}`, err, pdir),
      )
      bases = listing.bases
    }
    for (const o of listing.others) {
      const file = path.join(pdir, o)
      if (
        o.endsWith(CLEANED_SUFFIX) &&
        !listing.others.includes(`${o.slice(0, -CLEANED_SUFFIX.length)}${SWAP_SUFFIX}`)
      ) {
        notes.push(`${file} is left from an interrupted compaction; the next writer deletes it`)
      } else if (o.includes('.damaged')) {
        notes.push(`${file} was kept aside by a repair (it is not read; delete it once inspected)`)
      }
    }
    if (bases.length === 0) {
      const held = marks.kind === 'ok' && marks.values.end > marks.values.start
      problems.push(
        corrupt(
          pdir,
          0,
          `partition directory holds no segment file${held ? `; offsets ${marks.values.start} to ${marks.values.end - 1} were acknowledged` : ''}`,
        ),
      )
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      dirExists = false
      problems.push(corrupt(pdir, 0, 'partition directory is missing; "ofa log repair" makes it again, empty'))
    } else problems.push(err instanceof OpenFactoryError ? err : ioError(`cannot list ${pdir}`, err, pdir))
  }
  if (dirExists) {
    if (marks.kind === 'missing') {
      const text = `${marksFile} is missing: lost acknowledged records at the partition's end cannot be told from a torn tail; the next writer (or repair) rebuilds it`
      if (version >= 2) problems.push(corrupt(marksFile, 0, text))
      else notes.push(text)
    } else if (marks.kind === 'damaged') {
      problems.push(
        corrupt(marksFile, 0, `the marks file is damaged (${marks.reason}); the next writer (or repair) rebuilds it`),
      )
    } else if (marks.damagedSlot) {
      notes.push(`${marksFile}: one of its two slots is damaged; the other one is read, and the next write replaces it`)
    }
  }
  const mark = marks.kind === 'ok' ? marks.values : null
  let startLoss: { from: number; to: number } | null = null
  if (mark && bases.length > 0 && bases[0]! > mark.start) {
    const again = await readMarks(marksFile).catch((): MarksRead => marks)
    const start = again.kind === 'ok' ? again.values.start : mark.start
    if (bases[0]! > start) {
      startLoss = { from: start, to: bases[0]! - 1 }
      problems.push(
        corrupt(
          path.join(pdir, segmentFileName(bases[0]!)),
          0,
          `offsets ${start} to ${bases[0]! - 1} are missing: the segments before this one were deleted, and not by retention`,
        ),
      )
    }
  }
  let after = -1
  let tornTail: TornTail | null = null
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i]!
    const file = path.join(pdir, segmentFileName(base))
    const isLast = i === bases.length - 1
    if (i > 0 && contiguous && base !== after + 1) {
      problems.push(
        corrupt(
          file,
          0,
          `offsets ${after + 1} to ${base - 1} are missing before this segment (a segment file was deleted or cut short)`,
        ),
      )
    }
    let fd: number
    try {
      fd = await openFile(file, 'r')
    } catch (err) {
      problems.push(ioError(`cannot open ${file}`, err, file))
      continue
    }
    try {
      const size = (await fstat(fd)).size
      const batches: ValidBatch[] = []
      const sink: LogRecord[] = []
      const undecodable: Damage[] = []
      const r = await scanBatches(
        fd,
        0,
        size,
        {
          checkBodies: true,
          continueAfterDamage: true,
          afterOffset: Math.max(after, base - 1),
          belowOffset: isLast ? Number.POSITIVE_INFINITY : bases[i + 1]!,
          contiguous,
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
            // Checksums match but the records do not decode (a writer's bug, or forged): damage too.
            undecodable.push({
              position: h.position,
              end: h.position + h.length,
              reason: `records do not decode: ${(err as Error).message}`,
              baseOffset: h.baseOffset,
              lastOffset: h.lastOffset,
            })
            return
          }
          batches.push({
            position: h.position,
            length: h.length,
            baseOffset: h.baseOffset,
            lastOffset: h.lastOffset,
            records: h.recordCount,
            lost: h.lost,
            maxTimestamp: h.maxTimestamp,
          })
          if (h.lost) lostEarlier.push({ fromOffset: h.baseOffset, toOffset: h.lastOffset })
        },
      )
      const damage = [...r.damage, ...undecodable].sort((x, y) => x.position - y.position || (x.gap ? -1 : 1))
      const reported = [...damage]
      const keptEnd = (batches[batches.length - 1]?.lastOffset ?? Math.max(after, base - 1)) + 1
      const tail = reported[reported.length - 1]
      if (isLast && mark && keptEnd < mark.end) {
        // Acknowledged records are gone: whatever lies at the end is part of that loss, not a torn tail.
        const at = tail && tail.end === size && !tail.gap ? tail.position : size
        if (tail && tail.end === size && !tail.gap) reported.pop()
        problems.push(corrupt(file, at, lostAtEndMessage(keptEnd, mark.end, at < size ? tail?.reason : undefined)))
      } else if (isLast && tail && tail.end === size && !tail.gap) {
        tornTail = { file, offset: tail.position, bytes: size - tail.position }
        reported.pop()
      }
      for (const d of reported) problems.push(corrupt(file, d.position, d.reason))
      exams.push({ file, base, size, batches, damage })
      // What damaged batches claimed counts as covered: their loss is reported once, not again as a gap.
      const below = isLast ? Number.MAX_SAFE_INTEGER : bases[i + 1]! - 1
      after = Math.max(after, keptEnd - 1, ...damage.map((d) => Math.min(d.lastOffset ?? -1, below)))
    } finally {
      await closeFile(fd)
    }
  }
  for (const l of lostEarlier) notes.push(`offsets ${l.fromOffset} to ${l.toOffset} were recorded as lost by a repair`)
  const segments: SegmentReport[] = exams.map((e) => {
    const withRecords = e.batches.filter((b) => b.records > 0)
    return {
      file: e.file,
      baseOffset: e.base,
      bytes: e.size,
      batches: e.batches.length,
      records: e.batches.reduce((n, b) => n + b.records, 0),
      firstOffset: withRecords[0]?.baseOffset ?? null,
      lastOffset: withRecords[withRecords.length - 1]?.lastOffset ?? null,
    }
  })
  const withData = segments.filter((s) => s.firstOffset !== null)
  const last = exams[exams.length - 1]
  return {
    exists: dirExists,
    marks,
    segments: exams,
    startLoss,
    report: {
      topic,
      partition,
      segments,
      records: segments.reduce((n, s) => n + s.records, 0),
      firstOffset: withData[0]?.firstOffset ?? null,
      lastOffset: withData[withData.length - 1]?.lastOffset ?? null,
      endOffset: last ? (last.batches[last.batches.length - 1]?.lastOffset ?? last.base - 1) + 1 : null,
      highWaterMark: mark?.end ?? null,
      startMark: mark?.start ?? null,
      tornTail,
      problems,
      notes,
      lostEarlier,
    },
  }
}

function withAdvice(err: OpenFactoryError, advice: string): OpenFactoryError {
  return new OpenFactoryError(err.code, `${err.message}; ${advice}`, { where: err.where, cause: err })
}

async function examineGroups(root: string): Promise<{ file: string; error: OpenFactoryError }[]> {
  const gdir = path.join(root, 'groups')
  let names: string[]
  try {
    names = await fs.promises.readdir(gdir)
  } catch {
    return []
  }
  const bad: { file: string; error: OpenFactoryError }[] = []
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(gdir, name)
    try {
      const raw = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { group?: unknown; offsets?: unknown }
      if (typeof raw.group !== 'string' || raw.offsets === null || typeof raw.offsets !== 'object')
        throw new Error('unexpected content')
      for (const parts of Object.values(raw.offsets as Record<string, unknown>)) {
        if (parts === null || typeof parts !== 'object') throw new Error('unexpected content')
        for (const [p, o] of Object.entries(parts as Record<string, unknown>)) {
          if (!/^\d+$/.test(p) || !Number.isSafeInteger(o) || (o as number) < 0) throw new Error('unexpected content')
        }
      }
    } catch (err) {
      bad.push({
        file,
        error: corrupt(
          file,
          0,
          'committed offsets of a consumer group are unreadable; "ofa log repair" moves the file aside (the group then starts from its resetTo position)',
          err,
        ),
      })
    }
  }
  return bad
}

/** Committed offsets beyond the end of their (healthy) partition; `ends` by `topic/partition`. */
async function committedBeyond(
  root: string,
  ends: ReadonlyMap<string, number>,
): Promise<{ group: string; topic: string; partition: number; offset: number; end: number }[]> {
  const out: { group: string; topic: string; partition: number; offset: number; end: number }[] = []
  const store = await OffsetStore.open(root, true)
  for (const { group, offsets } of await store.loadAll()) {
    for (const [topic, parts] of offsets) {
      for (const [partition, offset] of parts) {
        const end = ends.get(`${topic}/${partition}`)
        if (end !== undefined && offset > end) out.push({ group, topic, partition, offset, end })
      }
    }
  }
  return out
}

// ---- repair ------------------------------------------------------------------------------------------------

/**
 * Repairs the log in `dir` (see the file comment) and reports what it did and what it lost. Refuses with
 * `OFA_LOG_LOCKED` while another process owns the directory.
 */
export async function repairLog(dir: string): Promise<RepairReport> {
  const root = path.resolve(dir)
  const meta = await examineMeta(root)
  const actions: RepairAction[] = []
  const unrepaired: OpenFactoryError[] = []
  const ownerFile = path.join(root, 'owner.json')
  const ownerBad = (await examineLock(root)).some((n) => n.startsWith(ownerFile))
  const lock = DirLock.acquire(root, {
    trustOwnerFile: false,
    onReplaced: (w) =>
      actions.push({
        file: path.join(root, 'lock'),
        action: 'replaced-lock',
        movedTo: /moved aside to (\S+) and replaced/.exec(w.message)?.[1],
        lost: [],
        note: w.message,
      }),
  })
  try {
    if (ownerBad)
      actions.push({ file: ownerFile, action: 'rebuilt', lost: [], note: 'owner.json was unreadable; written again' })
    if (!meta.readable) {
      const file = path.join(root, META_FILE)
      const movedTo = meta.text === null ? undefined : await moveAside(file)
      await writeFileAtomic(file, metaText(meta.version))
      actions.push({
        file,
        action: 'rebuilt',
        ...(movedTo ? { movedTo } : {}),
        lost: [],
        note: `format marker written again with version ${meta.version}${meta.version < FORMAT_VERSION ? ' (gaps in compacted topics are not checked at this version)' : ''}`,
      })
    }
    const walScan = await scanWal(root)
    const walKept = await repairWal(root, walScan, actions)
    const ends = new Map<string, number>()
    for (const t of await examineTopics(root, meta.version)) {
      let spec = t.spec
      if (!spec && t.needsSpec) {
        const dirs = await partitionDirs(t.dir)
        const salvaged = salvageTopicSpec(t.name, t.specText, (dirs[dirs.length - 1] ?? -1) + 1, DEFAULT_SEGMENT_BYTES)
        spec = salvaged.spec
        const file = path.join(t.dir, 'topic.json')
        const movedTo = t.specText === null ? undefined : await moveAside(file)
        await writeFileAtomic(file, topicFileText(spec))
        actions.push({
          topic: t.name,
          file,
          action: 'rebuilt',
          ...(movedTo ? { movedTo } : {}),
          lost: [],
          note:
            salvaged.guessed.length > 0
              ? `topic.json rebuilt from what survives; guessed: ${salvaged.guessed.join(', ')}`
              : 'topic.json rebuilt from what survives; every setting could still be read',
        })
      }
      if (!spec) continue
      const contiguous = meta.version >= 2 || !isCompacted(spec)
      for (let i = 0; i < spec.partitions; i++) {
        const pdir = path.join(t.dir, String(i))
        try {
          const end = await repairPartition(t.name, i, pdir, contiguous, meta.version, actions)
          ends.set(`${t.name}/${i}`, end)
        } catch (err) {
          unrepaired.push(err instanceof OpenFactoryError ? err : ioError(`cannot repair ${pdir}`, err, pdir))
        }
      }
    }
    for (const g of await examineGroups(root)) {
      const movedTo = await moveAside(g.file)
      actions.push({
        file: g.file,
        action: 'moved-aside',
        movedTo,
        lost: [],
        note: 'the committed offsets of this group are lost: it starts again from its resetTo position',
      })
    }
    const beyond = await committedBeyond(root, ends)
    if (beyond.length > 0) {
      const store = await OffsetStore.open(root, false)
      for (const b of beyond) {
        await store.commit(b.group, [{ topic: b.topic, partition: b.partition, offset: b.end }])
        actions.push({
          topic: b.topic,
          partition: b.partition,
          file: store.fileOf(b.group),
          action: 'reset-offsets',
          lost: [],
          note: `consumer group ${b.group}: committed offset ${b.offset} was beyond the partition's end; set to ${b.end}`,
        })
      }
    }
    await removeWal(walScan, walKept, actions)
    if (actions.length > 0) await recordRepairs(root, actions)
    return { dir: root, actions, unrepaired }
  } finally {
    lock.release()
  }
}

/**
 * Repair, first of all: cuts a torn WAL tail, then writes the WAL batches beyond each partition's valid
 * batches into its active segment (bytes after the valid batches were written behind the WAL and are
 * rewritten), with lost-batches for offsets a damaged WAL record held. A partition whose segments end before
 * the WAL's first batch of it is left to the partition repair (its missing offsets are not in the WAL either).
 * Returns the WAL files to keep (holding batches of partitions or topics that are not there).
 */
async function repairWal(root: string, scan: WalScan, actions: RepairAction[]): Promise<Set<string>> {
  const keep = new Set<string>()
  for (const f of scan.files) {
    if (!f.torn) continue
    await cutTornWal(f, true)
    actions.push({
      file: f.file,
      action: 'cut-torn-tail',
      lost: [],
      note: `a write-ahead record whose write never completed (${f.torn.reason}) was cut at byte ${f.torn.position}`,
    })
  }
  for (const [key, entries] of scan.entries) {
    const slash = key.lastIndexOf('/')
    const topic = key.slice(0, slash)
    const partition = Number(key.slice(slash + 1))
    const pdir = path.join(root, 'topics', topic, String(partition))
    const bases = await listSegmentFiles(pdir).then(
      (l) => l.bases,
      () => [] as number[],
    )
    if (bases.length === 0) {
      for (const e of entries) keep.add(e.file)
      continue
    }
    await replayIntoSegment(
      topic,
      partition,
      path.join(pdir, segmentFileName(bases[bases.length - 1]!)),
      entries,
      actions,
    )
  }
  return keep
}

async function replayIntoSegment(
  topic: string,
  partition: number,
  file: string,
  entries: readonly WalEntry[],
  actions: RepairAction[],
): Promise<void> {
  const base = parseSegmentName(path.basename(file))
  const fd = await openFile(file, 'r+')
  try {
    const size = (await fstat(fd)).size
    let last = base - 1
    let pos = 0
    await scanBatches(
      fd,
      0,
      size,
      {
        checkBodies: true,
        continueAfterDamage: false,
        afterOffset: base - 1,
        belowOffset: Number.POSITIVE_INFINITY,
        contiguous: true,
      },
      (h) => {
        last = h.lastOffset
        pos = h.position + h.length
      },
    )
    let i = 0
    while (i < entries.length && entries[i]!.header.lastOffset <= last) i++
    if (i === entries.length || entries[i]!.header.baseOffset > last + 1) return
    const lost: LostRange[] = []
    let at = last
    const written = pos
    for (; i < entries.length; i++) {
      const e = entries[i]!
      if (e.header.baseOffset <= at) continue
      if (e.header.baseOffset > at + 1) {
        lost.push({
          fromOffset: at + 1,
          toOffset: e.header.baseOffset - 1,
          position: pos,
          bytes: 0,
          reason: 'held by a damaged write-ahead record',
        })
        for (const b of emptyBatches(at + 1, e.header.baseOffset - 1, e.header.maxTimestamp, true)) {
          await writeAll(fd, b, pos)
          pos += b.length
        }
      }
      await writeAll(fd, e.bytes, pos)
      pos += e.bytes.length
      at = e.header.lastOffset
    }
    await ftruncate(fd, pos)
    await fdatasync(fd)
    actions.push({
      topic,
      partition,
      file,
      action: 'replayed-wal',
      lost,
      note: `offsets ${last + 1} to ${at} written from the write-ahead file after byte ${written}${lost.length > 0 ? `; ${lost.length} range(s) a damaged WAL record held became lost-batches` : ''}`,
    })
  } finally {
    await closeFile(fd)
  }
}

/** Repair, last: the WAL files go (damaged ones are moved aside), but those kept. */
async function removeWal(scan: WalScan, keep: Set<string>, actions: RepairAction[]): Promise<void> {
  if (scan.files.length === 0) return
  const damaged = new Set(scan.damage.map((d) => d.file))
  for (const f of scan.files) {
    if (keep.has(f.file)) continue
    if (damaged.has(f.file)) {
      const movedTo = await moveAside(f.file)
      actions.push({
        file: f.file,
        action: 'moved-aside',
        movedTo,
        lost: [],
        note: 'a write-ahead file with a damaged record, replayed',
      })
    } else await fs.promises.rm(f.file, { force: true })
  }
  await fsyncDir(scan.dir)
}

/** Appends the actions to `<dir>/repairs.jsonl`. */
async function recordRepairs(root: string, actions: readonly RepairAction[]): Promise<void> {
  const at = new Date().toISOString()
  const text = actions.map((a) => `${JSON.stringify({ at, host: os.hostname(), ...a })}\n`).join('')
  const fd = await openFile(path.join(root, REPAIRS_FILE), 'a')
  try {
    await writeAll(fd, Buffer.from(text), 0)
    await fdatasync(fd)
  } finally {
    await closeFile(fd)
  }
}

/** A batch to write into a repaired segment: a kept one (from the original file) or a lost-batch. */
type Piece =
  | { readonly kind: 'kept'; readonly batch: ValidBatch }
  | { readonly kind: 'lost'; from: number; to: number; maxTimestamp: number; range: LostRange }

/** Repairs one partition; returns its end offset afterwards. */
async function repairPartition(
  topic: string,
  partition: number,
  pdir: string,
  contiguous: boolean,
  version: number,
  actions: RepairAction[],
): Promise<number> {
  const act = (a: Omit<RepairAction, 'topic' | 'partition'>) => actions.push({ topic, partition, ...a })
  if (!(await exists(pdir))) {
    await fs.promises.mkdir(pdir)
    await createSegment(pdir, 0, [])
    await writeMarks(pdir, { start: 0, end: 0 })
    await fsyncDir(path.dirname(pdir))
    act({
      file: pdir,
      action: 'recreated',
      lost: [
        { fromOffset: null, toOffset: null, position: 0, bytes: 0, reason: 'the partition directory was missing' },
      ],
      note: 'made again, empty: every record it held is lost',
    })
    return 0
  }
  // Interrupted compactions first, as the next open would finish them; a damaged marker is worked out here.
  const listing = await listSegmentFiles(pdir)
  await settleDamagedSwapMarkers(pdir, listing.others, listing.bases, act)
  const { notes } = await recoverCompactions(pdir, (await listSegmentFiles(pdir)).others, false)
  for (const n of notes) act({ file: n.file, action: 'removed-leftover', lost: [], note: n.note })

  const exam = await examinePartition(topic, partition, pdir, contiguous, version)
  const mark = exam.marks.kind === 'ok' ? exam.marks.values : null
  const hw = mark?.end ?? 0
  const start = mark?.start ?? 0
  if (exam.segments.length === 0) {
    const ranges = hw > start ? [lostRange(start, hw - 1, 0, 0, 'every segment file of the partition is gone')] : []
    const file = await createSegment(
      pdir,
      start,
      ranges.map((r) => ({ from: r.fromOffset!, to: r.toOffset! })),
    )
    await writeMarks(pdir, { start, end: Math.max(hw, start) })
    act({ file, action: 'filled-gap', lost: ranges, note: 'the partition had no segment file left' })
    return Math.max(hw, start)
  }
  if (exam.startLoss) {
    act({
      file: path.join(pdir, MARKS_FILE),
      action: 'moved-start',
      lost: [
        lostRange(
          exam.startLoss.from,
          exam.startLoss.to,
          0,
          0,
          'the segments at the start of the partition were deleted',
        ),
      ],
    })
  }
  let after = -1
  let end = 0
  for (let i = 0; i < exam.segments.length; i++) {
    const e = exam.segments[i]!
    const next = exam.segments[i + 1]
    const isLast = next === undefined
    // A gap before this segment whose segment is gone: a new segment file stands for it.
    if (i > 0 && contiguous && e.base > after + 1) {
      const file = await createSegment(pdir, after + 1, [{ from: after + 1, to: e.base - 1 }])
      act({
        file,
        action: 'filled-gap',
        lost: [lostRange(after + 1, e.base - 1, 0, 0, 'a segment file holding them is gone')],
      })
    }
    const lo = i === 0 ? e.base : Math.max(after + 1, e.base)
    const bytesDamaged = e.damage.filter((d) => !d.gap)
    const tail = bytesDamaged[bytesDamaged.length - 1]
    const keptEnd = (e.batches[e.batches.length - 1]?.lastOffset ?? lo - 1) + 1
    const tornOnly =
      isLast &&
      tail !== undefined &&
      tail.end === e.size &&
      bytesDamaged.length === 1 &&
      !e.damage.some((d) => d.gap) &&
      keptEnd >= hw
    if (tornOnly) {
      await cutAt(e.file, tail.position)
      act({
        file: e.file,
        action: 'cut-torn-tail',
        lost: [
          {
            fromOffset: null,
            toOffset: null,
            position: tail.position,
            bytes: e.size - tail.position,
            reason: `never acknowledged: ${tail.reason}`,
          },
        ],
      })
      after = keptEnd - 1
      end = keptEnd
      continue
    }
    // Where this segment's offsets must reach: the next segment's base (where gaps are damage), or (last) past
    // every offset that was acknowledged or claimed, so that offsets never go back.
    // A sealed segment that needs no rewrite of its own leaves a gap after it to a gap file (next round).
    const claimed = Math.max(-1, ...bytesDamaged.map((d) => d.lastOffset ?? -1))
    const tailReason = isLast
      ? 'acknowledged (below the high-water mark) but no longer in the segment'
      : 'the batches holding them are gone'
    let pieces = planSegment(
      e,
      lo,
      isLast ? Math.max(keptEnd - 1, hw - 1, claimed) : keptEnd - 1,
      contiguous,
      tailReason,
    )
    // (A sealed segment without batches cannot leave its gap to a gap file: that file would be itself.)
    const needsRewrite =
      bytesDamaged.length > 0 ||
      pieces.some((p) => p.kind === 'lost') ||
      (!isLast && contiguous && e.batches.length === 0 && next.base > lo)
    if (needsRewrite && !isLast && contiguous) pieces = planSegment(e, lo, next.base - 1, contiguous, tailReason)
    if (!needsRewrite) {
      after = keptEnd - 1
      end = keptEnd
      continue
    }
    const movedTo = await rewriteSegment(e, pieces)
    const lost = pieces.filter((p) => p.kind === 'lost').map((p) => (p as Extract<Piece, { kind: 'lost' }>).range)
    act({ file: e.file, action: 'moved-aside', movedTo, lost })
    const lastPiece = pieces[pieces.length - 1]
    const covered = lastPiece ? (lastPiece.kind === 'kept' ? lastPiece.batch.lastOffset : lastPiece.to) : lo - 1
    after = Math.max(keptEnd - 1, covered)
    end = after + 1
  }
  end = Math.max(end, exam.segments[0]!.base)
  // The start mark at the first segment (a start loss is recorded above); the end at least the high-water mark.
  const marksWanted = { start: exam.segments[0]!.base, end: Math.max(end, hw) }
  if (
    exam.marks.kind !== 'ok' ||
    exam.marks.values.start !== marksWanted.start ||
    exam.marks.values.end !== marksWanted.end
  ) {
    await writeMarks(pdir, marksWanted)
    if (exam.marks.kind !== 'ok') {
      act({
        file: path.join(pdir, MARKS_FILE),
        action: 'rebuilt',
        lost: [],
        note: `the marks file was ${exam.marks.kind === 'missing' ? 'missing' : 'damaged'}; written again from the segments (start ${marksWanted.start}, end ${marksWanted.end}): records lost at the end before now cannot be known`,
      })
    }
  }
  return marksWanted.end
}

/**
 * The batches of a repaired segment: every kept batch, in order, and lost-batches standing for the offsets that
 * are gone — where batches must follow each other (`contiguous`), every gap from `lo` up to `fillTo`; else only
 * the offsets damaged batches claimed, and those from the last kept batch up to `fillTo` (the high-water mark).
 */
function planSegment(e: SegmentExam, lo: number, fillTo: number, contiguous: boolean, tailReason: string): Piece[] {
  const pieces: Piece[] = []
  const damage = e.damage.filter((d) => !d.gap)
  const addLost = (from: number, to: number, regions: readonly Damage[], otherwise: string): void => {
    if (to < from) return
    const position = regions[0]?.position ?? e.size
    const bytes = regions.reduce((n, r) => n + (r.end - r.position), 0)
    const reason = regions[0]?.reason ?? otherwise
    const prev = pieces[pieces.length - 1]
    if (prev?.kind === 'lost' && prev.to + 1 === from) {
      prev.to = to
      prev.range = {
        fromOffset: prev.range.fromOffset,
        toOffset: to,
        position: Math.min(prev.range.position, position),
        bytes: prev.range.bytes + bytes,
        reason: prev.range.reason === reason ? reason : `${prev.range.reason}; ${reason}`,
      }
      return
    }
    pieces.push({ kind: 'lost', from, to, maxTimestamp: 0, range: lostRange(from, to, position, bytes, reason) })
  }
  const claimedIn = (regions: readonly Damage[], from: number, to: number): void => {
    for (const r of regions) {
      if (r.baseOffset === undefined || r.lastOffset === undefined) continue
      addLost(Math.max(r.baseOffset, from), Math.min(r.lastOffset, to), [r], r.reason)
    }
  }
  let cursor = lo
  let pos = 0
  for (const b of e.batches) {
    const regions = damage.filter((d) => d.position >= pos && d.position < b.position)
    if (contiguous) addLost(cursor, b.baseOffset - 1, regions, 'the batches holding them are gone')
    else claimedIn(regions, cursor, b.baseOffset - 1)
    pieces.push({ kind: 'kept', batch: b })
    cursor = Math.max(cursor, b.lastOffset + 1)
    pos = b.position + b.length
  }
  const regions = damage.filter((d) => d.position >= pos)
  if (!contiguous) {
    claimedIn(regions, cursor, Number.MAX_SAFE_INTEGER)
    const lastLost = pieces[pieces.length - 1]
    if (lastLost?.kind === 'lost') cursor = Math.max(cursor, lastLost.to + 1)
    addLost(cursor, fillTo, [], tailReason)
  } else {
    addLost(cursor, fillTo, regions, tailReason)
  }
  return pieces
}

function lostRange(from: number, to: number, position: number, bytes: number, reason: string): LostRange {
  return { fromOffset: from, toOffset: to, position, bytes, reason }
}

/**
 * Writes the repaired copy of a segment and puts it in place; the original stays as `<name>.damaged`. A hard
 * link keeps the original under its new name while the copy replaces it atomically: the segment file never goes
 * missing, whenever this stops. Returns where the original went.
 */
async function rewriteSegment(e: SegmentExam, pieces: readonly Piece[]): Promise<string> {
  const tmp = `${e.file}.repair.tmp`
  const src = await openFile(e.file, 'r')
  const dst = await openFile(tmp, 'w')
  try {
    let pos = 0
    for (const p of pieces) {
      const bufs =
        p.kind === 'kept'
          ? [await readAt(src, p.batch.position, p.batch.length)]
          : emptyBatches(p.from, p.to, p.maxTimestamp, true)
      for (const b of bufs) {
        await writeAll(dst, b, pos)
        pos += b.length
      }
    }
    await fdatasync(dst)
  } finally {
    await closeFile(src)
    await closeFile(dst)
  }
  const movedTo = await asideName(e.file)
  await fs.promises.link(e.file, movedTo)
  await fs.promises.rename(tmp, e.file)
  await fsyncDir(path.dirname(e.file))
  return movedTo
}

/** Creates segment `base` holding lost-batches for `ranges`; returns its file. */
async function createSegment(
  pdir: string,
  base: number,
  ranges: readonly { from: number; to: number }[],
): Promise<string> {
  const file = path.join(pdir, segmentFileName(base))
  const fd = await openFile(file, 'wx')
  try {
    let pos = 0
    for (const r of ranges) {
      for (const b of emptyBatches(r.from, r.to, 0, true)) {
        await writeAll(fd, b, pos)
        pos += b.length
      }
    }
    await fdatasync(fd)
  } finally {
    await closeFile(fd)
  }
  await fsyncDir(pdir)
  return file
}

async function writeMarks(pdir: string, v: { start: number; end: number }): Promise<void> {
  await writeFileAtomic(path.join(pdir, MARKS_FILE), marksBytes(v))
}

async function cutAt(file: string, size: number): Promise<void> {
  const fd = await openFile(file, 'r+')
  try {
    await ftruncate(fd, size)
    await fdatasync(fd)
  } finally {
    await closeFile(fd)
  }
}

/**
 * Compaction markers that cannot be read: what they would say is worked out from the files. With the merged file
 * still beside (`.cleaned`), the originals are complete: the merged file goes. Without it, the merged segment is
 * in place: the segments it covers go. The marker itself is kept aside.
 */
async function settleDamagedSwapMarkers(
  pdir: string,
  others: readonly string[],
  bases: readonly number[],
  act: (a: Omit<RepairAction, 'topic' | 'partition'>) => void,
): Promise<void> {
  for (const name of others) {
    if (!name.endsWith(SWAP_SUFFIX)) continue
    const marker = path.join(pdir, name)
    try {
      await recoverCompactions(pdir, [name], true)
      continue // readable: the normal recovery handles it
    } catch {
      // damaged: below
    }
    const target = name.slice(0, -SWAP_SUFFIX.length)
    const base = parseSegmentName(target)
    const cleaned = path.join(pdir, `${target}${CLEANED_SUFFIX}`)
    let note: string
    if (await exists(cleaned)) {
      await fs.promises.rm(cleaned, { force: true })
      note = 'the compaction had not put its merged segment in place: the merged file was removed, the originals kept'
    } else if (base >= 0 && bases.includes(base)) {
      const mergedLast = await lastOffsetOf(path.join(pdir, target))
      const replaced = bases.filter((b) => b > base && b <= mergedLast)
      for (const b of replaced) await fs.promises.rm(path.join(pdir, segmentFileName(b)), { force: true })
      note = `the merged segment was in place: the ${replaced.length} segments it covers were removed`
    } else {
      note = 'nothing of the compaction it belonged to is left'
    }
    const movedTo = await moveAside(marker)
    await fsyncDir(pdir)
    act({ file: marker, action: 'removed-leftover', movedTo, lost: [], note: `damaged compaction marker; ${note}` })
  }
}

/** The last offset the valid batches at the start of a segment file cover (headers only). */
async function lastOffsetOf(file: string): Promise<number> {
  const fd = await openFile(file, 'r')
  try {
    let last = -1
    await scanBatches(
      fd,
      0,
      (await fstat(fd)).size,
      { checkBodies: false, continueAfterDamage: false, afterOffset: -1, belowOffset: Number.POSITIVE_INFINITY },
      (h) => {
        last = h.lastOffset
      },
    )
    return last
  } finally {
    await closeFile(fd)
  }
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
