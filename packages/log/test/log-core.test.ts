// The checking core over a fake driver that records what reaches it: what is refused never reaches a driver.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isOpenFactoryError } from '@openfactory/model'
import {
  type DriverConsumerOptions,
  type DriverTopic,
  type FollowStart,
  type GroupConsumer,
  LogCore,
  type LogDriver,
  type LogRecord,
  type ProducerRecord,
  partitionFor,
  type RecordMetadata,
  recordBytes,
  type TopicPartitionOffset,
} from '../src/index.ts'
import { rejectsWith } from '../src/testing/index.ts'

interface Calls {
  append: { topic: string; records: readonly ProducerRecord[]; partitions: number[]; sizes: number[] }[]
  follow: { topic: string; starts: FollowStart[]; maxRecords: number }[]
  consumer: DriverConsumerOptions[]
  commit: (readonly TopicPartitionOffset[] | undefined)[]
  read: unknown[][]
  closed: number
}

function fakeDriver(
  topics: Record<string, DriverTopic>,
  opts: { async?: boolean } = {},
): {
  driver: LogDriver
  calls: Calls
} {
  const calls: Calls = { append: [], follow: [], consumer: [], commit: [], read: [], closed: 0 }
  const unknown = (name: string) => Object.assign(new Error(`no ${name}`), { code: 'OFA_LOG_UNKNOWN_TOPIC' })
  const driver: LogDriver = {
    description: 'fake',
    topic(name) {
      const t = topics[name]
      if (!t) throw unknown(name)
      return opts.async ? Promise.resolve(t) : t
    },
    async createTopic() {},
    async listTopics() {
      return Object.keys(topics)
    },
    async describeTopic() {
      throw new Error('not used')
    },
    append(topic, records, partitions, sizes) {
      calls.append.push({ topic, records, partitions: [...partitions], sizes: [...sizes] })
      return Promise.resolve(
        records.map((_, i): RecordMetadata => ({ topic, partition: partitions[i]!, offset: i, timestamp: 0 })),
      )
    },
    async read(...args) {
      calls.read.push(args)
      return []
    },
    async *follow(topic, starts, maxRecords) {
      calls.follow.push({ topic, starts: [...starts], maxRecords })
      yield* []
    },
    consumer(o) {
      calls.consumer.push(o)
      const c: GroupConsumer = {
        group: o.group,
        async commit(offsets) {
          calls.commit.push(offsets)
        },
        assignment: () => [],
        async close() {},
        async *[Symbol.asyncIterator](): AsyncGenerator<LogRecord[]> {
          yield* []
        },
      }
      return c
    },
    async committedOffsets() {
      return new Map()
    },
    async close() {
      calls.closed++
    },
  }
  return { driver, calls }
}

const TOPICS: Record<string, DriverTopic> = {
  t: { partitions: 4, compacted: false, maxRecordBytes: 100 },
  c: { partitions: 2, compacted: true, maxRecordBytes: 100 },
}

function open(opts: { async?: boolean } = {}): { log: LogCore; calls: Calls } {
  const { driver, calls } = fakeDriver(TOPICS, opts)
  return { log: new LogCore(driver, { maxPartitions: 10 }), calls }
}

describe('LogCore: appends', () => {
  it('hands placed and sized records to the driver, in the same turn when the topic is known at once', async () => {
    const { log, calls } = open()
    const records: ProducerRecord[] = [
      { key: 'asset-1', value: 'v' },
      { key: 'ünï', value: new Uint8Array(5), headers: { h: 'x' } },
      { value: 'keyless', partition: 2 },
    ]
    const pending = log.append('t', records)
    assert.equal(calls.append.length, 1, 'the driver was called synchronously')
    await pending
    const [call] = calls.append
    assert.equal(call!.records, records, 'the records themselves, not copies')
    assert.deepEqual(call!.partitions, [partitionFor('asset-1', 4), partitionFor('ünï', 4), 2])
    // Upper bounds: text at 3 bytes per UTF-16 unit, bytes as they are, header names and values.
    assert.deepEqual(call!.sizes, [7 * 3 + 3, 3 * 3 + 5 + 3 + 3, 7 * 3])
  })

  it('gives records without a key one partition per append, the next one on the next append', async () => {
    const { log, calls } = open()
    for (let i = 0; i < 5; i++) await log.append('t', [{ value: 'a' }, { value: 'b' }])
    assert.deepEqual(
      calls.append.map((c) => c.partitions),
      [
        [0, 0],
        [1, 1],
        [2, 2],
        [3, 3],
        [0, 0],
      ],
    )
  })

  it('refuses an append with one bad record without calling the driver', async () => {
    const { log, calls } = open()
    const good = { key: 'k', value: 'v' }
    const bad: [ProducerRecord, string][] = [
      [{ value: 'v', timestamp: -5 }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', timestamp: 0.5 }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', timestamp: Number.NaN }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', timestamp: 2 ** 53 }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', partition: 4 }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', headers: { h: 1 as unknown as string } }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', headers: new Map() as unknown as Record<string, string> }, 'OFA_LOG_INVALID_ARGUMENT'],
      [{ value: 'v', headers: { ['n'.repeat(0x10000)]: 'x' } }, 'OFA_LOG_INVALID_ARGUMENT'],
      // 101 bytes: 1 of key, 100 of value (50 two-byte characters).
      [{ key: 'k', value: 'é'.repeat(50) }, 'OFA_LOG_RECORD_TOO_LARGE'],
      [{ value: 'v'.repeat(96), headers: { abc: 'de' } }, 'OFA_LOG_RECORD_TOO_LARGE'],
    ]
    for (const [record, code] of bad) {
      await assert.rejects(
        () => log.append('t', [good, good, record]),
        (err: unknown) => isOpenFactoryError(err) && err.code === code,
        JSON.stringify(record).slice(0, 80),
      )
    }
    await rejectsWith(() => log.append('c', [good, { value: 'no key' }]), 'OFA_LOG_INVALID_ARGUMENT')
    assert.equal(calls.append.length, 0)
    // Exactly the limit, in bytes, is taken: 1 + 99 (text whose 3-byte bound is over it).
    await log.append('t', [{ key: 'k', value: 'é'.repeat(49) + 'x' }])
    assert.equal(calls.append.length, 1)
  })

  it('waits for a driver that knows its topics only asynchronously', async () => {
    const { log, calls } = open({ async: true })
    const metas = await log.append('t', [{ key: 'k', value: 'v' }])
    assert.equal(metas.length, 1)
    assert.equal(calls.append.length, 1)
    await rejectsWith(() => log.append('t', [{ value: 'v', timestamp: -1 }]), 'OFA_LOG_INVALID_ARGUMENT')
    assert.equal(calls.append.length, 1)
  })

  it('counts key, value, header names and values in UTF-8 bytes', () => {
    assert.equal(recordBytes({ key: 'ab', value: 'é', headers: { ü: new Uint8Array(3) } }), 2 + 2 + 2 + 3)
    assert.equal(recordBytes({ key: null, value: null }), 0)
  })
})

describe('LogCore: reads, follows, consumers', () => {
  it('resolves where each followed partition starts, and refuses what is not a partition of the topic', async () => {
    const { log, calls } = open()
    const run = async (opts: Parameters<LogCore['follow']>[1]) => {
      for await (const _ of log.follow('t', opts)) break
    }
    await run({ from: { 1: 7, 3: 0 } })
    await run({ partitions: [3, 1], from: new Map([[1, 2]]), maxRecords: 5 })
    await run({ from: 'latest', partitions: [0] })
    await run({ from: 9, partitions: [2] })
    assert.deepEqual(
      calls.follow.map((c) => [c.starts, c.maxRecords]),
      [
        [
          [
            { partition: 0, from: 'earliest' },
            { partition: 1, from: 7 },
            { partition: 2, from: 'earliest' },
            { partition: 3, from: 0 },
          ],
          10_000,
        ],
        [
          [
            { partition: 3, from: 'earliest' },
            { partition: 1, from: 2 },
          ],
          5,
        ],
        [[{ partition: 0, from: 'latest' }], 10_000],
        [[{ partition: 2, from: 9 }], 10_000],
      ],
    )
    for (const bad of [
      { from: { 4: 0 } },
      { from: { '-1': 0 } as unknown as Record<number, number> },
      { from: { 0: -1 } },
      { from: new Map([[0, 0.5]]) },
      { from: -1 },
      { from: 'end' as unknown as number },
      { from: [1, 2] as unknown as Record<number, number> },
      { partitions: [4] },
      { partitions: [1, 1] },
      { partitions: 1 as unknown as number[] },
      { maxRecords: 0 },
    ]) {
      await rejectsWith(() => run(bad), 'OFA_LOG_INVALID_ARGUMENT')
    }
    assert.equal(calls.follow.length, 4)
  })

  it('checks read arguments before the driver reads', async () => {
    const { log, calls } = open()
    await log.read('t', 3, 0, { maxRecords: 1, maxBytes: 1 })
    await rejectsWith(() => log.read('t', 4, 0), 'OFA_LOG_INVALID_ARGUMENT')
    await rejectsWith(() => log.read('t', 0, -1), 'OFA_LOG_INVALID_ARGUMENT')
    await rejectsWith(() => log.read('t', 0, 0, { maxBytes: 0 }), 'OFA_LOG_INVALID_ARGUMENT')
    await rejectsWith(() => log.read('t', 0, 0, { maxRecords: 1.5 }), 'OFA_LOG_INVALID_ARGUMENT')
    assert.deepEqual(calls.read, [['t', 3, 0, 1, 1]])
  })

  it('passes checked consumer options on, and checks the offsets given to commit', async () => {
    const { log, calls } = open()
    const c = log.consumer({ group: 'g', topics: ['t', 'c', 't'], partitions: { t: [3, 1] } })
    assert.deepEqual(calls.consumer[0], {
      group: 'g',
      topics: ['t', 'c'],
      resetTo: 'earliest',
      maxRecords: 10_000,
      partitions: new Map([['t', [1, 3]]]),
    })
    await c.commit([{ topic: 't', partition: 3, offset: 5 }])
    await c.commit()
    for (const bad of [
      [{ topic: 'x', partition: 0, offset: 1 }],
      [{ topic: 't', partition: 4, offset: 1 }],
      [{ topic: 'c', partition: 0, offset: -1 }],
    ]) {
      await rejectsWith(() => c.commit(bad), 'OFA_LOG_INVALID_ARGUMENT')
    }
    assert.deepEqual(calls.commit, [[{ topic: 't', partition: 3, offset: 5 }], undefined])
    const invalid = (o: object) =>
      assert.throws(
        () => log.consumer(o as never),
        (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'),
        JSON.stringify(o),
      )
    invalid({ group: '', topics: ['t'] })
    invalid({ group: 'g', topics: [] })
    invalid({ group: 'g', topics: ['bad/name'] })
    invalid({ group: 'g', topics: ['t'], resetTo: 'middle' })
    invalid({ group: 'g', topics: ['t'], sessionTimeoutMs: 999 })
    invalid({ group: 'g', topics: ['t'], partitions: { c: [0] } })
    invalid({ group: 'g', topics: ['t'], partitions: { t: [] } })
    invalid({ group: 'g', topics: ['t'], partitions: { t: [-1] } })
    invalid({ group: 'g', topics: ['t'], startAt: { c: { 0: 1 } } })
    invalid({ group: 'g', topics: ['t'], startAt: { t: { 0: -1 } } })
    invalid({ group: 'g', topics: ['t'], startAt: { t: { '-1': 1 } } })
    invalid({ group: 'g', topics: ['t'], startAt: { t: new Map([[0.5, 1]]) } })
    invalid({ group: 'g', topics: ['t'], startAt: new Map() })
    invalid({ group: 'g', topics: ['t'], startAt: { t: null } })
    assert.equal(calls.consumer.length, 1)
    // Out of range: refused at the first read, the driver's consumer closed.
    const far = log.consumer({ group: 'g', topics: ['t'], partitions: { t: [9] } })
    await rejectsWith(async () => {
      for await (const _ of far) break
    }, 'OFA_LOG_INVALID_ARGUMENT')
    // startAt: a map per topic to the driver (Maps and objects alike); its partitions checked at the first read.
    log.consumer({ group: 'g', topics: ['t', 'c'], startAt: { t: { 3: 7 }, c: new Map([[1, 0]]) } })
    assert.deepEqual(
      calls.consumer.at(-1)?.startAt,
      new Map([
        ['t', new Map([[3, 7]])],
        ['c', new Map([[1, 0]])],
      ]),
    )
    const farStart = log.consumer({ group: 'g', topics: ['t'], startAt: { t: { 4: 0 } } })
    await rejectsWith(async () => {
      for await (const _ of farStart) break
    }, 'OFA_LOG_INVALID_ARGUMENT')
  })
})

describe('LogCore: lifecycle', () => {
  it('closes the driver once and refuses every call after', async () => {
    const { log, calls } = open()
    assert.equal(log.description, 'fake')
    await Promise.all([log.close(), log.close()])
    assert.equal(calls.closed, 1)
    await rejectsWith(() => log.append('t', [{ value: 'v' }]), 'OFA_LOG_CLOSED')
    await rejectsWith(() => log.read('t', 0, 0), 'OFA_LOG_CLOSED')
    await rejectsWith(() => log.describeTopic('t'), 'OFA_LOG_CLOSED')
    await rejectsWith(() => log.listTopics(), 'OFA_LOG_CLOSED')
    await rejectsWith(() => log.createTopic({ name: 'n', partitions: 1 }), 'OFA_LOG_CLOSED')
    await rejectsWith(() => log.committedOffsets('g', 't'), 'OFA_LOG_CLOSED')
    assert.throws(
      () => log.follow('t'),
      (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_CLOSED'),
    )
    assert.throws(
      () => log.consumer({ group: 'g', topics: ['t'] }),
      (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_CLOSED'),
    )
    assert.equal(calls.append.length, 0)
  })
})
