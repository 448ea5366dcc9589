// Grouping: the fewest reads within the protocol's limits and the gap, every field covered once (fast-check).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  MAX_READ_BITS,
  MAX_READ_REGISTERS,
  type ModbusField,
  type ModbusTable,
  maxReadCount,
  overlaps,
  planReads,
} from '../src/index.ts'
import { modbusField } from './fields.ts'

const field = (id: string, address: number, count = 1, over: Partial<ModbusField> = {}): ModbusField =>
  modbusField({ id, address, type: count === 1 ? 'uint16' : count === 2 ? 'float32' : 'string', count, ...over })

test('neighbours within the gap share one read; a longer gap, another unit, table or interval do not', () => {
  const plan = planReads(
    [
      field('a', 0, 2),
      field('b', 2),
      field('c', 10), // gap 7 ≤ 8
      field('d', 30), // gap 19 > 8
      field('e', 0, 1, { unitId: 2 }),
      field('f', 1, 1, { table: 'input' }),
      field('g', 3, 1, { pollIntervalMs: 100 }),
    ],
    8,
  )
  assert.deepEqual(
    plan.map((r) => [r.unitId, r.table, r.pollIntervalMs, r.address, r.count, r.fields.map((f) => f.id).join()]),
    [
      [1, 'holding', 100, 3, 1, 'g'],
      [1, 'holding', 1000, 0, 11, 'a,b,c'],
      [1, 'input', 1000, 1, 1, 'f'],
      [1, 'holding', 1000, 30, 1, 'd'],
      [2, 'holding', 1000, 0, 1, 'e'],
    ].sort(
      (x, y) =>
        (x[0] as number) - (y[0] as number) ||
        (x[2] as number) - (y[2] as number) ||
        (x[3] as number) - (y[3] as number),
    ),
  )
})

test('a read stops at 125 registers: 125 adjacent registers are one read, 126 are two', () => {
  const regs = (n: number) => Array.from({ length: n }, (_, i) => field(`r${i}`, i))
  assert.equal(planReads(regs(MAX_READ_REGISTERS), 0).length, 1)
  assert.deepEqual(
    planReads(regs(MAX_READ_REGISTERS + 1), 0).map((r) => r.count),
    [MAX_READ_REGISTERS, 1],
  )
  const coils = (n: number) =>
    Array.from({ length: n }, (_, i) => field(`c${i}`, i, 1, { table: 'coil', type: 'bool' }))
  assert.equal(planReads(coils(MAX_READ_BITS), 0).length, 1)
  assert.equal(planReads(coils(MAX_READ_BITS + 1), 0).length, 2)
})

const arbMap = fc
  .array(
    fc.record({
      address: fc.integer({ min: 0, max: 600 }),
      count: fc.constantFrom(1, 2, 4, 20),
      table: fc.constantFrom<ModbusTable>('holding', 'input', 'coil'),
      unitId: fc.integer({ min: 1, max: 3 }),
      pollIntervalMs: fc.constantFrom(100, 1000),
    }),
    { maxLength: 60 },
  )
  .map((rs) => rs.map((r, i) => field(`f${i}`, r.address, r.table === 'coil' ? 1 : r.count, r)))
  .map((fs) => {
    // Keep a map that validation would accept: drop fields overlapping an earlier one.
    const kept: ModbusField[] = []
    for (const f of fs) if (overlaps([...kept, f]).length === 0) kept.push(f)
    return kept
  })

test('property: every field is in exactly one read that holds it whole, of its unit, table and interval, within limits', () => {
  fc.assert(
    fc.property(arbMap, fc.integer({ min: 0, max: 123 }), (fields, gap) => {
      const plan = planReads(fields, gap)
      const seen = new Map<string, number>()
      for (const r of plan) {
        assert.ok(r.count >= 1 && r.count <= maxReadCount(r.table))
        for (const f of r.fields) {
          seen.set(f.id, (seen.get(f.id) ?? 0) + 1)
          assert.ok(f.address >= r.address && f.address + f.count <= r.address + r.count)
          assert.deepEqual([f.unitId, f.table, f.pollIntervalMs], [r.unitId, r.table, r.pollIntervalMs])
        }
      }
      assert.equal(seen.size, fields.length)
      assert.ok([...seen.values()].every((n) => n === 1))
    }),
  )
})

test('property: two consecutive reads of one group could not have been merged (the plan is greedy-minimal)', () => {
  fc.assert(
    fc.property(arbMap, fc.integer({ min: 0, max: 123 }), (fields, gap) => {
      const plan = planReads(fields, gap)
      for (let i = 1; i < plan.length; i++) {
        const a = plan[i - 1]!
        const b = plan[i]!
        if (a.unitId !== b.unitId || a.table !== b.table || a.pollIntervalMs !== b.pollIntervalMs) continue
        // The first field of b did not fit a: its gap or the span was too large.
        const f = b.fields[0]!
        assert.ok(f.address - (a.address + a.count) > gap || f.address + f.count - a.address > maxReadCount(a.table))
      }
    }),
  )
})
