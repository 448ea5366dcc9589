/**
 * From a parsed statement to a plan (plan.ts), against the catalog: names resolved, types checked, expressions
 * compiled, the sink's schema derived as ksqlDB derives it. Nothing happens here; the engine carries plans out.
 *
 * Keys of a query's result, as ksqlDB has them:
 * - a stream query without PARTITION BY keeps its source's key columns, which must be in the projection;
 * - PARTITION BY an expression makes it the key: named by the projected item that is the same expression (its
 *   alias), else by the column it names, else `KSQL_COL_0`; `PARTITION BY NULL` makes a stream without key;
 * - GROUP BY makes the grouping expressions the key, named likewise;
 * - a table query without GROUP BY keeps its source's primary key, which must be in the projection.
 * Unaliased items are named after their column (or struct field), else `KSQL_COL_<n>`.
 */

import type { LogRecord, ProducerRecord } from '@openfactory/log'
import { isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import {
  type ColumnRefNode,
  type CreateAsSelectNode,
  type CreateSourceNode,
  childExpressions,
  type Expression,
  type FunctionCallNode,
  type InsertIntoNode,
  type PropertyNode,
  type QueryNode,
  type SqlPosition,
  type Statement,
} from './ast.ts'
import type { Catalog, DataSource, Format, WindowInfo } from './catalog.ts'
import type { QueryHeader } from './engine-api.ts'
import { type Compiled, compileExpression, type FunctionResolver, type Scope } from './expressions.ts'
import { joinShape } from './join-planner.ts'
import {
  type AggregateCall,
  aggregateProcessor,
  type SessionWindowSpec,
  type WindowSpec,
} from './operators/aggregate.ts'
import { selectProcessor } from './operators/select.ts'
import type { BuildContext, Plan, QueryBuild, QueryPlan, SelectPlan, TopicNeed } from './plan.ts'
import type { KeyValueStore, ProcessorContext, ProcessorSpec } from './processor/processor.ts'
import { MemoryStore } from './processor/store.ts'
import { createRowCodec, type Row } from './row-codec.ts'
import { type Column, LogicalSchema } from './schema.ts'
import { formatType, SqlType, type SqlValue } from './types.ts'

/** An aggregate function resolved for its argument types (the function registry's `ResolvedAggregate` is one). */
export interface ResolvedAggregate {
  readonly type: SqlType
  readonly init: () => unknown
  readonly add: AggregateCall['add']
  readonly undo?: AggregateCall['undo']
  readonly merge?: AggregateCall['merge']
  readonly result: AggregateCall['result']
  /** Positions of the arguments that must be literals (TOPK's k): evaluated once, when the statement is created. */
  readonly literals: readonly number[]
}

export interface PlannerFunctions extends FunctionResolver {
  aggregate(name: string, argTypes: readonly (SqlType | null)[], where: SqlPosition): ResolvedAggregate
}

export interface PlanContext {
  readonly catalog: Catalog
  readonly properties: Readonly<Record<string, string>>
  readonly functions: PlannerFunctions
}

const DAY_MS = 86_400_000

export function unsupported(message: string, where?: SqlPosition): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_UNSUPPORTED', message, where ? { where } : {})
}

export function unknownColumn(message: string, where: SqlPosition): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_UNKNOWN_COLUMN', message, { where })
}

/** A node's identity without its position: two expressions written alike are the same expression. */
export function exprKey(e: Expression): string {
  return JSON.stringify(e, (k, v) => (k === 'where' ? undefined : v))
}

// ---------------------------------------------------------------------------------------------------------------
// WITH properties

const SOURCE_PROPERTIES = new Set([
  'KAFKA_TOPIC',
  'VALUE_FORMAT',
  'KEY_FORMAT',
  'FORMAT',
  'PARTITIONS',
  'REPLICAS',
  'TIMESTAMP',
  'TIMESTAMP_FORMAT',
  'WRAP_SINGLE_VALUE',
  'VALUE_DELIMITER',
  'KEY_DELIMITER',
  'WINDOW_TYPE',
  'WINDOW_SIZE',
  'RETENTION_MS',
  'VALUE_AVRO_SCHEMA_FULL_NAME',
])

class Properties {
  readonly #map = new Map<string, PropertyNode>()

  constructor(list: readonly PropertyNode[]) {
    for (const p of list) {
      if (!SOURCE_PROPERTIES.has(p.name)) throw unsupported(`unknown WITH property ${p.name}`, p.where)
      this.#map.set(p.name, p)
    }
  }

  text(name: string): string | undefined {
    const p = this.#map.get(name)
    return p?.value.value === null || p === undefined ? undefined : String(p.value.value)
  }

  number(name: string): number | undefined {
    const p = this.#map.get(name)
    if (!p) return undefined
    const n = Number(p.value.value)
    if (!Number.isInteger(n) || n < 1) {
      throw new OpenFactoryError('OFA_SQL_TYPE', `${name} must be a whole number above 0`, { where: p.where })
    }
    return n
  }

  format(name: string): Format | undefined {
    const v = this.text(name)?.toUpperCase()
    if (v === undefined) return undefined
    if (v !== 'JSON' && v !== 'KAFKA' && v !== 'DELIMITED' && v !== 'NONE') {
      const where = this.#map.get(name)?.where
      throw unsupported(`${name} ${v}: formats are JSON, KAFKA, DELIMITED and NONE`, where)
    }
    return v
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scopes

/** Columns of one source, reachable by name, or by its name or alias as qualifier. */
export class SourceScope implements Scope {
  readonly #source: DataSource
  readonly #alias: string | null
  readonly #offset: number

  constructor(source: DataSource, alias: string | null, offset = 0) {
    this.#source = source
    this.#alias = alias
    this.#offset = offset
  }

  has(ref: ColumnRefNode): boolean {
    if (ref.source !== null && ref.source !== this.#source.name && ref.source !== this.#alias) return false
    return this.#source.schema.indexOf(ref.name) >= 0
  }

  column(ref: ColumnRefNode): { index: number; type: SqlType } {
    if (ref.source !== null && ref.source !== this.#source.name && ref.source !== this.#alias) {
      throw unknownColumn(
        `${ref.source} is not a source of this query (${this.#alias ?? this.#source.name})`,
        ref.where,
      )
    }
    const index = this.#source.schema.indexOf(ref.name)
    if (index < 0) {
      const known = this.#source.schema.columns.map((c) => c.name).join(', ')
      throw unknownColumn(`${this.#source.name} has no column ${ref.name} (columns: ${known})`, ref.where)
    }
    return { index: index + this.#offset, type: this.#source.schema.typeOf(ref.name) as SqlType }
  }
}

/** No column is reachable directly (after GROUP BY, only grouping expressions and aggregates are). */
const NO_COLUMNS: Scope = {
  column(ref) {
    throw unknownColumn(`${ref.name} is neither in GROUP BY nor inside an aggregate function`, ref.where)
  },
}

// ---------------------------------------------------------------------------------------------------------------
// Statements

export function planStatement(stmt: Statement, ctx: PlanContext): Plan {
  switch (stmt.kind) {
    case 'CreateSourceNode':
      return planCreateSource(stmt)
    case 'CreateAsSelectNode':
      return planCreateAs(stmt, ctx)
    case 'InsertIntoNode':
      return planInsert(stmt, ctx)
    case 'InsertValuesNode': {
      const sink = ctx.catalog.require(stmt.target, stmt.where)
      const columns = stmt.columns ?? sink.schema.columns.map((c) => c.name)
      if (columns.length !== stmt.values.length) {
        throw new OpenFactoryError('OFA_SQL_TYPE', `${columns.length} columns and ${stmt.values.length} values`, {
          where: stmt.where,
        })
      }
      const row: Row = new Array(sink.schema.width).fill(null)
      columns.forEach((name, i) => {
        const index = sink.schema.indexOf(name)
        if (index < 0 || index >= sink.schema.columns.length) {
          throw unknownColumn(`${sink.name} has no column ${name}`, stmt.where)
        }
        const c = compileExpression(stmt.values[i] as Expression, { scope: NO_COLUMNS, functions: ctx.functions })
        const to = sink.schema.columns[index]?.type as SqlType
        const v = c.eval([])
        row[index] = c.type && c.type.kind !== to.kind ? ctx.functions.cast(v, c.type, to) : v
      })
      const rowtime = columns.indexOf('ROWTIME')
      const encoded = createRowCodec(sink).encode(row)
      return {
        kind: 'insert-values',
        sink,
        record: {
          key: encoded.key ?? null,
          value: encoded.value ?? null,
          ...(rowtime >= 0 ? { timestamp: Number(row[rowtime]) } : {}),
        },
      }
    }
    case 'DropNode':
      return {
        kind: 'drop',
        name: stmt.name,
        sourceKind: stmt.sourceType,
        ifExists: stmt.ifExists,
        deleteTopic: stmt.deleteTopic,
      }
    case 'ShowNode':
      return { kind: 'show', what: stmt.what, extended: stmt.extended }
    case 'DescribeNode':
      if (stmt.what === 'STREAMS' || stmt.what === 'TABLES') return { kind: 'show', what: stmt.what, extended: true }
      if (stmt.what === 'FUNCTION')
        throw unsupported('DESCRIBE FUNCTION: see docs/reference/sql-functions.md', stmt.where)
      return { kind: 'describe', name: stmt.name as string, extended: stmt.extended }
    case 'ExplainNode':
      if (stmt.queryId === null) throw unsupported('EXPLAIN of a statement: EXPLAIN a query id for now', stmt.where)
      return { kind: 'explain', queryId: stmt.queryId }
    case 'TerminateNode':
      return { kind: 'terminate', queryId: stmt.queryId ?? 'ALL' }
    case 'SetNode':
      return { kind: 'set', name: stmt.name, value: stmt.value }
    case 'UnsetNode':
      return { kind: 'unset', name: stmt.name }
    case 'QueryStatementNode':
      return { kind: 'select', select: planSelect(stmt.query, ctx) }
  }
}

function planCreateSource(stmt: CreateSourceNode): Plan {
  const props = new Properties(stmt.properties)
  const topic = props.text('KAFKA_TOPIC')
  if (!topic)
    throw new OpenFactoryError('OFA_SQL_TYPE', 'KAFKA_TOPIC is required in the WITH clause', { where: stmt.where })
  const keyWord = stmt.sourceType === 'TABLE' ? 'PRIMARY KEY' : 'KEY'
  const columns: Column[] = stmt.elements.map((el) => {
    if (el.constraint === 'KEY' || el.constraint === 'PRIMARY KEY') {
      if (el.constraint !== keyWord) {
        throw new OpenFactoryError(
          'OFA_SQL_TYPE',
          `a ${stmt.sourceType.toLowerCase()}'s key column is declared ${keyWord}, not ${el.constraint}`,
          { where: el.where },
        )
      }
      return { name: el.name, type: el.type, role: 'key' }
    }
    if (el.constraint === 'HEADERS' || el.constraint === 'HEADER') {
      return { name: el.name, type: el.type, role: 'header', ...(el.headerKey ? { headerKey: el.headerKey } : {}) }
    }
    return { name: el.name, type: el.type, role: 'value' }
  })
  if (stmt.sourceType === 'TABLE' && !columns.some((c) => c.role === 'key')) {
    throw new OpenFactoryError('OFA_SQL_TYPE', `table ${stmt.name} needs a PRIMARY KEY column`, { where: stmt.where })
  }
  const source = dataSource(stmt.name, stmt.sourceType, new LogicalSchema(columns), topic, props, {
    isSource: stmt.isSource,
    statementText: stmt.text,
  })
  const partitions = props.number('PARTITIONS')
  const replicas = props.number('REPLICAS')
  return {
    kind: 'create-source',
    source,
    topic: {
      name: topic,
      ...(partitions ? { partitions } : {}),
      ...(replicas ? { replicas } : {}),
      compacted: stmt.sourceType === 'TABLE',
      // ksqlDB wants PARTITIONS for a topic that does not exist; the reference's scripts count on their broker
      // creating it (Kafka's auto-creation, one partition): we create it, with one partition unless PARTITIONS.
      create: true,
    },
    orReplace: stmt.orReplace,
    ifNotExists: stmt.ifNotExists,
  }
}

function dataSource(
  name: string,
  kind: 'STREAM' | 'TABLE',
  schema: LogicalSchema,
  topic: string,
  props: Properties,
  extra: { isSource: boolean; statementText: string; like?: DataSource; windowed?: WindowInfo },
): DataSource {
  const format = props.format('FORMAT')
  const keyFormat =
    props.format('KEY_FORMAT') ?? format ?? (schema.keys.length === 0 ? 'NONE' : (extra.like?.keyFormat ?? 'KAFKA'))
  const valueFormat = props.format('VALUE_FORMAT') ?? format ?? extra.like?.valueFormat ?? 'JSON'
  const wrap = props.text('WRAP_SINGLE_VALUE')
  const delimiter = props.text('VALUE_DELIMITER')
  const ts = props.text('TIMESTAMP')?.toUpperCase()
  const tsFormat = props.text('TIMESTAMP_FORMAT')
  if (ts !== undefined && schema.indexOf(ts) < 0) {
    throw new OpenFactoryError('OFA_SQL_UNKNOWN_COLUMN', `TIMESTAMP names ${ts}, which is not a column of ${name}`)
  }
  let windowed = extra.windowed
  const windowType = props.text('WINDOW_TYPE')?.toUpperCase()
  if (windowType) {
    if (windowType !== 'TUMBLING' && windowType !== 'HOPPING' && windowType !== 'SESSION') {
      throw unsupported(`WINDOW_TYPE ${windowType}: TUMBLING, HOPPING or SESSION`)
    }
    if (windowType === 'SESSION' && props.text('WINDOW_SIZE') !== undefined) {
      throw unsupported('WINDOW_SIZE is not set for SESSION windows: each session has its own bounds (as ksqlDB)')
    }
    windowed = {
      type: windowType,
      ...(props.text('WINDOW_SIZE') ? { sizeMs: durationMs(props.text('WINDOW_SIZE') as string) } : {}),
    }
  }
  return {
    name,
    kind,
    schema: windowed ? schema.withWindow() : schema,
    topic,
    keyFormat: schema.keys.length === 0 ? 'NONE' : keyFormat === 'NONE' ? 'KAFKA' : keyFormat,
    valueFormat,
    wrapSingleValue: wrap === undefined ? true : wrap.toLowerCase() !== 'false',
    ...(delimiter !== undefined ? { valueDelimiter: delimiter } : {}),
    ...(ts !== undefined ? { timestampColumn: ts } : {}),
    ...(tsFormat !== undefined ? { timestampFormat: tsFormat } : {}),
    ...(windowed ? { windowed } : {}),
    isSource: extra.isSource,
    statementText: extra.statementText,
  }
}

/** `'10 SECONDS'`, `'1 MINUTE'` (WINDOW_SIZE) to milliseconds. */
function durationMs(text: string): number {
  const m = /^\s*(\d+)\s*([A-Za-z]+)\s*$/.exec(text)
  const units: Record<string, number> = { MILLISECOND: 1, SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: DAY_MS }
  const unit = m ? units[(m[2] as string).toUpperCase().replace(/S$/, '')] : undefined
  if (!m || unit === undefined) throw unsupported(`WINDOW_SIZE '${text}': expected e.g. '1 MINUTE'`)
  return Number(m[1]) * unit
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

export interface OutputItem {
  readonly name: string
  readonly expression: Expression
  readonly where: SqlPosition
}

/**
 * The SELECT list with `*` expanded and every item named. In a join, `*` and `a.*` name each column after its
 * source's alias (`A_ID`), as ksqlDB does.
 */
export function outputItems(
  query: QueryNode,
  sources: readonly { readonly source: DataSource; readonly alias: string }[],
): OutputItem[] {
  const out: OutputItem[] = []
  let generated = 0
  const join = sources.length > 1
  for (const item of query.select) {
    if (item.kind === 'SelectAllNode') {
      const from = sources.filter(
        (s) => item.source === null || item.source === s.alias || item.source === s.source.name,
      )
      if (from.length === 0) throw unknownColumn(`${item.source} is not a source of this query`, item.where)
      for (const { source, alias } of from) {
        // The key columns, the window bounds of a windowed source (as ksqlDB lists them), the other columns.
        const names = source.schema.columns.map((c) => c.name)
        const keys = source.schema.keys.length
        if (source.schema.windowed) names.splice(keys, 0, 'WINDOWSTART', 'WINDOWEND')
        for (const name of names) {
          out.push({
            name: join ? `${alias}_${name}` : name,
            expression: {
              kind: 'ColumnRefNode',
              source: join ? alias : item.source,
              name,
              where: item.where,
            } as Expression,
            where: item.where,
          })
        }
      }
      continue
    }
    const e = item.expression
    const name =
      item.alias ??
      (e.kind === 'ColumnRefNode' ? e.name : e.kind === 'DereferenceNode' ? e.field : `KSQL_COL_${generated++}`)
    out.push({ name, expression: e, where: item.where })
  }
  const seen = new Set<string>()
  for (const o of out) {
    if (seen.has(o.name)) {
      throw new OpenFactoryError('OFA_SQL_TYPE', `the result has two columns named ${o.name}: alias one (AS)`, {
        where: o.where,
      })
    }
    seen.add(o.name)
  }
  return out
}

/** Where a query reads: one source (a join is planned by join-planner.ts), its scope and event time. */
function fromOf(
  query: QueryNode,
  ctx: PlanContext,
): { source: DataSource; scope: SourceScope; timestamp: (row: Row) => number } {
  if (query.joins.length > 0)
    throw unsupported('a transient query with a join is not supported yet', query.joins[0]?.where)
  const source = ctx.catalog.require(query.from.name, query.from.where)
  const scope = new SourceScope(source, query.from.alias)
  return { source, scope, timestamp: eventTime(source) }
}

/** The event time of a source's row: its TIMESTAMP column (a number, or text in ISO-8601), else ROWTIME. */
export function eventTime(source: DataSource): (row: Row) => number {
  const rowtime = source.schema.rowtimeIndex
  const tsColumn = source.timestampColumn ? source.schema.indexOf(source.timestampColumn) : -1
  const timestamp =
    tsColumn >= 0
      ? (row: Row) => {
          const v = row[tsColumn]
          if (typeof v === 'number') return v
          const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN
          return Number.isNaN(ms) ? (row[rowtime] as number) : ms
        }
      : (row: Row) => row[rowtime] as number
  return timestamp
}

export function condition(e: Expression | null, ctx: PlanContext, scope: Scope): ((row: Row) => boolean) | undefined {
  if (!e) return undefined
  const c = compileExpression(e, { scope, functions: ctx.functions })
  if (c.type && c.type.kind !== 'BOOLEAN') {
    throw new OpenFactoryError('OFA_SQL_TYPE', `a condition is BOOLEAN, not ${formatType(c.type)}`, { where: e.where })
  }
  const f = guarded(c.eval)
  return (row) => f(row) === true
}

/**
 * An expression whose value cannot be had for a row (a cast of 'abc' to DOUBLE: OFA_SQL_VALUE) is NULL for that
 * row, as ksqlDB evaluates it: the row goes on with a NULL column (a condition: not met).
 */
export function guarded(f: Compiled['eval']): Compiled['eval'] {
  return (row) => {
    try {
      return f(row)
    } catch (err) {
      if (err instanceof OpenFactoryError && err.code === 'OFA_SQL_VALUE') return null
      throw err
    }
  }
}

/** What a persistent query computes: its result schema and the processors that compute it. */
export interface QueryShape {
  readonly schema: LogicalSchema
  readonly kind: 'STREAM' | 'TABLE'
  /** The source whose formats and partition count a CREATE ... AS SELECT's sink takes by default (the left one). */
  readonly source: DataSource
  /** Every source read (names). */
  readonly sources: readonly string[]
  readonly windowed?: WindowInfo
  /** Builds the processors given the sink (its schema is `schema`). */
  readonly build: (ctx: BuildContext, sink: DataSource) => QueryBuild
}

/** One processor and no internal topic. */
function single(spec: ProcessorSpec): QueryBuild {
  return { processors: [spec], topics: [] }
}

function shapeOf(query: QueryNode, ctx: PlanContext): QueryShape {
  if (query.joins.length > 0) return joinShape(query, ctx)
  const { source, scope, timestamp } = fromOf(query, ctx)
  const items = outputItems(query, [{ source, alias: query.from.alias ?? source.name }])
  const where = condition(query.filter, ctx, scope)
  if (query.groupBy.length > 0) return aggregateShape(query, ctx, source, scope, items, where, timestamp)
  if (query.window) throw unsupported('WINDOW needs GROUP BY', query.window.where)
  if (query.having) throw unsupported('HAVING needs GROUP BY', query.having.where)
  const compiled = items.map((i) => ({ ...i, c: compileExpression(i.expression, { scope, functions: ctx.functions }) }))
  // The key: PARTITION BY's expression, else the source's key columns as projected.
  let keyItems: KeyItem[] = []
  let valueItems: CompiledItem[] = compiled
  if (query.partitionBy.length > 0) {
    if (source.kind === 'TABLE') throw unsupported('PARTITION BY applies to streams', query.partitionBy[0]?.where)
    ;({ keyItems, valueItems } = partitionByKey(query, compiled, scope, ctx))
  } else {
    for (const k of source.schema.keys) {
      const projected = compiled.find((it) => it.expression.kind === 'ColumnRefNode' && it.expression.name === k.name)
      if (!projected) {
        throw unknownColumn(
          `the key column ${k.name} of ${source.name} must be in the projection (or re-key with PARTITION BY)`,
          query.where,
        )
      }
      valueItems = valueItems.filter((v) => v !== projected)
      keyItems.push({ name: projected.name, type: k.type, eval: projected.c.eval })
    }
  }
  const { schema, project } = projection(keyItems, valueItems, source.schema.rowtimeIndex)
  return {
    schema,
    kind: source.kind,
    source,
    sources: [source.name],
    build: ({ queryId }, sink) =>
      single(selectProcessor({ id: queryId, source, sink, ...(where ? { where } : {}), project, timestamp })),
  }
}

/** A projected item, compiled. */
export type CompiledItem = OutputItem & { readonly c: Compiled }

/** A result column computed from a source row. */
export interface KeyItem {
  readonly name: string
  readonly type: SqlType
  readonly eval: Compiled['eval']
}

/**
 * PARTITION BY's key columns (none for `PARTITION BY NULL`), each named by the projected item that is the same
 * expression (which then is no value column), else by the column it names, else `KSQL_COL_<n>`.
 */
export function partitionByKey(
  query: QueryNode,
  compiled: readonly CompiledItem[],
  scope: Scope,
  ctx: PlanContext,
): { keyItems: KeyItem[]; valueItems: CompiledItem[] } {
  let valueItems = [...compiled]
  if (query.partitionBy.every((p) => p.kind === 'LiteralNode' && p.value === null)) return { keyItems: [], valueItems }
  const keyItems = query.partitionBy.map((p, i) => {
    const key = exprKey(p)
    const same = compiled.find((it) => exprKey(it.expression) === key)
    const c = compileExpression(p, { scope, functions: ctx.functions })
    if (same) valueItems = valueItems.filter((v) => v !== same)
    const name = same?.name ?? (p.kind === 'ColumnRefNode' ? p.name : `KSQL_COL_${i}`)
    if (!same && p.kind === 'ColumnRefNode') valueItems = valueItems.filter((v) => v.name !== name)
    return { name, type: c.type ?? ({ kind: 'STRING' } as SqlType), eval: c.eval }
  })
  return { keyItems, valueItems }
}

/**
 * The argument evaluators of an aggregate call, its literal-only arguments (`resolved.literals`: TOPK's k,
 * TIME_IN_STATE's state) replaced by their values, computed now. An argument there that is not a constant is refused
 * (OFA_SQL_FUNCTION at the call), and so is a value the aggregate refuses (a k of 0): the aggregate is tried once
 * with them, and NULL for its other arguments.
 */
function withLiterals(
  call: FunctionCallNode,
  resolved: ResolvedAggregate,
  fs: Compiled['eval'][],
  functions: PlannerFunctions,
): Compiled['eval'][] {
  if (resolved.literals.length === 0) return fs
  const out = [...fs]
  const literals = new Set(resolved.literals)
  try {
    for (const i of literals) {
      const scope: Scope = {
        column(ref) {
          throw new OpenFactoryError(
            'OFA_SQL_FUNCTION',
            `${call.name}: argument ${i + 1} must be a literal, not a column (${ref.name})`,
            { where: call.where },
          )
        },
      }
      const v = compileExpression(call.args[i] as Expression, { scope, functions }).eval([])
      out[i] = () => v
    }
    const probe = out.map((f, i) => (literals.has(i) ? f([]) : null))
    resolved.add(resolved.init(), probe, { timestamp: 0, offset: 0 })
  } catch (err) {
    if (isOpenFactoryError(err, 'OFA_SQL_VALUE')) {
      throw new OpenFactoryError('OFA_SQL_FUNCTION', err.message, { where: call.where, cause: err })
    }
    throw err
  }
  return out
}

/**
 * The result schema of key and value items, and the projection of a row into it (pseudo columns copied from
 * `pseudoAt`, the input row's ROWTIME index, when given).
 */
export function projection(
  keyItems: readonly KeyItem[],
  valueItems: readonly CompiledItem[],
  pseudoAt?: number,
): { schema: LogicalSchema; project: (row: Row) => Row } {
  const columns: Column[] = [
    ...keyItems.map((k) => ({ name: k.name, type: k.type, role: 'key' as const })),
    ...valueItems.map((v) => ({
      name: v.name,
      type: v.c.type ?? ({ kind: 'STRING' } as SqlType),
      role: 'value' as const,
    })),
  ]
  const schema = new LogicalSchema(columns)
  const fns = [...keyItems.map((k) => k.eval), ...valueItems.map((v) => v.c.eval)].map(guarded)
  const width = schema.width
  const base = schema.rowtimeIndex
  const project = (row: Row): Row => {
    const out: Row = new Array(width).fill(null)
    for (let i = 0; i < fns.length; i++) out[i] = (fns[i] as Compiled['eval'])(row)
    if (pseudoAt !== undefined) {
      out[base] = row[pseudoAt] ?? null
      out[base + 1] = row[pseudoAt + 1] ?? null
      out[base + 2] = row[pseudoAt + 2] ?? null
    }
    return out
  }
  return { schema, project }
}

function aggregateShape(
  query: QueryNode,
  ctx: PlanContext,
  source: DataSource,
  scope: SourceScope,
  items: OutputItem[],
  where: ((row: Row) => boolean) | undefined,
  timestamp: (row: Row) => number,
): QueryShape {
  const functions = ctx.functions
  // Every aggregate call of the projection and HAVING, once each.
  const calls = new Map<string, FunctionCallNode>()
  const visit = (e: Expression): void => {
    if (e.kind === 'FunctionCallNode' && functions.isAggregate(e.name)) {
      calls.set(exprKey(e), e)
      return
    }
    for (const c of childExpressions(e)) visit(c)
  }
  for (const i of items) visit(i.expression)
  if (query.having) visit(query.having)
  const groups = query.groupBy.map((g) => compileExpression(g, { scope, functions }))
  const aggregates: (AggregateCall & { type: SqlType })[] = [...calls.values()].map((call) => {
    const args = call.args.map((a) => compileExpression(a, { scope, functions }))
    const r = functions.aggregate(
      call.name,
      args.map((a) => a.type),
      call.where,
    )
    if (source.kind === 'TABLE' && !r.undo) {
      // A table's replaced or deleted row is taken back out of its group: every aggregate must undo.
      throw new OpenFactoryError(
        'OFA_SQL_FUNCTION',
        `${call.name} cannot take a row back out of its group, as aggregating table ${source.name} needs: aggregate a stream, or use a function that can (COUNT, SUM, AVG, MIN, MAX, COLLECT_LIST...)`,
        { where: call.where },
      )
    }
    const fs = withLiterals(
      call,
      r,
      args.map((a) => a.eval),
      functions,
    )
    return {
      name: call.name,
      type: r.type,
      init: r.init,
      add: r.add,
      ...(r.undo ? { undo: r.undo } : {}),
      ...(r.merge ? { merge: r.merge } : {}),
      result: r.result,
      args: (row: Row) => fs.map((f) => f(row)),
    }
  })
  const groupKeys = query.groupBy.map(exprKey)
  const callKeys = [...calls.keys()]
  const windowed = query.window !== null
  const g = groups.length
  const replace = (e: Expression): Compiled | undefined => {
    const key = exprKey(e)
    const gi = groupKeys.indexOf(key)
    if (gi >= 0) return { type: groups[gi]?.type ?? null, eval: (row) => row[gi] ?? null }
    const ai = callKeys.indexOf(key)
    if (ai >= 0) return { type: aggregates[ai]?.type ?? null, eval: (row) => row[g + ai] ?? null }
    if (e.kind === 'ColumnRefNode' && windowed && (e.name === 'WINDOWSTART' || e.name === 'WINDOWEND')) {
      const at = g + aggregates.length + (e.name === 'WINDOWSTART' ? 0 : 1)
      return { type: { kind: 'BIGINT' }, eval: (row) => row[at] ?? null }
    }
    // A column of the GROUP BY written with or without its source's name.
    if (e.kind === 'ColumnRefNode') {
      const same = query.groupBy.findIndex(
        (x) => x.kind === 'ColumnRefNode' && x.name === e.name && (e.source === null || x.source === null),
      )
      if (same >= 0) return { type: groups[same]?.type ?? null, eval: (row) => row[same] ?? null }
    }
    return undefined
  }
  const post = items.map((i) => ({
    ...i,
    c: compileExpression(i.expression, { scope: NO_COLUMNS, functions, replace }),
  }))
  // Keys: one per GROUP BY expression, named by the projected item that is that expression.
  let values = post
  const keyColumns: Column[] = query.groupBy.map((expr, i) => {
    const key = exprKey(expr)
    const same = post.find(
      (p) =>
        exprKey(p.expression) === key ||
        (expr.kind === 'ColumnRefNode' && p.expression.kind === 'ColumnRefNode' && p.expression.name === expr.name),
    )
    if (same) values = values.filter((v) => v !== same)
    const name = same?.name ?? (expr.kind === 'ColumnRefNode' ? expr.name : `KSQL_COL_${i}`)
    return { name, type: groups[i]?.type ?? { kind: 'STRING' }, role: 'key' }
  })
  if (windowed)
    values = values.filter(
      (v) =>
        !(
          v.expression.kind === 'ColumnRefNode' &&
          (v.expression.name === 'WINDOWSTART' || v.expression.name === 'WINDOWEND')
        ),
    )
  const columns: Column[] = [
    ...keyColumns,
    ...values.map((v) => ({ name: v.name, type: v.c.type ?? ({ kind: 'STRING' } as SqlType), role: 'value' as const })),
  ]
  let window: WindowSpec | SessionWindowSpec | undefined
  let windowInfo: WindowInfo | undefined
  if (query.window) {
    const w = query.window
    const graceMs = w.gracePeriodMs ?? DAY_MS
    const retentionMs = w.retentionMs ?? Math.max(DAY_MS, w.sizeMs + graceMs)
    if (w.type === 'SESSION') {
      // A record that bridges two sessions merges them: every aggregate must be able to merge its accumulators.
      const call = [...calls.values()][aggregates.findIndex((a) => !a.merge)]
      if (call) {
        throw new OpenFactoryError(
          'OFA_SQL_FUNCTION',
          `${call.name} cannot merge two sessions, which a SESSION window does when a record bridges them (docs/reference/sql-functions.md lists the aggregates that can)`,
          { where: call.where },
        )
      }
      window = { type: 'SESSION', gapMs: w.sizeMs, graceMs, retentionMs }
      windowInfo = { type: 'SESSION' }
    } else {
      window = {
        type: w.type,
        sizeMs: w.sizeMs,
        advanceMs: w.type === 'HOPPING' ? (w.advanceMs ?? w.sizeMs) : w.sizeMs,
        graceMs,
        retentionMs,
      }
      windowInfo = { type: w.type, sizeMs: w.sizeMs }
    }
  }
  const schema = windowed ? new LogicalSchema(columns).withWindow() : new LogicalSchema(columns)
  const keyFns = keyColumns.map((_, i) => (agg: SqlValue[]) => agg[i] ?? null)
  const valueFns = values.map((v) => guarded(v.c.eval))
  const width = schema.width
  const project = (agg: SqlValue[]): Row => {
    const out: Row = new Array(width).fill(null)
    let i = 0
    for (const f of keyFns) out[i++] = f(agg)
    for (const f of valueFns) out[i++] = f(agg)
    return out
  }
  const having = query.having
    ? (() => {
        const c = compileExpression(query.having, { scope: NO_COLUMNS, functions, replace })
        const f = c.eval
        return (agg: SqlValue[]) => f(agg) === true
      })()
    : undefined
  return {
    schema,
    kind: 'TABLE',
    source,
    ...(windowInfo ? { windowed: windowInfo } : {}),
    sources: [source.name],
    build: ({ queryId }, sink) =>
      single(
        aggregateProcessor({
          id: queryId,
          source,
          sink,
          ...(where ? { where } : {}),
          groupBy: (row) => groups.map((c) => c.eval(row)),
          aggregates,
          ...(window ? { window } : {}),
          emitFinal: query.emit === 'FINAL',
          project,
          ...(having ? { having } : {}),
          timestamp,
        }),
      ),
  }
}

function planCreateAs(stmt: CreateAsSelectNode, ctx: PlanContext): Plan {
  const shape = shapeOf(stmt.query, ctx)
  if (shape.kind !== stmt.sourceType) {
    throw new OpenFactoryError(
      'OFA_SQL_TYPE',
      `this query gives a ${shape.kind.toLowerCase()}: use CREATE ${shape.kind}, not CREATE ${stmt.sourceType}`,
      { where: stmt.where },
    )
  }
  const props = new Properties(stmt.properties)
  const topic = props.text('KAFKA_TOPIC') ?? stmt.name
  const sink = dataSource(stmt.name, stmt.sourceType, shape.schema, topic, props, {
    isSource: false,
    statementText: stmt.text,
    like: shape.source,
    ...(shape.windowed ? { windowed: shape.windowed } : {}),
  })
  const partitions = props.number('PARTITIONS')
  const replicas = props.number('REPLICAS')
  const topicNeed: TopicNeed = {
    name: topic,
    ...(partitions ? { partitions } : { partitionsLike: shape.source.topic }),
    ...(replicas ? { replicas } : {}),
    compacted: stmt.sourceType === 'TABLE',
    create: true,
  }
  const query: QueryPlan = {
    kind: stmt.sourceType === 'STREAM' ? 'CSAS' : 'CTAS',
    sink: stmt.name,
    sources: shape.sources,
    build: (b) => shape.build(b, sink),
  }
  // The sink is checked by its codec now (a format that cannot carry its columns is refused at CREATE).
  createRowCodec(sink)
  return {
    kind: 'create-as',
    source: sink,
    topic: topicNeed,
    query,
    orReplace: stmt.orReplace,
    ifNotExists: stmt.ifNotExists,
  }
}

function planInsert(stmt: InsertIntoNode, ctx: PlanContext): Plan {
  const sink = ctx.catalog.require(stmt.target, stmt.where)
  if (sink.kind !== 'STREAM') throw unsupported('INSERT INTO writes into a stream', stmt.where)
  if (sink.isSource) throw unsupported(`${sink.name} is a SOURCE stream: read-only`, stmt.where)
  const shape = shapeOf(stmt.query, ctx)
  const want = sink.schema.columns.map((c) => `${c.name} ${formatType(c.type)}${c.role === 'key' ? ' KEY' : ''}`)
  const got = shape.schema.columns.map((c) => `${c.name} ${formatType(c.type)}${c.role === 'key' ? ' KEY' : ''}`)
  if (want.join(', ') !== got.join(', ')) {
    throw new OpenFactoryError(
      'OFA_SQL_TYPE',
      `the query's result (${got.join(', ')}) does not match ${sink.name} (${want.join(', ')})`,
      { where: stmt.query.where },
    )
  }
  return {
    kind: 'insert',
    query: {
      kind: 'INSERT',
      sink: sink.name,
      sources: shape.sources,
      build: (b) => shape.build(b, sink),
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Transient queries

function planSelect(query: QueryNode, ctx: PlanContext): SelectPlan {
  const { source, scope, timestamp } = fromOf(query, ctx)
  if (query.partitionBy.length > 0) throw unsupported('PARTITION BY in a transient query', query.partitionBy[0]?.where)
  if (query.groupBy.length > 0) return transientAggregate(query, ctx, source, scope, timestamp)
  if (query.window) throw unsupported('WINDOW needs GROUP BY', query.window.where)
  const items = outputItems(query, [{ source, alias: query.from.alias ?? source.name }]).map((i) => ({
    ...i,
    c: compileExpression(i.expression, { scope, functions: ctx.functions }),
  }))
  const header = {
    columnNames: items.map((i) => i.name),
    columnTypes: items.map((i) => (i.c.type ? formatType(i.c.type) : 'STRING')),
  }
  const fns = items.map((i) => guarded(i.c.eval))
  const where = condition(query.filter, ctx, scope)
  const projectRow = (row: Row): SqlValue[] => fns.map((f) => f(row))
  if (query.emit === 'CHANGES') {
    const codec = createRowCodec(source)
    return {
      ...pushOf(query, ctx, source, header),
      rowsOf: (r) => {
        const { row, tombstone } = codec.decode(r)
        if (tombstone || (where && !where(row))) return []
        return [projectRow(row)]
      },
    }
  }
  if (source.kind !== 'TABLE') {
    throw unsupported(
      `a pull query reads a table; ${source.name} is a stream (add EMIT CHANGES for a push query)`,
      query.where,
    )
  }
  // Key lookups when the WHERE is `key = value` or `key IN (...)` on a one-column key; else a scan.
  // (A windowed table holds a row per key and window: its keys are scanned.)
  const keyName = source.schema.keys.length === 1 && !source.windowed ? source.schema.keys[0]?.name : undefined
  let lookups: Expression[] | undefined
  const f = query.filter
  if (keyName && f?.kind === 'ComparisonNode' && f.op === '=') {
    if (f.left.kind === 'ColumnRefNode' && f.left.name === keyName && f.right.kind === 'LiteralNode')
      lookups = [f.right]
    else if (f.right.kind === 'ColumnRefNode' && f.right.name === keyName && f.left.kind === 'LiteralNode')
      lookups = [f.left]
  } else if (
    keyName &&
    f?.kind === 'InNode' &&
    !f.negated &&
    f.operand.kind === 'ColumnRefNode' &&
    f.operand.name === keyName
  ) {
    if (f.list.every((x) => x.kind === 'LiteralNode')) lookups = [...f.list]
  }
  const keys = lookups?.map((l) => compileExpression(l, { scope: NO_COLUMNS, functions: ctx.functions }).eval([]))
  const limit = query.limit
  return {
    kind: 'pull',
    table: source,
    header,
    answer: (lookup, scan) => {
      const out: SqlValue[][] = []
      const rows: Iterable<Row> = keys
        ? keys.flatMap((k) => {
            const r = lookup([k])
            return r ? [r] : []
          })
        : scan()
      for (const row of rows) {
        if (where && !where(row)) continue
        out.push(projectRow(row))
        if (limit !== null && out.length >= limit) break
      }
      return out
    },
  }
}

/** What every push query has: its header, its source, its LIMIT, where it starts reading. */
function pushOf(
  query: QueryNode,
  ctx: PlanContext,
  source: DataSource,
  header: Omit<QueryHeader, 'queryId'>,
): Omit<Extract<SelectPlan, { kind: 'push' }>, 'rowsOf'> {
  return {
    kind: 'push',
    header,
    source,
    ...(query.limit !== null ? { limit: query.limit } : {}),
    from: ctx.properties['auto.offset.reset'] === 'earliest' ? 'earliest' : 'latest',
  }
}

/**
 * A push query with GROUP BY (`SELECT g, COUNT(*) FROM s GROUP BY g EMIT CHANGES`): the aggregation a persistent
 * query would run, run here in memory over the records the query reads — its state lives and dies with the query —,
 * each change of a group a row (in the projection's order; a group a HAVING drops gives none).
 */
function transientAggregate(
  query: QueryNode,
  ctx: PlanContext,
  source: DataSource,
  scope: SourceScope,
  timestamp: (row: Row) => number,
): SelectPlan {
  if (query.emit !== 'CHANGES') {
    throw unsupported('a transient query with GROUP BY is a push query: add EMIT CHANGES', query.where)
  }
  const items = outputItems(query, [{ source, alias: query.from.alias ?? source.name }])
  const shape = aggregateShape(query, ctx, source, scope, items, condition(query.filter, ctx, scope), timestamp)
  const sink: DataSource = {
    name: 'TRANSIENT',
    kind: 'TABLE',
    schema: shape.schema,
    topic: '_transient',
    keyFormat: 'JSON',
    valueFormat: 'JSON',
    wrapSingleValue: true,
    ...(shape.windowed ? { windowed: shape.windowed } : {}),
    isSource: false,
    statementText: '',
  }
  const spec = shape.build({ queryId: 'transient', partitions: () => 1 }, sink).processors[0] as ProcessorSpec
  const codec = createRowCodec(sink)
  // Each item's column of the result (WINDOWSTART, WINDOWEND by their own names whatever their alias).
  const columnOf = (i: OutputItem) =>
    i.expression.kind === 'ColumnRefNode' && (i.expression.name === 'WINDOWSTART' || i.expression.name === 'WINDOWEND')
      ? i.expression.name
      : i.name
  const at = items.map((i) => shape.schema.indexOf(columnOf(i)))
  const header = {
    columnNames: items.map((i) => i.name),
    columnTypes: items.map((i) => formatType(shape.schema.typeOf(columnOf(i)) ?? SqlType.STRING)),
  }
  return {
    ...pushOf(query, ctx, source, header),
    rowsOf: inMemory(spec, (record) => {
      if (record.value === null) return undefined
      const { row } = codec.decode({ ...record, partition: 0, offset: 0, headers: [] } as unknown as LogRecord)
      return at.map((i) => row[i] ?? null)
    }),
  }
}

/**
 * A processor of one input run in memory, record by record: its stores in memory, its emitted records turned into
 * rows by `rowOf` (undefined: none).
 */
function inMemory(
  spec: ProcessorSpec,
  rowOf: (record: ProducerRecord) => SqlValue[] | undefined,
): (record: LogRecord) => SqlValue[][] {
  const stores = new Map((spec.stores ?? []).map((n) => [n, new MemoryStore(n)]))
  let streamTime = -1
  let emitted: ProducerRecord[] = []
  let partition = 0
  const ctx: ProcessorContext = {
    get partition() {
      return partition
    },
    get streamTime() {
      return streamTime
    },
    store<V>(name: string) {
      const s = stores.get(name)
      if (!s) throw new Error(`no store ${name}`)
      return s as unknown as KeyValueStore<V>
    },
    emit(_topic, record) {
      emitted.push(record)
    },
  }
  return (record) => {
    partition = record.partition
    emitted = []
    spec.process({ ...record, input: 0 }, ctx)
    if (record.timestamp > streamTime) {
      streamTime = record.timestamp
      spec.onStreamTime?.(streamTime, ctx)
    }
    for (const s of stores.values()) s.takeChanges()
    return emitted.flatMap((e) => {
      const row = rowOf(e)
      return row ? [row] : []
    })
  }
}
