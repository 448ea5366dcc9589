/**
 * What the historian makes of log records: rows of its tables (schema.ts), and the text of PostgreSQL's COPY
 * (text format: tab-separated fields, `\N` for NULL, backslash escapes) that carries them.
 *
 * An `ofa_assets` record is read with model's codec (`decodeObservation`, `classifyObservation`): a sample or an
 * event becomes a row of `observations`, an availability change too (heartbeats that repeat the last stored value
 * are not stored again), a condition a row of `conditions`, a command or its result a row of `commands`; identity
 * attributes and method contracts are not stored (the registry's `assets` table has them), nor the `rows_written`
 * and `lag` of the factory's historians unless `store_own_stats` is on. A record that is not an
 * observation at all is counted as skipped, never a reason to stop: the historian's position moves past it.
 *
 * Times: the observation's own time (`attributes.timestamp`); when it is missing, unreadable or outside years
 * 1970–9999, the record's append time. Text never holds NUL (PostgreSQL refuses it in text and jsonb): NUL becomes
 * U+FFFD.
 */
import type { LogRecord } from '@openfactory/log'
import {
  type AssetEvent,
  AssetEvents,
  classifyObservation,
  decodeAssetDeclaration,
  decodeObservation,
  type Observation,
} from '@openfactory/model'
import type { HistorianConfig } from './historian-config.ts'

export interface ObservationRow {
  time: number
  asset: string
  item: string
  valueNum: number | null
  valueText: string | null
  type: string
  tag: string
  quality: string | null
  attributes: string | null
  partition: number
  offset: number
}

export interface ConditionRow {
  time: number
  asset: string
  item: string
  level: string
  tag: string
  nativeCode: string | null
  nativeSeverity: string | null
  qualifier: string | null
  message: string | null
  attributes: string | null
  partition: number
  offset: number
}

export interface CommandRow {
  time: number
  asset: string
  method: string
  kind: 'command' | 'result'
  correlationId: string | null
  sender: string | null
  status: string | null
  arguments: string | null
  result: string | null
  errorCode: string | null
  errorMessage: string | null
  partition: number
  offset: number
}

export interface AssetRow {
  asset: string
  /** null: a tombstone (the asset was removed). */
  type: string | null
  unsId: string | null
  unsLevels: string
  declaration: string | null
  time: number
}

/** The rows of one batch. */
export class Batch {
  readonly observations: ObservationRow[] = []
  readonly conditions: ConditionRow[] = []
  readonly commands: CommandRow[] = []
  readonly assets = new Map<string, AssetRow>()
  /** The next offset per topic and partition (`topic/partition` → offset). */
  readonly offsets = new Map<string, { topic: string; partition: number; next: number }>()
  records = 0
  skipped = 0
  /** When the first record of this batch arrived (ms), for `batch_ms`. */
  firstAt = 0

  get rows(): number {
    return this.observations.length + this.conditions.length + this.commands.length + this.assets.size
  }

  advance(r: LogRecord): void {
    const k = `${r.topic}/${r.partition}`
    const o = this.offsets.get(k)
    if (o) o.next = Math.max(o.next, r.offset + 1)
    else this.offsets.set(k, { topic: r.topic, partition: r.partition, next: r.offset + 1 })
  }
}

const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

function sourceTime(o: Observation, fallback: number): number {
  const t = Date.parse(o.attributes.timestamp)
  return Number.isFinite(t) && t >= 0 && t <= MAX_TIME ? t : fallback
}

function noNul(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, '\uFFFD') : s
}

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'string' ? noNul(x) : x))
}

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : v === undefined || v === null ? null : String(v)
}

/** The attributes kept in the jsonb column: all but the time and quality (columns of their own). */
function restAttributes(o: Observation): string | null {
  const { timestamp: _t, quality: _q, ...rest } = o.attributes
  return Object.keys(rest).length > 0 ? json(rest) : null
}

/**
 * Turns records into rows. `lastAvail` (asset/item → last stored value of an availability item) is what makes
 * heartbeats not stored twice: seeded from `latest` when a session starts, it moves ahead with the records read;
 * any failure ends the session, and the next one seeds it again from what committed, so it always agrees with the
 * offsets it resumes from.
 */
export class RowMaker {
  readonly #cfg: HistorianConfig
  readonly #assetsTopic: string
  readonly lastAvail: Map<string, string>
  /** Samples not stored though `store` has them: the historians' own stats (historian.ts). */
  readonly #passOver: (asset: string, item: string) => boolean

  constructor(
    cfg: HistorianConfig,
    assetsTopic: string,
    lastAvail: Map<string, string>,
    passOver: (asset: string, item: string) => boolean = () => false,
  ) {
    this.#cfg = cfg
    this.#assetsTopic = assetsTopic
    this.lastAvail = lastAvail
    this.#passOver = passOver
  }

  add(batch: Batch, r: LogRecord): void {
    batch.records++
    batch.advance(r)
    if (r.topic === this.#assetsTopic) this.#assetRecord(batch, r)
    else this.#registryRecord(batch, r)
  }

  #registryRecord(batch: Batch, r: LogRecord): void {
    if (r.key === null) {
      batch.skipped++
      return
    }
    const asset = r.key.toString('utf8')
    if (r.value === null) {
      batch.assets.set(asset, { asset, type: null, unsId: null, unsLevels: '{}', declaration: null, time: r.timestamp })
      return
    }
    try {
      const a = decodeAssetDeclaration(asset, r.value)
      batch.assets.set(asset, {
        asset: noNul(asset),
        type: noNul(a.type),
        unsId: a.uns ? noNul(a.uns.unsId) : null,
        unsLevels: json(a.uns?.levels ?? {}),
        declaration: json(a),
        time: r.timestamp,
      })
    } catch {
      batch.skipped++
    }
  }

  #assetRecord(batch: Batch, r: LogRecord): void {
    if (r.key === null || r.value === null) {
      batch.skipped++
      return
    }
    const asset = r.key.toString('utf8')
    if (this.#cfg.assets && !this.#cfg.assets.has(asset)) return
    let o: Observation
    try {
      o = decodeObservation(r.value)
    } catch {
      batch.skipped++
      return
    }
    let e: AssetEvent
    try {
      e = classifyObservation(o)
    } catch {
      e = AssetEvents.observation(o) // a malformed command or result: stored as the value it is
    }
    const store = this.#cfg.store
    const time = sourceTime(o, r.timestamp)
    const a = noNul(asset)
    switch (e.kind) {
      case 'declaration':
      case 'method':
        return
      case 'command':
        if (!store.has('commands')) return
        batch.commands.push({
          time,
          asset: a,
          method: noNul(e.method),
          kind: 'command',
          correlationId: noNul(e.envelope.header.correlation_id),
          sender: noNul(e.envelope.header.sender_uuid),
          status: null,
          arguments: json(e.envelope.arguments),
          result: null,
          errorCode: null,
          errorMessage: null,
          partition: r.partition,
          offset: r.offset,
        })
        return
      case 'result':
        if (!store.has('commands')) return
        batch.commands.push({
          time,
          asset: a,
          method: noNul(e.method),
          kind: 'result',
          correlationId: noNul(e.result.correlation_id),
          sender: null,
          status: e.result.status,
          arguments: null,
          result: e.result.result !== undefined ? json(e.result.result) : null,
          errorCode: e.result.error ? noNul(e.result.error.code) : null,
          errorMessage: e.result.error ? noNul(e.result.error.message) : null,
          partition: r.partition,
          offset: r.offset,
        })
        return
      case 'availability': {
        if (!store.has('availability')) return
        const k = `${a}\0${o.id}`
        const value = String(o.value)
        if (this.lastAvail.get(k) === value) return // a heartbeat
        this.lastAvail.set(k, value)
        batch.observations.push(this.#observationRow(o, a, time, r))
        return
      }
      case 'observation': {
        if (o.type === 'Condition') {
          if (!store.has('conditions')) return
          const at = o.attributes
          batch.conditions.push({
            time,
            asset: a,
            item: noNul(o.id),
            level: noNul(String(o.value)),
            tag: noNul(o.tag),
            nativeCode: text(at.nativeCode),
            nativeSeverity: text(at.nativeSeverity),
            qualifier: text(at.qualifier),
            message: text(at.message),
            attributes: restAttributes(o),
            partition: r.partition,
            offset: r.offset,
          })
          return
        }
        if (!store.has(o.type === 'Samples' ? 'samples' : 'events')) return
        if (this.#passOver(asset, o.id)) return
        batch.observations.push(this.#observationRow(o, a, time, r))
      }
    }
  }

  #observationRow(o: Observation, asset: string, time: number, r: LogRecord): ObservationRow {
    const num = typeof o.value === 'number' && Number.isFinite(o.value)
    return {
      time,
      asset,
      item: noNul(o.id),
      valueNum: num ? (o.value as number) : null,
      valueText: num ? null : noNul(String(o.value)),
      type: o.type,
      tag: noNul(o.tag),
      quality: text(o.attributes.quality),
      attributes: restAttributes(o),
      partition: r.partition,
      offset: r.offset,
    }
  }
}

// --- COPY text format ------------------------------------------------------------------------------------

function field(v: string | number | null): string {
  if (v === null) return '\\N'
  if (typeof v === 'number') return String(v)
  let out = ''
  let last = 0
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    let esc: string | undefined
    if (c === 92) esc = '\\\\'
    else if (c === 9) esc = '\\t'
    else if (c === 10) esc = '\\n'
    else if (c === 13) esc = '\\r'
    else if (c === 0) esc = '\uFFFD'
    if (esc !== undefined) {
      out += v.slice(last, i) + esc
      last = i + 1
    }
  }
  return last === 0 ? v : out + v.slice(last)
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

export const OBSERVATION_COLUMNS =
  'time, asset, item, value_num, value_text, type, tag, quality, attributes, log_partition, log_offset'

export function observationsCopy(rows: readonly ObservationRow[]): string {
  let s = ''
  for (const r of rows) {
    s += `${iso(r.time)}\t${field(r.asset)}\t${field(r.item)}\t${field(r.valueNum)}\t${field(r.valueText)}\t${field(r.type)}\t${field(r.tag)}\t${field(r.quality)}\t${field(r.attributes)}\t${r.partition}\t${r.offset}\n`
  }
  return s
}

export const CONDITION_COLUMNS =
  'time, asset, item, level, tag, native_code, native_severity, qualifier, message, attributes, log_partition, log_offset'

export function conditionsCopy(rows: readonly ConditionRow[]): string {
  let s = ''
  for (const r of rows) {
    s += `${[iso(r.time), r.asset, r.item, r.level, r.tag, r.nativeCode, r.nativeSeverity, r.qualifier, r.message, r.attributes, r.partition, r.offset].map(field).join('\t')}\n`
  }
  return s
}

export const COMMAND_COLUMNS =
  'time, asset, method, kind, correlation_id, sender, status, arguments, result, error_code, error_message, log_partition, log_offset'

export function commandsCopy(rows: readonly CommandRow[]): string {
  let s = ''
  for (const r of rows) {
    s += `${[iso(r.time), r.asset, r.method, r.kind, r.correlationId, r.sender, r.status, r.arguments, r.result, r.errorCode, r.errorMessage, r.partition, r.offset].map(field).join('\t')}\n`
  }
  return s
}
