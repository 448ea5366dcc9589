/**
 * The open alerts, as the serving layer shows them (`GET /api/alerts`) and acknowledges them
 * (`POST /api/alerts/{uuid}/{rule}/ack`): a view of `ofa_alerts` (catch up, then follow), the last event of each
 * alert that is not over (cleared and acknowledged).
 *
 * Acknowledging writes an ack request to `ofa_alerts_control` (control.ts), keyed by the asset; the alerts app that
 * raised the alert turns it into the `acknowledged` event, once (it ignores an ack for an alert already
 * acknowledged or for an earlier raise), so that the alert's events stay written by one writer, in order, exactly
 * once — a request sent twice (a client retrying) acknowledges once. `ack` then waits (up to `timeoutMs`) until this
 * view has read the `acknowledged` event.
 *
 * Bounds: at most `maxAlerts` open alerts are kept (default 100 000); past it the one changed longest ago (in the order
 * read) goes from the view (counted in `dropped`), never from the log.
 */
import { type EventLog, tail } from '@openfactory/log'
import { type DebugLogger, isOpenFactoryError, OpenFactoryError, silentLogger, sleep } from '@openfactory/model'
import { ALERTS_TOPIC, type AlertEvent, alertKey, decodeAlertEvent, isOpenAlert } from './alert-event.ts'
import { ALERTS_CONTROL_TOPIC, ackRecord } from './control.ts'

export const DEFAULT_MAX_VIEW_ALERTS = 100_000

export interface AlertsViewOptions {
  readonly maxAlerts?: number
  readonly logger?: DebugLogger
  /** How often a missing `ofa_alerts` is looked for again (default 1000 ms). */
  readonly retryMs?: number
}

export interface AckResult {
  /** The alert after the ack (its `acknowledged` event), or as it was when the wait ran out. */
  readonly alert: AlertEvent
  /** False when it was already acknowledged: nothing was written. */
  readonly written: boolean
  /** True when this view read the `acknowledged` event before answering. */
  readonly confirmed: boolean
}

export interface AlertsView {
  /** Resolves once the view has read `ofa_alerts` up to its end at the start (at once when it does not exist yet). */
  ready(): Promise<void>
  /** Open alerts, the most recently changed first (by `at`). */
  list(): AlertEvent[]
  get(asset: string, rule: string): AlertEvent | undefined
  /** Acknowledges an open alert; throws OFA_ALERT_NOT_FOUND when there is none. */
  ack(asset: string, rule: string, by: string, opts?: { readonly timeoutMs?: number }): Promise<AckResult>
  readonly dropped: number
  close(): Promise<void>
}

export function openAlertsView(eventLog: EventLog, opts: AlertsViewOptions = {}): AlertsView {
  const max = opts.maxAlerts ?? DEFAULT_MAX_VIEW_ALERTS
  const logger = opts.logger ?? silentLogger
  const abort = new AbortController()
  // Insertion order = order of the last change (a changed alert is moved to the end).
  const open = new Map<string, AlertEvent>()
  const waiters = new Set<() => void>()
  let dropped = 0
  let caughtUp!: () => void
  const ready = new Promise<void>((resolve) => (caughtUp = resolve))

  const apply = (e: AlertEvent) => {
    const key = alertKey(e.asset, e.rule)
    open.delete(key)
    if (isOpenAlert(e)) {
      open.set(key, e)
      if (open.size > max) {
        const oldest = open.keys().next().value as string
        open.delete(oldest)
        dropped++
      }
    }
  }

  const run = (async () => {
    while (!abort.signal.aborted) {
      try {
        if (!(await eventLog.listTopics()).includes(ALERTS_TOPIC)) {
          caughtUp()
          await sleep(opts.retryMs ?? 1000, abort.signal)
          continue
        }
        for await (const batch of tail(eventLog, ALERTS_TOPIC, { signal: abort.signal, logger })) {
          for (const r of batch.records) {
            const e = r.value ? decodeAlertEvent(r.value) : undefined
            if (e) apply(e)
          }
          if (batch.caughtUp) caughtUp()
          if (batch.records.length > 0) for (const w of [...waiters]) w()
        }
        return
      } catch (err) {
        if (abort.signal.aborted || isOpenFactoryError(err, 'OFA_LOG_CLOSED')) return
        logger.warn('reading ofa_alerts failed; retrying', { error: String(err) })
        await sleep(opts.retryMs ?? 1000, abort.signal).catch(() => {})
      }
    }
  })()
  run.catch(() => {})

  const get = (asset: string, rule: string) => open.get(alertKey(asset, rule))

  return {
    ready: () => ready,
    list: () => [...open.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)),
    get,
    get dropped() {
      return dropped
    },
    async ack(asset, rule, by, ackOpts = {}) {
      const alert = get(asset, rule)
      if (!alert) {
        throw new OpenFactoryError('OFA_ALERT_NOT_FOUND', `no open alert ${rule} on ${asset}`, {
          where: { path: 'params' },
        })
      }
      if (alert.acked === true || alert.state === 'acknowledged') return { alert, written: false, confirmed: true }
      await eventLog.append(ALERTS_CONTROL_TOPIC, [
        ackRecord({ app: alert.app, asset, rule, raisedAt: alert.raisedAt, by, at: new Date().toISOString() }),
      ])
      const done = () => {
        const now = get(asset, rule)
        return now === undefined || now.raisedAt !== alert.raisedAt || now.acked === true
      }
      const deadline = Date.now() + (ackOpts.timeoutMs ?? 5000)
      while (!done() && Date.now() < deadline && !abort.signal.aborted) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake)
            clearTimeout(timer)
            resolve()
          }
          const timer = setTimeout(wake, Math.max(1, deadline - Date.now()))
          waiters.add(wake)
        })
      }
      const now = get(asset, rule)
      if (done()) {
        // Over (cleared and acknowledged: no longer open) or acknowledged.
        return { alert: now ?? { ...alert, state: 'acknowledged', acked: true, by }, written: true, confirmed: true }
      }
      return { alert, written: true, confirmed: false }
    },
    async close() {
      abort.abort()
      for (const w of [...waiters]) w()
      await run
    },
  }
}
