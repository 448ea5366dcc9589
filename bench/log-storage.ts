// Storage choice for the embedded log: own segment files against SQLite (node:sqlite), same records, same
// durability (every batch on disk before the next), measured in one run.
//
//   npx node bench/log-storage.ts [--dir <path>] [--seconds <per case>]
//
// Segment files: one write + fdatasync per batch, then a sequential read in 1 MiB chunks.
// SQLite: WAL, synchronous=FULL, one transaction of N inserts per batch (prepared statement), then a range scan
// by offset. Also measured: what one durable SQLite commit costs — node:sqlite is synchronous, so that time
// blocks the event loop (why committed offsets are files written on the thread pool instead).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({ options: { dir: { type: 'string' }, seconds: { type: 'string', default: '3' } } })
const SECONDS = Number(args.seconds)
const dir = args.dir ?? path.join(os.tmpdir(), `ofa-bench-storage-${process.pid}`)
fs.rmSync(dir, { recursive: true, force: true })
fs.mkdirSync(dir, { recursive: true })
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))

const KEY = Buffer.from('8c1f0d5e-3b7a-4a64-9d0e-2f6c7a9b1e42')
const VALUE = Buffer.from(
  '{"ID":"Temp1","VALUE":228.57,"TAG":"Temperature","TYPE":"Samples","attributes":{"timestamp":"2025-05-04T12:34:56.790Z","ingestion_timestamp":"2025-05-04T12:34:56.792Z","units":"CELSIUS","subType":"ACTUAL","quality":"GOOD"}}',
)
const RECORD = Buffer.concat([KEY, VALUE])
console.log('# Embedded log storage choice: segment files vs SQLite')
console.log(`date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} cpus; dir ${dir}`)
console.log(`record: ${RECORD.length} B (key ${KEY.length} B + observation JSON ${VALUE.length} B)\n`)

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const rows: string[][] = []
function row(name: string, rate: number, note = ''): void {
  rows.push([name, fmt(rate), note])
  console.log(`${name.padEnd(52)} ${fmt(rate).padStart(12)} records/s  ${note}`)
}

async function segmentAppend(batch: number): Promise<{ rate: number; file: string; records: number }> {
  const file = path.join(dir, `segment-${batch}.log`)
  const fd = fs.openSync(file, 'w')
  const buf = Buffer.concat(Array.from({ length: batch }, () => RECORD))
  let pos = 0
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < SECONDS * 1000) {
    await new Promise<void>((resolve, reject) =>
      fs.write(fd, buf, 0, buf.length, pos, (err) =>
        err ? reject(err) : fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())),
      ),
    )
    pos += buf.length
    n += batch
  }
  fs.closeSync(fd)
  return { rate: n / ((performance.now() - t0) / 1000), file, records: n }
}

function segmentRead(file: string, records: number): number {
  const fd = fs.openSync(file, 'r')
  const t0 = performance.now()
  for (;;) {
    const buf = Buffer.allocUnsafe(1 << 20)
    if (fs.readSync(fd, buf, 0, buf.length, null) === 0) break
  }
  fs.closeSync(fd)
  return records / ((performance.now() - t0) / 1000)
}

function sqliteAppend(batch: number): { rate: number; db: DatabaseSync; records: number } {
  const db = new DatabaseSync(path.join(dir, `sqlite-${batch}.db`))
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;')
  db.exec('CREATE TABLE log (offset INTEGER PRIMARY KEY, ts REAL, key BLOB, value BLOB)')
  const insert = db.prepare('INSERT INTO log (offset, ts, key, value) VALUES (?, ?, ?, ?)')
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < SECONDS * 1000) {
    db.exec('BEGIN')
    for (let i = 0; i < batch; i++) insert.run(n + i, 1.7e12, KEY, VALUE)
    db.exec('COMMIT')
    n += batch
  }
  return { rate: n / ((performance.now() - t0) / 1000), db, records: n }
}

function sqliteRead(db: DatabaseSync, records: number): number {
  const select = db.prepare('SELECT offset, ts, key, value FROM log WHERE offset >= ? ORDER BY offset LIMIT 10000')
  let offset = 0
  const t0 = performance.now()
  while (offset < records) {
    const rows = select.all(offset) as { offset: number }[]
    if (rows.length === 0) break
    offset = rows[rows.length - 1]!.offset + 1
  }
  return offset / ((performance.now() - t0) / 1000)
}

function sqliteCommitCost(): number {
  const db = new DatabaseSync(path.join(dir, 'offsets.db'))
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;')
  db.exec(
    'CREATE TABLE offsets (grp TEXT, topic TEXT, partition INTEGER, offset INTEGER, PRIMARY KEY (grp, topic, partition))',
  )
  const up = db.prepare('INSERT OR REPLACE INTO offsets VALUES (?, ?, ?, ?)')
  const n = 300
  const t0 = performance.now()
  for (let i = 0; i < n; i++) up.run('g', 'ofa_assets', i % 6, i)
  const ms = (performance.now() - t0) / n
  db.close()
  return ms
}

for (const batch of [1000, 100]) {
  const seg = await segmentAppend(batch)
  row(`segment file: write + fdatasync, batch ${batch}`, seg.rate)
  const lite = sqliteAppend(batch)
  row(`SQLite WAL synchronous=FULL: 1 transaction per ${batch}`, lite.rate)
  if (batch === 1000) {
    row('segment file: sequential read, 1 MiB chunks', segmentRead(seg.file, seg.records), 'raw bytes, no decoding')
    row(
      'SQLite: range scan by offset, 10 000 rows per query',
      sqliteRead(lite.db, lite.records),
      'rows decoded into JS objects',
    )
  }
  lite.db.close()
}
const commitMs = sqliteCommitCost()
console.log(`\none durable SQLite commit (WAL, synchronous=FULL) blocks the event loop for ${commitMs.toFixed(2)} ms`)

console.log('\n| case | records/s | note |')
console.log('|---|---:|---|')
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
console.log(`| one durable SQLite commit, event loop blocked | ${commitMs.toFixed(2)} ms | |`)
fs.rmSync(dir, { recursive: true, force: true })
