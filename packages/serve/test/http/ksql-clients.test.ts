// ksqlDB clients we did not write, against our ksqlDB-compatible routes (ksql-routes.ts) on a real port, the fake
// engine behind them: ksql-python-ng from PyPI (HTTP/1.1 for /ksql and /query, HTTP/2 over cleartext for
// /query-stream), installed once into .cache/pyclients by scripts/pyclients.ts and run through
// scripts/peers/ksql_python_client.py; and npm's ksqldb-client (HTTP/2 over cleartext for every call).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { type TestContext, test } from 'node:test'
import ksqldbClient from 'ksqldb-client'
import { install, KSQL_PYTHON_CLIENT } from '../../../../scripts/pyclients.ts'
import { createServeApp } from '../../src/index.ts'
import { createFakeSql, type FakeQuery, type FakeSql, MACHINES, type Row, STREAMS } from '../helpers/fake-sql.ts'
import { createTestLog, createTestServing } from '../helpers/log.ts'

async function start(t: TestContext) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const sql = createFakeSql()
  const app = await createServeApp({ eventLog: log, serving, sql })
  t.after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { sql, port: (app.server.address() as AddressInfo).port }
}

/** The query of text `text` the fake started, once it has (bounded wait). */
async function queryOf(sql: FakeSql, text: string): Promise<FakeQuery> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const q = sql.queries.find((x) => x.text === text)
    if (q) return q
    if (Date.now() > deadline) throw new Error(`no query ${JSON.stringify(text)} started`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Feeds rows to a push query as a machine would: one at a time, a little apart. */
async function feed(q: FakeQuery, rows: readonly Row[]): Promise<void> {
  for (const row of rows) {
    q.feed(row)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// The package is CommonJS (`module.exports = KsqldbClient`); its types say `export default`: the class is the module.
const KsqldbClient = ksqldbClient as unknown as typeof ksqldbClient.default

const byName = (names: readonly string[], row: readonly unknown[]) =>
  Object.fromEntries(names.map((n, i) => [n, row[i]]))

test('ksql-python-ng (PyPI): statements, pull and push queries, close_query', async (t) => {
  const python = await install()
  const { sql, port } = await start(t)
  const child = spawn(python, [KSQL_PYTHON_CLIENT, `http://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.after(() => child.kill())
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const step = async (name: string): Promise<Record<string, any>> => {
    const timer = setTimeout(() => child.kill(), 30_000)
    const next = await lines.next()
    clearTimeout(timer)
    assert.ok(!next.done, `the client ended before ${name}: ${stderr}`)
    const line = JSON.parse(next.value) as Record<string, any>
    assert.equal(line.step, name, `${next.value}\n${stderr}`)
    return line
  }

  assert.equal((await step('info')).version, '0.29.0')
  assert.deepEqual((await step('show-streams')).result, [
    { '@type': 'streams', statementText: 'SHOW STREAMS;', streams: STREAMS, warnings: [] },
  ])
  assert.deepEqual((await step('all-streams')).names, ['READINGS', 'EVENTS'])
  assert.deepEqual(await step('statement-error'), {
    step: 'statement-error',
    raised: true,
    code: 40001,
    message: 'line 1:10: no stream or table GHOST',
  })

  // /query's chunks make ksqlDB's JSON array; /query-stream's header and rows, parsed by the client.
  const pull = JSON.parse((await step('pull-query')).chunks.join('')) as unknown[]
  assert.deepEqual(
    pull.slice(1),
    MACHINES.wire.map((columns) => ({ row: { columns } })),
  )
  assert.deepEqual(
    (await step('pull-query-stream')).rows,
    MACHINES.wire.map((r) => byName(MACHINES.columnNames, r)),
  )

  assert.equal((await step('push-query')).waiting, true)
  let q = await queryOf(sql, 'SELECT * FROM readings EMIT CHANGES LIMIT 2;')
  await feed(q, [
    ['m-1', 1.5],
    ['m-2', 2.5],
  ])
  const push = JSON.parse((await step('push-query')).chunks.join('')) as unknown[]
  assert.deepEqual(push.slice(1), [
    { row: { columns: ['m-1', 1.5] } },
    { row: { columns: ['m-2', 2.5] } },
    { finalMessage: 'Limit Reached' },
  ])

  assert.equal((await step('push-query-stream')).waiting, true)
  q = await queryOf(sql, 'SELECT * FROM readings EMIT CHANGES;')
  await feed(q, [
    ['m-3', 3],
    ['m-4', 4],
  ])
  assert.deepEqual((await step('push-query-stream')).rows, [
    { ASSET: 'm-3', VALUE: 3 },
    { ASSET: 'm-4', VALUE: 4 },
  ])
  await q.closed // the client closed its HTTP/2 stream: the query is closed

  const closing = await step('close-query')
  q = await queryOf(sql, 'SELECT * FROM readings_to_close EMIT CHANGES;')
  assert.equal(closing.queryId, q.queryId)
  assert.equal(closing.closed, true)
  assert.deepEqual(closing.rest, [])
  assert.equal(q.isClosed, true)
  assert.equal(await exited, 0, stderr)
})

test('npm ksqldb-client (HTTP/2 over cleartext): statements, pull and push queries, terminatePushQuery', async (t) => {
  const { sql, port } = await start(t)
  const client = new KsqldbClient({ host: '127.0.0.1', port })
  await client.connect()
  t.after(() => client.disconnect())

  assert.deepEqual(await client.listStreams(), STREAMS)
  assert.deepEqual(await client.listTables(), [])
  const created = await client.executeStatement("CREATE STREAM s (id INT) WITH (kafka_topic='s', value_format='JSON');")
  assert.equal(created.status, 200)
  assert.equal((created.data?.rows?.[0] as { '@type'?: string } | undefined)?.['@type'], 'currentStatus')
  const refused = await client.executeStatement('DESCRIBE ghost;')
  assert.equal(refused.status, 400)
  assert.deepEqual(refused.error, {
    '@type': 'statement_error',
    error_code: 40001,
    message: 'line 1:10: no stream or table GHOST',
    statementText: 'DESCRIBE ghost;',
    entities: [],
  })

  // A pull query: /query-stream with Accept: application/json.
  const pull = await client.query('SELECT * FROM machines;')
  assert.equal(pull.status, 200)
  assert.deepEqual(pull.data?.metadata.columnNames, MACHINES.columnNames)
  assert.deepEqual(
    pull.data?.rows,
    MACHINES.wire.map((r) => byName(MACHINES.columnNames, r)),
  )

  // A push query: delimited, the callback called per line (the header, then each row); terminatePushQuery ends it.
  const got: { metadata?: { queryId?: string }; rows?: unknown[] }[] = []
  const ended = client.streamQuery('SELECT * FROM readings EMIT CHANGES;', (d) => got.push(d))
  const q = await queryOf(sql, 'SELECT * FROM readings EMIT CHANGES;')
  await feed(q, [
    ['m-1', 1],
    ['m-2', 2],
  ])
  const deadline = Date.now() + 5000
  while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  assert.equal(got[0]?.metadata?.queryId, q.queryId)
  assert.deepEqual(
    got.slice(1).map((d) => d.rows),
    [[{ ASSET: 'm-1', VALUE: 1 }], [{ ASSET: 'm-2', VALUE: 2 }]],
  )
  const terminated = await client.terminatePushQuery(q.queryId)
  assert.equal(terminated.status, 200)
  assert.equal((await ended).status, 200)
  await q.closed
})
