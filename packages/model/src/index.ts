// @openfactory/model — the nouns every other package speaks.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents, in layer order.

// Coded errors (OFA_*), documented in docs/reference/errors.md.
export * from './errors.ts'
// The logger interface the engine packages log through.
export * from './logger.ts'
// Time: the ISO-8601 form we write, the forms we read, fast paths.
export * from './time.ts'
// One retry rule: backoff, abortable sleep, retry driven by the error's retryable / retryAfterMs.
export * from './retry.ts'
// Assets, data items, methods, UNS placement.
export * from './asset.ts'
// Observations in the reference OpenFactory wire format.
export * from './observation.ts'
export { decodeObservationLazy } from './observation-lazy.ts'
// Conditions: active sets per item.
export * from './condition.ts'
// Commands (<Method>_CMD) and their results (<Method>_RESULT).
export * from './command.ts'
// The one codec of the asset topics: observations, declarations, methods, commands, results, availability,
// the registry's declared assets and asset documents.
export * from './asset-event.ts'
// Method arguments checked against a method's contract, one rule for every entry point.
export * from './method-arguments.ts'
// The MTConnect vocabulary shared by every writer of MTConnect documents: namespaces, escaping, types and elements.
export * from './mtconnect.ts'
// Topics on every backbone, availability constants.
export * from './topics.ts'
// Configuration files: loading and validating a factory (reference formats and factory.yaml), the UNS schema.
export * from './config/index.ts'
