/**
 * From parsed SHDR data lines to observations in our wire format (model/observation.ts), per asset.
 *
 * The mapper knows the device model: which SHDR key names which data item, and so how many fields each key takes
 * (MTConnect Part 1 "Adapter Agent Protocol"): a value 1; a condition 5 (level|nativeCode|nativeSeverity|
 * qualifier|message); a message 2 (nativeCode|text); a legacy alarm 5 (code|nativeCode|severity|state|text); a
 * time series 3 (count|rate|"v1 v2 ..."); a data set or table 1 (`k=v k2=v2`, `k={a=1 b=2}`). With SHDR version
 * 1 (the default) an observation that takes more than one field ends its line; version 2 (`* shdrVersion: 2`)
 * lets several follow each other. Keys may carry a device prefix (`mill-2:Xpos`) on multi-device adapters; the
 * default device is the first one, or the one `* device: <name|uuid>` names.
 *
 * What comes out:
 * - Samples: VALUE a number; a value that is not a number becomes `UNAVAILABLE` with `quality: BAD` and a reason
 *   (bad data is an observation, never an exception). Three-space samples (`PathPosition`, units `*_3D`) keep the
 *   space-separated text. Events: VALUE the text as sent.
 * - `UNAVAILABLE` (any case): VALUE `UNAVAILABLE`. An empty field: `UNAVAILABLE` for a sample (no number), an
 *   empty value for an event or a message text (as the reference agent keeps it: a program or comment that is now
 *   blank is a value, not a lost connection).
 * - Out of the item's constraints (minimum/maximum, allowed values): `quality: UNCERTAIN` with a reason.
 * - Conditions: TYPE `Condition`, VALUE the level, `nativeCode`, `nativeSeverity`, `qualifier`, `message` attributes.
 * - Messages: TYPE `Events`, VALUE the text, `nativeCode` attribute. Alarms: VALUE the text; code, nativeCode,
 *   severity, state attributes.
 * - Time series: VALUE the samples as MTConnect streams them (`"1 2 3"`), `sampleCount`, `sampleRate` attributes.
 * - Data sets and tables: VALUE the JSON text of the entries (`{"a":1,"b":null}`: null removes an entry),
 *   `resetTriggered` when the field started with `:TRIGGER`.
 * - Every observation: `attributes.timestamp` (the line's time, ISO ms Z; the receive time when the line has none),
 *   `ingestion_timestamp` (receive time), `units` and `subType` of its item, `duration` when the line gave one.
 * - The device's own AVAILABILITY item drives the asset's `avail` (returned as an availability change) and is
 *   published as well under its own id (an Events item), as the standard keeps it — unless its id is `avail`,
 *   ours: then it only drives `avail` (`drivesAvailOnly`).
 * - Unknown keys are skipped with one field (the value they most likely carry), counted, and reported once per key.
 *   Only the first `maxUnknownKeys` distinct ones are remembered (their counts are `stats().unknownKeys`); the
 *   fields of the others are counted together (`stats().unknownKeysOther`), so an adapter that sends ever new keys
 *   costs bounded memory.
 */
import {
  AVAIL_ID,
  type ConditionLevel,
  type DataItemCategory,
  type DataItemConstraints,
  isoTimestamp,
  type Observation,
  type ObservationAttributes,
  type ObservationType,
  UNAVAILABLE,
  unavailableObservation,
} from '@openfactory/model'
import type { ShdrDataLine } from './parser.ts'
import { isShdrNumber } from './parser.ts'

/** Distinct unknown keys a mapper remembers (their counts); past them unknown keys are counted together. */
export const SHDR_MAX_UNKNOWN_KEYS = 1000
/** New unknown keys logged by name per connection (shdr-connector.ts); the others are summed up. */
export const SHDR_MAX_LOGGED_UNKNOWN_KEYS = 20

/** How many SHDR fields an item takes and how they become an observation. */
export type ShdrItemKind =
  | 'value'
  | 'vector'
  | 'condition'
  | 'message'
  | 'alarm'
  | 'time-series'
  | 'data-set'
  | 'table'
  | 'availability'

export interface ShdrItem {
  /** The observation ID (the MTConnect data item id, or the SHDR key for `connector.type: shdr`). */
  readonly id: string
  readonly tag: string
  readonly category: DataItemCategory
  readonly kind: ShdrItemKind
  readonly units?: string
  readonly subType?: string
  readonly constraints?: DataItemConstraints
  /** The item accepts `value:TRIGGER` (MTConnect ResetTrigger). */
  readonly resetTrigger?: boolean
  /** A sample's numbers from the adapter's units to the item's (nativeUnits, nativeScale: unit-conversion.ts). */
  readonly convert?: (v: number) => number
  /** MINIMUM_DELTA filter: a sample within this of the last one kept is dropped (UNAVAILABLE starts again). */
  readonly minimumDelta?: number
  /**
   * PERIOD filter, milliseconds: at most one observation per period. One that comes before the period of the last
   * one delivered has ended is held (a later one replaces it) and delivered when the period ends (`releaseDue`), or
   * at once when the next comes after that end; UNAVAILABLE passes at once, after what was held.
   */
  readonly periodMs?: number
  /** A constant item: what the adapter sends for it is ignored; `constants()` gives its observation. */
  readonly constantValue?: string
  /** An event of the standard's controlled vocabulary (EXECUTION, CONTROLLER_MODE...): upcased (`upcaseValues`). */
  readonly controlledVocabulary?: boolean
}

/** One device an adapter feeds: its asset, the names a `device:` prefix may use, and its keys. */
export interface ShdrDevice {
  readonly assetUuid: string
  /** MTConnect device name, uuid... what `dev:key` and `* device:` may say. */
  readonly aliases: readonly string[]
  /** SHDR key → item. Several keys (name, id, Source) may name one item. */
  readonly keys: ReadonlyMap<string, ShdrItem>
}

export interface ShdrMapperOptions {
  /** At least one; the first is the default device. */
  readonly devices: readonly ShdrDevice[]
  /** 1 (default) or 2; see the module comment. `* shdrVersion:` changes it at run time. */
  readonly shdrVersion?: number
  /** Distinct unknown keys remembered (default `SHDR_MAX_UNKNOWN_KEYS`). */
  readonly maxUnknownKeys?: number
  /**
   * Drops a sample, event or message whose value repeats the item's last one (default true, as the reference
   * agent filters duplicates): adapters resend unchanged values on every scan.
   */
  readonly filterDuplicates?: boolean
  /**
   * Upcases the values of events of the standard's controlled vocabulary (`ShdrItem.controlledVocabulary`:
   * `active` → `ACTIVE`), as the reference agent's UpcaseDataItemValue does (default true).
   */
  readonly upcaseValues?: boolean
  /**
   * Names (name, uuid, id) of the devices of the same adapter that other connections ingest (device files sharing
   * one adapter, each binding one device of a multi-device Devices.xml). `* device:` naming one of them makes the
   * following unprefixed keys theirs, not ours: they are unknown keys here until `* device:` names ours again.
   */
  readonly foreignDevices?: readonly string[]
}

/** The default device while `* device:` names a device another connection ingests: it has no keys. */
const FOREIGN_DEVICE: ShdrDevice = Object.freeze({ assetUuid: '', aliases: [], keys: new Map<string, ShdrItem>() })

export type ShdrEntryProblemReason =
  | 'missing-value'
  | 'bad-condition-level'
  | 'bad-number'
  | 'bad-time-series'
  | 'constraint'

export interface ShdrEntryProblem {
  readonly lineNo: number
  readonly key: string
  readonly reason: ShdrEntryProblemReason
  readonly message: string
}

export interface ShdrObservationGroup {
  readonly assetUuid: string
  readonly observations: Observation[]
}

export interface ShdrAvailabilityChange {
  readonly assetUuid: string
  readonly available: boolean
  readonly timestamp: string
}

export interface ShdrMapResult {
  /** Observations by asset, in the order of the line; usually one group. */
  readonly groups: ShdrObservationGroup[]
  readonly availability: ShdrAvailabilityChange[]
  /** Keys seen for the first time that name no item (and are remembered: see `maxUnknownKeys`). */
  readonly newUnknownKeys: string[]
  /** Fields skipped whose unknown key is past the remembered ones (it may have been seen before). */
  otherUnknownKeys: number
  /** Fields that could not be read as their item wants (the observation, if any, says UNAVAILABLE or UNCERTAIN). */
  readonly problems: ShdrEntryProblem[]
}

export interface ShdrMapperStats {
  readonly lines: number
  readonly observations: number
  readonly unknownKeys: Readonly<Record<string, number>>
  /** Fields skipped whose unknown key is past the `maxUnknownKeys` remembered. */
  readonly unknownKeysOther: number
  /** Samples dropped by a MINIMUM_DELTA filter of their item. */
  readonly belowMinimumDelta: number
  /** Observations dropped because their value repeated the item's last one (`filterDuplicates`). */
  readonly duplicates: number
  /** Observations a later one replaced while a PERIOD filter held them. */
  readonly periodReplaced: number
  /** Values an adapter sent for a constant item (ignored). */
  readonly constantIgnored: number
  readonly problems: number
}

interface Resolved {
  readonly device: ShdrDevice
  readonly item: ShdrItem
}

/** Kinds whose repeated value is dropped (`filterDuplicates`): a message, alarm, condition, time series or data set
 * carries more than its value, and is kept. */
const FILTERED_KINDS: ReadonlySet<ShdrItemKind> = new Set(['value', 'vector'])

const LEVELS: Readonly<Record<string, ConditionLevel>> = {
  NORMAL: 'NORMAL',
  WARNING: 'WARNING',
  FAULT: 'FAULT',
  UNAVAILABLE: 'UNAVAILABLE',
}

function isUnavailable(t: string): boolean {
  return t.length === 11 && (t === UNAVAILABLE || t.toUpperCase() === UNAVAILABLE)
}

/** What every observation of one data line shares, and where its problems go. */
interface LineContext {
  readonly timestamp: string
  /** The line's time, epoch ms. */
  readonly ms: number
  readonly receivedAt: number
  readonly ingestion: string
  readonly line: ShdrDataLine
  readonly result: ShdrMapResult
}

/** `2024-05-04T12:34:56.789Z`: already what we write. */
function isCanonicalIso(s: string): boolean {
  return (
    s.length === 24 && s.charCodeAt(23) === 90 /* Z */ && s.charCodeAt(19) === 46 /* . */ && s.charCodeAt(10) === 84
  )
}

/** A PERIOD filter's state for one item: when its period ends (line clock) and what it holds till then. */
interface PeriodState {
  readonly period: number
  end: number
  held?: { readonly obs: Observation; readonly assetUuid: string; readonly due: number }
}

/** Appends `obs` to its asset's group (`last`, when it is that asset's, saves the search); returns the group. */
function pushObservation(
  groups: ShdrObservationGroup[],
  assetUuid: string,
  obs: Observation,
  last?: ShdrObservationGroup,
): ShdrObservationGroup {
  let group = last?.assetUuid === assetUuid ? last : groups.find((g) => g.assetUuid === assetUuid)
  if (!group) {
    group = { assetUuid, observations: [] }
    groups.push(group)
  }
  group.observations.push(obs)
  return group
}

export class ShdrMapper {
  readonly #devices: readonly ShdrDevice[]
  readonly #byAlias = new Map<string, ShdrDevice>()
  #default: ShdrDevice
  readonly #foreign: ReadonlySet<string>
  #version: number
  #cache = new Map<string, Resolved>()
  /** Items calibrated by `* calibration:` (`calibrate`). */
  readonly #calibration = new Map<ShdrItem, (v: number) => number>()
  readonly #unknown = new Map<string, number>()
  readonly #maxUnknown: number
  #unknownOther = 0
  #relBase: number | undefined
  #lastIsoMs = Number.NaN
  #lastIso = ''
  #lines = 0
  #observations = 0
  #problems = 0
  readonly #filterDuplicates: boolean
  /** The last value published per item, for `filterDuplicates` (items are the device model's: bounded). */
  readonly #last = new Map<ShdrItem, Observation['value']>()
  #duplicates = 0
  /** The last sample kept per item with a MINIMUM_DELTA filter. */
  readonly #lastKept = new Map<ShdrItem, number>()
  #belowDelta = 0
  readonly #upcase: boolean
  /** PERIOD filters: per item, the end of its period and what is held for delivery at that end. */
  readonly #periods = new Map<ShdrItem, PeriodState>()
  #periodReplaced = 0
  #constantIgnored = 0

  constructor(opts: ShdrMapperOptions) {
    if (opts.devices.length === 0) throw new TypeError('ShdrMapper needs at least one device')
    this.#devices = opts.devices
    this.#default = opts.devices[0] as ShdrDevice
    for (const d of opts.devices) {
      this.#byAlias.set(d.assetUuid, d)
      for (const a of d.aliases) if (!this.#byAlias.has(a)) this.#byAlias.set(a, d)
    }
    this.#foreign = new Set((opts.foreignDevices ?? []).filter((a) => !this.#byAlias.has(a)))
    this.#version = opts.shdrVersion ?? 1
    this.#maxUnknown = opts.maxUnknownKeys ?? SHDR_MAX_UNKNOWN_KEYS
    this.#filterDuplicates = opts.filterDuplicates ?? true
    this.#upcase = opts.upcaseValues ?? true
  }

  get shdrVersion(): number {
    return this.#version
  }

  set shdrVersion(v: number) {
    this.#version = v >= 2 ? 2 : 1
  }

  get defaultDevice(): ShdrDevice {
    return this.#default
  }

  /** True while `* device:` names a device of `foreignDevices`: unprefixed keys and assets are not ours. */
  get defaultIsForeign(): boolean {
    return this.#default === FOREIGN_DEVICE
  }

  /**
   * `* calibration: key|factor|offset|key2|...`: the samples of each named item of the default device become
   * `(value + offset) × factor` from now on, in place of its nativeUnits conversion (as an MTConnect agent does).
   * Returns the keys that name no item and the triples that are not numbers.
   */
  calibrate(value: string): string[] {
    const fields = value.split('|').map((f) => f.trim())
    const refused: string[] = []
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const key = fields[i] as string
      const factor = Number(fields[i + 1])
      const offset = Number(fields[i + 2])
      const item = this.#default.keys.get(key)
      if (!item || !isShdrNumber(fields[i + 1] as string) || !isShdrNumber(fields[i + 2] as string)) {
        refused.push(key)
        continue
      }
      this.#calibration.set(item, (v) => (v + offset) * factor)
    }
    if (fields.length % 3 !== 0) refused.push(fields.slice(fields.length - (fields.length % 3)).join('|'))
    return refused
  }

  /**
   * `* device: <name|uuid>`: the device unprefixed keys belong to (a device of `foreignDevices`: none of ours).
   * False when no device has that name.
   */
  setDefaultDevice(nameOrUuid: string): boolean {
    const d = this.#byAlias.get(nameOrUuid) ?? (this.#foreign.has(nameOrUuid) ? FOREIGN_DEVICE : undefined)
    if (!d) return false
    if (d !== this.#default) {
      this.#default = d
      this.#cache.clear()
    }
    return true
  }

  /** Forgets the base of relative timestamps (a new connection starts a new base). */
  resetRelativeTime(): void {
    this.#relBase = undefined
  }

  /** Every item of a device once (a key map may name one item several times). */
  items(assetUuid: string): ShdrItem[] {
    const d = this.#byAlias.get(assetUuid)
    if (!d) return []
    const seen = new Map<string, ShdrItem>()
    for (const item of d.keys.values()) if (!seen.has(item.id)) seen.set(item.id, item)
    return [...seen.values()]
  }

  /**
   * Every item of the device as UNAVAILABLE (conditions too), e.g. when the adapter went away; observations a
   * PERIOD filter held come first (accepted data is delivered, not dropped). Constant items keep their value.
   */
  unavailableAll(assetUuid: string, reason: string, at: number = Date.now()): Observation[] {
    const out: Observation[] = []
    const ingestion = isoTimestamp(at)
    const items = this.items(assetUuid)
    for (const item of items) {
      const held = this.#periods.get(item)?.held
      if (held) out.push(held.obs)
      this.#periods.delete(item)
    }
    for (const item of items) {
      if (drivesAvailOnly(item) || item.constantValue !== undefined) continue
      const o = unavailableObservation({ id: item.id, tag: item.tag, type: item.category }, reason, at)
      this.#last.set(item, UNAVAILABLE)
      o.attributes.ingestion_timestamp = ingestion
      out.push(o)
    }
    return out
  }

  /** The observations of the device's constant items, with their value (published when the device is declared). */
  constants(assetUuid: string, at: number = Date.now()): Observation[] {
    const iso = isoTimestamp(at)
    return this.items(assetUuid)
      .filter((item) => item.constantValue !== undefined)
      .map((item) => {
        const attributes: ObservationAttributes = { timestamp: iso, ingestion_timestamp: iso }
        if (item.units !== undefined) attributes.units = item.units
        if (item.subType !== undefined) attributes.subType = item.subType
        const value =
          item.category === 'Samples' && isShdrNumber(item.constantValue as string)
            ? Number(item.constantValue)
            : (item.constantValue as string)
        return { id: item.id, value, tag: item.tag, type: item.category as ObservationType, attributes }
      })
  }

  /** When the first observation a PERIOD filter holds is due (epoch ms, our clock), or undefined. */
  nextDue(): number | undefined {
    let due: number | undefined
    for (const p of this.#periods.values()) if (p.held && (due === undefined || p.held.due < due)) due = p.held.due
    return due
  }

  /** The observations PERIOD filters held whose period has ended by `now` (our clock), by asset. */
  releaseDue(now: number = Date.now()): ShdrObservationGroup[] {
    const groups: ShdrObservationGroup[] = []
    for (const p of this.#periods.values()) {
      const held = p.held
      if (!held || held.due > now) continue
      // Delivered at the end of its period, which opens the next one (what comes within it is held again).
      p.held = undefined
      p.end += p.period
      this.#observations++
      pushObservation(groups, held.assetUuid, held.obs)
    }
    return groups
  }

  stats(): ShdrMapperStats {
    return {
      lines: this.#lines,
      observations: this.#observations,
      unknownKeys: Object.fromEntries(this.#unknown),
      unknownKeysOther: this.#unknownOther,
      duplicates: this.#duplicates,
      belowMinimumDelta: this.#belowDelta,
      periodReplaced: this.#periodReplaced,
      constantIgnored: this.#constantIgnored,
      problems: this.#problems,
    }
  }

  /** Maps one data line. `receivedAt` is when it arrived (epoch ms). */
  map(line: ShdrDataLine, receivedAt: number = Date.now()): ShdrMapResult {
    this.#lines++
    const result: ShdrMapResult = {
      groups: [],
      availability: [],
      newUnknownKeys: [],
      otherUnknownKeys: 0,
      problems: [],
    }
    const ingestion = this.#iso(receivedAt)
    let timestamp: string
    let ms = receivedAt
    if (line.time === 'absolute') {
      ms = line.timeMs
      timestamp = isCanonicalIso(line.timestamp) ? line.timestamp : this.#iso(line.timeMs)
    } else if (line.time === 'relative') {
      if (this.#relBase === undefined) this.#relBase = receivedAt - line.timeMs
      ms = this.#relBase + line.timeMs
      timestamp = this.#iso(ms)
    } else timestamp = ingestion

    const at: LineContext = { timestamp, ms, receivedAt, ingestion, line, result }
    const tokens = line.tokens
    const n = tokens.length
    let group: ShdrObservationGroup | undefined
    let i = 0
    while (i < n) {
      const key = tokens[i++] as string
      if (key === '') continue
      const r = this.#resolve(key)
      if (!r) {
        const seen = this.#unknown.get(key)
        if (seen !== undefined) this.#unknown.set(key, seen + 1)
        else if (this.#unknown.size < this.#maxUnknown) {
          this.#unknown.set(key, 1)
          result.newUnknownKeys.push(key)
        } else {
          this.#unknownOther++
          result.otherUnknownKeys++
        }
        i++ // skip the value it most likely carries
        continue
      }
      const { device, item } = r
      if (i >= n) {
        this.#problem(at, key, 'missing-value', `${key} has no value`)
        break
      }
      const start = i
      let obs: Observation | undefined
      switch (item.kind) {
        case 'condition': {
          obs = this.#condition(item, tokens, i, at, key)
          i += 5
          break
        }
        case 'message': {
          const code = i + 1 < n ? (tokens[i] as string) : ''
          const text = i + 1 < n ? (tokens[i + 1] as string) : (tokens[i] as string)
          obs = this.#base(item, isUnavailable(text) ? UNAVAILABLE : text, at)
          if (code !== '') obs.attributes.nativeCode = code
          i += 2
          break
        }
        case 'alarm': {
          const [code, nativeCode, severity, state, text] = tokens.slice(i, i + 5) as (string | undefined)[]
          obs = this.#base(item, !text || isUnavailable(text) ? UNAVAILABLE : text, at)
          const a = obs.attributes
          if (code) {
            if (isUnavailable(code)) obs = this.#base(item, UNAVAILABLE, at)
            else a.code = code
          }
          if (nativeCode) a.nativeCode = nativeCode
          if (severity) a.severity = severity
          if (state) a.state = state
          i += 5
          break
        }
        case 'time-series': {
          obs = this.#timeSeries(item, tokens, i, at, key)
          i += 3
          break
        }
        case 'availability': {
          const v = tokens[i++] as string
          result.availability.push({
            assetUuid: device.assetUuid,
            available: v.toUpperCase() === 'AVAILABLE',
            timestamp,
          })
          if (!drivesAvailOnly(item)) obs = this.#value(item, v, at, key)
          break
        }
        case 'data-set':
        case 'table': {
          obs = this.#dataSet(item, tokens[i++] as string, at)
          break
        }
        default: {
          obs = this.#value(item, tokens[i++] as string, at, key)
        }
      }
      if (obs && item.minimumDelta !== undefined) {
        // As an MTConnect agent's delta filter: kept only when it moved by the delta or more from the last kept.
        const v = obs.value
        if (typeof v !== 'number') this.#lastKept.delete(item)
        else {
          const kept = this.#lastKept.get(item)
          if (kept !== undefined && Math.abs(v - kept) < item.minimumDelta) {
            this.#belowDelta++
            obs = undefined
          } else this.#lastKept.set(item, v)
        }
      }
      if (obs && this.#filterDuplicates && FILTERED_KINDS.has(item.kind)) {
        // The value only: a repeat with other attributes (a new timestamp) says nothing new.
        if (this.#last.get(item) === obs.value) {
          this.#duplicates++
          obs = undefined
        } else this.#last.set(item, obs.value)
      }
      if (obs && item.constantValue !== undefined) {
        // As an MTConnect agent: a constant item keeps its value whatever the adapter says.
        this.#constantIgnored++
        obs = undefined
      }
      if (obs && item.periodMs !== undefined) {
        const released = this.#period(item, device.assetUuid, obs, at)
        if (released) {
          this.#observations++
          group = pushObservation(result.groups, device.assetUuid, released, group)
        }
        obs = this.#periods.get(item)?.held?.obs === obs ? undefined : obs
      }
      if (obs) {
        this.#observations++
        group = pushObservation(result.groups, device.assetUuid, obs, group)
      }
      if (this.#version < 2 && i - start > 1) break // SHDR 1: a multi-field observation ends the line
    }
    return result
  }

  /**
   * The PERIOD filter of one observation, on the line's clock (as an agent's period filter): the first passes and
   * opens a period; one before its end is held (replacing what was held); one after its end releases what was
   * held. Returns an observation released now, to go before `obs`; `obs` itself is held when it is the item's
   * held one afterwards.
   */
  #period(item: ShdrItem, assetUuid: string, obs: Observation, at: LineContext): Observation | undefined {
    const period = item.periodMs as number
    const state = this.#periods.get(item)
    const held = state?.held
    if (obs.value === UNAVAILABLE || !state) {
      if (obs.value === UNAVAILABLE) this.#periods.delete(item)
      else this.#periods.set(item, { period, end: at.ms + period })
      return held?.obs
    }
    if (at.ms < state.end) {
      if (held) this.#periodReplaced++
      state.held = { obs, assetUuid, due: held?.due ?? at.receivedAt + (state.end - at.ms) }
      return undefined
    }
    if (held && at.ms < state.end + period) {
      // The held one goes now; this one is held until the end of the next period.
      state.end += period
      state.held = { obs, assetUuid, due: at.receivedAt + (state.end - at.ms) }
      return held.obs
    }
    state.end = at.ms + period
    state.held = undefined
    return held?.obs
  }

  #resolve(key: string): Resolved | undefined {
    const cached = this.#cache.get(key)
    if (cached !== undefined) return cached
    let r: Resolved | null = null
    const item = this.#default.keys.get(key)
    if (item) r = { device: this.#default, item }
    else {
      const colon = key.indexOf(':')
      if (colon > 0) {
        const device = this.#byAlias.get(key.slice(0, colon))
        const it = device?.keys.get(key.slice(colon + 1))
        if (device && it) r = { device, item: it }
      }
    }
    // Keys that name no item are not cached: an adapter sending ever new keys must not grow the cache.
    if (r && this.#cache.size < 100_000) this.#cache.set(key, r)
    return r ?? undefined
  }

  #iso(ms: number): string {
    if (ms === this.#lastIsoMs) return this.#lastIso
    const s = Number.isFinite(ms) ? isoTimestamp(ms) : isoTimestamp()
    this.#lastIsoMs = ms
    this.#lastIso = s
    return s
  }

  #problem(at: LineContext, key: string, reason: ShdrEntryProblemReason, message: string): void {
    this.#problems++
    at.result.problems.push({ lineNo: at.line.lineNo, key, reason, message })
  }

  #base(item: ShdrItem, value: string | number, at: LineContext): Observation {
    const attributes: ObservationAttributes = { timestamp: at.timestamp, ingestion_timestamp: at.ingestion }
    if (item.units !== undefined) attributes.units = item.units
    if (item.subType !== undefined) attributes.subType = item.subType
    if (at.line.duration !== undefined) attributes.duration = at.line.duration
    return { id: item.id, value, tag: item.tag, type: item.category as ObservationType, attributes }
  }

  #value(item: ShdrItem, raw: string, at: LineContext, key: string): Observation {
    let token = raw
    let trigger: string | undefined
    if (item.resetTrigger) {
      const colon = token.lastIndexOf(':')
      if (colon >= 0) {
        trigger = token.slice(colon + 1).toUpperCase()
        token = token.slice(0, colon)
      }
    }
    let obs: Observation
    if (isUnavailable(token) || (token === '' && item.category !== 'Events')) obs = this.#base(item, UNAVAILABLE, at)
    else if (token === '') obs = this.#base(item, '', at)
    else if (item.category === 'Samples') {
      const convert = this.#calibration.get(item) ?? item.convert
      if (item.kind === 'vector') {
        const parts = token.split(/\s+/)
        if (!parts.every(isShdrNumber)) obs = this.#bad(item, token, at, key)
        else obs = this.#base(item, convert ? parts.map((p) => convert(Number(p))).join(' ') : parts.join(' '), at)
      } else if (isShdrNumber(token)) {
        const v = convert ? convert(Number(token)) : Number(token)
        obs = this.#base(item, v, at)
        const c = item.constraints
        if (c && ((c.minimum !== undefined && v < c.minimum) || (c.maximum !== undefined && v > c.maximum))) {
          obs.attributes.quality = 'UNCERTAIN'
          obs.attributes.reason = `${v} is outside [${c.minimum ?? '-∞'}, ${c.maximum ?? '∞'}]`
          this.#problem(at, key, 'constraint', obs.attributes.reason)
        }
      } else obs = this.#bad(item, token, at, key)
    } else {
      const v = item.controlledVocabulary && this.#upcase ? token.toUpperCase() : token
      obs = this.#base(item, v, at)
      const allowed = item.constraints?.values
      if (allowed && allowed.length > 0 && !allowed.includes(v)) {
        obs.attributes.quality = 'UNCERTAIN'
        obs.attributes.reason = `'${v}' is not one of ${allowed.join(', ')}`
        this.#problem(at, key, 'constraint', obs.attributes.reason)
      }
    }
    if (trigger) obs.attributes.resetTriggered = trigger
    return obs
  }

  #bad(item: ShdrItem, token: string, at: LineContext, key: string): Observation {
    const obs = this.#base(item, UNAVAILABLE, at)
    const shown = token.length > 40 ? `${token.slice(0, 40)}…` : token
    obs.attributes.quality = 'BAD'
    obs.attributes.reason = `not a number: '${shown}'`
    this.#problem(at, key, 'bad-number', `${key}: not a number: '${shown}'`)
    return obs
  }

  #condition(
    item: ShdrItem,
    tokens: readonly string[],
    i: number,
    at: LineContext,
    key: string,
  ): Observation | undefined {
    const rawLevel = tokens[i] as string
    const level = LEVELS[rawLevel.toUpperCase()]
    if (!level) {
      this.#problem(
        at,
        key,
        'bad-condition-level',
        `${key}: '${rawLevel}' is not NORMAL, WARNING, FAULT or UNAVAILABLE`,
      )
      return undefined
    }
    const obs = this.#base(item, level, at)
    if (level === 'UNAVAILABLE') return obs
    const a = obs.attributes
    const nativeCode = tokens[i + 1]
    const nativeSeverity = tokens[i + 2]
    const qualifier = tokens[i + 3]
    const message = tokens[i + 4]
    if (nativeCode) a.nativeCode = nativeCode
    if (nativeSeverity) a.nativeSeverity = nativeSeverity
    if (qualifier) a.qualifier = qualifier
    if (message) a.message = message
    return obs
  }

  #timeSeries(item: ShdrItem, tokens: readonly string[], i: number, at: LineContext, key: string): Observation {
    const countText = tokens[i] as string
    const rateText = tokens[i + 1] ?? ''
    const valuesText = (tokens[i + 2] ?? '').trim()
    if (isUnavailable(countText) || isUnavailable(valuesText) || (valuesText === '' && countText === '')) {
      return this.#base(item, UNAVAILABLE, at)
    }
    const values = valuesText === '' ? [] : valuesText.split(/\s+/)
    const count = /^\d+$/.test(countText) ? Number(countText) : Number.NaN
    const rate = rateText === '' ? undefined : isShdrNumber(rateText) ? Number(rateText) : Number.NaN
    if (Number.isNaN(count) || (rate !== undefined && Number.isNaN(rate)) || !values.every(isShdrNumber)) {
      const obs = this.#base(item, UNAVAILABLE, at)
      obs.attributes.quality = 'BAD'
      obs.attributes.reason = `not a time series: '${countText}|${rateText}|${valuesText.slice(0, 40)}'`
      this.#problem(at, key, 'bad-time-series', `${key}: ${obs.attributes.reason}`)
      return obs
    }
    const convert = this.#calibration.get(item) ?? item.convert
    const obs = this.#base(item, (convert ? values.map((v) => convert(Number(v))) : values.map(Number)).join(' '), at)
    obs.attributes.sampleCount = count
    if (rate !== undefined) obs.attributes.sampleRate = rate
    if (count !== values.length) {
      obs.attributes.quality = 'UNCERTAIN'
      obs.attributes.reason = `sampleCount ${count} but ${values.length} values`
      this.#problem(at, key, 'bad-time-series', `${key}: ${obs.attributes.reason}`)
    }
    return obs
  }

  #dataSet(item: ShdrItem, raw: string, at: LineContext): Observation {
    if (isUnavailable(raw)) return this.#base(item, UNAVAILABLE, at)
    const { entries, resetTriggered } = parseShdrDataSet(raw, item.kind === 'table')
    const obs = this.#base(item, dataSetValue(entries, item.category === 'Samples'), at)
    obs.attributes.count = entries.length
    if (resetTriggered) obs.attributes.resetTriggered = resetTriggered
    return obs
  }
}

/** The device's AVAILABILITY item whose id is `avail`, ours: it drives `avail` and is not an item of its own. */
export function drivesAvailOnly(item: { readonly kind: string; readonly id: string }): boolean {
  return item.kind === 'availability' && item.id === AVAIL_ID
}

export type ShdrDataSetValue = string | null | Record<string, string | null>

/**
 * The VALUE of a data set or table observation: the JSON text of its entries in their order, `null` for a removed
 * entry, a table row an object of its cells; numbers as numbers for a Samples item. One encoding for both paths
 * that carry data sets: SHDR (`k=v k2=`, above) and an MTConnect agent's `<Entry key="k">` (../mtconnect/streams.ts).
 */
export function dataSetValue(entries: readonly (readonly [string, ShdrDataSetValue])[], numeric: boolean): string {
  const value: Record<string, unknown> = {}
  const convert = (v: string | null): unknown => (v !== null && numeric && isShdrNumber(v) ? Number(v) : v)
  for (const [k, v] of entries) {
    if (v !== null && typeof v === 'object') {
      const row: Record<string, unknown> = {}
      for (const [rk, rv] of Object.entries(v)) row[rk] = convert(rv)
      value[k] = row
    } else value[k] = convert(v)
  }
  return JSON.stringify(value)
}

/**
 * Reads a DATA_SET or TABLE field: `[:TRIGGER ]k=v k2="a b" k3 k4=` — space separated entries; a value may be
 * quoted with "...", '...' or {...} (`\` escapes the closing character); an entry with no value or an empty one
 * removes the key (null). In a TABLE each value is itself a data set: `row={a=1 b=2}`.
 */
export function parseShdrDataSet(
  text: string,
  table = false,
): { entries: [string, ShdrDataSetValue][]; resetTriggered?: string } {
  let s = text.trim()
  let resetTriggered: string | undefined
  if (s.startsWith(':')) {
    const sp = s.search(/\s/)
    resetTriggered = (sp < 0 ? s.slice(1) : s.slice(1, sp)).toUpperCase()
    s = sp < 0 ? '' : s.slice(sp + 1)
  }
  const entries: [string, ShdrDataSetValue][] = []
  const n = s.length
  let i = 0
  while (i < n) {
    while (i < n && /\s/.test(s[i] as string)) i++
    if (i >= n) break
    const keyStart = i
    while (i < n && s[i] !== '=' && !/\s/.test(s[i] as string)) i++
    const key = s.slice(keyStart, i)
    if (s[i] !== '=') {
      entries.push([key, null])
      continue
    }
    i++
    let value = ''
    const open = s[i]
    const close = open === '"' ? '"' : open === "'" ? "'" : open === '{' ? '}' : undefined
    if (close) {
      i++
      let depth = 0
      while (i < n) {
        const c = s[i] as string
        if (c === '\\' && i + 1 < n) {
          value += s[i + 1]
          i += 2
          continue
        }
        if (open === '{' && c === '{') depth++
        if (c === close) {
          if (depth === 0) break
          depth--
        }
        value += c
        i++
      }
      i++ // closing character
    } else {
      while (i < n && !/\s/.test(s[i] as string)) value += s[i++]
    }
    if (value === '' && !close) entries.push([key, null])
    else if (table && open === '{') {
      const inner: Record<string, string | null> = {}
      for (const [k, v] of parseShdrDataSet(value).entries) inner[k] = typeof v === 'string' || v === null ? v : null
      entries.push([key, inner])
    } else entries.push([key, value])
  }
  return resetTriggered ? { entries, resetTriggered } : { entries }
}
