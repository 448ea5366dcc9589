/**
 * A small, strict XML reader for device descriptions (MTConnect Devices.xml): well-formedness only, no DTD, no
 * namespaces beyond keeping prefixes in names. It builds an element tree whose every element knows its line and
 * column, so callers can name the place of a problem.
 *
 * What it accepts (XML 1.0, §2–4 in the parts device files use): an optional BOM, the XML declaration and other
 * processing instructions, comments, a DOCTYPE (skipped, internal subset included), one root element, start/end
 * and empty-element tags, attributes quoted with `"` or `'`, character data, CDATA sections, the five predefined
 * entities and numeric character references. Everything else — a mismatched end tag, an unquoted or repeated
 * attribute, `<` inside an attribute value, an unknown entity, text or a second element after the root, an
 * element left open at the end — throws `OFA_MTCONNECT_XML` with file, line and column (counted from 1).
 */
import { OpenFactoryError } from '@openfactory/model'

export interface XmlElement {
  /** The qualified name as written (`m:DataItem` keeps its prefix; see `localName`). */
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: readonly XmlElement[]
  /** Character data directly inside this element (not its children's), entities resolved, untrimmed. */
  readonly text: string
  readonly line: number
  readonly column: number
}

/** The name without its namespace prefix: `m:DataItem` → `DataItem`. */
export function localName(name: string): string {
  const i = name.indexOf(':')
  return i < 0 ? name : name.slice(i + 1)
}

interface MutableElement {
  name: string
  attributes: Record<string, string>
  children: MutableElement[]
  text: string
  line: number
  column: number
  offset: number
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 58 || c >= 0xc0
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 0xb7
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13
}

/** Maps offsets to 1-based line and column. */
class Positions {
  readonly #starts: number[] = [0]
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.#starts.push(i + 1)
  }
  at(offset: number): { line: number; column: number } {
    let lo = 0
    let hi = this.#starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.#starts[mid] as number) <= offset) lo = mid
      else hi = mid - 1
    }
    return { line: lo + 1, column: offset - (this.#starts[lo] as number) + 1 }
  }
}

/** Parses a whole XML document and returns its root element. Throws `OFA_MTCONNECT_XML` naming file:line:column. */
export function parseXml(text: string, opts: { file?: string } = {}): XmlElement {
  const pos = new Positions(text)
  const fail = (offset: number, message: string): never => {
    const { line, column } = pos.at(offset)
    throw new OpenFactoryError('OFA_MTCONNECT_XML', `XML: ${message}`, { where: { file: opts.file, line, column } })
  }
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  const n = text.length
  const stack: MutableElement[] = []
  let root: MutableElement | undefined

  const readName = (): string => {
    const start = i
    if (i >= n || !isNameStart(text.charCodeAt(i))) fail(i, 'expected a name')
    i++
    while (i < n && isNameChar(text.charCodeAt(i))) i++
    return text.slice(start, i)
  }
  const skipSpaces = (): void => {
    while (i < n && isSpace(text.charCodeAt(i))) i++
  }
  const decode = (raw: string, offset: number): string => {
    if (raw.indexOf('&') < 0) return raw
    let out = ''
    let last = 0
    for (let k = raw.indexOf('&'); k >= 0; k = raw.indexOf('&', k + 1)) {
      const semi = raw.indexOf(';', k)
      if (semi < 0) fail(offset + k, "'&' starts an entity reference that has no ';'")
      const ref = raw.slice(k + 1, semi)
      let ch: string | undefined
      if (ref.startsWith('#x') || ref.startsWith('#X')) {
        const cp = /^[0-9a-fA-F]+$/.test(ref.slice(2)) ? Number.parseInt(ref.slice(2), 16) : Number.NaN
        if (Number.isFinite(cp) && cp <= 0x10ffff) ch = String.fromCodePoint(cp)
      } else if (ref.startsWith('#')) {
        const cp = /^[0-9]+$/.test(ref.slice(1)) ? Number.parseInt(ref.slice(1), 10) : Number.NaN
        if (Number.isFinite(cp) && cp <= 0x10ffff) ch = String.fromCodePoint(cp)
      } else ch = PREDEFINED[ref]
      if (ch === undefined) fail(offset + k, `unknown entity '&${ref};'`)
      out += raw.slice(last, k) + ch
      last = semi + 1
      k = semi
    }
    return out + raw.slice(last)
  }
  const addText = (s: string, offset: number): void => {
    const top = stack[stack.length - 1]
    if (top) top.text += s
    else if (/\S/.test(s))
      fail(offset + s.search(/\S/), root ? 'text after the root element' : 'text before the root element')
  }

  while (i < n) {
    const lt = text.indexOf('<', i)
    if (lt < 0) {
      addText(decode(text.slice(i), i), i)
      break
    }
    if (lt > i) addText(decode(text.slice(i, lt), i), i)
    i = lt
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4)
      if (end < 0) fail(i, 'comment is not closed (no -->)')
      i = end + 3
    } else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9)
      if (end < 0) fail(i, 'CDATA section is not closed (no ]]>)')
      if (stack.length === 0) fail(i, 'CDATA outside the root element')
      addText(text.slice(i + 9, end), i)
      i = end + 3
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2)
      if (end < 0) fail(i, 'processing instruction is not closed (no ?>)')
      i = end + 2
    } else if (text.startsWith('<!DOCTYPE', i)) {
      if (root || stack.length > 0) fail(i, 'DOCTYPE inside the document')
      let depth = 0
      let k = i + 9
      for (; k < n; k++) {
        const c = text[k]
        if (c === '[') depth++
        else if (c === ']') depth--
        else if (c === '>' && depth <= 0) break
      }
      if (k >= n) fail(i, 'DOCTYPE is not closed')
      i = k + 1
    } else if (text.startsWith('</', i)) {
      const start = i
      i += 2
      const name = readName()
      skipSpaces()
      if (text[i] !== '>') fail(i, `expected '>' to close </${name}`)
      i++
      const top = stack.pop()
      if (!top) fail(start, `end tag </${name}> has no matching start tag`)
      else if (top.name !== name) {
        const p = pos.at(top.offset)
        fail(start, `end tag </${name}> does not match <${top.name}> opened at line ${p.line}, column ${p.column}`)
      }
    } else {
      const start = i
      i++
      if (root && stack.length === 0) fail(start, 'a second root element (a document has exactly one)')
      const name = readName()
      const { line, column } = pos.at(start)
      const el: MutableElement = { name, attributes: {}, children: [], text: '', line, column, offset: start }
      for (;;) {
        const before = i
        skipSpaces()
        if (i >= n) fail(start, `start tag <${name} is not closed`)
        const c = text[i]
        if (c === '>' || c === '/') break
        if (i === before) fail(i, `expected a space, '>' or '/>' in <${name}>`)
        const attrAt = i
        const attr = readName()
        skipSpaces()
        if (text[i] !== '=') fail(i, `attribute '${attr}' of <${name}> has no value (expected '=')`)
        i++
        skipSpaces()
        const q = text[i]
        if (q !== '"' && q !== "'") fail(i, `the value of attribute '${attr}' must be quoted`)
        const end = text.indexOf(q as string, i + 1)
        if (end < 0) fail(i, `the value of attribute '${attr}' is not closed`)
        const raw = text.slice(i + 1, end)
        const bad = raw.indexOf('<')
        if (bad >= 0) fail(i + 1 + bad, `'<' inside the value of attribute '${attr}'`)
        if (Object.hasOwn(el.attributes, attr)) fail(attrAt, `attribute '${attr}' appears twice in <${name}>`)
        el.attributes[attr] = decode(raw, i + 1).replace(/[\t\n\r]/g, ' ')
        i = end + 1
      }
      const parent = stack[stack.length - 1]
      if (parent) parent.children.push(el)
      else root = el
      if (text[i] === '/') {
        if (text[i + 1] !== '>') fail(i, `expected '/>' to close <${name}`)
        i += 2
      } else {
        i++
        stack.push(el)
      }
    }
  }
  const open = stack[stack.length - 1]
  if (open) fail(open.offset, `element <${open.name}> is not closed before the end of the document`)
  if (!root) fail(i, 'the document has no root element')
  return root as MutableElement
}
