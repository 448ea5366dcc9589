/**
 * Text from a file, made safe to print. A message that quotes a file (a key, a value, a file name) is printed on
 * terminals and in logs: control characters there can move the cursor, clear the screen or forge a line, and
 * bidi overrides can make `x` read as `y`. Every configuration problem passes its message, field path and file
 * name through `printable`, which escapes such characters and leaves all other text as it is.
 */

/**
 * Control characters (C0, DEL, C1), format characters (bidi overrides, zero-width characters, BOM), line and
 * paragraph separators, lone surrogates, private-use and unassigned code points, and U+FFFD (what bytes that
 * are not UTF-8 become when decoded: shown as `\u{fffd}`, it says the input held such bytes).
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\u{fffd}]/u
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'gu')

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** One character as an escape: `\n`, `\x1b`, `\u{202e}`. */
export function escapeChar(c: string): string {
  const named = NAMED[c]
  if (named) return named
  const code = c.codePointAt(0) ?? 0
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
}

/** `text` with every character that is not safe on a terminal escaped (`\x1b`, `\u{202e}`); the rest as it is. */
export function printable(text: string): string {
  return UNPRINTABLE.test(text) ? text.replace(UNPRINTABLE_ALL, escapeChar) : text
}

/** At most `max` characters of `text` (cut at a code point), `…` when cut; for echoing client input in messages. */
export function excerpt(text: string, max = 200): string {
  if (text.length <= max) return text
  let end = max
  const c = text.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end-- // do not split a surrogate pair
  return `${text.slice(0, end)}…`
}
