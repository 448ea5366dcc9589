/**
 * Joins as processors, as ksqlDB (Kafka Streams) runs them. A joined row is the left side's row then the right
 * side's (`[...left, ...right]`, each its source's full width, nulls for a missing side); the query's WHERE and
 * projection run on it (`JoinOutput`).
 *
 * - **Stream–table** (`streamTableJoin`): inputs [stream, table], co-partitioned on the join key. A table record
 *   updates the task's copy of the table (`right` store); a stream record looks its key up and emits (INNER: only
 *   when found; LEFT: with nulls when not). Table updates emit nothing.
 * - **Table–table on the primary key** (`tableTableJoin`): inputs [left, right], co-partitioned. Both tables are
 *   kept (`left`, `right`); a change on either side emits the key's joined row, or a tombstone when the key no
 *   longer has a result (INNER: both sides; LEFT: the left; RIGHT: the right; FULL: either).
 * - **Stream–stream within a window** (`streamStreamJoin`): inputs [left, right], co-partitioned. Each record is
 *   buffered per key (`left`, `right` stores) and joined with the other side's records whose time is within
 *   `[t - before, t + after]` (seen from the left). A record with no partner is emitted with nulls (LEFT, RIGHT,
 *   FULL) once its window has closed — stream time past its time plus the window plus the grace period — as Kafka
 *   Streams does since 3.1, so no spurious null result precedes a real one. Records later than that are dropped.
 * - **Table–table on a foreign key** (`foreignKeyJoin`, two processors, as Kafka Streams does it): the left side
 *   keeps each row and the version it came with (`partition:offset`), and sends a *subscription* for the row's
 *   foreign key to an internal topic partitioned like the right table; the right side keeps the right table and
 *   the subscriptions per foreign key, and answers each subscription, and each change of a right row, with a
 *   *response* (the right row or none) to an internal topic partitioned like the left table; the left side emits
 *   the joined row when the response's version is still its row's (a stale response — the row changed since — is
 *   dropped: a newer one follows). A deleted left row is a tombstone at once.
 *
 * When a stream's join expression is not its key, or its partition count is not the other side's, it is first
 * re-keyed into an internal topic (`repartitionProcessor`): each record's row as JSON, keyed like the other side.
 */
import type { LogRecord, RecordData } from '@openfactory/log'
import { OpenFactoryError } from '@openfactory/model'
import type { ProcessorContext, ProcessorSpec } from '../processor/processor.ts'
import type { Row, RowCodec } from '../row-codec.ts'
import type { SqlValue } from '../types.ts'
import { fromJsonValue, groupKeyText, type JsonValue, toJsonValue } from '../values.ts'

export type JoinType = 'INNER' | 'LEFT' | 'RIGHT' | 'FULL'

/** One side of a join: the topic it is read from, how a record of it becomes a row, its join value. */
export interface JoinSide {
  readonly topic: string
  readonly decode: (r: LogRecord) => { row: Row; tombstone: boolean }
  /** The join expression's value for a row of this side. */
  readonly key: (row: Row) => SqlValue
  /** Row width of the side's source. */
  readonly width: number
  /** Event time of a row. */
  readonly time: (row: Row) => number
}

/** Where joined rows go. */
export interface JoinOutput {
  readonly topic: string
  readonly codec: RowCodec
  readonly where?: (joined: Row) => boolean
  /** The sink's row (keys included) from a joined row. */
  readonly project: (joined: Row) => Row
  /** The sink is a table: a row that stops matching, or goes, is a tombstone of its key. */
  readonly table: boolean
}

type JsonRow = JsonValue[]

const toJsonRow = (row: Row): JsonRow => row.map(toJsonValue)
const fromJsonRow = (row: JsonRow): Row => row.map(fromJsonValue)
const nulls = (width: number): Row => new Array(width).fill(null)
const keyText = (v: SqlValue): string => groupKeyText([v])

function emitJoined(ctx: ProcessorContext, out: JoinOutput, joined: Row, timestamp: number): void {
  if (out.where && !out.where(joined)) {
    if (out.table) emitTombstone(ctx, out, joined, timestamp)
    return
  }
  ctx.emit(out.topic, { ...out.codec.encode(out.project(joined)), timestamp })
}

function emitTombstone(ctx: ProcessorContext, out: JoinOutput, joined: Row, timestamp: number): void {
  ctx.emit(out.topic, { ...out.codec.encode(out.project(joined), { tombstone: true }), timestamp })
}

/** A row re-keyed by a repartition: the whole row as JSON (pseudo columns included). */
export function decodeRepartitioned(r: LogRecord): { row: Row; tombstone: boolean } {
  let parsed: unknown
  try {
    parsed = r.value === null ? null : JSON.parse(Buffer.from(r.value).toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (!Array.isArray(parsed)) {
    throw new OpenFactoryError('OFA_SQL_VALUE', `repartition record ${r.partition}:${r.offset} is not a JSON row`)
  }
  return { row: fromJsonRow(parsed as JsonRow), tombstone: false }
}

/** Re-keys a stream by its join value into an internal topic (records whose join value is NULL are dropped). */
export function repartitionProcessor(p: {
  readonly id: string
  readonly input: string
  readonly decode: RowCodec['decode']
  readonly key: (row: Row) => SqlValue
  /** The join value as the other side's key bytes (so the same value lands on the same partition). */
  readonly encodeKey: (value: SqlValue) => RecordData | null
  readonly output: string
}): ProcessorSpec {
  return {
    id: p.id,
    inputs: [p.input],
    outputs: [p.output],
    process(r, ctx) {
      const { row, tombstone } = p.decode(r)
      if (tombstone) return
      const k = p.key(row)
      if (k === null) return
      ctx.emit(p.output, {
        key: p.encodeKey(k),
        value: Buffer.from(JSON.stringify(toJsonRow(row))),
        timestamp: r.timestamp,
      })
    },
  }
}

export function streamTableJoin(p: {
  readonly id: string
  readonly type: 'INNER' | 'LEFT'
  readonly left: JoinSide
  readonly right: JoinSide
  readonly out: JoinOutput
}): ProcessorSpec {
  const { left, right, out } = p
  return {
    id: p.id,
    inputs: [left.topic, right.topic],
    outputs: [out.topic],
    stores: ['right'],
    process(r, ctx) {
      const table = ctx.store<JsonRow>('right')
      if (r.input === 1) {
        const { row, tombstone } = right.decode(r)
        const k = keyText(right.key(row))
        if (tombstone) table.delete(k)
        else table.put(k, toJsonRow(row))
        return
      }
      const { row, tombstone } = left.decode(r)
      if (tombstone) return
      const v = left.key(row)
      const found = v === null ? undefined : table.get(keyText(v))
      if (!found && p.type === 'INNER') return
      emitJoined(ctx, out, [...row, ...(found ? fromJsonRow(found) : nulls(right.width))], left.time(row))
    },
  }
}

export function tableTableJoin(p: {
  readonly id: string
  readonly type: JoinType
  readonly left: JoinSide
  readonly right: JoinSide
  readonly out: JoinOutput
}): ProcessorSpec {
  const { left, right, out, type } = p
  const present = (l: unknown, r: unknown): boolean =>
    type === 'INNER' ? !!l && !!r : type === 'LEFT' ? !!l : type === 'RIGHT' ? !!r : !!l || !!r
  const joinedOf = (l: JsonRow | undefined, r: JsonRow | undefined): Row => [
    ...(l ? fromJsonRow(l) : nulls(left.width)),
    ...(r ? fromJsonRow(r) : nulls(right.width)),
  ]
  return {
    id: p.id,
    inputs: [left.topic, right.topic],
    outputs: [out.topic],
    stores: ['left', 'right'],
    process(r, ctx) {
      const side = r.input === 0 ? left : right
      const stores = [ctx.store<JsonRow>('left'), ctx.store<JsonRow>('right')] as const
      const { row, tombstone } = side.decode(r)
      const k = keyText(side.key(row))
      const before = [stores[0].get(k), stores[1].get(k)] as const
      if (tombstone) stores[r.input]?.delete(k)
      else stores[r.input]?.put(k, toJsonRow(row))
      const l = stores[0].get(k)
      const rr = stores[1].get(k)
      if (present(l, rr)) {
        const joined = joinedOf(l, rr)
        const lt = l ? left.time(joined) : -1
        const rt = rr ? right.time(joined.slice(left.width)) : -1
        emitJoined(ctx, out, joined, Math.max(lt, rt))
      } else if (present(before[0], before[1])) {
        emitTombstone(ctx, out, joinedOf(before[0], before[1]), r.timestamp)
      }
    },
  }
}

/** A buffered record of a stream–stream join. */
interface Buffered {
  readonly t: number
  readonly row: JsonRow
  /** It met a partner (no null result at close). */
  readonly m: boolean
}

export interface JoinWindow {
  /** How far a right record may precede a left one, and follow it (ms). */
  readonly beforeMs: number
  readonly afterMs: number
  readonly graceMs: number
}

export function streamStreamJoin(p: {
  readonly id: string
  readonly type: JoinType
  readonly left: JoinSide
  readonly right: JoinSide
  readonly window: JoinWindow
  readonly out: JoinOutput
}): ProcessorSpec {
  const { left, right, out, type, window } = p
  const sides = [left, right] as const
  const names = ['left', 'right'] as const
  const outer = [type === 'LEFT' || type === 'FULL', type === 'RIGHT' || type === 'FULL'] as const
  // A record's window is closed once stream time passes its time plus the larger side of the window and the grace.
  const closeAfter = Math.max(window.beforeMs, window.afterMs) + window.graceMs
  // Buffers are swept for closed windows at most once per this much stream time.
  const sweepEvery = Math.max(1, Math.floor((window.beforeMs + window.afterMs + window.graceMs) / 4))
  const joinedOf = (s: number, row: Row, other: Row): Row => (s === 0 ? [...row, ...other] : [...other, ...row])
  const unmatched = (s: number, row: Row): Row => joinedOf(s, row, nulls(sides[1 - s]?.width ?? 0))
  return {
    id: p.id,
    inputs: [left.topic, right.topic],
    outputs: [out.topic],
    stores: ['left', 'right', 'meta'],
    process(r, ctx) {
      const s = r.input
      const side = sides[s] as JoinSide
      const { row, tombstone } = side.decode(r)
      if (tombstone) return
      const t = side.time(row)
      if (t + closeAfter < ctx.streamTime) return // its window closed: late
      const v = side.key(row)
      if (v === null) {
        if (outer[s]) emitJoined(ctx, out, unmatched(s, row), t)
        return
      }
      const k = keyText(v)
      const own = ctx.store<Buffered[]>(names[s] as string)
      const other = ctx.store<Buffered[]>(names[1 - s] as string)
      // Seen from the left record at tl, a right one at tr joins when tl - before <= tr <= tl + after.
      const lo = s === 0 ? t - window.beforeMs : t - window.afterMs
      const hi = s === 0 ? t + window.afterMs : t + window.beforeMs
      const partners = other.get(k)
      let matched = false
      if (partners) {
        let changed = false
        const next = partners.map((e) => {
          if (e.t < lo || e.t > hi) return e
          matched = true
          emitJoined(ctx, out, joinedOf(s, row, fromJsonRow(e.row)), Math.max(t, e.t))
          if (e.m) return e
          changed = true
          return { ...e, m: true }
        })
        if (changed) other.put(k, next)
      }
      own.put(k, [...(own.get(k) ?? []), { t, row: toJsonRow(row), m: matched }])
    },
    onStreamTime(streamTime, ctx) {
      const meta = ctx.store<number>('meta')
      const step = Math.floor(streamTime / sweepEvery)
      if (meta.get('sweep') === step) return
      meta.put('sweep', step)
      // Closed windows leave the buffers; an outer side's records that met no partner go out with nulls. In key
      // order, so that a replay emits in the same order.
      for (let s = 0; s < 2; s++) {
        const store = ctx.store<Buffered[]>(names[s] as string)
        for (const [k, list] of [...store.range()]) {
          const open = list.filter((e) => e.t + closeAfter >= streamTime)
          if (open.length === list.length) continue
          if (outer[s]) {
            for (const e of list)
              if (!e.m && e.t + closeAfter < streamTime) emitJoined(ctx, out, unmatched(s, fromJsonRow(e.row)), e.t)
          }
          if (open.length === 0) store.delete(k)
          else store.put(k, open)
        }
      }
    },
  }
}

/** A subscription of a left row to a foreign key (value of the subscription topic, keyed by the foreign key). */
interface Subscription {
  /** The left row's key values. */
  readonly k: JsonValue[]
  /** Its version (`partition:offset` of the left record); absent: unsubscribe. */
  readonly v?: string
}

/** A response to a subscription (keyed by the left key): the right row for that version, or none. */
interface Response {
  readonly k: JsonValue[]
  readonly v: string
  readonly r: JsonRow | null
}

interface LeftState {
  readonly row: JsonRow
  readonly v: string
  /** The foreign key's text and value; absent when NULL (no subscription). */
  readonly fk?: string
  readonly fv?: JsonValue
}

function parseJson<T>(r: LogRecord, what: string): T {
  try {
    return JSON.parse(Buffer.from(r.value ?? '').toString('utf8')) as T
  } catch {
    throw new OpenFactoryError('OFA_SQL_VALUE', `${what} record ${r.partition}:${r.offset} is not JSON`)
  }
}

export interface ForeignKeyJoinPlan {
  /** Processor ids: the left side's, and the right side's. */
  readonly ids: readonly [string, string]
  readonly type: 'INNER' | 'LEFT'
  /** `key` of the left side is its foreign-key expression. */
  readonly left: JoinSide
  /** The left table's key values of a row, and their key bytes (responses are keyed by them). */
  readonly leftKey: (row: Row) => SqlValue[]
  readonly encodeLeftKey: (values: SqlValue[]) => RecordData | null
  /** `key` of the right side is its primary key. */
  readonly right: JoinSide
  readonly encodeRightKey: (value: SqlValue) => RecordData | null
  readonly decodeRightKey: (key: RecordData | null) => SqlValue
  readonly subscriptions: string
  readonly responses: string
  readonly out: JoinOutput
}

export function foreignKeyJoin(p: ForeignKeyJoinPlan): [ProcessorSpec, ProcessorSpec] {
  const { left, right, out } = p
  const subscribe = (ctx: ProcessorContext, fv: JsonValue, sub: Subscription, timestamp: number) =>
    ctx.emit(p.subscriptions, {
      key: p.encodeRightKey(fromJsonValue(fv)),
      value: Buffer.from(JSON.stringify(sub)),
      timestamp,
    })
  const leftSide: ProcessorSpec = {
    id: p.ids[0],
    inputs: [left.topic, p.responses],
    outputs: [p.subscriptions, out.topic],
    stores: ['left'],
    process(r, ctx) {
      const rows = ctx.store<LeftState>('left')
      if (r.input === 1) {
        const res = parseJson<Response>(r, 'join response')
        const state = rows.get(groupKeyText(res.k.map(fromJsonValue)))
        if (!state || state.v !== res.v) return // stale: the row changed (or went) since
        const row = fromJsonRow(state.row)
        if (res.r === null) {
          if (p.type === 'LEFT') emitJoined(ctx, out, [...row, ...nulls(right.width)], left.time(row))
          else emitTombstone(ctx, out, [...row, ...nulls(right.width)], left.time(row))
          return
        }
        const other = fromJsonRow(res.r)
        emitJoined(ctx, out, [...row, ...other], Math.max(left.time(row), right.time(other)))
        return
      }
      const { row, tombstone } = left.decode(r)
      const keyValues = p.leftKey(row)
      const lk = groupKeyText(keyValues)
      const k = keyValues.map(toJsonValue)
      const prev = rows.get(lk)
      if (tombstone) {
        if (!prev) return
        if (prev.fv !== undefined) subscribe(ctx, prev.fv, { k }, r.timestamp)
        rows.delete(lk)
        emitTombstone(ctx, out, [...fromJsonRow(prev.row), ...nulls(right.width)], r.timestamp)
        return
      }
      const fkValue = left.key(row)
      const v = `${r.partition}:${r.offset}`
      const fk = fkValue === null ? undefined : keyText(fkValue)
      const fv = fkValue === null ? undefined : toJsonValue(fkValue)
      rows.put(lk, { row: toJsonRow(row), v, ...(fk !== undefined ? { fk, fv } : {}) })
      if (prev?.fv !== undefined && prev.fk !== fk) subscribe(ctx, prev.fv, { k }, r.timestamp)
      if (fv !== undefined) {
        subscribe(ctx, fv, { k, v }, r.timestamp)
        return
      }
      // No foreign key: nothing to join with.
      if (p.type === 'LEFT') emitJoined(ctx, out, [...row, ...nulls(right.width)], left.time(row))
      else if (prev) emitTombstone(ctx, out, [...row, ...nulls(right.width)], r.timestamp)
    },
  }
  const respond = (ctx: ProcessorContext, k: JsonValue[], v: string, rrow: JsonRow | null, timestamp: number) =>
    ctx.emit(p.responses, {
      key: p.encodeLeftKey(k.map(fromJsonValue)),
      value: Buffer.from(JSON.stringify({ k, v, r: rrow } satisfies Response)),
      timestamp,
    })
  const rightSide: ProcessorSpec = {
    id: p.ids[1],
    inputs: [p.subscriptions, right.topic],
    outputs: [p.responses],
    stores: ['subscriptions', 'right'],
    process(r, ctx) {
      const subs = ctx.store<Subscription>('subscriptions')
      const table = ctx.store<JsonRow>('right')
      if (r.input === 0) {
        const sub = parseJson<Subscription>(r, 'join subscription')
        const fk = keyText(p.decodeRightKey(r.key))
        const at = `${fk}\u0000${groupKeyText(sub.k.map(fromJsonValue))}`
        if (sub.v === undefined) {
          subs.delete(at)
          return
        }
        subs.put(at, sub)
        respond(ctx, sub.k, sub.v, table.get(fk) ?? null, r.timestamp)
        return
      }
      const { row, tombstone } = right.decode(r)
      const fk = keyText(right.key(row))
      if (tombstone) table.delete(fk)
      else table.put(fk, toJsonRow(row))
      const current = tombstone ? null : toJsonRow(row)
      for (const [, sub] of subs.range(`${fk}\u0000`, `${fk}\u0001`)) {
        respond(ctx, sub.k, sub.v as string, current, r.timestamp)
      }
    },
  }
  return [leftSide, rightSide]
}
