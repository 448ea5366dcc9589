// The fault suite's property: truncation, bit flips, deletion, garbage — in every kind of file of a data
// directory (format marker, lock, owner.json, topic.json, marks, segments, a compaction marker, group offsets)
// — never lose an acknowledged record silently. After any one such fault:
//   - opening works, or refuses with a coded error naming a file;
//   - every acknowledged record reads back with its value, or its partition (or topic) answers a coded error;
//   - after `repairLog`, the log opens and verifies, every acknowledged record reads back or is named lost in
//     the repair's report, and offsets are never given out twice (a partition made again empty excepted).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ERROR_CODES, isOpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import { type EmbeddedLog, openEmbeddedLog, type RepairReport, repairLog, verifyLog } from '../../src/index.ts'
import { segmentFiles } from './fault-helpers.ts'

const RUNS = Number(process.env.OFA_FUZZ_RUNS ?? 60)
let base = ''
/** Every file of the base directory, relative to it. */
let files: string[] = []
/** What the base log holds: `topic/partition` → offset → value. */
const ledger = new Map<string, Map<number, string>>()

const quiet = { compactionIntervalMs: 0, retentionCheckIntervalMs: 0, onWarning: () => {} }

before(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-log-faults-base-'))
  const log = await openEmbeddedLog({ dir: base, ...quiet })
  await log.createTopic({ name: 'a', partitions: 2, segmentBytes: 1200 })
  await log.createTopic({ name: 'c', partitions: 1, cleanupPolicy: 'compact', segmentBytes: 1200 })
  for (let i = 0; i < 24; i++) {
    await log.append(
      'a',
      Array.from({ length: 1 + (i % 3) }, (_, j) => ({ key: `k${(i + j) % 7}`, value: `a ${i}.${j}`.padEnd(40, '~') })),
    )
    await log.append('c', [{ key: `c${i % 4}`, value: i % 9 === 8 ? null : `c ${i}`.padEnd(50, '=') }])
  }
  await log.compact('c') // batches without records where every record was superseded
  const c = log.consumer({ group: 'g', topics: ['a'] })
  await c.commit([
    { topic: 'a', partition: 0, offset: 4 },
    { topic: 'a', partition: 1, offset: 2 },
  ])
  await c.close()
  for (const topic of ['a', 'c']) {
    for (const p of topic === 'a' ? [0, 1] : [0]) ledger.set(`${topic}/${p}`, await readPartition(log, topic, p))
  }
  await log.close()
  // A compaction marker left by a compaction that stopped after its last rename (the next open removes it).
  const [first] = segmentFiles(base, 'c', 0) as [string]
  fs.writeFileSync(`${first}.swap`, `${JSON.stringify({ replaces: [0] })}\n`)
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]))
  files = walk(base)
    .map((f) => path.relative(base, f))
    .sort()
  for (const kind of [
    'openfactory-log.json',
    'lock',
    'owner.json',
    'topic.json',
    'marks',
    '.log',
    '.swap',
    'groups/',
  ]) {
    assert.ok(
      files.some((f) => f.includes(kind)),
      `the base directory has a ${kind} file`,
    )
  }
})

after(() => fs.rmSync(base, { recursive: true, force: true }))

async function readPartition(log: EmbeddedLog, topic: string, p: number): Promise<Map<number, string>> {
  const out = new Map<number, string>()
  const d = await log.describeTopic(topic)
  let offset = d.partitionStates[p]!.startOffset
  for (;;) {
    const recs = await log.read(topic, p, offset, { maxRecords: 9 })
    if (recs.length === 0) return out
    for (const r of recs) out.set(r.offset, r.value === null ? '<null>' : r.value.toString())
    offset = recs[recs.length - 1]!.offset + 1
  }
}

type Fault =
  | { kind: 'truncate'; file: number; at: number }
  | { kind: 'flip'; file: number; at: number[] }
  | { kind: 'delete'; file: number }
  | { kind: 'garbage'; file: number; bytes: Uint8Array }
  | { kind: 'append'; file: number; bytes: Uint8Array }

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    file: fc.nat(),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), file: fc.nat() }),
  fc.record({ kind: fc.constant('garbage' as const), file: fc.nat(), bytes: fc.uint8Array({ maxLength: 120 }) }),
  fc.record({
    kind: fc.constant('append' as const),
    file: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 120 }),
  }),
)

function apply(dir: string, f: Fault): string {
  const rel = files[f.file % files.length]!
  const file = path.join(dir, rel)
  const data = fs.readFileSync(file)
  switch (f.kind) {
    case 'truncate':
      fs.truncateSync(file, data.length === 0 ? 0 : f.at % data.length)
      break
    case 'flip':
      for (const at of f.at) if (data.length > 0) data[at % data.length] = data[at % data.length]! ^ (1 << (at % 8))
      fs.writeFileSync(file, data)
      break
    case 'delete':
      fs.rmSync(file)
      break
    case 'garbage':
      fs.writeFileSync(file, f.bytes)
      break
    case 'append':
      fs.appendFileSync(file, f.bytes)
      break
  }
  return rel
}

function coded(err: unknown): boolean {
  return isOpenFactoryError(err) && (ERROR_CODES as readonly string[]).includes(err.code)
}

/**
 * Every acknowledged record reads back with its value, or its partition answers a coded error; an offset that
 * reads back holding another value is corruption, a missing one is silent loss. `lost` excuses what a repair
 * named lost.
 */
async function checkLedger(
  log: EmbeddedLog,
  what: string,
  lost: (key: string, offset: number) => boolean,
): Promise<void> {
  for (const [key, records] of ledger) {
    const [topic, p] = key.split('/') as [string, string]
    let got: Map<number, string>
    try {
      got = await readPartition(log, topic, Number(p))
    } catch (err) {
      assert.ok(coded(err), `${what}: reading ${key} threw ${String(err)}`)
      continue
    }
    for (const [offset, value] of records) {
      const v = got.get(offset)
      if (v === undefined && lost(key, offset)) continue
      assert.equal(
        v,
        value,
        `${what}: acknowledged record ${key}@${offset} ${v === undefined ? 'is missing' : 'changed'}`,
      )
    }
  }
}

/** Whether the repair named `offset` of `key` lost (a partition made again empty loses everything). */
function namedLost(report: RepairReport, dir: string, key: string, offset: number): boolean {
  const [topic, p] = key.split('/') as [string, string]
  const pdir = path.join(dir, 'topics', topic, p)
  return report.actions.some(
    (a) =>
      (a.file === pdir || a.file.startsWith(`${pdir}${path.sep}`)) &&
      (a.action === 'recreated' ||
        a.lost.some(
          (l) => l.fromOffset !== null && l.toOffset !== null && offset >= l.fromOffset && offset <= l.toOffset,
        )),
  )
}

describe('faults: any one fault in any file of the data directory', () => {
  it('never loses an acknowledged record silently, before or after repair', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fault, async (f) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-log-faults-'))
        let step = 'copying the base directory'
        let timer: NodeJS.Timeout | undefined
        try {
          fs.cpSync(base, dir, { recursive: true })
          const rel = apply(dir, f)
          const what = `${f.kind} ${rel}`
          // A hang is a failure too: no answer within 20 s names the step.
          const hung = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what}: no answer within 20 s while ${step} (a hang)`)), 20_000)
          })
          await Promise.race([hung, run()])
          async function run(): Promise<void> {
            step = 'verifying'
            // verify: a report, or a coded error.
            await verifyLog(dir).catch((err) => assert.ok(coded(err), `${what}: verify threw ${String(err)}`))
            // the writer: serves what is intact, coded errors for the rest.
            step = 'opening the writer'
            let opened: EmbeddedLog | null = null
            try {
              opened = await openEmbeddedLog({ dir, ...quiet })
            } catch (err) {
              assert.ok(coded(err), `${what}: opening threw ${String(err)}`)
              assert.ok(isOpenFactoryError(err) && err.where?.file, `${what}: the error names a file`)
            }
            if (opened) {
              try {
                await checkLedger(opened, what, () => false)
              } finally {
                await opened.close()
              }
            }
            // repair, then everything acknowledged is there or named lost, and offsets go on.
            step = 'repairing'
            const report = await repairLog(dir)
            assert.deepEqual(
              report.unrepaired.map((e) => e.format()),
              [],
              `${what}: repair left problems`,
            )
            const after = await verifyLog(dir)
            assert.deepEqual(
              after.problems.map((e) => e.format()),
              [],
              `${what}: verify after repair`,
            )
            step = 'reading the repaired log'
            const log = await openEmbeddedLog({ dir, ...quiet })
            try {
              await checkLedger(log, `${what}, repaired`, (key, offset) => namedLost(report, dir, key, offset))
              for (const [key, records] of ledger) {
                const [topic, p] = key.split('/') as [string, string]
                const [m] = await log.append(topic, [{ key: 'next', value: 'after the fault', partition: Number(p) }])
                const recreated = report.actions.some(
                  (a) => a.action === 'recreated' && a.topic === topic && a.partition === Number(p),
                )
                if (!recreated)
                  assert.ok(
                    m!.offset > Math.max(-1, ...records.keys()),
                    `${what}: ${key} gave out offset ${m!.offset} again`,
                  )
              }
            } finally {
              await log.close()
            }
          }
        } finally {
          clearTimeout(timer)
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }),
      { numRuns: RUNS },
    )
  })
})
