/**
 * A factory's workers alone in their process — what `ofa run --workers` runs — against a shared log (Kafka): the SQL
 * engine with the statements of factory.yaml `sql:`, and the TypeScript processors of `processors:`. Everything else
 * (connectors, the serving app) runs in other processes (`ofa run <uuid>`).
 *
 * Replicas share a lease (group `ofa-workers-<factory name>`, lease.ts), as the replicas of a connector do: only the
 * holder runs the engine and the processors, with every partition of every query and processor in its process
 * (static assignment: the group assignment of the processor runtime is not used here, its stop path can hang). When
 * the holder stops or dies, another replica takes the lease and starts them; the engine comes back from its command
 * topic and each query and processor resumes from its own checkpoint (processor/task.ts in @openfactory/sql), so
 * what the last holder wrote is not written again.
 *
 * Nothing fences two holders with static assignment, so this module keeps them apart in time: a replica that stops
 * stops its work first and leaves the group after, and a lease change is applied only after the previous one
 * finished. What is left: a holder cut off from Kafka runs on until it learns that it left the group; for that
 * moment two replicas may both write (their outputs can then repeat, never go missing).
 *
 * The engine's ksqlDB-compatible API (`/ksql`, pull and push queries) is not served here: the process has no HTTP
 * listener, and the holder changes.
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { EventLog } from '@openfactory/log'
import { childLogger, type Factory, isOpenFactoryError, OpenFactoryError, TOPICS } from '@openfactory/model'
import { formatStatement, parseStatements, type SqlEngine } from '@openfactory/sql'
import { openBackbone } from './backbone.ts'
import { joinLease, type Lease } from './lease.ts'
import { prepare, type RuntimeOptions } from './prepare.ts'
import { type FactoryProcessors, startFactoryProcessors } from './processors.ts'
import { requireKafka } from './service-runtime.ts'
import { startFactorySql } from './sql.ts'

export interface WorkersRuntimeOptions extends RuntimeOptions {
  /**
   * Called when this process cannot go on — the lease's group membership failed for good, or the holder could not
   * start the workers (a SQL statement refused, the log unreachable): it should stop, and be restarted.
   */
  readonly onFailure?: (err: Error) => void
}

export interface WorkersRuntime {
  readonly factory: Factory
  readonly where: string
  readonly log: EventLog
  /** The lease's consumer group: `ofa-workers-<factory name>`. */
  readonly group: string
  /** Whether this replica holds the lease (runs the workers, or is starting them). */
  readonly active: boolean
  /** While this replica runs them: the SQL engine and the processors; null otherwise. */
  readonly running: { readonly sql: SqlEngine; readonly processors: FactoryProcessors } | null
  stop(): Promise<void>
}

/** The lease group of a factory's workers. */
export function workersGroup(factory: Factory): string {
  return `ofa-workers-${factory.manifest.name}`
}

/** What the workers run, as plain values (see `workersDefinition`). */
export interface WorkersDefinition {
  /** Each SQL file, in order: its path relative to the factory folder and its statements as the formatter prints them. */
  readonly sql: readonly { readonly file: string; readonly statements: readonly string[] }[]
  /** The processor modules, in order (absolute paths). */
  readonly processors: readonly string[]
}

/**
 * What a factory's workers run, for a deployment to compare (the digest of the stack's workers service): the SQL
 * statements, so that a comment or a blank line is no change, and the processor modules (a digest reads a path
 * inside the factory folder with its content: deploy/state.ts `fieldValue`). A file that does not parse throws its
 * OFA_SQL_PARSE, placed in the file.
 */
export function workersDefinition(factory: Factory): WorkersDefinition {
  const { dir, manifest } = factory
  return {
    sql: manifest.sql.map((file) => ({
      file: relative(dir, file),
      statements: parseStatements(readFileSync(file, 'utf8'), { file }).map((s) => formatStatement(s)),
    })),
    processors: manifest.processors,
  }
}

export async function startWorkersRuntime(opts: WorkersRuntimeOptions): Promise<WorkersRuntime> {
  const { factory, backbone, logger } = await prepare(opts)
  const { manifest } = factory
  if (manifest.sql.length === 0 && manifest.processors.length === 0) {
    throw new OpenFactoryError(
      'OFA_CLI_NOTHING_TO_RUN',
      `factory ${manifest.name} has no workers to run: its factory.yaml names neither sql: files nor processors:`,
      { where: { file: manifest.file ?? factory.dir } },
    )
  }
  requireKafka(backbone)
  const { log, where } = await openBackbone(manifest, backbone)
  const group = workersGroup(factory)

  /** What runs while the lease is held. */
  interface Active {
    readonly sql: SqlEngine
    readonly processors: FactoryProcessors
  }
  let current: Active | null = null
  const activate = async (): Promise<Active> => {
    const sql = await startFactorySql(log, manifest.sql, childLogger(logger, { component: 'sql' }), 'static')
    let processors: FactoryProcessors
    try {
      processors = await startFactoryProcessors({
        eventLog: log,
        manifest,
        logger: childLogger(logger, { component: 'processors' }),
        assignment: 'static',
      })
    } catch (err) {
      await sql.close()
      throw err
    }
    logger.info('lease taken: workers running', {
      group,
      queries: sql.catalog.queries().length,
      processors: processors.running.map((p) => p.id),
      notRun: processors.failed.map((f) => f.error.format()),
    })
    return { sql, processors }
  }
  const deactivate = async (a: Active | null): Promise<void> => {
    if (!a) return
    await a.processors.stop()
    await a.sql.close()
    logger.info('lease lost: workers stopped', { group })
  }

  // Lease changes are applied one after the other, each after the previous one finished; none once stopping.
  let changes: Promise<void> = Promise.resolve()
  let stopping: Promise<void> | null = null
  const apply = (held: boolean): void => {
    changes = changes.then(async () => {
      if (stopping) return
      try {
        if (held && !current) current = await activate()
        else if (!held && current) {
          const a = current
          current = null
          await deactivate(a)
        }
      } catch (err) {
        logger.error(held ? 'workers could not start' : 'workers did not stop cleanly', {
          group,
          error: isOpenFactoryError(err) ? err.format() : err instanceof Error ? err.message : String(err),
        })
        // Holding the lease without running anything would stall the factory's processing: give the lease up by
        // stopping the process (a supervisor restarts it; another replica tries meanwhile).
        if (held) opts.onFailure?.(err as Error)
      }
    })
  }
  const lease: Lease = joinLease({
    log,
    group,
    topic: TOPICS.registry,
    onChange: apply,
    onError: (err) => {
      logger.error('workers: lease lost for good', { group, error: err.message })
      opts.onFailure?.(err)
    },
  })
  return {
    factory,
    where,
    log,
    group,
    get active() {
      return lease.held
    },
    get running() {
      return current
    },
    stop() {
      stopping ??= (async () => {
        // The work stops while the lease is still held, so that the next holder starts only after this one wrote
        // its last batch (static assignment: nothing else keeps two holders from writing the same outputs).
        await changes
        const a = current
        current = null
        await deactivate(a)
        await lease.close()
        await log.close()
      })()
      return stopping
    },
  }
}
