// The whole test suite, as the README and CI run it: lint and format check, type check, then every test
// against the real servers the tests need, each started here by its own script.
//
// Kafka (scripts/kafka.ts): a single-node cluster and a three-node cluster (replication tests) are started
// before the tests and stopped (their data deleted) after them; the tests find them in OFA_KAFKA_* and
// OFA_KAFKA3_* variables. Debian's kcat, the foreign Kafka client of the interop tests, is installed if missing.
//
// OPC UA (scripts/opcua.ts), started while Kafka starts: asyncua (PyPI) is installed into a venv under .cache/opcua
// once, then two servers of the synthetic machine run — SecurityPolicy None ('test') and Basic256Sha256
// SignAndEncrypt with a user ('test-secure') — stopped (their state deleted) after the tests, in OFA_OPCUA_* and
// OFA_OPCUA_SECURE_* variables.
//
// Mosquitto (scripts/mosquitto.ts): Debian's mosquitto and mosquitto-clients are installed if missing, and one broker
// runs for the MQTT tests (OFA_MQTT_URL), stopped (its state deleted) after them, with the private brokers of tests
// that restart theirs. The Sparkplug edge node's venv (scripts/sparkplug-edge.ts) is installed by its first test.
//
// PostgreSQL (scripts/postgres.ts): Debian's postgresql is installed if missing, and one cluster runs for the
// historian's tests (OFA_PG_URL, OFA_PG_PASSWORD), stopped (its data deleted) after them, with the private clusters
// of tests that restart theirs.
//
// Chromium (scripts/chromium.ts): Debian's chromium is installed if missing, for the browser tests (the dashboard,
// Swagger UI), which drive it with playwright-core.
//
// Docker (scripts/docker.ts), started while Kafka starts: Debian's docker.io is installed if dockerd is missing, then
// a private dockerd (its own socket and data under .cache/docker) becomes a single-node swarm; the image and swarm
// tests find its socket in OFA_DOCKER_HOST. After the tests it leaves the swarm, stops, and its data is deleted. It
// is started for every run: about a second when installed (about 10 s more to install it), less than what
// deciding whether this run needs it would save.
import { spawnSync } from 'node:child_process'
import { chromiumVersion, ensureChromium } from './chromium.ts'
import * as docker from './docker.ts'
import { ensureKcat, envFor, start, stop } from './kafka.ts'
import * as modbus from './modbus.ts'
import * as mosquitto from './mosquitto.ts'
import * as opcua from './opcua.ts'
import * as postgres from './postgres.ts'

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  console.log(`\n$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit', env })
  if (r.status !== 0) console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`)
  return r.status ?? 1
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

async function main(): Promise<number> {
  let status = run('npx', ['biome', 'check', '.'])
  if (status !== 0) return status
  status = run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'])
  if (status !== 0) return status
  // The dashboard's browser code has its own settings (DOM, JSX).
  status = run('npx', ['tsc', '-p', 'packages/dashboard/web/tsconfig.json'])
  if (status !== 0) return status

  console.log('\n$ scripts/kafka start --name test; scripts/kafka start --name test-3 --brokers 3')
  console.log('$ scripts/opcua start --name test; scripts/opcua start --name test-secure --security sign-and-encrypt')
  console.log('$ scripts/docker start')
  const kafkaStarted = Date.now()
  const clusters = ['test', 'test-3']
  const opcuaServers = ['test', 'test-secure']
  try {
    ensureKcat()
    // Before anything starts concurrently: apt-get (kcat above, docker.io here, Kafka's Java) takes one lock at a time.
    await docker.install()
    // Debian's Mosquitto for the MQTT tests (scripts/mosquitto.ts): installed if missing, one broker in OFA_MQTT_URL.
    const broker = await mosquitto.start({ name: 'test' })
    // Debian's postgresql for the historian's tests (scripts/postgres.ts): installed if missing, one cluster in
    // OFA_PG_URL (each test makes a database of its own in it; the restart test runs a private cluster).
    const pg = await postgres.start({ name: 'test' })
    // Debian's chromium, for the browser tests (the dashboard, Swagger UI): scripts/chromium.ts.
    console.log(`Chromium: ${chromiumVersion(await ensureChromium())}`)
    // pymodbus (PyPI) for the Modbus tests (scripts/modbus.ts): installed once; each test starts its own server.
    await modbus.install((m) => console.log(m))
    const opcuaStarted = Date.now()
    // Kafka's nodes format and start while asyncua installs (once) and the OPC UA servers start.
    const peers = opcua
      .install()
      .then(() =>
        Promise.all([
          opcua.start({ name: 'test', security: 'none' }),
          opcua.start({ name: 'test-secure', security: 'sign-and-encrypt' }),
        ]),
      )
      .then((servers) => {
        console.log(`OPC UA: ${servers.map((s) => s.endpoint).join(' and ')} ready in ${seconds(opcuaStarted)}`)
        return servers
      })
    const dockerStarted = Date.now()
    const engine = docker.start().then((state) => {
      console.log(`Docker: dockerd ${state.version} in swarm mode at ${state.host} ready in ${seconds(dockerStarted)}`)
      return state
    })
    // All settle before any error is reported, so that the finally below stops everything that started.
    const [kafka, servers, dockerd] = await Promise.allSettled([
      Promise.all([start({ name: 'test', brokers: 1 }), start({ name: 'test-3', brokers: 3 })]),
      peers,
      engine,
    ])
    if (kafka.status === 'rejected' || servers.status === 'rejected' || dockerd.status === 'rejected') {
      const reasons = [kafka, servers, dockerd].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
      throw new Error(reasons.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'))
    }
    const [single, three] = kafka.value
    console.log(`Kafka: ${single.bootstrap} and ${three.bootstrap} ready in ${seconds(kafkaStarted)}`)
    const env = {
      ...process.env,
      ...envFor(single, 'OFA_KAFKA'),
      ...envFor(three, 'OFA_KAFKA3'),
      ...Object.assign({}, ...servers.value.map((s) => opcua.envFor(s))),
      ...docker.envFor(dockerd.value),
      ...mosquitto.envFor(broker),
      ...postgres.envFor(pg),
    }
    const testsStarted = Date.now()
    status = run(process.execPath, ['--test', '--test-concurrency=2', 'packages/*/test/**/*.test.ts'], env)
    console.log(`\ntests ran in ${seconds(testsStarted)}`)
  } catch (err) {
    console.error(`\nservers for the tests: ${err instanceof Error ? err.message : String(err)}`)
    status = 1
  } finally {
    const stopping = Date.now()
    await Promise.all([
      ...clusters.map((name) => stop(name, true).catch((err) => console.error(String(err)))),
      // with the private servers of tests that ended before their cleanup ran (startPrivatePeer)
      ...[...opcuaServers, ...opcua.status().flatMap((s) => (s.name.startsWith('private-') ? [s.name] : []))].map(
        (name) => opcua.stop(name, true).catch((err) => console.error(String(err))),
      ),
      docker.stop(true).catch((err) => console.error(String(err))),
      ...mosquitto.status().map((b) => mosquitto.stop(b.name, true).catch((err) => console.error(String(err)))),
      ...postgres.status().map((c) => postgres.stop(c.name, true).catch((err) => console.error(String(err)))),
    ])
    console.log(`Kafka, OPC UA and dockerd stopped in ${seconds(stopping)}`)
  }
  return status
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
