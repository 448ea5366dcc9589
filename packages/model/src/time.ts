/**
 * Time, the one module for it: the ISO-8601 form we write (`YYYY-MM-DDTHH:mm:ss.sssZ`, UTC, milliseconds), the
 * forms we accept (ISO-8601 or epoch milliseconds), and the allocation-free fast paths the hot paths use.
 */

/** ISO-8601 UTC with milliseconds and `Z`, the only timestamp form we write. */
export function isoTimestamp(ms: number = Date.now()): string {
  return isoFromMs(ms)
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** Epoch ms from `1714826096789` or `2024-05-04T12:34:56.789Z`; undefined when it is neither. */
export function parseTime(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : undefined
  }
  if (!ISO.test(text)) return undefined
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : undefined
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function digits(s: string, from: number, n: number): number {
  let v = 0
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

/**
 * Compact form of a wire timestamp: the epoch ms when the text is exactly the canonical
 * `YYYY-MM-DDTHH:mm:ss.sssZ` (so that `toISOString()` gives it back), else the text itself. Allocation-free:
 * it runs for every observation.
 */
export function compactTimestamp(text: string): number | string {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  ) {
    return text
  }
  const y = digits(text, 0, 4)
  const mo = digits(text, 5, 2)
  const d = digits(text, 8, 2)
  const h = digits(text, 11, 2)
  const mi = digits(text, 14, 2)
  const sec = digits(text, 17, 2)
  const ms = digits(text, 20, 3)
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) {
    return text
  }
  const leap = mo === 2 && ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0)
  if (d > (DAYS[mo - 1] as number) + (leap ? 1 : 0)) return text
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms)
}

const DAY_MS = 86_400_000
let cachedDay = Number.NaN
let cachedDayPrefix = ''
/**
 * The last two milliseconds formatted, the one asked last first: ingestion timestamps of a busy connector share
 * one, asked in turn with each message's own time (bench/mqtt-ingest.ts).
 */
let cachedMs = Number.NaN
let cachedIso = ''
let olderMs = Number.NaN
let olderIso = ''

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/**
 * `new Date(ms).toISOString()` for epoch ms of 1970 onwards, without allocating a Date: the date part of the
 * last day seen is kept (observations mostly share a day), and so are the last two answers (many share a millisecond).
 */
export function isoFromMs(ms: number): string {
  if (ms === cachedMs) return cachedIso
  if (ms === olderMs) {
    const iso = olderIso
    olderMs = cachedMs
    olderIso = cachedIso
    cachedMs = ms
    cachedIso = iso
    return iso
  }
  const day = Math.floor(ms / DAY_MS)
  if (day !== cachedDay) {
    if (!(ms >= 0 && ms < 253402300800000)) return new Date(ms).toISOString()
    cachedDay = day
    cachedDayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11)
  }
  let rest = ms - day * DAY_MS
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const m = Math.floor(rest / 60_000)
  rest -= m * 60_000
  const s = Math.floor(rest / 1000)
  const milli = rest - s * 1000
  olderMs = cachedMs
  olderIso = cachedIso
  cachedIso = `${cachedDayPrefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : milli}Z`
  cachedMs = ms
  return cachedIso
}

export function expandTimestamp(t: number | string): string {
  return typeof t === 'number' ? isoFromMs(t) : t
}
