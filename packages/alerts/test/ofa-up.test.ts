// End to end, as a user runs it: `ofa up` (packages/cli/bin/ofa.js, a process of its own) on a factory with a
// simulated machine and an alerts app. A method call pushes the machine's value over the rule's threshold: the alert
// is raised (GET /api/alerts), acknowledged through the API, cleared when the value comes back down (the alert is then
// over), the machine's `alert_hot` condition says so, and `ofa log tail ofa_alerts` beside the running factory shows
// the three events.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { eventually, getJson, ofa, startOfa } from '../../cli/test/helpers.ts'
import { ovenFactory } from './oven-factory.ts'

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() }
}

test('ofa up with an alerts app: raised, acknowledged through the API, cleared; on ofa_alerts', {
  timeout: 120_000,
}, async (t) => {
  const { factory, data } = await ovenFactory(
    t,
    [
      'apps:',
      '  alerts:',
      '    uuid: ALERTS',
      '    alerts:',
      '      tick_ms: 200',
      '      rules:',
      '        - {id: hot, asset: OVEN-1, item: temp, above: 50, clear: 40, severity: critical, message: Oven too hot}',
      '',
    ].join('\n'),
  )
  const up = startOfa(t, ['up', factory, '--port', '0', '--data', data], {})
  const api = `${await up.url}/api`
  try {
    await eventually(async () => {
      const a = await getJson(`${api}/assets/OVEN-1`)
      return a.state.some((s: { id: string; value: unknown }) => s.id === 'temp' && s.value === '20') ? true : undefined
    }, 'the oven at 20')
    const hot = await post(`${api}/assets/OVEN-1/methods/SetTemp`, { t: 80 })
    assert.equal(hot.status, 200, JSON.stringify(hot.json))
    const raised = await eventually(async () => {
      const { items: alerts } = await getJson(`${api}/alerts`)
      return alerts.find((a: { asset: string; rule: string }) => a.asset === 'OVEN-1' && a.rule === 'hot')
    }, 'the alert raised')
    assert.equal(raised.state, 'raised')
    assert.equal(raised.severity, 'critical')
    assert.match(raised.message, /^Oven too hot: temp 80 above 50$/)

    const ack = await post(`${api}/alerts/OVEN-1/hot/ack?timeout_ms=30000`, {})
    assert.equal(ack.status, 200, JSON.stringify(ack.json))
    assert.equal(ack.json.state, 'acknowledged')
    assert.equal(ack.json.by, 'open', 'authentication off: the open principal')
    const condition = await getJson(`${api}/assets/OVEN-1`)
    const item = await eventually(async () => {
      const a = await getJson(`${api}/assets/OVEN-1`)
      const s = a.state.find((x: { id: string }) => x.id === 'alert_hot')
      return s?.attributes?.alert_state === 'acknowledged' ? s : undefined
    }, 'alert_hot acknowledged')
    assert.equal(item.value, 'FAULT', JSON.stringify(condition))

    const cool = await post(`${api}/assets/OVEN-1/methods/SetTemp`, { t: 30 })
    assert.equal(cool.status, 200)
    await eventually(
      async () => ((await getJson(`${api}/alerts`)).items.length === 0 ? true : undefined),
      'the alert over',
    )

    const tail = await eventually(async () => {
      const r = await ofa(['log', 'tail', 'ofa_alerts', '--data', data])
      if (r.code !== 0) return undefined
      const events = r.stdout
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(JSON.parse(l).value))
      return events.length >= 3 ? events : undefined
    }, 'ofa log tail ofa_alerts')
    assert.deepEqual(
      tail.map((e: { asset: string; rule: string; state: string }) => `${e.asset}/${e.rule}:${e.state}`),
      ['OVEN-1/hot:raised', 'OVEN-1/hot:acknowledged', 'OVEN-1/hot:cleared'],
    )
    assert.equal(tail[2].active, false)
    assert.equal(tail[2].acked, true)
  } finally {
    up.child.kill('SIGTERM')
    await up.exited
  }
})
