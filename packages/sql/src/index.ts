// @openfactory/sql — stream processing in the ksqlDB dialect.
// biome-ignore-all assist/source/organizeImports: the exports read as a table of contents, in layer order.

// SQL types and their run-time values.
export * from './types.ts'
