// @openfactory/connectors — from machines to the event log, and commands back.

// The connector interface and its lifecycle.
export * from './connector.ts'
// Backoff shared by every reconnect and restart.
export * from './backoff.ts'
// Logging for connectors and the supervisor.
export * from './logger.ts'
// The one buffered path to the log.
export * from './buffered-writer.ts'
// The supervisor: runs connectors, restarts them, heartbeats, commands.
export * from './supervisor.ts'
// The simulator: virtual machines declared in YAML.
export * from './simulator/config.ts'
export * from './simulator/simulator-connector.ts'
// SHDR: parser, mapper, TCP client, connector.type shdr, our adapter server.
export * from './shdr/index.ts'
// MTConnect: Devices.xml, connector.type mtconnect (device_xml + adapter).
export * from './mtconnect/index.ts'
// From factory configuration to connectors (what ofa up runs).
export * from './from-config.ts'
