// The historian's own `rows_written` and `lag` (published on its asset every 5 s when they change) are not rows by
// default: stored, each write of them would change `rows_written` and make the next ones, for ever. Its `avail`
// changes are rows as any asset's. `store_own_stats: true` stores them as any sample.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { decodeObservation, TOPICS } from '@openfactory/model'
import type pg from 'pg'
import {
  eventually,
  factoryLog,
  freshDatabase,
  historianFactory,
  runHistorian,
  sample,
  scalar,
  sharedPg,
  tempDir,
} from './helpers.ts'

/** The end offsets of `ofa_assets` once HIST has published a `rows_written` above 0: undefined before. */
async function afterStats(log: EventLog): Promise<number | undefined> {
  const desc = await log.describeTopic(TOPICS.assets)
  let seen = false
  let end = 0
  for (const p of desc.partitionStates) {
    end += p.endOffset
    for (let offset = p.startOffset; offset < p.endOffset && !seen; ) {
      const got = await log.read(TOPICS.assets, p.partition, offset)
      if (got.length === 0) break
      for (const r of got) {
        offset = r.offset + 1
        if (r.key?.toString() !== 'HIST' || !r.value) continue
        const o = decodeObservation(r.value)
        if (o.id === 'rows_written' && Number(o.value) > 0) seen = true
      }
    }
  }
  return seen ? end : undefined
}

const committed = (c: pg.Client) =>
  scalar(c, `SELECT coalesce(sum(next_offset), 0) FROM openfactory.log_offsets WHERE topic = $1`, [TOPICS.assets])
const statRows = (c: pg.Client, table: string) =>
  scalar(c, `SELECT count(*) FROM openfactory.${table} WHERE asset = 'HIST' AND item IN ('rows_written', 'lag')`)

test('by default the historian reads past its own rows_written and lag without storing them; its avail is stored', async (t) => {
  const server = await sharedPg()
  const db = await freshDatabase(t)
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  await log.append(TOPICS.assets, [sample('M-1', 0), sample('M-1', 1)])
  await runHistorian(await historianFactory(dir, `url: ${db.url}\npassword_env: PW\nbatch_ms: 20`), log, {
    PW: server.password,
  })
  const end = await eventually(() => afterStats(log), 'HIST publishing rows_written')
  await eventually(async () => (await committed(db.client)) >= end, 'the historian past its own stats')
  assert.equal(await statRows(db.client, 'observations'), 0)
  assert.equal(await statRows(db.client, 'latest'), 0)
  assert.equal(await scalar(db.client, `SELECT count(*) FROM openfactory.observations WHERE asset = 'M-1'`), 2)
  assert.ok(
    (await scalar(db.client, `SELECT count(*) FROM openfactory.observations WHERE asset = 'HIST' AND item = 'avail'`)) >
      0,
    'its avail is a row',
  )
})

test('store_own_stats: true stores them as rows', async (t) => {
  const server = await sharedPg()
  const db = await freshDatabase(t)
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  await log.append(TOPICS.assets, [sample('M-1', 0)])
  const block = `url: ${db.url}\npassword_env: PW\nbatch_ms: 20\nstore_own_stats: true`
  await runHistorian(await historianFactory(dir, block), log, { PW: server.password })
  await eventually(
    async () =>
      (await scalar(
        db.client,
        `SELECT count(*) FROM openfactory.observations WHERE asset = 'HIST' AND item = 'rows_written' AND value_num > 0`,
      )) > 0,
    'rows_written as a row',
  )
  assert.ok((await statRows(db.client, 'observations')) >= 2)
  assert.equal(await statRows(db.client, 'latest'), 2)
})
