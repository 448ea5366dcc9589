/**
 * Observations in the reference OpenFactory wire format.
 *
 * One observation is one value of one data item of one asset at one instant. On the `ofa_assets` topic the
 * record key is the asset UUID (UTF-8) and the value is a JSON object:
 *
 *   {"ID": "Temp", "VALUE": 216.92, "TAG": "Temperature", "TYPE": "Samples",
 *    "attributes": {"timestamp": "2025-05-04T12:34:56.789Z", ...}}
 *
 * - `VALUE` is a JSON number for numeric Samples and a string otherwise; `"UNAVAILABLE"` when there is no valid
 *   value. Numbers are never turned into strings on the way through.
 * - `TYPE` is one of Samples | Events | Condition | Method | OpenFactory | UNAVAILABLE.
 * - `attributes.timestamp` is the source time, ISO-8601 UTC with milliseconds and `Z`;
 *   `attributes.ingestion_timestamp` is when we received it. Other attributes are optional (units, subType,
 *   quality, reason; nativeCode, nativeSeverity, qualifier, message for conditions; ttl_ms for `avail`).
 * - Readers match the field names case-insensitively (`id`, `Value`, `ATTRIBUTES` are all accepted).
 */
import { OpenFactoryError } from './errors.ts'
import { isoTimestamp } from './time.ts'

export type ObservationType = 'Samples' | 'Events' | 'Condition' | 'Method' | 'OpenFactory' | 'UNAVAILABLE'
export const OBSERVATION_TYPES: readonly ObservationType[] = [
  'Samples',
  'Events',
  'Condition',
  'Method',
  'OpenFactory',
  'UNAVAILABLE',
]

export type Quality = 'GOOD' | 'UNCERTAIN' | 'BAD'
export type ConditionLevel = 'NORMAL' | 'WARNING' | 'FAULT' | 'UNAVAILABLE'
export const CONDITION_LEVELS: readonly ConditionLevel[] = ['NORMAL', 'WARNING', 'FAULT', 'UNAVAILABLE']

/** The value every item takes when it has no valid value. */
export const UNAVAILABLE = 'UNAVAILABLE'

export interface ObservationAttributes {
  /** Source time, ISO-8601 UTC with milliseconds and `Z`. */
  timestamp: string
  ingestion_timestamp?: string
  units?: string
  subType?: string
  quality?: Quality
  reason?: string
  nativeCode?: string
  nativeSeverity?: string
  qualifier?: string
  message?: string
  ttl_ms?: number
  [name: string]: unknown
}

export type ObservationValue = number | string

export interface Observation {
  readonly id: string
  readonly value: ObservationValue
  readonly tag: string
  readonly type: ObservationType
  readonly attributes: ObservationAttributes
}

/** Encodes an observation as the JSON text of the reference wire format (field order ID, VALUE, TAG, TYPE, attributes). */
export function encodeObservation(o: Observation): string {
  return JSON.stringify({ ID: o.id, VALUE: o.value, TAG: o.tag, TYPE: o.type, attributes: o.attributes })
}

function fieldsCaseInsensitive(obj: Record<string, unknown>): Map<string, unknown> {
  const m = new Map<string, unknown>()
  for (const k of Object.keys(obj)) {
    const lower = k.toLowerCase()
    if (!m.has(lower)) m.set(lower, obj[k])
  }
  return m
}

function invalid(message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_OBSERVATION_INVALID', message, { cause })
}

/**
 * Decodes an observation from the wire: bytes, JSON text or an already parsed object. Field names match
 * case-insensitively. Throws `OFA_OBSERVATION_INVALID` naming the first problem.
 */
export function decodeObservation(input: Uint8Array | string | Record<string, unknown>): Observation {
  let obj: unknown = input
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text =
      typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')
    try {
      obj = JSON.parse(text)
    } catch (err) {
      throw invalid(`observation is not JSON: ${(err as Error).message}`, err)
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw invalid('observation must be a JSON object')
  const o = obj as Record<string, unknown>
  // Fast path: the field names as we write them; any other spelling goes through a case-insensitive map.
  let id: unknown = o.ID
  let type: unknown = o.TYPE
  let tag: unknown = o.TAG
  let value: unknown = o.VALUE
  let rawAttrs: unknown = o.attributes
  if (id === undefined || type === undefined || value === undefined || rawAttrs === undefined) {
    const f = fieldsCaseInsensitive(o)
    id = f.get('id')
    type = f.get('type')
    tag = f.get('tag')
    value = f.get('value')
    rawAttrs = f.get('attributes')
  }
  if (typeof id !== 'string' || id === '') throw invalid('observation has no ID')
  if (typeof type !== 'string' || !(OBSERVATION_TYPES as readonly string[]).includes(type)) {
    throw invalid(`observation ${id} has TYPE ${JSON.stringify(type)}; expected one of ${OBSERVATION_TYPES.join(', ')}`)
  }
  if (tag !== undefined && tag !== null && typeof tag !== 'string')
    throw invalid(`observation ${id} has a non-string TAG`)
  if (value === undefined || value === null) value = UNAVAILABLE
  else if (typeof value === 'boolean') value = String(value)
  else if (typeof value === 'object') value = JSON.stringify(value)
  else if (typeof value !== 'number' && typeof value !== 'string')
    throw invalid(`observation ${id} has an unsupported VALUE`)
  if (rawAttrs !== undefined && (rawAttrs === null || typeof rawAttrs !== 'object' || Array.isArray(rawAttrs))) {
    throw invalid(`observation ${id} has attributes that are not an object`)
  }
  // Attributes parsed here from text are ours to keep; an object handed in by the caller is copied, not changed.
  const attributes = finishAttributes(rawAttrs, obj !== input && rawAttrs !== undefined)
  return {
    id,
    value: value as ObservationValue,
    tag: (tag as string | undefined) ?? '',
    type: type as ObservationType,
    attributes,
  }
}

/**
 * The attributes of a decoded observation: `raw` (an object or undefined) with `timestamp` a string (from a
 * `Timestamp` of another case, else ''). `owned`: `raw` was parsed by the decoder, so it may be returned as it is.
 * Shared by `decodeObservation` and `decodeObservationLazy`; not for other callers.
 */
export function finishAttributes(raw: unknown, owned: boolean): ObservationAttributes {
  let attributes = (owned ? raw : { ...((raw as object) ?? {}) }) as ObservationAttributes
  if (typeof attributes.timestamp !== 'string') {
    if (owned) attributes = { ...attributes }
    const ts = Object.keys(attributes).find((k) => k.toLowerCase() === 'timestamp')
    attributes.timestamp = ts && typeof attributes[ts] === 'string' ? (attributes[ts] as string) : ''
  }
  return attributes
}

/** An observation saying a data item has no valid value, with the reason why. */
export function unavailableObservation(
  item: { id: string; tag: string; type: ObservationType },
  reason: string,
  at: number = Date.now(),
): Observation {
  const attributes: ObservationAttributes = { timestamp: isoTimestamp(at), reason }
  if (item.type !== 'Condition') attributes.quality = 'BAD'
  return { id: item.id, value: UNAVAILABLE, tag: item.tag, type: item.type, attributes }
}
