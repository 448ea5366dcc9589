/**
 * Request bodies: JSON only, read by our own parser (Fastify's `application/json` content-type parser; every
 * other content type, `text/plain` included, is a 415 `OFA_SERVE_UNSUPPORTED_MEDIA_TYPE`). What it refuses, each
 * a 400 `OFA_SERVE_REQUEST_INVALID` naming where:
 * - bytes that are not UTF-8 (RFC 8259 §8.1), by offset; a charset other than UTF-8 is a 415;
 * - text that is not JSON, with the parser's reason (client text in it escaped: `printable`);
 * - a key `__proto__`, or `prototype` under a key `constructor`, at any depth: JSON.parse makes them plain own
 *   properties, but code that later copies the object with `Object.assign` or a merge would set a prototype;
 *   they are refused by name (`where.path`, e.g. `body.a.__proto__`) rather than dropped silently;
 * - nesting deeper than `MAX_BODY_DEPTH` arrays and objects (what reads the body later recurses).
 * An empty body parses to `undefined` (a method call without arguments).
 */
import { isUtf8 } from 'node:buffer'
import { excerpt, OpenFactoryError } from '@openfactory/model'
import type { FastifyRequest } from 'fastify'
import { unsupportedMediaType } from './errors.ts'

/** Arrays and objects nested deeper than this are refused. */
export const MAX_BODY_DEPTH = 64

function invalid(message: string, path = 'body'): OpenFactoryError {
  return new OpenFactoryError('OFA_SERVE_REQUEST_INVALID', message, { where: { path } })
}

function pathOf(parent: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(excerpt(key, 100))}]`
}

/**
 * Walks a parsed body without recursion (a deep body cannot overflow the stack): refuses prototype keys and
 * nesting past `MAX_BODY_DEPTH`.
 */
export function checkParsedBody(value: unknown): void {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: 'body', depth: 0 }]
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number }
    if (v === null || typeof v !== 'object') continue
    if (depth >= MAX_BODY_DEPTH) throw invalid(`${path} is nested deeper than ${MAX_BODY_DEPTH} levels`, path)
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 })
      continue
    }
    for (const key of Object.keys(v)) {
      const child = (v as Record<string, unknown>)[key]
      if (key === '__proto__') {
        throw invalid(`${pathOf(path, key)}: the key __proto__ is not allowed in a body`, pathOf(path, key))
      }
      if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) {
        const at = `${pathOf(path, key)}.prototype`
        throw invalid(`${at}: the key prototype under constructor is not allowed in a body`, at)
      }
      stack.push({ v: child, path: pathOf(path, key), depth: depth + 1 })
    }
  }
}

/** Offset of the first byte of `bytes` that does not belong to well-formed UTF-8 (RFC 3629 §4), or -1. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i] as number
    let n: number
    let min: number
    if (b < 0x80) {
      i++
      continue
    } else if (b >= 0xc2 && b <= 0xdf) {
      n = 1
      min = 0x80
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2
      min = 0x800
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3
      min = 0x10000
    } else return i
    let cp = b & (0x3f >> n)
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k]
      if (c === undefined || (c & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += n + 1
  }
  return -1
}

/** Parses a JSON body; throws `OFA_SERVE_REQUEST_INVALID` (see the file comment). */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined
  if (!isUtf8(body)) {
    const at = Math.max(0, firstInvalidUtf8Offset(body))
    const byte = (body[at] ?? 0).toString(16).padStart(2, '0')
    throw invalid(`the body is not UTF-8 text: byte 0x${byte} at offset ${at} does not belong to a UTF-8 sequence`)
  }
  const text = body.toString('utf8')
  if (text.trim() === '') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw invalid(`the body is not valid JSON: ${excerpt((err as Error).message, 300)}`)
  }
  checkParsedBody(value)
  return value
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i

/** Fastify's content-type parser for `application/json` (`parseAs: 'buffer'`). */
export function jsonBodyParser(
  request: FastifyRequest,
  body: Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  const type = request.headers['content-type']
  const charset = type === undefined ? undefined : CHARSET.exec(type)?.[1]?.toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    done(unsupportedMediaType(type))
    return
  }
  try {
    done(null, parseJsonBody(body))
  } catch (err) {
    done(err as Error)
  }
}
