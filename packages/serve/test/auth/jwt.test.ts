// OIDC bearer tokens (src/auth/jwt.ts) against a local provider of ours (oidc-issuer.ts): real keys, real HTTP,
// real signatures. What is accepted and what each refusal says; key rotation and the refetch cooldown (counted at
// the provider); a slow, broken or hostile provider; and fuzzed tokens, which must always be refused with
// OFA_AUTH_TOKEN_INVALID — no other error, no hang.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import { type ErrorCode, isOpenFactoryError, type OpenFactoryError } from '@openfactory/model'
import fc from 'fast-check'
import { base64url, type CryptoKey, exportSPKI, importJWK, SignJWT } from 'jose'
import { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from '../../src/index.ts'
import { startIssuer, type TestIssuer } from './oidc-issuer.ts'

function verifierFor(t: TestContext, idp: TestIssuer, options: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  const verifier = createTokenVerifier({ issuer: idp.issuer, audience: idp.audience, ...options })
  t.after(() => verifier.close())
  return verifier
}

/** The error `promise` rejects with, which must carry `code`; fails the test if it resolves or hangs (5 s). */
async function refusal(
  promise: Promise<unknown>,
  code: ErrorCode = 'OFA_AUTH_TOKEN_INVALID',
): Promise<OpenFactoryError> {
  const hang = sleep(5000, 'hang', { ref: false })
  let outcome: unknown
  try {
    outcome = await Promise.race([promise, hang])
  } catch (err) {
    assert.ok(isOpenFactoryError(err, code), `expected ${code}, got ${err instanceof Error ? err.stack : err}`)
    return err
  }
  assert.fail(outcome === 'hang' ? 'verify did not settle within 5 s' : `expected ${code}, but it resolved`)
}

/** Asserts the refusal's message holds `reason` and does not quote the token. */
async function refused(verifier: TokenVerifier, token: string, reason: RegExp): Promise<void> {
  const err = await refusal(verifier.verify(token))
  assert.match(err.message, reason)
  const signature = token.split('.')[2] ?? ''
  if (signature.length > 8) assert.ok(!err.message.includes(signature), 'the message quotes the token')
  assert.ok(!err.message.includes(token), 'the message quotes the token')
}

const now = () => Math.floor(Date.now() / 1000)

/** Whether two compact tokens decode to the same bytes, part by part. */
function decodesAs(a: string, b: string): boolean {
  const pa = a.split('.')
  const pb = b.split('.')
  if (pa.length !== 3 || pb.length !== 3) return false
  try {
    return pa.every((p, i) => Buffer.from(base64url.decode(p)).equals(base64url.decode(pb[i] as string)))
  } catch {
    return false
  }
}

test('viewer, operator and admin tokens (RS256 and ES256) become principals', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    for (const alg of ['RS256', 'ES256'] as const) {
      const token = await idp.sign({ ofa_role: role, sub: `u-${role}`, preferred_username: 'ada' }, { alg })
      assert.deepEqual(await verifier.verify(token), {
        id: `token:${idp.issuer}#u-${role}`,
        kind: 'token',
        name: 'ada',
        role,
        scopes: [],
      })
    }
  }
  // The name: preferred_username, else name, else sub.
  assert.equal((await verifier.verify(await idp.sign({ ofa_role: 'viewer', name: 'Ada L.' }))).name, 'Ada L.')
  assert.equal((await verifier.verify(await idp.sign({ ofa_role: 'viewer' }))).name, 'user-1')
  // Discovery once, the key set once: both are cached.
  assert.deepEqual(idp.requests, { discovery: 1, jwks: 1 })
})

test('tokens arriving together before the keys are known share one discovery and one key set fetch', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => idp.sign({ ofa_role: 'viewer', sub: `u${i}` })))
  const principals = await Promise.all(tokens.map((tok) => verifier.verify(tok)))
  assert.deepEqual(
    principals.map((p) => p.id),
    tokens.map((_, i) => `token:${idp.issuer}#u${i}`),
  )
  assert.deepEqual(idp.requests, { discovery: 1, jwks: 1 })
})

test('a role claim that is a list (Keycloak realm and client roles, Auth0 namespaced claims) gives the highest role', async (t) => {
  const idp = await startIssuer(t)
  const realm = verifierFor(t, idp, { roleClaim: 'realm_access.roles' })
  const roles = (list: unknown) => idp.sign({ realm_access: { roles: list } })
  assert.equal(
    (await realm.verify(await roles(['offline_access', 'viewer', 'operator', 'uma_authorization']))).role,
    'operator',
  )
  assert.equal((await realm.verify(await roles(['admin', 'viewer']))).role, 'admin')
  assert.equal((await realm.verify(await roles('viewer operator'))).role, 'operator')
  await refused(realm, await roles(['offline_access', 'Admin']), /no OpenFactory role .*realm_access\.roles/)
  await refused(realm, await roles(7), /no OpenFactory role/)

  const client = verifierFor(t, idp, { roleClaim: 'resource_access.openfactory.roles' })
  const token = await idp.sign({ resource_access: { other: { roles: ['admin'] }, openfactory: { roles: ['viewer'] } } })
  assert.equal((await client.verify(token)).role, 'viewer')

  const namespaced = verifierFor(t, idp, { roleClaim: 'https://factory.example/roles' })
  assert.equal((await namespaced.verify(await idp.sign({ 'https://factory.example/roles': ['admin'] }))).role, 'admin')
})

test('scopes: an array or a space-separated string of UNS and asset patterns; absent means every asset', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  const scopes = async (value: unknown) =>
    (await verifier.verify(await idp.sign({ ofa_role: 'operator', ofa_scopes: value }))).scopes
  assert.deepEqual(await scopes(['Plant1/Machining/#', 'asset:CNC-*']), ['Plant1/Machining/#', 'asset:CNC-*'])
  assert.deepEqual(await scopes(' Plant1/+/WC001  asset:cnc-1 '), ['Plant1/+/WC001', 'asset:cnc-1'])
  assert.deepEqual(await scopes(undefined), [])

  const bad = (value: unknown) => idp.sign({ ofa_role: 'operator', ofa_scopes: value })
  await refused(verifier, await bad([]), /"ofa_scopes" claim is present but empty/)
  await refused(verifier, await bad(''), /present but empty/)
  await refused(verifier, await bad(['Plant1/#/x']), /entry 0 is not a UNS or asset: pattern/)
  await refused(verifier, await bad(['Plant1/#', 42]), /entry 1/)
  await refused(verifier, await bad(['asset:']), /entry 0/)
  await refused(verifier, await bad({ uns: 'Plant1/#' }), /malformed "ofa_scopes" claim/)

  const custom = verifierFor(t, idp, { scopeClaim: 'ofa.scopes' })
  const token = await idp.sign({ ofa_role: 'viewer', ofa: { scopes: ['Plant2/#'] } })
  assert.deepEqual((await custom.verify(token)).scopes, ['Plant2/#'])
})

test('time: expired and not-yet-valid tokens are refused, within the clock tolerance accepted', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  const role = { ofa_role: 'viewer' }
  await refused(verifier, await idp.sign({ ...role, exp: now() - 90 }), /: expired$/)
  await refused(verifier, await idp.sign({ ...role, nbf: now() + 120 }), /: not yet valid$/)
  // The default tolerance is 60 s.
  assert.equal((await verifier.verify(await idp.sign({ ...role, exp: now() - 30 }))).role, 'viewer')
  assert.equal((await verifier.verify(await idp.sign({ ...role, nbf: now() + 30 }))).role, 'viewer')

  const strict = verifierFor(t, idp, { clockToleranceSeconds: 0 })
  await refused(strict, await idp.sign({ ...role, exp: now() - 2 }), /expired/)
  await refused(strict, await idp.sign({ ...role, nbf: now() + 30 }), /not yet valid/)

  // A token must expire, and name its subject.
  await refused(verifier, await idp.sign({ ...role, exp: undefined }), /missing "exp" claim/)
  await refused(verifier, await idp.sign({ ...role, sub: undefined }), /missing "sub" claim/)
  await refused(verifier, await idp.sign({ ...role, sub: '' }), /malformed "sub" claim/)
  await refused(verifier, await idp.sign({ ...role, exp: 'tomorrow' as unknown as number }), /malformed "exp" claim/)
})

test('audience and issuer must be the configured ones', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  const role = { ofa_role: 'viewer' }
  await refused(verifier, await idp.sign({ ...role, aud: 'another-app' }), /wrong audience/)
  await refused(verifier, await idp.sign({ ...role, aud: undefined }), /missing "aud" claim/)
  assert.equal((await verifier.verify(await idp.sign({ ...role, aud: ['another-app', 'openfactory'] }))).role, 'viewer')
  await refused(verifier, await idp.sign({ ...role, iss: 'https://evil.example' }), /wrong issuer/)
  await refused(verifier, await idp.sign({ ...role, iss: `${idp.issuer}/` }), /wrong issuer/)

  const several = verifierFor(t, idp, { audience: ['dashboard', 'openfactory'] })
  assert.equal((await several.verify(await idp.sign(role))).role, 'viewer')
  await refused(several, await idp.sign({ ...role, aud: 'other' }), /wrong audience/)
})

test('signatures: another key under a published kid, alg none, HS256 (also keyed with the public key) are refused', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  const claims = { ofa_role: 'admin', iss: idp.issuer, aud: idp.audience, sub: 'mallory', exp: now() + 300 }
  await refused(verifier, await idp.sign(claims, { foreignKey: true }), /: bad signature$/)
  await refused(verifier, await idp.sign(claims, { alg: 'ES256', foreignKey: true }), /bad signature/)

  // A valid token with its signature swapped for another token's.
  const [h, p] = (await idp.sign(claims)).split('.')
  const otherSig = (await idp.sign({ ...claims, sub: 'x' })).split('.')[2]
  await refused(verifier, `${h}.${p}.${otherSig}`, /bad signature/)

  const part = (v: unknown) => base64url.encode(JSON.stringify(v))
  await refused(verifier, `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`, /algorithm not allowed/)
  await refused(verifier, `${part({ alg: 'none' })}.${part(claims)}`, /malformed/)

  const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!')
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: idp.kid() }).sign(secret)
  await refused(verifier, hs, /algorithm not allowed/)
  // Algorithm confusion: HMAC keyed with the issuer's RSA public key, which anyone can fetch.
  const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<{ kid: string }> }
  const publicKey = await importJWK(jwks.keys.find((k) => k.kid === idp.kid()) as never, 'RS256')
  const pem = new TextEncoder().encode(await exportSPKI(publicKey as CryptoKey))
  const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: idp.kid() }).sign(pem)
  await refused(verifier, confused, /algorithm not allowed/)

  // Algorithms can be narrowed further.
  const esOnly = verifierFor(t, idp, { algorithms: ['ES256'] })
  await refused(esOnly, await idp.sign(claims), /algorithm not allowed/)
  assert.equal((await esOnly.verify(await idp.sign(claims, { alg: 'ES256' }))).role, 'admin')
})

test('a token without an OpenFactory role is refused', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  await refused(verifier, await idp.sign({}), /no OpenFactory role \(viewer, operator, admin\) in "ofa_role"/)
  await refused(verifier, await idp.sign({ ofa_role: 'superuser' }), /no OpenFactory role/)
  await refused(verifier, await idp.sign({ ofa_role: { name: 'admin' } }), /no OpenFactory role/)
})

/** Cooldown of the rotation and flood tests: long enough that signing tokens and making a key fit well inside. */
const COOLDOWN_MS = 1000

test('key rotation: an unknown kid refetches the key set once, then the new key verifies', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp, { jwksCooldownMs: COOLDOWN_MS })
  const before = await idp.sign({ ofa_role: 'viewer' })
  assert.equal((await verifier.verify(before)).role, 'viewer')
  const fetchedAt = Date.now()
  assert.equal(idp.requests.jwks, 1)

  const kid = await idp.rotate({ retire: true })
  const token = await idp.sign({ ofa_role: 'operator' })
  // Within the cooldown of the last fetch the new kid is unknown, and nothing is fetched.
  await refused(verifier, token, new RegExp(`unknown key \\(kid ${kid}\\)`))
  assert.equal(idp.requests.jwks, 1)
  await sleep(fetchedAt + COOLDOWN_MS + 50 - Date.now())
  assert.equal((await verifier.verify(token)).role, 'operator')
  assert.equal(idp.requests.jwks, 2)
  // The retired key went with the refetch: its tokens now name an unknown key (and fetch nothing, in the cooldown).
  await refused(verifier, before, /unknown key/)
  assert.deepEqual(idp.requests, { discovery: 1, jwks: 2 })
})

test('a flood of unknown kids costs the provider at most one fetch per cooldown', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp, { jwksCooldownMs: COOLDOWN_MS })
  const garbage = (i: number) => idp.sign({ ofa_role: 'admin' }, { kid: `made-up-${i}` })
  const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => garbage(i)))
  await verifier.verify(await idp.sign({ ofa_role: 'viewer' }))
  const fetchedAt = Date.now()
  assert.equal(idp.requests.jwks, 1)

  // Within the cooldown: no fetch at all, concurrent or one after another.
  await Promise.all(tokens.slice(0, 100).map((tok) => refused(verifier, tok, /unknown key \(kid made-up-\d+\)/)))
  for (const tok of tokens.slice(100, 150)) await refused(verifier, tok, /unknown key/)
  assert.equal(idp.requests.jwks, 1)

  // Past it: the first unknown kid refetches (once, however many arrive together), the rest wait for the next.
  await sleep(fetchedAt + COOLDOWN_MS + 50 - Date.now())
  await Promise.all(tokens.slice(150).map((tok) => refused(verifier, tok, /unknown key/)))
  for (const tok of tokens.slice(0, 50)) await refused(verifier, tok, /unknown key/)
  assert.deepEqual(idp.requests, { discovery: 1, jwks: 2 })
})

test('the provider may be slow, broken or hostile: fetches are bounded and its failures answered 503', async (t) => {
  await t.test('a key set past the size cap (declared, streamed without end, gzip bomb)', async (t) => {
    const big = JSON.stringify({ keys: [{ kty: 'oct', k: 'A'.repeat(2 * 1024 * 1024) }] })
    const answers: Array<(res: import('node:http').ServerResponse) => void> = [
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(big),
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"keys":[{"kty":"RSA","n":"')
        const drip = () => {
          if (res.destroyed) return
          if (res.write('A'.repeat(64 * 1024))) setImmediate(drip)
          else res.once('drain', drip)
        }
        drip()
      },
      (res) =>
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(big)),
    ]
    for (const answer of answers) {
      const idp = await startIssuer(t)
      idp.override = (kind, _req, res) => {
        if (kind !== 'jwks') return false
        answer(res)
        return true
      }
      const verifier = verifierFor(t, idp)
      const started = Date.now()
      const err = await refusal(
        verifier.verify(await idp.sign({ ofa_role: 'viewer' })),
        'OFA_AUTH_PROVIDER_UNAVAILABLE',
      )
      assert.match(
        err.message,
        /key set at .*\/jwks cannot be had: answered (\d+ bytes, )?more than the 262144 bytes accepted/,
      )
      assert.ok(Date.now() - started < 3000, 'stopped at the cap, not at the timeout')
      assert.equal(err.retryable, true)
    }
  })

  await t.test('an issuer that cannot be reached', async (t) => {
    const idp = await startIssuer(t)
    await idp.close()
    const verifier = createTokenVerifier({ issuer: idp.issuer, audience: 'openfactory' })
    t.after(() => verifier.close())
    const token = await idp.sign({ ofa_role: 'viewer' })
    const err = await refusal(verifier.verify(token), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
    assert.match(
      err.message,
      /discovery document at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration cannot be had/,
    )
    assert.equal(err.retryable, true)
    assert.ok((err.retryAfterMs ?? 0) > 0)
  })

  await t.test('an issuer that never answers: the timeout; close() aborts a fetch in flight', async (t) => {
    const idp = await startIssuer(t)
    idp.override = () => true
    const verifier = verifierFor(t, idp, { fetchTimeoutMs: 200 })
    const started = Date.now()
    const err = await refusal(verifier.verify(await idp.sign({ ofa_role: 'viewer' })), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
    assert.match(err.message, /timed out/)
    assert.ok(Date.now() - started < 2000)

    const other = createTokenVerifier({ issuer: idp.issuer, audience: 'openfactory' })
    const pending = other.verify(await idp.sign({ ofa_role: 'viewer' }))
    await sleep(50)
    other.close()
    assert.match((await refusal(pending, 'OFA_AUTH_PROVIDER_UNAVAILABLE')).message, /closed/)
    const later = await refusal(other.verify(await idp.sign({ ofa_role: 'viewer' })), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
    assert.match(later.message, /closed/)
  })

  await t.test('a failing key set endpoint is asked once per cooldown, and used again once it recovers', async (t) => {
    const idp = await startIssuer(t)
    let failing = true
    idp.override = (kind, _req, res) => {
      if (kind !== 'jwks' || !failing) return false
      res.writeHead(500).end('oops')
      return true
    }
    const verifier = verifierFor(t, idp, { jwksCooldownMs: COOLDOWN_MS })
    const token = await idp.sign({ ofa_role: 'viewer' })
    const first = await refusal(verifier.verify(token), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
    assert.match(first.message, /answered HTTP 500/)
    await Promise.all(
      Array.from({ length: 50 }, () => refusal(verifier.verify(token), 'OFA_AUTH_PROVIDER_UNAVAILABLE')),
    )
    assert.equal(idp.requests.jwks, 1)
    failing = false
    await sleep(COOLDOWN_MS + 50)
    assert.equal((await verifier.verify(token)).role, 'viewer')
    assert.equal(idp.requests.jwks, 2)
  })

  await t.test('a key set that is not JSON, or not a key set', async (t) => {
    for (const body of ['<html>', '{"keys":{}}', '[]', '{"keys":[{"kty":"RSA","kid":"x"}]}']) {
      const idp = await startIssuer(t)
      idp.override = (kind, _req, res) => {
        if (kind !== 'jwks') return false
        res.writeHead(200, { 'content-type': 'application/json' }).end(body)
        return true
      }
      const verifier = verifierFor(t, idp)
      const token = await idp.sign({ ofa_role: 'viewer' }, { kid: 'x' })
      const err = await refusal(verifier.verify(token), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
      assert.match(err.message, /not JSON|wrong shape|cannot be used/, body)
    }
  })

  await t.test('an RSA key shorter than 2048 bits does not verify tokens', async (t) => {
    const idp = await startIssuer(t)
    idp.override = (kind, _req, res) => {
      if (kind !== 'jwks') return false
      const weak = {
        kty: 'RSA',
        kid: 'weak',
        alg: 'RS256',
        n: base64url.encode(new Uint8Array(128).fill(0xc5)),
        e: 'AQAB',
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [weak] }))
      return true
    }
    const verifier = verifierFor(t, idp)
    await refused(
      verifier,
      await idp.sign({ ofa_role: 'viewer' }, { kid: 'weak' }),
      /RSA key of 1024 bits \(at least 2048\)/,
    )
  })

  await t.test('a discovery document for another issuer, or with a jwks_uri in clear over the network', async (t) => {
    const other = await startIssuer(t, { discovery: { issuer: 'https://idp.example' } })
    const verifier = verifierFor(t, other)
    const err = await refusal(
      verifier.verify(await other.sign({ ofa_role: 'viewer' })),
      'OFA_AUTH_PROVIDER_UNAVAILABLE',
    )
    assert.match(err.message, /names another issuer than the configured http:\/\/127\.0\.0\.1:\d+/)
    assert.equal(other.requests.jwks, 0)

    const clear = await startIssuer(t, { discovery: { jwks_uri: 'http://idp.example/jwks' } })
    const v2 = verifierFor(t, clear)
    const e2 = await refusal(v2.verify(await clear.sign({ ofa_role: 'viewer' })), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
    assert.match(e2.message, /jwks_uri must be an https URL/)
  })

  await t.test('a redirect is not followed', async (t) => {
    const idp = await startIssuer(t)
    idp.override = (kind, _req, res) => {
      if (kind !== 'jwks') return false
      res.writeHead(302, { location: `${idp.issuer}/elsewhere` }).end()
      return true
    }
    const verifier = verifierFor(t, idp)
    const err = await refusal(verifier.verify(await idp.sign({ ofa_role: 'viewer' })), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
    assert.match(err.message, /answered HTTP 302/)
  })
})

test('jwksUri given: no discovery', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp, { jwksUri: idp.jwksUri })
  assert.equal((await verifier.verify(await idp.sign({ ofa_role: 'admin' }))).role, 'admin')
  assert.deepEqual(idp.requests, { discovery: 0, jwks: 1 })
})

test('options are checked at construction: no HS*, no none, https fetches, the required fields', () => {
  const ok = { issuer: 'https://idp.example/realms/plant', audience: 'openfactory' }
  const bad: Array<[unknown, RegExp]> = [
    [{ ...ok, algorithms: ['HS256'] }, /HS256 is not accepted: only asymmetric signatures .*use API keys/],
    [{ ...ok, algorithms: ['RS256', 'none'] }, /none is not accepted/],
    [{ ...ok, algorithms: ['RS257'] }, /algorithms\[0\] must be one of RS256/],
    [{ ...ok, algorithms: [] }, /algorithms must have at least 1 item/],
    [{ audience: 'openfactory' }, /issuer is required/],
    [{ issuer: ok.issuer }, /audience is required/],
    [{ ...ok, audience: [] }, /audience must be a non-empty string or list of strings/],
    [{ ...ok, issuer: 'http://idp.example' }, /issuer \(its discovery document\) must be an https URL/],
    [{ ...ok, jwksUri: 'http://10.0.0.5/jwks' }, /jwksUri must be an https URL/],
    [{ ...ok, jwksUri: 'idp.example/jwks' }, /jwksUri must be an absolute https URL/],
    [{ ...ok, clockToleranceSeconds: -1 }, /clockToleranceSeconds must be an integer at least 0/],
    [{ ...ok, roleclaim: 'roles' }, /roleclaim is not an option \(did you mean roleClaim\?\)/],
  ]
  for (const [options, message] of bad) {
    assert.throws(
      () => createTokenVerifier(options as TokenVerifierOptions),
      (err) => isOpenFactoryError(err, 'OFA_AUTH_CONFIG') && message.test(err.message),
      JSON.stringify(options),
    )
  }
  // Loopback may be plain http; https anywhere.
  for (const issuer of [
    'http://localhost:8080/realms/x',
    'http://127.0.0.1:1',
    'http://[::1]:9',
    'https://idp.example',
  ]) {
    createTokenVerifier({ issuer, audience: 'a' }).close()
  }
  createTokenVerifier({ issuer: 'not-a-url', audience: 'a', jwksUri: 'https://idp.example/keys' }).close()
})

test('fuzz: random, truncated and re-headed tokens are refused with OFA_AUTH_TOKEN_INVALID, never anything else', async (t) => {
  const idp = await startIssuer(t)
  const verifier = verifierFor(t, idp)
  const valid = await idp.sign({ ofa_role: 'admin' })
  const validEs = await idp.sign({ ofa_role: 'admin' }, { alg: 'ES256' })
  assert.equal((await verifier.verify(valid)).role, 'admin')
  const [, payload, signature] = valid.split('.') as [string, string, string]
  const b64 = (v: unknown) => base64url.encode(typeof v === 'string' ? v : JSON.stringify(v))

  const header = fc.record(
    {
      alg: fc.oneof(
        fc.constantFrom('RS256', 'ES256', 'PS256', 'EdDSA', 'Ed25519', 'none', 'HS256', 'RSA-OAEP', ''),
        fc.string(),
        fc.integer(),
      ),
      kid: fc.oneof(fc.constantFrom(idp.kid(), idp.kid('ES256')), fc.string(), fc.integer(), fc.constant(null)),
      typ: fc.constantFrom('JWT', 'at+jwt', 'JOSE'),
      crit: fc.array(fc.constantFrom('b64', 'exp', 'kid', 'x'), { maxLength: 2 }),
      b64: fc.boolean(),
      jwk: fc.constant({ kty: 'oct', k: 'AAAA' }),
      extra: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  )
  const token = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}$/),
    fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n)),
    fc.nat({ max: validEs.length - 1 }).map((n) => validEs.slice(0, n)),
    fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 63 })).map(([i, c]) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const swapped = valid[i] === alphabet[c] ? alphabet[(c + 1) % 64] : alphabet[c]
      return valid.slice(0, i) + swapped + valid.slice(i + 1)
    }),
    header.map((h) => `${b64(h)}.${payload}.${signature}`),
    fc.tuple(header, fc.jsonValue({ maxDepth: 2 })).map(([h, p]) => `${b64(h)}.${b64(p)}.${signature}`),
    fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 })).map(([h, p]) => `${b64(h)}.${b64(p)}.`),
  )
  await fc.assert(
    fc.asyncProperty(token, async (tok) => {
      // Changing the last character of a part may only touch its unused low bits (base64url of a length not
      // a multiple of 3): the same bytes, the same signed token.
      if (decodesAs(tok, valid) || decodesAs(tok, validEs)) return
      await refusal(verifier.verify(tok))
    }),
    { numRuns: 1500 },
  )
  // Oversized and non-string input.
  await refusal(verifier.verify(`${valid}${'A'.repeat(20_000)}`))
  await refusal(verifier.verify(undefined as unknown as string))
  // Garbage never made the verifier hammer the provider (one fetch, in the cooldown of 30 s).
  assert.deepEqual(idp.requests, { discovery: 1, jwks: 1 })
})

test('an issuer without a discovery document (404) is unavailable', async (t) => {
  const server = createServer((_req, res) => res.writeHead(404).end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const verifier = createTokenVerifier({ issuer, audience: 'openfactory' })
  t.after(() => verifier.close())
  const idp = await startIssuer(t)
  const err = await refusal(verifier.verify(await idp.sign({ ofa_role: 'viewer' })), 'OFA_AUTH_PROVIDER_UNAVAILABLE')
  assert.match(err.message, /answered HTTP 404/)
})
