/**
 * What `ofa up` and `ofa run` print about the API's listener, besides its URLs: the TLS certificate (its file and
 * SHA-256 fingerprint, for clients to pin), and running without authentication — one line on loopback, a warning on
 * standard error beyond it (`--insecure`).
 */
import { DASHBOARD_BUILD_COMMAND, dashboardBuilt } from '@openfactory/dashboard'
import type { Exposure } from '../runtime/listening.ts'
import type { ServerTls } from '../runtime/tls.ts'

export function listenerLines(l: { readonly tls?: ServerTls; readonly exposure?: Exposure }): {
  readonly stdout: string
  readonly stderr: string
} {
  let stdout = ''
  let stderr = ''
  const tls = l.tls
  if (tls) {
    const what =
      tls.source === 'files'
        ? 'certificate'
        : tls.source === 'self-signed, new'
          ? 'self-signed certificate, made now:'
          : 'self-signed certificate, kept:'
    stdout += `  TLS        ${what} ${tls.certFile}\n             SHA-256 ${tls.fingerprint}\n`
  }
  const exposure = l.exposure
  if (exposure?.kind === 'loopback') {
    stdout += '  auth       none: on loopback only, any program on this machine may read and call everything\n'
  } else if (exposure?.kind === 'insecure') {
    stderr +=
      `warning: --insecure: the API listens on ${exposure.addresses.join(', ')} without authentication; ` +
      'anyone who can reach it may read every asset and call every method\n'
  }
  return { stdout, stderr }
}

/** The dashboard's address (the serving app serves it at `/`), or how to build it when it is not built. */
export function dashboardLine(url: string): string {
  return dashboardBuilt()
    ? `  dashboard  ${url}/\n`
    : `  dashboard  not built (${url}/ answers 503): run ${DASHBOARD_BUILD_COMMAND}\n`
}
