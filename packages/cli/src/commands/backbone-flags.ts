import type { BackboneOverrides } from '../runtime/backbone.ts'
import { KAFKA_SECURITY_FLAGS, type KafkaSecurityFlag, type KafkaSecurityFlags } from '../runtime/kafka-security.ts'
import type { TlsFlags } from '../runtime/tls.ts'
import { usageError } from '../usage.ts'

/** The flags `ofa up` and `ofa run` share: where the log is (with the Kafka connection's security), and the HTTP listener. */
export const RUNTIME_FLAGS = {
  backbone: { type: 'string' },
  bootstrap: { type: 'string' },
  ...KAFKA_SECURITY_FLAGS,
  data: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  uns: { type: 'string' },
  // HTTPS (runtime/tls.ts), and listening beyond loopback without authentication (runtime/listening.ts).
  tls: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  insecure: { type: 'boolean' },
} as const

/** The Kafka security flags among a command's parsed flags. */
export function kafkaSecurityFlags(values: KafkaSecurityFlags): KafkaSecurityFlags {
  const out: { [F in KafkaSecurityFlag]?: string } = {}
  for (const f of Object.keys(KAFKA_SECURITY_FLAGS) as KafkaSecurityFlag[])
    if (values[f] !== undefined) out[f] = values[f]
  return out
}

export interface RuntimeFlags extends KafkaSecurityFlags {
  readonly backbone?: string
  readonly bootstrap?: string
  readonly data?: string
  readonly port?: string
  readonly host?: string
  readonly uns?: string
  readonly tls?: string
  readonly 'tls-cert'?: string
  readonly 'tls-key'?: string
  readonly insecure?: boolean
}

/** `--tls self-signed`, or `--tls-cert FILE --tls-key FILE` (both); undefined: plain HTTP. */
export function tlsFlags(values: RuntimeFlags): TlsFlags | undefined {
  const cert = values['tls-cert']
  const key = values['tls-key']
  if (values.tls !== undefined) {
    if (values.tls !== 'self-signed') {
      throw usageError(
        `--tls takes self-signed (a pair ofa makes and keeps), got "${values.tls}"; give your own with --tls-cert FILE --tls-key FILE`,
      )
    }
    if (cert !== undefined || key !== undefined) {
      throw usageError('--tls self-signed and --tls-cert/--tls-key exclude each other: give one or the other')
    }
    return { selfSigned: true }
  }
  if (cert === undefined && key === undefined) return undefined
  if (cert === undefined || key === undefined) {
    throw usageError('--tls-cert and --tls-key go together: the certificate (PEM) and its private key (PEM)')
  }
  return { certFile: cert, keyFile: key }
}

/** The parsed flags as runtime options. */
export function runtimeOptions(
  values: RuntimeFlags,
): BackboneOverrides & { port?: number; host?: string; uns?: string; tls?: TlsFlags; insecure?: boolean } {
  let port: number | undefined
  if (values.port !== undefined) {
    port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw usageError(`--port must be 0..65535, got "${values.port}"`)
  }
  const tls = tlsFlags(values)
  return {
    ...(values.backbone !== undefined ? { backbone: values.backbone } : {}),
    ...(values.bootstrap !== undefined ? { bootstrap: values.bootstrap } : {}),
    kafkaSecurity: kafkaSecurityFlags(values),
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values.uns ? { uns: values.uns } : {}),
    ...(tls ? { tls } : {}),
    ...(values.insecure ? { insecure: true } : {}),
  }
}

/** Resolves when Ctrl-C (SIGINT/SIGTERM) is pressed. */
export function untilStopped(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
