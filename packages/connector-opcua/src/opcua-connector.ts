/**
 * The OPC UA connector: one device of a factory, served by an OPC UA server (opcua-spec.ts registers it).
 *
 * On every session the device's server link gives it (session-pool.ts; devices naming the same server share
 * it), the connector sets the device up from scratch: it resolves every node of the file (browse paths
 * translated, node ids read), reads the constants once, discovers the methods of each `methods` object with
 * their InputArguments and OutputArguments, declares the asset (Samples for numeric variables, Events for the
 * rest, a Condition per event notifier, a method per OPC UA method and a `set_<name>` per `rw` variable), and
 * creates its own subscription: the variables (grouped by their monitoring parameters, one request per group),
 * the event notifiers, and the server's NamespaceArray — when the server's namespaces change, the device is set
 * up again, since its `ns=` indices may mean something else now.
 *
 * A node the server does not know, or that is not what its section needs, is an `OFA_OPCUA_NODE` error naming
 * the entry and its place in the file; its item is UNAVAILABLE with that reason and the device's other nodes
 * run. A subscription that sends neither data nor keep-alives for three keep-alive periods (`OFA_OPCUA_STALLED`)
 * makes the link replace the session. Session down: the asset is UNAVAILABLE with the link's reason, every item
 * UNAVAILABLE; a new session sets it up again.
 *
 * Commands: an OPC UA method is called with the arguments converted to the types the server declared (numbers
 * may come as text, as reference clients send them); the result is its output arguments by name. `set_<name>`
 * writes `value` to an `rw` variable. A Bad status fails the command with the status's name.
 *
 * Backpressure: when the log falls behind (`ctx.congested`), publishing is paused on the server
 * (SetPublishingMode false) until it catches up: the server keeps the newest `queue_size` values per item.
 */
import type { CommandRequest, Connector, ConnectorContext, ConnectorDeps } from '@openfactory/connectors'
import {
  type Asset,
  type DataItem,
  isoTimestamp,
  type MethodContract,
  type Observation,
  OpenFactoryError,
  RESERVED_ATTRIBUTE_IDS,
  UNAVAILABLE,
} from '@openfactory/model'
import {
  AttributeIds,
  BrowseDirection,
  type BrowsePathResult,
  ClientMonitoredItem,
  type ClientMonitoredItemBase,
  ClientMonitoredItemGroup,
  type ClientSession,
  ClientSubscription,
  coerceNodeId,
  constructEventFilter,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  type DataValue,
  DeadbandType,
  type MonitoringParametersOptions,
  NodeClassMask,
  type NodeId,
  type ReadValueIdOptions,
  TimestampsToReturn,
  type Variant,
} from 'node-opcua-client'
import { defaultPkiDir } from './certificates.ts'
import {
  describeNode,
  type NodeRef,
  type OpcuaDeviceConfig,
  type OpcuaEventEntry,
  type OpcuaVariableEntry,
} from './opcua-config.ts'
import { attachLink, connectionError, detachLink, type LinkUser, type ServerLink } from './session-pool.ts'
import {
  builtinTypeOf,
  dataValueObservation,
  isNumericVariable,
  jsonValue,
  observationValue,
  severityLevel,
  statusName,
  toVariant,
} from './values.ts'

const ROOT_FOLDER = 'i=84'
const HIERARCHICAL_REFERENCES = 'i=33'
const HAS_COMPONENT = 'i=47'
const HAS_PROPERTY = 'i=46'
const NAMESPACE_ARRAY = 'i=2255'
/** The tag of the Condition an event notifier's events become. */
export const EVENT_TAG = 'OPCUAEvent'
/** Keep-alive periods without a word from a subscription after which it is declared stalled. */
const STALL_PERIODS = 3
/** Status codes with which a server refuses a monitoring filter: the item is created without one. */
const FILTER_REFUSED = new Set(['BadFilterNotAllowed', 'BadMonitoredItemFilterUnsupported', 'BadDeadbandFilterInvalid'])

/** A command name from an OPC UA method's browse name: ASCII letters, digits and `_` (as the reference names them). */
export function commandName(browseName: string): string {
  return browseName
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '')
}

type Binding =
  | {
      readonly kind: 'call'
      readonly objectId: NodeId
      readonly methodId: NodeId
      readonly inputs: readonly { readonly name: string; readonly type: DataType | undefined }[]
      readonly outputs: readonly string[]
    }
  | { readonly kind: 'write'; readonly nodeId: NodeId; readonly type: DataType | undefined; readonly variable: string }

/** A variable as subscribed in one session. */
interface LiveVariable {
  readonly entry: OpcuaVariableEntry
  readonly nodeId: NodeId
  readonly samples: boolean
  /** Absolute deadband applied here too (servers may ignore the filter); 0: none. */
  readonly deadband: number
  last: number | undefined
}

/** What one session of the device holds; dropped whole when the session goes. */
interface SessionState {
  readonly session: ClientSession
  readonly generation: number
  subscription: ClientSubscription | null
  lastHeard: number
  watchdog: NodeJS.Timeout | null
  paused: boolean
  pending: Observation[]
  flushing: boolean
}

function nodeError(entry: { name: string; node: NodeRef; where: OpcuaVariableEntry['where'] }, message: string) {
  return new OpenFactoryError('OFA_OPCUA_NODE', `${entry.where.path}: ${describeNode(entry.node)}: ${message}`, {
    where: entry.where,
  })
}

/**
 * The server's NamespaceArray as it is now. Not `session.readNamespaceArray()`: node-opcua keeps the first answer
 * for the session's life, so after a change the device would be set up against the old array and the namespace
 * watch (which sees the new one) would set it up again, without end.
 */
async function readNamespaces(session: ClientSession): Promise<string[]> {
  const dv = await session.read({ nodeId: NAMESPACE_ARRAY, attributeId: AttributeIds.Value })
  if (!dv.statusCode.isGood()) {
    throw new OpenFactoryError(
      'OFA_OPCUA_NODE',
      `the server's NamespaceArray cannot be read: ${statusName(dv.statusCode)}`,
      {
        retryable: true,
      },
    )
  }
  return Array.from((dv.value.value as string[] | null) ?? [])
}

function parseBrowsePath(path: string): { namespaceIndex: number; name: string }[] {
  // Model's schema checked the shape: `0:Root/<ns>:<name>/...`; the first element is the start (Root).
  return path
    .split('/')
    .slice(1)
    .map((part) => {
      const colon = part.indexOf(':')
      return { namespaceIndex: Number(part.slice(0, colon)), name: part.slice(colon + 1) }
    })
}

function relativePath(startingNode: NodeId | string, names: { namespaceIndex: number; name: string }[], ref: string) {
  return {
    startingNode,
    relativePath: {
      elements: names.map((targetName) => ({
        referenceTypeId: ref,
        isInverse: false,
        includeSubtypes: true,
        targetName,
      })),
    },
  }
}

function targetOf(r: BrowsePathResult | undefined): NodeId | undefined {
  if (!r?.statusCode.isGood() || !r.targets || r.targets.length === 0) return undefined
  const t = r.targets[0]?.targetId
  return t ? coerceNodeId(t.toString()) : undefined
}

export class OpcuaConnector implements Connector, LinkUser {
  readonly name: string
  readonly #config: OpcuaDeviceConfig
  readonly #deps: ConnectorDeps
  readonly #pkiDir: string
  #ctx: ConnectorContext | null = null
  #link: ServerLink | null = null
  #generation = 0
  #state: SessionState | null = null
  #declared = ''
  #bindings = new Map<string, Binding>()
  #available = false
  #downReason = ''

  constructor(config: OpcuaDeviceConfig, deps: ConnectorDeps = {}) {
    this.name = config.uuid
    this.#config = config
    this.#deps = deps
    this.#pkiDir = deps.pkiDir ?? defaultPkiDir()
  }

  /** The link to the device's server (tests look at its sessions). */
  get link(): ServerLink | null {
    return this.#link
  }

  /**
   * Resolves once the first session set the device up (its methods are then declared: a command read at start
   * finds them), or the first attempt failed (the link goes on trying). Never rejects.
   */
  async start(ctx: ConnectorContext): Promise<void> {
    this.#ctx = ctx
    const first = new Promise<void>((resolve) => {
      this.#settled = resolve
    })
    // Until the first session tells the data types, items are declared as the file names them.
    this.#declare(this.#provisionalItems(), [])
    const t = this.#deps.timings
    this.#link = attachLink(
      this.#config.server,
      {
        pkiDir: this.#pkiDir,
        logger: ctx.logger,
        timings: {
          ...(t?.connectTimeoutMs !== undefined ? { connectTimeoutMs: t.connectTimeoutMs } : {}),
          ...(t?.backoff ? { backoff: t.backoff } : {}),
          ...(t?.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: t.sessionTimeoutMs } : {}),
        },
      },
      this,
    )
    await first
  }

  /** Called when the first attempt ended, either way. */
  #settled: (() => void) | null = null

  #settle(): void {
    this.#settled?.()
    this.#settled = null
  }

  async stop(): Promise<void> {
    this.#settle()
    this.#generation++
    const state = this.#state
    this.#state = null
    if (state) await this.#dropSubscription(state)
    if (this.#link) await detachLink(this.#link, this)
    this.#link = null
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sessions

  sessionUp(session: ClientSession): void {
    const generation = ++this.#generation
    const old = this.#state
    if (old) void this.#dropSubscription(old)
    const state: SessionState = {
      session,
      generation,
      subscription: null,
      lastHeard: Date.now(),
      watchdog: null,
      paused: false,
      pending: [],
      flushing: false,
    }
    this.#state = state
    this.#setUp(state).catch((err: unknown) => {
      if (state.generation !== this.#generation) return
      const reason = connectionError(err, this.#config.server.uri)
      this.#ctx?.logger.warn('OPC UA device setup failed', { code: reason.code, reason: reason.message })
      this.#link?.restart(reason)
      this.#settle()
    })
  }

  sessionDown(reason: OpenFactoryError): void {
    this.#settle()
    this.#generation++
    const state = this.#state
    this.#state = null
    if (state) void this.#dropSubscription(state)
    const ctx = this.#ctx
    if (!ctx || ctx.signal.aborted) return
    if (!this.#available && this.#downReason === reason.message) return
    this.#available = false
    this.#downReason = reason.message
    ctx.setAvailable(this.#config.uuid, false, `${reason.code}: ${reason.message}`)
    const timestamp = isoTimestamp(Date.now())
    ctx.publish(
      this.#config.uuid,
      this.#currentItems().map((d) => ({
        id: d.id,
        tag: d.tag,
        type: d.category,
        value: UNAVAILABLE,
        attributes: { timestamp, reason: reason.code },
      })),
    )
  }

  async #dropSubscription(state: SessionState): Promise<void> {
    if (state.watchdog) clearInterval(state.watchdog)
    state.watchdog = null
    const sub = state.subscription
    state.subscription = null
    if (!sub) return
    try {
      await Promise.race([sub.terminate(), new Promise((r) => setTimeout(r, 2000))])
    } catch {
      // The session is gone with it.
    }
  }

  #current(state: SessionState): boolean {
    return this.#state === state && state.generation === this.#generation
  }

  async #setUp(state: SessionState): Promise<void> {
    const ctx = this.#ctx as ConnectorContext
    const { session } = state
    const c = this.#config
    const namespaces = await readNamespaces(session)
    const problems: OpenFactoryError[] = []
    const unavailable: Observation[] = []
    const now = isoTimestamp(Date.now())
    const markBad = (id: string, tag: string, category: DataItem['category'], err: OpenFactoryError) => {
      problems.push(err)
      unavailable.push({
        id,
        tag,
        type: category,
        value: UNAVAILABLE,
        attributes: { timestamp: now, reason: err.message },
      })
    }

    // 1. Resolve every node: node ids as written, browse paths in one TranslateBrowsePaths request.
    const entries = [...c.constants, ...c.variables, ...c.events, ...c.methods]
    const byPath = entries.filter((e) => 'browsePath' in e.node)
    const translated = byPath.length
      ? await session.translateBrowsePath(
          byPath.map((e) =>
            relativePath(
              ROOT_FOLDER,
              parseBrowsePath((e.node as { browsePath: string }).browsePath),
              HIERARCHICAL_REFERENCES,
            ),
          ),
        )
      : []
    const resolved = new Map<string, NodeId | OpenFactoryError>()
    byPath.forEach((e, i) => {
      const r = translated[i]
      const id = targetOf(r)
      resolved.set(e.where.path as string, id ?? nodeError(e, `no such node (${statusName(r?.statusCode)})`))
    })
    for (const e of entries) {
      if ('nodeId' in e.node) {
        try {
          resolved.set(e.where.path as string, coerceNodeId(e.node.nodeId))
        } catch (err) {
          resolved.set(e.where.path as string, nodeError(e, (err as Error).message))
        }
      }
    }
    const nodeOf = (e: { where: { path?: string } }) =>
      resolved.get(e.where.path as string) as NodeId | OpenFactoryError

    // 2. Read value, data type and access of constants and variables in one Read.
    const readable = [...c.constants, ...c.variables].filter((e) => !(nodeOf(e) instanceof OpenFactoryError))
    const reads: ReadValueIdOptions[] = readable.flatMap((e) => {
      const nodeId = nodeOf(e) as NodeId
      return [
        { nodeId, attributeId: AttributeIds.Value },
        { nodeId, attributeId: AttributeIds.DataType },
        { nodeId, attributeId: AttributeIds.UserAccessLevel },
      ]
    })
    const values = reads.length ? await session.read(reads) : []
    const info = new Map<string, { value: DataValue; dataType: NodeId | undefined; access: number }>()
    readable.forEach((e, i) => {
      const value = values[i * 3] as DataValue
      const dt = values[i * 3 + 1] as DataValue
      const access = values[i * 3 + 2] as DataValue
      if (value.statusCode.name === 'BadNodeIdUnknown' || value.statusCode.name === 'BadAttributeIdInvalid') {
        resolved.set(e.where.path as string, nodeError(e, `not a readable variable (${statusName(value.statusCode)})`))
        return
      }
      info.set(e.where.path as string, {
        value,
        dataType: dt.statusCode.isGood() ? (dt.value.value as NodeId) : undefined,
        access: access.statusCode.isGood() ? Number(access.value.value) : 0,
      })
    })

    // 3. Data items, constants' observations, writable variables.
    const items: DataItem[] = []
    const constants: Observation[] = []
    const bindings = new Map<string, Binding>()
    const received = Date.now()
    for (const e of c.constants) {
      const node = nodeOf(e)
      const i = info.get(e.where.path as string)
      const samples = i ? isNumericVariable(i.dataType, i.value.value) : false
      items.push({ id: e.name, tag: e.tag, category: samples ? 'Samples' : 'Events' })
      if (node instanceof OpenFactoryError || !i) {
        markBad(e.name, e.tag, 'Events', node instanceof OpenFactoryError ? node : nodeError(e, 'unreadable'))
        continue
      }
      constants.push(dataValueObservation({ id: e.name, tag: e.tag, samples }, i.value, received))
    }
    const live: LiveVariable[] = []
    const percentNeeded: { v: LiveVariable; entry: OpcuaVariableEntry }[] = []
    for (const e of c.variables) {
      const node = nodeOf(e)
      const i = info.get(e.where.path as string)
      const samples = i ? isNumericVariable(i.dataType, i.value.value) : false
      items.push({ id: e.name, tag: e.tag, category: samples ? 'Samples' : 'Events' })
      if (node instanceof OpenFactoryError || !i) {
        markBad(
          e.name,
          e.tag,
          samples ? 'Samples' : 'Events',
          node instanceof OpenFactoryError ? node : nodeError(e, 'unreadable'),
        )
        continue
      }
      const v: LiveVariable = {
        entry: e,
        nodeId: node,
        samples,
        deadband: e.deadbandType === 'absolute' ? e.deadband : 0,
        last: undefined,
      }
      live.push(v)
      if (e.deadband > 0 && e.deadbandType === 'percent') percentNeeded.push({ v, entry: e })
      if (e.writable) {
        const method = `set_${commandName(e.name)}`
        if ((i.access & 0x02) === 0) {
          problems.push(nodeError(e, 'access_level rw, but the server does not let this session write it'))
        } else {
          bindings.set(method, { kind: 'write', nodeId: node, type: builtinTypeOf(i.dataType), variable: e.name })
        }
      }
    }

    // 4. Percent deadbands: EURange of each such variable.
    if (percentNeeded.length > 0) {
      const paths = await session.translateBrowsePath(
        percentNeeded.map(({ v }) => relativePath(v.nodeId, [{ namespaceIndex: 0, name: 'EURange' }], HAS_PROPERTY)),
      )
      const rangeIds = paths.map(targetOf)
      const ranges = await session.read(
        rangeIds.map((nodeId) => ({ nodeId: nodeId ?? 'i=0', attributeId: AttributeIds.Value })),
      )
      percentNeeded.forEach(({ v, entry }, k) => {
        const range = ranges[k]?.value.value as { low?: number; high?: number } | null
        const index = live.indexOf(v)
        if (!rangeIds[k] || !range || typeof range.low !== 'number' || typeof range.high !== 'number') {
          live.splice(index, 1)
          markBad(
            entry.name,
            entry.tag,
            'Samples',
            nodeError(entry, 'deadband_type percent, but the variable has no EURange'),
          )
          return
        }
        live[index] = { ...v, deadband: (entry.deadband / 100) * Math.abs(range.high - range.low) }
      })
    }

    // 5. Events: Condition items; notifiers must resolve.
    const notifiers: { entry: OpcuaEventEntry; nodeId: NodeId }[] = []
    for (const e of c.events) {
      items.push({ id: e.name, tag: EVENT_TAG, category: 'Condition' })
      const node = nodeOf(e)
      if (node instanceof OpenFactoryError) markBad(e.name, EVENT_TAG, 'Condition', node)
      else notifiers.push({ entry: e, nodeId: node })
    }

    // 6. Methods of each `methods` object.
    const contracts: MethodContract[] = []
    for (const e of c.methods) {
      const node = nodeOf(e)
      if (node instanceof OpenFactoryError) {
        problems.push(node)
        continue
      }
      const found = await this.#discoverMethods(session, e, node, problems)
      for (const [name, { binding, contract }] of found) {
        if (bindings.has(name) || contracts.some((m) => m.name === name)) {
          problems.push(nodeError(e, `method ${name} is offered twice; the second is left out`))
          continue
        }
        bindings.set(name, binding)
        contracts.push(contract)
      }
    }
    for (const [name, b] of bindings) {
      if (b.kind === 'write') {
        contracts.push({
          name,
          description: `writes the variable ${b.variable}`,
          arguments: [
            {
              name: 'value',
              description: `the new value (${b.type !== undefined ? dataTypeName(b.type) : 'any'})`,
              required: true,
            },
          ],
        })
      }
    }
    if (!this.#current(state)) return

    for (const p of problems) ctx.logger.error(p.message, { code: p.code, ...(p.where ? { where: p.where } : {}) })
    this.#bindings = bindings
    this.#declare(items, contracts)
    ctx.publish(c.uuid, [...constants, ...unavailable])

    // 7. The subscription: variables by groups of equal parameters, event notifiers, the namespace watch.
    await this.#subscribe(state, live, notifiers, namespaces)
    if (!this.#current(state)) return
    this.#available = true
    this.#downReason = ''
    ctx.setAvailable(c.uuid, true)
    this.#settle()
  }

  async #discoverMethods(
    session: ClientSession,
    e: { name: string; node: NodeRef; where: OpcuaVariableEntry['where'] },
    objectId: NodeId,
    problems: OpenFactoryError[],
  ): Promise<Map<string, { binding: Binding; contract: MethodContract }>> {
    const out = new Map<string, { binding: Binding; contract: MethodContract }>()
    const browsed = await session.browse({
      nodeId: objectId,
      referenceTypeId: HAS_COMPONENT,
      browseDirection: BrowseDirection.Forward,
      includeSubtypes: true,
      nodeClassMask: NodeClassMask.Method,
      resultMask: 63,
    })
    if (!browsed.statusCode.isGood()) {
      problems.push(nodeError(e, `cannot browse its methods (${statusName(browsed.statusCode)})`))
      return out
    }
    const methods = (browsed.references ?? []).map((r) => ({
      nodeId: coerceNodeId(r.nodeId.toString()),
      name: r.browseName.name ?? '',
    }))
    if (methods.length === 0) return out
    const paths = await session.translateBrowsePath(
      methods.flatMap((m) => [
        relativePath(m.nodeId, [{ namespaceIndex: 0, name: 'InputArguments' }], HAS_PROPERTY),
        relativePath(m.nodeId, [{ namespaceIndex: 0, name: 'OutputArguments' }], HAS_PROPERTY),
      ]),
    )
    const ids = paths.map(targetOf)
    const reads: ReadValueIdOptions[] = methods.flatMap((m, k) => [
      { nodeId: m.nodeId, attributeId: AttributeIds.Description },
      { nodeId: ids[k * 2] ?? 'i=0', attributeId: AttributeIds.Value },
      { nodeId: ids[k * 2 + 1] ?? 'i=0', attributeId: AttributeIds.Value },
    ])
    const values = await session.read(reads)
    type Arg = { name: string; dataType: NodeId; description?: { text?: string | null } }
    methods.forEach((m, k) => {
      const name = commandName(m.name)
      if (name === '' || RESERVED_ATTRIBUTE_IDS.includes(name)) {
        problems.push(nodeError(e, `method ${m.name} has no usable command name; left out`))
        return
      }
      const description = (values[k * 3]?.value.value as { text?: string } | null)?.text ?? ''
      const inputs = ids[k * 2] ? ((values[k * 3 + 1]?.value.value as Arg[] | null) ?? []) : []
      const outputs = ids[k * 2 + 1] ? ((values[k * 3 + 2]?.value.value as Arg[] | null) ?? []) : []
      const binding: Binding = {
        kind: 'call',
        objectId,
        methodId: m.nodeId,
        inputs: inputs.map((a) => ({ name: a.name, type: builtinTypeOf(a.dataType) })),
        outputs: outputs.map((a) => a.name),
      }
      const contract: MethodContract = {
        name,
        description,
        arguments: inputs.map((a) => {
          const type = builtinTypeOf(a.dataType)
          const text = a.description?.text ?? ''
          return {
            name: a.name,
            description: `${text}${text ? ' ' : ''}(${type !== undefined ? dataTypeName(type) : a.dataType.toString()})`,
            required: true,
          }
        }),
      }
      out.set(name, { binding, contract })
    })
    return out
  }

  async #subscribe(
    state: SessionState,
    live: LiveVariable[],
    notifiers: { entry: OpcuaEventEntry; nodeId: NodeId }[],
    namespaces: string[],
  ): Promise<void> {
    const ctx = this.#ctx as ConnectorContext
    const s = this.#config.subscription
    const sub = ClientSubscription.create(state.session, {
      requestedPublishingInterval: s.publishingInterval,
      requestedMaxKeepAliveCount: 10,
      requestedLifetimeCount: 60,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 1,
    })
    state.subscription = sub
    const heard = () => {
      state.lastHeard = Date.now()
    }
    sub.on('keepalive', heard)
    sub.on('received_notifications', heard)
    await new Promise<void>((resolve, reject) => {
      sub.once('started', () => resolve())
      sub.once('internal_error', (err) => reject(err))
    })
    if (!this.#current(state)) return

    // Variables, grouped by equal monitoring parameters.
    const groups = new Map<string, { params: MonitoringParametersOptions; vars: LiveVariable[] }>()
    for (const v of live) {
      const e = v.entry
      const filter =
        e.deadband > 0 && e.deadbandType === 'absolute' && v.samples
          ? { trigger: DataChangeTrigger.StatusValue, deadbandType: DeadbandType.Absolute, deadbandValue: e.deadband }
          : null
      const key = JSON.stringify([e.samplingInterval, e.queueSize, filter])
      let g = groups.get(key)
      if (!g) {
        g = {
          params: {
            samplingInterval: e.samplingInterval,
            queueSize: e.queueSize,
            discardOldest: true,
            ...(filter ? { filter: new DataChangeFilter(filter) } : {}),
          },
          vars: [],
        }
        groups.set(key, g)
      }
      g.vars.push(v)
    }
    for (const g of groups.values()) {
      const refused = await this.#monitorGroup(state, sub, g.params, g.vars)
      if (refused.length > 0 && g.params.filter) {
        const { filter: _ignored, ...params } = g.params
        await this.#monitorGroup(state, sub, params, refused)
      }
    }

    // Event notifiers.
    const fields = ['EventId', 'EventType', 'SourceName', 'Time', 'Message', 'Severity']
    for (const n of notifiers) {
      const item = ClientMonitoredItem.create(
        sub,
        { nodeId: n.nodeId, attributeId: AttributeIds.EventNotifier },
        { samplingInterval: 0, queueSize: 1000, discardOldest: true, filter: constructEventFilter(fields) },
        TimestampsToReturn.Both,
      )
      item.on('changed', (values: Variant[]) => {
        void this.#onEvent(state, n.entry, values)
      })
      item.on('err', (message: string) => {
        if (!this.#current(state)) return
        const err = nodeError(n.entry, `not an event notifier (${message})`)
        ctx.logger.error(err.message, { code: err.code })
        this.#queue(state, [
          {
            id: n.entry.name,
            tag: EVENT_TAG,
            type: 'Condition',
            value: UNAVAILABLE,
            attributes: { timestamp: isoTimestamp(Date.now()), reason: err.message },
          },
        ])
      })
    }

    // The namespace watch: the first notification is the array as read at setup; a different one resets the device.
    const watch = ClientMonitoredItem.create(
      sub,
      { nodeId: NAMESPACE_ARRAY, attributeId: AttributeIds.Value },
      { samplingInterval: 1000, queueSize: 1, discardOldest: true },
      TimestampsToReturn.Neither,
    )
    const expected = JSON.stringify(namespaces)
    watch.on('changed', (dv: DataValue) => {
      if (!this.#current(state) || !dv.statusCode.isGood()) return
      const now = JSON.stringify(Array.from((dv.value.value as string[]) ?? []))
      if (now === expected) return
      ctx.logger.warn('the server’s namespaces changed: resolving the device’s nodes again', {
        server: this.#config.server.uri,
      })
      this.sessionUp(state.session)
    })

    // The watchdog: a subscription that falls silent makes the link replace the session.
    const period = Math.max(100, sub.publishingInterval * sub.maxKeepAliveCount)
    state.lastHeard = Date.now()
    state.watchdog = setInterval(() => {
      if (!this.#current(state) || state.paused) return
      if (Date.now() - state.lastHeard > STALL_PERIODS * period) {
        this.#link?.restart(
          new OpenFactoryError(
            'OFA_OPCUA_STALLED',
            `${this.#config.server.uri}: the subscription of ${this.#config.uuid} sent nothing for ${STALL_PERIODS * period} ms`,
            { retryable: true },
          ),
        )
      }
    }, period)
    state.watchdog.unref()
  }

  /** Monitors a group of variables; returns those whose monitoring filter the server refused. */
  async #monitorGroup(
    state: SessionState,
    sub: ClientSubscription,
    params: MonitoringParametersOptions,
    vars: LiveVariable[],
  ): Promise<LiveVariable[]> {
    const ctx = this.#ctx as ConnectorContext
    const group = ClientMonitoredItemGroup.create(
      sub,
      vars.map((v) => ({ nodeId: v.nodeId, attributeId: AttributeIds.Value })),
      params,
      TimestampsToReturn.Both,
    )
    const bad = new Set<number>()
    group.on('changed', (_item: ClientMonitoredItemBase, dv: DataValue, index: number) => {
      if (bad.has(index)) return
      const v = vars[index]
      if (v) this.#onChange(state, v, dv)
    })
    await new Promise<void>((resolve) => {
      group.once('initialized', () => resolve())
      group.once('err', () => resolve())
    })
    const refused: LiveVariable[] = []
    group.monitoredItems.forEach((item, index) => {
      const status = item.statusCode
      const v = vars[index] as LiveVariable
      if (!status || status.isGood()) return
      bad.add(index)
      if (FILTER_REFUSED.has(status.name) && params.filter) {
        refused.push(v)
        return
      }
      const err = nodeError(v.entry, `cannot be monitored (${statusName(status)})`)
      ctx.logger.error(err.message, { code: err.code })
      this.#queue(state, [
        {
          id: v.entry.name,
          tag: v.entry.tag,
          type: v.samples ? 'Samples' : 'Events',
          value: UNAVAILABLE,
          attributes: { timestamp: isoTimestamp(Date.now()), reason: err.message },
        },
      ])
    })
    return refused
  }

  #onChange(state: SessionState, v: LiveVariable, dv: DataValue): void {
    if (!this.#current(state)) return
    const o = dataValueObservation({ id: v.entry.name, tag: v.entry.tag, samples: v.samples }, dv, Date.now())
    if (typeof o.value === 'number') {
      if (v.deadband > 0 && v.last !== undefined && Math.abs(o.value - v.last) <= v.deadband) return
      v.last = o.value
    } else if (o.value === UNAVAILABLE) {
      v.last = undefined
    }
    this.#queue(state, [o])
  }

  async #onEvent(state: SessionState, entry: OpcuaEventEntry, values: Variant[]): Promise<void> {
    if (!this.#current(state)) return
    const [, eventType, sourceName, time, message, severity] = values
    const sev = Number(severity?.value ?? 0)
    const when = time?.value instanceof Date && !Number.isNaN(time.value.getTime()) ? time.value.getTime() : Date.now()
    const typeName = await this.#eventTypeName(state, eventType?.value as NodeId | undefined)
    const text = message ? observationValue(message, false) : undefined
    this.#queue(state, [
      {
        id: entry.name,
        tag: EVENT_TAG,
        type: 'Condition',
        value: severityLevel(sev),
        attributes: {
          timestamp: isoTimestamp(when),
          nativeCode: typeName,
          nativeSeverity: String(sev),
          ...(text !== undefined ? { message: String(text) } : {}),
          ...(sourceName?.value ? { source: String(sourceName.value) } : {}),
        },
      },
    ])
  }

  readonly #eventTypes = new Map<string, string>()

  async #eventTypeName(state: SessionState, type: NodeId | undefined): Promise<string> {
    if (!type) return 'BaseEventType'
    const key = type.toString()
    const known = this.#eventTypes.get(key)
    if (known) return known
    try {
      const dv = await state.session.read({ nodeId: type, attributeId: AttributeIds.BrowseName })
      const name = (dv.value.value as { name?: string } | null)?.name ?? key
      this.#eventTypes.set(key, name)
      return name
    } catch {
      return key
    }
  }

  /** Queues observations and publishes them once per turn of the event loop (a notification's worth at a time). */
  #queue(state: SessionState, obs: Observation[]): void {
    for (const o of obs) state.pending.push(o)
    if (state.flushing) return
    state.flushing = true
    queueMicrotask(() => {
      state.flushing = false
      if (!this.#current(state) || state.pending.length === 0) return
      const batch = state.pending
      state.pending = []
      const ctx = this.#ctx as ConnectorContext
      ctx.publish(this.#config.uuid, batch)
      if (ctx.congested && !state.paused) void this.#pause(state)
    })
  }

  async #pause(state: SessionState): Promise<void> {
    const ctx = this.#ctx as ConnectorContext
    const sub = state.subscription
    if (!sub) return
    state.paused = true
    try {
      await sub.setPublishingMode(false)
      await ctx.whenWritable()
      if (this.#current(state)) await sub.setPublishingMode(true)
    } catch {
      // The session went: the next one starts publishing.
    } finally {
      state.paused = false
      state.lastHeard = Date.now()
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // The asset

  #provisionalItems(): DataItem[] {
    const c = this.#config
    return [
      ...c.constants.map((e) => ({ id: e.name, tag: e.tag, category: 'Events' as const })),
      ...c.variables.map((e) => ({ id: e.name, tag: e.tag, category: 'Events' as const })),
      ...c.events.map((e) => ({ id: e.name, tag: EVENT_TAG, category: 'Condition' as const })),
    ]
  }

  #currentItems(): readonly DataItem[] {
    return this.#lastAsset?.dataItems ?? []
  }

  #lastAsset: Asset | null = null

  #declare(dataItems: DataItem[], methods: MethodContract[]): void {
    const c = this.#config
    const asset: Asset = {
      uuid: c.uuid,
      type: 'Device',
      ...(c.uns ? { uns: c.uns } : {}),
      referencesAbove: [],
      referencesBelow: [],
      dataItems,
      methods,
    }
    const text = JSON.stringify(asset)
    if (text === this.#declared) return
    this.#declared = text
    this.#lastAsset = asset
    this.#ctx?.declareAssets([asset])
  }

  // ---------------------------------------------------------------------------------------------------------
  // Commands

  async execute(req: CommandRequest): Promise<unknown> {
    const binding = this.#bindings.get(req.method)
    if (!binding) throw new OpenFactoryError('OFA_COMMAND_REJECTED', `no method ${req.method}`)
    const session = this.#state?.session
    if (!session || !this.#available) {
      throw new OpenFactoryError(
        'OFA_COMMAND_FAILED',
        `${this.#config.server.uri}: no session (${this.#downReason || 'connecting'})`,
      )
    }
    if (binding.kind === 'write') {
      if (binding.type === undefined) {
        throw new OpenFactoryError(
          'OFA_COMMAND_REJECTED',
          `the type of ${binding.variable} cannot be written by a command`,
        )
      }
      const value = toVariant('value', binding.type, req.arguments.value)
      const status = await session.write({ nodeId: binding.nodeId, attributeId: AttributeIds.Value, value: { value } })
      if (!status.isGood()) throw new OpenFactoryError('OFA_COMMAND_FAILED', `${req.method}: ${statusName(status)}`)
      return { value: jsonValue(value) }
    }
    const inputArguments = binding.inputs.map((a) => {
      if (a.type === undefined) {
        throw new OpenFactoryError('OFA_COMMAND_REJECTED', `argument ${a.name}: its server type cannot be sent`)
      }
      return toVariant(a.name, a.type, req.arguments[a.name])
    })
    const result = await session.call({ objectId: binding.objectId, methodId: binding.methodId, inputArguments })
    if (!result.statusCode.isGood()) {
      const argProblems = (result.inputArgumentResults ?? [])
        .map((s, i) => (s.isGood() ? '' : `${binding.inputs[i]?.name}: ${statusName(s)}`))
        .filter((x) => x !== '')
      const detail = argProblems.length ? ` (${argProblems.join(', ')})` : ''
      throw new OpenFactoryError('OFA_COMMAND_FAILED', `${req.method}: ${statusName(result.statusCode)}${detail}`)
    }
    const out: Record<string, unknown> = {}
    ;(result.outputArguments ?? []).forEach((v, i) => {
      out[binding.outputs[i] ?? `output${i}`] = jsonValue(v)
    })
    return out
  }
}

function dataTypeName(t: DataType): string {
  return DataType[t] ?? String(t)
}
