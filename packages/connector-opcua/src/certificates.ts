/**
 * The OPC UA certificate store: a folder (`OPENFACTORY_PKI_DIR`, default `./.ofa-pki`) in node-opcua's layout —
 * `own/` our application certificate and key (made on first use), `trusted/certs/` the server certificates we
 * trust, `rejected/` those a server presented that nobody trusted yet. A secured session (Sign,
 * SignAndEncrypt) to a server whose certificate is not in `trusted/` is refused (`OFA_OPCUA_SECURITY`) and the
 * certificate lands in `rejected/`; `ofa opcua certs` lists both and `ofa opcua certs trust <thumbprint>` moves
 * one to `trusted/` (or adds a certificate file), after which the connector's next attempt succeeds.
 */
import { X509Certificate } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { OpenFactoryError } from '@openfactory/model'
import { OPCUACertificateManager } from 'node-opcua-certificate-manager'

/** The store's folder: `OPENFACTORY_PKI_DIR`, else `.ofa-pki` in the working directory. */
export function defaultPkiDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.OPENFACTORY_PKI_DIR || '.ofa-pki')
}

const managers = new Map<string, Promise<OPCUACertificateManager>>()

/** The certificate manager of a store, initialised once per folder and process (our key is made on first use). */
export function certificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  let m = managers.get(pkiDir)
  if (!m) {
    m = (async () => {
      const manager = new OPCUACertificateManager({
        rootFolder: pkiDir,
        automaticallyAcceptUnknownCertificate: false,
        disableFileWatchers: true,
      })
      await manager.initialize()
      return manager
    })()
    managers.set(pkiDir, m)
  }
  return m
}

export interface StoredCertificate {
  readonly status: 'trusted' | 'rejected'
  /** SHA-1 of the DER, hex lowercase: what OPC UA calls the thumbprint. */
  readonly thumbprint: string
  readonly subject: string
  readonly validTo: string
  readonly file: string
}

function readCertificate(bytes: Buffer): { der: Buffer; cert: X509Certificate } {
  const text = bytes.toString('latin1')
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text)
  const der = pem ? Buffer.from((pem[1] ?? '').replace(/\s+/g, ''), 'base64') : bytes
  return { der, cert: new X509Certificate(der) }
}

async function listFolder(dir: string, status: StoredCertificate['status']): Promise<StoredCertificate[]> {
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch {
    return []
  }
  const out: StoredCertificate[] = []
  for (const name of names.sort()) {
    const file = path.join(dir, name)
    if (!/\.(pem|der|crt|cer)$/i.test(name)) continue
    try {
      const { cert } = readCertificate(await fs.readFile(file))
      out.push({
        status,
        thumbprint: cert.fingerprint.replaceAll(':', '').toLowerCase(),
        subject: cert.subject.replaceAll('\n', ', '),
        validTo: new Date(cert.validTo).toISOString(),
        file,
      })
    } catch {
      // Not a certificate: not ours to list.
    }
  }
  return out
}

/** Every server certificate of the store, trusted and rejected. */
export async function listCertificates(pkiDir: string): Promise<StoredCertificate[]> {
  return [
    ...(await listFolder(path.join(pkiDir, 'trusted', 'certs'), 'trusted')),
    ...(await listFolder(path.join(pkiDir, 'rejected'), 'rejected')),
  ]
}

/**
 * Trusts a certificate: one of the store's (rejected or trusted) by thumbprint or a unique prefix of it (at
 * least 8 hex digits), or a certificate file (DER or PEM). Returns it as now stored.
 */
export async function trustCertificate(pkiDir: string, which: string): Promise<StoredCertificate> {
  let der: Buffer
  if (/^[0-9a-f:]+$/i.test(which)) {
    const wanted = which.replaceAll(':', '').toLowerCase()
    if (wanted.length < 8) {
      throw new OpenFactoryError('OFA_CLI_USAGE', `a thumbprint needs at least 8 hex digits, got ${which}`)
    }
    const matches = (await listCertificates(pkiDir)).filter((c) => c.thumbprint.startsWith(wanted))
    const unique = [...new Map(matches.map((m) => [m.thumbprint, m])).values()]
    if (unique.length === 0) {
      throw new OpenFactoryError('OFA_CLI_USAGE', `no certificate with thumbprint ${which} in ${pkiDir}`)
    }
    if (unique.length > 1) throw new OpenFactoryError('OFA_CLI_USAGE', `thumbprint ${which} names several certificates`)
    der = readCertificate(await fs.readFile((unique[0] as StoredCertificate).file)).der
  } else {
    try {
      der = readCertificate(await fs.readFile(which)).der
    } catch (err) {
      throw new OpenFactoryError('OFA_CLI_USAGE', `${which}: not a readable certificate (${(err as Error).message})`)
    }
  }
  const manager = await certificateManager(pkiDir)
  await manager.trustCertificate(der)
  const thumbprint = new X509Certificate(der).fingerprint.replaceAll(':', '').toLowerCase()
  const stored = (await listCertificates(pkiDir)).find((c) => c.status === 'trusted' && c.thumbprint === thumbprint)
  if (!stored) throw new OpenFactoryError('OFA_CLI_USAGE', `the certificate ${thumbprint} could not be stored`)
  return stored
}
