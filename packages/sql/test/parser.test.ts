import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, test } from 'node:test'
import { MAX_EXPRESSION_DEPTH, MAX_SQL_BYTES, parseExpression, parseStatements } from '../src/parser.ts'
import {
  and,
  arith,
  assertSqlError,
  branch,
  call,
  cmp,
  col,
  int,
  item,
  lit,
  NULL,
  not,
  or,
  prop,
  query,
  rel,
  str,
  strip,
  type,
} from './ast-helpers.ts'

const one = (sql: string) => {
  const stmts = parseStatements(sql)
  assert.equal(stmts.length, 1)
  return stmts[0] as any
}
const expr = (sql: string) => strip(parseExpression(sql))
const q = (sql: string) => strip(one(sql).query)

describe('CREATE STREAM / TABLE', () => {
  test('a stream over a topic: KEY column, MAP<STRING, STRING>, WITH properties in order', () => {
    const sql = `CREATE STREAM machine_events (
      machine VARCHAR KEY,
      id VARCHAR, value VARCHAR, type VARCHAR,
      attributes MAP<VARCHAR, VARCHAR>
    ) WITH (kafka_topic = 'machine_events', VALUE_FORMAT='JSON', partitions=3);`
    const s = one(sql)
    assert.equal(s.text, sql)
    assert.deepEqual(s.where, { line: 1, column: 1 })
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.elements) && Object.isFrozen(s.elements[0]))
    assert.deepEqual(strip(s), {
      kind: 'CreateSourceNode',
      sourceType: 'STREAM',
      orReplace: false,
      isSource: false,
      ifNotExists: false,
      name: 'MACHINE_EVENTS',
      elements: [
        { kind: 'ColumnElementNode', name: 'MACHINE', type: type.STRING, constraint: 'KEY', headerKey: null },
        { kind: 'ColumnElementNode', name: 'ID', type: type.STRING, constraint: null, headerKey: null },
        { kind: 'ColumnElementNode', name: 'VALUE', type: type.STRING, constraint: null, headerKey: null },
        { kind: 'ColumnElementNode', name: 'TYPE', type: type.STRING, constraint: null, headerKey: null },
        {
          kind: 'ColumnElementNode',
          name: 'ATTRIBUTES',
          type: { kind: 'MAP', key: type.STRING, value: type.STRING },
          constraint: null,
          headerKey: null,
        },
      ],
      properties: [
        prop('KAFKA_TOPIC', str('machine_events')),
        prop('VALUE_FORMAT', str('JSON')),
        prop('PARTITIONS', int(3)),
      ],
    })
    assert.deepEqual(s.elements[1].where, { line: 3, column: 7 })
  })

  test('a table: PRIMARY KEY, IF NOT EXISTS, OR REPLACE, SOURCE, KEY_FORMAT KAFKA', () => {
    const s = strip(
      one(`create or replace source table if not exists Line_State (line STRING PRIMARY KEY, state INT)
           with (KAFKA_TOPIC='line_state', KEY_FORMAT='KAFKA', VALUE_FORMAT='KAFKA')`),
    )
    assert.equal(s.kind, 'CreateSourceNode')
    assert.equal(s.sourceType, 'TABLE')
    assert.deepEqual([s.orReplace, s.isSource, s.ifNotExists, s.name], [true, true, true, 'LINE_STATE'])
    assert.equal(s.elements[0].constraint, 'PRIMARY KEY')
    assert.deepEqual(
      s.properties.map((p: any) => p.name),
      ['KAFKA_TOPIC', 'KEY_FORMAT', 'VALUE_FORMAT'],
    )
  })

  test('every type, HEADERS and HEADER(key) columns', () => {
    const s = strip(
      one(`CREATE STREAM t (a BOOLEAN, b INT, c INTEGER, d BIGINT, e DOUBLE, f DECIMAL(4, 2), g VARCHAR,
        h STRING, i BYTES, j TIMESTAMP, k DATE, l TIME, m ARRAY<INT>, n MAP<STRING, ARRAY<DOUBLE>>,
        o STRUCT<x INT, \`y z\` STRUCT<w STRING>>, p STRUCT<>,
        hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, h1 BYTES HEADER('trace-id'))
        WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON')`),
    )
    const types = Object.fromEntries(s.elements.map((e: any) => [e.name, e.type]))
    assert.deepEqual(types.A, type.BOOLEAN)
    assert.deepEqual([types.B, types.C, types.D, types.E], [type.INTEGER, type.INTEGER, type.BIGINT, type.DOUBLE])
    assert.deepEqual(types.F, type.decimal(4, 2))
    assert.deepEqual([types.G, types.H], [type.STRING, type.STRING])
    assert.deepEqual(
      [types.I, types.J, types.K, types.L].map((x: any) => x.kind),
      ['BYTES', 'TIMESTAMP', 'DATE', 'TIME'],
    )
    assert.deepEqual(types.M, { kind: 'ARRAY', element: type.INTEGER })
    assert.deepEqual(types.N, { kind: 'MAP', key: type.STRING, value: { kind: 'ARRAY', element: type.DOUBLE } })
    assert.deepEqual(types.O, {
      kind: 'STRUCT',
      fields: [
        { name: 'X', type: type.INTEGER },
        { name: 'y z', type: { kind: 'STRUCT', fields: [{ name: 'W', type: type.STRING }] } },
      ],
    })
    assert.deepEqual(types.P, { kind: 'STRUCT', fields: [] })
    const hs = s.elements.find((e: any) => e.name === 'HS')
    assert.deepEqual([hs.constraint, hs.headerKey], ['HEADERS', null])
    const h1 = s.elements.find((e: any) => e.name === 'H1')
    assert.deepEqual([h1.constraint, h1.headerKey], ['HEADER', 'trace-id'])
  })

  test('a stream without columns (its schema comes from elsewhere)', () => {
    const s = strip(one("CREATE STREAM s WITH (KAFKA_TOPIC='s', VALUE_FORMAT='AVRO')"))
    assert.deepEqual([s.kind, s.elements, s.properties.length], ['CreateSourceNode', [], 2])
  })

  test('WITH property values: strings, signed numbers, booleans; names quoted or not, all upper-cased', () => {
    const s = strip(one("CREATE STREAM s (a INT) WITH ('key.x'=-1, `Retention_Ms`=+2.5, flag=TRUE, d=1E2, n=NULL)"))
    assert.deepEqual(s.properties, [
      prop('KEY.X', int(-1)),
      prop('RETENTION_MS', lit(2.5, type.decimal(2, 1))),
      prop('FLAG', lit(true, type.BOOLEAN)),
      prop('D', lit(100, type.DOUBLE)),
      prop('N', NULL),
    ])
  })
})

describe('CREATE ... AS SELECT, INSERT', () => {
  test('CREATE STREAM ... WITH (...) AS SELECT with CAST(NULL AS VARCHAR) and VALUE_FORMAT KAFKA', () => {
    const s = strip(
      one(`CREATE STREAM machine_tombstones WITH (KAFKA_TOPIC='machines', VALUE_FORMAT='KAFKA') AS
        SELECT machine, CAST(NULL AS VARCHAR) AS state FROM machine_events
        WHERE id = 'lifecycle' AND value = 'removed';`),
    )
    assert.deepEqual(s, {
      kind: 'CreateAsSelectNode',
      sourceType: 'STREAM',
      orReplace: false,
      ifNotExists: false,
      name: 'MACHINE_TOMBSTONES',
      properties: [prop('KAFKA_TOPIC', str('machines')), prop('VALUE_FORMAT', str('KAFKA'))],
      query: query({
        select: [item(col('MACHINE')), item({ kind: 'CastNode', operand: NULL, type: type.STRING }, 'STATE')],
        from: rel('MACHINE_EVENTS'),
        filter: and(cmp('=', col('ID'), str('lifecycle')), cmp('=', col('VALUE'), str('removed'))),
      }),
    })
  })

  test('CREATE TABLE IF NOT EXISTS ... AS SELECT with LATEST_BY_OFFSET, COLLECT_LIST(STRUCT(...)), GROUP BY, EMIT', () => {
    const s = strip(
      one(`CREATE TABLE IF NOT EXISTS machine_readings AS
        SELECT machine, LATEST_BY_OFFSET(value) AS last_value,
               COLLECT_LIST(STRUCT(id := id, value := value)) AS readings
        FROM machine_events GROUP BY machine EMIT CHANGES`),
    )
    assert.equal(s.kind, 'CreateAsSelectNode')
    assert.equal(s.ifNotExists, true)
    assert.deepEqual(s.query.select[1], item(call('LATEST_BY_OFFSET', col('VALUE')), 'LAST_VALUE'))
    assert.deepEqual(
      s.query.select[2],
      item(
        call('COLLECT_LIST', {
          kind: 'StructNode',
          fields: [
            { name: 'ID', value: col('ID') },
            { name: 'VALUE', value: col('VALUE') },
          ],
        }),
        'READINGS',
      ),
    )
    assert.deepEqual(s.query.groupBy, [col('MACHINE')])
    assert.equal(s.query.emit, 'CHANGES')
  })

  test('INSERT INTO ... SELECT with a map subscript, COALESCE and PARTITION BY concat(...)', () => {
    const s = strip(
      one(`INSERT INTO keyed_events
        SELECT concat(CAST(machine AS STRING), '|', id) AS key, COALESCE(attributes['ts'], 'n/a') AS ts
        FROM machine_events PARTITION BY concat(CAST(machine AS STRING), '|', id);`),
    )
    const key = call('CONCAT', { kind: 'CastNode', operand: col('MACHINE'), type: type.STRING }, str('|'), col('ID'))
    assert.deepEqual(s, {
      kind: 'InsertIntoNode',
      target: 'KEYED_EVENTS',
      properties: [],
      query: query({
        select: [
          item(key, 'KEY'),
          item(
            call('COALESCE', { kind: 'SubscriptNode', base: col('ATTRIBUTES'), index: str('ts') }, str('n/a')),
            'TS',
          ),
        ],
        from: rel('MACHINE_EVENTS'),
        partitionBy: [key],
      }),
    })
  })

  test('INSERT INTO ... WITH (QUERY_ID=...) SELECT', () => {
    const s = strip(one("INSERT INTO a WITH (QUERY_ID='my_query') SELECT * FROM b"))
    assert.deepEqual(s.properties, [prop('QUERY_ID', str('my_query'))])
  })

  test('INSERT INTO ... VALUES, with and without columns', () => {
    assert.deepEqual(strip(one("INSERT INTO connectors (machine, config) VALUES ('m1', '{\"a\": 1}')")), {
      kind: 'InsertValuesNode',
      target: 'CONNECTORS',
      columns: ['MACHINE', 'CONFIG'],
      values: [str('m1'), str('{"a": 1}')],
    })
    const s = strip(one('insert into t values (1, -2.5, NULL, ARRAY[1])'))
    assert.equal(s.columns, null)
    assert.deepEqual(s.values.slice(0, 3), [int(1), lit(-2.5, type.decimal(2, 1)), NULL])
  })
})

describe('other statements', () => {
  test('DROP', () => {
    assert.deepEqual(strip(one('DROP STREAM IF EXISTS s DELETE TOPIC')), {
      kind: 'DropNode',
      sourceType: 'STREAM',
      ifExists: true,
      name: 'S',
      deleteTopic: true,
    })
    assert.deepEqual(strip(one('drop table t;')), {
      kind: 'DropNode',
      sourceType: 'TABLE',
      ifExists: false,
      name: 'T',
      deleteTopic: false,
    })
  })

  test('SHOW and LIST', () => {
    for (const what of ['STREAMS', 'TABLES', 'QUERIES', 'TOPICS', 'PROPERTIES', 'FUNCTIONS']) {
      assert.deepEqual(strip(one(`SHOW ${what}`)), { kind: 'ShowNode', what, extended: false })
      assert.deepEqual(strip(one(`list ${what.toLowerCase()} extended;`)), { kind: 'ShowNode', what, extended: true })
    }
  })

  test('DESCRIBE', () => {
    const d = (sql: string) => strip(one(sql))
    assert.deepEqual(d('DESCRIBE s'), { kind: 'DescribeNode', what: 'SOURCE', name: 'S', extended: false })
    assert.deepEqual(d('DESCRIBE EXTENDED s'), { kind: 'DescribeNode', what: 'SOURCE', name: 'S', extended: true })
    assert.deepEqual(d('DESCRIBE STREAMS'), { kind: 'DescribeNode', what: 'STREAMS', name: null, extended: false })
    assert.deepEqual(d('DESCRIBE TABLES EXTENDED'), {
      kind: 'DescribeNode',
      what: 'TABLES',
      name: null,
      extended: true,
    })
    assert.deepEqual(d('DESCRIBE FUNCTION latest_by_offset'), {
      kind: 'DescribeNode',
      what: 'FUNCTION',
      name: 'LATEST_BY_OFFSET',
      extended: false,
    })
    assert.deepEqual(d('DESCRIBE `STREAMS`'), {
      kind: 'DescribeNode',
      what: 'SOURCE',
      name: 'STREAMS',
      extended: false,
    })
  })

  test('EXPLAIN a query id or a statement', () => {
    assert.deepEqual(strip(one('EXPLAIN CSAS_S_1')), { kind: 'ExplainNode', queryId: 'CSAS_S_1', statement: null })
    const e = one('EXPLAIN SELECT * FROM s;')
    assert.equal(e.statement.kind, 'QueryStatementNode')
    assert.equal(e.statement.text, 'SELECT * FROM s')
    assert.equal(e.text, 'EXPLAIN SELECT * FROM s;')
    assert.equal(one('EXPLAIN CREATE STREAM a AS SELECT * FROM b').statement.kind, 'CreateAsSelectNode')
    assert.equal(one('EXPLAIN INSERT INTO a SELECT * FROM b').statement.kind, 'InsertIntoNode')
  })

  test('TERMINATE', () => {
    assert.deepEqual(strip(one('TERMINATE CSAS_S_1')), { kind: 'TerminateNode', queryId: 'CSAS_S_1' })
    assert.deepEqual(strip(one('TERMINATE `transient_x-1`')), { kind: 'TerminateNode', queryId: 'transient_x-1' })
    assert.deepEqual(strip(one('terminate all')), { kind: 'TerminateNode', queryId: null })
  })

  test('SET and UNSET', () => {
    assert.deepEqual(strip(one("SET 'auto.offset.reset'='earliest';")), {
      kind: 'SetNode',
      name: 'auto.offset.reset',
      value: 'earliest',
    })
    assert.deepEqual(strip(one("UNSET 'auto.offset.reset';")), { kind: 'UnsetNode', name: 'auto.offset.reset' })
  })
})

describe('statement lists', () => {
  test('statements separated by ;, the last ; optional, each with its text and position, comments skipped', () => {
    const sql = `-- a script
SET 'auto.offset.reset' = 'earliest';
/* two
   statements */ SHOW STREAMS;;
SELECT * FROM s -- trailing comment
  EMIT CHANGES`
    const stmts = parseStatements(sql)
    assert.deepEqual(
      stmts.map((s) => [s.kind, s.text, s.where]),
      [
        ['SetNode', "SET 'auto.offset.reset' = 'earliest';", { line: 2, column: 1 }],
        ['ShowNode', 'SHOW STREAMS;', { line: 4, column: 18 }],
        ['QueryStatementNode', 'SELECT * FROM s -- trailing comment\n  EMIT CHANGES', { line: 5, column: 1 }],
      ],
    )
  })

  test('empty text, or only comments and ;', () => {
    assert.deepEqual(parseStatements(''), [])
    assert.deepEqual(parseStatements(' -- nothing\n /* here */ ; ;'), [])
  })

  test('a ; inside a string or a quoted name does not split', () => {
    const s = one("SELECT 'a;b' AS `x;y` FROM s;")
    assert.deepEqual(strip(s.query.select[0]), item(str('a;b'), 'x;y'))
  })
})

describe('queries', () => {
  test('a pull query and a push query with LIMIT', () => {
    assert.deepEqual(
      q("SELECT value FROM machines WHERE machine='m1';"),
      query({ select: [item(col('VALUE'))], from: rel('MACHINES'), filter: cmp('=', col('MACHINE'), str('m1')) }),
    )
    assert.deepEqual(
      q('SELECT * FROM events EMIT CHANGES LIMIT 10;'),
      query({ select: [{ kind: 'SelectAllNode', source: null }], from: rel('EVENTS'), emit: 'CHANGES', limit: 10 }),
    )
    assert.equal(q('SELECT * FROM t EMIT FINAL').emit, 'FINAL')
  })

  test('select items: *, source.*, aliases with and without AS', () => {
    assert.deepEqual(q('SELECT *, e.*, a AS x, b y, e.c FROM events e').select, [
      { kind: 'SelectAllNode', source: null },
      { kind: 'SelectAllNode', source: 'E' },
      item(col('A'), 'X'),
      item(col('B'), 'Y'),
      item(col('C', 'E')),
    ])
  })

  test('source aliases with and without AS; a clause keyword after a source is not an alias', () => {
    assert.deepEqual(q('SELECT * FROM s AS a').from, rel('S', 'A'))
    assert.deepEqual(q('SELECT * FROM s a').from, rel('S', 'A'))
    assert.deepEqual(q('SELECT * FROM s EMIT CHANGES').from, rel('S'))
    assert.deepEqual(q('SELECT * FROM s PARTITION BY x').from, rel('S'))
    assert.deepEqual(q('SELECT * FROM s AS emit').from, rel('S', 'EMIT'))
  })

  test('joins: INNER, LEFT [OUTER], RIGHT [OUTER], FULL [OUTER], WITHIN, GRACE PERIOD, several in a row', () => {
    const r = q(`SELECT * FROM a
      JOIN b WITHIN 1 HOUR ON a.id = b.id
      INNER JOIN c ON a.id = c.id
      LEFT JOIN d WITHIN (10 SECONDS, 2 MINUTES) GRACE PERIOD 5 SECONDS ON a.id = d.id
      LEFT OUTER JOIN e ON a.id = e.id
      RIGHT JOIN f ON a.id = f.id
      RIGHT OUTER JOIN g ON a.id = g.id
      FULL JOIN h ON a.id = h.id
      FULL OUTER JOIN i ON a.id = i.id`)
    assert.deepEqual(
      r.joins.map((j: any) => [j.type, j.relation.name]),
      [
        ['INNER', 'B'],
        ['INNER', 'C'],
        ['LEFT', 'D'],
        ['LEFT', 'E'],
        ['RIGHT', 'F'],
        ['RIGHT', 'G'],
        ['FULL', 'H'],
        ['FULL', 'I'],
      ],
    )
    assert.deepEqual(r.joins[0].within, {
      kind: 'WithinNode',
      beforeMs: 3_600_000,
      afterMs: 3_600_000,
      gracePeriodMs: null,
    })
    assert.deepEqual(r.joins[2].within, { kind: 'WithinNode', beforeMs: 10_000, afterMs: 120_000, gracePeriodMs: 5000 })
    assert.equal(r.joins[1].within, null)
    assert.deepEqual(r.joins[0].on, cmp('=', col('ID', 'A'), col('ID', 'B')))
  })

  test('a LEFT JOIN of a stream and a table with aliases, IS NOT NULL and PARTITION BY', () => {
    const s = strip(
      one(`INSERT INTO events_by_line SELECT m.line AS line, e.id, e.value FROM machine_events e
        LEFT JOIN machine_lines m ON e.machine = m.machine WHERE m.line IS NOT NULL PARTITION BY m.line`),
    )
    assert.deepEqual(s.query.from, rel('MACHINE_EVENTS', 'E'))
    assert.deepEqual(s.query.joins, [
      {
        kind: 'JoinNode',
        type: 'LEFT',
        relation: rel('MACHINE_LINES', 'M'),
        within: null,
        on: cmp('=', col('MACHINE', 'E'), col('MACHINE', 'M')),
      },
    ])
    assert.deepEqual(s.query.filter, { kind: 'IsNullNode', operand: col('LINE', 'M'), negated: true })
    assert.deepEqual(s.query.partitionBy, [col('LINE', 'M')])
  })

  test('windows: TUMBLING, HOPPING, SESSION, with retention and grace period, in milliseconds', () => {
    const w = (sql: string) => q(`SELECT k, COUNT(*) FROM s ${sql} GROUP BY k`).window
    assert.deepEqual(w('WINDOW TUMBLING (SIZE 1 HOUR)'), {
      kind: 'WindowNode',
      type: 'TUMBLING',
      sizeMs: 3_600_000,
      advanceMs: null,
      retentionMs: null,
      gracePeriodMs: null,
    })
    assert.deepEqual(w('WINDOW TUMBLING (SIZE 5 MINUTES, RETENTION 7 DAYS, GRACE PERIOD 30 SECONDS)'), {
      kind: 'WindowNode',
      type: 'TUMBLING',
      sizeMs: 300_000,
      advanceMs: null,
      retentionMs: 604_800_000,
      gracePeriodMs: 30_000,
    })
    assert.deepEqual(w('WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS, GRACE PERIOD 1 MINUTE)'), {
      kind: 'WindowNode',
      type: 'HOPPING',
      sizeMs: 30_000,
      advanceMs: 10_000,
      retentionMs: null,
      gracePeriodMs: 60_000,
    })
    assert.deepEqual(w('WINDOW SESSION (500 MILLISECONDS, RETENTION 2 DAY)'), {
      kind: 'WindowNode',
      type: 'SESSION',
      sizeMs: 500,
      advanceMs: null,
      retentionMs: 172_800_000,
      gracePeriodMs: null,
    })
    assert.equal(w('window tumbling (size 1 millisecond)').sizeMs, 1)
    assert.equal(w('WINDOW TUMBLING (SIZE 2 SECOND)').sizeMs, 2000)
    assert.equal(w('WINDOW TUMBLING (SIZE 1 HOURS)').sizeMs, 3_600_000)
  })

  test('WHERE, GROUP BY several, HAVING, EMIT CHANGES, LIMIT, with COUNT(*) and window bounds', () => {
    const r = q(`SELECT line, machine, COUNT(*) AS n, WINDOWSTART AS ws FROM s WINDOW TUMBLING (SIZE 1 MINUTE)
      WHERE value != 'x' GROUP BY line, machine HAVING COUNT(*) > 2 EMIT CHANGES LIMIT 3`)
    assert.deepEqual(r.groupBy, [col('LINE'), col('MACHINE')])
    assert.deepEqual(r.select[2], item({ kind: 'FunctionCallNode', name: 'COUNT', args: [], star: true }, 'N'))
    assert.deepEqual(r.select[3], item(col('WINDOWSTART'), 'WS'))
    assert.deepEqual(r.having, cmp('>', { kind: 'FunctionCallNode', name: 'COUNT', args: [], star: true }, int(2)))
    assert.deepEqual(r.filter, cmp('<>', col('VALUE'), str('x')))
    assert.deepEqual([r.emit, r.limit], ['CHANGES', 3])
  })
})

describe('identifiers', () => {
  test('unquoted identifiers are upper-cased, quoted ones keep their case', () => {
    assert.deepEqual(expr('abc'), col('ABC'))
    assert.deepEqual(expr('`My Col`'), col('My Col'))
    assert.deepEqual(expr('"My Col"'), col('My Col'))
    assert.deepEqual(expr('`a``b`'), col('a`b'))
    assert.deepEqual(expr('"a""b"'), col('a"b'))
    assert.deepEqual(expr('s.`x`'), col('x', 'S'))
  })

  test('keywords are case-insensitive', () => {
    assert.deepEqual(
      strip(one('sElEcT a FrOm s wHeRe a iS nOt NuLl')),
      strip(one('SELECT a FROM s WHERE a IS NOT NULL')),
    )
  })

  test('non-reserved words are identifiers: KEY, TYPE, VALUE, ID, TIMESTAMP, DATE, SIZE, STREAM, ...', () => {
    const r = q(`SELECT key, type, value, id, tag, attributes, timestamp, date, time, size, stream, topic,
      emit AS e2, partition, window_start FROM s`)
    assert.deepEqual(
      r.select.map((i: any) => i.expression.name),
      [
        'KEY',
        'TYPE',
        'VALUE',
        'ID',
        'TAG',
        'ATTRIBUTES',
        'TIMESTAMP',
        'DATE',
        'TIME',
        'SIZE',
        'STREAM',
        'TOPIC',
        'EMIT',
        'PARTITION',
        'WINDOW_START',
      ],
    )
    const c = strip(one('CREATE STREAM s (key VARCHAR KEY, timestamp VARCHAR, type STRING, date INT)'))
    assert.deepEqual(
      c.elements.map((e: any) => [e.name, e.constraint]),
      [
        ['KEY', 'KEY'],
        ['TIMESTAMP', null],
        ['TYPE', null],
        ['DATE', null],
      ],
    )
    assert.deepEqual(expr('array[1]'), { kind: 'ArrayNode', elements: [int(1)] })
    assert.deepEqual(expr('`ARRAY`[1]'), { kind: 'SubscriptNode', base: col('ARRAY'), index: int(1) })
  })

  test('pseudo columns are column references', () => {
    for (const name of ['ROWTIME', 'ROWPARTITION', 'ROWOFFSET', 'WINDOWSTART', 'WINDOWEND']) {
      assert.deepEqual(expr(name.toLowerCase()), col(name))
    }
  })
})

describe('expressions', () => {
  test('precedence: OR < AND < NOT < comparison < || < + - < * / % < unary < postfix', () => {
    assert.deepEqual(expr('a OR b AND c'), or(col('A'), and(col('B'), col('C'))))
    assert.deepEqual(expr('a AND b OR c'), or(and(col('A'), col('B')), col('C')))
    assert.deepEqual(expr('NOT a = 1 AND b'), and(not(cmp('=', col('A'), int(1))), col('B')))
    assert.deepEqual(expr('NOT NOT a'), not(not(col('A'))))
    assert.deepEqual(expr('a + b * c'), arith('+', col('A'), arith('*', col('B'), col('C'))))
    assert.deepEqual(expr('a - b - c'), arith('-', arith('-', col('A'), col('B')), col('C')))
    assert.deepEqual(expr('a / b % c'), arith('%', arith('/', col('A'), col('B')), col('C')))
    assert.deepEqual(expr('(a + b) * c'), arith('*', arith('+', col('A'), col('B')), col('C')))
    assert.deepEqual(expr('-a * b'), arith('*', { kind: 'UnaryNode', op: '-', operand: col('A') }, col('B')))
    assert.deepEqual(expr("a || 'x' + b"), call('CONCAT', col('A'), arith('+', str('x'), col('B'))))
    assert.deepEqual(expr('a || b || c'), call('CONCAT', call('CONCAT', col('A'), col('B')), col('C')))
    assert.deepEqual(expr('a + 1 = b * 2'), cmp('=', arith('+', col('A'), int(1)), arith('*', col('B'), int(2))))
    assert.deepEqual(expr('-a[1]'), {
      kind: 'UnaryNode',
      op: '-',
      operand: { kind: 'SubscriptNode', base: col('A'), index: int(1) },
    })
  })

  test('comparisons', () => {
    for (const op of ['=', '<>', '<', '<=', '>', '>=']) assert.deepEqual(expr(`a ${op} 1`), cmp(op, col('A'), int(1)))
    assert.deepEqual(expr('a != 1'), cmp('<>', col('A'), int(1)))
    assert.deepEqual(expr('a IS DISTINCT FROM b'), cmp('IS DISTINCT FROM', col('A'), col('B')))
    assert.deepEqual(expr('a IS NOT DISTINCT FROM b'), cmp('IS NOT DISTINCT FROM', col('A'), col('B')))
  })

  test('IS [NOT] NULL, [NOT] IN, [NOT] LIKE [ESCAPE], [NOT] BETWEEN', () => {
    assert.deepEqual(expr('a IS NULL'), { kind: 'IsNullNode', operand: col('A'), negated: false })
    assert.deepEqual(expr("id IN ('avail', 'agent_avail')"), {
      kind: 'InNode',
      operand: col('ID'),
      list: [str('avail'), str('agent_avail')],
      negated: false,
    })
    assert.equal(expr('a NOT IN (1)').negated, true)
    assert.deepEqual(expr("a LIKE 'x%'"), {
      kind: 'LikeNode',
      operand: col('A'),
      pattern: str('x%'),
      escape: null,
      negated: false,
    })
    assert.deepEqual(expr("a NOT LIKE 'x!%%' ESCAPE '!'"), {
      kind: 'LikeNode',
      operand: col('A'),
      pattern: str('x!%%'),
      escape: '!',
      negated: true,
    })
    assert.deepEqual(
      expr('a BETWEEN 1 AND b + 2 AND c'),
      and(
        { kind: 'BetweenNode', operand: col('A'), low: int(1), high: arith('+', col('B'), int(2)), negated: false },
        col('C'),
      ),
    )
    assert.equal(expr('a NOT BETWEEN 1 AND 2').negated, true)
    assert.deepEqual(
      expr("(id IN ('avail', 'agent_avail') AND value != 'delete')"),
      and(
        { kind: 'InNode', operand: col('ID'), list: [str('avail'), str('agent_avail')], negated: false },
        cmp('<>', col('VALUE'), str('delete')),
      ),
    )
  })

  test('literals and their types', () => {
    assert.deepEqual(expr('NULL'), NULL)
    assert.deepEqual(expr('TRUE'), lit(true, type.BOOLEAN))
    assert.deepEqual(expr('false'), lit(false, type.BOOLEAN))
    assert.deepEqual(expr('2147483647'), lit(2147483647, type.INTEGER))
    assert.deepEqual(expr('2147483648'), lit(2147483648, type.BIGINT))
    assert.deepEqual(expr('-2147483648'), lit(-2147483648, type.INTEGER))
    assert.deepEqual(expr('-2147483649'), lit(-2147483649, type.BIGINT))
    assert.deepEqual(expr('9223372036854775807'), lit(2 ** 63, type.BIGINT))
    assert.deepEqual(expr('007'), lit(7, type.INTEGER))
    assert.deepEqual(expr('1.5'), lit(1.5, type.decimal(2, 1)))
    assert.deepEqual(expr('0.05'), lit(0.05, type.decimal(2, 2)))
    assert.deepEqual(expr('10.50'), lit(10.5, type.decimal(4, 2)))
    assert.deepEqual(expr('.5'), lit(0.5, type.decimal(1, 1)))
    assert.deepEqual(expr('3.'), lit(3, type.decimal(1, 0)))
    assert.deepEqual(expr('1.5E3'), lit(1500, type.DOUBLE))
    assert.deepEqual(expr('2e-1'), lit(0.2, type.DOUBLE))
    assert.deepEqual(expr("'it''s'"), str("it's"))
    assert.deepEqual(expr("''"), str(''))
    assert.deepEqual(expr("'two\nlines'"), str('two\nlines'))
  })

  test('a sign before a number is part of the literal; before anything else it is a unary operator', () => {
    assert.deepEqual(expr('-1'), int(-1))
    assert.deepEqual(expr('- 1.5'), lit(-1.5, type.decimal(2, 1)))
    assert.deepEqual(expr('+2'), int(2))
    assert.deepEqual(expr('-(1)'), { kind: 'UnaryNode', op: '-', operand: int(1) })
    assert.deepEqual(expr('- -1'), { kind: 'UnaryNode', op: '-', operand: int(-1) })
    assert.deepEqual(expr('a - 1'), arith('-', col('A'), int(1)))
    assert.deepEqual(expr('+a'), { kind: 'UnaryNode', op: '+', operand: col('A') })
  })

  test('ARRAY, MAP and STRUCT constructors', () => {
    assert.deepEqual(expr('ARRAY[1, 2]'), { kind: 'ArrayNode', elements: [int(1), int(2)] })
    assert.deepEqual(expr('ARRAY[]'), { kind: 'ArrayNode', elements: [] })
    assert.deepEqual(expr("MAP('a' := 1, 'b' := 2)"), {
      kind: 'MapNode',
      entries: [
        { key: str('a'), value: int(1) },
        { key: str('b'), value: int(2) },
      ],
    })
    assert.deepEqual(expr('STRUCT(x := 1, `y` := a)'), {
      kind: 'StructNode',
      fields: [
        { name: 'X', value: int(1) },
        { name: 'y', value: col('A') },
      ],
    })
  })

  test('struct fields and subscripts', () => {
    assert.deepEqual(expr('a->b->c'), {
      kind: 'DereferenceNode',
      base: { kind: 'DereferenceNode', base: col('A'), field: 'B' },
      field: 'C',
    })
    assert.deepEqual(expr("f(x)[1]->y['k']"), {
      kind: 'SubscriptNode',
      base: {
        kind: 'DereferenceNode',
        base: { kind: 'SubscriptNode', base: call('F', col('X')), index: int(1) },
        field: 'Y',
      },
      index: str('k'),
    })
  })

  test('function calls', () => {
    assert.deepEqual(expr('now()'), call('NOW'))
    assert.deepEqual(expr('count(*)'), { kind: 'FunctionCallNode', name: 'COUNT', args: [], star: true })
    assert.deepEqual(
      expr("substring(a, 1, 2) || 'x'"),
      call('CONCAT', call('SUBSTRING', col('A'), int(1), int(2)), str('x')),
    )
  })

  test('CASE, searched and simple, ELSE optional', () => {
    assert.deepEqual(expr("CASE WHEN a > 1 THEN 'big' WHEN a > 0 THEN 'small' ELSE 'none' END"), {
      kind: 'CaseNode',
      operand: null,
      branches: [branch(cmp('>', col('A'), int(1)), str('big')), branch(cmp('>', col('A'), int(0)), str('small'))],
      otherwise: str('none'),
    })
    assert.deepEqual(expr("CASE state WHEN 1 THEN 'on' END"), {
      kind: 'CaseNode',
      operand: col('STATE'),
      branches: [branch(int(1), str('on'))],
      otherwise: null,
    })
  })

  test('CAST to every kind of type', () => {
    assert.deepEqual(expr('CAST(a AS DECIMAL(10, 3))'), {
      kind: 'CastNode',
      operand: col('A'),
      type: type.decimal(10, 3),
    })
    assert.deepEqual(expr('CAST(a AS ARRAY<STRUCT<x VARCHAR>>)').type, {
      kind: 'ARRAY',
      element: { kind: 'STRUCT', fields: [{ name: 'X', type: type.STRING }] },
    })
    assert.deepEqual(expr('CAST(NULL AS VARCHAR)'), { kind: 'CastNode', operand: NULL, type: type.STRING })
  })

  test('lambdas as function arguments', () => {
    assert.deepEqual(
      expr('TRANSFORM(xs, x => x + 1)'),
      call('TRANSFORM', col('XS'), {
        kind: 'LambdaNode',
        params: ['X'],
        body: arith('+', col('X'), int(1)),
      }),
    )
    assert.deepEqual(expr('REDUCE(xs, 0, (s, x) => s + x)').args[2], {
      kind: 'LambdaNode',
      params: ['S', 'X'],
      body: arith('+', col('S'), col('X')),
    })
    assert.deepEqual(expr('FILTER(m, (k, v) => v > 0)').args[1].params, ['K', 'V'])
    // A parenthesised expression is not a lambda.
    assert.deepEqual(expr('f((a), (b))').args, [col('A'), col('B')])
    assertSqlError(() => parseExpression('f((a, b))'), {
      code: 'OFA_SQL_PARSE',
      line: 1,
      column: 5,
      message: "line 1:5: expected ')' or an operator but found ','",
    })
  })

  test('positions: where each node starts', () => {
    const e = parseExpression('a +\n  f(b, -2)') as any
    assert.deepEqual(e.where, { line: 1, column: 1 })
    assert.deepEqual(e.right.where, { line: 2, column: 3 })
    assert.deepEqual(e.right.args[1].where, { line: 2, column: 8 })
  })
})

describe('errors', () => {
  const err = (sql: string, line: number, column: number, message: string) =>
    assertSqlError(() => parseStatements(sql), {
      code: 'OFA_SQL_PARSE',
      line,
      column,
      message: `line ${line}:${column}: ${message}`,
    })

  test('a missing FROM source', () => {
    err('SELECT * FROM;', 1, 14, "expected a stream or table name but found ';'")
    err('SELECT * FROM WHERE a = 1', 1, 15, "expected a stream or table name but found 'WHERE'")
  })

  test('an unclosed parenthesis', () => {
    err('SELECT a,\n  b\nFROM s WHERE f(a FROM t;', 3, 18, "expected one of ')' ',' but found 'FROM'")
    err('SELECT (a + b FROM x', 1, 15, "expected ')' but found 'FROM'")
    assertSqlError(() => parseExpression('(a'), {
      code: 'OFA_SQL_PARSE',
      line: 1,
      column: 3,
      message: "line 1:3: expected ')' but found the end of the input",
    })
  })

  test('SELECT * FORM x', () => {
    err('SELECT * FORM x', 1, 10, "expected one of 'FROM' ',' but found 'FORM'")
  })

  test('a bad window unit', () => {
    err(
      'SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 5 FORTNIGHTS) GROUP BY k',
      1,
      51,
      "expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS) but found 'FORTNIGHTS'",
    )
    err(
      'SELECT * FROM s WINDOW SLIDING (SIZE 1 SECOND)',
      1,
      24,
      "expected one of 'TUMBLING' 'HOPPING' 'SESSION' but found 'SLIDING'",
    )
  })

  test('an unterminated string on line 2', () => {
    err("SELECT * FROM s\nWHERE a = 'abc;\n", 2, 11, "unterminated string: the closing ' is missing")
  })

  test('unterminated comments and quoted names, unknown characters, digits starting a name', () => {
    err('SELECT * FROM s /* no end', 1, 17, 'unterminated comment: the closing */ is missing')
    err('SELECT `abc FROM s', 1, 8, 'unterminated quoted identifier: the closing ` is missing')
    err('SELECT "abc FROM s', 1, 8, 'unterminated quoted identifier: the closing " is missing')
    err('SELECT a # b FROM s', 1, 10, "unexpected character '#'")
    err('SELECT a\u0000 FROM s', 1, 9, 'unexpected character U+0000')
    err('SELECT 1abc FROM s', 1, 8, "an identifier cannot start with a digit: '1abc'")
    err('SELECT `` FROM s', 1, 8, 'an identifier cannot be empty')
  })

  test('typical mistakes', () => {
    err(
      'SELEC * FROM s',
      1,
      1,
      "expected a statement (SELECT, CREATE, INSERT, DROP, SHOW, LIST, DESCRIBE, EXPLAIN, TERMINATE, SET, UNSET) but found 'SELEC'",
    )
    err('SELECT FROM s', 1, 8, "expected '*' or an expression but found 'FROM'")
    err('SELECT * FROM s x y', 1, 19, "expected the end of the statement (';') but found 'y'")
    err('SELECT 1 FROM s SELECT 2 FROM t', 1, 17, "expected the end of the statement (';') but found 'SELECT'")
    err('SELECT * FROM s WHERE a = b = c', 1, 29, "expected the end of the statement (';') but found '='")
    err('SELECT * FROM s WHERE a = NOT b', 1, 27, "expected an expression but found 'NOT'")
    err('CREATE STREAM s (a VARCHAR KEY b INT)', 1, 32, "expected one of ')' ',' but found 'b'")
    err('CREATE STREAM s (a FOO)', 1, 20, "expected a type but found 'FOO'")
    err('CREATE STREAM s (a DECIMAL(2, 3))', 1, 31, 'a DECIMAL scale must not exceed its precision')
    err('SELECT CASE WHEN a THEN 1 FROM s', 1, 27, "expected 'END' but found 'FROM'")
    err(
      'SHOW STREAM',
      1,
      6,
      "expected one of 'STREAMS' 'TABLES' 'QUERIES' 'TOPICS' 'PROPERTIES' 'FUNCTIONS' but found 'STREAM'",
    )
    err('DROP STREAM', 1, 12, 'expected a stream or table name but found the end of the input')
    err("SET auto = 'x'", 1, 5, "expected a string but found 'auto'")
    err(
      'SELECT 99999999999999999999 FROM s',
      1,
      8,
      "integer out of range: '99999999999999999999' (BIGINT holds up to 9223372036854775807)",
    )
    err('SELECT 1E999 FROM s', 1, 8, "number out of range for DOUBLE: '1E999'")
    err('SELECT * FROM s LIMIT 3000000000', 1, 23, 'LIMIT must be at most 2147483647: 3000000000')
    err("SELECT * FROM s WHERE a LIKE 'x' ESCAPE 'ab'", 1, 41, 'ESCAPE takes one character')
    err('EXPLAIN CREATE STREAM s (a INT)', 1, 1, 'EXPLAIN takes a CREATE ... AS SELECT, not a CREATE')
    err('CREATE STREAM s (a INT) AS SELECT * FROM t', 1, 25, "expected the end of the statement (';') but found 'AS'")
    err('SELECT * FROM s;\nSELECT * FROM;', 2, 14, "expected a stream or table name but found ';'")
  })

  test('the file is named in where', () => {
    assertSqlError(() => parseStatements('\n\nSELECT * FROM;', { file: 'setup.sql' }), {
      code: 'OFA_SQL_PARSE',
      file: 'setup.sql',
      line: 3,
      column: 14,
    })
  })
})

describe('limits', () => {
  const sized = (bytes: number) => {
    // 'é' takes two bytes: the limit counts UTF-8 bytes, not characters.
    const head = 'SELECT * FROM s -- '
    const body = 'é'.repeat(Math.floor((bytes - head.length) / 2))
    const sql = head + body + ' '.repeat(bytes - head.length - body.length * 2)
    assert.equal(Buffer.byteLength(sql), bytes)
    return sql
  }

  test(`a text of ${MAX_SQL_BYTES} bytes parses, one byte more is OFA_SQL_LIMIT`, () => {
    assert.equal(MAX_SQL_BYTES, 1_048_576)
    assert.equal(parseStatements(sized(MAX_SQL_BYTES)).length, 1)
    assertSqlError(() => parseStatements(sized(MAX_SQL_BYTES + 1)), {
      code: 'OFA_SQL_LIMIT',
      line: 1,
      column: 1,
      message: 'SQL text of 1048577 bytes: at most 1048576 (1 MiB) are accepted',
    })
    assertSqlError(() => parseExpression('1'.repeat(2 * MAX_SQL_BYTES)), { code: 'OFA_SQL_LIMIT', line: 1, column: 1 })
  })

  test(`expressions nested ${MAX_EXPRESSION_DEPTH} deep parse, one more is OFA_SQL_LIMIT`, () => {
    const n = MAX_EXPRESSION_DEPTH
    assert.equal(n, 128)
    // Each shape with the column of the token that opens level 129.
    const shapes: [string, (k: number) => string, number][] = [
      ['parentheses', (k) => `${'('.repeat(k)}1${')'.repeat(k)}`, 129],
      ['function calls', (k) => `${'f('.repeat(k)}1${')'.repeat(k)}`, 258],
      ['NOT', (k) => `${'NOT '.repeat(k)}a`, 513],
      ['unary minus', (k) => `${'- '.repeat(k)}a`, 257],
      ['operators', (k) => `a${' + a'.repeat(k)}`, 515],
      ['CASE', (k) => `${'CASE WHEN '.repeat(k)}a${' THEN 1 END'.repeat(k)}`, 1281],
      ['subscripts', (k) => `a${'[1]'.repeat(k)}`, 386],
      // CAST is one level, each ARRAY one more.
      ['types', (k) => `CAST(a AS ${'ARRAY<'.repeat(k - 1)}INT${'>'.repeat(k - 1)})`, 773],
    ]
    for (const [name, make, column] of shapes) {
      assert.doesNotThrow(() => parseExpression(make(n)), name)
      assertSqlError(() => parseExpression(make(n + 1)), {
        code: 'OFA_SQL_LIMIT',
        line: 1,
        column,
        message: `line 1:${column}: expression nested more than 128 levels deep`,
      })
    }
  })

  test('a depth far past the limit is OFA_SQL_LIMIT, never a stack overflow', () => {
    for (const sql of [
      `${'('.repeat(200_000)}1`,
      `${'f('.repeat(100_000)}`,
      `${'NOT '.repeat(100_000)}a`,
      `a${' OR a'.repeat(100_000)}`,
      `CAST(a AS ${'STRUCT<a '.repeat(50_000)}`,
    ]) {
      assert.throws(
        () => parseExpression(sql),
        (e: any) => e.code === 'OFA_SQL_LIMIT' && /nested more than 128/.test(e.message),
      )
    }
  })
})

describe('docs/reference/sql.md', () => {
  const page = fs.readFileSync(new URL('../../../docs/reference/sql.md', import.meta.url), 'utf8')
  const blocks = (lang: string) =>
    [...page.matchAll(new RegExp(`\`\`\`${lang}\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] as string)

  test('every sql example parses', () => {
    const examples = blocks('sql')
    assert.ok(examples.length >= 3)
    for (const sql of examples) assert.ok(parseStatements(sql).length > 0, sql)
  })

  test('the error example gives the message shown', () => {
    const example = blocks('text').find((b) => b.includes('OFA_SQL_PARSE'))
    assert.ok(example)
    const [sql, shown] = example.split('\n\n') as [string, string]
    const [code, ...message] = shown.trim().split(' ')
    assertSqlError(() => parseStatements(sql), {
      code: code as string,
      line: 3,
      column: 35,
      message: message.join(' '),
    })
  })
})
