/**
 * History of one asset, read from the log: the records of the asset's `ofa_assets` partition (Kafka's murmur2
 * of the UUID, `partitionFor`), filtered by key, item id and time, in log order.
 *
 * Time selects by the observation's source time (`attributes.timestamp`; the record time when that is not a
 * time), whatever the order of the records on the log: a backlog forwarded hours late is found like the rest.
 * With `from`/`to`, the state's `TimeIndex` says which blocks of offsets may hold such times; only those, and the
 * records the state has not indexed yet, are read. A query without them reads everything the log still holds.
 *
 * A page reads at most `MAX_SCAN` records: it can hold fewer than `limit` items and still have a `nextCursor`
 * (the next offset to read).
 *
 * A read the log refuses is answered with the log's code (503 for `OFA_LOG_IO`, `OFA_LOG_CORRUPT`...) and a
 * message that names the partition and offset this history read — the asset's own, whatever the log's message
 * says about the failure's origin.
 */
import { type EventLog, partitionFor } from '@openfactory/log'
import { decodeObservation, isOpenFactoryError, OpenFactoryError, TOPICS } from '@openfactory/model'
import { decodeCursor, encodeCursor } from '../internal/cursor.ts'
import { sourceTimeMs, type TimeIndex } from '../state/time-index.ts'

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
  /** JSON texts of history items, in log order. */
  readonly items: string[]
  readonly nextCursor: string | null
}

/** `eventLog.read`, its coded errors restated to name what was read. */
async function readNaming(
  eventLog: EventLog,
  topic: string,
  partition: number,
  offset: number,
  maxRecords: number,
  uuid: string,
): ReturnType<EventLog['read']> {
  try {
    return await eventLog.read(topic, partition, offset, { maxRecords })
  } catch (err) {
    if (!isOpenFactoryError(err)) throw err
    throw new OpenFactoryError(
      err.code,
      `history of ${JSON.stringify(uuid)}: reading ${topic} partition ${partition} at offset ${offset} failed: ${err.message}`,
      {
        cause: err,
        retryable: err.retryable,
        ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
        ...(err.where ? { where: err.where } : {}),
      },
    )
  }
}

export async function readHistory(eventLog: EventLog, timeIndex: TimeIndex, q: HistoryQuery): Promise<HistoryPage> {
  const topic = TOPICS.assets
  const desc = await eventLog.describeTopic(topic)
  const partition = partitionFor(q.uuid, desc.partitions)
  const ps = desc.partitionStates[partition]
  if (!ps) return { items: [], nextCursor: null }
  let offset = ps.startOffset
  if (q.cursor !== undefined) {
    const c = decodeCursor('history', q.cursor)
    if (typeof c.o !== 'number' || !Number.isSafeInteger(c.o) || c.o < 0 || c.u !== q.uuid) {
      throw new OpenFactoryError('OFA_SERVE_CURSOR_INVALID', `cursor does not belong to the history of ${q.uuid}`, {
        where: { path: 'query.cursor' },
      })
    }
    offset = Math.max(c.o as number, ps.startOffset)
  }
  const from = q.from ?? Number.NEGATIVE_INFINITY
  const to = q.to ?? Number.POSITIVE_INFINITY
  const timed = q.from !== undefined || q.to !== undefined
  const key = Buffer.from(q.uuid, 'utf8')
  const items: string[] = []
  let scanned = 0
  while (offset < ps.endOffset && items.length < q.limit && scanned < MAX_SCAN) {
    let maxRecords = READ_BATCH
    if (timed) {
      offset = timeIndex.seek(partition, offset, from, to)
      if (offset >= ps.endOffset) break
      maxRecords = Math.min(READ_BATCH, timeIndex.runEnd(partition, offset, from, to) - offset)
    }
    const batch = await readNaming(eventLog, topic, partition, offset, maxRecords, q.uuid)
    if (batch.length === 0) {
      offset = ps.endOffset
      break
    }
    for (const r of batch) {
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
      const t = sourceTimeMs(o.attributes.timestamp, r.timestamp)
      if (t < from || t > to) continue
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
  const more = offset < ps.endOffset && (!timed || timeIndex.seek(partition, offset, from, to) < ps.endOffset)
  return { items, nextCursor: more ? encodeCursor('history', { u: q.uuid, o: offset }) : null }
}
