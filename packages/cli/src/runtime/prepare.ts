/** What `ofa up` and `ofa run` share: their options, loading the factory, choosing the backbone, listening. */
import { resolve } from 'node:path'
import { type BackboneOptions, createLogger, type DebugLogger, type Factory, loadFactory } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { type BackboneOverrides, chooseBackbone } from './backbone.ts'
import { listenError } from './listening.ts'

export interface RuntimeOptions extends BackboneOverrides {
  /** Factory folder (or files). */
  readonly paths: readonly string[]
  /** HTTP listener: port (0 picks a free one) and address (default 127.0.0.1). */
  readonly port?: number
  readonly host?: string
  readonly uns?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  /** The process's logger (default: JSON lines on stderr, `createLogger({ name: 'ofa' })`). */
  readonly logger?: DebugLogger
  /** Supervisor timings (tests shorten them). */
  readonly heartbeatMs?: number
  readonly ttlMs?: number
}

export interface Prepared {
  readonly factory: Factory
  readonly backbone: BackboneOptions
  readonly logger: DebugLogger
}

/** Loads the factory (its problems throw, each placed) and chooses the backbone. */
export async function prepare(opts: RuntimeOptions): Promise<Prepared> {
  const cwd = opts.cwd ?? process.cwd()
  const factory = await loadFactory(
    opts.paths.map((p) => resolve(cwd, p)),
    { ...(opts.uns ? { uns: resolve(cwd, opts.uns) } : {}), ...(opts.env ? { env: opts.env } : {}), cwd },
  )
  return {
    factory,
    backbone: chooseBackbone(factory.manifest, opts, cwd),
    logger: opts.logger ?? createLogger({ name: 'ofa' }),
  }
}

/** Starts listening; resolves with the URL. A failure is `OFA_CLI_LISTEN` naming the address and the port. */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    await app.listen({ port, host })
  } catch (err) {
    throw await listenError(err, 'the API', host, port)
  }
  const address = app.server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
}

/** The supervisor timings a runtime was given. */
export function supervisorTimings(opts: RuntimeOptions): { heartbeatMs?: number; ttlMs?: number } {
  return {
    ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
    ...(opts.ttlMs ? { ttlMs: opts.ttlMs } : {}),
  }
}
