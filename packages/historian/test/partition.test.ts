// The span of `observations`' partitions (`partition:` day, week or month) is chosen at the first start: a historian
// configured with another span than the one the table's partitions were made with — read from their bounds, so a
// database made before the check counts too, whatever the session's TimeZone and DateStyle — writes nothing and says
// so on its avail (OFA_HISTORIAN_PARTITION, naming both spans); set back, it goes on from where it stopped, each
// record once. A table without partitions yet takes any span.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventLog, ProducerRecord } from '@openfactory/log'
import { TOPICS } from '@openfactory/model'
import type pg from 'pg'
import {
  availabilityOf,
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

const HOUR = 3_600_000

/** Hourly samples i in [from, to) of M-1 (from 2026-12-06T08:00Z, a Sunday: a week partition starts on Nov 30). */
function hourly(from: number, to: number): ProducerRecord[] {
  const out: ProducerRecord[] = []
  for (let i = from; i < to; i++) out.push(sample('M-1', i, HOUR))
  return out
}

const stored = (c: pg.Client) => scalar(c, `SELECT count(*) FROM openfactory.observations WHERE asset = 'M-1'`)

async function partitions(c: pg.Client): Promise<string[]> {
  const r = await c.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname = 'observations' ORDER BY 1`,
  )
  return r.rows.map((x) => x.relname as string)
}

async function waitReason(log: EventLog, re: RegExp): Promise<string> {
  return eventually(async () => {
    const a = await availabilityOf(log, 'HIST')
    return a.find((x) => x.value === 'UNAVAILABLE' && re.test(x.reason ?? ''))?.reason
  }, `HIST UNAVAILABLE with ${re}`)
}

test('partition changed from week to day after the first start: nothing written, both spans named; set back, it goes on, each record once', async (t) => {
  const server = await sharedPg()
  const db = await freshDatabase(t)
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  const env = { PW: server.password }
  const block = (span: string) => `url: ${db.url}\npassword_env: PW\nbatch_ms: 20\npartition: ${span}`

  await log.append(TOPICS.assets, hourly(0, 24))
  const first = await runHistorian(await historianFactory(dir, block('week')), log, env)
  await eventually(async () => (await stored(db.client)) === 24, '24 samples, in weeks')
  await first.stop()
  const weeks = await partitions(db.client)
  for (const p of ['observations_p20261130', 'observations_p20261207']) assert.ok(weeks.includes(p), weeks.join(', '))
  const offsets = await scalar(db.client, `SELECT sum(next_offset) FROM openfactory.log_offsets WHERE topic = $1`, [
    TOPICS.assets,
  ])

  // The span is read from the bounds as the historian's own session prints them: not the usual TimeZone nor DateStyle.
  const name = new URL(db.url).pathname.slice(1)
  await db.client.query(`ALTER DATABASE ${name} SET TimeZone = 'America/St_Johns'`)
  await db.client.query(`ALTER DATABASE ${name} SET DateStyle = 'SQL, DMY'`)

  await log.append(TOPICS.assets, hourly(24, 48))
  const second = await runHistorian(await historianFactory(dir, block('day')), log, env)
  const reason = await waitReason(log, /OFA_HISTORIAN_PARTITION/)
  assert.match(reason, /openfactory\.observations is partitioned by week .*but partition: day is configured/)
  assert.match(reason, /set partition: week back, or give the historian a new schema/)
  await second.stop()
  assert.equal(await stored(db.client), 24, 'nothing written under the other span')
  assert.deepEqual(await partitions(db.client), weeks, 'no partition of a day made')
  assert.equal(
    await scalar(db.client, `SELECT sum(next_offset) FROM openfactory.log_offsets WHERE topic = $1`, [TOPICS.assets]),
    offsets,
    'the position did not move',
  )

  const third = await runHistorian(await historianFactory(dir, block('week')), log, env)
  await eventually(async () => (await stored(db.client)) === 48, 'the 24 samples that waited, once set back')
  await third.stop()
  assert.equal(
    await scalar(
      db.client,
      `SELECT count(DISTINCT (log_partition, log_offset)) FROM openfactory.observations WHERE asset = 'M-1'`,
    ),
    48,
    'each record once',
  )
  assert.ok(
    (await partitions(db.client)).every((p) => weeks.includes(p) || p === 'observations_p20261214'),
    'weeks only',
  )
})

test('a table without partitions takes any span; once made by month, a week is refused', async (t) => {
  const server = await sharedPg()
  const db = await freshDatabase(t)
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  const env = { PW: server.password }
  // Only M-1 is stored: the historian's own avail makes no row, so the first run leaves the table without partitions.
  const block = (span: string) => `url: ${db.url}\npassword_env: PW\nbatch_ms: 20\nassets: [M-1]\npartition: ${span}`

  const first = await runHistorian(await historianFactory(dir, block('day')), log, env)
  await eventually(
    async () => (await scalar(db.client, `SELECT count(*) FROM pg_tables WHERE schemaname = 'openfactory'`)) > 1,
    'the tables made',
  )
  await eventually(async () => (await availabilityOf(log, 'HIST')).at(-1)?.value === 'AVAILABLE', 'HIST AVAILABLE')
  await first.stop()
  assert.deepEqual(await partitions(db.client), [])

  await log.append(TOPICS.assets, hourly(0, 48))
  const second = await runHistorian(await historianFactory(dir, block('month')), log, env)
  await eventually(async () => (await stored(db.client)) === 48, '48 samples, in a month')
  await second.stop()
  assert.deepEqual(await partitions(db.client), ['observations_p20261201', 'observations_p20270101'])

  await log.append(TOPICS.assets, hourly(48, 50))
  await runHistorian(await historianFactory(dir, block('week')), log, env)
  assert.match(
    await waitReason(log, /OFA_HISTORIAN_PARTITION/),
    /partitioned by month \(its existing partitions\), but partition: week is configured: set partition: month back/,
  )
  assert.equal(await stored(db.client), 48)
})
