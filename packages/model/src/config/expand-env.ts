/**
 * Variables in configuration values: `$VAR`, `${VAR}`, `${VAR:-default}`, and `$$` for a literal `$`.
 *
 * The reference OpenFactory expands these in the raw text before parsing YAML (Docker Compose semantics):
 * `$VAR` and `${VAR}` are the variable's value; `${VAR:-default}` is the default when the variable is unset or
 * empty; `$$` is a `$` (write `$$rpm` for the simulator's `$rpm`). A `$` followed by anything else stays as it
 * is. We expand after parsing, scalar by scalar, so that line and column numbers refer to the file as written,
 * and differ on two points on purpose: an unset variable without a default is an error, not an empty string;
 * and so is a variable that leaves a URI without its host (`opc.tcp://${HOST}:4840` with HOST empty). A plain
 * (unquoted) scalar is re-typed after expansion the way YAML would have typed the text (`port: ${PORT:-7878}`
 * is the number 7878); a quoted scalar stays a string. Keys are not expanded.
 *
 * The variables come from the environment, over those of a `.ofaenv` file in the working folder (dotenv
 * format, read by Node's own `util.parseEnv`: `KEY=value` lines, `#` comments, optional quotes and `export `).
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parseEnv } from 'node:util'

export type Env = Readonly<Record<string, string | undefined>>

/**
 * `$$`, then a reference: `${NAME}` or `${NAME:-default}` (the reference accepts any name without `}`, `:` or
 * white space), or `$NAME` (letters, digits and `_`, not starting with a digit).
 */
const TOKEN = /\$\$|\$\{([^}:\s]+)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g

export interface EnvExpansion {
  readonly value: string
  /** Variables that are unset and have no default, with the index of their `$` in the input. */
  readonly unset: readonly { readonly name: string; readonly index: number }[]
}

/** Each reference of a text (not `$$`): its variable, default, index and length. */
function references(text: string): { name: string; fallback?: string; index: number; length: number }[] {
  const out: { name: string; fallback?: string; index: number; length: number }[] = []
  for (const m of text.matchAll(TOKEN)) {
    if (m[0] === '$$') continue
    out.push({
      name: (m[1] ?? m[3])!,
      ...(m[2] !== undefined ? { fallback: m[2] } : {}),
      index: m.index,
      length: m[0].length,
    })
  }
  return out
}

/** The variables a text refers to (not `$$`), each once, in order. */
export function referencedVariables(text: string): string[] {
  return [...new Set(references(text).map((r) => r.name))]
}

/** Where each reference (not `$$`) of a text starts, in order. */
export function referenceIndexes(text: string): number[] {
  return references(text).map((r) => r.index)
}

/** The value of one reference; undefined when the variable is unset and there is no default. */
function variableValue(env: Env, name: string, fallback: string | undefined): string | undefined {
  // Own properties only: `${constructor}` is not Object's constructor.
  const v = Object.hasOwn(env, name) && typeof env[name] === 'string' ? env[name] : undefined
  if (fallback !== undefined) return v === undefined || v === '' ? fallback : v
  return v
}

export function expandEnv(text: string, env: Env): EnvExpansion {
  const unset: { name: string; index: number }[] = []
  const value = text.replace(TOKEN, (m: string, braced?: string, fallback?: string, bare?: string, index = 0) => {
    if (m === '$$') return '$'
    const name = (braced ?? bare)!
    const v = variableValue(env, name, fallback)
    if (v === undefined) unset.push({ name, index })
    return v ?? ''
  })
  return { value, unset }
}

/** `scheme://`, optional `user@`, then the host: what is left of it once empty variables are taken out. */
const URI_HOST = /[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#\s]*@)?((?:\uE002\d+\uE003)+)(?=[:/?#\s]|$)/g

/**
 * Variables that are set (or defaulted) to an empty text where they make the whole host of a URI, as in
 * `opc.tcp://${HOST}:4840` with HOST empty: with the index of their `$` in the input.
 */
export function emptyHostReferences(text: string, env: Env): { name: string; index: number }[] {
  const refs = references(text)
  if (refs.length === 0 || !text.includes('://')) return []
  // Each empty reference becomes a marker; a host made of markers only is empty.
  let marked = ''
  let from = 0
  refs.forEach((r, i) => {
    const v = variableValue(env, r.name, r.fallback)
    marked += text.slice(from, r.index).replaceAll('$$', '$') + (v === '' ? `\uE002${i}\uE003` : (v ?? ''))
    from = r.index + r.length
  })
  marked += text.slice(from).replaceAll('$$', '$')
  const out: { name: string; index: number }[] = []
  for (const m of marked.matchAll(URI_HOST)) {
    for (const id of m[1]!.matchAll(/\uE002(\d+)\uE003/g)) {
      const r = refs[Number(id[1])]!
      out.push({ name: r.name, index: r.index })
    }
  }
  return out
}

/**
 * Hides every reference of a YAML text behind a placeholder of the same length, so that the text parses the
 * way the reference's expanded text would (`[${A}, ${B}]` and `{k: ${V}}` are flow collections, where `{` and
 * `}` would otherwise be syntax) while every line and column stays where it is written. A placeholder is
 * `\uE000` then `\uE001` up to the reference's length; `refs` lists the references in file order.
 */
export function maskEnvReferences(text: string): { masked: string; refs: readonly { text: string; index: number }[] } {
  const refs = references(text).map((r) => ({ text: text.slice(r.index, r.index + r.length), index: r.index }))
  let masked = ''
  let from = 0
  for (const r of refs) {
    masked += `${text.slice(from, r.index)}\uE000${'\uE001'.repeat(r.text.length - 1)}`
    from = r.index + r.text.length
  }
  return { masked: masked + text.slice(from), refs }
}

const PLACEHOLDER = /\uE000\uE001*/g

/** True when a scalar's text holds a placeholder made by `maskEnvReferences`. */
export function hasPlaceholder(text: string): boolean {
  return text.includes('\uE000')
}

/** Puts the references back in place of their placeholders, in order (`refs`: those of this scalar). */
export function unmaskEnvReferences(text: string, refs: readonly { text: string }[]): string {
  let i = 0
  return text.replace(PLACEHOLDER, (m) => refs[i++]?.text ?? m)
}

/** Types a plain scalar's text with the YAML 1.2 core schema: null, booleans, integers, floats, else text. */
export function typePlainScalar(text: string): string | number | boolean | null {
  const s = text.trim()
  if (/^(?:~|null|Null|NULL)?$/.test(s)) return null
  if (/^(?:true|True|TRUE)$/.test(s)) return true
  if (/^(?:false|False|FALSE)$/.test(s)) return false
  if (/^[-+]?[0-9]+$/.test(s)) return Number(s)
  if (/^0o[0-7]+$/.test(s)) return Number.parseInt(s.slice(2), 8)
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16)
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(s)) return Number(s)
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  if (/^\.(?:nan|NaN|NAN)$/.test(s)) return Number.NaN
  return s
}

/** The file of variables read from the working folder. */
export const OFAENV_FILE = '.ofaenv'

/** The largest `.ofaenv` read (1 MiB). */
const OFAENV_MAX_BYTES = 1024 * 1024

/**
 * The variables of `<dir>/.ofaenv` under those of `env` (a variable set in `env` wins), or `env` itself when
 * there is no such file. Throws the file system's error when the file exists but cannot be read.
 */
export async function withOfaenv(dir: string, env: Env): Promise<Env> {
  let text: string
  try {
    const path = join(dir, OFAENV_FILE)
    // A variables file is small: anything else (a huge file, a device) is refused before it is read.
    const s = await stat(path)
    if (!s.isFile() || s.size > OFAENV_MAX_BYTES) {
      throw new Error(`${OFAENV_FILE} is not a file of at most ${OFAENV_MAX_BYTES} bytes`)
    }
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return env
    throw err
  }
  const merged: Record<string, string | undefined> = parseEnv(text)
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v
  return merged
}
