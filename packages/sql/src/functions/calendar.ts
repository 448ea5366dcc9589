/**
 * Calendar arithmetic on the proleptic Gregorian calendar (what java.time uses), in days since 1970-01-01, and the
 * ISO-8601 texts ksqlDB writes for TIMESTAMP, DATE and TIME values.
 */
import { epochDay } from '../serde/scalar-text.ts'

export { epochDay }

export const DAY_MS = 86_400_000

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

export function monthLength(y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : (MONTH_DAYS[m - 1] as number)
}

/** The year, month (1-12) and day (1-31) of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
export function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

/** ISO day of week of a day count: 1 Monday ... 7 Sunday (1970-01-01 was a Thursday). */
export function isoDayOfWeek(days: number): number {
  return ((((days + 3) % 7) + 7) % 7) + 1
}

export function pad(n: number, width: number): string {
  const s = String(n)
  return s.length >= width ? s : '0'.repeat(width - s.length) + s
}

/** A year as ISO-8601 writes it: four digits at least, a sign beyond 9999 or before year 0. */
export function isoYear(y: number): string {
  if (y < 0) return `-${pad(-y, 4)}`
  return y > 9999 ? `+${y}` : pad(y, 4)
}

/** `yyyy-MM-dd` of a DATE (days since 1970-01-01). */
export function dateText(days: number): string {
  const [y, m, d] = civilFromDays(days)
  return `${isoYear(y)}-${pad(m, 2)}-${pad(d, 2)}`
}

/**
 * A TIME (ms since midnight) as `java.time.LocalTime.toString()` writes it: `HH:mm`, then `:ss` when seconds or
 * milliseconds are not zero, then `.SSS` when milliseconds are not zero.
 */
export function timeText(ms: number): string {
  const h = Math.floor(ms / 3_600_000)
  const mi = Math.floor(ms / 60_000) % 60
  const s = Math.floor(ms / 1000) % 60
  const f = ms % 1000
  let out = `${pad(h, 2)}:${pad(mi, 2)}`
  if (s !== 0 || f !== 0) out += `:${pad(s, 2)}`
  if (f !== 0) out += `.${pad(f, 3)}`
  return out
}

/** A TIMESTAMP (ms since the epoch) as ksqlDB writes it: `yyyy-MM-dd'T'HH:mm:ss.SSS`, in UTC, no zone. */
export function timestampText(ms: number): string {
  const days = Math.floor(ms / DAY_MS)
  const t = ms - days * DAY_MS
  const h = Math.floor(t / 3_600_000)
  const mi = Math.floor(t / 60_000) % 60
  const s = Math.floor(t / 1000) % 60
  return `${dateText(days)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(t % 1000, 3)}`
}
