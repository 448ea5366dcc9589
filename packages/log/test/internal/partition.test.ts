// What a failed write leaves in a partition: the batches before it, nothing of it or after it (the prefix rule
// `EventLog.append` documents), and — when the file cannot even be cut back to its last durable batch — a
// partition that refuses appends (reads go on) until the log is reopened. A full disk, which can be cut back,
// is in test/faults/disk-full.test.ts.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import { Partition, type PartitionConfig } from '../../src/internal/partition.ts'
import { segmentFileName } from '../../src/internal/segment.ts'
import { tempDir } from '../helpers.ts'

it('a failed write fails its batch and every later one; the batches before it stay', async (t) => {
  const dir = tempDir(t)
  fs.writeFileSync(path.join(dir, segmentFileName(0)), '')
  const cfg: PartitionConfig = {
    topic: 't',
    partition: 0,
    dir,
    readOnly: false,
    fsync: false,
    segmentBytes: 1 << 20,
    maxBatchBytes: 1024,
    lingerMs: 0,
    contiguous: true,
    expectMarks: false,
    onWarning: () => {},
  }
  const p = await Partition.open(cfg)
  const value = 'v'.repeat(200) // 600 bytes reserved each: one record per batch
  const bound = 26 + 3 * value.length
  const written = [0, 1, 2].map((i) => p.enqueue(`k${i}`, value, undefined, i, bound).done)
  await Promise.all(written)
  // The next write fails: the active segment's descriptor now refuses writes.
  const writable = p.active.fd
  const readOnlyFd = fs.openSync(p.active.file, 'r')
  p.active.setFd(readOnlyFd)
  const failed = [3, 4, 5].map((i) => p.enqueue(`k${i}`, value, undefined, i, bound).done)
  for (const done of failed) {
    await assert.rejects(done, (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_IO'))
  }
  assert.equal(p.endOffset, 3)
  assert.throws(
    () => p.checkWritable(),
    (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_IO'),
  )
  p.check() // reads go on
  assert.equal((await p.read(0, 100, 1 << 20)).records.length, 3)
  p.active.setFd(writable)
  fs.closeSync(readOnlyFd)
  await p.close()
  const again = await Partition.open(cfg)
  t.after(() => again.close())
  assert.deepEqual(
    (await again.read(0, 100, 1 << 20)).records.map((r) => r.key?.toString()),
    ['k0', 'k1', 'k2'],
  )
  assert.equal(again.endOffset, 3)
})
