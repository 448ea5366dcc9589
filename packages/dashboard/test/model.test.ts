// The dashboard's pure modules (no DOM), run by Node directly: the UNS tree (grouping, roll-ups, rows of the
// virtualised view, search), the chart's columns from downsampled history, the command history fold, formatting.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bucketsFor, pan, toColumns, zoom } from '../web/src/chart-data.ts'
import { type CommandRow, foldCommand, newestCommands } from '../web/src/commands.ts'
import { duration, value } from '../web/src/format.ts'
import type { AssetSummary } from '../web/src/types.ts'
import {
  assetKey,
  buildTree,
  groupPath,
  NO_UNS_KEY,
  rollup,
  search,
  type TreeNode,
  visibleRows,
} from '../web/src/uns-tree.ts'

function asset(uuid: string, path: string[] | null, available = true, type = 'Device'): AssetSummary {
  const names = ['inc', 'area', 'workcenter', 'station', 'asset']
  return {
    uuid,
    type,
    uns: path
      ? { levels: Object.fromEntries(path.map((v, i) => [names[i] as string, v])), unsId: path.join('/') }
      : null,
    referencesAbove: [],
    referencesBelow: [],
    availability: available ? 'AVAILABLE' : 'UNAVAILABLE',
    declared: true,
  }
}

const DEMO = [
  asset('CNC-1', ['Plant', 'Machining', 'WC10', 'ST01', 'cnc-1']),
  asset('CNC-2', ['Plant', 'Machining', 'WC2', 'ST01', 'cnc-2'], false),
  asset('DHT-1', ['Plant', 'Quality', 'LAB', 'ST01', 'DHT-1']),
  asset('LOOSE-1', null, false),
]

function find(nodes: readonly TreeNode[], key: string): TreeNode | undefined {
  for (const n of nodes) {
    if (n.key === key) return n
    const inner = find(n.children, key)
    if (inner) return inner
  }
  return undefined
}

test('the tree groups assets by their UNS levels, unplaced ones apart, availability rolled up at every level', () => {
  const roots = buildTree(DEMO)
  assert.deepEqual(
    roots.map((r) => r.label),
    ['No UNS placement', 'Plant'],
  )
  const plant = roots[1]!
  assert.deepEqual([plant.available, plant.total], [2, 3])
  assert.equal(rollup(plant), 'some')
  const machining = plant.children[0]!
  assert.equal(machining.label, 'Machining')
  assert.equal(machining.level, 'area')
  // Numeric order: WC2 before WC10.
  assert.deepEqual(
    machining.children.map((c) => c.label),
    ['WC2', 'WC10'],
  )
  assert.equal(rollup(machining.children[0]!), 'none')
  assert.equal(rollup(machining.children[1]!), 'all')
  const leaf = find(roots, assetKey('CNC-1'))!
  assert.equal(leaf.label, 'cnc-1 (CNC-1)', 'the asset level names the leaf, with the UUID when it differs')
  assert.equal(find(roots, assetKey('DHT-1'))!.label, 'DHT-1')
  const loose = roots[0]!
  assert.equal(loose.key, NO_UNS_KEY)
  assert.deepEqual([loose.available, loose.total], [0, 1])
  assert.deepEqual(groupPath(DEMO[0]!), [
    find(roots, groupPath(DEMO[0]!)[0]!)!.key,
    machining.key,
    machining.children[1]!.key,
    machining.children[1]!.children[0]!.key,
  ])
  assert.deepEqual(groupPath(DEMO[3]!), [NO_UNS_KEY])
})

test('visible rows: depth first through the expanded groups, with level, position and set size', () => {
  const roots = buildTree(DEMO)
  const plant = roots[1]!
  const machining = plant.children[0]!
  assert.deepEqual(
    visibleRows(roots, new Set()).map((r) => [r.node.label, r.level, r.posinset, r.setsize]),
    [
      ['No UNS placement', 1, 1, 2],
      ['Plant', 1, 2, 2],
    ],
  )
  const rows = visibleRows(roots, new Set([plant.key, machining.key]))
  assert.deepEqual(
    rows.map((r) => [r.node.label, r.level, r.posinset, r.setsize, r.parentKey]),
    [
      ['No UNS placement', 1, 1, 2, null],
      ['Plant', 1, 2, 2, null],
      ['Machining', 2, 1, 2, plant.key],
      ['WC2', 3, 1, 2, machining.key],
      ['WC10', 3, 2, 2, machining.key],
      ['Quality', 2, 2, 2, plant.key],
    ],
  )
})

test('search: the matching assets with their groups, opened; a group name matches everything under it', () => {
  const roots = buildTree(DEMO)
  const byUuid = search(roots, 'cnc-2')
  assert.equal(byUuid.matches, 1)
  const rows = visibleRows(roots, byUuid.expand, byUuid.only)
  assert.deepEqual(
    rows.map((r) => r.node.label),
    ['Plant', 'Machining', 'WC2', 'ST01', 'cnc-2 (CNC-2)'],
  )
  assert.equal(rows.at(-1)!.setsize, 1, 'positions count the rows shown')
  assert.equal(search(roots, 'QUALITY').matches, 1, 'case-insensitive, group names too')
  assert.equal(search(roots, 'plant/machining').matches, 2, 'UNS paths')
  assert.equal(search(roots, 'device').matches, 4, 'types')
  const limited = search(roots, 'device', 2)
  assert.equal(limited.matches, 2)
  assert.equal(limited.truncated, true)
  assert.equal(search(roots, 'nothing like it').matches, 0)
})

test('10 000 assets: the tree holds them all, the rows of a closed tree are the roots only', () => {
  const many: AssetSummary[] = []
  for (let i = 0; i < 10_000; i++) {
    many.push(asset(`A-${i}`, ['Plant', `Area${i % 10}`, `WC${i % 100}`, `ST${i % 7}`, `a-${i}`], i % 3 !== 0))
  }
  const roots = buildTree(many)
  assert.equal(roots.length, 1)
  assert.equal(roots[0]!.total, 10_000)
  assert.equal(roots[0]!.available, 10_000 - Math.ceil(10_000 / 3))
  assert.equal(visibleRows(roots, new Set()).length, 1)
  const all = new Set<string>()
  const walk = (n: TreeNode) => {
    if (!n.asset) all.add(n.key)
    n.children.forEach(walk)
  }
  roots.forEach(walk)
  const rows = visibleRows(roots, all)
  assert.equal(rows.filter((r) => r.node.asset).length, 10_000)
  assert.equal(search(roots, 'a-9999').matches, 1)
})

test('chart columns: one time axis over every series, nulls where a series has no bucket, average else last', () => {
  const cols = toColumns({
    series: [
      {
        id: 'Temp',
        buckets: [
          { t: '2026-12-06T10:00:00.000Z', count: 2, min: 1, max: 3, avg: 2, first: 1, last: 3 },
          { t: '2026-12-06T10:00:02.000Z', count: 1, min: null, max: null, avg: null, first: 'x', last: 'x' },
        ],
      },
      {
        id: 'Load',
        buckets: [
          { t: '2026-12-06T10:00:01.000Z', count: 1, min: 5, max: 5, avg: null, first: 5, last: 5 },
          { t: '2026-12-06T10:00:02.000Z', count: 1, min: 7, max: 7, avg: 7, first: 7, last: 7 },
        ],
      },
    ],
  })
  const t0 = Date.parse('2026-12-06T10:00:00.000Z') / 1000
  assert.deepEqual(cols, [
    [t0, t0 + 1, t0 + 2],
    [2, null, null],
    [null, 5, 7],
  ])
  assert.deepEqual(toColumns({ series: [] }), [[]])
})

test('chart views: buckets per width within 1..10 000, pan keeps the width, zoom keeps the centre', () => {
  assert.equal(bucketsFor(800), 400)
  assert.equal(bucketsFor(0), 1)
  assert.equal(bucketsFor(1e9), 10_000)
  assert.deepEqual(pan({ from: 1000, to: 2000 }, -0.5), { from: 500, to: 1500 })
  assert.deepEqual(zoom({ from: 1000, to: 3000 }, 2), { from: 0, to: 4000 })
  assert.deepEqual(zoom({ from: 1000, to: 1002 }, 0.5), { from: 501, to: 1501 }, 'never narrower than a second')
})

test('command history: a command and its results by correlation id; the first final result stays', () => {
  const rows = new Map<string, CommandRow>()
  const cmd = JSON.stringify({
    header: {
      correlation_id: 'c1',
      sender_uuid: 'ofa-api',
      timestamp: '2026-12-06T10:00:00.000Z',
      signature: 'key:ab',
    },
    arguments: { rpm: 1200 },
  })
  const result = (status: string, extra: object = {}) => JSON.stringify({ correlation_id: 'c1', status, ...extra })
  // The result can be read before its command (another partition order, a page boundary).
  assert.ok(
    foldCommand(rows, { id: 'SetSpeed_RESULT', value: result('accepted'), timestamp: '2026-12-06T10:00:00.1Z' }),
  )
  assert.ok(foldCommand(rows, { id: 'SetSpeed_CMD', value: cmd, timestamp: '2026-12-06T10:00:00.000Z' }))
  assert.ok(
    foldCommand(rows, {
      id: 'SetSpeed_RESULT',
      value: result('completed', { result: { spindle_speed: 1200 } }),
      timestamp: '2026-12-06T10:00:00.2Z',
    }),
  )
  foldCommand(rows, { id: 'SetSpeed_RESULT', value: result('failed'), timestamp: '2026-12-06T10:00:01Z' })
  const c1 = rows.get('c1')!
  assert.equal(c1.status, 'completed')
  assert.deepEqual(c1.result, { spindle_speed: 1200 })
  assert.deepEqual(c1.arguments, { rpm: 1200 })
  assert.equal(c1.signature, 'key:ab')
  assert.equal(c1.method, 'SetSpeed')
  assert.equal(foldCommand(rows, { id: 'spindle_speed', value: 3, timestamp: '' }), false)
  assert.equal(foldCommand(rows, { id: 'X_CMD', value: 'not json', timestamp: '' }), false)
  const older = JSON.stringify({
    header: { correlation_id: 'c0', timestamp: '2026-12-06T09:00:00.000Z' },
    arguments: {},
  })
  foldCommand(rows, { id: 'Reset_CMD', value: older, timestamp: '2026-12-06T09:00:00.000Z' })
  assert.deepEqual(
    newestCommands(rows).map((r) => [r.correlationId, r.status]),
    [
      ['c1', 'completed'],
      ['c0', 'pending'],
    ],
  )
  assert.equal(newestCommands(rows, 1).length, 1)
})

test('formatting: durations and values', () => {
  assert.equal(duration(-5), '0 s')
  assert.equal(duration(59_999), '59 s')
  assert.equal(duration(61_000), '1 min 1 s')
  assert.equal(duration(3 * 3600_000 + 5 * 60_000), '3 h 5 min')
  assert.equal(duration(50 * 3600_000), '2 d 2 h')
  assert.equal(value(21.123456), '21.123')
  assert.equal(value(7), '7')
  assert.equal(value('UNAVAILABLE'), 'UNAVAILABLE')
  assert.equal(value({ a: 1 }), '{"a":1}')
  assert.equal(value(null), '')
})
