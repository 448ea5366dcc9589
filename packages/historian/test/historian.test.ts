// The PostgreSQL historian against a real PostgreSQL (Debian's, scripts/postgres.ts), each test in a database of its
// own: the schema created from an empty database (and not again), partitions created as data arrives, every kind of
// record in its table (COPY's escapes included), the BI queries of docs/guides/historian.md run exactly as written
// there, resumption without duplicates, backfill, the block's checks, and coded errors on the app's avail while
// the process keeps running (a wrong password, a refused connection, an unset variable, a newer schema).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { checkAppKinds } from '@openfactory/connectors'
import type { EventLog, ProducerRecord } from '@openfactory/log'
import { type Asset, AssetEvents, encodeAssetEvent, isOpenFactoryError, loadFactory, TOPICS } from '@openfactory/model'
import { partitionRange } from '../src/index.ts'
import {
  availabilityOf,
  declaration,
  eventually,
  factoryLog,
  freshDatabase,
  historianFactory,
  runHistorian,
  scalar,
  sharedPg,
  tempDir,
} from './helpers.ts'

const at = (iso: string) => Date.parse(iso)

const CNC: Asset = {
  uuid: 'CNC-1',
  type: 'Device',
  uns: { levels: { enterprise: 'Acme', site: 'Lyon', area: 'Machining' }, unsId: 'Acme/Lyon/Machining/CNC-1' },
  referencesAbove: [],
  referencesBelow: [],
  dataItems: [
    { id: 'temp', category: 'Samples', tag: 'Temperature', units: 'CELSIUS' },
    { id: 'execution', category: 'Events', tag: 'Execution' },
  ],
  methods: [],
}

function rec(event: Parameters<typeof encodeAssetEvent>[0], asset = 'CNC-1'): ProducerRecord {
  return { key: asset, value: encodeAssetEvent(event) }
}

function value(
  id: string,
  v: number | string,
  iso: string,
  type: 'Samples' | 'Events' = 'Samples',
  tag = 'Temperature',
) {
  return rec(AssetEvents.observation({ id, value: v, tag, type, attributes: { timestamp: iso, units: 'CELSIUS' } }))
}

const PROGRAM = 'O1234\tmain\nline\\x\0end'

/** The day of CNC-1 the docs' queries describe. */
function cncDay(): ProducerRecord[] {
  const out: ProducerRecord[] = []
  const avail = (available: boolean, iso: string, reason?: string) =>
    rec(AssetEvents.availability({ available, at: at(iso), ...(reason ? { reason } : {}), ttlMs: 15000 }))
  out.push(
    avail(true, '2026-12-06T06:00:00Z'),
    avail(true, '2026-12-06T06:00:05Z'),
    avail(true, '2026-12-06T06:00:10Z'),
  )
  out.push(avail(false, '2026-12-06T06:00:20Z', 'adapter gone'), avail(true, '2026-12-06T06:00:30Z'))
  for (const [iso, state] of [
    ['2026-12-06T06:00:00Z', 'ACTIVE'],
    ['2026-12-06T09:00:00Z', 'READY'],
    ['2026-12-06T13:00:00Z', 'ACTIVE'],
    ['2026-12-06T15:00:00Z', 'STOPPED'],
  ] as const)
    out.push(value('execution', state, iso, 'Events', 'Execution'))
  for (let h = 8; h <= 10; h++) {
    for (let m = 0; m < 6; m++) {
      const iso = `2026-12-06T${String(h).padStart(2, '0')}:${m}0:00.000Z`
      out.push(value('temp', (h - 8) * 10 + 20 + m, iso))
    }
  }
  out.push(value('temp', 99, '2026-12-08T12:00:00.000Z'))
  out.push(value('program', PROGRAM, '2026-12-06T07:00:00.000Z', 'Events', 'Program'))
  out.push(
    rec(
      AssetEvents.observation({
        id: 'system',
        value: 'FAULT',
        tag: 'System',
        type: 'Condition',
        attributes: { timestamp: '2026-12-06T07:10:00.000Z', nativeCode: 'E42', message: 'Overheat' },
      }),
    ),
    rec(
      AssetEvents.observation({
        id: 'system',
        value: 'NORMAL',
        tag: 'System',
        type: 'Condition',
        attributes: { timestamp: '2026-12-06T07:30:00.000Z' },
      }),
    ),
  )
  out.push(
    rec(
      AssetEvents.command({
        method: 'Reset',
        senderUuid: 'OPERATOR',
        arguments: { level: 2 },
        correlationId: 'c-1',
        at: at('2026-12-06T07:40:00Z'),
      }),
    ),
    rec(
      AssetEvents.result(
        'Reset',
        { correlation_id: 'c-1', status: 'completed', result: { ok: true } },
        at('2026-12-06T07:40:01Z'),
      ),
    ),
  )
  out.push({ key: 'CNC-1', value: 'not json' })
  return out
}

/** The ```sql blocks of the BI guide, in order. */
function guideQueries(): string[] {
  const md = readFileSync(new URL('../../../docs/guides/historian.md', import.meta.url), 'utf8')
  return [...md.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1] as string)
}

async function landed(client: import('pg').Client): Promise<number> {
  return scalar(client, `SELECT count(*) FROM openfactory.observations WHERE asset = 'CNC-1'`)
}

test('from an empty database: schema and partitions made, every kind of record stored once, the guide’s queries answer', async (t) => {
  const dir = await tempDir(t)
  const pg = await sharedPg()
  const db = await freshDatabase(t)
  const factory = await historianFactory(dir, `url: ${db.url}\npassword_env: PW\nbatch_ms: 20`)
  const log = await factoryLog(t, `${dir}/log`)
  await log.append(TOPICS.registry, [declaration(CNC)])
  await log.append(TOPICS.assets, cncDay())
  const run = await runHistorian(factory, log, { PW: pg.password })
  // 19 temperatures, 4 execution states, 1 program, 3 availability changes (the heartbeats between are not rows)
  await eventually(async () => (await landed(db.client)) === 27, '27 observations of CNC-1')
  await eventually(
    async () => (await scalar(db.client, 'SELECT count(*) FROM openfactory.commands')) === 2,
    'the command and its result',
  )
  const c = db.client
  assert.deepEqual((await c.query('SELECT version FROM openfactory.schema_version')).rows, [{ version: 1 }])
  const parts = (
    await c.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = 'observations' ORDER BY 1`,
    )
  ).rows.map((r) => r.relname as string)
  for (const p of ['observations_p20261206', 'observations_p20261208', 'observations_p20261209']) {
    assert.ok(parts.includes(p), `${p} in ${parts.join(', ')}`)
  }
  assert.equal(await scalar(c, 'SELECT count(*) FROM ONLY openfactory.observations'), 0, 'rows live in partitions')
  assert.equal(
    await scalar(c, `SELECT count(*) FROM openfactory.observations_p20261208 WHERE asset = 'CNC-1'`),
    1,
    'the sample of Dec 8 in its day',
  )

  // Rows as written: numbers and texts apart, attributes in jsonb, COPY's escapes undone, NUL as U+FFFD.
  const temp = (
    await c.query(
      `SELECT value_num, value_text, type, tag, attributes FROM openfactory.observations WHERE item = 'temp' ORDER BY time LIMIT 1`,
    )
  ).rows[0]
  assert.deepEqual(temp, {
    value_num: 20,
    value_text: null,
    type: 'Samples',
    tag: 'Temperature',
    attributes: { units: 'CELSIUS' },
  })
  const program = await c.query(`SELECT value_text FROM openfactory.observations WHERE item = 'program'`)
  assert.equal(program.rows[0].value_text, PROGRAM.replace('\0', '\uFFFD'))
  const avail = await c.query(
    `SELECT value_text, attributes->>'reason' AS reason FROM openfactory.observations WHERE asset = 'CNC-1' AND item = 'avail' ORDER BY time`,
  )
  assert.deepEqual(
    avail.rows.map((r) => [r.value_text, r.reason]),
    [
      ['AVAILABLE', null],
      ['UNAVAILABLE', 'adapter gone'],
      ['AVAILABLE', null],
    ],
  )
  assert.deepEqual(
    (await c.query('SELECT item, level, native_code, message FROM openfactory.conditions ORDER BY time')).rows,
    [
      { item: 'system', level: 'FAULT', native_code: 'E42', message: 'Overheat' },
      { item: 'system', level: 'NORMAL', native_code: null, message: null },
    ],
  )
  assert.deepEqual(
    (
      await c.query(
        'SELECT method, kind, correlation_id, sender, status, arguments, result FROM openfactory.commands ORDER BY time',
      )
    ).rows,
    [
      {
        method: 'Reset',
        kind: 'command',
        correlation_id: 'c-1',
        sender: 'OPERATOR',
        status: null,
        arguments: { level: 2 },
        result: null,
      },
      {
        method: 'Reset',
        kind: 'result',
        correlation_id: 'c-1',
        sender: null,
        status: 'completed',
        arguments: null,
        result: { ok: true },
      },
    ],
  )
  assert.deepEqual(
    (await c.query(`SELECT asset, type, uns_id, uns_levels FROM openfactory.assets WHERE asset = 'CNC-1'`)).rows,
    [
      {
        asset: 'CNC-1',
        type: 'Device',
        uns_id: 'Acme/Lyon/Machining/CNC-1',
        uns_levels: { enterprise: 'Acme', site: 'Lyon', area: 'Machining' },
      },
    ],
  )
  assert.deepEqual(
    (await c.query(`SELECT level, value FROM openfactory.asset_uns_levels WHERE asset = 'CNC-1' ORDER BY level`)).rows,
    [
      { level: 'area', value: 'Machining' },
      { level: 'enterprise', value: 'Acme' },
      { level: 'site', value: 'Lyon' },
    ],
  )
  assert.ok((run.connector as unknown as { stats: { skipped: number } }).stats.skipped >= 1, 'the bad record skipped')

  // The guide's queries, exactly as the guide writes them.
  const [lastView, lastRaw, hourly, shifts, byArea, faults, ...rest] = guideQueries()
  assert.equal(rest.length, 0, 'the guide has six queries')
  const expectedLast = [
    { item: 'avail', value: 'AVAILABLE' },
    { item: 'execution', value: 'STOPPED' },
    { item: 'program', value: PROGRAM.replace('\0', '\uFFFD') },
    { item: 'system', value: 'NORMAL' },
    { item: 'temp', value: '99' },
  ]
  assert.deepEqual(
    (await c.query(lastView as string)).rows.map(({ item, value }) => ({ item, value })),
    expectedLast,
  )
  assert.deepEqual(
    (await c.query(lastRaw as string)).rows.map(({ item, value }) => ({ item, value })),
    expectedLast.filter((r) => r.item !== 'system'), // conditions live in their own table
  )
  assert.deepEqual(
    (await c.query(hourly as string)).rows.map((r) => [
      (r.hour as Date).toISOString(),
      r.item,
      r.average,
      r.minimum,
      r.maximum,
      Number(r.samples),
    ]),
    [
      ['2026-12-06T08:00:00.000Z', 'temp', 22.5, 20, 25, 6],
      ['2026-12-06T09:00:00.000Z', 'temp', 32.5, 30, 35, 6],
      ['2026-12-06T10:00:00.000Z', 'temp', 42.5, 40, 45, 6],
    ],
  )
  const hours = (d: { hours?: number; minutes?: number }) => (d.hours ?? 0) + (d.minutes ?? 0) / 60
  assert.deepEqual(
    (await c.query(shifts as string)).rows.map((r) => [(r.shift as Date).toISOString(), r.state, hours(r.duration)]),
    [
      ['2026-12-06T06:00:00.000Z', 'ACTIVE', 4],
      ['2026-12-06T06:00:00.000Z', 'READY', 4],
      ['2026-12-06T14:00:00.000Z', 'ACTIVE', 1],
      ['2026-12-06T14:00:00.000Z', 'STOPPED', 7],
    ],
  )
  const area = (await c.query(byArea as string)).rows
  assert.equal(area.length, 1)
  assert.equal(area[0].area, 'Machining')
  assert.equal(
    Math.round(area[0].average * 1000) / 1000,
    Math.round((((22.5 + 32.5 + 42.5) * 6 + 99) / 19) * 1000) / 1000,
  )
  assert.deepEqual(
    (await c.query(faults as string)).rows.map((r) => [r.asset, r.level, r.native_code, r.message]),
    [['CNC-1', 'FAULT', 'E42', 'Overheat']],
  )

  // Stopped and started again: the schema is not made twice, nothing is stored twice, new records land.
  await run.stop()
  const again = await runHistorian(factory, log, { PW: pg.password })
  await log.append(TOPICS.assets, [value('temp', 50, '2026-12-06T11:00:00.000Z')])
  await eventually(async () => (await landed(c)) === 28, 'the new sample')
  await again.stop()
  assert.equal(await landed(c), 28)
  assert.equal(await scalar(c, 'SELECT count(*) FROM openfactory.schema_version'), 1)
  assert.equal(
    await scalar(
      c,
      'SELECT count(*) FROM (SELECT log_partition, log_offset FROM openfactory.observations GROUP BY 1, 2 HAVING count(*) > 1) d',
    ),
    0,
    'no log record twice',
  )
})

test('backfill: a historian that started at the end of the log stores a chosen range of it once, and once only', async (t) => {
  const dir = await tempDir(t)
  const pg = await sharedPg()
  const db = await freshDatabase(t)
  const log = await factoryLog(t, `${dir}/log`)
  const base = Date.now() - 3_600_000
  const old: ProducerRecord[] = []
  for (let i = 0; i < 40; i++) old.push({ ...value('temp', i, new Date(T(i)).toISOString()), timestamp: T(i) })
  function T(i: number) {
    return base + i * 60_000
  }
  await log.append(TOPICS.assets, old)
  // start: latest — what the log held before is not stored.
  let factory = await historianFactory(dir, `url: ${db.url}\npassword_env: PW\nbatch_ms: 20\nstart: latest`)
  let run = await runHistorian(factory, log, { PW: pg.password })
  await eventually(
    async () => (await scalar(db.client, 'SELECT count(*) FROM openfactory.log_offsets')) > 0,
    'the historian placed at the end of the log',
  )
  await log.append(TOPICS.assets, [value('temp', 1000, new Date().toISOString())])
  await eventually(async () => (await landed(db.client)) === 1, 'the new sample only')
  await run.stop()
  // The backfill of minutes 10 to 20 (append time): those 10 records, once, beside the one there.
  const from = new Date(T(10)).toISOString()
  const to = new Date(T(20)).toISOString()
  factory = await historianFactory(
    dir,
    `url: ${db.url}\npassword_env: PW\nbatch_ms: 20\nstart: latest\nbackfill: {from: '${from}', to: '${to}'}`,
  )
  run = await runHistorian(factory, log, { PW: pg.password })
  await eventually(
    async () => (await scalar(db.client, 'SELECT count(*) FROM openfactory.backfills')) === 1,
    'the backfill done',
  )
  await run.stop()
  const values = (
    await db.client.query(`SELECT value_num FROM openfactory.observations WHERE asset = 'CNC-1' ORDER BY value_num`)
  ).rows.map((r) => r.value_num)
  assert.deepEqual(values, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1000])
  // Started again with the same range: done already, nothing added.
  run = await runHistorian(factory, log, { PW: pg.password })
  await log.append(TOPICS.assets, [value('temp', 1001, new Date().toISOString())])
  await eventually(async () => (await landed(db.client)) === 12, 'the next sample')
  await run.stop()
  assert.equal(await landed(db.client), 12)
})

test('the block is checked when the factory is loaded and by ofa validate: no password in the URL, a range that is one', async (t) => {
  const dir = await tempDir(t)
  const problems = async (block: string) => {
    try {
      const f = await historianFactory(dir, block)
      return checkAppKinds(f.apps).map((p) => p.format())
    } catch (err) {
      assert.ok(isOpenFactoryError(err))
      return err.problems.map((p) => p.format())
    }
  }
  assert.deepEqual(await problems('url: postgres://ofa@db:5432/factory\npassword_env: PW'), [])
  // The example of docs/reference/apps.md, as written there.
  const md = readFileSync(new URL('../../../docs/reference/apps.md', import.meta.url), 'utf8')
  const example = /## The PostgreSQL historian[\s\S]*?```yaml\n([\s\S]*?)```/.exec(md)?.[1]
  assert.ok(example)
  await writeFile(join(dir, 'apps.yml'), example)
  const documented = await loadFactory([dir])
  assert.deepEqual(checkAppKinds(documented.apps), [])
  assert.equal(documented.apps[0]?.spec.historian?.password_env, 'OFA_HISTORIAN_PASSWORD')
  assert.match(
    (await problems('url: postgres://ofa:secret@db:5432/factory')).join('\n'),
    /apps\.yml:\d+:\d+: OFA_CONFIG_VALUE app HIST: historian\.url: holds a password: give it with password_env/,
  )
  assert.doesNotMatch((await problems('url: postgres://ofa:secret@db:5432/factory')).join('\n'), /secret/)
  assert.match(
    (await problems('url: postgres://ofa@db/f\npassword_env: PW\npassword_file: pw.txt')).join('\n'),
    /historian\.password_file: give password_env or password_file, not both/,
  )
  assert.match(
    (
      await problems("url: postgres://ofa@db/f\nbackfill: {from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z'}")
    ).join('\n'),
    /historian\.backfill\.to: must be a time after from/,
  )
  assert.match((await problems('url: mysql://db/f')).join('\n'), /a URL like postgres:\/\/user@host:5432\/database/)
  assert.match((await problems('url: postgres://db/f\nschema: Bad-Name')).join('\n'), /a PostgreSQL schema name/)
  assert.match((await problems('url: postgres://db/f\npartition: year')).join('\n'), /day, week or month/)
  assert.match((await problems('url: postgres://db/f\nbatch_rows: 100001')).join('\n'), /a count of rows \(1-100000\)/)
  assert.deepEqual(await problems('url: postgres://db/f\nbatch_rows: 100000'), [])
  assert.match((await problems('url: postgres://db/f\nstore: [samples, alarms]')).join('\n'), /samples, events/)
  assert.match((await problems('url: postgres://db/f\nstore_own_stats: often')).join('\n'), /store_own_stats/)
  assert.deepEqual(await problems('url: postgres://db/f\nstore_own_stats: true'), [])
})

test('partitions: a day, a week from Monday, a month, in UTC', () => {
  const t = Date.parse('2026-12-06T23:59:59.999Z') // a Sunday
  assert.deepEqual(partitionRange(t, 'day'), {
    from: Date.parse('2026-12-06T00:00:00Z'),
    to: Date.parse('2026-12-07T00:00:00Z'),
  })
  assert.deepEqual(partitionRange(t, 'week'), {
    from: Date.parse('2026-11-30T00:00:00Z'),
    to: Date.parse('2026-12-07T00:00:00Z'),
  })
  assert.deepEqual(partitionRange(t, 'month'), {
    from: Date.parse('2026-12-01T00:00:00Z'),
    to: Date.parse('2027-01-01T00:00:00Z'),
  })
})

async function waitReason(log: EventLog, re: RegExp): Promise<string> {
  return eventually(async () => {
    const a = await availabilityOf(log, 'HIST')
    return a.find((x) => x.value === 'UNAVAILABLE' && re.test(x.reason ?? ''))?.reason
  }, `HIST UNAVAILABLE with ${re}`)
}

test('a wrong password, a refused connection, an unset variable: coded reasons on avail, and it recovers once fixed', async (t) => {
  const pg = await sharedPg()
  const db = await freshDatabase(t)

  // A wrong password, then the right one: the same process goes on and writes.
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  const env: Record<string, string | undefined> = { PW: 'not-the-password' }
  const factory = await historianFactory(dir, `url: ${db.url}\npassword_env: PW\nbatch_ms: 20`)
  await log.append(TOPICS.assets, [value('temp', 1, '2026-12-06T08:00:00Z')])
  const run = await runHistorian(factory, log, env)
  assert.match(
    await waitReason(log, /OFA_HISTORIAN_CONNECT/),
    /cannot connect to .*password authentication failed.*28P01/,
  )
  env.PW = pg.password
  await eventually(async () => (await landed(db.client)) === 1, 'the sample, once the password is right')
  await eventually(async () => (await availabilityOf(log, 'HIST')).at(-1)?.value === 'AVAILABLE', 'HIST AVAILABLE')
  await run.stop()

  // Nothing listens: ECONNREFUSED.
  const dir2 = await tempDir(t)
  const log2 = await factoryLog(t, `${dir2}/log`)
  const refused = await historianFactory(dir2, 'url: postgres://ofa@127.0.0.1:1/ofa\npassword_env: PW')
  await runHistorian(refused, log2, { PW: 'x' })
  assert.match(await waitReason(log2, /OFA_HISTORIAN_CONNECT/), /127\.0\.0\.1:1\/ofa.*ECONNREFUSED/)

  // The variable is not set.
  const dir3 = await tempDir(t)
  const log3 = await factoryLog(t, `${dir3}/log`)
  const unset = await historianFactory(dir3, `url: ${db.url}\npassword_env: NOT_SET_HERE`)
  await runHistorian(unset, log3, {})
  assert.match(await waitReason(log3, /OFA_HISTORIAN_CONNECT/), /password_env NOT_SET_HERE is not set/)

  // password_file, relative to the apps file: read at each connection (a missing file is a coded reason too).
  const dir4 = await tempDir(t)
  const log4 = await factoryLog(t, `${dir4}/log`)
  const fromFile = await historianFactory(dir4, `url: ${db.url}\npassword_file: secrets/pg.txt\nschema: from_file`)
  await log4.append(TOPICS.assets, [value('temp', 2, '2026-12-06T08:00:00Z')])
  await runHistorian(fromFile, log4, {})
  assert.match(await waitReason(log4, /OFA_HISTORIAN_CONNECT/), /password_file .*secrets\/pg\.txt cannot be read/)
  await mkdir(join(dir4, 'secrets'))
  await writeFile(join(dir4, 'secrets', 'pg.txt'), `${pg.password}\n`)
  await eventually(
    async () =>
      (await scalar(db.client, 'SELECT count(*) FROM from_file.observations WHERE asset = $1', ['CNC-1'])) === 1,
    'the sample, with the password from the file',
  )
})

test('a schema newer than the historian knows: OFA_HISTORIAN_SCHEMA on avail, nothing written', async (t) => {
  const pg = await sharedPg()
  const db = await freshDatabase(t)
  await db.client.query(
    'CREATE SCHEMA openfactory; CREATE TABLE openfactory.schema_version (version integer PRIMARY KEY, timescale boolean NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO openfactory.schema_version VALUES (99, false)',
  )
  const dir = await tempDir(t)
  const log = await factoryLog(t, `${dir}/log`)
  const factory = await historianFactory(dir, `url: ${db.url}\npassword_env: PW`)
  await runHistorian(factory, log, { PW: pg.password })
  assert.match(await waitReason(log, /OFA_HISTORIAN_SCHEMA/), /version 99, newer than this historian's 1/)
  assert.equal(
    await scalar(db.client, `SELECT count(*) FROM pg_tables WHERE schemaname = 'openfactory'`),
    1,
    'only schema_version',
  )
})
