/**
 * Consumer groups of the embedded log. Members live in the owning process: a group is a list of members in
 * join order; each join, leave or expiry is a rebalance (a new generation) that shares every subscribed topic's
 * partitions among the members subscribed to it, range-style (Kafka's RangeAssignor: consecutive blocks, the
 * first members get one more when the count does not divide). A member that takes over a partition resumes from
 * the group's committed offset, or where there is none from its `startAt` offset (clamped into the partition),
 * else from `resetTo`. Delivery is at-least-once.
 *
 * Range assignment keeps the lease rule of the backbone contract: the longest-standing member subscribed to a
 * topic comes first and gets its partition 0. A consumer given `partitions` is a member of no group: it owns
 * those partitions from the start, and only shares the group's committed offsets.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { GroupConsumer, LogRecord, TopicPartitionOffset } from '../backbone.ts'
import type { DriverConsumerOptions } from '../log-driver.ts'
import { invalidArgument, readOnlyError } from './errors.ts'
import type { Partition, ReadResult } from './partition.ts'

/** What consumers need from the log that hosts them. */
export interface GroupHost {
  readonly readOnly: boolean
  readonly pollIntervalMs: number
  /** Aborted when the log closes. */
  readonly closeSignal: AbortSignal
  partitions(topic: string): Promise<readonly Partition[]>
  read(p: Partition, offset: number, maxRecords: number): Promise<ReadResult>
  committed(group: string, topic: string): Promise<Map<number, number>>
  commit(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void>
  /** Reports what a consumer worked around (a damaged partition skipped); at most once a minute per `key`. */
  warn(key: string, warning: OpenFactoryError): void
  now(): number
}

interface TopicPartition {
  topic: string
  partition: number
}

class Member {
  readonly id: number
  readonly topics: readonly string[]
  readonly partitionCounts: Map<string, number>
  assignment: TopicPartition[] = []
  generation = -1
  lastSeen: number
  /** Waiting for records inside the iterator: alive, whatever the time since `lastSeen`. */
  waiting = false
  evicted = false
  readonly sessionTimeoutMs: number
  wake: () => void = () => {}
  constructor(
    id: number,
    topics: readonly string[],
    counts: Map<string, number>,
    sessionTimeoutMs: number,
    now: number,
  ) {
    this.id = id
    this.topics = topics
    this.partitionCounts = counts
    this.sessionTimeoutMs = sessionTimeoutMs
    this.lastSeen = now
  }
}

class Group {
  readonly members: Member[] = []
  generation = 0

  rebalance(): void {
    this.generation++
    const topics = new Map<string, number>()
    for (const m of this.members) for (const [t, n] of m.partitionCounts) topics.set(t, n)
    for (const m of this.members) m.assignment = []
    for (const [topic, n] of topics) {
      const subs = this.members.filter((m) => m.topics.includes(topic))
      const per = Math.floor(n / subs.length)
      const extra = n % subs.length
      let next = 0
      subs.forEach((m, i) => {
        const count = per + (i < extra ? 1 : 0)
        for (let k = 0; k < count; k++) m.assignment.push({ topic, partition: next++ })
      })
    }
    for (const m of this.members) {
      m.generation = this.generation
      m.wake()
    }
  }
}

export class GroupCoordinator {
  readonly #groups = new Map<string, Group>()
  #nextId = 1
  #timer: NodeJS.Timeout | null = null
  readonly #now: () => number

  constructor(now: () => number) {
    this.#now = now
  }

  join(group: string, topics: readonly string[], counts: Map<string, number>, sessionTimeoutMs: number): Member {
    let g = this.#groups.get(group)
    if (!g) {
      g = new Group()
      this.#groups.set(group, g)
    }
    const m = new Member(this.#nextId++, topics, counts, sessionTimeoutMs, this.#now())
    g.members.push(m)
    g.rebalance()
    this.#ensureTimer()
    return m
  }

  /** A member of no group that owns `assignment` for good (a consumer given its partitions). */
  standalone(topics: readonly string[], counts: Map<string, number>, assignment: TopicPartition[]): Member {
    const m = new Member(this.#nextId++, topics, counts, Number.POSITIVE_INFINITY, this.#now())
    m.assignment = assignment
    m.generation = 0
    return m
  }

  leave(group: string, m: Member): void {
    const g = this.#groups.get(group)
    if (!g) return
    const i = g.members.indexOf(m)
    if (i < 0) return
    g.members.splice(i, 1)
    m.assignment = []
    if (g.members.length === 0) this.#groups.delete(group)
    else g.rebalance()
  }

  /** Removes members that have neither polled nor waited for records within their session timeout. */
  #expire(): void {
    const now = this.#now()
    for (const [name, g] of this.#groups) {
      for (const m of [...g.members]) {
        if (!m.waiting && now - m.lastSeen > m.sessionTimeoutMs) {
          m.evicted = true
          this.leave(name, m)
        }
      }
    }
    if (this.#groups.size === 0 && this.#timer) {
      clearInterval(this.#timer)
      this.#timer = null
    }
  }

  #ensureTimer(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => this.#expire(), 1000)
    this.#timer.unref()
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    for (const g of this.#groups.values()) for (const m of g.members) m.wake()
    this.#groups.clear()
  }
}

const key = (topic: string, partition: number): string => `${partition}\u0000${topic}`

export class EmbeddedConsumer implements GroupConsumer {
  readonly group: string
  readonly #opts: DriverConsumerOptions
  readonly #host: GroupHost
  readonly #coord: GroupCoordinator
  #member: Member | null = null
  #iterating = false
  #closed = false
  #generation = -1
  #owned: TopicPartition[] = []
  #parts = new Map<string, Partition>()
  /** Next offset to read per owned partition (everything before it was delivered). */
  #positions = new Map<string, number>()
  /** Committed offset per owned partition as this member knows it. */
  #committed = new Map<string, number>()
  #rr = 0
  #wake: (() => void) | null = null
  /** Partitions found damaged while reading: skipped from then on. */
  readonly #damaged = new Set<string>()

  constructor(host: GroupHost, coord: GroupCoordinator, opts: DriverConsumerOptions) {
    this.group = opts.group
    this.#opts = opts
    this.#host = host
    this.#coord = coord
  }

  assignment(): readonly { topic: string; partition: number }[] {
    return this.#member ? this.#member.assignment.map((tp) => ({ ...tp })) : []
  }

  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.#host.readOnly) throw readOnlyError('commit')
    if (this.#host.closeSignal.aborted) throw new OpenFactoryError('OFA_LOG_CLOSED', 'the event log is closed')
    let entries: TopicPartitionOffset[]
    if (offsets) {
      entries = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }))
    } else {
      entries = []
      for (const tp of this.#owned) {
        const k = key(tp.topic, tp.partition)
        const pos = this.#positions.get(k)
        if (pos !== undefined && pos !== this.#committed.get(k)) entries.push({ ...tp, offset: pos })
      }
    }
    if (entries.length === 0) return
    await this.#host.commit(this.group, entries)
    for (const e of entries) {
      const k = key(e.topic, e.partition)
      if (this.#positions.has(k)) this.#committed.set(k, e.offset)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#leave()
    this.#wake?.()
  }

  #leave(): void {
    if (this.#member) this.#coord.leave(this.group, this.#member)
    this.#member = null
    this.#owned = []
    this.#positions.clear()
    this.#committed.clear()
    this.#generation = -1
  }

  [Symbol.asyncIterator](): AsyncIterator<LogRecord[]> {
    if (this.#iterating) throw invalidArgument('a consumer can be iterated only once')
    this.#iterating = true
    return this.#run()
  }

  #done(): boolean {
    return this.#closed || this.#host.closeSignal.aborted || this.#opts.signal?.aborted === true
  }

  async *#run(): AsyncGenerator<LogRecord[]> {
    const maxRecords = this.#opts.maxRecords
    const onAbort = (): void => void this.close()
    this.#opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      while (!this.#done()) {
        if (!this.#member || this.#member.evicted) await this.#join()
        const m = this.#member
        if (!m || this.#done()) break
        m.lastSeen = this.#host.now()
        if (m.generation !== this.#generation) await this.#sync(m)
        if (this.#done()) break
        const batch = await this.#poll(maxRecords, m)
        if (batch) {
          yield batch
          continue
        }
        await this.#waitForRecords(m)
      }
    } finally {
      this.#opts.signal?.removeEventListener('abort', onAbort)
      this.#closed = true
      this.#leave()
    }
  }

  async #join(): Promise<void> {
    const counts = new Map<string, number>()
    for (const topic of this.#opts.topics) {
      const parts = await this.#host.partitions(topic)
      counts.set(topic, parts.length)
      for (const p of parts) this.#parts.set(key(topic, p.id), p)
    }
    if (this.#done()) return
    this.#leave()
    const given = this.#opts.partitions
    if (given) {
      const assignment: TopicPartition[] = []
      for (const topic of this.#opts.topics) {
        const list = given.get(topic) ?? Array.from({ length: counts.get(topic)! }, (_, i) => i)
        for (const partition of list) assignment.push({ topic, partition })
      }
      this.#member = this.#coord.standalone(this.#opts.topics, counts, assignment)
      return
    }
    this.#member = this.#coord.join(this.group, this.#opts.topics, counts, this.#opts.sessionTimeoutMs ?? 45_000)
  }

  /** Takes up a new assignment: positions of newly owned partitions come from the committed offsets. */
  async #sync(m: Member): Promise<void> {
    while (m.generation !== this.#generation && !this.#done()) {
      const gen = m.generation
      const assigned = m.assignment
      const committed = new Map<string, Map<number, number>>()
      for (const tp of assigned) {
        if (!committed.has(tp.topic)) committed.set(tp.topic, await this.#host.committed(this.group, tp.topic))
      }
      if (m.generation !== gen) continue
      const positions = new Map<string, number>()
      const known = new Map<string, number>()
      for (const tp of assigned) {
        const k = key(tp.topic, tp.partition)
        let c = committed.get(tp.topic)?.get(tp.partition)
        const part = this.#parts.get(k)!
        if (c !== undefined && c > part.endOffset && !part.failure && !this.#host.readOnly) {
          // Past the end (the records it pointed after were lost): waiting there would wait for ever.
          this.#host.warn(
            `beyond:${this.group}:${k}`,
            new OpenFactoryError(
              'OFA_LOG_CORRUPT',
              `consumer group ${this.group}: committed offset ${c} of ${tp.topic}/${tp.partition} is beyond the partition's end ${part.endOffset}; reading from ${part.endOffset}`,
            ),
          )
          c = part.endOffset
        }
        if (c !== undefined) known.set(k, c)
        const start = this.#opts.startAt?.get(tp.topic)?.get(tp.partition)
        positions.set(
          k,
          c ??
            (start !== undefined
              ? Math.min(Math.max(start, part.startOffset), part.endOffset)
              : this.#opts.resetTo === 'latest'
                ? part.endOffset
                : part.startOffset),
        )
      }
      this.#owned = assigned
      this.#positions = positions
      this.#committed = known
      this.#generation = gen
    }
  }

  /** Reads the next batch from the owned partitions, round-robin; null when none has new records. */
  async #poll(maxRecords: number, m: Member): Promise<LogRecord[] | null> {
    const owned = this.#owned
    const n = owned.length
    for (let i = 0; i < n && !this.#done(); i++) {
      const tp = owned[(this.#rr + i) % n]!
      const k = key(tp.topic, tp.partition)
      const part = this.#parts.get(k)!
      if (this.#host.readOnly) await part.refresh()
      if (part.failure || this.#damaged.has(k)) continue
      let pos = this.#positions.get(k)!
      if (pos >= part.endOffset && pos >= part.startOffset) continue
      let r: ReadResult
      try {
        try {
          r = await this.#host.read(part, pos, maxRecords)
        } catch (err) {
          if (!(err instanceof OpenFactoryError) || err.code !== 'OFA_LOG_OFFSET_OUT_OF_RANGE') throw err
          // The position fell out of the partition (retention): Kafka's auto.offset.reset.
          pos = this.#opts.resetTo === 'latest' ? part.endOffset : part.startOffset
          r = await this.#host.read(part, pos, maxRecords)
        }
      } catch (err) {
        // Damage stops only its partition: this member goes on with the others (and says so).
        if (!(err instanceof OpenFactoryError) || err.code !== 'OFA_LOG_CORRUPT') throw err
        this.#damaged.add(k)
        this.#host.warn(
          `damaged:${this.group}:${k}`,
          new OpenFactoryError(
            'OFA_LOG_CORRUPT',
            `consumer group ${this.group}: ${tp.topic}/${tp.partition} is damaged and is skipped (${err.message})`,
            { where: err.where, cause: err },
          ),
        )
        continue
      }
      // A rebalance while reading: the partition may have moved to another member.
      if (m.generation !== this.#generation || !this.#positions.has(k)) return null
      this.#positions.set(k, r.next)
      if (r.records.length > 0) {
        this.#rr = (this.#rr + i + 1) % n
        return r.records
      }
    }
    return null
  }

  async #waitForRecords(m: Member): Promise<void> {
    if (m.generation !== this.#generation || this.#done()) return
    // Check again synchronously: records may have become durable while the last read was in flight.
    for (const tp of this.#owned) {
      const k = key(tp.topic, tp.partition)
      const part = this.#parts.get(k)!
      if (this.#positions.get(k)! < part.endOffset && !part.failure && !this.#damaged.has(k)) return
    }
    await new Promise<void>((resolve) => {
      const cancels: (() => void)[] = []
      let timer: NodeJS.Timeout | null = null
      const done = (): void => {
        for (const c of cancels) c()
        if (timer) clearTimeout(timer)
        this.#host.closeSignal.removeEventListener('abort', done)
        m.wake = () => {}
        m.waiting = false
        m.lastSeen = this.#host.now()
        this.#wake = null
        resolve()
      }
      m.waiting = true
      m.wake = done
      this.#wake = done
      this.#host.closeSignal.addEventListener('abort', done, { once: true })
      for (const tp of this.#owned) cancels.push(this.#parts.get(key(tp.topic, tp.partition))!.onChange(done))
      if (this.#host.readOnly) timer = setTimeout(done, this.#host.pollIntervalMs)
    })
  }
}
