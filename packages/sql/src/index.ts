// @openfactory/sql — stream processing in the ksqlDB dialect.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents, in layer order.

// SQL types and their run-time values.
export * from './types.ts'
// Serialization formats of keys and values (JSON, KAFKA, DELIMITED, NONE) and header columns.
export * from './serde/index.ts'
// Processors: the runtime every persistent query runs on (tasks per partition, stores, exactly-once checkpoints),
// and the API of processors written in TypeScript.
export type { InputRecord, KeyValueStore, ProcessorContext, ProcessorSpec } from './processor/processor.ts'
export { type ProcessorHandle, type RunProcessorOptions, runProcessor } from './processor/run-processor.ts'
export { SOURCE_HEADER, TASK_HEADER, type TaskStats } from './processor/task.ts'
export { checkpointTopic } from './processor/checkpoint.ts'
