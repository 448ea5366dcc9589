// @openfactory/connector-mqtt: registers `connector.type: mqtt` with the connector registry when loaded.
// Topic filters (MQTT §4.7).

// The typed device configuration and its defaults.
export * from './mqtt-config.ts'
// The connector: an mqtt.js client per device.
export * from './mqtt-connector.ts'
// The spec: parse, defaults, reference fields.
export * from './mqtt-spec.ts'
// Payloads (raw text, JSON fields, {timestamp, value}) to observations.
export * from './payload.ts'
export * from './topic-filter.ts'
