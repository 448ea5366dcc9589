import type { EventLog } from '@openfactory/log'
import type { AssetState } from '../state/asset-state.ts'
import type { SubscriptionHub } from '../state/subscriptions.ts'
import type { Metric, RequestCounter } from './metrics.ts'

/** What the route modules share. */
export interface RouteContext {
  readonly log: EventLog
  readonly state: AssetState
  readonly hub: SubscriptionHub
  readonly requests: RequestCounter
  readonly commandTimeoutMs: number
  readonly maxCommandTimeoutMs: number
  readonly sseKeepAliveMs: number
  /** Bytes of `GET /api/assets/{uuid}` bodies kept between changes of their asset. */
  readonly responseCacheBytes: number
  readonly startedAt: number
  readonly extraMetrics?: () => Promise<readonly Metric[]>
}
