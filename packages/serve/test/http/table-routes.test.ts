// GET /api/tables/{name}: an SQL table's rows over the REST API, in our shapes and error codes (the engine behind
// it is the fake one; packages/cli/test/sql.test.ts reads the demo's real tables through it).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createServeApp } from '../../src/index.ts'
import { createFakeSql, MACHINES } from '../helpers/fake-sql.ts'
import { createTestLog, createTestServing } from '../helpers/log.ts'

test('GET /api/tables/{name}: every row, one key, a limit; unknown tables and bad limits refused', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving, sql: createFakeSql() })
  t.after(() => app.close())

  const all = await app.inject('/api/tables/machines')
  assert.equal(all.statusCode, 200)
  const body = all.json()
  assert.equal(body.table, 'MACHINES')
  assert.deepEqual(
    body.columns.map((c: { name: string; key: boolean }) => [c.name, c.key]),
    [
      ['ID', true],
      ['TEMP', false],
      ['TAGS', false],
      ['SEEN', false],
    ],
  )
  assert.deepEqual(
    body.rows,
    MACHINES.wire.map((w) => Object.fromEntries(MACHINES.columnNames.map((n, i) => [n, w[i]]))),
    'values written as /query writes them (a MAP as an object)',
  )

  const one = (await app.inject('/api/tables/MACHINES?key=m-3')).json()
  assert.deepEqual(one.rows, [{ ID: 'm-3', TEMP: -3, TAGS: ['c'], SEEN: { 'y"z': 2 } }])
  assert.equal((await app.inject('/api/tables/MACHINES?limit=2')).json().rows.length, 2)
  assert.equal((await app.inject('/api/tables/MACHINES?limit=10000')).statusCode, 200)

  const unknown = await app.inject('/api/tables/ghosts')
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json().error.code, 'OFA_SQL_UNKNOWN_SOURCE')
  for (const limit of ['0', '10001', 'x']) {
    const bad = await app.inject(`/api/tables/MACHINES?limit=${limit}`)
    assert.equal(bad.statusCode, 400, limit)
    assert.equal(bad.json().error.code, 'OFA_SERVE_REQUEST_INVALID')
  }
  const extra = await app.inject('/api/tables/MACHINES?colour=red')
  assert.equal(extra.statusCode, 400)
})
