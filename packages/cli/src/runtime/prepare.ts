/**
 * What `ofa up` and `ofa run` share: their options, loading the factory, choosing the backbone, listening (where, with
 * which TLS certificate, with or without authentication: decided before anything starts, checked again on the
 * addresses listened on).
 */
import { resolve } from 'node:path'
import { type BackboneOptions, createLogger, type DebugLogger, type Factory, loadFactory } from '@openfactory/model'
import type { FastifyInstance } from 'fastify'
import { type BackboneOverrides, chooseBackbone } from './backbone.ts'
import {
  authConfigured,
  checkExposure,
  type Exposure,
  type ExposureOptions,
  exposureOf,
  listenError,
} from './listening.ts'
import { loadServerTls, makeSelfSigned, type ServerTls, type TlsFlags, tlsStateDir } from './tls.ts'

export interface RuntimeOptions extends BackboneOverrides {
  /** Factory folder (or files). */
  readonly paths: readonly string[]
  /** HTTP listener: port (0 picks a free one) and address (default 127.0.0.1). */
  readonly port?: number
  readonly host?: string
  /** HTTPS: given certificate and key files, or a self-signed pair kept in the data folder (tls.ts). Default: HTTP. */
  readonly tls?: TlsFlags
  /** Listen beyond loopback without authentication all the same (`--insecure`; listening.ts). */
  readonly insecure?: boolean
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
    backbone: chooseBackbone(factory.manifest, opts, cwd, opts.env ?? process.env),
    logger: opts.logger ?? createLogger({ name: 'ofa' }),
  }
}

/** Where and how the API listens, decided before anything starts. */
export interface Listener {
  /** The listen address (default 127.0.0.1). */
  readonly host: string
  /** The certificate and key, read and checked; undefined: plain HTTP, or a self-signed pair to make (`selfSigned`). */
  readonly tls?: ServerTls
  /** `--tls self-signed`: the folder of the pair, made there by `serverTls` when none is kept. */
  readonly selfSigned?: string
  readonly exposure: ExposureOptions
}

/**
 * The listener of a runtime, before anything starts: a listen address beyond loopback without authentication is
 * refused (`OFA_CLI_INSECURE`, unless `--insecure`); the given TLS files, or a kept self-signed pair, are read and
 * checked (`OFA_CLI_TLS`). A self-signed pair still to make is made by `serverTls`, once the log is open.
 */
export async function prepareListener(opts: RuntimeOptions, prepared: Prepared): Promise<Listener> {
  const host = opts.host ?? '127.0.0.1'
  const exposure = { authenticated: authConfigured(prepared.factory), insecure: opts.insecure === true }
  await checkExposure(host, exposure)
  const cwd = opts.cwd ?? process.cwd()
  const stateDir = tlsStateDir(prepared.backbone, cwd)
  const tls = await loadServerTls(opts.tls, { cwd, stateDir })
  return { host, exposure, ...(tls ? { tls } : {}), ...(opts.tls?.selfSigned ? { selfSigned: stateDir } : {}) }
}

/**
 * The listener's certificate and key, the self-signed pair made now if none is kept: once the log is open, whose
 * data folder holds it (tls.ts).
 */
export async function serverTls(listener: Listener): Promise<ServerTls | undefined> {
  if (listener.tls || listener.selfSigned === undefined) return listener.tls
  return makeSelfSigned(listener.selfSigned, listener.host)
}

/**
 * Starts listening; resolves with the URL (`https:` under TLS) and how the API is exposed, from the addresses it
 * listens on. A failure is `OFA_CLI_LISTEN` naming the address and the port; addresses beyond loopback that are not
 * allowed, `OFA_CLI_INSECURE` (the caller closes the app).
 */
export async function listen(
  app: FastifyInstance,
  listener: Listener & { readonly tls: ServerTls | undefined },
  port: number,
): Promise<{ url: string; exposure: Exposure }> {
  const host = listener.host
  try {
    await app.listen({ port, host })
  } catch (err) {
    throw await listenError(err, 'the API', host, port)
  }
  const addresses = app.addresses().flatMap((a) => (typeof a === 'object' && a.family !== 'pipe' ? [a.address] : []))
  const exposure = exposureOf(addresses, host, listener.exposure)
  const address = app.server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  return { url: `${listener.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${bound}`, exposure }
}

/** The supervisor timings a runtime was given. */
export function supervisorTimings(opts: RuntimeOptions): { heartbeatMs?: number; ttlMs?: number } {
  return {
    ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
    ...(opts.ttlMs ? { ttlMs: opts.ttlMs } : {}),
  }
}
