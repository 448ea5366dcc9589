import { parseArgs } from 'node:util'
import type { CliIo } from '../io.ts'
import { EXIT } from '../io.ts'
import { startLocalRuntime } from '../runtime/local-runtime.ts'
import { usageError } from '../usage.ts'

/**
 * `ofa up <factory-dir> [--port N] [--host H] [--data DIR] [--uns FILE]`: the whole factory in one process on the
 * embedded log. Prints the URL, runs until Ctrl-C (SIGINT/SIGTERM), then stops cleanly; run it again to resume.
 */
export async function upCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, uns: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length === 0) throw usageError('ofa up needs a factory folder')
  let port: number | undefined
  if (values.port !== undefined) {
    port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw usageError(`--port must be 0..65535, got "${values.port}"`)
  }
  const runtime = await startLocalRuntime({
    paths: positionals,
    ...(values.data ? { dataDir: values.data } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values.uns ? { uns: values.uns } : {}),
    env: io.env,
    cwd: io.cwd,
  })
  const f = runtime.factory
  io.stdout.write(
    `OpenFactory ${f.manifest.name}: ${f.devices.length - runtime.skipped.length} device(s) running, data in ${runtime.dataDir}\n` +
      `  API        ${runtime.url}/api/assets\n` +
      `  live       ${runtime.url.replace(/^http/, 'ws')}/api/ws   ${runtime.url}/api/events\n` +
      `  API docs   ${runtime.url}/api/docs\n` +
      'Ctrl-C stops.\n',
  )
  for (const s of runtime.skipped) io.stderr.write(`not run: ${s.uuid}: ${s.reason}\n`)
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve()
    io.signal.addEventListener('abort', () => resolve(), { once: true })
  })
  io.stdout.write('stopping...\n')
  await runtime.stop()
  io.stdout.write('stopped\n')
  return EXIT.ok
}
