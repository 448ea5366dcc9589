/**
 * A Sparkplug B Host Application (Eclipse Sparkplug 3.0) for one edge node: its topics are
 * `spBv1.0/<group_id>/<type>/<edge_node_id>[/<device_id>]`, type one of NBIRTH, NDATA, NDEATH, NCMD, DBIRTH,
 * DDATA, DDEATH, DCMD; the host announces itself on `spBv1.0/STATE/<host_id>` with the retained JSON
 * `{"online": true, "timestamp": ms}`, and the broker publishes the will `{"online": false, "timestamp": ms}` (the
 * same timestamp) when we vanish.
 *
 * - NBIRTH (seq 0) and DBIRTH define the assets: the edge node is the device's asset (its uuid); each Sparkplug device
 *   is an asset of its own, `<uuid>.<device_id>`. Every metric is a data item (its id the metric name with characters
 *   other than letters, digits, `_`, `.`, `-` turned into `_`); numeric types are Samples, the others Events. The
 *   births give each metric its alias and data type; NDATA/DDATA name metrics by alias (or name).
 * - seq: every message of an edge node after NBIRTH carries the previous seq + 1 (mod 256). A gap (a message lost,
 *   or out of order; not the data messages the connector itself dropped for a flood: `dropped()`) makes the node's
 *   assets UNAVAILABLE with `OFA_SPARKPLUG_SEQUENCE` and sends NCMD `Node Control/Rebirth` = true; data is ignored
 *   until the new NBIRTH. We also ask for a rebirth when we (re)connect and know no birth of the node. A payload that
 *   is not Sparkplug is `OFA_SPARKPLUG_PAYLOAD`, handled the same way.
 * - NDEATH (the edge node's will, or sent by it) whose bdSeq is the one of the current NBIRTH makes the node and its
 *   devices UNAVAILABLE (`OFA_SPARKPLUG_DEATH`); DDEATH makes one device UNAVAILABLE.
 * - Commands: the node asset offers `Rebirth` (NCMD `Node Control/Rebirth`) and every asset offers
 *   `WriteMetric {metric, value}`, sent as NCMD (node) or DCMD (device) with the metric's birth data type; a value
 *   that does not fit the type is rejected. Sparkplug has no answer: the command completes when the broker has it,
 *   and the new value comes back in NDATA/DDATA.
 */
import type { CommandRequest, ConnectorContext } from '@openfactory/connectors'
import {
  type Asset,
  type DataItem,
  isoTimestamp,
  type MethodContract,
  type Observation,
  OpenFactoryError,
  RESERVED_ATTRIBUTE_IDS,
  UNAVAILABLE,
  type UnsPlacement,
} from '@openfactory/model'
import type { MqttClient } from 'mqtt'
import { decodePayload, encodePayload, isNumeric, metricFields, metricValue, type SparkplugMetric } from './codec.ts'

export const NAMESPACE = 'spBv1.0'
const REBIRTH = 'Node Control/Rebirth'

export interface SparkplugConfig {
  readonly groupId: string
  readonly edgeNodeId: string
  readonly hostId: string
}

interface MetricDef {
  readonly name: string
  readonly id: string
  readonly datatype: number
}

interface AssetState {
  readonly uuid: string
  /** undefined for the node itself */
  readonly deviceId?: string
  readonly metrics: Map<string, MetricDef>
  available: boolean
}

export interface SparkplugStats {
  births: number
  sequenceGaps: number
  badPayloads: number
  rebirthsRequested: number
  unknownMetrics: number
}

/** A metric name as a data item id. */
export function metricItemId(name: string): string {
  const id = name.replaceAll(/[^A-Za-z0-9_.-]/g, '_')
  return RESERVED_ATTRIBUTE_IDS.includes(id) || id === '' ? `m_${id}` : id
}

function tagOf(name: string): string {
  const last = name.split('/').at(-1) ?? name
  const tag = last.replaceAll(/[^A-Za-z0-9]/g, '')
  return tag === '' ? 'Sparkplug' : tag[0]?.toUpperCase() + tag.slice(1)
}

export class SparkplugHost {
  readonly stats: SparkplugStats = {
    births: 0,
    sequenceGaps: 0,
    badPayloads: 0,
    rebirthsRequested: 0,
    unknownMetrics: 0,
  }
  readonly #config: SparkplugConfig
  readonly #uuid: string
  readonly #uns: UnsPlacement | undefined
  readonly #now: () => number
  readonly #stateTimestamp: number
  #node: AssetState | null = null
  readonly #devices = new Map<string, AssetState>()
  /** alias → (asset, metric) for the current birth */
  readonly #aliases = new Map<number, { asset: AssetState; def: MetricDef }>()
  #bdSeq: number | undefined
  #lastSeq: number | undefined
  /** True from a gap (or a death) until the next NBIRTH: data is ignored meanwhile. */
  #awaitingBirth = true
  /** True after we dropped data of the node unread (a flood): the next message's seq is taken as is, not as a gap. */
  #resync = false

  constructor(config: SparkplugConfig, uuid: string, uns: UnsPlacement | undefined, now: () => number) {
    this.#config = config
    this.#uuid = uuid
    this.#uns = uns
    this.#now = now
    this.#stateTimestamp = now()
  }

  get stateTopic(): string {
    return `${NAMESPACE}/STATE/${this.#config.hostId}`
  }

  /** The will the client connects with: the broker publishes it (retained) when we vanish. */
  will(): { topic: string; payload: Buffer; qos: 1; retain: true } {
    const payload = Buffer.from(JSON.stringify({ online: false, timestamp: this.#stateTimestamp }))
    return { topic: this.stateTopic, payload, qos: 1, retain: true }
  }

  /** The filters of the edge node's messages. */
  filters(): string[] {
    const { groupId, edgeNodeId } = this.#config
    return [`${NAMESPACE}/${groupId}/+/${edgeNodeId}`, `${NAMESPACE}/${groupId}/+/${edgeNodeId}/+`]
  }

  /** True for a topic of this edge node. */
  owns(topic: string): boolean {
    const parts = topic.split('/')
    return (
      parts[0] === NAMESPACE &&
      parts[1] === this.#config.groupId &&
      parts[3] === this.#config.edgeNodeId &&
      (parts.length === 4 || parts.length === 5)
    )
  }

  /** On every (re)connection, once subscribed: STATE online, and a rebirth request when we know no birth. */
  async connected(client: MqttClient, ctx: ConnectorContext): Promise<void> {
    const online = JSON.stringify({ online: true, timestamp: this.#stateTimestamp })
    await client.publishAsync(this.stateTopic, online, { qos: 1, retain: true })
    if (this.#awaitingBirth) await this.#requestRebirth(client, ctx, 'no birth certificate known yet')
  }

  /** Before a clean stop: STATE offline (the will covers a crash). */
  async stopping(client: MqttClient): Promise<void> {
    const offline = JSON.stringify({ online: false, timestamp: this.#stateTimestamp })
    await client.publishAsync(this.stateTopic, offline, { qos: 1, retain: true })
  }

  async #requestRebirth(client: MqttClient, ctx: ConnectorContext, why: string): Promise<void> {
    this.stats.rebirthsRequested++
    ctx.logger.info('asking the edge node for a rebirth', { why })
    const { groupId, edgeNodeId } = this.#config
    const payload = encodePayload({
      timestamp: this.#now(),
      metrics: [{ name: REBIRTH, datatype: 11, timestamp: this.#now(), boolean_value: true }],
    })
    await client.publishAsync(`${NAMESPACE}/${groupId}/NCMD/${edgeNodeId}`, Buffer.from(payload), { qos: 0 })
  }

  /**
   * The connector dropped a data message of the node unread (past `max_messages_per_s`): its seq is unknown, so the
   * next message re-bases the sequence instead of counting as a gap (which would ask for a rebirth each second of a
   * flood, and the births would flood too).
   */
  dropped(): void {
    this.#resync = true
  }

  /** Every asset of the current births. */
  #assets(): AssetState[] {
    return this.#node ? [this.#node, ...this.#devices.values()] : []
  }

  #declare(ctx: ConnectorContext): void {
    const assets: Asset[] = this.#assets().map((a) => {
      const dataItems: DataItem[] = [...a.metrics.values()].map((m) => ({
        id: m.id,
        category: isNumeric(m.datatype) ? 'Samples' : 'Events',
        tag: tagOf(m.name),
      }))
      const methods: MethodContract[] = [
        {
          name: 'WriteMetric',
          description: `writes a metric of ${a.deviceId ?? this.#config.edgeNodeId} (${a.deviceId ? 'DCMD' : 'NCMD'})`,
          arguments: [
            { name: 'metric', description: 'the metric name', type: 'string', required: true },
            { name: 'value', description: 'its new value', required: true },
          ],
        },
      ]
      if (!a.deviceId) {
        methods.push({ name: 'Rebirth', description: 'asks the edge node for its birth certificates', arguments: [] })
      }
      return {
        uuid: a.uuid,
        type: 'Device',
        ...(this.#uns && !a.deviceId ? { uns: this.#uns } : {}),
        referencesAbove: a.deviceId ? [this.#uuid] : [],
        referencesBelow: a.deviceId ? [] : [...this.#devices.values()].map((d) => d.uuid),
        dataItems,
        methods,
      }
    })
    ctx.declareAssets(assets)
  }

  #setDown(ctx: ConnectorContext, assets: AssetState[], reason: string): void {
    const timestamp = isoTimestamp(this.#now())
    for (const a of assets) {
      if (!a.available) continue
      a.available = false
      ctx.setAvailable(a.uuid, false, reason)
      const code = reason.split(':')[0] as string
      ctx.publish(
        a.uuid,
        [...a.metrics.values()].map((m) => ({
          id: m.id,
          tag: tagOf(m.name),
          type: isNumeric(m.datatype) ? 'Samples' : 'Events',
          value: UNAVAILABLE,
          attributes: { timestamp, reason: code },
        })),
      )
    }
  }

  /** Marks every asset UNAVAILABLE (the connection to the broker is gone). */
  disconnected(ctx: ConnectorContext, reason: string): void {
    this.#setDown(ctx, this.#assets(), reason)
  }

  #observation(def: MetricDef, m: SparkplugMetric, fallback: number, now: number): Observation {
    const v = metricValue(m, def.datatype)
    return {
      id: def.id,
      tag: tagOf(def.name),
      type: isNumeric(def.datatype) ? 'Samples' : 'Events',
      value: v === undefined ? UNAVAILABLE : v,
      attributes: {
        timestamp: isoTimestamp(m.timestamp ?? fallback),
        ingestion_timestamp: isoTimestamp(now),
        ...(v === undefined ? { reason: 'is_null' } : {}),
      },
    }
  }

  /** Handles one message of this edge node (a topic `owns` accepted). */
  async message(client: MqttClient, ctx: ConnectorContext, topic: string, bytes: Uint8Array): Promise<void> {
    const parts = topic.split('/')
    const type = parts[2] as string
    const deviceId = parts[4]
    if (type === 'NCMD' || type === 'DCMD') return
    let payload: ReturnType<typeof decodePayload>
    try {
      payload = decodePayload(bytes)
    } catch (err) {
      this.stats.badPayloads++
      const why = `OFA_SPARKPLUG_PAYLOAD: ${type} on ${topic} is not a Sparkplug B payload (${(err as Error).message})`
      ctx.logger.warn(why)
      this.#awaitingBirth = true
      this.#setDown(ctx, this.#assets(), why)
      await this.#requestRebirth(client, ctx, why)
      return
    }
    const now = this.#now()
    const fallback = payload.timestamp ?? now
    if (type === 'NBIRTH') {
      this.stats.births++
      this.#aliases.clear()
      this.#devices.clear()
      const node: AssetState = { uuid: this.#uuid, metrics: new Map(), available: true }
      this.#node = node
      this.#bdSeq = undefined
      const obs: Observation[] = []
      for (const m of payload.metrics) {
        if (m.name === undefined) continue
        if (m.name === 'bdSeq') this.#bdSeq = m.long_value ?? 0
        const def = { name: m.name, id: metricItemId(m.name), datatype: m.datatype ?? 0 }
        node.metrics.set(m.name, def)
        if (m.alias !== undefined) this.#aliases.set(m.alias, { asset: node, def })
        obs.push(this.#observation(def, m, fallback, now))
      }
      this.#lastSeq = payload.seq ?? 0
      this.#awaitingBirth = false
      this.#declare(ctx)
      ctx.setAvailable(node.uuid, true)
      ctx.publish(node.uuid, obs)
      return
    }
    if (type === 'NDEATH') {
      const bdSeq = payload.metrics.find((m) => m.name === 'bdSeq')?.long_value
      if (this.#bdSeq !== undefined && bdSeq !== undefined && bdSeq !== this.#bdSeq) return // an older session's will
      this.#awaitingBirth = true
      this.#setDown(ctx, this.#assets(), `OFA_SPARKPLUG_DEATH: the edge node ${this.#config.edgeNodeId} died (NDEATH)`)
      return
    }
    if (this.#awaitingBirth) return
    const seq = payload.seq
    const expected = ((this.#lastSeq ?? 0) + 1) % 256
    if (this.#resync) {
      // The seqs we skipped were ours to drop (a flood), not lost on the way: no rebirth for them.
      this.#resync = false
    } else if (seq !== expected) {
      this.stats.sequenceGaps++
      const why = `OFA_SPARKPLUG_SEQUENCE: ${type} with seq ${seq ?? 'none'} where ${expected} was due; rebirth requested`
      ctx.logger.warn(why)
      this.#awaitingBirth = true
      this.#setDown(ctx, this.#assets(), why)
      await this.#requestRebirth(client, ctx, why)
      return
    }
    this.#lastSeq = seq
    if (type === 'DBIRTH' && deviceId !== undefined) {
      this.stats.births++
      const uuid = `${this.#uuid}.${deviceId.replaceAll(/[^A-Za-z0-9_.:-]/g, '_')}`
      const device: AssetState = { uuid, deviceId, metrics: new Map(), available: true }
      this.#devices.set(deviceId, device)
      const obs: Observation[] = []
      for (const m of payload.metrics) {
        if (m.name === undefined) continue
        const def = { name: m.name, id: metricItemId(m.name), datatype: m.datatype ?? 0 }
        device.metrics.set(m.name, def)
        if (m.alias !== undefined) this.#aliases.set(m.alias, { asset: device, def })
        obs.push(this.#observation(def, m, fallback, now))
      }
      this.#declare(ctx)
      ctx.setAvailable(uuid, true)
      ctx.publish(uuid, obs)
      return
    }
    if (type === 'DDEATH' && deviceId !== undefined) {
      const device = this.#devices.get(deviceId)
      if (device) this.#setDown(ctx, [device], `OFA_SPARKPLUG_DEATH: the device ${deviceId} died (DDEATH)`)
      return
    }
    if (type === 'NDATA' || type === 'DDATA') {
      const asset = type === 'NDATA' ? this.#node : deviceId !== undefined ? this.#devices.get(deviceId) : undefined
      if (!asset) return
      const obs: Observation[] = []
      for (const m of payload.metrics) {
        const def =
          m.alias !== undefined
            ? this.#aliases.get(m.alias)?.def
            : m.name !== undefined
              ? asset.metrics.get(m.name)
              : undefined
        if (!def) {
          this.stats.unknownMetrics++
          continue
        }
        obs.push(this.#observation(def, m, fallback, now))
      }
      if (obs.length > 0) ctx.publish(asset.uuid, obs)
    }
  }

  /** Runs `Rebirth` or `WriteMetric` on one of our assets (NCMD or DCMD). */
  async execute(client: MqttClient, ctx: ConnectorContext, req: CommandRequest): Promise<unknown> {
    const asset = this.#assets().find((a) => a.uuid === req.assetUuid)
    if (!asset) throw new OpenFactoryError('OFA_COMMAND_REJECTED', `${req.assetUuid}: no birth certificate known`)
    const { groupId, edgeNodeId } = this.#config
    if (req.method === 'Rebirth' && !asset.deviceId) {
      await this.#requestRebirth(client, ctx, 'asked by a command')
      return { published: `${NAMESPACE}/${groupId}/NCMD/${edgeNodeId}` }
    }
    if (req.method !== 'WriteMetric') throw new OpenFactoryError('OFA_COMMAND_REJECTED', `no method ${req.method}`)
    const name = String(req.arguments.metric)
    const def = asset.metrics.get(name)
    if (!def) throw new OpenFactoryError('OFA_COMMAND_REJECTED', `${req.assetUuid} has no metric ${name}`)
    const fields = metricFields(def.datatype, req.arguments.value)
    if (!fields) {
      throw new OpenFactoryError(
        'OFA_COMMAND_REJECTED',
        `argument value: ${JSON.stringify(req.arguments.value)} does not fit ${name}'s Sparkplug data type ${def.datatype}`,
      )
    }
    const topic = asset.deviceId
      ? `${NAMESPACE}/${groupId}/DCMD/${edgeNodeId}/${asset.deviceId}`
      : `${NAMESPACE}/${groupId}/NCMD/${edgeNodeId}`
    const payload = encodePayload({
      timestamp: this.#now(),
      metrics: [{ name, datatype: def.datatype, timestamp: this.#now(), ...fields }],
    })
    await client.publishAsync(topic, Buffer.from(payload), { qos: 0 })
    return { published: topic }
  }
}
