/**
 * Alerts: the open alerts of the factory's alerts apps (`GET /api/alerts`, asked again every 2 s), the most recently
 * changed first, each with its severity, state and message; an operator acknowledges one with its button
 * (`POST /api/alerts/{uuid}/{rule}/ack`). An alert stays listed until it is both cleared and acknowledged.
 */
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api } from '../api.ts'
import { me } from '../auth.ts'
import { Link } from '../components/link.tsx'
import { localTime } from '../format.ts'
import { assetHref } from '../router.ts'

interface Alert {
  readonly rule: string
  readonly asset: string
  readonly app: string
  readonly state: 'raised' | 'acknowledged' | 'cleared'
  readonly severity: 'info' | 'warning' | 'critical'
  readonly at: string
  readonly raisedAt: string
  readonly message: string
  readonly by?: string
  readonly active?: boolean
  readonly acked?: boolean
}

const REFRESH_MS = 2000

export function AlertsPage() {
  const [alerts, setAlerts] = useState<readonly Alert[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState<string | null>(null)
  const [tick, setTick] = useState(0)
  const role = me.value?.role
  const mayAck = me.value?.kind === 'open' || role === 'operator' || role === 'admin'

  useEffect(() => {
    const abort = new AbortController()
    api<{ items: Alert[] }>('/api/alerts', { signal: abort.signal })
      .then((r) => {
        setAlerts(r.items)
        setError(null)
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) setError(err instanceof ApiError ? err.describe() : String(err))
      })
    const timer = setTimeout(() => setTick((n) => n + 1), REFRESH_MS)
    return () => {
      abort.abort()
      clearTimeout(timer)
    }
  }, [tick])

  const ack = async (a: Alert) => {
    const key = `${a.asset}/${a.rule}`
    setBusy(key)
    try {
      await api(`/api/alerts/${encodeURIComponent(a.asset)}/${encodeURIComponent(a.rule)}/ack`, {
        method: 'POST',
        body: {},
      })
      setError(null)
    } catch (err) {
      setError(err instanceof ApiError ? err.describe() : String(err))
    } finally {
      setBusy(null)
      setTick((n) => n + 1)
    }
  }

  return (
    <section aria-labelledby="alerts-heading">
      <h1 id="alerts-heading">Alerts</h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {alerts === null ? (
        <p class="loading">Loading alerts…</p>
      ) : alerts.length === 0 ? (
        <p class="summary">No open alert.</p>
      ) : (
        <table class="alerts">
          <caption>
            {alerts.length} open alert{alerts.length === 1 ? '' : 's'}, the most recent first
          </caption>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Asset</th>
              <th scope="col">Rule</th>
              <th scope="col">State</th>
              <th scope="col">Raised</th>
              <th scope="col">Message</th>
              <th scope="col">Acknowledge</th>
            </tr>
          </thead>
          <tbody>
            {alerts.map((a) => {
              const key = `${a.asset}/${a.rule}`
              const acked = a.acked === true || a.state === 'acknowledged'
              return (
                <tr key={key} class={`alert-${a.severity}`}>
                  <td>{a.severity}</td>
                  <td>
                    <Link href={assetHref(a.asset)}>{a.asset}</Link>
                  </td>
                  <td>{a.rule}</td>
                  <td>
                    {a.active === false ? 'cleared' : 'active'}
                    {acked ? `, acknowledged${a.by ? ` by ${a.by}` : ''}` : ''}
                  </td>
                  <td>{localTime(a.raisedAt)}</td>
                  <td>{a.message}</td>
                  <td>
                    {acked ? (
                      '—'
                    ) : (
                      <button
                        type="button"
                        disabled={!mayAck || busy === key}
                        title={mayAck ? undefined : 'Acknowledging needs the operator role'}
                        onClick={() => ack(a)}
                        aria-label={`Acknowledge ${a.rule} on ${a.asset}`}
                      >
                        Acknowledge
                      </button>
                    )}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}
