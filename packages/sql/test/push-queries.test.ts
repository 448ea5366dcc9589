// Push queries with GROUP BY: the aggregation run in memory for the query, a row per change of a group.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { openEmbeddedLog } from '@openfactory/log'
import { isOpenFactoryError } from '@openfactory/model'
import { openSqlEngine } from '../src/engine.ts'

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
