/**
 * The adapters a runtime starts itself: devices declared with our SHDR replay image (`openfactory/shdr-replay`)
 * get a replay adapter on their port, playing their SHDR file until `signal` aborts.
 */
import {
  type BuiltinAdapter,
  createShdrAdapterServer,
  playShdrFile,
  type ShdrAdapterServer,
} from '@openfactory/connectors'
import type { DebugLogger } from '@openfactory/model'
import { listenError } from './listening.ts'

export async function startAdapter(
  a: BuiltinAdapter,
  signal: AbortSignal,
  logger: DebugLogger,
): Promise<ShdrAdapterServer> {
  let server: ShdrAdapterServer
  try {
    server = await createShdrAdapterServer({ host: '127.0.0.1', port: a.port })
  } catch (err) {
    throw await listenError(err, `the SHDR replay adapter of device ${a.deviceUuid}`, '127.0.0.1', a.port)
  }
  playShdrFile(server, { file: a.file, speed: a.speed, loop: a.loop, signal }).catch((err: Error) => {
    if (!signal.aborted) logger.error('SHDR replay adapter stopped', { device: a.deviceUuid, error: err.message })
  })
  logger.info('SHDR replay adapter listening', { device: a.deviceUuid, port: server.port, file: a.file })
  return server
}
