/**
 * Services and health: the serving app's `/healthz` (log reachable, state caught up, writes succeeding), a few of
 * its `/metrics` (live connections, updates sent, state size), and every asset's connector as the log shows it —
 * `avail` (heartbeats with their TTL; the reason when it expired), `agent_avail` (an MTConnect agent's), the Docker
 * service that runs it on a swarm — live from one subscription to those items.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { ApiError, request } from '../api.ts'
import { now } from '../clock.ts'
import { Link } from '../components/link.tsx'
import { duration, value as show } from '../format.ts'
import { live } from '../live.ts'
import { assetHref } from '../router.ts'
import type { Health, ItemState } from '../types.ts'

const POLL_MS = 5000
const SHOWN_METRICS = [
  ['ofa_serve_state_assets', 'assets in the state'],
  ['ofa_serve_state_items', 'items in the state'],
  ['ofa_serve_lag_records', 'records not yet applied'],
  ['ofa_serve_subscribers', 'open WebSocket/SSE connections'],
  ['ofa_serve_subscriptions', 'live subscriptions'],
  ['ofa_serve_updates_sent_total', 'updates sent'],
  ['ofa_serve_commands_sent_total', 'commands sent'],
  ['ofa_serve_availability_expiries_total', 'availability expiries'],
  ['ofa_forward_connected', 'edge forwarding connected'],
] as const
const MAX_ROWS = 500

/** `name value` lines of Prometheus text for the metrics we show (labels summed). */
function metricValues(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const v = Number(m[2])
    if (Number.isFinite(v)) out.set(m[1] as string, (out.get(m[1] as string) ?? 0) + v)
  }
  return out
}

interface Connector {
  avail?: ItemState
  agent?: ItemState
  service?: ItemState
}

export function ServicesPage() {
  const [health, setHealth] = useState<{ code: number; body: Health } | null>(null)
  const [healthError, setHealthError] = useState<string | null>(null)
  const [metrics, setMetrics] = useState<Map<string, number> | null>(null)
  const [metricsError, setMetricsError] = useState<string | null>(null)
  const [connectors, setConnectors] = useState<ReadonlyMap<string, Connector>>(new Map())
  const [filter, setFilter] = useState('')

  useEffect(() => {
    let stopped = false
    const poll = async () => {
      try {
        const res = await fetch('/healthz', { headers: { accept: 'application/json' } })
        const body = (await res.json()) as Health
        if (!stopped) {
          setHealth({ code: res.status, body })
          setHealthError(null)
        }
      } catch (err) {
        if (!stopped) setHealthError(String(err))
      }
      try {
        const res = await request('/metrics', { accept: 'text/plain' })
        if (!stopped) setMetrics(metricValues(await res.text()))
      } catch (err) {
        if (!stopped) setMetricsError(err instanceof ApiError ? err.describe() : String(err))
      }
    }
    void poll()
    const t = setInterval(poll, POLL_MS)
    return () => {
      stopped = true
      clearInterval(t)
    }
  }, [])

  useEffect(() => {
    const by = new Map<string, Connector>()
    const apply = (i: ItemState) => {
      const c = by.get(i.assetUuid) ?? {}
      if (i.id === 'avail') c.avail = i
      else if (i.id === 'agent_avail') c.agent = i
      else if (i.id === 'DockerService') c.service = i
      by.set(i.assetUuid, c)
    }
    return live.subscribe(
      { items: ['avail', 'agent_avail', 'DockerService'] },
      {
        snapshot(items) {
          by.clear()
          for (const i of items) apply(i)
          setConnectors(new Map(by))
        },
        update(i) {
          apply(i)
          setConnectors(new Map(by))
        },
      },
    )
  }, [])

  const rows = useMemo(() => {
    const needle = filter.toLowerCase()
    return [...connectors.entries()]
      .filter(([uuid]) => uuid.toLowerCase().includes(needle))
      .sort(([a], [b]) => a.localeCompare(b))
  }, [connectors, filter])
  const t = now.value
  const h = health?.body
  return (
    <section aria-labelledby="services-heading">
      <h1 id="services-heading">Services and health</h1>
      <section aria-labelledby="health-heading">
        <h2 id="health-heading">Serving app</h2>
        {healthError && <p class="error">{healthError}</p>}
        {h && (
          <dl class="health" aria-live="polite">
            <dt>Status</dt>
            <dd>
              <span class={`badge ${h.status === 'ok' ? 'available' : 'unavailable'}`}>{h.status}</span> (HTTP{' '}
              {health?.code})
            </dd>
            <dt>Log</dt>
            <dd>{h.log}</dd>
            <dt>State caught up</dt>
            <dd>{h.ready ? 'yes' : 'no'}</dd>
            <dt>Lag</dt>
            <dd>{h.lag === null ? 'unknown' : `${h.lag} records`}</dd>
            <dt>Writes to the log</dt>
            <dd>{h.writes}</dd>
            {h.error && (
              <>
                <dt>Error</dt>
                <dd class="error">{h.error}</dd>
              </>
            )}
            {h.writeError && (
              <>
                <dt>Write error</dt>
                <dd class="error">{h.writeError}</dd>
              </>
            )}
          </dl>
        )}
      </section>
      <section aria-labelledby="metrics-heading">
        <h2 id="metrics-heading">Metrics</h2>
        {metricsError && <p class="muted">{metricsError}</p>}
        {metrics && (
          <table class="metrics">
            <tbody>
              {SHOWN_METRICS.filter(([name]) => metrics.has(name)).map(([name, label]) => (
                <tr key={name}>
                  <th scope="row">
                    {label} <code class="muted">{name}</code>
                  </th>
                  <td>{show(metrics.get(name))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="connectors-heading">
        <h2 id="connectors-heading">Connectors and availability</h2>
        <label class="filter">
          <span>Filter by asset</span>
          <input type="search" value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <table class="connectors">
          <thead>
            <tr>
              <th scope="col">Asset</th>
              <th scope="col">Availability</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">TTL</th>
              <th scope="col">Agent</th>
              <th scope="col">Docker service</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, MAX_ROWS).map(([uuid, c]) => {
              const ttl = c.avail?.attributes.ttl_ms
              const reason = c.avail?.attributes.reason
              return (
                <tr key={uuid}>
                  <th scope="row">
                    <Link href={assetHref(uuid)}>{uuid}</Link>
                  </th>
                  <td>
                    <span class={`badge ${c.avail?.value === 'AVAILABLE' ? 'available' : 'unavailable'}`}>
                      {c.avail ? show(c.avail.value) : 'unknown'}
                    </span>
                    {typeof reason === 'string' && <span class="muted"> {reason}</span>}
                  </td>
                  <td>{c.avail ? `${duration(t - Date.parse(c.avail.timestamp))} ago` : '—'}</td>
                  <td>{typeof ttl === 'number' ? `${ttl / 1000} s` : 'none'}</td>
                  <td>{c.agent ? show(c.agent.value) : '—'}</td>
                  <td>{c.service ? show(c.service.value) : '—'}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
        {rows.length > MAX_ROWS && <p class="muted">{rows.length - MAX_ROWS} more: narrow with the filter.</p>}
      </section>
    </section>
  )
}
