/**
 * A synthetic MTConnect agent for the agent client's tests and the simulator of examples/mtconnect-agent-factory
 * (node:http on 127.0.0.1, or the host given): it answers `probe`, `current`,
 * `sample` (a plain document, or streamed as multipart/x-mixed-replace with `interval` and `heartbeat`), `assets`
 * and `asset/<id>` with documents of the standard's XML (MTConnect 2.2 namespaces) — or, with `format`, in JSON as
 * an agent configured to answer JSON writes it, in its version 1 or version 2 layout (see `#group` and
 * ../mtconnect/json-document.ts) — from devices and observations the test gives it. Written from the standard's description of the documents, to check our client and to
 * show it at work; not an agent to put in front of real machines.
 *
 * What a test can do to it: emit observations (each gets the next sequence and a timestamp of its own, one
 * millisecond apart, written with microseconds as agents do), add and remove asset documents (with the
 * AssetChanged / AssetRemoved events), restart it (a new instanceId, sequences from 1 again, every item
 * UNAVAILABLE first), keep a small buffer (older observations are dropped: `firstSequence` moves), stop and start
 * it (connections refused meanwhile), hold its streams (no part, no heartbeat) and release them, and slip a
 * malformed or an oversized part into every open stream. `emitted` keeps every observation of the current
 * instance, so a test knows what a client must have.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import {
  MTCONNECT_VERSION,
  mtconnectNamespace,
  observationElement as mtconnectObservationElement,
  mtconnectTypeToTag,
  xmlAttributes,
  xmlEscape,
} from '@openfactory/model'

export type PeerCategory = 'SAMPLE' | 'EVENT' | 'CONDITION'

/** The documents' format: the standard's XML, or an agent's JSON in its version 1 or version 2 layout. */
export type PeerFormat = 'xml' | 'json1' | 'json2'

/** The formats a test runs through, XML first. */
export const PEER_FORMATS: readonly PeerFormat[] = ['xml', 'json1', 'json2']

export interface PeerDataItem {
  readonly id: string
  readonly category: PeerCategory
  readonly type: string
  readonly name?: string
  readonly subType?: string
  readonly units?: string
  readonly representation?: 'VALUE' | 'DATA_SET' | 'TABLE' | 'TIME_SERIES'
}

export interface PeerComponent {
  /** Element name: `Rotary`, `Controller`, `Path`... */
  readonly type: string
  readonly id: string
  readonly name?: string
  readonly items?: readonly PeerDataItem[]
  readonly components?: readonly PeerComponent[]
}

export interface PeerDevice {
  readonly id: string
  readonly name: string
  readonly uuid: string
  readonly items: readonly PeerDataItem[]
  readonly components: readonly PeerComponent[]
}

/** One value to emit: the text of a sample or event, a condition, or a data set / table. */
export type PeerValue =
  | { readonly id: string; readonly value: string; readonly attributes?: Readonly<Record<string, string>> }
  | {
      readonly id: string
      readonly level: 'NORMAL' | 'WARNING' | 'FAULT' | 'UNAVAILABLE'
      readonly nativeCode?: string
      readonly nativeSeverity?: string
      readonly qualifier?: string
      readonly text?: string
    }
  | {
      readonly id: string
      readonly entries: Readonly<Record<string, string | null | Readonly<Record<string, string>>>>
      readonly resetTriggered?: string
    }

/** An observation the peer holds. */
export interface PeerObservation {
  readonly sequence: number
  readonly timestamp: string
  readonly item: PeerDataItem
  readonly device: PeerDevice
  readonly component: { readonly type: string; readonly id: string; readonly name?: string }
  readonly value: PeerValue
}

export interface PeerAsset {
  readonly assetId: string
  readonly type: string
  readonly deviceUuid: string
  /** The XML inside the asset element. */
  readonly inner: string
  /** What the asset holds besides its identity, in a JSON answer (default: nothing). */
  readonly json?: Readonly<Record<string, unknown>>
  timestamp: string
  removed: boolean
}

export interface AgentPeerOptions {
  readonly devices: readonly PeerDevice[]
  /** Observations kept (default 4096); older ones are dropped and `firstSequence` moves. */
  readonly bufferSize?: number
  /** What a stream whose client fell behind the buffer gets: an OUT_OF_RANGE error part (default), or the parts
   * from `firstSequence` on (the header then says `firstSequence` > the client's position). */
  readonly outOfRange?: 'error' | 'skip'
  /** Epoch ms of the first observation's timestamp (default 2025-06-01T00:00:00Z). */
  readonly baseTime?: number
  /** After the initial UNAVAILABLE of every item, the devices' AVAILABILITY items say AVAILABLE (default true). */
  readonly available?: boolean
  /** Timestamps from the wall clock instead of `baseTime` + 1 ms per observation (a simulator's). */
  readonly wallClock?: boolean
  /** Keep every observation in `emitted` (default true: tests read it; a long-running simulator says false). */
  readonly keepEmitted?: boolean
  /** The first instanceId (default 1 700 000 001; a simulator gives the time, so each run of it has its own). */
  readonly firstInstanceId?: number
  /**
   * The documents' format, whatever the client asks for (an agent configured to answer one format): `xml`
   * (default), or JSON in the version 1 (`json1`) or version 2 (`json2`) layout. Content-Type `text/xml` or
   * `application/json`, on each multipart part too.
   */
  readonly format?: PeerFormat
  /** Where to listen (default 127.0.0.1) and on which port (default: any free one). */
  readonly host?: string
  readonly port?: number
}

interface Stream {
  readonly res: http.ServerResponse
  readonly boundary: string
  cursor: number
  readonly count: number
  readonly heartbeatMs: number
  lastPartAt: number
  timer: NodeJS.Timeout
}

const STREAMS_NS = mtconnectNamespace('Streams')
const DEVICES_NS = mtconnectNamespace('Devices')
const ASSETS_NS = mtconnectNamespace('Assets')
const ERROR_NS = mtconnectNamespace('Error')

const esc = xmlEscape
const attrs = xmlAttributes

/** `POSITION` → `Position`. */
const pascal = mtconnectTypeToTag

/** The element an observation of this item is written as: its type in PascalCase, with the representation's suffix. */
function observationElement(item: PeerDataItem): string {
  return mtconnectObservationElement(item.type, item.representation)
}

/** A JSON answer's scalar: a decimal number as a JSON number (as an agent writes a number it parsed), else text. */
function jsonScalar(text: string): string | number {
  return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text) ? Number(text) : text
}

type JsonObject = Record<string, unknown>

/** An agent's timestamp: ISO-8601 with microseconds. */
function agentTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z')
}

export class AgentPeer {
  readonly #opts: AgentPeerOptions
  readonly #server: http.Server
  readonly #sockets = new Set<Socket>()
  readonly #streams = new Set<Stream>()
  #port = 0
  #listening = false
  #instance = 0
  #instanceId = ''
  #buffer: PeerObservation[] = []
  #next = 1
  /** Latest observation per item (conditions: the active ones by native code), kept past the buffer. */
  readonly #latest = new Map<string, PeerObservation[]>()
  #clock = 0
  readonly #assets = new Map<string, PeerAsset>()
  #held = false
  #inject: { kind: 'malformed' } | { kind: 'oversized'; bytes: number } | undefined
  /** Every observation of the current instance, in order (also those the buffer dropped). */
  emitted: PeerObservation[] = []
  /** Every request path, in order. */
  readonly requests: string[] = []
  readonly #items = new Map<
    string,
    { item: PeerDataItem; device: PeerDevice; component: PeerObservation['component'] }
  >()

  constructor(opts: AgentPeerOptions) {
    this.#opts = opts
    this.#port = opts.port ?? 0
    for (const d of opts.devices) {
      const walk = (
        owner: { items?: readonly PeerDataItem[]; components?: readonly PeerComponent[] },
        comp: PeerObservation['component'],
      ) => {
        for (const item of owner.items ?? []) this.#items.set(item.id, { item, device: d, component: comp })
        for (const c of owner.components ?? []) walk(c, { type: c.type, id: c.id, ...(c.name ? { name: c.name } : {}) })
      }
      walk(d, { type: 'Device', id: d.id, name: d.name })
    }
    this.#server = http.createServer((req, res) => this.#handle(req, res))
    this.#server.on('connection', (s) => {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
    this.#begin()
  }

  get port(): number {
    return this.#port
  }

  get instanceId(): string {
    return this.#instanceId
  }

  get firstSequence(): number {
    return this.#buffer[0]?.sequence ?? this.#next
  }

  get nextSequence(): number {
    return this.#next
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.#streams.size
  }

  /** Listens (again, on the same port after `stop`). */
  async start(): Promise<void> {
    if (this.#listening) return
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#port, this.#opts.host ?? '127.0.0.1', () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    this.#port = (this.#server.address() as AddressInfo).port
    this.#listening = true
  }

  /** Stops listening and drops every connection: the agent is gone (connections refused until `start`). */
  async stop(): Promise<void> {
    for (const s of this.#streams) clearInterval(s.timer)
    this.#streams.clear()
    for (const s of this.#sockets) s.destroy()
    if (!this.#listening) return
    this.#listening = false
    await new Promise((r) => this.#server.close(r))
  }

  /** A new run of the agent: another instanceId, sequences from 1, every item UNAVAILABLE. Open streams are dropped. */
  restart(): void {
    for (const s of this.#streams) {
      clearInterval(s.timer)
      s.res.destroy()
    }
    this.#streams.clear()
    this.#begin()
  }

  #begin(): void {
    this.#instance++
    this.#instanceId = String((this.#opts.firstInstanceId ?? 1_700_000_001) + this.#instance - 1)
    this.#buffer = []
    this.#next = 1
    this.#latest.clear()
    this.emitted = []
    const initial: PeerValue[] = []
    for (const [id, { item }] of this.#items) {
      initial.push(item.category === 'CONDITION' ? { id, level: 'UNAVAILABLE' } : { id, value: 'UNAVAILABLE' })
    }
    this.emit(initial)
    if (this.#opts.available ?? true) {
      const avail = [...this.#items.values()].filter((i) => i.item.type === 'AVAILABILITY')
      this.emit(avail.map((i) => ({ id: i.item.id, value: 'AVAILABLE' })))
    }
  }

  /** Emits observations; returns their sequences. */
  emit(values: readonly PeerValue[]): number[] {
    const seqs: number[] = []
    const base = this.#opts.baseTime ?? Date.parse('2025-06-01T00:00:00Z')
    for (const v of values) {
      const known = this.#items.get(v.id)
      if (!known) throw new Error(`the peer has no data item ${v.id}`)
      const o: PeerObservation = {
        sequence: this.#next++,
        timestamp: agentTime(this.#opts.wallClock ? Date.now() : base + this.#clock++),
        item: known.item,
        device: known.device,
        component: known.component,
        value: v,
      }
      seqs.push(o.sequence)
      this.#buffer.push(o)
      if (this.#opts.keepEmitted ?? true) this.emitted.push(o)
      const size = this.#opts.bufferSize ?? 4096
      if (this.#buffer.length > size) this.#buffer.splice(0, this.#buffer.length - size)
      if ('level' in v) {
        const active = (this.#latest.get(v.id) ?? []).filter(
          (a) => 'level' in a.value && a.value.level !== 'NORMAL' && a.value.level !== 'UNAVAILABLE',
        )
        if (v.level === 'NORMAL' && v.nativeCode) {
          const left = active.filter((a) => 'level' in a.value && a.value.nativeCode !== v.nativeCode)
          this.#latest.set(v.id, left.length > 0 ? left : [o])
        } else if (v.level === 'NORMAL' || v.level === 'UNAVAILABLE') this.#latest.set(v.id, [o])
        else {
          const left = active.filter((a) => 'level' in a.value && a.value.nativeCode !== v.nativeCode)
          this.#latest.set(v.id, [...left, o])
        }
      } else this.#latest.set(v.id, [o])
    }
    return seqs
  }

  /** The time an asset document is stamped with: the next observation's. */
  #now(): string {
    return agentTime(
      this.#opts.wallClock ? Date.now() : (this.#opts.baseTime ?? Date.parse('2025-06-01T00:00:00Z')) + this.#clock,
    )
  }

  /** Adds (or changes) an asset document, with an AssetChanged event on the device's `assetChangedId` item. */
  putAsset(asset: Omit<PeerAsset, 'timestamp' | 'removed'>, assetChangedId: string): void {
    const timestamp = this.#now()
    this.#assets.set(asset.assetId, { ...asset, timestamp, removed: false })
    this.emit([{ id: assetChangedId, value: asset.assetId, attributes: { assetType: asset.type } }])
  }

  /** Marks an asset document removed, with an AssetRemoved event. */
  removeAsset(assetId: string, assetRemovedId: string): void {
    const a = this.#assets.get(assetId)
    if (!a) throw new Error(`no asset ${assetId}`)
    a.removed = true
    a.timestamp = this.#now()
    this.emit([{ id: assetRemovedId, value: assetId, attributes: { assetType: a.type } }])
  }

  /** Streams send nothing (no part, no heartbeat) until `release`. */
  hold(): void {
    this.#held = true
  }

  release(): void {
    this.#held = false
  }

  /** The next part of every open stream is not well-formed XML (in JSON: not valid JSON). */
  injectMalformed(): void {
    this.#inject = { kind: 'malformed' }
  }

  /** The next part of every open stream is a well-formed heartbeat document of exactly `bytes` bytes. */
  injectOversized(bytes: number): void {
    this.#inject = { kind: 'oversized', bytes }
  }

  // --- documents ---------------------------------------------------------------------------------------------

  #header(extra: Readonly<Record<string, string | number | undefined>> = {}): string {
    return `<Header${attrs({
      creationTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      sender: 'agent-peer',
      instanceId: this.#instanceId,
      version: `${MTCONNECT_VERSION}.0.0`,
      bufferSize: this.#opts.bufferSize ?? 4096,
      ...extra,
    })}/>`
  }

  probe(): string {
    if (this.#json) return this.#probeJson()
    const item = (d: PeerDataItem) =>
      `<DataItem${attrs({ category: d.category, id: d.id, name: d.name, type: d.type, subType: d.subType, units: d.units, representation: d.representation })}/>`
    const items = (list: readonly PeerDataItem[] | undefined) =>
      list && list.length > 0 ? `<DataItems>${list.map(item).join('')}</DataItems>` : ''
    const comps = (list: readonly PeerComponent[] | undefined): string =>
      list && list.length > 0
        ? `<Components>${list.map((c) => `<${c.type}${attrs({ id: c.id, name: c.name })}>${items(c.items)}${comps(c.components)}</${c.type}>`).join('')}</Components>`
        : ''
    const devices = this.#opts.devices
      .map(
        (d) =>
          `<Device${attrs({ id: d.id, name: d.name, uuid: d.uuid })}>${items(d.items)}${comps(d.components)}</Device>`,
      )
      .join('')
    return `<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectDevices xmlns="${DEVICES_NS}">${this.#header({
      assetBufferSize: 64,
      assetCount: this.#assets.size,
    })}<Devices>${devices}</Devices></MTConnectDevices>`
  }

  #observation(o: PeerObservation): string {
    const v = o.value
    const common = {
      dataItemId: o.item.id,
      timestamp: o.timestamp,
      sequence: o.sequence,
      name: o.item.name,
      subType: o.item.subType,
    }
    if ('level' in v) {
      const el = pascal(v.level)
      const a = attrs({
        ...common,
        type: o.item.type,
        nativeCode: v.nativeCode,
        nativeSeverity: v.nativeSeverity,
        qualifier: v.qualifier,
      })
      return v.text ? `<${el}${a}>${esc(v.text)}</${el}>` : `<${el}${a}/>`
    }
    const el = observationElement(o.item)
    if ('entries' in v) {
      const entries = Object.entries(v.entries)
      const body = entries
        .map(([k, e]) => {
          if (e === null) return `<Entry${attrs({ key: k, removed: 'true' })}/>`
          if (typeof e === 'object') {
            const cells = Object.entries(e)
              .map(([ck, cv]) => `<Cell${attrs({ key: ck })}>${esc(cv)}</Cell>`)
              .join('')
            return `<Entry${attrs({ key: k })}>${cells}</Entry>`
          }
          return `<Entry${attrs({ key: k })}>${esc(e)}</Entry>`
        })
        .join('')
      return `<${el}${attrs({ ...common, count: entries.length, resetTriggered: v.resetTriggered })}>${body}</${el}>`
    }
    return `<${el}${attrs({ ...common, ...v.attributes })}>${esc(v.value)}</${el}>`
  }

  /** A Streams document of these observations, grouped as an agent groups them. */
  streams(observations: readonly PeerObservation[], header: Readonly<Record<string, number>>): string {
    if (this.#json) return this.#streamsJson(observations, header)
    const out: string[] = []
    for (const d of this.#opts.devices) {
      const mine = observations.filter((o) => o.device === d)
      if (mine.length === 0) continue
      const byComponent = new Map<string, PeerObservation[]>()
      for (const o of mine) {
        const list = byComponent.get(o.component.id)
        if (list) list.push(o)
        else byComponent.set(o.component.id, [o])
      }
      const comps = [...byComponent.values()].map((list) => {
        const c = (list[0] as PeerObservation).component
        const group = (cat: PeerCategory, name: string) => {
          const of = list.filter((o) => o.item.category === cat)
          return of.length > 0 ? `<${name}>${of.map((o) => this.#observation(o)).join('')}</${name}>` : ''
        }
        return `<ComponentStream${attrs({ component: c.type, name: c.name, componentId: c.id })}>${group('SAMPLE', 'Samples')}${group('EVENT', 'Events')}${group('CONDITION', 'Condition')}</ComponentStream>`
      })
      out.push(`<DeviceStream${attrs({ name: d.name, uuid: d.uuid })}>${comps.join('')}</DeviceStream>`)
    }
    return `<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectStreams xmlns="${STREAMS_NS}">${this.#header(header)}<Streams>${out.join('')}</Streams></MTConnectStreams>`
  }

  #sequences(next: number): Record<string, number> {
    return { nextSequence: next, firstSequence: this.firstSequence, lastSequence: this.#next - 1 }
  }

  current(): string {
    const latest = [...this.#latest.values()].flat().sort((a, b) => a.sequence - b.sequence)
    return this.streams(latest, this.#sequences(this.#next))
  }

  #error(code: string, message: string): string {
    if (this.#json) return this.#errorJson(code, message)
    return `<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectError xmlns="${ERROR_NS}">${this.#header()}<Errors><Error errorCode="${code}">${esc(message)}</Error></Errors></MTConnectError>`
  }

  #assetsDocument(assets: readonly PeerAsset[]): string {
    if (this.#json) return this.#assetsJson(assets)
    const body = assets
      .map(
        (a) =>
          `<${a.type}${attrs({ assetId: a.assetId, timestamp: a.timestamp, deviceUuid: a.deviceUuid, removed: a.removed ? 'true' : undefined })}>${a.inner}</${a.type}>`,
      )
      .join('')
    return `<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectAssets xmlns="${ASSETS_NS}">${this.#header({ assetBufferSize: 64, assetCount: this.#assets.size })}<Assets>${body}</Assets></MTConnectAssets>`
  }

  // --- documents in JSON --------------------------------------------------------------------------------------
  //
  // An agent's JSON answer is `{"MTConnect<Kind>": {"jsonVersion", "schemaVersion", "Header", ...}}`: an element is
  // an object, its attributes are its keys (numbers where they are numbers), its text is `value` (a vector or a
  // time series an array of numbers, a data set an object of entries, `{"removed": true}` for a removed one, a
  // table an object of rows). Children are grouped by `#group`, the one place the two layouts differ (and the
  // ComponentStreams of a DeviceStream).

  get #json(): boolean {
    return this.#opts.format === 'json1' || this.#opts.format === 'json2'
  }

  /**
   * An element's children of several names: version 1 an array of one-key objects in document order
   * (`[{"Position": {...}}, {"Load": {...}}]`), version 2 one array per name (`{"Position": [...], "Load": [...]}`).
   */
  #group(children: readonly (readonly [string, JsonObject])[]): unknown {
    if (this.#opts.format === 'json1') return children.map(([name, body]) => ({ [name]: body }))
    const out: Record<string, JsonObject[]> = {}
    for (const [name, body] of children) {
      const list = out[name]
      if (list) list.push(body)
      else out[name] = [body]
    }
    return out
  }

  #jsonDocument(root: string, body: JsonObject): string {
    return JSON.stringify({
      [root]: { jsonVersion: this.#opts.format === 'json1' ? 1 : 2, schemaVersion: '2.2', ...body },
    })
  }

  #jsonHeader(extra: Readonly<Record<string, number>> = {}): JsonObject {
    return {
      creationTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      sender: 'agent-peer',
      instanceId: Number(this.#instanceId),
      version: '2.2.0.0',
      bufferSize: this.#opts.bufferSize ?? 4096,
      ...extra,
    }
  }

  #probeJson(): string {
    const item = (d: PeerDataItem): JsonObject => ({
      category: d.category,
      id: d.id,
      name: d.name,
      type: d.type,
      subType: d.subType,
      units: d.units,
      representation: d.representation,
    })
    const content = (owner: {
      readonly items?: readonly PeerDataItem[]
      readonly components?: readonly PeerComponent[]
    }): JsonObject => {
      const out: JsonObject = {}
      if (owner.items && owner.items.length > 0) {
        out.DataItems = this.#group(owner.items.map((d) => ['DataItem', item(d)] as const))
      }
      if (owner.components && owner.components.length > 0) {
        out.Components = this.#group(
          owner.components.map((c) => [c.type, { id: c.id, name: c.name, ...content(c) }] as const),
        )
      }
      return out
    }
    const devices = this.#opts.devices.map(
      (d) => ['Device', { id: d.id, name: d.name, uuid: d.uuid, ...content(d) }] as const,
    )
    return this.#jsonDocument('MTConnectDevices', {
      Header: this.#jsonHeader({ assetBufferSize: 64, assetCount: this.#assets.size }),
      Devices: this.#group(devices),
    })
  }

  /** One observation: `[element name, its object]`. */
  #observationJson(o: PeerObservation): [string, JsonObject] {
    const v = o.value
    const common = {
      dataItemId: o.item.id,
      timestamp: o.timestamp,
      sequence: o.sequence,
      name: o.item.name,
      subType: o.item.subType,
    }
    if ('level' in v) {
      return [
        pascal(v.level),
        {
          ...common,
          type: o.item.type,
          nativeCode: v.nativeCode,
          nativeSeverity: v.nativeSeverity,
          qualifier: v.qualifier,
          ...(v.text ? { value: v.text } : {}),
        },
      ]
    }
    const el = observationElement(o.item)
    if ('entries' in v) {
      const entries = Object.entries(v.entries)
      const value: JsonObject = {}
      for (const [k, e] of entries) {
        if (e === null) value[k] = { removed: true }
        else if (typeof e === 'object') {
          value[k] = Object.fromEntries(Object.entries(e).map(([ck, cv]) => [ck, jsonScalar(cv)]))
        } else value[k] = jsonScalar(e)
      }
      return [el, { ...common, count: entries.length, resetTriggered: v.resetTriggered, value }]
    }
    let value: unknown = v.value
    if (o.item.category === 'SAMPLE' && v.value !== 'UNAVAILABLE') {
      const parts = v.value.trim().split(/\s+/)
      value = parts.length > 1 || o.item.representation === 'TIME_SERIES' ? parts.map(jsonScalar) : jsonScalar(v.value)
    }
    return [el, { ...common, ...v.attributes, value }]
  }

  #streamsJson(observations: readonly PeerObservation[], header: Readonly<Record<string, number>>): string {
    const devices: [string, JsonObject][] = []
    for (const d of this.#opts.devices) {
      const mine = observations.filter((o) => o.device === d)
      if (mine.length === 0) continue
      const byComponent = new Map<string, PeerObservation[]>()
      for (const o of mine) {
        const list = byComponent.get(o.component.id)
        if (list) list.push(o)
        else byComponent.set(o.component.id, [o])
      }
      const comps = [...byComponent.values()].map((list) => {
        const c = (list[0] as PeerObservation).component
        const body: JsonObject = { component: c.type, name: c.name, componentId: c.id }
        for (const [cat, name] of [
          ['SAMPLE', 'Samples'],
          ['EVENT', 'Events'],
          ['CONDITION', 'Condition'],
        ] as const) {
          const of = list.filter((o) => o.item.category === cat)
          if (of.length > 0) body[name] = this.#group(of.map((o) => this.#observationJson(o)))
        }
        return body
      })
      // Version 1 puts a ComponentStreams array between a DeviceStream and its streams; version 2 does not.
      const streams =
        this.#opts.format === 'json1'
          ? { ComponentStreams: this.#group(comps.map((c) => ['ComponentStream', c] as const)) }
          : { ComponentStream: comps }
      devices.push(['DeviceStream', { name: d.name, uuid: d.uuid, ...streams }])
    }
    return this.#jsonDocument('MTConnectStreams', { Header: this.#jsonHeader(header), Streams: this.#group(devices) })
  }

  /** Version 1 writes `Error` with the message as its value; version 2 names the element after the code. */
  #errorJson(code: string, message: string): string {
    const error: [string, JsonObject] =
      this.#opts.format === 'json1'
        ? ['Error', { errorCode: code, value: message }]
        : [pascal(code), { errorCode: code, ErrorMessage: message }]
    return this.#jsonDocument('MTConnectError', { Header: this.#jsonHeader(), Errors: this.#group([error]) })
  }

  #assetsJson(assets: readonly PeerAsset[]): string {
    const list = assets.map(
      (a) =>
        [
          a.type,
          {
            assetId: a.assetId,
            timestamp: a.timestamp,
            deviceUuid: a.deviceUuid,
            ...(a.removed ? { removed: true } : {}),
            ...a.json,
          },
        ] as const,
    )
    return this.#jsonDocument('MTConnectAssets', {
      Header: this.#jsonHeader({ assetBufferSize: 64, assetCount: this.#assets.size }),
      Assets: this.#group(list),
    })
  }

  /** The observations [from, from + count) and the header of that answer. */
  #slice(from: number, count: number): { observations: PeerObservation[]; next: number } {
    const observations = this.#buffer.filter((o) => o.sequence >= from).slice(0, count)
    const last = observations.at(-1)
    return { observations, next: last ? last.sequence + 1 : Math.max(from, this.firstSequence) }
  }

  // --- HTTP --------------------------------------------------------------------------------------------------

  get #contentType(): string {
    return this.#json ? 'application/json' : 'text/xml'
  }

  #send(res: http.ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'Content-Type': this.#contentType, 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://peer')
    this.requests.push(`${url.pathname}${url.search}`)
    const answer = this.#answer(url)
    if (answer) this.#send(res, answer[0], answer[1])
    else this.#stream(url, res)
  }

  /** The document answering a request; undefined for a streaming sample. */
  #answer(url: URL): [number, string] | undefined {
    const path = url.pathname
    if (path === '/probe') return [200, this.probe()]
    if (path === '/current') return [200, this.current()]
    if (path === '/assets') return [200, this.#assetsDocument([...this.#assets.values()].filter((a) => !a.removed))]
    if (path.startsWith('/asset/')) {
      const a = this.#assets.get(decodeURIComponent(path.slice('/asset/'.length)))
      return a ? [200, this.#assetsDocument([a])] : [404, this.#error('ASSET_NOT_FOUND', `no asset ${path}`)]
    }
    if (path !== '/sample') return [404, this.#error('UNSUPPORTED', `no such request ${path}`)]
    const from = Number(url.searchParams.get('from') ?? this.firstSequence)
    const count = Number(url.searchParams.get('count') ?? 100)
    if (from < this.firstSequence || from > this.#next) {
      return [404, this.#error('OUT_OF_RANGE', `'from' must be in [${this.firstSequence}, ${this.#next}]`)]
    }
    if (url.searchParams.get('interval') !== null) return undefined
    const s = this.#slice(from, count)
    return [200, this.streams(s.observations, this.#sequences(s.next))]
  }

  /** A streaming sample: multipart parts every `interval` ms when there is data, heartbeats when there is none. */
  #stream(url: URL, res: http.ServerResponse): void {
    const from = Number(url.searchParams.get('from') ?? this.firstSequence)
    const count = Number(url.searchParams.get('count') ?? 100)
    const interval = Number(url.searchParams.get('interval'))
    const boundary = `peer${Math.random().toString(16).slice(2)}`
    res.writeHead(200, { 'Content-Type': `multipart/x-mixed-replace;boundary=${boundary}` })
    const stream: Stream = {
      res,
      boundary,
      cursor: from,
      count,
      heartbeatMs: Number(url.searchParams.get('heartbeat') ?? 10_000),
      lastPartAt: 0,
      timer: setInterval(() => this.#tick(stream), Math.max(5, Number(interval))),
    }
    this.#streams.add(stream)
    res.on('close', () => {
      clearInterval(stream.timer)
      this.#streams.delete(stream)
    })
    this.#tick(stream)
  }

  #part(s: Stream, body: string | Buffer): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    s.res.write(`--${s.boundary}\r\nContent-type: ${this.#contentType}\r\nContent-length: ${bytes.length}\r\n\r\n`)
    s.res.write(bytes)
    s.res.write('\r\n')
    s.lastPartAt = Date.now()
  }

  #tick(s: Stream): void {
    if (this.#held) return
    const inject = this.#inject
    if (inject) {
      this.#inject = undefined
      if (inject.kind === 'malformed') {
        this.#part(
          s,
          this.#json
            ? `{"MTConnectStreams": {"Header": {"instanceId": ${this.#instanceId}} "Streams": {}}}`
            : `<?xml version="1.0"?>\n<MTConnectStreams xmlns="${STREAMS_NS}"><Header instanceId="${this.#instanceId}"<Streams/>`,
        )
      } else {
        const doc = this.streams([], this.#sequences(s.cursor))
        const pad = inject.bytes - Buffer.byteLength(doc)
        if (pad < 0) throw new Error(`an oversized part must be at least ${Buffer.byteLength(doc)} bytes`)
        // White space where the format allows it: before the document's first character in JSON.
        this.#part(s, this.#json ? ' '.repeat(pad) + doc : doc.replace('<Streams>', `${' '.repeat(pad)}<Streams>`))
      }
      return
    }
    if (s.cursor < this.firstSequence) {
      if ((this.#opts.outOfRange ?? 'error') === 'error') {
        this.#part(s, this.#error('OUT_OF_RANGE', `sequence ${s.cursor} is no longer in the buffer`))
        s.res.end()
        return
      }
      s.cursor = this.firstSequence // skip mode: the header says firstSequence > the client's position
    }
    if (s.cursor < this.#next) {
      const part = this.#slice(s.cursor, s.count)
      this.#part(s, this.streams(part.observations, this.#sequences(part.next)))
      s.cursor = part.next
      return
    }
    if (Date.now() - s.lastPartAt >= s.heartbeatMs) this.#part(s, this.streams([], this.#sequences(s.cursor)))
  }
}

/** Starts a peer, stopped after the test. */
export async function startAgentPeer(
  t: { after: (fn: () => Promise<void> | void) => void },
  opts: AgentPeerOptions,
): Promise<AgentPeer> {
  const peer = new AgentPeer(opts)
  await peer.start()
  t.after(() => peer.stop())
  return peer
}

/** A synthetic lathe: a spindle (samples, a temperature condition), a controller path (events, a message, a data
 * set, a table), a time series, the device's availability and asset events. */
export const LATHE: PeerDevice = {
  id: 'lathe',
  name: 'lathe-1',
  uuid: 'PEER-LATHE-1',
  items: [
    { id: 'avail', category: 'EVENT', type: 'AVAILABILITY' },
    { id: 'asset_chg', category: 'EVENT', type: 'ASSET_CHANGED' },
    { id: 'asset_rem', category: 'EVENT', type: 'ASSET_REMOVED' },
  ],
  components: [
    {
      type: 'Rotary',
      id: 'spindle',
      name: 'C',
      items: [
        { id: 's_speed', category: 'SAMPLE', type: 'ROTARY_VELOCITY', subType: 'ACTUAL', units: 'REVOLUTION/MINUTE' },
        { id: 's_temp', category: 'SAMPLE', type: 'TEMPERATURE', units: 'CELSIUS' },
        { id: 's_vib', category: 'SAMPLE', type: 'DISPLACEMENT', units: 'MILLIMETER', representation: 'TIME_SERIES' },
        { id: 's_temp_cond', category: 'CONDITION', type: 'TEMPERATURE' },
      ],
    },
    {
      type: 'Controller',
      id: 'cont',
      name: 'controller',
      items: [{ id: 'msg', category: 'EVENT', type: 'MESSAGE' }],
      components: [
        {
          type: 'Path',
          id: 'path1',
          name: 'path',
          items: [
            { id: 'execution', category: 'EVENT', type: 'EXECUTION' },
            { id: 'program', category: 'EVENT', type: 'PROGRAM' },
            { id: 'vars', category: 'EVENT', type: 'VARIABLE', representation: 'DATA_SET' },
            { id: 'offsets', category: 'EVENT', type: 'WORK_OFFSET', representation: 'TABLE' },
            { id: 'path_pos', category: 'SAMPLE', type: 'PATH_POSITION', units: 'MILLIMETER_3D' },
          ],
        },
      ],
    },
  ],
}

/** A second device on the same agent. */
export const PRESS: PeerDevice = {
  id: 'press',
  name: 'press-2',
  uuid: 'PEER-PRESS-2',
  items: [{ id: 'press_avail', category: 'EVENT', type: 'AVAILABILITY' }],
  components: [
    {
      type: 'Linear',
      id: 'ram',
      name: 'ram',
      items: [
        { id: 'ram_pos', category: 'SAMPLE', type: 'POSITION', units: 'MILLIMETER' },
        { id: 'ram_hyd', category: 'CONDITION', type: 'HYDRAULIC' },
      ],
    },
  ],
}
