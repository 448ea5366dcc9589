/**
 * A plan: what turns one factory state into another (state.ts) — each resource created, updated (with every field
 * that changed, by its dotted path) or deleted — in the order an apply carries it out: creations and updates in
 * RESOURCE_KINDS order (topics before the queries that read them), deletions in the reverse order (apps before the
 * topics they read). `formatPlan` prints it for people, `--json` gives the same as data.
 */
import { type FactoryState, type FieldValue, RESOURCE_KINDS, type Resource, type ResourceKind } from './state.ts'

export interface FieldChange {
  /** Dotted path in the resource's fields (`config.interval_ms`, `items.speed.units`). */
  readonly field: string
  /** undefined: the field is new (or, for `to`, gone). */
  readonly from?: FieldValue
  readonly to?: FieldValue
}

export type Change =
  | { readonly action: 'create'; readonly kind: ResourceKind; readonly name: string; readonly where?: string }
  | {
      readonly action: 'update'
      readonly kind: ResourceKind
      readonly name: string
      readonly where?: string
      readonly fields: readonly FieldChange[]
    }
  | { readonly action: 'delete'; readonly kind: ResourceKind; readonly name: string }

export interface Plan {
  readonly changes: readonly Change[]
  readonly summary: { readonly create: number; readonly update: number; readonly delete: number }
}

const isObject = (v: FieldValue | undefined): v is { [k: string]: FieldValue } =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The leaves that differ between two field values; objects compared key by key, anything else as a whole. */
export function fieldChanges(from: FieldValue | undefined, to: FieldValue | undefined, path = ''): FieldChange[] {
  if (isObject(from) && isObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()
    return keys.flatMap((k) => fieldChanges(from[k], to[k], path ? `${path}.${k}` : k))
  }
  if (JSON.stringify(from) === JSON.stringify(to)) return []
  return [{ field: path, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) }]
}

const key = (r: Pick<Resource, 'kind' | 'name'>) => `${r.kind}\u0000${r.name}`

export function planChanges(desired: FactoryState, actual: FactoryState): Plan {
  const before = new Map(actual.resources.map((r) => [key(r), r]))
  const after = new Map(desired.resources.map((r) => [key(r), r]))
  const changes: Change[] = []
  for (const r of desired.resources) {
    const old = before.get(key(r))
    const where = r.where !== undefined ? { where: r.where } : {}
    if (!old) {
      changes.push({ action: 'create', kind: r.kind, name: r.name, ...where })
      continue
    }
    const fields = fieldChanges(old.fields as FieldValue, r.fields as FieldValue)
    if (fields.length > 0) changes.push({ action: 'update', kind: r.kind, name: r.name, ...where, fields })
  }
  const deletions = actual.resources
    .filter((r) => !after.has(key(r)))
    .sort((a, b) => RESOURCE_KINDS.indexOf(b.kind) - RESOURCE_KINDS.indexOf(a.kind))
    .map((r): Change => ({ action: 'delete', kind: r.kind, name: r.name }))
  changes.push(...deletions)
  const count = (a: Change['action']) => changes.filter((c) => c.action === a).length
  return { changes, summary: { create: count('create'), update: count('update'), delete: count('delete') } }
}

const show = (v: FieldValue | undefined): string => (v === undefined ? '(none)' : JSON.stringify(v))

/** The plan for people: a line per resource (`+` create, `~` update, `-` delete), an indented line per field. */
export function formatPlan(plan: Plan): string {
  if (plan.changes.length === 0) return 'No changes: the deployment matches the files.\n'
  const lines: string[] = []
  for (const c of plan.changes) {
    const sign = c.action === 'create' ? '+' : c.action === 'update' ? '~' : '-'
    const where = c.action !== 'delete' && c.where ? `  (${c.where})` : ''
    lines.push(`${sign} ${c.kind} ${c.name}${where}`)
    if (c.action === 'update') {
      for (const f of c.fields) lines.push(`    ${f.field}: ${show(f.from)} → ${show(f.to)}`)
    }
  }
  const s = plan.summary
  lines.push('', `Plan: ${s.create} to create, ${s.update} to update, ${s.delete} to delete.`)
  return `${lines.join('\n')}\n`
}
