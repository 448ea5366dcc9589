/**
 * `ofa stack FACTORY-DIR --bootstrap HOST:PORT [--image IMAGE] [--factory-path PATH]`: prints the factory as a Docker
 * Swarm stack file (deploy/stack.ts), for `docker stack deploy -c - <name>`: one service per device and per app
 * image, on the host network, rolled back when an update fails. JSON, which compose reads as YAML.
 *
 * On a secured Kafka (the `--kafka-*` flags and `OFA_KAFKA_*` variables over factory.yaml's), the services mount the
 * password and PEM files as Docker secrets of fixed names (`ofa-kafka-password`, `ofa-kafka-ca`...) that the
 * operator makes: no value is read or printed here, and no password is needed.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadFactory } from '@openfactory/model'
import { namedKafkaSecrets, namedServeTlsSecrets, withSecrets } from '../deploy/secrets.ts'
import { generateStack } from '../deploy/stack.ts'
import { defaultTags } from '../image/build-image.ts'
import { type CliIo, EXIT, writeOut } from '../io.ts'
import { bootstrapFlag } from '../runtime/backbone.ts'
import { KAFKA_SECURITY_FLAGS, kafkaSecurity } from '../runtime/kafka-security.ts'
import { usageError } from '../usage.ts'

/** Our image's default name: `openfactory/ofa:<version>`, the first tag `ofa image build` gives it. */
export function defaultImage(): string {
  return defaultTags()[0] as string
}

export async function stackCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      bootstrap: { type: 'string' },
      ...KAFKA_SECURITY_FLAGS,
      image: { type: 'string' },
      'factory-path': { type: 'string' },
      tls: { type: 'boolean' },
      insecure: { type: 'boolean' },
      uns: { type: 'string' },
    },
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw usageError('ofa stack needs one factory folder')
  if (values.bootstrap === undefined)
    throw usageError('ofa stack needs --bootstrap HOST:PORT (the Kafka the services use)')
  const bootstrapServers = bootstrapFlag(values.bootstrap)
  const dir = resolve(io.cwd, positionals[0] as string)
  const factory = await loadFactory([dir], {
    ...(values.uns ? { uns: resolve(io.cwd, values.uns) } : {}),
    env: io.env,
    cwd: io.cwd,
  })
  const b = factory.manifest.backbone
  const security = kafkaSecurity({
    flags: values,
    env: io.env,
    cwd: io.cwd,
    requirePassword: false,
    ...(b.type === 'kafka' ? { base: b.security } : {}),
  })
  const image = values.image ?? defaultImage()
  const secrets = [...namedKafkaSecrets(security), ...(values.tls ? namedServeTlsSecrets() : [])]
  const stack = withSecrets(
    generateStack(factory, {
      image,
      bootstrapServers,
      security,
      ...(values['factory-path'] ? { factoryPath: values['factory-path'] } : {}),
      serve: { tls: values.tls === true, insecure: values.insecure === true },
    }),
    secrets,
    image,
  )
  await writeOut(io.stdout, `${JSON.stringify(stack, null, 2)}\n`)
  if (secrets.length > 0) {
    io.stderr.write(`make these Docker secrets before deploying: ${secrets.map((s) => s.name).join(', ')}\n`)
  }
  return EXIT.ok
}
