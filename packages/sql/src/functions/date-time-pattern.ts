/**
 * Date-time patterns as Java's `java.time.format.DateTimeFormatter.ofPattern` reads them (English names, the SMART
 * resolver), which is what ksqlDB's PARSE_TIMESTAMP, FORMAT_TIMESTAMP, PARSE_DATE, FORMAT_DATE... take.
 *
 * Letters (a run of one letter is one field; its length chooses the form):
 *
 * | letter        | field                              | forms                                                    |
 * | ------------- | ---------------------------------- | -------------------------------------------------------- |
 * | `G`           | era                                | `AD`; `GGGG` `Anno Domini`; `GGGGG` `A`                  |
 * | `u`, `y`      | year (`y`: of the era)             | `yy` two digits (parsed as 2000-2099); else padded to the count |
 * | `M`, `L`      | month                              | `M` `7`, `MM` `07`, `MMM` `Jul`, `MMMM` `July`, `MMMMM` `J` |
 * | `d`, `D`      | day of month, day of year          | padded to the count                                      |
 * | `Q`, `q`      | quarter                            | `Q` `3`, `QQ` `03`, `QQQ` `Q3`, `QQQQ` `3rd quarter`     |
 * | `E`           | day of week                        | `E`-`EEE` `Tue`, `EEEE` `Tuesday`, `EEEEE` `T`           |
 * | `a`           | AM/PM                              | `PM`                                                     |
 * | `H`, `k`      | hour of day 0-23, 1-24             | padded to the count                                      |
 * | `h`, `K`      | hour of AM/PM 1-12, 0-11           | padded to the count                                      |
 * | `m`, `s`      | minute, second                     | padded to the count                                      |
 * | `S`           | fraction of the second             | as many digits as letters (`SSS` milliseconds)           |
 * | `A`, `n`, `N` | ms of day, ns of second, ns of day | padded to the count                                      |
 * | `VV`          | zone ID                            | `Europe/Paris`                                           |
 * | `z`           | zone name                          | `z`-`zzz` `CEST`, `zzzz` `Central European Summer Time`  |
 * | `O`           | localized offset                   | `O` `GMT+2`, `OOOO` `GMT+02:00`                          |
 * | `X`, `x`, `Z` | offset                             | `X` `+02`/`Z`, `XX` `+0200`, `XXX` `+02:00`, `x`... never `Z`; `Z` `+0200`, `ZZZZ` `GMT+02:00`, `ZZZZZ` `+02:00` |
 *
 * Text between single quotes is literal (`''` is a quote); `[...]` is optional (formatted when its fields exist,
 * parsed when it matches); other non-letters are literal. Week-based fields (`Y`, `w`, `W`, `e`, `c`, `F`) are not
 * supported: a pattern using them is an `OFA_SQL_VALUE` error, as are unknown letters.
 *
 * Parsing reads the whole text: numbers of a field written with one letter take as many digits as there are (leaving
 * to the next fields the digits they need, as `yyyyMMdd` does); with more letters, exactly that many; names match
 * without regard to case. Missing fields default to 1970-01-01T00:00:00.000; a day past the month's end is moved to
 * its last day (the SMART resolver: 2021-06-31 is 2021-06-30); a zone or offset in the text wins over the zone
 * argument. A text that does not match is an `OFA_SQL_VALUE` error.
 */
import { OpenFactoryError } from '@openfactory/model'
import { civilFromDays, DAY_MS, epochDay, isLeapYear, isoDayOfWeek, monthLength, pad } from './calendar.ts'
import { localToEpoch, type Zone, zoneOf, zoneOfName } from './time-zones.ts'

interface LiteralToken {
  readonly kind: 'literal'
  readonly text: string
}
interface FieldToken {
  readonly kind: 'field'
  readonly letter: string
  readonly count: number
}
interface OptionalToken {
  readonly kind: 'optional'
  readonly tokens: readonly Token[]
}
type Token = LiteralToken | FieldToken | OptionalToken

export interface DateTimePattern {
  readonly text: string
  readonly tokens: readonly Token[]
}

const DATE_LETTERS = 'GuyMLdDQqE'
const TIME_LETTERS = 'ahKkHmsSAnN'
const ZONE_LETTERS = 'VzOXxZ'
const UNSUPPORTED_LETTERS = 'YwWecFgBv'
const MAX_COUNT: Readonly<Record<string, number>> = {
  G: 5,
  u: 19,
  y: 19,
  M: 5,
  L: 5,
  d: 2,
  D: 3,
  Q: 5,
  q: 5,
  E: 5,
  a: 1,
  h: 2,
  K: 2,
  k: 2,
  H: 2,
  m: 2,
  s: 2,
  S: 9,
  A: 19,
  n: 19,
  N: 19,
  V: 2,
  z: 4,
  O: 4,
  X: 5,
  x: 5,
  Z: 5,
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
]
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
const QUARTERS = ['1st quarter', '2nd quarter', '3rd quarter', '4th quarter']

function patternError(pattern: string, why: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', `date-time pattern '${pattern}': ${why}`)
}

function isLetter(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

function compileTokens(text: string): Token[] {
  const stack: Token[][] = [[]]
  const push = (t: Token): void => {
    const top = stack[stack.length - 1] as Token[]
    const last = top[top.length - 1]
    if (t.kind === 'literal' && last?.kind === 'literal')
      top[top.length - 1] = { kind: 'literal', text: last.text + t.text }
    else top.push(t)
  }
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (c === "'") {
      if (text[i + 1] === "'") {
        push({ kind: 'literal', text: "'" })
        i += 2
        continue
      }
      let j = i + 1
      let lit = ''
      for (;;) {
        if (j >= text.length) throw patternError(text, 'a quote is not closed')
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            lit += "'"
            j += 2
            continue
          }
          break
        }
        lit += text[j]
        j++
      }
      if (lit !== '') push({ kind: 'literal', text: lit })
      i = j + 1
    } else if (c === '[') {
      stack.push([])
      i++
    } else if (c === ']') {
      if (stack.length === 1) throw patternError(text, "a ']' without its '['")
      const inner = stack.pop() as Token[]
      ;(stack[stack.length - 1] as Token[]).push({ kind: 'optional', tokens: inner })
      i++
    } else if (isLetter(c)) {
      let j = i
      while (text[j] === c) j++
      const count = j - i
      if (UNSUPPORTED_LETTERS.includes(c))
        throw patternError(text, `pattern letter ${c} (week-based or localized) is not supported`)
      const max = MAX_COUNT[c]
      if (max === undefined) throw patternError(text, `unknown pattern letter ${c}`)
      if (count > max || (c === 'V' && count !== 2) || (c === 'O' && count !== 1 && count !== 4)) {
        throw patternError(text, `too many (or too few) pattern letters ${c}`)
      }
      push({ kind: 'field', letter: c, count })
      i = j
    } else if (c === '{' || c === '}' || c === '#') {
      throw patternError(text, `${c} is reserved`)
    } else {
      push({ kind: 'literal', text: c })
      i++
    }
  }
  if (stack.length > 1) throw patternError(text, "a '[' is not closed")
  return stack[0] as Token[]
}

const patterns = new Map<string, DateTimePattern>()

/** The compiled pattern (cached). Throws OFA_SQL_VALUE for a pattern that is not valid. */
export function compilePattern(text: string): DateTimePattern {
  let p = patterns.get(text)
  if (p === undefined) {
    p = Object.freeze({ text, tokens: compileTokens(text) })
    if (patterns.size >= 256) patterns.clear()
    patterns.set(text, p)
  }
  return p
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** The fields a value has: a TIMESTAMP all, a DATE the date ones, a TIME the time ones. */
interface Fields {
  readonly date: boolean
  readonly time: boolean
  readonly zone: Zone | undefined
  readonly epochMs: number
  readonly offset: number
  readonly year: number
  readonly month: number
  readonly day: number
  readonly dayOfYear: number
  readonly dayOfWeek: number
  readonly msOfDay: number
}

function fieldsOf(days: number | undefined, msOfDay: number | undefined, zone?: Zone, epochMs = 0, offset = 0): Fields {
  const [year, month, day] = days === undefined ? [1970, 1, 1] : civilFromDays(days)
  return {
    date: days !== undefined,
    time: msOfDay !== undefined,
    zone,
    epochMs,
    offset,
    year,
    month,
    day,
    dayOfYear: days === undefined ? 1 : days - epochDay(year, 1, 1) + 1,
    dayOfWeek: days === undefined ? 4 : isoDayOfWeek(days),
    msOfDay: msOfDay ?? 0,
  }
}

function hasFields(tokens: readonly Token[], f: Fields): boolean {
  for (const t of tokens) {
    if (t.kind !== 'field') continue
    if (DATE_LETTERS.includes(t.letter) && !f.date) return false
    if (TIME_LETTERS.includes(t.letter) && !f.time) return false
    if (ZONE_LETTERS.includes(t.letter) && f.zone === undefined) return false
  }
  return true
}

function offsetForm(ms: number, withColon: boolean, minutes: 'always' | 'nonzero', seconds: boolean): string {
  const sign = ms < 0 ? '-' : '+'
  const total = Math.round(Math.abs(ms) / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor(total / 60) % 60
  const s = total % 60
  let out = sign + pad(h, 2)
  if (minutes === 'always' || m !== 0 || (seconds && s !== 0)) out += (withColon ? ':' : '') + pad(m, 2)
  if (seconds && s !== 0) out += (withColon ? ':' : '') + pad(s, 2)
  return out
}

function gmtForm(ms: number, long: boolean): string {
  if (ms === 0) return 'GMT'
  if (long) return `GMT${offsetForm(ms, true, 'always', true)}`
  const sign = ms < 0 ? '-' : '+'
  const total = Math.round(Math.abs(ms) / 60_000)
  const m = total % 60
  return `GMT${sign}${Math.floor(total / 60)}${m !== 0 ? `:${pad(m, 2)}` : ''}`
}

function formatField(letter: string, count: number, f: Fields, pattern: string): string {
  const h = Math.floor(f.msOfDay / 3_600_000)
  switch (letter) {
    case 'G':
      if (count === 4) return f.year > 0 ? 'Anno Domini' : 'Before Christ'
      if (count === 5) return f.year > 0 ? 'A' : 'B'
      return f.year > 0 ? 'AD' : 'BC'
    case 'u':
    case 'y': {
      const y = letter === 'y' && f.year <= 0 ? 1 - f.year : f.year
      if (count === 2) return pad(((y % 100) + 100) % 100, 2)
      const text = pad(Math.abs(y), count)
      if (y < 0) return `-${text}`
      return count >= 4 && text.length > count ? `+${text}` : text
    }
    case 'M':
    case 'L':
      if (count <= 2) return pad(f.month, count)
      if (count === 3) return (MONTHS[f.month - 1] as string).slice(0, 3)
      return count === 4 ? (MONTHS[f.month - 1] as string) : (MONTHS[f.month - 1] as string).charAt(0)
    case 'd':
      return pad(f.day, count)
    case 'D':
      return pad(f.dayOfYear, count)
    case 'Q':
    case 'q': {
      const q = Math.ceil(f.month / 3)
      if (count <= 2) return pad(q, count)
      if (count === 3) return `Q${q}`
      return count === 4 ? (QUARTERS[q - 1] as string) : String(q)
    }
    case 'E': {
      const name = DAYS[f.dayOfWeek - 1] as string
      return count <= 3 ? name.slice(0, 3) : count === 4 ? name : name.charAt(0)
    }
    case 'a':
      return h < 12 ? 'AM' : 'PM'
    case 'H':
      return pad(h, count)
    case 'k':
      return pad(h === 0 ? 24 : h, count)
    case 'K':
      return pad(h % 12, count)
    case 'h':
      return pad(h % 12 === 0 ? 12 : h % 12, count)
    case 'm':
      return pad(Math.floor(f.msOfDay / 60_000) % 60, count)
    case 's':
      return pad(Math.floor(f.msOfDay / 1000) % 60, count)
    case 'S':
      return `${pad(f.msOfDay % 1000, 3)}000000`.slice(0, count)
    case 'A':
      return pad(f.msOfDay, count)
    case 'n':
      return pad((f.msOfDay % 1000) * 1_000_000, count)
    case 'N':
      return pad(f.msOfDay * 1_000_000, count)
    case 'V':
      return (f.zone as Zone).id
    case 'z':
      return count === 4 ? (f.zone as Zone).longName(f.epochMs) : (f.zone as Zone).shortName(f.epochMs)
    case 'O':
      return gmtForm(f.offset, count === 4)
    case 'X':
    case 'x': {
      if (letter === 'X' && f.offset === 0) return 'Z'
      if (count === 1) return offsetForm(f.offset, false, 'nonzero', false)
      return offsetForm(f.offset, count === 3 || count === 5, 'always', count >= 4)
    }
    case 'Z':
      if (count <= 3) return offsetForm(f.offset, false, 'always', false)
      if (count === 4) return gmtForm(f.offset, true)
      return f.offset === 0 ? 'Z' : offsetForm(f.offset, true, 'always', true)
  }
  throw patternError(pattern, `pattern letter ${letter}`)
}

function formatTokens(tokens: readonly Token[], f: Fields, pattern: string): string {
  let out = ''
  for (const t of tokens) {
    if (t.kind === 'literal') out += t.text
    else if (t.kind === 'optional') {
      if (hasFields(t.tokens, f)) out += formatTokens(t.tokens, f, pattern)
    } else {
      if (DATE_LETTERS.includes(t.letter) && !f.date) throw patternError(pattern, `${t.letter} needs a date`)
      if (TIME_LETTERS.includes(t.letter) && !f.time) throw patternError(pattern, `${t.letter} needs a time of day`)
      if (ZONE_LETTERS.includes(t.letter) && f.zone === undefined) {
        throw patternError(pattern, `${t.letter} needs a time zone`)
      }
      out += formatField(t.letter, t.count, f, pattern)
    }
  }
  return out
}

/** An instant (ms since the epoch) in a zone, as the pattern writes it. */
export function formatTimestamp(p: DateTimePattern, epochMs: number, zone: Zone): string {
  const offset = zone.offsetAt(epochMs)
  const local = epochMs + offset
  const days = Math.floor(local / DAY_MS)
  return formatTokens(p.tokens, fieldsOf(days, local - days * DAY_MS, zone, epochMs, offset), p.text)
}

/** A DATE (days since 1970-01-01) as the pattern writes it; time and zone letters are errors. */
export function formatDate(p: DateTimePattern, days: number): string {
  return formatTokens(p.tokens, fieldsOf(days, undefined), p.text)
}

/** A TIME (ms since midnight) as the pattern writes it; date and zone letters are errors. */
export function formatTime(p: DateTimePattern, msOfDay: number): string {
  return formatTokens(p.tokens, fieldsOf(undefined, msOfDay), p.text)
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

interface Parsed {
  year?: number
  yearOfEra?: number
  bc?: boolean
  month?: number
  day?: number
  dayOfYear?: number
  dayOfWeek?: number
  hour?: number
  clockHour?: number
  hourOfAmPm?: number
  clockHourOfAmPm?: number
  pm?: boolean
  minute?: number
  second?: number
  ms?: number
  msOfDay?: number
  offset?: number
  zone?: Zone
}

/** Where and why a text did not match (parseTokens returns -1 and fills it in). */
interface Failure {
  at: number
  why: string
}

function failed(fail: Failure, at: number, why: string): number {
  fail.at = at
  fail.why = why
  return -1
}

/** Digits a numeric field takes: [fewest, most]. */
function widths(letter: string, count: number): [number, number] | undefined {
  switch (letter) {
    case 'u':
    case 'y':
      return count === 2 ? [2, 2] : [count, Math.max(count, 10)]
    case 'M':
    case 'L':
    case 'Q':
    case 'q':
      return count > 2 ? undefined : count === 1 ? [1, 2] : [2, 2]
    case 'd':
    case 'H':
    case 'h':
    case 'K':
    case 'k':
    case 'm':
    case 's':
      return count === 1 ? [1, 2] : [2, 2]
    case 'D':
      return [count, 3]
    case 'S':
      return [count, count]
    case 'A':
    case 'n':
    case 'N':
      return [count, 19]
    default:
      return undefined
  }
}

function digitRun(text: string, pos: number): number {
  let j = pos
  while (j < text.length) {
    const c = text.charCodeAt(j)
    if (c < 48 || c > 57) break
    j++
  }
  return j - pos
}

/** Matches one of `names` at `pos` without regard to case (the longest); its index and length, or undefined. */
function matchName(text: string, pos: number, names: readonly string[]): [number, number] | undefined {
  let best: [number, number] | undefined
  const rest = text.slice(pos, pos + 20).toLowerCase()
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string
    if (rest.startsWith(name.toLowerCase()) && (best === undefined || name.length > best[1])) best = [i, name.length]
  }
  return best
}

const OFFSET_TEXT = /^(?:Z|(?:GMT|UTC|UT)?(?:([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)?)/

function setNumber(p: Parsed, letter: string, count: number, v: number, digits: number): void {
  switch (letter) {
    case 'u':
      p.year = count === 2 ? 2000 + v : v
      break
    case 'y':
      p.yearOfEra = count === 2 ? 2000 + v : v
      break
    case 'M':
    case 'L':
      p.month = v
      break
    case 'Q':
    case 'q':
      break
    case 'd':
      p.day = v
      break
    case 'D':
      p.dayOfYear = v
      break
    case 'H':
      p.hour = v
      break
    case 'k':
      p.clockHour = v
      break
    case 'K':
      p.hourOfAmPm = v
      break
    case 'h':
      p.clockHourOfAmPm = v
      break
    case 'm':
      p.minute = v
      break
    case 's':
      p.second = v
      break
    case 'S':
      p.ms = Math.floor(v / 10 ** (digits - 3))
      break
    case 'A':
      p.msOfDay = v
      break
    case 'n':
      p.ms = Math.floor(v / 1_000_000)
      break
    case 'N':
      p.msOfDay = Math.floor(v / 1_000_000)
      break
  }
}

/** Digits the fixed-width numeric fields right after token `i` need (adjacent value parsing). */
function reservedAfter(tokens: readonly Token[], i: number): number {
  let n = 0
  for (let j = i + 1; j < tokens.length; j++) {
    const t = tokens[j] as Token
    if (t.kind !== 'field') break
    const w = widths(t.letter, t.count)
    if (w === undefined || w[0] !== w[1]) break
    n += w[0]
  }
  return n
}

/** Reads `tokens` from `start`: the position after them, or -1 (with `fail` filled in). Throws nothing. */
function parseTokens(tokens: readonly Token[], text: string, start: number, p: Parsed, fail: Failure): number {
  let pos = start
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token
    if (t.kind === 'literal') {
      if (!text.startsWith(t.text, pos)) return failed(fail, pos, `'${t.text}' expected`)
      pos += t.text.length
      continue
    }
    if (t.kind === 'optional') {
      const saved = { ...p }
      const end = parseTokens(t.tokens, text, pos, p, fail)
      if (end >= 0) pos = end
      else {
        for (const k of Object.keys(p)) delete (p as Record<string, unknown>)[k]
        Object.assign(p, saved)
      }
      continue
    }
    const { letter, count } = t
    const w = widths(letter, count)
    if (w !== undefined) {
      const run = digitRun(text, pos)
      const take = Math.min(w[1], w[0] === w[1] ? w[0] : Math.max(w[0], run - reservedAfter(tokens, i)))
      if (run < w[0] || take > run) return failed(fail, pos, `${w[0]} digit${w[0] > 1 ? 's' : ''} expected`)
      setNumber(p, letter, count, Number(text.slice(pos, pos + take)), take)
      pos += take
      continue
    }
    switch (letter) {
      case 'G': {
        const m = matchName(text, pos, count === 4 ? ['Anno Domini', 'Before Christ'] : ['AD', 'BC'])
        if (m === undefined) return failed(fail, pos, 'an era expected')
        p.bc = m[0] === 1
        pos += m[1]
        break
      }
      case 'M':
      case 'L':
      case 'Q':
      case 'q': {
        const names =
          letter === 'M' || letter === 'L'
            ? count === 3
              ? MONTHS.map((x) => x.slice(0, 3))
              : MONTHS
            : count === 3
              ? ['Q1', 'Q2', 'Q3', 'Q4']
              : QUARTERS
        const m = matchName(text, pos, names)
        if (m === undefined)
          return failed(fail, pos, letter === 'M' || letter === 'L' ? 'a month expected' : 'a quarter expected')
        if (letter === 'M' || letter === 'L') p.month = m[0] + 1
        pos += m[1]
        break
      }
      case 'E': {
        const m = matchName(text, pos, count === 4 ? DAYS : DAYS.map((x) => x.slice(0, 3)))
        if (m === undefined) return failed(fail, pos, 'a day of week expected')
        p.dayOfWeek = m[0] + 1
        pos += m[1]
        break
      }
      case 'a': {
        const m = matchName(text, pos, ['AM', 'PM'])
        if (m === undefined) return failed(fail, pos, 'AM or PM expected')
        p.pm = m[0] === 1
        pos += m[1]
        break
      }
      case 'V':
      case 'z': {
        const m = (letter === 'V' ? /^[A-Za-z0-9_/+\-:]+/ : /^[A-Za-z][A-Za-z0-9_/+\-:]*/).exec(text.slice(pos))
        const zone = m ? zoneOfName(m[0]) : undefined
        if (m === null || zone === undefined) return failed(fail, pos, 'a time zone expected')
        p.zone = zone
        pos += m[0].length
        break
      }
      default: {
        // O, X, x, Z: an offset in any of its forms.
        const m = OFFSET_TEXT.exec(text.slice(pos))
        if (m === null || m[0] === '') return failed(fail, pos, 'an offset expected')
        const h = Number(m[2] ?? 0)
        const mi = Number(m[3] ?? 0)
        const s = Number(m[4] ?? 0)
        if (h > 18 || mi > 59 || s > 59) return failed(fail, pos, 'an offset out of range')
        const ms = ((h * 60 + mi) * 60 + s) * 1000
        p.offset = m[1] === '-' ? -ms : ms
        pos += m[0].length
      }
    }
  }
  return pos
}

function parseFields(pattern: DateTimePattern, text: string): Parsed {
  const p: Parsed = {}
  const fail: Failure = { at: 0, why: '' }
  let end = parseTokens(pattern.tokens, text, 0, p, fail)
  if (end >= 0 && end !== text.length) end = failed(fail, end, 'unexpected text')
  if (end < 0) {
    throw new OpenFactoryError(
      'OFA_SQL_VALUE',
      `text '${text}' does not match the date-time pattern '${pattern.text}' at position ${fail.at + 1}: ${fail.why}`,
    )
  }
  return p
}

function resolveError(pattern: DateTimePattern, text: string, why: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', `text '${text}' (date-time pattern '${pattern.text}'): ${why}`)
}

function resolveDays(p: Parsed, pattern: DateTimePattern, text: string): number {
  const year = p.year ?? (p.yearOfEra !== undefined ? (p.bc ? 1 - p.yearOfEra : p.yearOfEra) : 1970)
  let days: number
  if (p.month === undefined && p.day === undefined && p.dayOfYear !== undefined) {
    const length = isLeapYear(year) ? 366 : 365
    if (p.dayOfYear < 1 || p.dayOfYear > length)
      throw resolveError(pattern, text, `day of year ${p.dayOfYear} out of range`)
    days = epochDay(year, 1, 1) + p.dayOfYear - 1
  } else {
    const month = p.month ?? 1
    const day = p.day ?? 1
    if (month < 1 || month > 12) throw resolveError(pattern, text, `month ${month} out of range`)
    if (day < 1 || day > 31) throw resolveError(pattern, text, `day ${day} out of range`)
    days = epochDay(year, month, Math.min(day, monthLength(year, month)))
  }
  if (p.dayOfWeek !== undefined && p.dayOfWeek !== isoDayOfWeek(days)) {
    throw resolveError(pattern, text, 'the day of week does not match the date')
  }
  return days
}

function resolveTime(p: Parsed, pattern: DateTimePattern, text: string): number {
  if (p.msOfDay !== undefined && p.hour === undefined && p.clockHour === undefined) {
    if (p.msOfDay >= DAY_MS) throw resolveError(pattern, text, 'milli of day out of range')
    return p.msOfDay
  }
  let hour = 0
  if (p.hour !== undefined) {
    if (p.hour > 23) throw resolveError(pattern, text, `hour ${p.hour} out of range`)
    hour = p.hour
  } else if (p.clockHour !== undefined) {
    if (p.clockHour < 1 || p.clockHour > 24) throw resolveError(pattern, text, `hour ${p.clockHour} out of range`)
    hour = p.clockHour % 24
  } else if (p.hourOfAmPm !== undefined || p.clockHourOfAmPm !== undefined) {
    let h = p.hourOfAmPm ?? (p.clockHourOfAmPm as number)
    if (p.hourOfAmPm !== undefined ? h > 11 : h < 1 || h > 12)
      throw resolveError(pattern, text, `hour ${h} out of range`)
    h %= 12
    hour = p.pm ? h + 12 : h
  }
  const minute = p.minute ?? 0
  const second = p.second ?? 0
  if (minute > 59) throw resolveError(pattern, text, `minute ${minute} out of range`)
  if (second > 59) throw resolveError(pattern, text, `second ${second} out of range`)
  return ((hour * 60 + minute) * 60 + second) * 1000 + (p.ms ?? 0)
}

/** The instant (ms since the epoch) a text gives; local times are in `zone` unless the text has a zone. */
export function parseTimestamp(pattern: DateTimePattern, text: string, zone: Zone): number {
  const p = parseFields(pattern, text)
  const local = resolveDays(p, pattern, text) * DAY_MS + resolveTime(p, pattern, text)
  if (p.offset !== undefined) return local - p.offset
  return localToEpoch(p.zone ?? zone, local)
}

/** The DATE (days since 1970-01-01) a text gives (time fields, if any, are read and dropped). */
export function parseDate(pattern: DateTimePattern, text: string): number {
  const p = parseFields(pattern, text)
  resolveTime(p, pattern, text)
  return resolveDays(p, pattern, text)
}

/** The TIME (ms since midnight) a text gives (date fields, if any, are read and dropped). */
export function parseTime(pattern: DateTimePattern, text: string): number {
  const p = parseFields(pattern, text)
  return resolveTime(p, pattern, text)
}

export { zoneOf }
