/**
 * `connector.type: mqtt` in the connector registry (ours: the reference OpenFactory has no MQTT connector). Model's
 * schema checks the block's shape; `parse` adds what it cannot know (topic filter syntax, the TLS files, reserved
 * item ids, `{asset}` in command topics) and gives every entry its defaults.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import {
  type ConnectorDeps,
  collectProblems,
  connectorConfigError,
  connectorPath,
  fieldsOfSchema,
  modelConnectorSchema,
  registerConnector,
} from '@openfactory/connectors'
import {
  type DeviceConfig,
  type MqttConnectorConfig as MqttBlock,
  type OpenFactoryError,
  RESERVED_ATTRIBUTE_IDS,
} from '@openfactory/model'
import {
  ASSET_LEVEL,
  DEFAULT_ASSET_UUID,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_MAX_ASSETS,
  DEFAULT_MAX_MESSAGES_PER_S,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_QOS,
  type MqttCommandEntry,
  type MqttDeviceConfig,
  type MqttItem,
} from './mqtt-config.ts'
import { MqttConnector } from './mqtt-connector.ts'
import { splitPath } from './payload.ts'
import { assetFilter, assetLevelProblem, filterProblem } from './topic-filter.ts'

/** URL schemes that connect over TLS (mqtt.js): the only ones a client certificate is sent on. */
const TLS_SCHEMES = ['mqtts:', 'ssl:', 'wss:']

/**
 * The PEM files of `tls` (`ca`, and the client certificate `cert` with its private `key` for mutual TLS), read
 * relative to the device file. A file that cannot be read, a certificate or key that is not PEM (an encrypted key
 * among them: there is no passphrase field), a key that is not the certificate's, one of `cert`/`key` without the
 * other, or a client certificate on a URL without TLS (it would not be sent, and the connection not encrypted) is a
 * problem naming its field. No problem quotes a file's content.
 */
function readTlsFiles(
  device: DeviceConfig,
  block: MqttBlock,
  problems: OpenFactoryError[],
): { ca?: string; cert?: string; key?: string } {
  const read = (field: 'ca' | 'cert' | 'key'): string | undefined => {
    const file = block.tls?.[field]
    if (file === undefined) return undefined
    try {
      return readFileSync(resolve(dirname(device.file), file), 'utf8')
    } catch (err) {
      problems.push(
        connectorConfigError(device, `tls.${field}`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`),
      )
      return undefined
    }
  }
  const ca = read('ca')
  const cert = read('cert')
  const key = read('key')
  const certFile = block.tls?.cert
  const keyFile = block.tls?.key
  if (keyFile !== undefined && certFile === undefined) {
    problems.push(connectorConfigError(device, 'tls.key', 'a client key needs its certificate: tls.cert is missing'))
  }
  if (certFile !== undefined && keyFile === undefined) {
    problems.push(
      connectorConfigError(device, 'tls.cert', 'a client certificate needs its private key: tls.key is missing'),
    )
  }
  if (certFile !== undefined && !TLS_SCHEMES.some((s) => block.url.startsWith(`${s}//`))) {
    problems.push(
      connectorConfigError(device, 'tls.cert', 'a client certificate needs a TLS URL (mqtts://, ssl:// or wss://)'),
    )
  }
  let x509: X509Certificate | undefined
  if (cert !== undefined) {
    try {
      x509 = new X509Certificate(cert)
    } catch {
      problems.push(connectorConfigError(device, 'tls.cert', `${certFile} holds no PEM certificate`))
    }
  }
  let privateKey: KeyObject | undefined
  if (key !== undefined) {
    try {
      privateKey = createPrivateKey(key)
    } catch {
      // PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) or OpenSSL's older PEM encryption header.
      const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key)
      problems.push(
        connectorConfigError(
          device,
          'tls.key',
          encrypted
            ? `${keyFile} is encrypted: give the key unencrypted (readable by the connector's user only)`
            : `${keyFile} holds no PEM private key`,
        ),
      )
    }
  }
  if (x509 && privateKey && !x509.checkPrivateKey(privateKey)) {
    problems.push(connectorConfigError(device, 'tls.key', `${keyFile} is not the private key of ${certFile}`))
  }
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
  }
}

export function parseMqttDevice(device: DeviceConfig): MqttDeviceConfig {
  const block = device.connector as MqttBlock
  const problems: OpenFactoryError[] = []
  const base = connectorPath(device)
  const items: MqttItem[] = []
  for (const [id, t] of Object.entries(block.topics ?? {})) {
    if (RESERVED_ATTRIBUTE_IDS.includes(id)) {
      problems.push(connectorConfigError(device, `topics.${id}`, `${id} is a reserved attribute id`))
    }
    const { filter, level } = assetFilter(t.topic)
    const why = assetLevelProblem(t.topic) ?? filterProblem(filter)
    if (why) problems.push(connectorConfigError(device, `topics.${id}.topic`, `topic filter ${t.topic} ${why}`))
    items.push({
      id,
      topic: filter,
      assetLevel: level,
      tag: t.tag,
      category: t.type ?? 'Samples',
      payload: t.payload ?? 'json',
      path: splitPath(t.path),
      ...(t.units ? { units: t.units } : {}),
      where: { ...device.where, path: `${base}.topics.${id}` },
    })
    if (t.path !== undefined && t.payload === 'raw') {
      problems.push(connectorConfigError(device, `topics.${id}.path`, 'a field path needs payload: json'))
    }
  }
  if (block.sparkplug && (block.topics !== undefined || block.commands !== undefined)) {
    problems.push(
      connectorConfigError(device, 'sparkplug', 'a Sparkplug edge node brings its own metrics: no topics or commands'),
    )
  }
  if (block.sparkplug && block.clean_session === false) {
    problems.push(
      connectorConfigError(
        device,
        'clean_session',
        'a Sparkplug Host Application connects with a clean session (Sparkplug 3.0, Host Application Session Establishment): leave clean_session out',
      ),
    )
  }
  const byLevel = items.some((i) => i.assetLevel >= 0)
  if (block.assets && !byLevel) {
    problems.push(connectorConfigError(device, 'assets', `no topic filter has an ${ASSET_LEVEL} level to name assets`))
  }
  const assetUuid = (block.assets?.uuid ?? DEFAULT_ASSET_UUID).replace('<uuid>', device.uuid)
  const commands = Object.entries(block.commands ?? {}).map(([name, c]): MqttCommandEntry => {
    const level = c.topic.split('/').indexOf(ASSET_LEVEL)
    const why = assetLevelProblem(c.topic)
    if (why) problems.push(connectorConfigError(device, `commands.${name}.topic`, `topic ${c.topic} ${why}`))
    else if (level >= 0 && !byLevel) {
      problems.push(
        connectorConfigError(
          device,
          `commands.${name}.topic`,
          `${ASSET_LEVEL} names an asset of the topics' ${ASSET_LEVEL} level, and no topic filter has one`,
        ),
      )
    }
    if (c.reply_topic !== undefined) {
      const replyWhy = assetLevelProblem(c.reply_topic)
      if (replyWhy) {
        problems.push(
          connectorConfigError(device, `commands.${name}.reply_topic`, `topic ${c.reply_topic} ${replyWhy}`),
        )
      } else if (c.reply_topic.split('/').includes(ASSET_LEVEL) && !c.topic.split('/').includes(ASSET_LEVEL)) {
        problems.push(
          connectorConfigError(
            device,
            `commands.${name}.reply_topic`,
            `has ${ASSET_LEVEL} but the command topic has none: the device's own command names no asset`,
          ),
        )
      }
    }
    return {
      name,
      topic: c.topic,
      assetLevel: level,
      ...(c.reply_topic !== undefined ? { replyTopic: c.reply_topic } : {}),
      description: c.description ?? '',
      arguments: c.arguments ?? [],
      timeoutMs: c.timeout_ms ?? DEFAULT_COMMAND_TIMEOUT_MS,
    }
  })
  const tls = readTlsFiles(device, block, problems)
  if (problems.length > 0) throw collectProblems(problems)
  return {
    uuid: device.uuid,
    ...(device.uns ? { uns: device.uns } : {}),
    url: block.url,
    protocolVersion: block.protocol_version ?? 5,
    clientId: block.client_id ?? `ofa-${device.uuid}`.slice(0, 128),
    ...(block.username !== undefined ? { username: block.username } : {}),
    ...(block.password !== undefined ? { password: block.password } : {}),
    ...tls,
    rejectUnauthorized: block.tls?.reject_unauthorized ?? true,
    qos: block.qos ?? DEFAULT_QOS,
    // Sparkplug 3.0: a Host Application connects with Clean Session 1 (MQTT 5: Clean Start 1, no session expiry).
    cleanSession: block.sparkplug ? true : (block.clean_session ?? false),
    keepaliveS: block.keepalive_s ?? 30,
    maxPayloadBytes: block.max_payload_bytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    maxMessagesPerS: block.max_messages_per_s ?? DEFAULT_MAX_MESSAGES_PER_S,
    items,
    ...(byLevel ? { assets: { uuid: assetUuid, max: block.assets?.max ?? DEFAULT_MAX_ASSETS } } : {}),
    commands,
    ...(block.sparkplug
      ? {
          sparkplug: {
            groupId: block.sparkplug.group_id,
            edgeNodeId: block.sparkplug.edge_node_id,
            hostId: block.sparkplug.host_id ?? `ofa-${device.uuid}`,
          },
        }
      : {}),
  }
}

export const mqttSpec = registerConnector<MqttDeviceConfig, MqttConnector>({
  type: 'mqtt',
  summary:
    'An MQTT broker (MQTT 3.1.1 or 5): topic filters mapped to data items, payloads as raw text, JSON fields or {timestamp, value}; QoS 1 on a persistent session by default; commands published to a topic, answered on a response topic; or a Sparkplug B edge node, read as a Host Application.',
  fields: fieldsOfSchema(modelConnectorSchema('mqtt'), {
    type: { description: 'the connector type' },
    url: { description: 'the broker (mqtts:// and ssl:// use TLS)' },
    protocol_version: { description: 'the MQTT version spoken', default: '5' },
    client_id: { description: 'our client id: the broker keeps our session under it', default: 'ofa-<uuid>' },
    username: { description: 'user name for the broker' },
    password: { description: 'its password; write it as $' + '{VARIABLE}, set in the environment or .ofaenv' },
    tls: { description: 'TLS settings for mqtts:// brokers' },
    'tls.ca': { description: 'a PEM file of the CA that signed the broker certificate (relative to this file)' },
    'tls.cert': {
      description:
        'mutual TLS: a PEM file of our client certificate, sent to a broker that asks for one (relative to this file; with tls.key)',
    },
    'tls.key': {
      description: 'mutual TLS: a PEM file of its private key, unencrypted (relative to this file; with tls.cert)',
    },
    'tls.reject_unauthorized': { description: 'refuse a broker whose certificate is not trusted', default: 'true' },
    qos: { description: 'QoS of our subscriptions and command messages', default: '1' },
    clean_session: {
      description:
        'start a new session on each connection (messages sent while away are lost); always true for a Sparkplug host',
      default: 'false',
    },
    keepalive_s: { description: 'MQTT keep-alive, seconds', default: '30' },
    max_payload_bytes: {
      description: 'a longer payload is not read (its item UNAVAILABLE, OFA_MQTT_PAYLOAD)',
      default: String(DEFAULT_MAX_PAYLOAD_BYTES),
    },
    max_messages_per_s: {
      description:
        'messages one topic item (Sparkplug: the edge node) accepts per second; the rest are dropped unread and counted, the item says OFA_MQTT_FLOOD once a second (0: no limit)',
      default: String(DEFAULT_MAX_MESSAGES_PER_S),
    },
    topics: { description: 'data items; each key is the data item id' },
    'topics.<key>.topic': {
      description:
        'the topic filter it is read from (+ and # allowed); a level {asset} matches like + and its value names the asset the item belongs to',
    },
    'topics.<key>.tag': { description: "the observation's TAG" },
    'topics.<key>.type': { description: 'Samples (a number) or Events (text)', default: 'Samples' },
    'topics.<key>.payload': { description: 'json, or raw (the payload text is the value)', default: 'json' },
    'topics.<key>.path': { description: 'the field of a JSON payload holding the value (absent: the whole payload)' },
    'topics.<key>.units': { description: 'units of the value' },
    commands: { description: 'methods offered as commands; each key is the method name' },
    'commands.<key>.topic': {
      description:
        "where the command message is published; a level {asset} makes it a method of each asset named by a topic level, sent with that asset's level value there",
    },
    'commands.<key>.reply_topic': {
      description:
        'where the device answers (MQTT 3.1.1: without it a command completes when the broker has it); may hold {asset} when topic does',
      default: 'ofa/reply/<client_id> on MQTT 5',
    },
    'commands.<key>.description': { description: "the method's description" },
    'commands.<key>.arguments': { description: 'the names of its arguments (all required)' },
    'commands.<key>.timeout_ms': {
      description: 'how long to wait for the answer',
      default: String(DEFAULT_COMMAND_TIMEOUT_MS),
    },
    assets: { description: 'the assets named by the {asset} level of the topics (one asset per value)' },
    'assets.uuid': { description: 'the uuid of each such asset', default: DEFAULT_ASSET_UUID },
    'assets.max': {
      description:
        'how many such assets the device may create; messages naming one more are dropped and counted (OFA_MQTT_ASSET_LIMIT)',
      default: String(DEFAULT_MAX_ASSETS),
    },
    sparkplug: {
      description:
        'read a Sparkplug B edge node as a Host Application: its births define the assets (no topics or commands then)',
    },
    'sparkplug.group_id': { description: 'the Sparkplug group id' },
    'sparkplug.edge_node_id': { description: 'the edge node id (its asset is this device; its devices <uuid>.<id>)' },
    'sparkplug.host_id': { description: 'our host id, announced on spBv1.0/STATE/<host_id>', default: 'ofa-<uuid>' },
  }),
  parse: parseMqttDevice,
  create: (c: MqttDeviceConfig, deps: ConnectorDeps) => new MqttConnector(c, deps),
})
