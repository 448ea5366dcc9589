// Alert evaluation rate per core (issue 17): `ofa_assets` records decoded and evaluated against the rules of an
// alerts app, beside an anchor measured in the same run.
//
//   npx node bench/alerts.ts [--seconds 2] [--rounds 3] [--assets 200] [--rules 10] [--records 200000]
//
// Cases, each on one core (this process's main thread):
// - anchor: a bare loop that decodes the same records with model's codec (`decodeAssetEvent`) and compares each value
//   with a threshold — the least any evaluation must do;
// - evaluator: the same records through `AlertEvaluator` (packages/alerts/src/evaluator.ts) with `--rules` threshold
//   rules over every asset (each with hysteresis; half of them with a `for_ms`), over in-memory stores — the
//   evaluation alone, what a task does per record;
// - processor: the alerts app's processor run by packages/sql's runtime on an embedded log (fsync on) holding
//   `--records` records, from the start to the last record: decoding, evaluation, alert events and observations
//   written, checkpoints (exactly once) — records per second end to end, 6 partitions (one task each, one thread);
//   beside anchor 2, the same runtime, inputs and outputs with a process that only decodes each record.
// Values cycle so that about 1 record in 10 raises or clears an alert: the outputs are written, not only counted.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedLog } from '@openfactory/log'
import {
  AssetEvents,
  DEFAULT_ASSETS_PARTITIONS,
  decodeAssetEvent,
  encodeAssetEvent,
  isoTimestamp,
  TOPICS,
} from '@openfactory/model'
import { defineProcessor, runProcessor } from '@openfactory/sql'
import { ALERTS_TOPIC } from '../packages/alerts/src/alert-event.ts'
import { alertsProcessor, ensureAlertTopics } from '../packages/alerts/src/alerts-app.ts'
import { ALERTS_CONTROL_TOPIC } from '../packages/alerts/src/control.ts'
import { AlertEvaluator, type EvaluatorStores, memoryStores } from '../packages/alerts/src/evaluator.ts'
import { alertsConfig } from '../packages/alerts/src/rules.ts'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    assets: { type: 'string', default: '200' },
    rules: { type: 'string', default: '10' },
    records: { type: 'string', default: '200000' },
  },
})
const SECONDS = Number(args.seconds)
const ROUNDS = Number(args.rounds)
const ASSETS = Number(args.assets)
const RULES = Number(args.rules)
const RECORDS = Number(args.records)
const T0 = Date.UTC(2026, 0, 1)

// Rule r watches item `i<r>` above 80 + r (clear 70 + r); odd rules hold for 500 ms first.
const spec = {
  max_tracked: 1_000_000,
  rules: Array.from({ length: RULES }, (_, r) => ({
    id: `r${r}`,
    uns: '#',
    item: `i${r}`,
    above: 80 + r,
    clear: 70 + r,
    ...(r % 2 === 1 ? { for_ms: 500 } : {}),
  })),
}
const uuid = (a: number) => `M${String(a).padStart(4, '0')}`
// One record per (asset, item), values cycling 60, 75, 90, 95, 85, 72, 65, 60, 55, 50 (+ rule offset).
const CYCLE = [60, 75, 90, 95, 85, 72, 65, 60, 55, 50]
function record(n: number): { key: string; value: string; timestamp: number } {
  const a = n % ASSETS
  const r = Math.floor(n / ASSETS) % RULES
  const step = Math.floor(n / (ASSETS * RULES))
  const at = T0 + n
  const value = (CYCLE[step % CYCLE.length] as number) + r
  const o = {
    id: `i${r}`,
    value,
    tag: 'Temperature',
    type: 'Samples' as const,
    attributes: { timestamp: isoTimestamp(at) },
  }
  return { key: uuid(a), value: encodeAssetEvent(AssetEvents.observation(o)), timestamp: at }
}
const SAMPLE = 100_000
const records = Array.from({ length: SAMPLE }, (_, n) => record(n))
const bytes = records.map((r) => Buffer.from(r.value))

function timed(run: (from: number) => number): number {
  const rates: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    let n = 0
    const start = performance.now()
    const end = start + SECONDS * 1000
    while (performance.now() < end) n += run(n)
    rates.push(n / ((performance.now() - start) / 1000))
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number
}

// Anchor: decode, compare.
let sink = 0
const anchor = timed(() => {
  for (let i = 0; i < SAMPLE; i++) {
    const e = decodeAssetEvent(bytes[i] as Buffer)
    if (e.kind === 'observation' && typeof e.observation.value === 'number' && e.observation.value > 80) sink++
  }
  return SAMPLE
})

// The evaluator: decode, evaluate (the stores persist across rounds: alerts keep being raised and cleared).
const evaluator = new AlertEvaluator({ app: 'BENCH', config: alertsConfig(spec as never) })
const stores: EvaluatorStores = memoryStores()
let emitted = 0
const out = { alert: () => void emitted++, observation: () => {} }
for (let a = 0; a < ASSETS; a++) {
  evaluator.asset(stores, out, uuid(a), AssetEvents.declaration('uns_id', `F/A/${uuid(a)}`), T0)
}
let offset = 0
const evaluated = timed(() => {
  for (let i = 0; i < SAMPLE; i++) {
    const e = decodeAssetEvent(bytes[i] as Buffer)
    evaluator.asset(stores, out, records[i]?.key as string, e, offset + (records[i]?.timestamp as number))
  }
  offset += SAMPLE
  return SAMPLE
})

// The processor on an embedded log, end to end.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-alerts-'))
let processorRate = 0
let runtimeRate = 0
let alertEvents = 0
try {
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: TOPICS.assets, partitions: DEFAULT_ASSETS_PARTITIONS })
  await ensureAlertTopics(log)
  const declarations = Array.from({ length: ASSETS }, (_, a) => ({
    key: uuid(a),
    value: encodeAssetEvent(AssetEvents.declaration('uns_id', `F/A/${uuid(a)}`)),
  }))
  await log.append(TOPICS.assets, declarations)
  for (let n = 0; n < RECORDS; n += 10_000) {
    await log.append(
      TOPICS.assets,
      Array.from({ length: Math.min(10_000, RECORDS - n) }, (_, i) => record(n + i)),
    )
  }
  const ends = async () => (await log.describeTopic(TOPICS.assets)).partitionStates.reduce((s, p) => s + p.endOffset, 0)
  const inputEnd = await ends()
  const run = async (processor: Parameters<typeof runProcessor>[0]['spec']) => {
    const start = performance.now()
    const handle = runProcessor({ eventLog: log, spec: processor, resetTo: 'earliest' })
    await handle.ready
    const processed = () => Object.values(handle.stats().tasks).reduce((s, t) => s + t.processed, 0)
    while (processed() < inputEnd) await new Promise((r) => setTimeout(r, 20))
    const rate = inputEnd / ((performance.now() - start) / 1000)
    await handle.stop()
    return rate
  }
  // The runtime alone: the same inputs and outputs, a process that decodes each record and emits nothing.
  runtimeRate = await run(
    defineProcessor({
      id: 'bench_empty',
      inputs: [TOPICS.assets, ALERTS_CONTROL_TOPIC],
      outputs: [TOPICS.assets, ALERTS_TOPIC],
      process(record, ctx) {
        if (record.input === 0) ctx.asset(record)
      },
    }),
  )
  processorRate = await run(alertsProcessor('BENCH', alertsConfig(spec as never)).spec)
  alertEvents = (await log.describeTopic(ALERTS_TOPIC)).partitionStates.reduce((s, p) => s + p.endOffset, 0)
  await log.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
console.log(`alerts: ${ASSETS} assets, ${RULES} rules over every asset; median of ${ROUNDS} × ${SECONDS} s; one core`)
console.log(`  anchor: decode + compare a threshold   ${fmt(anchor)} records/s`)
console.log(
  `  evaluator: decode + evaluate            ${fmt(evaluated)} records/s (${Math.round((evaluated / anchor) * 100)}% of the anchor; ${fmt(emitted)} alert events)`,
)
console.log(
  `  processor runtime, decode only         ${fmt(runtimeRate)} records/s (anchor 2: the exactly-once runtime on the embedded log, ${fmt(RECORDS)} records)`,
)
console.log(
  `  alerts processor on the embedded log   ${fmt(processorRate)} records/s (${Math.round((processorRate / runtimeRate) * 100)}% of anchor 2; ${fmt(alertEvents)} alert events written, exactly once)`,
)
if (sink < 0) console.log(sink)
