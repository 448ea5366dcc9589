// Fetches records of partitions at given offsets, with Kafka's Fetch request sent straight to each partition's
// leader. `read`, `follow` and group members use it; each long-polling reader owns its connections (a broker
// answers the requests of one connection in order, so a long poll would delay everything queued behind it).
//
// Fetch request (Kafka protocol guide, "Fetch API", versions 12 to 17): replica_id -1 (a consumer), max_wait_ms,
// min_bytes, max_bytes, isolation_level, session_id and session_epoch, then per topic (by name up to v12, by
// topic id from v13) the partitions with their fetch_offset and partition_max_bytes. We send session id 0 and
// epoch -1: a sessionless full fetch (KIP-227), since every request names exactly the partitions it wants.
// The answer carries, per partition, an error code, the high watermark (the end of what every in-sync replica
// holds: records below it are acknowledged), the log start offset and whole record batches (v2 format): a batch
// may begin before the requested offset, and the last one may be cut by max_bytes (see fetch-response.ts).
import type { LogRecord } from '@openfactory/log'
import {
  type ConnectionPool,
  fetchV12,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  type Reader,
} from '@platformatic/kafka'
import { type DecodedFetch, decodeFetchResponse } from './fetch-response.ts'
import type { MetadataCache } from './metadata.ts'

const FETCH_API_KEY = 1
/** The library's request encoders (our decoder reads the answers). */
const FETCH_REQUESTS = new Map<number, typeof fetchV17.createRequest>([
  [12, fetchV12.createRequest as typeof fetchV17.createRequest],
  [13, fetchV13.createRequest as typeof fetchV17.createRequest],
  [14, fetchV14.createRequest as typeof fetchV17.createRequest],
  [15, fetchV15.createRequest as typeof fetchV17.createRequest],
  [16, fetchV16.createRequest as typeof fetchV17.createRequest],
  [17, fetchV17.createRequest],
])
export const FETCH_VERSIONS = { min: 12, max: 17 }

/** Kafka error codes a fetch answers per partition (Kafka protocol guide, "Error Codes"). */
export const FetchErrors = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  LEADER_NOT_AVAILABLE: 5,
  REPLICA_NOT_AVAILABLE: 9,
  KAFKA_STORAGE_ERROR: 56,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  OFFSET_NOT_AVAILABLE: 78,
  UNKNOWN_TOPIC_ID: 100,
  INCONSISTENT_TOPIC_ID: 103,
} as const

/** Errors after which the metadata (leaders, topic ids) is refreshed and the fetch tried again. */
export const RETRIABLE_FETCH_ERRORS: ReadonlySet<number> = new Set([
  FetchErrors.NOT_LEADER_OR_FOLLOWER,
  FetchErrors.LEADER_NOT_AVAILABLE,
  FetchErrors.REPLICA_NOT_AVAILABLE,
  FetchErrors.KAFKA_STORAGE_ERROR,
  FetchErrors.FENCED_LEADER_EPOCH,
  FetchErrors.UNKNOWN_LEADER_EPOCH,
  FetchErrors.OFFSET_NOT_AVAILABLE,
  FetchErrors.UNKNOWN_TOPIC_ID,
  FetchErrors.INCONSISTENT_TOPIC_ID,
])

export interface PartitionFetch {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** Bytes to fetch at most for this partition (the broker returns at least one whole batch). */
  readonly maxBytes: number
}

export interface PartitionResult {
  readonly topic: string
  readonly partition: number
  /** Kafka's error code; 0 when the records are valid. */
  readonly errorCode: number
  readonly records: LogRecord[]
  /** Where to fetch next: after the last record, or after the last batch when no record was of interest. */
  readonly nextOffset: number
  readonly highWatermark: number
  readonly logStartOffset: number
}

export interface FetchLimits {
  readonly maxWaitMs: number
  readonly minBytes: number
  /** Bytes per request at most. */
  readonly maxBytes: number
}

export class Fetcher {
  readonly #metadata: MetadataCache
  readonly #pool: ConnectionPool
  readonly #version: number

  constructor(metadata: MetadataCache, pool: ConnectionPool, version: number) {
    this.#metadata = metadata
    this.#pool = pool
    this.#version = version
  }

  get pool(): ConnectionPool {
    return this.#pool
  }

  /**
   * Fetches every requested partition from its leader (one request per leader, sent in parallel). Partition
   * errors come back in `errorCode`; an unreachable broker rejects.
   */
  async fetch(requests: readonly PartitionFetch[], limits: FetchLimits): Promise<PartitionResult[]> {
    if (requests.length === 0) return []
    const topics = [...new Set(requests.map((r) => r.topic))]
    const md = await this.#metadata.get(topics)
    const byLeader = new Map<number, PartitionFetch[]>()
    for (const r of requests) {
      const leader = md.topics.get(r.topic)?.partitions[r.partition]?.leader ?? -1
      const list = byLeader.get(leader) ?? []
      list.push(r)
      byLeader.set(leader, list)
    }
    const results = await Promise.all(
      [...byLeader].map(async ([leader, reqs]): Promise<PartitionResult[]> => {
        const broker = md.brokers.get(leader)
        if (!broker) {
          return reqs.map((r) => ({
            topic: r.topic,
            partition: r.partition,
            errorCode: FetchErrors.LEADER_NOT_AVAILABLE,
            records: [],
            nextOffset: r.offset,
            highWatermark: -1,
            logStartOffset: -1,
          }))
        }
        return this.#fetchFrom(broker, reqs, md, limits)
      }),
    )
    return results.flat()
  }

  async #fetchFrom(
    broker: { host: string; port: number },
    reqs: readonly PartitionFetch[],
    md: Awaited<ReturnType<MetadataCache['get']>>,
    limits: FetchLimits,
  ): Promise<PartitionResult[]> {
    const byName = this.#version <= 12
    const topicKey = (topic: string): string => (byName ? topic : md.topics.get(topic)!.id)
    const nameOf = new Map<string, string>()
    const grouped = new Map<string, { topicId: string; partitions: object[] }>()
    for (const r of reqs) {
      const id = topicKey(r.topic)
      nameOf.set(id, r.topic)
      let g = grouped.get(id)
      if (!g) {
        g = { topicId: id, partitions: [] }
        grouped.set(id, g)
      }
      g.partitions.push({
        partition: r.partition,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(r.offset),
        lastFetchedEpoch: -1,
        partitionMaxBytes: r.maxBytes,
      })
    }
    const connection = await this.#pool.get(broker)
    const version = this.#version
    const createRequest = FETCH_REQUESTS.get(version)!
    const topicOf = (idOrName: string): string => nameOf.get(idOrName) ?? idOrName
    const response = await new Promise<DecodedFetch>((resolve, reject) => {
      connection.send(
        FETCH_API_KEY,
        version,
        () =>
          createRequest(
            limits.maxWaitMs,
            limits.minBytes,
            limits.maxBytes,
            0, // READ_UNCOMMITTED: up to the high watermark (we write no transactions)
            0, // no fetch session ...
            -1, // ... a full fetch
            [...grouped.values()] as never,
            [],
            '',
          ),
        // The body, made contiguous once (one copy when it came in several socket reads), then our decoder.
        (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader) =>
          decodeFetchResponse(reader.buffer.slice(reader.position), version, topicOf),
        true,
        true,
        (err: Error | null, res?: DecodedFetch) => (err || !res ? reject(err) : resolve(res)),
      )
    })
    const offsetOf = new Map<string, number>()
    for (const r of reqs) offsetOf.set(`${r.topic}:${r.partition}`, r.offset)
    const out: PartitionResult[] = []
    for (const t of response.topics) {
      for (const p of t.partitions) {
        const from = offsetOf.get(`${t.topic}:${p.partitionIndex}`)
        if (from === undefined) continue
        let records = p.errorCode === 0 ? p.records : []
        // A batch may start before the offset asked for.
        if (records.length > 0 && records[0]!.offset < from) records = records.filter((r) => r.offset >= from)
        const last = records.length > 0 ? records[records.length - 1]!.offset + 1 : from
        out.push({
          topic: t.topic,
          partition: p.partitionIndex,
          errorCode: p.errorCode,
          records,
          nextOffset: p.errorCode === 0 ? Math.max(last, p.nextOffset, from) : from,
          highWatermark: p.highWatermark,
          logStartOffset: p.logStartOffset,
        })
      }
    }
    if (response.errorCode !== 0 && out.length === 0) {
      for (const r of reqs) {
        out.push({
          topic: r.topic,
          partition: r.partition,
          errorCode: response.errorCode,
          records: [],
          nextOffset: r.offset,
          highWatermark: -1,
          logStartOffset: -1,
        })
      }
    }
    return out
  }
}
