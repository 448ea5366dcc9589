// TLS material for the brokers tests run (scripts/kafka.ts, scripts/mosquitto.ts): a development CA made with
// openssl, a server certificate it signs for 127.0.0.1-3 and localhost, and a client certificate (for optional mutual
// TLS). Made once per folder; a broker that keeps its folder keeps its certificates across stop/start.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

/** The files makeCertificates writes, as paths in its folder (`.key` next to each `.pem`, unencrypted). */
export interface TestCertificates {
  readonly ca: string
  readonly caKey: string
  readonly serverCert: string
  readonly serverKey: string
  readonly clientCert: string
  readonly clientKey: string
}

/** Ten years: a folder's certificates outlive any test run. */
const DAYS = '3650'

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' })
  if (r.error) throw r.error
  if (r.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`)
  }
}

export function certificatePaths(dir: string): TestCertificates {
  const p = (f: string): string => path.join(dir, f)
  return {
    ca: p('ca.pem'),
    caKey: p('ca.key'),
    serverCert: p('broker.pem'),
    serverKey: p('broker.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  }
}

/**
 * Makes the CA and its certificates in `dir` unless already there. `ensureOpenssl` is called first when openssl is not
 * on the PATH (the scripts install Debian's package their own way).
 */
export function makeCertificates(dir: string, ensureOpenssl?: () => void): TestCertificates {
  const paths = certificatePaths(dir)
  // The client certificate is written last: when it is there, the rest is too.
  if (fs.existsSync(paths.clientCert)) return paths
  if (spawnSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' }).status !== 0) ensureOpenssl?.()
  fs.mkdirSync(dir, { recursive: true })
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      DAYS,
      '-subj',
      '/CN=OpenFactory development CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  )
  const leaf = (name: string, cn: string, ext: string): void => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext)
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', cn], dir)
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        DAYS,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    )
  }
  leaf(
    'broker',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  )
  leaf('client', '/CN=ofa-client', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n')
  return paths
}
