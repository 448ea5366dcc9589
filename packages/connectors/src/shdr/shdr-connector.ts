/**
 * Connectors that ingest an SHDR adapter over TCP.
 *
 * `ShdrConnector` is the engine both `connector.type: shdr` (keys declared in YAML, `createShdrConnector`) and
 * `connector.type: mtconnect` with `agent.device_xml` + `agent.adapter` (keys from Devices.xml, see
 * ../mtconnect/mtconnect-connector.ts) run on: client (TCP, heartbeat, reconnect) → stream (lines, multi-line
 * assets, malformed lines) → mapper (observations per asset) → `ctx`.
 *
 * Lifecycle (see connector.ts): `start(ctx)` declares the assets and starts connecting; it resolves at once — an
 * adapter that is not there yet is retried with backoff, not a failed start. Connected and heard from — the first
 * line the adapter sends on a connection, a PONG or any other, not the TCP connect alone: a process that accepts
 * connections and says nothing is no live adapter — `ctx.setAvailable(uuid, true)` for every asset. Each data line:
 * `ctx.publish` per asset, in line order; while `ctx.congested`, the client stops reading the socket (client.ts).
 * `@ASSET@` documents: `ctx.putDocument`. Connection lost (closed, refused, heartbeat timeout): every item of every asset is published
 * UNAVAILABLE (conditions too) and `ctx.setAvailable(uuid, false, reason)`. `stop()` closes the socket.
 * Malformed lines are counted (`stats()`) and logged with their line number, never ending the connection.
 * Unknown keys: the first `SHDR_MAX_LOGGED_UNKNOWN_KEYS` new ones of a connection are logged by name; the others
 * are summed up in one line at most every `UNKNOWN_SUMMARY_MS`, and when the connection ends.
 */
import type { Asset, DataItem, UnsPlacement } from '@openfactory/model'
import { createOptionsChecker, isoTimestamp, OpenFactoryError } from '@openfactory/model'
import type { Connector, ConnectorContext } from '../connector.ts'
import { type ConnectionTimings, modelConnectorSchema } from '../connector-spec.ts'
import { ShdrClient } from './client.ts'
import {
  SHDR_MAX_LOGGED_UNKNOWN_KEYS,
  type ShdrDevice,
  type ShdrItem,
  ShdrMapper,
  type ShdrMapResult,
} from './mapper.ts'
import { type ShdrCommandLine, type ShdrLine, type ShdrMalformedLine, ShdrStream } from './parser.ts'

/** Timings, all injectable so tests can run in milliseconds (defaults: see `ConnectionTimings`). */
export type ShdrTimings = ConnectionTimings

export interface ShdrConnectorCoreOptions {
  /** The connector's name (default: the first asset's uuid). */
  readonly name?: string
  readonly host: string
  readonly port: number
  /** The devices the adapter feeds, the first being the default one. */
  readonly devices: readonly ShdrDevice[]
  /** Names of the adapter's devices other connections ingest (`ShdrMapperOptions.foreignDevices`). */
  readonly foreignDevices?: readonly string[]
  /** What `declareAssets` announces at start. */
  readonly assets: readonly Asset[]
  /** SHDR version until the adapter says otherwise (default 1). */
  readonly shdrVersion?: number
  readonly timings?: ShdrTimings
  /** Malformed lines and field problems logged one by one per connection before only counting (default 100). */
  readonly maxLoggedProblems?: number
  /** Drop a value that repeats the item's last one (default true; `ShdrMapperOptions.filterDuplicates`). */
  readonly filterDuplicates?: boolean
  /** Upcase controlled-vocabulary event values (default true; `ShdrMapperOptions.upcaseValues`). */
  readonly upcaseValues?: boolean
}

export interface ShdrConnectorStats {
  readonly connected: boolean
  readonly connects: number
  readonly disconnects: number
  readonly lines: number
  readonly malformed: number
  readonly malformedByReason: Readonly<Record<string, number>>
  readonly observations: number
  /** Fields skipped by unknown key, for the first `SHDR_MAX_UNKNOWN_KEYS` distinct keys (mapper.ts). */
  readonly unknownKeys: Readonly<Record<string, number>>
  /** Fields skipped whose unknown key is past those. */
  readonly unknownKeysOther: number
  readonly fieldProblems: number
  readonly documents: number
  /** The heartbeat the adapter announced, if it did. */
  readonly heartbeatMs?: number
  /** Reading is paused because the supervisor's writer holds too many of this connector's records. */
  readonly paused: boolean
  /** Times reading was paused so. */
  readonly pauses: number
}

/** Unknown keys past the first ones of a connection are summed up in one log line at most this often. */
const UNKNOWN_SUMMARY_MS = 60_000

/** Commands the agent understands; their values are kept in `adapterInfo()`. */
const KNOWN_COMMANDS = new Set([
  'shdrversion',
  'device',
  'uuid',
  'relativetime',
  'conversionrequired',
  'realtime',
  'adapterversion',
  'mtconnectversion',
  'calibration',
  'manufacturer',
  'serialnumber',
  'station',
  'description',
  'nativename',
  'message',
])

export class ShdrConnector implements Connector {
  readonly name: string
  readonly #opts: ShdrConnectorCoreOptions
  readonly #mapper: ShdrMapper
  readonly #stream = new ShdrStream()
  readonly #uuids: string[]
  #client: ShdrClient | undefined
  #ctx: ConnectorContext | undefined
  /** Per asset: up (true), down (false), not yet known (absent). */
  readonly #up = new Map<string, boolean>()
  readonly #assetTypes = new Map<string, string>()
  readonly #adapterInfo = new Map<string, string>()
  readonly #warnedCommands = new Set<string>()
  #logged = 0
  #documents = 0
  /** The adapter sent a line on this connection (its assets are AVAILABLE from then on). */
  #heard = false
  /** New unknown keys logged by name on this connection. */
  #unknownLogged = 0
  /** Unknown keys (and fields of keys past the remembered set) not logged by name since the last summary. */
  #unknownPending = 0
  #unknownOtherPending = 0
  #unknownSummaryAt = 0
  /** Fires when the first observation a PERIOD filter holds is due. */
  #periodTimer: NodeJS.Timeout | undefined
  #periodDue = Number.POSITIVE_INFINITY

  constructor(opts: ShdrConnectorCoreOptions) {
    if (opts.devices.length === 0) {
      throw new OpenFactoryError('OFA_CONNECTOR_CONFIG', 'an SHDR connector needs at least one device')
    }
    this.#opts = opts
    this.#mapper = new ShdrMapper({
      devices: opts.devices,
      shdrVersion: opts.shdrVersion ?? 1,
      ...(opts.filterDuplicates !== undefined ? { filterDuplicates: opts.filterDuplicates } : {}),
      ...(opts.upcaseValues !== undefined ? { upcaseValues: opts.upcaseValues } : {}),
      ...(opts.foreignDevices ? { foreignDevices: opts.foreignDevices } : {}),
    })
    this.#uuids = opts.devices.map((d) => d.assetUuid)
    this.name = opts.name ?? (this.#uuids[0] as string)
  }

  /** Header values the adapter sent (`* adapterVersion: 1.2` → `adapterVersion: '1.2'`). */
  adapterInfo(): Readonly<Record<string, string>> {
    return Object.fromEntries(this.#adapterInfo)
  }

  stats(): ShdrConnectorStats {
    const s = this.#stream.stats()
    const m = this.#mapper.stats()
    const c = this.#client?.stats()
    const hb = this.#client?.heartbeatMs
    return {
      connected: this.#client?.connected ?? false,
      connects: c?.connects ?? 0,
      disconnects: c?.disconnects ?? 0,
      lines: s.lines,
      malformed: s.malformed,
      malformedByReason: s.byReason as Record<string, number>,
      observations: m.observations,
      unknownKeys: m.unknownKeys,
      unknownKeysOther: m.unknownKeysOther,
      fieldProblems: m.problems,
      documents: this.#documents,
      ...(hb !== undefined ? { heartbeatMs: hb } : {}),
      paused: this.#client?.paused ?? false,
      pauses: c?.pauses ?? 0,
    }
  }

  async start(ctx: ConnectorContext): Promise<void> {
    if (this.#client) throw new Error(`connector ${this.name} is already started`)
    this.#ctx = ctx
    ctx.declareAssets(this.#opts.assets)
    // Constant items have their value from the start, whatever the adapter does.
    for (const uuid of this.#uuids) {
      const constants = this.#mapper.constants(uuid)
      if (constants.length > 0) ctx.publish(uuid, constants)
    }
    const t = this.#opts.timings ?? {}
    const where = `${this.#opts.host}:${this.#opts.port}`
    this.#client = new ShdrClient({
      host: this.#opts.host,
      port: this.#opts.port,
      ...(t.heartbeatMs !== undefined ? { heartbeatMs: t.heartbeatMs } : {}),
      ...(t.legacyTimeoutMs !== undefined ? { legacyTimeoutMs: t.legacyTimeoutMs } : {}),
      ...(t.connectTimeoutMs !== undefined ? { connectTimeoutMs: t.connectTimeoutMs } : {}),
      ...(t.backoff !== undefined ? { backoff: t.backoff } : {}),
      backpressure: ctx,
      onConnect: () => this.#onConnect(where),
      onLine: (line, at) => this.#onLine(line, at),
      onPong: (hb) => ctx.logger.debug('SHDR adapter heartbeat', { adapter: where, heartbeatMs: hb }),
      onDisconnect: (reason) => this.#down(`adapter ${where}: ${reason}`),
      onConnectFailed: (reason, retryInMs) => {
        ctx.logger.debug('SHDR adapter connection failed', { adapter: where, reason, retryInMs })
        this.#down(`adapter ${where}: ${reason}`)
      },
      onOverflow: (bytes) =>
        this.#malformed(this.#stream.pushMalformed('line-too-long', `a line of ${bytes} bytes (UTF-8) was dropped`)),
    })
    this.#client.start()
  }

  async stop(): Promise<void> {
    const client = this.#client
    this.#client = undefined
    if (client) await client.stop()
    clearTimeout(this.#periodTimer)
    this.#periodTimer = undefined
    this.#periodDue = Number.POSITIVE_INFINITY
    if (this.#ctx) {
      // What PERIOD filters hold was accepted: it goes to the log, not away with the connector.
      for (const g of this.#mapper.releaseDue(Number.POSITIVE_INFINITY)) this.#ctx.publish(g.assetUuid, g.observations)
      this.#summarizeUnknown(this.#ctx)
    }
    this.#ctx = undefined
  }

  #onConnect(where: string): void {
    const ctx = this.#ctx
    if (!ctx) return
    this.#logged = 0
    this.#unknownLogged = 0
    this.#heard = false
    this.#mapper.resetRelativeTime()
    this.#mapper.shdrVersion = this.#opts.shdrVersion ?? 1
    this.#mapper.setDefaultDevice(this.#uuids[0] as string)
    ctx.logger.info('SHDR adapter connected; AVAILABLE once it sends a line', { adapter: where, assets: this.#uuids })
  }

  /** The adapter's first line on a connection: its assets are AVAILABLE. */
  #onHeard(ctx: ConnectorContext): void {
    this.#heard = true
    for (const uuid of this.#uuids) {
      this.#up.set(uuid, true)
      ctx.setAvailable(uuid, true)
    }
  }

  #down(reason: string): void {
    const ctx = this.#ctx
    if (!ctx) return
    const tail = this.#stream.end()
    if (tail) this.#malformed(tail)
    this.#heard = false
    this.#summarizeUnknown(ctx)
    const at = Date.now()
    let changed = false
    for (const uuid of this.#uuids) {
      if (this.#up.get(uuid) === false) continue
      changed = true
      this.#up.set(uuid, false)
      const obs = this.#mapper.unavailableAll(uuid, reason, at)
      if (obs.length > 0) ctx.publish(uuid, obs)
      ctx.setAvailable(uuid, false, reason)
    }
    if (changed) ctx.logger.warn('SHDR adapter unavailable', { reason })
  }

  #onLine(text: string, receivedAt: number): void {
    const ctx = this.#ctx
    if (!ctx) return
    if (!this.#heard) this.#onHeard(ctx)
    const line = this.#stream.push(text)
    if (!line) return
    switch (line.kind) {
      case 'data':
        this.#publish(ctx, this.#mapper.map(line, receivedAt), line.lineNo)
        return
      case 'command':
        this.#command(ctx, line)
        return
      case 'asset':
        this.#assetTypes.set(line.assetId, line.assetType)
        this.#document(ctx, { assetId: line.assetId, type: line.assetType, body: line.body }, line, receivedAt)
        return
      case 'remove-asset':
        this.#document(
          ctx,
          { assetId: line.assetId, type: this.#assetTypes.get(line.assetId) ?? '', body: '', removed: true },
          line,
          receivedAt,
        )
        this.#assetTypes.delete(line.assetId)
        return
      case 'remove-all-assets':
        for (const [id, type] of [...this.#assetTypes]) {
          if (line.assetType !== undefined && type !== line.assetType) continue
          this.#document(ctx, { assetId: id, type, body: '', removed: true }, line, receivedAt)
          this.#assetTypes.delete(id)
        }
        return
      case 'update-asset':
        this.#warnOnce(ctx, '@UPDATE_ASSET@', 'SHDR @UPDATE_ASSET@ (partial asset updates) is not supported; ignored', {
          lineNo: line.lineNo,
          assetId: line.assetId,
        })
        return
      case 'malformed':
        this.#malformed(line)
        return
      default:
        return // empty lines, PING, PONG (the client keeps the heartbeat)
    }
  }

  /** Arms one timer for the earliest observation a PERIOD filter holds (the mapper has no clock of its own). */
  #armPeriodTimer(): void {
    const due = this.#mapper.nextDue()
    if (due === undefined || due >= this.#periodDue) return
    clearTimeout(this.#periodTimer)
    this.#periodDue = due
    this.#periodTimer = setTimeout(
      () => {
        this.#periodTimer = undefined
        this.#periodDue = Number.POSITIVE_INFINITY
        const ctx = this.#ctx
        if (!ctx) return
        for (const g of this.#mapper.releaseDue()) ctx.publish(g.assetUuid, g.observations)
        this.#armPeriodTimer()
      },
      Math.max(0, due - Date.now()),
    )
  }

  #publish(ctx: ConnectorContext, r: ShdrMapResult, lineNo: number): void {
    for (const g of r.groups) ctx.publish(g.assetUuid, g.observations)
    this.#armPeriodTimer()
    for (const a of r.availability) {
      if (a.available) ctx.setAvailable(a.assetUuid, true)
      else ctx.setAvailable(a.assetUuid, false, 'the adapter reports the device UNAVAILABLE')
    }
    if (r.newUnknownKeys.length > 0 || r.otherUnknownKeys > 0) this.#unknownKeys(ctx, r, lineNo)
    for (const p of r.problems) {
      if (p.reason === 'constraint') ctx.logger.debug('SHDR value outside its constraints', { ...p })
      else if (this.#budget(ctx)) ctx.logger.warn(`SHDR line ${p.lineNo}: ${p.message}`, { ...p })
    }
  }

  /**
   * The first `SHDR_MAX_LOGGED_UNKNOWN_KEYS` new unknown keys of a connection are logged by name; then they are
   * counted, and summed up at most every `UNKNOWN_SUMMARY_MS` and when the connection ends.
   */
  #unknownKeys(ctx: ConnectorContext, r: ShdrMapResult, lineNo: number): void {
    for (const key of r.newUnknownKeys) {
      if (this.#unknownLogged < SHDR_MAX_LOGGED_UNKNOWN_KEYS) {
        this.#unknownLogged++
        ctx.logger.info('SHDR key names no data item; skipped (reported once per key)', { key, lineNo })
        if (this.#unknownLogged === SHDR_MAX_LOGGED_UNKNOWN_KEYS) {
          ctx.logger.info(
            `SHDR: ${SHDR_MAX_LOGGED_UNKNOWN_KEYS} unknown keys logged on this connection; further ones are summed up`,
          )
          this.#unknownSummaryAt = Date.now()
        }
      } else this.#unknownPending++
    }
    this.#unknownOtherPending += r.otherUnknownKeys
    if (Date.now() - this.#unknownSummaryAt >= UNKNOWN_SUMMARY_MS) this.#summarizeUnknown(ctx)
  }

  #summarizeUnknown(ctx: ConnectorContext): void {
    if (this.#unknownPending === 0 && this.#unknownOtherPending === 0) return
    ctx.logger.info('SHDR unknown keys skipped without a log line of their own', {
      unknownKeys: this.#unknownPending,
      ...(this.#unknownOtherPending > 0 ? { fieldsOfKeysNotRemembered: this.#unknownOtherPending } : {}),
    })
    this.#unknownPending = 0
    this.#unknownOtherPending = 0
    this.#unknownSummaryAt = Date.now()
  }

  #command(ctx: ConnectorContext, line: ShdrCommandLine): void {
    const { key, name, value } = line
    if (!KNOWN_COMMANDS.has(key)) {
      this.#warnOnce(ctx, `command:${key}`, `SHDR command '${name}' is unknown; ignored`, {
        lineNo: line.lineNo,
        value,
      })
      return
    }
    this.#adapterInfo.set(name, value)
    if (key === 'shdrversion') {
      const v = Number.parseInt(value, 10)
      this.#mapper.shdrVersion = Number.isFinite(v) ? v : 1
    } else if (key === 'device') {
      if (!this.#mapper.setDefaultDevice(value)) {
        this.#warnOnce(ctx, `device:${value}`, `SHDR '* device: ${value}' names no device of this connector`, {
          lineNo: line.lineNo,
        })
      }
    } else if (key === 'calibration') {
      const refused = this.#mapper.calibrate(value)
      if (refused.length > 0) {
        this.#warnOnce(ctx, `calibration:${value}`, 'SHDR calibration: some entries name no item or are not numbers', {
          lineNo: line.lineNo,
          refused,
        })
      }
    } else if (key === 'message') ctx.logger.info('SHDR adapter message', { message: value })
    else ctx.logger.debug('SHDR adapter header', { [name]: value })
  }

  #document(
    ctx: ConnectorContext,
    doc: { assetId: string; type: string; body: string; removed?: boolean },
    line: ShdrLine & { time: string; timeMs: number },
    receivedAt: number,
  ): void {
    // After `* device:` named a device another connection ingests, the asset is that connection's to keep.
    if (this.#mapper.defaultIsForeign) return
    this.#documents++
    ctx.putDocument({
      assetId: doc.assetId,
      type: doc.type,
      deviceUuid: this.#mapper.defaultDevice.assetUuid,
      timestamp: isoTimestamp(line.time === 'absolute' ? line.timeMs : receivedAt),
      body: doc.body,
      ...(doc.removed ? { removed: true } : {}),
    })
  }

  #malformed(m: ShdrMalformedLine): void {
    const ctx = this.#ctx
    if (!ctx || !this.#budget(ctx)) return
    ctx.logger.warn(`SHDR line ${m.lineNo} malformed (${m.reason}): ${m.message}`, {
      lineNo: m.lineNo,
      reason: m.reason,
      text: m.text,
    })
  }

  #budget(ctx: ConnectorContext): boolean {
    const max = this.#opts.maxLoggedProblems ?? 100
    this.#logged++
    if (this.#logged === max + 1) {
      ctx.logger.warn(`SHDR: more than ${max} problems on this connection; further ones are counted, not logged`)
    }
    return this.#logged <= max
  }

  #warnOnce(ctx: ConnectorContext, what: string, message: string, fields: Record<string, unknown>): void {
    if (this.#warnedCommands.has(what)) return
    this.#warnedCommands.add(what)
    ctx.logger.warn(message, fields)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// connector.type: shdr — keys declared in YAML (registered by shdr-spec.ts)

/** One entry of the reference's `data:` map: `{tag, type: Samples|Events}` (we also accept Condition). */
export interface ShdrDataPoint {
  readonly tag: string
  readonly type: 'Samples' | 'Events' | 'Condition'
}

export interface ShdrConnectorOptions {
  /** The OpenFactory uuid of the device. */
  readonly uuid: string
  readonly host: string
  readonly port: number
  /** SHDR key → tag and type; the key is the observation ID. */
  readonly data?: Readonly<Record<string, ShdrDataPoint>>
  readonly uns?: UnsPlacement
  readonly shdrVersion?: number
  readonly timings?: ShdrTimings
}

/**
 * Why a `data` key cannot be an SHDR key, or undefined when it can: a key is one field of a `|`-separated line.
 * The one place of this rule (model's schema of `connector.type: shdr` takes any key).
 */
export function shdrKeyProblem(key: string): string | undefined {
  return key === '' || key.includes('|') ? "an SHDR key must be non-empty and hold no '|'" : undefined
}

/** The device of a `connector.type: shdr` config: one item per `data` key, the key being the observation ID. */
export function shdrDeviceFromData(uuid: string, data: Readonly<Record<string, ShdrDataPoint>>): ShdrDevice {
  const keys = new Map<string, ShdrItem>()
  for (const [key, point] of Object.entries(data)) {
    keys.set(key, {
      id: key,
      tag: point.tag,
      category: point.type,
      kind: point.type === 'Condition' ? 'condition' : 'value',
    })
  }
  return { assetUuid: uuid, aliases: [uuid], keys }
}

/** The asset a `connector.type: shdr` device declares. */
export function shdrAssetFromData(
  uuid: string,
  data: Readonly<Record<string, ShdrDataPoint>>,
  uns?: UnsPlacement,
): Asset {
  const dataItems: DataItem[] = Object.entries(data).map(([key, p]) => ({ id: key, category: p.type, tag: p.tag }))
  return {
    uuid,
    type: 'Device',
    ...(uns ? { uns } : {}),
    referencesAbove: [],
    referencesBelow: [],
    dataItems,
    methods: [],
  }
}

/** The connector of a checked `connector.type: shdr` configuration (shdr-spec.ts and `createShdrConnector`). */
export function shdrConnectorOf(opts: ShdrConnectorOptions): ShdrConnector {
  const data = opts.data ?? {}
  return new ShdrConnector({
    name: opts.uuid,
    host: opts.host,
    port: opts.port,
    devices: [shdrDeviceFromData(opts.uuid, data)],
    assets: [shdrAssetFromData(opts.uuid, data, opts.uns)],
    ...(opts.shdrVersion !== undefined ? { shdrVersion: opts.shdrVersion } : {}),
    ...(opts.timings ? { timings: opts.timings } : {}),
  })
}

/** The options, checked with the rules of model's schema of the block (host, port, data), not written again. */
const SHDR_BLOCK = modelConnectorSchema('shdr').properties ?? {}
const checkShdrOptions = createOptionsChecker(
  {
    type: 'object',
    properties: {
      uuid: { type: 'string', minLength: 1 },
      host: SHDR_BLOCK.host,
      port: SHDR_BLOCK.port,
      data: SHDR_BLOCK.data,
      uns: { type: 'object' },
      shdrVersion: { type: 'integer', minimum: 1 },
      timings: { type: 'object' },
    },
    required: ['uuid', 'host', 'port'],
    additionalProperties: false,
  } as unknown as Parameters<typeof createOptionsChecker>[0],
  { code: 'OFA_CONNECTOR_CONFIG', what: 'connector' },
)

/**
 * `connector.type: shdr` from code: an SHDR adapter whose keys are given. Checks the options once
 * (OFA_CONNECTOR_CONFIG naming every field in error). A device file goes through the registry instead
 * (`connectorSpec('shdr')`), whose block model has already checked.
 */
export function createShdrConnector(opts: ShdrConnectorOptions): ShdrConnector {
  checkShdrOptions(opts)
  const problems: OpenFactoryError[] = []
  for (const key of Object.keys(opts.data ?? {})) {
    const problem = shdrKeyProblem(key)
    const path = `connector.data.${key}`
    if (problem) problems.push(new OpenFactoryError('OFA_CONNECTOR_CONFIG', `${path}: ${problem}`, { where: { path } }))
  }
  if (problems.length === 1) throw problems[0]
  if (problems.length > 1) {
    throw new OpenFactoryError('OFA_CONNECTOR_CONFIG', problems.map((p) => p.message).join('; '), { problems })
  }
  return shdrConnectorOf(opts)
}
