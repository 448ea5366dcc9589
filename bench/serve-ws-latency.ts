// Observation → WebSocket client latency: observation → embedded log → asset state → subscription hub → ws client
// on loopback, at fixed rates, beside anchors measured in the same run.
//
//   npx node bench/serve-ws-latency.ts [--rates 10000,50000] [--seconds 5] [--assets 100] [--items 20]
//                                      [--cases anchor,log,full,shdr] [--partitions 6] [--adapters 5] [--wal] [--trace]
//
// Every observation's VALUE is its creation time (`process.hrtime` in µs: CLOCK_MONOTONIC, which every process on
// the machine shares). The client is a separate process (ws), subscribed to `Bench/#`; latency = its receive time −
// creation time. First second of each case is warm-up (not counted). Besides the percentiles, each line says how
// many observations the client received of those created in the measured window (lost must be 0), and for the
// server process: its CPU, event-loop utilisation (ELU) and event-loop delay (perf_hooks.monitorEventLoopDelay).
//
// Cases, per rate:
// - anchor, bare ws: a producer in the server process (1 ms timer) sends the same update messages straight to the
//   client over a bare `ws` server (no log, no state): the floor of timer + serialisation + loopback + client.
// - log only: that producer appends to the embedded log (durable: fdatasync per batch, one append at a time of
//   everything queued, as the supervisor's writer) and a `follow` in the same process reads them back.
// - full path, in-process producer: the same appends, then state → hub → ws → client.
// - shdr, as in a plant (the quality bar, DESIGN.md §7: p99 ≤ 5 ms at 10k/s, ≤ 10 ms at 50k/s): the load
//   generator is a process of its own acting as `--adapters` SHDR adapters (TCP servers on 127.0.0.1, each feeding
//   its share of the assets as a multi-device adapter: `<timestamp>|<asset>:<item>|<value>` lines, those due on a
//   1 ms timer written together, `* PING` answered). The server process wires them as `ofa up` does
//   (local-runtime.ts): one ShdrConnector per adapter (the engine of connector.type shdr and mtconnect) run by the
//   connector supervisor (its BufferedWriter, heartbeats, command reader) → embedded log (the factory's topics,
//   fdatasync per batch) → serving state → hub → ws. One connection is not the limit (50k lines/s of ~50 bytes
//   are 2.5 MB/s; `--adapters 1` works too); several adapters are used because a plant has one per machine or
//   cell (default one per 20 assets). The client's count is taken once every observation created in the window
//   arrived, or none came for 2 s (late is not lost); a client the server dropped (slow consumer) is reported.
//
// --wal opens the log with its write-ahead file (one write + fdatasync per group commit for all partitions);
// --trace prints the supervisor's appends (count, records per append, append latency) in the SHDR case.
import { fork } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { createSupervisor, ShdrConnector, shdrAssetFromData, shdrDeviceFromData } from '@openfactory/connectors'
import { type EventLog, openEmbeddedLog } from '@openfactory/log'
import { type Asset, createLogger, encodeObservation, isoTimestamp, type Observation, TOPICS } from '@openfactory/model'
import { createServeApp, createServingState } from '@openfactory/serve'
import { WebSocket, WebSocketServer } from 'ws'

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '1000,10000' },
    seconds: { type: 'string', default: '5' },
    assets: { type: 'string', default: '100' },
    items: { type: 'string', default: '20' },
    cases: { type: 'string', default: 'anchor,log,full,shdr' },
    partitions: { type: 'string', default: '6' },
    wal: { type: 'boolean' },
    trace: { type: 'boolean' },
    adapters: { type: 'string' },
    client: { type: 'string' },
    generator: { type: 'boolean' },
  },
})

const now = () => process.hrtime.bigint()

interface Stats {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
  /** Observations created in the measured window (the generator's count; absent where it is not known). */
  sent?: number
  /** The server closed the client's connection (e.g. OFA_SERVE_SLOW_CONSUMER when the client falls behind). */
  closed?: string
  /** This process (the server's) during the measured window. */
  load?: Load
}

interface Load {
  /** CPU (user + system) per second of wall time, in %. */
  cpu: number
  /** Event-loop utilisation, %. */
  elu: number
  delayP99: number
  delayMax: number
  /** Context switches per second, all threads (each a wake-up: the loop's, the thread pool's). */
  switches: number
}

/** Measures this process's CPU, event-loop utilisation and event-loop delay from now until the returned call. */
function measureLoad(): () => Load {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const cpu0 = process.cpuUsage()
  const ru0 = process.resourceUsage()
  const elu0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  return () => {
    delay.disable()
    const cpu = process.cpuUsage(cpu0)
    const ms = performance.now() - t0
    const ru = process.resourceUsage()
    const switches =
      ru.voluntaryContextSwitches +
      ru.involuntaryContextSwitches -
      ru0.voluntaryContextSwitches -
      ru0.involuntaryContextSwitches
    return {
      switches: (switches / ms) * 1000,
      cpu: ((cpu.user + cpu.system) / 1000 / ms) * 100,
      elu: performance.eventLoopUtilization(elu0).utilization * 100,
      delayP99: delay.percentile(99) / 1e6,
      delayMax: delay.max / 1e6,
    }
  }
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
  // Per update of a bench item while counting: its creation time (µs) and its latency (ms).
  let created: number[] = []
  let samples: number[] = []
  let counting = false
  socket.on('message', (data) => {
    const m = JSON.parse(data.toString())
    if (m.kind !== 'update' || !counting) return
    const value = Number(m.data.value) // an SHDR sample may arrive as text
    if (!Number.isFinite(value)) return // availability, declarations
    created.push(value)
    samples.push((Number(now() / 1000n) - value) / 1000)
  })
  let closed: string | undefined
  socket.on('close', (code, reason) => {
    closed = `${code} ${reason.toString()}`
  })
  socket.on('open', () => {
    socket.send(JSON.stringify({ op: 'subscribe', id: 'b', uns: 'Bench/#' }))
    process.send?.({ ready: true })
  })
  const inWindow = (fromUs: number, toUs: number) => (_: number, i: number) =>
    (created[i] as number) >= fromUs && (created[i] as number) < toUs
  process.on('message', (msg: { cmd: string; fromUs?: number; toUs?: number }) => {
    if (msg.cmd === 'count') {
      process.send?.({ count: created.filter(inWindow(msg.fromUs as number, msg.toUs as number)).length })
    } else if (msg.cmd === 'start') {
      created = []
      samples = []
      counting = true
    } else if (msg.cmd === 'report') {
      counting = false
      // With a window: only the observations created in it (those the generator counted as sent).
      const { fromUs, toUs } = msg
      const kept = fromUs === undefined || toUs === undefined ? samples : samples.filter(inWindow(fromUs, toUs))
      process.send?.({ stats: { ...stats(kept), ...(closed ? { closed } : {}) } })
      socket.close()
      process.disconnect()
    }
  })
}

// ---- generator process: SHDR adapters ------------------------------------------------------------------------

if (args.generator) {
  const N = Number(args.assets)
  const ITEMS = Number(args.items)
  const K = Number(args.adapters)
  const ids = Array.from({ length: N }, (_, i) => `bench-${i.toString().padStart(4, '0')}`)
  // Asset a is fed by adapter a % K; its lines name it (`bench-0007:item3`), as a multi-device adapter's do.
  const keys = Array.from({ length: N * ITEMS }, (_, i) => `|${ids[i % N]}:item${Math.floor(i / N) % ITEMS}|`)
  const sockets: Set<net.Socket>[] = Array.from({ length: K }, () => new Set())
  const servers = await Promise.all(
    sockets.map(
      (set) =>
        new Promise<net.Server>((resolve) => {
          const server = net.createServer((socket) => {
            socket.setNoDelay(true)
            set.add(socket)
            socket.on('close', () => set.delete(socket))
            socket.on('error', () => {})
            let pending = ''
            socket.on('data', (chunk) => {
              pending += chunk.toString()
              let nl = pending.indexOf('\n')
              while (nl >= 0) {
                if (pending.startsWith('* PING')) socket.write('* PONG 10000\n')
                pending = pending.slice(nl + 1)
                nl = pending.indexOf('\n')
              }
            })
          })
          server.listen(0, '127.0.0.1', () => resolve(server))
        }),
    ),
  )
  let timer: NodeJS.Timeout | undefined
  let sent = 0
  const cpu0 = process.cpuUsage()
  const go = (rate: number): void => {
    const start = performance.now()
    let made = 0
    const chunks = new Array<string>(K)
    timer = setInterval(() => {
      // At most one line per item per tick: an item's values (its lines' creation times) then always differ, so
      // the agent-like duplicate filter never drops one; a late tick's surplus goes out with the next.
      const due = Math.min(Math.floor(((performance.now() - start) / 1000) * rate), made + N * ITEMS)
      if (due <= made) return
      const t = Number(now() / 1000n)
      const head = isoTimestamp()
      chunks.fill('')
      for (let i = made; i < due; i++) {
        const k = i % N
        chunks[k % K] += `${head}${keys[i % (N * ITEMS)]}${t}\n`
      }
      sent += due - made
      made = due
      for (let a = 0; a < K; a++) {
        const chunk = chunks[a] as string
        if (chunk !== '') for (const s of sockets[a] as Set<net.Socket>) s.write(chunk)
      }
    }, 1)
  }
  process.send?.({ ports: servers.map((s) => (s.address() as net.AddressInfo).port) })
  process.on('message', (msg: { cmd: string; rate?: number }) => {
    if (msg.cmd === 'go') go(msg.rate as number)
    else if (msg.cmd === 'mark') process.send?.({ mark: { us: Number(now() / 1000n), sent } })
    else if (msg.cmd === 'halt') {
      clearInterval(timer)
      const cpu = process.cpuUsage(cpu0)
      process.send?.({ halted: { cpuMs: (cpu.user + cpu.system) / 1000 } })
      for (const set of sockets) for (const s of set) s.destroy()
      for (const server of servers) server.close()
      process.disconnect()
    }
  })
}

// ---- server process ------------------------------------------------------------------------------------------

/** A child process running this file with `flags`, in its own process group (stopped by group). */
function child(flags: string[]) {
  // Not profiled with the server (`--cpu-prof` given to this process is for this process).
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'))
  const proc = fork(new URL(import.meta.url).pathname, [...process.argv.slice(2), ...flags], {
    stdio: 'inherit',
    detached: true,
    execArgv,
  })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  groups.add(proc.pid as number)
  return {
    send: (m: object) => proc.send(m),
    message: <T>(key: string) =>
      new Promise<T>((resolve, reject) => {
        const on = (m: Record<string, unknown>) => {
          if (key in m) {
            proc.off('message', on)
            resolve(m[key] as T)
          }
        }
        proc.on('message', on)
        void exited.then(() => reject(new Error(`${flags[0]} process exited`)))
      }),
    /** Waits for it to exit, then ends whatever is left of its group. */
    exited: async () => {
      await Promise.race([exited, sleep(5000)])
      killGroup(proc.pid as number)
    },
  }
}

/** The process groups of the children started; any left when this process exits (a case failed) are ended. */
const groups = new Set<number>()
function killGroup(pid: number): void {
  groups.delete(pid)
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // the group is gone
  }
}
if (!args.client && !args.generator) process.on('exit', () => groups.forEach(killGroup))

async function runClient(url: string, warmupMs: number, measureMs: number): Promise<Stats> {
  const client = child(['--client', url])
  await client.message('ready')
  await sleep(200) // the snapshot
  await sleep(warmupMs)
  client.send({ cmd: 'start' })
  const load = measureLoad()
  await sleep(measureMs)
  const l = load()
  client.send({ cmd: 'report' })
  const s = await client.message<Stats>('stats')
  await client.exited()
  return { ...s, load: l }
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
  const log1 = await openEmbeddedLog({ dir, wal: args.wal === true })
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
  const log = await openEmbeddedLog({ dir, wal: args.wal === true })
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

/** Where a bench asset sits in the UNS (under `Bench/`, which the client subscribes to). */
function unsOf(uuid: string) {
  const area = `Line${uuid.slice(-1)}`
  return { levels: { inc: 'Bench', area, asset: uuid }, unsId: `Bench/${area}/${uuid}` }
}

const ADAPTERS = Number(args.adapters ?? Math.max(1, Math.ceil(N_ASSETS / 20)))

/**
 * As in a plant: SHDR adapters in a process of their own → one ShdrConnector per adapter under the connector
 * supervisor (its buffered writer) → embedded log → serving state → hub → ws → client, wired as `ofa up` does.
 */
async function shdrCase(rate: number, seconds: number, dir: string): Promise<Stats> {
  const generator = child(['--generator', '--adapters', String(ADAPTERS)])
  const ports = await generator.message<number[]>('ports')
  const log = await openEmbeddedLog({ dir, wal: args.wal === true })
  // The factory's topics, as `ofa up` creates them (cli's ensureFactoryTopics).
  await log.createTopic({ name: TOPICS.assets, cleanupPolicy: 'delete', partitions: Number(args.partitions) })
  for (const name of [TOPICS.registry, TOPICS.documents, TOPICS.connectorState, TOPICS.unsMap]) {
    await log.createTopic({ name, cleanupPolicy: 'compact', partitions: 1 })
  }
  const state = createServingState({ eventLog: log })
  await state.ready()
  const app = await createServeApp({ eventLog: log, serving: state })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  // --trace: the supervisor's appends to ofa_assets, timed (pairs of duration in ms, records).
  const appends: number[] = []
  const traced: EventLog = new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (topic: string, records: Parameters<EventLog['append']>[1]) => {
          const t = performance.now()
          const r = await target.append(topic, records)
          if (topic === TOPICS.assets) appends.push(performance.now() - t, records.length)
          return r
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  const supervisor = createSupervisor({
    eventLog: args.trace ? traced : log,
    logger: createLogger({ name: 'supervisor', level: 'warn' }),
  })
  const data = Object.fromEntries(
    Array.from({ length: N_ITEMS }, (_, j) => [`item${j}`, { tag: 'Temperature', type: 'Samples' as const }]),
  )
  const connectors = ports.map((adapterPort, a) => {
    const mine = uuids.filter((_, i) => i % ADAPTERS === a)
    return new ShdrConnector({
      name: `adapter-${a}`,
      host: '127.0.0.1',
      port: adapterPort,
      devices: mine.map((uuid) => shdrDeviceFromData(uuid, data)),
      assets: mine.map((uuid) => shdrAssetFromData(uuid, data, unsOf(uuid))),
    })
  })
  for (const c of connectors) supervisor.add(c)
  await supervisor.start()
  while (!connectors.every((c) => c.stats().connected)) await sleep(20)
  await supervisor.flush() // the declarations
  const client = child(['--client', `ws://127.0.0.1:${port}/api/ws`])
  await client.message('ready')
  await sleep(200) // the snapshot
  generator.send({ cmd: 'go', rate })
  await sleep(1000)
  client.send({ cmd: 'start' })
  generator.send({ cmd: 'mark' })
  const from = await generator.message<{ us: number; sent: number }>('mark')
  const load = measureLoad()
  await sleep(seconds * 1000)
  const l = load()
  generator.send({ cmd: 'mark' })
  const to = await generator.message<{ us: number; sent: number }>('mark')
  // Until every observation created in the window reached the client, or none came for 2 s.
  const window = { fromUs: from.us, toUs: to.us }
  for (let last = -1, quietSince = performance.now(); ; ) {
    client.send({ cmd: 'count', ...window })
    const n = await client.message<number>('count')
    if (n >= to.sent - from.sent) break
    if (n !== last) [last, quietSince] = [n, performance.now()]
    else if (performance.now() - quietSince > 2000) break
    await sleep(100)
  }
  client.send({ cmd: 'report', ...window })
  const s = await client.message<Stats>('stats')
  if (appends.length > 0) {
    const d = stats(appends.filter((_, i) => i % 2 === 0))
    const records = appends.reduce((sum, v, i) => (i % 2 === 1 ? sum + v : sum), 0)
    console.log(
      `  (shdr ${rate}/s trace: ${d.count} appends to ofa_assets, ${(records / d.count).toFixed(1)} records each; ` +
        `append p50 ${d.p50.toFixed(2)} ms, p90 ${d.p90.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms, max ${d.max.toFixed(1)} ms)`,
    )
  }
  const w = supervisor.writerStats()
  const pauses = connectors.reduce((n, c) => n + c.stats().pauses, 0)
  const lines = connectors.reduce((n, c) => n + c.stats().lines, 0)
  await supervisor.stop()
  generator.send({ cmd: 'halt' })
  const g = await generator.message<{ cpuMs: number }>('halted')
  await Promise.all([client.exited(), generator.exited()])
  await app.close()
  await state.close()
  await log.close()
  console.log(
    `  (shdr ${rate}/s: adapters ${ADAPTERS}, ${lines} lines read, writer dropped ${w.dropped}, reading paused ` +
      `${pauses}×; generator CPU ${((g.cpuMs / (seconds * 1000 + 3000)) * 100).toFixed(0)}%)`,
  )
  return { ...s, sent: to.sent - from.sent, load: l }
}

async function main(): Promise<void> {
  const SECONDS = Number(args.seconds)
  const rates = (args.rates as string).split(',').map(Number)
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ofa-bench-ws-'))
  console.log(
    `setup: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}; embedded log in ${base} (fdatasync per batch), ofa_assets with ${args.partitions} partitions; ` +
      `${N_ASSETS} assets × ${N_ITEMS} items; client in its own process subscribed to Bench/#; SHDR case: ${ADAPTERS} adapters in one generator process; ` +
      `${SECONDS} s per case after 1 s warm-up`,
  )
  // (NaN crosses the IPC channel as null.)
  const ms = (v: number | null, digits = 2) => (v === null || Number.isNaN(v) ? 'n/a' : `${v.toFixed(digits)} ms`)
  const fmt = (s: Stats) =>
    `p50 ${ms(s.p50)}, p90 ${ms(s.p90)}, p99 ${ms(s.p99)}, max ${ms(s.max, 1)}; ` +
    (s.closed ? `CLIENT DISCONNECTED (${s.closed}); ` : '') +
    `received ${s.count}${s.sent === undefined ? '' : ` of ${s.sent} sent (lost ${s.sent - s.count})`}` +
    (s.load
      ? `; server CPU ${s.load.cpu.toFixed(0)}%, ELU ${s.load.elu.toFixed(0)}%, loop delay p99 ` +
        `${s.load.delayP99.toFixed(1)} ms, max ${s.load.delayMax.toFixed(1)} ms, ${Math.round(s.load.switches)} context switches/s`
      : '')
  const cases = new Set((args.cases as string).split(','))
  const NONE: Stats = { count: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN }
  try {
    for (const rate of rates) {
      const bare = cases.has('anchor') ? await anchorCase(rate, SECONDS) : NONE
      const logOnly = cases.has('log') ? await logCase(rate, SECONDS, path.join(base, `log-${rate}`)) : NONE
      const full = cases.has('full') ? await fullCase(rate, SECONDS, path.join(base, `full-${rate}`)) : NONE
      const plant = cases.has('shdr') ? await shdrCase(rate, SECONDS, path.join(base, `shdr-${rate}`)) : NONE
      const bar = rate <= 10_000 ? 5 : 10
      console.log(`\n${rate} observations/s (~${rate * SECONDS} in the measured window)`)
      console.log(`  anchor, bare ws server:           ${fmt(bare)}`)
      console.log(`  embedded log append → follow:     ${fmt(logOnly)}`)
      console.log(`  full path, in-process producer:   ${fmt(full)}`)
      console.log(`  SHDR adapters → supervisor → ws:  ${fmt(plant)}`)
      console.log(
        `  ratio to anchor p99: full ${(full.p99 / bare.p99).toFixed(1)}×, shdr ${(plant.p99 / bare.p99).toFixed(1)}×; ` +
          `bar (SHDR, generator in its own process) p99 ≤ ${bar} ms: ${plant.p99 <= bar && plant.count === plant.sent ? 'met' : 'missed'}`,
      )
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}

if (!args.client && !args.generator) await main()
