import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OpenFactoryError } from '../src/errors.ts'
import { Backoff, retry, retryAdvice, sleep } from '../src/retry.ts'

const transient = () => new OpenFactoryError('OFA_LOG_IO', 'broker away', { retryable: true })

test('retry: retries a retryable error until the operation succeeds', async () => {
  const waits: number[] = []
  const result = await retry(
    async (attempt) => {
      if (attempt < 3) throw transient()
      return attempt
    },
    { backoff: { initialMs: 1, maxMs: 2, jitter: 0 }, onRetry: (_e, _a, ms) => waits.push(ms) },
  )
  assert.equal(result, 3)
  assert.deepEqual(waits, [1, 2])
})

test('retry: a non-retryable error is thrown at once, a plain Error too unless isRetryable says so', async () => {
  let calls = 0
  const fatal = new OpenFactoryError('OFA_LOG_RECORD_TOO_LARGE', 'too large')
  await assert.rejects(
    retry(async () => {
      calls++
      throw fatal
    }),
    (err) => err === fatal,
  )
  assert.equal(calls, 1)
  calls = 0
  await assert.rejects(
    retry(async () => {
      calls++
      throw new Error('plain')
    }),
    /plain/,
  )
  assert.equal(calls, 1)
  calls = 0
  const r = await retry(
    async () => {
      if (++calls < 2) throw new Error('plain')
      return 'ok'
    },
    { isRetryable: () => true, backoff: { initialMs: 1 } },
  )
  assert.equal(r, 'ok')
})

test('retry: waits at least retryAfterMs and stops after maxAttempts', async () => {
  const waits: number[] = []
  let calls = 0
  await assert.rejects(
    retry(
      async () => {
        calls++
        throw new OpenFactoryError('OFA_LOG_IO', 'busy', { retryable: true, retryAfterMs: 7 })
      },
      { maxAttempts: 3, backoff: { initialMs: 1, jitter: 0 }, onRetry: (_e, _a, ms) => waits.push(ms) },
    ),
    /busy/,
  )
  assert.equal(calls, 3)
  assert.deepEqual(waits, [7, 7])
  assert.deepEqual(retryAdvice(new Error('x')), { retry: false, afterMs: 0 })
})

test("retry: an abort during the wait ends it with the signal's reason, as does an abort before the first attempt", async () => {
  const ac = new AbortController()
  const started = Date.now()
  setTimeout(() => ac.abort(new Error('stopping')), 20)
  await assert.rejects(
    retry(
      async () => {
        throw transient()
      },
      { signal: ac.signal, backoff: { initialMs: 60_000 } },
    ),
    /stopping/,
  )
  assert.ok(Date.now() - started < 30_000)
  await assert.rejects(
    retry(async () => 1, { signal: AbortSignal.abort(new Error('stopped')) }),
    /stopped/,
  )
})

test('Backoff grows to its cap and resets; sleep returns early on abort', async () => {
  const b = new Backoff({ initialMs: 10, maxMs: 40, factor: 2, jitter: 0 })
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [10, 20, 40, 40])
  assert.equal(b.attempts, 4)
  b.reset()
  assert.equal(b.next(), 10)
  const ac = new AbortController()
  const p = sleep(60_000, ac.signal)
  ac.abort()
  await p
  await sleep(1)
})
