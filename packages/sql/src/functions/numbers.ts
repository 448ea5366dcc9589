/**
 * Decimal rounding of JavaScript numbers, done on their shortest decimal text so that `1.005` rounds to `1.01` at
 * two places as a decimal would (multiplying by 100 first would give 100.49999999999999).
 */

/** `x × 10^n`, computed on the decimal text of `x` (exact for that text, then read back as the nearest double). */
export function shiftDecimal(x: number, n: number): number {
  const s = String(x)
  const e = s.indexOf('e')
  return e < 0 ? Number(`${s}e${n}`) : Number(`${s.slice(0, e)}e${Number(s.slice(e + 1)) + n}`)
}

/** Rounds to `scale` decimals, a half toward positive infinity (ksqlDB's ROUND: 2.5 → 3, -2.5 → -2). */
export function roundHalfCeiling(x: number, scale: number): number {
  if (!Number.isFinite(x)) return x
  if (scale === 0) return Math.round(x) || 0
  return shiftDecimal(Math.round(shiftDecimal(x, scale)), -scale) || 0
}

/** Rounds to `scale` decimals, a half away from zero (Java's `RoundingMode.HALF_UP`, as CAST to DECIMAL does). */
export function roundHalfUp(x: number, scale: number): number {
  if (!Number.isFinite(x)) return x
  const r = shiftDecimal(Math.round(shiftDecimal(Math.abs(x), scale)), -scale)
  return r === 0 ? 0 : x < 0 ? -r : r
}

/** Truncates to `scale` decimals (toward zero). */
export function truncateTo(x: number, scale: number): number {
  if (!Number.isFinite(x)) return x
  if (scale === 0) return Math.trunc(x) || 0
  const r = shiftDecimal(Math.floor(shiftDecimal(Math.abs(x), scale)), -scale)
  return r === 0 ? 0 : x < 0 ? -r : r
}

const INT32_MAX = 2147483647
const INT32_MIN = -2147483648
/** 2^63, BIGINT's bound (as a double). */
const INT64_LIMIT = 2 ** 63

/** A double to INTEGER as Java's `(int)` does: toward zero, saturated at the bounds, NaN to 0. */
export function doubleToInt(x: number): number {
  if (Number.isNaN(x)) return 0
  if (x >= INT32_MAX) return INT32_MAX
  if (x <= INT32_MIN) return INT32_MIN
  return Math.trunc(x) || 0
}

/** A double to BIGINT as Java's `(long)` does: toward zero, saturated at ±2^63, NaN to 0. */
export function doubleToLong(x: number): number {
  if (Number.isNaN(x)) return 0
  if (x >= INT64_LIMIT) return INT64_LIMIT - 1024
  if (x <= -INT64_LIMIT) return -INT64_LIMIT
  return Math.trunc(x) || 0
}

/** The largest magnitude a DECIMAL(precision, scale) holds is below this. */
export function decimalLimit(precision: number, scale: number): number {
  return 10 ** (precision - scale)
}
