// @openfactory/connectors — from machines to the event log, and commands back.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents, in layer order.

// The connector interface and its lifecycle.
export * from './connector.ts'
// The connector registry: every connector type registers a spec (fields, parse, create).
export * from './connector-spec.ts'
// The one buffered path to the log (refused records set aside, the rest written in order).
export * from './buffered-writer.ts'
// The supervisor: runs connectors, restarts them, heartbeats, commands (accepted, then the final result).
export * from './supervisor.ts'
// The simulator: virtual machines declared in YAML.
export * from './simulator/simulator-connector.ts'
export * from './simulator/simulator-spec.ts'
// SHDR: parser, mapper, TCP client, connector.type shdr, our adapter server.
export * from './shdr/index.ts'
// MTConnect: Devices.xml, connector.type mtconnect (device_xml + adapter; an external agent's client), SHDR replay.
export * from './mtconnect/index.ts'
// From factory configuration to connectors (what ofa up runs and ofa validate checks).
export * from './from-config.ts'
// Built-in apps (historian, alerts, webhooks...): a registry of kinds, run in-process like connectors.
export * from './app-kind.ts'
