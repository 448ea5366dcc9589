/**
 * Coded errors. Every error OpenFactory raises on purpose carries one code from `ERROR_CODES`; the list is
 * documented in docs/reference/errors.md and a test keeps the two equal both ways.
 *
 * Three kinds of failure, each handled its own way (see CONVENTIONS.md):
 * - configuration and programmer errors throw an `OpenFactoryError` (with `where` for files and SQL);
 * - transient I/O errors are `OpenFactoryError`s with `retryable: true` (a supervisor owns the backoff);
 * - bad data from a machine is not an exception: it becomes an observation marked UNAVAILABLE with a reason.
 */

export const ERROR_CODES = [
  // configuration
  'OFA_CONFIG_INVALID',
  'OFA_CONFIG_FILE',
  'OFA_CONFIG_YAML',
  'OFA_CONFIG_UNKNOWN_FIELD',
  'OFA_CONFIG_MISSING_FIELD',
  'OFA_CONFIG_TYPE',
  'OFA_CONFIG_VALUE',
  'OFA_CONFIG_ENV_UNSET',
  'OFA_CONFIG_ENV_EMPTY',
  'OFA_CONFIG_DUPLICATE_UUID',
  'OFA_CONFIG_DUPLICATE_IP',
  'OFA_CONFIG_KIND_UNKNOWN',
  'OFA_CONFIG_LIMIT',
  'OFA_UNS_SCHEMA',
  'OFA_UNS_MISSING_SCHEMA',
  'OFA_UNS_INVALID',
  // model and wire format
  'OFA_OBSERVATION_INVALID',
  'OFA_COMMAND_INVALID',
  'OFA_COMMAND_REJECTED',
  'OFA_COMMAND_FAILED',
  'OFA_COMMAND_TIMEOUT',
  // connectors
  'OFA_CONNECTOR_CONFIG',
  'OFA_MTCONNECT_XML',
  'OFA_MTCONNECT_AGENT',
  'OFA_OPCUA_CONNECT',
  'OFA_OPCUA_SECURITY',
  'OFA_OPCUA_NODE',
  'OFA_OPCUA_STALLED',
  'OFA_MQTT_CONNECT',
  'OFA_MQTT_PAYLOAD',
  'OFA_MQTT_FLOOD',
  'OFA_MQTT_ASSET_LIMIT',
  'OFA_SPARKPLUG_SEQUENCE',
  'OFA_SPARKPLUG_PAYLOAD',
  'OFA_SPARKPLUG_DEATH',
  'OFA_MODBUS_CONNECT',
  'OFA_MODBUS_TIMEOUT',
  'OFA_MODBUS_EXCEPTION',
  'OFA_MODBUS_RESPONSE',
  'OFA_APP_PROCESS',
  'OFA_HISTORIAN_CONNECT',
  'OFA_HISTORIAN_WRITE',
  'OFA_HISTORIAN_SCHEMA',
  'OFA_HISTORIAN_PARTITION',
  'OFA_WEBHOOK_SECRET',
  'OFA_WEBHOOK_DELIVERY',
  'OFA_MQTT_PUBLISH',
  'OFA_ALERT_NOT_FOUND',
  // stream processing (SQL, TypeScript processors)
  'OFA_SQL_PARSE',
  'OFA_SQL_LIMIT',
  'OFA_SQL_TYPE',
  'OFA_SQL_FUNCTION',
  'OFA_SQL_UNKNOWN_SOURCE',
  'OFA_SQL_UNKNOWN_COLUMN',
  'OFA_SQL_EXISTS',
  'OFA_SQL_UNSUPPORTED',
  'OFA_SQL_VALUE',
  'OFA_SQL_SLOW_CONSUMER',
  'OFA_PROCESSOR_LOAD',
  'OFA_PROCESSOR_INVALID',
  'OFA_PROCESSOR_FENCED',
  // deployment (ofa plan, apply, rollback, history, status)
  'OFA_DEPLOY_DUPLICATE',
  'OFA_DEPLOY_PORT_CLASH',
  'OFA_DEPLOY_PLACEMENT',
  'OFA_DEPLOY_IMAGE_MISSING',
  'OFA_DEPLOY_FAILED',
  'OFA_DEPLOY_TOO_LARGE',
  'OFA_DEPLOY_SNAPSHOT',
  'OFA_DEPLOY_ROLLBACK',
  'OFA_DEPLOY_BACKBONE',
  'OFA_DEPLOY_KAFKA',
  'OFA_DEPLOY_NODE',
  // event log
  'OFA_LOG_INVALID_ARGUMENT',
  'OFA_LOG_LOCKED',
  'OFA_LOG_NOT_FOUND',
  'OFA_LOG_READ_ONLY',
  'OFA_LOG_CLOSED',
  'OFA_LOG_UNKNOWN_TOPIC',
  'OFA_LOG_TOPIC_CONFLICT',
  'OFA_LOG_OFFSET_OUT_OF_RANGE',
  'OFA_LOG_RECORD_TOO_LARGE',
  'OFA_LOG_CORRUPT',
  'OFA_LOG_IO',
  'OFA_LOG_NOT_ENOUGH_REPLICAS',
  'OFA_LOG_AUTH',
  // serving layer (HTTP, WebSocket, SSE)
  'OFA_SERVE_REQUEST_INVALID',
  'OFA_SERVE_ROUTE_NOT_FOUND',
  'OFA_SERVE_ASSET_NOT_FOUND',
  'OFA_SERVE_METHOD_NOT_FOUND',
  'OFA_SERVE_COMMAND_NOT_FOUND',
  'OFA_SERVE_DOCUMENT_NOT_FOUND',
  'OFA_SERVE_ARGUMENTS_INVALID',
  'OFA_SERVE_CURSOR_INVALID',
  'OFA_SERVE_MESSAGE_INVALID',
  'OFA_SERVE_SLOW_CONSUMER',
  'OFA_SERVE_UNAVAILABLE',
  'OFA_SERVE_INTERNAL',
  'OFA_SERVE_HOST_NOT_ALLOWED',
  'OFA_SERVE_ORIGIN_NOT_ALLOWED',
  'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE',
  'OFA_SERVE_TOO_LARGE',
  'OFA_SERVE_SUBSCRIPTION_LIMIT',
  'OFA_SERVE_RATE_LIMITED',
  'OFA_SERVE_RANGE_TOO_LARGE',
  'OFA_SERVE_DASHBOARD_NOT_BUILT',
  // authentication, authorization, audit
  'OFA_AUTH_REQUIRED',
  'OFA_AUTH_INVALID',
  'OFA_AUTH_FORBIDDEN',
  'OFA_AUTH_CONFIG',
  'OFA_AUTH_TOKEN_INVALID',
  'OFA_AUTH_PROVIDER_UNAVAILABLE',
  // command line
  'OFA_CLI_USAGE',
  'OFA_CLI_KAFKA_SECURITY',
  'OFA_CLI_LISTEN',
  'OFA_CLI_INSECURE',
  'OFA_CLI_TLS',
  'OFA_CLI_NOTHING_TO_RUN',
  // Docker runtime (images, swarm)
  'OFA_DOCKER_MISSING',
  'OFA_DOCKER_UNREACHABLE',
  'OFA_IMAGE_BUILD',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** Where in a file (or SQL text) a problem was found. Lines and columns count from 1, as editors show them. */
export interface Where {
  readonly file?: string
  readonly line?: number
  readonly column?: number
  /** Dotted field path inside the file, e.g. `devices.cnc-1.connector.port`. */
  readonly path?: string
  /** Byte offset inside a binary file (segment files of the event log). */
  readonly offset?: number
}

export interface OpenFactoryErrorOptions {
  readonly cause?: unknown
  readonly retryable?: boolean
  readonly retryAfterMs?: number
  readonly where?: Where
  /** For an error that collects several problems (configuration validation): every one of them. */
  readonly problems?: readonly OpenFactoryError[]
}

export class OpenFactoryError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly retryAfterMs?: number
  readonly where?: Where
  readonly problems: readonly OpenFactoryError[]

  constructor(code: ErrorCode, message: string, opts: OpenFactoryErrorOptions = {}) {
    super(message, { cause: opts.cause })
    this.name = 'OpenFactoryError'
    this.code = code
    this.retryable = opts.retryable ?? false
    this.retryAfterMs = opts.retryAfterMs
    this.where = opts.where
    this.problems = opts.problems ?? []
  }

  /** `file:line:column: OFA_CODE message` — the one-line form every tool prints. */
  format(): string {
    return `${formatWhere(this.where)}${this.code} ${this.message}`
  }

  toJSON(): { code: ErrorCode; message: string; where?: Where } {
    return this.where
      ? { code: this.code, message: this.message, where: this.where }
      : { code: this.code, message: this.message }
  }
}

export function formatWhere(where: Where | undefined): string {
  if (!where?.file) return ''
  let s = where.file
  if (where.line !== undefined) s += `:${where.line}`
  if (where.line !== undefined && where.column !== undefined) s += `:${where.column}`
  if (where.offset !== undefined) s += `@${where.offset}`
  return `${s}: `
}

export function isOpenFactoryError(err: unknown, code?: ErrorCode): err is OpenFactoryError {
  return err instanceof OpenFactoryError && (code === undefined || err.code === code)
}
