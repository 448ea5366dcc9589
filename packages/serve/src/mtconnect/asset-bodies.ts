/**
 * Asset documents (`ofa_asset_documents`: cutting tools, parts... as the devices sent them) as elements of an
 * `MTConnectAssets` document (MTConnect Part 4): the body is read — XML as an adapter's `@ASSET@` or an agent's
 * `/assets` sends it, or JSON as an agent answering JSON does — and written again by the façade, never pasted, so a
 * body that is not well-formed can never break a document.
 *
 * XML bodies go through saxes (non-validating, well-formedness checked; a DOCTYPE is refused, so no entity is ever
 * declared or expanded); the root element keeps its name, its attributes and children as sent, with `assetId`,
 * `timestamp` and `deviceUuid` set from the document's record (and `removed="true"` for a removed one). A JSON body
 * (`{"CuttingTool": {...}}`, or the asset's object itself) becomes an element: keys with a text, number or boolean
 * value are attributes, `value` is the text, objects are child elements, arrays repeated ones. A body that is
 * neither becomes the asset element's text.
 */
import type { AssetDocument } from '@openfactory/model'
import { SaxesParser } from 'saxes'
import type { AssetElement } from './documents.ts'

interface Mutable {
  name: string
  attributes: Record<string, string>
  children: Mutable[]
  text: string
}

/** Bodies nest this deep at most (an asset document nests a few levels); deeper is refused as not an asset. */
const MAX_DEPTH = 64

function parseXmlBody(body: string): Mutable | undefined {
  const parser = new SaxesParser()
  const stack: Mutable[] = []
  let root: Mutable | undefined
  let failed = false
  parser.on('error', () => {
    failed = true
  })
  parser.on('doctype', () => {
    failed = true
  })
  parser.on('opentag', (tag) => {
    const el: Mutable = {
      name: tag.name,
      attributes: { ...(tag.attributes as Record<string, string>) },
      children: [],
      text: '',
    }
    const parent = stack.at(-1)
    if (parent) parent.children.push(el)
    else root = el
    stack.push(el)
    if (stack.length > MAX_DEPTH) failed = true
  })
  parser.on('text', (t) => {
    const top = stack.at(-1)
    if (top) top.text += t
  })
  parser.on('cdata', (t) => {
    const top = stack.at(-1)
    if (top) top.text += t
  })
  parser.on('closetag', () => {
    stack.pop()
  })
  try {
    parser.write(body).close()
  } catch {
    return undefined
  }
  return failed ? undefined : root
}

function jsonElement(name: string, v: unknown, depth: number): Mutable {
  const el: Mutable = { name, attributes: {}, children: [], text: '' }
  if (depth > MAX_DEPTH) return el
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    if (v !== null && v !== undefined) el.text = Array.isArray(v) ? v.join(' ') : String(v)
    return el
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'value' && (x === null || typeof x !== 'object')) el.text = x === null ? '' : String(x)
    else if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') el.attributes[k] = String(x)
    else if (Array.isArray(x)) for (const item of x) el.children.push(jsonElement(k, item, depth + 1))
    else if (x !== null && typeof x === 'object') el.children.push(jsonElement(k, x, depth + 1))
  }
  return el
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/

/** The asset element of a document (see the file's comment). */
export function assetElement(doc: AssetDocument): AssetElement {
  const body = doc.body.trim()
  let el: Mutable | undefined
  if (body.startsWith('<')) el = parseXmlBody(body)
  else if (body.startsWith('{')) {
    try {
      const v = JSON.parse(body) as Record<string, unknown>
      const keys = Object.keys(v)
      const only = keys.length === 1 ? v[keys[0] as string] : undefined
      el =
        only !== null && typeof only === 'object' && !Array.isArray(only) && NAME.test(keys[0] as string)
          ? jsonElement(keys[0] as string, only, 1)
          : jsonElement(doc.type, v, 1)
    } catch {
      el = undefined
    }
  }
  if (el && !NAME.test(el.name)) el = undefined
  el ??= { name: NAME.test(doc.type) ? doc.type : 'Asset', attributes: {}, children: [], text: doc.body }
  el.attributes = {
    ...el.attributes,
    assetId: doc.assetId,
    timestamp: doc.timestamp,
    deviceUuid: doc.deviceUuid,
    ...(doc.removed ? { removed: 'true' } : {}),
  }
  return el
}
