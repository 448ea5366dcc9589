/**
 * Scalars as text, both ways, shared by the JSON format (strings read into typed columns, numbers read into STRING
 * columns) and the DELIMITED format (every field is text). The forms follow ksqlDB, which runs on the JVM, so the
 * text of a number is the JVM's:
 *
 * - A JSON number read as STRING is written the way ksqlDB's JSON reader (Jackson with exact big decimals) prints
 *   it: an integer literal keeps its digits (`12` → `'12'`, `-0` → `'0'`); a literal with a fraction or an
 *   exponent is a `java.math.BigDecimal` of that literal, printed by `BigDecimal.toString()` (`12.5` → `'12.5'`,
 *   `20.0` → `'20.0'`, `12.50` → `'12.50'`, `1e3` → `'1E+3'`, `1.5e-7` → `'1.5E-7'`). See `bigDecimalText`.
 * - A DOUBLE is written the way `Double.toString` writes it (`20` → `20.0`, `1e7` → `1.0E7`, `1e-4` → `1.0E-4`),
 *   which is what ksqlDB's JSON writer and DELIMITED writer produce. See `javaDoubleText`.
 *
 * Parsers return `undefined` for text that is not of the type; the caller words the error.
 */

// ---------------------------------------------------------------------------------------------------------------
// Numbers as the JVM prints them

const INTEGER_LITERAL = /^-?\d+$/
const NUMBER_LITERAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/**
 * The text of a JSON number literal (or of a decimal string) as `BigDecimal.toString()` writes the value: the
 * unscaled digits and a scale (digits after the point, less the exponent); plain notation when the scale is not
 * negative and the adjusted exponent (the power of ten of the first digit) is −6 or more, otherwise one digit, the
 * rest after a point, and `E` with a signed exponent. Integer literals are kept as written (a JSON integer is read
 * as an integer, not as a decimal), except that `-0` is `0`.
 */
export function bigDecimalText(literal: string): string {
  if (INTEGER_LITERAL.test(literal)) return literal === '-0' ? '0' : literal
  const m = NUMBER_LITERAL.exec(literal)
  if (m === null) return literal
  const fraction = m[3] ?? ''
  let digits = ((m[2] ?? '') + fraction).replace(/^0+/, '')
  if (digits === '') digits = '0'
  const scale = fraction.length - (m[4] === undefined ? 0 : Number.parseInt(m[4], 10))
  const negative = m[1] === '-' && digits !== '0'
  const n = digits.length
  const adjusted = n - 1 - scale
  let text: string
  if (scale >= 0 && adjusted >= -6) {
    if (scale === 0) text = digits
    else if (n > scale) text = `${digits.slice(0, n - scale)}.${digits.slice(n - scale)}`
    else text = `0.${'0'.repeat(scale - n)}${digits}`
  } else {
    text = `${digits[0]}${n > 1 ? `.${digits.slice(1)}` : ''}E${adjusted >= 0 ? '+' : ''}${adjusted}`
  }
  return negative ? `-${text}` : text
}

/**
 * A double as `Double.toString` writes it: `NaN`, `Infinity`, `-Infinity`; plain with at least one fractional
 * digit from 10^-3 to 10^7 (`20.0`, `-0.5`, `-0.0`); otherwise computerized scientific notation (`1.0E7`,
 * `1.234E-5`). The digits are the shortest that read back to the same double, as JavaScript's (the JVM may pick
 * another second digit for the smallest subnormals: `4.9E-324` where we write `5.0E-324`; both read back the same).
 */
export function javaDoubleText(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0'
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'
  const a = Math.abs(v)
  if (a >= 1e-3 && a < 1e7) {
    const s = String(v)
    return s.includes('.') ? s : `${s}.0`
  }
  const e = v.toExponential()
  const at = e.indexOf('e')
  const mantissa = e.slice(0, at)
  const exponent = e.charCodeAt(at + 1) === 43 /* + */ ? e.slice(at + 2) : e.slice(at + 1)
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent}`
}

/** A DECIMAL(p, s) value in plain notation with exactly s fractional digits, as ksqlDB writes it. */
export function decimalText(v: number, scale: number): string {
  return Math.abs(v) < 1e21 ? v.toFixed(scale) : String(v)
}

// ---------------------------------------------------------------------------------------------------------------
// Parsers

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
/** 2^63: BIGINT is a 64-bit signed integer (carried as a number, exact up to 2^53 − 1). */
const INT64_LIMIT = 2 ** 63

/** INTEGER from text: an optional sign and decimal digits (Java's `Integer.parseInt`), within 32 bits. */
export function parseIntegerText(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined
  const n = Number(text)
  return n >= INT32_MIN && n <= INT32_MAX ? n : undefined
}

/** BIGINT from text: an optional sign and decimal digits (Java's `Long.parseLong`), within 64 bits. */
export function parseBigintText(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined
  if (text.length >= 19) {
    // near the limits a double cannot tell 2^63 − 1 from 2^63: compare exactly
    const b = BigInt(text)
    if (b < -9223372036854775808n || b > 9223372036854775807n) return undefined
  }
  return Number(text)
}

/** Whether a number is an INTEGER (after truncation toward zero, which the caller does). */
export function inInt32(n: number): boolean {
  return n >= INT32_MIN && n <= INT32_MAX
}

/** Whether a number is within BIGINT's 64 bits. */
export function inInt64(n: number): boolean {
  return n >= -INT64_LIMIT && n < INT64_LIMIT
}

const DOUBLE_TEXT = /^[+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?$/

/** DOUBLE from text as Java's `Double.parseDouble` reads it: surrounding blanks, `NaN`, `Infinity`, `1e3`, `2.5d`. */
export function parseDoubleText(text: string): number | undefined {
  const t = text.trim()
  if (!DOUBLE_TEXT.test(t)) return undefined
  const last = t.charCodeAt(t.length - 1)
  // f, F, d, D: a Java type suffix (but not the last letter of Infinity or NaN)
  const body = last === 102 || last === 70 || last === 100 || last === 68 ? t.slice(0, -1) : t
  return body.endsWith('NaN') ? Number.NaN : Number(body)
}

/**
 * DECIMAL(precision, scale) from the text of a number (a JSON number literal or a string), which must fit without
 * rounding: no more than `scale` fractional digits other than trailing zeros, no more than `precision - scale`
 * integer digits. The value is the double nearest to the decimal. Returns a string saying why when it does not
 * fit or is not a number.
 */
export function parseDecimalText(text: string, precision: number, scale: number): number | string {
  const m = NUMBER_LITERAL.exec(text)
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return 'is not a decimal number'
  const integral = m[2] ?? ''
  const fraction = m[3] ?? ''
  const exponent = m[4] === undefined ? 0 : Number.parseInt(m[4], 10)
  // Significant digits, and where the point falls in them after the exponent.
  const all = integral + fraction
  const lead = all.length - all.replace(/^0+/, '').length
  const significant = all.slice(lead).replace(/0+$/, '')
  if (significant === '') return 0
  const point = integral.length + exponent - lead // digits of `significant` before the point
  const fractional = Math.max(0, significant.length - point)
  const whole = Math.max(0, point)
  if (fractional > scale) return `needs rounding to fit DECIMAL(${precision}, ${scale})`
  if (whole > precision - scale) return `is too large for DECIMAL(${precision}, ${scale})`
  return Number(text)
}

// Calendar arithmetic on the proleptic Gregorian calendar, in days since 1970-01-01.
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

/** Days from 1970-01-01 to a valid y-m-d (m 1..12): whole 400-year eras, then years of the era from March. */
export function epochDay(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yearOfEra = yy - era * 400
  const dayOfYear = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146097 + dayOfEra - 719468
}

function validDate(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= (MONTH_DAYS[m - 1] as number) + (m === 2 && isLeap(y) ? 1 : 0)
}

const DATE_TEXT = /^([+-]?\d{4,6})-(\d{2})-(\d{2})$/
const TIME_TEXT = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/
const TIMESTAMP_TEXT =
  /^([+-]?\d{4,6})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/

/** Milliseconds of a fraction of a second written with 1 to 9 digits (truncated to the millisecond). */
function fractionMs(f: string | undefined): number {
  return f === undefined ? 0 : Number((f + '00').slice(0, 3))
}

function timeOfDayMs(h: number, mi: number, s: number, ms: number): number | undefined {
  return h <= 23 && mi <= 59 && s <= 59 ? ((h * 60 + mi) * 60 + s) * 1000 + ms : undefined
}

/** The milliseconds of a zone offset (`Z`, `+02:00`, `-0530`, `+01`), or undefined when malformed. */
function offsetMs(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === 'Z') return 0
  const sign = zone.charCodeAt(0) === 45 ? -1 : 1
  const digits = zone.slice(1).replace(':', '')
  const h = Number(digits.slice(0, 2))
  const mi = digits.length > 2 ? Number(digits.slice(2)) : 0
  return h <= 18 && mi <= 59 ? sign * (h * 60 + mi) * 60_000 : undefined
}

/**
 * TIMESTAMP (ms since the epoch) from text: decimal digits are milliseconds (as ksqlDB reads them); otherwise an
 * ISO-8601 date-time `yyyy-MM-dd[THH:mm[:ss[.fff]]][Z|±HH:mm]`, a space allowed for the `T`, UTC when no zone is
 * given.
 */
export function parseTimestampText(text: string): number | undefined {
  if (/^[+-]?\d+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : undefined
  }
  const m = TIMESTAMP_TEXT.exec(text)
  if (m === null) return undefined
  const y = Number(m[1])
  const mo = Number(m[2])
  const d = Number(m[3])
  if (!validDate(y, mo, d)) return undefined
  const tod = m[4] === undefined ? 0 : timeOfDayMs(Number(m[4]), Number(m[5]), Number(m[6] ?? 0), fractionMs(m[7]))
  const off = offsetMs(m[8])
  if (tod === undefined || off === undefined) return undefined
  return epochDay(y, mo, d) * 86_400_000 + tod - off
}

/** DATE (days since 1970-01-01) from text: decimal digits are days; otherwise `yyyy-MM-dd`. */
export function parseDateText(text: string): number | undefined {
  if (/^[+-]?\d+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : undefined
  }
  const m = DATE_TEXT.exec(text)
  if (m === null) return undefined
  const y = Number(m[1])
  const mo = Number(m[2])
  const d = Number(m[3])
  return validDate(y, mo, d) ? epochDay(y, mo, d) : undefined
}

/** TIME (ms since midnight) from text: decimal digits are milliseconds; otherwise `HH:mm[:ss[.fff]]`. */
export function parseTimeText(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text)
    return n < 86_400_000 ? n : undefined
  }
  const m = TIME_TEXT.exec(text)
  if (m === null) return undefined
  return timeOfDayMs(Number(m[1]), Number(m[2]), Number(m[3] ?? 0), fractionMs(m[4]))
}

const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/

/** BYTES from standard base64 (RFC 4648 §4; the final padding may be left out), as a new `Uint8Array`. */
export function parseBase64Text(text: string): Uint8Array | undefined {
  if (!BASE64_TEXT.test(text)) return undefined
  return new Uint8Array(Buffer.from(text, 'base64'))
}

/** Standard base64 of bytes, with padding. */
export function base64Text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}
