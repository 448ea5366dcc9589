/**
 * The `webhooks:` and `mqtt_publish:` blocks of an app (ours): deliveries to other systems
 * (@openfactory/integrations); documented in docs/reference/apps.md. Keys keep the snake_case of the apps file.
 *
 * `webhooks:` maps a webhook's name to where it posts and what: alerts (`ofa_alerts`, filtered by severity, rule,
 * asset) and observations (`ofa_assets`, by asset and item or a UNS pattern). `mqtt_publish:` names a broker (the
 * MQTT connector's connection options) and the observations to publish under a UNS-shaped topic tree.
 */
import { Type } from '@sinclair/typebox'
import { AssetUuid, NonEmptyString } from './common-schema.ts'

const Name = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,62}$', expected: 'a name of letters, digits and _' })
const ItemId = Type.String({ pattern: '^[^\\s|]+$', expected: 'a data item id' })
const UnsPattern = Type.String({ minLength: 1, expected: 'a UNS pattern like Demofactory/Machining/#' })

/** Which observations: assets (all their items, or `items` of them), or a UNS pattern; at least one is given. */
export const ObservationSelection = Type.Object(
  {
    assets: Type.Optional(Type.Array(AssetUuid, { minItems: 1 })),
    items: Type.Optional(Type.Array(ItemId, { minItems: 1 })),
    uns: Type.Optional(Type.Array(UnsPattern, { minItems: 1 })),
  },
  { additionalProperties: false },
)

const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], {
  expected: 'info, warning or critical',
})

/** Which alert events: all of them (`alerts: {}`), or those of some severities, rules, assets, states. */
export const AlertSelection = Type.Object(
  {
    severity: Type.Optional(Type.Array(Severity, { minItems: 1 })),
    rules: Type.Optional(Type.Array(NonEmptyString, { minItems: 1 })),
    assets: Type.Optional(Type.Array(AssetUuid, { minItems: 1 })),
    states: Type.Optional(
      Type.Array(
        Type.Union([Type.Literal('raised'), Type.Literal('acknowledged'), Type.Literal('cleared')], {
          expected: 'raised, acknowledged or cleared',
        }),
        { minItems: 1 },
      ),
    ),
  },
  { additionalProperties: false },
)

export const WebhookEntry = Type.Object(
  {
    url: Type.String({ pattern: '^https?://\\S+$', expected: 'a URL like https://mes.example.com/hooks/ofa' }),
    secret_env: Type.Optional(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', expected: 'an environment variable name' }),
    ),
    secret_file: Type.Optional(NonEmptyString),
    alerts: Type.Optional(AlertSelection),
    observations: Type.Optional(ObservationSelection),
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String(), { expected: 'header: value pairs' }),
    ),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, expected: 'a count (1-100)' })),
    backoff_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, expected: 'ms (1-3600000)' })),
    max_backoff_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, expected: 'ms (1-3600000)' })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, expected: 'ms (1-600000)' })),
    queue_max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, expected: 'a count (1-100000)' })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, expected: 'a count (1-64)' })),
  },
  { additionalProperties: false },
)

/** Webhooks by name: `webhooks: { mes: { url: ..., alerts: {...} } }`. */
export const WebhooksSpec = Type.Record(Name, WebhookEntry, { expected: 'webhooks by name' })

export const MqttPublishSpec = Type.Object(
  {
    url: Type.String({ pattern: '^(?:mqtts?|wss?|tcp|ssl)://\\S+$', expected: 'a URL like mqtt://host:1883' }),
    protocol_version: Type.Optional(
      Type.Union([Type.Literal(4), Type.Literal(5)], { expected: '4 (MQTT 3.1.1) or 5 (MQTT 5)' }),
    ),
    client_id: Type.Optional(
      Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$', expected: 'up to 128 printable ASCII characters' }),
    ),
    username: Type.Optional(NonEmptyString),
    password: Type.Optional(Type.String()),
    password_env: Type.Optional(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', expected: 'an environment variable name' }),
    ),
    tls: Type.Optional(
      Type.Object(
        { ca: Type.Optional(NonEmptyString), reject_unauthorized: Type.Optional(Type.Boolean()) },
        { additionalProperties: false },
      ),
    ),
    qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], { expected: '0, 1 or 2' })),
    retain: Type.Optional(Type.Boolean()),
    keepalive_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, expected: 'seconds (0-65535)' })),
    topic_prefix: Type.Optional(
      Type.String({ pattern: '^[^+#]*[^+#/]$', expected: 'topic levels without wildcards or a trailing /' }),
    ),
    observations: ObservationSelection,
  },
  { additionalProperties: false },
)
