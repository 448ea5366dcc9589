/**
 * The evaluation of an alerts app's rules: a deterministic function of the records of one partition (observations
 * of `ofa_assets`, acks and ticks of `ofa_alerts_control`) and of its state, kept in the processor's stores — no
 * clock, no I/O — so that the processor runtime restores it after a restart and a replay emits exactly what the
 * interrupted run would have (packages/sql's task.ts).
 *
 * One entry per (asset, rule) that has something to remember, deleted once it has nothing: a check holding and
 * waiting for its duration (`pendingSince`), an availability heartbeat that will expire (`expiresAt`), the active
 * condition entries of a condition item, the alert itself (raised, active or cleared, acknowledged or not). Each
 * change of the alert is one `AlertEvent` and one observation of the asset: the Condition item `alert_<rule>`
 * (`WARNING` for info and warning, `FAULT` for critical; `NORMAL` once cleared), with the alert's state in its
 * attributes (`alert_state`, `acked`, `nativeSeverity`, `message`).
 *
 * An alert's life: raised → acknowledged → cleared, or raised → cleared → acknowledged; it is over after both (its
 * entry goes). Raised again while cleared and not acknowledged: a new alert replaces it. An ack names the raise it
 * acknowledges (`raisedAt`): one for an earlier raise, for an alert already acknowledged, or for none is ignored.
 *
 * Time: durations run on log time (the record timestamps, their running maximum per partition: `clock`); the
 * `at` of an event is the source time of the observation that caused it, or when its duration ran out.
 *
 * Bounds (counts): at most `maxTracked` entries and as many known assets per partition; an entry that would be one
 * more is not kept (the check is not tracked for that asset) and counted in `untracked`; a condition item keeps at
 * most MAX_CONDITION_CODES active native codes (the oldest goes). A flood of observations changes entries, never
 * adds past these.
 */
import {
  type ActiveCondition,
  type AssetEvent,
  applyCondition,
  type ConditionLevel,
  isoTimestamp,
  type Observation,
  parseTime,
  worstLevel,
} from '@openfactory/model'
import type { AlertEvent, AlertState } from './alert-event.ts'
import type { ControlRecord } from './control.ts'
import { type AlertRule, type AlertsConfig, type AssetInfo, ruleTargets } from './rules.ts'

/** Active native codes kept per condition item and rule. */
export const MAX_CONDITION_CODES = 64

/** What a store of the processor runtime offers (sql's `KeyValueStore`), as far as the evaluator uses it. */
export interface EntryStore<V> {
  get(key: string): V | undefined
  put(key: string, value: V): void
  delete(key: string): void
  readonly size: number
  entries(): IterableIterator<[string, V]>
}

export interface AlertEntry {
  /** Log time since which the rule's check holds (waiting for `for_ms` / `unavailable_for_ms`). */
  readonly pendingSince?: number
  /** The last value seen, for the message of a raise on a tick. */
  readonly value?: number | string
  /** Availability: log time at which the last AVAILABLE heartbeat expires (its `ttl_ms`). */
  readonly expiresAt?: number
  /** Condition rules: the item's active entries. */
  readonly conditions?: readonly ActiveCondition[]
  readonly alert?: {
    readonly raisedAt: string
    readonly active: boolean
    readonly acked: boolean
    readonly message: string
  }
}

export interface EvaluatorStores {
  readonly alerts: EntryStore<AlertEntry>
  readonly assets: EntryStore<AssetInfo>
  readonly meta: EntryStore<number>
}

/** An EntryStore in memory. */
export class MapStore<V> implements EntryStore<V> {
  readonly map = new Map<string, V>()
  get(k: string) {
    return this.map.get(k)
  }
  put(k: string, v: V) {
    this.map.set(k, v)
  }
  delete(k: string) {
    this.map.delete(k)
  }
  get size() {
    return this.map.size
  }
  entries() {
    return this.map.entries()
  }
}

/** Stores in memory: an evaluation outside the processor runtime (tests, the bench, an offline evaluation). */
export function memoryStores(): EvaluatorStores {
  return { alerts: new MapStore(), assets: new MapStore(), meta: new MapStore() }
}

export interface EvaluatorOutput {
  alert(event: AlertEvent): void
  /** An observation of the asset (the `alert_<rule>` Condition item), at the given source time. */
  observation(
    asset: string,
    observation: Omit<Observation, 'attributes'> & { attributes: Record<string, unknown> },
  ): void
}

export interface EvaluatorStats {
  /** Entries and assets not kept: past `maxTracked`. */
  untracked: number
  /** Acks for no open alert, an alert already acknowledged or an earlier raise. */
  ignoredAcks: number
}

const SEP = '\u0000'
const CLOCK = 'clock'

export class AlertEvaluator {
  readonly #app: string
  readonly #config: AlertsConfig
  readonly #known: (uuid: string) => AssetInfo | undefined
  readonly #rulesById: Map<string, AlertRule>
  /** Some rule selects assets (by UNS or type): what assets are must be known. */
  readonly #selects: boolean
  /** Rules per asset, derived from the rules and the stored asset info (a cache: rebuilt when missing or stale). */
  readonly #targets = new Map<string, { readonly info: AssetInfo | undefined; readonly rules: AlertRule[] }>()
  readonly stats: EvaluatorStats = { untracked: 0, ignoredAcks: 0 }

  /**
   * `known`: what is known of assets from elsewhere (the registry read at start) for assets whose declaration this
   * partition has not seen; only consulted once per asset and then kept in the `assets` store.
   */
  constructor(opts: { app: string; config: AlertsConfig; known?: (uuid: string) => AssetInfo | undefined }) {
    this.#app = opts.app
    this.#config = opts.config
    this.#known = opts.known ?? (() => undefined)
    this.#rulesById = new Map(opts.config.rules.map((r) => [r.id, r]))
    this.#selects = opts.config.rules.some((r) => r.assets === undefined)
  }

  /** One `ofa_assets` event of `uuid`, appended at `logTime`. */
  asset(s: EvaluatorStores, out: EvaluatorOutput, uuid: string, event: AssetEvent, logTime: number): void {
    const now = this.#advance(s, logTime)
    if (event.kind === 'declaration') {
      if (event.attribute === 'AssetType' || event.attribute === 'uns_id') this.#learn(s, uuid, event)
      return
    }
    if (event.kind === 'availability') {
      if (event.id !== 'avail') return
      for (const rule of this.#rulesOf(s, uuid)) {
        if (rule.kind === 'availability') this.#availability(s, out, uuid, rule, event, now)
      }
      return
    }
    if (event.kind !== 'observation') return
    const o = event.observation
    for (const rule of this.#rulesOf(s, uuid)) {
      if (rule.kind === 'availability' || rule.item !== o.id) continue
      if (rule.kind === 'threshold') this.#threshold(s, out, uuid, rule, o, now, logTime)
      else this.#condition(s, out, uuid, rule, o, now, logTime)
    }
  }

  /** One `ofa_alerts_control` record, appended at `logTime`. */
  control(s: EvaluatorStores, out: EvaluatorOutput, record: ControlRecord, logTime: number): void {
    const now = this.#advance(s, logTime)
    if (record.kind === 'tick') {
      this.#sweep(s, out, now)
      return
    }
    if (record.app !== this.#app) return
    const key = record.asset + SEP + record.rule
    const entry = s.alerts.get(key)
    const rule = this.#rulesById.get(record.rule)
    const alert = entry?.alert
    if (!entry || !rule || !alert || alert.acked || alert.raisedAt !== record.raisedAt) {
      this.stats.ignoredAcks++
      return
    }
    const next = { ...alert, acked: true }
    this.#emit(out, record.asset, rule, 'acknowledged', record.at, next, { by: record.by })
    this.#save(s, key, { ...entry, alert: next.active ? next : undefined })
  }

  /** The partition's clock: the largest log time seen. */
  #advance(s: EvaluatorStores, logTime: number): number {
    const clock = s.meta.get(CLOCK) ?? -1
    if (logTime > clock) {
      s.meta.put(CLOCK, logTime)
      return logTime
    }
    return clock
  }

  #learn(s: EvaluatorStores, uuid: string, event: Extract<AssetEvent, { kind: 'declaration' }>): void {
    if (!this.#selects) return
    const stored = s.assets.get(uuid)
    const before = stored ?? this.#known(uuid)
    const next: AssetInfo =
      event.attribute === 'AssetType' ? { ...before, type: event.value } : { ...before, unsId: event.value }
    if (stored && stored.type === next.type && stored.unsId === next.unsId) return
    if (!stored && s.assets.size >= this.#config.maxTracked) {
      this.stats.untracked++
      return
    }
    s.assets.put(uuid, compact(next))
    this.#targets.delete(uuid)
  }

  #rulesOf(s: EvaluatorStores, uuid: string): readonly AlertRule[] {
    const stored = s.assets.get(uuid)
    const cached = this.#targets.get(uuid)
    // Valid while the stored info is the very object it was made from (a restore of the stores makes new ones).
    if (cached && cached.info === stored) return cached.rules
    const info = stored ?? this.#known(uuid)
    const rules = this.#config.rules.filter((r) => ruleTargets(r, uuid, info, this.#config.separator))
    // The cache is bounded like the stores: past it, it starts over (it is rebuilt from them).
    if (this.#targets.size >= this.#config.maxTracked) this.#targets.clear()
    this.#targets.set(uuid, { info: stored, rules })
    return rules
  }

  #threshold(
    s: EvaluatorStores,
    out: EvaluatorOutput,
    uuid: string,
    rule: Extract<AlertRule, { kind: 'threshold' }>,
    o: Observation,
    now: number,
    logTime: number,
  ): void {
    const key = uuid + SEP + rule.id
    const entry = s.alerts.get(key)
    const v = numeric(o.value)
    if (v === undefined) {
      // No value (UNAVAILABLE, text): a duration cannot go on; an alert stays as it is.
      if (entry?.pendingSince !== undefined) this.#save(s, key, { ...entry, pendingSince: undefined })
      return
    }
    const above = rule.direction === 'above'
    if (entry?.alert?.active) {
      if (above ? v < rule.clear : v > rule.clear) {
        const why = `${o.id} ${v} back ${above ? 'below' : 'over'} ${rule.clear}`
        this.#clear(s, out, key, uuid, rule, entry, sourceTime(o, logTime), why)
      }
      return
    }
    const holds = above ? v > rule.level : v < rule.level
    if (!holds) {
      if (entry?.pendingSince !== undefined) this.#save(s, key, { ...entry, pendingSince: undefined, value: v })
      return
    }
    const since = entry?.pendingSince ?? now
    if (now - since >= rule.forMs) {
      this.#raise(s, out, key, uuid, rule, entry, sourceTime(o, logTime), this.#thresholdText(rule, v), o.id, v)
    } else {
      this.#save(s, key, { ...entry, pendingSince: since, value: v })
    }
  }

  #thresholdText(rule: Extract<AlertRule, { kind: 'threshold' }>, v: number | string | undefined): string {
    const held = rule.forMs > 0 ? ` for ${rule.forMs} ms` : ''
    return `${rule.item} ${v ?? '?'} ${rule.direction} ${rule.level}${held}`
  }

  #condition(
    s: EvaluatorStores,
    out: EvaluatorOutput,
    uuid: string,
    rule: Extract<AlertRule, { kind: 'condition' }>,
    o: Observation,
    now: number,
    logTime: number,
  ): void {
    if (o.type !== 'Condition' && o.type !== 'UNAVAILABLE') return
    const key = uuid + SEP + rule.id
    const entry = s.alerts.get(key)
    let conditions = applyCondition(entry?.conditions ?? [], o)
    if (conditions.length > MAX_CONDITION_CODES) conditions = conditions.slice(-MAX_CONDITION_CODES)
    const worst = worstLevel(conditions)
    const at = sourceTime(o, logTime)
    const kept = conditions.length > 0 ? conditions : undefined
    if (worst === 'UNAVAILABLE') {
      // Unknown: a duration cannot go on; an alert stays as it is.
      this.#save(s, key, { ...entry, conditions: kept, pendingSince: undefined })
      return
    }
    const holds = worst === 'FAULT' || (rule.level === 'WARNING' && worst === 'WARNING')
    const text = conditionText(rule.item, worst, conditions)
    if (entry?.alert?.active) {
      if (holds) this.#save(s, key, { ...entry, conditions: kept })
      else this.#clear(s, out, key, uuid, rule, { ...entry, conditions: kept }, at, `${rule.item} ${worst}`)
      return
    }
    if (!holds) {
      this.#save(s, key, { ...entry, conditions: kept, pendingSince: undefined })
      return
    }
    const since = entry?.pendingSince ?? now
    if (now - since >= rule.forMs) {
      this.#raise(s, out, key, uuid, rule, { ...entry, conditions: kept }, at, text, o.id, worst)
    } else {
      this.#save(s, key, { ...entry, conditions: kept, pendingSince: since, value: worst })
    }
  }

  #availability(
    s: EvaluatorStores,
    out: EvaluatorOutput,
    uuid: string,
    rule: Extract<AlertRule, { kind: 'availability' }>,
    event: Extract<AssetEvent, { kind: 'availability' }>,
    now: number,
  ): void {
    const key = uuid + SEP + rule.id
    const entry = s.alerts.get(key)
    const at = sourceTime(event.observation, now)
    if (event.available) {
      const expiresAt = event.ttlMs !== undefined ? now + event.ttlMs : undefined
      if (entry?.alert?.active) {
        this.#clear(s, out, key, uuid, rule, { ...entry, expiresAt }, at, 'available again')
        return
      }
      this.#save(s, key, { ...entry, pendingSince: undefined, expiresAt })
      return
    }
    if (entry?.alert?.active) return
    const since = entry?.pendingSince ?? now
    this.#save(s, key, { ...entry, pendingSince: since, expiresAt: undefined, value: event.reason ?? 'UNAVAILABLE' })
  }

  /** A tick: heartbeats that expired start their wait; waits that ran out raise. */
  #sweep(s: EvaluatorStores, out: EvaluatorOutput, now: number): void {
    const due: [string, AlertEntry][] = []
    for (const [key, entry] of s.alerts.entries()) {
      if (entry.pendingSince !== undefined || (entry.expiresAt !== undefined && entry.expiresAt <= now)) {
        due.push([key, entry])
      }
    }
    for (const [key, e] of due) {
      let entry = e
      const cut = key.lastIndexOf(SEP)
      const uuid = key.slice(0, cut)
      const rule = this.#rulesById.get(key.slice(cut + 1))
      if (!rule) continue
      if (entry.expiresAt !== undefined && entry.expiresAt <= now && entry.pendingSince === undefined) {
        entry = { ...entry, expiresAt: undefined, pendingSince: entry.expiresAt, value: 'heartbeat expired' }
        this.#save(s, key, entry)
      }
      const since = entry.pendingSince
      if (since === undefined || entry.alert?.active || now - since < rule.forMs) continue
      const at = isoTimestamp(since + rule.forMs)
      const text =
        rule.kind === 'availability'
          ? `unavailable for ${rule.forMs} ms${entry.value !== undefined ? ` (${entry.value})` : ''}`
          : rule.kind === 'threshold'
            ? this.#thresholdText(rule, entry.value)
            : conditionText(rule.item, String(entry.value), entry.conditions ?? [])
      this.#raise(
        s,
        out,
        key,
        uuid,
        rule,
        entry,
        at,
        text,
        rule.kind === 'availability' ? 'avail' : rule.item,
        entry.value,
      )
    }
  }

  #raise(
    s: EvaluatorStores,
    out: EvaluatorOutput,
    key: string,
    uuid: string,
    rule: AlertRule,
    entry: AlertEntry | undefined,
    at: string,
    text: string,
    item: string,
    value: unknown,
  ): void {
    const message = rule.message ? `${rule.message}: ${text}` : text
    const alert = { raisedAt: at, active: true, acked: false, message }
    if (!this.#save(s, key, { ...entry, pendingSince: undefined, alert })) return
    this.#emit(out, uuid, rule, 'raised', at, alert, { item, value })
  }

  #clear(
    s: EvaluatorStores,
    out: EvaluatorOutput,
    key: string,
    uuid: string,
    rule: AlertRule,
    entry: AlertEntry,
    at: string,
    why: string,
  ): void {
    const alert = entry.alert
    if (!alert) return
    const next = { ...alert, active: false }
    this.#emit(out, uuid, rule, 'cleared', at, { ...next, message: `${alert.message}; cleared: ${why}` })
    this.#save(s, key, { ...entry, pendingSince: undefined, alert: next.acked ? undefined : next })
  }

  #emit(
    out: EvaluatorOutput,
    uuid: string,
    rule: AlertRule,
    state: AlertState,
    at: string,
    alert: NonNullable<AlertEntry['alert']>,
    extra: { item?: string; value?: unknown; by?: string } = {},
  ): void {
    out.alert({
      rule: rule.id,
      asset: uuid,
      app: this.#app,
      state,
      severity: rule.severity,
      at,
      raisedAt: alert.raisedAt,
      message: alert.message,
      ...(extra.item !== undefined ? { item: extra.item } : {}),
      ...(extra.value !== undefined ? { value: extra.value } : {}),
      ...(extra.by !== undefined ? { by: extra.by } : {}),
      active: alert.active,
      acked: alert.acked,
    })
    const level: ConditionLevel = !alert.active ? 'NORMAL' : rule.severity === 'critical' ? 'FAULT' : 'WARNING'
    out.observation(uuid, {
      id: `alert_${rule.id}`,
      value: level,
      tag: 'Alert',
      type: 'Condition',
      attributes: {
        timestamp: at,
        nativeCode: rule.id,
        nativeSeverity: rule.severity,
        message: alert.message,
        alert_state: state,
        acked: alert.acked,
        raised_at: alert.raisedAt,
      },
    })
  }

  /** Stores an entry, or deletes it when it holds nothing; false when a new entry is past the bound. */
  #save(s: EvaluatorStores, key: string, entry: AlertEntry): boolean {
    const empty =
      entry.pendingSince === undefined &&
      entry.expiresAt === undefined &&
      entry.alert === undefined &&
      (entry.conditions === undefined || entry.conditions.length === 0)
    const exists = s.alerts.get(key) !== undefined
    if (empty) {
      if (exists) s.alerts.delete(key)
      return true
    }
    if (!exists && s.alerts.size >= this.#config.maxTracked) {
      this.stats.untracked++
      return false
    }
    s.alerts.put(key, compact(entry))
    return true
  }
}

/** Drops undefined fields (the store writes JSON; undefined would not survive a restore anyway). */
function compact<T extends object>(entry: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(entry)) if (v !== undefined) out[k] = v
  return out as T
}

function numeric(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  if (v === '' || v === 'UNAVAILABLE') return undefined
  const n = Number(v)
  return Number.isFinite(n) ? n : undefined
}

function sourceTime(o: Observation, logTime: number): string {
  const ts = o.attributes.timestamp
  if (typeof ts === 'string' && ts !== '' && parseTime(ts) !== undefined) return ts
  return isoTimestamp(logTime)
}

function conditionText(item: string, worst: string, conditions: readonly ActiveCondition[]): string {
  const top = conditions.find((c) => c.level === worst)
  const code = top?.nativeCode ? ` ${top.nativeCode}` : ''
  const msg = top?.message ? `: ${top.message}` : ''
  return `${item} ${worst}${code}${msg}`
}
