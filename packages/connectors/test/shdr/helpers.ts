// Test helpers for SHDR connectors: an in-memory ConnectorContext that records every call, a bounded waitFor, and
// an adapter server / connector that close themselves after the test.
import net from 'node:net'
import type { TestContext } from 'node:test'
import type { Asset, Observation } from '@openfactory/model'
import type { AssetDocument, Connector, ConnectorContext } from '../../src/connector.ts'
import { createShdrClient, type ShdrClientOptions } from '../../src/shdr/client.ts'
import { createShdrAdapterServer, type ShdrAdapterServer, type ShdrAdapterServerOptions } from '../../src/shdr/index.ts'

export type Recorded =
  | { readonly call: 'publish'; readonly uuid: string; readonly observations: readonly Observation[] }
  | { readonly call: 'setAvailable'; readonly uuid: string; readonly available: boolean; readonly reason?: string }
  | { readonly call: 'putDocument'; readonly doc: AssetDocument }
  | { readonly call: 'declareAssets'; readonly assets: readonly Asset[] }

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly message: string
  readonly fields?: Record<string, unknown>
}

export interface FakeContext extends ConnectorContext {
  readonly calls: Recorded[]
  readonly logs: LogEntry[]
  readonly failures: Error[]
  /** Every published observation of one asset, in order. */
  observations(uuid: string): Observation[]
  /** The setAvailable calls of one asset, in order. */
  availability(uuid: string): { available: boolean; reason?: string }[]
  documents(): AssetDocument[]
}

export function createFakeContext(): FakeContext {
  const calls: Recorded[] = []
  const logs: LogEntry[] = []
  const failures: Error[] = []
  const controller = new AbortController()
  const logAt =
    (level: LogEntry['level']) =>
    (message: string, fields?: Record<string, unknown>): void => {
      logs.push(fields ? { level, message, fields } : { level, message })
    }
  return {
    signal: controller.signal,
    logger: { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') },
    calls,
    logs,
    failures,
    declareAssets: (assets) => calls.push({ call: 'declareAssets', assets }),
    congested: false,
    whenWritable: () => Promise.resolve(),
    publish: (uuid, observations) => calls.push({ call: 'publish', uuid, observations }),
    putDocument: (doc) => calls.push({ call: 'putDocument', doc }),
    setAvailable: (uuid, available, reason) =>
      calls.push(
        reason === undefined
          ? { call: 'setAvailable', uuid, available }
          : { call: 'setAvailable', uuid, available, reason },
      ),
    fail: (err) => failures.push(err),
    loadCheckpoint: () => Promise.resolve(undefined),
    saveCheckpoint: () => {},
    observations: (uuid) => calls.flatMap((c) => (c.call === 'publish' && c.uuid === uuid ? c.observations : [])),
    availability: (uuid) =>
      calls.flatMap((c) =>
        c.call === 'setAvailable' && c.uuid === uuid
          ? [c.reason === undefined ? { available: c.available } : { available: c.available, reason: c.reason }]
          : [],
      ),
    documents: () => calls.flatMap((c) => (c.call === 'putDocument' ? [c.doc] : [])),
  }
}

/** Polls `check` until it returns true; fails after `timeoutMs` naming `what`. Every wait in these tests is bounded. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** An SHDR adapter on an ephemeral port, closed after the test. */
export async function startAdapter(
  t: TestContext,
  opts: Partial<ShdrAdapterServerOptions> = {},
): Promise<ShdrAdapterServer> {
  const server = await createShdrAdapterServer({ port: 0, heartbeatMs: 1000, ...opts })
  t.after(() => server.close())
  return server
}

/** Starts a connector on a fake context, stopped after the test. */
export async function startConnector(t: TestContext, connector: Connector): Promise<FakeContext> {
  const ctx = createFakeContext()
  await connector.start(ctx)
  t.after(() => connector.stop())
  return ctx
}

/** Timings that make a test run in milliseconds. */
export const FAST = {
  connectTimeoutMs: 1000,
  legacyTimeoutMs: 2000,
  backoff: { initialMs: 20, maxMs: 100, jitter: 0.1 },
} as const

/** The value of the last observation with this id. */
export function last(obs: readonly Observation[], id: string): Observation | undefined {
  for (let i = obs.length - 1; i >= 0; i--) if (obs[i]?.id === id) return obs[i]
  return undefined
}

/** A raw TCP server on loopback whose connection handler the test writes; closed after the test. */
export async function rawServer(t: TestContext, onSocket: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    onSocket(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  })
  return (server.address() as net.AddressInfo).port
}

/** An SHDR client to 127.0.0.1 with short timings, started now and stopped after the test. */
export function shdrClient(t: TestContext, opts: Omit<ShdrClientOptions, 'host'>): ReturnType<typeof createShdrClient> {
  const c = createShdrClient({ host: '127.0.0.1', connectTimeoutMs: 1000, backoff: FAST.backoff, ...opts })
  c.start()
  t.after(() => c.stop())
  return c
}
