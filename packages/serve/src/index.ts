// @openfactory/serve — the serving layer: asset state materialised from the log, and the HTTP API over it.

// HTTP: the Fastify app (REST, WebSocket, SSE, OpenAPI, health, metrics).
export { createServeApp, DEFAULT_PORT, type ServeAppOptions } from './http/app.ts'
// Prometheus metrics, for what runs beside the app and adds its own (`extraMetrics`).
export type { Metric, MetricSample } from './http/metrics.ts'
// State: the current-state table and asset registry, followed from ofa_assets and ofa_registry.
export * from './state/asset-state.ts'
// Commands: <Method>_CMD sent, <Method>_RESULT tracked by correlation id.
export * from './state/commands.ts'
// Live subscriptions: snapshot then updates, fanned out from one change computation.
export * from './state/subscriptions.ts'
// UNS patterns: `+` and `#` wildcards over any separator.
export * from './state/uns-pattern.ts'
