/**
 * A TCP client for one SHDR adapter: connects, splits the byte stream into lines, keeps the heartbeat, and
 * reconnects with backoff — what an MTConnect agent does for each of its adapters.
 *
 * Heartbeat (Adapter Agent Protocol, "Protocol"): on connecting we send `* PING`; an adapter that takes part
 * answers `* PONG <ms>`, its heartbeat. From then on we PING every heartbeat and declare the adapter dead when
 * nothing at all (data or PONG) arrived for 2 × heartbeat. An adapter that never answers is a legacy adapter: it
 * is declared dead after `legacyTimeoutMs` of silence. A dead, closed or refused connection is retried after an
 * exponential backoff with jitter (`Backoff`, capped), reset once a connection delivered a line.
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
  /** Silence after which an adapter that never answered PING is declared dead (default 600 000 ms). */
  readonly legacyTimeoutMs?: number
  /** A connection attempt that takes longer fails (default 5000 ms). */
  readonly connectTimeoutMs?: number
  /** Reconnection delays (default: 500 ms doubling up to 30 s, ±20 % jitter). */
  readonly backoff?: BackoffOptions
  /** A line longer than this (characters) is dropped and reported through `onOverflow` (default 1 MiB). */
  readonly maxLineChars?: number

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
  /** A line longer than `maxLineChars` was dropped. */
  readonly onOverflow?: (chars: number) => void
}

export interface ShdrClientStats {
  readonly connects: number
  readonly disconnects: number
  readonly failedAttempts: number
  readonly lines: number
  readonly chars: number
  readonly pongs: number
}

const PONG_PREFIX = '* PONG'

export class ShdrClient {
  readonly #opts: ShdrClientOptions
  readonly #backoff: Backoff
  readonly #maxLine: number
  #socket: net.Socket | undefined
  #connected = false
  #stopped = true
  #buf = ''
  #heartbeatMs: number | undefined
  #silence: NodeJS.Timeout | undefined
  #ping: NodeJS.Timeout | undefined
  #connectTimer: NodeJS.Timeout | undefined
  /** Aborts the wait before the next attempt. */
  #retryWait: AbortController | undefined
  #closed: Promise<void> = Promise.resolve()
  #gotLine = false
  #stats = { connects: 0, disconnects: 0, failedAttempts: 0, lines: 0, chars: 0, pongs: 0 }

  constructor(opts: ShdrClientOptions) {
    if (!opts.host) throw new TypeError('ShdrClient: host is required')
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
      throw new TypeError(`ShdrClient: port must be 1..65535, got ${opts.port}`)
    }
    this.#opts = opts
    this.#backoff = new Backoff(opts.backoff)
    this.#maxLine = opts.maxLineChars ?? 1024 * 1024
  }

  get connected(): boolean {
    return this.#connected
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
    this.#buf = ''
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
    socket.setEncoding('utf8')
    socket.setNoDelay(true)
    socket.on('connect', () => {
      clearTimeout(this.#connectTimer)
      this.#connected = true
      this.#stats.connects++
      socket.write('* PING\n')
      this.#armSilence(this.#opts.legacyTimeoutMs ?? 600_000)
      this.#opts.onConnect?.({ host, port, localPort: socket.localPort ?? 0 })
    })
    socket.on('data', (chunk: string) => this.#onData(chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => end(err.code ? `${err.code} ${err.message}` : err.message))
    socket.on('end', () => end('the adapter closed the connection'))
    socket.on('close', () => {
      end('the connection closed')
      resolveClosed()
    })
  }

  #armSilence(ms: number): void {
    clearTimeout(this.#silence)
    const hb = this.#heartbeatMs
    this.#silence = setTimeout(() => {
      const why =
        hb === undefined
          ? `no data for ${ms} ms (legacy adapter timeout)`
          : `no data or PONG for ${ms} ms (heartbeat ${hb} ms)`
      this.#socket?.destroy(new Error(why))
    }, ms)
  }

  #onData(chunk: string): void {
    const receivedAt = Date.now()
    this.#silence?.refresh()
    this.#stats.chars += chunk.length
    let data = this.#buf + chunk
    let nl = data.indexOf('\n')
    if (nl < 0) {
      if (data.length > this.#maxLine) {
        this.#opts.onOverflow?.(data.length)
        data = ''
      }
      this.#buf = data
      return
    }
    let start = 0
    while (nl >= 0) {
      const end = nl > start && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
      const line = data.slice(start, end)
      if (line.length > this.#maxLine) this.#opts.onOverflow?.(line.length)
      else this.#line(line, receivedAt)
      if (this.#socket?.destroyed || this.#stopped) return
      start = nl + 1
      nl = data.indexOf('\n', start)
    }
    let rest = data.slice(start)
    if (rest.length > this.#maxLine) {
      this.#opts.onOverflow?.(rest.length)
      rest = ''
    }
    this.#buf = rest
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
      this.#ping = setInterval(() => {
        const s = this.#socket
        if (s && !s.destroyed && this.#connected) s.write('* PING\n')
      }, hb)
    }
    this.#armSilence(2 * hb)
    this.#opts.onPong?.(announced)
  }
}

/** Creates a client; call `start()` to connect. */
export function createShdrClient(opts: ShdrClientOptions): ShdrClient {
  return new ShdrClient(opts)
}
