// Test helpers for the embedded log: temporary data directories and logs that clean up after the test.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type EmbeddedLog, type EmbeddedLogOptions, openEmbeddedLog } from '../src/index.ts'

/** A fresh directory, removed after the test. */
export function tempDir(t: TestContext, prefix = 'ofa-log-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Opens an embedded log that closes after the test (before its directory is removed). */
export async function createTestLog(
  t: TestContext,
  opts: Partial<EmbeddedLogOptions> & { dir?: string } = {},
): Promise<EmbeddedLog> {
  const dir = opts.dir ?? tempDir(t)
  const log = await openEmbeddedLog({ compactionIntervalMs: 0, retentionCheckIntervalMs: 0, ...opts, dir })
  t.after(() => log.close())
  return log
}

/** The segment files of a partition, oldest first. */
export function segmentFiles(dir: string, topic: string, partition: number): string[] {
  const pdir = path.join(dir, 'topics', topic, String(partition))
  return fs
    .readdirSync(pdir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort()
    .map((f) => path.join(pdir, f))
}

/** Every record of a partition, offset → value. */
export async function readAll(log: EmbeddedLog, topic: string, partition: number): Promise<Map<number, string>> {
  const out = new Map<number, string>()
  const d = await log.describeTopic(topic)
  let offset = d.partitionStates[partition]!.startOffset
  for (;;) {
    const recs = await log.read(topic, partition, offset)
    if (recs.length === 0) return out
    for (const r of recs) out.set(r.offset, r.value === null ? '' : r.value.toString())
    offset = recs[recs.length - 1]!.offset + 1
  }
}
