import assert from 'node:assert/strict'
import { test } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import type { EventLog, LogRecord } from '../src/index.ts'
import { tail } from '../src/index.ts'
import { createTestLog } from './helpers.ts'

const values = (records: readonly LogRecord[]) => records.map((r) => r.value?.toString())

test('tail: catches up to the end it saw at the start, says so once, then follows', async (t) => {
  const log = await createTestLog(t)
  await log.createTopic({ name: 't', partitions: 2 })
  await log.append('t', [
    { value: 'a', partition: 0 },
    { value: 'b', partition: 1 },
    { value: 'c', partition: 0 },
  ])
  const ac = new AbortController()
  const seen: { values: (string | undefined)[]; caughtUp: boolean }[] = []
  for await (const batch of tail(log, 't', { signal: ac.signal })) {
    seen.push({ values: values(batch.records), caughtUp: batch.caughtUp })
    if (batch.caughtUp && batch.records.length === 0) await log.append('t', [{ value: 'd', partition: 1 }])
    if (values(batch.records).includes('d')) ac.abort()
  }
  assert.deepEqual(seen, [
    { values: ['a', 'c'], caughtUp: false },
    { values: ['b'], caughtUp: false },
    { values: [], caughtUp: true },
    { values: ['d'], caughtUp: true },
  ])
})

test('tail: an empty topic is caught up at once; from a position map and chosen partitions', async (t) => {
  const log = await createTestLog(t)
  await log.createTopic({ name: 't', partitions: 3 })
  const ac = new AbortController()
  const first = await tail(log, 't', { signal: ac.signal })[Symbol.asyncIterator]().next()
  assert.deepEqual(first.value, { records: [], caughtUp: true })
  ac.abort()
  await log.append('t', [
    { value: 'p0-0', partition: 0 },
    { value: 'p0-1', partition: 0 },
    { value: 'p1-0', partition: 1 },
    { value: 'p2-0', partition: 2 },
  ])
  const got: (string | undefined)[] = []
  for await (const batch of tail(log, 't', { partitions: [0, 2], from: { 0: 1 } })) {
    got.push(...values(batch.records))
    if (batch.caughtUp) break
  }
  assert.deepEqual(got, ['p0-1', 'p2-0'])
  await assert.rejects(
    async () => {
      for await (const _ of tail(log, 't', { partitions: [7] })) break
    },
    (err) => isOpenFactoryError(err, 'OFA_LOG_INVALID_ARGUMENT'),
  )
})

test('tail: a batch of the catch-up is not kept once the reader asked for the next one', async (t) => {
  const log = await createTestLog(t)
  await log.createTopic({ name: 't', partitions: 1 })
  await log.append('t', [{ value: 'a' }, { value: 'b' }])
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const ac = new AbortController()
  t.after(() => ac.abort())
  const it = tail(log, 't', { signal: ac.signal })[Symbol.asyncIterator]()
  const first = await it.next()
  assert.deepEqual(values(first.value?.records ?? []), ['a', 'b'])
  // Only a weak reference from here on: the tail alone must not keep the batch (and the chunk its records view).
  const batch = new WeakRef(first.value?.records as object)
  first.value = undefined
  assert.deepEqual(await it.next(), { value: { records: [], caughtUp: true }, done: false })
  const following = it.next() // the tail now waits for new records
  for (let i = 0; i < 3 && batch.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  assert.equal(batch.deref(), undefined, 'the tail keeps the last batch of its catch-up while it follows')
  ac.abort()
  await following
})

/** A log whose reads fail on demand, to see the retry rule at work. */
function flaky(log: EventLog, failures: OpenFactoryError[]): EventLog {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'read') {
        return async (...args: Parameters<EventLog['read']>) => {
          const err = failures.shift()
          if (err) throw err
          return target.read(...args)
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
}

test('tail: retryable failures are retried, others reach the reader', async (t) => {
  const log = await createTestLog(t)
  await log.createTopic({ name: 't', partitions: 1 })
  await log.append('t', [{ value: 'a' }, { value: 'b' }])
  const transient = new OpenFactoryError('OFA_LOG_IO', 'disk busy', { retryable: true })
  const warnings: string[] = []
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} }
  const got: (string | undefined)[] = []
  for await (const batch of tail(flaky(log, [transient, transient]), 't', { backoff: { initialMs: 1 }, logger })) {
    got.push(...values(batch.records))
    if (batch.caughtUp) break
  }
  assert.deepEqual(got, ['a', 'b'])
  assert.equal(warnings.length, 2)
  const fatal = new OpenFactoryError('OFA_LOG_CORRUPT', 'bad checksum')
  await assert.rejects(async () => {
    for await (const _ of tail(flaky(log, [fatal]), 't')) {
    }
  }, /bad checksum/)
})

test('tail: ends when the log closes', async (t) => {
  const log = await createTestLog(t)
  await log.createTopic({ name: 't', partitions: 1 })
  const done = (async () => {
    let n = 0
    for await (const _ of tail(log, 't')) n++
    return n
  })()
  await new Promise((r) => setTimeout(r, 50))
  await log.close()
  assert.equal(await done, 1)
})
