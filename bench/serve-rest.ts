// REST current-state reads: `GET /api/assets/{uuid}` requests/s with autocannon, beside a bare Fastify route
// answering the same body, measured in the same run.
//
//   npx node bench/serve-rest.ts [--seconds 3] [--rounds 3] [--connections 10] [--assets 1000] [--items 20]
//
// Each server runs in its own child process (same Node, same flags); autocannon (programmatic API) runs in
// this process. The OpenFactory server holds `--assets` assets × `--items` items (rebuilt from an embedded log,
// as the supervisor writes them: declaration, attributes, one value per item) and each request asks for a
// random asset. The anchor is a bare Fastify 5 app whose one route sends a fixed JSON body of the same size (a
// real answer captured from the OpenFactory server) with the same content type: it measures HTTP and Fastify,
// so the ratio is what the state lookup, the JSON building and our hooks (metrics, error mapping) cost.
// OpenFactory runs twice: as configured by default (an answer is cached until its asset changes), and with the
// cache off (every answer built from the state, as for assets that change between reads).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
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
    body: { type: 'string' },
  },
})
const N = Number(args.assets)
const M = Number(args.items)

async function oursServer(dir: string, responseCacheBytes: number): Promise<number> {
  return listenServeApp(await openAssetLog(dir, N, M), { responseCacheBytes })
}

async function bareServer(bodyFile: string): Promise<number> {
  const body = fs.readFileSync(bodyFile, 'utf8')
  const app = Fastify()
  app.get('/api/assets/:uuid', async (_request, reply) => reply.type('application/json; charset=utf-8').send(body))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

if (args.server) {
  const port =
    args.server === 'bare'
      ? await bareServer(args.body as string)
      : await oursServer(args.dir as string, args.server === 'ours-uncached' ? 0 : 16 * 2 ** 20)
  reportListening(port)
} else {
  await main()
}

function start(kind: string, extra: string[]) {
  const argv = ['--server', kind, '--assets', String(N), '--items', String(M), ...extra]
  return startServer(new URL(import.meta.url).pathname, argv)
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds)
  const rounds = Number(args.rounds)
  const connections = Number(args.connections)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-rest-'))
  try {
    const ours = await start('ours', ['--dir', path.join(base, 'log')])
    const sample = await fetch(`http://127.0.0.1:${ours.port}/api/assets/${assetUuid(0)}`)
    const body = await sample.text()
    if (sample.status !== 200) throw new Error(`GET answered ${sample.status}: ${body}`)
    const bodyFile = path.join(base, 'body.json')
    fs.writeFileSync(bodyFile, body)
    console.log(
      `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; ${N} assets × ${M} items; ` +
        `body ${body.length} B; autocannon ${connections} connections in this process, each server in its own; ` +
        `${rounds} rounds of ${seconds} s per case, cases alternating (+1 s warm-up)`,
    )
    const fresh = await start('ours-uncached', ['--dir', path.join(base, 'log2')])
    const bare = await start('bare', ['--body', bodyFile])
    // Rounds alternate the cases, so that load from elsewhere on the machine hits them alike; medians reported.
    const cases = [
      {
        name: 'GET /api/assets/{uuid}, answers cached until the asset changes',
        port: ours.port,
        runs: [] as LoadResult[],
      },
      {
        name: 'GET /api/assets/{uuid}, every answer built (cache off)      ',
        port: fresh.port,
        runs: [] as LoadResult[],
      },
      {
        name: 'anchor: bare Fastify route, same body                      ',
        port: bare.port,
        runs: [] as LoadResult[],
      },
    ]
    for (const c of cases) await load({ port: c.port, seconds: 1, connections, assets: N })
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) c.runs.push(await load({ port: c.port, seconds, connections, assets: N }))
    }
    await Promise.all([ours.stop(), fresh.stop(), bare.stop()])

    for (const c of cases) {
      const r = median(c.runs)
      console.log(
        `${c.name}: ${r.requests.average.toFixed(0)} req/s median of ${c.runs.map((x) => x.requests.average.toFixed(0)).join(', ')} ` +
          `(latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms; ${(r.throughput.average / 2 ** 20).toFixed(1)} MiB/s)`,
      )
    }
    const [cached, built, anchor] = cases.map((c) => median(c.runs).requests.average) as [number, number, number]
    const r1 = cached / anchor
    const r2 = built / anchor
    console.log(
      `ratio to bare Fastify (medians): cached ${r1.toFixed(2)}, built ${r2.toFixed(2)}; bars (DESIGN §7) cached ≥ 0.9 → ${r1 >= 0.9 ? 'met' : 'missed'}, built ≥ 0.5 → ${r2 >= 0.5 ? 'met' : 'missed'}`,
    )
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}
