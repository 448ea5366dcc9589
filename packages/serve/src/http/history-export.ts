/**
 * History export: every observation of one asset in a source-time range, in log order, as CSV or as a JSON array
 * of history items, streamed — one read batch of the log at a time, each written before the next is read, and
 * read only as fast as the client takes the answer (the stream is pulled by the response's backpressure). Nothing
 * of the range is held beyond a batch; there is no paging and no limit on the range.
 *
 * CSV (RFC 4180): a header row `timestamp,id,tag,type,value,units,offset`, then one row per observation, each
 * line ending with CRLF. `timestamp` is the source time as the observation carries it, `value` the value (for a
 * condition, its level), `units` the `units` attribute or empty, `offset` the record's offset in its partition. A
 * field holding a comma, a double quote, CR or LF is enclosed in double quotes, its double quotes doubled.
 */
import type { EventLog, LogRecord } from '@openfactory/log'
import type { Observation } from '@openfactory/model'
import type { TimeIndex } from '../state/time-index.ts'
import { type AssetPartition, candidateBatches, historyItemJson, ObservationFilter } from './history.ts'

export type ExportFormat = 'csv' | 'json'

export const CSV_HEADER = 'timestamp,id,tag,type,value,units,offset\r\n'

const NEEDS_QUOTES = /[",\r\n]/

/** One CSV field (RFC 4180 §2.5–2.7). */
export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export function csvRow(o: Observation, offset: number): string {
  const ts = o.attributes.timestamp
  const units = o.attributes.units
  return `${csvField(typeof ts === 'string' ? ts : '')},${csvField(o.id)},${csvField(o.tag)},${csvField(o.type)},${
    typeof o.value === 'number' ? String(o.value) : csvField(o.value)
  },${csvField(typeof units === 'string' ? units : '')},${offset}\r\n`
}

export interface ExportQuery {
  readonly uuid: string
  readonly ids: ReadonlySet<string> | null
  readonly from: number
  readonly to: number
  readonly format: ExportFormat
}

/**
 * The export as text chunks: the head (CSV header, `[`) with the rows of the first batch read, then the rows of each
 * later batch that has some, then the tail (`]`). The first chunk comes only after the first read of the log, so
 * that a log that cannot be read is answered with an error before anything is sent.
 */
export async function* exportChunks(
  eventLog: EventLog,
  timeIndex: TimeIndex,
  part: AssetPartition | null,
  q: ExportQuery,
): AsyncGenerator<string> {
  const json = q.format === 'json'
  let head: string | null = json ? '[' : CSV_HEADER
  let rows = 0
  if (part) {
    const filter = new ObservationFilter(q.uuid, q.ids, q.from, q.to)
    for await (const batch of candidateBatches(eventLog, timeIndex, q.uuid, part, q.from, q.to)) {
      let chunk = head ?? ''
      head = null
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i] as LogRecord
        const o = filter.accept(r)
        if (o === null) continue
        chunk += json ? `${rows > 0 ? ',' : ''}${historyItemJson(q.uuid, o, r.offset)}` : csvRow(o, r.offset)
        rows++
      }
      if (chunk !== '') yield chunk
    }
  }
  const last = `${head ?? ''}${json ? ']' : ''}`
  if (last !== '') yield last
}
