// Embedded event log: durable append and replay, each beside a raw `fs` anchor measured in the same run.
//
//   npx node bench/log-append.ts [--dir <path>] [--seconds <per case>] [--replay <records>] [--only <case>]
//
// Records: key = an asset UUID (36 B), value = an observation in the wire format (~200 B of JSON). Append
// cases await each append before the next (one producer), so a batch of N is one write + fdatasync; the
// anchor writes the same key and value bytes (no framing, no checksums) with one write + fdatasync per batch.
// Replay reads what the batch-1000 case wrote; its anchor reads the same segment files sequentially in 1 MiB
// chunks, and the decoded anchors run JSON.parse / decodeObservation / decodeObservationLazy over the same values
// held in memory.
// Ours and the anchor run in alternating slices, so that both see the same load on this shared machine. Cases with
// `wal: true` first append 72 MiB untimed, so that they are measured over a recycled WAL file (steady state).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedLog } from '@openfactory/log'
import { decodeObservation, decodeObservationLazy, encodeObservation, type Observation } from '@openfactory/model'

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    replay: { type: 'string', default: '1000000' },
    only: { type: 'string' },
  },
})
const SECONDS = Number(args.seconds)
const baseDir = args.dir ?? path.join(os.tmpdir(), `ofa-bench-log-${process.pid}`)
fs.rmSync(baseDir, { recursive: true, force: true })
fs.mkdirSync(baseDir, { recursive: true })
process.on('exit', () => fs.rmSync(baseDir, { recursive: true, force: true }))

// ---- data ---------------------------------------------------------------------------------------------------

const KEYS = Array.from({ length: 64 }, (_, i) => `${(0x8c1f0d5e + i).toString(16)}-3b7a-4a64-9d0e-2f6c7a9b1e42`)
function observation(i: number): string {
  const t = Date.UTC(2025, 4, 4, 12, 34, 56, 789) + i
  const o: Observation = {
    id: `Temp${i % 10}`,
    value: Math.round((200 + (i % 1000) / 7) * 100) / 100,
    tag: 'Temperature',
    type: 'Samples',
    attributes: {
      timestamp: new Date(t).toISOString(),
      ingestion_timestamp: new Date(t + 2).toISOString(),
      units: 'CELSIUS',
      subType: 'ACTUAL',
      quality: 'GOOD',
    },
  }
  return encodeObservation(o)
}
const VALUES = Array.from({ length: 4096 }, (_, i) => observation(i))
const avgValue = VALUES.reduce((n, v) => n + Buffer.byteLength(v), 0) / VALUES.length
const RECORD_BYTES = Math.round(avgValue + KEYS[0]!.length)

function records(n: number, from: number): { key: string; value: string }[] {
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const j = from + i
    out[i] = { key: KEYS[j & 63]!, value: VALUES[j & 4095]! }
  }
  return out
}

// ---- setup --------------------------------------------------------------------------------------------------

function disk(dir: string): string {
  try {
    const out = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n')[1]!.split(/\s+/)
    return `${out[0]} (${out[1]}), ${Math.round(Number(out[2]) / 1024 / 1024)} GiB`
  } catch {
    return 'unknown'
  }
}
const cpus = os.cpus()
console.log('# Embedded log: durable append and replay')
console.log(`date: ${new Date().toISOString()}`)
console.log(
  `node: ${process.version}; cpus: ${cpus.length} × ${cpus[0]?.model ?? '?'}; memory: ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
)
console.log(`disk: ${disk(baseDir)}; dir: ${baseDir}`)
console.log(
  `record: key ${KEYS[0]!.length} B (asset UUID) + value ${avgValue.toFixed(0)} B (observation JSON) = ${RECORD_BYTES} B`,
)
console.log(
  `each case: 6 alternating slices of ours and the anchor, ${SECONDS} s of each; fsync policy: write + fdatasync per batch (ours: per group-commit flush)\n`,
)

const rows: string[][] = []
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
function row(name: string, ours: number, anchor: number, note = ''): void {
  rows.push([name, fmt(ours), fmt(anchor), `${((ours / anchor) * 100).toFixed(0)}%`, note])
  console.log(
    `${name.padEnd(44)} ${fmt(ours).padStart(12)} rec/s   anchor ${fmt(anchor).padStart(12)} rec/s   ${((ours / anchor) * 100).toFixed(0)}%  ${note}`,
  )
}

// ---- measuring ---------------------------------------------------------------------------------------------

/** Runs `step` (which returns how many records it handled) in `concurrency` loops for `ms`. */
async function runFor(
  ms: number,
  step: () => Promise<number>,
  concurrency = 1,
): Promise<{ records: number; ms: number }> {
  let records = 0
  const t0 = performance.now()
  const deadline = t0 + ms
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const n = await step() // (not `records += await step()`: that reads `records` before the await)
        records += n
      }
    }),
  )
  return { records, ms: performance.now() - t0 }
}

/**
 * Measures ours and the anchor in alternating slices (ROUNDS of each), so that both see the same machine: it is
 * shared, and its load drifts within seconds.
 */
const ROUNDS = 6
async function alternate(
  ours: () => Promise<{ records: number; ms: number }>,
  anchor: () => Promise<{ records: number; ms: number }>,
): Promise<{ ours: number; anchor: number }> {
  const o = { records: 0, ms: 0 }
  const a = { records: 0, ms: 0 }
  for (let r = 0; r < ROUNDS; r++) {
    const x = await anchor()
    a.records += x.records
    a.ms += x.ms
    const y = await ours()
    o.records += y.records
    o.ms += y.ms
  }
  return { ours: o.records / (o.ms / 1000), anchor: a.records / (a.ms / 1000) }
}

// ---- anchors ------------------------------------------------------------------------------------------------

function payload(batch: number): Buffer {
  return Buffer.concat(records(batch, 0).map((r) => Buffer.from(r.key + r.value)))
}

/** Raw appends: one write + fdatasync per batch of the same key and value bytes, to a file of its own. */
function rawAppender(batch: number): { step: () => Promise<number>; close: () => void } {
  const file = path.join(baseDir, `raw-${batch}.bin`)
  const fd = fs.openSync(file, 'w')
  const buf = payload(batch)
  let pos = 0
  return {
    step: () =>
      new Promise<number>((resolve, reject) => {
        const at = pos
        pos += buf.length
        fs.write(fd, buf, 0, buf.length, at, (err) =>
          err ? reject(err) : fs.fdatasync(fd, (e) => (e ? reject(e) : resolve(batch))),
        )
      }),
    close: () => {
      fs.closeSync(fd)
      fs.rmSync(file)
    },
  }
}

// ---- ours ---------------------------------------------------------------------------------------------------

/** Written to a WAL case's log before it is timed: past the default `walBytes` (64 MiB), so the WAL is recycled. */
const WAL_WARMUP = 72 << 20

async function appendCase(
  name: string,
  partitions: number,
  batch: number,
  producers = 1,
  note = '',
  wal = false,
): Promise<void> {
  if (args.only && !name.includes(args.only)) return
  const log = await openEmbeddedLog({
    dir: path.join(baseDir, 'log'),
    wal,
    compactionIntervalMs: 0,
    retentionCheckIntervalMs: 0,
  })
  const topic = `b${batch}-p${partitions}-c${producers}${wal ? '-wal' : ''}`
  await log.createTopic({ name: topic, partitions })
  const pool = Array.from({ length: 64 }, (_, i) => records(batch, i * batch))
  if (wal) {
    // Steady state: past the first checkpoint, appends go over a recycled WAL file (the first file after an open
    // grows, as a log running for days does once). WAL_WARMUP bytes in batches of 1000 before the timer starts.
    const warm = records(1000, 0)
    for (let bytes = 0; bytes < WAL_WARMUP; bytes += 1000 * RECORD_BYTES) await log.append(topic, warm)
  }
  let i = 0
  const raw = rawAppender(batch)
  const slice = (SECONDS * 1000) / ROUNDS
  const r = await alternate(
    () =>
      runFor(
        slice,
        async () => {
          await log.append(topic, pool[i++ & 63]!)
          return batch
        },
        producers,
      ),
    () => runFor(slice, raw.step),
  )
  raw.close()
  await log.close()
  row(name, r.ours, r.anchor, note)
}

type Decode = 'none' | 'json' | 'observation' | 'lazy' | 'lazy-attributes'

async function replay(topic: string, decode: Decode): Promise<{ records: number; ms: number }> {
  const log = await openEmbeddedLog({ dir: path.join(baseDir, 'log'), readOnly: true })
  const end = (await log.describeTopic(topic)).partitionStates[0]!.endOffset
  const limit = Math.min(end, Number(args.replay))
  let offset = 0
  let sum = 0
  const t0 = performance.now()
  while (offset < limit) {
    const recs = await log.read(topic, 0, offset)
    if (decode === 'observation') for (const r of recs) sum += decodeObservation(r.value!).id.length
    else if (decode === 'lazy') for (const r of recs) sum += decodeObservationLazy(r.value!).id.length
    else if (decode === 'lazy-attributes')
      for (const r of recs) sum += decodeObservationLazy(r.value!).attributes.timestamp.length
    else if (decode === 'json') for (const r of recs) sum += JSON.parse(r.value!.toString()).ID.length
    else for (const r of recs) sum += r.value!.length
    offset = recs[recs.length - 1]!.offset + 1
  }
  const ms = performance.now() - t0
  await log.close()
  if (sum === 0) throw new Error('nothing read')
  return { records: offset, ms }
}

/** Writes `--replay` records in batches of 1000 to a one-partition topic (when `--only replay` skipped the appends). */
async function fillReplayTopic(topic: string): Promise<void> {
  const log = await openEmbeddedLog({ dir: path.join(baseDir, 'log') })
  await log.createTopic({ name: topic, partitions: 1 })
  for (let from = 0; from < Number(args.replay); from += 1000) await log.append(topic, records(1000, from))
  await log.close()
}

/** Reads the segment files of the partition sequentially in 1 MiB chunks: records/s at their bytes per record. */
function rawReplay(topic: string, records: number): { records: number; ms: number } {
  const dir = path.join(baseDir, 'log', 'topics', topic, '0')
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
  const total = files.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0)
  const want = Math.min(total, (total / (records || 1)) * Number(args.replay))
  const t0 = performance.now()
  let bytes = 0
  for (const f of files) {
    const fd = fs.openSync(path.join(dir, f), 'r')
    while (bytes < want) {
      const buf = Buffer.allocUnsafe(1 << 20)
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      bytes += n
    }
    fs.closeSync(fd)
  }
  return { records: (bytes / total) * records, ms: performance.now() - t0 }
}

function decodeAnchor(count: number, decode: Decode): { records: number; ms: number } {
  const bufs = VALUES.map((v) => Buffer.from(v))
  let sum = 0
  const t0 = performance.now()
  if (decode === 'observation') for (let i = 0; i < count; i++) sum += decodeObservation(bufs[i & 4095]!).id.length
  else if (decode === 'lazy') for (let i = 0; i < count; i++) sum += decodeObservationLazy(bufs[i & 4095]!).id.length
  else if (decode === 'lazy-attributes')
    for (let i = 0; i < count; i++) sum += decodeObservationLazy(bufs[i & 4095]!).attributes.timestamp.length
  else for (let i = 0; i < count; i++) sum += JSON.parse(bufs[i & 4095]!.toString()).ID.length
  if (sum === 0) throw new Error('nothing decoded')
  return { records: count, ms: performance.now() - t0 }
}

// ---- run ----------------------------------------------------------------------------------------------------

for (const batch of [1, 100, 1000]) await appendCase(`durable append, batch ${batch}, 1 partition`, 1, batch)
await appendCase('durable append, batch 1000, 4 producers', 1, 1000, 4, 'encoding overlaps the fdatasync in flight')
for (const batch of [1, 1000]) {
  await appendCase(
    `durable append, batch ${batch}, 1 partition, WAL`,
    1,
    batch,
    1,
    'wal: true: the WAL write + fdatasync, the segment written behind it',
    true,
  )
}
for (const wal of [false, true]) {
  await appendCase(
    `durable append, batch 1000, 6 partitions${wal ? ', WAL' : ''}`,
    6,
    1000,
    1,
    wal
      ? 'wal: true: one write + fdatasync of the WAL per append for the 6 partitions'
      : 'keys spread by murmur2: 6 files, 6 fdatasyncs per append',
    wal,
  )
}
for (const wal of [false, true]) {
  await appendCase(
    `durable append, batch 100, 6 partitions${wal ? ', WAL' : ''}`,
    6,
    100,
    1,
    wal ? 'wal: true' : '6 fdatasyncs per append',
    wal,
  )
}
await appendCase(
  'durable append, batch 1, 64 producers',
  1,
  1,
  64,
  'group commit: concurrent appends share a write + fdatasync',
)
if (!args.only || 'replay'.includes(args.only)) {
  const topic = 'b1000-p1-c1'
  if (args.only) await fillReplayTopic(topic) // the batch-1000 case did not run: write what it would have
  const total = (await replay(topic, 'none')).records // warms the page cache and the JIT
  const raw = await alternate(
    () => replay(topic, 'none'),
    async () => rawReplay(topic, total),
  )
  row(
    'replay, raw records',
    raw.ours,
    raw.anchor,
    `${fmt(total)} records, page cache warm; anchor: read(2) of the files`,
  )
  const json = await alternate(
    () => replay(topic, 'json'),
    async () => decodeAnchor(total, 'json'),
  )
  row('replay, values JSON.parse-d', json.ours, json.anchor, 'anchor: JSON.parse alone, values in memory')
  const dec = await alternate(
    () => replay(topic, 'observation'),
    async () => decodeAnchor(total, 'observation'),
  )
  row('replay, decoded into observations', dec.ours, dec.anchor, 'anchor: decodeObservation alone, values in memory')
  // Issue 18: decodeObservationLazy (same result and errors; attributes parsed when first read).
  const lazy = await alternate(
    () => replay(topic, 'lazy'),
    async () => decodeAnchor(total, 'lazy'),
  )
  row('replay, decoded lazily, id read', lazy.ours, lazy.anchor, 'anchor: decodeObservationLazy alone, in memory')
  const lazyAttrs = await alternate(
    () => replay(topic, 'lazy-attributes'),
    async () => decodeAnchor(total, 'lazy-attributes'),
  )
  row(
    'replay, decoded lazily, timestamp read',
    lazyAttrs.ours,
    lazyAttrs.anchor,
    'attributes parsed: every field decoded; anchor: the same in memory',
  )
}

console.log('\n| case | ours (records/s) | anchor (records/s) | ours/anchor | note |')
console.log('|---|---:|---:|---:|---|')
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
fs.rmSync(baseDir, { recursive: true, force: true })
