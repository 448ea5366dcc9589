/**
 * How an MQTT payload becomes one observation of one data item. MQTT payloads carry no format of their own; the
 * device file says how to read each item's (`payload`, `path`):
 *
 * - `raw`: the payload is UTF-8 text — the value itself (`21.5`, `RUNNING`).
 * - `json` (default): the payload is JSON (RFC 8259). `path` picks a field (`data.temperature`, `values[0]`);
 *   without it the whole document is the value. A value that is an object with a `value` field is read as
 *   `{timestamp?, value}`: `timestamp` an ISO-8601 time or milliseconds since the epoch, the source time.
 *
 * A Samples value must be a finite number (or text that is one); an Events value is text (numbers and booleans
 * written as JSON, objects and arrays as their JSON text). A payload that cannot be read so is not an error of the
 * connector: its item gets UNAVAILABLE, quality BAD, and an `OFA_MQTT_PAYLOAD` reason saying what is wrong.
 */
import { isoTimestamp, type Observation, UNAVAILABLE } from '@openfactory/model'
import type { MqttItem } from './mqtt-config.ts'

export const PAYLOAD_ERROR = 'OFA_MQTT_PAYLOAD'

const decoder = new TextDecoder('utf-8', { fatal: true })

function bad(item: MqttItem, now: number, why: string): Observation {
  return {
    id: item.id,
    tag: item.tag,
    type: item.category,
    value: UNAVAILABLE,
    attributes: {
      timestamp: isoTimestamp(now),
      quality: 'BAD',
      reason: `${PAYLOAD_ERROR}: ${why}`,
      ...(item.units ? { units: item.units } : {}),
    },
  }
}

function at(doc: unknown, path: readonly (string | number)[]): { found: boolean; value?: unknown } {
  let v: unknown = doc
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(v) || step >= v.length) return { found: false }
      v = v[step]
    } else {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step)) return { found: false }
      v = (v as Record<string, unknown>)[step]
    }
  }
  return { found: true, value: v }
}

/** A source time from `{timestamp}`: ISO-8601 text or epoch milliseconds; undefined when it is neither. */
function sourceTime(t: unknown): number | undefined {
  if (typeof t === 'number') return Number.isFinite(t) && t >= 0 && t < 8.64e15 ? t : undefined
  if (typeof t === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(t)) {
    const ms = Date.parse(t)
    return Number.isNaN(ms) ? undefined : ms
  }
  return undefined
}

/** Reads `payload` (received at `now`, ms) as `item` says; never throws. */
export function readPayload(item: MqttItem, payload: Uint8Array, now: number, maxBytes: number): Observation {
  if (payload.byteLength > maxBytes) {
    return bad(item, now, `payload of ${payload.byteLength} bytes is over max_payload_bytes (${maxBytes})`)
  }
  let text: string
  try {
    text = decoder.decode(payload)
  } catch {
    return bad(item, now, 'payload is not UTF-8 text')
  }
  let value: unknown = text
  let when = now
  if (item.payload === 'json') {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      return bad(item, now, `payload is not valid JSON (${(err as Error).message})`)
    }
    const found = at(doc, item.path)
    if (!found.found)
      return bad(item, now, `payload has no field ${item.path.join('.').replaceAll(/\.(\d+)/g, '[$1]')}`)
    value = found.value
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, 'value')) {
      const o = value as { value: unknown; timestamp?: unknown }
      if (o.timestamp !== undefined) {
        const t = sourceTime(o.timestamp)
        if (t === undefined) return bad(item, now, `timestamp ${JSON.stringify(o.timestamp)} is not a time`)
        when = t
      }
      value = o.value
    }
  }
  let out: number | string
  if (item.category === 'Samples') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
    if (!Number.isFinite(n)) return bad(item, now, `${JSON.stringify(value)?.slice(0, 64)} is not a number`)
    out = n
  } else if (typeof value === 'string') {
    out = value
  } else if (value === null) {
    return bad(item, now, 'value is null')
  } else {
    out = JSON.stringify(value)
  }
  return {
    id: item.id,
    tag: item.tag,
    type: item.category,
    value: out,
    attributes: {
      timestamp: isoTimestamp(when),
      ingestion_timestamp: isoTimestamp(now),
      ...(item.units ? { units: item.units } : {}),
    },
  }
}

/** Splits a field path (`data.values[0]` → ['data', 'values', 0]); the schema checked its syntax. */
export function splitPath(path: string | undefined): (string | number)[] {
  if (path === undefined) return []
  const out: (string | number)[] = []
  for (const part of path.split('.')) {
    const m = /^([^[]+)((?:\[\d+\])*)$/.exec(part)
    if (!m) continue
    out.push(m[1] as string)
    for (const idx of (m[2] as string).matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]))
  }
  return out
}
