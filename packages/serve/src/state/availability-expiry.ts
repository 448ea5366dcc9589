/**
 * Availability expiry (DESIGN §3): `avail` AVAILABLE carries `attributes.ttl_ms`; when no new AVAILABLE
 * arrives within it (by ingestion time, checked every `ttlCheckMs`), `avail` UNAVAILABLE with
 * `attributes.reason` is appended to `ofa_assets` — once per expiry — so the expiry is recorded like any other
 * observation and every reader (this state included) sees it.
 *
 * It runs beside the asset state: it learns heartbeats from the state's `onEvent` and removals from
 * `onAssetChange`, and checks only while the state is ready (caught up: a replayed heartbeat is not a missed
 * one). Serving replicas sharing one log let only one of them write (`recordsExpiries`).
 *
 * Stale data is marked even when the expiry cannot be recorded: when the log refuses the append (a full disk),
 * the state shows the asset UNAVAILABLE at once (`AssetState.applyLocal`, with the reason and the error code),
 * and the append is tried again at each check until the log takes it. A replica that does not record expiries
 * marks an asset so itself when no expiry record came `staleGraceMs` after the TTL passed (the recorder may be
 * gone). The outcome of each append is reported to `writeHealth` (`/healthz`).
 */
import type { EventLog } from '@openfactory/log'
import {
  AssetEvents,
  AVAIL_ID,
  type AvailabilityEvent,
  encodeAssetEvent,
  isOpenFactoryError,
  isoTimestamp,
  type Logger,
  TOPICS,
} from '@openfactory/model'
import type { AssetState } from './asset-state.ts'
import type { WriteHealth } from './write-health.ts'

export interface AvailabilityExpiryOptions {
  readonly state: AssetState
  readonly eventLog: EventLog
  /** Where expiries are written (default `ofa_assets`). */
  readonly topic?: string
  /** How often TTLs are checked (default 1000 ms). */
  readonly ttlCheckMs?: number
  /** The clock (epoch ms) for TTL checks and the observations they write (default `Date.now`). */
  readonly now?: () => number
  /**
   * TTL for an `avail` AVAILABLE that carries no `ttl_ms` (default none: such an asset stays AVAILABLE until
   * told otherwise, as with the reference OpenFactory's producers, which do not heartbeat).
   */
  readonly defaultTtlMs?: number
  /**
   * Whether this process records expiries on the log now (default always). Serving replicas sharing one log let
   * only one of them do it (`ofa run` passes whether it holds the serving lease).
   */
  readonly recordsExpiries?: () => boolean
  /**
   * A replica that does not record expiries shows an asset UNAVAILABLE itself when no expiry record came this
   * long after its TTL passed (default 5000 ms).
   */
  readonly staleGraceMs?: number
  /** Told the outcome of every append (default: none). */
  readonly writeHealth?: WriteHealth
  readonly logger?: Logger
}

/** Lifecycle: starts watching at creation; `close()` stops the timer and detaches from the state. */
export interface AvailabilityExpiry {
  /** `avail` UNAVAILABLE observations written because a TTL passed. */
  readonly expiries: number
  /** Assets AVAILABLE with a TTL. */
  readonly watched: number
  close(): void
}

/** The last heartbeat of an asset: its TTL, its ingestion time, and whether its expiry is being written. */
class Heartbeat {
  ttlMs: number
  at: number
  expiring = false
  /** Shown UNAVAILABLE in the state without a record on the log (`applyLocal`). */
  marked = false

  constructor(ttlMs: number, at: number) {
    this.ttlMs = ttlMs
    this.at = at
  }
}

const TTL_REASON = (ttl: number, at: number) =>
  `availability TTL of ${ttl} ms expired: no heartbeat since ${isoTimestamp(at)}`

export function createAvailabilityExpiry(opts: AvailabilityExpiryOptions): AvailabilityExpiry {
  const { state, eventLog, logger } = opts
  const topic = opts.topic ?? TOPICS.assets
  const now = opts.now ?? Date.now
  const defaultTtlMs = opts.defaultTtlMs ?? 0
  const heartbeats = new Map<string, Heartbeat>()
  let expiries = 0
  let closed = false

  const onAvailability = (uuid: string, e: AvailabilityEvent, recordTime: number): void => {
    if (!e.available) {
      heartbeats.delete(uuid)
      return
    }
    const ttl = Math.max(e.ttlMs ?? defaultTtlMs, 0)
    if (ttl === 0) {
      heartbeats.delete(uuid)
      return
    }
    const its = e.observation.attributes.ingestion_timestamp
    const ingested = typeof its === 'string' ? Date.parse(its) : Number.NaN
    const at = Number.isFinite(ingested) ? ingested : recordTime
    const h = heartbeats.get(uuid)
    if (h === undefined) heartbeats.set(uuid, new Heartbeat(ttl, at))
    else {
      h.ttlMs = ttl
      h.at = at
      h.expiring = false
      h.marked = false
    }
  }

  const detach = [
    state.onEvent((uuid, e, recordTime) => {
      if (e.kind === 'availability' && e.id === AVAIL_ID) onAvailability(uuid, e, recordTime)
    }),
    state.onAssetChange((uuid) => {
      if (!state.has(uuid)) heartbeats.delete(uuid)
    }),
  ]

  const staleGraceMs = opts.staleGraceMs ?? 5000
  const writeHealth = opts.writeHealth
  /** The last append failed (warned once per run of failures). */
  let failing = false
  /** Shows the asset UNAVAILABLE in this process's state without a record on the log. */
  const mark = (uuid: string, h: Heartbeat, t: number, why: string): void => {
    if (h.marked || heartbeats.get(uuid) !== h) return
    h.marked = true
    const reason = `${TTL_REASON(h.ttlMs, h.at)}; ${why}`
    state.applyLocal(uuid, AssetEvents.availability({ available: false, reason, at: t, ingestedAt: t }).observation)
  }

  /** A check is running (it may wait for the log: `appliedThrough`). */
  let checking = false
  const check = async (): Promise<void> => {
    if (closed || !state.isReady || checking) return
    checking = true
    try {
      await checkTtls()
    } finally {
      checking = false
    }
  }

  const checkTtls = async (): Promise<void> => {
    const t = now()
    let overdue = false
    for (const h of heartbeats.values()) {
      if (t - h.at > h.ttlMs) {
        overdue = true
        break
      }
    }
    if (!overdue) return
    // A state behind the log (a burst, a slow consumer of the event loop) has not applied the newest heartbeats
    // yet: a TTL passes by the log's time the state has read to, not by the wall clock, or every asset would be
    // expired while it is behind — and the expiries would put it further behind (seen in bench/soak.ts).
    // The log not answering (a broker down): the wall clock, as the appends then fail and mark the assets here.
    const seen = Math.min(t, await state.appliedThrough(t).catch(() => t))
    if (closed) return
    if (opts.recordsExpiries?.() === false) {
      for (const [uuid, h] of heartbeats) {
        if (!h.marked && seen - h.at > h.ttlMs + staleGraceMs) {
          mark(uuid, h, t, `no expiry was recorded on the log within ${staleGraceMs} ms (shown by this replica only)`)
        }
      }
      return
    }
    const expired: [string, Heartbeat][] = []
    for (const entry of heartbeats) {
      const h = entry[1]
      if (!h.expiring && seen - h.at > h.ttlMs) {
        h.expiring = true
        expired.push(entry)
      }
    }
    if (expired.length === 0) return
    const records = expired.map(([uuid, h]) => ({
      key: uuid,
      value: encodeAssetEvent(
        AssetEvents.availability({ available: false, reason: TTL_REASON(h.ttlMs, h.at), at: t, ingestedAt: t }),
      ),
    }))
    eventLog.append(topic, records).then(
      () => {
        expiries += expired.length
        failing = false
        writeHealth?.succeeded()
      },
      (err: Error) => {
        if (closed) return
        const first = !failing
        failing = true
        writeHealth?.failed('availability expiry', err)
        const code = isOpenFactoryError(err) ? err.code : 'ERROR'
        for (const [uuid, h] of expired) {
          h.expiring = false // tried again at the next check
          mark(uuid, h, t, `the expiry could not be recorded on the log (${code}: ${err.message})`)
        }
        if (first)
          logger?.warn('could not record an availability expiry; tried again every check', { error: err.message, code })
      },
    )
  }

  const timer = setInterval(() => void check(), opts.ttlCheckMs ?? 1000)
  timer.unref()

  return {
    get expiries() {
      return expiries
    },
    get watched() {
      return heartbeats.size
    },
    close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      for (const d of detach) d()
    },
  }
}
