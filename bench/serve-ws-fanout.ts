// WebSocket fan-out: live updates of one asset delivered to 1,000 clients, each subscribed to it through /api/ws
// (the dashboard's pattern: many browsers watching the same machine), beside an anchor measured in the same run.
//
//   npx node bench/serve-ws-fanout.ts [--clients 1000] [--rate 50] [--seconds 5] [--rounds 2]
//
// Latency = a client's receipt of an update − the append of its observation: the producer (in the server process)
// puts the time of the append call (`process.hrtime` in µs: a monotonic clock every process of the machine shares)
// in the observation's VALUE, and the clients (1,000 sockets in one separate process) subtract it on receipt.
// Counted: every delivery of the observations appended during the measured window (after 1 s of warm-up), however
// late it arrives within 3 s after it; the number of deliveries says whether some never came.
//
// Cases (alternating, `--rounds` times):
// - anchor, bare ws: a `ws` WebSocketServer, the same producer timer, the same update message text (one
//   JSON.stringify per observation), broadcast to every connected client with `send`: no log, no state, no hub.
// - ours: the observation appended to the embedded log (durable: fdatasync per batch) → asset state → subscription
//   hub → every subscribed /api/ws socket (createServeApp), clients subscribed with `{"assets": ["fan-0"]}`.
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openEmbeddedLog } from '@openfactory/log'
import { type Asset, encodeObservation, isoTimestamp, type Observation, TOPICS } from '@openfactory/model'
import { createServeApp, createServingState } from '@openfactory/serve'
import { WebSocket, WebSocketServer } from 'ws'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    client: { type: 'string' },
    ours: { type: 'boolean', default: false },
  },
})

const ASSET = 'fan-0'
/** After the window: time for its last updates to arrive (counted; a shortfall shows in the delivery count). */
const DRAIN_MS = 3000
const now = () => process.hrtime.bigint()

interface Stats {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
}

function stats(samples: ArrayLike<number>): Stats {
  const s = Float64Array.from(samples).sort()
  const q = (p: number) => (s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number) : Number.NaN)
  return { count: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s.length ? (s.at(-1) as number) : Number.NaN }
}

// ---- client process: N sockets -----------------------------------------------------------------------------

if (args.client) {
  const n = Number(args.clients)
  const subscribe = args.ours
  const samples: number[] = []
  // Counted: the updates of observations appended in the measured window, whenever they arrive.
  let fromUs = Number.POSITIVE_INFINITY
  let toUs = Number.POSITIVE_INFINITY
  let ready = 0
  const sockets: WebSocket[] = []
  const onReady = () => {
    if (++ready === n) process.send?.({ ready: true })
  }
  for (let i = 0; i < n; i++) {
    const socket = new WebSocket(args.client)
    sockets.push(socket)
    let snapshot = !subscribe
    socket.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { kind: string; data: { value: number } }
      if (m.kind === 'snapshot' && !snapshot) {
        snapshot = true
        onReady()
        return
      }
      if (m.kind !== 'update' || m.data.value < fromUs || m.data.value > toUs) return
      samples.push((Number(now() / 1000n) - m.data.value) / 1000)
    })
    socket.on('open', () => {
      if (subscribe) socket.send(JSON.stringify({ op: 'subscribe', id: 'f', assets: [ASSET] }))
      else onReady()
    })
    socket.on('error', (err) => {
      console.error(`client ${i}: ${err.message}`)
      process.exit(1)
    })
  }
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'start') {
      samples.length = 0
      fromUs = Number(now() / 1000n)
    } else if (msg.cmd === 'stop') {
      toUs = Number(now() / 1000n)
    } else if (msg.cmd === 'report') {
      process.send?.({ stats: stats(samples) })
      for (const s of sockets) s.close()
      process.disconnect()
    }
  })
}

// ---- server process ------------------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** 1,000 clients in their own process: connected (and subscribed), warmed up, measured. */
async function runClients(url: string, ours: boolean, measureMs: number): Promise<Stats> {
  const child = fork(
    new URL(import.meta.url).pathname,
    ['--client', url, '--clients', String(args.clients), ...(ours ? ['--ours'] : [])],
    {
      stdio: 'inherit',
    },
  )
  const message = <T>(key: string) =>
    new Promise<T>((resolve, reject) => {
      const on = (m: Record<string, unknown>) => {
        if (key in m) {
          child.off('message', on)
          resolve(m[key] as T)
        }
      }
      child.on('message', on)
      child.once('exit', () => reject(new Error('client process exited')))
    })
  await message('ready')
  await sleep(1000) // warm-up
  child.send({ cmd: 'start' })
  await sleep(measureMs)
  child.send({ cmd: 'stop' })
  await sleep(DRAIN_MS) // what was appended in the window and is still on its way
  child.send({ cmd: 'report' })
  const s = await message<Stats>('stats')
  await new Promise((r) => child.once('exit', r))
  return s
}

/** An observation whose VALUE is the time of its append (µs). */
function observation(): Observation {
  const t = Date.now()
  return {
    id: 'v',
    value: Number(now() / 1000n),
    tag: 'Temperature',
    type: 'Samples',
    attributes: { timestamp: isoTimestamp(t), ingestion_timestamp: isoTimestamp(t), units: 'CELSIUS', quality: 'GOOD' },
  }
}

/** Calls `emit` `rate` times a second on a 1 ms timer (catching up when a tick is late). */
function produce(rate: number, emit: () => void): () => void {
  const start = performance.now()
  let made = 0
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * rate)
    for (; made < due; made++) emit()
  }, 1)
  return () => clearInterval(timer)
}

async function anchorCase(rate: number, measureMs: number): Promise<Stats> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((r) => wss.once('listening', r))
  const stop = produce(rate, () => {
    const o = observation()
    const data = JSON.stringify({
      assetUuid: ASSET,
      id: o.id,
      value: o.value,
      tag: o.tag,
      type: o.type,
      timestamp: o.attributes.timestamp,
      attributes: o.attributes,
    })
    const text = `{"id":"f","kind":"update","data":${data}}`
    for (const c of wss.clients) c.send(text)
  })
  try {
    return await runClients(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, false, measureMs)
  } finally {
    stop()
    for (const c of wss.clients) c.terminate()
    await new Promise((r) => wss.close(r))
  }
}

async function oursCase(rate: number, measureMs: number, dir: string): Promise<Stats> {
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: TOPICS.assets, partitions: 6 })
  const serving = createServingState({ eventLog: log })
  await serving.ready()
  const asset: Asset = {
    uuid: ASSET,
    type: 'Device',
    uns: { levels: { inc: 'Bench', area: 'Fan', asset: ASSET }, unsId: `Bench/Fan/${ASSET}` },
    referencesAbove: [],
    referencesBelow: [],
    dataItems: [{ id: 'v', category: 'Samples', tag: 'Temperature', units: 'CELSIUS' }],
    methods: [],
  }
  await log.append(TOPICS.registry, [{ key: ASSET, value: JSON.stringify(asset) }])
  await log.append(TOPICS.assets, [{ key: ASSET, value: encodeObservation(observation()) }])
  const app = await createServeApp({ eventLog: log, serving, subscriptionLimits: { total: 1_000_000 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  // One append at a time of what is queued (the connector supervisor's writer does the same).
  let queue: { key: string; value: string }[] = []
  let pumping: Promise<void> | null = null
  const pump = async () => {
    while (queue.length > 0) {
      const batch = queue
      queue = []
      await log.append(TOPICS.assets, batch)
    }
    pumping = null
  }
  const stop = produce(rate, () => {
    queue.push({ key: ASSET, value: encodeObservation(observation()) })
    pumping ??= pump()
  })
  try {
    return await runClients(`ws://127.0.0.1:${(app.server.address() as { port: number }).port}/api/ws`, true, measureMs)
  } finally {
    stop()
    while (pumping) await pumping
    await app.close()
    await serving.close()
    await log.close()
  }
}

async function main(): Promise<void> {
  const clients = Number(args.clients)
  const rate = Number(args.rate)
  const seconds = Number(args.seconds)
  const rounds = Number(args.rounds)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-fanout-'))
  console.log(
    `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg()[0]?.toFixed(1)}; ` +
      `${clients} WebSocket clients in one separate process, ${rate} updates/s of one asset (${rate * clients} deliveries/s), ` +
      `${seconds} s per case after 1 s warm-up, ${rounds} round(s) alternating anchor and ours; embedded log in ${base}`,
  )
  const fmt = (s: Stats) =>
    `${s.count} deliveries, p50 ${s.p50.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(1)} ms`
  try {
    for (let r = 1; r <= rounds; r++) {
      const anchor = await anchorCase(rate, seconds * 1000)
      const ours = await oursCase(rate, seconds * 1000, path.join(base, `round-${r}`))
      console.log(`\nround ${r}`)
      console.log(`  anchor, bare ws broadcast:                   ${fmt(anchor)}`)
      console.log(`  ours, log → state → hub → /api/ws:           ${fmt(ours)}`)
      console.log(
        `  ratio ours/anchor: p50 ${(ours.p50 / anchor.p50).toFixed(1)}×, p99 ${(ours.p99 / anchor.p99).toFixed(1)}×; ` +
          `expected deliveries ≈ ${rate * seconds * clients}`,
      )
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}

if (!args.client) await main()
