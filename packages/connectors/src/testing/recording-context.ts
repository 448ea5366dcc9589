/**
 * A `ConnectorContext` in memory that records every call, in order: what connector tests (and the conformance
 * suite) start a connector on, instead of a supervisor and a log.
 */

import type { TestContext } from 'node:test'
import type { Asset, AssetDocument, DebugLogger, Observation } from '@openfactory/model'
import type { Connector, ConnectorContext } from '../connector.ts'

export type RecordedCall =
  | { readonly call: 'declareAssets'; readonly assets: readonly Asset[] }
  | { readonly call: 'publish'; readonly uuid: string; readonly observations: readonly Observation[] }
  | { readonly call: 'putDocument'; readonly doc: AssetDocument }
  | { readonly call: 'setAvailable'; readonly uuid: string; readonly available: boolean; readonly reason?: string }
  | { readonly call: 'fail'; readonly error: Error }
  | { readonly call: 'saveCheckpoint'; readonly value: string }

export interface LoggedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly message: string
  readonly fields?: Record<string, unknown>
}

export interface RecordingContext extends ConnectorContext {
  /** Aborts `signal` (as the supervisor does before `stop()`). */
  readonly controller: AbortController
  /** Every call, in order. */
  readonly calls: RecordedCall[]
  readonly declared: Asset[]
  readonly published: { readonly uuid: string; readonly observation: Observation }[]
  readonly availability: { readonly uuid: string; readonly available: boolean; readonly reason?: string }[]
  readonly documents: AssetDocument[]
  readonly failures: Error[]
  /** What the connector logged. */
  readonly logs: LoggedLine[]
  /** Every checkpoint saved, in order (`loadCheckpoint` answers the last one, else the one given at creation). */
  readonly checkpoints: string[]
  /**
   * Plays the log falling behind (`true`: `congested`, `whenWritable()` waits) and taking records again (`false`:
   * the waits resolve), as the supervisor's write buffer does past its mark.
   */
  setCongested(on: boolean): void
}

export interface RecordingContextOptions {
  /** What `loadCheckpoint` answers before anything is saved: a checkpoint a previous run saved. */
  readonly checkpoint?: string
}

export function createRecordingContext(opts: RecordingContextOptions = {}): RecordingContext {
  const controller = new AbortController()
  const logs: LoggedLine[] = []
  let writable: { promise: Promise<void>; resolve: () => void } | null = null
  const at =
    (level: LoggedLine['level']) =>
    (message: string, fields?: Record<string, unknown>): void =>
      void logs.push(fields ? { level, message, fields } : { level, message })
  const logger: DebugLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  const ctx: RecordingContext = {
    signal: controller.signal,
    controller,
    logger,
    calls: [],
    declared: [],
    published: [],
    availability: [],
    documents: [],
    failures: [],
    logs,
    checkpoints: [],
    declareAssets: (assets) => {
      ctx.calls.push({ call: 'declareAssets', assets })
      ctx.declared.push(...assets)
    },
    get congested() {
      return writable !== null
    },
    whenWritable: () => writable?.promise ?? Promise.resolve(),
    setCongested: (on) => {
      if (on && writable === null) writable = Promise.withResolvers<void>()
      else if (!on && writable !== null) {
        writable.resolve()
        writable = null
      }
    },
    publish: (uuid, observations) => {
      ctx.calls.push({ call: 'publish', uuid, observations })
      for (const observation of observations) ctx.published.push({ uuid, observation })
    },
    putDocument: (doc) => {
      ctx.calls.push({ call: 'putDocument', doc })
      ctx.documents.push(doc)
    },
    setAvailable: (uuid, available, reason) => {
      const entry = reason === undefined ? { uuid, available } : { uuid, available, reason }
      ctx.calls.push({ call: 'setAvailable', ...entry })
      ctx.availability.push(entry)
    },
    fail: (error) => {
      ctx.calls.push({ call: 'fail', error })
      ctx.failures.push(error)
    },
    loadCheckpoint: () => Promise.resolve(ctx.checkpoints.at(-1) ?? opts.checkpoint),
    saveCheckpoint: (value) => {
      ctx.calls.push({ call: 'saveCheckpoint', value })
      ctx.checkpoints.push(value)
    },
  }
  return ctx
}

/**
 * Starts `connector` on a new recording context (`congested`: the log behind from the start) and stops it after the
 * test, the signal aborted first as the supervisor does.
 */
export async function startRecorded(
  t: TestContext,
  connector: Connector,
  opts: RecordingContextOptions & { readonly congested?: boolean } = {},
): Promise<RecordingContext> {
  const ctx = createRecordingContext(opts)
  if (opts.congested) ctx.setCongested(true)
  await connector.start(ctx)
  t.after(async () => {
    ctx.controller.abort()
    await connector.stop()
  })
  return ctx
}
