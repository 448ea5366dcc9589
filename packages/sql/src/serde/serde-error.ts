/**
 * The two errors of the serialization formats: a format that cannot carry the columns (`OFA_SQL_UNSUPPORTED`,
 * thrown when a serde is created, that is when the statement is), and a record that does not decode
 * (`OFA_SQL_VALUE`, thrown per record; the engine logs it with topic, partition and offset and skips the record).
 */
import { OpenFactoryError } from '@openfactory/model'

export type SerdeRole = 'key' | 'value'

export function serdeUnsupported(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_UNSUPPORTED', message)
}

/** `JSON value does not decode: <what>`. The record's content is not quoted: it may be confidential. */
export function serdeValueError(format: string, role: SerdeRole, what: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', `${format} ${role} does not decode: ${what}`, { cause })
}

export function serdeEncodeError(format: string, role: SerdeRole, what: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', `${format} ${role} cannot be written: ${what}`)
}

/**
 * A value that does not fit its slot, deep in a JSON document: thrown (without a stack, it is not an Error) by the
 * coercion, and each enclosing array, map or struct adds its step to `path` on the way out.
 */
export class CoercionFailure {
  readonly what: string
  readonly path: string[] = []
  constructor(what: string) {
    this.what = what
  }
}

/** A JSONPath step for a field name: `.NAME`, or `["a b"]` when the name is not an identifier. */
export function fieldStep(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`
}
