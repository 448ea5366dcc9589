/**
 * An MTConnect agent's JSON answer read into the element tree its XML answer gives (xml.ts), so that one reader
 * (streams.ts, devices-xml.ts) serves both. An agent answers JSON when it is asked to (`Accept: application/json`)
 * or configured so. Its two JSON layouts (the root object's `jsonVersion`, 1 or 2) are read by one rule:
 *
 * - every document is `{"MTConnect<Kind>": {...}}`; an object is an element, its keys are attributes (lowerCamel:
 *   `dataItemId`, `sequence`, numbers and booleans as their text) or child elements (UpperCamel: `Header`,
 *   `Streams`, `Description`), and `value` is the element's text: a vector or time series an array (our text: its
 *   numbers separated by spaces), a data set an object of entries (`{"k": 1, "gone": {"removed": true}}`), a table
 *   an object of rows of cells;
 * - version 1 writes several children as an array of one-key objects, `"Samples": [{"Position": {...}}, ...]`,
 *   and puts a `ComponentStreams` array between a DeviceStream and its ComponentStreams (not in the XML: dropped);
 * - version 2 groups children of one name in an array under that name, `"Samples": {"Position": [{...}, ...]}`,
 *   `"DeviceStream": [...]`, `"ComponentStream": [...]`.
 * Positions: an element read from JSON has line 0; an asset's `body` is the JSON text of that asset alone.
 */
import { OpenFactoryError } from '@openfactory/model'
import type { XmlElement } from './xml.ts'

interface Element {
  name: string
  attributes: Record<string, string>
  children: Element[]
  text: string
  line: number
  column: number
  offset: number
  end: number
}

/** The JSON text of the elements read from JSON, for what keeps an element as written (an asset's body). */
const JSON_TEXT = new WeakMap<XmlElement, string>()

/** The JSON text of an element read by `parseJsonDocument`: `{"<name>": <its object>}`; undefined for XML ones. */
export function jsonTextOf(el: XmlElement): string | undefined {
  return JSON_TEXT.get(el)
}

/** True when the answer is JSON (its first character that is not white space is `{`). */
export function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) continue
    return c === 0x7b
  }
  return false
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function isObject(v: Json): v is { [key: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function primitiveText(v: Json): string {
  return v === null ? '' : String(v)
}

/** A key naming a child element (UpperCamel) rather than an attribute. */
function isElementKey(key: string): boolean {
  const c = key.charCodeAt(0)
  return c >= 65 && c <= 90
}

function element(name: string): Element {
  return {
    name,
    attributes: Object.create(null) as Record<string, string>,
    children: [],
    text: '',
    line: 0,
    column: 0,
    offset: 0,
    end: 0,
  }
}

/** `value` of an observation: text, a vector / time series, or a data set / table as Entry (and Cell) children. */
function readValue(el: Element, value: Json): void {
  if (Array.isArray(value)) el.text = value.map(primitiveText).join(' ')
  else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      const entry = element('Entry')
      entry.attributes.key = key
      if (isObject(v) && v.removed === true && Object.keys(v).length === 1) entry.attributes.removed = 'true'
      else if (isObject(v)) {
        for (const [cellKey, cv] of Object.entries(v)) {
          const cell = element('Cell')
          cell.attributes.key = cellKey
          if (isObject(cv) && cv.removed === true) cell.attributes.removed = 'true'
          else cell.text = primitiveText(cv)
          entry.children.push(cell)
        }
      } else entry.text = primitiveText(v)
      el.children.push(entry)
    }
  } else el.text = primitiveText(value)
}

/** A one-key object whose key names an element and whose value is an object: `[name, body]`. */
function wrapper(item: Json): [string, Json] | undefined {
  if (!isObject(item)) return undefined
  const keys = Object.keys(item)
  if (keys.length !== 1 || !isElementKey(keys[0] as string)) return undefined
  const body = item[keys[0] as string] as Json
  return isObject(body) ? [keys[0] as string, body] : undefined
}

function build(name: string, body: Json): Element {
  const el = element(name)
  if (!isObject(body)) {
    readValue(el, body)
    return el
  }
  for (const [key, v] of Object.entries(body)) {
    if (key === 'value') readValue(el, v)
    else if (Array.isArray(v)) {
      if (!isElementKey(key)) {
        el.attributes[key] = v.map(primitiveText).join(' ')
        continue
      }
      // An item that is a one-key object naming an element is version 1's wrapper: the array is a container element
      // of that key, except the ComponentStreams between a DeviceStream and its streams (not in the XML). Other
      // items are elements of the key's name (version 2, and arrays of text such as a Constraints' Values).
      let container: Element | undefined
      for (const item of v) {
        const wrapped = wrapper(item)
        if (!wrapped) {
          el.children.push(build(key, item))
          continue
        }
        if (key === 'ComponentStreams' && name === 'DeviceStream') container = el
        else if (!container) {
          container = element(key)
          el.children.push(container)
        }
        container.children.push(build(wrapped[0], wrapped[1]))
      }
    } else if (isObject(v) || isElementKey(key)) el.children.push(build(key, v))
    else if (typeof v !== 'object' || v === null) el.attributes[key] = primitiveText(v)
  }
  return el
}

/** Marks the assets of an Assets document with their own JSON text. */
function keepAssetTexts(root: Element, body: Json): void {
  const assets = root.children.find((c) => c.name === 'Assets')
  if (!assets || !isObject(body)) return
  const raw = body.Assets ?? null
  const bodies: [string, Json][] = []
  if (Array.isArray(raw)) {
    for (const item of raw) if (isObject(item)) for (const [k, v] of Object.entries(item)) bodies.push([k, v])
  } else if (isObject(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      if (Array.isArray(v)) for (const one of v) bodies.push([k, one])
      else bodies.push([k, v])
    }
  }
  assets.children.forEach((el, i) => {
    const b = bodies[i]
    if (b && b[0] === el.name) JSON_TEXT.set(el, JSON.stringify({ [b[0]]: b[1] }))
  })
}

/**
 * Reads an agent's JSON answer into the element tree of the same XML answer. `source` names it in errors. Throws
 * `OFA_MTCONNECT_AGENT` (retryable) for text that is not JSON or a JSON value that is not `{"<root>": {...}}`.
 */
export function parseJsonDocument(text: string, source: string): XmlElement {
  let doc: Json
  try {
    doc = JSON.parse(text) as Json
  } catch (err) {
    throw new OpenFactoryError(
      'OFA_MTCONNECT_AGENT',
      `${source}: the document is not valid JSON: ${(err as Error).message}`,
      {
        retryable: true,
        cause: err,
      },
    )
  }
  const keys = isObject(doc) ? Object.keys(doc) : []
  if (!isObject(doc) || keys.length !== 1 || !isObject(doc[keys[0]!] as Json)) {
    throw new OpenFactoryError(
      'OFA_MTCONNECT_AGENT',
      `${source}: a JSON document must be one object {"MTConnect<Kind>": {...}} (got ${keys.length === 0 ? 'none' : keys.slice(0, 3).join(', ')})`,
      { retryable: true },
    )
  }
  const rootName = keys[0]!
  const body = doc[rootName] as { [key: string]: Json }
  const root = build(rootName, body)
  keepAssetTexts(root, body)
  return root
}
