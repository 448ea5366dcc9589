// Pull queries' view of a table (table-view.ts) and the engine's command topic (command-log.ts), on the embedded
// log: the view holds the last row of each key, forgets a key at its tombstone, skips a record that does not
// decode, and `catchUp` waits for what the topic held when it was called; commands come back in order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DataSource } from '../src/catalog.ts'
import { CommandLog } from '../src/command-log.ts'
import { LogicalSchema } from '../src/schema.ts'
import { keyText, TableView } from '../src/table-view.ts'
import { SqlType } from '../src/types.ts'
import { BACKBONES } from './processor/helpers.ts'

const embedded = BACKBONES[0] as (typeof BACKBONES)[number]

const AVAIL: DataSource = {
  name: 'ASSETS_AVAIL',
  kind: 'TABLE',
  schema: new LogicalSchema([
    { name: 'ASSET_UUID', type: SqlType.STRING, role: 'key' },
    { name: 'AVAILABILITY', type: SqlType.STRING, role: 'value' },
  ]),
  topic: 'assets_avail_topic',
  keyFormat: 'KAFKA',
  valueFormat: 'JSON',
  wrapSingleValue: true,
  isSource: true,
  statementText: '',
}

test('a table view: last row per key, tombstones remove, bad records skipped, catchUp sees every earlier write', async (t) => {
  const log = await embedded.open(t)
  await log.createTopic({ name: AVAIL.topic, partitions: 3 })
  const view = new TableView(log, AVAIL)
  t.after(() => view.close())
  await log.append(AVAIL.topic, [
    { key: 'A', value: JSON.stringify({ AVAILABILITY: 'AVAILABLE' }) },
    { key: 'B', value: JSON.stringify({ availability: 'UNAVAILABLE' }) },
    { key: 'C', value: 'not json' },
    { key: 'A', value: JSON.stringify({ AVAILABILITY: 'UNAVAILABLE' }) },
    { key: 'B', value: null },
  ])
  await view.catchUp()
  assert.equal(view.size, 1)
  const row = view.get(keyText(['A'], [], AVAIL))
  assert.deepEqual(row?.slice(0, 2), ['A', 'UNAVAILABLE'])
  assert.equal(view.get(keyText(['B'], [], AVAIL)), undefined)
  await log.append(AVAIL.topic, [{ key: 'D', value: JSON.stringify({ AVAILABILITY: 'AVAILABLE' }) }])
  await view.catchUp()
  assert.deepEqual([...view.rows()].map((r) => r[0]).sort(), ['A', 'D'])
})

test('the command topic returns its commands in order, after a reopen', async (t) => {
  const log = await embedded.open(t)
  const one = new CommandLog(log, '_ofa_sql_commands_test')
  assert.deepEqual(await one.open(), [])
  await one.append({
    statement: "CREATE STREAM A (X INT) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');",
    properties: {},
  })
  await one.append({
    statement: 'CREATE STREAM B AS SELECT * FROM A;',
    properties: { 'auto.offset.reset': 'earliest' },
    queryId: 'CSAS_B_0',
  })
  const two = new CommandLog(log, '_ofa_sql_commands_test')
  const commands = await two.open()
  assert.deepEqual(
    commands.map((c) => [c.statement.slice(0, 15), c.queryId]),
    [
      ['CREATE STREAM A', undefined],
      ['CREATE STREAM B', 'CSAS_B_0'],
    ],
  )
  assert.equal(commands[1]?.properties['auto.offset.reset'], 'earliest')
})
