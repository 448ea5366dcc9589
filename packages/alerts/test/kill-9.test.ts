// Exactly once across a crash: `ofa up` (a process of its own) runs three simulated machines whose temperature swings
// over and under an alert's threshold, and is killed with SIGKILL in the middle (no stop, no flush); started again on
// the same data, it runs on, then stops. What `ofa_alerts` holds must then be, for every machine, a prefix of what a
// clean evaluation of the same `ofa_assets` records gives (the rule's evaluator run offline, in each partition's
// order), and, once the app's processor ran on from its checkpoint to the end of the log, all of it: no alert event
// twice, none missing.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { openEmbeddedLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
import { decodeAssetEvent, TOPICS } from '@openfactory/model'
import { runProcessor } from '@openfactory/sql'
import { eventually, ofa, startOfa, tempDir } from '../../cli/test/helpers.ts'
import { ALERTS_TOPIC, type AlertEvent, decodeAlertEvent } from '../src/alert-event.ts'
import { alertsProcessor } from '../src/alerts-app.ts'
import { AlertEvaluator, type EvaluatorStores, memoryStores } from '../src/evaluator.ts'
import { alertsConfig } from '../src/rules.ts'

const MACHINES = ['OVEN-1', 'OVEN-2', 'OVEN-3']
const RULE = { id: 'hot', assets: MACHINES, item: 'temp', above: 70, clear: 30, severity: 'warning' as const }

async function alertCount(data: string): Promise<number | undefined> {
  const r = await ofa(['log', 'tail', 'ofa_alerts', '--data', data])
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '').length : undefined
}

test('ofa up killed with SIGKILL mid-run and started again: ofa_alerts holds each alert event exactly once', {
  timeout: 180_000,
}, async (t) => {
  const dir = await tempDir(t, 'ofa-alerts-kill-')
  const data = join(dir, 'data')
  const factory = join(dir, 'factory')
  await mkdir(factory)
  await writeFile(join(factory, 'factory.yaml'), 'name: crash\nbackbone:\n  type: embedded\n')
  await writeFile(
    join(factory, 'devices.yml'),
    [
      'devices:',
      ...MACHINES.flatMap((uuid, i) => [
        `  oven${i}:`,
        `    uuid: ${uuid}`,
        '    connector:',
        '      type: simulator',
        '      interval_ms: 20',
        '      items:',
        `        temp: {tag: Temperature, category: Samples, signal: sine, offset: 50, amplitude: 45, period_s: ${0.6 + i * 0.2}}`,
      ]),
      '',
    ].join('\n'),
  )
  await writeFile(
    join(factory, 'apps.yml'),
    [
      'apps:',
      '  alerts:',
      '    uuid: ALERTS',
      '    alerts:',
      '      start: earliest',
      '      tick_ms: 100',
      '      rules:',
      `        - ${JSON.stringify(RULE)}`,
      '',
    ].join('\n'),
  )

  // First run: killed once alerts are flowing.
  const first = startOfa(t, ['up', factory, '--port', '0', '--data', data], {})
  await first.url
  await eventually(async () => ((await alertCount(data)) ?? 0) >= 20 || undefined, 'alerts before the kill', 60_000)
  process.kill(-(first.child.pid as number), 'SIGKILL')
  await first.exited

  // Second run on what the crash left, until more alerts came; then a clean stop.
  const second = startOfa(t, ['up', factory, '--port', '0', '--data', data], {})
  await second.url
  const before = (await alertCount(data)) ?? 0
  await eventually(
    async () => ((await alertCount(data)) ?? 0) >= before + 20 || undefined,
    'alerts after the restart',
    60_000,
  )
  second.child.kill('SIGTERM')
  await second.exited

  const log = await openEmbeddedLog({ dir: data })
  t.after(() => log.close())
  const readWritten = async () =>
    (await readTopic(log, ALERTS_TOPIC)).flatMap((r) => {
      const e = r.value ? decodeAlertEvent(r.value) : undefined
      return e ? [e] : []
    })
  // The clean evaluation: every ofa_assets record in its partition's order, through a fresh evaluator.
  const evaluator = new AlertEvaluator({ app: 'ALERTS', config: alertsConfig({ rules: [RULE] }) })
  const expected: AlertEvent[] = []
  const out = { alert: (e: AlertEvent) => expected.push(e), observation: () => {} }
  const partitions = new Map<number, EvaluatorStores>()
  for (const r of await readTopic(log, TOPICS.assets)) {
    if (!r.key || !r.value) continue
    let stores = partitions.get(r.partition)
    if (!stores) {
      stores = memoryStores()
      partitions.set(r.partition, stores)
    }
    evaluator.asset(stores, out, r.key.toString(), decodeAssetEvent(r.value), r.timestamp)
  }
  const byAsset = (events: AlertEvent[], uuid: string) =>
    events.filter((e) => e.asset === uuid).map((e) => `${e.state} ${e.raisedAt} ${e.at} ${e.value ?? ''}`)
  // The app stopped when the factory did, maybe before the last records: what it wrote is a prefix of the clean run.
  const stopped = await readWritten()
  for (const uuid of MACHINES) {
    const got = byAsset(stopped, uuid)
    assert.deepEqual(got, byAsset(expected, uuid).slice(0, got.length), uuid)
  }
  assert.ok(stopped.length > before, 'alerts written after the restart')
  // The app's processor once more on the same checkpoint, to the end of the log: then exactly the clean run.
  const { spec } = alertsProcessor('ALERTS', alertsConfig({ rules: [RULE] }))
  const handle = runProcessor({ eventLog: log, spec })
  await handle.ready
  const written = await eventually(
    async () => {
      const all = await readWritten()
      return all.length >= expected.length ? all : undefined
    },
    'the rest of the alerts',
    60_000,
  )
  await handle.stop()
  for (const uuid of MACHINES) assert.deepEqual(byAsset(written, uuid), byAsset(expected, uuid), uuid)
  assert.equal(written.length, expected.length)
  assert.ok(expected.length >= 40, `${expected.length} alert events`)
})
