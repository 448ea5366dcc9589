/**
 * Whether the serving layer's own appends to the log succeed: commands (`<Method>_CMD`) and availability expiries.
 * Each append reports its outcome; the last one tells: failing from an append that failed until one succeeds
 * (expiries are tried again every TTL check, so a full disk that gets space back shows as ok again by itself).
 * `/healthz` shows it.
 */
import { isOpenFactoryError } from '@openfactory/model'

export interface WriteFailure {
  /** What was being written (`command`, `availability expiry`). */
  readonly what: string
  /** The error's code (`OFA_LOG_IO`, ...), or `ERROR` for an error without one. */
  readonly code: string
  readonly message: string
  /** When the first append of this run of failures failed (epoch ms). */
  readonly since: number
}

/** Lifecycle: created with the serving state; nothing to close. */
export interface WriteHealth {
  succeeded(): void
  failed(what: string, err: unknown): void
  /** The current run of failures, or null while the last append succeeded. */
  readonly failure: WriteFailure | null
  /** Appends that failed since start. */
  readonly failures: number
}

export function createWriteHealth(now: () => number = Date.now): WriteHealth {
  let failure: WriteFailure | null = null
  let failures = 0
  return {
    succeeded() {
      failure = null
    },
    failed(what, err) {
      failures++
      const code = isOpenFactoryError(err) ? err.code : 'ERROR'
      const message = err instanceof Error ? err.message : String(err)
      failure = { what, code, message, since: failure?.since ?? now() }
    },
    get failure() {
      return failure
    },
    get failures() {
      return failures
    },
  }
}
