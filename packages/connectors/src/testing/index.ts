// @openfactory/connectors/testing — what a connector tests itself with.

// A synthetic MTConnect agent (probe, current, sample streaming, assets) to point an agent client at.
export * from './agent-peer.ts'
// The connector conformance suite (node:test) every connector runs with a harness of its own.
export {
  type ConnectorFixture,
  type ConnectorHarness,
  connectorConformance,
  createFactoryTestLog,
} from './conformance.ts'
// A DeviceConfig as the factory loader gives it, to run a connector through its spec.
export { type DeviceConfigOptions, deviceConfig } from './device-config.ts'
// Polls until a condition holds.
export { eventually } from './eventually.ts'
// A ConnectorContext in memory that records every call.
export {
  createRecordingContext,
  type LoggedLine,
  type RecordedCall,
  type RecordingContext,
  type RecordingContextOptions,
  startRecorded,
} from './recording-context.ts'
