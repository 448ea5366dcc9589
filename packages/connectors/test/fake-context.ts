import type { Asset, Observation } from '@openfactory/model'
import type { AssetDocument, ConnectorContext } from '../src/connector.ts'
import { silentLogger } from '../src/logger.ts'

/** An in-memory ConnectorContext recording every call, for connector unit tests. */
export interface RecordingContext extends ConnectorContext {
  readonly declared: Asset[]
  readonly published: { uuid: string; observation: Observation }[]
  readonly availability: { uuid: string; available: boolean; reason?: string }[]
  readonly documents: AssetDocument[]
  readonly failures: Error[]
  readonly controller: AbortController
}

export function recordingContext(): RecordingContext {
  const controller = new AbortController()
  const ctx: RecordingContext = {
    signal: controller.signal,
    controller,
    log: silentLogger,
    declared: [],
    published: [],
    availability: [],
    documents: [],
    failures: [],
    declareAssets: (assets) => void ctx.declared.push(...assets),
    publish: (uuid, observations) => {
      for (const observation of observations) ctx.published.push({ uuid, observation })
    },
    putDocument: (doc) => void ctx.documents.push(doc),
    setAvailable: (uuid, available, reason) =>
      void ctx.availability.push({ uuid, available, ...(reason === undefined ? {} : { reason }) }),
    fail: (err) => void ctx.failures.push(err),
  }
  return ctx
}
