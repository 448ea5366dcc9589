/**
 * Logging. The engine packages log through the small `Logger` interface (a message and structured fields) and
 * never choose where lines go; a process creates one logger with `createLogger` and hands it — or children of
 * it, which add fields to every line — to the parts it runs.
 *
 * `createLogger` is pino underneath (Fastify's own logger): one JSON object per line, written to stderr by
 * default. A line reads `{"level":"info","time":"2025-05-04T12:34:56.789Z","pid":4242,"hostname":"edge-1",
 * "name":"ofa","component":"supervisor","connector":"CNC-001","msg":"connector running"}`: the level as text,
 * the time in ISO-8601 UTC, the fields given to the logger and its parents, and the message last. The pino
 * instance is `logger.pino`, for what takes a pino logger (Fastify's `loggerInstance`).
 */
import { type DestinationStream, type Logger as Pino, pino } from 'pino'

/** What the engine packages log through: a message and structured fields. Processes choose the output. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

/** A logger that also takes debug messages. */
export interface DebugLogger extends Logger {
  debug(message: string, fields?: Record<string, unknown>): void
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']

export interface CreateLoggerOptions {
  /** Written as `name` on every line (e.g. `ofa`). */
  readonly name?: string
  /** The lowest level written. Default: the environment variable OFA_LOG_LEVEL when it names a level, else info. */
  readonly level?: LogLevel
  /**
   * Where the lines go: anything with `write(line)`. Default: stderr, written synchronously, so that the last
   * lines before a process exits are not lost in a buffer.
   */
  readonly destination?: DestinationStream
}

/** The logger `createLogger` returns: our `Logger` with debug, children, and the pino instance underneath. */
export interface StructuredLogger extends DebugLogger {
  /** The pino logger underneath (Fastify's `loggerInstance`). */
  readonly pino: Pino
  /** A logger whose every line also carries `fields` (e.g. `{component: 'supervisor'}`). */
  child(fields: Record<string, unknown>): StructuredLogger
}

function levelFrom(value: string | undefined): LogLevel | undefined {
  return LEVELS.find((l) => l === value)
}

function wrap(p: Pino): StructuredLogger {
  return {
    pino: p,
    debug: (message, fields) => (fields ? p.debug(fields, message) : p.debug(message)),
    info: (message, fields) => (fields ? p.info(fields, message) : p.info(message)),
    warn: (message, fields) => (fields ? p.warn(fields, message) : p.warn(message)),
    error: (message, fields) => (fields ? p.error(fields, message) : p.error(message)),
    child: (fields) => wrap(p.child(fields)),
  }
}

/** Creates a process's logger (see the top of this file for what a line holds). */
export function createLogger(opts: CreateLoggerOptions = {}): StructuredLogger {
  const level = opts.level ?? levelFrom(process.env.OFA_LOG_LEVEL) ?? 'info'
  if (!LEVELS.includes(level)) throw new TypeError(`createLogger: level must be one of ${LEVELS.join(', ')}`)
  const destination = opts.destination ?? pino.destination({ dest: 2, sync: true })
  return wrap(
    pino(
      {
        level,
        ...(opts.name === undefined ? {} : { name: opts.name }),
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination,
    ),
  )
}

function isStructured(logger: DebugLogger): logger is StructuredLogger {
  return typeof (logger as Partial<StructuredLogger>).child === 'function'
}

/**
 * A logger that adds `fields` to every line of `logger`: pino's child when `logger` came from `createLogger`,
 * else a wrapper (fields given at the call win over these).
 */
export function childLogger(logger: DebugLogger, fields: Record<string, unknown>): DebugLogger {
  if (isStructured(logger)) return logger.child(fields)
  return {
    debug: (m, f) => logger.debug(m, f ? { ...fields, ...f } : fields),
    info: (m, f) => logger.info(m, f ? { ...fields, ...f } : fields),
    warn: (m, f) => logger.warn(m, f ? { ...fields, ...f } : fields),
    error: (m, f) => logger.error(m, f ? { ...fields, ...f } : fields),
  }
}

/** A logger that discards everything (tests, quiet tools). */
export const silentLogger: DebugLogger = { debug() {}, info() {}, warn() {}, error() {} }
