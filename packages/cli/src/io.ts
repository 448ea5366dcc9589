/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  readonly stdout: { write(s: string): unknown }
  readonly stderr: { write(s: string): unknown }
  readonly stdin: AsyncIterable<string | Buffer>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Aborted on Ctrl-C: long-running commands (`log tail --follow`) stop cleanly. */
  readonly signal: AbortSignal
}

/** Exit statuses shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const
