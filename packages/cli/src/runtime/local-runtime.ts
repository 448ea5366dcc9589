/**
 * The local runtime: a whole factory in one process — what `ofa up` runs — on the embedded log, or on Kafka
 * (factory.yaml's `backbone: kafka`, or `--backbone kafka --bootstrap HOST:PORT`).
 *
 * Start order: open the log (the embedded one resumes from disk) → create the topics → start the adapters we
 * run ourselves (SHDR replay) → the SQL files and the TypeScript processors (factory.yaml `sql:`, `processors:`)
 * → asset state catches up with the log → HTTP app listens → connectors start under the supervisor. Stop order is
 * the reverse, so that the connectors' last observations (their assets going UNAVAILABLE) are durable before the
 * log closes.
 */
import '../app-kinds.ts'
import '../connector-types.ts'
import { type AlertsView, openAlertsView } from '@openfactory/alerts'
import {
  appKindOf,
  createSupervisor,
  type DevicePlan,
  planDevice,
  type ShdrAdapterServer,
  type Supervisor,
} from '@openfactory/connectors'
import { DASHBOARD_DIST } from '@openfactory/dashboard'
import type { EventLog } from '@openfactory/log'
import { childLogger, type DebugLogger, type DeviceConfig, type Factory, isOpenFactoryError } from '@openfactory/model'
import { createServeApp, createServingState, DEFAULT_PORT, type ServingState } from '@openfactory/serve'
import type { SqlEngine } from '@openfactory/sql'
import type { FastifyInstance } from 'fastify'
import { type Deployment, pendingDeployment, recordDeployment } from '../deploy/deployments.ts'
import { startAdapter } from './adapters.ts'
import { AppProcess, appEnvironment } from './app-process.ts'
import { type ServeAuth, startServeAuth } from './auth.ts'
import { openBackbone } from './backbone.ts'
import { type EdgeForwarding, startEdgeForwarding } from './edge.ts'
import { type Exposure, httpAccess } from './listening.ts'
import { listen, prepare, prepareListener, type RuntimeOptions, serverTls, supervisorTimings } from './prepare.ts'
import { type FactoryProcessors, startFactoryProcessors } from './processors.ts'
import { isServeImage } from './service-runtime.ts'
import { startFactorySql } from './sql.ts'
import type { ServerTls } from './tls.ts'
import { writerMetrics } from './writer-metrics.ts'

export type LocalRuntimeOptions = RuntimeOptions

export interface LocalRuntime {
  readonly factory: Factory
  /** The API's base URL: `https:` under TLS. */
  readonly url: string
  /** The API's certificate (its file, fingerprint, whether made now), under TLS. */
  readonly tls?: ServerTls
  /** On loopback only, with authentication, or beyond loopback without it (`--insecure`). */
  readonly exposure: Exposure
  /** Where the log is: the embedded log's data directory, or `kafka <bootstrap servers>`. */
  readonly where: string
  readonly log: EventLog
  readonly state: ServingState
  readonly supervisor: Supervisor
  readonly app: FastifyInstance
  /** An edge's forwarding to the central Kafka (factory.yaml `backbone.forward`), else null. */
  readonly forwarding: EdgeForwarding | null
  /** The SQL engine: the factory's streams, tables and queries (factory.yaml `sql:`). */
  readonly sql: SqlEngine
  /**
   * The TypeScript processors (factory.yaml `processors:`): those running, and the modules not run with their coded
   * error (the factory runs without them).
   */
  readonly processors: FactoryProcessors
  /** The deployment this start recorded (its files differ from the last one's), else null. */
  readonly deployment: Deployment | null
  /** Devices that are declared but not run here, with the reason. */
  readonly skipped: readonly { uuid: string; reason: string }[]
  stop(): Promise<void>
}

/**
 * `planDevice`, except that a Devices.xml that cannot be read (OFA_MTCONNECT_XML: a file from the machine's maker,
 * not the factory's own declaration) stops only its device: it is not run, with the problems as the reason, and the
 * others run. `ofa validate` reports the same problems as errors.
 */
function planLocally(device: DeviceConfig): DevicePlan {
  try {
    return planDevice(device)
  } catch (err) {
    if (!isOpenFactoryError(err) || err.code !== 'OFA_MTCONNECT_XML') throw err
    const problems = err.problems.length > 0 ? err.problems : [err]
    return { kind: 'skip', reason: problems.map((p) => p.format()).join('; ') }
  }
}

/**
 * The files now running, as a deployment on the log when they differ from the last one recorded (ofa plan diffs
 * against it; ofa history lists it). Not recording is logged, never fatal: the factory runs.
 */
async function recordRunningFiles(log: EventLog, factory: Factory, logger: DebugLogger): Promise<Deployment | null> {
  try {
    const { next } = await pendingDeployment(log, factory, 'ofa up')
    if (!next) return null
    await recordDeployment(log, next)
    logger.info('deployment recorded', { seq: next.seq, ...next.summary })
    return next
  } catch (err) {
    logger.warn('the deployment could not be recorded', { error: err instanceof Error ? err.message : String(err) })
    return null
  }
}

export async function startLocalRuntime(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const prepared = await prepare(opts)
  const { factory, backbone, logger } = prepared
  // Before anything starts: where the API may listen, its TLS certificate.
  const listener = await prepareListener(opts, prepared)
  // Plan every device before touching anything: a device that cannot run stops the start with its reason, except
  // a device description that cannot be read (planLocally).
  const plans = factory.devices.map((device) => ({ device, plan: planLocally(device) }))
  const skipped = plans.flatMap(({ device, plan }) =>
    plan.kind === 'skip' ? [{ uuid: device.uuid, reason: plan.reason }] : [],
  )
  // Apps with a command run here as local processes, our built-in apps (historian, alerts...) in this process; an app
  // that is only an image runs where containers run. A built-in app whose block cannot run stops the start.
  const localApps = factory.apps.filter((a) => a.spec.command !== undefined)
  const builtinApps = factory.apps.flatMap((app) => {
    const kind = appKindOf(app)
    return kind ? [{ app, kind, config: kind.parse(app) }] : []
  })
  for (const a of factory.apps) {
    if (a.spec.command === undefined && appKindOf(a) === undefined && !isServeImage(a.spec.image)) {
      skipped.push({
        uuid: a.uuid,
        reason: `app image ${a.spec.image} runs only where containers run (ofa apply to Docker Swarm); give it a command to run it here`,
      })
    }
  }

  const { log, where } = await openBackbone(factory.manifest, backbone)
  const adapters: ShdrAdapterServer[] = []
  const playing = new AbortController()
  let state: ServingState | null = null
  let app: FastifyInstance | null = null
  let supervisor: Supervisor | null = null
  let sql: SqlEngine | null = null
  let processors: FactoryProcessors | null = null
  let forwarding: EdgeForwarding | null = null
  let auth: ServeAuth | undefined
  let alertsView: AlertsView | null = null
  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= shutdown()
    return stopping
  }
  const shutdown = async (): Promise<void> => {
    playing.abort()
    await supervisor?.stop()
    await app?.close()
    await alertsView?.close()
    await auth?.close()
    await processors?.stop()
    await sql?.close()
    await state?.close()
    await Promise.all(adapters.map((a) => a.close()))
    await forwarding?.stop()
    await log.close()
  }
  try {
    if (backbone.type === 'embedded' && backbone.forward) {
      forwarding = await startEdgeForwarding(log, backbone.forward, logger)
    }
    for (const { plan } of plans) {
      if (plan.kind === 'run' && plan.adapter) adapters.push(await startAdapter(plan.adapter, playing.signal, logger))
    }

    // Every partition of the queries and processors in this process. Group assignment (shared with other processes,
    // fenced) exists (processor/run-processor.ts) but stays off under ofa up: across a broker outage it stalled the
    // whole runtime (kafka-outage.test.ts), which is to be fixed first.
    const assignment = 'static' as const
    sql = await startFactorySql(log, factory.manifest.sql, childLogger(logger, { component: 'sql' }), assignment)
    processors = await startFactoryProcessors({
      eventLog: log,
      manifest: factory.manifest,
      logger: childLogger(logger, { component: 'processors' }),
      assignment,
    })
    state = createServingState({ eventLog: log, logger })
    await state.ready()
    const edge = forwarding
    const host = listener.host
    const tls = await serverTls(listener)
    auth = await startServeAuth(factory, log)
    // The open alerts behind /api/alerts, when an alerts app runs here (@openfactory/alerts' view of ofa_alerts).
    if (builtinApps.some((b) => b.kind.block === 'alerts')) {
      alertsView = openAlertsView(log, { logger: childLogger(logger, { component: 'alerts' }) })
    }
    app = await createServeApp({
      eventLog: log,
      serving: state,
      sql,
      ...(auth ? { auth: auth.options } : {}),
      logger,
      ...httpAccess(host, opts.env ?? process.env),
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      extraMetrics: async () => [...(edge ? await edge.metrics() : []), ...writerMetrics(supervisor)],
      dashboardDir: DASHBOARD_DIST,
      ...(alertsView ? { alerts: alertsView } : {}),
    })
    const { url, exposure } = await listen(app, { ...listener, tls }, opts.port ?? DEFAULT_PORT)

    supervisor = createSupervisor({
      eventLog: log,
      logger: childLogger(logger, { component: 'supervisor' }),
      ...supervisorTimings(opts),
    })
    for (const { plan } of plans) if (plan.kind === 'run') supervisor.add(plan.connector)
    const backboneEnv =
      backbone.type === 'kafka'
        ? { type: 'kafka' as const, bootstrapServers: backbone.bootstrapServers, security: backbone.security }
        : { type: 'embedded' as const }
    for (const app of localApps) {
      const apiCa = tls?.source.startsWith('self-signed') ? tls.certFile : undefined
      supervisor.add(
        new AppProcess({
          app,
          environment: appEnvironment(app, { apiUrl: url, backbone: backboneEnv, ...(apiCa ? { apiCa } : {}) }),
        }),
      )
    }
    for (const { app, kind, config } of builtinApps) {
      supervisor.add(
        kind.create(app, config, {
          eventLog: log,
          factory,
          env: opts.env ?? process.env,
          logger: childLogger(logger, { component: 'app', app: app.uuid }),
          apiUrl: url,
        }),
      )
    }
    await supervisor.start()
    for (const s of skipped) logger.warn('device not run', s)
    for (const { device, plan } of plans) {
      for (const w of plan.warnings ?? [])
        logger.warn('device description read past a problem', {
          uuid: device.uuid,
          warning: w.format(),
        })
    }
    const deployment = await recordRunningFiles(log, factory, logger)
    return {
      deployment,
      factory,
      url,
      ...(tls ? { tls } : {}),
      exposure,
      where,
      log,
      state,
      supervisor,
      app,
      forwarding,
      sql,
      processors,
      skipped,
      stop,
    }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}
