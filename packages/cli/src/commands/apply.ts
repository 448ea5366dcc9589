/**
 * `ofa apply FACTORY-DIR --swarm --bootstrap HOST:PORT [--stack NAME] [--image IMAGE] [--docker-host HOST]
 * [--timeout SECONDS]`: deploys the factory to a Docker Swarm as one stack, waits until every service is ready,
 * and records the deployment on the factory's Kafka log (deploy/swarm.ts). The local runtime applies with `ofa up`.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { openKafkaLog } from '@openfactory/log-kafka'
import { loadFactory } from '@openfactory/model'
import { applyToSwarm } from '../deploy/swarm.ts'
import { createDockerClient } from '../image/docker-client.ts'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { bootstrapFlag } from '../runtime/backbone.ts'
import { usageError } from '../usage.ts'
import { defaultImage } from './stack.ts'

export async function applyCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      swarm: { type: 'boolean' },
      bootstrap: { type: 'string' },
      stack: { type: 'string' },
      image: { type: 'string' },
      'docker-host': { type: 'string' },
      timeout: { type: 'string' },
      uns: { type: 'string' },
    },
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw usageError('ofa apply needs one factory folder')
  if (!values.swarm)
    throw usageError('ofa apply deploys to a Docker Swarm (--swarm); the local runtime applies with ofa up')
  if (values.bootstrap === undefined)
    throw usageError('ofa apply --swarm needs --bootstrap HOST:PORT (the Kafka of the stack)')
  const bootstrapServers = bootstrapFlag(values.bootstrap)
  const timeout = values.timeout === undefined ? 180 : Number(values.timeout)
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw usageError(`--timeout must be a number of seconds, got "${values.timeout}"`)
  const dir = resolve(io.cwd, positionals[0] as string)
  const factory = await loadFactory([dir], {
    ...(values.uns ? { uns: resolve(io.cwd, values.uns) } : {}),
    env: io.env,
    cwd: io.cwd,
  })
  const docker = createDockerClient({
    ...(values['docker-host'] ? { host: values['docker-host'] } : {}),
    env: { ...process.env, ...io.env },
    signal: io.signal,
  })
  await docker.serverVersion()
  const log = await openKafkaLog({ bootstrapServers, clientId: 'ofa-apply' })
  try {
    const result = await applyToSwarm({
      factory,
      log,
      bootstrapServers,
      stack: values.stack ?? factory.manifest.name,
      image: values.image ?? defaultImage(),
      docker,
      timeoutMs: timeout * 1000,
      progress: (line) => io.stderr.write(`${line}\n`),
    })
    const d = result.deployment
    await writeOut(
      io.stdout,
      d
        ? `deployment ${d.seq}: +${d.summary.create} ~${d.summary.update} -${d.summary.delete}, ${result.services.length} service(s) ready\n`
        : `no change to the files since the last deployment; ${result.services.length} service(s) ready\n`,
    )
    return EXIT.ok
  } finally {
    await log.close()
  }
}
