// The evaluation of alert rules (evaluator.ts), record by record over in-memory stores: thresholds with hysteresis
// and a minimum duration, condition levels, availability lost (and heartbeats that expire), acks and clears in
// either order, selectors by UNS and type, and the bounds on what is kept.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type AssetEvent, AssetEvents, decodeAssetEvent, isoTimestamp, type Observation } from '@openfactory/model'
import type { AlertEvent } from '../src/alert-event.ts'
import type { ControlRecord } from '../src/control.ts'
import {
  AlertEvaluator,
  type EvaluatorOutput,
  type EvaluatorStores,
  MAX_CONDITION_CODES,
  memoryStores,
} from '../src/evaluator.ts'
import { alertsConfig } from '../src/rules.ts'

type Rules = Parameters<typeof alertsConfig>[0]['rules']

function harness(rules: Rules, opts: { maxTracked?: number } = {}) {
  const evaluator = new AlertEvaluator({
    app: 'ALERTS',
    config: alertsConfig({ rules, ...(opts.maxTracked ? { max_tracked: opts.maxTracked } : {}) }),
  })
  const stores: EvaluatorStores = memoryStores()
  const events: AlertEvent[] = []
  const observations: { asset: string; o: Observation }[] = []
  const out: EvaluatorOutput = {
    alert: (e) => events.push(e),
    observation: (asset, o) => observations.push({ asset, o: o as Observation }),
  }
  const at = (t: number) => isoTimestamp(Date.UTC(2026, 0, 1) + t)
  const logTime = (t: number) => Date.UTC(2026, 0, 1) + t
  return {
    evaluator,
    stores,
    events,
    observations,
    states: () => events.map((e) => `${e.asset}/${e.rule}:${e.state}`),
    sample(asset: string, id: string, value: number | string, t: number) {
      const o: Observation = { id, value, tag: 'Temperature', type: 'Samples', attributes: { timestamp: at(t) } }
      evaluator.asset(stores, out, asset, AssetEvents.observation(o), logTime(t))
    },
    condition(asset: string, id: string, level: string, t: number, code = '') {
      const o: Observation = {
        id,
        value: level,
        tag: 'System',
        type: 'Condition',
        attributes: { timestamp: at(t), ...(code ? { nativeCode: code } : {}) },
      }
      evaluator.asset(stores, out, asset, AssetEvents.observation(o), logTime(t))
    },
    event(asset: string, e: AssetEvent, t: number) {
      evaluator.asset(stores, out, asset, e, logTime(t))
    },
    avail(asset: string, available: boolean, t: number, ttlMs?: number) {
      const o: Observation = {
        id: 'avail',
        value: available ? 'AVAILABLE' : 'UNAVAILABLE',
        tag: 'Availability',
        type: 'Events',
        attributes: { timestamp: at(t), ...(ttlMs ? { ttl_ms: ttlMs } : {}) },
      }
      evaluator.asset(
        stores,
        out,
        asset,
        decodeAssetEvent(JSON.stringify({ ...o, ID: o.id, VALUE: o.value, TAG: o.tag, TYPE: o.type })),
        logTime(t),
      )
    },
    tick(t: number) {
      evaluator.control(stores, out, { kind: 'tick', app: 'ALERTS' }, logTime(t))
    },
    ack(asset: string, rule: string, t: number, extra: Partial<ControlRecord> = {}) {
      const open = [...events].reverse().find((e) => e.asset === asset && e.rule === rule)
      evaluator.control(
        stores,
        out,
        {
          kind: 'ack',
          app: 'ALERTS',
          asset,
          rule,
          raisedAt: open?.raisedAt ?? '',
          by: 'key:op',
          at: at(t),
          ...extra,
        } as ControlRecord,
        logTime(t),
      )
    },
    at,
  }
}

test('a threshold with hysteresis: raised above the level, cleared only below the clear level', () => {
  const h = harness([{ id: 'hot', asset: 'M1', item: 'temp', above: 80, clear: 75, severity: 'critical' }])
  h.sample('M1', 'temp', 79, 0)
  h.sample('M1', 'temp', 80, 1)
  assert.deepEqual(h.states(), [], 'at the level is not above it')
  h.sample('M1', 'temp', 81, 2)
  h.sample('M1', 'temp', 90, 3)
  h.sample('M1', 'temp', 78, 4)
  assert.deepEqual(h.states(), ['M1/hot:raised'], 'once; 78 is above the clear level')
  h.sample('M1', 'temp', 74, 5)
  assert.deepEqual(h.states(), ['M1/hot:raised', 'M1/hot:cleared'])
  const [raised, cleared] = h.events as [AlertEvent, AlertEvent]
  assert.equal(raised.at, h.at(2))
  assert.equal(raised.raisedAt, h.at(2))
  assert.equal(raised.severity, 'critical')
  assert.equal(raised.value, 81)
  assert.equal(raised.item, 'temp')
  assert.match(raised.message, /^temp 81 above 80$/)
  assert.equal(cleared.raisedAt, h.at(2))
  assert.equal(cleared.at, h.at(5))
  assert.deepEqual([cleared.active, cleared.acked], [false, false])
  // Each change is also an observation of the asset: the Condition item alert_hot.
  assert.deepEqual(
    h.observations.map(({ asset, o }) => [asset, o.id, o.type, o.value, o.attributes.alert_state]),
    [
      ['M1', 'alert_hot', 'Condition', 'FAULT', 'raised'],
      ['M1', 'alert_hot', 'Condition', 'NORMAL', 'cleared'],
    ],
  )
  // Cleared but not acknowledged: still open; raised again, a new alert replaces it.
  h.sample('M1', 'temp', 85, 6)
  assert.equal(h.events.at(-1)?.state, 'raised')
  assert.equal(h.events.at(-1)?.raisedAt, h.at(6))
  // A value that is no number (UNAVAILABLE) leaves the alert as it is.
  h.sample('M1', 'temp', 'UNAVAILABLE', 7)
  assert.equal(h.events.length, 3)
})

test('below, with the clear level above it; the clear level defaults to the threshold', () => {
  const h = harness([
    { id: 'low', asset: 'M1', item: 'p', below: 2, clear: 2.5 },
    { id: 'cold', asset: 'M1', item: 't', below: 0 },
  ])
  h.sample('M1', 'p', 1.9, 0)
  h.sample('M1', 'p', 2.4, 1)
  h.sample('M1', 'p', 2.6, 2)
  h.sample('M1', 't', -1, 3)
  h.sample('M1', 't', 0, 4)
  h.sample('M1', 't', 0.1, 5)
  assert.deepEqual(h.states(), ['M1/low:raised', 'M1/low:cleared', 'M1/cold:raised', 'M1/cold:cleared'])
  assert.equal(h.events[3]?.at, h.at(5), 'at the level is not over it')
})

test('for_ms: raised once the value held for the duration, by a later value or a tick; a dip cancels it', () => {
  const h = harness([{ id: 'hot', asset: 'M1', item: 'temp', above: 80, for_ms: 5000 }])
  h.sample('M1', 'temp', 81, 0)
  h.sample('M1', 'temp', 85, 3000)
  h.tick(4999)
  assert.deepEqual(h.states(), [])
  h.tick(5000)
  assert.deepEqual(h.states(), ['M1/hot:raised'])
  assert.equal(h.events[0]?.at, h.at(5000), 'when the duration ran out')
  assert.match(h.events[0]?.message ?? '', /temp 85 above 80 for 5000 ms/)
  h.sample('M1', 'temp', 70, 6000)
  // Held, dipped, held again: the wait starts over.
  h.sample('M1', 'temp', 81, 10_000)
  h.sample('M1', 'temp', 79, 12_000)
  h.sample('M1', 'temp', 81, 13_000)
  h.tick(17_999)
  assert.deepEqual(h.states(), ['M1/hot:raised', 'M1/hot:cleared'])
  h.sample('M1', 'temp', 82, 18_000)
  assert.deepEqual(h.states(), ['M1/hot:raised', 'M1/hot:cleared', 'M1/hot:raised'], 'by a value after the wait')
  assert.equal(h.events[2]?.at, h.at(18_000))
})

test('condition levels: WARNING raises at WARNING or FAULT, FAULT at FAULT only; cleared by NORMAL', () => {
  const h = harness([
    { id: 'warn', asset: 'M1', item: 'system', condition: 'WARNING' },
    { id: 'fault', asset: 'M1', item: 'system', condition: 'FAULT', severity: 'critical' },
  ])
  h.condition('M1', 'system', 'WARNING', 0, 'W1')
  assert.deepEqual(h.states(), ['M1/warn:raised'])
  h.condition('M1', 'system', 'FAULT', 1, 'F1')
  assert.deepEqual(h.states(), ['M1/warn:raised', 'M1/fault:raised'])
  assert.match(h.events[1]?.message ?? '', /system FAULT F1/)
  h.condition('M1', 'system', 'NORMAL', 2, 'F1')
  assert.deepEqual(h.states().slice(2), ['M1/fault:cleared'], 'W1 is still active')
  // UNAVAILABLE is not known: nothing changes.
  h.condition('M1', 'system', 'UNAVAILABLE', 3)
  assert.equal(h.events.length, 3)
  h.condition('M1', 'system', 'NORMAL', 4)
  assert.deepEqual(h.states().slice(3), ['M1/warn:cleared'], 'NORMAL without a code clears every code')
  h.condition('M1', 'system', 'WARNING', 5, 'W2')
  h.condition('M1', 'system', 'NORMAL', 6, 'W2')
  assert.deepEqual(h.states().slice(4), ['M1/warn:raised', 'M1/warn:cleared'])
  // A sample item of another id is not the condition's.
  h.sample('M1', 'other', 1, 7)
  assert.equal(h.events.length, 6)
})

test('availability lost for longer than N: an UNAVAILABLE avail, or an AVAILABLE heartbeat whose ttl ran out', () => {
  const h = harness([{ id: 'offline', assets: ['M1', 'M2'], unavailable_for_ms: 10_000 }])
  h.avail('M1', false, 0)
  h.tick(9_999)
  assert.deepEqual(h.states(), [])
  h.tick(10_000)
  assert.deepEqual(h.states(), ['M1/offline:raised'])
  assert.equal(h.events[0]?.at, h.at(10_000))
  h.avail('M1', true, 11_000, 15_000)
  assert.deepEqual(h.states(), ['M1/offline:raised', 'M1/offline:cleared'])
  // Back before N: nothing.
  h.avail('M2', false, 12_000)
  h.avail('M2', true, 20_000, 15_000)
  h.tick(30_000)
  assert.deepEqual(h.states().length, 2)
  // Heartbeats that stop: M1's last (11 000, ttl 15 000) expires at 26 000, raised at 36 000; M2's (20 000) at
  // 35 000, raised at 45 000.
  h.tick(35_000)
  assert.equal(h.events.length, 2)
  h.tick(44_999)
  assert.deepEqual(h.states().slice(2), ['M1/offline:raised'])
  assert.equal(h.events[2]?.at, h.at(36_000))
  assert.match(h.events[2]?.message ?? '', /heartbeat expired/)
  h.tick(45_000)
  assert.deepEqual(h.states().slice(3), ['M2/offline:raised'])
  // Not targeted: another asset's avail.
  h.avail('M3', false, 46_000)
  h.tick(100_000)
  assert.equal(h.events.length, 4)
})

test('ack then clear, clear then ack: each change once; the alert is over after both', () => {
  const h = harness([{ id: 'hot', asset: 'M1', item: 'temp', above: 80 }])
  h.sample('M1', 'temp', 81, 0)
  h.ack('M1', 'hot', 1)
  h.ack('M1', 'hot', 2) // a second ack (a client retrying): ignored
  assert.deepEqual(h.states(), ['M1/hot:raised', 'M1/hot:acknowledged'])
  assert.equal(h.events[1]?.by, 'key:op')
  assert.deepEqual([h.events[1]?.active, h.events[1]?.acked], [true, true])
  h.sample('M1', 'temp', 70, 3)
  assert.deepEqual(h.states().slice(2), ['M1/hot:cleared'])
  assert.deepEqual([h.events[2]?.active, h.events[2]?.acked], [false, true])
  assert.equal(h.stores.alerts.size, 0, 'over: nothing kept')

  h.sample('M1', 'temp', 90, 4)
  h.sample('M1', 'temp', 60, 5)
  assert.equal(h.stores.alerts.size, 1, 'cleared, not acknowledged: kept')
  h.ack('M1', 'hot', 6)
  assert.deepEqual(h.states().slice(3), ['M1/hot:raised', 'M1/hot:cleared', 'M1/hot:acknowledged'])
  assert.deepEqual([h.events[5]?.active, h.events[5]?.acked], [false, true])
  assert.equal(h.stores.alerts.size, 0)
  assert.deepEqual(
    h.observations.slice(3).map(({ o }) => [o.value, o.attributes.alert_state, o.attributes.acked]),
    [
      ['WARNING', 'raised', false],
      ['NORMAL', 'cleared', false],
      ['NORMAL', 'acknowledged', true],
    ],
  )

  // Acks that name nothing open, an earlier raise, or another app: ignored.
  h.sample('M1', 'temp', 95, 7)
  h.ack('M1', 'hot', 8, { raisedAt: h.at(4) })
  h.ack('M1', 'hot', 8, { app: 'OTHER' })
  h.ack('M1', 'nope', 8)
  h.ack('M9', 'hot', 8)
  assert.equal(h.events.at(-1)?.state, 'raised')
  assert.equal(
    h.evaluator.stats.ignoredAcks,
    4,
    'the duplicate and three that name nothing open (another app’s are not ours)',
  )
})

test('selectors: a UNS pattern and an asset type, learnt from the declarations on ofa_assets', () => {
  const h = harness([
    { id: 'hot', uns: 'Plant/Machining/#', item: 'temp', above: 80 },
    { id: 'devhot', asset_type: 'Device', item: 'temp', above: 100 },
  ])
  h.event('M1', AssetEvents.declaration('uns_id', 'Plant/Machining/WC1/M1'), 0)
  h.event('M1', AssetEvents.declaration('AssetType', 'Device'), 0)
  h.event('A1', AssetEvents.declaration('uns_id', 'Plant/Assembly/WC2/A1'), 0)
  h.event('A1', AssetEvents.declaration('AssetType', 'Device'), 0)
  h.sample('M1', 'temp', 101, 1)
  h.sample('A1', 'temp', 101, 1)
  h.sample('X1', 'temp', 101, 1)
  assert.deepEqual(h.states().sort(), ['A1/devhot:raised', 'M1/devhot:raised', 'M1/hot:raised'])
  // Moved out of Machining: no longer targeted by hot (its open alert stays as it was).
  h.event('M1', AssetEvents.declaration('uns_id', 'Plant/Assembly/WC2/M1'), 2)
  h.sample('M1', 'temp', 50, 3)
  assert.deepEqual(h.states().slice(3), ['M1/devhot:cleared'])

  // `#` alone selects every asset, even one with no UNS placement.
  const any = harness([{ id: 'any', uns: '#', item: 'temp', above: 200 }])
  any.sample('X1', 'temp', 201, 0)
  assert.deepEqual(any.states(), ['X1/any:raised'])
})

test('bounds: past max_tracked an entry is not kept (counted); condition codes are capped', () => {
  const h = harness([{ id: 'hot', uns: '#', item: 'temp', above: 80 }], { maxTracked: 3 })
  for (let i = 0; i < 5; i++) {
    h.event(`M${i}`, AssetEvents.declaration('uns_id', `P/M${i}`), 0)
  }
  assert.equal(h.stores.assets.size, 3)
  for (let i = 0; i < 3; i++) h.sample(`M${i}`, 'temp', 90, 1)
  assert.equal(h.events.length, 3)
  // A flood on the tracked assets changes entries, never adds past the bound.
  for (let t = 0; t < 1000; t++) h.sample(`M${t % 3}`, 'temp', 85 + (t % 5), 2 + t)
  assert.equal(h.stores.alerts.size, 3)
  assert.ok(h.evaluator.stats.untracked >= 2)

  const c = harness([{ id: 'warn', asset: 'M1', item: 'system', condition: 'WARNING' }], { maxTracked: 1 })
  for (let i = 0; i < MAX_CONDITION_CODES + 10; i++) c.condition('M1', 'system', 'WARNING', i, `W${i}`)
  const entry = c.stores.alerts.get('M1\u0000warn')
  assert.equal(entry?.conditions?.length, MAX_CONDITION_CODES)
  assert.equal(entry?.conditions?.[0]?.nativeCode, 'W10', 'the oldest codes went')
  assert.deepEqual(c.states(), ['M1/warn:raised'])
  // A second pending entry past max_tracked 1: not kept, not raised.
  const d = harness([{ id: 'hot', assets: ['M1', 'M2'], item: 'temp', above: 80, for_ms: 10 }], { maxTracked: 1 })
  d.sample('M1', 'temp', 90, 0)
  d.sample('M2', 'temp', 90, 0)
  d.tick(20)
  assert.deepEqual(d.states(), ['M1/hot:raised'])
  assert.equal(d.evaluator.stats.untracked, 1)
})
