/**
 * One WebSocket (`/api/ws`) for the whole app, multiplexing every subscription of every page: a page subscribes
 * with a filter (`assets`, `items`, `uns`) and a listener, and unsubscribes when it goes away; the server answers
 * each subscription with a snapshot, then one update per change (docs/reference/http-api.md, WebSocket).
 *
 * The socket opens with the first subscription and stays open. When it closes (a restart of the server, a network
 * cut, a slow-consumer drop), it is opened again after a backoff — 0.5 s doubling to 30 s, with jitter, reset once
 * a connection has stayed up — and every subscription is sent again: each gets a fresh snapshot, so a page's state
 * is whole again after a gap. Browsers cannot set headers on a WebSocket: the credential goes as `?access_token=`.
 */
import { signal } from '@preact/signals'
import { credential } from './api.ts'
import type { ItemState } from './types.ts'

export interface SubscriptionSpec {
  readonly assets?: readonly string[]
  readonly items?: readonly string[]
  readonly uns?: string
}

export interface LiveListener {
  /** The current state of every entry the subscription selects (after each (re)connection). */
  snapshot(items: readonly ItemState[]): void
  update(item: ItemState): void
  /** The server refused the subscription (a malformed pattern, a cap). */
  error?(message: string): void
}

export type LiveStatus = 'idle' | 'connecting' | 'open' | 'reconnecting'

/** The socket's state, shown in the header. */
export const liveStatus = signal<LiveStatus>('idle')

const MIN_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000
/** A connection that stayed up this long resets the backoff. */
const STABLE_MS = 10_000

interface Entry {
  readonly spec: SubscriptionSpec
  readonly listener: LiveListener
}

interface ServerMessage {
  readonly id: string | null
  readonly kind: 'snapshot' | 'update' | 'error'
  readonly data?: unknown
  readonly error?: { readonly code: string; readonly message: string }
}

class LiveClient {
  readonly #subs = new Map<string, Entry>()
  #ws: WebSocket | null = null
  #seq = 0
  #backoff = MIN_BACKOFF_MS
  #timer: ReturnType<typeof setTimeout> | undefined
  #openedAt = 0
  #stopped = false

  subscribe(spec: SubscriptionSpec, listener: LiveListener): () => void {
    const id = `s${++this.#seq}`
    this.#subs.set(id, { spec, listener })
    if (this.#ws?.readyState === WebSocket.OPEN) this.#send({ op: 'subscribe', id, ...spec })
    else this.#ensure()
    return () => {
      if (!this.#subs.delete(id)) return
      if (this.#ws?.readyState === WebSocket.OPEN) this.#send({ op: 'unsubscribe', id })
    }
  }

  /** Drops the socket and opens a new one (signed in: the credential changed). */
  restart(): void {
    this.stop()
    this.#stopped = false
    if (this.#subs.size > 0) this.#connect()
  }

  /** Drops the socket and opens none until `restart` (signed out: the server would refuse it). */
  stop(): void {
    this.#stopped = true
    const ws = this.#ws
    this.#ws = null
    if (ws) {
      ws.onclose = null
      ws.close(1000)
    }
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#backoff = MIN_BACKOFF_MS
    liveStatus.value = 'idle'
  }

  #ensure(): void {
    if (this.#stopped || this.#ws || this.#timer !== undefined) return
    this.#connect()
  }

  #send(msg: object): void {
    this.#ws?.send(JSON.stringify(msg))
  }

  #connect(): void {
    this.#timer = undefined
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    const token = credential.value
    const url = `${scheme}://${location.host}/api/ws${token ? `?access_token=${encodeURIComponent(token)}` : ''}`
    liveStatus.value = liveStatus.value === 'idle' ? 'connecting' : 'reconnecting'
    const ws = new WebSocket(url)
    this.#ws = ws
    ws.onopen = () => {
      this.#openedAt = Date.now()
      liveStatus.value = 'open'
      for (const [id, { spec }] of this.#subs) this.#send({ op: 'subscribe', id, ...spec })
    }
    ws.onmessage = (ev) => this.#receive(String(ev.data))
    ws.onclose = () => {
      if (this.#ws !== ws) return
      this.#ws = null
      if (Date.now() - this.#openedAt > STABLE_MS) this.#backoff = MIN_BACKOFF_MS
      liveStatus.value = 'reconnecting'
      if (this.#stopped) return
      const delay = this.#backoff * (0.75 + Math.random() * 0.5)
      this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS)
      this.#timer = setTimeout(() => this.#connect(), delay)
    }
  }

  #receive(text: string): void {
    let msg: ServerMessage
    try {
      msg = JSON.parse(text) as ServerMessage
    } catch {
      return
    }
    const entry = msg.id === null ? undefined : this.#subs.get(msg.id)
    if (msg.kind === 'error') {
      if (entry) entry.listener.error?.(`${msg.error?.code}: ${msg.error?.message}`)
      return
    }
    if (!entry) return // an answer for a subscription given up meanwhile
    if (msg.kind === 'snapshot') entry.listener.snapshot(msg.data as ItemState[])
    else entry.listener.update(msg.data as ItemState)
  }
}

export const live = new LiveClient()
