// Sequence numbers and instanceId of the MTConnect façade: paging with from/count/nextSequence across the six
// partitions of ofa_assets loses and repeats nothing; a restart over the same log gives the same numbers and the same
// instanceId; a log whose history is not the one the numbers came from gets another; `current?at=`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { partitionFor } from '@openfactory/log'
import { isoTimestamp, TOPICS } from '@openfactory/model'
import { createTestLog, createTestServing, declare, publish, sample, sensor, tempDir } from '../helpers/log.ts'
import { client, grab, startApp } from './helpers.ts'

interface XmlObservation {
  device: string
  attributes: { dataItemId: string; sequence: string } & Record<string, string>
  text: string
}

/** Twelve assets spread over the six partitions, each with a run of temperatures, appended interleaved. */
async function fill(log: Awaited<ReturnType<typeof createTestLog>>): Promise<{ uuids: string[]; values: number }> {
  // Two assets per partition (murmur2 of the key, as every backbone places it).
  const uuids: string[] = []
  const per = new Map<number, number>()
  for (let i = 0; uuids.length < 12; i++) {
    const u = `CELL-${i}`
    const p = partitionFor(u, 6)
    if ((per.get(p) ?? 0) >= 2) continue
    per.set(p, (per.get(p) ?? 0) + 1)
    uuids.push(u)
  }
  assert.equal(per.size, 6)
  for (const u of uuids) await declare(log, sensor(u, ['F', 'A', u]))
  let values = 0
  for (let round = 0; round < 5; round++) {
    for (const u of uuids) {
      await publish(log, u, [sample('Temp', round * 100 + values), sample('exec', round % 2 ? 'ACTIVE' : 'READY')])
      values += 2
    }
  }
  return { uuids, values }
}

test('paging with from/count/nextSequence across the six partitions loses and repeats nothing; a restart numbers the same', async (t) => {
  const dir = await tempDir(t)
  const log = await createTestLog(t, dir)
  const serving = await createTestServing(t, log)
  const { uuids, values } = await fill(log)
  const { app, url } = await startApp(t, log, serving)

  const paged = await client<{
    client: { sequence: number; dataItemId: string }[]
    xml: XmlObservation[]
    pages: number
    from: number
    to: number
  }>(['page', url, '7'])
  // Every observation once: per asset 4 items UNAVAILABLE at declaration + the published ones, and its avail none.
  const sequences = paged.xml.map((o) => Number(o.attributes.sequence))
  assert.equal(new Set(sequences).size, sequences.length, 'no observation twice')
  assert.deepEqual(
    [...sequences].sort((a, b) => a - b),
    sequences.slice().sort((a, b) => a - b),
  )
  assert.equal(paged.xml.length, uuids.length * 4 + values)
  const temps = paged.xml.filter((o) => o.attributes.dataItemId.endsWith('_Temp') && o.text !== 'UNAVAILABLE')
  assert.equal(temps.length, values / 2)
  // Within an asset, the log's order (one key, one partition).
  for (const u of uuids) {
    const mine = temps.filter((o) => o.device === u).map((o) => Number(o.text))
    assert.deepEqual(
      mine,
      [...mine].sort((a, b) => a - b),
      u,
    )
  }
  // pymtconnect, reading the same pages in JSON (events and conditions), saw the same events.
  const xmlEvents = paged.xml
    .filter(
      (o) =>
        !o.attributes.dataItemId.endsWith('_Temp') &&
        !o.attributes.dataItemId.endsWith('_Hum') &&
        !o.attributes.dataItemId.endsWith('_system'),
    )
    .map((o) => Number(o.attributes.sequence))
  assert.deepEqual(
    paged.client
      .filter((e) => !e.dataItemId.endsWith('_system'))
      .map((e) => e.sequence)
      .sort((a, b) => a - b),
    xmlEvents.sort((a, b) => a - b),
  )
  // The first number counts from 1 + the partitions' start offsets (all 0 here).
  assert.equal(paged.from, 1)
  const before = (await app.inject('/mtconnect/sample?count=10000')).body
  const instanceId = grab(before, /instanceId="(\d+)"/)

  // A restart: a new state and app over the same log directory.
  await app.close()
  await serving.close()
  await log.close()
  const log2 = await createTestLog(t, dir)
  const serving2 = await createTestServing(t, log2)
  const { app: app2 } = await startApp(t, log2, serving2)
  const after = (await app2.inject('/mtconnect/sample?count=10000')).body
  assert.equal(grab(after, /instanceId="(\d+)"/), instanceId, 'same instanceId')
  const numbered = (doc: string) =>
    [...doc.matchAll(/dataItemId="([^"]+)" timestamp="[^"]+" sequence="(\d+)"/g)].map((m) => `${m[1]}@${m[2]}`).sort()
  assert.deepEqual(numbered(after), numbered(before), 'same sequence numbers')
  assert.ok(numbered(after).length >= paged.xml.length)
})

test('current?at= shows the state after that sequence; a log with another history gets another instanceId', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  await declare(log, sensor('S-1', ['F', 'A', 'S-1']))
  await publish(log, 'S-1', [sample('Temp', 1)])
  await publish(log, 'S-1', [sample('Temp', 2)])
  await publish(log, 'S-1', [
    {
      id: 'system',
      value: 'FAULT',
      tag: 'System',
      type: 'Condition',
      attributes: { timestamp: isoTimestamp(), nativeCode: 'E1' },
    },
  ])
  await publish(log, 'S-1', [sample('Temp', 3)])
  const { app } = await startApp(t, log, serving)
  const doc = (await app.inject('/mtconnect/sample?path=//DataItem[@type="TEMPERATURE"]&count=100')).body
  const seqOf = (v: string) => Number(grab(doc, new RegExp(`sequence="(\\d+)">${v}<`)))
  const at = async (n: number) => (await app.inject(`/mtconnect/current?at=${n}`)).body
  assert.match(await at(seqOf('2')), /sequence="\d+">2<\/Temperature>/)
  assert.match(await at(seqOf('2')), /<Unavailable [^>]*dataItemId="S-1_system"/, 'the fault comes after')
  assert.match(await at(seqOf('3')), /<Fault [^>]*nativeCode="E1"/)
  assert.match(await at(seqOf('1')), />1<\/Temperature>/)
  const instanceId = grab(await at(seqOf('1')), /instanceId="(\d+)"/)

  // Another log whose ofa_mtconnect holds this one's anchors (a restored or recreated log): other records at those
  // offsets, so another history and another instanceId.
  const anchors = await log.read('ofa_mtconnect', 0, 0)
  const other = await createTestLog(t)
  const otherServing = await createTestServing(t, other)
  await new Promise((r) => setTimeout(r, 5))
  await declare(other, sensor('S-1', ['F', 'A', 'S-1']))
  await publish(other, 'S-1', [sample('Temp', 9), sample('Temp', 9), sample('Temp', 9)])
  await other.createTopic({ name: 'ofa_mtconnect', partitions: 1, cleanupPolicy: 'compact' })
  await other.append(
    'ofa_mtconnect',
    anchors.map((r) => ({ key: r.key?.toString() ?? TOPICS.assets, value: r.value?.toString() ?? null })),
  )
  const { app: otherApp } = await startApp(t, other, otherServing)
  const otherId = grab((await otherApp.inject('/mtconnect/current')).body, /instanceId="(\d+)"/)
  assert.notEqual(otherId, instanceId)
})
