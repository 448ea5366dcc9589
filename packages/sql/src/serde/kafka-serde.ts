/**
 * The KAFKA format: one column, its value as Kafka's own primitive serializers write it (reference: docs.ksqldb.io,
 * "Serialization formats" § KAFKA; Kafka's `org.apache.kafka.common.serialization` serializers).
 *
 * | SQL type | bytes                                             | Kafka serializer     |
 * | -------- | ------------------------------------------------- | -------------------- |
 * | STRING   | the UTF-8 text                                    | `StringSerializer`   |
 * | INTEGER  | 4 bytes, two's complement, big-endian             | `IntegerSerializer`  |
 * | BIGINT   | 8 bytes, two's complement, big-endian             | `LongSerializer`     |
 * | DOUBLE   | 8 bytes, IEEE 754 binary64, big-endian            | `DoubleSerializer`   |
 * | BYTES    | the bytes themselves                              | `ByteBufferSerializer` |
 *
 * Other types (BOOLEAN, DECIMAL, TIMESTAMP, DATE, TIME, ARRAY, MAP, STRUCT) have no Kafka primitive serializer and
 * are refused, as ksqlDB refuses them; so are two columns or more. The format does no coercion: bytes of the wrong
 * length for INTEGER, BIGINT or DOUBLE are an error.
 *
 * NULL is no bytes at all (a null key, a tombstone value): writing NULL gives null, and null bytes read as no row.
 * Empty bytes are the empty string for STRING and empty BYTES, as Kafka's deserializers read them, and NULL for
 * the numeric types (which Kafka's deserializers would refuse).
 *
 * BIGINT is carried as a JavaScript number: 64-bit values beyond ±(2^53 − 1) are read to the nearest number.
 */
import type { SqlValue } from '../types.ts'
import { formatType } from '../types.ts'
import { inInt32, inInt64 } from './scalar-text.ts'
import type { Serde, SerdeColumn, SerdeOptions } from './serde.ts'
import { type SerdeRole, serdeEncodeError, serdeUnsupported, serdeValueError } from './serde-error.ts'

const SUPPORTED = ['STRING', 'INTEGER', 'BIGINT', 'DOUBLE', 'BYTES']
const TWO_32 = 4294967296

export function createKafkaSerde(columns: readonly SerdeColumn[], options: SerdeOptions): Serde {
  const role: SerdeRole = options.role
  if (columns.length > 1) {
    throw serdeUnsupported(
      `the KAFKA format carries one ${role} column, not ${columns.length} (${columns.map((c) => c.name).join(', ')}): ` +
        `use JSON or DELIMITED for several`,
    )
  }
  const column = columns[0] as SerdeColumn
  const kind = column.type.kind
  if (!SUPPORTED.includes(kind)) {
    throw serdeUnsupported(
      `the KAFKA format does not carry ${formatType(column.type)} (${role} column ${column.name}); ` +
        `it carries ${SUPPORTED.join(', ')}`,
    )
  }
  const size = kind === 'INTEGER' ? 4 : kind === 'BIGINT' || kind === 'DOUBLE' ? 8 : 0
  const fail = (what: string): Error => serdeValueError('KAFKA', role, `${what} (${role} column ${column.name})`)
  const cannotWrite = (v: SqlValue): Error =>
    serdeEncodeError('KAFKA', role, `${String(v).slice(0, 40)} is not of type ${kind} (${role} column ${column.name})`)
  return {
    format: 'KAFKA',
    decode(bytes) {
      if (bytes === null) return null
      switch (kind) {
        case 'STRING':
          return [bytes.toString('utf8')]
        case 'BYTES':
          return [new Uint8Array(bytes)]
      }
      if (bytes.length === 0) return null
      if (bytes.length !== size) throw fail(`${kind} needs ${size} bytes, got ${bytes.length}`)
      if (kind === 'INTEGER') return [bytes.readInt32BE(0)]
      if (kind === 'DOUBLE') return [bytes.readDoubleBE(0)]
      // BIGINT: high word signed, low word unsigned; one rounding beyond 2^53
      return [bytes.readInt32BE(0) * TWO_32 + bytes.readUInt32BE(4)]
    },
    encode(values) {
      const v = values[0] ?? null
      if (v === null) return null
      switch (kind) {
        case 'STRING':
          if (typeof v !== 'string') throw cannotWrite(v)
          return Buffer.from(v, 'utf8')
        case 'BYTES':
          if (!(v instanceof Uint8Array)) throw cannotWrite(v)
          return Buffer.from(v)
        case 'INTEGER': {
          if (typeof v !== 'number' || !Number.isInteger(v) || !inInt32(v)) throw cannotWrite(v)
          const b = Buffer.alloc(4)
          b.writeInt32BE(v, 0)
          return b
        }
        case 'DOUBLE': {
          if (typeof v !== 'number') throw cannotWrite(v)
          const b = Buffer.alloc(8)
          b.writeDoubleBE(v, 0)
          return b
        }
        default: {
          if (typeof v !== 'number' || !Number.isInteger(v) || !inInt64(v)) throw cannotWrite(v)
          const b = Buffer.alloc(8)
          b.writeBigInt64BE(BigInt(v), 0)
          return b
        }
      }
    },
  }
}
