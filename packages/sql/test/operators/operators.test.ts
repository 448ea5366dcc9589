// The operators a planned query runs on (select.ts, aggregate.ts), given compiled pieces by hand: rows decoded
// through the formats, filters and projections, re-keying, tombstones, aggregates over streams and tables (a
// replaced table row taken back out of its group), tumbling windows with a late record; on the embedded log.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import type { DataSource } from '../../src/catalog.ts'
import { type AggregateCall, aggregateProcessor } from '../../src/operators/aggregate.ts'
import { selectProcessor } from '../../src/operators/select.ts'
import { runProcessor } from '../../src/processor/run-processor.ts'
import type { Row } from '../../src/row-codec.ts'
import { type Column, LogicalSchema } from '../../src/schema.ts'
import { SqlType, type SqlValue } from '../../src/types.ts'
import { BACKBONES, readTopic, until } from '../processor/helpers.ts'

const S = SqlType.STRING
const embedded = BACKBONES[0] as (typeof BACKBONES)[number]

function source(name: string, kind: 'STREAM' | 'TABLE', columns: Column[], opts: Partial<DataSource> = {}): DataSource {
  return {
    name,
    kind,
    schema: new LogicalSchema(columns),
    topic: name.toLowerCase(),
    keyFormat: 'KAFKA',
    valueFormat: 'JSON',
    wrapSingleValue: true,
    isSource: false,
    statementText: '',
    ...opts,
  }
}

/** The reference's stream over ofa_assets: key ASSET_UUID; ID, VALUE, TYPE as text; ATTRIBUTES a map. */
const ASSETS = source('ASSETS_STREAM', 'STREAM', [
  { name: 'ASSET_UUID', type: S, role: 'key' },
  { name: 'ID', type: S, role: 'value' },
  { name: 'VALUE', type: S, role: 'value' },
  { name: 'TYPE', type: S, role: 'value' },
  { name: 'ATTRIBUTES', type: SqlType.map(S, S), role: 'value' },
])

async function records(log: EventLog, topic: string) {
  return (await readTopic(log, topic)).map((r) => ({
    key: r.key?.toString() ?? null,
    value: r.value === null ? null : (JSON.parse(r.value.toString()) as unknown),
  }))
}

async function feed(log: EventLog, topic: string, rows: [string, unknown][]): Promise<void> {
  const t0 = Date.now()
  await log.append(
    topic,
    rows.map(([key, value], i) => ({
      key,
      value: value === null ? null : JSON.stringify(value),
      timestamp: t0 + i,
    })),
  )
}

describe('operators', () => {
  test('select: filter, project, re-key by an expression (the reference enriched stream), skip bad records', async (t) => {
    const log = await embedded.open(t)
    const sink = source('ENRICHED', 'STREAM', [
      { name: 'KEY', type: S, role: 'key' },
      { name: 'ASSET_UUID', type: S, role: 'value' },
      { name: 'ID', type: S, role: 'value' },
      { name: 'VALUE', type: S, role: 'value' },
      { name: 'TIMESTAMP', type: S, role: 'value' },
    ])
    for (const s of [ASSETS, sink]) await log.createTopic({ name: s.topic, partitions: 2 })
    const spec = selectProcessor({
      id: 'enrich',
      source: ASSETS,
      sink,
      where: (row) => row[3] === 'Samples',
      project: (row: Row) => {
        const attrs = row[4] as ReadonlyMap<string, SqlValue> | null
        const out: Row = new Array(sink.schema.width).fill(null)
        out[0] = `${row[0]}|${row[1]}`
        out[1] = row[0] as string
        out[2] = row[1] as string
        out[3] = row[2] as string
        out[4] = (attrs?.get('timestamp') as string | undefined) ?? 'UNAVAILABLE'
        return out
      },
      timestamp: (row) => row[ASSETS.schema.rowtimeIndex] as number,
    })
    const h = runProcessor({ eventLog: log, spec })
    t.after(() => h.stop())
    await feed(log, ASSETS.topic, [
      ['M1', { ID: 'Xact', VALUE: 12.5, TYPE: 'Samples', attributes: { timestamp: '2026-01-01T00:00:00.000Z' } }],
      ['M1', { id: 'exec', value: 'ACTIVE', type: 'Events' }],
      ['M2', { id: 'load', value: 20.0, type: 'Samples' }],
    ])
    await log.append(ASSETS.topic, [{ key: 'M2', value: 'not json' }])
    await until(async () => (await readTopic(log, sink.topic)).length >= 2, 'two outputs')
    await until(() => Object.values(h.stats().tasks).some((x) => x.skipped === 1), 'the bad record skipped')
    const out = (await records(log, sink.topic)).sort((a, b) => String(a.key).localeCompare(String(b.key)))
    assert.deepEqual(out, [
      {
        key: 'M1|Xact',
        value: { ASSET_UUID: 'M1', ID: 'Xact', VALUE: '12.5', TIMESTAMP: '2026-01-01T00:00:00.000Z' },
      },
      { key: 'M2|load', value: { ASSET_UUID: 'M2', ID: 'load', VALUE: '20', TIMESTAMP: 'UNAVAILABLE' } },
    ])
  })

  test('select to a KAFKA-format topic: a single NULL column is a tombstone (the reference deletes)', async (t) => {
    const log = await embedded.open(t)
    const sink = source(
      'TYPES',
      'STREAM',
      [
        { name: 'ASSET_UUID', type: S, role: 'key' },
        { name: 'TYPE', type: S, role: 'value' },
      ],
      { valueFormat: 'KAFKA' },
    )
    for (const s of [ASSETS, sink]) await log.createTopic({ name: s.topic, partitions: 1 })
    const h = runProcessor({
      eventLog: log,
      spec: selectProcessor({
        id: 'tomb',
        source: ASSETS,
        sink,
        where: (row) => row[1] === 'AssetType' && row[2] === 'delete',
        project: (row) => [row[0] ?? null, null, null, null, null],
        timestamp: (row) => row[ASSETS.schema.rowtimeIndex] as number,
      }),
    })
    t.after(() => h.stop())
    await feed(log, ASSETS.topic, [
      ['A1', { ID: 'AssetType', VALUE: 'Device', TYPE: 'OpenFactory' }],
      ['A1', { ID: 'AssetType', VALUE: 'delete', TYPE: 'OpenFactory' }],
    ])
    await until(async () => (await readTopic(log, sink.topic)).length >= 1, 'the tombstone')
    assert.deepEqual(await records(log, sink.topic), [{ key: 'A1', value: null }])
  })

  /** LATEST_BY_OFFSET and COUNT, written here; COLLECT_LIST of text with undo. */
  const latest = (i: number): AggregateCall => ({
    name: 'LATEST_BY_OFFSET',
    init: () => null,
    add: (_acc, args) => args[0] ?? null,
    undo: (acc) => acc,
    result: (acc) => acc as SqlValue,
    args: (row) => [row[i] as SqlValue],
  })
  const count: AggregateCall = {
    name: 'COUNT',
    init: () => 0,
    add: (acc) => (acc as number) + 1,
    undo: (acc) => (acc as number) - 1,
    result: (acc) => acc as number,
    args: () => [],
  }
  const collect = (i: number): AggregateCall => ({
    name: 'COLLECT_LIST',
    init: () => [],
    add: (acc, args) => [...(acc as SqlValue[]), args[0] as SqlValue],
    undo: (acc, args) => {
      const list = [...(acc as SqlValue[])]
      const at = list.indexOf(args[0] as SqlValue)
      if (at >= 0) list.splice(at, 1)
      return list
    },
    result: (acc) => acc as SqlValue[],
    args: (row) => [row[i] as SqlValue],
  })

  test('aggregate a stream into a table, then that table by another key: a replaced row leaves its group', async (t) => {
    const log = await embedded.open(t)
    // ASSETS (key uuid|id, latest value per item) then BY_ASSET (uuid → list of its items' values).
    const items = source('ITEMS', 'TABLE', [
      { name: 'KEY', type: S, role: 'key' },
      { name: 'ASSET_UUID', type: S, role: 'value' },
      { name: 'VALUE', type: S, role: 'value' },
      { name: 'N', type: SqlType.BIGINT, role: 'value' },
    ])
    const byAsset = source('BY_ASSET', 'TABLE', [
      { name: 'ASSET_UUID', type: S, role: 'key' },
      { name: 'READINGS', type: SqlType.array(S), role: 'value' },
    ])
    for (const s of [ASSETS, items, byAsset]) await log.createTopic({ name: s.topic, partitions: 1 })
    const one = runProcessor({
      eventLog: log,
      spec: aggregateProcessor({
        id: 'items',
        source: ASSETS,
        sink: items,
        groupBy: (row) => [`${row[0]}|${row[1]}`],
        aggregates: [latest(0), latest(2), count],
        project: (agg) => [...agg.slice(0, 4), null, null, null],
        timestamp: (row) => row[ASSETS.schema.rowtimeIndex] as number,
      }),
    })
    const two = runProcessor({
      eventLog: log,
      spec: aggregateProcessor({
        id: 'by-asset',
        source: items,
        sink: byAsset,
        groupBy: (row) => [row[1] as SqlValue],
        aggregates: [collect(2)],
        project: (agg) => [...agg.slice(0, 2), null, null, null],
        timestamp: (row) => row[items.schema.rowtimeIndex] as number,
      }),
    })
    t.after(() => Promise.all([one.stop(), two.stop()]))
    await feed(log, ASSETS.topic, [
      ['M1', { ID: 'x', VALUE: '1' }],
      ['M1', { ID: 'y', VALUE: '2' }],
      ['M1', { ID: 'x', VALUE: '3' }],
    ])
    await until(async () => (await readTopic(log, byAsset.topic)).length >= 3, 'three updates of M1')
    assert.deepEqual(await records(log, items.topic), [
      { key: 'M1|x', value: { ASSET_UUID: 'M1', VALUE: '1', N: 1 } },
      { key: 'M1|y', value: { ASSET_UUID: 'M1', VALUE: '2', N: 1 } },
      { key: 'M1|x', value: { ASSET_UUID: 'M1', VALUE: '3', N: 2 } },
    ])
    // x's old value leaves the list before its new one joins: two outputs for that change, the same key.
    assert.deepEqual(await records(log, byAsset.topic), [
      { key: 'M1', value: { READINGS: ['1'] } },
      { key: 'M1', value: { READINGS: ['1', '2'] } },
      { key: 'M1', value: { READINGS: ['2', '3'] } },
    ])
  })

  test('tumbling windows: one row per window, a record later than the grace period dropped', async (t) => {
    const log = await embedded.open(t)
    const windows = source(
      'PER_MINUTE',
      'TABLE',
      [
        { name: 'ASSET_UUID', type: S, role: 'key' },
        { name: 'N', type: SqlType.BIGINT, role: 'value' },
      ],
      { windowed: { type: 'TUMBLING', sizeMs: 60_000 } },
    )
    // A windowed table's rows carry WINDOWSTART and WINDOWEND after the pseudo columns.
    const sink = { ...windows, schema: windows.schema.withWindow() }
    for (const s of [ASSETS, sink]) await log.createTopic({ name: s.topic, partitions: 1 })
    const counters = { late: 0 }
    const h = runProcessor({
      eventLog: log,
      spec: aggregateProcessor(
        {
          id: 'per-minute',
          source: ASSETS,
          sink,
          groupBy: (row) => [row[0] as SqlValue],
          aggregates: [count],
          window: { type: 'TUMBLING', sizeMs: 60_000, advanceMs: 60_000, graceMs: 10_000, retentionMs: 3_600_000 },
          project: (agg) => [...agg.slice(0, 2), null, null, null, ...agg.slice(2, 4)],
          timestamp: (row) => row[ASSETS.schema.rowtimeIndex] as number,
        },
        counters,
      ),
    })
    t.after(() => h.stop())
    const base = Math.floor(Date.now() / 60_000) * 60_000
    await log.append(
      ASSETS.topic,
      [
        [0, 'M1'],
        [30_000, 'M1'],
        [65_000, 'M1'], // next window
        [75_000, 'M1'], // stream time 75 s: the first window closed at 60 + 10 s
        [59_000, 'M1'], // late: dropped
        [62_000, 'M1'],
      ].map(([dt, key]) => ({ key: key as string, value: '{}', timestamp: base + (dt as number) })),
    )
    await until(async () => (await readTopic(log, sink.topic)).length >= 5, 'five window updates')
    const out = (await readTopic(log, sink.topic)).map((r) => {
      const key = r.key as Buffer
      return {
        key: key.subarray(0, key.length - 8).toString(),
        start: Number(key.readBigInt64BE(key.length - 8)) - base,
        n: (JSON.parse(r.value?.toString() ?? '{}') as { N: number }).N,
      }
    })
    assert.deepEqual(out, [
      { key: 'M1', start: 0, n: 1 },
      { key: 'M1', start: 0, n: 2 },
      { key: 'M1', start: 60_000, n: 1 },
      { key: 'M1', start: 60_000, n: 2 },
      { key: 'M1', start: 60_000, n: 3 },
    ])
    assert.equal(counters.late, 1)
  })
})
