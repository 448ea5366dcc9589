/**
 * What a statement does, decided by the planner (planner.ts) before anything happens: the engine (engine.ts)
 * checks a whole plan first, records the statement on its command topic, then carries the plan out — so a
 * statement takes effect entirely or not at all, and a replay of the command topic does exactly the same.
 */
import type { DataSource } from './catalog.ts'
import type { QueryHeader } from './engine-api.ts'
import type { ProcessorSpec } from './processor/processor.ts'
import type { Row } from './row-codec.ts'
import type { SqlValue } from './types.ts'

/** A topic a statement needs: created with these settings when missing (`create`), else it must exist. */
export interface TopicNeed {
  readonly name: string
  readonly partitions?: number
  /** No PARTITIONS given: as many as this topic has (a query's sink has its source's). */
  readonly partitionsLike?: string
  readonly replicas?: number
  readonly compacted?: boolean
  /** Create it when missing (CREATE ... AS SELECT, or PARTITIONS given). */
  readonly create: boolean
}

/** What a query is built from: its id, and the partition count of each topic its sources read. */
export interface BuildContext {
  readonly queryId: string
  /** Partitions of a source's topic (every topic of `QueryPlan.sources`). */
  partitions(topic: string): number
}

/** The processors of a query, and the internal topics (repartitions, join subscriptions) they need. */
export interface QueryBuild {
  readonly processors: readonly ProcessorSpec[]
  /** Created before the processors start (when missing); named after the query id, so a replay finds them. */
  readonly topics: readonly TopicNeed[]
}

/** A persistent query: what it reads and writes, and the processors that run it under a given id. */
export interface QueryPlan {
  readonly kind: 'CSAS' | 'CTAS' | 'INSERT'
  readonly sink: string
  readonly sources: readonly string[]
  /** The processors that run it (several when it repartitions first or joins on a foreign key). */
  build(ctx: BuildContext): QueryBuild
}

/** A transient SELECT: a pull query answered from a table's state, or a push query run until closed. */
export type SelectPlan =
  | {
      readonly kind: 'pull'
      readonly table: DataSource
      readonly header: Omit<QueryHeader, 'queryId'>
      /** The rows of the answer, given the table's current rows (all of them, or those of the keys looked up). */
      readonly answer: (
        lookup: (key: readonly SqlValue[]) => Row | undefined,
        scan: () => Iterable<Row>,
      ) => SqlValue[][]
    }
  | {
      readonly kind: 'push'
      readonly header: Omit<QueryHeader, 'queryId'>
      readonly source: DataSource
      readonly limit?: number
      /** Where it starts reading (`auto.offset.reset`: latest by default for push queries, as ksqlDB). */
      readonly from: 'earliest' | 'latest'
      /** Rows out of one record (none when filtered out); throws OFA_SQL_VALUE for a record that does not decode. */
      readonly rowsOf: (record: import('@openfactory/log').LogRecord) => SqlValue[][]
    }

export type Plan =
  | {
      readonly kind: 'create-source'
      readonly source: DataSource
      readonly topic: TopicNeed
      readonly orReplace: boolean
      readonly ifNotExists: boolean
    }
  | {
      readonly kind: 'create-as'
      readonly source: DataSource
      readonly topic: TopicNeed
      readonly query: QueryPlan
      readonly orReplace: boolean
      readonly ifNotExists: boolean
    }
  | { readonly kind: 'insert'; readonly query: QueryPlan }
  | {
      readonly kind: 'insert-values'
      readonly sink: DataSource
      readonly record: {
        readonly key: import('@openfactory/log').RecordData | null
        readonly value: import('@openfactory/log').RecordData | null
        readonly timestamp?: number
      }
    }
  | {
      readonly kind: 'drop'
      readonly name: string
      readonly sourceKind: 'STREAM' | 'TABLE'
      readonly ifExists: boolean
      readonly deleteTopic: boolean
    }
  | { readonly kind: 'terminate'; readonly queryId: string | 'ALL' }
  | { readonly kind: 'set'; readonly name: string; readonly value: string }
  | { readonly kind: 'unset'; readonly name: string }
  | {
      readonly kind: 'show'
      readonly what: 'STREAMS' | 'TABLES' | 'QUERIES' | 'TOPICS' | 'PROPERTIES' | 'FUNCTIONS'
      readonly extended: boolean
    }
  | { readonly kind: 'describe'; readonly name: string; readonly extended: boolean }
  | { readonly kind: 'explain'; readonly queryId: string }
  | { readonly kind: 'select'; readonly select: SelectPlan }
