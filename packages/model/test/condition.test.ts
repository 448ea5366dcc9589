import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type ActiveCondition, applyCondition, worstLevel } from '../src/condition.ts'
import type { Observation } from '../src/observation.ts'

const cond = (value: string, nativeCode?: string, message?: string): Observation => ({
  id: 'system',
  value,
  tag: 'System',
  type: 'Condition',
  attributes: {
    timestamp: '2025-01-01T00:00:00.000Z',
    ...(nativeCode ? { nativeCode } : {}),
    ...(message ? { message } : {}),
  },
})

test('several faults are active at once and cleared one by one by native code', () => {
  let active: ActiveCondition[] = []
  active = applyCondition(active, cond('FAULT', 'E1', 'overtemp'))
  active = applyCondition(active, cond('WARNING', 'W7'))
  active = applyCondition(active, cond('FAULT', 'E2'))
  assert.deepEqual(
    active.map((c) => [c.level, c.nativeCode]),
    [
      ['FAULT', 'E1'],
      ['WARNING', 'W7'],
      ['FAULT', 'E2'],
    ],
  )
  assert.equal(worstLevel(active), 'FAULT')
  active = applyCondition(active, cond('NORMAL', 'E1'))
  active = applyCondition(active, cond('NORMAL', 'E2'))
  assert.equal(worstLevel(active), 'WARNING')
  active = applyCondition(active, cond('NORMAL'))
  assert.deepEqual(active, [])
  assert.equal(worstLevel(active), 'NORMAL')
})

test('a code raised again replaces its entry; UNAVAILABLE replaces all', () => {
  let active = applyCondition([], cond('WARNING', 'E1'))
  active = applyCondition(active, cond('FAULT', 'E1'))
  assert.deepEqual(
    active.map((c) => c.level),
    ['FAULT'],
  )
  active = applyCondition(active, cond('UNAVAILABLE'))
  assert.equal(worstLevel(active), 'UNAVAILABLE')
  active = applyCondition(active, cond('FAULT', 'E3'))
  assert.deepEqual(
    active.map((c) => [c.level, c.nativeCode]),
    [['FAULT', 'E3']],
  )
})
