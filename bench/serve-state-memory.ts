// Asset state memory: RSS of the current-state table for N assets × M data items, beside a naive anchor (a Map of
// decoded observation objects keyed `uuid|id`) holding the same entries, each measured in its own process.
//
//   npx node --expose-gc bench/serve-state-memory.ts [--assets 10000] [--items 20]
//
// What is written (as the connector supervisor does): per asset the registry declaration (ofa_registry) and on
// ofa_assets AssetType, uns_id, references, 2 methods, every item UNAVAILABLE, then 2 values per item
// (samples with units/subType/quality, events, conditions with native codes; source and ingestion timestamps).
// So the table holds N × (M + 7) entries. The state is rebuilt from the log (as on restart) in a fresh process;
// RSS and the live heap are read after a full GC. The state runs twice: with Node's default flags, and with
// `--max-semi-space-size=8` (a smaller young generation: less heap kept after the catch-up's garbage).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedLog } from '@openfactory/log'
import {
  type Asset,
  AssetEvents,
  type DataItem,
  decodeObservation,
  encodeObservation,
  isoTimestamp,
  type Observation,
  TOPICS,
  unavailableObservation,
} from '@openfactory/model'
import { createServingState } from '@openfactory/serve'

const { values: args } = parseArgs({
  options: {
    assets: { type: 'string', default: '10000' },
    items: { type: 'string', default: '20' },
    mode: { type: 'string' },
    dir: { type: 'string' },
  },
})
const N = Number(args.assets)
const M = Number(args.items)
const gc = (globalThis as { gc?: () => void }).gc

function memory(): { rss: number; heap: number } {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 }
}

const UNITS = ['CELSIUS', 'PERCENT', 'MILLIMETER', 'MILLIMETER/SECOND', 'REVOLUTION/MINUTE', 'AMPERE', 'VOLT', 'WATT']

function dataItems(): DataItem[] {
  return Array.from({ length: M }, (_, j): DataItem => {
    if (j % 10 === 9) return { id: `cond${j}`, category: 'Condition', tag: 'System' }
    if (j % 3 === 2) return { id: `event${j}`, category: 'Events', tag: 'Execution' }
    return {
      id: `sample${j}`,
      category: 'Samples',
      tag: 'Temperature',
      units: UNITS[j % UNITS.length],
      subType: 'ACTUAL',
    }
  })
}

function asset(i: number): Asset {
  const uuid = `asset-${i.toString().padStart(6, '0')}-5d1c-4a8e-9f31`
  const levels = { inc: 'Demofactory', area: `Area${i % 10}`, workcenter: `WC${i % 100}`, asset: uuid }
  return {
    uuid,
    type: 'Device',
    uns: { levels, unsId: Object.values(levels).join('/') },
    referencesAbove: ['agent-1'],
    referencesBelow: [],
    dataItems: dataItems(),
    methods: [
      { name: 'Start', description: 'Starts the cycle', arguments: [] },
      {
        name: 'SetSetpoint',
        description: 'Sets the setpoint',
        arguments: [{ name: 'value', type: 'number', required: true }],
      },
    ],
  }
}

function value(item: DataItem, k: number, t: number): Observation {
  const ts = isoTimestamp(t)
  const attributes = { timestamp: ts, ingestion_timestamp: isoTimestamp(t + 3) }
  if (item.category === 'Samples') {
    return {
      id: item.id,
      value: Math.round(k * 137.31) / 100,
      tag: item.tag,
      type: 'Samples',
      attributes: { ...attributes, units: item.units, subType: 'ACTUAL', quality: 'GOOD' },
    }
  }
  if (item.category === 'Events') {
    return { id: item.id, value: k % 2 ? 'ACTIVE' : 'READY', tag: item.tag, type: 'Events', attributes }
  }
  return {
    id: item.id,
    value: k % 2 ? 'WARNING' : 'NORMAL',
    tag: item.tag,
    type: 'Condition',
    attributes: { ...attributes, nativeCode: 'E42', message: 'spindle temperature high' },
  }
}

async function write(dir: string): Promise<number> {
  const log = await openEmbeddedLog({ dir, fsync: false })
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  let records = 0
  const t0 = Date.UTC(2026, 0, 1)
  for (let i = 0; i < N; i += 100) {
    const reg: { key: string; value: string }[] = []
    const obs: { key: string; value: string }[] = []
    for (let a = i; a < Math.min(N, i + 100); a++) {
      const x = asset(a)
      reg.push({ key: x.uuid, value: JSON.stringify(x) })
      const attr = (id: string, v: string): Observation => ({
        id,
        value: v,
        tag: id,
        type: 'OpenFactory',
        attributes: { timestamp: isoTimestamp(t0) },
      })
      const list: Observation[] = [
        attr('AssetType', x.type),
        attr('uns_id', x.uns?.unsId ?? ''),
        attr('references_above', x.referencesAbove.join(',')),
        attr('references_below', ''),
        ...x.methods.map((m) => AssetEvents.method(m, t0).observation),
        ...x.dataItems.map((d) =>
          unavailableObservation({ id: d.id, tag: d.tag, type: d.category }, 'not yet reported', t0),
        ),
        ...x.dataItems.map((d, j) => value(d, a + j, t0 + 1000)),
        ...x.dataItems.map((d, j) => value(d, a + j + 1, t0 + 2000)),
        {
          id: 'avail',
          value: 'AVAILABLE',
          tag: 'Availability',
          type: 'Events',
          attributes: { timestamp: isoTimestamp(t0), ttl_ms: 15000 },
        },
      ]
      for (const o of list) obs.push({ key: x.uuid, value: encodeObservation(o) })
    }
    await log.append(TOPICS.registry, reg)
    await log.append(TOPICS.assets, obs)
    records += reg.length + obs.length
  }
  await log.close()
  return records
}

async function measureState(dir: string) {
  const log = await openEmbeddedLog({ dir })
  const before = memory()
  const t = performance.now()
  const state = createServingState({ eventLog: log })
  await state.ready()
  const seconds = (performance.now() - t) / 1000
  const ready = memory()
  const stats = state.stats()
  await state.close()
  await log.close()
  return { before, ready, seconds, entries: stats.items, assets: stats.assets }
}

async function measureNaive(dir: string) {
  const log = await openEmbeddedLog({ dir })
  const before = memory()
  const table = new Map<string, Observation>()
  const registry = new Map<string, unknown>()
  for (const topic of [TOPICS.registry, TOPICS.assets]) {
    for (const p of (await log.describeTopic(topic)).partitionStates) {
      let offset = p.startOffset
      for (;;) {
        const batch = await log.read(topic, p.partition, offset, { maxRecords: 5000 })
        if (batch.length === 0) break
        for (const r of batch) {
          offset = r.offset + 1
          const key = r.key?.toString() ?? ''
          if (topic === TOPICS.registry) registry.set(key, JSON.parse(r.value?.toString() ?? 'null'))
          else {
            const o = decodeObservation(r.value as Buffer)
            table.set(`${key}|${o.id}`, o)
          }
        }
      }
    }
  }
  const ready = memory()
  await log.close()
  return { before, ready, entries: table.size, assets: registry.size }
}

if (args.mode === 'write') {
  // Leaves a data directory to profile: --mode write --dir <path>
  console.log(`${await write(args.dir as string)} records written to ${args.dir}`)
  process.exit(0)
}
if (args.mode) {
  const dir = args.dir as string
  const result = args.mode === 'state' ? await measureState(dir) : await measureNaive(dir)
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-state-'))
try {
  const t = performance.now()
  const records = await write(dir)
  console.log(
    `setup: ${N} assets × ${M} items, ${records} records written in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}`)
  const run = (mode: string, flags: string[] = []) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        [
          '--expose-gc',
          ...flags,
          new URL(import.meta.url).pathname,
          '--mode',
          mode,
          '--dir',
          dir,
          '--assets',
          String(N),
          '--items',
          String(M),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      ),
    )
  type R = {
    before: { rss: number; heap: number }
    ready: { rss: number; heap: number }
    entries: number
    assets: number
    seconds?: number
  }
  const line = (name: string, r: R) =>
    `${name}: ${r.entries} entries of ${r.assets} assets${r.seconds ? ` rebuilt in ${r.seconds.toFixed(1)} s` : ''}; ` +
    `RSS ${r.ready.rss.toFixed(0)} MiB (process before: ${r.before.rss.toFixed(0)} MiB); live heap +${(r.ready.heap - r.before.heap).toFixed(0)} MiB ` +
    `(${(((r.ready.heap - r.before.heap) * 2 ** 20) / r.entries).toFixed(0)} B/entry)`
  const state = run('state') as R
  const small = run('state', ['--max-semi-space-size=8']) as R
  const naive = run('naive') as R
  console.log(line('asset state, default flags', state))
  console.log(line('asset state, --max-semi-space-size=8', small))
  console.log(line('anchor: Map of decoded observations', naive))
  const heapRatio = (state.ready.heap - state.before.heap) / (naive.ready.heap - naive.before.heap)
  console.log(
    `ratio: live heap state/anchor = ${heapRatio.toFixed(2)}; bar ≤ 300 MiB RSS: default flags ${state.ready.rss.toFixed(0)} MiB ` +
      `(${state.ready.rss <= 300 ? 'met' : 'missed'}), --max-semi-space-size=8 ${small.ready.rss.toFixed(0)} MiB (${small.ready.rss <= 300 ? 'met' : 'missed'})`,
  )
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
