/**
 * Test helpers: a real embedded log in a temporary directory, and writers that put on it exactly what the
 * connector supervisor does (registry declaration, the reference's attributes, UNAVAILABLE items, heartbeats).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type EmbeddedLog, type EventLog, openEmbeddedLog } from '@openfactory/log'
import {
  type Asset,
  type AssetEvent,
  AssetEvents,
  type CommandResult,
  decodeAssetEvent,
  encodeAssetDeclaration,
  encodeAssetEvent,
  isoTimestamp,
  type Observation,
  TOPICS,
} from '@openfactory/model'
import {
  type AssetState,
  type AssetStateOptions,
  createAssetState,
  createServingState,
  type ServingState,
  type ServingStateOptions,
} from '../../src/index.ts'

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-serve-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Opens an embedded log in `dir` (a new temporary one by default), closed after the test. */
export async function createTestLog(t: TestContext, dir?: string): Promise<EmbeddedLog> {
  const log = await openEmbeddedLog({
    dir: dir ?? (await tempDir(t)),
    compactionIntervalMs: 0,
    retentionCheckIntervalMs: 0,
  })
  t.after(() => log.close().catch(() => {}))
  return log
}

/** An asset state (the fold alone) over `eventLog`, closed after the test; resolves once it is ready. */
export async function createTestState(
  t: TestContext,
  eventLog: EventLog,
  opts: Omit<AssetStateOptions, 'eventLog'> = {},
): Promise<AssetState> {
  const state = createAssetState({ eventLog, ...opts })
  t.after(() => state.close())
  await state.ready()
  return state
}

/** The state with its expiry and command tracker over `eventLog`, closed after the test; resolves once ready. */
export async function createTestServing(
  t: TestContext,
  eventLog: EventLog,
  opts: Omit<ServingStateOptions, 'eventLog'> = {},
): Promise<ServingState> {
  const serving = createServingState({ eventLog, ...opts })
  t.after(() => serving.close())
  await serving.ready()
  return serving
}

/** Appends events as the supervisor does (with an ingestion timestamp unless one is given). */
export async function publishEvents(log: EventLog, uuid: string, events: readonly AssetEvent[]): Promise<void> {
  await log.append(
    TOPICS.assets,
    events.map((e) => {
      const attributes = e.observation.attributes
      attributes.ingestion_timestamp ??= isoTimestamp()
      return { key: uuid, value: encodeAssetEvent(e) }
    }),
  )
}

export async function publish(log: EventLog, uuid: string, observations: readonly Observation[]): Promise<void> {
  await publishEvents(
    log,
    uuid,
    observations.map((o) => AssetEvents.observation({ ...o, attributes: { ...o.attributes } })),
  )
}

export function sample(
  id: string,
  value: number | string,
  tag = 'Temperature',
  extra: Record<string, unknown> = {},
): Observation {
  return {
    id,
    value,
    tag,
    type: typeof value === 'number' ? 'Samples' : 'Events',
    attributes: { timestamp: isoTimestamp(), ...extra },
  }
}

export function avail(available: boolean, attrs: Record<string, unknown> = {}): Observation {
  const o = AssetEvents.availability(available ? { available, ttlMs: 15000 } : { available }).observation
  return { ...o, attributes: { ...o.attributes, ...attrs } }
}

/** What the supervisor writes when a connector declares an asset. */
export async function declare(log: EventLog, asset: Asset): Promise<void> {
  await log.append(TOPICS.registry, [{ key: asset.uuid, value: encodeAssetDeclaration(asset) }])
  await publishEvents(log, asset.uuid, AssetEvents.declare(asset))
}

export function sensor(uuid: string, unsPath: string[], extra: Partial<Asset> = {}): Asset {
  const names = ['inc', 'area', 'workcenter', 'asset']
  const levels: Record<string, string> = {}
  unsPath.forEach((v, i) => {
    levels[names[i] ?? `l${i}`] = v
  })
  return {
    uuid,
    type: 'Device',
    uns: { levels, unsId: unsPath.join('/') },
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [
      { id: 'Temp', category: 'Samples', tag: 'Temperature', units: 'CELSIUS' },
      { id: 'Hum', category: 'Samples', tag: 'Humidity', units: 'PERCENT' },
      { id: 'exec', category: 'Events', tag: 'Execution' },
      { id: 'system', category: 'Condition', tag: 'System' },
    ],
    methods: [
      {
        name: 'SetSetpoint',
        description: 'Sets the temperature setpoint',
        arguments: [{ name: 'value', description: 'degrees', type: 'number', required: true }],
      },
      { name: 'Reset', description: 'Resets the device', arguments: [] },
    ],
    ...extra,
  }
}

/** Every record of a topic, partition by partition. */
export { readTopic as readAll } from '@openfactory/log/testing'

/** Polls `check` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * A fake connector answering commands: follows `ofa_assets` from its start and appends `<Method>_RESULT` for
 * each `<Method>_CMD` addressed to `uuid` (as the supervisor does); `answer` returns null to never answer.
 */
export function startResponder(
  t: TestContext,
  log: EventLog,
  uuid: string,
  answer: (method: string, args: Readonly<Record<string, unknown>>) => Omit<CommandResult, 'correlation_id'> | null,
): void {
  const controller = new AbortController()
  const done = (async () => {
    for await (const batch of log.follow(TOPICS.assets, { from: 'earliest', signal: controller.signal })) {
      for (const r of batch) {
        if (r.key?.toString() !== uuid || r.value === null) continue
        const e = decodeAssetEvent(r.value)
        if (e.kind !== 'command') continue
        const result = answer(e.method, e.envelope.arguments)
        if (result === null) continue
        await publishEvents(log, uuid, [
          AssetEvents.result(e.method, { correlation_id: e.envelope.header.correlation_id, ...result }),
        ])
      }
    }
  })()
  t.after(async () => {
    controller.abort()
    await done.catch(() => {})
  })
}

/**
 * The log, whose reads fail with `error` once `fail(error)` was called, as a damaged log does (a follow fails
 * at its next batch). Everything else goes to the log itself.
 */
export function breakableLog(log: EventLog): { log: EventLog; fail(error: Error): void } {
  let broken: Error | null = null
  const wrapped = new Proxy(log, {
    get(target, prop) {
      if (prop === 'read') {
        return async (...args: Parameters<EventLog['read']>) => {
          if (broken) throw broken
          return target.read(...args)
        }
      }
      if (prop === 'follow') {
        return (...args: Parameters<EventLog['follow']>) =>
          (async function* () {
            if (broken) throw broken
            for await (const batch of target.follow(...args)) {
              if (broken) throw broken
              yield batch
            }
          })()
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return {
    log: wrapped,
    fail(error) {
      broken = error
    },
  }
}

/** A logger that keeps what it is told. */
export function memoryLogger(): {
  info(m: string, f?: Record<string, unknown>): void
  warn(m: string, f?: Record<string, unknown>): void
  error(m: string, f?: Record<string, unknown>): void
  lines: { level: string; message: string; fields: Record<string, unknown> }[]
} {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = []
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, message, fields })
    }
  return { info: at('info'), warn: at('warn'), error: at('error'), lines }
}
