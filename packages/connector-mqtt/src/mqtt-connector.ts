/**
 * The MQTT connector: one mqtt.js client per device, subscribed to the topic filters of the device's items.
 *
 * Nothing accepted is lost across a reconnect or a broker restart: by default we subscribe with QoS 1 on a persistent
 * session (MQTT 3.1.1 Clean Session 0; MQTT 5 Clean Start 0 with a Session Expiry Interval of a week), under a
 * client id that stays the same, so the broker keeps what arrives while we are away and sends it when we come back.
 * A message is acknowledged (PUBACK) only after its observation was handed to the supervisor, which owns writing it
 * to the log; mqtt.js does not read the next packet before we call back (`handleMessage`), so while the log falls
 * behind (`ctx.congested`) we hold the callback and TCP holds the broker back: memory stays bounded and the broker
 * keeps the backlog (its own limits, e.g. Mosquitto's `max_queued_messages`, then apply and the broker counts drops).
 * A QoS 1 message the broker sends again after a reconnect because our PUBACK was lost carries the DUP flag and the
 * packet id it had; we remember the packet ids we acknowledged (with a hash of topic and payload) and skip such a
 * message, so an observation is never written twice.
 *
 * A flooding publisher: holding the broker back bounds memory but not fairness, since one topic's flood would crowd
 * out the others on the same connection. Each data item (a Sparkplug edge node: its NDATA/DDATA) accepts at most
 * `max_messages_per_s` messages per second (fixed one-second windows on the connector's clock); the rest of the
 * second's are acknowledged and dropped before their payload is read, counted (`stats.floodDropped`, by item in
 * `stats.floodDroppedBy`), and the item gets one UNAVAILABLE observation, quality BAD, reason OFA_MQTT_FLOOD per
 * second it drops (Sparkplug: one warning), so the operator sees it, while the other items keep flowing.
 * The limit counts messages as they reach us, not as they were published: a backlog the broker kept for us (after a
 * reconnect, or while the log was behind) arrives faster than it was sent and is held to the same limit; a device
 * whose backlog must be read whole keeps `max_messages_per_s: 0`, the default (no limit).
 *
 * We subscribe on every connection: a session the broker kept may hold the filters of an older configuration. MQTT 5
 * asks for Retain Handling 1 (retained messages only for a filter the session did not hold); MQTT 3.1.1 has no such
 * option, and a broker sends a topic's retained message again when we subscribe again after a reconnect.
 *
 * Assets named by a topic level: an item whose filter has the level `{asset}` (subscribed as `+`) belongs to the
 * asset that level's value names (`assets.uuid`, default `<uuid>.{asset}`, characters a uuid cannot hold as `_`).
 * The first message naming one declares it (the items with `{asset}`, referenced below the device, placed in the UNS
 * beside the device: its levels with `asset` = the uuid) and makes it AVAILABLE; it follows the connection as the
 * device does. At most `assets.max` are made: a message naming one more is acknowledged and dropped unread, counted
 * (reason `asset_limit`), and said in a warning (OFA_MQTT_ASSET_LIMIT) once per refused name, for the first
 * `REFUSED_NAMES_TOLD` names; the assets made keep flowing.
 *
 * Drops on purpose (a flood, the asset limit) are counted by reason in `metrics()`, which the supervisor serves on
 * `/metrics` as `ofa_connector_messages_dropped_total`.
 *
 * Commands: a method under `commands` publishes `{"method", "arguments", "correlation_id"}` (JSON) to its topic.
 * MQTT 5: with Response Topic (the entry's `reply_topic`, else `ofa/reply/<client id>`) and Correlation Data (the
 * command's correlation id); the answer is matched by Correlation Data. MQTT 3.1.1 has neither: with a
 * `reply_topic` the answer is matched by its JSON `correlation_id`; without one the command completes once the
 * broker acknowledged it. An answer `{"error": "..."}` fails the command (OFA_COMMAND_FAILED); any other answer is
 * the result (its JSON, or its text). No answer within `timeout_ms`: OFA_COMMAND_TIMEOUT.
 * A method whose topic has an `{asset}` level is a method of each asset named by a topic level, not of the device:
 * its command to such an asset is published with `{asset}` (in `topic`, and in `reply_topic` if there) replaced by
 * the level value that named the asset — the name its own topics use. A command is sent to one device or to none:
 * an asset no topic named since the connector was made, or one whose uuid two level values give (`a b` and `a_b`),
 * is refused (OFA_COMMAND_REJECTED) and nothing is published.
 */
import { randomUUID } from 'node:crypto'
import type {
  CommandRequest,
  Connector,
  ConnectorContext,
  ConnectorDeps,
  ConnectorMetrics,
} from '@openfactory/connectors'
import {
  ASSET_UUID_PATTERN,
  type Asset,
  isoTimestamp,
  type MethodContract,
  type Observation,
  OpenFactoryError,
  UNAVAILABLE,
} from '@openfactory/model'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import {
  ASSET_LEVEL,
  type MqttCommandEntry,
  type MqttDeviceConfig,
  type MqttItem,
  SESSION_EXPIRY_S,
} from './mqtt-config.ts'
import { readPayload } from './payload.ts'
import { SparkplugHost } from './sparkplug/host.ts'
import { assetFilter, levelsMatch } from './topic-filter.ts'

/** Packet ids are 16-bit: we remember at most this many acknowledged ones for the DUP check. */
const ACKED_IDS_KEPT = 65_536

/** Refused asset names we remember (each told once in a warning); past this many, refusals are only counted. */
const REFUSED_NAMES_TOLD = 100

/** `topic` with its `{asset}` level replaced by `name` (a level value read from a topic: no `/`, `+` or `#`). */
function withAssetLevel(topic: string, name: string): string {
  return topic
    .split('/')
    .map((level) => (level === ASSET_LEVEL ? name : level))
    .join('/')
}

/** 32-bit FNV-1a of a topic and a payload: tells a redelivered message from a new one that reuses its packet id. */
function fingerprint(topic: string, payload: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193)
  for (let i = 0; i < payload.length; i++) h = Math.imul(h ^ (payload[i] as number), 0x01000193)
  return h >>> 0
}

/**
 * The broker URL as errors and reasons show it: a password in its user info (mqtt.js reads one from there) becomes
 * `***`, since errors reach logs and the asset's `avail`.
 */
function urlForDisplay(url: string): string {
  try {
    const u = new URL(url)
    if (u.password === '') return url
    u.password = '***'
    return u.toString()
  } catch {
    // Not a URL mqtt.js could connect to either, yet it may hold user info: hide it whole.
    return url.replace(/\/\/[^/]*@/, '//***@')
  }
}

/**
 * What the broker's TLS alerts mean for the device file, added to OpenSSL's text (which names the alert only):
 * those a broker that requires a client certificate sends (Mosquitto's `require_certificate true`).
 */
const TLS_ALERT_HINTS: Readonly<Record<string, string>> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the broker requires a client certificate (tls.cert and tls.key)',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the broker does not trust the CA that signed our client certificate (tls.cert)',
}

/** An error of the connection as a reason: its message on one line, with what a TLS alert means. */
function errorText(err: Error): string {
  const hint = TLS_ALERT_HINTS[(err as NodeJS.ErrnoException).code ?? '']
  const text = err.message.trim()
  return hint ? `${hint}: ${text}` : text
}

interface PendingCommand {
  readonly resolve: (v: unknown) => void
  readonly reject: (e: Error) => void
  readonly timer: NodeJS.Timeout
}

/** Counters a test or the metrics endpoint reads. */
export interface MqttConnectorStats {
  /** Messages handed to the supervisor as observations. */
  received: number
  /** Redelivered QoS 1 messages skipped (already accepted before a reconnect). */
  duplicatesSkipped: number
  /** Messages whose payload could not be read (their item UNAVAILABLE, OFA_MQTT_PAYLOAD). */
  badPayloads: number
  /** Messages on a topic no item matches. */
  unmatched: number
  /** Messages dropped unread because their item (Sparkplug: the edge node) was past `max_messages_per_s`. */
  floodDropped: number
  /**
   * `floodDropped` by data item id (an item of an asset named by a topic level: `<asset uuid>/<id>`; Sparkplug: by
   * edge node id).
   */
  floodDroppedBy: Record<string, number>
  /** Messages dropped unread because they named an asset past `assets.max` (or a name no uuid can hold). */
  assetLimitDropped: number
}

/** The reason code of a drop for flooding. */
const FLOOD = 'OFA_MQTT_FLOOD'

/** One item's current one-second window. */
interface RateWindow {
  start: number
  count: number
  /** Whether this window's drop was already reported. */
  reported: boolean
}

export class MqttConnector implements Connector {
  readonly name: string
  readonly stats: MqttConnectorStats = {
    received: 0,
    duplicatesSkipped: 0,
    badPayloads: 0,
    unmatched: 0,
    floodDropped: 0,
    floodDroppedBy: {},
    assetLimitDropped: 0,
  }
  readonly #config: MqttDeviceConfig
  readonly #deps: ConnectorDeps
  #client: MqttClient | null = null
  #ctx: ConnectorContext | null = null
  #available = false
  /** The socket is corked until the event loop's check phase (`#holdAcks`). */
  #acksHeld = false
  /** The keep-alive timer of ours (`#keepAlive`), a message handled since its last tick, a wait for the log. */
  #liveness: NodeJS.Timeout | null = null
  #heard = false
  #holding = false
  /** Resolves `start` once connected and subscribed. */
  #onReady: (() => void) | null = null
  readonly #acked = new Map<number, number>()
  /**
   * Rate windows by data item id (an asset named by a topic level: by asset and item; Sparkplug: by edge node id): one
   * entry per configured item and asset, so bounded by the items times `assets.max`.
   */
  readonly #windows = new Map<string, RateWindow>()
  readonly #pending = new Map<string, PendingCommand>()
  /** Assets named by a topic level: level value → asset uuid (at most `assets.max` values, two may share a uuid). */
  readonly #named = new Map<string, string>()
  /** The uuids of `#named`, each once (two names may give one uuid). */
  readonly #namedUuids = new Set<string>()
  /** Each item's topic filter split into levels, in `#config.items` order. */
  #filterLevels: readonly (readonly string[])[] | undefined
  readonly #refusedNames = new Set<string>()
  readonly #deviceItems: readonly MqttItem[]
  readonly #assetItems: readonly MqttItem[]
  /** The reply topics we subscribe to: exact ones, and those with an `{asset}` level (as `+`, split into levels). */
  readonly #replyTopics: readonly string[]
  readonly #replyFilters: readonly (readonly string[])[]
  readonly #defaultReplyTopic: string
  /** The Sparkplug B host application, when the device is a Sparkplug edge node. */
  readonly sparkplug: SparkplugHost | null

  constructor(config: MqttDeviceConfig, deps: ConnectorDeps = {}) {
    this.#config = config
    this.#deps = deps
    this.name = config.uuid
    this.#deviceItems = config.items.filter((i) => i.assetLevel < 0)
    this.#assetItems = config.items.filter((i) => i.assetLevel >= 0)
    this.#defaultReplyTopic = `ofa/reply/${config.clientId}`
    const replies = new Set<string>()
    const replyFilters = new Set<string>()
    for (const c of config.commands) {
      const t = this.#replyTopicOf(c)
      if (!t) continue
      const { filter, level } = assetFilter(t)
      if (level >= 0) replyFilters.add(filter)
      else replies.add(t)
    }
    this.#replyTopics = [...replies]
    this.#replyFilters = [...replyFilters].map((f) => f.split('/'))
    this.sparkplug = config.sparkplug
      ? new SparkplugHost(config.sparkplug, config.uuid, config.uns, () => this.#now())
      : null
  }

  #replyTopicOf(c: MqttCommandEntry): string | undefined {
    return c.replyTopic ?? (this.#config.protocolVersion === 5 ? this.#defaultReplyTopic : undefined)
  }

  #now(): number {
    return this.#deps.now?.() ?? Date.now()
  }

  async start(ctx: ConnectorContext): Promise<void> {
    this.#ctx = ctx
    const c = this.#config
    // A Sparkplug edge node's assets are declared by its births.
    // Assets named by topic levels before a restart are declared again (the new context may not know them).
    if (!this.sparkplug)
      ctx.declareAssets([this.#asset(), ...[...new Set(this.#named.values())].map((u) => this.#namedAsset(u))])
    const t = this.#deps.timings
    const opts: IClientOptions = {
      clientId: c.clientId,
      protocolVersion: c.protocolVersion,
      clean: c.cleanSession,
      keepalive: c.keepaliveS,
      reconnectPeriod: t?.backoff?.initialMs ?? 1000,
      connectTimeout: t?.connectTimeoutMs ?? 5000,
      resubscribe: false,
      ...(c.username !== undefined ? { username: c.username } : {}),
      ...(c.password !== undefined ? { password: c.password } : {}),
      ...(c.ca !== undefined ? { ca: c.ca } : {}),
      ...(c.cert !== undefined && c.key !== undefined ? { cert: c.cert, key: c.key } : {}),
      rejectUnauthorized: c.rejectUnauthorized,
      // A clean session (a Sparkplug host's, always) sends no Session Expiry Interval: 0, the session ends with the
      // connection.
      ...(c.protocolVersion === 5 && !c.cleanSession
        ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } }
        : {}),
      ...(this.sparkplug ? { will: this.sparkplug.will() } : {}),
      // mqtt.js logs every step through `debug` (20 calls a message): 4 % of `ofa up`'s time at 20 000 messages/s
      // (bench/soak.ts) while nobody reads them. DEBUG set: its logger, as usual.
      ...(process.env.DEBUG ? {} : { log: () => {} }),
    }
    const client = mqtt.connect(c.url, opts)
    this.#client = client
    this.#keepAlive(client)
    client.handleMessage = (packet, callback) => {
      this.#heard = true
      this.#holdAcks(client)
      this.#onMessage(packet).then(
        () => callback(),
        (err: unknown) => callback(err as Error),
      )
    }
    client.on('connect', () => this.#subscribe(client))
    client.on('close', () => this.#down('the connection to the broker closed'))
    client.on('error', (err) => this.#down(errorText(err)))
    // Running once connected and subscribed (a message published after start resolves reaches us).
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        this.#onReady = null
        client.off('error', failed)
        ctx.signal.removeEventListener('abort', done)
        resolve()
      }
      const failed = (err: Error) => {
        this.#onReady = null
        client.off('error', failed)
        const why = `${urlForDisplay(c.url)}: ${errorText(err)}`
        // Refused before it was ever up (a certificate not trusted, a wrong password): the asset says why.
        if (!this.sparkplug && !ctx.signal.aborted) ctx.setAvailable(c.uuid, false, `OFA_MQTT_CONNECT: ${why}`)
        reject(new OpenFactoryError('OFA_MQTT_CONNECT', why, { cause: err, retryable: true }))
      }
      this.#onReady = done
      client.once('error', failed)
      ctx.signal.addEventListener('abort', done, { once: true })
    })
  }

  #subscribe(client: MqttClient): void {
    const c = this.#config
    const filters: Record<string, { qos: 0 | 1 | 2; rh?: number }> = {}
    // MQTT 5: Retain Handling 1, retained messages only for a subscription the session did not hold already.
    const opts = c.protocolVersion === 5 ? { qos: c.qos, rh: 1 } : { qos: c.qos }
    for (const item of c.items) filters[item.topic] = opts
    for (const t of this.#replyTopics) filters[t] = opts
    for (const f of this.#replyFilters) filters[f.join('/')] = opts
    for (const t of this.sparkplug?.filters() ?? []) filters[t] = opts
    if (Object.keys(filters).length === 0) {
      this.#up()
      return
    }
    client.subscribe(filters, (err, granted) => {
      if (err) {
        this.#down(`subscribe: ${err.message}`)
        return
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128)
      if (refused.length > 0) {
        this.#ctx?.logger.warn('the broker refused subscriptions', { topics: refused.map((g) => g.topic) })
      }
      this.#up()
    })
  }

  #up(): void {
    const ctx = this.#ctx
    if (this.#available || !ctx || ctx.signal.aborted) return
    this.#available = true
    if (this.sparkplug && this.#client) {
      // Sparkplug: availability follows the births and deaths; we announce ourselves (STATE) and ask for births.
      this.sparkplug.connected(this.#client, ctx).then(
        () => this.#onReady?.(),
        (err: unknown) => ctx.logger.warn('Sparkplug STATE or rebirth request not sent', { error: String(err) }),
      )
      return
    }
    ctx.setAvailable(this.#config.uuid, true)
    for (const uuid of new Set(this.#named.values())) ctx.setAvailable(uuid, true)
    this.#onReady?.()
  }

  #down(why: string): void {
    const ctx = this.#ctx
    if (!this.#available || !ctx || ctx.signal.aborted) return
    this.#available = false
    ctx.logger.warn(`OFA_MQTT_CONNECT: the connection to the broker is down: ${why}`, {
      url: urlForDisplay(this.#config.url),
    })
    if (this.sparkplug) {
      this.sparkplug.disconnected(ctx, `OFA_MQTT_CONNECT: ${why}`)
      return
    }
    const timestamp = isoTimestamp(this.#now())
    const unavailable = (uuid: string, items: readonly MqttItem[]) => {
      ctx.setAvailable(uuid, false, `OFA_MQTT_CONNECT: ${why}`)
      if (items.length === 0) return
      ctx.publish(
        uuid,
        items.map((d) => ({
          id: d.id,
          tag: d.tag,
          type: d.category,
          value: UNAVAILABLE,
          attributes: { timestamp, reason: 'OFA_MQTT_CONNECT' },
        })),
      )
    }
    unavailable(this.#config.uuid, this.#deviceItems)
    this.#markNamed(ctx, [...this.#namedUuids], (uuid) => unavailable(uuid, this.#assetItems)).catch((err: unknown) =>
      ctx.logger.warn('assets named by topic levels not all marked UNAVAILABLE', { error: String(err) }),
    )
  }

  /**
   * The assets named by topic levels marked UNAVAILABLE one after the other, waiting for the log while this connector
   * is congested: 10,000 assets × 21 items at once went past the supervisor's write buffer, whose oldest records —
   * observations the broker had been told were taken — were then dropped (bench/soak.ts). Stops when the connection
   * is back: what it did not reach keeps its values, and nothing marked can follow a fresh value.
   */
  async #markNamed(ctx: ConnectorContext, uuids: readonly string[], mark: (uuid: string) => void): Promise<void> {
    for (const uuid of uuids) {
      if (ctx.congested) await ctx.whenWritable()
      if (this.#available || ctx.signal.aborted) return
      mark(uuid)
    }
  }

  /**
   * The acknowledgements of a burst of messages in one write: mqtt.js handles each message on its own tick and writes
   * its PUBACK alone (one writev system call a message: 20-25 % of `ofa up`'s time at 20 000 messages/s in
   * bench/soak.ts). The socket stays corked until the event loop's check phase, so what was written meanwhile goes
   * out together; a PUBACK still leaves only after its observation was handed to the supervisor.
   */
  #holdAcks(client: MqttClient): void {
    const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined
    if (this.#acksHeld || typeof stream?.cork !== 'function') return
    this.#acksHeld = true
    stream.cork()
    setImmediate(() => {
      this.#acksHeld = false
      stream.uncork?.()
    })
  }

  /**
   * The uuid of the asset a topic level names, declared (and made AVAILABLE) the first time; undefined when the name
   * is refused: one asset more than `assets.max`, or a name that gives no valid uuid. A refusal is counted.
   */
  #assetNamed(ctx: ConnectorContext, name: string): string | undefined {
    const known = this.#named.get(name)
    if (known !== undefined) return known
    const spec = this.#config.assets
    if (!spec) return undefined
    const uuid = spec.uuid.replace('{asset}', name.replaceAll(/[^A-Za-z0-9_.:-]/g, '_'))
    const why =
      this.#named.size >= spec.max
        ? `already ${spec.max} assets named by topic levels (assets.max)`
        : ASSET_UUID_PATTERN.test(uuid)
          ? undefined
          : `${uuid} is not a valid uuid`
    if (why !== undefined) {
      this.stats.assetLimitDropped++
      if (!this.#refusedNames.has(name) && this.#refusedNames.size < REFUSED_NAMES_TOLD) {
        this.#refusedNames.add(name)
        ctx.logger.warn(
          `OFA_MQTT_ASSET_LIMIT: no asset for topic level ${JSON.stringify(name)}: ${why}; its messages are dropped`,
          {
            asset: uuid,
          },
        )
      }
      return undefined
    }
    // Two names may give one uuid (`a b` and `a_b`): the second is the same asset, declared once.
    const declared = this.#namedUuids.has(uuid)
    this.#named.set(name, uuid)
    if (declared) return uuid
    this.#namedUuids.add(uuid)
    ctx.declareAssets([this.#namedAsset(uuid)])
    if (this.#available) ctx.setAvailable(uuid, true)
    return uuid
  }

  async #onMessage(packet: IPublishPacket): Promise<void> {
    const ctx = this.#ctx
    if (!ctx) return
    const topic = packet.topic
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (packet.qos > 0 && packet.messageId !== undefined) {
      const fp = fingerprint(topic, payload)
      if (packet.dup && this.#acked.get(packet.messageId) === fp) {
        this.stats.duplicatesSkipped++
        return
      }
      this.#acked.delete(packet.messageId)
      this.#acked.set(packet.messageId, fp)
      if (this.#acked.size > ACKED_IDS_KEPT) this.#acked.delete(this.#acked.keys().next().value as number)
    }
    if (this.#isReplyTopic(topic) && this.#onReply(packet, payload)) return
    if (this.sparkplug?.owns(topic) && this.#client) {
      // Births, deaths and commands always pass: dropping a birth would leave the node's aliases unknown.
      const kind = topic.split('/')[2]
      const node = this.#config.sparkplug?.edgeNodeId ?? ''
      if ((kind === 'NDATA' || kind === 'DDATA') && !this.#admit(node)) {
        this.sparkplug.dropped()
        if (this.#firstDropOfWindow(node)) {
          ctx.logger.warn(`${FLOOD}: more than ${this.#config.maxMessagesPerS} data messages within a second`, {
            edgeNode: node,
            dropped: this.stats.floodDroppedBy[node],
          })
        }
        return
      }
      await this.sparkplug.message(this.#client, ctx, topic, payload)
      if (ctx.congested) await this.#whenWritable(ctx)
      return
    }
    const now = this.#now()
    const byAsset = new Map<string, Observation[]>()
    let matched = false
    const levels = topic.split('/')
    this.#filterLevels ??= this.#config.items.map((item) => item.topic.split('/'))
    const filters = this.#filterLevels
    for (let f = 0; f < filters.length; f++) {
      if (!levelsMatch(filters[f] as readonly string[], levels)) continue
      const item = this.#config.items[f] as MqttItem
      matched = true
      let uuid = this.#config.uuid
      let key = item.id
      if (item.assetLevel >= 0) {
        const named = this.#assetNamed(ctx, levels[item.assetLevel] as string)
        if (named === undefined) continue
        uuid = named
        key = `${named}/${item.id}`
      }
      let observations = byAsset.get(uuid)
      if (!observations) {
        observations = []
        byAsset.set(uuid, observations)
      }
      if (!this.#admit(key)) {
        if (this.#firstDropOfWindow(key)) {
          const why = `${FLOOD}: more than ${this.#config.maxMessagesPerS} messages within a second on ${topic} (max_messages_per_s); the rest of the second's are dropped`
          ctx.logger.warn(why, { topic, asset: uuid, item: item.id, dropped: this.stats.floodDroppedBy[key] })
          observations.push({
            id: item.id,
            tag: item.tag,
            type: item.category,
            value: UNAVAILABLE,
            attributes: { timestamp: isoTimestamp(now), quality: 'BAD', reason: why },
          })
        }
        continue
      }
      const o = readPayload(item, payload, now, this.#config.maxPayloadBytes)
      if (o.attributes.quality === 'BAD') {
        this.stats.badPayloads++
        ctx.logger.warn(String(o.attributes.reason), { topic, item: item.id })
      }
      observations.push(o)
    }
    if (!matched) {
      this.stats.unmatched++
      return
    }
    let published = false
    for (const [uuid, observations] of byAsset) {
      if (observations.length === 0) continue
      ctx.publish(uuid, observations)
      published = true
    }
    if (!published) return
    this.stats.received++
    if (ctx.congested) await this.#whenWritable(ctx)
  }

  /** Waits while the supervisor is congested: we read nothing meanwhile, so TCP holds the broker back. */
  async #whenWritable(ctx: ConnectorContext): Promise<void> {
    this.#holding = true
    try {
      await ctx.whenWritable()
    } finally {
      this.#holding = false
    }
  }

  /**
   * A subscriber's keep-alive that a busy connection does not break. mqtt.js takes only a PINGRESP (or an ack of a
   * message of ours) as a sign of life, and a PINGRESP comes in line behind the messages the broker sent before it:
   * behind a backlog handled at the log's pace, or all of them while we wait for the log, it came later than 1.5
   * keep-alive intervals, mqtt.js closed the connection, and the reconnect marked every item UNAVAILABLE — 210 000
   * records at once for 10 000 assets of 20 items, past the supervisor's buffer, whose oldest observations were then
   * dropped (bench/soak.ts). So each half interval, when a message came since the last tick (the broker is alive) or we
   * are holding the broker back ourselves, we send a PINGREQ (the broker hears from us, at QoS 0 too) and restart
   * mqtt.js's clock; otherwise mqtt.js's own keep-alive judges, as before.
   */
  #keepAlive(client: MqttClient): void {
    if (this.#liveness) clearInterval(this.#liveness)
    this.#liveness = null
    const everyMs = this.#config.keepaliveS * 500
    if (everyMs === 0) return
    this.#liveness = setInterval(() => {
      if (!client.connected || !(this.#heard || this.#holding)) return
      this.#heard = false
      client.sendPing()
      client.reschedulePing(true)
    }, everyMs)
    this.#liveness.unref()
  }

  /**
   * Whether `key` may take one more message in the current second; a drop is counted here. Fixed windows, not a
   * sliding one: a count and a start per item is all the state, and a burst straddling two windows gets at most twice
   * the limit, which is still bounded.
   */
  #admit(key: string): boolean {
    const max = this.#config.maxMessagesPerS
    if (max === 0) return true
    const now = this.#now()
    let w = this.#windows.get(key)
    if (!w || now - w.start >= 1000 || now < w.start) {
      w = { start: now, count: 0, reported: false }
      this.#windows.set(key, w)
    }
    if (w.count < max) {
      w.count++
      return true
    }
    this.stats.floodDropped++
    this.stats.floodDroppedBy[key] = (this.stats.floodDroppedBy[key] ?? 0) + 1
    return false
  }

  /** True once per window: the first drop of `key` in it, the one the operator is told about. */
  #firstDropOfWindow(key: string): boolean {
    const w = this.#windows.get(key)
    if (!w || w.reported) return false
    w.reported = true
    return true
  }

  #isReplyTopic(topic: string): boolean {
    if (this.#replyTopics.includes(topic)) return true
    if (this.#replyFilters.length === 0) return false
    const levels = topic.split('/')
    return this.#replyFilters.some((f) => levelsMatch(f, levels))
  }

  /** An answer to one of our commands; true when it was one (else the message is read as data too). */
  #onReply(packet: IPublishPacket, payload: Buffer): boolean {
    let id: string | undefined
    const cd = packet.properties?.correlationData
    if (cd) id = Buffer.from(cd).toString('utf8')
    let body: unknown
    const text = payload.toString('utf8')
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    if (id === undefined && body !== null && typeof body === 'object' && 'correlation_id' in body) {
      id = String((body as { correlation_id: unknown }).correlation_id)
    }
    const pending = id === undefined ? undefined : this.#pending.get(id)
    if (!pending || id === undefined) return false
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    if (body !== null && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') {
      pending.reject(new OpenFactoryError('OFA_COMMAND_FAILED', (body as { error: string }).error))
    } else {
      pending.resolve(body)
    }
    return true
  }

  async execute(req: CommandRequest): Promise<unknown> {
    const client = this.#client
    if (this.sparkplug && client && this.#ctx) return this.sparkplug.execute(client, this.#ctx, req)
    const entry = this.#config.commands.find((c) => c.name === req.method)
    if (!entry) throw new OpenFactoryError('OFA_COMMAND_REJECTED', `no method ${req.method}`)
    const { topic, replyTopic } = this.#addressOf(entry, req.assetUuid)
    if (!client) throw new OpenFactoryError('OFA_COMMAND_FAILED', 'the connector is not running')
    const correlationId = req.envelope.header.correlation_id || randomUUID()
    const body = JSON.stringify({ method: req.method, arguments: req.arguments, correlation_id: correlationId })
    const properties =
      this.#config.protocolVersion === 5 && replyTopic
        ? { properties: { responseTopic: replyTopic, correlationData: Buffer.from(correlationId) } }
        : {}
    const answer = replyTopic
      ? new Promise<unknown>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.#pending.delete(correlationId)
            reject(new OpenFactoryError('OFA_COMMAND_TIMEOUT', `${req.method}: no answer within ${entry.timeoutMs} ms`))
          }, entry.timeoutMs)
          this.#pending.set(correlationId, { resolve, reject, timer })
        })
      : undefined
    try {
      await client.publishAsync(topic, body, { qos: this.#config.qos, ...properties })
    } catch (err) {
      const p = this.#pending.get(correlationId)
      if (p) clearTimeout(p.timer)
      this.#pending.delete(correlationId)
      throw new OpenFactoryError('OFA_COMMAND_FAILED', `${req.method}: ${(err as Error).message}`, { cause: err })
    }
    return answer ? await answer : { published: topic }
  }

  /**
   * Where a command of `entry` to the asset `uuid` is published, and where its answer comes: for a method of the
   * assets named by topic levels, `{asset}` replaced by the one level value that named `uuid`. Refused
   * (OFA_COMMAND_REJECTED) when the method is not that asset's, when no topic named the asset since this connector
   * was made, or when two level values give its uuid: we cannot tell which device is meant, so we publish to neither.
   */
  #addressOf(entry: MqttCommandEntry, uuid: string): { topic: string; replyTopic: string | undefined } {
    const device = this.#config.uuid
    const reply = this.#replyTopicOf(entry)
    const refuse = (why: string) => new OpenFactoryError('OFA_COMMAND_REJECTED', `${entry.name} to ${uuid}: ${why}`)
    if (entry.assetLevel < 0) {
      if (uuid !== device) throw refuse(`a method of ${device} only`)
      return { topic: entry.topic, replyTopic: reply }
    }
    if (uuid === device) {
      throw refuse(`a method of the assets named by the ${ASSET_LEVEL} level of the topics, not of ${device} itself`)
    }
    const names: string[] = []
    if (this.#namedUuids.has(uuid)) for (const [name, u] of this.#named) if (u === uuid) names.push(name)
    if (names.length === 0) {
      throw refuse(
        `no asset of ${device} has this uuid: no topic has named it since the connector started (an asset named by a topic level is known from its first message)`,
      )
    }
    if (names.length > 1) {
      throw refuse(
        `the topic level values ${names.map((n) => JSON.stringify(n)).join(' and ')} both give this uuid: not sent, the device meant is unclear`,
      )
    }
    const name = names[0] as string
    return { topic: withAssetLevel(entry.topic, name), replyTopic: reply && withAssetLevel(reply, name) }
  }

  async stop(): Promise<void> {
    const client = this.#client
    this.#client = null
    if (this.#liveness) clearInterval(this.#liveness)
    this.#liveness = null
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      p.reject(new OpenFactoryError('OFA_COMMAND_FAILED', 'the connector stopped'))
      this.#pending.delete(id)
    }
    if (client && this.sparkplug && client.connected) {
      await this.sparkplug.stopping(client).catch(() => undefined)
    }
    if (client) await client.endAsync(false)
    this.#ctx = null
    this.#available = false
  }

  metrics(): ConnectorMetrics {
    const dropped: Record<string, number> = {}
    if (this.stats.floodDropped > 0) dropped.flood = this.stats.floodDropped
    if (this.stats.assetLimitDropped > 0) dropped.asset_limit = this.stats.assetLimitDropped
    return { messagesDropped: dropped }
  }

  /** Commands as method contracts: the device's (`named` false) or those of the assets named by topic levels. */
  #methods(named: boolean): MethodContract[] {
    return this.#config.commands
      .filter((m) => named === m.assetLevel >= 0)
      .map((m) => ({
        name: m.name,
        description: m.description,
        arguments: m.arguments.map((name) => ({ name, required: true })),
      }))
  }

  /**
   * An asset named by a topic level: the `{asset}` items and the methods whose topic has `{asset}`, below the device,
   * beside it in the UNS.
   */
  #namedAsset(uuid: string): Asset {
    const uns = this.#config.uns
    const levels = uns ? { ...uns.levels, asset: uuid } : undefined
    return {
      uuid,
      type: 'Device',
      ...(uns && levels
        ? { uns: { levels, unsId: uns.unsId.slice(0, uns.unsId.length - (uns.levels.asset ?? '').length) + uuid } }
        : {}),
      referencesAbove: [this.#config.uuid],
      referencesBelow: [],
      dataItems: this.#assetItems.map((i) => ({
        id: i.id,
        category: i.category,
        tag: i.tag,
        ...(i.units ? { units: i.units } : {}),
      })),
      methods: this.#methods(true),
    }
  }

  #asset(): Asset {
    const c = this.#config
    const methods = this.#methods(false)
    return {
      uuid: c.uuid,
      type: 'Device',
      ...(c.uns ? { uns: c.uns } : {}),
      referencesAbove: [],
      referencesBelow: [],
      dataItems: this.#deviceItems.map((i) => ({
        id: i.id,
        category: i.category,
        tag: i.tag,
        ...(i.units ? { units: i.units } : {}),
      })),
      methods,
    }
  }
}
