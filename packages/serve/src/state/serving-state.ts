/**
 * What the serving layer runs over the log, composed: the asset state (the fold), and beside it the
 * availability expiry and the command tracker, both fed by the state's `onEvent`. One object to create, wait
 * for and close; the HTTP app takes it whole.
 */
import type { EventLog } from '@openfactory/log'
import type { Logger } from '@openfactory/model'
import { type AssetState, type AssetStateOptions, type AssetStateStats, createAssetState } from './asset-state.ts'
import {
  type AvailabilityExpiry,
  type AvailabilityExpiryOptions,
  createAvailabilityExpiry,
} from './availability-expiry.ts'
import { type CommandTracker, createCommandTracker } from './commands.ts'
import { createDocumentStore, type DocumentStore } from './documents.ts'
import { createWriteHealth, type WriteHealth } from './write-health.ts'

export interface ServingStateOptions
  extends Omit<AssetStateOptions, 'eventLog' | 'logger'>,
    Pick<AvailabilityExpiryOptions, 'ttlCheckMs' | 'now' | 'defaultTtlMs' | 'recordsExpiries' | 'staleGraceMs'> {
  readonly eventLog: EventLog
  /** Commands kept by the tracker (default 10 000). */
  readonly maxCommands?: number
  /** `sender_uuid` of commands sent through `commands` (default `ofa-api`). */
  readonly senderUuid?: string
  /** Bounds of the asset documents kept (documents.ts; defaults 10 000 documents, 64 MiB of bodies). */
  readonly maxDocuments?: number
  readonly maxDocumentBytes?: number
  readonly logger?: Logger
}

export interface ServingStateStats extends AssetStateStats {
  /** `avail` UNAVAILABLE observations written because a TTL passed. */
  readonly expiries: number
  /** Commands kept for lookups. */
  readonly commands: number
}

/**
 * Lifecycle: `createServingState` starts reading the log at once; `ready()` resolves when the state has caught
 * up (see `AssetState.ready`); `close()` stops the expiry timer, releases command waiters and stops reading the
 * log (it does not close the log).
 */
export interface ServingState {
  readonly state: AssetState
  readonly commands: CommandTracker
  readonly expiry: AvailabilityExpiry
  /** Asset documents (MTConnect assets: cutting tools, parts...), their last body each. */
  readonly documents: DocumentStore
  /** Whether the serving layer's own appends (commands, expiries) succeed: `/healthz` shows it. */
  readonly writes: WriteHealth
  ready(): Promise<void>
  stats(): ServingStateStats
  close(): Promise<void>
}

export function createServingState(opts: ServingStateOptions): ServingState {
  const { eventLog, logger } = opts
  const state = createAssetState({
    eventLog,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.unsSeparator !== undefined ? { unsSeparator: opts.unsSeparator } : {}),
    ...(opts.topics ? { topics: opts.topics } : {}),
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
    ...(opts.asOf ? { asOf: opts.asOf } : {}),
    ...(logger ? { logger } : {}),
  })
  const writes = createWriteHealth()
  const commands = createCommandTracker({
    eventLog,
    senderUuid: opts.senderUuid,
    maxCommands: opts.maxCommands,
    now: opts.now,
    writeHealth: writes,
  })
  state.onEvent((uuid, e) => {
    if (e.kind === 'command' || e.kind === 'result') commands.observe(uuid, e)
  })
  const expiry = createAvailabilityExpiry({
    state,
    eventLog,
    ...(opts.topics?.assets ? { topic: opts.topics.assets.name } : {}),
    ttlCheckMs: opts.ttlCheckMs,
    now: opts.now,
    defaultTtlMs: opts.defaultTtlMs,
    recordsExpiries: opts.recordsExpiries,
    staleGraceMs: opts.staleGraceMs,
    writeHealth: writes,
    logger,
  })
  const documents = createDocumentStore({
    eventLog,
    ...(opts.maxDocuments !== undefined ? { maxDocuments: opts.maxDocuments } : {}),
    ...(opts.maxDocumentBytes !== undefined ? { maxBytes: opts.maxDocumentBytes } : {}),
    ...(logger ? { logger } : {}),
  })
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      documents.close()
      expiry.close()
      commands.close()
      await state.close()
    })()
    return closing
  }
  opts.signal?.addEventListener('abort', () => void close(), { once: true })
  return {
    state,
    commands,
    expiry,
    documents,
    writes,
    ready: () => state.ready(),
    stats: () => ({ ...state.stats(), expiries: expiry.expiries, commands: commands.size }),
    close,
  }
}
