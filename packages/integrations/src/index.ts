// @openfactory/integrations — serving other systems: webhooks, MQTT publish of a UNS topic tree, history exports.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents, in layer order.
import { registerAppKind } from '@openfactory/connectors'
import { MqttPublishApp, type MqttPublishConfig, parseMqttPublish } from './mqtt-publish/mqtt-publish-app.ts'
import { parseWebhooks, type WebhooksConfig } from './webhooks/webhook-config.ts'
import { WebhooksApp } from './webhooks/webhooks-app.ts'

// Which observations an integration takes: assets, items, UNS patterns.
export * from './selection.ts'
// Webhooks: the signature a receiver checks, the block typed, the app (queue, retries, dead letters, status).
export * from './webhooks/signature.ts'
export * from './webhooks/webhook-config.ts'
export * from './webhooks/webhooks-app.ts'
// MQTT publish: observations under a UNS-shaped topic tree.
export * from './mqtt-publish/mqtt-publish-app.ts'
// History exports: CSV, JSON lines, Parquet, read from the log (`ofa export`).
export * from './export/history-export.ts'

registerAppKind<WebhooksConfig>({
  block: 'webhooks',
  summary: 'alerts and selected observations POSTed as signed JSON, retried, dead-lettered on ofa_webhooks_dead',
  parse: parseWebhooks,
  create: (app, config, deps) => new WebhooksApp({ app, config, deps }),
})

registerAppKind<MqttPublishConfig>({
  block: 'mqtt_publish',
  summary: 'selected observations published to an MQTT broker under a UNS-shaped topic tree',
  parse: parseMqttPublish,
  create: (app, config, deps) => new MqttPublishApp(app, config, deps),
})
