/**
 * The API's TLS certificate and key: the files a user gives (`--tls-cert FILE --tls-key FILE`: their own CA's, or a
 * public one's), or a self-signed pair `ofa` makes for a first run (`--tls self-signed`) and keeps, so that clients
 * can pin it: made once in the state folder — `tls/` in the embedded log's data folder (`--data`, factory.yaml's
 * `backbone.dataDir`, else `./.ofa-data`), made once the log has made that folder its own; `./.ofa-tls` where ofa
 * runs when the log is Kafka — reused at every start while it is valid, made anew a week before it expires (a year
 * after it was made). Its path and SHA-256 fingerprint are printed at each start.
 *
 * The pair is made with @peculiar/x509 over Node's WebCrypto (an ECDSA P-256 key, the certificate signed with it),
 * not with the `openssl` command line: it works where no `openssl` is installed (Windows, the slim image ofa runs in)
 * and runs in this process; the library is already in the lockfile (node-opcua's crypto uses it). It needs a
 * `Reflect` metadata polyfill, loaded with it, only when a pair is made.
 *
 * Every file is checked before anything starts (a kept self-signed pair too): readable, PEM, the key the
 * certificate's, the certificate not expired, and taken by Node's TLS; else `OFA_CLI_TLS` naming the file.
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { hostname, networkInterfaces } from 'node:os'
import { join, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { type BackboneOptions, OpenFactoryError } from '@openfactory/model'

/** What the command line asks for (`--tls-cert`, `--tls-key`; `--tls self-signed`). */
export interface TlsFlags {
  readonly certFile?: string
  readonly keyFile?: string
  readonly selfSigned?: boolean
}

/** The certificate and key the API serves, and what to print about them. */
export interface ServerTls {
  /** PEM. */
  readonly cert: string
  readonly key: string
  readonly certFile: string
  readonly keyFile: string
  /** SHA-256 of the certificate (DER), colon-separated hex: what a client pins. */
  readonly fingerprint: string
  /** Given files, or the self-signed pair made now or kept from an earlier start. */
  readonly source: 'files' | 'self-signed, new' | 'self-signed, reused'
}

const SELF_SIGNED_DAYS = 365
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000
const CERT_NAME = 'self-signed-cert.pem'
const KEY_NAME = 'self-signed-key.pem'

function tlsError(message: string, file: string, cause?: unknown): OpenFactoryError {
  return new OpenFactoryError('OFA_CLI_TLS', message, { where: { file }, cause })
}

/**
 * The folder of the self-signed pair: `tls/` in the embedded log's data folder (the log takes no other files in a
 * folder it has not made its own yet: the pair is made after it opened), or `./.ofa-tls` when the log is Kafka.
 */
export function tlsStateDir(backbone: BackboneOptions, cwd: string): string {
  if (backbone.type === 'kafka') return resolve(cwd, '.ofa-tls')
  return join(backbone.dataDir ?? resolve(cwd, '.ofa-data'), 'tls')
}

/**
 * The TLS the flags ask for, checked: the given files, or the kept self-signed pair; undefined for plain HTTP, and
 * for a self-signed pair still to make (none kept, or one about to expire: `makeSelfSigned`).
 */
export async function loadServerTls(
  flags: TlsFlags | undefined,
  ctx: { readonly cwd: string; readonly stateDir: string },
): Promise<ServerTls | undefined> {
  if (flags?.selfSigned) return keptSelfSigned(ctx.stateDir)
  if (flags?.certFile === undefined || flags.keyFile === undefined) return undefined
  const pair = await readPair(resolve(ctx.cwd, flags.certFile), resolve(ctx.cwd, flags.keyFile))
  return { ...pair, source: 'files' }
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw tlsError(`cannot read the ${what} ${file}${code ? ` (${code})` : ''}`, file, err)
  }
}

/** Reads and checks a certificate (chain) and its key. */
async function readPair(
  certFile: string,
  keyFile: string,
): Promise<Omit<ServerTls, 'source'> & { readonly notAfter: Date }> {
  const cert = await readText(certFile, 'TLS certificate')
  const key = await readText(keyFile, 'TLS key')
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw tlsError(`${certFile} is not a PEM certificate (-----BEGIN CERTIFICATE-----)`, certFile, err)
  }
  let privateKey: ReturnType<typeof createPrivateKey>
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw tlsError(
      `${keyFile} is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----, or an RSA or EC key): ${(err as Error).message}`,
      keyFile,
      err,
    )
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw tlsError(`the key in ${keyFile} is not the key of the certificate in ${certFile}`, keyFile)
  }
  const notAfter = new Date(x509.validTo)
  if (notAfter.getTime() <= Date.now()) {
    throw tlsError(`the certificate in ${certFile} expired on ${notAfter.toISOString()}`, certFile)
  }
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw tlsError(`Node's TLS refuses ${certFile} with ${keyFile}: ${(err as Error).message}`, certFile, err)
  }
  return { cert, key, certFile, keyFile, fingerprint: x509.fingerprint256, notAfter }
}

/** The kept self-signed pair, checked; undefined when there is none, or it expires within a week. */
async function keptSelfSigned(dir: string): Promise<ServerTls | undefined> {
  const certFile = join(dir, CERT_NAME)
  const keyFile = join(dir, KEY_NAME)
  const exists = async (f: string) =>
    readFile(f).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false
        throw tlsError(`cannot read ${f} (${err.code})`, f, err)
      },
    )
  const [hasCert, hasKey] = await Promise.all([exists(certFile), exists(keyFile)])
  if (hasCert && hasKey) {
    // A pair kept from an earlier start: one that cannot be read is the user's to remove (it may be pinned).
    const kept = await readPair(certFile, keyFile).catch((err: unknown) => {
      if (err instanceof OpenFactoryError) {
        throw new OpenFactoryError(
          'OFA_CLI_TLS',
          `${err.message}; remove ${certFile} and ${keyFile} to have a new self-signed pair made`,
          { where: err.where, cause: err },
        )
      }
      throw err
    })
    if (kept.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS) return { ...kept, source: 'self-signed, reused' }
  }
  return undefined
}

/**
 * A new self-signed pair for `host` in `dir`, written there (the key readable by its owner only); for none kept, half
 * of one (a start stopped while writing it), or one about to expire.
 */
export async function makeSelfSigned(dir: string, host: string): Promise<ServerTls> {
  const certFile = join(dir, CERT_NAME)
  const keyFile = join(dir, KEY_NAME)
  const made = await newPair(subjectNames(host))
  await mkdir(dir, { recursive: true, mode: 0o700 })
  // Key first, each written whole then renamed: a certificate on disk always has its key beside it.
  await writeAtomically(keyFile, made.key, 0o600)
  await writeAtomically(certFile, made.cert, 0o644)
  const pair = await readPair(certFile, keyFile)
  return { ...pair, source: 'self-signed, new' }
}

async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    await writeFile(tmp, text, { mode })
    await rename(tmp, file)
  } catch (err) {
    throw tlsError(`cannot write ${file}: ${(err as Error).message}`, file, err)
  }
}

/**
 * The names and addresses the self-signed certificate is for: localhost and loopback, this machine's name, the
 * listen address (a name or a specific IP), and, listening on every address (`0.0.0.0`, `::`), this machine's
 * interface addresses now.
 */
export function subjectNames(host: string): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost'])
  const ips = new Set(['127.0.0.1', '::1'])
  const machine = hostname().toLowerCase()
  if (/^[a-z0-9.-]+$/.test(machine)) dns.add(machine)
  const bare = host.replace(/^\[|\]$/g, '')
  if (isIP(bare) === 0) dns.add(bare.toLowerCase())
  else if (bare !== '0.0.0.0' && bare !== '::') ips.add(bare)
  else {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) ips.add(a.address)
    }
  }
  return { dns: [...dns], ips: [...ips] }
}

/** A new ECDSA P-256 key and a certificate for `names`, signed with it (PEM both). */
async function newPair(names: { dns: string[]; ips: string[] }): Promise<{ cert: string; key: string }> {
  await import('reflect-metadata')
  const x509 = await import('@peculiar/x509')
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
  const serial = randomBytes(16)
  serial[0] = (serial[0] as number) & 0x7f // a positive serial number (RFC 5280 §4.1.2.2)
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=OpenFactory ${hostname().replace(/[,+="<>#;\\]/g, '')} (self-signed)`,
    notBefore: new Date(now - 3600 * 1000), // an hour back: clocks of clients a little behind
    notAfter: new Date(now + SELF_SIGNED_DAYS * 24 * 3600 * 1000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: 'dns' as const, value })),
        ...names.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' })
  return { cert: cert.toString('pem'), key: String(key) }
}
