import { parseArgs } from 'node:util'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { startLocalRuntime } from '../runtime/local-runtime.ts'
import { usageError } from '../usage.ts'
import { RUNTIME_FLAGS, runtimeOptions, untilStopped } from './backbone-flags.ts'
import { dashboardLine, listenerLines } from './listener-lines.ts'

/**
 * `ofa up <factory-dir> [--port N] [--host H] [--data DIR | --backbone kafka --bootstrap HOST:PORT] [--uns FILE]
 * [--tls-cert FILE --tls-key FILE | --tls self-signed] [--insecure]`: the whole factory in one process, on the
 * embedded log (default) or on Kafka. Prints the URL (and the TLS certificate's fingerprint), runs until Ctrl-C
 * (SIGINT/SIGTERM), then stops cleanly; run it again to resume.
 */
export async function upCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: RUNTIME_FLAGS, allowPositionals: true })
  if (positionals.length === 0) throw usageError('ofa up needs a factory folder')
  const runtime = await startLocalRuntime({ paths: positionals, ...runtimeOptions(values), env: io.env, cwd: io.cwd })
  const f = runtime.factory
  io.stdout.write(
    `OpenFactory ${f.manifest.name}: ${f.devices.length - runtime.skipped.length} device(s) running, data in ${runtime.where}\n` +
      dashboardLine(runtime.url) +
      `  API        ${runtime.url}/api/assets\n` +
      `  live       ${runtime.url.replace(/^http/, 'ws')}/api/ws   ${runtime.url}/api/events\n` +
      `  API docs   ${runtime.url}/api/docs\n`,
  )
  const listener = listenerLines(runtime)
  io.stdout.write(`${listener.stdout}Ctrl-C stops.\n`)
  io.stderr.write(listener.stderr)
  const forward = f.manifest.backbone.type === 'embedded' ? f.manifest.backbone.forward : undefined
  if (runtime.forwarding && forward) {
    io.stdout.write(`  forwarding to Kafka ${forward.bootstrapServers.join(',')} as edge ${forward.edgeId}\n`)
  }
  const processors = runtime.processors.running.map((p) => p.id)
  if (processors.length > 0) io.stdout.write(`  processors ${processors.join(', ')}\n`)
  for (const s of runtime.skipped) io.stderr.write(`not run: ${s.uuid}: ${s.reason}\n`)
  for (const p of runtime.processors.failed) io.stderr.write(`not run: ${p.error.format()}\n`)
  await untilStopped(io.signal)
  io.stdout.write('stopping...\n')
  await runtime.stop()
  io.stdout.write('stopped\n')
  return EXIT.ok
}
