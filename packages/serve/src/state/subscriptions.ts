/**
 * Live subscriptions: one change computation fanned out to every subscriber.
 *
 * A subscription selects `uuid|id` entries by asset UUIDs, item ids and a UNS pattern (`+`/`#` wildcards, see
 * `uns-pattern.ts`); every given filter must hold, and no filter selects everything. A subscriber first gets a
 * snapshot — the current state of every selected entry — then one update per change, in log order:
 *
 *   {"id": "s1", "kind": "snapshot", "data": [ItemState, ...]}
 *   {"id": "s1", "kind": "update", "data": ItemState}
 *
 * The snapshot is taken synchronously when subscribing, so no change falls between it and the first update.
 *
 * Matching one change does not scan every subscription: each subscription sits in one index — by asset UUID
 * when it names assets, else by asset for the assets its UNS pattern selects (kept up to date when assets
 * appear or move), else by item id, else in the match-everything set — and only the candidates found there are
 * checked against all their filters. The entry's JSON is built once per change, and only when some subscriber
 * wants it.
 *
 * Writes are batched: the updates a connection gets from one batch of log records go out in one write (the
 * transport is corked from the first of them until the batch has been applied). After the batch, the time from
 * each delivered observation's ingestion to that hand-over is reported to `onDelivery` listeners (metrics).
 *
 * Slow consumers: each connection's transport reports how many bytes it still has to send. When what is queued
 * beyond the last snapshot exceeds `maxBufferedBytes` at the start of a log batch, the connection is dropped with
 * `OFA_SERVE_SLOW_CONSUMER`, so a stalled client neither blocks the others nor grows memory without bound (a
 * connection holds at most the bound plus one batch of updates).
 *
 * Caps (`SubscriptionLimits`, each configurable): a connection holds at most 1000 subscriptions whose filters
 * name at most 10 000 assets and items in all, and the hub at most 100 000 subscriptions; a subscription's
 * `assets` and `items` lists have at most 1000 entries each. Past a count cap, `subscribe` throws
 * `OFA_SERVE_SUBSCRIPTION_LIMIT` and nothing is added; a list past its cap is a malformed subscription (the
 * caller's `code`). What one subscription costs is thus bounded, and so is what one client can make the server
 * hold (the transports bound what waits to be sent: `maxBufferedBytes`).
 */
import { type ErrorCode, OpenFactoryError } from '@openfactory/model'
import type { AssetState } from './asset-state.ts'
import { matchUnsLevels, splitUns, type UnsMatch, validateUnsPattern } from './uns-pattern.ts'

export interface SubscriptionSpec {
  /** Chosen by the client; unique within its connection. */
  readonly id: string
  readonly assets?: readonly string[]
  readonly items?: readonly string[]
  readonly uns?: string
}

/** The transport of one connection (a WebSocket, an SSE response). */
export interface SubscriberSink {
  /** Queues one message (`kind` is the message's `kind`, for transports that label events); never blocks. */
  send(text: string, kind: 'snapshot' | 'update'): void
  /** Bytes queued and not yet handed to the network. */
  bufferedBytes(): number
  /** Ends the connection because of `error` (after telling the client when the transport can). */
  close(error: OpenFactoryError): void
  /** Optional: whether this connection's caller may read an item (its scopes); what it may not is never sent. */
  visible?(uuid: string, id: string): boolean
  /**
   * Optional: hold writes until `uncork` (the hub corks a connection at its first update of a log batch and
   * uncorks after the batch, so that one batch costs one write system call per connection, not one per update).
   */
  cork?(): void
  uncork?(): void
}

/** Lifecycle: `hub.connect(sink)` when a client connects; `close()` when it goes (idempotent). */
export interface HubConnection {
  /**
   * Adds a subscription and sends its snapshot. Throws `OFA_SERVE_MESSAGE_INVALID` for a reused id,
   * `OFA_SERVE_SUBSCRIPTION_LIMIT` past a cap of the connection or the hub (nothing is added then).
   */
  subscribe(spec: SubscriptionSpec): void
  unsubscribe(id: string): boolean
  close(): void
  readonly subscriptionCount: number
  readonly closed: boolean
}

export interface SubscriptionHubStats {
  readonly connections: number
  readonly subscriptions: number
  readonly updatesSent: number
  readonly slowConsumersDropped: number
  /** Subscriptions refused because a cap was reached (`OFA_SERVE_SUBSCRIPTION_LIMIT`). */
  readonly subscriptionsRefused: number
}

/**
 * Called after each log batch for the updates handed to clients' transports in it: `messages` updates of one
 * observation, `latencyMs` after its ingestion time (`attributes.ingestion_timestamp`).
 */
export type DeliveryListener = (latencyMs: number, messages: number) => void

/** Lifecycle: created over a state; `close()` drops every connection (`OFA_SERVE_UNAVAILABLE`) and detaches. */
export interface SubscriptionHub {
  /** The caps it enforces. */
  readonly limits: SubscriptionLimits
  connect(sink: SubscriberSink): HubConnection
  /** Throws `OFA_SERVE_SUBSCRIPTION_LIMIT` (counted) when the hub holds as many subscriptions as it takes. */
  assertRoom(): void
  stats(): SubscriptionHubStats
  /** Observation → subscriber latency, for metrics. Returns an unsubscribe function. */
  onDelivery(listener: DeliveryListener): () => void
  close(): void
}

/** How much the hub and each connection hold at most (see the file comment). */
export interface SubscriptionLimits {
  /** Subscriptions of one connection (default 1000). */
  readonly perConnection: number
  /** Assets and items named by the filters of one connection's subscriptions, in all (default 10 000). */
  readonly filterEntriesPerConnection: number
  /** Subscriptions of every connection together (default 100 000). */
  readonly total: number
  /** Entries of one subscription's `assets` list, and of its `items` list (default 1000). */
  readonly listEntries: number
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = Object.freeze({
  perConnection: 1000,
  filterEntriesPerConnection: 10_000,
  total: 100_000,
  listEntries: 1000,
})

export interface SubscriptionHubOptions {
  readonly state: AssetState
  /** Bytes a connection may have queued beyond its snapshots before it is dropped (default 4 MiB). */
  readonly maxBufferedBytes?: number
  /** Caps on subscriptions (defaults: `DEFAULT_SUBSCRIPTION_LIMITS`). */
  readonly limits?: Partial<SubscriptionLimits>
}

/** The longest subscription id, in characters. */
export const MAX_SUBSCRIPTION_ID_LENGTH = 200
const MAX_ID_LENGTH = MAX_SUBSCRIPTION_ID_LENGTH

/**
 * Reads a subscription from untrusted input (a WebSocket message, SSE query parameters); throws `code` naming
 * the field that is wrong. A list longer than `maxListEntries` (default 1000) is wrong too.
 */
export function parseSubscriptionSpec(
  input: Record<string, unknown>,
  code: ErrorCode,
  maxListEntries = DEFAULT_SUBSCRIPTION_LIMITS.listEntries,
): SubscriptionSpec {
  const id = input.id
  if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) {
    throw new OpenFactoryError(code, `id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`, {
      where: { path: 'id' },
    })
  }
  const list = (name: 'assets' | 'items'): string[] | undefined => {
    const v = input[name]
    if (v === undefined || v === null) return undefined
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) {
      throw new OpenFactoryError(code, `${name} must be a list of non-empty strings`, { where: { path: name } })
    }
    if (v.length > maxListEntries) {
      throw new OpenFactoryError(
        code,
        `${name} has ${v.length} entries; a subscription names at most ${maxListEntries}`,
        {
          where: { path: name },
        },
      )
    }
    return v as string[]
  }
  const assets = list('assets')
  const items = list('items')
  const uns = input.uns === undefined || input.uns === null ? undefined : validateUnsPattern(input.uns, code, 'uns')
  return { id, ...(assets ? { assets } : {}), ...(items ? { items } : {}), ...(uns !== undefined ? { uns } : {}) }
}

class Subscription {
  readonly conn: Connection
  readonly id: string
  /** `{"id":"s1","kind":"update","data":` — the entry JSON and `}` complete an update. */
  readonly prefix: string
  readonly assets: ReadonlySet<string> | null
  readonly items: ReadonlySet<string> | null
  readonly uns: string | null
  /** Assets and items its filters name (what it counts against the connection's cap). */
  readonly filterEntries: number
  /** The UNS pattern split by each separator seen. */
  readonly #unsLevels = new Map<string, string[]>()
  /** Assets this subscription is indexed under through its UNS pattern. */
  readonly unsAssets = new Set<string>()

  constructor(conn: Connection, spec: SubscriptionSpec) {
    this.conn = conn
    this.id = spec.id
    this.prefix = `{"id":${JSON.stringify(spec.id)},"kind":"update","data":`
    this.assets = spec.assets && spec.assets.length > 0 ? new Set(spec.assets) : null
    this.items = spec.items && spec.items.length > 0 ? new Set(spec.items) : null
    this.uns = spec.uns ?? null
    this.filterEntries = (this.assets?.size ?? 0) + (this.items?.size ?? 0)
  }

  unsMatch(state: AssetState, uuid: string): UnsMatch {
    if (this.uns === null) return true
    const path = state.unsPath(uuid)
    if (!path) return false
    let pattern = this.#unsLevels.get(path.separator)
    if (!pattern) {
      pattern = splitUns(this.uns, path.separator)
      this.#unsLevels.set(path.separator, pattern)
    }
    return matchUnsLevels(pattern, path.levels)
  }

  matches(state: AssetState, uuid: string, id: string): boolean {
    if (this.assets !== null && !this.assets.has(uuid)) return false
    if (this.items !== null && !this.items.has(id)) return false
    const visible = this.conn.sink.visible
    if (visible !== undefined && !visible(uuid, id)) return false
    if (this.uns === null) return true
    const m = this.unsMatch(state, uuid)
    return m === true || m === id
  }
}

class Connection implements HubConnection {
  readonly hub: Hub
  readonly sink: SubscriberSink
  readonly subs = new Map<string, Subscription>()
  /** Assets and items named by the filters of its subscriptions. */
  filterEntries = 0
  /** Characters handed to the sink so far, and that count at the end of the last snapshot. */
  written = 0
  snapshotEnd = 0
  closed = false
  corked = false

  constructor(hub: Hub, sink: SubscriberSink) {
    this.hub = hub
    this.sink = sink
  }

  get subscriptionCount(): number {
    return this.subs.size
  }

  subscribe(spec: SubscriptionSpec): void {
    if (this.closed) return
    if (this.subs.has(spec.id)) {
      throw new OpenFactoryError(
        'OFA_SERVE_MESSAGE_INVALID',
        `subscription ${JSON.stringify(spec.id)} exists already`,
        {
          where: { path: 'id' },
        },
      )
    }
    const limits = this.hub.limits
    if (this.subs.size >= limits.perConnection) {
      throw limitError(
        this.hub,
        `this connection holds ${this.subs.size} subscriptions, the most it may (${limits.perConnection}); unsubscribe one first`,
      )
    }
    const sub = new Subscription(this, spec)
    if (this.filterEntries + sub.filterEntries > limits.filterEntriesPerConnection) {
      throw limitError(
        this.hub,
        `the subscriptions of this connection would name ${this.filterEntries + sub.filterEntries} assets and items, more than ${limits.filterEntriesPerConnection}`,
      )
    }
    this.hub.assertRoom()
    this.subs.set(spec.id, sub)
    this.filterEntries += sub.filterEntries
    const snapshot = this.hub.add(sub)
    this.send(`{"id":${JSON.stringify(spec.id)},"kind":"snapshot","data":[${snapshot.join(',')}]}`, 'snapshot')
    this.snapshotEnd = this.written
  }

  unsubscribe(id: string): boolean {
    const sub = this.subs.get(id)
    if (!sub) return false
    this.subs.delete(id)
    this.filterEntries -= sub.filterEntries
    this.hub.remove(sub)
    return true
  }

  /** Queues an update (true), or drops the connection when its queue beyond the last snapshot is full. */
  deliver(text: string): boolean {
    if (this.closed) return false
    // The backlog is judged once per log batch, before the batch's own updates are queued (a corked batch sits
    // in the transport until the batch ends): what a connection may hold is the bound plus one batch.
    if (!this.corked) {
      if (this.#backlog() > this.hub.maxBufferedBytes) {
        this.hub.slowDropped++
        this.drop(
          new OpenFactoryError(
            'OFA_SERVE_SLOW_CONSUMER',
            `the client did not keep up: more than ${this.hub.maxBufferedBytes} bytes of updates were waiting to be sent`,
          ),
        )
        return false
      }
      if (this.sink.cork) {
        this.corked = true
        this.sink.cork()
        this.hub.corked.push(this)
      }
    }
    this.hub.updatesSent++
    this.send(text, 'update')
    return true
  }

  /** Bytes of updates queued in the transport: what is buffered, less what is left of the last snapshot. */
  #backlog(): number {
    const buffered = this.sink.bufferedBytes()
    if (buffered <= this.hub.maxBufferedBytes) return buffered
    const flushed = this.written - buffered
    return buffered - Math.max(0, this.snapshotEnd - flushed)
  }

  send(text: string, kind: 'snapshot' | 'update'): void {
    this.written += text.length
    this.sink.send(text, kind)
  }

  drop(error: OpenFactoryError): void {
    if (this.closed) return
    this.close()
    this.sink.close(error)
  }

  uncork(): void {
    if (!this.corked) return
    this.corked = false
    this.sink.uncork?.()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.uncork()
    for (const sub of this.subs.values()) this.hub.remove(sub)
    this.subs.clear()
    this.filterEntries = 0
    this.hub.connections.delete(this)
  }
}

function limitError(hub: Hub, message: string): OpenFactoryError {
  hub.refused++
  return new OpenFactoryError('OFA_SERVE_SUBSCRIPTION_LIMIT', message)
}

function addTo<K>(index: Map<K, Set<Subscription>>, key: K, sub: Subscription): void {
  let set = index.get(key)
  if (!set) {
    set = new Set()
    index.set(key, set)
  }
  set.add(sub)
}

function removeFrom<K>(index: Map<K, Set<Subscription>>, key: K, sub: Subscription): void {
  const set = index.get(key)
  if (!set) return
  set.delete(sub)
  if (set.size === 0) index.delete(key)
}

class Hub implements SubscriptionHub {
  readonly state: AssetState
  readonly maxBufferedBytes: number
  readonly limits: SubscriptionLimits
  readonly connections = new Set<Connection>()
  readonly #byAsset = new Map<string, Set<Subscription>>()
  readonly #byUnsAsset = new Map<string, Set<Subscription>>()
  readonly #unsSubs = new Set<Subscription>()
  readonly #byItem = new Map<string, Set<Subscription>>()
  readonly #all = new Set<Subscription>()
  readonly #detach: (() => void)[]
  /** Connections corked during the current log batch. */
  corked: Connection[] = []
  readonly #deliveryListeners: DeliveryListener[] = []
  /** Ingestion times of the observations delivered in the current batch, and how many updates each made. */
  #delivered: number[] = []
  #deliveredCounts: number[] = []
  #subscriptions = 0
  updatesSent = 0
  slowDropped = 0
  refused = 0

  constructor(opts: SubscriptionHubOptions) {
    this.state = opts.state
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 4 * 1024 * 1024
    this.limits = { ...DEFAULT_SUBSCRIPTION_LIMITS, ...opts.limits }
    this.#detach = [
      this.state.onChange((uuid, id) => this.#onChange(uuid, id)),
      this.state.onAssetChange((uuid) => this.#onAssetChange(uuid)),
      this.state.onBatchEnd(() => this.#flush()),
    ]
  }

  connect(sink: SubscriberSink): HubConnection {
    const conn = new Connection(this, sink)
    this.connections.add(conn)
    return conn
  }

  get subscriptionCount(): number {
    return this.#subscriptions
  }

  assertRoom(): void {
    if (this.#subscriptions >= this.limits.total) {
      throw limitError(
        this,
        `the server holds ${this.#subscriptions} subscriptions, the most it takes (${this.limits.total})`,
      )
    }
  }

  /** Indexes a subscription and returns its snapshot (entry JSON texts). */
  add(sub: Subscription): string[] {
    this.#subscriptions++
    const state = this.state
    const out: string[] = []
    const collect = (uuid: string) => {
      if (sub.items !== null) {
        for (const id of sub.items) {
          if (!sub.matches(state, uuid, id)) continue
          const json = state.itemJson(uuid, id)
          if (json !== undefined) out.push(json)
        }
      } else {
        for (const id of state.itemIds(uuid)) {
          if (sub.matches(state, uuid, id)) out.push(state.itemJson(uuid, id) as string)
        }
      }
    }
    if (sub.assets !== null) {
      for (const uuid of sub.assets) {
        addTo(this.#byAsset, uuid, sub)
        collect(uuid)
      }
    } else if (sub.uns !== null) {
      this.#unsSubs.add(sub)
      for (const uuid of state.assetUuids()) {
        if (sub.unsMatch(state, uuid) === false) continue
        addTo(this.#byUnsAsset, uuid, sub)
        sub.unsAssets.add(uuid)
        collect(uuid)
      }
    } else if (sub.items !== null) {
      for (const id of sub.items) addTo(this.#byItem, id, sub)
      for (const uuid of state.assetUuids()) collect(uuid)
    } else {
      this.#all.add(sub)
      for (const uuid of state.assetUuids()) collect(uuid)
    }
    return out
  }

  remove(sub: Subscription): void {
    this.#subscriptions--
    if (sub.assets !== null) {
      for (const uuid of sub.assets) removeFrom(this.#byAsset, uuid, sub)
    } else if (sub.uns !== null) {
      this.#unsSubs.delete(sub)
      for (const uuid of sub.unsAssets) removeFrom(this.#byUnsAsset, uuid, sub)
      sub.unsAssets.clear()
    } else if (sub.items !== null) {
      for (const id of sub.items) removeFrom(this.#byItem, id, sub)
    } else {
      this.#all.delete(sub)
    }
  }

  #onChange(uuid: string, id: string): void {
    if (this.#subscriptions === 0) return
    let json: string | undefined
    let sent = 0
    const visit = (subs: Set<Subscription> | undefined) => {
      if (subs === undefined) return
      for (const sub of subs) {
        if (!sub.matches(this.state, uuid, id)) continue
        json ??= this.state.itemJson(uuid, id)
        if (json === undefined) return
        if (sub.conn.deliver(`${sub.prefix}${json}}`)) sent++
      }
    }
    visit(this.#byAsset.get(uuid))
    visit(this.#byUnsAsset.get(uuid))
    visit(this.#byItem.get(id))
    visit(this.#all)
    if (sent > 0 && this.#deliveryListeners.length > 0) {
      const at = this.state.ingestedAt(uuid, id)
      if (at !== undefined) {
        this.#delivered.push(at)
        this.#deliveredCounts.push(sent)
      }
    }
  }

  /** At the end of a log batch: hands the batch's updates to the transports, then reports their latency. */
  #flush(): void {
    if (this.corked.length > 0) {
      const corked = this.corked
      this.corked = []
      for (const conn of corked) conn.uncork()
    }
    if (this.#delivered.length === 0) return
    const delivered = this.#delivered
    const counts = this.#deliveredCounts
    this.#delivered = []
    this.#deliveredCounts = []
    const now = Date.now()
    for (const listener of this.#deliveryListeners) {
      for (let i = 0; i < delivered.length; i++) listener(now - (delivered[i] as number), counts[i] as number)
    }
  }

  onDelivery(listener: DeliveryListener): () => void {
    this.#deliveryListeners.push(listener)
    return () => {
      const i = this.#deliveryListeners.indexOf(listener)
      if (i >= 0) this.#deliveryListeners.splice(i, 1)
    }
  }

  /** An asset appeared, moved in the UNS or was removed: re-file the UNS subscriptions under it. */
  #onAssetChange(uuid: string): void {
    if (this.#unsSubs.size === 0) return
    const current = this.#byUnsAsset.get(uuid)
    if (current) {
      for (const sub of current) sub.unsAssets.delete(uuid)
      this.#byUnsAsset.delete(uuid)
    }
    if (!this.state.has(uuid)) return
    for (const sub of this.#unsSubs) {
      if (sub.unsMatch(this.state, uuid) === false) continue
      addTo(this.#byUnsAsset, uuid, sub)
      sub.unsAssets.add(uuid)
    }
  }

  stats(): SubscriptionHubStats {
    return {
      connections: this.connections.size,
      subscriptions: this.#subscriptions,
      updatesSent: this.updatesSent,
      slowConsumersDropped: this.slowDropped,
      subscriptionsRefused: this.refused,
    }
  }

  close(): void {
    for (const d of this.#detach) d()
    this.#flush()
    for (const conn of [...this.connections]) {
      conn.drop(new OpenFactoryError('OFA_SERVE_UNAVAILABLE', 'the server is closing'))
    }
  }
}

export function createSubscriptionHub(opts: SubscriptionHubOptions): SubscriptionHub {
  return new Hub(opts)
}
