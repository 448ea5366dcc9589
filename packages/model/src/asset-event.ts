/**
 * The one codec for what rides on the asset topics. Every writer and every reader goes through it; nobody
 * builds or parses that JSON by hand.
 *
 * `ofa_assets` (key: the asset UUID) carries one record per attribute change, each in the reference wire
 * format of `observation.ts` (`{"ID", "VALUE", "TAG", "TYPE", "attributes"}`). What a record means follows
 * from its ID and TYPE, read in this order:
 *
 * | kind          | ID                                   | TYPE          | TAG               | VALUE                                  |
 * | ------------- | ------------------------------------ | ------------- | ----------------- | -------------------------------------- |
 * | `command`     | `<Method>_CMD`                       | `OpenFactory` | `Method.Command`  | the envelope as JSON text (`command.ts`) |
 * | `result`      | `<Method>_RESULT`                    | `OpenFactory` | `Method.Result`   | the result as JSON text                |
 * | `method`      | the method's name                    | `Method`      | `Method`          | `{"description", "arguments"}` as text |
 * | `availability`| `avail`, `agent_avail`               | `Events`      | `Availability`    | `AVAILABLE` / `UNAVAILABLE` (+ `ttl_ms`, `reason`) |
 * | `declaration` | `AssetType`, `DockerService`, `uns_id`, `references_above`, `references_below` | `OpenFactory` | see `DECLARATION_TAGS` | text (references: comma-separated UUIDs) |
 * | `observation` | any other: a data item               | `Samples`, `Events`, `Condition`, `UNAVAILABLE` | the MTConnect type | number or text |
 *
 * Readers accept the reference's spellings too: field names in any case, a command's TYPE `Method`, a VALUE
 * given as a JSON object where we write text. Every event keeps the record as it is on the wire
 * (`observation`), so nothing a reader does not know about is lost.
 *
 * `ofa_registry` (compacted, key: the asset UUID) carries the declared `Asset` as JSON (`encodeAssetDeclaration`);
 * `ofa_asset_documents` (compacted, key: the document's id) carries `AssetDocument`s.
 */
import type {
  Asset,
  DataItem,
  DeviceComponent,
  DeviceDescription,
  MethodArgument,
  MethodContract,
  UnsPlacement,
} from './asset.ts'
import { COMMAND_STATUSES, COMMAND_SUFFIX, type CommandEnvelope, type CommandResult, RESULT_SUFFIX } from './command.ts'
import { OpenFactoryError } from './errors.ts'
import {
  decodeObservation,
  encodeObservation,
  type Observation,
  type ObservationAttributes,
  UNAVAILABLE,
  unavailableObservation,
} from './observation.ts'
import { isoTimestamp } from './time.ts'
import { AVAIL_ID, AVAILABLE } from './topics.ts'

// --- the events ------------------------------------------------------------------------------------------

interface EventBase {
  /** The record as it is on the wire. */
  readonly observation: Observation
}

/** A value of one data item: a sample, an event or a condition (or UNAVAILABLE). */
export interface ObservationEvent extends EventBase {
  readonly kind: 'observation'
}

export type DeclarationAttribute = 'AssetType' | 'DockerService' | 'uns_id' | 'references_above' | 'references_below'
export const DECLARATION_TAGS: Readonly<Record<DeclarationAttribute, string>> = {
  AssetType: 'AssetType',
  DockerService: 'DockerService',
  uns_id: 'UNS',
  references_above: 'AssetsReferences',
  references_below: 'AssetsReferences',
}

/** One of the reference's identity attributes of an asset (its type, service, UNS path, references). */
export interface DeclarationEvent extends EventBase {
  readonly kind: 'declaration'
  readonly attribute: DeclarationAttribute
  /** The text value; `references` holds the list for `references_above` / `references_below`. */
  readonly value: string
  readonly references?: readonly string[]
}

/** A method the asset offers, with its contract. */
export interface MethodEvent extends EventBase {
  readonly kind: 'method'
  readonly contract: MethodContract
}

/** A request to run a method (`<Method>_CMD`). */
export interface CommandEvent extends EventBase {
  readonly kind: 'command'
  readonly method: string
  readonly envelope: CommandEnvelope
}

/** The answer to a command (`<Method>_RESULT`). */
export interface CommandResultEvent extends EventBase {
  readonly kind: 'result'
  readonly method: string
  readonly result: CommandResult
}

/** Availability of the asset (`avail`) or of the agent serving it (`agent_avail`); a heartbeat when AVAILABLE. */
export interface AvailabilityEvent extends EventBase {
  readonly kind: 'availability'
  readonly id: 'avail' | 'agent_avail'
  readonly available: boolean
  /** How long an AVAILABLE stays true without the next heartbeat (`attributes.ttl_ms`). */
  readonly ttlMs?: number
  /** Why UNAVAILABLE (`attributes.reason`). */
  readonly reason?: string
}

export type AssetEvent =
  | ObservationEvent
  | DeclarationEvent
  | MethodEvent
  | CommandEvent
  | CommandResultEvent
  | AvailabilityEvent

export type AssetEventKind = AssetEvent['kind']

const DECLARATIONS: ReadonlySet<string> = new Set(Object.keys(DECLARATION_TAGS))

function invalidCommand(message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_COMMAND_INVALID', message, { cause })
}

/** A JSON object given as text (as we write it) or as an object (as some writers do). */
function jsonObject(value: unknown, what: string, fail: (m: string, c?: unknown) => OpenFactoryError) {
  let v = value
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v)
    } catch (err) {
      throw fail(`${what} is not JSON`, err)
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(`${what} must be a JSON object`)
  return v as Record<string, unknown>
}

function splitReferences(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== UNAVAILABLE)
}

function readMethodArguments(raw: unknown): MethodArgument[] {
  if (!Array.isArray(raw)) return []
  const out: MethodArgument[] = []
  for (const a of raw) {
    if (a === null || typeof a !== 'object' || typeof (a as { name?: unknown }).name !== 'string') continue
    out.push(a as MethodArgument)
  }
  return out
}

function readCommand(o: Observation, method: string): CommandEvent {
  const v = jsonObject(o.value, `command ${o.id}`, invalidCommand)
  const header = v.header as Record<string, unknown> | undefined
  if (!header || typeof header !== 'object' || typeof header.correlation_id !== 'string') {
    throw invalidCommand(`command ${o.id} has no header.correlation_id`)
  }
  const args = v.arguments ?? {}
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw invalidCommand(`command ${o.id} has arguments that are not an object`)
  }
  return {
    kind: 'command',
    observation: o,
    method,
    envelope: {
      header: {
        correlation_id: header.correlation_id,
        sender_uuid: typeof header.sender_uuid === 'string' ? header.sender_uuid : '',
        timestamp: typeof header.timestamp === 'string' ? header.timestamp : o.attributes.timestamp,
        signature: typeof header.signature === 'string' ? header.signature : null,
      },
      arguments: args as Record<string, unknown>,
    },
  }
}

function readResult(o: Observation, method: string): CommandResultEvent {
  const v = jsonObject(o.value, `result ${o.id}`, invalidCommand)
  if (typeof v.correlation_id !== 'string') throw invalidCommand(`result ${o.id} has no correlation_id`)
  if (!(COMMAND_STATUSES as readonly unknown[]).includes(v.status)) {
    throw invalidCommand(`result ${o.id} has status ${JSON.stringify(v.status)}`)
  }
  const result: { -readonly [K in keyof CommandResult]: CommandResult[K] } = {
    correlation_id: v.correlation_id,
    status: v.status as CommandResult['status'],
  }
  if (v.result !== undefined) result.result = v.result
  const e = v.error as Record<string, unknown> | undefined
  if (e !== undefined && e !== null && typeof e === 'object') {
    result.error = { code: String(e.code ?? ''), message: String(e.message ?? '') }
  }
  return { kind: 'result', observation: o, method, result }
}

/**
 * What an observation read from `ofa_assets` means (see the table above). Throws `OFA_COMMAND_INVALID` for a
 * `<Method>_CMD` or `<Method>_RESULT` whose VALUE is not a valid envelope or result.
 */
export function classifyObservation(o: Observation): AssetEvent {
  const id = o.id
  const type = o.type
  if (type === 'OpenFactory' || type === 'Method') {
    if (id.length > COMMAND_SUFFIX.length && id.endsWith(COMMAND_SUFFIX)) {
      return readCommand(o, id.slice(0, -COMMAND_SUFFIX.length))
    }
    if (id.length > RESULT_SUFFIX.length && id.endsWith(RESULT_SUFFIX)) {
      return readResult(o, id.slice(0, -RESULT_SUFFIX.length))
    }
  }
  if (type === 'Method') {
    let v: Record<string, unknown>
    try {
      v = jsonObject(o.value, `method ${id}`, invalidCommand)
    } catch {
      v = {}
    }
    return {
      kind: 'method',
      observation: o,
      contract: {
        name: id,
        description: typeof v.description === 'string' ? v.description : '',
        arguments: readMethodArguments(v.arguments),
      },
    }
  }
  if (id === AVAIL_ID || id === 'agent_avail') {
    const ttl = o.attributes.ttl_ms
    const reason = o.attributes.reason
    return {
      kind: 'availability',
      observation: o,
      id,
      available: o.value === AVAILABLE,
      ...(typeof ttl === 'number' && Number.isFinite(ttl) ? { ttlMs: ttl } : {}),
      ...(typeof reason === 'string' ? { reason } : {}),
    }
  }
  if (DECLARATIONS.has(id)) {
    const value = String(o.value)
    const attribute = id as DeclarationAttribute
    return attribute === 'references_above' || attribute === 'references_below'
      ? { kind: 'declaration', observation: o, attribute, value, references: splitReferences(value) }
      : { kind: 'declaration', observation: o, attribute, value }
  }
  return { kind: 'observation', observation: o }
}

/** Encodes an event as the JSON text of its `ofa_assets` record value. */
export function encodeAssetEvent(e: AssetEvent): string {
  return encodeObservation(e.observation)
}

/** Decodes an `ofa_assets` record value (bytes, text or a parsed object). Throws OFA_OBSERVATION_INVALID or OFA_COMMAND_INVALID. */
export function decodeAssetEvent(input: Uint8Array | string | Record<string, unknown>): AssetEvent {
  return classifyObservation(decodeObservation(input))
}

// --- making events: the only way events are built ------------------------------------------------------

function attrs(at: number | undefined, extra?: Partial<ObservationAttributes>): ObservationAttributes {
  return { timestamp: isoTimestamp(at), ...extra }
}

export const AssetEvents = {
  /** A data item's value. */
  observation(observation: Observation): ObservationEvent {
    return { kind: 'observation', observation }
  },

  /** A data item without a valid value, and why. */
  unavailable(item: Pick<DataItem, 'id' | 'tag' | 'category'>, reason: string, at?: number): ObservationEvent {
    return {
      kind: 'observation',
      observation: unavailableObservation({ id: item.id, tag: item.tag, type: item.category }, reason, at),
    }
  },

  /** One identity attribute; references are given as a list. */
  declaration(attribute: DeclarationAttribute, value: string | readonly string[], at?: number): DeclarationEvent {
    const text = typeof value === 'string' ? value : value.join(',')
    const observation: Observation = {
      id: attribute,
      value: text,
      tag: DECLARATION_TAGS[attribute],
      type: 'OpenFactory',
      attributes: attrs(at),
    }
    return typeof value === 'string'
      ? (classifyObservation(observation) as DeclarationEvent)
      : { kind: 'declaration', observation, attribute, value: text, references: [...value] }
  },

  /** A method's contract, published as `TYPE: "Method"`. */
  method(contract: MethodContract, at?: number): MethodEvent {
    const c: MethodContract = { name: contract.name, description: contract.description, arguments: contract.arguments }
    return {
      kind: 'method',
      contract: c,
      observation: {
        id: c.name,
        value: JSON.stringify({ description: c.description, arguments: c.arguments }),
        tag: 'Method',
        type: 'Method',
        attributes: attrs(at),
      },
    }
  },

  /** A command: `<method>_CMD` with a new correlation id unless one is given. */
  command(opts: {
    method: string
    senderUuid: string
    arguments?: Readonly<Record<string, unknown>>
    correlationId?: string
    signature?: string | null
    at?: number
  }): CommandEvent {
    const envelope: CommandEnvelope = {
      header: {
        correlation_id: opts.correlationId ?? crypto.randomUUID(),
        sender_uuid: opts.senderUuid,
        timestamp: isoTimestamp(opts.at),
        signature: opts.signature ?? null,
      },
      arguments: opts.arguments ?? {},
    }
    return {
      kind: 'command',
      method: opts.method,
      envelope,
      observation: {
        id: `${opts.method}${COMMAND_SUFFIX}`,
        value: JSON.stringify(envelope),
        tag: 'Method.Command',
        type: 'OpenFactory',
        attributes: { timestamp: envelope.header.timestamp },
      },
    }
  },

  /** The answer to a command. */
  result(method: string, result: CommandResult, at?: number): CommandResultEvent {
    const r: { -readonly [K in keyof CommandResult]: CommandResult[K] } = {
      correlation_id: result.correlation_id,
      status: result.status,
    }
    if (result.result !== undefined) r.result = result.result
    if (result.error !== undefined) r.error = { code: result.error.code, message: result.error.message }
    return {
      kind: 'result',
      method,
      result: r,
      observation: {
        id: `${method}${RESULT_SUFFIX}`,
        value: JSON.stringify(r),
        tag: 'Method.Result',
        type: 'OpenFactory',
        attributes: attrs(at),
      },
    }
  },

  /** `avail` (or `agent_avail`): AVAILABLE with the TTL of this heartbeat, or UNAVAILABLE with a reason. */
  availability(opts: {
    available: boolean
    id?: 'avail' | 'agent_avail'
    ttlMs?: number
    reason?: string
    at?: number
    ingestedAt?: number
  }): AvailabilityEvent {
    const attributes = attrs(opts.at)
    if (opts.ingestedAt !== undefined) attributes.ingestion_timestamp = isoTimestamp(opts.ingestedAt)
    if (opts.available && opts.ttlMs !== undefined) attributes.ttl_ms = opts.ttlMs
    if (opts.reason !== undefined) attributes.reason = opts.reason
    return classifyObservation({
      id: opts.id ?? AVAIL_ID,
      value: opts.available ? AVAILABLE : UNAVAILABLE,
      tag: 'Availability',
      type: 'Events',
      attributes,
    }) as AvailabilityEvent
  },

  /**
   * What declaring an asset puts on `ofa_assets`, in order: `AssetType`, `uns_id` (when placed), the two
   * reference lists, one contract per method, and every data item UNAVAILABLE until the device reports it
   * (as an MTConnect agent does). The declared `Asset` itself goes to `ofa_registry` (`encodeAssetDeclaration`).
   */
  declare(asset: Asset, at?: number): AssetEvent[] {
    const events: AssetEvent[] = [AssetEvents.declaration('AssetType', asset.type, at)]
    if (asset.uns) events.push(AssetEvents.declaration('uns_id', asset.uns.unsId, at))
    events.push(AssetEvents.declaration('references_above', asset.referencesAbove, at))
    events.push(AssetEvents.declaration('references_below', asset.referencesBelow, at))
    for (const m of asset.methods) events.push(AssetEvents.method(m, at))
    for (const item of asset.dataItems) {
      const e = AssetEvents.unavailable(item, 'not yet reported', at)
      if (item.units !== undefined) e.observation.attributes.units = item.units
      if (item.subType !== undefined) e.observation.attributes.subType = item.subType
      events.push(e)
    }
    return events
  },
}

// --- ofa_registry: the declared asset ---------------------------------------------------------------------

/** The `ofa_registry` value of an asset: the declared `Asset` as JSON. */
export function encodeAssetDeclaration(asset: Asset): string {
  return JSON.stringify(asset)
}

function invalidRecord(message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_OBSERVATION_INVALID', message, { cause })
}

/** Reads an `ofa_registry` value; absent lists become empty, entries that are not objects with a name are skipped. */
export function decodeAssetDeclaration(uuid: string, input: Uint8Array | string): Asset {
  const text =
    typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw invalidRecord(`registry value of ${uuid} is not JSON: ${(err as Error).message}`, err)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidRecord(`registry value of ${uuid} must be a JSON object`)
  }
  const v = raw as Record<string, unknown>
  const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : [])
  const named = <T>(x: unknown, field: 'id' | 'name'): T[] =>
    list(x).filter(
      (d) => d !== null && typeof d === 'object' && typeof (d as Record<string, unknown>)[field] === 'string',
    ) as T[]
  const uns = v.uns as UnsPlacement | undefined
  return {
    uuid,
    type: typeof v.type === 'string' ? v.type : 'Unknown',
    ...(uns && typeof uns === 'object' && typeof uns.unsId === 'string'
      ? { uns: { levels: uns.levels && typeof uns.levels === 'object' ? uns.levels : {}, unsId: uns.unsId } }
      : {}),
    referencesAbove: list(v.referencesAbove).filter((s): s is string => typeof s === 'string'),
    referencesBelow: list(v.referencesBelow).filter((s): s is string => typeof s === 'string'),
    dataItems: named<DataItem>(v.dataItems, 'id'),
    methods: named<MethodContract>(v.methods, 'name').map((m) => ({
      name: m.name,
      description: typeof m.description === 'string' ? m.description : '',
      arguments: readMethodArguments(m.arguments),
    })),
    ...(readDevice(v.device) ?? {}),
  }
}

/** Depth of component nesting read back; deeper components are dropped (a Devices.xml nests a few levels). */
const MAX_COMPONENT_DEPTH = 64

function readIds(x: unknown): string[] {
  return Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []
}

function readComponents(x: unknown, depth: number): DeviceComponent[] {
  if (!Array.isArray(x) || depth > MAX_COMPONENT_DEPTH) return []
  const out: DeviceComponent[] = []
  for (const c of x) {
    if (c === null || typeof c !== 'object') continue
    const r = c as Record<string, unknown>
    if (typeof r.type !== 'string' || typeof r.id !== 'string') continue
    out.push({
      type: r.type,
      id: r.id,
      ...(typeof r.name === 'string' ? { name: r.name } : {}),
      dataItems: readIds(r.dataItems),
      components: readComponents(r.components, depth + 1),
    })
  }
  return out
}

/**
 * The optional MTConnect description of a declared asset (`Asset.device`): kept when it has an id and a name, its
 * malformed parts skipped (as the lists above are); a declaration written before it existed has none.
 */
function readDevice(x: unknown): { device: DeviceDescription } | undefined {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return undefined
  const d = x as Record<string, unknown>
  if (typeof d.id !== 'string' || typeof d.name !== 'string') return undefined
  return {
    device: {
      id: d.id,
      name: d.name,
      ...(typeof d.uuid === 'string' ? { uuid: d.uuid } : {}),
      dataItems: readIds(d.dataItems),
      components: readComponents(d.components, 1),
    },
  }
}

// --- ofa_asset_documents: documents about physical assets -------------------------------------------------

/** A document a device sends about a physical asset (MTConnect `@ASSET@`: a cutting tool, a part). */
export interface AssetDocument {
  readonly assetId: string
  /** The MTConnect asset type (`CuttingTool`, `Part`, ...). */
  readonly type: string
  /** UUID of the device it came from. */
  readonly deviceUuid: string
  readonly timestamp: string
  /** The document as sent (XML for MTConnect adapters). */
  readonly body: string
  /** True when the adapter removed it (`@REMOVE_ASSET@`). */
  readonly removed?: boolean
}

/** The `ofa_asset_documents` value of a document (the record key is its `assetId`). */
export function encodeAssetDocument(doc: AssetDocument): string {
  const d: AssetDocument = {
    assetId: doc.assetId,
    type: doc.type,
    deviceUuid: doc.deviceUuid,
    timestamp: doc.timestamp,
    body: doc.body,
    ...(doc.removed ? { removed: true } : {}),
  }
  return JSON.stringify(d)
}

export function decodeAssetDocument(input: Uint8Array | string): AssetDocument {
  const text =
    typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')
  let v: Record<string, unknown>
  try {
    v = JSON.parse(text)
  } catch (err) {
    throw invalidRecord(`asset document is not JSON: ${(err as Error).message}`, err)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw invalidRecord('asset document must be a JSON object')
  for (const f of ['assetId', 'type', 'deviceUuid', 'timestamp', 'body'] as const) {
    if (typeof v[f] !== 'string') throw invalidRecord(`asset document has no ${f}`)
  }
  return {
    assetId: v.assetId as string,
    type: v.type as string,
    deviceUuid: v.deviceUuid as string,
    timestamp: v.timestamp as string,
    body: v.body as string,
    ...(v.removed === true ? { removed: true } : {}),
  }
}
