/**
 * The MTConnect vocabulary every writer of MTConnect documents shares: the serving layer's agent façade
 * (@openfactory/serve, `/mtconnect`) and the synthetic agent the connector tests and the example simulator run
 * (@openfactory/connectors/testing). Here rather than in either, so that neither imports the other.
 *
 * What it holds (MTConnect Standard Part 1 §8 for the documents, Part 2 for data items, Part 3 for observations):
 * - the document namespaces, `urn:mtconnect.org:MTConnect<Document>:<version>`;
 * - XML text and attribute escaping for documents written by hand (string building is what the façade's
 *   `current` benchmark measured fastest; bench/mtconnect-current.ts), with the characters XML 1.0 forbids
 *   (controls other than tab, newline, carriage return; lone surrogates; U+FFFE, U+FFFF) replaced by U+FFFD, so a
 *   value a device sent can never make a document ill-formed;
 * - data item types and observation element names: a type is UPPER_SNAKE_CASE (`PART_COUNT`, `x:SPINDLE_LOAD`
 *   with a namespace prefix), the element an observation of it is written as is the type in PascalCase
 *   (`PartCount`) with the representation's suffix (`TimeSeries`, `DataSet`, `Table`); our observations carry that
 *   element name as their TAG (devices-xml.ts in connectors), and `mtconnectTagToType` turns a TAG back into a type;
 * - categories: our `Samples` / `Events` / `Condition` and MTConnect's `SAMPLE` / `EVENT` / `CONDITION`.
 */
import type { DataItemCategory } from './asset.ts'

/** The version of the standard our documents follow (their namespaces and `Header@version`). */
export const MTCONNECT_VERSION = '2.2'

export type MTConnectDocument = 'Devices' | 'Streams' | 'Assets' | 'Error'

/** `urn:mtconnect.org:MTConnectStreams:2.2`. */
export function mtconnectNamespace(document: MTConnectDocument, version: string = MTCONNECT_VERSION): string {
  return `urn:mtconnect.org:MTConnect${document}:${version}`
}

export type MTConnectCategory = 'SAMPLE' | 'EVENT' | 'CONDITION'

export const MTCONNECT_CATEGORIES: Readonly<Record<DataItemCategory, MTConnectCategory>> = {
  Samples: 'SAMPLE',
  Events: 'EVENT',
  Condition: 'CONDITION',
}

export type MTConnectRepresentation = 'VALUE' | 'TIME_SERIES' | 'DATA_SET' | 'TABLE'

export const REPRESENTATION_SUFFIXES: Readonly<Record<MTConnectRepresentation, string>> = {
  VALUE: '',
  TIME_SERIES: 'TimeSeries',
  DATA_SET: 'DataSet',
  TABLE: 'Table',
}

// Characters XML 1.0 (§2.2) does not allow, or that need escaping in text and double-quoted attributes.
const SPECIAL = /[&<>"\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/
const FORBIDDEN =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Text or a double-quoted attribute value as XML: `&`, `<`, `>`, `"` escaped, forbidden characters replaced. */
export function xmlEscape(text: string): string {
  if (!SPECIAL.test(text)) return text
  return text
    .replace(FORBIDDEN, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

/** ` a="1" b="x"` for the defined entries, in their order (undefined ones are left out). */
export function xmlAttributes(attributes: Readonly<Record<string, string | number | boolean | undefined>>): string {
  let out = ''
  for (const k in attributes) {
    const v = attributes[k]
    if (v !== undefined) out += ` ${k}="${xmlEscape(String(v))}"`
  }
  return out
}

/** `POSITION` → `Position`, `PART_COUNT` → `PartCount`, `x:SPINDLE_LOAD` → `x:SpindleLoad`. */
export function mtconnectTypeToTag(type: string): string {
  const colon = type.indexOf(':')
  const prefix = colon >= 0 ? type.slice(0, colon + 1) : ''
  const body = colon >= 0 ? type.slice(colon + 1) : type
  let out = ''
  for (const part of body.split('_')) {
    if (part) out += part[0]?.toUpperCase() + part.slice(1).toLowerCase()
  }
  return prefix + out
}

/** The element an observation of a data item of this type and representation is written as: `PositionTimeSeries`. */
export function observationElement(type: string, representation: MTConnectRepresentation = 'VALUE'): string {
  return mtconnectTypeToTag(type) + REPRESENTATION_SUFFIXES[representation]
}

/**
 * A TAG back to an MTConnect type: `PartCount` → `PART_COUNT`, `XDimension` → `X_DIMENSION`, `x:SpindleLoad` →
 * `x:SPINDLE_LOAD`; the representation's suffix is cut first (`PositionTimeSeries` with TIME_SERIES → `POSITION`).
 * A word boundary is a capital after a lowercase letter or digit, or a capital followed by a lowercase letter after
 * another capital; characters other than letters, digits and `_` become `_` (`temp-1` → `TEMP_1`).
 */
export function mtconnectTagToType(tag: string, representation: MTConnectRepresentation = 'VALUE'): string {
  const suffix = REPRESENTATION_SUFFIXES[representation]
  let t = suffix && tag.endsWith(suffix) && tag.length > suffix.length ? tag.slice(0, -suffix.length) : tag
  const colon = t.indexOf(':')
  const prefix = colon >= 0 ? t.slice(0, colon + 1) : ''
  t = colon >= 0 ? t.slice(colon + 1) : t
  const words = t
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
  const body = words.replace(/_+/g, '_').replace(/^_|_$/g, '').toUpperCase()
  return prefix + (body || 'UNKNOWN')
}
