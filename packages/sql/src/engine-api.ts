/**
 * What the SQL engine offers the serving layer and the `ofa sql` shell: statements executed with ksqlDB's result
 * entities, and queries (pull: a finite answer from a table's current state; push: `EMIT CHANGES`, rows as they
 * come). The entities are ksqlDB's REST shapes (`@type` and its fields), so the ksqlDB-compatible routes pass them
 * through and ksqlDB's clients read them; the shell prints them as tables.
 */
import type { OpenFactoryError } from '@openfactory/model'
import type { SqlValue } from './types.ts'

/** Statement properties (`streamsProperties` of /ksql, `SET` in a session): `auto.offset.reset` and others. */
export type StatementProperties = Readonly<Record<string, string | number | boolean>>

/** One result of a statement, as ksqlDB's `/ksql` endpoint writes it. */
export type KsqlEntity =
  | {
      readonly '@type': 'currentStatus'
      readonly statementText: string
      readonly commandId: string
      readonly commandStatus: { readonly status: 'SUCCESS'; readonly message: string; readonly queryId?: string }
      readonly commandSequenceNumber: number
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'streams'
      readonly statementText: string
      readonly streams: readonly SourceInfo[]
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'tables'
      readonly statementText: string
      readonly tables: readonly SourceInfo[]
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'queries'
      readonly statementText: string
      readonly queries: readonly QueryInfo[]
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'sourceDescription'
      readonly statementText: string
      readonly sourceDescription: SourceDescription
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'kafka_topics'
      readonly statementText: string
      readonly topics: readonly { readonly name: string; readonly replicaInfo: readonly number[] }[]
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'properties'
      readonly statementText: string
      readonly properties: readonly { readonly name: string; readonly scope: string; readonly value: string }[]
      readonly overwrittenProperties: readonly string[]
      readonly defaultProperties: readonly string[]
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'queryDescription'
      readonly statementText: string
      readonly queryDescription: QueryDescription
      readonly warnings: readonly { readonly message: string }[]
    }
  | {
      readonly '@type': 'function_names'
      readonly statementText: string
      readonly functions: readonly { readonly name: string; readonly category: string; readonly type: string }[]
      readonly warnings: readonly { readonly message: string }[]
    }

export interface SourceInfo {
  readonly type: 'STREAM' | 'TABLE'
  readonly name: string
  readonly topic: string
  readonly keyFormat: string
  readonly valueFormat: string
  readonly isWindowed: boolean
}

export interface QueryInfo {
  readonly queryString: string
  readonly sinks: readonly string[]
  readonly sinkKafkaTopics: readonly string[]
  readonly id: string
  readonly queryType: 'PERSISTENT'
  readonly state: 'RUNNING' | 'ERROR'
}

/** `EXPLAIN <query id>`: ksqlDB's query description (its topology text is ours: processors and topics). */
export interface QueryDescription {
  readonly id: string
  readonly statementText: string
  readonly windowType?: string
  readonly fields: readonly FieldInfo[]
  readonly sources: readonly string[]
  readonly sinks: readonly string[]
  readonly topology: string
  readonly executionPlan: string
  readonly overriddenProperties: Readonly<Record<string, unknown>>
  readonly queryType: 'PERSISTENT'
  readonly state: 'RUNNING' | 'ERROR'
}

export interface FieldInfo {
  readonly name: string
  readonly schema: {
    readonly type: string
    readonly fields: readonly FieldInfo[] | null
    readonly memberSchema: unknown
  }
  readonly type?: 'KEY' | 'HEADER'
}

export interface SourceDescription {
  readonly name: string
  readonly type: 'STREAM' | 'TABLE'
  readonly fields: readonly FieldInfo[]
  readonly topic: string
  readonly keyFormat: string
  readonly valueFormat: string
  readonly windowType?: string
  readonly readQueries: readonly QueryInfo[]
  readonly writeQueries: readonly QueryInfo[]
  readonly timestamp: string
  readonly statement: string
  readonly partitions: number
  readonly replication: number
}

/** The header of a query's answer: ksqlDB's `/query-stream` metadata. */
export interface QueryHeader {
  readonly queryId: string
  readonly columnNames: readonly string[]
  /** ksqlDB type names: `STRING`, `BIGINT`, `MAP<STRING, STRING>`, `STRUCT<...>`. */
  readonly columnTypes: readonly string[]
}

export interface QueryResult {
  readonly kind: 'pull' | 'push'
  readonly header: QueryHeader
  /** Rows, each in `columnNames` order. A pull query ends; a push query runs until `close()` or its LIMIT. */
  readonly rows: AsyncIterable<readonly SqlValue[]>
  close(): Promise<void>
}

/** A table's rows as a pull query reads them (`SqlEngineApi.tableRows`). */
export interface TableRows {
  /** The table's name as the catalog has it. */
  readonly table: string
  /** Its columns: keys first, then values; a windowed table's window bounds after the keys. */
  readonly columns: readonly { readonly name: string; readonly type: string; readonly key: boolean }[]
  readonly rows: readonly (readonly SqlValue[])[]
}

export interface SqlEngineApi {
  /** Runs statements (DDL, DML, SHOW, DESCRIBE, TERMINATE, SET/UNSET); the first failing one throws, the ones before it took effect. */
  execute(text: string, opts?: { readonly properties?: StatementProperties }): Promise<KsqlEntity[]>
  /** Runs one SELECT. Pull: from a table's current state; push (`EMIT CHANGES`): rows as they come. */
  query(
    text: string,
    opts?: { readonly properties?: StatementProperties; readonly signal?: AbortSignal },
  ): Promise<QueryResult>
  /**
   * A table's current rows, read as a pull query reads them (caught up with its topic first): all of them (at most
   * `limit`), or those of one key (`key`, text cast to the key column's type). A name unquoted in SQL is upper case:
   * `name` is matched as given, then upper-cased. `OFA_SQL_UNKNOWN_SOURCE` for no such table (or a stream).
   */
  tableRows(
    name: string,
    opts?: { readonly key?: string; readonly limit?: number; readonly signal?: AbortSignal },
  ): Promise<TableRows>
  /** Streams and tables known, persistent queries running. */
  readonly healthy: boolean
}

/** An error as ksqlDB's REST API answers it (`@type`, `error_code`, `message`, `statementText`). */
export interface KsqlError {
  readonly '@type': 'statement_error' | 'generic_error'
  readonly error_code: number
  readonly message: string
  readonly statementText?: string
  readonly entities: readonly KsqlEntity[]
  /** Our coded error behind it (code, message, where). */
  readonly cause?: OpenFactoryError
}
