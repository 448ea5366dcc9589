/**
 * One configuration file: its YAML document (kept to map field paths back to lines and columns), its value
 * after variable expansion (`$VAR`, `${VAR}`, `${VAR:-default}`), and the problems found while reading it.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument } from 'yaml'
import { OpenFactoryError, type Where } from '../errors.ts'
import { type Anchor, formatPath, type Issue, type PathSegment } from './check-value.ts'
import {
  type Env,
  emptyHostReferences,
  expandEnv,
  hasPlaceholder,
  maskEnvReferences,
  referenceIndexes,
  typePlainScalar,
  unmaskEnvReferences,
} from './expand-env.ts'

export interface SourceFile {
  /** Absolute path. */
  readonly path: string
  /** The path as messages print it (relative to the working directory when inside it). */
  readonly display: string
  readonly doc?: Document
  readonly lineCounter: LineCounter
  /** The parsed value with variables expanded; `undefined` when the YAML is broken. */
  readonly value: unknown
  readonly problems: OpenFactoryError[]
  /** Field paths (formatted) whose value used an unset (or empty host) variable: later problems there are noise. */
  readonly unsetPaths: ReadonlySet<string>
}

/** Parses YAML text and expands variables. Never throws: problems are collected on the result. */
export function parseSource(text: string, opts: { path: string; display: string; env: Env }): SourceFile {
  const lineCounter = new LineCounter()
  const problems: OpenFactoryError[] = []
  const unsetPaths = new Set<string>()
  const at = (offset: number): Pick<Where, 'line' | 'column'> => {
    const p = lineCounter.linePos(offset)
    return { line: p.line, column: p.col }
  }
  // References are masked while parsing (same length, so positions hold), then expanded scalar by scalar.
  const { masked, refs } = maskEnvReferences(text)
  let doc: Document
  try {
    doc = parseDocument(masked, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true, logLevel: 'error' })
  } catch (err) {
    problems.push(
      new OpenFactoryError('OFA_CONFIG_YAML', `cannot parse YAML: ${(err as Error).message}`, {
        where: { file: opts.display },
      }),
    )
    return { path: opts.path, display: opts.display, lineCounter, value: undefined, problems, unsetPaths }
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const message = e.message.split('\n')[0] ?? e.message
      problems.push(
        new OpenFactoryError('OFA_CONFIG_YAML', message, { where: { file: opts.display, ...at(e.pos[0]) } }),
      )
    }
    return { path: opts.path, display: opts.display, doc, lineCounter, value: undefined, problems, unsetPaths }
  }

  /** The references written inside a node's source text, in order. */
  const refsIn = (node: Node) => {
    const [start, end] = node.range ?? [0, 0]
    let lo = 0
    let hi = refs.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (refs[mid]!.index < start) lo = mid + 1
      else hi = mid
    }
    let stop = lo
    while (stop < refs.length && refs[stop]!.index < end) stop++
    return refs.slice(lo, stop)
  }
  const problem = (
    code: 'OFA_CONFIG_ENV_UNSET' | 'OFA_CONFIG_ENV_EMPTY',
    path: PathSegment[],
    offset: number,
    text: string,
  ) => {
    const p = formatPath(path)
    unsetPaths.add(p)
    problems.push(
      new OpenFactoryError(code, `${p ? `${p}: ` : ''}${text}`, {
        where: { file: opts.display, ...at(offset), ...(p ? { path: p } : {}) },
      }),
    )
  }

  // Expand variables in scalar values (not keys), where they are written; aliases share the expanded node.
  const expand = (node: unknown, path: PathSegment[]): void => {
    if (isScalar(node)) {
      if (typeof node.value !== 'string' || !(hasPlaceholder(node.value) || node.value.includes('$$'))) return
      const own = refsIn(node)
      const original = unmaskEnvReferences(node.value, own)
      // Where each reference of this scalar is in the file.
      const starts = referenceIndexes(original)
      const offsetOf = (index: number) => own[starts.indexOf(index)]?.index ?? node.range?.[0] ?? 0
      const { value, unset } = expandEnv(original, opts.env)
      for (const u of unset) {
        problem(
          'OFA_CONFIG_ENV_UNSET',
          path,
          offsetOf(u.index),
          `environment variable ${u.name} is not set (set it, or give a default: \${${u.name}:-value})`,
        )
      }
      for (const e of emptyHostReferences(original, opts.env)) {
        problem(
          'OFA_CONFIG_ENV_EMPTY',
          path,
          offsetOf(e.index),
          `environment variable ${e.name} is empty, which leaves a URI without its host (set it, or give a default: \${${e.name}:-host})`,
        )
      }
      node.value = node.type === 'PLAIN' || node.type === undefined ? typePlainScalar(value) : value
    } else if (isMap(node)) {
      for (const pair of node.items) {
        // Keys are not expanded: they get their text back.
        if (isScalar(pair.key) && typeof pair.key.value === 'string' && hasPlaceholder(pair.key.value)) {
          pair.key.value = unmaskEnvReferences(pair.key.value, refsIn(pair.key))
        }
        const key = keyText(pair.key)
        if (key === '<<' && !isAlias(pair.value)) expand(pair.value, path)
        else expand(pair.value, [...path, key])
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        expand(item, [...path, i])
      })
    }
  }
  expand(doc.contents, [])

  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    problems.push(
      new OpenFactoryError('OFA_CONFIG_YAML', (err as Error).message, {
        where: { file: opts.display, line: 1, column: 1 },
      }),
    )
    return { path: opts.path, display: opts.display, doc, lineCounter, value: undefined, problems, unsetPaths }
  }
  return { path: opts.path, display: opts.display, doc, lineCounter, value, problems, unsetPaths }
}

function keyText(key: unknown): string {
  if (isScalar(key)) return key.value === null ? '' : String(key.value)
  return String(key)
}

/** Finds the pair holding `key` in a map, looking into `<<` merge sources as YAML merge keys do. */
function findPair(map: Node, key: string, doc: Document, depth = 0): Pair | undefined {
  if (!isMap(map) || depth > 10) return undefined
  for (const pair of map.items) if (keyText(pair.key) === key) return pair
  for (const pair of map.items) {
    if (keyText(pair.key) !== '<<') continue
    const sources = isSeq(pair.value) ? pair.value.items : [pair.value]
    for (let src of sources) {
      if (isAlias(src)) src = src.resolve(doc)
      const found = findPair(src as Node, key, doc, depth + 1)
      if (found) return found
    }
  }
  return undefined
}

/** The key and value nodes at a field path; for a path that does not exist, those of its deepest ancestor. */
function locate(doc: Document, path: readonly PathSegment[]): { key?: Node; value?: Node; exact: boolean } {
  let value = doc.contents as Node | null | undefined
  let key: Node | undefined
  for (const seg of path) {
    let node = value
    if (isAlias(node)) node = node.resolve(doc) as Node | undefined
    if (isMap(node)) {
      const pair = findPair(node, String(seg), doc)
      if (!pair) return { key, value: value ?? undefined, exact: false }
      key = pair.key as Node
      value = pair.value as Node | null
      if (value === null) return { key, value: undefined, exact: true }
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      key = undefined
      value = node.items[seg] as Node
    } else {
      return { key, value: value ?? undefined, exact: false }
    }
  }
  return { key, value: value ?? undefined, exact: true }
}

/** File, line, column and field path of a problem at `path` inside `src`. */
export function whereIn(src: SourceFile, path: readonly PathSegment[], anchor: Anchor = 'value'): Where {
  const where: { file: string; line?: number; column?: number; path?: string } = { file: src.display }
  if (path.length > 0) where.path = formatPath(path)
  if (!src.doc) return where
  let node: Node | undefined
  if (anchor === 'parent') {
    const loc = locate(src.doc, path.slice(0, -1))
    node = loc.key ?? loc.value
  } else {
    const loc = locate(src.doc, path)
    if (!loc.exact) node = loc.key ?? loc.value
    else node = anchor === 'key' ? (loc.key ?? loc.value) : (loc.value ?? loc.key)
  }
  const offset = node?.range?.[0]
  if (offset !== undefined) {
    const p = src.lineCounter.linePos(offset)
    where.line = p.line
    where.column = p.col
  } else {
    where.line = 1
    where.column = 1
  }
  return where
}

/** Turns a schema issue into a coded error with its place in the file. */
export function issueToError(src: SourceFile, issue: Issue): OpenFactoryError {
  const p = formatPath(issue.path)
  return new OpenFactoryError(issue.code, p ? `${p}: ${issue.message}` : issue.message, {
    where: whereIn(src, issue.path, issue.anchor),
  })
}
