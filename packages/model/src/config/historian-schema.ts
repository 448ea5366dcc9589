/**
 * The `historian:` block of an app (ours): observations, conditions and commands of the log into PostgreSQL
 * (@openfactory/historian), exactly once. The block's fields are documented in docs/reference/apps.md ("The
 * PostgreSQL historian"); what the schema cannot check (no password in the URL, a readable URL) the historian's
 * `parse` checks, with the same file and line.
 *
 *   historian:
 *     url: postgres://ofa@db.local:5432/factory   # no password here: password_env or password_file
 *     password_env: OFA_HISTORIAN_PASSWORD
 *     schema: openfactory
 *     batch_rows: 5000
 *     batch_ms: 500
 *     partition: day            # day | week | month
 *     store: [samples, events, conditions, commands, availability]
 *     assets: [CNC-1, CNC-2]    # default: every asset
 *     start: earliest           # earliest | latest: where a new database starts in the log
 *     backfill: {from: 2026-01-01T00:00:00Z, to: 2026-01-02T00:00:00Z}
 *     store_own_stats: false    # the historians' own rows_written and lag as rows too
 */
import { Type } from '@sinclair/typebox'
import { AssetUuid } from './common-schema.ts'

/** What the historian stores; default all. */
export const HISTORIAN_STORE = ['samples', 'events', 'conditions', 'commands', 'availability'] as const

const IsoTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?(?:Z|[+-]\\d{2}:\\d{2})$',
  expected: 'an ISO-8601 time with a zone, like 2026-01-01T00:00:00Z',
})

export const HistorianBackfill = Type.Object(
  { from: IsoTime, to: Type.Optional(IsoTime) },
  { additionalProperties: false },
)

export const HistorianSpec = Type.Object(
  {
    url: Type.String({
      pattern: '^postgres(?:ql)?://\\S+$',
      expected: 'a URL like postgres://user@host:5432/database (no password: password_env or password_file)',
    }),
    password_env: Type.Optional(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', expected: 'the name of an environment variable' }),
    ),
    password_file: Type.Optional(Type.String({ minLength: 1, expected: 'the path of a file holding the password' })),
    schema: Type.Optional(
      Type.String({
        pattern: '^[a-z_][a-z0-9_]{0,62}$',
        expected: 'a PostgreSQL schema name (lower-case letters, digits and _, 63 at most, not starting with a digit)',
      }),
    ),
    batch_rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, expected: 'a count of rows (1-100000)' })),
    batch_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, expected: 'milliseconds (1-60000)' })),
    partition: Type.Optional(
      Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], {
        expected: 'day, week or month',
      }),
    ),
    store: Type.Optional(
      Type.Array(
        Type.Union(
          HISTORIAN_STORE.map((s) => Type.Literal(s)),
          { expected: HISTORIAN_STORE.join(', ') },
        ),
        { minItems: 1, uniqueItems: true },
      ),
    ),
    assets: Type.Optional(Type.Array(AssetUuid, { minItems: 1, uniqueItems: true })),
    start: Type.Optional(
      Type.Union([Type.Literal('earliest'), Type.Literal('latest')], { expected: 'earliest or latest' }),
    ),
    backfill: Type.Optional(HistorianBackfill),
    store_own_stats: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
