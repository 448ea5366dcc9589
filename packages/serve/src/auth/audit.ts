/**
 * The audit trail: who did what, on the topic `ofa_audit` of the factory's log — every method call (who, asset,
 * method, arguments, result), every denied request, every key change and every deployment. Readable with
 * `ofa audit` and `GET /api/audit` (admin).
 *
 * Retained on its own terms: the topic's retention is AUDIT_RETENTION_MS (400 days) unless factory.yaml's `topics:`
 * says otherwise for `ofa_audit`, whatever the observations keep. One partition, so that the trail has one order.
 *
 * Denied requests are what an attacker can make as many of as they like: they are recorded at most
 * `maxDeniedPerSecond` per source (its address) a second; the ones past that are counted, and the next record of
 * that source says how many were left out. Sources tracked are capped (`maxSources`); past the cap the oldest is
 * forgotten.
 */
import { type EventLog, readTopic } from '@openfactory/log'

export const AUDIT_TOPIC = 'ofa_audit'
export const AUDIT_RETENTION_MS = 400 * 24 * 3600 * 1000

export type AuditKind = 'command' | 'denied' | 'key' | 'deployment'

export interface AuditRecord {
  /** ISO-8601. */
  readonly at: string
  /** A principal id (`key:…`, `token:…`, `open`), `anonymous`, or `cli:<user>@<host>`. */
  readonly who: string
  readonly kind: AuditKind
  /** `call Spindle.setSpeed`, `GET /api/assets/X`, `create key`, `apply`... */
  readonly action: string
  /** What it was done to: an asset uuid, a key id, a factory. */
  readonly target?: string
  readonly arguments?: unknown
  /** `ok`, `failed`, `denied: <code>`, a command's result... */
  readonly outcome: string
  /** The client address (requests). */
  readonly from?: string
  /** Denied records left out before this one (rate limit). */
  readonly suppressed?: number
}

export interface AuditLogOptions {
  /** Denied records per source per second (default 20). */
  readonly maxDeniedPerSecond?: number
  /** Sources whose denials are counted (default 10 000). */
  readonly maxSources?: number
  /** Topic settings when the topic is made (default: one partition, AUDIT_RETENTION_MS). */
  readonly retentionMs?: number
}

export interface AuditLog {
  /** Appends a record (durable when it resolves). */
  record(r: Omit<AuditRecord, 'at'>): Promise<void>
  /** A denied request: recorded unless its source is past its rate (then counted). */
  denied(r: Omit<AuditRecord, 'at' | 'kind' | 'suppressed'> & { readonly from: string }): Promise<void>
}

export async function ensureAuditTopic(log: EventLog, retentionMs = AUDIT_RETENTION_MS): Promise<void> {
  if (!(await log.listTopics()).includes(AUDIT_TOPIC)) {
    await log.createTopic({ name: AUDIT_TOPIC, partitions: 1, cleanupPolicy: 'delete', retentionMs })
  }
}

export function openAuditLog(log: EventLog, opts: AuditLogOptions = {}): AuditLog {
  const perSecond = opts.maxDeniedPerSecond ?? 20
  const maxSources = opts.maxSources ?? 10_000
  let topic: Promise<void> | undefined
  const sources = new Map<string, { second: number; count: number; suppressed: number }>()
  const append = async (r: AuditRecord) => {
    topic ??= ensureAuditTopic(log, opts.retentionMs).catch((err: Error) => {
      topic = undefined
      throw err
    })
    await topic
    await log.append(AUDIT_TOPIC, [{ key: r.who, value: JSON.stringify(r) }])
  }
  return {
    record: (r) => append({ at: new Date().toISOString(), ...r }),
    async denied(r) {
      const second = Math.floor(Date.now() / 1000)
      let s = sources.get(r.from)
      if (!s) {
        if (sources.size >= maxSources) sources.delete(sources.keys().next().value as string)
        s = { second, count: 0, suppressed: 0 }
        sources.set(r.from, s)
      }
      if (s.second !== second) {
        s.second = second
        s.count = 0
      }
      if (++s.count > perSecond) {
        s.suppressed++
        return
      }
      const suppressed = s.suppressed
      s.suppressed = 0
      await append({ at: new Date().toISOString(), kind: 'denied', ...r, ...(suppressed ? { suppressed } : {}) })
    },
  }
}

/** The trail, oldest first: records at or after `since` (ISO-8601), the last `limit` of them. */
export async function readAudit(log: EventLog, opts: { since?: string; limit?: number } = {}): Promise<AuditRecord[]> {
  const out: AuditRecord[] = []
  for (const r of await readTopic(log, AUDIT_TOPIC)) {
    if (!r.value) continue
    try {
      const rec = JSON.parse(r.value.toString('utf8')) as AuditRecord
      if (opts.since && rec.at < opts.since) continue
      out.push(rec)
    } catch {
      // not ours
    }
  }
  return opts.limit !== undefined ? out.slice(-opts.limit) : out
}
