// Property tests: damaged data directories never crash or hang the log. Whatever bytes a segment (or topic
// file) holds, opening, reading, verifying and repairing either work or throw an OpenFactoryError with a code.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ERROR_CODES, isOpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import { type EventLog, openEmbeddedLog, repairLog, verifyLog } from '../src/index.ts'
import { finishBatch, HEADER_SIZE } from '../src/internal/batch-format.ts'

const RUNS = Number(process.env.OFA_FUZZ_RUNS ?? 60)
let base = ''
let segments: string[] = []

before(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-log-fuzz-base-'))
  const log = await openEmbeddedLog({ dir: base, fsync: false, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
  await log.createTopic({ name: 'f', partitions: 2, segmentBytes: 1500 })
  for (let i = 0; i < 25; i++) {
    await log.append(
      'f',
      Array.from({ length: 1 + (i % 4) }, (_, j) => ({
        key: j === 3 ? null : `k${(i + j) % 5}`,
        value: i % 7 === 6 ? null : `value ${i}.${j} ✓`.padEnd(30 + ((i * 13) % 50), '~'),
        headers: j === 1 ? { h: `x${i}` } : undefined,
      })),
    )
  }
  const c = log.consumer({ group: 'g', topics: ['f'] })
  await c.commit([{ topic: 'f', partition: 0, offset: 3 }])
  await log.close()
  segments = ['0', '1'].flatMap((p) =>
    fs
      .readdirSync(path.join(base, 'topics', 'f', p))
      .sort()
      .map((f) => path.join('topics', 'f', p, f)),
  )
  assert.ok(segments.length >= 3)
})

after(() => fs.rmSync(base, { recursive: true, force: true }))

type Mutation =
  | { kind: 'overwrite'; file: number; at: number; bytes: Uint8Array }
  | { kind: 'append'; file: number; bytes: Uint8Array }
  | { kind: 'truncate'; file: number; at: number }
  | { kind: 'flip'; file: number; at: number[] }
  | { kind: 'forged'; file: number; at: number; body: Uint8Array; baseOffset: number; count: number }
  | { kind: 'topic-file'; bytes: Uint8Array }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('overwrite' as const),
    file: fc.nat(),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('append' as const),
    file: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    file: fc.nat(),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  }),
  // A batch whose checksums are right but whose records are garbage: the decoder must not trust them.
  fc.record({
    kind: fc.constant('forged' as const),
    file: fc.nat(),
    at: fc.nat(),
    body: fc.uint8Array({ maxLength: 200 }),
    baseOffset: fc.nat({ max: 200 }),
    count: fc.nat({ max: 8 }),
  }),
  fc.record({ kind: fc.constant('topic-file' as const), bytes: fc.uint8Array({ maxLength: 100 }) }),
)

function apply(dir: string, m: Mutation): void {
  if (m.kind === 'topic-file') {
    fs.writeFileSync(path.join(dir, 'topics', 'f', 'topic.json'), m.bytes)
    return
  }
  const file = path.join(dir, segments[m.file % segments.length]!)
  const data = fs.readFileSync(file)
  const size = data.length
  switch (m.kind) {
    case 'overwrite': {
      const at = size === 0 ? 0 : m.at % size
      fs.writeFileSync(
        file,
        Buffer.concat([data.subarray(0, at), m.bytes, data.subarray(Math.min(size, at + m.bytes.length))]),
      )
      break
    }
    case 'append':
      fs.appendFileSync(file, m.bytes)
      break
    case 'truncate':
      fs.truncateSync(file, size === 0 ? 0 : m.at % size)
      break
    case 'flip':
      for (const at of m.at) if (size > 0) data[at % size] = data[at % size]! ^ (1 << (at % 8))
      fs.writeFileSync(file, data)
      break
    case 'forged': {
      const buf = Buffer.alloc(HEADER_SIZE + m.body.length)
      buf.set(m.body, HEADER_SIZE)
      const batch = finishBatch(buf, buf.length, m.baseOffset, m.count + 3, m.count, 1_700_000_000_000, 0)
      const at = size === 0 ? 0 : m.at % (size + 1)
      fs.writeFileSync(file, Buffer.concat([data.subarray(0, at), batch]))
      break
    }
  }
}

/** Runs `fn`; an OpenFactoryError with a known code is a fine outcome, anything else fails the property. */
async function survives(what: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn()
    return true
  } catch (err) {
    if (process.env.OFA_FUZZ_STATS) console.error(`STAT ${what}: ${isOpenFactoryError(err) ? err.code : 'other'}`)
    if (!isOpenFactoryError(err) || !(ERROR_CODES as readonly string[]).includes(err.code)) {
      throw new Error(`${what} threw something else than a coded error: ${(err as Error)?.stack ?? String(err)}`)
    }
    return false
  }
}

async function readEverything(log: EventLog): Promise<number> {
  let n = 0
  for (const topic of await log.listTopics()) {
    const d = await log.describeTopic(topic)
    for (const p of d.partitionStates) {
      let offset = p.startOffset
      for (;;) {
        const recs = await log.read(topic, p.partition, offset, { maxRecords: 7 })
        if (recs.length === 0) break
        n += recs.length
        offset = recs[recs.length - 1]!.offset + 1
      }
    }
  }
  return n
}

async function withLog(
  opts: { dir: string; readOnly?: boolean },
  fn: (log: EventLog) => Promise<unknown>,
): Promise<void> {
  const log = await openEmbeddedLog({ ...opts, fsync: false, compactionIntervalMs: 0, retentionCheckIntervalMs: 0 })
  try {
    await fn(log)
  } finally {
    await log.close()
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms (a hang)`)), ms)
  })
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer))
}

describe('embedded log: damaged data never crashes or hangs it', () => {
  it('random damage to a segment or topic file gives coded errors, and repair makes it readable', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-log-fuzz-'))
        try {
          fs.cpSync(base, dir, { recursive: true })
          apply(dir, m)
          await withDeadline(
            (async () => {
              await survives('verifyLog', () => verifyLog(dir))
              await survives('a read-only reader', () => withLog({ dir, readOnly: true }, readEverything))
              await survives('the writer', () =>
                withLog({ dir }, async (log) => {
                  await readEverything(log)
                  await log.append('f', [{ key: 'k1', value: 'more' }])
                }),
              )
              await survives('repairLog', () => repairLog(dir))
              if (m.kind !== 'topic-file') {
                // After a repair, every partition opens, reads to its end and takes appends.
                await withLog({ dir }, async (log) => {
                  await readEverything(log)
                  await log.append('f', [
                    { key: 'after', value: 'repair', partition: 0 },
                    { key: 'after', value: 'repair', partition: 1 },
                  ])
                })
                await withLog({ dir }, readEverything)
                const report = await verifyLog(dir)
                assert.deepEqual(report.problems, [], 'verify finds nothing after repair')
              }
            })(),
            20_000,
          )
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('random bytes as a whole segment file give coded errors', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.uint8Array({ maxLength: 4000 }), async (which, bytes) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-log-fuzz-'))
        try {
          fs.cpSync(base, dir, { recursive: true })
          fs.writeFileSync(path.join(dir, segments[which % segments.length]!), bytes)
          await withDeadline(
            (async () => {
              await survives('verifyLog', () => verifyLog(dir))
              await survives('the writer', () => withLog({ dir }, readEverything))
            })(),
            20_000,
          )
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }),
      { numRuns: RUNS / 2 },
    )
  })
})
