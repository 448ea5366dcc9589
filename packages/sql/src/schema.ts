/**
 * The logical schema of a stream or table: its columns in order — key columns, then value columns, then header
 * columns — and the pseudo columns every row has. A row at run time is one array in this order, so a compiled
 * expression reads a column by index:
 *
 *   [ ...keys, ...values, ...headers, ROWTIME, ROWPARTITION, ROWOFFSET, (WINDOWSTART, WINDOWEND when windowed) ]
 *
 * Column names are stored as the parser normalised them (unquoted names upper-cased); lookups are exact.
 */
import { OpenFactoryError } from '@openfactory/model'
import { SqlType } from './types.ts'

export type ColumnRole = 'key' | 'value' | 'header'

export interface Column {
  readonly name: string
  readonly type: SqlType
  readonly role: ColumnRole
  /** `HEADER('name')`: the one header this column holds; absent with role `header`: every header (`HEADERS`). */
  readonly headerKey?: string
}

export const PSEUDO_COLUMNS = ['ROWTIME', 'ROWPARTITION', 'ROWOFFSET'] as const
export const WINDOW_COLUMNS = ['WINDOWSTART', 'WINDOWEND'] as const

const PSEUDO_TYPES: Readonly<Record<string, SqlType>> = {
  ROWTIME: SqlType.BIGINT,
  ROWPARTITION: SqlType.INTEGER,
  ROWOFFSET: SqlType.BIGINT,
  WINDOWSTART: SqlType.BIGINT,
  WINDOWEND: SqlType.BIGINT,
}

export class LogicalSchema {
  /** Key, value and header columns, in row order. */
  readonly columns: readonly Column[]
  readonly windowed: boolean
  readonly #index = new Map<string, number>()

  constructor(columns: readonly Column[], opts: { windowed?: boolean } = {}) {
    const order: ColumnRole[] = ['key', 'value', 'header']
    this.columns = [...columns].sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role))
    this.windowed = opts.windowed ?? false
    this.columns.forEach((c, i) => {
      if (this.#index.has(c.name)) {
        throw new OpenFactoryError('OFA_SQL_TYPE', `column ${c.name} is declared twice`)
      }
      this.#index.set(c.name, i)
    })
    const pseudo = [...PSEUDO_COLUMNS, ...(this.windowed ? WINDOW_COLUMNS : [])]
    pseudo.forEach((name, i) => {
      if (!this.#index.has(name)) this.#index.set(name, this.columns.length + i)
    })
  }

  get keys(): readonly Column[] {
    return this.columns.filter((c) => c.role === 'key')
  }

  get values(): readonly Column[] {
    return this.columns.filter((c) => c.role === 'value')
  }

  get headers(): readonly Column[] {
    return this.columns.filter((c) => c.role === 'header')
  }

  /** Row length: the columns and the pseudo columns. */
  get width(): number {
    return this.columns.length + PSEUDO_COLUMNS.length + (this.windowed ? WINDOW_COLUMNS.length : 0)
  }

  /** Index of a column or pseudo column in a row, or -1. */
  indexOf(name: string): number {
    return this.#index.get(name) ?? -1
  }

  /** Type of a column or pseudo column, or undefined. */
  typeOf(name: string): SqlType | undefined {
    const i = this.#index.get(name)
    if (i === undefined) return undefined
    return this.columns[i]?.type ?? PSEUDO_TYPES[name]
  }

  /** Index of ROWTIME (then ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND follow it). */
  get rowtimeIndex(): number {
    return this.columns.length
  }

  withWindow(): LogicalSchema {
    return new LogicalSchema(this.columns, { windowed: true })
  }
}
