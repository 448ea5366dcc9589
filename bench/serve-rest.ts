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
import { fork } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedLog } from '@openfactory/log'
import { type Asset, AssetEvents, encodeObservation, isoTimestamp, type Observation, TOPICS } from '@openfactory/model'
import { createServeApp, createServingState } from '@openfactory/serve'
import Fastify from 'fastify'

/** The part of autocannon's programmatic API used here (the package ships no types). */
interface LoadResult {
  requests: { average: number }
  latency: { p50: number; p99: number }
  throughput: { average: number }
  non2xx: number
  errors: number
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: {
  url: string
  connections: number
  duration: number
  requests: { method: string; setupRequest: (req: { path?: string }) => { path?: string } }[]
}) => Promise<LoadResult>

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
const uuid = (i: number) => `cnc-${i.toString().padStart(5, '0')}`

async function oursServer(dir: string, responseCacheBytes: number): Promise<number> {
  const log = await openEmbeddedLog({ dir, fsync: false })
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  const t0 = Date.now()
  for (let i = 0; i < N; i++) {
    const a: Asset = {
      uuid: uuid(i),
      type: 'Device',
      uns: {
        levels: { inc: 'Demofactory', area: `Area${i % 10}`, asset: uuid(i) },
        unsId: `Demofactory/Area${i % 10}/${uuid(i)}`,
      },
      referencesAbove: [],
      referencesBelow: [],
      dataItems: Array.from({ length: M }, (_, j) => ({
        id: `item${j}`,
        category: 'Samples' as const,
        tag: 'Temperature',
        units: 'CELSIUS',
      })),
      methods: [{ name: 'Start', description: 'Starts the cycle', arguments: [] }],
    }
    const attr = (id: string, v: string): Observation => ({
      id,
      value: v,
      tag: id,
      type: 'OpenFactory',
      attributes: { timestamp: isoTimestamp(t0) },
    })
    const obs: Observation[] = [
      attr('AssetType', 'Device'),
      attr('uns_id', a.uns?.unsId ?? ''),
      AssetEvents.method(a.methods[0] as Asset['methods'][number], t0).observation,
      {
        id: 'avail',
        value: 'AVAILABLE',
        tag: 'Availability',
        type: 'Events',
        attributes: { timestamp: isoTimestamp(t0), ttl_ms: 15000 },
      },
      ...a.dataItems.map(
        (d, j): Observation => ({
          id: d.id,
          value: Math.round((i + j) * 13.7) / 10,
          tag: d.tag,
          type: 'Samples',
          attributes: {
            timestamp: isoTimestamp(t0 + j),
            ingestion_timestamp: isoTimestamp(t0 + j + 2),
            units: 'CELSIUS',
            quality: 'GOOD',
          },
        }),
      ),
    ]
    await log.append(TOPICS.registry, [{ key: a.uuid, value: JSON.stringify(a) }])
    await log.append(
      TOPICS.assets,
      obs.map((o) => ({ key: a.uuid, value: encodeObservation(o) })),
    )
  }
  const serving = createServingState({ eventLog: log })
  await serving.ready()
  const app = await createServeApp({ eventLog: log, serving, responseCacheBytes })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
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
  process.send?.({ port })
  process.on('message', () => process.exit(0))
} else {
  await main()
}

async function startServer(kind: string, extra: string[]) {
  const child = fork(
    new URL(import.meta.url).pathname,
    ['--server', kind, '--assets', String(N), '--items', String(M), ...extra],
    {
      stdio: 'inherit',
      // e.g. OFA_BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the servers
      execArgv: process.env.OFA_BENCH_SERVER_FLAGS ? process.env.OFA_BENCH_SERVER_FLAGS.split(' ') : [],
    },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port))
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve)
      child.send('stop')
    })
  return { port, stop }
}

async function load(port: number, seconds: number, connections: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: { path?: string }) => {
          req.path = `/api/assets/${uuid(Math.floor(Math.random() * N))}`
          return req
        },
      },
    ],
  })
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`)
  return result
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds)
  const rounds = Number(args.rounds)
  const connections = Number(args.connections)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-rest-'))
  try {
    const ours = await startServer('ours', ['--dir', path.join(base, 'log')])
    const sample = await fetch(`http://127.0.0.1:${ours.port}/api/assets/${uuid(0)}`)
    const body = await sample.text()
    if (sample.status !== 200) throw new Error(`GET answered ${sample.status}: ${body}`)
    const bodyFile = path.join(base, 'body.json')
    fs.writeFileSync(bodyFile, body)
    console.log(
      `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; ${N} assets × ${M} items; ` +
        `body ${body.length} B; autocannon ${connections} connections in this process, each server in its own; ` +
        `${rounds} rounds of ${seconds} s per case, cases alternating (+1 s warm-up)`,
    )
    const fresh = await startServer('ours-uncached', ['--dir', path.join(base, 'log2')])
    const bare = await startServer('bare', ['--body', bodyFile])
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
    for (const c of cases) await load(c.port, 1, connections)
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) c.runs.push(await load(c.port, seconds, connections))
    }
    await Promise.all([ours.stop(), fresh.stop(), bare.stop()])

    const median = (runs: LoadResult[]) => {
      const sorted = [...runs].sort((a, b) => a.requests.average - b.requests.average)
      return sorted[Math.floor(sorted.length / 2)] as LoadResult
    }
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
      `ratio to bare Fastify (medians): cached ${r1.toFixed(2)}, built ${r2.toFixed(2)}; bar ≥ 0.5 → ${r1 >= 0.5 ? 'met' : 'missed'} (cached), ${r2 >= 0.5 ? 'met' : 'missed'} (built)`,
    )
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}
