/**
 * History of one asset, read from the log: the records of the asset's `ofa_assets` partition (Kafka's murmur2
 * of the UUID, `partitionFor`), filtered by key, item id and time.
 *
 * Time selects by the observation's source time (`attributes.timestamp`; the record time when that is not a
 * time). The partition is searched by record (append) time: a binary search finds the first record appended at
 * or after `from − HISTORY_SKEW_MS`, and the scan stops at the first record appended after `to +
 * HISTORY_SKEW_MS`. An observation that reached the log more than that after (or before) its source time is
 * not found by a time-bounded query; a query without `from`/`to` sees everything the log still holds.
 *
 * A page scans at most `MAX_SCAN` records: it can hold fewer than `limit` items and still have a `nextCursor`.
 */
import { type EventLog, type LogRecord, partitionFor } from '@openfactory/log'
import { decodeObservation, OpenFactoryError, TOPICS } from '@openfactory/model'
import { decodeCursor, encodeCursor } from '../internal/cursor.ts'

export const HISTORY_SKEW_MS = 30_000
const MAX_SCAN = 200_000
const READ_BATCH = 2000

export interface HistoryQuery {
  readonly uuid: string
  readonly ids: ReadonlySet<string> | null
  readonly from?: number
  readonly to?: number
  readonly limit: number
  readonly cursor?: string
}

export interface HistoryPage {
  /** JSON texts of history items, oldest first. */
  readonly items: string[]
  readonly nextCursor: string | null
}

/** The first offset whose record was appended at or after `time` (records are appended in time order). */
async function seek(log: EventLog, topic: string, partition: number, start: number, end: number, time: number) {
  let lo = start
  let hi = end
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2)
    const [r] = await log.read(topic, partition, mid, { maxRecords: 1 })
    if (r === undefined) hi = mid
    else if (r.timestamp < time) lo = r.offset + 1
    else hi = mid
  }
  return lo
}

function sourceTime(text: unknown, r: LogRecord): number {
  const t = typeof text === 'string' ? Date.parse(text) : Number.NaN
  return Number.isFinite(t) ? t : r.timestamp
}

export async function readHistory(log: EventLog, q: HistoryQuery): Promise<HistoryPage> {
  const topic = TOPICS.assets
  const desc = await log.describeTopic(topic)
  const partition = partitionFor(q.uuid, desc.partitions)
  const ps = desc.partitionStates[partition]
  if (!ps) return { items: [], nextCursor: null }
  let offset: number
  if (q.cursor !== undefined) {
    const c = decodeCursor('history', q.cursor)
    if (typeof c.o !== 'number' || !Number.isSafeInteger(c.o) || c.o < 0 || c.u !== q.uuid) {
      throw new OpenFactoryError('OFA_SERVE_CURSOR_INVALID', `cursor does not belong to the history of ${q.uuid}`, {
        where: { path: 'query.cursor' },
      })
    }
    offset = c.o as number
  } else if (q.from !== undefined) {
    offset = await seek(log, topic, partition, ps.startOffset, ps.endOffset, q.from - HISTORY_SKEW_MS)
  } else {
    offset = ps.startOffset
  }
  offset = Math.max(offset, ps.startOffset)
  const key = Buffer.from(q.uuid, 'utf8')
  const items: string[] = []
  let scanned = 0
  let done = false
  while (!done && offset < ps.endOffset && items.length < q.limit && scanned < MAX_SCAN) {
    const batch = await log.read(topic, partition, offset, { maxRecords: READ_BATCH })
    if (batch.length === 0) {
      done = true
      break
    }
    for (const r of batch) {
      if (q.to !== undefined && r.timestamp > q.to + HISTORY_SKEW_MS) {
        done = true
        break
      }
      offset = r.offset + 1
      scanned++
      if (r.key === null || r.value === null || !key.equals(r.key)) continue
      let o: ReturnType<typeof decodeObservation>
      try {
        o = decodeObservation(r.value)
      } catch {
        continue
      }
      if (q.ids !== null && !q.ids.has(o.id)) continue
      const t = sourceTime(o.attributes.timestamp, r)
      if ((q.from !== undefined && t < q.from) || (q.to !== undefined && t > q.to)) continue
      items.push(
        JSON.stringify({
          assetUuid: q.uuid,
          id: o.id,
          value: o.value,
          tag: o.tag,
          type: o.type,
          timestamp: o.attributes.timestamp,
          attributes: o.attributes,
          offset: r.offset,
        }),
      )
      if (items.length >= q.limit) break
    }
  }
  const more = !done && offset < ps.endOffset
  return { items, nextCursor: more ? encodeCursor('history', { u: q.uuid, o: offset }) : null }
}
