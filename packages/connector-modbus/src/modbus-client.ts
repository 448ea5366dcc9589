/**
 * The Modbus TCP client the connector uses: a thin layer over modbus-serial (npm), which does the protocol (MBAP
 * framing, function codes, transaction ids, the timeout per request). Ours is what the connector needs around it:
 * one request at a time per client, the connection's lifetime, and modbus-serial's errors as our coded ones.
 *
 * - The socket is ours, handed to modbus-serial (`linkTCP`): so a connect has our timeout, and a connection that
 *   closes or resets fails the request in flight at once (modbus-serial would leave it to its timeout).
 * - Requests are sent one at a time per client (the connector keeps one client per unit id, so a unit that never
 *   answers only delays its own queue); the unit id is set (`setID`) and the timeout (`setTimeout`) before each.
 * - Errors: an exception response (modbus-serial's `modbusCode`) is an `OFA_MODBUS_EXCEPTION` carrying the code;
 *   no answer within the timeout (its `ETIMEDOUT`) an `OFA_MODBUS_TIMEOUT`, after which the connection is dropped
 *   (a late answer could otherwise be taken for the next request's); an answer of the wrong length, for another
 *   unit or function (its "Data length error", "Unexpected data error", "CRC error") or whose byte count does not
 *   match what was asked an `OFA_MODBUS_RESPONSE`; no connection an `OFA_MODBUS_CONNECT`.
 * - modbus-serial reads an MBAP header's length as given: a garbled header (length past any frame) is waited for
 *   until the timeout, so it shows as `OFA_MODBUS_TIMEOUT`, and the connection is dropped.
 */
import { createRequire } from 'node:module'
import net from 'node:net'
import { OpenFactoryError } from '@openfactory/model'
import type { ModbusRTU as ModbusRTUType } from 'modbus-serial/ModbusRTU.js'

// modbus-serial is CommonJS; its serial-port bindings are optional and never loaded for TCP.
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUType

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

export class ModbusTcpClient {
  readonly host: string
  readonly port: number
  #socket: net.Socket | null = null
  #modbus: ModbusRTUType | null = null
  /** Rejects the request in flight when the connection goes. */
  #abort: ((e: Error) => void) | null = null
  #chain: Promise<unknown> = Promise.resolve()

  constructor(host: string, port: number) {
    this.host = host
    this.port = port
  }

  get connected(): boolean {
    return this.#socket !== null && !this.#socket.destroyed && this.#modbus !== null
  }

  async connect(timeoutMs: number): Promise<void> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(
          new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: no connection within ${timeoutMs} ms`),
        )
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve(socket)
      })
      socket.on('error', (err) => {
        clearTimeout(timer)
        const e = new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: ${err.message}`, {
          retryable: true,
        })
        if (this.#socket !== socket) reject(e)
        else this.#fail(e)
      })
      socket.on('close', () => {
        if (this.#socket !== socket) return
        this.#socket = null
        this.#modbus = null
        this.#fail(new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: connection closed`))
      })
    })
    const modbus = new ModbusRTU()
    try {
      await modbus.linkTCP(socket, { host: this.host, port: this.port })
    } catch (err) {
      socket.destroy()
      throw new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: ${(err as Error).message}`)
    }
    this.#socket = socket
    this.#modbus = modbus
  }

  close(): void {
    const s = this.#socket
    const m = this.#modbus
    this.#socket = null
    this.#modbus = null
    // destroy() also cancels modbus-serial's timers for requests still in its table.
    m?.destroy(() => undefined)
    s?.destroy()
    this.#fail(new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: connection closed`))
  }

  #fail(e: Error): void {
    const abort = this.#abort
    this.#abort = null
    abort?.(e)
  }

  /** Runs `call` on the connection for `unitId` once the requests before it are done; errors come back coded. */
  #request<T>(unitId: number, fc: number, timeoutMs: number, call: (m: ModbusRTUType) => Promise<T>): Promise<T> {
    const run = () => this.#send(unitId, fc, timeoutMs, call)
    const p = this.#chain.then(run, run)
    this.#chain = p.catch(() => undefined)
    return p
  }

  #send<T>(unitId: number, fc: number, timeoutMs: number, call: (m: ModbusRTUType) => Promise<T>): Promise<T> {
    const modbus = this.#modbus
    if (!modbus || !this.connected) {
      return Promise.reject(new OpenFactoryError('OFA_MODBUS_CONNECT', `${this.host}:${this.port}: not connected`))
    }
    modbus.setID(unitId)
    modbus.setTimeout(timeoutMs)
    return new Promise<T>((resolve, reject) => {
      let done = false
      this.#abort = (e) => {
        if (done) return
        done = true
        reject(e)
      }
      call(modbus).then(
        (v) => {
          if (done) return
          done = true
          this.#abort = null
          resolve(v)
        },
        (err: unknown) => {
          if (done) return
          done = true
          this.#abort = null
          const e = this.#coded(unitId, fc, timeoutMs, err)
          // A late answer must not be read as the next request's: start over on a new connection.
          if (e.code === 'OFA_MODBUS_TIMEOUT') this.close()
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
