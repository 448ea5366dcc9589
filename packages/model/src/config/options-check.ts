/**
 * Checking a runtime options object (`EventLogOptions`, a forwarder's options...) once, at construction,
 * against its TypeBox schema compiled with ajv (`allErrors`: every problem at once):
 *
 *   const checkOptions = createOptionsChecker(EventLogOptionsSchema, {
 *     code: 'OFA_LOG_INVALID_ARGUMENT',
 *     what: 'EventLogOptions',
 *   })
 *   const options = checkOptions(input) // throws one OFA_LOG_INVALID_ARGUMENT carrying every problem
 *
 * Messages read `EventLogOptions.segmentBytes must be an integer at least 1024, got 10`; each problem is an
 * `OpenFactoryError` with the field path in `where.path`. Unlike configuration files, options are JavaScript
 * values: nothing is converted (a port is a number, not "7878") and nothing is filled in; the object given is
 * returned as it is, typed. The schema is plain JSON Schema (describe a logger, a signal or a callback with
 * `Type.Any()`), plus the `expected` text of configuration schemas, which messages use when a schema has it.
 */
import type { Static, TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject } from 'ajv'
import { type ErrorCode, OpenFactoryError } from '../errors.ts'
import { closest, formatPath, pathOfPointer } from './check-value.ts'

export interface OptionsCheckerSpec {
  /** The code of the error thrown. */
  readonly code: ErrorCode
  /** How messages name the options object: `EventLogOptions` gives `EventLogOptions.segmentBytes must be...`. */
  readonly what: string
}

/** Returns the options, typed, or throws one `OpenFactoryError` whose `problems` are every problem found. */
export type OptionsChecker<T> = (options: unknown) => T

const ajv = new Ajv({ allErrors: true, verbose: true, messages: false, strictTypes: false })
ajv.addKeyword({ keyword: ['expected', 'keyExpected'], schemaType: 'string' })

/** Compiles `schema` once; the checker it returns validates an options object each time it is called. */
export function createOptionsChecker<T extends TSchema>(
  schema: T,
  spec: OptionsCheckerSpec,
): OptionsChecker<Static<T>> {
  const validate = ajv.compile(schema)
  return (options) => {
    if (validate(options)) return options as Static<T>
    const problems = withoutUnionBranches(validate.errors ?? []).map((e) => {
      // A missing or unknown field is the problem of that field, not of the object holding it.
      const field = e.params.missingProperty ?? e.params.additionalProperty
      const path = formatPath([...pathOfPointer(e.instancePath, options), ...(field === undefined ? [] : [field])])
      const at = path === '' ? spec.what : path.startsWith('[') ? `${spec.what}${path}` : `${spec.what}.${path}`
      return new OpenFactoryError(spec.code, messageOf(e, at), path ? { where: { path } } : {})
    })
    const message =
      problems.length === 1
        ? problems[0]!.message
        : `${problems.length} problems in ${spec.what}: ${problems.map((p) => p.message).join('; ')}`
    throw new OpenFactoryError(spec.code, message, { problems })
  }
}

interface Schema {
  readonly type?: string | readonly string[]
  readonly const?: unknown
  readonly anyOf?: readonly Schema[]
  readonly properties?: Readonly<Record<string, Schema>>
  readonly pattern?: string
  readonly expected?: string
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'function') return 'a function'
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
  return String(v)
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
  null: 'null',
}

function expected(s: Schema): string {
  if (s.expected) return s.expected
  if (s.anyOf) {
    if (s.anyOf.every((b) => b.const !== undefined)) return `one of ${s.anyOf.map((b) => String(b.const)).join(', ')}`
    return [...new Set(s.anyOf.map(expected))].join(' or ')
  }
  if (s.const !== undefined) return JSON.stringify(s.const)
  const types = Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type]
  return types.length > 0 ? types.map((t) => TYPE_WORDS[t] ?? t).join(' or ') : 'a valid value'
}

/** A failed `anyOf` is said once: the errors of its branches are left out. */
function withoutUnionBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf')
  return errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      !unions.some(
        (u) =>
          e !== u &&
          e.schemaPath.startsWith(`${u.schemaPath}/`) &&
          (e.instancePath === u.instancePath || e.instancePath.startsWith(`${u.instancePath}/`)),
      ),
  )
}

/** The message of one error; `at` names the field, e.g. `EventLogOptions.segmentBytes`. */
function messageOf(e: ErrorObject, at: string): string {
  const s = (e.parentSchema ?? {}) as Schema
  const got = `, got ${describe(e.data)}`
  const p = e.params
  switch (e.keyword) {
    case 'required':
      return `${at} is required`
    case 'additionalProperties': {
      const guess = closest(p.additionalProperty, Object.keys(s.properties ?? {}))
      return `${at} is not an option${guess ? ` (did you mean ${guess}?)` : ''}`
    }
    case 'minimum':
      return `${at} must be ${expected(s)} at least ${p.limit}${got}`
    case 'maximum':
      return `${at} must be ${expected(s)} at most ${p.limit}${got}`
    case 'exclusiveMinimum':
      return `${at} must be ${expected(s)} greater than ${p.limit}${got}`
    case 'exclusiveMaximum':
      return `${at} must be ${expected(s)} less than ${p.limit}${got}`
    case 'minLength':
      return e.data === '' ? `${at} must not be empty` : `${at} must be at least ${p.limit} characters long${got}`
    case 'maxLength':
      return `${at} must be at most ${p.limit} characters long${got}`
    case 'minItems':
      return `${at} must have at least ${p.limit} item${p.limit === 1 ? '' : 's'}`
    case 'maxItems':
      return `${at} must have at most ${p.limit} item${p.limit === 1 ? '' : 's'}`
    case 'pattern':
      return s.expected ? `${at} must be ${s.expected}${got}` : `${at} must match ${s.pattern}${got}`
    case 'format':
      return `${at} must be ${s.expected ?? `a ${p.format}`}${got}`
    case 'type':
    case 'const':
    case 'enum':
    case 'anyOf':
      return `${at} must be ${expected(s)}${got}`
    default:
      return `${at} is not valid (${e.keyword})${got}`
  }
}
