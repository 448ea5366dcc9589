// ofa apply --swarm on a real single-node swarm (scripts/docker's dockerd) and the test Kafka: the factory deployed
// as a stack, every service ready, the serving app answering for the device; ofa status in sync; one device changed,
// ofa plan and ofa status showing it, then only its service updated; ofa rollback putting the old files back to
// work; a broken image rolled back by Docker and the deployment failed; an apply killed halfway completed by the next;
// a connector service of two replicas failing over when the container holding the device's session is killed.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, type TestContext, test } from 'node:test'
import { decodeObservation } from '@openfactory/model'
import { openKafkaLog } from '../../log-kafka/src/index.ts'
import { kafka } from '../../log-kafka/test/helpers.ts'
import { createTestPki } from '../../serve/test/helpers/tls.ts'
import { docker, dockerHost, dockerOk, removeStackAfter } from './docker-engine.ts'
import { canBind, demoCopy, eventually, freePort, getJson, getJsonTls, ofa, startOfa, tempDir } from './helpers.ts'

const RUN = randomBytes(4).toString('hex')
const TAG = `ofa-test/ofa:swarm-${RUN}`
const BROKEN = `ofa-test/ofa:broken-${RUN}`
const KAFKA_TAG = `ofa-test/kafka:swarm-${RUN}`

before(async () => {
  const built = await ofa(['image', 'build', '--tag', TAG, '--docker-host', await dockerHost()])
  assert.equal(built.code, 0, built.stderr)
})

after(async () => {
  await docker(['image', 'rm', TAG, BROKEN, KAFKA_TAG])
})

const SIMULATOR = (uuid: string, interval: number, deploy = '') =>
  `devices:\n  sim:\n    uuid: ${uuid}\n${deploy}    connector:\n      type: simulator\n      interval_ms: ${interval}\n      items:\n        temp:\n          tag: Temperature\n          category: Samples\n          units: CELSIUS\n          signal: sine\n          offset: 20\n          amplitude: 2\n          period_s: 10\n`

/**
 * A factory folder (outside any other), its stack removed after the test; and `ofa apply|status|rollback` on it, on
 * the test Kafka or with `kafka` the flags of another.
 */
async function swarmFactory(t: TestContext, name: string, kafkaFlags?: string[], env: Record<string, string> = {}) {
  const host = await dockerHost()
  const { bootstrap } = await kafka()
  const stack = `ofa-${name}-${RUN}`
  const root = await tempDir(t, `ofa-${name}-`)
  const dir = join(root, 'factory')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'factory.yaml'), `name: ${name}-${RUN}\n`)
  removeStackAfter(t, stack)
  const flags = (image = TAG) => [
    ...(kafkaFlags ?? ['--bootstrap', bootstrap]),
    '--stack',
    stack,
    '--image',
    image,
    '--docker-host',
    host,
    '--state-dir',
    join(root, 'state'),
    '--timeout',
    '150',
  ]
  return {
    dir,
    stack,
    bootstrap,
    env,
    flags,
    apply: (image = TAG) => ofa(['apply', dir, '--swarm', ...flags(image)], { env }),
    status: (...more: string[]) => ofa(['status', dir, ...flags(), ...more], { env }),
    rollback: (...more: string[]) => ofa(['rollback', dir, ...flags(), ...more], { env }),
    /** The ids of a service's running tasks (an update replaces them; an unchanged service keeps them). */
    tasks: async (service: string) =>
      (await dockerOk(['service', 'ps', `${stack}_${service}`, '--filter', 'desired-state=running', '-q']))
        .trim()
        .split('\n')
        .sort()
        .join(','),
  }
}

test('ofa apply --swarm deploys the factory health-gated; status, a one-service update, rollback, a broken image, an interrupted apply', {
  timeout: 900_000,
}, async (t) => {
  const f = await swarmFactory(t, 'swarm')
  const device = `SWARM-SIM-${RUN}`.toUpperCase()
  const serve = `SWARM-SERVE-${RUN}`.toUpperCase()
  const deviceService = `device-swarm-sim-${RUN}`
  const serveService = `app-swarm-serve-${RUN}`
  const port = await freePort()
  const file = join(f.dir, 'devices.yml')
  await writeFile(file, SIMULATOR(device, 500))
  await writeFile(
    join(f.dir, 'apps.yml'),
    `apps:\n  serve:\n    uuid: ${serve}\n    image: openfactory/serve\n    routing:\n      port: ${port}\n`,
  )
  const first = await f.apply()
  assert.equal(first.code, 0, `${first.stderr}\n${first.stdout}`)
  assert.match(first.stdout, /^deployment 1: \+\d+ ~0 -0, 2 service\(s\) ready\n$/)
  assert.match(first.stderr, new RegExp(`${f.stack}_${deviceService} 1/1`))
  const asset = await eventually(
    async () => {
      const a = await getJson(`http://127.0.0.1:${port}/api/assets/${device}`).catch(() => undefined)
      return a?.availability === 'AVAILABLE' ? a : undefined
    },
    'the device available through the deployed serving app',
    60_000,
  )
  assert.equal(asset.uuid, device)
  const inSync = await f.status()
  assert.equal(inSync.code, 0, `${inSync.stderr}\n${inSync.stdout}`)
  assert.match(inSync.stdout, new RegExp(`^= ${f.stack}_${deviceService} +1/1 +as the files declare$`, 'm'))
  assert.match(inSync.stdout, /the files: as deployment 1 applied them/)

  const serveBefore = await f.tasks(serveService)
  const deviceBefore = await f.tasks(deviceService)
  assert.ok(serveBefore && deviceBefore, 'a running task each')

  // One device changed: plan and status show it; apply updates its service alone.
  await writeFile(file, SIMULATOR(device, 250))
  const plan = await ofa(['plan', f.dir, '--bootstrap', f.bootstrap])
  assert.equal(plan.code, 0, plan.stderr)
  assert.match(plan.stdout, new RegExp(`~ connector ${device} .*\\n {4}interval_ms: 500 → 250\\n`))
  assert.match(plan.stdout, /Plan: 0 to create, 1 to update, 0 to delete\./)
  const drift = await f.status('--json')
  assert.equal(drift.code, 1, 'drift exits 1')
  const driftJson = JSON.parse(drift.stdout)
  assert.deepEqual(
    driftJson.services.map((s: { service: string; state: string }) => [s.service, s.state]).sort(),
    [
      [`${f.stack}_${serveService}`, 'in-sync'],
      [`${f.stack}_${deviceService}`, 'changed'],
    ].sort(),
  )
  assert.deepEqual(driftJson.pending, { create: 0, update: 1, delete: 0 })
  const second = await f.apply()
  assert.equal(second.code, 0, `${second.stderr}\n${second.stdout}`)
  assert.match(second.stdout, /^deployment 2: \+0 ~1 -0, 2 service\(s\) ready\n$/)
  assert.equal(await f.tasks(serveService), serveBefore, 'the serving app untouched')
  const deviceSecond = await f.tasks(deviceService)
  assert.notEqual(deviceSecond, deviceBefore, 'the device service updated')

  // What the device's service runs: the files of its snapshot, mounted at /factory.
  const mounted = async () => {
    const source = (
      await dockerOk([
        'service',
        'inspect',
        `${f.stack}_${deviceService}`,
        '--format',
        '{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}',
      ])
    ).trim()
    return readFile(join(source, 'devices.yml'), 'utf8')
  }
  assert.match(await mounted(), /interval_ms: 250/)

  // Rollback (to the last applied deployment with other files: 1): the old config runs, the serving app untouched.
  const back = await f.rollback()
  assert.equal(back.code, 0, `${back.stderr}\n${back.stdout}`)
  assert.match(back.stderr, /rolling back to deployment 1/)
  assert.match(back.stdout, /^deployment 3: \+0 ~1 -0, 2 service\(s\) ready\n$/)
  assert.match(await mounted(), /interval_ms: 500/)
  assert.notEqual(await f.tasks(deviceService), deviceSecond, 'the device service updated back')
  assert.equal(await f.tasks(serveService), serveBefore, 'the serving app untouched')
  const afterRollback = JSON.parse((await f.status('--json')).stdout)
  assert.deepEqual(afterRollback.pending, { create: 0, update: 1, delete: 0 }, 'the folder still says 250')
  const nowRunning = await ofa(['plan', f.dir, '--bootstrap', f.bootstrap])
  assert.match(nowRunning.stdout, /against deployment 3 /)
  assert.match(nowRunning.stdout, /interval_ms: 500 → 250/)
  const badTo = await f.rollback('--to', '99')
  assert.equal(badTo.code, 1)
  assert.match(badTo.stderr, /OFA_DEPLOY_ROLLBACK no deployment 99/)

  // A broken image: Docker rolls the update back, the deployment fails, the old tasks keep running.
  const cid = (await dockerOk(['create', TAG])).trim()
  await dockerOk(['commit', '--change', 'ENTRYPOINT ["/usr/bin/node", "-e", "process.exit(3)"]', cid, BROKEN])
  await dockerOk(['rm', cid])
  const broken = await f.apply(BROKEN)
  assert.equal(broken.code, 1, `${broken.stderr}\n${broken.stdout}`)
  assert.match(broken.stderr, /OFA_DEPLOY_FAILED the update of .* failed and Docker rolled it back/)
  await eventually(
    async () => {
      const image = await dockerOk([
        'service',
        'inspect',
        `${f.stack}_${deviceService}`,
        '--format',
        '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
      ])
      const replicas = await dockerOk([
        'service',
        'ls',
        '--filter',
        `name=${f.stack}_${deviceService}`,
        '--format',
        '{{.Replicas}}',
      ])
      return image.trim() === TAG && replicas.trim() === '1/1' ? true : undefined
    },
    'the device service back on the good image, running',
    120_000,
  )

  // An apply killed halfway (kill -9 while the stack deploys) leaves a state the next apply completes.
  const killed = startOfa(t, ['apply', f.dir, '--swarm', ...f.flags()], {})
  killed.url.catch(() => {})
  await eventually(() => (/deploying stack/.test(killed.output()) ? true : undefined), 'the apply to deploy', 120_000)
  process.kill(-(killed.child.pid as number), 'SIGKILL')
  await killed.exited
  const completed = await f.apply()
  assert.equal(completed.code, 0, `${completed.stderr}\n${completed.stdout}`)
  assert.match(completed.stderr, /deployment 5 was interrupted; this one completes it/)
  assert.match(completed.stdout, /^deployment 6: \+0 ~1 -0, 2 service\(s\) ready\n$/)
  assert.match(await mounted(), /interval_ms: 250/)
  const final = await f.status()
  assert.equal(final.code, 0, `${final.stdout}`)
  // No debris: the stack has exactly its two services.
  const services = (await dockerOk(['stack', 'services', f.stack, '--format', '{{.Name}}'])).trim().split('\n').sort()
  assert.deepEqual(services, [`${f.stack}_${serveService}`, `${f.stack}_${deviceService}`].sort())

  const history = JSON.parse((await ofa(['history', f.dir, '--bootstrap', f.bootstrap, '--json'])).stdout)
  assert.deepEqual(
    history.deployments.map((d: { seq: number; outcome: string; by: string }) => [d.seq, d.outcome, d.by]),
    [
      [1, 'applied', 'ofa apply --swarm'],
      [2, 'applied', 'ofa apply --swarm'],
      [3, 'applied', 'ofa rollback --to 1'],
      [4, 'failed', 'ofa apply --swarm'],
      [5, 'failed', 'ofa apply --swarm'],
      [6, 'applied', 'ofa apply --swarm'],
    ],
  )
  assert.match(history.deployments[4].error, /interrupted before it finished; deployment 6 completed it/)
  assert.equal(history.deployments[0].snapshot, undefined, 'history --json leaves the files out')
})

test('a connector service of two replicas keeps one session; a killed holder fails over, no observation twice', {
  timeout: 600_000,
}, async (t) => {
  const f = await swarmFactory(t, 'failover')
  const device = `FAILOVER-SIM-${RUN}`.toUpperCase()
  const service = `${f.stack}_device-failover-sim-${RUN}`
  await writeFile(
    join(f.dir, 'devices.yml'),
    SIMULATOR(
      device,
      200,
      '    deploy:\n      replicas: 2\n      resources:\n        limits: {cpus: 1, memory: 512Mi, open_files: 4096}\n',
    ),
  )
  const applied = await f.apply()
  assert.equal(applied.code, 0, `${applied.stderr}\n${applied.stdout}`)
  assert.match(applied.stderr, new RegExp(`${service} 2/2`))
  const containers = async () =>
    (await dockerOk(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`]))
      .trim()
      .split('\n')
      .filter(Boolean)
  const holds = async (id: string) => {
    const logs = await docker(['logs', id])
    const text = logs.stdout + logs.stderr
    return (text.match(/lease taken: connector running/g) ?? []).length > (text.match(/lease lost/g) ?? []).length
  }
  const holders = async () => {
    const out: string[] = []
    for (const id of await containers()) if (await holds(id)) out.push(id)
    return out
  }
  const holder = await eventually(
    async () => {
      const h = await holders()
      return h.length === 1 && (await containers()).length === 2 ? h[0] : undefined
    },
    'one replica holding the device',
    90_000,
  )
  await dockerOk(['kill', holder as string])
  const killedAt = Date.now()
  const next = await eventually(
    async () => {
      const h = await holders()
      return h.length === 1 && h[0] !== holder ? h[0] : undefined
    },
    'the other replica to take the device',
    90_000,
  )
  assert.notEqual(next, holder)

  // Observations after the failover, each written once.
  const log = await openKafkaLog({ bootstrapServers: [f.bootstrap], clientId: 'swarm-failover-test' })
  t.after(() => log.close())
  const observations = async () => {
    const seen: string[] = []
    const d = await log.describeTopic('ofa_assets')
    for (const p of d.partitionStates) {
      for (let offset = p.startOffset; offset < p.endOffset; ) {
        const batch = await log.read('ofa_assets', p.partition, offset)
        if (batch.length === 0) break
        for (const r of batch) {
          if (r.key?.toString() !== device || r.value === null) continue
          const o = decodeObservation(r.value)
          if (o.id === 'temp') seen.push(`${o.attributes.timestamp} ${JSON.stringify(o.value)}`)
        }
        offset = (batch.at(-1)?.offset ?? offset) + 1
      }
    }
    return seen
  }
  const seen = await eventually(
    async () => {
      const s = await observations()
      return s.filter((o) => Date.parse(o.split(' ')[0] as string) > killedAt + 1000).length >= 5 ? s : undefined
    },
    'observations after the failover',
    60_000,
  )
  assert.equal(new Set(seen).size, seen.length, 'no observation written twice')
  // The killed container's replacement stands by: still one holder.
  await eventually(async () => ((await containers()).length === 2 ? true : undefined), 'two replicas again', 90_000)
  assert.deepEqual(await holders(), [next])
})

test('ofa apply --own-kafka: the stack runs its own Kafka, healthy before anything is recorded on it', {
  timeout: 600_000,
}, async (t) => {
  const built = await ofa(['image', 'build', '--kafka', '--tag', KAFKA_TAG, '--docker-host', await dockerHost()])
  assert.equal(built.code, 0, built.stderr)
  // Its controller listens on the next port: both must be free.
  let kafkaPort = await freePort()
  while (!(await canBind(kafkaPort + 1))) kafkaPort = await freePort()
  const flags = ['--own-kafka', '--kafka-port', String(kafkaPort), '--kafka-image', KAFKA_TAG]
  // The device's interval is a variable of the files: the services get it as a Docker secret.
  const f = await swarmFactory(t, 'ownkafka', flags, { OFA_TEST_INTERVAL: '200' })
  t.after(async () => {
    await docker(['volume', 'rm', `${f.stack}_kafka-data`])
  })
  const device = `OWNKAFKA-SIM-${RUN}`.toUpperCase()
  await writeFile(
    join(f.dir, 'devices.yml'),
    SIMULATOR(device, 200).replace('interval_ms: 200', `interval_ms: \${OFA_TEST_INTERVAL}`),
  )
  const both = await ofa(['apply', f.dir, '--swarm', '--own-kafka', '--bootstrap', f.bootstrap], { env: f.env })
  assert.equal(both.code, 2)
  assert.match(both.stderr, /--own-kafka and --bootstrap exclude each other/)
  const first = await f.apply()
  assert.equal(first.code, 0, `${first.stderr}\n${first.stdout}`)
  assert.match(first.stdout, /^deployment 1: \+\d+ ~0 -0, 2 service\(s\) ready\n$/)
  assert.match(first.stderr, new RegExp(`${f.stack}_kafka 1/1`))
  const bootstrap = `127.0.0.1:${kafkaPort}`
  const log = await openKafkaLog({ bootstrapServers: [bootstrap], clientId: 'swarm-own-kafka-test' })
  t.after(() => log.close())
  // The device's observations are on the stack's Kafka.
  await eventually(
    async () => {
      const d = await log.describeTopic('ofa_assets').catch(() => undefined)
      if (!d) return undefined
      for (const p of d.partitionStates) {
        if (p.endOffset === p.startOffset) continue
        const batch = await log.read('ofa_assets', p.partition, p.startOffset)
        if (batch.some((r) => r.key?.toString() === device)) return true
      }
      return undefined
    },
    "the device's observations on the stack's Kafka",
    90_000,
  )
  const history = JSON.parse((await ofa(['history', f.dir, '--bootstrap', bootstrap, '--json'], { env: f.env })).stdout)
  assert.deepEqual(
    history.deployments.map((d: { seq: number; outcome: string }) => [d.seq, d.outcome]),
    [[1, 'applied']],
  )
  const secrets = (await dockerOk(['secret', 'ls', '--format', '{{.Name}}'])).split('\n')
  assert.equal(secrets.filter((n) => /^ofa-OFA_TEST_INTERVAL-[0-9a-f]{16}$/.test(n)).length >= 1, true)
  const spec = await dockerOk(['service', 'inspect', `${f.stack}_device-ownkafka-sim-${RUN}`])
  assert.match(spec, /"ofa-env-OFA_TEST_INTERVAL"/, 'mounted as a secret')
  assert.doesNotMatch(spec, /OFA_TEST_INTERVAL=200/, 'the value is in no spec')
  const status = await f.status()
  assert.equal(status.code, 0, status.stdout)
  assert.match(status.stdout, new RegExp(`^= ${f.stack}_kafka `, 'm'))
  // Applied again: nothing changed, the broker keeps its task.
  const broker = await f.tasks('kafka')
  const again = await f.apply()
  assert.equal(again.code, 0, `${again.stderr}\n${again.stdout}`)
  assert.match(again.stdout, /^no change to the files since the last deployment; 2 service\(s\) ready\n$/)
  assert.equal(await f.tasks('kafka'), broker)

  // The reference's ofa device down|up PATH: the folder deployed without that file, then with it.
  const down = await ofa(['device', 'down', join(f.dir, 'devices.yml'), ...f.flags()], { env: f.env })
  assert.equal(down.code, 0, `${down.stderr}\n${down.stdout}`)
  assert.match(down.stdout, /^deployment 2: \+0 ~0 -2, 1 service\(s\) ready\n$/)
  const without = await f.status('--json')
  assert.equal(without.code, 1)
  assert.deepEqual(
    JSON.parse(without.stdout)
      .services.map((s: { state: string }) => s.state)
      .sort(),
    ['in-sync', 'missing'],
  )
  const up = await ofa(['device', 'up', join(f.dir, 'devices.yml'), ...f.flags()], { env: f.env })
  assert.equal(up.code, 0, `${up.stderr}\n${up.stdout}`)
  assert.match(up.stdout, /^deployment 3: \+2 ~0 -0, 2 service\(s\) ready\n$/)
  assert.equal(await f.tasks('kafka'), broker, 'the broker untouched throughout')
  const by = JSON.parse(
    (await ofa(['history', f.dir, '--bootstrap', bootstrap, '--json'], { env: f.env })).stdout,
  ).deployments.map((d: { by: string }) => d.by)
  assert.deepEqual(by, ['ofa apply --swarm', 'ofa device down devices.yml', 'ofa device up devices.yml'])
})

test('the demo factory on Kafka as a stack: its devices, the serving app and the workers running, in sync', {
  timeout: 600_000,
}, async (t) => {
  const { bootstrap } = await kafka()
  const dir = await demoCopy(t, { bootstrap })
  const port = await freePort()
  const name = `demo-swarm-${RUN}`
  const manifest = join(dir, 'factory.yaml')
  await writeFile(manifest, (await readFile(manifest, 'utf8')).replace(/^name: .*$/m, `name: ${name}`))
  const apps = join(dir, 'apps.yml')
  await writeFile(apps, (await readFile(apps, 'utf8')).replace('port: 8080', `port: ${port}`))
  const stack = name
  removeStackAfter(t, stack)
  // Kafka from factory.yaml's backbone: no --bootstrap. The serving app over HTTPS, its certificate and key made by
  // a CA of the test's own and given as files (they reach the service as secrets).
  const pki = await createTestPki(t)
  const flags = ['--image', TAG, '--docker-host', await dockerHost(), '--state-dir', join(dir, '..', 'state')]
  const tls = ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile]
  const applied = await ofa(['apply', dir, '--swarm', ...flags, ...tls, '--timeout', '240'])
  assert.equal(applied.code, 0, `${applied.stderr}\n${applied.stdout}`)
  assert.match(applied.stdout, /^deployment 1: \+\d+ ~0 -0, 5 service\(s\) ready\n$/)
  const devices = await eventually(
    async () => {
      const r = await getJsonTls(`https://127.0.0.1:${port}/api/assets`, pki.ca).catch(() => undefined)
      const list = r?.status === 200 ? r.body : undefined
      const available = (list?.items ?? []).filter(
        (a: { type: string; availability: string }) => a.type === 'Device' && a.availability === 'AVAILABLE',
      )
      return available.length === 3 ? available.map((a: { uuid: string }) => a.uuid).sort() : undefined
    },
    "the demo's three machines available through the stack's serving app",
    120_000,
  )
  assert.deepEqual(devices, ['DEMO-CNC-SIM-001', 'DEMO-DHT-001', 'OFA-MILL-001'])
  await eventually(
    async () => {
      for (const id of (
        await dockerOk(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_workers`])
      )
        .trim()
        .split('\n')
        .filter(Boolean)) {
        const logs = await docker(['logs', id])
        if (/lease taken: workers running/.test(logs.stdout + logs.stderr)) return true
      }
      return undefined
    },
    'one workers replica running the SQL and the processor',
    120_000,
  )
  const status = await ofa(['status', dir, ...flags, ...tls, '--json'])
  assert.equal(status.code, 0, status.stdout)
  const s = JSON.parse(status.stdout)
  assert.equal(s.services.length, 5)
  assert.ok(s.services.every((x: { state: string }) => x.state === 'in-sync'))
  // Without factory.yaml `auth:` nor --insecure the serving app listens on loopback alone; plain HTTP is refused.
  const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    (r) => r.status,
    () => 'refused',
  )
  assert.notEqual(plain, 200)
  const serving = await dockerOk(['service', 'inspect', `${stack}_app-ofa-serve`, '--format', '{{json .Spec}}'])
  assert.match(serving, /"--host","127\.0\.0\.1"/)
  // The key went to the serving app alone.
  const device = await dockerOk(['service', 'inspect', `${stack}_device-demo-dht-001`, '--format', '{{json .Spec}}'])
  assert.doesNotMatch(device, /ofa-serve-key/)
})

test('refused before anything changes: an image the engine does not have, the embedded log', async (t) => {
  const f = await swarmFactory(t, 'refused')
  await writeFile(join(f.dir, 'devices.yml'), SIMULATOR(`REFUSED-SIM-${RUN}`.toUpperCase(), 500))
  const missing = await f.apply(`ofa-test/none:${RUN}`)
  assert.equal(missing.code, 1)
  assert.match(
    missing.stderr,
    new RegExp(`OFA_DEPLOY_IMAGE_MISSING image ofa-test/none:${RUN} is not in the engine's image store`),
  )
  const history = JSON.parse((await ofa(['history', f.dir, '--bootstrap', f.bootstrap, '--json'])).stdout)
  assert.deepEqual(history.deployments, [], 'nothing recorded')
  assert.equal((await dockerOk(['stack', 'ls', '--format', '{{.Name}}'])).split('\n').includes(f.stack), false)
  const embedded = await ofa(['apply', f.dir, '--swarm', '--image', TAG, '--docker-host', await dockerHost()])
  assert.equal(embedded.code, 1)
  assert.match(embedded.stderr, /OFA_DEPLOY_BACKBONE a stack runs on Kafka/)
})
