/**
 * A factory as a deployment sees it: a set of resources — topics, assets, connectors, SQL statements, processors,
 * apps — each a kind, a name and plain JSON fields. `desiredState` derives it from the factory folder; the state a
 * deployment applied is recorded as the same shape (deployments.ts), so that `ofa plan` is a diff of two of them
 * (plan.ts). Fields hold what decides how a resource runs, nothing derived or positional (a device moved to another
 * line of its file is no change), so that a plan shows only real changes.
 */
import { createHash, scryptSync } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { relative, sep } from 'node:path'
import { type Factory, OpenFactoryError, TOPICS, topicSettings } from '@openfactory/model'
import { formatStatement, parseStatements } from '@openfactory/sql'

export type ResourceKind = 'topic' | 'asset' | 'connector' | 'sql' | 'processor' | 'app'

/** In the order a plan lists (and an apply creates) them: what others need first. */
export const RESOURCE_KINDS: readonly ResourceKind[] = ['topic', 'asset', 'connector', 'sql', 'processor', 'app']

export type FieldValue = null | boolean | number | string | FieldValue[] | { [k: string]: FieldValue }

export interface Resource {
  readonly kind: ResourceKind
  /** Unique within its kind: a topic's name, an asset's uuid, a SQL statement's stream or table... */
  readonly name: string
  readonly fields: Readonly<Record<string, FieldValue>>
  /** Where it is declared (file relative to the factory folder, line), for people; not compared. */
  readonly where?: string
}

export interface FactoryState {
  readonly resources: readonly Resource[]
}

/**
 * Plain JSON of a config value: undefined dropped, keys sorted (so that a key's order in a file is no change). With
 * `dir`, the factory folder, a path inside it (the loader makes file references absolute) is written relative to it,
 * `./devices/mill.xml`, so that the same files deployed from another folder (a rollback's snapshot) are no change;
 * and a file's content is part of it (`./devices/mill.xml sha256:0a1b2c3d4e5f`): a new device XML or SHDR recording
 * is a change of the device.
 */
export function fieldValue(v: unknown, dir?: string): FieldValue {
  if (v === undefined || v === null) return null
  if (Array.isArray(v)) return v.map((x) => fieldValue(x, dir))
  if (typeof v === 'object') {
    const out: Record<string, FieldValue> = {}
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k]
      if (x === undefined) continue
      // A credential (an OPC UA or MQTT password, a token) is never recorded: its hash says whether it changed.
      out[k] = SECRET_FIELD.test(k) && typeof x === 'string' ? secretDigest(x) : fieldValue(x, dir)
    }
    return out
  }
  if (typeof v === 'string') return dir !== undefined && v.startsWith(`${dir}${sep}`) ? folderPath(dir, v) : v
  if (typeof v === 'number' || typeof v === 'boolean') return v
  return String(v)
}

/** Field names that hold credentials (any case): their values are recorded as a digest only. */
const SECRET_FIELD = /pass(word|phrase)?$|secret|token|private_?key|api_?key/i

/**
 * A credential's digest: scrypt (slow on purpose: a record on the log, or a service label, must not let a guessable
 * password be found by hashing guesses fast), so that a change of it is still a change.
 */
function secretDigest(value: string): string {
  return `secret scrypt:${scryptSync(value, 'openfactory deployment secret', 12).toString('hex')}`
}

function folderPath(dir: string, path: string): string {
  const rel = `./${relative(dir, path).split(sep).join('/')}`
  try {
    return statSync(path).isFile() ? `${rel} sha256:${sha256(path).slice(0, 12)}` : rel
  } catch {
    return rel
  }
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/** The resources a factory declares, sorted by kind (RESOURCE_KINDS) then name. Duplicates are refused, placed. */
export function desiredState(factory: Factory): FactoryState {
  const dir = factory.dir
  const place = (d: { file: string; where?: { line?: number } }) =>
    `${relative(dir, d.file) || d.file}${d.where?.line !== undefined ? `:${d.where.line}` : ''}`
  const out: Resource[] = []
  const manifest = factory.manifest
  const topics = new Set<string>([
    TOPICS.assets,
    TOPICS.registry,
    TOPICS.documents,
    TOPICS.connectorState,
    TOPICS.unsMap,
    ...Object.keys(manifest.topics).filter((t) => t !== 'defaults'),
  ])
  for (const name of topics) {
    const s = topicSettings(manifest, name)
    const compacted = name !== TOPICS.assets && (Object.values(TOPICS) as string[]).includes(name)
    out.push({
      kind: 'topic',
      name,
      fields: fieldValue({ ...s, cleanupPolicy: compacted ? 'compact' : 'delete' }) as Record<string, FieldValue>,
      ...(manifest.file ? { where: place({ file: manifest.file }) } : {}),
    })
  }
  for (const d of factory.devices) {
    const where = place(d)
    out.push({
      kind: 'asset',
      name: d.uuid,
      fields: { device: d.name, uns: d.uns?.unsId ?? null },
      where,
    })
    out.push({
      kind: 'connector',
      name: d.uuid,
      fields: fieldValue({ ...d.connector, deploy: d.spec.deploy }, dir) as Record<string, FieldValue>,
      where,
    })
  }
  // SQL: each statement that makes something, named by what it makes; its text as the formatter prints it.
  const inserts = new Map<string, number>()
  for (const file of manifest.sql) {
    for (const stmt of parseStatements(readFileSync(file, 'utf8'), { file })) {
      let name: string
      if (stmt.kind === 'CreateSourceNode' || stmt.kind === 'CreateAsSelectNode') name = stmt.name
      else if (stmt.kind === 'InsertIntoNode') {
        const n = (inserts.get(stmt.target) ?? 0) + 1
        inserts.set(stmt.target, n)
        name = `INSERT INTO ${stmt.target}${n > 1 ? ` #${n}` : ''}`
      } else continue
      out.push({
        kind: 'sql',
        name,
        fields: { statement: formatStatement(stmt) },
        where: place({ file, where: stmt.where }),
      })
    }
  }
  for (const file of manifest.processors) {
    out.push({ kind: 'processor', name: relative(dir, file), fields: { sha256: sha256(file) }, where: place({ file }) })
  }
  for (const a of factory.apps) {
    out.push({
      kind: 'app',
      name: a.uuid,
      fields: fieldValue(a.spec, dir) as Record<string, FieldValue>,
      where: place(a),
    })
  }
  return { resources: sortResources(out) }
}

/** By kind (RESOURCE_KINDS order), then name; two of one kind and name are refused (`OFA_DEPLOY_DUPLICATE`). */
export function sortResources(list: readonly Resource[]): Resource[] {
  const sorted = [...list].sort(
    (a, b) =>
      RESOURCE_KINDS.indexOf(a.kind) - RESOURCE_KINDS.indexOf(b.kind) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as Resource
    const b = sorted[i] as Resource
    if (a.kind === b.kind && a.name === b.name) {
      throw new OpenFactoryError(
        'OFA_DEPLOY_DUPLICATE',
        `${b.kind} ${b.name} is declared twice: ${a.where ?? '?'} and ${b.where ?? '?'}`,
        b.where ? { where: { file: b.where } } : {},
      )
    }
  }
  return sorted
}
