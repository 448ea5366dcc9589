/**
 * The Unified Namespace (UNS) schema, in the reference OpenFactory format:
 *
 *   namespace_structure:            # the levels, in order; each a constant, a list of allowed values, or ANY
 *     - inc: Demofactory
 *     - area: [Machining, Assembly]
 *     - workcenter: ANY
 *     - asset: ANY
 *     - attribute: ANY
 *   uns_template: inc/area/workcenter/asset/attribute
 *
 * The template names levels of the structure in the same order (it may leave some out) and ends with
 * `attribute`; its separator is the first character that is not a letter, digit or `_`. A template without
 * `asset` is taken, as the reference takes it: the `asset` level is then placed right before `attribute`
 * (`inc/area/attribute` places assets as `inc/area/asset`), with a warning, so that every asset still has its
 * own UNS id.
 *
 * An asset's `uns` map places it (see `placeAsset`): constant levels may be omitted (another value is an
 * error), listed levels take allowed values only, `asset` defaults to the uuid, and the levels given before
 * `asset` must be a contiguous prefix of the template's non-constant levels. Levels the template does not
 * have, and `attribute` (it names data items, not assets), are accepted as the reference accepts them, but
 * ignored, with a warning. The UNS id joins the values with the separator: `Demofactory/Machining/WC001/dht-sensor`.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { UnsPlacement } from '../asset.ts'
import { OpenFactoryError } from '../errors.ts'
import { checkValue, type Issue, type PathSegment } from './check-value.ts'
import type { Env } from './expand-env.ts'
import { issueToError, parseSource } from './yaml-source.ts'

export const UnsSchemaSpec = Type.Object(
  {
    namespace_structure: Type.Array(
      Type.Record(
        Type.String(),
        Type.Union([Type.String(), Type.Array(Type.String())], { expected: 'a value, a list of values or ANY' }),
      ),
      { minItems: 1 },
    ),
    uns_template: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
)
export type UnsSchemaSpec = Static<typeof UnsSchemaSpec>

export type UnsConstraint =
  | { readonly kind: 'constant'; readonly value: string }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'any' }

export interface UnsLevel {
  readonly name: string
  readonly constraint: UnsConstraint
}

export interface UnsSchema {
  /** The file it was read from, when it was read from one. */
  readonly file?: string
  /** The character between levels in UNS ids, from the template. */
  readonly separator: string
  /** The template's levels, in order, ending with `attribute` (with `asset` before it, if it was left out). */
  readonly template: readonly string[]
  /** Every level of `namespace_structure`, in order. */
  readonly levels: readonly UnsLevel[]
  /** Places an asset: see `placeAsset`. Throws `OFA_UNS_INVALID` (all problems in `problems`). */
  place(uuid: string, uns?: Readonly<Record<string, unknown>>): UnsPlacement
}

/** One problem (or warning) about an asset's `uns` map; `level` names the level it is about, if any. */
export interface UnsProblem {
  readonly level?: string
  readonly message: string
}

/** A problem (or warning) about the schema itself, at a path inside the schema file. */
interface SchemaProblem {
  readonly path: readonly PathSegment[]
  readonly message: string
}

const LEVEL_NAME = /^[\p{L}\p{N}_]+$/u
const SEPARATOR = /[^\p{L}\p{N}_]/u

/**
 * Builds a UNS schema from its structurally valid spec. Problems (code OFA_UNS_SCHEMA) and warnings are returned
 * with the path they are about; the schema is returned only when there are no problems.
 */
export function buildUnsSchema(
  spec: UnsSchemaSpec,
  file?: string,
): { schema?: UnsSchema; problems: SchemaProblem[]; warnings: SchemaProblem[] } {
  const problems: SchemaProblem[] = []
  const warnings: SchemaProblem[] = []
  const levels: UnsLevel[] = []
  spec.namespace_structure.forEach((item, i) => {
    const keys = Object.keys(item)
    if (keys.length !== 1) {
      problems.push({
        path: ['namespace_structure', i],
        message: `each level is a map with exactly one key, got ${keys.length}`,
      })
      return
    }
    const name = keys[0]!
    const value = item[name]!
    if (!LEVEL_NAME.test(name)) {
      problems.push({
        path: ['namespace_structure', i, name],
        message: 'a level name is made of letters, digits and _',
      })
      return
    }
    if (levels.some((l) => l.name === name)) {
      problems.push({ path: ['namespace_structure', i, name], message: `level ${name} is defined twice` })
      return
    }
    let constraint: UnsConstraint
    if (Array.isArray(value)) {
      if (value.length === 0)
        problems.push({ path: ['namespace_structure', i, name], message: 'the list of allowed values is empty' })
      constraint = { kind: 'enum', values: [...new Set(value)] }
    } else if (value === 'ANY') constraint = { kind: 'any' }
    else constraint = { kind: 'constant', value }
    levels.push({ name, constraint })
  })

  const levelProblems = problems.length
  const sep = SEPARATOR.exec(spec.uns_template)?.[0]
  const template = sep === undefined ? [spec.uns_template] : spec.uns_template.split(sep)
  const at = ['uns_template']
  if (sep === undefined)
    problems.push({ path: at, message: 'no separator between levels (e.g. inc/area/asset/attribute)' })
  else if (template.some((t) => t === ''))
    problems.push({ path: at, message: `empty level between two ${JSON.stringify(sep)}` })
  else {
    if (template[template.length - 1] !== 'attribute')
      problems.push({ path: at, message: 'the template must end with attribute' })
    const names = levels.map((l) => l.name)
    const unknown = template.filter((t) => !names.includes(t))
    if (levelProblems > 0) {
      // A level with a problem is missing from `names`: the template cannot be checked against them.
    } else if (unknown.length > 0) {
      problems.push({ path: at, message: `levels not defined in namespace_structure: ${unknown.join(', ')}` })
    } else {
      const expected = names.filter((n) => template.includes(n))
      if (expected.join(sep) !== template.join(sep)) {
        problems.push({
          path: at,
          message: `levels must follow the order of namespace_structure: ${expected.join(sep)}`,
        })
      }
    }
    levels.forEach((l, i) => {
      const values =
        l.constraint.kind === 'constant'
          ? [l.constraint.value]
          : l.constraint.kind === 'enum'
            ? l.constraint.values
            : []
      for (const v of values) {
        if (v === '' || v.includes(sep)) {
          problems.push({
            path: ['namespace_structure', i, l.name],
            message: `value ${JSON.stringify(v)} is empty or contains the separator ${sep}`,
          })
        }
      }
    })
  }
  if (problems.length > 0) return { problems, warnings }
  if (!template.includes('asset')) {
    template.splice(template.length - 1, 0, 'asset')
    warnings.push({
      path: at,
      message: `no asset level: assets are placed at ${template.slice(0, -1).join(sep)} (asset is the uuid unless given)`,
    })
  }
  const schema: UnsSchema = Object.freeze({
    ...(file !== undefined ? { file } : {}),
    separator: sep!,
    template: Object.freeze(template),
    levels: Object.freeze(levels),
    place(uuid: string, uns?: Readonly<Record<string, unknown>>): UnsPlacement {
      return placeAsset(schema, uuid, uns)
    },
  })
  return { schema, problems, warnings }
}

/**
 * Checks an asset's `uns` map against the schema and derives its placement. Never throws: returns the
 * placement, or the problems; and the warnings (levels ignored).
 */
export function checkUnsPlacement(
  schema: UnsSchema,
  uuid: string,
  uns: Readonly<Record<string, unknown>> = {},
): { placement?: UnsPlacement; problems: UnsProblem[]; warnings: UnsProblem[] } {
  const problems: UnsProblem[] = []
  const warnings: UnsProblem[] = []
  const sep = schema.separator
  const levelNames = schema.template.filter((t) => t !== 'attribute')
  const constraintOf = (name: string): UnsConstraint =>
    schema.levels.find((l) => l.name === name)?.constraint ?? { kind: 'any' }
  const given = new Map<string, string>()
  for (const [k, raw] of Object.entries(uns)) {
    if (raw === null || raw === undefined) continue
    if (k === 'attribute') {
      warnings.push({ level: k, message: 'the attribute level names data items, not assets: ignored' })
    } else if (!levelNames.includes(k)) {
      warnings.push({ level: k, message: `not a level of the UNS template (${levelNames.join(', ')}): ignored` })
    } else if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') {
      given.set(k, String(raw))
    } else {
      problems.push({ level: k, message: 'expected a level value (text)' })
    }
  }

  const values: Record<string, string> = {}
  for (const name of levelNames) {
    const c = constraintOf(name)
    const v = given.get(name)
    if (c.kind === 'constant') {
      if (v !== undefined && v !== c.value) {
        problems.push({
          level: name,
          message: `is the constant ${JSON.stringify(c.value)} in the UNS schema, got ${JSON.stringify(v)}`,
        })
      }
      values[name] = c.value
      continue
    }
    const value = v ?? (name === 'asset' ? uuid : undefined)
    if (value === undefined) continue
    if (c.kind === 'enum' && !c.values.includes(value)) {
      const what = v === undefined ? `the uuid ${JSON.stringify(value)} (the default asset)` : JSON.stringify(value)
      problems.push({ level: name, message: `${what} is not allowed (allowed: ${c.values.join(', ')})` })
    } else if (value === '' || value.includes(sep)) {
      const what = v === undefined ? `the uuid ${JSON.stringify(value)} (the default asset)` : JSON.stringify(value)
      problems.push({ level: name, message: `${what} is empty or contains the separator ${sep}` })
    }
    values[name] = value
  }

  // Levels given before `asset` must be a contiguous prefix of the non-constant levels; none may come after it.
  const free = levelNames.filter((n) => constraintOf(n).kind !== 'constant')
  const assetAt = free.indexOf('asset')
  const before = assetAt < 0 ? free : free.slice(0, assetAt)
  const after = assetAt < 0 ? [] : free.slice(assetAt + 1)
  const givenBefore = before.filter((n) => given.has(n))
  const missing = before
    .slice(0, before.indexOf(givenBefore[givenBefore.length - 1] ?? '') + 1)
    .filter((n) => !given.has(n))
  if (missing.length > 0) {
    problems.push({
      message: `levels must be given in order without gaps (${before.join(sep)}, then asset): ${missing.join(', ')} missing before ${givenBefore[givenBefore.length - 1]}`,
    })
  }
  for (const n of after) {
    if (given.has(n)) problems.push({ level: n, message: 'comes after asset in the UNS template: it cannot be set' })
  }
  if (problems.length > 0) return { problems, warnings }

  const levels: Record<string, string> = {}
  for (const n of levelNames) if (values[n] !== undefined) levels[n] = values[n]
  const unsId = Object.values(levels).join(sep)
  return { placement: Object.freeze({ levels: Object.freeze(levels), unsId }), problems, warnings }
}

/** Places an asset in the UNS (levels it ignores are not reported). Throws `OFA_UNS_INVALID` carrying every problem. */
export function placeAsset(schema: UnsSchema, uuid: string, uns?: Readonly<Record<string, unknown>>): UnsPlacement {
  const { placement, problems } = checkUnsPlacement(schema, uuid, uns)
  if (placement) return placement
  const errors = problems.map(
    (p) => new OpenFactoryError('OFA_UNS_INVALID', p.level ? `uns.${p.level}: ${p.message}` : `uns: ${p.message}`),
  )
  throw new OpenFactoryError('OFA_UNS_INVALID', `${uuid}: ${errors.map((e) => e.message).join('; ')}`, {
    problems: errors,
  })
}

/** Schema problems as coded errors with their place in the file. */
export function unsSchemaIssues(problems: readonly SchemaProblem[]): Issue[] {
  return problems.map((p) => ({ code: 'OFA_UNS_SCHEMA', path: p.path, message: p.message, anchor: 'value' }))
}

/**
 * Parses a UNS schema from YAML text. Throws `OFA_CONFIG_INVALID` carrying every problem (YAML syntax, unknown
 * fields, OFA_UNS_SCHEMA rules), each with its line and column, in file order. Warnings (a template without
 * `asset`) are not reported here; `validateFactory` reports them.
 */
export function parseUnsSchema(text: string, opts: { file?: string; env?: Env } = {}): UnsSchema {
  const file = opts.file ?? '<uns schema>'
  const src = parseSource(text, { path: file, display: file, env: opts.env ?? process.env })
  const problems = [...src.problems]
  if (src.value !== undefined && problems.length === 0) {
    const ctx = { dir: '.', issues: [] as Issue[] }
    const spec = checkValue(UnsSchemaSpec, src.value, [], ctx)
    if (ctx.issues.length === 0) {
      const built = buildUnsSchema(spec as UnsSchemaSpec, opts.file)
      if (built.schema) return built.schema
      ctx.issues.push(...unsSchemaIssues(built.problems))
    }
    problems.push(...ctx.issues.map((i) => issueToError(src, i)))
  }
  problems.sort(
    (a, b) => (a.where?.line ?? 0) - (b.where?.line ?? 0) || (a.where?.column ?? 0) - (b.where?.column ?? 0),
  )
  // The message is a summary: the problems are printed from `problems`, once each.
  const n = problems.length
  throw new OpenFactoryError('OFA_CONFIG_INVALID', `invalid UNS schema ${file}: ${n} problem${n === 1 ? '' : 's'}`, {
    problems,
  })
}
