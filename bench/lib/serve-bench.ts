// What the REST serving benchmarks share (serve-rest.ts, serve-auth.ts): the embedded log of `assets` × `items`
// as the supervisor writes it, the serving app over it, each server in a child process of the benchmark, and
// autocannon's load on `GET /api/assets/{uuid}` with a random asset per request.
import { fork } from 'node:child_process'
import { createRequire } from 'node:module'
import { type EmbeddedLog, openEmbeddedLog } from '@openfactory/log'
import { type Asset, AssetEvents, encodeObservation, isoTimestamp, type Observation, TOPICS } from '@openfactory/model'
import { createServeApp, createServingState, type ServeAppOptions } from '@openfactory/serve'

/** The part of autocannon's programmatic API used here (the package ships no types). */
export interface LoadResult {
  requests: { average: number }
  /** Whole milliseconds: autocannon's histogram records integers. */
  latency: { p50: number; p99: number }
  throughput: { average: number }
  non2xx: number
  errors: number
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: {
  url: string
  connections: number
  duration: number
  requests: {
    method: string
    headers?: Record<string, string>
    setupRequest: (req: { path?: string }) => { path?: string }
  }[]
}) => Promise<LoadResult>

export const assetUuid = (i: number) => `cnc-${i.toString().padStart(5, '0')}`

/**
 * An embedded log in `dir` holding `assets` assets of `items` items each, as the supervisor writes them:
 * declaration, attributes, one value per item.
 */
export async function openAssetLog(dir: string, assets: number, items: number): Promise<EmbeddedLog> {
  const log = await openEmbeddedLog({ dir, fsync: false })
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  const t0 = Date.now()
  for (let i = 0; i < assets; i++) {
    const a: Asset = {
      uuid: assetUuid(i),
      type: 'Device',
      uns: {
        levels: { inc: 'Demofactory', area: `Area${i % 10}`, asset: assetUuid(i) },
        unsId: `Demofactory/Area${i % 10}/${assetUuid(i)}`,
      },
      referencesAbove: [],
      referencesBelow: [],
      dataItems: Array.from({ length: items }, (_, j) => ({
        id: `item${j}`,
        category: 'Samples' as const,
        tag: 'Temperature',
        units: 'CELSIUS',
      })),
      methods: [{ name: 'Start', description: 'Starts the cycle', arguments: [] }],
    }
    const attr = (id: string, v: string): Observation => ({
      id,
      value: v,
      tag: id,
      type: 'OpenFactory',
      attributes: { timestamp: isoTimestamp(t0) },
    })
    const obs: Observation[] = [
      attr('AssetType', 'Device'),
      attr('uns_id', a.uns?.unsId ?? ''),
      AssetEvents.method(a.methods[0] as Asset['methods'][number], t0).observation,
      {
        id: 'avail',
        value: 'AVAILABLE',
        tag: 'Availability',
        type: 'Events',
        attributes: { timestamp: isoTimestamp(t0), ttl_ms: 15000 },
      },
      ...a.dataItems.map(
        (d, j): Observation => ({
          id: d.id,
          value: Math.round((i + j) * 13.7) / 10,
          tag: d.tag,
          type: 'Samples',
          attributes: {
            timestamp: isoTimestamp(t0 + j),
            ingestion_timestamp: isoTimestamp(t0 + j + 2),
            units: 'CELSIUS',
            quality: 'GOOD',
          },
        }),
      ),
    ]
    await log.append(TOPICS.registry, [{ key: a.uuid, value: JSON.stringify(a) }])
    await log.append(
      TOPICS.assets,
      obs.map((o) => ({ key: a.uuid, value: encodeObservation(o) })),
    )
  }
  return log
}

/** The serving state over `log`, caught up, and the serving app over it listening on 127.0.0.1; its port. */
export async function listenServeApp(
  log: EmbeddedLog,
  options: Omit<ServeAppOptions, 'eventLog' | 'serving'> = {},
): Promise<number> {
  const serving = createServingState({ eventLog: log })
  await serving.ready()
  const app = await createServeApp({ eventLog: log, serving, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

/** In a server's child process: tells the benchmark its port (and `extra`), and exits when told to stop. */
export function reportListening(port: number, extra: Record<string, unknown> = {}): void {
  process.send?.({ ...extra, port })
  process.on('message', () => process.exit(0))
}

export interface BenchServer<T> {
  readonly port: number
  /** What the child sent beside its port (`reportListening`'s `extra`). */
  readonly info: T
  stop(): Promise<unknown>
}

/** Forks `script` with `args` (a server: it calls `reportListening`) and resolves once it listens. */
export async function startServer<T = Record<string, never>>(script: string, args: string[]): Promise<BenchServer<T>> {
  const child = fork(script, args, {
    stdio: 'inherit',
    // e.g. OFA_BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers
    execArgv: process.env.OFA_BENCH_SERVER_FLAGS ? process.env.OFA_BENCH_SERVER_FLAGS.split(' ') : [],
  })
  const message = await new Promise<T & { port: number }>((resolve, reject) => {
    child.once('message', (m: T & { port: number }) => resolve(m))
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const { port, ...info } = message
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve)
      child.send('stop')
    })
  return { port, info: info as T, stop }
}

export interface LoadOptions {
  readonly port: number
  readonly seconds: number
  readonly connections: number
  /** Each request asks for one of the first `assets` assets, at random. */
  readonly assets: number
  /** Sent with every request (`authorization`...). */
  readonly headers?: Record<string, string>
}

/** `GET /api/assets/{uuid}` for `seconds`; throws unless every answer was a 2xx. */
export async function load(o: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: `http://127.0.0.1:${o.port}`,
    connections: o.connections,
    duration: o.seconds,
    requests: [
      {
        method: 'GET',
        ...(o.headers ? { headers: o.headers } : {}),
        setupRequest: (req: { path?: string }) => {
          req.path = `/api/assets/${assetUuid(Math.floor(Math.random() * o.assets))}`
          return req
        },
      },
    ],
  })
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`)
  return result
}

/** The run of median requests/s. */
export function median(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.requests.average - b.requests.average)
  return sorted[Math.floor(sorted.length / 2)] as LoadResult
}
