/**
 * Observations decoded lazily: `decodeObservationLazy` gives what `decodeObservation` gives — the same fields,
 * values and errors, thrown at the same call — but reads the bytes of the usual record itself and leaves the
 * attributes as text until a reader asks for them. Readers that look at `id`, `value`, `tag` or `type` first
 * (a history query filtering by item, a replay counting items) skip most of the JSON work of records they drop.
 *
 * The fast path accepts only the shape `encodeObservation` writes, checked against JSON's grammar:
 * `{"ID":<string>,"VALUE":<string|number|true|false|null>,"TAG":<string|null>,"TYPE":<string>,"attributes":{...}}`
 * with no whitespace, ASCII only (no escapes, no bytes ≥ 0x80), and attributes a flat object of strings, numbers,
 * booleans and nulls. Anything else — other spellings or order, nesting, escapes, UTF-8, whitespace, an invalid
 * field — goes to `decodeObservation` unchanged, which then decodes or throws as it always did. Attributes text
 * that passed the scanner is valid JSON, so reading `attributes` later cannot throw.
 *
 * Why: replay decoded into observations ran at 0.6–0.8 M records/s, two thirds of it in `JSON.parse` building
 * attribute objects nobody read (bench/log-append.ts, DESIGN.md §7 asks ≥ 1 M/s).
 */
import {
  decodeObservation,
  finishAttributes,
  OBSERVATION_TYPES,
  type Observation,
  type ObservationAttributes,
  type ObservationType,
  type ObservationValue,
  UNAVAILABLE,
} from './observation.ts'

/** An observation whose attributes are parsed on first read (see the top of this file). */
class LazyObservation implements Observation {
  readonly id: string
  readonly value: ObservationValue
  readonly tag: string
  readonly type: ObservationType
  /** The attributes' JSON text (a copy: the record's bytes may be a view of a read buffer the log reuses). */
  #text: string
  #attributes: ObservationAttributes | null = null

  constructor(id: string, value: ObservationValue, tag: string, type: ObservationType, attributesText: string) {
    this.id = id
    this.value = value
    this.tag = tag
    this.type = type
    this.#text = attributesText
  }

  get attributes(): ObservationAttributes {
    if (this.#attributes === null) {
      this.#attributes = finishAttributes(JSON.parse(this.#text), true)
      this.#text = ''
    }
    return this.#attributes
  }

  /** As a plain object (what `JSON.stringify`, and `{ ...o }` through it, would need). */
  toJSON(): Observation {
    return { id: this.id, value: this.value, tag: this.tag, type: this.type, attributes: this.attributes }
  }
}

/**
 * Decodes an observation like `decodeObservation` (same result and errors), leaving the attributes of a record in
 * the usual shape as text until `attributes` is read. The result is read-only: its `attributes` is a getter, so
 * spread it through `toJSON()` or read the fields by name.
 */
export function decodeObservationLazy(input: Uint8Array | string | Record<string, unknown>): Observation {
  if (!(input instanceof Uint8Array)) return decodeObservation(input)
  return scan(input) ?? decodeObservation(input)
}

// The usual shape as one regular expression (V8 compiles it to native code: ≈ 3× faster than JSON.parse over
// the same record, where a scanner in JavaScript was barely faster). A string: no quote, backslash, control
// character or non-ASCII character; a number: JSON's grammar (RFC 8259).
const STR = '[^"\\\\\\x00-\\x1f\\x80-\\uffff]*'
const NUM = '-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?'
const SCALAR = `(?:"${STR}"|${NUM}|true|false|null)`
const USUAL = new RegExp(
  `^\\{"ID":"(${STR})","VALUE":(?:"(${STR})"|(${NUM})|(true|false|null)),"TAG":(?:"(${STR})"|null),` +
    `"TYPE":"(${OBSERVATION_TYPES.join('|')})","attributes":(\\{(?:"${STR}":${SCALAR}(?:,"${STR}":${SCALAR})*)?\\})\\}$`,
)

/** The observation if `input` has the usual shape (and is valid), else null (the full decoder takes over). */
function scan(input: Uint8Array): Observation | null {
  // UTF-8 as the full decoder reads it; any character ≥ 0x80 fails the expression, so only ASCII passes.
  const text = (
    Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  ).toString('utf8')
  const m = USUAL.exec(text)
  if (m === null) return null
  const id = m[1] as string
  if (id === '') return null // (an empty ID: the full decoder says so)
  const literal = m[4]
  const value: ObservationValue =
    m[2] !== undefined
      ? m[2]
      : m[3] !== undefined
        ? Number(m[3])
        : literal === 'null'
          ? UNAVAILABLE
          : (literal as string) // 'true' or 'false', as the full decoder turns booleans into text
  return new LazyObservation(id, value, m[5] ?? '', m[6] as ObservationType, m[7] as string)
}
