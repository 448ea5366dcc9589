import { once } from 'node:events'

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

/**
 * Writes to an output and, when it says its buffer is full (`write` returned false), waits for it to drain (or
 * for the signal): a slow reader (`ofa log tail | slow-tool`) slows the command down instead of filling memory.
 */
export async function writeOut(out: CliIo['stdout'], text: string, signal?: AbortSignal): Promise<void> {
  if (out.write(text) !== false) return
  const stream = out as Partial<NodeJS.EventEmitter>
  if (typeof stream.once !== 'function' || signal?.aborted) return
  try {
    await once(stream as NodeJS.EventEmitter, 'drain', { signal })
  } catch (err) {
    if ((err as { name?: string }).name !== 'AbortError') throw err
  }
}
