/**
 * GROUP BY as a processor: CREATE TABLE AS SELECT ... GROUP BY, over a stream or a table, windowed or not.
 *
 * State, in the task's stores (restored with the task, exactly once):
 * - `groups`: group (and window) → the group key values, one accumulator per aggregate call, the window bounds;
 * - `rows` (table sources only): source key → the group it counted in and the arguments it gave, so that a row
 *   replaced or deleted is taken back out (`undo`) before its new version counts, as ksqlDB aggregates tables.
 *
 * Each change of a group emits the group's row (EMIT CHANGES), or, windowed with EMIT FINAL, one row when the
 * window closes (stream time past its end plus the grace period). A row failing HAVING is a tombstone of its key.
 * Windows: a record is late — dropped and counted — when the stream time already passed its window's end plus the
 * grace period; windows are forgotten once the stream time passes their end plus the retention. Session windows
 * run in session-aggregate.ts.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { DataSource } from '../catalog.ts'
import type { AggregateRow } from '../functions/registry.ts'
import type { ProcessorContext, ProcessorSpec } from '../processor/processor.ts'
import { createRowCodec, type Row } from '../row-codec.ts'
import type { SqlValue } from '../types.ts'
import { fromJsonValue, groupKeyText, type JsonValue, toJsonValue } from '../values.ts'
import { sessionAggregateProcessor } from './session-aggregate.ts'

/** One aggregate call of the query, resolved: its implementation and how its arguments come from a source row. */
export interface AggregateCall {
  readonly name: string
  readonly init: () => unknown
  /** `row`: the record's event time and offset, and the end of its window (windowed) — registry.ts's AggregateRow. */
  readonly add: (acc: unknown, args: SqlValue[], row: AggregateRow) => unknown
  readonly undo?: (acc: unknown, args: SqlValue[], row: AggregateRow) => unknown
  /** Joins the accumulators of two sessions a record bridges (`a` the earlier); session windows need it. */
  readonly merge?: (a: unknown, b: unknown) => unknown
  readonly result: (acc: unknown) => SqlValue
  readonly args: (row: Row) => SqlValue[]
}

export interface WindowSpec {
  readonly type: 'TUMBLING' | 'HOPPING'
  readonly sizeMs: number
  /** HOPPING's advance; TUMBLING's is its size. */
  readonly advanceMs: number
  readonly graceMs: number
  readonly retentionMs: number
}

/** A session window (session-aggregate.ts): sessions of a group end after `gapMs` without a record. */
export interface SessionWindowSpec {
  readonly type: 'SESSION'
  readonly gapMs: number
  readonly graceMs: number
  readonly retentionMs: number
}

export interface AggregatePlan {
  readonly id: string
  readonly source: DataSource
  readonly sink: DataSource
  readonly where?: (row: Row) => boolean
  /** GROUP BY expressions over a source row. */
  readonly groupBy: (row: Row) => SqlValue[]
  readonly aggregates: readonly AggregateCall[]
  readonly window?: WindowSpec | SessionWindowSpec
  readonly emitFinal?: boolean
  /**
   * The aggregate row — group key values, then each aggregate's result, then WINDOWSTART and WINDOWEND when
   * windowed — to the sink's row (its schema's order).
   */
  readonly project: (aggRow: SqlValue[]) => Row
  readonly having?: (aggRow: SqlValue[]) => boolean
  readonly timestamp: (row: Row) => number
}

interface GroupState {
  readonly k: JsonValue[]
  readonly a: unknown[]
  /** Window start and end (windowed). */
  readonly w?: [number, number]
  /** EMIT FINAL: emitted already. */
  readonly f?: boolean
}

interface RowState {
  readonly g: string
  readonly args: JsonValue[][]
}

/** Stats a query reports (SHOW QUERIES EXTENDED). */
export interface AggregateCounters {
  late: number
}

export function aggregateProcessor(plan: AggregatePlan, counters: AggregateCounters = { late: 0 }): ProcessorSpec {
  const input = createRowCodec(plan.source)
  const output = createRowCodec(plan.sink)
  const sinkTopic = plan.sink.topic
  const table = plan.source.kind === 'TABLE'
  const { aggregates, window } = plan
  if (table && window) {
    throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', 'a windowed aggregation of a table (ksqlDB refuses it too)')
  }
  const undoable = aggregates.every((a) => a.undo)
  if (table && !undoable) {
    const names = aggregates.filter((a) => !a.undo).map((a) => a.name)
    throw new OpenFactoryError(
      'OFA_SQL_FUNCTION',
      `aggregating a table takes a replaced row back out; ${names.join(', ')} cannot (use it over a stream)`,
    )
  }
  if (window?.type === 'SESSION') return sessionAggregateProcessor(plan, window, counters)

  const emitGroup = (ctx: ProcessorContext, g: GroupState, timestamp: number): void => {
    const aggRow: SqlValue[] = g.k.map(fromJsonValue)
    for (let i = 0; i < aggregates.length; i++) aggRow.push((aggregates[i] as AggregateCall).result(g.a[i]))
    if (g.w) aggRow.push(g.w[0], g.w[1])
    const sinkRow = plan.project(aggRow)
    if (g.w) {
      const base = plan.sink.schema.rowtimeIndex
      sinkRow[base + 3] = g.w[0]
      sinkRow[base + 4] = g.w[1]
    }
    const tombstone = plan.having ? !plan.having(aggRow) : false
    ctx.emit(sinkTopic, { ...output.encode(sinkRow, { tombstone }), timestamp })
  }

  /** The windows a timestamp falls in: [start, end) of each. */
  const windowsOf = (ts: number): [number, number][] => {
    if (!window) return []
    const out: [number, number][] = []
    const first = Math.floor((ts - window.sizeMs + window.advanceMs) / window.advanceMs) * window.advanceMs
    for (let start = Math.max(0, first); start <= ts; start += window.advanceMs) {
      if (ts < start + window.sizeMs) out.push([start, start + window.sizeMs])
    }
    return out
  }

  return {
    id: plan.id,
    inputs: [plan.source.topic],
    outputs: [sinkTopic],
    stores: table ? ['groups', 'rows'] : ['groups'],
    process(r, ctx) {
      const groups = ctx.store<GroupState>('groups')
      const { row, tombstone } = input.decode(r)
      const meta = { timestamp: r.timestamp, offset: r.offset }
      if (!table) {
        if (tombstone || (plan.where && !plan.where(row))) return
        const key = plan.groupBy(row)
        // ksqlDB drops a row whose group key is NULL (it cannot be a table key).
        if (key.some((v) => v === null)) return
        const text = groupKeyText(key)
        const args = aggregates.map((a) => a.args(row))
        const ts = plan.timestamp(row)
        if (!window) {
          const g = groups.get(text)
          const at: AggregateRow = { timestamp: ts, offset: r.offset }
          const acc = aggregates.map((a, i) => a.add(g ? g.a[i] : a.init(), args[i] as SqlValue[], at))
          const next: GroupState = { k: key.map(toJsonValue), a: acc }
          groups.put(text, next)
          emitGroup(ctx, next, ts)
          return
        }
        const stream = ctx.streamTime
        for (const [start, end] of windowsOf(ts)) {
          if (stream >= end + window.graceMs && stream > ts) {
            counters.late++
            continue
          }
          const wkey = `${text}\u0000${start}`
          const g = groups.get(wkey)
          // The event time (ROWTIME, or the TIMESTAMP column) and the window's end, which time-weighted aggregates
          // hold their last sample until.
          const at: AggregateRow = { timestamp: ts, offset: r.offset, windowEnd: end }
          const acc = aggregates.map((a, i) => a.add(g ? g.a[i] : a.init(), args[i] as SqlValue[], at))
          const next: GroupState = { k: key.map(toJsonValue), a: acc, w: [start, end] }
          groups.put(wkey, next)
          if (!plan.emitFinal) emitGroup(ctx, next, ts)
        }
        return
      }
      // A table: take the row's previous version out of its group, then count the new one.
      const rows = ctx.store<RowState>('rows')
      const sourceKey = groupKeyText(row.slice(0, plan.source.schema.keys.length))
      const prev = rows.get(sourceKey)
      const matches = !tombstone && (!plan.where || plan.where(row))
      const key = matches ? plan.groupBy(row) : []
      const newGroup = matches && !key.some((v) => v === null) ? groupKeyText(key) : undefined
      const args = newGroup !== undefined ? aggregates.map((a) => a.args(row)) : []
      if (prev) {
        const g = groups.get(prev.g)
        if (g) {
          const acc = aggregates.map((a, i) =>
            (a.undo as NonNullable<AggregateCall['undo']>)(
              g.a[i],
              (prev.args[i] as JsonValue[]).map(fromJsonValue),
              meta,
            ),
          )
          const next: GroupState = { k: g.k, a: acc }
          groups.put(prev.g, next)
          if (prev.g !== newGroup) emitGroup(ctx, next, r.timestamp)
        }
      }
      if (newGroup === undefined) {
        rows.delete(sourceKey)
        return
      }
      const g = groups.get(newGroup)
      const acc = aggregates.map((a, i) => a.add(g ? g.a[i] : a.init(), args[i] as SqlValue[], meta))
      const next: GroupState = { k: key.map(toJsonValue), a: acc }
      groups.put(newGroup, next)
      rows.put(sourceKey, { g: newGroup, args: args.map((list) => list.map(toJsonValue)) })
      emitGroup(ctx, next, plan.timestamp(row))
    },
    onStreamTime(streamTime, ctx) {
      if (!window) return
      // Closing and forgetting windows: a scan whenever stream time reaches a window's close (end + grace: the
      // ends are whole advances from 0), at most once per advance. Windows in order of end, then key, so that a
      // replay after a restore emits the final rows in the same order.
      const groups = ctx.store<GroupState>('groups')
      const step = Math.floor((streamTime - window.sizeMs - window.graceMs) / window.advanceMs)
      const last = groups.get('\u0000step')
      if (last !== undefined && (last as unknown as number) === step) return
      groups.put('\u0000step', step as unknown as GroupState)
      const windows = [...groups.entries()].filter(([, g]) => g.w)
      windows.sort(([ka, a], [kb, b]) => (a.w?.[1] ?? 0) - (b.w?.[1] ?? 0) || (ka < kb ? -1 : ka > kb ? 1 : 0))
      for (const [k, g] of windows) {
        if (!g.w) continue
        const [, end] = g.w
        if (plan.emitFinal && !g.f && streamTime >= end + window.graceMs) {
          emitGroup(ctx, g, end - 1)
          groups.put(k, { ...g, f: true })
        }
        if (streamTime >= end + Math.max(window.retentionMs, window.graceMs)) groups.delete(k)
      }
    },
  }
}
