/** Exponential backoff with jitter, capped: the one policy every reconnect and restart uses. */
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

  get attempts(): number {
    return this.#attempt
  }

  reset(): void {
    this.#attempt = 0
  }
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
