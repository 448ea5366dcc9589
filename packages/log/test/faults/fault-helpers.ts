// Helpers of the fault suite: logs with a ledger of what was acknowledged, file damage, and the checks every
// fault case makes (what was acknowledged is read back, or the partition answers with a coded error).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { isOpenFactoryError, type OpenFactoryError } from '@openfactory/model'
import { type EmbeddedLog, type EmbeddedLogOptions, openEmbeddedLog } from '../../src/index.ts'

export { readAll, segmentFiles } from '../helpers.ts'

/** Acknowledged records: `topic/partition/offset` → value. */
export type Ledger = Map<string, string>

export const at = (topic: string, partition: number, offset: number): string => `${topic}/${partition}/${offset}`

/** Opens a log without background tasks; warnings are collected instead of printed. Closes after the test. */
export async function openQuiet(
  t: TestContext,
  dir: string,
  opts: Partial<EmbeddedLogOptions> = {},
): Promise<{ log: EmbeddedLog; warnings: string[] }> {
  const warnings: string[] = []
  const log = await openEmbeddedLog({
    compactionIntervalMs: 0,
    retentionCheckIntervalMs: 0,
    onWarning: (w) => warnings.push(w.message),
    ...opts,
    dir,
  })
  t.after(() => log.close())
  return { log, warnings }
}

/** Appends `batches` batches of `size` records to one partition, adding each acknowledged record to the ledger. */
export async function appendTo(
  log: EmbeddedLog,
  ledger: Ledger,
  topic: string,
  partition: number,
  batches: number,
  size = 5,
  tag = 'v',
): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const records = Array.from({ length: size }, (_, i) => ({
      key: `k${i}`,
      value: `${tag}-${partition}-${b}-${i}`.padEnd(48, '.'),
      partition,
    }))
    const meta = await log.append(topic, records)
    for (const [i, m] of meta.entries()) ledger.set(at(topic, m.partition, m.offset), records[i]!.value)
  }
}

/** The data directory's files, relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(dir, p))
    }
  }
  walk(dir)
  return out.sort()
}

/** Positions of the batches of a segment file (from the batch length field at byte 8 of each header). */
export function batchPositions(file: string): number[] {
  const buf = fs.readFileSync(file)
  const out: number[] = []
  for (let p = 0; p + 56 <= buf.length; p += buf.readUInt32LE(p + 8)) out.push(p)
  return out
}

export function flipByte(file: string, position: number, mask = 0x5a): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, position)
  b[0] = b[0]! ^ mask
  fs.writeSync(fd, b, 0, 1, position)
  fs.closeSync(fd)
}

/** Asserts that `err` is the coded error `code` and, when given, that its `where` names `file`. */
export function isCoded(err: unknown, code: OpenFactoryError['code'], file?: string): boolean {
  assert.ok(isOpenFactoryError(err), `expected ${code}, got ${String(err)}`)
  assert.equal(err.code, code, err.message)
  if (file !== undefined) assert.equal(err.where?.file, file, err.message)
  return true
}

/**
 * A tmpfs of `size` mounted for this test (unmounted and removed after it, once `beforeUnmount` closed what uses it),
 * or null when this process may not mount (the test is then skipped, saying why).
 */
export function testTmpfs(
  t: TestContext,
  prefix: string,
  size: string,
  beforeUnmount: () => Promise<void>,
): string | null {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { stdio: 'pipe' })
  } catch {
    fs.rmSync(mnt, { recursive: true, force: true })
    t.skip('cannot mount a tmpfs here (mount needs root): the full-disk case is not run')
    return null
  }
  // One cleanup, in order: the files closed, then the file system unmounted, then its mount point gone.
  t.after(async () => {
    await beforeUnmount()
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' })
    } catch {
      execFileSync('umount', ['-l', mnt], { stdio: 'pipe' })
    }
    fs.rmSync(mnt, { recursive: true, force: true })
  })
  return mnt
}
