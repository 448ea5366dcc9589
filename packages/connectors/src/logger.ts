import type { ConnectorLogger } from './connector.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** A logger writing one JSON line per message to stderr, at or above `level` (env OFA_LOG_LEVEL, default info). */
export function consoleLogger(
  name: string,
  level: LogLevel = (process.env.OFA_LOG_LEVEL as LogLevel) ?? 'info',
): ConnectorLogger {
  const min = ORDER[level] ?? ORDER.info
  const write = (lvl: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: lvl, name, message, ...fields })}\n`,
    )
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}

/** A logger that discards everything (tests). */
export const silentLogger: ConnectorLogger = { debug() {}, info() {}, warn() {}, error() {} }
