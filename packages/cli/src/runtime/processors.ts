/**
 * The factory's TypeScript processors: the modules factory.yaml names (`processors:`), each imported once (Node 24
 * runs `.ts` by stripping its types), its default export checked by `defineProcessor` (@openfactory/sql), and run
 * with `runProcessor` on the factory's log — every partition in this process, as `ofa up` owns the whole factory.
 * Outputs that do not exist yet are created with factory.yaml's `topics:` settings; inputs must exist.
 *
 * A module that cannot be imported (OFA_PROCESSOR_LOAD), whose default export is not a valid definition or whose
 * id another module has (OFA_PROCESSOR_INVALID), or that cannot start (an input missing; the runtime's own error)
 * is not run: its coded error names the file, and the rest of the factory goes on.
 *
 * A module may import our packages at run time (`import { defineProcessor } from '@openfactory/sql'`) from any folder
 * (ourPackagesFromAnywhere below): in our image the factory is mounted at /factory and the app is in /app.
 */
import { registerHooks } from 'node:module'
import { pathToFileURL } from 'node:url'
import type { EventLog } from '@openfactory/log'
import {
  childLogger,
  type DebugLogger,
  type FactoryManifest,
  isOpenFactoryError,
  OpenFactoryError,
  topicSettings,
} from '@openfactory/model'
import {
  type DefinedProcessor,
  defineProcessor,
  type ProcessorDefinition,
  type ProcessorHandle,
  runProcessor,
} from '@openfactory/sql'

export interface RunningProcessor {
  readonly id: string
  /** The module's absolute path. */
  readonly file: string
  readonly handle: ProcessorHandle
}

export interface ProcessorFailure {
  /** The module's absolute path. */
  readonly file: string
  /** Coded, with `where.file` the module. */
  readonly error: OpenFactoryError
}

export interface FactoryProcessors {
  readonly running: readonly RunningProcessor[]
  readonly failed: readonly ProcessorFailure[]
  /** Stops every processor after its current batch. */
  stop(): Promise<void>
}

export interface FactoryProcessorsOptions {
  readonly eventLog: EventLog
  /** `processors` (the modules, absolute paths) and `topics` (settings of outputs created here). */
  readonly manifest: Pick<FactoryManifest, 'processors' | 'topics'>
  readonly logger: DebugLogger
  /** How this process gets its partitions: `group` on Kafka (shared with every process running them), else all. */
  readonly assignment?: 'static' | 'group'
}

/** Loads and starts every module of `processors:`, in order; never throws for one module's failure. */
export async function startFactoryProcessors(opts: FactoryProcessorsOptions): Promise<FactoryProcessors> {
  const { eventLog, manifest, logger } = opts
  const running: RunningProcessor[] = []
  const failed: ProcessorFailure[] = []
  const ids = new Map<string, string>()
  for (const file of manifest.processors) {
    try {
      const spec = await loadProcessor(file)
      const other = ids.get(spec.id)
      if (other !== undefined) {
        throw new OpenFactoryError('OFA_PROCESSOR_INVALID', `processor id ${spec.id} is already the id of ${other}`, {
          where: { file },
        })
      }
      ids.set(spec.id, file)
      await prepareTopics(eventLog, manifest, spec, file)
      const handle = runProcessor({
        eventLog,
        spec,
        logger: childLogger(logger, { processor: spec.id }),
        ...(opts.assignment ? { assignment: opts.assignment } : {}),
      })
      try {
        await handle.ready
      } catch (err) {
        await handle.stop()
        throw placed(err, file, `processor ${spec.id} cannot start: `)
      }
      running.push({ id: spec.id, file, handle })
      logger.info('processor running', { processor: spec.id, file, inputs: spec.inputs, outputs: spec.outputs })
    } catch (err) {
      const error = placed(err, file)
      failed.push({ file, error })
      logger.error('processor not run', { file, code: error.code, error: error.format() })
    }
  }
  return {
    running,
    failed,
    async stop() {
      await Promise.all(running.map((r) => r.handle.stop()))
    },
  }
}

/** Our packages' scope. */
const OUR_SCOPE = '@openfactory/'
let ourPackagesHooked = false

/**
 * Node resolves a bare specifier such as `@openfactory/sql` by walking up from the importing file to a node_modules
 * folder that holds it. Our packages are in the node_modules of the app (the repository, or /app in our image), so a
 * module in a factory folder elsewhere (/factory in a container, any folder beside the repository) found none and
 * could import our types only. This hook (Node's synchronous, in-thread `module.registerHooks`) resolves every
 * `@openfactory/...` specifier as if this file had imported it: the packages of the ofa that runs the module — the
 * very module instances the runtime uses (an OpenFactoryError the module throws is ours, its codec is the
 * runtime's), at the runtime's version rather than whatever a node_modules beside the module may hold. Other
 * specifiers resolve as Node resolves them. Installed once, when the first processor module is loaded.
 */
function ourPackagesFromAnywhere(): void {
  if (ourPackagesHooked) return
  ourPackagesHooked = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (!specifier.startsWith(OUR_SCOPE)) return nextResolve(specifier, context)
      // A copy: Node merges the context given to nextResolve into `context`, the importer's parentURL included.
      const asGiven = { ...context }
      try {
        return nextResolve(specifier, { ...context, parentURL: import.meta.url })
      } catch {
        // Not one of ours (a package ofa does not have): resolved as Node would, so its error names the importer.
        return nextResolve(specifier, asGiven)
      }
    },
  })
}

/** Imports a module and checks its default export (OFA_PROCESSOR_LOAD, OFA_PROCESSOR_INVALID, placed in the file). */
export async function loadProcessor(file: string): Promise<DefinedProcessor> {
  ourPackagesFromAnywhere()
  let mod: { default?: unknown }
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  } catch (err) {
    throw new OpenFactoryError('OFA_PROCESSOR_LOAD', `cannot load the module: ${loadMessage(err)}`, {
      cause: err,
      where: { file, ...lineOf(err, file) },
    })
  }
  if (mod.default === undefined) {
    throw new OpenFactoryError(
      'OFA_PROCESSOR_INVALID',
      'the module has no default export; export default a processor definition ({ id, process, ... })',
      { where: { file } },
    )
  }
  try {
    return defineProcessor(mod.default as ProcessorDefinition)
  } catch (err) {
    throw placed(err, file)
  }
}

/** Inputs must exist (a typo is an error); outputs are created when missing. */
async function prepareTopics(
  eventLog: EventLog,
  manifest: FactoryProcessorsOptions['manifest'],
  spec: DefinedProcessor,
  file: string,
) {
  const existing = new Set(await eventLog.listTopics())
  for (const topic of spec.inputs) {
    if (!existing.has(topic)) {
      throw new OpenFactoryError(
        'OFA_PROCESSOR_INVALID',
        `processor ${spec.id}: input topic ${topic} does not exist (inputs must exist when it starts; outputs are created)`,
        { where: { file } },
      )
    }
  }
  for (const topic of spec.outputs) {
    if (!existing.has(topic)) {
      await eventLog.createTopic({ name: topic, cleanupPolicy: 'delete', ...topicSettings(manifest, topic) })
    }
  }
}

/** The error as a coded one placed in `file` (a coded error keeps its code; anything else is OFA_PROCESSOR_INVALID). */
function placed(err: unknown, file: string, prefix = ''): OpenFactoryError {
  if (isOpenFactoryError(err) && err.where?.file === file && prefix === '') return err
  const code = isOpenFactoryError(err) ? err.code : 'OFA_PROCESSOR_INVALID'
  const message = `${prefix}${err instanceof Error ? err.message : String(err)}`
  return new OpenFactoryError(code, message, {
    cause: err,
    where: { file, ...(isOpenFactoryError(err) && err.where?.line !== undefined ? { line: err.where.line } : {}) },
    ...(isOpenFactoryError(err) ? { problems: err.problems } : {}),
  })
}

/** Why an import failed, with a hint for a package that is not found. */
function loadMessage(err: unknown): string {
  const e = err as { code?: string; message?: string }
  const message = e?.message ?? String(err)
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package/.test(message)) {
    return `${message} — a processor may import ofa's own packages (@openfactory/sql, @openfactory/model, ...) and Node's; any other package must be installed beside it (a node_modules folder in the factory folder)`
  }
  return message
}

/** The line of a syntax error in the module itself: Node's stack then starts with `<url>:<line>`. */
function lineOf(err: unknown, file: string): { line?: number } {
  const first = (err as { stack?: unknown })?.stack
  if (typeof first !== 'string') return {}
  const m = /^(\S+):(\d+)\n/.exec(first)
  if (!m || (m[1] !== pathToFileURL(file).href && m[1] !== file)) return {}
  return { line: Number(m[2]) }
}
