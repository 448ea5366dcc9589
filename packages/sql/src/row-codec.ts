/**
 * From a log record to a row of a source's schema and back, through the key and value formats (serde/).
 *
 * Windowed keys (the output of a windowed aggregation) carry their window after the key's bytes, as Kafka Streams
 * writes them, so that a ksqlDB client reads them alike: a time window (tumbling, hopping) appends the window start
 * as an 8-byte big-endian signed integer (ms); a session window appends the end then the start, 8 bytes each.
 * A time window's end is its start plus the window size.
 */
import type { LogRecord, ProducerRecord } from '@openfactory/log'
import type { DataSource } from './catalog.ts'
import type { LogicalSchema } from './schema.ts'
import { createSerde, decodeHeaders, type Serde } from './serde/index.ts'
import type { SqlValue } from './types.ts'

/** A row: the schema's columns then pseudo columns (schema.ts), as one array. */
export type Row = SqlValue[]

export interface RowCodec {
  /** The row of a record, or null for a tombstone (a table's deletion; a stream skips it). Throws OFA_SQL_VALUE. */
  decode(r: LogRecord): { row: Row; tombstone: boolean }
  /** Key and value of a row (`tombstone`: the value is null). */
  encode(row: Row, opts?: { tombstone?: boolean }): Pick<ProducerRecord, 'key' | 'value'>
}

export function createRowCodec(source: DataSource): RowCodec {
  const schema: LogicalSchema = source.schema
  const keys = schema.keys
  const values = schema.values
  const headers = schema.headers
  const keySerde: Serde = createSerde(source.keyFormat, keys, { role: 'key' })
  const valueSerde: Serde = createSerde(source.valueFormat, values, {
    role: 'value',
    wrapSingleValue: source.wrapSingleValue,
    ...(source.valueDelimiter !== undefined ? { delimiter: source.valueDelimiter } : {}),
  })
  const nk = keys.length
  const nv = values.length
  const nh = headers.length
  const base = schema.rowtimeIndex
  const width = schema.width
  const window = source.windowed
  return {
    decode(r) {
      const row: Row = new Array(width).fill(null)
      let keyBytes = r.key
      if (window && keyBytes) {
        const tail = window.type === 'SESSION' ? 16 : 8
        if (keyBytes.length >= tail) {
          const at = keyBytes.length - tail
          if (window.type === 'SESSION') {
            row[base + 4] = Number(keyBytes.readBigInt64BE(at))
            row[base + 3] = Number(keyBytes.readBigInt64BE(at + 8))
          } else {
            const start = Number(keyBytes.readBigInt64BE(at))
            row[base + 3] = start
            row[base + 4] = start + (window.sizeMs ?? 0)
          }
          keyBytes = keyBytes.subarray(0, at)
        }
      }
      const k = nk > 0 ? keySerde.decode(keyBytes) : null
      if (k) for (let i = 0; i < nk; i++) row[i] = k[i] ?? null
      const v = valueSerde.decode(r.value)
      if (v) for (let i = 0; i < nv; i++) row[nk + i] = v[i] ?? null
      if (nh > 0) {
        const h = decodeHeaders(r.headers, headers)
        for (let i = 0; i < nh; i++) row[nk + nv + i] = h[i] ?? null
      }
      row[base] = r.timestamp
      row[base + 1] = r.partition
      row[base + 2] = r.offset
      return { row, tombstone: r.value === null }
    },
    encode(row, opts = {}) {
      let key = nk > 0 ? keySerde.encode(row.slice(0, nk)) : null
      if (window) {
        const start = row[base + 3] as number
        const end = row[base + 4] as number
        const w = Buffer.alloc(window.type === 'SESSION' ? 16 : 8)
        if (window.type === 'SESSION') {
          w.writeBigInt64BE(BigInt(end), 0)
          w.writeBigInt64BE(BigInt(start), 8)
        } else w.writeBigInt64BE(BigInt(start), 0)
        key = key ? Buffer.concat([key, w]) : w
      }
      const value = opts.tombstone ? null : valueSerde.encode(row.slice(nk, nk + nv))
      return { key, value }
    },
  }
}
