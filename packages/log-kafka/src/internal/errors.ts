// Kafka's errors, as @platformatic/kafka reports them, turned into our coded errors.
//
// The library wraps what went wrong in layers: `MultipleErrors` (an AggregateError: one per broker or per retry)
// holding `ResponseError`s holding `ProtocolError`s that carry Kafka's error name (`apiId`, e.g.
// `NOT_ENOUGH_REPLICAS`), its number (`apiCode`), the broker's message and `canRetry`; network failures are
// `NetworkError`/`TimeoutError` with a Node.js `cause`. We walk the whole tree and decide by the most specific
// thing found.
import { type ErrorCode, OpenFactoryError } from '@openfactory/model'

interface Found {
  apiIds: Set<string>
  codes: Set<string>
  messages: string[]
  canRetry: boolean | undefined
}

function walk(err: unknown, found: Found, depth = 0): void {
  if (err === null || typeof err !== 'object' || depth > 12) return
  const e = err as Record<string, unknown>
  if (typeof e.apiId === 'string') found.apiIds.add(e.apiId)
  if (typeof e.code === 'string') found.codes.add(e.code)
  if (typeof e.serverErrorMessage === 'string' && e.serverErrorMessage) found.messages.push(e.serverErrorMessage)
  else if (typeof e.message === 'string' && e.message && !Array.isArray(e.errors)) found.messages.push(e.message)
  if (e.canRetry === false) found.canRetry = false
  else if (e.canRetry === true && found.canRetry === undefined) found.canRetry = true
  if (Array.isArray(e.errors)) for (const x of e.errors) walk(x, found, depth + 1)
  if (e.cause) walk(e.cause, found, depth + 1)
}

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|ERR_OSSL_)/
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PLT_KFK_NETWORK',
  'PLT_KFK_TIMEOUT',
])

/** What an error says, in one line (the broker's message where there is one). */
function describe(found: Found, err: unknown): string {
  const unique = [...new Set(found.messages)].filter((m) => !/^(Received response with error|.* failed\.?$)/.test(m))
  const text = unique.slice(0, 3).join('; ')
  return text || (err instanceof Error ? err.message : String(err))
}

/**
 * The coded error for a failure of `what` (e.g. `append to ofa_assets`). An `OpenFactoryError` passes through.
 */
export function kafkaError(what: string, err: unknown): OpenFactoryError {
  if (err instanceof OpenFactoryError) return err
  const found: Found = { apiIds: new Set(), codes: new Set(), messages: [], canRetry: undefined }
  walk(err, found)
  const has = (...ids: string[]): boolean => ids.some((id) => found.apiIds.has(id))
  const msg = describe(found, err)
  const make = (code: ErrorCode, retryable: boolean, text = msg): OpenFactoryError =>
    new OpenFactoryError(code, `${what}: ${text}`, { cause: err, retryable })
  if (has('UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID') || found.messages.some((m) => /^Unknown topic /.test(m))) {
    return make('OFA_LOG_UNKNOWN_TOPIC', false)
  }
  if (has('OFFSET_OUT_OF_RANGE')) return make('OFA_LOG_OFFSET_OUT_OF_RANGE', false)
  if (has('MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE')) return make('OFA_LOG_RECORD_TOO_LARGE', false)
  if (has('NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND')) return make('OFA_LOG_NOT_ENOUGH_REPLICAS', true)
  if (
    has('SASL_AUTHENTICATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM') ||
    [...found.apiIds].some((id) => id.endsWith('_AUTHORIZATION_FAILED')) ||
    found.codes.has('PLT_KFK_AUTHENTICATION') ||
    [...found.codes].some((c) => TLS_CODES.test(c)) ||
    found.messages.some((m) => /TLS handshake failed/.test(m))
  ) {
    return make('OFA_LOG_AUTH', false)
  }
  if (has('TOPIC_ALREADY_EXISTS')) return make('OFA_LOG_TOPIC_CONFLICT', false)
  if (
    has(
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_PARTITIONS',
      'INVALID_REPLICATION_FACTOR',
      'INVALID_CONFIG',
      'POLICY_VIOLATION',
      'INVALID_RECORD',
      'INVALID_REQUIRED_ACKS',
      'INVALID_TIMESTAMP',
    )
  ) {
    return make('OFA_LOG_INVALID_ARGUMENT', false)
  }
  const network = [...found.codes].some((c) => NETWORK_CODES.has(c))
  return make('OFA_LOG_IO', network || found.canRetry !== false)
}

/** True when the error tree names one of Kafka's error ids. */
export function hasKafkaError(err: unknown, ...ids: string[]): boolean {
  const found: Found = { apiIds: new Set(), codes: new Set(), messages: [], canRetry: undefined }
  walk(err, found)
  return ids.some((id) => found.apiIds.has(id))
}

export function invalidArgument(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_INVALID_ARGUMENT', message)
}

export function closedError(): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_CLOSED', 'the event log is closed')
}

export function unknownTopic(topic: string): OpenFactoryError {
  return new OpenFactoryError('OFA_LOG_UNKNOWN_TOPIC', `topic ${JSON.stringify(topic)} does not exist`)
}
