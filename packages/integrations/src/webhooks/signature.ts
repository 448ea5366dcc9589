/**
 * The signature of a webhook delivery: HMAC-SHA256, keyed with the webhook's secret, over the text
 * `<timestamp>.<body>` — the `X-OpenFactory-Timestamp` header's value (Unix seconds), a full stop, and the request
 * body's bytes exactly as sent. Sent as `X-OpenFactory-Signature: sha256=<64 lowercase hex digits>`.
 *
 * A receiver recomputes the HMAC over the timestamp header and the raw body it received, compares it with the
 * header in constant time, and refuses a timestamp too far from its clock (5 minutes here): signing the timestamp
 * makes an old delivery replayed later fail the check. `X-OpenFactory-Delivery` (stable across retries) is what it
 * deduplicates on. `verifySignature` is such a receiver's check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-openfactory-signature'
export const TIMESTAMP_HEADER = 'x-openfactory-timestamp'
export const DELIVERY_HEADER = 'x-openfactory-delivery'
/** How far a receiver's clock and the delivery's timestamp may differ (`verifySignature`'s default). */
export const DEFAULT_TOLERANCE_S = 300

/** `sha256=<hex>` of `<timestamp>.<body>`. */
export function signBody(secret: string | Buffer, timestampS: number, body: string | Buffer): string {
  const h = createHmac('sha256', secret)
  h.update(`${timestampS}.`)
  h.update(body)
  return `sha256=${h.digest('hex')}`
}

export interface VerifyOptions {
  readonly secret: string | Buffer
  /** The raw body as received. */
  readonly body: string | Buffer
  readonly signature: string | undefined
  readonly timestamp: string | undefined
  /** Now, in Unix seconds (default: the clock). */
  readonly nowS?: number
  readonly toleranceS?: number
}

/** Whether a delivery is ours: its signature checks and its timestamp is recent. */
export function verifySignature(opts: VerifyOptions): boolean {
  const { signature, timestamp } = opts
  if (signature === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false
  const ts = Number(timestamp)
  const now = opts.nowS ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - ts) > (opts.toleranceS ?? DEFAULT_TOLERANCE_S)) return false
  const expected = Buffer.from(signBody(opts.secret, ts, opts.body))
  const got = Buffer.from(signature)
  return got.length === expected.length && timingSafeEqual(got, expected)
}
