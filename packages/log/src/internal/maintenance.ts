/**
 * Compaction and retention of the embedded log. Both work on sealed segments only (the active segment is never
 * rewritten or deleted) and run under the partition's maintenance lock.
 *
 * Compaction keeps the latest record of every key. It reads the whole partition once to learn each key's
 * latest offset, then rewrites consecutive sealed segments, merged up to the topic's segment size, into one
 * file: each batch keeps its base offset and offset range and loses the records superseded later. A run of
 * batches that lose every record becomes one batch without records covering their offsets, so that the batches
 * still cover the partition's offsets without gaps (a gap is damage: a batch or segment went missing). A tombstone
 * (null value) that is the latest for its key is kept until its batch's delete horizon (set the first time the
 * cleaner sees it, `tombstoneRetentionMs` later — Kafka's delete.retention.ms, KIP-534) has passed, so that
 * consumers catching up still see the delete.
 *
 * Crash safety of a rewrite: the merged file is written as `<base>.log.cleaned` and fdatasync'd; when it
 * replaces several segments, a marker `<base>.log.swap` listing them is written (atomically) before the merged
 * file is renamed over `<base>.log` and the other segments are deleted. The next open finishes or undoes an
 * interrupted rewrite from what it finds (see compaction-recovery.ts); a single segment is replaced by the
 * rename alone.
 */
import fs from 'node:fs'
import {
  type BatchHeader,
  bodyCrcMatches,
  emptyBatches,
  finishBatch,
  HEADER_SIZE,
  parseHeader,
  RECORD_OVERHEAD,
} from './batch-format.ts'
import { CLEANED_SUFFIX, SWAP_SUFFIX, swapMarkerText } from './compaction-recovery.ts'
import { corrupt } from './errors.ts'
import { closeFile, fdatasync, fsyncDir, openFile, readAt, writeAll, writeFileAtomic } from './fs-util.ts'
import type { Partition } from './partition.ts'
import { Segment } from './segment.ts'

export interface CompactionOptions {
  readonly now: number
  readonly tombstoneRetentionMs: number
  readonly segmentBytes: number
  readonly fsync: boolean
}

export interface PartitionCompaction {
  readonly partition: number
  readonly segmentsBefore: number
  readonly segmentsAfter: number
  readonly recordsBefore: number
  readonly recordsAfter: number
  readonly bytesBefore: number
  readonly bytesAfter: number
}

const READ_CHUNK = 4 << 20

export async function compactPartition(p: Partition, opts: CompactionOptions): Promise<PartitionCompaction> {
  p.checkWritable()
  const sealed = p.segments.slice(0, -1)
  const segmentsBefore = p.segments.length
  const stats = { recordsBefore: 0, recordsAfter: 0, bytesBefore: 0, bytesAfter: 0 }
  if (sealed.length === 0) {
    return { partition: p.id, segmentsBefore, segmentsAfter: segmentsBefore, ...stats }
  }
  const latest = await latestOffsets(p)
  for (const group of groupSegments(sealed, opts.segmentBytes)) {
    await rewriteGroup(p, group, latest, opts, stats)
  }
  return { partition: p.id, segmentsBefore, segmentsAfter: p.segments.length, ...stats }
}

/** Each key's latest offset in the partition (keys as latin1 strings: one char per byte). */
async function latestOffsets(p: Partition): Promise<Map<string, number>> {
  const latest = new Map<string, number>()
  const end = p.endOffset
  let offset = p.startOffset
  while (offset < end) {
    const r = await p.read(offset, 100_000, 16 << 20)
    for (const rec of r.records) if (rec.key) latest.set(rec.key.toString('latin1'), rec.offset)
    if (r.next <= offset) break
    offset = r.next
  }
  return latest
}

/** Consecutive segments whose total size stays within `segmentBytes` (at least one per group). */
function groupSegments(segments: readonly Segment[], segmentBytes: number): Segment[][] {
  const groups: Segment[][] = []
  let cur: Segment[] = []
  let size = 0
  for (const s of segments) {
    if (cur.length > 0 && size + s.size > segmentBytes) {
      groups.push(cur)
      cur = []
      size = 0
    }
    cur.push(s)
    size += s.size
  }
  if (cur.length > 0) groups.push(cur)
  return groups
}

async function rewriteGroup(
  p: Partition,
  group: readonly Segment[],
  latest: Map<string, number>,
  opts: CompactionOptions,
  stats: { recordsBefore: number; recordsAfter: number; bytesBefore: number; bytesAfter: number },
): Promise<void> {
  const first = group[0]!
  const tmp = `${first.file}${CLEANED_SUFFIX}`
  const marker = `${first.file}${SWAP_SUFFIX}`
  const fd = await openFile(tmp, 'w+')
  const out = new Segment(p.dir, first.base)
  out.setFd(fd)
  let changed = group.length > 1
  let pos = 0
  // Batches that lost every record, not written yet: one batch without records stands for them.
  let dropped: { from: number; to: number; maxTimestamp: number } | null = null
  const writeBatch = async (
    batch: Buffer,
    h: { baseOffset: number; lastOffset: number; maxTimestamp: number },
    count: number,
  ) => {
    await writeAll(fd, batch, pos)
    out.addBatch({
      position: pos,
      length: batch.length,
      baseOffset: h.baseOffset,
      lastOffset: h.lastOffset,
      recordCount: count,
      maxTimestamp: h.maxTimestamp,
    })
    pos += batch.length
    stats.bytesAfter += batch.length
  }
  const writeDropped = async () => {
    if (!dropped) return
    const d = dropped
    dropped = null
    for (const b of emptyBatches(d.from, d.to, d.maxTimestamp, false)) {
      const h = parseHeader(b, 0, 0) as BatchHeader
      await writeBatch(b, h, 0)
    }
  }
  try {
    for (const seg of group) {
      const segFd = await seg.acquire()
      try {
        let at = 0
        while (at < seg.size) {
          let buf = await readAt(segFd, at, Math.min(READ_CHUNK, seg.size - at))
          let h = buf.length >= HEADER_SIZE ? parseHeader(buf, 0, at) : 'incomplete batch header'
          if (typeof h === 'string') throw corrupt(seg.file, at, h)
          if (h.length > buf.length) {
            buf = await readAt(segFd, at, h.length)
            h = parseHeader(buf, 0, at)
            if (typeof h === 'string' || buf.length < h.length)
              throw corrupt(seg.file, at, 'batch runs past the end of the file')
          }
          let rel = 0
          while (rel + HEADER_SIZE <= buf.length) {
            const hh = rel === 0 ? h : parseHeader(buf, rel, at + rel)
            if (typeof hh === 'string') throw corrupt(seg.file, at + rel, hh)
            if (rel + hh.length > buf.length) break
            if (!bodyCrcMatches(buf, rel, hh))
              throw corrupt(seg.file, at + rel, `batch checksum mismatch at offset ${hh.baseOffset}`)
            stats.recordsBefore += hh.recordCount
            stats.bytesBefore += hh.length
            const cleaned = hh.lost
              ? { batch: buf.subarray(rel, rel + hh.length), count: 0, changed: false }
              : cleanBatch(buf, rel, hh, latest, opts, seg.file)
            if (cleaned.changed) changed = true
            if (cleaned.batch) {
              await writeDropped()
              await writeBatch(cleaned.batch, hh, cleaned.count)
              stats.recordsAfter += cleaned.count
            } else if (dropped && dropped.to + 1 === hh.baseOffset) {
              dropped.to = hh.lastOffset
              dropped.maxTimestamp = Math.max(dropped.maxTimestamp, hh.maxTimestamp)
            } else {
              await writeDropped()
              dropped = { from: hh.baseOffset, to: hh.lastOffset, maxTimestamp: hh.maxTimestamp }
            }
            rel += hh.length
          }
          at += rel
        }
      } finally {
        seg.release()
      }
    }
    await writeDropped()
    if (!changed) {
      await closeFile(fd)
      await fs.promises.rm(tmp, { force: true })
      return
    }
    if (opts.fsync) await fdatasync(fd)
    if (group.length > 1) await writeFileAtomic(marker, swapMarkerText(group.map((s) => s.base)))
    await fs.promises.rename(tmp, first.file)
  } catch (err) {
    await closeFile(fd).catch(() => {})
    // The marker first: a marker without its merged file means "the merged file is in place".
    await fs.promises.rm(marker, { force: true })
    await fs.promises.rm(tmp, { force: true })
    throw err
  }
  p.replaceSegments(group, out)
  if (opts.fsync) await fsyncDir(p.dir)
  if (group.length > 1) {
    for (const seg of group.slice(1)) await fs.promises.rm(seg.file, { force: true })
    if (opts.fsync) await fsyncDir(p.dir)
    await fs.promises.rm(marker, { force: true })
  }
}

/**
 * The batch without its superseded records (and expired tombstones), or null when nothing is left. Kept
 * records are copied byte for byte: their offset deltas stay valid because the batch keeps its base offset.
 */
function cleanBatch(
  buf: Buffer,
  at: number,
  h: BatchHeader,
  latest: Map<string, number>,
  opts: CompactionOptions,
  file: string,
): { batch: Buffer | null; count: number; changed: boolean } {
  const end = at + h.length
  const out = Buffer.allocUnsafe(h.length)
  let w = HEADER_SIZE
  let count = 0
  let keptTombstone = false
  const tombstonesExpired = h.deleteHorizon > 0 && opts.now >= h.deleteHorizon
  let p = at + HEADER_SIZE
  while (p < end) {
    if (p + RECORD_OVERHEAD > end) throw corrupt(file, h.position, 'record runs past the batch end')
    const recLen = 4 + buf.readUInt32LE(p)
    if (p + recLen > end || recLen < RECORD_OVERHEAD) throw corrupt(file, h.position, 'bad record length')
    const delta = buf.readUInt32LE(p + 4)
    const keyLen = buf.readInt32LE(p + 16)
    let keep = true
    let tombstone = false
    if (keyLen >= 0) {
      if (p + 20 + keyLen + 4 > p + recLen) throw corrupt(file, h.position, 'key runs past the record end')
      const key = buf.toString('latin1', p + 20, p + 20 + keyLen)
      keep = latest.get(key) === h.baseOffset + delta
      tombstone = buf.readInt32LE(p + 20 + keyLen) === -1
    } else {
      tombstone = buf.readInt32LE(p + 20) === -1
    }
    if (keep && tombstone && tombstonesExpired) keep = false
    if (keep) {
      buf.copy(out, w, p, p + recLen)
      w += recLen
      count++
      if (tombstone) keptTombstone = true
    }
    p += recLen
  }
  const horizonNeeded = keptTombstone && h.deleteHorizon === 0
  const changed = count !== h.recordCount || horizonNeeded
  if (count === 0) return { batch: null, count, changed }
  if (!changed) {
    buf.copy(out, 0, at, end)
    return { batch: out.subarray(0, h.length), count, changed }
  }
  const horizon = keptTombstone ? h.deleteHorizon || opts.now + opts.tombstoneRetentionMs : 0
  return {
    batch: finishBatch(out, w, h.baseOffset, h.lastOffset - h.baseOffset, count, h.maxTimestamp, horizon),
    count,
    changed,
  }
}

/**
 * Deletes the oldest sealed segments past the topic's retention; returns how many. The start mark moves (durably)
 * before any file is deleted: a segment missing below the start mark is retention's doing, above it damage.
 */
export async function applyRetention(
  p: Partition,
  spec: { retentionMs: number; retentionBytes: number },
  now: number,
): Promise<number> {
  p.checkWritable()
  const segs = p.segments
  let n = 0
  if (spec.retentionMs >= 0) {
    while (n < segs.length - 1 && segs[n]!.maxTimestamp < now - spec.retentionMs) n++
  }
  if (spec.retentionBytes >= 0) {
    let total = 0
    for (const s of segs) total += s.size
    for (let i = 0; i < n; i++) total -= segs[i]!.size
    while (n < segs.length - 1 && total - segs[n]!.size >= spec.retentionBytes) {
      total -= segs[n]!.size
      n++
    }
  }
  if (n === 0) return 0
  await p.marks?.setStart(segs[n]!.base)
  const dropped = p.dropOldest(n)
  for (const s of dropped) await fs.promises.rm(s.file, { force: true })
  return n
}
