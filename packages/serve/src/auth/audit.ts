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
import type { EventLog, LogRecord } from '@openfactory/log'

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

/** How far before `since` the search for the first record starts: appends by other hosts' clocks may be that late. */
const SINCE_SLACK_MS = 60_000

/**
 * The trail, oldest first: records at or after `since` (ISO-8601), the last `limit` of them. Reads only what it
 * returns (and a few records around it), not the whole topic: the first record at `since` is found by a binary search
 * over the append timestamps (one record read per step, starting SINCE_SLACK_MS early), and with a `limit` the
 * partition is read backwards from its end until `limit` records are found.
 */
export async function readAudit(log: EventLog, opts: { since?: string; limit?: number } = {}): Promise<AuditRecord[]> {
  if (!(await log.listTopics()).includes(AUDIT_TOPIC)) return []
  const sinceMs = opts.since !== undefined ? Date.parse(opts.since) : Number.NaN
  const out: AuditRecord[] = []
  for (const s of (await log.describeTopic(AUDIT_TOPIC)).partitionStates) {
    const from = Number.isNaN(sinceMs)
      ? s.startOffset
      : await firstAt(log, s.partition, s.startOffset, s.endOffset, sinceMs - SINCE_SLACK_MS)
    const keep = (rec: AuditRecord) => Number.isNaN(sinceMs) || Date.parse(rec.at) >= sinceMs
    if (opts.limit === undefined) {
      out.push(...(await readRange(log, s.partition, from, s.endOffset)).filter(keep))
      continue
    }
    // Backwards in windows of `limit` records until enough are found (records that are not ours do not count).
    const found: AuditRecord[][] = []
    let count = 0
    for (let end = s.endOffset; end > from && count < opts.limit; ) {
      const start = Math.max(from, end - opts.limit)
      const chunk = (await readRange(log, s.partition, start, end)).filter(keep)
      found.unshift(chunk)
      count += chunk.length
      end = start
    }
    out.push(...found.flat())
  }
  return opts.limit !== undefined ? out.slice(-opts.limit) : out
}

/** The records of [from, to) that parse as audit records. */
async function readRange(log: EventLog, partition: number, from: number, to: number): Promise<AuditRecord[]> {
  const out: AuditRecord[] = []
  let offset = from
  while (offset < to) {
    const batch = await log.read(AUDIT_TOPIC, partition, offset, { maxRecords: to - offset })
    if (batch.length === 0) break
    for (const r of batch) {
      if (r.offset >= to) return out
      if (!r.value) continue
      try {
        out.push(JSON.parse(r.value.toString('utf8')) as AuditRecord)
      } catch {
        // not ours
      }
    }
    offset = (batch.at(-1) as LogRecord).offset + 1
  }
  return out
}

/** The first offset in [lo, hi) whose record was appended at or after `ms` (hi when none): a binary search. */
async function firstAt(log: EventLog, partition: number, lo: number, hi: number, ms: number): Promise<number> {
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2)
    const [r] = await log.read(AUDIT_TOPIC, partition, mid, { maxRecords: 1 })
    if (r === undefined || r.timestamp >= ms) hi = mid
    else lo = r.offset + 1
  }
  return lo
}
