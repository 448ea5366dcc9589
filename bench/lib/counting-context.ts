// The ConnectorContext the connector benchmarks publish into: nothing is kept, every call but the ones a bench
// overrides (usually `publish`, to count) does nothing; never congested, no checkpoint.
import type { ConnectorContext } from '../../packages/connectors/src/connector.ts'

export function countingContext(overrides: Partial<ConnectorContext>): ConnectorContext {
  const noop = (): void => {}
  return {
    signal: new AbortController().signal,
    logger: { debug: noop, info: noop, warn: noop, error: noop },
    declareAssets: noop,
    congested: false,
    whenWritable: () => Promise.resolve(),
    publish: noop,
    putDocument: noop,
    setAvailable: noop,
    fail: noop,
    loadCheckpoint: () => Promise.resolve(undefined),
    saveCheckpoint: noop,
    ...overrides,
  }
}
