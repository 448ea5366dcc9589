// ofa apply --swarm on a real single-node swarm (scripts/docker's dockerd) and the test Kafka: the factory deployed
// as a stack, every service ready, the serving app answering for the device; one device changed, then only its
// service updated; each deployment recorded (ofa history), ofa plan showing the one change before it.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { docker, dockerHost, dockerOk } from './docker-engine.ts'
import { eventually, freePort, getJson, ofa, tempDir } from './helpers.ts'

const RUN = randomBytes(4).toString('hex')
const TAG = `ofa-test/ofa:swarm-${RUN}`

test('ofa apply --swarm deploys the factory, health-gated; a changed device updates its service alone', {
  timeout: 420_000,
}, async (t) => {
  const host = await dockerHost()
  const { bootstrap } = await kafka()
  const built = await ofa(['image', 'build', '--tag', TAG, '--docker-host', host])
  assert.equal(built.code, 0, built.stderr)
  t.after(async () => {
    await docker(['image', 'rm', TAG])
  })
  const stack = `ofa-swarm-${RUN}`
  const device = `SWARM-SIM-${RUN}`.toUpperCase()
  const serve = `SWARM-SERVE-${RUN}`.toUpperCase()
  const port = await freePort()
  const dir = join(await tempDir(t, 'ofa-swarm-'), 'factory')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'factory.yaml'), `name: swarm-${RUN}\n`)
  await writeFile(
    join(dir, 'devices.yml'),
    `devices:\n  sim:\n    uuid: ${device}\n    connector:\n      type: simulator\n      interval_ms: 500\n      items:\n        temp:\n          tag: Temperature\n          category: Samples\n          units: CELSIUS\n          signal: sine\n          offset: 20\n          amplitude: 2\n          period_s: 10\n`,
  )
  await writeFile(
    join(dir, 'apps.yml'),
    `apps:\n  serve:\n    uuid: ${serve}\n    image: openfactory/serve\n    routing:\n      port: ${port}\n`,
  )
  t.after(async () => {
    await docker(['stack', 'rm', stack])
    await eventually(
      async () =>
        (await dockerOk(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim() === ''
          ? true
          : undefined,
      'the stack gone',
      90_000,
    )
  })
  const apply = () =>
    ofa([
      'apply',
      dir,
      '--swarm',
      '--bootstrap',
      bootstrap,
      '--stack',
      stack,
      '--image',
      TAG,
      '--docker-host',
      host,
      '--timeout',
      '150',
    ])
  const first = await apply()
  assert.equal(first.code, 0, `${first.stderr}\n${first.stdout}`)
  assert.match(first.stdout, /^deployment 1: \+\d+ ~0 -0, 2 service\(s\) ready\n$/)
  assert.match(first.stderr, new RegExp(`${stack}_device-swarm-sim-${RUN} 1/1`))
  const asset = await eventually(
    async () => {
      const a = await getJson(`http://127.0.0.1:${port}/api/assets/${device}`).catch(() => undefined)
      return a?.availability === 'AVAILABLE' ? a : undefined
    },
    'the device available through the deployed serving app',
    60_000,
  )
  assert.equal(asset.uuid, device)

  // What runs: the ids of a service's running tasks (an update replaces them; stack deploy re-sends every spec,
  // and a service whose spec did not change keeps its tasks).
  const tasks = async (service: string) =>
    (await dockerOk(['service', 'ps', `${stack}_${service}`, '--filter', 'desired-state=running', '-q']))
      .trim()
      .split('\n')
      .sort()
      .join(',')
  const serveBefore = await tasks(`app-swarm-serve-${RUN}`)
  const deviceBefore = await tasks(`device-swarm-sim-${RUN}`)
  assert.ok(serveBefore && deviceBefore, 'a running task each')

  const file = join(dir, 'devices.yml')
  await writeFile(file, (await readFile(file, 'utf8')).replace('interval_ms: 500', 'interval_ms: 250'))
  const plan = await ofa(['plan', dir, '--bootstrap', bootstrap])
  assert.equal(plan.code, 0, plan.stderr)
  assert.match(plan.stdout, new RegExp(`~ connector ${device} .*\\n {4}interval_ms: 500 → 250\\n`))
  assert.match(plan.stdout, /Plan: 0 to create, 1 to update, 0 to delete\./)
  const second = await apply()
  assert.equal(second.code, 0, `${second.stderr}\n${second.stdout}`)
  assert.match(second.stdout, /^deployment 2: \+0 ~1 -0, 2 service\(s\) ready\n$/)
  assert.equal(await tasks(`app-swarm-serve-${RUN}`), serveBefore, 'the serving app untouched')
  assert.notEqual(await tasks(`device-swarm-sim-${RUN}`), deviceBefore, 'the device service updated')

  const history = JSON.parse((await ofa(['history', dir, '--bootstrap', bootstrap, '--json'])).stdout)
  assert.deepEqual(
    history.deployments.map((d: { seq: number; outcome: string; by: string }) => [d.seq, d.outcome, d.by]),
    [
      [1, 'applied', 'ofa apply --swarm'],
      [2, 'applied', 'ofa apply --swarm'],
    ],
  )
})
