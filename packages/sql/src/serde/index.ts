// Serialization formats of record keys and values (JSON, KAFKA, DELIMITED, NONE), and header columns.

export { checkHeaderColumns, decodeHeaders, HEADERS_TYPE, type HeaderColumn } from './decode-headers.ts'
export {
  createSerde,
  SERDE_FORMATS,
  type Serde,
  type SerdeColumn,
  type SerdeFormat,
  type SerdeOptions,
} from './serde.ts'
export type { SerdeRole } from './serde-error.ts'
