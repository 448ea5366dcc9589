/**
 * Stateless persistent queries as processors: a stream to a stream (CREATE STREAM AS SELECT, INSERT INTO: filter,
 * project, re-key with PARTITION BY) and a table to a table (CREATE TABLE AS SELECT without GROUP BY: filter and
 * project each row; a row that stops matching the filter, or a deleted one, becomes a tombstone of its key).
 *
 * Each record: its row is decoded (a record that does not decode is a processing error: skipped, logged), the
 * compiled filter and projection run on it, and the sink's row is encoded and emitted with the input's event time.
 */
import type { DataSource } from '../catalog.ts'
import type { ProcessorSpec } from '../processor/processor.ts'
import { createRowCodec, type Row } from '../row-codec.ts'

export interface SelectPlan {
  readonly id: string
  readonly source: DataSource
  readonly sink: DataSource
  /** The WHERE clause compiled; absent: every row. */
  readonly where?: (row: Row) => boolean
  /** The sink's row (its schema's order) from a source row, keys included (PARTITION BY sets them). */
  readonly project: (row: Row) => Row
  /** The event time of a source row: ROWTIME, or the TIMESTAMP column. */
  readonly timestamp: (row: Row) => number
}

export function selectProcessor(plan: SelectPlan): ProcessorSpec {
  const input = createRowCodec(plan.source)
  const output = createRowCodec(plan.sink)
  const { where, project, timestamp } = plan
  const sinkTopic = plan.sink.topic
  const table = plan.source.kind === 'TABLE'
  const sinkKeys = plan.sink.schema.keys.length
  return {
    id: plan.id,
    inputs: [plan.source.topic],
    outputs: [sinkTopic],
    process(r, ctx) {
      const { row, tombstone } = input.decode(r)
      if (tombstone) {
        // A stream has no deletions: a record without value says nothing. A table's deletion passes on.
        if (table) ctx.emit(sinkTopic, { ...output.encode(project(row), { tombstone: true }), timestamp: r.timestamp })
        return
      }
      if (where && !where(row)) {
        if (table) ctx.emit(sinkTopic, { ...output.encode(project(row), { tombstone: true }), timestamp: r.timestamp })
        return
      }
      const out = project(row)
      if (sinkKeys === 0 && plan.sink.kind === 'TABLE') return
      ctx.emit(sinkTopic, { ...output.encode(out), timestamp: timestamp(row) })
    },
  }
}
