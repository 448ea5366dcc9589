/**
 * The file formats of `ofa export` (a history range of assets, read from the log by the CLI): one row per
 * observation with the same columns in every format.
 *
 * - CSV (RFC 4180): header `asset,timestamp,id,tag,type,value,units,quality,partition,offset`, CRLF line ends; a
 *   field holding a comma, a double quote, CR or LF is quoted, its quotes doubled (serve's history export writes
 *   the same rows for one asset, without `asset`, `quality` and `partition`).
 * - JSON lines: one history item per line (the API's `HistoryItem`: `assetUuid`, `id`, `value`, `tag`, `type`,
 *   `timestamp`, `attributes`, `offset`), LF line ends.
 * - Parquet (hyparquet-writer, Snappy): columns `asset`, `timestamp` (INT64 TIMESTAMP_MILLIS, the source time),
 *   `id`, `tag`, `type`, `value` (the value as text: a number's shortest decimal), `value_num` (DOUBLE, null when the
 *   value is not a number), `units`, `quality` (null when absent), `partition` (INT32), `offset` (INT64); a row group
 *   per `rowGroupRows` rows, each written out before the next is built (memory: one row group).
 */
import { ByteWriter, ParquetWriter } from 'hyparquet-writer'

export type ExportFileFormat = 'csv' | 'jsonl' | 'parquet'
export const EXPORT_FORMATS: readonly ExportFileFormat[] = ['csv', 'jsonl', 'parquet']

/** One observation to export. */
export interface ExportRow {
  readonly asset: string
  /** Source time (epoch ms). */
  readonly time: number
  /** Source time as the observation carries it (ISO-8601). */
  readonly timestamp: string
  readonly id: string
  readonly tag: string
  readonly type: string
  readonly value: number | string
  readonly attributes: Readonly<Record<string, unknown>>
  readonly partition: number
  readonly offset: number
}

/** Where the bytes go; resolves once taken (backpressure). */
export type ExportSink = (chunk: string | Uint8Array) => Promise<void>

export interface ExportWriter {
  /** Adds rows (one read batch of the log). */
  write(rows: readonly ExportRow[]): Promise<void>
  /** Writes what is left (the Parquet footer). */
  end(): Promise<void>
}

export const CSV_EXPORT_HEADER = 'asset,timestamp,id,tag,type,value,units,quality,partition,offset\r\n'
/** Rows per Parquet row group. */
export const DEFAULT_ROW_GROUP_ROWS = 100_000

const NEEDS_QUOTES = /[",\r\n]/
function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
function text(v: unknown): string {
  return typeof v === 'string' ? v : ''
}

export function createExportWriter(
  format: ExportFileFormat,
  sink: ExportSink,
  opts: { rowGroupRows?: number } = {},
): ExportWriter {
  if (format === 'csv') {
    let head = CSV_EXPORT_HEADER
    return {
      async write(rows) {
        let out = head
        head = ''
        for (const r of rows) {
          out += `${csvField(r.asset)},${csvField(r.timestamp)},${csvField(r.id)},${csvField(r.tag)},${csvField(r.type)},${
            typeof r.value === 'number' ? String(r.value) : csvField(r.value)
          },${csvField(text(r.attributes.units))},${csvField(text(r.attributes.quality))},${r.partition},${r.offset}\r\n`
        }
        if (out !== '') await sink(out)
      },
      async end() {
        if (head !== '') await sink(head)
      },
    }
  }
  if (format === 'jsonl') {
    return {
      async write(rows) {
        let out = ''
        for (const r of rows) {
          out += `${JSON.stringify({
            assetUuid: r.asset,
            id: r.id,
            value: r.value,
            tag: r.tag,
            type: r.type,
            timestamp: r.timestamp,
            attributes: r.attributes,
            offset: r.offset,
          })}\n`
        }
        if (out !== '') await sink(out)
      },
      async end() {},
    }
  }
  return new ParquetExport(sink, opts.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS)
}

const SCHEMA = [
  { name: 'root', num_children: 11 },
  { name: 'asset', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'timestamp', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'REQUIRED' },
  { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'tag', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'type', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'value_num', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'units', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'quality', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'partition', type: 'INT32', repetition_type: 'REQUIRED' },
  { name: 'offset', type: 'INT64', repetition_type: 'REQUIRED' },
] as const

class ParquetExport implements ExportWriter {
  readonly #sink: ExportSink
  readonly #rowGroupRows: number
  readonly #bytes = new ByteWriter()
  readonly #writer: ParquetWriter
  #rows: ExportRow[] = []

  constructor(sink: ExportSink, rowGroupRows: number) {
    this.#sink = sink
    this.#rowGroupRows = rowGroupRows
    this.#writer = new ParquetWriter({
      writer: this.#bytes,
      schema: SCHEMA as unknown as ConstructorParameters<typeof ParquetWriter>[0]['schema'],
      createdBy: 'OpenFactory ofa export',
    })
  }

  async write(rows: readonly ExportRow[]): Promise<void> {
    for (const r of rows) {
      this.#rows.push(r)
      if (this.#rows.length >= this.#rowGroupRows) await this.#group()
    }
  }

  async end(): Promise<void> {
    if (this.#rows.length > 0) await this.#group()
    await this.#writer.finish()
    await this.#drain()
  }

  /** Encodes the rows held as one row group and hands its bytes on. */
  async #group(): Promise<void> {
    const rows = this.#rows
    this.#rows = []
    const col = <T>(f: (r: ExportRow) => T): T[] => rows.map(f)
    const opt = (v: unknown): string | null => (typeof v === 'string' ? v : null)
    await this.#writer.write({
      rowGroupSize: rows.length,
      columnData: [
        { name: 'asset', data: col((r) => r.asset) },
        { name: 'timestamp', data: col((r) => BigInt(r.time)) },
        { name: 'id', data: col((r) => r.id) },
        { name: 'tag', data: col((r) => r.tag) },
        { name: 'type', data: col((r) => r.type) },
        { name: 'value', data: col((r) => String(r.value)) },
        { name: 'value_num', data: col((r) => (typeof r.value === 'number' ? r.value : null)) },
        { name: 'units', data: col((r) => opt(r.attributes.units)) },
        { name: 'quality', data: col((r) => opt(r.attributes.quality)) },
        { name: 'partition', data: col((r) => r.partition) },
        { name: 'offset', data: col((r) => BigInt(r.offset)) },
      ],
    })
    await this.#drain()
  }

  /** Hands on the bytes encoded so far; the writer keeps counting offsets from where it was. */
  async #drain(): Promise<void> {
    const b = this.#bytes
    if (b.index === 0) return
    const chunk = new Uint8Array(b.buffer.slice(0, b.index))
    b.index = 0
    await this.#sink(chunk)
  }
}
