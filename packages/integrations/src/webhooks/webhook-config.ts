/**
 * A `webhooks:` app, typed: what `parse` returns and the app runs on. Model's schema (integrations-schema.ts) checks
 * the block's shape; here each webhook gets its defaults, and what the schema cannot know is checked (one secret
 * source, something selected, the backoff's order).
 */
import { dirname, resolve } from 'node:path'
import { appConfigError, collectProblems } from '@openfactory/connectors'
import type { AppConfig, OpenFactoryError } from '@openfactory/model'
import type { ObservationSelectionConfig } from '../selection.ts'

/** Attempts of one delivery (the first included) before it goes to the dead-letter topic. */
export const DEFAULT_MAX_ATTEMPTS = 6
/** The wait after the first failed attempt (ms); doubled after each, up to `max_backoff_ms`, with jitter. */
export const DEFAULT_BACKOFF_MS = 500
export const DEFAULT_MAX_BACKOFF_MS = 30_000
/** How long one POST may take, answer included (ms). */
export const DEFAULT_TIMEOUT_MS = 10_000
/**
 * Records one webhook holds at a time, read from the log and not yet delivered (its queue). A slow or dead receiver
 * holds at most this many; the rest stay on the log (nothing is lost or dropped) and other webhooks are not held.
 */
export const DEFAULT_QUEUE_MAX = 1000
/** Deliveries of one webhook in flight at once (records of one key are never in flight together). */
export const DEFAULT_CONCURRENCY = 4

export interface AlertSelectionConfig {
  readonly severity?: readonly string[]
  readonly rules?: readonly string[]
  readonly assets?: readonly string[]
  readonly states?: readonly string[]
}

export interface WebhookConfig {
  readonly name: string
  readonly url: string
  /** Where the secret comes from: an environment variable (read at start) or a file (read at start). */
  readonly secret: { readonly env: string } | { readonly file: string }
  readonly alerts?: AlertSelectionConfig
  readonly observations?: ObservationSelectionConfig
  readonly headers: Readonly<Record<string, string>>
  readonly maxAttempts: number
  readonly backoffMs: number
  readonly maxBackoffMs: number
  readonly timeoutMs: number
  readonly queueMax: number
  readonly concurrency: number
}

export interface WebhooksConfig {
  readonly webhooks: readonly WebhookConfig[]
}

type Entry = NonNullable<AppConfig['spec']['webhooks']>[string]

export function parseWebhooks(app: AppConfig): WebhooksConfig {
  const block = app.spec.webhooks ?? {}
  const problems: OpenFactoryError[] = []
  const webhooks: WebhookConfig[] = []
  if (Object.keys(block).length === 0) problems.push(appConfigError(app, 'webhooks', 'names no webhook'))
  for (const [name, e] of Object.entries(block) as [string, Entry][]) {
    const at = `webhooks.${name}`
    if ((e.secret_env === undefined) === (e.secret_file === undefined)) {
      problems.push(appConfigError(app, at, 'give the secret that signs deliveries: secret_env or secret_file, one'))
    }
    if (e.alerts === undefined && e.observations === undefined) {
      problems.push(appConfigError(app, at, 'selects nothing: give alerts, observations or both'))
    }
    const obs = e.observations
    if (obs && obs.assets === undefined && obs.uns === undefined && obs.items === undefined) {
      problems.push(appConfigError(app, `${at}.observations`, 'selects nothing: give assets, items or uns'))
    }
    const backoffMs = e.backoff_ms ?? DEFAULT_BACKOFF_MS
    const maxBackoffMs = e.max_backoff_ms ?? Math.max(DEFAULT_MAX_BACKOFF_MS, backoffMs)
    if (maxBackoffMs < backoffMs) {
      problems.push(appConfigError(app, `${at}.max_backoff_ms`, `is less than backoff_ms (${backoffMs})`))
    }
    for (const h of Object.keys(e.headers ?? {})) {
      if (/^(x-openfactory-|content-type$|content-length$|host$)/i.test(h)) {
        problems.push(appConfigError(app, `${at}.headers.${h}`, 'is set by the webhook itself'))
      }
    }
    webhooks.push({
      name,
      url: e.url,
      secret:
        e.secret_file !== undefined ? { file: resolve(dirname(app.file), e.secret_file) } : { env: e.secret_env ?? '' },
      ...(e.alerts ? { alerts: e.alerts } : {}),
      ...(obs ? { observations: obs } : {}),
      headers: e.headers ?? {},
      maxAttempts: e.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
      backoffMs,
      maxBackoffMs,
      timeoutMs: e.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      queueMax: e.queue_max ?? DEFAULT_QUEUE_MAX,
      concurrency: e.concurrency ?? DEFAULT_CONCURRENCY,
    })
  }
  if (problems.length > 0) throw collectProblems(problems)
  return { webhooks }
}
