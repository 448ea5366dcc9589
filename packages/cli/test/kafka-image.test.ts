// `ofa image build --kafka` on a real Docker engine (scripts/docker's dockerd, a single-node swarm; see
// docker-engine.ts), and the stack service of deploy/kafka-service.ts: the broker image builds with no base image and
// no registry (and an unchanged rebuild only tags it), runs as a one-service stack until its healthcheck passes,
// serves our own Kafka client (topics, appends in every compression, reads), and keeps its records in its volume
// when its container is killed and the swarm starts another. The stack, its volume and the image are removed after;
// the engine, its swarm and the test Kafka (9092) stay.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { openKafkaLog } from '@openfactory/log-kafka'
import { isOpenFactoryError } from '@openfactory/model'
import { kafkaService } from '../src/deploy/kafka-service.ts'
import { docker, dockerHost, dockerOk } from './docker-engine.ts'
import { eventually, freePort, ofa, tempDir } from './helpers.ts'

const RUN = randomBytes(4).toString('hex')
/** Our own names, so that the images a developer built (openfactory/kafka:*) are left alone. */
const TAG = `ofa-test/kafka:${RUN}`
const STACK = `ofa-kafka-${RUN}`

test('the Kafka image runs as a stack service: healthy, serves our client, keeps its data across a restart', {
  timeout: 420_000,
}, async (t) => {
  const host = await dockerHost()
  const containers = async () =>
    (
      await dockerOk([
        'ps',
        '-a',
        '--filter',
        `label=com.docker.stack.namespace=${STACK}`,
        '--format',
        '{{.ID}} {{.State}} {{.Status}}',
      ])
    )
      .split('\n')
      .filter(Boolean)
  // One cleanup, in order: the stack, then (its containers gone) its volume, then the image.
  t.after(async () => {
    await docker(['stack', 'rm', STACK])
    await eventually(async () => ((await containers()).length === 0 ? true : undefined), 'the stack gone', 90_000)
    await docker(['volume', 'rm', `${STACK}_kafka-data`])
    await docker(['image', 'rm', TAG])
  })

  const started = Date.now()
  const built = await ofa(['image', 'build', '--kafka', '--tag', TAG, '--docker-host', host])
  assert.equal(built.code, 0, built.stderr)
  const id = /^(sha256:[0-9a-f]{64}) /.exec(built.stdout)?.[1]
  assert.equal(built.stdout, `${id} ${TAG}\n`)
  assert.match(
    built.stderr,
    /^root filesystem: Kafka 4\.\d+\.\d+ \(\d+ jars\), a Java \d+[\d.]* runtime made by jlink/m,
  )
  // A developer's own build of the same tree may be there already: then this one only tags it too.
  assert.match(built.stderr, /^(imported sha256:|unchanged: image sha256:)/m)
  const config = JSON.parse(await dockerOk(['image', 'inspect', '--format', '{{json .Config}}', TAG])) as {
    Entrypoint: string[]
    Labels: Record<string, string>
  }
  assert.equal(config.Entrypoint[0], '/opt/java/bin/java')
  assert.equal(config.Entrypoint.at(-1), 'KafkaEntrypoint')
  assert.match(config.Labels['org.openfactory.content-hash'] ?? '', /^sha256:[0-9a-f]{64}$/)
  assert.match(config.Labels['org.opencontainers.image.version'] ?? '', /^4\.\d+\.\d+$/)
  const size = Number(await dockerOk(['image', 'inspect', '--format', '{{.Size}}', TAG]))
  t.diagnostic(`image ${(size / 1e6).toFixed(1)} MB, built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.ok(size < 150e6, `the image is ${size} bytes`)

  const again = await ofa(['image', 'build', '--kafka', '--tag', TAG, '--docker-host', host])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(again.stdout, `${id} ${TAG}\n`)
  assert.match(again.stderr, /^unchanged: image sha256:/m)

  // Ports free now on the host network (9092 is the test Kafka's).
  const port = await freePort()
  let controllerPort = await freePort()
  while (controllerPort === port) controllerPort = await freePort()
  const kafka = kafkaService({ image: TAG, port, controllerPort })
  assert.equal(kafka.bootstrap, `127.0.0.1:${port}`)
  const compose = {
    version: '3.8',
    services: { [kafka.name]: kafka.service },
    networks: { hostnet: { external: true, name: 'host' } },
    volumes: kafka.volumes,
  }
  // Compose is a superset of JSON's YAML: the file is written as JSON, in a folder of its own.
  const file = join(await tempDir(t, 'ofa-kafka-stack-'), 'stack.json')
  await writeFile(file, JSON.stringify(compose, null, 2))
  await dockerOk(['stack', 'deploy', '--resolve-image', 'never', '--compose-file', file, STACK])

  /** The id of the running container once it is healthy and the swarm counts the service as running. */
  const healthy = (what: string, not?: string) =>
    eventually(
      async () => {
        const running = (await containers()).find((c) => c.includes('(healthy)') && !c.startsWith(`${not} `))
        const replicas = await dockerOk([
          'service',
          'ls',
          '--filter',
          `name=${STACK}_kafka`,
          '--format',
          '{{.Replicas}}',
        ])
        return running && replicas.trim() === '1/1' ? running.split(' ')[0] : undefined
      },
      what,
      120_000,
    ).catch(async (err: Error) => {
      const logs = await docker(['service', 'logs', '--tail', '30', `${STACK}_kafka`])
      const tasks = await docker(['service', 'ps', '--no-trunc', `${STACK}_kafka`])
      throw new Error(`${err.message}\n${tasks.stdout}\n${logs.stdout}${logs.stderr}`)
    })
  const first = await healthy('the broker healthy')

  const topic = `ofa-kafka-image-${RUN}`
  const compressions = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
  {
    const log = await openKafkaLog({ bootstrapServers: kafka.bootstrap, clientId: 'ofa-kafka-image-test' })
    try {
      await log.createTopic({ name: topic, partitions: 2 })
    } finally {
      await log.close()
    }
  }
  // The broker checks each batch, so each codec's library (zstd, snappy and lz4 are native) loads in the image.
  for (const compression of compressions) {
    const log = await openKafkaLog({ bootstrapServers: kafka.bootstrap, clientId: 'ofa-kafka-image-test', compression })
    try {
      const records = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `${compression} ${i} `.repeat(10) }))
      const metas = await log.append(topic, records)
      assert.equal(metas.length, 50)
    } finally {
      await log.close()
    }
  }
  const readAll = async () => {
    const log = await openKafkaLog({ bootstrapServers: kafka.bootstrap, clientId: 'ofa-kafka-image-test' })
    try {
      const values: string[] = []
      for (const partition of [0, 1]) {
        for (let offset = 0; ; ) {
          const batch = await log.read(topic, partition, offset)
          if (batch.length === 0) break
          for (const r of batch) values.push(r.value?.toString() ?? '')
          offset = batch.at(-1)!.offset + 1
        }
      }
      return values.sort()
    } finally {
      await log.close()
    }
  }
  const before = await readAll()
  assert.equal(before.length, 50 * compressions.length)
  assert.ok(before.includes(`zstd 7 `.repeat(10)))

  // A crash: the swarm starts another container on the same volume; the records are there, no new format.
  await dockerOk(['kill', first])
  const second = await healthy('the broker healthy again in a new container', first)
  assert.notEqual(second, first)
  assert.deepEqual(await readAll(), before)
  const logs = await dockerOk(['logs', second])
  assert.doesNotMatch(logs, /formatting/)
})

test('the Kafka service refuses ports and addresses it cannot run with', () => {
  const refused = (f: () => unknown, message: RegExp) =>
    assert.throws(f, (err: unknown) => isOpenFactoryError(err, 'OFA_DEPLOY_KAFKA') && message.test(err.message))
  refused(() => kafkaService({ port: 70_000 }), /port 70000 is not a port/)
  refused(() => kafkaService({ port: 19092, controllerPort: 19092 }), /both on 19092/)
  refused(() => kafkaService({ host: '0.0.0.0' }), /not an address clients can reach/)
  const k = kafkaService({ port: 19092, host: 'edge-1', constraints: ['node.hostname == edge-1'] })
  assert.equal(k.bootstrap, 'edge-1:19092')
  assert.deepEqual(k.service.environment, { KAFKA_HOST: 'edge-1', KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093' })
  assert.deepEqual(k.service.deploy.placement, { constraints: ['node.hostname == edge-1'] })
  assert.deepEqual(k.service.volumes, [{ type: 'volume', source: 'kafka-data', target: '/var/lib/kafka' }])
  assert.deepEqual(Object.keys(k.volumes), ['kafka-data'])
})
