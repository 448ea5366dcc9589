/**
 * HTTP to an MTConnect agent: whole documents (probe, current, assets) and the streaming `sample` answer, each part
 * handed over as it completes — with the bounds that keep a broken or hostile agent from costing us more than one
 * document's worth of memory or a silent connection forever. The connector (agent-connector.ts) decides what to ask
 * and what the documents mean; this module only moves bytes.
 *
 * Streaming (MTConnect Standard Part 1, "HTTP long poll"): a `sample` request with `interval` is answered with
 * `Content-Type: multipart/x-mixed-replace;boundary=<b>` and a body that never ends (RFC 2046 §5.1 framing):
 *
 *   --<b>\r\n
 *   Content-type: text/xml\r\n
 *   Content-length: <n>\r\n
 *   \r\n
 *   <n bytes: an MTConnectStreams document>\r\n
 *   --<b>\r\n ...
 *
 * The agent sends a part when it has new observations (at most every `interval` ms) and an empty document every
 * `heartbeat` ms when it has none. Header names are case-insensitive; a part without Content-length ends at the
 * next delimiter line. A `--<b>--` delimiter closes the stream. An agent that refuses the request (an `OUT_OF_RANGE`
 * `from`) answers with one plain document instead, handed over as the only part.
 *
 * Bounds: a document or part larger than `maxBytes` (`MTCONNECT_MAX_DOCUMENT_BYTES`, 16 MiB, by default: a `current`
 * of a few thousand data items is well under 1 MiB, a full `sample` of 1000 observations about 200 KiB) is refused
 * as soon as its size is known — its Content-length, or the bytes received — and the connection closed. Headers of a
 * part are at most 16 KiB. A stream with no complete part for `stallMs` (twice the agent's heartbeat) is closed as
 * stalled; that clock runs only while we wait for the agent, not while the consumer holds a part (backpressure:
 * a consumer that does not ask for the next part leaves the socket unread, and TCP holds the agent back).
 *
 * Every failure is an `OFA_MTCONNECT_AGENT` error, retryable (the connector reconnects with backoff): refused,
 * timed out, closed, an HTTP status that is not 200 without a document, too large, stalled. An aborted `signal`
 * ends a request quietly (an `AbortError`).
 */
import http from 'node:http'
import { OpenFactoryError } from '@openfactory/model'

/**
 * The largest document (or multipart part) accepted from an agent: 16 MiB, in bytes. Past it the connection is
 * closed with `OFA_MTCONNECT_AGENT` and opened again (a document that large is a broken agent, not data).
 */
export const MTCONNECT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

/** The largest header block of one multipart part. */
const MAX_PART_HEADER_BYTES = 16 * 1024

/** Where an agent answers. */
export interface AgentEndpoint {
  readonly host: string
  readonly port: number
}

export interface AgentRequestOptions {
  readonly signal: AbortSignal
  /** The answer's status and headers must come within this (ms). */
  readonly connectTimeoutMs: number
  /** The largest document or part, in bytes. */
  readonly maxBytes: number
}

export interface AgentStreamOptions extends AgentRequestOptions {
  /** A stream with no complete part for this long (ms) is stalled. */
  readonly stallMs: number
}

/** A document as received. */
export interface AgentResponse {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/** `GET http://host:port/path`, as errors name a request. */
export function agentUrl(endpoint: AgentEndpoint, path: string): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
  return `http://${host}:${endpoint.port}${path}`
}

function agentError(what: string, message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_MTCONNECT_AGENT', `${what}: ${message}`, { retryable: true, cause })
}

function tooLarge(what: string, bytes: number, max: number): OpenFactoryError {
  return agentError(what, `a document of ${bytes} bytes or more is larger than the ${max} bytes accepted`)
}

/** What a socket error says, in words. */
function describeNetworkError(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ECONNRESET':
      return 'connection reset'
    case 'ETIMEDOUT':
      return 'connection timed out'
    case 'EHOSTUNREACH':
      return 'host unreachable'
    case 'ENOTFOUND':
      return 'host not found'
    default:
      return e.message || String(err)
  }
}

/** Whether a body is an MTConnect document, XML or JSON (an answer, also an error document with a 4xx/5xx status). */
function isDocument(contentType: string): boolean {
  return /\b(xml|json)\b/i.test(contentType)
}

/**
 * Opens a request and resolves with the response once its status and headers came. Rejects with
 * `OFA_MTCONNECT_AGENT` for a connection that fails or takes longer than `connectTimeoutMs`.
 */
function open(
  endpoint: AgentEndpoint,
  path: string,
  opts: AgentRequestOptions,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  const what = `GET ${agentUrl(endpoint, path)}`
  return new Promise((resolve, reject) => {
    // agent: false — one connection per request, closed with it: nothing stays open after the connector stops.
    const req = http.get({
      host: endpoint.host,
      port: endpoint.port,
      path,
      agent: false,
      headers: { Accept: 'application/xml, text/xml' },
      signal: opts.signal,
    })
    const timer = setTimeout(
      () => req.destroy(agentError(what, `no answer within ${opts.connectTimeoutMs} ms`)),
      opts.connectTimeoutMs,
    )
    req.on('response', (res) => {
      clearTimeout(timer)
      resolve({ req, res })
    })
    req.on('error', (err) => {
      clearTimeout(timer)
      if (opts.signal.aborted || (err as Error).name === 'AbortError') reject(err)
      else if (err instanceof OpenFactoryError) reject(err)
      else reject(agentError(what, describeNetworkError(err), err))
    })
  })
}

/** Reads a whole body, refusing more than `max` bytes. */
async function readBody(res: http.IncomingMessage, what: string, max: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length'])
  if (Number.isFinite(declared) && declared > max) throw tooLarge(what, declared, max)
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > max) throw tooLarge(what, size, max)
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof OpenFactoryError || (err as Error).name === 'AbortError') throw err
    throw agentError(what, `the answer broke off: ${describeNetworkError(err)}`, err)
  }
  return Buffer.concat(chunks, size)
}

/**
 * `GET path` of an agent, whole. Resolves with status, content type and text for a 200, and for any status whose
 * body is an XML or JSON document (an agent answers errors with an MTConnectError document); rejects with `OFA_MTCONNECT_AGENT` otherwise.
 */
export async function getAgentDocument(
  endpoint: AgentEndpoint,
  path: string,
  opts: AgentRequestOptions,
): Promise<AgentResponse> {
  const what = `GET ${agentUrl(endpoint, path)}`
  const { req, res } = await open(endpoint, path, opts)
  try {
    const contentType = String(res.headers['content-type'] ?? '')
    const status = res.statusCode ?? 0
    const body = await readBody(res, what, opts.maxBytes)
    if (status !== 200 && !isDocument(contentType)) {
      throw agentError(what, `HTTP ${status} ${res.statusMessage ?? ''}`.trim())
    }
    return { status, contentType, body: body.toString('utf8') }
  } finally {
    req.destroy()
  }
}

/**
 * `GET path` of a streaming request: yields each part's text as it completes (see the module comment). Ends when the
 * agent closes the stream; throws `OFA_MTCONNECT_AGENT` for a failure, a part too large, or a stall. Breaking out of
 * the loop (or aborting `signal`) closes the connection.
 */
export async function* streamAgentParts(
  endpoint: AgentEndpoint,
  path: string,
  opts: AgentStreamOptions,
): AsyncGenerator<string, void, undefined> {
  const what = `GET ${agentUrl(endpoint, path)}`
  const { req, res } = await open(endpoint, path, opts)
  let stalled: OpenFactoryError | undefined
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    timer = setTimeout(() => {
      stalled = agentError(what, `the stream stalled: no part for ${opts.stallMs} ms`)
      req.destroy(stalled)
    }, opts.stallMs)
  }
  try {
    const contentType = String(res.headers['content-type'] ?? '')
    const status = res.statusCode ?? 0
    const boundary = multipartBoundary(contentType)
    if (boundary === undefined) {
      // A plain document: an error (OUT_OF_RANGE...) or an agent that does not stream.
      const body = await readBody(res, what, opts.maxBytes)
      if (status !== 200 && !isDocument(contentType))
        throw agentError(what, `HTTP ${status} ${res.statusMessage ?? ''}`.trim())
      yield body.toString('utf8')
      return
    }
    const reader = new MultipartReader(boundary, opts.maxBytes, what)
    const chunks = (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    arm()
    for (;;) {
      let next: IteratorResult<Buffer>
      try {
        next = await chunks.next()
      } catch (err) {
        if (stalled) throw stalled
        if (err instanceof OpenFactoryError || (err as Error).name === 'AbortError') throw err
        throw agentError(what, `the stream broke off: ${describeNetworkError(err)}`, err)
      }
      if (next.done) break
      for (const part of reader.push(next.value)) {
        clearTimeout(timer)
        yield part.toString('utf8')
        arm()
      }
      if (reader.closed) break
    }
    if (stalled) throw stalled
  } finally {
    clearTimeout(timer)
    req.destroy()
  }
}

/** The `boundary` parameter of a `multipart/*` content type; undefined for another type. */
export function multipartBoundary(contentType: string): string | undefined {
  if (!/^\s*multipart\//i.test(contentType)) return undefined
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  return m ? (m[1] ?? m[2]) : undefined
}

const CRLF_CRLF = Buffer.from('\r\n\r\n')
const LF_LF = Buffer.from('\n\n')

/**
 * Cuts a multipart body into parts (RFC 2046 §5.1; see the module comment), chunk by chunk, holding at most one
 * part plus a delimiter. A part with Content-length is gathered as chunks and joined once; one without is searched
 * for the next delimiter, each chunk once.
 */
export class MultipartReader {
  readonly #delimiter: Buffer
  /** `\r\n--boundary`: where a part without Content-length ends. */
  readonly #closing: Buffer
  readonly #max: number
  readonly #what: string
  #state: 'delimiter' | 'headers' | 'body' = 'delimiter'
  /** Bytes not yet used, in the delimiter and headers states. */
  #pending: Buffer = Buffer.alloc(0)
  /** The body so far, in the body state. */
  #chunks: Buffer[] = []
  #size = 0
  /** The body's Content-length, or -1 for a body that ends at the next delimiter. */
  #length = -1
  #closed = false

  constructor(boundary: string, maxPartBytes: number, what = 'multipart stream') {
    this.#delimiter = Buffer.from(`--${boundary}`)
    this.#closing = Buffer.from(`\r\n--${boundary}`)
    this.#max = maxPartBytes
    this.#what = what
  }

  /** The closing delimiter (`--boundary--`) was read: no part follows. */
  get closed(): boolean {
    return this.#closed
  }

  /** Feeds a chunk; returns the parts it completed. Throws `OFA_MTCONNECT_AGENT` for a part or header too large. */
  push(chunk: Buffer): Buffer[] {
    const parts: Buffer[] = []
    let data: Buffer | undefined = chunk
    while (data !== undefined && data.length > 0 && !this.#closed) {
      if (this.#state === 'body') data = this.#body(data, parts)
      else {
        this.#pending = this.#pending.length === 0 ? data : Buffer.concat([this.#pending, data])
        data = this.#state === 'delimiter' ? this.#findDelimiter() : this.#headers()
      }
    }
    return parts
  }

  /** Looks for `--boundary` and the end of its line; returns what follows, or undefined to wait for more. */
  #findDelimiter(): Buffer | undefined {
    const p = this.#pending
    const at = p.indexOf(this.#delimiter)
    if (at < 0) {
      // Keep what could be the start of a delimiter; what comes before one (a preamble, a CRLF) is dropped.
      if (p.length > this.#delimiter.length) this.#pending = p.subarray(p.length - this.#delimiter.length)
      return undefined
    }
    const after = at + this.#delimiter.length
    if (p.length < after + 2) return undefined
    if (p[after] === 0x2d && p[after + 1] === 0x2d) {
      this.#closed = true
      this.#pending = Buffer.alloc(0)
      return undefined
    }
    const eol = p.indexOf(0x0a, after)
    if (eol < 0) {
      if (p.length - after > MAX_PART_HEADER_BYTES) {
        throw agentError(this.#what, 'a multipart delimiter line is longer than 16 KiB')
      }
      return undefined
    }
    this.#state = 'headers'
    const rest = p.subarray(eol + 1)
    this.#pending = Buffer.alloc(0)
    return rest
  }

  /** Reads the part's headers up to the empty line; returns what follows (the body), or undefined to wait. */
  #headers(): Buffer | undefined {
    const p = this.#pending
    // Headers may be empty: the body then starts right after the delimiter line's end.
    let end: number
    let skip: number
    if (p[0] === 0x0d && p[1] === 0x0a) {
      end = 0
      skip = 2
    } else if (p[0] === 0x0a) {
      end = 0
      skip = 1
    } else {
      const crlf = p.indexOf(CRLF_CRLF)
      const lf = p.indexOf(LF_LF)
      if (crlf >= 0 && (lf < 0 || crlf < lf)) {
        end = crlf
        skip = 4
      } else if (lf >= 0) {
        end = lf
        skip = 2
      } else {
        if (p.length > MAX_PART_HEADER_BYTES) {
          throw agentError(this.#what, 'the headers of a multipart part are longer than 16 KiB')
        }
        return undefined
      }
    }
    if (end > MAX_PART_HEADER_BYTES)
      throw agentError(this.#what, 'the headers of a multipart part are longer than 16 KiB')
    this.#length = -1
    for (const line of p.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const m = /^\s*content-length\s*:\s*(\d+)\s*$/i.exec(line)
      if (m) this.#length = Number(m[1])
    }
    if (this.#length > this.#max) throw tooLarge(this.#what, this.#length, this.#max)
    this.#state = 'body'
    this.#chunks = []
    this.#size = 0
    const rest = p.subarray(end + skip)
    this.#pending = Buffer.alloc(0)
    return rest
  }

  /** Gathers body bytes; on a complete part pushes it and returns what follows it. */
  #body(data: Buffer, parts: Buffer[]): Buffer | undefined {
    if (this.#length >= 0) {
      const need = this.#length - this.#size
      if (data.length < need) {
        this.#chunks.push(data)
        this.#size += data.length
        return undefined
      }
      this.#chunks.push(data.subarray(0, need))
      parts.push(Buffer.concat(this.#chunks, this.#length))
      this.#chunks = []
      this.#state = 'delimiter'
      return data.subarray(need)
    }
    // No Content-length: the part ends at `\r\n--boundary`, which may straddle two chunks.
    const overlap = this.#closing.length - 1
    const last = this.#chunks.at(-1)
    const tail = last ? last.subarray(Math.max(0, last.length - overlap)) : Buffer.alloc(0)
    const window = tail.length > 0 ? Buffer.concat([tail, data]) : data
    const at = window.indexOf(this.#closing)
    if (at < 0) {
      this.#chunks.push(data)
      this.#size += data.length
      if (this.#size > this.#max) throw tooLarge(this.#what, this.#size, this.#max)
      return undefined
    }
    // The delimiter starts `at` in the window: before it, `tail` (already gathered) then data.
    const inData = at - tail.length
    let body: Buffer
    if (inData >= 0) {
      this.#chunks.push(data.subarray(0, inData))
      body = Buffer.concat(this.#chunks)
    } else {
      body = Buffer.concat(this.#chunks).subarray(0, this.#size + inData)
    }
    if (body.length > this.#max) throw tooLarge(this.#what, body.length, this.#max)
    parts.push(body)
    this.#chunks = []
    this.#size = 0
    this.#state = 'delimiter'
    // What follows starts with the delimiter's `--boundary` (the CRLF before it belongs to it).
    return window.subarray(at + 2)
  }
}
