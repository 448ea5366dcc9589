/**
 * A `connector.type: mqtt` device, typed: what `parse` in mqtt-spec.ts returns and the connector runs on. The block's
 * shape is model's schema (device-schema.ts); here it is typed and given its defaults.
 */
import type { UnsPlacement, Where } from '@openfactory/model'
import type { SparkplugConfig } from './sparkplug/host.ts'

/** QoS of our subscriptions unless the file says otherwise: at least once, kept by the broker across a reconnect. */
export const DEFAULT_QOS = 1
/** A payload longer than this (bytes) is not read: its item gets UNAVAILABLE with `OFA_MQTT_PAYLOAD`. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
/**
 * Messages one data item accepts within a second (a Sparkplug edge node: its NDATA/DDATA, all devices together); the
 * rest of that second's are dropped unread and counted, so one flooding publisher cannot crowd out the other topics
 * of the connection. 0: no limit — the default: a limit also drops the backlog a persistent session's broker kept for
 * us during an outage (it arrives at once), which is accepted data; a plant sets a limit where a flood is likelier
 * than a backlog it must read whole.
 */
export const DEFAULT_MAX_MESSAGES_PER_S = 0
/**
 * Assets one device may create from the `{asset}` level of its topics (`assets.max`): a publisher inventing topic
 * levels must not grow the registry and our memory without bound. A message naming one more asset is dropped unread
 * and counted (`OFA_MQTT_ASSET_LIMIT`); the assets already made keep flowing.
 */
export const DEFAULT_MAX_ASSETS = 1000
/** The uuid of an asset named by a topic level, unless `assets.uuid` says otherwise (`{asset}`: the level's value). */
export const DEFAULT_ASSET_UUID = '<uuid>.{asset}'
/** The topic filter level whose value names the asset (matched like `+`). */
export const ASSET_LEVEL = '{asset}'
/** How long a command waits for the device's answer (ms). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000
/** MQTT 5 Session Expiry Interval we ask for (s): the broker keeps our session and its queue a week while we are away. */
export const SESSION_EXPIRY_S = 7 * 24 * 3600

export interface MqttItem {
  /** The data item id (the key under `topics`). */
  readonly id: string
  /** The topic filter (may hold `+` and `#`). */
  readonly topic: string
  readonly tag: string
  readonly category: 'Samples' | 'Events'
  readonly payload: 'json' | 'raw'
  /** Field path into a JSON payload, split (`data.values[0]` → ['data', 'values', 0]). */
  readonly path: readonly (string | number)[]
  readonly units?: string
  /** The index of the filter's `{asset}` level: the item belongs to the asset that level names (-1: the device's). */
  readonly assetLevel: number
  readonly where: Where
}

/** Assets named by a topic level (items whose filter has `{asset}`). */
export interface MqttAssetsConfig {
  /** The uuid template, `{asset}` once: e.g. `DHT-{asset}`. */
  readonly uuid: string
  readonly max: number
}

export interface MqttCommandEntry {
  /** The method name (the key under `commands`). */
  readonly name: string
  /** The topic it is published to; may hold an `{asset}` level (see `assetLevel`). */
  readonly topic: string
  /**
   * The index of the topic's `{asset}` level: the method belongs to each asset named by a topic level, and its command
   * is published with that level replaced by the asset's name (the level value its topics used). -1: the device's.
   */
  readonly assetLevel: number
  /**
   * MQTT 3.1.1: where the device answers (MQTT 5: the response topic; default ours). May hold `{asset}` when `topic`
   * does: replaced the same way, subscribed as `+`.
   */
  readonly replyTopic?: string
  readonly description: string
  readonly arguments: readonly string[]
  readonly timeoutMs: number
}

export interface MqttDeviceConfig {
  readonly uuid: string
  readonly uns?: UnsPlacement
  readonly url: string
  readonly protocolVersion: 4 | 5
  readonly clientId: string
  readonly username?: string
  readonly password?: string
  /** A CA file's content (PEM), for `mqtts://` brokers with a private CA. */
  readonly ca?: string
  /** Mutual TLS: our client certificate (PEM, the file's content; with `key`, or neither). */
  readonly cert?: string
  /** Mutual TLS: the client certificate's private key (PEM, unencrypted; the file's content). */
  readonly key?: string
  readonly rejectUnauthorized: boolean
  readonly qos: 0 | 1 | 2
  readonly cleanSession: boolean
  readonly keepaliveS: number
  readonly maxPayloadBytes: number
  /** Messages per data item (Sparkplug: per edge node) and second; 0 no limit. */
  readonly maxMessagesPerS: number
  readonly items: readonly MqttItem[]
  /** Present when some item's filter has an `{asset}` level. */
  readonly assets?: MqttAssetsConfig
  readonly commands: readonly MqttCommandEntry[]
  /** Sparkplug B host application for one edge node (then `items` and `commands` are empty). */
  readonly sparkplug?: SparkplugConfig
}
