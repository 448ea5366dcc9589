/**
 * A local OIDC provider for tests: what a real one (Keycloak, Entra ID...) shows a resource server, and no more —
 * a discovery document and a JWKS over HTTP on 127.0.0.1 — plus a way to sign tokens with its keys. No mock of
 * jose or of fetch: the verifier under test fetches over a real socket and checks real signatures.
 *
 *   const idp = await startIssuer(t)                 // closed after the test
 *   const verifier = createTokenVerifier({ issuer: idp.issuer, audience: idp.audience })
 *   const token = await idp.sign({ ofa_role: 'operator', ofa_scopes: ['Plant1/#'] })
 *
 * - `issuer`: `http://127.0.0.1:<port>`; its discovery document is `<issuer>/.well-known/openid-configuration`
 *   (fields of `options.discovery` merged over it, e.g. another `issuer`), its key set `jwksUri` (`<issuer>/jwks`).
 * - Keys: one RS256 and one ES256 key (RSA 2048, P-256), both published, each with a `kid`. `kid(alg)` names the
 *   current one. `rotate({ alg, retire })` makes a new current key for `alg` and publishes it; the old one stays
 *   published unless `retire` (as providers do for a while); it resolves to the new kid.
 * - `sign(claims, opts)`: a compact JWS. Claims default to `iss` = issuer, `aud` = `audience` (default
 *   `openfactory`), `sub` = `user-1`, `iat` = now, `exp` = now + 300 s; `claims` are merged over them, and a claim
 *   set to `undefined` is left out (`sign({ exp: undefined })`). No role claim by default. Options: `alg` (RS256
 *   default, or ES256), `kid` (put another key id in the header), `foreignKey` (sign with a key that is not
 *   published, under the current kid: a forged signature), `header` (more protected header parameters).
 * - `requests`: how many times the discovery document and the key set were fetched.
 * - `override`: set it to answer a request yourself (a huge body, a 500, no answer at all); return true when you
 *   took the request, false to let the issuer answer.
 * - `close()`: stops the server and drops its connections (also those an override left hanging). Given a test
 *   context, `startIssuer(t)` calls it after the test.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose'

export type IssuerAlg = 'RS256' | 'ES256'

export interface TestIssuerOptions {
  /** What `sign` puts in `aud` by default. Default `openfactory`. */
  readonly audience?: string
  /** Merged over the discovery document. */
  readonly discovery?: Record<string, unknown>
}

export interface IssuerSignOptions {
  readonly alg?: IssuerAlg
  readonly kid?: string
  readonly foreignKey?: boolean
  readonly header?: Record<string, unknown>
}

export type IssuerOverride = (
  kind: 'discovery' | 'jwks' | 'other',
  req: IncomingMessage,
  res: ServerResponse,
) => boolean

export interface TestIssuer {
  readonly issuer: string
  readonly jwksUri: string
  readonly audience: string
  readonly requests: { discovery: number; jwks: number }
  override: IssuerOverride | undefined
  kid(alg?: IssuerAlg): string
  sign(claims?: JWTPayload, opts?: IssuerSignOptions): Promise<string>
  rotate(opts?: { alg?: IssuerAlg; retire?: boolean }): Promise<string>
  close(): Promise<void>
}

interface SigningKey {
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly jwk: JWK
}

let keyCounter = 0

async function newKey(alg: IssuerAlg): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const kid = `${alg.toLowerCase()}-${++keyCounter}`
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } }
}

export async function startIssuer(t?: TestContext, options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const current: Record<IssuerAlg, SigningKey> = { RS256: await newKey('RS256'), ES256: await newKey('ES256') }
  let published: SigningKey[] = [current.RS256, current.ES256]
  const foreign: Partial<Record<IssuerAlg, SigningKey>> = {}
  const requests = { discovery: 0, jwks: 0 }
  const audience = options.audience ?? 'openfactory'
  let issuer = ''

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    const kind = path === '/.well-known/openid-configuration' ? 'discovery' : path === '/jwks' ? 'jwks' : 'other'
    if (kind !== 'other') requests[kind]++
    if (api.override?.(kind, req, res)) return
    if (kind === 'other') {
      res.writeHead(404).end()
      return
    }
    const body =
      kind === 'discovery'
        ? {
            issuer,
            jwks_uri: `${issuer}/jwks`,
            id_token_signing_alg_values_supported: ['RS256', 'ES256'],
            ...options.discovery,
          }
        : { keys: published.map((k) => k.jwk) }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  let closed: Promise<void> | undefined
  const api: TestIssuer = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    audience,
    requests,
    override: undefined,
    kid: (alg = 'RS256') => current[alg].kid,
    async sign(claims = {}, opts = {}) {
      const alg = opts.alg ?? 'RS256'
      let key = current[alg]
      if (opts.foreignKey) {
        foreign[alg] ??= await newKey(alg)
        key = foreign[alg]
      }
      const now = Math.floor(Date.now() / 1000)
      const payload = { iss: issuer, aud: audience, sub: 'user-1', iat: now, exp: now + 300, ...claims }
      return new SignJWT(payload)
        .setProtectedHeader({ typ: 'JWT', ...opts.header, alg, kid: opts.kid ?? current[alg].kid })
        .sign(key.privateKey)
    },
    async rotate({ alg = 'RS256', retire = false } = {}) {
      const old = current[alg]
      current[alg] = await newKey(alg)
      published = [...published.filter((k) => !(retire && k === old)), current[alg]]
      return current[alg].kid
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    },
  }
  t?.after(() => api.close())
  return api
}
