/**
 * The `path` parameter of `current` and `sample`: the XPath subset MTConnect agents are asked in practice, evaluated
 * against the probe document (MTConnect Part 1 §8.3.3: the data items a path selects in the Devices document are
 * those whose observations are returned; a component selected stands for every data item in it).
 *
 * Grammar (whitespace allowed between tokens):
 *
 *     paths     := path ('|' path)*
 *     path      := ('/' | '//') step (('/' | '//') step)*
 *     step      := (Name | '*') predicate*
 *     predicate := '[' or ']'
 *     or        := and ('or' and)*
 *     and       := test ('and' test)*
 *     test      := '@' Name (('=' | '!=') literal)?     a literal is "..." or '...'
 *
 * `/` is the child axis, `//` descendant-or-self then child (XPath's abbreviation); element names are the probe
 * document's: `Devices`, `Device`, `DataItems`, `DataItem`, `Components` and the component elements (`Axes`,
 * `Linear`...). Attributes: a Device's `id`, `name`, `uuid`; a component's `id`, `name`; a data item's `id`, `name`,
 * `type`, `subType`, `category`, `units`, `nativeUnits`, `representation`. Examples: `//DataItem[@type="POSITION"]`,
 * `//Axes`, `//DataItem[@category="SAMPLE" and @units="MILLIMETER"]`,
 * `//Device[@name="mill-1"]//Linear[@name="X"]//DataItem[@subType="ACTUAL"]`, `//Rotary|//Controller`.
 *
 * Anything else — other axes (`..`, `.`, `ancestor::`), functions (`contains()`), positions (`[1]`), parentheses,
 * relative paths — is refused with `INVALID_XPATH` naming the character where it stops; a path that selects no
 * data item is refused too (as agents do).
 */
import { type AgentModel, componentItems, type MtComponent, type MtDataItem } from './agent-model.ts'

export class XPathError extends Error {}

type Test = { readonly attr: string; readonly op: '=' | '!=' | 'exists'; readonly value: string }
/** Tests joined by `and`, alternatives joined by `or`. */
type Predicate = readonly (readonly Test[])[]

interface Step {
  readonly descendant: boolean
  readonly name: string
  readonly predicates: readonly Predicate[]
}

export type XPath = readonly (readonly Step[])[]

const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y
const SPACE = /\s*/y

/** Parses a path; throws `XPathError` naming where it stops. */
export function parseXPath(text: string): XPath {
  let i = 0
  const fail = (what: string): never => {
    throw new XPathError(`${what} at character ${i + 1} of ${JSON.stringify(text)}`)
  }
  const space = (): void => {
    SPACE.lastIndex = i
    SPACE.exec(text)
    i = SPACE.lastIndex
  }
  const name = (): string | undefined => {
    NAME.lastIndex = i
    const m = NAME.exec(text)
    if (!m) return undefined
    i = NAME.lastIndex
    return m[0]
  }
  const eat = (s: string): boolean => {
    space()
    if (text.startsWith(s, i)) {
      i += s.length
      return true
    }
    return false
  }
  const keyword = (k: string): boolean => {
    space()
    if (text.startsWith(k, i) && !/[A-Za-z0-9_]/.test(text[i + k.length] ?? '')) {
      i += k.length
      return true
    }
    return false
  }
  const literal = (): string => {
    space()
    const q = text[i]
    if (q !== '"' && q !== "'") return fail('expected a quoted value')
    const end = text.indexOf(q, i + 1)
    if (end < 0) return fail('unterminated value')
    const v = text.slice(i + 1, end)
    i = end + 1
    return v
  }
  const test = (): Test => {
    if (!eat('@')) return fail('expected an attribute test (@name="value")')
    const attr = name() ?? fail('expected an attribute name')
    if (eat('!=')) return { attr, op: '!=', value: literal() }
    if (eat('=')) return { attr, op: '=', value: literal() }
    return { attr, op: 'exists', value: '' }
  }
  const predicate = (): Predicate => {
    const alternatives: Test[][] = []
    do {
      const all: Test[] = [test()]
      while (keyword('and')) all.push(test())
      alternatives.push(all)
    } while (keyword('or'))
    if (!eat(']')) fail("expected ']', 'and' or 'or'")
    return alternatives
  }
  const paths: Step[][] = []
  do {
    const steps: Step[] = []
    space()
    if (!text.startsWith('/', i)) fail("a path starts with '/' or '//'")
    while (text.startsWith('/', i)) {
      const descendant = text.startsWith('//', i)
      i += descendant ? 2 : 1
      space()
      let n: string
      if (text[i] === '*') {
        i++
        n = '*'
      } else n = name() ?? fail('expected an element name or *')
      const predicates: Predicate[] = []
      while (eat('[')) predicates.push(predicate())
      steps.push({ descendant, name: n, predicates })
      space()
    }
    paths.push(steps)
  } while (eat('|'))
  space()
  if (i < text.length) fail('unexpected text')
  return paths
}

/** A node of the probe document, as paths see it. */
interface Node {
  readonly name: string
  readonly attrs: (attr: string) => string | undefined
  readonly children: () => readonly Node[]
  /** The data items this node stands for. */
  readonly items: () => Iterable<MtDataItem>
}

function itemNode(d: MtDataItem): Node {
  const attrs: Record<string, string | undefined> = {
    id: d.id,
    name: d.name,
    type: d.type,
    subType: d.subType,
    category: d.category,
    units: d.units,
    nativeUnits: d.nativeUnits,
    representation: d.representation,
  }
  return { name: 'DataItem', attrs: (a) => attrs[a], children: () => [], items: () => [d] }
}

function componentNode(c: MtComponent): Node {
  const attrs: Record<string, string | undefined> = {
    id: c.id,
    name: c.name,
    ...(c.element === 'Device' ? { uuid: c.device.uuid, name: c.device.name } : {}),
  }
  const children = (): Node[] => {
    const out: Node[] = []
    if (c.dataItems.length > 0) {
      out.push({
        name: 'DataItems',
        attrs: () => undefined,
        children: () => c.dataItems.map(itemNode),
        items: () => c.dataItems,
      })
    }
    if (c.components.length > 0) {
      out.push({
        name: 'Components',
        attrs: () => undefined,
        children: () => c.components.map(componentNode),
        items: () => c.components.flatMap((s) => [...componentItems(s)]),
      })
    }
    return out
  }
  return { name: c.element, attrs: (a) => attrs[a], children, items: () => componentItems(c) }
}

function matches(n: Node, step: Step): boolean {
  if (step.name !== '*' && step.name !== n.name) return false
  return step.predicates.every((alternatives) =>
    alternatives.some((all) =>
      all.every((t) => {
        const v = n.attrs(t.attr)
        return t.op === 'exists' ? v !== undefined : t.op === '=' ? v === t.value : v !== undefined && v !== t.value
      }),
    ),
  )
}

function* descendants(n: Node): Generator<Node> {
  for (const c of n.children()) {
    yield c
    yield* descendants(c)
  }
}

/**
 * The data items a path selects among these devices (the devices a request may see), as a set; throws `XPathError`
 * when it selects none.
 */
export function selectItems(path: XPath, devices: readonly { readonly root: MtComponent }[]): Set<MtDataItem> {
  const root: Node = {
    name: '#document',
    attrs: () => undefined,
    children: () => [
      {
        name: 'Devices',
        attrs: () => undefined,
        children: () => devices.map((d) => componentNode(d.root)),
        items: () => devices.flatMap((d) => [...componentItems(d.root)]),
      },
    ],
    items: () => [],
  }
  const out = new Set<MtDataItem>()
  for (const steps of path) {
    let context: Node[] = [root]
    for (const step of steps) {
      const next: Node[] = []
      for (const n of context) {
        for (const c of step.descendant ? descendants(n) : n.children()) if (matches(c, step)) next.push(c)
      }
      context = next
    }
    for (const n of context) for (const d of n.items()) out.add(d)
  }
  if (out.size === 0) throw new XPathError('it selects no data item')
  return out
}

/** Parses and evaluates in one go (`AgentModel` devices). */
export function itemsForPath(text: string, model: Pick<AgentModel, 'devices'>): Set<MtDataItem> {
  return selectItems(parseXPath(text), model.devices)
}
