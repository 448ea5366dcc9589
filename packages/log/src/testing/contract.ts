/**
 * The backbone contract: what every `EventLog` implementation must do, as node:test cases. The embedded log
 * runs it in packages/log/test/embedded-contract.test.ts; the Kafka backbone runs the same suite against a real
 * broker. Properties that a distributed backbone reaches only eventually (group rebalances, compaction) are
 * asserted as "eventually", with a deadline; none of the tests measures time.
 *
 * Every test creates its own uniquely named topics and groups, so one shared broker can run the suite.
 */
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
// (Not model's `sleep`: its timer does not keep the process alive, and an embedded log holds no handle.)
import { setTimeout as sleep } from 'node:timers/promises'
import { type ErrorCode, isOpenFactoryError } from '@openfactory/model'
import type { EventLog, GroupConsumer, LogRecord, ProducerRecord, TopicSpec } from '../backbone.ts'
import { partitionFor, partitionsForKeys } from '../partitioner.ts'

export interface BackboneHarness {
  /** Opens a fresh, empty backbone for one test and registers its cleanup on `t` (`t.after`). */
  open(t: TestContext): Promise<EventLog>
  /**
   * Closes `log` and opens the same backbone again, with its data (a restart). Without it, the restart tests
   * are skipped.
   */
  reopen?(t: TestContext, log: EventLog): Promise<EventLog>
  /** Makes compaction run now (the embedded log's `compact`); without it the suite waits for the backbone's cleaner. */
  forceCompaction?(log: EventLog, topic: string): Promise<void>
  /** Settings for the compacted topic of the compaction test (small segments, a low dirty ratio...). */
  compactionTopic?: Partial<TopicSpec>
  /** Deadline of the "eventually" assertions, in ms. Default 30 000. */
  eventuallyMs?: number
  /**
   * The largest record (key, value, header names and values, in bytes) the backbone as `open` opens it takes, for
   * new topics: the suite checks that a record of this size is taken and one a byte larger refused before anything
   * is written. Without it, that case is skipped.
   */
  maxRecordBytes?: number
}

let counter = 0
/** A topic or group name no other test uses. */
export function uniqueName(prefix: string): string {
  counter++
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`
}

/** Polls `check` until it returns true (or stops throwing), failing with its last error after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      if (await check()) return
      last = undefined
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      if (last) throw last
      assert.fail(`not true within ${ms} ms: ${what}`)
    }
    await sleep(20)
  }
}

/** Asserts that `fn` rejects with an `OpenFactoryError` of `code`. */
export async function rejectsWith(fn: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isOpenFactoryError(err), `expected an OpenFactoryError ${code}, got ${String(err)}`)
    assert.equal(err.code, code)
    return true
  })
}

/** A record reduced to plain, copied values (buffers of the log may be reused). */
export interface Seen {
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly value: string | null
  readonly timestamp: number
}

export function seen(r: LogRecord): Seen {
  return {
    partition: r.partition,
    offset: r.offset,
    key: r.key === null ? null : r.key.toString('utf8'),
    value: r.value === null ? null : r.value.toString('utf8'),
    timestamp: r.timestamp,
  }
}

/** Iterates `consumer` in the background into `sink` until it closes. */
function drain(consumer: GroupConsumer, sink: Seen[]): Promise<void> {
  return (async () => {
    for await (const batch of consumer) for (const r of batch) sink.push(seen(r))
  })()
}

/** Every record of one partition, from its start offset to its end. */
export async function readAll(log: EventLog, topic: string, partition: number): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  let offset = (await log.describeTopic(topic)).partitionStates[partition]!.startOffset
  for (;;) {
    const batch = await log.read(topic, partition, offset, { maxRecords: 500 })
    if (batch.length === 0) return out
    out.push(...batch)
    offset = batch[batch.length - 1]!.offset + 1
  }
}

/** Every record of a topic, partition by partition (the package's own reader). */
export { readTopic } from '../read-topic.ts'

/** Runs the backbone contract against the backbone `harness` opens. */
export function runBackboneContract(name: string, harness: BackboneHarness): void {
  const within = harness.eventuallyMs ?? 30_000
  const opts = { timeout: within + 30_000 }

  describe(`backbone contract: ${name}`, () => {
    describe('topics', () => {
      it('creates a topic and describes it', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-topic')
        await log.createTopic({ name: topic, partitions: 3 })
        const d = await log.describeTopic(topic)
        assert.equal(d.name, topic)
        assert.equal(d.partitions, 3)
        assert.equal(d.cleanupPolicy, 'delete')
        assert.deepEqual(
          d.partitionStates.map((p) => p.partition),
          [0, 1, 2],
        )
        for (const p of d.partitionStates) assert.equal(p.endOffset, p.startOffset)
        assert.ok((await log.listTopics()).includes(topic))
      })

      it('creating an existing topic again with the same partitions does nothing', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-idem')
        await log.createTopic({ name: topic, partitions: 2 })
        await log.append(topic, [{ key: 'k', value: 'v' }])
        await log.createTopic({ name: topic, partitions: 2 })
        const d = await log.describeTopic(topic)
        assert.equal(d.partitions, 2)
        assert.equal(
          d.partitionStates.reduce((n, p) => n + p.endOffset - p.startOffset, 0),
          1,
        )
      })

      it('creating one topic twice at once creates it once, and both calls succeed', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-twice')
        await Promise.all([
          log.createTopic({ name: topic, partitions: 2 }),
          log.createTopic({ name: topic, partitions: 2 }),
        ])
        assert.equal((await log.describeTopic(topic)).partitions, 2)
      })

      it('refuses an existing topic with another partition count', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-conflict')
        await log.createTopic({ name: topic, partitions: 2 })
        await rejectsWith(() => log.createTopic({ name: topic, partitions: 3 }), 'OFA_LOG_TOPIC_CONFLICT')
      })

      it('answers OFA_LOG_UNKNOWN_TOPIC for a topic that does not exist', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-missing')
        await rejectsWith(() => log.describeTopic(topic), 'OFA_LOG_UNKNOWN_TOPIC')
        await rejectsWith(() => log.append(topic, [{ value: 'x' }]), 'OFA_LOG_UNKNOWN_TOPIC')
        await rejectsWith(() => log.read(topic, 0, 0), 'OFA_LOG_UNKNOWN_TOPIC')
      })

      it('refuses invalid topic names and partition counts', opts, async (t) => {
        const log = await harness.open(t)
        await rejectsWith(() => log.createTopic({ name: 'bad/name', partitions: 1 }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(() => log.createTopic({ name: '..', partitions: 1 }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(
          () => log.createTopic({ name: uniqueName('c-zero'), partitions: 0 }),
          'OFA_LOG_INVALID_ARGUMENT',
        )
      })
    })

    describe('append and read', () => {
      it('returns consecutive offsets in input order', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-order')
        await log.createTopic({ name: topic, partitions: 1 })
        const a = await log.append(
          topic,
          Array.from({ length: 5 }, (_, i) => ({ value: `v${i}` })),
        )
        assert.deepEqual(
          a.map((m) => [m.topic, m.partition, m.offset]),
          [0, 1, 2, 3, 4].map((o) => [topic, 0, o]),
        )
        const b = await log.append(topic, [{ value: 'v5' }, { value: 'v6' }])
        assert.deepEqual(
          b.map((m) => m.offset),
          [5, 6],
        )
        const recs = await log.read(topic, 0, 0)
        assert.deepEqual(
          recs.map((r) => [r.offset, r.value?.toString()]),
          [0, 1, 2, 3, 4, 5, 6].map((o) => [o, `v${o}`]),
        )
      })

      it("places keys on partitions with Kafka's murmur2", opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-keys')
        await log.createTopic({ name: topic, partitions: 6 })
        const keys = [
          '21',
          'foobar',
          'abc',
          '8c1f0d5e-3b7a-4a64-9d0e-2f6c7a9b1e42',
          'dht-sensor-001',
          'Température',
          'WC001|Temp',
        ]
        const meta = await log.append(
          topic,
          keys.map((key) => ({ key, value: key })),
        )
        for (const [i, m] of meta.entries()) assert.equal(m.partition, partitionFor(keys[i]!, 6), `key ${keys[i]}`)
        const bytesKey = new Uint8Array([0xff, 0x80, 0x7f, 0x00, 0xfe])
        const [mb] = await log.append(topic, [{ key: bytesKey, value: 'bytes' }])
        assert.equal(mb!.partition, partitionFor(bytesKey, 6))
        // The known Kafka placements (Java: Utils.toPositive(Utils.murmur2(key)) % 6).
        assert.deepEqual(
          meta.slice(0, 4).map((m) => m.partition),
          [0, 0, 3, 1],
        )
      })

      it('keeps the order of records with one key across appends', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-keyorder')
        await log.createTopic({ name: topic, partitions: 4 })
        const all = []
        for (let i = 0; i < 20; i++) all.push(log.append(topic, [{ key: 'asset-1', value: String(i) }]))
        const metas = (await Promise.all(all)).flat()
        const p = metas[0]!.partition
        assert.ok(metas.every((m) => m.partition === p))
        const recs = (await log.read(topic, p, 0)).filter((r) => r.key?.toString() === 'asset-1')
        assert.deepEqual(
          recs.map((r) => r.value?.toString()),
          Array.from({ length: 20 }, (_, i) => String(i)),
        )
      })

      it('round-trips headers, timestamps, null keys and values, bytes and UTF-8 text', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-roundtrip')
        await log.createTopic({ name: topic, partitions: 1 })
        const bytes = new Uint8Array([0, 1, 2, 254, 255])
        const records: ProducerRecord[] = [
          {
            key: 'k1',
            value: 'plain',
            headers: { source: 'sim', 'content-type': 'application/json' },
            timestamp: 1_700_000_000_123,
          },
          { key: null, value: 'no key', timestamp: 1_700_000_000_124 },
          { key: 'tomb', value: null, timestamp: 1_700_000_000_125 },
          { key: bytes, value: bytes, headers: { bin: bytes }, timestamp: 1_700_000_000_126 },
          { key: 'ünïcødé ✓', value: 'température 21,5 °C — ok ✓', timestamp: 1_700_000_000_127 },
          { key: '', value: '', timestamp: 1_700_000_000_128 },
        ]
        const meta = await log.append(topic, records)
        assert.deepEqual(
          meta.map((m) => m.timestamp),
          records.map((r) => r.timestamp),
        )
        const recs = await log.read(topic, 0, 0)
        assert.equal(recs.length, records.length)
        assert.equal(recs[0]!.headers.source?.toString(), 'sim')
        assert.equal(recs[0]!.headers['content-type']?.toString(), 'application/json')
        assert.deepEqual(Object.keys(recs[1]!.headers), [])
        assert.equal(recs[1]!.key, null)
        assert.equal(recs[2]!.value, null)
        assert.equal(recs[2]!.key?.toString(), 'tomb')
        assert.deepEqual(new Uint8Array(recs[3]!.key!), bytes)
        assert.deepEqual(new Uint8Array(recs[3]!.value!), bytes)
        assert.deepEqual(new Uint8Array(recs[3]!.headers.bin!), bytes)
        assert.equal(recs[4]!.key?.toString(), 'ünïcødé ✓')
        assert.equal(recs[4]!.value?.toString(), 'température 21,5 °C — ok ✓')
        assert.equal(recs[5]!.key?.length, 0)
        assert.equal(recs[5]!.value?.length, 0)
        recs.forEach((r, i) => {
          assert.equal(r.timestamp, records[i]!.timestamp)
          assert.equal(r.topic, topic)
          assert.equal(r.partition, 0)
          assert.equal(r.offset, i)
        })
      })

      it('gives records without a timestamp the time of the append', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-now')
        await log.createTopic({ name: topic, partitions: 1 })
        const before = Date.now()
        const [m] = await log.append(topic, [{ value: 'x' }])
        const [r] = await log.read(topic, 0, 0)
        assert.equal(r!.timestamp, m!.timestamp)
        assert.ok(Math.abs(r!.timestamp - before) < 60_000)
      })

      it('appends to a forced partition, and refuses one out of range', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-forced')
        await log.createTopic({ name: topic, partitions: 3 })
        const [m] = await log.append(topic, [{ key: 'x', value: 'v', partition: 2 }])
        assert.equal(m!.partition, 2)
        await rejectsWith(() => log.append(topic, [{ value: 'v', partition: 3 }]), 'OFA_LOG_INVALID_ARGUMENT')
      })

      it('gives every one of many concurrent appends its own offset', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-concurrent')
        await log.createTopic({ name: topic, partitions: 2 })
        const metas = (
          await Promise.all(
            Array.from({ length: 50 }, (_, i) => log.append(topic, [{ key: `k${i % 7}`, value: `v${i}` }])),
          )
        ).flat()
        for (const p of [0, 1]) {
          const offs = metas
            .filter((m) => m.partition === p)
            .map((m) => m.offset)
            .sort((a, b) => a - b)
          assert.deepEqual(
            offs,
            offs.map((_, i) => i),
          )
          assert.equal((await readAll(log, topic, p)).length, offs.length)
        }
      })

      it('reads from an offset, with record and byte limits', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-limits')
        await log.createTopic({ name: topic, partitions: 1 })
        // One append per record: backbones may return whole batches, so maxBytes is checked across batches.
        for (let i = 0; i < 30; i++) await log.append(topic, [{ value: `value-${i}`.padEnd(100, '.') }])
        const from10 = await log.read(topic, 0, 10)
        assert.deepEqual(
          from10.map((r) => r.offset),
          Array.from({ length: 20 }, (_, i) => i + 10),
        )
        const five = await log.read(topic, 0, 3, { maxRecords: 5 })
        assert.deepEqual(
          five.map((r) => r.offset),
          [3, 4, 5, 6, 7],
        )
        const tiny = await log.read(topic, 0, 0, { maxBytes: 1 })
        assert.ok(tiny.length >= 1, 'at least one record, whatever maxBytes')
        assert.equal(tiny[0]!.offset, 0)
        assert.ok(tiny.length < 30, 'maxBytes limits the read')
        assert.deepEqual(await log.read(topic, 0, 30), [])
      })

      it(
        'answers OFA_LOG_OFFSET_OUT_OF_RANGE past the end, OFA_LOG_INVALID_ARGUMENT for bad arguments',
        opts,
        async (t) => {
          const log = await harness.open(t)
          const topic = uniqueName('c-range')
          await log.createTopic({ name: topic, partitions: 2 })
          await log.append(topic, [{ value: 'a', partition: 0 }])
          await rejectsWith(() => log.read(topic, 0, 2), 'OFA_LOG_OFFSET_OUT_OF_RANGE')
          await rejectsWith(() => log.read(topic, 0, -1), 'OFA_LOG_INVALID_ARGUMENT')
          await rejectsWith(() => log.read(topic, 2, 0), 'OFA_LOG_INVALID_ARGUMENT')
        },
      )

      it('checks every record before writing any: an append with a bad record writes nothing', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-validate')
        await log.createTopic({ name: topic, partitions: 3 })
        const good: ProducerRecord = { key: 'asset-1', value: 'ok', partition: 0 }
        const bad: [string, ProducerRecord][] = [
          ['a value that is neither text, bytes nor null', { value: 42 as unknown as string, partition: 1 }],
          ['a key of the wrong type', { key: {} as unknown as string, value: 'v', partition: 1 }],
          ['a negative timestamp', { value: 'v', partition: 1, timestamp: -1 }],
          ['a timestamp that is not an integer', { value: 'v', partition: 1, timestamp: 1_700_000_000_000.5 }],
          ['a timestamp that is not a number', { value: 'v', partition: 1, timestamp: '1' as unknown as number }],
          ['a partition out of range', { value: 'v', partition: 3 }],
          ['a negative partition', { value: 'v', partition: -1 }],
          ['a header value of the wrong type', { value: 'v', partition: 2, headers: { h: 1 as unknown as string } }],
          [
            'headers that are not an object',
            { value: 'v', partition: 2, headers: 'h' as unknown as Record<string, string> },
          ],
          ['a record that is not an object', null as unknown as ProducerRecord],
        ]
        for (const [what, record] of bad) {
          await assert.rejects(
            () => log.append(topic, [good, record, { ...good, partition: 2 }]),
            (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'),
            what,
          )
        }
        await rejectsWith(() => log.append(topic, good as unknown as ProducerRecord[]), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(() => log.append(42 as unknown as string, [good]), 'OFA_LOG_INVALID_ARGUMENT')
        const compacted = uniqueName('c-validate-compact')
        await log.createTopic({ name: compacted, partitions: 2, cleanupPolicy: 'compact' })
        await rejectsWith(
          () => log.append(compacted, [{ key: 'k', value: 'v' }, { value: 'no key' }]),
          'OFA_LOG_INVALID_ARGUMENT',
        )
        for (const name of [topic, compacted]) {
          for (const p of (await log.describeTopic(name)).partitionStates) {
            assert.equal(p.endOffset, p.startOffset, `nothing written to ${name}/${p.partition}`)
          }
        }
        // The timestamps every backbone takes: zero and any non-negative integer.
        const metas = await log.append(topic, [
          { value: 'epoch', partition: 0, timestamp: 0 },
          { value: 'later', partition: 0, timestamp: 1_700_000_000_123 },
        ])
        assert.deepEqual(
          metas.map((m) => [m.offset, m.timestamp]),
          [
            [0, 0],
            [1, 1_700_000_000_123],
          ],
        )
        assert.deepEqual(
          (await log.read(topic, 0, 0)).map((r) => r.timestamp),
          [0, 1_700_000_000_123],
        )
      })

      it('refuses a record over the size limit in bytes before anything is written', opts, async (t) => {
        const limit = harness.maxRecordBytes
        if (limit === undefined) return t.skip('the harness does not say its record size limit')
        const log = await harness.open(t)
        const topic = uniqueName('c-too-large')
        await log.createTopic({ name: topic, partitions: 2 })
        const small = { key: 'k', value: 'small', partition: 0 }
        // Key, value and headers count together, in bytes: 'é' is two bytes of UTF-8.
        const key = 'key'
        const headers = { h: 'hv' }
        const fill = limit - key.length - 1 - 2
        const over: ProducerRecord[] = [
          { value: Buffer.alloc(limit + 1), partition: 1 },
          { key, value: 'x'.repeat(fill + 1), headers, partition: 1 },
          { value: 'é'.repeat(Math.floor(limit / 2) + 1), partition: 1 },
        ]
        for (const r of over) await rejectsWith(() => log.append(topic, [small, r]), 'OFA_LOG_RECORD_TOO_LARGE')
        for (const p of (await log.describeTopic(topic)).partitionStates) {
          assert.equal(p.endOffset, p.startOffset, `nothing written to partition ${p.partition}`)
        }
        const [m] = await log.append(topic, [{ key, value: 'x'.repeat(fill), headers, partition: 1 }])
        const [back] = await log.read(topic, 1, m!.offset)
        assert.equal(back!.value!.length, fill, 'a record of exactly the limit is taken')
      })
    })

    describe('follow', () => {
      it('delivers every record in order to readers following while a writer appends', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-follow')
        await log.createTopic({ name: topic, partitions: 3 })
        const total = 600
        const ac = new AbortController()
        t.after(() => ac.abort())
        const followers = [0, 1].map(async () => {
          const got: Seen[] = []
          for await (const batch of log.follow(topic, { signal: ac.signal, from: 'earliest' })) {
            for (const r of batch) got.push(seen(r))
            if (got.length >= total) break
          }
          return got
        })
        const written: { key: string; value: string }[] = []
        for (let i = 0; i < 30; i++) {
          const batch = Array.from({ length: total / 30 }, (_, j) => ({
            key: `asset-${(i * 7 + j) % 11}`,
            value: `${i}:${j}`,
          }))
          written.push(...batch)
          await log.append(topic, batch)
          if (i % 5 === 0) await sleep(5)
        }
        for (const got of await Promise.all(followers)) {
          assert.equal(got.length, total)
          for (const p of [0, 1, 2]) {
            const offs = got.filter((r) => r.partition === p).map((r) => r.offset)
            assert.deepEqual(
              offs,
              offs.map((_, i) => i),
              `partition ${p} in order without gaps`,
            )
          }
          const perKey = new Map<string, string[]>()
          for (const r of got) perKey.set(r.key!, [...(perKey.get(r.key!) ?? []), r.value!])
          for (const [k, vs] of perKey) {
            assert.deepEqual(
              vs,
              written.filter((w) => w.key === k).map((w) => w.value),
              `key ${k} in append order`,
            )
          }
        }
      })

      it("starts at 'latest' or at an offset, and stops when the signal aborts", opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-follow-from')
        await log.createTopic({ name: topic, partitions: 1 })
        await log.append(topic, [{ value: 'old-0' }, { value: 'old-1' }, { value: 'old-2' }])
        const ac = new AbortController()
        t.after(() => ac.abort())
        const latest: string[] = []
        const fromOne: string[] = []
        const a = (async () => {
          for await (const b of log.follow(topic, { from: 'latest', signal: ac.signal }))
            for (const r of b) latest.push(r.value!.toString())
        })()
        const b = (async () => {
          for await (const batch of log.follow(topic, { from: 1, signal: ac.signal }))
            for (const r of batch) fromOne.push(r.value!.toString())
        })()
        // 'latest' is the end when the follower starts, which the suite cannot observe: keep appending until
        // the follower sees new records, then check it saw nothing older.
        for (let i = 0; latest.length === 0; i++) {
          if (i * 50 > within) assert.fail("the 'latest' follower saw nothing")
          await log.append(topic, [{ value: `new-${i}` }])
          await sleep(50)
        }
        await eventually(() => fromOne.length >= 2 + latest.length, within, 'the offset follower caught up')
        ac.abort()
        await Promise.all([a, b])
        assert.ok(
          latest.every((v) => v.startsWith('new-')),
          `only new records: ${latest.join()}`,
        )
        assert.deepEqual(fromOne.slice(0, 3), ['old-1', 'old-2', 'new-0'])
        assert.deepEqual(
          fromOne.slice(2),
          fromOne.slice(2).map((_, i) => `new-${i}`),
        )
      })

      it('starts each partition where a map of offsets says, the others at their start', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-follow-map')
        await log.createTopic({ name: topic, partitions: 3 })
        for (const p of [0, 1, 2]) {
          await log.append(
            topic,
            Array.from({ length: 5 }, (_, i) => ({ value: `${p}:${i}`, partition: p })),
          )
        }
        const ac = new AbortController()
        t.after(() => ac.abort())
        const collect = async (opts: Parameters<EventLog['follow']>[1], count: number): Promise<Seen[]> => {
          const got: Seen[] = []
          for await (const batch of log.follow(topic, { ...opts, signal: ac.signal })) {
            for (const r of batch) got.push(seen(r))
            if (got.length >= count) break
          }
          return got
        }
        const byPartition = (got: Seen[]): Record<number, number[]> => {
          const out: Record<number, number[]> = {}
          for (const r of got) out[r.partition] = [...(out[r.partition] ?? []), r.offset]
          return out
        }
        const mapped = await collect({ from: { 0: 3, 2: 1 } }, 2 + 5 + 4)
        assert.deepEqual(byPartition(mapped), { 0: [3, 4], 1: [0, 1, 2, 3, 4], 2: [1, 2, 3, 4] })
        // A Map (as committedOffsets returns) works as well; an offset at the end waits for new records.
        const fromMap = collect(
          {
            partitions: [1, 2],
            from: new Map([
              [1, 4],
              [2, 5],
            ]),
          },
          2,
        )
        await log.append(topic, [{ value: '2:5', partition: 2 }])
        assert.deepEqual(byPartition(await fromMap), { 1: [4], 2: [5] })
        const drainFollow = (opts: Parameters<EventLog['follow']>[1]) => async () => {
          for await (const _ of log.follow(topic, { ...opts, signal: ac.signal })) break
        }
        await rejectsWith(drainFollow({ from: { 3: 0 } }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(drainFollow({ from: { 0: -1 } }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(drainFollow({ from: { 0: 1.5 } }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(
          drainFollow({ from: { x: 1 } as unknown as Record<number, number> }),
          'OFA_LOG_INVALID_ARGUMENT',
        )
        await rejectsWith(drainFollow({ partitions: [0, 0] }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(drainFollow({ partitions: [3] }), 'OFA_LOG_INVALID_ARGUMENT')
        await rejectsWith(drainFollow({ maxRecords: 0 }), 'OFA_LOG_INVALID_ARGUMENT')
      })
    })

    describe('consumer groups', () => {
      it('a single member gets every partition, and commits what it processed', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-g1')
        const group = uniqueName('g1')
        await log.createTopic({ name: topic, partitions: 3 })
        await log.append(
          topic,
          Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
        )
        const c = log.consumer({ group, topics: [topic] })
        t.after(() => c.close())
        const got: Seen[] = []
        const done = drain(c, got)
        await eventually(() => got.length >= 30, within, 'all 30 records consumed')
        assert.deepEqual(
          c
            .assignment()
            .map((a) => a.partition)
            .sort(),
          [0, 1, 2],
        )
        await c.commit()
        const committed = await log.committedOffsets(group, topic)
        const d = await log.describeTopic(topic)
        for (const p of d.partitionStates) assert.equal(committed.get(p.partition), p.endOffset)
        await c.close()
        await done
      })

      it('two members share the partitions, and one takes all when the other leaves', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-g2')
        const group = uniqueName('g2')
        await log.createTopic({ name: topic, partitions: 4 })
        const a = log.consumer({ group, topics: [topic] })
        const b = log.consumer({ group, topics: [topic] })
        t.after(() => Promise.all([a.close(), b.close()]))
        const gotA: Seen[] = []
        const gotB: Seen[] = []
        const doneA = drain(a, gotA)
        const doneB = drain(b, gotB)
        const owned = (c: GroupConsumer): number[] =>
          c
            .assignment()
            .map((x) => x.partition)
            .sort()
        await eventually(
          () => {
            const pa = owned(a)
            const pb = owned(b)
            return pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === '0,1,2,3'
          },
          within,
          'both members own partitions, together all four',
        )
        const first = Array.from({ length: 40 }, (_, i) => ({ value: `first-${i}`, partition: i % 4 }))
        await log.append(topic, first)
        await eventually(
          () => new Set([...gotA, ...gotB].map((r) => r.value)).size >= 40,
          within,
          'the first 40 records consumed',
        )
        const pa = new Set(owned(a))
        assert.ok(
          gotA.every((r) => pa.has(r.partition)),
          'member A received only its partitions',
        )
        assert.ok(
          gotB.every((r) => !pa.has(r.partition)),
          'member B received only its partitions',
        )
        await a.commit()
        await b.commit()
        await a.close()
        await doneA
        await eventually(() => owned(b).join() === '0,1,2,3', within, 'the remaining member owns every partition')
        await log.append(
          topic,
          Array.from({ length: 20 }, (_, i) => ({ value: `second-${i}`, partition: i % 4 })),
        )
        await eventually(
          () => gotB.filter((r) => r.value!.startsWith('second-')).length >= 20,
          within,
          'the remaining member consumed the records of all partitions',
        )
        // Committed records are not delivered again after the rebalance.
        const firstToB = gotB.filter((r) => r.value!.startsWith('first-') && pa.has(r.partition))
        assert.deepEqual(firstToB, [], 'records committed by the member that left are not redelivered')
        await b.close()
        await doneB
      })

      it(
        'the lease rule: partition 0 stays with the longest-standing member when others join, and moves when it leaves',
        opts,
        async (t) => {
          const log = await harness.open(t)
          const topic = uniqueName('c-lease')
          const group = uniqueName('lease')
          await log.createTopic({ name: topic, partitions: 3 })
          const owned = (c: GroupConsumer): number[] => c.assignment().map((x) => x.partition)
          const first = log.consumer({ group, topics: [topic] })
          t.after(() => first.close())
          const doneFirst = drain(first, [])
          await eventually(() => owned(first).length === 3, within, 'the first member owns every partition')
          const others = [log.consumer({ group, topics: [topic] }), log.consumer({ group, topics: [topic] })]
          t.after(() => Promise.all(others.map((c) => c.close())))
          const doneOthers = others.map((c) => drain(c, []))
          await eventually(
            () => [first, ...others].every((c) => owned(c).length === 1),
            within,
            'the group settled: one partition each',
          )
          assert.deepEqual(owned(first), [0], 'the longest-standing member kept partition 0')
          await first.close()
          await doneFirst
          await eventually(
            () => others.filter((c) => owned(c).includes(0)).length === 1 && others.flatMap(owned).length === 3,
            within,
            'a remaining member takes partition 0 when the first leaves',
          )
          await Promise.all(others.map((c) => c.close()))
          await Promise.all(doneOthers)
        },
      )

      it('the lease rule holds for each topic of the group', opts, async (t) => {
        const log = await harness.open(t)
        const topics = [uniqueName('c-lease-a'), uniqueName('c-lease-b')]
        const group = uniqueName('lease2')
        await log.createTopic({ name: topics[0]!, partitions: 3 })
        await log.createTopic({ name: topics[1]!, partitions: 2 })
        const firsts = (c: GroupConsumer): string[] =>
          c
            .assignment()
            .filter((x) => x.partition === 0)
            .map((x) => x.topic)
            .sort()
        const first = log.consumer({ group, topics })
        t.after(() => first.close())
        const doneFirst = drain(first, [])
        await eventually(() => first.assignment().length === 5, within, 'the first member owns every partition')
        const others = [log.consumer({ group, topics }), log.consumer({ group, topics })]
        t.after(() => Promise.all(others.map((c) => c.close())))
        const doneOthers = others.map((c) => drain(c, []))
        await eventually(
          () =>
            others.every((c) => c.assignment().length > 0) &&
            [first, ...others].reduce((n, c) => n + c.assignment().length, 0) === 5,
          within,
          'the group settled: every member owns partitions, together all five',
        )
        assert.deepEqual(
          firsts(first),
          [...topics].sort(),
          'the longest-standing member kept partition 0 of each topic',
        )
        await first.close()
        await doneFirst
        await eventually(
          () => others.flatMap(firsts).sort().join() === [...topics].sort().join(),
          within,
          'partition 0 of each topic moves to a remaining member when the first leaves',
        )
        await Promise.all(others.map((c) => c.close()))
        await Promise.all(doneOthers)
      })

      it(
        'a consumer given partitions reads those only, from and to the group offsets, beside others',
        opts,
        async (t) => {
          const log = await harness.open(t)
          const topic = uniqueName('c-assigned')
          const group = uniqueName('g-assigned')
          await log.createTopic({ name: topic, partitions: 4 })
          const keys = Array.from({ length: 20 }, (_, i) => `asset-${i}`)
          const mine = keys.filter((k) => partitionFor(k, 4) % 2 === 0)
          const chosen = partitionsForKeys(mine, 4)
          assert.ok(chosen.length > 0 && chosen.every((p) => p % 2 === 0))
          const rest = [0, 1, 2, 3].filter((p) => !chosen.includes(p))
          await log.append(
            topic,
            keys.flatMap((key) => [0, 1].map((i) => ({ key, value: `${key}#${i}` }))),
          )
          const expected = (partitions: number[]): string[] =>
            keys
              .filter((k) => partitions.includes(partitionFor(k, 4)))
              .flatMap((k) => [`${k}#0`, `${k}#1`])
              .sort()
          const a = log.consumer({ group, topics: [topic], partitions: { [topic]: chosen } })
          const b = log.consumer({ group, topics: [topic], partitions: { [topic]: rest } })
          t.after(() => Promise.all([a.close(), b.close()]))
          const gotA: Seen[] = []
          const gotB: Seen[] = []
          const doneA = drain(a, gotA)
          const doneB = drain(b, gotB)
          await eventually(() => gotA.length >= expected(chosen).length, within, 'A read its partitions')
          await eventually(() => gotB.length >= expected(rest).length, within, 'B read the others')
          assert.deepEqual(gotA.map((r) => r.value).sort(), expected(chosen), 'A: the records of its keys, once')
          assert.deepEqual(gotB.map((r) => r.value).sort(), expected(rest), 'B: the other records, once')
          assert.deepEqual(
            a.assignment().map((x) => [x.topic, x.partition]),
            chosen.map((p) => [topic, p]),
          )
          await a.commit()
          await b.commit()
          const d = await log.describeTopic(topic)
          const committed = await log.committedOffsets(group, topic)
          for (const p of d.partitionStates) assert.equal(committed.get(p.partition), p.endOffset)
          await a.close()
          await doneA
          // A new consumer of the same partitions resumes after the commit; B, still running, is not disturbed.
          await log.append(
            topic,
            mine.map((key) => ({ key, value: `${key}#2` })),
          )
          const again = log.consumer({ group, topics: [topic], partitions: { [topic]: chosen } })
          t.after(() => again.close())
          const gotAgain: Seen[] = []
          const doneAgain = drain(again, gotAgain)
          await eventually(() => gotAgain.length >= mine.length, within, 'the new records of the chosen keys')
          await sleep(100)
          assert.deepEqual(gotAgain.map((r) => r.value).sort(), mine.map((k) => `${k}#2`).sort())
          assert.deepEqual(
            b.assignment().map((x) => x.partition),
            rest,
          )
          assert.equal(gotB.length, expected(rest).length, 'B saw no record twice')
          await Promise.all([again.close(), b.close()])
          await Promise.all([doneAgain, doneB])
          // Bad partitions: refused at once when malformed, at the first read when out of range.
          assert.throws(
            () => log.consumer({ group, topics: [topic], partitions: { other: [0] } }),
            (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'),
          )
          assert.throws(
            () => log.consumer({ group, topics: [topic], partitions: { [topic]: [1, 1] } }),
            (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'),
          )
          const outOfRange = log.consumer({ group, topics: [topic], partitions: { [topic]: [4] } })
          t.after(() => outOfRange.close())
          await rejectsWith(() => drain(outOfRange, []), 'OFA_LOG_INVALID_ARGUMENT')
        },
      )

      it("a new group with resetTo 'latest' starts at the end; explicit offsets can be committed", opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-reset')
        await log.createTopic({ name: topic, partitions: 1 })
        await log.append(topic, [{ value: 'before' }])
        const group = uniqueName('g-latest')
        const c = log.consumer({ group, topics: [topic], resetTo: 'latest' })
        t.after(() => c.close())
        const got: Seen[] = []
        const done = drain(c, got)
        await eventually(() => c.assignment().length === 1, within, 'the member owns the partition')
        await sleep(100)
        await log.append(topic, [{ value: 'after' }])
        await eventually(() => got.length >= 1, within, 'the new record arrives')
        assert.deepEqual(
          got.map((r) => r.value),
          ['after'],
        )
        await c.commit([{ topic, partition: 0, offset: 1 }])
        assert.equal((await log.committedOffsets(group, topic)).get(0), 1)
        await c.close()
        await done
        assert.equal((await log.committedOffsets(uniqueName('g-none'), topic)).size, 0)
      })

      it(
        'a partition without committed offset starts at its startAt offset, clamped into it; a committed one wins',
        opts,
        async (t) => {
          const log = await harness.open(t)
          const topic = uniqueName('c-startat')
          const group = uniqueName('g-startat')
          await log.createTopic({ name: topic, partitions: 4 })
          // Offsets 0-4 of each partition: a0 a4 a8 a12 a16 on 0, a1 a5 ... on 1, and so on.
          await log.append(
            topic,
            Array.from({ length: 20 }, (_, i) => ({ value: `a${i}`, partition: i % 4 })),
          )
          const committer = log.consumer({ group, topics: [topic], partitions: { [topic]: [2] } })
          await committer.commit([{ topic, partition: 2, offset: 1 }])
          await committer.close()
          // 0: from 3; 1: past the end, so from the end; 2: its committed offset, not 4; 3: not named, resetTo.
          const c = log.consumer({
            group,
            topics: [topic],
            resetTo: 'latest',
            startAt: { [topic]: { 0: 3, 1: 1000, 2: 4 } },
          })
          t.after(() => c.close())
          const got: Seen[] = []
          const done = drain(c, got)
          await eventually(() => c.assignment().length === 4, within, 'the member owns the partitions')
          await sleep(100)
          await log.append(topic, [
            { value: 'b1', partition: 1 },
            { value: 'b3', partition: 3 },
          ])
          const expected = ['a12', 'a16', 'a6', 'a10', 'a14', 'a18', 'b1', 'b3']
          await eventually(() => got.length >= expected.length, within, 'the records from the starts')
          await sleep(50)
          assert.deepEqual(got.map((r) => r.value).sort(), expected.sort())
          assert.deepEqual(
            got.filter((r) => r.partition === 1).map((r) => r.offset),
            [5],
            'partition 1 from its end',
          )
          await c.close()
          await done
          // Bad offsets: refused at once when malformed, at the first read when the partition does not exist.
          for (const startAt of [
            { other: { 0: 1 } },
            { [topic]: { 0: -1 } },
            { [topic]: { 0: 1.5 } },
            { [topic]: { x: 1 } as unknown as Record<number, number> },
            { [topic]: [1, 2] as unknown as Record<number, number> },
          ]) {
            assert.throws(
              () => log.consumer({ group, topics: [topic], startAt }),
              (err: unknown) => isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'),
              JSON.stringify(startAt),
            )
          }
          const outOfRange = log.consumer({ group, topics: [topic], startAt: { [topic]: { 4: 0 } } })
          t.after(() => outOfRange.close())
          await rejectsWith(() => drain(outOfRange, []), 'OFA_LOG_INVALID_ARGUMENT')
        },
      )

      it('committed offsets survive a restart, and consumption resumes after them', opts, async (t) => {
        if (!harness.reopen) return t.skip('the harness cannot reopen its backbone')
        let log = await harness.open(t)
        const topic = uniqueName('c-restart')
        const group = uniqueName('g-restart')
        await log.createTopic({ name: topic, partitions: 2 })
        await log.append(
          topic,
          Array.from({ length: 10 }, (_, i) => ({ value: `a${i}`, partition: i % 2 })),
        )
        const c1 = log.consumer({ group, topics: [topic] })
        const got1: Seen[] = []
        const done1 = drain(c1, got1)
        await eventually(() => got1.length >= 10, within, 'the first 10 records consumed')
        await c1.commit()
        await c1.close()
        await done1
        log = await harness.reopen(t, log)
        const committed = await log.committedOffsets(group, topic)
        assert.equal(committed.get(0), 5)
        assert.equal(committed.get(1), 5)
        await log.append(
          topic,
          Array.from({ length: 4 }, (_, i) => ({ value: `b${i}`, partition: i % 2 })),
        )
        const c2 = log.consumer({ group, topics: [topic] })
        t.after(() => c2.close())
        const got2: Seen[] = []
        const done2 = drain(c2, got2)
        await eventually(() => got2.length >= 4, within, 'the 4 new records consumed')
        await sleep(50)
        assert.deepEqual(got2.map((r) => r.value).sort(), ['b0', 'b1', 'b2', 'b3'])
        await c2.close()
        await done2
      })
    })

    describe('compaction', () => {
      it('keeps the latest record of every key; a tombstone deletes its key', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-compact')
        await log.createTopic({ name: topic, partitions: 1, cleanupPolicy: 'compact', ...harness.compactionTopic })
        const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`)
        const latest = new Map<string, string | null>()
        let appended = 0
        for (let round = 0; round < 12; round++) {
          const batch = keys.map((k) => ({ key: k, value: `${k}=v${round}`.padEnd(80, '.') }))
          for (const r of batch) latest.set(r.key, r.value)
          await log.append(topic, batch)
          appended += batch.length
        }
        await log.append(topic, [{ key: 'key-3', value: null }])
        latest.set('key-3', null)
        appended++
        // Some more records so that the records above are no longer in the segment being written.
        for (let i = 0; i < 40; i++) {
          const r = { key: `filler-${i % 4}`, value: `f${i}`.padEnd(80, '.') }
          latest.set(r.key, r.value)
          await log.append(topic, [r])
          appended++
        }
        await eventually(
          async () => {
            await harness.forceCompaction?.(log, topic)
            const recs = await readAll(log, topic, 0)
            const last = new Map<string, string | null>()
            for (const r of recs) last.set(r.key!.toString(), r.value === null ? null : r.value.toString())
            for (const [k, v] of latest) {
              if (v === null) assert.ok(!last.has(k) || last.get(k) === null, `${k} is deleted`)
              else assert.equal(last.get(k), v, `latest value of ${k}`)
            }
            assert.ok(
              recs.length <= appended / 2,
              `compaction removed superseded records (${recs.length} of ${appended} left)`,
            )
            // Offsets still increase; compaction leaves gaps, never reorders.
            for (let i = 1; i < recs.length; i++) assert.ok(recs[i]!.offset > recs[i - 1]!.offset)
            return true
          },
          within,
          'compaction kept the latest record per key',
        )
      })
    })

    describe('lifecycle', () => {
      it('rejects every call with OFA_LOG_CLOSED once closed', opts, async (t) => {
        const log = await harness.open(t)
        const topic = uniqueName('c-closed')
        await log.createTopic({ name: topic, partitions: 1 })
        await log.close()
        await rejectsWith(() => log.append(topic, [{ value: 'x' }]), 'OFA_LOG_CLOSED')
        await rejectsWith(() => log.read(topic, 0, 0), 'OFA_LOG_CLOSED')
        await rejectsWith(() => log.describeTopic(topic), 'OFA_LOG_CLOSED')
        await rejectsWith(() => log.listTopics(), 'OFA_LOG_CLOSED')
      })
    })
  })
}
