/**
 * A test certificate authority and a server certificate it signed, made at test time with the `openssl` command line
 * (a producer of certificates other than the one `ofa` uses for its self-signed pair): what a user who runs their own
 * CA gives `--tls-cert` / `--tls-key`, and what a client pins (`ca`).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface TestPki {
  readonly dir: string
  /** The CA's certificate (PEM): what clients pin. */
  readonly ca: string
  /** The server's certificate and key (PEM), for 127.0.0.1, ::1 and localhost. */
  readonly cert: string
  readonly key: string
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 20_000 })
}

/** A CA and a server certificate signed by it (P-256, two days), in a temporary directory removed after the test. */
export async function createTestPki(t: TestContext): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'ofa-pki-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  await openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=OpenFactory test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  await openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
  await writeFile(
    join(dir, 'server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n',
  )
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '1',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  ])
  const caFile = join(dir, 'ca.pem')
  const certFile = join(dir, 'server.pem')
  const keyFile = join(dir, 'server.key')
  return {
    dir,
    ca: await readFile(caFile, 'utf8'),
    cert: await readFile(certFile, 'utf8'),
    key: await readFile(keyFile, 'utf8'),
    caFile,
    certFile,
    keyFile,
  }
}
