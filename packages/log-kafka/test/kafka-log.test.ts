// What the Kafka backbone does beyond the contract suite: topic settings as Kafka configs, large appends split
// into several produce requests in order, compression, acks=leader, and the mapping of Kafka's errors.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rejectsWith, uniqueName } from '@openfactory/log/testing'
import { openKafkaLog } from '../src/index.ts'
import { kafka, openTestLog } from './helpers.ts'

describe('KafkaLog', () => {
  it('creates topics with their settings as Kafka topic configs, and describes them', async (t) => {
    const log = await openTestLog(t, { topicConfigs: { 'max.message.bytes': '2000000' } })
    const topic = uniqueName('k-settings')
    await log.createTopic({
      name: topic,
      partitions: 4,
      cleanupPolicy: 'compact,delete',
      retentionMs: 3_600_000,
      retentionBytes: 50_000_000,
      segmentBytes: 8 * 1024 * 1024,
    })
    const d = await log.describeTopic(topic)
    assert.deepEqual(
      { ...d, partitionStates: d.partitionStates.length },
      {
        name: topic,
        partitions: 4,
        replicationFactor: 1,
        cleanupPolicy: 'compact,delete',
        retentionMs: 3_600_000,
        retentionBytes: 50_000_000,
        segmentBytes: 8 * 1024 * 1024,
        partitionStates: 4,
      },
    )
    // Another cleanup policy is a conflict, like another partition count.
    await rejectsWith(() => log.createTopic({ name: topic, partitions: 4 }), 'OFA_LOG_TOPIC_CONFLICT')
    await log.createTopic({ name: topic, partitions: 4, cleanupPolicy: 'compact,delete' })
    // Kafka refuses settings out of its range: an invalid argument.
    await rejectsWith(
      () => log.createTopic({ name: uniqueName('k-bad'), partitions: 1, segmentBytes: 1024 }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
    await rejectsWith(
      () => log.createTopic({ name: uniqueName('k-rf'), partitions: 1, replicationFactor: 3 }),
      'OFA_LOG_INVALID_ARGUMENT',
    )
  })

  it('splits a large append into several produce requests, in order, with consecutive offsets', async (t) => {
    const log = await openTestLog(t, { maxBatchBytes: 16 * 1024 })
    const topic = uniqueName('k-large')
    await log.createTopic({ name: topic, partitions: 2 })
    const records = Array.from({ length: 2000 }, (_, i) => ({ key: `k${i % 2}`, value: `v${i}`.padEnd(200, '.') }))
    const metas = await log.append(topic, records)
    for (const p of [0, 1]) {
      const mine = metas.filter((m) => m.partition === p).map((m) => m.offset)
      assert.deepEqual(
        mine,
        mine.map((_, i) => i),
      )
    }
    const back = [...(await log.read(topic, 0, 0)), ...(await log.read(topic, 1, 0))]
    assert.equal(back.length, 2000)
    for (const r of back) {
      const i = metas.findIndex((m) => m.partition === r.partition && m.offset === r.offset)
      assert.equal(r.value?.toString(), records[i]!.value)
    }
  })

  it('keeps timestamps of one append that lie months apart (the library mis-encodes deltas of 2^31 ms)', async (t) => {
    const log = await openTestLog(t)
    const topic = uniqueName('k-timestamps')
    await log.createTopic({ name: topic, partitions: 1 })
    const day = 86_400_000
    const t0 = Date.UTC(2025, 4, 4)
    const stamps = [t0, t0 + 40 * day, t0 - 40 * day, t0 + 1, t0 + 400 * day, t0 + 2]
    await log.append(
      topic,
      stamps.map((timestamp, i) => ({ key: 'k', value: `v${i}`, timestamp })),
    )
    // (Kafka rolls a segment when timestamps are more than segment.ms apart, and a fetch reads one segment.)
    const back: number[] = []
    for (let offset = 0; offset < stamps.length; ) {
      const batch = await log.read(topic, 0, offset)
      back.push(...batch.map((r) => r.timestamp))
      offset = batch[batch.length - 1]!.offset + 1
    }
    assert.deepEqual(back, stamps)
  })

  it('compresses batches and acknowledges with acks=leader when asked', async (t) => {
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const log = await openTestLog(t, { compression, acks: 'leader' })
      const topic = uniqueName(`k-${compression}`)
      await log.createTopic({ name: topic, partitions: 1 })
      const metas = await log.append(
        topic,
        Array.from({ length: 100 }, (_, i) => ({ key: 'k', value: `${compression}-${i}`.repeat(10) })),
      )
      assert.deepEqual(
        metas.map((m) => m.offset),
        metas.map((_, i) => i),
      )
      const back = await log.read(topic, 0, 0)
      assert.equal(back.length, 100)
      assert.equal(back[99]!.value?.toString(), `${compression}-99`.repeat(10))
    }
  })

  it('refuses a record larger than the topic allows with OFA_LOG_RECORD_TOO_LARGE', async (t) => {
    const log = await openTestLog(t, { topicConfigs: { 'max.message.bytes': '10000' } })
    const topic = uniqueName('k-too-large')
    await log.createTopic({ name: topic, partitions: 1 })
    await rejectsWith(() => log.append(topic, [{ value: 'x'.repeat(50_000) }]), 'OFA_LOG_RECORD_TOO_LARGE')
    // The log goes on working.
    const [m] = await log.append(topic, [{ value: 'small' }])
    assert.equal((await log.read(topic, 0, m!.offset))[0]!.value?.toString(), 'small')
  })

  it("refuses a record over the topic's max.message.bytes before sending, and keeps batches under it", async (t) => {
    const log = await openTestLog(t, { topicConfigs: { 'max.message.bytes': '10000' } })
    const topic = uniqueName('k-small-batches')
    await log.createTopic({ name: topic, partitions: 2 })
    // The limit of a record is the topic's less a batch's framing (97 bytes): 9903 bytes of key, value, headers.
    await rejectsWith(
      () =>
        log.append(topic, [
          { value: 'ok', partition: 0 },
          { key: 'k', value: 'x'.repeat(9903), partition: 1 },
        ]),
      'OFA_LOG_RECORD_TOO_LARGE',
    )
    const d = await log.describeTopic(topic)
    assert.deepEqual(
      d.partitionStates.map((p) => p.endOffset),
      [0, 0],
      'nothing of the refused append was written',
    )
    const [big] = await log.append(topic, [{ key: 'k', value: 'x'.repeat(9902), partition: 1 }])
    assert.equal((await log.read(topic, 1, big!.offset))[0]!.value?.length, 9902)
    // 200 records of 200 bytes in one append: several batches, each within the topic's limit.
    const metas = await log.append(
      topic,
      Array.from({ length: 200 }, (_, i) => ({ value: `${i}`.padEnd(200, '.'), partition: 0 })),
    )
    assert.deepEqual(
      metas.map((m) => m.offset),
      metas.map((_, i) => i),
    )
  })

  it('refuses a record without a key on a compacted topic', async (t) => {
    const log = await openTestLog(t)
    const topic = uniqueName('k-compact-nokey')
    await log.createTopic({ name: topic, partitions: 1, cleanupPolicy: 'compact' })
    await rejectsWith(() => log.append(topic, [{ value: 'no key' }]), 'OFA_LOG_INVALID_ARGUMENT')
  })

  it('fails to open with OFA_LOG_IO when no broker answers', async () => {
    const c = await kafka()
    const port = Number(c.bootstrap.split(',')[0]!.split(':')[1]) + 7
    await rejectsWith(
      () =>
        openKafkaLog({ bootstrapServers: `127.0.0.1:${port}`, retries: 1, retryDelayMs: 50, connectTimeoutMs: 500 }),
      'OFA_LOG_IO',
    )
  })

  it('lists topics without Kafka internal topics', async (t) => {
    const log = await openTestLog(t)
    const topic = uniqueName('k-list')
    await log.createTopic({ name: topic, partitions: 1 })
    const topics = await log.listTopics()
    assert.ok(topics.includes(topic))
    assert.ok(!topics.some((n) => n.startsWith('__')))
  })
})
