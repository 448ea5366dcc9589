/**
 * Compact storage of the current state (quality bar: 10k assets × 20 items ≤ 300 MB RSS; measured by
 * `bench/serve-state-memory.ts`). One small object per `uuid|id` entry holding the value, the interned tag and
 * type, the timestamps as epoch-ms numbers when they are canonical, and the other attributes as one interned
 * JSON fragment (`,"units":"CELSIUS"` is shared by every Celsius item). The JSON an entry is served as is built
 * on demand from these parts.
 */
import type { ActiveCondition, Asset, MethodContract, Observation, ObservationType } from '@openfactory/model'
import { applyCondition, compactTimestamp, isoFromMs, worstLevel } from '@openfactory/model'
import type { Interner } from './intern.ts'

/**
 * What many entries share: the tag, the type and the attributes other than the timestamps, as JSON object
 * members with a leading comma (`,"units":"CELSIUS","quality":"GOOD"`). Interned: every Celsius sample of every
 * asset points to one shape.
 */
export class Shape {
  readonly tag: string
  readonly type: ObservationType
  readonly frag: string
  /** `,"tag":...,"type":...,"timestamp":` ready to be concatenated (`cellJson`). */
  readonly tagTypeJson: string
  /** The attributes of `frag` as [name, value] pairs when all values are primitives (for a quick comparison). */
  readonly extras: readonly (readonly [string, unknown])[] | null

  constructor(
    tag: string,
    type: ObservationType,
    frag: string,
    extras: readonly (readonly [string, unknown])[] | null,
  ) {
    this.tag = tag
    this.type = type
    this.frag = frag
    this.tagTypeJson = `,"tag":${JSON.stringify(tag)},"type":"${type}","timestamp":`
    this.extras = extras
  }

  /** Whether an observation has this shape: same tag and type, and the same other attributes in the same order. */
  fits(o: Observation): boolean {
    if (this.extras === null || o.tag !== this.tag || o.type !== this.type) return false
    const extras = this.extras
    let i = 0
    const attrs = o.attributes
    for (const k in attrs) {
      if (k === 'timestamp' || k === 'ingestion_timestamp') continue
      const v = attrs[k]
      if (v === undefined) continue
      const e = extras[i++]
      if (e === undefined || e[0] !== k || e[1] !== v) return false
    }
    return i === extras.length
  }
}

/** Bounded table of shapes (past `max`, new shapes are simply not shared). */
export class ShapeTable {
  readonly #map = new Map<string, Shape>()
  readonly #interner: Interner
  readonly #max: number

  constructor(interner: Interner, max = 65_536) {
    this.#interner = interner
    this.#max = max
  }

  /** The shape of an observation: its tag, type and attributes other than string timestamps. */
  of(o: Observation): Shape {
    const attrs = o.attributes
    let frag = ''
    let extras: [string, unknown][] | null = []
    for (const k in attrs) {
      const v = attrs[k]
      if (v === undefined) continue
      if ((k === 'timestamp' || k === 'ingestion_timestamp') && typeof v === 'string') continue
      frag += `,${JSON.stringify(k)}:${JSON.stringify(v)}`
      if (extras !== null && v !== null && typeof v === 'object') extras = null
      else extras?.push([k, v])
    }
    const tag = this.#interner.intern(o.tag)
    frag = this.#interner.intern(frag)
    const key = `${o.type}\u0000${tag}\u0000${frag}`
    let shape = this.#map.get(key)
    if (shape === undefined) {
      shape = new Shape(tag, o.type, frag, extras)
      if (this.#map.size < this.#max && key.length <= 1024) this.#map.set(key, shape)
    }
    return shape
  }
}

/**
 * One `uuid|id` entry: four fields. The source timestamp is epoch ms when canonical (else its text); the
 * ingestion timestamp is kept as its distance to the source timestamp when that is a small integer (no heap
 * number), else like the source timestamp; null when absent.
 */
export class Cell {
  value: number | string
  shape: Shape
  ts: number | string
  its: number | string | null
  /** The entry's number in the as-of index (state/as-of-index.ts); -1 until a record of the log sets it. */
  key = -1

  constructor(value: number | string, shape: Shape, ts: number | string, its: number | string | null) {
    this.value = value
    this.shape = shape
    this.ts = ts
    this.its = its
  }
}

/** Ingestion time relative to the source time when both are epoch ms and close: stored as a small integer. */
const ITS_DELTA = 1_000_000_000

export function packIts(ts: number | string, its: number | string | null): number | string | null {
  if (typeof its !== 'number') return its
  if (typeof ts === 'number' && its - ts > -ITS_DELTA && its - ts < ITS_DELTA) return its - ts
  return new Date(its).toISOString()
}

/** The entry's ingestion time in epoch ms, or undefined when it has none (or not as a time). */
export function ingestedAtMs(cell: Cell): number | undefined {
  const its = cell.its
  if (its === null) return undefined
  if (typeof its === 'number') return (cell.ts as number) + its
  const t = Date.parse(its)
  return Number.isFinite(t) ? t : undefined
}

/** `,"ingestion_timestamp":"..."`, or nothing. */
function itsMember(ts: number | string, its: number | string | null): string {
  if (its === null) return ''
  if (typeof its === 'number') return `,"ingestion_timestamp":"${isoFromMs((ts as number) + its)}"`
  return `,"ingestion_timestamp":${JSON.stringify(its)}`
}

/** `"id","value":` for the ids seen (a few per kind of asset; bounded: past it, built each time). */
const idMembers = new Map<string, string>()

function idMember(id: string): string {
  let m = idMembers.get(id)
  if (m === undefined) {
    m = `${JSON.stringify(id)},"value":`
    if (idMembers.size < 65_536 && id.length <= 256) idMembers.set(id, m)
  }
  return m
}

/**
 * The entry as JSON text, in the `ItemState` shape (`asset-state.ts`). `entryHead` is the asset's
 * (`AssetRecord.entryHead`). What entries share is kept ready to concatenate (the asset's head, the id's member, the
 * shape's tag and type): an answer of 20 entries is built in fewer, larger pieces (bench/serve-rest.ts).
 */
export function cellJson(
  entryHead: string,
  id: string,
  cell: Cell,
  conditions: readonly ActiveCondition[] | undefined,
): string {
  const shape = cell.shape
  const ts = typeof cell.ts === 'number' ? `"${isoFromMs(cell.ts)}"` : JSON.stringify(cell.ts)
  const value = typeof cell.value === 'number' ? String(cell.value) : JSON.stringify(cell.value)
  return `${entryHead}${idMember(id)}${value}${shape.tagTypeJson}${ts},"attributes":{"timestamp":${ts}${itsMember(cell.ts, cell.its)}${shape.frag}}${conditions ? `,"conditions":${JSON.stringify(conditions)}` : ''}}`
}

/** The entry `id` of asset `a` as JSON text (`cellJson`, with the active conditions of a Condition entry). */
export function entryJson(a: AssetRecord, id: string, cell: Cell): string {
  return cellJson(a.entryHead, id, cell, cell.shape.type === 'Condition' ? a.conditions?.get(id) : undefined)
}

/** Everything the state holds about one asset. */
export class AssetRecord {
  readonly uuid: string
  /** `{"assetUuid":<uuid>,"id":`: how each of its entries starts as JSON (`cellJson`). */
  readonly entryHead: string
  declared: Asset | null = null
  readonly cells = new Map<string, Cell>()
  /** Active conditions of the asset's Condition entries. */
  conditions: Map<string, ActiveCondition[]> | null = null
  typeAttr: string | null = null
  unsIdAttr: string | null = null
  refsAbove: string[] | null = null
  refsBelow: string[] | null = null
  methods: Map<string, MethodContract> | null = null
  unsLevels: string[] | null = null
  unsSeparator: string
  /** Changes whenever anything about the asset changes (from one counter shared by all assets). */
  version = 0
  /** `JSON.stringify` of the asset's view (`AssetState.assetJson`), null once what it shows changed. */
  headJson: string | null = null

  constructor(uuid: string, unsSeparator: string) {
    this.uuid = uuid
    this.entryHead = `{"assetUuid":${JSON.stringify(uuid)},"id":`
    this.unsSeparator = unsSeparator
  }
}

/**
 * Applies an observation to the asset's entry of its id, as the state folds the log: value, shape and timestamps
 * replaced; for a condition, its active set updated (`applyCondition`) and the worst level as the value; any other
 * type clears the set. `ts` is the source timestamp as `compactTimestamp` gives it ('' when there is none).
 * Returns the entry (new or updated). The live state and the as-of reader (state/as-of.ts) both fold with it.
 */
export function foldObservation(
  a: AssetRecord,
  o: Observation,
  ts: number | string,
  interner: Interner,
  shapes: ShapeTable,
): Cell {
  const attrs = o.attributes
  const its = typeof attrs.ingestion_timestamp === 'string' ? compactTimestamp(attrs.ingestion_timestamp) : null
  let value = typeof o.value === 'string' ? interner.intern(o.value) : o.value
  if (o.type === 'Condition') {
    a.conditions ??= new Map()
    const active = applyCondition(a.conditions.get(o.id) ?? [], o)
    a.conditions.set(o.id, active)
    value = worstLevel(active)
  } else if (a.conditions?.delete(o.id) && a.conditions.size === 0) {
    a.conditions = null
  }
  let cell = a.cells.get(o.id)
  // Steady state: an item keeps its tag, type and attributes; only the value and timestamps change.
  const shape = cell?.shape.fits(o) ? cell.shape : shapes.of(o)
  const packed = packIts(ts, its)
  if (cell === undefined) {
    cell = new Cell(value, shape, ts, packed)
    a.cells.set(interner.intern(o.id), cell)
  } else {
    cell.value = value
    cell.shape = shape
    cell.ts = ts
    cell.its = packed
  }
  return cell
}
