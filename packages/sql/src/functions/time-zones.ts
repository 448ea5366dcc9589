/**
 * Time zones for the date/time functions, by the IDs Java's `java.util.TimeZone` / `ZoneId` accept: region IDs of
 * the IANA database (`Europe/Paris`, `America/Los_Angeles`, through `Intl`), `UTC`, `GMT`, `UT`, `Z`, fixed offsets
 * (`+02:00`, `-0530`, `+01`, `UTC+2`, `GMT-03:30`), and Java's three-letter short IDs (`PST`, `ECT`, `EST`... the
 * table of `java.time.ZoneId.SHORT_IDS`). An unknown ID is an `OFA_SQL_VALUE` error (where Java's `TimeZone` would
 * silently take GMT).
 *
 * Offsets of region zones come from `Intl.DateTimeFormat`, about 1-2 µs a lookup, so each zone keeps the offset of
 * the last quarter hour it was asked about (zone transitions fall on quarter hours).
 */
import { OpenFactoryError } from '@openfactory/model'

const MINUTE_MS = 60_000
const QUARTER_MS = 15 * MINUTE_MS

export interface Zone {
  /** The ID it was made from, normalized (`Europe/Paris`, `UTC`, `+02:00`). */
  readonly id: string
  /** The offset from UTC, ms, at an instant (ms since the epoch). */
  offsetAt(epochMs: number): number
  /** The zone's short name at an instant (`PST`, `CEST`, `UTC`, or `GMT+1` where Intl knows no abbreviation). */
  shortName(epochMs: number): string
  /** The zone's long name at an instant (`Pacific Standard Time`). */
  longName(epochMs: number): string
}

/** Java's `ZoneId.SHORT_IDS`. */
const SHORT_IDS: Readonly<Record<string, string>> = {
  ACT: 'Australia/Darwin',
  AET: 'Australia/Sydney',
  AGT: 'America/Argentina/Buenos_Aires',
  ART: 'Africa/Cairo',
  AST: 'America/Anchorage',
  BET: 'America/Sao_Paulo',
  BST: 'Asia/Dhaka',
  CAT: 'Africa/Harare',
  CNT: 'America/St_Johns',
  CST: 'America/Chicago',
  CTT: 'Asia/Shanghai',
  EAT: 'Africa/Addis_Ababa',
  ECT: 'Europe/Paris',
  IET: 'America/Indiana/Indianapolis',
  IST: 'Asia/Kolkata',
  JST: 'Asia/Tokyo',
  MIT: 'Pacific/Apia',
  NET: 'Asia/Yerevan',
  NST: 'Pacific/Auckland',
  PLT: 'Asia/Karachi',
  PNT: 'America/Phoenix',
  PRT: 'America/Puerto_Rico',
  PST: 'America/Los_Angeles',
  SST: 'Pacific/Guadalcanal',
  VST: 'Asia/Ho_Chi_Minh',
  EST: '-05:00',
  MST: '-07:00',
  HST: '-10:00',
}

/** Zone names a parsed text may carry (pattern letter `z`), daylight names included. */
const PARSE_NAMES: Readonly<Record<string, string>> = {
  PDT: 'America/Los_Angeles',
  MDT: 'America/Denver',
  CDT: 'America/Chicago',
  EDT: 'America/New_York',
  EST: 'America/New_York',
  MST: 'America/Denver',
  CET: 'Europe/Paris',
  CEST: 'Europe/Paris',
  BST: 'Europe/London',
  WET: 'Europe/Lisbon',
  WEST: 'Europe/Lisbon',
  EET: 'Europe/Helsinki',
  EEST: 'Europe/Helsinki',
}

function offsetText(ms: number): string {
  const sign = ms < 0 ? '-' : '+'
  const m = Math.abs(ms) / MINUTE_MS
  return `${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`
}

class FixedZone implements Zone {
  readonly id: string
  readonly #offset: number
  constructor(id: string, offset: number) {
    this.id = id
    this.#offset = offset
  }
  offsetAt(): number {
    return this.#offset
  }
  shortName(): string {
    return this.#offset === 0 ? 'UTC' : offsetText(this.#offset)
  }
  longName(): string {
    return this.#offset === 0 ? 'Coordinated Universal Time' : offsetText(this.#offset)
  }
}

class RegionZone implements Zone {
  readonly id: string
  readonly #parts: Intl.DateTimeFormat
  #short: Intl.DateTimeFormat | undefined
  #long: Intl.DateTimeFormat | undefined
  #lastQuarter = Number.NaN
  #lastOffset = 0

  constructor(id: string) {
    this.#parts = new Intl.DateTimeFormat('en-US', {
      timeZone: id,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    this.id = this.#parts.resolvedOptions().timeZone
  }

  offsetAt(epochMs: number): number {
    const quarter = Math.floor(epochMs / QUARTER_MS)
    if (quarter === this.#lastQuarter) return this.#lastOffset
    const at = quarter * QUARTER_MS
    let y = 0
    let mo = 0
    let d = 0
    let h = 0
    let mi = 0
    let sec = 0
    let bc = false
    for (const p of this.#parts.formatToParts(at)) {
      switch (p.type) {
        case 'year':
          y = Number(p.value)
          break
        case 'month':
          mo = Number(p.value)
          break
        case 'day':
          d = Number(p.value)
          break
        case 'hour':
          h = Number(p.value)
          break
        case 'minute':
          mi = Number(p.value)
          break
        case 'second':
          sec = Number(p.value)
          break
        case 'era':
          bc = p.value.startsWith('B')
          break
      }
    }
    const year = bc ? 1 - y : y
    let local = Date.UTC(year, mo - 1, d, h, mi, sec)
    // Date.UTC reads years 0 to 99 as 1900 to 1999.
    if (year >= 0 && year < 100) local = new Date(local).setUTCFullYear(year)
    this.#lastQuarter = quarter
    this.#lastOffset = local - at
    return this.#lastOffset
  }

  shortName(epochMs: number): string {
    this.#short ??= new Intl.DateTimeFormat('en-US', { timeZone: this.id, timeZoneName: 'short' })
    return this.#short.formatToParts(epochMs).find((p) => p.type === 'timeZoneName')?.value ?? this.id
  }

  longName(epochMs: number): string {
    this.#long ??= new Intl.DateTimeFormat('en-US', { timeZone: this.id, timeZoneName: 'long' })
    return this.#long.formatToParts(epochMs).find((p) => p.type === 'timeZoneName')?.value ?? this.id
  }
}

export const UTC: Zone = new FixedZone('UTC', 0)

const OFFSET_ID = /^(?:(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)$/

/** The offset (ms) of a fixed-offset ID (`+02:00`, `UTC-5`, `GMT+0530`), or undefined. */
function fixedOffset(id: string): number | undefined {
  const m = OFFSET_ID.exec(id)
  if (m === null) return undefined
  const h = Number(m[2])
  const mi = Number(m[3] ?? 0)
  const s = Number(m[4] ?? 0)
  if (h > 18 || mi > 59 || s > 59) return undefined
  const ms = ((h * 60 + mi) * 60 + s) * 1000
  return m[1] === '-' ? -ms : ms
}

const zones = new Map<string, Zone>()
const MAX_CACHED = 1000

function makeZone(id: string): Zone | undefined {
  const upper = id.toUpperCase()
  if (upper === 'UTC' || upper === 'GMT' || upper === 'UT' || upper === 'Z' || upper === 'ETC/UTC') return UTC
  const fixed = fixedOffset(upper)
  if (fixed !== undefined) return fixed === 0 ? UTC : new FixedZone(offsetText(fixed), fixed)
  const short = SHORT_IDS[upper]
  if (short !== undefined && id.length === 3) return makeZone(short)
  try {
    return new RegionZone(id)
  } catch {
    return undefined
  }
}

/** The zone of an ID (cached). Throws OFA_SQL_VALUE for an ID that names no zone. */
export function zoneOf(id: string): Zone {
  const cached = zones.get(id)
  if (cached !== undefined) return cached
  const zone = makeZone(id.trim())
  if (zone === undefined) {
    throw new OpenFactoryError(
      'OFA_SQL_VALUE',
      `unknown time zone '${id}' (an IANA ID such as 'Europe/Paris', 'UTC', or an offset such as '+02:00')`,
    )
  }
  if (zones.size >= MAX_CACHED) zones.clear()
  zones.set(id, zone)
  return zone
}

/** The zone of a zone name found in a parsed text (`PDT`, `CET`, an ID), or undefined. */
export function zoneOfName(name: string): Zone | undefined {
  const region = PARSE_NAMES[name.toUpperCase()]
  if (region !== undefined) return zoneOf(region)
  try {
    return zoneOf(name)
  } catch {
    return undefined
  }
}

/**
 * The instant of a local date-time (ms since the epoch as if UTC) in a zone, as `java.time.ZonedDateTime.ofLocal`
 * resolves it: in an overlap (clocks set back) the earlier instant; in a gap (clocks set forward) the local time is
 * moved forward by the gap's length.
 */
export function localToEpoch(zone: Zone, local: number): number {
  const before = zone.offsetAt(local - 86_400_000)
  const after = zone.offsetAt(local + 86_400_000)
  if (before === after) {
    const t = local - before
    if (zone.offsetAt(t) === before) return t
  }
  const t1 = local - before
  const t2 = local - after
  const ok1 = zone.offsetAt(t1) === before
  const ok2 = zone.offsetAt(t2) === after
  if (ok1 && ok2) return Math.min(t1, t2)
  if (ok1) return t1
  if (ok2) return t2
  return t1
}
