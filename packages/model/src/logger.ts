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
