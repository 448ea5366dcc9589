/**
 * The local runtime: a whole factory in one process on the embedded log — what `ofa up` runs.
 *
 * Start order: open the log (it resumes from disk) → create the topics → start the adapters we run ourselves
 * (SHDR replay) → asset state catches up with the log → HTTP app listens → connectors start under the
 * supervisor. Stop order is the reverse, so that the connectors' last observations (their assets going
 * UNAVAILABLE) are on disk before the log closes.
 */
import { resolve } from 'node:path'
import {
  type ConnectorLogger,
  consoleLogger,
  createShdrAdapterServer,
  createSupervisor,
  planDevice,
  playShdrFile,
  type ShdrAdapterServer,
  type Supervisor,
} from '@openfactory/connectors'
import { type EmbeddedLog, openEmbeddedLog } from '@openfactory/log'
import { type Factory, loadFactory, OpenFactoryError, TOPICS, topicSettings } from '@openfactory/model'
import { type AssetState, createAssetState, createServeApp, DEFAULT_PORT } from '@openfactory/serve'
import type { FastifyInstance } from 'fastify'

export interface LocalRuntimeOptions {
  /** Factory folder (or files). */
  readonly paths: readonly string[]
  /** Data directory of the embedded log; default factory.yaml's `backbone.dataDir`, else `./.ofa-data`. */
  readonly dataDir?: string
  readonly port?: number
  readonly host?: string
  readonly uns?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  readonly logger?: ConnectorLogger
  /** Supervisor timings (tests shorten them). */
  readonly heartbeatMs?: number
  readonly ttlMs?: number
}

export interface LocalRuntime {
  readonly factory: Factory
  readonly url: string
  readonly dataDir: string
  readonly log: EmbeddedLog
  readonly state: AssetState
  readonly supervisor: Supervisor
  readonly app: FastifyInstance
  /** Devices that are declared but not run here, with the reason. */
  readonly skipped: readonly { uuid: string; reason: string }[]
  stop(): Promise<void>
}

export async function startLocalRuntime(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const cwd = opts.cwd ?? process.cwd()
  const logger = opts.logger ?? consoleLogger('ofa')
  const factory = await loadFactory(
    opts.paths.map((p) => resolve(cwd, p)),
    { ...(opts.uns ? { uns: resolve(cwd, opts.uns) } : {}), ...(opts.env ? { env: opts.env } : {}), cwd },
  )
  const backbone = factory.manifest.backbone
  if (backbone.type !== 'embedded') {
    throw new OpenFactoryError(
      'OFA_CONFIG_VALUE',
      'backbone kafka is not available in ofa up yet; use the embedded backbone',
      {
        ...(factory.manifest.file ? { where: { file: factory.manifest.file } } : {}),
      },
    )
  }
  // Plan every device before touching anything: a device that cannot run stops the start with its reason.
  const plans = factory.devices.map((device) => ({ device, plan: planDevice(device) }))
  const skipped = plans.flatMap(({ device, plan }) =>
    plan.kind === 'skip' ? [{ uuid: device.uuid, reason: plan.reason }] : [],
  )

  const dataDir = opts.dataDir ? resolve(cwd, opts.dataDir) : (backbone.dataDir ?? resolve(cwd, '.ofa-data'))
  const log = await openEmbeddedLog({ dir: dataDir })
  const adapters: ShdrAdapterServer[] = []
  const playing = new AbortController()
  let state: AssetState | null = null
  let app: FastifyInstance | null = null
  let supervisor: Supervisor | null = null
  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= shutdown()
    return stopping
  }
  const shutdown = async (): Promise<void> => {
    playing.abort()
    await supervisor?.stop()
    await app?.close()
    await state?.close()
    await Promise.all(adapters.map((a) => a.close()))
    await log.close()
  }
  try {
    const assets = topicSettings(factory.manifest, TOPICS.assets)
    await ensureTopic(log, { name: TOPICS.assets, ...assets, cleanupPolicy: 'delete' })
    await ensureTopic(log, {
      name: TOPICS.registry,
      ...topicSettings(factory.manifest, TOPICS.registry),
      cleanupPolicy: 'compact',
    })
    await ensureTopic(log, {
      name: TOPICS.documents,
      ...topicSettings(factory.manifest, TOPICS.documents),
      cleanupPolicy: 'compact',
    })

    for (const { plan } of plans) {
      if (plan.kind !== 'run' || !plan.adapter) continue
      const a = plan.adapter
      const server = await createShdrAdapterServer({ host: '127.0.0.1', port: a.port })
      adapters.push(server)
      playShdrFile(server, { file: a.file, speed: a.speed, loop: a.loop, signal: playing.signal }).catch(
        (err: Error) => {
          if (!playing.signal.aborted)
            logger.error('SHDR replay adapter stopped', { device: a.deviceUuid, error: err.message })
        },
      )
      logger.info('SHDR replay adapter listening', { device: a.deviceUuid, port: server.port, file: a.file })
    }

    state = createAssetState({ log })
    await state.ready()
    app = await createServeApp({ log, state })
    const host = opts.host ?? '127.0.0.1'
    await app.listen({ port: opts.port ?? DEFAULT_PORT, host })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_PORT)

    supervisor = createSupervisor({
      log,
      logger,
      ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
      ...(opts.ttlMs ? { ttlMs: opts.ttlMs } : {}),
    })
    for (const { plan } of plans) if (plan.kind === 'run') supervisor.add(plan.connector)
    await supervisor.start()
    for (const s of skipped) logger.warn('device not run', s)
    return {
      factory,
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      dataDir,
      log,
      state,
      supervisor,
      app,
      skipped,
      stop,
    }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}

async function ensureTopic(log: EmbeddedLog, spec: Parameters<EmbeddedLog['createTopic']>[0]): Promise<void> {
  if ((await log.listTopics()).includes(spec.name)) return
  await log.createTopic(spec)
}
