// The marks file: two slots written in turn, the newer valid one read; a damaged slot leaves the other; the
// writer coalesces background writes and never stalls on a flush that has nothing to do.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import fc from 'fast-check'
import { decodeMarks, MARKS_SIZE, MarksWriter, marksBytes, readMarks } from '../../src/internal/marks.ts'
import { tempDir } from '../helpers.ts'

it('reads back what it wrote, from the newer slot; a damaged slot leaves the other one', async (t) => {
  const file = path.join(tempDir(t), 'marks')
  const w = await MarksWriter.open(file, { start: 0, end: 0 }, { kind: 'missing' }, true, (err) =>
    assert.fail(String(err)),
  )
  for (let end = 1; end <= 50; end++) w.noteEnd(end)
  await w.flush(true)
  await w.setStart(7)
  await w.close()
  const read = await readMarks(file)
  assert.equal(read.kind, 'ok')
  assert.deepEqual(read.kind === 'ok' && read.values, { start: 7, end: 50 })
  const buf = fs.readFileSync(file)
  assert.equal(buf.length, MARKS_SIZE)
  // Damage each slot in turn: the other is read, with values never above the newer one's.
  for (const slot of [0, 32]) {
    const damaged = Buffer.from(buf)
    damaged[slot + 25] = damaged[slot + 25]! ^ 0x10
    const r = decodeMarks(damaged)
    assert.equal(r.kind, 'ok')
    if (r.kind === 'ok') {
      assert.equal(r.damagedSlot, true)
      assert.ok(r.values.end <= 50 && r.values.start <= 7)
    }
  }
  assert.equal(decodeMarks(Buffer.alloc(64)).kind, 'damaged')
  assert.equal(decodeMarks(buf.subarray(0, 10)).kind, 'damaged')
  assert.deepEqual(await readMarks(path.join(path.dirname(file), 'none')), { kind: 'missing' })
})

it('a flush with nothing to write, then more writes and a close, all finish', { timeout: 5000 }, async (t) => {
  const file = path.join(tempDir(t), 'marks')
  fs.writeFileSync(file, marksBytes({ start: 0, end: 3 }))
  const w = await MarksWriter.open(file, { start: 0, end: 3 }, await readMarks(file), true, (err) =>
    assert.fail(String(err)),
  )
  await w.flush(true) // nothing to do
  await w.flush(true)
  await w.setStart(0) // nothing either
  w.noteEnd(4)
  await w.setStart(2)
  await w.close()
  const r = await readMarks(file)
  assert.deepEqual(r.kind === 'ok' && r.values, { start: 2, end: 4 })
})

it('any bytes decode to values or a reason, never a throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const r = decodeMarks(Buffer.from(bytes))
      assert.ok(r.kind === 'ok' || r.kind === 'damaged')
    }),
  )
})

it('while appends flow the mark is written at most every 10 ms; once they pause, the last end is on file', async (t) => {
  const file = path.join(tempDir(t), 'marks')
  const w = await MarksWriter.open(file, { start: 0, end: 0 }, { kind: 'missing' }, true, (err) =>
    assert.fail(String(err)),
  )
  t.after(() => w.close())
  for (let end = 1; end <= 200; end++) {
    w.noteEnd(end)
    if (end % 20 === 0) await new Promise((r) => setTimeout(r, 1))
  }
  const deadline = Date.now() + 2000
  for (;;) {
    const r = await readMarks(file)
    if (r.kind === 'ok' && r.values.end === 200) break
    assert.ok(Date.now() < deadline, `the mark stayed at ${r.kind === 'ok' ? r.values.end : r.kind}`)
    await new Promise((r) => setTimeout(r, 5))
  }
})
