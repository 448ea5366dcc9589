import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { readTopic } from '@openfactory/log/testing'
import { OpenFactoryError } from '@openfactory/model'
import { BufferedWriter } from '../src/buffered-writer.ts'

async function smallRecordLog(t: TestContext): Promise<EventLog> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-writer-'))
  const log = await openEmbeddedLog({ dir, maxRecordBytes: 1024 })
  t.after(async () => {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  })
  await log.createTopic({ name: 'a', partitions: 1 })
  await log.createTopic({ name: 'b', partitions: 1 })
  return log
}

function memoryLogger() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = []
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields })
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

test('a record the log refuses for good is set aside once; the records behind it are written, in order', async (t) => {
  const log = await smallRecordLog(t)
  const { lines, logger } = memoryLogger()
  const writer = new BufferedWriter({ eventLog: log, logger, backoff: { initialMs: 1, maxMs: 5 } })
  t.after(() => writer.close(1000))
  for (let i = 0; i < 10; i++) writer.write('a', { key: 'k', value: `before ${i}` })
  writer.write('a', { key: 'k', value: 'x'.repeat(4096) }) // over maxRecordBytes: refused for good
  for (let i = 0; i < 10; i++) writer.write('a', { key: 'k', value: `after ${i}` })
  await writer.flush()
  const values = (await readTopic(log, 'a')).map((r) => r.value?.toString())
  assert.deepEqual(values, [
    ...Array.from({ length: 10 }, (_, i) => `before ${i}`),
    ...Array.from({ length: 10 }, (_, i) => `after ${i}`),
  ])
  const stats = writer.stats()
  assert.deepEqual(stats.setAside, { OFA_LOG_RECORD_TOO_LARGE: 1 })
  assert.equal(stats.written, 20)
  assert.equal(stats.buffered, 0)
  const errors = lines.filter((l) => l.level === 'error')
  assert.equal(errors.length, 1, 'logged once')
  assert.equal(errors[0]?.fields.code, 'OFA_LOG_RECORD_TOO_LARGE')
  assert.equal(errors[0]?.fields.topic, 'a')
  assert.equal(errors[0]?.fields.key, 'k')
  assert.equal(errors[0]?.fields.bytes, 4097)
})

test('a retryable failure of one topic re-sends only what that topic did not write (no duplicates in the other)', async (t) => {
  const log = await smallRecordLog(t)
  let failB = 2
  const flaky: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (topic: string, records: Parameters<EventLog['append']>[1]) => {
          if (topic === 'b' && failB-- > 0) throw new OpenFactoryError('OFA_LOG_IO', 'disk busy', { retryable: true })
          return target.append(topic, records)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const writer = new BufferedWriter({ eventLog: flaky, backoff: { initialMs: 1, maxMs: 5 } })
  t.after(() => writer.close(1000))
  for (let i = 0; i < 5; i++) {
    writer.write('a', { value: `a${i}` })
    writer.write('b', { value: `b${i}` })
  }
  await writer.flush()
  assert.deepEqual(
    (await readTopic(log, 'a')).map((r) => r.value?.toString()),
    ['a0', 'a1', 'a2', 'a3', 'a4'],
  )
  assert.deepEqual(
    (await readTopic(log, 'b')).map((r) => r.value?.toString()),
    ['b0', 'b1', 'b2', 'b3', 'b4'],
  )
  assert.equal(writer.stats().failedAppends, 2)
  assert.deepEqual(writer.stats().setAside, {})
})

test('refusals of the whole log (closed, credentials) and errors that are not ours are waited out, not set aside', async (t) => {
  const log = await smallRecordLog(t)
  const failures = [
    new OpenFactoryError('OFA_LOG_AUTH', 'SASL authentication failed'),
    new OpenFactoryError('OFA_LOG_CLOSED', 'the event log is closed'),
    new Error('something unclassified'),
  ]
  const flaky: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (topic: string, records: Parameters<EventLog['append']>[1]) => {
          const err = failures.shift()
          if (err) throw err
          return target.append(topic, records)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const writer = new BufferedWriter({ eventLog: flaky, backoff: { initialMs: 1, maxMs: 5 } })
  t.after(() => writer.close(1000))
  for (let i = 0; i < 3; i++) writer.write('a', { value: `v${i}` })
  await writer.flush()
  assert.deepEqual(
    (await readTopic(log, 'a')).map((r) => r.value?.toString()),
    ['v0', 'v1', 'v2'],
  )
  assert.deepEqual(writer.stats().setAside, {})
  assert.equal(writer.stats().failedAppends, 3)
})

test('a trailing topic is appended after the rest of its batch is durable, and waits with it while the log fails', async (t) => {
  const log = await smallRecordLog(t)
  let failA = 2
  const appended: string[] = []
  const flaky: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (topic: string, records: Parameters<EventLog['append']>[1]) => {
          if (topic === 'a' && failA-- > 0) throw new OpenFactoryError('OFA_LOG_IO', 'disk busy', { retryable: true })
          const done = await target.append(topic, records)
          appended.push(`${topic}:${records.map((r) => r.value).join(',')}`)
          return done
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  // 'b' holds checkpoints: one claims a1 and a2, which are queued ahead of it in the same batch.
  const writer = new BufferedWriter({ eventLog: flaky, trailingTopics: ['b'], backoff: { initialMs: 1, maxMs: 5 } })
  t.after(() => writer.close(1000))
  writer.write('a', { value: 'a1' })
  writer.write('a', { value: 'a2' })
  writer.write('b', { value: 'after a2' })
  await writer.flush()
  assert.deepEqual(appended, ['a:a1,a2', 'b:after a2'], 'b only once a is durable: never while a failed')
  assert.equal(writer.stats().failedAppends, 2)
  assert.deepEqual(
    (await readTopic(log, 'b')).map((r) => r.value?.toString()),
    ['after a2'],
  )
})

test('no append starts while a hold is pending: records wait, in order, until every hold settled (rejected too)', async (t) => {
  const log = await smallRecordLog(t)
  let appends = 0
  const counted: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (topic: string, records: Parameters<EventLog['append']>[1]) => {
          appends++
          return target.append(topic, records)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const writer = new BufferedWriter({ eventLog: counted })
  t.after(() => writer.close(1000))
  writer.write('a', { value: 'first' })
  await writer.flush()
  assert.equal(appends, 1)
  let fulfil = () => {}
  let reject = (_: Error) => {}
  writer.holdUntil(new Promise<void>((resolve) => (fulfil = resolve)))
  writer.holdUntil(new Promise<void>((_, rej) => (reject = rej)))
  for (let i = 0; i < 3; i++) writer.write('a', { value: `held ${i}` })
  const flushed = writer.flush()
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  assert.equal(appends, 1, 'nothing appended while held')
  fulfil()
  await new Promise((r) => setImmediate(r))
  assert.equal(appends, 1, 'still held by the other')
  reject(new Error('could not read it'))
  await flushed
  assert.equal(appends, 2)
  assert.deepEqual(
    (await readTopic(log, 'a')).map((r) => r.value?.toString()),
    ['first', 'held 0', 'held 1', 'held 2'],
  )
  writer.write('a', { value: 'after' })
  await writer.flush()
  assert.equal(appends, 3, 'no hold left')
})

test('the writes of one turn of the event loop go in one append, not the first alone then the rest', async (t) => {
  const log = await smallRecordLog(t)
  const sizes: number[] = []
  const counting: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (topic: string, records: Parameters<EventLog['append']>[1]) => {
          sizes.push(records.length)
          return target.append(topic, records)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const writer = new BufferedWriter({ eventLog: counting })
  t.after(() => writer.close(1000))
  // The lines of one socket read, then those of another connection's read in the same turn (after a microtask).
  for (let i = 0; i < 3; i++) writer.write('a', { value: String(i) }, 'one')
  await Promise.resolve()
  for (let i = 3; i < 5; i++) writer.write('a', { value: String(i) }, 'two')
  await writer.flush()
  assert.deepEqual(sizes, [5])
  // Written in a later turn: an append of its own.
  writer.write('a', { value: '5' }, 'one')
  await writer.flush()
  assert.deepEqual(sizes, [5, 1])
  const values = (await readTopic(log, 'a')).map((r) => r.value?.toString())
  assert.deepEqual(values, ['0', '1', '2', '3', '4', '5'])
})

test('by default a source is congested from 50 000 records waiting, and one append takes up to 20 000 of them', async (t) => {
  const log = await smallRecordLog(t)
  // Appends wait for the gate: records pile up as behind a slow disk.
  let open = (): void => {}
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const sizes: number[] = []
  const slow: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (topic: string, records: Parameters<EventLog['append']>[1]) => {
          sizes.push(records.length)
          await gate
          return target.append(topic, records)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const writer = new BufferedWriter({ eventLog: slow })
  t.after(() => writer.close(1000))
  for (let i = 0; i < 49_999; i++) writer.write('a', { value: String(i) }, 'dev')
  assert.equal(writer.congested('dev'), false, 'one record below the high-water mark')
  writer.write('a', { value: '49999' }, 'dev')
  assert.equal(writer.congested('dev'), true, 'at the high-water mark')
  assert.deepEqual(writer.stats().congested, ['dev'])
  open()
  await writer.whenWritable('dev')
  await writer.flush()
  // Appends of at most 20 000, in order, none lost.
  assert.deepEqual(sizes, [20_000, 20_000, 10_000])
  const values = (await readTopic(log, 'a')).map((r) => Number(r.value?.toString()))
  assert.equal(values.length, 50_000)
  assert.ok(
    values.every((v, i) => v === i),
    'in order',
  )
  assert.equal(writer.stats().dropped, 0)
})
