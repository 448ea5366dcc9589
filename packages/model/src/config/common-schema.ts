/**
 * Pieces shared by the reference-format files: ports, UUIDs, environment lists and `deploy` blocks (devices,
 * adapters, supervisors, apps). Keys keep the reference OpenFactory's snake_case spelling.
 */
import { type Static, Type } from '@sinclair/typebox'
import { ASSET_UUID_PATTERN } from '../asset.ts'
import type { Refine } from './check-value.ts'

export const Port = Type.Integer({ minimum: 1, maximum: 65535, expected: 'a port number' })

export const NonEmptyString = Type.String({ minLength: 1 })

export const AssetUuid = Type.String({
  pattern: ASSET_UUID_PATTERN.source,
  expected: 'a UUID made of letters, digits and -_.: (starting with a letter or digit)',
})

/** `["NAME=value", ...]`, as Docker takes a container's environment. */
export const EnvironmentList = Type.Array(
  Type.String({ pattern: '^[^=\\s]+=', expected: 'an environment entry NAME=value' }),
)

/**
 * Memory sizes as the reference reads them: a number, optionally fractional, with an optional unit b, k, kb,
 * m, mb, mi, g, gb, gi (any case; k, m and g are powers of 1024). We also take ki, t, tb, ti, and a plain
 * integer number of bytes.
 */
const MEMORY_PATTERN = '^\\s*(?:\\d+(?:\\.\\d*)?|\\.\\d+)\\s*(?:[bB]|[kKmMgGtT](?:[bBiI])?)?\\s*$'
const MEMORY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  ki: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mi: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gi: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  ti: 1024 ** 4,
}

export const MemorySize = Type.Union(
  [Type.String({ pattern: MEMORY_PATTERN, expected: 'a memory size like 512Mi or 1Gi' }), Type.Integer({ minimum: 0 })],
  { expected: 'a memory size like 512Mi or 1Gi' },
)

/** Bytes of a memory size (`512Mi` → 536870912). Throws a plain Error on text the schema would refuse. */
export function memoryBytes(size: string | number): number {
  if (typeof size === 'number') return size
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(size)
  const factor = m ? MEMORY_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || factor === undefined) throw new Error(`not a memory size: ${size}`)
  return Math.floor(Number(m[1]) * factor)
}

/**
 * A swarm placement constraint, `node.labels.zone == building-a` or `node.role != manager`. A single `=`
 * means `==` (as in the reference); the loaded configuration holds the normalized form.
 */
const CONSTRAINT = /^\s*([A-Za-z0-9_.-]+)\s*(==|!=|=)\s*(\S(?:.*\S)?)\s*$/

export function normalizeConstraint(text: string): string | undefined {
  const m = CONSTRAINT.exec(text)
  if (!m) return undefined
  return `${m[1]} ${m[2] === '!=' ? '!=' : '=='} ${m[3]}`
}

const refineConstraints: Refine = (list: string[], report) => {
  return list.map((c, i) => {
    const n = normalizeConstraint(c)
    if (n === undefined) {
      report(
        [i],
        'OFA_CONFIG_VALUE',
        `expected a constraint like "node.labels.zone == building-a", got ${JSON.stringify(c)}`,
      )
    }
    return n ?? c
  })
}

export const ResourcesDefinition = Type.Object(
  {
    cpus: Type.Optional(Type.Number({ minimum: 0, expected: 'a number of CPUs (0.5 is half a core)' })),
    memory: Type.Optional(MemorySize),
    open_files: Type.Optional(Type.Integer({ minimum: 1, expected: 'a number of file descriptors' })),
  },
  { additionalProperties: false },
)

export const DeploySpec = Type.Object(
  {
    replicas: Type.Optional(Type.Integer({ minimum: 0, expected: 'a number of replicas' })),
    resources: Type.Optional(
      Type.Object(
        { reservations: Type.Optional(ResourcesDefinition), limits: Type.Optional(ResourcesDefinition) },
        { additionalProperties: false },
      ),
    ),
    placement: Type.Optional(
      Type.Object(
        { constraints: Type.Optional(Type.Array(Type.String(), { refine: refineConstraints })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

export type DeploySpec = Static<typeof DeploySpec>
