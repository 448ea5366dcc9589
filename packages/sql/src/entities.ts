/**
 * The catalog as ksqlDB's REST entities (engine-api.ts): SHOW STREAMS / TABLES / QUERIES, DESCRIBE.
 */
import type { Catalog, DataSource, PersistentQueryInfo } from './catalog.ts'
import type { FieldInfo, QueryInfo, SourceDescription, SourceInfo } from './engine-api.ts'
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

export function sourceDescription(
  s: DataSource,
  catalog: Catalog,
  topic: { partitions: number; replication: number },
  failed: (id: string) => boolean,
): SourceDescription {
  const fields: FieldInfo[] = s.schema.columns.map((c) => ({
    name: c.name,
    schema: fieldSchema(c.type),
    ...(c.role === 'key' ? { type: 'KEY' as const } : c.role === 'header' ? { type: 'HEADER' as const } : {}),
  }))
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
