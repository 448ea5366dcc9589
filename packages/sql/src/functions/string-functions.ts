/**
 * String functions, with ksqlDB's names, signatures and NULL behaviour (docs: "Scalar functions" § Strings). Strings
 * are measured and indexed in UTF-16 code units, as Java's `String` is; positions count from 1.
 */
import { randomUUID } from 'node:crypto'
import { OpenFactoryError } from '@openfactory/model'
import type { SqlValue } from '../types.ts'
import type { ScalarArg, ScalarSpec } from './registry.ts'
import { P } from './signature.ts'

const str = (a: readonly ScalarArg[], i: number): string => a[i] as string
const int = (a: readonly ScalarArg[], i: number): number => a[i] as number
const bytes = (a: readonly ScalarArg[], i: number): Uint8Array => a[i] as Uint8Array

function valueError(message: string): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', message)
}

/** Whether a UTF-16 unit is one Java's `String.trim()` removes (U+0000 to U+0020). */
function blank(code: number): boolean {
  return code <= 32
}

function trimStart(s: string): string {
  let i = 0
  while (i < s.length && blank(s.charCodeAt(i))) i++
  return i === 0 ? s : s.slice(i)
}

function trimEnd(s: string): string {
  let j = s.length
  while (j > 0 && blank(s.charCodeAt(j - 1))) j--
  return j === s.length ? s : s.slice(0, j)
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The start index (0-based) of SUBSTRING's `pos`: from 1, or from the end when negative. */
function startOf(length: number, pos: number): number {
  const start = pos > 0 ? pos - 1 : pos < 0 ? length + pos : 0
  return Math.max(0, Math.min(start, length))
}

// Regular expressions: Java's syntax and JavaScript's agree on what streams use (classes, groups, quantifiers,
// anchors); a pattern is compiled once and kept while the next call passes the same text (a literal, usually).
function regexCache(flags: string): (pattern: string) => RegExp {
  let lastText: string | undefined
  let last: RegExp | undefined
  return (pattern) => {
    if (pattern === lastText) return last as RegExp
    let re: RegExp
    try {
      re = new RegExp(pattern, flags)
    } catch (e) {
      throw new OpenFactoryError('OFA_SQL_VALUE', `not a valid regular expression: ${pattern}`, { cause: e })
    }
    lastText = pattern
    last = re
    return re
  }
}

/**
 * Splits on a regular expression as Java's `Pattern.split(input, -1)` does: empty pieces kept (leading, trailing,
 * between adjacent matches), except that a zero-width match at the start adds no empty piece; no groups added.
 */
function regexSplit(s: string, re: RegExp): string[] {
  const out: string[] = []
  let from = 0
  re.lastIndex = 0
  for (;;) {
    const m = re.exec(s)
    if (m === null) break
    const at = m.index
    if (m[0].length === 0) {
      if (at >= s.length) break
      re.lastIndex = at + 1
      if (at === 0) continue
      out.push(s.slice(from, at))
      from = at
      continue
    }
    out.push(s.slice(from, at))
    from = at + m[0].length
  }
  out.push(s.slice(from))
  return out
}

/** Group `group` of every match of a global regular expression (NULL where the group took no part). */
function matches(s: string, re: RegExp, group: number): SqlValue[] {
  const out: SqlValue[] = []
  re.lastIndex = 0
  for (;;) {
    const m = re.exec(s)
    if (m === null) break
    out.push(m[group] ?? null)
    if (m[0].length === 0) re.lastIndex++
  }
  return out
}

function splitBytes(b: Uint8Array, d: Uint8Array): Uint8Array[] {
  if (d.length === 0) {
    const out: Uint8Array[] = []
    for (let i = 0; i < b.length; i++) out.push(b.slice(i, i + 1))
    return out
  }
  const out: Uint8Array[] = []
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  let from = 0
  for (;;) {
    const at = buf.indexOf(d, from)
    if (at < 0) break
    out.push(b.slice(from, at))
    from = at + d.length
  }
  out.push(b.slice(from))
  return out
}

/** Pads to `length` with repeats of `padding` on the left or right; truncates a longer input. */
function padText(input: string, length: number, padding: string, left: boolean): string | null {
  if (length < 0 || padding === '') return null
  if (input.length >= length) return input.slice(0, length)
  const need = length - input.length
  const fill = padding.repeat(Math.ceil(need / padding.length)).slice(0, need)
  return left ? fill + input : input + fill
}

function padBytes(input: Uint8Array, length: number, padding: Uint8Array, left: boolean): Uint8Array | null {
  if (length < 0 || padding.length === 0) return null
  if (input.length >= length) return input.slice(0, length)
  const out = new Uint8Array(length)
  const need = length - input.length
  for (let i = 0; i < need; i++) out[left ? i : input.length + i] = padding[i % padding.length] as number
  out.set(input, left ? need : 0)
  return out
}

const ENCODINGS = new Set(['hex', 'utf8', 'ascii', 'base64'])

function encodingOf(name: string): 'hex' | 'utf8' | 'ascii' | 'base64' {
  const e = name.toLowerCase().replace('-', '')
  if (!ENCODINGS.has(e)) throw valueError(`unknown encoding ${name}: hex, utf8, ascii or base64`)
  return e as 'hex' | 'utf8' | 'ascii' | 'base64'
}

function toBytes(text: string, encoding: string): Uint8Array {
  const e = encodingOf(encoding)
  if (e === 'hex' && !/^(?:[0-9a-fA-F]{2})*$/.test(text)) throw valueError(`not hex: ${text}`)
  if (e === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw valueError(`not base64: ${text}`)
  return new Uint8Array(Buffer.from(text, e === 'ascii' ? 'latin1' : e))
}

function fromBytes(b: Uint8Array, encoding: string): string {
  const e = encodingOf(encoding)
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (e === 'ascii') {
    for (const x of buf) if (x > 127) throw valueError('bytes are not ASCII')
  }
  return buf.toString(e)
}

// MASK: upper-case letters, lower-case letters, digits, others; a NULL mask character leaves that class as is.
const MASK_DEFAULTS: readonly (string | null)[] = ['X', 'x', 'n', '-']

/** The mask character of class `i` (0 upper, 1 lower, 2 digit, 3 other): given at `at + i`, or the default. */
function maskOf(masks: readonly ScalarArg[], at: number, i: number): string | null {
  const v = masks.length > at + i ? (masks[at + i] as string | null) : (MASK_DEFAULTS[i] as string)
  return v === null || v === '' ? null : v.charAt(0)
}

function maskChar(masks: readonly ScalarArg[], at: number, code: number): string | null {
  if (code >= 65 && code <= 90) return maskOf(masks, at, 0)
  if (code >= 97 && code <= 122) return maskOf(masks, at, 1)
  if (code >= 48 && code <= 57) return maskOf(masks, at, 2)
  return maskOf(masks, at, 3)
}

/** Masks `s[from, to)`; `maskAt` is where the mask characters start in `args`. */
function mask(s: string, from: number, to: number, args: readonly ScalarArg[], maskAt: number): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    if (i < from || i >= to) {
      out += s[i]
      continue
    }
    const c = maskChar(args, maskAt, s.charCodeAt(i))
    out += c === null ? s[i] : c
  }
  return out
}

function maskSpec(name: string, description: string, range: (len: number, n: number) => [number, number]): ScalarSpec {
  return {
    name,
    category: 'string',
    description,
    nulls: 'NULL string or count: NULL; a NULL mask character leaves its class unmasked',
    signatures: [
      {
        params: [P.STRING, P.INTEGER, P.STRING],
        names: [undefined, 'n', 'masks'],
        variadic: true,
        returns: P.STRING,
        strict: false,
        impl: (a) => {
          if (a[0] === null || a[1] === null) return null
          const [from, to] = range(str(a, 0).length, int(a, 1))
          return mask(str(a, 0), from, to, a, 2)
        },
      },
    ],
  }
}

export const STRING_FUNCTIONS: readonly ScalarSpec[] = [
  {
    name: 'CONCAT',
    category: 'string',
    description: 'Concatenates strings (or bytes).',
    nulls: 'NULL arguments count as empty; never NULL',
    signatures: [
      {
        params: [P.STRING],
        variadic: true,
        returns: P.STRING,
        strict: false,
        impl: (a) => {
          let out = ''
          for (let i = 0; i < a.length; i++) if (a[i] !== null) out += a[i] as string
          return out
        },
      },
      {
        params: [P.BYTES],
        variadic: true,
        returns: P.BYTES,
        strict: false,
        impl: (a) => {
          const parts: Uint8Array[] = []
          for (let i = 0; i < a.length; i++) if (a[i] !== null) parts.push(bytes(a, i))
          return concatBytes(parts)
        },
      },
    ],
  },
  {
    name: 'CONCAT_WS',
    category: 'string',
    description: 'Concatenates strings (or bytes) with a separator between them.',
    nulls: 'NULL separator: NULL; NULL values are skipped',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: ['separator'],
        variadic: true,
        returns: P.STRING,
        strict: false,
        impl: (a) => {
          if (a[0] === null) return null
          const sep = str(a, 0)
          let out = ''
          let first = true
          for (let i = 1; i < a.length; i++) {
            if (a[i] === null) continue
            out += first ? (a[i] as string) : sep + (a[i] as string)
            first = false
          }
          return out
        },
      },
      {
        params: [P.BYTES, P.BYTES],
        names: ['separator'],
        variadic: true,
        returns: P.BYTES,
        strict: false,
        impl: (a) => {
          if (a[0] === null) return null
          const parts: Uint8Array[] = []
          for (let i = 1; i < a.length; i++) {
            if (a[i] === null) continue
            if (parts.length > 0) parts.push(bytes(a, 0))
            parts.push(bytes(a, i))
          }
          return concatBytes(parts)
        },
      },
    ],
  },
  {
    name: 'LCASE',
    category: 'string',
    description: 'The string in lower case.',
    signatures: [{ params: [P.STRING], returns: P.STRING, impl: (a) => str(a, 0).toLowerCase() }],
  },
  {
    name: 'UCASE',
    category: 'string',
    description: 'The string in upper case.',
    signatures: [{ params: [P.STRING], returns: P.STRING, impl: (a) => str(a, 0).toUpperCase() }],
  },
  {
    name: 'TRIM',
    category: 'string',
    description: 'The string without leading and trailing blanks (characters up to U+0020, as Java trims).',
    signatures: [{ params: [P.STRING], returns: P.STRING, impl: (a) => trimEnd(trimStart(str(a, 0))) }],
  },
  {
    name: 'LTRIM',
    category: 'string',
    description: 'The string without leading blanks.',
    signatures: [{ params: [P.STRING], returns: P.STRING, impl: (a) => trimStart(str(a, 0)) }],
  },
  {
    name: 'RTRIM',
    category: 'string',
    description: 'The string without trailing blanks.',
    signatures: [{ params: [P.STRING], returns: P.STRING, impl: (a) => trimEnd(str(a, 0)) }],
  },
  {
    name: 'LEN',
    category: 'string',
    description: 'The length of a string (UTF-16 code units, as Java counts) or the number of bytes.',
    signatures: [
      { params: [P.STRING], returns: P.INTEGER, impl: (a) => str(a, 0).length },
      { params: [P.BYTES], returns: P.INTEGER, impl: (a) => bytes(a, 0).length },
    ],
  },
  {
    name: 'SUBSTRING',
    category: 'string',
    description: 'The part from position `pos` (from 1; negative: from the end), of length `len` or to the end.',
    signatures: [
      {
        params: [P.STRING, P.INTEGER],
        names: [undefined, 'pos'],
        returns: P.STRING,
        impl: (a) => str(a, 0).slice(startOf(str(a, 0).length, int(a, 1))),
      },
      {
        params: [P.STRING, P.INTEGER, P.INTEGER],
        names: [undefined, 'pos', 'len'],
        returns: P.STRING,
        impl: (a) => {
          const s = str(a, 0)
          const start = startOf(s.length, int(a, 1))
          const len = int(a, 2)
          return len <= 0 ? '' : s.slice(start, start + len)
        },
      },
      {
        params: [P.BYTES, P.INTEGER],
        names: [undefined, 'pos'],
        returns: P.BYTES,
        impl: (a) => bytes(a, 0).slice(startOf(bytes(a, 0).length, int(a, 1))),
      },
      {
        params: [P.BYTES, P.INTEGER, P.INTEGER],
        names: [undefined, 'pos', 'len'],
        returns: P.BYTES,
        impl: (a) => {
          const b = bytes(a, 0)
          const start = startOf(b.length, int(a, 1))
          const len = int(a, 2)
          return len <= 0 ? new Uint8Array(0) : b.slice(start, start + len)
        },
      },
    ],
  },
  {
    name: 'REPLACE',
    category: 'string',
    description: 'Replaces every occurrence of a substring by another (literally, not a pattern).',
    signatures: [
      {
        params: [P.STRING, P.STRING, P.STRING],
        names: [undefined, 'find', 'replacement'],
        returns: P.STRING,
        impl: (a) => {
          const s = str(a, 0)
          const find = str(a, 1)
          const by = str(a, 2)
          if (find !== '') return s.split(find).join(by)
          let out = by
          for (let i = 0; i < s.length; i++) out += s[i] + by
          return out
        },
      },
    ],
  },
  {
    name: 'REGEXP_EXTRACT',
    category: 'string',
    description: 'The first match of a regular expression in the string, or its capturing group `group`.',
    nulls: 'NULL if any argument is NULL or nothing matches',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: ['pattern'],
        returns: P.STRING,
        bind: () => {
          const compile = regexCache('')
          return (a) => compile(str(a, 0)).exec(str(a, 1))?.[0] ?? null
        },
      },
      {
        params: [P.STRING, P.STRING, P.INTEGER],
        names: ['pattern', undefined, 'group'],
        returns: P.STRING,
        bind: () => {
          const compile = regexCache('')
          return (a) => compile(str(a, 0)).exec(str(a, 1))?.[int(a, 2)] ?? null
        },
      },
    ],
  },
  {
    name: 'REGEXP_EXTRACT_ALL',
    category: 'string',
    description: 'Every match of a regular expression in the string, or of its capturing group `group`.',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: ['pattern'],
        returns: P.array(P.STRING),
        bind: () => {
          const compile = regexCache('g')
          return (a) => matches(str(a, 1), compile(str(a, 0)), 0)
        },
      },
      {
        params: [P.STRING, P.STRING, P.INTEGER],
        names: ['pattern', undefined, 'group'],
        returns: P.array(P.STRING),
        bind: () => {
          const compile = regexCache('g')
          return (a) => matches(str(a, 1), compile(str(a, 0)), int(a, 2))
        },
      },
    ],
  },
  {
    name: 'REGEXP_REPLACE',
    category: 'string',
    description: 'Replaces every match of a regular expression (`$1` in the replacement is group 1).',
    signatures: [
      {
        params: [P.STRING, P.STRING, P.STRING],
        names: [undefined, 'pattern', 'replacement'],
        returns: P.STRING,
        bind: () => {
          const compile = regexCache('g')
          return (a) => str(a, 0).replace(compile(str(a, 1)), str(a, 2))
        },
      },
    ],
  },
  {
    name: 'REGEXP_SPLIT_TO_ARRAY',
    category: 'string',
    description: 'Splits the string around the matches of a regular expression (empty pieces kept).',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'pattern'],
        returns: P.array(P.STRING),
        bind: () => {
          const compile = regexCache('g')
          return (a) => (str(a, 1) === '' ? str(a, 0).split('') : regexSplit(str(a, 0), compile(str(a, 1))))
        },
      },
    ],
  },
  {
    name: 'SPLIT',
    category: 'string',
    description: 'Splits a string (or bytes) around a delimiter; an empty delimiter splits every character.',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'delimiter'],
        returns: P.array(P.STRING),
        impl: (a) => str(a, 0).split(str(a, 1)),
      },
      {
        params: [P.BYTES, P.BYTES],
        names: [undefined, 'delimiter'],
        returns: P.array(P.BYTES),
        impl: (a) => splitBytes(bytes(a, 0), bytes(a, 1)),
      },
    ],
  },
  {
    name: 'INSTR',
    category: 'string',
    description:
      'The position (from 1) of the `occurrence`-th substring from position `pos` (negative: searching backward from the end); 0 if absent.',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'substring'],
        returns: P.INTEGER,
        impl: (a) => str(a, 0).indexOf(str(a, 1)) + 1,
      },
      {
        params: [P.STRING, P.STRING, P.INTEGER],
        names: [undefined, 'substring', 'pos'],
        returns: P.INTEGER,
        impl: (a) => instr(str(a, 0), str(a, 1), int(a, 2), 1),
      },
      {
        params: [P.STRING, P.STRING, P.INTEGER, P.INTEGER],
        names: [undefined, 'substring', 'pos', 'occurrence'],
        returns: P.INTEGER,
        impl: (a) => instr(str(a, 0), str(a, 1), int(a, 2), int(a, 3)),
      },
    ],
  },
  {
    name: 'LPAD',
    category: 'string',
    description: 'Pads on the left with repeats of `padding` to `length` (a longer input is truncated).',
    nulls: 'NULL if any argument is NULL, the padding is empty or the length negative',
    signatures: [
      {
        params: [P.STRING, P.INTEGER, P.STRING],
        names: [undefined, 'length', 'padding'],
        returns: P.STRING,
        impl: (a) => padText(str(a, 0), int(a, 1), str(a, 2), true),
      },
      {
        params: [P.BYTES, P.INTEGER, P.BYTES],
        names: [undefined, 'length', 'padding'],
        returns: P.BYTES,
        impl: (a) => padBytes(bytes(a, 0), int(a, 1), bytes(a, 2), true),
      },
    ],
  },
  {
    name: 'RPAD',
    category: 'string',
    description: 'Pads on the right with repeats of `padding` to `length` (a longer input is truncated).',
    nulls: 'NULL if any argument is NULL, the padding is empty or the length negative',
    signatures: [
      {
        params: [P.STRING, P.INTEGER, P.STRING],
        names: [undefined, 'length', 'padding'],
        returns: P.STRING,
        impl: (a) => padText(str(a, 0), int(a, 1), str(a, 2), false),
      },
      {
        params: [P.BYTES, P.INTEGER, P.BYTES],
        names: [undefined, 'length', 'padding'],
        returns: P.BYTES,
        impl: (a) => padBytes(bytes(a, 0), int(a, 1), bytes(a, 2), false),
      },
    ],
  },
  {
    name: 'INITCAP',
    category: 'string',
    description: 'Each word (delimited by whitespace) with its first letter in upper case and the rest in lower case.',
    signatures: [
      {
        params: [P.STRING],
        returns: P.STRING,
        impl: (a) => {
          const s = str(a, 0)
          let out = ''
          let start = true
          for (let i = 0; i < s.length; i++) {
            const c = s[i] as string
            const space = /\s/.test(c)
            out += space ? c : start ? c.toUpperCase() : c.toLowerCase()
            start = space
          }
          return out
        },
      },
    ],
  },
  {
    name: 'MASK',
    category: 'string',
    description:
      "Masks a string: upper-case letters as 'X', lower-case as 'x', digits as 'n', others as '-' (or the given characters).",
    nulls: 'NULL string: NULL; a NULL mask character leaves its class unmasked',
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'masks'],
        variadic: true,
        returns: P.STRING,
        strict: false,
        impl: (a) => (a[0] === null ? null : mask(str(a, 0), 0, str(a, 0).length, a, 1)),
      },
    ],
  },
  maskSpec('MASK_KEEP_LEFT', 'As MASK, but the first `n` characters are kept.', (len, n) => [Math.max(0, n), len]),
  maskSpec('MASK_KEEP_RIGHT', 'As MASK, but the last `n` characters are kept.', (len, n) => [0, len - Math.max(0, n)]),
  maskSpec('MASK_LEFT', 'As MASK, but only the first `n` characters are masked.', (_len, n) => [0, Math.max(0, n)]),
  maskSpec('MASK_RIGHT', 'As MASK, but only the last `n` characters are masked.', (len, n) => [
    len - Math.max(0, n),
    len,
  ]),
  {
    name: 'TO_BYTES',
    category: 'string',
    description: "The bytes of a string written in an encoding: 'hex', 'utf8', 'ascii' or 'base64'.",
    signatures: [
      {
        params: [P.STRING, P.STRING],
        names: [undefined, 'encoding'],
        returns: P.BYTES,
        impl: (a) => toBytes(str(a, 0), str(a, 1)),
      },
    ],
  },
  {
    name: 'FROM_BYTES',
    category: 'string',
    description: "Bytes as a string in an encoding: 'hex', 'utf8', 'ascii' or 'base64'.",
    signatures: [
      {
        params: [P.BYTES, P.STRING],
        names: [undefined, 'encoding'],
        returns: P.STRING,
        impl: (a) => fromBytes(bytes(a, 0), str(a, 1)),
      },
    ],
  },
  {
    name: 'ENCODE',
    category: 'string',
    description: "Re-encodes a string from one encoding to another ('hex', 'utf8', 'ascii', 'base64').",
    signatures: [
      {
        params: [P.STRING, P.STRING, P.STRING],
        names: [undefined, 'from', 'to'],
        returns: P.STRING,
        impl: (a) => fromBytes(toBytes(str(a, 0), str(a, 1)), str(a, 2)),
      },
    ],
  },
  {
    name: 'CHR',
    category: 'string',
    description: "The character of a Unicode code point, given as a number or as text like '\\u004b'.",
    nulls: 'NULL if NULL or not a valid code point',
    signatures: [
      {
        params: [P.INTEGER],
        returns: P.STRING,
        impl: (a) => {
          const c = int(a, 0)
          return c >= 0 && c <= 0x10ffff ? String.fromCodePoint(c) : null
        },
      },
      {
        params: [P.STRING],
        returns: P.STRING,
        impl: (a) => {
          const m = /^\\u([0-9a-fA-F]{4})(?:\\u([0-9a-fA-F]{4}))?$/.exec(str(a, 0))
          if (m === null) return null
          const s = String.fromCharCode(Number.parseInt(m[1] as string, 16))
          return m[2] === undefined ? s : s + String.fromCharCode(Number.parseInt(m[2], 16))
        },
      },
    ],
  },
  {
    name: 'UUID',
    category: 'string',
    description: 'A random (version 4) UUID.',
    deterministic: false,
    signatures: [{ params: [], returns: P.STRING, impl: () => randomUUID() }],
  },
]

/** INSTR with a start position and an occurrence count (Oracle's rules, which ksqlDB follows). */
function instr(s: string, sub: string, pos: number, occurrence: number): number {
  if (pos === 0 || occurrence < 1) return 0
  let at: number
  if (pos > 0) {
    at = pos - 2
    for (let n = 0; n < occurrence; n++) {
      at = s.indexOf(sub, at + 1)
      if (at < 0) return 0
    }
  } else {
    at = s.length + pos + 1
    for (let n = 0; n < occurrence; n++) {
      at = at - 1
      if (at < 0) return 0
      at = s.lastIndexOf(sub, at)
      if (at < 0) return 0
    }
  }
  return at + 1
}
