/**
 * The built-in functions on the default registry, and what the engine and the planner ask of it: resolving calls,
 * SHOW FUNCTIONS, the reference page.
 */
import { AGGREGATE_FUNCTIONS } from './aggregate-functions.ts'
import { COLLECTION_FUNCTIONS } from './collection-functions.ts'
import { DATE_TIME_FUNCTIONS } from './date-time-functions.ts'
import { functionsReference as referenceOf } from './functions-reference.ts'
import { INDUSTRIAL_AGGREGATES } from './industrial-aggregates.ts'
import { JSON_FUNCTIONS } from './json-functions.ts'
import { MATH_FUNCTIONS } from './math-functions.ts'
import { NULL_FUNCTIONS } from './null-functions.ts'
import {
  type CallPosition,
  type FunctionCategory,
  FunctionRegistry,
  type ResolvedAggregate,
  type ResolvedScalar,
} from './registry.ts'
import type { ArgType } from './signature.ts'
import { STRING_FUNCTIONS } from './string-functions.ts'

/** A registry with every built-in function. */
export function createFunctionRegistry(): FunctionRegistry {
  const registry = new FunctionRegistry()
  for (const spec of [
    ...STRING_FUNCTIONS,
    ...MATH_FUNCTIONS,
    ...NULL_FUNCTIONS,
    ...DATE_TIME_FUNCTIONS,
    ...JSON_FUNCTIONS,
    ...COLLECTION_FUNCTIONS,
  ]) {
    registry.registerScalar(spec)
  }
  for (const spec of [...AGGREGATE_FUNCTIONS, ...INDUSTRIAL_AGGREGATES]) registry.registerAggregate(spec)
  return registry
}

/** The registry the engine uses: the built-ins, and whatever the application registers before opening an engine. */
export const defaultFunctions: FunctionRegistry = createFunctionRegistry()

/** `defaultFunctions.resolveScalar`. */
export function resolveScalar(name: string, argTypes: readonly ArgType[], where?: CallPosition): ResolvedScalar {
  return defaultFunctions.resolveScalar(name, argTypes, where)
}

/** `defaultFunctions.resolveAggregate`. */
export function resolveAggregate(name: string, argTypes: readonly ArgType[], where?: CallPosition): ResolvedAggregate {
  return defaultFunctions.resolveAggregate(name, argTypes, where)
}

const CATEGORY_NAMES: Readonly<Record<FunctionCategory, string>> = {
  string: 'STRING',
  math: 'MATHEMATICAL',
  'date/time': 'DATE / TIME',
  JSON: 'JSON',
  collections: 'COLLECTIONS',
  nulls: 'NULL',
  conversion: 'CONVERSIONS',
  aggregate: 'AGGREGATE',
  industrial: 'INDUSTRIAL',
}

/** SHOW FUNCTIONS: every function's name, category and type (SCALAR or AGGREGATE), by name. */
export function functionNames(
  registry: FunctionRegistry = defaultFunctions,
): { name: string; category: string; type: string }[] {
  return [
    ...registry.scalarSpecs().map((s) => ({ name: s.name, category: CATEGORY_NAMES[s.category], type: 'SCALAR' })),
    ...registry
      .aggregateSpecs()
      .map((s) => ({ name: s.name, category: CATEGORY_NAMES[s.category], type: 'AGGREGATE' })),
  ].sort((a, b) => (a.name < b.name ? -1 : 1))
}

/** The text of docs/reference/sql-functions.md (of the built-ins, by default). */
export function functionsReference(registry: FunctionRegistry = defaultFunctions): string {
  return referenceOf(registry)
}

export { FUNCTIONS_REFERENCE_PATH } from './functions-reference.ts'
