/**
 * One retry rule for every loop that retries: reconnects, restarts, appends, reads.
 *
 * - `Backoff` is the delay policy: exponential with jitter, capped, reset after a success.
 * - `sleep` waits, abortably (node:timers/promises underneath); an abort ends the wait early without throwing.
 *   The wait keeps the process alive, as the work being retried would.
 * - `retry` runs an operation until it succeeds, the signal aborts, or an error says it is not worth retrying.
 *   The error decides: an `OpenFactoryError` retries when `retryable` is true, any other error does not — unless
 *   the caller's `isRetryable` decides instead. Either way the wait is at least the error's `retryAfterMs`.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { OpenFactoryError } from './errors.ts'

export interface BackoffOptions {
  /** First delay (default 500 ms). */
  readonly initialMs?: number
  /** Largest delay (default 30 s). */
  readonly maxMs?: number
  /** Growth per attempt (default 2). */
  readonly factor?: number
  /** Random spread, 0..1, applied as ± that fraction (default 0.2). */
  readonly jitter?: number
}

/** Exponential backoff with jitter, capped: the one delay policy every retry uses. */
export class Backoff {
  #attempt = 0
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #factor: number
  readonly #jitter: number

  constructor(opts: BackoffOptions = {}) {
    this.#initialMs = opts.initialMs ?? 500
    this.#maxMs = opts.maxMs ?? 30_000
    this.#factor = opts.factor ?? 2
    this.#jitter = opts.jitter ?? 0.2
  }

  /** The delay before the next attempt; each call grows it. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt)
    this.#attempt++
    const spread = base * this.#jitter * (Math.random() * 2 - 1)
    return Math.max(0, Math.round(base + spread))
  }

  /** Attempts since the last reset. */
  get attempts(): number {
    return this.#attempt
  }

  reset(): void {
    this.#attempt = 0
  }
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return
  try {
    await delay(ms, undefined, { signal })
  } catch (err) {
    if ((err as { name?: string }).name !== 'AbortError') throw err
  }
}

/** Whether an error is worth another attempt (its own `retryable`, or `isRetryable`'s verdict), and after how long at least. */
export function retryAdvice(
  err: unknown,
  isRetryable?: (err: unknown) => boolean,
): { readonly retry: boolean; readonly afterMs: number } {
  const own = err instanceof OpenFactoryError
  return {
    retry: isRetryable ? isRetryable(err) : own && err.retryable,
    afterMs: own ? (err.retryAfterMs ?? 0) : 0,
  }
}

export interface RetryOptions {
  readonly signal?: AbortSignal
  /** Delay policy (default `new Backoff()`); pass one to keep its state across calls. */
  readonly backoff?: Backoff | BackoffOptions
  /** Give up after this many attempts (default: never, while the error is retryable). */
  readonly maxAttempts?: number
  /** Decides which errors are retried (default: an `OpenFactoryError` with `retryable`, nothing else). */
  readonly isRetryable?: (err: unknown) => boolean
  /** Called before each wait, with the error, the attempt that failed (1-based) and the wait. */
  readonly onRetry?: (err: unknown, attempt: number, waitMs: number) => void
}

/**
 * Runs `op` until it resolves. A retryable failure waits (backoff, at least the error's `retryAfterMs`) and
 * tries again; a failure that is not retryable, the last allowed attempt, or an abort rejects with that error
 * (an abort before the first attempt or during a wait rejects with the signal's reason).
 */
export async function retry<T>(op: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const backoff = opts.backoff instanceof Backoff ? opts.backoff : new Backoff(opts.backoff)
  const max = opts.maxAttempts ?? Number.POSITIVE_INFINITY
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted()
    try {
      const result = await op(attempt)
      backoff.reset()
      return result
    } catch (err) {
      const advice = retryAdvice(err, opts.isRetryable)
      if (!advice.retry || attempt >= max || opts.signal?.aborted) throw err
      const waitMs = Math.max(backoff.next(), advice.afterMs)
      opts.onRetry?.(err, attempt, waitMs)
      await sleep(waitMs, opts.signal)
    }
  }
}
