/**
 * The Modbus TCP client the connector uses: a thin layer over modbus-serial (npm), which does the protocol (MBAP
 * framing, function codes, matching an answer to its request by transaction id, the timeout per request). Ours is
 * what the connector needs around it: one queue per unit id on a connection several units may share, the
 * connection's lifetime, a check of every response header, and modbus-serial's errors as our coded ones.
 *
 * - Several units, one connection (a gateway), `pipelined`: each unit id has its own queue (one request of that
 *   unit at a time, reads and writes in order), and the queues' requests are in flight together on the connection:
 *   modbus-serial keeps a table of requests by transaction id, starts each request's timer when it is sent, and
 *   hands each answer to the request of its id. So a unit that stops answering delays only its own queue (by its
 *   own `timeoutMs`), never another unit's. The server must take several transactions in flight (the Modbus TCP
 *   spec lets it; pymodbus 3.16's server does not: it decodes one frame per TCP read). Not pipelined, one queue
 *   serves every unit, one request at a time: any server, but a dead unit delays the others by its timeout. The
 *   connector may instead give each unit a client of its own (the default, `connection: per_unit`).
 * - Transaction ids: modbus-serial numbers requests modulo 256. The id of a request that timed out is kept out of
 *   use on that connection (quarantined), since its late answer may still come and must not be taken for a newer
 *   request's; ids of requests in flight are skipped too. When `MAX_QUARANTINED` ids are quarantined the connection
 *   is retired: new requests go to a new connection, the old one is closed once its requests are done.
 * - A timeout drops the connection only when the connection was silent: nothing at all came back on it since the
 *   request was sent, and either no other request is waiting (in flight, or queued behind it when not pipelined:
 *   the only unit dead, as good as a fresh start) or an earlier timeout was just as silent and nothing came back
 *   since (a dead link). While other units answer, a dead unit's timeouts leave the connection alone, `shared`
 *   included: there the others' requests wait behind the dead unit's and are answered between its timeouts.
 * - The socket is ours, handed to modbus-serial (`linkTCP`): so a connect has our timeout, and a connection that
 *   closes or resets fails every request in flight at once (modbus-serial would leave them to their timeouts).
 * - Every response header is checked before modbus-serial reads it: a protocol id other than 0 or a length outside
 *   3-254 bytes (unit id and a PDU of at most 253 bytes) means the byte stream can no longer be framed (modbus-serial
 *   would take the length as given and wait for the bytes until the timeout). Every request in flight fails with
 *   `OFA_MODBUS_RESPONSE` and the connection is remade.
 * - Errors: an exception response (modbus-serial's `modbusCode`) is an `OFA_MODBUS_EXCEPTION` carrying the code;
 *   no answer within the timeout (its `ETIMEDOUT`) an `OFA_MODBUS_TIMEOUT`; an answer of the wrong length, for
 *   another unit or function (its "Data length error", "Unexpected data error", "CRC error"), whose byte count does
 *   not match what was asked, or a malformed header an `OFA_MODBUS_RESPONSE`; no connection an `OFA_MODBUS_CONNECT`.
 */
import { createRequire } from 'node:module'
import net from 'node:net'
import { OpenFactoryError } from '@openfactory/model'
import type { ModbusRTU as ModbusRTUType } from 'modbus-serial/ModbusRTU.js'

// modbus-serial is CommonJS; its serial-port bindings are optional and never loaded for TCP.
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUType

/** modbus-serial's transaction ids run 0-255 (ports/tcpport.js, MAX_TRANSACTIONS). */
export const TRANSACTION_IDS = 256
/** Quarantined transaction ids (requests that timed out) a connection may hold before it is replaced. */
export const MAX_QUARANTINED = 128
/** The MBAP length field counts the unit id and the PDU: at least 3 bytes (an exception), at most 1 + 253. */
export const MIN_MBAP_LENGTH = 3
export const MAX_MBAP_LENGTH = 254
const MBAP_HEADER = 6

/** modbus-serial's TCP port: the next transaction id is its `_transactionIdWrite` (pinned 8.0.25). */
interface TcpPortInternals {
  _transactionIdWrite: number
}

export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
}

export const FC = {
  readCoils: 1,
  readDiscreteInputs: 2,
  readHoldingRegisters: 3,
  readInputRegisters: 4,
  writeSingleCoil: 5,
  writeSingleRegister: 6,
  writeMultipleCoils: 15,
  writeMultipleRegisters: 16,
} as const

interface Pending {
  readonly fail: (e: Error) => void
}

/** One TCP connection and modbus-serial's state on it. */
class Link {
  readonly socket: net.Socket
  modbus: ModbusRTUType | null = null
  /** Requests in flight, by transaction id. */
  readonly pending = new Map<number, Pending>()
  /** Transaction ids of requests that timed out: a late answer may still come with one. */
  readonly quarantined = new Set<number>()
  /** performance.now() of the last whole frame received. */
  lastFrameAt = 0
  /** performance.now() when the last timed-out request that nothing came back during was sent (null: none yet). */
  silentSince: number | null = null
  /** Bytes of a frame not yet whole (at most a header and 254 bytes: a longer length is refused). */
  rx: Buffer = Buffer.alloc(0)
  /** No new requests; closed once `pending` is empty. */
  retiring = false
  closed = false

  constructor(socket: net.Socket) {
    this.socket = socket
  }
}

export class ModbusTcpClient {
  readonly host: string
  readonly port: number
  readonly #connectTimeoutMs: number
  readonly #pipelined: boolean
  /** The connection new requests go to. */
  #link: Link | null = null
  #connecting: Promise<Link> | null = null
  /** close() was called: requests no longer connect on their own. */
  #closed = false
  /** Each unit's queue: the promise of its last request. */
  readonly #queues = new Map<number, Promise<unknown>>()
  /** Requests waiting in the queues, not yet sent. */
  #waiting = 0
  /** Connections opened since this client was made (the connector's `stats()`). */
  connections = 0

  /**
   * `pipelined`: each unit id its own queue, the queues' requests in flight together (the server must take several
   * transactions at once); else one queue for every unit, one request at a time on the connection.
   */
  constructor(host: string, port: number, opts: { connectTimeoutMs?: number; pipelined?: boolean } = {}) {
    this.host = host
    this.port = port
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 5000
    this.#pipelined = opts.pipelined ?? false
  }

  get connected(): boolean {
    const l = this.#link
    return l !== null && !l.closed && !l.socket.destroyed && l.modbus !== null
  }

  /** Opens the connection unless one is open; callers at the same time share one attempt. */
  async connect(timeoutMs = this.#connectTimeoutMs): Promise<void> {
    this.#closed = false
    await this.#ensure(timeoutMs)
  }

  #ensure(timeoutMs: number): Promise<Link> {
    if (this.connected) return Promise.resolve(this.#link as Link)
    if (!this.#connecting) {
      this.#connecting = this.#open(timeoutMs).finally(() => {
        this.#connecting = null
      })
    }
    return this.#connecting
  }

  async #open(timeoutMs: number): Promise<Link> {
    const where = `${this.host}:${this.port}`
    const link = await new Promise<Link>((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port })
      const link = new Link(socket)
      let open = false
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new OpenFactoryError('OFA_MODBUS_CONNECT', `${where}: no connection within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        open = true
        resolve(link)
      })
      // Registered before modbus-serial's own listener: a header is checked before modbus-serial reads it.
      socket.on('data', (chunk: Buffer) => this.#frames(link, chunk))
      socket.on('error', (err) => {
        clearTimeout(timer)
        const e = new OpenFactoryError('OFA_MODBUS_CONNECT', `${where}: ${err.message}`, { retryable: true })
        if (!open) reject(e)
        else this.#drop(link, e)
      })
      socket.on('close', () => {
        this.#drop(link, new OpenFactoryError('OFA_MODBUS_CONNECT', `${where}: connection closed`))
      })
    })
    const modbus = new ModbusRTU()
    try {
      await modbus.linkTCP(link.socket, { host: this.host, port: this.port })
    } catch (err) {
      link.socket.destroy()
      throw new OpenFactoryError('OFA_MODBUS_CONNECT', `${where}: ${(err as Error).message}`)
    }
    if (this.#closed) link.socket.destroy() // close() came while connecting
    if (link.closed || this.#closed) throw new OpenFactoryError('OFA_MODBUS_CONNECT', `${where}: connection closed`)
    link.modbus = modbus
    this.connections++
    this.#link = link
    return link
  }

  /** Closes the connection and fails the requests in flight; requests after this fail until `connect()`. */
  close(): void {
    this.#closed = true
    const l = this.#link
    if (l) this.#drop(l, new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: connection closed`))
  }

  /** Ends `link`: every request in flight on it fails with `e`. */
  #drop(link: Link, e: Error): void {
    if (this.#link === link) this.#link = null
    if (link.closed) return
    link.closed = true
    // destroy() also cancels modbus-serial's timers for requests still in its table.
    link.modbus?.destroy(() => undefined)
    link.socket.destroy()
    for (const p of [...link.pending.values()]) p.fail(e)
  }

  /** No new requests on `link`; it closes once the ones in flight are done. */
  #retire(link: Link): void {
    if (this.#link === link) this.#link = null
    link.retiring = true
    if (link.pending.size === 0) {
      this.#drop(link, new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: connection retired`))
    }
  }

  /** Checks each response header as bytes arrive; a header that cannot be framed ends the connection. */
  #frames(link: Link, chunk: Buffer): void {
    if (link.closed) return
    link.rx = link.rx.length === 0 ? chunk : Buffer.concat([link.rx, chunk])
    while (link.rx.length >= MBAP_HEADER) {
      const protocol = link.rx.readUInt16BE(2)
      const length = link.rx.readUInt16BE(4)
      if (protocol !== 0 || length < MIN_MBAP_LENGTH || length > MAX_MBAP_LENGTH) {
        const tx = link.rx.readUInt16BE(0)
        this.#drop(
          link,
          new OpenFactoryError(
            'OFA_MODBUS_RESPONSE',
            `${this.host}:${this.port}: a malformed response header (transaction ${tx}, protocol id ${protocol}, length ${length}; a protocol id must be 0, a length ${MIN_MBAP_LENGTH}-${MAX_MBAP_LENGTH}): the connection is remade`,
          ),
        )
        return
      }
      if (link.rx.length < MBAP_HEADER + length) return
      link.rx = link.rx.subarray(MBAP_HEADER + length)
      link.lastFrameAt = performance.now()
    }
  }

  /** Runs `call` for `unitId` once the requests before it in its queue are done; errors come back coded. */
  #request<T>(unitId: number, fc: number, timeoutMs: number, call: (m: ModbusRTUType) => Promise<T>): Promise<T> {
    const queue = this.#pipelined ? unitId : -1
    this.#waiting++
    const run = () => {
      this.#waiting--
      return this.#send(unitId, fc, timeoutMs, call)
    }
    const before = this.#queues.get(queue) ?? Promise.resolve()
    const p = before.then(run, run)
    // One entry per unit id (at most 256), kept: its settled tail holds nothing else.
    this.#queues.set(
      queue,
      p.catch(() => undefined),
    )
    return p
  }

  #send<T>(unitId: number, fc: number, timeoutMs: number, call: (m: ModbusRTUType) => Promise<T>): Promise<T> {
    if (this.connected) return this.#sendOn(this.#link as Link, unitId, fc, timeoutMs, call)
    if (this.#closed) {
      return Promise.reject(new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: not connected`))
    }
    // A connection retired or dropped meanwhile is remade here rather than failing the request.
    return this.#ensure(this.#connectTimeoutMs).then((link) => this.#sendOn(link, unitId, fc, timeoutMs, call))
  }

  #sendOn<T>(
    link: Link,
    unitId: number,
    fc: number,
    timeoutMs: number,
    call: (m: ModbusRTUType) => Promise<T>,
  ): Promise<T> {
    const modbus = link.modbus as ModbusRTUType
    const port = (modbus as unknown as { _port: TcpPortInternals })._port
    let tries = 0
    while (link.pending.has(port._transactionIdWrite) || link.quarantined.has(port._transactionIdWrite)) {
      if (++tries >= TRANSACTION_IDS) {
        this.#retire(link)
        return Promise.reject(
          new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: no free transaction id`, {
            retryable: true,
          }),
        )
      }
      port._transactionIdWrite = (port._transactionIdWrite + 1) % TRANSACTION_IDS
    }
    const id = port._transactionIdWrite
    // modbus-serial reads the unit id and the timeout when the request is written, synchronously, below.
    modbus.setID(unitId)
    modbus.setTimeout(timeoutMs)
    return new Promise<T>((resolve, reject) => {
      const sentAt = performance.now()
      let done = false
      const finish = () => {
        done = true
        link.pending.delete(id)
        if (link.retiring && link.pending.size === 0) this.#retire(link)
      }
      link.pending.set(id, {
        fail: (e) => {
          if (done) return
          finish()
          reject(e)
        },
      })
      call(modbus).then(
        (v) => {
          if (done) return
          finish()
          resolve(v)
        },
        (err: unknown) => {
          if (done) return
          const e = this.#coded(unitId, fc, timeoutMs, err)
          if (e.code === 'OFA_MODBUS_TIMEOUT') {
            // Its answer may come late: the id is not used again on this connection.
            link.quarantined.add(id)
            finish()
            // Nothing came back on the connection while this waited: start over when nothing else waits (in
            // flight, or queued behind it when not pipelined), or when an earlier timeout was just as silent and
            // nothing came back since (a dead link). Other units answering between a dead unit's timeouts keep it.
            const silent = link.lastFrameAt < sentAt
            const again = silent && link.silentSince !== null && link.lastFrameAt < link.silentSince
            if (silent && !again) link.silentSince = sentAt
            if (silent && (again || (link.pending.size === 0 && this.#waiting === 0))) {
              this.#drop(link, new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: silent`))
            } else if (link.quarantined.size >= MAX_QUARANTINED) this.#retire(link)
          } else finish()
          reject(e)
        },
      )
    })
  }

  /** modbus-serial's error for a request, as ours. */
  #coded(unitId: number, fc: number, timeoutMs: number, err: unknown): OpenFactoryError {
    const e = err as { modbusCode?: unknown; errno?: unknown; message?: unknown }
    if (typeof e.modbusCode === 'number') return new ModbusException(unitId, fc, e.modbusCode)
    if (e.errno === 'ETIMEDOUT') {
      return new OpenFactoryError('OFA_MODBUS_TIMEOUT', `unit ${unitId}: no response within ${timeoutMs} ms`, {
        retryable: true,
      })
    }
    const message = String(e.message ?? err)
    if (message.startsWith('Data length error')) return wrongLength(unitId, message)
    if (message.startsWith('Unexpected data error') || message.startsWith('CRC error')) {
      return new OpenFactoryError('OFA_MODBUS_RESPONSE', `unit ${unitId}: ${message} (function ${fc})`)
    }
    return new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: ${message}`, { retryable: true })
  }

  async readRegisters(unitId: number, fc: 3 | 4, address: number, count: number, timeoutMs: number): Promise<number[]> {
    const res = await this.#request(unitId, fc, timeoutMs, (m) =>
      fc === 3 ? m.readHoldingRegisters(address, count) : m.readInputRegisters(address, count),
    )
    // modbus-serial checks the frame's length; the byte count inside it is ours to check.
    if (res.data.length !== count || res.buffer.length !== count * 2) {
      throw wrongLength(unitId, `${count} registers asked, ${res.buffer.length} bytes sent`)
    }
    return res.data
  }

  async readBits(unitId: number, fc: 1 | 2, address: number, count: number, timeoutMs: number): Promise<boolean[]> {
    const res = await this.#request(unitId, fc, timeoutMs, (m) =>
      fc === 1 ? m.readCoils(address, count) : m.readDiscreteInputs(address, count),
    )
    const bytes = Math.ceil(count / 8)
    if (res.buffer.length !== bytes || res.data.length < count) {
      throw wrongLength(unitId, `${count} bits asked, ${res.buffer.length} bytes sent`)
    }
    // Bits travel in whole bytes: the padding past `count` is not ours.
    return res.data.slice(0, count)
  }

  async writeRegisters(unitId: number, address: number, words: readonly number[], timeoutMs: number): Promise<void> {
    if (words.length === 1) {
      await this.#request(unitId, FC.writeSingleRegister, timeoutMs, (m) =>
        m.writeRegister(address, words[0] as number),
      )
      return
    }
    await this.#request(unitId, FC.writeMultipleRegisters, timeoutMs, (m) => m.writeRegisters(address, [...words]))
  }

  async writeCoils(unitId: number, address: number, bits: readonly boolean[], timeoutMs: number): Promise<void> {
    if (bits.length === 1) {
      await this.#request(unitId, FC.writeSingleCoil, timeoutMs, (m) => m.writeCoil(address, bits[0] as boolean))
      return
    }
    await this.#request(unitId, FC.writeMultipleCoils, timeoutMs, (m) => m.writeCoils(address, [...bits]))
  }
}

/** An exception response (`OFA_MODBUS_EXCEPTION`): the device understood the request and refused it. */
export class ModbusException extends OpenFactoryError {
  readonly exceptionCode: number
  constructor(unitId: number, fc: number, code: number) {
    super(
      'OFA_MODBUS_EXCEPTION',
      `unit ${unitId}: exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown'}) to function ${fc}`,
    )
    this.exceptionCode = code
  }
}

function wrongLength(unitId: number, detail: string): OpenFactoryError {
  return new OpenFactoryError('OFA_MODBUS_RESPONSE', `unit ${unitId}: a response of the wrong length: ${detail}`)
}
