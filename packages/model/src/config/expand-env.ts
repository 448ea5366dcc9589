/**
 * `${VAR}` and `${VAR:-default}` in configuration values.
 *
 * The reference OpenFactory expands these in the raw text before parsing YAML (Docker Compose semantics):
 * `${VAR}` is the variable's value; `${VAR:-default}` is the default when the variable is unset or empty. We
 * expand after parsing, scalar by scalar, so that line and column numbers refer to the file as written, and
 * differ on one point on purpose: an unset variable without a default is an error, not an empty string.
 * A plain (unquoted) scalar is re-typed after expansion the way YAML would have typed the text
 * (`port: ${PORT:-7878}` is the number 7878); a quoted scalar stays a string. Keys are not expanded.
 */

export type Env = Readonly<Record<string, string | undefined>>

/** A variable reference: the reference accepts any name without `}`, `:` or white space. */
const REFERENCE = /\$\{([^}:\s]+)(?::-([^}]*))?\}/g

export interface EnvExpansion {
  readonly value: string
  /** Variables that are unset and have no default, with the index of their `${` in the input. */
  readonly unset: readonly { readonly name: string; readonly index: number }[]
}

export function expandEnv(text: string, env: Env): EnvExpansion {
  const unset: { name: string; index: number }[] = []
  const value = text.replace(REFERENCE, (_m, name: string, fallback: string | undefined, index: number) => {
    const v = env[name]
    if (fallback !== undefined) return v === undefined || v === '' ? fallback : v
    if (v === undefined) {
      unset.push({ name, index })
      return ''
    }
    return v
  })
  return { value, unset }
}

/**
 * Hides every `${...}` reference of a YAML text behind a placeholder of the same length, so that the text
 * parses the way the reference's expanded text would (`[${A}, ${B}]` and `{k: ${V}}` are flow collections,
 * where `{` and `}` would otherwise be syntax) while every line and column stays where it is written.
 * Placeholders are made of private-use characters: `\uE000`, the reference's number in base 36, then
 * `\uE001` up to the original length.
 */
export function maskEnvReferences(text: string): { masked: string; refs: readonly { text: string; index: number }[] } {
  const refs: { text: string; index: number }[] = []
  const masked = text.replace(REFERENCE, (m: string, ...rest: unknown[]) => {
    const id = refs.length.toString(36)
    if (id.length + 1 > m.length) return m
    refs.push({ text: m, index: rest[rest.length - 2] as number })
    return `\uE000${id}${'\uE001'.repeat(m.length - 1 - id.length)}`
  })
  return { masked, refs }
}

const PLACEHOLDER = /\uE000([0-9a-z]+)\uE001*/g

/** True when a scalar's text holds a placeholder made by `maskEnvReferences`. */
export function hasPlaceholder(text: string): boolean {
  return text.includes('\uE000')
}

/** Puts the original references back in place of their placeholders. */
export function unmaskEnvReferences(text: string, refs: readonly { text: string }[]): string {
  return text.replace(PLACEHOLDER, (m, id: string) => refs[Number.parseInt(id, 36)]?.text ?? m)
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
