/**
 * The catalog (ksqlDB's metastore): the streams and tables declared, and the persistent queries that feed them.
 * The engine rebuilds it at start by replaying its command topic (engine.ts), so it holds no state of its own.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { LogicalSchema } from './schema.ts'

export type SourceKind = 'STREAM' | 'TABLE'
export type Format = 'JSON' | 'KAFKA' | 'DELIMITED' | 'NONE'

export interface WindowInfo {
  readonly type: 'TUMBLING' | 'HOPPING' | 'SESSION'
  /** Window size (tumbling, hopping); absent for session windows. */
  readonly sizeMs?: number
}

export interface DataSource {
  readonly name: string
  readonly kind: SourceKind
  readonly schema: LogicalSchema
  readonly topic: string
  readonly keyFormat: Format
  readonly valueFormat: Format
  /** A single value column is the bare value (WRAP_SINGLE_VALUE=false) rather than an object with one field. */
  readonly wrapSingleValue: boolean
  /** `DELIMITED`'s delimiter. */
  readonly valueDelimiter?: string
  /** The column holding the event time (`TIMESTAMP` property); default ROWTIME (the record's timestamp). */
  readonly timestampColumn?: string
  /** `TIMESTAMP_FORMAT`: how a STRING timestamp column is read (Java DateTimeFormatter pattern). */
  readonly timestampFormat?: string
  readonly windowed?: WindowInfo
  /** Declared with CREATE SOURCE: read-only, no INSERT INTO, materialised for pull queries. */
  readonly isSource: boolean
  /** The query that writes it (CREATE ... AS SELECT), if any. */
  readonly queryId?: string
  readonly statementText: string
}

export type QueryKind = 'CSAS' | 'CTAS' | 'INSERT'

export interface PersistentQueryInfo {
  readonly id: string
  readonly kind: QueryKind
  readonly sink: string
  readonly sources: readonly string[]
  readonly statementText: string
}

export class Catalog {
  readonly #sources = new Map<string, DataSource>()
  readonly #queries = new Map<string, PersistentQueryInfo>()
  #nextQuery = 0

  source(name: string): DataSource | undefined {
    return this.#sources.get(name)
  }

  /** The source, or `OFA_SQL_UNKNOWN_SOURCE` naming what exists. */
  require(name: string, where?: { line: number; column: number }): DataSource {
    const s = this.#sources.get(name)
    if (s) return s
    const known = [...this.#sources.keys()].sort()
    throw new OpenFactoryError(
      'OFA_SQL_UNKNOWN_SOURCE',
      `${name} is not a stream or table${known.length ? ` (known: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})` : ''}`,
      where ? { where } : {},
    )
  }

  sources(): DataSource[] {
    return [...this.#sources.values()]
  }

  add(source: DataSource, opts: { replace?: boolean } = {}): void {
    const old = this.#sources.get(source.name)
    if (old && !opts.replace) {
      throw new OpenFactoryError(
        'OFA_SQL_EXISTS',
        `${old.kind === 'STREAM' ? 'a stream' : 'a table'} named ${source.name} exists already`,
      )
    }
    if (old && old.kind !== source.kind) {
      throw new OpenFactoryError(
        'OFA_SQL_EXISTS',
        `${source.name} is a ${old.kind.toLowerCase()}: CREATE OR REPLACE cannot make it a ${source.kind.toLowerCase()}`,
      )
    }
    this.#sources.set(source.name, source)
  }

  drop(name: string): DataSource {
    const s = this.require(name)
    const writers = [...this.#queries.values()].filter((q) => q.sink === name)
    const readers = [...this.#queries.values()].filter((q) => q.sources.includes(name))
    if (writers.length > 0 || readers.length > 0) {
      const ids = [...new Set([...writers, ...readers].map((q) => q.id))]
      throw new OpenFactoryError(
        'OFA_SQL_EXISTS',
        `cannot drop ${name}: queries use it (${ids.join(', ')}); TERMINATE them first`,
      )
    }
    this.#sources.delete(name)
    return s
  }

  queries(): PersistentQueryInfo[] {
    return [...this.#queries.values()]
  }

  query(id: string): PersistentQueryInfo | undefined {
    return this.#queries.get(id)
  }

  /** A new query id as ksqlDB forms them: `CSAS_ASSETS_STREAM_3`, `CTAS_ASSETS_5`, `INSERTQUERY_7`. */
  nextQueryId(kind: QueryKind, sink: string): string {
    const n = this.#nextQuery++
    return kind === 'INSERT' ? `INSERTQUERY_${n}` : `${kind}_${sink.replace(/[^A-Za-z0-9_]/g, '_')}_${n}`
  }

  addQuery(q: PersistentQueryInfo): void {
    this.#queries.set(q.id, q)
    const n = Number(q.id.slice(q.id.lastIndexOf('_') + 1))
    if (Number.isInteger(n) && n >= this.#nextQuery) this.#nextQuery = n + 1
  }

  removeQuery(id: string): PersistentQueryInfo {
    const q = this.#queries.get(id)
    if (!q) throw new OpenFactoryError('OFA_SQL_UNKNOWN_SOURCE', `no query ${id} is running`)
    this.#queries.delete(id)
    return q
  }
}
