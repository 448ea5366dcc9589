/**
 * JSON functions (docs: "Scalar functions" § JSON): JSON held in STRING values. Text that is not JSON gives NULL
 * (or false), as in ksqlDB. Numbers are read as JavaScript numbers, so a value's text comes back as JavaScript
 * writes it (`1.50` as `1.5`, integers past 2^53 rounded).
 *
 * EXTRACTJSONFIELD's paths: `$` then any of `.name`, `['name']`, `["name"]`, `[index]` (from 0). Wildcards and
 * filters are not supported (a path that could select several values is an `OFA_SQL_VALUE` error, as the result is
 * one STRING).
 */
import { OpenFactoryError } from '@openfactory/model'
import { base64Text, decimalText, javaDoubleText } from '../serde/scalar-text.ts'
import type { SqlStruct, SqlType, SqlValue } from '../types.ts'
import { dateText, timestampText, timeText } from './calendar.ts'
import type { ScalarArg, ScalarSpec } from './registry.ts'
import { P } from './signature.ts'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Step = string | number

const str = (a: readonly ScalarArg[], i: number): string => a[i] as string

function parseJson(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json
  } catch {
    return undefined
  }
}

function pathError(path: string, why: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', `JSON path '${path}': ${why}`)
}

/** The steps of a JSON path (`$.a.b[0]`, `$['a b']`). Throws OFA_SQL_VALUE for a path it cannot read. */
export function parseJsonPath(path: string): Step[] {
  const steps: Step[] = []
  let i = path.startsWith('$') ? 1 : 0
  if (i === 0 && path !== '' && path[0] !== '.' && path[0] !== '[') i = -1
  if (i === -1) {
    // A bare name (`a.b`), as some callers write it.
    i = 0
    const m = /^[^.[\]]+/.exec(path)
    if (m) {
      steps.push(m[0])
      i = m[0].length
    }
  }
  while (i < path.length) {
    const c = path[i]
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(path.slice(i + 1))
      if (m === null) throw pathError(path, `a name expected at ${i + 2}`)
      if (m[0] === '*') throw pathError(path, 'wildcards are not supported')
      steps.push(m[0])
      i += 1 + m[0].length
    } else if (c === '[') {
      const rest = path.slice(i)
      const m = /^\[\s*(?:(\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]/.exec(rest)
      if (m === null) {
        throw pathError(
          path,
          rest.startsWith('[*') || rest.startsWith('[?')
            ? 'wildcards and filters are not supported'
            : `a [index] or ['name'] expected at ${i + 1}`,
        )
      }
      if (m[1] !== undefined) steps.push(Number(m[1]))
      else steps.push((m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'))
      i += m[0].length
    } else {
      throw pathError(path, `'.' or '[' expected at ${i + 1}`)
    }
  }
  return steps
}

function walk(root: Json, steps: readonly Step[]): Json | undefined {
  let node: Json | undefined = root
  for (const s of steps) {
    if (node === null || typeof node !== 'object') return undefined
    if (typeof s === 'number') {
      if (!Array.isArray(node)) return undefined
      node = node[s]
    } else {
      if (Array.isArray(node) || !Object.hasOwn(node, s)) return undefined
      node = node[s]
    }
  }
  return node
}

/** A JSON value as ksqlDB returns it in a STRING: a string's content, anything else its compact JSON text. */
function jsonText(v: Json): string {
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/**
 * A value as JSON text, typed: DECIMAL with its scale, DOUBLE as Java writes it (NaN and the infinities as strings),
 * BYTES in base64, TIMESTAMP `yyyy-MM-dd'T'HH:mm:ss.SSS`, DATE `yyyy-MM-dd`, TIME `HH:mm[:ss[.SSS]]` (strings),
 * STRUCT fields as declared.
 */
export function toJsonText(v: SqlValue, type: SqlType | null): string {
  if (v === null || type === null) return 'null'
  switch (type.kind) {
    case 'BOOLEAN':
      return v ? 'true' : 'false'
    case 'INTEGER':
    case 'BIGINT':
      return String(v)
    case 'DOUBLE':
      return Number.isFinite(v as number) ? javaDoubleText(v as number) : `"${javaDoubleText(v as number)}"`
    case 'DECIMAL':
      return decimalText(v as number, type.scale)
    case 'STRING':
      return JSON.stringify(v)
    case 'BYTES':
      return JSON.stringify(base64Text(v as Uint8Array))
    case 'TIMESTAMP':
      return JSON.stringify(timestampText(v as number))
    case 'DATE':
      return JSON.stringify(dateText(v as number))
    case 'TIME':
      return JSON.stringify(timeText(v as number))
    case 'ARRAY':
      return `[${(v as readonly SqlValue[]).map((e) => toJsonText(e, type.element)).join(',')}]`
    case 'MAP': {
      const parts: string[] = []
      for (const [k, x] of v as ReadonlyMap<string, SqlValue>)
        parts.push(`${JSON.stringify(k)}:${toJsonText(x, type.value)}`)
      return `{${parts.join(',')}}`
    }
    case 'STRUCT': {
      const s = v as SqlStruct
      return `{${type.fields.map((f) => `${JSON.stringify(f.name)}:${toJsonText(s[f.name] ?? null, f.type)}`).join(',')}}`
    }
  }
}

export const JSON_FUNCTIONS: readonly ScalarSpec[] = [
  {
    name: 'EXTRACTJSONFIELD',
    category: 'JSON',
    description: "The value at a JSON path (`'$.log.cloud'`, `'$.a[0]'`) of JSON text, as a STRING.",
    nulls: 'NULL if any argument is NULL, the text is not JSON, or the path leads nowhere or to null',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        returns: P.STRING,
        bind: () => {
          let lastPath: string | undefined
          let steps: Step[] = []
          return (a) => {
            const path = str(a, 1)
            if (path !== lastPath) {
              steps = parseJsonPath(path)
              lastPath = path
            }
            const root = parseJson(str(a, 0))
            if (root === undefined) return null
            const v = walk(root, steps)
            return v === undefined || v === null ? null : jsonText(v)
          }
        },
      },
    ],
  },
  {
    name: 'JSON_ARRAY_LENGTH',
    category: 'JSON',
    description: 'The length of the JSON array in the text.',
    nulls: 'NULL if NULL, not JSON, or not an array',
    signatures: [
      {
        params: [P.STRING],
        returns: P.INTEGER,
        impl: (a) => {
          const v = parseJson(str(a, 0))
          return Array.isArray(v) ? v.length : null
        },
      },
    ],
  },
  {
    name: 'JSON_KEYS',
    category: 'JSON',
    description: 'The top-level keys of the JSON object in the text.',
    nulls: 'NULL if NULL, not JSON, or not an object',
    signatures: [
      {
        params: [P.STRING],
        returns: P.array(P.STRING),
        impl: (a) => {
          const v = parseJson(str(a, 0))
          return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : null
        },
      },
    ],
  },
  {
    name: 'JSON_RECORDS',
    category: 'JSON',
    description: 'The top-level entries of the JSON object in the text: keys to their values as JSON text.',
    nulls: 'NULL if NULL, not JSON, or not an object',
    signatures: [
      {
        params: [P.STRING],
        returns: P.map(P.STRING),
        impl: (a) => {
          const v = parseJson(str(a, 0))
          if (v === null || typeof v !== 'object' || Array.isArray(v)) return null
          const out = new Map<string, SqlValue>()
          for (const [k, x] of Object.entries(v)) out.set(k, JSON.stringify(x))
          return out
        },
      },
    ],
  },
  {
    name: 'IS_JSON_STRING',
    category: 'JSON',
    description: 'Whether the text is valid JSON (any JSON value).',
    nulls: 'NULL: false',
    signatures: [
      {
        params: [P.STRING],
        returns: P.BOOLEAN,
        strict: false,
        impl: (a) => a[0] !== null && parseJson(str(a, 0)) !== undefined,
      },
    ],
  },
  {
    name: 'TO_JSON_STRING',
    category: 'JSON',
    description: 'Any value as JSON text (dates and times as ISO strings, BYTES in base64).',
    nulls: "NULL: 'null'",
    signatures: [
      {
        params: [P.T],
        returns: P.STRING,
        strict: false,
        bind: (t) => {
          const type = t.argTypes[0] ?? null
          return (a) => toJsonText(a[0] as SqlValue, type)
        },
      },
    ],
  },
]
