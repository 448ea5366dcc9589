// The ksqlDB-compatible routes (ksql-routes.ts) over a fake engine: every route through app.inject(), the streaming
// ones also over real sockets on 127.0.0.1 — HTTP/1.1 with its chunked framing read chunk by chunk, and HTTP/2
// over cleartext on the same port (h2c.ts). Every answer is checked against the route's schema in the OpenAPI
// document, and every element of a streamed answer against its component schema.
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import net from 'node:net'
import { type TestContext, test } from 'node:test'
import { MAX_SQL_BYTES } from '@openfactory/sql'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createServeApp, KSQL_API_DEFAULTS, type ServeAppOptions } from '../../src/index.ts'
import { createFakeSql, type FakeQuery, MACHINES, STREAMS, TYPED } from '../helpers/fake-sql.ts'
import { type CheckedResponse, inject, type ResponseChecker, responseChecker } from '../helpers/http.ts'
import { createTestLog, createTestServing } from '../helpers/log.ts'

async function setup(t: TestContext, opts: Partial<ServeAppOptions> = {}) {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const sql = createFakeSql()
  const app = await createServeApp({ eventLog: log, serving, sql, ...opts })
  t.after(() => app.close())
  const checker = await responseChecker(app)
  return { app, sql, checker }
}

async function listen(t: TestContext, app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => app.close())
  return (app.server.address() as net.AddressInfo).port
}

const post = (app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) =>
  inject(app, {
    method: 'POST',
    url,
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    headers: { 'content-type': 'application/json', ...headers },
  } satisfies InjectOptions)

interface KsqlErrorBody {
  '@type': string
  error_code: number
  message: string
  statementText?: string
  entities?: unknown[]
}

function assertKsqlError(r: CheckedResponse, status: number, code: number, type = 'generic_error'): KsqlErrorBody {
  assert.equal(r.status, status, r.body)
  assert.match(String(r.headers['content-type']), /^application\/json/)
  const body = r.json() as KsqlErrorBody
  assert.equal(body['@type'], type)
  assert.equal(body.error_code, code)
  assert.equal(typeof body.message, 'string')
  return body
}

/** The lines of a /query answer, each checked (one element, then `,` or the closing `]`), and its elements. */
function queryElements(checker: ResponseChecker, body: string): unknown[] {
  assert.ok(body.endsWith(']\n'), `the array is closed: ${JSON.stringify(body.slice(-80))}`)
  const lines = body.slice(0, -1).split('\n')
  assert.ok(lines[0]?.startsWith('[{"header":'), lines[0])
  lines.forEach((line, i) => {
    const last = i === lines.length - 1
    assert.ok(line.endsWith(last ? ']' : ','), `line ${i} ends with ${last ? ']' : ','}: ${line}`)
    const element = JSON.parse(line.slice(i === 0 ? 1 : 0, -1))
    checker.checkComponent('KsqlStreamedRow', element)
  })
  const all = JSON.parse(body) as unknown[]
  assert.equal(all.length, lines.length)
  return all
}

/** The lines of a delimited /query-stream answer: the header (checked), then the rows. */
function delimited(checker: ResponseChecker, body: string): { header: any; rows: unknown[] } {
  assert.ok(body.endsWith('\n'))
  const [first, ...rest] = body.slice(0, -1).split('\n')
  const header = JSON.parse(first as string)
  checker.checkComponent('KsqlQueryHeader', header)
  return { header, rows: rest.map((l) => JSON.parse(l)) }
}

/** Waits (bounded) for a query to be closed. */
async function closed(q: FakeQuery | undefined, what = 'the query closed'): Promise<void> {
  assert.ok(q, what)
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    q.closed,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5000)
    }),
  ]).finally(() => clearTimeout(timer))
}

const SCHEMA = '`ID` STRING, `TEMP` DOUBLE, `TAGS` ARRAY<STRING>, `SEEN` MAP<STRING, BIGINT>'
const rowsOf = (rows: readonly (readonly unknown[])[]) => rows.map((columns) => ({ row: { columns } }))

// ---------------------------------------------------------------------------------------------------------------
// POST /ksql

test('POST /ksql runs statements one by one and answers their entities', async (t) => {
  const { app, sql } = await setup(t)
  let r = await post(app, '/ksql', { ksql: 'SHOW STREAMS;', streamsProperties: {} })
  assert.equal(r.status, 200, r.body)
  assert.match(String(r.headers['content-type']), /^application\/json/)
  assert.deepEqual(r.json(), [{ '@type': 'streams', statementText: 'SHOW STREAMS;', streams: STREAMS, warnings: [] }])

  // ksqlDB's media types, asked for and sent; several statements, in order; properties handed to each.
  const text = "CREATE STREAM s1 (id INT) WITH (kafka_topic='a;b', value_format='JSON');\n-- a comment;\nLIST TABLES;"
  r = await post(
    app,
    '/ksql',
    { ksql: text, streamsProperties: { 'auto.offset.reset': 'earliest', n: 3, b: true } },
    { 'content-type': 'application/vnd.ksql.v1+json; charset=utf-8', accept: 'application/vnd.ksql.v1+json' },
  )
  assert.equal(r.status, 200, r.body)
  assert.match(String(r.headers['content-type']), /^application\/vnd\.ksql\.v1\+json/)
  const entities = r.json() as { '@type': string; statementText: string; commandStatus?: { message: string } }[]
  assert.deepEqual(
    entities.map((e) => e['@type']),
    ['currentStatus', 'tables'],
  )
  assert.equal(entities[0]?.statementText, "CREATE STREAM s1 (id INT) WITH (kafka_topic='a;b', value_format='JSON');")
  assert.match(entities[0]?.commandStatus?.message ?? '', /"auto.offset.reset":"earliest","n":3,"b":true/)
  assert.deepEqual(sql.executed.slice(1), [entities[0]?.statementText, 'LIST TABLES;'])

  // Text that is only a comment: no statement, nothing run.
  r = await post(app, '/ksql', { ksql: '-- nothing' })
  assert.equal(r.status, 200)
  assert.deepEqual(r.json(), [])
})

test('POST /ksql errors are ksqlDB statement errors with the statements run before', async (t) => {
  const { app, sql } = await setup(t)
  // A text that does not parse runs nothing (40001, the whole text).
  let body = assertKsqlError(
    await post(app, '/ksql', { ksql: 'SHOW STREAMS; SELEC x;' }),
    400,
    40001,
    'statement_error',
  )
  assert.match(body.message, /^line 1:15: /)
  assert.equal(body.statementText, 'SHOW STREAMS; SELEC x;')
  assert.deepEqual(body.entities, [])
  // A SELECT anywhere: refused before anything runs (40002), as ksqlDB does.
  body = assertKsqlError(
    await post(app, '/ksql', { ksql: 'SHOW STREAMS;\nSELECT * FROM machines;' }),
    400,
    40002,
    'statement_error',
  )
  assert.equal(body.statementText, 'SELECT * FROM machines;')
  assert.deepEqual(sql.executed, [])
  // The second statement fails: the first took effect and is in `entities`; the position is the request's.
  body = assertKsqlError(
    await post(app, '/ksql', { ksql: 'SHOW STREAMS;\n  DESCRIBE ghost;\nSHOW TABLES;' }),
    400,
    40001,
    'statement_error',
  )
  assert.equal(body.statementText, 'DESCRIBE ghost;')
  assert.equal(body.message, 'line 2:12: no stream or table GHOST')
  assert.deepEqual(
    (body.entities as { '@type': string }[]).map((e) => e['@type']),
    ['streams'],
  )
  assert.deepEqual(sql.executed, ['SHOW STREAMS;'])
  // A bug of the engine: 500, no detail.
  body = assertKsqlError(await post(app, '/ksql', { ksql: 'DROP STREAM explode;' }), 500, 50000)
  assert.equal(body.message, 'internal error; see the server log')
})

test('POST /ksql refuses bodies that are not its request', async (t) => {
  const { app } = await setup(t)
  let body = assertKsqlError(await post(app, '/ksql', { statements: 'SHOW STREAMS;' }), 400, 40000)
  assert.match(body.message, /body\.ksql/)
  assertKsqlError(await post(app, '/ksql', { ksql: 'SHOW STREAMS;', streamsProperties: { a: {} } }), 400, 40000)
  body = assertKsqlError(await post(app, '/ksql', '{"ksql": '), 400, 40000)
  assert.match(body.message, /not valid JSON/)
  body = assertKsqlError(await post(app, '/ksql', { ksql: 'SHOW STREAMS;', sessionVariables: { a: 1 } }), 400, 40000)
  assert.match(body.message, /sessionVariables/)
  // What the guards refuse before the route runs keeps our own shape: content type, Origin, Host.
  let r = await post(app, '/ksql', { ksql: 'SHOW STREAMS;' }, { 'content-type': 'text/plain' })
  assert.equal(r.status, 415)
  assert.equal(r.json().error.code, 'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE')
  r = await post(app, '/ksql', { ksql: 'SHOW STREAMS;' }, { 'content-type': 'application/x-www-form-urlencoded' })
  assert.equal(r.status, 415)
  r = await post(app, '/ksql', { ksql: 'SHOW STREAMS;' }, { origin: 'https://evil.example' })
  assert.equal(r.status, 403)
  assert.equal(r.json().error.code, 'OFA_SERVE_ORIGIN_NOT_ALLOWED')
  r = await post(app, '/ksql', { ksql: 'SHOW STREAMS;' }, { host: 'evil.example' })
  assert.equal(r.status, 403)
  assert.equal(r.json().error.code, 'OFA_SERVE_HOST_NOT_ALLOWED')
  // A POST without a content type: only /close-query takes one (what ksql-python-ng sends).
  r = await inject(app, { method: 'POST', url: '/ksql', payload: '{"ksql":"SHOW STREAMS;"}' })
  assert.equal(r.status, 415)
})

test('limits: statement text and body, at the limit and one past', async (t) => {
  assert.equal(KSQL_API_DEFAULTS.maxStatementBytes, MAX_SQL_BYTES, "the route's default is the engine's limit")
  const { app, sql } = await setup(t, { maxBodyBytes: 300, ksqlApi: { maxStatementBytes: 100 } })
  // 100 bytes of UTF-8 (a 2-byte character counts 2).
  const at = `SHOW STREAMS; -- x${'é'.repeat(41)}`
  assert.equal(Buffer.byteLength(at), 100)
  assert.equal((await post(app, '/ksql', { ksql: at })).status, 200)
  const body = assertKsqlError(await post(app, '/ksql', { ksql: `${at}x` }), 400, 40000)
  assert.match(body.message, /101 bytes of UTF-8, more than the limit of 100/)
  assertKsqlError(await post(app, '/query', { ksql: `${at}x` }), 400, 40000)
  assertKsqlError(await post(app, '/query-stream', { sql: `${at}x` }), 400, 40000)
  assert.deepEqual(sql.executed, ['SHOW STREAMS;'])
  assert.equal(sql.queries.length, 0)
  // The body: the app's limit.
  const padded = (n: number) => {
    const base = JSON.stringify({ ksql: 'SHOW STREAMS;', pad: '' })
    return JSON.stringify({ ksql: 'SHOW STREAMS;', pad: 'x'.repeat(n - Buffer.byteLength(base)) })
  }
  assert.equal((await post(app, '/ksql', padded(300))).status, 200)
  const big = assertKsqlError(await post(app, '/ksql', padded(301)), 413, 41300)
  assert.match(big.message, /larger than 300 bytes/)
  // Options out of range are refused when the app is made.
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  for (const ksqlApi of [{ maxPushQueries: 0 }, { maxStatementBytes: MAX_SQL_BYTES + 1 }]) {
    await assert.rejects(createServeApp({ eventLog: log, serving, sql: createFakeSql(), ksqlApi }), {
      code: 'OFA_CONFIG_VALUE',
    })
  }
})

// ---------------------------------------------------------------------------------------------------------------
// POST /query

test('POST /query answers a pull query as one JSON array, one element a line', async (t) => {
  const { app, sql, checker } = await setup(t)
  let r = await post(app, '/query', { ksql: 'SELECT * FROM machines;', streamsProperties: { a: 'b' } })
  assert.equal(r.status, 200, r.body)
  assert.match(String(r.headers['content-type']), /^application\/json/)
  const header = { header: { queryId: sql.queries[0]?.queryId, schema: SCHEMA } }
  assert.deepEqual(queryElements(checker, r.body), [header, ...rowsOf(MACHINES.wire)])
  assert.deepEqual(sql.queries[0]?.properties, { a: 'b' })
  assert.equal(sql.queries[0]?.isClosed, true)

  // One row; none; ksqlDB's media type.
  r = await post(app, '/query', { ksql: "SELECT * FROM machines WHERE ID = 'm-2';" })
  assert.deepEqual(queryElements(checker, r.body).slice(1), rowsOf([MACHINES.wire[1] as unknown[]]))
  r = await post(
    app,
    '/query',
    { ksql: "SELECT * FROM machines WHERE ID = 'none';" },
    { 'content-type': 'application/vnd.ksql.v1+json', accept: 'application/vnd.ksql.v1+json' },
  )
  assert.match(String(r.headers['content-type']), /^application\/vnd\.ksql\.v1\+json/)
  assert.equal(r.body, `[${JSON.stringify({ header: { queryId: sql.queries[2]?.queryId, schema: SCHEMA } })}]\n`)
  queryElements(checker, r.body)

  // A failure after the header: the array ends with an errorMessage.
  r = await post(app, '/query', { ksql: 'SELECT * FROM machines_broken;' })
  const elements = queryElements(checker, r.body)
  assert.deepEqual(elements.slice(1, 2), rowsOf([MACHINES.wire[0] as unknown[]]))
  assert.deepEqual(elements[2], {
    errorMessage: {
      '@type': 'statement_error',
      error_code: 40001,
      message: 'a value of TEMP is not a DOUBLE',
      statementText: 'SELECT * FROM machines_broken;',
      entities: [],
    },
  })

  // Refused before any row: ordinary 400s.
  let body = assertKsqlError(await post(app, '/query', { ksql: 'SELECT * FROM ghost;' }), 400, 40001, 'statement_error')
  assert.equal(body.message, 'line 1:15: no stream or table GHOST')
  body = assertKsqlError(await post(app, '/query', { ksql: 'SHOW STREAMS;' }), 400, 40001, 'statement_error')
  assertKsqlError(await post(app, '/query', { sql: 'SELECT 1;' }), 400, 40000)
})

test('rows carry values as ksqlDB writes them: temporal types as text, BYTES as base64, MAP and STRUCT as objects', async (t) => {
  const { app, checker } = await setup(t)
  let r = await post(app, '/query-stream', { sql: 'SELECT * FROM typed;' })
  const { header, rows } = delimited(checker, r.body)
  assert.deepEqual(header.columnTypes, TYPED.columnTypes)
  assert.deepEqual(rows, TYPED.wire)
  r = await post(app, '/query', { ksql: 'SELECT * FROM typed;' })
  assert.deepEqual(queryElements(checker, r.body).slice(1), rowsOf(TYPED.wire))
})

test('POST /query streams a push query until its LIMIT, then "Limit Reached"', async (t) => {
  const { app, sql, checker } = await setup(t)
  const answer = post(app, '/query', { ksql: 'SELECT * FROM readings EMIT CHANGES LIMIT 2;' })
  const q = await sql.started('LIMIT 2')
  q.feed(['m-1', 1.5])
  q.feed(['m-2', 2.5])
  const r = await answer
  assert.equal(r.status, 200)
  assert.deepEqual(queryElements(checker, r.body), [
    { header: { queryId: q.queryId, schema: '`ASSET` STRING, `VALUE` DOUBLE' } },
    ...rowsOf([
      ['m-1', 1.5],
      ['m-2', 2.5],
    ]),
    { finalMessage: 'Limit Reached' },
  ])
  assert.equal(q.isClosed, true)
})

// ---------------------------------------------------------------------------------------------------------------
// POST /query-stream, POST /close-query

test('POST /query-stream: delimited by default, one JSON array with Accept: application/json', async (t) => {
  const { app, sql, checker } = await setup(t)
  for (const accept of [undefined, 'application/vnd.ksqlapi.delimited.v1', '*/*']) {
    const r = await post(
      app,
      '/query-stream',
      { sql: 'SELECT * FROM machines;', properties: { x: 1 } },
      accept ? { accept } : {},
    )
    assert.equal(r.status, 200, r.body)
    assert.equal(r.headers['content-type'], 'application/vnd.ksqlapi.delimited.v1')
    const { header, rows } = delimited(checker, r.body)
    assert.deepEqual(header, {
      queryId: sql.queries.at(-1)?.queryId,
      columnNames: MACHINES.columnNames,
      columnTypes: MACHINES.columnTypes,
    })
    assert.deepEqual(rows, MACHINES.wire)
    assert.deepEqual(sql.queries.at(-1)?.properties, { x: 1 })
  }
  let r = await post(app, '/query-stream', { sql: 'SELECT * FROM machines;' }, { accept: 'application/json' })
  assert.match(String(r.headers['content-type']), /^application\/json/)
  const all = r.json() as unknown[]
  checker.checkComponent('KsqlQueryHeader', all[0])
  assert.deepEqual(all.slice(1), MACHINES.wire)
  // `streamsProperties` is taken when `properties` is absent (the docs' curl example sends it).
  await post(app, '/query-stream', { sql: 'SELECT * FROM machines;', streamsProperties: { y: 'z' } })
  assert.deepEqual(sql.queries.at(-1)?.properties, { y: 'z' })
  // A failure after the header: a KsqlError line ends the answer (in JSON: its last element).
  r = await post(app, '/query-stream', { sql: 'SELECT * FROM broken;' })
  const { rows } = delimited(checker, r.body)
  assert.deepEqual(rows[0], MACHINES.wire[0])
  checker.checkComponent('KsqlError', rows[1])
  r = await post(app, '/query-stream', { sql: 'SELECT * FROM broken;' }, { accept: 'application/json' })
  checker.checkComponent('KsqlError', (r.json() as unknown[]).at(-1))
  assertKsqlError(await post(app, '/query-stream', { sql: 'SELECT * FROM ghost;' }), 400, 40001, 'statement_error')
  assertKsqlError(await post(app, '/query-stream', { ksql: 'SELECT 1;' }), 400, 40000)
})

test('POST /query-stream push with LIMIT; /close-query ends one (also sent without a content type)', async (t) => {
  const { app, sql, checker } = await setup(t)
  const answer = post(app, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES LIMIT 1;' })
  const q = await sql.started('LIMIT 1')
  q.feed(['m-1', 1])
  const { header, rows } = delimited(checker, (await answer).body)
  assert.equal(header.queryId, q.queryId)
  assert.deepEqual(rows, [['m-1', 1]])

  const open = post(
    app,
    '/query-stream',
    { sql: 'SELECT * FROM readings EMIT CHANGES;' },
    { accept: 'application/json' },
  )
  const q2 = await sql.started('EMIT CHANGES;')
  q2.feed(['m-2', 2])
  // ksql-python-ng's close_query: a JSON body and no content type.
  const r = await inject(app, { method: 'POST', url: '/close-query', payload: JSON.stringify({ queryId: q2.queryId }) })
  assert.equal(r.status, 200)
  assert.equal(r.body, '')
  const all = (await open).json() as unknown[]
  assert.deepEqual(all.slice(1), [['m-2', 2]])
  await closed(q2)
  // Gone already, or never there.
  assertKsqlError(await post(app, '/close-query', { queryId: q2.queryId }), 400, 40000)
  assertKsqlError(await post(app, '/close-query', {}), 400, 40000)
})

test('push queries per app: at the cap, one more is a 429 (42900); a closed one frees its place', async (t) => {
  const { app, sql } = await setup(t, { ksqlApi: { maxPushQueries: 2 } })
  const first = post(app, '/query', { ksql: 'SELECT * FROM readings EMIT CHANGES LIMIT 1; -- 1' })
  const q1 = await sql.started('-- 1')
  const second = post(app, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES; -- 2' })
  const q2 = await sql.started('-- 2')
  const body = assertKsqlError(
    await post(app, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES; -- 3' }),
    429,
    42900,
  )
  assert.match(body.message, /2 push queries/)
  assert.equal((await sql.started('-- 3')).isClosed, true, 'the query refused is closed')
  // Pull queries do not count.
  assert.equal((await post(app, '/query', { ksql: 'SELECT * FROM machines;' })).status, 200)
  q1.feed(['a', 1])
  await first
  const third = post(app, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES LIMIT 1; -- 4' })
  ;(await sql.started('-- 4')).feed(['b', 2])
  assert.equal((await third).status, 200)
  await post(app, '/close-query', { queryId: q2.queryId })
  await second
})

// ---------------------------------------------------------------------------------------------------------------
// GET /info, GET /healthcheck

test('GET /info and GET /healthcheck in ksqlDB shapes', async (t) => {
  const { app, sql } = await setup(t, { ksqlApi: { version: '0.29.0', ksqlServiceId: 'plant_1' } })
  let r = await inject(app, '/info')
  assert.equal(r.status, 200)
  assert.deepEqual(r.json(), {
    KsqlServerInfo: {
      version: '0.29.0',
      kafkaClusterId: 'openfactory',
      ksqlServiceId: 'plant_1',
      serverStatus: 'RUNNING',
    },
  })
  r = await inject(app, '/healthcheck')
  assert.equal(r.status, 200)
  assert.deepEqual(r.json(), {
    isHealthy: true,
    details: { metastore: { isHealthy: true }, kafka: { isHealthy: true } },
  })
  sql.healthy = false
  r = await inject(app, { url: '/healthcheck', headers: { accept: 'application/vnd.ksql.v1+json' } })
  assert.equal(r.status, 503)
  assert.match(String(r.headers['content-type']), /^application\/vnd\.ksql\.v1\+json/)
  assert.equal(r.json().details.metastore.isHealthy, false)
  assert.equal((await inject(app, '/info')).json().KsqlServerInfo.serverStatus, 'ERROR')
})

test('an app without an engine has none of these routes', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  const app = await createServeApp({ eventLog: log, serving })
  t.after(() => app.close())
  const r = await inject(app, '/info')
  assert.equal(r.status, 404)
  assert.equal(r.json().error.code, 'OFA_SERVE_ROUTE_NOT_FOUND')
})

// ---------------------------------------------------------------------------------------------------------------
// Over real sockets

/** An HTTP/1.1 exchange on a raw socket: the head, then the body chunk by chunk as the server frames it. */
class RawExchange {
  readonly socket: net.Socket
  status = 0
  headers: Record<string, string> = {}
  #buf = Buffer.alloc(0)
  #wake: (() => void) | undefined
  #closed = false

  constructor(port: number, path: string, body: string, headers: Record<string, string> = {}) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d])
      this.#wake?.()
    })
    this.socket.on('close', () => {
      this.#closed = true
      this.#wake?.()
    })
    this.socket.on('error', () => {})
    const head = Object.entries({
      host: `127.0.0.1:${port}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')
    this.socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${body}`)
  }

  async #until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000
    while (!ready()) {
      if (this.#closed) throw new Error(`connection closed waiting for ${what}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(String(this.#buf))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  async head(): Promise<void> {
    await this.#until(() => this.#buf.includes('\r\n\r\n'), 'the head')
    const end = this.#buf.indexOf('\r\n\r\n')
    const [statusLine, ...lines] = this.#buf.subarray(0, end).toString('latin1').split('\r\n')
    this.status = Number(statusLine?.split(' ')[1])
    for (const l of lines) {
      const i = l.indexOf(':')
      this.headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
    }
    this.#buf = this.#buf.subarray(end + 4)
  }

  /** The next chunk's payload; null for the last chunk (size 0). */
  async chunk(): Promise<string | null> {
    await this.#until(() => this.#buf.includes('\r\n'), 'a chunk size')
    const eol = this.#buf.indexOf('\r\n')
    const size = Number.parseInt(this.#buf.subarray(0, eol).toString('latin1'), 16)
    assert.ok(Number.isInteger(size), `a chunk size: ${JSON.stringify(String(this.#buf.subarray(0, eol)))}`)
    await this.#until(() => this.#buf.length >= eol + 2 + size + 2, 'a chunk')
    const payload = this.#buf.subarray(eol + 2, eol + 2 + size).toString('utf8')
    assert.equal(this.#buf.subarray(eol + 2 + size, eol + 4 + size).toString('latin1'), '\r\n', 'the chunk ends')
    this.#buf = this.#buf.subarray(eol + 4 + size)
    return size === 0 ? null : payload
  }
}

test('HTTP/1.1: a push query streams chunk by chunk, one element a chunk; a client gone closes it', async (t) => {
  const { app, sql, checker } = await setup(t, { ksqlApi: { maxPushQueries: 1 } })
  const port = await listen(t, app)

  // /query: each element its own chunk and line, ending with its `,`.
  const x = new RawExchange(port, '/query', JSON.stringify({ ksql: 'SELECT * FROM readings EMIT CHANGES LIMIT 2;' }))
  await x.head()
  assert.equal(x.status, 200)
  assert.equal(x.headers['transfer-encoding'], 'chunked')
  const q = await sql.started('LIMIT 2')
  const header = await x.chunk()
  assert.equal(header, `[{"header":{"queryId":"${q.queryId}","schema":"\`ASSET\` STRING, \`VALUE\` DOUBLE"}},\n`)
  for (const row of [
    ['m-1', 1],
    ['m-2', 2],
  ]) {
    q.feed(row)
    const chunk = await x.chunk()
    assert.equal(chunk, `{"row":{"columns":${JSON.stringify(row)}}},\n`)
    checker.checkComponent('KsqlStreamedRow', JSON.parse((chunk as string).slice(0, -2)))
  }
  assert.equal(await x.chunk(), '{"finalMessage":"Limit Reached"}]\n')
  assert.equal(await x.chunk(), null)
  x.socket.destroy()

  // /query-stream, delimited: a line a chunk; the client goes away, the query is closed and its place freed.
  const y = new RawExchange(port, '/query-stream', JSON.stringify({ sql: 'SELECT * FROM readings EMIT CHANGES;' }))
  await y.head()
  assert.equal(y.status, 200)
  assert.equal(y.headers['content-type'], 'application/vnd.ksqlapi.delimited.v1')
  const q2 = await sql.started('EMIT CHANGES;')
  checker.checkComponent('KsqlQueryHeader', JSON.parse((await y.chunk()) as string))
  q2.feed(['m-3', 3])
  assert.equal(await y.chunk(), '["m-3",3]\n')
  y.socket.destroy()
  await closed(q2)
  const z = new RawExchange(port, '/query-stream', JSON.stringify({ sql: 'SELECT * FROM readings EMIT CHANGES; --z' }))
  await z.head()
  assert.equal(z.status, 200, 'the place of the query closed is free again')
  z.socket.destroy()
  await closed(await sql.started('--z'))
})

test('a client gone before the query answers aborts it', async (t) => {
  const { app, sql } = await setup(t)
  const port = await listen(t, app)
  const x = new RawExchange(port, '/query', JSON.stringify({ ksql: 'SELECT * FROM slow;' }))
  await new Promise((r) => setTimeout(r, 100))
  x.socket.destroy()
  // The fake's SLOW query waits for its signal: aborted, it throws; the route answers nobody and stays up.
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(sql.queries.length, 0)
  const r = await fetch(`http://127.0.0.1:${port}/info`)
  assert.equal(r.status, 200)
})

test('closing the app ends the answers in progress with an error saying so', async (t) => {
  const { app, sql, checker } = await setup(t)
  const port = await listen(t, app)
  const x = new RawExchange(port, '/query', JSON.stringify({ ksql: 'SELECT * FROM readings EMIT CHANGES;' }))
  await x.head()
  const q = await sql.started('EMIT CHANGES')
  await x.chunk()
  const closed = app.close()
  const last = (await x.chunk()) as string
  assert.ok(last.endsWith(']\n'))
  const element = JSON.parse(last.slice(0, -2))
  checker.checkComponent('KsqlStreamedRow', element)
  assert.equal(element.errorMessage.error_code, 50300)
  assert.equal(await x.chunk(), null)
  await closed
  assert.equal(q.isClosed, true)
})

/** One HTTP/2 request on `session`: status, headers and the DATA as it comes. */
function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const req = session.request({
    ':method': body === undefined ? 'GET' : 'POST',
    ':path': path,
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...headers,
  })
  req.setEncoding('utf8')
  const chunks: string[] = []
  const frames: string[] = []
  let wake: (() => void) | undefined
  let ended = false
  req.on('data', (d: string) => {
    chunks.push(d)
    frames.push(d)
    wake?.()
  })
  req.on('end', () => {
    ended = true
    wake?.()
  })
  const response = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  if (body !== undefined) req.end(JSON.stringify(body))
  return {
    req,
    response,
    /** The DATA received, as it came (one string per `data` event: per frame). */
    frames,
    /** Waits until the text received so far ends with a newline, then takes it. */
    async line(): Promise<string> {
      const deadline = Date.now() + 5000
      while (!chunks.join('').endsWith('\n')) {
        if (ended || Date.now() > deadline) throw new Error(`no line; got ${JSON.stringify(chunks.join(''))}`)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 50)
        })
      }
      return chunks.splice(0).join('')
    },
    async text(): Promise<string> {
      while (!ended) await new Promise<void>((resolve) => (wake = resolve))
      return chunks.join('')
    },
  }
}

test('HTTP/2 over cleartext on the same port as HTTP/1.1: every route, guards included', async (t) => {
  const { app, sql, checker } = await setup(t)
  const port = await listen(t, app)
  const session = http2.connect(`http://127.0.0.1:${port}`)
  t.after(() => session.destroy())

  const ksql = h2Request(session, '/ksql', { ksql: 'LIST STREAMS;' })
  const head = await ksql.response
  const text = await ksql.text()
  checker.check('POST', '/ksql', Number(head[':status']), head['content-type'], text)
  assert.equal(head[':status'], 200)
  assert.deepEqual((JSON.parse(text) as { streams: unknown }[])[0]?.streams, STREAMS)

  // A pull query: each element in a DATA frame of its own (ksqlDB's clients parse one JSON value per frame).
  const pull = h2Request(session, '/query-stream', { sql: 'SELECT * FROM machines;' })
  await pull.text()
  assert.deepEqual(pull.frames.map((f) => JSON.parse(f)).slice(1), MACHINES.wire)
  assert.ok(pull.frames.every((f) => f.endsWith('\n') && f.indexOf('\n') === f.length - 1))

  const info = h2Request(session, '/info')
  assert.equal((await info.response)[':status'], 200)
  assert.equal(JSON.parse(await info.text()).KsqlServerInfo.serverStatus, 'RUNNING')

  // A push query over /query-stream: the header line, rows as they come; the client resets the stream: closed.
  const stream = h2Request(session, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES;' })
  assert.equal((await stream.response)[':status'], 200)
  const q = await sql.started('EMIT CHANGES')
  checker.checkComponent('KsqlQueryHeader', JSON.parse(await stream.line()))
  q.feed(['m-1', 7])
  assert.equal(await stream.line(), '["m-1",7]\n')
  stream.req.close(http2.constants.NGHTTP2_CANCEL)
  await closed(q)

  // A client whose connection goes away (no RST_STREAM, the socket ends): its push query is closed too.
  const other = http2.connect(`http://127.0.0.1:${port}`)
  const n = sql.queries.length
  const lost = h2Request(other, '/query-stream', { sql: 'SELECT * FROM readings EMIT CHANGES; -- lost' })
  assert.equal((await lost.response)[':status'], 200)
  await lost.line()
  assert.equal(sql.queries.length, n + 1)
  other.destroy() // no RST_STREAM: the socket ends
  await closed(sql.queries[n], 'the query of a connection gone')

  // The Host guard reads `:authority`.
  const evil = h2Request(session, '/info', undefined, { ':authority': 'evil.example' })
  assert.equal((await evil.response)[':status'], 403)
  assert.equal(JSON.parse(await evil.text()).error.code, 'OFA_SERVE_HOST_NOT_ALLOWED')

  // HTTP/1.1 on the same port still answers, our own routes too.
  assert.equal((await fetch(`http://127.0.0.1:${port}/info`)).status, 200)
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)
})

test('an app without an engine speaks no HTTP/2 unless asked', async (t) => {
  const log = await createTestLog(t)
  const serving = await createTestServing(t, log)
  for (const http2Cleartext of [undefined, true]) {
    const app = await createServeApp({ eventLog: log, serving, ...(http2Cleartext ? { http2Cleartext } : {}) })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as net.AddressInfo).port
    const session = http2.connect(`http://127.0.0.1:${port}`)
    session.on('error', () => {})
    const req = session.request({ ':path': '/healthz' })
    req.on('error', () => {})
    const status = await new Promise<number | undefined>((resolve) => {
      req.once('response', (h) => resolve(h[':status']))
      req.once('close', () => resolve(undefined))
    })
    session.destroy()
    assert.equal(status, http2Cleartext ? 200 : undefined)
    await app.close()
  }
})
