// @openfactory/serve — the serving layer: asset state materialised from the log, and the HTTP API over it.

// Who may do what: principals and roles, API keys, scopes, the audit trail, the app-wide hook's options.
export {
  AUDIT_RETENTION_MS,
  AUDIT_TOPIC,
  type AuditLog,
  type AuditRecord,
  ensureAuditTopic,
  openAuditLog,
  readAudit,
} from './auth/audit.ts'
export { type AuthOptions, OPEN_PRINCIPAL, type RouteAccess } from './auth/hook.ts'
// OIDC bearer tokens: a JWT of the factory's identity provider verified (jose) into a principal.
export {
  createTokenVerifier,
  TOKEN_ALGORITHMS,
  TOKEN_VERIFIER_DEFAULTS,
  type TokenAlgorithm,
  type TokenVerifier,
  type TokenVerifierOptions,
} from './auth/jwt.ts'
export {
  type ApiKeyRecord,
  createApiKey,
  KEYS_TOPIC,
  type KeyStore,
  openKeyStore,
  readApiKeys,
  revokeApiKey,
} from './auth/keys.ts'
export { inScope, validateScope } from './auth/policy.ts'
export * from './auth/types.ts'
// Alerts: the interface the runtime gives the alert routes (the alerts package's view of ofa_alerts).
export type { AlertRecord, AlertsApi } from './http/alert-routes.ts'
// HTTP: the Fastify app (REST, WebSocket, SSE, OpenAPI, health, metrics), one plugin per route family.
export { createServeApp, DEFAULT_MAX_HISTORY_SCAN_RECORDS, DEFAULT_PORT, type ServeAppOptions } from './http/app.ts'
export { publicKey } from './http/auth-routes.ts'
// History reads of the log (one asset's records by key, item and source time), for `ofa export` too.
export { ObservationFilter, readNaming } from './http/history.ts'
// The ksqlDB-compatible API over the SQL engine (`sql` of the app's options): its options, media types, error codes.
export {
  KSQL_API_DEFAULTS,
  KSQL_ERROR,
  KSQL_V1,
  KSQLAPI_DELIMITED,
  type KsqlApiOptions,
  type KsqlErrorBody,
} from './http/ksql-routes.ts'
// Prometheus metrics (prom-client); `Metric` is what runs beside the app adds (`extraMetrics`).
export type { Metric, MetricSample, ServeMetrics } from './http/metrics.ts'
// The MTConnect agent façade (`/mtconnect`): its options and limits, the buffer that numbers the log's records.
export { MTCONNECT_DEFAULTS, type MTConnectOptions } from './mtconnect/mtconnect-routes.ts'
export { MTCONNECT_TOPIC } from './mtconnect/sequence-buffer.ts'
// Time travel: checkpoints and record times of ofa_assets, and the reader of the state at an instant.
export * from './state/as-of.ts'
export * from './state/as-of-index.ts'
// State: the current-state table and asset registry, folded from ofa_assets and ofa_registry.
export * from './state/asset-state.ts'
// Availability expiry: avail UNAVAILABLE written when a heartbeat TTL passes.
export * from './state/availability-expiry.ts'
// Commands: <Method>_CMD sent, <Method>_RESULT tracked by correlation id.
export * from './state/commands.ts'
// Asset documents: the last body of each, from ofa_asset_documents, bounded.
export * from './state/documents.ts'
// The state with its expiry and command tracker, composed: what the app and `ofa up` create.
export * from './state/serving-state.ts'
// Live subscriptions: snapshot then updates, fanned out from one change computation.
export * from './state/subscriptions.ts'
// History by time: where on ofa_assets records of a time range may be, whatever their order.
export * from './state/time-index.ts'
// UNS patterns: `+` and `#` wildcards over any separator.
export * from './state/uns-pattern.ts'
// Write health: whether the serving layer's own appends (commands, expiries) succeed, for /healthz.
export * from './state/write-health.ts'
