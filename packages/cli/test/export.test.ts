// `ofa export`: a history range of assets from an embedded log, as CSV, JSON lines and Parquet, to a file or stdout.
// CSV is parsed, JSON lines parsed, Parquet read back with hyparquet and with Apache Arrow's pyarrow (PyPI).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openEmbeddedLog } from '@openfactory/log'
import { encodeAssetDeclaration, encodeObservation, TOPICS } from '@openfactory/model'
import { parquetReadObjects } from 'hyparquet'
import { ensurePythonEnv } from '../../../scripts/python-env.ts'
import { ofa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const T0 = Date.UTC(2026, 0, 1)
const iso = (s: number) => new Date(T0 + s * 1000).toISOString()

/** A log with two placed assets (PRESS-1 under Acme/Lyon, OTHER-1 under Acme/Paris), 10 s of values each. */
async function seededLog(dir: string): Promise<string> {
  const data = join(dir, 'data')
  const log = await openEmbeddedLog({ dir: data })
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  const asset = (uuid: string, site: string, name: string) => ({
    uuid,
    type: 'Device',
    uns: { levels: { inc: 'Acme', site, asset: name }, unsId: `Acme/${site}/${name}` },
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [],
    methods: [],
  })
  await log.append(TOPICS.registry, [
    { key: 'PRESS-1', value: encodeAssetDeclaration(asset('PRESS-1', 'Lyon', 'press-1')) },
    { key: 'OTHER-1', value: encodeAssetDeclaration(asset('OTHER-1', 'Paris', 'other-1')) },
  ])
  const records = []
  for (let s = 0; s < 10; s++) {
    records.push({
      key: 'PRESS-1',
      value: encodeObservation({
        id: 'force',
        value: 100 + s,
        tag: 'Force',
        type: 'Samples',
        attributes: { timestamp: iso(s), units: 'NEWTON', quality: 'GOOD' },
      }),
    })
    records.push({
      key: 'PRESS-1',
      value: encodeObservation({
        id: 'note',
        value: s === 3 ? 'a "quoted", comma\nline' : `n${s}`,
        tag: 'Message',
        type: 'Events',
        attributes: { timestamp: iso(s) },
      }),
    })
    records.push({
      key: 'OTHER-1',
      value: encodeObservation({
        id: 'temp',
        value: 20 + s,
        tag: 'Temperature',
        type: 'Samples',
        attributes: { timestamp: iso(s) },
      }),
    })
  }
  await log.append(TOPICS.assets, records)
  await log.close()
  return data
}

/** RFC 4180 rows (quoted fields with commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field)
      rows.push(row)
      row = []
      field = ''
      i++
    } else field += c
  }
  return rows
}

test('ofa export: CSV to stdout, one asset, a time range and items; the quoting of RFC 4180', async (t) => {
  const dir = await tempDir(t, 'ofa-export-')
  const data = await seededLog(dir)
  const r = await ofa(['export', 'PRESS-1', '--data', data, '--from', iso(2), '--to', iso(5), '--items', 'force,note'])
  assert.equal(r.code, 0, r.stderr)
  const rows = parseCsv(r.stdout)
  assert.deepEqual(rows[0], [
    'asset',
    'timestamp',
    'id',
    'tag',
    'type',
    'value',
    'units',
    'quality',
    'partition',
    'offset',
  ])
  assert.equal(rows.length, 1 + 8) // seconds 2..5, two items
  const force = rows.slice(1).filter((x) => x[2] === 'force')
  assert.deepEqual(
    force.map((x) => [x[1], x[5], x[6], x[7]]),
    [2, 3, 4, 5].map((s) => [iso(s), String(100 + s), 'NEWTON', 'GOOD']),
  )
  assert.ok(rows.some((x) => x[5] === 'a "quoted", comma\nline'))
  assert.match(r.stderr, /exported 8 observations of 1 asset as csv/)
})

test('ofa export: a UNS pattern, JSON lines to a file', async (t) => {
  const dir = await tempDir(t, 'ofa-export-')
  const data = await seededLog(dir)
  const out = join(dir, 'out.jsonl')
  const r = await ofa(['export', '--uns', 'Acme/Paris/#', '--data', data, '-o', out])
  assert.equal(r.code, 0, r.stderr)
  const lines = (await readFile(out, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.equal(lines.length, 10)
  assert.ok(lines.every((l) => l.assetUuid === 'OTHER-1' && l.id === 'temp'))
  assert.deepEqual(
    lines.map((l) => l.value),
    Array.from({ length: 10 }, (_, s) => 20 + s),
  )
  assert.equal(lines[0].timestamp, iso(0))
  // One item of every asset through the pattern's item level.
  const one = await ofa(['export', '--uns', 'Acme/+/+/force', '--data', data, '--format', 'jsonl'])
  assert.equal(one.code, 0, one.stderr)
  assert.equal(one.stdout.trimEnd().split('\n').length, 10)
  const none = await ofa(['export', '--uns', 'Nowhere/#', '--data', data])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /no asset on the log matches Nowhere\/#/)
})

test('ofa export: Parquet read back with hyparquet and with pyarrow', async (t) => {
  const dir = await tempDir(t, 'ofa-export-')
  const data = await seededLog(dir)
  const out = join(dir, 'out.parquet')
  const r = await ofa(['export', 'PRESS-1', 'OTHER-1', '--data', data, '-o', out])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /exported 30 observations of 2 assets as parquet/)
  const bytes = await readFile(out)
  const rows = await parquetReadObjects({
    file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  })
  assert.equal(rows.length, 30)
  const press = rows.filter((x) => x.asset === 'PRESS-1' && x.id === 'force')
  assert.deepEqual(
    press.map((x) => x.value_num),
    Array.from({ length: 10 }, (_, s) => 100 + s),
  )
  assert.equal((press[0]?.timestamp as Date | undefined)?.toISOString(), iso(0))
  assert.equal(press[0]?.units, 'NEWTON')
  const note = rows.find((x) => x.id === 'note' && x.value === 'n1')
  assert.equal(note?.value_num, null)
  assert.equal(note?.quality, null)

  const python = await ensurePythonEnv({
    name: 'parquet',
    requirements: join(ROOT, 'scripts/peers/parquet-requirements.txt'),
    check: 'import pyarrow.parquet',
  })
  const py = spawnSync(
    python,
    [
      '-c',
      'import sys, json, pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\nprint(json.dumps({"rows": t.num_rows, "names": t.column_names, "sum": sum(v for v in t.column("value_num").to_pylist() if v is not None), "ts": str(t.schema.field("timestamp").type)}))',
      out,
    ],
    { encoding: 'utf8' },
  )
  assert.equal(py.status, 0, py.stderr)
  const got = JSON.parse(py.stdout)
  assert.equal(got.rows, 30)
  assert.deepEqual(got.names, [
    'asset',
    'timestamp',
    'id',
    'tag',
    'type',
    'value',
    'value_num',
    'units',
    'quality',
    'partition',
    'offset',
  ])
  assert.equal(got.sum, 10 * 100 + 45 + 10 * 20 + 45)
  assert.equal(got.ts, 'timestamp[ms, tz=UTC]')
})

test('ofa export: usage errors', async (t) => {
  const dir = await tempDir(t, 'ofa-export-')
  const data = await seededLog(dir)
  for (const [args, re] of [
    [[], /needs assets/],
    [['X', '--format', 'xml'], /--format must be one of csv, jsonl, parquet/],
    [['X', '--from', 'yesterday'], /--from must be an ISO-8601 time/],
    [['X', '--from', iso(5), '--to', iso(1)], /--from is after --to/],
    [['X', '--uns', 'a/#/b'], /"#" may only be the last level/],
  ] as const) {
    const r = await ofa(['export', ...args, '--data', data])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, re)
  }
})
