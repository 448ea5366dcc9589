// Interoperability with a Kafka client that is not ours: Debian's kcat (librdkafka). It reads the observations we
// write to `ofa_assets` and sees the reference wire format, each key on the partition the Java client chooses;
// and what kcat writes with librdkafka's Java-compatible partitioner (`murmur2_random`) lands where our
// `partitionFor` says, and reads back through our log as observations.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { partitionFor } from '@openfactory/log'
import { ASSETS_TOPIC, decodeObservation, encodeObservation, isoTimestamp, type Observation } from '@openfactory/model'
import { ensureKcat } from '../../../scripts/kafka.ts'
import { kafka, openTestLog } from './helpers.ts'

const PARTITIONS = 6

interface KcatMessage {
  topic: string
  partition: number
  offset: number
  tstype: string
  ts: number
  key: string | null
  payload: string | null
  headers?: string[]
}

/** Runs kcat as a consumer of one partition from `offset`, for `count` records, with its JSON envelope output. */
function kcatConsume(
  bootstrap: string,
  topic: string,
  partition: number,
  offset: number,
  count: number,
): KcatMessage[] {
  const out = execFileSync(
    'kcat',
    [
      '-C',
      '-b',
      bootstrap,
      '-t',
      topic,
      '-p',
      String(partition),
      '-o',
      String(offset),
      '-c',
      String(count),
      '-e',
      '-J',
      '-q',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  )
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as KcatMessage)
}

describe('interop with kcat (librdkafka)', () => {
  it('kcat reads our ofa_assets observations in the reference format, each key on the Java partition', async (t) => {
    ensureKcat()
    const { bootstrap } = await kafka()
    const log = await openTestLog(t)
    await log.createTopic({ name: ASSETS_TOPIC, partitions: PARTITIONS })
    const assets = Array.from({ length: 24 }, () => randomUUID())
    const now = Date.now()
    const observations: { key: string; obs: Observation; timestamp: number }[] = []
    for (const [i, uuid] of assets.entries()) {
      const ts = now + i
      observations.push(
        {
          key: uuid,
          timestamp: ts,
          obs: {
            id: 'Temp',
            value: 20 + i / 4,
            tag: 'Temperature',
            type: 'Samples',
            attributes: { timestamp: isoTimestamp(ts), ingestion_timestamp: isoTimestamp(ts + 1), units: 'CELSIUS' },
          },
        },
        {
          key: uuid,
          timestamp: ts,
          obs: {
            id: 'avail',
            value: 'AVAILABLE',
            tag: 'Availability',
            type: 'Events',
            attributes: { timestamp: isoTimestamp(ts), ttl_ms: 15000 },
          },
        },
      )
    }
    const metas = await log.append(
      ASSETS_TOPIC,
      observations.map((o) => ({
        key: o.key,
        value: encodeObservation(o.obs),
        timestamp: o.timestamp,
        headers: { source: 'interop-test' },
      })),
    )
    // Read every partition we wrote to with kcat, from the first offset we got there.
    const seen = new Map<string, KcatMessage>()
    const byPartition = new Map<number, number[]>()
    for (const m of metas) byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), m.offset])
    for (const [p, offsets] of byPartition) {
      const first = Math.min(...offsets)
      const last = Math.max(...offsets)
      for (const msg of kcatConsume(bootstrap, ASSETS_TOPIC, p, first, last - first + 1))
        seen.set(`${msg.partition}:${msg.offset}`, msg)
    }
    for (const [i, m] of metas.entries()) {
      const o = observations[i]!
      const msg = seen.get(`${m.partition}:${m.offset}`)
      assert.ok(msg, `kcat saw ${ASSETS_TOPIC}/${m.partition}@${m.offset}`)
      // The partition kcat reports is the one the Java client (and ksqlDB) computes for the key.
      assert.equal(msg.partition, partitionFor(o.key, PARTITIONS), `partition of key ${o.key}`)
      assert.equal(msg.key, o.key)
      // The value is the reference wire format, byte for byte what encodeObservation wrote.
      assert.equal(msg.payload, encodeObservation(o.obs))
      const json = JSON.parse(msg.payload!) as Record<string, unknown>
      assert.deepEqual(Object.keys(json), ['ID', 'VALUE', 'TAG', 'TYPE', 'attributes'])
      assert.equal(json.ID, o.obs.id)
      assert.equal(json.VALUE, o.obs.value)
      assert.match((json.attributes as { timestamp: string }).timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.equal(msg.tstype, 'create')
      assert.equal(msg.ts, o.timestamp)
      assert.deepEqual(msg.headers, ['source', 'interop-test'])
    }
    assert.equal(seen.size, metas.length)
  })

  it("what kcat writes with librdkafka's Java-compatible partitioner lands on our partitionFor, and reads back", async (t) => {
    ensureKcat()
    const { bootstrap } = await kafka()
    const log = await openTestLog(t)
    await log.createTopic({ name: ASSETS_TOPIC, partitions: PARTITIONS })
    const before = (await log.describeTopic(ASSETS_TOPIC)).partitionStates.map((p) => p.endOffset)
    const keys = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? `dht-sensor-${i}` : randomUUID()))
    const lines = keys.map(
      (k, i) =>
        `${k}\t${encodeObservation({ id: 'Temp', value: i, tag: 'Temperature', type: 'Samples', attributes: { timestamp: isoTimestamp() } })}`,
    )
    const r = spawnSync(
      'kcat',
      [
        '-P',
        '-b',
        bootstrap,
        '-t',
        ASSETS_TOPIC,
        '-K',
        '\t',
        '-X',
        'topic.partitioner=murmur2_random',
        '-X',
        'acks=all',
      ],
      { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 30_000 },
    )
    assert.equal(r.status, 0, r.stderr)
    const found = new Map<string, { partition: number; value: number }>()
    for (let p = 0; p < PARTITIONS; p++) {
      for (let offset = before[p]!; ; ) {
        const batch = await log.read(ASSETS_TOPIC, p, offset)
        if (batch.length === 0) break
        for (const rec of batch) {
          const key = rec.key?.toString('utf8') ?? ''
          if (keys.includes(key)) found.set(key, { partition: p, value: decodeObservation(rec.value!).value as number })
        }
        offset = batch[batch.length - 1]!.offset + 1
      }
    }
    assert.equal(found.size, keys.length, 'every record kcat wrote was read back')
    for (const [i, k] of keys.entries()) {
      assert.equal(found.get(k)!.partition, partitionFor(k, PARTITIONS), `key ${k}`)
      assert.equal(found.get(k)!.value, i)
    }
  })
})
