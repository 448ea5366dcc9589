// PostgreSQL restarted under load (a private cluster of this test, restarted twice by scripts/postgres.ts while
// records keep arriving): the historian loses its connection, reports it on avail, reconnects, and resumes from the
// offsets it committed — nothing lost, nothing twice.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ProducerRecord } from '@openfactory/log'
import { TOPICS } from '@openfactory/model'
import { restart } from '../../../scripts/postgres.ts'
import {
  availabilityOf,
  client,
  eventually,
  factoryLog,
  freshDatabase,
  historianFactory,
  privatePg,
  runHistorian,
  sample,
  scalar,
  tempDir,
} from './helpers.ts'

const ASSETS = ['P-1', 'P-2', 'P-3']
const TOTAL = 3000

test('PostgreSQL restarted twice under load: the historian reconnects, nothing lost, nothing twice', async (t) => {
  const server = await privatePg(t)
  const db = await freshDatabase(t, server)
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  const factory = await historianFactory(dir, `url: ${db.url}\npassword_env: PW\nbatch_rows: 200\nbatch_ms: 10`)
  const run = await runHistorian(factory, log, { PW: server.password })
  const load = (async () => {
    for (let i = 0; i < TOTAL; i += 20) {
      const batch: ProducerRecord[] = []
      for (let j = i; j < i + 20; j++) for (const a of ASSETS) batch.push(sample(a, j))
      await log.append(TOPICS.assets, batch)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  const count = async () => {
    // The test's own client loses its connection too: a fresh one per look.
    const c = client(db.url, server.password)
    try {
      await c.connect()
      return await scalar(c, `SELECT count(*) FROM openfactory.observations WHERE asset LIKE 'P-%'`)
    } finally {
      await c.end().catch(() => {})
    }
  }
  await eventually(async () => (await count()) > 0, 'rows before the first restart')
  await restart(server.name)
  await eventually(async () => (await count()) > 0, 'the server back')
  const between = await count()
  await eventually(async () => (await count()) > between, 'rows after the first restart')
  await restart(server.name)
  await load
  await eventually(async () => (await count()) === TOTAL * ASSETS.length, `all ${TOTAL * ASSETS.length} rows`, 60_000)
  await run.stop()

  const c = client(db.url, server.password)
  await c.connect()
  t.after(() => c.end())
  const perAsset = (
    await c.query(
      `SELECT asset, count(*)::int AS n, count(DISTINCT value_num)::int AS d FROM openfactory.observations
       WHERE asset LIKE 'P-%' GROUP BY asset ORDER BY asset`,
    )
  ).rows
  assert.deepEqual(
    perAsset,
    ASSETS.map((asset) => ({ asset, n: TOTAL, d: TOTAL })),
  )
  assert.equal(
    await scalar(
      c,
      'SELECT count(*) FROM (SELECT 1 FROM openfactory.observations GROUP BY log_partition, log_offset HAVING count(*) > 1) d',
    ),
    0,
  )
  // The restarts ended its sessions: it said so on avail, with a coded reason, and came back.
  const avail = await availabilityOf(log, 'HIST')
  assert.ok(
    avail.some((a) => a.value === 'UNAVAILABLE' && /OFA_HISTORIAN_(WRITE|CONNECT)/.test(a.reason ?? '')),
    JSON.stringify(avail),
  )
})
