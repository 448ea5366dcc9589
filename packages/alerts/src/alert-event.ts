/**
 * The alert event: one record on the topic `ofa_alerts` for each change of an alert — raised, acknowledged,
 * cleared — keyed by `<asset>/<rule>` (one alert per rule and asset: its changes stay in order on one partition).
 * Written by the alerts app, read by the webhooks app, the API and the dashboard. JSON, UTF-8.
 */
export const ALERTS_TOPIC = 'ofa_alerts'

export type AlertSeverity = 'info' | 'warning' | 'critical'
export type AlertState = 'raised' | 'acknowledged' | 'cleared'

export interface AlertEvent {
  /** The rule's id (unique in its app). */
  readonly rule: string
  /** The asset the alert is about. */
  readonly asset: string
  /** The alerts app that evaluated the rule. */
  readonly app: string
  readonly state: AlertState
  readonly severity: AlertSeverity
  /** ISO-8601: when this change happened (source time of the observation that caused it; the ack's time). */
  readonly at: string
  /** ISO-8601: when the alert was raised (the same on its acknowledged and cleared events). */
  readonly raisedAt: string
  /** Human-readable: what the rule saw (`spindle_temp 83.5 above 80 for 5 s`). */
  readonly message: string
  /** The item and value that caused the change, when one did. */
  readonly item?: string
  readonly value?: unknown
  /** Who acknowledged it (a principal id: `key:…`, `token:…`, `open`). */
  readonly by?: string
  /**
   * Added by the alerts app (absent in older events): whether the rule's condition still holds after this change
   * (false once cleared), and whether someone acknowledged the alert. An alert is open until it is both cleared and
   * acknowledged: `cleared` may come before `acknowledged`, and the alert is over after whichever comes last.
   */
  readonly active?: boolean
  readonly acked?: boolean
}

/** True while an alert still needs attention: not both cleared and acknowledged. */
export function isOpenAlert(e: AlertEvent): boolean {
  const active = e.active ?? e.state !== 'cleared'
  const acked = e.acked ?? e.state === 'acknowledged'
  return active || !acked
}

/** Reads an `ofa_alerts` record value; undefined for one that is not an alert event. */
export function decodeAlertEvent(value: Uint8Array | string): AlertEvent | undefined {
  let v: unknown
  try {
    v = JSON.parse(typeof value === 'string' ? value : Buffer.from(value).toString('utf8'))
  } catch {
    return undefined
  }
  if (v === null || typeof v !== 'object') return undefined
  const e = v as Record<string, unknown>
  const states = ['raised', 'acknowledged', 'cleared']
  if (typeof e.rule !== 'string' || typeof e.asset !== 'string' || typeof e.app !== 'string') return undefined
  if (typeof e.state !== 'string' || !states.includes(e.state)) return undefined
  return v as AlertEvent
}

/** The record key of an alert's events. */
export function alertKey(asset: string, rule: string): string {
  return `${asset}/${rule}`
}
