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
// Processors written in TypeScript: a definition (what factory.yaml's `processors:` modules export) checked and
// turned into a ProcessorSpec, with the helpers that read and write the asset topic through model's codec.
export {
  type AssetProcessorContext,
  type AssetRecord,
  type DefinedProcessor,
  decodeAssetRecord,
  defineProcessor,
  type ObservationDraft,
  observationRecord,
  type ProcessorDefinition,
} from './processor/define-processor.ts'
// The AST of our ksqlDB dialect: frozen nodes with a `kind`, a factory each, and their source position.
export * from './ast.ts'
// The parser: SQL text to statements or expressions, or OFA_SQL_PARSE / OFA_SQL_LIMIT with a position.
export {
  KEYWORDS,
  MAX_EXPRESSION_DEPTH,
  MAX_SQL_BYTES,
  type ParseOptions,
  parseExpression,
  parseStatements,
  RESERVED_WORDS,
} from './parser.ts'
// The formatter: canonical SQL text back from the AST (parse(format(ast)) equals ast).
export {
  formatDuration,
  formatExpression,
  formatIdentifier,
  formatQuery,
  formatSqlType,
  formatStatement,
  formatString,
} from './format.ts'
// Functions: the registry of scalar functions and aggregates (specs that resolve calls by argument types and
// generate docs/reference/sql-functions.md), the built-ins on `defaultFunctions`, and CAST with the comparisons the
// operators use.
export {
  type Aggregate,
  type AggregateRow,
  type AggregateSignature,
  type AggregateSpec,
  type BoundTypes,
  type CallPosition,
  type FunctionCategory,
  FunctionRegistry,
  type ResolvedAggregate,
  type ResolvedScalar,
  type ScalarArg,
  type ScalarImpl,
  type ScalarSignature,
  type ScalarSpec,
  type SqlLambda,
} from './functions/registry.ts'
export {
  type ArgType,
  formatSignature,
  type LambdaArgType,
  P as ParamTypes,
  type ParamType,
  type ReturnRule,
} from './functions/signature.ts'
export {
  createFunctionRegistry,
  defaultFunctions,
  FUNCTIONS_REFERENCE_PATH,
  functionNames,
  functionsReference,
  resolveAggregate,
  resolveScalar,
} from './functions/index.ts'
export { canCast, castValue, compareValues, equalValues, valueKey, valueText } from './cast.ts'
// The engine: statements, persistent queries on any backbone, pull and push queries, ksqlDB's REST shapes.
export type * from './engine-api.ts'
export { openSqlEngine, SqlEngine, type SqlEngineOptions } from './engine.ts'
