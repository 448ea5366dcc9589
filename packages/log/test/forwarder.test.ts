// The forwarder between two embedded logs: every record once and in order, with its headers; restarts that
// find records in the target the source group never committed; other edges writing to the same topics; a
// target that fails; and the errors it reports.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { OpenFactoryError } from '@openfactory/model'
import {
  createForwarder,
  EDGE_HEADER,
  EDGE_OFFSET_HEADER,
  type EventLog,
  type Forwarder,
  type ForwarderLogger,
  type ForwarderOptions,
  forwarderGroup,
  type LogRecord,
  type ProducerRecord,
  partitionFor,
  type RecordMetadata,
} from '../src/index.ts'
import { eventually, readAll, rejectsWith } from '../src/testing/index.ts'
import { createTestLog, tempDir } from './helpers.ts'

const TOPIC = 'telemetry'

/** A logger that keeps what it was told. */
function memoryLogger(): ForwarderLogger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = []
  return {
    lines,
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
  }
}

/** A forwarder with fast retries, stopped after the test (before the logs close). */
function forwarder(t: TestContext, opts: Partial<ForwarderOptions> & Pick<ForwarderOptions, 'source' | 'target'>) {
  const fwd = createForwarder({
    edgeId: 'edge-1',
    topics: [TOPIC],
    retryDelayMs: { min: 2, max: 20 },
    logger: memoryLogger(),
    ...opts,
  })
  t.after(() => fwd.stop())
  return fwd
}

/** Keyed records with a sequence number per key in the value: `<key>:<seq>`. */
function keyed(from: number, count: number, keys = 12): ProducerRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i
    const key = `asset-${n % keys}`
    return {
      key,
      value: `${key}:${Math.floor(n / keys)}`,
      timestamp: 1_700_000_000_000 + n,
      headers: { source: 'shdr', n: String(n) },
    }
  })
}

const text = (b: Buffer | null | undefined): string | null => (b ? b.toString('utf8') : null)

/**
 * Asserts that the target holds, per partition, this edge's copy of every source record exactly once and in
 * source order, with key, value, timestamp and headers kept; returns how many there are.
 */
async function assertForwardedOnce(source: EventLog, target: EventLog, edgeId: string, topic = TOPIC): Promise<number> {
  const n = (await source.describeTopic(topic)).partitions
  let total = 0
  for (let p = 0; p < n; p++) {
    const src = await readAll(source, topic, p)
    const mine = (await readAll(target, topic, p)).filter((r) => text(r.headers[EDGE_HEADER]) === edgeId)
    assert.deepEqual(
      mine.map((r) => Number(text(r.headers[EDGE_OFFSET_HEADER]))),
      src.map((r) => r.offset),
      `partition ${p}: the edge offsets in the target`,
    )
    for (let i = 0; i < src.length; i++) {
      const s = src[i]!
      const c = mine[i]!
      assert.equal(text(c.key), text(s.key))
      assert.equal(text(c.value), text(s.value))
      assert.equal(c.timestamp, s.timestamp)
      const headers = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, v.toString('utf8')]))
      const expected = Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k, v.toString('utf8')]))
      assert.deepEqual(headers, { ...expected, [EDGE_HEADER]: edgeId, [EDGE_OFFSET_HEADER]: String(s.offset) })
    }
    total += src.length
  }
  return total
}

/** Per key, the sequence numbers in the target (in partition order) are 0, 1, 2, ... `count` each. */
function assertKeysComplete(records: readonly LogRecord[], perKey: Map<string, number>): void {
  const seen = new Map<string, number[]>()
  for (const r of records) {
    const [key, seq] = text(r.value)!.split(':') as [string, string]
    assert.equal(text(r.key), key)
    seen.set(key, [...(seen.get(key) ?? []), Number(seq)])
  }
  assert.deepEqual([...seen.keys()].sort(), [...perKey.keys()].sort())
  for (const [key, seqs] of seen) {
    assert.deepEqual(
      seqs,
      Array.from({ length: perKey.get(key)! }, (_, i) => i),
      `sequence of ${key}`,
    )
  }
}

type Fault = 'fail' | 'fail-after-half' | 'fail-after-all'

/**
 * The target as a wrapper that can fail appends: `fail` writes nothing, `fail-after-half` writes the first half
 * of the records, `fail-after-all` writes them all and loses the answer. `next` is asked before every append.
 */
function faultyLog(log: EventLog, next: (topic: string, records: readonly ProducerRecord[]) => Fault | null): EventLog {
  const down = (): OpenFactoryError => new OpenFactoryError('OFA_LOG_IO', 'injected: no answer', { retryable: true })
  return {
    description: log.description,
    createTopic: (spec) => log.createTopic(spec),
    listTopics: () => log.listTopics(),
    describeTopic: (name) => log.describeTopic(name),
    read: (topic, partition, offset, opts) => log.read(topic, partition, offset, opts),
    follow: (topic, opts) => log.follow(topic, opts),
    consumer: (opts) => log.consumer(opts),
    committedOffsets: (group, topic) => log.committedOffsets(group, topic),
    close: () => log.close(),
    async append(topic, records): Promise<RecordMetadata[]> {
      const fault = next(topic, records)
      if (fault === 'fail') throw down()
      if (fault === 'fail-after-half') {
        await log.append(topic, records.slice(0, Math.ceil(records.length / 2)))
        throw down()
      }
      const metas = await log.append(topic, records)
      if (fault === 'fail-after-all') throw down()
      return metas
    },
  }
}

/**
 * `faultyLog` that keeps its promise of `failsQueuedAppends`, as Kafka's batcher does: appends run one after the
 * other in the order asked for, and a failure also fails every append asked for before it was reported.
 */
function queuedFaultyLog(
  log: EventLog,
  next: (topic: string, records: readonly ProducerRecord[]) => Fault | null,
): EventLog & { readonly appends: { inFlight: number; maxInFlight: number } } {
  const faulty = faultyLog(log, next)
  let chain: Promise<unknown> = Promise.resolve()
  let failures = 0
  const state = { inFlight: 0, maxInFlight: 0 }
  return {
    ...faulty,
    failsQueuedAppends: true,
    appends: state,
    append(topic: string, records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
      const fence = failures
      state.inFlight++
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
      const done = chain.then(async () => {
        if (failures !== fence) {
          throw new OpenFactoryError('OFA_LOG_IO', 'injected: failed behind an earlier append', { retryable: true })
        }
        try {
          return await faulty.append(topic, records)
        } catch (err) {
          failures++
          throw err
        }
      })
      const settled = (): void => {
        state.inFlight--
      }
      done.then(settled, settled)
      chain = done.catch(() => {})
      return done
    },
  }
}

/** Appends what the forwarder of `edgeId` would have appended for these source records (a crash before commit). */
async function appendAsForwarded(target: EventLog, edgeId: string, records: readonly LogRecord[]): Promise<void> {
  await target.append(
    TOPIC,
    records.map((r) => ({
      key: r.key,
      value: r.value,
      timestamp: r.timestamp,
      partition: r.partition,
      headers: { ...r.headers, [EDGE_HEADER]: edgeId, [EDGE_OFFSET_HEADER]: String(r.offset) },
    })),
  )
}

/** Fails every `n`th append with the next of `faults` (recorded in `injected`), until all were used. */
function everyNth(n: number, faults: readonly Fault[], injected: Fault[]): () => Fault | null {
  let appends = 0
  return () => {
    appends++
    if (appends % n !== 0 || injected.length === faults.length) return null
    const f = faults[injected.length]!
    injected.push(f)
    return f
  }
}

describe('forwarder', () => {
  it('forwards every record once, to the same partition, with key, value, timestamp and headers', async (t) => {
    const source = await createTestLog(t)
    const target = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 3, retentionMs: 3_600_000 })
    await source.append(TOPIC, keyed(0, 500))
    const logger = memoryLogger()
    const fwd = forwarder(t, { source, target, logger, maxBatchRecords: 64 })
    await fwd.start()
    // Records appended while it runs, some in single appends, some in batches.
    for (let i = 500; i < 700; i += 20) await source.append(TOPIC, keyed(i, 20))
    for (let i = 700; i < 710; i++) await source.append(TOPIC, keyed(i, 1))
    await fwd.caughtUp()

    assert.equal(await assertForwardedOnce(source, target, 'edge-1'), 710)
    // The target topic was created like the source's.
    const d = await target.describeTopic(TOPIC)
    assert.equal(d.partitions, 3)
    assert.equal(d.retentionMs, 3_600_000)
    // Every key is where murmur2 puts it, and its sequence is complete and in order.
    const all = [0, 1, 2].map((p) => readAll(target, TOPIC, p))
    const records = (await Promise.all(all)).flat()
    for (const r of records) assert.equal(r.partition, partitionFor(r.key!, 3))
    assertKeysComplete(
      records,
      new Map(Array.from({ length: 12 }, (_, k) => [`asset-${k}`, Math.ceil((710 - k) / 12)])),
    )

    const stats = await fwd.stats()
    assert.equal(stats.forwarded, 710)
    assert.equal(stats.connected, true)
    assert.equal(stats.topics[0]!.state, 'forwarding')
    assert.deepEqual(
      stats.topics[0]!.partitions.map((p) => p.lag),
      [0, 0, 0],
    )
    await fwd.stop()
    // The source group committed everything; nothing was worth a warning.
    const ends = (await source.describeTopic(TOPIC)).partitionStates.map((s) => s.endOffset)
    const committed = await source.committedOffsets(forwarderGroup('edge-1'), TOPIC)
    assert.deepEqual(
      [0, 1, 2].map((p) => committed.get(p)),
      ends,
    )
    assert.deepEqual(
      logger.lines.filter((l) => l.level !== 'info'),
      [],
    )
    assert.equal((await fwd.stats()).topics[0]!.state, 'stopped')
  })

  it('resumes after a restart without duplicates, also from records the source group never committed', async (t) => {
    const sourceDir = tempDir(t)
    let source = await createTestLog(t, { dir: sourceDir })
    const target = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 2 })
    await source.append(TOPIC, keyed(0, 300))
    const first = forwarder(t, { source, target })
    await first.start()
    await first.caughtUp()
    await first.stop()

    // A restart of the edge: the log reopens, more records arrive, and some of them reached the target before
    // a crash that came before the commit (here: appended by hand with the forwarder's headers).
    await source.close()
    source = await createTestLog(t, { dir: sourceDir })
    await source.append(TOPIC, keyed(300, 200))
    const committed = await source.committedOffsets(forwarderGroup('edge-1'), TOPIC)
    for (const p of [0, 1]) {
      const pending = await source.read(TOPIC, p, committed.get(p)!, { maxRecords: 40 })
      assert.equal(pending.length, 40)
      await appendAsForwarded(target, 'edge-1', pending)
    }
    const second = forwarder(t, { source, target })
    await second.start()
    await second.caughtUp()
    assert.equal(await assertForwardedOnce(source, target, 'edge-1'), 500)
    // The second forwarder appended only what the target lacked.
    assert.equal((await second.stats()).forwarded, 200 - 80)
  })

  it('retries appends that failed, landed in part or lost their answer, without duplicates', async (t) => {
    const source = await createTestLog(t)
    const realTarget = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 3 })
    const faults: Fault[] = ['fail', 'fail-after-half', 'fail-after-all', 'fail-after-half', 'fail-after-all']
    const injected: Fault[] = []
    // Every third append fails, in turn in each of the ways.
    const target = faultyLog(realTarget, everyNth(3, faults, injected))
    const logger = memoryLogger()
    const fwd = forwarder(t, { source, target, logger, maxBatchRecords: 25 })
    await fwd.start()
    for (let i = 0; i < 600; i += 30) await source.append(TOPIC, keyed(i, 30))
    await fwd.caughtUp()
    assert.deepEqual(injected, faults)
    assert.equal(await assertForwardedOnce(source, realTarget, 'edge-1'), 600)
    // Each failure was followed by a success: one warning and one "answers again" per failure.
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, faults.length)
    assert.equal(logger.lines.filter((l) => l.level === 'info').length, faults.length)
    assert.equal((await fwd.stats()).lastError?.message, 'injected: no answer')
  })

  it('pipelines appends to a target that fails queued appends, and redoes failed ones without duplicates', async (t) => {
    const source = await createTestLog(t)
    const realTarget = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 3 })
    await source.append(TOPIC, keyed(0, 900))
    const faults: Fault[] = ['fail', 'fail-after-half', 'fail-after-all', 'fail-after-half', 'fail-after-all']
    const injected: Fault[] = []
    // Every seventh append fails, in turn in each of the ways; those queued behind it fail with it.
    const target = queuedFaultyLog(realTarget, everyNth(7, faults, injected))
    const logger = memoryLogger()
    const fwd = forwarder(t, {
      source,
      target,
      logger,
      maxBatchRecords: 20,
      maxAppendsInFlight: 4,
      commitIntervalMs: 0,
    })
    await fwd.start()
    for (let i = 900; i < 1500; i += 30) await source.append(TOPIC, keyed(i, 30))
    await fwd.caughtUp()
    assert.deepEqual(injected, faults)
    assert.ok(
      target.appends.maxInFlight > 1,
      `appends were pipelined (at most ${target.appends.maxInFlight} in flight)`,
    )
    assert.equal(await assertForwardedOnce(source, realTarget, 'edge-1'), 1500)
    const records = (await Promise.all([0, 1, 2].map((p) => readAll(realTarget, TOPIC, p)))).flat()
    assertKeysComplete(
      records,
      new Map(Array.from({ length: 12 }, (_, k) => [`asset-${k}`, Math.ceil((1500 - k) / 12)])),
    )
    await fwd.stop()
    // Commits ran in the background (every time, with commitIntervalMs 0) and the last one at stop covers all.
    const ends = (await source.describeTopic(TOPIC)).partitionStates.map((s) => s.endOffset)
    const committed = await source.committedOffsets(forwarderGroup('edge-1'), TOPIC)
    assert.deepEqual(
      [0, 1, 2].map((p) => committed.get(p)),
      ends,
    )
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0)
  })

  it('keeps the source accepting while the target is down, warns once, and forwards everything after', async (t) => {
    // The source's clock, to make the outage last an hour: the forwarder's group membership expires meanwhile.
    let skew = 0
    const source = await createTestLog(t, { now: () => Date.now() + skew })
    const realTarget = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 2 })
    let down = false
    let refused = 0
    const target = faultyLog(realTarget, () => {
      if (!down) return null
      refused++
      return 'fail'
    })
    const logger = memoryLogger()
    const fwd = forwarder(t, { source, target, logger, maxBatchRecords: 50 })
    await fwd.start()
    await source.append(TOPIC, keyed(0, 100))
    await fwd.caughtUp()
    down = true
    // The source goes on taking records while the forwarder retries.
    for (let i = 100; i < 400; i += 10) await source.append(TOPIC, keyed(i, 10))
    const waiting = fwd.caughtUp()
    while (refused < 5) await new Promise((r) => setTimeout(r, 5))
    assert.equal((await fwd.stats()).connected, false)
    skew = 3_600_000
    // The group coordinator looks for expired members every second; then the member rejoins and is sent the
    // uncommitted records again.
    await new Promise((r) => setTimeout(r, 1500))
    down = false
    await waiting
    assert.equal(await assertForwardedOnce(source, realTarget, 'edge-1'), 400)
    assert.equal((await fwd.stats()).connected, true)
    const warnings = logger.lines.filter((l) => l.level === 'warn')
    assert.equal(warnings.length, 1, 'one warning per outage, not per retry')
    assert.match(warnings[0]!.message, /does not answer/)
    assert.match(logger.lines.at(-1)!.message, /answers again after \d+ failed attempts/)
  })

  it('finds its own newest record among those of other edges, scanning back over several windows', async (t) => {
    const sourceA = await createTestLog(t)
    const sourceB = await createTestLog(t)
    const target = await createTestLog(t)
    await sourceA.createTopic({ name: TOPIC, partitions: 1 })
    await sourceB.createTopic({ name: TOPIC, partitions: 1 })
    await target.createTopic({ name: TOPIC, partitions: 1 })
    await sourceA.append(TOPIC, keyed(0, 100))
    // Edge A's first 60 records reached the target before a crash (never committed); then 3000 records of
    // edge B and of a producer without edge headers went in after them.
    await appendAsForwarded(target, 'edge-a', await sourceA.read(TOPIC, 0, 0, { maxRecords: 60 }))
    await sourceB.append(TOPIC, keyed(0, 2000))
    const b = forwarder(t, { source: sourceB, target, edgeId: 'edge-b' })
    await b.start()
    await b.caughtUp()
    await target.append(TOPIC, keyed(0, 1000))
    // Both edges now forward at the same time.
    const a = forwarder(t, { source: sourceA, target, edgeId: 'edge-a' })
    await a.start()
    await sourceB.append(TOPIC, keyed(2000, 500))
    await sourceA.append(TOPIC, keyed(100, 100))
    await Promise.all([a.caughtUp(), b.caughtUp()])
    assert.equal(await assertForwardedOnce(sourceA, target, 'edge-a'), 200)
    assert.equal(await assertForwardedOnce(sourceB, target, 'edge-b'), 2500)
    assert.equal((await a.stats()).forwarded, 140)
  })

  it('stops a topic whose target has another partition count, and forwards the others', async (t) => {
    const source = await createTestLog(t)
    const target = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 3 })
    await source.createTopic({ name: 'events', partitions: 2 })
    await target.createTopic({ name: TOPIC, partitions: 2 })
    await source.append(TOPIC, keyed(0, 10))
    await source.append('events', keyed(0, 50))
    const logger = memoryLogger()
    const fwd = forwarder(t, { source, target, logger, topics: [TOPIC, 'events'] })
    await fwd.start()
    await rejectsWith(() => fwd.caughtUp(), 'OFA_LOG_TOPIC_CONFLICT')
    const stats = await fwd.stats()
    assert.equal(stats.topics[0]!.state, 'failed')
    assert.equal(stats.topics[0]!.error?.code, 'OFA_LOG_TOPIC_CONFLICT')
    assert.match(stats.topics[0]!.error!.message, /telemetry has 3 partitions here and 2 in the target/)
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 1)
    // The other topic went on.
    await eventually(
      async () => (await fwd.stats()).topics[1]!.partitions.every((p) => p.lag === 0),
      10_000,
      'events forwarded',
    )
    assert.equal(await assertForwardedOnce(source, target, 'edge-1', 'events'), 50)
    // Nothing reached the conflicting topic.
    assert.equal(
      (await target.describeTopic(TOPIC)).partitionStates.reduce((n, s) => n + s.endOffset, 0),
      0,
    )
  })

  it('refuses to skip records when the target claims source offsets this edge does not have', async (t) => {
    const source = await createTestLog(t)
    const target = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 1 })
    await target.createTopic({ name: TOPIC, partitions: 1 })
    await source.append(TOPIC, keyed(0, 5))
    // Another edge with the same id forwarded 50 records.
    await target.append(
      TOPIC,
      keyed(0, 50).map((r, i) => ({ ...r, headers: { [EDGE_HEADER]: 'edge-1', [EDGE_OFFSET_HEADER]: String(i) } })),
    )
    const fwd = forwarder(t, { source, target })
    await fwd.start()
    await rejectsWith(() => fwd.caughtUp(), 'OFA_CONFIG_VALUE')
    assert.match((await fwd.stats()).topics[0]!.error!.message, /another edge uses this edgeId/)
  })

  it('waits for the append in flight when stopped, and commits it', async (t) => {
    const source = await createTestLog(t)
    const realTarget = await createTestLog(t)
    await source.createTopic({ name: TOPIC, partitions: 1 })
    await source.append(TOPIC, keyed(0, 20))
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    let entered: () => void = () => {}
    const inAppend = new Promise<void>((r) => {
      entered = r
    })
    const target: EventLog = {
      ...faultyLog(realTarget, () => null),
      async append(topic, records) {
        entered()
        await gate
        return realTarget.append(topic, records)
      },
    }
    const fwd = forwarder(t, { source, target })
    await fwd.start()
    await inAppend
    let stopped = false
    const stopping = fwd.stop().then(() => {
      stopped = true
    })
    await new Promise((r) => setImmediate(r))
    assert.equal(stopped, false, 'stop waits for the append')
    release()
    await stopping
    assert.equal((await realTarget.describeTopic(TOPIC)).partitionStates[0]!.endOffset, 20)
    assert.equal((await source.committedOffsets(forwarderGroup('edge-1'), TOPIC)).get(0), 20)
    await rejectsWith(() => fwd.caughtUp(), 'OFA_LOG_CLOSED')
    await fwd.stop()
  })

  it('rejects invalid options at construction, all problems in one error', async (t) => {
    const source = await createTestLog(t)
    const target = await createTestLog(t)
    const base = { source, target, topics: [TOPIC] }
    for (const edgeId of ['', 'edge 1', 'edge-ü', 'x'.repeat(201), 'tab\there', 42, undefined]) {
      assert.throws(
        () => createForwarder({ ...base, edgeId } as unknown as ForwarderOptions),
        (err: OpenFactoryError) => err.code === 'OFA_LOG_INVALID_ARGUMENT' && /edgeId/.test(err.message),
        `edgeId ${JSON.stringify(edgeId)}`,
      )
    }
    assert.throws(
      () => createForwarder({ source, target: source, edgeId: 'e', topics: [] }),
      (err: OpenFactoryError) => {
        assert.equal(err.code, 'OFA_LOG_INVALID_ARGUMENT')
        assert.deepEqual(
          err.problems.map((p) => p.message),
          [
            'forwarder: source and target are the same log',
            'forwarder: topics must be a non-empty list of distinct topic names',
          ],
        )
        return true
      },
    )
    assert.throws(
      () => createForwarder({ ...base, edgeId: 'e', retryDelayMs: { min: 500, max: 100 } }),
      /retryDelayMs.min must not exceed retryDelayMs.max/,
    )
    // Several appends in flight only with a target that fails those queued behind a failed one (the embedded
    // log does not promise it); 1 to 64.
    assert.equal((target as EventLog).failsQueuedAppends, undefined)
    assert.throws(
      () => createForwarder({ ...base, edgeId: 'e', maxAppendsInFlight: 2 }),
      /maxAppendsInFlight above 1 needs a target whose failed appends fail those queued behind them/,
    )
    for (const n of [0, 65, 1.5]) {
      assert.throws(
        () => createForwarder({ ...base, edgeId: 'e', maxAppendsInFlight: n }),
        /maxAppendsInFlight must be an integer from 1 to 64/,
        `maxAppendsInFlight ${n}`,
      )
    }
    const one = createForwarder({ ...base, edgeId: 'e', maxAppendsInFlight: 1 })
    await one.stop()
    // A source topic that does not exist fails start().
    const fwd: Forwarder = createForwarder({ ...base, edgeId: 'e' })
    await rejectsWith(() => fwd.start(), 'OFA_LOG_UNKNOWN_TOPIC')
    await fwd.stop()
  })
})
