/**
 * The root filesystem of the Kafka broker image (`ofa image build --kafka`), built from what this machine has, with
 * no base image — the broker of scripts/kafka.ts, packaged:
 *
 * - /opt/java: a Java runtime that `jlink` makes from this machine's JDK (17 or later) with only the modules the
 *   broker needs (KAFKA_JAVA_MODULES), without debug attributes, headers and man pages, compressed;
 * - /opt/kafka/libs: the jars of the broker alone (scripts/kafka.ts `brokerJars`: `kafka_2.13` and the log4j 2
 *   binding with their runtime dependencies, from the Maven cache fetchKafka fills), not the tools';
 * - /opt/kafka/entrypoint: KafkaEntrypoint, compiled here with `javac` against those jars (the image has no shell:
 *   it formats the storage on the first start, then runs the broker; and it is the healthcheck);
 * - /opt/kafka/config: the broker's settings (scripts/kafka.ts `brokerTuning` for one node, PLAINTEXT and the
 *   KRaft controller's listener) and log4j 2's, logging to standard output;
 * - the shared libraries `ldd` lists for the runtime's binaries and libraries and for the native libraries of the
 *   jars for this machine (zstd, snappy, lz4 compression), at the paths `ldd` gives; a few files of /etc; /tmp
 *   writable by all (the jars' native libraries are unpacked there); /var/lib/kafka, where the data volume goes.
 *
 * The runtime and the compiled entrypoint are kept in .cache/kafka-image/ under a key of what made them (the JDK's
 * version, the modules, the source), so that a rebuild of unchanged inputs gives the same bytes — `jlink` and
 * `javac` give the same output for the same input, the cache only saves their time (about 6 s here).
 */
import { createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { OpenFactoryError } from '@openfactory/model'
import type * as KafkaScript from '../../../../scripts/kafka.ts'
import { capture, ETC, sharedLibraries, Tree } from './root-filesystem.ts'
import type { TarEntry } from './tar-writer.ts'

/** Where things are in the image. */
export const KAFKA_IMAGE_LAYOUT = {
  java: '/opt/java/bin/java',
  runtime: '/opt/java',
  libs: '/opt/kafka/libs',
  entrypoint: '/opt/kafka/entrypoint',
  settings: '/opt/kafka/config/server.properties',
  log4j: '/opt/kafka/config/log4j2.properties',
  /** The data volume: the node's server.properties, and the logs in data/. */
  home: '/var/lib/kafka',
} as const

/**
 * The Java modules of the runtime, found by trying (a broker formatted, started, and serving produce, fetch,
 * the five compressions and a consumer group): java.base; java.management (the broker's JMX metrics);
 * java.security.sasl (the network layer loads SASL classes even for PLAINTEXT listeners: without it the broker
 * exits at start); java.desktop for the java.beans classes log4j-core needs at start (its native libraries are
 * left out, see JLINK_OPTIONS); java.naming (log4j's JNDI lookup class, which otherwise warns at each start);
 * jdk.unsupported (sun.misc.Unsafe for lz4, zstd, caffeine). Kerberos (java.security.jgss) is left out: the
 * image has PLAINTEXT listeners only.
 */
export const KAFKA_JAVA_MODULES = [
  'java.base',
  'java.desktop',
  'java.management',
  'java.naming',
  'java.security.sasl',
  'jdk.unsupported',
] as const

/** jlink's options besides the modules: the AWT and sound libraries of java.desktop are not copied (headless). */
const JLINK_OPTIONS = [
  '--strip-debug',
  '--no-header-files',
  '--no-man-pages',
  '--compress=2',
  '--exclude-files=/java.desktop/**',
] as const

/** The healthcheck of the image: a small JVM asking the broker for its metadata (KafkaEntrypoint `health`). */
export const KAFKA_HEALTHCHECK: readonly string[] = [
  KAFKA_IMAGE_LAYOUT.java,
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-XX:-UsePerfData',
  '-Xms8m',
  '-Xmx16m',
  '-cp',
  KAFKA_IMAGE_LAYOUT.entrypoint,
  'KafkaEntrypoint',
  'health',
]

const ENTRYPOINT_SOURCE = fileURLToPath(new URL('./kafka-entrypoint/KafkaEntrypoint.java', import.meta.url))

export interface KafkaRootFilesystemOptions {
  /** The repository: its scripts/kafka.ts fetches the jars; .cache/kafka-image keeps the runtime. */
  readonly root: string
  /** The environment `jlink`, `javac`, `ldd`, `unzip` and Maven run with (PATH, JAVA_HOME). */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface KafkaRootFilesystem {
  /** Every member, parents before children, sorted by path. */
  readonly entries: readonly TarEntry[]
  /** The image's entrypoint (`docker import --change ENTRYPOINT`). */
  readonly entrypoint: readonly string[]
  readonly kafkaVersion: string
  /** The version of the JDK that made the runtime. */
  readonly javaVersion: string
  readonly jars: number
  /** The libraries' paths, as `ldd` printed them. */
  readonly libraries: readonly string[]
  readonly files: number
  /** The files' bytes. */
  readonly bytes: number
}

const buildError = (message: string, cause?: unknown) => new OpenFactoryError('OFA_IMAGE_BUILD', message, { cause })

const key = (...parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16)

/** scripts/kafka.ts of the repository, loaded when it is needed (the `ofa` image has no scripts/). */
async function kafkaScript(root: string): Promise<typeof KafkaScript> {
  const file = path.join(root, 'scripts', 'kafka.ts')
  if (!existsSync(file)) {
    throw buildError(`${file} is missing: the Kafka image is built from a checkout of the OpenFactory repository`)
  }
  return (await import(pathToFileURL(file).href)) as typeof KafkaScript
}

/** A JDK command: $JAVA_HOME/bin/<name>, else <name> on PATH; its version (`17.0.15`) checked to be 17 or later. */
async function jdkTool(name: 'jlink' | 'javac', env: KafkaRootFilesystemOptions['env']) {
  const command = env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', name) : name
  const r = await capture(command, ['--version'], { env }).catch((err: unknown) => {
    throw buildError(
      `${command} is missing: the Kafka image needs a JDK 17 or later (Debian: apt-get install openjdk-17-jdk-headless; or set JAVA_HOME)`,
      err,
    )
  })
  const version = /(\d+)(\.[\d.]+)?/.exec(r.stdout + r.stderr)
  if (r.code !== 0 || !version) throw buildError(`${command} --version failed: ${(r.stderr || r.stdout).trim()}`)
  if (Number(version[1]) < 17) throw buildError(`${command} is of Java ${version[0]}: Kafka 4 needs 17 or later`)
  return { command, version: version[0] }
}

/**
 * A directory of the cache made by `make` (into a directory of its own, renamed into place at the end: another
 * build may be making it too); kept, the next build takes it as it is.
 */
async function cachedDir(dir: string, make: (into: string) => Promise<void>): Promise<string> {
  if (existsSync(dir)) return dir
  mkdirSync(path.dirname(dir), { recursive: true })
  const into = `${dir}.tmp-${process.pid}`
  rmSync(into, { recursive: true, force: true })
  try {
    await make(into)
    renameSync(into, dir)
  } catch (err) {
    rmSync(into, { recursive: true, force: true })
    if (!existsSync(dir)) throw err
  }
  return dir
}

async function runOrThrow(command: string, args: string[], env: KafkaRootFilesystemOptions['env']): Promise<string> {
  const r = await capture(command, args, { env })
  if (r.code !== 0) {
    throw buildError(`${path.basename(command)} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`)
  }
  return r.stdout
}

function isElf(file: string): boolean {
  const head = Buffer.alloc(4)
  const fd = openSync(file, 'r')
  try {
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === '\x7fELF'
  } finally {
    closeSync(fd)
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
}

/** How jars name this machine's architecture in the paths of their native libraries. */
const ARCH_NAMES: Readonly<Record<string, readonly string[]>> = {
  x64: ['amd64', 'x86_64'],
  arm64: ['aarch64', 'arm64'],
}

/**
 * The native libraries the jars carry for Linux on this machine (unpacked into `into` to be read by `ldd`): the
 * libraries the JVM loads from them must find theirs in the image too.
 */
async function jarNativeLibraries(jars: readonly string[], into: string, env: KafkaRootFilesystemOptions['env']) {
  const arch = ARCH_NAMES[process.arch] ?? [process.arch]
  const native = new RegExp(`(^|/)linux/(${arch.join('|')})/[^/]+\\.so$`, 'i')
  const out: string[] = []
  for (const jar of jars) {
    const r = await capture('unzip', ['-Z1', jar], { env }).catch((err: unknown) => {
      throw buildError('unzip is missing: it lists the native libraries of the jars (apt-get install unzip)', err)
    })
    if (r.code !== 0) throw buildError(`unzip -Z1 ${jar} failed: ${r.stderr.trim()}`)
    const entries = r.stdout.split('\n').filter((e) => native.test(e))
    if (entries.length === 0) continue
    const dir = path.join(into, path.basename(jar))
    await runOrThrow('unzip', ['-q', '-o', jar, ...entries, '-d', dir], env)
    out.push(...entries.map((e) => path.join(dir, e)))
  }
  return out
}

/** Lists the image's files; makes the runtime and the entrypoint's classes when the cache does not have them. */
export async function planKafkaRootFilesystem(opts: KafkaRootFilesystemOptions): Promise<KafkaRootFilesystem> {
  const { root, env } = opts
  const kafka = await kafkaScript(root)
  let jars: string[]
  try {
    jars = kafka.brokerJars()
  } catch (err) {
    throw buildError(`cannot get Kafka ${kafka.KAFKA_VERSION}'s jars: ${(err as Error).message}`, err)
  }
  const cache = path.join(root, '.cache', 'kafka-image')
  const jlink = await jdkTool('jlink', env)
  const modules = KAFKA_JAVA_MODULES.join(',')
  const runtime = await cachedDir(
    path.join(cache, `java-${jlink.version}-${key(realpathOf(jlink.command, env), modules, JLINK_OPTIONS)}`),
    async (into) => {
      await runOrThrow(jlink.command, ['--add-modules', modules, ...JLINK_OPTIONS, '--output', into], env)
    },
  )
  const javac = await jdkTool('javac', env)
  const source = readFileSync(ENTRYPOINT_SOURCE)
  const classes = await cachedDir(
    path.join(
      cache,
      `entrypoint-${key(
        source.toString('base64'),
        javac.version,
        jars.map((j) => path.basename(j)),
      )}`,
    ),
    async (into) => {
      mkdirSync(into, { recursive: true })
      await runOrThrow(
        javac.command,
        ['--release', '17', '-d', into, '-cp', jars.join(path.delimiter), ENTRYPOINT_SOURCE],
        env,
      )
    },
  )

  // The libraries of the runtime's binaries (libjvm.so found in the runtime, as the launcher finds it) and of the
  // jars' native libraries; those of the runtime itself are in the tree already.
  const lddEnv = { ...env, LD_LIBRARY_PATH: [path.join(runtime, 'lib', 'server'), path.join(runtime, 'lib')].join(':') }
  const unpacked = mkdtempSync(path.join(tmpdir(), 'ofa-kafka-natives-'))
  const libraries = new Set<string>()
  try {
    const binaries = [...filesUnder(runtime).filter(isElf), ...(await jarNativeLibraries(jars, unpacked, env))]
    for (const binary of binaries) {
      for (const lib of await sharedLibraries(binary, lddEnv)) {
        if (!lib.startsWith(`${runtime}/`)) libraries.add(lib)
      }
    }
  } finally {
    rmSync(unpacked, { recursive: true, force: true })
  }

  const L = KAFKA_IMAGE_LAYOUT
  const tree = new Tree()
  tree.addTree(L.runtime, runtime)
  for (const lib of [...libraries].sort()) tree.addFile(lib, lib, 0o755)
  for (const [file, text] of Object.entries(ETC)) tree.addText(file, text)
  tree.add({ kind: 'directory', path: 'tmp', mode: 0o1777 })
  tree.add({ kind: 'directory', path: 'root', mode: 0o700 })
  tree.add({ kind: 'directory', path: L.home, mode: 0o755 })
  for (const jar of jars) tree.addFile(`${L.libs}/${path.basename(jar)}`, jar, 0o644)
  tree.addTree(L.entrypoint, classes)
  tree.addText(
    L.settings,
    kafka.propertiesText({
      'process.roles': 'broker,controller',
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      ...kafka.brokerTuning(1),
    }),
  )
  tree.addText(L.log4j, kafka.log4j2Properties('console'))
  const entrypoint = [
    L.java,
    ...kafka.BROKER_JVM_OPTIONS,
    `-Dlog4j2.configurationFile=${L.log4j}`,
    `-Dofa.kafka.settings=${L.settings}`,
    `-Dofa.kafka.home=${L.home}`,
    '-cp',
    `${L.entrypoint}:${L.libs}/*`,
    'KafkaEntrypoint',
  ]
  return {
    entries: tree.entries(),
    entrypoint,
    kafkaVersion: kafka.KAFKA_VERSION,
    javaVersion: jlink.version,
    jars: jars.length,
    libraries: [...libraries].sort(),
    files: tree.files,
    bytes: tree.bytes,
  }
}

/** The real path of a command given by name (found on PATH) or by path, for the cache key: which JDK made it. */
function realpathOf(command: string, env: KafkaRootFilesystemOptions['env']): string {
  const dirs = command.includes('/') ? [''] : (env.PATH ?? '').split(path.delimiter)
  for (const dir of dirs) {
    const file = dir === '' ? command : path.join(dir, command)
    if (existsSync(file)) return realpathSync(file)
  }
  return command
}
