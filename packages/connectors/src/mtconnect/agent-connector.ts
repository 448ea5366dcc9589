/**
 * `connector.type: mtconnect` with `agent.ip` and `agent.port`: an MTConnect agent runs elsewhere and we are its
 * client (registered by mtconnect-spec.ts). What it does, over HTTP (agent-client.ts), with the documents read by
 * streams.ts:
 *
 * 1. `probe` — the agent's devices (an MTConnectDevices document, read as a Devices.xml is) become the asset model.
 *    Devices bind to OpenFactory uuids as with an adapter (mtconnect-connector.ts): one uuid binds the agent's device
 *    with that uuid, name or id, else its only device (an agent of several devices none of which matches is refused at probe, `OFA_MTCONNECT_AGENT`, naming them, and asked again); a map from MTConnect device name, uuid or id to OpenFactory uuid binds several (one asset each).
 *    Devices left out are not ingested. Assets are declared after the first probe, and again only when a later
 *    probe (after an agent restart) changes them.
 * 2. `current`, then `sample?from=<next>&interval=&heartbeat=&count=`, streamed (multipart); every part's
 *    observations are published in sequence order and the position — the agent's `instanceId` and the next
 *    sequence to read — moves on and is saved as the connector's checkpoint (`ctx.saveCheckpoint`) after them.
 * 3. `assets` — the agent's asset documents (cutting tools, parts...) go to `ctx.putDocument`, as SHDR `@ASSET@`
 *    ones do; an `AssetChanged` event fetches `asset/<id>` again, an `AssetRemoved` one removes it.
 *
 * Where the stream starts, each time a connection is made (the rules that keep the log exact):
 * - with a position (saved by an earlier run, `ctx.loadCheckpoint`, or held since the last connection) of the same
 *   agent instance that the agent still holds (`firstSequence ≤ next ≤ nextSequence`): from it. Nothing the log has
 *   is published again, nothing the agent holds is skipped;
 * - with a position the agent no longer holds — it restarted (another `instanceId`: the devices are probed again),
 *   or its buffer moved past us (`firstSequence > next`; an `OUT_OF_RANGE` error) —: from `firstSequence`, the
 *   oldest it holds, so that nothing it still holds is skipped; what it dropped in between is lost, counted
 *   (`stats().lostSequences`) and logged. Should that fail again at once, the agent moves faster than we can catch
 *   up: from `current`'s `nextSequence`;
 * - with no position (a first start): from `current`'s `nextSequence`.
 * `current` gives every item's latest value: those older than where the stream starts (they will not come through
 * it) are published — except values the log already has as the item's last: a value published before, with a
 * sequence below the position, is published again only when we put UNAVAILABLE over it since (the supervisor
 * declares every item UNAVAILABLE when assets are declared, we do when the agent goes away). The log, read as the
 * state of each item, then equals the agent's; read as history, it holds each observation of the agent once, in
 * order, plus those restatements right after our own UNAVAILABLE.
 *
 * Inside a stream, an observation whose sequence is below the position is a duplicate and skipped; a part whose
 * header says another `instanceId`, a `firstSequence` past the position, or an `OUT_OF_RANGE` error resynchronises
 * (the steps above, without taking the assets down).
 *
 * Faults: the agent unreachable, refusing, answering an error, a document that is not well-formed or larger than
 * `MTCONNECT_MAX_DOCUMENT_BYTES`, or a stream that stalls (no part, heartbeats included, within twice the heartbeat
 * we ask for) is an `OFA_MTCONNECT_AGENT` error: logged, every item of every asset published UNAVAILABLE and
 * `ctx.setAvailable(uuid, false, reason)` (once per outage), and the connection made again after a backoff (model's
 * `Backoff`, `timings.backoff`), from the position — what was published before stays, nothing is lost. The device's
 * own AVAILABILITY item drives `avail` with the connection (`setAvailable`), it is not published.
 *
 * Backpressure: while `ctx.congested`, the next part is not read (the socket is left unread; TCP holds the agent
 * back), and the stall clock does not run.
 *
 * Lifecycle (connector.ts): `start(ctx)` reads the checkpoint and starts the loop; it resolves at once — an agent that
 * is not there yet is retried with backoff, not a failed start. `stop()` ends the requests and the loop.
 */
import {
  type Asset,
  Backoff,
  createOptionsChecker,
  isoTimestamp,
  type Observation,
  OpenFactoryError,
  sleep,
  type UnsPlacement,
  unavailableObservation,
} from '@openfactory/model'
import type { Connector, ConnectorContext } from '../connector.ts'
import { type ConnectionTimings, modelConnectorSchema } from '../connector-spec.ts'
import { drivesAvailOnly } from '../shdr/mapper.ts'
import {
  type AgentEndpoint,
  type AgentRequestOptions,
  agentUrl,
  getAgentDocument,
  MTCONNECT_MAX_DOCUMENT_BYTES,
  streamAgentParts,
} from './agent-client.ts'
import { type MTConnectDeviceModel, mtconnectDeviceToAsset } from './devices-xml.ts'
import { deviceForUuid } from './mtconnect-connector.ts'
import {
  type AgentAsset,
  type AgentBinding,
  type AgentDocument,
  type AgentItem,
  type AgentObservation,
  AgentStreamMapper,
  readAgentDocument,
  type StreamsHeader,
} from './streams.ts'

/** The heartbeat asked of the agent when `timings.heartbeatMs` does not say (ms); a stream is stalled after twice it. */
export const MTCONNECT_AGENT_HEARTBEAT_MS = 10_000
/** The `interval` asked of the agent: the least time between two parts (ms). */
export const MTCONNECT_AGENT_INTERVAL_MS = 100
/** The `count` asked of the agent: the most observations in one part. */
export const MTCONNECT_AGENT_COUNT = 1000

export interface MTConnectAgentConnectorOptions {
  /** Where the agent answers HTTP. */
  readonly agent: AgentEndpoint
  /**
   * The OpenFactory uuid of the agent's device with that uuid, name or id, else of its only device
   * (`deviceForUuid`); or MTConnect device name/uuid/id → OpenFactory uuid.
   */
  readonly uuid: string | Readonly<Record<string, string>>
  /** UNS placement per OpenFactory uuid. */
  readonly uns?: Readonly<Record<string, UnsPlacement>>
  /** `heartbeatMs` (asked of the agent; default `MTCONNECT_AGENT_HEARTBEAT_MS`), `connectTimeoutMs` (5000), `backoff`. */
  readonly timings?: ConnectionTimings
  /** Default `MTCONNECT_AGENT_INTERVAL_MS`. */
  readonly intervalMs?: number
  /** Default `MTCONNECT_AGENT_COUNT`. */
  readonly count?: number
  /** Default `MTCONNECT_MAX_DOCUMENT_BYTES`. */
  readonly maxDocumentBytes?: number
  /** The connector's name (default: the first uuid). */
  readonly name?: string
}

export interface MTConnectAgentConnectorStats {
  /** A stream is open and in step with the agent. */
  readonly connected: boolean
  /** Times the connector came in step with the agent (current read, stream opened). */
  readonly syncs: number
  /** Times it fell out of step without losing the connection (OUT_OF_RANGE, another instance, a gap). */
  readonly resyncs: number
  /** Connections lost (errors, stalls, the agent gone). */
  readonly disconnects: number
  /** Parts of the sample stream received (heartbeats included). */
  readonly parts: number
  readonly observations: number
  /** Observations skipped because the log already has them (a sequence below the position). */
  readonly duplicates: number
  /** Sequences the agent dropped before we could read them (its buffer moved past us, or it restarted). */
  readonly lostSequences: number
  /** Values that could not be read as their item wants. */
  readonly problems: number
  readonly documents: number
  /** The agent's instanceId and the next sequence to read. */
  readonly position?: AgentPosition
}

/** Where the connector resumes: its checkpoint. */
export interface AgentPosition {
  readonly instanceId: string
  readonly next: number
}

/** The checkpoint's text: `{"instanceId": "...", "next": 1234}`. */
export function encodeAgentCheckpoint(p: AgentPosition): string {
  return JSON.stringify({ instanceId: p.instanceId, next: p.next })
}

/** Reads a checkpoint; undefined for text that is not one (it is then ignored: the connector starts afresh). */
export function decodeAgentCheckpoint(text: string): AgentPosition | undefined {
  try {
    const v = JSON.parse(text) as { instanceId?: unknown; next?: unknown }
    if (typeof v.instanceId === 'string' && typeof v.next === 'number' && Number.isSafeInteger(v.next) && v.next >= 0) {
      return { instanceId: v.instanceId, next: v.next }
    }
  } catch {
    // not JSON
  }
  return undefined
}

/** Thrown inside a session to start it over without taking the assets down. */
class Resync extends Error {}

/** Resyncs in a row, without a part in between, after which the connector waits a backoff before the next one. */
const MAX_QUICK_RESYNCS = 3

const ENDPOINT = modelConnectorSchema('mtconnect').properties?.agent?.properties ?? ({} as Record<string, never>)
const checkOptions = createOptionsChecker(
  {
    type: 'object',
    properties: {
      agent: {
        type: 'object',
        properties: { host: ENDPOINT.ip, port: ENDPOINT.port },
        required: ['host', 'port'],
        additionalProperties: false,
      },
      uuid: {
        anyOf: [
          { type: 'string', minLength: 1 },
          { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, minProperties: 1 },
        ],
        expected: 'a uuid, or a map of device names to uuids',
      },
      uns: { type: 'object' },
      timings: { type: 'object' },
      intervalMs: { type: 'integer', minimum: 0 },
      count: { type: 'integer', minimum: 1 },
      maxDocumentBytes: { type: 'integer', minimum: 1024 },
      name: { type: 'string', minLength: 1 },
    },
    required: ['agent', 'uuid'],
    additionalProperties: false,
  } as unknown as Parameters<typeof createOptionsChecker>[0],
  { code: 'OFA_CONNECTOR_CONFIG', what: 'MTConnectAgentConnectorOptions' },
)

export class MTConnectAgentConnector implements Connector {
  readonly name: string
  readonly #opts: MTConnectAgentConnectorOptions
  readonly #uuids: string[]
  readonly #where: string
  #run: AbortController | undefined
  #loop: Promise<void> | undefined
  // The agent's model, from the last probe.
  #modelInstance: string | undefined
  #bindings: AgentBinding[] = []
  #mapper: AgentStreamMapper | undefined
  #declared: string | undefined
  #assetBufferSize: number | undefined
  // Where we are.
  #position: AgentPosition | undefined
  /** Items whose last value on the log is an UNAVAILABLE of ours (`assetUuid|id`). */
  readonly #overwritten = new Set<string>()
  /** Per asset: up (true), down (false), unknown (absent). */
  readonly #up = new Map<string, boolean>()
  /** Per asset: what the device's own AVAILABILITY item says (absent: nothing yet, or the device has none). */
  readonly #deviceUp = new Map<string, boolean>()
  #connected = false
  /** The asset documents put, by id: their timestamp and whether removed (to put each version once). */
  readonly #documentsPut = new Map<string, string>()
  #assetRefresh: Promise<void> = Promise.resolve()
  #fellOut = false
  #stats = {
    syncs: 0,
    resyncs: 0,
    disconnects: 0,
    parts: 0,
    observations: 0,
    duplicates: 0,
    lostSequences: 0,
    documents: 0,
  }
  #problemsLogged = 0

  constructor(opts: MTConnectAgentConnectorOptions) {
    this.#opts = opts
    this.#uuids = typeof opts.uuid === 'string' ? [opts.uuid] : [...new Set(Object.values(opts.uuid))]
    this.name = opts.name ?? (this.#uuids[0] as string)
    this.#where = agentUrl(opts.agent, '')
  }

  stats(): MTConnectAgentConnectorStats {
    return {
      connected: this.#connected,
      ...this.#stats,
      problems: this.#mapper?.stats().problems ?? 0,
      ...(this.#position ? { position: this.#position } : {}),
    }
  }

  async start(ctx: ConnectorContext): Promise<void> {
    if (this.#run) throw new Error(`connector ${this.name} is already started`)
    const run = new AbortController()
    this.#run = run
    const signal = AbortSignal.any([run.signal, ctx.signal])
    this.#position = undefined
    this.#fellOut = false
    this.#up.clear()
    this.#deviceUp.clear()
    this.#documentsPut.clear()
    // Declared again at this start (the supervisor then puts every item UNAVAILABLE).
    this.#declared = undefined
    const saved = await ctx.loadCheckpoint()
    if (saved !== undefined) {
      this.#position = decodeAgentCheckpoint(saved)
      if (!this.#position)
        ctx.logger.warn('ignoring a checkpoint that is not ours', { checkpoint: saved.slice(0, 200) })
      else ctx.logger.info('resuming from the checkpoint', { agent: this.#where, ...this.#position })
    }
    if (this.#bindings.length > 0) this.#declare(ctx) // the model of an earlier start, until the probe says otherwise
    this.#loop = this.#runLoop(ctx, signal)
  }

  async stop(): Promise<void> {
    this.#run?.abort()
    await this.#loop
    await this.#assetRefresh
    this.#run = undefined
    this.#loop = undefined
    this.#connected = false
  }

  // --- the loop ------------------------------------------------------------------------------------------

  async #runLoop(ctx: ConnectorContext, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#opts.timings?.backoff)
    let quickResyncs = 0
    while (!signal.aborted) {
      let streamed = false
      try {
        await this.#session(ctx, signal, () => {
          streamed = true
          this.#fellOut = false
          backoff.reset()
        })
        if (signal.aborted) break
        throw new OpenFactoryError('OFA_MTCONNECT_AGENT', `${this.#where}: the agent ended the stream`, {
          retryable: true,
        })
      } catch (err) {
        if (signal.aborted) break
        this.#connected = false
        if (err instanceof Resync) {
          this.#stats.resyncs++
          quickResyncs = streamed ? 1 : quickResyncs + 1
          ctx.logger.info('MTConnect agent: resynchronising', { agent: this.#where, reason: err.message })
          if (quickResyncs < MAX_QUICK_RESYNCS) continue
          quickResyncs = 0
          await sleep(backoff.next(), signal)
          continue
        }
        quickResyncs = 0
        this.#stats.disconnects++
        const reason = err instanceof OpenFactoryError ? `${err.code} ${err.message}` : (err as Error).message
        const delay = backoff.next()
        ctx.logger.warn('MTConnect agent unavailable; connecting again', {
          agent: this.#where,
          reason,
          retryInMs: delay,
        })
        this.#down(ctx, reason)
        await sleep(delay, signal)
      }
    }
    this.#connected = false
  }

  /** One connection: probe (when needed), current, assets, then the stream until it fails. */
  async #session(ctx: ConnectorContext, signal: AbortSignal, onStreaming: () => void): Promise<void> {
    const req = this.#requestOptions(signal)
    let current = await this.#streamsDocument('/current', req)
    if (this.#modelInstance !== current.header.instanceId) {
      await this.#probe(ctx, req)
      current = await this.#streamsDocument('/current', req)
      if (this.#modelInstance !== current.header.instanceId) {
        throw new Resync('the agent restarted between probe and current')
      }
    }
    const mapper = this.#mapper as AgentStreamMapper
    const header = current.header
    const from = this.#startFrom(ctx, header)
    this.#publishCurrent(ctx, mapper, current.observations, from)
    this.#position = { instanceId: header.instanceId, next: from }
    ctx.saveCheckpoint(encodeAgentCheckpoint(this.#position))
    this.#stats.syncs++
    this.#connected = true
    this.#up.clear() // said again below, with this connection's reason
    for (const uuid of this.#uuids) this.#availability(ctx, uuid)
    await this.#fetchAssets(ctx, req)
    if (signal.aborted) return

    const t = this.#opts.timings ?? {}
    const heartbeat = t.heartbeatMs ?? MTCONNECT_AGENT_HEARTBEAT_MS
    const path =
      `/sample?from=${from}&count=${this.#opts.count ?? MTCONNECT_AGENT_COUNT}` +
      `&interval=${this.#opts.intervalMs ?? MTCONNECT_AGENT_INTERVAL_MS}&heartbeat=${heartbeat}`
    ctx.logger.info('MTConnect agent: streaming', { agent: this.#where, instanceId: header.instanceId, from })
    for await (const text of streamAgentParts(this.#opts.agent, path, { ...req, stallMs: 2 * heartbeat })) {
      this.#stats.parts++
      const doc = readAgentDocument(text, `${this.#where}/sample`)
      this.#onPart(ctx, mapper, doc)
      onStreaming()
      if (ctx.congested) await ctx.whenWritable()
      if (signal.aborted) return
    }
  }

  #requestOptions(signal: AbortSignal): AgentRequestOptions {
    return {
      signal,
      connectTimeoutMs: this.#opts.timings?.connectTimeoutMs ?? 5000,
      maxBytes: this.#opts.maxDocumentBytes ?? MTCONNECT_MAX_DOCUMENT_BYTES,
    }
  }

  async #document(path: string, req: AgentRequestOptions): Promise<AgentDocument> {
    const res = await getAgentDocument(this.#opts.agent, path, req)
    return readAgentDocument(res.body, `${this.#where}${path}`)
  }

  /** A Streams document (`current`); an error document is an error (OUT_OF_RANGE here is the agent's problem). */
  async #streamsDocument(
    path: string,
    req: AgentRequestOptions,
  ): Promise<{ header: StreamsHeader; observations: AgentObservation[] }> {
    const doc = await this.#document(path, req)
    if (doc.kind === 'streams') return doc
    throw this.#unexpected(path, doc)
  }

  #unexpected(path: string, doc: AgentDocument): OpenFactoryError {
    const what =
      doc.kind === 'error'
        ? `the agent answered ${doc.errors.map((e) => `${e.code}${e.message ? ` (${e.message})` : ''}`).join(', ') || 'an error'}`
        : `the agent answered an MTConnect${doc.kind[0]?.toUpperCase()}${doc.kind.slice(1)} document`
    return new OpenFactoryError('OFA_MTCONNECT_AGENT', `${this.#where}${path}: ${what}`, { retryable: true })
  }

  /** Probes the agent: its devices, bound to our uuids, are the asset model (declared when it changed). */
  async #probe(ctx: ConnectorContext, req: AgentRequestOptions): Promise<void> {
    const doc = await this.#document('/probe', req)
    if (doc.kind !== 'devices') throw this.#unexpected('/probe', doc)
    const bindings = this.#bind(doc.devices)
    const instance = doc.header.instanceId
    if (this.#modelInstance !== undefined && this.#modelInstance !== instance) {
      ctx.logger.info('MTConnect agent restarted; probed again', {
        agent: this.#where,
        instanceId: instance,
        was: this.#modelInstance,
      })
    }
    this.#modelInstance = instance
    this.#assetBufferSize = doc.header.assetBufferSize
    this.#bindings = bindings
    this.#mapper = new AgentStreamMapper(bindings)
    this.#mapper.onProblem = (item, message) => {
      this.#problemsLogged++
      if (this.#problemsLogged <= 100) {
        ctx.logger.warn('MTConnect agent: a value that cannot be read as its item wants', {
          asset: item.assetUuid,
          item: item.dataItem.id,
          message,
        })
      }
    }
    this.#declare(ctx)
  }

  /** Binds the agent's devices to our uuids, as mtconnect-connector.ts binds an adapter's. */
  #bind(devices: readonly MTConnectDeviceModel[]): AgentBinding[] {
    const uuid = this.#opts.uuid
    const missing = (what: string) =>
      new OpenFactoryError(
        'OFA_MTCONNECT_AGENT',
        `${this.#where}/probe: ${what} (devices: ${devices.map((d) => d.name).join(', ') || 'none'})`,
        { retryable: true },
      )
    if (typeof uuid === 'string') {
      const model = deviceForUuid(devices, uuid)
      if (!model) {
        throw missing(
          devices.length === 0
            ? 'the agent describes no device'
            : `the agent describes several devices and none has uuid, name or id '${uuid}'; give the device file the uuid of one of them`,
        )
      }
      return [{ model, assetUuid: uuid }]
    }
    const out: AgentBinding[] = []
    for (const [ref, assetUuid] of Object.entries(uuid)) {
      const model = devices.find((m) => m.name === ref || m.uuid === ref || m.id === ref)
      if (!model) throw missing(`'${ref}' names no device of the agent`)
      if (out.some((b) => b.model === model)) throw missing(`device '${model.name}' is given two uuids`)
      out.push({ model, assetUuid })
    }
    return out
  }

  /** Declares the assets when they changed (or were not declared since this start); their items turn UNAVAILABLE. */
  #declare(ctx: ConnectorContext): void {
    const assets: Asset[] = this.#bindings.map((b) => {
      const uns = this.#opts.uns?.[b.assetUuid]
      return mtconnectDeviceToAsset(b.model, { uuid: b.assetUuid, ...(uns ? { uns } : {}) })
    })
    const text = JSON.stringify(assets)
    if (text === this.#declared) return
    this.#declared = text
    ctx.declareAssets(assets)
    for (const a of assets) for (const d of a.dataItems) this.#overwritten.add(`${a.uuid}|${d.id}`)
  }

  /** Where the stream starts (see the module comment), given `current`'s header. */
  #startFrom(ctx: ConnectorContext, h: StreamsHeader): number {
    const p = this.#position
    if (!p) return h.nextSequence
    if (p.instanceId === h.instanceId && p.next >= h.firstSequence && p.next <= h.nextSequence) {
      this.#fellOut = false
      return p.next
    }
    if (this.#fellOut) {
      // Fell out again at once: the agent's buffer moves faster than we catch up.
      this.#fellOut = false
      const lost = p.instanceId === h.instanceId ? Math.max(0, h.nextSequence - p.next) : 0
      this.#stats.lostSequences += lost
      ctx.logger.error('MTConnect agent: cannot catch up with its buffer; continuing from its newest', {
        agent: this.#where,
        lostSequences: lost,
      })
      return h.nextSequence
    }
    this.#fellOut = true
    if (p.instanceId === h.instanceId) {
      const lost = Math.max(0, h.firstSequence - p.next)
      this.#stats.lostSequences += lost
      ctx.logger.error('MTConnect agent: its buffer moved past our position; observations were lost', {
        agent: this.#where,
        next: p.next,
        firstSequence: h.firstSequence,
        lostSequences: lost,
      })
    } else {
      ctx.logger.warn('MTConnect agent: another instance; reading all it holds', {
        agent: this.#where,
        instanceId: h.instanceId,
        was: p.instanceId,
        firstSequence: h.firstSequence,
      })
    }
    return h.firstSequence
  }

  /**
   * Publishes what `current` says of items whose latest value is older than `from` (the stream brings the others):
   * unless the log has that value already as the item's last (see the module comment).
   */
  #publishCurrent(ctx: ConnectorContext, mapper: AgentStreamMapper, observations: AgentObservation[], from: number) {
    const p = this.#position
    const instance = this.#modelInstance // current's: the session checked they are one
    const published = (seq: number) => p !== undefined && p.instanceId === instance && seq < p.next
    const restate = new Set(this.#overwritten)
    const ingestion = isoTimestamp()
    const out: { uuid: string; observation: Observation }[] = []
    for (const o of sortBySequence(observations)) {
      if (o.sequence >= from) continue
      const item = mapper.resolve(o)
      if (!item) continue
      if (published(o.sequence) && !restate.has(item.key)) continue
      this.#take(ctx, mapper, o, item, ingestion, out)
    }
    this.#flush(ctx, out)
  }

  /** One part of the stream. */
  #onPart(ctx: ConnectorContext, mapper: AgentStreamMapper, doc: AgentDocument): void {
    const position = this.#position as AgentPosition
    if (doc.kind === 'error') {
      if (doc.errors.some((e) => e.code === 'OUT_OF_RANGE')) {
        throw new Resync(`the agent no longer holds sequence ${position.next} (OUT_OF_RANGE)`)
      }
      throw this.#unexpected('/sample', doc)
    }
    if (doc.kind !== 'streams') throw this.#unexpected('/sample', doc)
    const h = doc.header
    if (h.instanceId !== position.instanceId) {
      throw new Resync(`the agent is another instance (${h.instanceId}, was ${position.instanceId})`)
    }
    if (h.firstSequence > position.next) {
      throw new Resync(`the agent's buffer starts at ${h.firstSequence}, past our next ${position.next}`)
    }
    const ingestion = isoTimestamp()
    const out: { uuid: string; observation: Observation }[] = []
    let next = position.next
    for (const o of sortBySequence(doc.observations)) {
      if (o.sequence < position.next) {
        this.#stats.duplicates++
        continue
      }
      if (o.sequence >= next) next = o.sequence + 1
      const item = mapper.resolve(o)
      if (!item) continue
      this.#take(ctx, mapper, o, item, ingestion, out)
    }
    this.#flush(ctx, out)
    // The position moves after the observations received, not to the header's nextSequence: an agent may write its
    // own newest there, and a part cut at `count` would then skip the rest (we ask for every device, so the
    // sequences come without holes; a heartbeat leaves the position where it is).
    if (next !== position.next) {
      this.#position = { instanceId: position.instanceId, next }
      ctx.saveCheckpoint(encodeAgentCheckpoint(this.#position))
    }
  }

  /** Maps one observation into `out` (availability and asset events act at once). */
  #take(
    ctx: ConnectorContext,
    mapper: AgentStreamMapper,
    o: AgentObservation,
    item: AgentItem,
    ingestion: string,
    out: { uuid: string; observation: Observation }[],
  ): void {
    const m = mapper.map(o, ingestion, item)
    if (m.kind === 'availability') {
      if (m.observation) this.#keep(out, item, m.observation)
      this.#deviceUp.set(item.assetUuid, m.available)
      this.#flush(ctx, out) // what came before it, published before the change
      this.#availability(ctx, item.assetUuid)
      return
    }
    if (m.kind !== 'observation') return
    this.#keep(out, item, m.observation)
    const type = item.dataItem.type
    const value = m.observation.value
    if (
      (type === 'ASSET_CHANGED' || type === 'ASSET_REMOVED') &&
      typeof value === 'string' &&
      value !== 'UNAVAILABLE'
    ) {
      this.#assetEvent(ctx, item, type === 'ASSET_REMOVED', value, o)
    }
  }

  /** Queues an observation of the agent for publishing. */
  #keep(out: { uuid: string; observation: Observation }[], item: AgentItem, observation: Observation): void {
    out.push({ uuid: item.assetUuid, observation })
    this.#overwritten.delete(item.key)
    this.#stats.observations++
  }

  /** Publishes `out` in order, one call per run of one asset, and empties it. */
  #flush(ctx: ConnectorContext, out: { uuid: string; observation: Observation }[]): void {
    let i = 0
    while (i < out.length) {
      const uuid = (out[i] as { uuid: string }).uuid
      const group: Observation[] = []
      while (i < out.length && (out[i] as { uuid: string }).uuid === uuid)
        group.push((out[i++] as { observation: Observation }).observation)
      ctx.publish(uuid, group)
    }
    out.length = 0
  }

  // --- availability -----------------------------------------------------------------------------------------

  /** An asset is up while the stream is in step and its device does not say it is UNAVAILABLE. */
  #availability(ctx: ConnectorContext, uuid: string): void {
    if (!this.#connected) return
    const up = this.#deviceUp.get(uuid) !== false
    if (this.#up.get(uuid) === up) return
    this.#up.set(uuid, up)
    if (up) ctx.setAvailable(uuid, true)
    else ctx.setAvailable(uuid, false, 'the agent reports the device UNAVAILABLE')
  }

  /** The agent is gone: every item UNAVAILABLE and every asset down, once per outage (as SHDR does). */
  #down(ctx: ConnectorContext, reason: string): void {
    const at = Date.now()
    const ingestion = isoTimestamp(at)
    for (const uuid of this.#uuids) {
      if (this.#up.get(uuid) === false) continue
      this.#up.set(uuid, false)
      const items = this.#mapper?.items().filter((i) => i.assetUuid === uuid && !drivesAvailOnly(i.item)) ?? []
      if (items.length > 0) {
        ctx.publish(
          uuid,
          items.map((i) => {
            const o = unavailableObservation({ id: i.item.id, tag: i.item.tag, type: i.item.category }, reason, at)
            o.attributes.ingestion_timestamp = ingestion
            this.#overwritten.add(i.key)
            return o
          }),
        )
      }
      ctx.setAvailable(uuid, false, reason)
    }
  }

  // --- asset documents --------------------------------------------------------------------------------------

  /** Every asset document the agent holds, put once per version. An agent without assets is not an error. */
  async #fetchAssets(ctx: ConnectorContext, req: AgentRequestOptions): Promise<void> {
    const path = this.#assetBufferSize !== undefined ? `/assets?count=${this.#assetBufferSize}` : '/assets'
    let doc: AgentDocument
    try {
      doc = await this.#document(path, req)
    } catch (err) {
      if (req.signal.aborted) return
      ctx.logger.warn('MTConnect agent: cannot read its assets', { agent: this.#where, error: (err as Error).message })
      return
    }
    if (doc.kind !== 'assets') {
      if (doc.kind === 'error' && doc.errors.every((e) => e.code === 'ASSET_NOT_FOUND')) return
      ctx.logger.warn('MTConnect agent: cannot read its assets', {
        agent: this.#where,
        error: this.#unexpected(path, doc).message,
      })
      return
    }
    for (const a of doc.assets) this.#putAsset(ctx, a)
  }

  /** An AssetChanged or AssetRemoved event: the document fetched again (in order, after the stream's part). */
  #assetEvent(ctx: ConnectorContext, item: AgentItem, removed: boolean, assetId: string, o: AgentObservation): void {
    if (removed) {
      const doc: AgentAsset = { assetId, type: o.attributes.assetType ?? '', timestamp: o.timestamp, removed, body: '' }
      this.#putAsset(ctx, doc, item.assetUuid)
      return
    }
    const signal = this.#run?.signal
    if (!signal) return
    const req = this.#requestOptions(signal)
    const path = `/asset/${encodeURIComponent(assetId)}`
    this.#assetRefresh = this.#assetRefresh.then(async () => {
      if (signal.aborted) return
      try {
        const doc = await this.#document(path, req)
        if (doc.kind !== 'assets') throw this.#unexpected(path, doc)
        for (const a of doc.assets) this.#putAsset(ctx, a, item.assetUuid)
      } catch (err) {
        if (signal.aborted) return
        ctx.logger.warn('MTConnect agent: cannot read a changed asset', {
          agent: this.#where,
          assetId,
          error: (err as Error).message,
        })
      }
    })
  }

  /**
   * Puts a document once per version (timestamp, removed, size). Its `deviceUuid` is our uuid of the device the
   * agent names (a document of a device we do not bind is not ours), else `owner`, else our first device's.
   */
  #putAsset(ctx: ConnectorContext, a: AgentAsset, owner?: string): void {
    if (a.assetId === '' || ctx.signal.aborted) return
    let deviceUuid: string | undefined
    if (a.deviceUuid !== undefined) {
      deviceUuid = this.#bindings.find((b) => b.model.uuid === a.deviceUuid)?.assetUuid
      if (deviceUuid === undefined) return
    } else deviceUuid = owner ?? this.#bindings[0]?.assetUuid
    if (deviceUuid === undefined) return
    const version = `${a.timestamp ?? ''}|${a.removed}|${a.body.length}`
    if (this.#documentsPut.get(a.assetId) === version) return
    this.#documentsPut.set(a.assetId, version)
    const ms = a.timestamp ? Date.parse(a.timestamp) : Number.NaN
    this.#stats.documents++
    ctx.putDocument({
      assetId: a.assetId,
      type: a.type,
      deviceUuid,
      timestamp: isoTimestamp(Number.isFinite(ms) ? ms : Date.now()),
      body: a.body,
      ...(a.removed ? { removed: true } : {}),
    })
  }
}

/** Observations in sequence order (a document groups them by component and category). */
function sortBySequence(observations: AgentObservation[]): AgentObservation[] {
  for (let i = 1; i < observations.length; i++) {
    if ((observations[i] as AgentObservation).sequence < (observations[i - 1] as AgentObservation).sequence) {
      return [...observations].sort((a, b) => a.sequence - b.sequence)
    }
  }
  return observations
}

/**
 * `connector.type: mtconnect` with an external agent, from code: checks the options once (`OFA_CONNECTOR_CONFIG`).
 * A device file goes through the registry instead (`connectorSpec('mtconnect')`).
 */
export function createMTConnectAgentConnector(opts: MTConnectAgentConnectorOptions): MTConnectAgentConnector {
  checkOptions(opts)
  return new MTConnectAgentConnector(opts)
}
