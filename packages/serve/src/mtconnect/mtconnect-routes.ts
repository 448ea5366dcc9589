/**
 * The MTConnect agent façade (a Fastify plugin): `/mtconnect/probe`, `current`, `sample`, `assets`, `asset/{id}`,
 * each also under `/mtconnect/{device}/...`, over every asset the serving state knows — MTConnect Part 1 §8's REST
 * interface, as an MTConnect agent serves it. docs/reference/mtconnect.md is the reference; this comment is the map.
 *
 * - The device model: agent-model.ts (Devices.xml structure kept, other assets derived); ids and names unique.
 * - Sequence numbers, `instanceId`, the buffer: sequence-buffer.ts, started at the first request to `/mtconnect`
 *   (it reads `ofa_assets` once more: an app nobody asks MTConnect of does not pay for it).
 * - `path`: xpath.ts. Documents, XML or JSON: documents.ts; asset bodies: asset-bodies.ts.
 *
 * Every answer under `/mtconnect` is an MTConnect document: errors are `MTConnectError` documents with the
 * standard's codes — 400 `INVALID_REQUEST` (unknown or repeated parameter, not an integer, a parameter the request
 * does not take), 400 `OUT_OF_RANGE` (`from`, `at`, `count`, `interval`, `heartbeat` outside their range), 400
 * `INVALID_XPATH`, 404 `NO_DEVICE`, 404 `ASSET_NOT_FOUND`, 404 `UNSUPPORTED` (no such request), 503 `TOO_MANY`
 * (past the concurrent streams), 503 `INTERNAL_ERROR` (the log cannot be read) — but for the app-wide guards
 * that answer before any route (authentication 401/403, URL size 414...), which answer in our JSON shape.
 *
 * Streams (`sample?interval=`, `current?interval=`) are `multipart/x-mixed-replace` answers: one part per document,
 * `--<boundary>`, `Content-type`, `Content-length`, the document, CRLF; a sample stream sends what came since its
 * last part at most every `interval` ms (at most `count` observations a part), and an empty document when nothing
 * came for `heartbeat` ms; a current stream sends the current state every `interval` ms. A stream whose client
 * reads too slowly (more than `maxStreamBufferedBytes` unsent) is closed; one that fell behind the buffer gets an
 * `OUT_OF_RANGE` error part and is closed.
 */
import { hostname } from 'node:os'
import type { AssetDocument, Logger } from '@openfactory/model'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { inScope } from '../auth/policy.ts'
import type {} from '../http/decorations.ts'
import { DEFAULT_MAX_DOCUMENTS } from '../state/documents.ts'
import {
  type AgentModel,
  buildAgentModel,
  componentItems,
  findDevice,
  type MtDataItem,
  type MtDevice,
} from './agent-model.ts'
import { assetElement } from './asset-bodies.ts'
import {
  assetsDocument,
  errorDocument,
  type Format,
  HEADER_VERSION,
  type Header,
  type MTConnectErrorCode,
  probeDocument,
  type Shown,
  streamsDocument,
} from './documents.ts'
import {
  type BufferedObservation,
  createSequenceBuffer,
  type ItemSnapshot,
  SEQUENCE_BUFFER_DEFAULTS,
  type SequenceBuffer,
} from './sequence-buffer.ts'
import { parseXPath, selectItems, XPathError } from './xpath.ts'

export interface MTConnectOptions {
  /** Observations kept for `sample` and `current?at=` (default 131 072). */
  readonly bufferSize?: number
  /** How late after its time a record may arrive and still be numbered in its place (default 1000 ms). */
  readonly latenessMs?: number
  /** How often the instance id's anchors are refreshed on `ofa_mtconnect` (default 60 000 ms). */
  readonly anchorIntervalMs?: number
  /** The largest `count` of `sample` (default 10 000). */
  readonly maxCount?: number
  /** The smallest `interval` and `heartbeat` (default 10 ms). */
  readonly minIntervalMs?: number
  /** The largest `interval` and `heartbeat` (default 86 400 000 ms: one day). */
  readonly maxIntervalMs?: number
  /** The `heartbeat` of a sample stream that gives none (default 10 000 ms, as agents). */
  readonly heartbeatMs?: number
  /** Streams open at once (default 64); past it, 503 `TOO_MANY`. */
  readonly maxStreams?: number
  /** Bytes a stream may have unsent before it is closed (default 4 MiB). */
  readonly maxStreamBufferedBytes?: number
  /** The largest `count` of `assets` (default 10 000). */
  readonly maxAssets?: number
  /** The Header's `sender` (default: this machine's name). */
  readonly sender?: string
  /** The Header's `assetBufferSize`: the documents the serving state keeps (default 10 000). */
  readonly assetBufferSize?: number
}

export const MTCONNECT_DEFAULTS = {
  ...SEQUENCE_BUFFER_DEFAULTS,
  maxCount: 10_000,
  minIntervalMs: 10,
  maxIntervalMs: 86_400_000,
  defaultHeartbeatMs: 10_000,
  defaultCount: 100,
  maxStreams: 64,
  maxStreamBufferedBytes: 4 * 1024 * 1024,
  maxAssets: 10_000,
} as const

export interface MTConnectPluginOptions extends MTConnectOptions {
  readonly logger?: Logger
}

/** A refusal: an MTConnect error code and the HTTP status it is answered with. */
class MTConnectRefusal extends Error {
  readonly code: MTConnectErrorCode
  readonly status: number
  constructor(code: MTConnectErrorCode, message: string, status = 400) {
    super(message)
    this.code = code
    this.status = status
  }
}

const CONTENT_TYPES: Record<Format, string> = {
  xml: 'text/xml; charset=utf-8',
  json: 'application/json; charset=utf-8',
}

/** What each request takes (MTConnect Part 1 §8.3), with `format` (xml or json, as agents accept it). */
const PARAMETERS = {
  probe: ['format'],
  current: ['format', 'path', 'at', 'interval'],
  sample: ['format', 'path', 'from', 'count', 'interval', 'heartbeat'],
  assets: ['format', 'type', 'removed', 'count', 'device'],
  asset: ['format'],
} as const

type RequestKind = keyof typeof PARAMETERS
type Query = Record<string, string | undefined>

function readQuery(kind: RequestKind, raw: unknown): Query {
  const allowed: readonly string[] = PARAMETERS[kind]
  const out: Query = {}
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (!allowed.includes(k)) {
      throw new MTConnectRefusal(
        'INVALID_REQUEST',
        `${kind} takes no parameter '${k}' (it takes ${allowed.join(', ')})`,
      )
    }
    if (typeof v !== 'string') throw new MTConnectRefusal('INVALID_REQUEST', `parameter '${k}' is given more than once`)
    out[k] = v
  }
  return out
}

function integer(q: Query, name: string): number | undefined {
  const v = q[name]
  if (v === undefined) return undefined
  if (!/^-?\d{1,16}$/.test(v)) throw new MTConnectRefusal('INVALID_REQUEST', `'${name}' must be an integer, not '${v}'`)
  return Number(v)
}

function inRange(name: string, v: number, min: number, max: number): number {
  if (v < min || v > max) {
    throw new MTConnectRefusal('OUT_OF_RANGE', `'${name}' must be between ${min} and ${max} (given: ${v})`)
  }
  return v
}

function formatOf(request: FastifyRequest, q: Query): Format {
  const f = q.format
  if (f !== undefined) {
    if (f === 'xml' || f === 'json') return f
    throw new MTConnectRefusal('INVALID_REQUEST', `'format' must be xml or json (given: '${f}')`)
  }
  const accept = request.headers.accept ?? ''
  return /\bapplication\/(?:[\w.+-]*\+)?json\b/i.test(accept) && !/\b(?:text|application)\/xml\b/i.test(accept)
    ? 'json'
    : 'xml'
}

/** The format an error is answered in: as asked, when the request said it well enough. */
function errorFormat(request: FastifyRequest): Format {
  const f = (request.query as Record<string, unknown> | undefined)?.format
  if (f === 'json') return 'json'
  if (f === 'xml') return 'xml'
  return /\bjson\b/i.test(request.headers.accept ?? '') ? 'json' : 'xml'
}

function creationTime(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z')
}

/** Registers the façade's routes on the app (see the file's comment). */
export async function mtconnectRoutes(app: FastifyInstance, opts: MTConnectPluginOptions): Promise<void> {
  const limits = {
    maxCount: opts.maxCount ?? MTCONNECT_DEFAULTS.maxCount,
    minInterval: opts.minIntervalMs ?? MTCONNECT_DEFAULTS.minIntervalMs,
    maxInterval: opts.maxIntervalMs ?? MTCONNECT_DEFAULTS.maxIntervalMs,
    maxStreams: opts.maxStreams ?? MTCONNECT_DEFAULTS.maxStreams,
    maxBuffered: opts.maxStreamBufferedBytes ?? MTCONNECT_DEFAULTS.maxStreamBufferedBytes,
    maxAssets: opts.maxAssets ?? MTCONNECT_DEFAULTS.maxAssets,
  }
  const sender = opts.sender ?? hostname()
  const assetBufferSize = opts.assetBufferSize ?? DEFAULT_MAX_DOCUMENTS
  const state = app.state
  const documents = app.serving.documents

  // --- the buffer, started at the first request ----------------------------------------------------------------
  let buffer: SequenceBuffer | null = null
  let closed = false
  const started = async (): Promise<SequenceBuffer> => {
    if (closed) throw new MTConnectRefusal('INTERNAL_ERROR', 'the server is closing', 503)
    buffer ??= createSequenceBuffer({
      eventLog: app.eventLog,
      ...(opts.bufferSize !== undefined ? { bufferSize: opts.bufferSize } : {}),
      ...(opts.latenessMs !== undefined ? { latenessMs: opts.latenessMs } : {}),
      ...(opts.anchorIntervalMs !== undefined ? { anchorIntervalMs: opts.anchorIntervalMs } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    })
    try {
      await state.ready()
      await buffer.ready()
    } catch (err) {
      throw new MTConnectRefusal('INTERNAL_ERROR', `the log cannot be read: ${(err as Error).message}`, 503)
    }
    if (buffer.failure) {
      throw new MTConnectRefusal('INTERNAL_ERROR', `the log cannot be read: ${buffer.failure.message}`, 503)
    }
    return buffer
  }

  // --- the device model, rebuilt when assets change or an item appears -----------------------------------------
  let model: AgentModel | null = null
  let modelItems = -1
  const offAssets = state.onAssetChange(() => {
    model = null
  })
  const currentModel = (b: SequenceBuffer): AgentModel => {
    const items = b.stats().items
    if (model === null || items !== modelItems) {
      model = buildAgentModel(state)
      modelItems = items
    }
    return model
  }

  const visibleDevices = (request: FastifyRequest, m: AgentModel): readonly MtDevice[] => {
    const p = request.principal
    if (!p || p.scopes.length === 0) return m.devices
    return m.devices.filter((d) => inScope(p, d.uuid, state))
  }

  const deviceNamed = (request: FastifyRequest, m: AgentModel, name: string): MtDevice => {
    const d = findDevice(m, name)
    const p = request.principal
    if (!d || (p && p.scopes.length > 0 && !inScope(p, d.uuid, state))) {
      throw new MTConnectRefusal('NO_DEVICE', `no device named or with uuid '${name}'`, 404)
    }
    return d
  }

  const header = (b: SequenceBuffer | null, extra: Partial<Header> = {}): Header => ({
    creationTime: creationTime(),
    sender,
    instanceId: b?.instanceId ?? 0,
    version: HEADER_VERSION,
    ...extra,
  })

  const streamsHeader = (b: SequenceBuffer, m: AgentModel, next: number): Header =>
    header(b, {
      deviceModelChangeTime: new Date(m.builtAt).toISOString(),
      bufferSize: b.bufferSize,
      nextSequence: next,
      firstSequence: b.firstSequence(),
      lastSequence: b.nextSequence() - 1,
    })

  const fail = (request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply => {
    const r =
      err instanceof MTConnectRefusal
        ? err
        : err instanceof XPathError
          ? new MTConnectRefusal('INVALID_XPATH', err.message)
          : new MTConnectRefusal('INTERNAL_ERROR', 'an unexpected error; the server log has the details', 500)
    if (!(err instanceof MTConnectRefusal) && !(err instanceof XPathError)) {
      request.log.error({ err }, 'MTConnect request failed')
    }
    const format = errorFormat(request)
    return reply
      .code(r.status)
      .type(CONTENT_TYPES[format])
      .send(
        errorDocument(format, header(buffer, { bufferSize: buffer?.bufferSize }), [
          { code: r.code, message: r.message },
        ]),
      )
  }

  /** The data items a request is about: those of the path, of the device, or of every visible device (null). */
  const selection = (
    request: FastifyRequest,
    m: AgentModel,
    device: MtDevice | undefined,
    path: string | undefined,
  ): Set<MtDataItem> | null => {
    const devices = device ? [device] : visibleDevices(request, m)
    if (path === undefined)
      return device || devices !== m.devices ? new Set(devices.flatMap((d) => [...componentItems(d.root)])) : null
    try {
      return selectItems(parseXPath(path), devices)
    } catch (err) {
      if (err instanceof XPathError)
        throw new MTConnectRefusal('INVALID_XPATH', `path ${JSON.stringify(path)}: ${err.message}`)
      throw err
    }
  }

  /** What `current` shows: each selected item's state from `snapshot`, in document order. */
  const currentShown = (
    devices: readonly MtDevice[],
    wanted: Set<MtDataItem> | null,
    snapshot: (asset: string, id: string) => ItemSnapshot | undefined,
  ): Shown[] => {
    const shown: Shown[] = []
    for (const d of devices) {
      for (const item of componentItems(d.root)) {
        if (wanted && !wanted.has(item)) continue
        const s = snapshot(d.uuid, item.key)
        if (s === undefined) continue
        if (Array.isArray(s)) for (const obs of s as readonly BufferedObservation[]) shown.push({ item, obs })
        else shown.push({ item, obs: s as BufferedObservation })
      }
    }
    return shown
  }

  /** Up to `count` observations from `from` among the selected items; and the sequence to go on from. */
  const sampleShown = (
    b: SequenceBuffer,
    m: AgentModel,
    visible: ReadonlySet<string> | null,
    wanted: Set<MtDataItem> | null,
    from: number,
    count: number,
  ): { shown: Shown[]; next: number } => {
    const shown: Shown[] = []
    for (const obs of b.since(from)) {
      if (visible && !visible.has(obs.asset)) continue
      const item = m.byUuid.get(obs.asset)?.items.get(obs.id)
      if (!item || (wanted && !wanted.has(item))) continue
      shown.push({ item, obs })
      if (shown.length === count) return { shown, next: obs.sequence + 1 }
    }
    return { shown, next: b.nextSequence() }
  }

  // --- streams -----------------------------------------------------------------------------------------------
  const streams = new Set<() => void>()
  app.addHook('onClose', async () => {
    closed = true
    offAssets()
    for (const end of [...streams]) end()
    await buffer?.close()
  })

  /** Starts a multipart answer; `tick` writes parts (returns false to end the stream). */
  const stream = (
    request: FastifyRequest,
    reply: FastifyReply,
    format: Format,
    periodMs: number,
    tick: (part: (doc: string) => void) => boolean,
    route: string,
  ): void => {
    if (streams.size >= limits.maxStreams) {
      throw new MTConnectRefusal('TOO_MANY', `${limits.maxStreams} streams are open: the most this server keeps`, 503)
    }
    const boundary = `ofa${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`
    reply.hijack()
    // A hijacked reply skips the onResponse hook: counted here.
    app.metrics.httpRequests.inc({ method: 'GET', route, status: '200' })
    const res = reply.raw
    res.writeHead(200, {
      'content-type': `multipart/x-mixed-replace;boundary=${boundary}`,
      'cache-control': 'no-store',
      ...(request.raw.httpVersionMajor === 2 ? {} : { connection: 'keep-alive' }),
      'x-accel-buffering': 'no',
    })
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      clearInterval(timer)
      streams.delete(end)
      if (!res.writableEnded) res.end()
    }
    const part = (doc: string): void => {
      if (ended) return
      if (res.writableLength > limits.maxBuffered) {
        request.log.warn({ bytes: res.writableLength }, 'MTConnect stream closed: its client does not keep up')
        end()
        res.destroy()
        return
      }
      res.write(
        `--${boundary}\r\nContent-type: ${CONTENT_TYPES[format]}\r\nContent-length: ${Buffer.byteLength(doc)}\r\n\r\n${doc}\r\n`,
      )
    }
    const run = (): void => {
      if (ended) return
      try {
        if (!tick(part)) end()
      } catch (err) {
        request.log.error({ err }, 'MTConnect stream failed')
        end()
      }
    }
    const timer = setInterval(run, periodMs)
    streams.add(end)
    res.on('close', end)
    res.on('error', end)
    run()
  }

  // --- handlers ----------------------------------------------------------------------------------------------
  const probe = async (request: FastifyRequest, reply: FastifyReply, device?: string) => {
    try {
      const q = readQuery('probe', request.query)
      const format = formatOf(request, q)
      const b = await started()
      const m = currentModel(b)
      const devices = device === undefined ? visibleDevices(request, m) : [deviceNamed(request, m, device)]
      const doc = probeDocument(
        format,
        header(b, {
          deviceModelChangeTime: new Date(m.builtAt).toISOString(),
          bufferSize: b.bufferSize,
          assetBufferSize,
          assetCount: documents.stats().documents,
        }),
        devices,
      )
      return reply.type(CONTENT_TYPES[format]).send(doc)
    } catch (err) {
      return fail(request, reply, err)
    }
  }

  const current = async (request: FastifyRequest, reply: FastifyReply, deviceName?: string) => {
    try {
      const q = readQuery('current', request.query)
      const format = formatOf(request, q)
      const at = integer(q, 'at')
      const interval = integer(q, 'interval')
      if (at !== undefined && interval !== undefined) {
        throw new MTConnectRefusal('INVALID_REQUEST', "'at' and 'interval' cannot be given together")
      }
      const b = await started()
      let m = currentModel(b)
      const device = deviceName === undefined ? undefined : deviceNamed(request, m, deviceName)
      const devices = device ? [device] : visibleDevices(request, m)
      let wanted = selection(request, m, device, q.path)
      const build = (): string => {
        const snapshot =
          at === undefined
            ? (asset: string, id: string) => b.latest(asset, id)
            : b.at(inRange('at', at, b.firstSequence(), b.nextSequence() - 1), (asset, id) => {
                const item = m.byUuid.get(asset)?.items.get(id)
                return item !== undefined && (wanted === null || wanted.has(item))
              })
        return streamsDocument(format, streamsHeader(b, m, b.nextSequence()), currentShown(devices, wanted, snapshot))
      }
      if (interval === undefined) return reply.type(CONTENT_TYPES[format]).send(build())
      inRange('interval', interval, limits.minInterval, limits.maxInterval)
      stream(
        request,
        reply,
        format,
        interval,
        (part) => {
          const latest = currentModel(b)
          if (latest !== m) {
            m = latest
            wanted = selection(request, m, device && findDevice(m, device.uuid), q.path)
          }
          part(build())
          return true
        },
        '/mtconnect/current',
      )
      return reply
    } catch (err) {
      return fail(request, reply, err)
    }
  }

  const sample = async (request: FastifyRequest, reply: FastifyReply, deviceName?: string) => {
    try {
      const q = readQuery('sample', request.query)
      const format = formatOf(request, q)
      const count = inRange(
        'count',
        integer(q, 'count') ?? Math.min(MTCONNECT_DEFAULTS.defaultCount, limits.maxCount),
        1,
        limits.maxCount,
      )
      const interval = integer(q, 'interval')
      const heartbeat = integer(q, 'heartbeat')
      if (interval !== undefined) inRange('interval', interval, limits.minInterval, limits.maxInterval)
      if (heartbeat !== undefined) {
        if (interval === undefined) throw new MTConnectRefusal('INVALID_REQUEST', "'heartbeat' needs 'interval'")
        inRange('heartbeat', heartbeat, limits.minInterval, limits.maxInterval)
      }
      const b = await started()
      let m = currentModel(b)
      const device = deviceName === undefined ? undefined : deviceNamed(request, m, deviceName)
      let wanted = selection(request, m, device, q.path)
      const p = request.principal
      const visible = p && p.scopes.length > 0 ? new Set(visibleDevices(request, m).map((d) => d.uuid)) : null
      const fromParam = integer(q, 'from')
      const from =
        fromParam === undefined
          ? interval === undefined
            ? b.firstSequence()
            : b.nextSequence()
          : inRange('from', fromParam, b.firstSequence(), b.nextSequence())
      if (interval === undefined) {
        const { shown, next } = sampleShown(b, m, visible, wanted, from, count)
        return reply.type(CONTENT_TYPES[format]).send(streamsDocument(format, streamsHeader(b, m, next), shown))
      }
      const heartbeatMs = heartbeat ?? opts.heartbeatMs ?? MTCONNECT_DEFAULTS.defaultHeartbeatMs
      let cursor = from
      let lastPart = 0
      let lastData = 0
      stream(
        request,
        reply,
        format,
        Math.min(interval, heartbeatMs),
        (part) => {
          const now = Date.now()
          if (cursor < b.firstSequence()) {
            part(
              errorDocument(format, header(b, { bufferSize: b.bufferSize }), [
                {
                  code: 'OUT_OF_RANGE',
                  message: `sequence ${cursor} is no longer in the buffer (firstSequence ${b.firstSequence()})`,
                },
              ]),
            )
            return false
          }
          const latest = currentModel(b)
          if (latest !== m) {
            m = latest
            wanted = selection(request, m, device && findDevice(m, device.uuid), q.path)
          }
          if (now - lastData >= interval && cursor < b.nextSequence()) {
            const { shown, next } = sampleShown(b, m, visible, wanted, cursor, count)
            cursor = next
            if (shown.length > 0) {
              part(streamsDocument(format, streamsHeader(b, m, next), shown))
              lastData = now
              lastPart = now
              return true
            }
          }
          if (now - lastPart >= heartbeatMs) {
            part(streamsDocument(format, streamsHeader(b, m, cursor), []))
            lastPart = now
          }
          return true
        },
        '/mtconnect/sample',
      )
      return reply
    } catch (err) {
      return fail(request, reply, err)
    }
  }

  const assets = async (request: FastifyRequest, reply: FastifyReply, deviceName?: string) => {
    try {
      const q = readQuery('assets', request.query)
      const format = formatOf(request, q)
      const count = inRange(
        'count',
        integer(q, 'count') ?? Math.min(MTCONNECT_DEFAULTS.defaultCount, limits.maxAssets),
        1,
        limits.maxAssets,
      )
      const removed = q.removed
      if (removed !== undefined && removed !== 'true' && removed !== 'false') {
        throw new MTConnectRefusal('INVALID_REQUEST', `'removed' must be true or false (given: '${removed}')`)
      }
      const b = await started()
      const m = currentModel(b)
      const name = deviceName ?? q.device
      const device = name === undefined ? undefined : deviceNamed(request, m, name)
      const p = request.principal
      const list: AssetDocument[] = []
      for (const s of documents.list({ ...(device ? { asset: device.uuid } : {}), removed: removed === 'true' })) {
        if (q.type !== undefined && s.type !== q.type) continue
        if (p && p.scopes.length > 0 && !inScope(p, s.deviceUuid, state)) continue
        const doc = documents.get(s.assetId)
        if (doc) list.push(doc)
        if (list.length === count) break
      }
      const doc = assetsDocument(
        format,
        header(b, { assetBufferSize, assetCount: documents.stats().documents }),
        list.map(assetElement),
      )
      return reply.type(CONTENT_TYPES[format]).send(doc)
    } catch (err) {
      return fail(request, reply, err)
    }
  }

  const assetById = async (request: FastifyRequest<{ Params: { ids: string } }>, reply: FastifyReply) => {
    try {
      const q = readQuery('asset', request.query)
      const format = formatOf(request, q)
      const b = await started()
      const ids = request.params.ids.split(';').filter((s) => s !== '')
      if (ids.length === 0) throw new MTConnectRefusal('INVALID_REQUEST', 'no asset id given')
      const p = request.principal
      const found: AssetDocument[] = []
      const missing: string[] = []
      for (const id of ids) {
        const doc = documents.get(id)
        if (doc && !(p && p.scopes.length > 0 && !inScope(p, doc.deviceUuid, state))) found.push(doc)
        else missing.push(id)
      }
      if (found.length === 0) {
        return reply
          .code(404)
          .type(CONTENT_TYPES[format])
          .send(
            errorDocument(
              format,
              header(b, { bufferSize: b.bufferSize }),
              missing.map((id) => ({ code: 'ASSET_NOT_FOUND', message: `no asset '${id}'` })),
            ),
          )
      }
      const doc = assetsDocument(
        format,
        header(b, { assetBufferSize, assetCount: documents.stats().documents }),
        found.map(assetElement),
      )
      return reply.type(CONTENT_TYPES[format]).send(doc)
    } catch (err) {
      return fail(request, reply, err)
    }
  }

  // --- routes ------------------------------------------------------------------------------------------------
  // Not in the OpenAPI document (its answers are MTConnect's documents, not our JSON): mtconnect.md is their page.
  const route = { schema: { hide: true }, config: { access: 'read' as const } }
  type DeviceParams = { Params: { device: string } }
  app.get('/mtconnect', route, (req, reply) => probe(req, reply))
  app.get('/mtconnect/probe', route, (req, reply) => probe(req, reply))
  app.get('/mtconnect/current', route, (req, reply) => current(req, reply))
  app.get('/mtconnect/sample', route, (req, reply) => sample(req, reply))
  app.get('/mtconnect/assets', route, (req, reply) => assets(req, reply))
  app.get('/mtconnect/asset', route, (req, reply) => assets(req, reply))
  app.get('/mtconnect/assets/:ids', route, assetById)
  app.get('/mtconnect/asset/:ids', route, assetById)
  app.get<DeviceParams>('/mtconnect/:device', route, (req, reply) => probe(req, reply, req.params.device))
  app.get<DeviceParams>('/mtconnect/:device/probe', route, (req, reply) => probe(req, reply, req.params.device))
  app.get<DeviceParams>('/mtconnect/:device/current', route, (req, reply) => current(req, reply, req.params.device))
  app.get<DeviceParams>('/mtconnect/:device/sample', route, (req, reply) => sample(req, reply, req.params.device))
  app.get<DeviceParams>('/mtconnect/:device/assets', route, (req, reply) => assets(req, reply, req.params.device))
  app.get('/mtconnect/*', route, (req, reply) =>
    fail(
      req,
      reply,
      new MTConnectRefusal('UNSUPPORTED', `no MTConnect request ${JSON.stringify(req.url.split('?')[0])}`, 404),
    ),
  )
}
