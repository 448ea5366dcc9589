/**
 * Runs our SHDR adapter from the command line, replaying an SHDR log (the demo factory starts it):
 *
 *   node packages/connectors/src/shdr/adapter-main.ts --file mill.shdr --port 7878 [--host 127.0.0.1]
 *        [--speed 1] [--loop] [--heartbeat 10000] [--keep-timestamps]
 *
 * Prints `SHDR adapter listening on <host>:<port>` once it listens. Without --loop it keeps serving the last
 * state after the file ends. Stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util'
import { createShdrAdapterServer } from './adapter-server.ts'

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: adapter-main.ts --file F --port P [--host H] [--speed N] [--loop] [--heartbeat MS] [--keep-timestamps]\n`,
  )
  process.exit(2)
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      options: {
        file: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        speed: { type: 'string' },
        loop: { type: 'boolean' },
        heartbeat: { type: 'string' },
        'keep-timestamps': { type: 'boolean' },
      },
    }).values
  } catch (err) {
    usage((err as Error).message)
  }
  const file = values.file
  if (typeof file !== 'string') usage('--file is required')
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be 0..65535')
  const speed = values.speed === undefined ? 1 : Number(values.speed)
  if (!(speed > 0)) usage('--speed must be a positive number')
  const heartbeatMs = values.heartbeat === undefined ? 10_000 : Number(values.heartbeat)
  if (!(heartbeatMs > 0)) usage('--heartbeat must be a positive number of milliseconds')

  const server = await createShdrAdapterServer({
    port,
    heartbeatMs,
    ...(typeof values.host === 'string' ? { host: values.host } : {}),
  })
  process.stdout.write(`SHDR adapter listening on ${server.host}:${server.port}\n`)
  const stop = new AbortController()
  const shutdown = (): void => {
    stop.abort()
    void server.close().then(() => process.exit(0))
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
  const stats = await server.play({
    file,
    speed,
    loop: values.loop === true,
    rewriteTimestamps: values['keep-timestamps'] !== true,
    signal: stop.signal,
  })
  if (!stop.signal.aborted) process.stdout.write(`replayed ${stats.lines} lines; serving the last state\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
