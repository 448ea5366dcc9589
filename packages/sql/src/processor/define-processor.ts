/**
 * The authoring API of processors written in TypeScript: a `ProcessorDefinition` (what a module named by
 * factory.yaml's `processors:` exports by default) becomes, through `defineProcessor`, the `ProcessorSpec` the
 * runtime runs (run-processor.ts) — with the same tasks per partition, stores and exactly-once checkpoints as a SQL
 * query. What the definition adds to the runtime's API is what a processor over the asset topic needs:
 *
 * - `ctx.asset(record)` reads an `ofa_assets` record as a typed asset event (model's codec, `decodeAssetEvent`);
 * - `ctx.emitObservation(assetUuid, {...})` writes an observation of an asset in the same wire format (model's
 *   `encodeAssetEvent`), keyed by the asset's uuid, so the derived value is one more data item of that asset for
 *   every reader: REST, WebSocket, dashboard, SQL;
 * - `inputs` and `outputs` default to `ofa_assets`, and a processor never sees the records it wrote itself (those
 *   carrying its own `ofa.task` header): reading and writing one topic does not loop.
 *
 * A module needs no runtime import: the helpers come with `ctx`, the types with `import type` (erased when Node
 * strips them), so a module works from any folder, inside the repository or not. `defineProcessor` and the two
 * helpers are exported for code that runs processors itself (`runProcessor`, tests).
 *
 * The runtime's rule holds: `process` is deterministic (no clock, no random numbers, no I/O, no state outside the
 * stores). That is why an emitted observation's time defaults to the source time of the record being processed,
 * never to the wall clock.
 */
import type { LogRecord, ProducerRecord } from '@openfactory/log'
import {
  type AssetEvent,
  AssetEvents,
  createOptionsChecker,
  decodeAssetEvent,
  encodeAssetEvent,
  isOpenFactoryError,
  isoTimestamp,
  type Observation,
  type ObservationAttributes,
  type ObservationValue,
  OpenFactoryError,
  parseTime,
  TOPICS,
} from '@openfactory/model'
import type { InputRecord, KeyValueStore, ProcessorContext, ProcessorSpec } from './processor.ts'
import { TASK_HEADER } from './task.ts'

/** An `ofa_assets` record read as what it means. */
export interface AssetRecord {
  /** The record's key: the asset's uuid. */
  readonly assetUuid: string
  /** Observation, availability, declaration, method, command or command result (model's `AssetEvent`). */
  readonly event: AssetEvent
  /** The record as on the wire (`event.observation`): id, value, tag, type, attributes. */
  readonly observation: Observation
}

/** An observation of a data item to emit: what `ctx.emitObservation` and `observationRecord` take. */
export interface ObservationDraft {
  /** The data item's id (unique within the asset). */
  readonly id: string
  /** A number for numeric Samples, text otherwise; `UNAVAILABLE` when there is no valid value. */
  readonly value: ObservationValue
  /** The MTConnect type of the item (`Load`, `Temperature`...). */
  readonly tag: string
  readonly type: 'Samples' | 'Events' | 'Condition'
  /**
   * Source time, epoch milliseconds or ISO-8601. `ctx.emitObservation` defaults it to the source time of the record
   * being processed (its `attributes.timestamp`, else its log time), or to the stream time in `onStreamTime`.
   */
  readonly timestamp?: number | string
  /** More attributes: `units`, `subType`, `quality`, `reason`, `nativeCode`, `message`... */
  readonly attributes?: Readonly<Omit<Partial<ObservationAttributes>, 'timestamp'>>
}

/** `ProcessorContext` plus the asset helpers. Valid only during the call it is given to. */
export interface AssetProcessorContext extends ProcessorContext {
  /**
   * The record as an asset event: undefined for a record without key or value (a tombstone). A value that is not
   * an asset event throws OFA_SQL_VALUE, which skips the record (counted and logged by the runtime).
   */
  asset(record: LogRecord): AssetRecord | undefined
  /**
   * Emits an observation of `assetUuid` (key: that uuid) to `topic`: default `ofa_assets` when it is one of the
   * outputs, else the first output. See `ObservationDraft` for its time.
   */
  emitObservation(assetUuid: string, draft: ObservationDraft, opts?: { readonly topic?: string }): void
}

/**
 * A processor as its author writes it: the `ProcessorSpec` of the runtime, with defaults and the asset helpers.
 * Lifecycle: `ofa up` loads the module once, then the runtime calls `process` once per record of each task, in the
 * task's order, and `onStreamTime` when a record moves the task's stream time forward; state lives in `stores`
 * only (module variables are not restored after a restart).
 */
export interface ProcessorDefinition {
  /** Unique among the factory's processors: names the checkpoint topic `_ofa_proc_<id>` (letters, digits, `._-`). */
  readonly id: string
  /** Topics read, co-partitioned; default `['ofa_assets']`. */
  readonly inputs?: readonly string[]
  /** Topics written; default `['ofa_assets']`. `ofa up` creates those missing with factory.yaml's `topics:` settings. */
  readonly outputs?: readonly string[]
  /** Names of the key-value stores of each task (JSON values, restored after a restart). */
  readonly stores?: readonly string[]
  /** One record, in the task's order. Must be deterministic. */
  process(record: InputRecord, ctx: AssetProcessorContext): void
  /** Called after a record moved the task's stream time forward (to close windows on event time). */
  onStreamTime?(streamTime: number, ctx: AssetProcessorContext): void
}

/** What `defineProcessor` returns: a `ProcessorSpec` that remembers its definition. */
export interface DefinedProcessor extends ProcessorSpec {
  readonly definition: ProcessorDefinition
}

const TOPIC_NAME = {
  type: 'string',
  pattern: '^[A-Za-z0-9._-]{1,249}$',
  expected: 'a topic name (letters, digits, ._-)',
}

const checkShape = createOptionsChecker(
  {
    type: 'object',
    properties: {
      id: {
        type: 'string',
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$',
        expected: 'a name (letters, digits, ._-; at most 200 characters)',
      },
      inputs: { type: 'array', items: TOPIC_NAME, minItems: 1 },
      outputs: { type: 'array', items: TOPIC_NAME },
      stores: {
        type: 'array',
        items: { type: 'string', pattern: '^[^\\u0000]+$', expected: 'a store name (no NUL character)' },
      },
      process: {},
      onStreamTime: {},
    },
    required: ['id', 'process'],
    additionalProperties: false,
  } as unknown as Parameters<typeof createOptionsChecker>[0],
  { code: 'OFA_PROCESSOR_INVALID', what: 'ProcessorDefinition' },
)

/** SQL persistent queries run as processors named by their query id: a definition may not take such a name. */
const SQL_QUERY_ID = /^(CSAS|CTAS)_|^INSERTQUERY_/

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? JSON.stringify(v) : `a ${typeof v}`
}

/** Every problem of a definition (empty when it is valid). */
function problemsOf(def: unknown): OpenFactoryError[] {
  const problems: OpenFactoryError[] = []
  const add = (path: string, message: string) =>
    problems.push(new OpenFactoryError('OFA_PROCESSOR_INVALID', message, { where: { path } }))
  try {
    checkShape(def)
  } catch (err) {
    if (!isOpenFactoryError(err, 'OFA_PROCESSOR_INVALID')) throw err
    problems.push(...(err.problems.length > 0 ? err.problems : [err]))
  }
  if (def === null || typeof def !== 'object' || Array.isArray(def)) return problems
  const d = def as Record<string, unknown>
  for (const f of ['process', 'onStreamTime'] as const) {
    if (d[f] !== undefined && typeof d[f] !== 'function') {
      add(f, `ProcessorDefinition.${f} must be a function, got ${describe(d[f])}`)
    }
  }
  if (typeof d.id === 'string' && SQL_QUERY_ID.test(d.id)) {
    add(
      'id',
      `ProcessorDefinition.id ${JSON.stringify(d.id)} has the form of a SQL query id (CSAS_, CTAS_, INSERTQUERY_)`,
    )
  }
  for (const f of ['inputs', 'outputs', 'stores'] as const) {
    const list = d[f]
    if (!Array.isArray(list)) continue
    const twice = list.filter((x, i) => list.indexOf(x) !== i)
    if (twice.length > 0) add(f, `ProcessorDefinition.${f} names ${JSON.stringify(twice[0])} twice`)
  }
  return problems
}

const DEFINITION = Symbol.for('@openfactory/sql.ProcessorDefinition')

/**
 * Checks a definition and returns the `ProcessorSpec` that runs it. Throws one OFA_PROCESSOR_INVALID carrying every
 * problem (`problems`, each with its field in `where.path`). A spec this function returned is returned as it is.
 */
export function defineProcessor(def: ProcessorDefinition): DefinedProcessor {
  if (def !== null && typeof def === 'object' && DEFINITION in def) return def as unknown as DefinedProcessor
  const problems = problemsOf(def)
  if (problems.length > 0) {
    const message =
      problems.length === 1
        ? (problems[0] as OpenFactoryError).message
        : `${problems.length} problems in ProcessorDefinition: ${problems.map((p) => p.message).join('; ')}`
    throw new OpenFactoryError('OFA_PROCESSOR_INVALID', message, { problems })
  }
  const definition = def
  const outputs = [...(def.outputs ?? [TOPICS.assets])]
  const observationTopic = outputs.includes(TOPICS.assets) ? TOPICS.assets : outputs[0]
  const ownTask = `${def.id}/`
  const contexts = new WeakMap<ProcessorContext, AssetProcessorContext>()
  /** The record being processed (process is synchronous: one at a time), and its decoding when done. */
  let current: InputRecord | undefined
  let currentAsset: AssetRecord | undefined | null = null
  const assetOf = (record: LogRecord): AssetRecord | undefined => {
    if (record !== current) return decodeAssetRecord(record)
    if (currentAsset === null) currentAsset = decodeAssetRecord(record)
    return currentAsset
  }
  /** Source time and log time an emitted observation defaults to. */
  const defaultTimes = (ctx: ProcessorContext): { source: number | string; record: number } => {
    const r = current
    if (!r) return { source: ctx.streamTime, record: ctx.streamTime }
    let source: number | string = r.timestamp
    try {
      const ts = assetOf(r)?.observation.attributes.timestamp
      if (typeof ts === 'string' && parseTime(ts) !== undefined) source = ts
    } catch {
      // Not an asset record: its log time is its time.
    }
    return { source, record: r.timestamp }
  }
  const contextOf = (ctx: ProcessorContext): AssetProcessorContext => {
    let c = contexts.get(ctx)
    if (!c) {
      c = {
        partition: ctx.partition,
        get streamTime() {
          return ctx.streamTime
        },
        store: <V>(name: string): KeyValueStore<V> => ctx.store<V>(name),
        emit: (topic, record) => ctx.emit(topic, record),
        asset: assetOf,
        emitObservation(assetUuid, draft, opts) {
          const times = defaultTimes(ctx)
          const record = observationRecord(assetUuid, { ...draft, timestamp: draft.timestamp ?? times.source })
          const topic = opts?.topic ?? observationTopic
          if (topic === undefined) throw new Error(`processor ${definition.id} has no output to emit ${draft.id} to`)
          ctx.emit(topic, times.record >= 0 ? { ...record, timestamp: times.record } : record)
        },
      }
      contexts.set(ctx, c)
    }
    return c
  }
  const spec: DefinedProcessor = {
    id: def.id,
    inputs: [...(def.inputs ?? [TOPICS.assets])],
    outputs,
    stores: [...(def.stores ?? [])],
    definition,
    process(record, ctx) {
      if (record.headers[TASK_HEADER]?.toString('utf8').startsWith(ownTask)) return
      current = record
      currentAsset = null
      try {
        definition.process(record, contextOf(ctx))
      } finally {
        current = undefined
        currentAsset = null
      }
    },
    ...(definition.onStreamTime
      ? {
          onStreamTime(streamTime: number, ctx: ProcessorContext) {
            definition.onStreamTime?.(streamTime, contextOf(ctx))
          },
        }
      : {}),
  }
  Object.defineProperty(spec, DEFINITION, { value: true })
  return Object.freeze(spec)
}

function valueError(message: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_SQL_VALUE', message, { cause })
}

/**
 * An `ofa_assets` record (key: the asset's uuid; value: the wire format of model's `observation.ts`) read with
 * model's codec: undefined when it has no key or no value; OFA_SQL_VALUE when the value is not an asset event.
 */
export function decodeAssetRecord(record: Pick<LogRecord, 'key' | 'value'>): AssetRecord | undefined {
  if (!record.key || !record.value) return undefined
  let event: AssetEvent
  try {
    event = decodeAssetEvent(record.value)
  } catch (err) {
    throw valueError(`not an asset event: ${(err as Error).message}`, err)
  }
  return { assetUuid: record.key.toString('utf8'), event, observation: event.observation }
}

const DATA_ITEM_TYPES: ReadonlySet<string> = new Set(['Samples', 'Events', 'Condition'])

/**
 * The `ofa_assets` record of one observation of `assetUuid`, encoded with model's codec. The draft's `timestamp` is
 * required here (nothing reads the clock for you). A draft that is not one (no id, an unknown type) throws
 * OFA_PROCESSOR_INVALID; a value that cannot be written (a number that is not finite) or a timestamp that is not a
 * time throws OFA_SQL_VALUE.
 */
export function observationRecord(
  assetUuid: string,
  draft: ObservationDraft & { readonly timestamp: number | string },
): ProducerRecord {
  const invalid = (m: string) => new OpenFactoryError('OFA_PROCESSOR_INVALID', `emitted observation: ${m}`)
  if (typeof assetUuid !== 'string' || assetUuid === '') throw invalid('the asset uuid must be a non-empty string')
  if (typeof draft.id !== 'string' || draft.id === '') throw invalid('id must be a non-empty string')
  if (typeof draft.tag !== 'string') throw invalid(`${draft.id}: tag must be a string`)
  if (!DATA_ITEM_TYPES.has(draft.type)) {
    throw invalid(`${draft.id}: type must be Samples, Events or Condition, got ${describe(draft.type)}`)
  }
  if (typeof draft.value === 'number') {
    if (!Number.isFinite(draft.value)) throw valueError(`${draft.id}: value ${draft.value} is not a finite number`)
  } else if (typeof draft.value !== 'string') {
    throw invalid(`${draft.id}: value must be a number or a string, got ${describe(draft.value)}`)
  }
  const ms = typeof draft.timestamp === 'number' ? draft.timestamp : parseTime(draft.timestamp)
  if (ms === undefined || !Number.isFinite(ms)) {
    throw valueError(`${draft.id}: timestamp ${JSON.stringify(draft.timestamp)} is not a time`)
  }
  const observation: Observation = {
    id: draft.id,
    value: draft.value,
    tag: draft.tag,
    type: draft.type,
    // The source time first, as connectors write it; an attribute named timestamp cannot replace it.
    attributes: Object.assign({ timestamp: '' }, draft.attributes, { timestamp: isoTimestamp(ms) }),
  }
  return { key: assetUuid, value: encodeAssetEvent(AssetEvents.observation(observation)) }
}
