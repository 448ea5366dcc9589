/**
 * The connector interface: what every protocol connector (simulator, SHDR/MTConnect, OPC UA, Modbus, MQTT)
 * implements, and what the supervisor gives it.
 *
 * Lifecycle, driven by the supervisor (`supervisor.ts`):
 * 1. `start(ctx)` — connect and begin publishing. Resolve once running; a connector that loses its device
 *    later reconnects on its own (with backoff) and reports it through `ctx.setAvailable`. Reject when it
 *    cannot start at all: the supervisor calls `stop()` and tries again after a backoff.
 * 2. While running: `ctx.publish` observations; `execute` runs commands the supervisor received for the
 *    connector's assets (it has checked their arguments and answered `accepted`); `ctx.fail(err)` reports a
 *    failure the connector cannot recover from (the supervisor stops it and restarts it with backoff). A device
 *    that sends a value the connector cannot read gets an observation UNAVAILABLE with a `reason`, not a failure.
 * 3. `stop()` — release every resource (sockets, timers). Called exactly once per `start`, also after a
 *    failure. `ctx.signal` is aborted before `stop()` is called.
 *
 * A connector never talks to the event log: the supervisor owns writing (buffering while the log cannot
 * accept writes), availability heartbeats and command results.
 *
 * Backpressure: `publish` never blocks, but the records a connector published wait for the log counted against
 * it. Past the supervisor's high-water mark for one connector (`highWaterPerConnector`, 50 000 records by default)
 * `ctx.congested` is true, until the log has taken half of them; `ctx.whenWritable()` resolves then. A connector
 * whose device can wait should stop reading from it meanwhile: an SHDR connection pauses its socket (TCP then
 * holds the adapter back), a polling connector (Modbus, OPC UA reads) skips or delays its polls, an MQTT or OPC UA
 * subscription pauses its socket or subscription. One that cannot wait keeps publishing: past
 * `maxBufferedPerConnector` (100 000) records waiting, its own oldest are dropped and counted under its name — and
 * nobody else's records. A connector type registers a spec
 * (connector-spec.ts) and passes the conformance suite (`@openfactory/connectors/testing`).
 */
import type { Asset, AssetDocument, CommandEnvelope, DebugLogger, Observation } from '@openfactory/model'

/**
 * A document a device sent about a physical asset (an MTConnect adapter's `@ASSET@`: a cutting tool, a part...),
 * stored per asset id; encoded by model's asset-event codec and re-exported here for connectors.
 */
export type { AssetDocument } from '@openfactory/model'

export interface ConnectorContext {
  /** Aborted when the supervisor stops this connector. */
  readonly signal: AbortSignal
  /** The connector's logger: every line names the connector. */
  readonly logger: DebugLogger
  /** Declares the assets this connector virtualises (data items, methods, UNS); may be called again when they change. */
  declareAssets(assets: readonly Asset[]): void
  /**
   * Hands observations of one asset to the supervisor, which appends them to the log in order. Never blocks
   * and never throws for log trouble: the supervisor buffers while the log cannot accept writes.
   */
  publish(assetUuid: string, observations: readonly Observation[]): void
  /** True while more of this connector's records wait for the log than its high-water mark (see above). */
  readonly congested: boolean
  /** Resolves once this connector is no longer congested (at once when it is not), or when `signal` aborts. */
  whenWritable(): Promise<void>
  /** Stores (or removes) an asset document sent by a device. */
  putDocument(doc: AssetDocument): void
  /**
   * The connection to the device that serves this asset is up (true) or down (false, with a reason). Up: the
   * supervisor publishes `avail` AVAILABLE and heartbeats. Down: `avail` UNAVAILABLE, and the connector should
   * also publish its items as UNAVAILABLE.
   */
  setAvailable(assetUuid: string, available: boolean, reason?: string): void
  /** Reports an unrecoverable failure: the supervisor stops the connector and restarts it after a backoff. */
  fail(err: Error): void
  /**
   * Where this connector resumes: the value it last gave `saveCheckpoint` (in this process, or before a restart as
   * read back from the compacted `ofa_connector_state` topic, keyed by the connector's name); undefined when it
   * never saved one. Call it once in `start`, before reading from the device.
   */
  loadCheckpoint(): Promise<string | undefined>
  /**
   * Records where this connector would resume (text of its own format: an MTConnect agent client saves the agent's
   * instanceId and the next sequence). Never blocks. It is written to the log after every record this connector
   * published before the call, never before: a checkpoint read back never claims records that were not written.
   */
  saveCheckpoint(value: string): void
}

export interface CommandRequest {
  readonly assetUuid: string
  readonly method: string
  readonly arguments: Readonly<Record<string, unknown>>
  readonly envelope: CommandEnvelope
}

/** Counters a connector keeps for `/metrics`; they only grow while the process runs (restarts included). */
export interface ConnectorMetrics {
  /**
   * Messages the device sent that the connector dropped on purpose, by reason (e.g. `flood`: past a rate limit;
   * `asset_limit`: naming one asset more than allowed). Served as `ofa_connector_messages_dropped_total`.
   */
  readonly messagesDropped?: Readonly<Record<string, number>>
  /**
   * Figures of its own, served under their own names (a built-in app's: `ofa_webhook_deliveries_total`...); samples
   * of one name share its help and type.
   */
  readonly samples?: readonly ConnectorMetricSample[]
}

/** One sample of a connector's own metric (`ConnectorMetrics.samples`). */
export interface ConnectorMetricSample {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Connector {
  /** The connector's name: the UUID of the device it serves (unique in a factory). */
  readonly name: string
  start(ctx: ConnectorContext): Promise<void>
  stop(): Promise<void>
  /**
   * Runs a method on the device; the supervisor has answered `accepted`. Resolve with the method's result (the
   * supervisor answers `completed`); throw an `OpenFactoryError` to answer `failed` with its code (or `rejected`
   * for `OFA_COMMAND_REJECTED`). Absent: every command to this connector's assets is rejected.
   */
  execute?(request: CommandRequest): Promise<unknown>
  /** Its counters, read by the supervisor whenever `/metrics` is scraped (cheap, synchronous, any state). Optional. */
  metrics?(): ConnectorMetrics
}
