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
  /** By name as written; an object without prototype (saxes' own, not copied: see `parseXml`). */
  readonly attributes: Readonly<Record<string, string>>
  readonly children: readonly XmlElement[]
  /** Character data directly inside this element (not its children's), entities resolved, untrimmed. */
  readonly text: string
  readonly line: number
  readonly column: number
  /** Where the element starts in the text (its `<`) and ends (after its end tag): `text.slice(offset, end)` is it. */
  readonly offset: number
  readonly end: number
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
  end: number
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

/** Whether an attribute value holds a tab or a line end (a loop: cheaper than a regular expression per value). */
function needsNormalising(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c === 9 || c === 10 || c === 13) return true
  }
  return false
}

/** Whether the name starting at `offset` is exactly `name` (the common case of `nameAt(...) === name`, without copying). */
function endTagNames(text: string, offset: number, name: string): boolean {
  if (!text.startsWith(name, offset)) return false
  const next = text[offset + name.length]
  return next === undefined || NAME_END.test(next)
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
  // No fileName: saxes' messages then start with `line:column: `, cut off below (a file name may hold colons).
  const parser = new SaxesParser({ xmlns: false, position: true })
  /** The offset of the character the parser just read. */
  const here = (): number => Math.max(0, Math.min(parser.position - 1, text.length - 1))
  const tagStart = (): number => Math.max(0, text.lastIndexOf('<', here()))
  /** The first tab or line end at or after `from` (-1: none); tags come in order, so one pass finds them all. */
  const WHITESPACE = /[\t\n\r]/g
  const whitespaceAfter = (from: number): number => {
    WHITESPACE.lastIndex = from
    return WHITESPACE.exec(text)?.index ?? -1
  }
  let nextWhitespace = whitespaceAfter(0)

  // Five handlers, no more: saxes keeps its handlers as properties added after construction, and past seven of them
  // V8 turns every parser into a slow dictionary object — 5 to 6 times slower here (bench/mtconnect-agent.ts). So
  // the start of a tag is found at `opentag`, comments and processing instructions are skipped where an error needs
  // it (`afterMisc`), and saxes' own errors are caught, not handled.
  parser.on('opentag', (tag) => {
    const start = tagStart()
    if (rootClosed) throw new Stop(start, 'a second root element (a document has exactly one)')
    const { line, column } = pos.at(start)
    // Attribute-value normalisation (XML 1.0 §3.3.3): a literal tab or line end is a space. saxes hands each tag a
    // fresh object (null prototype): kept, not copied, and looked through only when the tag's text holds a tab or a
    // line end — copying or looking through every tag cost a quarter of the reading of an agent's stream, whose
    // tags hold none (bench/mtconnect-agent.ts).
    const attributes = tag.attributes as Record<string, string>
    while (nextWhitespace >= 0 && nextWhitespace < start) nextWhitespace = whitespaceAfter(nextWhitespace + 1)
    if (nextWhitespace >= 0 && nextWhitespace < parser.position) {
      for (const k in attributes) {
        const v = attributes[k] as string
        if (needsNormalising(v)) attributes[k] = v.replace(/[\t\n\r]/g, ' ')
      }
    }
    const el: MutableElement = {
      name: tag.name,
      attributes,
      children: [],
      text: '',
      line,
      column,
      offset: start,
      end: start,
    }
    const parent = stack[stack.length - 1]
    if (parent) parent.children.push(el)
    else root = el
    stack.push(el)
    markupEnd = parser.position
  })
  parser.on('closetag', (tag) => {
    // saxes reports a mismatched end tag after this event: name the end tag as written, and where it opened.
    const at = tag.isSelfClosing ? -1 : text.lastIndexOf('</', here())
    const top = stack.pop()
    if (top && at >= 0 && !endTagNames(text, at + 2, top.name)) {
      const written = nameAt(text, at + 2)
      throw new Stop(
        at,
        `end tag </${written}> does not match <${top.name}> opened at line ${top.line}, column ${top.column}`,
      )
    }
    if (top) top.end = parser.position
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

  /** The first offset from `from` that is not white space, a complete comment or a processing instruction. */
  const afterMisc = (from: number): number => {
    let i = from
    for (;;) {
      while (i < text.length && /\s/.test(text[i] as string)) i++
      const close = text.startsWith('<!--', i)
        ? text.indexOf('-->', i + 4)
        : text.startsWith('<?', i)
          ? text.indexOf('?>', i + 2)
          : -1
      if (close < 0) return i
      i = close + (text[close] === '-' ? 3 : 2)
    }
  }

  /** Our message, at the place of the cause, for what saxes noticed. */
  const translate = (message: string): Stop => {
    const at = here()
    if (closing) return atEnd()
    if (message.startsWith('text data outside of root node')) {
      return new Stop(afterMisc(markupEnd), rootClosed ? 'text after the root element' : 'text before the root element')
    }
    if (message.startsWith('documents may contain only one root')) {
      return new Stop(tagStart(), 'a second root element (a document has exactly one)')
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
    let start = afterMisc(markupEnd)
    if (text[start] !== '<') start = text.indexOf('<', start)
    if (start >= 0) start = afterMisc(start)
    if (start >= 0 && start < text.length) {
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
    // saxes throws its own errors (no error handler: see above), `file:line:column: message`.
    const stop = err instanceof Stop ? err : translate(String((err as Error)?.message ?? err).replace(/^\d+:\d+: /, ''))
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
