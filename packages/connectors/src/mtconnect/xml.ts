/**
 * The XML reader device descriptions (MTConnect Devices.xml) go through: saxes, a streaming, non-validating
 * XML 1.0 parser that checks well-formedness and tracks positions, builds an element tree whose every element
 * knows its line and column, so callers can name the place of a problem.
 *
 * What it accepts (XML 1.0, §2–4 in the parts device files use): an optional BOM, the XML declaration and other
 * processing instructions, comments, one root element, attributes, character data, CDATA sections, the five
 * predefined entities and numeric character references. Namespaces are not resolved: names keep their prefix
 * (`m:DataItem`; see `localName`).
 *
 * What it refuses, with `OFA_MTCONNECT_XML` naming file, line and column (counted from 1): anything that is not
 * well-formed (a mismatched end tag, an unquoted or repeated attribute, `<` inside an attribute value, an unknown
 * entity, text or a second element after the root, an element left open...), and any DOCTYPE. A device file
 * needs no DTD, and refusing it means no entity is ever declared or expanded: no entity expansion attack, no
 * external entity (XXE) reading a file or a URL.
 *
 * saxes reports the place where it noticed a problem, often after it; the messages below name the place of the
 * cause instead (the start of the tag, attribute or entity), found in the text, which is in memory anyway.
 */
import { OpenFactoryError } from '@openfactory/model'
import { SaxesParser } from 'saxes'

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

/** Thrown inside the parser's handlers to stop it; turned into OFA_MTCONNECT_XML by `parseXml`. */
class Stop {
  readonly offset: number
  readonly message: string
  constructor(offset: number, message: string) {
    this.offset = offset
    this.message = message
  }
}

const NAME_END = /[\s/>=]/

/** The name starting at `offset` (after `<` or `</`). */
function nameAt(text: string, offset: number): string {
  let end = offset
  while (end < text.length && !NAME_END.test(text[end] as string)) end++
  return text.slice(offset, end)
}

/** Where the second `name="..."` of the start tag at `tagStart` is (the first repeat). */
function repeatedAttribute(text: string, tagStart: number, name: string): number {
  const re = /([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')/gy
  let seen = false
  let i = text.indexOf(' ', tagStart)
  while (i >= 0 && i < text.length) {
    while (/\s/.test(text[i] ?? '')) i++
    re.lastIndex = i
    const m = re.exec(text)
    if (!m) break
    if (m[1] === name) {
      if (seen) return m.index
      seen = true
    }
    i = re.lastIndex
  }
  return tagStart
}

/** Parses a whole XML document and returns its root element. Throws `OFA_MTCONNECT_XML` naming file:line:column. */
export function parseXml(text: string, opts: { file?: string } = {}): XmlElement {
  const pos = new Positions(text)
  const stack: MutableElement[] = []
  let root: MutableElement | undefined
  let rootClosed = false
  /** Where the text after the last markup starts (for text outside the root). */
  let markupEnd = 0
  let closing = false
  const parser = new SaxesParser({ xmlns: false, position: true, fileName: opts.file })
  /** The offset of the character the parser just read. */
  const here = (): number => Math.max(0, Math.min(parser.position - 1, text.length - 1))
  const tagStart = (): number => Math.max(0, text.lastIndexOf('<', here()))

  parser.on('opentagstart', (tag) => {
    const start = tagStart()
    if (rootClosed) throw new Stop(start, 'a second root element (a document has exactly one)')
    const { line, column } = pos.at(start)
    stack.push({ name: tag.name, attributes: {}, children: [], text: '', line, column, offset: start })
  })
  parser.on('opentag', (tag) => {
    const el = stack[stack.length - 1] as MutableElement
    for (const [k, v] of Object.entries(tag.attributes)) el.attributes[k] = v.replace(/[\t\n\r]/g, ' ')
    const parent = stack[stack.length - 2]
    if (parent) parent.children.push(el)
    else root = el
    markupEnd = parser.position
  })
  parser.on('closetag', (tag) => {
    // saxes reports a mismatched end tag after this event: name the end tag as written, and where it opened.
    const at = tag.isSelfClosing ? -1 : text.lastIndexOf('</', here())
    const top = stack.pop()
    if (top && at >= 0) {
      const written = nameAt(text, at + 2)
      if (written !== top.name) {
        throw new Stop(
          at,
          `end tag </${written}> does not match <${top.name}> opened at line ${top.line}, column ${top.column}`,
        )
      }
    }
    if (stack.length === 0) rootClosed = true
    markupEnd = parser.position
  })
  parser.on('text', (t) => {
    const top = stack[stack.length - 1]
    if (top) top.text += t
  })
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1]
    if (top) top.text += t
    markupEnd = parser.position
  })
  parser.on('doctype', () => {
    throw new Stop(
      Math.max(0, text.lastIndexOf('<!DOCTYPE', here())),
      'a DOCTYPE is not accepted: a device file needs no DTD, and no entity is declared or expanded',
    )
  })
  for (const event of ['comment', 'processinginstruction', 'xmldecl'] as const) {
    parser.on(event, () => {
      markupEnd = parser.position
    })
  }
  parser.on('error', (err) => {
    throw translate(err.message.replace(/^[^:]*:\d+:\d+: /, ''))
  })

  /** Our message, at the place of the cause, for what saxes noticed. */
  const translate = (message: string): Stop => {
    const at = here()
    if (closing) return atEnd()
    if (message.startsWith('text data outside of root node')) {
      const first = text.slice(markupEnd).search(/\S/)
      return new Stop(
        first < 0 ? markupEnd : markupEnd + first,
        rootClosed ? 'text after the root element' : 'text before the root element',
      )
    }
    if (message.startsWith('unmatched closing tag')) {
      const start = Math.max(0, text.lastIndexOf('</', at))
      return new Stop(start, `end tag </${nameAt(text, start + 2)}> has no matching start tag`)
    }
    if (message.startsWith('undefined entity') || message.startsWith('disallowed character in entity name')) {
      const amp = Math.max(0, text.lastIndexOf('&', at))
      const semi = text.indexOf(';', amp)
      const ref = semi < 0 || semi - amp > 40 ? text.slice(amp, amp + 10) : text.slice(amp, semi + 1)
      return new Stop(amp, `unknown entity '${ref}'`)
    }
    if (message.startsWith('duplicate attribute')) {
      const name = message.replace(/^duplicate attribute: /, '').replace(/\.$/, '')
      const start = tagStart()
      return new Stop(
        repeatedAttribute(text, start, name),
        `attribute '${name}' appears twice in <${nameAt(text, start + 1)}>`,
      )
    }
    if (message.startsWith('unquoted attribute value')) {
      const before = /([^\s=]+)\s*=\s*$/.exec(text.slice(tagStart(), at))
      return new Stop(at, `the value of attribute${before ? ` '${before[1]}'` : ''} must be quoted`)
    }
    if (message.startsWith('disallowed character') && text[at] === '<') {
      const before = /([^\s=]+)\s*=\s*["'][^"']*$/.exec(text.slice(tagStart(), at))
      return new Stop(at, `'<' inside the value of attribute${before ? ` '${before[1]}'` : ''}`)
    }
    return new Stop(at, message.replace(/\.$/, ''))
  }

  /** What the end of the document left unfinished. */
  const atEnd = (): Stop => {
    const rest = text.slice(markupEnd)
    const lt = rest.indexOf('<')
    if (lt >= 0) {
      const start = markupEnd + lt
      const open = text.slice(start)
      if (open.startsWith('<!--')) return new Stop(start, 'comment is not closed (no -->)')
      if (open.startsWith('<![CDATA[')) return new Stop(start, 'CDATA section is not closed (no ]]>)')
      if (open.startsWith('<?')) return new Stop(start, 'processing instruction is not closed (no ?>)')
      if (open.startsWith('<!DOCTYPE')) {
        return new Stop(
          start,
          'a DOCTYPE is not accepted: a device file needs no DTD, and no entity is declared or expanded',
        )
      }
      if (!open.startsWith('</')) return new Stop(start, `start tag <${nameAt(text, start + 1)} is not closed`)
    }
    const top = stack[stack.length - 1]
    if (top) return new Stop(top.offset, `element <${top.name}> is not closed before the end of the document`)
    if (!root) return new Stop(0, 'the document has no root element')
    return new Stop(markupEnd, 'the document ends too early')
  }

  try {
    parser.write(text)
    closing = true
    parser.close()
  } catch (err) {
    const stop = err instanceof Stop ? err : new Stop(here(), err instanceof Error ? err.message : String(err))
    const { line, column } = pos.at(stop.offset)
    throw new OpenFactoryError('OFA_MTCONNECT_XML', `XML: ${stop.message}`, {
      where: { file: opts.file, line, column },
    })
  }
  if (!root) {
    const { line, column } = pos.at(0)
    throw new OpenFactoryError('OFA_MTCONNECT_XML', 'XML: the document has no root element', {
      where: { file: opts.file, line, column },
    })
  }
  return root as MutableElement
}
