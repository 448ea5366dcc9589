// Apps with a `command:` under `ofa up`: a local process in its own group, an asset with availability, restarted
// when it exits, stopped with ofa; and a Python app (confluent-kafka, from PyPI) deriving observations on the
// Kafka backbone from the environment ofa gives it (docs/reference/apps.md).
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ensurePythonEnv } from '../../../scripts/python-env.ts'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { kafkaSecurityEnvironment } from '../src/runtime/app-process.ts'
import { eventually, getJson, groupAlive, startOfa, tempDir } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const FAHRENHEIT = fileURLToPath(new URL('./fixtures/apps/fahrenheit.py', import.meta.url))

interface Asset {
  uuid: string
  availability: string
  state: { id: string; value: unknown }[]
}

const SENSOR = `devices:
  sensor:
    uuid: SENSOR-1
    connector:
      type: simulator
      interval_ms: 100
      items:
        temp:
          tag: Temperature
          category: Samples
          units: CELSIUS
          signal: ramp
          from: 20
          to: 30
          period_s: 5
`

test('an app with a command runs under ofa up: its asset is AVAILABLE, it is restarted when it exits, stopped with ofa', async (t) => {
  const dir = await tempDir(t, 'ofa-apps-')
  await writeFile(join(dir, 'factory.yaml'), 'name: apps\nbackbone:\n  type: embedded\n')
  await writeFile(
    join(dir, 'app.sh'),
    // Writes its pid and environment where the test reads them, then waits.
    'echo $$ > pid.txt\nenv | sort > env.txt\necho "worker up"\nexec sleep 600\n',
  )
  await writeFile(
    join(dir, 'apps.yml'),
    'apps:\n  worker:\n    uuid: WORKER-1\n    command: [/bin/sh, app.sh]\n    environment:\n      - MODE=test\n  boxed:\n    uuid: BOXED-1\n    image: acme/boxed:1\n',
  )
  const up = startOfa(t, ['up', dir, '--port', '0', '--data', join(dir, 'data')], {})
  const api = `${await up.url}/api`
  const asset = (uuid: string): Promise<Asset> => getJson(`${api}/assets/${uuid}`)
  await eventually(async () => (await asset('WORKER-1')).availability === 'AVAILABLE', 'the app AVAILABLE')
  const env = Object.fromEntries(
    (await readFile(join(dir, 'env.txt'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
  const base = (await up.url).replace(/\/$/, '')
  assert.equal(env.APP_UUID, 'WORKER-1')
  assert.equal(env.OFA_APP_UUID, 'WORKER-1')
  assert.equal(env.OFA_API_URL, base)
  assert.equal(env.KSQLDB_URL, base)
  assert.equal(env.OFA_BACKBONE, 'embedded')
  assert.equal(env.OFA_ASSETS_TOPIC, 'ofa_assets')
  assert.equal(env.KAFKA_BROKER, undefined, 'no Kafka on the embedded backbone')
  assert.equal(env.MODE, 'test', "the app's own environment")
  assert.match(up.output(), /not run.*BOXED-1|BOXED-1.*runs only where containers run/s)

  // The process exits: UNAVAILABLE with the reason, then started again.
  const first = Number(await readFile(join(dir, 'pid.txt'), 'utf8'))
  process.kill(first, 'SIGKILL')
  const history = async () =>
    (await getJson(`${api}/assets/WORKER-1/history?id=avail&limit=100`)).items as {
      value: unknown
      attributes?: Record<string, unknown>
    }[]
  await eventually(
    async () => (await history()).some((h) => h.value === 'UNAVAILABLE'),
    'the app UNAVAILABLE after its process died',
  )
  const second = await eventually(async () => {
    const pid = Number(await readFile(join(dir, 'pid.txt'), 'utf8'))
    return pid !== first && (await asset('WORKER-1')).availability === 'AVAILABLE' ? pid : undefined
  }, 'the app started again')
  assert.ok(groupAlive(second))

  // ofa stops: the app's process group goes with it.
  up.child.kill('SIGTERM')
  assert.equal(await up.exited, 0)
  await eventually(() => !groupAlive(second), 'the app stopped with ofa', 10_000)
})

test('a Python app (confluent-kafka) derives observations on the Kafka backbone from the environment ofa gives it', async (t) => {
  const { bootstrap } = await kafka()
  const python = await ensurePythonEnv({
    name: 'pyapps',
    requirements: join(ROOT, 'scripts/peers/apps-requirements.txt'),
    check: 'import confluent_kafka',
  })
  const dir = await tempDir(t, 'ofa-pyapp-')
  const suffix = Date.now().toString(36)
  await writeFile(
    join(dir, 'factory.yaml'),
    `name: pyapp\nbackbone:\n  type: kafka\n  bootstrapServers: [${bootstrap}]\n`,
  )
  await writeFile(join(dir, 'sensor.yml'), SENSOR.replace('SENSOR-1', `SENSOR-${suffix}`))
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:\n  fahrenheit:\n    uuid: FAHRENHEIT-${suffix}\n    command: [${python}, ${FAHRENHEIT}]\n`,
  )
  const up = startOfa(t, ['up', dir, '--port', '0'], {})
  const api = `${await up.url}/api`
  const derived = await eventually(
    async () => {
      const a = (await getJson(`${api}/assets/FAHRENHEIT-${suffix}`)) as Asset
      const f = a.state.find((s) => s.id === 'temp_f')
      return a.availability === 'AVAILABLE' && typeof f?.value === 'number' ? f : undefined
    },
    'temp_f written by the Python app',
    60_000,
  )
  assert.ok((derived.value as number) >= 68 && (derived.value as number) <= 86, `${derived.value} °F from 20–30 °C`)
  const sensor = (await getJson(`${api}/assets/SENSOR-${suffix}`)) as Asset
  assert.ok(sensor.state.some((s) => s.id === 'temp'))
  up.child.kill('SIGTERM')
  assert.equal(await up.exited, 0)
})

test('an app on a secured Kafka gets the connection as OFA_KAFKA_* variables: paths as paths, PEM text as _PEM', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
  assert.deepEqual(
    kafkaSecurityEnvironment({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'line', passwordFile: '/run/secrets/kafka' },
      tls: { ca: '/etc/kafka/ca.pem', cert: pem, key: pem, rejectUnauthorized: true },
    }),
    {
      OFA_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      OFA_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      OFA_KAFKA_USERNAME: 'line',
      OFA_KAFKA_PASSWORD_FILE: '/run/secrets/kafka',
      OFA_KAFKA_CA: '/etc/kafka/ca.pem',
      OFA_KAFKA_CERT_PEM: pem,
      OFA_KAFKA_KEY_PEM: pem,
    },
  )
  assert.deepEqual(
    kafkaSecurityEnvironment({
      protocol: 'SASL_PLAINTEXT',
      sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' },
    }),
    {
      OFA_KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      OFA_KAFKA_SASL_MECHANISM: 'PLAIN',
      OFA_KAFKA_USERNAME: 'u',
      OFA_KAFKA_PASSWORD: 'p',
    },
  )
  assert.deepEqual(kafkaSecurityEnvironment({ protocol: 'PLAINTEXT' }), { OFA_KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT' })
})
