// The sparse in-memory index of a segment (one entry about every 16 KiB, in arrays grown by doubling): a read from
// any offset finds its batch, whether the index was built by appends or by the scan at open, over segments of many
// index entries and after a roll.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { openEmbeddedLog } from '../../src/index.ts'
import { tempDir } from '../helpers.ts'

const VALUE = 'x'.repeat(1000)

it('reads from any offset find the right record, through an index built by appends and by the open scan', async (t) => {
  const dir = tempDir(t)
  // 4 MiB segments: about 256 index entries each (many doublings), and a roll at about a third of the records.
  const opts = { dir, segmentBytes: 4 << 20, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 }
  const log = await openEmbeddedLog(opts)
  await log.createTopic({ name: 'idx', partitions: 1 })
  const total = 12_000
  // Batches of 1 to 7 records, so that index entries fall on batch starts that are not every offset.
  for (let i = 0; i < total; ) {
    const n = Math.min(1 + (i % 7), total - i)
    await log.append(
      'idx',
      Array.from({ length: n }, (_, k) => ({ key: `k${i + k}`, value: VALUE })),
    )
    i += n
  }
  const check = async (l: typeof log) => {
    for (let off = 0; off < total; off += 37) {
      const [r] = await l.read('idx', 0, off, { maxRecords: 1 })
      assert.equal(r?.offset, off)
      assert.equal(r?.key?.toString(), `k${off}`)
    }
    const [last] = await l.read('idx', 0, total - 1, { maxRecords: 1 })
    assert.equal(last?.key?.toString(), `k${total - 1}`)
  }
  await check(log)
  await log.close()
  const again = await openEmbeddedLog(opts)
  t.after(() => again.close())
  await check(again)
})
