/**
 * One session per OPC UA server, shared by every device that names it: devices with the same endpoint,
 * security mode, policy and user attach to one `ServerLink`, which owns the client, its secure channel and its
 * session, and tells each attached device when a session is up and when it is gone.
 *
 * Recovery is ours, not node-opcua's: its client reconnects and repairs subscriptions by itself, but against some
 * servers (asyncua answers Republish with Good where BadMessageNotAvailable is due) that repair loops forever. So
 * the client is created with `maxRetry: 0`: any loss — the socket closed, the session's keep-alive failed, a
 * device saw its subscription stall (`restart`) — ends the client. The link then closes what is left (the session
 * with its subscriptions, when the server still answers: no session is left behind on it), tells every device the
 * session is down (with a coded reason), waits a backoff and builds a new client, session and, through the
 * devices, new subscriptions. A session the server could not be told about (a network loss) expires there after
 * the session timeout we ask for (60 s).
 *
 * The last device to detach closes the link; the pool forgets it.
 */
import {
  Backoff,
  type BackoffOptions,
  type DebugLogger,
  isOpenFactoryError,
  OpenFactoryError,
  sleep,
} from '@openfactory/model'
import type { OPCUACertificateManager } from 'node-opcua-certificate-manager'
import {
  type ClientSession,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  setErrorLogger,
  setWarningLogger,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua-client'
import { certificateManager } from './certificates.ts'
import type { OpcuaServerTarget } from './opcua-config.ts'

/** A device using a link. */
export interface LinkUser {
  /** A session is up (the first, or a new one after a loss). */
  sessionUp(session: ClientSession): void
  /** No session: lost, being replaced, or the server cannot be reached (`reason` says which). */
  sessionDown(reason: OpenFactoryError): void
}

export interface LinkTimings {
  /** A connection plus session that takes longer fails (default 10 000 ms). */
  readonly connectTimeoutMs?: number
  /** Delays between attempts (default 500 ms doubling to 30 s, ±20 %). */
  readonly backoff?: BackoffOptions
  /** A session that lasted this long resets the backoff (default 30 000 ms). */
  readonly stableAfterMs?: number
  /** How long the server keeps our session after losing us (default 60 000 ms). */
  readonly sessionTimeoutMs?: number
}

export interface LinkOptions {
  readonly pkiDir: string
  readonly logger: DebugLogger
  readonly timings?: LinkTimings
}

/** What a link did, for tests and metrics. */
export interface LinkStats {
  readonly connects: number
  readonly sessionsCreated: number
  readonly sessionsClosed: number
  readonly up: boolean
}

const MODES: Record<OpcuaServerTarget['mode'], MessageSecurityMode> = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
}

/** The server link of a connection error, coded: an untrusted certificate or a missing endpoint is SECURITY. */
export function connectionError(err: unknown, uri: string): OpenFactoryError {
  if (isOpenFactoryError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  const first = message.split('\n')[0] ?? message
  if (/certificate|BadSecurityChecksFailed|BadCertificate/i.test(message)) {
    return new OpenFactoryError(
      'OFA_OPCUA_SECURITY',
      `${uri}: the server's certificate is not trusted (${first}); list and trust it with: ofa opcua certs`,
      { cause: err, retryable: true },
    )
  }
  if (/endpoint/i.test(first) && /cannot find|no endpoint|not found/i.test(first)) {
    return new OpenFactoryError('OFA_OPCUA_SECURITY', `${uri}: ${first}`, { cause: err, retryable: true })
  }
  if (/BadUserAccessDenied|BadIdentityToken/i.test(message)) {
    return new OpenFactoryError('OFA_OPCUA_CONNECT', `${uri}: the server refused the session's user (${first})`, {
      cause: err,
      retryable: true,
    })
  }
  return new OpenFactoryError('OFA_OPCUA_CONNECT', `${uri}: ${first}`, { cause: err, retryable: true })
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export class ServerLink {
  readonly target: OpcuaServerTarget
  readonly #opts: LinkOptions
  readonly #users = new Set<LinkUser>()
  readonly #closing = new AbortController()
  readonly #backoff: Backoff
  #session: ClientSession | null = null
  #lose: ((reason: OpenFactoryError) => void) | null = null
  #lastDown: string | null = null
  #loop: Promise<void> | null = null
  #stats = { connects: 0, sessionsCreated: 0, sessionsClosed: 0 }
  #certificates: OPCUACertificateManager | null = null

  constructor(target: OpcuaServerTarget, opts: LinkOptions) {
    this.target = target
    this.#opts = opts
    this.#backoff = new Backoff(opts.timings?.backoff)
  }

  get session(): ClientSession | null {
    return this.#session
  }

  get stats(): LinkStats {
    return { ...this.#stats, up: this.#session !== null }
  }

  /** Whether `user` is the only device attached (detaching it closes the link). */
  isLastUser(user: LinkUser): boolean {
    return this.#users.size === 1 && this.#users.has(user)
  }

  /** Adds a device; it hears `sessionUp` at once when a session is up. */
  attach(user: LinkUser): void {
    this.#users.add(user)
    this.#loop ??= this.#run()
    if (this.#session) user.sessionUp(this.#session)
  }

  /** Removes a device; the last one closes the link (its session, then its client). */
  async detach(user: LinkUser): Promise<void> {
    this.#users.delete(user)
    if (this.#users.size > 0) return
    this.#closing.abort()
    this.#lose?.(new OpenFactoryError('OFA_OPCUA_CONNECT', `${this.target.uri}: closing`))
    await this.#loop
  }

  /** Replaces the session (a device saw it stall): every device hears `sessionDown(reason)`, then a new `sessionUp`. */
  restart(reason: OpenFactoryError): void {
    this.#lose?.(reason)
  }

  async #run(): Promise<void> {
    const signal = this.#closing.signal
    while (!signal.aborted) {
      let client: OPCUAClient | null = null
      let upAt = 0
      let reason: OpenFactoryError
      try {
        const lost = new Promise<OpenFactoryError>((resolve) => {
          this.#lose = (r) => {
            this.#lose = null
            resolve(r)
          }
        })
        client = await this.#client()
        const lose = (message: string) => this.#lose?.(connectionError(new Error(message), this.target.uri))
        client.on('connection_lost', () => lose('the connection to the server was lost'))
        client.on('close', (err?: Error | null) => lose(err ? err.message : 'the connection to the server closed'))
        this.#stats.connects++
        const ms = this.#opts.timings?.connectTimeoutMs ?? 10_000
        const c = client
        await withTimeout(
          (async () => {
            await c.connect(this.target.uri)
            const session = await c.createSession(this.#identity())
            this.#stats.sessionsCreated++
            session.on('keepalive_failure', () => lose('the session keep-alive failed'))
            session.on('session_closed', () => lose('the server closed the session'))
            this.#session = session
          })(),
          ms,
          'connecting and opening a session',
        )
        if (signal.aborted) throw new Error('closing')
        upAt = Date.now()
        this.#lastDown = null
        this.#opts.logger.info('OPC UA session open', { server: this.target.uri, devices: this.#users.size })
        for (const u of this.#users) if (this.#session) u.sessionUp(this.#session)
        reason = await lost
      } catch (err) {
        reason = connectionError(err, this.target.uri)
      }
      this.#lose = null
      const session = this.#session
      this.#session = null
      await this.#close(client, session)
      if (upAt > 0 && Date.now() - upAt >= (this.#opts.timings?.stableAfterMs ?? 30_000)) this.#backoff.reset()
      if (signal.aborted) break
      // Devices hear of each new reason once, not of every failed attempt with the same one.
      if (upAt > 0 || reason.message !== this.#lastDown) {
        this.#lastDown = reason.message
        this.#opts.logger.warn('OPC UA session down', {
          server: this.target.uri,
          code: reason.code,
          reason: reason.message,
        })
        for (const u of this.#users) u.sessionDown(reason)
      }
      await sleep(this.#backoff.next(), signal)
    }
    for (const u of this.#users) u.sessionDown(new OpenFactoryError('OFA_OPCUA_CONNECT', `${this.target.uri}: closed`))
  }

  async #client(): Promise<OPCUAClient> {
    this.#certificates ??= await certificateManager(this.#opts.pkiDir)
    const policy = (SecurityPolicy as unknown as Record<string, string>)[this.target.policy] ?? SecurityPolicy.None
    return OPCUAClient.create({
      applicationName: 'OpenFactory',
      clientName: 'OpenFactory',
      endpointMustExist: false,
      securityMode: MODES[this.target.mode],
      securityPolicy: policy,
      clientCertificateManager: this.#certificates,
      // Recovery is ours (see the header): node-opcua must not reconnect nor repair subscriptions by itself.
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      keepSessionAlive: true,
      keepAliveInterval: 5000,
      requestedSessionTimeout: this.#opts.timings?.sessionTimeoutMs ?? 60_000,
      defaultTransactionTimeout: 10_000,
    })
  }

  #identity(): UserIdentityInfo {
    const u = this.target.user
    return u
      ? { type: UserTokenType.UserName, userName: u.name, password: u.password }
      : { type: UserTokenType.Anonymous }
  }

  /** Closes a session (deleting its subscriptions on the server) and the client; bounded, never throws. */
  async #close(client: OPCUAClient | null, session: ClientSession | null): Promise<void> {
    if (session) {
      try {
        await withTimeout(session.close(true), 2000, 'closing the session')
        this.#stats.sessionsClosed++
      } catch {
        // The server is gone: it drops the session after its timeout.
      }
    }
    if (client) await withTimeout(client.disconnect(), 2000, 'disconnecting').catch(() => {})
  }
}

const links = new Map<string, ServerLink>()

/**
 * node-opcua writes its own warnings and errors to the console (certificate dumps, reconnection chatter). What
 * matters reaches the log as our coded errors; its lines go to the debug level of the first device's logger.
 */
let libraryLogs: DebugLogger | null = null
function routeLibraryLogs(logger: DebugLogger): void {
  if (libraryLogs) return
  libraryLogs = logger
  const print = (...args: unknown[]) =>
    libraryLogs?.debug('node-opcua', { text: args.map(String).join(' ').slice(0, 2000) })
  setWarningLogger(print)
  setErrorLogger(print)
}

function linkKey(t: OpcuaServerTarget, pkiDir: string): string {
  return JSON.stringify([t.uri, t.mode, t.policy, t.user?.name ?? null, t.user?.password ?? null, pkiDir])
}

/**
 * The link to a server for a device: the one already open for the same target, else a new one. Pair every
 * `attachLink` with `detachLink`.
 */
export function attachLink(target: OpcuaServerTarget, opts: LinkOptions, user: LinkUser): ServerLink {
  routeLibraryLogs(opts.logger)
  const key = linkKey(target, opts.pkiDir)
  let link = links.get(key)
  if (!link) {
    link = new ServerLink(target, opts)
    links.set(key, link)
  }
  link.attach(user)
  return link
}

export async function detachLink(link: ServerLink, user: LinkUser): Promise<void> {
  if (link.isLastUser(user)) {
    for (const [key, l] of links) if (l === link) links.delete(key)
  }
  await link.detach(user)
}

/** Every open link, for tests (no session left behind) and metrics. */
export function openLinks(): readonly ServerLink[] {
  return [...links.values()]
}
