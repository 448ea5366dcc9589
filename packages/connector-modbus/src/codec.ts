/**
 * Register words <-> field values, with byte and word order, scale and offset.
 *
 * A field's registers are turned into bytes in the order of significance: words most significant first (word
 * order `little` reverses them), each word's high byte first (byte order `little` swaps them), then read as a
 * big-endian number. Encoding is the exact inverse, so `decode(encode(v)) = v` for every value the type holds.
 * int64 becomes a JavaScript number: exact up to 2^53, rounded past it (an observation's value is a number).
 */
import type { ModbusField } from './modbus-map.ts'

export type RawValue = number | string | boolean

/** The bytes of `words`, most significant first, as the field's orders say. */
export function wordsToBytes(
  words: readonly number[],
  byteOrder: 'big' | 'little',
  wordOrder: 'big' | 'little',
): Buffer {
  const ordered = wordOrder === 'big' ? words : [...words].reverse()
  const buf = Buffer.alloc(ordered.length * 2)
  ordered.forEach((w, i) => {
    const hi = (w >> 8) & 0xff
    const lo = w & 0xff
    buf[2 * i] = byteOrder === 'big' ? hi : lo
    buf[2 * i + 1] = byteOrder === 'big' ? lo : hi
  })
  return buf
}

/** The inverse of `wordsToBytes`. */
export function bytesToWords(buf: Buffer, byteOrder: 'big' | 'little', wordOrder: 'big' | 'little'): number[] {
  const words: number[] = []
  for (let i = 0; i < buf.length; i += 2) {
    const a = buf[i] as number
    const b = buf[i + 1] as number
    words.push(byteOrder === 'big' ? (a << 8) | b : (b << 8) | a)
  }
  return wordOrder === 'big' ? words : words.reverse()
}

/** The raw value (before scale and offset) of a register field from its words. */
export function decodeRaw(field: ModbusField, words: readonly number[]): RawValue {
  if (field.type === 'bit') return (((words[0] as number) >> field.bit) & 1) === 1
  if (field.type === 'string') {
    // Strings are read byte after byte, in the register's byte order; words are never reordered and NULs end them.
    const buf = wordsToBytes(words, field.byteOrder, 'big')
    const end = buf.indexOf(0)
    return buf.subarray(0, end < 0 ? buf.length : end).toString('latin1')
  }
  const buf = wordsToBytes(words, field.byteOrder, field.wordOrder)
  switch (field.type) {
    case 'int16':
      return buf.readInt16BE(0)
    case 'uint16':
      return buf.readUInt16BE(0)
    case 'int32':
      return buf.readInt32BE(0)
    case 'uint32':
      return buf.readUInt32BE(0)
    case 'int64':
      return Number(buf.readBigInt64BE(0))
    case 'float32':
      return buf.readFloatBE(0)
    case 'float64':
      return buf.readDoubleBE(0)
    default:
      throw new Error(`no register decoding for ${field.type}`)
  }
}

/** The field's value: scale and offset applied to numbers (float32 rounded to its 7 significant digits first). */
export function decodeValue(field: ModbusField, words: readonly number[]): RawValue {
  const raw = decodeRaw(field, words)
  if (typeof raw !== 'number') return raw
  const base = field.type === 'float32' ? Number(raw.toPrecision(7)) : raw
  if (field.scale === 1 && field.offset === 0) return base
  // Rounded to 12 significant digits so that 2155 × 0.01 reads 21.55, not 21.549999999999997.
  return Number((base * field.scale + field.offset).toPrecision(12))
}

/** The raw integer or float range a numeric type holds. */
export function rawRange(type: ModbusField['type']): [number, number] {
  switch (type) {
    case 'int16':
      return [-32768, 32767]
    case 'uint16':
      return [0, 65535]
    case 'int32':
      return [-2147483648, 2147483647]
    case 'uint32':
      return [0, 4294967295]
    case 'int64':
      return [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]
    case 'float32':
      return [-3.4028234663852886e38, 3.4028234663852886e38]
    default:
      return [-Number.MAX_VALUE, Number.MAX_VALUE]
  }
}

/**
 * The words that hold `raw` for a register field (numbers: the raw value, before scale; strings: padded with NULs
 * to the field's length). Throws a RangeError saying why when the value does not fit.
 */
export function encodeRaw(field: ModbusField, raw: RawValue): number[] {
  if (field.type === 'string') {
    const text = String(raw)
    const buf = Buffer.alloc(field.count * 2)
    if (Buffer.byteLength(text, 'latin1') > buf.length) throw new RangeError(`is longer than ${buf.length} characters`)
    buf.write(text, 'latin1')
    return bytesToWords(buf, field.byteOrder, 'big')
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw new RangeError('must be a finite number')
  const [lo, hi] = rawRange(field.type)
  const integer = field.type !== 'float32' && field.type !== 'float64'
  if (integer && !Number.isInteger(raw)) throw new RangeError(`${raw} is not an integer (${field.type})`)
  if (raw < lo || raw > hi) throw new RangeError(`${raw} does not fit ${field.type} (${lo} to ${hi})`)
  const buf = Buffer.alloc(field.count * 2)
  switch (field.type) {
    case 'int16':
      buf.writeInt16BE(raw)
      break
    case 'uint16':
      buf.writeUInt16BE(raw)
      break
    case 'int32':
      buf.writeInt32BE(raw)
      break
    case 'uint32':
      buf.writeUInt32BE(raw)
      break
    case 'int64':
      buf.writeBigInt64BE(BigInt(raw))
      break
    case 'float32':
      buf.writeFloatBE(raw)
      break
    case 'float64':
      buf.writeDoubleBE(raw)
      break
    default:
      throw new Error(`no register encoding for ${field.type}`)
  }
  return bytesToWords(buf, field.byteOrder, field.wordOrder)
}

/** The raw value a write of engineering value `value` puts in the registers (scale and offset undone). */
export function unscale(field: ModbusField, value: number): number {
  if (field.scale === 1 && field.offset === 0) return value
  const raw = (value - field.offset) / field.scale
  const integer = field.type !== 'float32' && field.type !== 'float64'
  return integer ? Math.round(raw) : raw
}
