// Requests to Kafka tried again the way the log's options say (`retries` more times, `retryDelayMs` apart), on
// model's one retry rule: `retry` runs the loop, a constant `Backoff` spaces the attempts, the waits are abortable.
//
// Each call site says which failures are worth another attempt (a leader moving, a broker restarting, a topic not
// yet in every broker's metadata), since that depends on the request, not only on the error. The error that
// ends the loop reaches the caller unchanged: its code and `retryable` are what the caller decides with next.
import { Backoff, retry } from '@openfactory/model'

/** How many more attempts, and how long apart. */
export interface RetryPolicy {
  readonly retries: number
  readonly delayMs: number
}

/**
 * Runs `op` (its attempts numbered from 1) until it resolves, `again(err)` says a failure is final, the policy's
 * retries are spent, or the signal aborts (which ends a wait early and rejects with the signal's reason).
 */
export async function retrying<T>(
  policy: RetryPolicy,
  again: (err: unknown) => boolean,
  op: (attempt: number) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  return retry(op, {
    maxAttempts: policy.retries + 1,
    backoff: new Backoff({ initialMs: policy.delayMs, maxMs: policy.delayMs, factor: 1, jitter: 0 }),
    isRetryable: again,
    ...(signal ? { signal } : {}),
  })
}
