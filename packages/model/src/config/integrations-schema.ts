/**
 * The `webhooks:` and `mqtt_publish:` blocks of an app (ours): deliveries to other systems
 * (@openfactory/integrations). Filled in by the integrations' work; documented in docs/reference/apps.md.
 */
import { Type } from '@sinclair/typebox'

export const WebhooksSpec = Type.Object({}, { additionalProperties: false })
export const MqttPublishSpec = Type.Object({}, { additionalProperties: false })
