// Session windows (session-aggregate.ts), driven record by record without a log: whatever the order the records of
// a group come in (within the grace period), the table the output describes — rows and tombstones applied in order
// — holds exactly the sessions the sorted records make; and so it does when the task's stores are written and read
// back as JSON (a restart) at any point.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ProducerRecord } from '@openfactory/log'
import fc from 'fast-check'
import type { DataSource } from '../../src/catalog.ts'
import { defaultFunctions } from '../../src/functions/index.ts'
import { type AggregateCall, aggregateProcessor } from '../../src/operators/aggregate.ts'
import type { InputRecord, ProcessorContext, ProcessorSpec } from '../../src/processor/processor.ts'
import { MemoryStore } from '../../src/processor/store.ts'
import { createRowCodec } from '../../src/row-codec.ts'
import { LogicalSchema } from '../../src/schema.ts'
import { SqlType } from '../../src/types.ts'

const GAP = 10_000

function source(name: string, schema: LogicalSchema, opts: Partial<DataSource> = {}): DataSource {
  return {
    name,
    kind: 'STREAM',
    schema,
    topic: name.toLowerCase(),
    keyFormat: 'KAFKA',
    valueFormat: 'JSON',
    wrapSingleValue: true,
    isSource: false,
    statementText: '',
    ...opts,
  }
}

const EVENTS = source(
  'EVENTS',
  new LogicalSchema([
    { name: 'MACHINE', type: SqlType.STRING, role: 'key' },
    { name: 'V', type: SqlType.INTEGER, role: 'value' },
  ]),
)
const SESSIONS = source(
  'SESSIONS',
  new LogicalSchema([
    { name: 'MACHINE', type: SqlType.STRING, role: 'key' },
    { name: 'N', type: SqlType.BIGINT, role: 'value' },
    { name: 'TOTAL', type: SqlType.INTEGER, role: 'value' },
  ]).withWindow(),
  { kind: 'TABLE', windowed: { type: 'SESSION' } },
)

function call(name: string, argTypes: SqlType[], args: AggregateCall['args']): AggregateCall {
  const r = defaultFunctions.aggregate(name, argTypes)
  return { name, init: r.init, add: r.add, merge: r.merge, result: r.result, args } as AggregateCall
}

function spec(): ProcessorSpec {
  const rowtime = EVENTS.schema.rowtimeIndex
  return aggregateProcessor({
    id: 'sessions',
    source: EVENTS,
    sink: SESSIONS,
    groupBy: (row) => [row[0] ?? null],
    aggregates: [call('COUNT', [], () => []), call('SUM', [SqlType.INTEGER], (row) => [row[1] ?? null])],
    window: { type: 'SESSION', gapMs: GAP, graceMs: 86_400_000, retentionMs: 86_400_000 },
    project: (agg) => [agg[0] ?? null, agg[1] ?? null, agg[2] ?? null, null, null, null, null, null],
    timestamp: (row) => row[rowtime] as number,
  })
}

/** Runs records through a processor's `process`, its stores optionally written and read back as JSON after `cut`. */
function run(p: ProcessorSpec, records: readonly [string, number, number][], cut?: number): ProducerRecord[] {
  let stores = new Map((p.stores ?? []).map((name) => [name, new MemoryStore(name)]))
  const out: ProducerRecord[] = []
  const ctx: ProcessorContext = {
    partition: 0,
    streamTime: -1,
    store: <V>(name: string) => stores.get(name) as MemoryStore<V>,
    emit: (_topic, record) => out.push(record),
  }
  records.forEach(([machine, ts, v], offset) => {
    const r: InputRecord = {
      topic: 'events',
      partition: 0,
      offset,
      timestamp: ts,
      key: Buffer.from(machine),
      value: Buffer.from(JSON.stringify({ V: v })),
      headers: {},
      input: 0,
    }
    p.process(r, ctx)
    if (offset + 1 === cut) {
      const copies = new Map<string, MemoryStore>()
      for (const [name, s] of stores) {
        const copy = new MemoryStore(name)
        for (const [k, value] of s.entries()) copy.restore(k, JSON.parse(JSON.stringify(value)))
        copies.set(name, copy)
      }
      stores = copies
    }
  })
  return out
}

/** The table the output records describe: `machine start end` → [count, total]. */
function table(records: readonly ProducerRecord[]): Map<string, unknown> {
  const codec = createRowCodec(SESSIONS)
  const base = SESSIONS.schema.rowtimeIndex
  const out = new Map<string, unknown>()
  for (const r of records) {
    const { row, tombstone } = codec.decode({ ...r, topic: 'sessions', partition: 0, offset: 0 } as never)
    const key = `${row[0]} ${row[base + 3]} ${row[base + 4]}`
    if (tombstone) {
      assert.ok(out.has(key), `a tombstone deletes a session that is in the table: ${key}`)
      out.delete(key)
    } else out.set(key, [row[1], row[2]])
  }
  return out
}

/** The sessions of the records, computed from them sorted. */
function expected(records: readonly [string, number, number][]): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const machine of new Set(records.map((r) => r[0]))) {
    const mine = records.filter((r) => r[0] === machine).sort((a, b) => a[1] - b[1])
    let session: [number, number, number, number] | undefined
    const close = () => {
      if (session) out.set(`${machine} ${session[0]} ${session[1]}`, [session[2], session[3]])
    }
    for (const [, ts, v] of mine) {
      if (session && ts - session[1] <= GAP) session = [session[0], ts, session[2] + 1, session[3] + v]
      else {
        close()
        session = [ts, ts, 1, v]
      }
    }
    close()
  }
  return out
}

const records = fc.array(
  fc.tuple(
    fc.constantFrom('m1', 'm2'),
    fc.integer({ min: 0, max: 100 }).map((n) => n * 2_500),
    fc.integer({ min: 0, max: 9 }),
  ),
  { maxLength: 40 },
)

describe('session windows (session-aggregate.ts)', () => {
  test('property: the output describes the sessions of the records, whatever their order', () => {
    fc.assert(
      fc.property(records, (list) => {
        assert.deepEqual(table(run(spec(), list)), expected(list))
      }),
      { numRuns: 300 },
    )
  })

  test('property: the same output with the stores written and read back as JSON at any point (a restart)', () => {
    fc.assert(
      fc.property(records, fc.nat(), (list, n) => {
        const cut = list.length === 0 ? 0 : (n % list.length) + 1
        assert.deepEqual(run(spec(), list, cut), run(spec(), list))
      }),
      { numRuns: 300 },
    )
  })
})
