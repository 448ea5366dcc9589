/**
 * The MQTT publish app (`mqtt_publish:` block): selected observations published to an MQTT broker under a topic
 * tree shaped like the Unified Namespace, the way MES systems and UNS dashboards read a plant:
 *
 *   [<topic_prefix>/]<level>/<level>/.../<asset>/<item>     e.g. Demofactory/Machining/WC001/ST01/cnc-1/Temp
 *
 * — the asset's UNS level values in template order (its placement in the factory's files), then the item id; an
 * asset without a placement publishes under its uuid. A level value's `/`, `+` and `#` become `_` (a topic level
 * cannot hold them). The payload is JSON: `{"value", "timestamp", "quality", "type", "tag", "units"?, "asset",
 * "uns"?}` (`quality` as the observation carries it; `GOOD`, or `BAD` for UNAVAILABLE, when it carries none).
 * `qos` (default 1) and `retain` (default true: a subscriber gets the last value of every topic at once) apply to
 * every message.
 *
 * Connection options are the MQTT connector's (url, protocol_version, client_id, username, password or
 * password_env, tls.ca, tls.reject_unauthorized, keepalive_s). It reads `ofa_assets` in the consumer group
 * `ofa-mqtt-publish-<app>` and commits a batch once the broker has acknowledged every message of it (QoS 1/2;
 * QoS 0 once handed to the socket): at least once across restarts and broker outages (mqtt.js keeps unacknowledged
 * messages and sends them again after a reconnect), in log order per asset.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import {
  type AppKindDeps,
  appAsset,
  appConfigError,
  type Connector,
  type ConnectorContext,
  type ConnectorMetrics,
  collectProblems,
} from '@openfactory/connectors'
import { type AppConfig, type OpenFactoryError as OfaError, OpenFactoryError, TOPICS } from '@openfactory/model'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { type ObservationSelectionConfig, ObservationSelector, type Selected } from '../selection.ts'

/** Records read per batch (and so messages in flight at most). */
export const MQTT_PUBLISH_BATCH = 1000

export interface MqttPublishConfig {
  readonly url: string
  readonly protocolVersion: 4 | 5
  readonly clientId: string
  readonly username?: string
  readonly password?: string
  readonly passwordEnv?: string
  readonly ca?: string
  readonly rejectUnauthorized: boolean
  readonly qos: 0 | 1 | 2
  readonly retain: boolean
  readonly keepaliveS: number
  readonly topicPrefix?: string
  readonly observations: ObservationSelectionConfig
}

export function parseMqttPublish(app: AppConfig): MqttPublishConfig {
  const b = app.spec.mqtt_publish
  if (!b) throw appConfigError(app, 'mqtt_publish', 'is missing')
  const problems: OfaError[] = []
  if (b.password !== undefined && b.password_env !== undefined) {
    problems.push(appConfigError(app, 'mqtt_publish.password_env', 'give password or password_env, not both'))
  }
  const o = b.observations
  if (o.assets === undefined && o.items === undefined && o.uns === undefined) {
    problems.push(appConfigError(app, 'mqtt_publish.observations', 'selects nothing: give assets, items or uns'))
  }
  let ca: string | undefined
  if (b.tls?.ca !== undefined) {
    try {
      ca = readFileSync(resolve(dirname(app.file), b.tls.ca), 'utf8')
    } catch (err) {
      problems.push(
        appConfigError(app, 'mqtt_publish.tls.ca', `cannot read ${b.tls.ca}: ${(err as NodeJS.ErrnoException).code}`),
      )
    }
  }
  if (problems.length > 0) throw collectProblems(problems)
  return {
    url: b.url,
    protocolVersion: b.protocol_version ?? 5,
    clientId: b.client_id ?? `ofa-${app.uuid}`.slice(0, 128),
    ...(b.username !== undefined ? { username: b.username } : {}),
    ...(b.password !== undefined ? { password: b.password } : {}),
    ...(b.password_env !== undefined ? { passwordEnv: b.password_env } : {}),
    ...(ca !== undefined ? { ca } : {}),
    rejectUnauthorized: b.tls?.reject_unauthorized ?? true,
    qos: b.qos ?? 1,
    retain: b.retain ?? true,
    keepaliveS: b.keepalive_s ?? 30,
    ...(b.topic_prefix !== undefined ? { topicPrefix: b.topic_prefix } : {}),
    observations: o,
  }
}

/** A topic level from a level value: `/`, `+`, `#` (and NUL) are not allowed in one. */
function level(v: string): string {
  return v.replace(/[/+#\u0000]/g, '_')
}

/** The topic of one selected observation. */
export function unsTopic(s: Selected, prefix?: string): string {
  const levels = s.uns ? Object.values(s.uns.levels).map(level) : [level(s.asset)]
  return [...(prefix ? [prefix] : []), ...levels, level(s.observation.id)].join('/')
}

/** The JSON payload of one selected observation. */
export function mqttPayload(s: Selected): string {
  const o = s.observation
  const a = o.attributes
  const quality = typeof a.quality === 'string' ? a.quality : o.value === 'UNAVAILABLE' ? 'BAD' : 'GOOD'
  return JSON.stringify({
    value: o.value,
    timestamp: a.timestamp,
    quality,
    type: o.type,
    tag: o.tag,
    ...(typeof a.units === 'string' ? { units: a.units } : {}),
    ...(typeof a.reason === 'string' ? { reason: a.reason } : {}),
    asset: s.asset,
    ...(s.uns ? { uns: s.uns.unsId } : {}),
  })
}

export class MqttPublishApp implements Connector {
  readonly name: string
  readonly #app: AppConfig
  readonly #config: MqttPublishConfig
  readonly #deps: AppKindDeps
  readonly #selector: ObservationSelector
  #client: MqttClient | null = null
  #running: Promise<void> | null = null
  #stop = new AbortController()
  #published = 0

  constructor(app: AppConfig, config: MqttPublishConfig, deps: AppKindDeps) {
    this.name = app.uuid
    this.#app = app
    this.#config = config
    this.#deps = deps
    this.#selector = new ObservationSelector(config.observations, deps.factory, app.uuid)
  }

  metrics(): ConnectorMetrics {
    return {
      samples: [
        {
          name: 'ofa_mqtt_publish_messages_total',
          help: 'Messages the mqtt_publish app had acknowledged by its broker, by app.',
          type: 'counter',
          labels: { app: this.name },
          value: this.#published,
        },
      ],
    }
  }

  async start(ctx: ConnectorContext): Promise<void> {
    const c = this.#config
    ctx.declareAssets([appAsset(this.#app)])
    let password = c.password
    if (c.passwordEnv !== undefined) {
      password = this.#deps.env[c.passwordEnv]
      if (!password) {
        throw new OpenFactoryError('OFA_MQTT_PUBLISH', `mqtt_publish: password_env ${c.passwordEnv} is not set`)
      }
    }
    const opts: IClientOptions = {
      protocolVersion: c.protocolVersion,
      clientId: c.clientId,
      keepalive: c.keepaliveS,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      clean: true,
      ...(c.username !== undefined ? { username: c.username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(c.ca !== undefined ? { ca: c.ca } : {}),
      rejectUnauthorized: c.rejectUnauthorized,
    }
    const client = mqtt.connect(c.url, opts)
    this.#client = client
    try {
      await new Promise<void>((ok, fail) => {
        client.once('connect', () => ok())
        client.once('error', (err) => fail(err))
        ctx.signal.addEventListener('abort', () => fail(new Error('stopped')), { once: true })
      })
    } catch (err) {
      throw new OpenFactoryError(
        'OFA_MQTT_PUBLISH',
        `mqtt_publish: cannot connect to ${c.url}: ${(err as Error).message}`,
        {
          cause: err,
          retryable: true,
        },
      )
    }
    client.on('offline', () => ctx.setAvailable(this.name, false, `OFA_MQTT_PUBLISH: broker ${c.url} unreachable`))
    client.on('connect', () => ctx.setAvailable(this.name, true))
    client.on('error', (err) => ctx.logger.warn('mqtt_publish: broker error', { error: err.message }))
    ctx.setAvailable(this.name, true)
    this.#stop = new AbortController()
    const signal = AbortSignal.any([ctx.signal, this.#stop.signal])
    this.#running = this.#run(client, signal).catch((err: unknown) => {
      if (!signal.aborted) ctx.fail(err instanceof Error ? err : new Error(String(err)))
    })
  }

  async #run(client: MqttClient, signal: AbortSignal): Promise<void> {
    const c = this.#config
    const consumer = this.#deps.eventLog.consumer({
      group: `ofa-mqtt-publish-${this.name}`,
      topics: [TOPICS.assets],
      maxRecords: MQTT_PUBLISH_BATCH,
      signal,
    })
    try {
      for await (const batch of consumer) {
        const sends: Promise<unknown>[] = []
        for (const r of batch) {
          const s = this.#selector.select(r.key, r.value)
          if (!s) continue
          sends.push(client.publishAsync(unsTopic(s, c.topicPrefix), mqttPayload(s), { qos: c.qos, retain: c.retain }))
        }
        // mqtt.js sends in order and keeps QoS 1/2 messages across reconnects: every one resolves once acknowledged.
        await Promise.all(sends)
        if (signal.aborted) return
        this.#published += sends.length
        await consumer.commit()
      }
    } finally {
      await consumer.close().catch(() => {})
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort()
    const client = this.#client
    this.#client = null
    // Ends the client first: publishes waiting for an acknowledgement reject, and the loop ends uncommitted.
    // Its events no longer report to the supervisor, which is stopping this app.
    client?.removeAllListeners('offline').removeAllListeners('connect')
    await client?.endAsync(true).catch(() => {})
    await this.#running
    this.#running = null
  }
}
