// The view of open alerts the API serves (alerts-view.ts), over a real embedded log: an alert is listed until it is
// both cleared and acknowledged (either order), the most recently changed first; past `maxAlerts` the one read
// longest ago goes (counted); an ack of nothing open is OFA_ALERT_NOT_FOUND; a view opened before `ofa_alerts` exists finds it later.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createFactoryTestLog, eventually } from '@openfactory/connectors/testing'
import { isOpenFactoryError } from '@openfactory/model'
import { ALERTS_TOPIC, type AlertEvent, alertKey } from '../src/alert-event.ts'
import { ensureAlertTopics } from '../src/alerts-app.ts'
import { openAlertsView } from '../src/alerts-view.ts'

function event(asset: string, state: AlertEvent['state'], active: boolean, acked: boolean, second = 0): AlertEvent {
  return {
    rule: 'hot',
    asset,
    app: 'ALERTS',
    state,
    severity: 'warning',
    at: `2026-01-01T00:00:${String(second).padStart(2, '0')}.000Z`,
    raisedAt: '2026-01-01T00:00:00.000Z',
    message: 'temp 90 above 80',
    active,
    acked,
  }
}

test('open alerts: listed until cleared and acknowledged; bounded by maxAlerts', async (t) => {
  const { log } = await createFactoryTestLog(t)
  const view = openAlertsView(log, { maxAlerts: 3, retryMs: 20 })
  t.after(() => view.close())
  await view.ready()
  assert.deepEqual(view.list(), [], 'no ofa_alerts yet')
  await ensureAlertTopics(log)
  const put = (...events: AlertEvent[]) =>
    log.append(
      ALERTS_TOPIC,
      events.map((e) => ({ key: alertKey(e.asset, e.rule), value: JSON.stringify(e) })),
    )
  await put(event('A', 'raised', true, false), event('B', 'raised', true, false))
  await eventually(() => (view.list().length === 2 ? true : undefined), 10_000, 'two alerts')
  // A: acknowledged then cleared (over). B: cleared, not acknowledged (open).
  await put(
    event('A', 'acknowledged', true, true),
    event('A', 'cleared', false, true),
    event('B', 'cleared', false, false),
  )
  await eventually(() => (view.get('A', 'hot') === undefined ? true : undefined), 10_000, 'A over')
  assert.deepEqual(
    view.list().map((e) => `${e.asset}:${e.state}`),
    ['B:cleared'],
  )
  await assert.rejects(view.ack('A', 'hot', 'key:x'), (err) => isOpenFactoryError(err, 'OFA_ALERT_NOT_FOUND'))

  // Past the bound: five more open alerts (six in all), the view keeps three, listed by time, newest first.
  await put(...['C', 'D', 'E', 'F', 'G'].map((a, i) => event(a, 'raised', true, false, i + 1)))
  await eventually(() => (view.dropped === 3 ? true : undefined), 10_000, 'three dropped')
  const kept = view.list()
  assert.equal(kept.length, 3)
  assert.deepEqual(
    kept.map((e) => e.at),
    kept
      .map((e) => e.at)
      .sort()
      .reverse(),
  )
})
