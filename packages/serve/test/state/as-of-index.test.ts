// The as-of index against a brute-force model: for random logs (record times mostly in order, with late
// backlogs), every window it gives bounds the records at or before T, and the dependencies its checkpoints give
// are exactly each key's records before the window's start — with checkpoints dense, thinned by count, thinned
// by bytes to one per partition.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AsOfIndex, type AsOfIndexOptions } from '../../src/index.ts'

function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return s / 2 ** 31
  }
}

interface Rec {
  readonly offset: number
  readonly time: number
  readonly key: number
  readonly conditions?: readonly number[]
}

/** A partition of `n` records over `keys` keys; every 400th record starts a backlog of 150 older times. */
function partitionLog(r: () => number, n: number, keys: number[]): Rec[] {
  const out: Rec[] = []
  const active = new Map<number, number[]>()
  let t = 1_000_000
  let backlog = 0
  for (let offset = 0; offset < n; offset++) {
    if (offset % 400 === 399) backlog = 150
    t += Math.floor(r() * 5)
    const time = backlog-- > 0 ? t - 200_000 + Math.floor(r() * 1000) : t
    const key = keys[Math.floor(r() * keys.length)] as number
    // Some keys are conditions: a random subset of earlier records stays active.
    let conditions: number[] | undefined
    if (key % 4 === 0) {
      const before = active.get(key) ?? []
      conditions = [...before.filter(() => r() < 0.7), offset]
      active.set(key, conditions)
    }
    out.push({ offset, time, key, ...(conditions ? { conditions } : {}) })
  }
  return out
}

/** What a key's entry depends on after the records before `end`: its last record and its active conditions. */
function depsBefore(log: readonly Rec[], end: number): Map<number, number[]> {
  const out = new Map<number, number[]>()
  for (const rec of log) {
    if (rec.offset >= end) break
    const earlier = (rec.conditions ?? []).filter((o) => o < rec.offset)
    out.set(rec.key, [...[...earlier].sort((a, b) => a - b), rec.offset])
  }
  return out
}

const CONFIGS: AsOfIndexOptions[] = [
  { checkpointRecords: 50 },
  { checkpointRecords: 10, maxCheckpoints: 6 },
  { checkpointRecords: 10, maxBytes: 1 },
  { checkpointRecords: 7, maxBytes: 4000 },
]

for (const opts of CONFIGS) {
  test(`windows and dependencies match the brute force: ${JSON.stringify(opts)}`, () => {
    const r = rng(42)
    const index = new AsOfIndex(opts)
    const logs = new Map<number, Rec[]>()
    const keyIds = new Map<string, number>()
    for (const p of [0, 3]) {
      const keys = Array.from({ length: 40 }, (_, i) => {
        const name = `${p}|${i}`
        let k = keyIds.get(name)
        if (k === undefined) {
          k = index.newKey()
          keyIds.set(name, k)
        }
        return k
      })
      // Make key numbers of conditions recognisable: multiples of 4 within this partition's list.
      logs.set(p, partitionLog(r, 3000, keys))
    }
    // Interleave the partitions as a state reading both would.
    const p0 = logs.get(0) as Rec[]
    const p3 = logs.get(3) as Rec[]
    for (let i = 0; i < 3000; i++) {
      for (const [p, rec] of [
        [0, p0[i]],
        [3, p3[i]],
      ] as const) {
        if (!rec) continue
        index.record(p, rec.offset, rec.time)
        index.applied(p, rec.key, rec.offset, rec.conditions)
      }
    }
    const stats = index.stats()
    if (opts.maxCheckpoints) assert.ok(stats.checkpoints <= 2 * opts.maxCheckpoints, JSON.stringify(stats))
    if (opts.maxBytes === 1) assert.equal(stats.checkpoints, 2)
    if (opts.maxBytes && opts.maxBytes > 1)
      assert.ok(stats.checkpointBytes <= opts.maxBytes + 2 * 1000, JSON.stringify(stats))
    for (const [p, log] of logs) {
      const times = log.map((x) => x.time)
      const samples = [0, 999_999, ...Array.from({ length: 60 }, () => times[Math.floor(r() * times.length)] as number)]
      samples.push(Math.max(...times), Math.max(...times) + 1)
      for (const at of samples) {
        const w = index.window(p, at)
        assert.ok(w)
        for (const rec of log) {
          if (rec.offset < w.from) assert.ok(rec.time <= at, `record ${rec.offset} before the window is after T`)
          if (rec.offset >= w.to) assert.ok(rec.time > at, `record ${rec.offset} after the window is at or before T`)
        }
        const start = w.chain.at(-1)?.offset ?? 0
        assert.equal(w.from, start)
        const keys = [...new Set(log.map((x) => x.key))]
        assert.deepEqual(AsOfIndex.dependencies(w.chain, keys), depsBefore(log, start), `p${p} at ${at}`)
      }
    }
  })
}

test('options are checked', () => {
  for (const bad of [{ checkpointRecords: 0 }, { maxBytes: -1 }, { maxCheckpoints: 1.5 }]) {
    assert.throws(
      () => new AsOfIndex(bad),
      (err: Error & { code?: string }) => err.code === 'OFA_CONFIG_VALUE',
    )
  }
})
