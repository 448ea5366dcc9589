/**
 * An app with a `command:` (apps YAML, our addition to the reference format) run by `ofa up` as a local process,
 * in any language, supervised like a connector: the supervisor declares its asset (type `OpenFactoryApp`) and
 * keeps its `avail` — AVAILABLE while the process runs, UNAVAILABLE with the reason when it exits — and restarts
 * it with backoff after it exits (`ctx.fail`).
 *
 * The process runs in the folder of the file that declares the app, in its own process group (stopped as a
 * group: SIGTERM, then SIGKILL after `stopTimeoutMs`), with the environment the reference gives its apps
 * (`APP_UUID`, `KAFKA_BROKER` on a Kafka backbone, `KSQLDB_URL`) and ours (`OFA_*`, docs/reference/apps.md),
 * then the app's own `environment:` entries. Its output lines are logged under its name (4 KiB at most a line).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname } from 'node:path'
import { appAsset, type Connector, type ConnectorContext } from '@openfactory/connectors'
import { type AppConfig, type KafkaBackboneOptions, OpenFactoryError } from '@openfactory/model'

/** The longest output line logged as is; longer ones are cut. */
export const APP_LINE_BYTES = 4096

export interface AppProcessOptions {
  readonly app: AppConfig
  /** What OpenFactory tells the app: backbone, API, topics (see `appEnvironment`). */
  readonly environment: Readonly<Record<string, string>>
  /** Default 5000 ms. */
  readonly stopTimeoutMs?: number
}

export interface AppEnvironmentOptions {
  readonly apiUrl: string
  /** The self-signed certificate the API serves (`--tls self-signed`): the app trusts it to call the API. */
  readonly apiCa?: string
  readonly backbone:
    | { readonly type: 'embedded' }
    | {
        readonly type: 'kafka'
        readonly bootstrapServers: readonly string[]
        /** The connection's security (flags, variables, factory.yaml): the app connects as `ofa up` does. */
        readonly security?: KafkaBackboneOptions['security']
      }
}

/** The variables every local app gets (before its own `environment:`). */
export function appEnvironment(app: AppConfig, opts: AppEnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {
    APP_UUID: app.uuid,
    KSQLDB_URL: opts.apiUrl,
    OFA_APP_UUID: app.uuid,
    OFA_API_URL: opts.apiUrl,
    OFA_BACKBONE: opts.backbone.type,
    OFA_ASSETS_TOPIC: 'ofa_assets',
  }
  if (opts.apiCa !== undefined) env.OFA_API_CA = opts.apiCa
  if (opts.backbone.type === 'kafka') {
    env.KAFKA_BROKER = opts.backbone.bootstrapServers.join(',')
    env.OFA_BOOTSTRAP_SERVERS = env.KAFKA_BROKER
    if (opts.backbone.security) Object.assign(env, kafkaSecurityEnvironment(opts.backbone.security))
  }
  if (app.uns) env.OFA_UNS_ID = app.uns.unsId
  for (const entry of app.spec.environment ?? []) {
    const eq = entry.indexOf('=')
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return env
}

/**
 * The Kafka connection's security as the `OFA_KAFKA_*` variables `ofa run` reads (kafka-security.ts), so an app
 * (or an `ofa` command it runs) connects as `ofa up` does. The password goes as the file it came from when it came
 * from one, else as `OFA_KAFKA_PASSWORD`; a CA, certificate or key that factory.yaml gives as PEM text (not a path)
 * goes as `OFA_KAFKA_CA_PEM`, `OFA_KAFKA_CERT_PEM`, `OFA_KAFKA_KEY_PEM`.
 */
export function kafkaSecurityEnvironment(security: KafkaBackboneOptions['security']): Record<string, string> {
  const env: Record<string, string> = { OFA_KAFKA_SECURITY_PROTOCOL: security.protocol }
  const { sasl, tls } = security
  if (sasl) {
    env.OFA_KAFKA_SASL_MECHANISM = sasl.mechanism
    env.OFA_KAFKA_USERNAME = sasl.username
    if (sasl.passwordFile !== undefined) env.OFA_KAFKA_PASSWORD_FILE = sasl.passwordFile
    else if (sasl.password !== undefined) env.OFA_KAFKA_PASSWORD = sasl.password
  }
  const pem = (name: string, value: string | undefined) => {
    if (value === undefined) return
    if (value.includes('-----BEGIN')) env[`${name}_PEM`] = value
    else env[name] = value
  }
  pem('OFA_KAFKA_CA', tls?.ca)
  pem('OFA_KAFKA_CERT', tls?.cert)
  pem('OFA_KAFKA_KEY', tls?.key)
  return env
}

export class AppProcess implements Connector {
  readonly name: string
  readonly #opts: AppProcessOptions
  #child: ChildProcess | undefined
  #stopping = false

  constructor(opts: AppProcessOptions) {
    if (opts.app.spec.command === undefined) throw new TypeError(`app ${opts.app.uuid} has no command`)
    this.#opts = opts
    this.name = opts.app.uuid
  }

  async start(ctx: ConnectorContext): Promise<void> {
    const { app } = this.#opts
    ctx.declareAssets([appAsset(app)])
    this.#stopping = false
    const command = app.spec.command as string | readonly string[]
    const [program, args] =
      typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0] as string, command.slice(1)]
    const child = spawn(program, args, {
      cwd: dirname(app.file),
      env: { ...process.env, ...this.#opts.environment },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    this.#child = child
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', (err) =>
        reject(
          new OpenFactoryError('OFA_APP_PROCESS', `app ${app.uuid}: cannot start ${program}: ${err.message}`, {
            cause: err,
            retryable: true,
          }),
        ),
      )
    })
    ctx.logger.info('app process started', { app: app.uuid, pid: child.pid, command })
    ctx.setAvailable(app.uuid, true)
    this.#lines(ctx, child, 'stdout')
    this.#lines(ctx, child, 'stderr')
    child.once('exit', (code, signal) => {
      if (this.#stopping) return
      const reason = `app process exited (${signal ?? `code ${code}`})`
      ctx.setAvailable(app.uuid, false, reason)
      ctx.fail(new OpenFactoryError('OFA_APP_PROCESS', `app ${app.uuid}: ${reason}`, { retryable: true }))
    })
  }

  async stop(): Promise<void> {
    this.#stopping = true
    const child = this.#child
    this.#child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), signal)
      } catch {}
    }
    group('SIGTERM')
    const timer = setTimeout(() => group('SIGKILL'), this.#opts.stopTimeoutMs ?? 5000)
    await exited
    clearTimeout(timer)
    // Whatever the process left in its group goes with it.
    group('SIGKILL')
  }

  #lines(ctx: ConnectorContext, child: ChildProcess, stream: 'stdout' | 'stderr'): void {
    let pending = ''
    const emit = (line: string) => {
      if (line === '') return
      const text = Buffer.byteLength(line) > APP_LINE_BYTES ? `${line.slice(0, APP_LINE_BYTES)}…` : line
      if (stream === 'stderr') ctx.logger.warn(text, { app: this.name, stream })
      else ctx.logger.info(text, { app: this.name, stream })
    }
    child[stream]?.setEncoding('utf8')
    child[stream]?.on('data', (chunk: string) => {
      pending += chunk
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        emit(pending.slice(0, nl))
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
      }
      // A line without end longer than the bound is logged in pieces, not kept growing.
      if (pending.length > APP_LINE_BYTES) {
        emit(pending)
        pending = ''
      }
    })
    child[stream]?.on('end', () => emit(pending))
  }
}
