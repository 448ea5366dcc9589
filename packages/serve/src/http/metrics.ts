/**
 * Prometheus metrics on prom-client, in the text exposition format (version 0.0.4). One registry per app for
 * the serving layer's own metrics (most read from the state, the hub and the tracker when scraped), one per
 * process for prom-client's default process and Node.js metrics, and whatever runs beside the app adds its own
 * as plain `Metric`s (`extraMetrics`: an edge's forwarding), rendered by prom-client too.
 */
import fp from 'fastify-plugin'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { ServingState } from '../state/serving-state.ts'
import type { SubscriptionHub } from '../state/subscriptions.ts'

/** One sample of a `Metric`. */
export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>
  readonly value: number
}

/** A metric from what runs beside the app, as plain data. */
export interface Metric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  /** The label names; needed when there may be no samples (default: those of the samples). */
  readonly labelNames?: readonly string[]
  readonly samples: readonly MetricSample[]
}

export interface ServeMetricsOptions {
  readonly serving: ServingState
  readonly hub: SubscriptionHub
  /** Scrape-time reads that may wait (the log's end offsets) give up after this long (default 2000 ms). */
  readonly timeoutMs?: number
}

/** Lifecycle: created with the app (the metrics plugin), `close()` detaches from the tracker and the hub. */
export interface ServeMetrics {
  /** HTTP answers by method, route pattern and status. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  /**
   * Counts one answer in `httpRequests` as `httpRequests.inc` would, as plain numbers added to the counter when it
   * is read: the app counts every answer with it (prom-client hashes and checks the labels on each `inc`).
   */
  countAnswer(method: string, route: string, status: number): void
  /** Send → final result of commands sent through this server, by final status. */
  readonly commandDuration: Histogram<'status'>
  /** Ingestion → handed to a WebSocket/SSE client, per update message. */
  readonly updateLatency: Histogram
  readonly contentType: string
  /** The exposition text: the app's metrics, the process's, then `extra`. */
  render(extra?: readonly Metric[]): Promise<string>
  close(): void
}

let processRegistry: Registry | null = null

/** prom-client's default metrics (process_*, nodejs_*): one set per process, however many apps it runs. */
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    p.then(
      (v) => {
        clearTimeout(t)
        resolve(v)
      },
      (e) => {
        clearTimeout(t)
        reject(e)
      },
    )
  })
}

export function createServeMetrics(opts: ServeMetricsOptions): ServeMetrics {
  const { serving, hub } = opts
  const { state, commands, expiry } = serving
  const timeoutMs = opts.timeoutMs ?? 2000
  const startedAt = Date.now()
  const registry = new Registry()
  const registers = [registry]

  /** A counter kept elsewhere as a plain number (the state counts on its hot path without prom-client). */
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(read())
      },
    })
  const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.set(await read())
      },
    })

  /** Answers counted since the counter was last read: route → method → status → count. */
  let answers = new Map<string, Map<string, Map<number, number>>>()
  const httpRequests = new Counter({
    name: 'ofa_http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
    collect() {
      const counted = answers
      answers = new Map()
      for (const [route, byMethod] of counted) {
        for (const [method, byStatus] of byMethod) {
          for (const [status, n] of byStatus) this.inc({ method, route, status: String(status) }, n)
        }
      }
    },
  })
  const countAnswer = (method: string, route: string, status: number): void => {
    let byMethod = answers.get(route)
    if (byMethod === undefined) {
      byMethod = new Map()
      answers.set(route, byMethod)
    }
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) {
      byStatus = new Map()
      byMethod.set(method, byStatus)
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
  }
  counter(
    'ofa_serve_observations_ingested_total',
    'Records applied from ofa_assets (replay included).',
    () => state.stats().observations,
  )
  counter('ofa_serve_registry_records_total', 'Records applied from ofa_registry.', () => state.stats().registryRecords)
  counter(
    'ofa_serve_invalid_records_total',
    'Records skipped because they are not valid.',
    () => state.stats().invalidRecords,
  )
  counter(
    'ofa_serve_availability_expiries_total',
    'avail UNAVAILABLE written because a heartbeat TTL passed.',
    () => expiry.expiries,
  )
  counter('ofa_serve_commands_sent_total', 'Commands sent through this server.', () => commands.sent)
  gauge('ofa_serve_commands_tracked', 'Commands kept for lookups.', () => commands.size)
  gauge('ofa_serve_state_assets', 'Assets in the state.', () => state.stats().assets)
  gauge('ofa_serve_state_items', 'uuid|id entries in the current-state table.', () => state.stats().items)
  gauge('ofa_serve_ready', '1 once the state has caught up with the log (0 again if it stops following it).', () =>
    state.isReady ? 1 : 0,
  )
  gauge(
    'ofa_serve_lag_records',
    'Records on the log not yet applied to the state (NaN: log unreachable).',
    async () => await withTimeout(state.lag(), timeoutMs).catch(() => Number.NaN),
  )
  gauge('ofa_serve_subscribers', 'Open WebSocket and SSE connections.', () => hub.stats().connections)
  gauge('ofa_serve_subscriptions', 'Live subscriptions.', () => hub.stats().subscriptions)
  counter('ofa_serve_updates_sent_total', 'Update messages sent to subscribers.', () => hub.stats().updatesSent)
  counter(
    'ofa_serve_slow_consumers_dropped_total',
    'Connections dropped because they did not keep up.',
    () => hub.stats().slowConsumersDropped,
  )
  counter(
    'ofa_serve_subscriptions_refused_total',
    'Subscriptions refused because a cap was reached (per connection or per server).',
    () => hub.stats().subscriptionsRefused,
  )
  counter(
    'ofa_serve_log_write_failures_total',
    'Appends of the serving layer (commands, availability expiries) the log refused.',
    () => serving.writes.failures,
  )
  gauge('process_uptime_seconds', 'Seconds since the app was created.', () => (Date.now() - startedAt) / 1000)

  const commandDuration = new Histogram({
    name: 'ofa_serve_command_duration_seconds',
    help: 'Commands sent through this server: from the send to reading the final result, by its status.',
    labelNames: ['status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  })
  const updateLatency = new Histogram({
    name: 'ofa_serve_update_latency_seconds',
    help: "Live updates: from the observation's ingestion_timestamp to the update handed to a WebSocket or SSE client.",
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  })
  const detach = [
    commands.onSettled((record, elapsedMs) => commandDuration.observe({ status: record.status }, elapsedMs / 1000)),
    hub.onDelivery((latencyMs, messages) => {
      const seconds = Math.max(0, latencyMs) / 1000
      for (let i = 0; i < messages; i++) updateLatency.observe(seconds)
    }),
  ]

  return {
    httpRequests,
    countAnswer,
    commandDuration,
    updateLatency,
    contentType: registry.contentType,
    async render(extra = []) {
      let text = (await registry.metrics()) + (await processMetrics().metrics())
      if (extra.length > 0) text += await renderPlain(extra)
      return text
    },
    close() {
      for (const d of detach) d()
    },
  }
}

/** Plain metrics rendered by prom-client through a registry of their own, built for one scrape. */
async function renderPlain(metrics: readonly Metric[]): Promise<string> {
  const registry = new Registry()
  for (const m of metrics) {
    const labelNames = m.labelNames ?? [...new Set(m.samples.flatMap((s) => Object.keys(s.labels ?? {})))]
    const config = { name: m.name, help: m.help, labelNames, registers: [registry] }
    if (m.type === 'counter') {
      const c = new Counter(config)
      for (const s of m.samples) c.inc(s.labels ?? {}, s.value)
    } else {
      const g = new Gauge(config)
      for (const s of m.samples) g.set(s.labels ?? {}, s.value)
    }
  }
  return registry.metrics()
}

/**
 * The metrics as a Fastify plugin, not encapsulated (fastify-plugin): decorates the app with `metrics` and
 * counts every answer (onResponse, `countAnswer`) app-wide; on close, detaches from the tracker and the hub.
 */
export const metricsPlugin = fp<{ readonly timeoutMs?: number }>(
  async (app, opts) => {
    const metrics = createServeMetrics({ serving: app.serving, hub: app.hub, timeoutMs: opts.timeoutMs })
    app.decorate('metrics', metrics)
    // A callback hook, not an async one: it runs on every request (bench/serve-rest.ts).
    app.addHook('onResponse', (request, reply, done) => {
      metrics.countAnswer(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode)
      done()
    })
    app.addHook('onClose', async () => metrics.close())
  },
  { name: 'ofa-metrics', fastify: '5.x' },
)
