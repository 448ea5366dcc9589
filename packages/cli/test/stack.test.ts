// The factory as a Swarm stack (deploy/stack.ts): one service per device and per app image, and one for the SQL and
// processors (workers), each labelled with its resource's digest, so a change of one device changes one service;
// port clashes and impossible placements refused.
import assert from 'node:assert/strict'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { isOpenFactoryError, loadFactory } from '@openfactory/model'
import { generateStack, type StackFile } from '../src/deploy/stack.ts'
import { demoCopy, ofa, tempDir } from './helpers.ts'

const OPTS = { image: 'openfactory/ofa:test', bootstrapServers: ['127.0.0.1:9092'] }

test('the demo factory as a stack: a service per device, the serving app, the workers; one device changed, one service changed', async (t) => {
  const dir = await demoCopy(t)
  const stack = generateStack(await loadFactory([dir]), OPTS)
  assert.deepEqual(Object.keys(stack.services).sort(), [
    'app-ofa-serve',
    'device-demo-cnc-sim-001',
    'device-demo-dht-001',
    'device-ofa-mill-001',
    'workers',
  ])
  const cnc = stack.services['device-demo-cnc-sim-001']
  assert.deepEqual(cnc?.command, [
    'run',
    'DEMO-CNC-SIM-001',
    '/factory',
    '--backbone',
    'kafka',
    '--bootstrap',
    '127.0.0.1:9092',
  ])
  assert.equal(cnc?.image, 'openfactory/ofa:test')
  assert.deepEqual(cnc?.volumes, [{ type: 'bind', source: dir, target: '/factory', read_only: true }])
  assert.deepEqual(cnc?.networks, ['hostnet'])
  assert.equal(cnc?.deploy.update_config.failure_action, 'rollback')
  assert.equal(cnc?.deploy.labels['io.openfactory.resource'], 'connector DEMO-CNC-SIM-001')
  // The mill's replay adapter is ours: it runs inside the mill's service, not as one of its own.
  assert.equal(stack.services['adapter-ofa-mill-001'], undefined)
  const serve = stack.services['app-ofa-serve']
  assert.deepEqual(serve?.command?.slice(0, 3), ['run', 'OFA-SERVE', '/factory'])
  // No factory.yaml `auth:`: the serving app listens on its node's loopback alone (ofa run refuses more).
  assert.deepEqual(serve?.command?.slice(-4), ['--host', '127.0.0.1', '--port', '8080'])
  assert.ok(!serve?.command?.includes('--insecure'))
  assert.match(serve?.healthcheck?.test.at(-1) ?? '', /http:\/\/127\.0\.0\.1:8080\/healthz/)
  assert.deepEqual(stack.networks, { hostnet: { external: true, name: 'host' } })
  // The SQL files and the processor run in their own service: two replicas sharing a lease.
  const workers = stack.services.workers
  assert.deepEqual(workers?.command, [
    'run',
    '--workers',
    '/factory',
    '--backbone',
    'kafka',
    '--bootstrap',
    '127.0.0.1:9092',
  ])
  assert.equal(workers?.image, 'openfactory/ofa:test')
  assert.deepEqual(workers?.volumes, cnc?.volumes)
  assert.equal(workers?.deploy.replicas, 2)
  assert.equal(workers?.deploy.labels['io.openfactory.resource'], 'workers')
  assert.equal(workers?.labels['io.openfactory.digest'], workers?.deploy.labels['io.openfactory.digest'])

  const file = join(dir, 'devices', 'cnc-simulated.yml')
  await writeFile(file, (await readFile(file, 'utf8')).replace('interval_ms: 500', 'interval_ms: 250'))
  const after = generateStack(await loadFactory([dir]), OPTS)
  const changed = Object.keys(stack.services).filter(
    (n) => JSON.stringify(stack.services[n]) !== JSON.stringify(after.services[n]),
  )
  assert.deepEqual(changed, ['device-demo-cnc-sim-001'])
})

test('the workers service: a changed statement or processor restarts it alone; a comment is no change; none without SQL or processors', async (t) => {
  const dir = await demoCopy(t)
  const stackOf = async () => generateStack(await loadFactory([dir]), OPTS)
  const changedBetween = (a: StackFile, b: StackFile) =>
    [...new Set([...Object.keys(a.services), ...Object.keys(b.services)])].filter(
      (n) => JSON.stringify(a.services[n]) !== JSON.stringify(b.services[n]),
    )
  const before = await stackOf()
  const sql = join(dir, 'sql', 'assets.sql')
  const text = await readFile(sql, 'utf8')
  await writeFile(sql, `-- a comment changes no statement\n${text.replaceAll(';\n\n', ';\n\n\n')}`)
  assert.deepEqual(changedBetween(before, await stackOf()), [])
  await writeFile(sql, text.replace('COUNT(*) AS samples', 'COUNT(*) AS sample_count'))
  const sqlChanged = await stackOf()
  assert.deepEqual(changedBetween(before, sqlChanged), ['workers'])
  const processor = join(dir, 'processors', 'spindle-overload.ts')
  await writeFile(processor, (await readFile(processor, 'utf8')).replace('THRESHOLD = 75', 'THRESHOLD = 80'))
  assert.deepEqual(changedBetween(sqlChanged, await stackOf()), ['workers'])
  // A statement that does not parse is refused before anything is deployed, in its file.
  await writeFile(sql, `${text}\nCREATE STREAM broken (;\n`)
  await assert.rejects(stackOf(), (err: unknown) => isOpenFactoryError(err, 'OFA_SQL_PARSE') && err.where?.file === sql)
  // Without sql: and processors: there is nothing for workers to run, and no service.
  const manifest = join(dir, 'factory.yaml')
  await writeFile(
    manifest,
    (await readFile(manifest, 'utf8')).replace(/^sql: .*$/m, '').replace(/^processors: .*$/m, ''),
  )
  assert.equal((await stackOf()).services.workers, undefined)
})

test('refused before anything is deployed: two services on one host port, a placement on a label no node has', async (t) => {
  const dir = await tempDir(t, 'ofa-stack-')
  await cp(new URL('../../../examples/infra/infrastructure.yml', import.meta.url).pathname, join(dir, 'infra.yml'))
  const app = (uuid: string, port: number) =>
    `  ${uuid.toLowerCase()}:\n    uuid: ${uuid}\n    image: openfactory/serve\n    routing:\n      port: ${port}\n`
  await writeFile(join(dir, 'apps.yml'), `apps:\n${app('SERVE-A', 8080)}${app('SERVE-B', 8080)}`)
  await assert.rejects(
    async () => generateStack(await loadFactory([dir]), OPTS),
    (err: unknown) =>
      isOpenFactoryError(err, 'OFA_DEPLOY_PORT_CLASH') &&
      /SERVE-B and app SERVE-A both listen on port 8080/.test(err.message),
  )
  await writeFile(join(dir, 'apps.yml'), `apps:\n${app('SERVE-A', 8080)}${app('SERVE-B', 8081)}`)
  assert.equal(Object.keys(generateStack(await loadFactory([dir]), OPTS).services).length, 2)

  const placed = (constraint: string) =>
    `apps:\n  dash:\n    uuid: DASH\n    image: acme/dash:1\n    deploy:\n      placement:\n        constraints: ["${constraint}"]\n`
  await writeFile(join(dir, 'apps.yml'), placed('node.labels.zone == building-c'))
  await assert.rejects(
    async () => generateStack(await loadFactory([dir]), OPTS),
    (err: unknown) =>
      isOpenFactoryError(err, 'OFA_DEPLOY_PLACEMENT') &&
      /label zone=building-c/.test(err.message) &&
      err.where?.file === join(dir, 'apps.yml'),
  )
  await writeFile(join(dir, 'apps.yml'), placed('node.labels.zone == building-b'))
  const ok = generateStack(await loadFactory([dir]), OPTS)
  assert.deepEqual(ok.services['app-dash']?.deploy.placement, { constraints: ['node.labels.zone == building-b'] })
  assert.equal(ok.services['app-dash']?.image, 'acme/dash:1')
})

test('ofa stack prints the stack file; without --bootstrap it is a usage error', async (t) => {
  const dir = await demoCopy(t)
  const out = await ofa(['stack', dir, '--bootstrap', '127.0.0.1:9092', '--image', 'openfactory/ofa:x'], { cwd: dir })
  assert.equal(out.code, 0, out.stderr)
  const stack = JSON.parse(out.stdout)
  assert.equal(stack.services['device-demo-dht-001'].image, 'openfactory/ofa:x')
  const usage = await ofa(['stack', dir], { cwd: dir })
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /OFA_CLI_USAGE ofa stack needs --bootstrap/)
})

test('the serving app in a stack: HTTPS from two secrets mounted in it alone; beyond loopback with auth or --insecure', async (t) => {
  const dir = await demoCopy(t)
  const run = async (...flags: string[]) => {
    const out = await ofa(['stack', dir, '--bootstrap', '127.0.0.1:9092', ...flags], { cwd: dir })
    assert.equal(out.code, 0, out.stderr)
    return { stack: JSON.parse(out.stdout) as StackFile, stderr: out.stderr }
  }
  const { stack, stderr } = await run('--tls', '--insecure')
  const serve = stack.services['app-ofa-serve']
  assert.deepEqual(serve?.command?.slice(-9), [
    '--insecure',
    '--tls-cert',
    '/run/secrets/ofa-serve-cert.pem',
    '--tls-key',
    '/run/secrets/ofa-serve-key.pem',
    '--host',
    '0.0.0.0',
    '--port',
    '8080',
  ])
  assert.match(serve?.healthcheck?.test.at(-1) ?? '', /node:https.*rejectUnauthorized: false/)
  assert.deepEqual(serve?.secrets, [
    { source: 'serve_cert', target: 'ofa-serve-cert.pem' },
    { source: 'serve_key', target: 'ofa-serve-key.pem' },
  ])
  // The key goes to the serving app alone, not to the connectors.
  assert.equal(stack.services['device-demo-dht-001']?.secrets, undefined)
  assert.deepEqual(stack.secrets, {
    serve_cert: { external: true, name: 'ofa-serve-cert' },
    serve_key: { external: true, name: 'ofa-serve-key' },
  })
  assert.match(stderr, /make these Docker secrets before deploying: ofa-serve-cert, ofa-serve-key/)
  // factory.yaml with `auth:`: every address, no --insecure.
  const manifest = join(dir, 'factory.yaml')
  await writeFile(manifest, `${await readFile(manifest, 'utf8')}auth:\n  keys: true\n`)
  const authed = (await run()).stack.services['app-ofa-serve']
  assert.deepEqual(authed?.command?.slice(-4), ['--host', '0.0.0.0', '--port', '8080'])
  assert.ok(!authed?.command?.includes('--insecure'))
})

test("a file's resources in compose's form: CPUs and memory bytes as text, open_files as the nofile ulimit", async (t) => {
  const dir = await tempDir(t, 'ofa-stack-')
  await writeFile(
    join(dir, 'devices.yml'),
    'devices:\n  m:\n    uuid: RES-1\n    deploy:\n      replicas: 2\n      resources:\n        limits: {cpus: 0.5, memory: 256Mi, open_files: 4096}\n        reservations: {memory: 64Mi}\n    connector:\n      type: simulator\n      items:\n        t: {tag: Temperature, category: Samples, units: CELSIUS}\n',
  )
  const s = generateStack(await loadFactory([dir]), OPTS).services['device-res-1']
  assert.deepEqual(s?.deploy.resources, {
    limits: { cpus: '0.5', memory: String(256 * 1024 * 1024) },
    reservations: { memory: String(64 * 1024 * 1024) },
  })
  assert.deepEqual(s?.ulimits, { nofile: { soft: 4096, hard: 4096 } })
  assert.equal(s?.deploy.replicas, 2)
})
