// The alerts app on a real embedded log, run by the connectors' supervisor as `ofa up` runs it: alerts raised and
// cleared as observations cross a threshold, acknowledged through the view the API uses, each change one event on
// ofa_alerts and one `alert_<rule>` observation of the asset — and across a restart in the middle (the log closed
// under the running app, as a crash leaves it, then opened again), every alert exactly once: none twice, none lost.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { createSupervisor, planApp, type Supervisor } from '@openfactory/connectors'
import { eventually } from '@openfactory/connectors/testing'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
import {
  AssetEvents,
  DEFAULT_ASSETS_PARTITIONS,
  decodeAssetEvent,
  encodeAssetEvent,
  type Factory,
  isoTimestamp,
  loadFactory,
  silentLogger,
  TOPICS,
} from '@openfactory/model'
import { ALERTS_TOPIC, type AlertEvent, decodeAlertEvent } from '../src/alert-event.ts'
import { openAlertsView } from '../src/index.ts'

const ASSETS = Array.from({ length: 8 }, (_, i) => `M${i}`)
const T0 = Date.UTC(2026, 0, 1)

async function factoryWith(t: TestContext): Promise<Factory> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-alerts-factory-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'factory.yaml'), 'name: alerts\nbackbone:\n  type: embedded\n')
  await writeFile(
    join(dir, 'apps.yml'),
    [
      'apps:',
      '  alerts:',
      '    uuid: ALERTS',
      '    alerts:',
      '      start: earliest',
      '      tick_ms: 100',
      '      rules:',
      `        - {id: hot, assets: [${ASSETS.join(', ')}], item: temp, above: 80, clear: 70, severity: critical}`,
      '',
    ].join('\n'),
  )
  return loadFactory([dir])
}

async function openLog(dir: string): Promise<EventLog> {
  const log = await openEmbeddedLog({ dir })
  const topics = await log.listTopics()
  if (!topics.includes(TOPICS.assets)) {
    await log.createTopic({ name: TOPICS.assets, partitions: DEFAULT_ASSETS_PARTITIONS })
    await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
    await log.createTopic({ name: TOPICS.connectorState, partitions: 1, cleanupPolicy: 'compact' })
  }
  return log
}

function startApp(log: EventLog, factory: Factory): Supervisor {
  const supervisor = createSupervisor({
    eventLog: log,
    logger: silentLogger,
    heartbeatMs: 100,
    ttlMs: 1000,
    restartBackoff: { initialMs: 20, maxMs: 100 },
  })
  const app = factory.apps[0]
  assert.ok(app)
  const connector = planApp(app, { eventLog: log, factory, env: {}, logger: silentLogger })
  assert.ok(connector)
  supervisor.add(connector)
  return supervisor
}

/** Cycle `c` of asset `a`: 50, 90 (raise), 95, 75 (still active: above the clear level), 60 (clear). */
async function writeCycles(log: EventLog, from: number, to: number): Promise<void> {
  const values = [50, 90, 95, 75, 60]
  for (let c = from; c < to; c++) {
    const records = ASSETS.flatMap((a, i) =>
      values.map((v, k) => {
        const at = T0 + c * 1000 + i * 10 + k
        const o = {
          id: 'temp',
          value: v,
          tag: 'Temperature',
          type: 'Samples' as const,
          attributes: { timestamp: isoTimestamp(at) },
        }
        return { key: a, value: encodeAssetEvent(AssetEvents.observation(o)) }
      }),
    )
    await log.append(TOPICS.assets, records)
  }
}

async function alertEvents(log: EventLog): Promise<AlertEvent[]> {
  return (await readTopic(log, ALERTS_TOPIC)).flatMap((r) => {
    const e = r.value ? decodeAlertEvent(r.value) : undefined
    return e ? [e] : []
  })
}

test('alerts under a supervisor: raised, acknowledged, cleared; a restart in the middle loses and repeats nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-alerts-log-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const factory = await factoryWith(t)
  const CYCLES = 30
  const HALF = 12

  // First run: half of the cycles, then the log closes under the running app (what a crash leaves).
  let log = await openLog(dir)
  let supervisor = startApp(log, factory)
  await supervisor.start()
  await writeCycles(log, 0, HALF)
  await eventually(
    async () => ((await alertEvents(log)).length >= HALF * ASSETS.length ? true : undefined),
    30_000,
    'alerts of the first half',
  )
  await writeCycles(log, HALF, HALF + 3)
  await log.close()
  await supervisor.stop()

  // Second run, on the log as it was left: the rest of the cycles, and an alert held raised to acknowledge.
  log = await openLog(dir)
  t.after(() => log.close())
  supervisor = startApp(log, factory)
  t.after(() => supervisor.stop())
  await supervisor.start()
  await writeCycles(log, HALF + 3, CYCLES)
  const view = openAlertsView(log)
  t.after(() => view.close())
  const held = T0 + CYCLES * 1000
  await log.append(TOPICS.assets, [
    {
      key: 'M3',
      value: encodeAssetEvent(
        AssetEvents.observation({
          id: 'temp',
          value: 99,
          tag: 'Temperature',
          type: 'Samples',
          attributes: { timestamp: isoTimestamp(held) },
        }),
      ),
    },
  ])
  await eventually(
    () => (view.get('M3', 'hot')?.raisedAt === isoTimestamp(held) ? true : undefined),
    30_000,
    'the held alert',
  )
  const ack = await view.ack('M3', 'hot', 'key:test', { timeoutMs: 30_000 })
  assert.equal(ack.written, true)
  assert.equal(ack.confirmed, true)
  assert.equal(ack.alert.state, 'acknowledged')
  assert.equal(ack.alert.by, 'key:test')
  // Acknowledged twice: nothing written the second time.
  assert.equal((await view.ack('M3', 'hot', 'key:test')).written, false)
  await log.append(TOPICS.assets, [
    {
      key: 'M3',
      value: encodeAssetEvent(
        AssetEvents.observation({
          id: 'temp',
          value: 10,
          tag: 'Temperature',
          type: 'Samples',
          attributes: { timestamp: isoTimestamp(held + 1) },
        }),
      ),
    },
  ])
  const expected = CYCLES * ASSETS.length * 2 + 3
  const events = await eventually(
    async () => {
      const all = await alertEvents(log)
      return all.length >= expected && view.get('M3', 'hot') === undefined ? all : undefined
    },
    30_000,
    'every alert event',
  )

  // Exactly once: per asset, raised then cleared for every cycle, in order, each once.
  assert.equal(events.length, expected, 'no event twice')
  for (const [i, a] of ASSETS.entries()) {
    const mine = events.filter((e) => e.asset === a)
    const cycles = mine.filter((e) => e.raisedAt !== isoTimestamp(held))
    assert.deepEqual(
      cycles.map((e) => `${e.state}@${e.at}`),
      Array.from({ length: CYCLES }, (_, c) => [
        `raised@${isoTimestamp(T0 + c * 1000 + i * 10 + 1)}`,
        `cleared@${isoTimestamp(T0 + c * 1000 + i * 10 + 4)}`,
      ]).flat(),
      `asset ${a}`,
    )
    assert.ok(cycles.every((e) => e.app === 'ALERTS' && e.rule === 'hot' && e.severity === 'critical'))
  }
  assert.deepEqual(
    events.filter((e) => e.raisedAt === isoTimestamp(held)).map((e) => e.state),
    ['raised', 'acknowledged', 'cleared'],
  )
  // Open: the last alert of every other asset, cleared and never acknowledged; M3's was acknowledged, so it is over.
  assert.deepEqual(
    view
      .list()
      .map((e) => `${e.asset}:${e.state}:${e.active}:${e.acked}`)
      .sort(),
    ASSETS.filter((a) => a !== 'M3').map((a) => `${a}:cleared:false:false`),
  )

  // Each change is an observation of the asset too: the Condition item alert_hot, as many as the events.
  const conditions = (await readTopic(log, TOPICS.assets)).flatMap((r) => {
    if (!r.value) return []
    const e = decodeAssetEvent(r.value)
    return e.kind === 'observation' && e.observation.id === 'alert_hot' ? [e.observation] : []
  })
  assert.equal(conditions.length, expected)
  assert.deepEqual([...new Set(conditions.map((o) => `${o.type}:${o.value}`))].sort(), [
    'Condition:FAULT',
    'Condition:NORMAL',
  ])
})
