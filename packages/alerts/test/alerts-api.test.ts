// The alert routes of the serving layer over the real chain: an embedded log, the alerts app under a supervisor, its
// view of ofa_alerts given to the app as `alerts` — GET /api/alerts for a viewer, the ack refused to a viewer and to
// an operator outside the asset's scope, done by an operator (200 with the acknowledged alert, on the audit trail),
// once however often it is asked; 404 for no open alert. Every answer checked against the route's response schema.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createSupervisor, planApp } from '@openfactory/connectors'
import { createFactoryTestLog, eventually } from '@openfactory/connectors/testing'
import { readTopic } from '@openfactory/log/testing'
import {
  type Asset,
  AssetEvents,
  encodeAssetDeclaration,
  encodeAssetEvent,
  isoTimestamp,
  loadFactory,
  silentLogger,
  TOPICS,
} from '@openfactory/model'
import {
  createApiKey,
  createServeApp,
  createServingState,
  openAuditLog,
  openKeyStore,
  readAudit,
} from '@openfactory/serve'
import { inject } from '../../serve/test/helpers/http.ts'
import { ALERTS_TOPIC, decodeAlertEvent } from '../src/alert-event.ts'
import { openAlertsView } from '../src/index.ts'

function machine(uuid: string, unsId: string): Asset {
  const levels = unsId.split('/')
  return {
    uuid,
    type: 'Device',
    uns: { levels: { plant: levels[0] as string, area: levels[1] as string, asset: uuid }, unsId },
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [{ id: 'temp', category: 'Samples', tag: 'Temperature' }],
    methods: [],
  }
}

test('GET /api/alerts and POST /api/alerts/{uuid}/{rule}/ack: roles, scopes, audit, once', async (t) => {
  const { log } = await createFactoryTestLog(t)
  const dir = await mkdtemp(join(tmpdir(), 'ofa-alerts-api-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'factory.yaml'), 'name: alerts\nbackbone:\n  type: embedded\n')
  await writeFile(
    join(dir, 'apps.yml'),
    'apps:\n  alerts:\n    uuid: ALERTS\n    alerts:\n      tick_ms: 100\n      rules:\n        - {id: hot, uns: "Plant/#", item: temp, above: 80, severity: critical}\n',
  )
  const factory = await loadFactory([dir])
  for (const [uuid, uns] of [
    ['M1', 'Plant/Machining/M1'],
    ['A1', 'Plant/Assembly/A1'],
  ] as const) {
    await log.append(TOPICS.registry, [{ key: uuid, value: encodeAssetDeclaration(machine(uuid, uns)) }])
    await log.append(TOPICS.assets, [{ key: uuid, value: encodeAssetEvent(AssetEvents.declaration('uns_id', uns)) }])
  }
  const supervisor = createSupervisor({ eventLog: log, logger: silentLogger, heartbeatMs: 100, ttlMs: 1000 })
  t.after(() => supervisor.stop())
  const alertsApp = planApp(factory.apps[0] as never, { eventLog: log, factory, env: {}, logger: silentLogger })
  assert.ok(alertsApp)
  supervisor.add(alertsApp)
  await supervisor.start()
  await eventually(() => (supervisor.status()[0]?.state === 'running' ? true : undefined), 30_000, 'the app running')

  const serving = createServingState({ eventLog: log })
  t.after(() => serving.close())
  await serving.ready()
  const view = openAlertsView(log)
  t.after(() => view.close())
  const by = 'test'
  const viewer = await createApiKey(log, { name: 'viewer', role: 'viewer', by })
  const operator = await createApiKey(log, { name: 'operator', role: 'operator', by })
  const assembly = await createApiKey(log, { name: 'asm', role: 'operator', scopes: ['Plant/Assembly/#'], by })
  const keys = openKeyStore(log)
  t.after(() => keys.close())
  await keys.ready()
  const audit = openAuditLog(log)
  const app = await createServeApp({ eventLog: log, serving, auth: { required: true, keys, audit }, alerts: view })
  t.after(() => app.close())
  const as = (key: string) => ({ authorization: `Bearer ${key}` })

  const hot = (uuid: string, value: number, at: number) => ({
    key: uuid,
    value: encodeAssetEvent(
      AssetEvents.observation({
        id: 'temp',
        value,
        tag: 'Temperature',
        type: 'Samples',
        attributes: { timestamp: isoTimestamp(at) },
      }),
    ),
  })
  const t0 = Date.now()
  await log.append(TOPICS.assets, [hot('M1', 90, t0), hot('A1', 95, t0 + 1)])
  await eventually(() => (view.list().length === 2 ? true : undefined), 30_000, 'two alerts')
  await eventually(() => (serving.state.item('M1', 'temp') ? true : undefined), 30_000, 'the state')

  const list = await inject(app, { url: '/api/alerts', headers: as(viewer.key) })
  assert.equal(list.status, 200)
  assert.deepEqual(
    list
      .json()
      .items.map(
        (a: { asset: string; rule: string; state: string; severity: string }) =>
          `${a.asset}/${a.rule}:${a.state}:${a.severity}`,
      )
      .sort(),
    ['A1/hot:raised:critical', 'M1/hot:raised:critical'],
  )
  // A scoped caller sees its assets' alerts only.
  const scoped = await inject(app, { url: '/api/alerts', headers: as(assembly.key) })
  assert.deepEqual(
    scoped.json().items.map((a: { asset: string }) => a.asset),
    ['A1'],
  )

  const ack = (key: string, uuid: string, rule = 'hot') =>
    inject(app, {
      method: 'POST',
      url: `/api/alerts/${uuid}/${rule}/ack?timeout_ms=30000`,
      headers: { ...as(key), 'content-type': 'application/json' },
      payload: '{}',
    })
  assert.equal((await ack(viewer.key, 'M1')).status, 403, 'a viewer may not acknowledge')
  assert.equal((await ack(assembly.key, 'M1')).status, 403, 'M1 is outside Plant/Assembly/#')
  const notFound = await ack(operator.key, 'M1', 'cold')
  assert.equal(notFound.status, 404)
  assert.equal(notFound.json().error.code, 'OFA_ALERT_NOT_FOUND')

  const done = await ack(operator.key, 'M1')
  assert.equal(done.status, 200)
  assert.equal(done.json().state, 'acknowledged')
  assert.equal(done.json().by, `key:${operator.record.id}`)
  assert.equal((await ack(operator.key, 'M1')).status, 200, 'again: the alert as it is, nothing written')

  const events = (await readTopic(log, ALERTS_TOPIC)).map((r) => decodeAlertEvent(r.value as Buffer))
  assert.deepEqual(
    events.filter((e) => e?.asset === 'M1').map((e) => e?.state),
    ['raised', 'acknowledged'],
  )
  const trail = await readAudit(log)
  const acks = trail.filter((a) => a.action === 'ack alert hot')
  assert.equal(acks.length, 1)
  assert.equal(acks[0]?.target, 'M1')
  assert.equal(acks[0]?.outcome, 'acknowledged')
})
