/**
 * A lease held through a consumer group: among the processes that join group `group` on `topic`, the one
 * that owns the topic's partition 0 holds the lease. When it stops (or dies and its session times out), the
 * group rebalances and another member takes the lease — how `ofa run` replicas of one service decide which
 * of them does the work that must be done once (run the device connection, record availability expiries).
 *
 * The topic's records are read and dropped; a small compacted topic (`ofa_registry`) keeps that cheap.
 * Partition 0 stays with the group's longest-standing member (see the backbone contract), so a member joining
 * does not take the lease from its holder. When the holder dies, until its session times out nobody holds it.
 */
import type { EventLog } from '@openfactory/log'

export interface LeaseOptions {
  readonly log: EventLog
  readonly group: string
  readonly topic: string
  /** Called with true when the lease is taken, false when it is lost (also at close, when it was held). */
  readonly onChange: (held: boolean) => void
  /** How often the assignment is looked at (default 200 ms). */
  readonly pollMs?: number
  /** Called when the group membership fails for good (the lease is then not held). */
  readonly onError?: (err: Error) => void
}

export interface Lease {
  readonly held: boolean
  close(): Promise<void>
}

export function joinLease(opts: LeaseOptions): Lease {
  const stop = new AbortController()
  const consumer = opts.log.consumer({
    group: opts.group,
    topics: [opts.topic],
    resetTo: 'latest',
    signal: stop.signal,
  })
  let held = false
  const set = (now: boolean): void => {
    if (now === held) return
    held = now
    opts.onChange(now)
  }
  const poll = setInterval(() => {
    set(consumer.assignment().some((a) => a.topic === opts.topic && a.partition === 0))
  }, opts.pollMs ?? 200)
  const reading = (async () => {
    try {
      for await (const _batch of consumer) {
        // Only the membership matters.
      }
    } catch (err) {
      if (!stop.signal.aborted) opts.onError?.(err as Error)
    } finally {
      clearInterval(poll)
      set(false)
    }
  })()
  let closing: Promise<void> | null = null
  return {
    get held() {
      return held
    },
    close() {
      closing ??= (async () => {
        stop.abort()
        await consumer.close()
        await reading
      })()
      return closing
    },
  }
}
