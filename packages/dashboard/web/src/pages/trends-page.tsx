/**
 * Trends: items of an asset over time on one uPlot chart, from the downsampled history
 * (`GET /api/assets/{uuid}/history?id=...&from=&to=&buckets=`: min/max/avg per bucket). A range picker (last 15 min,
 * 1 h, 24 h, or a custom from/to), drag on the plot to zoom (the range is asked for again at the new resolution),
 * buttons and keys to pan and zoom out. The address holds the whole view (`?asset=&items=&range=` or `&from=&to=`),
 * so a view can be bookmarked and shared. A relative range ("last hour") is read again every 15 s.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { ApiError, api, query } from '../api.ts'
import { assets } from '../assets.ts'
import { bucketsFor, type Columns, pan, toColumns, zoom } from '../chart-data.ts'
import { Chart } from '../components/chart.tsx'
import { fromLocalInput, localTime, value as show, toLocalInput } from '../format.ts'
import { navigate, route } from '../router.ts'
import type { Asset, Downsampled } from '../types.ts'

const RANGES = [
  { key: '15m', label: 'Last 15 min', ms: 15 * 60_000 },
  { key: '1h', label: 'Last hour', ms: 3600_000 },
  { key: '24h', label: 'Last 24 h', ms: 24 * 3600_000 },
] as const

const REFRESH_MS = 15_000

function setParams(changes: Record<string, string | null>): void {
  const params = new URLSearchParams(route.value.params)
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') params.delete(k)
    else params.set(k, v)
  }
  navigate(`/trends?${params.toString()}`, { replace: true })
}

export function TrendsPage() {
  const params = route.value.params
  const uuid = params.get('asset') ?? ''
  const items = (params.get('items') ?? '').split(',').filter((s) => s !== '')
  const rangeKey = params.get('range') ?? '1h'
  const fromParam = params.get('from')
  const toParam = params.get('to')
  const absolute = fromParam !== null && toParam !== null
  const [tick, setTick] = useState(0)
  const [asset, setAsset] = useState<Asset | null>(null)
  const [assetText, setAssetText] = useState(uuid)
  const [result, setResult] = useState<{ data: Columns; d: Downsampled; view: { from: number; to: number } } | null>(
    null,
  )
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(false)
  const [custom, setCustom] = useState<{ from: string; to: string }>({ from: '', to: '' })
  const chartBox = useRef<HTMLDivElement>(null)

  const view = useMemo(() => {
    if (absolute) return { from: Date.parse(fromParam), to: Date.parse(toParam) }
    const r = RANGES.find((x) => x.key === rangeKey) ?? RANGES[1]
    const to = Date.now()
    return { from: to - r.ms, to }
  }, [absolute, fromParam, toParam, rangeKey, tick])

  useEffect(() => {
    if (!uuid) return setAsset(null)
    api<Asset>(`/api/assets/${encodeURIComponent(uuid)}`).then(setAsset, (err) => {
      setAsset(null)
      setError(err instanceof ApiError ? err.describe() : String(err))
    })
  }, [uuid])

  useEffect(() => {
    if (absolute) return
    const t = setInterval(() => setTick((n) => n + 1), REFRESH_MS)
    return () => clearInterval(t)
  }, [absolute])

  const itemsKey = items.join(',')
  useEffect(() => {
    if (!uuid || items.length === 0 || Number.isNaN(view.from) || Number.isNaN(view.to)) {
      setResult(null)
      return
    }
    const controller = new AbortController()
    const width = chartBox.current?.clientWidth ?? 800
    setLoading(true)
    api<Downsampled>(
      `/api/assets/${encodeURIComponent(uuid)}/history${query({
        id: itemsKey,
        from: new Date(view.from).toISOString(),
        to: new Date(view.to).toISOString(),
        buckets: bucketsFor(width),
      })}`,
      { signal: controller.signal },
    ).then(
      (d) => {
        setResult({ data: toColumns(d), d, view })
        setError(null)
        setLoading(false)
      },
      (err) => {
        if (controller.signal.aborted) return
        setError(err instanceof ApiError ? err.describe() : String(err))
        setLoading(false)
      },
    )
    return () => controller.abort()
  }, [uuid, itemsKey, view.from, view.to])

  const setView = (v: { from: number; to: number }) =>
    setParams({ from: new Date(v.from).toISOString(), to: new Date(v.to).toISOString(), range: 'custom' })

  const numeric = asset?.dataItems.filter((d) => d.category === 'Samples') ?? []
  const others = asset?.dataItems.filter((d) => d.category !== 'Samples') ?? []
  const toggleItem = (id: string, on: boolean) => {
    const next = on ? [...items.filter((i) => i !== id), id] : items.filter((i) => i !== id)
    setParams({ items: next.join(',') })
  }
  const suggestions = useMemo(() => {
    const needle = assetText.toLowerCase()
    const out: string[] = []
    for (const a of assets.value.keys()) {
      if (a.toLowerCase().includes(needle)) out.push(a)
      if (out.length >= 100) break
    }
    return out
  }, [assetText, assets.value])

  const series = result?.d.series ?? []
  const rows = result ? result.data[0].length : 0
  return (
    <section aria-labelledby="trends-heading">
      <h1 id="trends-heading">Trends</h1>
      <form
        class="trend-asset"
        onSubmit={(e) => {
          e.preventDefault()
          setParams({ asset: assetText.trim(), items: null })
        }}
      >
        <label for="trend-asset">Asset</label>
        <input
          id="trend-asset"
          list="trend-assets"
          value={assetText}
          onInput={(e) => setAssetText((e.currentTarget as HTMLInputElement).value)}
        />
        <datalist id="trend-assets">
          {suggestions.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <button type="submit">Show</button>
      </form>

      {asset && (
        <fieldset class="trend-items">
          <legend>Items of {asset.uuid}</legend>
          {numeric.length === 0 && <p class="muted">This asset has no numeric samples.</p>}
          {[...numeric, ...others].map((d) => (
            <label key={d.id} class="check">
              <input
                type="checkbox"
                checked={items.includes(d.id)}
                onChange={(e) => toggleItem(d.id, (e.currentTarget as HTMLInputElement).checked)}
              />
              {d.id} <span class="muted">{d.units ?? d.category}</span>
            </label>
          ))}
        </fieldset>
      )}

      <fieldset class="trend-range">
        <legend>Time range</legend>
        {RANGES.map((r) => (
          <label key={r.key} class="radio">
            <input
              type="radio"
              name="range"
              checked={!absolute && rangeKey === r.key}
              onChange={() => setParams({ range: r.key, from: null, to: null })}
            />
            {r.label}
          </label>
        ))}
        <label class="radio">
          <input type="radio" name="range" checked={absolute} onChange={() => setView(view)} />
          Custom
        </label>
        <span class="custom">
          <label>
            From{' '}
            <input
              type="datetime-local"
              step={1}
              value={custom.from || toLocalInput(view.from)}
              onInput={(e) => setCustom({ ...custom, from: (e.currentTarget as HTMLInputElement).value })}
            />
          </label>
          <label>
            To{' '}
            <input
              type="datetime-local"
              step={1}
              value={custom.to || toLocalInput(view.to)}
              onInput={(e) => setCustom({ ...custom, to: (e.currentTarget as HTMLInputElement).value })}
            />
          </label>
          <button
            type="button"
            onClick={() => {
              const from = fromLocalInput(custom.from || toLocalInput(view.from))
              const to = fromLocalInput(custom.to || toLocalInput(view.to))
              if (!Number.isNaN(from) && !Number.isNaN(to) && from < to) {
                setCustom({ from: '', to: '' })
                setView({ from, to })
              }
            }}
          >
            Apply
          </button>
        </span>
      </fieldset>

      <div class="chart-tools" role="toolbar" aria-label="Chart view">
        <button type="button" onClick={() => setView(pan(view, -0.5))}>
          ◀ Earlier
        </button>
        <button type="button" onClick={() => setView(pan(view, 0.5))}>
          Later ▶
        </button>
        <button type="button" onClick={() => setView(zoom(view, 2))}>
          Zoom out
        </button>
        <button type="button" onClick={() => setParams({ from: null, to: null, range: '1h' })} disabled={!absolute}>
          Reset
        </button>
        <span class="muted" aria-live="polite">
          {loading
            ? 'loading…'
            : result
              ? `${localTime(result.view.from)} – ${localTime(result.view.to)}, ${rows} buckets of ${result.d.intervalMs} ms`
              : ''}
        </span>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!uuid && <p>Choose an asset, then the items to draw.</p>}
      {uuid && items.length === 0 && asset && <p>Choose one or more items above.</p>}
      <div
        class="chart-box"
        ref={chartBox}
        role="img"
        aria-label={`Chart of ${items.join(', ') || 'nothing'}${result ? ` from ${localTime(result.view.from)} to ${localTime(result.view.to)}` : ''}. Drag across it with the mouse to zoom in; the buttons above pan and zoom out.`}
      >
        {result && series.length > 0 && (
          <Chart
            key={series.map((s) => s.id).join(',')}
            series={series.map((s) => ({ label: s.id, units: s.units }))}
            data={result.data}
            view={result.view}
            onZoom={(from, to) => setView({ from, to })}
          />
        )}
      </div>
      {result && rows > 0 && (
        <details class="chart-table">
          <summary>The chart's data as a table</summary>
          <table>
            <thead>
              <tr>
                <th scope="col">Bucket start</th>
                {series.map((s) => (
                  <th key={s.id} scope="col">
                    {s.id} (avg{s.units ? `, ${s.units}` : ''})
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {result.data[0].slice(0, 500).map((x, i) => (
                <tr key={x}>
                  <td>{localTime(x * 1000)}</td>
                  {series.map((s, k) => (
                    <td key={s.id}>{show(result.data[k + 1]?.[i] ?? '')}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  )
}
