import type { BackboneOverrides } from '../runtime/backbone.ts'
import { usageError } from '../usage.ts'

/** The flags `ofa up` and `ofa run` share: where the log is, and the HTTP listener. */
export const RUNTIME_FLAGS = {
  backbone: { type: 'string' },
  bootstrap: { type: 'string' },
  data: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  uns: { type: 'string' },
} as const

export interface RuntimeFlags {
  readonly backbone?: string
  readonly bootstrap?: string
  readonly data?: string
  readonly port?: string
  readonly host?: string
  readonly uns?: string
}

/** The parsed flags as runtime options. */
export function runtimeOptions(
  values: RuntimeFlags,
): BackboneOverrides & { port?: number; host?: string; uns?: string } {
  let port: number | undefined
  if (values.port !== undefined) {
    port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw usageError(`--port must be 0..65535, got "${values.port}"`)
  }
  return {
    ...(values.backbone !== undefined ? { backbone: values.backbone } : {}),
    ...(values.bootstrap !== undefined ? { bootstrap: values.bootstrap } : {}),
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values.uns ? { uns: values.uns } : {}),
  }
}

/** Resolves when Ctrl-C (SIGINT/SIGTERM) is pressed. */
export function untilStopped(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
