/**
 * A small validator for configuration values described by TypeBox schemas.
 *
 * We describe every file format with TypeBox (so the TypeScript types derive from the schemas and the schemas
 * can be exported as JSON Schema), but walk the value ourselves instead of using a generic JSON Schema engine:
 * configuration errors must name the field, say what was expected and what was found, and all of them must
 * be found in one pass. The walker understands the subset of JSON Schema our schemas use: `type` (string,
 * integer, number, boolean, null, array, object), `const`, `anyOf`, `pattern`, `minimum`/`maximum`,
 * `minLength`, `minItems`, `properties`/`required`/`patternProperties`/`additionalProperties` and `default`,
 * plus three options of ours:
 *
 * - `expected`: how a message names what the field expects ("a memory size like 512Mi");
 * - `discriminator`: on an `anyOf` of objects, the property whose constant value selects the branch;
 * - `exactlyOne`: on an object, two fields of which exactly one must be given (checked even when other
 *   fields have problems, like `required`);
 * - `refine(value, report, ctx)`: rules a schema cannot say (a file must exist, fields that depend on each
 *   other), run only when the value is structurally valid; it may return a replacement value.
 *
 * Like pydantic in "lax" mode (what the reference OpenFactory uses), numbers and booleans given as text are
 * accepted (`port: "7878"`, `expose: yes`). An empty value (`null`) of an optional field counts as absent.
 */
import type { TSchema } from '@sinclair/typebox'
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
export type Refine = (value: any, report: Report, ctx: CheckContext) => unknown

/** Returned by `checkValue` for a value that has problems. */
export const INVALID: unique symbol = Symbol('invalid')

interface Schema {
  readonly type?: string
  readonly const?: unknown
  readonly anyOf?: readonly Schema[]
  readonly pattern?: string
  readonly minimum?: number
  readonly maximum?: number
  readonly minLength?: number
  readonly minItems?: number
  readonly items?: Schema
  readonly properties?: Readonly<Record<string, Schema>>
  readonly required?: readonly string[]
  readonly patternProperties?: Readonly<Record<string, Schema>>
  readonly additionalProperties?: boolean | Schema
  readonly default?: unknown
  readonly expected?: string
  readonly discriminator?: string
  /** On an `anyOf`: which branch's problems to report when no branch fits (index), if it can tell. */
  readonly pick?: (value: unknown) => number | undefined
  readonly keyExpected?: string
  readonly exactlyOne?: ExactlyOne
  readonly refine?: Refine
}

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
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

function hasOwn(obj: object | undefined, key: string): boolean {
  return obj !== undefined && Object.hasOwn(obj, key)
}

function expectedOf(s: Schema): string {
  if (s.expected) return s.expected
  if (s.anyOf) {
    if (s.anyOf.every((b) => b.const !== undefined)) return `one of ${s.anyOf.map((b) => String(b.const)).join(', ')}`
    return [...new Set(s.anyOf.filter((b) => b.type !== 'null').map(expectedOf))].join(' or ')
  }
  if (s.const !== undefined) return JSON.stringify(s.const)
  switch (s.type) {
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

/** The key pattern TypeBox gives `Type.Record(Type.String(), ...)`: every key. */
const ANY_KEY = '^(.*)$'

const INTEGER_TEXT = /^\s*[-+]?\d+\s*$/
const NUMBER_TEXT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/
const TRUE_TEXT = new Set(['true', 'yes', 'on', 'y', 't', '1'])
const FALSE_TEXT = new Set(['false', 'no', 'off', 'n', 'f', '0'])

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

/**
 * Checks `value` against `schema`, appending problems to `ctx.issues`. Returns the value with text numbers
 * converted, defaults applied and empty optional fields removed, or `INVALID` when anything inside is wrong.
 */
export function checkValue(schema: TSchema, value: unknown, path: readonly PathSegment[], ctx: CheckContext): unknown {
  return walk(schema as unknown as Schema, value, path, ctx)
}

function walk(s: Schema, v: unknown, path: readonly PathSegment[], ctx: CheckContext): unknown {
  const issue = (code: ErrorCode, message: string, anchor: Anchor = 'value') => {
    ctx.issues.push({ code, path, message, anchor })
    return INVALID
  }
  let out: unknown
  if (s.anyOf) {
    out = walkUnion(s, v, path, ctx)
  } else if (s.const !== undefined) {
    if (v !== s.const) return issue('OFA_CONFIG_VALUE', `expected ${JSON.stringify(s.const)}, got ${describeValue(v)}`)
    out = v
  } else {
    switch (s.type) {
      case 'string': {
        if (typeof v !== 'string') {
          const hint = typeof v === 'number' || typeof v === 'boolean' ? ' (put it in quotes)' : ''
          return issue('OFA_CONFIG_TYPE', `expected ${expectedOf(s)}, got ${describeValue(v)}${hint}`)
        }
        if (s.minLength !== undefined && v.length < s.minLength) {
          return issue(
            'OFA_CONFIG_VALUE',
            v === '' ? 'must not be empty' : `expected ${expectedOf(s)}, got ${describeValue(v)}`,
          )
        }
        if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) {
          return issue('OFA_CONFIG_VALUE', `expected ${expectedOf(s)}, got ${describeValue(v)}`)
        }
        out = v
        break
      }
      case 'integer':
      case 'number': {
        let n = v
        if (typeof v === 'string' && (s.type === 'integer' ? INTEGER_TEXT : NUMBER_TEXT).test(v)) n = Number(v)
        if (typeof n !== 'number' || !Number.isFinite(n) || (s.type === 'integer' && !Number.isInteger(n))) {
          return issue('OFA_CONFIG_TYPE', `expected ${expectedOf(s)}, got ${describeValue(v)}`)
        }
        if ((s.minimum !== undefined && n < s.minimum) || (s.maximum !== undefined && n > s.maximum)) {
          const range =
            s.maximum === undefined
              ? `at least ${s.minimum}`
              : s.minimum === undefined
                ? `at most ${s.maximum}`
                : `between ${s.minimum} and ${s.maximum}`
          return issue('OFA_CONFIG_VALUE', `expected ${expectedOf(s)} ${range}, got ${n}`)
        }
        out = n
        break
      }
      case 'boolean': {
        let b = v
        if (typeof v === 'string' && TRUE_TEXT.has(v.trim().toLowerCase())) b = true
        else if (typeof v === 'string' && FALSE_TEXT.has(v.trim().toLowerCase())) b = false
        else if (v === 0 || v === 1) b = v === 1
        if (typeof b !== 'boolean') return issue('OFA_CONFIG_TYPE', `expected true or false, got ${describeValue(v)}`)
        out = b
        break
      }
      case 'null':
        if (v !== null && v !== undefined)
          return issue('OFA_CONFIG_TYPE', `expected an empty value, got ${describeValue(v)}`)
        out = null
        break
      case 'array': {
        if (!Array.isArray(v)) return issue('OFA_CONFIG_TYPE', `expected ${expectedOf(s)}, got ${describeValue(v)}`)
        if (s.minItems !== undefined && v.length < s.minItems) {
          return issue('OFA_CONFIG_VALUE', `expected at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`)
        }
        const items: unknown[] = []
        let ok = true
        v.forEach((item, i) => {
          const r = s.items ? walk(s.items, item, [...path, i], ctx) : item
          if (r === INVALID) ok = false
          else items.push(r)
        })
        if (!ok) return INVALID
        out = items
        break
      }
      case 'object':
        out = walkObject(s, v, path, ctx)
        if (out === INVALID) return INVALID
        break
      default:
        out = v
    }
  }
  if (out === INVALID || !s.refine) return out
  const before = ctx.issues.length
  const report: Report = (rel, code, message, anchor = 'value') => {
    ctx.issues.push({ code, path: [...path, ...rel], message, anchor })
  }
  const replaced = s.refine(out, report, ctx)
  if (ctx.issues.length > before) return INVALID
  return replaced === undefined ? out : replaced
}

function walkObject(s: Schema, v: unknown, path: readonly PathSegment[], ctx: CheckContext): unknown {
  if (!isPlainObject(v)) {
    ctx.issues.push({
      code: 'OFA_CONFIG_TYPE',
      path,
      message: `expected ${expectedOf(s)}, got ${describeValue(v)}`,
      anchor: 'value',
    })
    return INVALID
  }
  const out: Record<string, unknown> = {}
  const required = s.required ?? []
  const patterns = s.patternProperties ? Object.entries(s.patternProperties) : []
  let ok = true
  for (const [k, pv] of Object.entries(v)) {
    const sub = [...path, k]
    if (hasOwn(s.properties, k)) {
      if (pv === null && !required.includes(k)) continue
      const r = walk(s.properties![k]!, pv, sub, ctx)
      if (r === INVALID) ok = false
      else setOwn(out, k, r)
      continue
    }
    if (patterns.length > 0) {
      const match = patterns.find(([p]) => p === ANY_KEY || new RegExp(p, 'u').test(k))
      if (!match) {
        const keyExpected = s.keyExpected ?? `a name matching ${patterns[0]![0]}`
        ctx.issues.push({
          code: 'OFA_CONFIG_VALUE',
          path: sub,
          message: `invalid name: expected ${keyExpected}`,
          anchor: 'key',
        })
        ok = false
        continue
      }
      const r = walk(match[1], pv, sub, ctx)
      if (r === INVALID) ok = false
      else setOwn(out, k, r)
      continue
    }
    if (s.additionalProperties === false) {
      const allowed = Object.keys(s.properties ?? {})
      ctx.issues.push({
        code: 'OFA_CONFIG_UNKNOWN_FIELD',
        path: sub,
        message: unknownFieldMessage(k, allowed),
        anchor: 'key',
      })
      ok = false
      continue
    }
    if (typeof s.additionalProperties === 'object') {
      const r = walk(s.additionalProperties, pv, sub, ctx)
      if (r === INVALID) ok = false
      else setOwn(out, k, r)
      continue
    }
    setOwn(out, k, pv)
  }
  for (const k of required) {
    if (!Object.hasOwn(v, k)) {
      ctx.issues.push({
        code: 'OFA_CONFIG_MISSING_FIELD',
        path: [...path, k],
        message: 'missing required field',
        anchor: 'parent',
      })
      ok = false
    } else if (v[k] === null) {
      ctx.issues.push({
        code: 'OFA_CONFIG_MISSING_FIELD',
        path: [...path, k],
        message: 'required field is empty',
        anchor: 'key',
      })
      ok = false
    }
  }
  if (s.exactlyOne) {
    const [a, b] = s.exactlyOne.fields
    const hasA = v[a] !== undefined && v[a] !== null
    const hasB = v[b] !== undefined && v[b] !== null
    if (!hasA && !hasB) {
      ctx.issues.push({
        code: 'OFA_CONFIG_MISSING_FIELD',
        path: [...path, a],
        message: s.exactlyOne.missing,
        anchor: 'parent',
      })
      ok = false
    } else if (hasA && hasB) {
      ctx.issues.push({ code: 'OFA_CONFIG_VALUE', path: [...path, b], message: s.exactlyOne.both, anchor: 'key' })
      ok = false
    }
  }
  if (!ok) return INVALID
  for (const [k, ps] of Object.entries(s.properties ?? {})) {
    if (ps.default !== undefined && !Object.hasOwn(out, k)) setOwn(out, k, structuredClone(ps.default))
  }
  return out
}

function walkUnion(s: Schema, v: unknown, path: readonly PathSegment[], ctx: CheckContext): unknown {
  const branches = s.anyOf!
  if ((v === null || v === undefined) && branches.some((b) => b.type === 'null')) return null
  if (branches.every((b) => b.const !== undefined)) {
    if (branches.some((b) => b.const === v)) return v
    ctx.issues.push({
      code: 'OFA_CONFIG_VALUE',
      path,
      message: `expected ${expectedOf(s)}, got ${describeValue(v)}`,
      anchor: 'value',
    })
    return INVALID
  }
  if (s.discriminator !== undefined) {
    const tag = s.discriminator
    if (!isPlainObject(v)) {
      ctx.issues.push({
        code: 'OFA_CONFIG_TYPE',
        path,
        message: `expected a map, got ${describeValue(v)}`,
        anchor: 'value',
      })
      return INVALID
    }
    const tags = branches.map((b) => b.properties?.[tag]?.const)
    if (!Object.hasOwn(v, tag) || v[tag] === null) {
      ctx.issues.push({
        code: 'OFA_CONFIG_MISSING_FIELD',
        path: [...path, tag],
        message: `missing required field (one of ${tags.join(', ')})`,
        anchor: 'parent',
      })
      return INVALID
    }
    const i = tags.indexOf(v[tag])
    if (i < 0) {
      ctx.issues.push({
        code: 'OFA_CONFIG_VALUE',
        path: [...path, tag],
        message: `expected one of ${tags.join(', ')}, got ${describeValue(v[tag])}`,
        anchor: 'value',
      })
      return INVALID
    }
    return walk(branches[i]!, v, path, ctx)
  }
  // Try each branch quietly; the first that fits wins.
  for (const b of branches) {
    const scratch: CheckContext = { dir: ctx.dir, issues: [] }
    const r = walk(b, v, path, scratch)
    if (r !== INVALID) return r
  }
  // None fits: report the problems of the branch the value was meant for, else of the one of the same shape
  // (map, list, text...), else a type error.
  const picked = s.pick?.(v)
  if (picked !== undefined && branches[picked]) return walk(branches[picked], v, path, ctx)
  const shape = Array.isArray(v)
    ? ['array']
    : isPlainObject(v)
      ? ['object']
      : typeof v === 'number'
        ? ['integer', 'number']
        : [typeof v]
  const same = branches.filter((b) => b.type !== undefined && shape.includes(b.type))
  if (same.length === 1) return walk(same[0]!, v, path, ctx)
  ctx.issues.push({
    code: 'OFA_CONFIG_TYPE',
    path,
    message: `expected ${expectedOf(s)}, got ${describeValue(v)}`,
    anchor: 'value',
  })
  return INVALID
}
