/**
 * What a runtime needs to listen: listen failures as coded errors naming the address, the port and, where it can
 * be found cheaply, the process that holds the port; the host names and web origins the API accepts; and whether
 * it may listen where it was told to without authentication.
 *
 * The default: the API on loopback (127.0.0.1, the demo) may run without authentication, and says so in one line;
 * on any other address (`--host 0.0.0.0`, a LAN address) it is refused (`OFA_CLI_INSECURE`) unless factory.yaml
 * configures authentication, or `--insecure` is given (then it runs, with a warning line).
 */
import { execFile } from 'node:child_process'
import { lookup } from 'node:dns/promises'
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { type Factory, OpenFactoryError } from '@openfactory/model'

/**
 * The process listening on a TCP port, as `ss -ltnp` shows it, with its command line (`pid 1234 (node server.js)`), or undefined: `ss` is missing,
 * slow, or does not show processes of other users. A best effort, bounded to 1 s; never throws.
 */
export function portOwner(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    try {
      execFile('ss', ['-Hltnp', `sport = :${port}`], { timeout: 1000 }, (err, stdout) => {
        if (err) return resolve(undefined)
        const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(stdout)
        if (!m) return resolve(undefined)
        // The command line says more than the thread name ss shows (`MainThread`, `node`): one small file.
        readFile(`/proc/${m[2]}/cmdline`, 'utf8').then(
          (cmd) => {
            const line = cmd.split('\0').filter(Boolean).join(' ').slice(0, 120)
            resolve(`pid ${m[2]}${line ? ` (${line})` : ` (${m[1]})`}`)
          },
          () => resolve(`pid ${m[2]} (${m[1]})`),
        )
      })
    } catch {
      resolve(undefined)
    }
  })
}

/**
 * A listen failure (`EADDRINUSE`, `EADDRNOTAVAIL`, `ENOTFOUND`, `EACCES`...) as `OFA_CLI_LISTEN`, naming what
 * could not listen (`the API`, `the SHDR replay adapter of device X`), the address and the port. Other errors are
 * returned as they are.
 */
export async function listenError(err: unknown, what: string, host: string, port: number): Promise<unknown> {
  const code = (err as { code?: string }).code
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`
  let reason: string
  switch (code) {
    case 'EADDRINUSE': {
      const owner = await portOwner(port)
      reason = `port ${port} is in use${owner ? ` by ${owner}` : ' by another program'}; stop it or choose another port`
      break
    }
    case 'EADDRNOTAVAIL':
      reason = `${host} is not an address of this machine (--host takes a local address: 127.0.0.1, 0.0.0.0, a local interface's IP)`
      break
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      reason = `the host name ${host} does not resolve to an address`
      break
    case 'EACCES':
    case 'EPERM':
      reason = `not allowed to listen on port ${port} (ports below 1024 need privileges)`
      break
    default:
      if (code === undefined) return err
      reason = `${code}: ${(err as Error).message}`
  }
  return new OpenFactoryError('OFA_CLI_LISTEN', `${what} cannot listen on ${at}: ${reason}`, { cause: err })
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * The API's `allowedHosts` and `allowedOrigins`: the `--host` it listens on when that is a name (IP addresses,
 * `localhost` and this machine's name are always accepted), an app's `routing.hostname`, and the comma-separated
 * `OPENFACTORY_ALLOWED_HOSTS` / `OPENFACTORY_ALLOWED_ORIGINS` of the environment.
 */
export function httpAccess(
  host: string,
  env: Readonly<Record<string, string | undefined>>,
  hostnames: readonly (string | undefined)[] = [],
): { allowedHosts: string[]; allowedOrigins: string[] } {
  const names = [host, ...hostnames].filter(
    (h): h is string => h !== undefined && h !== '' && isIP(h.replace(/^\[|\]$/g, '')) === 0,
  )
  return {
    allowedHosts: [...new Set([...names, ...list(env.OPENFACTORY_ALLOWED_HOSTS)])],
    allowedOrigins: list(env.OPENFACTORY_ALLOWED_ORIGINS),
  }
}

/** Whether the factory configures authentication of the API: factory.yaml has an `auth:` section (runtime/auth.ts). */
export function authConfigured(factory: Factory): boolean {
  return factory.manifest.auth !== undefined
}

/** How the API is exposed, once allowed: with authentication, without it on loopback only, or beyond (`--insecure`). */
export type Exposure =
  | { readonly kind: 'loopback' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'insecure'; readonly addresses: readonly string[] }

/** Loopback: 127.0.0.0/8, ::1, and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '')
  return (isIP(a) === 4 && a.startsWith('127.')) || a === '::1'
}

/** An address this machine can listen on: a wildcard or one of its interfaces'. */
function isLocal(address: string): boolean {
  if (address === '0.0.0.0' || address === '::') return true
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address))
}

export interface ExposureOptions {
  /** factory.yaml configures authentication (`authConfigured`). */
  readonly authenticated: boolean
  /** `--insecure`: beyond loopback without authentication all the same. */
  readonly insecure: boolean
}

/**
 * Whether the API may listen on these addresses (those it listens on, or `host` resolves to): on loopback only, or
 * with authentication configured, it may. Beyond loopback without authentication: `OFA_CLI_INSECURE`, unless
 * `insecure`.
 */
export function exposureOf(addresses: readonly string[], host: string, opts: ExposureOptions): Exposure {
  if (opts.authenticated) return { kind: 'authenticated' }
  const beyond = addresses.filter((a) => !isLoopback(a))
  if (beyond.length === 0) return { kind: 'loopback' }
  if (opts.insecure) return { kind: 'insecure', addresses: beyond }
  throw new OpenFactoryError(
    'OFA_CLI_INSECURE',
    `the API would listen on ${host}, where other machines can reach it, without authentication: anyone who reaches it could read every asset and call every method. Listen on 127.0.0.1, configure auth: in factory.yaml, or pass --insecure to run without authentication anyway`,
  )
}

/**
 * `exposureOf` before anything starts, from the addresses `host` resolves to (a name: all of them). Undefined when
 * that cannot tell: a name that does not resolve, an address that is not this machine's — the listen refuses those
 * (`OFA_CLI_LISTEN` says why), and the runtime checks the addresses it listens on once it does.
 */
export async function checkExposure(host: string, opts: ExposureOptions): Promise<Exposure | undefined> {
  const bare = host.replace(/^\[|\]$/g, '')
  let addresses: string[]
  if (isIP(bare) !== 0) addresses = [bare]
  else {
    try {
      addresses = (await lookup(bare, { all: true })).map((a) => a.address)
    } catch {
      return undefined
    }
  }
  if (!addresses.every((a) => isLoopback(a) || isLocal(a))) return undefined
  return exposureOf(addresses, host, opts)
}
