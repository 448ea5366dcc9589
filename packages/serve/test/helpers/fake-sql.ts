/**
 * A fake SQL engine (`SqlEngineApi`) for the ksqlDB-compatible routes: statements answered from a small catalog,
 * pull queries from a table written here, push queries fed by the test (`query.feed(row)`), errors thrown as the
 * engine throws them (OpenFactoryError with codes and positions). It records what it was asked.
 *
 * What it understands (the text upper-cased, matched loosely — it is no parser):
 * - execute: `SHOW|LIST STREAMS`, `SHOW|LIST TABLES`, `CREATE ...` (a currentStatus), a statement naming `GHOST`
 *   (OFA_SQL_UNKNOWN_SOURCE at line 1, column of `GHOST`), `EXPLODE` (a plain Error: a bug of the engine);
 * - tableRows: `MACHINES` (by its key `ID`), any other name unknown;
 * - query: `... EMIT CHANGES [LIMIT n]` is a push query on `READINGS`; anything else a pull query on `MACHINES`
 *   (`WHERE ID = 'm-1'` keeps one row), or on `TYPED` when the text names it; `GHOST` fails like above; `BROKEN` fails after its first row; `SLOW` waits
 *   for its signal before answering (a client that goes away first).
 */
import { OpenFactoryError } from '@openfactory/model'
import type { KsqlEntity, QueryResult, SourceInfo, SqlEngineApi, SqlValue, StatementProperties } from '@openfactory/sql'

export type Row = readonly SqlValue[]

/** The table of pull queries: `rows` as the engine gives them, `wire` as ksqlDB's answers write them. */
export const MACHINES = {
  columnNames: ['ID', 'TEMP', 'TAGS', 'SEEN'],
  columnTypes: ['STRING', 'DOUBLE', 'ARRAY<STRING>', 'MAP<STRING, BIGINT>'],
  rows: [
    ['m-1', 21.5, ['a', 'b'], new Map([['x', 1]])],
    ['m-2', null, [], new Map()],
    ['m-3', -3, ['c'], new Map([['y"z', 2]])],
  ] as Row[],
  wire: [
    ['m-1', 21.5, ['a', 'b'], { x: 1 }],
    ['m-2', null, [], {}],
    ['m-3', -3, ['c'], { 'y"z': 2 }],
  ],
}

/** A table of every kind of value (`SELECT * FROM typed`), likewise. */
export const TYPED = {
  columnNames: ['TS', 'D', 'T', 'B', 'M', 'S', 'DEC'],
  columnTypes: [
    'TIMESTAMP',
    'DATE',
    'TIME',
    'BYTES',
    'MAP<STRING, TIMESTAMP>',
    'STRUCT<`A` INTEGER, `B c` ARRAY<DATE>>',
    'DECIMAL(4, 2)',
  ],
  rows: [
    [
      Date.UTC(2021, 5, 29, 14, 32, 30),
      18_807,
      (14 * 3600 + 32 * 60 + 30) * 1000 + 250,
      new Uint8Array([0, 1, 255]),
      new Map([['at', 12_345]]),
      Object.assign(Object.create(null), { A: 7, 'B c': [0, 1] }),
      12.5,
    ],
    [null, null, 0, null, null, null, null],
  ] as Row[],
  wire: [
    [
      '2021-06-29T14:32:30.000',
      '2021-06-29',
      '14:32:30.250',
      'AAH/',
      { at: '1970-01-01T00:00:12.345' },
      { A: 7, 'B c': ['1970-01-01', '1970-01-02'] },
      12.5,
    ],
    [null, null, '00:00:00', null, null, null, null],
  ],
}

export const READINGS = { columnNames: ['ASSET', 'VALUE'], columnTypes: ['STRING', 'DOUBLE'] }

export const STREAMS: SourceInfo[] = [
  { type: 'STREAM', name: 'READINGS', topic: 'readings', keyFormat: 'KAFKA', valueFormat: 'JSON', isWindowed: false },
  { type: 'STREAM', name: 'EVENTS', topic: 'events', keyFormat: 'KAFKA', valueFormat: 'JSON', isWindowed: false },
]

/** A query the fake started. */
export interface FakeQuery {
  readonly text: string
  readonly kind: 'pull' | 'push'
  readonly queryId: string
  readonly properties: StatementProperties
  /** Push: hands the query a row. */
  feed(row: Row): void
  /** Push: makes the query fail. */
  fail(err: Error): void
  /** Whether `close()` was called. */
  readonly isClosed: boolean
  /** Resolves when `close()` is called. */
  readonly closed: Promise<void>
}

export interface FakeSql extends SqlEngineApi {
  healthy: boolean
  /** Statement texts `execute` ran, in order. */
  readonly executed: string[]
  /** Queries started, in order. */
  readonly queries: FakeQuery[]
  /** The latest query started whose text contains `text`, once there is one (bounded wait). */
  started(text: string, timeoutMs?: number): Promise<FakeQuery>
}

function unknownSource(text: string): OpenFactoryError {
  const at = text.toUpperCase().indexOf('GHOST')
  return new OpenFactoryError('OFA_SQL_UNKNOWN_SOURCE', `line 1:${at + 1}: no stream or table GHOST`, {
    where: { line: 1, column: at + 1 },
  })
}

let nextId = 0

function createQuery(text: string, properties: StatementProperties, signal?: AbortSignal): FakeQuery & QueryResult {
  const upper = text.toUpperCase()
  const push = /EMIT\s+CHANGES/.test(upper)
  const limit = Number(/LIMIT\s+(\d+)/.exec(upper)?.[1] ?? Number.NaN)
  const queue: Row[] = []
  let wake: (() => void) | undefined
  let isClosed = false
  let failure: Error | undefined
  let onClosed = (): void => {}
  const closed = new Promise<void>((resolve) => {
    onClosed = resolve
  })
  const poke = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const pushRows = async function* (): AsyncGenerator<Row> {
    let sent = 0
    for (;;) {
      while (queue.length > 0) {
        yield queue.shift() as Row
        if (++sent >= limit) return
      }
      if (isClosed) return
      if (failure) throw failure
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  }
  const table = /\bTYPED\b/.test(upper) ? TYPED : MACHINES
  const pullRows = async function* (): AsyncGenerator<Row> {
    const only = /ID\s*=\s*'([^']*)'/.exec(text)?.[1]
    let n = 0
    for (const row of table.rows) {
      if (only !== undefined && row[0] !== only) continue
      if (upper.includes('BROKEN') && n++ === 1) {
        throw new OpenFactoryError('OFA_SQL_VALUE', 'a value of TEMP is not a DOUBLE')
      }
      yield row
    }
  }
  signal?.addEventListener('abort', () => poke(), { once: true })
  const header = push
    ? { queryId: `transient_push_${++nextId}`, ...READINGS }
    : { queryId: `transient_pull_${++nextId}`, columnNames: table.columnNames, columnTypes: table.columnTypes }
  return {
    text,
    kind: push ? 'push' : 'pull',
    queryId: header.queryId,
    properties,
    header,
    rows: push ? pushRows() : pullRows(),
    feed(row) {
      queue.push(row)
      poke()
    },
    fail(err) {
      failure = err
      poke()
    },
    get isClosed() {
      return isClosed
    },
    closed,
    async close() {
      isClosed = true
      onClosed()
      poke()
    },
  }
}

export function createFakeSql(): FakeSql {
  const executed: string[] = []
  const queries: FakeQuery[] = []
  const fake: FakeSql = {
    healthy: true,
    executed,
    queries,
    async tableRows(name, opts = {}) {
      if (name.toUpperCase() !== 'MACHINES') {
        throw new OpenFactoryError('OFA_SQL_UNKNOWN_SOURCE', `no table ${name}; tables: MACHINES`)
      }
      const rows = MACHINES.rows.filter((r) => opts.key === undefined || r[0] === opts.key)
      return {
        table: 'MACHINES',
        columns: MACHINES.columnNames.map((n, i) => ({
          name: n,
          type: MACHINES.columnTypes[i] as string,
          key: i === 0,
        })),
        rows: rows.slice(0, opts.limit ?? rows.length),
      }
    },
    async execute(text, opts = {}): Promise<KsqlEntity[]> {
      const upper = text.toUpperCase()
      if (upper.includes('GHOST')) throw unknownSource(text)
      if (upper.includes('EXPLODE')) throw new Error('a bug in the engine')
      executed.push(text)
      if (/^\s*(SHOW|LIST)\s+STREAMS/.test(upper)) {
        return [{ '@type': 'streams', statementText: text, streams: STREAMS, warnings: [] }]
      }
      if (/^\s*(SHOW|LIST)\s+TABLES/.test(upper)) {
        return [{ '@type': 'tables', statementText: text, tables: [], warnings: [] }]
      }
      if (/^\s*(SET|UNSET)\b/.test(upper)) return []
      return [
        {
          '@type': 'currentStatus',
          statementText: text,
          commandId: 'create-source/',
          commandStatus: { status: 'SUCCESS', message: `done (${JSON.stringify(opts.properties ?? {})})` },
          commandSequenceNumber: -1,
          warnings: [],
        },
      ]
    },
    async query(text, opts = {}): Promise<QueryResult> {
      const upper = text.toUpperCase()
      if (!/^\s*SELECT\b/.test(upper)) {
        throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', 'query() runs a SELECT', { where: { line: 1, column: 1 } })
      }
      if (upper.includes('GHOST')) throw unknownSource(text)
      if (upper.includes('SLOW')) {
        await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }))
        throw new OpenFactoryError('OFA_SQL_UNSUPPORTED', 'aborted')
      }
      const q = createQuery(text, opts.properties ?? {}, opts.signal)
      queries.push(q)
      return q
    },
    async started(text, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const q = queries.findLast((x) => x.text.includes(text))
        if (q) return q
        if (Date.now() > deadline) throw new Error(`no query ${JSON.stringify(text)} started`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
  }
  return fake
}
