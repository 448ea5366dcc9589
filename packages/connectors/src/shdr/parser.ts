/**
 * SHDR — the line protocol an MTConnect adapter speaks to an agent — read line by line, without knowing the
 * device model (which tokens belong to which data item is decided later by the mapper, because a condition takes
 * five fields and a sample one).
 *
 * The grammar, in our words (MTConnect Standard Part 1 "Adapter Agent Protocol"; the cppagent project documents
 * the de-facto rules as "Adapter Agent Protocol Version 2.0"):
 *
 *   line       = command | data | asset ; lines end with LF or CR LF
 *   command    = "*" SP name ":" SP value            e.g. `* shdrVersion: 2`, `* device: mill-1`
 *              | "* PING" | "* PONG" SP heartbeat-ms  (the agent pings; the adapter answers with its heartbeat)
 *   data       = [timestamp ["@" duration]] "|" key "|" field { "|" key "|" field... }
 *   timestamp  = ISO-8601 UTC (`2024-05-04T12:34:56.789012Z`; no zone means UTC), or a number of milliseconds
 *                relative to the adapter's first line (`* relativeTime`), or empty (the receive time)
 *   key        = data item name | id | Source text, optionally `device:` prefixed for multi-device adapters
 *   fields     = per data item kind: 1 value; conditions level|nativeCode|nativeSeverity|qualifier|message;
 *                messages nativeCode|text; alarms code|nativeCode|severity|state|text; time series
 *                count|rate|"v1 v2 ..."; data sets "k=v k2=v2" (optionally ":RESET_TRIGGER " first)
 *   asset      = [timestamp] "|@ASSET@|" id "|" type "|" body      body may be `--multiline--XXXX`: the document
 *                follows on the next lines up to a line that is exactly `--multiline--XXXX`
 *              | [timestamp] "|@REMOVE_ASSET@|" id | [timestamp] "|@REMOVE_ALL_ASSETS@|" [type]
 *              | [timestamp] "|@UPDATE_ASSET@|" id "|" property "|" value ...
 *
 * Fields are trimmed. A field that starts with `"` may hold `|`: it runs to the next `"` that is followed by `|` or
 * the end of the line, and `\` escapes the next character inside it (there is no other escape: `\|` outside quotes
 * is an ordinary backslash followed by a separator). A line may also leave the timestamp field out entirely
 * (`key|value`): a first field that is empty or starts with a digit is the timestamp; anything else is a key.
 *
 * Malformed lines are returned as `{kind: 'malformed'}` values with their line number and a reason; the parser
 * never throws on input.
 */

export type ShdrTimeKind = 'now' | 'absolute' | 'relative'

export type ShdrMalformedReason =
  | 'bad-timestamp'
  | 'bad-duration'
  | 'no-data'
  | 'empty-key'
  | 'control-characters'
  | 'bad-command'
  | 'bad-pong'
  | 'bad-asset'
  | 'asset-unterminated'
  | 'asset-too-large'
  | 'line-too-long'

export const SHDR_MALFORMED_REASONS: readonly ShdrMalformedReason[] = [
  'bad-timestamp',
  'bad-duration',
  'no-data',
  'empty-key',
  'control-characters',
  'bad-command',
  'bad-pong',
  'bad-asset',
  'asset-unterminated',
  'asset-too-large',
  'line-too-long',
]

/** When a line happened: fields shared by every line kind that carries a timestamp. */
export interface ShdrStamp {
  /** `now`: no timestamp, use the receive time; `absolute`: `timeMs` is epoch ms; `relative`: `timeMs` is an offset. */
  readonly time: ShdrTimeKind
  /** Epoch ms (absolute), offset ms (relative), NaN (now). Sub-millisecond digits are truncated. */
  readonly timeMs: number
  /** The timestamp as written (without `@duration`), '' when absent. */
  readonly timestamp: string
  /** The `@duration` after the timestamp, as given. */
  readonly duration?: number
}

export interface ShdrDataLine extends ShdrStamp {
  readonly kind: 'data'
  readonly lineNo: number
  /** Key and field tokens after the timestamp, trimmed, quotes and escapes resolved. */
  readonly tokens: readonly string[]
}

export interface ShdrCommandLine {
  readonly kind: 'command'
  readonly lineNo: number
  /** As written: `shdrVersion`. */
  readonly name: string
  /** Lower case, for matching: `shdrversion`. */
  readonly key: string
  readonly value: string
}

export interface ShdrPingLine {
  readonly kind: 'ping'
  readonly lineNo: number
}

export interface ShdrPongLine {
  readonly kind: 'pong'
  readonly lineNo: number
  readonly heartbeatMs: number
}

export interface ShdrAssetLine extends ShdrStamp {
  readonly kind: 'asset'
  readonly lineNo: number
  readonly assetId: string
  readonly assetType: string
  /** The document (XML for MTConnect assets), lines joined with `\n` for a multi-line asset. */
  readonly body: string
}

/** The first line of a multi-line asset; `ShdrStream` turns it and the lines that follow into one `asset`. */
export interface ShdrAssetBeginLine extends ShdrStamp {
  readonly kind: 'asset-begin'
  readonly lineNo: number
  readonly assetId: string
  readonly assetType: string
  /** The line that ends the body: `--multiline--XXXX`. */
  readonly terminator: string
  /** Text before the marker on this line (usually empty); it starts the body. */
  readonly prefix: string
}

export interface ShdrRemoveAssetLine extends ShdrStamp {
  readonly kind: 'remove-asset'
  readonly lineNo: number
  readonly assetId: string
}

export interface ShdrRemoveAllAssetsLine extends ShdrStamp {
  readonly kind: 'remove-all-assets'
  readonly lineNo: number
  /** Only assets of this type; all assets when absent. */
  readonly assetType?: string
}

export interface ShdrUpdateAssetLine extends ShdrStamp {
  readonly kind: 'update-asset'
  readonly lineNo: number
  readonly assetId: string
  readonly changes: readonly (readonly [string, string])[]
}

export interface ShdrEmptyLine {
  readonly kind: 'empty'
  readonly lineNo: number
}

export interface ShdrMalformedLine {
  readonly kind: 'malformed'
  readonly lineNo: number
  readonly reason: ShdrMalformedReason
  readonly message: string
  /** The line (at most 200 characters of it). */
  readonly text: string
}

export type ShdrLine =
  | ShdrDataLine
  | ShdrCommandLine
  | ShdrPingLine
  | ShdrPongLine
  | ShdrAssetLine
  | ShdrAssetBeginLine
  | ShdrRemoveAssetLine
  | ShdrRemoveAllAssetsLine
  | ShdrUpdateAssetLine
  | ShdrEmptyLine
  | ShdrMalformedLine

const MAX_EXCERPT = 200

export function malformedLine(
  lineNo: number,
  reason: ShdrMalformedReason,
  message: string,
  text: string,
): ShdrMalformedLine {
  return {
    kind: 'malformed',
    lineNo,
    reason,
    message,
    text: text.length > MAX_EXCERPT ? `${text.slice(0, MAX_EXCERPT)}…` : text,
  }
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10
}

function isDigitOrDot(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46
}

function trimToken(s: string): string {
  const n = s.length
  if (n === 0) return s
  return isWs(s.charCodeAt(0)) || isWs(s.charCodeAt(n - 1)) ? s.trim() : s
}

/**
 * Splits a line into trimmed fields at `|`, honouring `"quoted"` fields (see the grammar above). A line with no
 * `"` takes the fast path: `split('|')`.
 */
export function splitShdrFields(line: string): string[] {
  if (line.indexOf('"') < 0) {
    const parts = line.split('|')
    for (let k = 0; k < parts.length; k++) parts[k] = trimToken(parts[k] as string)
    return parts
  }
  const out: string[] = []
  const n = line.length
  let i = 0
  for (;;) {
    let j = i
    while (j < n && (line.charCodeAt(j) === 32 || line.charCodeAt(j) === 9)) j++
    if (j < n && line.charCodeAt(j) === 34 /* " */) {
      // Quoted: find the closing quote followed (after spaces) by | or the end.
      let value = ''
      let k = j + 1
      let closed = -1
      while (k < n) {
        const c = line.charCodeAt(k)
        if (c === 92 /* \ */ && k + 1 < n) {
          value += line[k + 1]
          k += 2
          continue
        }
        if (c === 34) {
          let m = k + 1
          while (m < n && isWs(line.charCodeAt(m))) m++
          if (m >= n || line.charCodeAt(m) === 124) {
            closed = m
            break
          }
        }
        value += line[k]
        k++
      }
      if (closed >= 0) {
        out.push(value)
        if (closed >= n) return out
        i = closed + 1
        continue
      }
      // No closing quote: the field is taken as written, up to the next |.
    }
    const bar = line.indexOf('|', i)
    if (bar < 0) {
      out.push(line.slice(i).trim())
      return out
    }
    out.push(line.slice(i, bar).trim())
    i = bar + 1
  }
}

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/
const RELATIVE_TIMESTAMP = /^\d+(?:\.\d+)?$/
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function digits(s: string, from: number, to: number): number {
  let v = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

let cachedDay = ''
let cachedDayMs = Number.NaN

/** `YYYY-MM-DDTHH:MM:SS.sssZ`, the form most adapters send: parsed without a regex, the day cached. */
function parseCanonicalIso(s: string): number {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) {
    return Number.NaN
  }
  let dayMs: number
  if (s.startsWith(cachedDay) && cachedDay !== '') dayMs = cachedDayMs
  else {
    dayMs = parseShdrIsoTime(`${s.slice(0, 10)}T00:00:00Z`, false)
    if (Number.isNaN(dayMs)) return Number.NaN
    cachedDay = s.slice(0, 10)
    cachedDayMs = dayMs
  }
  const h = digits(s, 11, 13)
  const mi = digits(s, 14, 16)
  const sec = digits(s, 17, 19)
  const ms = digits(s, 20, 23)
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || ms < 0) return Number.NaN
  return dayMs + ((h * 60 + mi) * 60 + sec) * 1000 + ms
}

/** Epoch ms of an ISO-8601 timestamp (UTC when it has no zone), or NaN. Digits past milliseconds are truncated. */
export function parseShdrIsoTime(s: string, fast = true): number {
  if (fast && s.length === 24 && s.charCodeAt(23) === 90 && s.charCodeAt(10) === 84 && s.charCodeAt(19) === 46) {
    return parseCanonicalIso(s)
  }
  const m = ISO_TIMESTAMP.exec(s)
  if (!m) return Number.NaN
  const year = +(m[1] as string)
  const month = +(m[2] as string)
  const day = +(m[3] as string)
  const hour = +(m[4] as string)
  const minute = +(m[5] as string)
  const second = m[6] === undefined ? 0 : +m[6]
  if (month < 1 || month > 12 || day < 1 || day > (DAYS[month - 1] as number)) return Number.NaN
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return Number.NaN
  if (hour > 24 || minute > 59 || second > 60 || (hour === 24 && (minute > 0 || second > 0))) return Number.NaN
  const frac = m[7]
  const ms = frac === undefined ? 0 : +`${frac}00`.slice(0, 3)
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  const zone = m[8]
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const hh = +zone.slice(1, 3)
    const mm = zone.length > 3 ? +zone.slice(zone.length - 2) : 0
    if (hh > 23 || mm > 59) return Number.NaN
    t -= sign * (hh * 60 + mm) * 60_000
  }
  return t
}

interface Stamp {
  time: ShdrTimeKind
  timeMs: number
  timestamp: string
  duration?: number
}

const NOW_STAMP: Stamp = { time: 'now', timeMs: Number.NaN, timestamp: '' }

/** Reads the timestamp field (`ts`, `ts@duration`, `@duration`, ''). Returns a reason string when it is invalid. */
function readStamp(field: string): Stamp | 'bad-timestamp' | 'bad-duration' {
  if (field === '') return NOW_STAMP
  let ts = field
  let duration: number | undefined
  const at = field.indexOf('@')
  if (at >= 0) {
    const d = field.slice(at + 1)
    if (!NUMBER.test(d)) return 'bad-duration'
    duration = +d
    ts = field.slice(0, at)
  }
  let stamp: Stamp
  if (ts === '') stamp = { time: 'now', timeMs: Number.NaN, timestamp: '' }
  else if (ts.indexOf('T') > 0) {
    const ms = parseShdrIsoTime(ts)
    if (Number.isNaN(ms)) return 'bad-timestamp'
    stamp = { time: 'absolute', timeMs: ms, timestamp: ts }
  } else if (RELATIVE_TIMESTAMP.test(ts)) stamp = { time: 'relative', timeMs: Math.trunc(+ts), timestamp: ts }
  else return 'bad-timestamp'
  if (duration !== undefined) stamp.duration = duration
  return stamp
}

const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/

const ASSET = '@ASSET@'
const MULTILINE = '--multiline--'

/** Parses one line (without its line end; a trailing CR is ignored). Pure and total: never throws. */
export function parseShdrLine(line: string, lineNo: number): ShdrLine {
  let text = line
  if (text.length > 0 && text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1)
  const first = text.charCodeAt(0)
  if (text.length === 0 || (isWs(first) && text.trim() === '')) return { kind: 'empty', lineNo }
  if (CONTROL.test(text)) return malformedLine(lineNo, 'control-characters', 'the line holds control characters', text)
  if (first === 42 /* * */) return parseCommand(text, lineNo)

  const tokens = splitShdrFields(text)
  const head = tokens[0] as string
  const h0 = head.charCodeAt(0)
  let stamp: Stamp
  if (head === '') {
    tokens.shift()
    stamp = NOW_STAMP
  } else if ((h0 >= 48 && h0 <= 57) || (h0 === 64 /* @ */ && head.length > 1 && isDigitOrDot(head.charCodeAt(1)))) {
    const s = readStamp(head)
    if (s === 'bad-timestamp') return malformedLine(lineNo, s, `'${head}' is not a timestamp`, text)
    if (s === 'bad-duration') return malformedLine(lineNo, s, `the duration in '${head}' is not a number`, text)
    tokens.shift()
    stamp = s
  } else stamp = NOW_STAMP // no timestamp field: the line starts with a key

  if (tokens.length === 0 || (tokens.length === 1 && tokens[0] === '')) {
    return malformedLine(lineNo, 'no-data', 'the line has a timestamp but no key', text)
  }
  const key = tokens[0] as string
  if (key === '') return malformedLine(lineNo, 'empty-key', 'the first key is empty', text)
  if (key.charCodeAt(0) === 64 /* @ */) {
    if (key === ASSET) return parseAsset(text, stamp, lineNo)
    if (key === '@REMOVE_ASSET@') {
      const id = tokens[1]
      if (!id) return malformedLine(lineNo, 'bad-asset', '@REMOVE_ASSET@ needs an asset id', text)
      return { kind: 'remove-asset', lineNo, ...stamp, assetId: id }
    }
    if (key === '@REMOVE_ALL_ASSETS@') {
      const type = tokens[1]
      return type
        ? { kind: 'remove-all-assets', lineNo, ...stamp, assetType: type }
        : { kind: 'remove-all-assets', lineNo, ...stamp }
    }
    if (key === '@UPDATE_ASSET@') {
      const id = tokens[1]
      if (!id) return malformedLine(lineNo, 'bad-asset', '@UPDATE_ASSET@ needs an asset id', text)
      const changes: [string, string][] = []
      for (let k = 2; k + 1 < tokens.length; k += 2) changes.push([tokens[k] as string, tokens[k + 1] as string])
      return { kind: 'update-asset', lineNo, ...stamp, assetId: id, changes }
    }
  }
  if (stamp === NOW_STAMP) return { kind: 'data', lineNo, time: 'now', timeMs: Number.NaN, timestamp: '', tokens }
  const out: ShdrDataLine = {
    kind: 'data',
    lineNo,
    time: stamp.time,
    timeMs: stamp.timeMs,
    timestamp: stamp.timestamp,
    ...(stamp.duration !== undefined ? { duration: stamp.duration } : {}),
    tokens,
  }
  return out
}

function parseCommand(text: string, lineNo: number): ShdrLine {
  let i = 1
  while (i < text.length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++
  const rest = text.slice(i).trimEnd()
  if (rest === 'PING') return { kind: 'ping', lineNo }
  if (rest === 'PONG' || rest.startsWith('PONG ') || rest.startsWith('PONG\t')) {
    const arg = rest.slice(4).trim()
    const ms = /^\d+$/.test(arg) ? Number(arg) : Number.NaN
    if (!(ms > 0))
      return malformedLine(lineNo, 'bad-pong', `PONG needs a heartbeat in milliseconds, got '${arg}'`, text)
    return { kind: 'pong', lineNo, heartbeatMs: ms }
  }
  const colon = rest.indexOf(':')
  const name = colon > 0 ? rest.slice(0, colon).trim() : ''
  if (name === '') return malformedLine(lineNo, 'bad-command', "a command line is '* name: value'", text)
  return { kind: 'command', lineNo, name, key: name.toLowerCase(), value: rest.slice(colon + 1).trim() }
}

function parseAsset(text: string, stamp: Stamp, lineNo: number): ShdrLine {
  // The body is the raw rest of the line after `@ASSET@|id|type|`: XML may hold `|` and quotes.
  const start = text.indexOf(`${ASSET}|`)
  let body: string | undefined
  let id = ''
  let type = ''
  if (start >= 0) {
    const a = start + ASSET.length + 1
    const b = text.indexOf('|', a)
    const c = b < 0 ? -1 : text.indexOf('|', b + 1)
    id = (b < 0 ? text.slice(a) : text.slice(a, b)).trim()
    type = b < 0 ? '' : (c < 0 ? text.slice(b + 1) : text.slice(b + 1, c)).trim()
    body = c < 0 ? undefined : text.slice(c + 1)
  }
  if (!id || !type) return malformedLine(lineNo, 'bad-asset', '@ASSET@ needs an asset id and a type', text)
  if (body === undefined || body.trim() === '') {
    return malformedLine(lineNo, 'bad-asset', `@ASSET@ ${id} has no document`, text)
  }
  const marker = body.indexOf(MULTILINE)
  if (marker >= 0) {
    return {
      kind: 'asset-begin',
      lineNo,
      ...stamp,
      assetId: id,
      assetType: type,
      terminator: body.slice(marker).trimEnd(),
      prefix: body.slice(0, marker).trim(),
    }
  }
  return { kind: 'asset', lineNo, ...stamp, assetId: id, assetType: type, body: body.trim() }
}

export interface ShdrStreamStats {
  readonly lines: number
  readonly malformed: number
  readonly byReason: Readonly<Partial<Record<ShdrMalformedReason, number>>>
}

export interface ShdrStreamOptions {
  /** Largest multi-line asset body in characters (default 4 MiB); a larger one is dropped as malformed. */
  readonly maxAssetChars?: number
}

/**
 * A stateful reader over a sequence of lines (one adapter connection, or one file): numbers the lines from 1,
 * gathers multi-line `@ASSET@` bodies into one `asset` line, and counts malformed lines by reason.
 */
export class ShdrStream {
  #lineNo = 0
  #lines = 0
  #malformed = 0
  #byReason: Partial<Record<ShdrMalformedReason, number>> = {}
  #asset: ShdrAssetBeginLine | undefined
  #body: string[] = []
  #bodyChars = 0
  readonly #maxAssetChars: number

  constructor(opts: ShdrStreamOptions = {}) {
    this.#maxAssetChars = opts.maxAssetChars ?? 4 * 1024 * 1024
  }

  /** The number of the last line pushed. */
  get lineNo(): number {
    return this.#lineNo
  }

  /** True while collecting the lines of a multi-line asset. */
  get inAsset(): boolean {
    return this.#asset !== undefined
  }

  /** Reads the next line. Returns undefined for lines that belong to a multi-line asset not yet complete. */
  push(line: string): ShdrLine | undefined {
    const lineNo = ++this.#lineNo
    this.#lines++
    const open = this.#asset
    if (open) {
      const text = line.length > 0 && line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line
      if (text.trimEnd() === open.terminator) {
        this.#asset = undefined
        const parts = open.prefix ? [open.prefix, ...this.#body] : this.#body
        this.#body = []
        this.#bodyChars = 0
        return {
          kind: 'asset',
          lineNo: open.lineNo,
          time: open.time,
          timeMs: open.timeMs,
          timestamp: open.timestamp,
          ...(open.duration !== undefined ? { duration: open.duration } : {}),
          assetId: open.assetId,
          assetType: open.assetType,
          body: parts.join('\n'),
        }
      }
      this.#bodyChars += text.length + 1
      if (this.#bodyChars > this.#maxAssetChars) {
        this.#asset = undefined
        this.#body = []
        this.#bodyChars = 0
        return this.#count(
          malformedLine(
            open.lineNo,
            'asset-too-large',
            `asset ${open.assetId} is larger than ${this.#maxAssetChars} characters; dropped`,
            `@ASSET@|${open.assetId}|${open.assetType}`,
          ),
        )
      }
      this.#body.push(text)
      return undefined
    }
    const parsed = parseShdrLine(line, lineNo)
    if (parsed.kind === 'asset-begin') {
      this.#asset = parsed
      return undefined
    }
    if (parsed.kind === 'malformed') return this.#count(parsed)
    return parsed
  }

  /** Records a line the caller could not even read (e.g. longer than its limit) as malformed. */
  pushMalformed(reason: ShdrMalformedReason, message: string, text = ''): ShdrMalformedLine {
    const lineNo = ++this.#lineNo
    this.#lines++
    return this.#count(malformedLine(lineNo, reason, message, text))
  }

  /**
   * Ends the sequence (connection closed, end of file). Returns a malformed line when a multi-line asset was left
   * open. Line numbers start again from 1 afterwards; counts are kept.
   */
  end(): ShdrMalformedLine | undefined {
    const open = this.#asset
    this.#asset = undefined
    this.#body = []
    this.#bodyChars = 0
    this.#lineNo = 0
    if (!open) return undefined
    return this.#count(
      malformedLine(
        open.lineNo,
        'asset-unterminated',
        `asset ${open.assetId} never got its terminator ${open.terminator}`,
        `@ASSET@|${open.assetId}|${open.assetType}|${open.terminator}`,
      ),
    )
  }

  stats(): ShdrStreamStats {
    return { lines: this.#lines, malformed: this.#malformed, byReason: { ...this.#byReason } }
  }

  #count(m: ShdrMalformedLine): ShdrMalformedLine {
    this.#malformed++
    this.#byReason[m.reason] = (this.#byReason[m.reason] ?? 0) + 1
    return m
  }
}

/** Parses a whole SHDR text (a log file): every line, multi-line assets gathered, an open asset at the end reported. */
export function parseShdrText(text: string, opts: ShdrStreamOptions = {}): ShdrLine[] {
  const stream = new ShdrStream(opts)
  const out: ShdrLine[] = []
  const lines = text.split('\n')
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  for (const line of lines) {
    const l = stream.push(line)
    if (l) out.push(l)
  }
  const tail = stream.end()
  if (tail) out.push(tail)
  return out
}

/** True when a token is a plain decimal number (what SHDR samples carry): `-12.5`, `.5`, `1e-3`; not `0x1F`, `NaN`. */
export function isShdrNumber(token: string): boolean {
  // [+-]? (digits ('.' digits*)? | '.' digits) ([eE] [+-]? digits)?
  const n = token.length
  let i = 0
  let c = token.charCodeAt(0)
  if (c === 43 || c === 45) c = token.charCodeAt(++i)
  let mantissa = 0
  while (c >= 48 && c <= 57) {
    mantissa++
    c = token.charCodeAt(++i)
  }
  if (c === 46) {
    c = token.charCodeAt(++i)
    while (c >= 48 && c <= 57) {
      mantissa++
      c = token.charCodeAt(++i)
    }
  }
  if (mantissa === 0) return false
  if (c === 101 || c === 69) {
    c = token.charCodeAt(++i)
    if (c === 43 || c === 45) c = token.charCodeAt(++i)
    let exp = 0
    while (c >= 48 && c <= 57) {
      exp++
      c = token.charCodeAt(++i)
    }
    if (exp === 0) return false
  }
  return i === n
}
