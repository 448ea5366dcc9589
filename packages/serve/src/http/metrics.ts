/**
 * Prometheus metrics in the text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then one sample per
 * line, `name{label="value",...} number`; label values escape `\`, `"` and newlines.
 */

export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>
  readonly value: number
}

export interface Metric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly samples: readonly MetricSample[]
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

export function renderMetrics(metrics: readonly Metric[]): string {
  let out = ''
  for (const m of metrics) {
    out += `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n`
    for (const s of m.samples) {
      const labels = s.labels
        ? Object.entries(s.labels)
            .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
            .join(',')
        : ''
      out += `${m.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}\n`
    }
  }
  return out
}

/** Counts HTTP answers by method, route pattern and status. */
export class RequestCounter {
  readonly #counts = new Map<string, { method: string; route: string; status: string; n: number }>()

  add(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`
    const c = this.#counts.get(key)
    if (c) c.n++
    else this.#counts.set(key, { method, route, status: String(status), n: 1 })
  }

  samples(): MetricSample[] {
    return [...this.#counts.values()].map((c) => ({
      labels: { method: c.method, route: c.route, status: c.status },
      value: c.n,
    }))
  }
}
