/**
 * GROUP BY over SESSION windows (`WINDOW SESSION (gap)`, Kafka Streams' SessionWindows): a group's records fall into
 * sessions of activity, and a silence longer than the gap ends a session. aggregate.ts hands an aggregation over to
 * this processor when its window is a session window.
 *
 * A record of a group at event time t joins each open session [start, end] of its group with
 * start - gap <= t <= end + gap (both edges included, as Kafka Streams' `findSessions`). It joins none: it opens the
 * session [t, t]. One: it extends it. Several: it bridges them, and they become one session — their accumulators
 * merged with the aggregates' `merge`, earliest first, before the record is added (the planner refuses, at CREATE,
 * an aggregate without `merge`). WINDOWSTART is the time of a session's first record, WINDOWEND of its last.
 *
 * Output, EMIT CHANGES, as Kafka Streams forwards it: a session's windowed key holds its end (row-codec.ts), so a
 * session that a record widens or merges away is deleted — a tombstone of its old windowed key, timestamped with its
 * old end — before the row of the session it became, timestamped with the new end. A record that falls inside a
 * session without widening it writes the row only (Kafka Streams first writes a tombstone of that same key too; the
 * table that results is the same). A row failing HAVING is a tombstone of its key.
 *
 * Time is event time (ROWTIME, or the TIMESTAMP column). The stream time is the largest event time of the records
 * this aggregation took in (after WHERE), as Kafka Streams keeps it per processor.
 * - A record is late — dropped and counted — when the session it would make ends before the stream time minus the
 *   grace period.
 * - A session closes once the stream time passes its end + gap + grace: no record that is not late can reach it any
 *   more. EMIT FINAL emits its row then (by end, then group, for sessions closing together). A closed session is
 *   never merged again: a record within the gap of a closed session and of an open one joins the open one only
 *   (Kafka Streams would merge the closed one into it too, though EMIT FINAL emitted it already).
 * - Closed sessions are forgotten by a sweep, which reads every session of the task: run when the stream time passes
 *   the earliest close time (EMIT FINAL), or at most once per gap of stream time (EMIT CHANGES, which has nothing
 *   to emit then). RETENTION does not apply: pull queries read the table's topic, which keeps every session.
 *
 * State, in the task's stores (restored with the task, exactly once), plain JSON:
 * - `sessions`: group → its key values and its sessions (open, or closed and not swept yet) in time order, each with
 *   its bounds and one accumulator per aggregate call;
 * - `session-clock`: the stream time, and the stream time past which the next sweep is due.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { AggregateRow } from '../functions/registry.ts'
import type { ProcessorContext, ProcessorSpec } from '../processor/processor.ts'
import { createRowCodec, type Row } from '../row-codec.ts'
import type { SqlValue } from '../types.ts'
import { fromJsonValue, groupKeyText, type JsonValue, toJsonValue } from '../values.ts'
import type { AggregateCall, AggregateCounters, AggregatePlan, SessionWindowSpec } from './aggregate.ts'

/** A session: [first record time, last record time], and one accumulator per aggregate call. */
interface Session {
  readonly w: [number, number]
  readonly a: unknown[]
}

interface GroupSessions {
  readonly k: JsonValue[]
  /** By start time; they never overlap. */
  readonly s: Session[]
}

interface SessionClock {
  /** Stream time. */
  readonly t: number
  /** A sweep is due once the stream time passes it; null: no session. */
  readonly d: number | null
}

const CLOCK = 'clock'

export function sessionAggregateProcessor(
  plan: AggregatePlan,
  window: SessionWindowSpec,
  counters: AggregateCounters,
): ProcessorSpec {
  const input = createRowCodec(plan.source)
  const output = createRowCodec(plan.sink)
  const sinkTopic = plan.sink.topic
  const { aggregates } = plan
  const cannot = aggregates.filter((a) => !a.merge).map((a) => a.name)
  if (cannot.length > 0) {
    throw new OpenFactoryError(
      'OFA_SQL_FUNCTION',
      `a session window merges sessions that a record bridges; ${cannot.join(', ')} cannot merge`,
    )
  }
  const merges = aggregates.map((a) => a.merge as NonNullable<AggregateCall['merge']>)
  const gap = window.gapMs
  const lifetime = window.gapMs + window.graceMs
  const closesAt = (s: Session): number => s.w[1] + lifetime
  const schema = plan.sink.schema
  const base = schema.rowtimeIndex
  const keyCount = schema.keys.length

  const emitRow = (ctx: ProcessorContext, k: readonly JsonValue[], s: Session): void => {
    const aggRow: SqlValue[] = k.map(fromJsonValue)
    for (let i = 0; i < aggregates.length; i++) aggRow.push((aggregates[i] as AggregateCall).result(s.a[i]))
    aggRow.push(s.w[0], s.w[1])
    const sinkRow = plan.project(aggRow)
    sinkRow[base + 3] = s.w[0]
    sinkRow[base + 4] = s.w[1]
    const tombstone = plan.having ? !plan.having(aggRow) : false
    ctx.emit(sinkTopic, { ...output.encode(sinkRow, { tombstone }), timestamp: s.w[1] })
  }

  const emitTombstone = (ctx: ProcessorContext, k: readonly JsonValue[], w: readonly [number, number]): void => {
    const sinkRow: Row = new Array(schema.width).fill(null)
    for (let i = 0; i < keyCount; i++) sinkRow[i] = fromJsonValue(k[i] ?? null)
    sinkRow[base + 3] = w[0]
    sinkRow[base + 4] = w[1]
    ctx.emit(sinkTopic, { ...output.encode(sinkRow, { tombstone: true }), timestamp: w[1] })
  }

  /** Forgets the sessions closed at stream time `now` (emitting them with EMIT FINAL); the next sweep's due time. */
  const sweep = (ctx: ProcessorContext, now: number): number | null => {
    const groups = ctx.store<GroupSessions>('sessions')
    const closed: [string, GroupSessions, Session][] = []
    let next: number | null = null
    for (const [text, g] of [...groups.entries()]) {
      const open = g.s.filter((s) => now <= closesAt(s))
      if (open.length < g.s.length) {
        if (plan.emitFinal) for (const s of g.s) if (now > closesAt(s)) closed.push([text, g, s])
        if (open.length === 0) groups.delete(text)
        else groups.put(text, { k: g.k, s: open })
      }
      for (const s of open) if (next === null || closesAt(s) < next) next = closesAt(s)
    }
    // Store order is not the same after a restore: the order of the emitted rows must not depend on it.
    closed.sort(([ta, , a], [tb, , b]) => a.w[1] - b.w[1] || (ta < tb ? -1 : ta > tb ? 1 : 0))
    for (const [, g, s] of closed) emitRow(ctx, g.k, s)
    if (plan.emitFinal || next === null) return next
    return Math.max(next, now + lifetime)
  }

  return {
    id: plan.id,
    inputs: [plan.source.topic],
    outputs: [sinkTopic],
    stores: ['sessions', 'session-clock'],
    process(r, ctx) {
      const { row, tombstone } = input.decode(r)
      if (tombstone || (plan.where && !plan.where(row))) return
      const key = plan.groupBy(row)
      // ksqlDB drops a row whose group key is NULL (it cannot be a table key).
      if (key.some((v) => v === null)) return
      const text = groupKeyText(key)
      const args = aggregates.map((a) => a.args(row))
      const ts = plan.timestamp(row)
      const clocks = ctx.store<SessionClock>('session-clock')
      const clock = clocks.get(CLOCK)
      const now = clock ? Math.max(clock.t, ts) : ts
      const groups = ctx.store<GroupSessions>('sessions')
      const g = groups.get(text)
      const sessions = g?.s ?? []
      const touched = sessions.filter((s) => now <= closesAt(s) && s.w[1] >= ts - gap && s.w[0] <= ts + gap)
      let start = ts
      let end = ts
      for (const s of touched) {
        if (s.w[0] < start) start = s.w[0]
        if (s.w[1] > end) end = s.w[1]
      }
      if (end < now - window.graceMs) {
        counters.late++
        return
      }
      let acc: unknown[]
      const [first, ...others] = touched
      if (!first) acc = aggregates.map((a) => a.init())
      else if (others.length === 0) acc = [...first.a]
      else {
        // Merged on copies: the stored sessions stay as they were should a later step of this record fail.
        acc = structuredClone(first.a)
        for (const s of others) {
          const b = structuredClone(s.a)
          acc = merges.map((merge, i) => merge(acc[i], b[i]))
        }
      }
      const at: AggregateRow = { timestamp: ts, offset: r.offset }
      acc = aggregates.map((a, i) => a.add(acc[i], args[i] as SqlValue[], at))
      const merged: Session = { w: [start, end], a: acc }
      const list = sessions.filter((s) => !touched.includes(s))
      list.push(merged)
      list.sort((a, b) => a.w[0] - b.w[0])
      const k = g?.k ?? key.map(toJsonValue)
      groups.put(text, { k, s: list })
      if (!plan.emitFinal) {
        for (const s of touched) if (s.w[0] !== start || s.w[1] !== end) emitTombstone(ctx, k, s.w)
        emitRow(ctx, k, merged)
      }
      // EMIT FINAL sweeps when the earliest session closes; EMIT CHANGES, which emits nothing then, lets them wait.
      let due = clock?.d ?? null
      if (due === null || (plan.emitFinal && closesAt(merged) < due)) due = closesAt(merged)
      if (now > due) due = sweep(ctx, now)
      if (!clock || clock.t !== now || clock.d !== due) clocks.put(CLOCK, { t: now, d: due })
    },
  }
}
