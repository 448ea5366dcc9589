// Push queries: with GROUP BY (the aggregation run in memory for the query, a row per change of a group); from now,
// sharing one reader of their topic (push-hub.ts), each getting what was written after it started; a slow client
// dropped past its limit.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { openEmbeddedLog } from '@openfactory/log'
import { isOpenFactoryError } from '@openfactory/model'
import { openSqlEngine } from '../src/engine.ts'
import { MAX_QUEUED_RECORDS } from '../src/push-hub.ts'

async function collect(rows: AsyncIterable<readonly unknown[]>): Promise<unknown[][]> {
  const out: unknown[][] = []
  for await (const r of rows) out.push([...r])
  return out
}

test('a push query with GROUP BY: a row per change, windows, HAVING; without EMIT CHANGES refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-push-'))
  const log = await openEmbeddedLog({ dir })
  t.after(async () => {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: 'ev', partitions: 2 })
  const engine = await openSqlEngine({ eventLog: log })
  t.after(() => engine.close())
  await engine.execute(
    "CREATE STREAM ev (k VARCHAR KEY, g VARCHAR, v INT) WITH (KAFKA_TOPIC='ev', VALUE_FORMAT='JSON');",
  )
  const values = [
    ['a', 1, 1000],
    ['a', 2, 2000],
    ['b', 5, 3000],
    ['a', 4, 12_000],
  ] as const
  for (const [g, v, ts] of values) {
    await log.append('ev', [{ key: 'one', value: JSON.stringify({ g, v }), timestamp: ts }])
  }
  const earliest = { properties: { 'auto.offset.reset': 'earliest' } }

  const counts = await engine.query(
    'SELECT g, COUNT(*) AS n, SUM(v) AS total FROM ev GROUP BY g EMIT CHANGES LIMIT 4;',
    earliest,
  )
  assert.deepEqual(counts.header.columnNames, ['G', 'N', 'TOTAL'])
  assert.deepEqual(counts.header.columnTypes, ['STRING', 'BIGINT', 'INTEGER'])
  assert.deepEqual(await collect(counts.rows), [
    ['a', 1, 1],
    ['a', 2, 3],
    ['b', 1, 5],
    ['a', 3, 7],
  ])

  const windows = await engine.query(
    'SELECT g, WINDOWSTART AS ws, COUNT(*) AS n FROM ev WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY g HAVING COUNT(*) > 1 EMIT CHANGES LIMIT 1;',
    earliest,
  )
  assert.deepEqual(windows.header.columnNames, ['G', 'WS', 'N'])
  assert.deepEqual(await collect(windows.rows), [['a', 0, 2]])

  // A push query from the end sees only what comes after it.
  const live = await engine.query('SELECT g, COUNT(*) AS n FROM ev GROUP BY g EMIT CHANGES LIMIT 1;')
  await log.append('ev', [{ key: 'one', value: JSON.stringify({ g: 'c', v: 1 }), timestamp: 20_000 }])
  assert.deepEqual(await collect(live.rows), [['c', 1]])

  await assert.rejects(
    () => engine.query('SELECT g, COUNT(*) FROM ev GROUP BY g;'),
    (err: unknown) => isOpenFactoryError(err, 'OFA_SQL_UNSUPPORTED') && /EMIT CHANGES/.test(err.message),
  )
})

test('push queries from now on one stream share one reader; each gets what was written after it started', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-push-'))
  const log = await openEmbeddedLog({ dir })
  t.after(async () => {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: 'ev', partitions: 3 })
  const engine = await openSqlEngine({ eventLog: log })
  t.after(() => engine.close())
  await engine.execute(
    "CREATE STREAM ev (k VARCHAR KEY, g VARCHAR, v INT) WITH (KAFKA_TOPIC='ev', VALUE_FORMAT='JSON');",
  )
  const write = (g: string, v: number) => log.append('ev', [{ key: `k${v}`, value: JSON.stringify({ g, v }) }])
  await write('a', 0) // before every query: nobody gets it

  const all = await engine.query('SELECT v FROM ev EMIT CHANGES LIMIT 4;')
  const onlyB = await engine.query("SELECT v FROM ev WHERE g = 'b' EMIT CHANGES LIMIT 2;")
  await write('a', 1)
  await write('b', 2)
  const late = await engine.query('SELECT v FROM ev EMIT CHANGES LIMIT 2;') // after 1 and 2
  assert.deepEqual(engine.pushStats(), [{ topic: 'ev', subscribers: 3 }], 'one reader for three queries')
  await write('b', 3)
  await write('a', 4)
  const sorted = async (r: typeof all) => (await collect(r.rows)).map((x) => x[0] as number).sort()
  assert.deepEqual(await sorted(all), [1, 2, 3, 4])
  assert.deepEqual(await sorted(onlyB), [2, 3])
  assert.deepEqual(await sorted(late), [3, 4])
  assert.deepEqual(engine.pushStats(), [], 'the reader stops with its last query')

  // A query closed before it is read leaves too.
  const unread = await engine.query('SELECT v FROM ev EMIT CHANGES;')
  assert.equal(engine.pushStats()[0]?.subscribers, 1)
  await unread.close()
  assert.deepEqual(engine.pushStats(), [])
})

test(`a push client more than ${MAX_QUEUED_RECORDS} records behind is dropped (OFA_SQL_SLOW_CONSUMER); the others go on`, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-push-'))
  const log = await openEmbeddedLog({ dir })
  t.after(async () => {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: 'ev', partitions: 1 })
  const engine = await openSqlEngine({ eventLog: log })
  t.after(() => engine.close())
  await engine.execute("CREATE STREAM ev (k VARCHAR KEY, v INT) WITH (KAFKA_TOPIC='ev', VALUE_FORMAT='JSON');")
  const total = MAX_QUEUED_RECORDS + 1
  const reader = await engine.query(`SELECT v FROM ev EMIT CHANGES LIMIT ${total};`)
  const slow = await engine.query('SELECT v FROM ev EMIT CHANGES;')
  const read = collect(reader.rows)
  // Exactly the limit waits for the slow client: it is still there.
  for (let i = 0; i < MAX_QUEUED_RECORDS; i += 1000) {
    await log.append(
      'ev',
      Array.from({ length: 1000 }, (_, j) => ({ key: 'k', value: JSON.stringify({ v: i + j }) })),
    )
  }
  const it = slow.rows[Symbol.asyncIterator]()
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(engine.pushStats()[0]?.subscribers, 2, 'at the limit: still served')
  // One more record than it may hold: dropped.
  await log.append('ev', [{ key: 'k', value: JSON.stringify({ v: MAX_QUEUED_RECORDS }) }])
  assert.equal((await read).length, total, 'the client that reads gets every record')
  await assert.rejects(
    async () => {
      for (;;) if ((await it.next()).done) break
    },
    (err: unknown) => isOpenFactoryError(err, 'OFA_SQL_SLOW_CONSUMER'),
  )
})
