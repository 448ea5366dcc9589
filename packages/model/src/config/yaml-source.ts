/**
 * One configuration file: its YAML document (kept to map field paths back to lines and columns), its value
 * after variable expansion (`$VAR`, `${VAR}`, `${VAR:-default}`), and the problems found while reading it.
 *
 * Reading a file, step by step, each bounded (limits.ts):
 * 1. its bytes must be UTF-8 text of the characters YAML allows (printable ones, tab and line breaks);
 * 2. the `yaml` library's parser makes a concrete syntax tree (it loops, it does not recurse); its nesting is
 *    checked against the depth limit before the library's composer, which recurses once per level, builds the
 *    document from it — so deep input gets our coded problem, never a stack overflow;
 * 3. variables are expanded in the document's values, where they are written;
 * 4. one walk of the document builds the value (`buildValue`): it checks duplicate keys with one hash set per
 *    map, resolves each alias once with an index of the anchors seen so far, applies merge keys (`<<`), and
 *    bounds nesting (through aliases too) and what aliases add.
 *
 * Why our own walk instead of the library's duplicate-key check and `toJS`: both are quadratic. The library
 * compares each key of a map with every key before it, and resolves each alias by scanning every anchor and
 * alias of the document; its `maxAliasCount` also refused a 101st use of one anchor (`<<: *defaults` in 101
 * devices). Measured for issue 10 (generated factories, one file, 2 cores): 16 000 devices took 7.5–11 s to
 * validate, 32 000 took 34–51 s, 64 000 took 208 s; with this walk, 2.9 s, 5.2 s and 10.2 s. 16 000 aliases
 * alone took 2.4 s in `toJS`. Looking a field path up (to place a
 * problem or a declaration) scanned each map's keys too; maps are indexed on first lookup instead.
 */
import { isUtf8 } from 'node:buffer'
import {
  type Alias,
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  Parser,
  type YAMLMap,
} from 'yaml'
import { type ErrorCode, OpenFactoryError, type Where } from '../errors.ts'
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
import { CONFIG_LIMITS, type ConfigLimits } from './limits.ts'
import { printable } from './printable.ts'

export interface SourceFile {
  /** Absolute path. */
  readonly path: string
  /** The path as messages print it (relative to the working directory when inside it). */
  readonly display: string
  readonly doc?: Document
  readonly lineCounter: LineCounter
  /** The parsed value with variables expanded; `undefined` when the file cannot be read as YAML. */
  readonly value: unknown
  readonly problems: OpenFactoryError[]
  /** Field paths (formatted) whose value used an unset (or empty host) variable: later problems there are noise. */
  readonly unsetPaths: ReadonlySet<string>
}

export interface ParseSourceOptions {
  readonly path: string
  readonly display: string
  readonly env: Env
  /** Depth and alias bounds (the others apply to reading files). Default: CONFIG_LIMITS. */
  readonly limits?: ConfigLimits
}

/**
 * Work counter, read by the test that keeps loading linear (issue 10): map keys compared, hashed or indexed
 * while checking duplicate keys and looking field paths up. Counting costs one addition.
 */
export const sourceWork = { keys: 0 }

/** A configuration problem whose message and place may quote a file: made printable (printable.ts). */
export function configProblem(code: ErrorCode, message: string, where?: Where): OpenFactoryError {
  const safe = where && {
    ...where,
    ...(where.file === undefined ? {} : { file: printable(where.file) }),
    ...(where.path === undefined ? {} : { path: printable(where.path) }),
  }
  return new OpenFactoryError(code, printable(message), safe ? { where: safe } : {})
}

/**
 * Parses a file's bytes (or text) and expands variables. Never throws: problems are collected on the result.
 */
export function parseSource(input: string | Uint8Array, opts: ParseSourceOptions): SourceFile {
  const limits = opts.limits ?? CONFIG_LIMITS
  const lineCounter = new LineCounter()
  const problems: OpenFactoryError[] = []
  const unsetPaths = new Set<string>()
  const result = (doc?: Document, value?: unknown): SourceFile => ({
    path: opts.path,
    display: opts.display,
    ...(doc ? { doc } : {}),
    lineCounter,
    value,
    problems,
    unsetPaths,
  })
  const at = (offset: number): Pick<Where, 'line' | 'column'> => {
    const p = lineCounter.linePos(offset)
    return { line: p.line, column: p.col }
  }

  const decoded = decodeText(input)
  if (typeof decoded !== 'string') {
    problems.push(configProblem('OFA_CONFIG_FILE', decoded.message, { file: opts.display, ...decoded.at }))
    return result()
  }
  // References are masked while parsing (same length, so positions hold), then expanded scalar by scalar.
  const { masked, refs } = maskEnvReferences(decoded)
  let doc: Document
  try {
    const composed = composeDocument(masked, lineCounter, limits)
    if ('deep' in composed) {
      problems.push(
        configProblem('OFA_CONFIG_LIMIT', depthMessage(limits), { file: opts.display, ...at(composed.deep) }),
      )
      return result()
    }
    doc = composed.doc
    if (composed.next !== undefined) {
      const message = 'the file holds several YAML documents (separated by ---): give one per file'
      problems.push(configProblem('OFA_CONFIG_YAML', message, { file: opts.display, ...at(composed.next) }))
    }
  } catch (err) {
    const message = `cannot parse YAML: ${(err as Error).message}`
    problems.push(configProblem('OFA_CONFIG_YAML', message, { file: opts.display }))
    return result()
  }
  for (const e of doc.errors) {
    const message = e.message.split('\n')[0] ?? e.message
    problems.push(configProblem('OFA_CONFIG_YAML', message, { file: opts.display, ...at(e.pos[0]) }))
  }
  if (problems.length > 0) return result(doc)

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
      configProblem(code, `${p ? `${p}: ` : ''}${text}`, {
        file: opts.display,
        ...at(offset),
        ...(p ? { path: p } : {}),
      }),
    )
  }

  // Expand variables in scalar values (not keys), where they are written; aliases share the expanded node.
  // The recursion is as deep as the document, which the syntax tree check bounded.
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
        if (isMergeKey(pair.key)) {
          // What a merge brings lands in this map.
          for (const source of isSeq(pair.value) ? pair.value.items : [pair.value]) {
            if (isMap(source)) expand(source, path)
          }
        } else {
          expand(pair.value, [...path, keyText(pair.key)])
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        expand(item, [...path, i])
      })
    }
  }
  expand(doc.contents, [])

  const built = buildValue(doc, {
    limits,
    position: (offset) => {
      const p = lineCounter.linePos(offset)
      return { line: p.line, column: p.col }
    },
    problem: (code, message, node, path) => {
      const p = formatPath(path)
      const where = { file: opts.display, ...at(node.range?.[0] ?? 0), ...(p ? { path: p } : {}) }
      problems.push(configProblem(code, p ? `${p}: ${message}` : message, where))
    },
  })
  return result(doc, built)
}

// ---------------------------------------------------------------------------------------------------------
// Text

/** Characters YAML does not allow in a file (YAML 1.2, 5.1: c-printable), besides lone surrogates. */
const NOT_YAML_TEXT = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]|\p{Cs}/u

/** The text of a file, or why it is not text: the first byte that is not UTF-8, or a character YAML refuses. */
function decodeText(input: string | Uint8Array): string | { message: string; at: Pick<Where, 'line' | 'column'> } {
  let text: string
  if (typeof input === 'string') text = input
  else {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    if (!isUtf8(bytes)) {
      const bad = Math.max(0, firstInvalidUtf8(bytes))
      const at = lineColumn(bytes.toString('utf8', 0, bad), bad === 0 ? 0 : Number.POSITIVE_INFINITY)
      const hex = bytes[bad]!.toString(16).toUpperCase().padStart(2, '0')
      return {
        message: `not UTF-8 text: byte 0x${hex} at line ${at.line}, column ${at.column} (save the file as UTF-8)`,
        at,
      }
    }
    text = bytes.toString('utf8')
  }
  const m = NOT_YAML_TEXT.exec(text)
  if (m) {
    const at = lineColumn(text, m.index)
    const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')
    return { message: `not text: control character U+${code} at line ${at.line}, column ${at.column}`, at }
  }
  return text
}

/** Line and column (from 1, columns in UTF-16 units as the YAML library counts them) of an offset of `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const end = Math.min(offset, text.length)
  let line = 1
  let start = 0
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++
    start = i + 1
  }
  return { line, column: end - start + 1 }
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence; -1 when there is none. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0
  while (i < b.length) {
    const c = b[i]!
    if (c < 0x80) {
      i++
      continue
    }
    // Lead byte: how many continuation bytes follow, and the smallest code point that needs them.
    const [n, min] =
      c >= 0xc2 && c <= 0xdf
        ? [1, 0x80]
        : c >= 0xe0 && c <= 0xef
          ? [2, 0x800]
          : c >= 0xf0 && c <= 0xf4
            ? [3, 0x10000]
            : [0, 0]
    // An unknown lead byte, or a sequence cut short by the end of the file.
    if (n === 0 || i + n >= b.length) return i
    let cp = c & (0x3f >> n)
    for (let k = 1; k <= n; k++) {
      const d = b[i + k]!
      if ((d & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (d & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += n + 1
  }
  return -1
}

// ---------------------------------------------------------------------------------------------------------
// Nesting in the syntax tree

function depthMessage(limits: ConfigLimits, alias?: string): string {
  const through = alias === undefined ? '' : `, through the alias *${alias}`
  return `nested more than ${limits.depth} levels deep (maps and lists)${through}: the limit`
}

/**
 * The document of a YAML text (and where a second document starts, if there is one), or the offset of the first
 * collection nested deeper than the limit. The syntax tree, several times the text's size, is garbage once this
 * returns.
 */
function composeDocument(
  text: string,
  lineCounter: LineCounter,
  limits: ConfigLimits,
): { doc: Document; next?: number } | { deep: number } {
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text))
  const deep = tooDeep(tokens, limits.depth)
  if (deep !== undefined) return { deep }
  let doc: Document | undefined
  for (const d of new Composer({ merge: true, uniqueKeys: false, logLevel: 'error' }).compose(
    tokens,
    true,
    text.length,
  )) {
    if (doc) return { doc, next: d.range[0] }
    doc = d
  }
  // `compose(tokens, true)` always gives a document, an empty one for an empty text.
  return { doc: doc as Document }
}

/** The offset of the first collection (in file order) nested deeper than `limit`, if any. Loops, does not recurse. */
function tooDeep(tokens: readonly CST.Token[], limit: number): number | undefined {
  const stack: [CST.Token, number][] = []
  for (const t of tokens) if (t.type === 'document' && t.value) stack.push([t.value, 0])
  let first: number | undefined
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [t, above] = top
    if (t.type !== 'block-map' && t.type !== 'block-seq' && t.type !== 'flow-collection') continue
    if (above + 1 > limit) {
      if (first === undefined || t.offset < first) first = t.offset
      continue
    }
    for (const item of t.items) {
      if (item.key) stack.push([item.key, above + 1])
      if (item.value) stack.push([item.value, above + 1])
    }
  }
  return first
}

// ---------------------------------------------------------------------------------------------------------
// The value of a document

/** A merge key (`<<`, unquoted): the library gives it a symbol for a value. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol'
}

function keyText(key: unknown): string {
  if (isMergeKey(key)) return '<<'
  if (isScalar(key)) return key.value === null ? '' : String(key.value)
  return String(key)
}

/** Sets an own property, even one named `__proto__`. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

/** What a node becomes: its value, how many maps and lists deep it goes, and how many nodes it holds expanded. */
interface Built {
  readonly value: unknown
  readonly height: number
  readonly size: number
}

/** Stops the walk: a problem that leaves no value to build (a limit, an alias that cannot be resolved). */
class Stop extends Error {}

interface BuildOptions {
  readonly limits: ConfigLimits
  readonly problem: (code: ErrorCode, message: string, node: Node, path: readonly PathSegment[]) => void
  readonly position: (offset: number) => { line: number; column: number }
}

/** What a document's later lookups need: each alias's node, each looked-up map's keys. */
interface SourceIndex {
  readonly aliases: Map<Alias, Node>
  readonly maps: WeakMap<YAMLMap, { keys: Map<string, Pair>; merges: Pair[] }>
}

const indexes = new WeakMap<Document, SourceIndex>()

function indexOf(doc: Document): SourceIndex {
  let idx = indexes.get(doc)
  if (!idx) {
    idx = { aliases: new Map(), maps: new WeakMap() }
    indexes.set(doc, idx)
  }
  return idx
}

/**
 * The value of a document, as the YAML library's `toJS` gives it (plain objects, merge keys applied, an alias
 * shares its anchor's value), in one walk. Problems: duplicate keys (reported, the walk goes on), an alias without
 * an anchor before it or inside the node it names, a merge of something other than a map, nesting past
 * `limits.depth` and aliases adding more than `limits.aliasNodes` nodes (these stop the walk). Returns undefined
 * when there was any problem. The recursion is as deep as the document, which the syntax tree check bounded.
 */
function buildValue(doc: Document, opts: BuildOptions): unknown {
  const { limits } = opts
  const idx = indexOf(doc)
  /** The latest anchor of each name so far: an alias names the last one before it. */
  const anchors = new Map<string, Node>()
  const built = new Map<Node, Built>()
  const building = new Set<Node>()
  const path: PathSegment[] = []
  let added = 0
  let failed = false
  const fail = (code: ErrorCode, message: string, node: Node): void => {
    failed = true
    opts.problem(code, message, node, path)
  }

  /** An alias, resolved: its anchor's value, checked against the depth and expansion limits. */
  const alias = (a: Alias, above: number): Built => {
    const name = printable(a.source)
    const target = anchors.get(a.source)
    if (!target) {
      fail('OFA_CONFIG_YAML', `alias *${name} names no anchor (&${name} must come before it)`, a)
      throw new Stop()
    }
    const b = built.get(target)
    if (building.has(target) || !b) {
      fail('OFA_CONFIG_YAML', `alias *${name} is inside the node it names: a value cannot contain itself`, a)
      throw new Stop()
    }
    idx.aliases.set(a, target)
    if (above + b.height > limits.depth) {
      fail('OFA_CONFIG_LIMIT', depthMessage(limits, name), a)
      throw new Stop()
    }
    added += b.size
    if (added > limits.aliasNodes) {
      const message = `aliases expand to more than ${limits.aliasNodes} nodes (the limit): *${name} here adds ${b.size}`
      fail('OFA_CONFIG_LIMIT', message, a)
      throw new Stop()
    }
    return b
  }

  /** `above`: how many maps and lists hold the node. */
  const node = (n: unknown, above: number): Built => {
    if (isAlias(n)) return alias(n, above)
    if (n === null || n === undefined) return { value: null, height: 0, size: 1 }
    const anchor = (n as { anchor?: string }).anchor
    if (anchor !== undefined) {
      anchors.set(anchor, n as Node)
      building.add(n as Node)
    }
    const b = isMap(n) ? map(n, above) : isSeq(n) ? seq(n as Node & { items: unknown[] }, above) : scalar(n)
    if (anchor !== undefined) {
      building.delete(n as Node)
      built.set(n as Node, b)
    }
    return b
  }

  const scalar = (n: unknown): Built => ({ value: isScalar(n) ? n.value : null, height: 0, size: 1 })

  const enter = (n: Node, above: number): void => {
    if (above + 1 > limits.depth) {
      fail('OFA_CONFIG_LIMIT', depthMessage(limits), n)
      throw new Stop()
    }
  }

  const seq = (n: Node & { items: unknown[] }, above: number): Built => {
    enter(n, above)
    const value: unknown[] = []
    let height = 0
    let size = 1
    n.items.forEach((item, i) => {
      path.push(i)
      const b = node(item, above + 1)
      path.pop()
      value.push(b.value)
      height = Math.max(height, b.height)
      size += b.size
    })
    return { value, height: height + 1, size }
  }

  const map = (n: YAMLMap, above: number): Built => {
    enter(n, above)
    const value: Record<string, unknown> = {}
    /** Keys seen in this map, by their YAML value (1 and "1" differ, as in the library's check). */
    const seen = new Map<unknown, Node>()
    let height = 0
    let size = 1
    for (const pair of n.items) {
      const k = pair.key
      if (isMergeKey(k)) {
        // Each source is a map (or an alias of one) at this map's level; it fills the keys not set otherwise.
        for (const source of isSeq(pair.value) ? pair.value.items : [pair.value]) {
          const b = node(source, above)
          const resolved = isAlias(source) ? idx.aliases.get(source) : source
          if (!isMap(resolved)) {
            fail('OFA_CONFIG_YAML', 'a merge (<<) takes a map, an alias of a map, or a list of them', source as Node)
            continue
          }
          for (const [key, v] of Object.entries(b.value as Record<string, unknown>)) {
            if (!Object.hasOwn(value, key)) setOwn(value, key, v)
          }
          height = Math.max(height, b.height - 1)
          size += b.size
        }
        continue
      }
      let key: string
      if (isScalar(k)) {
        sourceWork.keys++
        key = keyText(k)
        const first = Number.isNaN(k.value) ? undefined : seen.get(k.value)
        if (first) {
          const { line, column } = opts.position(first.range?.[0] ?? 0)
          path.push(key)
          fail('OFA_CONFIG_YAML', `duplicate key (first at line ${line}, column ${column})`, k)
          path.pop()
        } else seen.set(k.value, k)
      } else {
        // A map or list as a key (never valid in our formats): named by its value.
        key = JSON.stringify(node(k, above + 1).value) ?? ''
      }
      path.push(key)
      const b = node(pair.value, above + 1)
      path.pop()
      setOwn(value, key, b.value)
      height = Math.max(height, b.height)
      size += 1 + b.size
    }
    return { value, height: height + 1, size }
  }

  try {
    const b = node(doc.contents, 0)
    return failed ? undefined : b.value
  } catch (err) {
    if (err instanceof Stop) return undefined
    throw err
  }
}

// ---------------------------------------------------------------------------------------------------------
// From a field path back to a place in the file

/** The node an alias names (known once the value was built; else the library resolves it). */
function resolveAlias(doc: Document, a: Alias): Node | undefined {
  return indexOf(doc).aliases.get(a) ?? (a.resolve(doc) as Node | undefined)
}

/** A map's pairs by key (the first of a key) and its merges, indexed on the first lookup. */
function pairsOf(doc: Document, map: YAMLMap): { keys: Map<string, Pair>; merges: Pair[] } {
  const idx = indexOf(doc)
  let m = idx.maps.get(map)
  if (!m) {
    m = { keys: new Map(), merges: [] }
    for (const pair of map.items) {
      sourceWork.keys++
      if (isMergeKey(pair.key)) m.merges.push(pair)
      else {
        const k = keyText(pair.key)
        if (!m.keys.has(k)) m.keys.set(k, pair)
      }
    }
    idx.maps.set(map, m)
  }
  return m
}

/** Finds the pair holding `key` in a map, looking into `<<` merge sources as YAML merge keys do. */
function findPair(map: Node | undefined, key: string, doc: Document, depth = 0): Pair | undefined {
  if (!isMap(map) || depth > 10) return undefined
  sourceWork.keys++
  const { keys, merges } = pairsOf(doc, map)
  const own = keys.get(key)
  if (own) return own
  for (const pair of merges) {
    for (const src of isSeq(pair.value) ? pair.value.items : [pair.value]) {
      const found = findPair(isAlias(src) ? resolveAlias(doc, src) : (src as Node), key, doc, depth + 1)
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
    if (isAlias(node)) node = resolveAlias(doc, node)
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
  if (path.length > 0) where.path = printable(formatPath(path))
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
  return configProblem(issue.code, p ? `${p}: ${issue.message}` : issue.message, whereIn(src, issue.path, issue.anchor))
}
