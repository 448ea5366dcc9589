// The demo factory's SQL (examples/demo-factory/sql/assets.sql, named by its factory.yaml) under ofa up: the asset
// tables answer pull queries with the machines' current values, the per-minute spindle load fills, the UNS joins
// place every reading, a push query delivers live rows; after a restart the files are not run twice and the tables go on.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { silentLogger } from '@openfactory/model'
import type { SqlValue } from '@openfactory/sql'
import { startLocalRuntime } from '../src/runtime/local-runtime.ts'
import { demoCopy, eventually, ofa, pull, tempDir } from './helpers.ts'

test('ofa up runs the factory SQL: pull queries on the asset tables, a windowed table, a push query, a restart', async (t) => {
  const dir = await demoCopy(t)
  const data = join(await tempDir(t, 'ofa-sql-data-'), 'data')
  let rt = await startLocalRuntime({ paths: [dir], dataDir: data, port: 0, logger: silentLogger })
  t.after(() => rt.stop())

  const load = await eventually(async () => {
    const rows = await pull(rt, "SELECT * FROM assets WHERE key = 'DEMO-CNC-SIM-001|spindle_load';")
    return rows[0] && rows[0].VALUE !== 'UNAVAILABLE' ? rows[0] : undefined
  }, 'the spindle load in the assets table')
  assert.equal(load.ASSET_UUID, 'DEMO-CNC-SIM-001')
  assert.equal(load.ID, 'spindle_load')
  assert.ok(Number.isFinite(Number(load.VALUE)), `a number as text: ${load.VALUE}`)
  assert.match(String(load.TIMESTAMP), /^\d{4}-\d\d-\d\dT/)

  const avail = await eventually(async () => {
    const rows = await pull(rt, "SELECT * FROM assets_avail WHERE asset_uuid = 'DEMO-CNC-SIM-001';")
    return rows[0]?.AVAILABILITY === 'AVAILABLE' ? rows : undefined
  }, 'the machine AVAILABLE in assets_avail')
  assert.equal(avail.length, 1)
  const types = await eventually(async () => {
    const rows = await pull(rt, 'SELECT * FROM assets_type;')
    return rows.length >= 3 ? rows : undefined
  }, 'three asset types')
  assert.ok(types.every((r) => r.TYPE === 'Device'))

  const perMinute = await eventually(async () => {
    const rows = await pull(rt, "SELECT * FROM spindle_load_per_minute WHERE asset_uuid = 'DEMO-CNC-SIM-001';")
    return rows.length > 0 && (rows[0]?.SAMPLES as number) >= 2 ? rows : undefined
  }, 'spindle load per minute')
  const row = perMinute[0] as Record<string, SqlValue>
  assert.ok((row.AVG_LOAD as number) >= 5 && (row.AVG_LOAD as number) <= 95, `average load ${row.AVG_LOAD}`)
  assert.ok((row.MAX_LOAD as number) >= (row.AVG_LOAD as number))

  // The readings of each asset together: a table of the table above, a query further down the chain.
  const items = await eventually(async () => {
    const readings = await pull(
      rt,
      "SELECT * FROM assets_aggregated_by_asset_uuid WHERE asset_uuid = 'DEMO-CNC-SIM-001';",
    )
    const list = (readings[0]?.READINGS ?? []) as { ID: string }[]
    return list.some((i) => i.ID === 'spindle_load') ? list : undefined
  }, 'the item list of the machine')
  assert.equal(new Set(items.map((i) => i.ID)).size, items.length, 'each item once')

  // The UNS joins: the assets table with the UNS map ofa up writes (a foreign-key join), and every observation
  // re-keyed by its asset's UNS path (a stream-table join).
  const placed = await eventually(async () => {
    const rows = await pull(rt, "SELECT * FROM assets_uns WHERE asset_uuid_key = 'DEMO-CNC-SIM-001|spindle_load';")
    return rows[0]
  }, 'the spindle load with its UNS path in assets_uns')
  assert.match(String(placed.UNS_ID), /^Demofactory\/Machining\//)
  assert.equal(placed.KEY, `${placed.UNS_ID}|spindle_load`)
  assert.equal(placed.ASSET_UUID, 'DEMO-CNC-SIM-001')
  const byUns = await rt.sql.query(
    "SELECT uns_id, asset_uuid, id FROM assets_stream_uns WHERE asset_uuid = 'DEMO-CNC-SIM-001' EMIT CHANGES LIMIT 1;",
  )
  const unsRows: (readonly SqlValue[])[] = []
  for await (const r of byUns.rows) unsRows.push(r)
  assert.deepEqual(unsRows[0]?.slice(0, 2), [placed.UNS_ID, 'DEMO-CNC-SIM-001'])

  // A push query: live rows as they come, LIMIT ends it.
  const push = await rt.sql.query(
    "SELECT asset_uuid, id, value FROM assets_stream WHERE asset_uuid = 'DEMO-CNC-SIM-001' AND id = 'spindle_load' EMIT CHANGES LIMIT 2;",
  )
  const live: (readonly SqlValue[])[] = []
  for await (const r of push.rows) live.push(r)
  assert.equal(live.length, 2)
  assert.deepEqual(push.header.columnNames, ['ASSET_UUID', 'ID', 'VALUE'])

  // Several clients at once on one push query's stream, over the ksqlDB API: each gets its live rows.
  const clients = await Promise.all(
    [1, 2, 3].map(async () => {
      const r = await fetch(`${rt.url}/query-stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/vnd.ksqlapi.delimited.v1' },
        body: JSON.stringify({
          sql: "SELECT id, value FROM assets_stream WHERE asset_uuid = 'DEMO-CNC-SIM-001' AND id = 'spindle_load' EMIT CHANGES LIMIT 2;",
        }),
      })
      assert.equal(r.status, 200)
      return (await r.text())
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => JSON.parse(l) as unknown[])
    }),
  )
  for (const rows of clients) {
    assert.equal(rows.length, 2)
    assert.ok(rows.every((row) => row[0] === 'spindle_load'))
  }

  // The ksqlDB-compatible API of the same ofa: a pull query over POST /query-stream, and `ofa sql -f`.
  const res = await fetch(`${rt.url}/query-stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/vnd.ksqlapi.delimited.v1' },
    body: JSON.stringify({ sql: "SELECT id, value FROM assets WHERE key = 'DEMO-CNC-SIM-001|spindle_load';" }),
  })
  assert.equal(res.status, 200)
  const lines = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown)
  assert.deepEqual((lines[0] as { columnNames: string[] }).columnNames, ['ID', 'VALUE'])
  assert.equal((lines[1] as string[])[0], 'spindle_load')
  // And the REST API's view of the same table.
  const rest = await fetch(`${rt.url}/api/tables/assets?key=${encodeURIComponent('DEMO-CNC-SIM-001|spindle_load')}`)
  assert.equal(rest.status, 200)
  const restBody = (await rest.json()) as { table: string; rows: Record<string, unknown>[] }
  assert.equal(restBody.table, 'ASSETS')
  assert.equal(restBody.rows.length, 1)
  assert.equal(restBody.rows[0]?.KEY, 'DEMO-CNC-SIM-001|spindle_load')
  assert.equal(restBody.rows[0]?.ID, 'spindle_load')
  const dir2 = await tempDir(t, 'ofa-sql-file-')
  await writeFile(
    join(dir2, 'q.sql'),
    "SHOW TABLES;\nSELECT asset_uuid, availability FROM assets_avail WHERE asset_uuid = 'DEMO-CNC-SIM-001';\n",
  )
  const shell = await ofa(['sql', '--url', rt.url, '-f', join(dir2, 'q.sql')], { cwd: dir2 })
  assert.equal(shell.code, 0, shell.stderr)
  assert.match(shell.stdout, /\| ASSETS_AVAIL +\| assets_avail_topic +\| KAFKA +\| JSON +\| false +\|/)
  assert.match(shell.stdout, /\| DEMO-CNC-SIM-001 +\| AVAILABLE +\|/)
  assert.match(shell.stdout, /1 row\n/)
  await writeFile(join(dir2, 'bad.sql'), 'SHOW TABLES;\nSELECT * FORM assets;\n')
  const bad = await ofa(['sql', '--url', rt.url, '-f', join(dir2, 'bad.sql')], { cwd: dir2 })
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /bad\.sql:2:\d+: OFA_SQL_PARSE /)

  // Restart: the engine comes back from its command topic; the file's statements are there already.
  const queries = (await rt.sql.execute('SHOW QUERIES;'))[0] as unknown as { queries: { id: string }[] }
  await rt.stop()
  rt = await startLocalRuntime({ paths: [dir], dataDir: data, port: 0, logger: silentLogger })
  const again = (await rt.sql.execute('SHOW QUERIES;'))[0] as unknown as { queries: { id: string }[] }
  assert.deepEqual(
    again.queries.map((q) => q.id).sort(),
    queries.queries.map((q) => q.id).sort(),
    'the same queries, none twice',
  )
  const before = Number(load.VALUE)
  await eventually(async () => {
    const rows = await pull(rt, "SELECT * FROM assets WHERE key = 'DEMO-CNC-SIM-001|spindle_load';")
    return rows[0] && Number(rows[0].VALUE) !== before ? rows : undefined
  }, 'the table going on after the restart')
  await rt.stop()
})
