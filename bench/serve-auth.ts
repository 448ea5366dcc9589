// Authentication cost on REST reads (issue 14): `GET /api/assets/{uuid}` requests/s with an API key and with an
// OIDC token, beside the same server with authentication off, measured in the same run.
//
//   npx node bench/serve-auth.ts [--seconds 3] [--rounds 3] [--connections 10] [--assets 1000] [--items 20]
//
// Three servers, each in its own child process, built as serve-rest.ts's default one (the same log of assets ×
// items, answers cached until their asset changes; bench/lib/serve-bench.ts): authentication off (the anchor), and
// twice authentication required with API keys and OIDC tokens both accepted, as `ofa up` sets it up from
// factory.yaml `auth:` — one loaded with a viewer API key, one with a viewer token. Each request carries
// `Authorization: Bearer <credential>`. The key is checked by a SHA-256 and a constant-time compare; the token (RS256,
// RSA 2048, from the local issuer of packages/serve/test/auth/oidc-issuer.ts) by jose: signature, issuer, audience,
// expiry. The issuer runs in this process, as a provider runs apart from the server: the server fetches its
// discovery document and key set at the first token and keeps them (10 min), so a request costs the checks only;
// the run prints how often they were fetched. One token for every request: nothing caches a verdict.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createApiKey, createTokenVerifier, openAuditLog, openKeyStore } from '@openfactory/serve'
import { startIssuer } from '../packages/serve/test/auth/oidc-issuer.ts'
import {
  assetUuid,
  type LoadResult,
  listenServeApp,
  load,
  median,
  openAssetLog,
  reportListening,
  startServer,
} from './lib/serve-bench.ts'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    assets: { type: 'string', default: '1000' },
    items: { type: 'string', default: '20' },
    server: { type: 'string' },
    dir: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
  },
})
const N = Number(args.assets)
const M = Number(args.items)

if (args.server) {
  const log = await openAssetLog(args.dir as string, N, M)
  if (args.server === 'none') {
    reportListening(await listenServeApp(log))
  } else {
    const { key } = await createApiKey(log, { name: 'bench', role: 'viewer', by: 'bench' })
    const keys = openKeyStore(log)
    await keys.ready()
    const tokens = createTokenVerifier({ issuer: args.issuer as string, audience: args.audience as string })
    const port = await listenServeApp(log, { auth: { required: true, keys, tokens, audit: openAuditLog(log) } })
    reportListening(port, { key })
  }
} else {
  await main()
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds)
  const rounds = Number(args.rounds)
  const connections = Number(args.connections)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-auth-'))
  const idp = await startIssuer()
  try {
    const start = (kind: string) =>
      startServer<{ key: string }>(new URL(import.meta.url).pathname, [
        ...['--server', kind, '--assets', String(N), '--items', String(M), '--dir', path.join(base, kind)],
        ...['--issuer', idp.issuer, '--audience', idp.audience],
      ])
    const [none, withKey, withToken] = await Promise.all([start('none'), start('key'), start('token')])
    const token = await idp.sign({ ofa_role: 'viewer', exp: Math.floor(Date.now() / 1000) + 24 * 3600 })
    const cases = [
      { name: 'no auth (anchor)           ', port: none.port, credential: undefined },
      { name: 'API key (viewer)           ', port: withKey.port, credential: withKey.info.key },
      { name: 'OIDC token RS256 (viewer)  ', port: withToken.port, credential: token },
    ].map((c) => ({
      ...c,
      headers: c.credential ? { authorization: `Bearer ${c.credential}` } : undefined,
      runs: [] as LoadResult[],
    }))

    // Each server answers as expected: 200 with its credential, 401 without one where authentication is on.
    let body = ''
    for (const c of cases) {
      const url = `http://127.0.0.1:${c.port}/api/assets/${assetUuid(0)}`
      const res = await fetch(url, c.headers ? { headers: c.headers } : {})
      body = await res.text()
      if (res.status !== 200) throw new Error(`${c.name.trim()}: GET answered ${res.status}: ${body}`)
      if (c.credential && (await fetch(url)).status !== 401) throw new Error(`${c.name.trim()}: open without a key`)
    }
    console.log(
      `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; ${N} assets × ${M} items; ` +
        `body ${body.length} B, answers cached; token ${token.length} B (RS256, RSA 2048), key ${withKey.info.key.length} B; ` +
        `autocannon ${connections} connections and the issuer in this process, each server in its own; ` +
        `${rounds} rounds of ${seconds} s per case, cases alternating (+1 s warm-up)`,
    )

    const loadCase = (c: (typeof cases)[number], s: number) =>
      load({ port: c.port, seconds: s, connections, assets: N, ...(c.headers ? { headers: c.headers } : {}) })
    for (const c of cases) await loadCase(c, 1)
    // Rounds alternate the cases, so that load from elsewhere on the machine hits them alike; medians reported.
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) c.runs.push(await loadCase(c, seconds))
    }
    await Promise.all([none.stop(), withKey.stop(), withToken.stop()])

    for (const c of cases) {
      const r = median(c.runs)
      console.log(
        `${c.name}: ${r.requests.average.toFixed(0)} req/s median of ${c.runs.map((x) => x.requests.average.toFixed(0)).join(', ')} ` +
          `(latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms)`,
      )
    }
    // Ratios of the medians, and of each round (its cases ran seconds apart, under the same load from elsewhere).
    type Case = (typeof cases)[number]
    const [anchor, keyCase, jwtCase] = cases as [Case, Case, Case]
    const ratio = (c: Case) => (median(c.runs).requests.average / median(anchor.runs).requests.average).toFixed(2)
    const perRound = (c: Case) =>
      c.runs.map((r, i) => (r.requests.average / (anchor.runs[i] as LoadResult).requests.average).toFixed(2)).join(', ')
    console.log(
      `ratio to no auth (medians): key/none ${ratio(keyCase)}, jwt/none ${ratio(jwtCase)}; ` +
        `per round: key/none ${perRound(keyCase)}, jwt/none ${perRound(jwtCase)}`,
    )
    console.log(
      `issuer: discovery document fetched ${idp.requests.discovery}×, key set ${idp.requests.jwks}× (by the token server)`,
    )
  } finally {
    await idp.close()
    fs.rmSync(base, { recursive: true, force: true })
  }
}
