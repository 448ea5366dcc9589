// The Kafka Streams anchor of the SQL benchmarks: bench/kafka-streams (a Java 17 program of ours on
// org.apache.kafka:kafka-streams, the broker's Kafka version) built with Maven into .cache/kafka-streams-bench/
// <hash of its sources>/ once, and run as `java -cp ... Main` over topics that were filled before the run (see
// stream-bench-data.ts). The program measures itself, from its first record read to the return of the offset
// commit that takes the input to its end (bench/kafka-streams/README.md says why that marks the last output
// written), and prints one JSON line.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { KAFKA_VERSION } from '../../scripts/kafka.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const SOURCES = path.join(ROOT, 'bench', 'kafka-streams')
const CACHE = path.join(ROOT, '.cache', 'kafka-streams-bench')
const MAIN_CLASS = 'org.openfactory.bench.kafkastreams.Main'

export type KafkaStreamsBenchMode = 'filter-project' | 'tumbling-aggregate' | 'stream-table-join'
export type ProcessingGuarantee = 'exactly_once_v2' | 'at_least_once'

export interface KafkaStreamsBenchOptions {
  /** `host:port,...` of the brokers. */
  readonly bootstrap: string
  readonly mode: KafkaStreamsBenchMode
  /** Filled before the run; every record in it is processed. */
  readonly inputTopic: string
  /** stream-table-join only: the table's compacted topic, with the input's partition count. */
  readonly tableTopic?: string
  /** Created with the input's partition count when missing; best a fresh topic per run. */
  readonly outputTopic: string
  /** When given, the run fails unless the input topic holds exactly this many records. */
  readonly records?: number
  /** Default `exactly_once_v2` (our engine gives exactly once). */
  readonly guarantee?: ProcessingGuarantee
  /** filter-project's `value > threshold`. Default 10. */
  readonly threshold?: number
  /** Kafka Streams' `commit.interval.ms`. Default 100 (its default under exactly-once), for both guarantees. */
  readonly commitIntervalMs?: number
  /**
   * Runs of the same query over the same input in the same JVM before the measured one (each with its own
   * application.id and a scratch output topic, deleted after), so that the measured run finds the JIT warm.
   * Default 1. Their figures are in `warmups`: the first is the cold figure.
   */
  readonly warmupRuns?: number
  /** JVM heap (-Xms and -Xmx), MiB. Default 1024. */
  readonly heapMb?: number
  /** Default 10 minutes. */
  readonly timeoutMs?: number
  /** Stops the run (SIGTERM to the JVM's process group, SIGKILL 10 s later); the promise rejects. */
  readonly signal?: AbortSignal
  /** Receives the JVM's stderr (Kafka's warnings and errors) as it comes. Default: kept for error messages. */
  readonly onStderr?: (text: string) => void
}

export interface KafkaStreamsBenchResult {
  readonly engine: 'kafka-streams'
  /** Of the kafka-streams and kafka-clients jars on the classpath. */
  readonly kafkaStreamsVersion: string
  readonly java: string
  readonly mode: KafkaStreamsBenchMode
  readonly guarantee: ProcessingGuarantee
  /** num.stream.threads: one processing thread (rows/s per core is the comparison). */
  readonly threads: 1
  readonly threadsNote: string
  /** Input records processed (the table's not counted). */
  readonly records: number
  readonly tableRecords: number
  readonly partitions: number
  /** Records in the output topic after the run (read_committed). */
  readonly outputs: number
  /** From the first record read to the return of the commit that takes the input's offsets to its end. */
  readonly seconds: number
  /** records / seconds. */
  readonly rowsPerSecond: number
  /** CPU time of the whole JVM over `seconds` (all threads: processing, network, JIT, GC). */
  readonly processCpuSeconds: number
  /** CPU time of the one stream thread over `seconds`. */
  readonly streamThreadCpuSeconds: number
  /** Offset commits (transactions under exactly-once) during the measured run. */
  readonly commits: number
  readonly warmupRuns: number
  /** The warm-up runs' figures, in order (the first ran on a cold JVM). */
  readonly warmups: readonly {
    readonly seconds: number
    readonly rowsPerSecond: number
    readonly processCpuSeconds: number
    readonly outputs: number
    readonly startupSeconds: number
    readonly firstReadEpochMs: number
  }[]
  /** Of the measured run: from `KafkaStreams.start()` to the first record read (group join, assignment, restoration). */
  readonly startupSeconds: number
  /**
   * From spawning `java` to the first run's first record read (JVM start, topic checks, group join, assignment,
   * restoration): what starting the anchor costs before anything is measured.
   */
  readonly processStartupSeconds: number
  /** From spawning `java` to its exit (includes counting the outputs and deleting the internal topics). */
  readonly wallSeconds: number
  readonly applicationId: string
  readonly commitIntervalMs: number
  readonly cacheMaxBytes: number
  readonly topologyOptimization: string
  readonly measured: string
  /** Whether this call built the program first, and how long that took. */
  readonly build: KafkaStreamsBuild
}

export interface KafkaStreamsBuild {
  /** `<dir>/kafka-streams-bench.jar:<dir>/lib/*` */
  readonly classpath: string
  readonly dir: string
  /** False when a build of the same sources was cached. */
  readonly built: boolean
  readonly seconds: number
}

/** The source files that make the program: pom.xml and everything under src/, sorted. */
function sourceFiles(): string[] {
  const files = ['pom.xml']
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(SOURCES, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name)
      if (e.isDirectory()) walk(r)
      else if (e.isFile()) files.push(r)
    }
  }
  walk('src')
  return files.sort()
}

/** A hash of the sources and the Kafka version: the cache key of a build. */
export function kafkaStreamsBenchHash(): string {
  const h = createHash('sha256').update(`kafka ${KAFKA_VERSION}\0`)
  for (const f of sourceFiles()) {
    h.update(`${f}\0`)
    h.update(fs.readFileSync(path.join(SOURCES, f)))
    h.update('\0')
  }
  return h.digest('hex').slice(0, 16)
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${cmd} not found: install it (Debian: apt-get install maven openjdk-17-jdk-headless)`)
          : err,
      ),
    )
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${out}`)),
    )
  })
}

/**
 * Builds the program unless a build of the same sources is cached: `mvn package dependency:copy-dependencies`
 * into a folder of its own, renamed into place when complete (another process may be building too).
 */
export async function buildKafkaStreamsBench(): Promise<KafkaStreamsBuild> {
  const started = performance.now()
  const dir = path.join(CACHE, kafkaStreamsBenchHash())
  const result = (built: boolean): KafkaStreamsBuild => ({
    classpath: `${path.join(dir, 'kafka-streams-bench.jar')}${path.delimiter}${path.join(dir, 'lib', '*')}`,
    dir,
    built,
    seconds: (performance.now() - started) / 1000,
  })
  if (fs.existsSync(path.join(dir, '.complete'))) return result(false)
  const tmp = `${dir}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  try {
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        path.join(SOURCES, 'pom.xml'),
        `-Dkafka.version=${KAFKA_VERSION}`,
        `-DbuildDir=${path.join(tmp, 'target')}`,
        'package',
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${path.join(tmp, 'lib')}`,
      ],
      SOURCES,
    )
    fs.renameSync(path.join(tmp, 'target', 'kafka-streams-bench.jar'), path.join(tmp, 'kafka-streams-bench.jar'))
    fs.rmSync(path.join(tmp, 'target'), { recursive: true, force: true })
    if (!fs.existsSync(path.join(tmp, 'lib', `kafka-streams-${KAFKA_VERSION}.jar`))) {
      throw new Error(`the build did not fetch kafka-streams-${KAFKA_VERSION}.jar`)
    }
    fs.writeFileSync(path.join(tmp, '.complete'), `${new Date().toISOString()}\n`)
    if (fs.existsSync(path.join(dir, '.complete'))) fs.rmSync(tmp, { recursive: true, force: true })
    else {
      fs.rmSync(dir, { recursive: true, force: true })
      fs.renameSync(tmp, dir)
    }
    // Builds of older sources go (complete ones only: a folder being built has no .complete yet).
    for (const old of fs.readdirSync(CACHE)) {
      const p = path.join(CACHE, old)
      if (p !== dir && fs.existsSync(path.join(p, '.complete'))) fs.rmSync(p, { recursive: true, force: true })
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true })
    throw err
  }
  return result(true)
}

/**
 * Runs one mode once over topics filled beforehand. The JVM runs in its own process group, stopped as a group
 * when `signal` aborts, on timeout, or when this process exits; the promise resolves with the program's figures.
 */
export async function runKafkaStreamsBench(o: KafkaStreamsBenchOptions): Promise<KafkaStreamsBenchResult> {
  if ((o.mode === 'stream-table-join') !== (o.tableTopic !== undefined)) {
    throw new Error('tableTopic is needed by stream-table-join, and only by it')
  }
  o.signal?.throwIfAborted()
  const build = await buildKafkaStreamsBench()
  o.signal?.throwIfAborted()
  const heap = `${o.heapMb ?? 1024}m`
  const timeoutMs = o.timeoutMs ?? 600_000
  const args = [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-cp',
    build.classpath,
    MAIN_CLASS,
    '--bootstrap',
    o.bootstrap,
    '--mode',
    o.mode,
    '--input',
    o.inputTopic,
    '--output',
    o.outputTopic,
    '--guarantee',
    o.guarantee ?? 'exactly_once_v2',
    '--timeout-ms',
    String(timeoutMs),
    '--warmup',
    String(o.warmupRuns ?? 1),
    ...(o.tableTopic ? ['--table', o.tableTopic] : []),
    ...(o.records !== undefined ? ['--expect-records', String(o.records)] : []),
    ...(o.threshold !== undefined ? ['--threshold', String(o.threshold)] : []),
    ...(o.commitIntervalMs !== undefined ? ['--commit-interval-ms', String(o.commitIntervalMs)] : []),
  ]
  const spawnedAt = Date.now()
  const child = spawn('java', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = child.pid
  const killGroup = (sig: NodeJS.Signals): void => {
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    try {
      process.kill(-pid, sig)
    } catch {
      // already gone
    }
  }
  // The JVM is in a group of its own, so a Ctrl-C in the terminal does not reach it: stop it when this process
  // exits or is stopped by a signal. The JVM's shutdown hook then closes the application and deletes its topics.
  const onExit = (): void => killGroup('SIGKILL')
  process.on('exit', onExit)
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  // Whether the signal had no listener before ours: then ours does what the signal would have done without it.
  const alone = new Map(SIGNALS.map((sig) => [sig, process.listenerCount(sig) === 0]))
  const onSignal = (sig: NodeJS.Signals): void => {
    killGroup('SIGTERM')
    if (alone.get(sig as (typeof SIGNALS)[number]) && process.listenerCount(sig) === 1) {
      process.off(sig, onSignal)
      process.kill(process.pid, sig)
    }
  }
  for (const sig of SIGNALS) process.on(sig, onSignal)
  let stopReason: string | undefined
  let hardKill: NodeJS.Timeout | undefined
  const stop = (reason: string): void => {
    if (stopReason) return
    stopReason = reason
    killGroup('SIGTERM')
    hardKill = setTimeout(() => killGroup('SIGKILL'), 10_000)
  }
  const onAbort = (): void => stop('aborted')
  o.signal?.addEventListener('abort', onAbort, { once: true })
  // The program enforces timeoutMs on each run itself; this one catches a JVM that hangs anyway.
  const limitMs = (timeoutMs + 60_000) * (1 + (o.warmupRuns ?? 1))
  const timer = setTimeout(() => stop(`timed out after ${limitMs / 1000} s`), limitMs)

  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    o.onStderr?.(d)
    stderr = (stderr + d).slice(-20_000)
  })
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.on('error', (err) =>
          reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('java not found (Java 17 needed)') : err),
        )
        child.on('close', (code, signal) => resolve({ code, signal }))
      },
    )
    const wallSeconds = (Date.now() - spawnedAt) / 1000
    if (stopReason) throw new Error(`Kafka Streams bench ${o.mode}: ${stopReason}`, { cause: o.signal?.reason })
    const line = stdout
      .trim()
      .split('\n')
      .findLast((l) => l.startsWith('{'))
    if (code !== 0 || !line) {
      throw new Error(`Kafka Streams bench ${o.mode} failed (exit ${code ?? signal}):\n${stderr.slice(-5000)}`)
    }
    const r = JSON.parse(line) as Omit<KafkaStreamsBenchResult, 'processStartupSeconds' | 'wallSeconds' | 'build'> & {
      firstReadEpochMs: number
    }
    const { firstReadEpochMs, ...figures } = r
    const firstRead = figures.warmups[0]?.firstReadEpochMs ?? firstReadEpochMs
    return { ...figures, processStartupSeconds: (firstRead - spawnedAt) / 1000, wallSeconds, build }
  } finally {
    clearTimeout(timer)
    clearTimeout(hardKill)
    o.signal?.removeEventListener('abort', onAbort)
    process.off('exit', onExit)
    for (const sig of SIGNALS) process.off(sig, onSignal)
    killGroup('SIGKILL')
  }
}
