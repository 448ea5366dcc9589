import { parseArgs } from 'node:util'
import { isOpenFactoryError } from '@openfactory/model'
import { secretsEnv } from '../deploy/secrets.ts'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { startServiceRuntime } from '../runtime/service-runtime.ts'
import { startWorkersRuntime } from '../runtime/workers-runtime.ts'
import { usageError } from '../usage.ts'
import { RUNTIME_FLAGS, runtimeOptions, untilStopped } from './backbone-flags.ts'
import { dashboardLine, listenerLines } from './listener-lines.ts'

const RUN_FLAGS = { ...RUNTIME_FLAGS, workers: { type: 'boolean' } } as const

/**
 * `ofa run <uuid> <factory-dir> [--backbone kafka --bootstrap HOST:PORT] [--port N] [--host H] [--uns FILE]`:
 * one device's connector, or the serving app, alone in this process against Kafka; replicas share the work.
 *
 * `ofa run --workers <factory-dir> [--backbone kafka --bootstrap HOST:PORT] [--uns FILE]`: the factory's SQL
 * statements and TypeScript processors alone in this process; replicas share a lease, one runs them. A flag rather
 * than a word in the uuid's place: a uuid may be any name, `workers` included.
 *
 * Both take the `--kafka-*` security flags (runtime/kafka-security.ts); in a stack service the Kafka password arrives
 * as the secret of `OFA_KAFKA_PASSWORD`, read into the environment below with the others.
 */
export async function runCommand(args: readonly string[], given: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: RUN_FLAGS, allowPositionals: true })
  // In a stack service, the credentials the files refer to are Docker secrets (deploy/secrets.ts).
  const io = { ...given, env: await secretsEnv(given.env) }
  if (values.workers) return runWorkers(positionals, values, io)
  const [uuid, ...paths] = positionals
  if (!uuid || paths.length === 0) throw usageError('ofa run needs a uuid and a factory folder: ofa run UUID DIR')
  const failed = new AbortController()
  const runtime = await startServiceRuntime({
    uuid,
    paths,
    ...runtimeOptions(values),
    env: io.env,
    cwd: io.cwd,
    onFailure: () => failed.abort(),
  })
  const listener = listenerLines(runtime)
  io.stdout.write(
    runtime.kind === 'serve'
      ? `OpenFactory serving app ${uuid} on ${runtime.where}\n${dashboardLine(runtime.url ?? '')}  API        ${runtime.url}/api/assets\n${listener.stdout}Ctrl-C stops.\n`
      : `OpenFactory connector ${uuid} on ${runtime.where}; runs while it holds the lease of its replicas\nCtrl-C stops.\n`,
  )
  io.stderr.write(listener.stderr)
  await untilStopped(AbortSignal.any([io.signal, failed.signal]))
  io.stdout.write('stopping...\n')
  await runtime.stop()
  io.stdout.write('stopped\n')
  return failed.signal.aborted ? EXIT.failed : EXIT.ok
}

async function runWorkers(
  paths: readonly string[],
  values: Parameters<typeof runtimeOptions>[0],
  io: CliIo,
): Promise<number> {
  if (paths.length === 0) throw usageError('ofa run --workers needs a factory folder: ofa run --workers DIR')
  const listening = ['port', 'host', 'tls', 'tls-cert', 'tls-key', 'insecure'] as const
  if (listening.some((f) => values[f] !== undefined)) {
    throw usageError(
      'ofa run --workers listens on no port: --port, --host, --tls, --tls-cert, --tls-key and --insecure are for a serving app',
    )
  }
  const failed = new AbortController()
  let failure: Error | undefined
  const runtime = await startWorkersRuntime({
    paths,
    ...runtimeOptions(values),
    env: io.env,
    cwd: io.cwd,
    onFailure: (err) => {
      failure ??= err
      failed.abort()
    },
  })
  const { sql, processors } = runtime.factory.manifest
  io.stdout.write(
    `OpenFactory workers of ${runtime.factory.manifest.name} on ${runtime.where}: ${sql.length} SQL file(s), ` +
      `${processors.length} processor(s); run while this process holds the lease ${runtime.group}\nCtrl-C stops.\n`,
  )
  await untilStopped(AbortSignal.any([io.signal, failed.signal]))
  io.stdout.write('stopping...\n')
  await runtime.stop()
  io.stdout.write('stopped\n')
  if (failure && isOpenFactoryError(failure)) io.stderr.write(`${failure.format()}\n`)
  return failed.signal.aborted ? EXIT.failed : EXIT.ok
}
