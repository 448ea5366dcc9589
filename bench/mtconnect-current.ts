// The MTConnect façade's `current` for 100 devices, beside the anchor measured in the same run: the JSON state
// endpoint `GET /api/assets/{uuid}` of the same app for the same assets. Both give the current value of every item of
// an asset; `current` gives the 100 devices in one answer, so the figures compared are devices per second (requests/s
// × devices per answer). Also the façade's cost at start: it reads `ofa_assets` once more and numbers every record
// (sequence-buffer.ts), timed beside the asset state's own replay of the same log (its anchor).
//
//   npx node bench/mtconnect-current.ts [--seconds 3] [--rounds 3] [--connections 10] [--assets 100] [--items 20]
//                                       [--replay 200000]
//
// The server runs in a child process (bench/lib/serve-bench.ts: the log as the supervisor writes it); autocannon in
// this process. For `bench/mtconnect-agent.ts` (our MTConnect connector reading an agent) see that file.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedLog } from '@openfactory/log'
import { encodeObservation, isoTimestamp, TOPICS } from '@openfactory/model'
import { createAssetState } from '../packages/serve/src/index.ts'
import { createSequenceBuffer } from '../packages/serve/src/mtconnect/sequence-buffer.ts'
import {
  assetUuid,
  type LoadResult,
  listenServeApp,
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
    assets: { type: 'string', default: '100' },
    items: { type: 'string', default: '20' },
    replay: { type: 'string', default: '200000' },
    server: { type: 'string' },
    dir: { type: 'string' },
  },
})
/** autocannon's programmatic API, the part used here (the package ships no types; as bench/lib/serve-bench.ts). */
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: {
  url: string
  connections: number
  duration: number
  requests: { method: string; headers?: Record<string, string>; setupRequest: (req: { path?: string }) => unknown }[]
}) => Promise<LoadResult>
const N = Number(args.assets)
const M = Number(args.items)

if (args.server) {
  reportListening(await listenServeApp(await openAssetLog(args.dir as string, N, M), { mtconnect: { latenessMs: 0 } }))
} else {
  await main()
}

async function hit(port: number, seconds: number, connections: number, pathOf: () => string, headers = {}) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        headers,
        setupRequest: (req: { path?: string }) => {
          req.path = pathOf()
          return req
        },
      },
    ],
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`)
  return result
}

/** The façade's replay beside the asset state's, over one log of `records` observations (in this process). */
async function replay(dir: string, records: number): Promise<string> {
  const log = await openEmbeddedLog({ dir, fsync: false })
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  await log.createTopic({ name: TOPICS.registry, partitions: 1, cleanupPolicy: 'compact' })
  const t0 = Date.now() - records
  for (let i = 0; i < records; i += 1000) {
    await log.append(
      TOPICS.assets,
      Array.from({ length: Math.min(1000, records - i) }, (_, j) => {
        const n = i + j
        return {
          key: assetUuid(n % 1000),
          value: encodeObservation({
            id: `item${n % 20}`,
            value: n / 10,
            tag: 'Temperature',
            type: 'Samples',
            attributes: { timestamp: isoTimestamp(t0 + n), units: 'CELSIUS' },
          }),
          timestamp: t0 + n,
        }
      }),
    )
  }
  const time = async (f: () => Promise<unknown>) => {
    const s = performance.now()
    await f()
    return performance.now() - s
  }
  const rounds: { state: number; buffer: number; heap: number }[] = []
  for (let r = 0; r < 3; r++) {
    const state = createAssetState({ eventLog: log })
    const stateMs = await time(() => state.ready())
    await state.close()
    global.gc?.()
    const heap0 = process.memoryUsage().heapUsed
    const buffer = createSequenceBuffer({ eventLog: log, latenessMs: 0, anchorIntervalMs: 0 })
    const bufferMs = await time(() => buffer.ready())
    global.gc?.()
    const heap = process.memoryUsage().heapUsed - heap0
    await buffer.close()
    rounds.push({ state: stateMs, buffer: bufferMs, heap })
  }
  await log.close()
  const mid = rounds.sort((a, b) => a.buffer - b.buffer)[1] as (typeof rounds)[number]
  return (
    `replay of ${records} records (1000 assets × 20 items, 6 partitions), median of 3: façade buffer ` +
    `${mid.buffer.toFixed(0)} ms (${((records / mid.buffer) * 1000).toFixed(0)} records/s), asset state ` +
    `${mid.state.toFixed(0)} ms (${((records / mid.state) * 1000).toFixed(0)} records/s): buffer/state time ` +
    `${(mid.buffer / mid.state).toFixed(2)}; heap held by the buffer (131 072 kept) ≈ ${(mid.heap / 2 ** 20).toFixed(1)} MiB` +
    `${global.gc ? '' : ' (run with --expose-gc for a settled figure)'}`
  )
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds)
  const rounds = Number(args.rounds)
  const connections = Number(args.connections)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-mtc-'))
  try {
    const server = await startServer(new URL(import.meta.url).pathname, [
      '--server',
      'ours',
      '--assets',
      String(N),
      '--items',
      String(M),
      '--dir',
      path.join(base, 'log'),
    ])
    const first = performance.now()
    const probe = await fetch(`http://127.0.0.1:${server.port}/mtconnect/probe`)
    const firstMs = performance.now() - first
    if (probe.status !== 200) throw new Error(`probe answered ${probe.status}`)
    const xml = await (await fetch(`http://127.0.0.1:${server.port}/mtconnect/current`)).text()
    const json = await (await fetch(`http://127.0.0.1:${server.port}/mtconnect/current?format=json`)).text()
    const rest = await (await fetch(`http://127.0.0.1:${server.port}/api/assets/${assetUuid(0)}`)).text()
    const devices = (xml.match(/<DeviceStream /g) ?? []).length
    if (devices !== N) throw new Error(`current shows ${devices} devices, not ${N}`)
    console.log(
      `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; ${N} assets × ${M} items; ` +
        `current ${xml.length} B (XML), ${json.length} B (JSON); /api/assets/{uuid} ${rest.length} B; first /mtconnect ` +
        `request (buffer start) ${firstMs.toFixed(0)} ms; autocannon ${connections} connections in this process, the ` +
        `server in its own; ${rounds} rounds of ${seconds} s per case, cases alternating (+1 s warm-up)`,
    )
    const cases = [
      { name: 'GET /mtconnect/current (XML), 100 devices an answer  ', path: () => '/mtconnect/current', per: N },
      {
        name: 'GET /mtconnect/current?format=json, 100 devices      ',
        path: () => '/mtconnect/current?format=json',
        per: N,
      },
      {
        name: 'anchor: GET /api/assets/{uuid}, 1 device an answer    ',
        path: () => `/api/assets/${assetUuid(Math.floor(Math.random() * N))}`,
        per: 1,
      },
    ].map((c) => ({ ...c, runs: [] as LoadResult[] }))
    for (const c of cases) await hit(server.port, 1, connections, c.path)
    for (let r = 0; r < rounds; r++)
      for (const c of cases) c.runs.push(await hit(server.port, seconds, connections, c.path))
    await server.stop()
    for (const c of cases) {
      const m = median(c.runs)
      console.log(
        `${c.name}: ${m.requests.average.toFixed(0)} req/s = ${(m.requests.average * c.per).toFixed(0)} devices/s, median of ` +
          `${c.runs.map((x) => x.requests.average.toFixed(0)).join(', ')} (latency p50 ${m.latency.p50} ms, p99 ${m.latency.p99} ms)`,
      )
    }
    const [x, j, anchor] = cases.map((c) => median(c.runs).requests.average * c.per) as [number, number, number]
    console.log(
      `ratio devices/s to the JSON state endpoint (medians): XML ${(x / anchor).toFixed(2)}, JSON ${(j / anchor).toFixed(2)}`,
    )
    console.log(await replay(path.join(base, 'replay'), Number(args.replay)))
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}
