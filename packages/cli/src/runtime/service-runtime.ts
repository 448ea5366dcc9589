/**
 * One service of a factory alone in its process — what `ofa run <uuid>` runs — against a shared log (Kafka):
 *
 * - a **device** uuid: its connector (and our SHDR replay adapter when the device declares it). Replicas of
 *   one device share a lease (group `ofa-run-<uuid>`): only the holder runs the connector and answers its
 *   commands (group `ofa-connector-<uuid>`); when the holder stops or dies, another replica takes over.
 * - a **built-in app** uuid (an app with a `historian:`, `alerts:`... block; connectors' app-kind.ts): the app, under
 *   the same kind of lease as a device.
 * - an **app** uuid whose image is `openfactory/serve`: the serving layer (REST, WebSocket, SSE). Every
 *   replica builds the whole state and answers requests; the holder of the lease of group `ofa-serve` records
 *   availability expiries, so each expiry is written once.
 *
 * Several processes thus share a factory's work; none of them needs another's memory. The factory's SQL and
 * TypeScript processors run in processes of their own, with the same kind of lease (workers-runtime.ts).
 */
import '../connector-types.ts'
import '../app-kinds.ts'
import { openAlertsView } from '@openfactory/alerts'
import {
  appKindOf,
  type BuiltinAdapter,
  type Connector,
  createSupervisor,
  planDevice,
  type ShdrAdapterServer,
  type Supervisor,
} from '@openfactory/connectors'
import { DASHBOARD_DIST } from '@openfactory/dashboard'
import type { EventLog } from '@openfactory/log'
import {
  type BackboneOptions,
  childLogger,
  type DebugLogger,
  type Factory,
  OpenFactoryError,
  TOPICS,
} from '@openfactory/model'
import { createServeApp, createServingState, DEFAULT_PORT, type ServingState } from '@openfactory/serve'
import type { FastifyInstance } from 'fastify'
import { startAdapter } from './adapters.ts'
import { type ServeAuth, startServeAuth } from './auth.ts'
import { openBackbone } from './backbone.ts'
import { joinLease, type Lease } from './lease.ts'
import { type Exposure, httpAccess } from './listening.ts'
import {
  type Listener,
  listen,
  prepare,
  prepareListener,
  type RuntimeOptions,
  serverTls,
  supervisorTimings,
} from './prepare.ts'
import type { ServerTls } from './tls.ts'

/** The image that names our serving layer in an app file. */
export const SERVE_IMAGE = 'openfactory/serve'

export interface ServiceRuntimeOptions extends RuntimeOptions {
  readonly uuid: string
  /** Called when the lease's group membership fails for good: the process should stop (and be restarted). */
  readonly onFailure?: (err: Error) => void
}

export interface ServiceRuntime {
  readonly factory: Factory
  readonly kind: 'connector' | 'serve'
  readonly uuid: string
  readonly where: string
  readonly log: EventLog
  /** Serving app: its URL (`https:` under TLS). */
  readonly url?: string
  /** Serving app: its certificate under TLS. */
  readonly tls?: ServerTls
  /** Serving app: on loopback only, with authentication, or beyond loopback without it (`--insecure`). */
  readonly exposure?: Exposure
  /** Whether this replica holds the lease (runs the connector, or records expiries). */
  readonly active: boolean
  stop(): Promise<void>
}

export async function startServiceRuntime(opts: ServiceRuntimeOptions): Promise<ServiceRuntime> {
  const prepared = await prepare(opts)
  const { factory, backbone, logger } = prepared
  const device = factory.devices.find((d) => d.uuid === opts.uuid)
  const app = factory.apps.find((a) => a.uuid === opts.uuid)
  if (!device && !app) {
    throw new OpenFactoryError('OFA_CLI_USAGE', `no device or app with uuid ${opts.uuid} in ${factory.dir}`)
  }
  const kind = app ? appKindOf(app) : undefined
  if (app && !kind && !isServeImage(app.spec.image)) {
    throw new OpenFactoryError(
      'OFA_CLI_USAGE',
      `app ${app.uuid} ${app.spec.image ? `runs image ${app.spec.image}` : 'is a local command (ofa up runs it)'}; ofa run runs devices, our built-in apps and the serving app (${SERVE_IMAGE})`,
      { where: app.where },
    )
  }
  // A built-in app's block is checked before anything starts.
  const appConfig = app && kind ? kind.parse(app) : undefined
  if (device) {
    const plan = planDevice(device)
    if (plan.kind === 'skip') {
      throw new OpenFactoryError('OFA_CONFIG_VALUE', `device ${device.uuid} cannot run: ${plan.reason}`, {
        where: device.where,
      })
    }
  }
  requireKafka(backbone)
  // A serving app, before anything starts: where it may listen, its TLS certificate.
  const listener = app && !kind ? await prepareListener(opts, prepared) : undefined
  const { log, where } = await openBackbone(factory.manifest, backbone)
  try {
    if (device) {
      const plan = () => {
        const p = planDevice(device)
        return p.kind === 'run' ? p : null
      }
      return await runConnector({ factory, uuid: device.uuid, plan, log, where, opts, logger })
    }
    if (kind) {
      const deps = { eventLog: log, factory, env: opts.env ?? process.env, logger }
      const plan = () => ({ connector: kind.create(app!, appConfig, deps) })
      return await runConnector({ factory, uuid: app!.uuid, plan, log, where, opts, logger })
    }
    return await runServe({ factory, app: app!, listener: listener!, log, where, opts, logger })
  } catch (err) {
    await log.close().catch(() => {})
    throw err
  }
}

/** `ofa run` shares a factory with other processes through Kafka: the embedded log is refused (OFA_CLI_USAGE). */
export function requireKafka(backbone: BackboneOptions): void {
  if (backbone.type !== 'kafka') {
    throw new OpenFactoryError(
      'OFA_CLI_USAGE',
      'ofa run shares a factory with other processes through Kafka: set backbone kafka in factory.yaml or pass ' +
        '--backbone kafka --bootstrap HOST:PORT (ofa up runs a whole factory on the embedded log)',
    )
  }
}

/** The serving app's image (any tag or digest): `ofa up` and `ofa run` serve the API themselves. */
export function isServeImage(image: string | undefined): boolean {
  if (image === undefined) return false
  return image.replace(/[:@][^/]*$/, '') === SERVE_IMAGE
}

interface Context {
  readonly factory: Factory
  readonly log: EventLog
  readonly where: string
  readonly opts: ServiceRuntimeOptions
  readonly logger: DebugLogger
}

function leaseErrorHandler(ctx: Context, what: string): (err: Error) => void {
  return (err) => {
    ctx.logger.error(`${what}: lease lost for good`, { error: err.message })
    ctx.opts.onFailure?.(err)
  }
}

/**
 * A device's connector or a built-in app under the lease of its uuid: `plan` gives what to run when the lease is
 * taken (null: nothing runs).
 */
async function runConnector(
  ctx: Context & {
    uuid: string
    plan: () => { readonly connector: Connector; readonly adapter?: BuiltinAdapter } | null
  },
): Promise<ServiceRuntime> {
  const { uuid, log, logger, opts } = ctx
  /** What runs while the lease is held: the connector under a supervisor, and our replay adapter if any. */
  interface Active {
    readonly supervisor: Supervisor
    readonly adapter: ShdrAdapterServer | null
    readonly playing: AbortController
  }
  let active: Promise<Active | null> = Promise.resolve(null)
  const activate = async (): Promise<Active | null> => {
    const plan = ctx.plan()
    if (!plan) return null
    const playing = new AbortController()
    const adapter = plan.adapter ? await startAdapter(plan.adapter, playing.signal, logger) : null
    const supervisor = createSupervisor({
      eventLog: log,
      logger: childLogger(logger, { component: 'supervisor' }),
      group: `ofa-connector-${uuid}`,
      ...supervisorTimings(opts),
    })
    supervisor.add(plan.connector)
    await supervisor.start()
    logger.info('lease taken: connector running', { uuid })
    return { supervisor, adapter, playing }
  }
  const deactivate = async (a: Active | null): Promise<void> => {
    if (!a) return
    a.playing.abort()
    await a.supervisor.stop()
    await a.adapter?.close()
    logger.info('lease lost: connector stopped', { uuid })
  }
  // Lease changes are applied one after the other, each after the previous one finished.
  const lease: Lease = joinLease({
    log,
    group: `ofa-run-${uuid}`,
    topic: TOPICS.registry,
    onChange: (held) => {
      active = active
        .catch(() => null)
        .then(async (a) => {
          if (held) return a ?? (await activate())
          await deactivate(a)
          return null
        })
        .catch((err: Error) => {
          logger.error('connector could not start', { uuid, error: err.message })
          return null
        })
    },
    onError: leaseErrorHandler(ctx, uuid),
  })
  let stopping: Promise<void> | null = null
  return {
    factory: ctx.factory,
    kind: 'connector',
    uuid,
    where: ctx.where,
    log,
    get active() {
      return lease.held
    },
    stop() {
      stopping ??= (async () => {
        await lease.close() // its last change (lost) stops the connector
        await deactivate(await active.catch(() => null))
        active = Promise.resolve(null)
        await log.close()
      })()
      return stopping
    },
  }
}

async function runServe(ctx: Context & { app: Factory['apps'][number]; listener: Listener }): Promise<ServiceRuntime> {
  const { app, listener, log, logger, opts } = ctx
  let lease: Lease | null = null
  let state: ServingState | null = null
  let http: FastifyInstance | null = null
  let auth: ServeAuth | undefined
  try {
    lease = joinLease({
      log,
      group: 'ofa-serve',
      topic: TOPICS.registry,
      onChange: (held) => logger.info(held ? 'lease taken: recording expiries' : 'lease lost', { app: app.uuid }),
      onError: leaseErrorHandler(ctx, `app ${app.uuid}`),
    })
    const held = lease
    state = createServingState({ eventLog: log, logger, recordsExpiries: () => held.held })
    await state.ready()
    const host = listener.host
    const tls = await serverTls(listener)
    auth = await startServeAuth(ctx.factory, log)
    // The open alerts behind /api/alerts, when the factory has an alerts app (it runs apart: `ofa run <its uuid>`).
    const alerts = ctx.factory.apps.some((a) => appKindOf(a)?.block === 'alerts')
      ? openAlertsView(log, { logger })
      : undefined
    http = await createServeApp({
      eventLog: log,
      serving: state,
      logger,
      ...(alerts ? { alerts } : {}),
      ...(auth ? { auth: auth.options } : {}),
      ...httpAccess(host, opts.env ?? process.env, [app.spec.routing?.hostname]),
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      dashboardDir: DASHBOARD_DIST,
    })
    const { url, exposure } = await listen(
      http,
      { ...listener, tls },
      opts.port ?? app.spec.routing?.port ?? DEFAULT_PORT,
    )
    let stopping: Promise<void> | null = null
    const s = state
    const h = http
    const a = auth
    return {
      factory: ctx.factory,
      kind: 'serve',
      uuid: app.uuid,
      where: ctx.where,
      log,
      url,
      ...(tls ? { tls } : {}),
      exposure,
      get active() {
        return held.held
      },
      stop() {
        stopping ??= (async () => {
          await held.close()
          await h.close()
          await alerts?.close()
          await a?.close()
          await s.close()
          await log.close()
        })()
        return stopping
      },
    }
  } catch (err) {
    await lease?.close()
    await http?.close()
    await auth?.close()
    await state?.close()
    throw err
  }
}
