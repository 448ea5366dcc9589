/**
 * ksqlDB-compatible routes (a Fastify plugin, registered when the app has an SQL engine): ksqlDB's HTTP API
 * (docs.ksqldb.io, "ksqlDB HTTP API reference") over our engine (`SqlEngineApi`, @openfactory/sql), so that
 * clients written for ksqlDB — its CLI's REST calls, ksql-python-ng, the npm `ksqldb-client` — work against
 * OpenFactory. docs/reference/http-api.md, section "ksqlDB-compatible API", lists what differs from ksqlDB.
 *
 * - `POST /ksql` `{"ksql", "streamsProperties"?}`: the text is parsed whole first (the engine's parser: a text
 *   that does not parse runs nothing), a SELECT anywhere in it is refused before anything runs (40002) as ksqlDB
 *   does, then its statements run one by one: 200 with the array of their entities (the engine's, passed
 *   through). A failing statement stops the rest: 400 with a statement error carrying its text and the entities of
 *   the statements run before it.
 * - `POST /query` `{"ksql", "streamsProperties"?}`: a SELECT, answered in ksqlDB's first streaming format (below).
 * - `POST /query-stream` `{"sql", "properties"?}`: a SELECT, answered in the newer format (below), delimited by
 *   default or one JSON array with `Accept: application/json`. Push queries started here can be closed by id.
 * - `POST /close-query` `{"queryId"}`: ends a push query of /query-stream (its answer ends); 200 with no body.
 * - `GET /info`, `GET /healthcheck`: the server's identity and health, in ksqlDB's shapes.
 *
 * Errors are ksqlDB's (`{"@type": "statement_error" | "generic_error", "error_code", "message",
 * "statementText"?, "entities"?}`), with its error codes: the HTTP status times 100 plus a detail (`KSQL_ERROR`).
 * What the app refuses before a route runs (Host, Origin, content type, URL and header sizes: request-guards.ts)
 * keeps our own `{"error": {...}}` shape.
 *
 * Bounds: the body is the app's body limit (413); the statement text at most `maxStatementBytes` bytes of UTF-8
 * (the engine's own limit, 1 MiB); at most `maxPushQueries` push queries at once over both query routes (429). An
 * answer is written no faster than the client reads it: a row waits while the response's buffer is full (`drain`),
 * so a slow client holds one row back, not the whole stream. A client that goes away closes its query
 * (`QueryResult.close()`); closing the app ends every answer in progress with an error saying so.
 */
import { isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import type { KsqlEntity, QueryResult, SqlEngineApi, SqlValue, StatementProperties } from '@openfactory/sql'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { errorHandler } from './errors.ts'
import { jsonBodyParser } from './json-body.ts'
import { rowWriter, typeParser } from './ksql-values.ts'
import { withTimeout } from './metrics.ts'

/** ksqlDB's media types, besides `application/json`. */
export const KSQL_V1 = 'application/vnd.ksql.v1+json'
export const KSQL_V2 = 'application/vnd.ksql.v2+json'
export const KSQLAPI_DELIMITED = 'application/vnd.ksqlapi.delimited.v1'
/** What a POST to these routes may say it carries besides `application/json` (request-guards.ts). */
const BODY_TYPES = [KSQL_V1, KSQL_V2, KSQLAPI_DELIMITED] as const

/** ksqlDB's `error_code`s we answer with: the HTTP status × 100, plus a detail. */
export const KSQL_ERROR = {
  /** The request is not what the route takes (its JSON, a missing field, a text too long). */
  BAD_REQUEST: 40000,
  /** The engine refused a statement. */
  BAD_STATEMENT: 40001,
  /** A SELECT sent to /ksql: it belongs to /query or /query-stream. */
  QUERY_ENDPOINT: 40002,
  PAYLOAD_TOO_LARGE: 41300,
  /** Past the cap of push queries running at once. */
  TOO_MANY_REQUESTS: 42900,
  SERVER_ERROR: 50000,
  /** The log cannot be reached, or the server is closing. */
  UNAVAILABLE: 50300,
} as const

export interface KsqlApiOptions {
  /** Push queries running at once, over /query and /query-stream together (default 100); past it: 429. */
  readonly maxPushQueries?: number
  /**
   * Longest statement text, in bytes of UTF-8 (default 1 MiB, the engine's own limit, `MAX_SQL_BYTES` of
   * @openfactory/sql; at most that); longer: 400.
   */
  readonly maxStatementBytes?: number
  /** `/info` `version`: the ksqlDB version whose API this follows (default `0.29.0`). */
  readonly version?: string
  /** `/info` `kafkaClusterId` (default `openfactory`). */
  readonly kafkaClusterId?: string
  /** `/info` `ksqlServiceId` (default `openfactory`, the engine's default service id). */
  readonly ksqlServiceId?: string
}

export const KSQL_API_DEFAULTS: Required<KsqlApiOptions> = {
  maxPushQueries: 100,
  maxStatementBytes: 1024 * 1024,
  version: '0.29.0',
  kafkaClusterId: 'openfactory',
  ksqlServiceId: 'openfactory',
}

export interface KsqlRoutesOptions extends KsqlApiOptions {
  readonly sql: SqlEngineApi
}

/** An error as ksqlDB answers it. */
export interface KsqlErrorBody {
  readonly '@type': 'statement_error' | 'generic_error'
  readonly error_code: number
  readonly message: string
  readonly statementText?: string
  readonly entities?: readonly KsqlEntity[]
}

const HEALTH_TIMEOUT_MS = 2000
/** How long closing the app waits for the answers in progress to end. */
const CLOSE_WAIT_MS = 2000

// ---------------------------------------------------------------------------------------------------------------
// Schemas (components of the OpenAPI document; createServeApp adds them when the app has an engine).

const entitySchema = {
  $id: 'KsqlEntity',
  type: 'object',
  description:
    'One result of a statement, as ksqlDB writes it: `@type` says which (`currentStatus`, `streams`, `tables`, `queries`, `sourceDescription`, `kafka_topics`, `properties`, `function_names`); the fields are those of that type (see the ksqlDB /ksql endpoint reference)',
  required: ['@type', 'statementText', 'warnings'],
  additionalProperties: true,
  properties: {
    '@type': {
      type: 'string',
      enum: [
        'currentStatus',
        'streams',
        'tables',
        'queries',
        'sourceDescription',
        'kafka_topics',
        'properties',
        'function_names',
      ],
    },
    statementText: { type: 'string' },
    warnings: {
      type: 'array',
      items: {
        type: 'object',
        required: ['message'],
        additionalProperties: false,
        properties: { message: { type: 'string' } },
      },
    },
  },
} as const

const errorSchema = {
  $id: 'KsqlError',
  type: 'object',
  description: "An error in ksqlDB's shape; `error_code` is the HTTP status × 100 plus a detail",
  required: ['@type', 'error_code', 'message'],
  additionalProperties: false,
  properties: {
    '@type': { type: 'string', enum: ['statement_error', 'generic_error'] },
    error_code: { type: 'integer', minimum: 40000, maximum: 59999 },
    message: { type: 'string' },
    statementText: { type: 'string', description: 'The statement that failed (statement errors)' },
    entities: {
      type: 'array',
      description: 'Results of the statements run before the one that failed (statement errors of /ksql)',
      items: { $ref: 'KsqlEntity#' },
    },
  },
} as const

const queryHeaderSchema = {
  $id: 'KsqlQueryHeader',
  type: 'object',
  description: 'The first element of a /query-stream answer',
  required: ['queryId', 'columnNames', 'columnTypes'],
  additionalProperties: false,
  properties: {
    queryId: { type: 'string', description: 'Give it to /close-query to end a push query' },
    columnNames: { type: 'array', items: { type: 'string' } },
    columnTypes: { type: 'array', items: { type: 'string' }, description: 'ksqlDB type names: `BIGINT`, `STRING`...' },
  },
} as const

const streamedRowSchema = {
  $id: 'KsqlStreamedRow',
  description: 'One element of a /query answer: the header first, then rows, then at most one final or error message',
  oneOf: [
    {
      type: 'object',
      required: ['header'],
      additionalProperties: false,
      properties: {
        header: {
          type: 'object',
          required: ['queryId', 'schema'],
          additionalProperties: false,
          properties: {
            queryId: { type: 'string' },
            schema: { type: 'string', description: 'The columns: `` `NAME` TYPE, ... ``' },
          },
        },
      },
    },
    {
      type: 'object',
      required: ['row'],
      additionalProperties: false,
      properties: {
        row: {
          type: 'object',
          required: ['columns'],
          additionalProperties: false,
          properties: { columns: { type: 'array' } },
        },
      },
    },
    {
      type: 'object',
      required: ['finalMessage'],
      additionalProperties: false,
      properties: { finalMessage: { type: 'string' } },
    },
    {
      type: 'object',
      required: ['errorMessage'],
      additionalProperties: false,
      properties: { errorMessage: { $ref: 'KsqlError#' } },
    },
  ],
} as const

const serverInfoSchema = {
  $id: 'KsqlServerInfo',
  type: 'object',
  required: ['KsqlServerInfo'],
  additionalProperties: false,
  properties: {
    KsqlServerInfo: {
      type: 'object',
      required: ['version', 'kafkaClusterId', 'ksqlServiceId', 'serverStatus'],
      additionalProperties: false,
      properties: {
        version: { type: 'string' },
        kafkaClusterId: { type: 'string' },
        ksqlServiceId: { type: 'string' },
        serverStatus: { type: 'string', enum: ['RUNNING', 'ERROR'] },
      },
    },
  },
} as const

const healthy = {
  type: 'object',
  required: ['isHealthy'],
  additionalProperties: false,
  properties: { isHealthy: { type: 'boolean' } },
} as const

const healthSchema = {
  $id: 'KsqlHealth',
  type: 'object',
  required: ['isHealthy', 'details'],
  additionalProperties: false,
  properties: {
    isHealthy: { type: 'boolean' },
    details: {
      type: 'object',
      required: ['metastore', 'kafka'],
      additionalProperties: false,
      properties: { metastore: healthy, kafka: healthy },
    },
  },
} as const

/** The schemas the routes' documentation refers to. */
export const KSQL_SCHEMAS = [
  entitySchema,
  errorSchema,
  queryHeaderSchema,
  streamedRowSchema,
  serverInfoSchema,
  healthSchema,
] as const

// Property values are strings, numbers or booleans: checked by the route (`checkRequest`), not by the schema, whose
// type coercion would turn a number into a string.
const propertiesSchema = {
  type: 'object',
  description: 'Statement properties (`auto.offset.reset`...): strings, numbers or booleans',
} as const

const ksqlError = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: 'KsqlError#' } } },
})
const errors = {
  400: ksqlError('The request or the statement is refused (`error_code` 40000, 40001, 40002)'),
  413: ksqlError('The body is larger than the limit (41300)'),
  429: ksqlError('Past the rate limit of writes of this caller (42900; `Retry-After` in seconds; rate-limits.ts)'),
  500: ksqlError('An internal error (50000)'),
  503: ksqlError('The log cannot be reached, or the server is closing (50300)'),
}
const both = (schema: object) => ({ 'application/json': { schema }, [KSQL_V1]: { schema } })

// ---------------------------------------------------------------------------------------------------------------
// Errors.

function generic(error_code: number, message: string): KsqlErrorBody {
  return { '@type': 'generic_error', error_code, message }
}

/**
 * The message of an engine error that knows where, starting `line L:C: ` with its position in the request's text:
 * a statement run on its own (`at`: where its first token is in the request) has positions of its own text.
 */
function positioned(err: OpenFactoryError, at?: { line: number; column: number }): string {
  const w = err.where
  if (w?.line === undefined) return err.message
  const line = at ? at.line + w.line - 1 : w.line
  const column = (w.column ?? 1) + (at && w.line === 1 ? at.column - 1 : 0)
  return `line ${line}:${column}: ${err.message.replace(/^line \d+:\d+: /, '')}`
}

/** What the engine threw, as ksqlDB answers it. Unexpected errors are logged and answered 500 without detail. */
function engineError(
  request: FastifyRequest,
  err: unknown,
  statementText: string,
  entities: readonly KsqlEntity[] = [],
  at?: { line: number; column: number },
): { status: number; body: KsqlErrorBody } {
  if (isOpenFactoryError(err) && err.code.startsWith('OFA_SQL_')) {
    return {
      status: 400,
      body: {
        '@type': 'statement_error',
        error_code: KSQL_ERROR.BAD_STATEMENT,
        message: positioned(err, at),
        statementText,
        entities,
      },
    }
  }
  if (isOpenFactoryError(err) && (err.code.startsWith('OFA_LOG_') || err.code === 'OFA_SERVE_UNAVAILABLE')) {
    return { status: 503, body: generic(KSQL_ERROR.UNAVAILABLE, `${err.code}: ${err.message}`) }
  }
  request.log.error({ err }, 'ksqlDB-compatible route failed')
  return { status: 500, body: generic(KSQL_ERROR.SERVER_ERROR, 'internal error; see the server log') }
}

function sendKsqlError(reply: FastifyReply, status: number, body: KsqlErrorBody): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body))
}

/**
 * The plugin's error handler: what Fastify and our body parser refuse (schema validation, a body too large, JSON
 * that does not parse) and a write past the rate limit (429, rate-limits.ts: a hook of the route, as ksqlDB's own rate
 * limits answer) in ksqlDB's shape. A content type refused (415) stays in ours, like the request guards'.
 */
function ksqlErrorHandler(bodyLimit: number) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (err.validation && err.validation.length > 0) {
      const first = err.validation[0] as { instancePath: string; message?: string; params?: Record<string, unknown> }
      const missing = first.params?.missingProperty
      const path = [
        'body',
        ...first.instancePath.split('/').filter((p) => p !== ''),
        ...(typeof missing === 'string' ? [missing] : []),
      ].join('.')
      return sendKsqlError(reply, 400, generic(KSQL_ERROR.BAD_REQUEST, `${path} ${first.message ?? 'is invalid'}`))
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendKsqlError(
        reply,
        413,
        generic(KSQL_ERROR.PAYLOAD_TOO_LARGE, `the body is larger than ${bodyLimit} bytes, the limit`),
      )
    }
    if (isOpenFactoryError(err) && err.code === 'OFA_SERVE_REQUEST_INVALID') {
      return sendKsqlError(reply, 400, generic(KSQL_ERROR.BAD_REQUEST, err.message))
    }
    if (isOpenFactoryError(err) && err.code === 'OFA_SERVE_RATE_LIMITED') {
      return sendKsqlError(reply, 429, generic(KSQL_ERROR.TOO_MANY_REQUESTS, `${err.code}: ${err.message}`))
    }
    if (
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
      (isOpenFactoryError(err) && err.code === 'OFA_SERVE_UNSUPPORTED_MEDIA_TYPE')
    ) {
      return errorHandler(err, request, reply)
    }
    if (
      !isOpenFactoryError(err) &&
      typeof err.statusCode === 'number' &&
      err.statusCode >= 400 &&
      err.statusCode < 500
    ) {
      return sendKsqlError(reply, err.statusCode, generic(err.statusCode * 100, err.message))
    }
    const e = engineError(request, err, '')
    return sendKsqlError(reply, e.status, e.body)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Answers of queries, written as they come.
//
// /query (ksqlDB's first format; docs.ksqldb.io, "/query endpoint"): one JSON array, written element by element,
// one element a line, each line ending with the `,` that separates it from the next or with the `]` that closes
// the array:
//   [{"header":{"queryId":"...","schema":"`ID` BIGINT, `NAME` STRING"}},
//   {"row":{"columns":[1,"a"]}},
//   {"finalMessage":"Limit Reached"}]
// A pull query's last row closes the array (the answer is read one row ahead); a push query's rows are written as
// they come, and the array is closed by `{"finalMessage":"Limit Reached"}` when its LIMIT is reached or by
// `{"errorMessage":{...KsqlError}}` when it fails or the server closes; a client that goes away gets nothing more.
//
// /query-stream (docs.ksqldb.io, "/query-stream endpoint"), `application/vnd.ksqlapi.delimited.v1` (the default):
// one JSON value a line — the header `{"queryId","columnNames","columnTypes"}`, then one array per row; a failure
// after the header is a KsqlError line, and the answer ends. With `Accept: application/json`: one JSON array,
// `[{header},[row],[row]]`, written element by element without newlines, a failure as its last element.

type Format = 'query' | 'delimited' | 'json'

/** The `schema` of a /query header: `` `NAME` TYPE `` by column, backticks in names doubled. */
function schemaText(names: readonly string[], types: readonly string[]): string {
  return names.map((n, i) => `\`${n.replaceAll('`', '``')}\` ${types[i] ?? 'STRING'}`).join(', ')
}

/** Writes one answer's elements in its format (see above). */
class AnswerWriter {
  readonly format: Format
  /** /query: the element held back until we know whether another follows (pull answers). */
  #held: string | undefined
  #first = true
  readonly #lookahead: boolean

  /** A row's values as the answer writes them (ksql-values.ts). */
  readonly #wire: (row: readonly SqlValue[]) => unknown[]

  constructor(format: Format, lookahead: boolean, wire: (row: readonly SqlValue[]) => unknown[]) {
    this.format = format
    this.#lookahead = lookahead
    this.#wire = wire
  }

  header(result: QueryResult): string {
    const h = result.header
    if (this.format === 'query') {
      return this.#element(
        JSON.stringify({ header: { queryId: h.queryId, schema: schemaText(h.columnNames, h.columnTypes) } }),
      )
    }
    const text = JSON.stringify({ queryId: h.queryId, columnNames: h.columnNames, columnTypes: h.columnTypes })
    return this.format === 'delimited' ? `${text}\n` : `[${text}`
  }

  row(values: readonly SqlValue[]): string {
    const text = JSON.stringify(this.#wire(values))
    if (this.format === 'query') return this.#element(`{"row":{"columns":${text}}}`)
    return this.format === 'delimited' ? `${text}\n` : `,${text}`
  }

  /** The end of a complete answer: a pull query's last row, or a push query's LIMIT. */
  end(limitReached: boolean): string {
    if (this.format === 'query') {
      return limitReached ? this.#last('{"finalMessage":"Limit Reached"}') : this.#last(undefined)
    }
    return this.format === 'delimited' ? '' : ']'
  }

  /** The end of an answer cut short. */
  error(body: KsqlErrorBody): string {
    const text = JSON.stringify(body)
    if (this.format === 'query') return this.#last(`{"errorMessage":${text}}`)
    return this.format === 'delimited' ? `${text}\n` : `,${text}]`
  }

  #element(text: string): string {
    const open = this.#first ? '[' : ''
    this.#first = false
    if (!this.#lookahead) return `${open}${text},\n`
    const out = this.#held === undefined ? '' : `${this.#held},\n`
    this.#held = `${open}${text}`
    return out
  }

  #last(text: string | undefined): string {
    const held = this.#held === undefined ? '' : `${this.#held}${text === undefined ? '' : ',\n'}`
    this.#held = undefined
    if (text === undefined) return held === '' ? (this.#first ? '[]\n' : ']\n') : `${held}]\n`
    return `${held}${this.#first ? '[' : ''}${text}]\n`
  }
}

/** How an answer in progress is ended from outside: the server closing, or /close-query. */
type Stop = (why: 'closing' | 'closed') => void

/** Which format /query-stream answers in: delimited unless `Accept` asks for JSON only. */
function queryStreamFormat(accept: string | undefined): Format {
  if (accept === undefined) return 'delimited'
  const types = accept.split(',').map((t) => t.split(';')[0]?.trim().toLowerCase())
  if (types.includes(KSQLAPI_DELIMITED) || types.includes('*/*')) return 'delimited'
  return types.includes('application/json') ? 'json' : 'delimited'
}

function accepts(request: FastifyRequest, type: string): boolean {
  return (request.headers.accept ?? '').toLowerCase().includes(type)
}

// ---------------------------------------------------------------------------------------------------------------

interface QueryBody {
  ksql?: string
  sql?: string
  streamsProperties?: StatementProperties
  properties?: StatementProperties
  sessionVariables?: Record<string, unknown>
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new OpenFactoryError('OFA_CONFIG_VALUE', `ksqlApi.${name} must be a positive integer (given: ${value})`, {
      where: { path: `ksqlApi.${name}` },
    })
  }
  return value
}

export const ksqlRoutes: FastifyPluginAsync<KsqlRoutesOptions> = async (app, opts) => {
  const { sql } = opts
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined))
  const o = { ...KSQL_API_DEFAULTS, ...defined } as Required<KsqlApiOptions>
  const maxPushQueries = positiveInteger('maxPushQueries', o.maxPushQueries)
  // The engine's parser, loaded with the first app that has an engine (an app without one never loads the SQL
  // package): /ksql splits its text into statements with it, so that the route and the engine read them alike.
  const { MAX_SQL_BYTES, parseExpression, parseStatements } = await import('@openfactory/sql')
  const parseType = typeParser(parseExpression)
  const maxStatementBytes = positiveInteger('maxStatementBytes', o.maxStatementBytes)
  if (maxStatementBytes > MAX_SQL_BYTES) {
    throw new OpenFactoryError(
      'OFA_CONFIG_VALUE',
      `ksqlApi.maxStatementBytes must be at most ${MAX_SQL_BYTES}, the engine's limit (given: ${maxStatementBytes})`,
      { where: { path: 'ksqlApi.maxStatementBytes' } },
    )
  }

  /** Every answer in progress: how to end it, and when it has ended. */
  const answers = new Map<Stop, Promise<void>>()
  /** Push queries of /query-stream, by query id (for /close-query). */
  const closable = new Map<string, Stop>()
  let pushQueries = 0
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    const ending = [...answers]
    for (const [stop] of ending) stop('closing')
    // Each answer writes why it ends and closes its query; a client that does not read is not waited for long.
    await withTimeout(Promise.all(ending.map(([, ended]) => ended)), CLOSE_WAIT_MS).catch(() => {})
  })

  // ksqlDB's clients send their JSON as ksqlDB's media types; ksql-python-ng's close_query sends it with none.
  app.addContentTypeParser([...BODY_TYPES], { parseAs: 'buffer' }, jsonBodyParser)
  app.addContentTypeParser('*', { parseAs: 'buffer' }, jsonBodyParser)
  app.setErrorHandler(ksqlErrorHandler(app.initialConfig.bodyLimit ?? 1024 * 1024))

  /** Why a body is refused (statement text too long, a property not a scalar, session variables), or ok. */
  const checkRequest = (
    text: string,
    body: QueryBody,
  ): { ok: true } | { ok: false; status: number; error: KsqlErrorBody } => {
    const bytes = Buffer.byteLength(text)
    if (bytes > maxStatementBytes) {
      return {
        ok: false,
        status: 400,
        error: generic(
          KSQL_ERROR.BAD_REQUEST,
          `the statement text is ${bytes} bytes of UTF-8, more than the limit of ${maxStatementBytes}`,
        ),
      }
    }
    for (const field of ['streamsProperties', 'properties'] as const) {
      for (const [name, value] of Object.entries(body[field] ?? {})) {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          return {
            ok: false,
            status: 400,
            error: generic(
              KSQL_ERROR.BAD_REQUEST,
              `body.${field}[${JSON.stringify(name)}] must be a string, a number or a boolean`,
            ),
          }
        }
      }
    }
    if (body.sessionVariables && Object.keys(body.sessionVariables).length > 0) {
      return {
        ok: false,
        status: 400,
        error: generic(KSQL_ERROR.BAD_REQUEST, 'sessionVariables (variable substitution) are not supported'),
      }
    }
    return { ok: true }
  }

  app.post<{ Body: QueryBody & { ksql: string } }>(
    '/ksql',
    {
      // Statements change what runs: admin.
      config: { contentTypes: BODY_TYPES, access: 'admin', allAssets: true },
      schema: {
        summary: 'Run statements (ksqlDB /ksql): DDL, INSERT, SHOW, DESCRIBE, TERMINATE, SET...',
        tags: ['ksqldb'],
        body: {
          type: 'object',
          required: ['ksql'],
          properties: {
            ksql: { type: 'string', description: 'Statements, each ended by `;`' },
            streamsProperties: propertiesSchema,
            sessionVariables: { type: 'object', description: 'Not supported: must be empty' },
            commandSequenceNumber: { type: 'integer', description: 'Accepted and ignored: statements run at once' },
          },
        },
        response: {
          200: {
            description: 'The result of each statement, in order',
            content: both({ type: 'array', items: { $ref: 'KsqlEntity#' } }),
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      const text = body.ksql
      const checked = checkRequest(text, body)
      if (!checked.ok) return sendKsqlError(reply, checked.status, checked.error)
      let statements: ReturnType<typeof parseStatements>
      try {
        statements = parseStatements(text)
      } catch (err) {
        const e = engineError(request, err, text)
        return sendKsqlError(reply, e.status, e.body)
      }
      const query = statements.find((s) => s.kind === 'QueryStatementNode')
      if (query) {
        return sendKsqlError(reply, 400, {
          '@type': 'statement_error',
          error_code: KSQL_ERROR.QUERY_ENDPOINT,
          message: 'a SELECT runs on /query or /query-stream, not on /ksql',
          statementText: query.text,
          entities: [],
        })
      }
      const properties = body.streamsProperties ?? {}
      const entities: KsqlEntity[] = []
      for (const s of statements) {
        try {
          entities.push(...(await sql.execute(s.text, { properties })))
        } catch (err) {
          const e = engineError(request, err, s.text, entities, s.where)
          return sendKsqlError(reply, e.status, e.body)
        }
      }
      return reply
        .code(200)
        .type(accepts(request, KSQL_V1) ? `${KSQL_V1}; charset=utf-8` : 'application/json; charset=utf-8')
        .send(JSON.stringify(entities))
    },
  )

  /**
   * Runs a query and writes its answer as it comes (the formats above). Errors before the first row are ordinary
   * answers (400 and the like); from the header on, the answer is ours to write (the reply is hijacked).
   */
  const runQuery = async (
    request: FastifyRequest,
    reply: FastifyReply,
    text: string,
    properties: StatementProperties,
    format: Format,
    contentType: string,
  ): Promise<FastifyReply | undefined> => {
    const res = reply.raw
    const gone = new AbortController()
    const onGone = () => gone.abort()
    res.once('close', onGone)
    let result: QueryResult
    try {
      result = await sql.query(text, { properties, signal: gone.signal })
    } catch (err) {
      res.off('close', onGone)
      const e = engineError(request, err, text)
      return sendKsqlError(reply, e.status, e.body)
    }
    const push = result.kind === 'push'
    if (closing || gone.signal.aborted || (push && pushQueries >= maxPushQueries)) {
      res.off('close', onGone)
      await result.close().catch(() => {})
      if (gone.signal.aborted) {
        reply.hijack() // nobody to answer
        return undefined
      }
      if (closing) return sendKsqlError(reply, 503, generic(KSQL_ERROR.UNAVAILABLE, 'the server is closing'))
      return sendKsqlError(
        reply,
        429,
        generic(
          KSQL_ERROR.TOO_MANY_REQUESTS,
          `${maxPushQueries} push queries run already, the most this server runs at once; close one first`,
        ),
      )
    }
    if (push) pushQueries++
    reply.hijack()
    // A hijacked reply skips the onResponse hook: counted here.
    app.metrics.httpRequests.inc({ method: 'POST', route: request.routeOptions.url ?? request.url, status: '200' })
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' })
    const writer = new AnswerWriter(
      format,
      !push && format === 'query',
      rowWriter(result.header.columnTypes, parseType),
    )
    let stopped: 'closing' | 'closed' | undefined
    let wake: (() => void) | undefined
    const stop: Stop = (why) => {
      stopped ??= why
      wake?.()
    }
    let ended = (): void => {}
    answers.set(
      stop,
      new Promise<void>((resolve) => {
        ended = resolve
      }),
    )
    const queryId = result.header.queryId
    if (push && format !== 'query') closable.set(queryId, stop)
    res.on('error', () => {}) // a client gone mid-write: `close` follows
    /** Resolves with what comes first: `p`, the client going away, or a stop. */
    const race = <T>(p: Promise<T>): Promise<T | undefined> =>
      new Promise((resolve, reject) => {
        if (gone.signal.aborted || stopped) return resolve(undefined)
        const done = () => resolve(undefined)
        wake = done
        gone.signal.addEventListener('abort', done, { once: true })
        p.then(resolve, reject).finally(() => {
          gone.signal.removeEventListener('abort', done)
          if (wake === done) wake = undefined
        })
      })
    // Buffers, and no empty final chunk: on Node 24.21 an HTTP/2 response (h2c.ts) ended with an empty chunk after
    // string writes sends freed memory in place of the first bytes written (seen with httpx's HTTP/2 client; a test
    // of ksql-clients.test.ts reads such an answer).
    // Over HTTP/2 each element goes out in a DATA frame of its own (a write waits until the one before it went
    // out): ksqlDB's clients read one JSON value per frame (ksql-python-ng's parsed queries, ksqldb-client's push
    // queries), as ksqlDB sends them. Over HTTP/1.1 each write is a chunk of its own anyway.
    const framePerWrite = request.raw.httpVersionMajor === 2
    const write = async (chunk: string): Promise<void> => {
      if (chunk === '' || res.destroyed) return
      const bytes = Buffer.from(chunk)
      if (framePerWrite) await race(new Promise<void>((resolve) => res.write(bytes, () => resolve())))
      else if (!res.write(bytes)) await race(new Promise<void>((resolve) => res.once('drain', resolve)))
    }
    const finish = (chunk: string): void => {
      if (chunk === '') res.end()
      else res.end(Buffer.from(chunk))
    }
    const rows = result.rows[Symbol.asyncIterator]()
    let failure: KsqlErrorBody | undefined
    let complete = false
    try {
      await write(writer.header(result))
      for (;;) {
        const next = await race(rows.next())
        if (next === undefined) break // gone or stopped
        if (next.done) {
          complete = true
          break
        }
        await write(writer.row(next.value))
      }
    } catch (err) {
      failure = engineError(request, err, text).body
    }
    try {
      if (!res.destroyed && !gone.signal.aborted) {
        if (failure) finish(writer.error(failure))
        else if (complete) finish(writer.end(push))
        else if (stopped === 'closing') finish(writer.error(generic(KSQL_ERROR.UNAVAILABLE, 'the server is closing')))
        else finish(writer.end(false)) // closed by /close-query
      }
    } finally {
      answers.delete(stop)
      if (closable.get(queryId) === stop) closable.delete(queryId)
      if (push) pushQueries--
      res.off('close', onGone)
      await result.close().catch((err: unknown) => request.log.warn({ err }, 'closing a query failed'))
      // Ended once its last bytes are handed to the socket (closing the app destroys the sockets next).
      if (!res.writableFinished && !res.destroyed) {
        await new Promise<void>((resolve) => {
          res.once('finish', resolve)
          res.once('close', resolve)
        })
      }
      ended()
    }
    return undefined
  }

  app.post<{ Body: QueryBody & { ksql: string } }>(
    '/query',
    {
      config: { contentTypes: BODY_TYPES, access: 'read', allAssets: true },
      schema: {
        summary: "Run a SELECT (ksqlDB /query): its rows streamed in ksqlDB's first format",
        description:
          'One JSON array written element by element, one a line: `[{"header":{"queryId","schema"}},` then `{"row":{"columns":[...]}},` per row; a pull query\'s last row closes the array; a push query runs until its LIMIT (`{"finalMessage":"Limit Reached"}]`) or until the client goes away.',
        tags: ['ksqldb'],
        body: {
          type: 'object',
          required: ['ksql'],
          properties: { ksql: { type: 'string', description: 'One SELECT' }, streamsProperties: propertiesSchema },
        },
        response: {
          200: {
            description: 'The answer, streamed (chunked over HTTP/1.1)',
            content: both({ type: 'array', items: { $ref: 'KsqlStreamedRow#' } }),
          },
          ...errors,
          429: ksqlError('Past the cap of push queries running at once, or the rate limit of writes (42900)'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      const checked = checkRequest(body.ksql, body)
      if (!checked.ok) return sendKsqlError(reply, checked.status, checked.error)
      const type = accepts(request, KSQL_V1) ? KSQL_V1 : 'application/json'
      return runQuery(request, reply, body.ksql, body.streamsProperties ?? {}, 'query', type)
    },
  )

  app.post<{ Body: QueryBody & { sql: string } }>(
    '/query-stream',
    {
      config: { contentTypes: BODY_TYPES, access: 'read', allAssets: true },
      schema: {
        summary: 'Run a SELECT (ksqlDB /query-stream): a header line, then one JSON array per row',
        description:
          'With `Accept: application/vnd.ksqlapi.delimited.v1` (the default): the header `{"queryId","columnNames","columnTypes"}` on the first line, then one JSON array per row, one a line. With `Accept: application/json`: one JSON array, the header then the rows. A push query runs until its LIMIT, `/close-query`, or the client going away.',
        tags: ['ksqldb'],
        body: {
          type: 'object',
          required: ['sql'],
          properties: {
            sql: { type: 'string', description: 'One SELECT' },
            properties: propertiesSchema,
            streamsProperties: { ...propertiesSchema, description: 'Taken as `properties` when that is absent' },
            sessionVariables: { type: 'object', description: 'Not supported: must be empty' },
          },
        },
        response: {
          200: {
            description: 'The answer, streamed (chunked over HTTP/1.1; DATA frames over HTTP/2)',
            content: {
              [KSQLAPI_DELIMITED]: { schema: { type: 'string', description: 'JSON values, one a line' } },
              'application/json': {
                schema: {
                  type: 'array',
                  items: { anyOf: [{ $ref: 'KsqlQueryHeader#' }, { type: 'array' }, { $ref: 'KsqlError#' }] },
                },
              },
            },
          },
          ...errors,
          429: ksqlError('Past the cap of push queries running at once, or the rate limit of writes (42900)'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      const checked = checkRequest(body.sql, body)
      if (!checked.ok) return sendKsqlError(reply, checked.status, checked.error)
      const format = queryStreamFormat(request.headers.accept)
      const type = format === 'json' ? 'application/json' : KSQLAPI_DELIMITED
      return runQuery(request, reply, body.sql, body.properties ?? body.streamsProperties ?? {}, format, type)
    },
  )

  app.post<{ Body: { queryId: string } }>(
    '/close-query',
    {
      // ksql-python-ng sends this body without a content type.
      config: { contentTypes: [...BODY_TYPES, ''], access: 'read', allAssets: true },
      schema: {
        summary: 'End a push query started by /query-stream',
        tags: ['ksqldb'],
        body: {
          type: 'object',
          required: ['queryId'],
          properties: { queryId: { type: 'string', minLength: 1 } },
        },
        response: {
          200: { description: 'Closed: its answer ends (no body)', type: 'null' },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const id = request.body.queryId
      const stop = closable.get(id)
      if (!stop) {
        return sendKsqlError(reply, 400, generic(KSQL_ERROR.BAD_REQUEST, `no push query ${JSON.stringify(id)} runs`))
      }
      stop('closed')
      return reply.code(200).send()
    },
  )

  app.get(
    '/info',
    {
      config: { access: 'read' },
      schema: {
        summary: "The server's identity (ksqlDB /info)",
        tags: ['ksqldb'],
        response: { 200: { description: 'Server info', content: both({ $ref: 'KsqlServerInfo#' }) } },
      },
    },
    async (request, reply) => {
      const info = {
        KsqlServerInfo: {
          version: o.version,
          kafkaClusterId: o.kafkaClusterId,
          ksqlServiceId: o.ksqlServiceId,
          serverStatus: sql.healthy ? 'RUNNING' : 'ERROR',
        },
      }
      const type = accepts(request, KSQL_V1) ? KSQL_V1 : 'application/json'
      return reply.code(200).type(`${type}; charset=utf-8`).send(JSON.stringify(info))
    },
  )

  app.get(
    '/healthcheck',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Health (ksqlDB /healthcheck): the engine (metastore) and the log (kafka); 503 when either fails',
        tags: ['ksqldb'],
        response: {
          200: { description: 'Healthy', content: both({ $ref: 'KsqlHealth#' }) },
          503: { description: 'Not healthy', content: both({ $ref: 'KsqlHealth#' }) },
        },
      },
    },
    async (request, reply) => {
      const metastore = sql.healthy
      const kafka = await withTimeout(app.state.logHealth(), HEALTH_TIMEOUT_MS).then(
        () => true,
        () => false,
      )
      const isHealthy = metastore && kafka
      const body = { isHealthy, details: { metastore: { isHealthy: metastore }, kafka: { isHealthy: kafka } } }
      const type = accepts(request, KSQL_V1) ? KSQL_V1 : 'application/json'
      return reply
        .code(isHealthy ? 200 : 503)
        .type(`${type}; charset=utf-8`)
        .send(JSON.stringify(body))
    },
  )
}
