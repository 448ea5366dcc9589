/**
 * Our SHDR adapter: a TCP server that sends SHDR lines to every connected agent, as a machine's adapter does. It
 * answers `* PING` with `* PONG <heartbeat ms>`, greets each new client with a snapshot of the current state
 * (header commands, the last value of every key, active conditions, assets), and can replay an SHDR log
 * (`play`) in real time or faster, with the timestamps rewritten to now.
 *
 * The snapshot is kept without a device model, from the lines themselves: `key|value` pairs by key; a line whose
 * second field is a condition level (NORMAL, WARNING, FAULT, UNAVAILABLE) with up to 6 fields as a condition
 * (active entries by native code, NORMAL clearing them); `key|count|rate|v1 v2 ...` as a time series; any other
 * line with an odd number of fields (`message|code|text`) by its first key, whole.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { isoTimestamp, sleep } from '@openfactory/model'
import { type ShdrLine, ShdrStream } from './parser.ts'

export interface ShdrAdapterServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string
  /** 0 picks a free port (see `server.port`). */
  readonly port: number
  /** Announced in `* PONG` (default 10 000 ms). */
  readonly heartbeatMs?: number
  /** Lines every new client gets first (e.g. `* shdrVersion: 2`), before the remembered ones. */
  readonly headerLines?: readonly string[]
}

export interface ShdrPlayOptions {
  /** An SHDR log file... */
  readonly file?: string
  /** ...or its lines. */
  readonly lines?: readonly string[]
  /** 1 = real time from the file's timestamps, 10 = ten times faster, Infinity = as fast as possible. */
  readonly speed?: number
  /** Start again at the end, until `signal` aborts or the server closes. */
  readonly loop?: boolean
  /** Stamp each line with the time it is sent (default true). */
  readonly rewriteTimestamps?: boolean
  readonly signal?: AbortSignal
}

export interface ShdrPlayStats {
  readonly lines: number
  readonly loops: number
}

const LEVELS = new Set(['NORMAL', 'WARNING', 'FAULT', 'UNAVAILABLE'])
const SEP = '\u0000'

/** Quotes a field that would otherwise not survive splitting. */
function field(t: string): string {
  return t.includes('|') || t.startsWith('"') ? `"${t.replace(/["\\]/g, (c) => `\\${c}`)}"` : t
}

export class ShdrAdapterServer {
  readonly host: string
  readonly heartbeatMs: number
  readonly #server: net.Server
  readonly #headerLines: readonly string[]
  readonly #clients = new Set<net.Socket>()
  readonly #commands = new Map<string, string>()
  readonly #slots = new Map<string, string[]>()
  readonly #assets = new Map<string, { type: string; body: string }>()
  readonly #memory = new ShdrStream()
  readonly #closing = new AbortController()
  #responsive = true
  #port = 0
  #clientWaiters: (() => void)[] = []

  constructor(opts: ShdrAdapterServerOptions) {
    this.host = opts.host ?? '127.0.0.1'
    this.#port = opts.port
    this.heartbeatMs = opts.heartbeatMs ?? 10_000
    this.#headerLines = opts.headerLines ?? []
    this.#server = net.createServer((socket) => this.#accept(socket))
  }

  get port(): number {
    return this.#port
  }

  get clientCount(): number {
    return this.#clients.size
  }

  /** Starts listening; resolves with the server once it is. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#port, this.host, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    const addr = this.#server.address()
    if (addr && typeof addr === 'object') this.#port = addr.port
    return this
  }

  /**
   * Sends one line (without newline) to every client and remembers its effect for the snapshot. While not
   * responsive the line is remembered but not sent.
   */
  send(line: string): void {
    this.#remember(line)
    if (!this.#responsive) return
    const out = `${line}\n`
    for (const s of this.#clients) if (!s.destroyed) s.write(out)
  }

  /** Sends `timestamp|key|value|key|value...` (timestamp: `at`, default now). */
  sendValues(values: Readonly<Record<string, string | number>>, at: number = Date.now()): void {
    let line = isoTimestamp(at)
    for (const [k, v] of Object.entries(values)) line += `|${field(k)}|${field(String(v))}`
    this.send(line)
  }

  /** The lines a client gets when it connects (timestamps are now). */
  snapshot(): string[] {
    const now = isoTimestamp()
    const out = [...this.#headerLines]
    for (const [name, value] of this.#commands) out.push(`* ${name}: ${value}`)
    for (const tokens of this.#slots.values()) out.push(`${now}|${tokens.map(field).join('|')}`)
    let n = 0
    for (const [id, a] of this.#assets) {
      const marker = `--multiline--SNAP${++n}`
      out.push(`${now}|@ASSET@|${id}|${a.type}|${marker}`, ...a.body.split('\n'), marker)
    }
    return out
  }

  /** Forgets everything the snapshot would send. */
  clearSnapshot(): void {
    this.#commands.clear()
    this.#slots.clear()
    this.#assets.clear()
  }

  /**
   * False makes the adapter hang: it keeps its connections open but neither answers PING nor sends anything, as a
   * frozen machine controller does. True resumes.
   */
  setResponsive(on: boolean): void {
    this.#responsive = on
  }

  /** Drops every client connection (the server keeps listening). */
  disconnectClients(): void {
    for (const s of this.#clients) s.destroy()
    this.#clients.clear()
  }

  /** Resolves once at least `n` clients are connected; rejects after `timeoutMs`. */
  async waitForClients(n = 1, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.#clients.size < n) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${n} SHDR client(s) within ${timeoutMs} ms (have ${this.#clients.size})`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50))
        this.#clientWaiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Replays an SHDR log to the clients; see `ShdrPlayOptions`. Resolves when done (never for `loop` until aborted). */
  async play(opts: ShdrPlayOptions): Promise<ShdrPlayStats> {
    const lines = opts.lines ?? (opts.file ? readFileSync(opts.file, 'utf8').split(/\r?\n/) : [])
    const speed = opts.speed ?? 1
    const rewrite = opts.rewriteTimestamps ?? true
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#closing.signal]) : this.#closing.signal
    let sent = 0
    let loops = 0
    do {
      let firstTs: number | undefined
      let startWall = Date.now()
      let terminator: string | undefined
      for (const raw of lines) {
        if (signal.aborted) return { lines: sent, loops }
        if (terminator !== undefined) {
          if (raw.trimEnd() === terminator) terminator = undefined
          this.send(raw)
          sent++
          continue
        }
        if (raw.trim() === '') continue
        const bar = raw.indexOf('|')
        const head = bar < 0 ? '' : raw.slice(0, bar)
        const at = head.indexOf('@')
        const tsText = at >= 0 ? head.slice(0, at) : head
        const ts = tsText.includes('T')
          ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(tsText) ? tsText : `${tsText}Z`)
          : Number.NaN
        let line = raw
        if (Number.isFinite(ts)) {
          if (firstTs === undefined) {
            firstTs = ts
            startWall = Date.now()
          }
          if (Number.isFinite(speed) && speed > 0) {
            const wait = startWall + (ts - firstTs) / speed - Date.now()
            if (wait > 1) await sleep(wait, signal)
            if (signal.aborted) return { lines: sent, loops }
          }
          if (rewrite) line = isoTimestamp() + (at >= 0 ? head.slice(at) : '') + raw.slice(bar)
        }
        const multi = line.indexOf('--multiline--')
        if (multi >= 0 && line.includes('|@ASSET@|')) terminator = line.slice(multi).trimEnd()
        this.send(line)
        sent++
      }
      loops++
      if (!Number.isFinite(speed) && opts.loop) await sleep(0, signal) // let the event loop breathe
    } while (opts.loop && !signal.aborted)
    return { lines: sent, loops }
  }

  /** Closes every connection and the listening socket; stops `play`. */
  async close(): Promise<void> {
    this.#closing.abort()
    for (const s of this.#clients) s.destroy()
    this.#clients.clear()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #accept(socket: net.Socket): void {
    socket.setNoDelay(true)
    socket.setEncoding('utf8')
    this.#clients.add(socket)
    for (const w of this.#clientWaiters.splice(0)) w()
    let buf = ''
    socket.on('data', (chunk: string) => {
      buf += chunk
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (line === '* PING' && this.#responsive) socket.write(`* PONG ${this.heartbeatMs}\n`)
        nl = buf.indexOf('\n')
      }
      if (buf.length > 65_536) buf = ''
    })
    socket.on('error', () => {})
    socket.on('close', () => this.#clients.delete(socket))
    if (this.#responsive) {
      const snap = this.snapshot()
      if (snap.length > 0) socket.write(`${snap.join('\n')}\n`)
    }
  }

  #remember(text: string): void {
    const line: ShdrLine | undefined = this.#memory.push(text)
    if (!line) return
    switch (line.kind) {
      case 'command':
        this.#commands.set(line.name, line.value)
        return
      case 'asset':
        this.#assets.set(line.assetId, { type: line.assetType, body: line.body })
        return
      case 'remove-asset':
        this.#assets.delete(line.assetId)
        return
      case 'remove-all-assets':
        for (const [id, a] of this.#assets) if (!line.assetType || a.type === line.assetType) this.#assets.delete(id)
        return
      case 'data':
        this.#rememberData(line.tokens)
        return
      default:
        return
    }
  }

  #rememberData(t: readonly string[]): void {
    const key = t[0] as string
    const second = (t[1] ?? '').toUpperCase()
    const prefix = key + SEP
    const conditionSlots = (): boolean => [...this.#slots.keys()].some((s) => s.startsWith(prefix))
    if (LEVELS.has(second) && ((t.length >= 3 && t.length <= 6) || (t.length === 2 && conditionSlots()))) {
      const code = t[2] ?? ''
      const clearAll = (): void => {
        for (const slot of [...this.#slots.keys()]) if (slot.startsWith(prefix)) this.#slots.delete(slot)
      }
      if (second === 'NORMAL' || second === 'UNAVAILABLE') {
        if (second === 'UNAVAILABLE' || code === '') clearAll()
        else this.#slots.delete(prefix + code)
        if (!conditionSlots()) this.#slots.set(prefix, [...t])
      } else {
        this.#slots.delete(prefix)
        this.#slots.set(prefix + code, [...t])
      }
      return
    }
    const timeSeries = t.length === 4 && /^\d+$/.test(t[1] as string) && /\s/.test(t[3] as string)
    if (timeSeries || t.length % 2 === 1) {
      this.#slots.set(key, [...t])
      return
    }
    for (let i = 0; i + 1 < t.length; i += 2) this.#slots.set(t[i] as string, [t[i] as string, t[i + 1] as string])
  }
}

/** Creates our SHDR adapter and starts listening; `server.port` is the bound port. */
export async function createShdrAdapterServer(opts: ShdrAdapterServerOptions): Promise<ShdrAdapterServer> {
  return new ShdrAdapterServer(opts).listen()
}

/** Replays an SHDR log through a server (same as `server.play(opts)`). */
export function playShdrFile(server: ShdrAdapterServer, opts: ShdrPlayOptions): Promise<ShdrPlayStats> {
  return server.play(opts)
}

/** Splits SHDR text into lines (LF or CR LF), dropping a final empty line. */
export function shdrLines(text: string): string[] {
  const lines = text.split(/\r?\n/)
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}
