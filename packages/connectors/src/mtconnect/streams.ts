/**
 * The documents an MTConnect agent answers with, read into our types, and the observations of its streams mapped to
 * our wire format — what the agent client (agent-connector.ts) does with each document it receives.
 *
 * Formats (MTConnect Standard Part 1, Fundamentals, "MTConnect Response Documents"; versions 1.3 to 2.x):
 * - every document has a root `MTConnect<Kind>` and a `Header` whose `instanceId` names the agent's run (it changes
 *   when the agent restarts and its sequence numbers start again). A Streams header adds `firstSequence` (the oldest
 *   observation the agent still holds), `lastSequence` (its newest) and `nextSequence` (where the next request should
 *   start: after a `sample`, the sequence after the last observation it returned);
 * - `MTConnectDevices` (probe): `Devices/Device`, read by devices-xml.ts;
 * - `MTConnectStreams` (current, sample): `Streams/DeviceStream[name, uuid]/ComponentStream[component,
 *   componentId]/{Samples | Events | Condition}/<Observation>`. An observation element is named after its type
 *   (`Position`, `Execution`, `VariableDataSet`, `DisplacementTimeSeries`; in `Condition` the level: `Normal`,
 *   `Warning`, `Fault`, `Unavailable`) and carries `dataItemId`, `sequence`, `timestamp` (ISO-8601 UTC, often with
 *   microseconds) and, as they apply, `subType`, `name`, `duration`, `resetTriggered`, `nativeCode`,
 *   `nativeSeverity`, `qualifier`, `type` (a condition's type), `sampleCount`, `sampleRate`, `count`; its text is
 *   the value (`UNAVAILABLE` when it has none). A data set's value is `<Entry key="k">v</Entry>` children
 *   (`removed="true"` for a deleted key); a table's entries hold `<Cell key="c">v</Cell>`;
 * - `MTConnectAssets` (assets, asset/<id>): `Assets/<AssetType assetId, timestamp, deviceUuid, removed?>`;
 * - `MTConnectError`: `Errors/Error[errorCode]` with a message (2.x agents may name the element after the code,
 *   `<OutOfRange>`): `OUT_OF_RANGE` says a `from` the agent no longer (or not yet) holds.
 * Namespace prefixes are ignored (`localName`).
 *
 * Observations keep the meaning the SHDR path gives them (../shdr/mapper.ts): both paths give the same observation
 * for the same value — numbers for samples, vectors as space-separated text, conditions with `nativeCode`,
 * `nativeSeverity`, `qualifier` and the text as `message`, messages and legacy alarms with their codes, time series
 * with `sampleCount`/`sampleRate`, data sets and tables as the JSON text of their entries (`dataSetValue`) with
 * `count`. The source timestamp is the document's, cut to milliseconds. The device's own AVAILABILITY item is
 * returned as an availability change, with its observation (unless its id is `avail`, ours).
 */
import {
  type ConditionLevel,
  isoTimestamp,
  type Observation,
  type ObservationAttributes,
  type ObservationType,
  OpenFactoryError,
  UNAVAILABLE,
} from '@openfactory/model'
import { dataSetValue, drivesAvailOnly, type ShdrDataSetValue, type ShdrItem } from '../shdr/mapper.ts'
import { isShdrNumber } from '../shdr/parser.ts'
import {
  devicesFromXml,
  type MTConnectCategory,
  type MTConnectDataItem,
  type MTConnectDeviceModel,
} from './devices-xml.ts'
import { jsonTextOf, looksLikeJson, parseJsonDocument } from './json-document.ts'
import { shdrItemFromMTConnect } from './mtconnect-connector.ts'
import { localName, parseXml, type XmlElement } from './xml.ts'

// ---------------------------------------------------------------------------------------------------------------
// Documents

/** The Header of an agent's document (the fields we use). */
export interface AgentHeader {
  readonly instanceId: string
  readonly version?: string
  readonly creationTime?: string
  readonly bufferSize?: number
  /** Devices documents: how many asset documents the agent keeps. */
  readonly assetBufferSize?: number
}

/** The Header of a Streams document. */
export interface StreamsHeader extends AgentHeader {
  readonly firstSequence: number
  readonly lastSequence: number
  readonly nextSequence: number
}

/** One observation element of a Streams document, as written. */
export interface AgentObservation {
  /** The `DeviceStream` it is in: its `name` and `uuid`. */
  readonly deviceName: string
  readonly deviceUuid?: string
  readonly dataItemId: string
  readonly sequence: number
  /** As written (ISO-8601, maybe with microseconds). */
  readonly timestamp: string
  /** The element's local name: `Position`, `Fault`, `VariableDataSet`... */
  readonly element: string
  /** The container it is in. */
  readonly category: MTConnectCategory
  readonly attributes: Readonly<Record<string, string>>
  /** The element's text: its value. */
  readonly text: string
  /** The `Entry` children of a data set or table, in order (null: removed; a table row: its cells). */
  readonly entries?: readonly (readonly [string, ShdrDataSetValue])[]
}

/** One asset document of an Assets document. */
export interface AgentAsset {
  readonly assetId: string
  /** The element's local name: `CuttingTool`, `Part`, `File`... */
  readonly type: string
  readonly timestamp?: string
  readonly deviceUuid?: string
  readonly removed: boolean
  /** The element as written in the document. */
  readonly body: string
}

export interface AgentErrorEntry {
  /** `OUT_OF_RANGE`, `INVALID_REQUEST`, `NO_DEVICE`... */
  readonly code: string
  readonly message: string
}

export type AgentDocument =
  | { readonly kind: 'devices'; readonly header: AgentHeader; readonly devices: MTConnectDeviceModel[] }
  | { readonly kind: 'streams'; readonly header: StreamsHeader; readonly observations: AgentObservation[] }
  | { readonly kind: 'assets'; readonly header: AgentHeader; readonly assets: AgentAsset[] }
  | { readonly kind: 'error'; readonly header?: AgentHeader; readonly errors: AgentErrorEntry[] }

function agentError(source: string, message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_MTCONNECT_AGENT', `${source}: ${message}`, { retryable: true, cause })
}

function child(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (localName(c.name) === name) return c
  return undefined
}

/** A non-negative integer attribute (a sequence, a size); undefined for anything else. */
function integer(text: string | undefined): number | undefined {
  if (text === undefined || text.length === 0) return undefined
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return /^\s*\d+\s*$/.test(text) ? integer(text.trim()) : undefined
  }
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}

function readHeader(root: XmlElement, source: string): AgentHeader {
  const h = child(root, 'Header')
  if (!h) throw agentError(source, `<${root.name}> has no <Header>`)
  const a = h.attributes
  const instanceId = a.instanceId?.trim()
  if (!instanceId) throw agentError(source, 'the <Header> has no instanceId')
  const bufferSize = integer(a.bufferSize)
  const assetBufferSize = integer(a.assetBufferSize)
  return {
    instanceId,
    ...(a.version ? { version: a.version } : {}),
    ...(a.creationTime ? { creationTime: a.creationTime } : {}),
    ...(bufferSize !== undefined ? { bufferSize } : {}),
    ...(assetBufferSize !== undefined ? { assetBufferSize } : {}),
  }
}

function readStreamsHeader(root: XmlElement, source: string): StreamsHeader {
  const header = readHeader(root, source)
  const a = (child(root, 'Header') as XmlElement).attributes
  const seq = (name: string): number => {
    const n = integer(a[name])
    if (n === undefined) throw agentError(source, `the <Header> has no valid ${name} ('${a[name] ?? ''}')`)
    return n
  }
  return {
    ...header,
    firstSequence: seq('firstSequence'),
    lastSequence: seq('lastSequence'),
    nextSequence: seq('nextSequence'),
  }
}

const CATEGORY_OF: Readonly<Record<string, MTConnectCategory>> = {
  Samples: 'SAMPLE',
  Events: 'EVENT',
  Condition: 'CONDITION',
}

/** `<Entry key="k">v</Entry>` children; a table's entry holds `<Cell key="c">v</Cell>`. */
function readEntries(el: XmlElement): [string, ShdrDataSetValue][] {
  const out: [string, ShdrDataSetValue][] = []
  for (const e of el.children) {
    if (localName(e.name) !== 'Entry') continue
    const key = e.attributes.key ?? ''
    if (e.attributes.removed === 'true') {
      out.push([key, null])
      continue
    }
    const cells = e.children.filter((c) => localName(c.name) === 'Cell')
    if (cells.length > 0) {
      const row: Record<string, string | null> = {}
      for (const c of cells) row[c.attributes.key ?? ''] = c.attributes.removed === 'true' ? null : c.text
      out.push([key, row])
    } else out.push([key, e.text])
  }
  return out
}

function readObservations(root: XmlElement, source: string): AgentObservation[] {
  const out: AgentObservation[] = []
  const streams = child(root, 'Streams')
  if (!streams) return out // a heartbeat may carry no Streams at all
  for (const ds of streams.children) {
    if (localName(ds.name) !== 'DeviceStream') continue
    const deviceName = ds.attributes.name ?? ''
    const deviceUuid = ds.attributes.uuid
    for (const cs of ds.children) {
      if (localName(cs.name) !== 'ComponentStream') continue
      for (const group of cs.children) {
        const category = CATEGORY_OF[localName(group.name)]
        if (!category) continue
        for (const el of group.children) {
          const a = el.attributes
          const sequence = integer(a.sequence)
          const dataItemId = a.dataItemId
          if (sequence === undefined || !dataItemId) {
            throw agentError(
              source,
              `line ${el.line}: <${el.name}> needs a dataItemId and a sequence (got '${dataItemId ?? ''}', '${a.sequence ?? ''}')`,
            )
          }
          const element = localName(el.name)
          const hasEntries = el.children.length > 0 && el.children.some((c) => localName(c.name) === 'Entry')
          out.push({
            deviceName,
            ...(deviceUuid ? { deviceUuid } : {}),
            dataItemId,
            sequence,
            timestamp: a.timestamp ?? '',
            element,
            category,
            attributes: a,
            text: el.text,
            ...(hasEntries || element.endsWith('DataSet') || element.endsWith('Table')
              ? { entries: readEntries(el) }
              : {}),
          })
        }
      }
    }
  }
  return out
}

function readAssets(root: XmlElement, text: string): AgentAsset[] {
  const assets = child(root, 'Assets')
  if (!assets) return []
  return assets.children.map((el) => {
    const a = el.attributes
    return {
      assetId: a.assetId ?? '',
      type: localName(el.name),
      ...(a.timestamp ? { timestamp: a.timestamp } : {}),
      ...(a.deviceUuid ? { deviceUuid: a.deviceUuid } : {}),
      removed: a.removed === 'true',
      body: jsonTextOf(el) ?? text.slice(el.offset, el.end),
    }
  })
}

/** `OutOfRange` → `OUT_OF_RANGE`. */
function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

function readErrors(root: XmlElement): AgentErrorEntry[] {
  const out: AgentErrorEntry[] = []
  const errors = child(root, 'Errors')
  const els = errors ? errors.children : root.children.filter((c) => localName(c.name) === 'Error')
  for (const el of els) {
    const name = localName(el.name)
    const code = el.attributes.errorCode ?? (name === 'Error' ? 'UNKNOWN' : upperSnake(name))
    const message = (child(el, 'ErrorMessage')?.text ?? el.text).trim()
    out.push({ code, message })
  }
  return out
}

function readXmlRoot(text: string, source: string): XmlElement {
  try {
    return parseXml(text, { file: source })
  } catch (err) {
    const where = (err as OpenFactoryError).where
    const at = where?.line !== undefined ? ` at line ${where.line}, column ${where.column}` : ''
    throw agentError(source, `the document is not well-formed XML${at}: ${(err as Error).message}`, err)
  }
}

/**
 * Reads an agent's answer, XML or JSON (json-document.ts; either JSON version). `source` names it in errors (`GET http://host:5000/sample`). Throws `OFA_MTCONNECT_AGENT`
 * (retryable) for XML that is not well-formed (the cause carries line and column) or text that is not JSON, a root that is no MTConnect
 * document, or a header without instanceId or sequence numbers.
 */
export function readAgentDocument(text: string, source: string): AgentDocument {
  const root = looksLikeJson(text) ? parseJsonDocument(text, source) : readXmlRoot(text, source)
  const name = localName(root.name)
  switch (name) {
    case 'MTConnectStreams':
      return { kind: 'streams', header: readStreamsHeader(root, source), observations: readObservations(root, source) }
    case 'MTConnectDevices': {
      const header = readHeader(root, source)
      let devices: MTConnectDeviceModel[]
      try {
        devices = devicesFromXml(root, { file: source })
      } catch (err) {
        throw agentError(source, `the probe answer describes no valid device: ${(err as Error).message}`, err)
      }
      return { kind: 'devices', header, devices }
    }
    case 'MTConnectAssets':
      return { kind: 'assets', header: readHeader(root, source), assets: readAssets(root, text) }
    case 'MTConnectError': {
      let header: AgentHeader | undefined
      try {
        header = readHeader(root, source)
      } catch {
        header = undefined // an error document's header is a courtesy
      }
      return { kind: 'error', ...(header ? { header } : {}), errors: readErrors(root) }
    }
    default:
      throw agentError(source, `<${root.name}> is not an MTConnect response document`)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Observations

/** A device of the agent bound to an OpenFactory asset. */
export interface AgentBinding {
  readonly model: MTConnectDeviceModel
  readonly assetUuid: string
}

/** One data item of a bound device, as the mapper treats it. */
export interface AgentItem {
  readonly assetUuid: string
  readonly item: ShdrItem
  readonly dataItem: MTConnectDataItem
  /** `assetUuid|id`: one key per item across devices. */
  readonly key: string
}

/** What one observation element becomes. */
export type AgentMapped =
  | { readonly kind: 'observation'; readonly item: AgentItem; readonly observation: Observation }
  /** The device's own AVAILABILITY: drives `avail`; `observation` unless its id is `avail` (ours). */
  | {
      readonly kind: 'availability'
      readonly item: AgentItem
      readonly available: boolean
      readonly observation?: Observation
    }
  /** A data item of a device we do not bind, or one the probe did not describe. */
  | { readonly kind: 'unknown' }

export interface AgentMapperStats {
  readonly observations: number
  /** Values that could not be read as their item wants (published UNAVAILABLE or UNCERTAIN with a reason). */
  readonly problems: number
  /** Observations of data items the probe did not describe for a bound device. */
  readonly unknownItems: number
}

const LEVELS: Readonly<Record<string, ConditionLevel>> = {
  Normal: 'NORMAL',
  Warning: 'WARNING',
  Fault: 'FAULT',
  Unavailable: 'UNAVAILABLE',
}

function isUnavailable(t: string): boolean {
  return t.length === 11 && (t === UNAVAILABLE || t.toUpperCase() === UNAVAILABLE)
}

/**
 * `2024-05-04T12:34:56.789Z` already; `2024-05-04T12:34:56.789123Z` (agents write microseconds) cut to it; else
 * parsed and cut to milliseconds; '' or invalid: undefined. The fast paths run for every observation.
 */
function canonicalTime(text: string): string | undefined {
  const n = text.length
  if (n >= 24 && text.charCodeAt(n - 1) === 90 /* Z */ && text.charCodeAt(19) === 46 /* . */) {
    if (n === 24) return text
    let digits = true
    for (let i = 20; i < n - 1 && digits; i++) digits = text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57
    if (digits && text.charCodeAt(10) === 84 /* T */) return `${text.slice(0, 23)}Z`
  }
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? isoTimestamp(ms) : undefined
}

/**
 * Maps observation elements of bound devices to observations. Data items are found by id, per device (a device is
 * known by its `uuid`, else its `name`, as the agent writes them on `DeviceStream`).
 */
export class AgentStreamMapper {
  readonly #devices = new Map<string, Map<string, AgentItem>>()
  readonly #items: AgentItem[] = []
  #observations = 0
  #problems = 0
  #unknownItems = 0
  /** Called with every value that could not be read as its item wants. */
  onProblem: ((item: AgentItem, message: string) => void) | undefined

  constructor(bindings: readonly AgentBinding[]) {
    for (const b of bindings) {
      const items = new Map<string, AgentItem>()
      for (const d of b.model.dataItems) {
        const item: AgentItem = {
          assetUuid: b.assetUuid,
          item: shdrItemFromMTConnect(d),
          dataItem: d,
          key: `${b.assetUuid}|${d.id}`,
        }
        items.set(d.id, item)
        this.#items.push(item)
      }
      if (b.model.uuid) this.#devices.set(`uuid:${b.model.uuid}`, items)
      this.#devices.set(`name:${b.model.name}`, items)
    }
  }

  /** Every item of every bound device. */
  items(): readonly AgentItem[] {
    return this.#items
  }

  stats(): AgentMapperStats {
    return { observations: this.#observations, problems: this.#problems, unknownItems: this.#unknownItems }
  }

  /** The item an observation element is about; undefined for a device we do not bind. */
  resolve(o: AgentObservation): AgentItem | undefined | null {
    const items =
      (o.deviceUuid !== undefined ? this.#devices.get(`uuid:${o.deviceUuid}`) : undefined) ??
      this.#devices.get(`name:${o.deviceName}`)
    if (!items) return undefined
    const item = items.get(o.dataItemId)
    if (!item) {
      this.#unknownItems++
      return null
    }
    return item
  }

  /** Maps one observation element; `ingestion` is the receive time (ISO). */
  map(o: AgentObservation, ingestion: string, item = this.resolve(o)): AgentMapped {
    if (!item) return { kind: 'unknown' }
    const it = item.item
    const available = it.kind === 'availability' ? o.text.trim().toUpperCase() === 'AVAILABLE' : undefined
    if (available !== undefined && drivesAvailOnly(it)) return { kind: 'availability', item, available }
    this.#observations++
    const timestamp = canonicalTime(o.timestamp) ?? ingestion
    const base = (value: string | number): Observation => {
      const attributes: ObservationAttributes = { timestamp, ingestion_timestamp: ingestion }
      if (it.units !== undefined) attributes.units = it.units
      if (it.subType !== undefined) attributes.subType = it.subType
      const duration = o.attributes.duration
      if (duration !== undefined && isShdrNumber(duration)) attributes.duration = Number(duration)
      return { id: it.id, value, tag: it.tag, type: it.category as ObservationType, attributes }
    }
    const a = o.attributes
    let obs: Observation
    switch (it.kind) {
      case 'condition': {
        const level = LEVELS[o.element] ?? 'UNAVAILABLE'
        obs = base(level)
        if (level === 'UNAVAILABLE') break
        const at = obs.attributes
        if (a.nativeCode) at.nativeCode = a.nativeCode
        if (a.nativeSeverity) at.nativeSeverity = a.nativeSeverity
        if (a.qualifier) at.qualifier = a.qualifier
        if (o.text !== '') at.message = o.text
        break
      }
      case 'message': {
        obs = base(isUnavailable(o.text) ? UNAVAILABLE : o.text)
        if (a.nativeCode) obs.attributes.nativeCode = a.nativeCode
        break
      }
      case 'alarm': {
        const text = o.text
        obs = base(text === '' || isUnavailable(text) ? UNAVAILABLE : text)
        if (a.code) {
          if (isUnavailable(a.code)) obs = base(UNAVAILABLE)
          else obs.attributes.code = a.code
        }
        if (a.nativeCode) obs.attributes.nativeCode = a.nativeCode
        if (a.severity) obs.attributes.severity = a.severity
        if (a.state) obs.attributes.state = a.state
        break
      }
      case 'time-series':
        obs = this.#timeSeries(item, o, base)
        break
      case 'data-set':
      case 'table': {
        const entries = o.entries ?? []
        if (entries.length === 0 && isUnavailable(o.text.trim())) {
          obs = base(UNAVAILABLE)
          break
        }
        obs = base(dataSetValue(entries, it.category === 'Samples'))
        obs.attributes.count = entries.length
        if (a.resetTriggered) obs.attributes.resetTriggered = a.resetTriggered
        break
      }
      default:
        obs = this.#value(item, o, base)
    }
    return available === undefined
      ? { kind: 'observation', item, observation: obs }
      : { kind: 'availability', item, available, observation: obs }
  }

  #problem(item: AgentItem, obs: Observation, quality: 'BAD' | 'UNCERTAIN', reason: string): void {
    obs.attributes.quality = quality
    obs.attributes.reason = reason
    this.#problems++
    this.onProblem?.(item, reason)
  }

  #value(item: AgentItem, o: AgentObservation, base: (v: string | number) => Observation): Observation {
    const it = item.item
    const token = it.category === 'Samples' ? o.text.trim() : o.text
    let obs: Observation
    if (isUnavailable(token) || (token === '' && it.category !== 'Events')) obs = base(UNAVAILABLE)
    else if (token === '') obs = base('')
    else if (it.category === 'Samples') {
      if (it.kind === 'vector') {
        const parts = token.split(/\s+/)
        if (parts.every(isShdrNumber)) obs = base(parts.join(' '))
        else obs = this.#bad(item, token, base)
      } else if (isShdrNumber(token)) {
        const v = Number(token)
        obs = base(v)
        const c = it.constraints
        if (c && ((c.minimum !== undefined && v < c.minimum) || (c.maximum !== undefined && v > c.maximum))) {
          this.#problem(item, obs, 'UNCERTAIN', `${v} is outside [${c.minimum ?? '-∞'}, ${c.maximum ?? '∞'}]`)
        }
      } else obs = this.#bad(item, token, base)
    } else {
      obs = base(token)
      const allowed = it.constraints?.values
      if (allowed && allowed.length > 0 && !allowed.includes(token)) {
        this.#problem(item, obs, 'UNCERTAIN', `'${token}' is not one of ${allowed.join(', ')}`)
      }
    }
    if (o.attributes.resetTriggered) obs.attributes.resetTriggered = o.attributes.resetTriggered
    return obs
  }

  #bad(item: AgentItem, token: string, base: (v: string | number) => Observation): Observation {
    const obs = base(UNAVAILABLE)
    const shown = token.length > 40 ? `${token.slice(0, 40)}…` : token
    this.#problem(item, obs, 'BAD', `not a number: '${shown}'`)
    return obs
  }

  #timeSeries(item: AgentItem, o: AgentObservation, base: (v: string | number) => Observation): Observation {
    const countText = o.attributes.sampleCount ?? ''
    const rateText = o.attributes.sampleRate ?? ''
    const valuesText = o.text.trim()
    if (isUnavailable(valuesText) || (valuesText === '' && countText === '')) return base(UNAVAILABLE)
    const values = valuesText === '' ? [] : valuesText.split(/\s+/)
    const count = /^\d+$/.test(countText) ? Number(countText) : Number.NaN
    const rate = rateText === '' ? undefined : isShdrNumber(rateText) ? Number(rateText) : Number.NaN
    if (Number.isNaN(count) || (rate !== undefined && Number.isNaN(rate)) || !values.every(isShdrNumber)) {
      const obs = base(UNAVAILABLE)
      this.#problem(item, obs, 'BAD', `not a time series: '${countText}|${rateText}|${valuesText.slice(0, 40)}'`)
      return obs
    }
    const obs = base(values.map(Number).join(' '))
    obs.attributes.sampleCount = count
    if (rate !== undefined) obs.attributes.sampleRate = rate
    if (count !== values.length) {
      this.#problem(item, obs, 'UNCERTAIN', `sampleCount ${count} but ${values.length} values`)
    }
    return obs
  }
}
