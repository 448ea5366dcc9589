// Apache Kafka for development and tests: fetches a pinned Kafka 4.x from Maven Central (with Maven), formats
// KRaft storage and runs single-node or three-node clusters on loopback addresses, each node a combined
// broker + controller. Run it through `scripts/kafka` (which picks the project's Node 24):
//
//   scripts/kafka start [--name N] [--brokers 1|3] [--port P] [--json]   start (or restart) a cluster, wait until ready
//   scripts/kafka status [--name N] [--json]                             list clusters and whether each node runs
//   scripts/kafka stop [--name N] [--clean]                              stop one cluster (default: all); --clean deletes data
//   scripts/kafka kill --name N --node I                                 kill -9 one node (failure tests)
//   scripts/kafka env [--name N]                                         print the OFA_KAFKA_* variables tests read
//   scripts/kafka fetch                                                  only download Kafka into .cache/kafka/<version>
//   scripts/kafka ensure-kcat                                            install Debian's kcat if missing (tests use it)
//
// Every node listens on 127.0.0.<node id>: PLAINTEXT on port P, SASL_SSL on P+1 (SCRAM-SHA-512, SCRAM-SHA-256 and
// PLAIN, user `ofa`, password `ofa-secret`, a certificate signed by a CA the script makes), its controller on P+2.
// Jars live in .cache/kafka/<version>/libs, cluster state (pids, ports, data, logs, certificates) in
// .cache/kafka/run/<name>/; .cache/ is ignored by git.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { withLock as lockIn } from './lock-file.ts'
import { log, runScript, UsageError } from './script-cli.ts'
import { makeCertificates } from './test-certs.ts'

export const KAFKA_VERSION = '4.1.1'
/** The log4j 2 version Kafka 4.1.1 is built with: its SLF4J binding sends the broker's logs to a file. */
const LOG4J_VERSION = '2.24.3'
export const SASL_USERNAME = 'ofa'
export const SASL_PASSWORD = 'ofa-secret'

const ROOT = path.resolve(import.meta.dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'kafka')
const LIBS = path.join(CACHE, KAFKA_VERSION, 'libs')
const RUN = path.join(CACHE, 'run')

/** One node of a cluster as recorded in its state file. */
export interface NodeState {
  readonly id: number
  readonly host: string
  readonly port: number
  readonly saslPort: number
  readonly controllerPort: number
  readonly dir: string
  readonly log: string
  pid: number | null
}

/** What `status --json` prints for a cluster, and what `state.json` holds. */
export interface ClusterState {
  readonly name: string
  readonly version: string
  readonly clusterId: string
  readonly nodes: NodeState[]
  /** `host:port,...` of the PLAINTEXT listeners. */
  readonly bootstrap: string
  /** `host:port,...` of the SASL_SSL listeners. */
  readonly saslBootstrap: string
  readonly sasl: { readonly username: string; readonly password: string; readonly mechanisms: readonly string[] }
  readonly tls: { readonly ca: string; readonly clientCert: string; readonly clientKey: string }
}

function stateFile(name: string): string {
  return path.join(RUN, name, 'state.json')
}

function readState(name: string): ClusterState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(name), 'utf8')) as ClusterState
  } catch {
    return undefined
  }
}

function writeState(state: ClusterState): void {
  fs.mkdirSync(path.dirname(stateFile(state.name)), { recursive: true })
  const tmp = `${stateFile(state.name)}.tmp`
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`)
  fs.renameSync(tmp, stateFile(state.name))
}

function clusterNames(): string[] {
  try {
    return fs.readdirSync(RUN).filter((n) => fs.existsSync(stateFile(n)))
  } catch {
    return []
  }
}

/** True when `pid` is a live Kafka broker (not a recycled pid). */
function isKafka(pid: number | null): boolean {
  if (!pid) return false
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka')
  } catch {
    return false
  }
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

function runOrThrow(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stdout ?? ''}${r.stderr ?? ''}`,
    )
  }
  return r.stdout
}

/** Installs Debian packages when a command is missing (the machines run as root; `apt-get update` once). */
let aptUpdated = false
function aptInstall(packages: string[]): void {
  if (!which('apt-get')) throw new Error(`missing ${packages.join(', ')} and no apt-get to install them`)
  if (!aptUpdated) {
    log('$ apt-get update')
    runOrThrow('apt-get', ['update', '-q'])
    aptUpdated = true
  }
  log(`$ apt-get install -y ${packages.join(' ')}`)
  runOrThrow('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages])
}

function ensureJavaAndMaven(): void {
  const missing: string[] = []
  if (!which('java')) missing.push('openjdk-17-jre-headless')
  if (!which('mvn')) missing.push('maven')
  if (missing.length > 0) aptInstall(missing)
}

/** Installs Debian's kcat (a Kafka client built on librdkafka) when it is not on PATH. */
export function ensureKcat(): void {
  if (!which('kcat')) aptInstall(['kcat'])
}

/** A Maven project file whose dependencies are `artifacts` (`group:artifact:version`), for the dependency plugin. */
function writePom(file: string, artifacts: readonly string[]): void {
  const dep = (gav: string): string => {
    const [g, a, v] = gav.split(':')
    return `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`
  }
  fs.writeFileSync(
    file,
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.openfactory.dev</groupId><artifactId>kafka-runtime</artifactId><version>${KAFKA_VERSION}</version>
  <dependencies>
    ${artifacts.map(dep).join('\n    ')}
  </dependencies>
</project>
`,
  )
}

/** The broker, and the log4j 2 binding of its SLF4J logs. */
const BROKER_ARTIFACTS = [
  `org.apache.kafka:kafka_2.13:${KAFKA_VERSION}`,
  `org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}`,
]

/**
 * Downloads Kafka's jars (the broker, `kafka_2.13`, and `kafka-tools` for `ProducerPerformance`) with their
 * runtime dependencies from Maven Central into .cache/kafka/<version>/libs, once.
 */
export function fetchKafka(): string {
  const done = path.join(LIBS, '.complete')
  if (fs.existsSync(done)) return LIBS
  ensureJavaAndMaven()
  const dir = path.dirname(LIBS)
  fs.mkdirSync(dir, { recursive: true })
  const pom = path.join(dir, `pom-${process.pid}.xml`)
  writePom(pom, [...BROKER_ARTIFACTS, `org.apache.kafka:kafka-tools:${KAFKA_VERSION}`])
  log(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central into ${path.relative(ROOT, LIBS)} ...`)
  const started = Date.now()
  // Into a directory of our own, renamed into place at the end: another process may be fetching too.
  const tmp = `${LIBS}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  runOrThrow(
    'mvn',
    ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`],
    { cwd: dir },
  )
  fs.rmSync(pom, { force: true })
  fs.writeFileSync(path.join(tmp, '.complete'), `${new Date().toISOString()}\n`)
  try {
    if (fs.existsSync(done)) throw new Error('fetched meanwhile')
    fs.rmSync(LIBS, { recursive: true, force: true })
    fs.renameSync(tmp, LIBS)
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  log(`fetched ${fs.readdirSync(LIBS).length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return LIBS
}

/**
 * The jars the broker alone needs (`kafka_2.13` and the log4j binding with their runtime dependencies, without the
 * tools' — Connect, Jetty, Jersey), as paths in fetchKafka's libs: the broker image takes these. Maven lists them
 * from its local repository (filled by fetchKafka) once; the list is kept beside the libs.
 */
export function brokerJars(): string[] {
  const libs = fetchKafka()
  const listFile = path.join(path.dirname(LIBS), 'broker-jars.txt')
  if (!fs.existsSync(listFile)) {
    const pom = path.join(path.dirname(LIBS), `pom-broker-${process.pid}.xml`)
    const out = `${listFile}.tmp-${process.pid}`
    ensureJavaAndMaven()
    writePom(pom, BROKER_ARTIFACTS)
    try {
      runOrThrow('mvn', ['-q', '-B', '-f', pom, 'dependency:list', '-DincludeScope=runtime', `-DoutputFile=${out}`])
      // Lines `   group:artifact:jar[:classifier]:version:scope[ -- module name]`; the file of each is
      // `artifact-version[-classifier].jar`.
      const names: string[] = []
      for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
        const parts = (line.trim().split(/\s/)[0] ?? '').split(':')
        if (parts.length < 5 || parts[2] !== 'jar') continue
        const [, artifact, , ...rest] = parts
        const version = rest.length === 3 ? rest[1] : rest[0]
        const classifier = rest.length === 3 ? `-${rest[0]}` : ''
        names.push(`${artifact}-${version}${classifier}.jar`)
      }
      if (names.length === 0) throw new Error(`mvn dependency:list listed no jar in ${out}`)
      // Renamed into place: another process may be listing them too.
      fs.writeFileSync(`${out}.list`, `${names.sort().join('\n')}\n`)
      fs.renameSync(`${out}.list`, listFile)
    } finally {
      fs.rmSync(pom, { force: true })
      fs.rmSync(out, { force: true })
    }
  }
  const jars = fs
    .readFileSync(listFile, 'utf8')
    .split('\n')
    .filter((n) => n !== '')
    .map((n) => path.join(libs, n))
  const missing = jars.filter((j) => !fs.existsSync(j))
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: delete ${path.dirname(LIBS)} and fetch again`)
  return jars
}

/** Kafka's `Uuid.randomUuid().toString()`: 16 random bytes, URL-safe base64 without padding, not starting with '-'. */
function kafkaUuid(): string {
  for (;;) {
    const s = randomBytes(16).toString('base64url')
    if (!s.startsWith('-')) return s
  }
}

async function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** A base port P with P, P+1, P+2 free on every host and not recorded by another cluster. */
async function pickPorts(hosts: string[], wanted: number | undefined): Promise<number> {
  const taken = new Set<number>()
  for (const n of clusterNames()) for (const node of readState(n)?.nodes ?? []) taken.add(node.port)
  const candidates = wanted ? [wanted] : Array.from({ length: 200 }, (_, i) => 9092 + i * 10)
  for (const base of candidates) {
    if (!wanted && taken.has(base)) continue
    let free = true
    for (const host of hosts) for (let p = base; p < base + 3 && free; p++) free = await canBind(host, p)
    if (free) return base
    if (wanted) throw new UsageError(`ports ${base}-${base + 2} are not free on ${hosts.join(', ')}`)
  }
  throw new Error('no free ports found for Kafka')
}

/** The shared test CA and certificates (scripts/test-certs.ts), plus Kafka's PEM key store. */
function makeKafkaCertificates(dir: string): void {
  if (fs.existsSync(path.join(dir, 'broker-keystore.pem'))) return
  const certs = makeCertificates(dir, () => aptInstall(['openssl']))
  // Kafka's PEM key store: the (unencrypted PKCS#8) private key followed by the certificate chain.
  const read = (f: string): string => fs.readFileSync(f, 'utf8')
  fs.writeFileSync(
    path.join(dir, 'broker-keystore.pem'),
    read(certs.serverKey) + read(certs.serverCert) + read(certs.ca),
  )
}

function serverProperties(state: ClusterState, node: NodeState, tlsDir: string): string {
  const voters = state.nodes.map((x) => `${x.id}@${x.host}:${x.controllerPort}`).join(',')
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;'
  return propertiesText({
    'process.roles': 'broker,controller',
    'node.id': node.id,
    'controller.quorum.voters': voters,
    listeners: `PLAINTEXT://${node.host}:${node.port},SASL_SSL://${node.host}:${node.saslPort},CONTROLLER://${node.host}:${node.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${node.host}:${node.port},SASL_SSL://${node.host}:${node.saslPort}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': path.join(node.dir, 'data'),
    // SASL over TLS: SCRAM credentials are stored in the metadata log at format time (`--add-scram`).
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': scram,
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': scram,
    'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USERNAME}="${SASL_PASSWORD}";`,
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': path.join(tlsDir, 'broker-keystore.pem'),
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': path.join(tlsDir, 'ca.pem'),
    'listener.name.sasl_ssl.ssl.client.auth': 'requested',
    ...brokerTuning(Math.min(3, state.nodes.length)),
  })
}

/**
 * The settings of every broker of ours whatever its listeners (these clusters, and the broker image of
 * `ofa image build --kafka`): a small footprint, topics created on purpose only, internal topics replicated
 * `replicationFactor` times, and short delays so that groups, the cleaner and failures act within seconds.
 */
export function brokerTuning(replicationFactor: number): Record<string, string | number> {
  const rf = replicationFactor
  return {
    // A small footprint for a shared 2-core machine.
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'num.replica.fetchers': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
    // Topics are created on purpose (EventLog.createTopic), never by a produce or a fetch.
    'auto.create.topics.enable': 'false',
    'num.partitions': 1,
    'default.replication.factor': 1,
    'offsets.topic.replication.factor': rf,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': rf,
    'share.coordinator.state.topic.min.isr': 1,
    // Fast feedback for tests: groups form at once, the cleaner and retention act within seconds.
    'group.initial.rebalance.delay.ms': 0,
    'group.min.session.timeout.ms': 1000,
    'log.cleaner.backoff.ms': 200,
    'log.retention.check.interval.ms': 5000,
    'log.segment.delete.delay.ms': 1000,
    'file.delete.delay.ms': 1000,
    // Less idle work: KRaft appends a no-op to the metadata log every 500 ms by default.
    'metadata.max.idle.interval.ms': 5000,
    // A dead node is fenced, and leaves the in-sync replicas, within seconds.
    'broker.heartbeat.interval.ms': 1000,
    'broker.session.timeout.ms': 4000,
    'replica.lag.time.max.ms': 10000,
  }
}

/** A Java properties file of `key=value` lines, in the order given (values here need no escaping). */
export function propertiesText(props: Readonly<Record<string, string | number>>): string {
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`
}

/**
 * Log4j 2's configuration for a broker: info and above, request logs at warn only, to `${kafka.logs.dir}/server.log`
 * (`file`, these clusters) or to standard output (`console`, the broker image: docker keeps a container's output).
 */
export function log4j2Properties(to: 'file' | 'console'): string {
  const appender =
    to === 'file'
      ? `appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
`
      : `appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_OUT
`
  return `status = warn
${appender}appender.${to}.layout.type = PatternLayout
appender.${to}.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.${to}.ref = ${to}
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = info
`
}

/** The JVM options of a broker (and of its storage tool): a heap of 64 to 512 MB, G1 with few threads. */
export const BROKER_JVM_OPTIONS: readonly string[] = [
  '-Xms64m',
  '-Xmx512m',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:ParallelGCThreads=2',
  '-XX:ConcGCThreads=1',
  '-XX:CICompilerCount=2',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
]

function javaArgs(node: NodeState, mainClass: string, args: string[]): string[] {
  return [
    ...BROKER_JVM_OPTIONS,
    `-Dkafka.logs.dir=${node.dir}`,
    `-Dlog4j2.configurationFile=${path.join(node.dir, 'log4j2.properties')}`,
    '-cp',
    `${LIBS}/*`,
    mainClass,
    ...args,
  ]
}

function format(state: ClusterState, node: NodeState, tlsDir: string): Promise<void> {
  fs.mkdirSync(node.dir, { recursive: true })
  const props = path.join(node.dir, 'server.properties')
  fs.writeFileSync(props, serverProperties(state, node, tlsDir))
  fs.writeFileSync(path.join(node.dir, 'log4j2.properties'), log4j2Properties('file'))
  if (fs.existsSync(path.join(node.dir, 'data', 'meta.properties'))) return Promise.resolve()
  const args = javaArgs(node, 'kafka.tools.StorageTool', [
    'format',
    '--cluster-id',
    state.clusterId,
    '--config',
    props,
    '--ignore-formatted',
    '--add-scram',
    `SCRAM-SHA-512=[name=${SASL_USERNAME},password=${SASL_PASSWORD}]`,
    '--add-scram',
    `SCRAM-SHA-256=[name=${SASL_USERNAME},password=${SASL_PASSWORD}]`,
  ])
  return new Promise((resolve, reject) => {
    const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`formatting node ${node.id} failed (exit ${code}):\n${out}`)),
    )
  })
}

function launch(node: NodeState): ChildProcess {
  const out = fs.openSync(path.join(node.dir, 'broker.out'), 'a')
  const child = spawn('java', javaArgs(node, 'kafka.Kafka', [path.join(node.dir, 'server.properties')]), {
    detached: true,
    stdio: ['ignore', out, out],
  })
  fs.closeSync(out)
  child.unref()
  return child
}

/**
 * Kafka's Metadata request, version 4 (the oldest version Kafka 4 still answers; see the protocol guide,
 * "Metadata API"): request header v1 (api_key INT16 = 3, api_version INT16 = 4, correlation_id INT32,
 * client_id STRING), then topics ARRAY (0 entries: no topics, only brokers) and allow_auto_topic_creation
 * BOOLEAN, all behind an INT32 size. The response (header: correlation_id) starts with throttle_time_ms INT32
 * and the brokers ARRAY of node_id INT32, host STRING, port INT32, rack NULLABLE_STRING: that is all we read.
 * A broker answers it only once it serves clients, and lists only the live (unfenced) brokers.
 */
export function metadataBrokers(host: string, port: number, timeoutMs = 2000): Promise<number[]> {
  const clientId = Buffer.from('ofa-kafka-script')
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1)
  let o = 0
  o = body.writeInt16BE(3, o)
  o = body.writeInt16BE(4, o)
  o = body.writeInt32BE(1, o)
  o = body.writeInt16BE(clientId.length, o)
  o += clientId.copy(body, o)
  o = body.writeInt32BE(0, o)
  body.writeInt8(0, o)
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), timeoutMs)
    socket.on('connect', () => socket.write(Buffer.concat([size, body])))
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return
      clearTimeout(timer)
      socket.end()
      try {
        let p = 4 + 4 + 4 // size, correlation id, throttle time
        const count = buf.readInt32BE(p)
        p += 4
        const ids: number[] = []
        for (let i = 0; i < count; i++) {
          ids.push(buf.readInt32BE(p))
          p += 4
          p += 2 + buf.readInt16BE(p) // host
          p += 4 // port
          const rack = buf.readInt16BE(p)
          p += 2 + Math.max(0, rack)
        }
        resolve(ids.sort((a, b) => a - b))
      } catch (err) {
        reject(err)
      }
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      reject(new Error('connection closed'))
    })
  })
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Waits until every node answers a metadata request that lists every node of the cluster. */
async function waitReady(state: ClusterState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const want = state.nodes.map((n) => n.id).join()
  for (;;) {
    let ready = true
    for (const node of state.nodes) {
      if (!isKafka(node.pid)) {
        throw new Error(
          `node ${node.id} of cluster '${state.name}' exited; last lines of ${node.log}:\n${tail(node.log)}\n${tail(path.join(node.dir, 'broker.out'), 10)}`,
        )
      }
      const ids = await metadataBrokers(node.host, node.port).catch(() => [] as number[])
      if (ids.join() !== want) ready = false
    }
    if (ready) return
    if (Date.now() > deadline) {
      throw new Error(`cluster '${state.name}' not ready after ${timeoutMs / 1000} s; see ${state.nodes[0]!.log}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}

export interface StartOptions {
  readonly name: string
  readonly brokers: number
  readonly port?: number
  readonly timeoutMs?: number
}

/** Runs `fn` holding a lock file for the cluster, so that concurrent test processes start it once. */
function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return lockIn(RUN, name, fn)
}

/** Starts the cluster (or the nodes of it that are not running) and resolves once it serves clients. */
export function start(opts: StartOptions): Promise<ClusterState> {
  return withLock(opts.name, () => startLocked(opts))
}

async function startLocked(opts: StartOptions): Promise<ClusterState> {
  if (![1, 3].includes(opts.brokers)) throw new UsageError('--brokers must be 1 or 3')
  let state = readState(opts.name)
  if (state && state.nodes.length !== opts.brokers) {
    throw new UsageError(
      `cluster '${opts.name}' has ${state.nodes.length} node(s); run 'scripts/kafka stop --name ${opts.name} --clean' first, or choose another --name`,
    )
  }
  if (state && opts.port && state.nodes[0]!.port !== opts.port) {
    throw new UsageError(
      `cluster '${opts.name}' uses port ${state.nodes[0]!.port}; run 'scripts/kafka stop --name ${opts.name} --clean' first`,
    )
  }
  if (state && state.version !== KAFKA_VERSION) {
    throw new UsageError(`cluster '${opts.name}' was made by Kafka ${state.version}; stop it with --clean first`)
  }
  if (state?.nodes.every((n) => isKafka(n.pid))) return state
  fetchKafka()
  const dir = path.join(RUN, opts.name)
  const tlsDir = path.join(dir, 'tls')
  if (!state) {
    const hosts = Array.from({ length: opts.brokers }, (_, i) => `127.0.0.${i + 1}`)
    // One cluster at a time picks its ports and records them (clusters may be started concurrently).
    state = await withLock('.ports', async () => {
      const base = await pickPorts(hosts, opts.port)
      const nodes: NodeState[] = hosts.map((host, i) => ({
        id: i + 1,
        host,
        port: base,
        saslPort: base + 1,
        controllerPort: base + 2,
        dir: path.join(dir, `node-${i + 1}`),
        log: path.join(dir, `node-${i + 1}`, 'server.log'),
        pid: null,
      }))
      const fresh: ClusterState = {
        name: opts.name,
        version: KAFKA_VERSION,
        clusterId: kafkaUuid(),
        nodes,
        bootstrap: nodes.map((n) => `${n.host}:${n.port}`).join(','),
        saslBootstrap: nodes.map((n) => `${n.host}:${n.saslPort}`).join(','),
        sasl: {
          username: SASL_USERNAME,
          password: SASL_PASSWORD,
          mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'],
        },
        tls: {
          ca: path.join(tlsDir, 'ca.pem'),
          clientCert: path.join(tlsDir, 'client.pem'),
          clientKey: path.join(tlsDir, 'client.key'),
        },
      }
      writeState(fresh)
      return fresh
    })
  }
  makeKafkaCertificates(tlsDir)
  const started = Date.now()
  const down = state.nodes.filter((n) => !isKafka(n.pid))
  for (const node of down) {
    for (const p of [node.port, node.saslPort, node.controllerPort]) {
      if (!(await canBind(node.host, p))) throw new Error(`${node.host}:${p} is taken by another process`)
    }
  }
  await Promise.all(down.map((node) => format(state, node, tlsDir)))
  for (const node of down) node.pid = launch(node).pid ?? null
  writeState(state)
  await waitReady(state, opts.timeoutMs ?? 120_000)
  log(
    `kafka ${KAFKA_VERSION} '${state.name}': ${down.length} of ${state.nodes.length} node(s) started, ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
  return state
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Stops a cluster: SIGTERM (a clean shutdown), SIGKILL after `graceMs`; `clean` deletes its data too. */
export async function stop(name: string, clean: boolean, graceMs = 20_000): Promise<void> {
  const state = readState(name)
  if (!state) return
  const pids = state.nodes.map((n) => n.pid).filter((p): p is number => isKafka(p))
  for (const pid of pids) process.kill(pid, clean ? 'SIGKILL' : 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL')
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 50))
  if (clean) {
    fs.rmSync(path.join(RUN, name), { recursive: true, force: true })
  } else {
    for (const n of state.nodes) n.pid = null
    writeState(state)
  }
  log(`kafka '${name}': stopped${clean ? ', data deleted' : ''}`)
}

/**
 * The environment variables the Kafka tests read: the single-node cluster's as OFA_KAFKA_*, a three-node
 * cluster's as OFA_KAFKA3_* (`prefix`).
 */
export function envFor(state: ClusterState, prefix = 'OFA_KAFKA'): Record<string, string> {
  return {
    [`${prefix}_CLUSTER`]: state.name,
    [`${prefix}_BOOTSTRAP`]: state.bootstrap,
    [`${prefix}_SASL_BOOTSTRAP`]: state.saslBootstrap,
    [`${prefix}_SASL_USERNAME`]: state.sasl.username,
    [`${prefix}_SASL_PASSWORD`]: state.sasl.password,
    [`${prefix}_TLS_CA`]: state.tls.ca,
    [`${prefix}_TLS_CERT`]: state.tls.clientCert,
    [`${prefix}_TLS_KEY`]: state.tls.clientKey,
  }
}

/** kill -9 of one node (for failure tests). */
export function killNode(name: string, id: number): void {
  const node = readState(name)?.nodes.find((n) => n.id === id)
  if (!node) throw new UsageError(`no node ${id} in cluster '${name}'`)
  if (isKafka(node.pid)) process.kill(node.pid!, 'SIGKILL')
}

export function status(name?: string): (ClusterState & { running: boolean[] })[] {
  const names = name ? [name] : clusterNames()
  return names
    .map((n) => readState(n))
    .filter((s): s is ClusterState => s !== undefined)
    .map((s) => ({ ...s, running: s.nodes.map((n) => isKafka(n.pid)) }))
}

function describe(state: ClusterState): string {
  const lines = [
    `cluster '${state.name}' (Kafka ${state.version}, ${state.nodes.length} node${state.nodes.length > 1 ? 's' : ''})`,
    `  bootstrap servers (PLAINTEXT): ${state.bootstrap}`,
    `  bootstrap servers (SASL_SSL):  ${state.saslBootstrap}  mechanisms ${state.sasl.mechanisms.join(', ')}, user ${state.sasl.username}, password ${state.sasl.password}, CA ${state.tls.ca}`,
  ]
  for (const n of state.nodes) {
    lines.push(
      `  node ${n.id}: ${isKafka(n.pid) ? `running, pid ${n.pid}` : 'stopped'}; ${n.host}:${n.port} (SASL_SSL ${n.saslPort}, controller ${n.controllerPort}); log ${n.log}`,
    )
  }
  return lines.join('\n')
}

function parseArgs(argv: string[]): { cmd: string; flags: Map<string, string | true> } {
  const [cmd = 'help', ...rest] = argv
  const flags = new Map<string, string | true>()
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${a}`)
    const [k, v] = a.slice(2).split('=', 2) as [string, string | undefined]
    if (v !== undefined) flags.set(k, v)
    else if (['clean', 'json'].includes(k)) flags.set(k, true)
    else {
      const next = rest[++i]
      if (next === undefined) throw new UsageError(`--${k} needs a value`)
      flags.set(k, next)
    }
  }
  return { cmd, flags }
}

function intFlag(flags: Map<string, string | true>, name: string): number | undefined {
  const v = flags.get(name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 1 || n > 65_000) {
    throw new UsageError(`--${name} must be a number`)
  }
  return n
}

const USAGE = `usage:
  scripts/kafka start [--name N] [--brokers 1|3] [--port P] [--json]
  scripts/kafka status [--name N] [--json]
  scripts/kafka stop [--name N] [--clean]
  scripts/kafka kill --name N --node I
  scripts/kafka env [--name N]          (export lines for the tests: eval "$(scripts/kafka env)")
  scripts/kafka fetch
  scripts/kafka ensure-kcat
Clusters are named (default 'default'); node I listens on 127.0.0.I: PLAINTEXT on P (default: 9092 or the
next free), SASL_SSL on P+1 (user ${SASL_USERNAME}, password ${SASL_PASSWORD}), its controller on P+2.`

async function main(argv: string[]): Promise<number> {
  const { cmd, flags } = parseArgs(argv)
  const name = typeof flags.get('name') === 'string' ? (flags.get('name') as string) : undefined
  if (name !== undefined && !/^[A-Za-z0-9_-]+$/.test(name)) throw new UsageError('--name: letters, digits, - and _')
  const json = flags.get('json') === true
  switch (cmd) {
    case 'start': {
      const state = await start({
        name: name ?? 'default',
        brokers: intFlag(flags, 'brokers') ?? 1,
        port: intFlag(flags, 'port'),
      })
      process.stdout.write(json ? `${JSON.stringify(state)}\n` : `${describe(state)}\n`)
      return 0
    }
    case 'status': {
      const all = status(name)
      if (json) process.stdout.write(`${JSON.stringify(name ? (all[0] ?? null) : all)}\n`)
      else process.stdout.write(all.length ? `${all.map(describe).join('\n')}\n` : 'no Kafka cluster\n')
      return name && all.length === 0 ? 1 : 0
    }
    case 'stop':
      for (const n of name ? [name] : clusterNames()) await stop(n, flags.get('clean') === true)
      return 0
    case 'kill': {
      const id = intFlag(flags, 'node')
      if (!name || !id) throw new UsageError('kill needs --name and --node')
      killNode(name, id)
      return 0
    }
    case 'env': {
      const state = status(name ?? 'default')[0]
      if (!state) throw new UsageError(`no cluster '${name ?? 'default'}'; start it first`)
      const prefix = state.nodes.length > 1 ? 'OFA_KAFKA3' : 'OFA_KAFKA'
      for (const [k, v] of Object.entries(envFor(state, prefix))) process.stdout.write(`export ${k}='${v}'\n`)
      return 0
    }
    case 'fetch':
      process.stdout.write(`${fetchKafka()}\n`)
      return 0
    case 'ensure-kcat':
      ensureKcat()
      return 0
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`)
      return 0
    default:
      throw new UsageError(`unknown command ${cmd}`)
  }
}

if (import.meta.main) runScript('scripts/kafka', USAGE, main)
