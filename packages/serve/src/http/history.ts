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
import { type EventLog, type LogRecord, partitionFor } from '@openfactory/log'
import {
  decodeObservation,
  decodeObservationLazy,
  isOpenFactoryError,
  type Observation,
  OpenFactoryError,
  TOPICS,
} from '@openfactory/model'
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
export async function readNaming(
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

/** The asset's `ofa_assets` partition (Kafka's murmur2 of the UUID) and the offsets it holds now. */
export interface AssetPartition {
  readonly topic: string
  readonly partition: number
  readonly startOffset: number
  readonly endOffset: number
}

export async function assetPartition(eventLog: EventLog, uuid: string): Promise<AssetPartition | null> {
  const topic = TOPICS.assets
  const desc = await eventLog.describeTopic(topic)
  const partition = partitionFor(uuid, desc.partitions)
  const ps = desc.partitionStates[partition]
  return ps ? { topic, partition, startOffset: ps.startOffset, endOffset: ps.endOffset } : null
}

/** A history item (the `HistoryItem` schema) as JSON text. */
export function historyItemJson(uuid: string, o: Observation, offset: number): string {
  return JSON.stringify({
    assetUuid: uuid,
    id: o.id,
    value: o.value,
    tag: o.tag,
    type: o.type,
    timestamp: o.attributes.timestamp,
    attributes: o.attributes,
    offset,
  })
}

/**
 * What a history read keeps of a record: the asset's key, an observation that decodes, one of the item ids asked
 * for, a source time in [from, to]. `accept` answers the observation (and leaves its time in `time`) or null.
 */
export class ObservationFilter {
  readonly #key: Buffer
  readonly #ids: ReadonlySet<string> | null
  readonly #from: number
  readonly #to: number
  /** The source time of the last record accepted (epoch ms). */
  time = 0

  constructor(uuid: string, ids: ReadonlySet<string> | null, from: number, to: number) {
    this.#key = Buffer.from(uuid, 'utf8')
    this.#ids = ids
    this.#from = from
    this.#to = to
  }

  accept(r: LogRecord): Observation | null {
    if (r.key === null || r.value === null || !this.#key.equals(r.key)) return null
    let o: Observation
    try {
      // With an item filter, lazily: the attributes of records of other items are never parsed (same result and
      // errors). Without, in full: every record's attributes are read, and the lazy path costs more then.
      o = this.#ids === null ? decodeObservation(r.value) : decodeObservationLazy(r.value)
    } catch {
      return null
    }
    if (this.#ids !== null && !this.#ids.has(o.id)) return null
    const t = sourceTimeMs(o.attributes.timestamp, r.timestamp)
    if (t < this.#from || t > this.#to) return null
    this.time = t
    return o
  }
}

/**
 * Reads [part.startOffset, part.endOffset) of the asset's partition where the time index says times in [from, to]
 * may be (every offset it has not indexed yet included): batches of records in log order, of every key. The end is
 * the one the log described when the read began: records appended meanwhile are not read.
 */
export async function* candidateBatches(
  eventLog: EventLog,
  timeIndex: TimeIndex,
  uuid: string,
  part: AssetPartition,
  from: number,
  to: number,
  batchRecords = READ_BATCH,
): AsyncGenerator<readonly LogRecord[]> {
  const end = part.endOffset
  const readFrom = (at: number): Promise<LogRecord[]> | null => {
    const offset = timeIndex.seek(part.partition, at, from, to)
    if (offset >= end) return null
    const maxRecords = Math.min(batchRecords, timeIndex.runEnd(part.partition, offset, from, to) - offset, end - offset)
    return readNaming(eventLog, part.topic, part.partition, offset, maxRecords, uuid)
  }
  // One read ahead: the next batch is read while the caller works on this one (the log's I/O and the decoding
  // overlap: bench/serve-history-downsample.ts).
  let next = readFrom(part.startOffset)
  while (next !== null) {
    const batch = await next
    if (batch.length === 0) return
    next = readFrom((batch[batch.length - 1] as LogRecord).offset + 1)
    // A read ahead the caller never awaits (it stopped early) must not be an unhandled rejection.
    next?.catch(() => {})
    yield batch
  }
}

export async function readHistory(eventLog: EventLog, timeIndex: TimeIndex, q: HistoryQuery): Promise<HistoryPage> {
  const part = await assetPartition(eventLog, q.uuid)
  if (!part) return { items: [], nextCursor: null }
  const { topic, partition } = part
  let offset = part.startOffset
  if (q.cursor !== undefined) {
    const c = decodeCursor('history', q.cursor)
    if (typeof c.o !== 'number' || !Number.isSafeInteger(c.o) || c.o < 0 || c.u !== q.uuid) {
      throw new OpenFactoryError('OFA_SERVE_CURSOR_INVALID', `cursor does not belong to the history of ${q.uuid}`, {
        where: { path: 'query.cursor' },
      })
    }
    offset = Math.max(c.o as number, part.startOffset)
  }
  const from = q.from ?? Number.NEGATIVE_INFINITY
  const to = q.to ?? Number.POSITIVE_INFINITY
  const timed = q.from !== undefined || q.to !== undefined
  const filter = new ObservationFilter(q.uuid, q.ids, from, to)
  const items: string[] = []
  let scanned = 0
  while (offset < part.endOffset && items.length < q.limit && scanned < MAX_SCAN) {
    let maxRecords = READ_BATCH
    if (timed) {
      offset = timeIndex.seek(partition, offset, from, to)
      if (offset >= part.endOffset) break
      maxRecords = Math.min(READ_BATCH, timeIndex.runEnd(partition, offset, from, to) - offset)
    }
    const batch = await readNaming(eventLog, topic, partition, offset, maxRecords, q.uuid)
    if (batch.length === 0) {
      offset = part.endOffset
      break
    }
    for (const r of batch) {
      offset = r.offset + 1
      scanned++
      const o = filter.accept(r)
      if (o === null) continue
      items.push(historyItemJson(q.uuid, o, r.offset))
      if (items.length >= q.limit) break
    }
  }
  const more = offset < part.endOffset && (!timed || timeIndex.seek(partition, offset, from, to) < part.endOffset)
  return { items, nextCursor: more ? encodeCursor('history', { u: q.uuid, o: offset }) : null }
}
