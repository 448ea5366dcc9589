// Observation → WebSocket client latency: append to the embedded log → asset state → subscription hub → ws
// client on loopback, at fixed rates, beside anchors measured in the same run.
//
//   npx node bench/serve-ws-latency.ts [--rates 1000,10000] [--seconds 5] [--assets 100] [--items 20]
//                                      [--cases anchor,log,full] [--partitions 6]
//
// The producer runs in the server process and behaves like the connector supervisor's writer: observations are
// created on a 1 ms timer at the target rate, their VALUE the creation time (`process.hrtime` in µs, a clock every
// process shares; attributes as a connector writes them: timestamps, units, quality), and queued; one append (durable: fdatasync per batch) of everything queued runs whenever the previous one is done.
// The client is a separate process (ws), subscribed to `Bench/#`; latency = its receive time − creation time.
// First second of each case is warm-up (not counted).
//
// Cases, per rate:
// - anchor, bare ws: the same producer sends the same update messages straight to the client over a bare `ws`
//   server (no log, no state): the floor of timer + serialisation + loopback + client.
// - log only: append → `follow` in the server process (no serving): what the embedded log itself adds.
// - full path: append → state → hub → ws → client (the quality bar: p99 ≤ 10 ms at 10k observations/s).
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
    rates: { type: 'string', default: '1000,10000' },
    seconds: { type: 'string', default: '5' },
    assets: { type: 'string', default: '100' },
    items: { type: 'string', default: '20' },
    cases: { type: 'string', default: 'anchor,log,full' },
    partitions: { type: 'string', default: '6' },
    client: { type: 'string' },
  },
})

const now = () => process.hrtime.bigint()

interface Stats {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
}

function stats(samples: number[]): Stats {
  const s = Float64Array.from(samples).sort()
  const q = (p: number) => (s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number) : Number.NaN)
  return {
    count: s.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: s.length ? (s[s.length - 1] as number) : Number.NaN,
  }
}

// ---- client process ------------------------------------------------------------------------------------------

if (args.client) {
  const socket = new WebSocket(args.client)
  let samples: number[] = []
  let counting = false
  socket.on('message', (data) => {
    const m = JSON.parse(data.toString())
    if (m.kind !== 'update' || !counting) return
    samples.push((Number(now() / 1000n) - m.data.value) / 1000)
  })
  socket.on('open', () => {
    socket.send(JSON.stringify({ op: 'subscribe', id: 'b', uns: 'Bench/#' }))
    process.send?.({ ready: true })
  })
  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'start') {
      samples = []
      counting = true
    } else if (msg.cmd === 'report') {
      counting = false
      process.send?.({ stats: stats(samples) })
      socket.close()
      process.disconnect()
    }
  })
}

// ---- server process ------------------------------------------------------------------------------------------

async function runClient(url: string, warmupMs: number, measureMs: number): Promise<Stats> {
  const child = fork(new URL(import.meta.url).pathname, ['--client', url], { stdio: 'inherit' })
  const message = <T>(key: string) =>
    new Promise<T>((resolve, reject) => {
      const on = (m: Record<string, unknown>) => {
        if (key in m) {
          child.off('message', on)
          resolve(m[key] as T)
        }
      }
      child.on('message', on)
      child.once('exit', () => reject(new Error('client exited')))
    })
  await message('ready')
  await sleep(200) // the snapshot
  await sleep(warmupMs)
  child.send({ cmd: 'start' })
  await sleep(measureMs)
  child.send({ cmd: 'report' })
  const s = await message<Stats>('stats')
  await new Promise((r) => child.once('exit', r))
  return s
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

const N_ASSETS = Number(args.assets)
const N_ITEMS = Number(args.items)
const uuids = Array.from({ length: N_ASSETS }, (_, i) => `bench-${i.toString().padStart(4, '0')}`)

function observation(i: number): { uuid: string; o: Observation } {
  const uuid = uuids[i % N_ASSETS] as string
  const t = Date.now()
  return {
    uuid,
    o: {
      id: `item${Math.floor(i / N_ASSETS) % N_ITEMS}`,
      // The creation time (µs of the monotonic clock every process shares) travels as the value.
      value: Number(now() / 1000n),
      tag: 'Temperature',
      type: 'Samples',
      attributes: {
        timestamp: isoTimestamp(t),
        ingestion_timestamp: isoTimestamp(t),
        units: 'CELSIUS',
        quality: 'GOOD',
      },
    },
  }
}

/** Creates observations at `rate`/s on a 1 ms timer and hands them to `sink`; `writer` mimics the supervisor's. */
function produce(rate: number, sink: (batch: { uuid: string; o: Observation }[]) => void): () => void {
  const start = performance.now()
  let made = 0
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * rate)
    if (due <= made) return
    const batch = new Array(due - made)
    for (let k = 0; k < batch.length; k++) batch[k] = observation(made + k)
    made = due
    sink(batch)
  }, 1)
  return () => clearInterval(timer)
}

/** One append at a time of everything queued (like BufferedWriter, batches of up to 5000). */
function writer(log: { append: (topic: string, records: { key: string; value: string }[]) => Promise<unknown> }) {
  let queue: { key: string; value: string }[] = []
  let pumping: Promise<void> | null = null
  const pump = async () => {
    while (queue.length > 0) {
      const batch = queue.length > 5000 ? queue.splice(0, 5000) : queue
      if (batch === queue) queue = []
      await log.append(TOPICS.assets, batch)
    }
    pumping = null
  }
  return {
    sink: (batch: { uuid: string; o: Observation }[]) => {
      for (const { uuid, o } of batch) queue.push({ key: uuid, value: encodeObservation(o) })
      pumping ??= pump()
    },
    drain: async () => {
      while (pumping) await pumping
    },
  }
}

/** Anchor: the same producer, sending the same update messages over a bare ws server. */
async function anchorCase(rate: number, seconds: number): Promise<Stats> {
  const SECONDS = seconds
  // Anchor: bare ws server.
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((r) => wss.once('listening', r))
  const clients = new Set<WebSocket>()
  wss.on('connection', (s) => {
    clients.add(s)
    s.on('close', () => clients.delete(s))
  })
  const stopBare = produce(rate, (batch) => {
    for (const { uuid, o } of batch) {
      const data = JSON.stringify({
        assetUuid: uuid,
        id: o.id,
        value: o.value,
        tag: o.tag,
        type: o.type,
        timestamp: o.attributes.timestamp,
        attributes: o.attributes,
      })
      const text = `{"id":"b","kind":"update","data":${data}}`
      for (const c of clients) c.send(text)
    }
  })
  const bare = await runClient(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, 1000, SECONDS * 1000)
  stopBare()
  await new Promise((r) => wss.close(r))
  return bare
}

/** The embedded log alone: append → follow in this process. */
async function logCase(rate: number, seconds: number, dir: string): Promise<Stats> {
  const SECONDS = seconds
  // Log only: append → follow, in-process.
  const log1 = await openEmbeddedLog({ dir })
  await log1.createTopic({ name: TOPICS.assets, partitions: Number(args.partitions) })
  const followed: number[] = []
  let counting = false
  const ac = new AbortController()
  const following = (async () => {
    for await (const batch of log1.follow(TOPICS.assets, { from: 'latest', signal: ac.signal })) {
      const t = now()
      if (!counting) continue
      for (const r of batch) {
        const o = JSON.parse((r.value as Buffer).toString())
        followed.push((Number(t / 1000n) - o.VALUE) / 1000)
      }
    }
  })()
  const w1 = writer(log1)
  const stopLog = produce(rate, w1.sink)
  await sleep(1000)
  counting = true
  await sleep(SECONDS * 1000)
  counting = false
  stopLog()
  await w1.drain()
  ac.abort()
  await following
  await log1.close()
  const logOnly = stats(followed)
  return logOnly
}

/** The full path: append → asset state → hub → ws → client. */
async function fullCase(rate: number, seconds: number, dir: string): Promise<Stats> {
  const SECONDS = seconds
  // Full path.
  const log = await openEmbeddedLog({ dir })
  await log.createTopic({ name: TOPICS.assets, partitions: Number(args.partitions) })
  const state = createServingState({ eventLog: log })
  await state.ready()
  for (const uuid of uuids) {
    const asset: Asset = {
      uuid,
      type: 'Device',
      uns: {
        levels: { inc: 'Bench', area: `Line${uuid.slice(-1)}`, asset: uuid },
        unsId: `Bench/Line${uuid.slice(-1)}/${uuid}`,
      },
      referencesAbove: [],
      referencesBelow: [],
      dataItems: Array.from({ length: N_ITEMS }, (_, j) => ({
        id: `item${j}`,
        category: 'Samples' as const,
        tag: 'Temperature',
        units: 'CELSIUS',
      })),
      methods: [],
    }
    await log.append(TOPICS.registry, [{ key: uuid, value: JSON.stringify(asset) }])
    await log.append(TOPICS.assets, [
      {
        key: uuid,
        value: encodeObservation({
          id: 'uns_id',
          value: asset.uns?.unsId ?? '',
          tag: 'UNS',
          type: 'OpenFactory',
          attributes: { timestamp: isoTimestamp() },
        }),
      },
    ])
  }
  const app = await createServeApp({ eventLog: log, serving: state })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const w2 = writer(log)
  const stopFull = produce(rate, w2.sink)
  const full = await runClient(`ws://127.0.0.1:${port}/api/ws`, 1000, SECONDS * 1000)
  stopFull()
  await w2.drain()
  await app.close()
  await state.close()
  await log.close()
  return full
}

async function main(): Promise<void> {
  const SECONDS = Number(args.seconds)
  const rates = (args.rates as string).split(',').map(Number)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-ws-'))
  console.log(
    `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; embedded log in ${base} (fdatasync per batch), ofa_assets with ${args.partitions} partitions; ` +
      `${N_ASSETS} assets × ${N_ITEMS} items; client in its own process subscribed to Bench/#; ${SECONDS} s per case after 1 s warm-up`,
  )
  const fmt = (s: Stats) =>
    `n=${s.count} p50 ${s.p50.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(1)} ms`
  const cases = new Set((args.cases as string).split(','))
  const NONE: Stats = { count: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN }
  try {
    for (const rate of rates) {
      const bare = cases.has('anchor') ? await anchorCase(rate, SECONDS) : NONE
      const logOnly = cases.has('log') ? await logCase(rate, SECONDS, path.join(base, `log-${rate}`)) : NONE
      const full = cases.has('full') ? await fullCase(rate, SECONDS, path.join(base, `full-${rate}`)) : NONE
      console.log(`\n${rate} observations/s`)
      console.log(`  anchor, bare ws server:        ${fmt(bare)}`)
      console.log(`  embedded log append → follow:  ${fmt(logOnly)}`)
      console.log(`  full path (log → state → ws):  ${fmt(full)}`)
      console.log(
        `  ratio full/anchor: p50 ${(full.p50 / bare.p50).toFixed(1)}×, p99 ${(full.p99 / bare.p99).toFixed(1)}×; ` +
          `bar p99 ≤ 10 ms${rate === 10_000 ? `: ${full.p99 <= 10 ? 'met' : 'missed'}` : ' (applies at 10k/s)'}; ` +
          `received ${full.count} of ~${rate * SECONDS}`,
      )
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}

if (!args.client) await main()
