import { parseArgs } from 'node:util'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { startServiceRuntime } from '../runtime/service-runtime.ts'
import { usageError } from '../usage.ts'
import { RUNTIME_FLAGS, runtimeOptions, untilStopped } from './backbone-flags.ts'

/**
 * `ofa run <uuid> <factory-dir> [--backbone kafka --bootstrap HOST:PORT] [--port N] [--host H] [--uns FILE]`:
 * one device's connector, or the serving app, alone in this process against Kafka; replicas share the work.
 */
export async function runCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: RUNTIME_FLAGS, allowPositionals: true })
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
  io.stdout.write(
    runtime.kind === 'serve'
      ? `OpenFactory serving app ${uuid} on ${runtime.where}\n  API        ${runtime.url}/api/assets\nCtrl-C stops.\n`
      : `OpenFactory connector ${uuid} on ${runtime.where}; runs while it holds the lease of its replicas\nCtrl-C stops.\n`,
  )
  await untilStopped(AbortSignal.any([io.signal, failed.signal]))
  io.stdout.write('stopping...\n')
  await runtime.stop()
  io.stdout.write('stopped\n')
  return failed.signal.aborted ? EXIT.failed : EXIT.ok
}
