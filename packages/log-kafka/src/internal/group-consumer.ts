// A consumer-group member over Kafka's classic group protocol. The library's `Consumer` does the group
// membership (JoinGroup/SyncGroup with the round-robin assignor, heartbeats, rejoining on a rebalance,
// LeaveGroup on close) and the offset commits; the fetching is ours (see fetcher.ts), so that a partition is
// reported as owned only once its starting position is known, and positions of partitions kept across a
// rebalance survive it.
//
// A consumer given its partitions (`ConsumerOptions.partitions`) joins no group: it owns them from the start, reads
// the group's committed offsets and commits to them as a "simple" consumer does (OffsetCommit with generation -1
// and no member id, through the admin client), which Kafka accepts while no member joined the group.
import type { DriverConsumerOptions, GroupConsumer, LogRecord, TopicPartitionOffset } from '@openfactory/log'
import { OpenFactoryError, sleep } from '@openfactory/model'
import {
  type BaseOptions,
  Consumer,
  type GroupAssignment,
  type GroupPartitionsAssigner,
  roundRobinAssigner,
} from '@platformatic/kafka'
import { closedError, invalidArgument, kafkaError } from './errors.ts'
import { FetchErrors, type Fetcher, RETRIABLE_FETCH_ERRORS } from './fetcher.ts'
import type { MetadataCache } from './metadata.ts'
import { type RetryPolicy, retrying } from './retrying.ts'

/** What a member needs from the log that made it. */
export interface ConsumerHost {
  readonly metadata: MetadataCache
  readonly fetchMaxWaitMs: number
  /** Fetches that fail are tried again so often, so far apart. */
  readonly policy: RetryPolicy
  /** Options of a library client (brokers, id, security, timeouts). */
  clientOptions(): BaseOptions
  /** A fetcher with its own connections. */
  newFetcher(): Promise<Fetcher>
  listOffsets(topic: string, partitions: readonly number[], which: 'earliest' | 'latest'): Promise<Map<number, number>>
  /** Committed offsets of a group (for a consumer given its partitions). */
  committedOffsets(group: string, topic: string): Promise<Map<number, number>>
  /** Commits offsets outside any group generation (for a consumer given its partitions). */
  commitOffsets(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void>
  /** Throws OFA_LOG_CLOSED once the log is closed. */
  check(): void
  forget(member: KafkaGroupConsumer): void
}

export interface KafkaConsumerOptions extends DriverConsumerOptions {
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
}

const key = (topic: string, partition: number): string => `${topic}\0${partition}`

/**
 * Round-robin, except that partition 0 of every topic goes to the member computing the assignment: the group's
 * leader, its longest-standing member. A member joining thus never takes partition 0 from the one that has it
 * (as with the embedded log's range assignment) — what a lease held through a group needs. The leader swaps one
 * of its own partitions for it, so the balance stays round-robin's.
 */
export const leaderKeepsFirstAssigner: GroupPartitionsAssigner = (current, members, topics, metadata) => {
  const assignments = roundRobinAssigner(current, members, topics, metadata)
  const mine = assignments.find((a) => a.memberId === current)
  if (!mine) return assignments
  for (const topic of topics) {
    const holder = assignments.find((a) => a.assignments.get(topic)?.partitions.includes(0))
    if (!holder || holder === mine) continue
    const theirs = holder.assignments.get(topic)!
    theirs.partitions = theirs.partitions.filter((p) => p !== 0)
    const own = mine.assignments.get(topic)
    const given = own?.partitions.shift()
    if (given !== undefined) theirs.partitions.push(given)
    if (theirs.partitions.length === 0) holder.assignments.delete(topic)
    if (own) own.partitions.unshift(0)
    else mine.assignments.set(topic, { topic, partitions: [0] })
  }
  return assignments
}

export class KafkaGroupConsumer implements GroupConsumer {
  readonly group: string
  readonly #host: ConsumerHost
  readonly #o: KafkaConsumerOptions
  /** The group membership; null for a consumer given its partitions. */
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | null
  /** Aborted by `close()`: ends the waits between failed fetches. */
  readonly #stop = new AbortController()
  /** Next offset to fetch, per owned partition. */
  #positions = new Map<string, TopicPartitionOffset>()
  /** The offset after the last record handed out, per owned partition: what `commit()` commits. */
  #delivered = new Map<string, TopicPartitionOffset>()
  #assignment: { topic: string; partition: number }[] = []
  /** The assignment of the last completed join, not applied yet. */
  #joined: GroupAssignment[] | null = null
  #wake: (() => void) | null = null
  #iterating = false
  #closed = false
  #closing: Promise<void> | null = null
  #fetcher: Fetcher | null = null
  #failure: OpenFactoryError | null = null

  constructor(host: ConsumerHost, opts: KafkaConsumerOptions) {
    this.#host = host
    this.#o = opts
    this.group = opts.group
    if (opts.partitions) {
      this.#consumer = null
      opts.signal?.addEventListener('abort', () => void this.close(), { once: true })
      return
    }
    this.#consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...host.clientOptions(),
      groupId: opts.group,
      autocommit: false,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(opts.sessionTimeoutMs, 30_000),
      partitionAssigner: leaderKeepsFirstAssigner,
    })
    const consumer = this.#consumer
    consumer.on('consumer:group:join', (payload: { assignments?: GroupAssignment[] }) => {
      this.#joined = payload.assignments ?? consumer.assignments ?? []
      this.#wake?.()
    })
    // Heartbeat failures make the library rejoin by itself. A rejoin that fails for good (after its retries) is
    // an 'error' event: the member is out of the group, and iterating it throws.
    consumer.on('consumer:heartbeat:error', () => {})
    consumer.on('error', (err: unknown) => {
      this.#failure ??= kafkaError(`group ${this.group}: rejoining failed`, err)
      this.#wake?.()
    })
    opts.signal?.addEventListener('abort', () => void this.close(), { once: true })
  }

  assignment(): readonly { topic: string; partition: number }[] {
    return this.#assignment
  }

  [Symbol.asyncIterator](): AsyncIterator<LogRecord[]> {
    if (this.#iterating) throw invalidArgument('a group consumer can be iterated once')
    this.#iterating = true
    return this.#run()
  }

  async *#run(): AsyncGenerator<LogRecord[]> {
    try {
      if (this.#closed || this.#o.signal?.aborted) return
      this.#fetcher = await this.#host.newFetcher()
      const fetcher = this.#fetcher
      if (this.#consumer) {
        this.#consumer.topics.trackAll(...this.#o.topics)
        try {
          await this.#consumer.joinGroup({})
        } catch (err) {
          if (this.#closed) return
          throw kafkaError(`join group ${this.group}`, err)
        }
      } else {
        this.#joined = await this.#givenAssignment()
      }
      while (!this.#closed) {
        if (this.#failure) throw this.#failure
        if (this.#joined) await this.#applyAssignment()
        if (this.#closed) return
        if (this.#assignment.length === 0) {
          await this.#pause(this.#host.fetchMaxWaitMs)
          continue
        }
        const requests = [...this.#positions.values()].map((p) => ({
          topic: p.topic,
          partition: p.partition,
          offset: p.offset,
          maxBytes: 1024 * 1024,
        }))
        let results: Awaited<ReturnType<Fetcher['fetch']>>
        try {
          // A broker restarting or a leader moving: fresh metadata, and the fetch again, a limited number of times.
          results = await retrying(
            this.#host.policy,
            () => !this.#closed,
            async (attempt) => {
              if (attempt > 1) await this.#host.metadata.get(this.#o.topics, true).catch(() => {})
              return fetcher.fetch(requests, {
                maxWaitMs: this.#host.fetchMaxWaitMs,
                minBytes: 1,
                maxBytes: 16 * 1024 * 1024,
              })
            },
            this.#stop.signal,
          )
        } catch (err) {
          if (this.#closed) return
          throw kafkaError(`fetch for group ${this.group}`, err)
        }
        let refresh = false
        for (const r of results) {
          const k = key(r.topic, r.partition)
          const pos = this.#positions.get(k)
          if (this.#closed) return
          // The partition moved to another member while the fetch was out, or its position was reset.
          if (!pos || pos.offset !== requests.find((q) => key(q.topic, q.partition) === k)?.offset) continue
          if (r.errorCode === FetchErrors.OFFSET_OUT_OF_RANGE) {
            const which = this.#o.resetTo
            const o = (await this.#host.listOffsets(r.topic, [r.partition], which)).get(r.partition) ?? 0
            this.#positions.set(k, { ...pos, offset: o })
            continue
          }
          if (r.errorCode === FetchErrors.UNKNOWN_TOPIC_OR_PARTITION || RETRIABLE_FETCH_ERRORS.has(r.errorCode)) {
            refresh = true
            continue
          }
          if (r.errorCode !== 0) {
            throw new OpenFactoryError('OFA_LOG_IO', `fetch of ${r.topic}/${r.partition}: Kafka error ${r.errorCode}`, {
              retryable: true,
            })
          }
          this.#positions.set(k, { ...pos, offset: r.nextOffset })
          if (r.records.length === 0) continue
          for (let i = 0; i < r.records.length; i += this.#o.maxRecords) {
            const batch = r.records.slice(i, i + this.#o.maxRecords)
            const next = batch[batch.length - 1]!.offset + 1
            if (this.#closed) return
            if (!this.#positions.has(k)) break
            this.#delivered.set(k, { topic: r.topic, partition: r.partition, offset: next })
            yield batch
          }
        }
        if (refresh) {
          await this.#host.metadata.get(this.#o.topics, true).catch(() => {})
          await this.#pause(100)
        }
      }
    } finally {
      await this.close()
    }
  }

  /** Takes over the assignment of the last join: keeps the positions of partitions kept, looks up the others. */
  async #applyAssignment(): Promise<void> {
    const joined = this.#joined!
    this.#joined = null
    const wanted = new Map<string, { topic: string; partition: number }>()
    for (const a of joined) for (const p of a.partitions) wanted.set(key(a.topic, p), { topic: a.topic, partition: p })
    for (const k of [...this.#positions.keys()]) {
      if (!wanted.has(k)) {
        this.#positions.delete(k)
        this.#delivered.delete(k)
      }
    }
    const missing = [...wanted.values()].filter((tp) => !this.#positions.has(key(tp.topic, tp.partition)))
    const byTopic = new Map<string, number[]>()
    for (const tp of missing) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition])
    for (const [topic, partitions] of byTopic) {
      let committed: Map<number, number>
      try {
        committed = await this.#committed(topic, partitions)
      } catch (err) {
        if (this.#closed) return
        throw kafkaError(`committed offsets of group ${this.group}`, err)
      }
      const startAt = this.#o.startAt?.get(topic)
      const unset = partitions.filter((p) => !committed.has(p) && startAt?.get(p) === undefined)
      const reset = unset.length > 0 ? await this.#host.listOffsets(topic, unset, this.#o.resetTo) : new Map()
      // No committed offset, an offset given: clamped into the partition (ConsumerOptions.startAt).
      const given = partitions.filter((p) => !committed.has(p) && startAt?.get(p) !== undefined)
      if (given.length > 0) {
        const [first, end] = await Promise.all([
          this.#host.listOffsets(topic, given, 'earliest'),
          this.#host.listOffsets(topic, given, 'latest'),
        ])
        for (const p of given) {
          reset.set(p, Math.min(Math.max(startAt!.get(p)!, first.get(p) ?? 0), end.get(p) ?? 0))
        }
      }
      for (const p of partitions) {
        const offset = committed.get(p) ?? reset.get(p) ?? 0
        this.#positions.set(key(topic, p), { topic, partition: p, offset })
      }
    }
    // A later join may have come in meanwhile; it is applied on the next turn.
    this.#assignment = [...wanted.values()].sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
    )
  }

  /** The group's committed offsets of some partitions of a topic (absent where none). */
  async #committed(topic: string, partitions: readonly number[]): Promise<Map<number, number>> {
    if (!this.#consumer) return this.#host.committedOffsets(this.group, topic)
    const committed = await this.#consumer.listCommittedOffsets({ topics: [{ topic, partitions: [...partitions] }] })
    const offsets = committed.get(topic) ?? []
    const out = new Map<number, number>()
    for (const p of partitions) {
      const c = offsets[p] ?? -1n
      if (c >= 0n) out.set(p, Number(c))
    }
    return out
  }

  /** The partitions a consumer was given, all of them for a topic the map does not name. */
  async #givenAssignment(): Promise<GroupAssignment[]> {
    const given = this.#o.partitions!
    const out: GroupAssignment[] = []
    for (const topic of this.#o.topics) {
      const list = given.get(topic) ?? Array.from({ length: await this.#host.metadata.partitions(topic) }, (_, i) => i)
      out.push({ topic, partitions: [...list] })
    }
    return out
  }

  /** Waits `ms`, or less when a rebalance completes or the consumer closes. */
  #pause(ms: number): Promise<void> {
    const woken = new AbortController()
    this.#wake = () => {
      this.#wake = null
      woken.abort()
    }
    return sleep(ms, AbortSignal.any([woken.signal, this.#stop.signal]))
  }

  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.#closed) throw closedError()
    this.#host.check()
    // (The checking core checked the offsets given.)
    const list = offsets ?? [...this.#delivered.values()]
    if (list.length === 0) return
    if (!this.#consumer) return this.#host.commitOffsets(this.group, list)
    try {
      await this.#consumer.commit({
        offsets: list.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      })
    } catch (err) {
      throw kafkaError(`commit of group ${this.group}`, err)
    }
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true
      this.#assignment = []
      this.#stop.abort()
      this.#wake?.()
      this.#closing = (async () => {
        try {
          await this.#consumer?.close(true)
        } catch {
          // Leaving the group failed (brokers gone): the session timeout removes the member.
        }
        await this.#fetcher?.pool.close().catch(() => {})
        this.#host.forget(this)
      })()
    }
    return this.#closing
  }
}
