// @openfactory/connectors — from machines to the event log, and commands back.

// Backoff shared by every reconnect and restart.
export * from './backoff.ts'
// The one buffered path to the log.
export * from './buffered-writer.ts'
// The connector interface and its lifecycle.
export * from './connector.ts'
// From factory configuration to connectors (what ofa up runs).
export * from './from-config.ts'
// Logging for connectors and the supervisor.
export * from './logger.ts'
// MTConnect: Devices.xml, connector.type mtconnect (device_xml + adapter).
export * from './mtconnect/index.ts'
// SHDR: parser, mapper, TCP client, connector.type shdr, our adapter server.
export * from './shdr/index.ts'
// The simulator: virtual machines declared in YAML.
export * from './simulator/simulator-connector.ts'
// The supervisor: runs connectors, restarts them, heartbeats, commands.
export * from './supervisor.ts'
