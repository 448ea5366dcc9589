/**
 * The Modbus TCP connector: one asset per device, its register map polled in the fewest requests (planner.ts),
 * writable fields offered as methods.
 *
 * One poll loop per unit id, on a connection of its own (`connection: per_unit`, the default) or on one connection
 * for the whole device (a gateway's units behind one host and port): `pipelined`, each unit's queue has its
 * request in flight beside the others' (modbus-client.ts), or `shared`, one request at a time for every unit.
 * Per unit or pipelined, a unit that stops answering only times out its own requests, each after its own
 * `timeout_ms`, and the device's other units keep their poll intervals. A unit's
 * failure (no connection, a timeout) makes its items UNAVAILABLE with quality BAD and the error's code as reason,
 * and the unit retries with backoff; an exception or a malformed response makes only the items of that read
 * UNAVAILABLE, with the exception code in the reason. The asset's `avail` is UNAVAILABLE while no unit answers,
 * with the last reason.
 *
 * Observations are published when a field's value (or its availability) changes, not at every poll: a unit that
 * comes back re-publishes each of its fields once, and nothing is published twice for one change. While the
 * supervisor reports the connector congested, polls wait (a Modbus device can wait; its registers keep the value).
 */
import type { CommandRequest, Connector, ConnectorContext, ConnectorDeps } from '@openfactory/connectors'
import {
  type Asset,
  Backoff,
  type DataItem,
  isoTimestamp,
  type MethodContract,
  type Observation,
  OpenFactoryError,
  sleep,
  UNAVAILABLE,
} from '@openfactory/model'
import { decodeValue, encodeRaw, type RawValue, unscale } from './codec.ts'
import { EXCEPTION_NAMES, ModbusException, ModbusTcpClient } from './modbus-client.ts'
import type { ModbusDeviceConfig, ModbusField, ModbusUnitSettings } from './modbus-map.ts'
import { planReads, type ReadRequest } from './planner.ts'

/** The method that writes field `id`. */
export function writeMethodName(id: string): string {
  return `set_${id}`
}

interface Published {
  readonly key: string
}

export class ModbusConnector implements Connector {
  readonly name: string
  readonly #config: ModbusDeviceConfig
  readonly #deps: ConnectorDeps
  #ctx: ConnectorContext | null = null
  readonly #units = new Map<number, UnitWorker>()
  #clients: ModbusTcpClient[] = []
  readonly #last = new Map<string, Published>()
  #available: boolean | null = null
  #lastReason = ''
  #loops: Promise<void>[] = []

  constructor(config: ModbusDeviceConfig, deps: ConnectorDeps = {}) {
    this.name = config.uuid
    this.#config = config
    this.#deps = deps
  }

  /** The asset this device is: one data item per field, one method per writable field. */
  asset(): Asset {
    const c = this.#config
    const dataItems: DataItem[] = c.fields.map((f) => ({
      id: f.id,
      category: f.category,
      tag: f.tag,
      ...(f.units ? { units: f.units } : {}),
      ...(f.minimum !== undefined || f.maximum !== undefined
        ? {
            constraints: {
              ...(f.minimum !== undefined ? { minimum: f.minimum } : {}),
              ...(f.maximum !== undefined ? { maximum: f.maximum } : {}),
            },
          }
        : {}),
    }))
    const methods: MethodContract[] = c.fields
      .filter((f) => f.writable)
      .map((f) => ({
        name: writeMethodName(f.id),
        description: `writes ${f.id} (unit ${f.unitId}, ${f.table} ${f.address}, ${f.type}) and reads it back`,
        arguments: [
          {
            name: 'value',
            description: describeRange(f),
            type: f.type === 'bool' || f.type === 'bit' ? 'boolean' : f.type === 'string' ? 'string' : 'number',
            required: true,
          },
        ],
      }))
    return {
      uuid: c.uuid,
      type: 'Device',
      ...(c.uns ? { uns: c.uns } : {}),
      referencesAbove: [],
      referencesBelow: [],
      dataItems,
      methods,
    }
  }

  async start(ctx: ConnectorContext): Promise<void> {
    this.#ctx = ctx
    // A start after a stop begins afresh: availability and every value are reported again.
    this.#available = null
    this.#lastReason = ''
    this.#last.clear()
    ctx.declareAssets([this.asset()])
    const reads = planReads(this.#config.fields, this.#config.maxGap)
    const c = this.#config
    const connectTimeoutMs = this.#deps.timings?.connectTimeoutMs ?? 5000
    const client = () => {
      const made = new ModbusTcpClient(c.host, c.port, { connectTimeoutMs, pipelined: c.connection === 'pipelined' })
      this.#clients.push(made)
      return made
    }
    const shared = c.connection === 'per_unit' ? null : client()
    for (const u of c.units) {
      const mine = reads.filter((r) => r.unitId === u.unitId)
      if (mine.length === 0) continue // a unit named under `units` that no register uses: nothing to poll
      const worker = new UnitWorker(c, u, mine, shared ?? client(), ctx, this.#deps, this)
      this.#units.set(u.unitId, worker)
      this.#loops.push(worker.run())
    }
  }

  async stop(): Promise<void> {
    for (const w of this.#units.values()) w.stop()
    for (const client of this.#clients) client.close()
    this.#clients = []
    await Promise.allSettled(this.#loops)
    this.#loops = []
    this.#units.clear()
    this.#ctx = null
  }

  /** Publishes the observations of fields whose value or availability changed since last published. */
  report(values: ReadonlyArray<{ field: ModbusField; value: RawValue | null; reason?: string }>): void {
    const ctx = this.#ctx
    if (!ctx || ctx.signal.aborted) return
    const timestamp = isoTimestamp(this.#deps.now?.() ?? Date.now())
    const out: Observation[] = []
    for (const { field, value, reason } of values) {
      const key = value === null ? `!${reason}` : `=${String(value)}`
      if (this.#last.get(field.id)?.key === key) continue
      this.#last.set(field.id, { key })
      out.push(observation(field, value, timestamp, reason))
    }
    if (out.length > 0) ctx.publish(this.#config.uuid, out)
  }

  /** A unit answered (true) or failed (false): the asset is available while any unit answers. */
  unitState(): void {
    const ctx = this.#ctx
    if (!ctx || ctx.signal.aborted) return
    const workers = [...this.#units.values()]
    const up = workers.some((w) => w.up)
    const reason = workers.find((w) => !w.up && w.reason)?.reason ?? 'connecting'
    if (up && this.#available !== true) {
      this.#available = true
      ctx.setAvailable(this.#config.uuid, true)
    } else if (!up && (this.#available !== false || reason !== this.#lastReason) && workers.every((w) => w.reason)) {
      this.#available = false
      this.#lastReason = reason
      ctx.setAvailable(this.#config.uuid, false, reason)
    }
  }

  /** Reads answered and the registers (bits) they returned, over every unit, and connections opened, since start. */
  stats(): { reads: number; registers: number; connections: number } {
    let reads = 0
    let registers = 0
    for (const w of this.#units.values()) {
      reads += w.reads
      registers += w.registers
    }
    const connections = this.#clients.reduce((n, c) => n + c.connections, 0)
    return { reads, registers, connections }
  }

  async execute(req: CommandRequest): Promise<unknown> {
    const field = this.#config.fields.find((f) => f.writable && writeMethodName(f.id) === req.method)
    if (!field) throw new OpenFactoryError('OFA_COMMAND_REJECTED', `no method ${req.method}`)
    const worker = this.#units.get(field.unitId)
    if (!worker) throw new OpenFactoryError('OFA_COMMAND_FAILED', `${req.method}: the connector is not running`)
    return worker.write(field, req.arguments.value, req.method)
  }
}

function describeRange(f: ModbusField): string {
  if (f.type === 'bool' || f.type === 'bit') return 'true or false'
  if (f.type === 'string') return `text of at most ${f.count * 2} characters`
  const parts: string[] = [f.type]
  if (f.minimum !== undefined) parts.push(`≥ ${f.minimum}`)
  if (f.maximum !== undefined) parts.push(`≤ ${f.maximum}`)
  if (f.units) parts.push(f.units)
  return parts.join(', ')
}

function observation(field: ModbusField, value: RawValue | null, timestamp: string, reason?: string): Observation {
  if (value === null) {
    return {
      id: field.id,
      tag: field.tag,
      type: field.category,
      value: UNAVAILABLE,
      attributes: { timestamp, quality: 'BAD', ...(reason ? { reason } : {}) },
    }
  }
  let v: number | string
  if (field.category === 'Condition')
    v = value === true || (typeof value === 'number' && value !== 0) ? 'FAULT' : 'NORMAL'
  else if (field.category === 'Samples' && typeof value === 'number') v = value
  else v = String(value)
  return {
    id: field.id,
    tag: field.tag,
    type: field.category,
    value: v,
    attributes: { timestamp, ...(field.units ? { units: field.units } : {}) },
  }
}

/** The reason an item or the asset carries for `err`: its code, then what happened. */
export function reasonOf(err: unknown): string {
  if (err instanceof ModbusException) {
    return `OFA_MODBUS_EXCEPTION ${err.exceptionCode} (${EXCEPTION_NAMES[err.exceptionCode] ?? 'unknown'})`
  }
  if (err instanceof OpenFactoryError) return `${err.code}: ${err.message}`
  return `OFA_MODBUS_CONNECT: ${(err as Error).message}`
}

/** Whether `err` says the unit (or its connection) is gone, rather than one request being refused. */
function unitFailure(err: unknown): boolean {
  return !(err instanceof OpenFactoryError) || err.code === 'OFA_MODBUS_TIMEOUT' || err.code === 'OFA_MODBUS_CONNECT'
}

/** One unit id's queue: its reads on their intervals, its writes between them, on its client (its own or shared). */
class UnitWorker {
  readonly #config: ModbusDeviceConfig
  readonly #unit: ModbusUnitSettings
  readonly #reads: readonly ReadRequest[]
  readonly #ctx: ConnectorContext
  readonly #owner: ModbusConnector
  readonly #client: ModbusTcpClient
  readonly #backoff: Backoff
  readonly #stop = new AbortController()
  up = false
  reason = ''
  /** Reads answered, and the registers (bits) they returned. */
  reads = 0
  registers = 0

  constructor(
    config: ModbusDeviceConfig,
    unit: ModbusUnitSettings,
    reads: readonly ReadRequest[],
    client: ModbusTcpClient,
    ctx: ConnectorContext,
    deps: ConnectorDeps,
    owner: ModbusConnector,
  ) {
    this.#config = config
    this.#unit = unit
    this.#reads = reads
    this.#ctx = ctx
    this.#owner = owner
    this.#client = client
    this.#backoff = new Backoff(deps.timings?.backoff)
  }

  /** Ends the loop; the connector closes the client (which fails a request in flight). */
  stop(): void {
    this.#stop.abort()
  }

  get #signal(): AbortSignal {
    return AbortSignal.any([this.#stop.signal, this.#ctx.signal])
  }

  async run(): Promise<void> {
    const signal = this.#signal
    const due = this.#reads.map(() => 0)
    while (!signal.aborted) {
      if (!this.#client.connected) {
        try {
          await this.#client.connect()
        } catch (err) {
          this.#down(err)
          await sleep(this.#backoff.next(), signal)
          continue
        }
      }
      let k = 0
      for (let i = 1; i < due.length; i++) if ((due[i] as number) < (due[k] as number)) k = i
      const wait = (due[k] as number) - Date.now()
      if (wait > 0) await sleep(wait, signal)
      if (signal.aborted) break
      if (this.#ctx.congested) {
        await this.#ctx.whenWritable()
        continue
      }
      const read = this.#reads[k] as ReadRequest
      due[k] = Math.max((due[k] as number) + read.pollIntervalMs, Date.now())
      try {
        const values = await this.#read(read)
        this.reads++
        this.registers += read.count
        this.#backoff.reset()
        this.#answered()
        this.#owner.report(values)
      } catch (err) {
        if (signal.aborted) break
        if (unitFailure(err)) {
          // The client decides whether the connection goes (modbus-client.ts); other units may share it.
          this.#down(err)
          await sleep(this.#backoff.next(), signal)
        } else {
          this.#answered()
          this.#owner.report(read.fields.map((field) => ({ field, value: null, reason: reasonOf(err) })))
        }
      }
    }
  }

  #answered(): void {
    if (this.up) return
    this.up = true
    this.reason = ''
    this.#owner.unitState()
  }

  #down(err: unknown): void {
    const reason = reasonOf(err)
    this.#ctx.logger.debug(`unit ${this.#unit.unitId}: ${reason}`)
    this.up = false
    this.reason = reason
    const fields = this.#config.fields.filter((f) => f.unitId === this.#unit.unitId)
    this.#owner.report(fields.map((field) => ({ field, value: null, reason })))
    this.#owner.unitState()
  }

  async #read(r: ReadRequest): Promise<Array<{ field: ModbusField; value: RawValue }>> {
    const t = this.#unit.timeoutMs
    if (r.table === 'coil' || r.table === 'discrete') {
      const bits = await this.#client.readBits(this.#unit.unitId, r.table === 'coil' ? 1 : 2, r.address, r.count, t)
      return r.fields.map((field) => ({ field, value: bits[field.address - r.address] as boolean }))
    }
    const words = await this.#client.readRegisters(
      this.#unit.unitId,
      r.table === 'holding' ? 3 : 4,
      r.address,
      r.count,
      t,
    )
    return r.fields.map((field) => {
      const at = field.address - r.address
      return { field, value: decodeValue(field, words.slice(at, at + field.count)) }
    })
  }

  /** Writes `value` to `field`, checked against the map, then reads it back; resolves with the value read. */
  async write(field: ModbusField, value: unknown, method: string): Promise<unknown> {
    const reject = (why: string) => new OpenFactoryError('OFA_COMMAND_REJECTED', `${method}: value ${why}`)
    const unit = this.#unit.unitId
    const t = this.#unit.timeoutMs
    const fail = (err: unknown) =>
      new OpenFactoryError('OFA_COMMAND_FAILED', `${method}: ${reasonOf(err)}`, { cause: err })
    if (!this.#client.connected) throw fail(new OpenFactoryError('OFA_MODBUS_CONNECT', this.reason || 'not connected'))
    let words: number[] | null = null
    let bits: boolean[] | null = null
    if (field.type === 'bool' || field.type === 'bit') {
      if (typeof value !== 'boolean') throw reject('must be true or false')
      bits = [value]
    } else if (field.type === 'string') {
      if (typeof value !== 'string') throw reject('must be text')
      try {
        words = encodeRaw(field, value)
      } catch (err) {
        throw reject((err as Error).message)
      }
    } else {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw reject('must be a number')
      if (field.minimum !== undefined && value < field.minimum) throw reject(`${value} is below ${field.minimum}`)
      if (field.maximum !== undefined && value > field.maximum) throw reject(`${value} is above ${field.maximum}`)
      try {
        words = encodeRaw(field, unscale(field, value))
      } catch (err) {
        throw reject((err as Error).message)
      }
    }
    try {
      if (field.table === 'coil') {
        await this.#client.writeCoils(unit, field.address, bits as boolean[], t)
        const back = await this.#client.readBits(unit, 1, field.address, 1, t)
        if (back[0] !== (bits as boolean[])[0]) throw new Error(`read back ${back[0]} after writing ${value}`)
      } else if (field.type === 'bit') {
        // A bit of a holding register: read, change the bit, write the register.
        const [word] = await this.#client.readRegisters(unit, 3, field.address, 1, t)
        const mask = 1 << field.bit
        const next = (bits as boolean[])[0] ? (word as number) | mask : (word as number) & ~mask & 0xffff
        await this.#client.writeRegisters(unit, field.address, [next], t)
        const [back] = await this.#client.readRegisters(unit, 3, field.address, 1, t)
        if ((((back as number) >> field.bit) & 1) !== ((bits as boolean[])[0] ? 1 : 0)) {
          throw new Error(`read back bit ${field.bit} of ${back} after writing ${value}`)
        }
      } else {
        await this.#client.writeRegisters(unit, field.address, words as number[], t)
        const back = await this.#client.readRegisters(unit, 3, field.address, field.count, t)
        if (back.some((w, i) => w !== (words as number[])[i])) {
          throw new Error(`read back [${back.join(', ')}] after writing [${(words as number[]).join(', ')}]`)
        }
        const read = decodeValue(field, back)
        this.#owner.report([{ field, value: read }])
        return { value: read }
      }
    } catch (err) {
      if (err instanceof OpenFactoryError) throw fail(err)
      throw new OpenFactoryError('OFA_COMMAND_FAILED', `${method}: ${(err as Error).message}`)
    }
    this.#owner.report([{ field, value: value as boolean }])
    return { value }
  }
}
