/**
 * Finishing a compaction that stopped halfway (see maintenance.ts for the protocol).
 *
 * A compaction that merges several segments into one writes, in order: the merged file `<base>.log.cleaned`
 * (fdatasync'd); the marker `<base>.log.swap` listing the base offsets of the segments it replaces (written
 * atomically); the rename of the merged file over `<base>.log`; the deletion of the other replaced segments;
 * the deletion of the marker. Whatever the step it stopped at, the marker (or its absence) says what to do:
 *
 * - no marker: a `.cleaned` file is an unfinished merge; the original segments are complete. Delete it.
 * - a marker and a `.cleaned` file: the merged file is complete but not in place. Rename it, then go on.
 * - a marker and no `.cleaned` file: the merged file is in place. Delete the replaced segments and the marker.
 *
 * A reader (read-only) changes nothing: it leaves out the segments a completed rename made obsolete.
 */
import fs from 'node:fs'
import path from 'node:path'
import { corrupt } from './errors.ts'
import { exists, fsyncDir } from './fs-util.ts'
import { parseSegmentName, segmentFileName } from './segment.ts'

export const SWAP_SUFFIX = '.swap'
export const CLEANED_SUFFIX = '.cleaned'

export interface SwapMarker {
  /** Base offsets of the segments the merged one replaces, its own first. */
  readonly replaces: readonly number[]
}

export function swapMarkerText(replaces: readonly number[]): string {
  return `${JSON.stringify({ replaces })}\n`
}

/**
 * Finishes (writer) or accounts for (reader) interrupted compactions in a partition directory whose non-segment
 * file names are `others`. Returns the bases of segments a reader must leave out, and what was found.
 */
export async function recoverCompactions(
  dir: string,
  others: readonly string[],
  readOnly: boolean,
): Promise<{ ignore: Set<number>; notes: { file: string; note: string }[] }> {
  const ignore = new Set<number>()
  const notes: { file: string; note: string }[] = []
  for (const name of others) {
    if (!name.endsWith(SWAP_SUFFIX)) continue
    const marker = path.join(dir, name)
    const target = name.slice(0, -SWAP_SUFFIX.length)
    const base = parseSegmentName(target)
    let replaces: number[]
    try {
      const raw = JSON.parse(await fs.promises.readFile(marker, 'utf8')) as SwapMarker
      replaces = [...raw.replaces]
      if (base < 0 || !replaces.every((b) => Number.isSafeInteger(b) && b >= base)) throw new Error('bad marker')
    } catch (err) {
      throw corrupt(marker, 0, 'compaction marker is unreadable', err)
    }
    const cleaned = path.join(dir, `${target}${CLEANED_SUFFIX}`)
    const renamed = !(await exists(cleaned))
    notes.push({
      file: marker,
      note: `a compaction of ${replaces.length} segments stopped ${renamed ? 'after' : 'before'} putting the merged segment in place`,
    })
    if (readOnly) {
      if (renamed) for (const b of replaces) if (b !== base) ignore.add(b)
      continue
    }
    if (!renamed) {
      await fs.promises.rename(cleaned, path.join(dir, target))
      await fsyncDir(dir)
    }
    for (const b of replaces) if (b !== base) await fs.promises.rm(path.join(dir, segmentFileName(b)), { force: true })
    await fsyncDir(dir)
    await fs.promises.rm(marker, { force: true })
  }
  if (!readOnly) {
    for (const name of await fs.promises.readdir(dir)) {
      if (name.endsWith(CLEANED_SUFFIX) || name.endsWith('.tmp')) {
        notes.push({ file: path.join(dir, name), note: 'left by an interrupted write; removed' })
        await fs.promises.rm(path.join(dir, name), { force: true })
      }
    }
  }
  return { ignore, notes }
}
