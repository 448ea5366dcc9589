/**
 * A TCP client for one SHDR adapter: connects, splits the byte stream into lines, keeps the heartbeat, and
 * reconnects with backoff — what an MTConnect agent does for each of its adapters.
 *
 * Heartbeat (Adapter Agent Protocol, "Protocol"): on connecting we send `* PING`; an adapter that takes part
 * answers `* PONG <ms>`, its heartbeat. From then on we PING every heartbeat, and a PING must be answered within
 * that heartbeat: when the next PING is due and nothing at all (data or PONG) arrived since the last one, the
 * adapter is declared dead instead — after one unanswered PING, within one heartbeat of it. (cppagent allows
 * 2 × heartbeat of silence, its `m_receiveTimeLimit`, which lets a second PING go unanswered and keeps a dead
 * adapter's device AVAILABLE twice as long as the adapter asked for.) An adapter that never answers is a legacy
 * adapter: it is declared dead after `legacyTimeoutMs` of silence (default 60 000 ms; cppagent waits 600 s, which
 * leaves a dead adapter's device AVAILABLE for ten minutes). A dead, closed or refused connection is retried after an
 * exponential backoff with jitter (`Backoff`, capped), reset once a connection delivered a line.
 *
 * Lines are split on LF in the byte stream, then read as UTF-8 (a CR before the LF is dropped). A line longer than
 * `maxLineBytes` (UTF-8 bytes, without its LF; default 1 MiB) is discarded through its LF, however many reads it
 * spans, and reported once with its length (`onOverflow`); the lines after it are read as usual.
 *
 * Backpressure (`backpressure`, the connector's context): after each chunk read, while the writer says the
 * connector is congested, the socket is paused — TCP's window then holds the adapter back — and resumed once it is
 * writable. A line is never split by it: at most one chunk (64 KiB) is read past the high-water mark. While paused
 * the silence timer is off and an unanswered PING is not held against the adapter: we stopped reading, not the
 * adapter writing. PINGs still go out.
 *
 * Events go to the handler functions of the options object, synchronously and in order: `onConnect`, then
 * `onLine` for every line (PONG lines included, so line numbers match the stream), then one `onDisconnect` with
 * the reason; `onConnectFailed` for attempts that never connected. `stop()` ends everything without an
 * `onDisconnect`.
 */
import net from 'node:net'
import { Backoff, type BackoffOptions, sleep } from '@openfactory/model'

export interface ShdrClientOptions {
  readonly host: string
  readonly port: number
  /** Overrides the heartbeat the adapter announces in its PONG (as the agent's `Heartbeat` option does). */
  readonly heartbeatMs?: number
  /** Silence after which an adapter that never answered PING is declared dead (default `SHDR_LEGACY_TIMEOUT_MS`). */
  readonly legacyTimeoutMs?: number
  /** A connection attempt that takes longer fails (default 5000 ms). */
  readonly connectTimeoutMs?: number
  /** Reconnection delays (default: 500 ms doubling up to 30 s, ±20 % jitter). */
  readonly backoff?: BackoffOptions
  /** A line longer than this, in UTF-8 bytes, is discarded and reported through `onOverflow` (default 1 MiB). */
  readonly maxLineBytes?: number
  /** Tells the client to stop reading while what it delivered waits for the log (a `ConnectorContext` is one). */
  readonly backpressure?: ShdrBackpressure

  /** Connected (TCP established, `* PING` sent). */
  readonly onConnect?: (info: { readonly host: string; readonly port: number; readonly localPort: number }) => void
  /** One line, without its CR LF / LF. `receivedAt` is epoch ms of the chunk it came in. */
  readonly onLine: (line: string, receivedAt: number) => void
  /** The adapter answered a PING; `heartbeatMs` is what it announced. */
  readonly onPong?: (heartbeatMs: number) => void
  /** An established connection ended (closed by the adapter, error, heartbeat timeout). */
  readonly onDisconnect?: (reason: string) => void
  /** A connection attempt failed; the next is in `retryInMs`. */
  readonly onConnectFailed?: (reason: string, retryInMs: number) => void
  /** A line longer than `maxLineBytes` was discarded; `bytes`: its length (so far, if the connection ended in it). */
  readonly onOverflow?: (bytes: number) => void
}

/** What the client asks before reading on (see the module comment). */
export interface ShdrBackpressure {
  readonly congested: boolean
  whenWritable(): Promise<void>
}

/** How long a legacy adapter (one that never answers PING) may stay silent before it is declared dead. */
export const SHDR_LEGACY_TIMEOUT_MS = 60_000
/** The longest SHDR line read, in UTF-8 bytes without its LF (1 MiB). */
export const SHDR_MAX_LINE_BYTES = 1024 * 1024

export interface ShdrClientStats {
  readonly connects: number
  readonly disconnects: number
  readonly failedAttempts: number
  readonly lines: number
  /** Bytes read. */
  readonly bytes: number
  readonly pongs: number
  /** Times the socket was paused because the connector was congested. */
  readonly pauses: number
}

const PONG_PREFIX = '* PONG'

export class ShdrClient {
  readonly #opts: ShdrClientOptions
  readonly #backoff: Backoff
  readonly #maxLine: number
  #socket: net.Socket | undefined
  #connected = false
  #stopped = true
  /** The start of the line being read, in pieces, and their size. */
  #partial: Buffer[] = []
  #partialBytes = 0
  /** Discarding a too-long line through its LF: its length so far; -1 when not. */
  #discarding = -1
  #silenceMs = 0
  /** The socket paused for backpressure, if any. */
  #pausedSocket: net.Socket | undefined
  #heartbeatMs: number | undefined
  #silence: NodeJS.Timeout | undefined
  #ping: NodeJS.Timeout | undefined
  /** Something (data or PONG) arrived since the last PING we sent. */
  #answered = true
  #connectTimer: NodeJS.Timeout | undefined
  /** Aborts the wait before the next attempt. */
  #retryWait: AbortController | undefined
  #closed: Promise<void> = Promise.resolve()
  #gotLine = false
  #stats = { connects: 0, disconnects: 0, failedAttempts: 0, lines: 0, bytes: 0, pongs: 0, pauses: 0 }

  constructor(opts: ShdrClientOptions) {
    if (!opts.host) throw new TypeError('ShdrClient: host is required')
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
      throw new TypeError(`ShdrClient: port must be 1..65535, got ${opts.port}`)
    }
    this.#opts = opts
    this.#backoff = new Backoff(opts.backoff)
    this.#maxLine = opts.maxLineBytes ?? SHDR_MAX_LINE_BYTES
  }

  get connected(): boolean {
    return this.#connected
  }

  /** True while the socket is paused because the connector is congested. */
  get paused(): boolean {
    return this.#pausedSocket !== undefined && this.#pausedSocket === this.#socket
  }

  /** The heartbeat in force (from the last PONG, or the override); undefined before any PONG. */
  get heartbeatMs(): number | undefined {
    return this.#heartbeatMs
  }

  stats(): ShdrClientStats {
    return { ...this.#stats }
  }

  /** Starts connecting (and reconnecting). Calling it twice does nothing. */
  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#connect()
  }

  /** Closes the connection and stops reconnecting. Resolves when the socket is closed. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#retryWait?.abort()
    this.#clearTimers()
    const s = this.#socket
    if (s && !s.destroyed) s.destroy()
    this.#connected = false
    await this.#closed
  }

  /** Writes one line to the adapter (a newline is added). False when not connected. */
  send(line: string): boolean {
    const s = this.#socket
    if (!this.#connected || !s || s.destroyed) return false
    s.write(`${line}\n`)
    return true
  }

  #clearTimers(): void {
    clearTimeout(this.#silence)
    clearInterval(this.#ping)
    clearTimeout(this.#connectTimer)
    this.#silence = undefined
    this.#ping = undefined
    this.#connectTimer = undefined
  }

  #connect(): void {
    if (this.#stopped) return
    const { host, port } = this.#opts
    const socket = net.createConnection({ host, port })
    this.#socket = socket
    this.#partial = []
    this.#partialBytes = 0
    this.#discarding = -1
    this.#gotLine = false
    this.#heartbeatMs = undefined
    let resolveClosed: () => void = () => {}
    this.#closed = new Promise((r) => {
      resolveClosed = r
    })
    let ended = false
    const end = (reason: string): void => {
      if (ended) return
      ended = true
      const wasConnected = this.#connected
      this.#connected = false
      this.#clearTimers()
      if (!socket.destroyed) socket.destroy()
      if (this.#stopped) return
      if (this.#discarding >= 0 && socket === this.#socket) {
        this.#opts.onOverflow?.(this.#discarding)
        this.#discarding = -1
      }
      const delay = this.#backoff.next()
      if (wasConnected) {
        this.#stats.disconnects++
        this.#opts.onDisconnect?.(reason)
      } else {
        this.#stats.failedAttempts++
        this.#opts.onConnectFailed?.(reason, delay)
      }
      const wait = new AbortController()
      this.#retryWait = wait
      void sleep(delay, wait.signal).then(() => {
        if (!wait.signal.aborted) this.#connect()
      })
    }
    this.#connectTimer = setTimeout(
      () => end(`connection to ${host}:${port} timed out`),
      this.#opts.connectTimeoutMs ?? 5000,
    )
    socket.setNoDelay(true)
    socket.on('connect', () => {
      clearTimeout(this.#connectTimer)
      this.#connected = true
      this.#stats.connects++
      socket.write('* PING\n')
      this.#armSilence(this.#opts.legacyTimeoutMs ?? SHDR_LEGACY_TIMEOUT_MS)
      this.#opts.onConnect?.({ host, port, localPort: socket.localPort ?? 0 })
    })
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => end(err.code ? `${err.code} ${err.message}` : err.message))
    socket.on('end', () => end('the adapter closed the connection'))
    socket.on('close', () => {
      end('the connection closed')
      resolveClosed()
    })
  }

  #armSilence(ms: number): void {
    clearTimeout(this.#silence)
    this.#silenceMs = ms
    // Only a legacy adapter's silence is timed: with a heartbeat, the PINGs keep the watch (#heartbeat).
    this.#silence = setTimeout(() => {
      this.#socket?.destroy(new Error(`no data for ${ms} ms (legacy adapter timeout)`))
    }, ms)
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    const receivedAt = Date.now()
    this.#answered = true
    this.#silence?.refresh()
    this.#stats.bytes += chunk.length
    let start = 0
    let nl = chunk.indexOf(10)
    while (nl >= 0) {
      const bytes = this.#partialBytes + nl - start
      if (this.#discarding >= 0) {
        this.#opts.onOverflow?.(this.#discarding + nl - start)
        this.#discarding = -1
      } else if (bytes > this.#maxLine) this.#opts.onOverflow?.(bytes)
      else {
        const text =
          this.#partialBytes === 0
            ? chunk.toString('utf8', start, nl)
            : Buffer.concat([...this.#partial, chunk.subarray(start, nl)]).toString('utf8')
        this.#line(text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text, receivedAt)
      }
      this.#partial = []
      this.#partialBytes = 0
      if (socket.destroyed || this.#stopped) return
      start = nl + 1
      nl = chunk.indexOf(10, start)
    }
    const rest = chunk.length - start
    if (rest > 0) {
      if (this.#discarding >= 0) this.#discarding += rest
      else if (this.#partialBytes + rest > this.#maxLine) {
        // Too long already: nothing of it is kept, the rest of it (up to its LF) is discarded as it comes.
        this.#discarding = this.#partialBytes + rest
        this.#partial = []
        this.#partialBytes = 0
      } else {
        this.#partial.push(chunk.subarray(start))
        this.#partialBytes += rest
      }
    }
    if (this.#opts.backpressure?.congested) this.#pause(socket)
  }

  /** Stops reading until the connector is writable again; the silence timer waits with us. */
  #pause(socket: net.Socket): void {
    const bp = this.#opts.backpressure
    if (!bp || this.#pausedSocket === socket) return
    this.#pausedSocket = socket
    this.#stats.pauses++
    socket.pause()
    clearTimeout(this.#silence)
    void bp.whenWritable().then(() => {
      if (this.#pausedSocket === socket) this.#pausedSocket = undefined
      if (socket !== this.#socket || socket.destroyed || this.#stopped) return
      if (this.#heartbeatMs === undefined) this.#armSilence(this.#silenceMs)
      socket.resume()
    })
  }

  #line(line: string, receivedAt: number): void {
    this.#stats.lines++
    if (!this.#gotLine) {
      this.#gotLine = true
      this.#backoff.reset()
    }
    if (line.charCodeAt(0) === 42 && line.startsWith(PONG_PREFIX)) this.#pong(line)
    this.#opts.onLine(line, receivedAt)
  }

  #pong(line: string): void {
    const announced = Number(line.slice(PONG_PREFIX.length).trim())
    if (!Number.isInteger(announced) || announced <= 0) return // the stream reports the malformed line
    this.#stats.pongs++
    const hb = this.#opts.heartbeatMs ?? announced
    if (hb !== this.#heartbeatMs) {
      this.#heartbeatMs = hb
      clearInterval(this.#ping)
      this.#ping = setInterval(() => this.#heartbeat(hb), hb)
    }
    // With a heartbeat the PINGs keep the watch (#heartbeat); the legacy silence timer is off.
    clearTimeout(this.#silence)
    this.#silence = undefined
    this.#answered = true
    this.#opts.onPong?.(announced)
  }

  /** A PING is due: the last one must have been answered (anything received) since, else the adapter is dead. */
  #heartbeat(hb: number): void {
    const s = this.#socket
    if (!s || s.destroyed || !this.#connected) return
    if (!this.#answered && !this.paused) {
      s.destroy(new Error(`no PONG or data within ${hb} ms of a PING (heartbeat ${hb} ms)`))
      return
    }
    this.#answered = false
    s.write('* PING\n')
  }
}

/** Creates a client; call `start()` to connect. */
export function createShdrClient(opts: ShdrClientOptions): ShdrClient {
  return new ShdrClient(opts)
}
