/**
 * Checking configuration values against their TypeBox schemas, with ajv.
 *
 * Every file format is a TypeBox schema (the TypeScript types derive from it). `checkValue` compiles it once
 * with ajv (`allErrors`: every problem in one pass) and turns ajv's errors (`instancePath`, `keyword`,
 * `params`) into our messages: the field path, what was expected and what was found. The schemas are JSON
 * Schema plus a few keywords of ours, registered on one Ajv instance below:
 *
 * - `expected`, `keyExpected`: how a message names what a field (or a key of a map) expects;
 * - `discriminator: {propertyName}` on a union of objects (OpenAPI's spelling): the property whose constant
 *   selects the branch, checked by ajv's own discriminator;
 * - `exactlyOne`: on an object, two fields of which exactly one must be given (checked even when other
 *   fields have problems, like `required`);
 * - `refine(value, report, ctx)`: rules a schema cannot say (a file must exist, fields that depend on each
 *   other), run only on a value that passes its own schema; it may return a replacement value.
 *
 * Before compiling, a schema is lowered (`lower`) to say what every file format shares, which plain JSON
 * Schema cannot: like pydantic in "lax" mode (what the reference OpenFactory uses), numbers and booleans may be
 * written as text (`port: "7878"`, `expose: yes`) — such fields get our `laxType` keyword, which converts the
 * text — and an empty value (`null`) of an optional field counts as absent (our `emptyFields` keyword removes
 * it; a required field left empty is reported). Checking works on a copy: the value given is never changed.
 */
import type { TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { ErrorCode } from '../errors.ts'

export type PathSegment = string | number

/** Where a problem points: the field's key, its value, or the map that should have held a missing field. */
export type Anchor = 'key' | 'value' | 'parent'

export interface Issue {
  readonly code: ErrorCode
  readonly path: readonly PathSegment[]
  readonly message: string
  readonly anchor: Anchor
}

export interface CheckContext {
  /** Folder of the file being checked: relative paths inside it are resolved from here. */
  readonly dir: string
  readonly issues: Issue[]
}

export type Report = (relPath: readonly PathSegment[], code: ErrorCode, message: string, anchor?: Anchor) => void

/** The `refine` option: semantic rules on a structurally valid value. Returning a value replaces it. */
// biome-ignore lint/suspicious/noExplicitAny: refine functions receive the already validated value.
export type Refine = (value: any, report: Report, ctx: { readonly dir: string }) => unknown

/** Returned by `checkValue` for a value that has problems. */
export const INVALID: unique symbol = Symbol('invalid')

/** Two fields of an object of which exactly one must be given, and what to say when none or both are. */
export interface ExactlyOne {
  readonly fields: readonly [string, string]
  /** Reported at the first field (anchored at the object) when neither is given. */
  readonly missing: string
  /** Reported at the second field's key when both are given. */
  readonly both: string
}

/** Renders a field path the way messages show it: `devices.cnc-1.connector.agent.port`, `constraints[1]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let s = ''
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`
    else s += s === '' ? seg : `.${seg}`
  }
  return s
}

/** Describes a value found in a file, for "expected X, got Y" messages. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a map'
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)
  return String(v)
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Sets an own property, even one named `__proto__`. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Edit distance, for "did you mean" hints on unknown fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

/** The closest allowed name to a misspelt one, if it is close enough to be a likely typo. */
export function closest(name: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const a of allowed) {
    const d = distance(name.toLowerCase(), a.toLowerCase())
    if (d < bestD) {
      best = a
      bestD = d
    }
  }
  return best
}

export function unknownFieldMessage(name: string, allowed: readonly string[]): string {
  const guess = closest(name, allowed)
  if (guess) return `unknown field (did you mean "${guess}"?)`
  return allowed.length > 0 ? `unknown field (allowed: ${allowed.join(', ')})` : 'unknown field'
}

/** A schema node as ajv sees it after `lower`, with our keywords. */
interface Schema {
  readonly type?: string
  readonly laxType?: 'integer' | 'number' | 'boolean'
  readonly const?: unknown
  readonly anyOf?: readonly Schema[]
  readonly oneOf?: readonly Schema[]
  readonly discriminator?: { readonly propertyName: string }
  readonly minimum?: number
  readonly maximum?: number
  readonly minItems?: number
  readonly properties?: Readonly<Record<string, Schema>>
  readonly patternProperties?: Readonly<Record<string, Schema>>
  readonly required?: readonly string[]
  readonly expected?: string
  readonly keyExpected?: string
}

function expectedOf(s: Schema): string {
  if (s.expected) return s.expected
  if (s.anyOf) {
    if (s.anyOf.every((b) => b.const !== undefined)) return `one of ${s.anyOf.map((b) => String(b.const)).join(', ')}`
    return [...new Set(s.anyOf.filter((b) => b.type !== 'null').map(expectedOf))].join(' or ')
  }
  if (s.const !== undefined) return JSON.stringify(s.const)
  switch (s.type ?? s.laxType) {
    case 'string':
      return 'a string'
    case 'integer':
      return 'an integer'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'true or false'
    case 'array':
      return 'a list'
    case 'object':
      return 'a map'
    case 'null':
      return 'an empty value'
    default:
      return 'a value'
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lowering: what every file format shares, said in keywords ajv runs.

/** The key pattern TypeBox gives `Type.Record(Type.String(), ...)`: every key. */
const ANY_KEY = '^(.*)$'

const lowered = new WeakMap<object, Record<string, unknown>>()

/**
 * A copy of a TypeBox schema for ajv: integer, number and boolean fields become `laxType` (text converted);
 * objects with properties get `emptyFields`; a record's any-key pattern becomes `additionalProperties`, and a
 * record with key patterns refuses other keys; a discriminated `anyOf` becomes the `oneOf` ajv's discriminator
 * needs.
 */
function lower(s: Readonly<Record<string, unknown>>): Record<string, unknown> {
  // A schema used in several places (DeploySpec...) is lowered once: its rules are compiled once too.
  let out = lowered.get(s)
  if (out) return out
  out = {}
  lowered.set(s, out)
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries(v as object).map(([p, ps]) => [p, lower(ps)]))
    } else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') {
      out[k] = (v as Record<string, unknown>[]).map(lower)
    } else if (['items', 'if', 'then', 'else', 'additionalProperties'].includes(k) && isPlainObject(v)) {
      out[k] = lower(v)
    } else {
      out[k] = v
    }
  }
  if ((out.type === 'integer' || out.type === 'number' || out.type === 'boolean') && out.const === undefined) {
    out.laxType = out.type
    delete out.type
  }
  if (out.properties) out.emptyFields = true
  const patterns = out.patternProperties as Record<string, unknown> | undefined
  if (patterns && Object.keys(patterns).length === 1 && patterns[ANY_KEY]) {
    out.additionalProperties = patterns[ANY_KEY]
    delete out.patternProperties
  } else if (patterns && out.additionalProperties === undefined) {
    out.additionalProperties = false
  }
  if (out.discriminator && out.anyOf) {
    out.type = 'object'
    out.oneOf = out.anyOf
    delete out.anyOf
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// The Ajv instance and our keywords. Our keywords report ready-made issues in `params`.

/** Where the value a keyword checks is: its parent (to replace it) and its JSON pointer. */
type DataValidationCxt = NonNullable<Parameters<ValidateFunction>[1]>

/** A keyword's validate function, which reports its errors on itself. */
interface DataValidateFunction {
  (this: KeywordContext, data: unknown, cxt?: DataValidationCxt): boolean
  errors?: Partial<ErrorObject>[]
}

/** `this` of our keywords (ajv's passContext): the file's folder, and the value when the root is replaced. */
interface KeywordContext {
  readonly dir: string
  root?: unknown
}

/** One of our keywords' errors: the issue is in `params`; `instancePath` says where, from the checked value. */
function ourError(
  keyword: string,
  cxt: DataValidationCxt | undefined,
  rel: readonly PathSegment[],
  code: ErrorCode,
  message: string,
  anchor: Anchor,
): Partial<ErrorObject> {
  const at = rel.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
  return { keyword, instancePath: (cxt?.instancePath ?? '') + at, params: { code, message, anchor } }
}

/** Replaces the value being checked (a converted number, a refined value). */
function replace(ctx: KeywordContext, cxt: DataValidationCxt | undefined, value: unknown): void {
  if (cxt?.parentData === undefined) ctx.root = value
  else if (Array.isArray(cxt.parentData)) cxt.parentData[cxt.parentDataProperty as number] = value
  else setOwn(cxt.parentData, String(cxt.parentDataProperty), value)
}

const INTEGER_TEXT = /^\s*[-+]?\d+\s*$/
const NUMBER_TEXT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/
const TRUE_TEXT = new Set(['true', 'yes', 'on', 'y', 't', '1'])
const FALSE_TEXT = new Set(['false', 'no', 'off', 'n', 'f', '0'])

/** A number or boolean written as text (or 0/1 for a boolean), converted; undefined when it is not one. */
export function laxValue(type: 'integer' | 'number' | 'boolean', v: unknown): unknown {
  if (type === 'boolean') {
    if (typeof v === 'boolean') return v
    if (v === 0 || v === 1) return v === 1
    if (typeof v !== 'string') return undefined
    const t = v.trim().toLowerCase()
    return TRUE_TEXT.has(t) ? true : FALSE_TEXT.has(t) ? false : undefined
  }
  let n = v
  if (typeof v === 'string' && (type === 'integer' ? INTEGER_TEXT : NUMBER_TEXT).test(v)) n = Number(v)
  if (typeof n !== 'number' || !Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) return undefined
  return n
}

const ajv = new Ajv({
  // Without ajv's optimizing pass, compiling the device, app and manifest schemas took 150 ms instead of 250
  // on a 2-core machine, and checking the 2000 devices of a generated factory was as fast (about 33 ms warm):
  // measured for issue 9 (a factory of 2000 opcua, mtconnect, shdr and simulator devices, checked 6 times).
  code: { optimize: false },
  allErrors: true,
  verbose: true,
  messages: false,
  useDefaults: true,
  discriminator: true,
  passContext: true,
  // `laxType` replaces `type` on numbers and booleans: `minimum` without `type` is expected.
  strictTypes: false,
})

ajv.addKeyword({ keyword: ['expected', 'keyExpected'], schemaType: 'string' })

ajv.addKeyword({
  keyword: 'laxType',
  schemaType: 'string',
  modifying: true,
  validate: function laxType(
    this: KeywordContext,
    type: 'integer' | 'number' | 'boolean',
    data: unknown,
    parentSchema?: Schema,
    cxt?: DataValidationCxt,
  ): boolean {
    const v = laxValue(type, data)
    if (v === undefined) {
      const message =
        type === 'boolean'
          ? `expected true or false, got ${describeValue(data)}`
          : `expected ${expectedOf(parentSchema ?? {})}, got ${describeValue(data)}`
      ;(laxType as DataValidateFunction).errors = [ourError('laxType', cxt, [], 'OFA_CONFIG_TYPE', message, 'value')]
      return false
    }
    if (v !== data) replace(this, cxt, v)
    return true
  },
})

ajv.addKeyword({
  keyword: 'emptyFields',
  schemaType: 'boolean',
  validate: function emptyFields(_s: boolean, data: unknown, parentSchema?: Schema, cxt?: DataValidationCxt): boolean {
    if (!isPlainObject(data) || !parentSchema?.properties) return true
    const errors: Partial<ErrorObject>[] = []
    for (const k of Object.keys(parentSchema.properties)) {
      if (!Object.hasOwn(data, k) || data[k] !== null) continue
      delete data[k]
      if (parentSchema.required?.includes(k)) {
        errors.push(ourError('emptyFields', cxt, [k], 'OFA_CONFIG_MISSING_FIELD', 'required field is empty', 'key'))
      }
    }
    ;(emptyFields as DataValidateFunction).errors = errors
    return errors.length === 0
  },
})

ajv.addKeyword({
  keyword: 'exactlyOne',
  schemaType: 'object',
  // After `required`, as the problems of the fields themselves.
  post: true,
  validate: function exactlyOne(spec: ExactlyOne, data: unknown, _ps?: Schema, cxt?: DataValidationCxt): boolean {
    if (!isPlainObject(data)) return true
    const [a, b] = spec.fields
    const hasA = data[a] !== undefined && data[a] !== null
    const hasB = data[b] !== undefined && data[b] !== null
    if (hasA !== hasB) return true
    ;(exactlyOne as DataValidateFunction).errors = [
      hasA
        ? ourError('exactlyOne', cxt, [b], 'OFA_CONFIG_VALUE', spec.both, 'key')
        : ourError('exactlyOne', cxt, [a], 'OFA_CONFIG_MISSING_FIELD', spec.missing, 'parent'),
    ]
    return false
  },
})

/** The schema of a value with a rule, without the rule, compiled once. */
const ownSchemas = new WeakMap<object, ValidateFunction>()

ajv.addKeyword({
  keyword: 'refine',
  post: true,
  modifying: true,
  compile(refine: Refine, parentSchema) {
    // The rule waits for a value that passes its own schema: that schema is compiled without the rule and
    // checked first (its problems are reported by the enclosing check).
    let valid = ownSchemas.get(parentSchema)
    if (!valid) {
      const { refine: _, ...own } = parentSchema
      valid = ajv.compile(own)
      ownSchemas.set(parentSchema, valid)
    }
    const validate: DataValidateFunction = function (this: KeywordContext, data, cxt) {
      if (!valid.call({ dir: this.dir }, data)) return true
      const errors: Partial<ErrorObject>[] = []
      const out = refine(
        data,
        (rel, code, message, anchor = 'value') => errors.push(ourError('refine', cxt, rel, code, message, anchor)),
        this,
      )
      validate.errors = errors
      if (errors.length > 0) return false
      if (out !== undefined) replace(this, cxt, out)
      return true
    }
    return validate
  },
})

// ---------------------------------------------------------------------------------------------------------
// Checking, and ajv's errors as issues.

const compiled = new WeakMap<TSchema, ValidateFunction>()

function compile(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema)
  if (!v) {
    v = ajv.compile(lower(schema as unknown as Record<string, unknown>))
    compiled.set(schema, v)
  }
  return v
}

/**
 * Checks `value` against `schema`. Returns a copy with text numbers converted, defaults applied, empty optional
 * fields removed and refined values replaced (meaningful where no issue is), and the issues, with paths
 * starting at `path`.
 */
export function validateValue(
  schema: TSchema,
  value: unknown,
  path: readonly PathSegment[],
  dir: string,
): { value: unknown; issues: Issue[] } {
  const validate = compile(schema)
  const ctx: KeywordContext = { dir, root: structuredClone(value) }
  const data = ctx.root
  if (validate.call(ctx, data)) return { value: ctx.root, issues: [] }
  return { value: ctx.root, issues: toIssues(validate.errors ?? [], data, path) }
}

/**
 * Checks `value` against `schema`, appending problems to `ctx.issues`. Returns the checked copy (see
 * `validateValue`), or `INVALID` when anything inside is wrong.
 */
export function checkValue(schema: TSchema, value: unknown, path: readonly PathSegment[], ctx: CheckContext): unknown {
  const r = validateValue(schema, value, path, ctx.dir)
  ctx.issues.push(...r.issues)
  return r.issues.length > 0 ? INVALID : r.value
}

/** The field path of a JSON pointer (ajv's `instancePath`) into `root`: array indexes as numbers. */
export function pathOfPointer(pointer: string, root: unknown): PathSegment[] {
  if (pointer === '') return []
  const out: PathSegment[] = []
  let node = root
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (Array.isArray(node)) {
      out.push(Number(seg))
      node = node[Number(seg)]
    } else {
      out.push(seg)
      node = isPlainObject(node) && Object.hasOwn(node, seg) ? node[seg] : undefined
    }
  }
  return out
}

function isUnderPointer(p: string, prefix: string): boolean {
  return p === prefix || p.startsWith(`${prefix}/`)
}

/** The branch of a union a value was meant for: the only one of the same shape (map, list, text...). */
function branchFor(union: Schema, v: unknown): number | undefined {
  const shape = Array.isArray(v)
    ? ['array']
    : isPlainObject(v)
      ? ['object']
      : typeof v === 'number'
        ? ['integer', 'number']
        : [typeof v]
  const same = (union.anyOf ?? []).flatMap((b, i) => (shape.includes(b.type ?? b.laxType ?? '') ? [i] : []))
  return same.length === 1 ? same[0] : undefined
}

/**
 * When no branch of an `anyOf` fits, ajv reports every branch's errors, then the `anyOf` itself. We keep the
 * errors of the branch the value was meant for (the one of its shape), or else one error for the union.
 * Outer unions first: dropping a branch drops the unions inside it.
 */
function resolveUnions(errors: readonly ErrorObject[]): ErrorObject[] {
  let out = [...errors]
  const unions = out.filter((e) => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length)
  for (const u of unions) {
    if (!out.includes(u)) continue
    const union = (u.parentSchema ?? {}) as Schema
    const consts = union.anyOf?.every((b) => b.const !== undefined)
    const pick = consts ? undefined : branchFor(union, u.data)
    // The branch an error is in, when it is in one of this union's branches.
    const branchOf = (e: ErrorObject): number | undefined =>
      e.schemaPath.startsWith(`${u.schemaPath}/`) && isUnderPointer(e.instancePath, u.instancePath)
        ? Number(e.schemaPath.slice(u.schemaPath.length + 1).split('/')[0])
        : undefined
    out = out.flatMap((e) => {
      if (e === u) return pick === undefined ? [{ ...u, keyword: 'union' }] : []
      const b = branchOf(e)
      return b === undefined || b === pick ? [e] : []
    })
  }
  return out
}

function rangeText(s: Schema): string {
  if (s.maximum === undefined) return `at least ${s.minimum}`
  if (s.minimum === undefined) return `at most ${s.maximum}`
  return `between ${s.minimum} and ${s.maximum}`
}

/** Ajv's errors as our issues. */
function toIssues(errors: readonly ErrorObject[], root: unknown, base: readonly PathSegment[]): Issue[] {
  const issues: Issue[] = []
  const seen = new Set<string>()
  // Several keywords of one field may fail at once (`type` and `const`, `minLength` and `pattern`): the
  // first says it. Rules (`refine`) may report several problems at one place.
  const add = (code: ErrorCode, path: PathSegment[], message: string, anchor: Anchor = 'value', rule = false) => {
    const key = `${formatPath(path)}\u0000${anchor}`
    if (seen.has(key) && !rule) return
    seen.add(key)
    issues.push({ code, path, message, anchor })
  }
  for (const e of resolveUnions(errors)) {
    const path = [...base, ...pathOfPointer(e.instancePath, root)]
    const s = (e.parentSchema ?? {}) as Schema
    const got = describeValue(e.data)
    switch (e.keyword) {
      case 'laxType':
      case 'emptyFields':
      case 'exactlyOne':
      case 'refine':
        add(e.params.code, path, e.params.message, e.params.anchor, e.keyword === 'refine')
        // A required field left empty is not also missing.
        if (e.keyword === 'emptyFields') seen.add(`${formatPath(path)}\u0000parent`)
        break
      case 'type': {
        const hint = s.type === 'string' && ['number', 'boolean'].includes(typeof e.data) ? ' (put it in quotes)' : ''
        add('OFA_CONFIG_TYPE', path, `expected ${expectedOf(s)}, got ${got}${hint}`)
        break
      }
      case 'union':
        add(
          s.anyOf?.every((b) => b.const !== undefined) ? 'OFA_CONFIG_VALUE' : 'OFA_CONFIG_TYPE',
          path,
          `expected ${expectedOf(s)}, got ${got}`,
        )
        break
      case 'required':
        add('OFA_CONFIG_MISSING_FIELD', [...path, e.params.missingProperty], 'missing required field', 'parent')
        break
      case 'additionalProperties': {
        const k = e.params.additionalProperty as string
        if (s.patternProperties) {
          const keyExpected = s.keyExpected ?? `a name matching ${Object.keys(s.patternProperties)[0]}`
          add('OFA_CONFIG_VALUE', [...path, k], `invalid name: expected ${keyExpected}`, 'key')
        } else {
          add('OFA_CONFIG_UNKNOWN_FIELD', [...path, k], unknownFieldMessage(k, Object.keys(s.properties ?? {})), 'key')
        }
        break
      }
      case 'discriminator': {
        const tag = e.params.tag as string
        const tags = (s.oneOf ?? []).map((b) => b.properties?.[tag]?.const)
        const value = e.params.tagValue
        if (value === undefined || value === null) {
          add(
            'OFA_CONFIG_MISSING_FIELD',
            [...path, tag],
            `missing required field (one of ${tags.join(', ')})`,
            'parent',
          )
        } else {
          add('OFA_CONFIG_VALUE', [...path, tag], `expected one of ${tags.join(', ')}, got ${describeValue(value)}`)
        }
        break
      }
      case 'minimum':
      case 'maximum':
        add('OFA_CONFIG_VALUE', path, `expected ${expectedOf(s)} ${rangeText(s)}, got ${got}`)
        break
      case 'minLength':
        add('OFA_CONFIG_VALUE', path, e.data === '' ? 'must not be empty' : `expected ${expectedOf(s)}, got ${got}`)
        break
      case 'minItems':
        add('OFA_CONFIG_VALUE', path, `expected at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`)
        break
      case 'if':
        // `if`/`then`/`else` picks a schema; the errors of the one picked are reported.
        break
      default:
        // pattern, const, enum, format and whatever else a schema says about one value.
        add('OFA_CONFIG_VALUE', path, `expected ${expectedOf(s)}, got ${got}`)
    }
  }
  return issues
}
