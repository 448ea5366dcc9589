/**
 * OIDC bearer tokens: a JWT from the factory's identity provider (Keycloak, Entra ID, Auth0, ...) turned into a
 * `Principal` (types.ts), or refused with the reason. The cryptography and the claim checks are jose's
 * (`jwtVerify`, `createRemoteJWKSet`); this file decides what is trusted and bounds what the provider may cost us.
 *
 * What a token must be (RFC 7519 §7.2, RFC 9068 §4): a JWS in compact form signed with one of `algorithms` (never
 * `none`, never a shared-secret HS* algorithm, see below) by a key of the provider's JWKS; `iss` equal to the
 * configured issuer; `aud` holding one of the configured audiences; `exp` present and not past, `nbf` (if any) not
 * in the future, each within `clockToleranceSeconds`; `sub` a non-empty string. Then OpenFactory's own claims:
 * - the role (`roleClaim`, default `ofa_role`): a role name, an array of names or a space-separated string of
 *   them; names that are not OpenFactory roles are ignored (Keycloak's `realm_access.roles` also holds
 *   `offline_access`...) and the highest role found wins. No role: refused. The claim name is a dotted path into
 *   nested objects (`resource_access.openfactory.roles`); a key that itself holds dots is found whole first
 *   (Auth0's namespaced `https://factory.example/roles`).
 * - the scopes (`scopeClaim`, default `ofa_scopes`): an array or a space-separated string of UNS and `asset:`
 *   patterns (policy.ts `validateScope`). Absent: every asset. Present but empty, or holding a pattern that is
 *   not one: refused — a mapper that emits `""` for a user without scopes must not hand out every asset, and a
 *   pattern we cannot read must not be dropped (dropping one narrowing entry could widen access).
 *
 * Keys: `jwksUri`, or else the `jwks_uri` of the discovery document `<issuer>/.well-known/openid-configuration`
 * (OpenID Connect Discovery 1.0 §4), fetched once; a document whose `issuer` is not the configured issuer is
 * refused (§4.3). jose caches the key set (`jwksMaxAgeMs`) and, when a token names a key id the set lacks, fetches
 * it again at most once per `jwksCooldownMs`: that is how a rotation is picked up, and why a flood of made-up key
 * ids costs the provider one request per cooldown. A failed fetch also holds further fetches back for the
 * cooldown (jose's cooldown counts from the last success only), so a provider that is down is not hammered
 * at the rate of incoming requests. A key set older than `jwksMaxAgeMs` is not used until a fetch succeeds
 * (fail closed: during a long outage tokens get 503, not a verdict from keys the provider may have withdrawn).
 *
 * The provider may be slow or hostile: each fetch has a timeout (`fetchTimeoutMs`, the body included), follows
 * no redirect, and reads at most `maxResponseBytes` of body, counted after decompression (a gzip bomb stops at
 * the cap). Fetch URLs must be https, or http on a loopback host (a key set fetched in clear over the plant
 * network lets whoever sits on it publish keys and sign their own admin tokens).
 *
 * Why no HS256/384/512: with a shared secret, every holder of it (each serving process, the provider) can mint
 * any token, admin included; providers sign access tokens asymmetrically by default; and accepting HS* next to
 * RS* is the classic algorithm-confusion hole (a token "HMAC-signed" with the public key). Machines that need a
 * shared secret use API keys (keys.ts).
 *
 * Errors: `OFA_AUTH_TOKEN_INVALID` says what failed (expired, not yet valid, wrong audience, wrong issuer, bad
 * signature, unknown key, no role, malformed...) and never quotes the token; `OFA_AUTH_PROVIDER_UNAVAILABLE`
 * (retryable, `retryAfterMs`) when the discovery document or key set cannot be had, so the HTTP layer answers 503
 * rather than 401. Bad options: `OFA_AUTH_CONFIG`, at construction.
 */
import { createOptionsChecker, isOpenFactoryError, OpenFactoryError } from '@openfactory/model'
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type RemoteJWKSet,
} from 'jose'
import { validateScope } from './policy.ts'
import { type Principal, ROLES, type Role } from './types.ts'

/** The signature algorithms a verifier may accept: asymmetric ones only (see the header for HS*). */
export const TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number]

export interface TokenVerifierOptions {
  /** The provider's issuer identifier, compared exactly with `iss` (and with the discovery document's `issuer`). */
  readonly issuer: string
  /** What `aud` must hold (one of them, for a list): the client id or API identifier of OpenFactory. */
  readonly audience: string | readonly string[]
  /** The key set's URL; default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  readonly jwksUri?: string
  /** Where the role is: a claim name or a dotted path (`realm_access.roles`). Default `ofa_role`. */
  readonly roleClaim?: string
  /** Where the scopes are. Default `ofa_scopes`. */
  readonly scopeClaim?: string
  /** Leeway for `exp` and `nbf`, for clocks that disagree. Default 60. */
  readonly clockToleranceSeconds?: number
  /** Accepted signature algorithms. Default: all of `TOKEN_ALGORITHMS`. */
  readonly algorithms?: readonly TokenAlgorithm[]
  /** Timeout of one fetch (discovery, key set), body included. Default 5000. */
  readonly fetchTimeoutMs?: number
  /** Largest body read from the provider, after decompression. Default 256 KiB. */
  readonly maxResponseBytes?: number
  /** Least time between two fetches of the key set for unknown key ids, and after a failed fetch. Default 30 s. */
  readonly jwksCooldownMs?: number
  /** Age after which the key set is fetched again before use. Default 10 min. */
  readonly jwksMaxAgeMs?: number
}

export const TOKEN_VERIFIER_DEFAULTS = {
  roleClaim: 'ofa_role',
  scopeClaim: 'ofa_scopes',
  clockToleranceSeconds: 60,
  algorithms: TOKEN_ALGORITHMS,
  fetchTimeoutMs: 5000,
  maxResponseBytes: 256 * 1024,
  jwksCooldownMs: 30_000,
  jwksMaxAgeMs: 600_000,
} as const

/**
 * Verifies bearer tokens of one provider. `verify` resolves to the caller or rejects with `OFA_AUTH_TOKEN_INVALID`
 * or `OFA_AUTH_PROVIDER_UNAVAILABLE`, nothing else. Created at app start (no network until the first token);
 * `close()` at app close aborts fetches in flight (nothing else to release, so it is synchronous) and makes
 * later `verify` calls reject with `OFA_AUTH_PROVIDER_UNAVAILABLE`.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>
  close(): void
}

/** Longer than any header Node.js accepts (16 KiB): such a string is refused before it is decoded. */
const MAX_TOKEN_CHARS = 16_384
/** Scopes of one token, at most (as many as an API key may hold would do; this bounds the work per request). */
const MAX_SCOPES = 1000

const checkOptions = createOptionsChecker(
  {
    type: 'object',
    properties: {
      issuer: { type: 'string', minLength: 1, maxLength: 2048 },
      audience: {
        anyOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        ],
        expected: 'a non-empty string or list of strings',
      },
      jwksUri: { type: 'string', minLength: 1, maxLength: 2048 },
      roleClaim: { type: 'string', minLength: 1, maxLength: 200 },
      scopeClaim: { type: 'string', minLength: 1, maxLength: 200 },
      clockToleranceSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
      algorithms: {
        type: 'array',
        minItems: 1,
        items: { anyOf: TOKEN_ALGORITHMS.map((a) => ({ const: a })) },
      },
      fetchTimeoutMs: { type: 'integer', minimum: 1, maximum: 120_000 },
      maxResponseBytes: { type: 'integer', minimum: 1024, maximum: 16 * 1024 * 1024 },
      jwksCooldownMs: { type: 'integer', minimum: 0 },
      jwksMaxAgeMs: { type: 'integer', minimum: 0 },
    },
    required: ['issuer', 'audience'],
    additionalProperties: false,
  } as unknown as Parameters<typeof createOptionsChecker>[0],
  { code: 'OFA_AUTH_CONFIG', what: 'TokenVerifierOptions' },
)

/** Checks the options (throws `OFA_AUTH_CONFIG`) and returns a verifier; nothing is fetched yet. */
/** Verified tokens remembered (each at most VERIFIED_TTL_MS, and never past its `exp`). */
const MAX_VERIFIED = 10_000
const VERIFIED_TTL_MS = 60_000

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  for (const alg of Array.isArray(options?.algorithms) ? options.algorithms : []) {
    if (typeof alg === 'string' && (/^HS/i.test(alg) || alg.toLowerCase() === 'none')) {
      throw new OpenFactoryError(
        'OFA_AUTH_CONFIG',
        `TokenVerifierOptions.algorithms: ${alg} is not accepted: only asymmetric signatures (${TOKEN_ALGORITHMS.join(', ')}); use API keys for shared secrets`,
      )
    }
  }
  checkOptions(options)
  if (options.jwksUri !== undefined) checkFetchUrl(options.jwksUri, 'TokenVerifierOptions.jwksUri')
  else checkFetchUrl(discoveryUrl(options.issuer), 'TokenVerifierOptions.issuer (its discovery document)')
  return new OidcTokenVerifier(options)
}

class OidcTokenVerifier implements TokenVerifier {
  readonly #issuer: string
  readonly #audience: string[]
  readonly #roleClaim: string
  readonly #scopeClaim: string
  readonly #clockTolerance: number
  readonly #algorithms: string[]
  readonly #fetchTimeoutMs: number
  readonly #maxResponseBytes: number
  readonly #cooldownMs: number
  readonly #maxAgeMs: number
  readonly #jwksUri: string | undefined
  readonly #closing = new AbortController()
  /** The key set, once its URL is known (discovery done); a failed discovery leaves it unset for the next try. */
  #keySet: Promise<RemoteJWKSet> | undefined
  /** After a failed fetch: no other fetch before `#failedUntil`; requests meanwhile get `#failure`. */
  #failedUntil = 0
  #failure = ''
  readonly #getKey: JWTVerifyGetKey

  constructor(o: TokenVerifierOptions) {
    const d = TOKEN_VERIFIER_DEFAULTS
    this.#issuer = o.issuer
    this.#audience = typeof o.audience === 'string' ? [o.audience] : [...o.audience]
    this.#roleClaim = o.roleClaim ?? d.roleClaim
    this.#scopeClaim = o.scopeClaim ?? d.scopeClaim
    this.#clockTolerance = o.clockToleranceSeconds ?? d.clockToleranceSeconds
    this.#algorithms = [...(o.algorithms ?? d.algorithms)]
    this.#fetchTimeoutMs = o.fetchTimeoutMs ?? d.fetchTimeoutMs
    this.#maxResponseBytes = o.maxResponseBytes ?? d.maxResponseBytes
    this.#cooldownMs = o.jwksCooldownMs ?? d.jwksCooldownMs
    this.#maxAgeMs = o.jwksMaxAgeMs ?? d.jwksMaxAgeMs
    this.#jwksUri = o.jwksUri
    this.#getKey = (header, token) => this.#resolveKey(header, token)
  }

  /** Tokens verified, by their text, oldest first (bounded: MAX_VERIFIED). */
  readonly #verified = new Map<string, { principal: Principal; until: number }>()

  async verify(token: string): Promise<Principal> {
    if (this.#closing.signal.aborted) throw unavailable('the token verifier is closed')
    // A string too long for a header, or not three base64url parts, is refused before any decoding or fetch.
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || !COMPACT_JWS.test(token)) {
      throw refused('malformed (not a compact JWS)')
    }
    // A token verified before is its principal again until it expires (or VERIFIED_TTL_MS passes): a signature check
    // costs tens of microseconds, a client sends the same token with every request.
    const now = Date.now()
    const cached = this.#verified.get(token)
    if (cached && cached.until > now) return cached.principal
    let claims: JWTPayload
    try {
      const result = await jwtVerify(token, this.#getKey, {
        issuer: this.#issuer,
        audience: this.#audience,
        algorithms: this.#algorithms,
        clockTolerance: this.#clockTolerance,
        requiredClaims: ['exp', 'sub'],
      })
      claims = result.payload
    } catch (err) {
      if (isOpenFactoryError(err)) throw err
      throw refused(reasonOf(err))
    }
    const principal = this.#principal(claims)
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : now
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value as string)
    this.#verified.set(token, { principal, until: Math.min(exp, now + VERIFIED_TTL_MS) })
    return principal
  }

  close(): void {
    this.#closing.abort()
  }

  #principal(claims: JWTPayload): Principal {
    const sub = claims.sub
    if (typeof sub !== 'string' || sub === '') throw refused('malformed "sub" claim')
    const role = highestRole(claimAt(claims, this.#roleClaim))
    if (role === undefined) throw refused(`no OpenFactory role (viewer, operator, admin) in "${this.#roleClaim}"`)
    const scopes = this.#scopes(claimAt(claims, this.#scopeClaim))
    const name = [claims.preferred_username, claims.name, sub].find((v) => typeof v === 'string' && v !== '')
    return Object.freeze({
      id: `token:${this.#issuer}#${sub}`,
      kind: 'token',
      name: name as string,
      role,
      scopes: Object.freeze(scopes),
    })
  }

  #scopes(value: unknown): string[] {
    if (value === undefined) return []
    const what = `"${this.#scopeClaim}"`
    const list = typeof value === 'string' ? value.split(/\s+/).filter((s) => s !== '') : value
    if (!Array.isArray(list)) throw refused(`malformed ${what} claim: not a list or string of patterns`)
    if (list.length === 0) throw refused(`${what} claim is present but empty (leave it out for every asset)`)
    if (list.length > MAX_SCOPES) throw refused(`${what} claim holds more than ${MAX_SCOPES} patterns`)
    return list.map((scope, i) => {
      try {
        return validateScope(scope, `${this.#scopeClaim}[${i}]`)
      } catch {
        throw refused(`${what} claim: entry ${i} is not a UNS or asset: pattern`)
      }
    })
  }

  /** jose's key lookup, with its failures sorted: the token's fault (401) or the provider's (503). */
  async #resolveKey(...args: Parameters<JWTVerifyGetKey>): Promise<Awaited<ReturnType<RemoteJWKSet>>> {
    const keySet = await this.#keys()
    let key: Awaited<ReturnType<RemoteJWKSet>>
    try {
      key = await keySet(...args)
    } catch (err) {
      if (isOpenFactoryError(err)) throw err
      if (err instanceof errors.JWKSNoMatchingKey) throw refused(`unknown key${quoteKid(args[0].kid)}`)
      if (err instanceof errors.JWKSMultipleMatchingKeys) throw refused('no key id, and several keys could match')
      if (err instanceof errors.JOSENotSupported) throw refused('algorithm not supported')
      // The key set parsed, but a key in it could not be imported: the provider's fault.
      throw unavailable(`the provider's key set holds a key that cannot be used (${describe(err)})`, err)
    }
    // jose refuses these too (RFC 7518 §3.3), with a TypeError we would have to tell apart from a bug by its text.
    const bits = (key.algorithm as { modulusLength?: number }).modulusLength
    if (bits !== undefined && bits < 2048) throw refused(`signed with an RSA key of ${bits} bits (at least 2048)`)
    return key
  }

  #keys(): Promise<RemoteJWKSet> {
    if (!this.#keySet) {
      this.#keySet = (async () => {
        const url = this.#jwksUri ?? (await this.#discover())
        return createRemoteJWKSet(new URL(url), {
          timeoutDuration: this.#fetchTimeoutMs,
          cooldownDuration: this.#cooldownMs,
          cacheMaxAge: this.#maxAgeMs,
          [customFetch]: async (href, init) => {
            const { bytes } = await this.#fetchJson(href, 'key set', init.signal, init.headers, isKeySet)
            // A new key set may have retired a key: tokens are checked again.
            this.#verified.clear()
            return new Response(bytes, { status: 200, headers: { 'content-type': 'application/json' } })
          },
        })
      })()
      this.#keySet.catch(() => {
        this.#keySet = undefined
      })
    }
    return this.#keySet
  }

  async #discover(): Promise<string> {
    const url = discoveryUrl(this.#issuer)
    const fetched = await this.#fetchJson(url, 'discovery document', AbortSignal.timeout(this.#fetchTimeoutMs))
    const doc = fetched.body as Record<string, unknown>
    const fail = (why: string) => {
      this.#failedUntil = Date.now() + this.#cooldownMs
      this.#failure = why
      return unavailable(why, undefined, this.#cooldownMs)
    }
    if (doc.issuer !== this.#issuer) {
      throw fail(`the discovery document at ${url} names another issuer than the configured ${this.#issuer}`)
    }
    if (typeof doc.jwks_uri !== 'string') throw fail(`the discovery document at ${url} has no jwks_uri`)
    try {
      checkFetchUrl(doc.jwks_uri, 'jwks_uri')
    } catch (err) {
      throw fail(`the discovery document at ${url}: ${(err as Error).message}`)
    }
    return doc.jwks_uri
  }

  /**
   * One GET to the provider, bounded: the timeout of `signal` and `close()` abort it, the body is read up to
   * `#maxResponseBytes` (after decompression: undici decodes gzip/br before we count), no redirect is followed,
   * and anything but 200 with a JSON body that `accept` likes is a failure. Failures are remembered for the
   * cooldown. Returns the bytes read (what jose's `customFetch` hands on) and their JSON.
   */
  async #fetchJson(
    url: string,
    what: string,
    signal: AbortSignal,
    headers?: Headers | Record<string, string>,
    accept: (body: unknown) => boolean = isObject,
  ): Promise<{ bytes: Uint8Array; body: unknown }> {
    if (this.#closing.signal.aborted) throw unavailable('the token verifier is closed')
    const now = Date.now()
    if (now < this.#failedUntil) throw unavailable(this.#failure, undefined, this.#failedUntil - now)
    try {
      const response = await fetch(url, {
        method: 'GET',
        redirect: 'manual',
        headers: headers ?? { accept: 'application/json' },
        signal: AbortSignal.any([signal, this.#closing.signal]),
      })
      if (response.status !== 200) {
        await response.body?.cancel()
        throw new Error(`answered HTTP ${response.status}`)
      }
      const bytes = await readCapped(response, this.#maxResponseBytes)
      let body: unknown
      try {
        body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
      } catch {
        throw new Error('answered with a body that is not JSON')
      }
      if (!accept(body)) throw new Error('answered JSON of the wrong shape')
      return { bytes, body }
    } catch (err) {
      const why = this.#closing.signal.aborted
        ? 'the token verifier is closed'
        : `the ${what} at ${url} cannot be had: ${describe(err)}`
      this.#failedUntil = Date.now() + this.#cooldownMs
      this.#failure = why
      throw unavailable(why, err, this.#cooldownMs)
    }
  }
}

/** Three base64url parts, the last two possibly empty (an unsigned token still reaches jose to be named). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/

/** The body up to `max` bytes; past it the stream is cancelled and the fetch fails. */
async function readCapped(response: Response, max: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > max) {
    await response.body?.cancel()
    throw new Error(`answered ${declared} bytes, more than the ${max} accepted`)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  if (response.body) {
    const reader = response.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > max) {
        await reader.cancel()
        throw new Error(`answered more than the ${max} bytes accepted`)
      }
      chunks.push(value)
    }
  }
  return Buffer.concat(chunks)
}

/** `<issuer>/.well-known/openid-configuration`, a trailing `/` of the issuer removed first (Discovery §4). */
function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`
}

const LOOPBACK = /^(localhost|[^.]+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** A URL we fetch keys from: https, or http to this machine only. Throws `OFA_AUTH_CONFIG`. */
function checkFetchUrl(text: string, what: string): void {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new OpenFactoryError('OFA_AUTH_CONFIG', `${what} must be an absolute https URL, got ${JSON.stringify(text)}`)
  }
  if (url.protocol === 'https:') return
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return
  throw new OpenFactoryError(
    'OFA_AUTH_CONFIG',
    `${what} must be an https URL (http only on loopback: keys fetched in clear can be replaced on the way), got ${url.protocol}//${url.host}`,
  )
}

/**
 * The value at a claim path: the whole name if the object has it (`https://factory.example/roles`), else the
 * first split at a dot whose head is a key, continued below it (`realm_access.roles`).
 */
function claimAt(value: unknown, path: string): unknown {
  if (!isObject(value)) return undefined
  if (Object.hasOwn(value, path)) return value[path]
  for (let dot = path.indexOf('.'); dot !== -1; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot)
    if (!Object.hasOwn(value, head)) continue
    const found = claimAt(value[head], path.slice(dot + 1))
    if (found !== undefined) return found
  }
  return undefined
}

/** The highest OpenFactory role among a name, a space-separated string of names, or an array of names. */
function highestRole(value: unknown): Role | undefined {
  const names = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value : []
  let best = -1
  for (const n of names) best = Math.max(best, ROLES.indexOf(n as Role))
  return best === -1 ? undefined : ROLES[best]
}

/** What jose found wrong with the token, in a few words (jose's own messages are not passed on). */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'expired'
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `missing "${err.claim}" claim`
    if (err.reason === 'invalid') return `malformed "${err.claim}" claim`
    if (err.claim === 'nbf') return 'not yet valid'
    if (err.claim === 'aud') return 'wrong audience'
    if (err.claim === 'iss') return 'wrong issuer'
    return `"${err.claim}" claim check failed`
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature'
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed'
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed'
  if (err instanceof errors.JOSENotSupported) return 'malformed (unsupported header or algorithm)'
  return 'cannot be verified'
}

/** A key id worth printing (short, plain characters); anything else is not quoted. */
function quoteKid(kid: unknown): string {
  return typeof kid === 'string' && /^[\w.~+/=-]{1,100}$/.test(kid) ? ` (kid ${kid})` : ''
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error && err.cause.message ? `: ${err.cause.message}` : ''
  if (err.name === 'TimeoutError') return 'timed out'
  return `${err.message}${cause}`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isKeySet(value: unknown): boolean {
  return isObject(value) && Array.isArray(value.keys)
}

function refused(reason: string): OpenFactoryError {
  return new OpenFactoryError('OFA_AUTH_TOKEN_INVALID', `bearer token refused: ${reason}`)
}

function unavailable(message: string, cause?: unknown, retryAfterMs?: number): OpenFactoryError {
  return new OpenFactoryError('OFA_AUTH_PROVIDER_UNAVAILABLE', `token provider unavailable: ${message}`, {
    cause,
    retryable: true,
    retryAfterMs,
  })
}
