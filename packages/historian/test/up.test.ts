// `ofa up` end to end: a factory folder with a simulated sensor (placed in the UNS) and a historian app writes the
// sensor's samples into a real PostgreSQL; the app is an asset with avail AVAILABLE and its rows_written and lag;
// `ofa validate` refuses a password in the URL.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { getJson, ofa, startOfa } from '../../cli/test/helpers.ts'
import { eventually, freshDatabase, scalar, sharedPg, tempDir } from './helpers.ts'

const SENSOR = `devices:
  sensor:
    uuid: SENSOR-PG
    uns:
      inc: Acme
      area: Lab
    connector:
      type: simulator
      interval_ms: 50
      items:
        temp:
          tag: Temperature
          category: Samples
          units: CELSIUS
          signal: ramp
          from: 20
          to: 30
          period_s: 5
`

test('ofa up runs a historian app: the simulator’s samples land in PostgreSQL, the app reports itself', async (t) => {
  const pg = await sharedPg()
  const db = await freshDatabase(t)
  const dir = await tempDir(t)
  await writeFile(join(dir, 'factory.yaml'), 'name: historian-up\nbackbone:\n  type: embedded\n')
  await writeFile(join(dir, 'sensor.yml'), SENSOR)
  await writeFile(
    join(dir, 'uns_schema.yml'),
    'namespace_structure:\n  - inc: Acme\n  - area: [Lab]\n  - asset: ANY\n  - attribute: ANY\nuns_template: inc/area/asset/attribute\n',
  )
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:\n  historian:\n    uuid: HISTORIAN\n    historian:\n      url: ${db.url}\n      password_env: OFA_TEST_PG_PASSWORD\n      batch_ms: 50\n`,
  )
  const up = startOfa(t, ['up', dir, '--port', '0', '--data', join(dir, 'data')], {
    OFA_TEST_PG_PASSWORD: pg.password,
  })
  const api = `${await up.url}/api`
  const rows = () =>
    scalar(db.client, `SELECT count(*) FROM openfactory.observations WHERE asset = 'SENSOR-PG' AND item = 'temp'`)
  await eventually(async () => (await rows()) >= 20, '20 samples of the sensor in PostgreSQL', 60_000)
  const sample = (
    await db.client.query(
      `SELECT value_num, type, tag, attributes->>'units' AS units FROM openfactory.observations
       WHERE asset = 'SENSOR-PG' AND item = 'temp' ORDER BY time LIMIT 1`,
    )
  ).rows[0]
  assert.equal(sample.type, 'Samples')
  assert.equal(sample.tag, 'Temperature')
  assert.equal(typeof sample.value_num, 'number')
  const asset = (await db.client.query(`SELECT type, uns_levels FROM openfactory.assets WHERE asset = 'SENSOR-PG'`))
    .rows[0]
  assert.equal(asset.uns_levels.inc, 'Acme')
  assert.equal(asset.uns_levels.area, 'Lab')
  const state = await eventually(async () => {
    const a = (await getJson(`${api}/assets/HISTORIAN`)) as {
      availability: string
      state: { id: string; value: unknown }[]
    }
    return a.availability === 'AVAILABLE' && a.state.some((s) => s.id === 'rows_written' && Number(s.value) > 0)
      ? a
      : undefined
  }, 'the historian AVAILABLE with rows_written')
  assert.ok(state.state.some((s) => s.id === 'lag'))
  const current = (
    await db.client.query(
      `SELECT asset_type, value FROM openfactory.current_state WHERE asset = 'SENSOR-PG' AND item = 'temp'`,
    )
  ).rows[0]
  assert.ok(current && Number.isFinite(Number(current.value)))
  up.child.kill('SIGTERM')
  assert.equal(await up.exited, 0)

  // ofa validate: a password in the URL is refused with the file and line.
  await writeFile(
    join(dir, 'apps.yml'),
    'apps:\n  historian:\n    uuid: HISTORIAN\n    historian:\n      url: postgres://ofa:secret@db/f\n',
  )
  const v = await ofa(['validate', dir])
  assert.notEqual(v.code, 0)
  assert.match(
    v.stdout + v.stderr,
    /apps\.yml:\d+:\d+: OFA_CONFIG_VALUE app HISTORIAN: historian\.url: holds a password/,
  )
})
