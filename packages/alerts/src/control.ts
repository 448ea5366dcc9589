/**
 * The control topic of the alerts apps, `ofa_alerts_control`: what reaches an alerts app besides the observations,
 * as records of the log, so that its evaluation stays a deterministic function of the log (the processor runtime
 * replays it after a crash and gets the same alert events — packages/sql's task.ts):
 *
 * | value (JSON)                                                         | key          | written by                  |
 * | -------------------------------------------------------------------- | ------------ | --------------------------- |
 * | `{"kind":"ack","app","asset","rule","raisedAt","by","at"}`            | the asset    | the API (`POST .../ack`)    |
 * | `{"kind":"tick","app"}`                                              | none         | each alerts app, every `tick_ms`, one per partition |
 *
 * It has the partition count of `ofa_assets` (co-partitioned: an ack keyed by its asset lands on the partition
 * number of that asset's observations, the one task that owns its alerts). A tick carries no time of its own: its
 * log timestamp is the time it brings — durations (`for_ms`, `unavailable_for_ms`) run on log time, so an alert
 * whose duration runs out while its asset is silent is raised on the next tick after it.
 */
import type { ProducerRecord } from '@openfactory/log'

export const ALERTS_CONTROL_TOPIC = 'ofa_alerts_control'

export interface AckRequest {
  readonly kind: 'ack'
  /** The alerts app whose alert it is (other apps ignore it). */
  readonly app: string
  readonly asset: string
  readonly rule: string
  /** The raise being acknowledged: an ack meant for an earlier raise of the same rule and asset is ignored. */
  readonly raisedAt: string
  /** The principal id of who acknowledged. */
  readonly by: string
  /** ISO-8601: when it was asked. */
  readonly at: string
}

export interface Tick {
  readonly kind: 'tick'
  readonly app: string
}

export type ControlRecord = AckRequest | Tick

export function ackRecord(ack: Omit<AckRequest, 'kind'>): ProducerRecord {
  return { key: ack.asset, value: JSON.stringify({ kind: 'ack', ...ack }) }
}

export function tickRecord(app: string, partition: number, timestamp: number): ProducerRecord {
  return { value: JSON.stringify({ kind: 'tick', app }), partition, timestamp }
}

/** Reads a control record; undefined for anything else (it is skipped). */
export function decodeControl(value: Uint8Array | null): ControlRecord | undefined {
  if (!value) return undefined
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(value).toString('utf8'))
  } catch {
    return undefined
  }
  if (v === null || typeof v !== 'object') return undefined
  const r = v as Record<string, unknown>
  if (r.kind === 'tick') return { kind: 'tick', app: String(r.app ?? '') }
  if (r.kind !== 'ack') return undefined
  for (const f of ['app', 'asset', 'rule', 'raisedAt', 'by', 'at']) if (typeof r[f] !== 'string') return undefined
  return r as unknown as AckRequest
}
