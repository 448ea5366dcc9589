/**
 * docs/reference/sql-functions.md, generated from a function registry: one section per category, a table of name,
 * signatures, description and NULL behaviour (aggregates also say whether they can be undone and merged). A test
 * keeps the committed page equal to this text; `npx node packages/sql/scripts/functions-reference.ts --write`
 * rewrites it.
 */
import { COLLECTION_LIMIT } from './aggregate-functions.ts'
import { REORDER_SAMPLES } from './industrial-aggregates.ts'
import type { AggregateSpec, FunctionCategory, FunctionRegistry, ScalarSpec } from './registry.ts'
import { formatSignature, GENERIC_LEGEND } from './signature.ts'

/** Where the page lives, from the repository's root. */
export const FUNCTIONS_REFERENCE_PATH = 'docs/reference/sql-functions.md'

const SECTIONS: readonly { category: FunctionCategory; title: string; intro: string }[] = [
  {
    category: 'string',
    title: 'String functions',
    intro:
      "Strings are counted and indexed in UTF-16 code units, as Java counts them; positions start at 1. Regular expressions use JavaScript's syntax, which agrees with Java's on classes, groups, quantifiers and anchors.",
  },
  {
    category: 'math',
    title: 'Numeric functions',
    intro:
      "Functions of a DOUBLE follow Java's `Math`: NaN and the infinities pass through (`LN(0)` is -Infinity, `SQRT(-1)` is NaN).",
  },
  {
    category: 'date/time',
    title: 'Date and time functions',
    intro:
      "TIMESTAMP is milliseconds since 1970-01-01T00:00:00Z, DATE days since 1970-01-01, TIME milliseconds since midnight. Patterns are Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSX`; letters G u y M L d D Q E a H k h K m s S A n N VV z O X x Z, quoted text, `[optional]` parts; the week-based letters Y w W e c F are refused). Parsing reads the whole text; missing fields default to 1970-01-01T00:00:00.000; a day past the month's end moves to its last day. Zones are IANA IDs (`Europe/Paris`), `UTC`, offsets (`+02:00`) or Java's short IDs (`PST`); the default is UTC. The unit of DATEADD, TIMEADD, TIMESTAMPADD and their SUB forms is DAYS, HOURS, MINUTES, SECONDS, MILLISECONDS, MICROSECONDS or NANOSECONDS, written as a keyword (`TIMESTAMPADD(HOURS, 2, ts)`, as ksqlDB writes it) or as text.",
  },
  {
    category: 'JSON',
    title: 'JSON functions',
    intro:
      "JSON is held in STRING values; text that is not JSON gives NULL. Paths are `$` followed by `.name`, `['name']` or `[index]` (from 0); wildcards and filters are refused.",
  },
  {
    category: 'collections',
    title: 'Collection functions',
    intro:
      'Elements are compared deeply (ARRAY, MAP and STRUCT by their contents; NULL elements equal each other); positions start at 1. TRANSFORM, FILTER and REDUCE take lambdas: `x => x * 2`, `(k, v) => v > 0`, `(s, x) => s + x`.',
  },
  { category: 'nulls', title: 'NULL functions', intro: '' },
  { category: 'conversion', title: 'Conversion functions', intro: '' },
  {
    category: 'aggregate',
    title: 'Aggregate functions',
    intro: `Aggregates run per group (and window) of a GROUP BY. **undo**: the aggregate can take a record back out, which aggregating a TABLE needs (a replaced or deleted row leaves its group). **merge**: it can join two session windows. Some arguments must be constants (TOPK's k, LATEST_BY_OFFSET's n): they are computed once, when the statement is created, and a column there, or a value the aggregate refuses (a k of 0), is refused then (\`OFA_SQL_FUNCTION\`). COLLECT_LIST, COLLECT_SET and HISTOGRAM keep at most ${COLLECTION_LIMIT} entries, as ksqlDB does by default.`,
  },
  {
    category: 'industrial',
    title: 'Industrial aggregates',
    intro: `Machines report a value when it changes, so these weigh each value by the time it held: from its record's timestamp until the next record's; the last one until the window's end (windowed queries), else until its own timestamp. NULL and 'UNAVAILABLE' time is unknown and left out. The ${REORDER_SAMPLES} latest samples are kept in timestamp order, so a record up to ${REORDER_SAMPLES} samples late still counts in its place; older ones are ignored. Time before the first record of a window is not counted.`,
  },
]

function cell(text: string): string {
  return text.replaceAll('|', '\\|')
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

function signaturesCell(spec: ScalarSpec | AggregateSpec): string {
  return spec.signatures.map((s) => `\`${cell(formatSignature(spec.name, s))}\``).join('<br>')
}

function scalarNulls(spec: ScalarSpec): string {
  return spec.nulls ?? 'NULL if any argument is NULL'
}

/** The text of docs/reference/sql-functions.md for a registry. */
export function functionsReference(registry: FunctionRegistry): string {
  const scalars = registry.scalarSpecs()
  const aggregates = registry.aggregateSpecs()
  const out: string[] = [
    '# SQL functions',
    '',
    `<!-- Generated by functionsReference() (packages/sql/src/functions/functions-reference.ts); do not edit. Regenerate: npx node packages/sql/scripts/functions-reference.ts --write -->`,
    '',
    `The scalar functions and aggregates of the SQL engine: ksqlDB's, with their names, signatures and NULL behaviour, and aggregates for machine data. ${scalars.length} scalar functions, ${aggregates.length} aggregates.`,
    '',
    'How a call finds its signature:',
    '',
    '- Names are case-insensitive.',
    '- A numeric argument widens to a wider numeric parameter, INTEGER → BIGINT → DECIMAL → DOUBLE (inside ARRAY, MAP and STRUCT too); the signature needing the fewest steps wins, then the one listed first.',
    '- A NULL literal matches any parameter; where the result type would depend on it alone, CAST it.',
    "- A function that does not exist, or no signature of which takes the arguments, is refused when the statement is created (`OFA_SQL_FUNCTION`, with the closest name or the function's signatures). A value a function cannot process at run time (text that does not parse) is an `OFA_SQL_VALUE` processing error for that record.",
    '- `T...` is a variadic parameter (zero or more). Type letters:',
    '',
    table(
      ['letter', 'stands for'],
      GENERIC_LEGEND.map(([l, m]) => [l, m]),
    ),
    '',
    'CAST, the ARRAY[...], MAP(...) and STRUCT(...) constructors, and AS_VALUE are syntax, not functions.',
    '',
  ]
  for (const section of SECTIONS) {
    const isAggregate = section.category === 'aggregate' || section.category === 'industrial'
    const specs = isAggregate
      ? aggregates.filter((s) => s.category === section.category)
      : scalars.filter((s) => s.category === section.category)
    if (specs.length === 0) continue
    out.push(`## ${section.title}`, '')
    if (section.intro) out.push(section.intro, '')
    if (isAggregate) {
      const rows = (specs as AggregateSpec[]).map((s) => [
        `\`${s.name}\``,
        signaturesCell(s),
        cell(s.description),
        cell(s.nulls ?? 'NULL values are ignored'),
        s.undo ? 'yes' : 'no',
        s.merge ? 'yes' : 'no',
      ])
      out.push(table(['name', 'signatures', 'description', 'NULL', 'undo', 'merge'], rows), '')
    } else {
      const rows = (specs as ScalarSpec[]).map((s) => [
        `\`${s.name}\``,
        signaturesCell(s),
        cell(s.description + (s.deterministic === false ? ' Not deterministic.' : '')),
        cell(scalarNulls(s)),
      ])
      out.push(table(['name', 'signatures', 'description', 'NULL'], rows), '')
    }
  }
  return out.join('\n')
}
