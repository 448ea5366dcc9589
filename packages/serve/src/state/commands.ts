/**
 * Commands: sending `<Method>_CMD` to an asset and following its `<Method>_RESULT`.
 *
 * A command is appended to `ofa_assets`, keyed by the target asset's UUID (so it lands on the asset's partition,
 * in order with its observations), with the envelope of DESIGN §3 (`AssetEvents.command`). The connector supervisor
 * answers with `<Method>_RESULT` carrying the same `correlation_id`: `accepted` (on its way), then one final
 * status — `completed`, `failed`, `rejected` or `timeout`. The first final result read from the log is the
 * command's outcome: results read after it change nothing.
 *
 * The tracker learns about commands and results from the asset state (`observe`, wired by `serving-state.ts`
 * to the state's `onEvent`), which reads the whole log: so commands sent by other processes are tracked too, and
 * after a restart the tracker is rebuilt from the log. It keeps the most recent `maxCommands` (oldest dropped
 * first).
 */
import type { EventLog } from '@openfactory/log'
import {
  AssetEvents,
  type CommandEvent,
  type CommandResultEvent,
  type CommandStatus,
  encodeAssetEvent,
  isoTimestamp,
  TOPICS,
} from '@openfactory/model'
import type { WriteHealth } from './write-health.ts'

export type CommandState = 'pending' | CommandStatus

/** A command as the API shows it. */
export interface CommandRecord {
  readonly correlationId: string
  readonly assetUuid: string
  readonly method: string
  readonly arguments: Readonly<Record<string, unknown>>
  readonly senderUuid: string
  /** When it was sent (the envelope's `header.timestamp`). */
  readonly sentAt: string
  /** `pending` until a result is seen; `accepted` is not final. */
  readonly status: CommandState
  readonly result?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  /** The source timestamp of the latest result. */
  readonly answeredAt?: string
}

export interface SendCommandOptions {
  readonly assetUuid: string
  readonly method: string
  readonly arguments?: Record<string, unknown>
  readonly correlationId?: string
  /** Default: the tracker's `senderUuid`. */
  readonly senderUuid?: string
  /** `header.signature`: the verified identity of who called (a principal id), so the log shows who sent it. */
  readonly signature?: string
}

export interface WaitOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

export interface CommandTrackerOptions {
  readonly eventLog: EventLog
  /** `header.sender_uuid` of commands sent through this tracker (default `ofa-api`). */
  readonly senderUuid?: string
  /** Commands kept for lookups (default 10 000). */
  readonly maxCommands?: number
  readonly now?: () => number
  /** Told the outcome of every append (default: none). */
  readonly writeHealth?: WriteHealth
}

/** Called once per command sent through this tracker, when its final result is seen. */
export type CommandSettledListener = (record: CommandRecord, elapsedMs: number) => void

/**
 * Lifecycle: created beside the asset state (`createServingState` feeds it every `_CMD`/`_RESULT` the state
 * reads) and closed with it. `close()` releases every waiter.
 */
export interface CommandTracker {
  /** Appends `<method>_CMD` (durable when this resolves) and tracks it as `pending`. */
  send(opts: SendCommandOptions): Promise<CommandRecord>
  /**
   * Resolves with the command once it has a final result, or with its state so far when `timeoutMs` passes or
   * the signal aborts; undefined for an unknown correlation id.
   */
  wait(correlationId: string, opts: WaitOptions): Promise<CommandRecord | undefined>
  get(correlationId: string): CommandRecord | undefined
  /** Feeds one observation read from `ofa_assets` (ignored unless it is a `_CMD` or `_RESULT`). */
  observe(assetUuid: string, event: CommandEvent | CommandResultEvent): void
  readonly size: number
  /** Commands sent through this tracker since it was created. */
  readonly sent: number
  /**
   * Called when a command sent through this tracker gets its final result, with the time from the send to
   * reading that result (for the command latency histogram). Returns an unsubscribe function.
   */
  onSettled(listener: CommandSettledListener): () => void
  close(): void
}

const FINAL: ReadonlySet<CommandState> = new Set<CommandState>(['completed', 'failed', 'rejected', 'timeout'])

export function isFinalStatus(status: CommandState): boolean {
  return FINAL.has(status)
}

interface Entry {
  correlationId: string
  assetUuid: string
  method: string
  arguments: Readonly<Record<string, unknown>>
  senderUuid: string
  sentAt: string
  status: CommandState
  result?: unknown
  error?: { code: string; message: string }
  answeredAt?: string
  /** `performance.now()` when sent through this tracker, until its final result is seen. */
  sentAtPerf?: number
}

function view(e: Entry): CommandRecord {
  return {
    correlationId: e.correlationId,
    assetUuid: e.assetUuid,
    method: e.method,
    arguments: e.arguments,
    senderUuid: e.senderUuid,
    sentAt: e.sentAt,
    status: e.status,
    ...(e.result !== undefined ? { result: e.result } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.answeredAt !== undefined ? { answeredAt: e.answeredAt } : {}),
  }
}

export function createCommandTracker(opts: CommandTrackerOptions): CommandTracker {
  const eventLog = opts.eventLog
  const senderUuid = opts.senderUuid ?? 'ofa-api'
  const maxCommands = opts.maxCommands ?? 10_000
  const now = opts.now ?? Date.now
  const entries = new Map<string, Entry>()
  const waiters = new Map<string, Set<() => void>>()
  const settledListeners: CommandSettledListener[] = []
  let sent = 0
  let closed = false

  function remember(e: Entry): void {
    entries.delete(e.correlationId)
    entries.set(e.correlationId, e)
    while (entries.size > maxCommands) {
      const oldest = entries.keys().next().value as string
      entries.delete(oldest)
    }
  }

  function wake(correlationId: string): void {
    const set = waiters.get(correlationId)
    if (!set) return
    waiters.delete(correlationId)
    for (const w of set) w()
  }

  return {
    async send(o) {
      const command = AssetEvents.command({
        method: o.method,
        senderUuid: o.senderUuid ?? senderUuid,
        arguments: o.arguments ?? {},
        correlationId: o.correlationId,
        at: now(),
        ...(o.signature !== undefined ? { signature: o.signature } : {}),
      })
      const envelope = command.envelope
      const entry: Entry = {
        correlationId: envelope.header.correlation_id,
        assetUuid: o.assetUuid,
        method: o.method,
        arguments: envelope.arguments,
        senderUuid: envelope.header.sender_uuid,
        sentAt: envelope.header.timestamp,
        status: 'pending',
        sentAtPerf: performance.now(),
      }
      // Known before it is on the log: a result read back before `append` resolves finds it.
      if (!entries.has(entry.correlationId)) remember(entry)
      try {
        await eventLog.append(TOPICS.assets, [{ key: o.assetUuid, value: encodeAssetEvent(command) }])
      } catch (err) {
        if (entries.get(entry.correlationId) === entry) entries.delete(entry.correlationId) // never sent
        opts.writeHealth?.failed('command', err)
        throw err
      }
      opts.writeHealth?.succeeded()
      sent++
      return view(entries.get(entry.correlationId) ?? entry)
    },

    wait(correlationId, w) {
      const e = entries.get(correlationId)
      if (!e) return Promise.resolve(undefined)
      if (FINAL.has(e.status) || closed || w.timeoutMs <= 0 || w.signal?.aborted) return Promise.resolve(view(e))
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer)
          w.signal?.removeEventListener('abort', done)
          const set = waiters.get(correlationId)
          set?.delete(done)
          if (set && set.size === 0) waiters.delete(correlationId)
          const now = entries.get(correlationId)
          resolve(now ? view(now) : view(e))
        }
        const timer = setTimeout(done, w.timeoutMs)
        w.signal?.addEventListener('abort', done, { once: true })
        let set = waiters.get(correlationId)
        if (!set) {
          set = new Set()
          waiters.set(correlationId, set)
        }
        set.add(done)
      })
    },

    get(correlationId) {
      const e = entries.get(correlationId)
      return e ? view(e) : undefined
    },

    observe(assetUuid, event) {
      if (event.kind === 'command') {
        const id = event.envelope.header.correlation_id
        if (entries.has(id)) return // sent by us, or seen already; a result may have come first
        remember({
          correlationId: id,
          assetUuid,
          method: event.method,
          arguments: event.envelope.arguments,
          senderUuid: event.envelope.header.sender_uuid,
          sentAt: event.envelope.header.timestamp,
          status: 'pending',
        })
      } else {
        const parsed = event
        const r = parsed.result
        let e = entries.get(r.correlation_id)
        if (!e) {
          // A result whose command we no longer keep (or never saw): keep what the result says.
          e = {
            correlationId: r.correlation_id,
            assetUuid,
            method: parsed.method,
            arguments: {},
            senderUuid: '',
            sentAt: '',
            status: 'pending',
          }
          remember(e)
        }
        // The first final result is the outcome: a later result (a late `accepted`, a second final one from a
        // retrying or a rogue writer) never changes what the command's caller was told.
        if (FINAL.has(e.status)) return
        e.status = r.status
        if (r.result !== undefined) e.result = r.result
        if (r.error !== undefined) e.error = { code: String(r.error.code), message: String(r.error.message) }
        e.answeredAt = event.observation.attributes.timestamp || isoTimestamp(now())
        if (FINAL.has(e.status)) {
          if (e.sentAtPerf !== undefined) {
            const elapsedMs = performance.now() - e.sentAtPerf
            e.sentAtPerf = undefined
            const record = view(e)
            for (const l of settledListeners) l(record, elapsedMs)
          }
          wake(e.correlationId)
        }
      }
    },

    get size() {
      return entries.size
    },

    get sent() {
      return sent
    },

    onSettled(listener) {
      settledListeners.push(listener)
      return () => {
        const i = settledListeners.indexOf(listener)
        if (i >= 0) settledListeners.splice(i, 1)
      }
    },

    close() {
      closed = true
      for (const id of [...waiters.keys()]) wake(id)
    },
  }
}
