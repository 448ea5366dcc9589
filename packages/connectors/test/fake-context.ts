// The in-memory ConnectorContext connector tests start a connector on (@openfactory/connectors/testing).
export {
  createRecordingContext as recordingContext,
  type RecordingContext,
  type RecordingContextOptions,
} from '../src/testing/index.ts'
