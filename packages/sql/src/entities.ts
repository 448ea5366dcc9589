/**
 * The catalog as ksqlDB's REST entities (engine-api.ts): SHOW STREAMS / TABLES / QUERIES, DESCRIBE, EXPLAIN.
 */
import type { Catalog, DataSource, PersistentQueryInfo } from './catalog.ts'
import type { FieldInfo, QueryDescription, QueryInfo, SourceDescription, SourceInfo } from './engine-api.ts'
import type { ProcessorSpec } from './processor/processor.ts'
import { formatType, type SqlType } from './types.ts'

/** ksqlDB's field schema: `{type, fields, memberSchema}` (STRUCT fields, ARRAY element, MAP value). */
export function fieldSchema(t: SqlType): FieldInfo['schema'] {
  switch (t.kind) {
    case 'STRUCT':
      return {
        type: 'STRUCT',
        fields: t.fields.map((f) => ({ name: f.name, schema: fieldSchema(f.type) })),
        memberSchema: null,
      }
    case 'ARRAY':
      return { type: 'ARRAY', fields: null, memberSchema: fieldSchema(t.element) }
    case 'MAP':
      return { type: 'MAP', fields: null, memberSchema: fieldSchema(t.value) }
    case 'DECIMAL':
      return { type: formatType(t), fields: null, memberSchema: null }
    default:
      return { type: t.kind, fields: null, memberSchema: null }
  }
}

export function sourceInfo(s: DataSource): SourceInfo {
  return {
    type: s.kind,
    name: s.name,
    topic: s.topic,
    keyFormat: s.keyFormat,
    valueFormat: s.valueFormat,
    isWindowed: s.windowed !== undefined,
  }
}

export function queryInfo(q: PersistentQueryInfo, catalog: Catalog, failed: boolean): QueryInfo {
  const sink = catalog.source(q.sink)
  return {
    queryString: q.statementText,
    sinks: [q.sink],
    sinkKafkaTopics: sink ? [sink.topic] : [],
    id: q.id,
    queryType: 'PERSISTENT',
    state: failed ? 'ERROR' : 'RUNNING',
  }
}

/** A source's columns as ksqlDB's fields (KEY and HEADER marked). */
export function fieldsOf(s: DataSource): FieldInfo[] {
  return s.schema.columns.map((c) => ({
    name: c.name,
    schema: fieldSchema(c.type),
    ...(c.role === 'key' ? { type: 'KEY' as const } : c.role === 'header' ? { type: 'HEADER' as const } : {}),
  }))
}

/**
 * `EXPLAIN <query id>`: the query, its sink's fields, its sources and sink, and how it runs — each processor with
 * the topics it reads and writes and its stores (`topology`, `executionPlan`).
 */
export function queryDescription(
  q: PersistentQueryInfo,
  catalog: Catalog,
  processors: readonly ProcessorSpec[],
  failed: boolean,
): QueryDescription {
  const sink = catalog.source(q.sink)
  const topology = processors
    .map(
      (p) =>
        `Processor ${p.id}\n  reads   ${p.inputs.join(', ')}\n  writes  ${p.outputs.join(', ')}${
          p.stores?.length ? `\n  stores  ${p.stores.join(', ')}` : ''
        }\n  checkpoint _ofa_proc_${p.id}`,
    )
    .join('\n')
  return {
    id: q.id,
    statementText: q.statementText,
    ...(sink?.windowed ? { windowType: sink.windowed.type } : {}),
    fields: sink ? fieldsOf(sink) : [],
    sources: [...q.sources],
    sinks: [q.sink],
    topology,
    executionPlan: topology,
    overriddenProperties: {},
    queryType: 'PERSISTENT',
    state: failed ? 'ERROR' : 'RUNNING',
  }
}

export function sourceDescription(
  s: DataSource,
  catalog: Catalog,
  topic: { partitions: number; replication: number },
  failed: (id: string) => boolean,
): SourceDescription {
  const fields = fieldsOf(s)
  const queries = catalog.queries()
  return {
    name: s.name,
    type: s.kind,
    fields,
    topic: s.topic,
    keyFormat: s.keyFormat,
    valueFormat: s.valueFormat,
    ...(s.windowed ? { windowType: s.windowed.type } : {}),
    readQueries: queries.filter((q) => q.sources.includes(s.name)).map((q) => queryInfo(q, catalog, failed(q.id))),
    writeQueries: queries.filter((q) => q.sink === s.name).map((q) => queryInfo(q, catalog, failed(q.id))),
    timestamp: s.timestampColumn ?? '',
    statement: s.statementText,
    partitions: topic.partitions,
    replication: topic.replication,
  }
}

/** ksqlDB's schema string of a query header: `` `ID` STRING, `VALUE` DOUBLE ``. */
export function schemaString(columns: readonly { name: string; type: SqlType }[]): string {
  return columns.map((c) => `\`${c.name}\` ${formatType(c.type)}`).join(', ')
}
