/**
 * The webhooks app (`webhooks:` block): alerts and selected observations POSTed as JSON to other systems (a MES, a
 * maintenance system, a chat bridge), signed, retried, dead-lettered, and resumed from the log.
 *
 * Each webhook is independent: its own consumer group on the log (`ofa-webhooks-<app>-<webhook>`: `ofa_alerts`
 * and/or `ofa_assets`), its own queue, its own status. A slow or dead receiver holds only its own webhook.
 *
 * - **Queue**: the records one webhook has read and not yet finished — at most `queue_max` (one consumer batch);
 *   the next batch is read once the current one is finished. What waits beyond stays on the log, so nothing is
 *   dropped while a receiver is away; it is delivered (in order) when the receiver is back, or dead-lettered.
 * - **Order**: the records of one key of one partition (an asset's observations; an asset's alerts of one rule, keyed
 *   `<asset>/<rule>`) are delivered one after the other, in log order; up to `concurrency` keys are in flight at once.
 * - **Once**: at least once, with an id to deduplicate on. A delivery's id (`X-OpenFactory-Delivery`) is
 *   `<topic>:<partition>:<offset>` of its record: the same on every attempt and after a restart. The group's offset
 *   of a partition is committed as soon as every record before it is finished (a 2xx, filtered out, or
 *   dead-lettered), never before: a restart resumes after what was acknowledged, and can resend only the
 *   deliveries acknowledged between their 2xx and that commit (a receiver drops them by id).
 * - **Retries**: a network error, a timeout, 408, 429 or 5xx is tried again after `backoff_ms` doubled after each
 *   failed attempt up to `max_backoff_ms`, with full jitter (a random wait between half and all of it; a
 *   `Retry-After` of 429/503 is honoured up to `max_backoff_ms`). Another status, or the last of `max_attempts`,
 *   sends the delivery to the topic `ofa_webhooks_dead` (key `<app>/<webhook>`; JSON with the reason, the attempts
 *   and the body) and the webhook goes on.
 * - **Crash**: a `kill -9` is a restart without the stop: what was committed stays done; every record after a
 *   partition's committed offset comes again, under its id — those answered 2xx but not yet committed (their own
 *   commit not made yet, or held by an earlier record of the partition still in flight or retrying) and those in
 *   flight when the process died (the receiver may have taken them).
 * - **Signature**: see signature.ts.
 * - **Status**: per webhook, items of the app's asset (`<webhook>_delivered`, `_failed`, `_retrying`,
 *   `_dead_lettered`, `_queued`, `_last_error`, `_last_success`), published at most once per `statusIntervalMs`
 *   when they changed; and counters for /metrics (`metrics()`).
 */
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { ALERTS_TOPIC, type AlertEvent } from '@openfactory/alerts'
import {
  type AppKindDeps,
  appAsset,
  type Connector,
  type ConnectorContext,
  type ConnectorMetrics,
} from '@openfactory/connectors'
import type { EventLog, GroupConsumer, LogRecord } from '@openfactory/log'
import {
  type AppConfig,
  type DataItem,
  isoTimestamp,
  type Observation,
  OpenFactoryError,
  TOPICS,
} from '@openfactory/model'
import { ObservationSelector } from '../selection.ts'
import { DELIVERY_HEADER, SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from './signature.ts'
import type { WebhookConfig, WebhooksConfig } from './webhook-config.ts'

/** Where deliveries go after their last attempt. */
export const DEAD_LETTER_TOPIC = 'ofa_webhooks_dead'
/** How often a webhook's status items are published at most (ms), when they changed. */
export const DEFAULT_STATUS_INTERVAL_MS = 1000

export interface WebhooksAppOptions {
  readonly app: AppConfig
  readonly config: WebhooksConfig
  readonly deps: AppKindDeps
  /** Default `DEFAULT_STATUS_INTERVAL_MS`. */
  readonly statusIntervalMs?: number
  /** For tests only (the app kind passes none): see `WebhooksTestHooks`. */
  readonly testHooks?: WebhooksTestHooks
}

/** A seam for tests only: what production passes is nothing (the app kind's `create` gives none). */
export interface WebhooksTestHooks {
  /**
   * After a delivery was answered 2xx, before it counts as finished (so before its offset can be committed): the
   * crash test kills the process here.
   */
  afterDelivered?(delivery: { readonly webhook: string; readonly delivery: string }): void | Promise<void>
}

/** What a dead-letter record holds (JSON value on `ofa_webhooks_dead`). */
export interface DeadLetter {
  readonly app: string
  readonly webhook: string
  readonly url: string
  readonly delivery: string
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly attempts: number
  readonly code: 'OFA_WEBHOOK_DELIVERY'
  readonly reason: string
  readonly at: string
  /** The body that was POSTed (JSON text). */
  readonly body: string
}

/** One webhook's figures since the process started (and its queue now). */
export interface WebhookStatus {
  delivered: number
  failed: number
  retrying: number
  deadLettered: number
  queued: number
  lastError: string | null
  lastSuccess: string | null
}

export class WebhooksApp implements Connector {
  readonly name: string
  readonly #opts: WebhooksAppOptions
  readonly #hooks: WebhookRunner[]
  #ctx: ConnectorContext | null = null
  #running: Promise<void>[] = []
  #timer: NodeJS.Timeout | null = null
  #stop = new AbortController()

  constructor(opts: WebhooksAppOptions) {
    this.name = opts.app.uuid
    this.#opts = opts
    this.#hooks = opts.config.webhooks.map((w) => new WebhookRunner(w, opts.app, opts.deps, opts.testHooks ?? {}))
  }

  /** Each webhook's status, by name. */
  status(): Record<string, WebhookStatus> {
    return Object.fromEntries(this.#hooks.map((h) => [h.config.name, { ...h.status }]))
  }

  async start(ctx: ConnectorContext): Promise<void> {
    this.#ctx = ctx
    this.#stop = new AbortController()
    const log = this.#opts.deps.eventLog
    const items = this.#hooks.flatMap((h) => statusItems(h.config.name))
    ctx.declareAssets([appAsset(this.#opts.app, items)])
    // Secrets first: a webhook that cannot sign does not start (OFA_WEBHOOK_SECRET, retried by the supervisor).
    for (const h of this.#hooks) await h.loadSecret(this.#opts.deps.env)
    await ensureTopics(log, this.#hooks)
    ctx.setAvailable(this.name, true)
    this.#publishStatus(true)
    const signal = AbortSignal.any([ctx.signal, this.#stop.signal])
    this.#running = this.#hooks.map((h) =>
      h.run(signal, ctx).catch((err: unknown) => {
        if (signal.aborted) return
        ctx.fail(err instanceof Error ? err : new Error(String(err)))
      }),
    )
    this.#timer = setInterval(
      () => this.#publishStatus(false),
      this.#opts.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS,
    )
  }

  async stop(): Promise<void> {
    this.#stop.abort()
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await Promise.all(this.#running)
    this.#running = []
    this.#publishStatus(false)
  }

  metrics(): ConnectorMetrics {
    const app = this.name
    const samples = this.#hooks.flatMap((h) => {
      const labels = { app, webhook: h.config.name }
      const s = h.status
      return [
        { ...DELIVERIES, labels: { ...labels, outcome: 'delivered' }, value: s.delivered },
        { ...DELIVERIES, labels: { ...labels, outcome: 'dead_lettered' }, value: s.deadLettered },
        { ...FAILED, labels, value: s.failed },
        { ...RETRYING, labels, value: s.retrying },
        { ...QUEUED, labels, value: s.queued },
        ...(h.lastSuccessMs !== null ? [{ ...LAST_SUCCESS, labels, value: h.lastSuccessMs / 1000 }] : []),
      ]
    })
    return { samples }
  }

  #publishStatus(force: boolean): void {
    const ctx = this.#ctx
    if (!ctx) return
    const now = isoTimestamp(this.#opts.deps.now?.() ?? Date.now())
    const out: Observation[] = []
    for (const h of this.#hooks) {
      if (!force && !h.changed) continue
      h.changed = false
      const n = h.config.name
      const s = h.status
      const sample = (id: string, value: number): Observation => ({
        id: `${n}_${id}`,
        value,
        tag: 'Count',
        type: 'Samples',
        attributes: { timestamp: now },
      })
      const event = (id: string, value: string | null): Observation => ({
        id: `${n}_${id}`,
        value: value ?? 'UNAVAILABLE',
        tag: 'Message',
        type: 'Events',
        attributes: { timestamp: now },
      })
      out.push(
        sample('delivered', s.delivered),
        sample('failed', s.failed),
        sample('retrying', s.retrying),
        sample('dead_lettered', s.deadLettered),
        sample('queued', s.queued),
        event('last_error', s.lastError),
        event('last_success', s.lastSuccess),
      )
    }
    if (out.length > 0) ctx.publish(this.name, out)
  }
}

const DELIVERIES = {
  name: 'ofa_webhook_deliveries_total',
  help: 'Webhook deliveries finished, by app, webhook and outcome (delivered: a 2xx; dead_lettered: given up).',
  type: 'counter' as const,
}
const FAILED = {
  name: 'ofa_webhook_attempts_failed_total',
  help: 'Webhook delivery attempts that failed (network error, timeout, a status other than 2xx), by app and webhook.',
  type: 'counter' as const,
}
const RETRYING = {
  name: 'ofa_webhook_retrying',
  help: 'Webhook deliveries waiting for their next attempt, by app and webhook.',
  type: 'gauge' as const,
}
const QUEUED = {
  name: 'ofa_webhook_queued',
  help: 'Records a webhook read from the log and has not finished yet (at most its queue_max), by app and webhook.',
  type: 'gauge' as const,
}
const LAST_SUCCESS = {
  name: 'ofa_webhook_last_success_timestamp_seconds',
  help: 'When a webhook last had a delivery answered 2xx (Unix seconds), by app and webhook.',
  type: 'gauge' as const,
}

/** The status items of one webhook on the app's asset. */
function statusItems(name: string): DataItem[] {
  const count = (id: string): DataItem => ({ id: `${name}_${id}`, category: 'Samples', tag: 'Count' })
  const text = (id: string): DataItem => ({ id: `${name}_${id}`, category: 'Events', tag: 'Message' })
  return [
    count('delivered'),
    count('failed'),
    count('retrying'),
    count('dead_lettered'),
    count('queued'),
    text('last_error'),
    text('last_success'),
  ]
}

/** `ofa_webhooks_dead`, and `ofa_alerts` when a webhook reads alerts and no alerts app made it yet. */
async function ensureTopics(log: EventLog, hooks: readonly WebhookRunner[]): Promise<void> {
  const have = new Set(await log.listTopics())
  if (!have.has(DEAD_LETTER_TOPIC)) await log.createTopic({ name: DEAD_LETTER_TOPIC, partitions: 1 })
  if (hooks.some((h) => h.config.alerts) && !have.has(ALERTS_TOPIC)) {
    const assets = await log.describeTopic(TOPICS.assets).catch(() => null)
    await log.createTopic({ name: ALERTS_TOPIC, partitions: assets?.partitions ?? 6 })
  }
}

/** Statuses worth a retry: a timeout, too many requests, and the receiver's own failures. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** A `Retry-After` in ms (seconds or an HTTP date), else null. */
function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null) return null
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const t = Date.parse(header)
  return Number.isNaN(t) ? null : Math.max(0, t - now)
}

class WebhookRunner {
  readonly config: WebhookConfig
  readonly status: WebhookStatus = {
    delivered: 0,
    failed: 0,
    retrying: 0,
    deadLettered: 0,
    queued: 0,
    lastError: null,
    lastSuccess: null,
  }
  lastSuccessMs: number | null = null
  /** The status changed since it was last published. */
  changed = true
  readonly #app: AppConfig
  readonly #deps: AppKindDeps
  readonly #selector: ObservationSelector | null
  readonly #testHooks: WebhooksTestHooks
  #secret: Buffer = Buffer.alloc(0)

  constructor(config: WebhookConfig, app: AppConfig, deps: AppKindDeps, testHooks: WebhooksTestHooks) {
    this.config = config
    this.#app = app
    this.#deps = deps
    this.#testHooks = testHooks
    this.#selector = config.observations ? new ObservationSelector(config.observations, deps.factory, app.uuid) : null
  }

  async loadSecret(env: Readonly<Record<string, string | undefined>>): Promise<void> {
    const s = this.config.secret
    let text: string | undefined
    if ('env' in s) text = env[s.env]
    else {
      try {
        text = (await readFile(s.file, 'utf8')).trim()
      } catch (err) {
        throw new OpenFactoryError(
          'OFA_WEBHOOK_SECRET',
          `webhook ${this.config.name}: cannot read secret_file ${s.file}: ${(err as NodeJS.ErrnoException).code}`,
          { cause: err, retryable: true },
        )
      }
    }
    if (!text) {
      throw new OpenFactoryError(
        'OFA_WEBHOOK_SECRET',
        `webhook ${this.config.name}: ${'env' in s ? `secret_env ${s.env} is not set` : `secret_file ${s.file} is empty`}`,
        { retryable: true },
      )
    }
    this.#secret = Buffer.from(text, 'utf8')
  }

  #now(): number {
    return this.#deps.now?.() ?? Date.now()
  }

  async run(signal: AbortSignal, ctx: ConnectorContext): Promise<void> {
    const topics = [...(this.config.alerts ? [ALERTS_TOPIC] : []), ...(this.#selector ? [TOPICS.assets] : [])]
    const consumer = this.#deps.eventLog.consumer({
      group: `ofa-webhooks-${this.#app.uuid}-${this.config.name}`,
      topics,
      maxRecords: this.config.queueMax,
      signal,
    })
    try {
      for await (const batch of consumer) {
        if (signal.aborted) break
        await this.#batch(batch, consumer, signal)
        if (signal.aborted) break
      }
    } finally {
      await consumer.close().catch((err: unknown) => {
        ctx.logger.warn('webhook consumer did not close cleanly', { webhook: this.config.name, error: String(err) })
      })
    }
  }

  /**
   * Delivers a batch: lanes of one key each, in order, `concurrency` lanes at a time; each partition's offset is
   * committed as soon as every record before it is finished.
   */
  async #batch(batch: readonly LogRecord[], consumer: GroupConsumer, signal: AbortSignal): Promise<void> {
    const commits = new Committer(consumer, batch)
    const lanes = new Map<string, { body: string; record: LogRecord }[]>()
    for (const r of batch) {
      const body = this.#body(r)
      if (body === null) {
        commits.done(r)
        continue
      }
      const lane = `${r.topic}\u0000${r.partition}\u0000${r.key?.toString('latin1') ?? ''}`
      const l = lanes.get(lane)
      if (l) l.push({ body, record: r })
      else lanes.set(lane, [{ body, record: r }])
    }
    const queue = [...lanes.values()]
    this.status.queued = queue.reduce((n, l) => n + l.length, 0)
    this.changed = true
    const worker = async (): Promise<void> => {
      for (let lane = queue.shift(); lane !== undefined; lane = queue.shift()) {
        for (const { body, record } of lane) {
          if (signal.aborted) return
          const finished = await this.#deliver(record, body, signal)
          if (!finished) return
          commits.done(record)
          this.status.queued--
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.config.concurrency, queue.length) }, worker))
    await commits.settle()
    this.status.queued = 0
    this.changed = true
  }

  /** The JSON body of a record's delivery, or null when this webhook does not take it. */
  #body(r: LogRecord): string | null {
    const delivery = deliveryId(r)
    if (r.topic === ALERTS_TOPIC) {
      if (r.value === null) return null
      let alert: AlertEvent
      try {
        alert = JSON.parse(r.value.toString('utf8')) as AlertEvent
      } catch {
        return null
      }
      if (!matchesAlert(this.config.alerts ?? {}, alert)) return null
      return JSON.stringify({ delivery, webhook: this.config.name, app: this.#app.uuid, kind: 'alert', alert })
    }
    const s = this.#selector?.select(r.key, r.value)
    if (!s) return null
    const o = s.observation
    return JSON.stringify({
      delivery,
      webhook: this.config.name,
      app: this.#app.uuid,
      kind: 'observation',
      asset: s.asset,
      ...(s.uns ? { uns: s.uns.unsId } : {}),
      observation: {
        id: o.id,
        value: o.value,
        tag: o.tag,
        type: o.type,
        timestamp: o.attributes.timestamp,
        attributes: o.attributes,
      },
    })
  }

  /** Tries a delivery until a 2xx or the dead-letter topic: true once finished, false when stopped first. */
  async #deliver(r: LogRecord, body: string, signal: AbortSignal): Promise<boolean> {
    const c = this.config
    const id = deliveryId(r)
    let backoff = c.backoffMs
    for (let attempt = 1; ; attempt++) {
      const ts = Math.floor(this.#now() / 1000)
      let reason: string
      let again: boolean
      let waitAtLeast: number | null = null
      try {
        const res = await fetch(c.url, {
          method: 'POST',
          headers: {
            ...c.headers,
            'content-type': 'application/json',
            'user-agent': 'OpenFactory-Webhooks',
            [DELIVERY_HEADER]: id,
            [TIMESTAMP_HEADER]: String(ts),
            [SIGNATURE_HEADER]: signBody(this.#secret, ts, body),
          },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(c.timeoutMs)]),
        })
        await res.body?.cancel().catch(() => {})
        if (res.status >= 200 && res.status < 300) {
          this.status.delivered++
          this.lastSuccessMs = this.#now()
          this.status.lastSuccess = isoTimestamp(this.lastSuccessMs)
          if (attempt > 1) this.status.retrying--
          this.changed = true
          await this.#testHooks.afterDelivered?.({ webhook: c.name, delivery: id })
          return true
        }
        reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`
        again = retryable(res.status)
        if (res.status === 429 || res.status === 503)
          waitAtLeast = retryAfterMs(res.headers.get('retry-after'), this.#now())
      } catch (err) {
        if (signal.aborted) {
          if (attempt > 1) this.status.retrying--
          return false
        }
        const e = err as Error & { cause?: { code?: string; message?: string } }
        reason =
          e.name === 'TimeoutError'
            ? `no answer within ${c.timeoutMs} ms`
            : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : e.cause?.message ? ` (${e.cause.message})` : ''}`
        again = true
      }
      this.status.failed++
      this.status.lastError = `${isoTimestamp(this.#now())} ${reason}`
      this.changed = true
      if (!again || attempt >= c.maxAttempts) {
        if (attempt > 1) this.status.retrying--
        await this.#deadLetter(r, id, body, attempt, again ? `${reason} (after ${attempt} attempts)` : reason)
        return true
      }
      if (attempt === 1) this.status.retrying++
      // Full jitter between half and all of the backoff; a Retry-After asks for at least that (capped).
      let wait = backoff / 2 + Math.random() * (backoff / 2)
      if (waitAtLeast !== null) wait = Math.max(wait, Math.min(waitAtLeast, c.maxBackoffMs))
      backoff = Math.min(backoff * 2, c.maxBackoffMs)
      try {
        await sleep(wait, undefined, { signal })
      } catch {
        this.status.retrying--
        return false
      }
    }
  }

  async #deadLetter(r: LogRecord, delivery: string, body: string, attempts: number, reason: string): Promise<void> {
    const dead: DeadLetter = {
      app: this.#app.uuid,
      webhook: this.config.name,
      url: this.config.url,
      delivery,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      attempts,
      code: 'OFA_WEBHOOK_DELIVERY',
      reason,
      at: isoTimestamp(this.#now()),
      body,
    }
    await this.#deps.eventLog.append(DEAD_LETTER_TOPIC, [
      { key: `${this.#app.uuid}/${this.config.name}`, value: JSON.stringify(dead) },
    ])
    this.status.deadLettered++
    this.changed = true
    this.#deps.logger.warn('webhook delivery dead-lettered', { webhook: this.config.name, delivery, reason })
  }
}

/** A delivery's id: its record's place on the log, the same on every attempt and after a restart. */
export function deliveryId(r: { topic: string; partition: number; offset: number }): string {
  return `${r.topic}:${r.partition}:${r.offset}`
}

function matchesAlert(sel: NonNullable<WebhookConfig['alerts']>, a: AlertEvent): boolean {
  if (sel.severity && !sel.severity.includes(a.severity)) return false
  if (sel.rules && !sel.rules.includes(a.rule)) return false
  if (sel.assets && !sel.assets.includes(a.asset)) return false
  if (sel.states && !sel.states.includes(a.state)) return false
  return true
}

/**
 * Commits each partition's offset once every record of the batch before it is finished: one commit in flight at
 * a time, the latest finished prefix of every partition in the next.
 */
class Committer {
  readonly #consumer: GroupConsumer
  /** Per topic and partition: the batch's offsets in order, how many of them are finished in a row, which are. */
  readonly #parts = new Map<string, { topic: string; partition: number; offsets: number[]; next: number }>()
  readonly #finished = new Set<string>()
  #dirty = false
  #inFlight: Promise<void> | null = null
  #error: unknown = null

  constructor(consumer: GroupConsumer, batch: readonly LogRecord[]) {
    this.#consumer = consumer
    for (const r of batch) {
      const k = `${r.topic}\u0000${r.partition}`
      const p = this.#parts.get(k)
      if (p) p.offsets.push(r.offset)
      else this.#parts.set(k, { topic: r.topic, partition: r.partition, offsets: [r.offset], next: 0 })
    }
  }

  done(r: LogRecord): void {
    this.#finished.add(`${r.topic}\u0000${r.partition}\u0000${r.offset}`)
    const p = this.#parts.get(`${r.topic}\u0000${r.partition}`)
    if (!p) return
    const before = p.next
    while (p.next < p.offsets.length && this.#finished.has(`${p.topic}\u0000${p.partition}\u0000${p.offsets[p.next]}`))
      p.next++
    if (p.next !== before) {
      this.#dirty = true
      this.#kick()
    }
  }

  #kick(): void {
    if (this.#inFlight || !this.#dirty) return
    this.#dirty = false
    const offsets = [...this.#parts.values()]
      .filter((p) => p.next > 0)
      .map((p) => ({ topic: p.topic, partition: p.partition, offset: (p.offsets[p.next - 1] as number) + 1 }))
    this.#inFlight = this.#consumer
      .commit(offsets)
      .catch((err: unknown) => {
        this.#error = err
      })
      .finally(() => {
        this.#inFlight = null
        this.#kick()
      })
  }

  /** Resolves once every finished record is committed; throws a commit's failure. */
  async settle(): Promise<void> {
    while (this.#inFlight) await this.#inFlight
    if (this.#error) throw this.#error
  }
}
