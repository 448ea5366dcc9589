// Joins under faults, on every backbone: the processors of a join (a repartition, a foreign-key join's two sides
// talking through internal topics) with appends to their outputs and checkpoints cut short or written without
// acknowledgement. A stream-table join still gives exactly one output per stream record; a foreign-key join's
// table ends in the state of a run without faults.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventLog } from '@openfactory/log'
import { openSqlEngine, type SqlEngine } from '../src/engine.ts'
import type { KsqlEntity } from '../src/engine-api.ts'
import { BACKBONES, type Fault, faultyLog, readTopic, uniqueTopic } from './processor/helpers.ts'

/** Recent timestamps: Kafka's retention (7 days by default) deletes older records at any moment. */
const T0 = Date.now() - 60_000

/**
 * Once armed (the queries started), every third append to an internal topic, a sink or a checkpoint fails, a
 * prefix written or all of it.
 */
function faults(log: EventLog, sinks: readonly string[]): { log: EventLog; arm: () => void; injected: () => number } {
  let armed = false
  let appends = 0
  let injected = 0
  const faulty = faultyLog(log, (topic, records): Fault => {
    if (!armed) return undefined
    if (!topic.startsWith('_ofa_sql_') && !topic.startsWith('_ofa_proc_') && !sinks.includes(topic)) return undefined
    if (topic.startsWith('_ofa_sql_commands')) return undefined
    appends++
    if (appends % 3 !== 0 || injected >= 12) return undefined
    injected++
    return injected % 2 === 0 ? { kind: 'after' } : { kind: 'after', prefix: Math.floor(records.length / 2) }
  })
  return { log: faulty, arm: () => (armed = true), injected: () => injected }
}

async function settled(engine: SqlEngine): Promise<void> {
  await engine.settle(60_000)
}

/** The last value of each key of a table's topic (tombstones remove the key). */
async function tableState(log: EventLog, topic: string): Promise<Map<string, string>> {
  const state = new Map<string, string>()
  for (const r of await readTopic(log, topic)) {
    const k = r.key?.toString() ?? ''
    if (r.value === null) state.delete(k)
    else state.set(k, r.value.toString())
  }
  return state
}

for (const backbone of BACKBONES) {
  describe(`joins under faults (${backbone.name})`, () => {
    test('stream-table join through a repartition: one output per stream record, none twice', async (t) => {
      const log = await backbone.open(t)
      const orders = uniqueTopic('orders')
      const items = uniqueTopic('items')
      const out = uniqueTopic('priced')
      await log.createTopic({ name: orders, partitions: 2 })
      await log.createTopic({ name: items, partitions: 3 })
      const f = faults(log, [out])
      const engine = await openSqlEngine({ eventLog: f.log, commandTopic: uniqueTopic('_ofa_sql_commands') })
      t.after(() => engine.close())
      const n = uniqueTopic('q').replaceAll('-', '_')
      await log.append(
        items,
        Array.from({ length: 20 }, (_, i) => ({ key: `item${i}`, value: `{"price":${i}}`, timestamp: T0 })),
      )
      const props = { properties: { 'auto.offset.reset': 'earliest' } }
      await engine.execute(
        `CREATE TABLE items_${n} (id VARCHAR PRIMARY KEY, price INT) WITH (KAFKA_TOPIC='${items}', VALUE_FORMAT='JSON');`,
      )
      await engine.execute(
        `CREATE STREAM orders_${n} (order_id VARCHAR KEY, item VARCHAR, qty INT) WITH (KAFKA_TOPIC='${orders}', VALUE_FORMAT='JSON');`,
      )
      await engine.execute(
        `CREATE STREAM priced_${n} WITH (KAFKA_TOPIC='${out}') AS SELECT o.item AS item, o.order_id, o.qty * i.price AS amount FROM orders_${n} o LEFT JOIN items_${n} i ON o.item = i.id;`,
        props,
      )
      await settled(engine)
      f.arm()
      const N = 1500
      for (let b = 0; b < N; b += 100) {
        await log.append(
          orders,
          Array.from({ length: 100 }, (_, j) => {
            const i = b + j
            return { key: `o${i}`, value: `{"item":"item${i % 25}","qty":2}`, timestamp: T0 + 1000 + i }
          }),
        )
      }
      await settled(engine)
      const outputs = (await readTopic(log, out)).map((r) => JSON.parse(r.value?.toString() ?? '{}'))
      assert.ok(f.injected() >= 3, `faults injected: ${f.injected()}`)
      const ids = outputs.map((o) => o.ORDER_ID as string)
      assert.equal(new Set(ids).size, ids.length, 'no order twice')
      assert.equal(ids.length, N, 'every order once')
      for (const o of outputs) {
        const i = Number(String(o.ORDER_ID).slice(1))
        assert.equal(o.AMOUNT, i % 25 < 20 ? 2 * (i % 25) : null, `${o.ORDER_ID}`)
      }
    })

    test('foreign-key join: the table ends as a run without faults leaves it', async (t) => {
      const log = await backbone.open(t)
      const map = uniqueTopic('map')
      const assets = uniqueTopic('assets')
      const out = uniqueTopic('assets-uns')
      await log.createTopic({ name: map, partitions: 1 })
      await log.createTopic({ name: assets, partitions: 3 })
      const f = faults(log, [out])
      const engine = await openSqlEngine({ eventLog: f.log, commandTopic: uniqueTopic('_ofa_sql_commands') })
      t.after(() => engine.close())
      const n = uniqueTopic('q').replaceAll('-', '_')
      const props = { properties: { 'auto.offset.reset': 'earliest' } }
      await engine.execute(
        `CREATE TABLE map_${n} (asset_uuid VARCHAR PRIMARY KEY, uns_id VARCHAR) WITH (KAFKA_TOPIC='${map}', VALUE_FORMAT='JSON');`,
      )
      await engine.execute(
        `CREATE TABLE assets_${n} (key VARCHAR PRIMARY KEY, asset_uuid VARCHAR, id VARCHAR, value VARCHAR) WITH (KAFKA_TOPIC='${assets}', VALUE_FORMAT='JSON');`,
      )
      const [created] = await engine.execute(
        `CREATE TABLE uns_${n} WITH (KAFKA_TOPIC='${out}') AS SELECT a.key AS k, m.uns_id AS uns_id, a.id AS id, a.value AS value FROM assets_${n} a LEFT JOIN map_${n} m ON a.asset_uuid = m.asset_uuid WHERE m.uns_id IS NOT NULL;`,
        props,
      )
      // EXPLAIN shows the two processors and the internal topics between them.
      const queryId = (created as { commandStatus: { queryId: string } }).commandStatus.queryId
      const [explained] = await engine.execute(`EXPLAIN ${queryId};`)
      const d = (explained as Extract<KsqlEntity, { '@type': 'queryDescription' }>).queryDescription
      assert.deepEqual(d.sources, [`ASSETS_${n}`.toUpperCase(), `MAP_${n}`.toUpperCase()])
      assert.deepEqual(
        d.fields.map((f) => f.name),
        ['K', 'UNS_ID', 'ID', 'VALUE'],
      )
      assert.match(
        d.topology,
        new RegExp(`Processor ${queryId}\n  reads   ${assets}, _ofa_sql_${queryId}_fk_responses`),
      )
      assert.match(
        d.topology,
        new RegExp(`Processor ${queryId}_FK_RIGHT\n  reads   _ofa_sql_${queryId}_fk_subscriptions, ${map}`),
      )
      await settled(engine)
      f.arm()
      // 10 assets of 8 items each, updated 5 times; assets 0-6 placed, then 0-2 moved, 6 removed from the map.
      const expected = new Map<string, { UNS_ID: string; ID: string; VALUE: string }>()
      const unsOf = new Map<number, string>()
      for (let a = 0; a < 7; a++) unsOf.set(a, `plant/area${a % 3}/asset${a}`)
      await log.append(
        map,
        [...unsOf].map(([a, uns]) => ({ key: `A${a}`, value: JSON.stringify({ uns_id: uns }), timestamp: T0 })),
      )
      for (let round = 0; round < 5; round++) {
        await log.append(
          assets,
          Array.from({ length: 80 }, (_, i) => {
            const a = Math.floor(i / 8)
            const body = { asset_uuid: `A${a}`, id: `item${i % 8}`, value: `${round}` }
            return { key: `A${a}|item${i % 8}`, value: JSON.stringify(body), timestamp: T0 + round * 1000 + i }
          }),
        )
        if (round === 2) {
          for (let a = 0; a < 3; a++) unsOf.set(a, `plant/moved/asset${a}`)
          unsOf.delete(6)
          await log.append(map, [
            ...[0, 1, 2].map((a) => ({
              key: `A${a}`,
              value: JSON.stringify({ uns_id: unsOf.get(a) }),
              timestamp: T0 + 2500,
            })),
            { key: 'A6', value: null, timestamp: T0 + 2500 },
          ])
        }
      }
      for (let i = 0; i < 80; i++) {
        const uns = unsOf.get(Math.floor(i / 8))
        if (uns) expected.set(`A${Math.floor(i / 8)}|item${i % 8}`, { UNS_ID: uns, ID: `item${i % 8}`, VALUE: '4' })
      }
      await settled(engine)
      assert.ok(f.injected() >= 3, `faults injected: ${f.injected()}`)
      const state = await tableState(log, out)
      assert.deepEqual(
        new Map([...state].map(([k, v]) => [k, JSON.parse(v)])),
        expected,
        'placed assets with their current UNS path and last value; the unplaced and removed ones absent',
      )
    })
  })
}
