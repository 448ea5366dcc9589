/**
 * What the app decorates the Fastify instance with, for every route plugin to use (`app.state`, ...): set once
 * by `createServeApp` before the plugins are registered. Type declarations only.
 */
import type { EventLog } from '@openfactory/log'
import type { AssetState } from '../state/asset-state.ts'
import type { CommandTracker } from '../state/commands.ts'
import type { ServingState } from '../state/serving-state.ts'
import type { SubscriptionHub } from '../state/subscriptions.ts'
import type { ServeMetrics } from './metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The backbone history is read from. */
    readonly eventLog: EventLog
    /** The asset state, its availability expiry and the command tracker. */
    readonly serving: ServingState
    /** `serving.state`: the current state and registry of every asset. */
    readonly state: AssetState
    /** `serving.commands`. */
    readonly commands: CommandTracker
    /** Live subscriptions over `state`. */
    readonly hub: SubscriptionHub
    /** Prometheus metrics (the metrics plugin). */
    readonly metrics: ServeMetrics
  }
}
