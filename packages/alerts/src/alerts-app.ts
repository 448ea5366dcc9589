/**
 * The alerts app: an app kind (`alerts:` block, connectors' app-kind.ts) that `ofa up` runs in its process and
 * `ofa run <uuid>` alone, supervised like a connector.
 *
 * It is a processor of packages/sql's runtime (run-processor.ts, task.ts), which gives it exactly-once on the log
 * without transactions: inputs `ofa_assets` and `ofa_alerts_control` (co-partitioned: one task per partition),
 * outputs `ofa_alerts` (the `AlertEvent`s) and `ofa_assets` (the `alert_<rule>` Condition observations), state in
 * the task's stores (evaluator.ts), checkpointed to `_ofa_proc_alerts_<uuid>` with the input positions. After a
 * restart or a crash a task restores its stores and positions and replays what followed; its outputs carry their
 * source offset, so those already written are not written again: no alert is raised twice, none is lost.
 *
 * Beside the processor, the app writes a tick to every partition of `ofa_alerts_control` each `tick_ms` (log time
 * for durations that run out while an asset is silent) — ticks are records, so replays see the same time.
 *
 * A first run starts at the end of `ofa_assets` (`start: latest`, the default: no alert for last week's history) or
 * at its start (`earliest`); what assets are (type, UNS) is read from `ofa_registry` at start for assets whose
 * declaration the run has not seen. Alerts of unknown assets are not an error: a rule naming an asset no device or
 * app of the factory declares is warned about at start (another process may declare it).
 */

import {
  type AppKindDeps,
  appAsset,
  type Connector,
  type ConnectorContext,
  type ConnectorMetrics,
  registerAppKind,
} from '@openfactory/connectors'
import { type EventLog, tail } from '@openfactory/log'
import {
  type AlertsSpec,
  type AppConfig,
  decodeAssetDeclaration,
  isOpenFactoryError,
  OpenFactoryError,
  TOPICS,
} from '@openfactory/model'
import {
  decodeAssetRecord,
  defineProcessor,
  type KeyValueStore,
  observationRecord,
  type ProcessorHandle,
  runProcessor,
} from '@openfactory/sql'
import { ALERTS_TOPIC, alertKey } from './alert-event.ts'
import { ALERTS_CONTROL_TOPIC, decodeControl, tickRecord } from './control.ts'
import { type AlertEntry, AlertEvaluator, type EvaluatorOutput, type EvaluatorStores } from './evaluator.ts'
import { type AlertsConfig, type AssetInfo, alertsConfig } from './rules.ts'

/** Assets read from `ofa_registry` at start, at most (past it: the rest are learnt from their declarations). */
export const MAX_REGISTRY_ASSETS = 100_000

/**
 * `ofa_alerts_control` keeps a day (ticks: one per partition per `tick_ms` of every alerts app), in segments of 1 MiB
 * so that retention can drop them: an ack made while the alerts app is down for longer than that is lost.
 */
export const CONTROL_RETENTION_MS = 24 * 3600 * 1000
export const CONTROL_SEGMENT_BYTES = 1024 * 1024

/** The processor id of an alerts app: `alerts_<uuid>` with characters other than letters, digits, `._-` as `_`. */
export function alertsProcessorId(uuid: string): string {
  return `alerts_${uuid.replace(/[^A-Za-z0-9._-]/g, '_')}`
}

/** The processor of one alerts app (exported for tests and the bench). */
export function alertsProcessor(app: string, config: AlertsConfig, known?: (uuid: string) => AssetInfo | undefined) {
  const evaluator = new AlertEvaluator({ app, config, ...(known ? { known } : {}) })
  const spec = defineProcessor({
    id: alertsProcessorId(app),
    inputs: [TOPICS.assets, ALERTS_CONTROL_TOPIC],
    outputs: [TOPICS.assets, ALERTS_TOPIC],
    stores: ['alerts', 'assets', 'meta'],
    process(record, ctx) {
      const stores: EvaluatorStores = {
        alerts: ctx.store<AlertEntry>('alerts') as KeyValueStore<AlertEntry>,
        assets: ctx.store<AssetInfo>('assets'),
        meta: ctx.store<number>('meta'),
      }
      const out: EvaluatorOutput = {
        alert: (e) => ctx.emit(ALERTS_TOPIC, { key: alertKey(e.asset, e.rule), value: JSON.stringify(e) }),
        observation: (asset, o) => {
          const { timestamp, ...attributes } = o.attributes
          ctx.emit(
            TOPICS.assets,
            observationRecord(asset, {
              id: o.id,
              value: o.value,
              tag: o.tag,
              type: 'Condition',
              timestamp: timestamp as string,
              attributes,
            }),
          )
        },
      }
      if (record.input === 1) {
        const control = decodeControl(record.value)
        if (control) evaluator.control(stores, out, control, record.timestamp)
        return
      }
      const asset = decodeAssetRecord(record)
      if (asset) evaluator.asset(stores, out, asset.assetUuid, asset.event, record.timestamp)
    },
  })
  return { spec, evaluator }
}

/** Creates `ofa_alerts` and `ofa_alerts_control` when missing (the control topic co-partitioned with ofa_assets). */
export async function ensureAlertTopics(eventLog: EventLog): Promise<number> {
  const partitions = (await eventLog.describeTopic(TOPICS.assets)).partitions
  const topics = await eventLog.listTopics()
  if (!topics.includes(ALERTS_TOPIC)) await eventLog.createTopic({ name: ALERTS_TOPIC, partitions })
  if (!topics.includes(ALERTS_CONTROL_TOPIC)) {
    await eventLog.createTopic({
      name: ALERTS_CONTROL_TOPIC,
      partitions,
      retentionMs: CONTROL_RETENTION_MS,
      segmentBytes: CONTROL_SEGMENT_BYTES,
    })
  } else {
    const have = (await eventLog.describeTopic(ALERTS_CONTROL_TOPIC)).partitions
    if (have !== partitions) {
      throw new OpenFactoryError(
        'OFA_CONFIG_VALUE',
        `topic ${ALERTS_CONTROL_TOPIC} has ${have} partitions, ${TOPICS.assets} ${partitions}: they must be equal (delete ${ALERTS_CONTROL_TOPIC}; it holds only acks and ticks)`,
      )
    }
  }
  return partitions
}

/** What `ofa_registry` says assets are (type, UNS id), read to its end. */
async function readRegistry(eventLog: EventLog, signal: AbortSignal): Promise<Map<string, AssetInfo>> {
  const known = new Map<string, AssetInfo>()
  if (!(await eventLog.listTopics()).includes(TOPICS.registry)) return known
  for await (const batch of tail(eventLog, TOPICS.registry, { signal })) {
    for (const r of batch.records) {
      if (!r.key) continue
      const uuid = r.key.toString('utf8')
      if (!r.value) {
        known.delete(uuid)
        continue
      }
      try {
        const a = decodeAssetDeclaration(uuid, r.value)
        if (known.size < MAX_REGISTRY_ASSETS || known.has(uuid)) {
          known.set(uuid, { type: a.type, ...(a.uns ? { unsId: a.uns.unsId } : {}) })
        }
      } catch {
        // A declaration that cannot be read: that asset is learnt from ofa_assets instead.
      }
    }
    if (batch.caughtUp) break
  }
  return known
}

class AlertsApp implements Connector {
  readonly name: string
  readonly #app: AppConfig
  readonly #config: AlertsConfig
  readonly #deps: AppKindDeps
  #handle: ProcessorHandle | undefined
  #timer: NodeJS.Timeout | undefined
  #evaluator: AlertEvaluator | undefined
  #abort = new AbortController()

  constructor(app: AppConfig, config: AlertsConfig, deps: AppKindDeps) {
    this.name = app.uuid
    this.#app = app
    this.#config = config
    this.#deps = deps
  }

  async start(ctx: ConnectorContext): Promise<void> {
    const log = this.#deps.eventLog
    this.#abort = new AbortController()
    ctx.declareAssets([appAsset(this.#app)])
    const partitions = await ensureAlertTopics(log)
    const registry = await readRegistry(log, this.#abort.signal)
    const { spec, evaluator } = alertsProcessor(this.#app.uuid, this.#config, (uuid) => registry.get(uuid))
    this.#evaluator = evaluator
    const handle = runProcessor({
      eventLog: log,
      spec,
      resetTo: this.#config.start,
      logger: this.#deps.logger,
    })
    this.#handle = handle
    await handle.ready
    const tick = () => {
      const now = (this.#deps.now ?? Date.now)()
      const records = Array.from({ length: partitions }, (_, p) => tickRecord(this.#app.uuid, p, now))
      log.append(ALERTS_CONTROL_TOPIC, records).catch((err: unknown) => {
        if (isOpenFactoryError(err, 'OFA_LOG_CLOSED')) return
        this.#deps.logger.warn('alerts tick not written; the next one will be', { error: String(err) })
      })
    }
    tick()
    this.#timer = setInterval(tick, this.#config.tickMs)
    this.#timer.unref?.()
    ctx.setAvailable(this.#app.uuid, true)
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#handle?.stop()
    this.#handle = undefined
  }

  metrics(): ConnectorMetrics {
    const untracked = this.#evaluator?.stats.untracked ?? 0
    return { messagesDropped: untracked > 0 ? { untracked } : {} }
  }
}

registerAppKind<AlertsSpec>({
  block: 'alerts',
  summary: 'alert rules over the observations: raised, acknowledged, cleared on ofa_alerts',
  parse: (app) => app.spec.alerts as AlertsSpec,
  create(app, spec, deps) {
    const config = alertsConfig(spec, deps.factory.uns?.separator ?? '/')
    const declared = new Set([...deps.factory.devices.map((d) => d.uuid), ...deps.factory.apps.map((a) => a.uuid)])
    for (const rule of config.rules) {
      for (const uuid of rule.assets ?? []) {
        if (!declared.has(uuid)) {
          deps.logger.warn('an alert rule names an asset no device or app of the factory declares', {
            app: app.uuid,
            rule: rule.id,
            asset: uuid,
          })
        }
      }
    }
    return new AlertsApp(app, config, deps)
  },
})
